/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * libxmem: malloc-style allocation from external memory (/dev/xmem).
 *
 * The first call opens /dev/xmem, creates a region on the appliance and
 * maps it; allocations are then carved out of it on the client.  Every
 * function is thread-safe.  Failure is reported, never fatal: the
 * allocation functions return NULL (xmem_mmap: NULL too) with errno set,
 * usually ENOMEM.  Freeing a pointer twice, or one that libxmem did not
 * return, is a program bug: libxmem reports it on stderr and aborts when
 * it detects it (see Documentation/libxmem.rst for when it does).
 *
 * Environment variables (read once, at the first call): XMEM_REGION,
 * XMEM_RESERVE, XMEM_GROW, XMEM_MAX, XMEM_TRIM, XMEM_FALLBACK,
 * XMEM_BACKEND, XMEM_DEVICE, XMEM_FORK, XMEM_STATS, XMEM_LEAK_CHECK.
 */
#ifndef XMEM_ALLOC_H
#define XMEM_ALLOC_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#ifdef __cplusplus
extern "C" {
#endif

void *xmem_malloc(size_t size);
void *xmem_calloc(size_t nmemb, size_t size);
void *xmem_realloc(void *ptr, size_t size);
void xmem_free(void *ptr);
/* @alignment: a power of two; EINVAL otherwise. */
void *xmem_aligned_alloc(size_t alignment, size_t size);
/* Returns 0 or an errno value (EINVAL, ENOMEM), like posix_memalign(). */
int xmem_posix_memalign(void **memptr, size_t alignment, size_t size);
/* Bytes usable at @ptr (at least what was asked for); 0 for NULL. */
size_t xmem_usable_size(const void *ptr);

/*
 * Page-granular slabs: @length bytes rounded up to pages, page aligned,
 * zero-filled, read-write.  xmem_munmap() takes any page-aligned part of
 * a slab (like munmap()); it returns 0, or -1 with errno EINVAL.
 */
void *xmem_mmap(size_t length);
int xmem_munmap(void *addr, size_t length);

/* 1 if @ptr lies in libxmem's heap (allocated or not), else 0. */
int xmem_owns(const void *ptr);

/*
 * Fork view (fork with a snapshot): the appliance copies region @name
 * into a new region @snap (this client's writers of @name are held for
 * the write-back and the copy), then fork(); the child maps @snap over
 * [@addr, @addr + @len), where the caller maps @name (MAP_SHARED from
 * offset 0), so it sees the region as it was, while the parent goes on
 * with the live region.  Returns as fork(): the child's pid, 0 in the
 * child, or -1 with errno (as XMEM_IOC_SNAPSHOT's: EEXIST if @snap
 * exists, ENOSPC, ...; or fork's), with no child.  A child that cannot
 * map @snap exits with status 127.  @snap stays on the appliance: destroy
 * it once the child is done (after waitpid()).
 */
pid_t xmem_fork_snapshot(const char *name, void *addr, size_t len,
			 const char *snap);

/**
 * struct xmem_alloc_stats - what the heap holds, at one instant
 * @region_bytes: size of the appliance region (0 if none)
 * @reserved_bytes: bytes of the heap backed by the region or by local
 *	fallback memory (the heap's mapped extent)
 * @local_bytes: part of @reserved_bytes that is local fallback memory
 * @slabs: slabs carved from the heap and in use (small-object slabs,
 *	large allocations and xmem_mmap() slabs)
 * @slab_bytes: bytes of those slabs
 * @in_use_bytes: bytes handed out to callers, rounded up to the size
 *	class (small) or to pages (large, xmem_mmap())
 * @in_use_objects: live allocations
 * @high_water_bytes: the heap's highest used offset so far
 * @grows: times the region grew, @shrinks: times it shrank
 * @released_bytes: bytes of free slabs handed back (see the docs)
 * @backend: "xmem", "anon" (test backend) or "local"
 * @region: the region's name, empty without one
 */
struct xmem_alloc_stats {
	uint64_t region_bytes;
	uint64_t reserved_bytes;
	uint64_t local_bytes;
	uint64_t slabs;
	uint64_t slab_bytes;
	uint64_t in_use_bytes;
	uint64_t in_use_objects;
	uint64_t high_water_bytes;
	uint64_t grows;
	uint64_t shrinks;
	uint64_t released_bytes;
	char backend[8];
	char region[64];
};

/*
 * 0, or -1 with errno (ENODEV: the heap could not be set up).  Also
 * sends the counters to the module (regions/<name>/alloc/ in sysfs).
 */
int xmem_alloc_stats(struct xmem_alloc_stats *st);
/* Writes the counters as "libxmem: key value" lines to @fd. */
void xmem_alloc_print_stats(int fd);
/* Reports live allocations on @fd; returns how many there are. */
uint64_t xmem_leak_check(int fd);
/* Sets the heap up now: 0, or -1 with errno.  Optional. */
int xmem_alloc_init(void);

#ifdef __cplusplus
}
#endif

#endif /* XMEM_ALLOC_H */
