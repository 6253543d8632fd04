// SPDX-License-Identifier: GPL-2.0
/*
 * Region data lives on the appliance: it survives unloading and reloading
 * the client module, and disconnecting and reconnecting it; rmmod writes
 * back what is still dirty.
 *
 * Needs XMEM_APPLIANCE (ADDR:PORT) and the module at $XMEM_MODULE
 * (default /xmem/xmem.ko).  After every test the module is loaded and
 * connected again, whatever the test left behind.
 */
#define _GNU_SOURCE
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "xsys.h"
#include "xtest.h"

#define REGION_SIZE	(2 * MiB)
#define CONNECT_MS	(60 * 1000)

static const char *appliance(void)
{
	const char *a = xmod_appliance();

	if (!a)
		FAIL("XMEM_APPLIANCE is not set");
	return a;
}

/* Creates region @name, writes the pattern, syncs if @sync, closes it. */
static void write_region(const char *name, uint64_t seed, int sync)
{
	char *p;
	int fd;

	fd = ATTACH_OK(name, REGION_SIZE, XMEM_ATTACH_CREATE | XMEM_ATTACH_EXCL,
		       NULL);
	p = MAP_OK(fd, 0, REGION_SIZE);
	xpat_fill(p, REGION_SIZE, 0, seed);
	if (sync)
		ASSERT_OK(msync(p, REGION_SIZE, MS_SYNC));
	ASSERT_OK(munmap(p, REGION_SIZE));
	ASSERT_OK(close(fd));
}

/* Attaches existing region @name (no CREATE) and checks the pattern. */
static void verify_region(const char *name, uint64_t seed)
{
	struct xmem_attach at;
	char *p;
	int fd;

	fd = ATTACH_OK(name, 0, 0, &at);
	ASSERT_EQ(at.size, REGION_SIZE);
	p = MAP_OK(fd, 0, REGION_SIZE);
	ASSERT_PATTERN(p, REGION_SIZE, 0, seed);
	ASSERT_OK(munmap(p, REGION_SIZE));
	ASSERT_OK(close(fd));
}

static void reload_module(void)
{
	char params[128];
	double t0;
	int ret;

	snprintf(params, sizeof(params), "appliance=%s", appliance());
	ASSERT_ZERO_ERR(xmod_unload());
	ASSERT_TRUE(!xmod_loaded());
	ASSERT_ZERO_ERR(xmod_load(params));
	t0 = xnow();
	ret = xsys_wait_state("connected", CONNECT_MS);
	if (ret)
		FAIL("not connected %d s after insmod", CONNECT_MS / 1000);
	xt_diag("connected %.2f s after insmod", xnow() - t0);
}

static void disconnect(void)
{
	char buf[64];

	ASSERT_ZERO_ERR(xsys_write("appliance", "none"));
	ASSERT_ZERO_ERR(xsys_read("appliance", buf, sizeof(buf)));
	if (strcmp(buf, "none"))
		FAIL("appliance reads \"%s\" after writing none", buf);
	ASSERT_ZERO_ERR(xsys_wait_state("disconnected", 10 * 1000));
}

TEST_TIMEOUT(reload, 300)
{
	uint64_t seed = xnow() * 1000 + 3;
	char name[XMEM_REGION_NAME_MAX];

	xr_require_connected();
	xr_name(name, "reload");
	write_region(name, seed, 1);
	reload_module();
	verify_region(name, seed);
}

TEST_TIMEOUT(rmmod_writes_back_dirty, 300)
{
	uint64_t seed = xnow() * 1000 + 4;
	char name[XMEM_REGION_NAME_MAX];
	uint64_t dirty;

	xr_require_connected();
	xr_name(name, "rmmod-dirty");
	write_region(name, seed, 0);
	ASSERT_ZERO_ERR(xsys_read_u64("stats/dirty_bytes", &dirty));
	xt_diag("%" PRIu64 " bytes dirty before rmmod", dirty);
	reload_module();
	verify_region(name, seed);
}

TEST_TIMEOUT(reconnect, 300)
{
	uint64_t seed = xnow() * 1000 + 5;
	char name[XMEM_REGION_NAME_MAX], buf[128];
	double t0;

	xr_require_connected();
	xr_name(name, "reconnect");
	write_region(name, seed, 1);
	disconnect();

	ASSERT_ZERO_ERR(xsys_write("appliance", appliance()));
	t0 = xnow();
	if (xsys_wait_state("connected", CONNECT_MS))
		FAIL("not connected %d s after writing appliance",
		     CONNECT_MS / 1000);
	xt_diag("connected %.2f s after writing appliance", xnow() - t0);
	ASSERT_ZERO_ERR(xsys_read("appliance", buf, sizeof(buf)));
	if (strcmp(buf, appliance()))
		FAIL("appliance reads \"%s\", wrote \"%s\"", buf, appliance());
	verify_region(name, seed);
}

TEST_TIMEOUT(attach_disconnected, 120)
{
	char name[XMEM_REGION_NAME_MAX];
	int fd;

	xr_require_connected();
	xr_name(name, "disc");
	disconnect();
	fd = xr_attach(name, REGION_SIZE, XMEM_ATTACH_CREATE, NULL);
	if (fd >= 0)
		FAIL("attach while disconnected succeeded");
	if (fd != -ENOTCONN)
		FAIL("attach while disconnected: expected ENOTCONN, got %s",
		     xt_errname(-fd));
}

static void reconnect_hook(void)
{
	int ret = xmod_ensure_connected();

	if (ret)
		xt_diag("after test: module not connected again: %s",
			xt_errname(-ret));
}

int main(int argc, char **argv)
{
	xt_after_each(reconnect_hook);
	return xt_main(argc, argv);
}
