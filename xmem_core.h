/* SPDX-License-Identifier: GPL-2.0 */
/*
 * xmem: the client's device, as the files of the core share it.
 *
 * xmem_core.c holds the device (init/exit, knobs, the pseudo file system)
 * and the pager's backend: transfers with retry across reconnections.
 * xmem_region.c holds the regions known here: registry, lookup,
 * permissions, attach and the calls to the appliance holding a region.
 * xmem_fops.c holds the file operations and ioctls of /dev/xmem and of
 * /dev/xmem.d/NAME, whose misc devices xmem_node.c registers.
 * xmem_drain.c holds what the pool asks of the core: reattach after a
 * reconnection, sync, and the move of regions off a drained appliance.
 * The appliances themselves (connections, recovery, placement) are in
 * xmem_appliance.c; faults, eviction and write-back in xmem_pager.c, the
 * PTE side in xmem_tlb.c, the transport in xmem_rdma.c and message
 * encoding in xmem_wire.c.  A fault goes xmem_pager.c -> xmem_core.c
 * (xmem_backend_rw) -> xmem_rdma.c.
 *
 * Every open of /dev/xmem shares one address space (one anonymous inode's
 * mapping), so the kernel's mapping helpers reach every PTE of a page in
 * every process.  Each region owns a window of that address space: page i
 * of a region lives at page offset region->base + i.  mmap offsets are
 * region relative; ->mmap moves vm_pgoff into the region's window.
 *
 * Lock ordering of the module, outermost first:
 *   xmem_file.lock (ATTACH and SNAPSHOT with TEMP; copy_to_user() under it
 *     may take mmap_lock)
 *   xmem_device.attach_lock (ATTACH by name, across the appliance's answer)
 *   mmap_lock (held by the mm core around ->mmap and the fault handlers)
 *   xmem_region.hold (shared by write faults under mmap_lock, which wait
 *     for it with mmap_lock released unless the fault cannot be retried;
 *     exclusive by a snapshot, which holds none of the locks above it)
 *   xmem_pool.lock (membership changes; xmem_appliance.c)
 *   xmem_core_region.op_lock (one region's resize, detach, destroy, move
 *     and write-back of all its pages; across calls to the appliance)
 *   xmem_appliance.lock (one member's connection changes)
 *   misc_mtx (misc_register/deregister; held around a node's ->open)
 *   xmem_device.lock (the registry only: never across a network call or a
 *     wait for a connection, so that reattach, which takes it under
 *     xmem_appliance.lock, never waits for a holder that waits for it)
 *   portion LOCKED bits: several only in ascending (region, index) order,
 *     or with trylock (the evictor)
 *   xmem_core_region.io_lock (shared by transfers under portion locks, and
 *     by a snapshot for its source, then its target; exclusive by shrink
 *     and drain, which hold no portion lock and one region's at a time)
 *   xmem_rdma_conn.call_lock (inside the transport)
 *   i_mmap_rwsem, page table locks (taken by the mm helpers)
 *   xmem_device.remote_lock, xmem_pool.conn_lock, xmem_pool.secret_lock,
 *     xmem_cache.lock, a region's xa_lock (innermost; never nested with
 *     one another)
 */
#ifndef XMEM_CORE_H
#define XMEM_CORE_H

#include <linux/idr.h>
#include <linux/miscdevice.h>
#include <linux/mutex.h>
#include <linux/rwsem.h>
#include <linux/spinlock.h>
#include <linux/workqueue.h>

#include "uapi/xmem.h"
#include "xmem_acct.h"
#include "xmem_pager.h"

struct xmem_appliance;
struct xmem_wire_region;
struct xmem_wire_region_req;
struct xmem_pool_ops;
struct xmem_rdma_conn;

/* Page offsets per region window: 1 TiB, the largest region. */
#define XMEM_WINDOW_SHIFT	(40 - PAGE_SHIFT)
/* Windows 1 .. XMEM_MAX_WINDOWS - 1; offsets stay below 2^60 bytes. */
#define XMEM_MAX_WINDOWS	BIT(20)

