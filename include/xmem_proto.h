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
 * Minor 1 adds XMEM_MSG_REGION_REQ/REP: the region life cycle (attach with
 * an owner, detach, resize, destroy, info and listing), and
 * XMEM_MSG_AUTH_REQ/REP with XMEM_HELLO_F_AUTH: mutual authentication of
 * client and appliance with a shared secret.
 * Minor 2 adds XMEM_MSG_PULL_REQ: an appliance copies a region from another
 * appliance (appliance-to-appliance copy, used to drain an appliance).
 * Minor 3 adds XMEM_MSG_AUTH_HOST_REQ with XMEM_HELLO_F_HOSTS: a key per
 * client host instead of one shared secret.  The appliance sets
 * XMEM_HELLO_F_HOSTS only for clients that announce minor 3 or later, so
 * an older client never sees a flag it does not know; such a client can
 * still authenticate with the shared secret where the appliance has one,
 * and is refused (EACCES) where it has only per-host keys.
 * Minor 4 adds XMEM_MSG_COPY_REQ: an appliance copies one of its regions
 * into another (snapshots), and XMEM_PULL_F_FILL: a PULL that fills a
 * region which exists on the target.
 * Minor 5 adds XMEM_MSG_GRANT_REQ: the owner of a region lets another
 * client host (or one user of it) attach the region.  From minor 5 on a
 * region belongs to (host, uid): the host the creating client
 * authenticated as and the user it acted for, and the access rules of
 * struct xmem_msg_region_req apply within that host only; appliances of
 * every minor apply them to clients of every minor (an older client is
 * refused what another host owns, as a newer one is).
 * Minor 6 adds XMEM_MSG_ACT_FOR_REQ: an appliance that copies a region
 * from another one for a client host (PULL) authenticates there as
 * itself and then acts for that host, so the source authorises the copy
 * as the host that asked for it.
 * Minor 7 adds XMEM_PULL_F_DST: a filling PULL into a region of another
 * name (struct xmem_msg_pull_dst_req), so that a region can be copied
 * into one that exists on another appliance under its own name.
 * Minor 8 adds XMEM_COPY_F_TEMP: a copy the appliance destroys by itself
 * once no connection has it attached (a fork's private view of a heap,
 * which nobody can be trusted to destroy).
 * Minor 9 adds XMEM_ATTACH_F_SOLE: a connection holds a region alone, so
 * that its client may fill pages it never wrote with zeroes instead of
 * reading them, and XMEM_ATTACH_F_READ: an attachment for RDMA READ only
 * (an appliance pulling a region another connection holds alone).
 *
 * This header is shared by the kernel module and by userspace (xmemd).
 */
#ifndef XMEM_PROTO_H
#define XMEM_PROTO_H

#include <linux/types.h>

/* "XMEM" read as a little-endian 32-bit value. */
#define XMEM_PROTO_MAGIC	0x4d454d58u
#define XMEM_PROTO_MAJOR	1
#define XMEM_PROTO_MINOR	9

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
 * @flags: XMEM_HELLO_F_*; zero before protocol 1.1
 */
struct xmem_hello_rep {
	__le32 magic;
	__le16 major;
	__le16 minor;
	__le16 credits;
	__le16 status;
	__le32 flags;
};

/*
 * Flags of struct xmem_hello_rep.
 * AUTH: the appliance wants authentication; it answers every request but
 *	XMEM_MSG_AUTH_REQ and XMEM_MSG_AUTH_HOST_REQ with XMEM_MSG_ERROR_REP
 *	(EACCES) until the client has authenticated.
 * HOSTS: with AUTH, minor 3: the appliance knows a key per client host;
 *	step 1 is XMEM_MSG_AUTH_HOST_REQ naming the host.  Only sent to
 *	clients whose hello announces minor 3 or later.
 */
#define XMEM_HELLO_F_AUTH	0x1u
#define XMEM_HELLO_F_HOSTS	0x2u
#define XMEM_HELLO_F_ALL	(XMEM_HELLO_F_AUTH | XMEM_HELLO_F_HOSTS)

