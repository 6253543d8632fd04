// SPDX-License-Identifier: GPL-2.0
/*
 * wirec: the client side of an xmem connection in userspace; see wirec.h.
 */
#define _GNU_SOURCE
#include <endian.h>
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include "wirec.h"

#define WIREC_PAGE	4096u
#define WIREC_NAP_MS	250

__attribute__((format(printf, 2, 3)))
static void wirec_log(const struct wirec *c, const char *fmt, ...)
{
	char line[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	if (c->o.log)
		c->o.log(c->o.arg, "%s", line);
	else
		fprintf(stderr, "%s\n", line);
}

/**
 * wirec_log_tap() - a struct wirec_opts @log that prints TAP diagnostics
 *	("# " and the line) on standard output
 * @arg: unused
 * @fmt: printf format
 */
void wirec_log_tap(void *arg, const char *fmt, ...)
{
	va_list ap;

	(void)arg;
	printf("# ");
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	printf("\n");
}

static double wirec_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static int wirec_nonblock(int fd)
{
	int fl = fcntl(fd, F_GETFL);

	if (fl < 0 || fcntl(fd, F_SETFL, fl | O_NONBLOCK) < 0)
		return errno;
	return 0;
}

/* Before a wait's next nap: the caller's check, then the deadline. */
static int wirec_may_wait(const struct wirec *c, double end)
{
	int err = c->o.check ? c->o.check(c->o.arg) : 0;

	if (err)
		return err;
	return wirec_now() > end ? ETIMEDOUT : 0;
}

/**
 * wirec_hello() - the connection request of this protocol version
 * @h: filled in
 * @credits: receive buffers the client keeps posted
 */
void wirec_hello(struct xmem_hello *h, unsigned int credits)
{
	memset(h, 0, sizeof(*h));
	h->magic = htole32(XMEM_PROTO_MAGIC);
	h->major = htole16(XMEM_PROTO_MAJOR);
	h->minor = htole16(XMEM_PROTO_MINOR);
	h->credits = htole16(credits);
}

/**
 * wirec_resolve() - an address and port by name
 * @host: host name or address
 * @port: port number or service name
 * @ss: the first address found
 *
 * Return: 0, or EHOSTUNREACH (printed on stderr).
 */
int wirec_resolve(const char *host, const char *port,
		  struct sockaddr_storage *ss)
{
	struct addrinfo hints = { .ai_socktype = SOCK_STREAM };
	struct addrinfo *ai;
	int ret;

	ret = getaddrinfo(host, port, &hints, &ai);
	if (ret) {
		fprintf(stderr, "%s:%s: %s\n", host, port, gai_strerror(ret));
		return EHOSTUNREACH;
	}
	memset(ss, 0, sizeof(*ss));
	memcpy(ss, ai->ai_addr, ai->ai_addrlen);
	freeaddrinfo(ai);
	return 0;
}

/**
 * wirec_cm_wait() - the next CM event of @c
 * @c: the connection
 * @evp: the event, to be acknowledged by the caller
 * @ms: how long to wait at most
 *
 * Return: 0, or ETIMEDOUT, @check's errno or EIO.
 */
int wirec_cm_wait(struct wirec *c, struct rdma_cm_event **evp, int ms)
{
	struct pollfd pfd = { .fd = c->ec->fd, .events = POLLIN };
	double end = wirec_now() + ms / 1000.0;
	int err;

	for (;;) {
		if (!rdma_get_cm_event(c->ec, evp))
			return 0;
		if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR) {
			wirec_log(c, "rdma_get_cm_event: %s", strerror(errno));
			return EIO;
		}
		err = wirec_may_wait(c, end);
		if (err)
			return err;
		poll(&pfd, 1, WIREC_NAP_MS);
	}
}

/* The errno a failed connection step stands for. */
static int wirec_cm_errno(const struct rdma_cm_event *ev)
{
	switch (ev->event) {
	case RDMA_CM_EVENT_ADDR_ERROR:
	case RDMA_CM_EVENT_ROUTE_ERROR:
	case RDMA_CM_EVENT_UNREACHABLE:
		return ev->status == -ETIMEDOUT ? ETIMEDOUT : EHOSTUNREACH;
	case RDMA_CM_EVENT_REJECTED:
		return ECONNREFUSED;
	default:
		return EIO;
	}
}

