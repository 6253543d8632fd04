// SPDX-License-Identifier: GPL-2.0
/*
 * xmem: encoding and validation of the control messages exchanged with the
 * appliance.  Everything that arrives from the wire is checked here before
 * any other part of the module looks at it: exact length, type, flags,
 * reserved fields, tag, and the plausibility of every value.
 */
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/errno.h>
#include <linux/in.h>
#include <linux/in6.h>
#include <linux/kernel.h>
#include <linux/mm.h>
#include <linux/overflow.h>
#include <linux/string.h>
#include <kunit/visibility.h>

#include "xmem_wire.h"

/**
 * xmem_wire_check_name() - check a region name
 * @name: buffer holding the name
 * @max: size of @name in bytes
 *
 * A valid name is 1 to XMEM_NAME_MAX - 1 characters of [A-Za-z0-9._-],
 * terminated by a NUL within @max bytes, and not "." or "..".
 *
 * Context: any.
 * Return: 0 if valid, -EINVAL otherwise.
 */
int xmem_wire_check_name(const char *name, size_t max)
{
	size_t len = strnlen(name, min_t(size_t, max, XMEM_NAME_MAX));
	size_t i;

	if (len == 0 || len >= XMEM_NAME_MAX || len >= max)
		return -EINVAL;
	for (i = 0; i < len; i++) {
		char c = name[i];

		/* Not isalnum(): the kernel's ctype knows Latin-1 letters. */
		if (!(c >= 'a' && c <= 'z') && !(c >= 'A' && c <= 'Z') &&
		    !(c >= '0' && c <= '9') && c != '.' && c != '_' && c != '-')
			return -EINVAL;
	}
	if (!strcmp(name, ".") || !strcmp(name, ".."))
		return -EINVAL;
	return 0;
}
EXPORT_SYMBOL_IF_KUNIT(xmem_wire_check_name);

/**
 * xmem_wire_build_hello() - fill the private data of a connection request
 * @hello: the buffer to fill
 * @credits: receive buffers the client keeps posted
 *
 * Context: any.
 */
void xmem_wire_build_hello(struct xmem_hello *hello, u16 credits)
{
	memset(hello, 0, sizeof(*hello));
	hello->magic = cpu_to_le32(XMEM_PROTO_MAGIC);
	hello->major = cpu_to_le16(XMEM_PROTO_MAJOR);
	hello->minor = cpu_to_le16(XMEM_PROTO_MINOR);
	hello->credits = cpu_to_le16(credits);
}
EXPORT_SYMBOL_IF_KUNIT(xmem_wire_build_hello);

static bool xmem_wire_status_ok(u32 status)
{
	return status > 0 && status < MAX_ERRNO;
}

/**
 * xmem_wire_parse_hello_rep() - check the private data of an accept or reject
 * @data: private data as received, may be NULL
 * @len: its length; transports may pad it, so it may exceed the struct
 * @credits: out, the appliance's receive credits (on success)
 *
 * Context: any.
 * Return: 0 for a valid accept; the negated status of a valid reject;
 * -EPROTO for a missing, short or malformed reply or another major version.
 */
int xmem_wire_parse_hello_rep(const void *data, size_t len, u16 *credits)
{
	const struct xmem_hello_rep *rep = data;
	u16 status;

	if (!data || len < sizeof(*rep))
		return -EPROTO;
	if (le32_to_cpu(rep->magic) != XMEM_PROTO_MAGIC ||
	    le16_to_cpu(rep->major) != XMEM_PROTO_MAJOR ||
	    le32_to_cpu(rep->flags) & ~XMEM_HELLO_F_ALL)
		return -EPROTO;
	status = le16_to_cpu(rep->status);
	if (status)
		return xmem_wire_status_ok(status) ? -(int)status : -EPROTO;
	if (!le16_to_cpu(rep->credits))
		return -EPROTO;
	*credits = le16_to_cpu(rep->credits);
	return 0;
}
EXPORT_SYMBOL_IF_KUNIT(xmem_wire_parse_hello_rep);

