// SPDX-License-Identifier: GPL-2.0
/*
 * xmem: snapshots and appliance-side copies (XMEM_IOC_SNAPSHOT).  The
 * appliance copies a region memory to memory (XMEM_MSG_COPY_REQ); this
 * client only holds the source's writers and writes it back first, so the
 * copy is the region at one instant.  See Documentation/snapshots.rst.
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

static int xmem_check_snapshot(const struct xmem_snapshot *s)
{
	const char *why;

	if (memchr_inv(s->reserved, 0, sizeof(s->reserved)) || s->size ||
	    s->region_id || s->hold_ns || s->total_ns)
		why = "reserved or out fields not zero";
	else if (s->flags & ~(XMEM_SNAPSHOT_INTO | XMEM_SNAPSHOT_MODE))
		why = "unknown flags";
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

/**
 * xmem_ioctl_snapshot() - XMEM_IOC_SNAPSHOT
 * @arg: user pointer to a struct xmem_snapshot
 *
 * Holds the writers of the source if it is attached here and writes it
 * back (xmem_region_hold()), has its appliance copy it into the target
 * (XMEM_MSG_COPY_REQ), lets the writers go; see include/uapi/xmem.h.  An
 * existing target (INTO) on another member of the pool is filled by that
 * member, which reads the source from the source's appliance
 * (XMEM_MSG_PULL_REQ with DST).  No network I/O under &xmem_device.lock:
 * the regions are referenced.
 *
 * Context: process context, may sleep up to the copy's timeout.
 * Return: 0, or a negative errno as the uapi header lists.
 */
long xmem_ioctl_snapshot(void __user *arg)
{
	struct xmem_core_region *cr, *dcr = NULL;
	struct xmem_rdma_conn *conn = NULL, *dconn = NULL;
	struct xmem_appliance *a = NULL, *da = NULL;
	struct xmem_device *dev = &xmem_dev;
	struct xmem_wire_region wr;
	struct xmem_snapshot s;
	u64 t0 = ktime_get_ns(), th = 0, size = 0;
	bool held = false, cross = false;
	u32 flags;
	int ret;

	if (copy_from_user(&s, arg, sizeof(s)))
		return -EFAULT;
	ret = xmem_check_snapshot(&s);
	if (ret)
		return ret;
	flags = s.flags & XMEM_SNAPSHOT_INTO ? 0 :
		XMEM_COPY_F_CREATE | XMEM_COPY_F_EXCL;

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
	if (!ret && (s.flags & XMEM_SNAPSHOT_INTO))
		ret = xmem_snapshot_dst(dcr, s.dst, &da, &dconn);
	cross = da && da != a;
	if (!ret && cross)
		ret = xmem_snapshot_pull(a, s.src, da, dconn, s.dst, !!dcr,
					 &wr);
	else if (!ret)
		ret = xmem_rdma_copy(conn, s.src, s.dst, flags, s.mode,
				     xmem_caller_uid(), xmem_caller_gid(), &wr);
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
out_put:
	if (dcr)
		xmem_region_put(&dcr->r);
	if (cr)
		xmem_region_put(&cr->r);
	if (ret) {
		pr_warn_ratelimited("SNAPSHOT %s to %s: %d\n", s.src, s.dst, ret);
		return ret;
	}
	return copy_to_user(arg, &s, sizeof(s)) ? -EFAULT : 0;
}
