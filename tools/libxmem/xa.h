/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * libxmem internals shared by the allocator (alloc.c) and the LD_PRELOAD
 * front end (preload.c).  Nothing here is exported from the libraries.
 */
#ifndef XA_H
#define XA_H

#include <stddef.h>
#include <stdint.h>

#include "xmem_alloc.h"

#define XA_HIDDEN __attribute__((visibility("hidden")))

XA_HIDDEN void *xa_malloc(size_t size);
XA_HIDDEN void *xa_calloc(size_t nmemb, size_t size);
XA_HIDDEN void *xa_realloc(void *ptr, size_t size);
XA_HIDDEN void xa_free(void *ptr);
XA_HIDDEN void *xa_memalign(size_t alignment, size_t size);
XA_HIDDEN size_t xa_usable_size(const void *ptr);
XA_HIDDEN void *xa_mmap(size_t length);
XA_HIDDEN int xa_munmap(void *addr, size_t length);
/* mremap() of a heap slab: MREMAP_MAYMOVE honoured; NULL + errno. */
XA_HIDDEN void *xa_mremap(void *old, size_t old_len, size_t new_len,
			  int flags);
XA_HIDDEN int xa_owns(const void *ptr);
/* A XMEM_FORK=share child: the heap belongs to the parent. */
XA_HIDDEN int xa_frozen(void);
/* The heap is on local memory (no region, or a forked child's copy). */
XA_HIDDEN int xa_local_only(void);
/* Sets the heap up; 0 or -errno.  Safe to call again. */
XA_HIDDEN int xa_init(void);
/* True while xa_init() runs in this thread (bootstrap allocations). */
XA_HIDDEN int xa_in_init(void);
/* Register fork handlers and the thread-exit hook (once). */
XA_HIDDEN void xa_setup_process(void);

/* Small helpers that allocate nothing (usable before and during init). */
XA_HIDDEN void xa_puts(int fd, const char *s);
XA_HIDDEN char *xa_fmt_u64(char *buf, uint64_t v);
XA_HIDDEN uint64_t xa_env_bytes(const char *name, uint64_t def);

#endif /* XA_H */
