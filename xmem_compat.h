/* SPDX-License-Identifier: GPL-2.0 */
/*
 * xmem: the differences between the kernels xmem builds against (Debian's
 * 6.1 and 6.12 and the project's debug 6.12), in one place.  Features are
 * detected by Kbuild from the kernel's headers, not by version number.
 */
#ifndef XMEM_COMPAT_H
#define XMEM_COMPAT_H

#include <linux/mm.h>
#include <linux/shrinker.h>
#include <linux/slab.h>

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

/*
 * Faults may run under the VMA's own lock instead of mmap_lock from 6.4;
 * release_fault_lock() releases whichever the fault holds.
 */
#ifndef XMEM_HAVE_RELEASE_FAULT_LOCK
static inline void release_fault_lock(struct vm_fault *vmf)
{
	mmap_read_unlock(vmf->vma->vm_mm);
}
#endif

/*
 * Shrinkers are allocated by the core, with a private pointer, from 6.7;
 * before that the caller embeds and registers them.
 */
#ifdef XMEM_HAVE_SHRINKER_ALLOC
static inline struct shrinker *xmem_shrinker_alloc(const char *name,
						   void *priv)
{
	struct shrinker *s = shrinker_alloc(0, "%s", name);

	if (s)
		s->private_data = priv;
	return s;
}

static inline int xmem_shrinker_register(struct shrinker *s,
					 const char *name)
{
	shrinker_register(s);
	return 0;
}

static inline void xmem_shrinker_free(struct shrinker *s)
{
	shrinker_free(s);
}

static inline void *xmem_shrinker_priv(struct shrinker *s)
{
	return s->private_data;
}
#else
struct xmem_shrinker {
	struct shrinker s;
	void *priv;
};

static inline struct shrinker *xmem_shrinker_alloc(const char *name,
						   void *priv)
{
	struct xmem_shrinker *xs = kzalloc(sizeof(*xs), GFP_KERNEL);

	if (!xs)
		return NULL;
	xs->s.seeks = DEFAULT_SEEKS;
	xs->priv = priv;
	return &xs->s;
}

static inline int xmem_shrinker_register(struct shrinker *s,
					 const char *name)
{
	int ret = register_shrinker(s, "%s", name);

	if (ret)
		kfree(container_of(s, struct xmem_shrinker, s));
	return ret;
}

static inline void xmem_shrinker_free(struct shrinker *s)
{
	unregister_shrinker(s);
	kfree(container_of(s, struct xmem_shrinker, s));
}

static inline void *xmem_shrinker_priv(struct shrinker *s)
{
	return container_of(s, struct xmem_shrinker, s)->priv;
}
#endif

#endif /* XMEM_COMPAT_H */
