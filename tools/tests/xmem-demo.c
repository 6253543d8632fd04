// SPDX-License-Identifier: GPL-2.0
/*
 * xmem-demo: map external memory, fill it, read it back, and tell what the
 * module did to make that work.
 *
 *	xmem-demo [SIZE_MIB]	(default 32)
 */
#define _GNU_SOURCE
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "xsys.h"

static uint64_t delta(const struct xstats *a, const struct xstats *b, int i)
{
	return b->v[i] - a->v[i];
}

static double mib(uint64_t bytes)
{
	return bytes / (double)MiB;
}

static void appliance_totals(uint64_t *regions, uint64_t *bytes)
{
	if (xsys_read_u64("appliance_regions", regions))
		*regions = 0;
	if (xsys_read_u64("appliance_bytes", bytes))
		*bytes = 0;
}

int main(int argc, char **argv)
{
	uint64_t size = (argc > 1 ? strtoull(argv[1], NULL, 0) : 32) * MiB;
	uint64_t seed = xnow() * 1000, limit = 0, regions, bytes;
	char name[XMEM_REGION_NAME_MAX], appliance[128] = "?";
	struct xstats s0, s1, s2;
	struct xpat_err err;
	double t0, t1, t2;
	char *p;
	int fd;

	if (!size) {
		fprintf(stderr, "usage: %s [SIZE_MIB]\n", argv[0]);
		return 2;
	}
	xsys_read("appliance", appliance, sizeof(appliance));
	xsys_read_u64("local_limit", &limit);
	if (xstats_read(&s0)) {
		fprintf(stderr, "xmem-demo: no xmem module (%s)\n", XSYS_DIR);
		return 1;
	}

	xr_name(name, "demo");
	/* Held alone: its first touches are filled here, not read. */
	fd = xr_attach(name, size, XMEM_ATTACH_CREATE | XMEM_ATTACH_EXCL |
		       XMEM_ATTACH_SOLE, NULL);
	if (fd == -EOPNOTSUPP)	/* an appliance older than protocol 1.9 */
		fd = xr_attach(name, size,
			       XMEM_ATTACH_CREATE | XMEM_ATTACH_EXCL, NULL);
	if (fd < 0) {
		fprintf(stderr, "xmem-demo: attach %s: %s\n", name,
			xt_errname(-fd));
		return 1;
	}
	p = xr_map(fd, 0, size);
	if (p == MAP_FAILED) {
		perror("xmem-demo: mmap");
		return 1;
	}
	printf("Mapped %.0f MiB of external memory (region %s on appliance %s)\n"
	       "at %p, with %.1f MiB of local memory allowed as cache.\n",
	       mib(size), name, appliance, (void *)p, mib(limit));

	t0 = xnow();
	xpat_fill(p, size, 0, seed);
	t1 = xnow();
	xstats_read(&s1);
	xpat_check(p, size, 0, seed, &err);
	t2 = xnow();
	xstats_read(&s2);
	if (msync(p, size, MS_SYNC))
		perror("xmem-demo: msync");
	appliance_totals(&regions, &bytes);

	printf("\nFilled in %.2f s (%.1f MiB/s), read back and checked in "
	       "%.2f s (%.1f MiB/s).\n", t1 - t0, mib(size) / (t1 - t0),
	       t2 - t1, mib(size) / (t2 - t1));
	if (err.count)
		printf("VERIFY FAILED: %" PRIu64 " words wrong, first at "
		       "offset %#" PRIx64 "\n", err.count, err.first);
	else
		printf("Verify: all %" PRIu64 " words correct.\n", size / 8);

	printf("\n%-26s %12s %12s\n", "what the module did", "filling",
	       "reading");
	printf("%-26s %12" PRIu64 " %12" PRIu64 "\n", "page faults",
	       delta(&s0, &s1, XS_FAULTS), delta(&s1, &s2, XS_FAULTS));
	printf("%-26s %12" PRIu64 " %12" PRIu64 "\n", "cache hits",
	       delta(&s0, &s1, XS_CACHE_HITS), delta(&s1, &s2, XS_CACHE_HITS));
	printf("%-26s %12" PRIu64 " %12" PRIu64 "\n", "pages zero-filled here",
	       delta(&s0, &s1, XS_ZERO_FILLS), delta(&s1, &s2, XS_ZERO_FILLS));
	printf("%-26s %12" PRIu64 " %12" PRIu64 "\n", "RDMA reads",
	       delta(&s0, &s1, XS_RDMA_READS), delta(&s1, &s2, XS_RDMA_READS));
	printf("%-26s %12.1f %12.1f\n", "  MiB read",
	       mib(delta(&s0, &s1, XS_BYTES_READ)),
	       mib(delta(&s1, &s2, XS_BYTES_READ)));
	printf("%-26s %12" PRIu64 " %12" PRIu64 "\n", "RDMA writes",
	       delta(&s0, &s1, XS_RDMA_WRITES),
	       delta(&s1, &s2, XS_RDMA_WRITES));
	printf("%-26s %12.1f %12.1f\n", "  MiB written",
	       mib(delta(&s0, &s1, XS_BYTES_WRITTEN)),
	       mib(delta(&s1, &s2, XS_BYTES_WRITTEN)));
	printf("%-26s %12" PRIu64 " %12" PRIu64 "\n", "evictions, clean",
	       delta(&s0, &s1, XS_EVICTIONS_CLEAN),
	       delta(&s1, &s2, XS_EVICTIONS_CLEAN));
	printf("%-26s %12" PRIu64 " %12" PRIu64 "\n", "evictions, dirty",
	       delta(&s0, &s1, XS_EVICTIONS_DIRTY),
	       delta(&s1, &s2, XS_EVICTIONS_DIRTY));
	printf("%-26s %12" PRIu64 " %12" PRIu64 "\n", "TLB flushes",
	       delta(&s0, &s1, XS_TLB_FLUSHES),
	       delta(&s1, &s2, XS_TLB_FLUSHES));
	printf("%-26s %12.1f %12.1f\n", "resident MiB at the end",
	       mib(s1.v[XS_RESIDENT_BYTES]), mib(s2.v[XS_RESIDENT_BYTES]));
	printf("\nThe appliance now holds %" PRIu64 " region(s), %.1f MiB.\n",
	       regions, mib(bytes));

	munmap(p, size);
	close(fd);
	return err.count ? 1 : 0;
}
