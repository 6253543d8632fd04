// SPDX-License-Identifier: GPL-2.0
/*
 * xmem: the file operations and ioctls of /dev/xmem and of the region
 * nodes /dev/xmem.d/NAME.
 */
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/fs.h>
#include <linux/module.h>
#include <linux/slab.h>
#include <linux/uaccess.h>

#include "xmem_appliance.h"
#include "xmem_compat.h"
#include "xmem_core.h"
#include "xmem_rdma.h"
#include "xmem_wire.h"

/* LIST cursors: pool member index above the appliance's region id. */
#define XMEM_CURSOR_SHIFT	56
#define XMEM_CURSOR_ID_MASK	(BIT_ULL(XMEM_CURSOR_SHIFT) - 1)

static int xmem_open(struct inode *inode, struct file *file)
{
	struct miscdevice *misc = file->private_data;
	struct xmem_core_region *cr = NULL;
	struct xmem_file *xf;
	int ret;

	xf = kzalloc(sizeof(*xf), GFP_KERNEL);
	if (!xf)
		return -ENOMEM;
	mutex_init(&xf->lock);
	/*
	 * A region's node: the region is listed until the node goes, which
	 * waits for this open (misc_mtx).  One that DETACH or DESTROY has
	 * claimed is refused: it would be forgotten with what is written.
	 */
	if (misc != &xmem_dev.misc) {
		cr = container_of(misc, struct xmem_core_region, node);
		ret = 0;
		mutex_lock(&xmem_dev.lock);
		if (cr->dying)
			ret = -ENODEV;
		else if (cr->temp)
			ret = -EBUSY;	/* no node is made for one */
		else if (!xmem_may_attach(cr))
			ret = -EACCES;
		if (!ret) {
			xmem_region_get(&cr->r);
			atomic_inc(&cr->nr_files);
		}
		mutex_unlock(&xmem_dev.lock);
		if (ret) {
			if (ret == -EACCES)
				pr_warn_ratelimited("region %s: %s[%d] may not open /dev/%s\n",
						    cr->r.name, current->comm,
						    task_pid_nr(current),
						    cr->node_path);
			mutex_destroy(&xf->lock);
			kfree(xf);
			return ret;
		}
		xf->wb_since = xmem_region_wb_sample(&cr->r);
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
	bool temp = xf->region && xf->region->temp;

	xmem_acct_release(&xf->acct);
	/*
	 * Dirty pages stay cached; they are written back on eviction.  A
	 * temporary region's only file is gone: it is destroyed, once this
	 * reference is dropped (the list's keeps it meanwhile).
	 */
	if (temp)
		xmem_temp_release(xf->region);
	if (xf->region) {
		atomic_dec(&xf->region->nr_files);
		xmem_region_put(&xf->region->r);
	}
	if (temp)
		xmem_temp_kick();
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
			      XMEM_ATTACH_MODE | XMEM_ATTACH_SOLE))
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

/*
 * Take (ATTACH with SOLE of a region attached here) or end (DETACH with
 * XMEM_DETACH_HOLD) the hold on @cr: its op_lock keeps a DETACH or
 * DESTROY, a move and another change of the hold away meanwhile.
 */
