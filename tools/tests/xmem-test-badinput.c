// SPDX-License-Identifier: GPL-2.0
/*
 * Bad input is refused with the documented errno and changes nothing: each
 * test makes one bad call between two snapshots of every stats/ counter,
 * of the appliance's region count and bytes, and of local_limit, and
 * requires them to be equal.
 */
#define _GNU_SOURCE
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <termios.h>
#include <unistd.h>

#include <xmem_proto.h>

#include "xsys.h"
#include "xtest.h"

#define REGION_SIZE	(1 * MiB)

/* A region that exists, created once by main(). */
static char existing[XMEM_REGION_NAME_MAX];

struct snap {
	struct xstats stats;
	uint64_t regions;
	uint64_t bytes;
	uint64_t limit;
};

static void snap_take(struct snap *s)
{
	ASSERT_ZERO_ERR(xstats_read(&s->stats));
	ASSERT_ZERO_ERR(xsys_read_u64("appliance_regions", &s->regions));
	ASSERT_ZERO_ERR(xsys_read_u64("appliance_bytes", &s->bytes));
	ASSERT_ZERO_ERR(xsys_read_u64("local_limit", &s->limit));
}

#define SNAP_FIELD_SAME(a, b, field, what) do {				\
	if ((a)->field != (b)->field)					\
		FAIL("%s changed: %llu -> %llu", (what),		\
		     (unsigned long long)(a)->field,			\
		     (unsigned long long)(b)->field);			\
} while (0)

static void snap_same(const struct snap *a)
{
	struct snap b;
	int i;

	snap_take(&b);
	for (i = 0; i < XS_NR; i++)
		SNAP_FIELD_SAME(a, &b, stats.v[i], xstat_names[i]);
	SNAP_FIELD_SAME(a, &b, regions, "appliance_regions");
	SNAP_FIELD_SAME(a, &b, bytes, "appliance_bytes");
	SNAP_FIELD_SAME(a, &b, limit, "local_limit");
}

static int open_dev(void)
{
	int fd = open(XMEM_DEV, O_RDWR | O_CLOEXEC);

	if (fd < 0)
		FAIL("open %s: %s", XMEM_DEV, xt_errname(errno));
	return fd;
}

/* A valid attach request for a region that does not exist. */
static void attach_new(struct xmem_attach *at, const char *tag)
{
	memset(at, 0, sizeof(*at));
	xr_name(at->name, tag);
	at->size = REGION_SIZE;
	at->flags = XMEM_ATTACH_CREATE;
}

static void attach_existing(struct xmem_attach *at)
{
	if (!existing[0])
		FAIL("setup: the shared region could not be created");
	memset(at, 0, sizeof(*at));
	strcpy(at->name, existing);
}

/* ATTACH must fail with @err on a fresh fd, changing nothing. */
static void attach_fails(struct xmem_attach *at, int err)
{
	struct snap s;
	int fd;

	xr_require_connected();
	fd = open_dev();
	snap_take(&s);
	ASSERT_ERRNO(ioctl(fd, XMEM_IOC_ATTACH, at), err);
	snap_same(&s);
	close(fd);
}

TEST(version)
{
	struct xmem_version v;
	int fd = open_dev();

	memset(&v, 0, sizeof(v));
	ASSERT_OK(ioctl(fd, XMEM_IOC_VERSION, &v));
	ASSERT_EQ(v.major, XMEM_UAPI_MAJOR);
	ASSERT_EQ(v.minor, XMEM_UAPI_MINOR);
	ASSERT_EQ(v.proto_major, XMEM_PROTO_MAJOR);
	ASSERT_EQ(v.proto_minor, XMEM_PROTO_MINOR);
}

TEST(version_reserved_nonzero)
{
	struct xmem_version v;
	struct snap s;
	int fd = open_dev();

	memset(&v, 0, sizeof(v));
	v.reserved[1] = 1;
	snap_take(&s);
	ASSERT_ERRNO(ioctl(fd, XMEM_IOC_VERSION, &v), EINVAL);
	snap_same(&s);
}

