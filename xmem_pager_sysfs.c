// SPDX-License-Identifier: GPL-2.0
/*
 * xmem: the pager's sysfs interface.  The knobs and counters of the cache
 * live in the device's directory (/sys/class/misc/xmem/ and its stats/);
 * every region set up by the core gets a directory regions/<name>/ with
 * its own limit and counters.  Documentation/ABI/testing/
 * sysfs-class-misc-xmem describes each file.
 */
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/device.h>
#include <linux/kobject.h>
#include <linux/overflow.h>
#include <linux/log2.h>
#include <linux/mm.h>
#include <linux/slab.h>
#include <linux/sysfs.h>

#include "xmem_pager.h"

/* The smallest local memory limit, global or per region. */
#define XMEM_MIN_LIMIT		SZ_1M
/* The largest readahead window. */
#define XMEM_RA_MAX		SZ_64M

/* Set by xmem_pager_sysfs_init(), before any attribute exists. */
static struct xmem_cache *xmem_sysfs_cache;
/* regions/, from xmem_pager_sysfs_add() to xmem_pager_sysfs_exit(). */
static struct kobject *xmem_regions_kobj;

/*
 * Parse a byte count: decimal digits with an optional K, M, G or T suffix
 * ("64M", "4096") and nothing but a newline after it.  Unlike memparse(),
 * a value that does not fit in 64 bits is refused, not wrapped.
 */
static int xmem_parse_bytes(const char *buf, u64 *bytes)
{
	size_t len = strspn(buf, "0123456789");
	const char *p = buf + len;
	unsigned int shift = 0;
	char num[24];
	u64 v;

	if (!len || len >= sizeof(num))
		return -EINVAL;
	memcpy(num, buf, len);
	num[len] = '\0';
	if (kstrtou64(num, 10, &v))
		return -EINVAL;
	switch (*p) {
	case 'k': case 'K':
		shift = 10;
		break;
	case 'm': case 'M':
		shift = 20;
		break;
	case 'g': case 'G':
		shift = 30;
		break;
	case 't': case 'T':
		shift = 40;
		break;
	}
	if (shift)
		p++;
	if (*p == '\n')
		p++;
	if (*p || check_shl_overflow(v, shift, bytes))
		return -EINVAL;
	return 0;
}

static u64 xmem_ram_bytes(void)
{
	return (u64)totalram_pages() << PAGE_SHIFT;
}

static ssize_t xmem_show_pages(char *buf, unsigned long pages)
{
	return sysfs_emit(buf, "%llu\n", (u64)pages << PAGE_SHIFT);
}

/* Global knobs */

static ssize_t local_limit_show(struct device *d,
				struct device_attribute *attr, char *buf)
{
	return xmem_show_pages(buf, READ_ONCE(xmem_sysfs_cache->limit_pages));
}

static ssize_t local_limit_store(struct device *d,
				 struct device_attribute *attr,
				 const char *buf, size_t len)
{
	u64 bytes;

	if (xmem_parse_bytes(buf, &bytes) || bytes < XMEM_MIN_LIMIT ||
	    bytes > xmem_ram_bytes()) {
		pr_warn_ratelimited("local_limit: expected bytes from 1M up to the RAM size\n");
		return -EINVAL;
	}
	if (xmem_cache_set_limit(xmem_sysfs_cache, bytes >> PAGE_SHIFT))
		pr_warn_ratelimited("local_limit: set, but busy pages keep the cache above it for now\n");
	return len;
}
static DEVICE_ATTR_RW(local_limit);

static ssize_t watermark_low_show(struct device *d,
				  struct device_attribute *attr, char *buf)
{
	return xmem_show_pages(buf, READ_ONCE(xmem_sysfs_cache->wmark_low));
}

static ssize_t watermark_low_store(struct device *d,
				   struct device_attribute *attr,
				   const char *buf, size_t len)
{
	struct xmem_cache *cache = xmem_sysfs_cache;
	u64 bytes;

	if (xmem_parse_bytes(buf, &bytes) ||
	    xmem_cache_set_watermarks(cache, bytes >> PAGE_SHIFT,
				      READ_ONCE(cache->wmark_high))) {
		pr_warn_ratelimited("watermark_low: expected bytes, at most watermark_high\n");
		return -EINVAL;
	}
	return len;
}
static DEVICE_ATTR_RW(watermark_low);

