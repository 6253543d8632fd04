// SPDX-License-Identifier: GPL-2.0
/*
 * Snapshots and appliance-side copies (XMEM_IOC_SNAPSHOT): the appliance
 * copies a region into another memory to memory, so no region byte moves
 * through this client (its RDMA counters stay still), and the copy of a
 * region being written is its content at one instant.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include "../libxmem/xmem_alloc.h"
#include "xsys.h"
#include "xtest.h"

#define REGION_SIZE	(8 * MiB)
#define PAGE		4096u

/* XMEM_IOC_SNAPSHOT; 0 or -errno, @out (may be NULL) the result. */
static int snapshot(const char *src, const char *dst, uint32_t flags,
		    struct xmem_snapshot *out)
{
	struct xmem_snapshot s;
	int fd = open(XMEM_DEV, O_RDWR | O_CLOEXEC), ret = 0;

	if (fd < 0)
		FAIL("open %s: %s", XMEM_DEV, xt_errname(errno));
	memset(&s, 0, sizeof(s));
	snprintf(s.src, sizeof(s.src), "%s", src);
	snprintf(s.dst, sizeof(s.dst), "%s", dst);
	s.flags = flags;
	if (ioctl(fd, XMEM_IOC_SNAPSHOT, &s))
		ret = -errno;
	close(fd);
	if (out)
		*out = s;
	return ret;
}

/* XMEM_IOC_DESTROY or XMEM_IOC_DETACH of @name: 0 or -errno. */
static int region_op(unsigned long req, const char *name)
{
	struct xmem_region_op op;
	int fd = open(XMEM_DEV, O_RDWR | O_CLOEXEC), ret = 0;

	if (fd < 0)
		return -errno;
	memset(&op, 0, sizeof(op));
	snprintf(op.name, sizeof(op.name), "%s", name);
	if (ioctl(fd, req, &op))
		ret = -errno;
	close(fd);
	return ret;
}

static int destroy(const char *name)
{
	return region_op(XMEM_IOC_DESTROY, name);
}

/* Map region @name read-only at its size; the test fails on error. */
static char *map_existing(const char *name, int *fdp, uint64_t *size)
{
	struct xmem_attach at;
	int fd = ATTACH_OK(name, 0, 0, &at);

	*fdp = fd;
	*size = at.size;
	return MAP_OK(fd, 0, at.size);
}

/*
 * A copy made by the appliance: the client's RDMA READ and WRITE counters
 * do not move, into a new region and into an existing one, and both
 * copies hold the data.
 */
TEST_TIMEOUT(copy_moves_no_data_through_client, 300)
{
	char a[XMEM_REGION_NAME_MAX], b[XMEM_REGION_NAME_MAX];
	char c[XMEM_REGION_NAME_MAX];
	uint64_t seed = xnow() * 1000 + 11, size;
	struct xstats s0, s1;
	struct xmem_snapshot s;
	int fd, fb, fc;
	char *p, *q;

	xr_require_connected();
	xr_name(a, "snap-a");
	xr_name(b, "snap-b");
	xr_name(c, "snap-c");
	fd = ATTACH_OK(a, REGION_SIZE, XMEM_ATTACH_CREATE | XMEM_ATTACH_EXCL,
		       NULL);
	p = MAP_OK(fd, 0, REGION_SIZE);
	xpat_fill(p, REGION_SIZE, 0, seed);
	ASSERT_OK(fsync(fd));
	/* The existing target, larger than the source, then unused here. */
	fc = ATTACH_OK(c, 2 * REGION_SIZE,
		       XMEM_ATTACH_CREATE | XMEM_ATTACH_EXCL, NULL);
	ASSERT_OK(close(fc));

	ASSERT_ZERO_ERR(xstats_read(&s0));
	ASSERT_ZERO_ERR(snapshot(a, b, 0, &s));
	ASSERT_EQ(s.size, REGION_SIZE);
	ASSERT_ZERO_ERR(snapshot(a, c, XMEM_SNAPSHOT_INTO, NULL));
	ASSERT_ZERO_ERR(xstats_read(&s1));
	xt_diag("copy of %u MiB: writers held %.3f ms, %.3f ms in all",
		(unsigned int)(REGION_SIZE >> 20), s.hold_ns / 1e6, s.total_ns / 1e6);
	if (s1.v[XS_RDMA_READS] != s0.v[XS_RDMA_READS] ||
	    s1.v[XS_RDMA_WRITES] != s0.v[XS_RDMA_WRITES]) {
		xstats_diag(&s0, &s1);
		FAIL("region data went through the client");
	}

	q = map_existing(b, &fb, &size);
	ASSERT_EQ(size, REGION_SIZE);
	ASSERT_PATTERN(q, REGION_SIZE, 0, seed);
	ASSERT_OK(munmap(q, size));
	ASSERT_OK(close(fb));
	q = map_existing(c, &fc, &size);
	ASSERT_EQ(size, 2 * REGION_SIZE);
	ASSERT_PATTERN(q, REGION_SIZE, 0, seed);
	ASSERT_OK(munmap(q, size));
	ASSERT_OK(close(fc));
	/* The source is untouched. */
	ASSERT_PATTERN(p, REGION_SIZE, 0, seed);
	ASSERT_OK(munmap(p, REGION_SIZE));
	ASSERT_OK(close(fd));
	ASSERT_ZERO_ERR(destroy(a));
	ASSERT_ZERO_ERR(destroy(b));
	ASSERT_ZERO_ERR(destroy(c));
}

