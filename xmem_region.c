// SPDX-License-Identifier: GPL-2.0
/*
 * xmem: the regions this client knows: the registry, lookup, the
 * permission rules, attach by name and the calls to the appliance holding
 * a region.  See xmem_core.h.
 */
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/capability.h>
#include <linux/cred.h>
#include <linux/module.h>
#include <linux/random.h>
#include <linux/slab.h>
#include <linux/string.h>

#include "xmem_appliance.h"
#include "xmem_core.h"
#include "xmem_rdma.h"
#include "xmem_wire.h"

/**
 * xmem_region_appl - the appliance holding a region now
 * @cr: the region
 *
 * Context: any; takes &xmem_device.remote_lock.
 * Return: the appliance, referenced; the caller puts it.
 */
struct xmem_appliance *xmem_region_appl(struct xmem_core_region *cr)
{
	struct xmem_appliance *a;

	spin_lock(&xmem_dev.remote_lock);
	a = cr->appl;
	xmem_appliance_get(a);
	spin_unlock(&xmem_dev.remote_lock);
	return a;
}

/**
 * xmem_region_bind - bind a region to an appliance
 * @dev: the device
 * @cr: the region
 * @a: its new appliance, referenced by the caller; the reference is taken over
 * @wr: where the region lives on @a
 *
 * The previous appliance's reference is dropped.
 *
 * Context: process; takes &xmem_device.remote_lock.  A caller that changes
 * the appliance holds @cr->io_lock for write.
 */
