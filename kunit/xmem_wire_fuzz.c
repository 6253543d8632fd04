// SPDX-License-Identifier: GPL-2.0
/*
 * KUnit fuzz suite of the wire parsers: the messages the module receives
 * from an appliance.  Valid replies of every type are built, then mutated
 * (wrong length, type, flags, length field and tag, reserved fields,
 * statuses, implausible sizes, addresses, ids, modes and names, random bit
 * flips, random bytes), copied into a heap buffer of exactly their length
 * (so KASAN sees any read past it) and fed to every xmem_wire_parse_*()
 * function and to xmem_wire_reply_tag().
 *
 * Checked: nothing crashes; every result is 0 or a negative errno; a
 * parser accepts only a message of its own type, length, flags and tag,
 * and what it decodes is what the message says and is plausible; a valid
 * template is accepted; a mutation of a checked field is refused; a
 * mutation of an unchecked field is accepted and decoded.  The seed is
 * fixed, so a failure repeats; it is printed with the round number.
 */
#include <kunit/test.h>
#include <linux/mm.h>
#include <linux/overflow.h>
#include <linux/prandom.h>
#include <linux/sched.h>
#include <linux/slab.h>
#include <linux/string.h>

#include "../xmem_wire.h"

#define XWF_SEED	0x786d656d2d66757aULL
/* Buffers per case; every buffer goes to every parser. */
#define XWF_ROUNDS	20000
#define XWF_MAX		320

/* Expected result of the parser a message is made for. */
#define XWF_ANY		1	/* no expectation: random input */
#define XWF_REFUSED	2	/* any error */

enum xwf_kind {
	XWF_HELLO,
	XWF_ATTACH,
	XWF_STAT,
	XWF_REGION,
	XWF_AUTH,
	XWF_ERROR,	/* an ERROR_REP: every typed parser returns -status */
	XWF_RANDOM,
};

/**
 * struct xwf_msg - one input and what must come of it
 * @buf: the bytes
 * @len: how many of them the parsers get
 * @tag: the tag the parsers expect
 * @op: the operation given to xmem_wire_parse_region_rep()
 * @step: the step given to xmem_wire_parse_auth_rep()
 * @kind: the parser the message is made for
 * @want: that parser's result: 0, a negative errno, XWF_ANY or XWF_REFUSED
 * @region: the decoded region, when @want is 0
 * @stat: the decoded totals, when @want is 0
 * @credits: the decoded credits, when @want is 0
 * @nonce: the decoded nonce, when @want is 0
 * @mac: the decoded mac, when @want is 0
 * @what: the mutation, for messages
 */
struct xwf_msg {
	u8 buf[XWF_MAX];
	size_t len;
	u64 tag;
	u16 op;
	u16 step;
	enum xwf_kind kind;
	int want;
	struct xmem_wire_region region;
	struct xmem_wire_stat stat;
	u16 credits;
	u8 nonce[XMEM_AUTH_NONCE_SIZE];
	u8 mac[XMEM_AUTH_MAC_SIZE];
	const char *what;
};

/**
 * struct xwf - the state of one case
 * @test: the test
 * @rnd: the random state
 * @seed: its seed: XWF_SEED plus the case number
 * @round: the current round
 * @buffers: buffers fed so far
 */
struct xwf {
	struct kunit *test;
	struct rnd_state rnd;
	u64 seed;
	unsigned int round;
	unsigned long buffers;
};

static u32 xwf_u32(struct xwf *f)
{
	return prandom_u32_state(&f->rnd);
}

static u64 xwf_u64(struct xwf *f)
{
	return (u64)xwf_u32(f) << 32 | xwf_u32(f);
}

static u32 xwf_below(struct xwf *f, u32 n)
{
	return n ? xwf_u32(f) % n : 0;
}

static bool xwf_chance(struct xwf *f, unsigned int percent)
{
	return xwf_below(f, 100) < percent;
}

static void xwf_hdr(struct xwf_msg *m, u16 type, u32 len)
{
	struct xmem_msg_hdr *h = (void *)m->buf;

	h->type = cpu_to_le16(type);
	h->flags = 0;
	h->len = cpu_to_le32(len);
	h->tag = cpu_to_le64(m->tag);
	m->len = len;
}

static const char xwf_chars[] =
	"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._-";

