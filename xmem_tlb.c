// SPDX-License-Identifier: GPL-2.0
/*
 * xmem: write-protect, clean and unmap PTEs of the device's shared address
 * space (claims 18 and 19).
 *
 * Every open of /dev/xmem shares one address_space, so the kernel's
 * mapping helpers reach every PTE of a portion in every process with one
 * call: wp_shared_mapping_range() and clean_record_shared_mapping_range()
 * from mm/mapping_dirty_helpers.c, and unmap_mapping_pages().  Each of
 * them walks every VMA mapping the range and flushes the TLB once per VMA
 * in which it changed a PTE (per VMA and per walk, not once per batch), so
 * callers pass one range per batch: an eviction batch is one window of a
 * region (xmem_cache_pick()), cleaned and unmapped with one call each.
 *
 * The mappings are VM_PFNMAP: zapping a PTE drops its dirty bit silently.
 * Dirty state is therefore always recorded before a PTE is unmapped.
 */
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/fs.h>
#include <linux/mm.h>
#include <kunit/visibility.h>

#include "xmem_compat.h"
#include "xmem_tlb.h"

/**
 * xmem_tlb_clean() - record which PTEs of a range were dirty and clean them
 * @mapping: the device's address space, or NULL (nothing is mapped)
 * @first: first page offset of the range in @mapping
 * @nr: number of pages
 * @bitmap: @nr bits; bit i is set if page @first + i had a dirty PTE in
 *	any process.  Bits already set are left set.
 * @wp: also write-protect the PTEs that are writable but clean
 * @passes: out, the passes over the mapping that changed PTEs (0 to 2,
 *	0 or 1 without @wp): each flushed the TLB once per VMA in which it
 *	changed a PTE
 *
 * On return no PTE of the range is dirty and the TLB has been flushed;
 * with @wp none is writable either, so that a write to the range faults
 * and reaches ->pfn_mkwrite first.
 *
 * Context: process context; takes i_mmap_rwsem and page table locks, so
 * the caller holds neither.
 * Return: the number of dirty PTEs found.
 */
unsigned long xmem_tlb_clean(struct address_space *mapping, pgoff_t first,
			     pgoff_t nr, unsigned long *bitmap, bool wp,
			     unsigned int *passes)
{
	pgoff_t start = nr, end = 0;
	unsigned long dirty;

	*passes = 0;
	if (!mapping || !nr || !mapping_mapped(mapping))
		return 0;
	if (wp && wp_shared_mapping_range(mapping, first, nr))
		(*passes)++;
	dirty = clean_record_shared_mapping_range(mapping, first, nr, first,
						  bitmap, &start, &end);
	if (dirty)
		(*passes)++;
	return dirty;
}
EXPORT_SYMBOL_IF_KUNIT(xmem_tlb_clean);

/**
 * xmem_tlb_unmap() - remove every PTE of a range, in every process
 * @mapping: the device's address space, or NULL
 * @first: first page offset of the range in @mapping
 * @nr: number of pages
 *
 * The caller has recorded the range's dirty state with xmem_tlb_clean()
 * and keeps writers out (they wait in ->pfn_mkwrite or ->fault).
 *
 * Context: process context, as for xmem_tlb_clean().
 * Return: 1 if the mapping had VMAs, so that the pass may have flushed
 * the TLB once per VMA holding a PTE of the range, else 0.
 */
unsigned int xmem_tlb_unmap(struct address_space *mapping, pgoff_t first,
			    pgoff_t nr)
{
	if (!mapping || !nr || !mapping_mapped(mapping))
		return 0;
	unmap_mapping_pages(mapping, first, nr, false);
	return 1;
}
EXPORT_SYMBOL_IF_KUNIT(xmem_tlb_unmap);
