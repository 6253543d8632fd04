// SPDX-License-Identifier: GPL-2.0
/*
 * xmem: external primary memory over RDMA.
 *
 * This file holds the device: /dev/xmem, its file operations and ioctls,
 * the regions known to this client, the connection to the appliance and
 * its recovery, and the sysfs knobs.  Faults, eviction and write-back are
 * in xmem_pager.c, the PTE side in xmem_tlb.c, the transport in
 * xmem_rdma.c and message encoding in xmem_wire.c.
 *
 * Every open of /dev/xmem shares one address space (one anonymous inode's
 * mapping), so the kernel's mapping helpers reach every PTE of a page in
 * every process.  Each region owns a window of that address space: page i
 * of a region lives at page offset region->base + i.  mmap offsets are
 * region relative; ->mmap moves vm_pgoff into the region's window.
 *
 * Lock ordering, outermost first:
 *   xmem_file.lock (ATTACH only; copy_to_user() under it may take mmap_lock)
 *   mmap_lock (held by the mm core around ->mmap and the fault handlers)
 *   xmem_device.lock
 *   xmem_rdma_conn.call_lock (inside the transport)
 *   portion LOCKED bits: several only in ascending (region, index) order,
 *     or with trylock (the evictor)
 *   i_mmap_rwsem, page table locks (taken by the mm helpers)
 *   xmem_device.conn_lock, xmem_cache.lock, a region's xa_lock (innermost;
 *     never nested with one another)
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
#define XMEM_RECONNECT_MAX	30
#define XMEM_RECONNECT_DELAY	(2 * HZ)

static char *appliance;
module_param(appliance, charp, 0444);
MODULE_PARM_DESC(appliance, "appliance to connect to at load, ADDR:PORT");

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

enum xmem_state {
	XMEM_DISCONNECTED,	/* no appliance configured */
	XMEM_CONNECTING,	/* configured, (re)connecting */
	XMEM_CONNECTED,
	XMEM_FAILED,		/* gave up; write the address again */
};

static const char * const xmem_state_names[] = {
	[XMEM_DISCONNECTED] = "disconnected",
	[XMEM_CONNECTING] = "connecting",
	[XMEM_CONNECTED] = "connected",
	[XMEM_FAILED] = "failed",
};

/**
 * struct xmem_core_region - a region as this client knows it
 * @r: the pager's view
 * @node: entry in &xmem_device.regions, under &xmem_device.lock
 * @window: its window in the shared address space (IDA slot)
 * @region_id: the appliance's identifier; under &xmem_device.conn_lock
 * @addr: remote address of byte 0; under &xmem_device.conn_lock
 * @rkey: remote key; under &xmem_device.conn_lock
 * @lost: the appliance no longer has it; under &xmem_device.conn_lock
 * @uid: owner, as the appliance reports it; under &xmem_device.lock
 * @gid: group; under &xmem_device.lock
 * @mode: permission bits; under &xmem_device.lock
 * @io_lock: taken shared around every transfer on the region, exclusive
 *	while a shrink changes its remote key (the old key stops working
 *	then); never held while waiting for a portion lock
 */
struct xmem_core_region {
	struct xmem_region r;
	struct list_head node;
	int window;
	u64 region_id;
	u64 addr;
	u32 rkey;
	bool lost;
	u32 uid;
	u32 gid;
	u32 mode;
	/* Excludes transfers while the remote key changes, see above. */
	struct rw_semaphore io_lock;
};

/**
 * struct xmem_file - state of one open file
 * @lock: serialises binding
 * @region: the region the file is bound to, or NULL; holds a reference.
 *	Set once, with release semantics, under @lock; read without it
 *	(->mmap runs under mmap_lock, which ATTACH's copy_to_user() may take
 *	inside @lock) and stable until the file is released.
 */
struct xmem_file {
	/* Serialises ATTACH: protects the transition of region from NULL. */
	struct mutex lock;
	struct xmem_core_region *region;
};

