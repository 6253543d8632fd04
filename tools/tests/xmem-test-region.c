// SPDX-License-Identifier: GPL-2.0
/*
 * The region life cycle through the uapi: create with a mode, list,
 * detach (data written back, then attached intact on client2), grow while
 * a process touches the region, shrink (appliance memory freed, kept range
 * intact), destroy, permissions between users, and bad requests.
 *
 * client2 is used as in xmem-test-msync: reachable as "client2" by ssh,
 * verifying with "xmem-test-msync verify NAME SEED".
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <fcntl.h>
#include <grp.h>
#include <inttypes.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/fsuid.h>
#include <sys/ioctl.h>
#include <sys/syscall.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <linux/capability.h>

#include "xsys.h"
#include "xtest.h"

#define PEER		"client2"
#define SSH		"ssh -o BatchMode=yes -o ConnectTimeout=20 " PEER " "
#define NOBODY		65534

static int open_dev(void)
{
	int fd = open(XMEM_DEV, O_RDWR | O_CLOEXEC);

	if (fd < 0)
		FAIL("open %s: %s", XMEM_DEV, xt_errname(errno));
	return fd;
}

/* DETACH, RESIZE or DESTROY; 0 or -errno; @out (may be NULL) the result. */
static int region_op(unsigned long cmd, const char *name, uint64_t size,
		     uint32_t flags, struct xmem_region_op *out)
{
	struct xmem_region_op op;
	int fd = open_dev(), ret = 0;

	memset(&op, 0, sizeof(op));
	snprintf(op.name, sizeof(op.name), "%s", name);
	op.size = size;
	op.flags = flags;
	if (ioctl(fd, cmd, &op))
		ret = -errno;
	close(fd);
	if (out)
		*out = op;
	return ret;
}

#define OP_OK(cmd, name, size, flags) do {				\
	int _r = region_op((cmd), (name), (size), (flags), NULL);	\
	if (_r)								\
		FAIL("%s %s: %s", #cmd, (name), xt_errname(-_r));	\
} while (0)

#define OP_FAILS(cmd, name, size, flags, err) do {			\
	int _r = region_op((cmd), (name), (size), (flags), NULL);	\
	if (_r != -(err))						\
		FAIL("%s %s: expected %s, got %s", #cmd, (name),	\
		     xt_errname(err), _r ? xt_errname(-_r) : "success");\
} while (0)

/* Finds @name in the appliance's list; 1 if found, 0 if not. */
static int list_find(const char *name, struct xmem_region_entry *out)
{
	struct xmem_region_entry e[8];
	struct xmem_region_list l;
	unsigned int i, calls = 0;
	int fd = open_dev();

	memset(&l, 0, sizeof(l));
	for (;;) {
		memset(e, 0, sizeof(e));
		l.entries = (uintptr_t)e;
		l.count = 8;	/* small, so the cursor is exercised */
		if (ioctl(fd, XMEM_IOC_LIST, &l))
			FAIL("XMEM_IOC_LIST: %s", xt_errname(errno));
		if (!l.count || ++calls > 10000)
			break;
		for (i = 0; i < l.count; i++) {
			if (strcmp(e[i].name, name))
				continue;
			if (out)
				*out = e[i];
			close(fd);
			return 1;
		}
	}
	close(fd);
	return 0;
}

static uint64_t appliance_bytes(void)
{
	uint64_t v;

	ASSERT_ZERO_ERR(xsys_read_u64("appliance_bytes", &v));
	return v;
}

static void require_peer(void)
{
	const char *clients = getenv("XMEM_CLIENTS");

	if (clients && atoi(clients) >= 2)
		return;
	if (!system(SSH "true </dev/null >/dev/null 2>&1"))
		return;
	SKIP("%s unreachable by ssh (needs a test bed with 2 clients)", PEER);
}

static int verify_on_peer(const char *name, uint64_t seed)
{
	char cmd[256], line[512];
	FILE *f;

	snprintf(cmd, sizeof(cmd),
		 SSH "/xmem/bin/xmem-test-msync verify %s %" PRIu64
		 " </dev/null 2>&1", name, seed);
	f = popen(cmd, "r");
	if (!f)
		FAIL("popen: %s", xt_errname(errno));
	while (fgets(line, sizeof(line), f))
		xt_diag("%s: %s", PEER, line[0] == '#' ? line + 2 : line);
	return pclose(f);
}

TEST(create_list_show)
{
	char name[XMEM_REGION_NAME_MAX];
	struct xmem_region_entry e;
	int fd;

	xr_require_connected();
	xr_name(name, "list");
	fd = ATTACH_OK(name, 1 * MiB, XMEM_ATTACH_CREATE | XMEM_ATTACH_EXCL,
		       NULL);
	close(fd);
	if (!list_find(name, &e))
		FAIL("%s not in XMEM_IOC_LIST", name);
	ASSERT_EQ(e.size, 1 * MiB);
	ASSERT_EQ(e.uid, getuid());
	ASSERT_EQ(e.mode, 0600);	/* the default */
	xt_diag("listed: id %llu uid %u mode %o users %u appliance %s",
		(unsigned long long)e.region_id, e.uid, e.mode, e.users,
		e.appliance);
}

TEST(create_with_mode_listed)
{
	char name[XMEM_REGION_NAME_MAX];
	struct xmem_region_entry e;
	struct xmem_attach at;
	int fd;

	xr_require_connected();
	xr_name(name, "mode");
	memset(&at, 0, sizeof(at));
	snprintf(at.name, sizeof(at.name), "%s", name);
	at.size = 1 * MiB;
	at.flags = XMEM_ATTACH_CREATE | XMEM_ATTACH_EXCL | XMEM_ATTACH_MODE;
	at.mode = 0640;
	fd = open_dev();
	ASSERT_OK(ioctl(fd, XMEM_IOC_ATTACH, &at));
	if (!list_find(name, &e))
		FAIL("%s not in XMEM_IOC_LIST", name);
	ASSERT_EQ(e.size, 1 * MiB);
	ASSERT_EQ(e.region_id, at.region_id);
	ASSERT_EQ(e.uid, getuid());
	ASSERT_EQ(e.gid, getgid());
	ASSERT_EQ(e.mode, 0640);
	ASSERT_TRUE(e.flags & XMEM_ENTRY_ATTACHED);
	ASSERT_GE(e.users, 1);
	ASSERT_TRUE(e.appliance[0] != '\0');
	close(fd);
}

