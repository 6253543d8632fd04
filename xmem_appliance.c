// SPDX-License-Identifier: GPL-2.0
/*
 * xmem: the pool of appliances a client uses.
 *
 * Every member has one connection, brought up by its connect work with
 * back-off and torn down by its link work when the transport reports the
 * link lost; a member that gives up is "failed" until its address is
 * written again.  Members are added and removed through sysfs
 * (appliance_add, appliance_remove, appliance), each has a directory
 * appliances/ADDR:PORT/ with its state, totals and errors, and the
 * placement knob says where new regions go.
 *
 * A member's structure lives as long as its kobject: regions bound to it
 * hold references, so a member removed without draining ("appliance none")
 * stays allocated, disconnected and out of the pool, until its regions
 * are rebound to a new member with the same address or go away.
 *
 * Locking (see also the order at the top of xmem_core.h):
 *   pool.lock		membership changes and placement writes; outermost
 *   xmem_appliance.lock	connection changes of one member
 *   (the core's device lock, taken briefly by the pool_ops callbacks;
 *   never held by the core across a network call)
 *   pool.conn_lock	readers' view: the member list, each member's conn,
 *			state and draining flag, the placement policy
 *   pool.secret_lock	the shared secret; never held while connecting
 */
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/device.h>
#include <linux/inet.h>
#include <linux/in.h>
#include <linux/in6.h>
#include <linux/kobject.h>
#include <linux/mutex.h>
#include <linux/random.h>
#include <linux/slab.h>
#include <linux/spinlock.h>
#include <linux/string.h>
#include <linux/utsname.h>
#include <linux/sysfs.h>
#include <linux/wait.h>
#include <linux/workqueue.h>
#include <net/ipv6.h>

#include "xmem_proto.h"
#include "xmem_appliance.h"
#include "xmem_rdma.h"
#include "xmem_wire.h"

#define XMEM_RECONNECT_MAX	30
#define XMEM_RECONNECT_DELAY	(2 * HZ)
#define XMEM_ADDR_LEN		(INET6_ADDRSTRLEN + 8)

enum xmem_state {
	XMEM_DISCONNECTED,	/* not in the pool */
	XMEM_CONNECTING,	/* (re)connecting */
	XMEM_CONNECTED,
	XMEM_FAILED,		/* gave up; write the address again */
};

static const char * const xmem_state_names[] = {
	[XMEM_DISCONNECTED] = "disconnected",
	[XMEM_CONNECTING] = "connecting",
	[XMEM_CONNECTED] = "connected",
	[XMEM_FAILED] = "failed",
};

enum xmem_placement {
	XMEM_PLACE_FILL_FIRST,
	XMEM_PLACE_SPREAD,
	XMEM_PLACE_NAMED,
};

/**
 * struct xmem_appliance - one appliance of the pool
 * @kobj: appliances/@name/; its reference count keeps the structure
 * @node: entry in pool.members, changed under pool.lock and pool.conn_lock
 * @addr: RDMA CM address and port
 * @name: @addr as ADDR:PORT
 * @lock: serialises connection changes; protects @attempts and @member
 * @member: in the pool: (re)connects; read without @lock with READ_ONCE
 * @attempts: connection attempts since the link was lost
 * @conn: the connection or NULL; under pool.conn_lock
 * @state: an enum xmem_state; under pool.conn_lock
 * @draining: being drained, no new regions; under pool.conn_lock
 * @reconnects: links lost since it was added
 * @last_error: last failed connection or transfer, negative errno or 0
 * @connect_work: (re)connects, with back-off
 * @link_work: tears a failed connection down
 */
struct xmem_appliance {
	struct kobject kobj;
	struct list_head node;
	struct sockaddr_storage addr;
	char name[XMEM_ADDR_LEN];

	/* Serialises connection changes; protects attempts and member. */
	struct mutex lock;
	bool member;
	unsigned int attempts;

	struct xmem_rdma_conn *conn;
	enum xmem_state state;
	bool draining;

	atomic_t reconnects;
	int last_error;
	struct delayed_work connect_work;
	struct work_struct link_work;
};

/**
 * struct xmem_pool - the appliances of this client
 * @ops: the core's callbacks
 * @lock: serialises membership changes and placement writes
 * @conn_lock: protects @members, @nr, @policy, @place_addr and each
 *	member's conn, state and draining for readers
 * @members: struct xmem_appliance.node, in the order added
 * @nr: number of members
 * @wq: woken when a member's state changes
 * @policy: an enum xmem_placement
 * @place_addr: the member of XMEM_PLACE_NAMED
 * @secret_lock: protects @secret, @secret_len and @identity
 * @secret: shared secret or this host's key, never shown or logged
 * @secret_len: its length, 0 without one
 * @identity: this host's name where the appliance has a key per host;
 *	empty: the node name
 * @dir: appliances/, NULL before xmem_pool_sysfs_add()
 * @live: members may be added: from xmem_pool_sysfs_add() to
 *	xmem_pool_exit(), whatever the order in which the device's files
 *	appear and go; under @lock
 * @load_addrs: the appliance= module parameter, connected once @dir exists
 */
static struct xmem_pool {
	const struct xmem_pool_ops *ops;
	/* Serialises membership changes and placement writes. */
	struct mutex lock;
	/* Protects members, nr, policy, place_addr and members' conn/state. */
	spinlock_t conn_lock;
	struct list_head members;
	unsigned int nr;
	wait_queue_head_t wq;
	enum xmem_placement policy;
	struct sockaddr_storage place_addr;
	/* Protects secret, secret_len and identity. */
	struct mutex secret_lock;
	u8 secret[XMEM_AUTH_SECRET_MAX];
	size_t secret_len;
	char identity[XMEM_HOST_MAX];
	struct kobject *dir;
	bool live;
	const char *load_addrs;
} pool;

