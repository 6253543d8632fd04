// SPDX-License-Identifier: GPL-2.0
/*
 * Unit tests of libxmem's allocator, on the host: the allocator is
 * compiled in (under ASan and UBSan by `make check`) and runs on its
 * anonymous-memory test backend (XMEM_BACKEND=anon: MAP_SHARED anonymous
 * memory, shared across fork() like a /dev/xmem mapping, with a simulated
 * region resize).  Prints TAP.  Scenarios that need other settings run
 * in a child process started with their own environment.
 *
 * usage: libxmem-test [SCENARIO]
 */
#define _GNU_SOURCE
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include "xmem_alloc.h"

static int test_no, failures;
static char self[4096];

static void result(bool ok, const char *fmt, ...)
{
	va_list ap;

	printf("%sok %d - ", ok ? "" : "not ", ++test_no);
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	printf("\n");
	fflush(stdout);
	if (!ok)
		failures++;
}

#define CHECK(cond, ...) do {						\
	if (!(cond)) {							\
		printf("# %s:%d: %s failed\n", __FILE__, __LINE__, #cond); \
		return false;						\
	}								\
} while (0)

static uint64_t rnd_state = 88172645463325252ull;

static uint64_t rnd(void)
{
	rnd_state ^= rnd_state << 13;
	rnd_state ^= rnd_state >> 7;
	rnd_state ^= rnd_state << 17;
	return rnd_state;
}

static void fill(void *p, size_t n, uint64_t seed)
{
	unsigned char *c = p;
	size_t i;

	for (i = 0; i < n; i++)
		c[i] = (unsigned char)(seed * 31 + i * 7 + (i >> 8));
}

static bool check_fill(const void *p, size_t n, uint64_t seed)
{
	const unsigned char *c = p;
	size_t i;

	for (i = 0; i < n; i++)
		if (c[i] != (unsigned char)(seed * 31 + i * 7 + (i >> 8)))
			return false;
	return true;
}

static struct xmem_alloc_stats stats(void)
{
	struct xmem_alloc_stats st;

	if (xmem_alloc_stats(&st))
		memset(&st, 0, sizeof(st));
	return st;
}

/* Every size up to 40 KiB in a varied walk: usable, aligned, separate. */
static bool t_size_classes(void)
{
	static void *ptrs[2000];
	static size_t sizes[2000];
	size_t size;
	int n = 0, i;

	for (size = 0; size <= 40000 && n < 2000; size += 1 + size / 8) {
		void *p = xmem_malloc(size);

		CHECK(p);
		CHECK(xmem_owns(p));
		CHECK(((uintptr_t)p & 15) == 0);
		CHECK(xmem_usable_size(p) >= size);
		CHECK(xmem_usable_size(p) <= (size < 16 ? 16 : size + size / 4 + 4096));
		fill(p, size, size);
		ptrs[n] = p;
		sizes[n++] = size;
	}
	for (i = 0; i < n; i++)
		CHECK(check_fill(ptrs[i], sizes[i], sizes[i]));
	for (i = 0; i < n; i++)
		xmem_free(ptrs[i]);
	/* Every boundary size of the classes: exact fit at the limit. */
	for (size = 16; size <= 32768; size += 16) {
		void *p = xmem_malloc(size);
		size_t u;

		CHECK(p);
		u = xmem_usable_size(p);
		CHECK(u >= size);
		memset(p, 0xa5, u);
		xmem_free(p);
	}
	return true;
}

static bool t_alignment(void)
{
	size_t align, size;

	for (align = 1; align <= 4 * 1024 * 1024; align <<= 1) {
		for (size = 1; size < 200000; size = size * 3 + 7) {
			void *p = xmem_aligned_alloc(align, size);

			CHECK(p);
			CHECK(((uintptr_t)p & (align - 1)) == 0);
			CHECK(xmem_usable_size(p) >= size);
			memset(p, 1, size);
			xmem_free(p);
		}
	}
	{
		void *p = NULL;

		CHECK(xmem_posix_memalign(&p, 3, 10) == EINVAL);
		CHECK(xmem_posix_memalign(&p, 4, 10) == EINVAL);
		CHECK(xmem_posix_memalign(&p, 64, 10) == 0 && p);
		CHECK(((uintptr_t)p & 63) == 0);
		xmem_free(p);
		errno = 0;
		CHECK(!xmem_aligned_alloc(24, 10) && errno == EINVAL);
	}
	return true;
}