TEST_TIMEOUT(detach_then_other_client_attaches, 300)
{
	uint64_t seed = xnow() * 1000 + 11;
	char name[XMEM_REGION_NAME_MAX];
	struct xmem_region_entry e;
	int fd, status;
	char *p;

	xr_require_connected();
	require_peer();
	xr_name(name, "detach");
	fd = ATTACH_OK(name, 2 * MiB, XMEM_ATTACH_CREATE | XMEM_ATTACH_EXCL,
		       NULL);
	p = MAP_OK(fd, 0, 2 * MiB);
	xpat_fill(p, 2 * MiB, 0, seed);
	/* Still open and mapped: the region is busy. */
	OP_FAILS(XMEM_IOC_DETACH, name, 0, 0, EBUSY);
	ASSERT_OK(munmap(p, 2 * MiB));
	ASSERT_OK(close(fd));
	/* No msync: DETACH must write the dirty pages back itself. */
	OP_OK(XMEM_IOC_DETACH, name, 0, 0);
	OP_FAILS(XMEM_IOC_DETACH, name, 0, 0, ENOENT);
	if (!list_find(name, &e))
		FAIL("%s not listed after detach", name);
	ASSERT_TRUE(!(e.flags & XMEM_ENTRY_ATTACHED));
	ASSERT_EQ(e.resident_bytes, 0);

	status = verify_on_peer(name, seed);
	if (status)
		FAIL("verifier on %s: wait status %#x", PEER, status);
}

TEST_TIMEOUT(grow_while_touched, 300)
{
	uint64_t seed = xnow() * 1000 + 12, before, after;
	char name[XMEM_REGION_NAME_MAX];
	struct xmem_region_info info;
	int fd, pfd[2], status;
	char *p, *q;
	pid_t pid;

	xr_require_connected();
	xr_name(name, "grow");
	fd = ATTACH_OK(name, 1 * MiB, XMEM_ATTACH_CREATE | XMEM_ATTACH_EXCL,
		       NULL);
	p = MAP_OK(fd, 0, 1 * MiB);
	ASSERT_OK(pipe(pfd));
	pid = fork();
	if (pid < 0)
		FAIL("fork: %s", xt_errname(errno));
	if (!pid) {
		close(pfd[1]);
		_exit(xpat_toucher(p, 1 * MiB, seed, pfd[0]));
	}
	close(pfd[0]);

	before = appliance_bytes();
	OP_OK(XMEM_IOC_RESIZE, name, 4 * MiB, 0);
	after = appliance_bytes();
	ASSERT_EQ(after - before, 3 * MiB);
	memset(&info, 0, sizeof(info));
	ASSERT_OK(ioctl(fd, XMEM_IOC_INFO, &info));
	ASSERT_EQ(info.size, 4 * MiB);
	/* The new range is usable at once, while the toucher goes on. */
	q = MAP_OK(fd, 1 * MiB, 3 * MiB);
	xpat_fill(q, 3 * MiB, 1 * MiB, seed);
	ASSERT_OK(msync(q, 3 * MiB, MS_SYNC));
	ASSERT_PATTERN(q, 3 * MiB, 1 * MiB, seed);

	ASSERT_EQ(write(pfd[1], "x", 1), 1);
	close(pfd[1]);
	ASSERT_EQ(waitpid(pid, &status, 0), pid);
	if (!WIFEXITED(status) || WEXITSTATUS(status))
		FAIL("toucher failed: wait status %#x", status);
	ASSERT_OK(munmap(q, 3 * MiB));
	ASSERT_OK(munmap(p, 1 * MiB));
	ASSERT_OK(close(fd));
}

TEST_TIMEOUT(shrink_while_touched, 300)
{
	uint64_t seed = xnow() * 1000 + 13, before, after;
	char name[XMEM_REGION_NAME_MAX];
	int fd, pfd[2], status;
	struct xmem_attach at;
	pid_t pid, pid2;
	char *p, *q;

	xr_require_connected();
	xr_name(name, "shrink");
	fd = ATTACH_OK(name, 4 * MiB, XMEM_ATTACH_CREATE | XMEM_ATTACH_EXCL,
		       NULL);
	p = MAP_OK(fd, 0, 4 * MiB);
	xpat_fill(p, 4 * MiB, 0, seed);
	ASSERT_OK(msync(p, 4 * MiB, MS_SYNC));
	ASSERT_OK(pipe(pfd));
	pid = fork();
	if (pid < 0)
		FAIL("fork: %s", xt_errname(errno));
	if (!pid) {
		close(pfd[1]);
		_exit(xpat_toucher(p, 1 * MiB, seed, pfd[0]));
	}
	close(pfd[0]);

	/* Shrink while mapped and in use: the removed range is discarded. */
	before = appliance_bytes();
	OP_OK(XMEM_IOC_RESIZE, name, 1 * MiB, 0);
	after = appliance_bytes();
	ASSERT_EQ(before - after, 3 * MiB);

	/* The removed range faults with SIGBUS, not stale data. */
	pid2 = fork();
	if (pid2 < 0)
		FAIL("fork: %s", xt_errname(errno));
	if (!pid2)
		_exit(p[2 * MiB] == 0x7f ? 3 : 2);
	ASSERT_EQ(waitpid(pid2, &status, 0), pid2);
	if (!WIFSIGNALED(status) || WTERMSIG(status) != SIGBUS)
		FAIL("access past the new end: wait status %#x, want SIGBUS",
		     status);

	ASSERT_EQ(write(pfd[1], "x", 1), 1);
	close(pfd[1]);
	ASSERT_EQ(waitpid(pid, &status, 0), pid);
	if (!WIFEXITED(status) || WEXITSTATUS(status))
		FAIL("toucher failed on the kept range: wait status %#x",
		     status);
	ASSERT_OK(munmap(p, 4 * MiB));
	ASSERT_OK(close(fd));

	fd = ATTACH_OK(name, 0, 0, &at);
	ASSERT_EQ(at.size, 1 * MiB);
	ASSERT_TRUE(xr_map(fd, 0, 2 * MiB) == MAP_FAILED);
	ASSERT_OK(close(fd));
	/* Grow again: the range that came back reads as zeroes. */
	OP_OK(XMEM_IOC_RESIZE, name, 2 * MiB, 0);
	fd = ATTACH_OK(name, 0, 0, &at);
	ASSERT_EQ(at.size, 2 * MiB);
	q = MAP_OK(fd, 0, 2 * MiB);
	for (size_t i = 1 * MiB; i < 2 * MiB; i += 4096)
		if (q[i])
			FAIL("byte %zu of a regrown range is %d", i, q[i]);
	ASSERT_OK(munmap(q, 2 * MiB));
	ASSERT_OK(close(fd));
}