/* A valid region name of 1 to 63 characters, NUL padded. */
static void xwf_name(struct xwf *f, char *name)
{
	unsigned int len = 1 + xwf_below(f, XMEM_NAME_MAX - 1), i;

	memset(name, 0, XMEM_NAME_MAX);
	for (i = 0; i < len; i++)
		name[i] = xwf_chars[xwf_below(f, sizeof(xwf_chars) - 1)];
	if (!strcmp(name, ".") || !strcmp(name, ".."))
		name[0] = 'x';
}

/* A plausible region: page-aligned size up to the maximum, no overflow. */
static void xwf_region(struct xwf *f, struct xmem_wire_region *r, bool keyed)
{
	memset(r, 0, sizeof(*r));
	r->region_id = xwf_u64(f) | 1;
	r->size = ((u64)(1 + xwf_below(f, 1u << 20)) << PAGE_SHIFT) <<
		  xwf_below(f, 9);
	if (r->size > XMEM_REGION_MAX_BYTES)
		r->size = XMEM_REGION_MAX_BYTES;
	if (keyed) {
		r->addr = xwf_u64(f) & ((1ULL << 56) - 1);
		r->rkey = xwf_u32(f);
	}
}

/* ---- valid templates ---------------------------------------------------- */

static void xwf_hello(struct xwf *f, struct xwf_msg *m)
{
	struct xmem_hello_rep *rep = (void *)m->buf;
	u16 status = xwf_chance(f, 20) ? 1 + xwf_below(f, MAX_ERRNO - 1) : 0;

	m->kind = XWF_HELLO;
	m->len = sizeof(*rep);
	rep->magic = cpu_to_le32(XMEM_PROTO_MAGIC);
	rep->major = cpu_to_le16(XMEM_PROTO_MAJOR);
	rep->minor = cpu_to_le16(xwf_below(f, 4));
	m->credits = 1 + xwf_below(f, 0xffff);
	rep->credits = cpu_to_le16(m->credits);
	rep->status = cpu_to_le16(status);
	rep->flags = cpu_to_le32(xwf_below(f, XMEM_HELLO_F_ALL + 1));
	m->want = -(int)status;
	m->what = status ? "hello reject" : "hello accept";
}

static void xwf_attach(struct xwf *f, struct xwf_msg *m)
{
	struct xmem_msg_attach_rep *rep = (void *)m->buf;

	m->kind = XWF_ATTACH;
	xwf_hdr(m, XMEM_MSG_ATTACH_REP, sizeof(*rep));
	if (xwf_chance(f, 20)) {
		m->want = -(int)(1 + xwf_below(f, MAX_ERRNO - 1));
		rep->status = cpu_to_le32(-m->want);
		m->what = "attach refused";
		return;
	}
	xwf_region(f, &m->region, true);
	m->region.created = xwf_below(f, 2);
	rep->created = cpu_to_le32(m->region.created);
	rep->region_id = cpu_to_le64(m->region.region_id);
	rep->size = cpu_to_le64(m->region.size);
	rep->addr = cpu_to_le64(m->region.addr);
	rep->rkey = cpu_to_le32(m->region.rkey);
	m->want = 0;
	m->what = "attach";
}

static void xwf_stat(struct xwf *f, struct xwf_msg *m)
{
	struct xmem_msg_stat_rep *rep = (void *)m->buf;

	m->kind = XWF_STAT;
	xwf_hdr(m, XMEM_MSG_STAT_REP, sizeof(*rep));
	m->stat.regions = xwf_u64(f) >> xwf_below(f, 64);
	m->stat.bytes_allocated = xwf_u64(f) >> xwf_below(f, 64);
	m->stat.bytes_capacity = xwf_u64(f) >> xwf_below(f, 64);
	rep->regions = cpu_to_le64(m->stat.regions);
	rep->bytes_allocated = cpu_to_le64(m->stat.bytes_allocated);
	rep->bytes_capacity = cpu_to_le64(m->stat.bytes_capacity);
	m->want = 0;
	m->what = "stat";
}

static bool xwf_keyed(u16 op)
{
	return op == XMEM_REGION_OP_ATTACH || op == XMEM_REGION_OP_RESIZE;
}

