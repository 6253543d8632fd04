// SPDX-License-Identifier: GPL-2.0
/*
 * Helpers of the xmem tests; see xsys.h.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "xsys.h"
#include "xtest.h"

const char *const xstat_names[XS_NR] = {
	[XS_FAULTS]		= "faults",
	[XS_CACHE_HITS]		= "cache_hits",
	[XS_RDMA_READS]		= "rdma_reads",
	[XS_RDMA_WRITES]	= "rdma_writes",
	[XS_RDMA_READ_WRS]	= "rdma_read_wrs",
	[XS_RDMA_WRITE_WRS]	= "rdma_write_wrs",
	[XS_BYTES_READ]		= "bytes_read",
	[XS_BYTES_WRITTEN]	= "bytes_written",
	[XS_EVICTIONS_CLEAN]	= "evictions_clean",
	[XS_EVICTIONS_DIRTY]	= "evictions_dirty",
	[XS_WRITEBACK_ERRORS]	= "writeback_errors",
	[XS_RESIDENT_BYTES]	= "resident_bytes",
	[XS_DIRTY_BYTES]	= "dirty_bytes",
	[XS_TLB_FLUSHES]	= "tlb_flushes",
	[XS_ZERO_FILLS]		= "zero_fills",
};

double xnow(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

int xproc_wait_in_syscall(int pid, long nr, unsigned int timeout_ms)
{
	double deadline = xnow() + timeout_ms / 1000.0;
	char path[64], buf[128];
	FILE *f;
	long got;

	snprintf(path, sizeof(path), "/proc/%d/syscall", pid);
	for (;;) {
		f = fopen(path, "r");
		if (!f)
			return -ESRCH;
		got = -1;
		if (fgets(buf, sizeof(buf), f) && strcmp(buf, "running\n"))
			got = strtol(buf, NULL, 10);
		fclose(f);
		if (got == nr)
			return 0;
		if (xnow() > deadline)
			return -ETIMEDOUT;
		usleep(10 * 1000);
	}
}

uint64_t xenv_size(const char *name, uint64_t def)
{
	const char *v = getenv(name);
	unsigned long long n;
	char *end;

	if (!v || !*v)
		return def;
	errno = 0;
	n = strtoull(v, &end, 0);
	if (errno || end == v)
		return def;
	switch (*end) {
	case 'G': case 'g':
		n <<= 10;
		/* fall through */
	case 'M': case 'm':
		n <<= 10;
		/* fall through */
	case 'K': case 'k':
		n <<= 10;
		end++;
		break;
	}
	return *end ? def : n;
}

static void xsys_path(char *buf, size_t len, const char *attr)
{
	snprintf(buf, len, "%s/%s", XSYS_DIR, attr);
}

int xsys_read(const char *attr, char *buf, size_t len)
{
	char path[256];
	ssize_t n;
	int fd, err;

	xsys_path(path, sizeof(path), attr);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	n = read(fd, buf, len - 1);
	err = errno;
	close(fd);
	if (n < 0)
		return -err;
	buf[n] = '\0';
	while (n > 0 && (buf[n - 1] == '\n' || buf[n - 1] == ' '))
		buf[--n] = '\0';
	return 0;
}

int xsys_read_u64(const char *attr, uint64_t *val)
{
	char buf[64], *end;
	int ret;

	ret = xsys_read(attr, buf, sizeof(buf));
	if (ret)
		return ret;
	errno = 0;
	*val = strtoull(buf, &end, 10);
	if (errno || end == buf || *end)
		return -EINVAL;
	return 0;
}