/**
 * enum xmem_msg_type - control message types
 * @XMEM_MSG_INVALID: zero is never a valid type, so a cleared buffer is
 *	caught
 * @XMEM_MSG_ATTACH_REQ: client asks for a region by name
 * @XMEM_MSG_ATTACH_REP: appliance answers with the region's remote address
 * @XMEM_MSG_STAT_REQ: client asks for the appliance's totals
 * @XMEM_MSG_STAT_REP: appliance answers with its totals
 * @XMEM_MSG_ERROR_REP: appliance refuses a request it cannot parse
 * @XMEM_MSG_REGION_REQ: client asks for a region operation (minor 1)
 * @XMEM_MSG_REGION_REP: appliance answers a region operation (minor 1)
 * @XMEM_MSG_AUTH_REQ: client takes a step of authentication (minor 1)
 * @XMEM_MSG_AUTH_REP: appliance answers it (minor 1)
 * @XMEM_MSG_PULL_REQ: client asks the appliance to copy a region from
 *	another appliance; answered with XMEM_MSG_REGION_REP (minor 2)
 * @XMEM_MSG_AUTH_HOST_REQ: step 1 of authentication naming the client
 *	host; answered with XMEM_MSG_AUTH_REP (minor 3)
 * @XMEM_MSG_COPY_REQ: client asks the appliance to copy one of its
 *	regions into another; answered with XMEM_MSG_REGION_REP (minor 4)
 * @XMEM_MSG_GRANT_REQ: client grants (or revokes) another host access to
 *	a region; answered with XMEM_MSG_REGION_REP (minor 5)
 * @XMEM_MSG_ACT_FOR_REQ: an authenticated appliance acts for a client
 *	host from now on; answered with XMEM_MSG_AUTH_REP (minor 6)
 */
enum xmem_msg_type {
	XMEM_MSG_INVALID	= 0,
	XMEM_MSG_ATTACH_REQ	= 1,
	XMEM_MSG_ATTACH_REP	= 2,
	XMEM_MSG_STAT_REQ	= 3,
	XMEM_MSG_STAT_REP	= 4,
	XMEM_MSG_ERROR_REP	= 5,
	XMEM_MSG_REGION_REQ	= 6,
	XMEM_MSG_REGION_REP	= 7,
	XMEM_MSG_AUTH_REQ	= 8,
	XMEM_MSG_AUTH_REP	= 9,
	XMEM_MSG_PULL_REQ	= 10,
	XMEM_MSG_AUTH_HOST_REQ	= 11,
	XMEM_MSG_ACT_FOR_REQ	= 12,
	XMEM_MSG_COPY_REQ	= 16,
	XMEM_MSG_GRANT_REQ	= 17,
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
#define XMEM_ATTACH_F_SOLE	0x4u	/* minor 9: no other writer, see below */
#define XMEM_ATTACH_F_READ	0x8u	/* minor 9: RDMA READ only */
#define XMEM_ATTACH_F_ALL	(XMEM_ATTACH_F_CREATE | XMEM_ATTACH_F_EXCL)
#define XMEM_SOLE_LEASE_SEC	4	/* see XMEM_ATTACH_F_SOLE */
#define XMEM_ATTACH_F_ALL_9	(XMEM_ATTACH_F_ALL | XMEM_ATTACH_F_SOLE | \
				 XMEM_ATTACH_F_READ)