static void xwf_region_rep(struct xwf *f, struct xwf_msg *m)
{
	struct xmem_msg_region_rep *rep = (void *)m->buf;
	struct xmem_wire_region *r = &m->region;

	m->kind = XWF_REGION;
	m->op = 1 + xwf_below(f, XMEM_REGION_OP_MAX - 1);
	xwf_hdr(m, XMEM_MSG_REGION_REP, sizeof(*rep));
	if (xwf_chance(f, 20)) {
		m->want = -(int)(1 + xwf_below(f, MAX_ERRNO - 1));
		rep->status = cpu_to_le32(-m->want);
		m->what = "region refused";
		return;
	}
	xwf_region(f, r, xwf_keyed(m->op));
	r->created = m->op == XMEM_REGION_OP_ATTACH && xwf_below(f, 2);
	r->mode = xwf_below(f, XMEM_REGION_MODE_MASK + 1);
	r->uid = xwf_u32(f);
	r->gid = xwf_u32(f);
	r->users = xwf_u32(f);
	xwf_name(f, r->name);
	rep->flags = cpu_to_le32(r->created ? XMEM_REGION_REP_F_CREATED : 0);
	rep->region_id = cpu_to_le64(r->region_id);
	rep->size = cpu_to_le64(r->size);
	rep->addr = cpu_to_le64(r->addr);
	rep->rkey = cpu_to_le32(r->rkey);
	rep->mode = cpu_to_le32(r->mode);
	rep->uid = cpu_to_le32(r->uid);
	rep->gid = cpu_to_le32(r->gid);
	rep->users = cpu_to_le32(r->users);
	memcpy(rep->name, r->name, sizeof(rep->name));
	m->want = 0;
	m->what = "region";
}

static void xwf_auth(struct xwf *f, struct xwf_msg *m)
{
	struct xmem_msg_auth_rep *rep = (void *)m->buf;

	m->kind = XWF_AUTH;
	m->step = 1 + xwf_below(f, 2);
	xwf_hdr(m, XMEM_MSG_AUTH_REP, sizeof(*rep));
	if (xwf_chance(f, 30)) {
		m->want = -(int)(1 + xwf_below(f, MAX_ERRNO - 1));
		rep->status = cpu_to_le32(-m->want);
		m->what = "auth refused";
		return;
	}
	if (m->step == 1) {
		prandom_bytes_state(&f->rnd, m->nonce, sizeof(m->nonce));
		prandom_bytes_state(&f->rnd, m->mac, sizeof(m->mac));
		memcpy(rep->nonce, m->nonce, sizeof(rep->nonce));
		memcpy(rep->mac, m->mac, sizeof(rep->mac));
	}
	m->want = 0;
	m->what = "auth";
}

static void xwf_error(struct xwf *f, struct xwf_msg *m)
{
	struct xmem_msg_error_rep *rep = (void *)m->buf;

	m->kind = XWF_ERROR;
	xwf_hdr(m, XMEM_MSG_ERROR_REP, sizeof(*rep));
	m->want = -(int)(1 + xwf_below(f, MAX_ERRNO - 1));
	rep->status = cpu_to_le32(-m->want);
	m->op = 1 + xwf_below(f, XMEM_REGION_OP_MAX - 1);
	m->step = 1 + xwf_below(f, 2);
	m->what = "error";
}

/* ---- mutations ------------------------------------------------------------ */

/* A value an implausible region size takes. */
static u64 xwf_bad_size(struct xwf *f)
{
	static const u64 v[] = {
		0, 1, PAGE_SIZE - 1, PAGE_SIZE + 1, XMEM_REGION_MAX_BYTES + PAGE_SIZE,
		U64_MAX, U64_MAX & PAGE_MASK, 1ULL << 63,
	};

	return v[xwf_below(f, ARRAY_SIZE(v))];
}

static const char xwf_bad_chars[] = {
	'/', ' ', '\n', '\\', (char)0x80, (char)0xff, ':',
};

/* A name buffer that is not a valid, NUL-padded name. */
static void xwf_bad_name(struct xwf *f, char *name)
{
	size_t len = strnlen(name, XMEM_NAME_MAX);

	switch (xwf_below(f, 6)) {
	case 0:
		memset(name, 0, XMEM_NAME_MAX);
		break;
	case 1:
		memset(name, 'a', XMEM_NAME_MAX);
		break;
	case 2:
		memset(name, 0, XMEM_NAME_MAX);
		strscpy(name, xwf_chance(f, 50) ? "." : "..", XMEM_NAME_MAX);
		break;
	case 3:
		name[xwf_below(f, len)] = xwf_bad_chars[xwf_below(f, 7)];
		break;
	case 4:
		if (len < XMEM_NAME_MAX - 1) {
			name[len + 1 + xwf_below(f, XMEM_NAME_MAX - len - 1)] = 'z';
			break;
		}
		fallthrough;
	default:
		name[XMEM_NAME_MAX - 1] = 'q';
		break;
	}
}

