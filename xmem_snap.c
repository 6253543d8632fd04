// SPDX-License-Identifier: GPL-2.0
/*
 * xmem: snapshots and appliance-side copies (XMEM_IOC_SNAPSHOT).  The
 * appliance copies a region memory to memory (XMEM_MSG_COPY_REQ); this
 * client only holds the source's writers and writes it back first, so the
 * copy is the region at one instant.  A temporary copy (TEMP) is bound to
 * the calling file and destroyed when that file's last duplicate goes.
 * See Documentation/snapshots.rst.
 */
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/ktime.h>
#include <linux/string.h>
#include <linux/uaccess.h>

#include "uapi/xmem.h"
#include "xmem_appliance.h"
#include "xmem_core.h"
#include "xmem_rdma.h"
#include "xmem_wire.h"

/* A temporary region that could not be destroyed is tried again after. */
#define XMEM_TEMP_RETRY	(2 * HZ)

static int xmem_check_snapshot(const struct xmem_snapshot *s)
{
	const char *why;

	if (memchr_inv(s->reserved, 0, sizeof(s->reserved)) || s->size ||
	    s->region_id || s->hold_ns || s->total_ns)
		why = "reserved or out fields not zero";
	else if (s->flags & ~(XMEM_SNAPSHOT_INTO | XMEM_SNAPSHOT_MODE |
			      XMEM_SNAPSHOT_TEMP))
		why = "unknown flags";
	else if ((s->flags & XMEM_SNAPSHOT_TEMP) &&
		 (s->flags & XMEM_SNAPSHOT_INTO))
		why = "TEMP with INTO";
	else if (xmem_wire_check_name(s->src, sizeof(s->src)) ||
		 xmem_wire_check_name(s->dst, sizeof(s->dst)))
		why = "bad region name";
	else if (!strcmp(s->src, s->dst))
		why = "source and target are the same region";
	else if (s->mode & ~XMEM_REGION_MODE_MASK ||
		 (s->mode && !(s->flags & XMEM_SNAPSHOT_MODE)) ||
		 ((s->flags & XMEM_SNAPSHOT_MODE) &&
		  (s->flags & XMEM_SNAPSHOT_INTO)))
		why = "mode beyond 0777, or without MODE, or with INTO";
	else
		return 0;
	pr_warn_ratelimited("SNAPSHOT: %s\n", why);
	return -EINVAL;
}

/*
 * The pool member holding @dst, the target of a SNAPSHOT with INTO:
 * @dcr's if it is attached here, else the one that answers for it.  On
 * success *@ap and *@connp are referenced.
 */
static int xmem_snapshot_dst(struct xmem_core_region *dcr, const char *dst,
			     struct xmem_appliance **ap,
			     struct xmem_rdma_conn **connp)
{
	struct xmem_wire_region wr;

	if (!dcr)
		return xmem_remote_find(dst, ap, connp, &wr);
	*ap = xmem_region_appl(dcr);
	*connp = xmem_appliance_conn_now(*ap);
	if (*connp)
		return 0;
	xmem_appliance_put(*ap);
	*ap = NULL;
	return -ENOTCONN;
}

/*
 * Have @da, which holds @dst, fill it from @src on @a (appliance to
 * appliance, XMEM_MSG_PULL_REQ with DST).  The target attaches @dst to
 * the connection as it answers; a @dst that is not attached here
 * (@attached false) is detached there again.
 */
static int xmem_snapshot_pull(struct xmem_appliance *a, const char *src,
			      struct xmem_appliance *da,
			      struct xmem_rdma_conn *dconn, const char *dst,
			      bool attached, struct xmem_wire_region *wr)
{
	struct xmem_wire_region_req req = {
		.op = XMEM_REGION_OP_DETACH,
		.uid = xmem_caller_uid(),
		.gid = xmem_caller_gid(),
		.name = dst,
	};
	struct xmem_wire_region dwr;
	int ret;

	ret = xmem_rdma_pull(dconn, xmem_appliance_addr(a), src, dst, wr);
	if (ret || attached)
		return ret;
	ret = xmem_rdma_region(dconn, &req, &dwr);
	if (ret)
		pr_warn_ratelimited("region %s: %s refused DETACH after the copy: %d\n",
				    dst, xmem_appliance_name(da), ret);
	return 0;
}