/*
 * XMEM_ATTACH_F_SOLE (minor 9): the requesting connection holds the region
 * alone until it detaches it, destroys it or ends.  Meanwhile the
 * appliance refuses with EBUSY: an ATTACH of the region by another
 * connection unless it carries XMEM_ATTACH_F_READ; a RESIZE of it by
 * another connection; a COPY or PULL that would write into it (INTO,
 * FILL, DST) asked by another connection.  SOLE itself is refused with
 * EBUSY while another connection has the region attached without
 * XMEM_ATTACH_F_READ, or while a COPY or PULL into the region is in
 * flight; a SOLE by a connection that has the region attached already
 * makes that attachment a hold under the same conditions.  A later ATTACH
 * by the holder without SOLE keeps the hold, one with READ ends it.  A
 * client that created the region in that attachment thus knows that
 * every page it has not written is zero.
 *
 * The client trusts its hold only for XMEM_SOLE_LEASE_SEC after the start
 * of its last exchange on the connection that completed; then it reads
 * again (which renews the lease).  So the appliance keeps a hold for a
 * grace period of at least 2 * XMEM_SOLE_LEASE_SEC after the holder's
 * connection ended, and after the appliance starts again with a region
 * that was held when it stopped (the hold is saved with the region):
 * during that time every ATTACH without XMEM_ATTACH_F_READ is refused with
 * EBUSY.  The holder names its hold with a random token (@reserved of
 * struct xmem_msg_region_req, nonzero with SOLE, else zero: EINVAL); a
 * SOLE ATTACH carrying the token of the region's hold takes the hold
 * over at once, whether the old connection has ended yet or not: the
 * holder reconnecting.
 *
 * XMEM_ATTACH_F_READ (minor 9): the key handed out allows RDMA READ only;
 * such an attachment is allowed beside a SOLE holder.  Not with CREATE
 * or SOLE (EINVAL).  An attachment is of the kind its last ATTACH asked
 * for: an ATTACH of the other kind by the same connection replaces its
 * keys, and the keys handed out before stop working.
 *
 * From a client that announced a minor below 9 both flags are refused
 * as unknown (EPROTO).
 */

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
 *	differs from the existing region's), ENOMEM (appliance out of memory),
 *	EBUSY (CREATE of a name the appliance is pulling in, minor 2; a
 *	region another connection holds, or SOLE refused, minor 9)
 * @created: 1 if this request created the region, else 0
 * @reserved: must be zero
 * @region_id: appliance-wide identifier of the region, never 0
 * @size: region size in bytes
 * @addr: remote address of byte 0 of the region for RDMA READ/WRITE
 * @rkey: remote key covering [@addr, @addr + @size), valid on this
 *	connection only, until the region is detached from it
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

/**
 * enum xmem_region_opcode - operations of struct xmem_msg_region_req
 * @XMEM_REGION_OP_INVALID: zero is never valid
 * @XMEM_REGION_OP_ATTACH: look up, or create, a region and attach it to
 *	this connection; the reply carries @addr and @rkey
 * @XMEM_REGION_OP_DETACH: this connection stops using the region; the
 *	keys it was handed for it stop working
 * @XMEM_REGION_OP_RESIZE: change the size to @size; a shrink frees the
 *	appliance memory of the removed range.  The reply carries the new
 *	@addr and @rkey; keys handed out before stop working for a shrink
 *	and keep covering the old range for a grow.
 * @XMEM_REGION_OP_DESTROY: free the region; EBUSY while another
 *	connection has it attached
 * @XMEM_REGION_OP_INFO: describe the region named @name
 * @XMEM_REGION_OP_NEXT: describe the region with the smallest id above
 *	@cursor; ENOENT after the last one
 * @XMEM_REGION_OP_MAX: one past the last operation
 */
enum xmem_region_opcode {
	XMEM_REGION_OP_INVALID	= 0,
	XMEM_REGION_OP_ATTACH	= 1,
	XMEM_REGION_OP_DETACH	= 2,
	XMEM_REGION_OP_RESIZE	= 3,
	XMEM_REGION_OP_DESTROY	= 4,
	XMEM_REGION_OP_INFO	= 5,
	XMEM_REGION_OP_NEXT	= 6,
	XMEM_REGION_OP_MAX,
};

/* Region permission bits, as the owner/group/other bits of a file mode. */
#define XMEM_REGION_MODE_MASK	0777u
#define XMEM_REGION_MODE_DEFAULT 0600u

