// SPDX-License-Identifier: GPL-2.0
/*
 * xmem: RDMA transport to a memory appliance.
 *
 * One reliable-connected QP per appliance, set up through RDMA CM.  Control
 * messages (include/xmem_proto.h) travel as SEND/RECV, one request at a
 * time; region data moves only by one-sided RDMA READ and WRITE through the
 * kernel's rdma_rw API, which also registers memory where the device needs
 * it (iWARP), so the same code runs on InfiniBand, RoCE and iWARP.
 *
 * Lifetime: a connection is reference counted.  xmem_rdma_disconnect()
 * stops new work, disconnects and drains the QP, so every posted work
 * request completes (flushed if need be) before anything is freed; the
 * last reference frees the verbs resources in process context.
 */
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <crypto/algapi.h>
#include <crypto/hash.h>
#include <linux/delay.h>
#include <linux/inet.h>
#include <linux/kref.h>
#include <linux/module.h>
#include <linux/random.h>
#include <linux/scatterlist.h>
#include <linux/slab.h>
#include <linux/wait.h>
#include <linux/workqueue.h>
#include <kunit/visibility.h>
#include <net/net_namespace.h>
#include <rdma/ib_verbs.h>
#include <rdma/rdma_cm.h>
#include <rdma/rw.h>

#include "xmem_rdma.h"
#include "xmem_wire.h"

#define XMEM_RDMA_RECV_BUFS	4
#define XMEM_RDMA_MAX_RW	64
/*
 * Pages one transfer request carries at most: neighbouring pages of a
 * region go as one RDMA READ or WRITE with a scatter list of this many
 * entries, or fewer where the device allows fewer.
 */
#define XMEM_RDMA_MAX_SGE	32
#define XMEM_RDMA_CM_TIMEOUT_MS	5000
/*
 * Bound of a connection's setup (address, route, connection, each with
 * its own RDMA CM timeout), for an RDMA CM that does not end it itself.
 */
#define XMEM_RDMA_SETUP_TIMEOUT_MS	(4 * XMEM_RDMA_CM_TIMEOUT_MS)
#define XMEM_RDMA_CALL_TIMEOUT_DEF	10	/* seconds, until set */
/* How long a failed or killed call still waits for its SEND's completion. */
#define XMEM_RDMA_SEND_GRACE	HZ
/*
 * Bound of a transfer batch, for an HCA that does not honour the retry
 * count (which ends a transfer to a silent peer within seconds); well
 * above what a loaded soft-RoCE link takes.
 */
#define XMEM_RDMA_RW_TIMEOUT	(60 * HZ)

/*
 * Test knob (Documentation/admin.rst): milliseconds every RDMA WRITE
 * waits before it is posted, so that a write-back stays in flight long
 * enough for a test to race a sync against it.  0 (the default) is off.
 */
#define XMEM_RDMA_WB_DELAY_MAX_MS	10000
static unsigned int xmem_rdma_wb_delay_ms;

static int xmem_rdma_wb_delay_set(const char *val,
				  const struct kernel_param *kp)
{
	unsigned int ms;
	int ret;

	ret = kstrtouint(val, 0, &ms);
	if (ret)
		return ret;
	if (ms > XMEM_RDMA_WB_DELAY_MAX_MS)
		return -EINVAL;
	WRITE_ONCE(xmem_rdma_wb_delay_ms, ms);
	return 0;
}

static const struct kernel_param_ops xmem_rdma_wb_delay_ops = {
	.set = xmem_rdma_wb_delay_set,
	.get = param_get_uint,
};

module_param_cb(debug_wb_delay_ms, &xmem_rdma_wb_delay_ops,
		&xmem_rdma_wb_delay_ms, 0644);
MODULE_PARM_DESC(debug_wb_delay_ms,
		 "test knob: delay every RDMA WRITE by this many ms (0-10000, default 0: off)");

/*
 * Seconds a control call waits for its reply (xmem_rdma_set_timeout());
 * read without a lock.
 */
static unsigned int xmem_rdma_call_secs = XMEM_RDMA_CALL_TIMEOUT_DEF;

/**
 * xmem_rdma_set_timeout() - set how long control calls wait for a reply
 * @secs: seconds, at least 1
 *
 * Applies to every call that starts afterwards, on every connection: the
 * client's io_timeout, so that one setting bounds every wait for an
 * appliance.
 *
 * Context: any.
 */
void xmem_rdma_set_timeout(unsigned int secs)
{
	WRITE_ONCE(xmem_rdma_call_secs, max(secs, 1U));
}

/* The call timeout in force, in jiffies. */
static unsigned long xmem_rdma_call_jiffies(void)
{
	return (unsigned long)READ_ONCE(xmem_rdma_call_secs) * HZ;
}

