// SPDX-License-Identifier: GPL-2.0
/*
 * The local limit lowered at runtime under load (issue 3, "Done when"):
 * while a thread rewrites a working set twice the limit, page by page,
 * local_limit goes from HIGH to LOW (1 MiB, the minimum).  The resident
 * set must fall under LOW promptly and stay there while the workload goes
 * on; raised again, the cache must grow past LOW again.  The workload
 * checks each page's last version before it writes the next, before,
 * during and after the changes, and at the end every page is checked
 * once more from the appliance.
 */
#define _GNU_SOURCE
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include "xsys.h"
#include "xtest.h"

#define PAGE		4096u
#define LOW		(1 * MiB)	/* the smallest limit there is */
#define HIGH		(4 * MiB)
#define SIZE		(2 * HIGH)
#define NPAGES		(SIZE / PAGE)
#define SETTLE_S	20.0	/* the resident set under the new limit */
#define PROGRESS_PAGES	256	/* pages the workload must do meanwhile */

/* Workload state, shared with the main thread. */
struct load {
	char *map;
	uint32_t *ver;		/* version each page was last written with */
	int stop;
	uint64_t pages;		/* pages rewritten so far */
	int failed;
	char why[256];
};

static uint64_t seed_of(uint64_t pg, uint32_t ver)
{
	return (pg << 32) | ver;
}

/*
 * Mismatching words of page @pg against version @ver of its content;
 * version 0 is the zeros of a new region.
 */
static uint64_t check_page(const char *map, uint64_t pg, uint32_t ver,
			   struct xpat_err *err)
{
	const volatile uint64_t *w = (const uint64_t *)(map + pg * PAGE);
	uint64_t i;

	if (ver)
		return xpat_check(map + pg * PAGE, PAGE, pg * PAGE,
				  seed_of(pg, ver), err);
	err->count = 0;
	for (i = 0; i < PAGE / 8; i++) {
		if (w[i] && !err->count++) {
			err->first = pg * PAGE + i * 8;
			err->want = 0;
			err->got = w[i];
		}
	}
	return err->count;
}

/* Pages in order, round and round: check the last version, write the next. */
static void *load_run(void *arg)
{
	struct load *l = arg;
	struct xpat_err err;
	uint64_t n, pg, off;

	for (n = 0; !__atomic_load_n(&l->stop, __ATOMIC_ACQUIRE); n++) {
		pg = n % NPAGES;
		off = pg * PAGE;
		if (check_page(l->map, pg, l->ver[pg], &err)) {
			snprintf(l->why, sizeof(l->why), "pass %" PRIu64
				 ", page %" PRIu64 " version %u: %" PRIu64
				 " words wrong, first at %#" PRIx64 ": want %#"
				 PRIx64 " got %#" PRIx64, n / NPAGES, pg,
				 l->ver[pg], err.count, err.first, err.want,
				 err.got);
			__atomic_store_n(&l->failed, 1, __ATOMIC_RELEASE);
			break;
		}
		l->ver[pg]++;
		xpat_fill(l->map + off, PAGE, off, seed_of(pg, l->ver[pg]));
		__atomic_store_n(&l->pages, n + 1, __ATOMIC_RELEASE);
	}
	return NULL;
}

static uint64_t resident(void)
{
	uint64_t r;
	int ret = xsys_read_u64("stats/resident_bytes", &r);

	if (ret)
		FAIL("stats/resident_bytes: %s", xt_errname(-ret));
	return r;
}

static void check_load(struct load *l)
{
	if (__atomic_load_n(&l->failed, __ATOMIC_ACQUIRE))
		FAIL("workload: %s", l->why);
}

/* Wait until the workload has done @more pages past now. */
static void wait_progress(struct load *l, uint64_t more, double secs,
			  uint64_t *max_resident, const char *when)
{
	uint64_t start = __atomic_load_n(&l->pages, __ATOMIC_ACQUIRE), r;
	double deadline = xnow() + secs;

	while (__atomic_load_n(&l->pages, __ATOMIC_ACQUIRE) - start < more) {
		check_load(l);
		if (max_resident) {
			r = resident();
			if (r > *max_resident)
				*max_resident = r;
		}
		if (xnow() > deadline)
			FAIL("%s: the workload did only %" PRIu64 " pages in "
			     "%.0f s", when,
			     __atomic_load_n(&l->pages, __ATOMIC_ACQUIRE) -
			     start, secs);
		usleep(10 * 1000);
	}
	check_load(l);
}