#define to_appliance(k) container_of(k, struct xmem_appliance, kobj)

/* Parse "ADDR:PORT", with an IPv6 address in brackets. */
static int xmem_parse_addr(const char *buf, size_t len,
			   struct sockaddr_storage *ss)
{
	char host[INET6_ADDRSTRLEN + 8], *port;
	const char *h;
	u16 p;

	if (!len || len >= sizeof(host))
		return -EINVAL;
	memcpy(host, buf, len);
	host[len] = '\0';
	port = strrchr(host, ':');
	if (!port || kstrtou16(port + 1, 10, &p) || !p)
		return -EINVAL;
	*port = '\0';
	h = host;
	if (h[0] == '[') {
		if (port == host || port[-1] != ']')
			return -EINVAL;
		port[-1] = '\0';
		h++;
	}
	memset(ss, 0, sizeof(*ss));
	return inet_pton_with_scope(&init_net, AF_UNSPEC, h, port + 1, ss);
}

/* A sysfs line: ADDR:PORT and an optional newline. */
static int xmem_parse_line(const char *buf, struct sockaddr_storage *ss)
{
	return xmem_parse_addr(buf, strcspn(buf, "\n"), ss);
}

static bool xmem_addr_equal(const struct sockaddr_storage *a,
			    const struct sockaddr_storage *b)
{
	const struct sockaddr_in6 *a6 = (const void *)a, *b6 = (const void *)b;
	const struct sockaddr_in *a4 = (const void *)a, *b4 = (const void *)b;

	if (a->ss_family != b->ss_family)
		return false;
	if (a->ss_family == AF_INET)
		return a4->sin_port == b4->sin_port &&
		       a4->sin_addr.s_addr == b4->sin_addr.s_addr;
	return a6->sin6_port == b6->sin6_port &&
	       ipv6_addr_equal(&a6->sin6_addr, &b6->sin6_addr) &&
	       a6->sin6_scope_id == b6->sin6_scope_id;
}

/**
 * xmem_appliance_get() - take a reference to a member
 * @a: the member
 *
 * Context: any.
 */
void xmem_appliance_get(struct xmem_appliance *a)
{
	kobject_get(&a->kobj);
}

/**
 * xmem_appliance_put() - drop a reference taken by xmem_appliance_get()
 * @a: the member, or NULL
 *
 * The structure is freed with the last reference, after its removal.
 *
 * Context: process context.
 */
void xmem_appliance_put(struct xmem_appliance *a)
{
	if (a)
		kobject_put(&a->kobj);
}

/**
 * xmem_appliance_name() - a member's address as ADDR:PORT
 * @a: the member
 *
 * Context: any.  Return: a string that lives as long as @a.
 */
const char *xmem_appliance_name(const struct xmem_appliance *a)
{
	return a->name;
}

/**
 * xmem_appliance_addr() - a member's RDMA CM address
 * @a: the member
 *
 * Context: any.  Return: the address, which lives as long as @a.
 */
const struct sockaddr_storage *
xmem_appliance_addr(const struct xmem_appliance *a)
{
	return &a->addr;
}

/**
 * xmem_appliance_same() - do two members have the same address
 * @a: a member
 * @b: another
 *
 * Context: any.  Return: true if they name the same appliance.
 */
bool xmem_appliance_same(const struct xmem_appliance *a,
			 const struct xmem_appliance *b)
{
	return a == b || xmem_addr_equal(&a->addr, &b->addr);
}

/**
 * xmem_appliance_member() - is a member still in the pool
 * @a: the member
 *
 * Context: any; the answer may change at once.
 * Return: false once @a was removed.
 */
bool xmem_appliance_member(const struct xmem_appliance *a)
{
	return READ_ONCE(a->member);
}

/**
 * xmem_appliance_error() - record a failure for appliances/NAME/last_error
 * @a: the member
 * @err: negative errno
 *
 * Context: any.
 */
void xmem_appliance_error(struct xmem_appliance *a, int err)
{
	WRITE_ONCE(a->last_error, err);
}

static void xmem_set_state(struct xmem_appliance *a, enum xmem_state state)
{
	spin_lock(&pool.conn_lock);
	a->state = state;
	spin_unlock(&pool.conn_lock);
	wake_up_all(&pool.wq);
}

/* Install a new connection, or none; returns the old one to disconnect. */
static struct xmem_rdma_conn *xmem_swap_conn(struct xmem_appliance *a,
					     struct xmem_rdma_conn *conn,
					     enum xmem_state state)
{
	struct xmem_rdma_conn *old;

	lockdep_assert_held(&a->lock);
	spin_lock(&pool.conn_lock);
	old = a->conn;
	a->conn = conn;
	a->state = state;
	spin_unlock(&pool.conn_lock);
	wake_up_all(&pool.wq);
	return old;
}

static void xmem_link_down(void *priv)
{
	struct xmem_appliance *a = priv;

	queue_work(system_long_wq, &a->link_work);
}

static const struct xmem_rdma_ops xmem_rdma_ops = {
	.link_down = xmem_link_down,
};

