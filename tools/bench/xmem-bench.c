// SPDX-License-Identifier: GPL-2.0
/*
 * xmem-bench: the workload of `make bench` (see Documentation/bench.rst).
 *
 *	xmem-bench [OPTIONS] fault|seq|rand
 *
 * Runs one access pattern on a /dev/xmem region mapping (--mem xmem, the
 * default: a fresh region attached with XMEM_IOC_ATTACH and mapped
 * MAP_SHARED) or on anonymous memory (--mem anon: MAP_PRIVATE|MAP_ANONYMOUS,
 * for the swap and DRAM rows), and prints its results as JSON lines, one
 * row each:
 *
 *	{"type": "row", "name": ..., "metric": ..., "value": ..., "unit": ...,
 *	 ...details}
 *
 * Every byte of the working set is first written with a pattern (each
 * 8-byte word a hash of its offset, the seed and the page's generation),
 * and every access checks the words it reads, so a wrong, stale or zero
 * page fails the run (exit 1, "verify" on stderr) instead of being counted.
 *
 * Patterns:
 *   fault  cold 4 KiB fault latency (xmem only): fill a region of SAMPLES
 *          pages and msync it; fill a second region of EVICT bytes so the
 *          first one leaves the local cache; map the first region again
 *          and time the first load of each page, in a random order (so no
 *          sequential readahead helps).  Rows: .median, .p99 (us).
 *   seq    sequential scan: fill SIZE bytes and msync; read every cache
 *          line of every page once, in order.  Row: MiB/s.
 *   rand   random 4 KiB accesses: fill SIZE bytes (xmem: and msync); warm
 *          up (not timed) with one read pass over the set, which pushes
 *          every page out to the backing store at least once, and WARMUP
 *          random accesses, which put the cache in its steady state; then
 *          OPS random accesses are timed.  An access reads and checks 3
 *          words of a uniformly chosen page; with probability WRITE_PCT%
 *          it then writes the page's next generation into two of its words
 *          (a read-modify-write that dirties the page).  With a list of
 *          percentages, each gets its own warm-up and timed phase on the
 *          same mapping.  With --threads N (N > 1), the set is then
 *          synced and two read-only phases follow: OPS accesses by one
 *          thread, then OPS accesses by each of N threads at once (each
 *          with its own access order), so that the two rows compare the
 *          same cache state.  At the end every page is checked once more.
 *          Rows: LABEL.ro (0% writes) or LABEL.rwP, in ops/s; with
 *          threads, LABEL.ro.t1 and LABEL.ro.tN.
 *
 * Options:
 *   -m, --mem xmem|anon    memory under test (default xmem)
 *   -s, --size BYTES       working set of seq and rand (K, M, G suffixes)
 *   -n, --ops N            timed random accesses (default 4000)
 *   -W, --warmup N         untimed random accesses first (default: --ops)
 *   -w, --write-pct P,...  percent of accesses that write (default 0);
 *                          up to 4, one rand phase and row each
 *   -t, --threads N        rand: also time read-only accesses by N
 *                          threads of one process (2-64)
 *   -c, --samples N        pages timed by fault (default 2048)
 *   -e, --evict BYTES      bytes written by fault to push its pages out of
 *                          the cache (default 2 x local_limit)
 *   -S, --seed N           seed of the pattern and of the access order
 *                          (default 1)
 *   -l, --label NAME       row name (fault: NAME.median and NAME.p99;
 *                          rand: NAME.ro or NAME.rwP)
 *   -h, --help             this text
 *
 * Exit status: 0 measured, 1 failed (verify, attach, mmap), 2 usage.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#include <uapi/xmem.h>

#define XB_SYS		"/sys/class/misc/xmem"
#define XB_DEV		"/dev/xmem"
#define XB_PAGE		4096u
#define XB_WORDS	(XB_PAGE / 8)
#define XB_MiB		(1024.0 * 1024.0)

#define XB_MAX_PCT	4

enum xb_mem { XB_XMEM, XB_ANON };

static struct {
	enum xb_mem mem;
	uint64_t size;
	uint64_t ops;
	uint64_t warmup;
	int warmup_set;
	unsigned int write_pct;
	unsigned int write_pcts[XB_MAX_PCT];
	unsigned int nr_pct;
	unsigned int threads;
	uint64_t samples;
	uint64_t evict;
	uint64_t seed;
	const char *label;
	const char *test;
} opt = {
	.mem = XB_XMEM,
	.ops = 4000,
	.samples = 2048,
	.seed = 1,
};

static void die(const char *fmt, ...)
{
	va_list ap;

	fputs("xmem-bench: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	exit(1);
}

static double xb_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

/* splitmix64: the pattern hash and the access-order generator. */
static uint64_t xb_mix(uint64_t x)
{
	x += 0x9e3779b97f4a7c15ull;
	x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
	x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
	return x ^ (x >> 31);
}

