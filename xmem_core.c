// SPDX-License-Identifier: GPL-2.0
/*
 * xmem: external primary memory over RDMA.
 *
 * This file holds the device /dev/xmem (init and exit, its knobs, the
 * pseudo file system whose inode every open shares) and the pager's
 * backend, the transfers to a region's appliance with retry across
 * reconnections.  See xmem_core.h for the other files and the lock order.
 */
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/fs.h>
#include <linux/module.h>
#include <linux/mount.h>
#include <linux/pseudo_fs.h>
#include <linux/sizes.h>

#include "xmem_appliance.h"
#include "xmem_compat.h"
#include "xmem_core.h"
#include "xmem_rdma.h"

#define XMEM_MIN_LIMIT		SZ_1M
#define XMEM_DEFAULT_LIMIT	SZ_64M
#define XMEM_IO_TIMEOUT		30	/* seconds, default of io_timeout */
#define XMEM_IO_TIMEOUT_MAX	3600

static char *appliance;
module_param(appliance, charp, 0444);
MODULE_PARM_DESC(appliance,
		 "appliances to connect to at load, ADDR:PORT[,ADDR:PORT...]");

/*
 * Seconds a transfer waits for a working connection before it fails (and
 * the fault that needs it gets SIGBUS), and a control call for its reply
 * (xmem_rdma_set_timeout()); read without a lock.
 */
static unsigned int io_timeout = XMEM_IO_TIMEOUT;
module_param(io_timeout, uint, 0444);
MODULE_PARM_DESC(io_timeout, "seconds I/O waits for the appliance (1-3600)");

static unsigned long local_limit = XMEM_DEFAULT_LIMIT;
module_param(local_limit, ulong, 0444);
MODULE_PARM_DESC(local_limit, "initial local memory limit in bytes");

/*
 * Regions this host may have attached at once (0: no limit but the
 * windows); read without a lock by xmem_attach_region().
 */
unsigned int xmem_max_regions;
module_param_named(max_regions, xmem_max_regions, uint, 0644);
MODULE_PARM_DESC(max_regions,
		 "regions this host may have attached at once (0: no limit)");

/* The one device; see xmem_core.h. */
struct xmem_device xmem_dev;

/**
 * xmem_io_timeout() - the io_timeout parameter
 *
 * Context: any.
 * Return: how long, in seconds, I/O waits for the appliance.
 */
unsigned int xmem_io_timeout(void)
{
	return READ_ONCE(io_timeout);
}

/* One-sided transfers to the region's appliance, retried as said below. */
static int __xmem_backend_rw(struct xmem_region *region,
			     const struct xmem_io *ios, unsigned int n,
			     bool write)
{
	struct xmem_core_region *cr = to_core_region(region);
	unsigned int timeout = READ_ONCE(io_timeout);
	unsigned long deadline = jiffies + timeout * HZ;
	struct xmem_device *dev = &xmem_dev;
	struct xmem_rdma_conn *conn;
	struct xmem_appliance *a;
	bool lost, moved, beyond;
	u64 addr, end;
	unsigned int i;
	u32 rkey;
	int ret;

	/*
	 * A transfer that fails because the connection went down is
	 * retried on the next one: reads and writes of whole pages are
	 * idempotent.  Only io_timeout seconds without a working
	 * connection, or an error on a working one, fail it.  A region
	 * moved to another appliance meanwhile (a drain) is retried there.
	 */
	for (;;) {
		a = xmem_region_appl(cr);
		conn = xmem_appliance_conn(a, deadline);
		if (!conn) {
			pr_err_ratelimited("region %s: no working connection to appliance %s for %u s (io_timeout); %s fails, a fault gets SIGBUS\n",
					   region->name, xmem_appliance_name(a),
					   timeout, write ? "write-back" : "read");
			xmem_appliance_put(a);
			return -ENOTCONN;
		}
		down_read(&cr->io_lock);
		spin_lock(&dev->remote_lock);
		moved = cr->appl != a;
		addr = cr->addr;
		rkey = cr->rkey;
		lost = cr->lost;
		end = cr->remote_size;
		spin_unlock(&dev->remote_lock);

		/*
		 * Pages another client cut off are not asked for: the key
		 * does not cover them, and the failure would only cycle the
		 * connection until io_timeout.
		 */
		beyond = false;
		for (i = 0; i < n; i++)
			beyond |= ios[i].offset >= end;
		if (beyond && !lost)
			pr_err_ratelimited("region %s: page past the appliance's end (%llu bytes; resized by another client)\n",
					   region->name, end);
		lost |= beyond;

		if (moved)
			ret = -EAGAIN;
		else
			ret = lost ? -EIO : xmem_rdma_rw(conn, addr, rkey, ios,
							 n, write);
		up_read(&cr->io_lock);
		if (ret < 0 && ret != -EAGAIN && !lost)
			xmem_appliance_error(a, ret);
		if (ret != -EAGAIN &&
		    (ret >= 0 || lost || xmem_rdma_connected(conn) ||
		     time_after_eq(jiffies, deadline) ||
		     fatal_signal_pending(current))) {
			xmem_rdma_put(conn);
			xmem_appliance_put(a);
			return ret;
		}
		xmem_rdma_put(conn);
		xmem_appliance_put(a);
	}
}