TEST(unknown_ioctl_nr)
{
	struct xmem_version v;
	struct snap s;
	int fd = open_dev();

	memset(&v, 0, sizeof(v));
	snap_take(&s);
	ASSERT_ERRNO(ioctl(fd, _IOWR(XMEM_IOC_MAGIC, 4, struct xmem_version),
			   &v), ENOTTY);
	ASSERT_ERRNO(ioctl(fd, _IOWR(XMEM_IOC_MAGIC, 0, struct xmem_version),
			   &v), ENOTTY);
	ASSERT_ERRNO(ioctl(fd, _IO(XMEM_IOC_MAGIC, 0xff)), ENOTTY);
	snap_same(&s);
}

TEST(foreign_magic)
{
	struct xmem_version v;
	struct termios tio;
	struct snap s;
	int fd = open_dev();

	memset(&v, 0, sizeof(v));
	snap_take(&s);
	ASSERT_ERRNO(ioctl(fd, _IOWR('x', 1, struct xmem_version), &v), ENOTTY);
	ASSERT_ERRNO(ioctl(fd, TCGETS, &tio), ENOTTY);
	snap_same(&s);
}

TEST(attach_empty_name)
{
	struct xmem_attach at;

	attach_new(&at, "x");
	memset(at.name, 0, sizeof(at.name));
	attach_fails(&at, EINVAL);
}

TEST(attach_name_unterminated)
{
	struct xmem_attach at;

	attach_new(&at, "x");
	memset(at.name, 'a', sizeof(at.name));
	attach_fails(&at, EINVAL);
}

TEST(attach_name_slash)
{
	struct xmem_attach at;

	attach_new(&at, "x");
	strcpy(at.name, "t-bad/name");
	attach_fails(&at, EINVAL);
}

TEST(attach_reserved_nonzero)
{
	struct xmem_attach at;

	attach_new(&at, "rsv");
	at.mode = 1;
	attach_fails(&at, EINVAL);
}

TEST(attach_reserved2_0_nonzero)
{
	struct xmem_attach at;

	attach_new(&at, "rsv");
	at.reserved2[0] = 1;
	attach_fails(&at, EINVAL);
}

TEST(attach_reserved2_1_nonzero)
{
	struct xmem_attach at;

	attach_new(&at, "rsv");
	at.reserved2[1] = 1ull << 63;
	attach_fails(&at, EINVAL);
}

TEST(attach_unknown_flag)
{
	struct xmem_attach at;

	attach_new(&at, "flag");
	at.flags |= 1u << 4;	/* the first ATTACH flag uapi 1.9 does not know */
	attach_fails(&at, EINVAL);
}

TEST(attach_unknown_flag_high)
{
	struct xmem_attach at;

	attach_new(&at, "flag");
	at.flags |= 1u << 31;
	attach_fails(&at, EINVAL);
}

TEST(attach_size_unaligned)
{
	struct xmem_attach at;

	attach_new(&at, "unal");
	at.size = REGION_SIZE + 1;
	attach_fails(&at, EINVAL);
}

TEST(attach_size_zero_create_missing)
{
	struct xmem_attach at;

	attach_new(&at, "zero");
	at.size = 0;
	attach_fails(&at, EINVAL);
}

TEST(attach_size_mismatch)
{
	struct xmem_attach at;

	attach_existing(&at);
	at.size = 2 * REGION_SIZE;
	attach_fails(&at, EINVAL);
}

TEST(attach_missing)
{
	struct xmem_attach at;

	attach_new(&at, "missing");
	at.flags = 0;
	attach_fails(&at, ENOENT);
}

TEST(attach_excl_existing)
{
	struct xmem_attach at;

	attach_existing(&at);
	at.size = REGION_SIZE;
	at.flags = XMEM_ATTACH_CREATE | XMEM_ATTACH_EXCL;
	attach_fails(&at, EEXIST);
}

TEST(attach_twice)
{
	struct xmem_attach at, at2;
	struct snap s;
	int fd = open_dev();

	attach_existing(&at);
	ASSERT_OK(ioctl(fd, XMEM_IOC_ATTACH, &at));
	attach_existing(&at2);
	snap_take(&s);
	ASSERT_ERRNO(ioctl(fd, XMEM_IOC_ATTACH, &at2), EBUSY);
	snap_same(&s);
}

TEST(mmap_unbound)
{
	struct snap s;
	int fd = open_dev();

	snap_take(&s);
	ASSERT_ERRNO(xr_map(fd, 0, 4096) == MAP_FAILED ? -1 : 0, ENXIO);
	snap_same(&s);
}

