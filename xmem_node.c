// SPDX-License-Identifier: GPL-2.0
/*
 * xmem: /dev/xmem.d/NAME, a misc device per attached region.
 */
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/miscdevice.h>
#include <linux/printk.h>

#include "xmem_core.h"

/**
 * xmem_node_add - register /dev/xmem.d/NAME for a region
 * @cr: the region
 *
 * The node is for programs that only take a file name (QEMU's
 * memory-backend-file, Python's mmap).  Opening it gives a file bound to the
 * region, as ATTACH does on /dev/xmem; it is 0600 like /dev/xmem (the udev
 * rule grants the same group) and the region's own mode is checked at open.
 * Without a node (registration failed) the region still works through
 * /dev/xmem.  Called before the region is listed, so that no DETACH or
 * DESTROY can remove the node before it is there.
 *
 * Context: process; &xmem_device.attach_lock held, &xmem_device.lock not
 * held: misc_register() takes misc_mtx, under which the node's ->open
 * takes &xmem_device.lock.
 */
void xmem_node_add(struct xmem_core_region *cr)
{
	int ret;

	lockdep_assert_held(&xmem_dev.attach_lock);
	lockdep_assert_not_held(&xmem_dev.lock);
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

/**
 * xmem_node_del - remove a region's node
 * @cr: the region
 *
 * No open of the node is in progress on return: misc_open() calls ->open
 * under the lock misc_deregister() takes; one that started before the
 * region was claimed dying holds a reference, one after it is refused.
 *
 * Context: process; the caller owns the region's end (it claimed it, or
 * the module is unloading); &xmem_device.lock not held, see
 * xmem_node_add().
 */
void xmem_node_del(struct xmem_core_region *cr)
{
	lockdep_assert_not_held(&xmem_dev.lock);
	if (!cr->node_added)
		return;
	misc_deregister(&cr->node);
	cr->node_added = false;
}