/* The writer: stamps 1, 2, 3, ... into page seq % pages, in order. */
struct writer {
	uint64_t *mem;
	uint64_t pages;
	_Atomic uint64_t acked;		/* last stamp stored */
	atomic_bool stop;
};

static void *writer_fn(void *arg)
{
	struct writer *w = arg;
	uint64_t seq;

	for (seq = 1; !atomic_load(&w->stop); seq++) {
		w->mem[(seq % w->pages) * (PAGE / 8)] = seq;
		atomic_store(&w->acked, seq);
	}
	return NULL;
}

/*
 * A snapshot while a writer runs is the region at one instant: with M the
 * largest stamp in the snapshot, every page holds the last stamp at or
 * before M that went to it (no later write, no lost earlier one), and M
 * is at least the last stamp acknowledged before the call.
 */
TEST_TIMEOUT(snapshot_consistent_under_writer, 600)
{
	char a[XMEM_REGION_NAME_MAX], b[XMEM_REGION_NAME_MAX];
	uint64_t pages = REGION_SIZE / PAGE, i, cut = 0, want, before, after;
	uint64_t size, bad = 0;
	struct xmem_snapshot s;
	struct writer w;
	pthread_t t;
	uint64_t *q;
	int fd, fb, round;

	xr_require_connected();
	for (round = 0; round < 3; round++) {
		xr_name(a, "snapw-a");
		xr_name(b, "snapw-b");
		fd = ATTACH_OK(a, REGION_SIZE,
			       XMEM_ATTACH_CREATE | XMEM_ATTACH_EXCL, NULL);
		memset(&w, 0, sizeof(w));
		w.mem = MAP_OK(fd, 0, REGION_SIZE);
		w.pages = pages;
		ASSERT_EQ(pthread_create(&t, NULL, writer_fn, &w), 0);
		/* Past the first round of pages, so every page has a stamp. */
		while (atomic_load(&w.acked) < (round + 1) * pages + 7)
			sched_yield();
		before = atomic_load(&w.acked);
		ASSERT_ZERO_ERR(snapshot(a, b, 0, &s));
		after = atomic_load(&w.acked);
		atomic_store(&w.stop, true);
		pthread_join(t, NULL);
		xt_diag("round %d: stamps %" PRIu64 " before, %" PRIu64 " after the call; writers held %.3f ms, %.3f ms in all",
			round, before, after, s.hold_ns / 1e6,
			s.total_ns / 1e6);
		ASSERT_GT(s.hold_ns, 0);

		q = (uint64_t *)map_existing(b, &fb, &size);
		for (i = 0; i < pages; i++)
			if (q[i * (PAGE / 8)] > cut)
				cut = q[i * (PAGE / 8)];
		ASSERT_GE(cut, before);
		ASSERT_LE(cut, after);
		for (i = 0; i < pages; i++) {
			/* The last stamp <= cut that went to page i. */
			want = cut - ((cut % pages + pages - i) % pages);
			if (q[i * (PAGE / 8)] != want && bad++ < 5)
				xt_diag("page %" PRIu64 ": %" PRIu64 ", want %" PRIu64 " (cut %" PRIu64 ")",
					i, q[i * (PAGE / 8)], want, cut);
		}
		ASSERT_EQ(bad, 0);
		ASSERT_OK(munmap(q, size));
		ASSERT_OK(close(fb));
		ASSERT_OK(munmap(w.mem, REGION_SIZE));
		ASSERT_OK(close(fd));
		ASSERT_ZERO_ERR(destroy(a));
		ASSERT_ZERO_ERR(destroy(b));
		cut = 0;
	}
}

/*
 * Fork view: the child maps a snapshot over the region's addresses and
 * sees the fork-time content, while the parent rewrites every word of
 * the live region (before the child looks: a pipe orders them).
 */
