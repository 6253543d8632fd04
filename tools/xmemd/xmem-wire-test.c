// SPDX-License-Identifier: GPL-2.0
/*
 * xmem-wire-test: exercise an xmemd over the wire protocol of
 * include/xmem_proto.h, good requests and bad, and print TAP.
 *
 * Usage: xmem-wire-test [--pull-source SADDR:SPORT] ADDR PORT
 *
 * It connects as a userspace RDMA CM client, checks that bad hellos are
 * refused, creates a region and moves data in and out of it with one-sided
 * RDMA, then sends every kind of malformed request it knows and checks the
 * documented status of each answer, and that the connection survives.
 * With --pull-source, a second xmemd at SADDR:SPORT is the source of real
 * PULLs (appliance-to-appliance copies) into the one at ADDR:PORT;
 * without it those tests are skipped (and not counted as passed).
 * Region names carry the process id, so runs against one daemon do not
 * collide.  Exit status 0 only if every test passed.
 */
#define _GNU_SOURCE
#include <endian.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <poll.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/random.h>

#include <infiniband/verbs.h>
#include <rdma/rdma_cma.h>

#include "xmem_proto.h"
#include "tap.h"
#include "wirec.h"

#define WT_TIMEOUT_MS	30000	/* QEMU without KVM is slow */
/* A PULL answers within XMEM_PULL_TIMEOUT_SEC; allow a little more. */
#define WT_PULL_TIMEOUT_MS ((XMEM_PULL_TIMEOUT_SEC + 30) * 1000)
#define WT_PULL_SIZE	(32ULL << 20)	/* region copied by the real pulls */
#define WT_BULK_CHUNK	(1U << 20)	/* bytes per RDMA op of a bulk move */
#define WT_BULK_DEPTH	8		/* bulk RDMA ops in flight */
#define WT_NRX		32
#define WT_NTX		32
#define WT_MSG_SIZE	1024	/* room for oversized messages */
#define WT_DATA_SIZE	(64 * 1024)
#define WT_REGION_SIZE	(1024 * 1024)
#define WT_PAGE		4096ULL
#define WT_REGION_MAX	(1ULL << 40)

/* Work request ids. */
#define WT_WR_RECV	WIREC_WR_RECV
#define WT_WR_SEND	WIREC_WR_SEND
#define WT_WR_RDMA	WIREC_WR_USER
#define WT_WR_KIND(x)	WIREC_WR_KIND(x)

struct wt_msg {
	uint32_t len;
	uint8_t data[WT_MSG_SIZE];
};

struct wt_conn {
	struct wirec w;
	unsigned int sends_out;
	/* Received messages not consumed yet. */
	struct wt_msg rxq[WT_NRX];
	unsigned int rxq_head, rxq_len;
	bool rdma_done;
	unsigned long rdma_completed;
	unsigned int credits;
	uint32_t hello_flags;
	bool broken;
};

struct wt_region {
	uint32_t status;
	uint32_t created;
	uint64_t region_id;
	uint64_t size;
	uint64_t addr;
	uint32_t rkey;
};

static const char *wt_addr, *wt_port;
/* --pull-source: the second appliance, NULL without one. */
static const char *wt_src_addr, *wt_src_port;
static int wt_timeout_ms = WT_TIMEOUT_MS;
/* --secret-file: authenticate where the appliance asks for it. */
static uint8_t wt_secret[XMEM_AUTH_SECRET_MAX];
static size_t wt_secret_len;
/* --pull-refusing-source: a source the target must refuse (EACCES). */
static const char *wt_nsrc_addr, *wt_nsrc_port;
static uint64_t wt_tag = 1000;

__attribute__((noreturn))
static void wt_bail(const char *why)
{
	printf("Bail out! %s\n", why);
	tap_done();
	exit(1);
}

static uint8_t *wt_data(struct wt_conn *c, unsigned int i)
{
	return wirec_extra(&c->w) + (size_t)i * WT_DATA_SIZE;
}

static void wt_close(struct wt_conn *c)
{
	if (c->broken)
		c->w.gone = true;
	wirec_close(&c->w);
	memset(c, 0, sizeof(*c));
}

/*
 * Connect with @hello as private data.  Returns 0 when accepted (and the
 * accept data was checked), a positive status when rejected with a
 * struct xmem_hello_rep (-2 when rejected without one), -1 on failure.
 */
static int wt_connect_to(struct wt_conn *c, const struct xmem_hello *hello,
			 const char *addr, const char *port)
{
	struct wirec_opts o = {
		.nrx = WT_NRX,
		.ntx = WT_NTX,
		.slot = WT_MSG_SIZE,
		.extra = 2 * WT_DATA_SIZE,
		.send_extra = WT_BULK_DEPTH,
		.rd_atom = 4,
		.responder = 4,
		.step_ms = WT_TIMEOUT_MS,
		.log = wirec_log_tap,
	};
	const struct xmem_hello_rep *rep = &c->w.rep;
	struct sockaddr_storage ss;
	int err;

	memset(c, 0, sizeof(*c));
	if (wirec_resolve(addr, port, &ss))
		return -1;
	err = wirec_connect(&c->w, &o, (struct sockaddr *)&ss, hello,
			    sizeof(*hello));
	if (err == ECONNREFUSED && c->w.id) {
		err = c->w.reject_status;
		if (err < 0)
			tap_diag("rejected without xmem private data");
		wt_close(c);
		return err > 0 ? err : -2;
	}
	if (err)
		return -1;
	if (rep->status || (le32toh(rep->flags) & ~XMEM_HELLO_F_ALL) ||
	    !le16toh(rep->credits)) {
		tap_diag("bad accept data: magic 0x%08x major %u status %u credits %u",
			 le32toh(rep->magic), le16toh(rep->major),
			 le16toh(rep->status), le16toh(rep->credits));
		goto err;
	}
	c->credits = le16toh(rep->credits);
	c->hello_flags = le32toh(rep->flags);
	if ((c->hello_flags & XMEM_HELLO_F_AUTH) && wt_secret_len &&
	    wirec_auth(&c->w, NULL, wt_secret, wt_secret_len)) {
		tap_diag("authentication with --secret-file failed");
		goto err;
	}
	return 0;

err:
	c->broken = true;
	wt_close(c);
	return -1;
}

static int wt_connect(struct wt_conn *c, const struct xmem_hello *hello)
{
	return wt_connect_to(c, hello, wt_addr, wt_port);
}

static void wt_good_hello(struct xmem_hello *h)
{
	memset(h, 0, sizeof(*h));
	h->magic = htole32(XMEM_PROTO_MAGIC);
	h->major = htole16(XMEM_PROTO_MAJOR);
	h->minor = htole16(XMEM_PROTO_MINOR);
	h->credits = htole16(WT_NRX);
}

/* Handle one completion; -1 on error. */
static int wt_handle_wc(struct wt_conn *c, const struct ibv_wc *wc)
{
	unsigned int i = wc->wr_id & 0xffffffffu;
	struct wt_msg *m;

	if (wc->status != IBV_WC_SUCCESS) {
		tap_diag("work completion 0x%" PRIx64 " failed: %s",
			 (uint64_t)wc->wr_id, ibv_wc_status_str(wc->status));
		c->broken = true;
		return -1;
	}
	switch (WT_WR_KIND(wc->wr_id)) {
	case WT_WR_SEND:
		c->sends_out--;
		return 0;
	case WT_WR_RDMA:
		c->rdma_done = true;
		c->rdma_completed++;
		return 0;
	case WT_WR_RECV:
		if (c->rxq_len == WT_NRX || i >= WT_NRX)
			return -1;
		m = &c->rxq[(c->rxq_head + c->rxq_len) % WT_NRX];
		m->len = wc->byte_len;
		memcpy(m->data, wirec_rx(&c->w, i), wc->byte_len);
		c->rxq_len++;
		return wirec_post_recv(&c->w, i) ? -1 : 0;
	}
	return -1;
}

/* Process completions until @done is true; -1 on error or timeout. */
static int wt_poll_until(struct wt_conn *c, bool (*done)(struct wt_conn *))
{
	struct ibv_wc wc;
	int err;

	while (!done(c)) {
		err = wirec_wc(&c->w, &wc, wt_timeout_ms);
		if (err) {
			tap_diag("waiting for a completion: %s", strerror(err));
			c->broken = true;
			return -1;
		}
		if (wt_handle_wc(c, &wc))
			return -1;
	}
	return 0;
}

static bool wt_have_msg(struct wt_conn *c)
{
	return c->rxq_len > 0;
}

static bool wt_have_rdma(struct wt_conn *c)
{
	return c->rdma_done;
}

static int wt_send(struct wt_conn *c, const void *msg, uint32_t len)
{
	if (c->broken || len > WT_MSG_SIZE || c->sends_out >= WT_NTX)
		return -1;
	if (wirec_send(&c->w, msg, len)) {
		tap_diag("ibv_post_send failed");
		return -1;
	}
	c->sends_out++;
	return 0;
}

/* Take the next received message; -1 on timeout or error. */
static int wt_recv(struct wt_conn *c, struct wt_msg *out)
{
	if (c->broken || wt_poll_until(c, wt_have_msg))
		return -1;
	*out = c->rxq[c->rxq_head];
	c->rxq_head = (c->rxq_head + 1) % WT_NRX;
	c->rxq_len--;
	return 0;
}

static int wt_rpc(struct wt_conn *c, const void *req, uint32_t len,
		  struct wt_msg *rep)
{
	if (wt_send(c, req, len))
		return -1;
	return wt_recv(c, rep);
}

/* One-sided @opcode of @len bytes between data buffer @i and the region. */
static int wt_rdma(struct wt_conn *c, enum ibv_wr_opcode opcode,
		   unsigned int i, uint32_t len, uint64_t raddr, uint32_t rkey,
		   uint32_t imm)
{
	struct ibv_sge sge = {
		.addr = (uintptr_t)wt_data(c, i),
		.length = len,
		.lkey = c->w.mr->lkey,
	};
	struct ibv_send_wr wr = {
		.wr_id = WT_WR_RDMA,
		.sg_list = &sge,
		.num_sge = 1,
		.opcode = opcode,
		.send_flags = IBV_SEND_SIGNALED,
		.imm_data = htobe32(imm),
		.wr.rdma.remote_addr = raddr,
		.wr.rdma.rkey = rkey,
	};
	struct ibv_send_wr *bad;

	if (c->broken)
		return -1;
	c->rdma_done = false;
	if (ibv_post_send(c->w.id->qp, &wr, &bad)) {
		tap_diag("ibv_post_send (rdma) failed");
		return -1;
	}
	return wt_poll_until(c, wt_have_rdma);
}

static void wt_hdr(struct xmem_msg_hdr *h, uint16_t type, uint32_t len,
		   uint64_t tag)
{
	h->type = htole16(type);
	h->flags = 0;
	h->len = htole32(len);
	h->tag = htole64(tag);
}

static void wt_attach_req(struct xmem_msg_attach_req *req, uint64_t tag,
			  const char *name, uint64_t size, uint32_t flags)
{
	memset(req, 0, sizeof(*req));
	wt_hdr(&req->hdr, XMEM_MSG_ATTACH_REQ, sizeof(*req), tag);
	req->size = htole64(size);
	req->flags = htole32(flags);
	/* No NUL needed: tests send 64-character names on purpose. */
	memcpy(req->name, name, strnlen(name, sizeof(req->name)));
}

/*
 * Check that @m is a well-formed ATTACH_REP for @tag and decode it;
 * -1 (with a diag) if it is not.
 */
static int wt_parse_attach_rep(const struct wt_msg *m, uint64_t tag,
			       struct wt_region *out)
{
	struct xmem_msg_attach_rep rep;

	if (m->len != sizeof(rep)) {
		if (m->len == sizeof(struct xmem_msg_error_rep)) {
			struct xmem_msg_error_rep e;

			memcpy(&e, m->data, sizeof(e));
			tap_diag("got ERROR_REP status %u instead of ATTACH_REP",
				 le32toh(e.status));
		} else {
			tap_diag("reply of %u bytes, want %zu", m->len,
				 sizeof(rep));
		}
		return -1;
	}
	memcpy(&rep, m->data, sizeof(rep));
	if (le16toh(rep.hdr.type) != XMEM_MSG_ATTACH_REP || rep.hdr.flags ||
	    le32toh(rep.hdr.len) != sizeof(rep) ||
	    le64toh(rep.hdr.tag) != tag || rep.reserved || rep.reserved2) {
		tap_diag("bad reply header: type %u flags %u len %u tag %" PRIu64
			 " (want %" PRIu64 ")", le16toh(rep.hdr.type),
			 le16toh(rep.hdr.flags), le32toh(rep.hdr.len),
			 (uint64_t)le64toh(rep.hdr.tag), tag);
		return -1;
	}
	out->status = le32toh(rep.status);
	out->created = le32toh(rep.created);
	out->region_id = le64toh(rep.region_id);
	out->size = le64toh(rep.size);
	out->addr = le64toh(rep.addr);
	out->rkey = le32toh(rep.rkey);
	if (out->status && (out->created || out->region_id || out->size ||
			    out->addr || out->rkey)) {
		tap_diag("failed ATTACH_REP has nonzero fields");
		return -1;
	}
	return 0;
}

static int wt_attach_raw(struct wt_conn *c, const struct xmem_msg_attach_req *req,
			 struct wt_region *out)
{
	struct wt_msg m;

	if (wt_rpc(c, req, sizeof(*req), &m))
		return -1;
	return wt_parse_attach_rep(&m, le64toh(req->hdr.tag), out);
}

static int wt_attach(struct wt_conn *c, const char *name, uint64_t size,
		     uint32_t flags, struct wt_region *out)
{
	struct xmem_msg_attach_req req;

	wt_attach_req(&req, ++wt_tag, name, size, flags);
	return wt_attach_raw(c, &req, out);
}

/* Expect ATTACH_REP with @status for @req. */
static void wt_expect_attach_status(struct wt_conn *c,
				    const struct xmem_msg_attach_req *req,
				    uint32_t status, const char *desc)
{
	struct wt_region r;
	int ret = wt_attach_raw(c, req, &r);

	if (!ret && r.status != status)
		tap_diag("status %u (%s), want %u (%s)", r.status,
			 strerror(r.status), status, strerror(status));
	tap_ok(!ret && r.status == status, "%s -> %s", desc, strerror(status));
}

/* Expect an ERROR_REP with @status and @tag to @len bytes of @msg. */
static void wt_expect_error(struct wt_conn *c, const void *msg, uint32_t len,
			    uint64_t tag, uint32_t status, const char *desc)
{
	struct xmem_msg_error_rep rep;
	struct wt_msg m;
	bool good = false;

	if (!wt_rpc(c, msg, len, &m)) {
		if (m.len == sizeof(rep)) {
			memcpy(&rep, m.data, sizeof(rep));
			good = le16toh(rep.hdr.type) == XMEM_MSG_ERROR_REP &&
			       !rep.hdr.flags && !rep.reserved &&
			       le32toh(rep.hdr.len) == sizeof(rep) &&
			       le64toh(rep.hdr.tag) == tag &&
			       le32toh(rep.status) == status;
			if (!good)
				tap_diag("reply: type %u len %u tag %" PRIu64
					 " status %u (want ERROR_REP tag %"
					 PRIu64 " status %u)",
					 le16toh(rep.hdr.type),
					 le32toh(rep.hdr.len),
					 (uint64_t)le64toh(rep.hdr.tag),
					 le32toh(rep.status), tag, status);
		} else {
			tap_diag("reply of %u bytes, want %zu", m.len,
				 sizeof(rep));
		}
	}
	tap_ok(good, "%s -> ERROR_REP %s", desc, strerror(status));
}

static int wt_stat(struct wt_conn *c, struct xmem_msg_stat_rep *out)
{
	struct xmem_msg_stat_req req;
	uint64_t tag = ++wt_tag;
	struct wt_msg m;

	memset(&req, 0, sizeof(req));
	wt_hdr(&req.hdr, XMEM_MSG_STAT_REQ, sizeof(req), tag);
	if (wt_rpc(c, &req, sizeof(req), &m))
		return -1;
	if (m.len != sizeof(*out))
		return -1;
	memcpy(out, m.data, sizeof(*out));
	if (le16toh(out->hdr.type) != XMEM_MSG_STAT_REP || out->hdr.flags ||
	    le32toh(out->hdr.len) != sizeof(*out) ||
	    le64toh(out->hdr.tag) != tag)
		return -1;
	return 0;
}

static void wt_fill(uint8_t *p, size_t len, uint32_t seed)
{
	size_t i;

	for (i = 0; i < len; i++) {
		seed = seed * 1103515245u + 12345u;
		p[i] = seed >> 16;
	}
}

static bool wt_all_zero(const uint8_t *p, size_t len)
{
	size_t i;

	for (i = 0; i < len; i++)
		if (p[i])
			return false;
	return true;
}

/* Read [off, off + len) of region @r and compare with the pattern @seed. */
static bool wt_check_data(struct wt_conn *c, const struct wt_region *r,
			  uint64_t off, uint32_t len, uint32_t seed)
{
	uint8_t *want = malloc(len);
	bool good;

	if (!want)
		return false;
	wt_fill(want, len, seed);
	memset(wt_data(c, 1), 0, len);
	good = !wt_rdma(c, IBV_WR_RDMA_READ, 1, len, r->addr + off, r->rkey,
			0) && !memcmp(wt_data(c, 1), want, len);
	free(want);
	return good;
}

static bool wt_write_data(struct wt_conn *c, const struct wt_region *r,
			  uint64_t off, uint32_t len, uint32_t seed)
{
	wt_fill(wt_data(c, 0), len, seed);
	return !wt_rdma(c, IBV_WR_RDMA_WRITE, 0, len, r->addr + off, r->rkey,
			0);
}

static void wt_test_hellos(void)
{
	struct xmem_hello h;
	struct wt_conn c;
	int ret;

	wt_good_hello(&h);
	h.magic = htole32(0x12345678);
	ret = wt_connect(&c, &h);
	if (!ret)
		wt_close(&c);
	tap_ok(ret == EPROTO, "bad magic is rejected with EPROTO (got %d)", ret);

	wt_good_hello(&h);
	h.major = htole16(XMEM_PROTO_MAJOR + 1);
	ret = wt_connect(&c, &h);
	if (!ret)
		wt_close(&c);
	tap_ok(ret == EPROTO, "bad major is rejected with EPROTO (got %d)", ret);

	wt_good_hello(&h);
	h.reserved[1] = htole16(1);
	ret = wt_connect(&c, &h);
	if (!ret)
		wt_close(&c);
	tap_ok(ret == EPROTO, "nonzero reserved hello field is rejected with EPROTO (got %d)",
	       ret);
}

