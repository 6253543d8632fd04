// SPDX-License-Identifier: GPL-2.0
/*
 * Several appliances: adding one to the running client's pool, the
 * placement knob, bad input to the pool files, and draining an appliance
 * while a process keeps writing to a region it holds: the region moves by
 * appliance-to-appliance copy, its data is verified after, and the old
 * copy is gone.  A region another client also uses is not drained.
 *
 * Needs the test bed with two appliances (scripts/xmem-vm --appliances 2):
 * the second one's address is the second word of $XMEM_APPLIANCES.  The
 * EBUSY case also needs client2 (ssh).  The pool is left as it was found:
 * only the first appliance.
 */
#define _GNU_SOURCE
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "xsys.h"
#include "xtest.h"

#define PEER		"client2"
#define SSH		"ssh -o BatchMode=yes -o ConnectTimeout=20 " PEER " "

static char a1[128], a2[128];

/* The test bed's first two appliances, from $XMEM_APPLIANCES. */
static void load_addrs(void)
{
	const char *list = getenv("XMEM_APPLIANCES");

	a1[0] = a2[0] = '\0';
	if (list)
		sscanf(list, "%127s %127s", a1, a2);
}

/* Skips without a second appliance. */
static void require_two(void)
{
	const char *list = getenv("XMEM_APPLIANCES");

	load_addrs();
	if (!a2[0])
		SKIP("needs two appliances ($XMEM_APPLIANCES: \"%s\")",
		     list ? list : "");
}

static void require_peer(void)
{
	if (system(SSH "true </dev/null >/dev/null 2>&1"))
		SKIP("%s unreachable by ssh (needs a test bed with 2 clients)",
		     PEER);
}

/* appliances/@addr/@file */
static int member_read(const char *addr, const char *file, char *buf,
		       size_t len)
{
	char attr[256];

	snprintf(attr, sizeof(attr), "appliances/%s/%s", addr, file);
	return xsys_read(attr, buf, len);
}

static int is_member(const char *addr)
{
	char path[256];
	struct stat st;

	snprintf(path, sizeof(path), XSYS_DIR "/appliances/%s", addr);
	return !stat(path, &st);
}

/* regions/@name/appliance, which must be readable. */
static void region_appliance(const char *name, char *buf, size_t len)
{
	char attr[256];

	snprintf(attr, sizeof(attr), "regions/%s/appliance", name);
	ASSERT_ZERO_ERR(xsys_read(attr, buf, len));
}

/* Adds the second appliance (fails the test if it cannot). */
static void add_second(void)
{
	char state[64];

	if (is_member(a2))
		return;
	ASSERT_ZERO_ERR(xsys_write("appliance_add", a2));
	ASSERT_ZERO_ERR(member_read(a2, "state", state, sizeof(state)));
	if (strcmp(state, "connected"))
		FAIL("%s: state %s after appliance_add", a2, state);
}

/* Leave the pool as found: placement fill-first, only the first member. */
static void restore(void)
{
	int ret;

	xsys_write("placement", "fill-first");
	if (a2[0] && is_member(a2)) {
		ret = xsys_write("appliance_remove", a2);
		if (ret)
			xt_diag("after test: appliance_remove %s: %s", a2,
				xt_errname(-ret));
	}
}

