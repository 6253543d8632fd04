/* SPDX-License-Identifier: GPL-2.0 */
/*
 * xmem: the differences between the kernels xmem builds against (Debian's
 * 6.1 and 6.12 and the project's debug 6.12), in one place.  Features are
 * detected by Kbuild from the kernel's headers, not by version number.
 */
#ifndef XMEM_COMPAT_H
#define XMEM_COMPAT_H

#include <linux/mm.h>

#ifndef CONFIG_MAPPING_DIRTY_HELPERS
#error "xmem needs CONFIG_MAPPING_DIRTY_HELPERS (selected by e.g. DRM_VMWGFX)"
#endif

/* vm_flags became read-only with accessors in 6.3. */
static inline void xmem_vm_flags_set(struct vm_area_struct *vma,
				     vm_flags_t flags)
{
#ifdef XMEM_HAVE_VM_FLAGS_SET
	vm_flags_set(vma, flags);
#else
	vma->vm_flags |= flags;
#endif
}

#endif /* XMEM_COMPAT_H */