static ssize_t watermark_high_show(struct device *d,
				   struct device_attribute *attr, char *buf)
{
	return xmem_show_pages(buf, READ_ONCE(xmem_sysfs_cache->wmark_high));
}

static ssize_t watermark_high_store(struct device *d,
				    struct device_attribute *attr,
				    const char *buf, size_t len)
{
	struct xmem_cache *cache = xmem_sysfs_cache;
	u64 bytes;

	if (xmem_parse_bytes(buf, &bytes) ||
	    xmem_cache_set_watermarks(cache, READ_ONCE(cache->wmark_low),
				      bytes >> PAGE_SHIFT)) {
		pr_warn_ratelimited("watermark_high: expected bytes, from watermark_low to below local_limit\n");
		return -EINVAL;
	}
	return len;
}
static DEVICE_ATTR_RW(watermark_high);

static ssize_t portion_size_show(struct device *d,
				 struct device_attribute *attr, char *buf)
{
	return sysfs_emit(buf, "%lu\n",
			  1UL << READ_ONCE(xmem_sysfs_cache->portion_shift));
}

static ssize_t portion_size_store(struct device *d,
				  struct device_attribute *attr,
				  const char *buf, size_t len)
{
	u64 bytes;

	if (xmem_parse_bytes(buf, &bytes) || !is_power_of_2(bytes) ||
	    bytes < BIT(XMEM_PORTION_MIN_SHIFT) ||
	    bytes > BIT(XMEM_PORTION_MAX_SHIFT)) {
		pr_warn_ratelimited("portion_size: expected a power of two from the page size to 2M\n");
		return -EINVAL;
	}
	WRITE_ONCE(xmem_sysfs_cache->portion_shift, ilog2(bytes));
	return len;
}
static DEVICE_ATTR_RW(portion_size);

static ssize_t readahead_max_show(struct device *d,
				  struct device_attribute *attr, char *buf)
{
	return xmem_show_pages(buf, READ_ONCE(xmem_sysfs_cache->ra_max_pages));
}

static ssize_t readahead_max_store(struct device *d,
				   struct device_attribute *attr,
				   const char *buf, size_t len)
{
	u64 bytes;

	if (xmem_parse_bytes(buf, &bytes) || bytes > XMEM_RA_MAX) {
		pr_warn_ratelimited("readahead_max: expected bytes, at most 64M\n");
		return -EINVAL;
	}
	WRITE_ONCE(xmem_sysfs_cache->ra_max_pages, bytes >> PAGE_SHIFT);
	return len;
}
static DEVICE_ATTR_RW(readahead_max);

static struct attribute *xmem_pager_attrs[] = {
	&dev_attr_local_limit.attr,
	&dev_attr_watermark_low.attr,
	&dev_attr_watermark_high.attr,
	&dev_attr_portion_size.attr,
	&dev_attr_readahead_max.attr,
	NULL,
};

const struct attribute_group xmem_pager_attr_group = {
	.attrs = xmem_pager_attrs,
};

/* Counters, of the cache (stats/) and of each region (regions/<n>/stats/) */

static u64 xmem_latency_bucket(struct xmem_cache *cache, unsigned int i)
{
	u64 sum = 0;
	int cpu;

	for_each_possible_cpu(cpu)
		sum += per_cpu_ptr(cache->fault_lat, cpu)->b[i];
	return sum;
}

static ssize_t xmem_show_latency(char *buf)
{
	struct xmem_cache *cache = xmem_sysfs_cache;
	ssize_t len = 0;
	unsigned int i;

	for (i = 0; i < XMEM_LAT_BUCKETS - 1; i++)
		len += sysfs_emit_at(buf, len, "%lu %llu\n", 1UL << i,
				     xmem_latency_bucket(cache, i));
	len += sysfs_emit_at(buf, len, "inf %llu\n",
			     xmem_latency_bucket(cache, i));
	return len;
}

/*
 * Each counter exists twice: a device attribute reading the cache's
 * struct xmem_stats and a kobject attribute reading a region's.
 */
#define XMEM_STAT(_name, _expr)						\
static u64 xmem_stat_##_name(const struct xmem_stats *s)		\
{									\
	return _expr;							\
}									\
static ssize_t _name##_show(struct device *d,				\
			    struct device_attribute *attr, char *buf)	\
{									\
	return sysfs_emit(buf, "%llu\n",				\
			  xmem_stat_##_name(&xmem_sysfs_cache->stats));	\
}									\
static DEVICE_ATTR_RO(_name);						\
static ssize_t region_##_name##_show(struct kobject *kobj,		\
				     struct kobj_attribute *attr,	\
				     char *buf)				\
{									\
	return sysfs_emit(buf, "%llu\n",				\
			  xmem_stat_##_name(&xmem_kobj_region(kobj)->stats)); \
}									\
static struct kobj_attribute region_attr_##_name = {			\
	.attr = { .name = __stringify(_name), .mode = 0444 },		\
	.show = region_##_name##_show,					\
}