int xsys_write(const char *attr, const char *val)
{
	char path[256];
	ssize_t n;
	int fd, err;

	xsys_path(path, sizeof(path), attr);
	fd = open(path, O_WRONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	n = write(fd, val, strlen(val));
	err = errno;
	if (close(fd) && n >= 0) {
		n = -1;
		err = errno;
	}
	if (n < 0)
		return -err;
	return (size_t)n == strlen(val) ? 0 : -EIO;
}

int xsys_write_u64(const char *attr, uint64_t val)
{
	char buf[32];

	snprintf(buf, sizeof(buf), "%" PRIu64, val);
	return xsys_write(attr, buf);
}

int xsys_wait_state(const char *want, unsigned int timeout_ms)
{
	double deadline = xnow() + timeout_ms / 1000.0;
	char state[64];

	for (;;) {
		if (!xsys_read("state", state, sizeof(state)) &&
		    !strcmp(state, want))
			return 0;
		if (xnow() > deadline)
			return -ETIMEDOUT;
		usleep(50 * 1000);
	}
}

static uint64_t xsys_saved_limit;

void xsys_save_limit(void)
{
	if (xsys_read_u64("local_limit", &xsys_saved_limit))
		xsys_saved_limit = 0;
}

void xsys_restore_limit(void)
{
	uint64_t cur;
	int ret;

	if (!xsys_saved_limit || xsys_read_u64("local_limit", &cur) ||
	    cur == xsys_saved_limit)
		return;
	ret = xsys_write_u64("local_limit", xsys_saved_limit);
	if (ret)
		xt_diag("restoring local_limit %" PRIu64 ": %s",
			xsys_saved_limit, xt_errname(-ret));
}

int xstats_read(struct xstats *s)
{
	char attr[64];
	int i, ret;

	for (i = 0; i < XS_NR; i++) {
		snprintf(attr, sizeof(attr), "stats/%s", xstat_names[i]);
		ret = xsys_read_u64(attr, &s->v[i]);
		if (ret)
			return ret;
	}
	return 0;
}

void xstats_diag(const struct xstats *a, const struct xstats *b)
{
	int i;

	for (i = 0; i < XS_NR; i++)
		xt_diag("  %-17s %12" PRIu64 " -> %12" PRIu64 " (%+" PRId64 ")",
			xstat_names[i], a->v[i], b->v[i],
			(int64_t)(b->v[i] - a->v[i]));
}

int xmod_loaded(void)
{
	return access("/sys/module/xmem", F_OK) == 0;
}

int xmod_unload(void)
{
	double deadline = xnow() + 10;

	/* A process that just exited may still hold a reference briefly. */
	while (syscall(SYS_delete_module, "xmem", O_NONBLOCK)) {
		if (errno != EAGAIN && errno != EBUSY)
			return -errno;
		if (xnow() > deadline)
			return -EBUSY;
		usleep(100 * 1000);
	}
	return 0;
}

int xmod_load(const char *params)
{
	const char *path = getenv("XMEM_MODULE");
	int fd, ret = 0;

	if (!path || !*path)
		path = XMEM_MODULE;
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	if (syscall(SYS_finit_module, fd, params, 0))
		ret = -errno;
	close(fd);
	return ret;
}

const char *xmod_appliance(void)
{
	const char *a = getenv("XMEM_APPLIANCE");

	return a && *a ? a : NULL;
}

int xmod_ensure_connected(void)
{
	const char *appliance = xmod_appliance();
	char params[128], cur[128];
	int ret;

	if (!appliance)
		return -EDESTADDRREQ;
	if (!xmod_loaded()) {
		snprintf(params, sizeof(params), "appliance=%s", appliance);
		ret = xmod_load(params);
		if (ret && ret != -EEXIST)
			return ret;
	}
	if (!xsys_wait_state("connected", 1000))
		return 0;
	/* Not connected (or connected elsewhere): ask again. */
	if (xsys_read("appliance", cur, sizeof(cur)) || strcmp(cur, appliance)) {
		ret = xsys_write("appliance", appliance);
		if (ret)
			return ret;
	}
	return xsys_wait_state("connected", 60 * 1000);
}

uint64_t xr_region_u64(const char *name, const char *attr)
{
	char path[256];
	uint64_t v = 0;
	int ret;

	snprintf(path, sizeof(path), "regions/%s/%s", name, attr);
	ret = xsys_read_u64(path, &v);
	if (ret)
		FAIL("read %s: %s", path, xt_errname(-ret));
	return v;
}

void xr_require_connected(void)
{
	char state[64] = "?";
	int ret;

	ret = xsys_read("state", state, sizeof(state));
	if (ret)
		FAIL("reading %s/state: %s", XSYS_DIR, xt_errname(-ret));
	if (strcmp(state, "connected"))
		FAIL("module not connected to an appliance: state %s", state);
}

void xr_name(char *buf, const char *tag)
{
	char host[32] = "host";
	struct timespec ts;
	char *p;

	gethostname(host, sizeof(host) - 1);
	host[sizeof(host) - 1] = '\0';
	for (p = host; *p; p++)
		if (!strchr("abcdefghijklmnopqrstuvwxyz"
			    "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-", *p))
			*p = '-';
	clock_gettime(CLOCK_REALTIME, &ts);
	snprintf(buf, XMEM_REGION_NAME_MAX, "t-%.16s-%.12s-%d-%lx", tag, host,
		 (int)getpid(), (unsigned long)(ts.tv_nsec ^ ts.tv_sec) & 0xfffff);
}

int xr_attach(const char *name, uint64_t size, uint32_t flags,
	      struct xmem_attach *out)
{
	struct xmem_attach at;
	int fd, err;

	memset(&at, 0, sizeof(at));
	snprintf(at.name, sizeof(at.name), "%s", name);
	at.size = size;
	at.flags = flags;
	fd = open(XMEM_DEV, O_RDWR | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	if (ioctl(fd, XMEM_IOC_ATTACH, &at)) {
		err = errno;
		close(fd);
		return -err;
	}
	if (out)
		*out = at;
	return fd;
}

void *xr_map(int fd, uint64_t off, size_t len)
{
	return mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_SHARED, fd, off);
}

/* splitmix64 finaliser: neighbouring inputs give unrelated outputs. */
static uint64_t xpat_mix(uint64_t x)
{
	x += 0x9e3779b97f4a7c15ull;
	x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
	x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
	return x ^ (x >> 31);
}

uint64_t xpat_word(uint64_t seed, uint64_t off)
{
	return xpat_mix(seed * 0x2545f4914f6cdd1dull ^ (off >> 3));
}

void xpat_fill(void *p, size_t len, uint64_t off, uint64_t seed)
{
	uint64_t *w = p;
	size_t i;

	for (i = 0; i < len / 8; i++)
		w[i] = xpat_word(seed, off + i * 8);
}

uint64_t xpat_check(const void *p, size_t len, uint64_t off, uint64_t seed,
		    struct xpat_err *err)
{
	const volatile uint64_t *w = p;
	uint64_t count = 0, want, got;
	size_t i;

	for (i = 0; i < len / 8; i++) {
		want = xpat_word(seed, off + i * 8);
		got = w[i];
		if (got == want)
			continue;
		if (!count && err) {
			err->first = off + i * 8;
			err->want = want;
			err->got = got;
		}
		count++;
	}
	if (err)
		err->count = count;
	return count;
}

#define XSYS_PAGE	4096u

void xr_info(int fd, struct xmem_region_info *ri)
{
	memset(ri, 0, sizeof(*ri));
	if (ioctl(fd, XMEM_IOC_INFO, ri))
		FAIL("XMEM_IOC_INFO: %s", xt_errname(errno));
}

/*
 * Evict every page of the region bound to @fd from the local cache, so
 * that its next reads come from the appliance: with the limit at its
 * minimum, read a scratch region twice as large until XMEM_IOC_INFO shows
 * nothing of @fd resident.  The limit is put back.
 */
void xr_drop_cache(int fd)
{
	const uint64_t min = 1 * MiB, size = 2 * MiB;
	char name[XMEM_REGION_NAME_MAX];
	struct xmem_region_info ri;
	volatile char *s;
	uint64_t limit, i;
	double deadline;
	int sfd;

	ASSERT_ZERO_ERR(xsys_read_u64("local_limit", &limit));
	ASSERT_ZERO_ERR(xsys_write_u64("local_limit", min));
	xr_name(name, "scratch");
	sfd = ATTACH_OK(name, size, XMEM_ATTACH_CREATE | XMEM_ATTACH_EXCL,
			NULL);
	s = MAP_OK(sfd, 0, size);
	deadline = xnow() + 120;
	for (i = 0;; i++) {
		(void)s[(i % (size / XSYS_PAGE)) * XSYS_PAGE];
		if (i % 32)
			continue;
		xr_info(fd, &ri);
		if (!ri.resident_bytes)
			break;
		if (xnow() > deadline)
			FAIL("%llu bytes still resident after reading %llu "
			     "scratch pages", (unsigned long long)ri.resident_bytes,
			     (unsigned long long)i);
	}
	ASSERT_OK(munmap((void *)s, size));
	ASSERT_OK(close(sfd));
	ASSERT_ZERO_ERR(xsys_write_u64("local_limit", limit));
}

int xpat_toucher(char *p, size_t len, uint64_t seed, int stop)
{
	unsigned long rounds = 0;
	struct xpat_err err;
	char c;

	fcntl(stop, F_SETFL, O_NONBLOCK);
	for (;;) {
		xpat_fill(p, len, 0, seed + rounds);
		if (xpat_check(p, len, 0, seed + rounds, &err)) {
			printf("# toucher: round %lu: %llu words wrong at %#llx\n",
			       rounds, (unsigned long long)err.count,
			       (unsigned long long)err.first);
			return 1;
		}
		rounds++;
		if (read(stop, &c, 1) == 1 || rounds > 1000000)
			break;
	}
	printf("# toucher: %lu rounds\n", rounds);
	return 0;
}