/**
 * struct xmem_msg_region_req - a region operation
 * @hdr: type XMEM_MSG_REGION_REQ
 * @op: an enum xmem_region_opcode value
 * @flags: XMEM_ATTACH_F_* for XMEM_REGION_OP_ATTACH, else zero
 * @mode: permission bits (XMEM_REGION_MODE_MASK) of a region that
 *	ATTACH with XMEM_ATTACH_F_CREATE creates; zero means
 *	XMEM_REGION_MODE_DEFAULT.  Zero for every other operation.
 * @uid: user on whose behalf the client asks; owner of a new region
 * @gid: that user's group
 * @size: ATTACH as in struct xmem_msg_attach_req; RESIZE: the new size,
 *	a nonzero multiple of 4096; zero for every other operation
 * @cursor: NEXT: the region id to continue after (0: from the start);
 *	zero for every other operation
 * @reserved: must be zero, except with XMEM_ATTACH_F_SOLE (minor 9): the
 *	hold's token
 * @name: region name, see XMEM_NAME_MAX; all zero for NEXT
 *
 * Access: a region belongs to the host that created it (the host its
 * client authenticated as; see XMEM_MSG_AUTH_HOST_REQ) and to @uid/@gid
 * of that host.  @uid and @gid are the client host's own: uid 1000 of
 * one host is not uid 1000 of another.  ATTACH of an existing region
 * needs a client of the owning host with read and write permission for
 * @uid/@gid in the region's mode (uid 0 always has it), or a grant (see
 * struct xmem_msg_grant_req) to the client's host; RESIZE and DESTROY
 * need a client of the owning host whose @uid owns the region or is 0.
 * INFO, NEXT and DETACH need nothing.  Regions of an appliance that
 * recorded no host (files of xmemd before hosts) belong to every host.
 *
 * A nonzero @reserved is answered with XMEM_MSG_ERROR_REP (EBADMSG), an
 * unknown @op with EOPNOTSUPP and flags the operation does not take with
 * EPROTO; every other problem with a REGION_REP status.
 */
struct xmem_msg_region_req {
	struct xmem_msg_hdr hdr;
	__le16 op;
	__le16 flags;
	__le32 mode;
	__le32 uid;
	__le32 gid;
	__le64 size;
	__le64 cursor;
	__le64 reserved;
	char name[XMEM_NAME_MAX];
};

/* Flags of struct xmem_msg_region_rep. */
#define XMEM_REGION_REP_F_CREATED	0x1u	/* ATTACH created it */

/**
 * struct xmem_msg_region_rep - answer to a region operation
 * @hdr: type XMEM_MSG_REGION_REP, tag of the request
 * @status: 0, or a positive errno value: EINVAL (bad request), ENOENT (no
 *	such region; after the last one for NEXT), EEXIST, EACCES (no
 *	permission), EBUSY (DESTROY of a region another connection uses;
 *	ATTACH with CREATE of a name the appliance is pulling in, minor 2;
 *	ATTACH without READ or RESIZE of a region another connection holds,
 *	or SOLE refused, minor 9),
 *	ENOMEM (capacity exhausted), EDQUOT (ATTACH with CREATE, RESIZE:
 *	over a quota of the client's host or user; minor 3 clients only,
 *	older ones get ENOMEM)
 * @flags: XMEM_REGION_REP_F_*
 * @region_id: appliance-wide identifier of the region, never 0
 * @size: region size in bytes (after the operation)
 * @addr: ATTACH, RESIZE: remote address of byte 0; else zero
 * @rkey: ATTACH, RESIZE: remote key covering [@addr, @addr + @size);
 *	else zero
 * @mode: the region's permission bits
 * @uid: the region's owner
 * @gid: the region's group
 * @users: connections that have the region attached
 * @reserved: must be zero
 * @name: the region's name, NUL padded
 *
 * When @status is not zero, every field after it is zero.  DESTROY and
 * DETACH answer with the region as it was.
 */
struct xmem_msg_region_rep {
	struct xmem_msg_hdr hdr;
	__le32 status;
	__le32 flags;
	__le64 region_id;
	__le64 size;
	__le64 addr;
	__le32 rkey;
	__le32 mode;
	__le32 uid;
	__le32 gid;
	__le32 users;
	__le32 reserved;
	char name[XMEM_NAME_MAX];
};

/*
 * Authentication, when the appliance announces XMEM_HELLO_F_AUTH: both
 * sides hold a shared secret K (16 to 128 bytes) and prove it with
 * HMAC-SHA256 over fresh random nonces, so the secret never travels and a
 * recorded exchange cannot be replayed:
 *
 *	client:    AUTH_REQ step 1, @nonce = Nc (random)
 *	appliance: AUTH_REP, @nonce = Na (random),
 *		   @mac = HMAC(K, "xmem-auth-appliance" || Nc || Na)
 *	client:    checks @mac (the appliance knows K), then
 *		   AUTH_REQ step 2, @mac = HMAC(K, "xmem-auth-client" || Na || Nc)
 *	appliance: AUTH_REP, @status 0, or EACCES and it disconnects
 *
 * The label strings are hashed without their NUL.  A client with a secret
 * refuses an appliance that does not announce XMEM_HELLO_F_AUTH.
 *
 * With XMEM_HELLO_F_HOSTS (minor 3) K is the key of the client's host on
 * the appliance's allow-list, and step 1 is XMEM_MSG_AUTH_HOST_REQ, which
 * names the host; the rest is the same.  An unknown host, a host whose
 * key was revoked and a wrong proof are all answered EACCES.  The
 * appliance then knows the client as that host: regions it creates are
 * that host's (see the owner fields).
 */
