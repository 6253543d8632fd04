// SPDX-License-Identifier: GPL-2.0
/*
 * xmem-wire-attack: what a host can do with a region key it has learnt.
 *
 * A victim connection creates a region and writes a pattern into it; an
 * attacker with a connection of its own (another host, or any program on
 * a client that can open the RDMA devices) knows the region's address and
 * remote key, as a debug dump or a sniffed reply would tell it.  The
 * appliance must make that knowledge useless: every connection has its own
 * protection domain, and keys go with the attachment.
 *
 * Tests (TAP on stdout):
 *  - the attacker's RDMA READ and RDMA WRITE with the victim's key fail
 *    with a remote access error, from a connection with no region and from
 *    one with a region of its own; the victim's data is unchanged;
 *  - after DETACH the victim's old key fails on the victim's own
 *    connection; after a shrink (RESIZE) the old key fails too;
 *  - the region and its data are still there for the next ATTACH.
 * Then it measures, as diagnostics, ATTACH+DETACH of a region against an
 * INFO round trip on the same connection (--bench N pairs, default 40).
 *
 * With --host and --attacker-host the victim and the attacker
 * authenticate as two hosts of the appliance's --hosts list, each with its
 * own key (--secret-file, --attacker-secret-file).
 *
 * usage: xmem-wire-attack [--host NAME] [--secret-file F]
 *			   [--attacker-host NAME] [--attacker-secret-file F]
 *			   [--bench N] [--bench-size BYTES] ADDR PORT
 *	  xmem-wire-attack --probe [--minor N] [--host NAME]
 *			   [--secret-file F] [--act-for HOST] ADDR PORT
 * Exit status: 0 all passed, 1 a test failed, 2 usage or setup error.
 * --probe only connects (announcing protocol minor N), authenticates and
 * asks for STAT: exit 0, 13 (EACCES: credentials refused) or 1.  With
 * --create NAME SIZE it then creates region NAME of SIZE bytes as --uid
 * (default 1000) and detaches it; with --info NAME it asks about NAME;
 * with --attach NAME it attaches the existing region NAME as --uid and
 * detaches it; --destroy NAME destroys it as --uid; --grant NAME
 * HOST[:UID] and --revoke NAME HOST[:UID] grant or revoke as --uid
 * (protocol minor 5); --copy SRC DST copies SRC into a new region DST as
 * --uid, --copy-into SRC DST into the existing region DST; --pull NAME
 * SADDR:SPORT has the appliance copy region NAME from the appliance at
 * SADDR:SPORT (PULL, detached again once done); the exit status is the
 * REGION_REP status (0, or an errno value).  --act-for HOST first asks
 * to act for client host HOST (protocol minor 6, as an appliance that
 * pulls does); a refusal ends the probe with its status.
 */
#define _GNU_SOURCE
#include <endian.h>
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "xmem_proto.h"
#include "tap.h"
#include "wirec.h"

#define WA_TIMEOUT_MS	30000
#define WA_NRX		8
#define WA_NTX		8
#define WA_SIZE		(1024 * 1024)
#define WA_DATA		(64 * 1024)

static struct sockaddr_storage wa_ss;
static uint8_t wa_key[XMEM_AUTH_SECRET_MAX], wa_akey[XMEM_AUTH_SECRET_MAX];
static size_t wa_key_len, wa_akey_len;
static const char *wa_host, *wa_ahost, *wa_create, *wa_info, *wa_act_for;
/* --attach, --destroy, --grant, --revoke, --copy, --copy-into, --pull:
 * the option and its two arguments (the second for --grant, --revoke, the
 * copies and --pull only).
 */
static const char *wa_op, *wa_arg1, *wa_arg2;
static uint64_t wa_create_size;
static uint32_t wa_uid = 1000;
static unsigned int wa_minor = XMEM_PROTO_MINOR;

static double wa_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

/*
 * Connect and authenticate as @host with @key where the appliance asks;
 * 0, or -1 (-EACCES when the credentials were refused).
 */