static bool t_realloc(void)
{
	size_t steps[] = { 1, 17, 100, 1000, 5000, 33000, 70000, 300000,
			   2000000, 100000, 40000, 3000, 200, 8, 0 };
	size_t cur = 0, i;
	char *p = NULL;
	uint64_t seed = 5;

	for (i = 0; steps[i]; i++) {
		size_t keep = cur < steps[i] ? cur : steps[i];
		char *q = xmem_realloc(p, steps[i]);

		CHECK(q);
		CHECK(check_fill(q, keep, seed));
		fill(q, steps[i], seed);
		CHECK(xmem_usable_size(q) >= steps[i]);
		p = q;
		cur = steps[i];
	}
	/* A large block grows in place when the pages after it are free. */
	{
		char *a = xmem_malloc(1 << 20), *b;

		CHECK(a);
		fill(a, 1 << 20, 9);
		b = xmem_realloc(a, 3 << 20);
		CHECK(b);
		CHECK(check_fill(b, 1 << 20, 9));
		/* Shrinking keeps the address. */
		CHECK(xmem_realloc(b, 200000) == b);
		CHECK(check_fill(b, 200000, 9));
		xmem_free(b);
	}
	/* realloc(p, 0) frees; realloc(NULL, n) allocates. */
	CHECK(xmem_realloc(p, 0) == NULL);
	p = xmem_realloc(NULL, 10);
	CHECK(p);
	xmem_free(p);
	return true;
}

static bool t_calloc(void)
{
	size_t sizes[] = { 8, 100, 4000, 40000, 1 << 20, 0 };
	int i, round;

	for (round = 0; round < 3; round++) {
		for (i = 0; sizes[i]; i++) {
			unsigned char *p = xmem_calloc(1, sizes[i]);
			size_t j;

			CHECK(p);
			for (j = 0; j < sizes[i]; j++)
				CHECK(!p[j]);
			memset(p, 0xff, sizes[i]);	/* dirty it for reuse */
			xmem_free(p);
		}
	}
	errno = 0;
	CHECK(!xmem_calloc(SIZE_MAX / 2, 3) && errno == ENOMEM);
	errno = 0;
	CHECK(!xmem_malloc(SIZE_MAX - 100) && errno == ENOMEM);
	return true;
}

static bool t_reuse(void)
{
	struct xmem_alloc_stats a, b;
	void *p, *q;
	int i;

	p = xmem_malloc(100);
	xmem_free(p);
	q = xmem_malloc(100);
	CHECK(p == q);			/* the thread cache hands it back */
	xmem_free(q);
	/* Large blocks: the same pages again, no new high water. */
	p = xmem_malloc(5 << 20);
	CHECK(p);
	memset(p, 3, 5 << 20);
	xmem_free(p);
	a = stats();
	for (i = 0; i < 50; i++) {
		q = xmem_malloc((5 << 20) - i * 4096);
		CHECK(q);
		memset(q, 4, 4096);
		xmem_free(q);
	}
	b = stats();
	CHECK(b.high_water_bytes == a.high_water_bytes);
	/* Many small objects freed: the slabs are reused, not leaked. */
	for (i = 0; i < 5; i++) {
		static void *v[20000];
		int j;

		for (j = 0; j < 20000; j++)
			CHECK((v[j] = xmem_malloc(48)));
		for (j = 0; j < 20000; j++)
			xmem_free(v[j]);
	}
	a = stats();
	CHECK(a.high_water_bytes <= b.high_water_bytes + (2 << 20));
	return true;
}

