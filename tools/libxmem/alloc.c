// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * libxmem: a size-class allocator over one region of external memory.
 *
 * Layout.  At set-up the heap reserves XMEM_MAX bytes of address space
 * (PROT_NONE, no memory) and maps the appliance region at its start with
 * MAP_SHARED on /dev/xmem; region offset o lives at heap.base + o, so
 * "is this pointer ours" is one subtraction and compare.  When the heap
 * needs more than the region, it grows the region in XMEM_GROW steps
 * (XMEM_IOC_RESIZE, when the module has it) or, by policy, continues with
 * local anonymous memory past the region's end, or fails with ENOMEM.
 *
 * Pages.  The heap is carved into spans of whole pages: free spans,
 * small-object slabs, large allocations and xmem_mmap() slabs.  A span's
 * descriptor lives in local memory (a table indexed by span number); a
 * page map gives the span number of every page of a span in use and of
 * the first and last page of a free span (for coalescing).  Free spans sit
 * in bins by page count.  A free span that reaches the heap's top and is
 * at least XMEM_TRIM bytes is handed back (see backend_release()).  All
 * of this is the page level, under heap.lock, and only slow paths use it.
 *
 * Small objects (up to 32 KiB, 40 size classes, 4 per power of two) come
 * from slabs of 64 KiB or more.  A slab's free objects are tracked by a
 * bitmap in local memory, never by links inside the objects, so the
 * allocator does not fault remote pages in to find free memory.  Slabs
 * belong to arenas (a lock each); a thread uses one arena, chosen round
 * robin.  Each thread has a cache of free objects per class: malloc and
 * free touch only that cache (no lock, no atomic operation) until it is
 * empty or full, and then move half a cache's worth from or to the arena
 * under the arena's lock.
 *
 * No metadata lives in the region, so a page of the region holds nothing
 * but the application's bytes, and nothing the allocator itself reads is
 * ever evicted to the appliance.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/random.h>
#include <sys/syscall.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include "uapi/xmem.h"
#include "xa.h"

#define likely(x)	__builtin_expect(!!(x), 1)
#define unlikely(x)	__builtin_expect(!!(x), 0)

#define PG_SHIFT	12
#define PG_SIZE		(1UL << PG_SHIFT)
#define MiB		(1UL << 20)
#define GiB		(1UL << 30)

#define NCLASS		40
#define MAX_SMALL	32768
#define SLAB_MIN_PAGES	16		/* 64 KiB */
#define MAX_OBJS	4096		/* 64 KiB / 16 */
#define BM_WORDS	(MAX_OBJS / 64)
#define TC_CAP		64
#define MAX_ARENAS	64
#define NBINS		256		/* exact bins 1..255, bin 0: larger */

enum span_kind { SPAN_NONE, SPAN_FREE, SPAN_SMALL, SPAN_LARGE, SPAN_MMAP };
enum backend_kind { BK_NONE, BK_XMEM, BK_ANON, BK_LOCAL };

/*
 * struct span - a run of pages.  Fields are under heap.lock, except for a
 * small slab's object fields (nfree, scan, partial links, the bitmap),
 * which are under its arena's lock once the slab is handed to the arena.
 */
struct span {
	uint32_t start;		/* first page */
	uint32_t npages;
	uint8_t kind;		/* enum span_kind */
	uint8_t cls;		/* SPAN_SMALL: size class */
	uint8_t on_partial;	/* SPAN_SMALL: on its arena's partial list */
	uint8_t zeroed;		/* fresh pages, known to read as zero */
	uint16_t arena;		/* SPAN_SMALL: owning arena */
	uint16_t scan;		/* SPAN_SMALL: first bitmap word to look at */
	uint32_t nfree;		/* SPAN_SMALL: free objects */
	uint32_t nobj;		/* SPAN_SMALL: objects in the slab */
	uint64_t req;		/* SPAN_LARGE/MMAP: bytes asked for */
	struct span *next, *prev;	/* free bin or partial list */
};

struct tbin {
	uint32_t n;
	uint32_t cap;
	void *slot[TC_CAP];
};

/* struct tcache - one thread's free objects; only that thread touches it. */
struct tcache {
	struct tbin bin[NCLASS];
	unsigned int arena;
	struct tcache *next, *prev;	/* heap.tc_list, under heap.tc_lock */
};

struct arena {
	/* Protects partial[], allocated[] and the object fields of the
	 * arena's slabs (see struct span). */
	pthread_mutex_t lock;
	struct span *partial[NCLASS];	/* slabs with a free object */
	uint64_t allocated[NCLASS];	/* objects out of slabs (caches too) */
} __attribute__((aligned(64)));

static struct {
	/* Read-only after set-up. */
	uintptr_t base;
	size_t va_size;
	uint32_t *pagemap;		/* page -> span number, 0 = none */
	struct span *spans;		/* span table; number 0 unused */
	uint64_t *bitmaps;		/* BM_WORDS per span number */
	uint32_t max_spans;
	unsigned int narenas;
	uint64_t tc_key;
	size_t trim_bytes;
	size_t grow_bytes;
	bool fallback_local;
	bool fork_share;
	bool fork_local;		/* XMEM_FORK=local */
	bool sole;			/* region held (XMEM_ATTACH_SOLE) */
	bool stats_at_exit;
	bool leak_check;
	bool frozen;			/* XMEM_FORK=share child: no new use */
	int64_t acct_interval_ns;	/* XMEM_ACCOUNT_MS; 0: no reports */
	int report_fd;			/* XMEM_STATS, XMEM_LEAK_CHECK output */

	/* Protects everything below up to tc_lock, and span fields. */
	pthread_mutex_t lock;
	uint32_t hw;			/* pages [0, hw) have been used */
	uint32_t zero_hw;		/* pages >= zero_hw read as zero */
	uint32_t limit;			/* pages [0, limit) are mapped */
	uint32_t span_bump;		/* next never-used span number */
	struct span *span_free;		/* recycled span numbers */
	struct span *bins[NBINS];
	uint64_t binmask[NBINS / 64];
	uint64_t slabs, slab_pages;
	uint64_t large_objs, large_pages;

	/* Backend: under lock too. */
	int bk;				/* enum backend_kind */
	int fd;
	char name[XMEM_REGION_NAME_MAX];
	size_t region_bytes;		/* the region's size */
	size_t shared_bytes;		/* [0, shared_bytes) maps the region */
	size_t mapped_bytes;		/* [0, mapped_bytes) is mapped */
	bool can_resize;
	bool can_shrink;		/* the module took a shrink, or untried */
	uint64_t grows, shrinks, released;

	/* Protects tc_list. */
	pthread_mutex_t tc_lock;
	struct tcache *tc_list;

	struct arena arenas[MAX_ARENAS];
} heap = {
	.lock = PTHREAD_MUTEX_INITIALIZER,
	.tc_lock = PTHREAD_MUTEX_INITIALIZER,
	.fd = -1,
	.report_fd = -1,
};

/* 0: not set up, 1: being set up, 2: ready, 3: failed. */
static _Atomic int heap_state;
static int heap_error;
static __thread int in_init __attribute__((tls_model("initial-exec")));
static __thread struct tcache *my_tc __attribute__((tls_model("initial-exec")));
static __thread int my_tc_dead __attribute__((tls_model("initial-exec")));
static _Atomic unsigned int next_arena;

/*
 * Reports to the module (XMEM_IOC_ACCOUNT): slow paths mark the counters
 * changed (acct_touch()) and then offer a report (acct_poll()), which is
 * sent when the counters changed and XMEM_ACCOUNT_MS passed since the
 * last one, or at once after the region grew or shrank.  The malloc and
 * free fast paths do neither.
 */
static _Atomic int acct_on;		/* reports wanted and accepted */
static _Atomic int acct_dirty;		/* changed since the last report */
static _Atomic int acct_force;		/* report at the next poll */
static _Atomic int64_t acct_next_ns;	/* no routine report before */
/* One report at a time; outside every other lock of the allocator. */
static pthread_mutex_t acct_lock = PTHREAD_MUTEX_INITIALIZER;

static inline void acct_touch(void)
{
	if (!atomic_load_explicit(&acct_dirty, memory_order_relaxed))
		atomic_store_explicit(&acct_dirty, 1, memory_order_relaxed);
}

static void acct_poll(void);
static pthread_key_t tc_key_exit;
static bool key_ready;

static uint32_t cls_size[NCLASS];
static uint32_t cls_pages[NCLASS];
static uint32_t cls_nobj[NCLASS];
static uint32_t cls_inv[NCLASS];	/* 2^32 / size, rounded up */
static uint8_t small_cls[65];

/* Helpers that allocate nothing. */

void xa_puts(int fd, const char *s)
{
	size_t n = strlen(s);

	while (n) {
		ssize_t w = write(fd, s, n);

		if (w <= 0) {
			if (w < 0 && errno == EINTR)
				continue;
			return;
		}
		s += w;
		n -= w;
	}
}

char *xa_fmt_u64(char *buf, uint64_t v)
{
	char tmp[24];
	int i = 0, j = 0;

	do {
		tmp[i++] = '0' + v % 10;
		v /= 10;
	} while (v);
	while (i)
		buf[j++] = tmp[--i];
	buf[j] = 0;
	return buf;
}

