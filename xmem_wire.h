/* SPDX-License-Identifier: GPL-2.0 */
/*
 * xmem: encoding and validation of wire messages (include/xmem_proto.h).
 * Pure functions without side effects, so that KUnit can test them.
 */
#ifndef XMEM_WIRE_H
#define XMEM_WIRE_H

#include <linux/types.h>
#include "xmem_proto.h"

/* The largest region xmem accepts. */
#define XMEM_REGION_MAX_BYTES	XMEM_REGION_MAX

/**
 * struct xmem_wire_region - a decoded XMEM_MSG_ATTACH_REP
 * @region_id: the appliance's identifier of the region
 * @size: region size in bytes
 * @addr: remote address of byte 0
 * @rkey: remote key
 * @created: the request created the region
 */
struct xmem_wire_region {
	u64 region_id;
	u64 size;
	u64 addr;
	u32 rkey;
	bool created;
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
int xmem_wire_build_attach_req(struct xmem_msg_attach_req *req, u64 tag,
			       const char *name, u64 size, u32 flags);
int xmem_wire_parse_attach_rep(const void *buf, size_t len, u64 tag,
			       struct xmem_wire_region *out);
void xmem_wire_build_stat_req(struct xmem_msg_stat_req *req, u64 tag);
int xmem_wire_parse_stat_rep(const void *buf, size_t len, u64 tag,
			     struct xmem_wire_stat *out);
int xmem_wire_reply_tag(const void *buf, size_t len, u64 *tag);

#endif /* XMEM_WIRE_H */