static int wa_connect_as(struct wirec *c, const char *host,
			 const uint8_t *key, size_t key_len)
{
	struct wirec_opts o = {
		.nrx = WA_NRX,
		.ntx = WA_NTX,
		.slot = 1024,
		.extra = WA_DATA,
		.send_extra = 4,
		.rd_atom = 4,
		.responder = 4,
		.step_ms = WA_TIMEOUT_MS,
		.log = wirec_log_tap,
	};
	struct xmem_hello h;
	int err;

	wirec_hello(&h, WA_NRX);
	h.minor = htole16(wa_minor);
	err = wirec_connect(c, &o, (struct sockaddr *)&wa_ss, &h, sizeof(h));
	if (err) {
		if (c->id)
			wirec_close(c);
		printf("# connect: %s (reject status %d)\n", strerror(err),
		       c->reject_status);
		return -1;
	}
	if (!(le32toh(c->rep.flags) & XMEM_HELLO_F_AUTH))
		return 0;
	if (!key_len) {
		printf("# the appliance wants authentication: --secret-file\n");
	} else {
		err = wirec_auth(c, le32toh(c->rep.flags) & XMEM_HELLO_F_HOSTS ?
				 host : NULL, key, key_len);
		if (!err)
			return 0;
		printf("# authentication%s%s: %s\n", host ? " as " : "",
		       host ? host : "", strerror(err));
		if (err == EACCES) {
			wirec_close(c);
			return -EACCES;
		}
	}
	wirec_close(c);
	return -1;
}

static int wa_connect(struct wirec *c, const uint8_t *key, size_t key_len)
{
	return wa_connect_as(c, wa_host, key, key_len);
}

/* A REGION_REQ; the reply in *@rep.  0 or -1 (no valid reply). */
static int wa_region(struct wirec *c, uint16_t op, const char *name,
		     uint64_t size, uint16_t flags,
		     struct xmem_msg_region_rep *rep)
{
	struct xmem_msg_region_req req;

	memset(&req, 0, sizeof(req));
	req.hdr.type = htole16(XMEM_MSG_REGION_REQ);
	req.hdr.len = htole32(sizeof(req));
	req.hdr.tag = htole64(++c->tag);
	req.op = htole16(op);
	req.flags = htole16(flags);
	req.uid = htole32(wa_uid);
	req.gid = htole32(wa_uid);
	req.size = htole64(size);
	snprintf(req.name, sizeof(req.name), "%s", name);
	if (wirec_rpc(c, &req, sizeof(req), WA_TIMEOUT_MS) ||
	    wirec_check_reply(c, XMEM_MSG_REGION_REP, sizeof(*rep)))
		return -1;
	memcpy(rep, c->rx, sizeof(*rep));
	return 0;
}

/* A PULL_REQ of @name from "ADDR:PORT" @src into *@req; 0 or -1. */
static int wa_pull_req(struct xmem_msg_pull_req *req, uint64_t tag,
		       const char *name, const char *src)
{
	const char *colon = strrchr(src, ':');
	char host[256];

	if (!colon || (size_t)(colon - src) >= sizeof(host)) {
		printf("# --pull: want SADDR:SPORT, not %s\n", src);
		return -1;
	}
	snprintf(host, sizeof(host), "%.*s", (int)(colon - src), src);
	return wirec_pull_req(req, tag, host, colon + 1, name) ? -1 : 0;
}

