// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * libxmem-preload.so: the C allocator of an unmodified, dynamically linked
 * program, and its large anonymous private mmap()s, on external memory.
 *
 *	LD_PRELOAD=/xmem/lib/libxmem-preload.so program ...
 *
 * Everything is served by the allocator of alloc.c.  What it does not own
 * goes to the next definition (libc): frees of pointers libxmem did not
 * hand out, mmap()s below XMEM_MMAP_THRESHOLD or of any other kind.
 *
 * Bootstrap: setting the heap up, and dlsym() finding libc's functions,
 * may themselves call malloc(); those calls, made from inside libxmem,
 * are served from a static buffer and never freed.
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <malloc.h>
#include <sched.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "xa.h"

#define EXPORT __attribute__((visibility("default")))

/* The bootstrap buffer: a bump allocator, 16-byte aligned. */
#define BOOT_SIZE	(256 * 1024)
static char boot_buf[BOOT_SIZE] __attribute__((aligned(64)));
static _Atomic size_t boot_used;

static __thread int resolving __attribute__((tls_model("initial-exec")));

static void *(*real_malloc)(size_t);
static void (*real_free)(void *);
static void *(*real_realloc)(void *, size_t);
static size_t (*real_usable)(void *);
static _Atomic int real_state;	/* 0 no, 1 resolving, 2 done */

static size_t mmap_threshold = 128 * 1024;
static bool fail_policy;
static _Atomic int knobs_read;

static bool is_boot(const void *p)
{
	return (const char *)p >= boot_buf && (const char *)p < boot_buf + BOOT_SIZE;
}

static void *boot_alloc(size_t size, size_t align)
{
	size_t need, old, start;

	if (align < 16)
		align = 16;
	need = (size + 15) & ~(size_t)15;
	old = atomic_load(&boot_used);
	do {
		start = (old + 16 + align - 1) & ~(align - 1);
		if (start + need > BOOT_SIZE) {
			errno = ENOMEM;
			return NULL;
		}
	} while (!atomic_compare_exchange_weak(&boot_used, &old, start + need));
	*(size_t *)(boot_buf + start - 16) = size;
	return boot_buf + start;	/* static storage: already zero */
}

static size_t boot_size(const void *p)
{
	return *(const size_t *)((const char *)p - 16);
}

/* In libxmem's own set-up, where malloc() must not recurse into it. */
static inline bool bootstrapping(void)
{
	return resolving || xa_in_init();
}

static void resolve_real(void)
{
	int expect = 0;

	if (atomic_load_explicit(&real_state, memory_order_acquire) == 2)
		return;
	if (!atomic_compare_exchange_strong(&real_state, &expect, 1)) {
		while (atomic_load(&real_state) != 2 && !resolving)
			sched_yield();
		return;
	}
	resolving = 1;
	real_malloc = dlsym(RTLD_NEXT, "malloc");
	real_free = dlsym(RTLD_NEXT, "free");
	real_realloc = dlsym(RTLD_NEXT, "realloc");
	real_usable = dlsym(RTLD_NEXT, "malloc_usable_size");
	resolving = 0;
	atomic_store_explicit(&real_state, 2, memory_order_release);
}

static void read_knobs(void)
{
	if (atomic_load_explicit(&knobs_read, memory_order_acquire))
		return;
	mmap_threshold = xa_env_bytes("XMEM_MMAP_THRESHOLD", 128 * 1024);
	{
		const char *s = getenv("XMEM_FALLBACK");

		fail_policy = s && !strcmp(s, "fail");
	}
	atomic_store_explicit(&knobs_read, 1, memory_order_release);
}

/* A child of XMEM_FORK=share: new memory comes from libc. */
static void *child_malloc(size_t size)
{
	resolve_real();
	return real_malloc ? real_malloc(size) : NULL;
}

EXPORT void *malloc(size_t size)
{
	void *p;

	if (__builtin_expect(bootstrapping(), 0))
		return boot_alloc(size, 16);
	p = xa_malloc(size);
	if (__builtin_expect(!p && xa_frozen(), 0))
		return child_malloc(size);
	return p;
}

EXPORT void free(void *ptr)
{
	if (!ptr || is_boot(ptr))
		return;
	if (xa_owns(ptr)) {
		xa_free(ptr);
		return;
	}
	resolve_real();
	if (real_free)
		real_free(ptr);
}

EXPORT void *calloc(size_t nmemb, size_t size)
{
	void *p;

	if (__builtin_expect(bootstrapping(), 0)) {
		size_t n;

		if (__builtin_mul_overflow(nmemb, size, &n)) {
			errno = ENOMEM;
			return NULL;
		}
		return boot_alloc(n, 16);
	}
	p = xa_calloc(nmemb, size);
	if (__builtin_expect(!p && xa_frozen(), 0)) {
		size_t n;

		if (__builtin_mul_overflow(nmemb, size, &n)) {
			errno = ENOMEM;
			return NULL;
		}
		p = child_malloc(n);
		if (p)
			memset(p, 0, n);
	}
	return p;
}