/**
 * xmem_wire_hello_flags() - the flags of an accept
 * @data: private data that xmem_wire_parse_hello_rep() accepted
 *
 * Context: any.
 * Return: XMEM_HELLO_F_* bits.
 */
u32 xmem_wire_hello_flags(const void *data)
{
	const struct xmem_hello_rep *rep = data;

	return le32_to_cpu(rep->flags);
}
EXPORT_SYMBOL_IF_KUNIT(xmem_wire_hello_flags);

static void xmem_wire_hdr(struct xmem_msg_hdr *hdr, u16 type, u32 len, u64 tag)
{
	hdr->type = cpu_to_le16(type);
	hdr->flags = 0;
	hdr->len = cpu_to_le32(len);
	hdr->tag = cpu_to_le64(tag);
}

/**
 * xmem_wire_build_attach_req() - encode an XMEM_MSG_ATTACH_REQ
 * @req: the buffer to fill
 * @tag: the request's tag
 * @name: region name
 * @size: region size in bytes, or 0 for an existing region's size
 * @flags: XMEM_ATTACH_F_*
 *
 * Context: any.
 * Return: 0, or -EINVAL for a bad name, size or flags (nothing is encoded).
 */
int xmem_wire_build_attach_req(struct xmem_msg_attach_req *req, u64 tag,
			       const char *name, u64 size, u32 flags)
{
	if (xmem_wire_check_name(name, XMEM_NAME_MAX))
		return -EINVAL;
	if (flags & ~XMEM_ATTACH_F_ALL)
		return -EINVAL;
	if ((flags & XMEM_ATTACH_F_EXCL) && !(flags & XMEM_ATTACH_F_CREATE))
		return -EINVAL;
	if (!IS_ALIGNED(size, PAGE_SIZE) || size > XMEM_REGION_MAX_BYTES)
		return -EINVAL;

	memset(req, 0, sizeof(*req));
	xmem_wire_hdr(&req->hdr, XMEM_MSG_ATTACH_REQ, sizeof(*req), tag);
	req->size = cpu_to_le64(size);
	req->flags = cpu_to_le32(flags);
	strscpy(req->name, name, sizeof(req->name));
	return 0;
}
EXPORT_SYMBOL_IF_KUNIT(xmem_wire_build_attach_req);

/* Checks common to every reply: exact length, type, flags and tag. */
static int xmem_wire_check_hdr(const void *buf, size_t len, u16 type,
			       size_t want, u64 tag)
{
	const struct xmem_msg_hdr *hdr = buf;

	if (len != want || le32_to_cpu(hdr->len) != want)
		return -EBADMSG;
	if (le16_to_cpu(hdr->type) != type || hdr->flags)
		return -EBADMSG;
	if (le64_to_cpu(hdr->tag) != tag)
		return -EBADMSG;
	return 0;
}

/**
 * xmem_wire_reply_tag() - the tag of a received message, to match it
 * @buf: message as received
 * @len: bytes received
 * @tag: out, the tag
 *
 * Context: any, also the receive completion handler.
 * Return: 0, or -EBADMSG if @buf is too short to hold a header.
 */
int xmem_wire_reply_tag(const void *buf, size_t len, u64 *tag)
{
	const struct xmem_msg_hdr *hdr = buf;

	if (len < sizeof(*hdr))
		return -EBADMSG;
	*tag = le64_to_cpu(hdr->tag);
	return 0;
}
EXPORT_SYMBOL_IF_KUNIT(xmem_wire_reply_tag);

/* An XMEM_MSG_ERROR_REP answers any request: turn it into its errno. */
static int xmem_wire_parse_error(const void *buf, size_t len, u64 tag)
{
	const struct xmem_msg_error_rep *rep = buf;
	u32 status;

	if (xmem_wire_check_hdr(buf, len, XMEM_MSG_ERROR_REP, sizeof(*rep),
				tag))
		return 0;
	status = le32_to_cpu(rep->status);
	if (rep->reserved || !xmem_wire_status_ok(status))
		return -EBADMSG;
	return -(int)status;
}

