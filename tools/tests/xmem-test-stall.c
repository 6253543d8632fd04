// SPDX-License-Identifier: GPL-2.0
/*
 * An appliance that stops answering (xmemd stopped with SIGSTOP: the
 * connection stays up, one-sided transfers still work, control messages
 * are never answered): a control call gets a clear error within a bound,
 * a caller killed with SIGKILL exits at once instead of staying in D state
 * until the call times out, a fault waiting for the lost connection gets
 * SIGBUS after io_timeout (or exits at once when killed), and after
 * SIGCONT the module reconnects and the data is intact.  A connection to an
 * address that never answers is bounded, and a task killed while it
 * connects exits at once.
 *
 * Needs the test bed's appliance ("ssh appliance", /run/xmemd.pid).
 */
#define _GNU_SOURCE
#include <fcntl.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include "xsys.h"
#include "xtest.h"

#define SSH_APPLIANCE	"ssh -o BatchMode=yes -o ConnectTimeout=20 appliance "
#define REGION_SIZE	(2 * MiB)
#define STATE_MS	(300 * 1000)
/* The module's line when a control call's reply did not come in time. */
#define NO_REPLY	"no reply from the appliance"

static void appliance_signal(const char *sig)
{
	char cmd[256];
	int st;

	snprintf(cmd, sizeof(cmd), SSH_APPLIANCE
		 "'kill -%s $(cat /run/xmemd.pid)' </dev/null", sig);
	st = system(cmd);
	if (st && (!WIFEXITED(st) || WEXITSTATUS(st) == 255))
		FAIL("cannot reach the appliance over ssh (wait status %#x)", st);
	if (st)
		FAIL("kill -%s xmemd on the appliance failed", sig);
}

/* After every test: xmemd runs again, and the module is connected. */
static void xmemd_continue(void)
{
	if (system(SSH_APPLIANCE "'kill -CONT $(cat /run/xmemd.pid)'"
		   " </dev/null >/dev/null 2>&1"))
		printf("# after test: cannot send SIGCONT to xmemd\n");
	xsys_write("io_timeout", "30");
	if (xsys_wait_state("connected", STATE_MS))
		printf("# after test: module not connected again\n");
}

/* The last kmsg_mark()'s line: unique, so a rerun never finds an older one. */
static char mark[64];

/* A line in the kernel log, so that later checks read only what follows. */
static void kmsg_mark(void)
{
	static unsigned int nr;
	int fd = open("/dev/kmsg", O_WRONLY | O_CLOEXEC);
	int len = snprintf(mark, sizeof(mark), "xmem-test-stall: mark %d.%u",
			   (int)getpid(), ++nr);

	if (fd < 0 || write(fd, mark, len) < 0)
		FAIL("/dev/kmsg: %s", xt_errname(errno));
	close(fd);
}

/* Whether the kernel logged @what after the last kmsg_mark(). */
static int kmsg_since_mark(const char *what)
{
	char cmd[256];

	snprintf(cmd, sizeof(cmd),
		 "dmesg | sed -n '/%s$/,$p' | grep -q '%s'", mark, what);
	return !system(cmd);
}

/* One field of /proc/PID/stat (3: the state letter). */
static char task_state(pid_t pid)
{
	char path[64], buf[512], *p;
	ssize_t n;
	int fd;

	snprintf(path, sizeof(path), "/proc/%d/stat", pid);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return 0;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return 0;
	buf[n] = 0;
	p = strrchr(buf, ')');
	return p && p[1] == ' ' ? p[2] : 0;
}

/* Whether @pid sleeps in the module (its wchan names an xmem function). */
static int task_in_xmem(pid_t pid)
{
	char path[64], buf[128] = "";
	ssize_t n;
	int fd;

	if (task_state(pid) != 'D')
		return 0;
	snprintf(path, sizeof(path), "/proc/%d/wchan", pid);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return 1;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	buf[n > 0 ? n : 0] = 0;
	/* "0" when the kernel hides it: the D state must do. */
	return !strncmp(buf, "xmem", 4) || !strcmp(buf, "0") || !buf[0];
}

/* Waits (bounded) until @pid sleeps in the module. */
static void wait_in_xmem(pid_t pid, const char *what)
{
	int i;

	for (i = 0; i < 6000; i++) {
		if (task_in_xmem(pid))
			return;
		if (waitpid(pid, NULL, WNOHANG) == pid)
			FAIL("%s returned before the test could kill it", what);
		usleep(10000);
	}
	FAIL("%s never waited in the module", what);
}

/* A child doing ATTACH with CREATE of a new region; exits with errno. */
static pid_t create_child(const char *tag)
{
	char name[XMEM_REGION_NAME_MAX];
	pid_t pid;
	int fd;

	xr_name(name, tag);
	pid = fork();
	if (pid < 0)
		FAIL("fork: %s", xt_errname(errno));
	if (!pid) {
		fd = xr_attach(name, 1 * MiB,
			       XMEM_ATTACH_CREATE | XMEM_ATTACH_EXCL, NULL);
		_exit(fd < 0 ? -fd : 0);
	}
	return pid;
}

/* A child reading one page of @p; dies of SIGBUS if the fault fails. */
static pid_t read_child(volatile const char *p)
{
	pid_t pid = fork();

	if (pid < 0)
		FAIL("fork: %s", xt_errname(errno));
	if (!pid) {
		(void)p[0];
		_exit(0);
	}
	return pid;
}

