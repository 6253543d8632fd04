// SPDX-License-Identifier: GPL-2.0
/*
 * KUnit tests of xmem's pure logic: wire-message encoding and validation,
 * and the pager (fetch, portion tracking, eviction, write-back) driven by
 * a fake backend in memory instead of an appliance.
 *
 * Built as xmem_kunit.ko; loading it (with xmem.ko loaded) runs the suites.
 */
#include <kunit/test.h>
#include <linux/anon_inodes.h>
#include <linux/file.h>
#include <linux/fs.h>
#include <linux/highmem.h>
#include <linux/in.h>
#include <linux/in6.h>
#include <linux/mm.h>
#include <linux/mman.h>
#include <linux/module.h>
#include <linux/slab.h>
#include <linux/uaccess.h>
#include <linux/vmalloc.h>
#include <linux/workqueue.h>

#include "../xmem_acct.h"
#include "../xmem_pager.h"
#include "../xmem_rdma.h"
#include "../xmem_wire.h"

/* --- wire --- */

static void xmem_wire_test_names(struct kunit *test)
{
	char long_name[XMEM_NAME_MAX];
	char buf[8] = "abc";

	KUNIT_EXPECT_EQ(test, xmem_wire_check_name("vm-1.mem_A", 64), 0);
	KUNIT_EXPECT_EQ(test, xmem_wire_check_name("", 64), -EINVAL);
	KUNIT_EXPECT_EQ(test, xmem_wire_check_name(".", 64), -EINVAL);
	KUNIT_EXPECT_EQ(test, xmem_wire_check_name("..", 64), -EINVAL);
	KUNIT_EXPECT_EQ(test, xmem_wire_check_name("a/b", 64), -EINVAL);
	KUNIT_EXPECT_EQ(test, xmem_wire_check_name("a b", 64), -EINVAL);
	KUNIT_EXPECT_EQ(test, xmem_wire_check_name("caf\xe9", 64), -EINVAL);

	/* 63 characters fit; 64 without a NUL do not. */
	memset(long_name, 'x', sizeof(long_name));
	KUNIT_EXPECT_EQ(test, xmem_wire_check_name(long_name, 64), -EINVAL);
	long_name[63] = '\0';
	KUNIT_EXPECT_EQ(test, xmem_wire_check_name(long_name, 64), 0);

	/* The NUL must be inside the buffer the caller owns. */
	KUNIT_EXPECT_EQ(test, xmem_wire_check_name(buf, 3), -EINVAL);
	KUNIT_EXPECT_EQ(test, xmem_wire_check_name(buf, 4), 0);
}

static int xmem_build(struct xmem_msg_attach_req *req, const char *name,
		      u64 size, u32 flags)
{
	return xmem_wire_build_attach_req(req, 42, name, size, flags);
}

/* A SOLE ATTACH carries its hold's token; READ goes with neither. */
static void xmem_wire_test_region_req_sole(struct kunit *test)
{
	struct xmem_wire_region_req r = {
		.op = XMEM_REGION_OP_ATTACH,
		.flags = XMEM_ATTACH_F_CREATE | XMEM_ATTACH_F_SOLE,
		.size = 4 * PAGE_SIZE,
		.hold = 0x1234567890abcdefULL,
		.name = "heap",
	};
	struct xmem_msg_region_req req;

	KUNIT_ASSERT_EQ(test, xmem_wire_build_region_req(&req, 9, &r), 0);
	KUNIT_EXPECT_EQ(test, le16_to_cpu(req.flags),
			XMEM_ATTACH_F_CREATE | XMEM_ATTACH_F_SOLE);
	KUNIT_EXPECT_EQ(test, le64_to_cpu(req.reserved), r.hold);

	r.hold = 0;
	KUNIT_EXPECT_EQ(test, xmem_wire_build_region_req(&req, 9, &r),
			-EINVAL);
	r.hold = 1;
	r.flags = XMEM_ATTACH_F_CREATE;
	KUNIT_EXPECT_EQ(test, xmem_wire_build_region_req(&req, 9, &r),
			-EINVAL);
	r.hold = 0;
	r.flags = XMEM_ATTACH_F_READ | XMEM_ATTACH_F_CREATE;
	KUNIT_EXPECT_EQ(test, xmem_wire_build_region_req(&req, 9, &r),
			-EINVAL);
	r.flags = XMEM_ATTACH_F_READ | XMEM_ATTACH_F_SOLE;
	r.hold = 1;
	KUNIT_EXPECT_EQ(test, xmem_wire_build_region_req(&req, 9, &r),
			-EINVAL);
	r.flags = XMEM_ATTACH_F_READ;
	r.hold = 0;
	r.size = 0;
	KUNIT_ASSERT_EQ(test, xmem_wire_build_region_req(&req, 9, &r), 0);
	KUNIT_EXPECT_EQ(test, le64_to_cpu(req.reserved), 0);
	r.flags = 0x10;
	KUNIT_EXPECT_EQ(test, xmem_wire_build_region_req(&req, 9, &r),
			-EINVAL);
}

static void xmem_wire_test_attach_req(struct kunit *test)
{
	const u64 too_big = XMEM_REGION_MAX_BYTES + PAGE_SIZE;
	const u32 create = XMEM_ATTACH_F_CREATE;
	struct xmem_msg_attach_req req;

	KUNIT_ASSERT_EQ(test, xmem_build(&req, "r1", 2 * PAGE_SIZE, create), 0);
	KUNIT_EXPECT_EQ(test, le16_to_cpu(req.hdr.type), XMEM_MSG_ATTACH_REQ);
	KUNIT_EXPECT_EQ(test, le32_to_cpu(req.hdr.len), sizeof(req));
	KUNIT_EXPECT_EQ(test, le64_to_cpu(req.hdr.tag), 42);
	KUNIT_EXPECT_EQ(test, le64_to_cpu(req.size), 2 * PAGE_SIZE);
	KUNIT_EXPECT_EQ(test, le32_to_cpu(req.flags), create);
	KUNIT_EXPECT_STREQ(test, req.name, "r1");
	KUNIT_EXPECT_EQ(test, req.reserved, 0);
	KUNIT_EXPECT_EQ(test, req.name[63], 0);

	KUNIT_EXPECT_EQ(test, xmem_build(&req, "r1", 100, 0), -EINVAL);
	KUNIT_EXPECT_EQ(test, xmem_build(&req, "r1", PAGE_SIZE, 0x80), -EINVAL);
	KUNIT_EXPECT_EQ(test, xmem_build(&req, "r1", PAGE_SIZE,
					 XMEM_ATTACH_F_EXCL), -EINVAL);
	KUNIT_EXPECT_EQ(test, xmem_build(&req, "r/1", PAGE_SIZE, 0), -EINVAL);
	KUNIT_EXPECT_EQ(test, xmem_build(&req, "r1", too_big, 0), -EINVAL);
}

static void xmem_wire_fill_rep(struct xmem_msg_attach_rep *rep, u64 tag)
{
	memset(rep, 0, sizeof(*rep));
	rep->hdr.type = cpu_to_le16(XMEM_MSG_ATTACH_REP);
	rep->hdr.len = cpu_to_le32(sizeof(*rep));
	rep->hdr.tag = cpu_to_le64(tag);
	rep->region_id = cpu_to_le64(7);
	rep->size = cpu_to_le64(16 * PAGE_SIZE);
	rep->addr = cpu_to_le64(0x10000);
	rep->rkey = cpu_to_le32(0x1234);
	rep->created = cpu_to_le32(1);
}

static void xmem_wire_test_attach_rep(struct kunit *test)
{
	struct xmem_msg_attach_rep rep;
	struct xmem_msg_error_rep err;
	struct xmem_wire_region r;

	xmem_wire_fill_rep(&rep, 9);
	KUNIT_ASSERT_EQ(test, xmem_wire_parse_attach_rep(&rep, sizeof(rep), 9,
							 &r), 0);
	KUNIT_EXPECT_EQ(test, r.region_id, 7);
	KUNIT_EXPECT_EQ(test, r.size, 16 * PAGE_SIZE);
	KUNIT_EXPECT_EQ(test, r.addr, 0x10000);
	KUNIT_EXPECT_EQ(test, r.rkey, 0x1234);
	KUNIT_EXPECT_TRUE(test, r.created);

	/* Truncated, padded, another tag, another type. */
	KUNIT_EXPECT_EQ(test, xmem_wire_parse_attach_rep(&rep, sizeof(rep) - 1,
							 9, &r), -EBADMSG);
	KUNIT_EXPECT_EQ(test, xmem_wire_parse_attach_rep(&rep, sizeof(rep), 8,
							 &r), -EBADMSG);
	rep.hdr.type = cpu_to_le16(XMEM_MSG_STAT_REP);
	KUNIT_EXPECT_EQ(test, xmem_wire_parse_attach_rep(&rep, sizeof(rep), 9,
							 &r), -EBADMSG);

	/* Reserved fields, implausible values. */
	xmem_wire_fill_rep(&rep, 9);
	rep.reserved2 = cpu_to_le32(1);
	KUNIT_EXPECT_EQ(test, xmem_wire_parse_attach_rep(&rep, sizeof(rep), 9,
							 &r), -EBADMSG);
	xmem_wire_fill_rep(&rep, 9);
	rep.size = cpu_to_le64(PAGE_SIZE + 1);
	KUNIT_EXPECT_EQ(test, xmem_wire_parse_attach_rep(&rep, sizeof(rep), 9,
							 &r), -EBADMSG);
	xmem_wire_fill_rep(&rep, 9);
	rep.addr = cpu_to_le64(U64_MAX - PAGE_SIZE);
	KUNIT_EXPECT_EQ(test, xmem_wire_parse_attach_rep(&rep, sizeof(rep), 9,
							 &r), -EBADMSG);
	xmem_wire_fill_rep(&rep, 9);
	rep.region_id = 0;
	KUNIT_EXPECT_EQ(test, xmem_wire_parse_attach_rep(&rep, sizeof(rep), 9,
							 &r), -EBADMSG);

	/* A refusal carries only its status. */
	xmem_wire_fill_rep(&rep, 9);
	rep.status = cpu_to_le32(ENOENT);
	KUNIT_EXPECT_EQ(test, xmem_wire_parse_attach_rep(&rep, sizeof(rep), 9,
							 &r), -EBADMSG);
	memset(&rep.created, 0, sizeof(rep) - offsetof(typeof(rep), created));
	KUNIT_EXPECT_EQ(test, xmem_wire_parse_attach_rep(&rep, sizeof(rep), 9,
							 &r), -ENOENT);
	rep.status = cpu_to_le32(100000);
	KUNIT_EXPECT_EQ(test, xmem_wire_parse_attach_rep(&rep, sizeof(rep), 9,
							 &r), -EBADMSG);

	/* An error reply to an unparseable request. */
	memset(&err, 0, sizeof(err));
	err.hdr.type = cpu_to_le16(XMEM_MSG_ERROR_REP);
	err.hdr.len = cpu_to_le32(sizeof(err));
	err.hdr.tag = cpu_to_le64(9);
	err.status = cpu_to_le32(EBADMSG);
	KUNIT_EXPECT_EQ(test, xmem_wire_parse_attach_rep(&err, sizeof(err), 9,
							 &r), -EBADMSG);
	err.status = cpu_to_le32(EOPNOTSUPP);
	KUNIT_EXPECT_EQ(test, xmem_wire_parse_attach_rep(&err, sizeof(err), 9,
							 &r), -EOPNOTSUPP);
}

static void xmem_wire_test_hello(struct kunit *test)
{
	struct xmem_hello_rep rep = {
		.magic = cpu_to_le32(XMEM_PROTO_MAGIC),
		.major = cpu_to_le16(XMEM_PROTO_MAJOR),
		.minor = cpu_to_le16(XMEM_PROTO_MINOR + 3),
		.credits = cpu_to_le16(16),
	};
	struct xmem_hello hello;
	u16 credits = 0;

	xmem_wire_build_hello(&hello, 4);
	KUNIT_EXPECT_EQ(test, le32_to_cpu(hello.magic), XMEM_PROTO_MAGIC);
	KUNIT_EXPECT_EQ(test, le16_to_cpu(hello.major), XMEM_PROTO_MAJOR);
	KUNIT_EXPECT_EQ(test, le16_to_cpu(hello.credits), 4);

	/* A newer minor is fine; transports may pad private data. */
	KUNIT_EXPECT_EQ(test, xmem_wire_parse_hello_rep(&rep, sizeof(rep) + 8,
							&credits), 0);
	KUNIT_EXPECT_EQ(test, credits, 16);
	KUNIT_EXPECT_EQ(test, xmem_wire_parse_hello_rep(&rep, sizeof(rep) - 1,
							&credits), -EPROTO);
	KUNIT_EXPECT_EQ(test, xmem_wire_parse_hello_rep(NULL, 0, &credits),
			-EPROTO);
	rep.status = cpu_to_le16(EPERM);
	KUNIT_EXPECT_EQ(test, xmem_wire_parse_hello_rep(&rep, sizeof(rep),
							&credits), -EPERM);
	rep.status = 0;
	rep.major = cpu_to_le16(XMEM_PROTO_MAJOR + 1);
	KUNIT_EXPECT_EQ(test, xmem_wire_parse_hello_rep(&rep, sizeof(rep),
							&credits), -EPROTO);
	rep.major = cpu_to_le16(XMEM_PROTO_MAJOR);
	rep.magic = 0;
	KUNIT_EXPECT_EQ(test, xmem_wire_parse_hello_rep(&rep, sizeof(rep),
							&credits), -EPROTO);
}