/**
 * xmem_wire_parse_attach_rep() - decode and check an XMEM_MSG_ATTACH_REP
 * @buf: message as received
 * @len: bytes received
 * @tag: the tag of the request it must answer
 * @out: decoded region, filled only on success
 *
 * Context: any.
 * Return: 0; the negated status the appliance sent (-ENOENT, -EEXIST,
 * -EINVAL, -ENOMEM, ...); or -EBADMSG for a malformed or implausible reply.
 */
int xmem_wire_parse_attach_rep(const void *buf, size_t len, u64 tag,
			       struct xmem_wire_region *out)
{
	const struct xmem_msg_attach_rep *rep = buf;
	u64 size, addr, end;
	u32 status;
	int err;

	err = xmem_wire_parse_error(buf, len, tag);
	if (err)
		return err;
	if (xmem_wire_check_hdr(buf, len, XMEM_MSG_ATTACH_REP, sizeof(*rep),
				tag))
		return -EBADMSG;
	if (rep->reserved || rep->reserved2)
		return -EBADMSG;

	status = le32_to_cpu(rep->status);
	if (status) {
		if (!xmem_wire_status_ok(status) || rep->created ||
		    rep->region_id || rep->size || rep->addr || rep->rkey)
			return -EBADMSG;
		return -(int)status;
	}

	size = le64_to_cpu(rep->size);
	addr = le64_to_cpu(rep->addr);
	if (!size || !IS_ALIGNED(size, PAGE_SIZE) ||
	    size > XMEM_REGION_MAX_BYTES)
		return -EBADMSG;
	if (check_add_overflow(addr, size, &end))
		return -EBADMSG;
	if (!rep->region_id || le32_to_cpu(rep->created) > 1)
		return -EBADMSG;

	out->region_id = le64_to_cpu(rep->region_id);
	out->size = size;
	out->addr = addr;
	out->rkey = le32_to_cpu(rep->rkey);
	out->created = le32_to_cpu(rep->created);
	return 0;
}
EXPORT_SYMBOL_IF_KUNIT(xmem_wire_parse_attach_rep);

/**
 * xmem_wire_build_stat_req() - encode an XMEM_MSG_STAT_REQ
 * @req: the buffer to fill
 * @tag: the request's tag
 *
 * Context: any.
 */
void xmem_wire_build_stat_req(struct xmem_msg_stat_req *req, u64 tag)
{
	memset(req, 0, sizeof(*req));
	xmem_wire_hdr(&req->hdr, XMEM_MSG_STAT_REQ, sizeof(*req), tag);
}
EXPORT_SYMBOL_IF_KUNIT(xmem_wire_build_stat_req);

/**
 * xmem_wire_parse_stat_rep() - decode and check an XMEM_MSG_STAT_REP
 * @buf: message as received
 * @len: bytes received
 * @tag: the tag of the request it must answer
 * @out: decoded totals, filled only on success
 *
 * Context: any.
 * Return: 0; the negated status of an error reply; or -EBADMSG.
 */
int xmem_wire_parse_stat_rep(const void *buf, size_t len, u64 tag,
			     struct xmem_wire_stat *out)
{
	const struct xmem_msg_stat_rep *rep = buf;
	int err;

	err = xmem_wire_parse_error(buf, len, tag);
	if (err)
		return err;
	if (xmem_wire_check_hdr(buf, len, XMEM_MSG_STAT_REP, sizeof(*rep),
				tag))
		return -EBADMSG;
	out->regions = le64_to_cpu(rep->regions);
	out->bytes_allocated = le64_to_cpu(rep->bytes_allocated);
	out->bytes_capacity = le64_to_cpu(rep->bytes_capacity);
	return 0;
}
EXPORT_SYMBOL_IF_KUNIT(xmem_wire_parse_stat_rep);