/*
 * Can a write-back to @region start now: a working connection to its
 * appliance, and the region not lost.  Reclaim passes dirty portions of
 * the others over rather than wait io_timeout for them.
 */
static bool xmem_backend_writable(struct xmem_region *region)
{
	struct xmem_core_region *cr = to_core_region(region);
	struct xmem_appliance *a = xmem_region_appl(cr);
	struct xmem_rdma_conn *conn = xmem_appliance_conn_now(a);
	bool ok = conn && !READ_ONCE(cr->lost);

	if (conn)
		xmem_rdma_put(conn);
	xmem_appliance_put(a);
	return ok;
}

/*
 * May never-written pages of @region be filled with zeroes now: it is
 * held alone (XMEM_ATTACH_SOLE) on a working connection that completed
 * an exchange within the lease, so the appliance still refuses other
 * writers (it keeps the hold for twice the lease after the connection
 * ends).  Otherwise the fetch reads, which renews the lease.
 */
static bool xmem_backend_zero_ok(struct xmem_region *region)
{
	struct xmem_core_region *cr = to_core_region(region);
	struct xmem_appliance *a;
	struct xmem_rdma_conn *conn;
	bool ok;

	if (!READ_ONCE(cr->hold))
		return false;
	a = xmem_region_appl(cr);
	conn = xmem_appliance_conn_now(a);
	ok = conn && !READ_ONCE(cr->lost) &&
	     xmem_rdma_fresh(conn, XMEM_SOLE_LEASE_SEC * HZ);
	if (conn)
		xmem_rdma_put(conn);
	xmem_appliance_put(a);
	return ok;
}

/*
 * The pager's backend.  A failed write-back leaves the pages dirty in the
 * cache: the region pins the module until they are written, so that
 * rmmod cannot drop them.
 */
static int xmem_backend_rw(struct xmem_region *region,
			   const struct xmem_io *ios, unsigned int n,
			   bool write)
{
	int ret = __xmem_backend_rw(region, ios, n, write);

	if (ret < 0 && write)
		xmem_region_pin(to_core_region(region));
	return ret;
}

static const struct xmem_backend_ops xmem_backend_ops = {
	.rw = xmem_backend_rw,
	.writable = xmem_backend_writable,
	.zero_ok = xmem_backend_zero_ok,
};

/* sysfs */

static ssize_t io_timeout_show(struct device *d,
			       struct device_attribute *attr, char *buf)
{
	return sysfs_emit(buf, "%u\n", READ_ONCE(io_timeout));
}

static ssize_t io_timeout_store(struct device *d,
				struct device_attribute *attr,
				const char *buf, size_t len)
{
	unsigned int secs;

	if (kstrtouint(buf, 10, &secs) || !secs ||
	    secs > XMEM_IO_TIMEOUT_MAX) {
		pr_warn_ratelimited("io_timeout: expected seconds from 1 to %u\n",
				    XMEM_IO_TIMEOUT_MAX);
		return -EINVAL;
	}
	WRITE_ONCE(io_timeout, secs);
	xmem_rdma_set_timeout(secs);
	return len;
}
static DEVICE_ATTR_RW(io_timeout);

static struct attribute *xmem_attrs[] = {
	&dev_attr_io_timeout.attr,
	NULL,
};

static const struct attribute_group xmem_attr_group = {
	.attrs = xmem_attrs,
};

static const struct attribute_group *xmem_groups[] = {
	&xmem_attr_group,
	&xmem_pool_attr_group,
	&xmem_pager_attr_group,
	&xmem_pager_stats_group,
	NULL,
};

/* The pseudo file system that holds the shared inode, as DRM does. */

static int xmem_fs_init_fs_context(struct fs_context *fc)
{
	return init_pseudo(fc, 0x786d656d) ? 0 : -ENOMEM;
}

/*
 * No .owner: the mount is pinned from module init to exit, and a module
 * reference held by it would make the module impossible to unload.
 */
static struct file_system_type xmem_fs_type = {
	.name = "xmem",
	.init_fs_context = xmem_fs_init_fs_context,
	.kill_sb = kill_anon_super,
};

static int xmem_mnt_count;