static uint64_t xb_rng;

/* The next number of the access-order generator whose state is @rng. */
static uint64_t xb_rand_r(uint64_t *rng)
{
	*rng += 0x9e3779b97f4a7c15ull;
	return xb_mix(*rng);
}

static uint64_t xb_rand(void)
{
	return xb_rand_r(&xb_rng);
}

/* The expected word at byte offset @off of the working set, generation @gen. */
static uint64_t xb_word(uint64_t off, uint32_t gen)
{
	return xb_mix((opt.seed * 0x2545f4914f6cdd1dull) ^ (off >> 3) ^
		      ((uint64_t)gen << 40));
}

static uint64_t xb_parse_size(const char *s, const char *what)
{
	unsigned long long n;
	char *end;

	errno = 0;
	n = strtoull(s, &end, 0);
	if (errno || end == s)
		goto bad;
	switch (*end) {
	case 'G': case 'g':
		n <<= 10;
		/* fall through */
	case 'M': case 'm':
		n <<= 10;
		/* fall through */
	case 'K': case 'k':
		n <<= 10;
		end++;
		break;
	}
	if (*end)
		goto bad;
	return n;
bad:
	fprintf(stderr, "xmem-bench: %s: '%s' is not a number\n", what, s);
	exit(2);
}

static int xb_sys_read(const char *attr, char *buf, size_t len)
{
	char path[256];
	ssize_t n;
	int fd;

	snprintf(path, sizeof(path), "%s/%s", XB_SYS, attr);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -1;
	n = read(fd, buf, len - 1);
	close(fd);
	if (n < 0)
		return -1;
	buf[n] = '\0';
	while (n > 0 && (buf[n - 1] == '\n' || buf[n - 1] == ' '))
		buf[--n] = '\0';
	return 0;
}

static int xb_sys_u64(const char *attr, uint64_t *val)
{
	char buf[64], *end;

	if (xb_sys_read(attr, buf, sizeof(buf)))
		return -1;
	errno = 0;
	*val = strtoull(buf, &end, 10);
	return errno || end == buf || *end ? -1 : 0;
}

/* Module counters reported with each xmem row (missing ones are skipped). */
static const char *const xb_stat_names[] = {
	"faults", "cache_hits", "rdma_reads", "rdma_writes", "rdma_read_wrs",
	"rdma_write_wrs", "bytes_read",
	"bytes_written", "evictions_clean", "evictions_dirty",
	"readahead_hits", "tlb_flushes", "writeback_errors",
	"evict_batches", "evict_tlb_flushes",
};
#define XB_NSTATS (sizeof(xb_stat_names) / sizeof(xb_stat_names[0]))

struct xb_stats {
	uint64_t v[XB_NSTATS];
	int ok[XB_NSTATS];
};

static void xb_stats_read(struct xb_stats *s)
{
	char attr[64];
	size_t i;

	for (i = 0; i < XB_NSTATS; i++) {
		snprintf(attr, sizeof(attr), "stats/%s", xb_stat_names[i]);
		s->ok[i] = opt.mem == XB_XMEM && !xb_sys_u64(attr, &s->v[i]);
	}
}

