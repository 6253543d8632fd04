// SPDX-License-Identifier: GPL-2.0
/*
 * xmem: the pager.  Serves page faults on /dev/xmem mappings from a bounded
 * local cache of remote regions, evicts and writes back.
 *
 * Every resident page of a region has a portion-tracking structure (struct
 * xmem_portion) in the region's xarray.  A portion's LOCKED bit makes one
 * task its owner while it is fetched, mapped into a page table, written
 * back or evicted.
 *
 * Dirty tracking.  A PTE is made writable only by the fault handlers, with
 * the portion locked and its DIRTY bit set first: a write fault inserts a
 * writable PTE, and a write to a read-only PTE reaches ->pfn_mkwrite, which
 * replaces the PTE.  Write-back and eviction lock the portion, write-protect
 * its PTEs in every process and collect their dirty bits (xmem_tlb_clean(),
 * one TLB flush per range), and only then clear DIRTY: a write can never
 * land in a page whose DIRTY bit was cleared without the PTE having been
 * write-protected first.  Eviction then unmaps the PTEs, writes back the
 * portions found dirty by RDMA WRITE, and drops clean ones with no
 * transfer at all (claims 18 and 19).
 *
 * Victim selection is a second-chance LRU: the fault handlers set
 * ACCESSED, and the evictor moves accessed portions to the tail once before
 * it takes them.  Hardware accessed bits are not consulted.
 */
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

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

/* Portions evicted or written back together, and per TLB flush at most. */
#define XMEM_BATCH	32