#define XMEM_AUTH_NONCE_SIZE	32
#define XMEM_AUTH_MAC_SIZE	32
#define XMEM_AUTH_SECRET_MIN	16
#define XMEM_AUTH_SECRET_MAX	128
#define XMEM_AUTH_LABEL_APPLIANCE	"xmem-auth-appliance"
#define XMEM_AUTH_LABEL_CLIENT		"xmem-auth-client"

/**
 * struct xmem_msg_auth_req - a step of authentication
 * @hdr: type XMEM_MSG_AUTH_REQ
 * @step: 1 or 2
 * @reserved: must be zero
 * @nonce: step 1: the client's nonce; step 2: zero
 * @mac: step 1: zero; step 2: the client's proof
 */
struct xmem_msg_auth_req {
	struct xmem_msg_hdr hdr;
	__le16 step;
	__le16 reserved[3];
	__u8 nonce[XMEM_AUTH_NONCE_SIZE];
	__u8 mac[XMEM_AUTH_MAC_SIZE];
};

/**
 * struct xmem_msg_auth_rep - answer to a step of authentication
 * @hdr: type XMEM_MSG_AUTH_REP, tag of the request
 * @status: 0; EACCES (wrong proof), EPROTO (step out of order), or
 *	EOPNOTSUPP (the appliance has no secret)
 * @reserved: must be zero
 * @nonce: step 1: the appliance's nonce; else zero
 * @mac: step 1: the appliance's proof; else zero
 *
 * When @status is not zero, every field after it is zero.
 */
struct xmem_msg_auth_rep {
	struct xmem_msg_hdr hdr;
	__le32 status;
	__le32 reserved;
	__u8 nonce[XMEM_AUTH_NONCE_SIZE];
	__u8 mac[XMEM_AUTH_MAC_SIZE];
};

/* Host names: 1 to 63 characters of [A-Za-z0-9._-], NUL padded. */
#define XMEM_HOST_MAX		64

/**
 * struct xmem_msg_auth_host_req - step 1 of authentication with a host
 *	identity (minor 3)
 * @hdr: type XMEM_MSG_AUTH_HOST_REQ
 * @step: 1
 * @reserved: must be zero
 * @nonce: the client's nonce
 * @host: the client host's name on the appliance's allow-list, NUL
 *	padded, see XMEM_HOST_MAX
 *
 * Answered with XMEM_MSG_AUTH_REP as step 1 of XMEM_MSG_AUTH_REQ; step 2
 * is an XMEM_MSG_AUTH_REQ.  Status EACCES: unknown or revoked host;
 * EINVAL: a bad host name or a step other than 1; EPROTO: out of order;
 * EOPNOTSUPP: the appliance has no per-host keys.
 */
struct xmem_msg_auth_host_req {
	struct xmem_msg_hdr hdr;
	__le16 step;
	__le16 reserved[3];
	__u8 nonce[XMEM_AUTH_NONCE_SIZE];
	char host[XMEM_HOST_MAX];
};

/**
 * struct xmem_msg_act_for_req - act for a client host (minor 6)
 * @hdr: type XMEM_MSG_ACT_FOR_REQ
 * @reserved: must be zero
 * @host: the client host to act for, a name of the appliance's
 *	allow-list, NUL padded, see XMEM_HOST_MAX
 *
 * Sent by an appliance that copies a region for a client host (see
 * struct xmem_msg_pull_req), after it authenticated with its own
 * per-host key.  Only a host that the appliance's allow-list marks as
 * one that may act for others (another appliance) may send it, once per
 * connection; every later request of the connection is then authorised
 * as @host would be.  Answered with XMEM_MSG_AUTH_REP (no nonce, no
 * proof): status 0; EACCES (the connection's host may not act for
 * others, or @host is unknown or revoked); EINVAL (a bad host name);
 * EPROTO (not authenticated with a per-host key, or sent twice);
 * EOPNOTSUPP (the appliance has no per-host keys).  A nonzero @reserved
 * is answered with XMEM_MSG_ERROR_REP (EBADMSG).
 */