static uint64_t xb_stat_delta(const struct xb_stats *a,
			      const struct xb_stats *b, const char *name)
{
	size_t i;

	for (i = 0; i < XB_NSTATS; i++)
		if (!strcmp(xb_stat_names[i], name))
			return a->ok[i] && b->ok[i] ? b->v[i] - a->v[i] : 0;
	return 0;
}

/* ", \"stats\": {...}" with the counter deltas, or nothing for anon. */
static void xb_stats_json(char *buf, size_t len, const struct xb_stats *a,
			  const struct xb_stats *b)
{
	size_t i, n = 0;
	int first = 1;

	buf[0] = '\0';
	if (opt.mem != XB_XMEM)
		return;
	n += snprintf(buf + n, len - n, ", \"stats\": {");
	for (i = 0; i < XB_NSTATS && n < len; i++) {
		if (!a->ok[i] || !b->ok[i])
			continue;
		n += snprintf(buf + n, len - n, "%s\"%s\": %" PRIu64,
			      first ? "" : ", ", xb_stat_names[i],
			      b->v[i] - a->v[i]);
		first = 0;
	}
	if (n < len)
		snprintf(buf + n, len - n, "}");
}

struct xb_map {
	char *p;
	uint64_t size;
	int fd;
	char name[XMEM_REGION_NAME_MAX];
};

static void xb_region_name(char *buf, const char *tag)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	snprintf(buf, XMEM_REGION_NAME_MAX, "bench-%s-%d-%lx", tag,
		 (int)getpid(),
		 (unsigned long)(ts.tv_nsec ^ ts.tv_sec) & 0xfffff);
}

static void xb_map_open(struct xb_map *m, uint64_t size, const char *tag)
{
	struct xmem_attach at;

	m->size = size;
	m->fd = -1;
	if (opt.mem == XB_ANON) {
		m->p = mmap(NULL, size, PROT_READ | PROT_WRITE,
			    MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
		if (m->p == MAP_FAILED)
			die("mmap %" PRIu64 " anonymous bytes: %s", size,
			    strerror(errno));
		/* 4 KiB pages, like xmem's mapping (and 4 KiB swap-outs). */
		madvise(m->p, size, MADV_NOHUGEPAGE);
		return;
	}
	xb_region_name(m->name, tag);
	memset(&at, 0, sizeof(at));
	snprintf(at.name, sizeof(at.name), "%s", m->name);
	at.size = size;
	at.flags = XMEM_ATTACH_CREATE | XMEM_ATTACH_EXCL;
	m->fd = open(XB_DEV, O_RDWR | O_CLOEXEC);
	if (m->fd < 0)
		die("open %s: %s", XB_DEV, strerror(errno));
	if (ioctl(m->fd, XMEM_IOC_ATTACH, &at))
		die("attach region %s (%" PRIu64 " bytes): %s", m->name, size,
		    strerror(errno));
	m->p = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, m->fd, 0);
	if (m->p == MAP_FAILED)
		die("mmap region %s: %s", m->name, strerror(errno));
}

/* Drops the mapping and maps the region again: no PTE is left. */
static void xb_map_again(struct xb_map *m)
{
	if (munmap(m->p, m->size))
		die("munmap %s: %s", m->name, strerror(errno));
	m->p = mmap(NULL, m->size, PROT_READ | PROT_WRITE, MAP_SHARED,
		    m->fd, 0);
	if (m->p == MAP_FAILED)
		die("mmap region %s again: %s", m->name, strerror(errno));
}

static void xb_map_sync(struct xb_map *m)
{
	if (opt.mem == XB_XMEM && msync(m->p, m->size, MS_SYNC))
		die("msync %s: %s", m->name, strerror(errno));
}

static void xb_map_close(struct xb_map *m)
{
	munmap(m->p, m->size);
	if (m->fd >= 0)
		close(m->fd);
}

/*
 * This process's cgroup v2 directory when it is not the root (the swap
 * rows run in a cgroup with memory.max), else "".
 */
static char xb_cgdir[400];