TEST_TIMEOUT(shrink_unmapped_keeps_data, 300)
{
	uint64_t seed = xnow() * 1000 + 14;
	char name[XMEM_REGION_NAME_MAX];
	struct xmem_region_op op;
	struct xmem_attach at;
	int fd;
	char *p;

	xr_require_connected();
	xr_name(name, "shrink2");
	fd = ATTACH_OK(name, 2 * MiB, XMEM_ATTACH_CREATE | XMEM_ATTACH_EXCL,
		       NULL);
	p = MAP_OK(fd, 0, 2 * MiB);
	xpat_fill(p, 2 * MiB, 0, seed);		/* dirty, not synced */
	ASSERT_OK(munmap(p, 2 * MiB));
	ASSERT_OK(close(fd));
	/* -w: the kept range's dirty pages reach the appliance regardless. */
	ASSERT_ZERO_ERR(region_op(XMEM_IOC_RESIZE, name, 1 * MiB,
				  XMEM_RESIZE_WRITEBACK, &op));
	ASSERT_EQ(op.size, 1 * MiB);
	OP_OK(XMEM_IOC_DETACH, name, 0, 0);
	fd = ATTACH_OK(name, 0, 0, &at);
	ASSERT_EQ(at.size, 1 * MiB);
	p = MAP_OK(fd, 0, 1 * MiB);
	ASSERT_PATTERN(p, 1 * MiB, 0, seed);
	ASSERT_OK(munmap(p, 1 * MiB));
	ASSERT_OK(close(fd));
}

/*
 * client2 has the region attached when client1 shrinks it: client2's old
 * key stops working, and at its reconnection it follows the new size
 * instead of declaring the region lost; the kept range reads intact.
 */
TEST_TIMEOUT(other_client_follows_shrink, 300)
{
	const uint64_t size = 2 * MiB, kept = 1 * MiB;
	uint64_t seed = xnow() * 1000 + 14, fold = 0, got_fold = 0,
		 got_size = 0, i;
	char name[XMEM_REGION_NAME_MAX], cmd[512];
	uint64_t *w;
	FILE *f;
	int fd, ret;

	xr_require_connected();
	require_peer();
	xr_name(name, "follow");
	fd = ATTACH_OK(name, size, XMEM_ATTACH_CREATE | XMEM_ATTACH_EXCL,
		       NULL);
	w = MAP_OK(fd, 0, size);
	xpat_fill(w, size, 0, seed);
	for (i = 0; i < kept / 8; i++)
		fold ^= w[i];
	ASSERT_OK(msync(w, size, MS_SYNC));
	ASSERT_OK(munmap(w, size));
	ASSERT_OK(close(fd));

	/* Attached on client2, nothing of it cached there. */
	snprintf(cmd, sizeof(cmd), SSH "xmemctl region attach %s </dev/null",
		 name);
	if (system(cmd))
		FAIL("client2 could not attach %s", name);
	OP_OK(XMEM_IOC_RESIZE, name, kept, 0);

	snprintf(cmd, sizeof(cmd),
		 SSH "python3 /xmem/tests/region-fold.py /dev/xmem.d/%s %"
		 PRIu64 " %" PRIu64 " </dev/null", name, kept, kept);
	f = popen(cmd, "r");
	if (!f)
		FAIL("popen: %s", xt_errname(errno));
	if (fscanf(f, "%" SCNu64 " %" SCNu64, &got_fold, &got_size) != 2)
		got_size = 0;
	ret = pclose(f);
	snprintf(cmd, sizeof(cmd), SSH "xmemctl region detach %s </dev/null",
		 name);
	if (system(cmd))
		xt_diag("client2 could not detach %s", name);
	if (ret)
		FAIL("client2 read %s: status %#x, size seen %" PRIu64, name,
		     ret, got_size);
	ASSERT_EQ(got_size, kept);
	ASSERT_EQ(got_fold, fold);
}

/*
 * Runs "xmemctl region OP NAME [SIZE]" on the peer; returns its exit
 * status, and whether it said "busy" in @busy.
 */
static int xmemctl_on_peer(const char *op, const char *name,
			   const char *size, bool *busy)
{
	char cmd[256], line[512];
	int status;
	FILE *f;

	snprintf(cmd, sizeof(cmd), SSH "xmemctl region %s %s %s </dev/null 2>&1",
		 op, name, size ? size : "");
	f = popen(cmd, "r");
	if (!f)
		FAIL("popen: %s", xt_errname(errno));
	if (busy)
		*busy = false;
	while (fgets(line, sizeof(line), f)) {
		xt_diag("%s: %s", PEER, line);
		if (busy && strcasestr(line, "busy"))
			*busy = true;
	}
	status = pclose(f);
	return WIFEXITED(status) ? WEXITSTATUS(status) : 255;
}