static char *fmt_hex(char *buf, uint64_t v)
{
	static const char dig[] = "0123456789abcdef";
	char tmp[17];
	int i = 0, j = 0;

	do {
		tmp[i++] = dig[v & 15];
		v >>= 4;
	} while (v);
	buf[j++] = '0';
	buf[j++] = 'x';
	while (i)
		buf[j++] = tmp[--i];
	buf[j] = 0;
	return buf;
}

/* Parses "123", "64K", "256M", "2G"; @def if unset or malformed. */
uint64_t xa_env_bytes(const char *name, uint64_t def)
{
	const char *s = getenv(name);
	uint64_t v = 0;

	if (!s || !*s)
		return def;
	if (*s < '0' || *s > '9')
		return def;
	while (*s >= '0' && *s <= '9') {
		if (v > UINT64_MAX / 10)
			return def;
		v = v * 10 + (*s++ - '0');
	}
	switch (*s) {
	case 'k': case 'K': v <<= 10; s++; break;
	case 'm': case 'M': v <<= 20; s++; break;
	case 'g': case 'G': v <<= 30; s++; break;
	}
	if (*s == 'B' || *s == 'b')
		s++;
	return *s ? def : v;
}

static bool env_is(const char *name, const char *val)
{
	const char *s = getenv(name);

	return s && !strcmp(s, val);
}

static bool env_true(const char *name)
{
	const char *s = getenv(name);

	return s && *s && strcmp(s, "0");
}

static void say(const char *a, const char *b, const char *c)
{
	char line[256];

	line[0] = 0;
	strncat(line, "libxmem: ", sizeof(line) - 1);
	strncat(line, a, sizeof(line) - strlen(line) - 1);
	if (b)
		strncat(line, b, sizeof(line) - strlen(line) - 1);
	if (c)
		strncat(line, c, sizeof(line) - strlen(line) - 1);
	strncat(line, "\n", sizeof(line) - strlen(line) - 1);
	xa_puts(2, line);
}

/* A pointer the program gave back is not what it should be: stop. */
static void __attribute__((noreturn)) bad_free(const char *what,
					       const void *p)
{
	char buf[24];

	say(what, " of ", fmt_hex(buf, (uintptr_t)p));
	abort();
}

/* Size classes. */

static void classes_init(void)
{
	unsigned int c = 0, k, i;

	for (i = 1; i <= 8; i++)
		cls_size[c++] = i * 16;
	for (k = 7; k < 15; k++)
		for (i = 1; i <= 4; i++)
			cls_size[c++] = (1u << k) + i * (1u << (k - 2));
	for (c = 0; c < NCLASS; c++) {
		uint32_t s = cls_size[c];
		uint32_t pages = SLAB_MIN_PAGES;

		while ((uint64_t)pages * PG_SIZE < 8ull * s)
			pages += SLAB_MIN_PAGES;
		cls_pages[c] = pages;
		cls_nobj[c] = pages * PG_SIZE / s;
		if (cls_nobj[c] > MAX_OBJS)
			cls_nobj[c] = MAX_OBJS;
		cls_inv[c] = (uint32_t)(((1ull << 32) + s - 1) / s);
	}
	for (i = 0; i <= 64; i++) {
		uint32_t want = i ? i * 16 : 16;

		for (c = 0; cls_size[c] < want; c++)
			;
		small_cls[i] = c;
	}
}

static uint32_t tc_cap(unsigned int c)
{
	uint32_t cap = 32768 / cls_size[c];

	return cap < 4 ? 4 : cap > TC_CAP ? TC_CAP : cap;
}

static inline unsigned int size_class(size_t size)
{
	unsigned int k;
	size_t step;

	if (likely(size <= 1024))
		return small_cls[(size + 15) >> 4];
	k = 63 - __builtin_clzl(size - 1);
	step = (size_t)1 << (k - 2);
	return 8 + (k - 7) * 4 + (unsigned int)((size - (1ul << k) + step - 1) / step) - 1;
}

/* Page map and span table. */

static inline struct span *span_at(uint32_t page)
{
	uint32_t n = heap.pagemap[page];

	return n ? &heap.spans[n] : NULL;
}

static inline uint32_t span_no(const struct span *s)
{
	return (uint32_t)(s - heap.spans);
}

static inline void *span_addr(const struct span *s)
{
	return (void *)(heap.base + ((uintptr_t)s->start << PG_SHIFT));
}

static inline uint64_t *span_bitmap(const struct span *s)
{
	return heap.bitmaps + (size_t)span_no(s) * BM_WORDS;
}

static struct span *span_new(void)
{
	struct span *s = heap.span_free;

	if (s) {
		heap.span_free = s->next;
	} else {
		if (heap.span_bump >= heap.max_spans)
			return NULL;
		s = &heap.spans[heap.span_bump++];
	}
	memset(s, 0, sizeof(*s));
	return s;
}

static void span_recycle(struct span *s)
{
	s->kind = SPAN_NONE;
	s->next = heap.span_free;
	heap.span_free = s;
}

static void map_range(const struct span *s, uint32_t first, uint32_t n)
{
	uint32_t no = s ? span_no(s) : 0, i;

	for (i = 0; i < n; i++)
		heap.pagemap[first + i] = no;
}

/* A free span's pages: only its first and last page point to it. */
static void map_free(struct span *s)
{
	heap.pagemap[s->start] = span_no(s);
	heap.pagemap[s->start + s->npages - 1] = span_no(s);
}

static unsigned int bin_of(uint32_t npages)
{
	return npages < NBINS ? npages : 0;
}

static void bin_insert(struct span *s)
{
	unsigned int b = bin_of(s->npages);

	s->kind = SPAN_FREE;
	s->prev = NULL;
	s->next = heap.bins[b];
	if (s->next)
		s->next->prev = s;
	heap.bins[b] = s;
	heap.binmask[b / 64] |= 1ull << (b % 64);
	map_free(s);
}

static void bin_remove(struct span *s)
{
	unsigned int b = bin_of(s->npages);

	if (s->prev)
		s->prev->next = s->next;
	else
		heap.bins[b] = s->next;
	if (s->next)
		s->next->prev = s->prev;
	if (!heap.bins[b])
		heap.binmask[b / 64] &= ~(1ull << (b % 64));
	heap.pagemap[s->start] = 0;
	heap.pagemap[s->start + s->npages - 1] = 0;
}

/* A free span of at least @n pages, or NULL.  Best fit. */
static struct span *bin_find(uint32_t n)
{
	struct span *s, *best = NULL;
	unsigned int b;

	if (n < NBINS) {
		for (b = n; b < NBINS; b++) {
			uint64_t m = heap.binmask[b / 64] >> (b % 64);

			if (!m) {
				b = (b | 63);
				continue;
			}
			b += __builtin_ctzll(m);
			if (b < NBINS)
				return heap.bins[b];
		}
	}
	for (s = heap.bins[0]; s; s = s->next)
		if (s->npages >= n && (!best || s->npages < best->npages))
			best = s;
	return best;
}

/* Backend: the memory behind the heap's address range. */

static int sys_err(void)
{
	return errno ? -errno : -EIO;
}

static void *raw_mmap(void *addr, size_t len, int prot, int flags, int fd,
		      off_t off)
{
	return (void *)syscall(SYS_mmap, addr, len, prot, flags, fd, off);
}

#ifdef XMEM_IOC_RESIZE
/*
 * XMEM_IOC_RESIZE comes with the control-plane work (issue 4): struct
 * xmem_region_op names the region and gives the new size.  A grow is
 * usable at once; a shrink of a mapped region may be refused (EBUSY).
 */
static int region_resize(size_t bytes)
{
	struct xmem_region_op op;

	memset(&op, 0, sizeof(op));
	memcpy(op.name, heap.name, sizeof(op.name));
	op.size = bytes;
	return ioctl(heap.fd, XMEM_IOC_RESIZE, &op) ? sys_err() : 0;
}
#else
static int region_resize(size_t bytes)
{
	(void)bytes;
	return -ENOTTY;
}
#endif

/* Map [from, to) of the region at the same offsets of the heap. */
static int map_shared(size_t from, size_t to)
{
	void *want = (void *)(heap.base + from), *p;

	if (heap.bk == BK_XMEM)
		p = raw_mmap(want, to - from, PROT_READ | PROT_WRITE,
			     MAP_SHARED | MAP_FIXED, heap.fd, from);
	else
		p = raw_mmap(want, to - from, PROT_READ | PROT_WRITE,
			     MAP_SHARED | MAP_ANONYMOUS | MAP_FIXED, -1, 0);
	return p == want ? 0 : sys_err();
}

static int map_local(size_t from, size_t to)
{
	void *want = (void *)(heap.base + from);

	if (raw_mmap(want, to - from, PROT_READ | PROT_WRITE,
		     MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED | MAP_NORESERVE,
		     -1, 0) != want)
		return sys_err();
	return 0;
}

/*
 * Make the heap's pages [0, @pages) usable.  In the region while it
 * lasts; then grow the region (resize, in XMEM_GROW steps); then local
 * memory if the fallback policy allows it.  Caller holds heap.lock.
 */