struct xmem_msg_act_for_req {
	struct xmem_msg_hdr hdr;
	__le64 reserved;
	char host[XMEM_HOST_MAX];
};

/* Flags of struct xmem_msg_pull_req (minor 4; zero before). */
#define XMEM_PULL_F_FILL	0x1u	/* copy into the existing region */
#define XMEM_PULL_F_DST		0x2u	/* ... named @dst (minor 7) */
#define XMEM_PULL_F_ALL		(XMEM_PULL_F_FILL | XMEM_PULL_F_DST)

/**
 * struct xmem_msg_pull_req - copy a region from another appliance (minor 2)
 * @hdr: type XMEM_MSG_PULL_REQ
 * @family: address family of the source appliance: 2 (IPv4) or 10 (IPv6)
 * @port: the source appliance's RDMA CM port, big endian (network order)
 * @flags: XMEM_PULL_F_*; must be zero before minor 4
 * @addr: the source appliance's address, network order: IPv4 in the first
 *	4 bytes and the rest zero, or the 16 bytes of IPv6
 * @reserved2: must be zero
 * @name: the region to copy, see XMEM_NAME_MAX
 *
 * The appliance that receives it (the target) connects to the source as a
 * client and attaches the region there as uid 0 without CREATE.  A
 * requester that authenticated with a per-host key is acted for (minor
 * 6): the target authenticates to the source with its own per-host key
 * and sends XMEM_MSG_ACT_FOR_REQ naming the requesting host, so the
 * source authorises the copy as uid 0 of that host, which reaches only
 * what that host owns or was granted; where the source cannot do that
 * the PULL fails with EACCES.  Other requesters (shared secret, no
 * authentication) are served as before minor 6: the target
 * authenticates with the shared secret if it has one and the source
 * authorises uid 0 of the host the target authenticated as.  A FILL is
 * refused with EACCES unless the requesting host may attach the region
 * to fill on the target.  The target then creates a local
 * region of the same name, size, owner, group and mode, copies every byte
 * with RDMA READ, detaches at the source and disconnects.  It then
 * attaches the new region to the requesting connection and answers with
 * XMEM_MSG_REGION_REP as for an XMEM_REGION_OP_ATTACH that created it:
 * status 0, flag XMEM_REGION_REP_F_CREATED, the new region's id, size,
 * address, key, mode, owner and group.  The source region is left as it
 * was; destroying it is up to the client.  The copy is a snapshot only if
 * nobody writes to the source region while it runs.
 *
 * Other connections are served while the copy runs; the answer comes
 * within 300 seconds.  On failure nothing is left on the target and the
 * REGION_REP status says why: EINVAL (bad family, port, address or name,
 * or the source is the target itself), EEXIST (the target has a region of
 * that name, or is pulling one), ENOENT (no such region at the source),
 * ENOMEM (capacity or memory exhausted on the target), EACCES (the
 * source refused authentication), ECONNREFUSED (nobody serves the source
 * address and port), EHOSTUNREACH (no route to it), ETIMEDOUT (the source
 * did not answer in time, or the whole pull took too long), EBUSY (too
 * many pulls in flight), EIO (the copy or a source reply failed).
 *
 * With XMEM_PULL_F_FILL (minor 4) the target does not create a region: it
 * copies the source's bytes into the start of its own region of that name,
 * which must exist and be at least as large (else ENOENT, EINVAL), and
 * answers as for an ATTACH that found it (no CREATED flag); bytes past the
 * source's size keep their content, and so does the whole region on
 * failure but for the part already copied.  Resizing or destroying it is
 * refused (EBUSY) while the copy runs.  This is how a destination that is
 * already mapped (QEMU's memory path) gets a copy.
 *
 * With XMEM_PULL_F_DST (minor 7, only with FILL) the request is a
 * struct xmem_msg_pull_dst_req: the region filled here is @dst, not the
 * region of @name, and everything said above of the region to fill holds
 * for @dst (it must exist here, be at least as large, and the requesting
 * host must be allowed to attach it).  The source region is still @name.
 *
 * An unknown flag is answered with XMEM_MSG_ERROR_REP (EPROTO, and
 * EBADMSG by appliances before minor 4; appliances before minor 7 take
 * XMEM_PULL_F_DST for unknown); a nonzero @reserved2 with
 * XMEM_MSG_ERROR_REP (EBADMSG), and so is a length that does not match
 * the flags (struct xmem_msg_pull_dst_req's with XMEM_PULL_F_DST, this
 * struct's without).  DST without FILL, or a bad @dst, is answered with
 * status EINVAL.
 */
