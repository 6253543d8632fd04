// SPDX-License-Identifier: GPL-2.0
/*
 * xmem-test-alloc: libxmem on a real /dev/xmem region, in a test-bed
 * client.  Checks that the region grows through XMEM_IOC_RESIZE when the
 * heap needs more, shrinks when whole free slabs at the top pass
 * XMEM_TRIM, keeps the data of the blocks still in use, and that the
 * module's regions/<name>/alloc/ counters are what libxmem reported
 * (XMEM_IOC_ACCOUNT), summed over open files, with bad reports refused.
 *
 * The region's size is read from the module (XMEM_IOC_INFO on a second
 * file bound to the same region), not from libxmem.
 *
 * Prints "ok - TEXT" / "not ok - TEXT" lines (numbered by the caller,
 * tests/preload.sh), "# ..." comments, and last "region NAME".  Exit
 * status 0 iff every check passed.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include "uapi/xmem.h"
#include "xmem_alloc.h"

#define MiB (1ll << 20)

static int failed;

static void check(bool ok, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

static void check(bool ok, const char *fmt, ...)
{
	va_list ap;

	printf("%s - ", ok ? "ok" : "not ok");
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	printf("\n");
	fflush(stdout);
	if (!ok)
		failed++;
}

static const char *region;

/* regions/<name>/alloc/<what>, or -1. */
static long long sys_alloc(const char *what)
{
	char path[256];
	long long v = -1;
	FILE *f;

	snprintf(path, sizeof(path),
		 "/sys/class/misc/xmem/regions/%s/alloc/%s", region, what);
	f = fopen(path, "r");
	if (!f)
		return -1;
	if (fscanf(f, "%lld", &v) != 1)
		v = -1;
	fclose(f);
	return v;
}

/* The region's size as the module has it, through our own file. */
static long long info_size(int fd)
{
	struct xmem_region_info info;

	memset(&info, 0, sizeof(info));
	if (ioctl(fd, XMEM_IOC_INFO, &info))
		return -1;
	return (long long)info.size;
}

static bool stats(struct xmem_alloc_stats *st)
{
	if (xmem_alloc_stats(st)) {
		check(false, "xmem_alloc_stats: %s", strerror(errno));
		return false;
	}
	return true;
}

/* XMEM_IOC_ACCOUNT on @fd: 0 or the errno. */
static int account(int fd, const struct xmem_account *a)
{
	return ioctl(fd, XMEM_IOC_ACCOUNT, a) ? errno : 0;
}

/* The module's sums equal libxmem's counters (+ @extra of our file). */
static void check_sysfs(const char *when, const struct xmem_alloc_stats *st,
			const struct xmem_account *extra)
{
	long long slabs = sys_alloc("slabs"), used = sys_alloc("bytes_in_use");
	long long resv = sys_alloc("bytes_reserved");
	unsigned long long want_resv = st->reserved_bytes - st->local_bytes;

	check(slabs == (long long)(st->slabs + extra->slabs) &&
	      used == (long long)(st->in_use_bytes + extra->bytes_in_use) &&
	      resv == (long long)(want_resv + extra->bytes_reserved),
	      "%s: alloc/ slabs %lld bytes_in_use %lld bytes_reserved %lld"
	      " == libxmem's %llu %llu %llu + this file's %llu %llu %llu",
	      when, slabs, used, resv, (unsigned long long)st->slabs,
	      (unsigned long long)st->in_use_bytes, want_resv,
	      (unsigned long long)extra->slabs,
	      (unsigned long long)extra->bytes_in_use,
	      (unsigned long long)extra->bytes_reserved);
}