XMEM_STAT(faults, xmem_stats_read(s, XMEM_STAT_FAULTS));
XMEM_STAT(cache_hits, xmem_stats_read(s, XMEM_STAT_CACHE_HITS));
XMEM_STAT(readahead_hits, xmem_stats_read(s, XMEM_STAT_READAHEAD_HITS));
XMEM_STAT(rdma_reads, xmem_stats_read(s, XMEM_STAT_RDMA_READS));
XMEM_STAT(rdma_writes, xmem_stats_read(s, XMEM_STAT_RDMA_WRITES));
XMEM_STAT(rdma_read_wrs, xmem_stats_read(s, XMEM_STAT_RDMA_READ_WRS));
XMEM_STAT(rdma_write_wrs, xmem_stats_read(s, XMEM_STAT_RDMA_WRITE_WRS));
XMEM_STAT(evictions_clean, xmem_stats_read(s, XMEM_STAT_EVICTIONS_CLEAN));
XMEM_STAT(evictions_dirty, xmem_stats_read(s, XMEM_STAT_EVICTIONS_DIRTY));
XMEM_STAT(writeback_errors, xmem_stats_read(s, XMEM_STAT_WRITEBACK_ERRORS));
XMEM_STAT(tlb_flushes, xmem_stats_read(s, XMEM_STAT_TLB_FLUSHES));
XMEM_STAT(evict_batches, xmem_stats_read(s, XMEM_STAT_EVICT_BATCHES));
XMEM_STAT(evict_tlb_flushes,
	  xmem_stats_read(s, XMEM_STAT_EVICT_TLB_FLUSHES));
XMEM_STAT(limit_exceeded, xmem_stats_read(s, XMEM_STAT_LIMIT_EXCEEDED));
XMEM_STAT(zero_fills, xmem_stats_read(s, XMEM_STAT_ZERO_FILLS));
XMEM_STAT(bytes_read,
	  xmem_stats_read(s, XMEM_STAT_RDMA_READS) << PAGE_SHIFT);
XMEM_STAT(bytes_written,
	  xmem_stats_read(s, XMEM_STAT_RDMA_WRITES) << PAGE_SHIFT);

static ssize_t resident_bytes_show(struct device *d,
				   struct device_attribute *attr, char *buf)
{
	return xmem_show_pages(buf, READ_ONCE(xmem_sysfs_cache->nr_pages));
}
static DEVICE_ATTR_RO(resident_bytes);

static ssize_t dirty_bytes_show(struct device *d,
				struct device_attribute *attr, char *buf)
{
	return xmem_show_pages(buf,
			       atomic_long_read(&xmem_sysfs_cache->nr_dirty));
}
static DEVICE_ATTR_RO(dirty_bytes);

static ssize_t fault_latency_us_show(struct device *d,
				     struct device_attribute *attr, char *buf)
{
	return xmem_show_latency(buf);
}
static DEVICE_ATTR_RO(fault_latency_us);

static struct attribute *xmem_pager_stats_attrs[] = {
	&dev_attr_faults.attr,
	&dev_attr_cache_hits.attr,
	&dev_attr_readahead_hits.attr,
	&dev_attr_rdma_reads.attr,
	&dev_attr_rdma_writes.attr,
	&dev_attr_rdma_read_wrs.attr,
	&dev_attr_rdma_write_wrs.attr,
	&dev_attr_bytes_read.attr,
	&dev_attr_bytes_written.attr,
	&dev_attr_evictions_clean.attr,
	&dev_attr_evictions_dirty.attr,
	&dev_attr_writeback_errors.attr,
	&dev_attr_tlb_flushes.attr,
	&dev_attr_evict_batches.attr,
	&dev_attr_evict_tlb_flushes.attr,
	&dev_attr_limit_exceeded.attr,
	&dev_attr_zero_fills.attr,
	&dev_attr_resident_bytes.attr,
	&dev_attr_dirty_bytes.attr,
	&dev_attr_fault_latency_us.attr,
	NULL,
};

