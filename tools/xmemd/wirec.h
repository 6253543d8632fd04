/* SPDX-License-Identifier: GPL-2.0 */
/*
 * wirec: the client side of an xmem connection in userspace, on librdmacm
 * and libibverbs, shared by xmemd's pull worker (the target appliance
 * connects to the source as a client), xmem-wire-test, xmem-wire-fuzz and
 * xmem-wire-attack.
 *
 * One connection has one event channel, CM id, protection domain,
 * completion channel and CQ (sends and receives), and one registered
 * buffer: @nrx receive slots, @ntx send slots of @slot bytes each, then
 * @extra bytes for the caller's RDMA data.  Receives are posted at
 * connect; the caller reposts them (wirec_post_recv()) after use.
 *
 * Work request ids: WIREC_WR_RECV | slot for receives, WIREC_WR_SEND |
 * slot for sends; callers use WIREC_WR_USER and above for RDMA.
 *
 * Every wait is bounded by its @ms and by @check, which is called at
 * least every 250 ms and ends the wait with its errno when not 0.  Not
 * thread safe: one thread per struct wirec.
 */
#ifndef WIREC_H
#define WIREC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include <infiniband/verbs.h>
#include <rdma/rdma_cma.h>

#include "xmem_proto.h"

#define WIREC_WR_RECV		(1ULL << 32)
#define WIREC_WR_SEND		(2ULL << 32)
#define WIREC_WR_USER		(3ULL << 32)
#define WIREC_WR_KIND(x)	((x) & ~0xffffffffULL)
#define WIREC_WR_INDEX(x)	((unsigned int)((x) & 0xffffffffu))

/**
 * struct wirec_opts - how to set a connection up
 * @nrx: receive slots, all posted at connect (the credits to announce)
 * @ntx: send slots
 * @slot: bytes per slot, at least XMEM_MSG_MAX_SIZE
 * @extra: bytes of caller data after the slots, registered with them
 * @send_extra: send work requests beyond @ntx the QP and CQ must hold
 *	(the caller's RDMA READs and WRITEs)
 * @rd_atom: RDMA READs in flight we want to issue (initiator depth)
 * @responder: READs in flight we accept from the peer (0: none)
 * @step_ms: bound of each connection step
 * @check: called while waiting; a nonzero errno ends the wait with it
 * @log: where diagnostics go (printf-like, no newline); NULL: stderr
 * @arg: passed to @check and @log
 */
struct wirec_opts {
	unsigned int nrx;
	unsigned int ntx;
	size_t slot;
	size_t extra;
	unsigned int send_extra;
	unsigned int rd_atom;
	unsigned int responder;
	int step_ms;
	int (*check)(void *arg);
	void (*log)(void *arg, const char *fmt, ...)
		__attribute__((format(printf, 2, 3)));
	void *arg;
};

/**
 * struct wirec - one client connection
 * @o: the options it was made with
 * @ec: its own RDMA CM event channel (non-blocking)
 * @id: the CM id
 * @pd: protection domain of @mr, the QP and whatever the caller
 *	registers for RDMA
 * @cc: completion channel of @cq (non-blocking)
 * @cq: sends and receives
 * @mr: registration of @buf
 * @buf: the slots, then @o.extra bytes
 * @attr: the device's limits
 * @max_msg: the port's max_msg_sz (0 when unknown)
 * @rep: the accept's (or reject's) struct xmem_hello_rep
 * @reject_status: after a reject (ECONNREFUSED): @rep's status, or -1
 *	when the reject carried no xmem private data
 * @connected: established; disconnect before teardown
 * @gone: disconnected, or a completion failed: no more traffic
 * @next_tx: send slot of the next wirec_send()
 * @tag: tag of the last wirec_rpc() request
 * @rx: the last wirec_rpc() reply, @o.slot bytes of room
 * @rx_len: its length
 */
struct wirec {
	struct wirec_opts o;
	struct rdma_event_channel *ec;
	struct rdma_cm_id *id;
	struct ibv_pd *pd;
	struct ibv_comp_channel *cc;
	struct ibv_cq *cq;
	struct ibv_mr *mr;
	uint8_t *buf;
	struct ibv_device_attr attr;
	uint32_t max_msg;
	struct xmem_hello_rep rep;
	int reject_status;
	bool connected;
	bool gone;
	unsigned int next_tx;
	uint64_t tag;
	uint8_t *rx;
	uint32_t rx_len;
};

void wirec_log_tap(void *arg, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
void wirec_hello(struct xmem_hello *h, unsigned int credits);
int wirec_resolve(const char *host, const char *port,
		  struct sockaddr_storage *ss);
int wirec_connect(struct wirec *c, const struct wirec_opts *o,
		  const struct sockaddr *sa, const void *hello,
		  size_t hello_len);
void wirec_disconnect(struct wirec *c);
void wirec_close(struct wirec *c);

uint8_t *wirec_rx(struct wirec *c, unsigned int i);
uint8_t *wirec_tx(struct wirec *c, unsigned int i);
uint8_t *wirec_extra(struct wirec *c);
int wirec_post_recv(struct wirec *c, unsigned int i);
int wirec_send(struct wirec *c, const void *msg, uint32_t len);
int wirec_cm_wait(struct wirec *c, struct rdma_cm_event **evp, int ms);
int wirec_wc(struct wirec *c, struct ibv_wc *wc, int ms);
int wirec_rpc(struct wirec *c, const void *msg, uint32_t len, int ms);
int wirec_check_reply(struct wirec *c, uint16_t type, uint32_t len);

int wirec_load_key(const char *path, uint8_t *key, size_t *len);
int wirec_hmac(const uint8_t *key, size_t key_len, const char *label,
	       const uint8_t *a, const uint8_t *b, uint8_t *out);
int wirec_auth(struct wirec *c, const char *host, const uint8_t *key,
	       size_t key_len);
int wirec_act_for(struct wirec *c, const char *host);
int wirec_pull_req(struct xmem_msg_pull_req *req, uint64_t tag,
		   const char *addr, const char *port, const char *name);

#endif /* WIREC_H */