TEST_TIMEOUT(lower_limit_under_load, 420)
{
	uint64_t r, max_low = 0, max_high = 0, pg, dirty_ev;
	char name[XMEM_REGION_NAME_MAX];
	struct xstats before, lowered, after;
	double t0, t_write, t_under, deadline;
	struct load l = { 0 };
	pthread_t thr;
	int fd;

	xr_require_connected();
	ASSERT_ZERO_ERR(xsys_write_u64("local_limit", HIGH));
	xr_name(name, "limit");
	fd = ATTACH_OK(name, SIZE, XMEM_ATTACH_CREATE | XMEM_ATTACH_EXCL,
		       NULL);
	l.map = MAP_OK(fd, 0, SIZE);
	l.ver = calloc(NPAGES, sizeof(*l.ver));
	if (!l.ver)
		FAIL("calloc");
	errno = pthread_create(&thr, NULL, load_run, &l);
	if (errno)
		FAIL("pthread_create: %s", xt_errname(errno));

	/*
	 * Loaded: the cache holds three times the coming limit.  Not "full":
	 * the background reclaimer keeps up to watermark_high free.
	 */
	deadline = xnow() + 180;
	while ((r = resident()) < 3 * LOW) {
		check_load(&l);
		if (xnow() > deadline)
			FAIL("resident %" PRIu64 " bytes after 180 s of load, "
			     "limit %" PRIu64, r, HIGH);
		usleep(10 * 1000);
	}
	wait_progress(&l, PROGRESS_PAGES, 60, NULL, "before lowering");

	ASSERT_ZERO_ERR(xstats_read(&before));
	t0 = xnow();
	ASSERT_ZERO_ERR(xsys_write_u64("local_limit", LOW));
	t_write = xnow() - t0;
	ASSERT_ZERO_ERR(xsys_read_u64("local_limit", &r));
	ASSERT_EQ(r, LOW);
	/*
	 * Promptly under the new limit.  The documented slack: one page per
	 * concurrent fault while every resident page is busy (one here).
	 */
	deadline = t0 + SETTLE_S;
	while ((r = resident()) > LOW + PAGE) {
		check_load(&l);
		if (xnow() > deadline)
			FAIL("resident %" PRIu64 " bytes %.0f s after lowering "
			     "the limit to %" PRIu64, r, SETTLE_S, LOW);
		usleep(10 * 1000);
	}
	t_under = xnow() - t0;
	ASSERT_ZERO_ERR(xstats_read(&lowered));

	/* The workload goes on, and the cache stays under the limit. */
	wait_progress(&l, 2 * PROGRESS_PAGES, 120, &max_low, "lowered");
	ASSERT_LE(max_low, LOW + PAGE);

	/* Raised again, the cache may grow again. */
	ASSERT_ZERO_ERR(xsys_write_u64("local_limit", HIGH));
	deadline = xnow() + 60;
	while ((r = resident()) <= 2 * LOW) {
		check_load(&l);
		if (xnow() > deadline)
			FAIL("resident %" PRIu64 " bytes 60 s after raising "
			     "the limit to %" PRIu64, r, HIGH);
		usleep(10 * 1000);
	}
	wait_progress(&l, PROGRESS_PAGES, 60, &max_high, "raised");

	__atomic_store_n(&l.stop, 1, __ATOMIC_RELEASE);
	pthread_join(thr, NULL);
	check_load(&l);
	ASSERT_ZERO_ERR(xstats_read(&after));
	dirty_ev = lowered.v[XS_EVICTIONS_DIRTY] - before.v[XS_EVICTIONS_DIRTY];
	xt_diag("limit %" PRIu64 " -> %" PRIu64 " KiB: the write took %.3f s, "
		"resident under the limit after %.3f s, %" PRIu64 " dirty and %"
		PRIu64 " clean evictions", HIGH / KiB, LOW / KiB, t_write,
		t_under, dirty_ev,
		lowered.v[XS_EVICTIONS_CLEAN] - before.v[XS_EVICTIONS_CLEAN]);
	xt_diag("max resident sampled: %" PRIu64 " KiB while lowered, %"
		PRIu64 " KiB after raising; workload %" PRIu64 " pages",
		max_low / KiB, max_high / KiB, l.pages);
	xstats_diag(&before, &after);
	/* The limit was lowered with dirty pages in the cache: written back. */
	ASSERT_GT(dirty_ev, 0);
	ASSERT_EQ(after.v[XS_WRITEBACK_ERRORS], before.v[XS_WRITEBACK_ERRORS]);

	/* Every page holds its last version, on the appliance. */
	ASSERT_OK(msync(l.map, SIZE, MS_SYNC));
	xr_drop_cache(fd);
	for (pg = 0; pg < NPAGES; pg++) {
		struct xpat_err err;

		if (check_page(l.map, pg, l.ver[pg], &err))
			FAIL("page %" PRIu64 " version %u: %" PRIu64 " words "
			     "wrong, first at %#" PRIx64 ": want %#" PRIx64
			     " got %#" PRIx64, pg, l.ver[pg], err.count,
			     err.first, err.want, err.got);
	}
	ASSERT_OK(munmap(l.map, SIZE));
	ASSERT_OK(close(fd));
	free(l.ver);
}

int main(int argc, char **argv)
{
	xsys_save_limit();
	xt_after_each(xsys_restore_limit);
	return xt_main(argc, argv);
}