EXPORT void *realloc(void *ptr, size_t size)
{
	void *p;

	if (!ptr)
		return malloc(size);
	if (is_boot(ptr)) {
		size_t old = boot_size(ptr);

		p = malloc(size);
		if (p)
			memcpy(p, ptr, old < size ? old : size);
		return p;
	}
	if (xa_owns(ptr)) {
		if (__builtin_expect(xa_frozen(), 0)) {
			size_t old = xa_usable_size(ptr);

			p = child_malloc(size);
			if (p)
				memcpy(p, ptr, old < size ? old : size);
			return p;
		}
		return xa_realloc(ptr, size);
	}
	resolve_real();
	if (!real_realloc) {
		errno = ENOMEM;
		return NULL;
	}
	return real_realloc(ptr, size);
}

EXPORT void *reallocarray(void *ptr, size_t nmemb, size_t size)
{
	size_t n;

	if (__builtin_mul_overflow(nmemb, size, &n)) {
		errno = ENOMEM;
		return NULL;
	}
	return realloc(ptr, n);
}

static void *aligned(size_t align, size_t size)
{
	if (__builtin_expect(bootstrapping(), 0))
		return boot_alloc(size, align);
	return xa_memalign(align, size);
}

EXPORT int posix_memalign(void **memptr, size_t align, size_t size)
{
	int saved = errno;
	void *p;

	if (!align || (align & (align - 1)) || align % sizeof(void *))
		return EINVAL;
	p = aligned(align, size);
	if (!p) {
		int err = errno;

		errno = saved;
		return err ? err : ENOMEM;
	}
	*memptr = p;
	return 0;
}

EXPORT void *aligned_alloc(size_t align, size_t size)
{
	return aligned(align, size);
}

EXPORT void *memalign(size_t align, size_t size)
{
	return aligned(align, size);
}

EXPORT void *valloc(size_t size)
{
	return aligned(sysconf(_SC_PAGESIZE), size);
}

EXPORT void *pvalloc(size_t size)
{
	size_t pg = sysconf(_SC_PAGESIZE);

	return aligned(pg, (size + pg - 1) & ~(pg - 1));
}

EXPORT size_t malloc_usable_size(void *ptr)
{
	if (!ptr)
		return 0;
	if (is_boot(ptr))
		return boot_size(ptr);
	if (xa_owns(ptr))
		return xa_usable_size(ptr);
	resolve_real();
	return real_usable ? real_usable(ptr) : 0;
}

/* Anonymous private mappings above the threshold. */

static bool mmap_wanted(void *addr, size_t len, int prot, int flags)
{
	if (addr || prot != (PROT_READ | PROT_WRITE) ||
	    (flags & ~MAP_NORESERVE) != (MAP_PRIVATE | MAP_ANONYMOUS))
		return false;
	if (bootstrapping())
		return false;
	read_knobs();
	if (!mmap_threshold || len < mmap_threshold)
		return false;
	return !xa_init() && !xa_local_only() && !xa_frozen();
}

static void *sys_mmap(void *addr, size_t len, int prot, int flags, int fd,
		      off_t off)
{
	return (void *)syscall(SYS_mmap, addr, len, prot, flags, fd, off);
}

EXPORT void *mmap(void *addr, size_t len, int prot, int flags, int fd,
		  off_t off)
{
	if (mmap_wanted(addr, len, prot, flags)) {
		void *p = xa_mmap(len);

		if (p)
			return p;
		if (fail_policy) {
			errno = ENOMEM;
			return MAP_FAILED;
		}
	}
	return sys_mmap(addr, len, prot, flags, fd, off);
}

EXPORT void *mmap64(void *addr, size_t len, int prot, int flags, int fd,
		    off_t off) __attribute__((alias("mmap")));

EXPORT int munmap(void *addr, size_t len)
{
	if (xa_owns(addr)) {
		if (xa_frozen())
			return 0;	/* the parent's; not ours to drop */
		return xa_munmap(addr, len);
	}
	return (int)syscall(SYS_munmap, addr, len);
}

EXPORT void *mremap(void *old, size_t old_len, size_t new_len, int flags,
		    ...)
{
	void *new_addr = NULL;
	va_list ap;

	if (flags & MREMAP_FIXED) {
		va_start(ap, flags);
		new_addr = va_arg(ap, void *);
		va_end(ap);
	}
	if (xa_owns(old)) {
		void *p;

		if (flags & MREMAP_FIXED || xa_frozen()) {
			errno = EINVAL;
			return MAP_FAILED;
		}
		p = xa_mremap(old, old_len, new_len, flags);
		return p ? p : MAP_FAILED;
	}
	return (void *)syscall(SYS_mremap, old, old_len, new_len, flags,
			       new_addr);
}

__attribute__((constructor)) static void preload_init(void)
{
	read_knobs();
	xa_setup_process();
	/* Set the heap up now, while the program is single-threaded. */
	if (xa_init() && fail_policy)
		xa_puts(2, "libxmem: allocations will fail (XMEM_FALLBACK=fail)\n");
}