static void xmem_wire_test_pull_req(struct kunit *test)
{
	struct sockaddr_storage ss;
	struct sockaddr_in *sin = (struct sockaddr_in *)&ss;
	struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)&ss;
	struct xmem_msg_pull_req req;
	static const u8 v4[4] = { 10, 77, 0, 2 };
	static const u8 zero[12];
	u8 v6[16];
	int i;

	/* IPv4: the address in the first 4 bytes, the port as it was. */
	memset(&ss, 0, sizeof(ss));
	sin->sin_family = AF_INET;
	sin->sin_port = htons(7471);
	memcpy(&sin->sin_addr, v4, sizeof(v4));
	memset(&req, 0xaa, sizeof(req));
	KUNIT_ASSERT_EQ(test, xmem_wire_build_pull_req(&req, 77, &ss, "vm1"),
			0);
	KUNIT_EXPECT_EQ(test, le16_to_cpu(req.hdr.type), XMEM_MSG_PULL_REQ);
	KUNIT_EXPECT_EQ(test, le16_to_cpu(req.hdr.flags), 0);
	KUNIT_EXPECT_EQ(test, le32_to_cpu(req.hdr.len), sizeof(req));
	KUNIT_EXPECT_EQ(test, le64_to_cpu(req.hdr.tag), 77);
	KUNIT_EXPECT_EQ(test, le16_to_cpu(req.family), 2);
	KUNIT_EXPECT_EQ(test, ntohs(req.port), 7471);
	KUNIT_EXPECT_EQ(test, le32_to_cpu(req.flags), 0);
	KUNIT_EXPECT_EQ(test, req.reserved2, 0);
	KUNIT_EXPECT_EQ(test, memcmp(req.addr, v4, 4), 0);
	KUNIT_EXPECT_EQ(test, memcmp(req.addr + 4, zero, sizeof(zero)), 0);
	KUNIT_EXPECT_STREQ(test, req.name, "vm1");
	KUNIT_EXPECT_NULL(test, memchr_inv(req.name + 3, 0,
					   sizeof(req.name) - 3));
	KUNIT_EXPECT_EQ(test, sizeof(req), 112);

	/* IPv6: all 16 bytes. */
	memset(&ss, 0, sizeof(ss));
	sin6->sin6_family = AF_INET6;
	sin6->sin6_port = htons(7472);
	for (i = 0; i < 16; i++)
		v6[i] = 0xf0 + i;
	memcpy(&sin6->sin6_addr, v6, sizeof(v6));
	KUNIT_ASSERT_EQ(test, xmem_wire_build_pull_req(&req, 78, &ss, "a.b-c_d"),
			0);
	KUNIT_EXPECT_EQ(test, le16_to_cpu(req.family), 10);
	KUNIT_EXPECT_EQ(test, ntohs(req.port), 7472);
	KUNIT_EXPECT_EQ(test, memcmp(req.addr, v6, sizeof(v6)), 0);
	KUNIT_EXPECT_STREQ(test, req.name, "a.b-c_d");

	/* Another family, no port, bad names: nothing is encoded. */
	memset(&req, 0xaa, sizeof(req));
	ss.ss_family = AF_UNIX;
	KUNIT_EXPECT_EQ(test, xmem_wire_build_pull_req(&req, 1, &ss, "vm1"),
			-EINVAL);
	ss.ss_family = AF_UNSPEC;
	KUNIT_EXPECT_EQ(test, xmem_wire_build_pull_req(&req, 1, &ss, "vm1"),
			-EINVAL);
	ss.ss_family = AF_INET6;
	sin6->sin6_port = 0;
	KUNIT_EXPECT_EQ(test, xmem_wire_build_pull_req(&req, 1, &ss, "vm1"),
			-EINVAL);
	sin6->sin6_port = htons(7471);
	KUNIT_EXPECT_EQ(test, xmem_wire_build_pull_req(&req, 1, &ss, ""),
			-EINVAL);
	KUNIT_EXPECT_EQ(test, xmem_wire_build_pull_req(&req, 1, &ss, ".."),
			-EINVAL);
	KUNIT_EXPECT_EQ(test, xmem_wire_build_pull_req(&req, 1, &ss, "a/b"),
			-EINVAL);
	KUNIT_EXPECT_NULL(test, memchr_inv(&req, 0xaa, sizeof(req)));
}

/* A PULL that fills a region of another name (minor 7). */
static void xmem_wire_test_pull_dst_req(struct kunit *test)
{
	struct sockaddr_storage ss;
	struct sockaddr_in *sin = (struct sockaddr_in *)&ss;
	struct xmem_msg_pull_dst_req req;
	static const u8 v4[4] = { 10, 77, 0, 3 };

	memset(&ss, 0, sizeof(ss));
	sin->sin_family = AF_INET;
	sin->sin_port = htons(7471);
	memcpy(&sin->sin_addr, v4, sizeof(v4));
	memset(&req, 0xaa, sizeof(req));
	KUNIT_ASSERT_EQ(test, xmem_wire_build_pull_dst_req(&req, 79, &ss, "vm1",
							   "vm1-copy"), 0);
	KUNIT_EXPECT_EQ(test, le16_to_cpu(req.pull.hdr.type),
			XMEM_MSG_PULL_REQ);
	KUNIT_EXPECT_EQ(test, le32_to_cpu(req.pull.hdr.len), sizeof(req));
	KUNIT_EXPECT_EQ(test, le64_to_cpu(req.pull.hdr.tag), 79);
	KUNIT_EXPECT_EQ(test, le32_to_cpu(req.pull.flags),
			XMEM_PULL_F_FILL | XMEM_PULL_F_DST);
	KUNIT_EXPECT_EQ(test, ntohs(req.pull.port), 7471);
	KUNIT_EXPECT_EQ(test, memcmp(req.pull.addr, v4, 4), 0);
	KUNIT_EXPECT_EQ(test, req.pull.reserved2, 0);
	KUNIT_EXPECT_STREQ(test, req.pull.name, "vm1");
	KUNIT_EXPECT_STREQ(test, req.dst, "vm1-copy");
	KUNIT_EXPECT_NULL(test, memchr_inv(req.dst + 8, 0,
					   sizeof(req.dst) - 8));
	KUNIT_EXPECT_EQ(test, sizeof(req), 176);

	/* A bad target name, or a bad source: nothing is encoded. */
	memset(&req, 0xaa, sizeof(req));
	KUNIT_EXPECT_EQ(test, xmem_wire_build_pull_dst_req(&req, 1, &ss, "vm1",
							   "a/b"), -EINVAL);
	KUNIT_EXPECT_EQ(test, xmem_wire_build_pull_dst_req(&req, 1, &ss, "vm1",
							   ""), -EINVAL);
	KUNIT_EXPECT_EQ(test, xmem_wire_build_pull_dst_req(&req, 1, &ss, "..",
							   "vm2"), -EINVAL);
	sin->sin_port = 0;
	KUNIT_EXPECT_EQ(test, xmem_wire_build_pull_dst_req(&req, 1, &ss, "vm1",
							   "vm2"), -EINVAL);
	KUNIT_EXPECT_NULL(test, memchr_inv(&req, 0xaa, sizeof(req)));
}

/* What xmemd answers to a PULL: a REGION_REP as for an ATTACH that created. */
static void xmem_wire_test_auth_host_req(struct kunit *test)
{
	struct xmem_msg_auth_host_req req;
	u8 nonce[XMEM_AUTH_NONCE_SIZE];

	memset(nonce, 0x5a, sizeof(nonce));
	KUNIT_ASSERT_EQ(test, xmem_wire_build_auth_host_req(&req, 9, nonce,
							    "client1"), 0);
	KUNIT_EXPECT_EQ(test, le16_to_cpu(req.hdr.type),
			XMEM_MSG_AUTH_HOST_REQ);
	KUNIT_EXPECT_EQ(test, le32_to_cpu(req.hdr.len), sizeof(req));
	KUNIT_EXPECT_EQ(test, le64_to_cpu(req.hdr.tag), 9);
	KUNIT_EXPECT_EQ(test, le16_to_cpu(req.step), 1);
	KUNIT_EXPECT_NULL(test, memchr_inv(req.reserved, 0,
					   sizeof(req.reserved)));
	KUNIT_EXPECT_EQ(test, memcmp(req.nonce, nonce, sizeof(nonce)), 0);
	KUNIT_EXPECT_STREQ(test, req.host, "client1");
	KUNIT_EXPECT_NULL(test, memchr_inv(req.host + 7, 0,
					   sizeof(req.host) - 7));
	KUNIT_EXPECT_EQ(test, sizeof(req), 120);

	/* Names as region names go: nothing is encoded otherwise. */
	KUNIT_EXPECT_EQ(test, xmem_wire_build_auth_host_req(&req, 1, nonce, ""),
			-EINVAL);
	KUNIT_EXPECT_EQ(test, xmem_wire_build_auth_host_req(&req, 1, nonce,
							    "a b"), -EINVAL);
	KUNIT_EXPECT_EQ(test, xmem_wire_build_auth_host_req(&req, 1, nonce,
							    ".."), -EINVAL);
}

/* Which pages one transfer request carries. */
static void xmem_rdma_test_run(struct kunit *test)
{
	struct xmem_io ios[40] = {};
	unsigned int i;

	for (i = 0; i < ARRAY_SIZE(ios); i++)
		ios[i].offset = (u64)(100 + i) * PAGE_SIZE;
	KUNIT_EXPECT_EQ(test, xmem_rdma_run(ios, 1, 32), 1);
	KUNIT_EXPECT_EQ(test, xmem_rdma_run(ios, 40, 32), 32);
	KUNIT_EXPECT_EQ(test, xmem_rdma_run(ios, 40, 1), 1);
	KUNIT_EXPECT_EQ(test, xmem_rdma_run(ios, 7, 32), 7);
	KUNIT_EXPECT_EQ(test, xmem_rdma_run(ios + 35, 5, 32), 5);
	/* A gap ends a request, and so does a step back. */
	ios[10].offset += PAGE_SIZE;
	KUNIT_EXPECT_EQ(test, xmem_rdma_run(ios, 40, 32), 10);
	KUNIT_EXPECT_EQ(test, xmem_rdma_run(ios + 10, 30, 32), 1);
	KUNIT_EXPECT_EQ(test, xmem_rdma_run(ios + 11, 29, 32), 29);
	ios[20].offset = ios[19].offset;
	KUNIT_EXPECT_EQ(test, xmem_rdma_run(ios + 11, 29, 32), 9);
	KUNIT_EXPECT_EQ(test, xmem_rdma_run(ios + 20, 20, 32), 1);
	ios[30].offset = ios[29].offset - PAGE_SIZE;
	KUNIT_EXPECT_EQ(test, xmem_rdma_run(ios + 21, 19, 32), 9);
}

/*
 * The last reference to a connection may go in any context: a fault
 * holding the mmap lock, reclaim, a spinlock's section.  The teardown
 * (rdma_destroy_id() sleeps on the RDMA CM's handler mutex) runs later,
 * from a worker; with the teardown in xmem_rdma_put() itself the debug
 * kernel reports a sleep in atomic context here.
 */
static void xmem_rdma_test_put_atomic(struct kunit *test)
{
	struct xmem_rdma_conn *conn = xmem_rdma_test_conn();
	static DEFINE_SPINLOCK(lock);
	unsigned int before;

	KUNIT_ASSERT_FALSE_MSG(test, IS_ERR(conn), "rdma_create_id: %ld",
			       PTR_ERR(conn));
	before = xmem_rdma_test_released();
	spin_lock(&lock);
	xmem_rdma_put(conn);
	spin_unlock(&lock);
	KUNIT_EXPECT_EQ(test, xmem_rdma_test_released(), before + 1);
}