/**
 * struct xmem_core_region - a region as this client knows it
 * @r: the pager's view
 * @list: entry in &xmem_device.regions, under &xmem_device.lock
 * @window: its window in the shared address space (IDA slot)
 * @appl: the appliance holding it, referenced; under
 *	&xmem_device.remote_lock, changed only with @io_lock held for write
 * @region_id: the appliance's identifier; under &xmem_device.remote_lock
 * @addr: remote address of byte 0; under &xmem_device.remote_lock
 * @rkey: remote key; under &xmem_device.remote_lock
 * @lost: the appliance no longer has it; under &xmem_device.remote_lock
 * @remote_size: its size on the appliance, which another client may have
 *	changed before this one follows; under &xmem_device.remote_lock
 * @uid: owner, as the appliance reports it; set at attach
 * @gid: group; set at attach
 * @mode: permission bits; set at attach
 * @pending_pages: size another client gave it, seen at reconnection and
 *	not applied yet, or 0; under &xmem_device.remote_lock
 * @wb_pinned: a write-back of it failed and some of its pages may still
 *	hold data the appliance does not have: it holds a reference to the
 *	module meanwhile, so that rmmod is refused instead of dropping them
 *	(xmem_region_pin(), xmem_region_settle()); under the xa_lock of
 *	@r.portions, whose marks say what is dirty
 * @nr_files: files bound to it (its node's opens, ATTACH and SNAPSHOT
 *	TEMP on /dev/xmem); counted before a file is bound, uncounted at
 *	its release.  With @r's nr_vmas, what makes it open or mapped
 * @dying: DETACH or DESTROY is taking it away: opens of @node and ATTACH
 *	by name refuse it; under &xmem_device.lock (walks that hold
 *	@op_lock read it without: its setter takes @op_lock after setting
 *	it, so a stale false only lets their change go first)
 * @hold: the token of this client's SOLE hold on the appliance
 *	(XMEM_ATTACH_SOLE), or 0; set at attach or, under @op_lock, by an
 *	ATTACH with SOLE of the region attached here (xmem_region_set_hold());
 *	cleared under @op_lock if a move to another appliance loses the hold
 *	or DETACH with XMEM_DETACH_HOLD ends it (xmem_region_set_hold());
 *	read without a lock by reattach (a stale value asks for a hold it
 *	has, or has just given up: then others' ATTACH stays refused, as
 *	while it held it)
 * @temp: a temporary region (SNAPSHOT with TEMP): bound to one file,
 *	refused to ATTACH by name and without @node; set before it is listed
 * @temp_done: the file bound to @temp was released: &xmem_device.temp_work
 *	destroys it; set once, read without a lock
 * @node: /dev/xmem.d/NAME, registered while it is attached here
 * @node_added: @node is registered; set before the region is listed,
 *	cleared under @op_lock by the one DETACH or DESTROY that set @dying
 * @node_name: @node's device name, "xmem.NAME"
 * @node_path: @node's path below /dev
 * @io_lock: taken shared around every transfer on the region, exclusive
 *	while a shrink changes its remote key or a drain moves it to
 *	another appliance; never held while waiting for a portion lock
 * @op_lock: serialises the operations that change the region as a whole
 *	(resize, detach, destroy, a move by drain, following a resize by
 *	another client, the pool's write-back of all its pages); held across
 *	their calls to the appliance and write-back, never by reattach or
 *	the backend, so a reconnection is never stuck behind it
 */
struct xmem_core_region {
	struct xmem_region r;
	struct list_head list;
	int window;
	struct xmem_appliance *appl;
	u64 region_id;
	u64 addr;
	u32 rkey;
	bool lost;
	u64 remote_size;
	u32 uid;
	u32 gid;
	u32 mode;
	pgoff_t pending_pages;
	bool wb_pinned;
	atomic_t nr_files;
	bool dying;
	u64 hold;
	bool temp;
	bool temp_done;
	struct miscdevice node;
	bool node_added;
	char node_name[XMEM_REGION_NAME_MAX + 8];
	char node_path[XMEM_REGION_NAME_MAX + 8];
	/* Excludes transfers while the remote location changes. */
	struct rw_semaphore io_lock;
	/* Serialises resize, detach, destroy, move and whole write-back. */
	struct mutex op_lock;
};

/**
 * struct xmem_file - state of one open file
 * @lock: serialises binding
 * @region: the region the file is bound to, or NULL; holds a reference.
 *	Set once, with release semantics, under @lock; read without it
 *	(->mmap runs under mmap_lock, which ATTACH's copy_to_user() may take
 *	inside @lock) and stable until the file is released.
 * @acct: its allocator counters (XMEM_IOC_ACCOUNT)
 * @wb_since: the region's write-back errors this file's fsync has seen:
 *	sampled when the file is bound, checked and advanced by each fsync
 *	(as the page cache does with file->f_wb_err)
 */