/* The fields each operation may or must carry; see struct xmem_msg_region_req. */
static int xmem_wire_check_region_req(const struct xmem_wire_region_req *r)
{
	bool attach = r->op == XMEM_REGION_OP_ATTACH;

	if (r->op == XMEM_REGION_OP_INVALID || r->op >= XMEM_REGION_OP_MAX)
		return -EINVAL;
	if (attach ? r->flags & ~XMEM_ATTACH_F_ALL_9 : r->flags)
		return -EINVAL;
	if ((r->flags & XMEM_ATTACH_F_READ) &&
	    (r->flags & (XMEM_ATTACH_F_CREATE | XMEM_ATTACH_F_SOLE)))
		return -EINVAL;
	if (!(r->flags & XMEM_ATTACH_F_SOLE) != !r->hold)
		return -EINVAL;
	if ((r->flags & XMEM_ATTACH_F_EXCL) &&
	    !(r->flags & XMEM_ATTACH_F_CREATE))
		return -EINVAL;
	if (r->mode & ~XMEM_REGION_MODE_MASK ||
	    (r->mode && !(r->flags & XMEM_ATTACH_F_CREATE)))
		return -EINVAL;
	if (r->op == XMEM_REGION_OP_NEXT ? !!r->name : !r->name ||
	    xmem_wire_check_name(r->name, XMEM_NAME_MAX))
		return -EINVAL;
	if (r->cursor && r->op != XMEM_REGION_OP_NEXT)
		return -EINVAL;
	if (!IS_ALIGNED(r->size, PAGE_SIZE) || r->size > XMEM_REGION_MAX_BYTES)
		return -EINVAL;
	if (r->op == XMEM_REGION_OP_RESIZE ? !r->size : r->size && !attach)
		return -EINVAL;
	return 0;
}

/**
 * xmem_wire_build_region_req() - encode an XMEM_MSG_REGION_REQ
 * @req: the buffer to fill
 * @tag: the request's tag
 * @r: the operation and its arguments
 *
 * Context: any.
 * Return: 0, or -EINVAL for an unknown operation or a field the
 * operation does not allow (nothing is encoded).
 */
int xmem_wire_build_region_req(struct xmem_msg_region_req *req, u64 tag,
			       const struct xmem_wire_region_req *r)
{
	if (xmem_wire_check_region_req(r))
		return -EINVAL;
	memset(req, 0, sizeof(*req));
	xmem_wire_hdr(&req->hdr, XMEM_MSG_REGION_REQ, sizeof(*req), tag);
	req->op = cpu_to_le16(r->op);
	req->flags = cpu_to_le16(r->flags);
	req->mode = cpu_to_le32(r->mode);
	req->uid = cpu_to_le32(r->uid);
	req->gid = cpu_to_le32(r->gid);
	req->size = cpu_to_le64(r->size);
	req->cursor = cpu_to_le64(r->cursor);
	req->reserved = cpu_to_le64(r->hold);
	if (r->name)
		strscpy(req->name, r->name, sizeof(req->name));
	return 0;
}
EXPORT_SYMBOL_IF_KUNIT(xmem_wire_build_region_req);

/**
 * xmem_wire_parse_region_rep() - decode and check an XMEM_MSG_REGION_REP
 * @buf: message as received
 * @len: bytes received
 * @tag: the tag of the request it must answer
 * @op: the operation of that request
 * @out: decoded region, filled only on success
 *
 * Beyond the format, checks that the answer fits the operation: a remote
 * address and key for ATTACH and RESIZE and none otherwise, "created"
 * only for ATTACH, a valid name and mode.
 *
 * Context: any.
 * Return: 0; the negated status the appliance sent; or -EBADMSG for a
 * malformed or implausible reply.
 */