const struct attribute_group xmem_pager_stats_group = {
	.name = "stats",
	.attrs = xmem_pager_stats_attrs,
};

/* Per-region directories */

/**
 * struct xmem_region_kobj - the sysfs directory of a region
 * @kobj: regions/<name>/
 * @region: the region; the directory is removed before it is freed
 */
struct xmem_region_kobj {
	struct kobject kobj;
	struct xmem_region *region;
};

/**
 * xmem_kobj_region() - the region of a directory under regions/
 * @kobj: the kobject an attribute of a region's directory was called on
 *
 * Context: in a show or store method of such an attribute; the region
 * outlives the call.
 * Return: the region.
 */
struct xmem_region *xmem_kobj_region(struct kobject *kobj)
{
	return container_of(kobj, struct xmem_region_kobj, kobj)->region;
}

static ssize_t region_local_limit_show(struct kobject *kobj,
				       struct kobj_attribute *attr, char *buf)
{
	return xmem_show_pages(buf,
			       READ_ONCE(xmem_kobj_region(kobj)->limit_pages));
}

static ssize_t region_local_limit_store(struct kobject *kobj,
					struct kobj_attribute *attr,
					const char *buf, size_t len)
{
	struct xmem_region *region = xmem_kobj_region(kobj);
	u64 bytes;

	if (xmem_parse_bytes(buf, &bytes) ||
	    (bytes && (bytes < XMEM_MIN_LIMIT || bytes > xmem_ram_bytes()))) {
		pr_warn_ratelimited("region %s: local_limit: expected 0 or bytes from 1M up to the RAM size\n",
				    region->name);
		return -EINVAL;
	}
	if (xmem_region_set_limit(region, bytes >> PAGE_SHIFT))
		pr_warn_ratelimited("region %s: local_limit: set, but busy pages keep the region above it for now\n",
				    region->name);
	return len;
}

static struct kobj_attribute region_attr_local_limit =
	__ATTR(local_limit, 0644, region_local_limit_show,
	       region_local_limit_store);

static ssize_t region_resident_bytes_show(struct kobject *kobj,
					  struct kobj_attribute *attr,
					  char *buf)
{
	struct xmem_region *region = xmem_kobj_region(kobj);

	return xmem_show_pages(buf, atomic_long_read(&region->nr_resident));
}

static struct kobj_attribute region_attr_resident_bytes =
	__ATTR(resident_bytes, 0444, region_resident_bytes_show, NULL);

static ssize_t region_dirty_bytes_show(struct kobject *kobj,
				       struct kobj_attribute *attr, char *buf)
{
	unsigned long resident, dirty;

	xmem_region_counts(xmem_kobj_region(kobj), &resident, &dirty);
	return xmem_show_pages(buf, dirty);
}

static struct kobj_attribute region_attr_dirty_bytes =
	__ATTR(dirty_bytes, 0444, region_dirty_bytes_show, NULL);

static ssize_t region_portion_size_show(struct kobject *kobj,
					struct kobj_attribute *attr,
					char *buf)
{
	return sysfs_emit(buf, "%lu\n",
			  PAGE_SIZE << xmem_kobj_region(kobj)->order);
}

static struct kobj_attribute region_attr_portion_size =
	__ATTR(portion_size, 0444, region_portion_size_show, NULL);

/*
 * The hand-off of a region at a VM's switch-over: the client taking the
 * region over drops what it cached before the other one wrote it back.
 */
static ssize_t region_drop_cache_store(struct kobject *kobj,
				       struct kobj_attribute *attr,
				       const char *buf, size_t len)
{
	struct xmem_region *region = xmem_kobj_region(kobj);
	unsigned int val;
	int ret;

	if (kstrtouint(buf, 10, &val) || val != 1) {
		pr_warn_ratelimited("region %s: drop_cache: expected 1\n",
				    region->name);
		return -EINVAL;
	}
	ret = xmem_region_invalidate(region);
	if (ret == -EBUSY)
		pr_warn_ratelimited("region %s: drop_cache: dirty pages written on this host stay cached, neither dropped nor written back\n",
				    region->name);
	return ret ? ret : len;
}

static struct kobj_attribute region_attr_drop_cache =
	__ATTR(drop_cache, 0200, NULL, region_drop_cache_store);

static struct attribute *xmem_region_attrs[] = {
	&region_attr_drop_cache.attr,
	&region_attr_local_limit.attr,
	&region_attr_resident_bytes.attr,
	&region_attr_dirty_bytes.attr,
	&region_attr_portion_size.attr,
	NULL,
};