TEST_TIMEOUT(fork_view_keeps_fork_time_content, 300)
{
	char a[XMEM_REGION_NAME_MAX], b[XMEM_REGION_NAME_MAX];
	uint64_t seed = xnow() * 1000 + 17, seed2 = seed + 1;
	struct xstats s0, s1;
	int fd, pfd[2], status;
	pid_t pid;
	char c = 0, *p;

	xr_require_connected();
	xr_name(a, "forkv-a");
	xr_name(b, "forkv-b");
	fd = ATTACH_OK(a, REGION_SIZE, XMEM_ATTACH_CREATE | XMEM_ATTACH_EXCL,
		       NULL);
	p = MAP_OK(fd, 0, REGION_SIZE);
	xpat_fill(p, REGION_SIZE, 0, seed);
	ASSERT_OK(pipe(pfd));
	ASSERT_ZERO_ERR(xstats_read(&s0));
	pid = xmem_fork_snapshot(a, p, REGION_SIZE, b);
	ASSERT_OK(pid);
	if (!pid) {
		close(pfd[1]);
		if (read(pfd[0], &c, 1) != 1)
			_exit(3);
		_exit(xpat_check(p, REGION_SIZE, 0, seed, NULL) ? 1 : 0);
	}
	close(pfd[0]);
	/* The snapshot took the data's write-back, and nothing else. */
	ASSERT_ZERO_ERR(xstats_read(&s1));
	ASSERT_EQ(s1.v[XS_RDMA_READS], s0.v[XS_RDMA_READS]);
	xpat_fill(p, REGION_SIZE, 0, seed2);
	ASSERT_OK(fsync(fd));
	ASSERT_EQ(write(pfd[1], &c, 1), 1);
	close(pfd[1]);
	ASSERT_EQ(waitpid(pid, &status, 0), pid);
	if (!WIFEXITED(status) || WEXITSTATUS(status))
		FAIL("child: wait status %#x (1: view differs from fork time)",
		     status);
	ASSERT_PATTERN(p, REGION_SIZE, 0, seed2);
	ASSERT_OK(munmap(p, REGION_SIZE));
	ASSERT_OK(close(fd));
	ASSERT_ZERO_ERR(destroy(b));
	ASSERT_ZERO_ERR(destroy(a));
}

/*
 * Is @name a region of some pool member (XMEM_IOC_LIST)?  If so, *@users
 * (may be NULL) is the appliance's count of connections that have it
 * attached.
 */
static bool region_listed_users(const char *name, uint32_t *users)
{
	static struct xmem_region_entry ents[XMEM_LIST_MAX];
	struct xmem_region_list l = { .entries = (uintptr_t)ents };
	int fd = open(XMEM_DEV, O_RDWR | O_CLOEXEC);
	bool found = false;
	uint32_t i;

	ASSERT_OK(fd);
	do {
		l.count = XMEM_LIST_MAX;
		ASSERT_OK(ioctl(fd, XMEM_IOC_LIST, &l));
		for (i = 0; i < l.count; i++) {
			if (strcmp(ents[i].name, name))
				continue;
			found = true;
			if (users)
				*users = ents[i].users;
		}
	} while (l.count);
	close(fd);
	return found;
}

static bool region_listed(const char *name)
{
	return region_listed_users(name, NULL);
}

/*
 * SNAPSHOT with TEMP (what libxmem's XMEM_FORK=copy gives a child): the
 * copy is made by the appliance, bound to the calling file and to no
 * name, and lives exactly as long as that file and its duplicates: the
 * parent's close leaves it to the child that inherited the file; the
 * child's exit destroys it on the appliance.
 */