#define xmem_region_err(r, fmt, ...)					\
	pr_err_ratelimited("region %s: " fmt, (r)->name, ##__VA_ARGS__)

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

static void xmem_portion_put(struct xmem_portion *p)
{
	if (refcount_dec_and_test(&p->ref)) {
		if (p->page)
			__free_page(p->page);
		kfree(p);
	}
}

static void xmem_portion_lock(struct xmem_portion *p)
{
	wait_on_bit_lock(&p->flags, XMEM_PORTION_LOCKED, TASK_UNINTERRUPTIBLE);
}

static bool xmem_portion_trylock(struct xmem_portion *p)
{
	return !test_and_set_bit_lock(XMEM_PORTION_LOCKED, &p->flags);
}

static void xmem_portion_unlock(struct xmem_portion *p)
{
	clear_and_wake_up_bit(XMEM_PORTION_LOCKED, &p->flags);
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
	if (!test_and_set_bit(XMEM_PORTION_DIRTY, &p->flags))
		atomic_long_inc(&cache->nr_dirty);
}
EXPORT_SYMBOL_IF_KUNIT(xmem_portion_set_dirty);

static bool xmem_portion_clear_dirty(struct xmem_cache *cache,
				     struct xmem_portion *p)
{
	if (!test_and_clear_bit(XMEM_PORTION_DIRTY, &p->flags))
		return false;
	atomic_long_dec(&cache->nr_dirty);
	return true;
}

/* Remove a locked portion from its region; waiters will look again. */
static void xmem_portion_remove(struct xmem_cache *cache,
				struct xmem_portion *p)
{
	xa_erase(&p->region->portions, p->index);
	xmem_portion_clear_dirty(cache, p);
	set_bit(XMEM_PORTION_DEAD, &p->flags);
	spin_lock(&cache->lock);
	cache->nr_pages--;
	spin_unlock(&cache->lock);
	xmem_portion_unlock(p);
	xmem_portion_put(p);	/* the region index's reference */
}

/**
 * xmem_cache_init() - set up the local cache
 * @cache: the cache
 * @mapping: the device's shared address space, or NULL without mappings
 * @ops: backend
 * @limit: local memory limit in pages, at least 1
 *
 * Context: any.
 */
void xmem_cache_init(struct xmem_cache *cache, struct address_space *mapping,
		     const struct xmem_backend_ops *ops, unsigned long limit)
{
	memset(cache, 0, sizeof(*cache));
	cache->mapping = mapping;
	cache->ops = ops;
	spin_lock_init(&cache->lock);
	INIT_LIST_HEAD(&cache->lru);
	cache->limit_pages = max(limit, 1UL);
}
EXPORT_SYMBOL_IF_KUNIT(xmem_cache_init);

/*
 * Take up to @max victims from the head of the LRU: locked, off the LRU
 * and referenced.  Accessed or busy portions go to the tail instead.
 */
static unsigned int xmem_cache_pick(struct xmem_cache *cache,
				    struct xmem_portion **victims,
				    unsigned int max)
{
	unsigned long scan;
	unsigned int n = 0;

	spin_lock(&cache->lock);
	scan = 2 * cache->nr_pages;
	while (n < max && scan-- && !list_empty(&cache->lru)) {
		struct xmem_portion *p = list_first_entry(&cache->lru,
					struct xmem_portion, lru);

		if (test_and_clear_bit(XMEM_PORTION_ACCESSED, &p->flags) ||
		    !xmem_portion_trylock(p)) {
			list_move_tail(&p->lru, &cache->lru);
			continue;
		}
		list_del_init(&p->lru);
		refcount_inc(&p->ref);
		victims[n++] = p;
	}
	spin_unlock(&cache->lock);
	return n;
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

/* Length of the run of consecutive pages of one region starting at @v. */
static unsigned int xmem_run_len(struct xmem_portion **v, unsigned int n)
{
	unsigned int len = 1;

	while (len < n && v[len]->region == v[0]->region &&
	       v[len]->index == v[0]->index + len)
		len++;
	return len;
}

/**
 * xmem_pager_clean_ptes() - write-protect the PTEs of locked portions and
 * mark dirty those whose PTE was dirty
 * @cache: the cache
 * @v: locked portions, sorted by region and index
 * @n: number of portions, at most XMEM_BATCH
 * @unmap: also remove the PTEs (eviction)
 *
 * After it returns no PTE maps any of the portions writably (or at all,
 * with @unmap), every TLB is flushed, and any write made through a PTE is
 * recorded in the portion's DIRTY bit.
 *
 * Context: process context; portions locked by the caller.
 */
VISIBLE_IF_KUNIT void xmem_pager_clean_ptes(struct xmem_cache *cache,
					    struct xmem_portion **v,
					    unsigned int n, bool unmap)
{
	unsigned int i, j, len;

	for (i = 0; i < n; i += len) {
		DECLARE_BITMAP(dirty, XMEM_BATCH);
		pgoff_t first = v[i]->region->base + v[i]->index;

		len = xmem_run_len(v + i, n - i);
		bitmap_zero(dirty, XMEM_BATCH);
		if (cache->mapping) {
			xmem_tlb_clean(cache->mapping, first, len, dirty);
			atomic64_inc(&cache->stats.tlb_flushes);
		}
		for_each_set_bit(j, dirty, len)
			xmem_portion_set_dirty(cache, v[i + j]);
		if (unmap)
			xmem_tlb_unmap(cache->mapping, first, len);
	}
}
EXPORT_SYMBOL_IF_KUNIT(xmem_pager_clean_ptes);

/*
 * Write back the dirty ones among locked portions whose PTEs are
 * write-protected or gone.  Each one written is marked in @written; each
 * one that could not be written is dirty again on return and marked in
 * @failed.  Returns 0 or -EIO.
 */
static int xmem_pager_writeback(struct xmem_cache *cache,
				struct xmem_portion **v, unsigned int n,
				unsigned long *written, unsigned long *failed)
{
	struct xmem_io ios[XMEM_BATCH];
	unsigned int idx[XMEM_BATCH];
	unsigned int i, start, k;
	unsigned int noio;
	int ret = 0, err;

	noio = memalloc_noio_save();
	for (start = 0; start < n; start = i) {
		struct xmem_region *region = v[start]->region;

		k = 0;
		for (i = start; i < n && v[i]->region == region; i++) {
			if (!xmem_portion_clear_dirty(cache, v[i]))
				continue;
			ios[k].page = v[i]->page;
			ios[k].offset = (u64)v[i]->index << PAGE_SHIFT;
			idx[k++] = i;
		}
		if (!k)
			continue;
		err = cache->ops->rw(region, ios, k, true);
		if (!err) {
			atomic64_add(k, &cache->stats.rdma_writes);
			while (k--)
				__set_bit(idx[k], written);
			continue;
		}
		xmem_region_err(region, "write-back of %u pages failed: %d\n",
				k, err);
		atomic64_add(k, &cache->stats.writeback_errors);
		atomic_set(&region->wb_error, 1);
		while (k--) {
			xmem_portion_set_dirty(cache, v[idx[k]]);
			__set_bit(idx[k], failed);
		}
		ret = -EIO;
	}
	memalloc_noio_restore(noio);
	return ret;
}

/*
 * Evict locked, referenced portions that are off the LRU (claim 18):
 * write-protect, record dirty PTEs and unmap them with one flush per run,
 * write back the dirty ones, free the pages.  Portions that could not be
 * written back stay resident and dirty.  Returns the number freed.
 */
static unsigned int xmem_cache_evict(struct xmem_cache *cache,
				     struct xmem_portion **v, unsigned int n)
{
	DECLARE_BITMAP(written, XMEM_BATCH);
	DECLARE_BITMAP(failed, XMEM_BATCH);
	unsigned int i, freed = 0;

	bitmap_zero(written, XMEM_BATCH);
	bitmap_zero(failed, XMEM_BATCH);
	sort(v, n, sizeof(*v), xmem_portion_cmp, NULL);
	xmem_pager_clean_ptes(cache, v, n, true);
	xmem_pager_writeback(cache, v, n, written, failed);

	for (i = 0; i < n; i++) {
		struct xmem_portion *p = v[i];

		if (test_bit(i, failed)) {
			spin_lock(&cache->lock);
			list_add_tail(&p->lru, &cache->lru);
			spin_unlock(&cache->lock);
			xmem_portion_unlock(p);
		} else {
			atomic64_inc(test_bit(i, written) ?
				     &cache->stats.evictions_dirty :
				     &cache->stats.evictions_clean);
			xmem_portion_remove(cache, p);
			freed++;
		}
		xmem_portion_put(p);
	}
	return freed;
}

/**
 * xmem_cache_shrink() - evict portions from the cache
 * @cache: the cache
 * @goal: number of pages to free
 *
 * Evicts least recently used portions in batches until @goal pages are
 * freed or nothing more can be: busy portions are skipped, and dirty ones
 * whose write-back fails stay resident.
 *
 * Context: process context, may sleep; holds no portion lock.
 * Return: the number of pages freed.
 */
unsigned long xmem_cache_shrink(struct xmem_cache *cache, unsigned long goal)
{
	struct xmem_portion *victims[XMEM_BATCH];
	unsigned long freed = 0;
	unsigned int n, got;

	while (freed < goal) {
		n = min_t(unsigned long, goal - freed, XMEM_BATCH);
		n = xmem_cache_pick(cache, victims, n);
		if (!n)
			break;
		got = xmem_cache_evict(cache, victims, n);
		if (!got)
			break;
		freed += got;
	}
	return freed;
}
EXPORT_SYMBOL_IF_KUNIT(xmem_cache_shrink);

/**
 * xmem_cache_set_limit() - change the local memory limit
 * @cache: the cache
 * @pages: new limit in pages, at least 1
 *
 * Evicts at once down to the new limit.
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
	nr = READ_ONCE(cache->nr_pages);
	if (nr > pages && xmem_cache_shrink(cache, nr - pages) < nr - pages)
		return -EBUSY;
	return 0;
}
EXPORT_SYMBOL_IF_KUNIT(xmem_cache_set_limit);

/* Before a new page is added: evict a batch if the cache is full. */
static void xmem_cache_make_room(struct xmem_cache *cache)
{
	unsigned long nr = READ_ONCE(cache->nr_pages);
	unsigned long limit = READ_ONCE(cache->limit_pages);

	if (nr < limit)
		return;
	/*
	 * Free a whole batch when possible, so the next faults find room.
	 * If everything is busy the cache overshoots by the number of
	 * concurrent faults until the next eviction.
	 */
	xmem_cache_shrink(cache, max(nr - limit + 1,
				     min_t(unsigned long, XMEM_BATCH, limit / 4 + 1)));
}

/**
 * xmem_region_init() - set up a region
 * @region: the region; @free and @priv are the caller's to set
 * @cache: the cache it uses
 * @name: its name
 * @nr_pages: its size in pages
 * @base: page offset of its page 0 in the cache's mapping
 *
 * The caller owns the one reference.
 *
 * Context: any.
 */
void xmem_region_init(struct xmem_region *region, struct xmem_cache *cache,
		      const char *name, pgoff_t nr_pages, pgoff_t base)
{
	kref_init(&region->ref);
	region->cache = cache;
	strscpy(region->name, name, sizeof(region->name));
	region->nr_pages = nr_pages;
	region->base = base;
	xa_init(&region->portions);
	atomic_set(&region->wb_error, 0);
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
	struct xmem_portion *p;
	unsigned long index, lost = 0;

	/*
	 * The owner wrote back and dropped the portions before its last
	 * put; what is left could not be written back.
	 */
	xa_for_each(&region->portions, index, p) {
		if (test_bit(XMEM_PORTION_DIRTY, &p->flags))
			lost++;
		spin_lock(&cache->lock);
		list_del_init(&p->lru);
		spin_unlock(&cache->lock);
		xmem_portion_trylock(p);
		xmem_portion_remove(cache, p);
	}
	if (lost)
		pr_err("region %s: %lu dirty pages could not be written back and are lost\n",
		       region->name, lost);
	xa_destroy(&region->portions);
	region->free(region);
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
	kref_put(&region->ref, xmem_region_release);
}
EXPORT_SYMBOL_IF_KUNIT(xmem_region_put);

/*
 * Lock up to XMEM_BATCH portions of @region from index *@next to @last
 * that satisfy @want, in index order, and advance *@next.  Locking in
 * index order keeps two such callers from deadlocking.
 */
static unsigned int xmem_region_lock_batch(struct xmem_region *region,
					   pgoff_t *next, pgoff_t last,
					   bool only_dirty,
					   struct xmem_portion **v)
{
	XA_STATE(xas, &region->portions, *next);
	struct xmem_portion *p;
	unsigned int n = 0, i, kept = 0;

	xas_lock(&xas);
	xas_for_each(&xas, p, last) {
		if (only_dirty && !test_bit(XMEM_PORTION_DIRTY, &p->flags))
			continue;
		refcount_inc(&p->ref);
		v[n++] = p;
		if (n == XMEM_BATCH) {
			*next = xas.xa_index + 1;
			break;
		}
	}
	if (n < XMEM_BATCH)
		*next = last + 1;
	xas_unlock(&xas);

	for (i = 0; i < n; i++) {
		p = v[i];
		xmem_portion_lock(p);
		if (test_bit(XMEM_PORTION_DEAD, &p->flags) ||
		    (only_dirty && !test_bit(XMEM_PORTION_DIRTY, &p->flags))) {
			xmem_portion_unlock(p);
			xmem_portion_put(p);
			continue;
		}
		v[kept++] = p;
	}
	return kept;
}

/**
 * xmem_region_sync() - write back the dirty pages of a range
 * @region: the region
 * @first: first page index
 * @last: last page index, inclusive
 *
 * Every page of the range written before the call is on the appliance
 * when it returns 0.  Pages stay resident and mapped (read-only until the
 * next write).
 *
 * Context: process context, may sleep; no portion lock held.
 * Return: 0, or -EIO if a write-back failed during the call or since the
 * previous sync of the region (the data stays dirty in the cache).
 */
int xmem_region_sync(struct xmem_region *region, pgoff_t first, pgoff_t last)
{
	struct xmem_cache *cache = region->cache;
	struct xmem_portion *v[XMEM_BATCH];
	DECLARE_BITMAP(written, XMEM_BATCH);
	DECLARE_BITMAP(failed, XMEM_BATCH);
	pgoff_t next = first;
	unsigned int n, i;
	int ret = 0;

	if (last >= region->nr_pages)
		last = region->nr_pages - 1;
	while (next <= last) {
		n = xmem_region_lock_batch(region, &next, last, true, v);
		if (!n)
			continue;
		bitmap_zero(written, XMEM_BATCH);
		bitmap_zero(failed, XMEM_BATCH);
		xmem_pager_clean_ptes(cache, v, n, false);
		if (xmem_pager_writeback(cache, v, n, written, failed))
			ret = -EIO;
		for (i = 0; i < n; i++) {
			xmem_portion_unlock(v[i]);
			xmem_portion_put(v[i]);
		}
	}
	if (atomic_xchg(&region->wb_error, 0))
		ret = -EIO;
	return ret;
}
EXPORT_SYMBOL_IF_KUNIT(xmem_region_sync);

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
	struct xmem_cache *cache = region->cache;
	struct xmem_portion *v[XMEM_BATCH];
	pgoff_t next = 0;
	unsigned int n, i;
	int ret = 0;

	while (next < region->nr_pages) {
		n = xmem_region_lock_batch(region, &next, region->nr_pages - 1,
					   false, v);
		if (!n)
			continue;
		spin_lock(&cache->lock);
		for (i = 0; i < n; i++)
			list_del_init(&v[i]->lru);
		spin_unlock(&cache->lock);
		if (xmem_cache_evict(cache, v, n) < n)
			ret = -EIO;
	}
	return ret;
}
EXPORT_SYMBOL_IF_KUNIT(xmem_region_drop);

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
		(*resident)++;
		if (test_bit(XMEM_PORTION_DIRTY, &p->flags))
			(*dirty)++;
	}
	xas_unlock(&xas);
}
EXPORT_SYMBOL_IF_KUNIT(xmem_region_counts);