/**
 * struct xmem_device - the one xmem device
 * @misc: /dev/xmem
 * @mnt: pseudo file system holding @inode
 * @inode: anonymous inode whose mapping every open file shares
 * @cache: the local page cache
 * @lock: protects @addr, @addr_set, @regions, @attempts and changes of
 *	@conn and @state (readers use @conn_lock)
 * @addr: the appliance's address
 * @addr_set: @addr is configured
 * @regions: known regions (struct xmem_core_region.node)
 * @attempts: reconnection attempts since the link was lost
 * @secret: shared secret for the appliance, never shown or logged
 * @secret_len: its length, 0 without one
 * @conn_lock: protects @conn and @state for readers, and the remote
 *	fields of every region
 * @conn: the connection, or NULL
 * @state: an enum xmem_state
 * @conn_wq: woken when @state changes
 * @connect_work: (re)connects, with back-off
 * @link_work: tears a failed connection down
 * @windows: allocates region windows
 */
struct xmem_device {
	struct miscdevice misc;
	struct vfsmount *mnt;
	struct inode *inode;
	struct xmem_cache cache;

	/*
	 * Protects addr, addr_set, regions, attempts, secret and secret_len;
	 * serialises conn changes.
	 */
	struct mutex lock;
	struct sockaddr_storage addr;
	bool addr_set;
	struct list_head regions;
	unsigned int attempts;
	u8 secret[XMEM_AUTH_SECRET_MAX];
	size_t secret_len;

	/* Protects conn, state and the remote fields of every region. */
	spinlock_t conn_lock;
	struct xmem_rdma_conn *conn;
	enum xmem_state state;
	wait_queue_head_t conn_wq;
	struct delayed_work connect_work;
	struct work_struct link_work;
	struct ida windows;
};

static struct xmem_device xmem_dev;

#define to_core_region(region) container_of(region, struct xmem_core_region, r)

static void xmem_set_state(struct xmem_device *dev, enum xmem_state state)
{
	lockdep_assert_held(&dev->lock);
	spin_lock(&dev->conn_lock);
	dev->state = state;
	spin_unlock(&dev->conn_lock);
	wake_up_all(&dev->conn_wq);
}

/* Install a new connection, or none; returns the old one to disconnect. */
static struct xmem_rdma_conn *xmem_swap_conn(struct xmem_device *dev,
					     struct xmem_rdma_conn *conn,
					     enum xmem_state state)
{
	struct xmem_rdma_conn *old;

	lockdep_assert_held(&dev->lock);
	spin_lock(&dev->conn_lock);
	old = dev->conn;
	dev->conn = conn;
	dev->state = state;
	spin_unlock(&dev->conn_lock);
	wake_up_all(&dev->conn_wq);
	return old;
}

/*
 * True once waiting for a connection is pointless or over: a working one
 * is installed, or there is none and none is coming.  A failed connection
 * still installed (its link work not run yet) means "wait".
 */
static bool xmem_conn_settled(struct xmem_device *dev)
{
	bool settled;

	spin_lock(&dev->conn_lock);
	if (dev->conn)
		settled = xmem_rdma_connected(dev->conn);
	else
		settled = dev->state != XMEM_CONNECTING;
	spin_unlock(&dev->conn_lock);
	return settled;
}

/*
 * A referenced working connection, waiting until @deadline (jiffies) for
 * a reconnection in progress; NULL if there is none by then, none is
 * coming, or the task is being killed.
 */
static struct xmem_rdma_conn *xmem_get_conn(struct xmem_device *dev,
					    unsigned long deadline)
{
	struct xmem_rdma_conn *conn;
	long left;

	for (;;) {
		left = (long)(deadline - jiffies);
		if (left > 0)
			wait_event_killable_timeout(dev->conn_wq,
						    xmem_conn_settled(dev),
						    left);
		spin_lock(&dev->conn_lock);
		conn = dev->conn;
		if (conn && xmem_rdma_connected(conn))
			xmem_rdma_get(conn);
		else
			conn = NULL;
		spin_unlock(&dev->conn_lock);
		if (conn || time_after_eq(jiffies, deadline) ||
		    fatal_signal_pending(current) ||
		    (READ_ONCE(dev->state) != XMEM_CONNECTING &&
		     READ_ONCE(dev->state) != XMEM_CONNECTED))
			return conn;
	}
}