/*
 * Mutate @m in a way its parser must refuse (want stays XWF_REFUSED or an
 * exact error), accept (want 0, decoded values updated), or not predict.
 */
static void xwf_mutate(struct xwf *f, struct xwf_msg *m)
{
	struct xmem_msg_hdr *h = (void *)m->buf;
	struct xmem_msg_attach_rep *ar = (void *)m->buf;
	struct xmem_msg_region_rep *rr = (void *)m->buf;
	struct xmem_msg_auth_rep *au = (void *)m->buf;
	struct xmem_msg_error_rep *er = (void *)m->buf;
	struct xmem_hello_rep *hr = (void *)m->buf;
	bool ok = m->want == 0;
	unsigned int i, n;
	u64 v;

	if (m->kind == XWF_HELLO) {
		switch (xwf_below(f, 8)) {
		case 0:
			hr->magic ^= cpu_to_le32(BIT(xwf_below(f, 32)));
			m->want = -EPROTO;
			m->what = "hello magic";
			break;
		case 1:
			hr->major = cpu_to_le16(XMEM_PROTO_MAJOR + 1 +
						xwf_below(f, 100));
			m->want = -EPROTO;
			m->what = "hello major";
			break;
		case 2:
			/* A bit no XMEM_HELLO_F_* flag uses. */
			hr->flags |= cpu_to_le32(BIT(fls(XMEM_HELLO_F_ALL) +
						      xwf_below(f, 32 - fls(XMEM_HELLO_F_ALL))));
			m->want = -EPROTO;
			m->what = "hello flags";
			break;
		case 3:
			m->len = xwf_below(f, sizeof(*hr));
			m->want = -EPROTO;
			m->what = "hello short";
			break;
		case 4:
			if (!ok)
				return;
			hr->credits = 0;
			m->want = -EPROTO;
			m->what = "hello no credits";
			break;
		case 5:
			hr->status = cpu_to_le16(MAX_ERRNO + xwf_below(f, 0x10000 -
								   MAX_ERRNO));
			m->want = -EPROTO;
			m->what = "hello status";
			break;
		case 6:		/* padding is fine */
			n = sizeof(*hr) + 1 + xwf_below(f, 40);
			for (i = m->len; i < n; i++)
				m->buf[i] = xwf_u32(f);
			m->len = n;
			m->what = "hello padded";
			break;
		default:
			hr->minor = cpu_to_le16(xwf_u32(f));
			m->what = "hello minor";
			break;
		}
		return;
	}

	switch (xwf_below(f, 14)) {
	case 0:		/* truncated or padded */
		n = m->len;
		do
			m->len = xwf_below(f, XWF_MAX);
		while (m->len == n);
		for (i = n; i < m->len; i++)
			m->buf[i] = xwf_u32(f);
		m->want = -EBADMSG;
		m->what = "length";
		return;
	case 1:
		v = le16_to_cpu(h->type);
		h->type = cpu_to_le16(v ^ (1 + xwf_below(f, 0xffff)));
		if (le16_to_cpu(h->type) == XMEM_MSG_ERROR_REP &&
		    m->len == sizeof(*er))
			m->want = XWF_ANY;
		else
			m->want = -EBADMSG;
		m->what = "type";
		return;
	case 2:
		h->flags = cpu_to_le16(BIT(xwf_below(f, 16)));
		m->want = -EBADMSG;
		m->what = "header flags";
		return;
	case 3:
		h->len = cpu_to_le32(le32_to_cpu(h->len) ^
				     (1 + xwf_below(f, U32_MAX)));
		m->want = -EBADMSG;
		m->what = "length field";
		return;
	case 4:
		m->tag ^= 1ULL << xwf_below(f, 64);
		m->want = -EBADMSG;
		m->what = "tag";
		return;
	case 5:		/* a few bit flips anywhere */
		n = 1 + xwf_below(f, 8);
		for (i = 0; i < n; i++)
			m->buf[xwf_below(f, m->len ? m->len : 1)] ^=
				BIT(xwf_below(f, 8));
		m->want = XWF_ANY;
		m->what = "bit flips";
		return;
	}

	/* Fields of the type's own. */
	switch (m->kind) {
	case XWF_ERROR:
		if (xwf_chance(f, 50)) {
			er->reserved = cpu_to_le32(BIT(xwf_below(f, 32)));
			m->what = "error reserved";
		} else {
			er->status = cpu_to_le32(xwf_chance(f, 20) ? 0 :
						 MAX_ERRNO + xwf_below(f, 1000));
			m->what = "error status";
		}
		/* A status 0 is no ERROR_REP: the wrong type, refused too. */
		m->want = -EBADMSG;
		return;
	case XWF_STAT:
		/* Nothing but the header is checked: the totals are data. */
		m->stat.regions = xwf_u64(f);
		((struct xmem_msg_stat_rep *)m->buf)->regions =
			cpu_to_le64(m->stat.regions);
		m->what = "stat regions";
		return;
	case XWF_AUTH:
		if (!ok || m->step != 1 || xwf_chance(f, 50)) {
			if (xwf_chance(f, 50)) {
				au->reserved = cpu_to_le32(1 + xwf_below(f, 99));
				m->what = "auth reserved";
				m->want = -EBADMSG;
			} else if (!ok || m->step != 1) {
				au->mac[xwf_below(f, sizeof(au->mac))] |= 1;
				m->what = "auth mac where none may be";
				m->want = -EBADMSG;
			} else {
				au->status = cpu_to_le32(MAX_ERRNO +
							 xwf_below(f, 100));
				m->what = "auth status";
				m->want = -EBADMSG;
			}
			return;
		}
		/* Step 1: the nonce and mac are the appliance's to choose. */
		m->nonce[xwf_below(f, sizeof(m->nonce))] ^= 0x5a;
		memcpy(au->nonce, m->nonce, sizeof(au->nonce));
		m->what = "auth nonce";
		return;
	case XWF_ATTACH:
		if (!ok) {
			if (xwf_chance(f, 50))
				ar->rkey = cpu_to_le32(1 + xwf_below(f, 100));
			else
				ar->status = cpu_to_le32(MAX_ERRNO +
							 xwf_below(f, 1000));
			m->want = -EBADMSG;
			m->what = "attach refusal with fields";
			return;
		}
		switch (xwf_below(f, 8)) {
		case 0:
			ar->reserved = cpu_to_le64(BIT_ULL(xwf_below(f, 64)));
			m->what = "attach reserved";
			break;
		case 1:
			ar->reserved2 = cpu_to_le32(BIT(xwf_below(f, 32)));
			m->what = "attach reserved2";
			break;
		case 2:
			ar->size = cpu_to_le64(xwf_bad_size(f));
			m->what = "attach size";
			break;
		case 3:
			ar->addr = cpu_to_le64(U64_MAX -
					       xwf_below(f, m->region.size));
			m->what = "attach addr + size overflows";
			break;
		case 4:
			ar->region_id = 0;
			m->what = "attach id 0";
			break;
		case 5:
			ar->created = cpu_to_le32(2 + xwf_below(f, 1000));
			m->what = "attach created";
			break;
		default:	/* unchecked: the key */
			m->region.rkey = xwf_u32(f);
			ar->rkey = cpu_to_le32(m->region.rkey);
			m->what = "attach rkey";
			return;
		}
		m->want = -EBADMSG;
		return;
	case XWF_REGION:
		if (!ok) {
			rr->name[xwf_below(f, sizeof(rr->name))] |= 1;
			m->want = -EBADMSG;
			m->what = "region refusal with fields";
			return;
		}
		switch (xwf_below(f, 12)) {
		case 0:
			rr->reserved = cpu_to_le32(BIT(xwf_below(f, 32)));
			m->what = "region reserved";
			break;
		case 1:
			rr->size = cpu_to_le64(xwf_bad_size(f));
			m->what = "region size";
			break;
		case 2:
			rr->addr = cpu_to_le64(U64_MAX -
					       xwf_below(f, m->region.size));
			m->what = "region addr + size overflows";
			break;
		case 3:
			rr->region_id = 0;
			m->what = "region id 0";
			break;
		case 4:
			rr->flags |= cpu_to_le32(BIT(1 + xwf_below(f, 31)));
			m->what = "region flags";
			break;
		case 5:
			rr->mode = cpu_to_le32(BIT(9 + xwf_below(f, 23)));
			m->what = "region mode";
			break;
		case 6:
			xwf_bad_name(f, rr->name);
			m->what = "region name";
			break;
		case 7:
			if (xwf_keyed(m->op)) {
				/* A keyed answer for an op without a key. */
				m->op = XMEM_REGION_OP_INFO +
					xwf_below(f, 2);
				rr->rkey |= cpu_to_le32(1);
				m->what = "region key for INFO/NEXT";
			} else {
				rr->rkey = cpu_to_le32(1 + xwf_below(f, 99));
				m->what = "region key where none may be";
			}
			break;
		case 8:
			if (m->op == XMEM_REGION_OP_ATTACH) {
				rr->flags = cpu_to_le32(XMEM_REGION_REP_F_CREATED);
				m->op = XMEM_REGION_OP_DETACH +
					xwf_below(f, XMEM_REGION_OP_MAX - 2);
			} else {
				rr->flags = cpu_to_le32(XMEM_REGION_REP_F_CREATED);
			}
			m->what = "region created for another op";
			break;
		default:	/* unchecked: owner, group, users */
			m->region.uid = xwf_u32(f);
			m->region.gid = xwf_u32(f);
			m->region.users = xwf_u32(f);
			rr->uid = cpu_to_le32(m->region.uid);
			rr->gid = cpu_to_le32(m->region.gid);
			rr->users = cpu_to_le32(m->region.users);
			m->what = "region owner";
			return;
		}
		m->want = -EBADMSG;
		return;
	default:
		return;
	}
}