int xmem_wire_parse_region_rep(const void *buf, size_t len, u64 tag, u16 op,
			       struct xmem_wire_region *out)
{
	const struct xmem_msg_region_rep *rep = buf;
	bool keyed = op == XMEM_REGION_OP_ATTACH || op == XMEM_REGION_OP_RESIZE;
	u64 size, addr, end;
	u32 status, flags;
	int err;

	err = xmem_wire_parse_error(buf, len, tag);
	if (err)
		return err;
	if (xmem_wire_check_hdr(buf, len, XMEM_MSG_REGION_REP, sizeof(*rep),
				tag))
		return -EBADMSG;
	if (rep->reserved)
		return -EBADMSG;

	status = le32_to_cpu(rep->status);
	if (status) {
		if (!xmem_wire_status_ok(status) ||
		    memchr_inv(&rep->flags, 0, sizeof(*rep) -
			       offsetof(struct xmem_msg_region_rep, flags)))
			return -EBADMSG;
		return -(int)status;
	}

	size = le64_to_cpu(rep->size);
	addr = le64_to_cpu(rep->addr);
	flags = le32_to_cpu(rep->flags);
	if (!size || !IS_ALIGNED(size, PAGE_SIZE) ||
	    size > XMEM_REGION_MAX_BYTES)
		return -EBADMSG;
	if (check_add_overflow(addr, size, &end))
		return -EBADMSG;
	if (!keyed && (addr || rep->rkey))
		return -EBADMSG;
	if (!rep->region_id || flags & ~XMEM_REGION_REP_F_CREATED ||
	    (flags && op != XMEM_REGION_OP_ATTACH))
		return -EBADMSG;
	if (le32_to_cpu(rep->mode) & ~XMEM_REGION_MODE_MASK)
		return -EBADMSG;
	if (xmem_wire_check_name(rep->name, sizeof(rep->name)) ||
	    memchr_inv(rep->name + strlen(rep->name), 0,
		       sizeof(rep->name) - strlen(rep->name)))
		return -EBADMSG;

	out->region_id = le64_to_cpu(rep->region_id);
	out->size = size;
	out->addr = addr;
	out->rkey = le32_to_cpu(rep->rkey);
	out->created = flags & XMEM_REGION_REP_F_CREATED;
	out->mode = le32_to_cpu(rep->mode);
	out->uid = le32_to_cpu(rep->uid);
	out->gid = le32_to_cpu(rep->gid);
	out->users = le32_to_cpu(rep->users);
	memcpy(out->name, rep->name, sizeof(out->name));
	return 0;
}
EXPORT_SYMBOL_IF_KUNIT(xmem_wire_parse_region_rep);

/**
 * xmem_wire_build_pull_req() - encode an XMEM_MSG_PULL_REQ
 * @req: the buffer to fill
 * @tag: the request's tag
 * @src: the source appliance: a struct sockaddr_in or sockaddr_in6 with
 *	its port
 * @name: the region to copy
 *
 * The reply is an XMEM_MSG_REGION_REP, parsed with
 * xmem_wire_parse_region_rep() and XMEM_REGION_OP_ATTACH.
 *
 * Context: any.
 * Return: 0, or -EINVAL for a family other than AF_INET and AF_INET6, a
 * zero port or a bad name (nothing is encoded).
 */
