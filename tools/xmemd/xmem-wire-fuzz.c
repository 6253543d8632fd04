// SPDX-License-Identifier: GPL-2.0
/*
 * xmem-wire-fuzz: random and mutated wire messages (include/xmem_proto.h)
 * sent to an xmemd, each answer checked against the protocol, and prints
 * TAP.
 *
 * Usage: xmem-wire-fuzz [--seed N] [--count N] [--hellos N]
 *			 [--host NAME --secret-file FILE] [ADDR [PORT]]
 *	(default $XMEM_APPLIANCE, else 10.77.0.1:7471)
 *
 * Against an xmemd without credentials (--insecure), or, with --host and
 * --secret-file, as host NAME of one with per-host keys (--hosts, NAME
 * not marked act-for, no quota for it): then every connection
 * authenticates first, and the authentication and ACT_FOR requests are
 * expected to be refused as from an authenticated client host.
 *
 * Messages of every request type are built from valid templates and then
 * mutated: bad type, header flags and length field, truncated, padded and
 * oversize messages, reserved fields, unknown flags and operations, bad
 * names, huge sizes and cursors, other users.  Several are in flight at
 * once (up to the appliance's credits).  For each one the expected answer
 * is predicted from the protocol and from a model of the regions this
 * client made (names carry the process id): ERROR_REP with the documented
 * status, or the request's reply type with the right status and plausible
 * fields.  Connection requests with mutated hellos are tried too.  A
 * message larger than the appliance's receive buffers ends the connection;
 * the fuzzer then reconnects.  Every 256 messages a STAT and a REGION INFO
 * must be answered correctly.  At the end every region made is destroyed.
 * Exit status 0 only if every answer was as expected.
 */
#define _GNU_SOURCE
#include <endian.h>
#include <errno.h>
#include <inttypes.h>
#include <netdb.h>
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

#include <infiniband/verbs.h>
#include <rdma/rdma_cma.h>

#include "xmem_proto.h"
#include "tap.h"
#include "wirec.h"

#define NRX		32
#define NTX		32
#define SLOT		2048	/* room for messages beyond xmemd's 1024 */
#define XMEMD_RX	1024	/* xmemd's receive buffers */
#define PAGE		4096ull
#define TB		(1ull << 40)
#define SMALL_MAX	(1024 * 1024ull)
#define HUGE_NOMEM	(64ull << 30)
#define TIMEOUT_MS	30000
#define CHECK_EVERY	256
/* Protocol minor 2: appliance-to-appliance copy. */
#define MSG_PULL_REQ	10
/* Protocol minor 4: region to region copy; PULL's flags (was reserved). */
#define MSG_COPY_REQ	16
#define PULL_F_FILL	0x1u
/* Protocol minor 7: a FILL into a region of another name, after @name. */
#define PULL_F_DST	0x2u
/* Protocol minor 5: grants (struct xmem_msg_grant_req). */
#define MSG_GRANT_REQ	XMEM_MSG_GRANT_REQ
/* Protocol minor 8: a temporary copy, only with CREATE and EXCL. */
#define COPY_F_TEMP	0x4u
/* Protocol minor 9: a hold, and an attachment for RDMA READ only. */
#define ATTACH_F_SOLE	0x4u
#define ATTACH_F_READ	0x8u

struct pull_req {
	struct xmem_msg_hdr hdr;
	__le16 family;
	__be16 port;
	__le32 reserved;
	__u8 addr[16];
	__le64 reserved2;
	char name[XMEM_NAME_MAX];
};

/* ---- TAP and randomness ------------------------------------------------- */

/* --host and --secret-file: authenticate as this host (per-host keys). */
static const char *fz_host;
static uint8_t fz_key[XMEM_AUTH_SECRET_MAX];
static size_t fz_key_len;

static uint64_t seed, rs, count = 20000, hellos = 50;
static uint64_t n_msgs, n_hellos, n_reconnects, n_drops;

static void summary(void)
{
	tap_diag("xmem-wire-fuzz: seed %" PRIu64 ": %" PRIu64 " messages, %" PRIu64
		 " hellos, %" PRIu64 " reconnections (%" PRIu64 " expected drops)",
		 seed, n_msgs, n_hellos, n_reconnects, n_drops);
}

__attribute__((noreturn, format(printf, 1, 2)))
static void bail(const char *fmt, ...)
{
	char why[1024];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(why, sizeof(why), fmt, ap);
	va_end(ap);
	tap_ok(false, "seed %" PRIu64 ": %s", seed, why);
	summary();
	tap_done();
	exit(1);
}

static uint64_t rnd(void)
{
	uint64_t x = (rs += 0x9e3779b97f4a7c15ull);

	x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
	x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
	return x ^ (x >> 31);
}

static uint64_t below(uint64_t n)
{
	return n ? rnd() % n : 0;
}

static bool chance(unsigned int percent)
{
	return below(100) < percent;
}

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

/* ---- connection --------------------------------------------------------- */

struct conn {
	struct wirec w;
	unsigned int window;	/* requests in flight at most */
	unsigned int sends_out;
	uint16_t minor;
	bool broken;
};

static const char *addr_s = "10.77.0.1", *port_s = "7471";
static struct conn C;

static uint8_t *rx_slot(unsigned int i)
{
	return wirec_rx(&C.w, i);
}

static void conn_close(void)
{
	if (!C.w.id)
		return;
	if (C.broken)
		C.w.gone = true;
	wirec_close(&C.w);
	memset(&C, 0, sizeof(C));
}

/*
 * Connect with @len bytes of @hello as private data.  Returns 0 when
 * accepted (*@rep holds the accept data), a positive status when
 * rejected with a struct xmem_hello_rep, -1 on any other failure.
 */
static int conn_open(const void *hello, uint8_t len, struct xmem_hello_rep *rep)
{
	struct wirec_opts o = {
		.nrx = NRX,
		.ntx = NTX,
		.slot = SLOT,
		.rd_atom = 1,
		.responder = 1,
		.step_ms = TIMEOUT_MS,
		.log = wirec_log_tap,
	};
	struct sockaddr_storage ss;
	int ret;

	memset(&C, 0, sizeof(C));
	if (wirec_resolve(addr_s, port_s, &ss))
		return -1;
	ret = wirec_connect(&C.w, &o, (struct sockaddr *)&ss, hello, len);
	if (ret == ECONNREFUSED && C.w.id) {
		memcpy(rep, &C.w.rep, sizeof(*rep));
		ret = C.w.reject_status;
		C.broken = true;
		conn_close();
		return ret > 0 ? ret : -1;
	}
	if (ret) {
		tap_diag("connecting to %s:%s: %s", addr_s, port_s, strerror(ret));
		return -1;
	}
	memcpy(rep, &C.w.rep, sizeof(*rep));
	C.minor = le16toh(rep->minor);
	C.window = le16toh(rep->credits);
	if (C.window > NRX / 2)
		C.window = NRX / 2;
	return 0;
}

/* One completion: a reply's slot, or -1 (a send's), -2 (broken). */
static int handle_wc(const struct ibv_wc *wc, uint32_t *len)
{
	bool send = WIREC_WR_KIND(wc->wr_id) == WIREC_WR_SEND;

	if (send)
		C.sends_out--;
	if (wc->status != IBV_WC_SUCCESS) {
		C.broken = true;
		return -2;
	}
	if (send)
		return -1;
	*len = wc->byte_len;
	return (int)WIREC_WR_INDEX(wc->wr_id);
}

/* Completions; returns a reply's slot, or -1 (none yet), -2 (broken). */
static int poll_once(uint32_t *len)
{
	struct ibv_wc wc;
	int n, slot;

	while ((n = ibv_poll_cq(C.w.cq, 1, &wc)) > 0) {
		slot = handle_wc(&wc, len);
		if (slot != -1)
			return slot;
	}
	return n < 0 ? -2 : -1;
}

/*
 * Wait for the next reply; returns its slot, or -2 if the connection
 * broke (error completion, disconnect event).  A silent appliance bails.
 */
static int wait_reply(uint32_t *len)
{
	struct ibv_wc wc;
	int slot, err;

	for (;;) {
		err = wirec_wc(&C.w, &wc, TIMEOUT_MS);
		if (err == ETIMEDOUT)
			bail("no answer from the appliance in %d s",
			     TIMEOUT_MS / 1000);
		if (err) {
			C.broken = true;
			return -2;
		}
		slot = handle_wc(&wc, len);
		if (slot != -1)
			return slot;
	}
}