static const struct attribute_group xmem_region_attr_group = {
	.attrs = xmem_region_attrs,
};

static struct attribute *xmem_region_stats_attrs[] = {
	&region_attr_faults.attr,
	&region_attr_cache_hits.attr,
	&region_attr_readahead_hits.attr,
	&region_attr_rdma_reads.attr,
	&region_attr_rdma_writes.attr,
	&region_attr_rdma_read_wrs.attr,
	&region_attr_rdma_write_wrs.attr,
	&region_attr_bytes_read.attr,
	&region_attr_bytes_written.attr,
	&region_attr_evictions_clean.attr,
	&region_attr_evictions_dirty.attr,
	&region_attr_writeback_errors.attr,
	&region_attr_tlb_flushes.attr,
	&region_attr_evict_batches.attr,
	&region_attr_evict_tlb_flushes.attr,
	&region_attr_limit_exceeded.attr,
	&region_attr_zero_fills.attr,
	NULL,
};

static const struct attribute_group xmem_region_stats_group = {
	.name = "stats",
	.attrs = xmem_region_stats_attrs,
};

static const struct attribute_group *xmem_region_groups[] = {
	&xmem_region_attr_group,
	&xmem_region_stats_group,
	NULL,
};

static void xmem_region_kobj_release(struct kobject *kobj)
{
	kfree(container_of(kobj, struct xmem_region_kobj, kobj));
}

static const struct kobj_type xmem_region_ktype = {
	.release = xmem_region_kobj_release,
	.sysfs_ops = &kobj_sysfs_ops,
	.default_groups = xmem_region_groups,
};

/**
 * xmem_region_sysfs_add() - give a region its directory regions/<name>/
 * @region: the region, set up with xmem_region_init()
 * @extra: more attribute groups of struct kobj_attribute, whose methods
 *	find the region with xmem_kobj_region(); NULL-terminated, or NULL
 *
 * The directory goes away when the region is freed.
 *
 * Context: process context.
 * Return: 0, -ENOMEM, or -EEXIST if a directory of that name exists.
 */
int xmem_region_sysfs_add(struct xmem_region *region,
			  const struct attribute_group **extra)
{
	struct xmem_region_kobj *rk;
	int ret;

	if (!xmem_regions_kobj)
		return 0;
	rk = kzalloc(sizeof(*rk), GFP_KERNEL);
	if (!rk)
		return -ENOMEM;
	rk->region = region;
	ret = kobject_init_and_add(&rk->kobj, &xmem_region_ktype,
				   xmem_regions_kobj, "%s", region->name);
	if (ret)
		goto err_put_kobj;
	if (extra) {
		ret = sysfs_create_groups(&rk->kobj, extra);
		if (ret)
			goto err_put_kobj;
	}
	region->kobj = &rk->kobj;
	return 0;

err_put_kobj:
	kobject_put(&rk->kobj);
	return ret;
}

/**
 * xmem_region_sysfs_del() - remove a region's directory, if it has one
 * @region: the region
 *
 * On return no method of its attributes runs any more.
 *
 * Context: process context.
 */
void xmem_region_sysfs_del(struct xmem_region *region)
{
	struct kobject *kobj = region->kobj;

	if (!kobj)
		return;
	region->kobj = NULL;
	kobject_del(kobj);
	kobject_put(kobj);
}

/**
 * xmem_pager_sysfs_init() - bind the attributes to the device's cache
 * @cache: the device's cache
 *
 * Call before the device and its attribute groups are registered.
 *
 * Context: process context.
 */
void xmem_pager_sysfs_init(struct xmem_cache *cache)
{
	xmem_sysfs_cache = cache;
}

/**
 * xmem_pager_sysfs_add() - create the regions/ directory
 * @parent: the device's kobject
 *
 * Regions set up before get no directory.
 *
 * Context: process context.
 * Return: 0 or -ENOMEM.
 */
int xmem_pager_sysfs_add(struct kobject *parent)
{
	xmem_regions_kobj = kobject_create_and_add("regions", parent);
	return xmem_regions_kobj ? 0 : -ENOMEM;
}

/**
 * xmem_pager_sysfs_exit() - remove the regions/ directory
 *
 * Every region's directory is gone already.
 *
 * Context: process context.
 */
void xmem_pager_sysfs_exit(void)
{
	kobject_put(xmem_regions_kobj);
	xmem_regions_kobj = NULL;
}