/* Wait for CM event @want; 0 or a positive errno, logged. */
static int wirec_cm_expect(struct wirec *c, enum rdma_cm_event_type want)
{
	struct rdma_cm_event *ev;
	int err;

	err = wirec_cm_wait(c, &ev, c->o.step_ms);
	if (err) {
		wirec_log(c, "no %s: %s", rdma_event_str(want), strerror(err));
		return err;
	}
	err = ev->event == want ? 0 : wirec_cm_errno(ev);
	if (err)
		wirec_log(c, "%s (status %d) instead of %s: %s",
			  rdma_event_str(ev->event), ev->status,
			  rdma_event_str(want), strerror(err));
	rdma_ack_cm_event(ev);
	return err;
}

/** wirec_rx() - receive slot @i of @c */
uint8_t *wirec_rx(struct wirec *c, unsigned int i)
{
	return c->buf + (size_t)i * c->o.slot;
}

/** wirec_tx() - send slot @i of @c */
uint8_t *wirec_tx(struct wirec *c, unsigned int i)
{
	return c->buf + (size_t)(c->o.nrx + i) * c->o.slot;
}

/** wirec_extra() - the caller's data area of @c (@c->mr covers it) */
uint8_t *wirec_extra(struct wirec *c)
{
	return c->buf + (size_t)(c->o.nrx + c->o.ntx) * c->o.slot;
}

static size_t wirec_buf_size(const struct wirec_opts *o)
{
	return (size_t)(o->nrx + o->ntx) * o->slot + o->extra;
}

/**
 * wirec_post_recv() - post receive slot @i (again)
 * @c: the connection
 * @i: the slot
 *
 * Return: 0 or an errno.
 */
int wirec_post_recv(struct wirec *c, unsigned int i)
{
	struct ibv_sge sge = {
		.addr = (uintptr_t)wirec_rx(c, i),
		.length = (uint32_t)c->o.slot,
		.lkey = c->mr->lkey,
	};
	struct ibv_recv_wr wr = {
		.wr_id = WIREC_WR_RECV | i,
		.sg_list = &sge,
		.num_sge = 1,
	};
	struct ibv_recv_wr *bad;

	return ibv_post_recv(c->id->qp, &wr, &bad);
}

/**
 * wirec_send() - send @len bytes of @msg from the next send slot
 * @c: the connection
 * @msg: the message (any bytes; the fuzzer sends broken ones)
 * @len: its length, at most @c->o.slot; 0 sends an empty message
 *
 * The caller keeps fewer than @c->o.ntx sends in flight.
 *
 * Return: 0, or EMSGSIZE, EIO.
 */
int wirec_send(struct wirec *c, const void *msg, uint32_t len)
{
	unsigned int i = c->next_tx++ % c->o.ntx;
	struct ibv_sge sge = {
		.addr = (uintptr_t)wirec_tx(c, i),
		.length = len,
		.lkey = c->mr->lkey,
	};
	struct ibv_send_wr wr = {
		.wr_id = WIREC_WR_SEND | i,
		.sg_list = &sge,
		.num_sge = len ? 1 : 0,
		.opcode = IBV_WR_SEND,
		.send_flags = IBV_SEND_SIGNALED,
	};
	struct ibv_send_wr *bad;

	if (len > c->o.slot)
		return EMSGSIZE;
	if (c->gone)
		return EIO;
	memcpy(wirec_tx(c, i), msg, len);
	if (ibv_post_send(c->id->qp, &wr, &bad)) {
		wirec_log(c, "ibv_post_send failed");
		return EIO;
	}
	return 0;
}

