// SPDX-License-Identifier: GPL-2.0
/*
 * msync() after an appliance-side failure returns an error, and the data
 * is not lost (issue 3, "Done when"; "an RDMA error during write-back is
 * reported to the caller (-EIO), never swallowed").
 *
 * The failure: the appliance drops every RoCE packet (UDP port 4791) with
 * iptables, so one-sided RDMA WRITEs time out in the client's transport and
 * reconnection fails until the rule goes.  Stopping xmemd would not do:
 * one-sided operations never reach the daemon.  Killing it would: its
 * regions would be gone with it.
 *
 * With pages of a region dirty, msync(MS_SYNC) must fail with EIO within
 * MSYNC_MAX_S, count write-back errors, and leave the data cached, dirty
 * and readable.  Once the rule is removed the module reconnects by itself,
 * a second msync() succeeds, and the data read back from the appliance is
 * the data written before the outage.
 *
 * If msync() has not returned after MSYNC_MAX_S, the rule is removed, the
 * child reaped, and the test fails saying so.  (Seen on 6.1 and 6.12 with
 * xmem_rdma.c asking for retry_count 7: Soft-RoCE takes 7 as "retry
 * forever", and xmem_rdma_rw() waits for completions without a timeout,
 * so msync sleeps in D state until the appliance is back.  With 6 it
 * returns EIO after 5 s and this test passes.)
 *
 * The parent removes the rule after every test, whatever happened, and
 * waits for the module to be connected again, so that later tests find
 * the test bed as it was.  Needs ssh to "appliance" as root (the test bed
 * has it) and iptables there.
 */
#define _GNU_SOURCE
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <stdbool.h>
#include <signal.h>
#include <sys/ioctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include "xsys.h"
#include "xtest.h"

#define PAGE		4096u
#define REGION_SIZE	(32 * PAGE)	/* one write-back batch */
/* RDMA transport retries under TCG; below the hung-task timeout (120 s). */
#define MSYNC_MAX_S	60.0
#define RECONNECT_S	240.0	/* reconnection back-off, CM timeouts */
#define SSH		"ssh -o BatchMode=yes -o ConnectTimeout=20 appliance "
#define RULE		"INPUT -p udp --dport 4791 -j DROP"
#define IO_TIMEOUT	"io_timeout"	/* optional knob: I/O wait in outage */

/*
 * io_timeout as it was before a test changed it.  Tests run in a child
 * process and restore() in the parent: the value goes through a file.
 */
#define SAVED_IO_TIMEOUT	"/tmp/xmem-test-wbfail.io_timeout"

/* Runs @cmd on the appliance; its output becomes diagnostics. */
static int appliance_sh(const char *cmd)
{
	char buf[512], line[256];
	FILE *f;

	snprintf(buf, sizeof(buf), SSH "'%s' </dev/null 2>&1", cmd);
	fflush(NULL);
	f = popen(buf, "r");
	if (!f)
		FAIL("popen: %s", xt_errname(errno));
	while (fgets(line, sizeof(line), f))
		xt_diag("appliance: %s", line);
	return pclose(f);
}

/* Remove every copy of the rule; returns how many there were. */
static int unblock(void)
{
	int n = 0;

	while (n < 10 && !system(SSH "iptables -D " RULE
				 " </dev/null >/dev/null 2>&1"))
		n++;
	return n;
}

static double state_wait(const char *want, double secs)
{
	double t0 = xnow();

	if (xsys_wait_state(want, secs * 1000))
		return -1;
	return xnow() - t0;
}

/* Set how long I/O waits in an outage, if the module has the knob. */
static void io_timeout_set(const char *secs)
{
	char old[64];
	FILE *f;
	int ret;

	if (xsys_read(IO_TIMEOUT, old, sizeof(old))) {
		xt_diag("no %s knob: I/O waits the module's fixed time", IO_TIMEOUT);
		return;
	}
	f = fopen(SAVED_IO_TIMEOUT, "wx");
	if (f) {
		fprintf(f, "%s\n", old);
		fclose(f);
	}
	ret = xsys_write(IO_TIMEOUT, secs);
	xt_diag("%s was %s, set to %s: %s", IO_TIMEOUT, old, secs,
		ret ? xt_errname(-ret) : "ok");
}