TEST_TIMEOUT(appliance_stopped, 900)
{
	uint64_t seed = xnow() * 1000 + 41;
	char name[XMEM_REGION_NAME_MAX];
	int fd, status;
	char *p;
	pid_t pid;

	xr_require_connected();
	if (system(SSH_APPLIANCE "test -e /run/xmemd.pid </dev/null"))
		SKIP("no ssh appliance with /run/xmemd.pid (not the test bed)");
	xr_name(name, "stall");
	fd = ATTACH_OK(name, REGION_SIZE,
		       XMEM_ATTACH_CREATE | XMEM_ATTACH_EXCL, NULL);
	p = MAP_OK(fd, 0, REGION_SIZE);
	xpat_fill(p, REGION_SIZE, 0, seed);
	ASSERT_OK(msync(p, REGION_SIZE, MS_SYNC));
	xr_drop_cache(fd);

	kmsg_mark();
	appliance_signal("STOP");

	/* A killed control caller exits before its call would time out. */
	pid = create_child("stallkill");
	wait_in_xmem(pid, "a region create");
	ASSERT_OK(kill(pid, SIGKILL));
	ASSERT_EQ(waitpid(pid, &status, 0), pid);
	if (!WIFSIGNALED(status) || WTERMSIG(status) != SIGKILL)
		FAIL("killed region create: wait status %#x", status);
	if (kmsg_since_mark(NO_REPLY))
		FAIL("the killed caller stayed until its call timed out");

	/* An unkilled one gets an error within io_timeout, not a hang. */
	ASSERT_ZERO_ERR(xsys_write("io_timeout", "5"));
	pid = create_child("stallerr");
	ASSERT_EQ(waitpid(pid, &status, 0), pid);
	if (!WIFEXITED(status) || !WEXITSTATUS(status))
		FAIL("region create with the appliance stopped: status %#x",
		     status);
	xt_diag("region create with the appliance stopped: %s",
		xt_errname(WEXITSTATUS(status)));

	/*
	 * The connection is now down (the call timed out): a fault waits
	 * for the next one up to io_timeout, killable, then gets SIGBUS.
	 */
	ASSERT_ZERO_ERR(xsys_write("io_timeout", "600"));
	pid = read_child(p);
	wait_in_xmem(pid, "a fault");
	ASSERT_OK(kill(pid, SIGKILL));
	ASSERT_EQ(waitpid(pid, &status, 0), pid);
	if (!WIFSIGNALED(status) || WTERMSIG(status) != SIGKILL)
		FAIL("killed fault: wait status %#x", status);
	ASSERT_ZERO_ERR(xsys_write("io_timeout", "5"));
	pid = read_child(p + REGION_SIZE / 2);
	ASSERT_EQ(waitpid(pid, &status, 0), pid);
	if (!WIFSIGNALED(status) || WTERMSIG(status) != SIGBUS)
		FAIL("fault with the appliance stopped: wait status %#x",
		     status);

	/* Back: reconnected, every page as written, calls work again. */
	ASSERT_ZERO_ERR(xsys_write("io_timeout", "30"));
	appliance_signal("CONT");
	if (xsys_wait_state("connected", STATE_MS))
		FAIL("module not connected after SIGCONT");
	ASSERT_PATTERN(p, REGION_SIZE, 0, seed);
	pid = create_child("stallok");
	ASSERT_EQ(waitpid(pid, &status, 0), pid);
	if (!WIFEXITED(status) || WEXITSTATUS(status))
		FAIL("region create after SIGCONT: %s",
		     WIFEXITED(status) ? xt_errname(WEXITSTATUS(status)) :
					 "killed");
	ASSERT_OK(munmap(p, REGION_SIZE));
	ASSERT_OK(close(fd));
}

/* No host has this address on the test bed's segment: ARP never answers. */
#define BLACK_HOLE	"10.77.0.250:7471"
/* The module's line when the address resolution gave up. */
#define ADDR_ERROR	"address error"

/* A child adding BLACK_HOLE to the pool; exits with errno. */
static pid_t add_child(void)
{
	pid_t pid = fork();

	if (pid < 0)
		FAIL("fork: %s", xt_errname(errno));
	if (!pid)
		_exit(-xsys_write("appliance_add", BLACK_HOLE));
	return pid;
}

TEST_TIMEOUT(connect_killed, 300)
{
	int status;
	pid_t pid;

	xr_require_connected();
	if (system(SSH_APPLIANCE "test -e /run/xmemd.pid </dev/null"))
		SKIP("no ssh appliance with /run/xmemd.pid (not the test bed)");

	/*
	 * Killed while the RDMA CM resolves an address nobody answers for:
	 * it exits before the resolution could have given up.
	 */
	kmsg_mark();
	pid = add_child();
	wait_in_xmem(pid, "a connect");
	ASSERT_OK(kill(pid, SIGKILL));
	ASSERT_EQ(waitpid(pid, &status, 0), pid);
	if (!WIFSIGNALED(status) || WTERMSIG(status) != SIGKILL)
		FAIL("killed connect: wait status %#x", status);
	if (kmsg_since_mark(ADDR_ERROR))
		FAIL("the killed connect stayed until the address resolution gave up");

	/* An unkilled one gets an error within its bound, not a hang. */
	pid = add_child();
	ASSERT_EQ(waitpid(pid, &status, 0), pid);
	if (!WIFEXITED(status) || !WEXITSTATUS(status))
		FAIL("connect to %s: status %#x", BLACK_HOLE, status);
	xt_diag("connect to %s: %s", BLACK_HOLE,
		xt_errname(WEXITSTATUS(status)));

	/* Neither left anything in the pool; the appliance still works. */
	if (!xsys_write("appliance_remove", BLACK_HOLE))
		FAIL("%s stayed in the pool", BLACK_HOLE);
	if (xsys_wait_state("connected", STATE_MS))
		FAIL("module not connected after the failed connects");
}

int main(int argc, char **argv)
{
	xt_after_each(xmemd_continue);
	return xt_main(argc, argv);
}
