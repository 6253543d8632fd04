/* SPDX-License-Identifier: GPL-2.0 WITH Linux-syscall-note */
/*
 * xmem: external primary memory over RDMA, userspace API of /dev/xmem.
 *
 * Use:
 *	fd = open("/dev/xmem", O_RDWR);
 *	ioctl(fd, XMEM_IOC_ATTACH, &attach);	binds fd to a named region
 *	p = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_SHARED, fd, off);
 *
 * A region attached once stays attached to this client (cached, and
 * reattached after a reconnection) until XMEM_IOC_DETACH or module unload,
 * whatever the processes do; it lives on the appliance until
 * XMEM_IOC_DESTROY.  Version 1.1 added DETACH, RESIZE, DESTROY, LIST and
 * the @mode of struct xmem_attach; 1.2 added ACCOUNT; 1.3 SNAPSHOT; 1.4
 * GRANT; 1.5 SNAPSHOT INTO a region on another appliance; 1.6 SNAPSHOT
 * TEMP; 1.7 ATTACH SOLE; 1.8 DETACH HOLD and XMEM_ENTRY_HELD; 1.9 ATTACH
 * SOLE of a region attached here already.
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
#define XMEM_UAPI_MINOR		9

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
#define XMEM_ATTACH_MODE	0x4u	/* with CREATE: @mode is given */
#define XMEM_ATTACH_SOLE	0x8u	/* no other client writes it (1.7) */

/**
 * struct xmem_attach - XMEM_IOC_ATTACH
 * @name: in, region name, NUL terminated
 * @size: in, size in bytes (multiple of the page size); 0 attaches an
 *	existing region at its size.  out, the region's size
 * @flags: in, XMEM_ATTACH_*
 * @mode: in, with XMEM_ATTACH_MODE: permission bits (0 to 0777, as a
 *	file's) of the region if this call creates it; else must be zero
 *	(a new region gets 0600).  The creator's uid and gid own it.
 * @region_id: out, the appliance's identifier of the region
 * @reserved2: in, must be zero
 *
 * Binds the file descriptor to the region; a file descriptor is bound at
 * most once (EBUSY).  Errors: EINVAL (bad name, size, flags or reserved
 * field; or @size differs from the existing region's), ENOENT (no such
 * region and no CREATE), EEXIST (CREATE|EXCL and it exists), EACCES (the
 * region's mode does not let the caller read and write it), ENOTCONN (no
 * pool member connected, or the region may be on one that is not),
 * ENOSPC (CREATE and no member has room, see the placement knob), ENOMEM
 * (the appliance's memory ran out), EIO/ETIMEDOUT (appliance failed to
 * answer).
 *
 * XMEM_ATTACH_SOLE: while the region is attached to this client, the
 * appliance lets no other client attach it (except to read it, as an
 * appliance copying it does), resize it or fill it; for a grace period
 * after this client's connection ends too.  A region this call creates
 * then costs no read for a page this client never wrote: its first touch
 * is filled with zeroes locally (stats/zero_fills).  A region attached
 * to this client already without SOLE is held from then on (1.9; before,
 * EBUSY): it stays attached, mapped and cached, and its pages are read as
 * before (a VM's memory held again by the host it migrated to).  EBUSY if
 * another client has it attached; EOPNOTSUPP from an appliance older than
 * protocol 1.9.
 */