TEST_TIMEOUT(temp_copy_lives_with_its_file, 300)
{
	char a[XMEM_REGION_NAME_MAX], t[XMEM_REGION_NAME_MAX], node[128];
	uint64_t seed = xnow() * 1000 + 19, seed2 = seed + 1;
	int fd, tfd, fb, pfd[2], status;
	struct xstats s0, s1;
	struct xmem_snapshot s;
	double deadline;
	char c = 0, *p, *q;
	pid_t pid;

	xr_require_connected();
	xr_name(a, "temp-a");
	xr_name(t, "temp-t");
	fd = ATTACH_OK(a, REGION_SIZE, XMEM_ATTACH_CREATE | XMEM_ATTACH_EXCL,
		       NULL);
	p = MAP_OK(fd, 0, REGION_SIZE);
	xpat_fill(p, REGION_SIZE, 0, seed);
	ASSERT_OK(fsync(fd));

	/* The copy is the appliance's: no byte through this client. */
	tfd = open(XMEM_DEV, O_RDWR | O_CLOEXEC);
	ASSERT_OK(tfd);
	memset(&s, 0, sizeof(s));
	snprintf(s.src, sizeof(s.src), "%s", a);
	snprintf(s.dst, sizeof(s.dst), "%s", t);
	s.flags = XMEM_SNAPSHOT_TEMP | XMEM_SNAPSHOT_INTO;
	ASSERT_ERRNO(ioctl(tfd, XMEM_IOC_SNAPSHOT, &s), EINVAL);
	ASSERT_ZERO_ERR(xstats_read(&s0));
	s.flags = XMEM_SNAPSHOT_TEMP;
	ASSERT_OK(ioctl(tfd, XMEM_IOC_SNAPSHOT, &s));
	ASSERT_ZERO_ERR(xstats_read(&s1));
	ASSERT_EQ(s.size, REGION_SIZE);
	if (s1.v[XS_RDMA_READS] != s0.v[XS_RDMA_READS] ||
	    s1.v[XS_RDMA_WRITES] != s0.v[XS_RDMA_WRITES]) {
		xstats_diag(&s0, &s1);
		FAIL("region data went through the client");
	}
	/* Bound once; no node; ATTACH by name refused. */
	memset(&s, 0, sizeof(s));
	snprintf(s.src, sizeof(s.src), "%s", a);
	xr_name(s.dst, "temp-u");
	s.flags = XMEM_SNAPSHOT_TEMP;
	ASSERT_ERRNO(ioctl(tfd, XMEM_IOC_SNAPSHOT, &s), EBUSY);
	ASSERT_TRUE(!region_listed(s.dst));
	ASSERT_EQ(xr_attach(t, 0, 0, NULL), -EBUSY);
	snprintf(node, sizeof(node), "/dev/xmem.d/%s", t);
	ASSERT_ERRNO(access(node, F_OK), ENOENT);

	q = MAP_OK(tfd, 0, REGION_SIZE);
	ASSERT_PATTERN(q, REGION_SIZE, 0, seed);
	xpat_fill(q, REGION_SIZE, 0, seed2);
	ASSERT_PATTERN(p, REGION_SIZE, 0, seed);	/* the source's own */

	ASSERT_OK(pipe(pfd));
	pid = fork();
	ASSERT_OK(pid);
	if (!pid) {
		/* Wait until the parent has let go, then check and go. */
		close(pfd[1]);
		if (read(pfd[0], &c, 1) != 0)
			_exit(3);
		_exit(xpat_check(q, REGION_SIZE, 0, seed2, NULL) ? 1 : 0);
	}
	close(pfd[0]);
	ASSERT_OK(munmap(q, REGION_SIZE));
	ASSERT_OK(close(tfd));
	ASSERT_TRUE(region_listed(t));	/* the child has it */
	close(pfd[1]);			/* EOF: the child goes on */
	ASSERT_EQ(waitpid(pid, &status, 0), pid);
	if (!WIFEXITED(status) || WEXITSTATUS(status))
		FAIL("child: wait status %#x (1: copy lost the parent's writes)",
		     status);
	/* Destroyed by a work item of the module: bounded wait. */
	deadline = xnow() + 30;
	while (region_listed(t) && xnow() < deadline)
		usleep(50 * 1000);
	if (region_listed(t))
		FAIL("temporary copy %s still on the appliance 30 s after its last user", t);

	/* The source did not change; a new name works again. */
	ASSERT_PATTERN(p, REGION_SIZE, 0, seed);
	fb = ATTACH_OK(t, PAGE, XMEM_ATTACH_CREATE | XMEM_ATTACH_EXCL, NULL);
	ASSERT_OK(close(fb));
	ASSERT_ZERO_ERR(destroy(t));
	ASSERT_OK(munmap(p, REGION_SIZE));
	ASSERT_OK(close(fd));
	ASSERT_ZERO_ERR(destroy(a));
}

#define SSH_APPLIANCE	"ssh -o BatchMode=yes -o ConnectTimeout=20 appliance "
#define SMALL_PORT	7479
#define SMALL_CAPACITY	"12M"
#define SMALL_REGION	(8 * MiB)	/* its snapshot does not fit */
#define SMALL_PIDFILE	"/run/xmemd-snap-small.pid"
#define HOLD_FILE	"/run/xmemd-snap.hold"
#define HOLD_LOG	"/var/log/xmemd-snap-hold.log"

static char small_addr[96];

/*
 * A second xmemd on the appliance with SMALL_CAPACITY bytes and the
 * options @extra, logging to @log (truncated first), in the pool as @addr
 * (ADDR:SMALL_PORT); small_appliance_gone() undoes it.
 */
