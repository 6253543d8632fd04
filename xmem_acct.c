// SPDX-License-Identifier: GPL-2.0
/*
 * xmem: allocator accounting.
 *
 * The module cannot see inside a user-space allocator that carves slabs out
 * of a region (libxmem does that in the process, without asking the
 * module), so the allocator tells it: XMEM_IOC_ACCOUNT on the file bound to
 * the region replaces that file's counters (slabs, bytes in use, bytes
 * reserved).  regions/<name>/alloc/ shows the sums over the region's open
 * files; a file's share vanishes when it is released, so the sums follow
 * the processes that use the region, and a process that dies leaves
 * nothing behind.
 *
 * The counters are what the allocator says: the module checks that they
 * are consistent, not that they are true.
 */
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <kunit/visibility.h>
#include <linux/kobject.h>
#include <linux/limits.h>
#include <linux/overflow.h>
#include <linux/spinlock.h>
#include <linux/string.h>
#include <linux/sysfs.h>
#include <linux/uaccess.h>

#include "xmem_acct.h"
#include "xmem_pager.h"
#include "xmem_wire.h"

/*
 * Protects xmem_acct_list and the @region and @val fields of every struct
 * xmem_acct.  Innermost: taken with no other lock, and nothing is taken
 * under it.
 */
static DEFINE_SPINLOCK(xmem_acct_lock);
/* Every struct xmem_acct that has reported (and not been released). */
static LIST_HEAD(xmem_acct_list);

/**
 * xmem_acct_check() - is a report consistent
 * @val: the report, as the caller gave it
 * @name: the region's name, for the log
 *
 * A report is refused if a reserved field is not zero, if more bytes are
 * in use than reserved, if more bytes are reserved than a region can have
 * (so that sums over files cannot overflow), or if there are more slabs
 * than reserved bytes (a slab holds at least one byte of the region).
 *
 * Context: any context.
 * Return: 0, or -EINVAL with a rate-limited log line saying why.
 */
VISIBLE_IF_KUNIT int xmem_acct_check(const struct xmem_account *val,
				     const char *name)
{
	const char *why;

	if (memchr_inv(val->reserved, 0, sizeof(val->reserved)))
		why = "reserved fields not zero";
	else if (val->bytes_reserved > XMEM_REGION_MAX_BYTES)
		why = "bytes_reserved above the largest region";
	else if (val->bytes_in_use > val->bytes_reserved)
		why = "bytes_in_use above bytes_reserved";
	else if (val->slabs > val->bytes_reserved)
		why = "more slabs than bytes_reserved";
	else
		return 0;
	pr_warn_ratelimited("region %s: ACCOUNT: %s\n", name, why);
	return -EINVAL;
}
EXPORT_SYMBOL_IF_KUNIT(xmem_acct_check);

/**
 * xmem_acct_set() - replace a file's contribution to a region's counters
 * @acct: the file's accounting state
 * @region: the region the file is bound to; must stay the same for
 *	@acct until xmem_acct_release()
 * @val: the new counters, checked with xmem_acct_check()
 *
 * Context: process context; takes xmem_acct_lock.
 */
VISIBLE_IF_KUNIT void xmem_acct_set(struct xmem_acct *acct,
				    struct xmem_region *region,
				    const struct xmem_account *val)
{
	spin_lock(&xmem_acct_lock);
	if (!acct->region) {
		acct->region = region;
		list_add_tail(&acct->node, &xmem_acct_list);
	}
	acct->val = *val;
	spin_unlock(&xmem_acct_lock);
}
EXPORT_SYMBOL_IF_KUNIT(xmem_acct_set);

static void xmem_acct_add(u64 *sum, u64 val)
{
	if (check_add_overflow(*sum, val, sum))
		*sum = U64_MAX;
}

/**
 * xmem_acct_sum() - a region's counters, summed over its open files
 * @region: the region
 * @sum: out, the sums (reserved fields zero)
 *
 * Each file's share is at most XMEM_REGION_MAX_BYTES, so the sums do not
 * overflow for fewer than 2^24 files; past that they stick at U64_MAX.
 *
 * Context: process context; takes xmem_acct_lock.
 */
