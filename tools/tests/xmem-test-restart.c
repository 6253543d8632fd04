// SPDX-License-Identifier: GPL-2.0
/*
 * xmemd killed and restarted with file-backed regions (--dir): a process
 * keeps writing and msync-ing a region through the outage, and every round
 * it saw msync succeed is on the appliance afterwards; faults during the
 * outage wait for the new connection; a snapshot taken before (a copy
 * the appliance made, NAME.region and NAME.meta in --dir) is loaded again
 * by the new xmemd, data identical.  With a short io_timeout, a fault
 * during an outage gets SIGBUS instead, and the kernel says why.  A DETACH
 * that writes back during the outage waits for the new connection and
 * succeeds: the reconnection does not wait for it in turn.
 *
 * Needs the test bed's appliance ("ssh appliance"), which keeps xmemd's
 * arguments in /run/xmemd.args and its pid in /run/xmemd.pid.  The regions
 * of an xmemd without --dir do not survive a restart: on such an appliance
 * (make check's 6.1 boot) the first test restarts xmemd with
 * --dir /dev/shm/xmemd-restart added, and main() puts the old arguments
 * back after the last test, so the tests run on every kernel.
 */
#define _GNU_SOURCE
#include <fcntl.h>
#include <inttypes.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "xsys.h"
#include "xtest.h"

#define SSH_APPLIANCE	"ssh -o BatchMode=yes -o ConnectTimeout=20 appliance "
#define REGION_SIZE	(2 * MiB)
#define CACHE		(1 * MiB)	/* so the workload faults throughout */
#define STATE_MS	(120 * 1000)

#define ARGS_SAVED	"/run/xmemd.args.restart-test"

static int start_xmemd(void);

/* xmemd with file-backed regions, restarting it with --dir if need be. */
static void require_dir_mode(void)
{
	int st = system(SSH_APPLIANCE "test -e /run/xmemd.args </dev/null");

	/* ssh itself failing (exit status 255) is a failure, not a skip. */
	if (st && (!WIFEXITED(st) || WEXITSTATUS(st) == 255))
		FAIL("cannot reach the appliance over ssh (wait status %#x)", st);
	if (st)
		SKIP("the appliance keeps no /run/xmemd.args (not the test bed)");
	st = system(SSH_APPLIANCE "grep -q -- --dir /run/xmemd.args"
		    " </dev/null >/dev/null 2>&1");
	if (st && (!WIFEXITED(st) || WEXITSTATUS(st) == 255))
		FAIL("cannot reach the appliance over ssh (wait status %#x)", st);
	if (!st)
		return;
	xt_diag("xmemd runs without --dir: restarting it with --dir /dev/shm/xmemd-restart");
	if (system(SSH_APPLIANCE "'cp /run/xmemd.args " ARGS_SAVED " &&"
		   " mkdir -p /dev/shm/xmemd-restart &&"
		   " echo \"$(cat /run/xmemd.args) --dir /dev/shm/xmemd-restart\""
		   " >/run/xmemd.args && kill -KILL $(cat /run/xmemd.pid)'"
		   " </dev/null"))
		FAIL("cannot stop the anonymous xmemd");
	if (xsys_wait_state("connecting", STATE_MS))
		FAIL("module did not notice the appliance going away");
	if (start_xmemd())
		FAIL("cannot start xmemd with --dir");
	if (xsys_wait_state("connected", STATE_MS))
		FAIL("module not connected after xmemd restarted with --dir");
}

/* After the last test: the appliance's own xmemd arguments again. */
static void restore_xmemd_args(void)
{
	if (system(SSH_APPLIANCE "test -e " ARGS_SAVED " </dev/null"))
		return;
	if (system(SSH_APPLIANCE "'mv " ARGS_SAVED " /run/xmemd.args &&"
		   " kill -KILL $(cat /run/xmemd.pid); rm -rf /dev/shm/xmemd-restart'"
		   " </dev/null") ||
	    xsys_wait_state("connecting", STATE_MS) || start_xmemd() ||
	    xsys_wait_state("connected", STATE_MS))
		printf("# cannot restart xmemd with its own arguments\n");
	else
		printf("# xmemd restarted with its own arguments\n");
}