/* --probe with --attach, --destroy, --grant, --revoke, a copy or a pull. */
static int wa_probe_op(struct wirec *c)
{
	struct xmem_msg_region_rep rep;
	struct xmem_msg_grant_req g;
	struct xmem_msg_copy_req cp;
	struct xmem_msg_pull_req pl;
	int ms = WA_TIMEOUT_MS;
	const void *req = &g;
	uint32_t len = sizeof(g);
	const char *colon;
	int ret;

	if (!strcmp(wa_op, "--attach") || !strcmp(wa_op, "--destroy")) {
		ret = wa_region(c, wa_op[2] == 'a' ? XMEM_REGION_OP_ATTACH :
				XMEM_REGION_OP_DESTROY, wa_arg1, 0, 0, &rep);
		ret = ret ? 1 : (int)le32toh(rep.status);
		if (!ret && wa_op[2] == 'a')
			wa_region(c, XMEM_REGION_OP_DETACH, wa_arg1, 0, 0,
				  &rep);
		goto out;
	}
	if (!strcmp(wa_op, "--pull")) {
		if (wa_pull_req(&pl, ++c->tag, wa_arg1, wa_arg2)) {
			ret = 1;
			goto out;
		}
		req = &pl;
		len = sizeof(pl);
		ms = (XMEM_PULL_TIMEOUT_SEC + 30) * 1000;
	} else if (!strncmp(wa_op, "--copy", 6)) {
		memset(&cp, 0, sizeof(cp));
		cp.hdr.type = htole16(XMEM_MSG_COPY_REQ);
		cp.hdr.len = htole32(sizeof(cp));
		cp.hdr.tag = htole64(++c->tag);
		/* --copy-into: no flag, the target must exist. */
		if (!strcmp(wa_op, "--copy"))
			cp.flags = htole32(XMEM_COPY_F_CREATE |
					   XMEM_COPY_F_EXCL);
		cp.uid = htole32(wa_uid);
		cp.gid = htole32(wa_uid);
		snprintf(cp.src, sizeof(cp.src), "%s", wa_arg1);
		snprintf(cp.dst, sizeof(cp.dst), "%s", wa_arg2);
		req = &cp;
		len = sizeof(cp);
	} else {
		memset(&g, 0, sizeof(g));
		g.hdr.type = htole16(XMEM_MSG_GRANT_REQ);
		g.hdr.len = htole32(sizeof(g));
		g.hdr.tag = htole64(++c->tag);
		g.op = htole16(!strcmp(wa_op, "--grant") ? XMEM_GRANT_OP_GRANT :
			       XMEM_GRANT_OP_REVOKE);
		g.uid = htole32(wa_uid);
		g.gid = htole32(wa_uid);
		colon = strchr(wa_arg2, ':');
		if (colon) {
			g.flags = htole16(XMEM_GRANT_F_UID);
			g.grantee_uid = htole32(strtoul(colon + 1, NULL, 0));
		}
		snprintf(g.name, sizeof(g.name), "%s", wa_arg1);
		snprintf(g.host, sizeof(g.host), "%.*s",
			 colon ? (int)(colon - wa_arg2) : (int)strlen(wa_arg2),
			 wa_arg2);
	}
	ret = wirec_rpc(c, req, len, ms) ||
	      wirec_check_reply(c, XMEM_MSG_REGION_REP, sizeof(rep));
	ret = ret ? 1 : (int)le32toh(((struct xmem_msg_region_rep *)c->rx)->status);
	if (!ret && req == &pl)
		wa_region(c, XMEM_REGION_OP_DETACH, wa_arg1, 0, 0, &rep);
out:
	printf("# %s %s%s%s as uid %u: %s\n", wa_op + 2, wa_arg1,
	       wa_arg2 ? " " : "", wa_arg2 ? wa_arg2 : "", wa_uid,
	       ret ? strerror(ret) : "ok");
	wirec_close(c);
	return ret;
}