static bool t_mmap(void)
{
	unsigned char *p = xmem_mmap(10 * 4096 + 1), *q;
	size_t i;

	CHECK(p);
	CHECK(((uintptr_t)p & 4095) == 0);
	for (i = 0; i < 11 * 4096; i++)
		CHECK(!p[i]);
	memset(p, 0x5a, 11 * 4096);
	/* Unmap the middle; the two ends stay. */
	CHECK(!xmem_munmap(p + 3 * 4096, 4 * 4096));
	CHECK(p[0] == 0x5a && p[11 * 4096 - 1] == 0x5a);
	CHECK(!xmem_munmap(p, 3 * 4096));
	CHECK(!xmem_munmap(p + 7 * 4096, 4 * 4096));
	/* Reused pages come back zeroed. */
	q = xmem_mmap(11 * 4096);
	CHECK(q);
	for (i = 0; i < 11 * 4096; i++)
		CHECK(!q[i]);
	CHECK(!xmem_munmap(q, 11 * 4096));
	errno = 0;
	CHECK(xmem_munmap(q + 1, 4096) == -1 && errno == EINVAL);
	errno = 0;
	CHECK(xmem_munmap(&errno, 4096) == -1 && errno == EINVAL);
	errno = 0;
	CHECK(!xmem_mmap(0) && errno == EINVAL);
	return true;
}

/* Threads: allocate, fill, pass half to a neighbour, verify, free. */
#define NTHREADS 4
#define SLOTS 512
struct shared_slot {
	pthread_mutex_t lock;
	void *p;
	size_t size;
	uint64_t seed;
};
static struct shared_slot mailbox[SLOTS];
static _Atomic int thread_errors;

static void *stress_thread(void *arg)
{
	uintptr_t id = (uintptr_t)arg;
	uint64_t s = 0x12345 + id * 7919;
	void *own[256] = { 0 };
	size_t own_size[256];
	uint64_t own_seed[256];
	int i;

	for (i = 0; i < 200000; i++) {
		unsigned int k, r;
		size_t size;

		s ^= s << 13;
		s ^= s >> 7;
		s ^= s << 17;
		r = (unsigned int)s;
		k = r % 256;
		if (own[k]) {
			if (!check_fill(own[k], own_size[k], own_seed[k]))
				thread_errors++;
			if (r & 0x100) {
				xmem_free(own[k]);
			} else {
				/* Swap with the mailbox: frees cross threads. */
				struct shared_slot *m = &mailbox[(r >> 9) % SLOTS];
				void *p;
				size_t ps;
				uint64_t pseed;

				pthread_mutex_lock(&m->lock);
				p = m->p;
				ps = m->size;
				pseed = m->seed;
				m->p = own[k];
				m->size = own_size[k];
				m->seed = own_seed[k];
				pthread_mutex_unlock(&m->lock);
				if (p) {
					if (!check_fill(p, ps, pseed))
						thread_errors++;
					xmem_free(p);
				}
			}
			own[k] = NULL;
			continue;
		}
		size = (r >> 12) % 8 ? (r >> 16) % 600 : (r >> 16) % 70000;
		own[k] = xmem_malloc(size);
		if (!own[k]) {
			thread_errors++;
			continue;
		}
		own_size[k] = size;
		own_seed[k] = s;
		fill(own[k], size, s);
	}
	for (i = 0; i < 256; i++)
		if (own[i]) {
			if (!check_fill(own[i], own_size[i], own_seed[i]))
				thread_errors++;
			xmem_free(own[i]);
		}
	return NULL;
}

