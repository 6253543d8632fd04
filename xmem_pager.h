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
#include <linux/errseq.h>
#include <linux/kref.h>
#include <linux/list.h>
#include <linux/mm_types.h>
#include <linux/rwsem.h>
#include <linux/spinlock.h>
#include <linux/workqueue.h>
#include <linux/xarray.h>

#include "xmem_proto.h"

struct file_ra_state;
struct kobject;
struct attribute_group;
struct shrinker;
struct xmem_io;
struct xmem_region;

/* Portion sizes: from one page up to 2 MiB, powers of two. */
#define XMEM_PORTION_MIN_SHIFT	PAGE_SHIFT
#define XMEM_PORTION_MAX_SHIFT	21

/* Buckets of the fault-latency histogram: < 1 us, < 2 us, ... , the rest. */
#define XMEM_LAT_BUCKETS	24

/*
 * Bits of struct xmem_portion.flags.
 * LOCKED: owned by one task (fetch, fault mapping, write-back or
 *	eviction); others wait with wait_on_bit_lock().
 * DIRTY: some page of the portion may differ from the appliance's copy.
 * WRITEBACK: DIRTY was cleared for a write-back whose RDMA WRITE has not
 *	completed yet; a sync waits for it with wait_on_bit().  Set and
 *	cleared by the owner of LOCKED.
 * ACCESSED: touched since the evictor last looked (second chance).
 * DEAD: removed from its region; whoever waited on it looks it up again.
 * READAHEAD: fetched by readahead and not faulted on since.
 *
 * DIRTY and WRITEBACK are mirrored in the region's xarray by the marks
 * XMEM_MARK_DIRTY and XMEM_MARK_WRITEBACK, changed under its xa_lock, so
 * that a sync finds them without scanning clean portions and sees every
 * portion in one state or the other at every instant of a write-back.
 */
enum {
	XMEM_PORTION_LOCKED,
	XMEM_PORTION_DIRTY,
	XMEM_PORTION_WRITEBACK,
	XMEM_PORTION_ACCESSED,
	XMEM_PORTION_DEAD,
	XMEM_PORTION_READAHEAD,
};

#define XMEM_MARK_DIRTY		XA_MARK_0
#define XMEM_MARK_WRITEBACK	XA_MARK_1

/**
 * struct xmem_portion - portion-tracking structure: the unit of transfer,
 * dirty tracking and eviction
 * @region: the region it belongs to, not referenced: whoever uses a
 *	portion holds a reference on its region (the evictor takes one with
 *	kref_get_unless_zero() for each victim it takes from the LRU), so
 *	the region's release finds every portion unlocked
 * @index: portion index in the region (page index >> region->order)
 * @nr_pages: pages in @pages (the last portion of a region may be short)
 * @flags: XMEM_PORTION_* bits
 * @ref: one for the region's index, one per task using it
 * @lru: position in the cache's LRU list, under &xmem_cache.lock; empty
 *	while the portion is being fetched or evicted
 * @rlru: position in its region's LRU list, under &xmem_cache.lock; on it
 *	exactly when @lru is on the cache's, in the same order
 * @pages: the local copy, one order-0 page per page of the portion
 */
struct xmem_portion {
	struct xmem_region *region;
	pgoff_t index;
	unsigned int nr_pages;
	unsigned long flags;
	refcount_t ref;
	struct list_head lru;
	struct list_head rlru;
	struct page *pages[];
};

/**
 * struct xmem_backend_ops - how the pager reaches the appliance
 * @rw: transfer whole pages of @region; returns the number of work
 *	requests that carried them (0 where the backend has no such thing)
 *	or a negative errno, and only when no transfer is in flight any
 *	more.  Pages with consecutive offsets in @ios may go as one request.
 *	Must not allocate with __GFP_IO/__GFP_FS.
 * @writable: optional; false if a write-back to @region cannot start now
 *	(no working connection to its appliance), so that reclaim passes
 *	its dirty portions over instead of waiting for the I/O timeout.
 *	Cheap, does not sleep, called without pager locks held.
 * @zero_ok: optional; true if nobody but this client can have written
 *	@region on the appliance since it was created, now: then the pages
 *	xmem_region_track_zeroes() knows as never written are filled with
 *	zeroes instead of read.  Cheap, does not sleep, may be called with
 *	portion locks held.  Without it nothing is ever zero-filled.
 */