struct xmem_msg_pull_req {
	struct xmem_msg_hdr hdr;
	__le16 family;
	__be16 port;
	__le32 flags;
	__u8 addr[16];
	__le64 reserved2;
	char name[XMEM_NAME_MAX];
};

/**
 * struct xmem_msg_pull_dst_req - a PULL that fills a region of another
 *	name (minor 7)
 * @pull: the request, with XMEM_PULL_F_FILL | XMEM_PULL_F_DST in its flags
 *	and its @name the region to copy at the source
 * @dst: the region to fill on the target, see XMEM_NAME_MAX
 */
struct xmem_msg_pull_dst_req {
	struct xmem_msg_pull_req pull;
	char dst[XMEM_NAME_MAX];
};

/* Address families of struct xmem_msg_pull_req, as Linux numbers them. */
#define XMEM_PULL_FAMILY_INET	2
#define XMEM_PULL_FAMILY_INET6	10

/* An appliance answers a PULL within this many seconds. */
#define XMEM_PULL_TIMEOUT_SEC	300

/* Flags of struct xmem_msg_copy_req. */
#define XMEM_COPY_F_CREATE	0x1u	/* create @dst if it is missing */
#define XMEM_COPY_F_EXCL	0x2u	/* with CREATE: fail if @dst exists */
#define XMEM_COPY_F_TEMP	0x4u	/* with both: @dst is temporary (minor 8) */
#define XMEM_COPY_F_ALL		(XMEM_COPY_F_CREATE | XMEM_COPY_F_EXCL | \
				 XMEM_COPY_F_TEMP)

/*
 * Seconds a temporary region may stay unattached before its appliance
 * destroys it, unless the appliance is told otherwise (xmemd --temp-grace):
 * room for a client to reconnect and attach it again.
 */
#define XMEM_TEMP_GRACE_SEC	60

/**
 * struct xmem_msg_copy_req - copy a region into another on the same
 *	appliance (minor 4)
 * @hdr: type XMEM_MSG_COPY_REQ
 * @flags: XMEM_COPY_F_*
 * @mode: permission bits of a region CREATE makes (0: 0600); zero
 *	without CREATE
 * @uid: user on whose behalf the client asks; owner of a new @dst
 * @gid: that user's group
 * @reserved: must be zero
 * @src: the region to copy, see XMEM_NAME_MAX
 * @dst: the region to copy into, a different name
 *
 * The appliance copies the @src region's bytes into the start of @dst in
 * a worker of its own (memory to memory; nothing travels on the
 * network), serving other connections meanwhile.  @dst either exists and
 * is at least as large as @src (bytes past @src's size keep their
 * content), or, with XMEM_COPY_F_CREATE, is created with @src's size,
 * owned by @uid/@gid with @mode.  A created @dst is visible to nobody
 * until the copy is complete; resizing or destroying @src or an existing
 * @dst is refused (EBUSY) while it runs.  The copy is a snapshot of @src
 * only if nobody writes to it while it runs: a client makes it one by
 * writing back and holding its writers first.
 *
 * With XMEM_COPY_F_TEMP (minor 8; only together with CREATE and EXCL) the
 * new @dst is temporary: the appliance destroys it by itself when nobody
 * needs it any more: at once when a DETACH leaves it attached by no
 * connection; XMEM_TEMP_GRACE_SEC seconds (or the appliance's own
 * setting) after a connection that had it attached ended without it
 * being attached again, or after the copy's answer if nobody attached it.
 * A temporary region does not outlive a restart of the appliance.  The
 * requester attaches it right after the answer; an appliance before minor
 * 8 refuses the flag (XMEM_MSG_ERROR_REP, EPROTO), and so does one of
 * minor 8 from a client that announced an older minor.
 *
 * Access: @uid must be allowed to attach @src and an existing @dst (see
 * struct xmem_msg_region_req).
 *
 * The answer is an XMEM_MSG_REGION_REP describing @dst (no address or
 * key: it is not attached), with XMEM_REGION_REP_F_CREATED if it was
 * created, within XMEM_PULL_TIMEOUT_SEC.  On failure nothing is created
 * and the status says why: EINVAL (bad names, the same name twice, @dst
 * smaller than @src, mode without CREATE), ENOENT (no @src, or no @dst
 * without CREATE), EEXIST (CREATE|EXCL and @dst exists, or is being
 * created by a pull or copy), EACCES, ENOMEM (capacity or memory
 * exhausted), EDQUOT (a new @dst would put the requesting host or user
 * over a quota, minor 5; ENOMEM for clients before minor 3), EBUSY
 * (too many copies in flight, or @src or @dst is the target of a copy or
 * pull in flight), EIO (the copy failed).  Unknown
 * flags are answered with XMEM_MSG_ERROR_REP (EPROTO), a nonzero
 * @reserved with EBADMSG.
 */