static void second_appliance(char *addr, const char *extra, const char *log)
{
	const char *a = xmod_appliance();
	const char *colon = a ? strrchr(a, ':') : NULL;
	char cmd[1024];

	if (!colon)
		FAIL("XMEM_APPLIANCE is not ADDR:PORT");
	snprintf(addr, 96, "%.*s:%d", (int)(colon - a), a, SMALL_PORT);
	snprintf(cmd, sizeof(cmd), SSH_APPLIANCE
		 "'setsid -f sh -c \"echo \\$\\$ >" SMALL_PIDFILE ";"
		 " exec /xmem/bin/xmemd --insecure -p %d -c " SMALL_CAPACITY
		 " %s\" </dev/null >%s 2>&1;"
		 " for i in $(seq 300); do"
		 " rdma resource show cm_id 2>/dev/null |"
		 " grep -q \"src-addr [^ ]*:%d \" && exit 0; sleep 0.1;"
		 " done; exit 1' </dev/null", SMALL_PORT, extra, log,
		 SMALL_PORT);
	if (system(cmd))
		FAIL("cannot start a second xmemd on the appliance");
	snprintf(small_addr, sizeof(small_addr), "%s", addr);
	ASSERT_ZERO_ERR(xsys_write("appliance_add", addr));
}

static void small_appliance(char *addr)
{
	second_appliance(addr, "", "/var/log/xmemd-snap-small.log");
}

/*
 * Placement back to fill-first, the second appliance (small or holding)
 * out and stopped, and its hold file gone.
 */
static void small_appliance_gone(void)
{
	int ret;

	if (!small_addr[0])
		return;
	xsys_write("placement", "fill-first");
	ret = xsys_write("appliance_remove", small_addr);
	if (ret)
		xt_diag("appliance_remove %s: %s", small_addr,
			xt_errname(-ret));
	if (system(SSH_APPLIANCE "'kill $(cat " SMALL_PIDFILE "); rm -f "
		   SMALL_PIDFILE " " HOLD_FILE "' </dev/null"))
		xt_diag("cannot stop the second xmemd");
	small_addr[0] = '\0';
}

/* Bad input: a specific errno, no region left behind, source unchanged. */
TEST_TIMEOUT(snapshot_bad_input, 300)
{
	char a[XMEM_REGION_NAME_MAX], b[XMEM_REGION_NAME_MAX];
	char big[XMEM_REGION_NAME_MAX], none[XMEM_REGION_NAME_MAX];
	uint64_t seed = xnow() * 1000 + 13;
	char small[96];
	int fd, fbig;
	char *p;

	xr_require_connected();
	xr_name(a, "snapbad-a");
	xr_name(b, "snapbad-b");
	xr_name(none, "snapbad-none");
	fd = ATTACH_OK(a, 1 * MiB, XMEM_ATTACH_CREATE | XMEM_ATTACH_EXCL,
		       NULL);
	p = MAP_OK(fd, 0, 1 * MiB);
	xpat_fill(p, 1 * MiB, 0, seed);
	ASSERT_OK(fsync(fd));
	ASSERT_OK(close(ATTACH_OK(b, 1 * MiB, XMEM_ATTACH_CREATE |
				  XMEM_ATTACH_EXCL, NULL)));

	ASSERT_EQ(snapshot(a, b, 0, NULL), -EEXIST);
	ASSERT_EQ(snapshot(none, b, 0, NULL), -ENOENT);
	ASSERT_EQ(snapshot(a, none, XMEM_SNAPSHOT_INTO, NULL), -ENOENT);
	ASSERT_EQ(snapshot(a, a, 0, NULL), -EINVAL);
	ASSERT_EQ(snapshot(a, "bad/name", 0, NULL), -EINVAL);
	ASSERT_EQ(snapshot(a, none, 0x80, NULL), -EINVAL);
	ASSERT_EQ(xr_attach(none, 0, 0, NULL), -ENOENT);

	/*
	 * A full appliance: a small xmemd of its own (pinning a region of
	 * half the test bed's appliance takes longer than a reply may).
	 */
	small_appliance(small);
	ASSERT_ZERO_ERR(xsys_write("placement", small));
	xr_name(big, "snapbad-big");
	fbig = ATTACH_OK(big, SMALL_REGION, XMEM_ATTACH_CREATE |
			 XMEM_ATTACH_EXCL, NULL);
	ASSERT_OK(close(fbig));
	ASSERT_EQ(snapshot(big, none, 0, NULL), -ENOSPC);
	ASSERT_EQ(xr_attach(none, 0, 0, NULL), -ENOENT);
	ASSERT_ZERO_ERR(destroy(big));
	small_appliance_gone();

	/* The source is untouched, and still works. */
	ASSERT_PATTERN(p, 1 * MiB, 0, seed);
	ASSERT_OK(munmap(p, 1 * MiB));
	ASSERT_OK(close(fd));
	ASSERT_ZERO_ERR(destroy(a));
	ASSERT_ZERO_ERR(destroy(b));
}

/* The appliance's count of connections that have @name attached. */
static uint32_t region_users(const char *name)
{
	uint32_t users;

	if (!region_listed_users(name, &users))
		FAIL("region %s is not listed", name);
	return users;
}

