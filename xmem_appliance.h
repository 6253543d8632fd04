/* SPDX-License-Identifier: GPL-2.0 */
/*
 * xmem: the pool of appliances a client uses.
 *
 * Each member has its own connection, reconnection with back-off and
 * sysfs directory (appliances/ADDR:PORT/).  The core binds every region to
 * the member that holds it and asks the pool for a member to place a new
 * region on (the placement knob).  Nothing here knows about regions: the
 * core is called back through struct xmem_pool_ops.
 */
#ifndef XMEM_APPLIANCE_H
#define XMEM_APPLIANCE_H

#include <linux/kobject.h>
#include <linux/socket.h>
#include <linux/types.h>

struct xmem_appliance;
struct xmem_rdma_conn;
struct attribute_group;

/* Members of a pool at most. */
#define XMEM_POOL_MAX		16

/**
 * struct xmem_pool_ops - what the pool asks of the core
 * @reattach: a new connection to @a is about to be installed: refresh the
 *	remote address and key of every region @a holds (and adopt regions
 *	bound to a removed member with the same address).  Called with the
 *	member's connection lock held; may sleep and use @conn.  Returns 0,
 *	or a negative errno when it could not look at the regions (no
 *	memory): the connection is not installed then and is tried again.
 * @drain: move every region @a holds to other members.  Called from the
 *	appliance_remove store; returns 0 or a negative errno.
 * @attached: regions this client has bound to @a.
 * @sync: write back the dirty pages of every region held by @a, or by
 *	any member when @a is NULL; 0 or -EIO.
 */
struct xmem_pool_ops {
	int (*reattach)(struct xmem_appliance *a,
			struct xmem_rdma_conn *conn);
	int (*drain)(struct xmem_appliance *a);
	unsigned int (*attached)(struct xmem_appliance *a);
	int (*sync)(struct xmem_appliance *a);
};

int xmem_pool_init(const struct xmem_pool_ops *ops, const char *addrs);
int xmem_pool_sysfs_add(struct kobject *parent);
void xmem_pool_exit(void);
extern const struct attribute_group xmem_pool_attr_group;

void xmem_appliance_get(struct xmem_appliance *a);
void xmem_appliance_put(struct xmem_appliance *a);
const char *xmem_appliance_name(const struct xmem_appliance *a);
bool xmem_appliance_same(const struct xmem_appliance *a,
			 const struct xmem_appliance *b);
bool xmem_appliance_member(const struct xmem_appliance *a);
const struct sockaddr_storage *
xmem_appliance_addr(const struct xmem_appliance *a);
void xmem_appliance_error(struct xmem_appliance *a, int err);

struct xmem_rdma_conn *xmem_appliance_conn(struct xmem_appliance *a,
					   unsigned long deadline);
struct xmem_rdma_conn *xmem_appliance_conn_now(struct xmem_appliance *a);

unsigned int xmem_pool_members(struct xmem_appliance **apps,
			       struct xmem_rdma_conn **conns,
			       unsigned int max);
void xmem_pool_put_members(struct xmem_appliance **apps,
			   struct xmem_rdma_conn **conns, unsigned int n);
struct xmem_appliance *xmem_pool_place(u64 size,
				       const struct xmem_appliance *exclude,
				       struct xmem_rdma_conn **connp);

#endif /* XMEM_APPLIANCE_H */