static void xb_cgroup_find(void)
{
	char line[400];
	FILE *f;

	f = fopen("/proc/self/cgroup", "re");
	if (!f)
		return;
	while (fgets(line, sizeof(line), f)) {
		line[strcspn(line, "\n")] = '\0';
		if (strncmp(line, "0::/", 4) || !line[4])
			continue;
		snprintf(xb_cgdir, sizeof(xb_cgdir), "/sys/fs/cgroup%.370s",
			 line + 3);
	}
	fclose(f);
}

/* The value of KEY in the cgroup's FILE ("KEY VALUE" lines, or KEY ""). */
static uint64_t xb_cgroup_value(const char *file, const char *key)
{
	unsigned long long v = 0;
	char path[512], line[128];
	size_t klen = strlen(key);
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", xb_cgdir, file);
	f = fopen(path, "re");
	if (!f)
		return 0;
	while (fgets(line, sizeof(line), f)) {
		if (!klen) {
			v = strtoull(line, NULL, 10);
			break;
		}
		if (!strncmp(line, key, klen) && line[klen] == ' ') {
			v = strtoull(line + klen + 1, NULL, 10);
			break;
		}
	}
	fclose(f);
	return v;
}

/*
 * Writes the pattern over the whole mapping.  In a memory cgroup, the fill
 * dirties anonymous memory far faster than a slow swap device writes it
 * out; when everything charged is under write-back, reclaim finds nothing
 * to free and the cgroup's OOM killer fires.  So the fill waits (untimed)
 * while more than a quarter of memory.max is being written back.
 */
static void xb_fill(struct xb_map *m)
{
	uint64_t *w = (uint64_t *)m->p, i, max = 0;

	if (opt.mem == XB_ANON && xb_cgdir[0])
		max = xb_cgroup_value("memory.max", "");
	for (i = 0; i < m->size / 8; i++) {
		if (max && !(i % (64 * XB_WORDS))) {
			while (xb_cgroup_value("memory.stat", "file_writeback") >
			       max / 4)
				usleep(1000);
		}
		w[i] = xb_word(i * 8, 0);
	}
}

static uint64_t xb_verify_errors;

static void xb_bad(const char *where, uint64_t off, uint64_t want,
		   uint64_t got)
{
	/* The reader threads of rand may fail at once. */
	if (!__atomic_fetch_add(&xb_verify_errors, 1, __ATOMIC_RELAXED))
		fprintf(stderr,
			"xmem-bench: verify: %s: word at offset %#" PRIx64
			": want %#" PRIx64 " got %#" PRIx64 "\n",
			where, off, want, got);
}

/* Checks the word at byte offset @off of @m (generation @gen). */
static inline void xb_check(const struct xb_map *m, uint64_t off, uint32_t gen,
			    const char *where)
{
	uint64_t got = *(volatile uint64_t *)(m->p + off);
	uint64_t want = xb_word(off, gen);

	if (got != want)
		xb_bad(where, off, want, got);
}

static void xb_finish(void)
{
	if (xb_verify_errors)
		die("verify: %" PRIu64 " wrong words: no result", xb_verify_errors);
}

static const char *xb_mem_name(void)
{
	return opt.mem == XB_XMEM ? "xmem" : "anon";
}

static int xb_cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

static double xb_pct(const double *sorted, uint64_t n, double p)
{
	uint64_t i = (uint64_t)(p / 100.0 * (n - 1) + 0.5);

	return sorted[i < n ? i : n - 1];
}