/*
 * Make the snapshot @s asks for, checked, and fill in its out fields.
 * Holds the writers of the source if it is attached here and writes it
 * back (xmem_region_hold()), has its appliance copy it into the target
 * (XMEM_MSG_COPY_REQ), lets the writers go; see include/uapi/xmem.h.  An
 * existing target (INTO) on another member of the pool is filled by that
 * member, which reads the source from the source's appliance
 * (XMEM_MSG_PULL_REQ with DST).  No network I/O under &xmem_device.lock:
 * the regions are referenced.
 */
static int xmem_snapshot(struct xmem_snapshot *ss)
{
	struct xmem_core_region *cr, *dcr = NULL;
	struct xmem_rdma_conn *conn = NULL, *dconn = NULL;
	struct xmem_appliance *a = NULL, *da = NULL;
	struct xmem_device *dev = &xmem_dev;
	struct xmem_wire_region wr;
	struct xmem_snapshot s = *ss;
	u64 t0 = ktime_get_ns(), th = 0, size = 0;
	bool held = false, cross = false;
	u32 flags = 0;
	int ret = 0;

	if (!(s.flags & XMEM_SNAPSHOT_INTO))
		flags = XMEM_COPY_F_CREATE | XMEM_COPY_F_EXCL;
	if (s.flags & XMEM_SNAPSHOT_TEMP)
		flags |= XMEM_COPY_F_TEMP;

	mutex_lock(&dev->lock);
	cr = xmem_lookup_region(dev, s.src);
	if (cr)
		xmem_region_get(&cr->r);
	dcr = xmem_lookup_region(dev, s.dst);
	if (dcr && kref_read(&dcr->r.ref) > 1) {
		pr_warn_ratelimited("SNAPSHOT %s into %s: the target is open or mapped here\n",
				    s.src, s.dst);
		ret = -EBUSY;
	} else if (dcr) {
		xmem_region_get(&dcr->r);
	}
	mutex_unlock(&dev->lock);
	if (ret) {
		dcr = NULL;
		goto out_put;
	}

	if (cr) {
		if (!xmem_may_attach(cr)) {
			ret = -EACCES;
			goto out_put;
		}
		th = ktime_get_ns();
		ret = xmem_region_hold(&cr->r);
		if (ret)
			goto out_put;
		held = true;
		/* No move to another appliance while it copies. */
		down_read(&cr->io_lock);
		a = xmem_region_appl(cr);
		conn = xmem_appliance_conn_now(a);
		ret = conn ? 0 : -ENOTCONN;
		size = (u64)cr->r.nr_pages << PAGE_SHIFT;
	} else {
		ret = xmem_remote_find(s.src, &a, &conn, &wr);
		size = wr.size;
	}
	/*
	 * Nor of a target attached here, which a drain would otherwise
	 * move away from the copy it is being filled with.  A drain or a
	 * shrink holds one region's io_lock at a time: taking the second
	 * one shared cannot close a cycle.
	 */
	if (dcr) {
		/* Nothing maps it here (above); its data comes from @s.src. */
		xmem_region_forget_zeroes(&dcr->r);
		down_read_nested(&dcr->io_lock, SINGLE_DEPTH_NESTING);
	}
	if (!ret && (s.flags & XMEM_SNAPSHOT_INTO))
		ret = xmem_snapshot_dst(dcr, s.dst, &da, &dconn);
	cross = da && da != a;
	if (!ret && cross)
		ret = xmem_snapshot_pull(a, s.src, da, dconn, s.dst, !!dcr,
					 &wr);
	else if (!ret)
		ret = xmem_rdma_copy(conn, s.src, s.dst, flags, s.mode,
				     xmem_caller_uid(), xmem_caller_gid(), &wr);
	if (dcr)
		up_read(&dcr->io_lock);
	if (held) {
		up_read(&cr->io_lock);
		xmem_region_unhold(&cr->r);
		th = ktime_get_ns() - th;
	}
	if (dconn)
		xmem_rdma_put(dconn);
	if (da)
		xmem_appliance_put(da);
	if (conn)
		xmem_rdma_put(conn);
	xmem_appliance_put(a);
	if (ret == -ENOMEM)
		ret = -ENOSPC;
	if (ret)
		goto out_put;
	/* Pages of an old target cached here are stale now. */
	if (dcr && xmem_region_drop(&dcr->r))
		pr_warn("region %s: stale cached pages could not be dropped\n",
			s.dst);
	s.size = size;
	s.region_id = wr.region_id;
	s.hold_ns = th;
	s.total_ns = ktime_get_ns() - t0;
	pr_info("region %s: %s %s%s, writers held %llu us, %llu us in all\n",
		s.src, wr.created ? "snapshot" : "copied into", s.dst,
		cross ? " (appliance to appliance)" : "",
		div_u64(th, NSEC_PER_USEC), div_u64(s.total_ns, NSEC_PER_USEC));
	*ss = s;
out_put:
	if (dcr)
		xmem_region_put(&dcr->r);
	if (cr)
		xmem_region_put(&cr->r);
	if (ret)
		pr_warn_ratelimited("SNAPSHOT %s to %s: %d\n", s.src, s.dst, ret);
	return ret;
}

