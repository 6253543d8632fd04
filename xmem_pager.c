// SPDX-License-Identifier: GPL-2.0
/*
 * xmem: the pager.  Serves page faults on /dev/xmem mappings from a bounded
 * local cache of remote regions, reads ahead, evicts and writes back.
 *
 * Portions.  A region is cut into portions of 2^order pages (the
 * portion_size knob when the region was set up).  The portion is the unit
 * of transfer, dirty tracking and eviction; every resident portion has a
 * portion-tracking structure (struct xmem_portion) in the region's xarray.
 * A portion's LOCKED bit makes one task its owner while it is fetched,
 * mapped into a page table, written back or evicted.
 *
 * Dirty tracking.  A PTE is made writable only by the fault handlers, with
 * the portion locked and its DIRTY bit set first: a write fault inserts a
 * writable PTE, and a write to a read-only PTE reaches ->pfn_mkwrite, which
 * replaces the PTE.  Write-back and eviction lock the portion, write-protect
 * its PTEs in every process and collect their dirty bits (xmem_tlb_clean(),
 * one pass per window of a region), and only then clear
 * DIRTY: a write can never land in a page whose DIRTY bit was cleared
 * without the PTE having been write-protected first, and a writer that
 * comes meanwhile waits for the portion in ->pfn_mkwrite or ->fault.
 * Eviction then unmaps the PTEs, writes back the portions found dirty by
 * RDMA WRITE, and drops clean ones with no transfer at all (claims 18, 19).
 *
 * Victim selection is a second-chance LRU of portions: the fault handlers
 * set the software ACCESSED bit, and the evictor moves accessed portions
 * to the tail once before it takes them.  A batch is the first portion
 * that may go and the cold portions around it in its region, one window
 * of at most XMEM_BATCH_PAGES pages, so that one clean-record pass and one
 * unmap pass cover it: at most two TLB flushes per process and batch.
 * Hardware accessed bits are not
 * consulted: the mappings are VM_PFNMAP and only the fault handlers see
 * accesses, so a portion mapped once and then used through its PTEs ages
 * like one not used at all.
 *
 * Reclaim.  A fault that would take the cache over its limit, or its
 * region over the region's limit, evicts a batch itself (direct reclaim).
 * Below that, a background reclaimer on the pager's workqueue keeps
 * between wmark_low and wmark_high pages free under the limit, so that a
 * fault rarely waits for an eviction.  A shrinker gives clean portions
 * back to the kernel under global memory pressure.
 *
 * Readahead.  Each open file's struct file_ra_state tracks the last
 * portion faulted on and the window of portions requested ahead.  A fault
 * on the portion after the previous one extends the window (doubling it,
 * up to readahead_max) when less than half of it is left; the portions
 * are fetched by workqueue items, several RDMA READs in flight each, while
 * the faulting task goes on.  Any other fault closes the window, so random
 * access costs no extra transfer.
 */
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/fs.h>
#include <linux/ktime.h>
#include <linux/highmem.h>
#include <linux/mm.h>
#include <linux/sched/mm.h>
#include <linux/slab.h>
#include <linux/sort.h>
#include <linux/wait_bit.h>
#include <kunit/visibility.h>

#include "xmem_compat.h"
#include "xmem_pager.h"
#include "xmem_rdma.h"
#include "xmem_tlb.h"

#define CREATE_TRACE_POINTS
#include "xmem_trace.h"

/* Portions evicted, written back or read ahead together at most ... */
#define XMEM_BATCH		32
/* ... and their pages (the size of the dirty bitmap of one batch). */
#define XMEM_BATCH_PAGES	512
/*
 * Pages of one backend call whose struct xmem_io array fits on the stack;
 * larger transfers allocate theirs, and go in calls of this many pages
 * when they cannot.
 */
#define XMEM_IO_STACK		32
/* The first readahead window, in portions. */
#define XMEM_RA_INIT		4
/* Default largest readahead window, in bytes. */
#define XMEM_RA_DEFAULT		SZ_512K