/* COPY_REQ: TEMP only together with CREATE and EXCL (minor 8). */
static void xmem_wire_test_copy_req(struct kunit *test)
{
	const u32 temp = XMEM_COPY_F_CREATE | XMEM_COPY_F_EXCL |
			 XMEM_COPY_F_TEMP;
	struct xmem_msg_copy_req req;

	KUNIT_ASSERT_EQ(test, xmem_wire_build_copy_req(&req, 9, "heap",
						       "heap-fork", temp, 0600,
						       1000, 100), 0);
	KUNIT_EXPECT_EQ(test, le16_to_cpu(req.hdr.type), XMEM_MSG_COPY_REQ);
	KUNIT_EXPECT_EQ(test, le32_to_cpu(req.hdr.len), sizeof(req));
	KUNIT_EXPECT_EQ(test, le64_to_cpu(req.hdr.tag), 9);
	KUNIT_EXPECT_EQ(test, le32_to_cpu(req.flags), temp);
	KUNIT_EXPECT_EQ(test, le32_to_cpu(req.mode), 0600);
	KUNIT_EXPECT_EQ(test, le32_to_cpu(req.uid), 1000);
	KUNIT_EXPECT_EQ(test, le32_to_cpu(req.gid), 100);
	KUNIT_EXPECT_EQ(test, le64_to_cpu(req.reserved), 0);
	KUNIT_EXPECT_STREQ(test, req.src, "heap");
	KUNIT_EXPECT_STREQ(test, req.dst, "heap-fork");
	KUNIT_EXPECT_LE(test, sizeof(req), XMEM_MSG_MAX_SIZE);

	/* TEMP without CREATE or EXCL; a flag beyond TEMP. */
	KUNIT_EXPECT_EQ(test, xmem_wire_build_copy_req(&req, 1, "a", "b",
						       XMEM_COPY_F_TEMP, 0, 0,
						       0), -EINVAL);
	KUNIT_EXPECT_EQ(test, xmem_wire_build_copy_req(&req, 1, "a", "b",
						       XMEM_COPY_F_CREATE |
						       XMEM_COPY_F_TEMP, 0, 0,
						       0), -EINVAL);
	KUNIT_EXPECT_EQ(test, xmem_wire_build_copy_req(&req, 1, "a", "b",
						       XMEM_COPY_F_EXCL |
						       XMEM_COPY_F_TEMP, 0, 0,
						       0), -EINVAL);
	KUNIT_EXPECT_EQ(test, xmem_wire_build_copy_req(&req, 1, "a", "b",
						       temp << 1, 0, 0, 0),
			-EINVAL);
}

static void xmem_wire_test_grant_req(struct kunit *test)
{
	struct xmem_msg_grant_req req;

	KUNIT_ASSERT_EQ(test, xmem_wire_build_grant_req(&req, 5, "vm1",
							"client2",
							XMEM_GRANT_OP_GRANT,
							XMEM_GRANT_F_UID, 1000,
							1001, 100), 0);
	KUNIT_EXPECT_EQ(test, le16_to_cpu(req.hdr.type), XMEM_MSG_GRANT_REQ);
	KUNIT_EXPECT_EQ(test, le32_to_cpu(req.hdr.len), sizeof(req));
	KUNIT_EXPECT_EQ(test, le64_to_cpu(req.hdr.tag), 5);
	KUNIT_EXPECT_EQ(test, le16_to_cpu(req.op), XMEM_GRANT_OP_GRANT);
	KUNIT_EXPECT_EQ(test, le16_to_cpu(req.flags), XMEM_GRANT_F_UID);
	KUNIT_EXPECT_EQ(test, le32_to_cpu(req.grantee_uid), 1000);
	KUNIT_EXPECT_EQ(test, le32_to_cpu(req.uid), 1001);
	KUNIT_EXPECT_EQ(test, le32_to_cpu(req.gid), 100);
	KUNIT_EXPECT_EQ(test, le64_to_cpu(req.reserved), 0);
	KUNIT_EXPECT_STREQ(test, req.name, "vm1");
	KUNIT_EXPECT_STREQ(test, req.host, "client2");
	KUNIT_EXPECT_NULL(test, memchr_inv(req.host + 7, 0,
					   sizeof(req.host) - 7));
	KUNIT_EXPECT_EQ(test, sizeof(req), 168);
	KUNIT_EXPECT_LE(test, sizeof(req), XMEM_MSG_MAX_SIZE);

	/* Nothing is encoded for a bad name, host, op, flag or grantee. */
	KUNIT_EXPECT_EQ(test, xmem_wire_build_grant_req(&req, 1, "vm1", "a b",
							XMEM_GRANT_OP_GRANT, 0,
							0, 0, 0), -EINVAL);
	KUNIT_EXPECT_EQ(test, xmem_wire_build_grant_req(&req, 1, "..", "h",
							XMEM_GRANT_OP_GRANT, 0,
							0, 0, 0), -EINVAL);
	KUNIT_EXPECT_EQ(test, xmem_wire_build_grant_req(&req, 1, "vm1", "h", 3,
							0, 0, 0, 0), -EINVAL);
	KUNIT_EXPECT_EQ(test, xmem_wire_build_grant_req(&req, 1, "vm1", "h",
							XMEM_GRANT_OP_REVOKE,
							0x4, 0, 0, 0), -EINVAL);
	KUNIT_EXPECT_EQ(test, xmem_wire_build_grant_req(&req, 1, "vm1", "h",
							XMEM_GRANT_OP_REVOKE,
							0, 7, 0, 0), -EINVAL);
}

static void xmem_wire_fill_pull_rep(struct xmem_msg_region_rep *rep, u64 tag)
{
	memset(rep, 0, sizeof(*rep));
	rep->hdr.type = cpu_to_le16(XMEM_MSG_REGION_REP);
	rep->hdr.len = cpu_to_le32(sizeof(*rep));
	rep->hdr.tag = cpu_to_le64(tag);
	rep->flags = cpu_to_le32(XMEM_REGION_REP_F_CREATED);
	rep->region_id = cpu_to_le64(12);
	rep->size = cpu_to_le64(256 * PAGE_SIZE);
	rep->addr = cpu_to_le64(0x7f0000000000ULL);
	rep->rkey = cpu_to_le32(0x4321);
	rep->mode = cpu_to_le32(0640);
	rep->uid = cpu_to_le32(1000);
	rep->gid = cpu_to_le32(100);
	rep->users = cpu_to_le32(1);
	strscpy(rep->name, "vm1", sizeof(rep->name));
}

static void xmem_wire_test_pull_rep(struct kunit *test)
{
	struct xmem_msg_region_rep rep;
	struct xmem_msg_error_rep err;
	struct xmem_wire_region r;

	xmem_wire_fill_pull_rep(&rep, 5);
	KUNIT_ASSERT_EQ(test, xmem_wire_parse_region_rep(&rep, sizeof(rep), 5,
							 XMEM_REGION_OP_ATTACH,
							 &r), 0);
	KUNIT_EXPECT_TRUE(test, r.created);
	KUNIT_EXPECT_EQ(test, r.region_id, 12);
	KUNIT_EXPECT_EQ(test, r.size, 256 * PAGE_SIZE);
	KUNIT_EXPECT_EQ(test, r.addr, 0x7f0000000000ULL);
	KUNIT_EXPECT_EQ(test, r.rkey, 0x4321);
	KUNIT_EXPECT_EQ(test, r.mode, 0640);
	KUNIT_EXPECT_EQ(test, r.uid, 1000);
	KUNIT_EXPECT_EQ(test, r.gid, 100);
	KUNIT_EXPECT_EQ(test, r.users, 1);
	KUNIT_EXPECT_STREQ(test, r.name, "vm1");

	/* The statuses a failed PULL answers with, fields zero. */
	memset(&rep.flags, 0, sizeof(rep) - offsetof(typeof(rep), flags));
	rep.status = cpu_to_le32(ECONNREFUSED);
	KUNIT_EXPECT_EQ(test, xmem_wire_parse_region_rep(&rep, sizeof(rep), 5,
							 XMEM_REGION_OP_ATTACH,
							 &r), -ECONNREFUSED);
	rep.status = cpu_to_le32(EHOSTUNREACH);
	KUNIT_EXPECT_EQ(test, xmem_wire_parse_region_rep(&rep, sizeof(rep), 5,
							 XMEM_REGION_OP_ATTACH,
							 &r), -EHOSTUNREACH);
	rep.status = cpu_to_le32(ETIMEDOUT);
	KUNIT_EXPECT_EQ(test, xmem_wire_parse_region_rep(&rep, sizeof(rep), 5,
							 XMEM_REGION_OP_ATTACH,
							 &r), -ETIMEDOUT);
	/* A failure with a key left in is malformed. */
	rep.rkey = cpu_to_le32(1);
	KUNIT_EXPECT_EQ(test, xmem_wire_parse_region_rep(&rep, sizeof(rep), 5,
							 XMEM_REGION_OP_ATTACH,
							 &r), -EBADMSG);

	/* A success for another tag, or without an id, is malformed. */
	xmem_wire_fill_pull_rep(&rep, 5);
	KUNIT_EXPECT_EQ(test, xmem_wire_parse_region_rep(&rep, sizeof(rep), 6,
							 XMEM_REGION_OP_ATTACH,
							 &r), -EBADMSG);
	rep.region_id = 0;
	KUNIT_EXPECT_EQ(test, xmem_wire_parse_region_rep(&rep, sizeof(rep), 5,
							 XMEM_REGION_OP_ATTACH,
							 &r), -EBADMSG);

	/* An appliance of protocol 1.1 does not know the type. */
	memset(&err, 0, sizeof(err));
	err.hdr.type = cpu_to_le16(XMEM_MSG_ERROR_REP);
	err.hdr.len = cpu_to_le32(sizeof(err));
	err.hdr.tag = cpu_to_le64(5);
	err.status = cpu_to_le32(EOPNOTSUPP);
	KUNIT_EXPECT_EQ(test, xmem_wire_parse_region_rep(&err, sizeof(err), 5,
							 XMEM_REGION_OP_ATTACH,
							 &r), -EOPNOTSUPP);
}

static struct kunit_case xmem_wire_cases[] = {
	KUNIT_CASE(xmem_wire_test_names),
	KUNIT_CASE(xmem_wire_test_attach_req),
	KUNIT_CASE(xmem_wire_test_region_req_sole),
	KUNIT_CASE(xmem_wire_test_attach_rep),
	KUNIT_CASE(xmem_wire_test_hello),
	KUNIT_CASE(xmem_wire_test_pull_req),
	KUNIT_CASE(xmem_wire_test_pull_dst_req),
	KUNIT_CASE(xmem_wire_test_pull_rep),
	KUNIT_CASE(xmem_wire_test_auth_host_req),
	KUNIT_CASE(xmem_wire_test_grant_req),
	KUNIT_CASE(xmem_wire_test_copy_req),
	KUNIT_CASE(xmem_rdma_test_run),
	KUNIT_CASE(xmem_rdma_test_put_atomic),
	{}
};

static struct kunit_suite xmem_wire_suite = {
	.name = "xmem_wire",
	.test_cases = xmem_wire_cases,
};

/* --- pager, with a fake backend --- */

#define FAKE_PAGES	16

/**
 * struct xmem_fake - a region's remote memory, kept in local memory
 * @cache: the cache under test
 * @region: the region under test
 * @mem: FAKE_PAGES pages of "remote" memory
 * @reads: pages read
 * @writes: pages written
 * @read_calls: calls of the backend to read, failed ones too
 * @write_calls: calls of the backend to write, failed ones too
 * @fail_reads: fail every read with -EIO
 * @fail_writes: fail every write with -EIO
 * @unwritable: ->writable says no
 * @zero_ok: ->zero_ok says yes
 * @freed: the region's free callback ran
 * @put: the test dropped the region's last reference itself
 * @write_hook: run once, by the next write, before it transfers anything
 * @freed_in_write: @freed, as seen by a @write_hook
 * @sync: a sync started by a @write_hook
 */
struct xmem_fake {
	struct xmem_cache cache;
	struct xmem_region region;
	u8 *mem;
	unsigned int reads;
	unsigned int writes;
	unsigned int read_calls;
	unsigned int write_calls;
	bool fail_reads;
	bool fail_writes;
	bool unwritable;
	bool zero_ok;
	bool freed;
	bool put;
	void (*write_hook)(struct xmem_fake *f);
	bool freed_in_write;
	struct xmem_fake_sync *sync;
};

/**
 * struct xmem_fake_sync - a sync of page 0 on another task
 * @work: runs it on system_unbound_wq
 * @f: the fake
 * @ret: what xmem_region_sync() returned
 * @seen: the first byte of page 0 on the "appliance" when it returned
 * @done: completed when it returned
 */
struct xmem_fake_sync {
	struct work_struct work;
	struct xmem_fake *f;
	int ret;
	u8 seen;
	struct completion done;
};