static void kill_xmemd(void)
{
	if (system(SSH_APPLIANCE "'kill -KILL $(cat /run/xmemd.pid)'"
		   " </dev/null"))
		FAIL("cannot kill xmemd on the appliance");
}

/*
 * Starts xmemd with the test bed's arguments and @extra, and waits until
 * it listens (its RDMA CM id shows on port 7471), as the guest init does.
 * With @extra (credentials), the test bed's --insecure goes.
 */
static int start_xmemd_with(const char *extra)
{
	char cmd[768];

	snprintf(cmd, sizeof(cmd), SSH_APPLIANCE
		 "'setsid -f sh -c \"echo \\$\\$ >/run/xmemd.pid;"
		 " exec /xmem/bin/xmemd \\$(%s /run/xmemd.args) %s\""
		 " </dev/null >>/var/log/xmemd.log 2>&1;"
		 " for i in $(seq 300); do"
		 " rdma resource show cm_id 2>/dev/null |"
		 " grep -q \"src-addr [^ ]*:7471 \" && exit 0; sleep 0.1;"
		 " done; exit 1' </dev/null",
		 *extra ? "sed s/--insecure//" : "cat", extra);
	return system(cmd);
}

static int start_xmemd(void)
{
	return start_xmemd_with("");
}

#define SECRET		"xmem-test-secret-5e1f0c7a9b"
/* Matches SECRET but not itself, so a grep does not find its own argv. */
#define SECRET_RE	"xmem-test-secret-5e1f0c7a9[b]"
#define WRONG_SECRET	"xmem-test-wrong-00000000000"
#define SECRET_FILE	"/run/xmemd.secret"

/*
 * After every test: an xmemd runs, without a secret, and the module is
 * connected again, without a secret.
 */
static void xmemd_back(void)
{
	const char *a = xmod_appliance();

	if (!system(SSH_APPLIANCE "test -e " SECRET_FILE " </dev/null") &&
	    system(SSH_APPLIANCE "'kill -KILL $(cat /run/xmemd.pid); rm -f "
		   SECRET_FILE "' </dev/null"))
		xt_diag("after test: cannot stop the xmemd with a secret");
	if (system(SSH_APPLIANCE "'kill -0 $(cat /run/xmemd.pid)' "
		   "</dev/null >/dev/null 2>&1") && start_xmemd())
		xt_diag("after test: cannot restart xmemd");
	xsys_write("secret", "\n");
	if (xsys_wait_state("connected", 10 * 1000) && a &&
	    xsys_write("appliance", a))
		xt_diag("after test: cannot reconnect the module");
	if (xsys_wait_state("connected", STATE_MS))
		xt_diag("after test: module not connected again");
	xsys_write("io_timeout", "30");
}

/*
 * A snapshot of a region filled with @seed, as files in xmemd's --dir:
 * @snap is made from @src by the appliance; @src is detached here.
 */
static void take_file_snapshot(const char *src, const char *snap,
			       uint64_t seed)
{
	struct xmem_snapshot s;
	char cmd[512];
	int fd, dfd;
	char *p;

	fd = ATTACH_OK(src, 1 * MiB, XMEM_ATTACH_CREATE | XMEM_ATTACH_EXCL,
		       NULL);
	p = MAP_OK(fd, 0, 1 * MiB);
	xpat_fill(p, 1 * MiB, 0, seed);
	ASSERT_OK(munmap(p, 1 * MiB));
	ASSERT_OK(close(fd));
	memset(&s, 0, sizeof(s));
	snprintf(s.src, sizeof(s.src), "%s", src);
	snprintf(s.dst, sizeof(s.dst), "%s", snap);
	dfd = open(XMEM_DEV, O_RDWR | O_CLOEXEC);
	ASSERT_OK(dfd);
	ASSERT_OK(ioctl(dfd, XMEM_IOC_SNAPSHOT, &s));
	close(dfd);
	snprintf(cmd, sizeof(cmd), SSH_APPLIANCE
		 "'d=$(sed -n \"s/.*--dir \\([^ ]*\\).*/\\1/p\" /run/xmemd.args);"
		 " test $(stat -c %%s \"$d/%s.region\") = %d && test -s \"$d/%s.meta\"'"
		 " </dev/null", snap, (int)(1 * MiB), snap);
	if (system(cmd))
		FAIL("no %s.region of 1 MiB and %s.meta in the appliance's --dir",
		     snap, snap);
}

