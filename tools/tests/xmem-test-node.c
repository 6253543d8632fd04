// SPDX-License-Identifier: GPL-2.0
/*
 * Region nodes: an attached region is reachable as /dev/xmem.d/NAME, so
 * that a program that only takes a file name can map it.  The node maps
 * the same memory as a file bound with ATTACH, its size shows with
 * SEEK_END, an unmodified program (python3's mmap module) reads and writes
 * it, the region's mode is checked at open, and the node goes with DETACH.
 * An open of the node while DETACH or DESTROY waits for the appliance
 * (xmemd stopped with SIGSTOP for that while) is refused: a region mapped
 * then would be forgotten here with what was written into it.
 */
#define _GNU_SOURCE
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <signal.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "xsys.h"
#include "xtest.h"

#define NOBODY		65534
#define SSH		"ssh -o BatchMode=yes -o ConnectTimeout=20 appliance "
#define DYING_SIZE	(256 * 1024)
#define DYING_ROUNDS	3

static void node_path(char *buf, size_t len, const char *name)
{
	snprintf(buf, len, "/dev/xmem.d/%s", name);
}

/* Waits (bounded) for devtmpfs to show or drop the node. */
static int node_exists(const char *path, int want)
{
	struct stat st;
	int i, have = 0;

	for (i = 0; i < 200; i++) {
		have = !stat(path, &st) && S_ISCHR(st.st_mode);
		if (have == want)
			break;
		usleep(10000);
	}
	return have;
}

/* DETACH or DESTROY (@cmd) of region @name; 0 or -errno. */
static int region_op(unsigned long cmd, const char *name)
{
	struct xmem_region_op op;
	int fd = open(XMEM_DEV, O_RDWR | O_CLOEXEC), ret = 0;

	if (fd < 0)
		FAIL("open %s: %s", XMEM_DEV, xt_errname(errno));
	memset(&op, 0, sizeof(op));
	snprintf(op.name, sizeof(op.name), "%s", name);
	if (ioctl(fd, cmd, &op))
		ret = -errno;
	close(fd);
	return ret;
}

static int detach(const char *name)
{
	return region_op(XMEM_IOC_DETACH, name);
}

/* Stops (SIGSTOP) or continues (SIGCONT) xmemd on the appliance. */
static int xmemd_signal(const char *sig)
{
	char cmd[256];

	snprintf(cmd, sizeof(cmd), SSH "'kill -%s $(cat /run/xmemd.pid)'"
		 " </dev/null", sig);
	return system(cmd);
}

/*
 * xmemd stopped by an ssh session that stays open: xmemd_pause() returns
 * once it is stopped, xmemd_resume() continues it at once, without the
 * seconds a new ssh connection takes on a slow test bed (the appliance
 * answers a request within io_timeout, or the client drops the
 * connection).
 */
struct pause {
	FILE *to, *from;
	pid_t pid;
};

static void xmemd_pause(struct pause *ps)
{
	int in[2], out[2];
	char line[64];

	if (pipe(in) || pipe(out))
		FAIL("pipe: %s", xt_errname(errno));
	fflush(NULL);
	ps->pid = fork();
	if (ps->pid < 0)
		FAIL("fork: %s", xt_errname(errno));
	if (!ps->pid) {
		dup2(in[0], 0);
		dup2(out[1], 1);
		close(in[0]);
		close(in[1]);
		close(out[0]);
		close(out[1]);
		execl("/bin/sh", "sh", "-c", SSH "'p=$(cat /run/xmemd.pid);"
		      " kill -STOP $p && echo stopped; read x; kill -CONT $p;"
		      " echo continued'", (char *)NULL);
		_exit(127);
	}
	close(in[0]);
	close(out[1]);
	ps->to = fdopen(in[1], "w");
	ps->from = fdopen(out[0], "r");
	if (!ps->to || !ps->from)
		FAIL("fdopen: %s", xt_errname(errno));
	if (!fgets(line, sizeof(line), ps->from) || strcmp(line, "stopped\n"))
		FAIL("cannot stop xmemd on the appliance");
}

static void xmemd_resume(struct pause *ps)
{
	char line[64];
	int status, ok;

	fputs("go\n", ps->to);
	fclose(ps->to);
	ok = fgets(line, sizeof(line), ps->from) &&
	     !strcmp(line, "continued\n");
	fclose(ps->from);
	waitpid(ps->pid, &status, 0);
	if (!ok)
		FAIL("cannot continue xmemd on the appliance");
}

/* After every test, in the parent: xmemd runs, whatever the test did. */
static void xmemd_continue(void)
{
	if (xmemd_signal("CONT"))
		xt_diag("after test: cannot send SIGCONT to xmemd");
}

