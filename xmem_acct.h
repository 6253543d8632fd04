/* SPDX-License-Identifier: GPL-2.0 */
/*
 * xmem: allocator accounting.  A user-space allocator that carves a region
 * into slabs (libxmem) reports its counters with XMEM_IOC_ACCOUNT on the
 * file it bound to the region; regions/<name>/alloc/ shows their sums over
 * the region's open files.
 */
#ifndef _XMEM_ACCT_H
#define _XMEM_ACCT_H

#include <linux/list.h>
#include <linux/types.h>

#include "uapi/xmem.h"

struct attribute_group;
struct xmem_region;

/**
 * struct xmem_acct - one open file's contribution to its region's counters
 * @node: entry in the list of reporting files, under xmem_acct_lock
 * @region: the region the counters belong to, NULL until the first
 *	report; under xmem_acct_lock
 * @val: the last report; under xmem_acct_lock
 *
 * Embedded in the open file's state, zero-initialised; needs no set-up.
 */
struct xmem_acct {
	struct list_head node;
	struct xmem_region *region;
	struct xmem_account val;
};

long xmem_acct_ioctl(struct xmem_acct *acct, struct xmem_region *region,
		     void __user *arg);
void xmem_acct_release(struct xmem_acct *acct);

extern const struct attribute_group xmem_acct_group;

#if IS_ENABLED(CONFIG_KUNIT)
int xmem_acct_check(const struct xmem_account *val, const char *name);
void xmem_acct_set(struct xmem_acct *acct, struct xmem_region *region,
		   const struct xmem_account *val);
void xmem_acct_sum(const struct xmem_region *region, struct xmem_account *sum);
#endif

#endif /* _XMEM_ACCT_H */
