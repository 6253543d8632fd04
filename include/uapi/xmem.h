/* SPDX-License-Identifier: GPL-2.0 WITH Linux-syscall-note */
/*
 * xmem: external primary memory over RDMA, userspace API of /dev/xmem.
 *
 * Use:
 *	fd = open("/dev/xmem", O_RDWR);
 *	ioctl(fd, XMEM_IOC_ATTACH, &attach);	binds fd to a named region
 *	p = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_SHARED, fd, off);
 *
 * The mmap offset is relative to the start of the region.  msync(MS_SYNC)
 * and fsync() return once every dirty page of the range (fsync: of the
 * region) is stored on the appliance.
 *
 * Every structure has explicit padding; reserved fields must be zero and
 * unknown flags are refused with EINVAL, so they can be given a meaning
 * later without breaking old binaries.
 */
#ifndef _UAPI_XMEM_H
#define _UAPI_XMEM_H

#include <linux/ioctl.h>
#include <linux/types.h>

#define XMEM_UAPI_MAJOR		1
#define XMEM_UAPI_MINOR		0

/* Region names: 1 to 63 characters of [A-Za-z0-9._-], NUL terminated. */
#define XMEM_REGION_NAME_MAX	64

/**
 * struct xmem_version - XMEM_IOC_VERSION
 * @major: out, XMEM_UAPI_MAJOR of the running module
 * @minor: out, XMEM_UAPI_MINOR of the running module
 * @proto_major: out, wire protocol major version spoken to appliances
 * @proto_minor: out, wire protocol minor version
 * @reserved: in, must be zero
 */
struct xmem_version {
	__u32 major;
	__u32 minor;
	__u32 proto_major;
	__u32 proto_minor;
	__u64 reserved[2];
};

/* Flags of struct xmem_attach. */
#define XMEM_ATTACH_CREATE	0x1u	/* create the region if missing */
#define XMEM_ATTACH_EXCL	0x2u	/* with CREATE: fail if it exists */

/**
 * struct xmem_attach - XMEM_IOC_ATTACH
 * @name: in, region name, NUL terminated
 * @size: in, size in bytes (multiple of the page size); 0 attaches an
 *	existing region at its size.  out, the region's size
 * @flags: in, XMEM_ATTACH_*
 * @reserved: in, must be zero
 * @region_id: out, the appliance's identifier of the region
 * @reserved2: in, must be zero
 *
 * Binds the file descriptor to the region; a file descriptor is bound at
 * most once (EBUSY).  Errors: EINVAL (bad name, size, flags or reserved
 * field; or @size differs from the existing region's), ENOENT (no such
 * region and no CREATE), EEXIST (CREATE|EXCL and it exists), ENOTCONN (no
 * appliance connected), ENOMEM, EIO/ETIMEDOUT (appliance failed to answer).
 */
struct xmem_attach {
	char name[XMEM_REGION_NAME_MAX];
	__u64 size;
	__u32 flags;
	__u32 reserved;
	__u64 region_id;
	__u64 reserved2[2];
};

/**
 * struct xmem_region_info - XMEM_IOC_INFO
 * @size: out, region size in bytes
 * @region_id: out, the appliance's identifier of the region
 * @resident_bytes: out, bytes of the region held in local memory now
 * @dirty_bytes: out, resident bytes not yet written back
 * @reserved: in, must be zero
 */
struct xmem_region_info {
	__u64 size;
	__u64 region_id;
	__u64 resident_bytes;
	__u64 dirty_bytes;
	__u64 reserved[4];
};

#define XMEM_IOC_MAGIC		0xB8

/* Numbers start at 1: 0 is never a valid command. */
#define XMEM_IOC_VERSION	_IOWR(XMEM_IOC_MAGIC, 1, struct xmem_version)
#define XMEM_IOC_ATTACH		_IOWR(XMEM_IOC_MAGIC, 2, struct xmem_attach)
#define XMEM_IOC_INFO		_IOWR(XMEM_IOC_MAGIC, 3, struct xmem_region_info)

#endif /* _UAPI_XMEM_H */
