// SPDX-License-Identifier: GPL-2.0
/*
 * A writer racing the eviction of the very pages it writes loses nothing
 * (issue 3, "Done when").
 *
 * A writer (a thread, or a forked child through the inherited shared
 * mapping) cycles over the "hot" pages of region A, half of the
 * cache: each iteration checks the whole page against a shadow copy in
 * anonymous memory, then writes a new sequence number into four words of
 * it and reads them back.  Meanwhile the main thread reads region B, twice
 * the local limit (1 MiB), over and over: every read misses, so eviction
 * runs all the time and keeps taking the hot pages, which are dirty, while
 * the writer writes them.
 * B is only read, so every dirty eviction during the run is one of a hot
 * page: stats/evictions_dirty counts them, and the run goes on until it
 * has seen MIN_EVICTIONS of them and MIN_ITERS writer iterations.
 *
 * At the end A is synced, evicted from the cache entirely (XMEM_IOC_INFO
 * says no page of it is resident), and read back from the appliance
 * against the shadow.
 */
#define _GNU_SOURCE
#include <inttypes.h>
#include <pthread.h>
#include <sched.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include "xsys.h"
#include "xtest.h"

/*
 * The smallest limit there is, whatever XMEM_TEST_LIMIT says: the smaller
 * the cache, the more often a hot page comes up for eviction.
 */
#define LIMIT		(1 * MiB)
#define PAGE		4096u
#define WORDS		(PAGE / 8)
#define HOT_PAGES	128u		/* the writer's pages: half the cache */
#define MIN_EVICTIONS	300u		/* dirty evictions of hot pages */
#define MIN_ITERS	5000u		/* writer iterations */
#define RUN_MAX_S	240.0		/* to reach both */

/* Words of a hot page the writer changes: first, last, middle, moving. */
static const unsigned int fixed_words[] = { 0, WORDS - 1, WORDS / 2 };

/* Writer state; in MAP_SHARED memory, as the writer may be a child. */
struct writer {
	volatile uint64_t *map;		/* the hot pages, mapped */
	uint64_t *shadow;		/* what they must contain */
	unsigned int npages;
	int stop;			/* set by the main thread */
	uint64_t iters;			/* iterations done */
	int failed;
	char why[256];
};

static uint64_t value(uint64_t iter, unsigned int page, unsigned int word)
{
	return xpat_word(iter + 1, ((uint64_t)page << 12) | (word << 3)) |
	       1;	/* never zero: a zero page shows */
}

