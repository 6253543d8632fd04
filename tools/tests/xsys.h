/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Helpers of the xmem tests: sysfs knobs and counters of the module, module
 * (re)loading, regions and data patterns.
 *
 * Functions returning int return 0 (or a file descriptor) on success and a
 * negative errno value on failure, unless said otherwise.
 */
#ifndef XSYS_H
#define XSYS_H

#include <stddef.h>
#include <stdint.h>
#include <sys/mman.h>

#include <uapi/xmem.h>

#include "xtest.h"

#define XSYS_DIR	"/sys/class/misc/xmem"
#define XMEM_DEV	"/dev/xmem"
#define XMEM_MODULE	"/xmem/xmem.ko"		/* env XMEM_MODULE overrides */

#define KiB	((uint64_t)1024)
#define MiB	(KiB * 1024)

/* @attr is relative to XSYS_DIR, e.g. "state" or "stats/faults". */
int xsys_read(const char *attr, char *buf, size_t len);	/* strips '\n' */
int xsys_read_u64(const char *attr, uint64_t *val);
int xsys_write(const char *attr, const char *val);
int xsys_write_u64(const char *attr, uint64_t val);

/* Polls "state" until it reads @want; -ETIMEDOUT after @timeout_ms. */
int xsys_wait_state(const char *want, unsigned int timeout_ms);

/*
 * local_limit as found when xsys_save_limit() ran; xsys_restore_limit() is
 * an xt_after_each() hook that writes it back when it changed.
 */
void xsys_save_limit(void);
void xsys_restore_limit(void);

enum xstat {
	XS_FAULTS,
	XS_CACHE_HITS,
	XS_RDMA_READS,
	XS_RDMA_WRITES,
	XS_RDMA_READ_WRS,
	XS_RDMA_WRITE_WRS,
	XS_BYTES_READ,
	XS_BYTES_WRITTEN,
	XS_EVICTIONS_CLEAN,
	XS_EVICTIONS_DIRTY,
	XS_WRITEBACK_ERRORS,
	XS_RESIDENT_BYTES,
	XS_DIRTY_BYTES,
	XS_TLB_FLUSHES,
	XS_ZERO_FILLS,
	XS_NR,
};

extern const char *const xstat_names[XS_NR];

struct xstats {
	uint64_t v[XS_NR];
};

int xstats_read(struct xstats *s);
/* Diagnostic lines "name: before -> after (+delta)" for every counter. */
void xstats_diag(const struct xstats *before, const struct xstats *after);

/* The module: unloaded with O_NONBLOCK semantics, retried a few seconds. */
int xmod_loaded(void);		/* 1 or 0 */
int xmod_unload(void);
int xmod_load(const char *params);
/* Loads the module if needed and connects it to $XMEM_APPLIANCE. */
int xmod_ensure_connected(void);
const char *xmod_appliance(void);	/* $XMEM_APPLIANCE or NULL */

/* Region name unique to this host, process and moment, with @tag in it. */
void xr_name(char *buf, const char *tag);

/*
 * Opens /dev/xmem and attaches to region @name; returns the fd or
 * -errno.  @out (may be NULL) receives the attach result.
 */
int xr_attach(const char *name, uint64_t size, uint32_t flags,
	      struct xmem_attach *out);
/* Shared read/write mapping of [@off, @off + @len) of the region. */
void *xr_map(int fd, uint64_t off, size_t len);	/* MAP_FAILED on error */

/* Attach or map, failing the test with the reason. */
#define ATTACH_OK(name, size, flags, out) ({				\
	int _fd = xr_attach((name), (size), (flags), (out));		\
	if (_fd < 0)							\
		FAIL("attach %s: %s", (name), xt_errname(-_fd));	\
	_fd;								\
})

#define MAP_OK(fd, off, len) ({						\
	void *_p = xr_map((fd), (off), (len));				\
	if (_p == MAP_FAILED)						\
		FAIL("mmap %llu bytes at %llu: %s",			\
		     (unsigned long long)(len),				\
		     (unsigned long long)(off), xt_errname(errno));	\
	_p;								\
})

/* XMEM_IOC_INFO on @fd, failing the test on error. */
void xr_info(int fd, struct xmem_region_info *ri);
/*
 * Evict every page of the region bound to @fd from the local cache (the
 * limit at its minimum, a scratch region read until nothing of @fd is
 * resident); the limit is put back.
 */
void xr_drop_cache(int fd);

/* Fails the test unless the module is connected to an appliance. */
void xr_require_connected(void);

/* regions/NAME/ATTR (e.g. "stats/zero_fills"), failing the test on error. */
uint64_t xr_region_u64(const char *name, const char *attr);

/*
 * Data pattern: every 8-byte word gets a hash of its offset in the region
 * and of @seed, so a page at the wrong place, a stale page or a zero page
 * are all told apart.  @off is the region offset of @p.
 */
uint64_t xpat_word(uint64_t seed, uint64_t off);
void xpat_fill(void *p, size_t len, uint64_t off, uint64_t seed);

struct xpat_err {
	uint64_t count;		/* mismatching words */
	uint64_t first;		/* region offset of the first one */
	uint64_t want, got;	/* its expected and found values */
};

/* Returns the number of mismatching words; @err (may be NULL) tells more. */
uint64_t xpat_check(const void *p, size_t len, uint64_t off, uint64_t seed,
		    struct xpat_err *err);

#define ASSERT_PATTERN(p, len, off, seed) do {				\
	struct xpat_err _pe;						\
	if (xpat_check((p), (len), (off), (seed), &_pe))		\
		FAIL("%llu of %llu words wrong, first at region offset "	\
		     "%#llx: want %#llx got %#llx",			\
		     (unsigned long long)_pe.count,			\
		     (unsigned long long)((len) / 8),			\
		     (unsigned long long)_pe.first,			\
		     (unsigned long long)_pe.want,			\
		     (unsigned long long)_pe.got);			\
} while (0)

/*
 * Child process body: fill [0, @len) of @p with the pattern of seed
 * @seed + round and check it, round after round, until @stop (a pipe) is
 * readable.  Prints a TAP diagnostic; returns 0, or 1 at the first wrong
 * word.
 */
int xpat_toucher(char *p, size_t len, uint64_t seed, int stop);

/*
 * Size from environment variable @name ("4M", "512K", "1048576"), or @def
 * when unset or unparsable.
 */
uint64_t xenv_size(const char *name, uint64_t def);

/* Monotonic clock in seconds. */
double xnow(void);

/*
 * Waits until task @pid sleeps inside system call @nr (/proc/PID/syscall
 * names it; a running task shows "running"): e.g. an ioctl that waits for
 * the appliance.  Returns 0, -ETIMEDOUT after @timeout_ms, or -ESRCH if
 * the task is gone.
 */
int xproc_wait_in_syscall(int pid, long nr, unsigned int timeout_ms);

#endif /* XSYS_H */