/**
 * xmem_pager_get() - find or fetch a page of a region, locked
 * @region: the region
 * @index: page index in the region
 *
 * Two tasks asking for the same page cause one fetch: the second waits
 * for the first.  The portion is returned locked, up to date, marked
 * accessed and referenced; release it with xmem_pager_unlock().
 *
 * Context: process context, may sleep; no portion lock held.
 * Return: the portion, or ERR_PTR(): -EINVAL (index out of range),
 * -ENOMEM, or the backend's error (-EIO, -ENOTCONN).
 */
struct xmem_portion *xmem_pager_get(struct xmem_region *region,
				    pgoff_t index)
{
	struct xmem_cache *cache = region->cache;
	struct xmem_portion *p;
	struct xmem_io io;
	int ret;

	if (index >= region->nr_pages)
		return ERR_PTR(-EINVAL);
again:
	p = xmem_portion_lookup(region, index);
	if (p) {
		xmem_portion_lock(p);
		if (test_bit(XMEM_PORTION_DEAD, &p->flags)) {
			xmem_portion_unlock(p);
			xmem_portion_put(p);
			goto again;
		}
		set_bit(XMEM_PORTION_ACCESSED, &p->flags);
		atomic64_inc(&cache->stats.cache_hits);
		return p;
	}

	xmem_cache_make_room(cache);
	p = kzalloc(sizeof(*p), GFP_KERNEL);
	if (!p)
		return ERR_PTR(-ENOMEM);
	p->page = alloc_page(GFP_KERNEL);
	if (!p->page) {
		kfree(p);
		return ERR_PTR(-ENOMEM);
	}
	p->region = region;
	p->index = index;
	INIT_LIST_HEAD(&p->lru);
	refcount_set(&p->ref, 2);	/* the index's and ours */
	__set_bit(XMEM_PORTION_LOCKED, &p->flags);

	ret = xa_insert(&region->portions, index, p, GFP_KERNEL);
	if (ret) {
		__free_page(p->page);
		kfree(p);
		if (ret == -EBUSY)	/* someone else is fetching it */
			goto again;
		return ERR_PTR(ret);
	}
	spin_lock(&cache->lock);
	cache->nr_pages++;
	spin_unlock(&cache->lock);

	io.page = p->page;
	io.offset = (u64)index << PAGE_SHIFT;
	ret = cache->ops->rw(region, &io, 1, false);
	if (ret) {
		xmem_region_err(region, "cannot read page %lu: %d\n",
				index, ret);
		xmem_portion_remove(cache, p);
		xmem_portion_put(p);
		return ERR_PTR(ret);
	}
	atomic64_inc(&cache->stats.rdma_reads);
	set_bit(XMEM_PORTION_ACCESSED, &p->flags);
	spin_lock(&cache->lock);
	list_add_tail(&p->lru, &cache->lru);
	spin_unlock(&cache->lock);
	return p;
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

static void xmem_vm_open(struct vm_area_struct *vma)
{
	xmem_region_get(vma->vm_private_data);
}

static void xmem_vm_close(struct vm_area_struct *vma)
{
	/*
	 * The PTEs are gone already, but every page that was writable is
	 * marked DIRTY, so nothing written through them is lost.
	 */
	xmem_region_put(vma->vm_private_data);
}

static bool xmem_vm_index(struct vm_fault *vmf, struct xmem_region *region,
			  pgoff_t *index)
{
	if (vmf->pgoff < region->base ||
	    vmf->pgoff - region->base >= region->nr_pages)
		return false;
	*index = vmf->pgoff - region->base;
	return true;
}

/* Insert the PTE of a locked portion; writable only once it is DIRTY. */
static vm_fault_t xmem_vm_insert(struct vm_fault *vmf, struct xmem_portion *p,
				 bool write)
{
	struct vm_area_struct *vma = vmf->vma;
	pgprot_t prot = vma->vm_page_prot;

	if (write) {
		xmem_portion_set_dirty(p->region->cache, p);
		prot = vm_get_page_prot(vma->vm_flags);
	}
	return vmf_insert_pfn_prot(vma, vmf->address, page_to_pfn(p->page),
				   prot);
}

static vm_fault_t xmem_vm_fault(struct vm_fault *vmf)
{
	struct xmem_region *region = vmf->vma->vm_private_data;
	struct xmem_portion *p;
	vm_fault_t ret;
	pgoff_t index;

	if (!xmem_vm_index(vmf, region, &index))
		return VM_FAULT_SIGBUS;
	atomic64_inc(&region->cache->stats.faults);
	p = xmem_pager_get(region, index);
	if (IS_ERR(p))
		return PTR_ERR(p) == -ENOMEM ? VM_FAULT_OOM : VM_FAULT_SIGBUS;
	ret = xmem_vm_insert(vmf, p, vmf->flags & FAULT_FLAG_WRITE);
	xmem_pager_unlock(p);
	return ret;
}

/*
 * First write through a read-only PTE.  The PTE is replaced by a writable
 * one here, with the portion locked and DIRTY set, rather than by the core
 * after this returns: a write-back between the two could otherwise clear
 * DIRTY while a writable PTE appears behind its back.
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
	p = xmem_portion_lookup(region, index);
	if (!p)
		goto retry;
	xmem_portion_lock(p);
	if (test_bit(XMEM_PORTION_DEAD, &p->flags)) {
		xmem_pager_unlock(p);
		goto retry;
	}
	set_bit(XMEM_PORTION_ACCESSED, &p->flags);
	zap_vma_ptes(vma, vmf->address, PAGE_SIZE);
	ret = xmem_vm_insert(vmf, p, true);
	xmem_pager_unlock(p);
	return ret;

retry:
	/* Evicted meanwhile: fault again, through ->fault. */
	zap_vma_ptes(vma, vmf->address, PAGE_SIZE);
	return VM_FAULT_NOPAGE;
}

const struct vm_operations_struct xmem_vm_ops = {
	.open = xmem_vm_open,
	.close = xmem_vm_close,
	.fault = xmem_vm_fault,
	.pfn_mkwrite = xmem_vm_pfn_mkwrite,
};