/* Shared between the test and its writer process. */
struct progress {
	volatile int stop;
	volatile unsigned long committed;	/* rounds msync-ed, 1-based */
	volatile unsigned long msync_errors;
	volatile int failed;
};

/* Rounds: fill the region with seed + round, msync until it succeeds. */
static void writer(char *p, uint64_t seed, struct progress *pr)
{
	unsigned long round = 0;
	int tries;

	while (!pr->stop) {
		round++;
		xpat_fill(p, REGION_SIZE, 0, seed + round);
		for (tries = 0; msync(p, REGION_SIZE, MS_SYNC); tries++) {
			pr->msync_errors++;
			if (tries > 100) {
				pr->failed = 1;
				_exit(1);
			}
		}
		pr->committed = round;
	}
	_exit(0);
}

static void wait_committed(struct progress *pr, pid_t pid, unsigned long n,
			   int secs)
{
	double t0 = xnow();
	int status;

	while (pr->committed < n) {
		if (pr->failed)
			FAIL("writer: msync kept failing");
		if (waitpid(pid, &status, WNOHANG) == pid)
			FAIL("writer died: wait status %#x after %lu rounds",
			     status, pr->committed);
		if (xnow() - t0 > secs)
			FAIL("writer: %lu rounds after %d s, want %lu",
			     pr->committed, secs, n);
		usleep(50 * 1000);
	}
}

