// SPDX-License-Identifier: GPL-2.0
/*
 * xmem: external primary memory over RDMA.
 *
 * This file holds the device: /dev/xmem, its file operations and ioctls,
 * the regions known to this client, which appliance holds each and how
 * they move between appliances (drain), and the device's own knobs.  The
 * appliances themselves (connections, recovery, placement) are in
 * xmem_appliance.c; faults, eviction and write-back in xmem_pager.c, the
 * PTE side in xmem_tlb.c, the transport in xmem_rdma.c and message
 * encoding in xmem_wire.c.
 *
 * Every open of /dev/xmem shares one address space (one anonymous inode's
 * mapping), so the kernel's mapping helpers reach every PTE of a page in
 * every process.  Each region owns a window of that address space: page i
 * of a region lives at page offset region->base + i.  mmap offsets are
 * region relative; ->mmap moves vm_pgoff into the region's window.
 *
 * Lock ordering of the module, outermost first:
 *   xmem_file.lock (ATTACH only; copy_to_user() under it may take mmap_lock)
 *   mmap_lock (held by the mm core around ->mmap and the fault handlers)
 *   xmem_pool.lock (membership changes; xmem_appliance.c)
 *   xmem_appliance.lock (one member's connection changes)
 *   xmem_device.lock
 *   portion LOCKED bits: several only in ascending (region, index) order,
 *     or with trylock (the evictor)
 *   xmem_core_region.io_lock (shared by transfers under portion locks;
 *     exclusive by shrink and drain, which hold no portion lock)
 *   xmem_rdma_conn.call_lock (inside the transport)
 *   i_mmap_rwsem, page table locks (taken by the mm helpers)
 *   xmem_device.remote_lock, xmem_pool.conn_lock, xmem_pool.secret_lock,
 *     xmem_cache.lock, a region's xa_lock (innermost; never nested with
 *     one another)
 */
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/cred.h>
#include <linux/fs.h>
#include <linux/idr.h>
#include <linux/inet.h>
#include <linux/miscdevice.h>
#include <linux/module.h>
#include <linux/mount.h>
#include <linux/pseudo_fs.h>
#include <linux/random.h>
#include <linux/rwsem.h>
#include <linux/sizes.h>
#include <linux/slab.h>
#include <linux/uaccess.h>
#include <linux/workqueue.h>

#include "uapi/xmem.h"
#include "xmem_acct.h"
#include "xmem_appliance.h"
#include "xmem_compat.h"
#include "xmem_pager.h"
#include "xmem_rdma.h"
#include "xmem_wire.h"

/* Page offsets per region window: 1 TiB, the largest region. */
#define XMEM_WINDOW_SHIFT	(40 - PAGE_SHIFT)
/* Windows 1 .. XMEM_MAX_WINDOWS - 1; offsets stay below 2^60 bytes. */
#define XMEM_MAX_WINDOWS	BIT(20)

#define XMEM_MIN_LIMIT		SZ_1M
#define XMEM_DEFAULT_LIMIT	SZ_64M
#define XMEM_IO_TIMEOUT		30	/* seconds, default of io_timeout */
#define XMEM_IO_TIMEOUT_MAX	3600
/* LIST cursors: pool member index above the appliance's region id. */
#define XMEM_CURSOR_SHIFT	56
#define XMEM_CURSOR_ID_MASK	(BIT_ULL(XMEM_CURSOR_SHIFT) - 1)

static char *appliance;
module_param(appliance, charp, 0444);
MODULE_PARM_DESC(appliance,
		 "appliances to connect to at load, ADDR:PORT[,ADDR:PORT...]");

/*
 * Seconds a transfer waits for a working connection before it fails (and
 * the fault that needs it gets SIGBUS); read without a lock.
 */
static unsigned int io_timeout = XMEM_IO_TIMEOUT;
module_param(io_timeout, uint, 0444);
MODULE_PARM_DESC(io_timeout, "seconds I/O waits for the appliance (1-3600)");

static unsigned long local_limit = XMEM_DEFAULT_LIMIT;
module_param(local_limit, ulong, 0444);
MODULE_PARM_DESC(local_limit, "initial local memory limit in bytes");

/**
 * struct xmem_core_region - a region as this client knows it
 * @r: the pager's view
 * @list: entry in &xmem_device.regions, under &xmem_device.lock
 * @window: its window in the shared address space (IDA slot)
 * @appl: the appliance holding it, referenced; under
 *	&xmem_device.remote_lock, changed only with @io_lock held for write
 * @region_id: the appliance's identifier; under &xmem_device.remote_lock
 * @addr: remote address of byte 0; under &xmem_device.remote_lock
 * @rkey: remote key; under &xmem_device.remote_lock
 * @lost: the appliance no longer has it; under &xmem_device.remote_lock
 * @remote_size: its size on the appliance, which another client may have
 *	changed before this one follows; under &xmem_device.remote_lock
 * @uid: owner, as the appliance reports it; set at attach
 * @gid: group; set at attach
 * @mode: permission bits; set at attach
 * @pending_pages: size another client gave it, seen at reconnection and
 *	not applied yet, or 0; under &xmem_device.lock
 * @node: /dev/xmem.d/NAME, registered while it is attached here
 * @node_added: @node is registered; under &xmem_device.lock
 * @node_name: @node's device name, "xmem.NAME"
 * @node_path: @node's path below /dev
 * @io_lock: taken shared around every transfer on the region, exclusive
 *	while a shrink changes its remote key or a drain moves it to
 *	another appliance; never held while waiting for a portion lock
 */
struct xmem_core_region {
	struct xmem_region r;
	struct list_head list;
	int window;
	struct xmem_appliance *appl;
	u64 region_id;
	u64 addr;
	u32 rkey;
	bool lost;
	u64 remote_size;
	u32 uid;
	u32 gid;
	u32 mode;
	pgoff_t pending_pages;
	struct miscdevice node;
	bool node_added;
	char node_name[XMEM_REGION_NAME_MAX + 8];
	char node_path[XMEM_REGION_NAME_MAX + 8];
	/* Excludes transfers while the remote location changes. */
	struct rw_semaphore io_lock;
};

/**
 * struct xmem_file - state of one open file
 * @lock: serialises binding
 * @region: the region the file is bound to, or NULL; holds a reference.
 *	Set once, with release semantics, under @lock; read without it
 *	(->mmap runs under mmap_lock, which ATTACH's copy_to_user() may take
 *	inside @lock) and stable until the file is released.
 * @acct: its allocator counters (XMEM_IOC_ACCOUNT)
 */
struct xmem_file {
	/* Serialises ATTACH: protects the transition of region from NULL. */
	struct mutex lock;
	struct xmem_core_region *region;
	struct xmem_acct acct;
};