/* Random bytes, sometimes behind a header that looks right. */
static void xwf_random(struct xwf *f, struct xwf_msg *m)
{
	static const u16 sizes[] = {
		sizeof(struct xmem_msg_attach_rep),
		sizeof(struct xmem_msg_stat_rep),
		sizeof(struct xmem_msg_region_rep),
		sizeof(struct xmem_msg_auth_rep),
		sizeof(struct xmem_msg_error_rep),
		sizeof(struct xmem_hello_rep),
	};

	m->kind = XWF_RANDOM;
	m->want = XWF_ANY;
	m->what = "random";
	m->len = xwf_chance(f, 50) ? sizes[xwf_below(f, ARRAY_SIZE(sizes))] :
		 xwf_below(f, XWF_MAX);
	prandom_bytes_state(&f->rnd, m->buf, m->len);
	m->op = xwf_below(f, XMEM_REGION_OP_MAX + 1);
	m->step = xwf_below(f, 4);
	if (m->len >= sizeof(struct xmem_msg_hdr) && xwf_chance(f, 50)) {
		xwf_hdr(m, 1 + xwf_below(f, 9), m->len);
		/* Zeroes are what most checked fields want. */
		if (m->len > sizeof(struct xmem_msg_hdr) && xwf_chance(f, 50))
			memset(m->buf + sizeof(struct xmem_msg_hdr), 0,
			       xwf_below(f, m->len - sizeof(struct xmem_msg_hdr)));
	}
}