/* Make I/O give up early in an outage. */
static void io_timeout_low(void)
{
	io_timeout_set("5");
}

/*
 * After every test, in the parent: the appliance reachable again, the
 * module connected, the I/O timeout as it was.
 */
static void restore(void)
{
	char state[64] = "?", addr[128], saved[64];
	double t;
	int n, ret;
	FILE *f;

	n = unblock();
	if (n)
		xt_diag("after test: removed %d iptables rule(s) on the appliance", n);
	if (!xmod_loaded()) {
		ret = xmod_ensure_connected();
		xt_diag("after test: module loaded again: %s",
			ret ? xt_errname(-ret) : "connected");
	}
	t = state_wait("connected", RECONNECT_S);
	if (t < 0) {
		xsys_read("state", state, sizeof(state));
		xt_diag("after test: state %s; writing the appliance address", state);
		if (xmod_appliance()) {
			snprintf(addr, sizeof(addr), "%s", xmod_appliance());
			ret = xsys_write("appliance", addr);
			if (ret)
				xt_diag("after test: appliance %s: %s", addr,
					xt_errname(-ret));
		}
	}
	f = fopen(SAVED_IO_TIMEOUT, "r");
	if (f) {
		if (fgets(saved, sizeof(saved), f)) {
			saved[strcspn(saved, "\n")] = '\0';
			ret = xsys_write(IO_TIMEOUT, saved);
			if (ret)
				xt_diag("after test: restoring %s: %s",
					IO_TIMEOUT, xt_errname(-ret));
		}
		fclose(f);
		unlink(SAVED_IO_TIMEOUT);
	}
}

/* What an msync() in a child process did; in MAP_SHARED memory. */
struct msync_result {
	int ret;
	int err;
	double secs;
};

/*
 * msync(MS_SYNC) of @len bytes at @p in a child, so that the caller can
 * give up waiting for it: a transfer that never ends would keep it in D
 * state, unkillable.  Returns the child's pid.
 */
static pid_t msync_child(void *p, size_t len, struct msync_result *res)
{
	pid_t pid;
	double t0;

	fflush(NULL);
	pid = fork();
	if (pid < 0)
		FAIL("fork: %s", xt_errname(errno));
	if (!pid) {
		t0 = xnow();
		errno = 0;
		res->ret = msync(p, len, MS_SYNC);
		res->err = errno;
		res->secs = xnow() - t0;
		_exit(0);
	}
	return pid;
}

/* Waits up to @secs for child @pid; true if it exited. */
static bool reap(pid_t pid, double secs)
{
	double deadline = xnow() + secs;
	int status;
	pid_t r;

	while (!(r = waitpid(pid, &status, WNOHANG))) {
		if (xnow() > deadline)
			return false;
		usleep(50 * 1000);
	}
	if (r < 0)
		FAIL("waitpid: %s", xt_errname(errno));
	if (!WIFEXITED(status) || WEXITSTATUS(status))
		FAIL("msync child: wait status %#x", status);
	return true;
}