static bool t_threads(void)
{
	pthread_t t[NTHREADS];
	uintptr_t i;
	struct xmem_alloc_stats before, after;

	before = stats();
	for (i = 0; i < SLOTS; i++)
		pthread_mutex_init(&mailbox[i].lock, NULL);
	for (i = 0; i < NTHREADS; i++)
		CHECK(!pthread_create(&t[i], NULL, stress_thread, (void *)i));
	for (i = 0; i < NTHREADS; i++)
		pthread_join(t[i], NULL);
	CHECK(thread_errors == 0);
	for (i = 0; i < SLOTS; i++) {
		if (mailbox[i].p) {
			CHECK(check_fill(mailbox[i].p, mailbox[i].size,
					 mailbox[i].seed));
			xmem_free(mailbox[i].p);
			mailbox[i].p = NULL;
		}
	}
	/* Exited threads gave their caches back: nothing is in use. */
	after = stats();
	printf("# threads: in use before %llu after %llu objects\n",
	       (unsigned long long)before.in_use_objects,
	       (unsigned long long)after.in_use_objects);
	CHECK(after.in_use_objects == before.in_use_objects);
	return true;
}

/* fork(): the child gets a private copy; neither sees the other's writes. */
static bool t_fork(void)
{
	enum { N = 300 };
	char *obj[N];
	size_t sz[N];
	char *big;
	int pfd[2], i, status;
	pid_t pid;

	for (i = 0; i < N; i++) {
		sz[i] = (i % 10 == 0) ? 100000 + i : 1 + i * 13;
		obj[i] = xmem_malloc(sz[i]);
		CHECK(obj[i]);
		fill(obj[i], sz[i], i);
	}
	big = xmem_mmap(1 << 20);
	CHECK(big);
	fill(big, 1 << 20, 77);
	CHECK(!pipe(pfd));
	pid = fork();
	CHECK(pid >= 0);
	if (!pid) {
		int bad = 0;
		char c;

		close(pfd[1]);
		for (i = 0; i < N; i++)
			bad += !check_fill(obj[i], sz[i], i);
		bad += !check_fill(big, 1 << 20, 77);
		/* Scribble over everything, allocate and free a lot. */
		for (i = 0; i < N; i++)
			memset(obj[i], 0xee, sz[i]);
		memset(big, 0xee, 1 << 20);
		for (i = 0; i < N; i++) {
			char *p = xmem_malloc(sz[i]);

			if (!p) {
				bad++;
				continue;
			}
			memset(p, 0xdd, sz[i]);
			xmem_free(obj[i]);
		}
		/* Wait for the parent's writes, which must not show. */
		if (read(pfd[0], &c, 1) != 1)
			bad++;
		for (i = 0; i < N; i++) {
			(void)0;
		}
		if (((unsigned char *)big)[0] != 0xee)
			bad++;
		_exit(bad ? 1 : 0);
	}
	close(pfd[0]);
	/* The parent writes after fork; the child must not see it. */
	big[0] = 0x11;
	CHECK(write(pfd[1], "x", 1) == 1);
	close(pfd[1]);
	CHECK(waitpid(pid, &status, 0) == pid);
	CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	big[0] = (char)(77 * 31);
	for (i = 0; i < N; i++)
		CHECK(check_fill(obj[i], sz[i], i));
	CHECK(check_fill(big, 1 << 20, 77));
	/* The parent still allocates normally. */
	for (i = 0; i < N; i++) {
		char *p = xmem_malloc(sz[i]);

		CHECK(p);
		fill(p, sz[i], i + 1000);
		CHECK(check_fill(obj[i], sz[i], i));
		xmem_free(p);
		xmem_free(obj[i]);
	}
	CHECK(!xmem_munmap(big, 1 << 20));
	return true;
}

/* Run SCENARIO in a child with extra environment; return its status. */
static int run_child(const char *scenario, const char *const *env)
{
	int status;
	pid_t pid = fork();

	if (pid < 0)
		return -1;
	if (!pid) {
		int i;

		for (i = 0; env && env[i]; i += 2)
			setenv(env[i], env[i + 1], 1);
		/* Keep the child's abort quiet for ASan. */
		setenv("ASAN_OPTIONS", "abort_on_error=1:handle_abort=0", 1);
		execl(self, self, scenario, (char *)NULL);
		_exit(126);
	}
	if (waitpid(pid, &status, 0) != pid)
		return -1;
	return status;
}

static bool aborted(int status)
{
	return WIFSIGNALED(status) && WTERMSIG(status) == SIGABRT;
}