/* ---- feeding the parsers ---------------------------------------------- */

/* Fail the case unless @cond, saying which round and input it was. */
static __printf(4, 5)
void xwf_expect(struct xwf *f, const struct xwf_msg *m, bool cond,
		const char *fmt, ...)
{
	char why[160];
	va_list ap;

	if (cond)
		return;
	va_start(ap, fmt);
	vsnprintf(why, sizeof(why), fmt, ap);
	va_end(ap);
	KUNIT_ASSERT_TRUE_MSG(f->test, cond, "seed %#llx round %u (%s, %zu bytes): %s",
			      f->seed, f->round, m->what, m->len, why);
}

/* A result any parser may give: 0 or a negative errno. */
static bool xwf_sane(int ret)
{
	return ret <= 0 && ret > -MAX_ERRNO;
}

/* Did a parser that accepted @buf check its header? */
static bool xwf_hdr_ok(const u8 *buf, size_t len, u16 type, size_t size,
		       u64 tag)
{
	const struct xmem_msg_hdr *h = (const void *)buf;

	return len == size && le16_to_cpu(h->type) == type && !h->flags &&
	       le32_to_cpu(h->len) == size && le64_to_cpu(h->tag) == tag;
}

static bool xwf_region_plausible(const struct xmem_wire_region *r)
{
	u64 end;

	return r->region_id && r->size && IS_ALIGNED(r->size, PAGE_SIZE) &&
	       r->size <= XMEM_REGION_MAX_BYTES &&
	       !check_add_overflow(r->addr, r->size, &end);
}

