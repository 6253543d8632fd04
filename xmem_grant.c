// SPDX-License-Identifier: GPL-2.0
/*
 * xmem: grants (XMEM_IOC_GRANT).  A region belongs to the client host that
 * created it and to a user of that host; its owner lets another host, or
 * one user of it, attach it with a grant the appliance keeps
 * (XMEM_MSG_GRANT_REQ, protocol 1.5).  See Documentation/security.rst.
 */
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/string.h>
#include <linux/uaccess.h>

#include "uapi/xmem.h"
#include "xmem_appliance.h"
#include "xmem_core.h"
#include "xmem_rdma.h"
#include "xmem_wire.h"

/**
 * xmem_ioctl_grant - XMEM_IOC_GRANT: grant or revoke a host's access
 * @arg: the caller's struct xmem_grant
 *
 * Finds the pool member holding the region and asks it, as the caller's
 * fsuid and fsgid; the appliance decides whether the caller owns the
 * region.  Nothing changes on this client.
 *
 * Context: process context; waits for the appliance (bounded by the call
 * timeout).
 * Return: 0 or a negative errno, see struct xmem_grant.
 */
long xmem_ioctl_grant(void __user *arg)
{
	struct xmem_rdma_conn *conn = NULL;
	struct xmem_appliance *a = NULL;
	struct xmem_wire_region wr;
	struct xmem_grant g;
	u16 flags;
	int ret;

	if (copy_from_user(&g, arg, sizeof(g)))
		return -EFAULT;
	if (g.flags & ~XMEM_GRANT_ALL ||
	    memchr_inv(g.reserved, 0, sizeof(g.reserved)) ||
	    (g.uid && !(g.flags & XMEM_GRANT_UID)) ||
	    xmem_wire_check_name(g.name, sizeof(g.name)) ||
	    xmem_wire_check_name(g.host, sizeof(g.host))) {
		pr_warn_ratelimited("GRANT from %s[%d]: bad name, host, flags, uid or reserved field\n",
				    current->comm, task_pid_nr(current));
		return -EINVAL;
	}
	flags = g.flags & XMEM_GRANT_UID ? XMEM_GRANT_F_UID : 0;

	ret = xmem_remote_find(g.name, &a, &conn, &wr);
	if (ret)
		return ret;
	ret = xmem_rdma_grant(conn, g.name, g.host,
			      g.flags & XMEM_GRANT_REVOKE ?
			      XMEM_GRANT_OP_REVOKE : XMEM_GRANT_OP_GRANT,
			      flags, g.uid, xmem_caller_uid(),
			      xmem_caller_gid());
	xmem_rdma_put(conn);
	xmem_appliance_put(a);
	if (!ret)
		pr_info("region %s: %s host %s%s by uid %u\n", g.name,
			g.flags & XMEM_GRANT_REVOKE ? "revoked from" :
			"granted to", g.host,
			g.flags & XMEM_GRANT_UID ? " (one user)" : "",
			xmem_caller_uid());
	return ret;
}