int xmem_wire_build_pull_req(struct xmem_msg_pull_req *req, u64 tag,
			     const struct sockaddr_storage *src,
			     const char *name)
{
	const struct sockaddr_in6 *sin6 = (const struct sockaddr_in6 *)src;
	const struct sockaddr_in *sin = (const struct sockaddr_in *)src;
	__be16 port;

	BUILD_BUG_ON(XMEM_PULL_FAMILY_INET != AF_INET);
	BUILD_BUG_ON(XMEM_PULL_FAMILY_INET6 != AF_INET6);
	BUILD_BUG_ON(sizeof(*req) > XMEM_MSG_MAX_SIZE);

	if (xmem_wire_check_name(name, XMEM_NAME_MAX))
		return -EINVAL;
	switch (src->ss_family) {
	case AF_INET:
		port = sin->sin_port;
		break;
	case AF_INET6:
		port = sin6->sin6_port;
		break;
	default:
		return -EINVAL;
	}
	if (!port)
		return -EINVAL;

	memset(req, 0, sizeof(*req));
	xmem_wire_hdr(&req->hdr, XMEM_MSG_PULL_REQ, sizeof(*req), tag);
	req->port = port;
	if (src->ss_family == AF_INET) {
		req->family = cpu_to_le16(XMEM_PULL_FAMILY_INET);
		memcpy(req->addr, &sin->sin_addr, sizeof(sin->sin_addr));
	} else {
		req->family = cpu_to_le16(XMEM_PULL_FAMILY_INET6);
		memcpy(req->addr, &sin6->sin6_addr, sizeof(sin6->sin6_addr));
	}
	strscpy(req->name, name, sizeof(req->name));
	return 0;
}
EXPORT_SYMBOL_IF_KUNIT(xmem_wire_build_pull_req);

/**
 * xmem_wire_build_pull_dst_req() - encode a PULL that fills another region
 * @req: the buffer to fill
 * @tag: the request's tag
 * @src: the source appliance, as for xmem_wire_build_pull_req()
 * @name: the region to copy at the source
 * @dst: the region to fill on the target (protocol minor 7)
 *
 * An XMEM_MSG_PULL_REQ with XMEM_PULL_F_FILL | XMEM_PULL_F_DST, the
 * length of struct xmem_msg_pull_dst_req.  The reply is an
 * XMEM_MSG_REGION_REP describing @dst, attached to the requesting
 * connection, parsed with xmem_wire_parse_region_rep() and
 * XMEM_REGION_OP_ATTACH.
 *
 * Context: any.
 * Return: 0, or -EINVAL as xmem_wire_build_pull_req(), or for a bad
 * @dst (nothing is encoded).
 */
int xmem_wire_build_pull_dst_req(struct xmem_msg_pull_dst_req *req, u64 tag,
				 const struct sockaddr_storage *src,
				 const char *name, const char *dst)
{
	int ret;

	BUILD_BUG_ON(sizeof(*req) > XMEM_MSG_MAX_SIZE);

	if (xmem_wire_check_name(dst, XMEM_NAME_MAX))
		return -EINVAL;
	ret = xmem_wire_build_pull_req(&req->pull, tag, src, name);
	if (ret)
		return ret;
	xmem_wire_hdr(&req->pull.hdr, XMEM_MSG_PULL_REQ, sizeof(*req), tag);
	req->pull.flags = cpu_to_le32(XMEM_PULL_F_FILL | XMEM_PULL_F_DST);
	memset(req->dst, 0, sizeof(req->dst));
	strscpy(req->dst, dst, sizeof(req->dst));
	return 0;
}
EXPORT_SYMBOL_IF_KUNIT(xmem_wire_build_pull_dst_req);

/**
 * xmem_wire_build_copy_req() - encode an XMEM_MSG_COPY_REQ
 * @req: the buffer to fill
 * @tag: the request's tag
 * @src: the region to copy
 * @dst: the region to copy into, another name
 * @flags: XMEM_COPY_F_*
 * @mode: permission bits of a @dst that CREATE makes, or 0
 * @uid: the user the client acts for
 * @gid: that user's group
 *
 * The reply is an XMEM_MSG_REGION_REP describing @dst, parsed with
 * xmem_wire_parse_region_rep() and XMEM_REGION_OP_ATTACH (it may carry
 * the CREATED flag; it carries no key).
 *
 * Context: any.
 * Return: 0, or -EINVAL for bad or equal names, unknown flags, TEMP
 * without CREATE and EXCL, or a mode beyond 0777 or without CREATE
 * (nothing is encoded).
 */