/* A CM event while waiting for completions: the end of the connection? */
static bool wirec_cm_gone(struct wirec *c)
{
	struct rdma_cm_event *ev;
	bool gone = false;

	while (!rdma_get_cm_event(c->ec, &ev)) {
		if (ev->event == RDMA_CM_EVENT_DISCONNECTED ||
		    ev->event == RDMA_CM_EVENT_DEVICE_REMOVAL ||
		    ev->event == RDMA_CM_EVENT_TIMEWAIT_EXIT)
			gone = true;
		rdma_ack_cm_event(ev);
	}
	if (gone) {
		c->gone = true;
		c->connected = false;
	}
	return gone;
}

/**
 * wirec_wc() - the next work completion of @c
 * @c: the connection
 * @wc: the completion, failed ones included: check @wc->status
 * @ms: how long to wait at most
 *
 * A disconnect seen while waiting ends the wait.  A failed completion
 * marks @c gone.
 *
 * Return: 0, or ETIMEDOUT, ECONNRESET (disconnected), @check's errno, EIO.
 */
int wirec_wc(struct wirec *c, struct ibv_wc *wc, int ms)
{
	struct pollfd pfd[2] = {
		{ .fd = c->cc->fd, .events = POLLIN },
		{ .fd = c->ec->fd, .events = POLLIN },
	};
	double end = wirec_now() + ms / 1000.0;
	struct ibv_cq *cq;
	void *ctx;
	int n, err;

	for (;;) {
		n = ibv_poll_cq(c->cq, 1, wc);
		if (n > 0)
			goto got;
		if (n < 0)
			return EIO;
		/* Armed, then polled once more: nothing slips between. */
		if (ibv_req_notify_cq(c->cq, 0))
			return EIO;
		n = ibv_poll_cq(c->cq, 1, wc);
		if (n > 0)
			goto got;
		if (n < 0)
			return EIO;
		if (wirec_cm_gone(c))
			return ECONNRESET;
		err = wirec_may_wait(c, end);
		if (err)
			return err;
		if (poll(pfd, 2, WIREC_NAP_MS) > 0 && pfd[0].revents &&
		    !ibv_get_cq_event(c->cc, &cq, &ctx))
			ibv_ack_cq_events(cq, 1);
	}
got:
	if (wc->status != IBV_WC_SUCCESS)
		c->gone = true;
	return 0;
}

/**
 * wirec_rpc() - send a request and wait for the next message received
 * @c: the connection, with no other receive outstanding
 * @msg: the request
 * @len: its length
 * @ms: how long to wait for the answer
 *
 * Send completions and completions of WIREC_WR_USER work requests are
 * passed over.  The answer lands in @c->rx (@c->rx_len bytes) and its
 * slot is posted again.
 *
 * Return: 0, or EIO (a completion failed, logged), EMSGSIZE, and
 * the errors of wirec_wc().
 */
int wirec_rpc(struct wirec *c, const void *msg, uint32_t len, int ms)
{
	struct ibv_wc wc;
	unsigned int i;
	int err;

	err = wirec_send(c, msg, len);
	if (err)
		return err;
	for (;;) {
		err = wirec_wc(c, &wc, ms);
		if (err) {
			wirec_log(c, "no reply: %s", strerror(err));
			return err;
		}
		if (wc.status != IBV_WC_SUCCESS) {
			wirec_log(c, "%s failed: %s",
				  WIREC_WR_KIND(wc.wr_id) == WIREC_WR_RECV ?
				  "receive" : "send",
				  ibv_wc_status_str(wc.status));
			return EIO;
		}
		if (WIREC_WR_KIND(wc.wr_id) != WIREC_WR_RECV)
			continue;
		i = WIREC_WR_INDEX(wc.wr_id);
		if (i >= c->o.nrx || wc.opcode != IBV_WC_RECV ||
		    wc.byte_len > c->o.slot) {
			wirec_log(c, "unexpected receive completion");
			return EIO;
		}
		c->rx_len = wc.byte_len;
		memcpy(c->rx, wirec_rx(c, i), c->rx_len);
		if (wirec_post_recv(c, i)) {
			wirec_log(c, "ibv_post_recv failed");
			return EIO;
		}
		return 0;
	}
}

