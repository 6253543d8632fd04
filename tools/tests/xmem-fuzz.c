// SPDX-License-Identifier: GPL-2.0
/*
 * xmem-fuzz: random and mutated input to /dev/xmem and to the sysfs knobs
 * of the module, checked against what include/uapi/xmem.h and
 * Documentation/ABI/testing/sysfs-class-misc-xmem promise.
 *
 * Usage: xmem-fuzz [--seed N] [--count N] [--bulk N] [--sysfs N] [TEST...]
 *
 *   ioctl        --count inputs: every XMEM_IOC_* built from a valid
 *                template and then mutated (bit flips, boundary sizes,
 *                bad names, unknown flags, reserved fields, bad or
 *                faulting argument pointers, arguments inside an xmem
 *                mapping), random command numbers, on unbound and bound
 *                files; mmap, munmap, msync, mprotect, mremap, madvise,
 *                fsync, read and write with odd offsets and lengths on
 *                bound files, and touches of what got mapped
 *   ioctl-bulk   --bulk ioctls that must all be refused before any work
 *                (the mutations above forced onto a checked field, and
 *                unknown commands): cheap, so slow kernels get many
 *   sysfs        --sysfs writes to every writable file of the module
 *                (regions/<name>/ too).  Knobs whose valid values would
 *                disturb the run (appliance, appliance_add,
 *                appliance_remove, secret, placement) get only input that
 *                must be refused; the others get valid and invalid values
 *   still-works  a fresh region, a pattern over 2x local_limit, msync,
 *                the cache dropped, read back and verified; counters
 *                consistent
 *
 * Every input has a predicted outcome: an input that must be refused must
 * fail with the documented errno and change nothing; one that must work
 * must work.  A failure prints the seed, the test and the input's number,
 * so "--seed S --count N TEST" replays it.  Every knob's value is saved
 * before and restored after each test.  Region names carry the process id.
 */
#define _GNU_SOURCE
#include <ctype.h>
#include <dirent.h>
#include <fcntl.h>
#include <inttypes.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <xmem_proto.h>

#include "xsys.h"
#include "xtest.h"

#define PAGE		4096ull
#define TB		(1ull << 40)
/* Sizes of regions this test creates stay small; see fz_size_guard(). */
#define SMALL_MAX	(1 * MiB)
#define HUGE_NOMEM	(64ull << 30)	/* above any test-bed capacity */

#ifndef XMEM_IOC_ACCOUNT
/* Contract of the ACCOUNT ioctl (allocator accounting), not merged yet. */
struct xmem_account {
	__u64 slabs;
	__u64 bytes_in_use;
	__u64 bytes_reserved;
	__u64 reserved[5];
};
#define XMEM_IOC_ACCOUNT _IOWR(XMEM_IOC_MAGIC, 8, struct xmem_account)
#endif

/* Inputs done, shared with the parent for the summary line. */
struct fz_counts {
	uint64_t ioctls, mm, sysfs;
};
static struct fz_counts *fz_n;

static uint64_t fz_seed, fz_count = 20000, fz_sysfs = 5000, fz_bulk = 20000;
/* The ioctl-bulk test: every input must be refused before any work. */
static bool fz_malformed;
static uint64_t fz_rs;
static uint64_t fz_iter;
static char fz_desc[768];
static const char *fz_test;

/* ---- randomness and reporting ---------------------------------------- */

static uint64_t rnd(void)
{
	uint64_t x = (fz_rs += 0x9e3779b97f4a7c15ull);

	x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
	x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
	return x ^ (x >> 31);
}

static uint64_t below(uint64_t n)
{
	return n ? rnd() % n : 0;
}

static bool chance(unsigned int percent)
{
	return below(100) < percent;
}

static void fz_start(const char *test, unsigned int nr)
{
	fz_test = test;
	fz_rs = fz_seed * 0x2545f4914f6cdd1dull + nr;
	fz_iter = 0;
}

/*
 * In soft mode (the sysfs test, whose model is read afresh for each
 * input) a failing input is reported and the fuzz goes on, so one run
 * finds every kind of failure; the test fails at the end.
 */
static jmp_buf fz_jmp;
static bool fz_soft;
static uint64_t fz_soft_fails;
static char fz_first_fail[400];

#define FZ_FAIL(fmt, ...) do {						\
	if (fz_soft) {							\
		fz_soft_fail("seed %" PRIu64 " %s input %" PRIu64 ": %s: "	\
			     fmt, fz_seed, fz_test, fz_iter, fz_desc,	\
			     ##__VA_ARGS__);				\
		longjmp(fz_jmp, 1);					\
	}								\
	FAIL("seed %" PRIu64 " %s input %" PRIu64 ": %s: " fmt, fz_seed,	\
	     fz_test, fz_iter, fz_desc, ##__VA_ARGS__);		\
} while (0)

__attribute__((format(printf, 1, 2)))
static void fz_soft_fail(const char *fmt, ...)
{
	char buf[sizeof(fz_first_fail)];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	if (!fz_soft_fails++)
		snprintf(fz_first_fail, sizeof(fz_first_fail), "%s", buf);
	if (fz_soft_fails <= 10)
		xt_diag("FAILED: %s", buf);
}

__attribute__((format(printf, 1, 2)))
static void desc(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(fz_desc, sizeof(fz_desc), fmt, ap);
	va_end(ap);
}

__attribute__((format(printf, 1, 2)))
static void desc_add(const char *fmt, ...)
{
	size_t n = strlen(fz_desc);
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(fz_desc + n, sizeof(fz_desc) - n, fmt, ap);
	va_end(ap);
}

/* A name for messages: printable, escapes for the rest, no NUL needed. */
static const char *show_name(const char *name, size_t max)
{
	static char buf[4 * 64 + 8];
	size_t i, o = 0;

	for (i = 0; i < max && name[i] && o < sizeof(buf) - 5; i++) {
		unsigned char c = name[i];

		if (c > ' ' && c < 127 && c != '\\')
			buf[o++] = c;
		else
			o += snprintf(buf + o, 5, "\\x%02x", c);
	}
	if (i == max)
		o += snprintf(buf + o, sizeof(buf) - o, "<noNUL>");
	buf[o] = '\0';
	return buf;
}

/* Outcomes allowed for one input: 0 is success, else errno values. */
struct want {
	unsigned int n;
	int v[6];
};

#define WANT(...) ((struct want){ .n = sizeof((int[]){ __VA_ARGS__ }) /	\
				  sizeof(int), .v = { __VA_ARGS__ } })

static bool want_has(const struct want *w, int e)
{
	unsigned int i;

	for (i = 0; i < w->n; i++)
		if (w->v[i] == e)
			return true;
	return false;
}

/* Check a syscall result against @w; returns the outcome (0 or errno). */
static int check(long ret, int err, struct want w)
{
	int got = ret < 0 ? err : 0;
	char list[128] = "";
	unsigned int i;

	if (want_has(&w, got))
		return got;
	for (i = 0; i < w.n; i++)
		snprintf(list + strlen(list), sizeof(list) - strlen(list),
			 "%s%s", i ? "|" : "", w.v[i] ? xt_errname(w.v[i]) :
			 "success");
	FZ_FAIL("expected %s, got %s", list, got ? xt_errname(got) :
		"success");
}

/* The syscall first, then errno: argument order is unspecified. */
#define CHECK(expr, w) ({						\
	long _ret = (long)(expr);					\
	int _err = errno;						\
	check(_ret, _err, w);						\
})

/* ---- names and sizes ---------------------------------------------------- */

/* include/uapi/xmem.h: 1 to 63 of [A-Za-z0-9._-], NUL, not "." or "..". */
static bool name_valid(const char *name, size_t max)
{
	size_t len = strnlen(name, max), i;

	if (!len || len >= 64 || len >= max)
		return false;
	for (i = 0; i < len; i++) {
		char c = name[i];

		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
		      (c >= '0' && c <= '9') || c == '.' || c == '_' || c == '-'))
			return false;
	}
	return strcmp(name, ".") && strcmp(name, "..");
}

static const char fz_chars[] =
	"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._-";

static char fz_prefix[24];

#define NPOOL	6

static void pool_name(char *name, unsigned int i)
{
	snprintf(name, 64, "%sr%u", fz_prefix, i);
}

/* Corrupt a name buffer of 64 bytes in one of the ways names go wrong. */
static void mutate_name(char *name)
{
	size_t len = strnlen(name, 64);
	static const char bad[] = "/ \t\n\\\x7f\x80\xe9\xff:*?\"'$";

	switch (below(11)) {
	case 0:		/* empty */
		memset(name, 0, 64);
		break;
	case 1:		/* no NUL at all */
		memset(name, 'a' + below(26), 64);
		break;
	case 2:		/* the longest valid name */
		snprintf(name, 64, "%s", fz_prefix);
		for (len = strlen(name); len < 63; len++)
			name[len] = fz_chars[below(sizeof(fz_chars) - 1)];
		name[63] = '\0';
		break;
	case 3:
		memset(name, 0, 64);
		strcpy(name, chance(50) ? "." : "..");
		break;
	case 4:		/* a bad character somewhere */
		if (len)
			name[below(len)] = bad[below(sizeof(bad) - 1)];
		break;
	case 5:		/* garbage after the NUL: still the same name */
		if (len < 63)
			name[len + 1 + below(63 - len)] = (char)rnd();
		break;
	case 6:		/* random bytes */
		for (len = 0; len < 64; len++)
			name[len] = (char)rnd();
		break;
	case 7:		/* a bit flip */
		name[below(64)] ^= 1 << below(8);
		break;
	case 8:		/* truncated */
		if (len)
			name[below(len)] = '\0';
		break;
	case 9:		/* another valid name of ours */
		memset(name, 0, 64);
		snprintf(name, 64, "%sm%" PRIu64, fz_prefix, below(4));
		break;
	default:	/* the NUL removed */
		if (len < 64)
			name[len] = 'z';
		break;
	}
}

static uint64_t boundary_size(void)
{
	static const uint64_t v[] = {
		0, 1, PAGE - 1, PAGE, PAGE + 1, 2 * PAGE, 64 * KiB, SMALL_MAX,
		SMALL_MAX + PAGE, TB, TB + PAGE, TB - 1, 1ull << 63,
		(1ull << 63) + PAGE, ~0ull, ~0ull - PAGE + 1, ~0ull << 12,
		HUGE_NOMEM, 1ull << 32, (1ull << 32) - PAGE,
	};

	return v[below(sizeof(v) / sizeof(v[0]))];
}

static uint64_t small_size(void)
{
	static const uint64_t v[] = { PAGE, 2 * PAGE, 16 * PAGE, 64 * KiB,
				      256 * KiB, SMALL_MAX };

	return v[below(sizeof(v) / sizeof(v[0]))];
}

static uint64_t mutate_size(uint64_t size)
{
	switch (below(3)) {
	case 0:
		return boundary_size();
	case 1:
		return size ^ (1ull << below(64));
	default:
		return size + (below(2) ? PAGE : -PAGE) * (1 + below(3));
	}
}