/**
 * struct xmem_device - the one xmem device
 * @misc: /dev/xmem
 * @mnt: pseudo file system holding @inode
 * @inode: anonymous inode whose mapping every open file shares
 * @cache: the local page cache
 * @lock: protects @regions and the local fields of every region
 * @regions: known regions (struct xmem_core_region.list)
 * @remote_lock: protects where every region lives (appliance, id,
 *	address, key, lost)
 * @windows: allocates region windows
 * @resize_work: applies sizes other clients gave regions (pending_pages)
 */
struct xmem_device {
	struct miscdevice misc;
	struct vfsmount *mnt;
	struct inode *inode;
	struct xmem_cache cache;

	/* Protects regions and the regions' local fields. */
	struct mutex lock;
	struct list_head regions;

	/* Protects the remote fields of every region. */
	spinlock_t remote_lock;
	struct ida windows;
	struct work_struct resize_work;
};

static struct xmem_device xmem_dev;

#define to_core_region(region) container_of(region, struct xmem_core_region, r)

/* The appliance holding @cr now, referenced. */
static struct xmem_appliance *xmem_region_appl(struct xmem_core_region *cr)
{
	struct xmem_appliance *a;

	spin_lock(&xmem_dev.remote_lock);
	a = cr->appl;
	xmem_appliance_get(a);
	spin_unlock(&xmem_dev.remote_lock);
	return a;
}