/* Connect to @a and install the connection.  Under a->lock. */
static int xmem_connect_locked(struct xmem_appliance *a)
{
	struct xmem_rdma_conn *conn, *old;
	u8 secret[XMEM_AUTH_SECRET_MAX];
	char host[XMEM_HOST_MAX];
	size_t secret_len;
	int ret;

	lockdep_assert_held(&a->lock);
	mutex_lock(&pool.secret_lock);
	memcpy(secret, pool.secret, sizeof(secret));
	secret_len = pool.secret_len;
	strscpy(host, pool.identity[0] ? pool.identity :
		init_utsname()->nodename, sizeof(host));
	mutex_unlock(&pool.secret_lock);

	ret = xmem_rdma_connect(&a->addr, &xmem_rdma_ops, a, secret,
				secret_len, host, &conn);
	memzero_explicit(secret, sizeof(secret));
	if (ret) {
		xmem_appliance_error(a, ret);
		return ret;
	}
	ret = pool.ops->reattach(a, conn);
	if (ret) {
		xmem_rdma_disconnect(conn);
		xmem_appliance_error(a, ret);
		return ret;
	}
	old = xmem_swap_conn(a, conn, XMEM_CONNECTED);
	if (old)
		xmem_rdma_disconnect(old);
	a->attempts = 0;
	return 0;
}

static void xmem_connect_work(struct work_struct *work)
{
	struct xmem_appliance *a = container_of(to_delayed_work(work),
						struct xmem_appliance,
						connect_work);
	unsigned long delay;
	int ret;

	mutex_lock(&a->lock);
	if (!a->member || a->conn)
		goto out;
	ret = xmem_connect_locked(a);
	if (!ret)
		goto out;
	if (++a->attempts >= XMEM_RECONNECT_MAX) {
		pr_err("appliance %s: giving up after %u attempts (%d)\n",
		       a->name, a->attempts, ret);
		xmem_set_state(a, XMEM_FAILED);
		goto out;
	}
	/* Back off, with jitter so that many clients do not march in step. */
	delay = min_t(unsigned long, a->attempts, 5) * XMEM_RECONNECT_DELAY;
	delay += get_random_u32_below(HZ);
	queue_delayed_work(system_long_wq, &a->connect_work, delay);
out:
	mutex_unlock(&a->lock);
}

static void xmem_link_work(struct work_struct *work)
{
	struct xmem_appliance *a = container_of(work, struct xmem_appliance,
						link_work);
	struct xmem_rdma_conn *old;

	mutex_lock(&a->lock);
	if (!a->conn) {
		mutex_unlock(&a->lock);
		return;
	}
	pr_warn("appliance %s: connection lost, reconnecting\n", a->name);
	atomic_inc(&a->reconnects);
	xmem_appliance_error(a, -ENOTCONN);
	old = xmem_swap_conn(a, NULL, a->member ? XMEM_CONNECTING :
						  XMEM_DISCONNECTED);
	a->attempts = 0;
	if (a->member)
		queue_delayed_work(system_long_wq, &a->connect_work, 0);
	mutex_unlock(&a->lock);
	xmem_rdma_disconnect(old);
}

/*
 * True once waiting for @a's connection is pointless or over: a working
 * one is installed, or there is none and none is coming.
 */
static bool xmem_conn_settled(struct xmem_appliance *a)
{
	bool settled;

	spin_lock(&pool.conn_lock);
	if (a->conn)
		settled = xmem_rdma_connected(a->conn);
	else
		settled = a->state != XMEM_CONNECTING;
	spin_unlock(&pool.conn_lock);
	return settled;
}

/**
 * xmem_appliance_conn_now() - a member's working connection, if any
 * @a: the member
 *
 * Context: any; does not wait.
 * Return: a referenced connection (drop it with xmem_rdma_put()), or NULL.
 */
struct xmem_rdma_conn *xmem_appliance_conn_now(struct xmem_appliance *a)
{
	struct xmem_rdma_conn *conn;

	spin_lock(&pool.conn_lock);
	conn = a->conn;
	if (conn && xmem_rdma_connected(conn))
		xmem_rdma_get(conn);
	else
		conn = NULL;
	spin_unlock(&pool.conn_lock);
	return conn;
}

/**
 * xmem_appliance_conn() - a member's working connection, waiting for it
 * @a: the member
 * @deadline: jiffies until which a reconnection in progress is awaited
 *
 * Context: process context, sleeps (killable).
 * Return: a referenced connection, or NULL if there is none by @deadline,
 * none is coming, or the task is being killed.
 */
struct xmem_rdma_conn *xmem_appliance_conn(struct xmem_appliance *a,
					   unsigned long deadline)
{
	struct xmem_rdma_conn *conn;
	enum xmem_state state;
	long left;

	for (;;) {
		left = (long)(deadline - jiffies);
		if (left > 0)
			wait_event_killable_timeout(pool.wq,
						    xmem_conn_settled(a),
						    left);
		conn = xmem_appliance_conn_now(a);
		state = READ_ONCE(a->state);
		if (conn || time_after_eq(jiffies, deadline) ||
		    fatal_signal_pending(current) ||
		    (state != XMEM_CONNECTING && state != XMEM_CONNECTED))
			return conn;
	}
}

/**
 * xmem_pool_members() - the members, in order, with their connections
 * @apps: out, referenced members
 * @conns: out, a referenced working connection per member, or NULL
 * @max: room in @apps and @conns
 *
 * Context: any.  Return: the number of members filled in; release them
 * with xmem_pool_put_members().
 */