/*
 * SNAPSHOT with TEMP: attach the new temporary copy @s->dst and bind @xf
 * to it.  If that fails the copy is destroyed again.
 */
static int xmem_snapshot_bind(struct xmem_file *xf,
			      const struct xmem_snapshot *s)
{
	struct xmem_wire_region_req req = {
		.op = XMEM_REGION_OP_DESTROY,
		.uid = xmem_caller_uid(),
		.gid = xmem_caller_gid(),
		.name = s->dst,
	};
	struct xmem_attach a = {};
	struct xmem_core_region *cr;
	struct xmem_wire_region wr;
	int ret;

	lockdep_assert_held(&xf->lock);
	strscpy(a.name, s->dst, sizeof(a.name));
	cr = xmem_attach_region(&xmem_dev, &a, true);
	if (IS_ERR(cr)) {
		ret = PTR_ERR(cr);
		pr_warn_ratelimited("SNAPSHOT %s to %s: cannot attach the temporary copy: %d\n",
				    s->src, s->dst, ret);
		if (xmem_name_call(&req, &wr))
			pr_warn_ratelimited("region %s: temporary copy left on the appliance\n",
					    s->dst);
		return ret;
	}
	xf->wb_since = xmem_region_wb_sample(&cr->r);
	atomic_inc(&cr->nr_files);
	/* Publish after the region is complete; see xmem_file_region(). */
	smp_store_release(&xf->region, cr);
	return 0;
}

/**
 * xmem_ioctl_snapshot() - XMEM_IOC_SNAPSHOT
 * @xf: the file the ioctl is called on; bound to the copy with TEMP
 * @arg: user pointer to a struct xmem_snapshot
 *
 * See include/uapi/xmem.h.  With TEMP, @xf->lock is held across the copy,
 * as ATTACH holds it, so the file is bound once.
 *
 * Context: process context, may sleep up to the copy's timeout.
 * Return: 0, or a negative errno as the uapi header lists.
 */
long xmem_ioctl_snapshot(struct xmem_file *xf, void __user *arg)
{
	struct xmem_snapshot s;
	int ret;

	if (copy_from_user(&s, arg, sizeof(s)))
		return -EFAULT;
	ret = xmem_check_snapshot(&s);
	if (ret)
		return ret;
	if (!(s.flags & XMEM_SNAPSHOT_TEMP)) {
		ret = xmem_snapshot(&s);
		if (ret)
			return ret;
		return copy_to_user(arg, &s, sizeof(s)) ? -EFAULT : 0;
	}

	if (mutex_lock_killable(&xf->lock))
		return -EINTR;
	if (xf->region) {
		pr_warn_ratelimited("SNAPSHOT TEMP: file already bound to region %s\n",
				    xf->region->r.name);
		ret = -EBUSY;
		goto out_unlock;
	}
	ret = xmem_snapshot(&s);
	if (!ret)
		ret = xmem_snapshot_bind(xf, &s);
out_unlock:
	mutex_unlock(&xf->lock);
	if (ret)
		return ret;
	/* A failed copy-out leaves the file bound: the copy goes with it. */
	return copy_to_user(arg, &s, sizeof(s)) ? -EFAULT : 0;
}