/*
 * A region created with XMEM_ATTACH_SOLE: filling it through a cache 8x
 * smaller reads nothing (every first touch is filled with zeroes here),
 * reading it back reads what was written back, another client cannot
 * attach it meanwhile, and once it is detached the other client finds
 * every word.
 */
TEST_TIMEOUT(sole_first_touch_reads_nothing, 300)
{
	const uint64_t size = 8 * MiB, pages = size / 4096;
	uint64_t seed = xnow() * 1000 + 15, reads, zeros, back;
	char name[XMEM_REGION_NAME_MAX], path[256];
	bool busy;
	int fd, status;
	char *p;

	xr_require_connected();
	require_peer();
	xr_name(name, "sole");
	fd = ATTACH_OK(name, size, XMEM_ATTACH_CREATE | XMEM_ATTACH_EXCL |
		       XMEM_ATTACH_SOLE, NULL);
	snprintf(path, sizeof(path), "regions/%s/local_limit", name);
	ASSERT_ZERO_ERR(xsys_write_u64(path, 1 * MiB));
	p = MAP_OK(fd, 0, size);
	xpat_fill(p, size, 0, seed);
	reads = xr_region_u64(name, "stats/rdma_reads");
	zeros = xr_region_u64(name, "stats/zero_fills");
	xt_diag("filling %" PRIu64 " pages: %" PRIu64 " zero-filled, %"
		PRIu64 " read", pages, zeros, reads);
	/*
	 * A read only where the lease lapsed (more than 4 s without an
	 * exchange with the appliance, which a slow guest may take), or
	 * readahead fetched a page evicted again before it was touched.
	 */
	ASSERT_GE(zeros, pages - pages / 16);
	ASSERT_LE(reads, pages / 16);
	ASSERT_PATTERN(p, size, 0, seed);
	back = xr_region_u64(name, "stats/rdma_reads") - reads;
	xt_diag("reading it back: %" PRIu64 " pages read", back);
	ASSERT_GE(back, pages - 1 * MiB / 4096);
	ASSERT_EQ(xr_region_u64(name, "stats/zero_fills"), zeros);

	ASSERT_NE(xmemctl_on_peer("attach", name, NULL, &busy), 0);
	ASSERT_TRUE(busy);
	ASSERT_OK(munmap(p, size));
	ASSERT_OK(close(fd));
	OP_OK(XMEM_IOC_DETACH, name, 0, 0);
	status = verify_on_peer(name, seed);
	if (status)
		FAIL("verifier on %s: wait status %#x", PEER, status);
}

/*
 * Pages a grow adds to a region held alone since created are filled here
 * too, not read, and what is written there reaches the appliance: the
 * peer finds every word once the region is detached here.
 */
TEST_TIMEOUT(sole_grown_pages_read_nothing, 300)
{
	const uint64_t size = 1 * MiB, grown = 4 * MiB, pages = grown / 4096;
	uint64_t seed = xnow() * 1000 + 19, reads, zeros;
	char name[XMEM_REGION_NAME_MAX];
	int fd, status;
	char *p;

	xr_require_connected();
	require_peer();
	xr_name(name, "solegrow");
	fd = ATTACH_OK(name, size, XMEM_ATTACH_CREATE | XMEM_ATTACH_EXCL |
		       XMEM_ATTACH_SOLE, NULL);
	OP_OK(XMEM_IOC_RESIZE, name, grown, 0);
	p = MAP_OK(fd, 0, grown);
	/* Three quarters of the pages were added by the grow. */
	xpat_fill(p, grown, 0, seed);
	reads = xr_region_u64(name, "stats/rdma_reads");
	zeros = xr_region_u64(name, "stats/zero_fills");
	xt_diag("filling %" PRIu64 " pages, 3/4 of them grown: %" PRIu64
		" zero-filled, %" PRIu64 " read", pages, zeros, reads);
	/* Reads only where the lease lapsed: see sole-first-touch-... */
	ASSERT_GE(zeros, pages - pages / 16);
	ASSERT_LE(reads, pages / 16);
	ASSERT_OK(munmap(p, grown));
	ASSERT_OK(close(fd));
	OP_OK(XMEM_IOC_DETACH, name, 0, 0);
	status = verify_on_peer(name, seed);
	if (status)
		FAIL("verifier on %s: wait status %#x", PEER, status);
}

/*
 * SOLE is refused while another client has the region attached; a region
 * SOLE did not create is read as any other; SOLE of a region attached
 * here without it holds it from then on (uapi 1.9; EBUSY before).
 */
TEST_TIMEOUT(sole_refused_while_shared, 300)
{
	char name[XMEM_REGION_NAME_MAX], other[XMEM_REGION_NAME_MAX];
	struct xmem_region_entry e;
	int fd, fd2;
	bool busy;
	char *p;

	xr_require_connected();
	require_peer();
	xr_name(name, "solepeer");
	if (xmemctl_on_peer("create", name, "1M", NULL))
		FAIL("%s could not create %s", PEER, name);
	ASSERT_EQ(xr_attach(name, 0, XMEM_ATTACH_SOLE, NULL), -EBUSY);
	if (xmemctl_on_peer("detach", name, NULL, NULL))
		FAIL("%s could not detach %s", PEER, name);
	fd = ATTACH_OK(name, 0, XMEM_ATTACH_SOLE, NULL);
	p = MAP_OK(fd, 0, 1 * MiB);
	ASSERT_EQ(p[100], 0);
	ASSERT_GE(xr_region_u64(name, "stats/rdma_reads"), 1);
	ASSERT_EQ(xr_region_u64(name, "stats/zero_fills"), 0);
	ASSERT_NE(xmemctl_on_peer("attach", name, NULL, &busy), 0);
	ASSERT_TRUE(busy);
	ASSERT_OK(munmap(p, 1 * MiB));
	ASSERT_OK(close(fd));
	OP_OK(XMEM_IOC_DESTROY, name, 0, 0);

	xr_name(other, "solelocal");
	fd = ATTACH_OK(other, 1 * MiB, XMEM_ATTACH_CREATE | XMEM_ATTACH_EXCL,
		       NULL);
	if (!list_find(other, &e))
		FAIL("%s not in XMEM_IOC_LIST", other);
	ASSERT_EQ(e.flags, XMEM_ENTRY_ATTACHED);
	fd2 = ATTACH_OK(other, 0, XMEM_ATTACH_SOLE, NULL);
	if (!list_find(other, &e))
		FAIL("%s not in XMEM_IOC_LIST after SOLE", other);
	ASSERT_EQ(e.flags, XMEM_ENTRY_ATTACHED | XMEM_ENTRY_HELD);
	ASSERT_NE(xmemctl_on_peer("attach", other, NULL, &busy), 0);
	ASSERT_TRUE(busy);
	ASSERT_OK(close(fd2));
	ASSERT_OK(close(fd));
	OP_OK(XMEM_IOC_DESTROY, other, 0, 0);
}