static int writer_fail(struct writer *w, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

static int writer_fail(struct writer *w, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(w->why, sizeof(w->why), fmt, ap);
	va_end(ap);
	__atomic_store_n(&w->failed, 1, __ATOMIC_RELEASE);
	return 1;
}

/*
 * The writer.  Iteration i takes hot page i % npages; what it finds there
 * must be what the previous iteration on that page left, whatever was
 * evicted and fetched again in between.
 */
static int writer_run(struct writer *w)
{
	uint64_t i;

	for (i = 0; !__atomic_load_n(&w->stop, __ATOMIC_ACQUIRE); i++) {
		unsigned int pg = i % w->npages, k, wd[4];
		volatile uint64_t *m = w->map + (uint64_t)pg * WORDS;
		uint64_t *sh = w->shadow + (uint64_t)pg * WORDS, got;

		for (k = 0; k < WORDS; k++) {
			got = m[k];
			if (got != sh[k])
				return writer_fail(w, "iteration %" PRIu64
					", page %u word %u: want %#" PRIx64
					" got %#" PRIx64 " (a lost write)",
					i, pg, k, sh[k], got);
		}
		memcpy(wd, fixed_words, sizeof(fixed_words));
		wd[3] = 1 + (i / w->npages) % (WORDS - 2);
		for (k = 0; k < 4; k++) {
			sh[wd[k]] = value(i, pg, wd[k]);
			m[wd[k]] = sh[wd[k]];
		}
		for (k = 0; k < 4; k++) {
			got = m[wd[k]];
			if (got != sh[wd[k]])
				return writer_fail(w, "iteration %" PRIu64
					", page %u word %u read back %#" PRIx64
					", wrote %#" PRIx64, i, pg, wd[k], got,
					sh[wd[k]]);
		}
		__atomic_store_n(&w->iters, i + 1, __ATOMIC_RELEASE);
		/* One CPU in the test bed: leave it to the evictor often. */
		sched_yield();
	}
	return 0;
}

static void *writer_thread(void *arg)
{
	writer_run(arg);
	return NULL;
}

/* Words of the hot pages that differ from the shadow; the first shown. */
static void check_shadow(const volatile uint64_t *map, const uint64_t *shadow,
			 uint64_t words)
{
	uint64_t i, bad = 0, first = 0;

	for (i = 0; i < words; i++)
		if (map[i] != shadow[i] && !bad++)
			first = i;
	if (bad)
		FAIL("%" PRIu64 " of %" PRIu64 " words wrong, first page %"
		     PRIu64 " word %" PRIu64 ": want %#" PRIx64 " got %#"
		     PRIx64, bad, words, first / WORDS, first % WORDS,
		     shadow[first], map[first]);
}

/*
 * Read B (@size bytes at @b) until nothing but B is resident: whatever
 * earlier tests left dirty is written back now, not counted later.
 */
static void evict_all_but(int bfd, volatile char *b, uint64_t size)
{
	struct xmem_region_info ri;
	double deadline = xnow() + 120;
	uint64_t i, resident;

	for (i = 0;; i++) {
		(void)b[(i % (size / PAGE)) * PAGE];
		if (i % 32)
			continue;
		xr_info(bfd, &ri);
		ASSERT_ZERO_ERR(xsys_read_u64("stats/resident_bytes",
					      &resident));
		if (resident == ri.resident_bytes)
			return;
		if (xnow() > deadline)
			FAIL("%" PRIu64 " bytes of other regions still cached",
			     resident - (uint64_t)ri.resident_bytes);
	}
}

/*
 * Run the race with the writer as a thread (@fork_writer false) or as a
 * forked child writing through the inherited mapping.
 */
static void race(bool fork_writer)
{
	uint64_t limit, bsize, asize = HOT_PAGES * PAGE, i, ev0, ev, iters;
	char aname[XMEM_REGION_NAME_MAX], bname[XMEM_REGION_NAME_MAX];
	struct xstats before, after, end;
	struct xmem_region_info ri;
	uint64_t seed = 0x7ace;
	volatile char *b;
	struct writer *w;
	double t0, t1, deadline;
	pthread_t thr;
	pid_t pid = 0;
	int afd, bfd, status;

	xr_require_connected();
	limit = LIMIT;
	bsize = 2 * limit;
	ASSERT_ZERO_ERR(xsys_write_u64("local_limit", limit));

	xr_name(aname, "race-a");
	afd = ATTACH_OK(aname, asize, XMEM_ATTACH_CREATE | XMEM_ATTACH_EXCL,
			NULL);
	xr_name(bname, "race-b");
	bfd = ATTACH_OK(bname, bsize, XMEM_ATTACH_CREATE | XMEM_ATTACH_EXCL,
			NULL);
	b = MAP_OK(bfd, 0, bsize);

	w = mmap(NULL, sizeof(*w) + asize, PROT_READ | PROT_WRITE,
		 MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (w == MAP_FAILED)
		FAIL("mmap: %s", xt_errname(errno));
	w->shadow = (uint64_t *)(w + 1);
	w->map = MAP_OK(afd, 0, asize);
	w->npages = HOT_PAGES;
	xpat_fill(w->shadow, asize, 0, seed);
	xpat_fill((void *)w->map, asize, 0, seed);
	ASSERT_OK(msync((void *)w->map, asize, MS_SYNC));

	evict_all_but(bfd, b, bsize);
	ASSERT_ZERO_ERR(xstats_read(&before));
	ev0 = before.v[XS_EVICTIONS_DIRTY];

	if (fork_writer) {
		pid = fork();
		ASSERT_OK(pid);
		if (!pid)
			_exit(writer_run(w));
	} else {
		errno = pthread_create(&thr, NULL, writer_thread, w);
		if (errno)
			FAIL("pthread_create: %s", xt_errname(errno));
	}

	/* The evictor: read B round and round, checking progress. */
	t0 = xnow();
	deadline = t0 + RUN_MAX_S;
	for (i = 0;; i++) {
		(void)b[(i % (bsize / PAGE)) * PAGE];
		if (i % 16)
			continue;
		if (__atomic_load_n(&w->failed, __ATOMIC_ACQUIRE))
			break;
		ASSERT_ZERO_ERR(xsys_read_u64("stats/evictions_dirty", &ev));
		iters = __atomic_load_n(&w->iters, __ATOMIC_ACQUIRE);
		if (ev - ev0 >= MIN_EVICTIONS && iters >= MIN_ITERS)
			break;
		if (xnow() > deadline)
			break;
	}
	__atomic_store_n(&w->stop, 1, __ATOMIC_RELEASE);
	if (fork_writer) {
		ASSERT_OK(waitpid(pid, &status, 0));
		if (!w->failed && (!WIFEXITED(status) || WEXITSTATUS(status)))
			FAIL("writer child: wait status %#x", status);
	} else {
		pthread_join(thr, NULL);
	}
	t1 = xnow();
	ASSERT_ZERO_ERR(xstats_read(&after));
	xt_diag("%s writer: %" PRIu64 " iterations over %u pages in %.1f s, "
		"%" PRIu64 " evictor reads; limit %" PRIu64 " KiB, B %" PRIu64
		" KiB", fork_writer ? "child" : "thread", w->iters, HOT_PAGES,
		t1 - t0, i, limit / KiB, bsize / KiB);
	xstats_diag(&before, &after);
	if (w->failed)
		FAIL("writer: %s", w->why);
	/* The writer is the only one dirtying pages: these are its pages. */
	if (after.v[XS_EVICTIONS_DIRTY] - ev0 < MIN_EVICTIONS)
		FAIL("only %" PRIu64 " dirty evictions of the hot pages in "
		     "%.0f s (want %u)", after.v[XS_EVICTIONS_DIRTY] - ev0,
		     t1 - t0, MIN_EVICTIONS);
	ASSERT_GE(w->iters, MIN_ITERS);
	ASSERT_EQ(after.v[XS_WRITEBACK_ERRORS], before.v[XS_WRITEBACK_ERRORS]);

	/* Still the shadow, then from the appliance. */
	check_shadow(w->map, w->shadow, asize / 8);
	ASSERT_OK(msync((void *)w->map, asize, MS_SYNC));
	xr_drop_cache(afd);
	ASSERT_ZERO_ERR(xstats_read(&before));
	check_shadow(w->map, w->shadow, asize / 8);
	ASSERT_ZERO_ERR(xstats_read(&end));
	ASSERT_GE(end.v[XS_RDMA_READS] - before.v[XS_RDMA_READS], HOT_PAGES);
	xr_info(afd, &ri);
	ASSERT_EQ(ri.dirty_bytes, 0);

	ASSERT_OK(munmap((void *)w->map, asize));
	ASSERT_OK(munmap((void *)b, bsize));
	ASSERT_OK(close(afd));
	ASSERT_OK(close(bfd));
}

TEST_TIMEOUT(thread_writer_vs_eviction, 420)
{
	race(false);
}

TEST_TIMEOUT(child_writer_vs_eviction, 420)
{
	race(true);
}

int main(int argc, char **argv)
{
	xsys_save_limit();
	xt_after_each(xsys_restore_limit);
	return xt_main(argc, argv);
}