static int __init xmem_init(void)
{
	struct xmem_device *dev = &xmem_dev;
	int ret;

	if (local_limit < XMEM_MIN_LIMIT) {
		pr_err("local_limit must be at least 1M\n");
		return -EINVAL;
	}
	if (!io_timeout || io_timeout > XMEM_IO_TIMEOUT_MAX) {
		pr_err("io_timeout must be 1 to %u seconds\n",
		       XMEM_IO_TIMEOUT_MAX);
		return -EINVAL;
	}
	/* Control calls wait io_timeout for a reply, like transfers. */
	xmem_rdma_set_timeout(io_timeout);
	ret = xmem_rdma_init();
	if (ret)
		return ret;
	ret = xmem_pool_init(&xmem_pool_ops, appliance);
	if (ret)
		goto err_rdma_exit;

	mutex_init(&dev->attach_lock);
	mutex_init(&dev->lock);
	spin_lock_init(&dev->remote_lock);
	INIT_LIST_HEAD(&dev->regions);
	INIT_WORK(&dev->resize_work, xmem_resize_work);
	INIT_DELAYED_WORK(&dev->temp_work, xmem_temp_work);
	ida_init(&dev->windows);

	ret = simple_pin_fs(&xmem_fs_type, &dev->mnt, &xmem_mnt_count);
	if (ret)
		goto err_rdma_exit;
	dev->inode = alloc_anon_inode(dev->mnt->mnt_sb);
	if (IS_ERR(dev->inode)) {
		ret = PTR_ERR(dev->inode);
		goto err_release_fs;
	}
	ret = xmem_cache_init(&dev->cache, dev->inode->i_mapping,
			      &xmem_backend_ops, local_limit >> PAGE_SHIFT);
	if (ret)
		goto err_put_inode;
	xmem_pager_sysfs_init(&dev->cache);

	dev->misc.minor = MISC_DYNAMIC_MINOR;
	dev->misc.name = "xmem";
	dev->misc.fops = &xmem_fops;
	dev->misc.groups = xmem_groups;
	dev->misc.mode = 0600;
	ret = misc_register(&dev->misc);
	if (ret)
		goto err_destroy_cache;
	ret = xmem_pager_sysfs_add(&dev->misc.this_device->kobj);
	if (ret)
		goto err_deregister;
	ret = xmem_cache_register_shrinker(&dev->cache);
	if (ret)
		goto err_sysfs_exit;
	/* Last: from here on, the appliance= members connect. */
	ret = xmem_pool_sysfs_add(&dev->misc.this_device->kobj);
	if (ret)
		goto err_pool_exit;
	pr_info("loaded, local limit %lu bytes\n", local_limit);
	return 0;

err_pool_exit:
	xmem_pool_exit();
err_sysfs_exit:
	xmem_pager_sysfs_exit();
err_deregister:
	misc_deregister(&dev->misc);
err_destroy_cache:
	xmem_cache_destroy(&dev->cache);
err_put_inode:
	iput(dev->inode);
err_release_fs:
	simple_release_fs(&dev->mnt, &xmem_mnt_count);
err_rdma_exit:
	xmem_rdma_exit();
	return ret;
}

static void __exit xmem_exit(void)
{
	struct xmem_device *dev = &xmem_dev;
	struct xmem_core_region *cr, *tmp;
	LIST_HEAD(regions);

	/*
	 * No file is open and no region is pinned (xmem_region_pin(): the
	 * module could not be unloaded otherwise): write everything back,
	 * then drop it.  The connections stay up for that; reconnection
	 * still works, as the device lock is not held meanwhile.  Only an
	 * appliance lost since rmmod was allowed can make this fail now.
	 * Temporary regions are destroyed first, once more if a try of the
	 * work failed; any left (appliance unreachable) go with the rest,
	 * and their appliance destroys them when the connection ends.
	 */
	cancel_delayed_work_sync(&dev->temp_work);
	xmem_temps_end(dev);
	mutex_lock(&dev->lock);
	list_splice_init(&dev->regions, &regions);
	mutex_unlock(&dev->lock);
	list_for_each_entry_safe(cr, tmp, &regions, list) {
		if (xmem_region_sync(&cr->r, 0, cr->r.nr_pages - 1, NULL) ||
		    xmem_region_drop(&cr->r))
			pr_err("region %s: write-back failed at unload\n",
			       cr->r.name);
		xmem_node_del(cr);
		list_del(&cr->list);
		xmem_region_put(&cr->r);
	}
	cancel_work_sync(&dev->resize_work);

	/*
	 * Readahead in flight holds region references: once the pager's
	 * work is done, every region and its directory is gone, and with
	 * them their references to the appliances.  Then init is undone in
	 * reverse: the pool's members and appliances/ (their files refuse
	 * new members from here on), the pager's directories, the device
	 * with its files, and only then the cache those files reach.
	 */
	flush_workqueue(dev->cache.wq);
	xmem_pool_exit();
	xmem_pager_sysfs_exit();
	misc_deregister(&dev->misc);
	xmem_cache_destroy(&dev->cache);

	iput(dev->inode);
	simple_release_fs(&dev->mnt, &xmem_mnt_count);
	ida_destroy(&dev->windows);
	/* Last: the connections the pool and the regions let go of. */
	xmem_rdma_exit();
	pr_info("unloaded\n");
}

module_init(xmem_init);
module_exit(xmem_exit);

MODULE_DESCRIPTION("xmem: external primary memory over RDMA");
MODULE_LICENSE("GPL");
MODULE_VERSION(XMEM_VERSION);