TEST_TIMEOUT(restart_mid_workload, 1200)
{
	uint64_t seed = xnow() * 1000 + 21;
	char name[XMEM_REGION_NAME_MAX], src[XMEM_REGION_NAME_MAX];
	char snap[XMEM_REGION_NAME_MAX];
	struct xmem_region_op op;
	struct xmem_attach at, at2;
	struct progress *pr;
	unsigned long before, last;
	double t_kill, t_back;
	int fd, status;
	pid_t pid;
	char *p;

	xr_require_connected();
	require_dir_mode();
	ASSERT_ZERO_ERR(xsys_write_u64("local_limit", CACHE));
	/*
	 * The test is about losing nothing, not about the timeout: on a
	 * loaded test bed a restart over ssh can take longer than the
	 * default 30 s, so let I/O wait for it (the hook puts 30 back).
	 */
	ASSERT_ZERO_ERR(xsys_write("io_timeout", "600"));
	xr_name(src, "restart-src");
	xr_name(snap, "restart-snap");
	take_file_snapshot(src, snap, seed + 1000000);
	xr_name(name, "restart");
	fd = ATTACH_OK(name, REGION_SIZE, XMEM_ATTACH_CREATE |
		       XMEM_ATTACH_EXCL, &at);
	p = MAP_OK(fd, 0, REGION_SIZE);
	pr = mmap(NULL, sizeof(*pr), PROT_READ | PROT_WRITE,
		  MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	ASSERT_TRUE(pr != MAP_FAILED);
	memset((void *)pr, 0, sizeof(*pr));
	pid = fork();
	if (pid < 0)
		FAIL("fork: %s", xt_errname(errno));
	if (!pid)
		writer(p, seed, pr);

	wait_committed(pr, pid, 1, 300);
	before = pr->committed;
	t_kill = xnow();
	kill_xmemd();
	if (xsys_wait_state("connecting", STATE_MS))
		FAIL("module did not notice the appliance going away");
	ASSERT_ZERO_ERR(start_xmemd() ? -EIO : 0);
	if (xsys_wait_state("connected", STATE_MS))
		FAIL("module not connected %d s after xmemd restarted",
		     STATE_MS / 1000);
	t_back = xnow();
	wait_committed(pr, pid, pr->committed + 1, 600);
	pr->stop = 1;
	ASSERT_EQ(waitpid(pid, &status, 0), pid);
	if (!WIFEXITED(status) || WEXITSTATUS(status))
		FAIL("writer: wait status %#x", status);
	last = pr->committed;
	xt_diag("outage %.1f s; writer: %lu rounds before the kill, %lu after, %lu msync errors",
		t_back - t_kill, before, last, pr->msync_errors);

	ASSERT_OK(munmap(p, REGION_SIZE));
	ASSERT_OK(close(fd));
	/* Drop every cached page: what is read next comes from the appliance. */
	memset(&op, 0, sizeof(op));
	snprintf(op.name, sizeof(op.name), "%s", name);
	fd = open(XMEM_DEV, O_RDWR | O_CLOEXEC);
	ASSERT_OK(fd);
	ASSERT_OK(ioctl(fd, XMEM_IOC_DETACH, &op));
	close(fd);
	fd = ATTACH_OK(name, 0, 0, &at2);
	ASSERT_EQ(at2.region_id, at.region_id);
	ASSERT_EQ(at2.size, REGION_SIZE);
	p = MAP_OK(fd, 0, REGION_SIZE);
	ASSERT_PATTERN(p, REGION_SIZE, 0, seed + last);
	ASSERT_OK(munmap(p, REGION_SIZE));
	ASSERT_OK(close(fd));

	/* The snapshot, loaded from its files by the new xmemd. */
	fd = ATTACH_OK(snap, 0, 0, &at2);
	ASSERT_EQ(at2.size, 1 * MiB);
	p = MAP_OK(fd, 0, 1 * MiB);
	ASSERT_PATTERN(p, 1 * MiB, 0, seed + 1000000);
	ASSERT_OK(munmap(p, 1 * MiB));
	ASSERT_OK(close(fd));
	for (fd = 0; fd < 2; fd++) {
		memset(&op, 0, sizeof(op));
		snprintf(op.name, sizeof(op.name), "%s", fd ? src : snap);
		status = open(XMEM_DEV, O_RDWR | O_CLOEXEC);
		ASSERT_OK(status);
		ASSERT_OK(ioctl(status, XMEM_IOC_DESTROY, &op));
		close(status);
	}
}

TEST_TIMEOUT(outage_fault_sigbus_after_io_timeout, 300)
{
	char name[XMEM_REGION_NAME_MAX];
	struct xmem_region_op op;
	int fd, status;
	double t0, took;
	pid_t pid;
	char *p;

	xr_require_connected();
	require_dir_mode();
	xr_name(name, "outage");
	fd = ATTACH_OK(name, 1 * MiB, XMEM_ATTACH_CREATE | XMEM_ATTACH_EXCL,
		       NULL);
	close(fd);
	memset(&op, 0, sizeof(op));
	snprintf(op.name, sizeof(op.name), "%s", name);
	fd = open(XMEM_DEV, O_RDWR | O_CLOEXEC);
	ASSERT_OK(fd);
	ASSERT_OK(ioctl(fd, XMEM_IOC_DETACH, &op));	/* nothing cached */
	close(fd);
	fd = ATTACH_OK(name, 0, 0, NULL);
	p = MAP_OK(fd, 0, 1 * MiB);

	ASSERT_ZERO_ERR(xsys_write("io_timeout", "3"));
	kill_xmemd();
	if (xsys_wait_state("connecting", STATE_MS))
		FAIL("module did not notice the appliance going away");
	t0 = xnow();
	pid = fork();
	if (pid < 0)
		FAIL("fork: %s", xt_errname(errno));
	if (!pid)
		_exit(p[4096] == 0x5a ? 3 : 2);	/* faults: nothing cached */
	ASSERT_EQ(waitpid(pid, &status, 0), pid);
	took = xnow() - t0;
	xt_diag("fault during the outage ended after %.1f s, wait status %#x",
		took, status);
	if (!WIFSIGNALED(status) || WTERMSIG(status) != SIGBUS)
		FAIL("expected SIGBUS, wait status %#x", status);
	ASSERT_GE(took, 2.5);
	if (system("dmesg | tail -n 50 | grep -q 'io_timeout'"))
		FAIL("no kernel log line naming io_timeout");
	ASSERT_ZERO_ERR(xsys_write("io_timeout", "30"));
	ASSERT_ZERO_ERR(start_xmemd() ? -EIO : 0);
	if (xsys_wait_state("connected", STATE_MS))
		FAIL("module not connected after xmemd restarted");
	/* The same mapping works again once the appliance is back. */
	ASSERT_EQ(p[4096], 0);
	ASSERT_OK(munmap(p, 1 * MiB));
	ASSERT_OK(close(fd));
}

/*
 * Dirty pages of an idle region, xmemd killed: DETACH writes them back,
 * waiting for a connection.  Before the fix it did so holding the device
 * lock, which the reconnection takes to refresh the regions before it
 * installs the new connection: each waited for the other until io_timeout,
 * and DETACH failed with EIO.  Now the reconnection goes first, and the
 * data written before the outage is on the appliance after DETACH.
 */
TEST_TIMEOUT(detach_in_outage_waits_for_reconnection, 600)
{
	uint64_t seed = xnow() * 1000 + 29;
	char name[XMEM_REGION_NAME_MAX];
	struct xmem_region_op op;
	struct xmem_attach at, at2;
	volatile int *res;
	double t0;
	int fd, status;
	pid_t pid;
	char *p;

	xr_require_connected();
	require_dir_mode();
	/* Longer than a restart of xmemd over ssh on a loaded test bed. */
	ASSERT_ZERO_ERR(xsys_write("io_timeout", "150"));
	xr_name(name, "outage-detach");
	fd = ATTACH_OK(name, 1 * MiB, XMEM_ATTACH_CREATE | XMEM_ATTACH_EXCL,
		       &at);
	p = MAP_OK(fd, 0, 1 * MiB);
	xpat_fill(p, 1 * MiB, 0, seed);
	ASSERT_OK(munmap(p, 1 * MiB));
	ASSERT_OK(close(fd));	/* its pages stay cached, dirty */
	res = mmap(NULL, 2 * sizeof(*res), PROT_READ | PROT_WRITE,
		   MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	ASSERT_TRUE(res != MAP_FAILED);
	res[0] = 0;
	res[1] = -1;

	kill_xmemd();
	if (xsys_wait_state("connecting", STATE_MS))
		FAIL("module did not notice the appliance going away");
	fflush(NULL);
	pid = fork();
	if (pid < 0)
		FAIL("fork: %s", xt_errname(errno));
	if (!pid) {
		memset(&op, 0, sizeof(op));
		snprintf(op.name, sizeof(op.name), "%s", name);
		fd = open(XMEM_DEV, O_RDWR | O_CLOEXEC);
		res[1] = fd < 0 || ioctl(fd, XMEM_IOC_DETACH, &op) ? errno : 0;
		res[0] = 1;
		_exit(0);
	}
	/* It sleeps in DETACH's write-back, waiting for a connection. */
	if (xproc_wait_in_syscall(pid, SYS_ioctl, 60 * 1000))
		FAIL("DETACH did not wait during the outage (done %d, %s)",
		     res[0], xt_errname(res[1]));
	t0 = xnow();
	ASSERT_ZERO_ERR(start_xmemd() ? -EIO : 0);
	ASSERT_EQ(waitpid(pid, &status, 0), pid);
	xt_diag("DETACH returned %.1f s after xmemd was started again: %s",
		xnow() - t0, xt_errname(res[1]));
	if (!WIFEXITED(status) || WEXITSTATUS(status) || !res[0])
		FAIL("DETACH child: wait status %#x", status);
	if (res[1])
		FAIL("DETACH during the outage: %s (the reconnection waited for it)",
		     xt_errname(res[1]));
	if (xsys_wait_state("connected", STATE_MS))
		FAIL("module not connected after xmemd restarted");
	fd = ATTACH_OK(name, 0, 0, &at2);
	ASSERT_EQ(at2.region_id, at.region_id);
	p = MAP_OK(fd, 0, 1 * MiB);
	ASSERT_PATTERN(p, 1 * MiB, 0, seed);
	ASSERT_OK(munmap(p, 1 * MiB));
	ASSERT_OK(close(fd));
	memset(&op, 0, sizeof(op));
	snprintf(op.name, sizeof(op.name), "%s", name);
	fd = open(XMEM_DEV, O_RDWR | O_CLOEXEC);
	ASSERT_OK(fd);
	ASSERT_OK(ioctl(fd, XMEM_IOC_DESTROY, &op));
	close(fd);
}

/* Does xmemd --status on the appliance say that a connection holds @name. */
static bool held_by_conn(const char *name)
{
	char cmd[512];

	snprintf(cmd, sizeof(cmd), SSH_APPLIANCE
		 "'/xmem/bin/xmemd --status | grep -q \"^sole region [0-9]* .%s.: held by conn\"'"
		 " </dev/null", name);
	return !system(cmd);
}

/*
 * A region held alone (XMEM_ATTACH_SOLE) across a SIGKILL of xmemd: the
 * restarted xmemd holds it for its grace (the hold's token is in the
 * region's .meta file), the module's reconnection takes the hold over
 * with its token, and from then on reads every page, written or not: the
 * appliance might have let another client write during a longer outage.
 */
TEST_TIMEOUT(sole_hold_survives_restart, 600)
{
	uint64_t seed = xnow() * 1000 + 31, reads, zeros, i;
	char name[XMEM_REGION_NAME_MAX];
	struct xmem_region_op op;
	volatile char *p;
	double t0;
	int fd;

	xr_require_connected();
	require_dir_mode();
	xr_name(name, "sole-restart");
	fd = ATTACH_OK(name, 1 * MiB, XMEM_ATTACH_CREATE | XMEM_ATTACH_EXCL |
		       XMEM_ATTACH_SOLE, NULL);
	p = MAP_OK(fd, 0, 1 * MiB);
	xpat_fill((void *)p, 512 * 1024, 0, seed);
	ASSERT_OK(msync((void *)p, 512 * 1024, MS_SYNC));
	ASSERT_EQ(p[768 * 1024], 0);
	ASSERT_GE(xr_region_u64(name, "stats/zero_fills"), 1);
	if (!held_by_conn(name))
		FAIL("xmemd --status does not list %s as held", name);
	/* Nothing cached (readahead may have filled the page below). */
	xr_drop_cache(fd);

	kill_xmemd();
	if (xsys_wait_state("connecting", STATE_MS))
		FAIL("module did not notice the appliance going away");
	ASSERT_ZERO_ERR(start_xmemd() ? -EIO : 0);
	if (xsys_wait_state("connected", STATE_MS))
		FAIL("module not connected after xmemd restarted");
	if (!held_by_conn(name))
		FAIL("%s not held by the module's new connection", name);

	reads = xr_region_u64(name, "stats/rdma_reads");
	zeros = xr_region_u64(name, "stats/zero_fills");
	ASSERT_EQ(p[900 * 1024], 0);
	ASSERT_GT(xr_region_u64(name, "stats/rdma_reads"), reads);
	ASSERT_EQ(xr_region_u64(name, "stats/zero_fills"), zeros);
	ASSERT_PATTERN((void *)p, 512 * 1024, 0, seed);
	for (i = 512 * 1024; i < 1 * MiB; i += 4096)
		ASSERT_EQ(p[i], 0);
	ASSERT_OK(munmap((void *)p, 1 * MiB));
	ASSERT_OK(close(fd));
	/*
	 * A readahead work item may still hold the region for a moment
	 * after the last page it read was handed out: DESTROY says EBUSY
	 * then.  Bounded: it ends with that work item's transfer.
	 */
	memset(&op, 0, sizeof(op));
	snprintf(op.name, sizeof(op.name), "%s", name);
	fd = open(XMEM_DEV, O_RDWR | O_CLOEXEC);
	ASSERT_OK(fd);
	for (t0 = xnow(); ioctl(fd, XMEM_IOC_DESTROY, &op); usleep(100 * 1000))
		if (errno != EBUSY || xnow() - t0 > 30)
			FAIL("DESTROY %s: %s", name, xt_errname(errno));
	close(fd);
}

TEST_TIMEOUT(wrong_secret_refused, 600)
{
	uint64_t seed = xnow() * 1000 + 23;
	char name[XMEM_REGION_NAME_MAX], other[XMEM_REGION_NAME_MAX];
	const char *a = xmod_appliance();
	char state[32];
	struct xmem_attach at;
	int fd, ret;
	char *p;

	xr_require_connected();
	require_dir_mode();
	if (!a)
		FAIL("XMEM_APPLIANCE is not set");
	xr_name(name, "secret");
	fd = ATTACH_OK(name, 1 * MiB, XMEM_ATTACH_CREATE | XMEM_ATTACH_EXCL,
		       NULL);
	p = MAP_OK(fd, 0, 1 * MiB);
	xpat_fill(p, 1 * MiB, 0, seed);
	ASSERT_OK(msync(p, 1 * MiB, MS_SYNC));
	ASSERT_OK(munmap(p, 1 * MiB));
	ASSERT_OK(close(fd));

	/* The appliance now asks for a secret; the file is 0600. */
	if (system(SSH_APPLIANCE "'umask 077; echo " SECRET " >" SECRET_FILE
		   "; kill -KILL $(cat /run/xmemd.pid)' </dev/null"))
		FAIL("cannot set up the secret on the appliance");
	if (xsys_wait_state("connecting", STATE_MS))
		FAIL("module did not notice the appliance going away");
	if (start_xmemd_with("--secret-file " SECRET_FILE))
		FAIL("cannot start xmemd with a secret");

	/* No secret here: refused, however often it retries. */
	ret = xsys_write("appliance", a);
	if (ret != -EACCES)
		FAIL("connect without a secret: expected EACCES, got %s",
		     ret ? xt_errname(-ret) : "success");
	ASSERT_ZERO_ERR(xsys_write("secret", WRONG_SECRET));
	ret = xsys_write("appliance", a);
	if (ret != -EACCES)
		FAIL("connect with a wrong secret: expected EACCES, got %s",
		     ret ? xt_errname(-ret) : "success");
	ASSERT_ZERO_ERR(xsys_read("state", state, sizeof(state)));
	if (strcmp(state, "failed"))
		FAIL("state \"%s\" after a refused connection", state);
	/* A region not attached here needs the appliance: none now. */
	xr_name(other, "nosecret");
	fd = xr_attach(other, 1 * MiB, XMEM_ATTACH_CREATE, NULL);
	if (fd != -ENOTCONN)
		FAIL("attach of a new region after a refused connection: expected ENOTCONN, got %s",
		     fd >= 0 ? "success" : xt_errname(-fd));
	/* Too short a secret is bad input. */
	ASSERT_EQ(xsys_write("secret", "short"), -EINVAL);

	ASSERT_ZERO_ERR(xsys_write("secret", SECRET));
	ASSERT_ZERO_ERR(xsys_write("appliance", a));
	ASSERT_ZERO_ERR(xsys_wait_state("connected", 10 * 1000));
	fd = ATTACH_OK(name, 0, 0, &at);
	p = MAP_OK(fd, 0, 1 * MiB);
	ASSERT_PATTERN(p, 1 * MiB, 0, seed);
	ASSERT_OK(munmap(p, 1 * MiB));
	ASSERT_OK(close(fd));

	/* The secret is in no log and no command line. */
	if (!system(SSH_APPLIANCE "'grep -q \"" SECRET_RE "\" /var/log/xmemd.log'"
		    " </dev/null"))
		FAIL("the secret is in xmemd's log");
	if (!system(SSH_APPLIANCE "'grep -q \"" SECRET_RE "\" /proc/[0-9]*/cmdline'"
		    " </dev/null 2>/dev/null"))
		FAIL("the secret is on a command line on the appliance");
	if (!system("dmesg | grep -q '" SECRET_RE "'"))
		FAIL("the secret is in the kernel log");
	if (system(SSH_APPLIANCE "'grep -q authenticated /var/log/xmemd.log'"
		   " </dev/null"))
		FAIL("xmemd did not log the authentication");
}

int main(int argc, char **argv)
{
	int ret;

	if (xt_query(argc, argv))
		return xt_main(argc, argv);
	xsys_save_limit();
	xt_after_each(xsys_restore_limit);
	xt_after_each(xmemd_back);
	ret = xt_main(argc, argv);
	restore_xmemd_args();
	return ret;
}