static void xb_test_fault(void)
{
	uint64_t i, j, n = opt.samples, remote, hits, tmp, *order;
	struct xb_map data, evict;
	struct xb_stats s0, s1;
	char stats[1024];
	double *lat;

	if (opt.mem != XB_XMEM)
		die("fault: only --mem xmem");
	if (!n)
		die("fault: --samples must be at least 1");
	if (!opt.evict) {
		uint64_t limit;

		if (xb_sys_u64("local_limit", &limit))
			die("fault: no --evict and no %s/local_limit", XB_SYS);
		opt.evict = 2 * limit;
	}
	opt.evict = (opt.evict + XB_PAGE - 1) / XB_PAGE * XB_PAGE;

	xb_map_open(&data, n * XB_PAGE, "fault");
	xb_fill(&data);
	xb_map_sync(&data);
	/* Everything written after it pushes the data out of the cache. */
	xb_map_open(&evict, opt.evict, "evict");
	xb_fill(&evict);
	xb_map_sync(&evict);
	xb_map_close(&evict);
	xb_map_again(&data);

	lat = calloc(n, sizeof(*lat));
	order = calloc(n, sizeof(*order));
	if (!lat || !order)
		die("out of memory");
	for (i = 0; i < n; i++)
		order[i] = i;
	for (i = n - 1; i > 0; i--) {
		j = xb_rand() % (i + 1);
		tmp = order[i];
		order[i] = order[j];
		order[j] = tmp;
	}

	xb_stats_read(&s0);
	for (i = 0; i < n; i++) {
		uint64_t off = order[i] * XB_PAGE;
		volatile uint64_t *w = (volatile uint64_t *)(data.p + off);
		double t0, t1;
		uint64_t got;

		t0 = xb_now();
		got = *w;
		t1 = xb_now();
		lat[i] = (t1 - t0) * 1e6;
		if (got != xb_word(off, 0))
			xb_bad("fault", off, xb_word(off, 0), got);
		xb_check(&data, off + 8 * (1 + i % (XB_WORDS - 1)), 0, "fault");
	}
	xb_stats_read(&s1);
	xb_finish();

	remote = xb_stat_delta(&s0, &s1, "rdma_reads");
	hits = xb_stat_delta(&s0, &s1, "cache_hits");
	xb_stats_json(stats, sizeof(stats), &s0, &s1);
	qsort(lat, n, sizeof(*lat), xb_cmp_double);
	for (i = 0; i < 2; i++)
		printf("{\"type\": \"row\", \"name\": \"%s.%s\", "
		       "\"metric\": \"cold 4 KiB fault latency, %s\", "
		       "\"value\": %.1f, \"unit\": \"us\", \"mem\": \"%s\", "
		       "\"samples\": %" PRIu64 ", \"min_us\": %.1f, "
		       "\"max_us\": %.1f, \"evict_bytes\": %" PRIu64 ", "
		       "\"rdma_reads\": %" PRIu64 ", \"cache_hits\": %" PRIu64
		       ", \"verified\": true%s}\n",
		       opt.label, i ? "p99" : "median", i ? "p99" : "median",
		       i ? xb_pct(lat, n, 99) : xb_pct(lat, n, 50), xb_mem_name(),
		       n, lat[0], lat[n - 1], opt.evict, remote, hits, stats);
	if (remote < n * 9 / 10)
		fprintf(stderr, "xmem-bench: fault: only %" PRIu64 " RDMA reads "
			"for %" PRIu64 " first touches: pages were cached\n",
			remote, n);
	free(lat);
	free(order);
	xb_map_close(&data);
}

static void xb_test_seq(void)
{
	uint64_t pages = opt.size / XB_PAGE, pg, sum = 0;
	struct xb_stats s0, s1;
	struct xb_map m;
	char stats[1024];
	double t0, t;

	if (!pages)
		die("seq: --size must be at least one page");
	xb_map_open(&m, pages * XB_PAGE, "seq");
	xb_fill(&m);
	xb_map_sync(&m);

	xb_stats_read(&s0);
	t0 = xb_now();
	for (pg = 0; pg < pages; pg++) {
		const volatile uint64_t *w =
			(const volatile uint64_t *)(m.p + pg * XB_PAGE);
		unsigned int k;

		/* One load per cache line; two words of each page checked. */
		for (k = 0; k < XB_WORDS; k += 8)
			sum += w[k];
		xb_check(&m, pg * XB_PAGE, 0, "seq");
		xb_check(&m, pg * XB_PAGE + 8 * (1 + pg % (XB_WORDS - 1)), 0,
			 "seq");
	}
	t = xb_now() - t0;
	xb_stats_read(&s1);
	xb_finish();
	xb_stats_json(stats, sizeof(stats), &s0, &s1);
	printf("{\"type\": \"row\", \"name\": \"%s\", "
	       "\"metric\": \"sequential scan\", \"value\": %.1f, "
	       "\"unit\": \"MiB/s\", \"mem\": \"%s\", \"bytes\": %" PRIu64 ", "
	       "\"seconds\": %.3f, \"checksum\": %" PRIu64 ", "
	       "\"verified\": true%s}\n",
	       opt.label, pages * XB_PAGE / XB_MiB / t, xb_mem_name(),
	       pages * XB_PAGE, t, sum & 0xffff, stats);
	xb_map_close(&m);
}