int xmem_wire_build_copy_req(struct xmem_msg_copy_req *req, u64 tag,
			     const char *src, const char *dst, u32 flags,
			     u32 mode, u32 uid, u32 gid)
{
	BUILD_BUG_ON(sizeof(*req) > XMEM_MSG_MAX_SIZE);

	if (xmem_wire_check_name(src, XMEM_NAME_MAX) ||
	    xmem_wire_check_name(dst, XMEM_NAME_MAX) || !strcmp(src, dst) ||
	    flags & ~XMEM_COPY_F_ALL || mode & ~XMEM_REGION_MODE_MASK ||
	    (mode && !(flags & XMEM_COPY_F_CREATE)))
		return -EINVAL;
	if ((flags & XMEM_COPY_F_TEMP) &&
	    (~flags & (XMEM_COPY_F_CREATE | XMEM_COPY_F_EXCL)))
		return -EINVAL;
	memset(req, 0, sizeof(*req));
	xmem_wire_hdr(&req->hdr, XMEM_MSG_COPY_REQ, sizeof(*req), tag);
	req->flags = cpu_to_le32(flags);
	req->mode = cpu_to_le32(mode);
	req->uid = cpu_to_le32(uid);
	req->gid = cpu_to_le32(gid);
	strscpy(req->src, src, sizeof(req->src));
	strscpy(req->dst, dst, sizeof(req->dst));
	return 0;
}
EXPORT_SYMBOL_IF_KUNIT(xmem_wire_build_copy_req);

/**
 * xmem_wire_build_grant_req() - encode an XMEM_MSG_GRANT_REQ (minor 5)
 * @req: the buffer to fill
 * @tag: the request's tag
 * @name: the region
 * @host: the host granted, a name as region names go
 * @op: XMEM_GRANT_OP_GRANT or XMEM_GRANT_OP_REVOKE
 * @flags: XMEM_GRANT_F_*
 * @grantee_uid: with XMEM_GRANT_F_UID the user of @host; else 0
 * @uid: the user the client acts for
 * @gid: that user's group
 *
 * The reply is an XMEM_MSG_REGION_REP describing the region (no key),
 * parsed with xmem_wire_parse_region_rep() and XMEM_REGION_OP_INFO.
 *
 * Context: any.
 * Return: 0, or -EINVAL for a bad name or host, an unknown @op or flag, or
 * @grantee_uid without XMEM_GRANT_F_UID (nothing is encoded).
 */
int xmem_wire_build_grant_req(struct xmem_msg_grant_req *req, u64 tag,
			      const char *name, const char *host, u16 op,
			      u16 flags, u32 grantee_uid, u32 uid, u32 gid)
{
	BUILD_BUG_ON(sizeof(*req) > XMEM_MSG_MAX_SIZE);

	if (xmem_wire_check_name(name, XMEM_NAME_MAX) ||
	    xmem_wire_check_name(host, XMEM_HOST_MAX) ||
	    (op != XMEM_GRANT_OP_GRANT && op != XMEM_GRANT_OP_REVOKE) ||
	    flags & ~XMEM_GRANT_F_ALL ||
	    (grantee_uid && !(flags & XMEM_GRANT_F_UID)))
		return -EINVAL;
	memset(req, 0, sizeof(*req));
	xmem_wire_hdr(&req->hdr, XMEM_MSG_GRANT_REQ, sizeof(*req), tag);
	req->op = cpu_to_le16(op);
	req->flags = cpu_to_le16(flags);
	req->uid = cpu_to_le32(uid);
	req->gid = cpu_to_le32(gid);
	req->grantee_uid = cpu_to_le32(grantee_uid);
	strscpy(req->name, name, sizeof(req->name));
	strscpy(req->host, host, sizeof(req->host));
	return 0;
}
EXPORT_SYMBOL_IF_KUNIT(xmem_wire_build_grant_req);

/**
 * xmem_wire_build_auth_req() - encode an XMEM_MSG_AUTH_REQ
 * @req: the buffer to fill
 * @tag: the request's tag
 * @step: 1 (with @nonce) or 2 (with @mac)
 * @nonce: step 1: the client's nonce, XMEM_AUTH_NONCE_SIZE bytes
 * @mac: step 2: the client's proof, XMEM_AUTH_MAC_SIZE bytes
 *
 * Context: any.
 * Return: 0, or -EINVAL for another step (nothing is encoded).
 */