struct xmem_file {
	/* Serialises ATTACH: protects the transition of region from NULL. */
	struct mutex lock;
	struct xmem_core_region *region;
	struct xmem_acct acct;
	errseq_t wb_since;
};

/**
 * struct xmem_device - the one xmem device
 * @misc: /dev/xmem
 * @mnt: pseudo file system holding @inode
 * @inode: anonymous inode whose mapping every open file shares
 * @cache: the local page cache
 * @attach_lock: serialises ATTACH by name, so that one name has one
 *	region here; held across the appliance's answer, never taken by
 *	reattach, write-back or the pool's callbacks
 * @lock: protects @regions and each region's @dying; never held across
 *	a network call or a wait for a connection
 * @regions: known regions (struct xmem_core_region.list)
 * @remote_lock: protects where every region lives (appliance, id,
 *	address, key, lost, remote size, pending_pages)
 * @windows: allocates region windows
 * @resize_work: after a reconnection, applies sizes other clients gave
 *	regions (pending_pages) and writes back the regions a failed
 *	write-back pinned (@wb_pinned)
 * @temp_work: destroys the temporary regions whose file was released
 *	(xmem_temp_work())
 */
struct xmem_device {
	struct miscdevice misc;
	struct vfsmount *mnt;
	struct inode *inode;
	struct xmem_cache cache;

	/* Serialises ATTACH by name. */
	struct mutex attach_lock;
	/* Protects regions and each region's dying; no network I/O under it. */
	struct mutex lock;
	struct list_head regions;

	/* Protects the remote fields of every region. */
	spinlock_t remote_lock;
	struct ida windows;
	struct work_struct resize_work;
	struct delayed_work temp_work;
};

extern struct xmem_device xmem_dev;
extern unsigned int xmem_max_regions;
extern const struct file_operations xmem_fops;
extern const struct xmem_pool_ops xmem_pool_ops;

#define to_core_region(region) container_of(region, struct xmem_core_region, r)

/* xmem_region.c */
struct xmem_appliance *xmem_region_appl(struct xmem_core_region *cr);
void xmem_region_bind(struct xmem_device *dev, struct xmem_core_region *cr,
		      struct xmem_appliance *a,
		      const struct xmem_wire_region *wr);
u32 xmem_caller_uid(void);
u32 xmem_caller_gid(void);
bool xmem_may_attach(const struct xmem_core_region *cr);
bool xmem_may_admin(const struct xmem_core_region *cr);
struct xmem_core_region *xmem_lookup_region(struct xmem_device *dev,
					    const char *name);
int xmem_remote_find(const char *name, struct xmem_appliance **ap,
		     struct xmem_rdma_conn **connp,
		     struct xmem_wire_region *wr);
struct xmem_core_region *xmem_attach_region(struct xmem_device *dev,
					    const struct xmem_attach *a,
					    bool temp);
int xmem_region_set_hold(struct xmem_device *dev,
			 struct xmem_core_region *cr, bool hold);
int xmem_region_call(struct xmem_core_region *cr,
		     const struct xmem_wire_region_req *req,
		     struct xmem_wire_region *wr);
int xmem_name_call(const struct xmem_wire_region_req *req,
		   struct xmem_wire_region *wr);
struct xmem_core_region **xmem_regions_get(struct xmem_device *dev,
					   unsigned int *np);
void xmem_regions_put(struct xmem_core_region **crs, unsigned int n);
int xmem_region_claim(struct xmem_device *dev, struct xmem_core_region *cr,
		      bool idle, const char *what);
void xmem_region_unclaim(struct xmem_device *dev,
			 struct xmem_core_region *cr);
void xmem_region_pin(struct xmem_core_region *cr);
bool xmem_region_settle(struct xmem_core_region *cr);
void xmem_forget_region(struct xmem_device *dev, struct xmem_core_region *cr);
int xmem_quiesce_region(struct xmem_core_region *cr, const char *what);
unsigned int xmem_io_timeout(void);

/* xmem_node.c */
void xmem_node_add(struct xmem_core_region *cr);
void xmem_node_del(struct xmem_core_region *cr);

/* xmem_drain.c */
void xmem_resize_work(struct work_struct *work);

/* xmem_snap.c */
long xmem_ioctl_snapshot(struct xmem_file *xf, void __user *arg);
void xmem_temp_release(struct xmem_core_region *cr);
void xmem_temp_kick(void);
void xmem_temp_work(struct work_struct *work);
bool xmem_temps_end(struct xmem_device *dev);

/* xmem_grant.c */
long xmem_ioctl_grant(void __user *arg);

#endif /* XMEM_CORE_H */