/* Requests that must be refused with an ATTACH_REP status. */
static void wt_test_bad_attach(struct wt_conn *c, const char *name,
			       const char *missing,
			       const struct xmem_msg_stat_rep *st)
{
	struct xmem_msg_attach_req req;
	uint64_t avail, size;
	struct wt_region r;

	wt_attach_req(&req, ++wt_tag, name, WT_REGION_SIZE * 2, 0);
	wt_expect_attach_status(c, &req, EINVAL, "ATTACH with another size");
	wt_attach_req(&req, ++wt_tag, name, WT_REGION_SIZE,
		      XMEM_ATTACH_F_CREATE | XMEM_ATTACH_F_EXCL);
	wt_expect_attach_status(c, &req, EEXIST, "ATTACH CREATE|EXCL of an existing region");
	wt_attach_req(&req, ++wt_tag, missing, WT_REGION_SIZE, 0);
	wt_expect_attach_status(c, &req, ENOENT, "ATTACH of a missing region without CREATE");
	wt_attach_req(&req, ++wt_tag, missing, 0, XMEM_ATTACH_F_CREATE);
	wt_expect_attach_status(c, &req, EINVAL, "ATTACH CREATE with size 0");
	wt_attach_req(&req, ++wt_tag, missing, WT_REGION_SIZE,
		      XMEM_ATTACH_F_EXCL);
	wt_expect_attach_status(c, &req, EINVAL, "ATTACH EXCL without CREATE");
	wt_attach_req(&req, ++wt_tag, missing, WT_REGION_SIZE + 512,
		      XMEM_ATTACH_F_CREATE);
	wt_expect_attach_status(c, &req, EINVAL, "ATTACH size not a multiple of 4096");
	wt_attach_req(&req, ++wt_tag, missing, 0ULL - WT_PAGE,
		      XMEM_ATTACH_F_CREATE);
	wt_expect_attach_status(c, &req, EINVAL, "ATTACH size 2^64-4096 (overflow)");

	avail = le64toh(st->bytes_capacity) - le64toh(st->bytes_allocated);
	size = (avail + WT_PAGE) & ~(WT_PAGE - 1);
	if (size <= WT_REGION_MAX) {
		wt_attach_req(&req, ++wt_tag, missing, size,
			      XMEM_ATTACH_F_CREATE);
		wt_expect_attach_status(c, &req, ENOMEM, "ATTACH larger than the free capacity");
		tap_ok(!wt_attach(c, missing, 0, 0, &r) && r.status == ENOENT,
		       "refused ATTACH created nothing");
	} else {
		tap_ok(true, "# SKIP capacity above 1 TiB");
		tap_ok(true, "# SKIP capacity above 1 TiB");
	}

	/* Names. */
	wt_attach_req(&req, ++wt_tag, "", WT_REGION_SIZE, XMEM_ATTACH_F_CREATE);
	wt_expect_attach_status(c, &req, EINVAL, "empty name");
	wt_attach_req(&req, ++wt_tag, "", WT_REGION_SIZE, XMEM_ATTACH_F_CREATE);
	memset(req.name, 'a', sizeof(req.name));
	wt_expect_attach_status(c, &req, EINVAL, "64-character name without NUL");
	wt_attach_req(&req, ++wt_tag, "a/b", WT_REGION_SIZE, XMEM_ATTACH_F_CREATE);
	wt_expect_attach_status(c, &req, EINVAL, "name 'a/b'");
	wt_attach_req(&req, ++wt_tag, "..", WT_REGION_SIZE, XMEM_ATTACH_F_CREATE);
	wt_expect_attach_status(c, &req, EINVAL, "name '..'");
	wt_attach_req(&req, ++wt_tag, ".", WT_REGION_SIZE, XMEM_ATTACH_F_CREATE);
	wt_expect_attach_status(c, &req, EINVAL, "name '.'");
	wt_attach_req(&req, ++wt_tag, "caf\xc3\xa9", WT_REGION_SIZE,
		      XMEM_ATTACH_F_CREATE);
	wt_expect_attach_status(c, &req, EINVAL, "non-ASCII name");
	wt_attach_req(&req, ++wt_tag, "a b", WT_REGION_SIZE, XMEM_ATTACH_F_CREATE);
	wt_expect_attach_status(c, &req, EINVAL, "name with a space");
	wt_attach_req(&req, ++wt_tag, "ab", WT_REGION_SIZE, XMEM_ATTACH_F_CREATE);
	req.name[10] = 'x';
	wt_expect_attach_status(c, &req, EINVAL, "name not NUL padded");
}

/* Messages that must be refused with an ERROR_REP. */
static void wt_test_bad_messages(struct wt_conn *c, const char *name)
{
	uint8_t raw[WT_MSG_SIZE];
	struct xmem_msg_attach_req req;
	struct xmem_msg_stat_req st;
	struct xmem_msg_hdr *h = (struct xmem_msg_hdr *)raw;
	uint64_t tag;

	memset(raw, 0, sizeof(raw));
	wt_hdr(h, XMEM_MSG_STAT_REQ, 8, 77);
	wt_expect_error(c, raw, 8, 0, EBADMSG, "truncated header (8 bytes)");

	tag = ++wt_tag;
	wt_attach_req(&req, tag, name, WT_REGION_SIZE, 0);
	wt_expect_error(c, &req, 40, tag, EBADMSG, "truncated ATTACH_REQ (len field says 96)");

	tag = ++wt_tag;
	wt_attach_req(&req, tag, name, WT_REGION_SIZE, 0);
	req.hdr.len = htole32(40);
	wt_expect_error(c, &req, 40, tag, EBADMSG, "short ATTACH_REQ with matching len field");

	tag = ++wt_tag;
	wt_attach_req(&req, tag, name, WT_REGION_SIZE, 0);
	req.hdr.len = htole32(4096);
	wt_expect_error(c, &req, sizeof(req), tag, EBADMSG, "len field 4096, oversize");

	tag = ++wt_tag;
	wt_attach_req(&req, tag, name, WT_REGION_SIZE, 0);
	req.hdr.len = htole32(16);
	wt_expect_error(c, &req, sizeof(req), tag, EBADMSG, "len field smaller than the message");

	tag = ++wt_tag;
	memset(raw, 0, sizeof(raw));
	wt_attach_req(&req, tag, name, WT_REGION_SIZE, 0);
	memcpy(raw, &req, sizeof(req));
	h->len = htole32(sizeof(req) + 8);
	wt_expect_error(c, raw, sizeof(req) + 8, tag, EBADMSG, "padded ATTACH_REQ");

	tag = ++wt_tag;
	memset(raw, 0, sizeof(raw));
	wt_hdr(h, XMEM_MSG_ATTACH_REQ, XMEM_MSG_MAX_SIZE + 44, tag);
	wt_expect_error(c, raw, XMEM_MSG_MAX_SIZE + 44, tag, EBADMSG,
			"message longer than XMEM_MSG_MAX_SIZE");

	tag = ++wt_tag;
	memset(raw, 0, sizeof(raw));
	wt_hdr(h, 99, sizeof(*h), tag);
	wt_expect_error(c, raw, sizeof(*h), tag, EOPNOTSUPP, "unknown type 99");

	tag = ++wt_tag;
	wt_hdr(h, 0xffff, sizeof(*h), tag);
	wt_expect_error(c, raw, sizeof(*h), tag, EOPNOTSUPP, "unknown type 0xffff");

	tag = ++wt_tag;
	wt_hdr(h, XMEM_MSG_INVALID, sizeof(*h), tag);
	wt_expect_error(c, raw, sizeof(*h), tag, EBADMSG, "type 0 (INVALID)");

	tag = ++wt_tag;
	memset(raw, 0, sizeof(raw));
	wt_hdr(h, XMEM_MSG_ATTACH_REP, sizeof(struct xmem_msg_attach_rep), tag);
	wt_expect_error(c, raw, sizeof(struct xmem_msg_attach_rep), tag, EBADMSG,
			"a reply type sent as request");

	tag = ++wt_tag;
	wt_attach_req(&req, tag, name, WT_REGION_SIZE, 0);
	req.hdr.flags = htole16(1);
	wt_expect_error(c, &req, sizeof(req), tag, EPROTO, "nonzero header flags");

	tag = ++wt_tag;
	wt_attach_req(&req, tag, name, WT_REGION_SIZE, 0);
	req.flags = htole32(1u << 7);
	wt_expect_error(c, &req, sizeof(req), tag, EPROTO, "unknown ATTACH flag");

	tag = ++wt_tag;
	wt_attach_req(&req, tag, name, WT_REGION_SIZE, 0);
	req.reserved = htole32(1);
	wt_expect_error(c, &req, sizeof(req), tag, EBADMSG, "nonzero ATTACH reserved field");

	tag = ++wt_tag;
	memset(raw, 0, sizeof(raw));
	wt_hdr(h, XMEM_MSG_STAT_REQ, sizeof(st) + 8, tag);
	wt_expect_error(c, raw, sizeof(st) + 8, tag, EBADMSG, "STAT_REQ with extra bytes");

	memset(raw, 0, sizeof(raw));
	wt_expect_error(c, raw, 0, 0, EBADMSG, "empty SEND");
}

/* A full window of requests at once: each answered, with its tag. */
/* ---- protocol 1.1: REGION_REQ ---------------------------------------- */

static void wt_region_req(struct xmem_msg_region_req *req, uint64_t tag,
			  uint16_t op, const char *name, uint64_t size,
			  uint16_t flags)
{
	memset(req, 0, sizeof(*req));
	wt_hdr(&req->hdr, XMEM_MSG_REGION_REQ, sizeof(*req), tag);
	req->op = htole16(op);
	req->flags = htole16(flags);
	req->size = htole64(size);
	if (name)
		memcpy(req->name, name, strnlen(name, sizeof(req->name)));
}

/*
 * Send @req and decode a well-formed REGION_REP into @rep (host order for
 * the fields used here); -1 with a diag otherwise.
 */
static int wt_region_raw(struct wt_conn *c, const struct xmem_msg_region_req *req,
			 struct xmem_msg_region_rep *rep)
{
	struct wt_msg m;
	static const uint8_t zero[sizeof(*rep)];

	if (wt_rpc(c, req, sizeof(*req), &m))
		return -1;
	if (m.len != sizeof(*rep)) {
		tap_diag("reply of %u bytes, want %zu", m.len, sizeof(*rep));
		return -1;
	}
	memcpy(rep, m.data, sizeof(*rep));
	if (le16toh(rep->hdr.type) != XMEM_MSG_REGION_REP || rep->hdr.flags ||
	    le32toh(rep->hdr.len) != sizeof(*rep) ||
	    rep->hdr.tag != req->hdr.tag || rep->reserved) {
		tap_diag("bad REGION_REP header: type %u len %u",
			 le16toh(rep->hdr.type), le32toh(rep->hdr.len));
		return -1;
	}
	if (rep->status &&
	    memcmp(&rep->flags, zero, sizeof(*rep) -
		   offsetof(struct xmem_msg_region_rep, flags))) {
		tap_diag("failed REGION_REP has nonzero fields");
		return -1;
	}
	return 0;
}

static int wt_region(struct wt_conn *c, uint16_t op, const char *name,
		     uint64_t size, uint16_t flags, uint32_t uid,
		     struct xmem_msg_region_rep *rep)
{
	struct xmem_msg_region_req req;

	wt_region_req(&req, ++wt_tag, op, name, size, flags);
	req.uid = htole32(uid);
	req.gid = htole32(uid);
	return wt_region_raw(c, &req, rep);
}

/* Expect REGION_REP with @status for @req. */
static void wt_expect_region_status(struct wt_conn *c,
				    const struct xmem_msg_region_req *req,
				    uint32_t status, const char *desc)
{
	struct xmem_msg_region_rep rep;
	int ret = wt_region_raw(c, req, &rep);

	if (!ret && le32toh(rep.status) != status)
		tap_diag("status %u, want %u", le32toh(rep.status), status);
	tap_ok(!ret && le32toh(rep.status) == status, "%s -> %s", desc,
	       strerror(status));
}