TEST_TIMEOUT(msync_fails_while_appliance_unreachable, 600)
{
	uint64_t seed1 = 0x3b1, seed2 = 0x3b2, limit;
	char name[XMEM_REGION_NAME_MAX];
	struct xstats before, failed, after;
	struct xmem_region_info ri;
	struct msync_result *res;
	double t0, t_conn;
	int fd, st;
	pid_t pid;
	char *p;

	xr_require_connected();
	ASSERT_ZERO_ERR(xsys_read_u64("local_limit", &limit));
	if (limit < 4 * MiB)
		ASSERT_ZERO_ERR(xsys_write_u64("local_limit", 4 * MiB));
	io_timeout_low();
	res = mmap(NULL, sizeof(*res), PROT_READ | PROT_WRITE,
		   MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (res == MAP_FAILED)
		FAIL("mmap: %s", xt_errname(errno));

	xr_name(name, "wbfail");
	fd = ATTACH_OK(name, REGION_SIZE, XMEM_ATTACH_CREATE | XMEM_ATTACH_EXCL,
		       NULL);
	p = MAP_OK(fd, 0, REGION_SIZE);
	/* The path works: seed1 is on the appliance. */
	xpat_fill(p, REGION_SIZE, 0, seed1);
	ASSERT_OK(msync(p, REGION_SIZE, MS_SYNC));
	/* seed2 is only here, dirty. */
	xpat_fill(p, REGION_SIZE, 0, seed2);
	xr_info(fd, &ri);
	ASSERT_EQ(ri.dirty_bytes, REGION_SIZE);

	st = appliance_sh("iptables -I " RULE " && iptables -S INPUT");
	if (st)
		FAIL("iptables on the appliance: wait status %#x", st);
	ASSERT_ZERO_ERR(xstats_read(&before));
	pid = msync_child(p, REGION_SIZE, res);
	if (!reap(pid, MSYNC_MAX_S)) {
		/* Let the transfers through, so that nothing stays stuck. */
		ASSERT_GE(unblock(), 1);
		t0 = xnow();
		if (!reap(pid, RECONNECT_S))
			FAIL("msync(MS_SYNC) blocked %.0f s with the appliance "
			     "unreachable, and %.0f s more after the rule was "
			     "removed", MSYNC_MAX_S, RECONNECT_S);
		ASSERT_ZERO_ERR(xstats_read(&failed));
		xstats_diag(&before, &failed);
		FAIL("msync(MS_SYNC) did not return within %.0f s with the "
		     "appliance unreachable; it returned %d (%s) %.1f s after "
		     "the rule was removed", MSYNC_MAX_S, res->ret,
		     res->ret ? xt_errname(res->err) : "no error",
		     xnow() - t0);
	}
	ASSERT_ZERO_ERR(xstats_read(&failed));
	xt_diag("msync during the outage: %d (%s) after %.1f s", res->ret,
		res->ret ? xt_errname(res->err) : "no error", res->secs);
	xstats_diag(&before, &failed);
	if (res->ret != -1)
		FAIL("msync with the appliance unreachable returned %d",
		     res->ret);
	if (res->err != EIO)
		FAIL("msync with the appliance unreachable: errno %s, want EIO",
		     xt_errname(res->err));
	ASSERT_GE(failed.v[XS_WRITEBACK_ERRORS] - before.v[XS_WRITEBACK_ERRORS],
		  1);
	ASSERT_EQ(failed.v[XS_RDMA_WRITES], before.v[XS_RDMA_WRITES]);

	/* Still cached and dirty: read without a transfer, which could not be. */
	ASSERT_PATTERN(p, REGION_SIZE, 0, seed2);
	xr_info(fd, &ri);
	ASSERT_ZERO_ERR(xstats_read(&after));
	ASSERT_EQ(after.v[XS_RDMA_READS], failed.v[XS_RDMA_READS]);
	ASSERT_EQ(ri.dirty_bytes, REGION_SIZE);
	ASSERT_EQ(ri.resident_bytes, REGION_SIZE);

	ASSERT_GE(unblock(), 1);
	t_conn = state_wait("connected", RECONNECT_S);
	if (t_conn < 0)
		FAIL("not connected %.0f s after the rule was removed",
		     RECONNECT_S);
	xt_diag("rule removed; connected again after %.1f s", t_conn);

	/*
	 * Back: the dirty data goes out now (or went out already, written
	 * back after the reconnection) and is what the appliance has.
	 */
	ASSERT_OK(msync(p, REGION_SIZE, MS_SYNC));
	ASSERT_ZERO_ERR(xstats_read(&after));
	ASSERT_GE(after.v[XS_RDMA_WRITES] - failed.v[XS_RDMA_WRITES],
		  REGION_SIZE / PAGE);
	xr_info(fd, &ri);
	ASSERT_EQ(ri.dirty_bytes, 0);
	xr_drop_cache(fd);
	ASSERT_PATTERN(p, REGION_SIZE, 0, seed2);
	ASSERT_OK(munmap(p, REGION_SIZE));
	ASSERT_OK(close(fd));
}

/* The state letter of /proc/PID/stat, or 0 if there is none. */
static char proc_state(pid_t pid)
{
	char path[64], buf[512], *p;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	f = fopen(path, "r");
	if (!f)
		return 0;
	if (!fgets(buf, sizeof(buf), f))
		buf[0] = '\0';
	fclose(f);
	p = strrchr(buf, ')');
	return p && p[1] == ' ' ? p[2] : 0;
}

/* Until @pid sleeps in D state; false after @secs (a rescue, not a check). */
static bool wait_blocked(pid_t pid, double secs)
{
	double deadline = xnow() + secs;

	while (proc_state(pid) != 'D') {
		if (xnow() > deadline)
			return false;
		usleep(20 * 1000);
	}
	return true;
}

/* A child that reads the byte at @p and exits 0. */
static pid_t reader_child(const volatile char *p)
{
	pid_t pid;

	fflush(NULL);
	pid = fork();
	if (pid < 0)
		FAIL("fork: %s", xt_errname(errno));
	if (!pid) {
		(void)*p;
		_exit(0);
	}
	return pid;
}

/* Waits up to @secs for child @pid; true and its status if it ended. */
static bool reap_status(pid_t pid, double secs, int *status)
{
	double deadline = xnow() + secs;
	pid_t r;

	while (!(r = waitpid(pid, status, WNOHANG))) {
		if (xnow() > deadline)
			return false;
		usleep(50 * 1000);
	}
	if (r < 0)
		FAIL("waitpid: %s", xt_errname(errno));
	return true;
}

/*
 * Issue 12, defect 5: a task waiting for a portion that another task is
 * fetching from an unreachable appliance can be killed.  A reads a page
 * that is not resident and waits for the appliance (io_timeout is set to
 * an hour: A cannot get the page before the rule goes); B reads the same
 * page and waits for A's portion.  SIGKILL must end B while A still
 * waits.  Before the portion lock was killable, B stayed in D state until
 * A's fetch ended, after the rule was removed.
 */
TEST_TIMEOUT(killed_while_waiting_for_a_busy_portion, 600)
{
	char name[XMEM_REGION_NAME_MAX];
	int fd, st, status;
	pid_t a, b;
	char *p;

	xr_require_connected();
	io_timeout_set("3600");
	xr_name(name, "wbkill");
	fd = ATTACH_OK(name, REGION_SIZE, XMEM_ATTACH_CREATE | XMEM_ATTACH_EXCL,
		       NULL);
	p = MAP_OK(fd, 0, REGION_SIZE);
	xpat_fill(p, REGION_SIZE, 0, 0x4b1);
	ASSERT_OK(msync(p, REGION_SIZE, MS_SYNC));
	xr_drop_cache(fd);

	st = appliance_sh("iptables -I " RULE);
	if (st)
		FAIL("iptables on the appliance: wait status %#x", st);
	a = reader_child(p);
	if (!wait_blocked(a, 120))
		FAIL("a read of a page not resident did not wait for the "
		     "unreachable appliance (state %c)", proc_state(a));
	b = reader_child(p);
	if (!wait_blocked(b, 120))
		FAIL("a second read of the page did not wait (state %c)",
		     proc_state(b));
	ASSERT_OK(kill(b, SIGKILL));
	if (!reap_status(b, 120, &status)) {
		ASSERT_GE(unblock(), 1);
		reap_status(b, RECONNECT_S, &status);
		reap_status(a, RECONNECT_S, &status);
		FAIL("SIGKILL did not end a task waiting for a portion "
		     "another task fetches; it ended only after the fetch");
	}
	ASSERT_EQ(waitpid(a, &st, WNOHANG), 0);
	ASSERT_EQ(WIFSIGNALED(status) ? WTERMSIG(status) : 0, SIGKILL);

	/* The first reader gets its page once the appliance is back. */
	ASSERT_GE(unblock(), 1);
	if (!reap_status(a, RECONNECT_S + 60, &status))
		FAIL("the first reader did not end after the rule was removed");
	ASSERT_EQ(status, 0);
	ASSERT_PATTERN(p, REGION_SIZE, 0, 0x4b1);
	ASSERT_OK(munmap(p, REGION_SIZE));
	ASSERT_OK(close(fd));
}

/* The module's reference count, or -1 when it is not loaded. */
static long module_refcnt(void)
{
	FILE *f = fopen("/sys/module/xmem/refcnt", "r");
	long n = -1;

	if (!f)
		return -1;
	if (fscanf(f, "%ld", &n) != 1)
		n = -1;
	fclose(f);
	return n;
}

/*
 * rmmod with dirty pages the appliance cannot get: refused, as unloading
 * would drop them.  Before the fix it wrote back for io_timeout, logged
 * "write-back failed at unload" and unloaded: the data was lost.  Once the
 * appliance is back, the module writes them back by itself and may go;
 * the data is on the appliance after a reload.
 */
TEST_TIMEOUT(rmmod_refused_while_dirty_pages_unwritable, 600)
{
	char name[XMEM_REGION_NAME_MAX];
	struct msync_result *res;
	uint64_t seed = xnow() * 1000 + 37;
	double t0;
	long ref;
	int fd, st, ret;
	pid_t pid;
	char *p;

	xr_require_connected();
	io_timeout_low();
	res = mmap(NULL, sizeof(*res), PROT_READ | PROT_WRITE,
		   MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (res == MAP_FAILED)
		FAIL("mmap: %s", xt_errname(errno));
	xr_name(name, "wbrmmod");
	fd = ATTACH_OK(name, REGION_SIZE, XMEM_ATTACH_CREATE | XMEM_ATTACH_EXCL,
		       NULL);
	p = MAP_OK(fd, 0, REGION_SIZE);
	xpat_fill(p, REGION_SIZE, 0, seed);

	st = appliance_sh("iptables -I " RULE);
	if (st)
		FAIL("iptables on the appliance: wait status %#x", st);
	pid = msync_child(p, REGION_SIZE, res);
	if (!reap(pid, MSYNC_MAX_S)) {
		ASSERT_GE(unblock(), 1);
		reap(pid, RECONNECT_S);
		FAIL("msync(MS_SYNC) did not return within %.0f s with the "
		     "appliance unreachable", MSYNC_MAX_S);
	}
	if (res->ret != -1 || res->err != EIO)
		FAIL("msync with the appliance unreachable: %d (%s), want EIO",
		     res->ret, xt_errname(res->err));
	ASSERT_OK(munmap(p, REGION_SIZE));
	ASSERT_OK(close(fd));	/* the pages stay cached, dirty */

	ret = xmod_unload();
	xt_diag("rmmod with the appliance unreachable: %s",
		ret ? xt_errname(-ret) : "unloaded");
	if (!ret)
		FAIL("the module unloaded with dirty pages it could not write back");
	if (!xmod_loaded())
		FAIL("module gone after a refused unload");

	/* Back: written back by the module itself, then it may go. */
	ASSERT_GE(unblock(), 1);
	t0 = xnow();
	while ((ref = module_refcnt()) != 0) {
		if (xnow() - t0 > RECONNECT_S)
			FAIL("module still in use (refcnt %ld) %.0f s after the "
			     "appliance was reachable again", ref, RECONNECT_S);
		usleep(200 * 1000);
	}
	xt_diag("module unpinned %.1f s after the rule was removed",
		xnow() - t0);
	ASSERT_ZERO_ERR(xmod_unload());
	ASSERT_ZERO_ERR(xmod_ensure_connected());
	fd = ATTACH_OK(name, REGION_SIZE, 0, NULL);
	p = MAP_OK(fd, 0, REGION_SIZE);
	ASSERT_PATTERN(p, REGION_SIZE, 0, seed);
	ASSERT_OK(munmap(p, REGION_SIZE));
	ASSERT_OK(close(fd));
}

int main(int argc, char **argv)
{
	unlink(SAVED_IO_TIMEOUT);
	xsys_save_limit();
	xt_after_each(restore);
	xt_after_each(xsys_restore_limit);
	return xt_main(argc, argv);
}
