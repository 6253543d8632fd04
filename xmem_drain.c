// SPDX-License-Identifier: GPL-2.0
/*
 * xmem: what the pool of appliances asks of the core: refresh regions
 * after a reconnection, follow resizes by other clients, write back, and
 * move regions off an appliance that is drained.
 */
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/jiffies.h>
#include <linux/workqueue.h>

#include "xmem_appliance.h"
#include "xmem_core.h"
#include "xmem_rdma.h"
#include "xmem_wire.h"

/*
 * The pool's reattach callback: a new connection to @a.  Refresh where
 * each region it holds lives, adopting regions of a removed member with
 * the same address.  A region the appliance does not have any more, or
 * has recreated, is lost: its faults get SIGBUS rather than other data.
 * A region another client resized is resized here too.
 *
 * Runs under the member's lock, before the connection is installed, while
 * faults, write-back and region operations may wait for that connection:
 * it takes no lock they hold across the wait (no op_lock, and the device
 * lock only to take references to the regions).
 */
static int xmem_reattach(struct xmem_appliance *a,
			 struct xmem_rdma_conn *conn)
{
	struct xmem_wire_region_req req = { .op = XMEM_REGION_OP_ATTACH };
	struct xmem_device *dev = &xmem_dev;
	struct xmem_core_region **crs, *cr;
	struct xmem_appliance *held;
	struct xmem_wire_region wr;
	unsigned int n, i;
	pgoff_t nr;
	bool mine;
	int ret;