/**
 * wirec_check_reply() - is @c->rx a reply of @type and @len bytes to
 *	the request tagged @c->tag?
 * @c: the connection
 * @type: the reply type expected
 * @len: its length
 *
 * Return: 0, or EIO (logged; an XMEM_MSG_ERROR_REP with its status).
 */
int wirec_check_reply(struct wirec *c, uint16_t type, uint32_t len)
{
	struct xmem_msg_error_rep e;
	struct xmem_msg_hdr h;

	if (c->rx_len < sizeof(h)) {
		wirec_log(c, "reply of %u bytes", c->rx_len);
		return EIO;
	}
	memcpy(&h, c->rx, sizeof(h));
	if (le16toh(h.type) == XMEM_MSG_ERROR_REP && c->rx_len == sizeof(e)) {
		memcpy(&e, c->rx, sizeof(e));
		wirec_log(c, "the appliance refused a request: %s",
			  strerror(le32toh(e.status)));
		return EIO;
	}
	if (le16toh(h.type) != type || h.flags || c->rx_len != len ||
	    le32toh(h.len) != len || le64toh(h.tag) != c->tag) {
		wirec_log(c, "malformed reply (type %u, %u bytes, tag %llu)",
			  le16toh(h.type), c->rx_len,
			  (unsigned long long)le64toh(h.tag));
		return EIO;
	}
	return 0;
}

/* Queues and buffers on the resolved device; 0 or a positive errno. */
static int wirec_setup(struct wirec *c)
{
	const struct wirec_opts *o = &c->o;
	size_t buflen = wirec_buf_size(o);
	struct ibv_qp_init_attr qpa;
	struct ibv_port_attr pattr;
	unsigned int i;

	if (ibv_query_device(c->id->verbs, &c->attr)) {
		wirec_log(c, "ibv_query_device: %s", strerror(errno));
		return EIO;
	}
	if (!ibv_query_port(c->id->verbs, c->id->port_num, &pattr))
		c->max_msg = pattr.max_msg_sz;
	c->pd = ibv_alloc_pd(c->id->verbs);
	c->cc = ibv_create_comp_channel(c->id->verbs);
	c->buf = aligned_alloc(WIREC_PAGE, (buflen + WIREC_PAGE - 1) &
			       ~(size_t)(WIREC_PAGE - 1));
	c->rx = malloc(o->slot);
	if (!c->pd || !c->cc || !c->buf || !c->rx ||
	    wirec_nonblock(c->cc->fd)) {
		wirec_log(c, "cannot allocate verbs resources: %s",
			  strerror(errno));
		return ENOMEM;
	}
	memset(c->buf, 0, buflen);
	c->mr = ibv_reg_mr(c->pd, c->buf, buflen, IBV_ACCESS_LOCAL_WRITE);
	c->cq = ibv_create_cq(c->id->verbs, o->nrx + o->ntx + o->send_extra + 2,
			      c, c->cc, 0);
	if (!c->mr || !c->cq) {
		wirec_log(c, "cannot register buffers or create a CQ: %s",
			  strerror(errno));
		return ENOMEM;
	}
	memset(&qpa, 0, sizeof(qpa));
	qpa.send_cq = c->cq;
	qpa.recv_cq = c->cq;
	qpa.qp_type = IBV_QPT_RC;
	qpa.cap.max_send_wr = o->ntx + o->send_extra + 2;
	qpa.cap.max_recv_wr = o->nrx;
	qpa.cap.max_send_sge = 1;
	qpa.cap.max_recv_sge = 1;
	if (rdma_create_qp(c->id, c->pd, &qpa)) {
		wirec_log(c, "rdma_create_qp: %s", strerror(errno));
		return ENOMEM;
	}
	for (i = 0; i < o->nrx; i++) {
		if (wirec_post_recv(c, i)) {
			wirec_log(c, "ibv_post_recv failed");
			return EIO;
		}
	}
	return 0;
}

static unsigned int wirec_min(unsigned int a, int dev)
{
	return dev < 0 ? 0 : a < (unsigned int)dev ? a : (unsigned int)dev;
}