/* regions/NAME/appliance: the pool member holding region @name. */
static void region_appliance(const char *name, char *buf, size_t len)
{
	char attr[128];

	snprintf(attr, sizeof(attr), "regions/%s/appliance", name);
	ASSERT_ZERO_ERR(xsys_read(attr, buf, len));
}

/*
 * SNAPSHOT INTO a region on another appliance of the pool: that appliance
 * pulls the source from the source's appliance (PULL with DST), so no
 * byte goes through this client; into a target attached here (its
 * cached pages are dropped) and into one that is not (it is not left
 * attached), and a target too small is refused with nothing changed.
 */
TEST_TIMEOUT(snapshot_into_another_appliance, 300)
{
	char a[XMEM_REGION_NAME_MAX], b[XMEM_REGION_NAME_MAX];
	char c[XMEM_REGION_NAME_MAX], d[XMEM_REGION_NAME_MAX];
	char small[96], where[96];
	uint64_t seed = xnow() * 1000 + 17, size;
	struct xstats s0, s1;
	struct xmem_snapshot s;
	int fd, fb;
	char *p, *q;

	xr_require_connected();
	xr_name(a, "snapx-a");
	xr_name(b, "snapx-b");
	xr_name(c, "snapx-c");
	xr_name(d, "snapx-d");
	small_appliance(small);
	/* The source on the test bed's appliance (the first member) ... */
	fd = ATTACH_OK(a, 2 * MiB, XMEM_ATTACH_CREATE | XMEM_ATTACH_EXCL,
		       NULL);
	p = MAP_OK(fd, 0, 2 * MiB);
	xpat_fill(p, 2 * MiB, 0, seed);
	ASSERT_OK(fsync(fd));
	/* ... the targets on the second one. */
	ASSERT_ZERO_ERR(xsys_write("placement", small));
	fb = ATTACH_OK(b, 4 * MiB, XMEM_ATTACH_CREATE | XMEM_ATTACH_EXCL,
		       NULL);
	q = MAP_OK(fb, 0, 4 * MiB);
	memset(q, 0x5a, 4 * MiB);	/* cached here, then stale */
	ASSERT_OK(fsync(fb));
	ASSERT_OK(munmap(q, 4 * MiB));
	ASSERT_OK(close(fb));
	ASSERT_OK(close(ATTACH_OK(c, 2 * MiB, XMEM_ATTACH_CREATE |
				  XMEM_ATTACH_EXCL, NULL)));
	ASSERT_ZERO_ERR(region_op(XMEM_IOC_DETACH, c));
	ASSERT_OK(close(ATTACH_OK(d, 1 * MiB, XMEM_ATTACH_CREATE |
				  XMEM_ATTACH_EXCL, NULL)));
	ASSERT_ZERO_ERR(xsys_write("placement", "fill-first"));
	region_appliance(b, where, sizeof(where));
	ASSERT_TRUE(!strcmp(where, small));
	region_appliance(a, where, sizeof(where));
	ASSERT_TRUE(strcmp(where, small));
	ASSERT_EQ(region_users(c), 0);

	ASSERT_ZERO_ERR(xstats_read(&s0));
	ASSERT_ZERO_ERR(snapshot(a, b, XMEM_SNAPSHOT_INTO, &s));
	ASSERT_EQ(s.size, 2 * MiB);
	ASSERT_ZERO_ERR(snapshot(a, c, XMEM_SNAPSHOT_INTO, NULL));
	ASSERT_EQ(snapshot(a, d, XMEM_SNAPSHOT_INTO, NULL), -EINVAL);
	ASSERT_ZERO_ERR(xstats_read(&s1));
	xt_diag("copy of 2 MiB to another appliance: %.3f ms in all, writers held %.3f ms",
		s.total_ns / 1e6, s.hold_ns / 1e6);
	if (s1.v[XS_RDMA_READS] != s0.v[XS_RDMA_READS] ||
	    s1.v[XS_RDMA_WRITES] != s0.v[XS_RDMA_WRITES]) {
		xstats_diag(&s0, &s1);
		FAIL("region data went through the client");
	}

	/* b: the source's bytes, then what it held before (0x5a). */
	q = map_existing(b, &fb, &size);
	ASSERT_EQ(size, 4 * MiB);
	ASSERT_PATTERN(q, 2 * MiB, 0, seed);
	ASSERT_EQ(q[2 * MiB], 0x5a);
	ASSERT_EQ(q[4 * MiB - 1], 0x5a);
	ASSERT_OK(munmap(q, size));
	ASSERT_OK(close(fb));
	/* c was not attached here: the copy did not leave it attached. */
	ASSERT_EQ(region_users(c), 0);
	q = map_existing(c, &fb, &size);
	ASSERT_PATTERN(q, 2 * MiB, 0, seed);
	ASSERT_OK(munmap(q, size));
	ASSERT_OK(close(fb));
	/* The source is untouched. */
	ASSERT_PATTERN(p, 2 * MiB, 0, seed);
	ASSERT_OK(munmap(p, 2 * MiB));
	ASSERT_OK(close(fd));
	ASSERT_ZERO_ERR(destroy(a));
	ASSERT_ZERO_ERR(destroy(b));
	ASSERT_ZERO_ERR(destroy(c));
	ASSERT_ZERO_ERR(destroy(d));
	small_appliance_gone();
}

