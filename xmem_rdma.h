/* SPDX-License-Identifier: GPL-2.0 */
/*
 * xmem: the RDMA transport behind an opaque API.  Nothing outside
 * xmem_rdma.c sees an ib_* or rdma_* type: the pager and the core talk to
 * an appliance through these functions only.
 */
#ifndef XMEM_RDMA_H
#define XMEM_RDMA_H

#include <linux/types.h>

struct page;
struct sockaddr_storage;
struct xmem_rdma_conn;
struct xmem_wire_region;
struct xmem_wire_region_req;
struct xmem_wire_stat;

/**
 * struct xmem_rdma_ops - what the transport tells its user
 * @link_down: the connection failed or the peer went away after it was
 *	established.  Called at most once per connection, from the RDMA CM
 *	or completion context: it must not sleep and must not destroy the
 *	connection (queue work for that).
 */
struct xmem_rdma_ops {
	void (*link_down)(void *priv);
};

/**
 * struct xmem_io - one page of a one-sided transfer
 * @page: the local page
 * @offset: byte offset in the remote region, page aligned
 */
struct xmem_io {
	struct page *page;
	u64 offset;
};

int xmem_rdma_init(void);
void xmem_rdma_exit(void);
int xmem_rdma_connect(const struct sockaddr_storage *dst,
		      const struct xmem_rdma_ops *ops, void *priv,
		      const u8 *secret, size_t secret_len, const char *host,
		      struct xmem_rdma_conn **connp);
void xmem_rdma_disconnect(struct xmem_rdma_conn *conn);
void xmem_rdma_set_timeout(unsigned int secs);
bool xmem_rdma_connected(struct xmem_rdma_conn *conn);
bool xmem_rdma_fresh(struct xmem_rdma_conn *conn, unsigned long window);
void xmem_rdma_get(struct xmem_rdma_conn *conn);
void xmem_rdma_put(struct xmem_rdma_conn *conn);
int xmem_rdma_region(struct xmem_rdma_conn *conn,
		     const struct xmem_wire_region_req *r,
		     struct xmem_wire_region *out);
int xmem_rdma_pull(struct xmem_rdma_conn *conn,
		   const struct sockaddr_storage *src, const char *name,
		   const char *dst, struct xmem_wire_region *out);
int xmem_rdma_copy(struct xmem_rdma_conn *conn, const char *src,
		   const char *dst, u32 flags, u32 mode, u32 uid, u32 gid,
		   struct xmem_wire_region *out);
int xmem_rdma_grant(struct xmem_rdma_conn *conn, const char *name,
		    const char *host, u16 op, u16 flags, u32 grantee_uid,
		    u32 uid, u32 gid);
int xmem_rdma_stat(struct xmem_rdma_conn *conn, struct xmem_wire_stat *out);
int xmem_rdma_rw(struct xmem_rdma_conn *conn, u64 raddr, u32 rkey,
		 const struct xmem_io *ios, unsigned int n, bool write);
#if IS_ENABLED(CONFIG_KUNIT)
unsigned int xmem_rdma_run(const struct xmem_io *ios, unsigned int n,
			   unsigned int max);
struct xmem_rdma_conn *xmem_rdma_test_conn(void);
unsigned int xmem_rdma_test_released(void);
#endif

#endif /* XMEM_RDMA_H */