/*
 * DETACH with XMEM_DETACH_HOLD hands a held region over while it stays
 * mapped here (what a VM's zero-copy migration does): the other client
 * may attach it from then on, writes made here after the hand-off reach
 * the appliance (the appliance changed the region's keys twice), and a
 * page never written is read from then on, not filled here.  SOLE takes
 * the hold back once the other client detached it, and not before: what
 * the destination of a migration does; writes made under the new keys
 * reach the appliance too.
 */
TEST_TIMEOUT(sole_hold_handed_over, 300)
{
	const uint64_t size = 4 * MiB;
	uint64_t seed = xnow() * 1000 + 17, zeros, reads;
	char name[XMEM_REGION_NAME_MAX], path[256];
	struct xmem_region_entry e;
	int fd, fd2, status;
	bool busy;
	char *p;

	xr_require_connected();
	require_peer();
	xr_name(name, "solehand");
	fd = ATTACH_OK(name, size, XMEM_ATTACH_CREATE | XMEM_ATTACH_EXCL |
		       XMEM_ATTACH_SOLE, NULL);
	snprintf(path, sizeof(path), "regions/%s/local_limit", name);
	ASSERT_ZERO_ERR(xsys_write_u64(path, 1 * MiB));
	p = MAP_OK(fd, 0, size);
	xpat_fill(p, size / 2, 0, seed);
	ASSERT_GE(xr_region_u64(name, "stats/zero_fills"), 1);
	if (!list_find(name, &e))
		FAIL("%s not in XMEM_IOC_LIST", name);
	ASSERT_EQ(e.flags, XMEM_ENTRY_ATTACHED | XMEM_ENTRY_HELD);
	ASSERT_NE(xmemctl_on_peer("attach", name, NULL, &busy), 0);
	ASSERT_TRUE(busy);

	OP_OK(XMEM_IOC_DETACH, name, 0, XMEM_DETACH_HOLD);
	if (!list_find(name, &e))
		FAIL("%s not in XMEM_IOC_LIST after the hand-off", name);
	ASSERT_EQ(e.flags, XMEM_ENTRY_ATTACHED);
	/* Not held any more: nothing to do, and nothing done. */
	OP_OK(XMEM_IOC_DETACH, name, 0, XMEM_DETACH_HOLD);

	/* The second half was never written: now it is read. */
	zeros = xr_region_u64(name, "stats/zero_fills");
	reads = xr_region_u64(name, "stats/rdma_reads");
	xpat_fill(p, size, 0, seed + 1);
	ASSERT_EQ(xr_region_u64(name, "stats/zero_fills"), zeros);
	ASSERT_GE(xr_region_u64(name, "stats/rdma_reads") - reads, 1);
	ASSERT_OK(msync(p, size, MS_SYNC));
	status = verify_on_peer(name, seed + 1);
	if (status)
		FAIL("verifier on %s: wait status %#x", PEER, status);
	/* The peer has it attached: no hold. */
	ASSERT_EQ(xr_attach(name, 0, XMEM_ATTACH_SOLE, NULL), -EBUSY);
	if (!list_find(name, &e))
		FAIL("%s not in XMEM_IOC_LIST after a refused SOLE", name);
	ASSERT_EQ(e.flags, XMEM_ENTRY_ATTACHED);
	if (xmemctl_on_peer("detach", name, NULL, NULL))
		FAIL("%s could not detach %s", PEER, name);
	ASSERT_PATTERN(p, size, 0, seed + 1);

	/* Held again, mapped all along. */
	fd2 = ATTACH_OK(name, 0, XMEM_ATTACH_SOLE, NULL);
	if (!list_find(name, &e))
		FAIL("%s not in XMEM_IOC_LIST after SOLE", name);
	ASSERT_EQ(e.flags, XMEM_ENTRY_ATTACHED | XMEM_ENTRY_HELD);
	ASSERT_NE(xmemctl_on_peer("attach", name, NULL, &busy), 0);
	ASSERT_TRUE(busy);
	zeros = xr_region_u64(name, "stats/zero_fills");
	xpat_fill(p, size, 0, seed + 2);
	ASSERT_OK(msync(p, size, MS_SYNC));
	/* It has data: nothing is filled here. */
	ASSERT_EQ(xr_region_u64(name, "stats/zero_fills"), zeros);
	OP_OK(XMEM_IOC_DETACH, name, 0, XMEM_DETACH_HOLD);
	status = verify_on_peer(name, seed + 2);
	if (status)
		FAIL("verifier on %s: wait status %#x", PEER, status);
	if (xmemctl_on_peer("detach", name, NULL, NULL))
		FAIL("%s could not detach %s", PEER, name);
	ASSERT_OK(close(fd2));
	ASSERT_OK(munmap(p, size));
	ASSERT_OK(close(fd));
	OP_OK(XMEM_IOC_DESTROY, name, 0, 0);
	OP_FAILS(XMEM_IOC_DETACH, name, 0, XMEM_DETACH_HOLD, ENOENT);
}

/* readahead_max when the program started (the tests run in children). */
static uint64_t saved_ra_max = ~0ull;