TEST(add_and_bad_input)
{
	char buf[256];
	uint64_t v;

	xr_require_connected();
	require_two();
	add_second();
	ASSERT_ZERO_ERR(member_read(a1, "state", buf, sizeof(buf)));
	ASSERT_TRUE(!strcmp(buf, "connected"));
	ASSERT_ZERO_ERR(xsys_read("state", buf, sizeof(buf)));
	ASSERT_TRUE(!strcmp(buf, "connected"));
	ASSERT_ZERO_ERR(xsys_read_u64("appliance_regions", &v));
	snprintf(buf, sizeof(buf), "appliances/%s/bytes_capacity", a2);
	ASSERT_ZERO_ERR(xsys_read_u64(buf, &v));
	ASSERT_GT(v, 0);
	snprintf(buf, sizeof(buf), "appliances/%s/attached", a2);
	ASSERT_ZERO_ERR(xsys_read_u64(buf, &v));
	ASSERT_EQ(v, 0);

	/* Bad input: a specific errno, and nothing changes. */
	ASSERT_EQ(xsys_write("appliance_add", a2), -EEXIST);
	ASSERT_EQ(xsys_write("appliance_add", "10.77.0.2"), -EINVAL);
	ASSERT_EQ(xsys_write("appliance_add", "[::1:7471"), -EINVAL);
	ASSERT_EQ(xsys_write("appliance_add", "host.example:7471"), -EINVAL);
	ASSERT_EQ(xsys_write("appliance_add", "10.77.0.2:0"), -EINVAL);
	ASSERT_EQ(xsys_write("appliance_remove", "10.77.0.99:7471"), -ENOENT);
	ASSERT_EQ(xsys_write("appliance_remove", "bogus"), -EINVAL);
	ASSERT_EQ(xsys_write("placement", "fullest"), -EINVAL);
	ASSERT_EQ(xsys_write("placement", "10.77.0.99:7471"), -ENOENT);
	ASSERT_ZERO_ERR(xsys_read("placement", buf, sizeof(buf)));
	ASSERT_TRUE(!strcmp(buf, "fill-first"));
	ASSERT_TRUE(is_member(a1) && is_member(a2));
	restore();
	ASSERT_TRUE(!is_member(a2));
}

TEST(placement)
{
	char name[XMEM_REGION_NAME_MAX], where[128], buf[128];
	int fd;

	xr_require_connected();
	require_two();
	add_second();

	ASSERT_ZERO_ERR(xsys_write("placement", a2));
	ASSERT_ZERO_ERR(xsys_read("placement", buf, sizeof(buf)));
	ASSERT_TRUE(!strcmp(buf, a2));
	xr_name(name, "place2");
	fd = ATTACH_OK(name, 1 * MiB, XMEM_ATTACH_CREATE | XMEM_ATTACH_EXCL,
		       NULL);
	region_appliance(name, where, sizeof(where));
	if (strcmp(where, a2))
		FAIL("placement %s put %s on %s", a2, name, where);
	ASSERT_OK(close(fd));

	ASSERT_ZERO_ERR(xsys_write("placement", "fill-first"));
	xr_name(name, "place1");
	fd = ATTACH_OK(name, 1 * MiB, XMEM_ATTACH_CREATE | XMEM_ATTACH_EXCL,
		       NULL);
	region_appliance(name, where, sizeof(where));
	if (strcmp(where, a1))
		FAIL("fill-first put %s on %s, not the first member %s", name,
		     where, a1);
	ASSERT_OK(close(fd));

	ASSERT_ZERO_ERR(xsys_write("placement", "spread"));
	ASSERT_ZERO_ERR(xsys_read("placement", buf, sizeof(buf)));
	ASSERT_TRUE(!strcmp(buf, "spread"));
	restore();	/* drains place2 back to the first member */
	ASSERT_TRUE(!is_member(a2));
}

