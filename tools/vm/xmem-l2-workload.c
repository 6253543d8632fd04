// SPDX-License-Identifier: GPL-2.0
/*
 * xmem-l2-workload - the memory workload of the test bed's second-level
 * guest (scripts/mkl2 makes it the guest's init's only job).
 *
 * Usage: xmem-l2-workload [MIB]
 *
 * Fills MIB MiB (default: l2w.mib= on the kernel command line, else 70%
 * of MemAvailable) with a pattern that depends on the page and the round,
 * then keeps going round: every page is checked against the previous
 * round's pattern and rewritten with the next one.  So a page that loses
 * a write (a stale copy served after a migration, a lost write-back) is
 * found within one round.  Lines on stdout (the serial console):
 *
 *   l2w: start MIB MiB memtotal KB
 *   l2w: round R at M MiB errors E          every 8 MiB
 *   l2w: round R done MIB MiB S s errors E   at the end of a round
 *   l2w: MISMATCH round R page P word W got X want Y
 *   l2w: memtotal A -> B kB                 MemTotal changed (hotplug)
 *   l2w: hotplug verified N MiB, H MiB on hot-added memory errors E
 *
 * When MemTotal grows, the new memory is used at once: three quarters of
 * the growth, at most 32 MiB, is allocated, written, verified and freed
 * again (freed so that a hot-remove can offline it; at most 32 MiB to
 * keep the test short under nested TCG: anonymous pages come from
 * ZONE_MOVABLE, i.e. the hot-added memory, first).  "Hot-added memory" is memory above
 * 4 GiB, where QEMU's pc machine puts DIMMs of a guest with less than
 * 2 GiB of boot memory; the physical addresses come from
 * /proc/self/pagemap (the workload runs as root).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#define PAGE		4096UL
#define WORDS		(PAGE / sizeof(uint64_t))
#define MIB		(1024UL * 1024)
#define HOTPLUG_PFN	(0x100000000ULL / PAGE)

static uint64_t errors;

static uint64_t pattern(uint64_t round, uint64_t page, uint64_t word)
{
	return ((page * WORDS + word) * 0x100000001b3ULL) ^
	       (round * 0x9e3779b97f4a7c15ULL);
}

static long meminfo_kb(const char *key)
{
	char line[256];
	long v = -1;
	size_t n = strlen(key);
	FILE *f = fopen("/proc/meminfo", "r");

	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f)) {
		if (!strncmp(line, key, n) && line[n] == ':') {
			v = strtol(line + n + 1, NULL, 10);
			break;
		}
	}
	fclose(f);
	return v;
}

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

/* Check page @i against round @r - 1 (unless @r is 0), write round @r. */
static void page_step(uint64_t *p, uint64_t r, uint64_t i)
{
	uint64_t w, want;

	for (w = 0; w < WORDS; w++) {
		if (r) {
			want = pattern(r - 1, i, w);
			if (p[w] != want) {
				if (errors < 20)
					printf("l2w: MISMATCH round %" PRIu64
					       " page %" PRIu64 " word %" PRIu64
					       " got %#" PRIx64 " want %#" PRIx64
					       "\n", r, i, w, p[w], want);
				errors++;
			}
		}
		p[w] = pattern(r, i, w);
	}
}

/* Pages of [@p, @p + @len) whose frame is hot-added memory. */
static unsigned long hotplugged_pages(void *p, size_t len)
{
	unsigned long n = 0, i;
	uint64_t e;
	int fd = open("/proc/self/pagemap", O_RDONLY);

	if (fd < 0)
		return 0;
	for (i = 0; i < len / PAGE; i++) {
		off_t off = ((uintptr_t)p / PAGE + i) * sizeof(e);

		if (pread(fd, &e, sizeof(e), off) != sizeof(e))
			break;
		if ((e >> 63) & 1 && (e & ((1ULL << 55) - 1)) >= HOTPLUG_PFN)
			n++;
	}
	close(fd);
	return n;
}

/* Use @kb of new memory: write, verify and free 3/4 of it, <= 32 MiB. */
static void use_hotplugged(long kb)
{
	size_t len = (size_t)kb * 1024 / 4 * 3 / PAGE * PAGE, i;
	uint64_t before = errors;
	unsigned long on;
	char *p;

	if (len > 32 * MIB)
		len = 32 * MIB;

	if (!len)
		return;
	p = mmap(NULL, len, PROT_READ | PROT_WRITE,
		 MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (p == MAP_FAILED) {
		printf("l2w: hotplug mmap %zu: %s\n", len, strerror(errno));
		return;
	}
	/* Round 0 writes without checking; round 1 checks round 0's. */
	for (i = 0; i < len / PAGE; i++)
		page_step((uint64_t *)(p + i * PAGE), 0, i);
	for (i = 0; i < len / PAGE; i++)
		page_step((uint64_t *)(p + i * PAGE), 1, i);
	on = hotplugged_pages(p, len);
	munmap(p, len);
	printf("l2w: hotplug verified %zu MiB, %lu MiB on hot-added memory errors %" PRIu64 "\n",
	       len / MIB, on * PAGE / MIB, errors - before);
}

static void watch_memtotal(long *last)
{
	long t = meminfo_kb("MemTotal");

	if (t < 0 || t == *last)
		return;
	printf("l2w: memtotal %ld -> %ld kB\n", *last, t);
	if (t > *last)
		use_hotplugged(t - *last);
	*last = t;
}

static long cmdline_mib(void)
{
	char buf[4096], *s;
	ssize_t n;
	int fd = open("/proc/cmdline", O_RDONLY);

	if (fd < 0)
		return 0;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return 0;
	buf[n] = 0;
	s = strstr(buf, "l2w.mib=");
	return s ? strtol(s + 8, NULL, 10) : 0;
}

int main(int argc, char **argv)
{
	long mib = argc > 1 ? strtol(argv[1], NULL, 10) : cmdline_mib();
	long total = meminfo_kb("MemTotal");
	size_t len, i;
	uint64_t r;
	double t0;
	char *p;

	setvbuf(stdout, NULL, _IOLBF, 0);
	if (mib <= 0)
		mib = meminfo_kb("MemAvailable") * 7 / 10 / 1024;
	if (mib <= 0) {
		printf("l2w: no memory size\n");
		return 1;
	}
	len = (size_t)mib * MIB;
	p = mmap(NULL, len, PROT_READ | PROT_WRITE,
		 MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (p == MAP_FAILED) {
		printf("l2w: mmap %ld MiB: %s\n", mib, strerror(errno));
		return 1;
	}
	printf("l2w: start %ld MiB memtotal %ld kB\n", mib, total);
	for (r = 0;; r++) {
		t0 = now();
		for (i = 0; i < len / PAGE; i++) {
			page_step((uint64_t *)(p + i * PAGE), r, i);
			if ((i + 1) % (8 * MIB / PAGE) == 0) {
				printf("l2w: round %" PRIu64 " at %zu MiB errors %" PRIu64 "\n",
				       r, (i + 1) * PAGE / MIB, errors);
				watch_memtotal(&total);
			}
		}
		printf("l2w: round %" PRIu64 " done %ld MiB %.1f s errors %" PRIu64 "\n",
		       r, mib, now() - t0, errors);
	}
}