/* The pager's backend: one-sided transfers on the current connection. */
static int xmem_backend_rw(struct xmem_region *region,
			   const struct xmem_io *ios, unsigned int n,
			   bool write)
{
	struct xmem_core_region *cr = to_core_region(region);
	unsigned int timeout = READ_ONCE(io_timeout);
	unsigned long deadline = jiffies + timeout * HZ;
	struct xmem_device *dev = &xmem_dev;
	struct xmem_rdma_conn *conn;
	u64 addr;
	u32 rkey;
	bool lost;
	int ret;

	/*
	 * A transfer that fails because the connection went down is
	 * retried on the next one: reads and writes of whole pages are
	 * idempotent.  Only io_timeout seconds without a working
	 * connection, or an error on a working one, fail it.
	 */
	for (;;) {
		conn = xmem_get_conn(dev, deadline);
		if (!conn) {
			pr_err_ratelimited("region %s: no working connection to the appliance for %u s (io_timeout); %s fails, a fault gets SIGBUS\n",
					   region->name, timeout,
					   write ? "write-back" : "read");
			return -ENOTCONN;
		}
		down_read(&cr->io_lock);
		spin_lock(&dev->conn_lock);
		addr = cr->addr;
		rkey = cr->rkey;
		lost = cr->lost;
		spin_unlock(&dev->conn_lock);

		ret = lost ? -EIO : xmem_rdma_rw(conn, addr, rkey, ios, n,
						 write);
		up_read(&cr->io_lock);
		if (!ret || lost || xmem_rdma_connected(conn) ||
		    time_after_eq(jiffies, deadline) ||
		    fatal_signal_pending(current)) {
			xmem_rdma_put(conn);
			return ret;
		}
		xmem_rdma_put(conn);
	}
}

static const struct xmem_backend_ops xmem_backend_ops = {
	.rw = xmem_backend_rw,
};

static void xmem_link_down(void *priv)
{
	struct xmem_device *dev = priv;

	queue_work(system_long_wq, &dev->link_work);
}

static const struct xmem_rdma_ops xmem_rdma_ops = {
	.link_down = xmem_link_down,
};

/*
 * Refresh where each known region lives after a (re)connection.  A region
 * the appliance does not have any more, or has recreated, is lost: its
 * faults get SIGBUS rather than other data.
 */
static void xmem_reattach_all(struct xmem_device *dev,
			      struct xmem_rdma_conn *conn)
{
	struct xmem_wire_region_req req = { .op = XMEM_REGION_OP_ATTACH };
	struct xmem_core_region *cr;
	struct xmem_wire_region wr;
	bool lost;
	int ret;

	lockdep_assert_held(&dev->lock);
	list_for_each_entry(cr, &dev->regions, node) {
		/* As uid 0: this client attached it before, for its users. */
		req.name = cr->r.name;
		ret = xmem_rdma_region(conn, &req, &wr);
		lost = ret || wr.region_id != cr->region_id ||
		       wr.size != (u64)cr->r.nr_pages << PAGE_SHIFT;
		spin_lock(&dev->conn_lock);
		if (lost) {
			cr->lost = true;
		} else {
			cr->addr = wr.addr;
			cr->rkey = wr.rkey;
		}
		spin_unlock(&dev->conn_lock);
		if (lost)
			pr_err("region %s: lost by the appliance (%d); its pages fault with SIGBUS\n",
			       cr->r.name, ret);
	}
}

/* Connect to dev->addr and install the connection.  Under dev->lock. */
static int xmem_connect_locked(struct xmem_device *dev)
{
	struct xmem_rdma_conn *conn, *old;
	int ret;

	lockdep_assert_held(&dev->lock);
	ret = xmem_rdma_connect(&dev->addr, &xmem_rdma_ops, dev, dev->secret,
				dev->secret_len, &conn);
	if (ret)
		return ret;
	xmem_reattach_all(dev, conn);
	old = xmem_swap_conn(dev, conn, XMEM_CONNECTED);
	if (old)
		xmem_rdma_disconnect(old);
	dev->attempts = 0;
	return 0;
}