unsigned int xmem_pool_members(struct xmem_appliance **apps,
			       struct xmem_rdma_conn **conns,
			       unsigned int max)
{
	struct xmem_appliance *a;
	unsigned int n = 0;

	spin_lock(&pool.conn_lock);
	list_for_each_entry(a, &pool.members, node) {
		if (n == max)
			break;
		xmem_appliance_get(a);
		apps[n] = a;
		conns[n] = a->conn;
		if (conns[n] && xmem_rdma_connected(conns[n]))
			xmem_rdma_get(conns[n]);
		else
			conns[n] = NULL;
		n++;
	}
	spin_unlock(&pool.conn_lock);
	return n;
}

/**
 * xmem_pool_put_members() - release what xmem_pool_members() gave
 * @apps: the members
 * @conns: their connections (NULL entries allowed)
 * @n: how many
 *
 * Context: process context.
 */
void xmem_pool_put_members(struct xmem_appliance **apps,
			   struct xmem_rdma_conn **conns, unsigned int n)
{
	unsigned int i;

	for (i = 0; i < n; i++) {
		if (conns[i])
			xmem_rdma_put(conns[i]);
		xmem_appliance_put(apps[i]);
	}
}

/**
 * xmem_pool_place() - choose the member for a new region
 * @size: the region's size in bytes
 * @exclude: a member not to choose (being drained), or NULL
 * @connp: out, a referenced working connection to the chosen member
 *
 * Applies the placement knob: the named member; the first member (in the
 * order added) with @size bytes free; or the member with the most bytes
 * free.  Members being drained and members without a working connection
 * are skipped; free bytes are asked of each appliance now.
 *
 * Context: process context; sleeps for the STAT round trips.
 * Return: the referenced member, or ERR_PTR(-ENOTCONN) (no usable member,
 * or the named one is not connected), ERR_PTR(-ENOSPC) (none has room).
 */
struct xmem_appliance *xmem_pool_place(u64 size,
				       const struct xmem_appliance *exclude,
				       struct xmem_rdma_conn **connp)
{
	struct xmem_rdma_conn *conns[XMEM_POOL_MAX];
	struct xmem_appliance *apps[XMEM_POOL_MAX];
	struct xmem_appliance *best = ERR_PTR(-ENOTCONN);
	struct sockaddr_storage named;
	enum xmem_placement policy;
	struct xmem_wire_stat st;
	u64 free, best_free = 0;
	unsigned int n, i, best_i = 0;
	bool draining;

	spin_lock(&pool.conn_lock);
	policy = pool.policy;
	named = pool.place_addr;
	spin_unlock(&pool.conn_lock);

	n = xmem_pool_members(apps, conns, ARRAY_SIZE(apps));
	for (i = 0; i < n; i++) {
		spin_lock(&pool.conn_lock);
		draining = apps[i]->draining;
		spin_unlock(&pool.conn_lock);
		if (!conns[i] || draining || apps[i] == exclude)
			continue;
		if (policy == XMEM_PLACE_NAMED &&
		    !xmem_addr_equal(&apps[i]->addr, &named))
			continue;
		if (xmem_rdma_stat(conns[i], &st))
			continue;
		free = st.bytes_capacity > st.bytes_allocated ?
		       st.bytes_capacity - st.bytes_allocated : 0;
		if (free < size) {
			if (IS_ERR(best))
				best = ERR_PTR(-ENOSPC);
			continue;
		}
		if (!IS_ERR(best) && free <= best_free)
			continue;
		best = apps[i];
		best_i = i;
		best_free = free;
		if (policy != XMEM_PLACE_SPREAD)
			break;
	}
	if (!IS_ERR(best)) {
		xmem_appliance_get(best);
		xmem_rdma_get(conns[best_i]);
		*connp = conns[best_i];
	}
	xmem_pool_put_members(apps, conns, n);
	return best;
}

/* Find a member by address; under pool.lock. */
static struct xmem_appliance *xmem_pool_find(const struct sockaddr_storage *ss)
{
	struct xmem_appliance *a;

	lockdep_assert_held(&pool.lock);
	list_for_each_entry(a, &pool.members, node)
		if (xmem_addr_equal(&a->addr, ss))
			return a;
	return NULL;
}

/* sysfs: appliances/NAME/ */

/* Totals of the appliance, asked over the wire. */
static int xmem_appliance_stat(struct xmem_appliance *a,
			       struct xmem_wire_stat *st)
{
	struct xmem_rdma_conn *conn = xmem_appliance_conn_now(a);
	int ret;

	if (!conn)
		return -ENOTCONN;
	ret = xmem_rdma_stat(conn, st);
	xmem_rdma_put(conn);
	return ret;
}

static ssize_t member_state_show(struct kobject *kobj,
				 struct kobj_attribute *attr, char *buf)
{
	struct xmem_appliance *a = to_appliance(kobj);

	return sysfs_emit(buf, "%s\n", xmem_state_names[READ_ONCE(a->state)]);
}

static ssize_t member_regions_show(struct kobject *kobj,
				   struct kobj_attribute *attr, char *buf)
{
	struct xmem_wire_stat st;
	int ret = xmem_appliance_stat(to_appliance(kobj), &st);

	return ret ? ret : sysfs_emit(buf, "%llu\n", st.regions);
}

static ssize_t member_bytes_allocated_show(struct kobject *kobj,
					   struct kobj_attribute *attr, char *buf)
{
	struct xmem_wire_stat st;
	int ret = xmem_appliance_stat(to_appliance(kobj), &st);

	return ret ? ret : sysfs_emit(buf, "%llu\n", st.bytes_allocated);
}