/* The pager's backend: one-sided transfers to the region's appliance. */
static int xmem_backend_rw(struct xmem_region *region,
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
		if (ret && ret != -EAGAIN && !lost)
			xmem_appliance_error(a, ret);
		if (ret != -EAGAIN &&
		    (!ret || lost || xmem_rdma_connected(conn) ||
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

static const struct xmem_backend_ops xmem_backend_ops = {
	.rw = xmem_backend_rw,
};

/* Bind @cr to @a (referenced by the caller, reference taken over). */
static void xmem_region_bind(struct xmem_device *dev,
			     struct xmem_core_region *cr,
			     struct xmem_appliance *a,
			     const struct xmem_wire_region *wr)
{
	struct xmem_appliance *old;

	spin_lock(&dev->remote_lock);
	old = cr->appl;
	cr->appl = a;
	cr->region_id = wr->region_id;
	cr->addr = wr->addr;
	cr->rkey = wr->rkey;
	cr->remote_size = wr->size;
	cr->lost = false;
	spin_unlock(&dev->remote_lock);
	xmem_appliance_put(old);
}

/*
 * The pool's reattach callback: a new connection to @a.  Refresh where
 * each region it holds lives, adopting regions of a removed member with
 * the same address.  A region the appliance does not have any more, or
 * has recreated, is lost: its faults get SIGBUS rather than other data.
 * A region another client resized is resized here too.
 */
static void xmem_reattach(struct xmem_appliance *a,
			  struct xmem_rdma_conn *conn)
{
	struct xmem_wire_region_req req = { .op = XMEM_REGION_OP_ATTACH };
	struct xmem_device *dev = &xmem_dev;
	struct xmem_core_region *cr;
	struct xmem_appliance *held;
	struct xmem_wire_region wr;
	pgoff_t nr;
	bool mine;
	int ret;

	mutex_lock(&dev->lock);
	list_for_each_entry(cr, &dev->regions, list) {
		spin_lock(&dev->remote_lock);
		held = cr->appl;
		mine = held == a ||
		       (!xmem_appliance_member(held) &&
			xmem_appliance_same(held, a));
		spin_unlock(&dev->remote_lock);
		if (!mine)
			continue;
		/* As uid 0: this client attached it before, for its users. */
		req.name = cr->r.name;
		ret = xmem_rdma_region(conn, &req, &wr);
		if (!ret && wr.region_id != cr->region_id)
			ret = -ESTALE;
		nr = wr.size >> PAGE_SHIFT;
		if (!ret && nr != cr->r.nr_pages) {
			/*
			 * Resized by another client.  Faults holding portion
			 * locks may be waiting for this very connection, so
			 * the pager's half is done by the resize work, after
			 * the connection is installed.
			 */
			cr->pending_pages = nr;
			queue_work(system_long_wq, &dev->resize_work);
		}
		if (ret) {
			spin_lock(&dev->remote_lock);
			cr->lost = true;
			spin_unlock(&dev->remote_lock);
			pr_err("region %s: lost by appliance %s (%d); its pages fault with SIGBUS\n",
			       cr->r.name, xmem_appliance_name(a), ret);
			continue;
		}
		xmem_appliance_get(a);	/* the binding's; the old one is dropped */
		xmem_region_bind(dev, cr, a, &wr);
	}
	mutex_unlock(&dev->lock);
}

/* Apply the sizes other clients gave regions, seen at reconnection. */
static void xmem_resize_work(struct work_struct *work)
{
	struct xmem_device *dev = container_of(work, struct xmem_device,
					       resize_work);
	struct xmem_core_region *cr;
	pgoff_t nr;

	mutex_lock(&dev->lock);
	list_for_each_entry(cr, &dev->regions, list) {
		nr = cr->pending_pages;
		if (!nr)
			continue;
		cr->pending_pages = 0;
		if (xmem_region_resize(&cr->r, nr, false))
			pr_err("region %s: cannot follow the resize to %llu bytes by another client\n",
			       cr->r.name, (u64)nr << PAGE_SHIFT);
		else
			pr_info("region %s: resized to %llu bytes by another client\n",
				cr->r.name, (u64)nr << PAGE_SHIFT);
	}
	mutex_unlock(&dev->lock);
}

/* The pool's sync callback: write back the regions of @a (NULL: all). */
static int xmem_sync_regions(struct xmem_appliance *a)
{
	struct xmem_device *dev = &xmem_dev;
	struct xmem_core_region *cr;
	int ret = 0;

	mutex_lock(&dev->lock);
	list_for_each_entry(cr, &dev->regions, list) {
		if (a && READ_ONCE(cr->appl) != a)
			continue;
		if (xmem_region_sync(&cr->r, 0, cr->r.nr_pages - 1))
			ret = -EIO;
	}
	mutex_unlock(&dev->lock);
	return ret;
}

/* The pool's attached callback: regions bound to @a. */
static unsigned int xmem_attached(struct xmem_appliance *a)
{
	struct xmem_device *dev = &xmem_dev;
	struct xmem_core_region *cr;
	unsigned int n = 0;

	mutex_lock(&dev->lock);
	list_for_each_entry(cr, &dev->regions, list)
		n += READ_ONCE(cr->appl) == a;
	mutex_unlock(&dev->lock);
	return n;
}

/*
 * Move @cr from @from to another member, chosen by placement: the target
 * copies it appliance to appliance (PULL) while transfers on the region
 * wait; pages cached here stay cached, and dirty ones are written back to
 * the new place later.  Then the old copy is destroyed.  Under dev->lock.
 */
static int xmem_move_region(struct xmem_device *dev,
			    struct xmem_core_region *cr,
			    struct xmem_appliance *from)
{
	struct xmem_wire_region_req req = {
		.op = XMEM_REGION_OP_INFO,
		.name = cr->r.name,
	};
	u64 size = (u64)cr->r.nr_pages << PAGE_SHIFT;
	struct xmem_rdma_conn *src, *conn;
	struct xmem_appliance *to;
	struct xmem_wire_region wr;
	unsigned long t0 = jiffies;
	int ret;

	lockdep_assert_held(&dev->lock);
	src = xmem_appliance_conn_now(from);
	if (!src)
		return -ENOTCONN;
	/* Another client's writes to the old copy would be lost. */
	ret = xmem_rdma_region(src, &req, &wr);
	if (!ret && wr.users > 1) {
		pr_err_ratelimited("region %s: attached by %u clients; detach it on the others before draining %s\n",
				   cr->r.name, wr.users, xmem_appliance_name(from));
		ret = -EBUSY;
	}
	if (ret)
		goto out_put_src;
	to = xmem_pool_place(size, from, &conn);
	if (IS_ERR(to)) {
		ret = PTR_ERR(to);
		pr_err_ratelimited("region %s: no other appliance can take %llu bytes: %d\n",
				   cr->r.name, size, ret);
		goto out_put_src;
	}

	down_write(&cr->io_lock);
	ret = xmem_rdma_pull(conn, xmem_appliance_addr(from), cr->r.name,
			     &wr);
	if (!ret && wr.size != size) {
		pr_err_ratelimited("region %s: %s copied %llu bytes of %llu\n",
				   cr->r.name, xmem_appliance_name(to), wr.size,
				   size);
		req.op = XMEM_REGION_OP_DESTROY;
		xmem_rdma_region(conn, &req, &wr);
		ret = -EIO;
	}
	if (!ret) {
		xmem_appliance_get(to);
		xmem_region_bind(dev, cr, to, &wr);
	}
	up_write(&cr->io_lock);
	if (ret) {
		pr_err_ratelimited("region %s: copy from %s to %s failed: %d\n",
				   cr->r.name, xmem_appliance_name(from),
				   xmem_appliance_name(to), ret);
		goto out_put;
	}
	pr_info("region %s: moved from %s to %s, %llu bytes in %u ms\n",
		cr->r.name, xmem_appliance_name(from), xmem_appliance_name(to),
		size, jiffies_to_msecs(jiffies - t0));

	/* The region lives on @to now; a failure leaves a stale copy. */
	req.op = XMEM_REGION_OP_DESTROY;
	if (xmem_rdma_region(src, &req, &wr))
		pr_warn("region %s: the old copy on %s could not be destroyed\n",
			cr->r.name, xmem_appliance_name(from));
out_put:
	xmem_rdma_put(conn);
	xmem_appliance_put(to);
out_put_src:
	xmem_rdma_put(src);
	return ret;
}

/* The pool's drain callback: move every region held by @a elsewhere. */
static int xmem_drain(struct xmem_appliance *a)
{
	struct xmem_device *dev = &xmem_dev;
	struct xmem_core_region *cr;
	bool lost;
	int ret = 0;

	mutex_lock(&dev->lock);
	list_for_each_entry(cr, &dev->regions, list) {
		spin_lock(&dev->remote_lock);
		lost = cr->lost;
		spin_unlock(&dev->remote_lock);
		if (READ_ONCE(cr->appl) != a)
			continue;
		if (lost) {
			pr_err_ratelimited("region %s: lost, it cannot move; destroy or detach it first\n",
					   cr->r.name);
			ret = -EIO;
			break;
		}
		ret = xmem_move_region(dev, cr, a);
		if (ret)
			break;
	}
	mutex_unlock(&dev->lock);
	return ret;
}

static const struct xmem_pool_ops xmem_pool_ops = {
	.reattach = xmem_reattach,
	.drain = xmem_drain,
	.attached = xmem_attached,
	.sync = xmem_sync_regions,
};

static void xmem_region_free(struct xmem_region *region)
{
	struct xmem_core_region *cr = to_core_region(region);

	xmem_appliance_put(cr->appl);
	ida_free(&xmem_dev.windows, cr->window);
	kfree(cr);
}

/* The caller's uid and gid as the appliance knows users. */
static u32 xmem_caller_uid(void)
{
	return from_kuid_munged(&init_user_ns, current_fsuid());
}

static u32 xmem_caller_gid(void)
{
	return from_kgid_munged(&init_user_ns, current_fsgid());
}

/*
 * The appliance's rule, applied to regions this client has attached
 * already: uid 0, or read and write permission for the caller's class.
 */
static bool xmem_may_attach(const struct xmem_core_region *cr)
{
	u32 uid = xmem_caller_uid(), need;

	if (!uid)
		return true;
	if (uid == cr->uid)
		need = 0600;
	else if (xmem_caller_gid() == cr->gid)
		need = 0060;
	else
		need = 0006;
	return (cr->mode & need) == need;
}

/* May the caller resize or destroy it: its owner, or uid 0. */
static bool xmem_may_admin(const struct xmem_core_region *cr)
{
	u32 uid = xmem_caller_uid();

	return !uid || uid == cr->uid;
}

/* A region attached here, by name, not referenced; under dev->lock. */
static struct xmem_core_region *xmem_lookup_region(struct xmem_device *dev,
						   const char *name)
{
	struct xmem_core_region *cr;

	lockdep_assert_held(&dev->lock);
	list_for_each_entry(cr, &dev->regions, list)
		if (!strcmp(cr->r.name, name))
			return cr;
	return NULL;
}

/* Find a known region, checking the request against it; under dev->lock. */
static struct xmem_core_region *xmem_find_region(struct xmem_device *dev,
						 const struct xmem_attach *a)
{
	struct xmem_core_region *cr = xmem_lookup_region(dev, a->name);

	if (!cr)
		return NULL;
	if (a->flags & XMEM_ATTACH_EXCL)
		return ERR_PTR(-EEXIST);
	if (a->size && a->size != (u64)cr->r.nr_pages << PAGE_SHIFT)
		return ERR_PTR(-EINVAL);
	if (!xmem_may_attach(cr))
		return ERR_PTR(-EACCES);
	xmem_region_get(&cr->r);
	return cr;
}

static const struct file_operations xmem_fops;

/*
 * /dev/xmem.d/NAME: the region by path, for programs that only take a
 * file name (QEMU's memory-backend-file, Python's mmap).  Opening it gives
 * a file bound to the region, as ATTACH does on /dev/xmem; it is 0600 like
 * /dev/xmem (the udev rule grants the same group) and the region's own
 * mode is checked at open.  Without a node (registration failed) the
 * region still works through /dev/xmem.  Under dev->lock.
 */
static void xmem_node_add(struct xmem_core_region *cr)
{
	int ret;

	lockdep_assert_held(&xmem_dev.lock);
	snprintf(cr->node_name, sizeof(cr->node_name), "xmem.%s", cr->r.name);
	snprintf(cr->node_path, sizeof(cr->node_path), "xmem.d/%s",
		 cr->r.name);
	cr->node.minor = MISC_DYNAMIC_MINOR;
	cr->node.name = cr->node_name;
	cr->node.nodename = cr->node_path;
	cr->node.fops = &xmem_fops;
	cr->node.mode = 0600;
	ret = misc_register(&cr->node);
	if (ret) {
		pr_warn_ratelimited("region %s: no /dev/%s (%d); use /dev/xmem\n",
				    cr->r.name, cr->node_path, ret);
		return;
	}
	cr->node_added = true;
}

/*
 * Remove the node; no open of it is in progress on return (misc_open
 * calls ->open under the lock misc_deregister() takes).  Under dev->lock.
 */
static void xmem_node_del(struct xmem_core_region *cr)
{
	lockdep_assert_held(&xmem_dev.lock);
	if (!cr->node_added)
		return;
	misc_deregister(&cr->node);
	cr->node_added = false;
}

/* sysfs: regions/NAME/appliance */
static ssize_t appliance_show(struct kobject *kobj, struct kobj_attribute *attr,
			      char *buf)
{
	struct xmem_core_region *cr = to_core_region(xmem_kobj_region(kobj));
	struct xmem_appliance *a = xmem_region_appl(cr);
	ssize_t ret = sysfs_emit(buf, "%s\n", xmem_appliance_name(a));

	xmem_appliance_put(a);
	return ret;
}

static struct kobj_attribute xmem_region_appliance = __ATTR_RO(appliance);

static struct attribute *xmem_core_region_attrs[] = {
	&xmem_region_appliance.attr,
	NULL,
};

static const struct attribute_group xmem_core_region_group = {
	.attrs = xmem_core_region_attrs,
};

static const struct attribute_group *xmem_core_region_groups[] = {
	&xmem_core_region_group,
	&xmem_acct_group,
	NULL,
};

/*
 * Find the pool member holding region @name with an INFO request to every
 * connected member, in order.  On success *@ap and *@connp are referenced
 * and *@wr describes the region.
 *
 * Return: 0; -ENOENT when every member was asked and none has it;
 * -ENOTCONN when none that answered has it but some member could not be
 * asked (it may be there); another member's error.
 */
static int xmem_remote_find(const char *name, struct xmem_appliance **ap,
			    struct xmem_rdma_conn **connp,
			    struct xmem_wire_region *wr)
{
	struct xmem_wire_region_req req = {
		.op = XMEM_REGION_OP_INFO,
		.uid = xmem_caller_uid(),
		.gid = xmem_caller_gid(),
		.name = name,
	};
	struct xmem_rdma_conn *conns[XMEM_POOL_MAX];
	struct xmem_appliance *apps[XMEM_POOL_MAX];
	bool unreachable = false;
	unsigned int n, i;
	int ret = -ENOENT;

	n = xmem_pool_members(apps, conns, ARRAY_SIZE(apps));
	for (i = 0; i < n; i++) {
		if (!conns[i]) {
			unreachable = true;
			continue;
		}
		ret = xmem_rdma_region(conns[i], &req, wr);
		if (ret == -ENOENT)
			continue;
		if (!ret) {
			xmem_appliance_get(apps[i]);
			xmem_rdma_get(conns[i]);
			*ap = apps[i];
			*connp = conns[i];
		}
		break;
	}
	xmem_pool_put_members(apps, conns, n);
	if (ret == -ENOENT && (unreachable || !n))
		ret = -ENOTCONN;
	return ret;
}

/* Attach a region by name, from this client's list or the pool. */
static struct xmem_core_region *xmem_attach_region(struct xmem_device *dev,
						   const struct xmem_attach *a)
{
	struct xmem_wire_region_req req = {
		.op = XMEM_REGION_OP_ATTACH,
		.uid = xmem_caller_uid(),
		.gid = xmem_caller_gid(),
		.size = a->size,
		.name = a->name,
	};
	struct xmem_appliance *appl = NULL;
	struct xmem_core_region *cr;
	struct xmem_rdma_conn *conn;
	struct xmem_wire_region wr;
	int ret;

	mutex_lock(&dev->lock);
	cr = xmem_find_region(dev, a);
	if (cr)
		goto out;

	ret = xmem_remote_find(a->name, &appl, &conn, &wr);
	if (!ret && (a->flags & XMEM_ATTACH_EXCL)) {
		xmem_rdma_put(conn);
		ret = -EEXIST;
	}
	if (ret == -ENOENT && (a->flags & XMEM_ATTACH_CREATE)) {
		appl = xmem_pool_place(a->size, NULL, &conn);
		ret = IS_ERR(appl) ? PTR_ERR(appl) : 0;
		if (ret) {
			appl = NULL;
			pr_warn_ratelimited("region %s: no appliance to place %llu bytes on: %d\n",
					    a->name, a->size, ret);
		}
		req.flags |= XMEM_ATTACH_F_CREATE;
		if (a->flags & XMEM_ATTACH_EXCL)
			req.flags |= XMEM_ATTACH_F_EXCL;
		if (a->flags & XMEM_ATTACH_MODE)
			req.mode = a->mode;
	}
	if (!ret) {
		ret = xmem_rdma_region(conn, &req, &wr);
		xmem_rdma_put(conn);
	}
	if (ret) {
		cr = ERR_PTR(ret);
		goto out_put;
	}
	if (a->size && wr.size != a->size) {
		pr_err_ratelimited("region %s: appliance answered size %llu for %llu\n",
				   a->name, wr.size, a->size);
		cr = ERR_PTR(-EBADMSG);
		goto out_put;
	}

	cr = kzalloc(sizeof(*cr), GFP_KERNEL);
	if (!cr) {
		cr = ERR_PTR(-ENOMEM);
		goto out_put;
	}
	ret = ida_alloc_range(&dev->windows, 1, XMEM_MAX_WINDOWS - 1,
			      GFP_KERNEL);
	if (ret < 0) {
		kfree(cr);
		cr = ERR_PTR(ret);
		goto out_put;
	}
	cr->window = ret;
	cr->appl = appl;		/* the region's reference now */
	appl = NULL;
	cr->region_id = wr.region_id;
	cr->addr = wr.addr;
	cr->rkey = wr.rkey;
	cr->remote_size = wr.size;
	cr->uid = wr.uid;
	cr->gid = wr.gid;
	cr->mode = wr.mode;
	init_rwsem(&cr->io_lock);
	xmem_region_init(&cr->r, &dev->cache, a->name, wr.size >> PAGE_SHIFT,
			 (pgoff_t)cr->window << XMEM_WINDOW_SHIFT);
	cr->r.free = xmem_region_free;
	ret = xmem_region_sysfs_add(&cr->r, xmem_core_region_groups);
	if (ret) {
		pr_err_ratelimited("region %s: no sysfs directory: %d\n",
				   a->name, ret);
		xmem_region_put(&cr->r);	/* frees the window and cr */
		cr = ERR_PTR(ret);
		goto out;
	}
	list_add_tail(&cr->list, &dev->regions);	/* the list's reference */
	xmem_node_add(cr);
	xmem_region_get(&cr->r);			/* the caller's */
	pr_info("region %s: attached on appliance %s, %llu bytes%s\n",
		a->name, xmem_appliance_name(cr->appl), wr.size,
		wr.created ? ", created" : "");
out_put:
	xmem_appliance_put(appl);
out:
	mutex_unlock(&dev->lock);
	return cr;
}

static int xmem_open(struct inode *inode, struct file *file)
{
	struct miscdevice *misc = file->private_data;
	struct xmem_core_region *cr = NULL;
	struct xmem_file *xf;

	/* A region's node: the region is attached until the node goes. */
	if (misc != &xmem_dev.misc) {
		cr = container_of(misc, struct xmem_core_region, node);
		if (!xmem_may_attach(cr)) {
			pr_warn_ratelimited("region %s: %s[%d] may not open /dev/%s\n",
					    cr->r.name, current->comm,
					    task_pid_nr(current), cr->node_path);
			return -EACCES;
		}
	}
	xf = kzalloc(sizeof(*xf), GFP_KERNEL);
	if (!xf)
		return -ENOMEM;
	mutex_init(&xf->lock);
	if (cr) {
		xmem_region_get(&cr->r);
		xf->region = cr;
	}
	file->private_data = xf;
	/* One address space for every open, see the top of this file. */
	file->f_mapping = xmem_dev.inode->i_mapping;
	return 0;
}

static int xmem_release(struct inode *inode, struct file *file)
{
	struct xmem_file *xf = file->private_data;

	xmem_acct_release(&xf->acct);
	/* Dirty pages stay cached; they are written back on eviction. */
	if (xf->region)
		xmem_region_put(&xf->region->r);
	mutex_destroy(&xf->lock);
	kfree(xf);
	return 0;
}

/* The file's region, referenced, or NULL; takes no lock. */
static struct xmem_core_region *xmem_file_region(struct xmem_file *xf)
{
	/* Pairs with the release in ATTACH: the region is seen whole. */
	struct xmem_core_region *cr = smp_load_acquire(&xf->region);

	if (cr)
		xmem_region_get(&cr->r);
	return cr;
}

static long xmem_ioctl_version(void __user *arg)
{
	struct xmem_version v;

	if (copy_from_user(&v, arg, sizeof(v)))
		return -EFAULT;
	if (v.reserved[0] || v.reserved[1]) {
		pr_warn_ratelimited("VERSION: reserved fields not zero\n");
		return -EINVAL;
	}
	v.major = XMEM_UAPI_MAJOR;
	v.minor = XMEM_UAPI_MINOR;
	v.proto_major = XMEM_PROTO_MAJOR;
	v.proto_minor = XMEM_PROTO_MINOR;
	return copy_to_user(arg, &v, sizeof(v)) ? -EFAULT : 0;
}

static int xmem_check_attach(const struct xmem_attach *a)
{
	const char *why;

	if (a->reserved2[0] || a->reserved2[1])
		why = "reserved fields not zero";
	else if (a->flags & ~(XMEM_ATTACH_CREATE | XMEM_ATTACH_EXCL |
			      XMEM_ATTACH_MODE))
		why = "unknown flags";
	else if ((a->flags & (XMEM_ATTACH_EXCL | XMEM_ATTACH_MODE)) &&
		 !(a->flags & XMEM_ATTACH_CREATE))
		why = "EXCL or MODE without CREATE";
	else if (a->mode & ~XMEM_REGION_MODE_MASK ||
		 (a->mode && !(a->flags & XMEM_ATTACH_MODE)))
		why = "mode without MODE, or not within 0777";
	else if (xmem_wire_check_name(a->name, sizeof(a->name)))
		why = "bad region name";
	else if (!IS_ALIGNED(a->size, PAGE_SIZE) ||
		 a->size > XMEM_REGION_MAX_BYTES)
		why = "size not a page multiple up to 1 TiB";
	else
		return 0;
	pr_warn_ratelimited("ATTACH: %s\n", why);
	return -EINVAL;
}

static long xmem_ioctl_attach(struct xmem_file *xf, void __user *arg)
{
	struct xmem_core_region *cr;
	struct xmem_attach a;
	long ret;

	if (copy_from_user(&a, arg, sizeof(a)))
		return -EFAULT;
	ret = xmem_check_attach(&a);
	if (ret)
		return ret;

	mutex_lock(&xf->lock);
	if (xf->region) {
		pr_warn_ratelimited("ATTACH: file already bound to region %s\n",
				    xf->region->r.name);
		ret = -EBUSY;
		goto out;
	}
	cr = xmem_attach_region(&xmem_dev, &a);
	if (IS_ERR(cr)) {
		ret = PTR_ERR(cr);
		pr_warn_ratelimited("ATTACH %s: %ld\n", a.name, ret);
		goto out;
	}
	a.size = (u64)cr->r.nr_pages << PAGE_SHIFT;
	a.region_id = cr->region_id;
	if (copy_to_user(arg, &a, sizeof(a))) {
		xmem_region_put(&cr->r);
		ret = -EFAULT;
		goto out;
	}
	/* Publish after the region is complete; see xmem_file_region(). */
	smp_store_release(&xf->region, cr);
out:
	mutex_unlock(&xf->lock);
	return ret;
}

static long xmem_ioctl_info(struct xmem_file *xf, void __user *arg)
{
	struct xmem_region_info info;
	struct xmem_core_region *cr;
	unsigned long resident, dirty;

	if (copy_from_user(&info, arg, sizeof(info)))
		return -EFAULT;
	if (memchr_inv(info.reserved, 0, sizeof(info.reserved))) {
		pr_warn_ratelimited("INFO: reserved fields not zero\n");
		return -EINVAL;
	}
	cr = xmem_file_region(xf);
	if (!cr)
		return -ENXIO;
	xmem_region_counts(&cr->r, &resident, &dirty);
	info.size = (u64)cr->r.nr_pages << PAGE_SHIFT;
	info.region_id = cr->region_id;
	info.resident_bytes = (u64)resident << PAGE_SHIFT;
	info.dirty_bytes = (u64)dirty << PAGE_SHIFT;
	xmem_region_put(&cr->r);
	return copy_to_user(arg, &info, sizeof(info)) ? -EFAULT : 0;
}

/* One region operation on the appliance holding @cr; does not wait. */
static int xmem_region_call(struct xmem_core_region *cr,
			    const struct xmem_wire_region_req *req,
			    struct xmem_wire_region *wr)
{
	struct xmem_appliance *a = xmem_region_appl(cr);
	struct xmem_rdma_conn *conn = xmem_appliance_conn_now(a);
	int ret = -ENOTCONN;

	if (conn) {
		ret = xmem_rdma_region(conn, req, wr);
		xmem_rdma_put(conn);
	}
	xmem_appliance_put(a);
	return ret;
}

/* One region operation on whichever pool member holds the region. */
static int xmem_name_call(const struct xmem_wire_region_req *req,
			  struct xmem_wire_region *wr)
{
	struct xmem_rdma_conn *conn;
	struct xmem_appliance *a;
	int ret;

	ret = xmem_remote_find(req->name, &a, &conn, wr);
	if (ret)
		return ret;
	ret = xmem_rdma_region(conn, req, wr);
	xmem_rdma_put(conn);
	xmem_appliance_put(a);
	return ret;
}

static int xmem_check_region_op(const char *what, struct xmem_region_op *op,
				bool resize)
{
	const char *why;

	if (op->reserved || op->reserved2[0] || op->reserved2[1])
		why = "reserved fields not zero";
	else if (op->flags & ~(resize ? XMEM_RESIZE_WRITEBACK : 0))
		why = "unknown flags";
	else if (xmem_wire_check_name(op->name, sizeof(op->name)))
		why = "bad region name";
	else if (resize && (!op->size || !IS_ALIGNED(op->size, PAGE_SIZE) ||
			    op->size > XMEM_REGION_MAX_BYTES))
		why = "size not a nonzero page multiple up to 1 TiB";
	else if (!resize && op->size)
		why = "size not zero";
	else
		return 0;
	pr_warn_ratelimited("%s: %s\n", what, why);
	return -EINVAL;
}

/* Forget a region here; its pages were dropped.  Under dev->lock. */
static void xmem_forget_region(struct xmem_device *dev,
			       struct xmem_core_region *cr)
{
	lockdep_assert_held(&dev->lock);
	xmem_node_del(cr);
	list_del(&cr->list);
	xmem_region_put(&cr->r);	/* the list's reference */
}

/*
 * Make a region attached here unused: nothing binds or maps it, and its
 * cached pages are written back and dropped.  Under dev->lock.
 */
static int xmem_quiesce_region(struct xmem_core_region *cr, const char *what)
{
	if (kref_read(&cr->r.ref) > 1) {
		pr_warn_ratelimited("%s %s: region is open or mapped\n", what,
				    cr->r.name);
		return -EBUSY;
	}
	if (xmem_region_sync(&cr->r, 0, cr->r.nr_pages - 1) ||
	    xmem_region_drop(&cr->r)) {
		pr_err_ratelimited("%s %s: write-back failed; nothing changed\n",
				   what, cr->r.name);
		return -EIO;
	}
	return 0;
}

static long xmem_ioctl_detach(void __user *arg)
{
	struct xmem_wire_region_req req = { .op = XMEM_REGION_OP_DETACH };
	struct xmem_device *dev = &xmem_dev;
	struct xmem_core_region *cr;
	struct xmem_wire_region wr;
	struct xmem_region_op op;
	int ret;

	if (copy_from_user(&op, arg, sizeof(op)))
		return -EFAULT;
	ret = xmem_check_region_op("DETACH", &op, false);
	if (ret)
		return ret;

	mutex_lock(&dev->lock);
	cr = xmem_lookup_region(dev, op.name);
	if (!cr) {
		ret = -ENOENT;
		goto out;
	}
	if (!xmem_may_attach(cr)) {
		ret = -EACCES;
		goto out;
	}
	ret = xmem_quiesce_region(cr, "DETACH");
	if (ret)
		goto out;
	op.size = (u64)cr->r.nr_pages << PAGE_SHIFT;
	op.region_id = cr->region_id;
	/* The appliance only counts users; a refusal changes nothing here. */
	req.name = cr->r.name;
	req.uid = xmem_caller_uid();
	req.gid = xmem_caller_gid();
	ret = xmem_region_call(cr, &req, &wr);
	if (ret && ret != -ENOTCONN)
		pr_warn_ratelimited("region %s: appliance refused DETACH: %d\n",
				    cr->r.name, ret);
	pr_info("region %s: detached\n", cr->r.name);
	xmem_forget_region(dev, cr);
	ret = 0;
out:
	mutex_unlock(&dev->lock);
	if (!ret && copy_to_user(arg, &op, sizeof(op)))
		ret = -EFAULT;
	return ret;
}

static long xmem_ioctl_resize(void __user *arg)
{
	struct xmem_wire_region_req req = {
		.op = XMEM_REGION_OP_RESIZE,
		.uid = xmem_caller_uid(),
		.gid = xmem_caller_gid(),
	};
	struct xmem_device *dev = &xmem_dev;
	struct xmem_core_region *cr;
	struct xmem_wire_region wr;
	struct xmem_region_op op;
	pgoff_t nr, old;
	bool shrink;
	int ret;

	if (copy_from_user(&op, arg, sizeof(op)))
		return -EFAULT;
	ret = xmem_check_region_op("RESIZE", &op, true);
	if (ret)
		return ret;
	req.name = op.name;
	req.size = op.size;
	nr = op.size >> PAGE_SHIFT;

	mutex_lock(&dev->lock);
	cr = xmem_lookup_region(dev, op.name);
	if (!cr) {
		/* Not attached here: only the appliance's copy changes. */
		ret = xmem_name_call(&req, &wr);
		goto done;
	}
	if (!xmem_may_admin(cr)) {
		ret = -EACCES;
		goto out;
	}
	old = cr->r.nr_pages;
	shrink = nr < old;
	if (shrink) {
		/*
		 * Unmap and drop the removed range before its memory goes:
		 * from here on faults there get SIGBUS.
		 */
		ret = xmem_region_resize(&cr->r, nr,
					 op.flags & XMEM_RESIZE_WRITEBACK);
		if (ret)
			goto out;
		/* The old key stops working: no transfer may use it now. */
		down_write(&cr->io_lock);
	}
	ret = xmem_region_call(cr, &req, &wr);
	if (!ret && wr.size != op.size) {
		pr_err_ratelimited("region %s: appliance resized to %llu, not %llu\n",
				   op.name, wr.size, op.size);
		ret = -EBADMSG;
	}
	if (!ret) {
		spin_lock(&dev->remote_lock);
		cr->addr = wr.addr;
		cr->rkey = wr.rkey;
		cr->remote_size = wr.size;
		spin_unlock(&dev->remote_lock);
	}
	if (shrink)
		up_write(&cr->io_lock);
	if (ret) {
		/*
		 * The appliance kept the old size: so does the region, minus
		 * the cached pages of the range that was to go.
		 */
		if (shrink)
			xmem_region_resize(&cr->r, old, false);
		goto out;
	}
	/* A grow is published once the appliance has the memory. */
	if (!shrink)
		xmem_region_resize(&cr->r, nr, false);
	pr_info("region %s: resized from %llu to %llu bytes\n", op.name,
		(u64)old << PAGE_SHIFT, op.size);
done:
	if (!ret)
		op.region_id = wr.region_id;
out:
	mutex_unlock(&dev->lock);
	if (ret) {
		pr_warn_ratelimited("RESIZE %s to %llu: %d\n", op.name, op.size,
				    ret);
		return ret;
	}
	return copy_to_user(arg, &op, sizeof(op)) ? -EFAULT : 0;
}

static long xmem_ioctl_destroy(void __user *arg)
{
	struct xmem_wire_region_req req = {
		.op = XMEM_REGION_OP_DESTROY,
		.uid = xmem_caller_uid(),
		.gid = xmem_caller_gid(),
	};
	struct xmem_device *dev = &xmem_dev;
	struct xmem_core_region *cr;
	struct xmem_wire_region wr;
	struct xmem_region_op op;
	bool lost = false;
	int ret;

	if (copy_from_user(&op, arg, sizeof(op)))
		return -EFAULT;
	ret = xmem_check_region_op("DESTROY", &op, false);
	if (ret)
		return ret;
	req.name = op.name;

	mutex_lock(&dev->lock);
	cr = xmem_lookup_region(dev, op.name);
	if (cr) {
		if (!xmem_may_admin(cr)) {
			ret = -EACCES;
			goto out;
		}
		spin_lock(&dev->remote_lock);
		lost = cr->lost;
		spin_unlock(&dev->remote_lock);
		/* Pages of a lost region cannot be written back: drop them. */
		ret = lost ? 0 : xmem_quiesce_region(cr, "DESTROY");
		if (ret)
			goto out;
	}
	ret = cr ? xmem_region_call(cr, &req, &wr) : xmem_name_call(&req, &wr);
	if (ret == -ENOENT && lost)
		ret = 0;
	if (ret)
		goto out;
	op.size = wr.size;
	op.region_id = wr.region_id;
	if (cr) {
		if (lost && kref_read(&cr->r.ref) > 1) {
			ret = -EBUSY;
			goto out;
		}
		xmem_forget_region(dev, cr);
	}
	pr_info("region %s: destroyed\n", op.name);
out:
	mutex_unlock(&dev->lock);
	if (ret) {
		pr_warn_ratelimited("DESTROY %s: %d\n", op.name, ret);
		return ret;
	}
	return copy_to_user(arg, &op, sizeof(op)) ? -EFAULT : 0;
}

/* Fill @e from appliance @a's answer and what this client knows. */
static void xmem_fill_entry(struct xmem_device *dev,
			    struct xmem_region_entry *e,
			    struct xmem_appliance *a,
			    const struct xmem_wire_region *wr)
{
	struct xmem_core_region *cr;
	unsigned long resident, dirty;

	memcpy(e->name, wr->name, sizeof(e->name));
	e->size = wr->size;
	e->region_id = wr->region_id;
	e->uid = wr->uid;
	e->gid = wr->gid;
	e->mode = wr->mode;
	e->users = wr->users;
	strscpy(e->appliance, xmem_appliance_name(a), sizeof(e->appliance));
	mutex_lock(&dev->lock);
	cr = xmem_lookup_region(dev, wr->name);
	if (cr && READ_ONCE(cr->appl) == a &&
	    READ_ONCE(cr->region_id) == wr->region_id) {
		e->flags |= XMEM_ENTRY_ATTACHED;
		xmem_region_counts(&cr->r, &resident, &dirty);
		e->resident_bytes = (u64)resident << PAGE_SHIFT;
	}
	mutex_unlock(&dev->lock);
}

/*
 * LIST walks the pool members in order and each member's regions by id;
 * the cursor holds the member's index above XMEM_CURSOR_SHIFT.  Members
 * that cannot be asked now are skipped.
 */
static long xmem_ioctl_list(void __user *arg)
{
	struct xmem_wire_region_req req = {
		.op = XMEM_REGION_OP_NEXT,
		.uid = xmem_caller_uid(),
		.gid = xmem_caller_gid(),
	};
	struct xmem_device *dev = &xmem_dev;
	struct xmem_rdma_conn *conns[XMEM_POOL_MAX];
	struct xmem_appliance *apps[XMEM_POOL_MAX];
	struct xmem_region_entry *entries;
	struct xmem_region_list l;
	struct xmem_wire_region wr;
	unsigned int n = 0, nr_apps, i;
	bool reachable = false;
	u64 id;
	int ret = 0;

	if (copy_from_user(&l, arg, sizeof(l)))
		return -EFAULT;
	if (l.flags || l.reserved[0] || l.reserved[1] || !l.count ||
	    l.count > XMEM_LIST_MAX) {
		pr_warn_ratelimited("LIST: count not 1 to %u, or flags or reserved fields not zero\n",
				    XMEM_LIST_MAX);
		return -EINVAL;
	}
	entries = kcalloc(l.count, sizeof(*entries), GFP_KERNEL);
	if (!entries)
		return -ENOMEM;
	nr_apps = xmem_pool_members(apps, conns, ARRAY_SIZE(apps));
	i = l.cursor >> XMEM_CURSOR_SHIFT;
	id = l.cursor & XMEM_CURSOR_ID_MASK;
	for (; i < nr_apps && n < l.count; i++, id = 0) {
		if (!conns[i])
			continue;
		req.cursor = id;
		while (n < l.count) {
			ret = xmem_rdma_region(conns[i], &req, &wr);
			if (ret == -ENOENT) {
				ret = 0;
				break;
			}
			if (ret)
				goto out_put;
			if (wr.region_id <= req.cursor ||
			    wr.region_id > XMEM_CURSOR_ID_MASK) {
				pr_err_ratelimited("LIST: appliance %s went backwards or past the cursor's range\n",
						   xmem_appliance_name(apps[i]));
				ret = -EBADMSG;
				goto out_put;
			}
			xmem_fill_entry(dev, &entries[n++], apps[i], &wr);
			req.cursor = wr.region_id;
			l.cursor = (u64)i << XMEM_CURSOR_SHIFT | wr.region_id;
		}
	}
	for (i = 0; i < nr_apps; i++)
		reachable |= !!conns[i];
	if (!reachable) {
		ret = -ENOTCONN;
		goto out_put;
	}
	l.count = n;
	if (copy_to_user(u64_to_user_ptr(l.entries), entries,
			 n * sizeof(*entries)) ||
	    copy_to_user(arg, &l, sizeof(l)))
		ret = -EFAULT;
out_put:
	xmem_pool_put_members(apps, conns, nr_apps);
	kfree(entries);
	return ret;
}

static long xmem_ioctl(struct file *file, unsigned int cmd, unsigned long arg)
{
	struct xmem_file *xf = file->private_data;
	void __user *uarg = (void __user *)arg;
	struct xmem_core_region *cr;

	switch (cmd) {
	case XMEM_IOC_VERSION:
		return xmem_ioctl_version(uarg);
	case XMEM_IOC_ATTACH:
		return xmem_ioctl_attach(xf, uarg);
	case XMEM_IOC_INFO:
		return xmem_ioctl_info(xf, uarg);
	case XMEM_IOC_DETACH:
		return xmem_ioctl_detach(uarg);
	case XMEM_IOC_RESIZE:
		return xmem_ioctl_resize(uarg);
	case XMEM_IOC_DESTROY:
		return xmem_ioctl_destroy(uarg);
	case XMEM_IOC_LIST:
		return xmem_ioctl_list(uarg);
	case XMEM_IOC_ACCOUNT:
		cr = smp_load_acquire(&xf->region);	/* see ATTACH */
		return xmem_acct_ioctl(&xf->acct, cr ? &cr->r : NULL, uarg);
	default:
		pr_warn_ratelimited("unknown ioctl %#x from %s[%d]\n", cmd,
				    current->comm, task_pid_nr(current));
		return -ENOTTY;
	}
}

static int xmem_mmap(struct file *file, struct vm_area_struct *vma)
{
	struct xmem_core_region *cr = xmem_file_region(file->private_data);
	unsigned long pages = vma_pages(vma);

	if (!cr) {
		pr_warn_ratelimited("mmap: file not bound to a region\n");
		return -ENXIO;
	}
	if (!(vma->vm_flags & VM_SHARED)) {
		pr_warn_ratelimited("region %s: mmap must be MAP_SHARED\n",
				    cr->r.name);
		goto err_put;
	}
	if (vma->vm_pgoff >= cr->r.nr_pages ||
	    pages > cr->r.nr_pages - vma->vm_pgoff) {
		pr_warn_ratelimited("region %s: mmap past the end of the region\n",
				    cr->r.name);
		goto err_put;
	}
	vma->vm_pgoff += cr->r.base;
	xmem_vm_flags_set(vma, VM_PFNMAP | VM_DONTEXPAND | VM_DONTDUMP);
	vma->vm_ops = &xmem_vm_ops;
	vma->vm_private_data = &cr->r;	/* the mapping's reference */
	return 0;

err_put:
	xmem_region_put(&cr->r);
	return -EINVAL;
}

static int xmem_fsync(struct file *file, loff_t start, loff_t end,
		      int datasync)
{
	struct xmem_core_region *cr = xmem_file_region(file->private_data);
	pgoff_t first, last, base;
	int ret;

	if (!cr)
		return 0;
	/* Offsets are in the shared address space; clamp to the window. */
	base = cr->r.base;
	first = max_t(pgoff_t, start >> PAGE_SHIFT, base);
	last = min_t(pgoff_t, end >> PAGE_SHIFT, base + cr->r.nr_pages - 1);
	ret = first <= last ? xmem_region_sync(&cr->r, first - base,
					       last - base) : 0;
	xmem_region_put(&cr->r);
	return ret;
}

/* A bound file's size is its region's, for SEEK_END on a region node. */
static loff_t xmem_llseek(struct file *file, loff_t offset, int whence)
{
	struct xmem_core_region *cr = xmem_file_region(file->private_data);
	loff_t ret;

	if (!cr)
		return noop_llseek(file, offset, whence);
	ret = fixed_size_llseek(file, offset, whence,
				(loff_t)cr->r.nr_pages << PAGE_SHIFT);
	xmem_region_put(&cr->r);
	return ret;
}

static const struct file_operations xmem_fops = {
	.owner = THIS_MODULE,
	.open = xmem_open,
	.release = xmem_release,
	.unlocked_ioctl = xmem_ioctl,
	.compat_ioctl = compat_ptr_ioctl,
	.mmap = xmem_mmap,
	.fsync = xmem_fsync,
	.llseek = xmem_llseek,
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
	ret = xmem_pool_init(&xmem_pool_ops, appliance);
	if (ret)
		return ret;

	mutex_init(&dev->lock);
	spin_lock_init(&dev->remote_lock);
	INIT_LIST_HEAD(&dev->regions);
	INIT_WORK(&dev->resize_work, xmem_resize_work);
	ida_init(&dev->windows);

	ret = simple_pin_fs(&xmem_fs_type, &dev->mnt, &xmem_mnt_count);
	if (ret)
		return ret;
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
	return ret;
}

static void __exit xmem_exit(void)
{
	struct xmem_device *dev = &xmem_dev;
	struct xmem_core_region *cr, *tmp;

	/*
	 * No file is open: write everything back, then drop it.  The
	 * connections stay up for that; reconnection still works.
	 */
	mutex_lock(&dev->lock);
	list_for_each_entry_safe(cr, tmp, &dev->regions, list) {
		if (xmem_region_sync(&cr->r, 0, cr->r.nr_pages - 1) ||
		    xmem_region_drop(&cr->r))
			pr_err("region %s: write-back failed at unload\n",
			       cr->r.name);
		xmem_node_del(cr);
		list_del(&cr->list);
		xmem_region_put(&cr->r);
	}
	mutex_unlock(&dev->lock);
	cancel_work_sync(&dev->resize_work);

	/*
	 * Readahead in flight holds region references: once the pager's
	 * work is done, every region and its directory is gone, and with
	 * them their references to the appliances.
	 */
	xmem_cache_destroy(&dev->cache);
	xmem_pool_exit();
	xmem_pager_sysfs_exit();
	misc_deregister(&dev->misc);

	iput(dev->inode);
	simple_release_fs(&dev->mnt, &xmem_mnt_count);
	ida_destroy(&dev->windows);
	pr_info("unloaded\n");
}

module_init(xmem_init);
module_exit(xmem_exit);

MODULE_DESCRIPTION("xmem: external primary memory over RDMA");
MODULE_LICENSE("GPL");
MODULE_VERSION(XMEM_VERSION);