static int xmem_fake_rw(struct xmem_region *region, const struct xmem_io *ios,
			unsigned int n, bool write)
{
	struct xmem_fake *f = region->priv;
	void (*hook)(struct xmem_fake *f) = f->write_hook;
	unsigned int i, wrs;

	if (write) {
		f->write_calls++;
		f->write_hook = NULL;
		if (hook)
			hook(f);
	} else {
		f->read_calls++;
	}
	if (write ? f->fail_writes : f->fail_reads)
		return -EIO;
	for (i = 0; i < n; i++) {
		u8 *remote = f->mem + ios[i].offset;

		if (write) {
			memcpy_from_page(remote, ios[i].page, 0, PAGE_SIZE);
			f->writes++;
		} else {
			memcpy_to_page(ios[i].page, 0, remote, PAGE_SIZE);
			f->reads++;
		}
	}
	/* As many requests as the RDMA backend would post for them. */
	for (i = 0, wrs = 0; i < n; wrs++)
		i += xmem_rdma_run(ios + i, n - i, 32);
	return wrs;
}

static bool xmem_fake_writable(struct xmem_region *region)
{
	struct xmem_fake *f = region->priv;

	return !f->unwritable;
}

static bool xmem_fake_zero_ok(struct xmem_region *region)
{
	struct xmem_fake *f = region->priv;

	return f->zero_ok;
}

static const struct xmem_backend_ops xmem_fake_ops = {
	.rw = xmem_fake_rw,
	.writable = xmem_fake_writable,
	.zero_ok = xmem_fake_zero_ok,
};

static void xmem_fake_free(struct xmem_region *region)
{
	struct xmem_fake *f = region->priv;

	f->freed = true;
}

static int xmem_pager_test_init(struct kunit *test)
{
	struct xmem_fake *f;
	unsigned int i;

	f = kunit_kzalloc(test, sizeof(*f), GFP_KERNEL);
	KUNIT_ASSERT_NOT_NULL(test, f);
	f->mem = vmalloc(FAKE_PAGES * PAGE_SIZE);
	KUNIT_ASSERT_NOT_NULL(test, f->mem);
	for (i = 0; i < FAKE_PAGES; i++)
		memset(f->mem + i * PAGE_SIZE, 'a' + i, PAGE_SIZE);
	KUNIT_ASSERT_EQ(test, xmem_cache_init(&f->cache, NULL, &xmem_fake_ops,
					      4), 0);
	/* No background reclaim: every eviction below is the test's own. */
	KUNIT_ASSERT_EQ(test, xmem_cache_set_watermarks(&f->cache, 0, 0), 0);
	KUNIT_ASSERT_EQ(test, xmem_region_init(&f->region, &f->cache, "fake",
					       FAKE_PAGES, 0), 0);
	f->region.priv = f;
	f->region.free = xmem_fake_free;
	test->priv = f;
	return 0;
}

static void xmem_pager_test_exit(struct kunit *test)
{
	struct xmem_fake *f = test->priv;

	f->fail_writes = false;
	f->unwritable = false;
	if (!f->put) {
		xmem_region_drop(&f->region);
		xmem_region_put(&f->region);
	}
	KUNIT_EXPECT_TRUE(test, f->freed);
	KUNIT_EXPECT_EQ(test, f->cache.nr_pages, 0);
	xmem_cache_destroy(&f->cache);
	vfree(f->mem);
}

/* A counter of the cache under test. */
static u64 xmem_fake_stat(struct xmem_fake *f, enum xmem_stat_item item)
{
	return xmem_stats_read(&f->cache.stats, item);
}

static u8 xmem_page_byte(struct xmem_portion *p, size_t off)
{
	return ((u8 *)page_address(p->pages[0]))[off];
}

/* Fault page @index of @r in and unlock it: resident, ACCESSED, on the LRU. */
static void xmem_touch(struct kunit *test, struct xmem_region *r,
		       pgoff_t index)
{
	struct xmem_portion *p = xmem_pager_get(r, index);

	KUNIT_ASSERT_FALSE(test, IS_ERR(p));
	xmem_pager_unlock(p);
}

static void xmem_pager_test_fetch_once(struct kunit *test)
{
	struct xmem_fake *f = test->priv;
	struct xmem_portion *p;

	p = xmem_pager_get(&f->region, 3);
	KUNIT_ASSERT_FALSE(test, IS_ERR(p));
	KUNIT_EXPECT_EQ(test, xmem_page_byte(p, 0), 'a' + 3);
	KUNIT_EXPECT_EQ(test, xmem_page_byte(p, PAGE_SIZE - 1), 'a' + 3);
	KUNIT_EXPECT_TRUE(test, test_bit(XMEM_PORTION_LOCKED, &p->flags));
	xmem_pager_unlock(p);

	xmem_touch(test, &f->region, 3);
	KUNIT_EXPECT_EQ(test, f->reads, 1);
	KUNIT_EXPECT_EQ(test, xmem_fake_stat(f, XMEM_STAT_CACHE_HITS), 1);
	KUNIT_EXPECT_EQ(test, f->cache.nr_pages, 1);

	KUNIT_EXPECT_EQ(test, PTR_ERR(xmem_pager_get(&f->region, FAKE_PAGES)),
			-EINVAL);
}

static void xmem_pager_test_limit_clean(struct kunit *test)
{
	struct xmem_fake *f = test->priv;
	struct xmem_portion *p;
	unsigned int i;

	for (i = 0; i < FAKE_PAGES; i++) {
		p = xmem_pager_get(&f->region, i);
		KUNIT_ASSERT_FALSE(test, IS_ERR(p));
		KUNIT_EXPECT_EQ(test, xmem_page_byte(p, 100), 'a' + i);
		xmem_pager_unlock(p);
		KUNIT_EXPECT_LE(test, f->cache.nr_pages, 4);
	}
	KUNIT_EXPECT_EQ(test, f->reads, FAKE_PAGES);
	/* Clean pages leave without a transfer. */
	KUNIT_EXPECT_EQ(test, f->writes, 0);
	KUNIT_EXPECT_EQ(test, xmem_fake_stat(f, XMEM_STAT_EVICTIONS_DIRTY),
			0);
	KUNIT_EXPECT_EQ(test, xmem_fake_stat(f, XMEM_STAT_EVICTIONS_CLEAN),
			FAKE_PAGES - f->cache.nr_pages);
}

/* Write to a page the way a process would, and mark it as a fault does. */
static void xmem_write_page(struct kunit *test, struct xmem_fake *f,
			    pgoff_t index, u8 val)
{
	struct xmem_portion *p = xmem_pager_get(&f->region, index);

	KUNIT_ASSERT_FALSE(test, IS_ERR(p));
	xmem_portion_set_dirty(&f->cache, p);
	memset(page_address(p->pages[0]), val, PAGE_SIZE);
	xmem_pager_unlock(p);
}

static void xmem_pager_test_sync(struct kunit *test)
{
	struct xmem_fake *f = test->priv;
	unsigned long resident, dirty;

	xmem_write_page(test, f, 1, 'X');
	xmem_write_page(test, f, 2, 'Y');
	KUNIT_EXPECT_EQ(test, atomic_long_read(&f->cache.nr_dirty), 2);
	xmem_region_counts(&f->region, &resident, &dirty);
	KUNIT_EXPECT_EQ(test, resident, 2);
	KUNIT_EXPECT_EQ(test, dirty, 2);

	/* Only part of the range is synced. */
	KUNIT_EXPECT_EQ(test, xmem_region_sync(&f->region, 0, 1, NULL), 0);
	KUNIT_EXPECT_EQ(test, f->writes, 1);
	KUNIT_EXPECT_EQ(test, f->mem[PAGE_SIZE], 'X');
	KUNIT_EXPECT_EQ(test, f->mem[2 * PAGE_SIZE], 'a' + 2);

	KUNIT_EXPECT_EQ(test, xmem_region_sync(&f->region, 0, FAKE_PAGES, NULL),
			0);
	KUNIT_EXPECT_EQ(test, f->writes, 2);
	KUNIT_EXPECT_EQ(test, f->mem[3 * PAGE_SIZE - 1], 'Y');
	KUNIT_EXPECT_EQ(test, atomic_long_read(&f->cache.nr_dirty), 0);

	/* Nothing dirty: nothing sent, pages still resident. */
	KUNIT_EXPECT_EQ(test, xmem_region_sync(&f->region, 0, FAKE_PAGES, NULL),
			0);
	KUNIT_EXPECT_EQ(test, f->writes, 2);
	KUNIT_EXPECT_EQ(test, f->cache.nr_pages, 2);
}

static void xmem_pager_test_evict_dirty(struct kunit *test)
{
	struct xmem_fake *f = test->priv;
	struct xmem_portion *p;
	unsigned int i;

	/* More dirty pages than the limit: they must reach "remote" memory. */
	for (i = 0; i < 8; i++)
		xmem_write_page(test, f, i, 'A' + i);
	KUNIT_EXPECT_LE(test, f->cache.nr_pages, 4);
	KUNIT_EXPECT_EQ(test, f->writes,
			xmem_fake_stat(f, XMEM_STAT_EVICTIONS_DIRTY));
	KUNIT_EXPECT_GE(test, f->writes, 4);

	for (i = 0; i < 8; i++) {
		p = xmem_pager_get(&f->region, i);
		KUNIT_ASSERT_FALSE(test, IS_ERR(p));
		KUNIT_EXPECT_EQ(test, xmem_page_byte(p, 7), 'A' + i);
		xmem_pager_unlock(p);
	}
}

static void xmem_pager_test_second_chance(struct kunit *test)
{
	struct xmem_fake *f = test->priv;
	unsigned int i;

	for (i = 0; i < 4; i++)
		xmem_touch(test, &f->region, i);
	/* One eviction pass clears every ACCESSED bit; evict 0 and 1. */
	KUNIT_EXPECT_EQ(test, xmem_cache_shrink(&f->cache, 2), 2);
	/* Touch 2: 3 is now the least recently used. */
	xmem_touch(test, &f->region, 2);
	KUNIT_EXPECT_EQ(test, xmem_cache_shrink(&f->cache, 1), 1);
	KUNIT_EXPECT_NOT_NULL(test, xa_load(&f->region.portions, 2));
	KUNIT_EXPECT_NULL(test, xa_load(&f->region.portions, 3));
	KUNIT_EXPECT_NULL(test, xa_load(&f->region.portions, 0));
}

static void xmem_pager_test_busy_skipped(struct kunit *test)
{
	struct xmem_fake *f = test->priv;
	struct xmem_portion *p;

	p = xmem_pager_get(&f->region, 5);
	KUNIT_ASSERT_FALSE(test, IS_ERR(p));
	/* Locked by us: the evictor must pass over it. */
	KUNIT_EXPECT_EQ(test, xmem_cache_shrink(&f->cache, 1), 0);
	KUNIT_EXPECT_EQ(test, f->cache.nr_pages, 1);
	xmem_pager_unlock(p);
	KUNIT_EXPECT_EQ(test, xmem_cache_shrink(&f->cache, 1), 1);
}

static void xmem_pager_test_write_error(struct kunit *test)
{
	struct xmem_fake *f = test->priv;
	errseq_t since = xmem_region_wb_sample(&f->region);

	xmem_write_page(test, f, 0, 'Z');
	f->fail_writes = true;
	KUNIT_EXPECT_EQ(test, xmem_region_sync(&f->region, 0, 0, &since),
			-EIO);
	KUNIT_EXPECT_EQ(test, atomic_long_read(&f->cache.nr_dirty), 1);
	/* Eviction keeps the page rather than lose the data. */
	KUNIT_EXPECT_EQ(test, xmem_cache_shrink(&f->cache, 1), 0);
	KUNIT_EXPECT_EQ(test, f->cache.nr_pages, 1);
	KUNIT_EXPECT_EQ(test, xmem_fake_stat(f, XMEM_STAT_WRITEBACK_ERRORS),
			2);

	/* The eviction's failure is reported by the next sync as well. */
	f->fail_writes = false;
	KUNIT_EXPECT_EQ(test, xmem_region_sync(&f->region, 0, 0, &since),
			-EIO);
	KUNIT_EXPECT_EQ(test, f->mem[0], 'Z');
	KUNIT_EXPECT_EQ(test, xmem_region_sync(&f->region, 0, 0, &since), 0);
}

static void xmem_pager_test_read_error(struct kunit *test)
{
	struct xmem_fake *f = test->priv;

	f->fail_reads = true;
	KUNIT_EXPECT_EQ(test, PTR_ERR(xmem_pager_get(&f->region, 0)), -EIO);
	KUNIT_EXPECT_EQ(test, f->cache.nr_pages, 0);
	KUNIT_EXPECT_NULL(test, xa_load(&f->region.portions, 0));
	f->fail_reads = false;
	xmem_write_page(test, f, 0, 'Q');
}

static void xmem_pager_test_limit_lowered(struct kunit *test)
{
	struct xmem_fake *f = test->priv;
	unsigned int i;

	KUNIT_ASSERT_EQ(test, xmem_cache_set_limit(&f->cache, 8), 0);
	for (i = 0; i < 8; i++)
		xmem_write_page(test, f, i, '0' + i);
	KUNIT_EXPECT_EQ(test, f->cache.nr_pages, 8);
	KUNIT_EXPECT_EQ(test, xmem_cache_set_limit(&f->cache, 0), -EINVAL);
	KUNIT_EXPECT_EQ(test, xmem_cache_set_limit(&f->cache, 2), 0);
	KUNIT_EXPECT_LE(test, f->cache.nr_pages, 2);
	KUNIT_EXPECT_GE(test, f->writes, 6);
}