static void wt_test_regions(struct wt_conn *c, struct wt_conn *c2,
			    const char *base)
{
	char name[XMEM_NAME_MAX], other[XMEM_NAME_MAX];
	struct xmem_msg_region_req req;
	struct xmem_msg_region_rep rep, rep2;
	struct xmem_msg_stat_rep st0, st1;
	struct wt_region r;
	uint64_t tag, cursor, addr;
	unsigned int seen = 0, n = 0;
	bool good;

	snprintf(name, sizeof(name), "%.50s-r", base);
	snprintf(other, sizeof(other), "%.50s-o", base);

	/* Create with owner 1000 and mode 0640. */
	wt_region_req(&req, ++wt_tag, XMEM_REGION_OP_ATTACH, name,
		      WT_REGION_SIZE, XMEM_ATTACH_F_CREATE | XMEM_ATTACH_F_EXCL);
	req.uid = htole32(1000);
	req.gid = htole32(100);
	req.mode = htole32(0640);
	good = !wt_region_raw(c, &req, &rep) && !rep.status &&
	       le32toh(rep.flags) == XMEM_REGION_REP_F_CREATED && rep.rkey &&
	       rep.addr && le64toh(rep.size) == WT_REGION_SIZE &&
	       le32toh(rep.uid) == 1000 && le32toh(rep.gid) == 100 &&
	       le32toh(rep.mode) == 0640 && le32toh(rep.users) == 1 &&
	       !strcmp(rep.name, name);
	if (!tap_ok(good, "REGION ATTACH CREATE sets owner, group, mode, users 1"))
		return;
	r.region_id = le64toh(rep.region_id);
	r.addr = le64toh(rep.addr);
	r.rkey = le32toh(rep.rkey);
	r.size = le64toh(rep.size);
	tap_ok(wt_write_data(c, &r, 0, WT_DATA_SIZE, 7) &&
	       wt_check_data(c, &r, 0, WT_DATA_SIZE, 7),
	       "RDMA through the REGION ATTACH key works");

	/* Permissions. */
	good = !wt_region(c2, XMEM_REGION_OP_ATTACH, name, 0, 0, 2000, &rep2) &&
	       le32toh(rep2.status) == EACCES;
	tap_ok(good, "ATTACH by another uid of a 0640 region -> EACCES");
	wt_region_req(&req, ++wt_tag, XMEM_REGION_OP_ATTACH, name, 0, 0);
	req.uid = htole32(2000);
	req.gid = htole32(100);
	good = !wt_region_raw(c2, &req, &rep2) &&
	       le32toh(rep2.status) == EACCES;
	tap_ok(good, "ATTACH by the group of a 0640 region (read only) -> EACCES");
	good = !wt_region(c2, XMEM_REGION_OP_RESIZE, name, 2 * WT_REGION_SIZE,
			  0, 2000, &rep2) && le32toh(rep2.status) == EACCES;
	tap_ok(good, "RESIZE by another uid -> EACCES");
	good = !wt_region(c2, XMEM_REGION_OP_DESTROY, name, 0, 0, 2000,
			  &rep2) && le32toh(rep2.status) == EACCES;
	tap_ok(good, "DESTROY by another uid -> EACCES");
	good = !wt_region(c2, XMEM_REGION_OP_ATTACH, name, 0, 0, 0, &rep2) &&
	       !rep2.status && rep2.region_id == rep.region_id &&
	       le32toh(rep2.users) == 2 && !rep2.flags;
	tap_ok(good, "ATTACH by uid 0 works; users 2");

	/* DESTROY while another connection uses it. */
	good = !wt_region(c, XMEM_REGION_OP_DESTROY, name, 0, 0, 1000, &rep2) &&
	       le32toh(rep2.status) == EBUSY;
	tap_ok(good, "DESTROY while another connection has it -> EBUSY");
	good = !wt_region(c2, XMEM_REGION_OP_DETACH, name, 0, 0, 0, &rep2) &&
	       !rep2.status && le32toh(rep2.users) == 1 && !rep2.addr &&
	       !rep2.rkey;
	tap_ok(good, "DETACH answers users 1 and no key");

	/* INFO and NEXT. */
	good = !wt_region(c2, XMEM_REGION_OP_INFO, name, 0, 0, 4242, &rep2) &&
	       !rep2.status && rep2.region_id == rep.region_id &&
	       !rep2.addr && !rep2.rkey && le32toh(rep2.mode) == 0640;
	tap_ok(good, "INFO describes the region to anyone, without a key");
	cursor = 0;
	good = true;
	while (good && n++ < 100000) {
		wt_region_req(&req, ++wt_tag, XMEM_REGION_OP_NEXT, NULL, 0, 0);
		req.cursor = htole64(cursor);
		good = !wt_region_raw(c, &req, &rep2);
		if (!good || le32toh(rep2.status) == ENOENT)
			break;
		good = !rep2.status && le64toh(rep2.region_id) > cursor &&
		       !rep2.rkey;
		cursor = le64toh(rep2.region_id);
		if (rep2.region_id == rep.region_id)
			seen++;
	}
	tap_ok(good && seen == 1, "NEXT walks every region in id order, ours once");

	/* RESIZE: grow keeps the data; the old key still works. */
	good = !wt_stat(c, &st0);
	good = good && !wt_region(c, XMEM_REGION_OP_RESIZE, name,
				  4 * WT_REGION_SIZE, 0, 1000, &rep2) &&
	       !rep2.status && le64toh(rep2.size) == 4 * WT_REGION_SIZE &&
	       rep2.rkey && rep2.addr;
	good = good && !wt_stat(c, &st1) &&
	       le64toh(st1.bytes_allocated) - le64toh(st0.bytes_allocated) ==
	       3 * WT_REGION_SIZE;
	tap_ok(good, "RESIZE grow by the owner: new size, new key, capacity counted");
	tap_ok(wt_check_data(c, &r, 0, WT_DATA_SIZE, 7),
	       "after a grow the old key still reads the old range");
	addr = le64toh(rep2.addr);
	r.addr = addr;
	r.rkey = le32toh(rep2.rkey);
	r.size = le64toh(rep2.size);
	good = wt_check_data(c, &r, 0, WT_DATA_SIZE, 7) &&
	       wt_write_data(c, &r, r.size - WT_PAGE, WT_PAGE, 8) &&
	       wt_check_data(c, &r, r.size - WT_PAGE, WT_PAGE, 8);
	tap_ok(good, "the new key reads the old data and reaches the new end");

	/* RESIZE: shrink frees memory and keeps the front. */
	good = !wt_region(c, XMEM_REGION_OP_RESIZE, name, WT_REGION_SIZE, 0,
			  1000, &rep2) && !rep2.status &&
	       le64toh(rep2.size) == WT_REGION_SIZE && !wt_stat(c, &st1) &&
	       le64toh(st1.bytes_allocated) == le64toh(st0.bytes_allocated);
	tap_ok(good, "RESIZE shrink gives the memory back");
	r.addr = le64toh(rep2.addr);
	r.rkey = le32toh(rep2.rkey);
	r.size = le64toh(rep2.size);
	tap_ok(wt_check_data(c, &r, 0, WT_DATA_SIZE, 7),
	       "after a shrink the kept range holds the data");
	good = !wt_region(c, XMEM_REGION_OP_RESIZE, name,
			  1ULL << 40, 0, 1000, &rep2) &&
	       le32toh(rep2.status) == ENOMEM;
	tap_ok(good, "RESIZE beyond the capacity -> ENOMEM");

	/* Semantic errors: REGION_REP EINVAL / ENOENT / EEXIST. */
	wt_region_req(&req, ++wt_tag, XMEM_REGION_OP_RESIZE, name, 0, 0);
	wt_expect_region_status(c, &req, EINVAL, "RESIZE to size 0");
	wt_region_req(&req, ++wt_tag, XMEM_REGION_OP_RESIZE, name, 4097, 0);
	wt_expect_region_status(c, &req, EINVAL, "RESIZE to an unaligned size");
	wt_region_req(&req, ++wt_tag, XMEM_REGION_OP_RESIZE, name,
		      WT_REGION_MAX + WT_PAGE, 0);
	wt_expect_region_status(c, &req, EINVAL, "RESIZE beyond 1 TiB");
	wt_region_req(&req, ++wt_tag, XMEM_REGION_OP_DESTROY, name, WT_PAGE, 0);
	wt_expect_region_status(c, &req, EINVAL, "DESTROY with a size");
	wt_region_req(&req, ++wt_tag, XMEM_REGION_OP_INFO, name, 0, 0);
	req.cursor = htole64(1);
	wt_expect_region_status(c, &req, EINVAL, "INFO with a cursor");
	wt_region_req(&req, ++wt_tag, XMEM_REGION_OP_NEXT, name, 0, 0);
	wt_expect_region_status(c, &req, EINVAL, "NEXT with a name");
	wt_region_req(&req, ++wt_tag, XMEM_REGION_OP_INFO, "bad/name", 0, 0);
	wt_expect_region_status(c, &req, EINVAL, "INFO of a bad name");
	wt_region_req(&req, ++wt_tag, XMEM_REGION_OP_INFO, name, 0, 0);
	memset(req.name + strlen(name) + 1, 'x', 2);
	wt_expect_region_status(c, &req, EINVAL, "name with bytes after its NUL");
	wt_region_req(&req, ++wt_tag, XMEM_REGION_OP_ATTACH, other, WT_PAGE,
		      XMEM_ATTACH_F_CREATE);
	req.mode = htole32(01777);
	wt_expect_region_status(c, &req, EINVAL, "mode beyond 0777");
	wt_region_req(&req, ++wt_tag, XMEM_REGION_OP_ATTACH, name, 0, 0);
	req.mode = htole32(0600);
	wt_expect_region_status(c, &req, EINVAL, "mode without CREATE");
	wt_region_req(&req, ++wt_tag, XMEM_REGION_OP_INFO, other, 0, 0);
	wt_expect_region_status(c, &req, ENOENT, "INFO of a missing region");
	wt_region_req(&req, ++wt_tag, XMEM_REGION_OP_ATTACH, name,
		      WT_REGION_SIZE, XMEM_ATTACH_F_CREATE | XMEM_ATTACH_F_EXCL);
	wt_expect_region_status(c, &req, EEXIST, "ATTACH CREATE EXCL of an existing region");

	/* Format errors: ERROR_REP. */
	wt_region_req(&req, tag = ++wt_tag, XMEM_REGION_OP_INFO, name, 0, 0);
	req.reserved = htole64(1);
	wt_expect_error(c, &req, sizeof(req), tag, EBADMSG, "REGION_REQ reserved field not zero");
	wt_region_req(&req, tag = ++wt_tag, XMEM_REGION_OP_MAX, name, 0, 0);
	wt_expect_error(c, &req, sizeof(req), tag, EOPNOTSUPP, "REGION_REQ unknown op");
	wt_region_req(&req, tag = ++wt_tag, XMEM_REGION_OP_INVALID, name, 0, 0);
	wt_expect_error(c, &req, sizeof(req), tag, EOPNOTSUPP, "REGION_REQ op 0");
	wt_region_req(&req, tag = ++wt_tag, XMEM_REGION_OP_INFO, name, 0,
		      XMEM_ATTACH_F_CREATE);
	wt_expect_error(c, &req, sizeof(req), tag, EPROTO, "REGION_REQ flags on INFO");
	wt_region_req(&req, tag = ++wt_tag, XMEM_REGION_OP_ATTACH, name, 0,
		      0x100);
	wt_expect_error(c, &req, sizeof(req), tag, EPROTO, "REGION_REQ unknown ATTACH flag");
	wt_region_req(&req, tag = ++wt_tag, XMEM_REGION_OP_INFO, name, 0, 0);
	req.hdr.len = htole32(sizeof(req) - 8);
	wt_expect_error(c, &req, sizeof(req) - 8, tag, EBADMSG, "short REGION_REQ");
	{
		uint8_t raw[sizeof(req) + 8];

		wt_region_req(&req, tag = ++wt_tag, XMEM_REGION_OP_INFO, name,
			      0, 0);
		memset(raw, 0, sizeof(raw));
		memcpy(raw, &req, sizeof(req));
		((struct xmem_msg_hdr *)raw)->len = htole32(sizeof(raw));
		wt_expect_error(c, raw, sizeof(raw), tag, EBADMSG, "padded REGION_REQ");
	}
	wt_region_req(&req, tag = ++wt_tag, XMEM_REGION_OP_INFO, name, 0, 0);
	req.hdr.type = htole16(XMEM_MSG_REGION_REP);
	wt_expect_error(c, &req, sizeof(req), tag, EBADMSG, "REGION_REP sent as a request");

	/* AUTH against an appliance without a secret (the test bed's). */
	{
		struct xmem_msg_auth_req a;
		struct xmem_msg_auth_rep ar;
		struct wt_msg m;

		memset(&a, 0, sizeof(a));
		wt_hdr(&a.hdr, XMEM_MSG_AUTH_REQ, sizeof(a), tag = ++wt_tag);
		a.step = htole16(1);
		good = !wt_rpc(c, &a, sizeof(a), &m) && m.len == sizeof(ar);
		if (good) {
			memcpy(&ar, m.data, sizeof(ar));
			good = le16toh(ar.hdr.type) == XMEM_MSG_AUTH_REP &&
			       le32toh(ar.status) == EOPNOTSUPP;
		}
		tap_ok(good, "AUTH_REQ to an appliance without a secret -> AUTH_REP EOPNOTSUPP");
		a.reserved[1] = htole16(1);
		a.hdr.tag = htole64(tag = ++wt_tag);
		wt_expect_error(c, &a, sizeof(a), tag, EBADMSG, "AUTH_REQ reserved field not zero");
		a.reserved[1] = 0;
		a.hdr.len = htole32(sizeof(a) - 4);
		a.hdr.tag = htole64(tag = ++wt_tag);
		wt_expect_error(c, &a, sizeof(a) - 4, tag, EBADMSG, "short AUTH_REQ");
	}

	/* DESTROY by the owner, after the other connection detached. */
	good = !wt_stat(c, &st0) &&
	       !wt_region(c, XMEM_REGION_OP_DESTROY, name, 0, 0, 1000, &rep2) &&
	       !rep2.status && !wt_stat(c, &st1) &&
	       le64toh(st0.bytes_allocated) - le64toh(st1.bytes_allocated) ==
	       WT_REGION_SIZE &&
	       le64toh(st0.regions) - le64toh(st1.regions) == 1;
	tap_ok(good, "DESTROY by the owner frees the region");
	good = !wt_region(c, XMEM_REGION_OP_INFO, name, 0, 0, 0, &rep2) &&
	       le32toh(rep2.status) == ENOENT;
	tap_ok(good, "a destroyed region is gone");
	good = !wt_attach(c, name, 0, 0, &r) && r.status == ENOENT;
	tap_ok(good, "ATTACH (protocol 1.0) agrees");
}

static void wt_test_pipeline(struct wt_conn *c)
{
	unsigned int n = c->credits < WT_NRX ? c->credits : WT_NRX;
	struct xmem_msg_stat_req req;
	struct xmem_msg_stat_rep rep;
	uint64_t first = wt_tag + 1;
	bool seen[WT_NRX] = { false };
	bool good = true;
	struct wt_msg m;
	unsigned int i;
	uint64_t tag;

	for (i = 0; i < n && good; i++) {
		memset(&req, 0, sizeof(req));
		wt_hdr(&req.hdr, XMEM_MSG_STAT_REQ, sizeof(req), ++wt_tag);
		good = !wt_send(c, &req, sizeof(req));
	}
	for (i = 0; i < n && good; i++) {
		good = !wt_recv(c, &m) && m.len == sizeof(rep);
		if (!good)
			break;
		memcpy(&rep, m.data, sizeof(rep));
		tag = le64toh(rep.hdr.tag);
		good = le16toh(rep.hdr.type) == XMEM_MSG_STAT_REP &&
		       tag >= first && tag < first + n && !seen[tag - first];
		if (good)
			seen[tag - first] = true;
	}
	tap_ok(good, "%u STAT_REQs in flight at once are all answered", n);
}

/* ---- protocol 1.2: PULL_REQ ------------------------------------------ */

static double wt_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

/*
 * A PULL_REQ of region @name from @addr:@port (resolved here, as the
 * appliance sees it too); -1 if the address does not resolve.
 */
static int wt_pull_req(struct xmem_msg_pull_req *req, uint64_t tag,
		       const char *addr, const char *port, const char *name)
{
	if (wirec_pull_req(req, tag, addr, port, name)) {
		tap_diag("cannot resolve %s port %s", addr, port);
		return -1;
	}
	return 0;
}

/* Decode @m as a well-formed REGION_REP for @tag; -1 with a diag if not. */
static int wt_parse_region_rep(const struct wt_msg *m, uint64_t tag,
			       struct xmem_msg_region_rep *rep)
{
	static const uint8_t zero[sizeof(*rep)];

	if (m->len != sizeof(*rep)) {
		if (m->len == sizeof(struct xmem_msg_error_rep)) {
			struct xmem_msg_error_rep e;

			memcpy(&e, m->data, sizeof(e));
			tap_diag("got ERROR_REP status %u instead of REGION_REP",
				 le32toh(e.status));
		} else {
			tap_diag("reply of %u bytes, want %zu", m->len,
				 sizeof(*rep));
		}
		return -1;
	}
	memcpy(rep, m->data, sizeof(*rep));
	if (le16toh(rep->hdr.type) != XMEM_MSG_REGION_REP || rep->hdr.flags ||
	    le32toh(rep->hdr.len) != sizeof(*rep) ||
	    le64toh(rep->hdr.tag) != tag || rep->reserved) {
		tap_diag("bad REGION_REP header: type %u len %u tag %" PRIu64,
			 le16toh(rep->hdr.type), le32toh(rep->hdr.len),
			 (uint64_t)le64toh(rep->hdr.tag));
		return -1;
	}
	if (rep->status &&
	    memcmp(&rep->flags, zero, sizeof(*rep) -
		   offsetof(struct xmem_msg_region_rep, flags))) {
		tap_diag("failed REGION_REP has nonzero fields");
		return -1;
	}
	return 0;
}

/* Send a PULL_REQ and wait (long enough) for its REGION_REP. */
/* A PULL of @len bytes (a pull_req or a pull_dst_req) and its REGION_REP. */
static int wt_pull_len(struct wt_conn *c, const struct xmem_msg_pull_req *req,
		       uint32_t len, struct xmem_msg_region_rep *rep)
{
	struct wt_msg m;
	int ret;

	wt_timeout_ms = WT_PULL_TIMEOUT_MS;
	ret = wt_rpc(c, req, len, &m);
	wt_timeout_ms = WT_TIMEOUT_MS;
	if (ret)
		return -1;
	return wt_parse_region_rep(&m, le64toh(req->hdr.tag), rep);
}

static int wt_pull_raw(struct wt_conn *c, const struct xmem_msg_pull_req *req,
		       struct xmem_msg_region_rep *rep)
{
	return wt_pull_len(c, req, sizeof(*req), rep);
}

/* A PULL with FILL|DST (minor 7) of @name at the source into @dst. */
static int wt_pull_dst_req(struct xmem_msg_pull_dst_req *req, uint64_t tag,
			   const char *name, const char *dst)
{
	memset(req, 0, sizeof(*req));
	if (wt_pull_req(&req->pull, tag, wt_src_addr, wt_src_port, name))
		return -1;
	req->pull.hdr.len = htole32(sizeof(*req));
	req->pull.flags = htole32(XMEM_PULL_F_FILL | XMEM_PULL_F_DST);
	memcpy(req->dst, dst, strnlen(dst, sizeof(req->dst)));
	return 0;
}

/* Expect a REGION_REP whose status is one of @want[0..@n). */
static void wt_expect_pull_status(struct wt_conn *c,
				  const struct xmem_msg_pull_req *req,
				  const uint32_t *want, unsigned int n,
				  const char *desc)
{
	struct xmem_msg_region_rep rep;
	bool good = !wt_pull_raw(c, req, &rep);
	uint32_t status = le32toh(rep.status);
	unsigned int i;

	for (i = 0; good && i < n; i++)
		if (status == want[i])
			break;
	good = good && i < n;
	if (!good)
		tap_diag("status %u (%s), want %u (%s)%s", status,
			 strerror(status), want[0], strerror(want[0]),
			 n > 1 ? " or another of the list" : "");
	tap_ok(good, "%s -> %s%s", desc, strerror(want[0]),
	       n > 1 ? " (or a like status)" : "");
}

static void wt_expect_pull_one(struct wt_conn *c,
			       const struct xmem_msg_pull_req *req,
			       uint32_t status, const char *desc)
{
	wt_expect_pull_status(c, req, &status, 1, desc);
}

/*
 * Move @len bytes between @buf (registered as @mr on @c) and the region
 * at @raddr: RDMA @opcode in chunks of WT_BULK_CHUNK, WT_BULK_DEPTH of
 * them in flight.  0 or -1.
 */
static int wt_bulk(struct wt_conn *c, enum ibv_wr_opcode opcode,
		   struct ibv_mr *mr, uint8_t *buf, uint64_t len,
		   uint64_t raddr, uint32_t rkey)
{
	unsigned long base = c->rdma_completed, posted = 0;
	struct ibv_send_wr wr, *bad;
	struct ibv_sge sge;
	uint64_t off = 0;
	uint32_t n;

	while (off < len || c->rdma_completed - base < posted) {
		while (off < len &&
		       posted - (c->rdma_completed - base) < WT_BULK_DEPTH) {
			n = len - off < WT_BULK_CHUNK ? len - off : WT_BULK_CHUNK;
			sge = (struct ibv_sge){
				.addr = (uintptr_t)buf + off,
				.length = n,
				.lkey = mr->lkey,
			};
			wr = (struct ibv_send_wr){
				.wr_id = WT_WR_RDMA,
				.sg_list = &sge,
				.num_sge = 1,
				.opcode = opcode,
				.send_flags = IBV_SEND_SIGNALED,
				.wr.rdma.remote_addr = raddr + off,
				.wr.rdma.rkey = rkey,
			};
			if (c->broken || ibv_post_send(c->w.id->qp, &wr, &bad)) {
				tap_diag("ibv_post_send (bulk) failed");
				return -1;
			}
			posted++;
			off += n;
		}
		c->rdma_done = false;
		if (wt_poll_until(c, wt_have_rdma))
			return -1;
	}
	return 0;
}