int xmem_wire_build_auth_req(struct xmem_msg_auth_req *req, u64 tag,
			     u16 step, const u8 *nonce, const u8 *mac)
{
	if (step != 1 && step != 2)
		return -EINVAL;
	memset(req, 0, sizeof(*req));
	xmem_wire_hdr(&req->hdr, XMEM_MSG_AUTH_REQ, sizeof(*req), tag);
	req->step = cpu_to_le16(step);
	if (step == 1)
		memcpy(req->nonce, nonce, sizeof(req->nonce));
	else
		memcpy(req->mac, mac, sizeof(req->mac));
	return 0;
}
EXPORT_SYMBOL_IF_KUNIT(xmem_wire_build_auth_req);

/**
 * xmem_wire_build_auth_host_req() - encode an XMEM_MSG_AUTH_HOST_REQ,
 *	step 1 naming the client's host (protocol 1.3)
 * @req: the buffer to fill
 * @tag: the request's tag
 * @nonce: the client's nonce, XMEM_AUTH_NONCE_SIZE bytes
 * @host: the host name: 1 to XMEM_HOST_MAX - 1 characters of
 *	[A-Za-z0-9._-]
 *
 * Context: any.
 * Return: 0, or -EINVAL for a bad host name (nothing is encoded).
 */
int xmem_wire_build_auth_host_req(struct xmem_msg_auth_host_req *req,
				  u64 tag, const u8 *nonce, const char *host)
{
	if (xmem_wire_check_name(host, XMEM_HOST_MAX))
		return -EINVAL;
	memset(req, 0, sizeof(*req));
	xmem_wire_hdr(&req->hdr, XMEM_MSG_AUTH_HOST_REQ, sizeof(*req), tag);
	req->step = cpu_to_le16(1);
	memcpy(req->nonce, nonce, sizeof(req->nonce));
	strscpy(req->host, host, sizeof(req->host));
	return 0;
}
EXPORT_SYMBOL_IF_KUNIT(xmem_wire_build_auth_host_req);

/**
 * xmem_wire_parse_auth_rep() - decode and check an XMEM_MSG_AUTH_REP
 * @buf: message as received
 * @len: bytes received
 * @tag: the tag of the request it must answer
 * @step: the step of that request
 * @nonce: out, step 1: the appliance's nonce
 * @mac: out, step 1: the appliance's proof
 *
 * Context: any.
 * Return: 0; the negated status sent (-EACCES, -EPROTO, -EOPNOTSUPP);
 * or -EBADMSG for a malformed reply.
 */
int xmem_wire_parse_auth_rep(const void *buf, size_t len, u64 tag, u16 step,
			     u8 *nonce, u8 *mac)
{
	const struct xmem_msg_auth_rep *rep = buf;
	u32 status;
	int err;

	err = xmem_wire_parse_error(buf, len, tag);
	if (err)
		return err;
	if (xmem_wire_check_hdr(buf, len, XMEM_MSG_AUTH_REP, sizeof(*rep),
				tag))
		return -EBADMSG;
	status = le32_to_cpu(rep->status);
	if (rep->reserved || (status && !xmem_wire_status_ok(status)))
		return -EBADMSG;
	if (status || step != 1) {
		if (memchr_inv(rep->nonce, 0, sizeof(rep->nonce)) ||
		    memchr_inv(rep->mac, 0, sizeof(rep->mac)))
			return -EBADMSG;
		return -(int)status;
	}
	memcpy(nonce, rep->nonce, sizeof(rep->nonce));
	memcpy(mac, rep->mac, sizeof(rep->mac));
	return 0;
}
EXPORT_SYMBOL_IF_KUNIT(xmem_wire_parse_auth_rep);