static void xmem_pager_test_drop(struct kunit *test)
{
	struct xmem_fake *f = test->priv;

	xmem_write_page(test, f, 9, 'D');
	xmem_write_page(test, f, 10, 'E');
	KUNIT_EXPECT_EQ(test, xmem_region_drop(&f->region), 0);
	KUNIT_EXPECT_EQ(test, f->cache.nr_pages, 0);
	KUNIT_EXPECT_EQ(test, f->mem[9 * PAGE_SIZE], 'D');
	KUNIT_EXPECT_EQ(test, f->mem[10 * PAGE_SIZE + 5], 'E');
	KUNIT_EXPECT_EQ(test, atomic_long_read(&f->cache.nr_dirty), 0);
}

/* Fetch page @index of the fake region and return its byte @off. */
static u8 xmem_fetch_byte(struct kunit *test, struct xmem_fake *f,
			  pgoff_t index, size_t off)
{
	struct xmem_portion *p = xmem_pager_get(&f->region, index);
	u8 val;

	KUNIT_ASSERT_FALSE(test, IS_ERR(p));
	val = xmem_page_byte(p, off);
	xmem_pager_unlock(p);
	return val;
}

/*
 * First touch of a region held alone since created: a page it never
 * wrote is filled with zeroes, not read (the fake's "remote" pages hold
 * letters, so a read would show); a page written back once is read
 * again; without ->zero_ok's yes, or after forgetting, every page is read.
 */
static void xmem_pager_test_zero_fill(struct kunit *test)
{
	struct xmem_fake *f = test->priv;

	KUNIT_ASSERT_EQ(test, xmem_region_track_zeroes(&f->region), 0);
	f->zero_ok = true;
	KUNIT_EXPECT_EQ(test, xmem_fetch_byte(test, f, 3, 0), 0);
	KUNIT_EXPECT_EQ(test, xmem_fetch_byte(test, f, 3, PAGE_SIZE - 1), 0);
	KUNIT_EXPECT_EQ(test, f->reads, 0);
	KUNIT_EXPECT_EQ(test, xmem_fake_stat(f, XMEM_STAT_ZERO_FILLS), 1);
	KUNIT_EXPECT_EQ(test, xmem_fake_stat(f, XMEM_STAT_RDMA_READS), 0);

	/* Written back and dropped: now it may hold data, and is read. */
	xmem_write_page(test, f, 3, 'W');
	KUNIT_EXPECT_EQ(test, xmem_region_drop(&f->region), 0);
	KUNIT_EXPECT_EQ(test, f->writes, 1);
	KUNIT_EXPECT_EQ(test, xmem_fetch_byte(test, f, 3, 7), 'W');
	KUNIT_EXPECT_EQ(test, f->reads, 1);

	/* The backend cannot vouch for the hold now: read. */
	f->zero_ok = false;
	KUNIT_EXPECT_EQ(test, xmem_fetch_byte(test, f, 5, 0), 'a' + 5);
	KUNIT_EXPECT_EQ(test, f->reads, 2);

	/* Forgotten (a reconnection, a snapshot into it): read for good. */
	f->zero_ok = true;
	KUNIT_EXPECT_EQ(test, xmem_fetch_byte(test, f, 6, 0), 0);
	xmem_region_forget_zeroes(&f->region);
	KUNIT_EXPECT_EQ(test, xmem_fetch_byte(test, f, 7, 0), 'a' + 7);
	KUNIT_EXPECT_EQ(test, f->reads, 3);
	KUNIT_EXPECT_EQ(test, xmem_fake_stat(f, XMEM_STAT_ZERO_FILLS), 2);
}

/*
 * A grow of a region tracked whole tracks the new pages: a page of the
 * grown range is filled, not read (the fake's "remote" page holds a
 * letter), until it is written back; shrunk and grown again, a page
 * written back is still read.  Once the tracking is forgotten, a grow
 * tracks nothing.
 */
static void xmem_pager_test_zero_grow(struct kunit *test)
{
	struct xmem_fake *f = test->priv;

	KUNIT_ASSERT_EQ(test, xmem_region_resize(&f->region, 8, false), 0);
	KUNIT_ASSERT_EQ(test, xmem_region_track_zeroes(&f->region), 0);
	f->zero_ok = true;
	KUNIT_ASSERT_EQ(test, xmem_region_resize(&f->region, 16, false), 0);
	KUNIT_EXPECT_EQ(test, xmem_fetch_byte(test, f, 12, 0), 0);
	KUNIT_EXPECT_EQ(test, f->reads, 0);
	KUNIT_EXPECT_EQ(test, xmem_fake_stat(f, XMEM_STAT_ZERO_FILLS), 1);

	/* Written back: read from then on. */
	xmem_write_page(test, f, 12, 'G');
	KUNIT_EXPECT_EQ(test, xmem_region_drop(&f->region), 0);
	KUNIT_EXPECT_EQ(test, f->writes, 1);
	KUNIT_EXPECT_EQ(test, xmem_fetch_byte(test, f, 12, 0), 'G');
	KUNIT_EXPECT_EQ(test, f->reads, 1);

	/* Shrunk and grown again: page 12 is read, page 13 filled. */
	KUNIT_ASSERT_EQ(test, xmem_region_resize(&f->region, 8, false), 0);
	KUNIT_ASSERT_EQ(test, xmem_region_resize(&f->region, 16, false), 0);
	KUNIT_EXPECT_EQ(test, xmem_fetch_byte(test, f, 12, 0), 'G');
	KUNIT_EXPECT_EQ(test, xmem_fetch_byte(test, f, 13, 0), 0);
	KUNIT_EXPECT_EQ(test, f->reads, 2);

	/* Forgotten: a grow tracks nothing. */
	xmem_region_forget_zeroes(&f->region);
	KUNIT_ASSERT_EQ(test, xmem_region_resize(&f->region, 8, false), 0);
	KUNIT_ASSERT_EQ(test, xmem_region_resize(&f->region, 16, false), 0);
	KUNIT_EXPECT_EQ(test, xmem_fetch_byte(test, f, 14, 0), 'a' + 14);
	KUNIT_EXPECT_EQ(test, f->reads, 3);
	KUNIT_EXPECT_EQ(test, xmem_fake_stat(f, XMEM_STAT_ZERO_FILLS), 2);
}

/* Without xmem_region_track_zeroes() nothing is zero-filled. */
static void xmem_pager_test_zero_untracked(struct kunit *test)
{
	struct xmem_fake *f = test->priv;

	f->zero_ok = true;
	KUNIT_EXPECT_EQ(test, xmem_fetch_byte(test, f, 2, 0), 'a' + 2);
	KUNIT_EXPECT_EQ(test, f->reads, 1);
	KUNIT_EXPECT_EQ(test, xmem_fake_stat(f, XMEM_STAT_ZERO_FILLS), 0);
}

/*
 * The hand-off at a VM's switch-over: this client cached page 3, another
 * one wrote it and synced; after the invalidation page 3 is fetched again
 * and shows the other client's data.  Nothing is written back.
 */
static void xmem_pager_test_invalidate(struct kunit *test)
{
	struct xmem_fake *f = test->priv;
	struct xmem_portion *p;

	xmem_touch(test, &f->region, 3);
	memset(f->mem + 3 * PAGE_SIZE, 'N', PAGE_SIZE);

	KUNIT_EXPECT_EQ(test, xmem_region_invalidate(&f->region), 0);
	KUNIT_EXPECT_EQ(test, f->cache.nr_pages, 0);
	KUNIT_EXPECT_EQ(test, f->writes, 0);
	p = xmem_pager_get(&f->region, 3);
	KUNIT_ASSERT_FALSE(test, IS_ERR(p));
	KUNIT_EXPECT_EQ(test, xmem_page_byte(p, 0), 'N');
	KUNIT_EXPECT_EQ(test, xmem_page_byte(p, PAGE_SIZE - 1), 'N');
	xmem_pager_unlock(p);
}

/*
 * A page written on this client is neither written back (it could
 * overwrite the other client's newer data) nor lost: the call fails, the
 * clean pages are dropped all the same.
 */
static void xmem_pager_test_invalidate_dirty(struct kunit *test)
{
	struct xmem_fake *f = test->priv;
	struct xmem_portion *p;

	xmem_touch(test, &f->region, 5);
	xmem_write_page(test, f, 4, 'W');

	KUNIT_EXPECT_EQ(test, xmem_region_invalidate(&f->region), -EBUSY);
	KUNIT_EXPECT_EQ(test, f->writes, 0);
	KUNIT_EXPECT_EQ(test, f->mem[4 * PAGE_SIZE], 'a' + 4);
	KUNIT_EXPECT_EQ(test, f->cache.nr_pages, 1);
	KUNIT_EXPECT_NULL(test, xa_load(&f->region.portions, 5));
	p = xa_load(&f->region.portions, 4);
	KUNIT_ASSERT_NOT_NULL(test, p);
	KUNIT_EXPECT_TRUE(test, test_bit(XMEM_PORTION_DIRTY, &p->flags));
	KUNIT_EXPECT_EQ(test, atomic_long_read(&f->cache.nr_dirty), 1);
}

/* A second region of the fake's memory with 4-page portions, 14 pages. */
static void xmem_fake_free2(struct xmem_region *region)
{
}

/*
 * A second region of @nr_pages pages in portions of 2^@order pages, set
 * up; page i of both is the same remote page.  The cache gets room for
 * @limit pages and no background reclaim.
 */
static struct xmem_region *xmem_fake_region2(struct kunit *test,
					     struct xmem_fake *f,
					     unsigned int order,
					     unsigned long nr_pages,
					     unsigned long limit)
{
	struct xmem_region *r = kunit_kzalloc(test, sizeof(*r), GFP_KERNEL);

	KUNIT_ASSERT_NOT_NULL(test, r);
	KUNIT_ASSERT_EQ(test, xmem_cache_set_limit(&f->cache, limit), 0);
	KUNIT_ASSERT_EQ(test, xmem_cache_set_watermarks(&f->cache, 0, 0), 0);
	f->cache.portion_shift = PAGE_SHIFT + order;
	KUNIT_ASSERT_EQ(test, xmem_region_init(r, &f->cache, "fake2",
					       nr_pages, 64), 0);
	f->cache.portion_shift = PAGE_SHIFT;
	r->priv = f;
	r->free = xmem_fake_free2;
	KUNIT_ASSERT_EQ(test, r->order, order);
	return r;
}

/* The second region in portions of 4 pages: 14 pages, the last portion short. */
static struct xmem_region *xmem_fake_region4(struct kunit *test,
					     struct xmem_fake *f)
{
	return xmem_fake_region2(test, f, 2, 14, 16);
}

static void xmem_fake_region2_done(struct kunit *test, struct xmem_region *r)
{
	KUNIT_EXPECT_EQ(test, xmem_region_drop(r), 0);
	KUNIT_EXPECT_EQ(test, atomic_long_read(&r->nr_resident), 0);
	xmem_region_put(r);
}

static void xmem_pager_test_portions(struct kunit *test)
{
	struct xmem_fake *f = test->priv;
	struct xmem_region *r = xmem_fake_region4(test, f);
	struct xmem_portion *p;

	/* Page 5 is in portion 1 (pages 4-7): one fetch of four pages. */
	p = xmem_pager_get(r, 5);
	KUNIT_ASSERT_FALSE(test, IS_ERR(p));
	KUNIT_EXPECT_EQ(test, p->index, 1);
	KUNIT_EXPECT_EQ(test, p->nr_pages, 4);
	KUNIT_EXPECT_EQ(test, ((u8 *)page_address(p->pages[1]))[9], 'a' + 5);
	KUNIT_EXPECT_EQ(test, f->reads, 4);
	/* Dirty one page: the portion is the unit of write-back. */
	xmem_portion_set_dirty(&f->cache, p);
	memset(page_address(p->pages[2]), 'W', PAGE_SIZE);
	xmem_pager_unlock(p);
	KUNIT_EXPECT_EQ(test, atomic_long_read(&f->cache.nr_dirty), 4);

	xmem_touch(test, r, 7);
	KUNIT_EXPECT_EQ(test, f->reads, 4);

	KUNIT_EXPECT_EQ(test, xmem_region_sync(r, 6, 6, NULL), 0);
	KUNIT_EXPECT_EQ(test, f->writes, 4);
	KUNIT_EXPECT_EQ(test, f->mem[6 * PAGE_SIZE], 'W');
	KUNIT_EXPECT_EQ(test, f->mem[7 * PAGE_SIZE], 'a' + 7);

	/* The last portion is short: pages 12 and 13 only. */
	p = xmem_pager_get(r, 13);
	KUNIT_ASSERT_FALSE(test, IS_ERR(p));
	KUNIT_EXPECT_EQ(test, p->nr_pages, 2);
	xmem_pager_unlock(p);
	KUNIT_EXPECT_EQ(test, f->reads, 6);
	KUNIT_EXPECT_EQ(test, PTR_ERR(xmem_pager_get(r, 14)), -EINVAL);
	KUNIT_EXPECT_EQ(test, atomic_long_read(&r->nr_resident), 6);
	KUNIT_EXPECT_EQ(test, f->cache.nr_pages, 6);

	xmem_fake_region2_done(test, r);
}