/* Requests a target refuses before it talks to any source. */
static void wt_test_pull_refusals(struct wt_conn *c, const char *base,
				  const char *missing)
{
	static const uint32_t unreachable[] = {
		ECONNREFUSED, EHOSTUNREACH, ETIMEDOUT,
	};
	struct xmem_msg_stat_rep st0, st1;
	struct xmem_msg_region_rep rep;
	struct xmem_msg_pull_req req;
	uint64_t tag;
	bool good;

	/* Format errors: ERROR_REP. */
	wt_pull_req(&req, tag = ++wt_tag, wt_addr, "1", missing);
	req.flags = htole32(0x80000000u);
	wt_expect_error(c, &req, sizeof(req), tag, EPROTO, "PULL_REQ unknown flag");
	wt_pull_req(&req, tag = ++wt_tag, wt_addr, "1", missing);
	req.reserved2 = htole64(1ULL << 40);
	wt_expect_error(c, &req, sizeof(req), tag, EBADMSG, "PULL_REQ reserved2 field not zero");
	wt_pull_req(&req, tag = ++wt_tag, wt_addr, "1", missing);
	req.hdr.len = htole32(sizeof(req) - 8);
	wt_expect_error(c, &req, sizeof(req) - 8, tag, EBADMSG, "short PULL_REQ");
	{
		uint8_t raw[sizeof(req) + 8];

		wt_pull_req(&req, tag = ++wt_tag, wt_addr, "1", missing);
		memset(raw, 0, sizeof(raw));
		memcpy(raw, &req, sizeof(req));
		((struct xmem_msg_hdr *)raw)->len = htole32(sizeof(raw));
		wt_expect_error(c, raw, sizeof(raw), tag, EBADMSG, "padded PULL_REQ");
	}
	wt_pull_req(&req, tag = ++wt_tag, wt_addr, "1", missing);
	req.hdr.flags = htole16(1);
	wt_expect_error(c, &req, sizeof(req), tag, EPROTO, "PULL_REQ header flags");

	/* Bad requests: REGION_REP EINVAL, and nothing happens. */
	good = !wt_stat(c, &st0);
	wt_pull_req(&req, ++wt_tag, wt_addr, "1", missing);
	req.family = 0;
	wt_expect_pull_one(c, &req, EINVAL, "PULL family 0");
	wt_pull_req(&req, ++wt_tag, wt_addr, "1", missing);
	req.family = htole16(1);	/* AF_UNIX */
	wt_expect_pull_one(c, &req, EINVAL, "PULL family 1 (AF_UNIX)");
	wt_pull_req(&req, ++wt_tag, wt_addr, "1", missing);
	req.port = 0;
	wt_expect_pull_one(c, &req, EINVAL, "PULL port 0");
	wt_pull_req(&req, ++wt_tag, "10.77.0.1", "7471", missing);
	req.addr[9] = 1;
	wt_expect_pull_one(c, &req, EINVAL, "PULL IPv4 address with bytes after the first 4");
	wt_pull_req(&req, ++wt_tag, "0.0.0.0", "7471", missing);
	wt_expect_pull_one(c, &req, EINVAL, "PULL from 0.0.0.0");
	wt_pull_req(&req, ++wt_tag, "224.0.0.1", "7471", missing);
	wt_expect_pull_one(c, &req, EINVAL, "PULL from a multicast address");
	wt_pull_req(&req, ++wt_tag, "::", "7471", missing);
	wt_expect_pull_one(c, &req, EINVAL, "PULL from ::");
	wt_pull_req(&req, ++wt_tag, wt_addr, "1", "");
	wt_expect_pull_one(c, &req, EINVAL, "PULL of an empty name");
	wt_pull_req(&req, ++wt_tag, wt_addr, "1", "a/b");
	wt_expect_pull_one(c, &req, EINVAL, "PULL of name 'a/b'");
	wt_pull_req(&req, ++wt_tag, wt_addr, "1", "..");
	wt_expect_pull_one(c, &req, EINVAL, "PULL of name '..'");
	wt_pull_req(&req, ++wt_tag, wt_addr, "1", missing);
	req.name[XMEM_NAME_MAX - 1] = 'x';
	wt_expect_pull_one(c, &req, EINVAL, "PULL of a name not NUL padded");
	wt_pull_req(&req, ++wt_tag, wt_addr, wt_port, missing);
	wt_expect_pull_one(c, &req, EINVAL, "PULL whose source is the target itself");
	wt_pull_req(&req, ++wt_tag, "127.0.0.1", wt_port, missing);
	wt_expect_pull_one(c, &req, EINVAL, "PULL whose source is the target at 127.0.0.1");

	/* A name the target has. */
	wt_pull_req(&req, ++wt_tag, wt_addr, "1", base);
	wt_expect_pull_one(c, &req, EEXIST, "PULL of a name the target has");

	/* Sources that are not there. */
	wt_pull_req(&req, ++wt_tag, wt_addr, "1", missing);
	wt_expect_pull_status(c, &req, unreachable, 3,
			      "PULL from a port nobody serves");
	wt_pull_req(&req, ++wt_tag, "192.0.2.1", "7471", missing);
	wt_expect_pull_status(c, &req, unreachable, 3,
			      "PULL from an unreachable address (TEST-NET-1)");

	good = good && !wt_stat(c, &st1) && st1.regions == st0.regions &&
	       st1.bytes_allocated == st0.bytes_allocated &&
	       !wt_region(c, XMEM_REGION_OP_INFO, missing, 0, 0, 0, &rep) &&
	       le32toh(rep.status) == ENOENT;
	tap_ok(good, "refused PULLs leave nothing behind on the target");
}

/* Number of tests wt_test_pull_copy() prints, for the skip lines. */
#define WT_PULL_COPY_TESTS	22

/* Real pulls from the appliance at --pull-source into the target. */
static void wt_test_pull_copy(struct wt_conn *c, const char *base)
{
	char name[XMEM_NAME_MAX], missing[XMEM_NAME_MAX], name2[XMEM_NAME_MAX];
	struct xmem_msg_region_rep rep, rep2, rs, rd;
	struct xmem_msg_stat_rep st0, st1;
	struct xmem_msg_pull_dst_req dreq;
	struct xmem_msg_pull_req req;
	struct xmem_msg_region_req rreq;
	struct xmem_msg_stat_req sreq;
	struct ibv_mr *smr = NULL, *tmr = NULL;
	uint8_t *pattern = NULL, *back = NULL;
	unsigned int ntests = tap_n;
	uint64_t ptag, stag, ctag;
	double t0, tpull = 0, tread = 0;
	struct wt_region r;
	struct xmem_hello h;
	struct wt_conn sc;
	struct wt_msg m1, m2, m3;
	bool good;

	if (!wt_src_addr)
		goto skip;
	snprintf(name, sizeof(name), "%.50s-p", base);
	snprintf(missing, sizeof(missing), "%.50s-pm", base);
	wt_good_hello(&h);
	if (!tap_ok(!wt_connect_to(&sc, &h, wt_src_addr, wt_src_port),
		    "connect to the pull source %s:%s", wt_src_addr,
		    wt_src_port))
		goto skip;

	/* A source that the target must refuse for authentication. */
	if (wt_nsrc_addr) {
		wt_pull_req(&req, ++wt_tag, wt_nsrc_addr, wt_nsrc_port, name);
		wt_expect_pull_one(c, &req, EACCES,
				   "PULL from a source whose authentication does not match ours");
	}

	/* A missing region at the source. */
	good = !wt_stat(c, &st0);
	wt_pull_req(&req, ++wt_tag, wt_src_addr, wt_src_port, missing);
	wt_expect_pull_one(c, &req, ENOENT, "PULL of a region the source does not have");

	/* The source region: owner 1234:567, mode 0640, a pattern in it. */
	wt_region_req(&rreq, ++wt_tag, XMEM_REGION_OP_ATTACH, name, WT_PULL_SIZE,
		      XMEM_ATTACH_F_CREATE | XMEM_ATTACH_F_EXCL);
	rreq.uid = htole32(1234);
	rreq.gid = htole32(567);
	rreq.mode = htole32(0640);
	good = good && !wt_region_raw(&sc, &rreq, &rs) && !rs.status &&
	       rs.rkey;
	pattern = aligned_alloc(WT_PAGE, WT_PULL_SIZE);
	back = aligned_alloc(WT_PAGE, WT_PULL_SIZE);
	if (pattern && back) {
		wt_fill(pattern, WT_PULL_SIZE, 11);
		memset(back, 0, WT_PULL_SIZE);
		smr = ibv_reg_mr(sc.w.pd, pattern, WT_PULL_SIZE,
				 IBV_ACCESS_LOCAL_WRITE);
		tmr = ibv_reg_mr(c->w.pd, back, WT_PULL_SIZE,
				 IBV_ACCESS_LOCAL_WRITE);
	}
	good = good && smr && tmr &&
	       !wt_bulk(&sc, IBV_WR_RDMA_WRITE, smr, pattern, WT_PULL_SIZE,
			le64toh(rs.addr), le32toh(rs.rkey));
	if (!tap_ok(good, "a %llu MiB region with owner 1234:567, mode 0640 and a pattern at the source",
		    WT_PULL_SIZE >> 20))
		goto out;

	/*
	 * The pull, and right behind it on the same connection a STAT and
	 * a CREATE of the same name: both are answered while the copy runs,
	 * the CREATE with EBUSY.
	 */
	wt_pull_req(&req, ptag = ++wt_tag, wt_src_addr, wt_src_port, name);
	memset(&sreq, 0, sizeof(sreq));
	wt_hdr(&sreq.hdr, XMEM_MSG_STAT_REQ, sizeof(sreq), stag = ++wt_tag);
	wt_region_req(&rreq, ctag = ++wt_tag, XMEM_REGION_OP_ATTACH, name,
		      WT_PAGE, XMEM_ATTACH_F_CREATE);
	t0 = wt_now();
	wt_timeout_ms = WT_PULL_TIMEOUT_MS;
	good = !wt_send(c, &req, sizeof(req)) &&
	       !wt_send(c, &sreq, sizeof(sreq)) &&
	       !wt_send(c, &rreq, sizeof(rreq)) && !wt_recv(c, &m1) &&
	       !wt_recv(c, &m3) && !wt_recv(c, &m2);
	wt_timeout_ms = WT_TIMEOUT_MS;
	tpull = wt_now() - t0;
	tap_ok(good && m1.len == sizeof(st1) &&
	       le64toh(((struct xmem_msg_hdr *)m1.data)->tag) == stag,
	       "a STAT sent after the PULL is answered before it (xmemd serves during the copy)");
	tap_ok(good && !wt_parse_region_rep(&m3, ctag, &rep) &&
	       le32toh(rep.status) == EBUSY,
	       "a CREATE of the name being pulled in -> EBUSY, answered during the copy");
	good = good && !wt_parse_region_rep(&m2, ptag, &rep);
	good = good && !rep.status &&
	       le32toh(rep.flags) == XMEM_REGION_REP_F_CREATED &&
	       rep.region_id && rep.addr && rep.rkey &&
	       le64toh(rep.size) == WT_PULL_SIZE && le32toh(rep.uid) == 1234 &&
	       le32toh(rep.gid) == 567 && le32toh(rep.mode) == 0640 &&
	       le32toh(rep.users) == 1 && !strcmp(rep.name, name);
	if (!tap_ok(good, "PULL answers CREATED with the size, owner, group and mode of the source's region")) {
		tap_diag("status %u flags 0x%x size %" PRIu64 " owner %u:%u mode %o users %u",
			 le32toh(rep.status), le32toh(rep.flags),
			 (uint64_t)le64toh(rep.size), le32toh(rep.uid),
			 le32toh(rep.gid), le32toh(rep.mode),
			 le32toh(rep.users));
		goto out;
	}

	t0 = wt_now();
	good = !wt_bulk(c, IBV_WR_RDMA_READ, tmr, back, WT_PULL_SIZE,
			le64toh(rep.addr), le32toh(rep.rkey));
	tread = wt_now() - t0;
	tap_ok(good && !memcmp(back, pattern, WT_PULL_SIZE),
	       "the copy on the target equals the source byte for byte (%llu MiB)",
	       WT_PULL_SIZE >> 20);
	tap_diag("pull of %llu MiB: %.2f s (%.1f MiB/s, request to answer); RDMA READ of it from the target by this client: %.2f s (%.1f MiB/s)",
		 WT_PULL_SIZE >> 20, tpull, (WT_PULL_SIZE >> 20) / tpull,
		 tread, (WT_PULL_SIZE >> 20) / (tread > 0 ? tread : 1e-9));

	good = !wt_stat(c, &st1) &&
	       le64toh(st1.regions) == le64toh(st0.regions) + 1 &&
	       le64toh(st1.bytes_allocated) ==
	       le64toh(st0.bytes_allocated) + WT_PULL_SIZE &&
	       !wt_region(c, XMEM_REGION_OP_INFO, name, 0, 0, 0, &rep2) &&
	       !rep2.status && rep2.region_id == rep.region_id &&
	       le32toh(rep2.users) == 1;
	tap_ok(good, "the target counts the new region, attached once (to the requester)");

	r.addr = le64toh(rs.addr);
	r.rkey = le32toh(rs.rkey);
	good = !wt_region(&sc, XMEM_REGION_OP_INFO, name, 0, 0, 0, &rep2) &&
	       !rep2.status && rep2.region_id == rs.region_id &&
	       le32toh(rep2.users) == 1 &&
	       wt_check_data(&sc, &r, 0, WT_DATA_SIZE, 11);
	tap_ok(good, "the source keeps its region and data; the target detached (users 1)");

	wt_pull_req(&req, ++wt_tag, wt_src_addr, wt_src_port, name);
	wt_expect_pull_one(c, &req, EEXIST, "PULL again of the region the target now has");

	/* Attach of the copy by a user the mode lets in, and one it does not. */
	good = !wt_region(c, XMEM_REGION_OP_ATTACH, name, 0, 0, 1234, &rep2) &&
	       !rep2.status && rep2.region_id == rep.region_id;
	tap_ok(good, "the owner (1234) attaches the copy");
	good = !wt_region(c, XMEM_REGION_OP_ATTACH, name, 0, 0, 999, &rep2) &&
	       le32toh(rep2.status) == EACCES;
	tap_ok(good, "another user (999) may not (mode 0640 carried over)");

	/* FILL: new data at the source, pulled into the existing copy. */
	wt_fill(pattern, WT_PULL_SIZE, 12);
	good = !wt_bulk(&sc, IBV_WR_RDMA_WRITE, smr, pattern, WT_PULL_SIZE,
			le64toh(rs.addr), le32toh(rs.rkey));
	wt_pull_req(&req, ptag = ++wt_tag, wt_src_addr, wt_src_port, name);
	req.flags = htole32(XMEM_PULL_F_FILL);
	good = good && !wt_pull_raw(c, &req, &rep2) && !rep2.status &&
	       !rep2.flags && rep2.region_id == rep.region_id &&
	       rep2.addr && rep2.rkey;
	tap_ok(good, "PULL with FILL into the existing copy: status 0, same region, not CREATED");
	memset(back, 0, WT_PULL_SIZE);
	good = good && !wt_bulk(c, IBV_WR_RDMA_READ, tmr, back, WT_PULL_SIZE,
				le64toh(rep2.addr), le32toh(rep2.rkey)) &&
	       !memcmp(back, pattern, WT_PULL_SIZE);
	tap_ok(good, "the filled region equals the source's new content byte for byte");

	/* FILL|DST (minor 7): into a region of another name on the target. */
	snprintf(name2, sizeof(name2), "%.50s-pd", base);
	wt_fill(pattern, WT_PULL_SIZE, 13);
	good = !wt_bulk(&sc, IBV_WR_RDMA_WRITE, smr, pattern, WT_PULL_SIZE,
			le64toh(rs.addr), le32toh(rs.rkey));
	wt_pull_dst_req(&dreq, ++wt_tag, name, name2);
	good = good && !wt_pull_len(c, &dreq.pull, sizeof(dreq), &rep2) &&
	       le32toh(rep2.status) == ENOENT;
	tap_ok(good, "PULL with DST into a region the target does not have -> ENOENT");
	good = !wt_region(c, XMEM_REGION_OP_ATTACH, name2, WT_PULL_SIZE / 2,
			  XMEM_ATTACH_F_CREATE, 0, &rd) && !rd.status;
	wt_pull_dst_req(&dreq, ++wt_tag, name, name2);
	good = good && !wt_pull_len(c, &dreq.pull, sizeof(dreq), &rep2) &&
	       le32toh(rep2.status) == EINVAL;
	tap_ok(good, "PULL with DST into a smaller region -> EINVAL");
	good = !wt_region(c, XMEM_REGION_OP_DESTROY, name2, 0, 0, 0, &rd) &&
	       !rd.status &&
	       !wt_region(c, XMEM_REGION_OP_ATTACH, name2, 2 * WT_PULL_SIZE,
			  XMEM_ATTACH_F_CREATE, 0, &rd) && !rd.status;
	wt_pull_dst_req(&dreq, ++wt_tag, name, name2);
	good = good && !wt_pull_len(c, &dreq.pull, sizeof(dreq), &rep2) &&
	       !rep2.status && !rep2.flags && rep2.region_id == rd.region_id &&
	       !strcmp(rep2.name, name2) && rep2.addr && rep2.rkey;
	tap_ok(good, "PULL with DST fills the target's region of another name: status 0, not CREATED");
	memset(back, 0, WT_PULL_SIZE);
	good = good && !wt_bulk(c, IBV_WR_RDMA_READ, tmr, back, WT_PULL_SIZE,
				le64toh(rep2.addr), le32toh(rep2.rkey)) &&
	       !memcmp(back, pattern, WT_PULL_SIZE);
	tap_ok(good, "the region of the other name equals the source byte for byte");
	good = !wt_region(c, XMEM_REGION_OP_INFO, name, 0, 0, 0, &rd) &&
	       !rd.status && rd.region_id == rep.region_id;
	memset(back, 0, WT_PULL_SIZE);
	good = good && !wt_bulk(c, IBV_WR_RDMA_READ, tmr, back, WT_PULL_SIZE,
				le64toh(rep.addr), le32toh(rep.rkey)) &&
	       memcmp(back, pattern, WT_PULL_SIZE);
	tap_ok(good, "the target's region of the source's name is not touched by it");
	wt_pull_dst_req(&dreq, ++wt_tag, name, name2);
	dreq.pull.flags = htole32(XMEM_PULL_F_DST);
	good = !wt_pull_len(c, &dreq.pull, sizeof(dreq), &rep2) &&
	       le32toh(rep2.status) == EINVAL;
	tap_ok(good, "PULL with DST but without FILL -> EINVAL");
	wt_pull_dst_req(&dreq, ++wt_tag, name, name2);
	wt_expect_error(c, &dreq, sizeof(dreq.pull), wt_tag, EBADMSG,
			"PULL with DST of a pull_req's length");
	good = !wt_region(c, XMEM_REGION_OP_DESTROY, name2, 0, 0, 0, &rd) &&
	       !rd.status;

	good = good &&
	       !wt_region(c, XMEM_REGION_OP_DESTROY, name, 0, 0, 0, &rep2) &&
	       !rep2.status &&
	       !wt_region(&sc, XMEM_REGION_OP_DESTROY, name, 0, 0, 0, &rep2) &&
	       !rep2.status;
	tap_ok(good, "DESTROY of the copy and of the original");

out:
	if (smr)
		ibv_dereg_mr(smr);
	if (tmr)
		ibv_dereg_mr(tmr);
	free(pattern);
	free(back);
	wt_close(&sc);
skip:
	while (tap_n - ntests < WT_PULL_COPY_TESTS)
		tap_ok(true, "# SKIP real PULL: %s", wt_src_addr ?
		       "an earlier step failed" : "no --pull-source");
}

/* ---- protocol 1.4: COPY_REQ ------------------------------------------ */

static void wt_copy_req(struct xmem_msg_copy_req *req, uint64_t tag,
			const char *src, const char *dst, uint32_t flags,
			uint32_t uid)
{
	memset(req, 0, sizeof(*req));
	wt_hdr(&req->hdr, XMEM_MSG_COPY_REQ, sizeof(*req), tag);
	req->flags = htole32(flags);
	req->uid = htole32(uid);
	req->gid = htole32(uid);
	memcpy(req->src, src, strnlen(src, sizeof(req->src)));
	memcpy(req->dst, dst, strnlen(dst, sizeof(req->dst)));
}

/* A COPY_REQ and its REGION_REP; 0, or -1 with a diag. */
static int wt_copy(struct wt_conn *c, const char *src, const char *dst,
		   uint32_t flags, uint32_t uid,
		   struct xmem_msg_region_rep *rep)
{
	struct xmem_msg_copy_req req;
	struct wt_msg m;
	int ret;