static int post_send(const void *msg, uint32_t len)
{
	uint32_t dummy;

	/* A send buffer is free again once its completion came. */
	while (C.sends_out >= NTX - 1)
		if (poll_once(&dummy) == -2)
			return -1;
	if (C.broken || wirec_send(&C.w, msg, len))
		return -1;
	C.sends_out++;
	return 0;
}

/* ---- the model of our regions ------------------------------------------ */

#define MAXREG 64

/*
 * @maybe_held: this connection may hold it (a SOLE ATTACH of it may have
 * worked).  @lapsed: an earlier connection of ours may have held it, and
 * the hold may still be in its grace (--sole-grace after the end of that
 * connection): ATTACH without READ and RESIZE may be EBUSY.  How long the
 * grace is, and whether a SOLE with the old token took the hold over, is
 * not modelled.
 */
struct region {
	char name[XMEM_NAME_MAX];
	bool exists;
	bool maybe_held, lapsed;
	uint64_t size;
	uint32_t uid, gid, mode;
};

static struct region regs[MAXREG];
static unsigned int nregs;
static char prefix[24], anchor[XMEM_NAME_MAX];
static uint64_t capacity;

static struct region *reg_find(const char *name)
{
	unsigned int i;

	for (i = 0; i < nregs; i++)
		if (!strncmp(regs[i].name, name, XMEM_NAME_MAX))
			return &regs[i];
	return NULL;
}

static struct region *reg_add(const char *name)
{
	struct region *r = reg_find(name);

	if (r)
		return r;
	if (nregs == MAXREG)
		bail("more than %d regions", MAXREG);
	r = &regs[nregs++];
	memset(r, 0, sizeof(*r));
	memcpy(r->name, name, XMEM_NAME_MAX);
	return r;
}

static bool name_valid(const char *name)
{
	size_t len = strnlen(name, XMEM_NAME_MAX), i;

	if (!len || len == XMEM_NAME_MAX)
		return false;
	for (i = 0; i < len; i++) {
		char c = name[i];

		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
		      (c >= '0' && c <= '9') || c == '.' || c == '_' || c == '-'))
			return false;
	}
	/* NUL padded: nothing after the end. */
	for (; i < XMEM_NAME_MAX; i++)
		if (name[i])
			return false;
	return strcmp(name, ".") && strcmp(name, "..");
}

static void gen_name(char *name)
{
	static const char bad[] = "/ \n\\\x7f\x80\xff:*";
	size_t len;

	memset(name, 0, XMEM_NAME_MAX);
	if (nregs && chance(30))
		memcpy(name, regs[below(nregs)].name, XMEM_NAME_MAX);
	if (!name[0] || !strcmp(name, anchor))
		snprintf(name, XMEM_NAME_MAX, "%sr%u", prefix,
			 (unsigned int)below(6));
	if (chance(80))
		goto out;
	len = strnlen(name, XMEM_NAME_MAX);
	switch (below(8)) {
	case 0:
		memset(name, 0, XMEM_NAME_MAX);
		break;
	case 1:
		memset(name, 'n', XMEM_NAME_MAX);
		break;
	case 2:
		for (; len < XMEM_NAME_MAX - 1; len++)
			name[len] = 'x';
		break;
	case 3:
		memset(name, 0, XMEM_NAME_MAX);
		strcpy(name, chance(50) ? "." : "..");
		break;
	case 4:
		name[below(len)] = bad[below(sizeof(bad) - 1)];
		break;
	case 5:
		if (len < XMEM_NAME_MAX - 2)
			name[len + 1 + below(XMEM_NAME_MAX - len - 2)] =
				(char)rnd();
		break;
	case 6:
		name[below(XMEM_NAME_MAX)] ^= 1 << below(8);
		break;
	default:
		for (len = 0; len < XMEM_NAME_MAX; len++)
			name[len] = (char)rnd();
	}
out:
	/* No new valid names once the table fills up. */
	if (nregs >= MAXREG - 8 && name_valid(name) && !reg_find(name))
		name[0] = '/';
}

static uint64_t small_size(void)
{
	/* Mostly tiny: xmemd registers (pins) every region it creates. */
	static const uint64_t v[] = { PAGE, PAGE, PAGE, 2 * PAGE, 2 * PAGE,
				      16 * PAGE, SMALL_MAX };

	return v[below(sizeof(v) / sizeof(v[0]))];
}

static uint64_t odd_size(uint64_t size)
{
	static const uint64_t v[] = {
		0, 1, PAGE - 1, PAGE + 1, TB, TB + PAGE, ~0ull, 1ull << 63,
		~0ull << 12, HUGE_NOMEM, (1ull << 32) + 1,
	};

	if (chance(50))
		return v[below(sizeof(v) / sizeof(v[0]))];
	return size ^ (1ull << below(64));
}

static uint64_t size_guard(uint64_t size)
{
	if (!(size % PAGE) && size > SMALL_MAX && size < HUGE_NOMEM)
		return HUGE_NOMEM;
	return size;
}

/* ---- expectations ------------------------------------------------------- */

/* What the answer to one message must be. */
struct expect {
	uint16_t type;		/* reply type; XMEM_MSG_ERROR_REP */
	uint32_t st[4];		/* allowed statuses (0: success) */
	unsigned int nst;
	uint64_t tag;
	bool drop_ok;		/* may end the connection instead */
	bool err_ok;		/* or an ERROR_REP with a status of @st */
	/* REGION_REP / ATTACH_REP success details */
	uint16_t op;
	char name[XMEM_NAME_MAX];
	uint64_t size;		/* 0: do not check */
	int created;		/* -1: do not check */
	char what[200];
};

static struct expect fifo[NRX];
static unsigned int fifo_head, fifo_len;

static void st_add(struct expect *e, uint32_t st)
{
	if (e->nst < 4)
		e->st[e->nst++] = st;
}

static void expect_error(struct expect *e, uint32_t st)
{
	e->type = XMEM_MSG_ERROR_REP;
	st_add(e, st);
}

/*
 * The ATTACH flags the appliance takes from us: SOLE and READ from minor
 * 9 on, of the appliance and of this client (which announces
 * XMEM_PROTO_MINOR); before, they are unknown (EPROTO).
 */
static uint32_t attach_known(void)
{
	uint32_t known = XMEM_ATTACH_F_CREATE | XMEM_ATTACH_F_EXCL;

	if (C.minor >= 9 && XMEM_PROTO_MINOR >= 9)
		known |= ATTACH_F_SOLE | ATTACH_F_READ;
	return known;
}

/* READ with CREATE or SOLE: EINVAL (minor 9). */
static bool attach_read_bad(uint32_t flags)
{
	return (flags & ATTACH_F_READ) &&
	       (flags & (XMEM_ATTACH_F_CREATE | ATTACH_F_SOLE));
}

/* May @uid/@gid attach region @r (xmemd_may_attach, the header's rule)? */
static bool may_attach(const struct region *r, uint32_t uid, uint32_t gid)
{
	uint32_t need = uid == r->uid ? 0600 : gid == r->gid ? 0060 : 0006;

	return !uid || (r->mode & need) == need;
}

/* Read the model back before going on (see mismatch()). */
static bool need_resync;

/* An ATTACH (message or region op) with valid fields: outcome, model. */
static void expect_attach(struct expect *e, const char *name, uint64_t size,
			  uint32_t flags, uint32_t mode, uint32_t uid,
			  uint32_t gid)
{
	struct region *r = reg_find(name);

	e->created = 0;
	if (r && r->exists) {
		if (flags & XMEM_ATTACH_F_EXCL)
			st_add(e, EEXIST);
		else if (size && size != r->size)
			st_add(e, EINVAL);
		else if (!may_attach(r, uid, gid))
			st_add(e, EACCES);
		else
			st_add(e, 0);
		if (!(flags & XMEM_ATTACH_F_EXCL) && r->lapsed &&
		    !(flags & ATTACH_F_READ))
			st_add(e, EBUSY);
		if (flags & ATTACH_F_SOLE)
			r->maybe_held = true;
		e->size = r->size;
		return;
	}
	if (!(flags & XMEM_ATTACH_F_CREATE)) {
		st_add(e, ENOENT);
	} else if (!size) {
		st_add(e, EINVAL);
	} else if (size > SMALL_MAX) {
		st_add(e, ENOMEM);
	} else if (!may_attach(&(struct region){
			.uid = uid, .gid = gid,
			.mode = mode ? mode : XMEM_REGION_MODE_DEFAULT,
		   }, uid, gid)) {
		/* A mode that locks its creator out: refused, nothing made. */
		st_add(e, EACCES);
	} else {
		st_add(e, 0);
		r = reg_add(name);
		r->exists = true;
		r->size = size;
		r->uid = uid;
		r->gid = gid;
		r->mode = mode ? mode : XMEM_REGION_MODE_DEFAULT;
		r->maybe_held = flags & ATTACH_F_SOLE;
		r->lapsed = false;
		e->size = size;
		e->created = 1;
	}
}

