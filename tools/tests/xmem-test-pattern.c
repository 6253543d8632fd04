// SPDX-License-Identifier: GPL-2.0
/*
 * Data survives eviction: a region four times the size of the local cache
 * is written and read back word by word, so every page travels to the
 * appliance (dirty eviction) and back (fault, RDMA READ) at least once.
 */
#define _GNU_SOURCE
#include <inttypes.h>
#include <stdlib.h>
#include <unistd.h>

#include "xsys.h"
#include "xtest.h"

/*
 * The cache size (XMEM_TEST_LIMIT, default 4 MiB) and a region four times
 * as large: every page goes out and comes back at least once.
 */
#define DEFAULT_LIMIT	(4 * MiB)

TEST_TIMEOUT(write_verify_4x_limit, 600)
{
	struct xstats before, after;
	uint64_t seed = xnow() * 1000, limit, size, cur, max_resident = 0, r;
	char name[XMEM_REGION_NAME_MAX];
	double t0, t1, t2;
	uint64_t off;
	char *p;
	int fd;

	xr_require_connected();
	limit = xenv_size("XMEM_TEST_LIMIT", DEFAULT_LIMIT);
	size = 4 * limit;
	ASSERT_ZERO_ERR(xsys_write_u64("local_limit", limit));
	ASSERT_ZERO_ERR(xsys_read_u64("local_limit", &cur));
	ASSERT_EQ(cur, limit);

	xr_name(name, "pattern");
	fd = ATTACH_OK(name, size, XMEM_ATTACH_CREATE | XMEM_ATTACH_EXCL,
		       NULL);
	p = MAP_OK(fd, 0, size);
	ASSERT_ZERO_ERR(xstats_read(&before));

	t0 = xnow();
	for (off = 0; off < size; off += limit / 4) {
		xpat_fill(p + off, limit / 4, off, seed);
		if (!xsys_read_u64("stats/resident_bytes", &r) &&
		    r > max_resident)
			max_resident = r;
	}
	t1 = xnow();
	ASSERT_PATTERN(p, size, 0, seed);
	t2 = xnow();

	ASSERT_ZERO_ERR(xstats_read(&after));
	xt_diag("region %s: %" PRIu64 " KiB, local_limit %" PRIu64
		" KiB, seed %" PRIu64, name, size / KiB, limit / KiB, seed);
	xt_diag("write %.2f s, verify %.2f s, max resident sampled %" PRIu64,
		t1 - t0, t2 - t1, max_resident);
	xstats_diag(&before, &after);

	ASSERT_GT(after.v[XS_EVICTIONS_DIRTY], before.v[XS_EVICTIONS_DIRTY]);
	ASSERT_GT(after.v[XS_RDMA_WRITES], before.v[XS_RDMA_WRITES]);
	ASSERT_LE(after.v[XS_RESIDENT_BYTES], limit);
	ASSERT_EQ(after.v[XS_WRITEBACK_ERRORS], before.v[XS_WRITEBACK_ERRORS]);

	/* Leave nothing dirty behind for the tests that follow. */
	ASSERT_OK(msync(p, size, MS_SYNC));
	ASSERT_OK(munmap(p, size));
	ASSERT_OK(close(fd));
}

int main(int argc, char **argv)
{
	xsys_save_limit();
	xt_after_each(xsys_restore_limit);
	return xt_main(argc, argv);
}