TEST_TIMEOUT(node_maps_the_region, 300)
{
	const uint64_t size = 2 * MiB;
	uint64_t seed = xnow() * 1000 + 31;
	char name[XMEM_REGION_NAME_MAX], path[128];
	struct xmem_region_info info;
	int fd, nfd;
	char *p, *q;

	xr_require_connected();
	xr_name(name, "node");
	fd = ATTACH_OK(name, size, XMEM_ATTACH_CREATE | XMEM_ATTACH_EXCL,
		       NULL);
	node_path(path, sizeof(path), name);
	if (!node_exists(path, 1))
		FAIL("%s does not exist after ATTACH", path);

	nfd = open(path, O_RDWR | O_CLOEXEC);
	if (nfd < 0)
		FAIL("open %s: %s", path, xt_errname(errno));
	ASSERT_EQ(lseek(nfd, 0, SEEK_END), (off_t)size);
	ASSERT_EQ(lseek(nfd, 0, SEEK_SET), 0);
	memset(&info, 0, sizeof(info));
	ASSERT_OK(ioctl(nfd, XMEM_IOC_INFO, &info));
	ASSERT_EQ(info.size, size);

	/* Written through the node, seen through the ATTACH-bound file. */
	p = MAP_OK(nfd, 0, size);
	q = MAP_OK(fd, 0, size);
	xpat_fill(p, size, 0, seed);
	ASSERT_PATTERN(q, size, 0, seed);
	ASSERT_OK(msync(p, size, MS_SYNC));
	xr_drop_cache(fd);
	ASSERT_PATTERN(p, size, 0, seed);
	ASSERT_OK(munmap(q, size));
	ASSERT_OK(munmap(p, size));
	ASSERT_OK(close(nfd));
	ASSERT_OK(close(fd));
}

/* python3 -c: xor-fold of the region through the node, written back. */
#define PY_SCRIPT							\
	"import mmap, os, sys\n"					\
	"f = open(sys.argv[1], 'r+b')\n"				\
	"n = os.lseek(f.fileno(), 0, os.SEEK_END)\n"			\
	"m = mmap.mmap(f.fileno(), n)\n"				\
	"h = 0\n"							\
	"for i in range(0, n, 8):\n"					\
	"    h ^= int.from_bytes(m[i:i+8], 'little')\n"		\
	"m[0:8] = h.to_bytes(8, 'little')\n"				\
	"m.flush()\n"							\
	"print(n, h)\n"

TEST_TIMEOUT(unmodified_program, 300)
{
	const uint64_t size = 1 * MiB;
	uint64_t seed = xnow() * 1000 + 32, h = 0, got_n = 0, got_h = 0, i;
	char name[XMEM_REGION_NAME_MAX], path[128], cmd[1024];
	uint64_t *w;
	FILE *f;
	int fd;

	xr_require_connected();
	if (system("command -v python3 >/dev/null 2>&1"))
		SKIP("no python3 in the guest");
	xr_name(name, "nodepy");
	fd = ATTACH_OK(name, size, XMEM_ATTACH_CREATE | XMEM_ATTACH_EXCL,
		       NULL);
	w = MAP_OK(fd, 0, size);
	xpat_fill(w, size, 0, seed);
	for (i = 0; i < size / 8; i++)
		h ^= w[i];
	ASSERT_OK(msync(w, size, MS_SYNC));
	node_path(path, sizeof(path), name);
	if (!node_exists(path, 1))
		FAIL("%s does not exist after ATTACH", path);

	snprintf(cmd, sizeof(cmd), "python3 -c \"$XMEM_PY\" %s", path);
	setenv("XMEM_PY", PY_SCRIPT, 1);
	f = popen(cmd, "r");
	if (!f)
		FAIL("popen: %s", xt_errname(errno));
	if (fscanf(f, "%" SCNu64 " %" SCNu64, &got_n, &got_h) != 2)
		got_n = 0;
	if (pclose(f))
		FAIL("python3 on %s failed", path);
	ASSERT_EQ(got_n, size);
	ASSERT_EQ(got_h, h);
	/* Its store went to the same memory. */
	ASSERT_EQ(w[0], h);
	ASSERT_OK(munmap(w, size));
	ASSERT_OK(close(fd));
}