	wt_copy_req(&req, ++wt_tag, src, dst, flags, uid);
	wt_timeout_ms = WT_PULL_TIMEOUT_MS;
	ret = wt_rpc(c, &req, sizeof(req), &m);
	wt_timeout_ms = WT_TIMEOUT_MS;
	if (ret)
		return -1;
	return wt_parse_region_rep(&m, le64toh(req.hdr.tag), rep);
}

#define WT_COPY_SIZE	(1024 * 1024)

/*
 * COPY: a region into a new one and into an existing larger one, on the
 * appliance; the refusals; the data at both ends of the copies.
 */
static void wt_test_copy(struct wt_conn *c, const char *base)
{
	char a[XMEM_NAME_MAX], b[XMEM_NAME_MAX], big[XMEM_NAME_MAX];
	char small[XMEM_NAME_MAX], none[XMEM_NAME_MAX];
	struct xmem_msg_region_rep ra, rb, rep;
	struct xmem_msg_copy_req req;
	struct wt_region r;
	uint64_t tag;
	bool good;

	snprintf(a, sizeof(a), "%.50s-ca", base);
	snprintf(b, sizeof(b), "%.50s-cb", base);
	snprintf(big, sizeof(big), "%.50s-cbig", base);
	snprintf(small, sizeof(small), "%.50s-csm", base);
	snprintf(none, sizeof(none), "%.50s-cno", base);

	/* Source: owner 1234, mode 0640, data at both ends. */
	{
		struct xmem_msg_region_req rq;

		wt_region_req(&rq, ++wt_tag, XMEM_REGION_OP_ATTACH, a,
			      WT_COPY_SIZE, XMEM_ATTACH_F_CREATE |
			      XMEM_ATTACH_F_EXCL);
		rq.uid = htole32(1234);
		rq.gid = htole32(1234);
		rq.mode = htole32(0640);
		good = !wt_region_raw(c, &rq, &ra) && !ra.status;
	}
	r.addr = le64toh(ra.addr);
	r.rkey = le32toh(ra.rkey);
	good = good && wt_write_data(c, &r, 0, WT_DATA_SIZE, 31) &&
	       wt_write_data(c, &r, WT_COPY_SIZE - WT_DATA_SIZE, WT_DATA_SIZE,
			     32);
	if (!tap_ok(good, "a 1 MiB source region with data at both ends"))
		return;

	good = !wt_copy(c, a, b, XMEM_COPY_F_CREATE | XMEM_COPY_F_EXCL, 1234,
			&rep) && !rep.status &&
	       le32toh(rep.flags) == XMEM_REGION_REP_F_CREATED &&
	       !rep.addr && !rep.rkey && le64toh(rep.size) == WT_COPY_SIZE &&
	       le32toh(rep.uid) == 1234 && !le32toh(rep.users) &&
	       !strcmp(rep.name, b);
	tap_ok(good, "COPY into a new region: CREATED, source's size, the requester owns it, not attached");
	good = !wt_region(c, XMEM_REGION_OP_ATTACH, b, 0, 0, 0, &rb) &&
	       !rb.status;
	r.addr = le64toh(rb.addr);
	r.rkey = le32toh(rb.rkey);
	good = good && wt_check_data(c, &r, 0, WT_DATA_SIZE, 31) &&
	       wt_check_data(c, &r, WT_COPY_SIZE - WT_DATA_SIZE,
			     WT_DATA_SIZE, 32);
	tap_ok(good, "the new region holds the source's bytes");

	good = !wt_region(c, XMEM_REGION_OP_ATTACH, big, 2 * WT_COPY_SIZE,
			  XMEM_ATTACH_F_CREATE | XMEM_ATTACH_F_EXCL, 0, &rb) &&
	       !rb.status;
	r.addr = le64toh(rb.addr);
	r.rkey = le32toh(rb.rkey);
	good = good && wt_write_data(c, &r, WT_COPY_SIZE, WT_DATA_SIZE, 33);
	good = good && !wt_copy(c, a, big, 0, 0, &rep) && !rep.status &&
	       !rep.flags && le64toh(rep.size) == 2 * WT_COPY_SIZE;
	good = good && wt_check_data(c, &r, 0, WT_DATA_SIZE, 31) &&
	       wt_check_data(c, &r, WT_COPY_SIZE - WT_DATA_SIZE,
			     WT_DATA_SIZE, 32) &&
	       wt_check_data(c, &r, WT_COPY_SIZE, WT_DATA_SIZE, 33);
	tap_ok(good, "COPY into an existing larger region: its start is the source's, the rest kept");

	good = !wt_copy(c, a, b, XMEM_COPY_F_CREATE | XMEM_COPY_F_EXCL, 0,
			&rep) && le32toh(rep.status) == EEXIST;
	tap_ok(good, "COPY with CREATE|EXCL onto an existing region -> EEXIST");
	good = !wt_copy(c, none, b, 0, 0, &rep) &&
	       le32toh(rep.status) == ENOENT &&
	       !wt_copy(c, a, none, 0, 0, &rep) &&
	       le32toh(rep.status) == ENOENT;
	tap_ok(good, "COPY of a missing region, or into one without CREATE -> ENOENT");
	good = !wt_region(c, XMEM_REGION_OP_ATTACH, small, WT_COPY_SIZE / 2,
			  XMEM_ATTACH_F_CREATE | XMEM_ATTACH_F_EXCL, 0, &rep) &&
	       !rep.status && !wt_copy(c, a, small, 0, 0, &rep) &&
	       le32toh(rep.status) == EINVAL &&
	       !wt_copy(c, a, a, XMEM_COPY_F_CREATE, 0, &rep) &&
	       le32toh(rep.status) == EINVAL;
	tap_ok(good, "COPY into a smaller region, or onto itself -> EINVAL");
	good = !wt_copy(c, a, none, XMEM_COPY_F_CREATE, 999, &rep) &&
	       le32toh(rep.status) == EACCES &&
	       !wt_region(c, XMEM_REGION_OP_INFO, none, 0, 0, 0, &rep) &&
	       le32toh(rep.status) == ENOENT;
	tap_ok(good, "COPY by a user the source's mode shuts out -> EACCES, nothing created");
	wt_copy_req(&req, tag = ++wt_tag, a, none, 0x100, 0);
	wt_expect_error(c, &req, sizeof(req), tag, EPROTO, "COPY_REQ unknown flag");
	wt_copy_req(&req, tag = ++wt_tag, a, none, 0, 0);
	req.reserved = htole64(1);
	wt_expect_error(c, &req, sizeof(req), tag, EBADMSG, "COPY_REQ reserved field not zero");

	good = !wt_region(c, XMEM_REGION_OP_DESTROY, a, 0, 0, 0, &rep) &&
	       !rep.status &&
	       !wt_region(c, XMEM_REGION_OP_DESTROY, b, 0, 0, 0, &rep) &&
	       !rep.status &&
	       !wt_region(c, XMEM_REGION_OP_DESTROY, big, 0, 0, 0, &rep) &&
	       !rep.status &&
	       !wt_region(c, XMEM_REGION_OP_DESTROY, small, 0, 0, 0, &rep) &&
	       !rep.status;
	tap_ok(good, "DESTROY of the copies and the source");
}

/* ---- a copy whose source goes away mid-way ------------------------- */

/* --break: the target's --debug-hold file and the source's pid file. */
static const char *wt_hold_file;
static const char *wt_src_pidfile;

/* Run @cmd on the target's host (ssh to ADDR); 0 or -1 with a diag. */
static int wt_on_target(const char *cmd)
{
	char line[1024];
	int ret;

	snprintf(line, sizeof(line),
		 "ssh -o BatchMode=yes -o ConnectTimeout=20 '%s' '%s' </dev/null",
		 wt_addr, cmd);
	ret = system(line);
	if (ret)
		tap_diag("%s: status %d", line, ret);
	return ret ? -1 : 0;
}

static int wt_hold(bool on)
{
	char cmd[512];

	snprintf(cmd, sizeof(cmd), on ? "touch %s" : "rm -f %s",
		 wt_hold_file);
	return wt_on_target(cmd);
}

/*
 * Send a PULL of @name from the source into @c's daemon (held by
 * --debug-hold) and wait until the pull has it attached at the source,
 * where @sc counts it (users 2).  The pull's worker attaches it, then
 * waits for the hold file: the state polled, no time decides.  Returns
 * the PULL's tag, 0 on failure (with a diag).
 */
static uint64_t wt_held_pull(struct wt_conn *c, struct wt_conn *sc,
			     const char *name)
{
	struct xmem_msg_region_rep rep;
	struct xmem_msg_pull_req req;
	uint64_t tag = ++wt_tag;
	int i;

	wt_pull_req(&req, tag, wt_src_addr, wt_src_port, name);
	if (wt_send(c, &req, sizeof(req)))
		return 0;
	for (i = 0; i < 3000; i++) {
		if (wt_region(sc, XMEM_REGION_OP_INFO, name, 0, 0, 0, &rep) ||
		    rep.status)
			break;
		if (le32toh(rep.users) == 2)
			return tag;
		usleep(10000);
	}
	tap_diag("the held PULL of %s never showed at the source", name);
	return 0;
}

#define WT_BREAK_SIZE	(8ULL << 20)	/* two COPY chunks */
#define WT_BREAK_TESTS	8

/*
 * A copy whose source goes away mid-way, made reliable by the target's
 * --debug-hold (a COPY stops after its first chunk, a PULL before its
 * first READ, while the hold file exists), no timing involved:
 *  - COPY, then DESTROY of its source while it is held: EBUSY, the copy
 *    completes and equals the source, the source is untouched;
 *  - PULL, then DESTROY of its source at the source while it is held:
 *    EBUSY there (the pull has it attached), the pull completes;
 *  - PULL, then the source xmemd killed (SIGKILL) while it is held: the
 *    PULL fails with an error, no region of that name is left on the
 *    target and its capacity is as before; the target goes on serving.
 */
static void wt_test_break(struct wt_conn *c, const char *base)
{
	char a[XMEM_NAME_MAX], a2[XMEM_NAME_MAX], p[XMEM_NAME_MAX];
	struct xmem_msg_region_rep ra, rs, rep;
	struct xmem_msg_region_req rreq;
	struct xmem_msg_copy_req creq;
	struct xmem_msg_stat_rep st0, st1;
	unsigned int ntests = tap_n;
	uint64_t ctag, dtag, ptag;
	struct wt_region r;
	struct xmem_hello h;
	struct wt_conn sc;
	struct wt_msg m1, m2;
	char cmd[512];
	bool good;

	snprintf(a, sizeof(a), "%.50s-ba", base);
	snprintf(a2, sizeof(a2), "%.50s-bb", base);
	snprintf(p, sizeof(p), "%.50s-bp", base);
	wt_good_hello(&h);
	if (!tap_ok(!wt_connect_to(&sc, &h, wt_src_addr, wt_src_port),
		    "connect to the source %s:%s", wt_src_addr, wt_src_port))
		goto skip;

	/* 1. COPY on the target, its source destroyed mid-way. */
	good = !wt_region(c, XMEM_REGION_OP_ATTACH, a, WT_BREAK_SIZE,
			  XMEM_ATTACH_F_CREATE | XMEM_ATTACH_F_EXCL, 0, &ra) &&
	       !ra.status;
	r.addr = le64toh(ra.addr);
	r.rkey = le32toh(ra.rkey);
	good = good && wt_write_data(c, &r, 0, WT_DATA_SIZE, 41) &&
	       wt_write_data(c, &r, WT_BREAK_SIZE - WT_DATA_SIZE,
			     WT_DATA_SIZE, 42) && !wt_hold(true);
	wt_copy_req(&creq, ctag = ++wt_tag, a, a2,
		    XMEM_COPY_F_CREATE | XMEM_COPY_F_EXCL, 0);
	wt_region_req(&rreq, dtag = ++wt_tag, XMEM_REGION_OP_DESTROY, a, 0, 0);
	wt_timeout_ms = WT_PULL_TIMEOUT_MS;
	/* In order: the COPY has made its source busy before the DESTROY. */
	good = good && !wt_send(c, &creq, sizeof(creq)) &&
	       !wt_send(c, &rreq, sizeof(rreq)) && !wt_recv(c, &m1) &&
	       !wt_parse_region_rep(&m1, dtag, &rep) &&
	       le32toh(rep.status) == EBUSY;
	tap_ok(good, "DESTROY of a COPY's source while the copy is held mid-way -> EBUSY");
	good = good && !wt_hold(false) && !wt_recv(c, &m2) &&
	       !wt_parse_region_rep(&m2, ctag, &rep) && !rep.status &&
	       le32toh(rep.flags) == XMEM_REGION_REP_F_CREATED;
	wt_timeout_ms = WT_TIMEOUT_MS;
	tap_ok(good, "the COPY completes once released (CREATED)");
	good = good && wt_check_data(c, &r, 0, WT_DATA_SIZE, 41) &&
	       wt_check_data(c, &r, WT_BREAK_SIZE - WT_DATA_SIZE,
			     WT_DATA_SIZE, 42) &&
	       !wt_region(c, XMEM_REGION_OP_ATTACH, a2, 0, 0, 0, &rep) &&
	       !rep.status;
	r.addr = le64toh(rep.addr);
	r.rkey = le32toh(rep.rkey);
	good = good && wt_check_data(c, &r, 0, WT_DATA_SIZE, 41) &&
	       wt_check_data(c, &r, WT_BREAK_SIZE - WT_DATA_SIZE,
			     WT_DATA_SIZE, 42) &&
	       !wt_region(c, XMEM_REGION_OP_DESTROY, a2, 0, 0, 0, &rep) &&
	       !rep.status &&
	       !wt_region(c, XMEM_REGION_OP_DESTROY, a, 0, 0, 0, &rep) &&
	       !rep.status;
	tap_ok(good, "the source is untouched and the copy equals it at both ends");

	/* 2. PULL, its source region destroyed at the source mid-way. */
	good = !wt_region(&sc, XMEM_REGION_OP_ATTACH, p, WT_BREAK_SIZE,
			  XMEM_ATTACH_F_CREATE | XMEM_ATTACH_F_EXCL, 0, &rs) &&
	       !rs.status;
	r.addr = le64toh(rs.addr);
	r.rkey = le32toh(rs.rkey);
	good = good && wt_write_data(&sc, &r, 0, WT_DATA_SIZE, 43) &&
	       !wt_stat(c, &st0) && !wt_hold(true);
	good = good && (ptag = wt_held_pull(c, &sc, p)) &&
	       !wt_region(&sc, XMEM_REGION_OP_DESTROY, p, 0, 0, 0, &rep) &&
	       le32toh(rep.status) == EBUSY;
	tap_ok(good, "DESTROY at the source of a region a held PULL has attached -> EBUSY");
	wt_timeout_ms = WT_PULL_TIMEOUT_MS;
	good = good && !wt_hold(false) && !wt_recv(c, &m1) &&
	       !wt_parse_region_rep(&m1, ptag, &rep) && !rep.status;
	wt_timeout_ms = WT_TIMEOUT_MS;
	good = good && !wt_region(c, XMEM_REGION_OP_DESTROY, p, 0, 0, 0,
				  &rep) && !rep.status;
	tap_ok(good, "the PULL completes once released; its copy destroyed again");

	/* 3. PULL, the source xmemd killed mid-way. */
	good = !wt_hold(true) && (ptag = wt_held_pull(c, &sc, p));
	snprintf(cmd, sizeof(cmd), "kill -9 $(cat %s)", wt_src_pidfile);
	good = good && !wt_on_target(cmd) &&
	       !wt_hold(false);
	wt_timeout_ms = WT_PULL_TIMEOUT_MS;
	good = good && !wt_recv(c, &m1) &&
	       !wt_parse_region_rep(&m1, ptag, &rep) && rep.status;
	wt_timeout_ms = WT_TIMEOUT_MS;
	tap_ok(good, "a PULL whose source xmemd is killed mid-way fails: %s",
	       good ? strerror(le32toh(rep.status)) : "(no error)");
	good = good && !wt_region(c, XMEM_REGION_OP_INFO, p, 0, 0, 0, &rep) &&
	       le32toh(rep.status) == ENOENT && !wt_stat(c, &st1) &&
	       st1.regions == st0.regions &&
	       st1.bytes_allocated == st0.bytes_allocated;
	tap_ok(good, "no region of that name is left on the target, its usage as before");
	wt_close(&sc);
	wt_hold(false);
	return;
skip:
	wt_hold(false);
	while (tap_n - ntests < WT_BREAK_TESTS)
		tap_ok(false, "source going away mid-way: no source");
}

/* ---- protocol 1.8: temporary copies (XMEM_COPY_F_TEMP) ---------------- */

#define WT_TEMP_FLAGS	(XMEM_COPY_F_CREATE | XMEM_COPY_F_EXCL | \
			 XMEM_COPY_F_TEMP)
/* Bound of every wait for the appliance to act on its own. */
#define WT_TEMP_WAIT_S	20

/*
 * Poll INFO of @name on @c (every 100 ms, WT_TEMP_WAIT_S at most) until
 * its status is @status and, with status 0, it has @users connections.
 * 0 when it did, -1 with a diag when it did not in time.
 */
static int wt_wait_info(struct wt_conn *c, const char *name, uint32_t status,
			uint32_t users)
{
	double deadline = wt_now() + WT_TEMP_WAIT_S;
	struct xmem_msg_region_rep rep;

	do {
		if (wt_region(c, XMEM_REGION_OP_INFO, name, 0, 0, 0, &rep))
			return -1;
		if (le32toh(rep.status) == status &&
		    (status || le32toh(rep.users) == users))
			return 0;
		usleep(100000);
	} while (wt_now() < deadline);
	tap_diag("%s: INFO still answers status %u users %u after %d s, want status %u users %u",
		 name, le32toh(rep.status), le32toh(rep.users), WT_TEMP_WAIT_S,
		 status, users);
	return -1;
}

/* A source region @name of WT_REGION_SIZE with data at its start. */
static bool wt_temp_source(struct wt_conn *c, const char *name)
{
	struct xmem_msg_region_rep rep;
	struct wt_region r;

	if (wt_region(c, XMEM_REGION_OP_ATTACH, name, WT_REGION_SIZE,
		      XMEM_ATTACH_F_CREATE | XMEM_ATTACH_F_EXCL, 0, &rep) ||
	    rep.status)
		return false;
	r.addr = le64toh(rep.addr);
	r.rkey = le32toh(rep.rkey);
	return wt_write_data(c, &r, 0, WT_DATA_SIZE, 51);
}