/*
 * More pages than fit on the stack go to the backend in one call, so that
 * all of them are in flight at once: a portion of 64 pages is read with
 * one call and written back with one.
 */
static void xmem_pager_test_one_call(struct kunit *test)
{
	struct xmem_fake *f = test->priv;
	struct xmem_region *r;
	struct xmem_portion *p;
	unsigned int i;

	/* 64 pages of "remote" memory; page i of both regions is page i. */
	vfree(f->mem);
	f->mem = vmalloc(64 * PAGE_SIZE);
	KUNIT_ASSERT_NOT_NULL(test, f->mem);
	for (i = 0; i < 64; i++)
		memset(f->mem + i * PAGE_SIZE, 'a' + i % 26, PAGE_SIZE);
	r = xmem_fake_region2(test, f, 6, 64, 128);

	p = xmem_pager_get(r, 40);
	KUNIT_ASSERT_FALSE(test, IS_ERR(p));
	KUNIT_EXPECT_EQ(test, p->nr_pages, 64);
	KUNIT_EXPECT_EQ(test, ((u8 *)page_address(p->pages[40]))[7],
			'a' + 40 % 26);
	KUNIT_EXPECT_EQ(test, f->reads, 64);
	KUNIT_EXPECT_EQ(test, f->read_calls, 1);
	xmem_portion_set_dirty(&f->cache, p);
	memset(page_address(p->pages[63]), 'W', PAGE_SIZE);
	xmem_pager_unlock(p);

	KUNIT_EXPECT_EQ(test, xmem_region_sync(r, 0, 63, NULL), 0);
	KUNIT_EXPECT_EQ(test, f->writes, 64);
	KUNIT_EXPECT_EQ(test, f->write_calls, 1);
	KUNIT_EXPECT_EQ(test, f->mem[63 * PAGE_SIZE], 'W');
	KUNIT_EXPECT_EQ(test, f->mem[62 * PAGE_SIZE], 'a' + 62 % 26);

	xmem_fake_region2_done(test, r);
}

static void xmem_pager_test_ra_window(struct kunit *test)
{
	struct file_ra_state ra = { .prev_pos = -1 };
	pgoff_t start = 0, i;

	/* Sequential from 0: a window of 4, then doubling as it is used. */
	KUNIT_EXPECT_EQ(test, xmem_ra_window(&ra, 0, 100, 16, &start), 4);
	KUNIT_EXPECT_EQ(test, start, 1);
	/* The same portion again changes nothing. */
	KUNIT_EXPECT_EQ(test, xmem_ra_window(&ra, 0, 100, 16, &start), 0);
	/* 1: three of 4 left ahead, more than half: nothing. */
	KUNIT_EXPECT_EQ(test, xmem_ra_window(&ra, 1, 100, 16, &start), 0);
	/* 2: half left: the window doubles to 8, requested up to 2 + 8. */
	KUNIT_EXPECT_EQ(test, xmem_ra_window(&ra, 2, 100, 16, &start), 6);
	KUNIT_EXPECT_EQ(test, start, 5);
	KUNIT_EXPECT_EQ(test, ra.size, 8);
	for (i = 3; i <= 5; i++)
		KUNIT_EXPECT_EQ(test, xmem_ra_window(&ra, i, 100, 16, &start),
				0);
	KUNIT_EXPECT_EQ(test, xmem_ra_window(&ra, 6, 100, 16, &start), 12);
	KUNIT_EXPECT_EQ(test, start, 11);
	KUNIT_EXPECT_EQ(test, ra.size, 16);
	for (i = 7; i <= 13; i++)
		KUNIT_EXPECT_EQ(test, xmem_ra_window(&ra, i, 100, 16, &start),
				0);
	/* The window stays at max. */
	KUNIT_EXPECT_EQ(test, xmem_ra_window(&ra, 14, 100, 16, &start), 8);
	KUNIT_EXPECT_EQ(test, start, 23);
	KUNIT_EXPECT_EQ(test, ra.size, 16);

	/* A jump closes the window: random access reads nothing ahead. */
	KUNIT_EXPECT_EQ(test, xmem_ra_window(&ra, 50, 100, 16, &start), 0);
	KUNIT_EXPECT_EQ(test, ra.size, 0);
	KUNIT_EXPECT_EQ(test, xmem_ra_window(&ra, 20, 100, 16, &start), 0);
	/* Sequential again, near the end: clipped to the region. */
	KUNIT_EXPECT_EQ(test, xmem_ra_window(&ra, 98, 100, 16, &start), 0);
	KUNIT_EXPECT_EQ(test, xmem_ra_window(&ra, 99, 100, 16, &start), 0);
	/* No readahead at all with max 0. */
	ra.prev_pos = 9;
	KUNIT_EXPECT_EQ(test, xmem_ra_window(&ra, 10, 100, 0, &start), 0);
}

static void xmem_pager_test_readahead(struct kunit *test)
{
	struct xmem_fake *f = test->priv;
	struct file_ra_state ra = { .prev_pos = -1 };
	struct xmem_portion *p;
	unsigned int i;

	KUNIT_ASSERT_EQ(test, xmem_cache_set_limit(&f->cache, 16), 0);
	KUNIT_ASSERT_EQ(test, xmem_cache_set_watermarks(&f->cache, 0, 0), 0);
	f->cache.ra_max_pages = 8;
	KUNIT_EXPECT_EQ(test, xmem_pager_readahead(&f->region, &ra, 0), 4);
	flush_workqueue(f->cache.wq);
	KUNIT_EXPECT_EQ(test, f->reads, 4);
	/* The window's pages reach the backend in order: one request. */
	KUNIT_EXPECT_EQ(test, xmem_fake_stat(f, XMEM_STAT_RDMA_READS), 4);
	KUNIT_EXPECT_EQ(test, xmem_fake_stat(f, XMEM_STAT_RDMA_READ_WRS), 1);
	/* Pages 1-4 are resident, and counted as readahead hits once. */
	for (i = 1; i <= 4; i++) {
		p = xmem_pager_get(&f->region, i);
		KUNIT_ASSERT_FALSE(test, IS_ERR(p));
		KUNIT_EXPECT_EQ(test, xmem_page_byte(p, 1), 'a' + i);
		xmem_pager_unlock(p);
	}
	xmem_touch(test, &f->region, 1);
	KUNIT_EXPECT_EQ(test, f->reads, 4);
	KUNIT_EXPECT_EQ(test,
			xmem_fake_stat(f, XMEM_STAT_READAHEAD_HITS), 4);

	/* A failed readahead leaves nothing behind; the fault reports. */
	f->fail_reads = true;
	ra.prev_pos = 9;
	ra.size = 0;
	KUNIT_EXPECT_EQ(test, xmem_pager_readahead(&f->region, &ra, 10), 4);
	flush_workqueue(f->cache.wq);
	KUNIT_EXPECT_NULL(test, xa_load(&f->region.portions, 11));
	KUNIT_EXPECT_EQ(test, f->cache.nr_pages, 4);
	f->fail_reads = false;
}

static void xmem_pager_test_clean_only(struct kunit *test)
{
	struct xmem_fake *f = test->priv;

	xmem_write_page(test, f, 0, 'C');
	xmem_touch(test, &f->region, 1);
	/* The shrinker's kind of reclaim: clean pages only, no transfer. */
	KUNIT_EXPECT_EQ(test, xmem_cache_reclaim(&f->cache, NULL, true, 4), 1);
	KUNIT_EXPECT_EQ(test, f->writes, 0);
	KUNIT_EXPECT_NOT_NULL(test, xa_load(&f->region.portions, 0));
	KUNIT_EXPECT_NULL(test, xa_load(&f->region.portions, 1));
}

static void xmem_pager_test_region_limit(struct kunit *test)
{
	struct xmem_fake *f = test->priv;
	struct xmem_region *r = xmem_fake_region4(test, f);
	unsigned int i;

	/* Two pages of the first region, then r limited to one portion. */
	xmem_write_page(test, f, 0, 'L');
	xmem_write_page(test, f, 1, 'M');
	KUNIT_EXPECT_EQ(test, xmem_region_set_limit(r, 4), 0);
	for (i = 0; i < 14; i++) {
		xmem_touch(test, r, i);
		KUNIT_EXPECT_LE(test, atomic_long_read(&r->nr_resident), 4);
	}
	/* Only r's portions were evicted for r's limit. */
	KUNIT_EXPECT_EQ(test, atomic_long_read(&f->region.nr_resident), 2);
	KUNIT_EXPECT_EQ(test, f->writes, 0);
	KUNIT_EXPECT_EQ(test,
			xmem_stats_read(&r->stats, XMEM_STAT_EVICTIONS_CLEAN), 3);
	xmem_fake_region2_done(test, r);
}

/*
 * A fault over a region's own limit evicts a batch, as one over the
 * cache's limit does: a quarter of the limit in one window, so that the
 * next faults find room.  (It evicted one portion per fault, each in a
 * window, a PTE pass and a write-back of its own.)
 */
static void xmem_pager_test_region_limit_batch(struct kunit *test)
{
	struct xmem_fake *f = test->priv;
	unsigned int i;

	KUNIT_ASSERT_EQ(test, xmem_cache_set_limit(&f->cache, FAKE_PAGES), 0);
	KUNIT_EXPECT_EQ(test, xmem_region_set_limit(&f->region, 8), 0);
	for (i = 0; i < 11; i++) {
		xmem_touch(test, &f->region, i);
		KUNIT_EXPECT_LE(test,
				atomic_long_read(&f->region.nr_resident), 8);
	}
	/* Page 8 made room for itself and pages 9 and 10: 8 / 4 + 1. */
	KUNIT_EXPECT_EQ(test, xmem_fake_stat(f, XMEM_STAT_EVICT_BATCHES), 1);
	KUNIT_EXPECT_EQ(test, xmem_fake_stat(f, XMEM_STAT_EVICTIONS_CLEAN), 3);
	KUNIT_EXPECT_EQ(test, atomic_long_read(&f->region.nr_resident), 8);
	KUNIT_EXPECT_EQ(test, xmem_fake_stat(f, XMEM_STAT_LIMIT_EXCEEDED), 0);
}

/*
 * Each region's LRU list holds exactly its portions on the cache's, in
 * the same order: the cache's list, with the other regions' left out.
 */
static void xmem_expect_region_lru(struct kunit *test, struct xmem_cache *c,
				   struct xmem_region *r)
{
	struct list_head *pos = &r->lru;
	struct xmem_portion *p;
	unsigned int n = 0;

	spin_lock(&c->lock);
	list_for_each_entry(p, &c->lru, lru) {
		if (p->region != r)
			continue;
		pos = pos->next;
		n++;
		if (pos == &r->lru ||
		    list_entry(pos, struct xmem_portion, rlru) != p)
			break;
	}
	KUNIT_EXPECT_PTR_EQ(test, pos->next, &r->lru);
	spin_unlock(&c->lock);
	KUNIT_EXPECT_GT(test, n, 0);
}

/*
 * Reclaim for a region's own limit walks that region's LRU list, not the
 * cache's: the victims are its least recently used portions, whatever
 * other regions hold at the head of the cache's list; second chances and
 * evictions keep both lists in the same order.
 */
static void xmem_pager_test_region_lru(struct kunit *test)
{
	struct xmem_fake *f = test->priv;
	struct xmem_region *r = xmem_fake_region4(test, f);
	unsigned int i;

	/*
	 * The first region's pages 0-3 at the head, r's 3 portions after:
	 * the cache's 16 pages, full, so nothing is evicted yet.
	 */
	for (i = 0; i < 4; i++)
		xmem_touch(test, &f->region, i);
	for (i = 0; i < 12; i += 4)
		xmem_touch(test, r, i);
	KUNIT_EXPECT_EQ(test, f->cache.nr_pages, 16);
	xmem_expect_region_lru(test, &f->cache, &f->region);
	xmem_expect_region_lru(test, &f->cache, r);
	/* Every one was just used: each gets its second chance, 0 goes. */
	KUNIT_EXPECT_EQ(test, xmem_cache_reclaim(&f->cache, r, false, 4), 4);
	KUNIT_EXPECT_NULL(test, xa_load(&r->portions, 0));
	KUNIT_EXPECT_NOT_NULL(test, xa_load(&r->portions, 1));
	KUNIT_EXPECT_NOT_NULL(test, xa_load(&r->portions, 2));
	KUNIT_EXPECT_EQ(test, atomic_long_read(&f->region.nr_resident), 4);
	xmem_expect_region_lru(test, &f->cache, &f->region);
	xmem_expect_region_lru(test, &f->cache, r);
	/* r's portion 1 used again: 2 is its least recently used now. */
	xmem_touch(test, r, 5);
	KUNIT_EXPECT_EQ(test, xmem_cache_reclaim(&f->cache, r, false, 4), 4);
	KUNIT_EXPECT_NOT_NULL(test, xa_load(&r->portions, 1));
	KUNIT_EXPECT_NULL(test, xa_load(&r->portions, 2));
	xmem_expect_region_lru(test, &f->cache, r);
	xmem_fake_region2_done(test, r);
	KUNIT_EXPECT_TRUE(test, list_empty(&r->lru));
}