int main(void)
{
	struct xmem_account none = { 0 }, mine = { 0 }, bad;
	struct xmem_alloc_stats st;
	struct xmem_attach a;
	long long size0, size1, size2;
	char *small[2000], *big[12];
	unsigned int i;
	bool intact;
	int fd, fd2, err;

	/* A small region that must grow: 4 MiB, 4 MiB steps and trim. */
	setenv("XMEM_RESERVE", "4M", 1);
	setenv("XMEM_GROW", "4M", 1);
	setenv("XMEM_TRIM", "4M", 1);
	setenv("XMEM_FALLBACK", "fail", 1);
	setenv("XMEM_REGION", "alloctest-%p", 1);
	if (xmem_alloc_init() || !stats(&st)) {
		check(false, "libxmem heap on /dev/xmem: %s", strerror(errno));
		return 1;
	}
	region = st.region;
	check(!strcmp(st.backend, "xmem") && *region,
	      "heap on an xmem region (backend %s, region %s)", st.backend,
	      region);
	if (strcmp(st.backend, "xmem"))
		return 1;

	fd = open("/dev/xmem", O_RDWR | O_CLOEXEC);
	memset(&a, 0, sizeof(a));
	snprintf(a.name, sizeof(a.name), "%s", region);
	if (fd < 0 || ioctl(fd, XMEM_IOC_ATTACH, &a)) {
		check(false, "second file bound to %s: %s", region,
		      strerror(errno));
		return 1;
	}
	size0 = info_size(fd);
	check(size0 == 4 * MiB && st.region_bytes == 4 * MiB,
	      "region starts at XMEM_RESERVE: %lld bytes (libxmem: %llu)",
	      size0, (unsigned long long)st.region_bytes);

	/* Small blocks at the bottom, kept throughout; their data checked. */
	for (i = 0; i < 2000; i++) {
		small[i] = xmem_malloc(16 + i % 200);
		if (!small[i])
			break;
		memset(small[i], (int)(i & 0xff), 16 + i % 200);
	}
	check(i == 2000, "2000 small blocks");
	/* 12 x 2 MiB large blocks: 24 MiB, the region must grow. */
	for (i = 0; i < 12; i++) {
		big[i] = xmem_malloc(2 * MiB);
		if (!big[i])
			break;
		memset(big[i], 0x5a ^ (int)i, 2 * MiB);
	}
	check(i == 12, "12 blocks of 2 MiB (%s)", i == 12 ? "allocated" :
	      strerror(errno));
	if (i != 12)
		return 1;
	if (!stats(&st))
		return 1;
	size1 = info_size(fd);
	printf("# after growth: region %lld bytes, %llu grows, libxmem in use %llu\n",
	       size1, (unsigned long long)st.grows,
	       (unsigned long long)st.in_use_bytes);
	check(size1 >= 24 * MiB + 4 * MiB && size1 % (4 * MiB) == 0 &&
	      (unsigned long long)size1 == st.region_bytes && st.grows >= 1,
	      "region grew in XMEM_GROW steps: %lld -> %lld bytes in %llu grows",
	      size0, size1, (unsigned long long)st.grows);
	check_sysfs("after growth", &st, &none);

	/* Our own file's report adds to the sums; a replacement replaces. */
	mine.slabs = 1;
	mine.bytes_in_use = 100;
	mine.bytes_reserved = 4096;
	err = account(fd, &mine);
	check(!err, "ACCOUNT on a second file: %s", strerror(err));
	check_sysfs("two files", &st, &mine);
	mine.slabs = 3;
	mine.bytes_in_use = 5000;
	mine.bytes_reserved = 8192;
	err = account(fd, &mine);
	check(!err, "ACCOUNT replaces: %s", strerror(err));
	check_sysfs("replaced", &st, &mine);

	/* Bad reports: EINVAL and nothing changes. */
	bad = mine;
	bad.bytes_in_use = bad.bytes_reserved + 1;
	err = account(fd, &bad);
	check(err == EINVAL, "bytes_in_use > bytes_reserved refused: %s",
	      strerror(err));
	bad = mine;
	bad.reserved[2] = 1;
	err = account(fd, &bad);
	check(err == EINVAL, "nonzero reserved field refused: %s",
	      strerror(err));
	bad = mine;
	bad.bytes_reserved = bad.bytes_in_use = 1ull << 41;
	err = account(fd, &bad);
	check(err == EINVAL, "bytes_reserved > 1 TiB refused: %s",
	      strerror(err));
	fd2 = open("/dev/xmem", O_RDWR | O_CLOEXEC);
	err = fd2 >= 0 ? account(fd2, &mine) : errno;
	check(err == EINVAL, "ACCOUNT on an unbound file refused: %s",
	      strerror(err));
	if (fd2 >= 0)
		close(fd2);
	check_sysfs("after refused reports", &st, &mine);

	/* Free the large blocks: whole slabs at the top, past XMEM_TRIM. */
	for (i = 0; i < 12; i++)
		xmem_free(big[11 - i]);
	if (!stats(&st))
		return 1;
	size2 = info_size(fd);
	printf("# after the frees: region %lld bytes, %llu shrinks, %llu released\n",
	       size2, (unsigned long long)st.shrinks,
	       (unsigned long long)st.released_bytes);
	check(size2 > 0 && size2 <= 8 * MiB &&
	      (unsigned long long)size2 == st.region_bytes && st.shrinks >= 1,
	      "region shrank when the top slabs were freed: %lld -> %lld bytes in %llu shrinks",
	      size1, size2, (unsigned long long)st.shrinks);
	check_sysfs("after the shrink", &st, &mine);
	intact = true;
	for (i = 0; i < 2000 && intact; i++) {
		unsigned int j;

		for (j = 0; j < 16 + i % 200; j++)
			if (small[i][j] != (char)(i & 0xff))
				intact = false;
	}
	check(intact, "small blocks intact after grow and shrink");

	/* Grow again after the shrink: the region follows. */
	big[0] = xmem_malloc(10 * MiB);
	if (big[0])
		memset(big[0], 1, 10 * MiB);
	if (!stats(&st))
		return 1;
	check(big[0] && info_size(fd) >= 12 * MiB &&
	      (unsigned long long)info_size(fd) == st.region_bytes,
	      "grows again after a shrink: %lld bytes", info_size(fd));
	xmem_free(big[0]);
	for (i = 0; i < 2000; i++)
		xmem_free(small[i]);

	/* Our file's share goes when it is closed. */
	close(fd);
	if (!stats(&st))
		return 1;
	check_sysfs("after closing the second file", &st, &none);
	printf("region %s\n", region);
	return failed ? 1 : 0;
}