/* ---- message generators -------------------------------------------------- */

static uint64_t next_tag = 1;

static void hdr(void *msg, uint16_t type, uint32_t len)
{
	struct xmem_msg_hdr *h = msg;

	h->type = htole16(type);
	h->flags = 0;
	h->len = htole32(len);
	h->tag = htole64(next_tag++);
}

/*
 * ATTACH flags: mostly none, CREATE or CREATE|EXCL; else minor 9's SOLE
 * and READ too, alone, together and with CREATE.  There is one
 * connection at a time, so its own holds never refuse anything, but the
 * flags' own rules are checked; after a reconnection the holds of the
 * connection before are in their grace (see struct region).
 */
static uint16_t gen_attach_flags(void)
{
	static const uint16_t flags[] = {
		0, XMEM_ATTACH_F_CREATE,
		XMEM_ATTACH_F_CREATE | XMEM_ATTACH_F_EXCL,
		ATTACH_F_SOLE, ATTACH_F_READ,
		XMEM_ATTACH_F_CREATE | XMEM_ATTACH_F_EXCL | ATTACH_F_SOLE,
		XMEM_ATTACH_F_CREATE | ATTACH_F_READ,
		ATTACH_F_SOLE | ATTACH_F_READ,
	};

	return flags[chance(70) ? below(3) :
		     below(sizeof(flags) / sizeof(flags[0]))];
}

/* Build a request of a random type; mutate it; returns its length. */
static uint32_t gen_msg(uint8_t *m)
{
	union {
		struct xmem_msg_attach_req at;
		struct xmem_msg_region_req rq;
		struct xmem_msg_auth_req au;
		struct xmem_msg_auth_host_req ah;
		struct xmem_msg_stat_req st;
		struct pull_req pl;
		struct xmem_msg_grant_req gr;
		struct xmem_msg_act_for_req af;
		struct xmem_msg_copy_req cp;
	} *u = (void *)m;
	unsigned int kind = below(100), i;
	uint32_t len;

	memset(m, 0, SLOT);
	if (kind < 20) {
		len = sizeof(u->at);
		hdr(m, XMEM_MSG_ATTACH_REQ, len);
		gen_name(u->at.name);
		u->at.size = htole64(chance(30) ? 0 : small_size());
		u->at.flags = htole32(gen_attach_flags());
	} else if (kind < 30) {
		len = sizeof(u->st);
		hdr(m, XMEM_MSG_STAT_REQ, len);
	} else if (kind < 80) {
		uint16_t op = 1 + below(XMEM_REGION_OP_MAX - 1);

		len = sizeof(u->rq);
		hdr(m, XMEM_MSG_REGION_REQ, len);
		u->rq.op = htole16(op);
		if (op != XMEM_REGION_OP_NEXT)
			gen_name(u->rq.name);
		if (op == XMEM_REGION_OP_ATTACH) {
			u->rq.flags = htole16(gen_attach_flags());
			u->rq.size = htole64(chance(30) ? 0 : small_size());
			/*
			 * SOLE's token (minor 9), mostly; a few of them, so
			 * that a hold in its grace is taken over at times.
			 */
			if ((le16toh(u->rq.flags) & ATTACH_F_SOLE) &&
			    chance(90))
				u->rq.reserved = htole64(1 + below(4));
			if (le16toh(u->rq.flags) && chance(30))
				u->rq.mode = htole32(below(01000));
		}
		if (op == XMEM_REGION_OP_RESIZE)
			u->rq.size = htole64(small_size());
		if (op == XMEM_REGION_OP_NEXT)
			u->rq.cursor = htole64(chance(70) ? below(1000) : rnd());
		if (chance(20) && op != XMEM_REGION_OP_RESIZE &&
		    op != XMEM_REGION_OP_DESTROY) {
			u->rq.uid = htole32(chance(50) ? 1000 + below(3) :
					    (uint32_t)rnd());
			u->rq.gid = htole32(chance(50) ? 1000 + below(3) :
					    (uint32_t)rnd());
		}
	} else if (kind < 84) {
		/* Step 1 naming a host (minor 3). */
		len = sizeof(u->ah);
		hdr(m, XMEM_MSG_AUTH_HOST_REQ, len);
		u->ah.step = htole16(chance(80) ? 1 : below(4));
		for (i = 0; i < XMEM_AUTH_NONCE_SIZE; i++)
			u->ah.nonce[i] = rnd();
		gen_name(u->ah.host);
	} else if (kind < 88) {
		len = sizeof(u->au);
		hdr(m, XMEM_MSG_AUTH_REQ, len);
		u->au.step = htole16(1 + below(2));
		for (i = 0; i < XMEM_AUTH_NONCE_SIZE; i++)
			u->au.nonce[i] = rnd();
	} else if (kind < 91) {
		len = sizeof(u->pl);
		hdr(m, MSG_PULL_REQ, len);
		u->pl.family = htole16(chance(80) ? 2 : 10);
		u->pl.port = htobe16(chance(80) ? 7471 : below(65536));
		u->pl.addr[0] = 10;
		u->pl.addr[1] = 77;
		u->pl.addr[3] = 1 + below(20);
		gen_name(u->pl.name);
		if (chance(30)) {
			/* The region to fill, of another name (minor 7). */
			len += XMEM_NAME_MAX;
			hdr(m, MSG_PULL_REQ, len);
			u->pl.reserved = htole32(PULL_F_FILL | PULL_F_DST);
			gen_name((char *)m + sizeof(u->pl));
		}
	} else if (kind < 93) {
		/* Acting for a host (minor 6). */
		len = sizeof(u->af);
		hdr(m, XMEM_MSG_ACT_FOR_REQ, len);
		if (chance(70))
			snprintf(u->af.host, sizeof(u->af.host), "fuzzhost%u",
				 (unsigned int)below(3));
		else
			gen_name(u->af.host);
	} else if (kind < 95) {
		/* Grants and revokes (minor 5), to other hosts only. */
		len = sizeof(u->gr);
		hdr(m, MSG_GRANT_REQ, len);
		u->gr.op = htole16(1 + below(2));
		gen_name(u->gr.name);
		snprintf(u->gr.host, sizeof(u->gr.host), "fuzzhost%u",
			 (unsigned int)below(3));
		if (chance(50)) {
			u->gr.flags = htole16(XMEM_GRANT_F_UID);
			u->gr.grantee_uid = htole32(1000 + below(3));
		}
		if (chance(50))
			u->gr.uid = htole32(1000 + below(3));
	} else if (kind < 97) {
		/*
		 * Copies with every combination of CREATE, EXCL and TEMP
		 * (minor 8); pull_guard() makes them all refusals.
		 */
		len = sizeof(u->cp);
		hdr(m, MSG_COPY_REQ, len);
		u->cp.flags = htole32(below(8));
		if (le32toh(u->cp.flags) & XMEM_COPY_F_CREATE && chance(30))
			u->cp.mode = htole32(below(01000));
		gen_name(u->cp.src);
		gen_name(u->cp.dst);
	} else {
		/* Random garbage with a plausible header, any type. */
		len = below(300);
		for (i = 0; i < len; i++)
			m[i] = rnd();
		if (len >= sizeof(struct xmem_msg_hdr) && chance(70))
			hdr(m, below(16), chance(70) ? len : (uint32_t)rnd());
		return len;
	}

	/* Mutations. */
	while (chance(40)) {
		struct xmem_msg_hdr *h = (void *)m;

		switch (below(12)) {
		case 0:
			h->type = htole16(chance(50) ? below(16) : rnd());
			break;
		case 1:
			h->flags = htole16(1 << below(16));
			break;
		case 2:
			h->len = htole32(chance(50) ? len + below(9) - 4 :
					 (uint32_t)rnd());
			break;
		case 3:		/* truncated */
			len = below(len);
			break;
		case 4:		/* padded or oversize */
			/* Rarely beyond xmemd's buffers: that costs a reconnection. */
			len += chance(99) ? 1 + below(300) :
				XMEMD_RX - len + 1 + below(SLOT - XMEMD_RX);
			if (chance(50))
				h->len = htole32(len);
			break;
		case 5:		/* a reserved field */
			if (le16toh(h->type) == XMEM_MSG_ATTACH_REQ)
				u->at.reserved = htole32(1u << below(32));
			else if (le16toh(h->type) == XMEM_MSG_REGION_REQ)
				u->rq.reserved = htole64(1ull << below(64));
			else if (le16toh(h->type) == XMEM_MSG_AUTH_REQ)
				u->au.reserved[below(3)] = htole16(1 + below(9));
			else if (le16toh(h->type) == MSG_PULL_REQ)
				u->pl.reserved2 = htole64(1);
			else if (le16toh(h->type) == MSG_GRANT_REQ)
				u->gr.reserved = htole64(1ull << below(64));
			else if (le16toh(h->type) == MSG_COPY_REQ)
				u->cp.reserved = htole64(1ull << below(64));
			break;
		case 6:		/* flags, ops, steps */
			if (le16toh(h->type) == XMEM_MSG_ATTACH_REQ)
				u->at.flags ^= htole32(1u << below(32));
			else if (le16toh(h->type) == XMEM_MSG_REGION_REQ)
				u->rq.flags ^= htole16(1u << below(16));
			else if (le16toh(h->type) == XMEM_MSG_AUTH_REQ)
				u->au.step = htole16(below(5));
			else if (le16toh(h->type) == MSG_PULL_REQ)
				u->pl.family = htole16(below(12));
			else if (le16toh(h->type) == MSG_GRANT_REQ)
				u->gr.flags ^= htole16(1u << below(16));
			else if (le16toh(h->type) == MSG_COPY_REQ)
				u->cp.flags ^= htole32(1u << below(32));
			break;
		case 7:
			if (le16toh(h->type) == XMEM_MSG_REGION_REQ)
				u->rq.op = htole16(chance(50) ? below(9) : rnd());
			else if (le16toh(h->type) == MSG_PULL_REQ)
				u->pl.port = 0;
			else if (le16toh(h->type) == MSG_GRANT_REQ)
				u->gr.op = htole16(chance(50) ? below(4) : rnd());
			break;
		case 8:		/* sizes, cursors, modes */
			if (le16toh(h->type) == XMEM_MSG_ATTACH_REQ)
				u->at.size = htole64(odd_size(le64toh(u->at.size)));
			else if (le16toh(h->type) == XMEM_MSG_REGION_REQ) {
				if (chance(50))
					u->rq.size = htole64(odd_size(le64toh(u->rq.size)));
				else if (chance(50))
					u->rq.cursor = htole64(rnd());
				else
					u->rq.mode = htole32(chance(50) ? 01000 :
							     (uint32_t)rnd());
			}
			break;
		case 9:		/* a name */
			if (le16toh(h->type) == XMEM_MSG_ATTACH_REQ)
				gen_name(u->at.name);
			else if (le16toh(h->type) == XMEM_MSG_REGION_REQ)
				gen_name(u->rq.name);
			else if (le16toh(h->type) == MSG_GRANT_REQ)
				gen_name(chance(50) ? u->gr.name : u->gr.host);
			break;
		default:	/* a bit flip anywhere */
			m[below(len ? len : 1)] ^= 1 << below(8);
		}
	}
	if (le16toh(u->at.hdr.type) == XMEM_MSG_ATTACH_REQ)
		u->at.size = htole64(size_guard(le64toh(u->at.size)));
	if (le16toh(u->rq.hdr.type) == XMEM_MSG_REGION_REQ)
		u->rq.size = htole64(size_guard(le64toh(u->rq.size)));
	return len;
}