/*
 * Temporary copies against an appliance whose grace is long (the test
 * bed's, XMEM_TEMP_GRACE_SEC): made, attached, detached and gone at once;
 * refused without CREATE and EXCL and from a client of minor 7; kept when
 * a connection attaches it again after its connection ended; untouched
 * by the DETACH of a connection that does not have it; destroyed by a
 * DESTROY as any region.
 */
static void wt_test_temp(struct wt_conn *c, const char *base)
{
	char a[XMEM_NAME_MAX], t[XMEM_NAME_MAX];
	struct xmem_msg_region_rep rep, rt;
	struct xmem_msg_stat_rep st0, st1;
	struct xmem_msg_copy_req req;
	struct wt_conn c2, c3;
	struct xmem_hello h;
	struct wt_region r;
	uint64_t tag;
	bool good;

	snprintf(a, sizeof(a), "%.50s-tsrc", base);
	snprintf(t, sizeof(t), "%.50s-tmp", base);
	memset(&c3, 0, sizeof(c3));
	if (!tap_ok(wt_temp_source(c, a), "a source region for the temporary copies"))
		return;

	good = !wt_stat(c, &st0) &&
	       !wt_copy(c, a, t, WT_TEMP_FLAGS, 0, &rt) && !rt.status &&
	       le32toh(rt.flags) == XMEM_REGION_REP_F_CREATED &&
	       !le32toh(rt.users) && !strcmp(rt.name, t);
	tap_ok(good, "COPY with TEMP|CREATE|EXCL makes a new region, not attached");
	good = !wt_region(c, XMEM_REGION_OP_ATTACH, t, 0, 0, 0, &rep) &&
	       !rep.status && rep.region_id == rt.region_id &&
	       le32toh(rep.users) == 1;
	r.addr = le64toh(rep.addr);
	r.rkey = le32toh(rep.rkey);
	good = good && wt_check_data(c, &r, 0, WT_DATA_SIZE, 51);
	tap_ok(good, "the requester attaches the temporary copy; it holds the source's bytes");
	good = !wt_region(c, XMEM_REGION_OP_DETACH, t, 0, 0, 0, &rep) &&
	       !rep.status && !le32toh(rep.users) &&
	       !wt_region(c, XMEM_REGION_OP_INFO, t, 0, 0, 0, &rep) &&
	       le32toh(rep.status) == ENOENT;
	tap_ok(good, "its DETACH by the last connection destroys it at once (INFO: ENOENT)");
	good = !wt_stat(c, &st1) && st1.regions == st0.regions &&
	       st1.bytes_allocated == st0.bytes_allocated;
	tap_ok(good, "its memory is given back (STAT as before the copy)");

	good = !wt_copy(c, a, t, XMEM_COPY_F_TEMP, 0, &rep) &&
	       le32toh(rep.status) == EINVAL &&
	       !wt_copy(c, a, t, XMEM_COPY_F_TEMP | XMEM_COPY_F_CREATE, 0,
			&rep) && le32toh(rep.status) == EINVAL &&
	       !wt_copy(c, a, t, XMEM_COPY_F_TEMP | XMEM_COPY_F_EXCL, 0,
			&rep) && le32toh(rep.status) == EINVAL &&
	       !wt_region(c, XMEM_REGION_OP_INFO, t, 0, 0, 0, &rep) &&
	       le32toh(rep.status) == ENOENT;
	tap_ok(good, "COPY with TEMP without CREATE or without EXCL -> EINVAL, nothing made");

	/* A client of protocol 1.7 cannot know the flag. */
	wt_good_hello(&h);
	h.minor = htole16(7);
	if (tap_ok(!wt_connect(&c2, &h), "a client announcing protocol 1.7 is accepted")) {
		wt_copy_req(&req, tag = ++wt_tag, a, t, WT_TEMP_FLAGS, 0);
		wt_expect_error(&c2, &req, sizeof(req), tag, EPROTO,
				"COPY with TEMP from a client of protocol 1.7");
		good = !wt_copy(&c2, a, t, XMEM_COPY_F_CREATE |
				XMEM_COPY_F_EXCL, 0, &rep) && !rep.status &&
		       !wt_region(&c2, XMEM_REGION_OP_DESTROY, t, 0, 0, 0,
				  &rep) && !rep.status;
		tap_ok(good, "that client's COPY without TEMP works as before");
		wt_close(&c2);
	} else {
		tap_ok(false, "COPY with TEMP from a client of protocol 1.7: no connection");
		tap_ok(false, "that client's COPY without TEMP: no connection");
	}

	/*
	 * Its connection ends: kept for the grace (a minute), and another
	 * connection that attaches it meanwhile keeps it.
	 */
	wt_good_hello(&h);
	good = !wt_connect(&c2, &h) &&
	       !wt_copy(&c2, a, t, WT_TEMP_FLAGS, 0, &rt) && !rt.status &&
	       !wt_region(&c2, XMEM_REGION_OP_ATTACH, t, 0, 0, 0, &rep) &&
	       !rep.status;
	wt_close(&c2);
	good = good && !wt_wait_info(c, t, 0, 0);
	tap_ok(good, "the end of the only connection that had it leaves it there, attached by none");
	good = good && !wt_connect(&c3, &h) &&
	       !wt_region(&c3, XMEM_REGION_OP_ATTACH, t, 0, 0, 0, &rep) &&
	       !rep.status && rep.region_id == rt.region_id;
	r.addr = le64toh(rep.addr);
	r.rkey = le32toh(rep.rkey);
	good = good && wt_check_data(&c3, &r, 0, WT_DATA_SIZE, 51);
	tap_ok(good, "a new connection attaches it within the grace: the same region, the same data");
	good = good &&
	       !wt_region(&c3, XMEM_REGION_OP_DETACH, t, 0, 0, 0, &rep) &&
	       !rep.status &&
	       !wt_region(c, XMEM_REGION_OP_INFO, t, 0, 0, 0, &rep) &&
	       le32toh(rep.status) == ENOENT;
	tap_ok(good, "its DETACH there destroys it");
	if (c3.w.id)
		wt_close(&c3);

	/* A DETACH of a connection that does not have it changes nothing. */
	good = !wt_copy(c, a, t, WT_TEMP_FLAGS, 0, &rt) && !rt.status &&
	       !wt_region(c, XMEM_REGION_OP_DETACH, t, 0, 0, 0, &rep) &&
	       !rep.status &&
	       !wt_region(c, XMEM_REGION_OP_INFO, t, 0, 0, 0, &rep) &&
	       !rep.status && rep.region_id == rt.region_id;
	tap_ok(good, "a DETACH by a connection that never attached it leaves it alone");
	good = !wt_region(c, XMEM_REGION_OP_DESTROY, t, 0, 0, 0, &rep) &&
	       !rep.status &&
	       !wt_region(c, XMEM_REGION_OP_INFO, t, 0, 0, 0, &rep) &&
	       le32toh(rep.status) == ENOENT;
	tap_ok(good, "DESTROY of a temporary region works as for any region");

	good = !wt_region(c, XMEM_REGION_OP_DESTROY, a, 0, 0, 0, &rep) &&
	       !rep.status;
	tap_ok(good, "DESTROY of the source");
}

/* --temp: the appliance's --dir and the command that restarts it. */
static const char *wt_temp_dir, *wt_temp_restart;

/* Restart the appliance with SIGTERM or SIGKILL (@sig); 0 or -1. */
static int wt_temp_restart_xmemd(const char *sig)
{
	char cmd[1024];
	int ret;

	snprintf(cmd, sizeof(cmd), "XMEM_SIGNAL=%s %s", sig,
		 wt_temp_restart);
	ret = system(cmd);
	if (ret)
		tap_diag("%s: status %d", cmd, ret);
	return ret ? -1 : 0;
}

/*
 * The files of region @name in the appliance's --dir: exist (@there) or
 * not, and with @there, NAME.meta says "temp yes".
 */
static bool wt_temp_files(const char *name, bool there)
{
	char cmd[512];

	if (there)
		snprintf(cmd, sizeof(cmd),
			 "test -f %s/%s.region && grep -qx \"temp yes\" %s/%s.meta",
			 wt_temp_dir, name, wt_temp_dir, name);
	else
		snprintf(cmd, sizeof(cmd),
			 "! test -e %s/%s.region && ! test -e %s/%s.meta",
			 wt_temp_dir, name, wt_temp_dir, name);
	return !wt_on_target(cmd);
}

/*
 * Against an appliance with a short --temp-grace (2 s) and --dir, which
 * --temp's command restarts: a temporary copy nobody attaches goes after
 * the grace, not before; one that another connection has attached stays
 * when its own connection ends, past the grace, and goes after the grace
 * once that other connection ends too; one attached when the appliance
 * is killed, or stopped, is not there after the restart, nor its files.
 * Every wait is bounded; a sleep only lets the grace pass where nothing
 * must happen.
 */
static void wt_test_temp_grace(const char *base)
{
	char a[XMEM_NAME_MAX], t[XMEM_NAME_MAX], cmd[768];
	struct xmem_msg_region_rep rep, rt;
	struct wt_conn c, ca, cb;
	struct xmem_hello h;
	double t0, secs;
	bool good;
	int i;

	snprintf(a, sizeof(a), "%.50s-gsrc", base);
	memset(&ca, 0, sizeof(ca));
	memset(&cb, 0, sizeof(cb));
	wt_good_hello(&h);
	if (!tap_ok(!wt_connect(&c, &h), "connect to the appliance with --temp-grace 2"))
		return;
	if (!tap_ok(wt_temp_source(&c, a), "a source region"))
		goto out;

	/* Never attached: gone after the grace, counted from the answer. */
	snprintf(t, sizeof(t), "%.50s-g1", base);
	t0 = wt_now();
	good = !wt_copy(&c, a, t, WT_TEMP_FLAGS, 0, &rt) && !rt.status &&
	       !wt_wait_info(&c, t, ENOENT, 0);
	secs = wt_now() - t0;
	tap_ok(good && secs >= 1.5,
	       "a temporary copy nobody attaches is gone after the grace (%.1f s, want 2 s at least)",
	       secs);

	/* A and B have it; A ends: kept; B ends: gone after the grace. */
	snprintf(t, sizeof(t), "%.50s-g2", base);
	good = !wt_connect(&ca, &h) && !wt_connect(&cb, &h) &&
	       !wt_copy(&ca, a, t, WT_TEMP_FLAGS, 0, &rt) && !rt.status &&
	       !wt_region(&ca, XMEM_REGION_OP_ATTACH, t, 0, 0, 0, &rep) &&
	       !rep.status &&
	       !wt_region(&cb, XMEM_REGION_OP_ATTACH, t, 0, 0, 0, &rep) &&
	       !rep.status && le32toh(rep.users) == 2;
	tap_ok(good, "connections A and B attach a temporary copy A made");
	if (ca.w.id)
		wt_close(&ca);
	good = good && !wt_wait_info(&c, t, 0, 1);
	tap_ok(good, "A ends: the region stays, B has it");
	/* Nothing must happen now: let the grace pass, watching. */
	for (i = 0; good && i < 30; i++) {
		good = !wt_region(&c, XMEM_REGION_OP_INFO, t, 0, 0, 0, &rep) &&
		       !rep.status && le32toh(rep.users) == 1;
		usleep(100000);
	}
	tap_ok(good, "it is still there a grace and more (3 s) after A ended");
	if (cb.w.id)
		wt_close(&cb);
	good = good && !wt_wait_info(&c, t, ENOENT, 0);
	tap_ok(good, "B ends too: the region is gone after the grace");

	/* Killed (SIGKILL) while it is attached: not loaded again. */
	snprintf(t, sizeof(t), "%.50s-g3", base);
	good = !wt_copy(&c, a, t, WT_TEMP_FLAGS, 0, &rt) && !rt.status &&
	       !wt_region(&c, XMEM_REGION_OP_ATTACH, t, 0, 0, 0, &rep) &&
	       !rep.status && wt_temp_files(t, true);
	tap_ok(good, "an attached temporary copy: its NAME.meta says \"temp yes\"");
	good = good && !wt_temp_restart_xmemd("KILL");
	c.broken = true;
	wt_close(&c);
	good = good && !wt_connect(&c, &h);
	good = good && !wt_region(&c, XMEM_REGION_OP_INFO, t, 0, 0, 0, &rep) &&
	       le32toh(rep.status) == ENOENT && wt_temp_files(t, false);
	tap_ok(good, "after a kill and a restart it is gone, and its files");
	/* wt_on_target() quotes with ': any character for those around NAME. */
	snprintf(cmd, sizeof(cmd),
		 "grep -q \".%s.: temporary, not kept across a restart\" /var/log/xmemd-%s.log",
		 t, wt_port);
	good = good && !wt_on_target(cmd) &&
	       !wt_region(&c, XMEM_REGION_OP_INFO, a, 0, 0, 0, &rep) &&
	       !rep.status;
	tap_ok(good, "the restart logs that it removed it; the source region is loaded again");

	/* Stopped (SIGTERM) while it is attached: its files go at the stop. */
	snprintf(t, sizeof(t), "%.50s-g4", base);
	good = good && !wt_copy(&c, a, t, WT_TEMP_FLAGS, 0, &rt) &&
	       !rt.status &&
	       !wt_region(&c, XMEM_REGION_OP_ATTACH, t, 0, 0, 0, &rep) &&
	       !rep.status && !wt_temp_restart_xmemd("TERM");
	c.broken = true;
	wt_close(&c);
	good = good && !wt_connect(&c, &h);
	/* Not "not kept across a restart": the stop removed its files. */
	snprintf(cmd, sizeof(cmd),
		 "! grep -q \"%s.: temporary\" /var/log/xmemd-%s.log", t,
		 wt_port);
	good = good && !wt_region(&c, XMEM_REGION_OP_INFO, t, 0, 0, 0, &rep) &&
	       le32toh(rep.status) == ENOENT && wt_temp_files(t, false) &&
	       !wt_on_target(cmd);
	tap_ok(good, "a clean stop destroys an attached temporary copy and its files (the next start finds none)");

	good = c.w.id && !wt_region(&c, XMEM_REGION_OP_DESTROY, a, 0, 0, 0,
				    &rep) && !rep.status;
	tap_ok(good, "DESTROY of the source");
out:
	if (c.w.id)
		wt_close(&c);
}

/* ---- protocol 1.9: SOLE and READ attachments ------------------------- */

/*
 * ATTACH of @name with @flags as uid 0, and @token in @reserved (the
 * hold's token of a SOLE, protocol 1.9); the REGION_REP's status, or -1.
 */
static int wt_attach_tok(struct wt_conn *c, const char *name, uint64_t size,
			 uint16_t flags, uint64_t token,
			 struct xmem_msg_region_rep *rep)
{
	struct xmem_msg_region_req req;

	wt_region_req(&req, ++wt_tag, XMEM_REGION_OP_ATTACH, name, size,
		      flags);
	req.reserved = htole64(token);
	if (wt_region_raw(c, &req, rep))
		return -1;
	return (int)le32toh(rep->status);
}

/*
 * The token a SOLE of @c names its holds with when the test does not
 * choose one: each struct wt_conn its own (its address), never 0.
 */
static uint64_t wt_token(const struct wt_conn *c)
{
	return (uint64_t)(uintptr_t)c | 1;
}

/* wt_attach_tok() with @c's own token for a SOLE, else none. */
static int wt_attach_st(struct wt_conn *c, const char *name, uint64_t size,
			uint16_t flags, struct xmem_msg_region_rep *rep)
{
	return wt_attach_tok(c, name, size, flags,
			     flags & XMEM_ATTACH_F_SOLE ? wt_token(c) : 0, rep);
}

/*
 * xmemd's default --sole-grace (3 * XMEM_SOLE_LEASE_SEC), which the
 * appliance of the wire section runs with: a hold stays that long after
 * its holder's connection ended.
 */
#define WT_SOLE_GRACE_S		12

/*
 * ATTACH of @name by @c, tried every 100 ms for @secs at most until it
 * is not refused with EBUSY.  The last status, or -1.
 */
static int wt_attach_wait(struct wt_conn *c, const char *name, int secs,
			  struct xmem_msg_region_rep *rep)
{
	double deadline = wt_now() + secs;
	int st;

	do {
		st = wt_attach_st(c, name, 0, 0, rep);
		if (st != EBUSY)
			return st;
		usleep(100000);
	} while (wt_now() < deadline);
	tap_diag("%s: ATTACH still EBUSY after %d s", name, secs);
	return st;
}

static struct wt_region wt_region_of(const struct xmem_msg_region_rep *rep)
{
	return (struct wt_region){
		.region_id = le64toh(rep->region_id),
		.size = le64toh(rep->size),
		.addr = le64toh(rep->addr),
		.rkey = le32toh(rep->rkey),
	};
}

/*
 * xmemd --status of the appliance on wt_port has a line "sole region N
 * 'NAME': @what..." (@what: "held by conn" or "holder gone"), or with
 * @what NULL none for @name.
 */
static bool wt_status_sole(const char *name, const char *what)
{
	char cmd[512];

	snprintf(cmd, sizeof(cmd),
		 "/xmem/bin/xmemd -p %s --status >/tmp/xmem-wire-status && %sgrep -q \"^sole region [0-9]* .%s.: %s\" /tmp/xmem-wire-status",
		 wt_port, what ? "" : "! ", name, what ? what : "");
	return !wt_on_target(cmd);
}

/*
 * wt_status_sole() with @what, tried every 200 ms for 10 s at most: the
 * appliance learns of the end of a connection on its own time.
 */
static bool wt_status_sole_wait(const char *name, const char *what)
{
	double deadline = wt_now() + 10;

	while (!wt_status_sole(name, what)) {
		if (wt_now() >= deadline)
			return false;
		usleep(200000);
	}
	return true;
}

/*
 * Holds: A creates a region with SOLE; B's ATTACH, RESIZE, COPY and PULL
 * into it are refused (EBUSY) while B's ATTACH with READ works and gives
 * a key that reads and does not write; A's DETACH ends the hold.  SOLE is
 * refused while B has it attached; a SOLE of A's own attachment makes a
 * hold; A's DETACH ends it at once, though A's connection ends right
 * after.  READ with CREATE or SOLE is
 * EINVAL; both flags are unknown to a client of protocol 1.8.
 */