static void xmem_connect_work(struct work_struct *work)
{
	struct xmem_device *dev = container_of(to_delayed_work(work),
					       struct xmem_device,
					       connect_work);
	unsigned long delay;
	int ret;

	mutex_lock(&dev->lock);
	if (!dev->addr_set || dev->conn)
		goto out;
	ret = xmem_connect_locked(dev);
	if (!ret)
		goto out;
	if (++dev->attempts >= XMEM_RECONNECT_MAX) {
		pr_err("appliance %pISpc: giving up after %u attempts (%d)\n",
		       &dev->addr, dev->attempts, ret);
		xmem_set_state(dev, XMEM_FAILED);
		goto out;
	}
	/* Back off, with jitter so that many clients do not march in step. */
	delay = min_t(unsigned long, dev->attempts, 5) * XMEM_RECONNECT_DELAY;
	delay += get_random_u32_below(HZ);
	queue_delayed_work(system_long_wq, &dev->connect_work, delay);
out:
	mutex_unlock(&dev->lock);
}

static void xmem_link_work(struct work_struct *work)
{
	struct xmem_device *dev = container_of(work, struct xmem_device,
					       link_work);
	struct xmem_rdma_conn *old;

	mutex_lock(&dev->lock);
	if (!dev->conn) {
		mutex_unlock(&dev->lock);
		return;
	}
	pr_warn("appliance %pISpc: connection lost, reconnecting\n",
		&dev->addr);
	old = xmem_swap_conn(dev, NULL, XMEM_CONNECTING);
	dev->attempts = 0;
	queue_delayed_work(system_long_wq, &dev->connect_work, 0);
	mutex_unlock(&dev->lock);
	xmem_rdma_disconnect(old);
}

/* Write back every dirty page of every region; under dev->lock. */
static int xmem_sync_all(struct xmem_device *dev)
{
	struct xmem_core_region *cr;
	int ret = 0;

	lockdep_assert_held(&dev->lock);
	list_for_each_entry(cr, &dev->regions, node) {
		if (xmem_region_sync(&cr->r, 0, cr->r.nr_pages - 1))
			ret = -EIO;
	}
	return ret;
}

/* Parse "ADDR:PORT", with an IPv6 address in brackets. */
static int xmem_parse_addr(const char *buf, struct sockaddr_storage *ss)
{
	char host[INET6_ADDRSTRLEN + 2], *port;
	const char *h;
	size_t len;
	u16 p;

	len = strcspn(buf, "\n");
	if (!len || len >= sizeof(host))
		return -EINVAL;
	memcpy(host, buf, len);
	host[len] = '\0';
	port = strrchr(host, ':');
	if (!port || kstrtou16(port + 1, 10, &p) || !p)
		return -EINVAL;
	*port = '\0';
	h = host;
	if (h[0] == '[') {
		if (port[-1] != ']')
			return -EINVAL;
		port[-1] = '\0';
		h++;
	}
	return inet_pton_with_scope(&init_net, AF_UNSPEC, h, port + 1, ss);
}

/**
 * xmem_set_appliance() - connect to an appliance, or disconnect
 * @dev: the device
 * @addr: the address, or NULL to disconnect
 *
 * Writes back every dirty page over the current connection first; if
 * that fails nothing changes, so no data is lost by reconfiguring.
 *
 * Context: process context, may sleep for the connection timeouts.
 * Return: 0, -EIO (write-back failed) or the connection error.
 */