/*
 * A PULL_REQ that the appliance would act on (connect to a source) is
 * made one that must be refused before any connection: the region name
 * of an existing region (EEXIST) or a bad family.
 */
static void pull_guard(uint8_t *m, uint32_t len)
{
	struct pull_req *p = (void *)m;
	struct region *r;
	unsigned int i;

	/* COPY_REQ: names from random bytes are invalid; keep them so. */
	if (len >= sizeof(struct xmem_msg_hdr) + 24 &&
	    le16toh(p->hdr.type) == MSG_COPY_REQ)
		m[sizeof(struct xmem_msg_hdr) + 24] = '/';
	if (len < sizeof(*p) || le16toh(p->hdr.type) != MSG_PULL_REQ)
		return;
	/*
	 * A FILL pull would act on an existing region: never send one (a
	 * DST without FILL is refused before anything is done).
	 */
	p->reserved &= ~htole32(PULL_F_FILL);
	if (len != sizeof(*p) || le16toh(p->hdr.type) != MSG_PULL_REQ ||
	    le32toh(p->hdr.len) != len || p->hdr.flags || p->reserved ||
	    p->reserved2)
		return;
	if ((le16toh(p->family) != 2 && le16toh(p->family) != 10) ||
	    !p->port || !name_valid(p->name))
		return;
	r = reg_find(p->name);
	if (r && r->exists)
		return;
	for (i = 0; i < nregs; i++) {
		if (regs[i].exists) {
			memcpy(p->name, regs[i].name, XMEM_NAME_MAX);
			return;
		}
	}
	p->family = htole16(3);
}

/*
 * A GRANT_REQ (minor 5) past the header checks.  Grants name other hosts
 * than this client's, so they change nothing the model predicts.
 */
static void expect_grant(struct expect *e, const uint8_t *m, uint32_t len)
{
	const struct xmem_msg_grant_req *g = (const void *)m;
	uint16_t op, flags;
	struct region *r;
	uint32_t uid;

	if (len != sizeof(*g)) {
		expect_error(e, EBADMSG);
		return;
	}
	op = le16toh(g->op);
	flags = le16toh(g->flags);
	if (g->reserved || flags & ~XMEM_GRANT_F_ALL) {
		/* Which is reported first is not documented. */
		if (g->reserved)
			expect_error(e, EBADMSG);
		if (flags & ~XMEM_GRANT_F_ALL)
			expect_error(e, EPROTO);
		return;
	}
	e->type = XMEM_MSG_REGION_REP;
	e->op = XMEM_REGION_OP_INFO;
	memcpy(e->name, g->name, XMEM_NAME_MAX);
	uid = le32toh(g->uid);
	snprintf(e->what, sizeof(e->what), "GRANT_REQ op %u %.64s to %.64s flags %#x uid %u grantee %u",
		 op, g->name, g->host, flags, uid, le32toh(g->grantee_uid));
	if ((op != XMEM_GRANT_OP_GRANT && op != XMEM_GRANT_OP_REVOKE) ||
	    !name_valid(g->name) || !name_valid(g->host) ||
	    (g->grantee_uid && !(flags & XMEM_GRANT_F_UID))) {
		st_add(e, EINVAL);
		return;
	}
	r = reg_find(g->name);
	if (!r || !r->exists) {
		st_add(e, ENOENT);
		return;
	}
	e->size = r->size;
	if (uid && uid != r->uid) {
		st_add(e, EACCES);
		return;
	}
	/* Whether the grant exists, or there are 8 already, is not modelled. */
	st_add(e, 0);
	st_add(e, op == XMEM_GRANT_OP_GRANT ? ENOSPC : ENOENT);
}