/**
 * wirec_connect() - connect to an appliance
 * @c: the connection, filled in
 * @o: how; copied
 * @sa: the appliance's address and port
 * @hello: private data of the connection request (any bytes)
 * @hello_len: its length
 *
 * Accepted: @c->rep holds the accept's private data, checked for the
 * magic and major only, so the caller sees what the appliance sent.
 * On failure @c is closed except after a reject, where it stays for the
 * caller to read @c->rep and @c->reject_status and close.
 *
 * Return: 0, or ECONNREFUSED (rejected: see @c->reject_status),
 * EHOSTUNREACH, ETIMEDOUT, ENOMEM, EIO, EPROTO (accept without xmem
 * private data), @check's errno; logged.
 */
int wirec_connect(struct wirec *c, const struct wirec_opts *o,
		  const struct sockaddr *sa, const void *hello,
		  size_t hello_len)
{
	struct rdma_conn_param param;
	struct rdma_cm_event *ev;
	const void *pd;
	size_t pdlen;
	int err;

	memset(c, 0, sizeof(*c));
	c->o = *o;
	c->ec = rdma_create_event_channel();
	if (!c->ec || wirec_nonblock(c->ec->fd)) {
		wirec_log(c, "rdma_create_event_channel: %s", strerror(errno));
		err = ENOMEM;
		goto err;
	}
	if (rdma_create_id(c->ec, &c->id, c, RDMA_PS_TCP)) {
		c->id = NULL;
		wirec_log(c, "rdma_create_id: %s", strerror(errno));
		err = ENOMEM;
		goto err;
	}
	if (rdma_resolve_addr(c->id, NULL, (struct sockaddr *)sa, 5000)) {
		wirec_log(c, "rdma_resolve_addr: %s", strerror(errno));
		err = EHOSTUNREACH;
		goto err;
	}
	err = wirec_cm_expect(c, RDMA_CM_EVENT_ADDR_RESOLVED);
	if (err)
		goto err;
	if (rdma_resolve_route(c->id, 5000)) {
		wirec_log(c, "rdma_resolve_route: %s", strerror(errno));
		err = EHOSTUNREACH;
		goto err;
	}
	err = wirec_cm_expect(c, RDMA_CM_EVENT_ROUTE_RESOLVED);
	if (err)
		goto err;
	err = wirec_setup(c);
	if (err)
		goto err;

	memset(&param, 0, sizeof(param));
	param.private_data = hello;
	param.private_data_len = (uint8_t)hello_len;
	param.initiator_depth = wirec_min(o->rd_atom < 255 ? o->rd_atom : 255,
					  c->attr.max_qp_init_rd_atom);
	param.responder_resources = wirec_min(o->responder,
					      c->attr.max_qp_rd_atom);
	param.retry_count = 7;
	param.rnr_retry_count = 7;
	if (rdma_connect(c->id, &param)) {
		wirec_log(c, "rdma_connect: %s", strerror(errno));
		err = ECONNREFUSED;
		goto err;
	}
	err = wirec_cm_wait(c, &ev, o->step_ms);
	if (err) {
		wirec_log(c, "no answer to the connection request: %s",
			  strerror(err));
		goto err;
	}
	pd = ev->param.conn.private_data;
	pdlen = pd ? ev->param.conn.private_data_len : 0;
	if (pdlen >= sizeof(c->rep))
		memcpy(&c->rep, pd, sizeof(c->rep));
	if (ev->event == RDMA_CM_EVENT_REJECTED) {
		c->reject_status = -1;
		if (pdlen >= sizeof(c->rep) &&
		    le32toh(c->rep.magic) == XMEM_PROTO_MAGIC)
			c->reject_status = le16toh(c->rep.status);
		rdma_ack_cm_event(ev);
		c->gone = true;
		return ECONNREFUSED;
	}
	if (ev->event != RDMA_CM_EVENT_ESTABLISHED) {
		err = wirec_cm_errno(ev);
		wirec_log(c, "connect: %s (status %d): %s",
			  rdma_event_str(ev->event), ev->status,
			  strerror(err));
		rdma_ack_cm_event(ev);
		goto err;
	}
	rdma_ack_cm_event(ev);
	c->connected = true;
	if (pdlen < sizeof(c->rep) ||
	    le32toh(c->rep.magic) != XMEM_PROTO_MAGIC ||
	    le16toh(c->rep.major) != XMEM_PROTO_MAJOR) {
		wirec_log(c, "accept without xmem private data of this major version");
		err = EPROTO;
		goto err;
	}
	if (ibv_req_notify_cq(c->cq, 0)) {
		err = EIO;
		goto err;
	}
	return 0;

err:
	wirec_close(c);
	return err;
}