/* --probe: connect, authenticate, STAT; the exit status. */
static int wa_probe(void)
{
	struct xmem_msg_stat_req req;
	struct wirec c;
	int ret;

	ret = wa_connect(&c, wa_key, wa_key_len);
	if (ret)
		return ret == -EACCES ? 13 : 1;
	memset(&req, 0, sizeof(req));
	req.hdr.type = htole16(XMEM_MSG_STAT_REQ);
	req.hdr.len = htole32(sizeof(req));
	req.hdr.tag = htole64(++c.tag);
	ret = wirec_rpc(&c, &req, sizeof(req), WA_TIMEOUT_MS) ||
	      wirec_check_reply(&c, XMEM_MSG_STAT_REP,
				sizeof(struct xmem_msg_stat_rep));
	printf("# probe%s%s: %s\n", wa_host ? " as " : "",
	       wa_host ? wa_host : "", ret ? "STAT failed" : "served");
	if (!ret && wa_act_for) {
		ret = wirec_act_for(&c, wa_act_for);
		printf("# act for host %s: %s\n", wa_act_for,
		       ret ? strerror(ret) : "ok");
		if (ret) {
			wirec_close(&c);
			return ret;
		}
	}
	if (!ret && wa_op)
		return wa_probe_op(&c);
	if (!ret && (wa_create || wa_info)) {
		struct xmem_msg_region_rep rep;

		ret = wa_region(&c, wa_create ? XMEM_REGION_OP_ATTACH :
				XMEM_REGION_OP_INFO, wa_create ? wa_create :
				wa_info, wa_create ? wa_create_size : 0,
				wa_create ? XMEM_ATTACH_F_CREATE |
				XMEM_ATTACH_F_EXCL : 0, &rep);
		ret = ret ? 1 : (int)le32toh(rep.status);
		printf("# %s %s as uid %u: %s\n", wa_create ? "create" : "info",
		       wa_create ? wa_create : wa_info, wa_uid,
		       ret ? strerror(ret) : "ok");
		if (!ret && wa_create)
			wa_region(&c, XMEM_REGION_OP_DETACH, wa_create, 0, 0,
				  &rep);
		wirec_close(&c);
		return ret;
	}
	wirec_close(&c);
	return ret ? 1 : 0;
}

/*
 * One RDMA @opcode of @len bytes between the data area of @c and
 * @raddr/@rkey; the completion's status, or -1 when none came.
 */
static int wa_rdma(struct wirec *c, enum ibv_wr_opcode opcode, uint32_t len,
		   uint64_t raddr, uint32_t rkey)
{
	struct ibv_sge sge = {
		.addr = (uintptr_t)wirec_extra(c),
		.length = len,
		.lkey = c->mr->lkey,
	};
	struct ibv_send_wr wr = {
		.wr_id = WIREC_WR_USER,
		.sg_list = &sge,
		.num_sge = 1,
		.opcode = opcode,
		.send_flags = IBV_SEND_SIGNALED,
		.wr.rdma.remote_addr = raddr,
		.wr.rdma.rkey = rkey,
	};
	struct ibv_send_wr *bad;
	struct ibv_wc wc;

	if (ibv_post_send(c->id->qp, &wr, &bad))
		return -1;
	for (;;) {
		if (wirec_wc(c, &wc, WA_TIMEOUT_MS))
			return -1;
		if (WIREC_WR_KIND(wc.wr_id) == WIREC_WR_USER)
			return wc.status;
	}
}

static void wa_fill(uint8_t *p, size_t len, uint32_t seed)
{
	size_t i;

	for (i = 0; i < len; i++)
		p[i] = (uint8_t)((i * 131 + seed * 7) >> 3) ^ (uint8_t)seed;
}

/* Read the first WA_DATA bytes through @c and compare with @seed's. */
static bool wa_check(struct wirec *c, uint64_t addr, uint32_t rkey,
		     uint32_t seed)
{
	static uint8_t want[WA_DATA];

	memset(wirec_extra(c), 0, WA_DATA);
	if (wa_rdma(c, IBV_WR_RDMA_READ, WA_DATA, addr, rkey) !=
	    IBV_WC_SUCCESS)
		return false;
	wa_fill(want, WA_DATA, seed);
	return !memcmp(wirec_extra(c), want, WA_DATA);
}

/* A completion came, and with an error. */
static bool wa_refused(int st)
{
	return st > IBV_WC_SUCCESS;
}

static const char *wa_st(int st)
{
	return st == -2 ? "no attacker" : st < 0 ? "no completion" :
	       ibv_wc_status_str(st);
}

