// SPDX-License-Identifier: GPL-2.0
/*
 * msync(MS_SYNC) and fsync() make data visible to another client: client1
 * writes a region and syncs it, keeping it mapped, and client2 (over ssh)
 * attaches the same region and checks every word.
 *
 *	xmem-test-msync [TEST...]		the tests, on client1
 *	xmem-test-msync verify NAME SEED [LEN]	the check, on client2, of
 *						the first LEN bytes
 *
 * client2 must be reachable as "client2" by ssh without a prompt.  Without
 * it the tests are skipped, unless XMEM_CLIENTS >= 2 says the test bed has
 * one: then they fail (and the reachability check is skipped).
 */
#define _GNU_SOURCE
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "xsys.h"
#include "xpeer.h"
#include "xtest.h"

#define REGION_SIZE	(2 * MiB)

static void sync_then_peer_reads(int use_fsync)
{
	uint64_t seed = xnow() * 1000 + 2;
	char name[XMEM_REGION_NAME_MAX];
	int fd, status;
	char *p;

	xr_require_connected();
	require_peer();

	xr_name(name, use_fsync ? "fsync" : "msync");
	fd = ATTACH_OK(name, REGION_SIZE, XMEM_ATTACH_CREATE | XMEM_ATTACH_EXCL,
		       NULL);
	p = MAP_OK(fd, 0, REGION_SIZE);
	xpat_fill(p, REGION_SIZE, 0, seed);
	if (use_fsync)
		ASSERT_OK(fsync(fd));
	else
		ASSERT_OK(msync(p, REGION_SIZE, MS_SYNC));

	/* Still mapped and open: only the sync may have carried the data. */
	status = verify_on_peer(name, seed, 0);
	if (status)
		FAIL("verifier on %s: wait status %#x", PEER, status);
	ASSERT_PATTERN(p, REGION_SIZE, 0, seed);
	ASSERT_OK(munmap(p, REGION_SIZE));
	ASSERT_OK(close(fd));
}

TEST_TIMEOUT(msync_second_client, 300)
{
	sync_then_peer_reads(0);
}

TEST_TIMEOUT(fsync_second_client, 300)
{
	sync_then_peer_reads(1);
}

/*
 * Issue 12, defect 2: fsync() under concurrent eviction.  A child writes
 * most of the region over and over, through a cache much smaller than it,
 * so that the evictor writes back the synced range's pages while fsync()
 * runs.  After each fsync() that returned 0, client2 reads the synced
 * range from the appliance and must find every word written before it.
 * (Before sync waited for write-backs in flight, an fsync could return
 * while an eviction's RDMA WRITE of the range was still under way.  This
 * test did not catch that: the write lands milliseconds later, long before
 * client2 reads.  KUnit's xmem_pager_test_sync_waits_writeback does, and
 * xmem-test-durable, which holds write-backs in flight for seconds with
 * the debug_wb_delay_ms test knob.)  So a few rounds: each costs a
 * verifier's run on client2, about 5 s on an idle test bed and three
 * times that on the debug kernel.
 */
#define FSYNC_ROUNDS	4
#define SYNCED		(512 * KiB)

TEST_TIMEOUT(fsync_during_eviction, 900)
{
	uint64_t seed = xnow() * 1000 + 3, size = 8 * MiB;
	char name[XMEM_REGION_NAME_MAX];
	int fd, status, stop[2], i;
	pid_t pid;
	char *p;

	xr_require_connected();
	require_peer();
	ASSERT_ZERO_ERR(xsys_write_u64("local_limit", MiB));
	xr_name(name, "fsyncev");
	fd = ATTACH_OK(name, size, XMEM_ATTACH_CREATE | XMEM_ATTACH_EXCL,
		       NULL);
	p = MAP_OK(fd, 0, size);
	ASSERT_OK(pipe(stop));
	fflush(NULL);
	pid = fork();
	if (pid < 0)
		FAIL("fork: %s", xt_errname(errno));
	if (!pid)
		_exit(xpat_toucher(p + SYNCED, size - SYNCED, seed + 1000,
				   stop[0]));
	for (i = 0; i < FSYNC_ROUNDS; i++) {
		xpat_fill(p, SYNCED, 0, seed + i);
		if (fsync(fd))
			FAIL("round %d: fsync: %s", i, xt_errname(errno));
		status = verify_on_peer(name, seed + i, SYNCED);
		if (status)
			FAIL("round %d: fsync returned 0, but %s did not find "
			     "the synced data (wait status %#x)", i, PEER,
			     status);
	}
	ASSERT_EQ(write(stop[1], "x", 1), 1);
	ASSERT_EQ(waitpid(pid, &status, 0), pid);
	ASSERT_EQ(status, 0);
	ASSERT_OK(munmap(p, size));
	ASSERT_OK(close(fd));
}

/*
 * Attach NAME at its size and check the pattern of its first @len_str
 * bytes (all if NULL or 0), from the appliance: whatever this client had
 * cached of the region is dropped first.  Exit 0 iff it matches.
 */
static int verify(const char *name, const char *seed_str, const char *len_str)
{
	uint64_t seed = strtoull(seed_str, NULL, 10);
	uint64_t len = len_str ? strtoull(len_str, NULL, 10) : 0;
	struct xstats before, after;
	struct xmem_attach at;
	struct xpat_err err;
	int fd;
	char *p;

	if (xstats_read(&before))
		memset(&before, 0, sizeof(before));
	fd = xr_attach(name, 0, 0, &at);
	if (fd < 0) {
		printf("# attach %s: %s\n", name, xt_errname(-fd));
		return 1;
	}
	if (!len || len > at.size)
		len = at.size;
	xr_drop_cache(fd);
	p = xr_map(fd, 0, at.size);
	if (p == MAP_FAILED) {
		printf("# mmap %llu bytes: %s\n", (unsigned long long)at.size,
		       xt_errname(errno));
		return 1;
	}
	if (xpat_check(p, len, 0, seed, &err)) {
		printf("# %s: %llu of %llu words wrong, first at %#llx: "
		       "want %#llx got %#llx\n", name,
		       (unsigned long long)err.count,
		       (unsigned long long)len / 8,
		       (unsigned long long)err.first,
		       (unsigned long long)err.want,
		       (unsigned long long)err.got);
		return 1;
	}
	if (!xstats_read(&after))
		printf("# %s: %llu bytes verified, %llu RDMA reads\n", name,
		       (unsigned long long)len,
		       (unsigned long long)(after.v[XS_RDMA_READS] -
					    before.v[XS_RDMA_READS]));
	munmap(p, at.size);
	close(fd);
	return 0;
}

int main(int argc, char **argv)
{
	if (argc >= 2 && !strcmp(argv[1], "verify")) {
		if (argc != 4 && argc != 5) {
			fprintf(stderr, "usage: %s verify NAME SEED [LEN]\n",
				argv[0]);
			return 2;
		}
		return verify(argv[2], argv[3], argc == 5 ? argv[4] : NULL);
	}
	xsys_save_limit();
	xt_after_each(xsys_restore_limit);
	return xt_main(argc, argv);
}