static void wt_test_sole(struct wt_conn *c, const char *base)
{
	char s[XMEM_NAME_MAX], src[XMEM_NAME_MAX], nx[XMEM_NAME_MAX];
	struct xmem_msg_region_rep rep, rs;
	struct xmem_msg_pull_dst_req dreq;
	struct xmem_msg_attach_req areq;
	struct xmem_msg_region_req req;
	struct wt_conn ca, cb, cd;
	struct wt_region ra, rb;
	struct xmem_hello h;
	uint64_t tag;
	bool good;

	snprintf(s, sizeof(s), "%.50s-sole", base);
	snprintf(src, sizeof(src), "%.50s-ssrc", base);
	snprintf(nx, sizeof(nx), "%.50s-snone", base);
	memset(&ca, 0, sizeof(ca));
	memset(&cb, 0, sizeof(cb));
	memset(&cd, 0, sizeof(cd));
	wt_good_hello(&h);
	if (!tap_ok(!wt_connect(&ca, &h) && !wt_connect(&cb, &h),
		    "connections A and B for the holds"))
		goto out;

	good = !wt_attach_st(&ca, s, WT_REGION_SIZE, XMEM_ATTACH_F_CREATE |
			     XMEM_ATTACH_F_EXCL | XMEM_ATTACH_F_SOLE, &rep) &&
	       le32toh(rep.flags) == XMEM_REGION_REP_F_CREATED && rep.rkey;
	ra = wt_region_of(&rep);
	good = good && wt_write_data(&ca, &ra, 0, WT_DATA_SIZE, 61);
	if (!tap_ok(good, "A creates a region with SOLE and writes to it"))
		goto out;
	tap_ok(wt_status_sole(s, "held by conn"), "xmemd --status lists it as held (sole region ... held by conn)");
	tap_ok(wt_attach_st(&cb, s, 0, 0, &rep) == EBUSY,
	       "B's ATTACH of A's held region -> EBUSY");
	tap_ok(wt_attach_st(&cb, s, 0, XMEM_ATTACH_F_SOLE, &rep) == EBUSY,
	       "B's ATTACH with SOLE of it -> EBUSY");
	good = !wt_attach_st(&cb, s, 0, XMEM_ATTACH_F_READ, &rep) &&
	       le32toh(rep.users) == 2;
	rb = wt_region_of(&rep);
	good = good && wt_check_data(&cb, &rb, 0, WT_DATA_SIZE, 61);
	tap_ok(good, "B's ATTACH with READ works beside the holder; RDMA READ with its key returns A's data");

	/* A WRITE with a READ key: the QP goes to error, so a throwaway one. */
	good = !wt_connect(&cd, &h) &&
	       !wt_attach_st(&cd, s, 0, XMEM_ATTACH_F_READ, &rep);
	if (good) {
		struct wt_region rd = wt_region_of(&rep);

		wt_fill(wt_data(&cd, 0), WT_PAGE, 62);
		good = wt_rdma(&cd, IBV_WR_RDMA_WRITE, 0, WT_PAGE, rd.addr,
			       rd.rkey, 0) && cd.broken;
	}
	wt_close(&cd);
	good = good && wt_check_data(&cb, &rb, 0, WT_DATA_SIZE, 61);
	tap_ok(good, "an RDMA WRITE with a READ attachment's key fails; the data is unchanged");

	wt_region_req(&req, ++wt_tag, XMEM_REGION_OP_RESIZE, s,
		      2 * WT_REGION_SIZE, 0);
	wt_expect_region_status(&cb, &req, EBUSY, "B's RESIZE of A's held region");
	good = !wt_attach_st(&cb, src, WT_PAGE, XMEM_ATTACH_F_CREATE |
			     XMEM_ATTACH_F_EXCL, &rep) &&
	       !wt_copy(&cb, src, s, 0, 0, &rep) &&
	       le32toh(rep.status) == EBUSY;
	tap_ok(good, "B's COPY into A's held region -> EBUSY");
	good = !wt_copy(&ca, src, s, 0, 0, &rep) && !rep.status;
	tap_ok(good, "the holder's own COPY into it works");
	good = good && wt_write_data(&ca, &ra, 0, WT_DATA_SIZE, 61);
	if (wt_src_addr) {
		wt_pull_dst_req(&dreq, ++wt_tag, nx, s);
		good = !wt_pull_len(&cb, &dreq.pull, sizeof(dreq), &rep) &&
		       le32toh(rep.status) == EBUSY;
		tap_ok(good, "B's PULL with FILL|DST into A's held region -> EBUSY");
	} else {
		tap_ok(true, "# SKIP PULL into a held region: no --pull-source");
	}
	wt_region_req(&req, ++wt_tag, XMEM_REGION_OP_DESTROY, s, 0, 0);
	wt_expect_region_status(&cb, &req, EBUSY, "B's DESTROY of A's held region");

	good = !wt_region(&ca, XMEM_REGION_OP_DETACH, s, 0, 0, 0, &rep) &&
	       !rep.status && !wt_attach_st(&cb, s, 0, 0, &rep);
	rb = wt_region_of(&rep);
	good = good && wt_write_data(&cb, &rb, 0, WT_DATA_SIZE, 63) &&
	       wt_check_data(&cb, &rb, 0, WT_DATA_SIZE, 63);
	tap_ok(good, "A's DETACH ends the hold: B's ATTACH works, its new key writes");
	tap_ok(wt_status_sole(s, NULL), "xmemd --status no longer lists it as held");

	/* B has it attached, for writing: no hold for A. */
	tap_ok(wt_attach_st(&ca, s, 0, XMEM_ATTACH_F_SOLE, &rep) == EBUSY,
	       "A's SOLE while B has it attached -> EBUSY");
	good = !wt_region(&cb, XMEM_REGION_OP_DETACH, s, 0, 0, 0, &rep) &&
	       !rep.status &&
	       !wt_attach_st(&cb, s, 0, XMEM_ATTACH_F_READ, &rep) &&
	       !wt_attach_st(&ca, s, 0, 0, &rep) &&
	       !wt_attach_st(&ca, s, 0, XMEM_ATTACH_F_SOLE, &rep) &&
	       le32toh(rep.users) == 2;
	tap_ok(good, "B attached with READ only: A's plain ATTACH, then its SOLE, work");
	tap_ok(wt_attach_st(&cb, s, 0, 0, &rep) == EBUSY,
	       "the SOLE of A's own attachment is a hold: B's ATTACH -> EBUSY");

	/*
	 * A DETACH gives the hold up: no grace, though A's connection ends
	 * right after (wt_test_sole_grace() has the end without DETACH).
	 */
	good = !wt_region(&ca, XMEM_REGION_OP_DETACH, s, 0, 0, 0, &rep) &&
	       !rep.status;
	wt_close(&ca);
	good = good && !wt_attach_st(&cb, s, 0, 0, &rep);
	tap_ok(good, "A DETACHes, its connection ends: B's ATTACH works at once (no grace)");
	good = good && !wt_attach_st(&cb, s, 0, XMEM_ATTACH_F_SOLE, &rep) &&
	       le32toh(rep.users) == 1;
	tap_ok(good, "SOLE of B's own attachment, nobody else attached");

	/* READ with CREATE or SOLE. */
	wt_region_req(&req, ++wt_tag, XMEM_REGION_OP_ATTACH, nx, WT_PAGE,
		      XMEM_ATTACH_F_CREATE | XMEM_ATTACH_F_READ);
	wt_expect_region_status(&cb, &req, EINVAL, "ATTACH with READ|CREATE");
	tap_ok(!wt_region(&cb, XMEM_REGION_OP_INFO, nx, 0, 0, 0, &rep) &&
	       le32toh(rep.status) == ENOENT, "... made nothing");
	wt_region_req(&req, ++wt_tag, XMEM_REGION_OP_ATTACH, s, 0,
		      XMEM_ATTACH_F_SOLE | XMEM_ATTACH_F_READ);
	req.reserved = htole64(wt_token(&cb));
	wt_expect_region_status(&cb, &req, EINVAL, "ATTACH with READ|SOLE");
	wt_attach_req(&areq, ++wt_tag, s, 0,
		      XMEM_ATTACH_F_SOLE | XMEM_ATTACH_F_READ);
	wt_expect_attach_status(&cb, &areq, EINVAL, "ATTACH_REQ with READ|SOLE");
	wt_attach_req(&areq, ++wt_tag, s, 0, XMEM_ATTACH_F_READ);
	wt_expect_attach_status(c, &areq, 0, "ATTACH_REQ with READ beside the holder");
	wt_attach_req(&areq, ++wt_tag, s, 0, 0);
	wt_expect_attach_status(c, &areq, EBUSY, "ATTACH_REQ without READ of a held region");
	tap_ok(!wt_region(c, XMEM_REGION_OP_DETACH, s, 0, 0, 0, &rep) &&
	       !rep.status, "DETACH of that READ attachment");

	/* A client of protocol 1.8 does not know the flags. */
	h.minor = htole16(8);
	if (tap_ok(!wt_connect(&cd, &h), "a client announcing protocol 1.8 is accepted")) {
		wt_region_req(&req, tag = ++wt_tag, XMEM_REGION_OP_ATTACH, s,
			      0, XMEM_ATTACH_F_SOLE);
		wt_expect_error(&cd, &req, sizeof(req), tag, EPROTO,
				"REGION ATTACH with SOLE from a client of protocol 1.8");
		wt_region_req(&req, tag = ++wt_tag, XMEM_REGION_OP_ATTACH, s,
			      0, XMEM_ATTACH_F_READ);
		wt_expect_error(&cd, &req, sizeof(req), tag, EPROTO,
				"REGION ATTACH with READ from a client of protocol 1.8");
		wt_attach_req(&areq, tag = ++wt_tag, s, 0, XMEM_ATTACH_F_SOLE);
		wt_expect_error(&cd, &areq, sizeof(areq), tag, EPROTO,
				"ATTACH_REQ with SOLE from a client of protocol 1.8");
		wt_close(&cd);
	} else {
		tap_ok(false, "SOLE from a client of protocol 1.8: no connection");
		tap_ok(false, "READ from a client of protocol 1.8: no connection");
		tap_ok(false, "ATTACH_REQ SOLE from a client of protocol 1.8: no connection");
	}

	good = !wt_region(&cb, XMEM_REGION_OP_DESTROY, s, 0, 0, 0, &rep) &&
	       !rep.status &&
	       !wt_region(&cb, XMEM_REGION_OP_DESTROY, src, 0, 0, 0, &rs) &&
	       !rs.status;
	tap_ok(good, "the holder's DESTROY works");
out:
	if (ca.w.id)
		wt_close(&ca);
	if (cb.w.id)
		wt_close(&cb);
}

/* Tokens of holds the tests choose, so that another connection may use them. */
#define WT_TOKEN_T	0x5eed7011c0ffee01ull
#define WT_TOKEN_WRONG	0x5eed7011c0ffee02ull

/*
 * A hold's token and grace: a SOLE without a token is EINVAL and makes
 * nothing; a token without SOLE is EBADMSG.  A2, a second connection of
 * the holder A, takes the hold over with its token while A is still
 * connected (a wrong token: EBUSY); A is refused like anyone then.  When
 * A2's connection ends without a DETACH, the hold stays: B's ATTACH,
 * RESIZE and SOLE with a wrong token are EBUSY, READ works, --status says
 * "holder gone"; A3 takes it over with the token in the grace.  When A3
 * ends too, B's ATTACH works again no sooner than the grace after it.
 */
static void wt_test_sole_grace(const char *base)
{
	char g[XMEM_NAME_MAX], nx[XMEM_NAME_MAX], cmd[512];
	struct wt_conn ca, ca2, cb;
	struct xmem_msg_region_rep rep;
	struct xmem_msg_region_req req;
	struct xmem_hello h;
	double t0, secs;
	uint64_t tag;
	bool good;
	int st;

	snprintf(g, sizeof(g), "%.50s-sgrace", base);
	snprintf(nx, sizeof(nx), "%.50s-stok", base);
	memset(&ca, 0, sizeof(ca));
	memset(&ca2, 0, sizeof(ca2));
	memset(&cb, 0, sizeof(cb));
	wt_good_hello(&h);
	if (!tap_ok(!wt_connect(&ca, &h) && !wt_connect(&cb, &h),
		    "connections A and B for the grace of holds"))
		goto out;

	/* The token: nonzero with SOLE, and only there. */
	wt_region_req(&req, ++wt_tag, XMEM_REGION_OP_ATTACH, nx, WT_PAGE,
		      XMEM_ATTACH_F_CREATE | XMEM_ATTACH_F_SOLE);
	wt_expect_region_status(&ca, &req, EINVAL, "ATTACH CREATE|SOLE without a token");
	tap_ok(!wt_region(&ca, XMEM_REGION_OP_INFO, nx, 0, 0, 0, &rep) &&
	       le32toh(rep.status) == ENOENT, "... made nothing");
	wt_region_req(&req, tag = ++wt_tag, XMEM_REGION_OP_ATTACH, nx,
		      WT_PAGE, XMEM_ATTACH_F_CREATE);
	req.reserved = htole64(WT_TOKEN_T);
	wt_expect_error(&ca, &req, sizeof(req), tag, EBADMSG,
			"ATTACH CREATE with a token but without SOLE");
	wt_region_req(&req, tag = ++wt_tag, XMEM_REGION_OP_INFO, nx, 0, 0);
	req.reserved = htole64(WT_TOKEN_T);
	wt_expect_error(&ca, &req, sizeof(req), tag, EBADMSG,
			"INFO with a token");
	tap_ok(!wt_region(&ca, XMEM_REGION_OP_INFO, nx, 0, 0, 0, &rep) &&
	       le32toh(rep.status) == ENOENT, "... made nothing either");

	/* Taken over by the holder's second connection, A still there. */
	good = !wt_attach_tok(&ca, g, WT_REGION_SIZE, XMEM_ATTACH_F_CREATE |
			      XMEM_ATTACH_F_EXCL | XMEM_ATTACH_F_SOLE,
			      WT_TOKEN_T, &rep) &&
	       le32toh(rep.flags) == XMEM_REGION_REP_F_CREATED;
	if (!tap_ok(good, "A creates a region with SOLE and token T"))
		goto out;
	good = !wt_connect(&ca2, &h) &&
	       wt_attach_tok(&ca2, g, 0, XMEM_ATTACH_F_SOLE, WT_TOKEN_WRONG,
			     &rep) == EBUSY;
	tap_ok(good, "A2, a new connection, SOLE with a wrong token -> EBUSY");
	good = good && !wt_attach_tok(&ca2, g, 0, XMEM_ATTACH_F_SOLE,
				      WT_TOKEN_T, &rep) &&
	       le32toh(rep.users) == 2;
	tap_ok(good, "A2's SOLE with T takes the hold over while A is still connected");
	tap_ok(wt_attach_st(&cb, g, 0, 0, &rep) == EBUSY,
	       "A2 holds it: B's ATTACH -> EBUSY");
	tap_ok(wt_attach_st(&ca, g, 0, 0, &rep) == EBUSY,
	       "A, no longer the holder, is refused too: its ATTACH -> EBUSY");
	wt_close(&ca);
	good = wt_status_sole_wait(g, "held by conn") &&
	       wt_attach_st(&cb, g, 0, 0, &rep) == EBUSY;
	tap_ok(good, "A's end leaves A2's hold: --status says held by conn, B's ATTACH -> EBUSY");

	/* A2 ends without a DETACH: the hold stays for the grace. */
	wt_close(&ca2);
	tap_ok(wt_attach_st(&cb, g, 0, 0, &rep) == EBUSY,
	       "A2's connection ends: right away B's ATTACH -> EBUSY");
	tap_ok(wt_status_sole_wait(g, "holder gone"),
	       "xmemd --status says \"holder gone\" for it");
	tap_ok(wt_attach_st(&cb, g, 0, 0, &rep) == EBUSY,
	       "in the grace B's ATTACH -> EBUSY");
	tap_ok(wt_attach_tok(&cb, g, 0, XMEM_ATTACH_F_SOLE, WT_TOKEN_WRONG,
			     &rep) == EBUSY,
	       "in the grace B's SOLE with a wrong token -> EBUSY");
	wt_region_req(&req, ++wt_tag, XMEM_REGION_OP_RESIZE, g,
		      2 * WT_REGION_SIZE, 0);
	wt_expect_region_status(&cb, &req, EBUSY, "in the grace B's RESIZE");
	good = !wt_attach_st(&cb, g, 0, XMEM_ATTACH_F_READ, &rep) &&
	       !wt_region(&cb, XMEM_REGION_OP_DETACH, g, 0, 0, 0, &rep) &&
	       !rep.status;
	tap_ok(good, "in the grace B's ATTACH with READ works");

	/* The holder back: A3 (in ca) takes it over in the grace. */
	good = !wt_connect(&ca, &h) &&
	       !wt_attach_tok(&ca, g, 0, XMEM_ATTACH_F_SOLE, WT_TOKEN_T, &rep);
	tap_ok(good, "in the grace A3's SOLE with T takes the hold over");
	good = good && wt_status_sole(g, "held by conn") &&
	       wt_attach_st(&cb, g, 0, 0, &rep) == EBUSY;
	tap_ok(good, "A3 holds it: --status says held by conn, B's ATTACH -> EBUSY");

	/*
	 * A3 ends: B attaches after the grace, not before.  The grace starts
	 * when the appliance sees the end, after the close starts.
	 */
	t0 = wt_now();
	wt_close(&ca);
	st = wt_attach_wait(&cb, g, WT_SOLE_GRACE_S + 15, &rep);
	secs = wt_now() - t0;
	tap_ok(!st && secs >= WT_SOLE_GRACE_S,
	       "A3 ends: B's ATTACH works after the grace (%.1f s, want %d s at least)",
	       secs, WT_SOLE_GRACE_S);
	tap_ok(wt_status_sole(g, NULL), "xmemd --status no longer lists it");
	/*
	 * The test bed's xmemd keeps its arguments in /run/xmemd.args; with
	 * --dir (and if it is the one on wt_port) NAME.meta must have lost
	 * the token, or a restart would hold the region again.
	 */
	snprintf(cmd, sizeof(cmd),
		 "a=\" $(cat /run/xmemd.args 2>/dev/null) \"; case $a in *\" -p %s \"*\" --dir \"*) d=${a##* --dir }; d=${d%%%% *}; ! grep -q \"^sole \" $d/%s.meta;; esac",
		 wt_port, g);
	tap_ok(!wt_on_target(cmd),
	       "the expired hold's token is gone from NAME.meta (with --dir)");
	good = !wt_region(&cb, XMEM_REGION_OP_DESTROY, g, 0, 0, 0, &rep) &&
	       !rep.status;
	tap_ok(good, "DESTROY of it");
out:
	if (ca.w.id)
		wt_close(&ca);
	if (ca2.w.id)
		wt_close(&ca2);
	if (cb.w.id)
		wt_close(&cb);
}