TEST_TIMEOUT(mode_checked_and_gone_after_detach, 300)
{
	char name[XMEM_REGION_NAME_MAX], path[128];
	int fd, status;
	pid_t pid;

	xr_require_connected();
	xr_name(name, "nodeperm");
	fd = ATTACH_OK(name, 1 * MiB, XMEM_ATTACH_CREATE | XMEM_ATTACH_EXCL,
		       NULL);
	ASSERT_OK(close(fd));
	node_path(path, sizeof(path), name);
	if (!node_exists(path, 1))
		FAIL("%s does not exist after ATTACH", path);
	/* Another user that may open the node still needs the region's mode. */
	ASSERT_OK(chmod(path, 0666));
	pid = fork();
	if (pid < 0)
		FAIL("fork: %s", xt_errname(errno));
	if (!pid) {
		if (setgid(NOBODY) || setuid(NOBODY))
			_exit(2);
		_exit(open(path, O_RDWR) < 0 && errno == EACCES ? 0 : 1);
	}
	ASSERT_EQ(waitpid(pid, &status, 0), pid);
	if (!WIFEXITED(status) || WEXITSTATUS(status))
		FAIL("nobody opened %s of a 0600 region (status %#x)", path,
		     status);

	ASSERT_ZERO_ERR(detach(name));
	if (node_exists(path, 0))
		FAIL("%s still exists after DETACH", path);
}

/*
 * MAP_SHARED of a node opened O_RDONLY maps the region read-only (the
 * mapping has VM_MAYSHARE without VM_SHARED); it can never be made
 * writable, a store through it kills the writer and dirties nothing, and
 * a private mapping is still refused.
 */
TEST_TIMEOUT(read_only_shared_mapping, 300)
{
	const uint64_t size = 1 * MiB;
	uint64_t seed = xnow() * 1000 + 33;
	char name[XMEM_REGION_NAME_MAX], path[128];
	struct xmem_region_info info;
	int fd, rfd, status;
	char *p, *r;
	pid_t pid;

	xr_require_connected();
	xr_name(name, "noderd");
	fd = ATTACH_OK(name, size, XMEM_ATTACH_CREATE | XMEM_ATTACH_EXCL,
		       NULL);
	p = MAP_OK(fd, 0, size);
	xpat_fill(p, size, 0, seed);
	ASSERT_OK(msync(p, size, MS_SYNC));
	node_path(path, sizeof(path), name);
	if (!node_exists(path, 1))
		FAIL("%s does not exist after ATTACH", path);

	rfd = open(path, O_RDONLY | O_CLOEXEC);
	if (rfd < 0)
		FAIL("open %s: %s", path, xt_errname(errno));
	ASSERT_ERRNO(mmap(NULL, size, PROT_READ, MAP_PRIVATE, rfd, 0) ==
		     MAP_FAILED ? -1 : 0, EINVAL);
	ASSERT_ERRNO(mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED,
			  rfd, 0) == MAP_FAILED ? -1 : 0, EACCES);
	r = mmap(NULL, size, PROT_READ, MAP_SHARED, rfd, 0);
	if (r == MAP_FAILED)
		FAIL("MAP_SHARED of an O_RDONLY node: %s", xt_errname(errno));
	ASSERT_PATTERN(r, size, 0, seed);
	ASSERT_ERRNO(mprotect(r, size, PROT_READ | PROT_WRITE), EACCES);

	/* Fetched again from the appliance, then a store is refused. */
	ASSERT_OK(munmap(p, size));
	xr_drop_cache(fd);
	ASSERT_PATTERN(r, size, 0, seed);
	pid = fork();
	if (pid < 0)
		FAIL("fork: %s", xt_errname(errno));
	if (!pid) {
		r[4096] = 1;
		_exit(0);
	}
	ASSERT_EQ(waitpid(pid, &status, 0), pid);
	if (!WIFSIGNALED(status) || WTERMSIG(status) != SIGSEGV)
		FAIL("a store through a read-only mapping: status %#x",
		     status);
	memset(&info, 0, sizeof(info));
	ASSERT_OK(ioctl(rfd, XMEM_IOC_INFO, &info));
	ASSERT_EQ(info.dirty_bytes, 0);
	ASSERT_PATTERN(r, size, 0, seed);
	ASSERT_OK(munmap(r, size));
	ASSERT_OK(close(rfd));
	ASSERT_OK(close(fd));
}

/* What the DETACH or DESTROY in a child process returned. */
struct op_result {
	int done;
	int err;	/* 0 or an errno */
};

/*
 * One round: region @name (attached here, idle, clean) is detached or
 * destroyed (@cmd) by a child while xmemd is stopped, so that the child
 * waits for the appliance's answer; meanwhile the node is opened.  The
 * open must be refused (ENODEV), and the operation must succeed once
 * xmemd goes on.  Before the fix the open succeeded, and what was written
 * through it was lost with the region (or written into a destroyed one).
 */