/*
 * One random access, in the order of the generator @rng: read and check 3
 * words, and with probability @write_pct % write 2.
 */
static inline void xb_access_r(struct xb_map *m, uint32_t *gen, uint64_t pages,
			       uint64_t *rng, unsigned int write_pct)
{
	uint64_t r = xb_rand_r(rng), pg = r % pages, base = pg * XB_PAGE;
	unsigned int slot = 1 + (r >> 40) % (XB_WORDS - 2);
	int write = (xb_rand_r(rng) % 100) < write_pct;
	uint64_t *w = (uint64_t *)(m->p + base);

	/* Words 0 and 511 carry the generation; the others stay at 0. */
	xb_check(m, base, gen[pg], "rand");
	xb_check(m, base + 8 * slot, 0, "rand");
	xb_check(m, base + XB_PAGE - 8, gen[pg], "rand");
	if (write) {
		gen[pg]++;
		w[0] = xb_word(base, gen[pg]);
		w[XB_WORDS - 1] = xb_word(base + XB_PAGE - 8, gen[pg]);
	}
}

static inline void xb_access(struct xb_map *m, uint32_t *gen, uint64_t pages)
{
	xb_access_r(m, gen, pages, &xb_rng, opt.write_pct);
}

struct xb_reader {
	struct xb_map *m;
	uint32_t *gen;
	uint64_t pages;
	uint64_t rng;
	pthread_barrier_t *start;
};

static void *xb_reader_run(void *arg)
{
	struct xb_reader *r = arg;
	uint64_t i;

	pthread_barrier_wait(r->start);
	for (i = 0; i < opt.ops; i++)
		xb_access_r(r->m, r->gen, r->pages, &r->rng, 0);
	return NULL;
}

/*
 * Read-only random accesses by @n threads at once, opt.ops each; returns
 * the row for them (LABEL.ro.tN).  The generation array is only read.
 */
static void xb_rand_threads(struct xb_map *m, uint32_t *gen, uint64_t pages,
			    unsigned int n, char *row, size_t len)
{
	struct xb_reader r[64];
	pthread_t tid[64];
	pthread_barrier_t start;
	struct xb_stats s0, s1;
	char stats[1024];
	unsigned int k;
	double t0, t;
	int err;

	if (pthread_barrier_init(&start, NULL, n + 1))
		die("pthread_barrier_init failed");
	for (k = 0; k < n; k++) {
		r[k] = (struct xb_reader){ .m = m, .gen = gen, .pages = pages,
					   .rng = xb_mix(opt.seed + 1000 * (k + 1)),
					   .start = &start };
		err = pthread_create(&tid[k], NULL, xb_reader_run, &r[k]);
		if (err)
			die("pthread_create: %s", strerror(err));
	}
	xb_stats_read(&s0);
	pthread_barrier_wait(&start);
	t0 = xb_now();
	for (k = 0; k < n; k++)
		pthread_join(tid[k], NULL);
	t = xb_now() - t0;
	xb_stats_read(&s1);
	pthread_barrier_destroy(&start);
	xb_stats_json(stats, sizeof(stats), &s0, &s1);
	snprintf(row, len,
		 "{\"type\": \"row\", \"name\": \"%s.ro.t%u\", "
		 "\"metric\": \"random 4 KiB reads by %u thread%s, %.0f MiB "
		 "set\", \"value\": %.1f, \"unit\": \"ops/s\", "
		 "\"mem\": \"%s\", \"bytes\": %" PRIu64 ", \"threads\": %u, "
		 "\"ops\": %" PRIu64 ", \"seconds\": %.3f, "
		 "\"verified\": true%s}",
		 opt.label, n, n, n > 1 ? "s" : "", pages * XB_PAGE / XB_MiB,
		 n * opt.ops / t, xb_mem_name(), pages * XB_PAGE, n,
		 n * opt.ops, t, stats);
}