/* Does NAME.meta in the appliance's --dir say "sole @token" (or not)? */
static bool wt_sole_meta(const char *name, uint64_t token, bool there)
{
	char cmd[512];

	snprintf(cmd, sizeof(cmd), "%sgrep -qx \"sole %" PRIu64 "\" %s/%s.meta",
		 there ? "" : "! ", token, wt_temp_dir, name);
	return !wt_on_target(cmd);
}

/*
 * Holds across restarts of the appliance of --temp (--dir, and a
 * --sole-grace longer than a restart takes): a region A holds with token
 * T is held again right after a kill and after a stop (B's ATTACH ->
 * EBUSY, --status "holder gone") until A, reconnected, takes it over with
 * T; after A's DETACH B attaches.  A hold ended by DETACH before the
 * restart does not come back.
 */
static void wt_test_sole_restart(const char *base)
{
	char s[XMEM_NAME_MAX], d[XMEM_NAME_MAX];
	struct xmem_msg_region_rep rep;
	static const char *const sigs[] = { "KILL", "TERM" };
	struct wt_conn ca, cb;
	struct xmem_hello h;
	unsigned int i;
	bool good;

	snprintf(s, sizeof(s), "%.50s-shold", base);
	snprintf(d, sizeof(d), "%.50s-sdone", base);
	memset(&ca, 0, sizeof(ca));
	memset(&cb, 0, sizeof(cb));
	wt_good_hello(&h);
	good = !wt_connect(&ca, &h) && !wt_connect(&cb, &h) &&
	       !wt_attach_tok(&ca, s, WT_PAGE, XMEM_ATTACH_F_CREATE |
			      XMEM_ATTACH_F_EXCL | XMEM_ATTACH_F_SOLE,
			      WT_TOKEN_T, &rep) &&
	       !wt_attach_tok(&ca, d, WT_PAGE, XMEM_ATTACH_F_CREATE |
			      XMEM_ATTACH_F_EXCL | XMEM_ATTACH_F_SOLE,
			      WT_TOKEN_T, &rep) &&
	       wt_sole_meta(d, WT_TOKEN_T, true) &&
	       !wt_region(&ca, XMEM_REGION_OP_DETACH, d, 0, 0, 0, &rep) &&
	       !rep.status;
	if (!tap_ok(good, "A holds one region with token T, and held another until its DETACH"))
		goto out;
	tap_ok(wt_sole_meta(s, WT_TOKEN_T, true) &&
	       wt_sole_meta(d, WT_TOKEN_T, false),
	       "the held one's NAME.meta says \"sole T\", the other's no longer");

	for (i = 0; i < sizeof(sigs) / sizeof(sigs[0]); i++) {
		good = !wt_temp_restart_xmemd(sigs[i]);
		ca.broken = true;
		cb.broken = true;
		wt_close(&ca);
		wt_close(&cb);
		good = good && !wt_connect(&ca, &h) && !wt_connect(&cb, &h);
		if (!tap_ok(good, "SIG%s and a restart of the appliance; A and B connect again",
			    sigs[i]))
			goto out;
		tap_ok(wt_attach_st(&cb, s, 0, 0, &rep) == EBUSY,
		       "right after it B's ATTACH of the held region -> EBUSY");
		tap_ok(wt_status_sole(s, "holder gone"),
		       "xmemd --status says \"holder gone\" for it");
		tap_ok(wt_attach_tok(&cb, s, 0, XMEM_ATTACH_F_SOLE,
				     WT_TOKEN_WRONG, &rep) == EBUSY,
		       "B's SOLE with a wrong token -> EBUSY");
		if (!i) {
			good = !wt_attach_st(&cb, d, 0, 0, &rep) &&
			       !wt_region(&cb, XMEM_REGION_OP_DETACH, d, 0, 0,
					  0, &rep) && !rep.status;
			tap_ok(good, "the hold ended by DETACH before did not come back: B's ATTACH works");
		}
		good = !wt_attach_tok(&ca, s, 0, XMEM_ATTACH_F_SOLE, WT_TOKEN_T,
				      &rep) &&
		       wt_status_sole(s, "held by conn") &&
		       wt_attach_st(&cb, s, 0, 0, &rep) == EBUSY;
		tap_ok(good, "A's SOLE with T takes it over; B's ATTACH -> EBUSY");
	}

	good = !wt_region(&ca, XMEM_REGION_OP_DETACH, s, 0, 0, 0, &rep) &&
	       !rep.status && !wt_attach_st(&cb, s, 0, 0, &rep) &&
	       wt_sole_meta(s, WT_TOKEN_T, false);
	tap_ok(good, "after A's DETACH B attaches; NAME.meta says \"sole\" no more");
	good = !wt_region(&cb, XMEM_REGION_OP_DESTROY, s, 0, 0, 0, &rep) &&
	       !rep.status &&
	       !wt_region(&cb, XMEM_REGION_OP_DESTROY, d, 0, 0, 0, &rep) &&
	       !rep.status;
	tap_ok(good, "DESTROY of both");
out:
	if (ca.w.id)
		wt_close(&ca);
	if (cb.w.id)
		wt_close(&cb);
}

/* Number of tests wt_test_sole_pull() prints, for the skip lines. */
#define WT_SOLE_PULL_TESTS	5

/*
 * A drain of a held region: a client of the source holds it (SOLE); the
 * target's PULL attaches it there with READ and copies it all the same,
 * and the hold stays.
 */
static void wt_test_sole_pull(struct wt_conn *c, const char *base)
{
	struct xmem_msg_region_rep rep, rs;
	unsigned int ntests = tap_n;
	struct xmem_msg_pull_req req;
	char name[XMEM_NAME_MAX];
	struct wt_region r;
	struct xmem_hello h;
	struct wt_conn sc;
	bool good;

	if (!wt_src_addr)
		goto skip;
	snprintf(name, sizeof(name), "%.50s-spull", base);
	wt_good_hello(&h);
	if (!tap_ok(!wt_connect_to(&sc, &h, wt_src_addr, wt_src_port),
		    "connect to the pull source %s:%s", wt_src_addr,
		    wt_src_port))
		goto skip;
	good = !wt_attach_st(&sc, name, WT_REGION_SIZE, XMEM_ATTACH_F_CREATE |
			     XMEM_ATTACH_F_EXCL | XMEM_ATTACH_F_SOLE, &rs);
	r = wt_region_of(&rs);
	good = good && wt_write_data(&sc, &r, 0, WT_DATA_SIZE, 71);
	if (!tap_ok(good, "a client of the source holds a region there (SOLE) with data"))
		goto out;
	wt_pull_req(&req, ++wt_tag, wt_src_addr, wt_src_port, name);
	good = !wt_pull_raw(c, &req, &rep) && !rep.status;
	r = wt_region_of(&rep);
	good = good && wt_check_data(c, &r, 0, WT_DATA_SIZE, 71);
	tap_ok(good, "a PULL of the held region works (READ at the source): the copy has its data");
	good = !wt_region(&sc, XMEM_REGION_OP_INFO, name, 0, 0, 0, &rs) &&
	       !rs.status && le32toh(rs.users) == 1 &&
	       !wt_region(&sc, XMEM_REGION_OP_RESIZE, name,
			  2 * WT_REGION_SIZE, 0, 0, &rs) && !rs.status;
	tap_ok(good, "the pull detached at the source; the holder still resizes its region");
	good = !wt_region(c, XMEM_REGION_OP_DESTROY, name, 0, 0, 0, &rep) &&
	       !rep.status &&
	       !wt_region(&sc, XMEM_REGION_OP_DESTROY, name, 0, 0, 0, &rs) &&
	       !rs.status;
	tap_ok(good, "DESTROY of the copy, and of the held region by its holder");
out:
	wt_close(&sc);
skip:
	while (tap_n - ntests < WT_SOLE_PULL_TESTS)
		tap_ok(true, "# SKIP PULL of a held region: %s", wt_src_addr ?
		       "an earlier step failed" : "no --pull-source");
}

/* Split ADDR:PORT or [ADDR]:PORT (in place); 0 or -1 with a message. */
static int wt_split_addr(char *s, const char **addr, const char **port)
{
	char *colon = strrchr(s, ':');

	if (!colon || colon == s || !colon[1]) {
		fprintf(stderr, "%s: want ADDR:PORT\n", s);
		return -1;
	}
	*colon = '\0';
	*addr = s;
	*port = colon + 1;
	if (s[0] == '[' && colon[-1] == ']') {
		colon[-1] = '\0';
		*addr = s + 1;
	}
	return 0;
}

int main(int argc, char **argv)
{
	char name[XMEM_NAME_MAX], missing[XMEM_NAME_MAX];
	struct xmem_msg_stat_rep st;
	struct wt_region r, r2;
	struct wt_conn c, c2;
	struct xmem_hello h;
	struct wt_msg m;
	bool pull_only = false;
	bool good;

	while (argc > 1 && !strncmp(argv[1], "--", 2) &&
	       strcmp(argv[1], "--help")) {
		if (!strcmp(argv[1], "--pull-only")) {
			pull_only = true;
			argv++;
			argc--;
			continue;
		}
		if (argc < 3)
			break;
		if (!strcmp(argv[1], "--break") && argc >= 4) {
			wt_hold_file = argv[2];
			wt_src_pidfile = argv[3];
			argv += 3;
			argc -= 3;
			continue;
		}
		if (!strcmp(argv[1], "--temp") && argc >= 4) {
			wt_temp_dir = argv[2];
			wt_temp_restart = argv[3];
			argv += 3;
			argc -= 3;
			continue;
		}
		if (!strcmp(argv[1], "--secret-file")) {
			if (wirec_load_key(argv[2], wt_secret, &wt_secret_len))
				return 2;
		} else if (!strcmp(argv[1], "--pull-source")) {
			if (wt_split_addr(argv[2], &wt_src_addr, &wt_src_port))
				return 2;
		} else if (!strcmp(argv[1], "--pull-refusing-source")) {
			if (wt_split_addr(argv[2], &wt_nsrc_addr,
					  &wt_nsrc_port))
				return 2;
		} else {
			break;
		}
		argv += 2;
		argc -= 2;
	}
	if (argc != 3 || !strcmp(argv[1], "-h") || !strcmp(argv[1], "--help")) {
		fprintf(stderr, "Usage: %s [--pull-source SADDR:SPORT] [--secret-file FILE]\n"
			"       [--pull-refusing-source NADDR:NPORT] [--pull-only]\n"
			"       [--break HOLDFILE PIDFILE] [--temp DIR RESTART] ADDR PORT\n"
			"Exercise the xmem wire protocol against xmemd at ADDR:PORT; prints TAP.\n"
			"--pull-source: also copy regions from the xmemd at SADDR:SPORT into it\n"
			"(PULL).  --secret-file: authenticate where asked to.\n"
			"--pull-refusing-source: a source the target must refuse (EACCES).\n"
			"--pull-only: only the tests of real PULLs.\n"
			"--break: only the tests of a copy whose source goes away\n"
			"mid-way: ADDR's xmemd runs with --debug-hold HOLDFILE, the\n"
			"--pull-source xmemd (killed) on the same host, its pid in PIDFILE.\n"
			"--temp: only the tests of temporary copies that wait for the\n"
			"grace or restart the appliance, and of holds across restarts:\n"
			"ADDR's xmemd runs with --temp-grace 2, a --sole-grace longer\n"
			"than a restart takes and --dir DIR; the shell command RESTART, with\n"
			"XMEM_SIGNAL=KILL or TERM in its environment, stops it so and\n"
			"starts it again.\n",
			argv[0]);
		return argc == 2 && (!strcmp(argv[1], "-h") ||
				     !strcmp(argv[1], "--help")) ? 0 : 2;
	}
	wt_addr = argv[1];
	wt_port = argv[2];
	if (wt_hold_file && !wt_src_addr)
		wt_bail("--break needs --pull-source");
	if (wt_temp_dir) {
		snprintf(name, sizeof(name), "wire-test-%ld-%ld",
			 (long)getpid(), (long)time(NULL));
		wt_test_temp_grace(name);
		wt_test_sole_restart(name);
		return tap_done();
	}
	if (pull_only || wt_hold_file) {
		snprintf(name, sizeof(name), "wire-test-%ld-%ld",
			 (long)getpid(), (long)time(NULL));
		wt_good_hello(&h);
		if (!tap_ok(wt_connect(&c, &h) == 0, "connect to the target %s:%s",
			    wt_addr, wt_port))
			wt_bail("cannot connect");
		if (wt_hold_file)
			wt_test_break(&c, name);
		else
			wt_test_pull_copy(&c, name);
		wt_close(&c);
		return tap_done();
	}
	snprintf(name, sizeof(name), "wire-test-%ld-%ld", (long)getpid(),
		 (long)time(NULL));
	snprintf(missing, sizeof(missing), "wire-test-%ld-%ld-missing",
		 (long)getpid(), (long)time(NULL));

	wt_test_hellos();

	wt_good_hello(&h);
	if (!tap_ok(wt_connect(&c, &h) == 0, "good hello is accepted"))
		wt_bail("cannot connect");
	tap_diag("appliance grants %u credits", c.credits);

	good = !wt_stat(&c, &st);
	tap_ok(good && le64toh(st.bytes_capacity) > 0,
	       "STAT_REQ is answered (%" PRIu64 " regions, %" PRIu64 " of %" PRIu64 " bytes)",
	       (uint64_t)le64toh(st.regions), (uint64_t)le64toh(st.bytes_allocated),
	       (uint64_t)le64toh(st.bytes_capacity));

	good = !wt_attach(&c, name, WT_REGION_SIZE, XMEM_ATTACH_F_CREATE, &r);
	if (!tap_ok(good && !r.status && r.created == 1 && r.region_id &&
		    r.addr && r.rkey && r.size == WT_REGION_SIZE,
		    "ATTACH CREATE of '%s' returns a new region", name)) {
		tap_diag("status %u created %u id %" PRIu64 " size %" PRIu64
			 " addr 0x%" PRIx64 " rkey 0x%x", r.status, r.created,
			 r.region_id, r.size, r.addr, r.rkey);
		wt_bail("cannot create a region");
	}

	memset(wt_data(&c, 1), 0xff, WT_DATA_SIZE);
	tap_ok(!wt_rdma(&c, IBV_WR_RDMA_READ, 1, WT_DATA_SIZE, r.addr, r.rkey, 0) &&
	       wt_all_zero(wt_data(&c, 1), WT_DATA_SIZE),
	       "a new region reads as zeroes");
	good = wt_write_data(&c, &r, 0, WT_DATA_SIZE, 1) &&
	       wt_write_data(&c, &r, r.size - WT_PAGE, WT_PAGE, 2);
	good = good && wt_check_data(&c, &r, 0, WT_DATA_SIZE, 1) &&
	       wt_check_data(&c, &r, r.size - WT_PAGE, WT_PAGE, 2);
	tap_ok(good, "RDMA WRITE then READ returns the data (first 64K, last page)");

	good = !wt_attach(&c, name, WT_REGION_SIZE, 0, &r2);
	tap_ok(good && !r2.status && !r2.created && r2.region_id == r.region_id &&
	       r2.addr == r.addr && r2.rkey == r.rkey && r2.size == r.size,
	       "ATTACH without CREATE returns the same region");
	good = !wt_attach(&c, name, 0, 0, &r2);
	tap_ok(good && !r2.status && r2.region_id == r.region_id &&
	       r2.size == r.size, "ATTACH with size 0 takes the existing size");
	good = !wt_attach(&c, name, WT_REGION_SIZE, XMEM_ATTACH_F_CREATE, &r2);
	tap_ok(good && !r2.status && !r2.created && r2.region_id == r.region_id,
	       "ATTACH CREATE of an existing region attaches it");

	wt_test_bad_attach(&c, name, missing, &st);
	wt_test_bad_messages(&c, name);

	/* A RDMA WRITE with immediate consumes a receive but carries no message. */
	wt_fill(wt_data(&c, 0), 8, 3);
	good = !wt_rdma(&c, IBV_WR_RDMA_WRITE_WITH_IMM, 0, 8,
			r.addr + WT_DATA_SIZE, r.rkey, 42) && !wt_recv(&c, &m);
	if (good) {
		struct xmem_msg_error_rep e;

		memcpy(&e, m.data, sizeof(e));
		good = m.len == sizeof(e) &&
		       le16toh(e.hdr.type) == XMEM_MSG_ERROR_REP &&
		       le32toh(e.status) == EBADMSG && !e.hdr.tag;
	}
	tap_ok(good, "RDMA WRITE with immediate -> ERROR_REP EBADMSG");

	wt_test_pipeline(&c);
	wt_test_pull_refusals(&c, name, missing);
	wt_test_pull_copy(&c, name);
	wt_test_copy(&c, name);
	wt_test_temp(&c, name);
	wt_test_sole(&c, name);
	wt_test_sole_grace(name);
	wt_test_sole_pull(&c, name);

	good = !wt_attach(&c, name, WT_REGION_SIZE, 0, &r2);
	tap_ok(good && !r2.status && r2.region_id == r.region_id &&
	       wt_check_data(&c, &r, 0, WT_DATA_SIZE, 1),
	       "after all that the connection still works (ATTACH, RDMA READ)");

	/* A second client sees the same region; it outlives connections. */
	wt_good_hello(&h);
	good = !wt_connect(&c2, &h);
	if (good)
		wt_test_regions(&c, &c2, name);
	good = good && !wt_attach(&c2, name, 0, 0, &r2) && !r2.status &&
	       r2.region_id == r.region_id;
	tap_ok(good, "a second connection attaches the same region");
	wt_close(&c);
	good = good && wt_check_data(&c2, &r2, 0, WT_DATA_SIZE, 1) &&
	       wt_check_data(&c2, &r2, r2.size - WT_PAGE, WT_PAGE, 2);
	tap_ok(good, "the region and its data survive the first disconnect");
	wt_close(&c2);

	good = !wt_connect(&c, &h);
	good = good && !wt_attach(&c, name, WT_REGION_SIZE, 0, &r2) &&
	       !r2.status && r2.region_id == r.region_id &&
	       wt_check_data(&c, &r2, 0, WT_DATA_SIZE, 1);
	tap_ok(good, "after reconnecting, the region still holds the data");
	good = good && !wt_stat(&c, &st) && le64toh(st.regions) >= 1 &&
	       le64toh(st.bytes_allocated) >= WT_REGION_SIZE;
	tap_ok(good, "STAT_REP counts the region");
	wt_close(&c);

	if (tap_failed)
		tap_diag("%u of %u tests failed", tap_failed, tap_n);
	return tap_done();
}