static bool t_double_free(void)
{
	CHECK(aborted(run_child("double-free-small", NULL)));
	CHECK(aborted(run_child("double-free-flushed", NULL)));
	CHECK(aborted(run_child("double-free-large", NULL)));
	CHECK(aborted(run_child("interior-free", NULL)));
	return true;
}

static bool t_enomem(void)
{
	static const char *const env[] = {
		"XMEM_BACKEND", "anon", "XMEM_RESERVE", "8M",
		"XMEM_ANON_NORESIZE", "1", "XMEM_FALLBACK", "fail", NULL };
	int st = run_child("enomem", env);

	CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0);
	return true;
}

static bool t_grow_and_trim(void)
{
	static const char *const env[] = {
		"XMEM_BACKEND", "anon", "XMEM_RESERVE", "4M", "XMEM_GROW", "8M",
		"XMEM_TRIM", "1M", NULL };
	int st = run_child("grow-trim", env);

	CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0);
	return true;
}

static bool t_fallback_local(void)
{
	static const char *const env[] = {
		"XMEM_BACKEND", "anon", "XMEM_RESERVE", "4M",
		"XMEM_ANON_NORESIZE", "1", "XMEM_FALLBACK", "local", NULL };
	static const char *const nodev[] = {
		"XMEM_BACKEND", "xmem", "XMEM_DEVICE", "/nonexistent/xmem",
		"XMEM_QUIET", "1", NULL };
	static const char *const nodev_fail[] = {
		"XMEM_BACKEND", "xmem", "XMEM_DEVICE", "/nonexistent/xmem",
		"XMEM_FALLBACK", "fail", NULL };
	int st;

	st = run_child("fallback-local", env);
	CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0);
	st = run_child("no-device-local", nodev);
	CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0);
	st = run_child("no-device-fail", nodev_fail);
	CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0);
	return true;
}

static bool t_stats_leak(void)
{
	struct xmem_alloc_stats a, b;
	void *p, *q;

	a = stats();
	p = xmem_malloc(1000);
	q = xmem_malloc(100000);
	b = stats();
	CHECK(b.in_use_objects == a.in_use_objects + 2);
	CHECK(b.in_use_bytes >= a.in_use_bytes + 1000 + 100000);
	CHECK(b.slabs >= a.slabs + 1);
	CHECK(b.reserved_bytes >= b.slab_bytes);
	CHECK(!strcmp(b.backend, "anon"));
	xmem_free(p);
	xmem_free(q);
	b = stats();
	CHECK(b.in_use_objects == a.in_use_objects);
	return true;
}

/*
 * Unmodified programs under libxmem-preload.so (next to this binary) on
 * the test backend, with a heap that must grow and a fork in the middle:
 * the output must be the same as without it.
 */
static bool t_preload(void)
{
	char dir[4096], cmd[16384];
	char *slash;
	int rc;

	strcpy(dir, self);
	slash = strrchr(dir, '/');
	CHECK(slash);
	*slash = 0;
	snprintf(cmd, sizeof(cmd),
		"set -e; lib='%s/libxmem-preload.so'; t=$(mktemp -d); "
		"trap 'rm -rf $t' EXIT; "
		"export XMEM_BACKEND=anon XMEM_RESERVE=8M XMEM_GROW=8M "
		"XMEM_MMAP_THRESHOLD=64K; "
		"awk 'BEGIN { srand(7); for (i = 0; i < 200000; i++) "
		"printf \"%%08d %%s\\n\", int(rand() * 1e8), i }' >$t/in; "
		"run() { \"$@\" >$t/plain; LD_PRELOAD=$lib XMEM_STATS=1 "
		"\"$@\" >$t/xmem 2>$t/err; "
		"grep -q 'backend anon' $t/err; cmp $t/plain $t/xmem; }; "
		"run sort $t/in; run sort -n -k2 -r $t/in; "
		"if command -v sqlite3 >/dev/null; then run sqlite3 :memory: "
		"'create table t(a, b); with recursive c(x) as (select 1 "
		"union all select x + 1 from c where x < 100000) insert into t "
		"select x, printf(\"%%.40d\", x) from c; create index i on "
		"t(b); select count(*), sum(a), max(b) from t;'; fi; "
		"run /usr/bin/python3 -c 'import hashlib, os\n"
		"d = {i: str(i) * 5 for i in range(200000)}\n"
		"pid = os.fork()\n"
		"if pid == 0:\n    d.clear(); os._exit(0)\n"
		"os.waitpid(pid, 0)\n"
		"print(len(d), hashlib.sha256(repr(sorted(d.items())).encode())"
		".hexdigest())'; "
		"run bash -c 'x=$(seq 1 1000 | sort -r | head -3); echo $x'",
		dir);
	rc = system(cmd);
	CHECK(WIFEXITED(rc) && WEXITSTATUS(rc) == 0);
	return true;
}