/* The result of the parser @m is made for, against @m->want. */
static void xwf_judge(struct xwf *f, struct xwf_msg *m, enum xwf_kind kind,
		      int ret)
{
	xwf_expect(f, m, xwf_sane(ret), "parser %d returned %d", kind, ret);
	if (m->kind == XWF_ERROR && kind != XWF_HELLO && m->want != XWF_ANY) {
		xwf_expect(f, m, ret == m->want, "parser %d: %d, want %d",
			   kind, ret, m->want);
		return;
	}
	if (kind != m->kind || m->want == XWF_ANY)
		return;
	if (m->want == XWF_REFUSED)
		xwf_expect(f, m, ret, "parser %d accepted it", kind);
	else
		xwf_expect(f, m, ret == m->want, "parser %d: %d, want %d",
			   kind, ret, m->want);
}

static void xwf_feed(struct xwf *f, struct xwf_msg *m)
{
	struct xmem_wire_region r;
	struct xmem_wire_stat st;
	u8 nonce[XMEM_AUTH_NONCE_SIZE], mac[XMEM_AUTH_MAC_SIZE];
	u16 credits;
	u64 tag;
	u8 *p;
	int ret;

	/* Exactly @len bytes: KASAN reports a read past them. */
	p = kmemdup(m->buf, m->len, GFP_KERNEL);
	KUNIT_ASSERT_TRUE(f->test, p || !m->len);
	f->buffers++;

	ret = xmem_wire_parse_hello_rep(p, m->len, &credits);
	xwf_judge(f, m, XWF_HELLO, ret);
	if (!ret) {
		const struct xmem_hello_rep *hr = (const void *)p;

		xwf_expect(f, m, m->len >= sizeof(*hr) &&
			   le32_to_cpu(hr->magic) == XMEM_PROTO_MAGIC &&
			   le16_to_cpu(hr->major) == XMEM_PROTO_MAJOR &&
			   !hr->status && credits &&
			   credits == le16_to_cpu(hr->credits) &&
			   !(xmem_wire_hello_flags(p) & ~XMEM_HELLO_F_ALL),
			   "implausible hello accepted");
		if (m->kind == XWF_HELLO && m->want == 0)
			xwf_expect(f, m, credits == m->credits,
				   "credits %u, want %u", credits, m->credits);
	}

	/* Zeroed, so that the decoded regions compare with memcmp(). */
	memset(&r, 0, sizeof(r));
	ret = xmem_wire_parse_attach_rep(p, m->len, m->tag, &r);
	xwf_judge(f, m, XWF_ATTACH, ret);
	if (!ret) {
		xwf_expect(f, m, xwf_hdr_ok(p, m->len, XMEM_MSG_ATTACH_REP,
					    sizeof(struct xmem_msg_attach_rep),
					    m->tag) && xwf_region_plausible(&r),
			   "implausible ATTACH_REP accepted");
		if (m->kind == XWF_ATTACH && m->want == 0)
			xwf_expect(f, m, r.region_id == m->region.region_id &&
				   r.size == m->region.size &&
				   r.addr == m->region.addr &&
				   r.rkey == m->region.rkey &&
				   r.created == m->region.created,
				   "ATTACH_REP decoded wrong");
	}

	ret = xmem_wire_parse_stat_rep(p, m->len, m->tag, &st);
	xwf_judge(f, m, XWF_STAT, ret);
	if (!ret) {
		xwf_expect(f, m, xwf_hdr_ok(p, m->len, XMEM_MSG_STAT_REP,
					    sizeof(struct xmem_msg_stat_rep),
					    m->tag), "bad STAT_REP accepted");
		if (m->kind == XWF_STAT && m->want == 0)
			xwf_expect(f, m, !memcmp(&st, &m->stat, sizeof(st)),
				   "STAT_REP decoded wrong");
	}

	memset(&r, 0, sizeof(r));
	ret = xmem_wire_parse_region_rep(p, m->len, m->tag, m->op, &r);
	xwf_judge(f, m, XWF_REGION, ret);
	if (!ret) {
		bool keyed = xwf_keyed(m->op);

		xwf_expect(f, m, xwf_hdr_ok(p, m->len, XMEM_MSG_REGION_REP,
					    sizeof(struct xmem_msg_region_rep),
					    m->tag) && xwf_region_plausible(&r) &&
			   !xmem_wire_check_name(r.name, sizeof(r.name)) &&
			   !(r.mode & ~XMEM_REGION_MODE_MASK) &&
			   (keyed || (!r.addr && !r.rkey)) &&
			   (!r.created || m->op == XMEM_REGION_OP_ATTACH),
			   "implausible REGION_REP accepted (op %u)", m->op);
		if (m->kind == XWF_REGION && m->want == 0)
			xwf_expect(f, m, !memcmp(&r, &m->region, sizeof(r)),
				   "REGION_REP decoded wrong");
	}

	ret = xmem_wire_parse_auth_rep(p, m->len, m->tag, m->step, nonce, mac);
	xwf_judge(f, m, XWF_AUTH, ret);
	if (!ret) {
		xwf_expect(f, m, xwf_hdr_ok(p, m->len, XMEM_MSG_AUTH_REP,
					    sizeof(struct xmem_msg_auth_rep),
					    m->tag),
			   "bad AUTH_REP accepted (step %u)", m->step);
		if (m->kind == XWF_AUTH && m->want == 0 && m->step == 1)
			xwf_expect(f, m, !memcmp(nonce, m->nonce, sizeof(nonce)) &&
				   !memcmp(mac, m->mac, sizeof(mac)),
				   "AUTH_REP decoded wrong");
	}

	ret = xmem_wire_reply_tag(p, m->len, &tag);
	xwf_expect(f, m, m->len < sizeof(struct xmem_msg_hdr) ?
		   ret == -EBADMSG : !ret && tag ==
		   le64_to_cpu(((const struct xmem_msg_hdr *)p)->tag),
		   "reply_tag: %d", ret);
	kfree(p);
}

