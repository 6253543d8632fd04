// SPDX-License-Identifier: GPL-2.0
/*
 * A working set eight times the local limit, under random reads and
 * writes, keeps every byte (issue 3, "Done when").
 *
 * Random pages (fixed seed, XMEM_TEST_SEED overrides) of a region 8x the
 * limit are read or, half of the time, partly rewritten; a shadow copy in
 * anonymous memory says what each page must hold, and every read checks
 * the whole page against it.  The whole region is checked at the end, once
 * after msync(), and once more after it was evicted from the local cache
 * entirely, so that every page comes from the appliance.
 */
#define _GNU_SOURCE
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include "xsys.h"
#include "xtest.h"

#define DEFAULT_LIMIT	(2 * MiB)	/* XMEM_TEST_LIMIT overrides */
#define PAGE		4096u
#define WORDS		(PAGE / 8)
#define OPS_PER_PAGE	1	/* random operations per page of the region */
#define WORDS_PER_WRITE	8

/* xorshift64*: the same sequence on every run with the same seed. */
static uint64_t rnd(uint64_t *s)
{
	*s ^= *s >> 12;
	*s ^= *s << 25;
	*s ^= *s >> 27;
	return *s * 0x2545f4914f6cdd1dull;
}

/* Fails the test unless page @pg of @map equals the shadow's. */
static void check_page(const volatile uint64_t *map, const uint64_t *shadow,
		       uint64_t pg, const char *when, uint64_t op)
{
	uint64_t k, bad = 0, first = 0;

	for (k = pg * WORDS; k < (pg + 1) * WORDS; k++)
		if (map[k] != shadow[k] && !bad++)
			first = k;
	if (bad)
		FAIL("%s (op %" PRIu64 "): page %" PRIu64 ": %" PRIu64
		     " words wrong, first word %" PRIu64 ": want %#" PRIx64
		     " got %#" PRIx64, when, op, pg, bad, first % WORDS,
		     shadow[first], map[first]);
}

static void check_all(const volatile uint64_t *map, const uint64_t *shadow,
		      uint64_t npages, const char *when)
{
	uint64_t pg;

	for (pg = 0; pg < npages; pg++)
		check_page(map, shadow, pg, when, 0);
}

TEST_TIMEOUT(random_rw_8x_limit, 600)
{
	uint64_t limit, size, npages, nops, op, pg, r, k, writes = 0;
	uint64_t seed = xenv_size("XMEM_TEST_SEED", 0x3178ed), s;
	char name[XMEM_REGION_NAME_MAX];
	struct xstats before, mid, after;
	struct xmem_region_info ri;
	volatile uint64_t *map;
	uint64_t *shadow;
	double t0, t1, t2, t3;
	int fd;

	xr_require_connected();
	limit = xenv_size("XMEM_TEST_LIMIT", DEFAULT_LIMIT);
	size = 8 * limit;
	npages = size / PAGE;
	nops = OPS_PER_PAGE * npages;
	ASSERT_ZERO_ERR(xsys_write_u64("local_limit", limit));

	xr_name(name, "mixed");
	fd = ATTACH_OK(name, size, XMEM_ATTACH_CREATE | XMEM_ATTACH_EXCL,
		       NULL);
	map = MAP_OK(fd, 0, size);
	/* A new region reads as zeros: the shadow starts so. */
	shadow = calloc(1, size);
	if (!shadow)
		FAIL("calloc %" PRIu64 " bytes", size);
	ASSERT_ZERO_ERR(xstats_read(&before));

	s = seed ? seed : 1;
	t0 = xnow();
	for (op = 1; op <= nops; op++) {
		r = rnd(&s);
		pg = r % npages;
		if ((r >> 32) & 1) {
			check_page(map, shadow, pg, "random read", op);
			continue;
		}
		writes++;
		for (k = 0; k < WORDS_PER_WRITE; k++) {
			uint64_t w = pg * WORDS + rnd(&s) % WORDS;

			shadow[w] = rnd(&s);
			map[w] = shadow[w];
		}
	}
	t1 = xnow();
	ASSERT_ZERO_ERR(xstats_read(&mid));

	ASSERT_OK(msync((void *)map, size, MS_SYNC));
	check_all(map, shadow, npages, "after msync");
	t2 = xnow();

	ASSERT_OK(msync((void *)map, size, MS_SYNC));
	xr_drop_cache(fd);
	xr_info(fd, &ri);
	ASSERT_EQ(ri.resident_bytes, 0);
	ASSERT_ZERO_ERR(xstats_read(&after));
	check_all(map, shadow, npages, "from the appliance");
	t3 = xnow();
	xt_diag("region %s: %" PRIu64 " KiB, local_limit %" PRIu64 " KiB, "
		"seed %#" PRIx64, name, size / KiB, limit / KiB, seed);
	xt_diag("%" PRIu64 " random operations (%" PRIu64 " writes) %.1f s, "
		"check after msync %.1f s, check from the appliance %.1f s",
		nops, writes, t1 - t0, t2 - t1, t3 - t2);
	xstats_diag(&before, &mid);

	/* Half writes, of a working set that cannot fit: both directions. */
	ASSERT_GE(writes, nops / 2 - nops / 10);
	ASSERT_LE(writes, nops / 2 + nops / 10);
	ASSERT_GE(mid.v[XS_EVICTIONS_DIRTY] - before.v[XS_EVICTIONS_DIRTY],
		  npages / 8);
	ASSERT_GE(mid.v[XS_EVICTIONS_CLEAN] - before.v[XS_EVICTIONS_CLEAN],
		  npages / 8);
	ASSERT_GE(mid.v[XS_RDMA_READS] - before.v[XS_RDMA_READS], npages / 2);
	ASSERT_EQ(mid.v[XS_WRITEBACK_ERRORS], before.v[XS_WRITEBACK_ERRORS]);
	ASSERT_LE(mid.v[XS_RESIDENT_BYTES], limit);
	/* The last check read every page from the appliance. */
	ASSERT_ZERO_ERR(xstats_read(&mid));
	ASSERT_GE(mid.v[XS_RDMA_READS] - after.v[XS_RDMA_READS], npages);

	ASSERT_OK(munmap((void *)map, size));
	ASSERT_OK(close(fd));
	free(shadow);
}

int main(int argc, char **argv)
{
	xsys_save_limit();
	xt_after_each(xsys_restore_limit);
	return xt_main(argc, argv);
}