static int xmem_set_appliance(struct xmem_device *dev,
			      const struct sockaddr_storage *addr)
{
	struct xmem_rdma_conn *old = NULL;
	int ret = 0;

	cancel_delayed_work_sync(&dev->connect_work);
	mutex_lock(&dev->lock);
	if (dev->conn && xmem_sync_all(dev)) {
		pr_err_ratelimited("appliance %pISpc: dirty pages could not be written back; keeping the connection\n",
				   &dev->addr);
		ret = -EIO;
		goto out;
	}
	old = xmem_swap_conn(dev, NULL,
			     addr ? XMEM_CONNECTING : XMEM_DISCONNECTED);
	dev->addr_set = false;
	if (old) {
		xmem_rdma_disconnect(old);
		pr_info("appliance %pISpc: disconnected\n", &dev->addr);
	}
	if (!addr)
		goto out;
	dev->addr = *addr;
	dev->addr_set = true;
	dev->attempts = 0;
	ret = xmem_connect_locked(dev);
	if (ret) {
		pr_err_ratelimited("appliance %pISpc: cannot connect: %d\n",
				   &dev->addr, ret);
		xmem_set_state(dev, XMEM_FAILED);
	}
out:
	mutex_unlock(&dev->lock);
	return ret;
}

static void xmem_region_free(struct xmem_region *region)
{
	struct xmem_core_region *cr = to_core_region(region);

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
	list_for_each_entry(cr, &dev->regions, node)
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

/* Attach a region by name, from this client's list or the appliance. */
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
	struct xmem_core_region *cr;
	struct xmem_rdma_conn *conn;
	struct xmem_wire_region wr;
	int ret;

	mutex_lock(&dev->lock);
	cr = xmem_find_region(dev, a);
	if (cr)
		goto out;

	spin_lock(&dev->conn_lock);
	conn = dev->conn;
	if (conn)
		xmem_rdma_get(conn);
	spin_unlock(&dev->conn_lock);
	if (!conn) {
		cr = ERR_PTR(-ENOTCONN);
		goto out;
	}

	if (a->flags & XMEM_ATTACH_CREATE)
		req.flags |= XMEM_ATTACH_F_CREATE;
	if (a->flags & XMEM_ATTACH_EXCL)
		req.flags |= XMEM_ATTACH_F_EXCL;
	if (a->flags & XMEM_ATTACH_MODE)
		req.mode = a->mode;
	ret = xmem_rdma_region(conn, &req, &wr);
	xmem_rdma_put(conn);
	if (ret) {
		cr = ERR_PTR(ret);
		goto out;
	}
	if (a->size && wr.size != a->size) {
		pr_err_ratelimited("region %s: appliance answered size %llu for %llu\n",
				   a->name, wr.size, a->size);
		cr = ERR_PTR(-EBADMSG);
		goto out;
	}

	cr = kzalloc(sizeof(*cr), GFP_KERNEL);
	if (!cr) {
		cr = ERR_PTR(-ENOMEM);
		goto out;
	}
	ret = ida_alloc_range(&dev->windows, 1, XMEM_MAX_WINDOWS - 1,
			      GFP_KERNEL);
	if (ret < 0) {
		kfree(cr);
		cr = ERR_PTR(ret);
		goto out;
	}
	cr->window = ret;
	cr->region_id = wr.region_id;
	cr->addr = wr.addr;
	cr->rkey = wr.rkey;
	cr->uid = wr.uid;
	cr->gid = wr.gid;
	cr->mode = wr.mode;
	init_rwsem(&cr->io_lock);
	xmem_region_init(&cr->r, &dev->cache, a->name, wr.size >> PAGE_SHIFT,
			 (pgoff_t)cr->window << XMEM_WINDOW_SHIFT);
	cr->r.free = xmem_region_free;
	ret = xmem_region_sysfs_add(&cr->r, NULL);
	if (ret) {
		pr_err_ratelimited("region %s: no sysfs directory: %d\n",
				   a->name, ret);
		xmem_region_put(&cr->r);	/* frees the window and cr */
		cr = ERR_PTR(ret);
		goto out;
	}
	list_add_tail(&cr->node, &dev->regions);	/* the list's reference */
	xmem_region_get(&cr->r);			/* the caller's */
	pr_info("region %s: attached, %llu bytes%s\n", a->name, wr.size,
		wr.created ? ", created" : "");
out:
	mutex_unlock(&dev->lock);
	return cr;
}