static ssize_t member_bytes_capacity_show(struct kobject *kobj,
					  struct kobj_attribute *attr, char *buf)
{
	struct xmem_wire_stat st;
	int ret = xmem_appliance_stat(to_appliance(kobj), &st);

	return ret ? ret : sysfs_emit(buf, "%llu\n", st.bytes_capacity);
}

static ssize_t member_attached_show(struct kobject *kobj,
				    struct kobj_attribute *attr, char *buf)
{
	return sysfs_emit(buf, "%u\n", pool.ops->attached(to_appliance(kobj)));
}

static ssize_t member_reconnects_show(struct kobject *kobj,
				      struct kobj_attribute *attr, char *buf)
{
	return sysfs_emit(buf, "%d\n",
			  atomic_read(&to_appliance(kobj)->reconnects));
}

static ssize_t member_last_error_show(struct kobject *kobj,
				      struct kobj_attribute *attr, char *buf)
{
	return sysfs_emit(buf, "%d\n", READ_ONCE(to_appliance(kobj)->last_error));
}

static struct kobj_attribute xmem_a_state =
	__ATTR(state, 0444, member_state_show, NULL);
static struct kobj_attribute xmem_a_regions =
	__ATTR(regions, 0444, member_regions_show, NULL);
static struct kobj_attribute xmem_a_bytes_allocated =
	__ATTR(bytes_allocated, 0444, member_bytes_allocated_show, NULL);
static struct kobj_attribute xmem_a_bytes_capacity =
	__ATTR(bytes_capacity, 0444, member_bytes_capacity_show, NULL);
static struct kobj_attribute xmem_a_attached =
	__ATTR(attached, 0444, member_attached_show, NULL);
static struct kobj_attribute xmem_a_reconnects =
	__ATTR(reconnects, 0444, member_reconnects_show, NULL);
static struct kobj_attribute xmem_a_last_error =
	__ATTR(last_error, 0444, member_last_error_show, NULL);

static struct attribute *xmem_appliance_attrs[] = {
	&xmem_a_state.attr,
	&xmem_a_regions.attr,
	&xmem_a_bytes_allocated.attr,
	&xmem_a_bytes_capacity.attr,
	&xmem_a_attached.attr,
	&xmem_a_reconnects.attr,
	&xmem_a_last_error.attr,
	NULL,
};
ATTRIBUTE_GROUPS(xmem_appliance);

static void xmem_appliance_release(struct kobject *kobj)
{
	kfree(to_appliance(kobj));
}

static const struct kobj_type xmem_appliance_ktype = {
	.release = xmem_appliance_release,
	.sysfs_ops = &kobj_sysfs_ops,
	.default_groups = xmem_appliance_groups,
};

static struct xmem_appliance *
xmem_appliance_alloc(const struct sockaddr_storage *ss)
{
	struct xmem_appliance *a = kzalloc(sizeof(*a), GFP_KERNEL);

	if (!a)
		return NULL;
	kobject_init(&a->kobj, &xmem_appliance_ktype);
	INIT_LIST_HEAD(&a->node);
	a->addr = *ss;
	snprintf(a->name, sizeof(a->name), "%pISpc", ss);
	mutex_init(&a->lock);
	a->member = true;
	a->state = XMEM_CONNECTING;
	atomic_set(&a->reconnects, 0);
	INIT_DELAYED_WORK(&a->connect_work, xmem_connect_work);
	INIT_WORK(&a->link_work, xmem_link_work);
	return a;
}

/* Put @a in the pool (list and sysfs); under pool.lock. */
static int xmem_pool_link(struct xmem_appliance *a)
{
	int ret;

	lockdep_assert_held(&pool.lock);
	if (pool.nr >= XMEM_POOL_MAX) {
		pr_warn_ratelimited("appliance %s: the pool holds %u appliances at most\n",
				    a->name, XMEM_POOL_MAX);
		return -ENOSPC;
	}
	ret = kobject_add(&a->kobj, pool.dir, "%s", a->name);
	if (ret)
		return ret;
	spin_lock(&pool.conn_lock);
	list_add_tail(&a->node, &pool.members);
	pool.nr++;
	spin_unlock(&pool.conn_lock);
	return 0;
}

/*
 * Stop @a: no reconnection, no connection; take it out of the pool if it
 * was linked, and drop the pool's reference.  Under pool.lock.
 */
static void xmem_pool_remove(struct xmem_appliance *a)
{
	struct xmem_rdma_conn *old;

	lockdep_assert_held(&pool.lock);
	mutex_lock(&a->lock);
	WRITE_ONCE(a->member, false);
	mutex_unlock(&a->lock);
	cancel_delayed_work_sync(&a->connect_work);
	cancel_work_sync(&a->link_work);

	mutex_lock(&a->lock);
	old = xmem_swap_conn(a, NULL, XMEM_DISCONNECTED);
	mutex_unlock(&a->lock);
	if (old)
		xmem_rdma_disconnect(old);
	/* A link failure before the disconnect may have queued it again. */
	cancel_work_sync(&a->link_work);

	if (!list_empty(&a->node)) {
		spin_lock(&pool.conn_lock);
		list_del_init(&a->node);
		pool.nr--;
		spin_unlock(&pool.conn_lock);
		kobject_del(&a->kobj);
		pr_info("appliance %s: removed\n", a->name);
	}
	xmem_appliance_put(a);
}

/*
 * Add @ss to the pool and connect now; on failure nothing is added.
 * Under pool.lock.
 */