/*
 * Region sizes that would make the appliance pin real memory stay small:
 * a valid size above SMALL_MAX becomes one above any capacity (ENOMEM).
 */
static uint64_t fz_size_guard(uint64_t size)
{
	if (!(size % PAGE) && size > SMALL_MAX && size < HUGE_NOMEM)
		return HUGE_NOMEM;
	return size;
}

/* ---- the model of regions, files and mappings -------------------------- */

#define MAXREG	64
#define MAXFD	8
#define MAXMAP	24

struct fz_region {
	char name[64];
	bool exists;		/* on the appliance */
	bool here;		/* attached on this client */
	bool sole;		/* here, and held alone (XMEM_ATTACH_SOLE) */
	uint64_t size;
	uint64_t id;
};

struct fz_file {
	int fd;
	int reg;		/* index in fz_regs, or -1: unbound */
};

struct fz_map {
	char *addr;
	uint64_t len;
	int reg;
	uint64_t off;		/* region offset of addr */
	int prot;
	bool used;
	bool dead;		/* beyond a shrink: never touched again */
};

static struct fz_region fz_regs[MAXREG];
static unsigned int fz_nregs;
static struct fz_file fz_files[MAXFD];
static struct fz_map fz_maps[MAXMAP];
static char *fz_guard;		/* a page, then a PROT_NONE page */

static int reg_find(const char *name)
{
	unsigned int i;

	for (i = 0; i < fz_nregs; i++)
		if (!strcmp(fz_regs[i].name, name))
			return i;
	return -1;
}

static int reg_add(const char *name)
{
	int i = reg_find(name);

	if (i >= 0)
		return i;
	if (fz_nregs == MAXREG)
		FZ_FAIL("more than %d regions created", MAXREG);
	memset(&fz_regs[fz_nregs], 0, sizeof(fz_regs[0]));
	snprintf(fz_regs[fz_nregs].name, 64, "%s", name);
	return fz_nregs++;
}

static unsigned int reg_users(int reg)
{
	unsigned int i, n = 0;

	for (i = 0; i < MAXFD; i++)
		n += fz_files[i].fd >= 0 && fz_files[i].reg == reg;
	for (i = 0; i < MAXMAP; i++)
		n += fz_maps[i].used && fz_maps[i].reg == reg;
	return n;
}

static int open_dev(void)
{
	int fd = open(XMEM_DEV, O_RDWR | O_CLOEXEC);

	if (fd < 0)
		FZ_FAIL("open %s: %s", XMEM_DEV, xt_errname(errno));
	return fd;
}

/* Live mapping bytes [a, a + l) fully inside the region's current size? */
static bool map_alive(const struct fz_map *m)
{
	const struct fz_region *r = &fz_regs[m->reg];

	return r->here && !m->dead && m->off + m->len <= r->size;
}

/* Forget [a, a + l) of every mapping, as munmap() did. */
static void maps_cut(char *a, uint64_t l)
{
	unsigned int i, j;

	for (i = 0; i < MAXMAP; i++) {
		struct fz_map *m = &fz_maps[i];
		char *s = m->addr, *e = m->addr + m->len;

		if (!m->used || a + l <= s || a >= e)
			continue;
		if (a <= s && a + l >= e) {
			m->used = false;
		} else if (a <= s) {
			m->off += a + l - s;
			m->addr = a + l;
			m->len = e - (a + l);
		} else if (a + l >= e) {
			m->len = a - s;
		} else {
			for (j = 0; j < MAXMAP && fz_maps[j].used; j++)
				;
			if (j == MAXMAP)
				FZ_FAIL("mapping table full");
			fz_maps[j] = *m;
			fz_maps[j].addr = a + l;
			fz_maps[j].off = m->off + (a + l - s);
			fz_maps[j].len = e - (a + l);
			m->len = a - s;
		}
	}
}

/* ---- argument pointers ------------------------------------------------ */

enum argkind { ARG_OK, ARG_NULL, ARG_BAD, ARG_STRADDLE, ARG_XMEM };

/* ARG_XMEM: the region holding the argument, and where it ends in it. */
static int fz_arg_reg;
static uint64_t fz_arg_end;

/*
 * Where the ioctl's argument of @len bytes goes: the caller's buffer, or
 * a pointer that faults, or a copy inside a live xmem mapping (the
 * argument copies then fault on xmem pages themselves).
 */
static void *place_arg(void *buf, size_t len, enum argkind *kind)
{
	static void *const bad[] = {
		(void *)8, (void *)0xdead0000ul, (void *)0xffff888000000000ul,
		(void *)0xfffffffffffff000ul, (void *)0x7ffffffff000ul,
	};
	unsigned int p = below(100), i;

	*kind = ARG_OK;
	if (p < 2) {
		*kind = ARG_NULL;
		return NULL;
	}
	if (p < 5) {
		*kind = ARG_BAD;
		return bad[below(sizeof(bad) / sizeof(bad[0]))];
	}
	if (p < 8) {
		/* The struct crosses into the PROT_NONE page. */
		*kind = ARG_STRADDLE;
		return fz_guard + PAGE - 1 - below(len - 1);
	}
	if (p < 13) {
		for (i = 0; i < 4; i++) {
			struct fz_map *m = &fz_maps[below(MAXMAP)];
			uint64_t at;

			if (!m->used || !map_alive(m) || m->len < len ||
			    (m->prot & (PROT_READ | PROT_WRITE)) !=
			    (PROT_READ | PROT_WRITE))
				continue;
			at = below(m->len - len + 1) & ~7ull;
			memcpy(m->addr + at, buf, len);
			fz_arg_reg = m->reg;
			fz_arg_end = m->off + at + len;
			*kind = ARG_XMEM;
			return m->addr + at;
		}
	}
	return buf;
}

static const char *const argkind_names[] = {
	"", " arg=NULL", " arg=bad", " arg=straddling", " arg=in-xmem"
};

/* After an ioctl with the argument in xmem memory: copy the answer back. */
static void take_arg(void *buf, const void *arg, size_t len, enum argkind k)
{
	if (k == ARG_XMEM)
		memcpy(buf, arg, len);
}

/* ---- ioctls -------------------------------------------------------------- */

static int pick_file(bool bound)
{
	unsigned int i, start = below(MAXFD);

	for (i = 0; i < MAXFD; i++) {
		struct fz_file *f = &fz_files[(start + i) % MAXFD];

		if (f->fd >= 0 && (f->reg >= 0) == bound)
			return (start + i) % MAXFD;
	}
	return -1;
}

static int any_file(void)
{
	int i = pick_file(chance(50));

	return i >= 0 ? i : pick_file(true) >= 0 ? pick_file(true) :
		pick_file(false);
}

/* A region name: one of the pool, one we know, or a mutated one. */
/*
 * A valid name outside this process's prefix ("f", a truncated
 * "fz1a2b-r3") may exist on the appliance, made by an earlier phase or
 * another program: the model cannot know, so such a name is never sent
 * (made invalid instead).  Called on every name just before it is used.
 */
static void no_foreign_name(char *name)
{
	if (name_valid(name, 64) && reg_find(name) < 0 &&
	    strncmp(name, fz_prefix, strlen(fz_prefix)))
		name[0] = '/';
}

static void gen_name(char *name)
{
	memset(name, 0, 64);
	if (fz_nregs && chance(30))
		snprintf(name, 64, "%s", fz_regs[below(fz_nregs)].name);
	else
		pool_name(name, below(NPOOL));
	if (chance(20))
		mutate_name(name);
	/* Bound the regions this run may create: no new valid names late. */
	if (fz_nregs >= MAXREG - 16 && name_valid(name, 64) &&
	    reg_find(name) < 0)
		name[0] = '/';
	no_foreign_name(name);
}

/* Make the name in @name invalid: a '/' inside it, not after its NUL. */
static void break_name(char *name)
{
	name[below(strnlen(name, 64) ?: 1)] = '/';
}

static void do_version(int fi)
{
	struct xmem_version v;
	enum argkind k;
	void *arg;
	int got;

	memset(&v, 0, sizeof(v));
	if (chance(30) || fz_malformed)
		v.reserved[below(2)] = rnd() | 1;
	if (chance(10))
		v.major = rnd();
	desc("VERSION reserved=%#llx,%#llx", (unsigned long long)v.reserved[0],
	     (unsigned long long)v.reserved[1]);
	arg = place_arg(&v, sizeof(v), &k);
	desc_add("%s", argkind_names[k]);
	got = CHECK(ioctl(fz_files[fi].fd, XMEM_IOC_VERSION, arg),
		    k != ARG_OK && k != ARG_XMEM ? WANT(EFAULT) :
		    v.reserved[0] || v.reserved[1] ? WANT(EINVAL) : WANT(0));
	take_arg(&v, arg, sizeof(v), k);
	if (!got && (v.major != XMEM_UAPI_MAJOR || v.proto_major !=
		     XMEM_PROTO_MAJOR))
		FZ_FAIL("VERSION answered %u.%u, protocol %u.%u", v.major,
			v.minor, v.proto_major, v.proto_minor);
}

static void do_info(int fi)
{
	struct xmem_region_info ri;
	struct fz_file *f = &fz_files[fi];
	enum argkind k;
	void *arg;
	int got;

	memset(&ri, 0, sizeof(ri));
	if (chance(25) || fz_malformed)
		ri.reserved[below(4)] = 1ull << below(64);
	if (chance(10))
		ri.size = rnd();
	desc("INFO on %s fd reserved=%d", f->reg >= 0 ? "bound" : "unbound",
	     !!(ri.reserved[0] | ri.reserved[1] | ri.reserved[2] |
		ri.reserved[3]));
	arg = place_arg(&ri, sizeof(ri), &k);
	desc_add("%s", argkind_names[k]);
	got = CHECK(ioctl(f->fd, XMEM_IOC_INFO, arg),
		    k != ARG_OK && k != ARG_XMEM ? WANT(EFAULT) :
		    ri.reserved[0] | ri.reserved[1] | ri.reserved[2] |
		    ri.reserved[3] ? WANT(EINVAL) :
		    f->reg < 0 ? WANT(ENXIO) : WANT(0));
	take_arg(&ri, arg, sizeof(ri), k);
	if (got)
		return;
	if (ri.size != fz_regs[f->reg].size || ri.resident_bytes > ri.size ||
	    ri.dirty_bytes > ri.resident_bytes)
		FZ_FAIL("INFO: size %llu (want %llu), resident %llu, dirty %llu",
			(unsigned long long)ri.size,
			(unsigned long long)fz_regs[f->reg].size,
			(unsigned long long)ri.resident_bytes,
			(unsigned long long)ri.dirty_bytes);
}

/* xmem_check_attach(): is the request itself malformed? */
static bool attach_malformed(const struct xmem_attach *a)
{
	const uint32_t known = XMEM_ATTACH_CREATE | XMEM_ATTACH_EXCL |
			       XMEM_ATTACH_MODE | XMEM_ATTACH_SOLE;

	return a->reserved2[0] || a->reserved2[1] || (a->flags & ~known) ||
	       ((a->flags & (XMEM_ATTACH_EXCL | XMEM_ATTACH_MODE)) &&
		!(a->flags & XMEM_ATTACH_CREATE)) ||
	       (a->mode & ~0777u) ||
	       (a->mode && !(a->flags & XMEM_ATTACH_MODE)) ||
	       !name_valid(a->name, sizeof(a->name)) || a->size % PAGE ||
	       a->size > TB;
}