struct xmem_msg_copy_req {
	struct xmem_msg_hdr hdr;
	__le32 flags;
	__le32 mode;
	__le32 uid;
	__le32 gid;
	__le64 reserved;
	char src[XMEM_NAME_MAX];
	char dst[XMEM_NAME_MAX];
};

/* Operations of struct xmem_msg_grant_req. */
#define XMEM_GRANT_OP_GRANT	1
#define XMEM_GRANT_OP_REVOKE	2

/* Flags of struct xmem_msg_grant_req. */
#define XMEM_GRANT_F_UID	0x1u	/* for @grantee_uid only */
#define XMEM_GRANT_F_ALL	XMEM_GRANT_F_UID

/* Grants a region holds at most. */
#define XMEM_GRANT_MAX		8

/**
 * struct xmem_msg_grant_req - let another host use a region (minor 5)
 * @hdr: type XMEM_MSG_GRANT_REQ
 * @op: XMEM_GRANT_OP_GRANT or XMEM_GRANT_OP_REVOKE
 * @flags: XMEM_GRANT_F_*
 * @uid: user on whose behalf the client asks
 * @gid: that user's group
 * @grantee_uid: with XMEM_GRANT_F_UID, the one user of @host the grant is
 *	for; else zero
 * @reserved: must be zero
 * @name: the region, see XMEM_NAME_MAX
 * @host: the host granted, as the appliance knows it (a name of its
 *	allow-list), see XMEM_HOST_MAX
 *
 * Only the region's owner may grant and revoke: a client of the owning
 * host acting as the owning uid or uid 0 (as for DESTROY).  A grant of the
 * whole @host lets clients of @host attach the region as clients of the
 * owning host may (the mode applies to their @uid/@gid; their uid 0
 * always may); a grant with XMEM_GRANT_F_UID lets only @grantee_uid of
 * @host attach it, whatever the mode.  A grant never lets @host resize,
 * destroy, grant or revoke.  COPY_REQ and PULL_REQ FILL check a host's
 * grants as ATTACH does.  Granting twice is not an error; revoking a
 * grant that does not exist is ENOENT.  A revoke refuses further
 * attaches; attachments made before it stay until they are detached.
 *
 * Answered with XMEM_MSG_REGION_REP describing the region (no address or
 * key), status 0 or: EINVAL (bad name or host, an unknown @op, a
 * @grantee_uid without XMEM_GRANT_F_UID), ENOENT (no such region; no
 * such grant), EACCES (not the owner), ENOSPC (XMEM_GRANT_MAX grants
 * already).  Unknown flags are answered with XMEM_MSG_ERROR_REP (EPROTO),
 * a nonzero @reserved with EBADMSG.
 */
struct xmem_msg_grant_req {
	struct xmem_msg_hdr hdr;
	__le16 op;
	__le16 flags;
	__le32 uid;
	__le32 gid;
	__le32 grantee_uid;
	__le64 reserved;
	char name[XMEM_NAME_MAX];
	char host[XMEM_HOST_MAX];
};

#endif /* XMEM_PROTO_H */