struct xmem_backend_ops {
	int (*rw)(struct xmem_region *region, const struct xmem_io *ios,
		  unsigned int n, bool write);
	bool (*writable)(struct xmem_region *region);
	bool (*zero_ok)(struct xmem_region *region);
};

/**
 * enum xmem_stat_item - the counters of struct xmem_stats
 * @XMEM_STAT_FAULTS: page faults served
 * @XMEM_STAT_CACHE_HITS: faults served from the local cache
 * @XMEM_STAT_READAHEAD_HITS: faults served by a portion readahead fetched
 * @XMEM_STAT_RDMA_READS: pages read from the appliance
 * @XMEM_STAT_RDMA_WRITES: pages written to the appliance
 * @XMEM_STAT_RDMA_READ_WRS: RDMA READ work requests that read them
 * @XMEM_STAT_RDMA_WRITE_WRS: RDMA WRITE work requests that wrote them
 * @XMEM_STAT_EVICTIONS_CLEAN: portions dropped without a transfer
 * @XMEM_STAT_EVICTIONS_DIRTY: portions written back and dropped
 * @XMEM_STAT_WRITEBACK_ERRORS: pages whose write-back failed (they were kept)
 * @XMEM_STAT_TLB_FLUSHES: TLB flushes issued on the mapping: per write-protect,
 *	clean or unmap pass that changed PTEs, one per VMA mapping the
 *	region (an upper bound: the kernel skips a VMA whose PTEs in the
 *	range did not change), and one per PTE replaced in ->pfn_mkwrite
 * @XMEM_STAT_EVICT_BATCHES: eviction batches: windows of a region whose PTEs
 *	were harvested and unmapped together
 * @XMEM_STAT_EVICT_TLB_FLUSHES: the part of @XMEM_STAT_TLB_FLUSHES issued by
 *	eviction batches
 * @XMEM_STAT_LIMIT_EXCEEDED: pages added while the cache (or the region) was over
 *	its limit because nothing could be evicted: every resident portion
 *	busy, or dirty with no way to write it back now
 * @XMEM_STAT_ZERO_FILLS: pages filled with zeroes instead of read, because
 *	the region was never written there (see xmem_region_track_zeroes())
 * @XMEM_NR_STATS: their number
 */
enum xmem_stat_item {
	XMEM_STAT_FAULTS,
	XMEM_STAT_CACHE_HITS,
	XMEM_STAT_READAHEAD_HITS,
	XMEM_STAT_RDMA_READS,
	XMEM_STAT_RDMA_WRITES,
	XMEM_STAT_RDMA_READ_WRS,
	XMEM_STAT_RDMA_WRITE_WRS,
	XMEM_STAT_EVICTIONS_CLEAN,
	XMEM_STAT_EVICTIONS_DIRTY,
	XMEM_STAT_WRITEBACK_ERRORS,
	XMEM_STAT_TLB_FLUSHES,
	XMEM_STAT_EVICT_BATCHES,
	XMEM_STAT_EVICT_TLB_FLUSHES,
	XMEM_STAT_LIMIT_EXCEEDED,
	XMEM_STAT_ZERO_FILLS,
	XMEM_NR_STATS,
};

/**
 * struct xmem_stats - counters since load, one set per CPU
 * @cpu: XMEM_NR_STATS counters per CPU, indexed by enum xmem_stat_item;
 *	xmem_stats_read() sums them without a lock (a sum may miss
 *	updates running on other CPUs meanwhile)
 *
 * Per CPU, so that faults on different CPUs do not bounce the cache
 * lines of shared counters.
 */
struct xmem_stats {
	struct xmem_stats_cpu {
		u64 v[XMEM_NR_STATS];
	} __percpu *cpu;
};