static int xmem_open(struct inode *inode, struct file *file)
{
	struct xmem_file *xf;

	xf = kzalloc(sizeof(*xf), GFP_KERNEL);
	if (!xf)
		return -ENOMEM;
	mutex_init(&xf->lock);
	file->private_data = xf;
	/* One address space for every open, see the top of this file. */
	file->f_mapping = xmem_dev.inode->i_mapping;
	return 0;
}

static int xmem_release(struct inode *inode, struct file *file)
{
	struct xmem_file *xf = file->private_data;

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

/* A referenced connection, or NULL; does not wait for a reconnection. */
static struct xmem_rdma_conn *xmem_conn_now(struct xmem_device *dev)
{
	struct xmem_rdma_conn *conn;

	spin_lock(&dev->conn_lock);
	conn = dev->conn;
	if (conn)
		xmem_rdma_get(conn);
	spin_unlock(&dev->conn_lock);
	return conn;
}

/* One region operation on the current connection. */
static int xmem_region_call(struct xmem_device *dev,
			    const struct xmem_wire_region_req *req,
			    struct xmem_wire_region *wr)
{
	struct xmem_rdma_conn *conn = xmem_conn_now(dev);
	int ret;

	if (!conn)
		return -ENOTCONN;
	ret = xmem_rdma_region(conn, req, wr);
	xmem_rdma_put(conn);
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
	list_del(&cr->node);
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
	ret = xmem_region_call(dev, &req, &wr);
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
		ret = xmem_region_call(dev, &req, &wr);
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
	ret = xmem_region_call(dev, &req, &wr);
	if (!ret && wr.size != op.size) {
		pr_err_ratelimited("region %s: appliance resized to %llu, not %llu\n",
				   op.name, wr.size, op.size);
		ret = -EBADMSG;
	}
	if (!ret) {
		spin_lock(&dev->conn_lock);
		cr->addr = wr.addr;
		cr->rkey = wr.rkey;
		spin_unlock(&dev->conn_lock);
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
		spin_lock(&dev->conn_lock);
		lost = cr->lost;
		spin_unlock(&dev->conn_lock);
		/* Pages of a lost region cannot be written back: drop them. */
		ret = lost ? 0 : xmem_quiesce_region(cr, "DESTROY");
		if (ret)
			goto out;
	}
	ret = xmem_region_call(dev, &req, &wr);
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

/* Fill @e from the appliance's answer and what this client knows. */
static void xmem_fill_entry(struct xmem_device *dev,
			    struct xmem_region_entry *e,
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
	mutex_lock(&dev->lock);
	cr = xmem_lookup_region(dev, wr->name);
	if (cr && cr->region_id == wr->region_id) {
		e->flags |= XMEM_ENTRY_ATTACHED;
		xmem_region_counts(&cr->r, &resident, &dirty);
		e->resident_bytes = (u64)resident << PAGE_SHIFT;
	}
	if (dev->addr_set)
		snprintf(e->appliance, sizeof(e->appliance), "%pISpc",
			 &dev->addr);
	mutex_unlock(&dev->lock);
}

static long xmem_ioctl_list(void __user *arg)
{
	struct xmem_wire_region_req req = {
		.op = XMEM_REGION_OP_NEXT,
		.uid = xmem_caller_uid(),
		.gid = xmem_caller_gid(),
	};
	struct xmem_device *dev = &xmem_dev;
	struct xmem_region_entry *entries;
	struct xmem_region_list l;
	struct xmem_rdma_conn *conn;
	struct xmem_wire_region wr;
	unsigned int n = 0;
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
	conn = xmem_conn_now(dev);
	if (!conn) {
		ret = -ENOTCONN;
		goto out_free;
	}
	req.cursor = l.cursor;
	while (n < l.count) {
		ret = xmem_rdma_region(conn, &req, &wr);
		if (ret == -ENOENT) {
			ret = 0;
			break;
		}
		if (ret)
			break;
		if (wr.region_id <= req.cursor) {
			pr_err_ratelimited("LIST: appliance went backwards\n");
			ret = -EBADMSG;
			break;
		}
		xmem_fill_entry(dev, &entries[n++], &wr);
		req.cursor = wr.region_id;
	}
	xmem_rdma_put(conn);
	if (ret)
		goto out_free;
	l.count = n;
	l.cursor = req.cursor;
	if (copy_to_user(u64_to_user_ptr(l.entries), entries,
			 n * sizeof(*entries)) ||
	    copy_to_user(arg, &l, sizeof(l)))
		ret = -EFAULT;
out_free:
	kfree(entries);
	return ret;
}

static long xmem_ioctl(struct file *file, unsigned int cmd, unsigned long arg)
{
	struct xmem_file *xf = file->private_data;
	void __user *uarg = (void __user *)arg;

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

static const struct file_operations xmem_fops = {
	.owner = THIS_MODULE,
	.open = xmem_open,
	.release = xmem_release,
	.unlocked_ioctl = xmem_ioctl,
	.compat_ioctl = compat_ptr_ioctl,
	.mmap = xmem_mmap,
	.fsync = xmem_fsync,
	.llseek = noop_llseek,
};

/* sysfs */

static ssize_t appliance_show(struct device *d, struct device_attribute *attr,
			      char *buf)
{
	struct xmem_device *dev = &xmem_dev;
	ssize_t ret;

	mutex_lock(&dev->lock);
	if (dev->addr_set)
		ret = sysfs_emit(buf, "%pISpc\n", &dev->addr);
	else
		ret = sysfs_emit(buf, "none\n");
	mutex_unlock(&dev->lock);
	return ret;
}

static ssize_t appliance_store(struct device *d, struct device_attribute *attr,
			       const char *buf, size_t len)
{
	struct sockaddr_storage ss;
	int ret;

	if (sysfs_streq(buf, "none")) {
		ret = xmem_set_appliance(&xmem_dev, NULL);
	} else if (xmem_parse_addr(buf, &ss)) {
		pr_warn_ratelimited("appliance: expected ADDR:PORT or none\n");
		ret = -EINVAL;
	} else {
		ret = xmem_set_appliance(&xmem_dev, &ss);
	}
	return ret ? ret : len;
}
static DEVICE_ATTR_RW(appliance);

static ssize_t secret_store(struct device *d, struct device_attribute *attr,
			    const char *buf, size_t len)
{
	struct xmem_device *dev = &xmem_dev;
	size_t n = len;

	if (n && buf[n - 1] == '\n')
		n--;
	if (n && (n < XMEM_AUTH_SECRET_MIN || n > XMEM_AUTH_SECRET_MAX)) {
		pr_warn_ratelimited("secret: expected %u to %u bytes, or nothing to clear it\n",
				    XMEM_AUTH_SECRET_MIN, XMEM_AUTH_SECRET_MAX);
		return -EINVAL;
	}
	mutex_lock(&dev->lock);
	memzero_explicit(dev->secret, sizeof(dev->secret));
	memcpy(dev->secret, buf, n);
	dev->secret_len = n;
	mutex_unlock(&dev->lock);
	pr_info("shared secret %s; it applies from the next connection\n",
		n ? "set" : "cleared");
	return len;
}
static DEVICE_ATTR_WO(secret);

static ssize_t state_show(struct device *d, struct device_attribute *attr,
			  char *buf)
{
	return sysfs_emit(buf, "%s\n",
			  xmem_state_names[READ_ONCE(xmem_dev.state)]);
}
static DEVICE_ATTR_RO(state);

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

static int xmem_appliance_stat(struct xmem_wire_stat *st)
{
	struct xmem_rdma_conn *conn;
	int ret;

	spin_lock(&xmem_dev.conn_lock);
	conn = xmem_dev.conn;
	if (conn)
		xmem_rdma_get(conn);
	spin_unlock(&xmem_dev.conn_lock);
	if (!conn)
		return -ENOTCONN;
	ret = xmem_rdma_stat(conn, st);
	xmem_rdma_put(conn);
	return ret;
}

static ssize_t appliance_regions_show(struct device *d,
				      struct device_attribute *attr, char *buf)
{
	struct xmem_wire_stat st;
	int ret = xmem_appliance_stat(&st);

	return ret ? ret : sysfs_emit(buf, "%llu\n", st.regions);
}
static DEVICE_ATTR_RO(appliance_regions);

static ssize_t appliance_bytes_show(struct device *d,
				    struct device_attribute *attr, char *buf)
{
	struct xmem_wire_stat st;
	int ret = xmem_appliance_stat(&st);

	return ret ? ret : sysfs_emit(buf, "%llu\n", st.bytes_allocated);
}
static DEVICE_ATTR_RO(appliance_bytes);

static struct attribute *xmem_attrs[] = {
	&dev_attr_appliance.attr,
	&dev_attr_state.attr,
	&dev_attr_io_timeout.attr,
	&dev_attr_secret.attr,
	&dev_attr_appliance_regions.attr,
	&dev_attr_appliance_bytes.attr,
	NULL,
};

static const struct attribute_group xmem_attr_group = {
	.attrs = xmem_attrs,
};

static const struct attribute_group *xmem_groups[] = {
	&xmem_attr_group,
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
	struct sockaddr_storage ss;
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
	if (appliance && xmem_parse_addr(appliance, &ss)) {
		pr_err("appliance=%s: expected ADDR:PORT\n", appliance);
		return -EINVAL;
	}

	mutex_init(&dev->lock);
	spin_lock_init(&dev->conn_lock);
	INIT_LIST_HEAD(&dev->regions);
	init_waitqueue_head(&dev->conn_wq);
	INIT_DELAYED_WORK(&dev->connect_work, xmem_connect_work);
	INIT_WORK(&dev->link_work, xmem_link_work);
	ida_init(&dev->windows);
	dev->state = XMEM_DISCONNECTED;

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

	if (appliance) {
		mutex_lock(&dev->lock);
		dev->addr = ss;
		dev->addr_set = true;
		xmem_set_state(dev, XMEM_CONNECTING);
		mutex_unlock(&dev->lock);
		queue_delayed_work(system_long_wq, &dev->connect_work, 0);
	}
	pr_info("loaded, local limit %lu bytes\n", local_limit);
	return 0;

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
	struct xmem_rdma_conn *conn;

	/* No reconnection from now on. */
	mutex_lock(&dev->lock);
	dev->addr_set = false;
	mutex_unlock(&dev->lock);
	cancel_delayed_work_sync(&dev->connect_work);

	/* No file is open: write everything back, then drop it. */
	mutex_lock(&dev->lock);
	list_for_each_entry_safe(cr, tmp, &dev->regions, node) {
		if (xmem_region_sync(&cr->r, 0, cr->r.nr_pages - 1) ||
		    xmem_region_drop(&cr->r))
			pr_err("region %s: write-back failed at unload\n",
			       cr->r.name);
		list_del(&cr->node);
		xmem_region_put(&cr->r);
	}
	conn = xmem_swap_conn(dev, NULL, XMEM_DISCONNECTED);
	mutex_unlock(&dev->lock);
	if (conn)
		xmem_rdma_disconnect(conn);

	/*
	 * Readahead in flight holds region references: once the pager's
	 * work is done, every region and its directory is gone.
	 */
	xmem_cache_destroy(&dev->cache);
	xmem_pager_sysfs_exit();
	misc_deregister(&dev->misc);

	/* A link failure before the disconnect may have queued both. */
	cancel_work_sync(&dev->link_work);
	cancel_delayed_work_sync(&dev->connect_work);

	iput(dev->inode);
	simple_release_fs(&dev->mnt, &xmem_mnt_count);
	ida_destroy(&dev->windows);
	memzero_explicit(dev->secret, sizeof(dev->secret));
	pr_info("unloaded\n");
}

module_init(xmem_init);
module_exit(xmem_exit);

MODULE_DESCRIPTION("xmem: external primary memory over RDMA");
MODULE_LICENSE("GPL");
