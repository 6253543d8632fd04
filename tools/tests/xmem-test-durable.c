// SPDX-License-Identifier: GPL-2.0
/*
 * fsync() durability under concurrent eviction (issue 12, defect 2): an
 * fsync() that returns 0 while an eviction's write-back of the synced range
 * is still in flight has not made the data durable.  A writer (this
 * process) fills a small range and calls fsync() while a reader (a child)
 * pushes that range out of a cache much smaller than the region; the test
 * knob debug_wb_delay_ms keeps the eviction's RDMA WRITE in flight for
 * seconds, and the writer calls fsync() once the whole range is in
 * write-back.  After each fsync() that returned 0, client2 attaches the
 * region and reads the range from the appliance: it must find every word.
 *
 * Needs a second client ("client2" over ssh, XMEM_CLIENTS >= 2); its
 * check is xmem-test-msync's "verify".
 */
#define _GNU_SOURCE
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "xsys.h"
#include "xpeer.h"
#include "xtest.h"

#define KNOB		"/sys/module/xmem/parameters/debug_wb_delay_ms"
/* Long enough that client2 reads before a delayed write lands. */
#define DELAY_MS	5000
#define ROUNDS		1
#define SYNCED		(64 * KiB)
#define REGION_SIZE	(4 * MiB)
#define LIMIT		MiB
#define EVICT_MS	(120 * 1000)

static int knob_write(unsigned int ms)
{
	FILE *f = fopen(KNOB, "w");
	int ret;

	if (!f)
		return -errno;
	ret = fprintf(f, "%u\n", ms) < 0 ? -EIO : 0;
	if (fclose(f) && !ret)
		ret = -errno;
	return ret;
}

/* After every test: write-backs are not delayed any more. */
static void knob_off(void)
{
	if (knob_write(0))
		printf("# after test: cannot clear %s\n", KNOB);
}

/* Child: read one byte of each page of @p, over and over, until killed. */
static void reader(const volatile char *p, size_t len)
{
	size_t off;
	char sum = 0;

	for (;;)
		for (off = 0; off < len; off += 4096)
			sum += p[off];
}

static uint64_t region_dirty(const char *name)
{
	char attr[128];
	uint64_t v;
	int err;

	snprintf(attr, sizeof(attr), "regions/%s/dirty_bytes", name);
	err = xsys_read_u64(attr, &v);
	if (err)
		FAIL("read %s: %s", attr, xt_errname(-err));
	return v;
}

TEST_TIMEOUT(fsync_waits_for_eviction_writeback, 600)
{
	uint64_t seed = xnow() * 1000 + 5;
	double t0, t1, t2;
	char name[XMEM_REGION_NAME_MAX];
	char attr[128];
	int fd, status, i, err;
	double until;
	pid_t pid;
	char *p;

	xr_require_connected();
	require_peer();
	if (access(KNOB, W_OK))
		FAIL("%s: %s (module without the test knob?)", KNOB,
		     xt_errname(errno));
	xr_name(name, "durable");
	fd = ATTACH_OK(name, REGION_SIZE,
		       XMEM_ATTACH_CREATE | XMEM_ATTACH_EXCL, NULL);
	/*
	 * The region's own limit, not the device's: with the device's limit
	 * at 1 MiB, the pages earlier tests left in the cache kept it above
	 * the limit, and reclaim took some of the range written before it
	 * could be checked (seen on 6.1: "the range written is not dirty").
	 */
	snprintf(attr, sizeof(attr), "regions/%s/local_limit", name);
	ASSERT_ZERO_ERR(xsys_write_u64(attr, LIMIT));
	p = MAP_OK(fd, 0, REGION_SIZE);

	for (i = 0; i < ROUNDS; i++) {
		ASSERT_ZERO_ERR(knob_write(0));
		xpat_fill(p, SYNCED, 0, seed + i);
		if (region_dirty(name) < SYNCED)
			FAIL("round %d: the range written is not dirty", i);
		ASSERT_ZERO_ERR(knob_write(DELAY_MS));
		fflush(NULL);
		pid = fork();
		if (pid < 0)
			FAIL("fork: %s", xt_errname(errno));
		if (!pid)
			reader(p + SYNCED, REGION_SIZE - SYNCED);

		/* Wait until the eviction has taken all of it into write-back. */
		t0 = xnow();
		until = t0 + EVICT_MS / 1000.0;
		while (region_dirty(name)) {
			if (xnow() > until) {
				kill(pid, SIGKILL);
				waitpid(pid, NULL, 0);
				FAIL("round %d: the range written was not evicted in %d s",
				     i, EVICT_MS / 1000);
			}
			usleep(2000);
		}
		t1 = xnow();
		err = fsync(fd) ? errno : 0;
		t2 = xnow();
		ASSERT_ZERO_ERR(knob_write(0));
		/*
		 * The reader lives on until client2 has read: a signal cuts
		 * the delay of a write-back it may be doing short.
		 */
		xt_diag("round %d: range in write-back after %.1f s, fsync took %.1f s",
			i, t1 - t0, t2 - t1);
		status = err ? 0 : verify_on_peer(name, seed + i, SYNCED);
		kill(pid, SIGKILL);
		ASSERT_EQ(waitpid(pid, NULL, 0), pid);
		if (err)
			FAIL("round %d: fsync: %s", i, xt_errname(err));
		if (status)
			FAIL("round %d: fsync returned 0, but %s did not find the synced data on the appliance (wait status %#x)",
			     i, PEER, status);
	}
	ASSERT_OK(munmap(p, REGION_SIZE));
	ASSERT_OK(close(fd));
}

int main(int argc, char **argv)
{
	xt_after_each(knob_off);
	return xt_main(argc, argv);
}