static void xb_test_rand(void)
{
	uint64_t pages = opt.size / XB_PAGE, i, writes;
	char stats[1024], rows[XB_MAX_PCT + 2][2048];
	unsigned int nrows;
	struct xb_stats s0, s1;
	struct xb_map m;
	unsigned int k;
	uint32_t *gen;
	double t0, t;

	if (!pages || !opt.ops)
		die("rand: --size and --ops must be positive");
	if (!opt.warmup_set)
		opt.warmup = opt.ops;
	gen = calloc(pages, sizeof(*gen));
	if (!gen)
		die("out of memory");
	xb_map_open(&m, pages * XB_PAGE, "rand");
	xb_fill(&m);
	/*
	 * Warm-up: the written set goes to the backing store (msync for xmem;
	 * for swap, the read pass pushes every page out at least once), then
	 * random accesses bring the cache to its steady state, so that a
	 * read-only row never pays for writing the fill back.
	 */
	xb_map_sync(&m);
	for (i = 0; i < pages; i++)
		xb_check(&m, i * XB_PAGE + 8 * (1 + i % (XB_WORDS - 1)), 0,
			 "rand warm-up");

	/* One phase per write percentage, each warmed up on its own. */
	for (k = 0; k < opt.nr_pct; k++) {
		opt.write_pct = opt.write_pcts[k];
		for (i = 0; i < opt.warmup; i++)
			xb_access(&m, gen, pages);
		writes = 0;
		for (i = 0; i < pages; i++)
			writes -= gen[i];
		xb_stats_read(&s0);
		t0 = xb_now();
		for (i = 0; i < opt.ops; i++)
			xb_access(&m, gen, pages);
		t = xb_now() - t0;
		xb_stats_read(&s1);
		for (i = 0; i < pages; i++)
			writes += gen[i];
		xb_stats_json(stats, sizeof(stats), &s0, &s1);
		snprintf(rows[k], sizeof(rows[k]),
			 "{\"type\": \"row\", \"name\": \"%s.%s%.0u\", "
			 "\"metric\": \"random 4 KiB accesses, %u%% writes, "
			 "%.0f MiB set\", \"value\": %.1f, \"unit\": \"ops/s\", "
			 "\"mem\": \"%s\", \"bytes\": %" PRIu64 ", "
			 "\"ops\": %" PRIu64 ", \"warmup_ops\": %" PRIu64 ", "
			 "\"writes\": %" PRIu64 ", \"seconds\": %.3f, "
			 "\"verified\": true%s}",
			 opt.label, opt.write_pct ? "rw" : "ro", opt.write_pct,
			 opt.write_pct, pages * XB_PAGE / XB_MiB, opt.ops / t,
			 xb_mem_name(), pages * XB_PAGE, opt.ops, opt.warmup,
			 writes, t, stats);
	}

	nrows = opt.nr_pct;

	/*
	 * Threads: from a clean set (nothing left to write back from the
	 * write phases) and a warmed-up cache, one reader, then N at once.
	 */
	if (opt.threads > 1) {
		xb_map_sync(&m);
		for (i = 0; i < opt.warmup; i++)
			xb_access_r(&m, gen, pages, &xb_rng, 0);
		xb_rand_threads(&m, gen, pages, 1, rows[nrows++],
				sizeof(rows[0]));
		xb_rand_threads(&m, gen, pages, opt.threads, rows[nrows++],
				sizeof(rows[0]));
	}

	/* Whatever was written must read back, wherever it is now. */
	for (i = 0; i < pages; i++) {
		xb_check(&m, i * XB_PAGE, gen[i], "rand final");
		xb_check(&m, i * XB_PAGE + XB_PAGE - 8, gen[i], "rand final");
	}
	xb_finish();
	for (k = 0; k < nrows; k++)
		printf("%s\n", rows[k]);
	xb_map_close(&m);
	free(gen);
}