static void xmem_pager_test_resize(struct kunit *test)
{
	struct xmem_fake *f = test->priv;
	errseq_t since = xmem_region_wb_sample(&f->region);
	struct xmem_portion *p;

	KUNIT_ASSERT_EQ(test, xmem_cache_set_limit(&f->cache, 16), 0);
	xmem_write_page(test, f, 5, 'K');
	xmem_write_page(test, f, 10, 'X');
	xmem_write_page(test, f, 12, 'Y');

	/* A failed write-back keeps the old size and the data. */
	f->fail_writes = true;
	KUNIT_EXPECT_EQ(test, xmem_region_resize(&f->region, 8, true), -EIO);
	KUNIT_EXPECT_EQ(test, f->region.nr_pages, FAKE_PAGES);
	f->fail_writes = false;
	KUNIT_EXPECT_EQ(test, xmem_region_sync(&f->region, 0, FAKE_PAGES - 1,
					       &since), -EIO);
	KUNIT_EXPECT_EQ(test, f->writes, 3);
	xmem_write_page(test, f, 10, 'Z');

	/* Shrink discarding the removed range: page 10 is not written. */
	KUNIT_EXPECT_EQ(test, xmem_region_resize(&f->region, 8, false), 0);
	KUNIT_EXPECT_EQ(test, f->writes, 3);
	KUNIT_EXPECT_EQ(test, f->mem[10 * PAGE_SIZE], 'X');
	KUNIT_EXPECT_NULL(test, xa_load(&f->region.portions, 10));
	KUNIT_EXPECT_NOT_NULL(test, xa_load(&f->region.portions, 5));
	KUNIT_EXPECT_EQ(test, PTR_ERR(xmem_pager_get(&f->region, 8)),
			-EINVAL);

	/* Grow: the new range reads what the appliance has. */
	KUNIT_EXPECT_EQ(test, xmem_region_resize(&f->region, FAKE_PAGES,
						 true), 0);
	p = xmem_pager_get(&f->region, 12);
	KUNIT_ASSERT_FALSE(test, IS_ERR(p));
	KUNIT_EXPECT_EQ(test, xmem_page_byte(p, 0), 'Y');
	xmem_pager_unlock(p);
	KUNIT_EXPECT_EQ(test, xmem_region_resize(&f->region, 0, true), -EINVAL);
}

/* The owner's last put, while an evictor writes the region back. */
static void xmem_fake_put_in_write(struct xmem_fake *f)
{
	f->put = true;
	xmem_region_put(&f->region);
	f->freed_in_write = f->freed;
}

static void xmem_pager_test_release_vs_evictor(struct kunit *test)
{
	struct xmem_fake *f = test->priv;

	xmem_write_page(test, f, 0, 'R');
	f->write_hook = xmem_fake_put_in_write;
	/*
	 * The shrinker's way in: victims from the cache's LRU, the caller
	 * holding no reference on their region.  The region must live until
	 * its victims are evicted, and its release must not take them over.
	 */
	KUNIT_EXPECT_EQ(test, xmem_cache_shrink(&f->cache, 1), 1);
	KUNIT_EXPECT_TRUE(test, f->put);
	KUNIT_EXPECT_FALSE(test, f->freed_in_write);
	/* The evictor's put was the last: the release runs on the wq. */
	flush_workqueue(f->cache.wq);
	KUNIT_EXPECT_TRUE(test, f->freed);
	KUNIT_EXPECT_EQ(test, f->mem[0], 'R');
	KUNIT_EXPECT_EQ(test, f->cache.nr_pages, 0);
	KUNIT_EXPECT_EQ(test, atomic_long_read(&f->cache.nr_dirty), 0);
}

static void xmem_fake_sync_fn(struct work_struct *work)
{
	struct xmem_fake_sync *s =
		container_of(work, struct xmem_fake_sync, work);

	s->ret = xmem_region_sync(&s->f->region, 0, 0, NULL);
	s->seen = s->f->mem[0];
	complete(&s->done);
}

/*
 * A sync starts while this write-back's transfer is in flight.  It must
 * not return before the transfer is over: give it a second to do so
 * wrongly (a correct one returns after this hook, whatever the timing).
 */
static void xmem_fake_sync_in_write(struct xmem_fake *f)
{
	queue_work(system_unbound_wq, &f->sync->work);
	wait_for_completion_timeout(&f->sync->done, HZ);
}

static void xmem_pager_test_sync_waits_writeback(struct kunit *test)
{
	struct xmem_fake *f = test->priv;
	struct xmem_fake_sync *s = kunit_kzalloc(test, sizeof(*s), GFP_KERNEL);

	KUNIT_ASSERT_NOT_NULL(test, s);
	s->f = f;
	INIT_WORK(&s->work, xmem_fake_sync_fn);
	init_completion(&s->done);
	f->sync = s;
	xmem_write_page(test, f, 0, 'S');
	f->write_hook = xmem_fake_sync_in_write;
	/* An eviction clears DIRTY and writes the page back... */
	KUNIT_EXPECT_EQ(test, xmem_cache_shrink(&f->cache, 1), 1);
	/* ... and the sync that came meanwhile saw the page written. */
	wait_for_completion(&s->done);
	flush_work(&s->work);
	KUNIT_EXPECT_EQ(test, s->ret, 0);
	KUNIT_EXPECT_EQ(test, s->seen, 'S');
}

static void xmem_pager_test_wb_errseq(struct kunit *test)
{
	struct xmem_fake *f = test->priv;
	errseq_t a = xmem_region_wb_sample(&f->region);
	errseq_t b = xmem_region_wb_sample(&f->region);
	errseq_t c;

	xmem_write_page(test, f, 0, 'E');
	f->fail_writes = true;
	/* An eviction fails: the page stays, dirty. */
	KUNIT_EXPECT_EQ(test, xmem_cache_shrink(&f->cache, 1), 0);
	f->fail_writes = false;
	/* Every syncer hears of it, once; the data goes out now. */
	KUNIT_EXPECT_EQ(test, xmem_region_sync(&f->region, 0, 0, &a), -EIO);
	KUNIT_EXPECT_EQ(test, f->mem[0], 'E');
	KUNIT_EXPECT_EQ(test, xmem_region_sync(&f->region, 0, 0, &a), 0);
	KUNIT_EXPECT_EQ(test, xmem_region_sync(&f->region, 0, 0, &b), -EIO);
	KUNIT_EXPECT_EQ(test, xmem_region_sync(&f->region, 0, 0, &b), 0);
	/* One that came after it was reported is not told. */
	c = xmem_region_wb_sample(&f->region);
	KUNIT_EXPECT_EQ(test, xmem_region_sync(&f->region, 0, 0, &c), 0);
	/* Without a sample, only the call's own write-backs count. */
	xmem_write_page(test, f, 1, 'F');
	f->fail_writes = true;
	KUNIT_EXPECT_EQ(test, xmem_region_sync(&f->region, 1, 1, NULL), -EIO);
	f->fail_writes = false;
	KUNIT_EXPECT_EQ(test, xmem_region_sync(&f->region, 0, 1, NULL), 0);
	KUNIT_EXPECT_EQ(test, xmem_region_sync(&f->region, 0, 1, &c), -EIO);
}

static void xmem_pager_test_skip_unwritable(struct kunit *test)
{
	struct xmem_fake *f = test->priv;
	unsigned int i;

	for (i = 0; i < 4; i++)
		xmem_write_page(test, f, i, 'U');
	f->unwritable = true;
	f->fail_writes = true;
	/*
	 * Full of dirty pages no write-back can take now: the fault waits
	 * for none and the cache goes over its limit, saying so.
	 */
	xmem_touch(test, &f->region, 4);
	KUNIT_EXPECT_EQ(test, f->write_calls, 0);
	KUNIT_EXPECT_EQ(test, f->cache.nr_pages, 5);
	KUNIT_EXPECT_EQ(test, xmem_fake_stat(f, XMEM_STAT_LIMIT_EXCEEDED),
			1);
	KUNIT_EXPECT_EQ(test, xmem_stats_read(&f->region.stats,
					      XMEM_STAT_LIMIT_EXCEEDED), 1);
	/* Clean portions still go. */
	xmem_touch(test, &f->region, 5);
	KUNIT_EXPECT_NULL(test, xa_load(&f->region.portions, 4));
	KUNIT_EXPECT_EQ(test, f->write_calls, 0);
	/* Writable again: back under the limit, nothing lost. */
	f->unwritable = false;
	f->fail_writes = false;
	KUNIT_EXPECT_EQ(test, xmem_cache_set_limit(&f->cache, 4), 0);
	KUNIT_EXPECT_LE(test, f->cache.nr_pages, 4);
	KUNIT_EXPECT_EQ(test, xmem_region_sync(&f->region, 0, FAKE_PAGES - 1,
					       NULL), 0);
	KUNIT_EXPECT_EQ(test, f->mem[0], 'U');
	KUNIT_EXPECT_EQ(test, f->mem[3 * PAGE_SIZE], 'U');
}

static void xmem_pager_test_grow_short(struct kunit *test)
{
	struct xmem_fake *f = test->priv;
	struct xmem_region *r = xmem_fake_region4(test, f);
	struct xmem_portion *p;

	/* The short last portion (pages 12 and 13), dirty. */
	p = xmem_pager_get(r, 13);
	KUNIT_ASSERT_FALSE(test, IS_ERR(p));
	KUNIT_ASSERT_EQ(test, p->nr_pages, 2);
	xmem_portion_set_dirty(&f->cache, p);
	memset(page_address(p->pages[1]), 'G', PAGE_SIZE);
	xmem_pager_unlock(p);
	/* Grow while it cannot be written back: it stays, short. */
	f->fail_writes = true;
	KUNIT_EXPECT_EQ(test, xmem_region_resize(r, 16, true), 0);
	f->fail_writes = false;
	/* A page of the grown tail is served whole, the old data kept. */
	p = xmem_pager_get(r, 14);
	KUNIT_ASSERT_FALSE(test, IS_ERR(p));
	KUNIT_EXPECT_EQ(test, p->nr_pages, 4);
	KUNIT_EXPECT_EQ(test, ((u8 *)page_address(p->pages[1]))[0], 'G');
	KUNIT_EXPECT_EQ(test, ((u8 *)page_address(p->pages[2]))[0], 'a' + 14);
	xmem_pager_unlock(p);
	KUNIT_EXPECT_EQ(test, f->mem[13 * PAGE_SIZE], 'G');
	xmem_fake_region2_done(test, r);
}

/*
 * An eviction batch is one window of a region: scattered cold portions
 * (gaps between them) are cleaned and unmapped by one pass each, not one
 * per run of consecutive portions.
 */
static void xmem_pager_test_evict_window(struct kunit *test)
{
	struct xmem_fake *f = test->priv;
	unsigned int i;

	for (i = 0; i < 4; i++)
		xmem_touch(test, &f->region, 2 * i);
	KUNIT_EXPECT_EQ(test, xmem_cache_shrink(&f->cache, 4), 4);
	KUNIT_EXPECT_EQ(test, f->cache.nr_pages, 0);
	KUNIT_EXPECT_EQ(test, xmem_fake_stat(f, XMEM_STAT_EVICT_BATCHES), 1);
}

/* Writes through a write-protected PTE of the test's mapping. */
static unsigned int xmem_test_mkwrites;

/* Let the write go on: the core makes the PTE writable (and dirty). */
static vm_fault_t xmem_test_pfn_mkwrite(struct vm_fault *vmf)
{
	xmem_test_mkwrites++;
	return 0;
}

/* No ->fault: an access after the unmap gets SIGBUS (-EFAULT here). */
static const struct vm_operations_struct xmem_test_vm_ops = {
	.pfn_mkwrite = xmem_test_pfn_mkwrite,
};

/* A file of its own address space, whose mmap maps one page writably. */
static int xmem_test_mmap(struct file *file, struct vm_area_struct *vma)
{
	struct page *page = file->private_data;

	vma->vm_ops = &xmem_test_vm_ops;
	/* vm_page_prot is still writable here: write notification comes later. */
	return remap_pfn_range(vma, vma->vm_start, page_to_pfn(page),
			       PAGE_SIZE, vma->vm_page_prot);
}