/*
 * How many mutations an input gets: none for one in four, else one and
 * maybe more.  Most inputs are malformed, which also keeps appliance
 * round trips to a minority.
 */
static unsigned int fz_nmut(void)
{
	unsigned int n = chance(75);

	while (n && chance(40))
		n++;
	return n;
}

static void do_attach(int fi)
{
	struct fz_file *f;
	struct xmem_attach a, in;
	unsigned int nmut;
	struct want w;
	enum argkind k;
	int got, r;
	void *arg;

	/* Mostly on an unbound file, else ATTACH would mostly be EBUSY. */
	if (chance(80) && pick_file(false) >= 0)
		fi = pick_file(false);
	f = &fz_files[fi];
	memset(&a, 0, sizeof(a));
	gen_name(a.name);
	r = reg_find(a.name);
	a.size = r >= 0 && fz_regs[r].exists && chance(50) ?
		 (chance(50) ? fz_regs[r].size : 0) : small_size();
	switch (below(5)) {
	case 0:
		a.flags = 0;
		break;
	case 1:
		a.flags = XMEM_ATTACH_CREATE | XMEM_ATTACH_EXCL;
		break;
	case 2:
		a.flags = XMEM_ATTACH_CREATE | XMEM_ATTACH_MODE;
		a.mode = chance(50) ? 0600 : 0644;
		break;
	default:
		a.flags = XMEM_ATTACH_CREATE;
	}
	/* Mutations of the valid template: three inputs in four. */
	for (nmut = fz_nmut(); nmut; nmut--) {
		switch (below(7)) {
		case 0:
			a.size = mutate_size(a.size);
			break;
		case 1:
			a.flags ^= 1u << below(32);
			break;
		case 2:
			a.mode = chance(50) ? (uint32_t)rnd() : 01000;
			break;
		case 3:
			a.reserved2[below(2)] = 1ull << below(64);
			break;
		case 4:
			a.region_id = rnd();	/* out only: ignored */
			break;
		case 5:
			mutate_name(a.name);
			break;
		default:
			((uint8_t *)&a)[below(sizeof(a))] ^= 1 << below(8);
		}
	}
	if (fz_malformed && !attach_malformed(&a)) {
		switch (below(5)) {
		case 0: a.reserved2[below(2)] |= 1ull << below(64); break;
		case 1: a.flags |= 1u << (4 + below(28)); break;
		case 2: break_name(a.name); break;
		case 3: a.size |= 1 + below(PAGE - 1); break;
		default: a.mode |= 01000 << below(20); break;
		}
	}
	no_foreign_name(a.name);
	a.size = fz_size_guard(a.size);
	in = a;
	desc("ATTACH on %s fd name=%s size=%#llx flags=%#x mode=%#o rsv=%#llx,%#llx",
	     f->reg >= 0 ? "bound" : "unbound",
	     show_name(a.name, sizeof(a.name)), (unsigned long long)a.size,
	     a.flags, a.mode, (unsigned long long)a.reserved2[0],
	     (unsigned long long)a.reserved2[1]);
	arg = place_arg(&a, sizeof(a), &k);
	desc_add("%s", argkind_names[k]);

	r = name_valid(in.name, 64) ? reg_find(in.name) : -1;
	if (k != ARG_OK && k != ARG_XMEM)
		w = WANT(EFAULT);
	else if (attach_malformed(&in))
		w = WANT(EINVAL);
	else if (f->reg >= 0)
		w = WANT(EBUSY);
	else if (r >= 0 && fz_regs[r].exists)
		/*
		 * SOLE holds it, whether attached here already (without a
		 * hold: uapi 1.9) or not: nobody else has it attached (this
		 * client is the only one the fuzzer drives).
		 */
		w = in.flags & XMEM_ATTACH_EXCL ? WANT(EEXIST) :
		    in.size && in.size != fz_regs[r].size ? WANT(EINVAL) :
		    WANT(0);
	else if (!(in.flags & XMEM_ATTACH_CREATE))
		w = WANT(ENOENT);
	else if (!in.size)
		w = WANT(EINVAL);
	else if (in.size > SMALL_MAX)
		/* ENOSPC: the pool's placement found no member with room. */
		w = WANT(ENOMEM, ENOSPC);
	else
		w = WANT(0);
	got = CHECK(ioctl(f->fd, XMEM_IOC_ATTACH, arg), w);
	take_arg(&a, arg, sizeof(a), k);
	if (got)
		return;
	r = reg_add(in.name);
	if (fz_regs[r].exists && (a.size != fz_regs[r].size ||
				  (fz_regs[r].id && a.region_id != fz_regs[r].id)))
		FZ_FAIL("ATTACH answered size %llu id %llu, want %llu id %llu",
			(unsigned long long)a.size,
			(unsigned long long)a.region_id,
			(unsigned long long)fz_regs[r].size,
			(unsigned long long)fz_regs[r].id);
	if (!fz_regs[r].exists && (a.size != in.size || !a.region_id))
		FZ_FAIL("ATTACH created size %llu id %llu",
			(unsigned long long)a.size,
			(unsigned long long)a.region_id);
	if (!fz_regs[r].here || (in.flags & XMEM_ATTACH_SOLE))
		fz_regs[r].sole = in.flags & XMEM_ATTACH_SOLE;
	fz_regs[r].exists = fz_regs[r].here = true;
	fz_regs[r].size = a.size;
	fz_regs[r].id = a.region_id;
	f->reg = r;
}

enum { OP_DETACH, OP_RESIZE, OP_DESTROY };

static void do_region_op(int op)
{
	static const char *const names[] = { "DETACH", "RESIZE", "DESTROY" };
	static const unsigned long cmds[] = {
		XMEM_IOC_DETACH, XMEM_IOC_RESIZE, XMEM_IOC_DESTROY
	};
	struct xmem_region_op o, in;
	bool resize = op == OP_RESIZE;
	unsigned int nmut;
	struct fz_region *reg;
	struct want w;
	enum argkind k;
	void *arg;
	int got, r;

	memset(&o, 0, sizeof(o));
	gen_name(o.name);
	if (resize) {
		o.size = small_size();
		o.flags = chance(50) ? XMEM_RESIZE_WRITEBACK : 0;
	}
	for (nmut = fz_nmut(); nmut; nmut--) {
		switch (below(6)) {
		case 0:
			o.size = mutate_size(o.size);
			break;
		case 1:
			o.flags ^= 1u << below(32);
			break;
		case 2:
			o.reserved = 1u << below(32);
			break;
		case 3:
			o.reserved2[below(2)] = 1ull << below(64);
			break;
		case 4:
			mutate_name(o.name);
			break;
		default:
			((uint8_t *)&o)[below(sizeof(o))] ^= 1 << below(8);
		}
	}
	if (fz_malformed) {
		switch (below(5)) {
		case 0: o.reserved |= 1u << below(32); break;
		case 1: o.reserved2[below(2)] |= 1ull << below(64); break;
		case 2: o.flags |= 1u << (1 + below(31)); break;
		case 3: break_name(o.name); break;
		default: o.size = resize ? below(PAGE) : PAGE * (1 + below(9));
		}
	}
	no_foreign_name(o.name);
	o.size = fz_size_guard(o.size);
	in = o;
	desc("%s name=%s size=%#llx flags=%#x rsv=%#x,%#llx,%#llx", names[op],
	     show_name(o.name, sizeof(o.name)), (unsigned long long)o.size,
	     o.flags, o.reserved, (unsigned long long)o.reserved2[0],
	     (unsigned long long)o.reserved2[1]);
	arg = place_arg(&o, sizeof(o), &k);
	desc_add("%s", argkind_names[k]);

	r = name_valid(in.name, 64) ? reg_find(in.name) : -1;
	reg = r >= 0 ? &fz_regs[r] : NULL;
	if (k != ARG_OK && k != ARG_XMEM)
		w = WANT(EFAULT);
	else if (in.reserved || in.reserved2[0] || in.reserved2[1] ||
		 (in.flags & ~(resize ? XMEM_RESIZE_WRITEBACK :
			       op == OP_DETACH ? XMEM_DETACH_HOLD : 0)) ||
		 !name_valid(in.name, 64) ||
		 (resize ? !in.size || in.size % PAGE || in.size > TB :
		  !!in.size))
		w = WANT(EINVAL);
	else if (op == OP_DETACH && (in.flags & XMEM_DETACH_HOLD))
		w = !reg || !reg->here ? WANT(ENOENT) : WANT(0);
	else if (op == OP_DETACH)
		w = !reg || !reg->here ? WANT(ENOENT) :
		    reg_users(r) ? WANT(EBUSY) : WANT(0);
	else if (op == OP_DESTROY)
		w = !reg || !reg->exists ? WANT(ENOENT) :
		    reg->here && reg_users(r) ? WANT(EBUSY) : WANT(0);
	else
		w = !reg || !reg->exists ? WANT(ENOENT) :
		    in.size > SMALL_MAX ? WANT(ENOMEM, ENOSPC) : WANT(0);
	/*
	 * A shrink of the region that holds the argument unmaps it: the
	 * answer cannot be copied back (EFAULT), but the resize is done.
	 */
	if (resize && k == ARG_XMEM && want_has(&w, 0) && fz_arg_reg == r &&
	    fz_arg_end > in.size)
		w = WANT(0, EFAULT);
	got = CHECK(ioctl(fz_files[any_file()].fd, cmds[op], arg), w);
	if (got == EFAULT && resize && k == ARG_XMEM)
		got = 0;
	else
		take_arg(&o, arg, sizeof(o), k);
	if (got)
		return;
	if (op != OP_RESIZE && o.size != reg->size)
		FZ_FAIL("%s answered size %llu, want %llu", names[op],
			(unsigned long long)o.size,
			(unsigned long long)reg->size);
	if (op == OP_DETACH && (in.flags & XMEM_DETACH_HOLD)) {
		reg->sole = false;	/* still attached here */
	} else if (op == OP_DETACH) {
		reg->here = reg->sole = false;
	} else if (op == OP_DESTROY) {
		reg->exists = reg->here = reg->sole = false;
		reg->id = 0;
	} else {
		unsigned int i;

		for (i = 0; i < MAXMAP; i++)
			if (fz_maps[i].used && fz_maps[i].reg == r &&
			    fz_maps[i].off + fz_maps[i].len > in.size)
				fz_maps[i].dead = true;
		reg->size = in.size;
	}
}

/*
 * How many bytes from @addr (at most @len) the kernel can write for sure
 * (@sure: writable memory that is not an xmem mapping) and may be able to
 * write (@maybe: writable memory, xmem mappings included; those fault
 * once their region is gone), from /proc/self/maps.  The fuzzer's own
 * munmap calls can free the pages next to its guard page and a later mmap
 * can reuse them, so "faulting" is looked up, not assumed.
 */
