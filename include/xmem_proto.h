/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * xmem wire protocol: the control messages exchanged between the xmem client
 * module and the xmem appliance daemon (xmemd).
 *
 * Data never travels in these messages: the client moves region data with
 * one-sided RDMA READ and RDMA WRITE.  Control messages travel as two-sided
 * SEND/RECV on the same reliable connection.
 *
 * Every field is little endian and fixed width.  Each message starts with
 * struct xmem_msg_hdr; its @len covers the whole message, header included,
 * and must equal the size of the message type, so a truncated or padded
 * message is rejected.  Reserved fields must be zero when sent and are
 * rejected when not.
 *
 * A receiver checks, in this order: the received length against the
 * header's @len, the type, the header flags, then the type's own fields.
 * A message longer than the receiver's buffers cannot be answered: it
 * fails the receive and so the connection.
 *
 * Versioning: the connection request carries struct xmem_hello.  A peer
 * refuses a different major version; a newer minor version only adds message
 * types, which the other side answers with XMEM_MSG_ERROR_REP (-EOPNOTSUPP).
 *
 * This header is shared by the kernel module and by userspace (xmemd).
 */
#ifndef XMEM_PROTO_H
#define XMEM_PROTO_H

#include <linux/types.h>

/* "XMEM" read as a little-endian 32-bit value. */
#define XMEM_PROTO_MAGIC	0x4d454d58u
#define XMEM_PROTO_MAJOR	1
#define XMEM_PROTO_MINOR	0

/* Default RDMA CM port of xmemd. */
#define XMEM_PROTO_DEFAULT_PORT	7471

/* Upper bound of any message, so receive buffers can be preposted. */
#define XMEM_MSG_MAX_SIZE	256

/*
 * Region names: 1 to 63 characters of [A-Za-z0-9._-], NUL padded, and
 * neither "." nor "..".
 */
#define XMEM_NAME_MAX		64

/* The largest region: 1 TiB. */
#define XMEM_REGION_MAX		0x10000000000ULL

/**
 * struct xmem_hello - private data of the RDMA CM connection request
 * @magic: XMEM_PROTO_MAGIC
 * @major: protocol major version of the client
 * @minor: protocol minor version of the client
 * @credits: number of receive buffers the client keeps posted
 * @reserved: must be zero
 *
 * The appliance rejects the connection, with a struct xmem_hello_rep as
 * reject private data whose @status says why (EPROTO), on a wrong magic or
 * major, a reserved field not zero or zero credits.
 */
struct xmem_hello {
	__le32 magic;
	__le16 major;
	__le16 minor;
	__le16 credits;
	__le16 reserved[3];
};

/**
 * struct xmem_hello_rep - private data of the accept (or reject)
 * @magic: XMEM_PROTO_MAGIC
 * @major: protocol major version of the appliance
 * @minor: protocol minor version of the appliance
 * @credits: number of receive buffers the appliance keeps posted for
 *	this connection; the client never has more requests in flight
 * @status: 0 on accept, a positive errno value on reject
 * @reserved: must be zero
 */
struct xmem_hello_rep {
	__le32 magic;
	__le16 major;
	__le16 minor;
	__le16 credits;
	__le16 status;
	__le32 reserved;
};

/**
 * enum xmem_msg_type - control message types
 * @XMEM_MSG_INVALID: zero is never a valid type, so a cleared buffer is
 *	caught
 * @XMEM_MSG_ATTACH_REQ: client asks for a region by name
 * @XMEM_MSG_ATTACH_REP: appliance answers with the region's remote address
 * @XMEM_MSG_STAT_REQ: client asks for the appliance's totals
 * @XMEM_MSG_STAT_REP: appliance answers with its totals
 * @XMEM_MSG_ERROR_REP: appliance refuses a request it cannot parse
 */
enum xmem_msg_type {
	XMEM_MSG_INVALID	= 0,
	XMEM_MSG_ATTACH_REQ	= 1,
	XMEM_MSG_ATTACH_REP	= 2,
	XMEM_MSG_STAT_REQ	= 3,
	XMEM_MSG_STAT_REP	= 4,
	XMEM_MSG_ERROR_REP	= 5,
};