/**
 * wirec_disconnect() - disconnect (bounded) and destroy the QP of @c
 * @c: the connection
 *
 * Once it returns, no work request of @c touches memory any more: the
 * caller may deregister and free what it registered in @c->pd.
 */
void wirec_disconnect(struct wirec *c)
{
	struct rdma_cm_event *ev;

	if (c->connected && !c->gone && !rdma_disconnect(c->id)) {
		/* Bounded: a dead peer must not hold us up. */
		c->o.check = NULL;
		while (!wirec_cm_wait(c, &ev, 5000)) {
			bool last = ev->event == RDMA_CM_EVENT_DISCONNECTED;

			rdma_ack_cm_event(ev);
			if (last)
				break;
		}
	}
	c->connected = false;
	c->gone = true;
	if (c->id && c->id->qp)
		rdma_destroy_qp(c->id);
}

/**
 * wirec_close() - disconnect and free everything of @c
 * @c: the connection; zeroed
 *
 * The caller deregisters its own memory regions of @c->pd before, after
 * wirec_disconnect().
 */
void wirec_close(struct wirec *c)
{
	wirec_disconnect(c);
	if (c->mr)
		ibv_dereg_mr(c->mr);
	if (c->cq)
		ibv_destroy_cq(c->cq);
	if (c->cc)
		ibv_destroy_comp_channel(c->cc);
	if (c->pd)
		ibv_dealloc_pd(c->pd);
	if (c->id)
		rdma_destroy_id(c->id);
	if (c->ec)
		rdma_destroy_event_channel(c->ec);
	free(c->buf);
	free(c->rx);
	memset(c, 0, sizeof(*c));
}

/**
 * wirec_load_key() - read a key file as xmemd and the module take keys
 * @path: the file: XMEM_AUTH_SECRET_MIN to XMEM_AUTH_SECRET_MAX bytes,
 *	one trailing newline ignored; not readable by group or others
 * @key: XMEM_AUTH_SECRET_MAX bytes of room
 * @len: the key's length
 *
 * Return: 0, or an errno: EPERM (group or others may read it), EINVAL
 * (length), or open's.  Printed on stderr, the key never.
 */
int wirec_load_key(const char *path, uint8_t *key, size_t *len)
{
	uint8_t buf[XMEM_AUTH_SECRET_MAX + 2];
	struct stat st;
	ssize_t n;
	int fd, err;

	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		err = errno;
		fprintf(stderr, "%s: %s\n", path, strerror(err));
		return err;
	}
	if (fstat(fd, &st) || (st.st_mode & 0077)) {
		fprintf(stderr, "%s: readable by group or others (mode %04o); chmod 600 it\n",
			path, (unsigned int)(st.st_mode & 07777));
		close(fd);
		return EPERM;
	}
	n = read(fd, buf, sizeof(buf));
	close(fd);
	if (n > 0 && buf[n - 1] == '\n')
		n--;
	if (n < XMEM_AUTH_SECRET_MIN || n > XMEM_AUTH_SECRET_MAX) {
		fprintf(stderr, "%s: want %d to %d bytes\n", path,
			XMEM_AUTH_SECRET_MIN, XMEM_AUTH_SECRET_MAX);
		OPENSSL_cleanse(buf, sizeof(buf));
		return EINVAL;
	}
	memcpy(key, buf, n);
	*len = n;
	OPENSSL_cleanse(buf, sizeof(buf));
	return 0;
}

