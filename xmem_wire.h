/* SPDX-License-Identifier: GPL-2.0 */
/*
 * xmem: encoding and validation of wire messages (include/xmem_proto.h).
 * Pure functions without side effects, so that KUnit can test them.
 */
#ifndef XMEM_WIRE_H
#define XMEM_WIRE_H

#include <linux/socket.h>
#include <linux/types.h>
#include "xmem_proto.h"

/* The largest region xmem accepts. */
#define XMEM_REGION_MAX_BYTES	XMEM_REGION_MAX

/**
 * struct xmem_wire_region - a decoded XMEM_MSG_ATTACH_REP or REGION_REP
 * @region_id: the appliance's identifier of the region
 * @size: region size in bytes
 * @addr: remote address of byte 0 (0 where the operation gives none)
 * @rkey: remote key (0 where the operation gives none)
 * @created: the request created the region
 * @mode: permission bits (REGION_REP only)
 * @uid: owner (REGION_REP only)
 * @gid: group (REGION_REP only)
 * @users: connections that have it attached (REGION_REP only)
 * @name: its name, NUL terminated (REGION_REP only)
 */
struct xmem_wire_region {
	u64 region_id;
	u64 size;
	u64 addr;
	u32 rkey;
	bool created;
	u32 mode;
	u32 uid;
	u32 gid;
	u32 users;
	char name[XMEM_NAME_MAX];
};

/**
 * struct xmem_wire_region_req - what to put in an XMEM_MSG_REGION_REQ
 * @op: an enum xmem_region_opcode value
 * @flags: XMEM_ATTACH_F_* (ATTACH only)
 * @mode: permission bits of a new region (ATTACH with CREATE), or 0
 * @uid: the user the client acts for
 * @gid: that user's group
 * @size: ATTACH, RESIZE: size in bytes; else 0
 * @cursor: NEXT: region id to continue after; else 0
 * @hold: ATTACH with XMEM_ATTACH_F_SOLE: the hold's token, nonzero; else 0
 * @name: region name; NULL for NEXT
 */
struct xmem_wire_region_req {
	u16 op;
	u16 flags;
	u32 mode;
	u32 uid;
	u32 gid;
	u64 size;
	u64 cursor;
	u64 hold;
	const char *name;
};

/**
 * struct xmem_wire_stat - a decoded XMEM_MSG_STAT_REP
 * @regions: regions held by the appliance
 * @bytes_allocated: bytes held by them
 * @bytes_capacity: bytes the appliance may hand out
 */
struct xmem_wire_stat {
	u64 regions;
	u64 bytes_allocated;
	u64 bytes_capacity;
};

int xmem_wire_check_name(const char *name, size_t max);
void xmem_wire_build_hello(struct xmem_hello *hello, u16 credits);
int xmem_wire_parse_hello_rep(const void *data, size_t len, u16 *credits);
u32 xmem_wire_hello_flags(const void *data);
int xmem_wire_build_auth_req(struct xmem_msg_auth_req *req, u64 tag,
			     u16 step, const u8 *nonce, const u8 *mac);
int xmem_wire_build_auth_host_req(struct xmem_msg_auth_host_req *req,
				  u64 tag, const u8 *nonce, const char *host);
int xmem_wire_parse_auth_rep(const void *buf, size_t len, u64 tag, u16 step,
			     u8 *nonce, u8 *mac);
int xmem_wire_build_attach_req(struct xmem_msg_attach_req *req, u64 tag,
			       const char *name, u64 size, u32 flags);
int xmem_wire_parse_attach_rep(const void *buf, size_t len, u64 tag,
			       struct xmem_wire_region *out);
void xmem_wire_build_stat_req(struct xmem_msg_stat_req *req, u64 tag);
int xmem_wire_parse_stat_rep(const void *buf, size_t len, u64 tag,
			     struct xmem_wire_stat *out);
int xmem_wire_build_region_req(struct xmem_msg_region_req *req, u64 tag,
			       const struct xmem_wire_region_req *r);
int xmem_wire_parse_region_rep(const void *buf, size_t len, u64 tag, u16 op,
			       struct xmem_wire_region *out);
int xmem_wire_build_pull_req(struct xmem_msg_pull_req *req, u64 tag,
			     const struct sockaddr_storage *src,
			     const char *name);
int xmem_wire_build_pull_dst_req(struct xmem_msg_pull_dst_req *req, u64 tag,
				 const struct sockaddr_storage *src,
				 const char *name, const char *dst);
int xmem_wire_build_copy_req(struct xmem_msg_copy_req *req, u64 tag,
			     const char *src, const char *dst, u32 flags,
			     u32 mode, u32 uid, u32 gid);
int xmem_wire_build_grant_req(struct xmem_msg_grant_req *req, u64 tag,
			      const char *name, const char *host, u16 op,
			      u16 flags, u32 grantee_uid, u32 uid, u32 gid);
int xmem_wire_reply_tag(const void *buf, size_t len, u64 *tag);

#endif /* XMEM_WIRE_H */