/*
 * Destroy a temporary region whose file was released: its cached pages
 * dropped here without write-back (nothing maps it), then destroyed on the
 * appliance, as its owner.  Returns 0 when it is gone here, or an error
 * after which it stays for another try.
 */
static int xmem_temp_end(struct xmem_device *dev, struct xmem_core_region *cr)
{
	struct xmem_wire_region_req req = {
		.op = XMEM_REGION_OP_DESTROY,
		.uid = cr->uid,
		.gid = cr->gid,
		.name = cr->r.name,
	};
	struct xmem_wire_region wr;
	bool lost;
	int ret;

	/* Someone's DETACH or DESTROY already takes it away: -ENOENT. */
	ret = xmem_region_claim(dev, cr, true, "temporary region");
	if (ret)
		return ret == -ENOENT ? 0 : ret;
	/* Its holder may wait for the appliance: rmmod can be killed here. */
	if (mutex_lock_killable(&cr->op_lock)) {
		xmem_region_unclaim(dev, cr);
		return -EINTR;
	}
	spin_lock(&dev->remote_lock);
	lost = cr->lost;
	spin_unlock(&dev->remote_lock);
	/*
	 * Nothing maps it: what it holds goes with it, unwritten.  A lost
	 * one is gone on the appliance already.
	 */
	ret = xmem_region_discard(&cr->r);
	if (!ret && !lost)
		ret = xmem_region_call(cr, &req, &wr);
	/* The appliance destroyed it already (its grace ran out). */
	if (ret == -ENOENT)
		ret = 0;
	if (ret) {
		mutex_unlock(&cr->op_lock);
		xmem_region_unclaim(dev, cr);
		pr_warn_ratelimited("region %s: temporary, cannot destroy it now (%d); trying again\n",
				    cr->r.name, ret);
		return ret;
	}
	pr_info("region %s: temporary, destroyed\n", cr->r.name);
	xmem_forget_region(dev, cr);
	mutex_unlock(&cr->op_lock);
	xmem_region_put(&cr->r);	/* the list's; the caller's is left */
	return 0;
}

/**
 * xmem_temps_end() - destroy the temporary regions whose file was released
 * @dev: the device
 *
 * Context: process; takes each such region's op_lock and waits for its
 * appliance.
 * Return: true if one is left for another try (it is busy, or its
 * appliance cannot be reached or refused).
 */
bool xmem_temps_end(struct xmem_device *dev)
{
	struct xmem_core_region **crs;
	unsigned int n, i;
	bool again = false;

	crs = xmem_regions_get(dev, &n);
	if (IS_ERR(crs))
		return true;
	for (i = 0; i < n; i++)
		if (READ_ONCE(crs[i]->temp_done) &&
		    xmem_temp_end(dev, crs[i]))
			again = true;
	xmem_regions_put(crs, n);
	return again;
}

/**
 * xmem_temp_release() - the file bound to a temporary region was released
 * @cr: the region
 *
 * Marks it for &xmem_device.temp_work, which the caller queues with
 * xmem_temp_kick() once it has dropped its reference.
 *
 * Context: any.
 */
void xmem_temp_release(struct xmem_core_region *cr)
{
	WRITE_ONCE(cr->temp_done, true);
}

/**
 * xmem_temp_kick() - have &xmem_device.temp_work run now
 *
 * Context: any.
 */
void xmem_temp_kick(void)
{
	mod_delayed_work(system_long_wq, &xmem_dev.temp_work, 0);
}

/**
 * xmem_temp_work() - &xmem_device.temp_work
 * @work: the work
 *
 * Runs xmem_temps_end(), and again every XMEM_TEMP_RETRY while a region
 * is left.
 *
 * Context: process (system_long_wq).
 */
void xmem_temp_work(struct work_struct *work)
{
	struct xmem_device *dev = container_of(to_delayed_work(work),
					       struct xmem_device, temp_work);

	if (xmem_temps_end(dev))
		queue_delayed_work(system_long_wq, &dev->temp_work,
				   XMEM_TEMP_RETRY);
}