/* The expected answer to @m of @len bytes; updates the model. */
static void predict(const uint8_t *m, uint32_t len, struct expect *e)
{
	const struct xmem_msg_hdr *h = (const void *)m;
	const struct xmem_msg_attach_req *at = (const void *)m;
	const struct xmem_msg_region_req *rq = (const void *)m;
	const struct xmem_msg_auth_req *au = (const void *)m;
	const struct pull_req *pl = (const void *)m;
	uint16_t type, op, flags;
	uint64_t size, cursor;
	uint32_t mode, uid, gid, known, unknown;
	struct region *r;
	bool dst, reserved_bad;

	memset(e, 0, sizeof(*e));
	e->created = -1;
	if (len < sizeof(*h)) {
		expect_error(e, EBADMSG);
		return;
	}
	e->tag = le64toh(h->tag);
	type = le16toh(h->type);
	if (len > XMEMD_RX) {
		/* Fails xmemd's receive, and so the connection. */
		expect_error(e, EBADMSG);
		e->drop_ok = true;
		return;
	}
	if (len > XMEM_MSG_MAX_SIZE || le32toh(h->len) != len) {
		expect_error(e, EBADMSG);
		return;
	}
	switch (type) {
	case XMEM_MSG_ATTACH_REQ:
	case XMEM_MSG_STAT_REQ:
	case XMEM_MSG_REGION_REQ:
	case XMEM_MSG_AUTH_REQ:
		break;
	case MSG_PULL_REQ:
		if (C.minor >= 2)
			break;
		expect_error(e, EOPNOTSUPP);
		return;
	case XMEM_MSG_AUTH_HOST_REQ:
		if (C.minor >= 3)
			break;
		expect_error(e, EOPNOTSUPP);
		return;
	case MSG_COPY_REQ:
		if (C.minor >= 4)
			break;
		expect_error(e, EOPNOTSUPP);
		return;
	case MSG_GRANT_REQ:
		if (C.minor >= 5)
			break;
		expect_error(e, EOPNOTSUPP);
		return;
	case XMEM_MSG_ACT_FOR_REQ:
		if (C.minor >= 6)
			break;
		expect_error(e, EOPNOTSUPP);
		return;
	case XMEM_MSG_INVALID:
	case XMEM_MSG_ATTACH_REP:
	case XMEM_MSG_STAT_REP:
	case XMEM_MSG_ERROR_REP:
	case XMEM_MSG_REGION_REP:
	case XMEM_MSG_AUTH_REP:
		expect_error(e, EBADMSG);
		return;
	default:
		expect_error(e, EOPNOTSUPP);
		return;
	}
	if (h->flags) {
		expect_error(e, EPROTO);
		return;
	}
	switch (type) {
	case XMEM_MSG_AUTH_REQ:
		if (len != sizeof(*au) || au->reserved[0] || au->reserved[1] ||
		    au->reserved[2]) {
			expect_error(e, EBADMSG);
			return;
		}
		/*
		 * --insecure: no secret; with --host: authenticated already,
		 * so every step is out of order.
		 */
		e->type = XMEM_MSG_AUTH_REP;
		if (!fz_host)
			st_add(e, EOPNOTSUPP);
		st_add(e, EPROTO);
		return;
	case XMEM_MSG_AUTH_HOST_REQ: {
		const struct xmem_msg_auth_host_req *ah = (const void *)m;

		if (len != sizeof(*ah) || ah->reserved[0] || ah->reserved[1] ||
		    ah->reserved[2]) {
			expect_error(e, EBADMSG);
			return;
		}
		e->type = XMEM_MSG_AUTH_REP;
		if (!fz_host)	/* No per-host keys (--insecure). */
			st_add(e, EOPNOTSUPP);
		else if (le16toh(ah->step) != 1 || !name_valid(ah->host))
			st_add(e, EINVAL);
		else		/* Authenticated already. */
			st_add(e, EPROTO);
		return;
	}
	case XMEM_MSG_ACT_FOR_REQ: {
		const struct xmem_msg_act_for_req *af = (const void *)m;

		if (len != sizeof(*af) || af->reserved) {
			expect_error(e, EBADMSG);
			return;
		}
		e->type = XMEM_MSG_AUTH_REP;
		if (!fz_host)	/* No per-host keys (--insecure). */
			st_add(e, EOPNOTSUPP);
		else if (!name_valid(af->host))
			st_add(e, EINVAL);
		else		/* A client host may not act for others. */
			st_add(e, EACCES);
		return;
	}
	case XMEM_MSG_STAT_REQ:
		if (len != sizeof(struct xmem_msg_stat_req)) {
			expect_error(e, EBADMSG);
		} else {
			e->type = XMEM_MSG_STAT_REP;
			st_add(e, 0);
		}
		return;
	case XMEM_MSG_ATTACH_REQ:
		if (len != sizeof(*at)) {
			expect_error(e, EBADMSG);
			return;
		}
		flags = le32toh(at->flags);
		if (le32toh(at->flags) & ~attach_known() || at->reserved) {
			/* The order of these two checks is not documented. */
			if (le32toh(at->flags) & ~attach_known())
				expect_error(e, EPROTO);
			if (at->reserved)
				expect_error(e, EBADMSG);
			return;
		}
		e->type = XMEM_MSG_ATTACH_REP;
		e->op = XMEM_REGION_OP_ATTACH;
		size = le64toh(at->size);
		snprintf(e->what, sizeof(e->what), "ATTACH_REQ %.64s size %#" PRIx64
			 " flags %#x", at->name, size, flags);
		if (!name_valid(at->name) || size % PAGE || size > TB ||
		    ((flags & XMEM_ATTACH_F_EXCL) &&
		     !(flags & XMEM_ATTACH_F_CREATE)) ||
		    attach_read_bad(flags)) {
			st_add(e, EINVAL);
			return;
		}
		expect_attach(e, at->name, size, flags, 0, 0, 0);
		return;
	case MSG_PULL_REQ:
		/* Minor 7: a DST pull is longer by the name of its region. */
		known = C.minor >= 7 ? PULL_F_FILL | PULL_F_DST : PULL_F_FILL;
		dst = le32toh(pl->reserved) & known & PULL_F_DST;
		if (len != sizeof(*pl) + (dst ? XMEM_NAME_MAX : 0)) {
			expect_error(e, EBADMSG);
			return;
		}
		e->type = XMEM_MSG_REGION_REP;
		e->op = XMEM_REGION_OP_ATTACH;
		unknown = le32toh(pl->reserved) & ~known;
		if (unknown || pl->reserved2) {
			/* As an ERROR_REP or a REGION_REP status. */
			st_add(e, pl->reserved2 ? EBADMSG : EPROTO);
			if (pl->reserved2 && unknown)
				st_add(e, EPROTO);
			e->err_ok = true;
			return;
		}
		/* pull_guard() took FILL away: DST alone is EINVAL. */
		if (dst) {
			st_add(e, EINVAL);
			return;
		}
		/*
		 * A bad source (family, port, address, this appliance itself)
		 * or name is EINVAL; else pull_guard() named an existing
		 * region: EEXIST.  No pull ever starts.
		 */
		st_add(e, EINVAL);
		if ((le16toh(pl->family) == 2 || le16toh(pl->family) == 10) &&
		    pl->port && name_valid(pl->name))
			st_add(e, EEXIST);
		return;
	case MSG_GRANT_REQ:
		expect_grant(e, m, len);
		return;
	case MSG_COPY_REQ: {
		const struct xmem_msg_copy_req *cp = (const void *)m;

		if (len != sizeof(*cp)) {
			expect_error(e, EBADMSG);
			return;
		}
		/*
		 * TEMP is known from minor 8 on, of the appliance and of this
		 * client (which announces XMEM_PROTO_MINOR): before, it is an
		 * unknown flag.
		 */
		known = XMEM_COPY_F_CREATE | XMEM_COPY_F_EXCL;
		if (C.minor >= 8 && XMEM_PROTO_MINOR >= 8)
			known |= COPY_F_TEMP;
		unknown = le32toh(cp->flags) & ~known;
		if (unknown || cp->reserved) {
			/* The order of these two checks is not documented. */
			if (unknown)
				expect_error(e, EPROTO);
			if (cp->reserved)
				expect_error(e, EBADMSG);
			return;
		}
		/*
		 * pull_guard() made the source's name invalid: never a copy,
		 * whatever the flags (TEMP without CREATE and EXCL is EINVAL
		 * too).
		 */
		e->type = XMEM_MSG_REGION_REP;
		e->op = XMEM_REGION_OP_ATTACH;
		snprintf(e->what, sizeof(e->what), "COPY_REQ flags %#x",
			 le32toh(cp->flags));
		st_add(e, EINVAL);
		return;
	}
	}

	/* REGION_REQ */
	if (len != sizeof(*rq)) {
		expect_error(e, EBADMSG);
		return;
	}
	op = le16toh(rq->op);
	flags = le16toh(rq->flags);
	/* @reserved is the hold's token of a SOLE ATTACH (minor 9). */
	reserved_bad = rq->reserved && !(op == XMEM_REGION_OP_ATTACH &&
					 (flags & attach_known() &
					  ATTACH_F_SOLE));
	if (reserved_bad || op == XMEM_REGION_OP_INVALID ||
	    op >= XMEM_REGION_OP_MAX || (op == XMEM_REGION_OP_ATTACH ?
					 flags & ~attach_known() : flags)) {
		/* Which of several problems is reported first is not fixed. */
		if (reserved_bad)
			expect_error(e, EBADMSG);
		if (op == XMEM_REGION_OP_INVALID || op >= XMEM_REGION_OP_MAX)
			expect_error(e, EOPNOTSUPP);
		if (op == XMEM_REGION_OP_ATTACH ? flags & ~attach_known() :
		    flags)
			expect_error(e, EPROTO);
		return;
	}
	e->type = XMEM_MSG_REGION_REP;
	e->op = op;
	size = le64toh(rq->size);
	cursor = le64toh(rq->cursor);
	mode = le32toh(rq->mode);
	uid = le32toh(rq->uid);
	gid = le32toh(rq->gid);
	memcpy(e->name, rq->name, XMEM_NAME_MAX);
	snprintf(e->what, sizeof(e->what), "REGION_REQ op %u %.64s size %#"
		 PRIx64 " flags %#x mode %#o uid %u cursor %" PRIu64, op,
		 rq->name, size, flags, mode, uid, cursor);
	if ((op == XMEM_REGION_OP_NEXT ?
	     !!memcmp(rq->name, (char[XMEM_NAME_MAX]){ 0 }, XMEM_NAME_MAX) :
	     !name_valid(rq->name)) ||
	    ((flags & XMEM_ATTACH_F_EXCL) && !(flags & XMEM_ATTACH_F_CREATE)) ||
	    attach_read_bad(flags) || (mode & ~XMEM_REGION_MODE_MASK) ||
	    ((flags & ATTACH_F_SOLE) && !rq->reserved) ||
	    (mode && !(flags & XMEM_ATTACH_F_CREATE)) ||
	    (cursor && op != XMEM_REGION_OP_NEXT) || size % PAGE || size > TB ||
	    (op == XMEM_REGION_OP_RESIZE && !size) ||
	    (size && op != XMEM_REGION_OP_RESIZE &&
	     op != XMEM_REGION_OP_ATTACH)) {
		st_add(e, EINVAL);
		return;
	}
	r = op == XMEM_REGION_OP_NEXT ? NULL : reg_find(rq->name);
	if (r && !r->exists)
		r = NULL;
	switch (op) {
	case XMEM_REGION_OP_ATTACH:
		expect_attach(e, rq->name, size, flags, mode, uid, gid);
		return;
	case XMEM_REGION_OP_DETACH:
		/* Whether this connection had it attached is not modelled. */
		st_add(e, r ? 0 : ENOENT);
		if (r)
			st_add(e, ENOENT);
		break;
	case XMEM_REGION_OP_RESIZE:
		if (!r) {
			st_add(e, ENOENT);
		} else if (uid && uid != r->uid) {
			st_add(e, EACCES);
		} else if (size > SMALL_MAX) {
			st_add(e, ENOMEM);
		} else {
			st_add(e, 0);
			r->size = size;
		}
		if (r && r->lapsed) {
			/* Refused or not: read the size back afterwards. */
			st_add(e, EBUSY);
			need_resync = true;
		}
		break;
	case XMEM_REGION_OP_DESTROY:
		if (!r) {
			st_add(e, ENOENT);
		} else if (uid && uid != r->uid) {
			st_add(e, EACCES);
		} else {
			st_add(e, 0);
			r->exists = false;
		}
		break;
	case XMEM_REGION_OP_INFO:
		st_add(e, r ? 0 : ENOENT);
		break;
	case XMEM_REGION_OP_NEXT:
		st_add(e, 0);
		st_add(e, ENOENT);
		return;
	}
	if (r)
		e->size = r->size;
}