TEST(mmap_private)
{
	struct xmem_attach at;
	struct snap s;
	void *p;
	int fd = open_dev();

	attach_existing(&at);
	ASSERT_OK(ioctl(fd, XMEM_IOC_ATTACH, &at));
	snap_take(&s);
	/* mmap inside the macro: it clears errno before the call. */
	ASSERT_ERRNO((p = mmap(NULL, 4096, PROT_READ | PROT_WRITE,
			       MAP_PRIVATE, fd, 0)) == MAP_FAILED ? -1 : 0,
		     EINVAL);
	snap_same(&s);
}

TEST(mmap_past_end)
{
	struct xmem_attach at;
	struct snap s;
	int fd = open_dev();

	attach_existing(&at);
	ASSERT_OK(ioctl(fd, XMEM_IOC_ATTACH, &at));
	ASSERT_EQ(at.size, REGION_SIZE);
	snap_take(&s);
	ASSERT_ERRNO(xr_map(fd, 0, 2 * REGION_SIZE) == MAP_FAILED ? -1 : 0,
		     EINVAL);
	ASSERT_ERRNO(xr_map(fd, REGION_SIZE - 4096, 8192) == MAP_FAILED ?
		     -1 : 0, EINVAL);
	ASSERT_ERRNO(xr_map(fd, REGION_SIZE, 4096) == MAP_FAILED ? -1 : 0,
		     EINVAL);
	snap_same(&s);
}

TEST(info_unbound)
{
	struct xmem_region_info info;
	struct snap s;
	int fd = open_dev();

	memset(&info, 0, sizeof(info));
	snap_take(&s);
	ASSERT_ERRNO(ioctl(fd, XMEM_IOC_INFO, &info), ENXIO);
	snap_same(&s);
}

TEST(info_reserved_nonzero)
{
	struct xmem_region_info info;
	struct xmem_attach at;
	struct snap s;
	int fd = open_dev();

	attach_existing(&at);
	ASSERT_OK(ioctl(fd, XMEM_IOC_ATTACH, &at));
	memset(&info, 0, sizeof(info));
	info.reserved[3] = 1;
	snap_take(&s);
	ASSERT_ERRNO(ioctl(fd, XMEM_IOC_INFO, &info), EINVAL);
	snap_same(&s);
}

TEST(info_after_attach)
{
	struct xmem_region_info info;
	struct xmem_attach at;
	int fd = open_dev();

	attach_existing(&at);
	ASSERT_OK(ioctl(fd, XMEM_IOC_ATTACH, &at));
	ASSERT_EQ(at.size, REGION_SIZE);
	memset(&info, 0, sizeof(info));
	ASSERT_OK(ioctl(fd, XMEM_IOC_INFO, &info));
	ASSERT_EQ(info.size, REGION_SIZE);
	ASSERT_EQ(info.region_id, at.region_id);
	ASSERT_LE(info.resident_bytes, info.size);
	ASSERT_LE(info.dirty_bytes, info.resident_bytes);
}

static void bad_limit(const char *val)
{
	uint64_t after;
	struct snap s;
	int ret;

	snap_take(&s);
	ret = xsys_write("local_limit", val);
	if (ret != -EINVAL)
		FAIL("writing \"%s\" to local_limit: expected EINVAL, got %s",
		     val, ret ? xt_errname(-ret) : "success");
	ASSERT_ZERO_ERR(xsys_read_u64("local_limit", &after));
	ASSERT_EQ(after, s.limit);
	snap_same(&s);
}

TEST(local_limit_garbage)
{
	bad_limit("abc");
}

TEST(local_limit_zero)
{
	bad_limit("0");
}

TEST(local_limit_negative)
{
	bad_limit("-1");
}

int main(int argc, char **argv)
{
	int fd;

	if (!xt_query(argc, argv)) {
		xr_name(existing, "badin");
		fd = xr_attach(existing, REGION_SIZE,
			       XMEM_ATTACH_CREATE | XMEM_ATTACH_EXCL, NULL);
		if (fd < 0) {
			printf("# setup: creating %s: %s\n", existing,
			       xt_errname(-fd));
			existing[0] = '\0';
		} else {
			close(fd);
		}
	}
	xsys_save_limit();
	xt_after_each(xsys_restore_limit);
	return xt_main(argc, argv);
}