static int backend_extend(uint32_t pages)
{
	size_t want = (size_t)pages << PG_SHIFT, to;

	if (want > heap.va_size)
		return -ENOMEM;
	if (heap.bk != BK_LOCAL && heap.mapped_bytes == heap.shared_bytes) {
		to = heap.region_bytes;
		if (want > to && heap.can_resize) {
			size_t step = heap.grow_bytes;

			to = want + step - 1;
			to -= to % step;
			if (to > heap.va_size)
				to = heap.va_size;
			if (heap.bk == BK_ANON || !region_resize(to)) {
				heap.region_bytes = to;
				heap.grows++;
				atomic_store(&acct_force, 1);
			} else {
				heap.can_resize = false;
				to = heap.region_bytes;
			}
		}
		if (to > heap.shared_bytes) {
			int err = map_shared(heap.shared_bytes, to);

			if (err)
				return err;
			heap.shared_bytes = heap.mapped_bytes = to;
		}
		if (want <= to) {
			heap.limit = heap.mapped_bytes >> PG_SHIFT;
			return 0;
		}
	}
	if (!heap.fallback_local && heap.bk != BK_LOCAL)
		return -ENOMEM;
	/* Local memory past the region, in steps, never beyond XMEM_MAX. */
	to = want + heap.grow_bytes - 1;
	to -= to % heap.grow_bytes;
	if (to > heap.va_size)
		to = heap.va_size;
	if (map_local(heap.mapped_bytes, to))
		return -ENOMEM;
	heap.mapped_bytes = to;
	heap.limit = to >> PG_SHIFT;
	return 0;
}

/*
 * Pages [from, to) are free and no longer wanted; @top: they are the top
 * of the heap (nothing used above them).  Local and test memory is given
 * back to the kernel (it reads as zeroes afterwards).  Region memory: at
 * the top, with XMEM_IOC_RESIZE, the region shrinks; otherwise the pages
 * are mapped afresh so this process holds no PTE on them, but the
 * module's cache keeps its copy until it evicts it (dirty pages are
 * written back then) and the appliance keeps the bytes: the module has
 * no way yet to drop a range.  Caller holds heap.lock.
 */
static void backend_release(uint32_t from, uint32_t to, bool top)
{
	size_t a = (size_t)from << PG_SHIFT, b = (size_t)to << PG_SHIFT;
	bool zeroes = true;
	size_t sh;

	if (b > heap.mapped_bytes)
		b = heap.mapped_bytes;
	if (a >= b)
		return;
	heap.released += b - a;
	sh = heap.bk == BK_LOCAL ? 0 : heap.shared_bytes;
	if (b > sh) {			/* local memory */
		size_t l = a > sh ? a : sh;

		madvise((void *)(heap.base + l), b - l, MADV_DONTNEED);
	}
	if (a < sh) {
		size_t e = b < sh ? b : sh;

		/*
		 * At the top nothing above @a is in use, up to the region's
		 * end: the region can end at the next XMEM_GROW boundary
		 * above @a.  Unmap the tail first: the module refuses to
		 * shrink under a mapping.
		 */
		if (top && heap.can_resize && heap.can_shrink &&
		    heap.mapped_bytes == sh) {
			size_t keep = a + heap.grow_bytes - 1;

			keep -= keep % heap.grow_bytes;
			if (keep < sh &&
			    raw_mmap((void *)(heap.base + keep), sh - keep,
				     PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS |
				     MAP_FIXED | MAP_NORESERVE, -1, 0) !=
			    MAP_FAILED) {
				if (heap.bk == BK_ANON || !region_resize(keep)) {
					heap.region_bytes = keep;
					heap.shared_bytes = keep;
					heap.mapped_bytes = keep;
					heap.limit = keep >> PG_SHIFT;
					heap.shrinks++;
					atomic_store(&acct_force, 1);
					if (e > keep)
						e = keep;
				} else {
					heap.can_shrink = false;
					map_shared(keep, sh);
				}
			}
		}
		if (heap.bk == BK_ANON) {
			if (a < e)
				madvise((void *)(heap.base + a), e - a,
					MADV_REMOVE);
		} else {
			/* The module's cache keeps its copy until it evicts
			 * it: not known to be zero. */
			zeroes = false;
			if (a < e)
				map_shared(a, e);
		}
	}
	if (top && zeroes && heap.zero_hw <= to)
		heap.zero_hw = from;
}

/* Pages. */

static void fill_zero_flag(struct span *s)
{
	s->zeroed = s->start >= heap.zero_hw;
	if (s->start + s->npages > heap.zero_hw)
		heap.zero_hw = s->start + s->npages;
}

/* Split @s after @n pages; the tail becomes a new span of the same kind. */
static struct span *span_split(struct span *s, uint32_t n)
{
	struct span *t = span_new();

	if (!t)
		return NULL;
	t->start = s->start + n;
	t->npages = s->npages - n;
	t->kind = s->kind;
	t->zeroed = s->zeroed;
	s->npages = n;
	return t;
}

/* Give pages of @s back to the bins, coalescing.  Caller holds lock. */
static void pages_free_locked(struct span *s)
{
	struct span *l, *r;
	uint32_t end = s->start + s->npages;

	map_range(NULL, s->start, s->npages);
	if (s->start && (l = span_at(s->start - 1)) && l->kind == SPAN_FREE) {
		bin_remove(l);
		s->start = l->start;
		s->npages += l->npages;
		span_recycle(l);
	}
	if (end < heap.hw && (r = span_at(end)) && r->kind == SPAN_FREE) {
		bin_remove(r);
		s->npages += r->npages;
		span_recycle(r);
	}
	end = s->start + s->npages;
	if ((size_t)s->npages << PG_SHIFT >= heap.trim_bytes) {
		if (end == heap.hw) {
			heap.hw = s->start;
			backend_release(s->start, end, true);
			span_recycle(s);
			return;
		}
		backend_release(s->start, end, false);
	}
	bin_insert(s);
}

/* A span of @n pages aligned to @align pages, or NULL (errno ENOMEM). */
static struct span *pages_alloc_locked(uint32_t n, uint32_t align)
{
	uint32_t want = n + align - 1, start, lead;
	struct span *s, *t;

	s = bin_find(want);
	if (s) {
		bin_remove(s);
	} else {
		start = heap.hw;
		t = heap.hw ? span_at(heap.hw - 1) : NULL;
		if (t && t->kind == SPAN_FREE)
			start = t->start;
		if ((uint64_t)start + want > heap.va_size >> PG_SHIFT ||
		    (start + want > heap.limit && backend_extend(start + want))) {
			errno = ENOMEM;
			return NULL;
		}
		if (t && t->kind == SPAN_FREE) {
			bin_remove(t);
			s = t;
		} else {
			s = span_new();
			if (!s) {
				errno = ENOMEM;
				return NULL;
			}
			s->start = start;
		}
		s->npages = want;
		heap.hw = start + want;
	}
	fill_zero_flag(s);
	s->kind = SPAN_LARGE;
	/* Trim to the alignment, then to the size; pieces go back. */
	lead = (uint32_t)((align - ((heap.base >> PG_SHIFT) + s->start) % align) %
			  align);
	if (lead) {
		t = span_split(s, lead);
		if (!t)
			goto fail;
		pages_free_locked(s);
		s = t;
	}
	if (s->npages > n) {
		t = span_split(s, n);
		if (!t)
			goto fail;
		pages_free_locked(t);
	}
	map_range(s, s->start, s->npages);
	return s;
fail:
	pages_free_locked(s);
	errno = ENOMEM;
	return NULL;
}

/* Set-up. */

static int region_name(char *out, const char *tmpl)
{
	char num[24];
	size_t n = 0;
	uint32_t rnd = 0;

	if (getrandom(&rnd, sizeof(rnd), GRND_NONBLOCK) != sizeof(rnd)) {
		struct timeval tv;

		gettimeofday(&tv, NULL);
		rnd = (uint32_t)(tv.tv_usec ^ tv.tv_sec ^ getpid());
	}
	for (; *tmpl; tmpl++) {
		const char *add = NULL;
		char c[2] = { *tmpl, 0 };

		if (*tmpl == '%' && tmpl[1] == 'p') {
			add = xa_fmt_u64(num, getpid());
			tmpl++;
		} else if (*tmpl == '%' && tmpl[1] == 'r') {
			fmt_hex(num, rnd);
			add = num + 2;
			tmpl++;
		} else {
			add = c;
		}
		if (n + strlen(add) >= XMEM_REGION_NAME_MAX)
			return -EINVAL;
		memcpy(out + n, add, strlen(add));
		n += strlen(add);
	}
	out[n] = 0;
	return n ? 0 : -EINVAL;
}

/*
 * The heap's region is new and this process's alone, so it is created
 * held (XMEM_ATTACH_SOLE): no other client may write it, and the module
 * fills a page never written with zeroes instead of reading it.  An
 * appliance older than protocol 1.9 (EOPNOTSUPP) or a module without
 * SOLE (EINVAL) gets the same region without the hold; so does
 * XMEM_SOLE=0.
 */
static int open_region(size_t reserve)
{
	const char *dev = getenv("XMEM_DEVICE");
	const char *tmpl = getenv("XMEM_REGION");
	bool sole = !env_is("XMEM_SOLE", "0");
	struct xmem_attach a;
	int fd, err, tries;

	fd = open(dev && *dev ? dev : "/dev/xmem", O_RDWR | O_CLOEXEC);
	if (fd < 0)
		return sys_err();
	for (tries = 0; tries < 5; tries++) {
		memset(&a, 0, sizeof(a));
		err = region_name(a.name, tmpl && *tmpl ? tmpl : "libxmem-%p-%r");
		if (err)
			break;
		a.size = reserve;
		a.flags = XMEM_ATTACH_CREATE | XMEM_ATTACH_EXCL;
		if (sole)
			a.flags |= XMEM_ATTACH_SOLE;
		if (!ioctl(fd, XMEM_IOC_ATTACH, &a)) {
			heap.sole = sole;
			memcpy(heap.name, a.name, sizeof(heap.name));
			heap.fd = fd;
			heap.region_bytes = a.size;
			return 0;
		}
		err = sys_err();
		if (sole && (err == -EOPNOTSUPP || err == -EINVAL)) {
			sole = false;
			continue;
		}
		if (err != -EEXIST || (tmpl && *tmpl && !strstr(tmpl, "%r")))
			break;
	}
	close(fd);
	return err;
}