static int xmem_ioctl_set_hold(struct xmem_core_region *cr, bool hold)
{
	int ret;

	if (mutex_lock_killable(&cr->op_lock))
		return -EINTR;
	/*
	 * A DETACH or DESTROY that ended it meanwhile: asking the appliance
	 * now would attach it there again, for nobody.
	 */
	if (READ_ONCE(cr->dying))
		ret = -ENOENT;
	else
		ret = xmem_region_set_hold(&xmem_dev, cr, hold);
	mutex_unlock(&cr->op_lock);
	return ret;
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
	cr = xmem_attach_region(&xmem_dev, &a, false);
	if (IS_ERR(cr)) {
		ret = PTR_ERR(cr);
		pr_warn_ratelimited("ATTACH %s: %ld\n", a.name, ret);
		goto out;
	}
	/* Attached here already, without a hold: take one. */
	if ((a.flags & XMEM_ATTACH_SOLE) && !READ_ONCE(cr->hold)) {
		ret = xmem_ioctl_set_hold(cr, true);
		if (ret) {
			xmem_region_put(&cr->r);
			goto out;
		}
	}
	a.size = (u64)cr->r.nr_pages << PAGE_SHIFT;
	a.region_id = cr->region_id;
	if (copy_to_user(arg, &a, sizeof(a))) {
		xmem_region_put(&cr->r);
		ret = -EFAULT;
		goto out;
	}
	xf->wb_since = xmem_region_wb_sample(&cr->r);
	atomic_inc(&cr->nr_files);
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

static int xmem_check_region_op(const char *what, struct xmem_region_op *op,
				bool resize, u32 flags_ok)
{
	const char *why;

	if (op->reserved || op->reserved2[0] || op->reserved2[1])
		why = "reserved fields not zero";
	else if (op->flags & ~flags_ok)
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

/*
 * A region attached here by name, referenced, or NULL.  One that DETACH or
 * DESTROY is taking away is ERR_PTR(-ENOENT): it is not attached any more.
 */
static struct xmem_core_region *xmem_get_region(struct xmem_device *dev,
						const char *name)
{
	struct xmem_core_region *cr;

	mutex_lock(&dev->lock);
	cr = xmem_lookup_region(dev, name);
	if (cr && cr->dying)
		cr = ERR_PTR(-ENOENT);
	else if (cr)
		xmem_region_get(&cr->r);
	mutex_unlock(&dev->lock);
	return cr;
}

/*
 * End a claimed region's life here: forget it and drop the list's
 * reference and the caller's, after its op_lock is released.
 */
static void xmem_end_region(struct xmem_device *dev,
			    struct xmem_core_region *cr)
{
	xmem_forget_region(dev, cr);
	mutex_unlock(&cr->op_lock);
	xmem_region_put(&cr->r);	/* the list's */
	xmem_region_put(&cr->r);	/* the caller's */
}

/*
 * DETACH with XMEM_DETACH_HOLD: the region stays attached; only its hold
 * on the appliance ends, so that another client may attach it.
 */
static long xmem_ioctl_end_hold(struct xmem_region_op *op, void __user *arg)
{
	struct xmem_device *dev = &xmem_dev;
	struct xmem_core_region *cr;
	int ret;

	cr = xmem_get_region(dev, op->name);
	if (IS_ERR_OR_NULL(cr))
		return cr ? PTR_ERR(cr) : -ENOENT;
	if (!xmem_may_attach(cr)) {
		ret = -EACCES;
		goto out_put;
	}
	ret = xmem_ioctl_set_hold(cr, false);
	op->size = (u64)READ_ONCE(cr->r.nr_pages) << PAGE_SHIFT;
	op->region_id = cr->region_id;
	if (!ret && copy_to_user(arg, op, sizeof(*op)))
		ret = -EFAULT;
out_put:
	xmem_region_put(&cr->r);
	return ret;
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
	ret = xmem_check_region_op("DETACH", &op, false,
				   XMEM_DETACH_HOLD);
	if (ret)
		return ret;
	if (op.flags & XMEM_DETACH_HOLD)
		return xmem_ioctl_end_hold(&op, arg);

	cr = xmem_get_region(dev, op.name);
	if (IS_ERR_OR_NULL(cr))
		return cr ? PTR_ERR(cr) : -ENOENT;
	if (!xmem_may_attach(cr)) {
		ret = -EACCES;
		goto out_put;
	}
	/* From here on its node and ATTACH refuse it. */
	ret = xmem_region_claim(dev, cr, true, "DETACH");
	if (ret)
		goto out_put;
	if (mutex_lock_killable(&cr->op_lock)) {
		ret = -EINTR;
		goto out_unclaim;
	}
	ret = xmem_quiesce_region(cr, "DETACH");
	if (ret)
		goto out_unlock;
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
	xmem_end_region(dev, cr);
	return copy_to_user(arg, &op, sizeof(op)) ? -EFAULT : 0;

out_unlock:
	mutex_unlock(&cr->op_lock);
out_unclaim:
	xmem_region_unclaim(dev, cr);
out_put:
	xmem_region_put(&cr->r);
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
	ret = xmem_check_region_op("RESIZE", &op, true,
				   XMEM_RESIZE_WRITEBACK);
	if (ret)
		return ret;
	req.name = op.name;
	req.size = op.size;
	nr = op.size >> PAGE_SHIFT;

	cr = xmem_get_region(dev, op.name);
	if (IS_ERR(cr)) {
		ret = PTR_ERR(cr);
		goto out;
	}
	if (!cr) {
		/* Not attached here: only the appliance's copy changes. */
		ret = xmem_name_call(&req, &wr);
		goto done;
	}
	if (!xmem_may_admin(cr)) {
		ret = -EACCES;
		goto out_put;
	}
	if (mutex_lock_killable(&cr->op_lock)) {
		ret = -EINTR;
		goto out_put;
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
			goto out_unlock;
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
		goto out_unlock;
	}
	/* A grow is published once the appliance has the memory. */
	if (!shrink)
		xmem_region_resize(&cr->r, nr, false);
	pr_info("region %s: resized from %llu to %llu bytes\n", op.name,
		(u64)old << PAGE_SHIFT, op.size);
out_unlock:
	mutex_unlock(&cr->op_lock);
out_put:
	xmem_region_put(&cr->r);
done:
	if (!ret)
		op.region_id = wr.region_id;
out:
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
	ret = xmem_check_region_op("DESTROY", &op, false, 0);
	if (ret)
		return ret;
	req.name = op.name;

	cr = xmem_get_region(dev, op.name);
	if (IS_ERR(cr)) {
		ret = PTR_ERR(cr);
		goto out;
	}
	if (!cr) {
		/* Not attached here: only the appliance's copy goes. */
		ret = xmem_name_call(&req, &wr);
		if (!ret)
			goto done;
		goto out;
	}
	if (!xmem_may_admin(cr)) {
		ret = -EACCES;
		goto out_put;
	}
	spin_lock(&dev->remote_lock);
	lost = cr->lost;
	spin_unlock(&dev->remote_lock);
	/*
	 * From here on its node and ATTACH refuse it.  A lost region may be
	 * destroyed on the appliance while still mapped here; it stays.
	 */
	ret = xmem_region_claim(dev, cr, !lost, "DESTROY");
	if (ret)
		goto out_put;
	if (mutex_lock_killable(&cr->op_lock)) {
		ret = -EINTR;
		goto out_unclaim;
	}
	/* Pages of a lost region cannot be written back: drop them. */
	ret = lost ? 0 : xmem_quiesce_region(cr, "DESTROY");
	if (ret)
		goto out_unlock;
	ret = xmem_region_call(cr, &req, &wr);
	if (ret == -ENOENT && lost)
		ret = 0;
	if (!ret && lost && kref_read(&cr->r.ref) > 2)
		ret = -EBUSY;	/* the list's and ours */
	if (ret)
		goto out_unlock;
	xmem_end_region(dev, cr);
done:
	op.size = wr.size;
	op.region_id = wr.region_id;
	pr_info("region %s: destroyed\n", op.name);
	return copy_to_user(arg, &op, sizeof(op)) ? -EFAULT : 0;

out_unlock:
	mutex_unlock(&cr->op_lock);
out_unclaim:
	xmem_region_unclaim(dev, cr);
out_put:
	xmem_region_put(&cr->r);
out:
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
		if (READ_ONCE(cr->hold))
			e->flags |= XMEM_ENTRY_HELD;
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
	case XMEM_IOC_SNAPSHOT:
		return xmem_ioctl_snapshot(xf, uarg);
	case XMEM_IOC_GRANT:
		return xmem_ioctl_grant(uarg);
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
	/*
	 * MAP_SHARED of a file opened read-only has VM_MAYSHARE but not
	 * VM_SHARED (nor VM_MAYWRITE, so it can never become writable);
	 * private (copy-on-write) mappings of PFNs are refused.
	 */
	if (!(vma->vm_flags & VM_MAYSHARE)) {
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
	xmem_region_mapped(&cr->r);
	return 0;

err_put:
	xmem_region_put(&cr->r);
	return -EINVAL;
}

static int xmem_fsync(struct file *file, loff_t start, loff_t end,
		      int datasync)
{
	struct xmem_file *xf = file->private_data;
	struct xmem_core_region *cr = xmem_file_region(xf);
	pgoff_t first, last, base;
	int ret;

	if (!cr)
		return 0;
	/* Offsets are in the shared address space; clamp to the window. */
	base = cr->r.base;
	first = max_t(pgoff_t, start >> PAGE_SHIFT, base);
	last = min_t(pgoff_t, end >> PAGE_SHIFT, base + cr->r.nr_pages - 1);
	ret = first <= last ? xmem_region_sync(&cr->r, first - base,
					       last - base, &xf->wb_since) : 0;
	/* Dirty pages a failed write-back left may all be written now. */
	if (!ret)
		xmem_region_settle(cr);
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

const struct file_operations xmem_fops = {
	.owner = THIS_MODULE,
	.open = xmem_open,
	.release = xmem_release,
	.unlocked_ioctl = xmem_ioctl,
	.compat_ioctl = compat_ptr_ioctl,
	.mmap = xmem_mmap,
	.fsync = xmem_fsync,
	.llseek = xmem_llseek,
};
