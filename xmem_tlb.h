/* SPDX-License-Identifier: GPL-2.0 */
/*
 * xmem: the PTE side of eviction and write-back, on the device's shared
 * address space.
 */
#ifndef XMEM_TLB_H
#define XMEM_TLB_H

#include <linux/types.h>

struct address_space;

unsigned long xmem_tlb_clean(struct address_space *mapping, pgoff_t first,
			     pgoff_t nr, unsigned long *bitmap, bool wp,
			     unsigned int *passes);
unsigned int xmem_tlb_unmap(struct address_space *mapping, pgoff_t first,
			    pgoff_t nr);

#endif /* XMEM_TLB_H */