/* xt_after_each hook, in the parent: readahead_max back to what it was. */
static void ra_max_restore(void)
{
	uint64_t cur;
	int ret;

	if (saved_ra_max == ~0ull ||
	    (!xsys_read_u64("readahead_max", &cur) && cur == saved_ra_max))
		return;
	ret = xsys_write_u64("readahead_max", saved_ra_max);
	if (ret)
		xt_diag("restoring readahead_max %" PRIu64 ": %s",
			saved_ra_max, xt_errname(-ret));
}

/*
 * Without an exchange with the appliance for longer than the lease
 * (XMEM_SOLE_LEASE_SEC, 4 s), the client no longer trusts its hold: the
 * next first touch reads (which renews it), the one after is zero-filled.
 * Readahead is off meanwhile: a window fetched after the renewing read
 * would be zero-filled too, and one fetched before it read.
 */
TEST_TIMEOUT(sole_lease_lapses_when_idle, 120)
{
	char name[XMEM_REGION_NAME_MAX];
	uint64_t zeros, reads;
	volatile char *p;
	int fd;

	xr_require_connected();
	/* Put back after the test by ra_max_restore(). */
	ASSERT_ZERO_ERR(xsys_write_u64("readahead_max", 0));
	xr_name(name, "solelease");
	fd = ATTACH_OK(name, 1 * MiB, XMEM_ATTACH_CREATE | XMEM_ATTACH_EXCL |
		       XMEM_ATTACH_SOLE, NULL);
	/* Pages far apart, so that no touch looks sequential (readahead). */
	p = MAP_OK(fd, 0, 1 * MiB);
	ASSERT_EQ(p[0], 0);
	zeros = xr_region_u64(name, "stats/zero_fills");
	ASSERT_GE(zeros, 1);
	ASSERT_EQ(xr_region_u64(name, "stats/rdma_reads"), 0);
	/* Twice the lease: not a synchronisation, the time under test. */
	sleep(8);
	ASSERT_EQ(p[640 * 1024], 0);
	reads = xr_region_u64(name, "stats/rdma_reads");
	ASSERT_EQ(reads, 1);
	ASSERT_EQ(xr_region_u64(name, "stats/zero_fills"), zeros);
	ASSERT_EQ(p[320 * 1024], 0);
	ASSERT_EQ(xr_region_u64(name, "stats/zero_fills"), zeros + 1);
	ASSERT_EQ(xr_region_u64(name, "stats/rdma_reads"), reads);
	ASSERT_OK(munmap((void *)p, 1 * MiB));
	ASSERT_OK(close(fd));
	OP_OK(XMEM_IOC_DESTROY, name, 0, 0);
}

TEST(destroy)
{
	char name[XMEM_REGION_NAME_MAX];
	uint64_t before;
	int fd;

	xr_require_connected();
	xr_name(name, "destroy");
	before = appliance_bytes();
	fd = ATTACH_OK(name, 1 * MiB, XMEM_ATTACH_CREATE | XMEM_ATTACH_EXCL,
		       NULL);
	ASSERT_EQ(appliance_bytes(), before + 1 * MiB);
	OP_FAILS(XMEM_IOC_DESTROY, name, 0, 0, EBUSY);
	ASSERT_OK(close(fd));
	OP_OK(XMEM_IOC_DESTROY, name, 0, 0);
	ASSERT_EQ(appliance_bytes(), before);
	ASSERT_TRUE(!list_find(name, NULL));
	fd = xr_attach(name, 0, 0, NULL);
	if (fd != -ENOENT)
		FAIL("attach after destroy: expected ENOENT, got %s",
		     fd >= 0 ? "success" : xt_errname(-fd));
	OP_FAILS(XMEM_IOC_DESTROY, name, 0, 0, ENOENT);
}

/*
 * A region unmapped and closed can be detached or destroyed at once, while
 * the readahead its last faults started is still at work: the pager's own
 * references are waited for, not taken for users (DETACH and DESTROY
 * said EBUSY then).  Each round reads the first half of a fresh region in
 * order, so that readahead runs ahead of the reads, and ends it at once.
 */
#define QUICK_ROUNDS	16

TEST_TIMEOUT(end_right_after_unmap, 600)
{
	char name[XMEM_REGION_NAME_MAX];
	uint64_t ra, size = 2 * MiB;
	volatile char *p;
	size_t off;
	int fd, i;

	xr_require_connected();
	ASSERT_ZERO_ERR(xsys_read_u64("readahead_max", &ra));
	if (ra < 256 * KiB)
		ASSERT_ZERO_ERR(xsys_write_u64("readahead_max", 256 * KiB));
	for (i = 0; i < QUICK_ROUNDS; i++) {
		xr_name(name, "quick");
		fd = ATTACH_OK(name, size, XMEM_ATTACH_CREATE |
			       XMEM_ATTACH_EXCL, NULL);
		p = MAP_OK(fd, 0, size);
		for (off = 0; off < size / 2; off += 4096)
			(void)p[off];
		ASSERT_OK(munmap((void *)p, size));
		ASSERT_OK(close(fd));
		if (i % 2) {
			OP_OK(XMEM_IOC_DETACH, name, 0, 0);
			OP_OK(XMEM_IOC_DESTROY, name, 0, 0);
		} else {
			OP_OK(XMEM_IOC_DESTROY, name, 0, 0);
		}
	}
	xt_diag("%d regions ended right after their unmap", QUICK_ROUNDS);
}

/* Run @fn as uid/gid NOBODY in a child; returns its exit status. */
static int as_nobody(int (*fn)(const char *, const char *), const char *a,
		     const char *b)
{
	int status;
	pid_t pid = fork();

	if (pid < 0)
		FAIL("fork: %s", xt_errname(errno));
	if (!pid) {
		if (setgroups(0, NULL) || setresgid(NOBODY, NOBODY, NOBODY) ||
		    setresuid(NOBODY, NOBODY, NOBODY))
			_exit(100);
		_exit(fn(a, b));
	}
	if (waitpid(pid, &status, 0) != pid || !WIFEXITED(status))
		FAIL("child: wait status %#x", status);
	return WEXITSTATUS(status);
}

