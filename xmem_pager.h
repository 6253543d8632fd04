/* SPDX-License-Identifier: GPL-2.0 */
/*
 * xmem: the pager, a bounded local cache of remote regions.
 *
 * The pager knows regions, portions and pages.  It reaches the appliance
 * only through struct xmem_backend_ops, so KUnit can drive it with a fake
 * backend, and the PTE side only through xmem_tlb.h.
 */
#ifndef XMEM_PAGER_H
#define XMEM_PAGER_H

#include <linux/atomic.h>
#include <linux/kref.h>
#include <linux/list.h>
#include <linux/mm_types.h>
#include <linux/spinlock.h>
#include <linux/xarray.h>

#include "xmem_proto.h"

struct xmem_io;
struct xmem_region;

/*
 * Bits of struct xmem_portion.flags.
 * LOCKED: owned by one task (fetch, fault mapping, write-back or
 *	eviction); others wait with wait_on_bit_lock().
 * DIRTY: the page may differ from the appliance's copy.
 * ACCESSED: touched since the evictor last looked (second chance).
 * DEAD: removed from its region; whoever waited on it looks it up again.
 */
enum {
	XMEM_PORTION_LOCKED,
	XMEM_PORTION_DIRTY,
	XMEM_PORTION_ACCESSED,
	XMEM_PORTION_DEAD,
};

/**
 * struct xmem_portion - portion-tracking structure of one cached page
 * @region: the region it belongs to (not referenced: a region is freed
 *	only once it has no portions)
 * @index: page index in the region
 * @page: the local copy
 * @flags: XMEM_PORTION_* bits
 * @ref: one for the region's index, one per task using it
 * @lru: position in the cache's LRU list, under &xmem_cache.lock; empty
 *	while the portion is being fetched or evicted
 */
struct xmem_portion {
	struct xmem_region *region;
	pgoff_t index;
	struct page *page;
	unsigned long flags;
	refcount_t ref;
	struct list_head lru;
};

/**
 * struct xmem_backend_ops - how the pager reaches the appliance
 * @rw: transfer whole pages of @region; returns 0 or a negative errno,
 *	and only when no transfer is in flight any more.  Must not
 *	allocate with __GFP_IO/__GFP_FS.
 */
struct xmem_backend_ops {
	int (*rw)(struct xmem_region *region, const struct xmem_io *ios,
		  unsigned int n, bool write);
};

/**
 * struct xmem_stats - counters since load; exact, read without locking
 * @faults: page faults served
 * @cache_hits: faults served from the local cache
 * @rdma_reads: pages read from the appliance
 * @rdma_writes: pages written to the appliance
 * @evictions_clean: pages dropped without a transfer
 * @evictions_dirty: pages written back and dropped
 * @writeback_errors: failed write-backs (the page was kept)
 * @tlb_flushes: write-protect and clean batches issued on the mapping
 */
struct xmem_stats {
	atomic64_t faults;
	atomic64_t cache_hits;
	atomic64_t rdma_reads;
	atomic64_t rdma_writes;
	atomic64_t evictions_clean;
	atomic64_t evictions_dirty;
	atomic64_t writeback_errors;
	atomic64_t tlb_flushes;
};

/**
 * struct xmem_cache - the local memory all regions share
 * @mapping: the device's address space, which every mapping of every
 *	region shares; NULL when the cache is used without mappings (KUnit)
 * @ops: the backend
 * @lock: protects @lru and @nr_pages
 * @lru: resident portions that are not busy, least recently used first
 * @nr_pages: resident portions, busy ones included
 * @nr_dirty: portions with XMEM_PORTION_DIRTY set
 * @limit_pages: local memory limit in pages; read without @lock
 * @stats: counters
 */
struct xmem_cache {
	struct address_space *mapping;
	const struct xmem_backend_ops *ops;
	/* Protects lru and nr_pages. */
	spinlock_t lock;
	struct list_head lru;
	unsigned long nr_pages;
	atomic_long_t nr_dirty;
	unsigned long limit_pages;
	struct xmem_stats stats;
};

/**
 * struct xmem_region - a remote region as the client knows it
 * @ref: references: the owner's, one per bound file and one per mapping
 * @cache: the cache it uses
 * @name: its name on the appliance
 * @nr_pages: size in pages
 * @base: page offset of its page 0 in @cache->mapping
 * @portions: page index -> struct xmem_portion; its xa_lock protects
 *	lookups together with taking a portion reference
 * @wb_error: a write-back failed since the last fsync reported it
 * @free: called when the last reference is dropped, after the pager has
 *	dropped the region's portions
 * @priv: owner's data
 */
struct xmem_region {
	struct kref ref;
	struct xmem_cache *cache;
	char name[XMEM_NAME_MAX];
	pgoff_t nr_pages;
	pgoff_t base;
	struct xarray portions;
	atomic_t wb_error;
	void (*free)(struct xmem_region *region);
	void *priv;
};

void xmem_cache_init(struct xmem_cache *cache, struct address_space *mapping,
		     const struct xmem_backend_ops *ops, unsigned long limit);
int xmem_cache_set_limit(struct xmem_cache *cache, unsigned long pages);
unsigned long xmem_cache_shrink(struct xmem_cache *cache, unsigned long goal);

void xmem_region_init(struct xmem_region *region, struct xmem_cache *cache,
		      const char *name, pgoff_t nr_pages, pgoff_t base);
void xmem_region_get(struct xmem_region *region);
void xmem_region_put(struct xmem_region *region);
int xmem_region_sync(struct xmem_region *region, pgoff_t first, pgoff_t last);
int xmem_region_drop(struct xmem_region *region);
void xmem_region_counts(struct xmem_region *region, unsigned long *resident,
			unsigned long *dirty);

struct xmem_portion *xmem_pager_get(struct xmem_region *region,
				    pgoff_t index);
void xmem_pager_unlock(struct xmem_portion *portion);

extern const struct vm_operations_struct xmem_vm_ops;

#if IS_ENABLED(CONFIG_KUNIT)
void xmem_portion_set_dirty(struct xmem_cache *cache, struct xmem_portion *p);
void xmem_pager_clean_ptes(struct xmem_cache *cache, struct xmem_portion **v,
			   unsigned int n, bool unmap);
#endif

#endif /* XMEM_PAGER_H */