static int xmem_pool_add(const struct sockaddr_storage *ss)
{
	struct xmem_appliance *a;
	int ret;

	lockdep_assert_held(&pool.lock);
	/* Before appliances/ exists or after the pool is gone. */
	if (!pool.live)
		return -ENODEV;
	if (xmem_pool_find(ss))
		return -EEXIST;
	a = xmem_appliance_alloc(ss);
	if (!a)
		return -ENOMEM;
	mutex_lock(&a->lock);
	ret = xmem_connect_locked(a);
	mutex_unlock(&a->lock);
	if (ret) {
		pr_err_ratelimited("appliance %s: cannot connect: %d\n",
				   a->name, ret);
		goto err_remove;
	}
	ret = xmem_pool_link(a);
	if (ret)
		goto err_remove;
	pr_info("appliance %s: added\n", a->name);
	return 0;

err_remove:
	xmem_pool_remove(a);
	return ret;
}

/*
 * Reconnect a member now, after writing back the dirty pages of its
 * regions; the connection error is returned and the member is "failed"
 * then.  Under pool.lock.
 */
static int xmem_pool_reconnect(struct xmem_appliance *a)
{
	struct xmem_rdma_conn *old;
	int ret;

	lockdep_assert_held(&pool.lock);
	cancel_delayed_work_sync(&a->connect_work);
	old = xmem_appliance_conn_now(a);
	if (old) {
		xmem_rdma_put(old);
		if (pool.ops->sync(a)) {
			pr_err_ratelimited("appliance %s: dirty pages could not be written back; keeping the connection\n",
					   a->name);
			return -EIO;
		}
	}
	mutex_lock(&a->lock);
	old = xmem_swap_conn(a, NULL, XMEM_CONNECTING);
	if (old)
		xmem_rdma_disconnect(old);
	a->attempts = 0;
	ret = xmem_connect_locked(a);
	if (ret) {
		pr_err_ratelimited("appliance %s: cannot connect: %d\n",
				   a->name, ret);
		xmem_set_state(a, XMEM_FAILED);
	}
	mutex_unlock(&a->lock);
	return ret;
}

/* Remove every member without draining, after writing back. */
static int xmem_pool_clear(void)
{
	struct xmem_appliance *a, *tmp;

	lockdep_assert_held(&pool.lock);
	if (pool.ops->sync(NULL)) {
		pr_err_ratelimited("appliance none: dirty pages could not be written back; keeping the connections\n");
		return -EIO;
	}
	list_for_each_entry_safe(a, tmp, &pool.members, node)
		xmem_pool_remove(a);
	return 0;
}

/* Drain @a and remove it; under pool.lock. */
static int xmem_pool_drain(struct xmem_appliance *a)
{
	unsigned int left;
	int ret;

	lockdep_assert_held(&pool.lock);
	spin_lock(&pool.conn_lock);
	a->draining = true;
	spin_unlock(&pool.conn_lock);
	pr_info("appliance %s: draining\n", a->name);
	ret = pool.ops->drain(a);
	left = pool.ops->attached(a);
	if (!ret && left)
		ret = -EBUSY;
	if (ret) {
		pr_err_ratelimited("appliance %s: drain failed (%d); %u region(s) still on it, it stays in the pool\n",
				   a->name, ret, left);
		spin_lock(&pool.conn_lock);
		a->draining = false;
		spin_unlock(&pool.conn_lock);
		return ret;
	}
	xmem_pool_remove(a);
	return 0;
}

/* sysfs: the device's pool files */

static ssize_t appliance_show(struct device *d, struct device_attribute *attr,
			      char *buf)
{
	struct xmem_appliance *a;
	ssize_t ret;

	spin_lock(&pool.conn_lock);
	a = list_first_entry_or_null(&pool.members, struct xmem_appliance,
				     node);
	ret = sysfs_emit(buf, "%s\n", a ? a->name : "none");
	spin_unlock(&pool.conn_lock);
	return ret;
}

static ssize_t appliance_store(struct device *d, struct device_attribute *attr,
			       const char *buf, size_t len)
{
	struct sockaddr_storage ss;
	struct xmem_appliance *a;
	int ret;

	if (sysfs_streq(buf, "none") || sysfs_streq(buf, "")) {
		mutex_lock(&pool.lock);
		ret = xmem_pool_clear();
		mutex_unlock(&pool.lock);
		return ret ? ret : len;
	}
	if (xmem_parse_line(buf, &ss)) {
		pr_warn_ratelimited("appliance: expected ADDR:PORT or none\n");
		return -EINVAL;
	}
	mutex_lock(&pool.lock);
	a = xmem_pool_find(&ss);
	ret = a ? xmem_pool_reconnect(a) : xmem_pool_add(&ss);
	mutex_unlock(&pool.lock);
	return ret ? ret : len;
}
static DEVICE_ATTR_RW(appliance);

static ssize_t appliance_add_store(struct device *d,
				   struct device_attribute *attr,
				   const char *buf, size_t len)
{
	struct sockaddr_storage ss;
	int ret;

	if (xmem_parse_line(buf, &ss)) {
		pr_warn_ratelimited("appliance_add: expected ADDR:PORT\n");
		return -EINVAL;
	}
	mutex_lock(&pool.lock);
	ret = xmem_pool_add(&ss);
	mutex_unlock(&pool.lock);
	if (ret == -EEXIST)
		pr_warn_ratelimited("appliance_add: %pISpc is in the pool already\n",
				    &ss);
	return ret ? ret : len;
}
static DEVICE_ATTR_WO(appliance_add);