/* Exit status: the errno of each step, or 0; see the test. */
static int nobody_steps(const char *priv, const char *shared)
{
	int fd;

	fd = xr_attach(priv, 0, 0, NULL);
	if (fd != -EACCES)
		return 1;
	if (region_op(XMEM_IOC_DETACH, priv, 0, 0, NULL) != -EACCES)
		return 2;
	fd = xr_attach(shared, 0, 0, NULL);
	if (fd < 0)
		return 3;
	close(fd);
	if (region_op(XMEM_IOC_RESIZE, shared, 2 * MiB, 0, NULL) != -EACCES)
		return 4;
	if (region_op(XMEM_IOC_DESTROY, shared, 0, 0, NULL) != -EACCES)
		return 5;
	return 0;
}

TEST(other_user_denied)
{
	char priv[XMEM_REGION_NAME_MAX], shared[XMEM_REGION_NAME_MAX];
	struct xmem_attach at;
	struct stat st;
	int fd, ret;

	xr_require_connected();
	if (geteuid())
		SKIP("needs root to switch users");
	xr_name(priv, "priv");
	xr_name(shared, "shared");
	fd = ATTACH_OK(priv, 1 * MiB, XMEM_ATTACH_CREATE | XMEM_ATTACH_EXCL,
		       NULL);
	close(fd);
	memset(&at, 0, sizeof(at));
	snprintf(at.name, sizeof(at.name), "%s", shared);
	at.size = 1 * MiB;
	at.flags = XMEM_ATTACH_CREATE | XMEM_ATTACH_EXCL | XMEM_ATTACH_MODE;
	at.mode = 0666;
	fd = open_dev();
	ASSERT_OK(ioctl(fd, XMEM_IOC_ATTACH, &at));
	close(fd);

	/* Let the other user open the device at all; put it back after. */
	ASSERT_OK(stat(XMEM_DEV, &st));
	ASSERT_OK(chmod(XMEM_DEV, 0666));
	ret = as_nobody(nobody_steps, priv, shared);
	ASSERT_OK(chmod(XMEM_DEV, st.st_mode & 07777));
	if (ret)
		FAIL("as uid %d: step %d did not get what it should", NOBODY,
		     ret);
	OP_OK(XMEM_IOC_DESTROY, shared, 0, 0);
	OP_OK(XMEM_IOC_DESTROY, priv, 0, 0);
}

/* Drop every capability of this process, staying uid 0. */
static int drop_caps(void)
{
	struct __user_cap_header_struct h = {
		.version = _LINUX_CAPABILITY_VERSION_3,
	};
	struct __user_cap_data_struct d[2];

	memset(d, 0, sizeof(d));
	return syscall(SYS_capset, &h, d);
}

/*
 * Exit status: 0 if attaching @name gave @want (0 or an errno) as a user
 * set up by @how: 'g' uid/gid NOBODY with supplementary group 0, 'n' the
 * same without it, 'c' uid 0 without capabilities, 'r' root.
 */
static int attach_as(const char *name, int how, int want)
{
	gid_t zero = 0;
	int status, fd;
	pid_t pid = fork();

	if (pid < 0)
		FAIL("fork: %s", xt_errname(errno));
	if (!pid) {
		if (how == 'g' || how == 'n') {
			if (setgroups(how == 'g', &zero) ||
			    setresgid(NOBODY, NOBODY, NOBODY) ||
			    setresuid(NOBODY, NOBODY, NOBODY))
				_exit(100);
		} else if (how == 'c' && drop_caps()) {
			_exit(101);
		}
		fd = xr_attach(name, 0, 0, NULL);
		if (fd >= 0)
			close(fd);
		_exit(fd == -want || (fd >= 0 && !want) ? 0 : 1);
	}
	if (waitpid(pid, &status, 0) != pid || !WIFEXITED(status))
		FAIL("child: wait status %#x", status);
	return WEXITSTATUS(status);
}

/*
 * The client's own check of regions attached here uses the caller's
 * supplementary groups and capabilities, not its fsgid and uid 0.
 */
TEST(groups_and_capabilities)
{
	char grp[XMEM_REGION_NAME_MAX], other[XMEM_REGION_NAME_MAX];
	struct xmem_attach at;
	struct stat st;
	int fd;

	xr_require_connected();
	if (geteuid())
		SKIP("needs root to switch users");
	xr_name(grp, "grp");
	xr_name(other, "other");
	/* Group 0 may read and write grp; nobody else but its owner. */
	memset(&at, 0, sizeof(at));
	snprintf(at.name, sizeof(at.name), "%s", grp);
	at.size = 1 * MiB;
	at.flags = XMEM_ATTACH_CREATE | XMEM_ATTACH_EXCL | XMEM_ATTACH_MODE;
	at.mode = 0660;
	fd = open_dev();
	ASSERT_OK(ioctl(fd, XMEM_IOC_ATTACH, &at));
	close(fd);
	/* other: owned by uid 4321 (the fsuid creates), mode 0600. */
	snprintf(at.name, sizeof(at.name), "%s", other);
	at.mode = 0600;
	fd = open_dev();
	setfsuid(4321);
	ASSERT_OK(ioctl(fd, XMEM_IOC_ATTACH, &at));
	setfsuid(0);
	close(fd);

	ASSERT_OK(stat(XMEM_DEV, &st));
	ASSERT_OK(chmod(XMEM_DEV, 0666));
	if (attach_as(grp, 'g', 0))
		FAIL("uid %d with supplementary group 0 could not attach a 0660 region of group 0",
		     NOBODY);
	if (attach_as(grp, 'n', EACCES))
		FAIL("uid %d without group 0 was not refused (EACCES)",
		     NOBODY);
	ASSERT_OK(chmod(XMEM_DEV, st.st_mode & 07777));
	if (attach_as(other, 'c', EACCES))
		FAIL("uid 0 without capabilities was not refused (EACCES) a 0600 region of uid 4321");
	if (attach_as(other, 'r', 0))
		FAIL("root could not attach a 0600 region of uid 4321");
	OP_OK(XMEM_IOC_DESTROY, other, 0, 0);
	OP_OK(XMEM_IOC_DESTROY, grp, 0, 0);
}