static int heap_setup(void)
{
	size_t reserve, va, meta;
	unsigned int i;
	long ncpu;
	void *p;
	int err = 0;

	classes_init();
	va = xa_env_bytes("XMEM_MAX", 16 * GiB);
	if (va < 64 * MiB)
		va = 64 * MiB;
	if (va > (1ul << 40))
		va = 1ul << 40;
	va &= ~(PG_SIZE - 1);
	reserve = xa_env_bytes("XMEM_RESERVE", 256 * MiB);
	reserve = (reserve + PG_SIZE - 1) & ~(PG_SIZE - 1);
	if (!reserve)
		reserve = PG_SIZE;
	if (reserve > va)
		reserve = va;
	heap.grow_bytes = xa_env_bytes("XMEM_GROW", reserve < 64 * MiB ?
				       64 * MiB : reserve);
	heap.grow_bytes = (heap.grow_bytes + PG_SIZE - 1) & ~(PG_SIZE - 1);
	if (!heap.grow_bytes)
		heap.grow_bytes = 64 * MiB;
	heap.trim_bytes = xa_env_bytes("XMEM_TRIM", 64 * MiB);
	if (heap.trim_bytes < PG_SIZE)
		heap.trim_bytes = PG_SIZE;
	heap.fallback_local = !env_is("XMEM_FALLBACK", "fail");
	heap.fork_share = env_is("XMEM_FORK", "share");
	heap.fork_local = env_is("XMEM_FORK", "local");
	heap.stats_at_exit = env_true("XMEM_STATS");
	heap.leak_check = env_true("XMEM_LEAK_CHECK");
	/* Programs may close stderr before exit (coreutils do): keep one. */
	if (heap.stats_at_exit || heap.leak_check)
		heap.report_fd = fcntl(2, F_DUPFD_CLOEXEC, 100);
	ncpu = sysconf(_SC_NPROCESSORS_ONLN);
	heap.narenas = xa_env_bytes("XMEM_ARENAS",
				    ncpu > 0 ? (uint64_t)ncpu * 2 : 4);
	if (heap.narenas < 1)
		heap.narenas = 1;
	if (heap.narenas > MAX_ARENAS)
		heap.narenas = MAX_ARENAS;
	for (i = 0; i < heap.narenas; i++)
		pthread_mutex_init(&heap.arenas[i].lock, NULL);
	if (getrandom(&heap.tc_key, sizeof(heap.tc_key), GRND_NONBLOCK) !=
	    sizeof(heap.tc_key))
		heap.tc_key = 0x9e3779b97f4a7c15ull ^ (uintptr_t)&heap;
	heap.tc_key |= 1;

	/* Metadata: page map, span table and slab bitmaps, all lazy. */
	heap.va_size = va;
	heap.max_spans = (uint32_t)(va >> PG_SHIFT) + 1;
	meta = (va >> PG_SHIFT) * sizeof(uint32_t) +
	       (size_t)heap.max_spans * (sizeof(struct span) +
					  BM_WORDS * sizeof(uint64_t));
	meta = (meta + PG_SIZE - 1) & ~(PG_SIZE - 1);
	p = raw_mmap(NULL, meta, PROT_READ | PROT_WRITE,
		     MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if (p == MAP_FAILED)
		return -ENOMEM;
	heap.pagemap = p;
	heap.spans = (struct span *)((char *)p + (va >> PG_SHIFT) *
				     sizeof(uint32_t));
	heap.bitmaps = (uint64_t *)(heap.spans + heap.max_spans);
	heap.span_bump = 1;

	/* The address range. */
	p = raw_mmap(NULL, va, PROT_NONE,
		     MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if (p == MAP_FAILED) {
		munmap(heap.pagemap, meta);
		return -ENOMEM;
	}
	heap.base = (uintptr_t)p;

	/* The backend. */
	if (env_is("XMEM_BACKEND", "anon")) {
		heap.bk = BK_ANON;
		heap.region_bytes = reserve;
		heap.can_resize = !env_true("XMEM_ANON_NORESIZE");
		heap.can_shrink = true;
		strcpy(heap.name, "anon");
	} else if (env_is("XMEM_BACKEND", "local")) {
		heap.bk = BK_LOCAL;
	} else {
		err = open_region(reserve);
		if (!err) {
			heap.bk = BK_XMEM;
			/* Reports: the first at the first slow path. */
			heap.acct_interval_ns =
				(int64_t)xa_env_bytes("XMEM_ACCOUNT_MS", 10);
			if (heap.acct_interval_ns > 3600000)
				heap.acct_interval_ns = 3600000;
			heap.acct_interval_ns *= 1000000;
			atomic_store(&acct_on, heap.acct_interval_ns > 0);
			atomic_store(&acct_force, 1);
#ifdef XMEM_IOC_RESIZE
			heap.can_resize = !env_true("XMEM_NORESIZE");
			heap.can_shrink = true;
#endif
		} else if (heap.fallback_local) {
			heap.bk = BK_LOCAL;
			if (!env_true("XMEM_QUIET"))
				say("no external memory (", strerror(-err),
				    "); using local memory (XMEM_FALLBACK=local)");
			err = 0;
		} else {
			say("no external memory: ", strerror(-err),
			    " (XMEM_FALLBACK=fail)");
		}
	}
	if (!err && heap.bk != BK_LOCAL) {
		err = map_shared(0, heap.region_bytes);
		if (!err)
			heap.shared_bytes = heap.mapped_bytes = heap.region_bytes;
		heap.limit = heap.mapped_bytes >> PG_SHIFT;
	}
	if (err) {
		munmap(p, va);
		munmap(heap.pagemap, meta);
		if (heap.fd >= 0)
			close(heap.fd);
		heap.fd = -1;
		heap.bk = BK_NONE;
	}
	return err;
}

int xa_in_init(void)
{
	return in_init;
}

int xa_init(void)
{
	int st = atomic_load_explicit(&heap_state, memory_order_acquire);
	int expect = 0;

	if (likely(st == 2))
		return 0;
	if (st == 3)
		return heap_error;
	if (in_init)
		return -EDEADLK;
	if (atomic_compare_exchange_strong(&heap_state, &expect, 1)) {
		in_init = 1;
		heap_error = heap_setup();
		in_init = 0;
		atomic_store_explicit(&heap_state, heap_error ? 3 : 2,
				      memory_order_release);
		return heap_error;
	}
	while ((st = atomic_load_explicit(&heap_state,
					  memory_order_acquire)) == 1)
		sched_yield();
	return st == 2 ? 0 : heap_error;
}

static inline bool heap_ready(void)
{
	return likely(atomic_load_explicit(&heap_state,
					   memory_order_relaxed) == 2) ||
	       !xa_init();
}

int xa_frozen(void)
{
	return heap.frozen;
}

int xa_local_only(void)
{
	return heap.bk == BK_LOCAL;
}

int xa_owns(const void *ptr)
{
	return heap.base && (uintptr_t)ptr - heap.base < heap.va_size;
}

/* Arenas and thread caches. */

static void slab_unlink(struct arena *a, struct span *s)
{
	if (s->prev)
		s->prev->next = s->next;
	else
		a->partial[s->cls] = s->next;
	if (s->next)
		s->next->prev = s->prev;
	s->on_partial = 0;
}

static void slab_link(struct arena *a, struct span *s)
{
	s->prev = NULL;
	s->next = a->partial[s->cls];
	if (s->next)
		s->next->prev = s;
	a->partial[s->cls] = s;
	s->on_partial = 1;
}

/* A new slab of class @c for arena @ai.  Caller holds the arena lock. */
static struct span *slab_new(unsigned int ai, unsigned int c)
{
	struct span *s;
	uint64_t *bm;
	uint32_t i, n = cls_nobj[c];

	pthread_mutex_lock(&heap.lock);
	s = pages_alloc_locked(cls_pages[c], 1);
	if (s) {
		s->kind = SPAN_SMALL;
		heap.slabs++;
		heap.slab_pages += s->npages;
	}
	pthread_mutex_unlock(&heap.lock);
	if (!s)
		return NULL;
	s->cls = c;
	s->arena = ai;
	s->nobj = n;
	s->nfree = n;
	s->scan = 0;
	bm = span_bitmap(s);
	for (i = 0; i < BM_WORDS; i++) {
		if (n >= 64)
			bm[i] = ~0ull;
		else
			bm[i] = n ? (1ull << n) - 1 : 0;
		n = n >= 64 ? n - 64 : 0;
	}
	return s;
}

/* Take up to @want objects of class @c from arena @ai into @out. */
static unsigned int arena_take(unsigned int ai, unsigned int c, void **out,
			       unsigned int want)
{
	struct arena *a = &heap.arenas[ai];
	unsigned int n = 0;
	uint32_t size = cls_size[c];

	pthread_mutex_lock(&a->lock);
	while (n < want) {
		struct span *s = a->partial[c];
		uint64_t *bm;
		char *base;
		unsigned int w;

		if (!s) {
			s = slab_new(ai, c);
			if (!s)
				break;
			slab_link(a, s);
		}
		bm = span_bitmap(s);
		base = span_addr(s);
		for (w = s->scan; w < BM_WORDS && n < want && s->nfree; w++) {
			while (bm[w] && n < want) {
				unsigned int bit = __builtin_ctzll(bm[w]);

				bm[w] &= bm[w] - 1;
				out[n++] = base + (size_t)(w * 64 + bit) * size;
				s->nfree--;
			}
			if (bm[w])
				break;
		}
		s->scan = w < BM_WORDS ? w : 0;
		if (!s->nfree)
			slab_unlink(a, s);
	}
	a->allocated[c] += n;
	pthread_mutex_unlock(&a->lock);
	if (n)
		acct_touch();
	return n;
}

/* Return one object to its slab.  Caller holds the slab's arena lock. */
static void slab_put(struct arena *a, struct span *s, void *p)
{
	uint32_t rel = (uint32_t)((uintptr_t)p - (uintptr_t)span_addr(s));
	uint32_t idx = (uint32_t)(((uint64_t)rel * cls_inv[s->cls]) >> 32);
	uint64_t *bm = span_bitmap(s);

	if (idx >= s->nobj || idx * cls_size[s->cls] != rel) {
		pthread_mutex_unlock(&a->lock);
		bad_free("free() of a pointer inside an object", p);
	}
	if (bm[idx / 64] & (1ull << (idx % 64))) {
		pthread_mutex_unlock(&a->lock);
		bad_free("double free", p);
	}
	bm[idx / 64] |= 1ull << (idx % 64);
	if (idx / 64 < s->scan)
		s->scan = idx / 64;
	a->allocated[s->cls]--;
	if (!s->nfree++)
		slab_link(a, s);
	if (s->nfree == s->nobj &&
	    (a->partial[s->cls] != s || s->next)) {
		/* Keep one empty slab per class; the others go back. */
		slab_unlink(a, s);
		pthread_mutex_lock(&heap.lock);
		heap.slabs--;
		heap.slab_pages -= s->npages;
		pages_free_locked(s);
		pthread_mutex_unlock(&heap.lock);
	}
}

static void arena_put_many(void **objs, unsigned int n)
{
	struct arena *locked = NULL;
	unsigned int i;

	for (i = 0; i < n; i++) {
		uintptr_t off = (uintptr_t)objs[i] - heap.base;
		struct span *s = span_at(off >> PG_SHIFT);
		struct arena *a = &heap.arenas[s->arena];

		if (a != locked) {
			if (locked)
				pthread_mutex_unlock(&locked->lock);
			pthread_mutex_lock(&a->lock);
			locked = a;
		}
		slab_put(a, s, objs[i]);
	}
	if (locked)
		pthread_mutex_unlock(&locked->lock);
	acct_touch();
}

static void tc_flush_bin(struct tbin *b, unsigned int keep)
{
	unsigned int n = b->n - keep;

	/* The oldest objects go back: slots [0, n). */
	arena_put_many(b->slot, n);
	memmove(b->slot, b->slot + n, keep * sizeof(void *));
	b->n = keep;
}

static void tc_flush_all(struct tcache *tc)
{
	unsigned int c;

	for (c = 0; c < NCLASS; c++)
		if (tc->bin[c].n)
			tc_flush_bin(&tc->bin[c], 0);
}

static void tc_destroy(struct tcache *tc)
{
	tc_flush_all(tc);
	pthread_mutex_lock(&heap.tc_lock);
	if (tc->prev)
		tc->prev->next = tc->next;
	else
		heap.tc_list = tc->next;
	if (tc->next)
		tc->next->prev = tc->prev;
	pthread_mutex_unlock(&heap.tc_lock);
	munmap(tc, (sizeof(*tc) + PG_SIZE - 1) & ~(PG_SIZE - 1));
}

static void tc_thread_exit(void *arg)
{
	struct tcache *tc = arg;

	if (tc && tc == my_tc) {
		my_tc = NULL;
		my_tc_dead = 1;
		tc_destroy(tc);
	}
}

static struct tcache *tc_create(void)
{
	struct tcache *tc;
	unsigned int c;

	if (my_tc_dead || in_init)
		return NULL;
	tc = raw_mmap(NULL, (sizeof(*tc) + PG_SIZE - 1) & ~(PG_SIZE - 1),
		      PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS,
		      -1, 0);
	if (tc == MAP_FAILED)
		return NULL;
	for (c = 0; c < NCLASS; c++)
		tc->bin[c].cap = tc_cap(c);
	tc->arena = atomic_fetch_add(&next_arena, 1) % heap.narenas;
	pthread_mutex_lock(&heap.tc_lock);
	tc->next = heap.tc_list;
	if (tc->next)
		tc->next->prev = tc;
	heap.tc_list = tc;
	pthread_mutex_unlock(&heap.tc_lock);
	my_tc = tc;
	if (key_ready)
		pthread_setspecific(tc_key_exit, tc);
	return tc;
}

/* malloc and friends. */

static void *large_alloc(size_t size, size_t align, int kind)
{
	uint64_t pages = (size + PG_SIZE - 1) >> PG_SHIFT;
	struct span *s;

	if (size > heap.va_size || !pages || heap.frozen) {
		errno = ENOMEM;
		return NULL;
	}
	pthread_mutex_lock(&heap.lock);
	s = pages_alloc_locked((uint32_t)pages,
			       align > PG_SIZE ? (uint32_t)(align >> PG_SHIFT) : 1);
	if (s) {
		s->kind = kind;
		s->req = size;
		heap.large_objs++;
		heap.large_pages += s->npages;
	}
	pthread_mutex_unlock(&heap.lock);
	if (!s)
		return NULL;
	acct_touch();
	acct_poll();
	return span_addr(s);
}

static void *small_alloc_slow(unsigned int c)
{
	struct tcache *tc = my_tc;
	void *p;

	if (unlikely(heap.frozen)) {
		errno = ENOMEM;
		return NULL;
	}
	if (!tc)
		tc = tc_create();
	if (tc) {
		struct tbin *b = &tc->bin[c];

		if (!b->n)
			b->n = arena_take(tc->arena, c, b->slot,
					  (b->cap + 1) / 2);
		if (!b->n) {
			errno = ENOMEM;
			return NULL;
		}
		p = b->slot[--b->n];
		acct_poll();
	} else {
		unsigned int ai = (unsigned int)((uintptr_t)&p >> 12) %
				  heap.narenas;

		if (!arena_take(ai, c, &p, 1)) {
			errno = ENOMEM;
			return NULL;
		}
	}
	((uint64_t *)p)[1] = 0;
	return p;
}

void *xa_malloc(size_t size)
{
	struct tcache *tc = my_tc;

	if (likely(size <= MAX_SMALL)) {
		unsigned int c = size_class(size);

		if (likely(tc != NULL)) {
			struct tbin *b = &tc->bin[c];

			if (likely(b->n)) {
				void *p = b->slot[--b->n];

				((uint64_t *)p)[1] = 0;
				return p;
			}
		}
		if (!heap_ready())
			goto fail;
		/* Before set-up the class table was empty: look again. */
		return small_alloc_slow(size_class(size));
	}
	if (!heap_ready())
		goto fail;
	return large_alloc(size, 0, SPAN_LARGE);
fail:
	errno = ENOMEM;
	return NULL;
}

static void large_free(struct span *s, const void *p)
{
	pthread_mutex_lock(&heap.lock);
	if ((s->kind != SPAN_LARGE && s->kind != SPAN_MMAP) ||
	    span_addr(s) != p) {
		pthread_mutex_unlock(&heap.lock);
		bad_free(s->kind == SPAN_MMAP ? "free() of an xmem_mmap() slab" :
			 "free() of a pointer not allocated", p);
	}
	heap.large_objs--;
	heap.large_pages -= s->npages;
	pages_free_locked(s);
	pthread_mutex_unlock(&heap.lock);
	acct_touch();
	acct_poll();
}

static struct span *owner_span(const void *ptr)
{
	uintptr_t off = (uintptr_t)ptr - heap.base;
	struct span *s;

	if (off >= heap.va_size)
		return NULL;
	s = span_at(off >> PG_SHIFT);
	if (!s || s->kind == SPAN_FREE || s->kind == SPAN_NONE)
		bad_free("double free or free() of a pointer not allocated",
			 ptr);
	return s;
}

/* Everything xa_free()'s fast path does not handle, checks included. */
static void __attribute__((noinline, cold)) free_slow(void *ptr)
{
	struct span *s;
	struct tcache *tc;

	if (!ptr || unlikely(heap.frozen))
		return;
	s = owner_span(ptr);
	if (!s)
		bad_free("free() of a pointer libxmem does not own", ptr);
	if (unlikely(s->kind != SPAN_SMALL)) {
		if (s->kind == SPAN_MMAP)
			bad_free("free() of an xmem_mmap() slab", ptr);
		large_free(s, ptr);
		return;
	}
	{
		uint32_t rel = (uint32_t)((uintptr_t)ptr - (uintptr_t)span_addr(s));
		uint32_t idx = (uint32_t)(((uint64_t)rel * cls_inv[s->cls]) >> 32);

		if (unlikely(idx * cls_size[s->cls] != rel))
			bad_free("free() of a pointer inside an object", ptr);
	}
	tc = my_tc;
	if (likely(tc != NULL)) {
		struct tbin *b = &tc->bin[s->cls];
		uint64_t *w = ptr;

		if (unlikely(w[1] == heap.tc_key)) {
			/* Maybe already in this cache: look. */
			unsigned int i;

			for (i = 0; i < b->n; i++)
				if (b->slot[i] == ptr)
					bad_free("double free", ptr);
		}
		if (unlikely(b->n == b->cap)) {
			tc_flush_bin(b, b->cap / 2);
			acct_poll();
		}
		w[1] = heap.tc_key;
		b->slot[b->n++] = ptr;
		return;
	}
	arena_put_many(&ptr, 1);
	acct_poll();
}

/*
 * free(): the fast path is a small object of this heap going into a
 * thread cache that has room, with nothing suspicious about it; a leaf
 * function of a few loads.  Anything else (NULL, foreign or large
 * pointers, a full cache, a possible double free) takes free_slow(),
 * which repeats the checks and says what is wrong.
 */
void xa_free(void *ptr)
{
	uintptr_t off = (uintptr_t)ptr - heap.base;
	struct tcache *tc = my_tc;
	const struct span *s;
	uint32_t sn, rel, idx;
	struct tbin *b;
	uint64_t *w = ptr;

	if (unlikely(off >= heap.va_size || !tc))
		goto slow;
	sn = heap.pagemap[off >> PG_SHIFT];
	s = &heap.spans[sn];
	if (unlikely(!sn || s->kind != SPAN_SMALL))
		goto slow;
	rel = (uint32_t)(off - ((uintptr_t)s->start << PG_SHIFT));
	idx = (uint32_t)(((uint64_t)rel * cls_inv[s->cls]) >> 32);
	b = &tc->bin[s->cls];
	if (unlikely(idx * cls_size[s->cls] != rel || b->n == b->cap ||
		     w[1] == heap.tc_key))
		goto slow;
	w[1] = heap.tc_key;
	b->slot[b->n++] = ptr;
	return;
slow:
	free_slow(ptr);
}

size_t xa_usable_size(const void *ptr)
{
	struct span *s;

	if (!ptr)
		return 0;
	s = owner_span(ptr);
	if (!s)
		return 0;
	if (s->kind == SPAN_SMALL)
		return cls_size[s->cls];
	return (size_t)s->npages << PG_SHIFT;
}

void *xa_calloc(size_t nmemb, size_t size)
{
	size_t n;
	void *p;

	if (__builtin_mul_overflow(nmemb, size, &n)) {
		errno = ENOMEM;
		return NULL;
	}
	p = xa_malloc(n);
	if (!p)
		return NULL;
	if (n > MAX_SMALL) {
		struct span *s = span_at(((uintptr_t)p - heap.base) >> PG_SHIFT);

		if (s->zeroed)
			return p;
	}
	memset(p, 0, n);
	return p;
}

void *xa_memalign(size_t align, size_t size)
{
	unsigned int c;

	if (!align || (align & (align - 1))) {
		errno = EINVAL;
		return NULL;
	}
	if (align <= 16)
		return xa_malloc(size);
	if (!heap_ready()) {
		errno = ENOMEM;
		return NULL;
	}
	if (align <= PG_SIZE && size <= MAX_SMALL) {
		size_t want = size < align ? align : size;

		/* Objects of a class sit at multiples of its size in a
		 * page-aligned slab: pick a class that is a multiple. */
		for (c = size_class(want); c < NCLASS; c++)
			if (!(cls_size[c] & (align - 1)))
				return small_alloc_slow(c);
	}
	if (size < PG_SIZE)
		size = PG_SIZE;
	return large_alloc(size, align, SPAN_LARGE);
}

/* A large block was resized in place under heap.lock: done. */
static void *realloc_in_place(void *ptr)
{
	pthread_mutex_unlock(&heap.lock);
	acct_touch();
	acct_poll();
	return ptr;
}

void *xa_realloc(void *ptr, size_t size)
{
	struct span *s;
	size_t old;
	void *p;

	if (!ptr)
		return xa_malloc(size);
	if (!size) {
		xa_free(ptr);
		return NULL;
	}
	s = owner_span(ptr);
	if (!s)
		bad_free("realloc() of a pointer libxmem does not own", ptr);
	if (s->kind == SPAN_SMALL) {
		old = cls_size[s->cls];
		if (size <= old && (size > old / 2 || old <= 16))
			return ptr;
	} else {
		uint32_t need = (uint32_t)((size + PG_SIZE - 1) >> PG_SHIFT);

		if (s->kind != SPAN_LARGE || span_addr(s) != ptr)
			bad_free("realloc() of a pointer not allocated", ptr);
		old = (size_t)s->npages << PG_SHIFT;
		if (size > MAX_SMALL && size <= heap.va_size) {
			pthread_mutex_lock(&heap.lock);
			if (need < s->npages) {
				/* Shrink in place; the tail goes back. */
				struct span *t = span_split(s, need);

				if (t) {
					heap.large_pages -= t->npages;
					pages_free_locked(t);
				}
				s->req = size;
				return realloc_in_place(ptr);
			}
			if (need == s->npages) {
				s->req = size;
				return realloc_in_place(ptr);
			}
			/* Grow in place into a free neighbour. */
			{
				uint32_t end = s->start + s->npages;
				struct span *r = end < heap.hw ? span_at(end) : NULL;
				uint32_t more = need - s->npages;

				if (r && r->kind == SPAN_FREE && r->npages >= more) {
					bin_remove(r);
					if (r->npages > more) {
						r->start += more;
						r->npages -= more;
						bin_insert(r);
					} else {
						span_recycle(r);
					}
					map_range(s, end, more);
					s->npages = need;
					s->req = size;
					heap.large_pages += more;
					return realloc_in_place(ptr);
				}
				/* At the top of the heap: extend it.  Growing
				 * buffers (sort's, for one) then never copy,
				 * which on remote memory would read and write
				 * the whole old block. */
				if ((end == heap.hw ||
				     (r && r->kind == SPAN_FREE &&
				      r->start + r->npages == heap.hw)) &&
				    (s->start + need <= heap.limit ||
				     !backend_extend(s->start + need))) {
					if (r && r->kind == SPAN_FREE && end < heap.hw) {
						bin_remove(r);
						span_recycle(r);
					}
					map_range(s, end, more);
					s->npages = need;
					s->req = size;
					heap.hw = s->start + need;
					if (heap.zero_hw < heap.hw)
						heap.zero_hw = heap.hw;
					heap.large_pages += more;
					return realloc_in_place(ptr);
				}
			}
			pthread_mutex_unlock(&heap.lock);
		}
	}
	p = xa_malloc(size);
	if (!p)
		return NULL;
	memcpy(p, ptr, size < old ? size : old);
	xa_free(ptr);
	return p;
}

void *xa_mmap(size_t length)
{
	struct span *s;
	void *p;

	if (!length || length > heap.va_size) {
		errno = length ? ENOMEM : EINVAL;
		return NULL;
	}
	if (!heap_ready()) {
		errno = ENOMEM;
		return NULL;
	}
	p = large_alloc(length, 0, SPAN_MMAP);
	if (!p)
		return NULL;
	s = span_at(((uintptr_t)p - heap.base) >> PG_SHIFT);
	if (!s->zeroed)
		memset(p, 0, (size_t)s->npages << PG_SHIFT);
	return p;
}

int xa_munmap(void *addr, size_t length)
{
	uintptr_t off = (uintptr_t)addr - heap.base;
	uint32_t first, end, page;
	int ret = 0;

	if (!heap.base || off >= heap.va_size || (off & (PG_SIZE - 1)) ||
	    !length || length > heap.va_size - off) {
		errno = EINVAL;
		return -1;
	}
	first = off >> PG_SHIFT;
	end = (uint32_t)((off + length + PG_SIZE - 1) >> PG_SHIFT);
	pthread_mutex_lock(&heap.lock);
	/* Like munmap(): every part of the range that is a slab goes. */
	for (page = first; page < end && page < heap.hw;) {
		struct span *s = span_at(page), *t;

		if (!s || s->kind != SPAN_MMAP) {
			if (s && s->kind != SPAN_FREE) {
				ret = -1;	/* not an xmem_mmap() slab */
				break;
			}
			page++;
			continue;
		}
		if (s->start < page) {
			t = span_split(s, page - s->start);
			if (!t) {
				ret = -1;
				break;
			}
			map_range(t, t->start, t->npages);
			s = t;
			heap.large_objs++;
		}
		if (s->start + s->npages > end) {
			t = span_split(s, end - s->start);
			if (!t) {
				ret = -1;
				break;
			}
			map_range(t, t->start, t->npages);
			heap.large_objs++;
		}
		page = s->start + s->npages;
		heap.large_objs--;
		heap.large_pages -= s->npages;
		pages_free_locked(s);
	}
	pthread_mutex_unlock(&heap.lock);
	acct_touch();
	acct_poll();
	if (ret)
		errno = EINVAL;
	return ret;
}

void *xa_mremap(void *old, size_t old_len, size_t new_len, int flags)
{
	struct span *s;
	void *p;

	s = owner_span(old);
	if (!s || s->kind != SPAN_MMAP || span_addr(s) != old || !new_len) {
		errno = EINVAL;
		return NULL;
	}
	old_len = (old_len + PG_SIZE - 1) & ~(PG_SIZE - 1);
	new_len = (new_len + PG_SIZE - 1) & ~(PG_SIZE - 1);
	if (new_len <= old_len) {
		if (new_len < old_len &&
		    xa_munmap((char *)old + new_len, old_len - new_len))
			return NULL;
		return old;
	}
	if (!(flags & MREMAP_MAYMOVE)) {
		errno = ENOMEM;
		return NULL;
	}
	p = xa_mmap(new_len);
	if (!p)
		return NULL;
	memcpy(p, old, old_len);
	xa_munmap(old, old_len);
	return p;
}

/* Accounting. */

static void stats_collect(struct xmem_alloc_stats *st)
{
	uint64_t objs = 0, bytes = 0;
	struct tcache *tc;
	unsigned int a, c;

	memset(st, 0, sizeof(*st));
	for (a = 0; a < heap.narenas; a++) {
		pthread_mutex_lock(&heap.arenas[a].lock);
		for (c = 0; c < NCLASS; c++) {
			objs += heap.arenas[a].allocated[c];
			bytes += heap.arenas[a].allocated[c] * cls_size[c];
		}
		pthread_mutex_unlock(&heap.arenas[a].lock);
	}
	/* Objects in thread caches are free (read without their owners'
	 * cooperation: exact only when the other threads are quiet). */
	pthread_mutex_lock(&heap.tc_lock);
	for (tc = heap.tc_list; tc; tc = tc->next)
		for (c = 0; c < NCLASS; c++) {
			objs -= tc->bin[c].n;
			bytes -= (uint64_t)tc->bin[c].n * cls_size[c];
		}
	pthread_mutex_unlock(&heap.tc_lock);
	pthread_mutex_lock(&heap.lock);
	st->region_bytes = heap.bk == BK_LOCAL ? 0 : heap.region_bytes;
	st->reserved_bytes = heap.mapped_bytes;
	st->local_bytes = heap.mapped_bytes - heap.shared_bytes;
	st->slabs = heap.slabs + heap.large_objs;
	st->slab_bytes = (heap.slab_pages + heap.large_pages) << PG_SHIFT;
	st->in_use_bytes = bytes + (heap.large_pages << PG_SHIFT);
	st->in_use_objects = objs + heap.large_objs;
	st->high_water_bytes = (uint64_t)heap.zero_hw << PG_SHIFT;
	st->grows = heap.grows;
	st->shrinks = heap.shrinks;
	st->released_bytes = heap.released;
	strcpy(st->backend, heap.bk == BK_XMEM ? "xmem" :
	       heap.bk == BK_ANON ? "anon" : "local");
	if (heap.bk == BK_XMEM)
		memcpy(st->region, heap.name, sizeof(st->region));
	pthread_mutex_unlock(&heap.lock);
}

/*
 * Tell the module what this process's heap holds of the region (see
 * acct_on).  Only the region's part counts: bytes_reserved is the region
 * mapped here, and blocks in local memory past it (XMEM_FALLBACK=local
 * with a region that could not grow) are left out by capping the others
 * at it.  A refused report (an old module: ENOTTY) stops the reports.
 * Caller holds acct_lock.
 */
static void acct_send(const struct xmem_alloc_stats *st)
{
	struct xmem_account a;

	if (!atomic_load(&acct_on) || heap.frozen || heap.bk != BK_XMEM ||
	    heap.fd < 0)
		return;
	memset(&a, 0, sizeof(a));
	a.bytes_reserved = st->reserved_bytes - st->local_bytes;
	a.bytes_in_use = st->in_use_bytes < a.bytes_reserved ?
			 st->in_use_bytes : a.bytes_reserved;
	a.slabs = st->slabs < a.bytes_reserved ? st->slabs : a.bytes_reserved;
	if (ioctl(heap.fd, XMEM_IOC_ACCOUNT, &a))
		atomic_store(&acct_on, 0);
}

static int64_t acct_now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC_COARSE, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

/*
 * Send a report if one is due.  Called by slow paths holding no lock of
 * the allocator; costs two loads when nothing changed.
 */
static void acct_poll(void)
{
	struct xmem_alloc_stats st;
	int64_t now;

	if (likely(!atomic_load_explicit(&acct_on, memory_order_relaxed)) ||
	    (!atomic_load_explicit(&acct_dirty, memory_order_relaxed) &&
	     !atomic_load_explicit(&acct_force, memory_order_relaxed)) ||
	    in_init)
		return;
	now = acct_now_ns();
	if (!atomic_load(&acct_force) && now < atomic_load(&acct_next_ns))
		return;
	if (pthread_mutex_trylock(&acct_lock))
		return;		/* another thread is reporting */
	atomic_store(&acct_force, 0);
	atomic_store(&acct_dirty, 0);
	atomic_store(&acct_next_ns, now + heap.acct_interval_ns);
	stats_collect(&st);
	acct_send(&st);
	pthread_mutex_unlock(&acct_lock);
}

static void put_kv(int fd, const char *key, uint64_t v)
{
	char line[128], num[24];

	line[0] = 0;
	strcat(line, "libxmem: ");
	strcat(line, key);
	strcat(line, " ");
	strcat(line, xa_fmt_u64(num, v));
	strcat(line, "\n");
	xa_puts(fd, line);
}

static void print_stats(int fd)
{
	struct xmem_alloc_stats st;
	char line[160];

	stats_collect(&st);
	strcpy(line, "libxmem: backend ");
	strcat(line, st.backend);
	if (st.region[0]) {
		strcat(line, " region ");
		strcat(line, st.region);
	}
	strcat(line, "\n");
	xa_puts(fd, line);
	put_kv(fd, "region_bytes", st.region_bytes);
	put_kv(fd, "sole", heap.bk == BK_XMEM && heap.sole);
	put_kv(fd, "reserved_bytes", st.reserved_bytes);
	put_kv(fd, "local_bytes", st.local_bytes);
	put_kv(fd, "slabs", st.slabs);
	put_kv(fd, "slab_bytes", st.slab_bytes);
	put_kv(fd, "in_use_bytes", st.in_use_bytes);
	put_kv(fd, "in_use_objects", st.in_use_objects);
	put_kv(fd, "high_water_bytes", st.high_water_bytes);
	put_kv(fd, "grows", st.grows);
	put_kv(fd, "shrinks", st.shrinks);
	put_kv(fd, "released_bytes", st.released_bytes);
}

static uint64_t leak_check(int fd)
{
	struct xmem_alloc_stats st;
	uint32_t page, shown = 0;
	char line[160], num[24];

	stats_collect(&st);
	strcpy(line, "libxmem: leak check: ");
	strcat(line, xa_fmt_u64(num, st.in_use_objects));
	strcat(line, " allocations, ");
	strcat(line, xa_fmt_u64(num, st.in_use_bytes));
	strcat(line, " bytes still in use\n");
	xa_puts(fd, line);
	pthread_mutex_lock(&heap.lock);
	for (page = 0; page < heap.hw && shown < 10;) {
		struct span *s = span_at(page);

		if (!s || s->kind == SPAN_FREE) {
			page = s ? s->start + s->npages : page + 1;
			continue;
		}
		if (s->kind != SPAN_SMALL) {
			strcpy(line, "libxmem: leak: ");
			strcat(line, fmt_hex(num, (uintptr_t)span_addr(s)));
			strcat(line, s->kind == SPAN_MMAP ? " xmem_mmap " :
			       " malloc ");
			strcat(line, xa_fmt_u64(num, s->req));
			strcat(line, " bytes\n");
			xa_puts(fd, line);
			shown++;
		}
		page = s->start + s->npages;
	}
	pthread_mutex_unlock(&heap.lock);
	return st.in_use_objects;
}

/* Fork. */

static pthread_mutex_t fork_lock = PTHREAD_MUTEX_INITIALIZER;
static int fork_pipe[2] = { -1, -1 };
static bool fork_held;		/* fork_prepare() took the locks */
/* XMEM_FORK=copy: a file bound to the child's copy of the region. */
static int fork_fd = -1;
static char fork_name[XMEM_REGION_NAME_MAX];

#ifdef XMEM_SNAPSHOT_TEMP
/*
 * Have the appliance copy the heap's region for the child to come
 * (XMEM_IOC_SNAPSHOT with TEMP): a new region, bound to a new file that
 * the child inherits and maps in place of the region.  The copy lives as
 * long as that file: the module destroys it when the child has exited or
 * exec()ed, and when fork() fails or the parent closes its duplicate.
 * The module holds this process's writers while it writes the region
 * back and the appliance copies, so the copy is the region at one
 * instant.  Called with the heap's locks held.  On failure (a module or
 * an appliance that cannot, no room) the child copies into local memory.
 */
static void fork_snapshot(void)
{
	static bool told;
	const char *dev = getenv("XMEM_DEVICE");
	struct xmem_snapshot s;
	int fd, err = 0, tries;

	fd = open(dev && *dev ? dev : "/dev/xmem", O_RDWR | O_CLOEXEC);
	if (fd < 0) {
		err = sys_err();
		goto fail;
	}
	for (tries = 0; tries < 4; tries++) {
		memset(&s, 0, sizeof(s));
		memcpy(s.src, heap.name, sizeof(s.src));
		err = region_name(s.dst, "libxmem-%p-fork-%r");
		if (err)
			break;
		s.flags = XMEM_SNAPSHOT_TEMP;
		if (!ioctl(fd, XMEM_IOC_SNAPSHOT, &s)) {
			memcpy(fork_name, s.dst, sizeof(fork_name));
			fork_fd = fd;
			return;
		}
		err = sys_err();
		if (err != -EEXIST)
			break;
	}
	close(fd);
fail:
	if (!told) {
		told = true;
		say("fork: no copy of the region on the appliance for the child (",
		    strerror(-err), "); the child copies the heap into local memory");
	}
}
#else
static void fork_snapshot(void)
{
}
#endif

static void fork_prepare(void)
{
	unsigned int a;

	if (atomic_load(&heap_state) != 2)
		return;
	pthread_mutex_lock(&fork_lock);
	fork_held = true;
	if (heap.bk == BK_XMEM || heap.bk == BK_ANON) {
		if (pipe2(fork_pipe, O_CLOEXEC))
			fork_pipe[0] = fork_pipe[1] = -1;
	}
	for (a = 0; a < heap.narenas; a++)
		pthread_mutex_lock(&heap.arenas[a].lock);
	pthread_mutex_lock(&heap.tc_lock);
	pthread_mutex_lock(&heap.lock);
	if (heap.bk == BK_XMEM && !heap.fork_share && !heap.fork_local)
		fork_snapshot();
}

static void fork_parent(void)
{
	unsigned int a;
	char c;

	if (!fork_held)
		return;
	fork_held = false;
	pthread_mutex_unlock(&heap.lock);
	pthread_mutex_unlock(&heap.tc_lock);
	for (a = 0; a < heap.narenas; a++)
		pthread_mutex_unlock(&heap.arenas[a].lock);
	if (fork_pipe[1] >= 0) {
		/* Wait until the child has its own copy of the heap, so it
		 * copies what the heap held at fork().  EOF: no child (fork
		 * failed) or it is gone. */
		close(fork_pipe[1]);
		while (read(fork_pipe[0], &c, 1) < 0 && errno == EINTR)
			;
		close(fork_pipe[0]);
		fork_pipe[0] = fork_pipe[1] = -1;
	}
	/* The child has its duplicate; without a child the copy goes. */
	if (fork_fd >= 0)
		close(fork_fd);
	fork_fd = -1;
	pthread_mutex_unlock(&fork_lock);
}

/*
 * XMEM_FORK=copy with the appliance's copy made in fork_snapshot(): map
 * it in place of the region and go on with it as this process's own
 * region.  Returns false if it cannot be mapped (the file is closed
 * then, which destroys the copy).
 */
static bool fork_child_region(void)
{
	int old = heap.fd;

	heap.fd = fork_fd;
	if (map_shared(0, heap.shared_bytes)) {
		heap.fd = old;
		close(fork_fd);
		fork_fd = -1;
		return false;
	}
	if (old >= 0)
		close(old);
	memcpy(heap.name, fork_name, sizeof(heap.name));
	fork_fd = -1;
	return true;
}

/*
 * The child's heap mapping is MAP_SHARED, so without care parent and
 * child would allocate from, and write to, the same pages.  Default
 * (XMEM_FORK=copy): the child maps the appliance's copy of the region
 * (fork_child_region()).  Without one (XMEM_FORK=local, the anon backend,
 * or the copy failed) the child replaces the region's pages by a private
 * local copy of the slabs in use, then continues on local memory only.
 */
static void fork_child_copy(void)
{
	size_t len = heap.shared_bytes, used = (size_t)heap.hw << PG_SHIFT;
	uint32_t page, end;
	char *tmp;

	if (used > len)
		used = len;
	tmp = raw_mmap(NULL, len, PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if (tmp == MAP_FAILED)
		goto fail;
	end = (uint32_t)(used >> PG_SHIFT);
	for (page = 0; page < end;) {
		struct span *s = span_at(page);
		uint32_t n;

		if (!s) {
			page++;
			continue;
		}
		n = s->start + s->npages > end ? end - s->start : s->npages;
		if (s->kind != SPAN_FREE)
			memcpy(tmp + ((size_t)s->start << PG_SHIFT),
			       span_addr(s), (size_t)n << PG_SHIFT);
		page = s->start + s->npages;
	}
	if (mremap(tmp, len, len, MREMAP_MAYMOVE | MREMAP_FIXED,
		   (void *)heap.base) != (void *)heap.base)
		goto fail;
	if (heap.fd >= 0)
		close(heap.fd);
	heap.fd = -1;
	heap.bk = BK_LOCAL;
	heap.shared_bytes = 0;
	heap.can_resize = false;
	return;
fail:
	say("fork: cannot copy the heap for the child: ", strerror(errno),
	    "; the child exits");
	_exit(127);
}

static void fork_child(void)
{
	struct tcache *tc, *next;
	unsigned int a;

	if (!fork_held)
		return;
	fork_held = false;
	pthread_mutex_init(&heap.lock, NULL);
	pthread_mutex_init(&heap.tc_lock, NULL);
	for (a = 0; a < heap.narenas; a++)
		pthread_mutex_init(&heap.arenas[a].lock, NULL);
	pthread_mutex_init(&fork_lock, NULL);
	/* The child's heap is its own copy or frozen: nothing to report. */
	pthread_mutex_init(&acct_lock, NULL);
	atomic_store(&acct_on, 0);
	if (fork_pipe[0] >= 0)
		close(fork_pipe[0]);
	if (heap.fork_share && (heap.bk == BK_XMEM || heap.bk == BK_ANON)) {
		/* The heap stays shared with the parent: this child must not
		 * allocate from it nor free into it (the frees are dropped). */
		heap.frozen = true;
		my_tc = NULL;
		my_tc_dead = 1;
	} else if (fork_fd >= 0 && fork_child_region()) {
		/* On its own region, as the parent is on its own. */
	} else if (heap.bk == BK_XMEM || heap.bk == BK_ANON) {
		fork_child_copy();
	}
	/* Threads other than this one are gone: their caches come back. */
	for (tc = heap.tc_list; tc && !heap.frozen; tc = next) {
		next = tc->next;
		if (tc != my_tc)
			tc_destroy(tc);
	}
	if (fork_pipe[1] >= 0)
		close(fork_pipe[1]);	/* the parent goes on */
	fork_pipe[0] = fork_pipe[1] = -1;
}

void xa_setup_process(void)
{
	static _Atomic int done;

	if (atomic_exchange(&done, 1))
		return;
	if (!pthread_key_create(&tc_key_exit, tc_thread_exit))
		key_ready = true;
	pthread_atfork(fork_prepare, fork_parent, fork_child);
	if (my_tc && key_ready)
		pthread_setspecific(tc_key_exit, my_tc);
}

__attribute__((constructor)) static void xa_constructor(void)
{
	xa_setup_process();
}

__attribute__((destructor)) static void xa_destructor(void)
{
	if (atomic_load(&heap_state) != 2)
		return;
	if (!heap.stats_at_exit && !heap.leak_check)
		return;
	if (my_tc)
		tc_flush_all(my_tc);
	if (heap.stats_at_exit)
		print_stats(heap.report_fd >= 0 ? heap.report_fd : 2);
	if (heap.leak_check)
		leak_check(heap.report_fd >= 0 ? heap.report_fd : 2);
}

/* The public API. */

#define XA_API __attribute__((visibility("default")))

XA_API void *xmem_malloc(size_t size)
{
	return xa_malloc(size);
}

XA_API void *xmem_calloc(size_t nmemb, size_t size)
{
	return xa_calloc(nmemb, size);
}

XA_API void *xmem_realloc(void *ptr, size_t size)
{
	return xa_realloc(ptr, size);
}

XA_API void xmem_free(void *ptr)
{
	xa_free(ptr);
}

XA_API void *xmem_aligned_alloc(size_t alignment, size_t size)
{
	return xa_memalign(alignment, size);
}

XA_API int xmem_posix_memalign(void **memptr, size_t alignment, size_t size)
{
	void *p;
	int saved = errno;

	if (!alignment || (alignment & (alignment - 1)) ||
	    alignment % sizeof(void *))
		return EINVAL;
	p = xa_memalign(alignment, size);
	if (!p) {
		int err = errno;

		errno = saved;
		return err;
	}
	*memptr = p;
	return 0;
}

XA_API size_t xmem_usable_size(const void *ptr)
{
	return xa_usable_size(ptr);
}

XA_API void *xmem_mmap(size_t length)
{
	return xa_mmap(length);
}

XA_API int xmem_munmap(void *addr, size_t length)
{
	return xa_munmap(addr, length);
}

XA_API int xmem_owns(const void *ptr)
{
	return xa_owns(ptr);
}

XA_API int xmem_alloc_init(void)
{
	int err = xa_init();

	if (err) {
		errno = -err;
		return -1;
	}
	return 0;
}

XA_API int xmem_alloc_stats(struct xmem_alloc_stats *st)
{
	if (!heap_ready()) {
		errno = ENODEV;
		return -1;
	}
	/* The module's view follows: publish them (acct_poll()). */
	pthread_mutex_lock(&acct_lock);
	atomic_store(&acct_dirty, 0);
	stats_collect(st);
	acct_send(st);
	pthread_mutex_unlock(&acct_lock);
	return 0;
}

XA_API void xmem_alloc_print_stats(int fd)
{
	if (heap_ready())
		print_stats(fd);
}

XA_API uint64_t xmem_leak_check(int fd)
{
	if (!heap_ready())
		return 0;
	if (my_tc)
		tc_flush_all(my_tc);
	return leak_check(fd);
}