/**
 * wirec_hmac() - HMAC-SHA256(@key, @label || @a || @b), as xmem_proto.h
 *	describes; @a and @b are nonces
 * @key: the key
 * @key_len: its length
 * @label: XMEM_AUTH_LABEL_*, hashed without its NUL
 * @a: first nonce
 * @b: second nonce
 * @out: XMEM_AUTH_MAC_SIZE bytes
 *
 * Return: 0 or -1.
 */
int wirec_hmac(const uint8_t *key, size_t key_len, const char *label,
	       const uint8_t *a, const uint8_t *b, uint8_t *out)
{
	uint8_t msg[64 + 2 * XMEM_AUTH_NONCE_SIZE];
	size_t l = strlen(label);
	unsigned int outlen = 0;

	if (l > 64)
		return -1;
	memcpy(msg, label, l);
	memcpy(msg + l, a, XMEM_AUTH_NONCE_SIZE);
	memcpy(msg + l + XMEM_AUTH_NONCE_SIZE, b, XMEM_AUTH_NONCE_SIZE);
	if (!HMAC(EVP_sha256(), key, (int)key_len, msg,
		  l + 2 * XMEM_AUTH_NONCE_SIZE, out, &outlen) ||
	    outlen != XMEM_AUTH_MAC_SIZE)
		return -1;
	return 0;
}

/*
 * One step of authentication, step 1 naming @host if not NULL; the reply
 * in @rep.  0, EACCES or EIO.
 */
static int wirec_auth_step(struct wirec *c, uint16_t step, const char *host,
			   const uint8_t *nonce, const uint8_t *mac,
			   struct xmem_msg_auth_rep *rep)
{
	struct xmem_msg_auth_host_req hreq;
	struct xmem_msg_auth_req req;
	int err;

	memset(&req, 0, sizeof(req));
	req.hdr.type = htole16(XMEM_MSG_AUTH_REQ);
	req.hdr.len = htole32(sizeof(req));
	req.hdr.tag = htole64(++c->tag);
	req.step = htole16(step);
	if (nonce)
		memcpy(req.nonce, nonce, sizeof(req.nonce));
	if (mac)
		memcpy(req.mac, mac, sizeof(req.mac));
	if (host) {
		memset(&hreq, 0, sizeof(hreq));
		hreq.hdr = req.hdr;
		hreq.hdr.type = htole16(XMEM_MSG_AUTH_HOST_REQ);
		hreq.hdr.len = htole32(sizeof(hreq));
		hreq.step = req.step;
		memcpy(hreq.nonce, req.nonce, sizeof(hreq.nonce));
		strncpy(hreq.host, host, sizeof(hreq.host) - 1);
		err = wirec_rpc(c, &hreq, sizeof(hreq), c->o.step_ms);
	} else {
		err = wirec_rpc(c, &req, sizeof(req), c->o.step_ms);
	}
	if (!err)
		err = wirec_check_reply(c, XMEM_MSG_AUTH_REP, sizeof(*rep));
	if (err)
		return err;
	memcpy(rep, c->rx, sizeof(*rep));
	if (le32toh(rep->status) == EACCES)
		return EACCES;
	if (rep->status) {
		wirec_log(c, "authentication step %u: %s", step,
			  strerror(le32toh(rep->status)));
		return EIO;
	}
	return 0;
}

/**
 * wirec_auth() - authenticate to the appliance as the kernel client does
 * @c: a connection whose accept announced XMEM_HELLO_F_AUTH
 * @host: our host identity where the appliance announced
 *	XMEM_HELLO_F_HOSTS (minor 3), or NULL for the shared secret of
 *	minor 1
 * @key: the key
 * @key_len: its length
 *
 * The appliance proves that it knows the key first.
 *
 * Return: 0, or EACCES (a proof was wrong: the keys differ, logged),
 * EIO, and the errors of wirec_rpc().
 */