static ssize_t appliance_remove_store(struct device *d,
				      struct device_attribute *attr,
				      const char *buf, size_t len)
{
	struct sockaddr_storage ss;
	struct xmem_appliance *a;
	int ret;

	if (xmem_parse_line(buf, &ss)) {
		pr_warn_ratelimited("appliance_remove: expected ADDR:PORT\n");
		return -EINVAL;
	}
	mutex_lock(&pool.lock);
	a = xmem_pool_find(&ss);
	if (a) {
		ret = xmem_pool_drain(a);
	} else {
		pr_warn_ratelimited("appliance_remove: %pISpc is not in the pool\n",
				    &ss);
		ret = -ENOENT;
	}
	mutex_unlock(&pool.lock);
	return ret ? ret : len;
}
static DEVICE_ATTR_WO(appliance_remove);

static ssize_t placement_show(struct device *d, struct device_attribute *attr,
			      char *buf)
{
	ssize_t ret;

	spin_lock(&pool.conn_lock);
	switch (pool.policy) {
	case XMEM_PLACE_SPREAD:
		ret = sysfs_emit(buf, "spread\n");
		break;
	case XMEM_PLACE_NAMED:
		ret = sysfs_emit(buf, "%pISpc\n", &pool.place_addr);
		break;
	default:
		ret = sysfs_emit(buf, "fill-first\n");
		break;
	}
	spin_unlock(&pool.conn_lock);
	return ret;
}

static ssize_t placement_store(struct device *d, struct device_attribute *attr,
			       const char *buf, size_t len)
{
	struct sockaddr_storage ss = {};
	enum xmem_placement policy;
	int ret = 0;

	mutex_lock(&pool.lock);
	if (sysfs_streq(buf, "fill-first")) {
		policy = XMEM_PLACE_FILL_FIRST;
	} else if (sysfs_streq(buf, "spread")) {
		policy = XMEM_PLACE_SPREAD;
	} else if (!xmem_parse_line(buf, &ss)) {
		policy = XMEM_PLACE_NAMED;
		if (!xmem_pool_find(&ss)) {
			pr_warn_ratelimited("placement: %pISpc is not in the pool\n",
					    &ss);
			ret = -ENOENT;
		}
	} else {
		pr_warn_ratelimited("placement: expected fill-first, spread or ADDR:PORT of a pool member\n");
		ret = -EINVAL;
	}
	if (!ret) {
		spin_lock(&pool.conn_lock);
		pool.policy = policy;
		pool.place_addr = ss;
		spin_unlock(&pool.conn_lock);
	}
	mutex_unlock(&pool.lock);
	return ret ? ret : len;
}
static DEVICE_ATTR_RW(placement);

static ssize_t secret_store(struct device *d, struct device_attribute *attr,
			    const char *buf, size_t len)
{
	size_t n = len;

	if (n && buf[n - 1] == '\n')
		n--;
	if (n && (n < XMEM_AUTH_SECRET_MIN || n > XMEM_AUTH_SECRET_MAX)) {
		pr_warn_ratelimited("secret: expected %u to %u bytes, or nothing to clear it\n",
				    XMEM_AUTH_SECRET_MIN, XMEM_AUTH_SECRET_MAX);
		return -EINVAL;
	}
	mutex_lock(&pool.secret_lock);
	memzero_explicit(pool.secret, sizeof(pool.secret));
	memcpy(pool.secret, buf, n);
	pool.secret_len = n;
	mutex_unlock(&pool.secret_lock);
	pr_info("shared secret %s; it applies from the next connection\n",
		n ? "set" : "cleared");
	return len;
}
static DEVICE_ATTR_WO(secret);

/*
 * This host's name on appliances that have a key per host (protocol 1.3);
 * the key is written to "secret".  Empty: the node name.
 */
static ssize_t identity_show(struct device *d, struct device_attribute *attr,
			     char *buf)
{
	ssize_t ret;

	mutex_lock(&pool.secret_lock);
	ret = sysfs_emit(buf, "%s\n", pool.identity[0] ? pool.identity :
			 init_utsname()->nodename);
	mutex_unlock(&pool.secret_lock);
	return ret;
}

static ssize_t identity_store(struct device *d, struct device_attribute *attr,
			      const char *buf, size_t len)
{
	char host[XMEM_HOST_MAX] = "";
	size_t n = len;

	if (n && buf[n - 1] == '\n')
		n--;
	if (n >= XMEM_HOST_MAX)
		return -EINVAL;
	memcpy(host, buf, n);
	/* Empty: back to the node name. */
	if (n && xmem_wire_check_name(host, sizeof(host)))
		return -EINVAL;
	mutex_lock(&pool.secret_lock);
	memcpy(pool.identity, host, sizeof(pool.identity));
	mutex_unlock(&pool.secret_lock);
	return len;
}
static DEVICE_ATTR_RW(identity);

/*
 * The pool's state in one word: "disconnected" without members, else the
 * worst member's: failed, then connecting, then connected.
 */
static ssize_t state_show(struct device *d, struct device_attribute *attr,
			  char *buf)
{
	enum xmem_state state = XMEM_DISCONNECTED;
	struct xmem_appliance *a;
	bool failed = false, connecting = false;

	spin_lock(&pool.conn_lock);
	list_for_each_entry(a, &pool.members, node) {
		failed |= a->state == XMEM_FAILED;
		connecting |= a->state == XMEM_CONNECTING;
		state = XMEM_CONNECTED;
	}
	spin_unlock(&pool.conn_lock);
	if (failed)
		state = XMEM_FAILED;
	else if (connecting)
		state = XMEM_CONNECTING;
	return sysfs_emit(buf, "%s\n", xmem_state_names[state]);
}
static DEVICE_ATTR_RO(state);