static void writable_span(uint64_t addr, uint64_t len, uint64_t *sure,
			  uint64_t *maybe)
{
	unsigned long long lo, hi;
	uint64_t at = addr;
	bool xmem = false;
	char perms[8], path[256], line[512];
	FILE *f = fopen("/proc/self/maps", "re");

	*sure = *maybe = 0;
	if (!f)
		return;
	while (at < addr + len && fgets(line, sizeof(line), f)) {
		path[0] = '\0';
		if (sscanf(line, "%llx-%llx %7s %*s %*s %*s %255s", &lo, &hi,
			   perms, path) < 3)
			continue;
		if (hi <= at)
			continue;
		if (lo > at || perms[1] != 'w')
			break;
		xmem |= !strncmp(path, "/dev/xmem", 9);
		at = hi;
		*maybe = (at < addr + len ? at : addr + len) - addr;
		if (!xmem)
			*sure = *maybe;
	}
	fclose(f);
}

static void do_list(void)
{
	static struct xmem_region_entry ents[XMEM_LIST_MAX + 1];
	static uint64_t cursor;
	struct xmem_region_list l, in;
	uint64_t need, sure, maybe;
	enum argkind k;
	unsigned int i;
	struct want w;
	void *arg;
	int got;

	memset(&l, 0, sizeof(l));
	l.entries = (uintptr_t)ents;
	l.count = 1 + below(4);
	l.cursor = chance(70) ? cursor : chance(50) ? 0 : rnd();
	while (chance(30)) {
		switch (below(6)) {
		case 0:
			l.count = chance(50) ? 0 : chance(50) ? XMEM_LIST_MAX + 1 :
				  (uint32_t)rnd();
			break;
		case 1:
			l.flags = 1u << below(32);
			break;
		case 2:
			l.reserved[below(2)] = 1ull << below(64);
			break;
		case 3:
			l.entries = chance(50) ? 0 : 0xdead0000ull;
			break;
		case 4:
			/* The first entry fits, the second faults. */
			l.entries = (uintptr_t)(fz_guard + PAGE -
						sizeof(ents[0]));
			break;
		default:
			l.cursor = ~0ull - below(3);
		}
	}
	if (fz_malformed) {
		switch (below(4)) {
		case 0: l.flags |= 1u << below(32); break;
		case 1: l.reserved[below(2)] |= 1ull << below(64); break;
		case 2: l.count = 0; break;
		default: l.count = XMEM_LIST_MAX + 1 + below(1000);
		}
	}
	in = l;
	desc("LIST count=%u flags=%#x cursor=%llu rsv=%#llx,%#llx entries=%#llx",
	     l.count, l.flags, (unsigned long long)l.cursor,
	     (unsigned long long)l.reserved[0],
	     (unsigned long long)l.reserved[1],
	     (unsigned long long)l.entries);
	arg = place_arg(&l, sizeof(l), &k);
	desc_add("%s", argkind_names[k]);
	need = (uint64_t)in.count * sizeof(ents[0]);
	writable_span(in.entries, need, &sure, &maybe);
	if (k != ARG_OK && k != ARG_XMEM)
		w = WANT(EFAULT);
	else if (in.flags || in.reserved[0] || in.reserved[1] || !in.count ||
		 in.count > XMEM_LIST_MAX)
		w = WANT(EINVAL);
	else if (sure < need)
		w = WANT(0, EFAULT);	/* EFAULT unless few enough to list */
	else
		w = WANT(0);
	got = CHECK(ioctl(fz_files[any_file()].fd, XMEM_IOC_LIST, arg),
		    w);
	take_arg(&l, arg, sizeof(l), k);
	if (got)
		return;
	if (l.count > in.count)
		FZ_FAIL("LIST returned %u entries for %u", l.count, in.count);
	if ((uint64_t)l.count * sizeof(ents[0]) > maybe)
		FZ_FAIL("LIST filled %u entries at %#llx, only %llu bytes writable",
			l.count, (unsigned long long)in.entries,
			(unsigned long long)maybe);
	if (in.entries != (uintptr_t)ents)
		memcpy(ents, (void *)(uintptr_t)in.entries,
		       l.count * sizeof(ents[0]));
	for (i = 0; i < l.count; i++) {
		const struct xmem_region_entry *e = &ents[i];
		int r = reg_find(e->name);

		if (!name_valid(e->name, sizeof(e->name)) || !e->size ||
		    e->size % PAGE || e->size > TB || !e->region_id ||
		    e->region_id <= (i ? ents[i - 1].region_id : in.cursor))
			FZ_FAIL("LIST entry %u: name %s size %llu id %llu", i,
				show_name(e->name, sizeof(e->name)),
				(unsigned long long)e->size,
				(unsigned long long)e->region_id);
		if (r >= 0 && fz_regs[r].exists &&
		    (e->size != fz_regs[r].size ||
		     !!(e->flags & XMEM_ENTRY_ATTACHED) != fz_regs[r].here ||
		     !!(e->flags & XMEM_ENTRY_HELD) != fz_regs[r].sole))
			FZ_FAIL("LIST entry %s: size %llu flags %#x, want %llu attached %u held %u",
				e->name, (unsigned long long)e->size,
				e->flags, (unsigned long long)fz_regs[r].size,
				fz_regs[r].here, fz_regs[r].sole);
	}
	if (l.cursor != (l.count ? ents[l.count - 1].region_id : in.cursor))
		FZ_FAIL("LIST cursor %llu after %u entries",
			(unsigned long long)l.cursor, l.count);
	cursor = l.count ? l.cursor : 0;
}

static int fz_account;	/* ACCOUNT: -1 unknown, 0 not implemented, 1 is */

static void do_account(int fi)
{
	struct fz_file *f = &fz_files[fi];
	struct xmem_account a;
	enum argkind k;
	struct want w;
	void *arg;
	int got;

	memset(&a, 0, sizeof(a));
	a.bytes_reserved = below(4) * PAGE;
	a.bytes_in_use = below(a.bytes_reserved + 1);
	a.slabs = below(4);
	if (chance(30))
		a.reserved[below(5)] = 1ull << below(64);
	if (chance(20))
		a.bytes_in_use = a.bytes_reserved + 1 + below(PAGE);
	if (chance(10))
		((uint8_t *)&a)[below(sizeof(a))] ^= 1 << below(8);
	desc("ACCOUNT on %s fd slabs=%llu in_use=%llu reserved=%llu rsv=%d",
	     f->reg >= 0 ? "bound" : "unbound", (unsigned long long)a.slabs,
	     (unsigned long long)a.bytes_in_use,
	     (unsigned long long)a.bytes_reserved,
	     !!(a.reserved[0] | a.reserved[1] | a.reserved[2] | a.reserved[3] |
		a.reserved[4]));
	arg = place_arg(&a, sizeof(a), &k);
	desc_add("%s", argkind_names[k]);
	if (!fz_account)
		w = WANT(ENOTTY);
	else if (k != ARG_OK && k != ARG_XMEM)
		w = fz_account < 0 ? WANT(EFAULT, ENOTTY) : WANT(EFAULT);
	else if (a.reserved[0] | a.reserved[1] | a.reserved[2] | a.reserved[3] |
		 a.reserved[4] || f->reg < 0 || a.bytes_reserved > TB ||
		 a.bytes_in_use > a.bytes_reserved ||
		 a.slabs > a.bytes_reserved)
		w = fz_account < 0 ? WANT(EINVAL, ENOTTY) : WANT(EINVAL);
	else
		w = fz_account < 0 ? WANT(0, ENOTTY) : WANT(0);
	got = CHECK(ioctl(f->fd, XMEM_IOC_ACCOUNT, arg), w);
	if (fz_account < 0 && w.n > 1)
		fz_account = got != ENOTTY;
}

/* Generic ioctls the VFS answers for any file: not sent at random. */
static bool vfs_ioctl_type(unsigned int type)
{
	return type == 0 || type == 0x15 || type == 'X' || type == 'f' ||
	       type == 0x94 || type == 'T';
}

static void do_random_cmd(int fi)
{
	static const unsigned long known[] = {
		XMEM_IOC_VERSION, XMEM_IOC_ATTACH, XMEM_IOC_INFO,
		XMEM_IOC_DETACH, XMEM_IOC_RESIZE, XMEM_IOC_DESTROY,
		XMEM_IOC_LIST, XMEM_IOC_ACCOUNT, XMEM_IOC_SNAPSHOT,
		XMEM_IOC_GRANT,
	};
	uint8_t buf[256];
	unsigned int cmd, i;
	enum argkind k;
	void *arg;

	do {
		switch (below(3)) {
		case 0:
			cmd = (uint32_t)rnd();
			break;
		case 1:	/* a known command with its size or direction bits flipped */
			cmd = known[below(sizeof(known) / sizeof(known[0]))] ^
			      (1u << (16 + below(16)));
			break;
		default:
			cmd = _IOC(below(4), XMEM_IOC_MAGIC, chance(50) ?
				   below(16) : below(256), below(1 << 14));
		}
		for (i = 0; i < sizeof(known) / sizeof(known[0]); i++)
			if (cmd == known[i])
				break;
	} while (i < sizeof(known) / sizeof(known[0]) ||
		 vfs_ioctl_type(_IOC_TYPE(cmd)));
	for (i = 0; i < sizeof(buf); i++)
		buf[i] = (uint8_t)rnd();
	desc("ioctl cmd=%#x", cmd);
	arg = place_arg(buf, 64, &k);
	desc_add("%s", argkind_names[k]);
	CHECK(ioctl(fz_files[fi].fd, cmd, arg), WANT(ENOTTY));
}

/* ---- mmap and friends ---------------------------------------------------- */

static int free_map(void)
{
	unsigned int i;

	for (i = 0; i < MAXMAP; i++)
		if (!fz_maps[i].used)
			return i;
	return -1;
}

static void unmap_one(unsigned int i)
{
	struct fz_map *m = &fz_maps[i];

	desc("munmap whole %p+%#llx", m->addr, (unsigned long long)m->len);
	CHECK(munmap(m->addr, m->len), WANT(0));
	maps_cut(m->addr, m->len);
}