	crs = xmem_regions_get(dev, &n);
	if (IS_ERR(crs))
		return PTR_ERR(crs);
	for (i = 0; i < n; i++) {
		cr = crs[i];
		spin_lock(&dev->remote_lock);
		held = cr->appl;
		mine = held == a ||
		       (!xmem_appliance_member(held) &&
			xmem_appliance_same(held, a));
		spin_unlock(&dev->remote_lock);
		if (!mine)
			continue;
		/*
		 * Another client may have written it while this one was
		 * away, if the gap outlasted the appliance's grace.
		 */
		xmem_region_forget_zeroes(&cr->r);
		/* As uid 0: this client attached it before, for its users. */
		req.name = cr->r.name;
		req.hold = READ_ONCE(cr->hold);
		req.flags = req.hold ? XMEM_ATTACH_F_SOLE : 0;
		ret = xmem_rdma_region(conn, &req, &wr);
		if ((ret == -EBUSY || ret == -EPROTO) && req.hold) {
			pr_warn("region %s: appliance %s no longer holds it for this client alone (%d)\n",
				cr->r.name, xmem_appliance_name(a), ret);
			WRITE_ONCE(cr->hold, 0);
			req.hold = 0;
			req.flags = 0;
			ret = xmem_rdma_region(conn, &req, &wr);
		}
		if (!ret && wr.region_id != cr->region_id)
			ret = -ESTALE;
		nr = wr.size >> PAGE_SHIFT;
		if (!ret && nr != READ_ONCE(cr->r.nr_pages)) {
			/*
			 * Resized by another client.  Faults holding portion
			 * locks may be waiting for this very connection, so
			 * the pager's half is done by the resize work, after
			 * the connection is installed.
			 */
			spin_lock(&dev->remote_lock);
			cr->pending_pages = nr;
			spin_unlock(&dev->remote_lock);
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
		/* Dirty pages a failed write-back left: written by the work. */
		if (READ_ONCE(cr->wb_pinned))
			queue_work(system_long_wq, &dev->resize_work);
	}
	xmem_regions_put(crs, n);
	return 0;
}

/**
 * xmem_resize_work - follow up a reconnection
 * @work: &xmem_device.resize_work
 *
 * Applies the pending_pages seen at reconnection, and writes back the
 * regions a failed write-back pinned, so that the module may be unloaded
 * again (xmem_region_settle()).  Queued by reattach: it waits for the new
 * connection, which is installed after reattach returns.
 *
 * Context: process (system_long_wq); takes each region's op_lock.
 */
void xmem_resize_work(struct work_struct *work)
{
	struct xmem_device *dev = container_of(work, struct xmem_device,
					       resize_work);
	struct xmem_core_region **crs, *cr;
	unsigned int n, i;
	pgoff_t nr;

	crs = xmem_regions_get(dev, &n);
	if (IS_ERR(crs)) {
		/* Tried again at the next reconnection. */
		pr_err("cannot follow up a reconnection: no memory\n");
		return;
	}
	for (i = 0; i < n; i++) {
		cr = crs[i];
		mutex_lock(&cr->op_lock);
		spin_lock(&dev->remote_lock);
		nr = cr->pending_pages;
		cr->pending_pages = 0;
		spin_unlock(&dev->remote_lock);
		/* A dying region is written back or dropped by its owner. */
		if (READ_ONCE(cr->dying)) {
			mutex_unlock(&cr->op_lock);
			continue;
		}
		if (nr && nr != cr->r.nr_pages) {
			if (xmem_region_resize(&cr->r, nr, false))
				pr_err("region %s: cannot follow the resize to %llu bytes by another client\n",
				       cr->r.name, (u64)nr << PAGE_SHIFT);
			else
				pr_info("region %s: resized to %llu bytes by another client\n",
					cr->r.name, (u64)nr << PAGE_SHIFT);
		}
		if (READ_ONCE(cr->wb_pinned) &&
		    !xmem_region_sync(&cr->r, 0, cr->r.nr_pages - 1, NULL))
			xmem_region_settle(cr);
		mutex_unlock(&cr->op_lock);
	}
	xmem_regions_put(crs, n);
}

/*
 * The pool's sync callback: write back the regions of @a (NULL: all).
 * Each region's op_lock keeps its size still meanwhile.
 */
static int xmem_sync_regions(struct xmem_appliance *a)
{
	struct xmem_device *dev = &xmem_dev;
	struct xmem_core_region **crs, *cr;
	unsigned int n, i;
	int ret = 0;

	crs = xmem_regions_get(dev, &n);
	if (IS_ERR(crs))
		return PTR_ERR(crs);
	for (i = 0; i < n; i++) {
		cr = crs[i];
		if (a && READ_ONCE(cr->appl) != a)
			continue;
		if (mutex_lock_killable(&cr->op_lock)) {
			ret = -EINTR;
			break;
		}
		if (xmem_region_sync(&cr->r, 0, cr->r.nr_pages - 1, NULL))
			ret = -EIO;
		else
			xmem_region_settle(cr);
		mutex_unlock(&cr->op_lock);
	}
	xmem_regions_put(crs, n);
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
 * Hold @cr alone on the appliance it moved to, as it was on the old one:
 * the copy attached it to @conn without a hold (answered in @wr), and a
 * SOLE ATTACH of a region the connection has attached turns it into one;
 * its answer replaces @wr.  Under the region's op_lock and io_lock.
 */
static void xmem_move_hold(struct xmem_core_region *cr,
			   struct xmem_rdma_conn *conn,
			   struct xmem_wire_region *wr)
{
	struct xmem_wire_region_req req = {
		.op = XMEM_REGION_OP_ATTACH,
		.flags = XMEM_ATTACH_F_SOLE,
		.hold = cr->hold,
		.name = cr->r.name,
	};
	struct xmem_wire_region held;
	int ret;

	lockdep_assert_held(&cr->op_lock);
	ret = xmem_rdma_region(conn, &req, &held);
	if (!ret && (held.region_id != wr->region_id ||
		     held.size != wr->size))
		ret = -ESTALE;
	if (!ret)
		*wr = held;
	if (ret) {
		pr_warn("region %s: not held for this client alone after the move (%d)\n",
			cr->r.name, ret);
		WRITE_ONCE(cr->hold, 0);
	}
}

/*
 * Move @cr from @from to another member, chosen by placement: the target
 * copies it appliance to appliance (PULL) while transfers on the region
 * wait; pages cached here stay cached, and dirty ones are written back to
 * the new place later.  Then the old copy is destroyed.  Under the
 * region's op_lock.
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

	lockdep_assert_held(&cr->op_lock);
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
	ret = xmem_rdma_pull(conn, xmem_appliance_addr(from), cr->r.name, NULL,
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
		/* Its data came from elsewhere. */
		xmem_region_forget_zeroes(&cr->r);
		if (cr->hold)
			xmem_move_hold(cr, conn, &wr);
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
	struct xmem_core_region **crs, *cr;
	unsigned int n, i;
	bool lost;
	int ret = 0;

	crs = xmem_regions_get(dev, &n);
	if (IS_ERR(crs))
		return PTR_ERR(crs);
	for (i = 0; i < n && !ret; i++) {
		cr = crs[i];
		if (mutex_lock_killable(&cr->op_lock)) {
			ret = -EINTR;
			break;
		}
		spin_lock(&dev->remote_lock);
		lost = cr->lost;
		spin_unlock(&dev->remote_lock);
		/* A dying region is forgotten by its DETACH or DESTROY. */
		if (READ_ONCE(cr->appl) != a || READ_ONCE(cr->dying)) {
			mutex_unlock(&cr->op_lock);
			continue;
		}
		if (lost) {
			pr_err_ratelimited("region %s: lost, it cannot move; destroy or detach it first\n",
					   cr->r.name);
			ret = -EIO;
		} else {
			ret = xmem_move_region(dev, cr, a);
		}
		mutex_unlock(&cr->op_lock);
	}
	xmem_regions_put(crs, n);
	return ret;
}

const struct xmem_pool_ops xmem_pool_ops = {
	.reattach = xmem_reattach,
	.drain = xmem_drain,
	.attached = xmem_attached,
	.sync = xmem_sync_regions,
};
