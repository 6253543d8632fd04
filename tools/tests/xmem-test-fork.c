// SPDX-License-Identifier: GPL-2.0
/*
 * Shared mapping semantics: a mapping of /dev/xmem is MAP_SHARED memory,
 * so a forked child and its parent see each other's writes, and so do two
 * file descriptors (or two offsets) of the same region in one process.
 * Every test syncs what it wrote, so later tests start with nothing dirty.
 */
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include "xsys.h"
#include "xtest.h"

#define REGION_SIZE	(256 * KiB)

static int new_region(const char *tag, char *name)
{
	xr_require_connected();
	xr_name(name, tag);
	return ATTACH_OK(name, REGION_SIZE,
			 XMEM_ATTACH_CREATE | XMEM_ATTACH_EXCL, NULL);
}

static void wait_child_ok(pid_t pid)
{
	int status;

	ASSERT_OK(waitpid(pid, &status, 0));
	if (WIFSIGNALED(status))
		FAIL("child killed by SIG%s",
		     sigabbrev_np(WTERMSIG(status)) ?: "?");
	if (WEXITSTATUS(status))
		FAIL("child exit status %d", WEXITSTATUS(status));
}

TEST(child_writes_parent_sees)
{
	char name[XMEM_REGION_NAME_MAX];
	uint64_t seed = 11;
	char *p;
	pid_t pid;
	int fd;

	fd = new_region("fork-c", name);
	p = MAP_OK(fd, 0, REGION_SIZE);
	/* Fault some pages in before the fork, leave others untouched. */
	xpat_fill(p, REGION_SIZE / 2, 0, 1);
	pid = fork();
	ASSERT_OK(pid);
	if (!pid) {
		xpat_fill(p, REGION_SIZE, 0, seed);
		_exit(0);
	}
	wait_child_ok(pid);
	ASSERT_PATTERN(p, REGION_SIZE, 0, seed);
	ASSERT_OK(fsync(fd));
}

TEST(parent_writes_child_sees)
{
	char name[XMEM_REGION_NAME_MAX];
	int fd, go[2], ready[2];
	uint64_t seed = 12;
	char c = 0, *p;
	pid_t pid;

	fd = new_region("fork-p", name);
	p = MAP_OK(fd, 0, REGION_SIZE);
	xpat_fill(p, REGION_SIZE / 2, 0, 1);
	ASSERT_OK(pipe(go));
	ASSERT_OK(pipe(ready));
	pid = fork();
	ASSERT_OK(pid);
	if (!pid) {
		struct xpat_err err;

		/* The child has faulted the pages in before the parent writes. */
		if (xpat_check(p, REGION_SIZE / 2, 0, 1, &err)) {
			xt_diag("child: data written before fork: %llu words "
				"wrong, first at %#llx: want %#llx got %#llx",
				(unsigned long long)err.count,
				(unsigned long long)err.first,
				(unsigned long long)err.want,
				(unsigned long long)err.got);
			_exit(2);
		}
		if (write(ready[1], &c, 1) != 1 || read(go[0], &c, 1) != 1)
			_exit(3);
		if (xpat_check(p, REGION_SIZE, 0, seed, &err)) {
			xt_diag("child: data written by the parent after fork: "
				"%llu words wrong, first at %#llx: want %#llx "
				"got %#llx", (unsigned long long)err.count,
				(unsigned long long)err.first,
				(unsigned long long)err.want,
				(unsigned long long)err.got);
			_exit(1);
		}
		_exit(0);
	}
	/* Write only once the child has checked the old data. */
	close(ready[1]);
	if (read(ready[0], &c, 1) != 1) {
		wait_child_ok(pid);
		FAIL("child exited without checking the data");
	}
	xpat_fill(p, REGION_SIZE, 0, seed);
	ASSERT_EQ(write(go[1], &c, 1), 1);
	wait_child_ok(pid);
	ASSERT_OK(fsync(fd));
}

TEST(two_fds_one_region)
{
	char name[XMEM_REGION_NAME_MAX];
	struct xmem_region_info info;
	struct xmem_attach at2;
	int fd, fd2;
	char *p, *q;

	fd = new_region("twofd", name);
	fd2 = ATTACH_OK(name, 0, 0, &at2);
	memset(&info, 0, sizeof(info));
	ASSERT_OK(ioctl(fd, XMEM_IOC_INFO, &info));
	ASSERT_EQ(info.region_id, at2.region_id);
	ASSERT_EQ(at2.size, REGION_SIZE);
	p = MAP_OK(fd, 0, REGION_SIZE);
	q = MAP_OK(fd2, 0, REGION_SIZE);
	ASSERT_TRUE(p != q);
	xpat_fill(p, REGION_SIZE, 0, 13);
	ASSERT_PATTERN(q, REGION_SIZE, 0, 13);
	xpat_fill(q, REGION_SIZE / 2, 0, 14);
	ASSERT_PATTERN(p, REGION_SIZE / 2, 0, 14);
	ASSERT_OK(fsync(fd2));
}

TEST(mmap_offset)
{
	char name[XMEM_REGION_NAME_MAX];
	uint64_t off = REGION_SIZE / 4;
	char *p, *q;
	int fd;

	fd = new_region("mmoff", name);
	q = MAP_OK(fd, off, REGION_SIZE / 2);
	p = MAP_OK(fd, 0, REGION_SIZE);
	xpat_fill(q, REGION_SIZE / 2, off, 15);
	ASSERT_PATTERN(p + off, REGION_SIZE / 2, off, 15);
	ASSERT_OK(fsync(fd));
}

int main(int argc, char **argv)
{
	return xt_main(argc, argv);
}