void xmem_region_bind(struct xmem_device *dev,
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

static void xmem_region_free(struct xmem_region *region)
{
	struct xmem_core_region *cr = to_core_region(region);

	/*
	 * Pages a failed write-back left dirty went with the region: only
	 * DESTROY of a lost region forgets one that still has them.
	 */
	if (cr->wb_pinned)
		module_put(THIS_MODULE);
	xmem_appliance_put(cr->appl);
	ida_free(&xmem_dev.windows, cr->window);
	mutex_destroy(&cr->op_lock);
	kfree(cr);
}

/**
 * xmem_caller_uid - the caller's fsuid as the appliance knows users
 *
 * Return: the uid in the initial user namespace.
 */
u32 xmem_caller_uid(void)
{
	return from_kuid_munged(&init_user_ns, current_fsuid());
}

/**
 * xmem_caller_gid - the caller's fsgid as the appliance knows groups
 *
 * Return: the gid in the initial user namespace.
 */
u32 xmem_caller_gid(void)
{
	return from_kgid_munged(&init_user_ns, current_fsgid());
}

/**
 * xmem_may_attach - may the caller attach a region attached here already
 * @cr: the region
 *
 * The appliance's rule, with the caller's capabilities and groups: a
 * caller with CAP_DAC_OVERRIDE (root) always may; else it needs read and
 * write permission in the region's mode for its class: the owner's bits
 * if its fsuid owns the region, the group's if the region's group is its
 * fsgid or one of its supplementary groups (in_group_p()), else the
 * others'.  The appliance, which sees only the fsuid and fsgid, decides
 * for regions not attached here yet.
 *
 * Context: process context (capable() may audit).
 * Return: true if it may.
 */
bool xmem_may_attach(const struct xmem_core_region *cr)
{
	u32 need;

	if (capable(CAP_DAC_OVERRIDE))
		return true;
	if (xmem_caller_uid() == cr->uid)
		need = 0600;
	else if (in_group_p(make_kgid(&init_user_ns, cr->gid)))
		need = 0060;
	else
		need = 0006;
	return (cr->mode & need) == need;
}

/**
 * xmem_may_admin - may the caller resize or destroy a region
 * @cr: the region
 *
 * Context: process context (capable() may audit).
 * Return: true for its owner (fsuid) and a caller with CAP_FOWNER.
 */
bool xmem_may_admin(const struct xmem_core_region *cr)
{
	return xmem_caller_uid() == cr->uid || capable(CAP_FOWNER);
}

/**
 * xmem_lookup_region - a region attached here, by name
 * @dev: the device
 * @name: the region's name
 *
 * Context: &xmem_device.lock held.
 * Return: the region, not referenced, or NULL.
 */
struct xmem_core_region *xmem_lookup_region(struct xmem_device *dev,
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
	/* Going away: neither attached here any more nor new. */
	if (cr->dying)
		return ERR_PTR(-ENOENT);
	/* Bound to the one file SNAPSHOT made it for. */
	if (cr->temp)
		return ERR_PTR(-EBUSY);
	if (a->flags & XMEM_ATTACH_EXCL)
		return ERR_PTR(-EEXIST);
	if (a->size && a->size != (u64)cr->r.nr_pages << PAGE_SHIFT)
		return ERR_PTR(-EINVAL);
	if (!xmem_may_attach(cr))
		return ERR_PTR(-EACCES);
	xmem_region_get(&cr->r);
	return cr;
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

/**
 * xmem_remote_find - find the pool member holding a region
 * @name: the region's name
 * @ap: the member, on success
 * @connp: its connection, on success
 * @wr: the region as the member describes it, on success
 *
 * Sends an INFO request to every connected member, in order.  On success
 * *@ap and *@connp are referenced.
 *
 * Context: process; waits for each member's answer.
 * Return: 0; -ENOENT when every member was asked and none has it;
 * -ENOTCONN when none that answered has it but some member could not be
 * asked (it may be there); another member's error.
 */
int xmem_remote_find(const char *name, struct xmem_appliance **ap,
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

/**
 * xmem_attach_region - attach a region by name
 * @dev: the device
 * @a: the request, checked by the caller
 * @temp: attach it as a temporary region (SNAPSHOT with TEMP made it):
 *	no node, refused to ATTACH by name; one attached here already is
 *	refused (-EBUSY)
 *
 * A region attached here already is checked against @a; otherwise the pool
 * member holding it is found, or with XMEM_ATTACH_CREATE one is chosen by
 * placement, and the region is attached there.  With the max_regions
 * module parameter set and that many regions attached here, a region not
 * attached yet is refused before the appliance is asked.
 *
 * With XMEM_ATTACH_SOLE the appliance holds the region for this client
 * alone (a random token names the hold); a region it created so has its
 * never-written pages filled with zeroes instead of read.  A region
 * attached here already is returned as it is, held or not: the caller
 * asks for the hold (xmem_region_set_hold()).
 *
 * Context: process; takes &xmem_device.attach_lock across the calls to
 * the appliance, and &xmem_device.lock only to look up, count and list.
 * Return: the region, referenced for the caller, or an ERR_PTR():
 * -EDQUOT over max_regions; with SOLE, -EBUSY (attached by another
 * client) or -EOPNOTSUPP (appliance older than protocol 1.9); else the
 * appliance's or the transport's error.
 */
struct xmem_core_region *xmem_attach_region(struct xmem_device *dev,
					    const struct xmem_attach *a,
					    bool temp)
{
	struct xmem_wire_region_req req = {
		.op = XMEM_REGION_OP_ATTACH,
		.uid = xmem_caller_uid(),
		.gid = xmem_caller_gid(),
		.size = a->size,
		.name = a->name,
	};
	unsigned int max = READ_ONCE(xmem_max_regions), n = 0;
	struct xmem_appliance *appl = NULL;
	struct xmem_core_region *cr;
	struct xmem_rdma_conn *conn;
	struct xmem_wire_region wr;
	int ret;

	mutex_lock(&dev->attach_lock);
	mutex_lock(&dev->lock);
	cr = xmem_find_region(dev, a);
	mutex_unlock(&dev->lock);
	if (!IS_ERR_OR_NULL(cr) && temp) {
		xmem_region_put(&cr->r);
		cr = ERR_PTR(-EBUSY);
	}
	if (cr)
		goto out;
	if (a->flags & XMEM_ATTACH_SOLE) {
		req.flags |= XMEM_ATTACH_F_SOLE;
		req.hold = get_random_u64() ?: 1;
	}

	/* Before the appliance hears of it: nothing half-created. */
	if (max) {
		mutex_lock(&dev->lock);
		list_for_each_entry(cr, &dev->regions, list)
			n++;
		mutex_unlock(&dev->lock);
		if (n >= max) {
			pr_warn_ratelimited("region %s: %u regions attached, the max_regions limit: refused\n",
					    a->name, n);
			cr = ERR_PTR(-EDQUOT);
			goto out;
		}
	}

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
	if (ret == -EPROTO && req.hold) {
		pr_warn_ratelimited("region %s: appliance %s is older than protocol 1.9 and cannot hold a region for one client (SOLE)\n",
				    a->name, xmem_appliance_name(appl));
		ret = -EOPNOTSUPP;
	} else if (ret == -EBUSY && req.hold) {
		pr_warn_ratelimited("region %s: another client has it attached, or held it alone until lately: no SOLE attach\n",
				    a->name);
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
	mutex_init(&cr->op_lock);
	ret = xmem_region_init(&cr->r, &dev->cache, a->name,
			       wr.size >> PAGE_SHIFT,
			       (pgoff_t)cr->window << XMEM_WINDOW_SHIFT);
	cr->r.free = xmem_region_free;
	if (!ret)
		ret = xmem_region_sysfs_add(&cr->r, xmem_core_region_groups);
	if (ret) {
		pr_err_ratelimited("region %s: cannot set up its counters or sysfs directory: %d\n",
				   a->name, ret);
		xmem_region_put(&cr->r);	/* frees the window and cr */
		cr = ERR_PTR(ret);
		goto out;
	}
	cr->hold = req.hold;
	/* Held alone since created: what it never wrote is zero there. */
	if (req.hold && wr.created && xmem_region_track_zeroes(&cr->r))
		pr_info("region %s: no memory to track unwritten pages; they are read\n",
			a->name);
	/* Before it is listed: nothing can take it away meanwhile. */
	cr->temp = temp;
	if (!temp)
		xmem_node_add(cr);
	xmem_region_get(&cr->r);			/* the caller's */
	mutex_lock(&dev->lock);
	list_add_tail(&cr->list, &dev->regions);	/* the list's reference */
	mutex_unlock(&dev->lock);
	pr_info("region %s: attached on appliance %s, %llu bytes%s%s%s\n",
		a->name, xmem_appliance_name(cr->appl), wr.size,
		wr.created ? ", created" : "", temp ? ", temporary" : "",
		req.hold ? ", held alone" : "");
out_put:
	xmem_appliance_put(appl);
out:
	mutex_unlock(&dev->attach_lock);
	return cr;
}

/*
 * Did the appliance answer @ret, or did the call end without an answer
 * (no reply, a killed caller), whatever the appliance did?
 */
static bool xmem_region_unanswered(int ret)
{
	return ret == -ENOTCONN || ret == -ETIMEDOUT || ret == -EINTR ||
	       ret == -EBADMSG;
}

/**
 * xmem_region_set_hold - take or end this client's hold on a region it
 *	keeps attached
 * @dev: the device
 * @cr: the region, attached here
 * @hold: take the hold (true) or end it (false)
 *
 * The region stays attached, mapped and cached either way; what changes
 * is whether the appliance lets other clients attach it for writing.
 * The protocol has no message for this: ATTACHes of protocol 1.9 on the
 * region's connection do it, each answered with new keys, so the
 * region's transfers are held off (@cr->io_lock) until the last answer's
 * keys are in place.
 *
 * Taking it: an ATTACH with SOLE and a new token, which the appliance
 * grants when no other client has the region attached for writing.  The
 * region has data, so its pages are read as before: only a region
 * created held has its never-written pages filled here.  The token is
 * recorded before the request goes: if the call ends without an answer,
 * the hold may have been granted, and the reattach asks for it with that
 * token (and goes on without it if refused), as for a region attached
 * with SOLE.
 *
 * Ending it: an ATTACH with READ, which ends a hold, then one without,
 * which gives the attachment keys that write again when nobody holds the
 * region.  Never-written pages are read from the first one on.  If the
 * second one fails, the keys in place no longer write: the first
 * write-back that tries fails the connection, and its reattach (an
 * ATTACH without SOLE) gives the region keys that write.
 *
 * Context: process, may sleep; the caller holds @cr->op_lock.  Calls the
 * appliance (up to io_timeout per ATTACH) with @cr->io_lock held for
 * write.
 * Return: 0 (also when there was nothing to do), -ENOTCONN without a
 * working connection, -EINTR if killed while transfers on @cr were
 * ending, -ESTALE if the appliance answered for another region; taking
 * it, -EBUSY (another client has the region attached, or a copy into it
 * is in flight) or -EOPNOTSUPP (appliance older than protocol 1.9); else
 * the appliance's or the transport's error.
 */
int xmem_region_set_hold(struct xmem_device *dev,
			 struct xmem_core_region *cr, bool hold)
{
	struct xmem_wire_region_req req = {
		.op = XMEM_REGION_OP_ATTACH,
		.name = cr->r.name,
	};
	struct xmem_rdma_conn *conn;
	struct xmem_appliance *a;
	struct xmem_wire_region wr;
	int ret;

	lockdep_assert_held(&cr->op_lock);
	if (!!READ_ONCE(cr->hold) == hold)
		return 0;
	a = xmem_region_appl(cr);
	conn = xmem_appliance_conn_now(a);
	if (!conn) {
		ret = -ENOTCONN;
		goto out_put_appl;
	}
	/* Transfers in flight end within io_timeout; a kill ends the wait. */
	if (down_write_killable(&cr->io_lock)) {
		ret = -EINTR;
		goto out_put_conn;
	}
	if (hold) {
		req.flags = XMEM_ATTACH_F_SOLE;
		req.hold = get_random_u64() ?: 1;
		WRITE_ONCE(cr->hold, req.hold);
		ret = xmem_rdma_region(conn, &req, &wr);
		if (ret == -EPROTO)
			ret = -EOPNOTSUPP;
		/* A refusal changed nothing on the appliance. */
		if (ret && !xmem_region_unanswered(ret))
			WRITE_ONCE(cr->hold, 0);
	} else {
		xmem_region_forget_zeroes(&cr->r);
		req.flags = XMEM_ATTACH_F_READ;
		ret = xmem_rdma_region(conn, &req, &wr);
		if (!ret) {
			/* Given up on the appliance: a reattach must not ask. */
			WRITE_ONCE(cr->hold, 0);
			req.flags = 0;
			ret = xmem_rdma_region(conn, &req, &wr);
		}
	}
	if (!ret && (wr.region_id != cr->region_id ||
		     wr.size != cr->remote_size))
		ret = -ESTALE;
	if (!ret) {
		spin_lock(&dev->remote_lock);
		cr->addr = wr.addr;
		cr->rkey = wr.rkey;
		spin_unlock(&dev->remote_lock);
	}
	up_write(&cr->io_lock);
out_put_conn:
	xmem_rdma_put(conn);
out_put_appl:
	if (!ret)
		pr_info("region %s: %s\n", cr->r.name,
			hold ? "held alone from now on; other clients may not attach it" :
			"no longer held alone; other clients may attach it");
	else if (hold)
		pr_warn_ratelimited("region %s: holding it alone on appliance %s failed: %d%s\n",
				    cr->r.name, xmem_appliance_name(a), ret,
				    ret == -EBUSY ? " (another client has it attached)" :
				    READ_ONCE(cr->hold) ?
				    "; a reconnection asks for it again" : "");
	else
		pr_warn_ratelimited("region %s: ending its hold on appliance %s failed: %d%s\n",
				    cr->r.name, xmem_appliance_name(a), ret,
				    READ_ONCE(cr->hold) ? "; still held" :
				    "; no longer held, writes resume after a reconnection");
	xmem_appliance_put(a);
	return ret;
}

/**
 * xmem_region_call - one region operation on the appliance holding a region
 * @cr: the region
 * @req: the request
 * @wr: the answer
 *
 * Does not wait for a connection: none working now is -ENOTCONN.
 *
 * Context: process.
 * Return: 0 or a negative errno.
 */
int xmem_region_call(struct xmem_core_region *cr,
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

/**
 * xmem_name_call - one region operation on the pool member holding it
 * @req: the request; @req->name names the region
 * @wr: the answer
 *
 * Context: process.
 * Return: 0 or a negative errno, as xmem_remote_find().
 */
int xmem_name_call(const struct xmem_wire_region_req *req,
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

/**
 * xmem_regions_get - references to every region attached here
 * @dev: the device
 * @np: the number of regions returned
 *
 * For walks that call the appliance or write back: they must not hold
 * &xmem_device.lock meanwhile.  Regions that are dying are included; a
 * walk that changes a region checks @dying under its op_lock.
 *
 * Context: process; takes &xmem_device.lock.
 * Return: an array of *@np referenced regions for xmem_regions_put()
 * (NULL when there are none), or ERR_PTR(-ENOMEM).
 */
struct xmem_core_region **xmem_regions_get(struct xmem_device *dev,
					   unsigned int *np)
{
	struct xmem_core_region **crs = NULL, *cr;
	unsigned int n = 0, i = 0;

	mutex_lock(&dev->lock);
	list_for_each_entry(cr, &dev->regions, list)
		n++;
	if (n) {
		crs = kmalloc_array(n, sizeof(*crs), GFP_KERNEL);
		if (!crs) {
			mutex_unlock(&dev->lock);
			return ERR_PTR(-ENOMEM);
		}
	}
	list_for_each_entry(cr, &dev->regions, list) {
		xmem_region_get(&cr->r);
		crs[i++] = cr;
	}
	mutex_unlock(&dev->lock);
	*np = n;
	return crs;
}

/**
 * xmem_regions_put - drop what xmem_regions_get() returned
 * @crs: the array, or NULL
 * @n: its length
 *
 * Context: process.
 */
void xmem_regions_put(struct xmem_core_region **crs, unsigned int n)
{
	unsigned int i;

	for (i = 0; i < n; i++)
		xmem_region_put(&crs[i]->r);
	kfree(crs);
}

/**
 * xmem_region_claim - mark a region dying, for DETACH or DESTROY
 * @dev: the device
 * @cr: the region, listed, referenced by the caller
 * @idle: it must be neither open nor mapped
 * @what: the operation, for the log
 *
 * From here on opens of its node and ATTACH by name refuse it, so nothing
 * new maps or dirties it while it is written back and the appliance is
 * asked.  The check for users and the mark are made under one hold of
 * &xmem_device.lock, which the node's ->open and ATTACH take to take a
 * reference.  With @idle, the pager's own users that are still at work
 * (readahead, an evictor: a transfer each at most) are then waited for,
 * so that a region just unmapped can go at once.  Only the caller may
 * forget it then; it undoes the mark with xmem_region_unclaim() if it
 * keeps the region after all.
 *
 * Context: process; takes &xmem_device.lock; with @idle, may sleep
 * killably for up to io_timeout.
 * Return: 0; -ENOENT when another operation is taking it away; -EBUSY
 * when @idle and it is open or mapped, or still in use by the pager after
 * io_timeout; -EINTR if a fatal signal ended that wait.
 */
int xmem_region_claim(struct xmem_device *dev, struct xmem_core_region *cr,
		      bool idle, const char *what)
{
	unsigned int timeout = xmem_io_timeout();
	int ret = 0;

	mutex_lock(&dev->lock);
	if (cr->dying) {
		ret = -ENOENT;
	} else if (idle && (atomic_read(&cr->nr_files) ||
			    atomic_read(&cr->r.nr_vmas))) {
		pr_warn_ratelimited("%s %s: region is open or mapped\n", what,
				    cr->r.name);
		ret = -EBUSY;
	} else {
		WRITE_ONCE(cr->dying, true);
	}
	mutex_unlock(&dev->lock);
	if (ret || !idle)
		return ret;

	/* The list's reference and the caller's are left then. */
	ret = xmem_region_wait_refs(&cr->r, 2, timeout * HZ);
	if (ret) {
		if (ret == -EBUSY)
			pr_warn_ratelimited("%s %s: still in use by the pager after %u s (io_timeout)\n",
					    what, cr->r.name, timeout);
		xmem_region_unclaim(dev, cr);
	}
	return ret;
}

/**
 * xmem_region_unclaim - keep a region xmem_region_claim() marked
 * @dev: the device
 * @cr: the region
 *
 * Context: process; takes &xmem_device.lock.
 */
void xmem_region_unclaim(struct xmem_device *dev, struct xmem_core_region *cr)
{
	mutex_lock(&dev->lock);
	WRITE_ONCE(cr->dying, false);
	mutex_unlock(&dev->lock);
}

/**
 * xmem_region_pin - keep the module loaded: a write-back of @cr failed
 * @cr: the region
 *
 * The pages stay dirty in the cache, and only this module can write them
 * to the appliance.  Until they are (xmem_region_settle()) or the region
 * goes away, it holds a reference to the module, so rmmod is refused
 * ("in use") rather than dropping them, as a mounted file system keeps
 * its module loaded.  Idempotent.
 *
 * Context: any; takes the xa_lock of the region's portions.
 */
void xmem_region_pin(struct xmem_core_region *cr)
{
	bool pinned;

	xa_lock(&cr->r.portions);
	pinned = cr->wb_pinned;
	if (!pinned) {
		cr->wb_pinned = true;
		__module_get(THIS_MODULE);
	}
	xa_unlock(&cr->r.portions);
	if (!pinned)
		pr_warn_ratelimited("region %s: write-back failed; the module stays loaded until its dirty pages are written\n",
				    cr->r.name);
}

/**
 * xmem_region_settle - unpin a region that has nothing left to write
 * @cr: the region
 *
 * The pin of xmem_region_pin() goes when, at one instant, no page of the
 * region is dirty or under write-back.  A write-back that starts later
 * marks its pages WRITEBACK before it writes, under the same lock, so if
 * it fails it pins the region again.
 *
 * Context: any; takes the xa_lock of the region's portions.
 * Return: true if the region is not pinned (any more).
 */
bool xmem_region_settle(struct xmem_core_region *cr)
{
	struct xarray *xa = &cr->r.portions;
	bool put = false, pinned;

	xa_lock(xa);
	if (cr->wb_pinned && !xa_marked(xa, XMEM_MARK_DIRTY) &&
	    !xa_marked(xa, XMEM_MARK_WRITEBACK)) {
		cr->wb_pinned = false;
		put = true;
	}
	pinned = cr->wb_pinned;
	xa_unlock(xa);
	if (put) {
		pr_info("region %s: written back after a failed write-back\n",
			cr->r.name);
		module_put(THIS_MODULE);
	}
	return !pinned;
}

/**
 * xmem_forget_region - forget a region here
 * @dev: the device
 * @cr: the region, claimed by the caller, whose pages were dropped
 *
 * Removes its node, then takes it off the list.  The caller drops the
 * list's reference once it has released @cr->op_lock.
 *
 * Context: process; @cr->op_lock held, &xmem_device.lock not held
 * (misc_deregister() waits for opens of the node, which take it).
 */
void xmem_forget_region(struct xmem_device *dev,
			struct xmem_core_region *cr)
{
	lockdep_assert_held(&cr->op_lock);
	lockdep_assert_not_held(&dev->lock);
	xmem_node_del(cr);
	mutex_lock(&dev->lock);
	list_del(&cr->list);
	mutex_unlock(&dev->lock);
}

/**
 * xmem_quiesce_region - make a region attached here unused
 * @cr: the region
 * @what: the operation, for the log
 *
 * The caller claimed it idle (xmem_region_claim()): nothing binds or maps
 * it.  Its cached pages are written back and dropped.
 *
 * Context: process; @cr->op_lock held.  Waits for the appliance.
 * Return: 0, or -EIO when write-back failed.
 */
int xmem_quiesce_region(struct xmem_core_region *cr, const char *what)
{
	lockdep_assert_held(&cr->op_lock);
	if (xmem_region_sync(&cr->r, 0, cr->r.nr_pages - 1, NULL) ||
	    xmem_region_drop(&cr->r)) {
		pr_err_ratelimited("%s %s: write-back failed; nothing changed\n",
				   what, cr->r.name);
		return -EIO;
	}
	return 0;
}