static const struct file_operations xmem_test_fops = {
	.owner = THIS_MODULE,
	.mmap = xmem_test_mmap,
};

KUNIT_DEFINE_ACTION_WRAPPER(xmem_test_fput, fput, struct file *);

/*
 * Map page 0 of portion @index of the fake region, writable and clean, at
 * its offset of the cache's (new) mapping into the test's mm; the portion
 * is not DIRTY.  Returns the user address.
 */
static unsigned long xmem_test_map(struct kunit *test, struct xmem_fake *f,
				   pgoff_t index)
{
	struct xmem_region *r = &f->region;
	struct xmem_portion *p;
	struct file *file;
	unsigned long addr;

	p = xmem_pager_get(r, index);
	KUNIT_ASSERT_FALSE(test, IS_ERR(p));
	file = anon_inode_create_getfile("[xmem-kunit]", &xmem_test_fops,
					 p->pages[0], O_RDWR, NULL);
	xmem_pager_unlock(p);
	KUNIT_ASSERT_FALSE(test, IS_ERR(file));
	/* Dropped after the suite's exit, which evicts through the mapping. */
	KUNIT_ASSERT_EQ(test, kunit_add_action_or_reset(test, xmem_test_fput,
							file), 0);
	f->cache.mapping = file->f_mapping;
	addr = kunit_vm_mmap(test, file, 0, PAGE_SIZE, PROT_READ | PROT_WRITE,
			     MAP_SHARED,
			     (r->base + (index << r->order)) << PAGE_SHIFT);
	KUNIT_ASSERT_NE_MSG(test, addr, 0, "mmap failed");
	KUNIT_ASSERT_FALSE(test, IS_ERR_VALUE(addr));
	/* What xmem_vm_open() counts for a VMA of the region. */
	atomic_inc(&r->nr_vmas);
	KUNIT_EXPECT_FALSE(test, test_bit(XMEM_PORTION_DIRTY, &p->flags));
	return addr;
}

/*
 * PTE level: a write through a writable PTE that no fault handler saw is
 * found by eviction's harvest of the PTE dirty bits, written back, and
 * the PTE is gone afterwards; the batch issued two flushes (clean-record,
 * unmap) for the one VMA.
 */
static void xmem_pager_test_pte_evict(struct kunit *test)
{
	struct xmem_fake *f = test->priv;
	unsigned long addr = xmem_test_map(test, f, 1);
	u8 __user *u = (u8 __user *)addr;
	u8 c = 'Z';

	KUNIT_ASSERT_EQ(test, copy_to_user(u + 10, &c, 1), 0);
	KUNIT_EXPECT_EQ(test, xmem_cache_shrink(&f->cache, 1), 1);
	KUNIT_EXPECT_EQ(test, f->writes, 1);
	KUNIT_EXPECT_EQ(test, f->mem[PAGE_SIZE + 10], 'Z');
	KUNIT_EXPECT_EQ(test, f->mem[PAGE_SIZE + 11], 'a' + 1);
	KUNIT_EXPECT_EQ(test, xmem_fake_stat(f, XMEM_STAT_EVICTIONS_DIRTY), 1);
	KUNIT_EXPECT_EQ(test, xmem_fake_stat(f, XMEM_STAT_EVICT_BATCHES), 1);
	KUNIT_EXPECT_EQ(test, xmem_fake_stat(f, XMEM_STAT_EVICT_TLB_FLUSHES),
			2);
	/* Unmapped: no PTE, and no ->fault to make a new one. */
	KUNIT_EXPECT_NE(test, copy_from_user(&c, u, 1), 0);
	atomic_dec(&f->region.nr_vmas);
}

/*
 * PTE level: sync writes a DIRTY portion back and write-protects its PTE
 * (the next write reaches ->pfn_mkwrite); a write made after that which
 * no fault handler recorded (the test's ->pfn_mkwrite does not set DIRTY)
 * is still found by eviction's harvest of the PTE dirty bit.
 */
static void xmem_pager_test_pte_sync(struct kunit *test)
{
	struct xmem_fake *f = test->priv;
	unsigned long addr = xmem_test_map(test, f, 2);
	u8 __user *u = (u8 __user *)addr;
	struct xmem_portion *p;
	u8 c = 'S';

	p = xmem_pager_get(&f->region, 2);
	KUNIT_ASSERT_FALSE(test, IS_ERR(p));
	xmem_portion_set_dirty(&f->cache, p);
	xmem_pager_unlock(p);
	KUNIT_ASSERT_EQ(test, copy_to_user(u + 20, &c, 1), 0);
	KUNIT_EXPECT_EQ(test, xmem_region_sync(&f->region, 0, FAKE_PAGES, NULL),
			0);
	KUNIT_EXPECT_EQ(test, f->writes, 1);
	KUNIT_EXPECT_EQ(test, f->mem[2 * PAGE_SIZE + 20], 'S');
	KUNIT_EXPECT_EQ(test, f->cache.nr_pages, 1);

	xmem_test_mkwrites = 0;
	c = 'T';
	KUNIT_ASSERT_EQ(test, copy_to_user(u + 21, &c, 1), 0);
	KUNIT_EXPECT_EQ(test, xmem_test_mkwrites, 1);
	KUNIT_EXPECT_EQ(test, xmem_cache_shrink(&f->cache, 1), 1);
	KUNIT_EXPECT_EQ(test, f->writes, 2);
	KUNIT_EXPECT_EQ(test, f->mem[2 * PAGE_SIZE + 21], 'T');
	atomic_dec(&f->region.nr_vmas);
}

static struct kunit_case xmem_pager_cases[] = {
	KUNIT_CASE(xmem_pager_test_fetch_once),
	KUNIT_CASE(xmem_pager_test_limit_clean),
	KUNIT_CASE(xmem_pager_test_sync),
	KUNIT_CASE(xmem_pager_test_evict_dirty),
	KUNIT_CASE(xmem_pager_test_second_chance),
	KUNIT_CASE(xmem_pager_test_busy_skipped),
	KUNIT_CASE(xmem_pager_test_write_error),
	KUNIT_CASE(xmem_pager_test_read_error),
	KUNIT_CASE(xmem_pager_test_limit_lowered),
	KUNIT_CASE(xmem_pager_test_drop),
	KUNIT_CASE(xmem_pager_test_zero_fill),
	KUNIT_CASE(xmem_pager_test_zero_grow),
	KUNIT_CASE(xmem_pager_test_zero_untracked),
	KUNIT_CASE(xmem_pager_test_invalidate),
	KUNIT_CASE(xmem_pager_test_invalidate_dirty),
	KUNIT_CASE(xmem_pager_test_portions),
	KUNIT_CASE(xmem_pager_test_one_call),
	KUNIT_CASE(xmem_pager_test_ra_window),
	KUNIT_CASE(xmem_pager_test_readahead),
	KUNIT_CASE(xmem_pager_test_clean_only),
	KUNIT_CASE(xmem_pager_test_region_limit),
	KUNIT_CASE(xmem_pager_test_region_limit_batch),
	KUNIT_CASE(xmem_pager_test_region_lru),
	KUNIT_CASE(xmem_pager_test_resize),
	KUNIT_CASE(xmem_pager_test_release_vs_evictor),
	KUNIT_CASE(xmem_pager_test_sync_waits_writeback),
	KUNIT_CASE(xmem_pager_test_wb_errseq),
	KUNIT_CASE(xmem_pager_test_skip_unwritable),
	KUNIT_CASE(xmem_pager_test_grow_short),
	KUNIT_CASE(xmem_pager_test_evict_window),
	KUNIT_CASE(xmem_pager_test_pte_evict),
	KUNIT_CASE(xmem_pager_test_pte_sync),
	{}
};

static struct kunit_suite xmem_pager_suite = {
	.name = "xmem_pager",
	.init = xmem_pager_test_init,
	.exit = xmem_pager_test_exit,
	.test_cases = xmem_pager_cases,
};

kunit_test_suites(&xmem_wire_suite, &xmem_pager_suite);

/* --- allocator accounting --- */

static void xmem_acct_test_check(struct kunit *test)
{
	struct xmem_account a = { .slabs = 2, .bytes_in_use = 100,
				  .bytes_reserved = 8192 };

	KUNIT_EXPECT_EQ(test, xmem_acct_check(&a, "t"), 0);
	a.bytes_in_use = 8192;
	KUNIT_EXPECT_EQ(test, xmem_acct_check(&a, "t"), 0);
	a.bytes_in_use = 8193;
	KUNIT_EXPECT_EQ(test, xmem_acct_check(&a, "t"), -EINVAL);
	a.bytes_in_use = 0;
	a.reserved[4] = 1;
	KUNIT_EXPECT_EQ(test, xmem_acct_check(&a, "t"), -EINVAL);
	a.reserved[4] = 0;
	a.bytes_reserved = XMEM_REGION_MAX_BYTES + 1;
	KUNIT_EXPECT_EQ(test, xmem_acct_check(&a, "t"), -EINVAL);
	a.bytes_reserved = XMEM_REGION_MAX_BYTES;
	KUNIT_EXPECT_EQ(test, xmem_acct_check(&a, "t"), 0);
	a.bytes_reserved = 1;
	KUNIT_EXPECT_EQ(test, xmem_acct_check(&a, "t"), -EINVAL);
	a.slabs = 0;
	KUNIT_EXPECT_EQ(test, xmem_acct_check(&a, "t"), 0);
}

/* Sums per region over the files that reported; release withdraws. */
static void xmem_acct_test_sum(struct kunit *test)
{
	struct xmem_region *r1, *r2;
	struct xmem_acct *f;
	struct xmem_account sum;
	const struct xmem_account v[3] = {
		{ .slabs = 1, .bytes_in_use = 10, .bytes_reserved = 4096 },
		{ .slabs = 2, .bytes_in_use = 20, .bytes_reserved = 8192 },
		{ .slabs = 4, .bytes_in_use = 40, .bytes_reserved = 16384 },
	};

	r1 = kunit_kzalloc(test, sizeof(*r1), GFP_KERNEL);
	r2 = kunit_kzalloc(test, sizeof(*r2), GFP_KERNEL);
	f = kunit_kcalloc(test, 3, sizeof(*f), GFP_KERNEL);
	KUNIT_ASSERT_NOT_NULL(test, r1);
	KUNIT_ASSERT_NOT_NULL(test, r2);
	KUNIT_ASSERT_NOT_NULL(test, f);

	xmem_acct_sum(r1, &sum);
	KUNIT_EXPECT_EQ(test, sum.slabs, 0);
	xmem_acct_set(&f[0], r1, &v[0]);
	xmem_acct_set(&f[1], r1, &v[1]);
	xmem_acct_set(&f[2], r2, &v[2]);
	xmem_acct_sum(r1, &sum);
	KUNIT_EXPECT_EQ(test, sum.slabs, 3);
	KUNIT_EXPECT_EQ(test, sum.bytes_in_use, 30);
	KUNIT_EXPECT_EQ(test, sum.bytes_reserved, 12288);
	xmem_acct_sum(r2, &sum);
	KUNIT_EXPECT_EQ(test, sum.bytes_reserved, 16384);
	/* A new report replaces the file's share, it does not add to it. */
	xmem_acct_set(&f[0], r1, &v[2]);
	xmem_acct_sum(r1, &sum);
	KUNIT_EXPECT_EQ(test, sum.slabs, 6);
	KUNIT_EXPECT_EQ(test, sum.bytes_reserved, 24576);
	/* Release withdraws it; twice is harmless. */
	xmem_acct_release(&f[1]);
	xmem_acct_release(&f[1]);
	xmem_acct_sum(r1, &sum);
	KUNIT_EXPECT_EQ(test, sum.slabs, 4);
	KUNIT_EXPECT_EQ(test, sum.bytes_in_use, 40);
	xmem_acct_release(&f[0]);
	xmem_acct_release(&f[2]);
	xmem_acct_sum(r1, &sum);
	KUNIT_EXPECT_EQ(test, sum.bytes_reserved, 0);
	xmem_acct_sum(r2, &sum);
	KUNIT_EXPECT_EQ(test, sum.bytes_reserved, 0);
}

static struct kunit_case xmem_acct_cases[] = {
	KUNIT_CASE(xmem_acct_test_check),
	KUNIT_CASE(xmem_acct_test_sum),
	{}
};

static struct kunit_suite xmem_acct_suite = {
	.name = "xmem_acct",
	.test_cases = xmem_acct_cases,
};

kunit_test_suite(xmem_acct_suite);

MODULE_DESCRIPTION("KUnit tests for xmem");
MODULE_LICENSE("GPL");
MODULE_IMPORT_NS(EXPORTED_FOR_KUNIT_TESTING);