/**
 * struct xmem_cache - the local memory all regions share
 * @mapping: the device's address space, which every mapping of every
 *	region shares; NULL when the cache is used without mappings (KUnit)
 * @ops: the backend
 * @lock: protects @lru, every region's LRU list and @nr_pages
 * @lru: resident portions that are not busy, least recently used first
 * @nr_pages: resident pages, of busy portions too
 * @nr_dirty: pages of portions with XMEM_PORTION_DIRTY set
 * @limit_pages: local memory limit in pages
 * @wmark_low: background reclaim starts when fewer pages than this are
 *	free under @limit_pages (0: no background reclaim)
 * @wmark_high: and stops when this many are free
 * @portion_shift: log2 of the portion size of regions set up from now on
 * @ra_max_pages: largest readahead window, in pages (0: no readahead)
 * @wq: runs @reclaim_work and readahead
 * @reclaim_work: the background reclaimer
 * @shrinker: gives clean pages back under global memory pressure, or NULL
 * @stats: counters
 * @fault_lat: fault-latency histogram, per CPU: bucket i counts faults of
 *	less than 2^i microseconds and at least 2^(i-1); the last bucket,
 *	the rest
 *
 * The tunables (@limit_pages to @ra_max_pages) are read without a lock;
 * each is consistent on its own.
 */
struct xmem_cache {
	struct address_space *mapping;
	const struct xmem_backend_ops *ops;
	/* Protects lru, the regions' lru lists and nr_pages. */
	spinlock_t lock;
	struct list_head lru;
	unsigned long nr_pages;
	atomic_long_t nr_dirty;
	unsigned long limit_pages;
	unsigned long wmark_low;
	unsigned long wmark_high;
	unsigned int portion_shift;
	unsigned long ra_max_pages;
	struct workqueue_struct *wq;
	struct work_struct reclaim_work;
	struct shrinker *shrinker;
	struct xmem_stats stats;
	struct xmem_lat_cpu {
		u64 b[XMEM_LAT_BUCKETS];
	} __percpu *fault_lat;
};

/**
 * struct xmem_region - a remote region as the client knows it
 * @ref: references: the owner's, one per bound file, one per mapping and
 *	one per readahead in flight
 * @cache: the cache it uses
 * @name: its name on the appliance
 * @nr_pages: size in pages; changed only by xmem_region_resize(), under
 *	the xa_lock of @portions
 * @base: page offset of its page 0 in @cache->mapping
 * @order: log2 of the pages per portion, fixed at xmem_region_init()
 * @portions: portion index -> struct xmem_portion; its xa_lock protects
 *	lookups together with taking a portion reference
 * @nr_resident: resident pages of this region
 * @lru: its portions on the cache's LRU list, in the same order, under
 *	&xmem_cache.lock: reclaim for this region alone (its own limit)
 *	walks these, not every region's
 * @limit_pages: local memory this region may use, in pages (0: only the
 *	cache's limit applies)
 * @wb_err: write-back errors, for every syncer to see once: a file
 *	samples it when bound (xmem_region_wb_sample()) and each fsync
 *	checks and advances its sample (xmem_region_sync())
 * @nr_vmas: VMAs mapping the region, for counting TLB flushes
 * @hold: taken shared by every write fault from before its portion is
 *	locked until its writable PTE is in place, exclusive by
 *	xmem_region_hold() to keep writers out (a snapshot); a write fault
 *	that finds it held waits with the mmap lock released and retries
 * @stats: the region's share of the cache's counters
 * @kobj: its sysfs directory, or NULL
 * @release_work: runs the release when the evictor drops the last
 *	reference
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
	unsigned int order;
	struct xarray portions;
	atomic_long_t nr_resident;
	struct list_head lru;
	unsigned long limit_pages;
	errseq_t wb_err;
	atomic_t nr_vmas;
	/* Keeps writable PTEs from appearing while held for writing. */
	struct rw_semaphore hold;
	/*
	 * Pages below zero_pages whose bit in @written is clear were never
	 * written on the appliance (see xmem_region_track_zeroes()).
	 * @written holds the bits in chunks of XMEM_WRITTEN_CHUNK pages,
	 * one for each chunk below zero_pages, stored before zero_pages
	 * covers them (release/acquire) and freed with the region; atomic
	 * bit operations, a bit is set before the write-back of its page
	 * starts and never cleared.  zero_pages drops to 0 for good when
	 * the tracking is forgotten, and rises only with a grow of a region
	 * it covers whole (cmpxchg(), so a forget is never undone).
	 */
	unsigned long zero_pages;
	struct xarray written;
	struct xmem_stats stats;
	struct kobject *kobj;
	struct work_struct release_work;
	void (*free)(struct xmem_region *region);
	void *priv;
};

