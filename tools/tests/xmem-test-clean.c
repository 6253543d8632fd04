// SPDX-License-Identifier: GPL-2.0
/*
 * Clean pages are never written back: once a region is stored on the
 * appliance, reading it through a cache a quarter of its size evicts only
 * clean pages, and not a single RDMA WRITE goes out.
 */
#define _GNU_SOURCE
#include <inttypes.h>
#include <stdlib.h>
#include <unistd.h>

#include "xsys.h"
#include "xtest.h"

/*
 * The cache size (XMEM_TEST_LIMIT, default 2 MiB) and a region four times
 * as large: every page goes out and comes back at least once.
 */
#define DEFAULT_LIMIT	(2 * MiB)

TEST_TIMEOUT(clean_no_write, 600)
{
	uint64_t seed = xnow() * 1000 + 1, limit, size;
	char name[XMEM_REGION_NAME_MAX];
	struct xstats before, after;
	struct xmem_attach at;
	double t0;
	char *p;
	int fd;

	xr_require_connected();
	limit = xenv_size("XMEM_TEST_LIMIT", DEFAULT_LIMIT);
	size = 4 * limit;
	ASSERT_ZERO_ERR(xsys_write_u64("local_limit", limit));

	/* Write the region and store it on the appliance. */
	xr_name(name, "clean");
	fd = ATTACH_OK(name, size, XMEM_ATTACH_CREATE | XMEM_ATTACH_EXCL,
		       NULL);
	p = MAP_OK(fd, 0, size);
	xpat_fill(p, size, 0, seed);
	ASSERT_OK(msync(p, size, MS_SYNC));
	ASSERT_OK(munmap(p, size));
	ASSERT_OK(close(fd));

	/*
	 * Nothing of anyone may be dirty now, or its eviction below would
	 * be an RDMA WRITE that is not ours to blame.
	 */
	ASSERT_ZERO_ERR(xstats_read(&before));
	if (before.v[XS_DIRTY_BYTES])
		FAIL("precondition: %llu dirty bytes cached (an earlier test "
		     "did not sync?)",
		     (unsigned long long)before.v[XS_DIRTY_BYTES]);

	/* Read all of it through a fresh, writable mapping. */
	fd = ATTACH_OK(name, 0, 0, &at);
	ASSERT_EQ(at.size, size);
	p = MAP_OK(fd, 0, size);
	t0 = xnow();
	ASSERT_PATTERN(p, size, 0, seed);
	ASSERT_ZERO_ERR(xstats_read(&after));
	xt_diag("read %" PRIu64 " KiB in %.2f s through a %" PRIu64 " KiB cache",
		size / KiB, xnow() - t0, limit / KiB);
	xstats_diag(&before, &after);

	ASSERT_GT(after.v[XS_EVICTIONS_CLEAN], before.v[XS_EVICTIONS_CLEAN]);
	ASSERT_GT(after.v[XS_RDMA_READS], before.v[XS_RDMA_READS]);
	ASSERT_EQ(after.v[XS_EVICTIONS_DIRTY], before.v[XS_EVICTIONS_DIRTY]);
	ASSERT_EQ(after.v[XS_RDMA_WRITES], before.v[XS_RDMA_WRITES]);
	ASSERT_EQ(after.v[XS_BYTES_WRITTEN], before.v[XS_BYTES_WRITTEN]);
	ASSERT_EQ(after.v[XS_DIRTY_BYTES], 0);
	ASSERT_LE(after.v[XS_RESIDENT_BYTES], limit);

	ASSERT_OK(munmap(p, size));
	ASSERT_OK(close(fd));
}

int main(int argc, char **argv)
{
	xsys_save_limit();
	xt_after_each(xsys_restore_limit);
	return xt_main(argc, argv);
}