static void xb_usage(FILE *f, int status)
{
	fputs("usage: xmem-bench [-m xmem|anon] [-s BYTES] [-n OPS] [-W WARMUP]\n"
	      "                  [-w WRITE_PCT] [-c SAMPLES] [-e EVICT_BYTES]\n"
	      "                  [-t THREADS] [-S SEED] [-l LABEL] fault|seq|rand\n"
	      "Prints one JSON line per result; see Documentation/bench.rst.\n",
	      f);
	exit(status);
}

int main(int argc, char **argv)
{
	static const struct option lopts[] = {
		{ "mem", required_argument, NULL, 'm' },
		{ "size", required_argument, NULL, 's' },
		{ "ops", required_argument, NULL, 'n' },
		{ "warmup", required_argument, NULL, 'W' },
		{ "write-pct", required_argument, NULL, 'w' },
		{ "threads", required_argument, NULL, 't' },
		{ "samples", required_argument, NULL, 'c' },
		{ "evict", required_argument, NULL, 'e' },
		{ "seed", required_argument, NULL, 'S' },
		{ "label", required_argument, NULL, 'l' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	int c;

	while ((c = getopt_long(argc, argv, "m:s:n:W:w:t:c:e:S:l:h", lopts,
				NULL)) != -1) {
		switch (c) {
		case 'm':
			if (!strcmp(optarg, "xmem"))
				opt.mem = XB_XMEM;
			else if (!strcmp(optarg, "anon"))
				opt.mem = XB_ANON;
			else
				xb_usage(stderr, 2);
			break;
		case 's':
			opt.size = xb_parse_size(optarg, "--size");
			break;
		case 'n':
			opt.ops = xb_parse_size(optarg, "--ops");
			break;
		case 'W':
			opt.warmup = xb_parse_size(optarg, "--warmup");
			opt.warmup_set = 1;
			break;
		case 'w': {
			char *tok, *save = NULL;

			opt.nr_pct = 0;
			for (tok = strtok_r(optarg, ",", &save); tok;
			     tok = strtok_r(NULL, ",", &save)) {
				if (opt.nr_pct == XB_MAX_PCT)
					xb_usage(stderr, 2);
				opt.write_pcts[opt.nr_pct] =
					xb_parse_size(tok, "--write-pct");
				if (opt.write_pcts[opt.nr_pct++] > 100)
					xb_usage(stderr, 2);
			}
			break;
		}
		case 't':
			opt.threads = xb_parse_size(optarg, "--threads");
			if (opt.threads < 2 || opt.threads > 64)
				xb_usage(stderr, 2);
			break;
		case 'c':
			opt.samples = xb_parse_size(optarg, "--samples");
			break;
		case 'e':
			opt.evict = xb_parse_size(optarg, "--evict");
			break;
		case 'S':
			opt.seed = xb_parse_size(optarg, "--seed");
			break;
		case 'l':
			opt.label = optarg;
			break;
		case 'h':
			xb_usage(stdout, 0);
			break;
		default:
			xb_usage(stderr, 2);
		}
	}
	if (optind != argc - 1)
		xb_usage(stderr, 2);
	opt.test = argv[optind];
	if (!opt.nr_pct)
		opt.nr_pct = 1;
	if (!opt.label)
		opt.label = opt.test;
	if (strchr(opt.label, '"') || strchr(opt.label, '\\'))
		xb_usage(stderr, 2);
	xb_rng = opt.seed;
	xb_cgroup_find();
	setvbuf(stdout, NULL, _IOLBF, 0);

	if (!strcmp(opt.test, "fault"))
		xb_test_fault();
	else if (!strcmp(opt.test, "seq"))
		xb_test_seq();
	else if (!strcmp(opt.test, "rand"))
		xb_test_rand();
	else
		xb_usage(stderr, 2);
	return 0;
}