TEST_TIMEOUT(drain_while_written, 600)
{
	const uint64_t size = 8 * MiB, hot = 512 * KiB;
	uint64_t seed = xnow() * 1000 + 21, n, before;
	char name[XMEM_REGION_NAME_MAX], where[128], attr[256];
	int fd, pfd[2], status, ret;
	double t0;
	char *p;
	pid_t pid;

	xr_require_connected();
	require_two();
	add_second();

	ASSERT_ZERO_ERR(xsys_write("placement", a2));
	xr_name(name, "drain");
	fd = ATTACH_OK(name, size, XMEM_ATTACH_CREATE | XMEM_ATTACH_EXCL,
		       NULL);
	ASSERT_ZERO_ERR(xsys_write("placement", "fill-first"));
	region_appliance(name, where, sizeof(where));
	ASSERT_TRUE(!strcmp(where, a2));
	p = MAP_OK(fd, 0, size);
	xpat_fill(p, size, 0, seed);
	ASSERT_OK(msync(p, size, MS_SYNC));
	/* Nothing cached: after the move every page comes from its new home. */
	xr_drop_cache(fd);
	snprintf(attr, sizeof(attr), "appliances/%s/bytes_allocated", a1);
	ASSERT_ZERO_ERR(xsys_read_u64(attr, &before));

	ASSERT_OK(pipe(pfd));
	pid = fork();
	if (pid < 0)
		FAIL("fork: %s", xt_errname(errno));
	if (!pid) {
		close(pfd[1]);
		_exit(xpat_toucher(p, hot, seed + 1000, pfd[0]));
	}
	close(pfd[0]);

	t0 = xnow();
	ret = xsys_write("appliance_remove", a2);
	if (ret)
		FAIL("appliance_remove %s: %s", a2, xt_errname(-ret));
	xt_diag("drained %s (%" PRIu64 " MiB region) in %.2f s while the toucher ran",
		a2, size / MiB, xnow() - t0);
	ASSERT_TRUE(!is_member(a2));
	region_appliance(name, where, sizeof(where));
	if (strcmp(where, a1))
		FAIL("%s is on %s after draining %s", name, where, a2);
	ASSERT_ZERO_ERR(xsys_read_u64(attr, &n));
	ASSERT_GE(n - before, size);

	ASSERT_EQ(write(pfd[1], "x", 1), 1);
	close(pfd[1]);
	ASSERT_EQ(waitpid(pid, &status, 0), pid);
	if (!WIFEXITED(status) || WEXITSTATUS(status))
		FAIL("toucher failed: wait status %#x", status);

	/* The cold range was on the drained appliance only. */
	ASSERT_PATTERN(p + hot, size - hot, hot, seed);
	ASSERT_OK(msync(p, size, MS_SYNC));
	xr_drop_cache(fd);
	ASSERT_PATTERN(p + hot, size - hot, hot, seed);

	/* The old copy is gone from the second appliance. */
	add_second();
	snprintf(attr, sizeof(attr), "appliances/%s/regions", a2);
	ASSERT_ZERO_ERR(xsys_read_u64(attr, &n));
	ASSERT_EQ(n, 0);
	ASSERT_OK(munmap(p, size));
	ASSERT_OK(close(fd));
	restore();
}

TEST_TIMEOUT(drain_refuses_shared_region, 300)
{
	char name[XMEM_REGION_NAME_MAX], cmd[512], where[128];
	int fd, ret;

	xr_require_connected();
	require_two();
	require_peer();
	add_second();

	ASSERT_ZERO_ERR(xsys_write("placement", a2));
	xr_name(name, "shared");
	fd = ATTACH_OK(name, 1 * MiB,
		       XMEM_ATTACH_CREATE | XMEM_ATTACH_EXCL, NULL);
	ASSERT_ZERO_ERR(xsys_write("placement", "fill-first"));
	ASSERT_OK(close(fd));

	/* client2 adds the second appliance and attaches the region too. */
	snprintf(cmd, sizeof(cmd),
		 SSH "'echo %s >/sys/class/misc/xmem/appliance_add && "
		 "xmemctl region attach %s' </dev/null", a2, name);
	if (system(cmd))
		FAIL("client2 could not attach %s", name);
	ret = xsys_write("appliance_remove", a2);
	snprintf(cmd, sizeof(cmd),
		 SSH "'xmemctl region detach %s; "
		 "echo %s >/sys/class/misc/xmem/appliance_remove' </dev/null",
		 name, a2);
	if (system(cmd))
		xt_diag("client2 could not detach %s or remove %s", name, a2);
	if (ret != -EBUSY)
		FAIL("draining a region client2 uses: expected EBUSY, got %s",
		     ret ? xt_errname(-ret) : "success");
	/* Nothing moved, the appliance is still there. */
	ASSERT_TRUE(is_member(a2));
	region_appliance(name, where, sizeof(where));
	ASSERT_TRUE(!strcmp(where, a2));
	/* client2 let go: now it moves. */
	restore();
	ASSERT_TRUE(!is_member(a2));
	region_appliance(name, where, sizeof(where));
	ASSERT_TRUE(!strcmp(where, a1));
}

int main(int argc, char **argv)
{
	int ret = xt_main(argc, argv);

	if (xt_query(argc, argv))
		return ret;
	load_addrs();
	restore();
	return ret;
}