/* XMEM_LEAK_CHECK's report: the live allocations, large ones by address. */
static bool t_leak_check(void)
{
	char buf[8192], want[64];
	int pfd[2];
	uint64_t before, after;
	ssize_t n;
	void *a, *b;

	CHECK(!pipe(pfd));
	before = xmem_leak_check(pfd[1]);
	a = xmem_malloc(24);
	b = xmem_malloc(123456);
	CHECK(a && b);
	after = xmem_leak_check(pfd[1]);
	close(pfd[1]);
	n = read(pfd[0], buf, sizeof(buf) - 1);
	close(pfd[0]);
	CHECK(n > 0);
	buf[n] = 0;
	CHECK(after == before + 2);
	snprintf(want, sizeof(want), "leak: %p malloc 123456 bytes", b);
	CHECK(strstr(buf, want));
	CHECK(strstr(buf, "libxmem: leak check: "));
	xmem_free(a);
	xmem_free(b);
	return true;
}

/* Child scenarios. */

static int scenario(const char *name)
{
	if (!strcmp(name, "double-free-small")) {
		void *p = xmem_malloc(64);

		xmem_free(p);
		xmem_free(p);
		return 0;	/* not detected */
	}
	if (!strcmp(name, "double-free-flushed")) {
		static void *u[300], *v[300];
		void *p;
		int i;

		for (i = 0; i < 300; i++)
			u[i] = xmem_malloc(64);
		for (i = 0; i < 300; i++)
			v[i] = xmem_malloc(64);
		p = xmem_malloc(64);
		xmem_free(p);
		/* Push it out of the thread cache into its slab... */
		for (i = 0; i < 300; i++)
			xmem_free(v[i]);
		/* ...free it again, and flush that out too. */
		xmem_free(p);
		for (i = 0; i < 300; i++)
			xmem_free(u[i]);
		return 0;
	}
	if (!strcmp(name, "double-free-large")) {
		void *p = xmem_malloc(1 << 20);

		xmem_free(p);
		xmem_free(p);
		return 0;
	}
	if (!strcmp(name, "interior-free")) {
		char *p = xmem_malloc(64);

		xmem_free(p + 16);
		return 0;
	}
	if (!strcmp(name, "enomem")) {
		static void *v[100000];
		int n = 0, i;

		while (n < 100000) {
			errno = 0;
			v[n] = xmem_malloc(n % 2 ? 300 : 50000);
			if (!v[n])
				break;
			n++;
		}
		if (n == 100000 || errno != ENOMEM)
			return 3;
		errno = 0;
		if (xmem_mmap(1 << 20) || errno != ENOMEM)
			return 4;
		for (i = 0; i < n; i++)
			xmem_free(v[i]);
		/* After freeing, memory is there again. */
		for (i = 0; i < n / 2; i++)
			if (!(v[i] = xmem_malloc(n % 2 ? 300 : 50000)))
				return 5;
		return 0;
	}
	if (!strcmp(name, "grow-trim")) {
		struct xmem_alloc_stats st;
		char *p = xmem_malloc(20 << 20), *q;

		if (!p)
			return 3;
		memset(p, 1, 20 << 20);
		xmem_alloc_stats(&st);
		if (!st.grows || st.region_bytes < (20 << 20) || st.local_bytes)
			return 4;
		q = xmem_malloc(100);
		xmem_free(p);
		xmem_alloc_stats(&st);
		if (!st.released_bytes)
			return 5;
		/* Freed at the top: the region shrinks to the next XMEM_GROW
		 * (8M) boundary above what is still in use (q's slab). */
		memset(q, 7, 100);
		p = xmem_malloc(30 << 20);
		if (!p)
			return 6;
		memset(p, 2, 30 << 20);
		xmem_alloc_stats(&st);
		if (st.region_bytes < (50 << 20) || st.shrinks)
			return 7;
		xmem_free(p);
		xmem_alloc_stats(&st);
		if (st.shrinks != 1 || st.region_bytes > (32 << 20) ||
		    st.region_bytes % (8 << 20) || st.reserved_bytes !=
		    st.region_bytes)
			return 8;
		for (p = q; p < q + 100; p++)
			if (*p != 7)
				return 9;
		/* And grows again. */
		p = xmem_malloc(40 << 20);
		if (!p)
			return 10;
		memset(p, 3, 40 << 20);
		xmem_alloc_stats(&st);
		if (st.region_bytes < (40 << 20))
			return 11;
		xmem_free(p);
		xmem_free(q);
		return 0;
	}
	if (!strcmp(name, "fallback-local")) {
		struct xmem_alloc_stats st;
		char *p = xmem_malloc(20 << 20);

		if (!p)
			return 3;
		memset(p, 1, 20 << 20);
		xmem_alloc_stats(&st);
		if (st.grows || !st.local_bytes || st.region_bytes != (4 << 20))
			return 4;
		xmem_free(p);
		return 0;
	}
	if (!strcmp(name, "no-device-local")) {
		struct xmem_alloc_stats st;
		void *p = xmem_malloc(100);

		if (!p || xmem_alloc_stats(&st) || strcmp(st.backend, "local"))
			return 3;
		xmem_free(p);
		return 0;
	}
	if (!strcmp(name, "no-device-fail")) {
		errno = 0;
		if (xmem_malloc(100) || errno != ENOMEM)
			return 3;
		if (xmem_alloc_init() != -1 || errno != ENOENT)
			return 4;
		return 0;
	}
	fprintf(stderr, "unknown scenario %s\n", name);
	return 100;
}