#define MAX_REGIONS	"/sys/module/xmem/parameters/max_regions"

/* Regions attached here: the entries of the module's regions/. */
static int attached_here(void)
{
	DIR *d = opendir("/sys/class/misc/xmem/regions");
	struct dirent *de;
	int n = 0;

	if (!d)
		FAIL("opendir regions/: %s", xt_errname(errno));
	while ((de = readdir(d)))
		n += de->d_name[0] != '.';
	closedir(d);
	return n;
}

static void set_max_regions(int n)
{
	FILE *f = fopen(MAX_REGIONS, "w");

	if (!f || fprintf(f, "%d\n", n) < 0 || fclose(f))
		FAIL("write %d to %s: %s", n, MAX_REGIONS, xt_errname(errno));
}

/*
 * The module's max_regions limit: one region more than attached here
 * fits, the next is EDQUOT and the appliance never hears of it.
 */
TEST(max_regions)
{
	char a[XMEM_REGION_NAME_MAX], b[XMEM_REGION_NAME_MAX];
	int fd, n;

	xr_require_connected();
	if (geteuid())
		SKIP("needs root to set the module parameter");
	xr_name(a, "maxa");
	xr_name(b, "maxb");
	n = attached_here();
	set_max_regions(n + 1);
	fd = xr_attach(a, 1 * MiB, XMEM_ATTACH_CREATE | XMEM_ATTACH_EXCL,
		       NULL);
	if (fd < 0) {
		set_max_regions(0);
		FAIL("attach %s under max_regions %d: %s", a, n + 1,
		     xt_errname(-fd));
	}
	close(fd);
	fd = xr_attach(b, 1 * MiB, XMEM_ATTACH_CREATE | XMEM_ATTACH_EXCL,
		       NULL);
	set_max_regions(0);
	if (fd != -EDQUOT)
		FAIL("attach %s over max_regions %d: want EDQUOT, got %s", b,
		     n + 1, fd >= 0 ? "success" : xt_errname(-fd));
	if (list_find(b, NULL))
		FAIL("%s exists on the appliance after the refusal", b);
	/* A region attached here already is not counted twice. */
	set_max_regions(n + 1);
	fd = xr_attach(a, 0, 0, NULL);
	set_max_regions(0);
	if (fd < 0)
		FAIL("attach %s again at the limit: %s", a, xt_errname(-fd));
	close(fd);
	OP_OK(XMEM_IOC_DESTROY, a, 0, 0);
}

TEST(bad_requests)
{
	char name[XMEM_REGION_NAME_MAX];
	struct xmem_region_entry e[2];
	struct xmem_region_list l;
	struct xmem_region_op op;
	uint64_t before;
	int fd;

	xr_require_connected();
	xr_name(name, "bad");
	fd = ATTACH_OK(name, 1 * MiB, XMEM_ATTACH_CREATE | XMEM_ATTACH_EXCL,
		       NULL);
	close(fd);
	before = appliance_bytes();
	OP_FAILS(XMEM_IOC_RESIZE, name, 0, 0, EINVAL);
	OP_FAILS(XMEM_IOC_RESIZE, name, 4096 + 1, 0, EINVAL);
	OP_FAILS(XMEM_IOC_RESIZE, name, (1ULL << 40) + 4096, 0, EINVAL);
	OP_FAILS(XMEM_IOC_RESIZE, name, 2 * MiB, 0x80, EINVAL);
	OP_FAILS(XMEM_IOC_DETACH, name, 4096, 0, EINVAL);
	OP_FAILS(XMEM_IOC_DESTROY, name, 0, XMEM_RESIZE_WRITEBACK, EINVAL);
	OP_FAILS(XMEM_IOC_DESTROY, "a/b", 0, 0, EINVAL);
	OP_FAILS(XMEM_IOC_DESTROY, "..", 0, 0, EINVAL);

	fd = open_dev();
	memset(&op, 0, sizeof(op));
	snprintf(op.name, sizeof(op.name), "%s", name);
	op.reserved = 1;
	ASSERT_ERRNO(ioctl(fd, XMEM_IOC_DESTROY, &op), EINVAL);
	op.reserved = 0;
	op.reserved2[1] = 1;
	ASSERT_ERRNO(ioctl(fd, XMEM_IOC_DETACH, &op), EINVAL);
	memset(op.name, 'a', sizeof(op.name));
	op.reserved2[1] = 0;
	ASSERT_ERRNO(ioctl(fd, XMEM_IOC_DESTROY, &op), EINVAL);

	memset(&l, 0, sizeof(l));
	l.entries = (uintptr_t)e;
	ASSERT_ERRNO(ioctl(fd, XMEM_IOC_LIST, &l), EINVAL);	/* count 0 */
	l.count = XMEM_LIST_MAX + 1;
	ASSERT_ERRNO(ioctl(fd, XMEM_IOC_LIST, &l), EINVAL);
	l.count = 2;
	l.flags = 1;
	ASSERT_ERRNO(ioctl(fd, XMEM_IOC_LIST, &l), EINVAL);
	l.flags = 0;
	l.reserved[0] = 1;
	ASSERT_ERRNO(ioctl(fd, XMEM_IOC_LIST, &l), EINVAL);
	l.reserved[0] = 0;
	l.entries = 16;		/* unmapped */
	ASSERT_ERRNO(ioctl(fd, XMEM_IOC_LIST, &l), EFAULT);
	ASSERT_ERRNO(ioctl(fd, XMEM_IOC_DESTROY, (void *)16), EFAULT);
	close(fd);

	ASSERT_EQ(appliance_bytes(), before);
	OP_OK(XMEM_IOC_DESTROY, name, 0, 0);
}

int main(int argc, char **argv)
{
	if (xsys_read_u64("readahead_max", &saved_ra_max))
		saved_ra_max = ~0ull;
	xt_after_each(ra_max_restore);
	return xt_main(argc, argv);
}