/**
 * struct xmem_msg_hdr - header of every control message
 * @type: an enum xmem_msg_type value
 * @flags: must be zero in this version
 * @len: length of the whole message in bytes, header included
 * @tag: chosen by the requester, echoed in the reply
 */
struct xmem_msg_hdr {
	__le16 type;
	__le16 flags;
	__le32 len;
	__le64 tag;
};

/* Flags of struct xmem_msg_attach_req. */
#define XMEM_ATTACH_F_CREATE	0x1u	/* create the region if missing */
#define XMEM_ATTACH_F_EXCL	0x2u	/* with CREATE: fail if it exists */
#define XMEM_ATTACH_F_ALL	(XMEM_ATTACH_F_CREATE | XMEM_ATTACH_F_EXCL)

/**
 * struct xmem_msg_attach_req - attach (and maybe create) a named region
 * @hdr: type XMEM_MSG_ATTACH_REQ
 * @size: region size in bytes, a multiple of 4096; zero means "whatever
 *	size the existing region has" and is invalid with
 *	XMEM_ATTACH_F_CREATE when the region does not exist
 * @flags: XMEM_ATTACH_F_*
 * @reserved: must be zero
 * @name: region name, NUL padded, see XMEM_NAME_MAX
 */
struct xmem_msg_attach_req {
	struct xmem_msg_hdr hdr;
	__le64 size;
	__le32 flags;
	__le32 reserved;
	char name[XMEM_NAME_MAX];
};

/**
 * struct xmem_msg_attach_rep - where a region lives
 * @hdr: type XMEM_MSG_ATTACH_REP, tag of the request
 * @status: 0, or a positive errno value: ENOENT (no such region and no
 *	CREATE), EEXIST (EXCL and it exists), EINVAL (bad request, or size
 *	differs from the existing region's), ENOMEM (appliance out of memory)
 * @created: 1 if this request created the region, else 0
 * @reserved: must be zero
 * @region_id: appliance-wide identifier of the region, never 0
 * @size: region size in bytes
 * @addr: remote address of byte 0 of the region for RDMA READ/WRITE
 * @rkey: remote key covering [@addr, @addr + @size)
 * @reserved2: must be zero
 *
 * When @status is not zero, every field after it is zero.
 */
struct xmem_msg_attach_rep {
	struct xmem_msg_hdr hdr;
	__le32 status;
	__le32 created;
	__le64 reserved;
	__le64 region_id;
	__le64 size;
	__le64 addr;
	__le32 rkey;
	__le32 reserved2;
};

/**
 * struct xmem_msg_stat_req - ask for the appliance's totals
 * @hdr: type XMEM_MSG_STAT_REQ
 */
struct xmem_msg_stat_req {
	struct xmem_msg_hdr hdr;
};

/**
 * struct xmem_msg_stat_rep - the appliance's totals
 * @hdr: type XMEM_MSG_STAT_REP, tag of the request
 * @regions: number of regions the appliance holds
 * @bytes_allocated: bytes of memory held by those regions
 * @bytes_capacity: bytes the appliance may hand out in all
 */
struct xmem_msg_stat_rep {
	struct xmem_msg_hdr hdr;
	__le64 regions;
	__le64 bytes_allocated;
	__le64 bytes_capacity;
};

/**
 * struct xmem_msg_error_rep - refusal of a request that could not be parsed
 * @hdr: type XMEM_MSG_ERROR_REP, tag of the request (0 if unreadable)
 * @status: positive errno value: EBADMSG (bad length, a reply type sent
 *	as a request, type 0, or a reserved field not zero), EPROTO (unknown
 *	bits in the header's or the request's flags), EOPNOTSUPP (a type
 *	this version does not know)
 * @reserved: must be zero
 */
struct xmem_msg_error_rep {
	struct xmem_msg_hdr hdr;
	__le32 status;
	__le32 reserved;
};

#endif /* XMEM_PROTO_H */