int main(int argc, char **argv)
{
	static const struct {
		const char *name;
		bool (*fn)(void);
	} tests[] = {
		{ "size-classes", t_size_classes },
		{ "alignment", t_alignment },
		{ "realloc-grow-shrink", t_realloc },
		{ "calloc-zero-and-overflow", t_calloc },
		{ "reuse-of-freed-memory", t_reuse },
		{ "xmem-mmap-munmap", t_mmap },
		{ "stats", t_stats_leak },
		{ "leak-check-report", t_leak_check },
		{ "threads-stress-verified", t_threads },
		{ "fork-child-gets-a-copy", t_fork },
		{ "double-free-detected", t_double_free },
		{ "enomem-is-honest", t_enomem },
		{ "region-grows-and-trims", t_grow_and_trim },
		{ "fallback-policy", t_fallback_local },
		{ "preload-unmodified-programs", t_preload },
	};
	unsigned int i;
	ssize_t n;

	n = readlink("/proc/self/exe", self, sizeof(self) - 1);
	if (n <= 0)
		return 1;
	self[n] = 0;
	setenv("XMEM_BACKEND", "anon", 0);
	setenv("XMEM_RESERVE", "64M", 0);
	if (argc > 1)
		return scenario(argv[1]);
	(void)rnd;
	printf("1..%zu\n", sizeof(tests) / sizeof(tests[0]));
	for (i = 0; i < sizeof(tests) / sizeof(tests[0]); i++)
		result(tests[i].fn(), "%s", tests[i].name);
	printf("# libxmem: %d failed\n", failures);
	return failures ? 1 : 0;
}