#define xmem_region_err(r, fmt, ...)					\
	pr_err_ratelimited("region %s: " fmt, (r)->name, ##__VA_ARGS__)
#define xmem_region_warn(r, fmt, ...)					\
	pr_warn_ratelimited("region %s: " fmt, (r)->name, ##__VA_ARGS__)

/* Add @n to counter @item of a region's and of its cache's stats. */
static void xmem_count(struct xmem_region *region, enum xmem_stat_item item,
		       u64 n)
{
	this_cpu_add(region->stats.cpu->v[item], n);
	this_cpu_add(region->cache->stats.cpu->v[item], n);
}

/**
 * xmem_stats_read() - the value of a counter
 * @stats: a cache's or a region's counters
 * @item: which one
 *
 * Context: any.
 * Return: the sum of its per-CPU counts.
 */
u64 xmem_stats_read(const struct xmem_stats *stats, enum xmem_stat_item item)
{
	u64 sum = 0;
	int cpu;

	for_each_possible_cpu(cpu)
		sum += per_cpu_ptr(stats->cpu, cpu)->v[item];
	return sum;
}
EXPORT_SYMBOL_IF_KUNIT(xmem_stats_read);

static void xmem_region_put_async(struct xmem_region *region);

/* Pages of portion @index of a region of @nr_pages pages; 0 past its end. */
static unsigned int xmem_portion_span(const struct xmem_region *region,
				      pgoff_t index, pgoff_t nr_pages)
{
	pgoff_t first = index << region->order;

	if (first >= nr_pages)
		return 0;
	return min_t(pgoff_t, 1UL << region->order, nr_pages - first);
}

static pgoff_t xmem_region_nr_portions(const struct xmem_region *region,
				       pgoff_t nr_pages)
{
	return (nr_pages + (1UL << region->order) - 1) >> region->order;
}

static struct xmem_portion *xmem_portion_lookup(struct xmem_region *region,
						pgoff_t index)
{
	struct xmem_portion *p;

	xa_lock(&region->portions);
	p = xa_load(&region->portions, index);
	if (p)
		refcount_inc(&p->ref);
	xa_unlock(&region->portions);
	return p;
}

/* A new portion: locked, two references (the index's and the caller's). */
static struct xmem_portion *xmem_portion_alloc(struct xmem_region *region,
					       pgoff_t index, unsigned int nr,
					       gfp_t gfp)
{
	struct xmem_portion *p;
	unsigned int i;

	p = kzalloc(struct_size(p, pages, nr), gfp);
	if (!p)
		return NULL;
	for (i = 0; i < nr; i++) {
		p->pages[i] = alloc_page(gfp);
		if (!p->pages[i])
			goto err_free_pages;
	}
	p->region = region;
	p->index = index;
	p->nr_pages = nr;
	INIT_LIST_HEAD(&p->lru);
	INIT_LIST_HEAD(&p->rlru);
	refcount_set(&p->ref, 2);
	__set_bit(XMEM_PORTION_LOCKED, &p->flags);
	return p;

err_free_pages:
	while (i--)
		__free_page(p->pages[i]);
	kfree(p);
	return NULL;
}

static void xmem_portion_free(struct xmem_portion *p)
{
	unsigned int i;

	for (i = 0; i < p->nr_pages; i++)
		__free_page(p->pages[i]);
	kfree(p);
}

static void xmem_portion_put(struct xmem_portion *p)
{
	if (refcount_dec_and_test(&p->ref))
		xmem_portion_free(p);
}

/*
 * Wait for a portion's lock and take it.  Its owner may be waiting for the
 * appliance (up to io_timeout per transfer), so the wait is killable.
 * Returns 0, or -EINTR if the task was killed first.
 */
static int xmem_portion_lock(struct xmem_portion *p)
{
	if (wait_on_bit_lock(&p->flags, XMEM_PORTION_LOCKED, TASK_KILLABLE))
		return -EINTR;
	return 0;
}

static bool xmem_portion_trylock(struct xmem_portion *p)
{
	return !test_and_set_bit_lock(XMEM_PORTION_LOCKED, &p->flags);
}

static void xmem_portion_unlock(struct xmem_portion *p)
{
	clear_and_wake_up_bit(XMEM_PORTION_LOCKED, &p->flags);
}

static void xmem_account(struct xmem_region *region, long nr)
{
	struct xmem_cache *cache = region->cache;

	spin_lock(&cache->lock);
	cache->nr_pages += nr;
	spin_unlock(&cache->lock);
	atomic_long_add(nr, &region->nr_resident);
}

/**
 * xmem_portion_set_dirty() - mark a portion dirty
 * @cache: its cache
 * @p: the portion, locked by the caller
 *
 * Context: any.
 */
VISIBLE_IF_KUNIT void xmem_portion_set_dirty(struct xmem_cache *cache,
					     struct xmem_portion *p)
{
	struct xarray *xa = &p->region->portions;

	if (test_bit(XMEM_PORTION_DIRTY, &p->flags))
		return;
	xa_lock(xa);
	if (!test_and_set_bit(XMEM_PORTION_DIRTY, &p->flags)) {
		atomic_long_add(p->nr_pages, &cache->nr_dirty);
		if (xa_load(xa, p->index) == p)
			__xa_set_mark(xa, p->index, XMEM_MARK_DIRTY);
	}
	xa_unlock(xa);
}
EXPORT_SYMBOL_IF_KUNIT(xmem_portion_set_dirty);

/* Clear DIRTY, and start a write-back if @writeback; false if clean. */
static bool __xmem_portion_clear_dirty(struct xmem_cache *cache,
				       struct xmem_portion *p, bool writeback)
{
	struct xarray *xa = &p->region->portions;
	bool dirty;

	xa_lock(xa);
	dirty = test_and_clear_bit(XMEM_PORTION_DIRTY, &p->flags);
	if (dirty) {
		atomic_long_sub(p->nr_pages, &cache->nr_dirty);
		if (xa_load(xa, p->index) == p) {
			__xa_clear_mark(xa, p->index, XMEM_MARK_DIRTY);
			if (writeback)
				__xa_set_mark(xa, p->index,
					      XMEM_MARK_WRITEBACK);
		}
		if (writeback)
			set_bit(XMEM_PORTION_WRITEBACK, &p->flags);
	}
	xa_unlock(xa);
	return dirty;
}

static bool xmem_portion_clear_dirty(struct xmem_cache *cache,
				     struct xmem_portion *p)
{
	return __xmem_portion_clear_dirty(cache, p, false);
}

/*
 * Start the write-back of a locked portion: DIRTY becomes WRITEBACK in one
 * step under the xa_lock, so that a sync sees it in one state or the
 * other.  Returns false if it was clean.
 */
static bool xmem_portion_start_writeback(struct xmem_cache *cache,
					 struct xmem_portion *p)
{
	return __xmem_portion_clear_dirty(cache, p, true);
}

/* End it; a failed one is dirty again.  Wakes the syncers waiting on it. */
static void xmem_portion_end_writeback(struct xmem_cache *cache,
				       struct xmem_portion *p, bool failed)
{
	struct xarray *xa = &p->region->portions;

	if (failed)
		xmem_portion_set_dirty(cache, p);
	xa_lock(xa);
	if (xa_load(xa, p->index) == p)
		__xa_clear_mark(xa, p->index, XMEM_MARK_WRITEBACK);
	xa_unlock(xa);
	clear_and_wake_up_bit(XMEM_PORTION_WRITEBACK, &p->flags);
}

/*
 * Publish a new locked portion in its region.  Returns 0, -EBUSY if
 * another task published that portion first, or -EAGAIN if the region was
 * resized meanwhile so that the portion's size is wrong or it is past the
 * end (the caller looks at the region again).
 */
static int xmem_portion_insert(struct xmem_region *region,
			       struct xmem_portion *p)
{
	bool fits;
	int ret;

	ret = xa_insert(&region->portions, p->index, p, GFP_KERNEL);
	if (ret)
		return ret;
	/*
	 * xa_insert() may drop the lock to allocate: check the size only
	 * now.  xmem_region_resize() changes it under the same lock and
	 * then looks for portions, so it either finds this one or it is
	 * taken out again here.
	 */
	xa_lock(&region->portions);
	fits = p->nr_pages == xmem_portion_span(region, p->index,
						region->nr_pages);
	if (!fits)
		__xa_erase(&region->portions, p->index);
	xa_unlock(&region->portions);
	if (!fits)
		return -EAGAIN;
	xmem_account(region, p->nr_pages);
	return 0;
}

/* Remove a locked portion from its region; waiters will look again. */
static void xmem_portion_remove(struct xmem_cache *cache,
				struct xmem_portion *p)
{
	xmem_portion_clear_dirty(cache, p);
	xa_erase(&p->region->portions, p->index);
	set_bit(XMEM_PORTION_DEAD, &p->flags);
	xmem_account(p->region, -(long)p->nr_pages);
	xmem_portion_unlock(p);
	xmem_portion_put(p);	/* the region index's reference */
}

/*
 * A portion is on the cache's LRU list and on its region's, or on
 * neither; these move it on both at once.
 */
static void __xmem_lru_add(struct xmem_cache *cache, struct xmem_portion *p,
			   bool tail)
{
	lockdep_assert_held(&cache->lock);
	if (tail) {
		list_add_tail(&p->lru, &cache->lru);
		list_add_tail(&p->rlru, &p->region->lru);
	} else {
		list_add(&p->lru, &cache->lru);
		list_add(&p->rlru, &p->region->lru);
	}
}

/* Off both LRU lists; returns whether it was on them. */
static bool __xmem_lru_del(struct xmem_cache *cache, struct xmem_portion *p)
{
	lockdep_assert_held(&cache->lock);
	if (list_empty(&p->lru))
		return false;
	list_del_init(&p->lru);
	list_del_init(&p->rlru);
	return true;
}

/* Second chance: to the tail of both. */
static void __xmem_lru_rotate(struct xmem_cache *cache, struct xmem_portion *p)
{
	lockdep_assert_held(&cache->lock);
	list_move_tail(&p->lru, &cache->lru);
	list_move_tail(&p->rlru, &p->region->lru);
}

static void xmem_lru_add(struct xmem_cache *cache, struct xmem_portion *p)
{
	spin_lock(&cache->lock);
	__xmem_lru_add(cache, p, true);
	spin_unlock(&cache->lock);
}

/* Pages per chunk of a region's written-page bits: a page of bits. */
#define XMEM_WRITTEN_CHUNK	(PAGE_SIZE * BITS_PER_BYTE)

/*
 * The chunk of @region's written-page bits that holds @page's, if @page
 * is below zero_pages (whose chunks exist), else NULL.
 */
static unsigned long *xmem_written_chunk(struct xmem_region *region,
					 pgoff_t page)
{
	/* Pairs with the release that made zero_pages cover the chunk. */
	if (page >= smp_load_acquire(&region->zero_pages))
		return NULL;
	return xa_load(&region->written, page / XMEM_WRITTEN_CHUNK);
}

/* Is page @page of @region known to hold zeroes on the appliance. */
static bool xmem_page_unwritten(struct xmem_region *region, pgoff_t page)
{
	unsigned long *chunk = xmem_written_chunk(region, page);

	return chunk && !test_bit(page % XMEM_WRITTEN_CHUNK, chunk);
}

/* Page @page of @region is about to be written on the appliance. */
static void xmem_page_mark_written(struct xmem_region *region, pgoff_t page)
{
	unsigned long *chunk = xmem_written_chunk(region, page);

	if (chunk)
		set_bit(page % XMEM_WRITTEN_CHUNK, chunk);
}

/*
 * Chunks of written-page bits, all clear, for pages [@from, @to) of
 * @region that have none yet.  Those stored before a failure stay, unused
 * until the region is freed.  Returns 0 or -ENOMEM.
 */
static int xmem_written_alloc(struct xmem_region *region, pgoff_t from,
			      pgoff_t to)
{
	unsigned long i, last = (to - 1) / XMEM_WRITTEN_CHUNK;
	unsigned long *chunk;

	for (i = from / XMEM_WRITTEN_CHUNK; i <= last; i++) {
		if (xa_load(&region->written, i))
			continue;
		chunk = kzalloc(PAGE_SIZE, GFP_KERNEL);
		if (!chunk)
			return -ENOMEM;
		if (xa_err(xa_store(&region->written, i, chunk, GFP_KERNEL))) {
			kfree(chunk);
			return -ENOMEM;
		}
	}
	return 0;
}

/* One backend call for @k pages of the portions marked in @in_call. */
static int xmem_pager_io_call(struct xmem_region *region,
			      const struct xmem_io *ios, unsigned int k,
			      bool write, unsigned long *in_call,
			      unsigned long *failed, unsigned int n)
{
	int err = region->cache->ops->rw(region, ios, k, write);

	if (err < 0) {
		bitmap_or(failed, failed, in_call, n);
	} else if (write) {
		xmem_count(region, XMEM_STAT_RDMA_WRITES, k);
		xmem_count(region, XMEM_STAT_RDMA_WRITE_WRS, err);
		err = 0;
	} else {
		xmem_count(region, XMEM_STAT_RDMA_READS, k);
		xmem_count(region, XMEM_STAT_RDMA_READ_WRS, err);
		err = 0;
	}
	bitmap_zero(in_call, XMEM_BATCH);
	return err;
}

/*
 * Transfer every page of the locked portions @v[0..@n) of @region, @n at
 * most XMEM_BATCH, in one call to the backend, so that all of them are in
 * flight at once; in calls of XMEM_IO_STACK pages if there is no memory
 * for the call's page list (nothing here waits for memory: write-back
 * must make progress under pressure).  The portions with a page in a call
 * that failed are marked in @failed.
 * A read fills the pages the region never wrote with zeroes instead, as
 * long as the backend says that nobody else can have written them; a
 * write marks its pages as written before it starts.
 * Returns 0 or the first error.
 */
static int xmem_pager_io(struct xmem_region *region, struct xmem_portion **v,
			 unsigned int n, bool write, unsigned long *failed)
{
	const struct xmem_backend_ops *ops = region->cache->ops;
	bool zero = !write && READ_ONCE(region->zero_pages) &&
		    ops->zero_ok && ops->zero_ok(region);
	struct xmem_io stack[XMEM_IO_STACK], *ios = stack;
	unsigned int i, j, k = 0, zeroed = 0, max = XMEM_IO_STACK, pages = 0;
	DECLARE_BITMAP(in_call, XMEM_BATCH);
	int ret = 0, err;

	for (i = 0; i < n; i++)
		pages += v[i]->nr_pages;
	if (pages > XMEM_IO_STACK) {
		ios = kmalloc_array(pages, sizeof(*ios), GFP_NOIO |
				    __GFP_NORETRY | __GFP_NOWARN);
		if (ios)
			max = pages;
		else
			ios = stack;
	}
	bitmap_zero(in_call, XMEM_BATCH);
	for (i = 0; i < n; i++) {
		for (j = 0; j < v[i]->nr_pages; j++) {
			pgoff_t page = (v[i]->index << region->order) + j;

			if (write) {
				xmem_page_mark_written(region, page);
			} else if (zero && xmem_page_unwritten(region, page)) {
				clear_highpage(v[i]->pages[j]);
				zeroed++;
				continue;
			}
			ios[k].page = v[i]->pages[j];
			ios[k].offset = (u64)page << PAGE_SHIFT;
			__set_bit(i, in_call);
			if (++k < max)
				continue;
			err = xmem_pager_io_call(region, ios, k, write,
						 in_call, failed, n);
			ret = ret ?: err;
			k = 0;
		}
	}
	if (k) {
		err = xmem_pager_io_call(region, ios, k, write, in_call,
					 failed, n);
		ret = ret ?: err;
	}
	if (ios != stack)
		kfree(ios);
	if (zeroed)
		xmem_count(region, XMEM_STAT_ZERO_FILLS, zeroed);
	return ret;
}

/* Is @region one of the @n in @v. */
static bool xmem_region_in(const struct xmem_region *region,
			   struct xmem_region **v, unsigned int n)
{
	while (n--)
		if (v[n] == region)
			return true;
	return false;
}

/*
 * Take portion @index of @head's region as a victim beside @head: only if
 * it is resident, cold (not ACCESSED), allowed (as in xmem_cache_pick()),
 * unlocked and on the LRU.  Then it is locked, off the LRU, referenced and
 * holds a reference on its region, as @head does.  Returns it, NULL if
 * the index holds no portion, or an ERR_PTR if a portion there is not
 * taken (the window ends before it).
 */
static struct xmem_portion *xmem_pick_neighbour(struct xmem_cache *cache,
						struct xmem_portion *head,
						pgoff_t index, bool clean_only,
						struct xmem_region **skip,
						unsigned int nr_skip)
{
	struct xmem_region *region = head->region;
	struct xmem_portion *p;
	bool on_lru;

	p = xmem_portion_lookup(region, index);
	if (!p)
		return NULL;
	if (test_bit(XMEM_PORTION_ACCESSED, &p->flags) ||
	    (test_bit(XMEM_PORTION_DIRTY, &p->flags) &&
	     (clean_only || xmem_region_in(region, skip, nr_skip))) ||
	    !xmem_portion_trylock(p))
		goto err_put;
	if (test_bit(XMEM_PORTION_DEAD, &p->flags))
		goto err_unlock;
	spin_lock(&cache->lock);
	on_lru = __xmem_lru_del(cache, p);
	spin_unlock(&cache->lock);
	if (!on_lru)
		goto err_unlock;
	/* @head holds a reference on the region. */
	kref_get(&region->ref);
	return p;

err_unlock:
	xmem_portion_unlock(p);
err_put:
	xmem_portion_put(p);
	return ERR_PTR(-EBUSY);
}

/*
 * Grow the batch of @victims[0], taken from the LRU head, into a window of
 * its region: the portions on both sides of it, as long as each is a cold
 * portion xmem_pick_neighbour() takes or no portion at all (a gap), the
 * window spans at most XMEM_BATCH_PAGES pages, and the batch holds at
 * most @max portions of @max_pages pages beyond the first.  So that one
 * pass of each PTE helper covers the batch (xmem_pager_clean_ptes()).
 * Returns the number of victims.
 */
static unsigned int xmem_pick_window(struct xmem_cache *cache,
				     bool clean_only, struct xmem_region **skip,
				     unsigned int nr_skip,
				     struct xmem_portion **victims,
				     unsigned int max, unsigned long max_pages)
{
	struct xmem_portion *head = victims[0], *p;
	struct xmem_region *region = head->region;
	pgoff_t portions = xmem_region_nr_portions(region,
						   READ_ONCE(region->nr_pages));
	pgoff_t lo = head->index, hi = head->index, index;
	unsigned long pages = head->nr_pages;
	unsigned long span = XMEM_BATCH_PAGES >> region->order;
	bool down = lo > 0, up = hi + 1 < portions, side = false;
	unsigned int n = 1;

	while ((down || up) && n < max && pages < max_pages &&
	       hi - lo + 1 < span) {
		side = up && (!down || !side);
		index = side ? hi + 1 : lo - 1;
		p = xmem_pick_neighbour(cache, head, index, clean_only, skip,
					nr_skip);
		if (!IS_ERR_OR_NULL(p) && pages + p->nr_pages > max_pages) {
			spin_lock(&cache->lock);
			__xmem_lru_add(cache, p, false);
			spin_unlock(&cache->lock);
			xmem_portion_unlock(p);
			xmem_portion_put(p);
			xmem_region_put_async(region);
			p = ERR_PTR(-E2BIG);
		}
		if (IS_ERR(p)) {
			if (side)
				up = false;
			else
				down = false;
			continue;
		}
		if (side)
			up = ++hi + 1 < portions;
		else
			down = --lo > 0;
		if (!p)
			continue;
		victims[n++] = p;
		pages += p->nr_pages;
	}
	return n;
}

/*
 * Take one batch of victims: the first portion from the head of the LRU
 * that may go, and the cold portions around it in its region
 * (xmem_pick_window()).  Victims are locked, off the LRU and referenced,
 * each holding a reference on its region (taken with
 * kref_get_unless_zero(): the portions of a region being released are
 * left to its release); at most @max portions and, beyond the first, at
 * most @max_pages pages.  With @only, portions of that region only; with
 * @clean_only, clean ones only; dirty ones of the @nr_skip regions in
 * @skip never.  Accessed or busy portions at the head go to the tail
 * instead (second chance).
 */
static unsigned int xmem_cache_pick(struct xmem_cache *cache,
				    struct xmem_region *only, bool clean_only,
				    struct xmem_region **skip,
				    unsigned int nr_skip,
				    struct xmem_portion **victims,
				    unsigned int max, unsigned long max_pages)
{
	struct list_head *head = only ? &only->lru : &cache->lru;
	struct list_head *pos, *next;
	struct xmem_portion *p;
	unsigned long scan;
	unsigned int n = 0;
	bool moved;

	spin_lock(&cache->lock);
	/* Each portion twice at most: once more after its second chance. */
	scan = 2 * (only ? atomic_long_read(&only->nr_resident) :
		    cache->nr_pages);
again:
	moved = false;
	/* Safe against the moves to the tail below, as list_for_each_safe. */
	for (pos = head->next, next = pos->next; pos != head;
	     pos = next, next = pos->next) {
		if (!scan)
			goto out;
		scan--;
		p = only ? list_entry(pos, struct xmem_portion, rlru) :
			   list_entry(pos, struct xmem_portion, lru);
		if (test_bit(XMEM_PORTION_DIRTY, &p->flags) &&
		    (clean_only || xmem_region_in(p->region, skip, nr_skip)))
			continue;
		if (test_and_clear_bit(XMEM_PORTION_ACCESSED, &p->flags) ||
		    !xmem_portion_trylock(p)) {
			__xmem_lru_rotate(cache, p);
			moved = true;
			continue;
		}
		if (!kref_get_unless_zero(&p->region->ref)) {
			xmem_portion_unlock(p);
			continue;
		}
		__xmem_lru_del(cache, p);
		refcount_inc(&p->ref);
		victims[n++] = p;
		goto out;
	}
	/* Portions moved behind the end of the walk get their second look. */
	if (moved)
		goto again;
out:
	spin_unlock(&cache->lock);
	if (!n || max == 1)
		return n;
	return xmem_pick_window(cache, clean_only, skip, nr_skip, victims, max,
				max_pages);
}

static int xmem_portion_cmp(const void *a, const void *b)
{
	const struct xmem_portion *pa = *(const struct xmem_portion **)a;
	const struct xmem_portion *pb = *(const struct xmem_portion **)b;

	if (pa->region != pb->region)
		return pa->region < pb->region ? -1 : 1;
	if (pa->index != pb->index)
		return pa->index < pb->index ? -1 : 1;
	return 0;
}

/*
 * Length of the group of portions of one region starting at @v, and in
 * *@nr the pages from the first one's start to the last one's end: the
 * window one pass over the PTEs covers.  The whole group is one window
 * when it spans at most XMEM_BATCH_PAGES pages; otherwise only a run of
 * consecutive portions is.
 */
static unsigned int xmem_window_len(struct xmem_portion **v, unsigned int n,
				    pgoff_t *nr)
{
	struct xmem_region *region = v[0]->region;
	pgoff_t first = v[0]->index << region->order;
	unsigned int len = 1, i;

	for (i = 1; i < n && v[i]->region == region; i++)
		;
	if (i > 1 && ((v[i - 1]->index << region->order) +
		      v[i - 1]->nr_pages - first) <= XMEM_BATCH_PAGES)
		len = i;
	else
		while (len < n && v[len]->region == region &&
		       v[len]->index == v[0]->index + len)
			len++;
	*nr = (v[len - 1]->index << region->order) + v[len - 1]->nr_pages -
	      first;
	return len;
}

/**
 * xmem_pager_clean_ptes() - harvest the dirty PTEs of locked portions
 * @cache: the cache
 * @v: locked portions, sorted by region and index
 * @n: number of portions, at most XMEM_BATCH
 * @unmap: eviction: remove the PTEs after the harvest; otherwise (a sync)
 *	write-protect them
 *
 * After it returns no PTE maps any page of the portions writably (or at
 * all, with @unmap), every TLB is flushed, and any write made through a
 * PTE is recorded in the portion's DIRTY bit: the dirty bits of the PTEs
 * are collected with clean_record_shared_mapping_range() and decide which
 * portions are dirty.
 *
 * The portions of a region that lie in one window of XMEM_BATCH_PAGES
 * pages are covered by one pass each (the gaps hold no portion of the
 * caller's: portions resident there when the caller took the portions
 * are locked by it, and a PTE found in a gap belongs to a portion that
 * became resident meanwhile, DIRTY before any of its PTEs was made
 * writable, so cleaning or zapping it loses nothing).  A sync costs a
 * write-protect and a clean-record pass; an eviction a clean-record pass
 * (write-protecting first would be pointless: a writable PTE has its
 * portion DIRTY already, and the unmap follows) and an unmap pass.  Each
 * flushes the TLB once per VMA in which it changed PTEs, so an eviction
 * batch costs at most two flushes per process.
 *
 * Context: process context; portions locked by the caller.
 */
VISIBLE_IF_KUNIT void xmem_pager_clean_ptes(struct xmem_cache *cache,
					    struct xmem_portion **v,
					    unsigned int n, bool unmap)
{
	DECLARE_BITMAP(dirty, XMEM_BATCH_PAGES);
	unsigned int i, j, len, passes, vmas;
	pgoff_t off, nr;

	for (i = 0; i < n; i += len) {
		struct xmem_region *region = v[i]->region;
		pgoff_t start = v[i]->index << region->order;

		len = xmem_window_len(v + i, n - i, &nr);
		if (WARN_ON_ONCE(nr > XMEM_BATCH_PAGES))
			nr = XMEM_BATCH_PAGES;
		bitmap_zero(dirty, XMEM_BATCH_PAGES);
		vmas = atomic_read(&region->nr_vmas);
		xmem_tlb_clean(cache->mapping, region->base + start, nr, dirty,
			       !unmap, &passes);
		for (j = i; j < i + len; j++) {
			off = (v[j]->index << region->order) - start;
			if (find_next_bit(dirty, off + v[j]->nr_pages, off) <
			    off + v[j]->nr_pages)
				xmem_portion_set_dirty(cache, v[j]);
		}
		if (unmap) {
			passes += xmem_tlb_unmap(cache->mapping,
						 region->base + start, nr);
			xmem_count(region, XMEM_STAT_EVICT_BATCHES, 1);
			xmem_count(region, XMEM_STAT_EVICT_TLB_FLUSHES,
				   passes * vmas);
		}
		if (passes && vmas)
			xmem_count(region, XMEM_STAT_TLB_FLUSHES, passes * vmas);
	}
}
EXPORT_SYMBOL_IF_KUNIT(xmem_pager_clean_ptes);

/*
 * Write back the dirty ones among locked portions whose PTEs are
 * write-protected or gone, sorted by region.  Each is in WRITEBACK from
 * the moment its DIRTY bit is cleared until its transfer is over.  Each
 * one written is marked in @written; each one that could not be written
 * is dirty again on return, marked in @failed, and its region's wb_err
 * records the error.  Runs under memalloc_noio: nothing it
 * allocates can recurse into I/O.  Returns 0 or -EIO.
 */
static int xmem_pager_writeback(struct xmem_cache *cache,
				struct xmem_portion **v, unsigned int n,
				unsigned long *written, unsigned long *failed)
{
	struct xmem_portion *w[XMEM_BATCH];
	DECLARE_BITMAP(wfailed, XMEM_BATCH);
	unsigned int idx[XMEM_BATCH];
	unsigned int i, j, k, start, pages;
	unsigned int noio;
	int ret = 0, err;

	noio = memalloc_noio_save();
	for (start = 0; start < n; start = i) {
		struct xmem_region *region = v[start]->region;

		k = 0;
		pages = 0;
		for (i = start; i < n && v[i]->region == region; i++) {
			if (!xmem_portion_start_writeback(cache, v[i]))
				continue;
			w[k] = v[i];
			idx[k++] = i;
			pages += v[i]->nr_pages;
		}
		if (!k)
			continue;
		bitmap_zero(wfailed, XMEM_BATCH);
		err = xmem_pager_io(region, w, k, true, wfailed);
		trace_xmem_writeback(region->name, pages, err);
		for (j = 0; j < k; j++) {
			bool bad = test_bit(j, wfailed);

			xmem_portion_end_writeback(cache, w[j], bad);
			if (!bad) {
				__set_bit(idx[j], written);
				continue;
			}
			__set_bit(idx[j], failed);
			xmem_count(region, XMEM_STAT_WRITEBACK_ERRORS,
				   w[j]->nr_pages);
		}
		if (err) {
			xmem_region_err(region, "write-back of %u pages failed: %d\n",
					pages, err);
			errseq_set(&region->wb_err, -EIO);
			ret = -EIO;
		}
	}
	memalloc_noio_restore(noio);
	return ret;
}

/*
 * Evict locked, referenced portions that are off the LRU (claim 18):
 * record dirty PTEs and unmap them with one pass each per window (unless
 * @unmapped: the caller did), write back the dirty ones, free the pages.
 * Portions of index @discard_from and beyond lose their dirty data
 * instead of being written (a region shrinking).  Portions that could not
 * be written back stay resident and dirty.  Returns the number of pages
 * freed.
 */
static unsigned long __xmem_cache_evict(struct xmem_cache *cache,
					struct xmem_portion **v, unsigned int n,
					pgoff_t discard_from, bool unmapped)
{
	DECLARE_BITMAP(written, XMEM_BATCH);
	DECLARE_BITMAP(failed, XMEM_BATCH);
	unsigned long freed = 0;
	unsigned int i;

	bitmap_zero(written, XMEM_BATCH);
	bitmap_zero(failed, XMEM_BATCH);
	sort(v, n, sizeof(*v), xmem_portion_cmp, NULL);
	if (!unmapped)
		xmem_pager_clean_ptes(cache, v, n, true);
	for (i = 0; i < n; i++)
		if (v[i]->index >= discard_from)
			xmem_portion_clear_dirty(cache, v[i]);
	xmem_pager_writeback(cache, v, n, written, failed);

	for (i = 0; i < n; i++) {
		struct xmem_portion *p = v[i];
		bool dirty = test_bit(i, written);

		if (test_bit(i, failed)) {
			xmem_lru_add(cache, p);
			xmem_portion_unlock(p);
		} else {
			if (dirty)
				xmem_count(p->region, XMEM_STAT_EVICTIONS_DIRTY, 1);
			else
				xmem_count(p->region, XMEM_STAT_EVICTIONS_CLEAN, 1);
			trace_xmem_evict(p->region->name, p->index, dirty);
			freed += p->nr_pages;
			xmem_portion_remove(cache, p);
		}
		xmem_portion_put(p);
	}
	return freed;
}

static unsigned long xmem_cache_evict(struct xmem_cache *cache,
				      struct xmem_portion **v, unsigned int n,
				      pgoff_t discard_from)
{
	return __xmem_cache_evict(cache, v, n, discard_from, false);
}

/*
 * Give the dirty victims of regions that cannot be written to now back to
 * the LRU, unevicted: reclaim must not make a fault wait io_timeout for an
 * appliance that cannot be reached.  Such regions are added to @skip
 * (*@nr_skip of XMEM_BATCH), so that the next picks pass them over.
 * Returns how many victims are left in @v, in order.
 */
static unsigned int xmem_cache_skip_unwritable(struct xmem_cache *cache,
					       struct xmem_portion **v,
					       unsigned int n,
					       struct xmem_region **skip,
					       unsigned int *nr_skip)
{
	struct xmem_region *checked = NULL;
	unsigned int i, kept = 0;
	bool writable = true;

	if (!cache->ops->writable)
		return n;
	for (i = 0; i < n; i++) {
		struct xmem_portion *p = v[i];

		if (test_bit(XMEM_PORTION_DIRTY, &p->flags)) {
			if (p->region != checked) {
				checked = p->region;
				writable = !xmem_region_in(checked, skip,
							   *nr_skip) &&
					   cache->ops->writable(checked);
				if (!writable && *nr_skip < XMEM_BATCH &&
				    !xmem_region_in(checked, skip, *nr_skip))
					skip[(*nr_skip)++] = checked;
			}
			if (!writable) {
				xmem_lru_add(cache, p);
				xmem_portion_unlock(p);
				xmem_portion_put(p);
				continue;
			}
		}
		v[kept++] = p;
	}
	return kept;
}

/**
 * xmem_cache_reclaim() - evict least recently used portions
 * @cache: the cache
 * @only: evict portions of this region only, or NULL
 * @clean_only: evict clean portions only (no transfer at all)
 * @goal: number of pages to free
 *
 * Evicts in batches until @goal pages are freed or nothing more can be:
 * busy portions are skipped, dirty ones of regions the backend cannot
 * write to now (->writable) are passed over without a transfer, and
 * dirty ones whose write-back fails stay resident.
 *
 * Context: process context, may sleep; holds no portion lock.
 * Return: the number of pages freed.
 */
unsigned long xmem_cache_reclaim(struct xmem_cache *cache,
				 struct xmem_region *only, bool clean_only,
				 unsigned long goal)
{
	struct xmem_portion *victims[XMEM_BATCH];
	struct xmem_region *regions[XMEM_BATCH];
	/* Compared with, never dereferenced: no references held. */
	struct xmem_region *unwritable[XMEM_BATCH];
	unsigned int n, i, kept, nr_unwritable = 0;
	unsigned long freed = 0, got;

	while (freed < goal) {
		n = xmem_cache_pick(cache, only, clean_only, unwritable,
				    nr_unwritable, victims, XMEM_BATCH,
				    min(goal - freed, (unsigned long)XMEM_BATCH_PAGES));
		if (!n)
			break;
		/* The victims' region references, dropped once they are. */
		for (i = 0; i < n; i++)
			regions[i] = victims[i]->region;
		kept = xmem_cache_skip_unwritable(cache, victims, n, unwritable,
						  &nr_unwritable);
		got = kept ? xmem_cache_evict(cache, victims, kept, ULONG_MAX) : 0;
		for (i = 0; i < n; i++)
			xmem_region_put_async(regions[i]);
		/* A failed write-back; or no room left to remember regions. */
		if (!got && (kept || nr_unwritable == XMEM_BATCH))
			break;
		freed += got;
	}
	return freed;
}
EXPORT_SYMBOL_IF_KUNIT(xmem_cache_reclaim);

/**
 * xmem_cache_shrink() - evict least recently used portions of any region
 * @cache: the cache
 * @goal: number of pages to free
 *
 * As xmem_cache_reclaim() for every region, dirty portions included.
 *
 * Context: process context, may sleep; holds no portion lock.
 * Return: the number of pages freed.
 */
unsigned long xmem_cache_shrink(struct xmem_cache *cache, unsigned long goal)
{
	return xmem_cache_reclaim(cache, NULL, false, goal);
}
EXPORT_SYMBOL_IF_KUNIT(xmem_cache_shrink);

/* Free pages under the limit, 0 when over it. */
static unsigned long xmem_cache_headroom(struct xmem_cache *cache,
					 unsigned long extra)
{
	unsigned long nr = READ_ONCE(cache->nr_pages) + extra;
	unsigned long limit = READ_ONCE(cache->limit_pages);

	return nr < limit ? limit - nr : 0;
}

static void xmem_reclaim_work(struct work_struct *work)
{
	struct xmem_cache *cache =
		container_of(work, struct xmem_cache, reclaim_work);
	unsigned long high = READ_ONCE(cache->wmark_high);
	unsigned long room = xmem_cache_headroom(cache, 0);

	if (room < high)
		xmem_cache_reclaim(cache, NULL, false, high - room);
}

/* Say that @need pages go over a limit: nothing could be evicted now. */
static void xmem_limit_exceeded(struct xmem_region *region,
				unsigned long need, const char *which,
				unsigned long limit)
{
	xmem_count(region, XMEM_STAT_LIMIT_EXCEEDED, need);
	xmem_region_warn(region, "over the %s local memory limit (%lu pages): nothing can be evicted now (busy, or dirty and its appliance unreachable)\n",
			 which, limit);
}

/*
 * How many pages to evict when @nr resident pages go over @limit: a batch
 * when the limit allows (a quarter of it, at most XMEM_BATCH), so that
 * the next faults find room, and one eviction window with its PTE passes
 * and its write-back serves many faults instead of one.
 */
static unsigned long xmem_evict_goal(unsigned long nr, unsigned long limit)
{
	return max(nr - limit,
		   min_t(unsigned long, XMEM_BATCH, limit / 4 + 1));
}

/*
 * Before @need pages of @region are added: evict directly what the limits
 * require, and wake the background reclaimer when the headroom is low.
 */
static void xmem_cache_make_room(struct xmem_region *region,
				 unsigned long need)
{
	struct xmem_cache *cache = region->cache;
	unsigned long rlimit = READ_ONCE(region->limit_pages);
	unsigned long nr, limit, low;

	if (rlimit) {
		nr = atomic_long_read(&region->nr_resident) + need;
		if (nr > rlimit) {
			xmem_cache_reclaim(cache, region, false,
					   xmem_evict_goal(nr, rlimit));
			if (atomic_long_read(&region->nr_resident) + need >
			    rlimit)
				xmem_limit_exceeded(region, need, "region's",
						    rlimit);
		}
	}

	nr = READ_ONCE(cache->nr_pages) + need;
	limit = READ_ONCE(cache->limit_pages);
	if (nr > limit) {
		/*
		 * If everything is busy the cache overshoots by the number
		 * of concurrent faults until the next eviction.
		 */
		xmem_cache_shrink(cache, xmem_evict_goal(nr, limit));
		if (READ_ONCE(cache->nr_pages) + need > limit)
			xmem_limit_exceeded(region, need, "cache's", limit);
	}
	low = READ_ONCE(cache->wmark_low);
	if (low && xmem_cache_headroom(cache, need) < low)
		queue_work(cache->wq, &cache->reclaim_work);
}

static void xmem_cache_default_wmarks(struct xmem_cache *cache,
				      unsigned long limit)
{
	WRITE_ONCE(cache->wmark_low, limit / 32);
	WRITE_ONCE(cache->wmark_high, limit / 16);
}

static unsigned long xmem_shrink_count(struct shrinker *s,
				       struct shrink_control *sc)
{
	struct xmem_cache *cache = xmem_shrinker_priv(s);
	unsigned long nr = READ_ONCE(cache->nr_pages);
	unsigned long dirty = atomic_long_read(&cache->nr_dirty);

	return nr > dirty ? nr - dirty : 0;
}

static unsigned long xmem_shrink_scan(struct shrinker *s,
				      struct shrink_control *sc)
{
	struct xmem_cache *cache = xmem_shrinker_priv(s);
	unsigned long freed;

	/* Cleaning PTEs takes i_mmap_rwsem, as reclaim's rmap walks do. */
	if (!(sc->gfp_mask & __GFP_FS))
		return SHRINK_STOP;
	freed = xmem_cache_reclaim(cache, NULL, true, sc->nr_to_scan);
	return freed ?: SHRINK_STOP;
}

/**
 * xmem_cache_init() - set up the local cache
 * @cache: the cache
 * @mapping: the device's shared address space, or NULL without mappings
 * @ops: backend
 * @limit: local memory limit in pages, at least 1
 *
 * Portion size one page, readahead up to 512 KiB, watermarks at 1/32 and
 * 1/16 of the limit.  Undo with xmem_cache_destroy().
 *
 * Context: process context.
 * Return: 0 or -ENOMEM.
 */
int xmem_cache_init(struct xmem_cache *cache, struct address_space *mapping,
		    const struct xmem_backend_ops *ops, unsigned long limit)
{
	memset(cache, 0, sizeof(*cache));
	cache->mapping = mapping;
	cache->ops = ops;
	spin_lock_init(&cache->lock);
	INIT_LIST_HEAD(&cache->lru);
	INIT_WORK(&cache->reclaim_work, xmem_reclaim_work);
	cache->limit_pages = max(limit, 1UL);
	xmem_cache_default_wmarks(cache, cache->limit_pages);
	cache->portion_shift = PAGE_SHIFT;
	cache->ra_max_pages = XMEM_RA_DEFAULT >> PAGE_SHIFT;
	cache->stats.cpu = alloc_percpu(struct xmem_stats_cpu);
	if (!cache->stats.cpu)
		goto err_stats;
	cache->fault_lat = alloc_percpu(struct xmem_lat_cpu);
	if (!cache->fault_lat)
		goto err_lat;
	/* Reclaim and readahead must make progress under memory pressure. */
	cache->wq = alloc_workqueue("xmem", WQ_UNBOUND | WQ_MEM_RECLAIM, 0);
	if (!cache->wq)
		goto err_wq;
	return 0;

err_wq:
	free_percpu(cache->fault_lat);
err_lat:
	free_percpu(cache->stats.cpu);
err_stats:
	return -ENOMEM;
}
EXPORT_SYMBOL_IF_KUNIT(xmem_cache_init);

/**
 * xmem_cache_register_shrinker() - let the kernel reclaim clean portions
 * @cache: the cache, set up with xmem_cache_init()
 *
 * Context: process context.
 * Return: 0 or a negative errno.
 */
int xmem_cache_register_shrinker(struct xmem_cache *cache)
{
	struct shrinker *s;
	int ret;

	s = xmem_shrinker_alloc("xmem", cache);
	if (!s)
		return -ENOMEM;
	s->count_objects = xmem_shrink_count;
	s->scan_objects = xmem_shrink_scan;
	ret = xmem_shrinker_register(s, "xmem");
	if (ret)
		return ret;
	cache->shrinker = s;
	return 0;
}

/**
 * xmem_cache_destroy() - tear the cache down
 * @cache: the cache; every region is gone
 *
 * Waits for the background reclaimer and readahead in flight.
 *
 * Context: process context.
 */
void xmem_cache_destroy(struct xmem_cache *cache)
{
	if (cache->shrinker)
		xmem_shrinker_free(cache->shrinker);
	cache->shrinker = NULL;
	destroy_workqueue(cache->wq);
	free_percpu(cache->fault_lat);
	free_percpu(cache->stats.cpu);
}
EXPORT_SYMBOL_IF_KUNIT(xmem_cache_destroy);

/**
 * xmem_cache_set_limit() - change the local memory limit
 * @cache: the cache
 * @pages: new limit in pages, at least 1
 *
 * Evicts at once down to the new limit, and sets the watermarks to their
 * defaults for it (1/32 and 1/16 of the limit).
 *
 * Context: process context, may sleep.
 * Return: 0, -EINVAL for a zero limit, or -EBUSY if the cache could not be
 * brought under the new limit (busy or unwritable pages); the limit is
 * set all the same.
 */
int xmem_cache_set_limit(struct xmem_cache *cache, unsigned long pages)
{
	unsigned long nr;

	if (!pages)
		return -EINVAL;
	WRITE_ONCE(cache->limit_pages, pages);
	xmem_cache_default_wmarks(cache, pages);
	nr = READ_ONCE(cache->nr_pages);
	if (nr > pages && xmem_cache_shrink(cache, nr - pages) < nr - pages)
		return -EBUSY;
	return 0;
}
EXPORT_SYMBOL_IF_KUNIT(xmem_cache_set_limit);

/**
 * xmem_cache_set_watermarks() - set the background reclaimer's watermarks
 * @cache: the cache
 * @low: start when fewer pages than this are free under the limit; 0
 *	turns background reclaim off
 * @high: stop when this many are free
 *
 * Context: any.
 * Return: 0, or -EINVAL unless @low <= @high < the limit.
 */
int xmem_cache_set_watermarks(struct xmem_cache *cache, unsigned long low,
			      unsigned long high)
{
	if (low > high || high >= READ_ONCE(cache->limit_pages))
		return -EINVAL;
	WRITE_ONCE(cache->wmark_low, low);
	WRITE_ONCE(cache->wmark_high, high);
	return 0;
}
EXPORT_SYMBOL_IF_KUNIT(xmem_cache_set_watermarks);

/**
 * xmem_region_init() - set up a region
 * @region: the region, zeroed; @free and @priv are the caller's to set
 * @cache: the cache it uses
 * @name: its name
 * @nr_pages: its size in pages
 * @base: page offset of its page 0 in the cache's mapping
 *
 * The region's portions have the cache's current portion size.  The
 * caller owns the one reference, and drops it with xmem_region_put()
 * whether this succeeded or not.
 *
 * Context: process context.
 * Return: 0, or -ENOMEM if its counters could not be allocated.
 */
int xmem_region_init(struct xmem_region *region, struct xmem_cache *cache,
		     const char *name, pgoff_t nr_pages, pgoff_t base)
{
	kref_init(&region->ref);
	region->cache = cache;
	strscpy(region->name, name, sizeof(region->name));
	region->nr_pages = nr_pages;
	region->base = base;
	region->order = READ_ONCE(cache->portion_shift) - PAGE_SHIFT;
	xa_init(&region->portions);
	xa_init(&region->written);
	INIT_LIST_HEAD(&region->lru);
	atomic_long_set(&region->nr_resident, 0);
	region->wb_err = 0;
	atomic_set(&region->nr_vmas, 0);
	init_rwsem(&region->hold);
	region->stats.cpu = alloc_percpu(struct xmem_stats_cpu);
	return region->stats.cpu ? 0 : -ENOMEM;
}
EXPORT_SYMBOL_IF_KUNIT(xmem_region_init);

/**
 * xmem_region_get() - take a reference on a region
 * @region: the region
 *
 * Context: any.
 */
void xmem_region_get(struct xmem_region *region)
{
	kref_get(&region->ref);
}
EXPORT_SYMBOL_IF_KUNIT(xmem_region_get);

static void xmem_region_release(struct kref *ref)
{
	struct xmem_region *region =
		container_of(ref, struct xmem_region, ref);
	struct xmem_cache *cache = region->cache;
	unsigned long index, lost = 0, *chunk;
	struct xmem_portion *p;

	xmem_region_sysfs_del(region);
	/*
	 * The owner wrote back and dropped the portions before its last
	 * put; what is left could not be written back.  Whoever locks a
	 * portion holds a reference on its region (the evictor's victims
	 * theirs, taken with kref_get_unless_zero()), so none is locked now
	 * and none can be any more once it is off the LRU.
	 */
	xa_for_each(&region->portions, index, p) {
		if (test_bit(XMEM_PORTION_DIRTY, &p->flags))
			lost += p->nr_pages;
		spin_lock(&cache->lock);
		__xmem_lru_del(cache, p);
		spin_unlock(&cache->lock);
		if (WARN_ON_ONCE(!xmem_portion_trylock(p)))
			wait_on_bit_lock(&p->flags, XMEM_PORTION_LOCKED,
					 TASK_UNINTERRUPTIBLE);
		xmem_portion_remove(cache, p);
	}
	if (lost)
		pr_err("region %s: %lu dirty pages could not be written back and are lost\n",
		       region->name, lost);
	xa_destroy(&region->portions);
	xa_for_each(&region->written, index, chunk)
		kfree(chunk);
	xa_destroy(&region->written);
	free_percpu(region->stats.cpu);
	region->free(region);
}

static void xmem_region_release_work(struct work_struct *work)
{
	xmem_region_release(&container_of(work, struct xmem_region,
					  release_work)->ref);
}

/*
 * The last reference of a region dropped by the evictor: reclaim may run
 * in the shrinker, under locks of the task that allocates, where the
 * release (sysfs removal, the owner's free) has no business; it runs on
 * the pager's workqueue instead.
 */
static void xmem_region_release_async(struct kref *ref)
{
	struct xmem_region *region =
		container_of(ref, struct xmem_region, ref);

	INIT_WORK(&region->release_work, xmem_region_release_work);
	queue_work(region->cache->wq, &region->release_work);
}

/*
 * Drop a reference with @release for the last one; else wake whoever
 * waits in xmem_region_wait_refs().  Only the address of @region is used
 * after the drop: another task may free it at once.
 */
static void __xmem_region_put(struct xmem_region *region,
			      void (*release)(struct kref *ref))
{
	void *var = &region->ref;

	if (kref_put(&region->ref, release))
		return;
	/* The count is read after the waiter queued: see wake_up_var(). */
	smp_mb__after_atomic();
	wake_up_var(var);
}

/* As xmem_region_put(), with the release on the pager's workqueue. */
static void xmem_region_put_async(struct xmem_region *region)
{
	__xmem_region_put(region, xmem_region_release_async);
}

/**
 * xmem_region_put() - drop a reference; the last one frees the region
 * @region: the region
 *
 * Context: process context.  The last reference is dropped only after
 * xmem_region_drop(): no page of the region may be in use any more.
 */
void xmem_region_put(struct xmem_region *region)
{
	__xmem_region_put(region, xmem_region_release);
}
EXPORT_SYMBOL_IF_KUNIT(xmem_region_put);

/**
 * xmem_region_wait_refs() - wait until a region has few references left
 * @region: the region, referenced by the caller
 * @held: the references the caller knows of, its own included
 * @timeout: how long to wait, in jiffies
 *
 * The pager's own users of a region (a readahead work item, an evictor,
 * a fault) each hold a reference for a transfer at most; its owner waits
 * here for them to end before the region goes away, once nothing new can
 * start (no file, no mapping).
 *
 * Context: process; sleeps killably.
 * Return: 0 when at most @held references are left; -EINTR if a fatal
 * signal came first; -EBUSY after @timeout.
 */
int xmem_region_wait_refs(struct xmem_region *region, unsigned int held,
			  unsigned long timeout)
{
	long ret;

	ret = wait_event_killable_timeout(*__var_waitqueue(&region->ref),
					  kref_read(&region->ref) <= held,
					  timeout);
	if (ret < 0)
		return -EINTR;
	return ret ? 0 : -EBUSY;
}
EXPORT_SYMBOL_IF_KUNIT(xmem_region_wait_refs);

/* The next entry at most @max marked @mark, or any with XA_PRESENT. */
static void *xmem_xas_find(struct xa_state *xas, unsigned long max,
			   xa_mark_t mark)
{
	if (mark == XA_PRESENT)
		return xas_find(xas, max);
	return xas_find_marked(xas, max, mark);
}

/*
 * Lock portions of @region from portion index *@next to @last (those
 * marked @mark only, or all with XA_PRESENT), in index order, at most
 * XMEM_BATCH of at most XMEM_BATCH_PAGES pages beyond the first, and
 * advance *@next.  Locking in index order keeps two such callers from
 * deadlocking.  Returns how many are locked in @v, or -EINTR if the task
 * was killed (none is locked then).
 */
static int xmem_region_lock_batch(struct xmem_region *region, pgoff_t *next,
				  pgoff_t last, xa_mark_t mark,
				  struct xmem_portion **v)
{
	XA_STATE(xas, &region->portions, *next);
	struct xmem_portion *p;
	unsigned int n = 0, i, kept = 0, pages = 0;
	bool only_dirty = mark == XMEM_MARK_DIRTY;

	*next = last + 1;
	xas_lock(&xas);
	for (p = xmem_xas_find(&xas, last, mark); p;
	     p = xmem_xas_find(&xas, last, mark)) {
		if (n == XMEM_BATCH ||
		    (n && pages + p->nr_pages > XMEM_BATCH_PAGES)) {
			*next = xas.xa_index;
			break;
		}
		refcount_inc(&p->ref);
		v[n++] = p;
		pages += p->nr_pages;
	}
	xas_unlock(&xas);

	for (i = 0; i < n; i++) {
		p = v[i];
		if (xmem_portion_lock(p)) {
			while (kept)
				xmem_pager_unlock(v[--kept]);
			for (; i < n; i++)
				xmem_portion_put(v[i]);
			return -EINTR;
		}
		if (test_bit(XMEM_PORTION_DEAD, &p->flags) ||
		    (only_dirty && !test_bit(XMEM_PORTION_DIRTY, &p->flags))) {
			xmem_pager_unlock(p);
			continue;
		}
		v[kept++] = p;
	}
	return kept;
}

/*
 * Wait until no portion of @region from portion index @first to @last is
 * in a write-back that started before the call.  Returns the number of
 * write-backs waited for, or -EINTR.
 */
static int xmem_region_wait_writeback(struct xmem_region *region,
				      pgoff_t first, pgoff_t last)
{
	XA_STATE(xas, &region->portions, first);
	struct xmem_portion *p;
	pgoff_t index;
	int ret, waited = 0;

	for (;;) {
		xas_lock(&xas);
		p = xas_find_marked(&xas, last, XMEM_MARK_WRITEBACK);
		if (p)
			refcount_inc(&p->ref);
		xas_unlock(&xas);
		if (!p)
			return waited;
		waited++;
		index = xas.xa_index;
		ret = wait_on_bit(&p->flags, XMEM_PORTION_WRITEBACK,
				  TASK_KILLABLE);
		xmem_portion_put(p);
		if (ret)
			return -EINTR;
		/*
		 * A write-back of this portion started later covers only
		 * writes made after the one waited for began: go on.
		 */
		if (index >= last)
			return waited;
		xas_set(&xas, index + 1);
	}
}

/**
 * xmem_region_wb_sample() - the write-back error state a new syncer starts
 * from
 * @region: the region
 *
 * A file bound to @region keeps this and passes it to xmem_region_sync(),
 * which then reports every write-back error of the region that occurs
 * from now on, once.
 *
 * Context: any.
 * Return: the sample, for xmem_region_sync()'s @since.
 */
errseq_t xmem_region_wb_sample(struct xmem_region *region)
{
	return errseq_sample(&region->wb_err);
}
EXPORT_SYMBOL_IF_KUNIT(xmem_region_wb_sample);

/*
 * Write back the portions of @region from portion index @first to @last
 * that are dirty.  Returns 0, -EIO if a write-back failed, or -EINTR.
 */
static int xmem_region_sync_dirty(struct xmem_region *region, pgoff_t first,
				  pgoff_t last)
{
	struct xmem_cache *cache = region->cache;
	struct xmem_portion *v[XMEM_BATCH];
	DECLARE_BITMAP(written, XMEM_BATCH);
	DECLARE_BITMAP(failed, XMEM_BATCH);
	pgoff_t next = first;
	int ret = 0, n, i;

	while (next <= last) {
		n = xmem_region_lock_batch(region, &next, last,
					   XMEM_MARK_DIRTY, v);
		if (n < 0)
			return n;
		if (!n)
			continue;
		bitmap_zero(written, XMEM_BATCH);
		bitmap_zero(failed, XMEM_BATCH);
		xmem_pager_clean_ptes(cache, v, n, false);
		if (xmem_pager_writeback(cache, v, n, written, failed))
			ret = -EIO;
		for (i = 0; i < n; i++)
			xmem_pager_unlock(v[i]);
	}
	return ret;
}

/**
 * xmem_region_sync() - write back the dirty pages of a range
 * @region: the region
 * @first: first page index
 * @last: last page index, inclusive
 * @since: the caller's sample of the region's write-back errors
 *	(xmem_region_wb_sample()), checked and advanced; or NULL to learn
 *	only whether the range's data is on the appliance
 *
 * Every page of the range written before the call is on the appliance
 * when it returns 0: dirty portions are written back, write-backs already
 * in flight (an eviction, another sync) are waited for, and those of them
 * that failed are tried again.  Pages stay resident and mapped (read-only
 * until the next write).  Whole portions are written.
 *
 * Context: process context, may sleep (killable); no portion lock held.
 * Return: 0; -EIO if a write-back of the range failed during the call or,
 * with @since, a write-back anywhere in the region failed since @since
 * was sampled or last advanced (the data stays dirty in the cache, and the
 * next sync tries again); -EINTR if the task was killed.
 */
int xmem_region_sync(struct xmem_region *region, pgoff_t first, pgoff_t last,
		     errseq_t *since)
{
	pgoff_t nr_pages = READ_ONCE(region->nr_pages);
	pgoff_t pfirst = first >> region->order;
	pgoff_t plast = min(last, nr_pages - 1) >> region->order;
	int ret = 0, err;

	if (pfirst <= plast) {
		ret = xmem_region_sync_dirty(region, pfirst, plast);
		if (ret == -EINTR)
			return ret;
		/*
		 * A portion whose DIRTY bit another task cleared before the
		 * walk above is in WRITEBACK until its transfer is over: wait
		 * for it.  (One that went from DIRTY to WRITEBACK during the
		 * walk was locked by the walk, and so waited for.)  Those
		 * that failed are dirty again: one more walk retries them.
		 */
		err = xmem_region_wait_writeback(region, pfirst, plast);
		if (err > 0)
			err = xmem_region_sync_dirty(region, pfirst, plast);
		if (err == -EINTR)
			return err;
		ret = ret ?: err;
	}
	err = since ? errseq_check_and_advance(&region->wb_err, since) : 0;
	return ret ?: err;
}
EXPORT_SYMBOL_IF_KUNIT(xmem_region_sync);

/**
 * xmem_region_hold() - keep writers out of a region and write it back
 * @region: the region
 *
 * Waits for write faults in progress, then keeps new ones waiting (in
 * ->fault and ->pfn_mkwrite, killable) until xmem_region_unhold(), and
 * writes back every dirty page: every PTE is read-only then, so the
 * appliance's copy is the region's content at one instant and stays so
 * while held.  Reads go on.
 *
 * Context: process context, may sleep; no portion lock held, and not in
 * a fault on @region.
 * Return: 0 with the region held; -EINTR (fatal signal) or -EIO (a
 * write-back failed) without.
 */
int xmem_region_hold(struct xmem_region *region)
{
	int ret;

	if (down_write_killable(&region->hold))
		return -EINTR;
	ret = xmem_region_sync(region, 0, ULONG_MAX - 1, NULL);
	if (ret)
		up_write(&region->hold);
	return ret;
}

/**
 * xmem_region_unhold() - let writers of a held region go on
 * @region: a region held by xmem_region_hold()
 *
 * Context: process context.
 */
void xmem_region_unhold(struct xmem_region *region)
{
	up_write(&region->hold);
}

/*
 * Evict every resident portion of @region from portion index @from on,
 * in batches of xmem_region_lock_batch().  Dirty ones are written back
 * unless their index is @discard_from or more; with @keep_dirty they are
 * neither written nor discarded but stay resident and dirty (their PTEs
 * unmapped, their dirty bits collected).  Returns 0, -EIO if some stay
 * resident after a failed write-back, -EBUSY if @keep_dirty kept some, or
 * -EINTR if the task was killed (portions not reached yet stay cached).
 */
static int xmem_region_evict_range(struct xmem_region *region, pgoff_t from,
				   pgoff_t discard_from, bool keep_dirty)
{
	struct xmem_cache *cache = region->cache;
	struct xmem_portion *v[XMEM_BATCH];
	unsigned int i, kept;
	unsigned long pages;
	pgoff_t next = from;
	int ret = 0, n;

	while (next != ULONG_MAX) {
		n = xmem_region_lock_batch(region, &next, ULONG_MAX - 1,
					   XA_PRESENT, v);
		if (n < 0)
			return n;
		if (!n)
			continue;
		spin_lock(&cache->lock);
		for (i = 0; i < n; i++)
			__xmem_lru_del(cache, v[i]);
		spin_unlock(&cache->lock);
		if (keep_dirty)
			xmem_pager_clean_ptes(cache, v, n, true);
		for (i = 0, kept = 0, pages = 0; i < n; i++) {
			struct xmem_portion *p = v[i];

			if (!keep_dirty ||
			    !test_bit(XMEM_PORTION_DIRTY, &p->flags)) {
				v[kept++] = p;
				pages += p->nr_pages;
				continue;
			}
			xmem_lru_add(cache, p);
			xmem_portion_unlock(p);
			xmem_portion_put(p);
			ret = -EBUSY;
		}
		if (kept && __xmem_cache_evict(cache, v, kept, discard_from,
					       keep_dirty) < pages)
			ret = -EIO;
	}
	return ret;
}

/**
 * xmem_region_drop() - evict every resident page of a region
 * @region: the region
 *
 * Dirty pages are written back first; pages that cannot be stay resident.
 *
 * Context: process context, may sleep; no portion lock held.
 * Return: 0, or -EIO if some pages stay resident after a failed
 * write-back.
 */
int xmem_region_drop(struct xmem_region *region)
{
	return xmem_region_evict_range(region, 0, ULONG_MAX, false);
}
EXPORT_SYMBOL_IF_KUNIT(xmem_region_drop);

/**
 * xmem_region_track_zeroes() - fill never-written pages without reading them
 * @region: a region this client has just created, not mapped yet
 *
 * From now on the pager remembers which pages of @region it starts to
 * write back, and a fetch fills every page below the current size that
 * it never wrote with zeroes instead of reading it, as long as the
 * backend's ->zero_ok() says that nobody else can have written it.
 * A grow extends the tracking to the new pages (xmem_region_resize()),
 * as long as it was not forgotten.  The memory is a bit per page (32 KiB
 * per GiB of region).
 *
 * Context: process context, may sleep; before the region is used.
 * Return: 0, or -ENOMEM (then the region is simply read as before).
 */
int xmem_region_track_zeroes(struct xmem_region *region)
{
	unsigned long nr = region->nr_pages;

	if (xmem_written_alloc(region, 0, nr))
		return -ENOMEM;
	/* The chunks first: see xmem_written_chunk(). */
	smp_store_release(&region->zero_pages, nr);
	return 0;
}
EXPORT_SYMBOL_IF_KUNIT(xmem_region_track_zeroes);

/**
 * xmem_region_forget_zeroes() - read every page again from now on
 * @region: the region
 *
 * For when the appliance's copy may have changed behind this client:
 * another client may have written it (a reconnection, a hand-off), or it
 * was filled from elsewhere (a snapshot into it, a move to another
 * appliance).  A fetch already past its check may still fill zeroes: the
 * callers change the region's data only with its transfers held off.
 *
 * Context: any.
 */
void xmem_region_forget_zeroes(struct xmem_region *region)
{
	WRITE_ONCE(region->zero_pages, 0);
}
EXPORT_SYMBOL_IF_KUNIT(xmem_region_forget_zeroes);

/**
 * xmem_region_discard() - drop every cached page of a region, dirty or not
 * @region: the region, which nothing maps any more
 *
 * For a region about to be destroyed on the appliance (a temporary copy
 * whose last user went): its dirty pages are dropped, not written back.
 *
 * Context: process context, may sleep; no portion lock held.
 * Return: 0, or -EINTR if the task was killed (portions not reached yet
 * stay cached).
 */
int xmem_region_discard(struct xmem_region *region)
{
	return xmem_region_evict_range(region, 0, 0, false);
}
EXPORT_SYMBOL_IF_KUNIT(xmem_region_discard);

/**
 * xmem_region_invalidate() - drop the clean cached pages of a region
 * @region: the region
 *
 * The hand-off of a region between two clients (a VM migrating): another
 * client has written the region back, and what this one cached earlier
 * may be stale.  Every clean portion is unmapped (its PTEs zapped, so the
 * next access faults and fetches it again) and freed without a transfer.
 * A dirty portion is never written back here, since that could overwrite
 * the other client's newer data, and never discarded: it stays resident
 * and dirty, and the call fails.  Dirty bits still in PTEs are collected
 * first.  Portions are taken with the portion lock, so none is in a fault
 * or a write-back while it is looked at; a page faulted in again while
 * the call runs was fetched after it started.
 *
 * Context: process context, may sleep; no portion lock held.
 * Return: 0, -EBUSY if dirty pages stay resident (every clean one is
 * dropped all the same), or -EINTR if the task was killed (portions not
 * reached yet stay cached).
 */
int xmem_region_invalidate(struct xmem_region *region)
{
	xmem_region_forget_zeroes(region);
	return xmem_region_evict_range(region, 0, ULONG_MAX, true);
}
EXPORT_SYMBOL_IF_KUNIT(xmem_region_invalidate);

/**
 * xmem_region_resize() - change the size of a region in the cache
 * @region: the region
 * @nr_pages: its new size in pages, at least 1
 * @writeback: when shrinking, write the dirty pages of the removed range
 *	back (true) or discard them (false)
 *
 * From the call on, a fault on a page at or past @nr_pages gets SIGBUS.
 * Shrinking unmaps and evicts every portion that reaches past the new
 * end; the part below the new end of a portion cut in two is always
 * written back.  Growing evicts the last portion if it was short.  The
 * caller changes the appliance's side: after a shrink returned 0, nothing
 * of the removed range is cached or will be written any more.
 *
 * A grow of a region whose never-written pages are tracked (see
 * xmem_region_track_zeroes()) tracks the new pages too: the caller grew
 * the region on the appliance, which gives new memory zeroed, and
 * nobody else writes a region held alone.  Without memory for their
 * bits, the new pages are read.
 *
 * Context: process context, may sleep; no portion lock held; the caller
 * serialises resizes of a region, and grows it here only after it grew
 * on the appliance.
 * Return: 0, -EINVAL for a zero size, or -EIO if a shrink could not write
 * back dirty pages: the region then keeps its old size.
 */
int xmem_region_resize(struct xmem_region *region, pgoff_t nr_pages,
		       bool writeback)
{
	unsigned long zero = READ_ONCE(region->zero_pages);
	pgoff_t old, from, discard;
	int ret;

	if (!nr_pages)
		return -EINVAL;
	/*
	 * Before the new pages can be faulted or written: each page below
	 * zero_pages gets its bit set before its first write-back.  Only a
	 * region tracked whole (none of its pages was ever written untracked)
	 * and only if the tracking is not forgotten meanwhile.
	 */
	if (zero && zero >= READ_ONCE(region->nr_pages) && nr_pages > zero &&
	    !xmem_written_alloc(region, zero, nr_pages))
		cmpxchg_release(&region->zero_pages, zero, nr_pages);
	xa_lock(&region->portions);
	old = region->nr_pages;
	WRITE_ONCE(region->nr_pages, nr_pages);
	xa_unlock(&region->portions);
	if (nr_pages == old)
		return 0;

	from = min(old, nr_pages) >> region->order;
	/* The first portion wholly past the new end. */
	discard = xmem_region_nr_portions(region, nr_pages);
	ret = xmem_region_evict_range(region, from,
				      writeback ? ULONG_MAX : discard, false);
	if (ret && nr_pages < old) {
		xa_lock(&region->portions);
		WRITE_ONCE(region->nr_pages, old);
		xa_unlock(&region->portions);
		xmem_region_err(region, "shrink to %lu pages failed: write-back error\n",
				nr_pages);
		return -EIO;
	}
	return 0;
}
EXPORT_SYMBOL_IF_KUNIT(xmem_region_resize);

/**
 * xmem_region_set_limit() - limit the local memory one region may use
 * @region: the region
 * @pages: the limit in pages; 0 leaves only the cache's limit
 *
 * Evicts the region's least recently used portions at once down to the
 * new limit.
 *
 * Context: process context, may sleep.
 * Return: 0, or -EBUSY if busy or unwritable pages keep the region above
 * the new limit for now (the limit is set all the same).
 */
int xmem_region_set_limit(struct xmem_region *region, unsigned long pages)
{
	unsigned long nr;

	WRITE_ONCE(region->limit_pages, pages);
	nr = atomic_long_read(&region->nr_resident);
	if (pages && nr > pages &&
	    xmem_cache_reclaim(region->cache, region, false, nr - pages) <
	    nr - pages)
		return -EBUSY;
	return 0;
}
EXPORT_SYMBOL_IF_KUNIT(xmem_region_set_limit);

/**
 * xmem_region_counts() - resident and dirty pages of a region
 * @region: the region
 * @resident: out, resident pages
 * @dirty: out, dirty pages among them
 *
 * Context: any; takes the region's xa_lock.
 */
void xmem_region_counts(struct xmem_region *region, unsigned long *resident,
			unsigned long *dirty)
{
	XA_STATE(xas, &region->portions, 0);
	struct xmem_portion *p;

	*resident = 0;
	*dirty = 0;
	xas_lock(&xas);
	xas_for_each(&xas, p, ULONG_MAX) {
		*resident += p->nr_pages;
		if (test_bit(XMEM_PORTION_DIRTY, &p->flags))
			*dirty += p->nr_pages;
	}
	xas_unlock(&xas);
}
EXPORT_SYMBOL_IF_KUNIT(xmem_region_counts);

/*
 * Find or fetch the portion holding page @index, locked; *@hit says
 * whether it was resident (or being read ahead).
 */
static struct xmem_portion *__xmem_pager_get(struct xmem_region *region,
					     pgoff_t index, bool *hit)
{
	struct xmem_cache *cache = region->cache;
	unsigned long failed = 0;
	struct xmem_portion *p;
	unsigned int nr;
	pgoff_t pidx;
	int ret;

	pidx = index >> region->order;
again:
	nr = xmem_portion_span(region, pidx, READ_ONCE(region->nr_pages));
	if (!nr || index >= READ_ONCE(region->nr_pages))
		return ERR_PTR(-EINVAL);
	p = xmem_portion_lookup(region, pidx);
	if (p) {
		if (xmem_portion_lock(p)) {
			xmem_portion_put(p);
			return ERR_PTR(-EINTR);
		}
		if (test_bit(XMEM_PORTION_DEAD, &p->flags)) {
			xmem_pager_unlock(p);
			goto again;
		}
		nr = xmem_portion_span(region, pidx,
				       READ_ONCE(region->nr_pages));
		if (p->nr_pages < nr) {
			/*
			 * The region grew, and this was its short last
			 * portion: write it back and fetch it whole.
			 */
			spin_lock(&cache->lock);
			__xmem_lru_del(cache, p);
			spin_unlock(&cache->lock);
			if (!xmem_cache_evict(cache, &p, 1, ULONG_MAX))
				return ERR_PTR(-EIO);
			goto again;
		}
		if (test_and_clear_bit(XMEM_PORTION_READAHEAD, &p->flags))
			xmem_count(region, XMEM_STAT_READAHEAD_HITS, 1);
		set_bit(XMEM_PORTION_ACCESSED, &p->flags);
		xmem_count(region, XMEM_STAT_CACHE_HITS, 1);
		*hit = true;
		return p;
	}

	xmem_cache_make_room(region, nr);
	p = xmem_portion_alloc(region, pidx, nr, GFP_KERNEL);
	if (!p)
		return ERR_PTR(-ENOMEM);
	ret = xmem_portion_insert(region, p);
	if (ret) {
		xmem_portion_free(p);
		if (ret == -EBUSY || ret == -EAGAIN)
			goto again;
		return ERR_PTR(ret);
	}

	ret = xmem_pager_io(region, &p, 1, false, &failed);
	trace_xmem_fetch(region->name, pidx, 1, false, ret);
	if (ret) {
		xmem_region_err(region, "cannot read page %lu: %d\n",
				index, ret);
		xmem_portion_remove(cache, p);
		xmem_portion_put(p);
		return ERR_PTR(ret);
	}
	set_bit(XMEM_PORTION_ACCESSED, &p->flags);
	xmem_lru_add(cache, p);
	*hit = false;
	return p;
}

/**
 * xmem_pager_get() - find or fetch the portion holding a page, locked
 * @region: the region
 * @index: page index in the region
 *
 * Two tasks asking for the same portion cause one fetch: the second waits
 * for the first.  The portion is returned locked, up to date, marked
 * accessed and referenced; release it with xmem_pager_unlock().
 *
 * Context: process context, may sleep (killable); no portion lock held.
 * Return: the portion, or ERR_PTR(): -EINVAL (index out of range),
 * -ENOMEM, -EINTR (killed while waiting for the portion), or the
 * backend's error (-EIO, -ENOTCONN).
 */
struct xmem_portion *xmem_pager_get(struct xmem_region *region,
				    pgoff_t index)
{
	bool hit;

	return __xmem_pager_get(region, index, &hit);
}
EXPORT_SYMBOL_IF_KUNIT(xmem_pager_get);

/**
 * xmem_pager_unlock() - release a portion returned by xmem_pager_get()
 * @portion: the portion
 *
 * Context: any context that may wake tasks.
 */
void xmem_pager_unlock(struct xmem_portion *portion)
{
	xmem_portion_unlock(portion);
	xmem_portion_put(portion);
}
EXPORT_SYMBOL_IF_KUNIT(xmem_pager_unlock);

/**
 * xmem_ra_window() - the readahead decision for one fault
 * @ra: the file's readahead state: prev_pos is the last portion faulted
 *	on, start the first portion not requested yet, size the window
 * @index: the portion faulted on
 * @nr_portions: portions in the region
 * @max: largest window, in portions (0: no readahead)
 * @start: out, first portion to request
 *
 * A fault on the portion after the previous one is sequential: when no
 * more than half of the window is left ahead of it, the window doubles
 * (from XMEM_RA_INIT, up to @max) and is requested up to @index + size.
 * Any other fault but one on the same portion closes the window.
 *
 * Context: any; @ra is updated without a lock (it is only a hint).
 * Return: the number of portions to request from *@start on.
 */
VISIBLE_IF_KUNIT unsigned int xmem_ra_window(struct file_ra_state *ra,
					     pgoff_t index,
					     pgoff_t nr_portions,
					     unsigned int max, pgoff_t *start)
{
	pgoff_t prev = (pgoff_t)READ_ONCE(ra->prev_pos);
	pgoff_t next, end;
	unsigned int size;

	if (index == prev)
		return 0;
	WRITE_ONCE(ra->prev_pos, index);
	if (!max || index != prev + 1) {
		WRITE_ONCE(ra->size, 0);
		WRITE_ONCE(ra->start, index + 1);
		return 0;
	}
	next = max_t(pgoff_t, READ_ONCE(ra->start), index + 1);
	size = READ_ONCE(ra->size);
	if (size && next - (index + 1) > size / 2)
		return 0;
	size = size ? min(2 * size, max) : min(XMEM_RA_INIT, max);
	WRITE_ONCE(ra->size, size);
	end = min_t(pgoff_t, index + 1 + size, nr_portions);
	if (next >= end)
		return 0;
	WRITE_ONCE(ra->start, end);
	*start = next;
	return end - next;
}
EXPORT_SYMBOL_IF_KUNIT(xmem_ra_window);

/**
 * struct xmem_ra_req - portions being read ahead by one work item
 * @work: runs xmem_ra_work() on the cache's workqueue
 * @region: their region, referenced
 * @n: number of portions
 * @v: the portions, locked, published in the region, off the LRU
 */
struct xmem_ra_req {
	struct work_struct work;
	struct xmem_region *region;
	unsigned int n;
	struct xmem_portion *v[XMEM_BATCH];
};

static void xmem_ra_work(struct work_struct *work)
{
	struct xmem_ra_req *req = container_of(work, struct xmem_ra_req, work);
	struct xmem_region *region = req->region;
	struct xmem_cache *cache = region->cache;
	DECLARE_BITMAP(failed, XMEM_BATCH);
	unsigned int i;
	int ret;

	bitmap_zero(failed, XMEM_BATCH);
	ret = xmem_pager_io(region, req->v, req->n, false, failed);
	trace_xmem_fetch(region->name, req->v[0]->index, req->n, true, ret);
	for (i = 0; i < req->n; i++) {
		struct xmem_portion *p = req->v[i];

		if (test_bit(i, failed)) {
			/* A fault will fetch it, and report the error. */
			xmem_portion_remove(cache, p);
		} else {
			xmem_lru_add(cache, p);
			xmem_portion_unlock(p);
		}
		xmem_portion_put(p);
	}
	xmem_region_put(region);
	kfree(req);
}

/* Start reading up to XMEM_BATCH portions from @start; returns how many. */
static unsigned int xmem_ra_issue(struct xmem_region *region, pgoff_t start,
				  unsigned int n)
{
	const gfp_t gfp = GFP_KERNEL | __GFP_NORETRY | __GFP_NOWARN;
	struct xmem_ra_req *req;
	struct xmem_portion *p;
	unsigned int nr;
	pgoff_t idx;

	req = kmalloc(sizeof(*req), gfp);
	if (!req)
		return 0;
	req->n = 0;
	xmem_cache_make_room(region, (unsigned long)n << region->order);
	for (idx = start; idx < start + n; idx++) {
		if (xa_load(&region->portions, idx))
			continue;
		nr = xmem_portion_span(region, idx,
				       READ_ONCE(region->nr_pages));
		if (!nr)
			break;
		p = xmem_portion_alloc(region, idx, nr, gfp);
		if (!p)
			break;
		__set_bit(XMEM_PORTION_READAHEAD, &p->flags);
		if (xmem_portion_insert(region, p)) {
			xmem_portion_free(p);
			continue;
		}
		req->v[req->n++] = p;
	}
	if (!req->n) {
		kfree(req);
		return 0;
	}
	xmem_region_get(region);
	req->region = region;
	INIT_WORK(&req->work, xmem_ra_work);
	queue_work(region->cache->wq, &req->work);
	return req->n;
}

/**
 * xmem_pager_readahead() - read ahead for a fault if it is sequential
 * @region: the region
 * @ra: the readahead state of the file the fault came through
 * @index: the page faulted on
 *
 * Decides with xmem_ra_window() and starts the transfers of the portions
 * that are not resident yet on the cache's workqueue; returns at once.
 * The window is at most a quarter of the local memory limit, so that
 * readahead cannot evict what it read before it is used.
 *
 * Context: process context, may sleep; no portion lock held.
 * Return: the number of portions whose transfer was started.
 */
unsigned int xmem_pager_readahead(struct xmem_region *region,
				  struct file_ra_state *ra, pgoff_t index)
{
	struct xmem_cache *cache = region->cache;
	unsigned long max = min(READ_ONCE(cache->ra_max_pages),
				READ_ONCE(cache->limit_pages) / 4) >>
			    region->order;
	pgoff_t nr_portions, start;
	unsigned int n, k, issued = 0;

	nr_portions = xmem_region_nr_portions(region,
					      READ_ONCE(region->nr_pages));
	n = xmem_ra_window(ra, index >> region->order, nr_portions,
			   min_t(unsigned long, max, UINT_MAX), &start);
	while (n) {
		k = min_t(unsigned int, n, XMEM_BATCH);
		issued += xmem_ra_issue(region, start, k);
		start += k;
		n -= k;
	}
	return issued;
}
EXPORT_SYMBOL_IF_KUNIT(xmem_pager_readahead);

/**
 * xmem_region_mapped() - count a new mapping of a region
 * @region: the region, referenced by the mapping
 *
 * The mapping's owner calls this from ->mmap once the VMA is set up with
 * &xmem_vm_ops; copies and splits of the VMA are counted by ->open, and
 * every VMA is uncounted by ->close.  The count bounds the TLB flushes a
 * pass over the region's PTEs issues (stats/tlb_flushes).
 *
 * Context: any.
 */
void xmem_region_mapped(struct xmem_region *region)
{
	atomic_inc(&region->nr_vmas);
}
EXPORT_SYMBOL_IF_KUNIT(xmem_region_mapped);

static void xmem_vm_open(struct vm_area_struct *vma)
{
	struct xmem_region *region = vma->vm_private_data;

	xmem_region_get(region);
	atomic_inc(&region->nr_vmas);
}

static void xmem_vm_close(struct vm_area_struct *vma)
{
	struct xmem_region *region = vma->vm_private_data;

	/*
	 * The PTEs are gone already, but every page that was writable is
	 * marked DIRTY, so nothing written through them is lost.
	 */
	atomic_dec_if_positive(&region->nr_vmas);
	xmem_region_put(region);
}

static bool xmem_vm_index(struct vm_fault *vmf, struct xmem_region *region,
			  pgoff_t *index)
{
	if (vmf->pgoff < region->base ||
	    vmf->pgoff - region->base >= READ_ONCE(region->nr_pages))
		return false;
	*index = vmf->pgoff - region->base;
	return true;
}

/* Insert the PTE of page @index of a locked portion; writable once DIRTY. */
static vm_fault_t xmem_vm_insert(struct vm_fault *vmf, struct xmem_portion *p,
				 pgoff_t index, bool write)
{
	struct vm_area_struct *vma = vmf->vma;
	pgoff_t i = index - (p->index << p->region->order);
	pgprot_t prot = vma->vm_page_prot;

	if (i >= p->nr_pages)
		return VM_FAULT_SIGBUS;
	/* A mapping that cannot be written never dirties a portion. */
	if (write && WARN_ON_ONCE(!(vma->vm_flags & VM_WRITE)))
		return VM_FAULT_SIGBUS;
	if (write) {
		xmem_portion_set_dirty(p->region->cache, p);
		prot = vm_get_page_prot(vma->vm_flags);
	}
	return vmf_insert_pfn_prot(vma, vmf->address, page_to_pfn(p->pages[i]),
				   prot);
}

static void xmem_fault_done(struct xmem_region *region, pgoff_t index,
			    bool write, bool hit, ktime_t start)
{
	u64 ns = ktime_to_ns(ktime_sub(ktime_get(), start));
	unsigned int bucket = fls64(div_u64(ns, NSEC_PER_USEC));

	bucket = min(bucket, XMEM_LAT_BUCKETS - 1);
	this_cpu_inc(region->cache->fault_lat->b[bucket]);
	trace_xmem_fault(region->name, index, write, hit, ns);
}

/*
 * The portion holding page @index if it is resident and not busy, locked;
 * NULL otherwise.  Never sleeps on the portion.  Counts a cache hit if
 * @count.
 */
static struct xmem_portion *xmem_pager_get_nowait(struct xmem_region *region,
						  pgoff_t index, bool count)
{
	pgoff_t pidx = index >> region->order;
	struct xmem_portion *p = xmem_portion_lookup(region, pidx);

	if (!p)
		return NULL;
	if (!xmem_portion_trylock(p)) {
		xmem_portion_put(p);
		return NULL;
	}
	if (test_bit(XMEM_PORTION_DEAD, &p->flags) ||
	    p->nr_pages < xmem_portion_span(region, pidx,
					    READ_ONCE(region->nr_pages))) {
		xmem_pager_unlock(p);
		return NULL;
	}
	if (test_and_clear_bit(XMEM_PORTION_READAHEAD, &p->flags) && count)
		xmem_count(region, XMEM_STAT_READAHEAD_HITS, 1);
	set_bit(XMEM_PORTION_ACCESSED, &p->flags);
	if (count)
		xmem_count(region, XMEM_STAT_CACHE_HITS, 1);
	return p;
}

/*
 * The portion is not resident or busy and the fault may be retried: as
 * filemap faults do, release the mmap lock (or the VMA lock) while
 * reading ahead, waiting and fetching, so that other threads of the
 * process can fault, mmap and munmap meanwhile, and have the fault retried
 * (it finds the portion resident).  The region and the file are pinned
 * here, as the VMA may go away as soon as the lock is released.
 */
static vm_fault_t xmem_vm_fault_unlocked(struct vm_fault *vmf,
					 struct xmem_region *region,
					 pgoff_t index, ktime_t start)
{
	struct file *file = vmf->vma->vm_file;
	bool write = vmf->flags & FAULT_FLAG_WRITE;
	struct xmem_portion *p;
	bool hit;

	xmem_region_get(region);
	if (file)
		get_file(file);
	release_fault_lock(vmf);

	if (file)
		xmem_pager_readahead(region, &file->f_ra, index);
	p = __xmem_pager_get(region, index, &hit);
	if (!IS_ERR(p)) {
		xmem_pager_unlock(p);
		xmem_fault_done(region, index, write, hit, start);
	}

	if (file)
		fput(file);
	xmem_region_put(region);
	/* Errors too are found again, and reported, by the retry. */
	return VM_FAULT_RETRY;
}

/*
 * Take @region's hold shared for a write fault.  A snapshot holds it
 * exclusively for as long as the appliance copies, which the appliance
 * (a peer) can prolong: as filemap faults do for a locked folio, wait for
 * it with the mmap lock (or the VMA lock) released and have the fault
 * retried, so that the task's other threads can mmap, munmap and fault
 * meanwhile.  Only a fault that may not be retried (a retry's retry)
 * waits with the lock held, killably.  Returns 0 with the hold taken, or
 * what ->fault returns without it: VM_FAULT_RETRY (the lock released
 * unless FAULT_FLAG_RETRY_NOWAIT), or VM_FAULT_NOPAGE (a fatal signal:
 * the task never returns to the write).
 */
static vm_fault_t xmem_vm_fault_hold(struct vm_fault *vmf,
				     struct xmem_region *region)
{
	if (down_read_trylock(&region->hold))
		return 0;
	if (!fault_flag_allow_retry_first(vmf->flags))
		return down_read_killable(&region->hold) ? VM_FAULT_NOPAGE : 0;
	if (vmf->flags & FAULT_FLAG_RETRY_NOWAIT)
		return VM_FAULT_RETRY;
	/* The VMA, and its reference on the region, may go once released. */
	xmem_region_get(region);
	release_fault_lock(vmf);
	if (!down_read_killable(&region->hold))
		up_read(&region->hold);
	xmem_region_put(region);
	return VM_FAULT_RETRY;
}

/*
 * A fault is counted (stats, latency) once: by its first attempt, or, if
 * that released the lock to fetch, by the fetch; its retry
 * (FAULT_FLAG_TRIED) is not counted again.
 */
static vm_fault_t xmem_vm_fault(struct vm_fault *vmf)
{
	struct vm_area_struct *vma = vmf->vma;
	struct xmem_region *region = vma->vm_private_data;
	bool write = vmf->flags & FAULT_FLAG_WRITE;
	bool retried = vmf->flags & FAULT_FLAG_TRIED;
	ktime_t start = ktime_get();
	struct xmem_portion *p;
	bool hit = true;
	vm_fault_t ret;
	pgoff_t index;

	if (!xmem_vm_index(vmf, region, &index))
		return VM_FAULT_SIGBUS;
	if (!retried)
		xmem_count(region, XMEM_STAT_FAULTS, 1);
	/* A held region (snapshot) gets no new writable PTE. */
	if (write) {
		ret = xmem_vm_fault_hold(vmf, region);
		if (ret)
			return ret;
	}
	p = xmem_pager_get_nowait(region, index, !retried);
	if (!p && fault_flag_allow_retry_first(vmf->flags) &&
	    !(vmf->flags & FAULT_FLAG_RETRY_NOWAIT)) {
		/* No PTE is installed on this path: the hold is not needed. */
		if (write)
			up_read(&region->hold);
		return xmem_vm_fault_unlocked(vmf, region, index, start);
	}
	if (!p) {
		if (vma->vm_file)
			xmem_pager_readahead(region, &vma->vm_file->f_ra,
					     index);
		p = __xmem_pager_get(region, index, &hit);
		if (IS_ERR(p)) {
			if (write)
				up_read(&region->hold);
			return PTR_ERR(p) == -ENOMEM ? VM_FAULT_OOM :
						       VM_FAULT_SIGBUS;
		}
	}
	ret = xmem_vm_insert(vmf, p, index, write);
	xmem_pager_unlock(p);
	if (write)
		up_read(&region->hold);
	/* On a hit, after the portion is released: it may evict. */
	if (hit && vma->vm_file)
		xmem_pager_readahead(region, &vma->vm_file->f_ra, index);
	if (!retried)
		xmem_fault_done(region, index, write, hit, start);
	return ret;
}

/*
 * First write through a read-only PTE.  The PTE is replaced by a writable
 * one here, with the portion locked and DIRTY set, rather than by the core
 * after this returns: a write-back between the two could otherwise clear
 * DIRTY while a writable PTE appears behind its back.  The core does not
 * take VM_FAULT_RETRY from ->pfn_mkwrite: a task killed while waiting for
 * the portion gets VM_FAULT_SIGBUS (it dies of the fatal signal first),
 * and a write to a region held by a snapshot has its PTE removed, so that
 * it faults again through ->fault, which waits for the hold without the
 * mmap lock (xmem_vm_fault_hold()).
 */
static vm_fault_t xmem_vm_pfn_mkwrite(struct vm_fault *vmf)
{
	struct vm_area_struct *vma = vmf->vma;
	struct xmem_region *region = vma->vm_private_data;
	struct xmem_portion *p;
	vm_fault_t ret;
	pgoff_t index;

	if (!xmem_vm_index(vmf, region, &index))
		return VM_FAULT_SIGBUS;
	/*
	 * Held (or about to be): removing a read-only PTE loses no dirty
	 * state, and its page stays in the cache for the retry.
	 */
	if (!down_read_trylock(&region->hold))
		goto retry;
	p = xmem_portion_lookup(region, index >> region->order);
	if (!p)
		goto retry_unhold;
	if (xmem_portion_lock(p)) {
		xmem_portion_put(p);
		up_read(&region->hold);
		return VM_FAULT_SIGBUS;
	}
	if (test_bit(XMEM_PORTION_DEAD, &p->flags)) {
		xmem_pager_unlock(p);
		goto retry_unhold;
	}
	set_bit(XMEM_PORTION_ACCESSED, &p->flags);
	zap_vma_ptes(vma, vmf->address, PAGE_SIZE);
	xmem_count(region, XMEM_STAT_TLB_FLUSHES, 1);
	ret = xmem_vm_insert(vmf, p, index, true);
	xmem_pager_unlock(p);
	up_read(&region->hold);
	return ret;

retry_unhold:
	up_read(&region->hold);
retry:
	/* Evicted or held meanwhile: fault again, through ->fault. */
	zap_vma_ptes(vma, vmf->address, PAGE_SIZE);
	xmem_count(region, XMEM_STAT_TLB_FLUSHES, 1);
	return VM_FAULT_NOPAGE;
}

const struct vm_operations_struct xmem_vm_ops = {
	.open = xmem_vm_open,
	.close = xmem_vm_close,
	.fault = xmem_vm_fault,
	.pfn_mkwrite = xmem_vm_pfn_mkwrite,
};