int xmem_cache_init(struct xmem_cache *cache, struct address_space *mapping,
		    const struct xmem_backend_ops *ops, unsigned long limit);
void xmem_cache_destroy(struct xmem_cache *cache);
int xmem_cache_register_shrinker(struct xmem_cache *cache);
int xmem_cache_set_limit(struct xmem_cache *cache, unsigned long pages);
int xmem_cache_set_watermarks(struct xmem_cache *cache, unsigned long low,
			      unsigned long high);
unsigned long xmem_cache_reclaim(struct xmem_cache *cache,
				 struct xmem_region *only, bool clean_only,
				 unsigned long goal);
unsigned long xmem_cache_shrink(struct xmem_cache *cache, unsigned long goal);

int xmem_region_init(struct xmem_region *region, struct xmem_cache *cache,
		     const char *name, pgoff_t nr_pages, pgoff_t base);
u64 xmem_stats_read(const struct xmem_stats *stats, enum xmem_stat_item item);
void xmem_region_get(struct xmem_region *region);
void xmem_region_put(struct xmem_region *region);
int xmem_region_wait_refs(struct xmem_region *region, unsigned int held,
			  unsigned long timeout);
int xmem_region_sync(struct xmem_region *region, pgoff_t first, pgoff_t last,
		     errseq_t *since);
errseq_t xmem_region_wb_sample(struct xmem_region *region);
void xmem_region_mapped(struct xmem_region *region);
int xmem_region_hold(struct xmem_region *region);
void xmem_region_unhold(struct xmem_region *region);
int xmem_region_drop(struct xmem_region *region);
int xmem_region_discard(struct xmem_region *region);
int xmem_region_track_zeroes(struct xmem_region *region);
void xmem_region_forget_zeroes(struct xmem_region *region);
int xmem_region_invalidate(struct xmem_region *region);
int xmem_region_resize(struct xmem_region *region, pgoff_t nr_pages,
		       bool writeback);
int xmem_region_set_limit(struct xmem_region *region, unsigned long pages);
void xmem_region_counts(struct xmem_region *region, unsigned long *resident,
			unsigned long *dirty);

struct xmem_portion *xmem_pager_get(struct xmem_region *region,
				    pgoff_t index);
void xmem_pager_unlock(struct xmem_portion *portion);
unsigned int xmem_pager_readahead(struct xmem_region *region,
				  struct file_ra_state *ra, pgoff_t index);

/* xmem_pager_sysfs.c */
void xmem_pager_sysfs_init(struct xmem_cache *cache);
int xmem_pager_sysfs_add(struct kobject *parent);
void xmem_pager_sysfs_exit(void);
struct xmem_region *xmem_kobj_region(struct kobject *kobj);
int xmem_region_sysfs_add(struct xmem_region *region,
			  const struct attribute_group **extra);
void xmem_region_sysfs_del(struct xmem_region *region);
extern const struct attribute_group xmem_pager_attr_group;
extern const struct attribute_group xmem_pager_stats_group;

extern const struct vm_operations_struct xmem_vm_ops;

#if IS_ENABLED(CONFIG_KUNIT)
void xmem_portion_set_dirty(struct xmem_cache *cache, struct xmem_portion *p);
void xmem_pager_clean_ptes(struct xmem_cache *cache, struct xmem_portion **v,
			   unsigned int n, bool unmap);
unsigned int xmem_ra_window(struct file_ra_state *ra, pgoff_t index,
			    pgoff_t nr_portions, unsigned int max,
			    pgoff_t *start);
#endif

#endif /* XMEM_PAGER_H */