/*
 * An attacker connection (with a region of its own if @own) uses
 * @addr/@rkey for @opcode once; the completion's status, -1 if none came,
 * -2 if the attacker could not connect or make its region.
 */
static int wa_attack_once(enum ibv_wr_opcode opcode, uint64_t addr,
			  uint32_t rkey, const char *own)
{
	struct xmem_msg_region_rep rep;
	struct wirec a;
	int st = -2;

	if (wa_connect_as(&a, wa_ahost ? wa_ahost : wa_host,
			  wa_akey_len ? wa_akey : wa_key,
			  wa_akey_len ? wa_akey_len : wa_key_len)) {
		printf("# the attacker cannot connect\n");
		return st;
	}
	if (own && (wa_region(&a, XMEM_REGION_OP_ATTACH, own, WA_SIZE,
			      XMEM_ATTACH_F_CREATE, &rep) || rep.status)) {
		printf("# the attacker cannot make a region of its own\n");
		goto out;
	}
	wa_fill(wirec_extra(&a), WA_DATA, 666);
	st = wa_rdma(&a, opcode, WA_DATA, addr, rkey);
out:
	/* The queue pair is in error after a refusal: a new one each time. */
	wirec_close(&a);
	return st;
}

/*
 * wa_attack_once(), tried again on a new connection if no completion
 * came within WA_TIMEOUT_MS (a loaded soft-RoCE host can lose one; a
 * refusal is not a matter of timing, so the second try must be refused
 * too); true when refused.
 */
static bool wa_attack(enum ibv_wr_opcode opcode, uint64_t addr, uint32_t rkey,
		      const char *own, int *stp)
{
	int st = wa_attack_once(opcode, addr, rkey, own);

	if (st == -1) {
		printf("# no completion within %d ms: once more\n",
		       WA_TIMEOUT_MS);
		st = wa_attack_once(opcode, addr, rkey, own);
	}
	*stp = st;
	return wa_refused(st);
}

static void wa_bench(unsigned int n, uint64_t size)
{
	struct xmem_msg_region_rep rep;
	char name[XMEM_NAME_MAX];
	double t0, t_info, t_att;
	struct wirec c;
	unsigned int i;
	bool good = true;

	if (!n)
		return;
	snprintf(name, sizeof(name), "attack-bench-%d", (int)getpid());
	if (wa_connect(&c, wa_key, wa_key_len)) {
		tap_ok(false, "bench: connect");
		return;
	}
	good = !wa_region(&c, XMEM_REGION_OP_ATTACH, name, size,
			  XMEM_ATTACH_F_CREATE | XMEM_ATTACH_F_EXCL, &rep) &&
	       !rep.status &&
	       !wa_region(&c, XMEM_REGION_OP_DETACH, name, 0, 0, &rep);
	t0 = wa_now();
	for (i = 0; good && i < n; i++)
		good = !wa_region(&c, XMEM_REGION_OP_INFO, name, 0, 0, &rep) &&
		       !rep.status;
	t_info = (wa_now() - t0) / n;
	t0 = wa_now();
	for (i = 0; good && i < n; i++)
		good = !wa_region(&c, XMEM_REGION_OP_ATTACH, name, 0, 0,
				  &rep) && !rep.status &&
		       !wa_region(&c, XMEM_REGION_OP_DETACH, name, 0, 0,
				  &rep) && !rep.status;
	t_att = (wa_now() - t0) / n;
	if (tap_ok(good, "bench: %u INFO and %u ATTACH+DETACH of a %" PRIu64
		   " MiB region", n, n, size >> 20))
		printf("# bench: INFO %.3f ms, ATTACH+DETACH %.3f ms (%.2f INFO round trips) per call, %" PRIu64 " MiB region\n",
		       t_info * 1e3, t_att * 1e3, t_att / t_info, size >> 20);
	wa_region(&c, XMEM_REGION_OP_DESTROY, name, 0, 0, &rep);
	wirec_close(&c);
}