static void open_while_dying(unsigned long cmd, const char *what,
			     const char *name, uint64_t seed)
{
	struct op_result *res;
	struct pause ps;
	char path[128];
	int nfd, err = 0, status;
	pid_t pid;
	char *p;

	node_path(path, sizeof(path), name);
	if (!node_exists(path, 1))
		FAIL("%s does not exist after ATTACH", path);
	res = mmap(NULL, sizeof(*res), PROT_READ | PROT_WRITE,
		   MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	ASSERT_TRUE(res != MAP_FAILED);
	memset(res, 0, sizeof(*res));
	xmemd_pause(&ps);
	fflush(NULL);
	pid = fork();
	if (pid < 0)
		FAIL("fork: %s", xt_errname(errno));
	if (!pid) {
		res->err = -region_op(cmd, name);
		res->done = 1;
		_exit(0);
	}
	/* The child sleeps in its ioctl: waiting for the stopped xmemd. */
	if (xproc_wait_in_syscall(pid, SYS_ioctl, 60 * 1000)) {
		xmemd_resume(&ps);
		waitpid(pid, &status, 0);
		FAIL("%s did not wait for the stopped xmemd (done %d, %s)",
		     what, res->done, xt_errname(res->err));
	}
	nfd = open(path, O_RDWR | O_CLOEXEC);
	if (nfd < 0) {
		err = errno;
	} else {
		/* Dirty the region through the node, as a program would. */
		p = mmap(NULL, DYING_SIZE, PROT_READ | PROT_WRITE, MAP_SHARED,
			 nfd, 0);
		if (p != MAP_FAILED) {
			xpat_fill(p, DYING_SIZE, 0, seed);
			munmap(p, DYING_SIZE);
		}
		close(nfd);
	}
	xmemd_resume(&ps);
	ASSERT_EQ(waitpid(pid, &status, 0), pid);
	if (!WIFEXITED(status) || WEXITSTATUS(status) || !res->done)
		FAIL("%s child: wait status %#x", what, status);
	if (nfd >= 0)
		FAIL("%s of %s in progress, and the node opened and mapped it; %s then returned %s",
		     what, name, what, xt_errname(res->err));
	if (err != ENODEV)
		FAIL("open of %s during %s: expected ENODEV, got %s", path,
		     what, xt_errname(err));
	if (res->err)
		FAIL("%s of %s after xmemd went on: %s", what, name,
		     xt_errname(res->err));
	if (node_exists(path, 0))
		FAIL("%s still exists after %s", path, what);
	munmap(res, sizeof(*res));
	if (xsys_wait_state("connected", 60 * 1000))
		FAIL("module not connected after %s", what);
}

TEST_TIMEOUT(open_refused_while_detach_or_destroy_waits, 600)
{
	char name[XMEM_REGION_NAME_MAX];
	uint64_t seed = xnow() * 1000 + 31;
	int fd, i;
	char *p;

	xr_require_connected();
	for (i = 0; i < DYING_ROUNDS; i++) {
		xr_name(name, "nodedying");
		fd = ATTACH_OK(name, DYING_SIZE,
			       XMEM_ATTACH_CREATE | XMEM_ATTACH_EXCL, NULL);
		p = MAP_OK(fd, 0, DYING_SIZE);
		xpat_fill(p, DYING_SIZE, 0, seed + i);
		ASSERT_OK(msync(p, DYING_SIZE, MS_SYNC));
		ASSERT_OK(munmap(p, DYING_SIZE));
		ASSERT_OK(close(fd));
		/* DETACH: what the region held is still there after it. */
		open_while_dying(XMEM_IOC_DETACH, "DETACH", name,
				 seed + 100 + i);
		fd = ATTACH_OK(name, DYING_SIZE, 0, NULL);
		p = MAP_OK(fd, 0, DYING_SIZE);
		ASSERT_PATTERN(p, DYING_SIZE, 0, seed + i);
		ASSERT_OK(munmap(p, DYING_SIZE));
		ASSERT_OK(close(fd));
		open_while_dying(XMEM_IOC_DESTROY, "DESTROY", name,
				 seed + 200 + i);
		fd = xr_attach(name, 0, 0, NULL);
		if (fd != -ENOENT)
			FAIL("attach of destroyed %s: expected ENOENT, got %s",
			     name, fd >= 0 ? "success" : xt_errname(-fd));
	}
}

int main(int argc, char **argv)
{
	if (!xt_query(argc, argv))
		xt_after_each(xmemd_continue);
	return xt_main(argc, argv);
}