VISIBLE_IF_KUNIT void xmem_acct_sum(const struct xmem_region *region,
				    struct xmem_account *sum)
{
	struct xmem_acct *acct;

	memset(sum, 0, sizeof(*sum));
	spin_lock(&xmem_acct_lock);
	list_for_each_entry(acct, &xmem_acct_list, node) {
		if (acct->region != region)
			continue;
		xmem_acct_add(&sum->slabs, acct->val.slabs);
		xmem_acct_add(&sum->bytes_in_use, acct->val.bytes_in_use);
		xmem_acct_add(&sum->bytes_reserved, acct->val.bytes_reserved);
	}
	spin_unlock(&xmem_acct_lock);
}
EXPORT_SYMBOL_IF_KUNIT(xmem_acct_sum);

/**
 * xmem_acct_ioctl() - XMEM_IOC_ACCOUNT
 * @acct: the file's accounting state
 * @region: the region the file is bound to, or NULL if it is not bound
 * @arg: user pointer to a struct xmem_account
 *
 * Replaces the file's contribution to @region's counters; nothing is
 * written back.  A refused report changes nothing.
 *
 * Context: process context.
 * Return: 0; -EFAULT; -EINVAL for an unbound file or an inconsistent
 * report (see xmem_acct_check()).
 */
long xmem_acct_ioctl(struct xmem_acct *acct, struct xmem_region *region,
		     void __user *arg)
{
	struct xmem_account val;
	int ret;

	if (copy_from_user(&val, arg, sizeof(val)))
		return -EFAULT;
	if (!region) {
		pr_warn_ratelimited("ACCOUNT: file not bound to a region\n");
		return -EINVAL;
	}
	ret = xmem_acct_check(&val, region->name);
	if (ret)
		return ret;
	xmem_acct_set(acct, region, &val);
	return 0;
}

/**
 * xmem_acct_release() - withdraw a file's contribution
 * @acct: the file's accounting state
 *
 * Call when the file is released, before its region reference is dropped.
 *
 * Context: process context; takes xmem_acct_lock.
 */
void xmem_acct_release(struct xmem_acct *acct)
{
	spin_lock(&xmem_acct_lock);
	if (acct->region) {
		list_del(&acct->node);
		acct->region = NULL;
	}
	spin_unlock(&xmem_acct_lock);
}
EXPORT_SYMBOL_IF_KUNIT(xmem_acct_release);

/* regions/<name>/alloc/ */

static ssize_t xmem_acct_show(struct kobject *kobj, char *buf,
			      size_t offset)
{
	struct xmem_account sum;

	xmem_acct_sum(xmem_kobj_region(kobj), &sum);
	return sysfs_emit(buf, "%llu\n", *(u64 *)((char *)&sum + offset));
}

static ssize_t slabs_show(struct kobject *kobj, struct kobj_attribute *attr,
			  char *buf)
{
	return xmem_acct_show(kobj, buf, offsetof(struct xmem_account, slabs));
}

static ssize_t bytes_in_use_show(struct kobject *kobj,
				 struct kobj_attribute *attr, char *buf)
{
	return xmem_acct_show(kobj, buf,
			      offsetof(struct xmem_account, bytes_in_use));
}

static ssize_t bytes_reserved_show(struct kobject *kobj,
				   struct kobj_attribute *attr, char *buf)
{
	return xmem_acct_show(kobj, buf,
			      offsetof(struct xmem_account, bytes_reserved));
}

static struct kobj_attribute xmem_acct_attr_slabs = __ATTR_RO(slabs);
static struct kobj_attribute xmem_acct_attr_bytes_in_use =
	__ATTR_RO(bytes_in_use);
static struct kobj_attribute xmem_acct_attr_bytes_reserved =
	__ATTR_RO(bytes_reserved);

static struct attribute *xmem_acct_attrs[] = {
	&xmem_acct_attr_slabs.attr,
	&xmem_acct_attr_bytes_in_use.attr,
	&xmem_acct_attr_bytes_reserved.attr,
	NULL,
};

/* regions/<name>/alloc/, for the groups given to xmem_region_sysfs_add() */
const struct attribute_group xmem_acct_group = {
	.name = "alloc",
	.attrs = xmem_acct_attrs,
};
