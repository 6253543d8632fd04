// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * libxmem: fork views of a region (claim 6).
 *
 * xmem_fork_snapshot() has the appliance copy a region (XMEM_IOC_SNAPSHOT:
 * this client's writers held, dirty pages written back, the copy made on
 * the appliance, memory to memory), forks, and in the child maps the
 * snapshot region over the same addresses with MAP_FIXED.  The parent
 * goes on with the live region; the child sees the region as it was,
 * through its own region, the way Redis' BGSAVE uses fork().  The cost
 * is one copy of the region on the appliance at memory speed, writers
 * held for the write-back and that copy, and the snapshot's room on the
 * appliance until it is destroyed; no region byte moves through the
 * client.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <unistd.h>

#include "uapi/xmem.h"
#include "xmem_alloc.h"

#define XS_API __attribute__((visibility("default")))

static const char *xs_device(void)
{
	const char *dev = getenv("XMEM_DEVICE");

	return dev && *dev ? dev : "/dev/xmem";
}

/* The child's half: @snap over [@addr, @addr + @len); 0 or errno. */
static int xs_map_child(const char *snap, void *addr, size_t len)
{
	struct xmem_attach at;
	void *p;
	int fd, err;

	fd = open(xs_device(), O_RDWR | O_CLOEXEC);
	if (fd < 0)
		return errno;
	memset(&at, 0, sizeof(at));
	strcpy(at.name, snap);
	if (ioctl(fd, XMEM_IOC_ATTACH, &at)) {
		err = errno;
		close(fd);
		return err;
	}
	if (at.size < len) {
		close(fd);
		return EINVAL;
	}
	p = mmap(addr, len, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_FIXED,
		 fd, 0);
	err = p == MAP_FAILED ? errno : 0;
	/* The mapping keeps the region. */
	close(fd);
	return err;
}

XS_API pid_t xmem_fork_snapshot(const char *name, void *addr, size_t len,
				const char *snap)
{
	struct xmem_snapshot s;
	pid_t pid;
	int fd, err;

	if (!name || !snap || !addr || !len ||
	    strlen(name) >= XMEM_REGION_NAME_MAX ||
	    strlen(snap) >= XMEM_REGION_NAME_MAX) {
		errno = EINVAL;
		return -1;
	}
	fd = open(xs_device(), O_RDWR | O_CLOEXEC);
	if (fd < 0)
		return -1;
	memset(&s, 0, sizeof(s));
	strcpy(s.src, name);
	strcpy(s.dst, snap);
	err = ioctl(fd, XMEM_IOC_SNAPSHOT, &s) ? errno : 0;
	close(fd);
	if (err) {
		errno = err;
		return -1;
	}
	pid = fork();
	if (pid)
		return pid;
	err = xs_map_child(snap, addr, len);
	if (err) {
		/* Never go on with the live region in place of the view. */
		fprintf(stderr, "xmem_fork_snapshot: child cannot map %s: %s\n",
			snap, strerror(err));
		_exit(127);
	}
	return 0;
}