int wirec_auth(struct wirec *c, const char *host, const uint8_t *key,
	       size_t key_len)
{
	uint8_t cnonce[XMEM_AUTH_NONCE_SIZE], anonce[XMEM_AUTH_NONCE_SIZE];
	uint8_t mac[XMEM_AUTH_MAC_SIZE];
	struct xmem_msg_auth_rep rep;
	int err;

	if (getrandom(cnonce, sizeof(cnonce), 0) != (ssize_t)sizeof(cnonce))
		return EIO;
	err = wirec_auth_step(c, 1, host, cnonce, NULL, &rep);
	if (err)
		goto out;
	memcpy(anonce, rep.nonce, sizeof(anonce));
	err = EIO;
	if (wirec_hmac(key, key_len, XMEM_AUTH_LABEL_APPLIANCE, cnonce,
		       anonce, mac))
		goto out;
	if (CRYPTO_memcmp(mac, rep.mac, sizeof(mac))) {
		wirec_log(c, "the appliance's proof is wrong (its key differs)");
		err = EACCES;
		goto out;
	}
	if (wirec_hmac(key, key_len, XMEM_AUTH_LABEL_CLIENT, anonce, cnonce,
		       mac))
		goto out;
	err = wirec_auth_step(c, 2, NULL, NULL, mac, &rep);
	if (err == EACCES)
		wirec_log(c, "the appliance refused our proof (our key differs)");
out:
	OPENSSL_cleanse(mac, sizeof(mac));
	return err;
}

/**
 * wirec_pull_req() - encode an XMEM_MSG_PULL_REQ
 * @req: the message to fill
 * @tag: its tag
 * @addr: the source appliance's address or name, resolved here (as the
 *	target appliance will see it too)
 * @port: its port
 * @name: the region to copy, or NULL to leave the name empty
 *
 * The flags are zero; set them after.
 *
 * Return: 0, or EHOSTUNREACH when @addr:@port does not resolve (printed
 * on stderr; @req then has its header and name only).
 */
int wirec_pull_req(struct xmem_msg_pull_req *req, uint64_t tag,
		   const char *addr, const char *port, const char *name)
{
	struct sockaddr_storage ss;
	int err;

	memset(req, 0, sizeof(*req));
	req->hdr.type = htole16(XMEM_MSG_PULL_REQ);
	req->hdr.len = htole32(sizeof(*req));
	req->hdr.tag = htole64(tag);
	if (name)
		memcpy(req->name, name, strnlen(name, sizeof(req->name)));
	err = wirec_resolve(addr, port, &ss);
	if (err)
		return err;
	if (ss.ss_family == AF_INET6) {
		const struct sockaddr_in6 *sin6 = (const void *)&ss;

		req->family = htole16(XMEM_PULL_FAMILY_INET6);
		req->port = sin6->sin6_port;
		memcpy(req->addr, &sin6->sin6_addr, 16);
	} else {
		const struct sockaddr_in *sin = (const void *)&ss;

		req->family = htole16(XMEM_PULL_FAMILY_INET);
		req->port = sin->sin_port;
		memcpy(req->addr, &sin->sin_addr, 4);
	}
	return 0;
}

/**
 * wirec_act_for() - act for a client host from now on (protocol minor 6)
 * @c: a connection authenticated with a per-host key
 * @host: the client host to act for
 *
 * Return: 0, or the positive status the appliance answered with (EACCES:
 * we may not act for others, or @host is unknown there; EINVAL, EPROTO,
 * EOPNOTSUPP), and the errors of wirec_rpc().
 */
int wirec_act_for(struct wirec *c, const char *host)
{
	struct xmem_msg_act_for_req req;
	const struct xmem_msg_auth_rep *rep;
	int err;

	memset(&req, 0, sizeof(req));
	req.hdr.type = htole16(XMEM_MSG_ACT_FOR_REQ);
	req.hdr.len = htole32(sizeof(req));
	req.hdr.tag = htole64(++c->tag);
	strncpy(req.host, host, sizeof(req.host) - 1);
	err = wirec_rpc(c, &req, sizeof(req), c->o.step_ms);
	if (!err)
		err = wirec_check_reply(c, XMEM_MSG_AUTH_REP, sizeof(*rep));
	if (err)
		return err;
	rep = (const void *)c->rx;
	return (int)le32toh(rep->status);
}