#define xmem_rdma_err(conn, fmt, ...)					\
	pr_err_ratelimited("appliance %pISpc: " fmt, &(conn)->dst, ##__VA_ARGS__)
#define xmem_rdma_warn(conn, fmt, ...)					\
	pr_warn_ratelimited("appliance %pISpc: " fmt, &(conn)->dst, ##__VA_ARGS__)
#define xmem_rdma_info(conn, fmt, ...)					\
	pr_info("appliance %pISpc: " fmt, &(conn)->dst, ##__VA_ARGS__)

enum xmem_rdma_state {
	XMEM_RDMA_CONNECTING,
	XMEM_RDMA_CONNECTED,
	XMEM_RDMA_FAILED,	/* link lost; waiting to be disconnected */
	XMEM_RDMA_CLOSED,	/* xmem_rdma_disconnect() was called */
};

/**
 * struct xmem_rdma_buf - a control message buffer
 * @cqe: completion context; done handler finds the buffer from it
 * @conn: owning connection
 * @data: XMEM_MSG_MAX_SIZE bytes
 * @dma: DMA address of @data
 */
struct xmem_rdma_buf {
	struct ib_cqe cqe;
	struct xmem_rdma_conn *conn;
	void *data;
	u64 dma;
};

/**
 * struct xmem_rdma_conn - a connection to one appliance
 * @ref: references: the owner's and one per caller in a transfer or call
 * @release_work: tears the connection down once the last reference is
 *	dropped (xmem_rdma_put())
 * @dst: the appliance's address
 * @cm_id: RDMA CM identifier
 * @pd: protection domain
 * @cq: completion queue for sends, receives and transfers
 * @qp: the RC queue pair (also @cm_id->qp)
 * @port_num: port of @cm_id, for rdma_rw
 * @ops: user callbacks
 * @priv: argument of @ops callbacks
 * @state_lock: protects @state
 * @state: an enum xmem_rdma_state
 * @setup_lock: serialises the RDMA CM handler's setup steps (route
 *	resolution, queues, connect) against an abandoned setup
 * @cm_done: completed when connection setup succeeded or failed
 * @cm_error: result of connection setup
 * @hello_flags: XMEM_HELLO_F_* of the appliance's accept
 * @recv: receive buffers, always posted while connected
 * @call_lock: serialises control calls; protects @send, @tag, @rep_len
 *	and the contents of @rep
 * @send: send buffer of the current call
 * @tag: tag of the current call
 * @rep_lock: protects @rep_wanted against the receive handler
 * @rep_wanted: the receive handler may copy a reply with @tag into @rep
 * @rep: copy of the reply of the current call
 * @rep_len: its length
 * @rep_done: completed when the reply of the current call arrived
 * @send_done: completed when the send of the current call completed
 * @alive_at: jiffies at the start of the latest exchange that completed
 *	(a call, or a transfer), so the appliance saw the connection alive
 *	after it; see xmem_rdma_fresh()
 * @rw_lock: protects @rw_avail and @rw_free
 * @rw_avail: rdma_rw contexts still available on @qp
 * @rw_max: rdma_rw contexts the QP was created with
 * @rw_sge: pages one transfer request carries at most: XMEM_RDMA_MAX_SGE,
 *	or less where the device's send or RDMA READ scatter limit is lower,
 *	so that every request is one work request
 * @rw_wait: woken when contexts return or the connection fails
 * @rw_reqs: @rw_max transfer requests, allocated with the QP so that no
 *	transfer (write-back included) allocates memory
 * @rw_free: the requests of @rw_reqs not in use, @rw_avail of them
 */
struct xmem_rdma_conn {
	struct kref ref;
	struct work_struct release_work;
	struct sockaddr_storage dst;
	struct rdma_cm_id *cm_id;
	struct ib_pd *pd;
	struct ib_cq *cq;
	struct ib_qp *qp;
	u32 port_num;
	const struct xmem_rdma_ops *ops;
	void *priv;

	/* Protects state. */
	spinlock_t state_lock;
	enum xmem_rdma_state state;
	/*
	 * Held by the RDMA CM handler while it takes a setup step, and by
	 * xmem_rdma_connect() while it closes an abandoned setup: no step
	 * starts on a closed connection.
	 */
	struct mutex setup_lock;
	struct completion cm_done;
	int cm_error;
	u32 hello_flags;

	struct xmem_rdma_buf recv[XMEM_RDMA_RECV_BUFS];

	/* Serialises control calls; protects send, tag, rep and rep_len. */
	struct mutex call_lock;
	struct xmem_rdma_buf send;
	u64 tag;
	/* Protects rep_wanted against the receive handler. */
	spinlock_t rep_lock;
	bool rep_wanted;
	u8 rep[XMEM_MSG_MAX_SIZE];
	size_t rep_len;
	struct completion rep_done;
	struct completion send_done;

	/* READ_ONCE()/WRITE_ONCE(); an older stamp racing may win (safe). */
	unsigned long alive_at;

	/* Protects rw_avail and rw_free. */
	spinlock_t rw_lock;
	unsigned int rw_avail;
	unsigned int rw_max;
	unsigned int rw_sge;
	wait_queue_head_t rw_wait;
	struct xmem_rdma_req *rw_reqs;
	struct list_head rw_free;
};

/**
 * struct xmem_rdma_batch - transfers waited for together
 * @pending: transfers not yet completed
 * @error: first error seen, 0 if none
 * @done: completed when @pending drops to zero
 */
struct xmem_rdma_batch {
	atomic_t pending;
	int error;
	struct completion done;
};

/**
 * struct xmem_rdma_req - one transfer of neighbouring pages
 * @cqe: completion context
 * @batch: the batch it belongs to
 * @ctx: rdma_rw context
 * @sg: the pages, in the order of their offsets in the region
 * @nents: entries of @sg in use
 * @posted: @ctx was initialised and must be destroyed
 * @node: in &xmem_rdma_conn.rw_free, or in the list of its transfer
 */
struct xmem_rdma_req {
	struct ib_cqe cqe;
	struct xmem_rdma_batch *batch;
	struct rdma_rw_ctx ctx;
	struct scatterlist sg[XMEM_RDMA_MAX_SGE];
	unsigned int nents;
	bool posted;
	struct list_head node;
};

static bool xmem_rdma_usable(struct xmem_rdma_conn *conn)
{
	return READ_ONCE(conn->state) == XMEM_RDMA_CONNECTED;
}

/*
 * The one place a connection changes state.  Returns true if it did: a
 * failure after the connection was established tells the user once.
 */
static bool xmem_rdma_set_state(struct xmem_rdma_conn *conn,
				enum xmem_rdma_state state)
{
	enum xmem_rdma_state old;
	unsigned long flags;
	bool allowed;

	spin_lock_irqsave(&conn->state_lock, flags);
	old = conn->state;
	switch (state) {
	case XMEM_RDMA_CONNECTED:
		allowed = old == XMEM_RDMA_CONNECTING;
		break;
	case XMEM_RDMA_FAILED:
		allowed = old == XMEM_RDMA_CONNECTING ||
			  old == XMEM_RDMA_CONNECTED;
		break;
	case XMEM_RDMA_CLOSED:
		allowed = old != XMEM_RDMA_CLOSED;
		break;
	default:
		allowed = false;
	}
	if (allowed)
		WRITE_ONCE(conn->state, state);
	spin_unlock_irqrestore(&conn->state_lock, flags);

	if (!allowed)
		return false;
	if (state == XMEM_RDMA_FAILED || state == XMEM_RDMA_CLOSED) {
		/* Wake every waiter: they see the state and give up. */
		wake_up_all(&conn->rw_wait);
		complete(&conn->rep_done);
	}
	if (state == XMEM_RDMA_FAILED && old == XMEM_RDMA_CONNECTED &&
	    conn->ops && conn->ops->link_down)
		conn->ops->link_down(conn->priv);
	return true;
}

/* Every failed completion ends here. */
static void xmem_rdma_wc_error(struct xmem_rdma_conn *conn, struct ib_wc *wc,
			       const char *what)
{
	if (wc->status != IB_WC_WR_FLUSH_ERR)
		xmem_rdma_err(conn, "%s failed: %s (%d)\n", what,
			      ib_wc_status_msg(wc->status), wc->status);
	xmem_rdma_set_state(conn, XMEM_RDMA_FAILED);
}

static int xmem_rdma_post_recv(struct xmem_rdma_buf *buf)
{
	struct xmem_rdma_conn *conn = buf->conn;
	struct ib_sge sge = {
		.addr = buf->dma,
		.length = XMEM_MSG_MAX_SIZE,
		.lkey = conn->pd->local_dma_lkey,
	};
	struct ib_recv_wr wr = {
		.wr_cqe = &buf->cqe,
		.sg_list = &sge,
		.num_sge = 1,
	};

	return ib_post_recv(conn->qp, &wr, NULL);
}

static void xmem_rdma_recv_done(struct ib_cq *cq, struct ib_wc *wc)
{
	struct xmem_rdma_buf *buf =
		container_of(wc->wr_cqe, struct xmem_rdma_buf, cqe);
	struct xmem_rdma_conn *conn = buf->conn;
	struct ib_device *dev = conn->cm_id->device;
	unsigned long flags;
	u64 tag;

	if (unlikely(wc->status != IB_WC_SUCCESS)) {
		xmem_rdma_wc_error(conn, wc, "RECV");
		return;
	}

	ib_dma_sync_single_for_cpu(dev, buf->dma, XMEM_MSG_MAX_SIZE,
				   DMA_FROM_DEVICE);
	spin_lock_irqsave(&conn->rep_lock, flags);
	if (!xmem_wire_reply_tag(buf->data, wc->byte_len, &tag) &&
	    conn->rep_wanted && tag == conn->tag) {
		memcpy(conn->rep, buf->data, wc->byte_len);
		conn->rep_len = wc->byte_len;
		conn->rep_wanted = false;
		complete(&conn->rep_done);
	} else {
		xmem_rdma_err(conn, "unexpected message (%u bytes), dropped\n",
			      wc->byte_len);
	}
	spin_unlock_irqrestore(&conn->rep_lock, flags);

	ib_dma_sync_single_for_device(dev, buf->dma, XMEM_MSG_MAX_SIZE,
				      DMA_FROM_DEVICE);
	if (xmem_rdma_usable(conn) && xmem_rdma_post_recv(buf)) {
		xmem_rdma_err(conn, "cannot repost a receive buffer\n");
		xmem_rdma_set_state(conn, XMEM_RDMA_FAILED);
	}
}

static void xmem_rdma_send_done(struct ib_cq *cq, struct ib_wc *wc)
{
	struct xmem_rdma_buf *buf =
		container_of(wc->wr_cqe, struct xmem_rdma_buf, cqe);

	if (unlikely(wc->status != IB_WC_SUCCESS))
		xmem_rdma_wc_error(buf->conn, wc, "SEND");
	complete(&buf->conn->send_done);
}

static int xmem_rdma_buf_init(struct xmem_rdma_conn *conn,
			      struct xmem_rdma_buf *buf,
			      enum dma_data_direction dir,
			      void (*done)(struct ib_cq *cq, struct ib_wc *wc))
{
	struct ib_device *dev = conn->cm_id->device;

	buf->conn = conn;
	buf->cqe.done = done;
	buf->data = kzalloc(XMEM_MSG_MAX_SIZE, GFP_KERNEL);
	if (!buf->data)
		return -ENOMEM;
	buf->dma = ib_dma_map_single(dev, buf->data, XMEM_MSG_MAX_SIZE, dir);
	if (ib_dma_mapping_error(dev, buf->dma)) {
		kfree(buf->data);
		buf->data = NULL;
		return -ENOMEM;
	}
	return 0;
}

static void xmem_rdma_buf_free(struct xmem_rdma_conn *conn,
			       struct xmem_rdma_buf *buf,
			       enum dma_data_direction dir)
{
	if (!buf->data)
		return;
	ib_dma_unmap_single(conn->cm_id->device, buf->dma, XMEM_MSG_MAX_SIZE,
			    dir);
	kfree(buf->data);
	buf->data = NULL;
}

static void xmem_rdma_free_bufs(struct xmem_rdma_conn *conn)
{
	int i;

	for (i = 0; i < XMEM_RDMA_RECV_BUFS; i++)
		xmem_rdma_buf_free(conn, &conn->recv[i], DMA_FROM_DEVICE);
	xmem_rdma_buf_free(conn, &conn->send, DMA_TO_DEVICE);
}

static void xmem_rdma_qp_event(struct ib_event *event, void *context)
{
	struct xmem_rdma_conn *conn = context;

	xmem_rdma_err(conn, "QP event %s (%d)\n",
		      ib_event_msg(event->event), event->event);
	if (event->event != IB_EVENT_COMM_EST)
		xmem_rdma_set_state(conn, XMEM_RDMA_FAILED);
}

/*
 * Create PD, CQ, QP and buffers once the route is known.  Sizes follow the
 * device's limits, never assumed constants beyond them.
 */
static int xmem_rdma_create_queues(struct xmem_rdma_conn *conn)
{
	struct ib_device *dev = conn->cm_id->device;
	const struct ib_device_attr *attrs = &dev->attrs;
	struct ib_qp_init_attr init_attr = {};
	unsigned int rw, sge, factor, send_wr, recv_wr, cqe;
	int ret, i;

	conn->port_num = conn->cm_id->port_num;
	/*
	 * One request is one work request: rdma_rw splits a scatter list
	 * longer than the QP's max_send_sge (writes) or that and the
	 * device's max_sge_rd (reads) into several.
	 */
	sge = min_t(u32, XMEM_RDMA_MAX_SGE, attrs->max_send_sge);
	sge = clamp_t(u32, attrs->max_sge_rd, 1, sge);
	factor = rdma_rw_mr_factor(dev, conn->port_num, sge);
	rw = XMEM_RDMA_MAX_RW;
	/* Room for the rdma_rw work requests, one SEND and the drain. */
	while (rw > 1 && rw * (2 * factor + 1) + 2 > attrs->max_qp_wr)
		rw /= 2;
	send_wr = rw + 2;
	recv_wr = XMEM_RDMA_RECV_BUFS + 1;
	cqe = rw * (2 * factor + 1) + 2 + recv_wr;
	if (cqe > attrs->max_cqe || recv_wr > attrs->max_qp_wr) {
		xmem_rdma_err(conn, "device %s is too small (max_qp_wr %d, max_cqe %d)\n",
			      dev->name, attrs->max_qp_wr, attrs->max_cqe);
		return -EINVAL;
	}

	conn->pd = ib_alloc_pd(dev, 0);
	if (IS_ERR(conn->pd)) {
		ret = PTR_ERR(conn->pd);
		conn->pd = NULL;
		return ret;
	}

	conn->cq = ib_alloc_cq(dev, conn, cqe, 0, IB_POLL_SOFTIRQ);
	if (IS_ERR(conn->cq)) {
		ret = PTR_ERR(conn->cq);
		conn->cq = NULL;
		goto err_free_pd;
	}

	init_attr.event_handler = xmem_rdma_qp_event;
	init_attr.qp_context = conn;
	init_attr.send_cq = conn->cq;
	init_attr.recv_cq = conn->cq;
	init_attr.cap.max_send_wr = send_wr;
	init_attr.cap.max_recv_wr = recv_wr;
	init_attr.cap.max_send_sge = sge;
	init_attr.cap.max_recv_sge = 1;
	init_attr.cap.max_rdma_ctxs = rw;
	init_attr.sq_sig_type = IB_SIGNAL_REQ_WR;
	init_attr.qp_type = IB_QPT_RC;
	init_attr.port_num = conn->port_num;
	ret = rdma_create_qp(conn->cm_id, conn->pd, &init_attr);
	if (ret)
		goto err_free_cq;
	conn->qp = conn->cm_id->qp;
	conn->rw_reqs = kvcalloc(rw, sizeof(*conn->rw_reqs), GFP_KERNEL);
	if (!conn->rw_reqs) {
		ret = -ENOMEM;
		goto err_destroy_qp;
	}
	for (i = 0; i < rw; i++)
		list_add_tail(&conn->rw_reqs[i].node, &conn->rw_free);
	conn->rw_max = rw;
	conn->rw_sge = sge;
	conn->rw_avail = rw;

	ret = xmem_rdma_buf_init(conn, &conn->send, DMA_TO_DEVICE,
				 xmem_rdma_send_done);
	if (ret)
		goto err_free_bufs;
	for (i = 0; i < XMEM_RDMA_RECV_BUFS; i++) {
		ret = xmem_rdma_buf_init(conn, &conn->recv[i], DMA_FROM_DEVICE,
					 xmem_rdma_recv_done);
		if (ret)
			goto err_free_bufs;
		ret = xmem_rdma_post_recv(&conn->recv[i]);
		if (ret)
			goto err_free_bufs;
	}
	return 0;

err_free_bufs:
	/* Posted receives are flushed when the QP is destroyed. */
	rdma_destroy_qp(conn->cm_id);
	conn->qp = NULL;
	xmem_rdma_free_bufs(conn);
	goto err_free_reqs;
err_destroy_qp:
	rdma_destroy_qp(conn->cm_id);
	conn->qp = NULL;
err_free_reqs:
	INIT_LIST_HEAD(&conn->rw_free);
	kvfree(conn->rw_reqs);
	conn->rw_reqs = NULL;
	conn->rw_max = 0;
	conn->rw_avail = 0;
err_free_cq:
	ib_free_cq(conn->cq);
	conn->cq = NULL;
err_free_pd:
	ib_dealloc_pd(conn->pd);
	conn->pd = NULL;
	return ret;
}

static int xmem_rdma_route_resolved(struct xmem_rdma_conn *conn)
{
	const struct ib_device_attr *attrs = &conn->cm_id->device->attrs;
	struct rdma_conn_param param = {};
	struct xmem_hello hello;
	int ret;

	ret = xmem_rdma_create_queues(conn);
	if (ret)
		return ret;

	xmem_wire_build_hello(&hello, XMEM_RDMA_RECV_BUFS);
	param.private_data = &hello;
	param.private_data_len = sizeof(hello);
	param.responder_resources = min_t(int, attrs->max_qp_rd_atom, 255);
	param.initiator_depth = min_t(int, attrs->max_qp_init_rd_atom, 255);
	/*
	 * Finite transport and RNR retry counts (7 means "retry for ever"
	 * for both), so that a transfer or a SEND to an appliance that
	 * stopped answering, or stopped posting receives, fails instead of
	 * waiting for ever.  The resulting completion (retry or RNR retry
	 * exceeded) fails the connection like any other error, and the
	 * owner reconnects.
	 */
	param.retry_count = 6;
	param.rnr_retry_count = 6;
	return rdma_connect_locked(conn->cm_id, &param);
}

static void xmem_rdma_setup_done(struct xmem_rdma_conn *conn, int error)
{
	conn->cm_error = error;
	if (error)
		xmem_rdma_set_state(conn, XMEM_RDMA_FAILED);
	complete(&conn->cm_done);
}

static int xmem_rdma_cm_handler(struct rdma_cm_id *cm_id,
				struct rdma_cm_event *ev)
{
	struct xmem_rdma_conn *conn = cm_id->context;
	u8 len = 0;
	u16 credits;
	int ret;

	switch (ev->event) {
	case RDMA_CM_EVENT_ADDR_RESOLVED:
	case RDMA_CM_EVENT_ROUTE_RESOLVED:
		/* A setup its caller abandoned (killed, timed out) stops. */
		mutex_lock(&conn->setup_lock);
		if (READ_ONCE(conn->state) != XMEM_RDMA_CONNECTING)
			ret = -ECANCELED;
		else if (ev->event == RDMA_CM_EVENT_ADDR_RESOLVED)
			ret = rdma_resolve_route(cm_id, XMEM_RDMA_CM_TIMEOUT_MS);
		else
			ret = xmem_rdma_route_resolved(conn);
		mutex_unlock(&conn->setup_lock);
		if (ret)
			xmem_rdma_setup_done(conn, ret);
		break;
	case RDMA_CM_EVENT_ESTABLISHED:
		ret = xmem_wire_parse_hello_rep(ev->param.conn.private_data,
						ev->param.conn.private_data_len,
						&credits);
		if (ret) {
			xmem_rdma_err(conn, "bad accept private data\n");
			xmem_rdma_setup_done(conn, ret);
			break;
		}
		conn->hello_flags =
			xmem_wire_hello_flags(ev->param.conn.private_data);
		xmem_rdma_set_state(conn, XMEM_RDMA_CONNECTED);
		xmem_rdma_setup_done(conn, 0);
		break;
	case RDMA_CM_EVENT_REJECTED: {
		/* Only a consumer reject (xmemd's) carries private data. */
		const void *data = rdma_consumer_reject_data(cm_id, ev, &len);

		ret = data ? xmem_wire_parse_hello_rep(data, len, &credits) : 0;
		if (!ret)
			ret = -ECONNREFUSED;
		xmem_rdma_err(conn, "connection rejected: %s (%d)\n",
			      rdma_reject_msg(cm_id, ev->status), ret);
		xmem_rdma_setup_done(conn, ret);
		break;
	}
	case RDMA_CM_EVENT_ADDR_ERROR:
	case RDMA_CM_EVENT_ROUTE_ERROR:
	case RDMA_CM_EVENT_CONNECT_ERROR:
	case RDMA_CM_EVENT_UNREACHABLE:
		xmem_rdma_err(conn, "%s (%d)\n", rdma_event_msg(ev->event),
			      ev->status);
		xmem_rdma_setup_done(conn, ev->status ? ev->status :
					   -EHOSTUNREACH);
		break;
	case RDMA_CM_EVENT_DISCONNECTED:
	case RDMA_CM_EVENT_ADDR_CHANGE:
	case RDMA_CM_EVENT_DEVICE_REMOVAL:
		if (xmem_rdma_set_state(conn, XMEM_RDMA_FAILED))
			xmem_rdma_info(conn, "link lost: %s\n",
				       rdma_event_msg(ev->event));
		if (!completion_done(&conn->cm_done))
			xmem_rdma_setup_done(conn, -ECONNRESET);
		break;
	default:
		break;
	}
	/* Never nonzero: the id is always destroyed by its owner. */
	return 0;
}

/*
 * Runs the teardown of connections whose last reference is gone.  The
 * teardown destroys the RDMA CM identifier, which takes the CM's handler
 * mutex and waits for its address resolution work: never in the task
 * that dropped the reference, which may be a fault holding the mmap lock
 * (a transfer that outlived its connection) or the CM handler itself.
 * Created by xmem_rdma_init(), drained by xmem_rdma_exit().
 */
static struct workqueue_struct *xmem_rdma_release_wq;

#if IS_ENABLED(CONFIG_KUNIT)
/* Connections torn down since the module was loaded, for KUnit. */
static atomic_t xmem_rdma_nr_released = ATOMIC_INIT(0);
#endif

static void xmem_rdma_release_work(struct work_struct *work)
{
	struct xmem_rdma_conn *conn =
		container_of(work, struct xmem_rdma_conn, release_work);

	if (conn->qp) {
		rdma_destroy_qp(conn->cm_id);
		conn->qp = NULL;
	}
	xmem_rdma_free_bufs(conn);
	if (conn->cq)
		ib_free_cq(conn->cq);
	if (conn->pd)
		ib_dealloc_pd(conn->pd);
	rdma_destroy_id(conn->cm_id);
	kvfree(conn->rw_reqs);
	kfree(conn);
#if IS_ENABLED(CONFIG_KUNIT)
	atomic_inc(&xmem_rdma_nr_released);
#endif
}

static void xmem_rdma_release(struct kref *ref)
{
	struct xmem_rdma_conn *conn =
		container_of(ref, struct xmem_rdma_conn, ref);

	queue_work(xmem_rdma_release_wq, &conn->release_work);
}

/*
 * A connection in @state holding one reference, its locks, lists and
 * completions initialised and an RDMA CM identifier bound to nothing yet:
 * no event reaches the handler before the caller resolves an address.
 */
static struct xmem_rdma_conn *xmem_rdma_conn_alloc(enum xmem_rdma_state state)
{
	struct xmem_rdma_conn *conn = kzalloc(sizeof(*conn), GFP_KERNEL);
	struct rdma_cm_id *id;

	if (!conn)
		return ERR_PTR(-ENOMEM);
	kref_init(&conn->ref);
	INIT_WORK(&conn->release_work, xmem_rdma_release_work);
	conn->state = state;
	spin_lock_init(&conn->state_lock);
	mutex_init(&conn->setup_lock);
	init_completion(&conn->cm_done);
	mutex_init(&conn->call_lock);
	spin_lock_init(&conn->rep_lock);
	init_completion(&conn->rep_done);
	init_completion(&conn->send_done);
	spin_lock_init(&conn->rw_lock);
	init_waitqueue_head(&conn->rw_wait);
	INIT_LIST_HEAD(&conn->rw_free);
	id = rdma_create_id(&init_net, xmem_rdma_cm_handler, conn,
			    RDMA_PS_TCP, IB_QPT_RC);
	if (IS_ERR(id)) {
		kfree(conn);
		return ERR_CAST(id);
	}
	conn->cm_id = id;
	return conn;
}

/**
 * xmem_rdma_init() - set up what every connection needs
 *
 * Context: process context, module load, before any connection.
 * Return: 0 or -ENOMEM.
 */
int xmem_rdma_init(void)
{
	xmem_rdma_release_wq = alloc_workqueue("xmem_rdma_release", 0, 0);
	return xmem_rdma_release_wq ? 0 : -ENOMEM;
}

#if IS_ENABLED(CONFIG_KUNIT)
/**
 * xmem_rdma_test_conn() - a connection that never connects, for KUnit
 *
 * It has an RDMA CM identifier bound to no device and nothing else.
 *
 * Context: process context.
 * Return: the connection, holding one reference, or an ERR_PTR().
 */
struct xmem_rdma_conn *xmem_rdma_test_conn(void)
{
	return xmem_rdma_conn_alloc(XMEM_RDMA_CLOSED);
}
EXPORT_SYMBOL_IF_KUNIT(xmem_rdma_test_conn);

/**
 * xmem_rdma_test_released() - connections torn down since load
 *
 * Waits for the teardowns queued so far first.
 *
 * Context: process context, may sleep.
 * Return: the count.
 */
unsigned int xmem_rdma_test_released(void)
{
	flush_workqueue(xmem_rdma_release_wq);
	return atomic_read(&xmem_rdma_nr_released);
}
EXPORT_SYMBOL_IF_KUNIT(xmem_rdma_test_released);
#endif

/**
 * xmem_rdma_exit() - undo xmem_rdma_init()
 *
 * Waits until every connection whose last reference was dropped is torn
 * down.  The caller has dropped its own references to all connections.
 *
 * Context: process context, module unload, may sleep.
 */
void xmem_rdma_exit(void)
{
	destroy_workqueue(xmem_rdma_release_wq);
}

/**
 * xmem_rdma_get() - take a reference on a connection
 * @conn: the connection
 *
 * Context: any.
 */
void xmem_rdma_get(struct xmem_rdma_conn *conn)
{
	kref_get(&conn->ref);
}

/**
 * xmem_rdma_put() - drop a reference; the last one frees the connection
 * @conn: the connection
 *
 * The last reference has the connection torn down by a worker, so the
 * caller may hold any lock (the mmap lock in a fault, a CM handler's).
 *
 * Context: any.
 */
void xmem_rdma_put(struct xmem_rdma_conn *conn)
{
	kref_put(&conn->ref, xmem_rdma_release);
}
EXPORT_SYMBOL_IF_KUNIT(xmem_rdma_put);

/* An exchange that started at @start has completed on @conn. */
static void xmem_rdma_stamp(struct xmem_rdma_conn *conn, unsigned long start)
{
	if (time_after(start, READ_ONCE(conn->alive_at)))
		WRITE_ONCE(conn->alive_at, start);
}

/**
 * xmem_rdma_fresh() - whether the appliance saw a connection alive lately
 * @conn: the connection
 * @window: in jiffies
 *
 * Context: any.
 * Return: true if @conn can still carry work and an exchange on it that
 * started less than @window jiffies ago has completed: the appliance
 * cannot have seen the connection end before that start.
 */
bool xmem_rdma_fresh(struct xmem_rdma_conn *conn, unsigned long window)
{
	return xmem_rdma_usable(conn) &&
	       time_before(jiffies, READ_ONCE(conn->alive_at) + window);
}

/**
 * xmem_rdma_connected() - whether a connection can still carry work
 * @conn: the connection
 *
 * Context: any.
 * Return: true until the connection failed or was disconnected.
 */
bool xmem_rdma_connected(struct xmem_rdma_conn *conn)
{
	return xmem_rdma_usable(conn);
}

/*
 * Fail the connection and move the QP to the error state: the HCA then
 * flushes every posted work request at once, so that a caller that gives
 * up waiting may still wait for its completions (bounded, local) before
 * its buffer or request is used again, as nvme-rdma stops a queue before
 * it reuses its requests.
 */
static void xmem_rdma_abort(struct xmem_rdma_conn *conn)
{
	struct ib_qp_attr attr = { .qp_state = IB_QPS_ERR };
	int ret;

	xmem_rdma_set_state(conn, XMEM_RDMA_FAILED);
	ret = ib_modify_qp(conn->qp, &attr, IB_QP_STATE);
	if (ret)
		xmem_rdma_err(conn, "cannot move the QP to the error state: %d\n",
			      ret);
}

/* Stop all work: disconnect and wait until every work request is done. */
static void xmem_rdma_quiesce(struct xmem_rdma_conn *conn)
{
	xmem_rdma_set_state(conn, XMEM_RDMA_CLOSED);
	rdma_disconnect(conn->cm_id);
	if (conn->qp)
		ib_drain_qp(conn->qp);
}

static int xmem_rdma_auth(struct xmem_rdma_conn *conn, const u8 *key,
			  size_t keylen, const char *host);

/**
 * xmem_rdma_connect() - connect to an appliance
 * @dst: the appliance's RDMA CM address and port
 * @ops: callbacks, may be NULL
 * @priv: argument of the callbacks
 * @secret: shared secret, or this host's key, or NULL
 * @secret_len: its length in bytes, 0 without one
 * @host: this host's name on the appliance's allow-list, used where the
 *	appliance has a key per host (XMEM_HELLO_F_HOSTS, protocol 1.3)
 * @connp: out, the connection, holding one reference for the caller
 *
 * Resolves the address and route, creates the queues within the device's
 * limits and connects, checking the appliance's protocol version.  With a
 * secret, client and appliance then prove to each other that they know
 * it; without one, an appliance that asks for it is refused.
 *
 * Context: process context; sleeps, killable, for the RDMA CM timeouts
 * (at most XMEM_RDMA_SETUP_TIMEOUT_MS) and the authentication's call
 * timeout.
 * Return: 0; -EPROTO (protocol mismatch), -EACCES (authentication
 * failed, or a secret on one side only), -ECONNREFUSED, -ETIMEDOUT,
 * -EHOSTUNREACH, -EINTR (the task was killed), -ENOMEM or another
 * negative errno.
 */
int xmem_rdma_connect(const struct sockaddr_storage *dst,
		      const struct xmem_rdma_ops *ops, void *priv,
		      const u8 *secret, size_t secret_len, const char *host,
		      struct xmem_rdma_conn **connp)
{
	struct xmem_rdma_conn *conn;
	long left;
	int ret;

	conn = xmem_rdma_conn_alloc(XMEM_RDMA_CONNECTING);
	if (IS_ERR(conn))
		return PTR_ERR(conn);
	/* It cannot have ended on the appliance before it began. */
	conn->alive_at = jiffies;
	conn->dst = *dst;
	conn->ops = ops;
	conn->priv = priv;

	ret = rdma_resolve_addr(conn->cm_id, NULL, (struct sockaddr *)dst,
				XMEM_RDMA_CM_TIMEOUT_MS);
	if (ret)
		goto err_put;

	/*
	 * Address, route and connection each have their own timeout; an
	 * appliance that never answers is cut off at the overall bound, a
	 * killed caller returns at once (as nvme-rdma's connect does).
	 */
	left = msecs_to_jiffies(XMEM_RDMA_SETUP_TIMEOUT_MS);
	left = wait_for_completion_killable_timeout(&conn->cm_done, left);
	if (left <= 0) {
		ret = left ? -EINTR : -ETIMEDOUT;
		if (!left)
			xmem_rdma_err(conn, "no connection within %u ms\n",
				      XMEM_RDMA_SETUP_TIMEOUT_MS);
		/* No setup step starts from now on; one under way ends. */
		mutex_lock(&conn->setup_lock);
		xmem_rdma_set_state(conn, XMEM_RDMA_CLOSED);
		mutex_unlock(&conn->setup_lock);
		goto err_quiesce;
	}
	ret = conn->cm_error;
	if (ret)
		goto err_quiesce;

	if (secret_len && !(conn->hello_flags & XMEM_HELLO_F_AUTH)) {
		xmem_rdma_err(conn, "the appliance has no shared secret, this client has one: refused\n");
		ret = -EACCES;
		goto err_quiesce;
	}
	if (!secret_len && (conn->hello_flags & XMEM_HELLO_F_AUTH)) {
		xmem_rdma_err(conn, "the appliance asks for a shared secret; none is set (sysfs secret)\n");
		ret = -EACCES;
		goto err_quiesce;
	}
	if (secret_len) {
		ret = xmem_rdma_auth(conn, secret, secret_len,
				     conn->hello_flags & XMEM_HELLO_F_HOSTS ?
				     host : NULL);
		if (ret)
			goto err_quiesce;
	}

	xmem_rdma_info(conn, "connected (%s, %u transfers of up to %u pages in flight)\n",
		       dev_name(&conn->cm_id->device->dev), conn->rw_max,
		       conn->rw_sge);
	*connp = conn;
	return 0;

err_quiesce:
	xmem_rdma_quiesce(conn);
err_put:
	xmem_rdma_put(conn);
	return ret;
}

/**
 * xmem_rdma_disconnect() - stop a connection and drop the owner's reference
 * @conn: the connection
 *
 * Every transfer or call in progress fails with -ENOTCONN or -EIO; none
 * is left with work requests posted.  Resources are freed once the last
 * caller has dropped its reference.
 *
 * Context: process context, may sleep.
 */
void xmem_rdma_disconnect(struct xmem_rdma_conn *conn)
{
	xmem_rdma_quiesce(conn);
	xmem_rdma_put(conn);
}

/*
 * One control request and its reply within @timeout jiffies; called with
 * call_lock held.
 */
static int xmem_rdma_call_timeout(struct xmem_rdma_conn *conn,
				  size_t req_len, unsigned long timeout)
{
	struct ib_device *dev = conn->cm_id->device;
	struct ib_sge sge = {
		.addr = conn->send.dma,
		.length = req_len,
		.lkey = conn->pd->local_dma_lkey,
	};
	struct ib_send_wr wr = {
		.wr_cqe = &conn->send.cqe,
		.sg_list = &sge,
		.num_sge = 1,
		.opcode = IB_WR_SEND,
		.send_flags = IB_SEND_SIGNALED,
	};
	unsigned long flags, start = jiffies;
	long left;
	int ret;

	lockdep_assert_held(&conn->call_lock);
	if (!xmem_rdma_usable(conn))
		return -ENOTCONN;

	reinit_completion(&conn->rep_done);
	reinit_completion(&conn->send_done);
	spin_lock_irqsave(&conn->rep_lock, flags);
	conn->rep_wanted = true;
	conn->rep_len = 0;
	spin_unlock_irqrestore(&conn->rep_lock, flags);

	ib_dma_sync_single_for_device(dev, conn->send.dma, req_len,
				      DMA_TO_DEVICE);
	ret = ib_post_send(conn->qp, &wr, NULL);
	if (ret) {
		xmem_rdma_err(conn, "cannot post a control message: %d\n", ret);
		xmem_rdma_set_state(conn, XMEM_RDMA_FAILED);
		goto out;
	}

	/*
	 * A killed caller returns at once; a late reply is then dropped by
	 * the receive handler (its tag is no longer wanted).
	 */
	left = wait_for_completion_killable_timeout(&conn->rep_done, timeout);
	if (!left) {
		xmem_rdma_err(conn, "no reply from the appliance\n");
		xmem_rdma_set_state(conn, XMEM_RDMA_FAILED);
		ret = -ETIMEDOUT;
	} else if (left < 0) {
		ret = -EINTR;
	} else if (!xmem_rdma_usable(conn)) {
		ret = -ENOTCONN;
	}
	/*
	 * The send buffer is the HCA's until its completion, which normally
	 * came before the reply, or comes within the retry counts.  A caller
	 * that cannot wait for it (killed, or still without it after
	 * XMEM_RDMA_SEND_GRACE once the call failed) fails the connection, so
	 * that the send is flushed and the buffer is free before call_lock
	 * is released.
	 */
	if (!completion_done(&conn->send_done)) {
		if (ret)
			left = wait_for_completion_timeout(&conn->send_done,
							   XMEM_RDMA_SEND_GRACE);
		else
			left = wait_for_completion_killable_timeout(&conn->send_done,
								    timeout);
		if (left <= 0) {
			xmem_rdma_abort(conn);
			wait_for_completion(&conn->send_done);
			ret = ret ?: left < 0 ? -EINTR : -ETIMEDOUT;
		}
	}
out:
	spin_lock_irqsave(&conn->rep_lock, flags);
	conn->rep_wanted = false;
	spin_unlock_irqrestore(&conn->rep_lock, flags);
	if (!ret)
		xmem_rdma_stamp(conn, start);
	return ret;
}

static int xmem_rdma_call(struct xmem_rdma_conn *conn, size_t req_len)
{
	return xmem_rdma_call_timeout(conn, req_len, xmem_rdma_call_jiffies());
}

/* HMAC-SHA256(@key, @label || @a || @b) into @out; see xmem_proto.h. */
static int xmem_rdma_hmac(const u8 *key, size_t keylen, const char *label,
			  const u8 *a, const u8 *b, u8 *out)
{
	struct crypto_shash *tfm;
	int ret;

	tfm = crypto_alloc_shash("hmac(sha256)", 0, 0);
	if (IS_ERR(tfm))
		return PTR_ERR(tfm);
	ret = crypto_shash_setkey(tfm, key, keylen);
	if (!ret) {
		SHASH_DESC_ON_STACK(desc, tfm);

		desc->tfm = tfm;
		ret = crypto_shash_init(desc) ?:
		      crypto_shash_update(desc, label, strlen(label)) ?:
		      crypto_shash_update(desc, a, XMEM_AUTH_NONCE_SIZE) ?:
		      crypto_shash_update(desc, b, XMEM_AUTH_NONCE_SIZE) ?:
		      crypto_shash_final(desc, out);
		shash_desc_zero(desc);
	}
	crypto_free_shash(tfm);
	return ret;
}

/*
 * Mutual challenge-response with the shared secret (xmem_proto.h), on a
 * connection just established.  The secret never travels.
 */
static int xmem_rdma_auth(struct xmem_rdma_conn *conn, const u8 *key,
			  size_t keylen, const char *host)
{
	u8 cn[XMEM_AUTH_NONCE_SIZE], an[XMEM_AUTH_NONCE_SIZE];
	u8 mac[XMEM_AUTH_MAC_SIZE], want[XMEM_AUTH_MAC_SIZE];
	int ret;

	get_random_bytes(cn, sizeof(cn));
	mutex_lock(&conn->call_lock);
	conn->tag++;
	if (host)
		ret = xmem_wire_build_auth_host_req(conn->send.data, conn->tag,
						    cn, host) ?:
		      xmem_rdma_call(conn,
				     sizeof(struct xmem_msg_auth_host_req));
	else
		ret = xmem_wire_build_auth_req(conn->send.data, conn->tag, 1,
					       cn, NULL) ?:
		      xmem_rdma_call(conn, sizeof(struct xmem_msg_auth_req));
	ret = ret ?:
	      xmem_wire_parse_auth_rep(conn->rep, conn->rep_len, conn->tag, 1,
				       an, mac) ?:
	      xmem_rdma_hmac(key, keylen, XMEM_AUTH_LABEL_APPLIANCE, cn, an,
			     want);
	if (ret)
		goto out;
	if (crypto_memneq(want, mac, sizeof(mac))) {
		xmem_rdma_err(conn, "the appliance does not know the shared secret\n");
		ret = -EACCES;
		goto out;
	}
	ret = xmem_rdma_hmac(key, keylen, XMEM_AUTH_LABEL_CLIENT, an, cn, mac);
	if (ret)
		goto out;
	conn->tag++;
	ret = xmem_wire_build_auth_req(conn->send.data, conn->tag, 2, NULL,
				       mac) ?:
	      xmem_rdma_call(conn, sizeof(struct xmem_msg_auth_req)) ?:
	      xmem_wire_parse_auth_rep(conn->rep, conn->rep_len, conn->tag, 2,
				       NULL, NULL);
	if (ret == -EACCES)
		xmem_rdma_err(conn, "refused: wrong shared secret\n");
out:
	mutex_unlock(&conn->call_lock);
	memzero_explicit(mac, sizeof(mac));
	memzero_explicit(want, sizeof(want));
	if (ret && ret != -EACCES)
		xmem_rdma_err(conn, "authentication failed: %d\n", ret);
	return ret;
}

/**
 * xmem_rdma_region() - a region operation on the appliance
 * @conn: the connection
 * @r: the operation and its arguments
 * @out: out, the region as the appliance answers
 *
 * Context: process context; sleeps, killable, up to the call timeout.
 * Return: 0; the appliance's answer (-ENOENT, -EEXIST, -EINVAL, -EACCES,
 * -EBUSY, -ENOMEM, -EOPNOTSUPP from an appliance older than protocol
 * 1.1); -EBADMSG for a malformed reply; -ENOTCONN, -ETIMEDOUT, or -EINTR
 * for a killed caller.
 */
int xmem_rdma_region(struct xmem_rdma_conn *conn,
		     const struct xmem_wire_region_req *r,
		     struct xmem_wire_region *out)
{
	int ret;

	mutex_lock(&conn->call_lock);
	conn->tag++;
	ret = xmem_wire_build_region_req(conn->send.data, conn->tag, r);
	if (ret)
		goto out;
	ret = xmem_rdma_call(conn, sizeof(struct xmem_msg_region_req));
	if (ret)
		goto out;
	ret = xmem_wire_parse_region_rep(conn->rep, conn->rep_len, conn->tag,
					 r->op, out);
	if (ret == -EBADMSG)
		xmem_rdma_err(conn, "malformed reply to region operation %u of %s\n",
			      r->op, r->name ? r->name : "(next)");
out:
	mutex_unlock(&conn->call_lock);
	return ret;
}

/**
 * xmem_rdma_pull() - have the appliance copy a region from another one
 * @conn: the connection to the target appliance
 * @src: the source appliance's RDMA CM address
 * @name: the region at the source
 * @dst: NULL: the target creates a region of @name; else the target's
 *	existing region that the copy fills (XMEM_PULL_F_FILL |
 *	XMEM_PULL_F_DST)
 * @out: out, the new region (or @dst) on the target, attached to @conn
 *
 * The target copies the region appliance to appliance (XMEM_MSG_PULL_REQ);
 * no byte goes through this client.  Other control calls on @conn wait
 * until it is done.
 *
 * Context: process context; sleeps, killable, up to
 * XMEM_PULL_TIMEOUT_SEC plus the call timeout.
 * Return: 0; the target's answer (see struct xmem_msg_pull_req), e.g.
 * -EEXIST, -ENOENT, -ENOMEM, -EACCES, -ECONNREFUSED, -EIO;
 * -EOPNOTSUPP from an appliance older than protocol 1.2 (1.7 with
 * @dst); -EINVAL for a bad @src, @name or @dst; -EBADMSG, -ENOTCONN,
 * -ETIMEDOUT or -EINTR.
 */
int xmem_rdma_pull(struct xmem_rdma_conn *conn,
		   const struct sockaddr_storage *src, const char *name,
		   const char *dst, struct xmem_wire_region *out)
{
	size_t len;
	int ret;

	mutex_lock(&conn->call_lock);
	conn->tag++;
	if (dst) {
		len = sizeof(struct xmem_msg_pull_dst_req);
		ret = xmem_wire_build_pull_dst_req(conn->send.data, conn->tag,
						   src, name, dst);
	} else {
		len = sizeof(struct xmem_msg_pull_req);
		ret = xmem_wire_build_pull_req(conn->send.data, conn->tag,
					       src, name);
	}
	if (ret)
		goto out;
	ret = xmem_rdma_call_timeout(conn, len, XMEM_PULL_TIMEOUT_SEC * HZ +
				     xmem_rdma_call_jiffies());
	if (ret)
		goto out;
	ret = xmem_wire_parse_region_rep(conn->rep, conn->rep_len, conn->tag,
					 XMEM_REGION_OP_ATTACH, out);
	/* Appliances before minor 7 refuse the DST flag as unknown. */
	if (dst && ret == -EPROTO)
		ret = -EOPNOTSUPP;
	if (ret == -EBADMSG)
		xmem_rdma_err(conn, "malformed reply to the pull of %s\n",
			      name);
out:
	mutex_unlock(&conn->call_lock);
	return ret;
}

/**
 * xmem_rdma_copy() - have the appliance copy a region into another
 * @conn: the connection to the appliance holding both
 * @src: the region to copy
 * @dst: the region to copy into
 * @flags: XMEM_COPY_F_*
 * @mode: permission bits of a @dst that CREATE makes, or 0
 * @uid: the user the client acts for
 * @gid: that user's group
 * @out: out, @dst as the appliance describes it (no key)
 *
 * The appliance copies memory to memory (XMEM_MSG_COPY_REQ); no byte goes
 * through this client.  Other control calls on @conn wait until it is
 * done.
 *
 * Context: process context; sleeps, killable, up to
 * XMEM_PULL_TIMEOUT_SEC plus the call timeout.
 * With XMEM_COPY_F_TEMP an appliance older than protocol 1.8 is asked
 * again without it.
 *
 * Return: 0; the appliance's answer (see struct xmem_msg_copy_req), e.g.
 * -ENOENT, -EEXIST, -EINVAL, -EACCES, -ENOMEM, -EBUSY, -EIO;
 * -EOPNOTSUPP from an appliance older than protocol 1.4; -EINVAL for bad
 * arguments; -EBADMSG, -ENOTCONN, -ETIMEDOUT or -EINTR.
 */
int xmem_rdma_copy(struct xmem_rdma_conn *conn, const char *src,
		   const char *dst, u32 flags, u32 mode, u32 uid, u32 gid,
		   struct xmem_wire_region *out)
{
	int ret;

	mutex_lock(&conn->call_lock);
again:
	conn->tag++;
	ret = xmem_wire_build_copy_req(conn->send.data, conn->tag, src, dst,
				       flags, mode, uid, gid);
	if (ret)
		goto out;
	ret = xmem_rdma_call_timeout(conn, sizeof(struct xmem_msg_copy_req),
				     XMEM_PULL_TIMEOUT_SEC * HZ +
				     xmem_rdma_call_jiffies());
	if (ret)
		goto out;
	ret = xmem_wire_parse_region_rep(conn->rep, conn->rep_len, conn->tag,
					 XMEM_REGION_OP_ATTACH, out);
	/*
	 * Appliances before minor 8 refuse TEMP as unknown: the copy is an
	 * ordinary region there, which only this client destroys.
	 */
	if (ret == -EPROTO && (flags & XMEM_COPY_F_TEMP)) {
		flags &= ~XMEM_COPY_F_TEMP;
		goto again;
	}
	if (ret == -EBADMSG)
		xmem_rdma_err(conn, "malformed reply to the copy of %s\n", src);
out:
	mutex_unlock(&conn->call_lock);
	return ret;
}

/**
 * xmem_rdma_grant() - grant or revoke another host's access to a region
 * @conn: the connection to the appliance holding the region
 * @name: the region
 * @host: the host granted
 * @op: XMEM_GRANT_OP_GRANT or XMEM_GRANT_OP_REVOKE
 * @flags: XMEM_GRANT_F_*
 * @grantee_uid: with XMEM_GRANT_F_UID, the user of @host
 * @uid: the user the client acts for
 * @gid: that user's group
 *
 * Context: process context, may sleep up to the call timeout.
 * Return: 0; the appliance's answer (see struct xmem_msg_grant_req):
 * -EINVAL, -ENOENT, -EACCES, -ENOSPC; -EOPNOTSUPP from an appliance older
 * than protocol 1.5; -EBADMSG, -ENOTCONN or -ETIMEDOUT.
 */
int xmem_rdma_grant(struct xmem_rdma_conn *conn, const char *name,
		    const char *host, u16 op, u16 flags, u32 grantee_uid,
		    u32 uid, u32 gid)
{
	struct xmem_wire_region wr;
	int ret;

	mutex_lock(&conn->call_lock);
	conn->tag++;
	ret = xmem_wire_build_grant_req(conn->send.data, conn->tag, name,
					host, op, flags, grantee_uid, uid,
					gid);
	if (ret)
		goto out;
	ret = xmem_rdma_call(conn, sizeof(struct xmem_msg_grant_req));
	if (ret)
		goto out;
	ret = xmem_wire_parse_region_rep(conn->rep, conn->rep_len, conn->tag,
					 XMEM_REGION_OP_INFO, &wr);
	if (ret == -EBADMSG)
		xmem_rdma_err(conn, "malformed reply to the grant of %s\n",
			      name);
out:
	mutex_unlock(&conn->call_lock);
	return ret;
}

/**
 * xmem_rdma_stat() - ask the appliance for its totals
 * @conn: the connection
 * @out: out, the totals
 *
 * Context: process context; sleeps, killable, up to the call timeout.
 * Return: 0, -EBADMSG, -ENOTCONN, -ETIMEDOUT, or -EINTR for a killed caller.
 */
int xmem_rdma_stat(struct xmem_rdma_conn *conn, struct xmem_wire_stat *out)
{
	int ret;

	mutex_lock(&conn->call_lock);
	conn->tag++;
	xmem_wire_build_stat_req(conn->send.data, conn->tag);
	ret = xmem_rdma_call(conn, sizeof(struct xmem_msg_stat_req));
	if (!ret)
		ret = xmem_wire_parse_stat_rep(conn->rep, conn->rep_len,
					       conn->tag, out);
	mutex_unlock(&conn->call_lock);
	return ret;
}

static void xmem_rdma_rw_done(struct ib_cq *cq, struct ib_wc *wc)
{
	struct xmem_rdma_req *req =
		container_of(wc->wr_cqe, struct xmem_rdma_req, cqe);
	struct xmem_rdma_batch *batch = req->batch;

	if (unlikely(wc->status != IB_WC_SUCCESS)) {
		xmem_rdma_wc_error(cq->cq_context, wc,
				   wc->opcode == IB_WC_RDMA_READ ?
				   "RDMA READ" : "RDMA WRITE");
		batch->error = -EIO;
	}
	if (atomic_dec_and_test(&batch->pending))
		complete(&batch->done);
}

/*
 * Wait condition of a transfer: true once @n contexts and requests are
 * reserved (moved to @reqs; *@reserved is then true) or the connection
 * cannot be used any more.
 */
static bool xmem_rdma_reserve(struct xmem_rdma_conn *conn, unsigned int n,
			      struct list_head *reqs, bool *reserved)
{
	unsigned int i;

	if (!xmem_rdma_usable(conn))
		return true;
	spin_lock(&conn->rw_lock);
	if (conn->rw_avail >= n) {
		conn->rw_avail -= n;
		for (i = 0; i < n; i++)
			list_move_tail(conn->rw_free.next, reqs);
		*reserved = true;
	}
	spin_unlock(&conn->rw_lock);
	return *reserved;
}

static void xmem_rdma_unreserve(struct xmem_rdma_conn *conn, unsigned int n,
				struct list_head *reqs)
{
	spin_lock(&conn->rw_lock);
	list_splice_tail_init(reqs, &conn->rw_free);
	conn->rw_avail += n;
	spin_unlock(&conn->rw_lock);
	wake_up_all(&conn->rw_wait);
}

/**
 * xmem_rdma_run() - pages one transfer request can carry
 * @ios: pages and their offsets in the region
 * @n: entries of @ios, at least one
 * @max: pages a request carries at most, at least one
 *
 * A request carries pages whose offsets follow each other in the region:
 * one RDMA READ or WRITE moves a contiguous remote range to or from a
 * scatter list of local pages.
 *
 * Context: any.
 * Return: how many of the first entries of @ios one request carries,
 * between 1 and min(@n, @max).
 */
VISIBLE_IF_KUNIT unsigned int xmem_rdma_run(const struct xmem_io *ios,
					    unsigned int n, unsigned int max)
{
	unsigned int k = 1;

	while (k < n && k < max &&
	       ios[k].offset == ios[k - 1].offset + PAGE_SIZE)
		k++;
	return k;
}
EXPORT_SYMBOL_IF_KUNIT(xmem_rdma_run);

/*
 * Transfer the first pages of @ios[0..@n) with at most rw_max requests of
 * at most @sge pages each, reserved all at once.  *@pages is set to the
 * pages it covered, *@nr_wr to the work requests it posted.  On return no
 * transfer is in flight.  Returns 0 or an error; -ENOMEM only if rdma_rw
 * could not allocate the work requests of a scatter list (@sge > 1).
 */
static int xmem_rdma_rw_chunk(struct xmem_rdma_conn *conn, u64 raddr,
			      u32 rkey, const struct xmem_io *ios,
			      unsigned int n, unsigned int sge, bool write,
			      unsigned int *pages, unsigned int *nr_wr)
{
	enum dma_data_direction dir = write ? DMA_TO_DEVICE : DMA_FROM_DEVICE;
	unsigned int i, j, k, nr_req = 0;
	struct xmem_rdma_batch batch;
	struct xmem_rdma_req *req;
	bool reserved = false;
	LIST_HEAD(reqs);
	int ret;

	for (i = 0; i < n && nr_req < conn->rw_max; nr_req++)
		i += xmem_rdma_run(ios + i, n - i, sge);
	n = i;
	*pages = n;
	*nr_wr = 0;

	wait_event(conn->rw_wait, xmem_rdma_reserve(conn, nr_req, &reqs,
						    &reserved));
	if (!reserved)
		return -ENOTCONN;

	atomic_set(&batch.pending, 1);
	batch.error = 0;
	init_completion(&batch.done);
	list_for_each_entry(req, &reqs, node)
		req->posted = false;
	i = 0;
	list_for_each_entry(req, &reqs, node) {
		k = xmem_rdma_run(ios + i, n - i, sge);
		req->batch = &batch;
		req->cqe.done = xmem_rdma_rw_done;
		req->nents = k;
		sg_init_table(req->sg, k);
		for (j = 0; j < k; j++)
			sg_set_page(&req->sg[j], ios[i + j].page, PAGE_SIZE, 0);
		ret = rdma_rw_ctx_init(&req->ctx, conn->qp, conn->port_num,
				       req->sg, k, 0, raddr + ios[i].offset,
				       rkey, dir);
		i += k;
		if (ret < 0) {
			batch.error = ret;
			break;
		}
		*nr_wr += ret;
		req->posted = true;
		atomic_inc(&batch.pending);
		ret = rdma_rw_ctx_post(&req->ctx, conn->qp, conn->port_num,
				       &req->cqe, NULL);
		if (ret) {
			xmem_rdma_err(conn, "cannot post a transfer: %d\n", ret);
			atomic_dec(&batch.pending);
			batch.error = ret;
			xmem_rdma_set_state(conn, XMEM_RDMA_FAILED);
			break;
		}
	}
	/*
	 * Bounded by the transport retry count; the timeout covers an HCA
	 * that does not honour it.  The wait is not killable: the requests
	 * and @batch belong to the HCA until they complete, and only failing
	 * the connection (for every user) could hand them back early.
	 */
	if (!atomic_dec_and_test(&batch.pending) &&
	    !wait_for_completion_timeout(&batch.done, XMEM_RDMA_RW_TIMEOUT)) {
		xmem_rdma_err(conn, "transfers not completed in %u s\n",
			      XMEM_RDMA_RW_TIMEOUT / HZ);
		xmem_rdma_abort(conn);
		wait_for_completion(&batch.done);
		batch.error = batch.error ?: -EIO;
	}

	list_for_each_entry(req, &reqs, node) {
		if (req->posted)
			rdma_rw_ctx_destroy(&req->ctx, conn->qp,
					    conn->port_num, req->sg,
					    req->nents, dir);
	}
	xmem_rdma_unreserve(conn, nr_req, &reqs);
	return batch.error;
}

/**
 * xmem_rdma_rw() - read or write whole pages of a remote region
 * @conn: the connection
 * @raddr: remote address of the region's byte 0
 * @rkey: the region's remote key
 * @ios: the pages and their offsets in the region
 * @n: number of entries in @ios
 * @write: true for RDMA WRITE (local to remote), false for RDMA READ
 *
 * Pages whose offsets follow each other in @ios go as one RDMA READ or
 * WRITE with a scatter list (up to the connection's rw_sge pages, see
 * xmem_rdma_run()); a caller that lists the pages of a range in order
 * gets one work request per range.  Posts up to the QP's depth at once
 * and returns when every transfer has completed: on return no transfer on
 * these pages is in flight, whatever the result.
 *
 * With the debug_wb_delay_ms test knob set, a write first sleeps that long
 * (a signal cuts the sleep short).
 *
 * Context: process context, may sleep.  Needs no memory to make progress:
 * the requests are preallocated with the QP, and where rdma_rw cannot
 * allocate the work requests of a scatter list, the pages go one per
 * request, which allocates nothing (a page already transferred is
 * transferred again: whole pages, so that is harmless).  So it may be
 * called on the write-back path under memory pressure.
 * Return: the number of work requests posted (at least one for @n > 0),
 * 0 for @n == 0; -ENOTCONN if the connection is not usable; -EIO if a
 * transfer failed (the connection is then failed); -ENOMEM if the
 * device could not map a page.
 */
int xmem_rdma_rw(struct xmem_rdma_conn *conn, u64 raddr, u32 rkey,
		 const struct xmem_io *ios, unsigned int n, bool write)
{
	unsigned int done, pages, nr_wr, sge, delay;
	unsigned long start = jiffies;
	int total = 0, ret;

	if (!n)
		return 0;
	if (!xmem_rdma_usable(conn) || !conn->rw_max)
		return -ENOTCONN;
	delay = READ_ONCE(xmem_rdma_wb_delay_ms);
	if (write && delay)
		msleep_interruptible(delay);
	sge = conn->rw_sge;
	for (done = 0; done < n; done += pages) {
		ret = xmem_rdma_rw_chunk(conn, raddr, rkey, ios + done,
					 n - done, sge, write, &pages, &nr_wr);
		if (ret == -ENOMEM && sge > 1) {
			xmem_rdma_warn(conn, "no memory for a scatter list; pages go one per transfer\n");
			sge = 1;
			pages = 0;
			continue;
		}
		if (ret)
			return ret;
		total += nr_wr;
	}
	xmem_rdma_stamp(conn, start);
	return total;
}