/* @rounds messages from @build, a third of them unmutated. */
static void xwf_run(struct kunit *test, unsigned int nr,
		    void (*build)(struct xwf *f, struct xwf_msg *m))
{
	struct xwf_msg *m;
	struct xwf f = { .test = test };

	m = kunit_kzalloc(test, sizeof(*m), GFP_KERNEL);
	KUNIT_ASSERT_NOT_NULL(test, m);
	f.seed = XWF_SEED + nr;
	prandom_seed_state(&f.rnd, f.seed);
	for (f.round = 0; f.round < XWF_ROUNDS; f.round++) {
		memset(m, 0, sizeof(*m));
		m->tag = xwf_u64(&f);
		build(&f, m);
		if (m->kind != XWF_RANDOM && xwf_below(&f, 3))
			xwf_mutate(&f, m);
		xwf_feed(&f, m);
		if (!(f.round % 256))
			cond_resched();
	}
	kunit_info(test, "seed %#llx: %lu buffers to every parser\n",
		   XWF_SEED + nr, f.buffers);
}

static void xmem_wire_fuzz_hello(struct kunit *test)
{
	xwf_run(test, 0, xwf_hello);
}

static void xmem_wire_fuzz_attach(struct kunit *test)
{
	xwf_run(test, 1, xwf_attach);
}

static void xmem_wire_fuzz_stat(struct kunit *test)
{
	xwf_run(test, 2, xwf_stat);
}

static void xmem_wire_fuzz_region(struct kunit *test)
{
	xwf_run(test, 3, xwf_region_rep);
}

static void xmem_wire_fuzz_auth(struct kunit *test)
{
	xwf_run(test, 4, xwf_auth);
}

static void xmem_wire_fuzz_error(struct kunit *test)
{
	xwf_run(test, 5, xwf_error);
}

static void xmem_wire_fuzz_random(struct kunit *test)
{
	xwf_run(test, 6, xwf_random);
}

static struct kunit_case xmem_wire_fuzz_cases[] = {
	KUNIT_CASE_SLOW(xmem_wire_fuzz_hello),
	KUNIT_CASE_SLOW(xmem_wire_fuzz_attach),
	KUNIT_CASE_SLOW(xmem_wire_fuzz_stat),
	KUNIT_CASE_SLOW(xmem_wire_fuzz_region),
	KUNIT_CASE_SLOW(xmem_wire_fuzz_auth),
	KUNIT_CASE_SLOW(xmem_wire_fuzz_error),
	KUNIT_CASE_SLOW(xmem_wire_fuzz_random),
	{}
};

static struct kunit_suite xmem_wire_fuzz_suite = {
	.name = "xmem_wire_fuzz",
	.test_cases = xmem_wire_fuzz_cases,
};

kunit_test_suite(xmem_wire_fuzz_suite);