static void do_mmap(void)
{
	static const int prots[] = {
		PROT_READ | PROT_WRITE, PROT_READ | PROT_WRITE, PROT_READ,
		PROT_WRITE, PROT_NONE, PROT_READ | PROT_WRITE | PROT_EXEC,
	};
	int fi = chance(85) ? pick_file(true) : pick_file(false);
	uint64_t size, off, len;
	int prot, flags, mi, reg;
	struct want w;
	char *p;

	if (fi < 0)
		fi = any_file();
	mi = free_map();
	if (mi < 0) {
		unmap_one(below(MAXMAP));
		mi = free_map();
	}
	reg = fz_files[fi].reg;
	size = reg >= 0 ? fz_regs[reg].size : PAGE;
	switch (below(6)) {
	case 0:
		off = 0;
		len = size;
		break;
	case 1:
		off = below(size / PAGE) * PAGE;
		len = PAGE * (1 + below((size - off) / PAGE));
		break;
	case 2:
		off = size - PAGE;
		len = chance(50) ? PAGE : 2 * PAGE;
		break;
	case 3:
		off = chance(50) ? size : size + PAGE * below(4);
		len = PAGE;
		break;
	case 4:
		off = chance(50) ? 1 + below(PAGE - 1) : PAGE - 1;
		len = PAGE;
		break;
	default:
		off = below(2) * PAGE;
		len = boundary_size();
	}
	prot = prots[below(sizeof(prots) / sizeof(prots[0]))];
	flags = chance(85) ? MAP_SHARED : chance(50) ? MAP_PRIVATE :
		MAP_SHARED_VALIDATE;
	if (chance(3))
		flags |= MAP_SYNC;	/* refused by MAP_SHARED_VALIDATE only */
	desc("mmap %s fd len=%#llx off=%#llx prot=%#x flags=%#x (size %#llx)",
	     reg >= 0 ? "bound" : "unbound", (unsigned long long)len,
	     (unsigned long long)off, prot, flags, (unsigned long long)size);

	if (!len || off % PAGE)
		w = WANT(EINVAL);
	else if (len > (1ull << 46) || off > (1ull << 46))
		w = WANT(ENOMEM, EINVAL, EOVERFLOW);
	else if ((flags & MAP_SYNC) && (flags & MAP_SHARED_VALIDATE) ==
		 MAP_SHARED_VALIDATE)
		w = WANT(EOPNOTSUPP);
	else if (reg < 0)
		w = WANT(ENXIO);
	else if (!(flags & MAP_SHARED) ||
		 off >= size || (len + PAGE - 1) / PAGE > (size - off) / PAGE)
		w = WANT(EINVAL);
	else
		w = WANT(0);
	/* Refused anyway: the kernel may run out of room or commit first. */
	if (len >= 64 * MiB && !want_has(&w, 0) && !want_has(&w, ENOMEM) &&
	    w.n < 6)
		w.v[w.n++] = ENOMEM;
	/* /dev may be mounted noexec. */
	if (prot & PROT_EXEC && w.n < 6 && !want_has(&w, EINVAL))
		w.v[w.n++] = EPERM;
	errno = 0;
	p = mmap(NULL, len, prot, flags, fz_files[fi].fd, off);
	if (CHECK(p == MAP_FAILED ? -1 : 0, w))
		return;
	fz_maps[mi] = (struct fz_map){ p, (len + PAGE - 1) & ~(PAGE - 1), reg,
				       off, prot, true, false };
}

static int pick_map(void)
{
	unsigned int i, start = below(MAXMAP);

	for (i = 0; i < MAXMAP; i++)
		if (fz_maps[(start + i) % MAXMAP].used)
			return (start + i) % MAXMAP;
	return -1;
}

/* Write and read back a few words in live read-write mappings. */
static void do_touch(void)
{
	int mi = pick_map();
	struct fz_map *m;
	unsigned int i;

	if (mi < 0)
		return;
	m = &fz_maps[mi];
	if (!map_alive(m) || m->prot != (PROT_READ | PROT_WRITE))
		return;
	for (i = 0; i < 1 + below(3); i++) {
		uint64_t at = below(m->len / 8) * 8, v = rnd();
		volatile uint64_t *p = (uint64_t *)(m->addr + at);

		desc("touch region %s offset %#llx",
		     fz_regs[m->reg].name, (unsigned long long)(m->off + at));
		*p = v;
		if (*p != v)
			FZ_FAIL("read back %#llx, wrote %#llx",
				(unsigned long long)*p, (unsigned long long)v);
	}
	fz_n->mm++;
}

/* A range around mapping @m: inside, overhanging, unaligned. */
static void mm_range(const struct fz_map *m, char **a, uint64_t *l,
		     bool overhang)
{
	uint64_t pages = m->len / PAGE, first = below(pages);

	*a = m->addr + first * PAGE;
	*l = (1 + below(pages - first)) * PAGE;
	switch (below(6)) {
	case 0:
		*l -= below(PAGE);	/* odd length, rounded up */
		break;
	case 1:
		*a += 1 + below(PAGE - 1);	/* unaligned: EINVAL */
		break;
	case 2:
		/* Past the mapping: only where that touches nothing else. */
		if (overhang)
			*l += PAGE * (1 + below(2));
		break;
	case 3:
		*l = 0;
		break;
	}
}

/* Is all of [a, a + l) mapped (by our records)? */
static bool range_mapped(char *a, uint64_t l)
{
	char *end = a + ((l + PAGE - 1) & ~(PAGE - 1));
	bool again = true;
	unsigned int i;

	while (a < end && again) {
		again = false;
		for (i = 0; i < MAXMAP; i++) {
			struct fz_map *m = &fz_maps[i];

			if (m->used && a >= m->addr && a < m->addr + m->len) {
				a = m->addr + m->len;
				again = true;
			}
		}
	}
	return a >= end;
}

static void do_munmap(void)
{
	int mi = pick_map();
	uint64_t l;
	char *a;

	if (mi < 0)
		return;
	/* A cut in the middle needs a free slot for the second piece. */
	if (chance(50) || free_map() < 0)
		return unmap_one(mi);
	mm_range(&fz_maps[mi], &a, &l, false);
	desc("munmap %p+%#llx of %p+%#llx", a, (unsigned long long)l,
	     fz_maps[mi].addr, (unsigned long long)fz_maps[mi].len);
	if (CHECK(munmap(a, l), (uintptr_t)a % PAGE || !l ?
		  WANT(EINVAL) : WANT(0)))
		return;
	maps_cut(a, (l + PAGE - 1) & ~(PAGE - 1));
}

static void do_msync(void)
{
	static const int flags[] = {
		MS_SYNC, MS_SYNC, MS_ASYNC, MS_SYNC | MS_INVALIDATE,
		MS_ASYNC | MS_INVALIDATE, MS_SYNC | MS_ASYNC, 0x10, MS_INVALIDATE,
	};
	int mi = pick_map(), fl = flags[below(sizeof(flags) / sizeof(flags[0]))];
	struct want w;
	uint64_t l;
	char *a;

	if (mi < 0)
		return;
	mm_range(&fz_maps[mi], &a, &l, true);
	desc("msync %p+%#llx flags %#x", a, (unsigned long long)l, fl);
	if ((uintptr_t)a % PAGE || (fl & ~(MS_SYNC | MS_ASYNC | MS_INVALIDATE)) ||
	    (fl & MS_SYNC && fl & MS_ASYNC))
		w = WANT(EINVAL);
	else if (!range_mapped(a, l))
		w = WANT(ENOMEM, 0);	/* a neighbour may be mapped */
	else
		w = WANT(0);
	CHECK(msync(a, l, fl), w);
}

static void do_mprotect(void)
{
	int mi = pick_map(), prot = below(8);
	struct fz_map *m;

	if (mi < 0)
		return;
	m = &fz_maps[mi];
	desc("mprotect %p+%#llx %#x", m->addr, (unsigned long long)m->len,
	     prot);
	if (!CHECK(mprotect(m->addr, m->len, prot), WANT(0, EACCES)))
		m->prot = prot;
}

static void do_mremap(void)
{
	int mi = pick_map(), got;
	struct fz_map *m;
	uint64_t nl;
	char *p;

	if (mi < 0)
		return;
	m = &fz_maps[mi];
	nl = chance(50) && m->len > PAGE ? m->len - PAGE : m->len + PAGE;
	desc("mremap %p+%#llx to %#llx", m->addr, (unsigned long long)m->len,
	     (unsigned long long)nl);
	errno = 0;
	p = mremap(m->addr, m->len, nl, chance(50) ? MREMAP_MAYMOVE : 0);
	/* VM_DONTEXPAND: no growing; shrinking works. */
	got = CHECK(p == MAP_FAILED ? -1 : 0,
		    nl > m->len ? WANT(EFAULT) : WANT(0));
	if (got)
		return;
	m->addr = p;
	m->len = nl;
}

static void do_madvise(void)
{
	static const int advice[] = {
		MADV_DONTNEED, MADV_WILLNEED, MADV_COLD, MADV_PAGEOUT, MADV_FREE,
		MADV_REMOVE, MADV_DONTFORK, MADV_DOFORK, MADV_NOHUGEPAGE,
		MADV_SEQUENTIAL, MADV_RANDOM, MADV_NORMAL, 77, -1,
	};
	int mi = pick_map(), adv = advice[below(sizeof(advice) / sizeof(advice[0]))];
	uint64_t l;
	char *a;

	if (mi < 0)
		return;
	mm_range(&fz_maps[mi], &a, &l, false);
	desc("madvise %p+%#llx %d", a, (unsigned long long)l, adv);
	/* Whatever it answers, nothing may break: the touches check that. */
	(void)madvise(a, l, adv);
}

static void do_file_misc(void)
{
	int fi = any_file(), got;
	char buf[64];

	switch (below(4)) {
	case 0:
		desc("read on %s fd", fz_files[fi].reg >= 0 ? "bound" :
		     "unbound");
		CHECK(read(fz_files[fi].fd, buf, sizeof(buf)),
		      WANT(EINVAL));
		break;
	case 1:
		desc("write on /dev/xmem");
		CHECK(write(fz_files[fi].fd, buf, 1 + below(sizeof(buf))),
		      WANT(EINVAL));
		break;
	case 2:
		desc("fsync on %s fd", fz_files[fi].reg >= 0 ? "bound" :
		     "unbound");
		CHECK(fsync(fz_files[fi].fd), WANT(0));
		break;
	default:
		/* Close a file (its mappings stay) and open a new one. */
		desc("close and reopen");
		got = close(fz_files[fi].fd);
		CHECK(got, WANT(0));
		fz_files[fi].fd = open_dev();
		fz_files[fi].reg = -1;
	}
}