/* Totals over the connected members; ENOTCONN if none is. */
static int xmem_pool_stat(struct xmem_wire_stat *sum)
{
	struct xmem_rdma_conn *conns[XMEM_POOL_MAX];
	struct xmem_appliance *apps[XMEM_POOL_MAX];
	struct xmem_wire_stat st;
	unsigned int n, i;
	int ret = -ENOTCONN;

	memset(sum, 0, sizeof(*sum));
	n = xmem_pool_members(apps, conns, ARRAY_SIZE(apps));
	for (i = 0; i < n; i++) {
		if (!conns[i] || xmem_rdma_stat(conns[i], &st))
			continue;
		sum->regions += st.regions;
		sum->bytes_allocated += st.bytes_allocated;
		sum->bytes_capacity += st.bytes_capacity;
		ret = 0;
	}
	xmem_pool_put_members(apps, conns, n);
	return ret;
}

static ssize_t appliance_regions_show(struct device *d,
				      struct device_attribute *attr, char *buf)
{
	struct xmem_wire_stat st;
	int ret = xmem_pool_stat(&st);

	return ret ? ret : sysfs_emit(buf, "%llu\n", st.regions);
}
static DEVICE_ATTR_RO(appliance_regions);

static ssize_t appliance_bytes_show(struct device *d,
				    struct device_attribute *attr, char *buf)
{
	struct xmem_wire_stat st;
	int ret = xmem_pool_stat(&st);

	return ret ? ret : sysfs_emit(buf, "%llu\n", st.bytes_allocated);
}
static DEVICE_ATTR_RO(appliance_bytes);

static struct attribute *xmem_pool_attrs[] = {
	&dev_attr_appliance.attr,
	&dev_attr_appliance_add.attr,
	&dev_attr_appliance_remove.attr,
	&dev_attr_placement.attr,
	&dev_attr_state.attr,
	&dev_attr_secret.attr,
	&dev_attr_identity.attr,
	&dev_attr_appliance_regions.attr,
	&dev_attr_appliance_bytes.attr,
	NULL,
};

const struct attribute_group xmem_pool_attr_group = {
	.attrs = xmem_pool_attrs,
};

/**
 * xmem_pool_init() - set the pool up, without members yet
 * @ops: the core's callbacks
 * @addrs: the appliance= module parameter: comma-separated ADDR:PORT
 *	entries, or NULL
 *
 * Only checks @addrs; the members are added and connected (in the
 * background) by xmem_pool_sysfs_add().
 *
 * Context: module init.
 * Return: 0, or -EINVAL for a malformed @addrs.
 */
int xmem_pool_init(const struct xmem_pool_ops *ops, const char *addrs)
{
	struct sockaddr_storage ss;
	const char *p = addrs;
	size_t len;

	mutex_init(&pool.lock);
	spin_lock_init(&pool.conn_lock);
	INIT_LIST_HEAD(&pool.members);
	init_waitqueue_head(&pool.wq);
	mutex_init(&pool.secret_lock);
	pool.ops = ops;
	pool.policy = XMEM_PLACE_FILL_FIRST;

	while (p && *p) {
		len = strcspn(p, ",");
		if (xmem_parse_addr(p, len, &ss)) {
			pr_err("appliance=%s: expected ADDR:PORT[,ADDR:PORT...]\n",
			       addrs);
			return -EINVAL;
		}
		p += len;
		if (*p)
			p++;
	}
	pool.load_addrs = addrs;
	return 0;
}

/**
 * xmem_pool_sysfs_add() - create appliances/ and add the load-time members
 * @parent: the device's kobject
 *
 * The appliance= members are added at once and connected in the
 * background, with the usual back-off.
 *
 * Context: module init, after the device is registered.
 * Return: 0 or -ENOMEM.
 */
int xmem_pool_sysfs_add(struct kobject *parent)
{
	struct sockaddr_storage ss;
	struct xmem_appliance *a;
	const char *p = pool.load_addrs;
	size_t len;

	pool.dir = kobject_create_and_add("appliances", parent);
	if (!pool.dir)
		return -ENOMEM;

	mutex_lock(&pool.lock);
	pool.live = true;
	while (p && *p) {
		len = strcspn(p, ",");
		if (!xmem_parse_addr(p, len, &ss) && !xmem_pool_find(&ss)) {
			a = xmem_appliance_alloc(&ss);
			if (a && !xmem_pool_link(a))
				queue_delayed_work(system_long_wq,
						   &a->connect_work, 0);
			else if (a)
				xmem_pool_remove(a);
		}
		p += len;
		if (*p)
			p++;
	}
	mutex_unlock(&pool.lock);
	return 0;
}

/**
 * xmem_pool_exit() - disconnect and remove every member
 *
 * The core has written back and dropped its regions before.  From here on
 * the pool's files of the device, which go later with the device, add no
 * member (-ENODEV).
 *
 * Context: module exit.
 */
void xmem_pool_exit(void)
{
	struct xmem_appliance *a, *tmp;

	mutex_lock(&pool.lock);
	/* The device's files may still be written: they add nothing now. */
	pool.live = false;
	list_for_each_entry_safe(a, tmp, &pool.members, node)
		xmem_pool_remove(a);
	mutex_unlock(&pool.lock);
	kobject_put(pool.dir);
	pool.dir = NULL;
	memzero_explicit(pool.secret, sizeof(pool.secret));
}