struct xmem_attach {
	char name[XMEM_REGION_NAME_MAX];
	__u64 size;
	__u32 flags;
	__u32 mode;
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

/* Flags of struct xmem_region_op. */
#define XMEM_RESIZE_WRITEBACK	0x1u	/* RESIZE: write back, not discard */
#define XMEM_DETACH_HOLD	0x1u	/* DETACH: end the hold only (1.8) */

/**
 * struct xmem_region_op - XMEM_IOC_DETACH, XMEM_IOC_RESIZE, XMEM_IOC_DESTROY
 * @name: in, region name, NUL terminated
 * @size: in, RESIZE: the new size in bytes, a nonzero page multiple up to
 *	1 TiB; else must be zero.  out, the region's size
 * @flags: in, RESIZE: XMEM_RESIZE_*; DETACH: XMEM_DETACH_*; else must
 *	be zero
 * @reserved: in, must be zero
 * @region_id: out, the appliance's identifier of the region
 * @reserved2: in, must be zero
 *
 * DETACH writes back the region's dirty pages, drops its cached pages and
 * forgets it on this client; it stays on the appliance.  RESIZE grows or
 * shrinks the region on the appliance and here, while it is mapped: a
 * grow is usable at once (map the new range); a shrink discards (or with
 * XMEM_RESIZE_WRITEBACK writes back) the removed range's pages, unmaps
 * them and frees the appliance memory, and later access there gets
 * SIGBUS.  DESTROY detaches the region here and frees it on the appliance.
 *
 * DETACH with XMEM_DETACH_HOLD ends this client's hold on a region it
 * attached with XMEM_ATTACH_SOLE and detaches nothing: the region stays
 * attached, mapped and cached here, and other clients may attach it from
 * then on (a VM's memory handed to the host it migrates to).  Its pages
 * never written are read like any others from then on.  A region not
 * held is left as it is (0).  ATTACH with XMEM_ATTACH_SOLE takes the hold
 * again, if no other client has attached the region meanwhile (1.9).
 *
 * Errors: EINVAL (bad name, size, flags or reserved field), ENOENT (not
 * attached here, for DETACH; no such region, for the others), EBUSY (the
 * region is bound to an open file or mapped here, or the module's own
 * transfers on it (readahead, eviction) did not end within io_timeout,
 * for DETACH and DESTROY, which wait for them; attached by another
 * client, for DESTROY), EINTR (killed while DETACH or DESTROY waited for
 * those transfers), EACCES (RESIZE and DESTROY:
 * neither the owner nor root), EIO (write-back failed; nothing changed),
 * ENOTCONN, ENOMEM (RESIZE: appliance capacity exhausted).  DETACH with
 * XMEM_DETACH_HOLD: ENOENT (not attached here), EACCES, EINTR, ENOTCONN,
 * EIO/ETIMEDOUT, ESTALE (the appliance answered for another region).
 */
struct xmem_region_op {
	char name[XMEM_REGION_NAME_MAX];
	__u64 size;
	__u32 flags;
	__u32 reserved;
	__u64 region_id;
	__u64 reserved2[2];
};

/* Flags of struct xmem_region_entry. */
#define XMEM_ENTRY_ATTACHED	0x1u	/* attached on this client */
#define XMEM_ENTRY_HELD		0x2u	/* and held by it (SOLE, 1.8) */

/**
 * struct xmem_region_entry - one region in XMEM_IOC_LIST's answer
 * @name: region name, NUL terminated
 * @size: size in bytes
 * @region_id: the appliance's identifier
 * @uid: owner
 * @gid: group
 * @mode: permission bits
 * @users: clients (connections) that have it attached on the appliance
 * @flags: XMEM_ENTRY_*
 * @reserved: zero
 * @resident_bytes: bytes of it in this client's local memory
 * @appliance: the appliance holding it, "ADDR:PORT", NUL terminated
 */
struct xmem_region_entry {
	char name[XMEM_REGION_NAME_MAX];
	__u64 size;
	__u64 region_id;
	__u32 uid;
	__u32 gid;
	__u32 mode;
	__u32 users;
	__u32 flags;
	__u32 reserved;
	__u64 resident_bytes;
	char appliance[64];
};

/* Entries XMEM_IOC_LIST returns per call at most. */
#define XMEM_LIST_MAX		64

/**
 * struct xmem_region_list - XMEM_IOC_LIST
 * @entries: in, user pointer to an array of struct xmem_region_entry
 * @count: in, its length (1 to XMEM_LIST_MAX); out, entries filled
 * @flags: in, must be zero
 * @cursor: in, 0 to start, or the @cursor returned by the previous call;
 *	out, where the next call continues (unchanged when @count is 0:
 *	the list is complete)
 * @reserved: in, must be zero
 *
 * Lists the regions of every appliance in the pool, whoever owns them:
 * member by member in the order they were added, each member's regions in
 * id order.  Members that cannot be reached now are skipped.  Errors:
 * EINVAL, EFAULT, ENOTCONN (no member reachable), EIO/ETIMEDOUT.
 */
struct xmem_region_list {
	__u64 entries;
	__u32 count;
	__u32 flags;
	__u64 cursor;
	__u64 reserved[2];
};

/**
 * struct xmem_account - XMEM_IOC_ACCOUNT
 * @slabs: in, slabs (page runs, size-class pages) the allocator has in use
 * @bytes_in_use: in, bytes it has handed to its callers
 * @bytes_reserved: in, bytes of the region it holds (at most 1 TiB)
 * @reserved: in, must be zero
 *
 * For an allocator that carves slabs out of a region in user space
 * (libxmem): replaces this open file's contribution to the counters of
 * the region the file is bound to, shown as sums over the region's open
 * files in /sys/class/misc/xmem/regions/<name>/alloc/.  The contribution
 * goes away when the file is released.  Nothing is written back.
 *
 * Errors: EINVAL (file not bound to a region, a reserved field not zero,
 * @bytes_in_use above @bytes_reserved, @bytes_reserved above 1 TiB, or
 * more @slabs than @bytes_reserved), EFAULT.
 */
struct xmem_account {
	__u64 slabs;
	__u64 bytes_in_use;
	__u64 bytes_reserved;
	__u64 reserved[5];
};

/* Flags of struct xmem_snapshot. */
#define XMEM_SNAPSHOT_INTO	0x1u	/* @dst exists: copy into it */
#define XMEM_SNAPSHOT_MODE	0x2u	/* a new @dst gets @mode */
#define XMEM_SNAPSHOT_TEMP	0x4u	/* a new @dst bound to this file */

/**
 * struct xmem_snapshot - XMEM_IOC_SNAPSHOT
 * @src: in, the region to copy, NUL terminated
 * @dst: in, the region to copy into, another name
 * @flags: in, XMEM_SNAPSHOT_*
 * @mode: in, with XMEM_SNAPSHOT_MODE: permission bits (0 to 0777) of the
 *	new @dst; else must be zero (it gets 0600)
 * @size: out, bytes copied (@src's size)
 * @region_id: out, the appliance's identifier of @dst
 * @hold_ns: out, nanoseconds writers of @src on this client were held
 *	(0 if @src is not attached here)
 * @total_ns: out, nanoseconds the whole call took
 * @reserved: in, must be zero
 *
 * The appliance holding @src copies it into @dst, memory to memory; no
 * region data passes through this client.  Without XMEM_SNAPSHOT_INTO,
 * @dst is created there with @src's size, owned by the caller; with it,
 * @dst must exist, be at least as large and not be open or mapped here
 * (its bytes past @src's size keep their content).  An existing @dst may
 * be on another appliance of the pool (since 1.5): that appliance then
 * reads @src from @src's appliance by RDMA (appliance to appliance; both
 * need protocol 1.7), still without passing through this client.
 *
 * If @src is attached here, the copy is a point-in-time snapshot of what
 * this client's programs wrote: writers are held (a write fault waits)
 * while @src's dirty pages are written back and the appliance copies,
 * then let go; readers go on.  Writes by other clients are not held.
 *
 * With XMEM_SNAPSHOT_TEMP (since 1.6; not with INTO) the new @dst is
 * temporary and private to the file the ioctl is called on, which must
 * not be bound to a region yet: @dst is attached here and the file is
 * bound to it, as ATTACH would, but it has no /dev/xmem.d node and ATTACH
 * by name refuses it (EBUSY).  It lives as long as that file: while it or
 * a duplicate of it (dup(), fork(), SCM_RIGHTS) is open or mapped.  When
 * the last goes, this client destroys @dst on the appliance, shortly
 * after (a work item: the close does not wait for the network); an
 * appliance of protocol 1.8 also destroys it by itself if this client
 * goes away for good.  It is how a process gives a child of fork() its
 * own copy of a region (libxmem's XMEM_FORK=copy).
 *
 * Errors: EINVAL (bad names, the same name twice, flags, mode or
 * reserved field; @dst smaller than @src; TEMP with INTO), ENOENT (no
 * @src; no @dst with INTO), EEXIST (@dst exists, without INTO), EACCES,
 * ENOSPC (no room for @dst on @src's appliance), EDQUOT (a new @dst would
 * put this host or the caller over a quota of the appliance, or over the
 * max_regions parameter with TEMP), EBUSY (@dst open or mapped here, a
 * copy involving either is in flight; TEMP on a file already bound to a
 * region), EIO (write-back or copy failed), ENOTCONN, ETIMEDOUT,
 * EOPNOTSUPP (an appliance older than protocol 1.4, or 1.7 for a @dst on
 * another appliance), ECONNREFUSED or EHOSTUNREACH (@dst's appliance
 * cannot reach @src's), EINTR (fatal signal).  On failure no @dst is left
 * behind and @src is unchanged (with INTO, @dst keeps its content but for
 * the part already copied).
 */
struct xmem_snapshot {
	char src[XMEM_REGION_NAME_MAX];
	char dst[XMEM_REGION_NAME_MAX];
	__u32 flags;
	__u32 mode;
	__u64 size;
	__u64 region_id;
	__u64 hold_ns;
	__u64 total_ns;
	__u64 reserved[4];
};

/* Flags of struct xmem_grant. */
#define XMEM_GRANT_REVOKE	0x1u	/* take the grant back */
#define XMEM_GRANT_UID		0x2u	/* for @uid of @host only */
#define XMEM_GRANT_ALL		(XMEM_GRANT_REVOKE | XMEM_GRANT_UID)

/* Host names: 1 to 63 characters of [A-Za-z0-9._-], NUL terminated. */
#define XMEM_HOST_NAME_MAX	64

/**
 * struct xmem_grant - XMEM_IOC_GRANT
 * @name: in, the region, NUL terminated
 * @host: in, the client host granted, as the region's appliance knows it
 *	(a name of its --hosts allow-list), NUL terminated
 * @flags: in, XMEM_GRANT_*
 * @uid: in, with XMEM_GRANT_UID: the one user of @host the grant is for;
 *	else must be zero
 * @reserved: in, must be zero
 *
 * The appliance holding @name lets clients of @host attach it (the
 * region's mode then applies to their users; uid 0 always may), or with
 * XMEM_GRANT_UID only user @uid of @host (whatever the mode); with
 * XMEM_GRANT_REVOKE it takes such a grant back.  Only the region's owner
 * may: the caller's fsuid owns it or is 0, on the host that created it.
 * A grant lets @host attach, never resize, destroy or grant.  Used by a
 * migration: the source host grants the destination host the region.
 *
 * Errors: EINVAL (bad name, host, flags, uid or reserved field), ENOENT
 * (no such region; REVOKE of a grant that does not exist), EACCES (not
 * the owner), ENOSPC (the region has as many grants as it may hold),
 * ENOTCONN, ETIMEDOUT, EOPNOTSUPP (an appliance older than protocol 1.5).
 */
struct xmem_grant {
	char name[XMEM_REGION_NAME_MAX];
	char host[XMEM_HOST_NAME_MAX];
	__u32 flags;
	__u32 uid;
	__u64 reserved[2];
};

#define XMEM_IOC_MAGIC		0xB8

/* Numbers start at 1: 0 is never a valid command. */
#define XMEM_IOC_VERSION	_IOWR(XMEM_IOC_MAGIC, 1, struct xmem_version)
#define XMEM_IOC_ATTACH		_IOWR(XMEM_IOC_MAGIC, 2, struct xmem_attach)
#define XMEM_IOC_INFO		_IOWR(XMEM_IOC_MAGIC, 3, struct xmem_region_info)
#define XMEM_IOC_DETACH		_IOWR(XMEM_IOC_MAGIC, 4, struct xmem_region_op)
#define XMEM_IOC_RESIZE		_IOWR(XMEM_IOC_MAGIC, 5, struct xmem_region_op)
#define XMEM_IOC_DESTROY	_IOWR(XMEM_IOC_MAGIC, 6, struct xmem_region_op)
#define XMEM_IOC_LIST		_IOWR(XMEM_IOC_MAGIC, 7, struct xmem_region_list)
#define XMEM_IOC_ACCOUNT	_IOWR(XMEM_IOC_MAGIC, 8, struct xmem_account)
#define XMEM_IOC_SNAPSHOT	_IOWR(XMEM_IOC_MAGIC, 9, struct xmem_snapshot)
#define XMEM_IOC_GRANT		_IOW(XMEM_IOC_MAGIC, 10, struct xmem_grant)

#endif /* _UAPI_XMEM_H */