static int wa_usage(void)
{
	fprintf(stderr, "usage: xmem-wire-attack [--host NAME] [--secret-file F] [--attacker-host NAME] [--attacker-secret-file F] [--bench N] [--bench-size BYTES] ADDR PORT\n"
		"       xmem-wire-attack --probe [--minor N] [--host NAME] [--secret-file F] [--uid UID]\n"
		"                        [--act-for HOST]\n"
		"                        [--create NAME SIZE | --info NAME | --attach NAME | --destroy NAME |\n"
		"                         --grant NAME HOST[:UID] | --revoke NAME HOST[:UID] | --copy SRC DST |\n"
		"                         --copy-into SRC DST | --pull NAME SADDR:SPORT] ADDR PORT\n");
	return 2;
}

int main(int argc, char **argv)
{
	struct xmem_msg_region_rep rep;
	char name[XMEM_NAME_MAX], own[XMEM_NAME_MAX];
	unsigned int bench = 40;
	uint64_t bench_size = 64ULL << 20;
	uint64_t addr = 0, addr2;
	uint32_t rkey = 0, rkey2;
	struct wirec v;
	bool good, probe = false;
	int st = -1, st2;

	while (argc > 3 && !strncmp(argv[1], "--", 2)) {
		if (!strcmp(argv[1], "--probe")) {
			probe = true;
			argv++;
			argc--;
			continue;
		}
		if (!strcmp(argv[1], "--create") && argc > 4) {
			wa_create = argv[2];
			wa_create_size = strtoull(argv[3], NULL, 0);
			argv++;
			argc--;
		} else if ((!strcmp(argv[1], "--grant") ||
			    !strcmp(argv[1], "--revoke") ||
			    !strcmp(argv[1], "--copy") ||
			    !strcmp(argv[1], "--copy-into") ||
			    !strcmp(argv[1], "--pull")) && argc > 4) {
			wa_op = argv[1];
			wa_arg1 = argv[2];
			wa_arg2 = argv[3];
			argv++;
			argc--;
		} else if (!strcmp(argv[1], "--attach") ||
			   !strcmp(argv[1], "--destroy")) {
			wa_op = argv[1];
			wa_arg1 = argv[2];
		} else if (!strcmp(argv[1], "--info")) {
			wa_info = argv[2];
		} else if (!strcmp(argv[1], "--uid")) {
			wa_uid = strtoul(argv[2], NULL, 0);
		} else if (!strcmp(argv[1], "--host")) {
			wa_host = argv[2];
		} else if (!strcmp(argv[1], "--act-for")) {
			wa_act_for = argv[2];
		} else if (!strcmp(argv[1], "--attacker-host")) {
			wa_ahost = argv[2];
		} else if (!strcmp(argv[1], "--minor")) {
			wa_minor = strtoul(argv[2], NULL, 0);
		} else if (!strcmp(argv[1], "--secret-file")) {
			if (wirec_load_key(argv[2], wa_key, &wa_key_len))
				return 2;
		} else if (!strcmp(argv[1], "--attacker-secret-file")) {
			if (wirec_load_key(argv[2], wa_akey, &wa_akey_len))
				return 2;
		} else if (!strcmp(argv[1], "--bench")) {
			bench = strtoul(argv[2], NULL, 0);
		} else if (!strcmp(argv[1], "--bench-size")) {
			bench_size = strtoull(argv[2], NULL, 0);
		} else {
			return wa_usage();
		}
		argv += 2;
		argc -= 2;
	}
	if (argc != 3)
		return wa_usage();
	setvbuf(stdout, NULL, _IOLBF, 0);
	if (wirec_resolve(argv[1], argv[2], &wa_ss))
		return 2;
	if (probe)
		return wa_probe();
	snprintf(name, sizeof(name), "attack-%d", (int)getpid());
	snprintf(own, sizeof(own), "attack-%d-own", (int)getpid());

	/* The victim: a region with a pattern. */
	good = !wa_connect(&v, wa_key, wa_key_len);
	if (good && (wa_region(&v, XMEM_REGION_OP_ATTACH, name, WA_SIZE,
			       XMEM_ATTACH_F_CREATE | XMEM_ATTACH_F_EXCL,
			       &rep) || rep.status))
		good = false;
	if (good) {
		addr = le64toh(rep.addr);
		rkey = le32toh(rep.rkey);
		wa_fill(wirec_extra(&v), WA_DATA, 1);
		good = wa_rdma(&v, IBV_WR_RDMA_WRITE, WA_DATA, addr, rkey) ==
		       IBV_WC_SUCCESS && wa_check(&v, addr, rkey, 1);
	}
	if (!tap_ok(good, "the victim%s%s creates '%s' and writes a pattern",
		    wa_host ? " host " : "", wa_host ? wa_host : "", name))
		goto out;
	printf("# the victim's region: addr 0x%" PRIx64 " rkey 0x%08x\n",
	       addr, rkey);

	good = wa_attack(IBV_WR_RDMA_READ, addr, rkey, NULL, &st);
	tap_ok(good, "another connection's RDMA READ with the victim's key is refused (%s%s%s)",
	       wa_st(st), wa_ahost ? "; attacker is host " : "",
	       wa_ahost ? wa_ahost : "");
	good = wa_attack(IBV_WR_RDMA_WRITE, addr, rkey, NULL, &st);
	tap_ok(good, "another connection's RDMA WRITE with the victim's key is refused (%s)",
	       wa_st(st));
	good = wa_attack(IBV_WR_RDMA_WRITE, addr, rkey, own, &st);
	tap_ok(good, "the same from a connection with a region of its own is refused (%s)",
	       wa_st(st));
	tap_ok(wa_check(&v, addr, rkey, 1),
	       "the victim's data is unchanged and its key still works");

	/* DETACH revokes the key on the connection that held it. */
	good = !wa_region(&v, XMEM_REGION_OP_DETACH, name, 0, 0, &rep) &&
	       !rep.status;
	st = good ? wa_rdma(&v, IBV_WR_RDMA_READ, WA_DATA, addr, rkey) : -1;
	tap_ok(good && wa_refused(st),
	       "after DETACH the old key fails on the victim's own connection (%s)",
	       wa_st(st));
	wirec_close(&v);

	/* A shrink revokes the keys handed out before. */
	good = !wa_connect(&v, wa_key, wa_key_len) &&
	       !wa_region(&v, XMEM_REGION_OP_ATTACH, name, 0, 0, &rep) &&
	       !rep.status;
	addr = le64toh(rep.addr);
	rkey = le32toh(rep.rkey);
	tap_ok(good && wa_check(&v, addr, rkey, 1),
	       "the region and its data are there for the next ATTACH");
	good = good && !wa_region(&v, XMEM_REGION_OP_RESIZE, name,
				  WA_SIZE / 2, 0, &rep) && !rep.status;
	addr2 = le64toh(rep.addr);
	rkey2 = le32toh(rep.rkey);
	st2 = good ? wa_rdma(&v, IBV_WR_RDMA_READ, WA_DATA, addr2, rkey2) :
	      -1;
	st = good ? wa_rdma(&v, IBV_WR_RDMA_READ, WA_DATA, addr, rkey) : -1;
	tap_ok(good && st2 == IBV_WC_SUCCESS && wa_refused(st),
	       "after a shrink the new key works (%s), the old one fails (%s)",
	       wa_st(st2), wa_st(st));
	wirec_close(&v);

	if (!wa_connect(&v, wa_key, wa_key_len)) {
		wa_region(&v, XMEM_REGION_OP_DESTROY, name, 0, 0, &rep);
		wa_region(&v, XMEM_REGION_OP_DESTROY, own, 0, 0, &rep);
		wirec_close(&v);
	}
	wa_bench(bench, bench_size);
out:
	tap_diag("xmem-wire-attack: %u passed, %u failed", tap_n - tap_failed,
		 tap_failed);
	return tap_done();
}