static void fz_setup_files(void)
{
	unsigned int i;

	snprintf(fz_prefix, sizeof(fz_prefix), "fz%x-", (unsigned int)getpid());
	fz_guard = mmap(NULL, 2 * PAGE, PROT_READ | PROT_WRITE,
			MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (fz_guard == MAP_FAILED || mprotect(fz_guard + PAGE, PAGE, PROT_NONE))
		FAIL("guard pages: %s", xt_errname(errno));
	for (i = 0; i < MAXFD; i++) {
		fz_files[i].fd = open_dev();
		fz_files[i].reg = -1;
	}
}

/* Unmap, close, destroy everything this test created. */
static void fz_cleanup(void)
{
	struct xmem_region_op o;
	unsigned int i;

	for (i = 0; i < MAXMAP; i++)
		if (fz_maps[i].used)
			unmap_one(i);
	for (i = 0; i < MAXFD; i++) {
		desc("close");
		CHECK(close(fz_files[i].fd), WANT(0));
		fz_files[i].fd = -1;
	}
	for (i = 0; i < fz_nregs; i++) {
		if (!fz_regs[i].exists)
			continue;
		memset(&o, 0, sizeof(o));
		memcpy(o.name, fz_regs[i].name, sizeof(o.name));
		desc("cleanup: DESTROY %s", o.name);
		CHECK(ioctl(fz_files[0].fd >= 0 ? fz_files[0].fd :
			    open_dev(), XMEM_IOC_DESTROY, &o),
		      WANT(0));
		fz_regs[i].exists = fz_regs[i].here = false;
		fz_regs[i].sole = false;
	}
}

TEST_TIMEOUT(ioctl, 1200)
{
	uint64_t n;
	int fd;

	double t0 = xnow();

	xr_require_connected();
	fz_start("ioctl", 1);
	fz_setup_files();
	fz_account = -1;
	for (fz_iter = 0; fz_iter < fz_count; fz_iter++) {
		unsigned int p = below(100);
		int fi = any_file();

		if (p < 5)
			do_version(fi);
		else if (p < 25)
			do_attach(fi);
		else if (p < 30)
			do_info(fi);
		else if (p < 36)
			do_region_op(OP_DETACH);
		else if (p < 43)
			do_region_op(OP_RESIZE);
		else if (p < 49)
			do_region_op(OP_DESTROY);
		else if (p < 54)
			do_list();
		else if (p < 57)
			do_account(fi);
		else if (p < 68)
			do_random_cmd(fi);
		else
			goto mm;
		fz_n->ioctls++;
		continue;
mm:
		if (p < 76)
			do_mmap();
		else if (p < 80)
			do_munmap();
		else if (p < 84)
			do_msync();
		else if (p < 86)
			do_mprotect();
		else if (p < 88)
			do_mremap();
		else if (p < 90)
			do_madvise();
		else if (p < 96) {
			do_touch();
			continue;
		} else
			do_file_misc();
		fz_n->mm++;
	}
	n = fz_iter;
	fz_iter = n;
	fz_cleanup();
	desc("after the run");
	fd = open_dev();
	CHECK(close(fd), WANT(0));
	xr_require_connected();
	xt_diag("ioctl: %" PRIu64 " ioctls, %" PRIu64 " mmap/munmap/msync/... "
		"and touches, %u region names, %.1f s", fz_n->ioctls, fz_n->mm,
		fz_nregs, xnow() - t0);
}

/*
 * Many more ioctls than the mixed test can afford on a slow kernel: every
 * command with an argument that must be refused before any work (a
 * reserved field, an unknown flag, a bad name or size, a faulting
 * pointer) and unknown commands, on bound and unbound files.
 */
TEST_TIMEOUT(ioctl_bulk, 1200)
{
	double t0 = xnow();
	uint64_t n0 = fz_n->ioctls;
	struct xmem_attach a;
	unsigned int i;

	xr_require_connected();
	fz_start("ioctl-bulk", 3);
	fz_setup_files();
	/* Half the files bound, each to a region of its own. */
	for (i = 0; i < MAXFD / 2; i++) {
		memset(&a, 0, sizeof(a));
		snprintf(a.name, sizeof(a.name), "%sb%u", fz_prefix, i);
		a.size = PAGE;
		a.flags = XMEM_ATTACH_CREATE | XMEM_ATTACH_EXCL;
		desc("setup: ATTACH %s", a.name);
		CHECK(ioctl(fz_files[i].fd, XMEM_IOC_ATTACH, &a), WANT(0));
		fz_files[i].reg = reg_add(a.name);
		fz_regs[fz_files[i].reg].exists = true;
		fz_regs[fz_files[i].reg].here = true;
		fz_regs[fz_files[i].reg].size = PAGE;
		fz_regs[fz_files[i].reg].id = a.region_id;
	}
	fz_malformed = true;
	for (fz_iter = 0; fz_iter < fz_bulk; fz_iter++) {
		unsigned int p = below(100);
		int fi = any_file();

		if (p < 10)
			do_version(fi);
		else if (p < 35)
			do_attach(fi);
		else if (p < 45)
			do_info(fi);
		else if (p < 55)
			do_region_op(OP_DETACH);
		else if (p < 65)
			do_region_op(OP_RESIZE);
		else if (p < 75)
			do_region_op(OP_DESTROY);
		else if (p < 82)
			do_list();
		else
			do_random_cmd(fi);
		fz_n->ioctls++;
	}
	fz_malformed = false;
	fz_cleanup();
	xr_require_connected();
	xt_diag("ioctl-bulk: %" PRIu64 " ioctls, %.1f s", fz_n->ioctls - n0,
		xnow() - t0);
}

/* ---- sysfs --------------------------------------------------------------- */

enum knob_kind {
	K_LIMIT,	/* local_limit: 1M to RAM */
	K_RLIMIT,	/* regions/<n>/local_limit: 0, or 1M to RAM */
	K_WLOW,
	K_WHIGH,
	K_PORTION,
	K_RA,
	K_TIMEOUT,
	K_APPLIANCE,	/* the rest: only input that must be refused */
	K_ADD,
	K_REMOVE,
	K_SECRET,
	K_PLACEMENT,
	K_UNKNOWN,
};

struct knob {
	char path[256];		/* relative to XSYS_DIR */
	enum knob_kind kind;
	char saved[256];
	bool readable;
};

#define MAXKNOB	64
static struct knob fz_knobs[MAXKNOB];
static unsigned int fz_nknobs;
static uint64_t fz_ram;

static enum knob_kind knob_kind(const char *path)
{
	static const struct { const char *name; enum knob_kind kind; } t[] = {
		{ "local_limit", K_LIMIT }, { "watermark_low", K_WLOW },
		{ "watermark_high", K_WHIGH }, { "portion_size", K_PORTION },
		{ "readahead_max", K_RA }, { "io_timeout", K_TIMEOUT },
		{ "appliance", K_APPLIANCE }, { "appliance_add", K_ADD },
		{ "appliance_remove", K_REMOVE }, { "secret", K_SECRET },
		{ "placement", K_PLACEMENT },
	};
	unsigned int i;

	if (!strncmp(path, "regions/", 8)) {
		const char *base = strrchr(path, '/') + 1;

		return strchr(path + 8, '/') == base - 1 &&
		       !strcmp(base, "local_limit") ? K_RLIMIT : K_UNKNOWN;
	}
	for (i = 0; i < sizeof(t) / sizeof(t[0]); i++)
		if (!strcmp(path, t[i].name))
			return t[i].kind;
	return K_UNKNOWN;
}

/* Every writable file under XSYS_DIR but the generic device ones. */
static void knobs_scan(const char *rel)
{
	char dir[512], path[700];
	struct dirent *de;
	struct stat st;
	DIR *d;

	snprintf(dir, sizeof(dir), "%s%s%s", XSYS_DIR, *rel ? "/" : "", rel);
	d = opendir(dir);
	if (!d)
		return;
	while ((de = readdir(d))) {
		char sub[600];

		if (de->d_name[0] == '.' || !strcmp(de->d_name, "power") ||
		    !strcmp(de->d_name, "subsystem") ||
		    !strcmp(de->d_name, "uevent") || !strcmp(de->d_name, "device"))
			continue;
		if (strlen(rel) + strlen(de->d_name) + 2 > 250)
			continue;
		snprintf(sub, sizeof(sub), "%s%s%s", rel, *rel ? "/" : "",
			 de->d_name);
		snprintf(path, sizeof(path), "%s/%s", XSYS_DIR, sub);
		if (lstat(path, &st))
			continue;
		if (S_ISDIR(st.st_mode)) {
			knobs_scan(sub);
		} else if (S_ISREG(st.st_mode) && (st.st_mode & 0222) &&
			   fz_nknobs < MAXKNOB) {
			struct knob *k = &fz_knobs[fz_nknobs++];

			snprintf(k->path, sizeof(k->path), "%.250s", sub);
			k->kind = knob_kind(sub);
			k->readable = st.st_mode & 0444;
		}
	}
	closedir(d);
}

static uint64_t fz_meminfo_total(void)
{
	unsigned long long kb = 0;
	char line[128];
	FILE *f = fopen("/proc/meminfo", "r");

	while (f && fgets(line, sizeof(line), f))
		if (sscanf(line, "MemTotal: %llu kB", &kb) == 1)
			break;
	if (f)
		fclose(f);
	return kb * 1024;
}

/* The knobs and their values, found before each test (parent process). */
static void knobs_save(void)
{
	unsigned int i;

	fz_nknobs = 0;
	knobs_scan("");
	for (i = 0; i < fz_nknobs; i++)
		if (!fz_knobs[i].readable || fz_knobs[i].kind >= K_APPLIANCE ||
		    xsys_read(fz_knobs[i].path, fz_knobs[i].saved,
			      sizeof(fz_knobs[i].saved)))
			fz_knobs[i].saved[0] = '\0';
}

/* xt_after_each hook: every knob back to its saved value, limits first. */
static void knobs_restore(void)
{
	static const enum knob_kind order[] = {
		K_LIMIT, K_WLOW, K_WHIGH, K_WLOW, K_PORTION, K_RA, K_TIMEOUT,
		K_RLIMIT,
	};
	char cur[256];
	unsigned int i, j;

	for (j = 0; j < sizeof(order) / sizeof(order[0]); j++) {
		for (i = 0; i < fz_nknobs; i++) {
			struct knob *k = &fz_knobs[i];

			if (k->kind != order[j] || !k->saved[0] ||
			    xsys_read(k->path, cur, sizeof(cur)) ||
			    !strcmp(cur, k->saved))
				continue;
			/* watermark_low first to 0, so high can go anywhere. */
			if (order[j] == K_WLOW && j == 1)
				xsys_write(k->path, "0");
			else
				xsys_write(k->path, k->saved);
		}
	}
	for (i = 0; i < fz_nknobs; i++) {
		struct knob *k = &fz_knobs[i];

		if (k->saved[0] && k->kind < K_APPLIANCE &&
		    !xsys_read(k->path, cur, sizeof(cur)) &&
		    strcmp(cur, k->saved))
			xt_diag("could not restore %s to %s (it is %s)",
				k->path, k->saved, cur);
	}
}

/*
 * A byte count as the ABI documents it: 1 to 23 decimal digits, an
 * optional K, M, G or T suffix, an optional newline, nothing else.  *@val
 * is the value; *@over is set when it does not fit in 64 bits (it must
 * be refused).  Returns false for a syntax error.
 */
static bool parse_bytes(const char *s, uint64_t *val, bool *over)
{
	size_t len = strspn(s, "0123456789"), i;
	const char *p = s + len;
	unsigned __int128 v = 0;
	unsigned int shift = 0;

	*over = false;
	if (!len || len >= 24)
		return false;
	for (i = 0; i < len; i++)
		v = v * 10 + (s[i] - '0');
	switch (*p) {
	case 'k': case 'K': shift = 10; break;
	case 'm': case 'M': shift = 20; break;
	case 'g': case 'G': shift = 30; break;
	case 't': case 'T': shift = 40; break;
	}
	if (shift)
		p++;
	if (*p == '\n')
		p++;
	if (*p)
		return false;
	v <<= shift;
	*over = v >> 64 != 0;
	*val = (uint64_t)v;
	return true;
}

/* kstrtouint(base 10): optional '+', digits, optional single newline. */
static bool parse_uint(const char *s, uint64_t *val)
{
	const char *p = s + (*s == '+');
	uint64_t v = 0;

	if (!isdigit((unsigned char)*p))
		return false;
	for (; isdigit((unsigned char)*p); p++) {
		v = v * 10 + (*p - '0');
		if (v > 0xffffffffull)
			return false;
	}
	if (*p && !(*p == '\n' && !p[1]))
		return false;
	*val = v;
	return true;
}

static uint64_t knob_u64(const char *path)
{
	uint64_t v = 0;
	int ret = xsys_read_u64(path, &v);

	if (ret)
		FZ_FAIL("reading %s: %s", path, xt_errname(-ret));
	return v;
}

/* A value for a numeric knob: valid, boundary or garbage. */
static void gen_number(char *buf, size_t size, enum knob_kind kind)
{
	static const char *const odd[] = {
		"", "\n", "0", "1", "-1", "+1", " 1M", "1M ", "1M\n\n", "1MB",
		"1m", "1e", "0x", "0x100000", "04000000", "4095", "4096",
		"1048575", "1048576", "18446744073709551615",
		"18446744073709551616", "18446744073711600192",
		"17179869185G", "16385E", "99999999999999999999G",
		"0xfffffffffffffffff", "1\0" "5", "2M\n", "2m", "1G", "64M",
		"64M\n", "67108865", "3600", "3601", "4294967296", "0\n",
		"nan", "1.5M", "\xff\xfe", "2097152", "4194304", "8K", "4k",
	};
	static const char sfx[] = "KMGkmg";
	uint64_t v;

	switch (below(5)) {
	case 0:
		snprintf(buf, size, "%s", odd[below(sizeof(odd) / sizeof(odd[0]))]);
		break;
	case 1:		/* a plausible value */
		if (kind == K_TIMEOUT)
			snprintf(buf, size, "%" PRIu64 "%s", 1 + below(3600),
				 chance(50) ? "\n" : "");
		else if (kind == K_PORTION)
			snprintf(buf, size, "%llu", PAGE << below(11));
		else
			snprintf(buf, size, "%" PRIu64 "%c", 1 + below(64),
				 sfx[below(sizeof(sfx) - 1)]);
		break;
	case 2:
		v = rnd() >> below(64);
		snprintf(buf, size, chance(50) ? "%" PRIu64 : "0x%" PRIx64, v);
		break;
	case 3: {	/* a long line */
		size_t n = chance(50) ? size - 1 : below(size);

		memset(buf, '1', n);
		buf[n] = '\0';
		break;
	}
	default: {	/* random bytes */
		size_t n = below(24), i;

		for (i = 0; i < n; i++)
			buf[i] = (char)(1 + below(255));
		buf[n] = '\0';
	}
	}
	if (chance(10) && strlen(buf))
		buf[below(strlen(buf))] ^= 1 << below(7);
}

/* Write @len bytes; returns 0 or errno. */
static int sysfs_write_raw(const char *rel, const char *buf, size_t len)
{
	char path[512];
	ssize_t n;
	int fd, err = 0;

	snprintf(path, sizeof(path), "%s/%s", XSYS_DIR, rel);
	fd = open(path, O_WRONLY | O_CLOEXEC);
	if (fd < 0)
		return errno;
	n = write(fd, buf, len);
	if (n < 0)
		err = errno;
	else if ((size_t)n != len && len <= PAGE)
		err = EIO;
	close(fd);
	return err;
}

static void fuzz_numeric(struct knob *k)
{
	char buf[PAGE + 1], before[256], after[256];
	uint64_t v = 0, limit, low, high, want = 0;
	bool over = false, ok, valid = false;
	int err;

	bool wm = k->kind == K_LIMIT || k->kind == K_WLOW || k->kind == K_WHIGH;

	gen_number(buf, sizeof(buf), k->kind);
	limit = wm ? knob_u64("local_limit") : 0;
	low = wm ? knob_u64("watermark_low") : 0;
	high = wm ? knob_u64("watermark_high") : 0;
	if (xsys_read(k->path, before, sizeof(before)))
		return;		/* a region directory that went away */
	ok = k->kind == K_TIMEOUT ? parse_uint(buf, &v) :
	     parse_bytes(buf, &v, &over);
	ok = ok && !over;
	switch (k->kind) {
	case K_LIMIT:
		valid = ok && v >= MiB && v <= fz_ram;
		want = v & ~(PAGE - 1);
		break;
	case K_RLIMIT:
		valid = ok && (!v || (v >= MiB && v <= fz_ram));
		want = v & ~(PAGE - 1);
		break;
	case K_WLOW:
		valid = ok && v / PAGE <= high / PAGE;
		want = v & ~(PAGE - 1);
		break;
	case K_WHIGH:
		valid = ok && low / PAGE <= v / PAGE && v / PAGE < limit / PAGE;
		want = v & ~(PAGE - 1);
		break;
	case K_PORTION:
		valid = ok && v >= PAGE && v <= 2 * MiB && !(v & (v - 1));
		want = v;
		break;
	case K_RA:
		valid = ok && v <= 64 * MiB;
		want = v & ~(PAGE - 1);
		break;
	case K_TIMEOUT:
		valid = ok && v >= 1 && v <= 3600;
		want = v;
		break;
	default:
		return;
	}
	desc("write %s \"%s\" (%s; was %s)", k->path,
	     show_name(buf, strlen(buf)), valid ? "valid" : "invalid", before);
	err = sysfs_write_raw(k->path, buf, strlen(buf));
	if (!strlen(buf)) {
		/* kernfs does not call the store method for 0 bytes. */
		if (err)
			FZ_FAIL("empty write: %s", xt_errname(err));
		valid = false;
	} else if (valid && err) {
		FZ_FAIL("valid value refused: %s", xt_errname(err));
	} else if (!valid && err != EINVAL) {
		FZ_FAIL("expected EINVAL, got %s",
			err ? xt_errname(err) : "success");
	}
	if (xsys_read(k->path, after, sizeof(after)))
		FZ_FAIL("reading back: %s", xt_errname(errno));
	if (!valid && strcmp(before, after))
		FZ_FAIL("refused, but the value changed from %s to %s", before,
			after);
	if (valid && strtoull(after, NULL, 10) != want)
		FZ_FAIL("read back %s, want %" PRIu64, after, want);
	if (!wm)
		return;
	limit = knob_u64("local_limit");
	low = knob_u64("watermark_low");
	high = knob_u64("watermark_high");
	if (low > high || high >= limit)
		FZ_FAIL("watermarks %" PRIu64 " %" PRIu64 " vs limit %" PRIu64,
			low, high, limit);
}

static char fz_member[128];	/* the appliance we are connected to */

/* An "ADDR:PORT" that must be refused as malformed (EINVAL). */
static void gen_bad_addr(char *buf, size_t size)
{
	static const char *const bad[] = {
		"10.77.0.1", "10.77.0.1:", "10.77.0.1:0", "10.77.0.1:65536",
		"10.77.0.1:-1", "10.77.0.1:74x1", "10.77.0.1: 7471",
		"10.77.0.1:99999999999999999999", ":7471", "zz:7471",
		"10.77.0.1 :7471", "[10.77.0.1:7471", "[::1:7471", "::1]:7471",
		"10.77.0:7471x", "host.example:7471",
		"10.77.0.1:7471 x", "10.77.0.1:7471\t",
		"[fe80::1%nosuchdev0]:7471x", "\xff\xfe:7471", "none x", "nonee",
		"NONE:", "10.77.0.1:0x1d2f",
	};
	size_t n, i;

	switch (below(4)) {
	case 0:
	case 1:
		snprintf(buf, size, "%s", bad[below(sizeof(bad) / sizeof(bad[0]))]);
		break;
	case 2:		/* too long for an address */
		n = 48 + below(size - 48);
		for (i = 0; i < n; i++)
			buf[i] = "0123456789.:"[below(12)];
		snprintf(buf + n - 6, 7, ":%s", "74710");
		buf[n] = '\0';
		break;
	default:	/* the member's address with a broken port */
		snprintf(buf, size, "%.*s:%s",
			 (int)(strrchr(fz_member, ':') - fz_member), fz_member,
			 (const char *[]){ "0", "", "65536", "7471a", "+",
					   "-7471" }[below(6)]);
	}
	if (chance(30))
		strncat(buf, "\n", size - strlen(buf) - 1);
}

/* Listing of appliances/, to see that nothing was added or removed. */
static void pool_listing(char *buf, size_t size)
{
	char dir[300];
	struct dirent *de;
	DIR *d;

	buf[0] = '\0';
	snprintf(dir, sizeof(dir), "%s/appliances", XSYS_DIR);
	d = opendir(dir);
	if (!d)
		return;
	while ((de = readdir(d)))
		if (de->d_name[0] != '.')
			snprintf(buf + strlen(buf), size - strlen(buf), "%s ",
				 de->d_name);
	closedir(d);
}

static void fuzz_disruptive(struct knob *k)
{
	char buf[PAGE + 1], before[256] = "", after[256] = "";
	char pool0[1024], pool1[1024], app0[128], app1[128], state[64];
	struct want w = WANT(EINVAL);
	size_t len, i;
	int err;

	switch (k->kind) {
	case K_SECRET:
		/* 1 to 15 or 129 to 4096 bytes, a final newline not counted. */
		len = chance(50) ? 1 + below(15) : 129 + below(PAGE - 128);
		for (i = 0; i < len; i++)
			buf[i] = (char)(1 + below(255));
		if (chance(30))
			buf[len++] = '\n';
		if (len == 1 && buf[0] == '\n')
			buf[0] = 'x';
		buf[len] = '\0';
		break;
	case K_PLACEMENT:
		if (chance(30)) {
			snprintf(buf, sizeof(buf), "%s", (const char *[]){
				"fill", "fill-first-", "Spread ", "spread\n\n",
				"", "fill_first", "first", "192.0.2.1:7471",
				"10.77.0.1:7472", "none", "\xff" }[below(11)]);
			w = WANT(EINVAL, ENOENT);
		} else {
			gen_bad_addr(buf, 200);
		}
		if (!buf[0])
			strcpy(buf, "\n");
		break;
	case K_ADD:
		if (chance(20)) {
			snprintf(buf, sizeof(buf), "%s%s", fz_member,
				 chance(50) ? "\n" : "");
			w = WANT(EEXIST);
		} else {
			gen_bad_addr(buf, 200);
		}
		break;
	case K_REMOVE:
		if (chance(30)) {
			snprintf(buf, sizeof(buf), "%s", chance(50) ?
				 "192.0.2.1:7471" : "10.77.0.1:7472");
			w = WANT(ENOENT);
		} else {
			gen_bad_addr(buf, 200);
		}
		break;
	default:
		gen_bad_addr(buf, 200);
	}
	pool_listing(pool0, sizeof(pool0));
	if (xsys_read("appliance", app0, sizeof(app0)))
		app0[0] = '\0';
	if (k->readable)
		xsys_read(k->path, before, sizeof(before));
	desc("write %s \"%s\" (must be refused)", k->path,
	     k->kind == K_SECRET ? "<secret>" : show_name(buf, strlen(buf)));
	err = sysfs_write_raw(k->path, buf, strlen(buf));
	if (!want_has(&w, err))
		FZ_FAIL("expected %s, got %s", xt_errname(w.v[0]),
			err ? xt_errname(err) : "success");
	pool_listing(pool1, sizeof(pool1));
	if (xsys_read("appliance", app1, sizeof(app1)))
		app1[0] = '\0';
	if (k->readable)
		xsys_read(k->path, after, sizeof(after));
	if (strcmp(pool0, pool1) || strcmp(app0, app1) || strcmp(before, after))
		FZ_FAIL("refused, but changed: appliance %s -> %s, pool %s-> %s, "
			"value %s -> %s", app0, app1, pool0, pool1, before, after);
	if (xsys_read("state", state, sizeof(state)) || strcmp(state, "connected"))
		FZ_FAIL("state is %s", state);
}

TEST_TIMEOUT(sysfs, 1200)
{
	unsigned int i, unknown = 0, region_knobs = 0;
	char name[XMEM_REGION_NAME_MAX];
	struct xmem_region_op o;
	struct knob *k;
	int fd;

	double t0 = xnow();

	xr_require_connected();
	fz_start("sysfs", 2);
	/* A region of our own, so that regions/<name>/ has one at least. */
	xr_name(name, "fuzz-sysfs");
	fd = ATTACH_OK(name, 1 * MiB, XMEM_ATTACH_CREATE | XMEM_ATTACH_EXCL,
		       NULL);
	knobs_save();
	fz_ram = fz_meminfo_total();
	if (xsys_read("appliance", fz_member, sizeof(fz_member)) ||
	    !strchr(fz_member, ':'))
		FAIL("appliance is \"%s\"", fz_member);
	for (i = 0; i < fz_nknobs; i++) {
		if (fz_knobs[i].kind == K_UNKNOWN) {
			xt_diag("sysfs: %s is writable but unknown to the fuzzer: "
				"not written", fz_knobs[i].path);
			unknown++;
		}
		region_knobs += fz_knobs[i].kind == K_RLIMIT;
	}
	xt_diag("sysfs: %u writable files (%u of regions), seed %" PRIu64,
		fz_nknobs - unknown, region_knobs, fz_seed);
	if (fz_nknobs == unknown)
		FAIL("no writable knob found under %s", XSYS_DIR);
	fz_soft = true;
	for (fz_iter = 0; fz_iter < fz_sysfs; fz_iter++) {
		if (setjmp(fz_jmp)) {
			fz_n->sysfs++;
			continue;
		}
		do
			k = &fz_knobs[below(fz_nknobs)];
		while (k->kind == K_UNKNOWN);
		if (k->kind >= K_APPLIANCE)
			fuzz_disruptive(k);
		else
			fuzz_numeric(k);
		fz_n->sysfs++;
	}
	fz_soft = false;
	xt_diag("sysfs: %" PRIu64 " writes, %.1f s", fz_n->sysfs, xnow() - t0);
	memset(&o, 0, sizeof(o));
	snprintf(o.name, sizeof(o.name), "%s", name);
	ASSERT_OK(close(fd));
	ASSERT_OK(ioctl(fd = open(XMEM_DEV, O_RDWR | O_CLOEXEC),
			XMEM_IOC_DESTROY, &o));
	close(fd);
	if (fz_soft_fails)
		FAIL("%" PRIu64 " of %" PRIu64 " writes failed; the first: %s",
		     fz_soft_fails, fz_sysfs, fz_first_fail);
}

/* ---- afterwards ---------------------------------------------------------- */

static uint64_t sum_regions(const char *file)
{
	char dir[300], rel[400];
	struct dirent *de;
	uint64_t sum = 0, v;
	DIR *d;

	snprintf(dir, sizeof(dir), "%s/regions", XSYS_DIR);
	d = opendir(dir);
	if (!d)
		FAIL("%s: %s", dir, xt_errname(errno));
	while ((de = readdir(d))) {
		if (de->d_name[0] == '.')
			continue;
		snprintf(rel, sizeof(rel), "regions/%s/%s", de->d_name, file);
		if (!xsys_read_u64(rel, &v))
			sum += v;
	}
	closedir(d);
	return sum;
}

TEST_TIMEOUT(still_works, 600)
{
	/*
	 * Twice the limit, in 64K portions: a debug kernel under TCG takes
	 * tens of milliseconds per fault, and a portion is one transfer.
	 */
	const uint64_t limit = 1 * MiB, size = 2 * limit, portion = 64 * KiB;
	char name[XMEM_REGION_NAME_MAX];
	struct xmem_region_info ri;
	struct xstats a, b;
	struct xmem_region_op o;
	uint64_t regions0, regions1 = 0, res, sum, i;
	int fd;
	char *p;

	xr_require_connected();
	ASSERT_ZERO_ERR(xsys_write_u64("local_limit", limit));
	ASSERT_ZERO_ERR(xsys_write_u64("portion_size", portion));
	ASSERT_ZERO_ERR(xsys_read_u64("appliance_regions", &regions0));
	ASSERT_ZERO_ERR(xstats_read(&a));
	xr_name(name, "fuzz-after");
	fd = ATTACH_OK(name, size, XMEM_ATTACH_CREATE | XMEM_ATTACH_EXCL, NULL);
	p = MAP_OK(fd, 0, size);
	xpat_fill(p, size, 0, fz_seed);
	ASSERT_OK(msync(p, size, MS_SYNC));
	xr_info(fd, &ri);
	ASSERT_EQ(ri.size, size);
	ASSERT_EQ(ri.dirty_bytes, 0);
	xr_drop_cache(fd);
	ASSERT_PATTERN(p, size, 0, fz_seed);
	ASSERT_ZERO_ERR(xstats_read(&b));
	xstats_diag(&a, &b);
	/* Every page was written back once at least and read back. */
	ASSERT_GE(b.v[XS_RDMA_WRITES] - a.v[XS_RDMA_WRITES], size / PAGE);
	ASSERT_GE(b.v[XS_RDMA_READS] - a.v[XS_RDMA_READS], size / PAGE);
	ASSERT_GE(b.v[XS_FAULTS] - a.v[XS_FAULTS], 2 * size / portion);
	ASSERT_EQ(b.v[XS_WRITEBACK_ERRORS], a.v[XS_WRITEBACK_ERRORS]);
	ASSERT_EQ(b.v[XS_BYTES_READ], b.v[XS_RDMA_READS] * PAGE);
	ASSERT_EQ(b.v[XS_BYTES_WRITTEN], b.v[XS_RDMA_WRITES] * PAGE);
	ASSERT_LE(b.v[XS_DIRTY_BYTES], b.v[XS_RESIDENT_BYTES]);
	/* The cache stays within its limit, plus a portion per fault. */
	ASSERT_LE(b.v[XS_RESIDENT_BYTES], limit + portion);
	ASSERT_OK(munmap(p, size));
	ASSERT_OK(close(fd));
	/* At rest the regions' counts add up to the cache's. */
	for (i = 0;; i++) {
		ASSERT_ZERO_ERR(xsys_read_u64("stats/resident_bytes", &res));
		sum = sum_regions("resident_bytes");
		if (sum == res)
			break;
		if (i == 100)
			FAIL("regions hold %" PRIu64 " bytes, the cache %" PRIu64,
			     sum, res);
		usleep(10000);	/* readahead may still be landing */
	}
	memset(&o, 0, sizeof(o));
	snprintf(o.name, sizeof(o.name), "%s", name);
	fd = open(XMEM_DEV, O_RDWR | O_CLOEXEC);
	ASSERT_OK(fd);
	ASSERT_OK(ioctl(fd, XMEM_IOC_DESTROY, &o));
	ASSERT_EQ(o.size, size);
	/* Gone from the appliance: not listed any more. */
	{
		static struct xmem_region_entry ents[XMEM_LIST_MAX];
		struct xmem_region_list l = { .entries = (uintptr_t)ents };

		do {
			l.count = XMEM_LIST_MAX;
			ASSERT_OK(ioctl(fd, XMEM_IOC_LIST, &l));
			for (i = 0; i < l.count; i++)
				if (!strcmp(ents[i].name, name))
					FAIL("%s still listed after DESTROY", name);
			regions1 += l.count;
		} while (l.count);
	}
	ASSERT_GE(regions1, regions0);	/* and xr_drop_cache()'s scratch */
	close(fd);
	xr_require_connected();
}

static void usage(const char *prog)
{
	fprintf(stderr, "Usage: %s [--seed N] [--count N] [--bulk N] [--sysfs N] "
		"[TEST...]\n"
		"Random and mutated ioctls, mmaps and sysfs writes to xmem; TAP.\n"
		"Tests: ioctl (--count inputs, default %" PRIu64 "), ioctl-bulk "
		"(--bulk malformed ioctls, default %" PRIu64 "), sysfs "
		"(--sysfs writes, default %" PRIu64 "), still-works.\n",
		prog, fz_count, fz_bulk, fz_sysfs);
}

int main(int argc, char **argv)
{
	char *args[64];
	int i, n = 0, ret;
	bool seeded = false, query;

	args[n++] = argv[0];
	for (i = 1; i < argc; i++) {
		const char *a = argv[i];

		if ((!strcmp(a, "--seed") || !strcmp(a, "--count") ||
		     !strcmp(a, "--sysfs") || !strcmp(a, "--bulk")) &&
		    i + 1 < argc) {
			uint64_t v = strtoull(argv[++i], NULL, 0);

			if (!strcmp(a, "--seed")) {
				fz_seed = v;
				seeded = true;
			} else if (!strcmp(a, "--count")) {
				fz_count = v;
			} else if (!strcmp(a, "--bulk")) {
				fz_bulk = v;
			} else {
				fz_sysfs = v;
			}
		} else if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
			usage(argv[0]);
			return 0;
		} else if (a[0] == '-' && strcmp(a, "-l") && strcmp(a, "-t")) {
			usage(argv[0]);
			return 2;
		} else if (n < 63) {
			args[n++] = argv[i];
		}
	}
	args[n] = NULL;
	/* -l and -t only print what the harness knows. */
	query = xt_query(n, args);
	if (!seeded) {
		struct timespec ts;

		clock_gettime(CLOCK_REALTIME, &ts);
		fz_seed = (uint64_t)ts.tv_sec * 1000003u ^ ts.tv_nsec ^ getpid();
		fz_seed %= 1000000000;
	}
	fz_n = mmap(NULL, sizeof(*fz_n), PROT_READ | PROT_WRITE,
		    MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (fz_n == MAP_FAILED)
		return 1;
	if (!query) {
		printf("# xmem-fuzz: --seed %" PRIu64 " --count %" PRIu64
		       " --bulk %" PRIu64 " --sysfs %" PRIu64 "\n", fz_seed,
		       fz_count, fz_bulk, fz_sysfs);
		knobs_save();
		xt_after_each(knobs_restore);
	}
	ret = xt_main(n, args);
	if (!query)
		printf("# xmem-fuzz: seed %" PRIu64 ": %" PRIu64 " ioctls, %"
		       PRIu64 " sysfs writes, %" PRIu64 " mmap/msync/... calls "
		       "and touches\n", fz_seed, fz_n->ioctls, fz_n->sysfs,
		       fz_n->mm);
	return ret;
}