/* ---- checking answers ---------------------------------------------------- */

static bool all_zero(const void *p, size_t n)
{
	const uint8_t *b = p;

	while (n--)
		if (*b++)
			return false;
	return true;
}

static bool st_ok(const struct expect *e, uint32_t st)
{
	unsigned int i;

	for (i = 0; i < e->nst; i++)
		if (e->st[i] == st)
			return true;
	return false;
}

static void st_list(const struct expect *e, char *buf, size_t n)
{
	unsigned int i;

	buf[0] = '\0';
	for (i = 0; i < e->nst; i++)
		snprintf(buf + strlen(buf), n - strlen(buf), "%s%u", i ? "|" : "",
			 e->st[i]);
}

/*
 * A wrong answer: counted, the first ones printed, and the model is read
 * back from the appliance (resync()) before the fuzz goes on, so that one
 * run finds every kind of failure.  The run fails at the end.
 */
static uint64_t n_mismatch;
static char first_mismatch[600];

__attribute__((format(printf, 1, 2)))
static void mismatch(const char *fmt, ...)
{
	char buf[sizeof(first_mismatch)];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	if (!n_mismatch++)
		snprintf(first_mismatch, sizeof(first_mismatch), "%s", buf);
	if (n_mismatch <= 10)
		tap_diag("FAILED: seed %" PRIu64 ": %s", seed, buf);
	need_resync = true;
}

#define MISMATCH(...) do {						\
	mismatch(__VA_ARGS__);						\
	return;								\
} while (0)

/* Check reply @m of @len bytes against @e. */
static void check_reply(const uint8_t *m, uint32_t len, const struct expect *e,
			const char *sent)
{
	const struct xmem_msg_hdr *h = (const void *)m;
	const struct xmem_msg_region_rep *rr = (const void *)m;
	const struct xmem_msg_attach_rep *ar = (const void *)m;
	const struct xmem_msg_auth_rep *au = (const void *)m;
	const struct xmem_msg_error_rep *er = (const void *)m;
	const struct xmem_msg_stat_rep *sr = (const void *)m;
	uint16_t type;
	uint32_t st = 0, want_len;
	char sts[64];

	st_list(e, sts, sizeof(sts));
	if (len < sizeof(*h))
		MISMATCH("%s: answer of %u bytes", sent, len);
	type = le16toh(h->type);
	if (type != e->type && !(e->err_ok && type == XMEM_MSG_ERROR_REP))
		MISMATCH("%s: answered with type %u, want %u (status %s)", sent,
		     type, e->type, sts);
	if (h->flags || le64toh(h->tag) != e->tag)
		MISMATCH("%s: answer flags %#x tag %" PRIu64 ", want tag %" PRIu64,
		     sent, le16toh(h->flags), (uint64_t)le64toh(h->tag), e->tag);
	switch (type) {
	case XMEM_MSG_ERROR_REP:
		want_len = sizeof(*er);
		st = le32toh(er->status);
		break;
	case XMEM_MSG_STAT_REP:
		want_len = sizeof(*sr);
		if (len == want_len &&
		    (le64toh(sr->bytes_allocated) > le64toh(sr->bytes_capacity) ||
		     !le64toh(sr->bytes_capacity)))
			MISMATCH("%s: STAT_REP %" PRIu64 " of %" PRIu64 " bytes", sent,
			     (uint64_t)le64toh(sr->bytes_allocated),
			     (uint64_t)le64toh(sr->bytes_capacity));
		break;
	case XMEM_MSG_AUTH_REP:
		want_len = sizeof(*au);
		st = le32toh(au->status);
		if (len == want_len && (au->reserved ||
					!all_zero(au->nonce, sizeof(au->nonce)) ||
					!all_zero(au->mac, sizeof(au->mac))))
			MISMATCH("%s: AUTH_REP with nonzero fields", sent);
		break;
	case XMEM_MSG_ATTACH_REP:
		want_len = sizeof(*ar);
		if (len != want_len)
			break;
		st = le32toh(ar->status);
		if (ar->reserved || ar->reserved2)
			MISMATCH("%s: ATTACH_REP reserved fields", sent);
		if (st && !all_zero(&ar->created, sizeof(*ar) -
				    offsetof(struct xmem_msg_attach_rep, created)))
			MISMATCH("%s: ATTACH_REP status %u with nonzero fields", sent,
			     st);
		if (!st && (!ar->region_id || !ar->addr || !ar->rkey ||
			    le64toh(ar->size) != e->size ||
			    (e->created >= 0 &&
			     le32toh(ar->created) != (uint32_t)e->created)))
			MISMATCH("%s: ATTACH_REP id %" PRIu64 " size %" PRIu64
			     " created %u, want size %" PRIu64 " created %d",
			     sent, (uint64_t)le64toh(ar->region_id),
			     (uint64_t)le64toh(ar->size), le32toh(ar->created),
			     e->size, e->created);
		break;
	default:	/* REGION_REP */
		want_len = sizeof(*rr);
		if (len != want_len)
			break;
		st = le32toh(rr->status);
		if (rr->reserved)
			MISMATCH("%s: REGION_REP reserved field", sent);
		if (st) {
			if (!all_zero(&rr->flags, sizeof(*rr) -
				      offsetof(struct xmem_msg_region_rep, flags)))
				MISMATCH("%s: REGION_REP status %u with nonzero "
				     "fields", sent, st);
			break;
		}
		{
			bool keyed = e->op == XMEM_REGION_OP_ATTACH ||
				     e->op == XMEM_REGION_OP_RESIZE;
			uint64_t size = le64toh(rr->size);

			if (!rr->region_id || !size || size % PAGE || size > TB ||
			    keyed != !!rr->addr || (keyed && !rr->rkey) ||
			    (!keyed && rr->rkey) ||
			    le32toh(rr->mode) & ~XMEM_REGION_MODE_MASK ||
			    !name_valid(rr->name) ||
			    (e->op != XMEM_REGION_OP_NEXT &&
			     strncmp(rr->name, e->name, XMEM_NAME_MAX)) ||
			    (e->size && size != e->size) ||
			    le32toh(rr->flags) & ~XMEM_REGION_REP_F_CREATED ||
			    (e->created >= 0 && e->op == XMEM_REGION_OP_ATTACH &&
			     (le32toh(rr->flags) & 1) != (uint32_t)e->created) ||
			    (e->op != XMEM_REGION_OP_ATTACH && rr->flags))
				MISMATCH("%s: implausible REGION_REP: id %" PRIu64
				     " size %" PRIu64 " (want %" PRIu64 ") addr %#"
				     PRIx64 " rkey %#x mode %#o flags %#x name %.64s",
				     sent, (uint64_t)le64toh(rr->region_id), size,
				     e->size, (uint64_t)le64toh(rr->addr),
				     le32toh(rr->rkey), le32toh(rr->mode),
				     le32toh(rr->flags), rr->name);
		}
	}
	if (len != want_len)
		MISMATCH("%s: answer of %u bytes for type %u", sent, len, type);
	if (!st_ok(e, st))
		MISMATCH("%s: status %u, want %s", sent, st, sts);
}