struct hold_race {
	char *p;		/* the region's mapping */
	const char *src, *dst;
	atomic_int snap_done, write_done, map_go, map_done;
	atomic_int tid;
	int snap_ret;
};

static void *hold_snapper(void *arg)
{
	struct hold_race *h = arg;

	h->snap_ret = snapshot(h->src, h->dst, 0, NULL);
	atomic_store(&h->snap_done, 1);
	return NULL;
}

static void *hold_writer(void *arg)
{
	struct hold_race *h = arg;

	atomic_store(&h->tid, (int)gettid());
	*(volatile uint64_t *)h->p = 0x5eed5eed5eed5eedull;
	atomic_store(&h->write_done, 1);
	return NULL;
}

/*
 * What another thread of a process does that needs its mmap lock, when
 * told to: the thread exists before the writer waits (creating it maps
 * its stack, which needs the lock too).
 */
static void *hold_mapper(void *arg)
{
	const struct timespec tick = { .tv_nsec = 1000 * 1000 };
	struct hold_race *h = arg;
	void *q;

	while (!atomic_load(&h->map_go))
		nanosleep(&tick, NULL);
	q = mmap(NULL, PAGE, PROT_READ | PROT_WRITE,
		 MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (q != MAP_FAILED)
		munmap(q, PAGE);
	atomic_store(&h->map_done, 1);
	return NULL;
}

/*
 * A child, forked before any write waits for the hold, that removes
 * HOLD_FILE on the appliance when told to through @fd[1]: once a writer
 * waits for the hold under the mmap lock (the defect tested), fork()
 * (which copies the address space under that lock) and even a vfork()ed
 * child's exec (which read-locks the parent's mm behind the waiting
 * mmap()) wait until the copy ends, which would be never.
 */
static pid_t hold_releaser(int fd[2])
{
	pid_t pid;
	char c;

	if (pipe(fd))
		FAIL("pipe: %s", xt_errname(errno));
	pid = fork();
	if (pid < 0)
		FAIL("fork: %s", xt_errname(errno));
	if (!pid) {
		close(fd[1]);
		if (read(fd[0], &c, 1) != 1)
			_exit(1);
		execlp("ssh", "ssh", "-o", "BatchMode=yes", "-o",
		       "ConnectTimeout=20", "appliance", "rm -f " HOLD_FILE,
		       (char *)NULL);
		_exit(127);
	}
	close(fd[0]);
	return pid;
}

/* Tells the releaser to go; 0 once it removed HOLD_FILE. */
static int release_hold(pid_t pid, int fd)
{
	int st;

	if (write(fd, "x", 1) != 1)
		return -1;
	close(fd);
	if (waitpid(pid, &st, 0) != pid)
		return -1;
	return WIFEXITED(st) && !WEXITSTATUS(st) ? 0 : -1;
}

/* Waits up to @secs for *@flag, polling; returns whether it was set. */
static bool wait_flag(atomic_int *flag, int secs)
{
	const struct timespec tick = { .tv_nsec = 10 * 1000 * 1000 };
	int i;

	for (i = 0; i < secs * 100 && !atomic_load(flag); i++)
		nanosleep(&tick, NULL);
	return atomic_load(flag);
}

/*
 * The state letter of thread @tid of this process ('D', 'S', ...).  With
 * open() and read() into the stack: no allocation, which could need the
 * mmap lock (brk) while the old module kept it.
 */
static char task_state(int tid)
{
	char path[64], buf[512], *e, st = '?';
	ssize_t n;
	int fd;

	snprintf(path, sizeof(path), "/proc/self/task/%d/stat", tid);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return st;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return st;
	buf[n] = '\0';
	e = strrchr(buf, ')');
	if (e && e[1] == ' ')
		st = e[2];
	return st;
}

/*
 * A write to a region held by a snapshot waits for the hold without the
 * mmap lock: while the appliance's copy is held (xmemd --debug-hold), the
 * writer waits, another thread of the process maps and unmaps memory, and
 * once the copy is released the write lands in the live region and not
 * in the snapshot.  Before the fix the writer waited in ->pfn_mkwrite
 * holding the mmap lock, and the other thread's mmap() (and any fork())
 * waited as long as the appliance held the copy.
 */
TEST_TIMEOUT(snapshot_writer_waits_without_mmap_lock, 300)
{
	char a[XMEM_REGION_NAME_MAX], b[XMEM_REGION_NAME_MAX];
	uint64_t seed = xnow() * 1000 + 17, size;
	pthread_t ts, tw, tm;
	struct hold_race h;
	char addr[96];
	const struct timespec tick = { .tv_nsec = 10 * 1000 * 1000 };
	bool mapped, blocked = false, write_early, writer_waited;
	int fd, fb, i, rfd[2];
	pid_t releaser;
	char *q;

	xr_require_connected();
	second_appliance(addr, "--debug-hold " HOLD_FILE, HOLD_LOG);
	ASSERT_ZERO_ERR(xsys_write("placement", addr));
	xr_name(a, "snaphold-a");
	xr_name(b, "snaphold-b");
	fd = ATTACH_OK(a, 1 * MiB, XMEM_ATTACH_CREATE | XMEM_ATTACH_EXCL,
		       NULL);
	memset(&h, 0, sizeof(h));
	h.p = MAP_OK(fd, 0, 1 * MiB);
	h.src = a;
	h.dst = b;
	xpat_fill(h.p, 1 * MiB, 0, seed);
	/* Clean, mapped read-only: the write goes to ->pfn_mkwrite. */
	ASSERT_OK(fsync(fd));
	ASSERT_PATTERN(h.p, PAGE, 0, seed);

	if (system(SSH_APPLIANCE "touch " HOLD_FILE " </dev/null"))
		FAIL("cannot create %s on the appliance", HOLD_FILE);
	ASSERT_OK(pthread_create(&ts, NULL, hold_snapper, &h));
	/* The appliance holds the copy: the client holds the writers. */
	if (system(SSH_APPLIANCE "'for i in $(seq 600); do"
		   " grep -q \"held while\" " HOLD_LOG " && exit 0;"
		   " sleep 0.1; done; exit 1' </dev/null"))
		FAIL("the appliance never held the snapshot's copy (%s)",
		     atomic_load(&h.snap_done) ? "it ended" : "it runs");

	/*
	 * From here until the hold is released, this thread neither
	 * allocates nor forks: on the old module either would wait for the
	 * mmap lock, i.e. for the release.
	 */
	releaser = hold_releaser(rfd);
	ASSERT_OK(pthread_create(&tm, NULL, hold_mapper, &h));
	ASSERT_OK(pthread_create(&tw, NULL, hold_writer, &h));
	/* The writer sleeps in the fault (D: killable), not done. */
	for (i = 0; i < 3000 && !blocked && !atomic_load(&h.write_done);
	     i++) {
		int tid = atomic_load(&h.tid);

		blocked = tid && task_state(tid) == 'D';
		if (!blocked)
			nanosleep(&tick, NULL);
	}
	write_early = atomic_load(&h.write_done);
	atomic_store(&h.map_go, 1);
	mapped = blocked && wait_flag(&h.map_done, 20);
	writer_waited = !atomic_load(&h.write_done);
	if (release_hold(releaser, rfd[1]))
		FAIL("cannot remove %s on the appliance", HOLD_FILE);
	xt_diag("while the copy was held: writer %s, mmap in another thread %s",
		blocked ? "waited" : write_early ? "did not wait" : "not seen",
		mapped ? "done" : "still waiting after 20 s");
	ASSERT_TRUE(blocked);
	ASSERT_TRUE(writer_waited);
	ASSERT_OK(pthread_join(ts, NULL));
	ASSERT_OK(pthread_join(tw, NULL));
	ASSERT_OK(pthread_join(tm, NULL));
	ASSERT_ZERO_ERR(h.snap_ret);
	ASSERT_TRUE(mapped);

	/* The write is in the live region, not in the snapshot. */
	ASSERT_EQ(*(volatile uint64_t *)h.p, 0x5eed5eed5eed5eedull);
	ASSERT_OK(fsync(fd));
	q = map_existing(b, &fb, &size);
	ASSERT_EQ(size, 1 * MiB);
	ASSERT_PATTERN(q, 1 * MiB, 0, seed);
	ASSERT_OK(munmap(q, size));
	ASSERT_OK(close(fb));
	ASSERT_OK(munmap(h.p, 1 * MiB));
	ASSERT_OK(close(fd));
	ASSERT_ZERO_ERR(destroy(a));
	ASSERT_ZERO_ERR(destroy(b));
	small_appliance_gone();
}

int main(int argc, char **argv)
{
	xt_after_each(small_appliance_gone);
	return xt_main(argc, argv);
}
