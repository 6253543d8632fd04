// SPDX-License-Identifier: GPL-2.0
/*
 * xmem-criu-worker: the workload of xmem-test-criu, checkpointed and
 * restored with CRIU while it runs.
 *
 *   xmem-criu-worker run NODE	maps region node NODE (/dev/xmem.d/NAME)
 *				and works on it until killed
 *   xmem-criu-worker peek NODE	prints "ROUNDS ERRORS GEN" of a worker's
 *				region and exits
 *
 * run maps the region's first page (the header) from the node and the
 * rest (the data) from a file of /dev/xmem attached to the same region
 * (an "anonymous-style" mapping of the main device), the data one at a
 * nonzero offset, and keeps both files open, so that both kinds of
 * mapping and of open file go through the CRIU plugin.  Then, round after round: check that every data word holds the
 * current generation's pattern, write the next generation's, publish the
 * round in the header.  The generation is also in the worker's own
 * (anonymous) memory, which CRIU dumps: after a restore elsewhere the
 * region's content must be exactly what it was at the dump.  On the first
 * wrong word it records the error in the header and stops writing.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <unistd.h>

#include "uapi/xmem.h"

#define WORKER_MAGIC	0x786d656d63726975ULL	/* "xmemcriu" */

struct header {
	uint64_t magic;
	uint64_t rounds;
	uint64_t errors;
	uint64_t gen;
	uint64_t first_bad;	/* index of the first wrong word, + 1 */
};

static uint64_t pattern(uint64_t gen, uint64_t i)
{
	return (gen << 40) ^ (i * 0x9E3779B97F4A7C15ULL);
}

static void die(const char *what)
{
	perror(what);
	exit(1);
}

static void __attribute__((noreturn)) run(const char *node)
{
	long page = sysconf(_SC_PAGESIZE);
	volatile struct header *h;
	volatile uint64_t *data;
	struct xmem_attach at;
	uint64_t gen, n, i;
	const char *name;
	off_t size;
	int fd, dev;

	fd = open(node, O_RDWR);
	if (fd < 0)
		die(node);
	size = lseek(fd, 0, SEEK_END);
	if (size < 2 * page)
		die("region size");
	/* A file of /dev/xmem bound to the same region, kept open. */
	name = strrchr(node, '/');
	name = name ? name + 1 : node;
	dev = open("/dev/xmem", O_RDWR);
	memset(&at, 0, sizeof(at));
	snprintf(at.name, sizeof(at.name), "%s", name);
	if (dev < 0 || ioctl(dev, XMEM_IOC_ATTACH, &at))
		die("attach through /dev/xmem");
	h = mmap(NULL, page, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	data = mmap(NULL, size - page, PROT_READ | PROT_WRITE, MAP_SHARED, dev,
		    page);
	if (h == MAP_FAILED || data == MAP_FAILED)
		die("mmap");
	n = (size - page) / sizeof(*data);

	gen = 1;
	for (i = 0; i < n; i++)
		data[i] = pattern(gen, i);
	h->errors = 0;
	h->first_bad = 0;
	h->gen = gen;
	h->rounds = 0;
	h->magic = WORKER_MAGIC;
	for (;;) {
		for (i = 0; i < n; i++)
			if (data[i] != pattern(gen, i)) {
				h->first_bad = i + 1;
				h->errors++;
				/* Stop writing: the test sees the error. */
				for (;;)
					pause();
			}
		gen++;
		for (i = 0; i < n; i++)
			data[i] = pattern(gen, i);
		h->gen = gen;
		h->rounds++;
	}
}

static int peek(const char *node)
{
	long page = sysconf(_SC_PAGESIZE);
	const volatile struct header *h;
	int fd;

	/* Read-write: the module refuses MAP_SHARED on a read-only file. */
	fd = open(node, O_RDWR);
	if (fd < 0)
		die(node);
	h = mmap(NULL, page, PROT_READ, MAP_SHARED, fd, 0);
	if (h == MAP_FAILED)
		die("mmap");
	if (h->magic != WORKER_MAGIC) {
		fprintf(stderr, "%s: no worker header\n", node);
		return 1;
	}
	printf("%" PRIu64 " %" PRIu64 " %" PRIu64 "\n", h->rounds, h->errors,
	       h->gen);
	if (h->errors)
		fprintf(stderr, "%s: wrong word at index %" PRIu64 "\n", node,
			h->first_bad - 1);
	return 0;
}

int main(int argc, char **argv)
{
	if (argc == 3 && !strcmp(argv[1], "run"))
		run(argv[2]);
	if (argc == 3 && !strcmp(argv[1], "peek"))
		return peek(argv[2]);
	fprintf(stderr, "usage: xmem-criu-worker run|peek /dev/xmem.d/NAME\n");
	return 2;
}