/* ---- driving ------------------------------------------------------------- */

static void connect_good(void)
{
	struct xmem_hello_rep rep;
	struct xmem_hello h = {
		.magic = htole32(XMEM_PROTO_MAGIC),
		.major = htole16(XMEM_PROTO_MAJOR),
		.minor = htole16(XMEM_PROTO_MINOR),
		.credits = htole16(NRX),
	};
	int ret, tries;

	for (tries = 0; tries < 5; tries++) {
		ret = conn_open(&h, sizeof(h), &rep);
		if (!ret)
			break;
		tap_diag("connecting: %d; again", ret);
		sleep(1);	/* xmemd may still be tearing the last one down */
	}
	if (ret)
		bail("cannot connect to %s:%s", addr_s, port_s);
	if (!(le32toh(rep.flags) & XMEM_HELLO_F_AUTH) != !fz_host)
		bail(fz_host ? "--host: the appliance does not authenticate" :
		     "the appliance wants authentication: give --host and --secret-file, or run the fuzzer against one without credentials");
	if (fz_host && !(le32toh(rep.flags) & XMEM_HELLO_F_HOSTS))
		bail("--host: the appliance has no per-host keys");
	if (fz_host && wirec_auth(&C.w, fz_host, fz_key, fz_key_len))
		bail("cannot authenticate as host %s", fz_host);
}

/* Send one message and wait for all answers: a synchronous call. */
static void drain(void);

static void send_msg(const uint8_t *m, uint32_t len, struct expect *e)
{
	if (post_send(m, len)) {
		if (e->drop_ok)
			return;
		bail("posting a send failed");
	}
	fifo[(fifo_head + fifo_len++) % NRX] = *e;
	n_msgs++;
}

static char sent_desc[400];

static void describe(const uint8_t *m, uint32_t len, const struct expect *e)
{
	const struct xmem_msg_hdr *h = (const void *)m;

	if (len >= sizeof(*h))
		snprintf(sent_desc, sizeof(sent_desc), "message %" PRIu64
			 " (%u bytes, type %u flags %#x len %u tag %" PRIu64 "%s%s)",
			 n_msgs, len, le16toh(h->type), le16toh(h->flags),
			 le32toh(h->len), (uint64_t)le64toh(h->tag),
			 e->what[0] ? ", " : "", e->what);
	else
		snprintf(sent_desc, sizeof(sent_desc), "message %" PRIu64
			 " (%u bytes)", n_msgs, len);
}

/* Take one answer off the connection; false if it broke. */
static bool take_reply(void)
{
	struct expect *e = &fifo[fifo_head];
	uint32_t len;
	int slot;

	slot = wait_reply(&len);
	if (slot < 0) {
		if (!e->drop_ok)
			bail("connection lost waiting for the answer to a "
			     "message %s", e->what[0] ? e->what : "(see seed)");
		n_drops++;
		return false;
	}
	snprintf(sent_desc, sizeof(sent_desc), "answer to tag %" PRIu64 " %s",
		 e->tag, e->what);
	/* After a wrong answer, those in flight were predicted wrongly. */
	if (!need_resync)
		check_reply(rx_slot(slot), len, e, sent_desc);
	fifo_head = (fifo_head + 1) % NRX;
	fifo_len--;
	if (wirec_post_recv(&C.w, slot))
		bail("ibv_post_recv failed");
	return true;
}

static void drain(void)
{
	while (fifo_len)
		if (!take_reply())
			break;
}

/* The connection broke (as expected): forget what was in flight, reconnect. */
static void reconnect(void)
{
	unsigned int i;
	uint32_t len;

	/* Whatever the other answers were, they are gone with it. */
	while (C.w.id && poll_once(&len) >= 0)
		;
	fifo_len = 0;
	C.broken = true;
	conn_close();
	n_reconnects++;
	/* What that connection held is in its grace now. */
	for (i = 0; i < nregs; i++) {
		if (regs[i].maybe_held)
			regs[i].lapsed = true;
		regs[i].maybe_held = false;
	}
	connect_good();
}

/* Read the state of every region of the model back from the appliance. */
static void resync(void)
{
	uint8_t m[SLOT];
	struct xmem_msg_region_req *rq = (void *)m;
	const struct xmem_msg_region_rep *rr;
	unsigned int i;
	uint32_t len;
	int slot;

	drain();
	need_resync = false;
	for (i = 0; i < nregs; i++) {
		memset(m, 0, sizeof(m));
		hdr(m, XMEM_MSG_REGION_REQ, sizeof(*rq));
		rq->op = htole16(XMEM_REGION_OP_INFO);
		memcpy(rq->name, regs[i].name, XMEM_NAME_MAX);
		if (post_send(m, sizeof(*rq)) || (slot = wait_reply(&len)) < 0)
			bail("resync: no answer to INFO %.64s", regs[i].name);
		n_msgs++;
		rr = (const void *)rx_slot(slot);
		if (len != sizeof(*rr) ||
		    le16toh(rr->hdr.type) != XMEM_MSG_REGION_REP ||
		    (rr->status && le32toh(rr->status) != ENOENT))
			bail("resync: bad answer to INFO %.64s", regs[i].name);
		regs[i].exists = !rr->status;
		regs[i].size = le64toh(rr->size);
		regs[i].uid = le32toh(rr->uid);
		regs[i].gid = le32toh(rr->gid);
		regs[i].mode = le32toh(rr->mode);
		if (wirec_post_recv(&C.w, slot))
			bail("ibv_post_recv failed");
	}
}

static void rpc(uint8_t *m, uint32_t len)
{
	struct expect e;

	predict(m, len, &e);
	describe(m, len, &e);
	send_msg(m, len, &e);
	drain();
}

static void health_check(const char *anchor)
{
	uint8_t m[SLOT];
	struct xmem_msg_region_req *rq = (void *)m;

	drain();
	memset(m, 0, sizeof(m));
	hdr(m, XMEM_MSG_STAT_REQ, sizeof(struct xmem_msg_stat_req));
	rpc(m, sizeof(struct xmem_msg_stat_req));
	memset(m, 0, sizeof(m));
	hdr(m, XMEM_MSG_REGION_REQ, sizeof(*rq));
	rq->op = htole16(XMEM_REGION_OP_INFO);
	snprintf(rq->name, sizeof(rq->name), "%s", anchor);
	rpc(m, sizeof(*rq));
}

/* Connection requests with mutated hellos; each is one attempt. */
static void fuzz_hello(void)
{
	struct xmem_hello h = {
		.magic = htole32(XMEM_PROTO_MAGIC),
		.major = htole16(XMEM_PROTO_MAJOR),
		.minor = htole16(XMEM_PROTO_MINOR),
		.credits = htole16(NRX),
	}, pad;
	struct xmem_hello_rep rep;
	uint8_t len = sizeof(h);
	bool valid;
	int ret;

	switch (below(7)) {
	case 0: h.magic ^= htole32(1u << below(32)); break;
	case 1: h.major = htole16(chance(50) ? 0 : 2 + below(9)); break;
	case 2: h.minor = htole16(rnd()); break;
	case 3: h.credits = 0; break;
	case 4: h.reserved[below(3)] = htole16(1 + below(99)); break;
	case 5: len = below(sizeof(h)); break;
	default: h.credits = htole16(1 + below(0xffff)); break;
	}
	/* Transports pad private data with zeroes. */
	memset(&pad, 0, sizeof(pad));
	memcpy(&pad, &h, len);
	valid = le32toh(pad.magic) == XMEM_PROTO_MAGIC &&
		le16toh(pad.major) == XMEM_PROTO_MAJOR && pad.credits &&
		!pad.reserved[0] && !pad.reserved[1] && !pad.reserved[2];
	ret = conn_open(len ? (void *)&h : NULL, len, &rep);
	n_hellos++;
	if (valid && ret)
		bail("hello %" PRIu64 " (magic %#x major %u credits %u, %u bytes) "
		     "refused: %d", n_hellos, le32toh(h.magic),
		     le16toh(h.major), le16toh(h.credits), len, ret);
	if (!valid && ret != EPROTO)
		bail("bad hello (magic %#x major %u credits %u reserved %u,%u,%u,"
		     " %u bytes): %s %d, want EPROTO", le32toh(h.magic),
		     le16toh(h.major), le16toh(h.credits), h.reserved[0],
		     h.reserved[1], h.reserved[2], len,
		     ret ? "status" : "accepted", ret);
	if (!ret && (le32toh(rep.magic) != XMEM_PROTO_MAGIC ||
		     le16toh(rep.major) != XMEM_PROTO_MAJOR || !rep.credits))
		bail("accept data magic %#x major %u credits %u",
		     le32toh(rep.magic), le16toh(rep.major),
		     le16toh(rep.credits));
	if (!ret)
		conn_close();
}

int main(int argc, char **argv)
{
	char *env, *colon;
	uint8_t m[SLOT];
	struct xmem_msg_stat_rep *sr;
	bool seeded = false;
	uint64_t h, next_check = CHECK_EVERY;
	const char *pos[2] = { NULL, NULL };
	uint32_t len;
	int slot;
	double t0;
	struct timespec ts;
	unsigned int i;
	int a;

	env = getenv("XMEM_APPLIANCE");
	if (env && *env && (colon = strrchr(env, ':'))) {
		*colon = '\0';
		addr_s = env;
		port_s = colon + 1;
	}
	for (a = 1; a < argc; a++) {
		if (!strcmp(argv[a], "--seed") && a + 1 < argc) {
			seed = strtoull(argv[++a], NULL, 0);
			seeded = true;
		} else if (!strcmp(argv[a], "--count") && a + 1 < argc) {
			count = strtoull(argv[++a], NULL, 0);
		} else if (!strcmp(argv[a], "--hellos") && a + 1 < argc) {
			hellos = strtoull(argv[++a], NULL, 0);
		} else if (!strcmp(argv[a], "--host") && a + 1 < argc) {
			fz_host = argv[++a];
		} else if (!strcmp(argv[a], "--secret-file") && a + 1 < argc) {
			if (wirec_load_key(argv[++a], fz_key, &fz_key_len))
				return 2;
		} else if (argv[a][0] == '-') {
			fprintf(stderr, "Usage: %s [--seed N] [--count N] "
				"[--hellos N] [--host NAME --secret-file FILE] "
				"[ADDR [PORT]]\n", argv[0]);
			return !strcmp(argv[a], "-h") || !strcmp(argv[a], "--help") ?
				0 : 2;
		} else if (!pos[0]) {
			pos[0] = argv[a];
		} else {
			pos[1] = argv[a];
		}
	}
	if (!fz_host != !fz_key_len) {
		fprintf(stderr, "%s: --host and --secret-file go together\n",
			argv[0]);
		return 2;
	}
	if (pos[0])
		addr_s = pos[0];
	if (pos[1])
		port_s = pos[1];
	t0 = now();
	if (!seeded) {
		clock_gettime(CLOCK_REALTIME, &ts);
		seed = ((uint64_t)ts.tv_sec * 1000003u ^ ts.tv_nsec ^ getpid()) %
		       1000000000;
	}
	rs = seed;
	setvbuf(stdout, NULL, _IOLBF, 0);
	tap_diag("xmem-wire-fuzz: --seed %" PRIu64 " --count %" PRIu64
		 " --hellos %" PRIu64 " %s %s", seed, count, hellos, addr_s, port_s);
	snprintf(prefix, sizeof(prefix), "wf%x-", (unsigned int)getpid());
	snprintf(anchor, sizeof(anchor), "%sanchor", prefix);

	connect_good();
	tap_ok(true, "connected to %s:%s, %u requests in flight, protocol 1.%u",
	       addr_s, port_s, C.window, C.minor);
	memset(m, 0, sizeof(m));
	hdr(m, XMEM_MSG_STAT_REQ, sizeof(struct xmem_msg_stat_req));
	if (post_send(m, sizeof(struct xmem_msg_stat_req)) ||
	    (slot = wait_reply(&len)) < 0 || len != sizeof(*sr))
		bail("no answer to STAT_REQ");
	sr = (void *)rx_slot(slot);
	capacity = le64toh(sr->bytes_capacity);
	if (wirec_post_recv(&C.w, slot))
		bail("ibv_post_recv failed");
	if (capacity - le64toh(sr->bytes_allocated) < 64 * SMALL_MAX)
		bail("appliance has %" PRIu64 " bytes free; want 64M",
		     capacity - le64toh(sr->bytes_allocated));
	/* The anchor region: INFO about it must work at every check. */
	{
		struct xmem_msg_region_req *rq = (void *)m;

		memset(m, 0, sizeof(m));
		hdr(m, XMEM_MSG_REGION_REQ, sizeof(*rq));
		rq->op = htole16(XMEM_REGION_OP_ATTACH);
		rq->flags = htole16(XMEM_ATTACH_F_CREATE | XMEM_ATTACH_F_EXCL);
		rq->size = htole64(PAGE);
		snprintf(rq->name, sizeof(rq->name), "%s", anchor);
		rpc(m, sizeof(*rq));
	}

	conn_close();
	for (h = 0; h < hellos; h++)
		fuzz_hello();
	if (hellos)
		tap_ok(true, "%" PRIu64 " mutated hellos answered as expected (%.1f s)",
		       hellos, now() - t0);
	connect_good();

	while (n_msgs < count) {
		struct expect e;
		uint32_t len;

		if (n_msgs >= next_check) {
			health_check(anchor);
			next_check += CHECK_EVERY;
		}
		len = gen_msg(m);
		pull_guard(m, len);
		predict(m, len, &e);
		describe(m, len, &e);
		if (e.drop_ok) {
			/* Alone on the connection: it may not survive. */
			drain();
			send_msg(m, len, &e);
			if (!take_reply())
				reconnect();
			if (need_resync)
				resync();
			continue;
		}
		send_msg(m, len, &e);
		if (fifo_len >= C.window)
			take_reply();
		if (need_resync)
			resync();
	}
	drain();
	if (need_resync)
		resync();
	tap_ok(!n_mismatch, "%" PRIu64 " messages answered as expected (%" PRIu64
	       " wrong answers%s%s)", n_msgs, n_mismatch, n_mismatch ? "; the first: " :
	       "", first_mismatch);

	/* Afterwards: the appliance still answers, our regions go. */
	health_check(anchor);
	for (i = 0; i < nregs; i++) {
		struct xmem_msg_region_req *rq = (void *)m;

		if (!regs[i].exists)
			continue;
		memset(m, 0, sizeof(m));
		hdr(m, XMEM_MSG_REGION_REQ, sizeof(*rq));
		rq->op = htole16(XMEM_REGION_OP_DESTROY);
		memcpy(rq->name, regs[i].name, XMEM_NAME_MAX);
		rpc(m, sizeof(*rq));
	}
	tap_ok(true, "after the fuzz the appliance answers STAT and REGION INFO, "
	       "and destroys our %u regions", nregs);
	conn_close();
	summary();
	tap_diag("%.1f s, %.0f messages/s, %" PRIu64 " health checks",
		 now() - t0, n_msgs / (now() - t0), n_msgs / CHECK_EVERY);
	return tap_done();
}
