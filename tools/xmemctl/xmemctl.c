// SPDX-License-Identifier: GPL-2.0
/*
 * xmemctl: administer the xmem client module.
 *
 * Talks to the module only through the ioctls of /dev/xmem
 * (include/uapi/xmem.h) and the attributes in /sys/class/misc/xmem/.
 * The environment variables XMEMCTL_SYSFS and XMEMCTL_DEV replace those
 * two paths, for tests.
 *
 * Exit status: 0 success, 1 the operation failed, 2 usage error, 3 the
 * module is not loaded or lacks the interface the command needs (an older
 * module).
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <time.h>
#include <unistd.h>

#include "uapi/xmem.h"

#define XC_EXIT_OK	0
#define XC_EXIT_ERR	1
#define XC_EXIT_USAGE	2
#define XC_EXIT_MISSING	3	/* no module, or a module without the file */

#define XC_LIMIT_MIN	(1ULL << 20)
#define XC_VALUE_MAX	256

static const char *xc_sysfs = "/sys/class/misc/xmem";
static const char *xc_dev = "/dev/xmem";

static const char xc_usage_text[] =
"Usage: xmemctl COMMAND [ARGS]\n"
"Administer the xmem client module (external memory over RDMA).\n"
"\n"
"Commands:\n"
"  version [-j]                  xmem release of xmemctl and of the module,\n"
"                                uapi and wire protocol versions\n"
"  status [-j]                   state, appliance, local_limit, placement\n"
"  appliance add ADDR:PORT       connect to an appliance, add it to the pool\n"
"  appliance remove [-j] ADDR:PORT\n"
"                                move this client's regions off it (drain),\n"
"                                then disconnect it; prints what moved\n"
"  appliance list [-j]           the pool: state, regions, bytes allocated\n"
"                                and capacity, attached here, reconnects,\n"
"                                last error\n"
"  placement [-j] [fill-first|spread|ADDR:PORT]\n"
"                                show or set where new regions go\n"
"  connect [-t SECS] ADDR:PORT   (one appliance) connect and wait up to SECS\n"
"                                (default 30, 0: do not wait) until connected\n"
"  disconnect                    drop every appliance without draining\n"
"  secret FILE|-|--clear         set the shared secret for the appliances\n"
"                                from FILE or stdin (never an argument), or\n"
"                                clear it\n"
"  stat [-j] [-w SECS [-n COUNT]] [NAME...]\n"
"                                counters, global and per region (stats/);\n"
"                                -w: every SECS the rates per second, until\n"
"                                interrupted or COUNT refreshes\n"
"  limit [BYTES]                 show or set local_limit (at least 1M)\n"
"  region create [-j] [-s] [-m MODE] NAME SIZE\n"
"                                create a region (mode in octal, default 600)\n"
"                                and attach it here; fails if it exists\n"
"                                (-s: held alone, see attach)\n"
"  region attach [-j] [-s] NAME  attach an existing region to this client\n"
"                                (-s: no other client may attach it while\n"
"                                it is attached here)\n"
"  region detach [-s] NAME       write back, drop and forget it here (-s:\n"
"                                only end its hold, see attach; it stays\n"
"                                attached and mapped here)\n"
"  region resize [-w] NAME SIZE  grow or shrink it (-w: write back the removed\n"
"                                range first instead of discarding it)\n"
"  region destroy NAME           free it on the appliance\n"
"  region list [-j]              every region of the appliances\n"
"  region show [-j] NAME         one region: owner, mode, users, appliance,\n"
"                                local use, allocator counters\n"
"  region snapshot [-j] [-i] [-m MODE] NAME SNAP\n"
"                                the appliance copies NAME into a new region\n"
"                                SNAP (-i: into the existing SNAP, on any\n"
"                                appliance of the pool) while this\n"
"                                client's writers of NAME are held; prints\n"
"                                how long they were held\n"
"  region grant NAME HOST[:UID]  let clients of HOST (or only user UID of it)\n"
"                                attach NAME; only its owner may\n"
"  region revoke NAME HOST[:UID] take such a grant back\n"
"\n"
"  -j          print JSON\n"
"  -h, --help  this help\n"
"\n"
"SIZE and BYTES take K, M, G or T suffixes (powers of 2).  NAME is 1 to 63\n"
"characters of [A-Za-z0-9._-].  ADDR:PORT: IPv6 addresses in brackets.\n"
"Exit status: 0 ok, 1 the operation failed, 2 usage error, 3 the module\n"
"is not loaded or too old for the command.\n";

static void xc_usage(FILE *f)
{
	fputs(xc_usage_text, f);
}

__attribute__((format(printf, 1, 2)))
static int xc_usage_err(const char *fmt, ...)
{
	va_list ap;

	fputs("xmemctl: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputs("\nTry 'xmemctl --help'.\n", stderr);
	return XC_EXIT_USAGE;
}

/* "xmemctl: WHAT: strerror(err)", with a hint where one helps. */
static int xc_err(const char *what, int err)
{
	const char *hint = "";

	if (err == ENOTCONN)
		hint = " (no appliance connected; see 'xmemctl status')";
	fprintf(stderr, "xmemctl: %s: %s%s\n", what, strerror(err), hint);
	return XC_EXIT_ERR;
}

/* The symbolic name of an errno ("ENOSPC"), or its number. */
static const char *xc_errname(int err, char *buf, size_t len)
{
	const char *s = err > 0 ? strerrorname_np(err) : NULL;

	if (s)
		return s;
	snprintf(buf, len, "%d", err);
	return buf;
}

/* ---- parsing ----------------------------------------------------------- */

/* A byte count with an optional K, M, G or T suffix; 0 or -1. */
static int xc_parse_size(const char *s, uint64_t *out)
{
	unsigned long long v;
	unsigned int shift = 0;
	char *end;

	if (!isdigit((unsigned char)*s))
		return -1;
	errno = 0;
	v = strtoull(s, &end, 10);
	if (errno)
		return -1;
	switch (*end) {
	case 'k': case 'K': shift = 10; end++; break;
	case 'm': case 'M': shift = 20; end++; break;
	case 'g': case 'G': shift = 30; end++; break;
	case 't': case 'T': shift = 40; end++; break;
	}
	if (*end || (shift && v > (UINT64_MAX >> shift)))
		return -1;
	*out = (uint64_t)v << shift;
	return 0;
}

/* Same rules as the module: 1-63 of [A-Za-z0-9._-], not "." or "..". */
static bool xc_name_valid(const char *name)
{
	size_t len = strlen(name), i;

	if (!len || len >= XMEM_REGION_NAME_MAX)
		return false;
	for (i = 0; i < len; i++) {
		unsigned char c = name[i];

		if (!isascii(c) || (!isalnum(c) && c != '.' && c != '_' &&
				    c != '-'))
			return false;
	}
	return strcmp(name, ".") && strcmp(name, "..");
}

/* ADDR:PORT, ADDR a host name, IPv4 address or [IPv6] address. */
static bool xc_addr_valid(const char *s)
{
	const char *colon = strrchr(s, ':');
	unsigned long port;
	char *end;

	if (!colon || colon == s || !isdigit((unsigned char)colon[1]))
		return false;
	errno = 0;
	port = strtoul(colon + 1, &end, 10);
	if (errno || *end || !port || port > 65535)
		return false;
	if (s[0] == '[')
		return colon - s > 2 && colon[-1] == ']';
	/* A bare IPv6 address needs brackets to carry a port. */
	return !memchr(s, ':', colon - s) && !strpbrk(s, " \t\n");
}

/*
 * Options of a command: -j, and -t SECS where @timeout is not NULL.
 * Leaves optind at the first operand.  Returns 0 or XC_EXIT_USAGE.
 */
static int xc_opts(int argc, char **argv, bool *json, long *timeout)
{
	char *end;
	int opt;

	static const struct option longopts[] = {
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};

	optind = 1;
	opterr = 0;
	while ((opt = getopt_long(argc, argv, "+jt:h", longopts, NULL)) != -1) {
		switch (opt) {
		case 'j':
			if (!json)
				return xc_usage_err("%s: unknown option -j", argv[0]);
			*json = true;
			break;
		case 't':
			if (!timeout)
				return xc_usage_err("%s: unknown option -t", argv[0]);
			errno = 0;
			*timeout = strtol(optarg, &end, 10);
			if (errno || *end || end == optarg || *timeout < 0 ||
			    *timeout > 86400)
				return xc_usage_err("%s: -t %s: not a number of seconds",
						    argv[0], optarg);
			break;
		case 'h':
			xc_usage(stdout);
			exit(XC_EXIT_OK);
		case '?':
			if (optopt == 't')
				return xc_usage_err("%s: -t needs a value", argv[0]);
			if (optopt)
				return xc_usage_err("%s: unknown option -%c",
						    argv[0], optopt);
			return xc_usage_err("%s: unknown option '%s'", argv[0],
					    argv[optind - 1]);
		}
	}
	return 0;
}

static int xc_nargs(int argc, char **argv, int min, int max)
{
	int n = argc - optind;

	if (n < min)
		return xc_usage_err("%s: missing argument", argv[0]);
	if (n > max)
		return xc_usage_err("%s: unexpected argument '%s'", argv[0],
				    argv[optind + max]);
	return 0;
}

/* ---- sysfs ------------------------------------------------------------- */

/* Read file @path into @buf without the trailing newline; errno or 0. */
static int xc_read_str(const char *path, char *buf, size_t len)
{
	ssize_t n;
	int fd, err;

	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return errno;
	n = read(fd, buf, len - 1);
	err = errno;
	close(fd);
	if (n < 0)
		return err;
	buf[n] = '\0';
	while (n > 0 && (buf[n - 1] == '\n' || buf[n - 1] == ' '))
		buf[--n] = '\0';
	return 0;
}

/* Read attribute @attr of the xmem device; errno or 0. */
static int xc_read_attr(const char *attr, char *buf, size_t len)
{
	char path[4096];

	snprintf(path, sizeof(path), "%s/%s", xc_sysfs, attr);
	return xc_read_str(path, buf, len);
}

static int xc_write_attr(const char *attr, const char *val)
{
	char path[4096];
	size_t len = strlen(val);
	ssize_t n;
	int fd, err;

	snprintf(path, sizeof(path), "%s/%s", xc_sysfs, attr);
	fd = open(path, O_WRONLY | O_TRUNC | O_CLOEXEC);
	if (fd < 0)
		return errno;
	n = write(fd, val, len);
	err = n < 0 ? errno : (size_t)n != len ? EIO : 0;
	if (close(fd) && !err)
		err = errno;
	return err;
}

/* A list of names, from a directory or a command line. */
struct xc_names {
	char **v;
	size_t n;
};

static int xc_strcmp(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static void xc_names_free(struct xc_names *l)
{
	while (l->n)
		free(l->v[--l->n]);
	free(l->v);
	l->v = NULL;
}

/*
 * The entries of directory @rel under the sysfs root, sorted, without
 * dot files: 0 or an errno (ENOENT when the directory does not exist).
 */
static int xc_list_dir(const char *rel, struct xc_names *l)
{
	char path[4096];
	struct dirent *de;
	size_t cap = 0;
	char **tmp;
	DIR *dir;

	l->v = NULL;
	l->n = 0;
	snprintf(path, sizeof(path), "%s/%s", xc_sysfs, rel);
	dir = opendir(path);
	if (!dir)
		return errno;
	while ((de = readdir(dir))) {
		if (de->d_name[0] == '.')
			continue;
		if (l->n == cap) {
			cap = cap ? 2 * cap : 32;
			tmp = realloc(l->v, cap * sizeof(*l->v));
			if (!tmp)
				goto err_nomem;
			l->v = tmp;
		}
		l->v[l->n] = strdup(de->d_name);
		if (!l->v[l->n])
			goto err_nomem;
		l->n++;
	}
	closedir(dir);
	if (l->n)
		qsort(l->v, l->n, sizeof(*l->v), xc_strcmp);
	return 0;

err_nomem:
	closedir(dir);
	xc_names_free(l);
	return ENOMEM;
}

/* Read a decimal attribute: 0 or an errno (EINVAL: not a number). */
static int xc_read_u64(const char *attr, uint64_t *out)
{
	char val[XC_VALUE_MAX], *end;
	int ret = xc_read_attr(attr, val, sizeof(val));

	if (ret)
		return ret;
	if (!isdigit((unsigned char)val[0]))
		return EINVAL;
	errno = 0;
	*out = strtoull(val, &end, 10);
	return errno || *end ? EINVAL : 0;
}

/* Fail early, and clearly, when the module is not there. */
static int xc_check_sysfs(void)
{
	if (!access(xc_sysfs, F_OK))
		return 0;
	fprintf(stderr, "xmemctl: %s: %s (is the xmem module loaded?)\n",
		xc_sysfs, strerror(errno));
	return XC_EXIT_MISSING;
}

/*
 * The module is loaded and has attribute @attr, which the command @what
 * needs: 0, or XC_EXIT_MISSING after saying why.  Modules from before
 * several appliances lack appliance_add, appliances/, placement, ...
 */
static int xc_need(const char *what, const char *attr)
{
	char path[4096];
	int ret = xc_check_sysfs();

	if (ret)
		return ret;
	snprintf(path, sizeof(path), "%s/%s", xc_sysfs, attr);
	if (!access(path, F_OK))
		return 0;
	if (errno != ENOENT)
		return xc_err(path, errno);
	fprintf(stderr, "xmemctl: %s: this xmem module has no %s: it predates several appliances; load a newer xmem.ko (with one appliance, 'xmemctl connect' and 'xmemctl status' work)\n",
		what, attr);
	return XC_EXIT_MISSING;
}

static void xc_json_str(const char *s)
{
	putchar('"');
	for (; *s; s++) {
		unsigned char c = *s;

		if (c == '"' || c == '\\')
			printf("\\%c", c);
		else if (c < 0x20 || c >= 0x7f)
			printf("\\u%04x", c);
		else
			putchar(c);
	}
	putchar('"');
}

static bool xc_is_number(const char *s)
{
	if (!*s)
		return false;
	for (; *s; s++)
		if (!isdigit((unsigned char)*s))
			return false;
	return true;
}

/* A decimal integer that fits a long, maybe negative. */
static bool xc_is_int(const char *s)
{
	return xc_is_number(s + (*s == '-')) && strlen(s) < 19;
}

/* A value in JSON: a number if it is one, a string otherwise. */
static void xc_json_val(const char *s)
{
	if (xc_is_number(s) && strlen(s) < 20)
		fputs(s, stdout);
	else
		xc_json_str(s);
}

/* ---- /dev/xmem --------------------------------------------------------- */

/* Open /dev/xmem: the descriptor, or -1 with *status the exit status. */
static int xc_open_dev(int *status)
{
	int fd = open(xc_dev, O_RDWR | O_CLOEXEC);

	if (fd < 0) {
		fprintf(stderr, "xmemctl: %s: %s%s\n", xc_dev, strerror(errno),
			errno == ENOENT ? " (is the xmem module loaded?)" :
			errno == EACCES ? " (root, or the group of udev/60-xmem.rules, may open it)" : "");
		*status = errno == ENOENT ? XC_EXIT_MISSING : XC_EXIT_ERR;
		return -1;
	}
	return fd;
}

/* ---- commands ---------------------------------------------------------- */

static int xc_cmd_version(int argc, char **argv)
{
	struct xmem_version v;
	char modver[XC_VALUE_MAX];
	bool json = false;
	int fd, ret, status;

	ret = xc_opts(argc, argv, &json, NULL);
	if (ret || (ret = xc_nargs(argc, argv, 0, 0)))
		return ret;
	if (!json)
		printf("xmemctl        %s\n", XMEM_VERSION);
	fd = xc_open_dev(&status);
	if (fd < 0)
		return status;
	/* MODULE_VERSION: the release of the running module. */
	if (xc_read_str("/sys/module/xmem/version", modver, sizeof(modver)))
		snprintf(modver, sizeof(modver), "unknown");
	memset(&v, 0, sizeof(v));
	ret = ioctl(fd, XMEM_IOC_VERSION, &v);
	ret = ret ? errno : 0;
	close(fd);
	if (ret)
		return xc_err("version", ret);
	if (json) {
		printf("{\"xmemctl\": \"%s\", \"module\": \"%s\", \"xmemctl_uapi\": \"%d.%d\", \"module_uapi\": \"%u.%u\", \"protocol\": \"%u.%u\"}\n",
		       XMEM_VERSION, modver,
		       XMEM_UAPI_MAJOR, XMEM_UAPI_MINOR, v.major, v.minor,
		       v.proto_major, v.proto_minor);
		return XC_EXIT_OK;
	}
	printf("module         %s\n", modver);
	printf("xmemctl uapi   %d.%d\n", XMEM_UAPI_MAJOR, XMEM_UAPI_MINOR);
	printf("module uapi    %u.%u\n", v.major, v.minor);
	printf("wire protocol  %u.%u\n", v.proto_major, v.proto_minor);
	if (v.major != XMEM_UAPI_MAJOR) {
		fprintf(stderr, "xmemctl: module speaks uapi %u.x, xmemctl %d.x\n",
			v.major, XMEM_UAPI_MAJOR);
		return XC_EXIT_ERR;
	}
	return XC_EXIT_OK;
}

static int xc_cmd_connect(int argc, char **argv)
{
	char state[XC_VALUE_MAX], what[300];
	long timeout = 30;
	struct timespec start, now;
	const char *addr;
	int ret;

	ret = xc_opts(argc, argv, NULL, &timeout);
	if (ret || (ret = xc_nargs(argc, argv, 1, 1)))
		return ret;
	addr = argv[optind];
	if (!xc_addr_valid(addr))
		return xc_usage_err("connect: '%s' is not ADDR:PORT", addr);
	ret = xc_check_sysfs();
	if (ret)
		return ret;
	snprintf(what, sizeof(what), "connect %s", addr);
	ret = xc_write_attr("appliance", addr);
	if (ret)
		return xc_err(what, ret);
	if (!timeout)
		return XC_EXIT_OK;

	clock_gettime(CLOCK_MONOTONIC, &start);
	for (;;) {
		ret = xc_read_attr("state", state, sizeof(state));
		if (ret)
			return xc_err("state", ret);
		if (!strcmp(state, "connected"))
			return XC_EXIT_OK;
		if (!strcmp(state, "failed") || !strcmp(state, "disconnected")) {
			fprintf(stderr, "xmemctl: %s: connection %s\n", what,
				state);
			return XC_EXIT_ERR;
		}
		clock_gettime(CLOCK_MONOTONIC, &now);
		if (now.tv_sec - start.tv_sec >= timeout) {
			fprintf(stderr, "xmemctl: %s: still %s after %ld s\n",
				what, state, timeout);
			return XC_EXIT_ERR;
		}
		usleep(100 * 1000);
	}
}

static int xc_cmd_disconnect(int argc, char **argv)
{
	int ret;

	ret = xc_opts(argc, argv, NULL, NULL);
	if (ret || (ret = xc_nargs(argc, argv, 0, 0)))
		return ret;
	ret = xc_check_sysfs();
	if (ret)
		return ret;
	ret = xc_write_attr("appliance", "none");
	return ret ? xc_err("disconnect", ret) : XC_EXIT_OK;
}

/*
 * secret FILE: hand the shared secret in FILE ("-": stdin) to the module,
 * so it never appears on a command line; secret --clear removes it.
 */
static int xc_cmd_secret(int argc, char **argv)
{
	char buf[256];
	size_t n = 0;
	ssize_t r;
	int fd, ret;

	if (argc == 2 && !strcmp(argv[1], "--clear")) {
		ret = xc_check_sysfs();
		if (ret)
			return ret;
		ret = xc_write_attr("secret", "\n");
		return ret ? xc_err("secret --clear", ret) : XC_EXIT_OK;
	}
	ret = xc_opts(argc, argv, NULL, NULL);
	if (ret || (ret = xc_nargs(argc, argv, 1, 1)))
		return ret;
	ret = xc_check_sysfs();
	if (ret)
		return ret;
	fd = strcmp(argv[optind], "-") ? open(argv[optind], O_RDONLY | O_CLOEXEC) :
		STDIN_FILENO;
	if (fd < 0)
		return xc_err(argv[optind], errno);
	while (n < sizeof(buf) - 1 &&
	       (r = read(fd, buf + n, sizeof(buf) - 1 - n)) > 0)
		n += r;
	if (fd != STDIN_FILENO)
		close(fd);
	buf[n] = '\0';
	if (n && buf[n - 1] == '\n')
		buf[--n] = '\0';
	if (n < 16 || n > 128 || strlen(buf) != n) {
		memset(buf, 0, sizeof(buf));
		fprintf(stderr, "xmemctl: secret: %s: want 16 to 128 bytes without NUL\n",
			argv[optind]);
		return XC_EXIT_ERR;
	}
	ret = xc_write_attr("secret", buf);
	memset(buf, 0, sizeof(buf));
	if (ret)
		return xc_err("secret", ret);
	puts("secret set; it applies from the next connection (xmemctl connect)");
	return XC_EXIT_OK;
}

/*
 * The pool, on a module that has several appliances: the placement policy
 * and how many members are connected.  Nothing on an older module.
 */
static void xc_status_pool(bool json)
{
	char val[XC_VALUE_MAX], attr[400];
	struct xc_names l;
	size_t i, up = 0;

	if (!xc_read_attr("placement", val, sizeof(val))) {
		if (json) {
			fputs(", \"placement\": ", stdout);
			xc_json_str(val);
		} else {
			printf("%-18s %s\n", "placement", val);
		}
	}
	if (xc_list_dir("appliances", &l))
		return;
	for (i = 0; i < l.n; i++) {
		snprintf(attr, sizeof(attr), "appliances/%s/state", l.v[i]);
		if (!xc_read_attr(attr, val, sizeof(val)) &&
		    !strcmp(val, "connected"))
			up++;
	}
	if (json)
		printf(", \"appliances\": %zu, \"appliances_connected\": %zu",
		       l.n, up);
	else
		printf("%-18s %zu (%zu connected)\n", "appliances", l.n, up);
	xc_names_free(&l);
}

static int xc_cmd_status(int argc, char **argv)
{
	static const char *const attrs[] = {
		"state", "appliance", "local_limit", "appliance_regions",
		"appliance_bytes",
	};
	char val[XC_VALUE_MAX];
	bool json = false;
	size_t i;
	int ret, err = 0;

	ret = xc_opts(argc, argv, &json, NULL);
	if (ret || (ret = xc_nargs(argc, argv, 0, 0)))
		return ret;
	ret = xc_check_sysfs();
	if (ret)
		return ret;
	if (json)
		putchar('{');
	for (i = 0; i < sizeof(attrs) / sizeof(attrs[0]); i++) {
		ret = xc_read_attr(attrs[i], val, sizeof(val));
		/* Appliance totals are unknown without an appliance. */
		if (ret && i < 3 && !err)
			err = ret;
		if (json) {
			printf("%s\"%s\": ", i ? ", " : "", attrs[i]);
			if (ret)
				fputs("null", stdout);
			else
				xc_json_val(val);
		} else {
			printf("%-18s %s\n", attrs[i], ret ? "-" : val);
		}
	}
	xc_status_pool(json);
	if (json)
		puts("}");
	return err ? xc_err("status", err) : XC_EXIT_OK;
}

static int xc_cmd_limit(int argc, char **argv)
{
	char val[XC_VALUE_MAX], what[300];
	uint64_t bytes;
	int ret;

	ret = xc_opts(argc, argv, NULL, NULL);
	if (ret || (ret = xc_nargs(argc, argv, 0, 1)))
		return ret;
	if (optind == argc) {
		ret = xc_check_sysfs();
		if (ret)
			return ret;
		ret = xc_read_attr("local_limit", val, sizeof(val));
		if (ret)
			return xc_err("limit", ret);
		puts(val);
		return XC_EXIT_OK;
	}
	if (xc_parse_size(argv[optind], &bytes))
		return xc_usage_err("limit: '%s' is not a size", argv[optind]);
	if (bytes < XC_LIMIT_MIN)
		return xc_usage_err("limit: %s is below the minimum of 1M",
				    argv[optind]);
	ret = xc_check_sysfs();
	if (ret)
		return ret;
	snprintf(val, sizeof(val), "%" PRIu64, bytes);
	snprintf(what, sizeof(what), "limit %s", argv[optind]);
	ret = xc_write_attr("local_limit", val);
	return ret ? xc_err(what, ret) : XC_EXIT_OK;
}

static void xc_print_region(const char *name, const struct xmem_region_info *info,
			    bool json)
{
	if (json) {
		printf("{\"name\": ");
		xc_json_str(name);
		printf(", \"region_id\": %llu, \"size\": %llu, \"resident_bytes\": %llu, \"dirty_bytes\": %llu}\n",
		       (unsigned long long)info->region_id,
		       (unsigned long long)info->size,
		       (unsigned long long)info->resident_bytes,
		       (unsigned long long)info->dirty_bytes);
		return;
	}
	printf("name       %s\n", name);
	printf("region_id  %llu\n", (unsigned long long)info->region_id);
	printf("size       %llu\n", (unsigned long long)info->size);
	printf("resident   %llu\n", (unsigned long long)info->resident_bytes);
	printf("dirty      %llu\n", (unsigned long long)info->dirty_bytes);
}

/* Attach @name (creating it when @size is not 0) and print its info. */
static int xc_region(const char *what, const char *name, uint64_t size,
		     uint32_t flags, uint32_t mode, bool json)
{
	struct xmem_region_info info;
	struct xmem_attach at;
	int fd, err = 0, status;

	fd = xc_open_dev(&status);
	if (fd < 0)
		return status;
	memset(&at, 0, sizeof(at));
	strcpy(at.name, name);
	at.size = size;
	at.flags = flags;
	at.mode = mode;
	memset(&info, 0, sizeof(info));
	if (ioctl(fd, XMEM_IOC_ATTACH, &at) ||
	    ioctl(fd, XMEM_IOC_INFO, &info))
		err = errno;
	close(fd);
	if (err)
		return xc_err(what, err);
	xc_print_region(name, &info, json);
	return XC_EXIT_OK;
}

/* DETACH, RESIZE or DESTROY of @name. */
static int xc_region_op(const char *what, unsigned long cmd, const char *name,
			uint64_t size, uint32_t flags)
{
	struct xmem_region_op op;
	int fd, err = 0, status;

	fd = xc_open_dev(&status);
	if (fd < 0)
		return status;
	memset(&op, 0, sizeof(op));
	strcpy(op.name, name);
	op.size = size;
	op.flags = flags;
	if (ioctl(fd, cmd, &op))
		err = errno;
	close(fd);
	if (err == EINVAL && cmd == XMEM_IOC_DETACH &&
	    (flags & XMEM_DETACH_HOLD)) {
		fprintf(stderr, "xmemctl: %s: refused (EINVAL): the module may be older than uapi 1.8, which ends a hold without detaching\n",
			what);
		return XC_EXIT_MISSING;
	}
	if (err == EBUSY && cmd != XMEM_IOC_RESIZE)
		fprintf(stderr, "xmemctl: %s: region in use (open or mapped here, or attached by another client)\n",
			what);
	else if (err)
		return xc_err(what, err);
	return err ? XC_EXIT_ERR : XC_EXIT_OK;
}

/*
 * XMEM_IOC_SNAPSHOT: the appliance copies @name into @snap (new, or
 * existing with XMEM_SNAPSHOT_INTO), writers held meanwhile.
 */
static int xc_region_snapshot(const char *what, const char *name,
			      const char *snap, uint32_t flags, uint32_t mode,
			      bool json)
{
	struct xmem_snapshot s;
	int fd, err = 0, status;

	fd = xc_open_dev(&status);
	if (fd < 0)
		return status;
	memset(&s, 0, sizeof(s));
	strcpy(s.src, name);
	strcpy(s.dst, snap);
	s.flags = flags;
	s.mode = mode;
	if (ioctl(fd, XMEM_IOC_SNAPSHOT, &s))
		err = errno;
	close(fd);
	if (err == ENOTTY)
		err = EOPNOTSUPP;
	if (err)
		return xc_err(what, err);
	if (json) {
		printf("{\"name\": ");
		xc_json_str(name);
		printf(", \"snapshot\": ");
		xc_json_str(snap);
		printf(", \"region_id\": %llu, \"size\": %llu, \"hold_ns\": %llu, \"total_ns\": %llu}\n",
		       (unsigned long long)s.region_id,
		       (unsigned long long)s.size,
		       (unsigned long long)s.hold_ns,
		       (unsigned long long)s.total_ns);
	} else {
		printf("%s: %llu bytes into %s (region %llu); writers held %.3f ms, %.3f ms in all\n",
		       what, (unsigned long long)s.size, snap,
		       (unsigned long long)s.region_id, s.hold_ns / 1e6,
		       s.total_ns / 1e6);
	}
	return XC_EXIT_OK;
}

/*
 * XMEM_IOC_GRANT: let HOST (HOST:UID: one user of it) attach @name, or
 * with @revoke take that back.
 */
static int xc_region_grant(const char *what, const char *name,
			   const char *who, bool revoke)
{
	const char *colon = strchr(who, ':');
	int fd, err = 0, status;
	struct xmem_grant g;
	unsigned long uid;
	size_t hlen;
	char *end;

	memset(&g, 0, sizeof(g));
	hlen = colon ? (size_t)(colon - who) : strlen(who);
	if (hlen >= sizeof(g.host))
		hlen = 0;
	memcpy(g.host, who, hlen);
	if (!xc_name_valid(g.host))
		return xc_usage_err("%s: bad host '%s' (HOST or HOST:UID, HOST 1-63 of [A-Za-z0-9._-])",
				    what, who);
	if (colon) {
		errno = 0;
		uid = strtoul(colon + 1, &end, 10);
		if (errno || *end || end == colon + 1 || uid > UINT32_MAX)
			return xc_usage_err("%s: bad uid in '%s'", what, who);
		g.flags |= XMEM_GRANT_UID;
		g.uid = uid;
	}
	if (revoke)
		g.flags |= XMEM_GRANT_REVOKE;
	strcpy(g.name, name);
	fd = xc_open_dev(&status);
	if (fd < 0)
		return status;
	if (ioctl(fd, XMEM_IOC_GRANT, &g))
		err = errno;
	close(fd);
	if (err == ENOTTY)
		err = EOPNOTSUPP;
	if (err)
		return xc_err(what, err);
	printf("%s: %s %s\n", what, revoke ? "revoked from" : "granted to",
	       who);
	return XC_EXIT_OK;
}

/*
 * One region of XMEM_IOC_LIST: a table row, "key value" lines, or a JSON
 * object left open (the caller may add members, then closes it).
 * @appliance: where it lives, when regions/<name>/appliance says so.
 */
static void xc_print_entry(const struct xmem_region_entry *e, bool json,
			   bool table, const char *appliance)
{
	bool att = e->flags & XMEM_ENTRY_ATTACHED;

	if (!appliance || !*appliance)
		appliance = e->appliance;
	if (json) {
		printf("{\"name\": ");
		xc_json_str(e->name);
		printf(", \"region_id\": %llu, \"size\": %llu, \"uid\": %u, \"gid\": %u, \"mode\": \"%04o\", \"users\": %u, \"attached\": %s, \"held\": %s, \"resident_bytes\": %llu, \"appliance\": ",
		       (unsigned long long)e->region_id,
		       (unsigned long long)e->size, e->uid, e->gid, e->mode,
		       e->users, att ? "true" : "false",
		       e->flags & XMEM_ENTRY_HELD ? "true" : "false",
		       (unsigned long long)e->resident_bytes);
		xc_json_str(appliance);
		return;
	}
	if (table) {
		printf("%-24s %6llu %14llu %6u %6u %04o %5u %-8s %s\n", e->name,
		       (unsigned long long)e->region_id,
		       (unsigned long long)e->size, e->uid, e->gid, e->mode,
		       e->users, att ? "yes" : "no", appliance);
		return;
	}
	printf("%-20s %s\n", "name", e->name);
	printf("%-20s %llu\n", "region_id", (unsigned long long)e->region_id);
	printf("%-20s %llu\n", "size", (unsigned long long)e->size);
	printf("%-20s %u\n", "owner", e->uid);
	printf("%-20s %u\n", "group", e->gid);
	printf("%-20s %04o\n", "mode", e->mode);
	printf("%-20s %u\n", "users", e->users);
	printf("%-20s %s\n", "attached", att ? "yes" : "no");
	printf("%-20s %s\n", "held", e->flags & XMEM_ENTRY_HELD ? "yes" : "no");
	printf("%-20s %llu\n", "resident", (unsigned long long)e->resident_bytes);
	printf("%-20s %s\n", "appliance", appliance);
}

/*
 * What this client keeps about region @name in regions/<name>/: its
 * portion size, local limit and dirty bytes, and the allocator's counters
 * in alloc/ on modules that have them (null in JSON otherwise).
 */
static void xc_print_local(const char *name, bool json)
{
	static const char *const local[] = {
		"portion_size", "local_limit", "dirty_bytes",
	};
	static const char *const alloc[] = {
		"slabs", "bytes_in_use", "bytes_reserved",
	};
	char val[XC_VALUE_MAX], attr[400], path[4096];
	bool have_alloc;
	size_t i;
	int ret;

	for (i = 0; i < sizeof(local) / sizeof(local[0]); i++) {
		snprintf(attr, sizeof(attr), "regions/%s/%s", name, local[i]);
		ret = xc_read_attr(attr, val, sizeof(val));
		if (json) {
			printf(", \"%s\": ", local[i]);
			if (ret)
				fputs("null", stdout);
			else
				xc_json_val(val);
		} else if (!ret) {
			printf("%-20s %s\n", local[i], val);
		}
	}
	snprintf(path, sizeof(path), "%s/regions/%s/alloc", xc_sysfs, name);
	have_alloc = !access(path, F_OK);
	if (json)
		fputs(have_alloc ? ", \"alloc\": {" : ", \"alloc\": null", stdout);
	if (!have_alloc)
		return;
	for (i = 0; i < sizeof(alloc) / sizeof(alloc[0]); i++) {
		snprintf(attr, sizeof(attr), "regions/%s/alloc/%s", name,
			 alloc[i]);
		ret = xc_read_attr(attr, val, sizeof(val));
		if (json) {
			printf("%s\"%s\": ", i ? ", " : "", alloc[i]);
			if (ret)
				fputs("null", stdout);
			else
				xc_json_val(val);
		} else {
			printf("alloc.%-14s %s\n", alloc[i], ret ? "-" : val);
		}
	}
	if (json)
		putchar('}');
}

/* List every region, or show the one named @name (NULL: all). */
static int xc_region_list(const char *what, const char *name, bool json)
{
	struct xmem_region_entry e[XMEM_LIST_MAX];
	char attr[300], appl[XC_VALUE_MAX];
	struct xmem_region_list l;
	unsigned int i, n = 0;
	int fd, err = 0, status;
	bool found = false;

	fd = xc_open_dev(&status);
	if (fd < 0)
		return status;
	memset(&l, 0, sizeof(l));
	if (!name && json)
		putchar('[');
	if (!name && !json)
		printf("%-24s %6s %14s %6s %6s %4s %5s %-8s %s\n", "NAME", "ID",
		       "SIZE", "UID", "GID", "MODE", "USERS", "ATTACHED",
		       "APPLIANCE");
	for (;;) {
		memset(e, 0, sizeof(e));
		l.entries = (uintptr_t)e;
		l.count = XMEM_LIST_MAX;
		if (ioctl(fd, XMEM_IOC_LIST, &l)) {
			err = errno;
			break;
		}
		if (!l.count)
			break;
		for (i = 0; i < l.count; i++) {
			snprintf(attr, sizeof(attr), "regions/%s/appliance",
				 e[i].name);
			if (xc_read_attr(attr, appl, sizeof(appl)))
				appl[0] = '\0';
			if (name) {
				if (strcmp(e[i].name, name))
					continue;
				xc_print_entry(&e[i], json, false, appl);
				xc_print_local(name, json);
				if (json)
					puts("}");
				found = true;
				break;
			}
			if (json && n)
				fputs(", ", stdout);
			xc_print_entry(&e[i], json, true, appl);
			if (json)
				putchar('}');
			n++;
		}
		if (found)
			break;
	}
	close(fd);
	if (!name && json)
		puts("]");
	if (err)
		return xc_err(what, err);
	if (name && !found)
		return xc_err(what, ENOENT);
	return XC_EXIT_OK;
}

static int xc_cmd_region(int argc, char **argv)
{
	static const char *const names[] = {
		"create", "attach", "detach", "resize", "destroy", "list",
		"show", "snapshot", "grant", "revoke",
	};
	/* Operands of each subcommand, in the order of @names. */
	static const int nops[] = { 2, 1, 1, 2, 1, 0, 1, 2, 2, 2 };
	const char *sub, *name = NULL;
	uint32_t mode = 0, flags = 0;
	bool json = false, into = false, jok, mok, wok, sok;
	char what[300], *end;
	uint64_t size = 0;
	unsigned long m;
	unsigned int k;
	long psize;
	int opt;

	if (argc < 2)
		return xc_usage_err("region: missing subcommand (create, attach, detach, resize, destroy, list, show, snapshot, grant or revoke)");
	argc--;
	argv++;
	sub = argv[0];
	for (k = 0; k < sizeof(names) / sizeof(names[0]); k++)
		if (!strcmp(sub, names[k]))
			break;
	if (k == sizeof(names) / sizeof(names[0]))
		return xc_usage_err("region: unknown subcommand '%s'", sub);
	jok = k == 0 || k == 1 || k == 5 || k == 6 || k == 7;
	mok = k == 0 || k == 7;
	wok = k == 3;
	sok = k == 0 || k == 1 || k == 2;

	optind = 1;
	opterr = 0;
	while ((opt = getopt(argc, argv, "+ijm:swh")) != -1) {
		switch (opt) {
		case 's':
			if (!sok)
				return xc_usage_err("region %s: unknown option -s", sub);
			flags |= k == 2 ? XMEM_DETACH_HOLD : XMEM_ATTACH_SOLE;
			break;
		case 'i':
			if (k != 7)
				return xc_usage_err("region %s: unknown option -i", sub);
			into = true;
			break;
		case 'j':
			if (!jok)
				return xc_usage_err("region %s: unknown option -j", sub);
			json = true;
			break;
		case 'm':
			if (!mok)
				return xc_usage_err("region %s: unknown option -m", sub);
			errno = 0;
			m = strtoul(optarg, &end, 8);
			if (errno || *end || end == optarg || m > 0777)
				return xc_usage_err("region %s: -m %s: not an octal mode up to 777",
						    sub, optarg);
			mode = m;
			flags |= XMEM_ATTACH_MODE;
			break;
		case 'w':
			if (!wok)
				return xc_usage_err("region %s: unknown option -w", sub);
			flags |= XMEM_RESIZE_WRITEBACK;
			break;
		case 'h':
			xc_usage(stdout);
			exit(XC_EXIT_OK);
		default:
			if (optopt == 'm')
				return xc_usage_err("region %s: -m needs a value", sub);
			return xc_usage_err("region %s: unknown option -%c", sub,
					    optopt ? optopt : '?');
		}
	}
	if (xc_nargs(argc, argv, nops[k], nops[k]))
		return XC_EXIT_USAGE;
	if (nops[k]) {
		name = argv[optind];
		if (!xc_name_valid(name))
			return xc_usage_err("region %s: bad name '%s' (1-63 of [A-Za-z0-9._-])",
					    sub, name);
	}
	if (k == 7) {
		if (!xc_name_valid(argv[optind + 1]))
			return xc_usage_err("region %s: bad name '%s' (1-63 of [A-Za-z0-9._-])",
					    sub, argv[optind + 1]);
		if (into && (flags & XMEM_ATTACH_MODE))
			return xc_usage_err("region %s: -m is for a new snapshot, not with -i",
					    sub);
	} else if (k == 8 || k == 9) {
		return xc_region_grant(what, name, argv[optind + 1], k == 9);
	} else if (nops[k] == 2) {
		psize = sysconf(_SC_PAGESIZE);
		if (xc_parse_size(argv[optind + 1], &size) || !size ||
		    (psize > 0 && size % (uint64_t)psize))
			return xc_usage_err("region %s: bad size '%s' (a nonzero multiple of %ld)",
					    sub, argv[optind + 1], psize);
	}
	snprintf(what, sizeof(what), "region %s%s%s", sub, name ? " " : "",
		 name ? name : "");

	switch (k) {
	case 0:
		return xc_region(what, name, size, flags | XMEM_ATTACH_CREATE |
				 XMEM_ATTACH_EXCL, mode, json);
	case 1:
		return xc_region(what, name, 0, flags, 0, json);
	case 2:
		return xc_region_op(what, XMEM_IOC_DETACH, name, 0, flags);
	case 3:
		return xc_region_op(what, XMEM_IOC_RESIZE, name, size, flags);
	case 4:
		return xc_region_op(what, XMEM_IOC_DESTROY, name, 0, 0);
	case 5:
		return xc_region_list(what, NULL, json);
	case 7:
		return xc_region_snapshot(what, name, argv[optind + 1],
					  (into ? XMEM_SNAPSHOT_INTO : 0) |
					  (flags & XMEM_ATTACH_MODE ?
					   XMEM_SNAPSHOT_MODE : 0), mode, json);
	default:
		return xc_region_list(what, name, json);
	}
}

/* ---- appliances -------------------------------------------------------- */

/* @bytes in the largest binary unit that keeps it at least 1: "1.5G". */
static const char *xc_human(uint64_t bytes, char *buf, size_t len)
{
	static const char units[] = "BKMGTPE";
	double v = bytes;
	int u = 0;

	while (v >= 1024 && units[u + 1]) {
		v /= 1024;
		u++;
	}
	if (!u)
		snprintf(buf, len, "%" PRIu64 "B", bytes);
	else
		snprintf(buf, len, "%.*f%c", v < 10 ? 1 : 0, v, units[u]);
	return buf;
}

/* What an errno of an appliance operation means for the administrator. */
static const char *xc_appliance_hint(const char *op, int err)
{
	switch (err) {
	case EINVAL:
		return "bad address (ADDR:PORT, IPv6 in brackets)";
	case EEXIST:
		return "already in the pool (see 'xmemctl appliance list'; 'xmemctl connect ADDR:PORT' reconnects a failed member)";
	case ENOENT:
		return "not in the pool (see 'xmemctl appliance list')";
	case EACCES:
		return "authentication refused: set the same secret on both sides ('xmemctl secret FILE', 'xmemd --secret-file FILE') or on neither";
	case ECONNREFUSED:
		return "is xmemd running and listening on that address and port?";
	case ETIMEDOUT:
		return "the appliance does not answer (check the address, the route, the RDMA device)";
	case EHOSTUNREACH:
	case ENETUNREACH:
		return "no route to the appliance over an RDMA device";
	case ENOSPC:
		return strcmp(op, "remove") ? "the pool is full (16 appliances at most)" :
			"no other appliance in the pool has room for a region: add one first ('xmemctl appliance add'); regions moved so far stay moved";
	case EOPNOTSUPP:
		return "an appliance of the pool is older than protocol 1.2 and cannot copy regions (update its xmemd); regions moved so far stay moved";
	case ENOTCONN:
		return strcmp(op, "remove") ? NULL :
			"an appliance the drain needs is not connected (see 'xmemctl appliance list'); regions moved so far stay moved";
	case EBUSY:
		return strcmp(op, "remove") ? NULL :
			"a region on it is attached by another client too: detach it there first; regions moved so far stay moved";
	case EIO:
		return strcmp(op, "remove") ? NULL :
			"a region is lost, or copying it to another appliance failed; regions moved so far stay moved, the appliance stays in the pool";
	}
	return NULL;
}

static int xc_appliance_err(const char *op, const char *addr, int err)
{
	const char *hint = xc_appliance_hint(op, err);

	fprintf(stderr, "xmemctl: appliance %s %s: %s%s%s\n", op, addr,
		strerror(err), hint ? ": " : "", hint ? hint : "");
	return XC_EXIT_ERR;
}

static int xc_appliance_add(const char *addr)
{
	int ret = xc_need("appliance add", "appliance_add");

	if (ret)
		return ret;
	ret = xc_write_attr("appliance_add", addr);
	return ret ? xc_appliance_err("add", addr, ret) : XC_EXIT_OK;
}

/* Where each region attached here lives: regions/<name>/appliance. */
struct xc_placed {
	struct xc_names names;
	char (*appl)[XC_VALUE_MAX];	/* "" when unreadable */
};

static int xc_placed_read(struct xc_placed *p)
{
	char attr[300];
	size_t i;
	int ret;

	p->appl = NULL;
	ret = xc_list_dir("regions", &p->names);
	if (ret == ENOENT)
		return 0;
	if (ret)
		return ret;
	p->appl = calloc(p->names.n ? p->names.n : 1, sizeof(*p->appl));
	if (!p->appl) {
		xc_names_free(&p->names);
		return ENOMEM;
	}
	for (i = 0; i < p->names.n; i++) {
		snprintf(attr, sizeof(attr), "regions/%s/appliance",
			 p->names.v[i]);
		if (xc_read_attr(attr, p->appl[i], sizeof(p->appl[i])))
			p->appl[i][0] = '\0';
	}
	return 0;
}

static void xc_placed_free(struct xc_placed *p)
{
	xc_names_free(&p->names);
	free(p->appl);
}

static const char *xc_placed_find(const struct xc_placed *p, const char *name)
{
	size_t i;

	for (i = 0; i < p->names.n; i++)
		if (!strcmp(p->names.v[i], name))
			return p->appl[i];
	return NULL;
}

/*
 * @addr as the module prints it (inet_ntop's form, IPv6 in brackets), so
 * that "[fd00::0002]:7471" matches "[fd00::2]:7471"; unchanged if it is
 * not a numeric address.
 */
static void xc_canon_addr(const char *addr, char *out, size_t len)
{
	char host[INET6_ADDRSTRLEN + 2], txt[INET6_ADDRSTRLEN];
	const char *colon = strrchr(addr, ':');
	unsigned char bin[sizeof(struct in6_addr)];
	size_t hl = colon ? (size_t)(colon - addr) : 0;
	bool v6 = addr[0] == '[';

	snprintf(out, len, "%s", addr);
	if (!colon || hl >= sizeof(host) || (v6 && hl < 2))
		return;
	memcpy(host, addr + v6, hl - 2 * v6);
	host[hl - 2 * v6] = '\0';
	if (inet_pton(v6 ? AF_INET6 : AF_INET, host, bin) != 1 ||
	    !inet_ntop(v6 ? AF_INET6 : AF_INET, bin, txt, sizeof(txt)))
		return;
	snprintf(out, len, v6 ? "[%s]%s" : "%s%s", txt, colon);
}

/*
 * Drain and remove @addr; say which regions attached here moved where,
 * by comparing regions/<name>/appliance before and after.
 */
static int xc_appliance_remove(const char *arg, bool json)
{
	struct xc_placed before, after;
	char ebuf[16], addr[XC_VALUE_MAX];
	const char *to;
	size_t i, n = 0, left = 0;
	int ret, err;

	xc_canon_addr(arg, addr, sizeof(addr));
	ret = xc_need("appliance remove", "appliance_remove");
	if (ret)
		return ret;
	ret = xc_placed_read(&before);
	if (ret)
		return xc_err("regions", ret);
	if (!json) {
		for (i = 0; i < before.names.n; i++)
			if (!strcmp(before.appl[i], addr))
				n++;
		printf("draining %s: %zu region%s attached here%s", addr, n,
		       n == 1 ? "" : "s", n ? ":" : "");
		for (i = 0; i < before.names.n; i++)
			if (!strcmp(before.appl[i], addr))
				printf(" %s", before.names.v[i]);
		putchar('\n');
		fflush(stdout);
	}
	err = xc_write_attr("appliance_remove", arg);
	ret = xc_placed_read(&after);
	if (ret) {
		xc_placed_free(&before);
		if (err)
			return xc_appliance_err("remove", addr, err);
		return xc_err("regions", ret);
	}

	if (json) {
		fputs("{\"appliance\": ", stdout);
		xc_json_str(addr);
		printf(", \"removed\": %s, \"error\": ",
		       err ? "false" : "true");
	}
	if (json && err)
		printf("\"%s\"", xc_errname(err, ebuf, sizeof(ebuf)));
	else if (json)
		fputs("null", stdout);
	if (json)
		fputs(", \"moved\": [", stdout);
	n = 0;
	for (i = 0; i < before.names.n; i++) {
		if (strcmp(before.appl[i], addr))
			continue;
		to = xc_placed_find(&after, before.names.v[i]);
		if (!to || !strcmp(to, addr) || !*to) {
			left++;
			continue;
		}
		if (json) {
			printf("%s{\"name\": ", n ? ", " : "");
			xc_json_str(before.names.v[i]);
			fputs(", \"from\": ", stdout);
			xc_json_str(addr);
			fputs(", \"to\": ", stdout);
			xc_json_str(to);
			putchar('}');
		} else {
			printf("moved %s: %s -> %s\n", before.names.v[i], addr,
			       to);
		}
		n++;
	}
	if (json) {
		fputs("], \"left\": [", stdout);
		left = 0;
		for (i = 0; i < before.names.n; i++) {
			if (strcmp(before.appl[i], addr))
				continue;
			to = xc_placed_find(&after, before.names.v[i]);
			if (to && *to && strcmp(to, addr))
				continue;
			fputs(left++ ? ", " : "", stdout);
			xc_json_str(before.names.v[i]);
		}
		puts("]}");
	} else if (!err) {
		printf("removed %s (%zu region%s moved)\n", addr, n,
		       n == 1 ? "" : "s");
	} else if (left) {
		printf("still on %s:", addr);
		for (i = 0; i < before.names.n; i++) {
			if (strcmp(before.appl[i], addr))
				continue;
			to = xc_placed_find(&after, before.names.v[i]);
			if (!to || !*to || !strcmp(to, addr))
				printf(" %s", before.names.v[i]);
		}
		putchar('\n');
	}
	fflush(stdout);
	xc_placed_free(&before);
	xc_placed_free(&after);
	return err ? xc_appliance_err("remove", addr, err) : XC_EXIT_OK;
}

/* The files of appliances/<addr>/, in the order of the listing. */
static const char *const xc_appl_attrs[] = {
	"state", "regions", "bytes_allocated", "bytes_capacity", "attached",
	"reconnects", "last_error",
};

#define XC_APPL_NATTRS	(sizeof(xc_appl_attrs) / sizeof(xc_appl_attrs[0]))

static int xc_appliance_list(bool json)
{
	char val[XC_APPL_NATTRS][XC_VALUE_MAX], attr[400], h1[32], h2[32];
	int rd[XC_APPL_NATTRS];
	struct xc_names l;
	char ebuf[16], *end;
	size_t i, k;
	long le;
	int ret;

	ret = xc_need("appliance list", "appliances");
	if (ret)
		return ret;
	ret = xc_list_dir("appliances", &l);
	if (ret)
		return xc_err("appliances", ret);
	if (json)
		putchar('[');
	else
		printf("%-24s %-10s %7s %9s %9s %8s %10s %s\n", "APPLIANCE",
		       "STATE", "REGIONS", "ALLOCATED", "CAPACITY", "ATTACHED",
		       "RECONNECTS", "LAST_ERROR");
	for (i = 0; i < l.n; i++) {
		for (k = 0; k < XC_APPL_NATTRS; k++) {
			snprintf(attr, sizeof(attr), "appliances/%s/%s",
				 l.v[i], xc_appl_attrs[k]);
			rd[k] = xc_read_attr(attr, val[k], sizeof(val[k]));
		}
		if (json) {
			printf("%s{\"address\": ", i ? ", " : "");
			xc_json_str(l.v[i]);
			for (k = 0; k < XC_APPL_NATTRS; k++) {
				printf(", \"%s\": ", xc_appl_attrs[k]);
				if (rd[k])
					fputs("null", stdout);
				else if (k == XC_APPL_NATTRS - 1 &&
					 xc_is_int(val[k]))
					fputs(val[k], stdout);
				else
					xc_json_val(val[k]);
			}
			putchar('}');
			continue;
		}
		/* Sizes readable by people; -j has the bytes. */
		if (!rd[2])
			xc_human(strtoull(val[2], NULL, 10), h1, sizeof(h1));
		if (!rd[3])
			xc_human(strtoull(val[3], NULL, 10), h2, sizeof(h2));
		le = rd[6] ? 0 : strtol(val[6], &end, 10);
		printf("%-24s %-10s %7s %9s %9s %8s %10s %s\n", l.v[i],
		       rd[0] ? "?" : val[0], rd[1] ? "-" : val[1],
		       rd[2] ? "-" : h1, rd[3] ? "-" : h2,
		       rd[4] ? "-" : val[4], rd[5] ? "-" : val[5],
		       rd[6] ? "-" : !le ? "none" :
		       xc_errname((int)-le, ebuf, sizeof(ebuf)));
	}
	if (json)
		puts("]");
	xc_names_free(&l);
	return XC_EXIT_OK;
}

static int xc_cmd_appliance(int argc, char **argv)
{
	char what[32];
	const char *sub;
	bool json = false;
	int ret;

	if (argc < 2)
		return xc_usage_err("appliance: missing subcommand (add, remove or list)");
	argc--;
	argv++;
	sub = argv[0];
	if (strcmp(sub, "add") && strcmp(sub, "remove") && strcmp(sub, "list"))
		return xc_usage_err("appliance: unknown subcommand '%s'", sub);
	/* Messages of xc_opts() and xc_nargs() name argv[0]. */
	snprintf(what, sizeof(what), "appliance %s", sub);
	argv[0] = what;
	ret = xc_opts(argc, argv, strcmp(sub, "add") ? &json : NULL, NULL);
	if (ret)
		return ret;
	ret = xc_nargs(argc, argv, strcmp(sub, "list") ? 1 : 0,
		       strcmp(sub, "list") ? 1 : 0);
	if (ret)
		return ret;
	if (!strcmp(sub, "list"))
		return xc_appliance_list(json);
	if (!xc_addr_valid(argv[optind]))
		return xc_usage_err("appliance %s: '%s' is not ADDR:PORT (IPv6 addresses in brackets)",
				    sub, argv[optind]);
	if (!strcmp(sub, "add"))
		return xc_appliance_add(argv[optind]);
	return xc_appliance_remove(argv[optind], json);
}

static int xc_cmd_placement(int argc, char **argv)
{
	char val[XC_VALUE_MAX], what[300];
	const char *p;
	bool json = false;
	int ret;

	ret = xc_opts(argc, argv, &json, NULL);
	if (ret)
		return ret;
	ret = xc_nargs(argc, argv, 0, 1);
	if (ret)
		return ret;
	if (optind == argc) {
		ret = xc_need("placement", "placement");
		if (ret)
			return ret;
		ret = xc_read_attr("placement", val, sizeof(val));
		if (ret)
			return xc_err("placement", ret);
		if (json) {
			fputs("{\"placement\": ", stdout);
			xc_json_str(val);
			puts("}");
		} else {
			puts(val);
		}
		return XC_EXIT_OK;
	}
	if (json)
		return xc_usage_err("placement: -j only shows the policy");
	p = argv[optind];
	if (strcmp(p, "fill-first") && strcmp(p, "spread") &&
	    !xc_addr_valid(p))
		return xc_usage_err("placement: '%s' is not fill-first, spread or ADDR:PORT",
				    p);
	ret = xc_need("placement", "placement");
	if (ret)
		return ret;
	snprintf(what, sizeof(what), "placement %s", p);
	ret = xc_write_attr("placement", p);
	if (ret == ENOENT) {
		fprintf(stderr, "xmemctl: %s: %s: not an appliance of the pool (see 'xmemctl appliance list')\n",
			what, strerror(ret));
		return XC_EXIT_ERR;
	}
	return ret ? xc_err(what, ret) : XC_EXIT_OK;
}

/* ---- stat -------------------------------------------------------------- */

/* Read a whole attribute (a histogram is several lines): 0 or an errno. */
static int xc_read_long(const char *attr, char *buf, size_t len)
{
	char path[4096];
	size_t n = 0;
	ssize_t r;
	int fd, err = 0;

	snprintf(path, sizeof(path), "%s/%s", xc_sysfs, attr);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return errno;
	while (n < len - 1 && (r = read(fd, buf + n, len - 1 - n)) != 0) {
		if (r < 0) {
			err = errno;
			break;
		}
		n += r;
	}
	close(fd);
	buf[n] = '\0';
	return err;
}

/* One bucket of stats/fault_latency_us: @count faults took < @lt_us. */
struct xc_bucket {
	uint64_t lt_us;		/* 0: the last bucket, "inf" */
	uint64_t count;
};

#define XC_BUCKETS_MAX	64

/* Parse the histogram: the number of buckets, or -1 if it is malformed. */
static int xc_parse_hist(char *text, struct xc_bucket *b)
{
	char *line, *save = NULL, *end;
	int n = 0;

	for (line = strtok_r(text, "\n", &save); line;
	     line = strtok_r(NULL, "\n", &save)) {
		if (n == XC_BUCKETS_MAX)
			return -1;
		if (!strncmp(line, "inf ", 4)) {
			b[n].lt_us = 0;
			end = line + 3;
		} else {
			b[n].lt_us = strtoull(line, &end, 10);
			if (end == line || *end != ' ' || !b[n].lt_us)
				return -1;
		}
		b[n].count = strtoull(end + 1, &end, 10);
		if (*end)
			return -1;
		n++;
	}
	return n;
}

/* The bucket bound below which a fraction @p of the faults fall. */
static void xc_hist_pct(const struct xc_bucket *b, int n, uint64_t total,
			double p, char *buf, size_t len)
{
	uint64_t sum = 0;
	int i;

	for (i = 0; i < n; i++) {
		sum += b[i].count;
		if (sum && sum >= p * total)
			break;
	}
	if (i == n)
		snprintf(buf, len, "-");
	else if (!b[i].lt_us)
		snprintf(buf, len, ">= %" PRIu64 " us",
			 i ? b[i - 1].lt_us : 0);
	else
		snprintf(buf, len, "< %" PRIu64 " us", b[i].lt_us);
}

static void xc_print_hist(char *text, bool json)
{
	struct xc_bucket b[XC_BUCKETS_MAX];
	char p50[40], p99[40];
	uint64_t total = 0;
	int n = xc_parse_hist(text, b), i;

	if (json) {
		fputs(", \"fault_latency_us\": ", stdout);
		if (n < 0) {
			fputs("null", stdout);
			return;
		}
		putchar('[');
		for (i = 0; i < n; i++) {
			printf("%s{\"lt_us\": ", i ? ", " : "");
			if (b[i].lt_us)
				printf("%" PRIu64, b[i].lt_us);
			else
				fputs("null", stdout);
			printf(", \"count\": %" PRIu64 "}", b[i].count);
		}
		putchar(']');
		return;
	}
	if (n < 0) {
		printf("%-18s (unreadable)\n", "fault_latency_us");
		return;
	}
	for (i = 0; i < n; i++)
		total += b[i].count;
	xc_hist_pct(b, n, total, 0.5, p50, sizeof(p50));
	xc_hist_pct(b, n, total, 0.99, p99, sizeof(p99));
	printf("%-18s %" PRIu64 " faults, median %s, p99 %s\n",
	       "fault_latency_us", total, p50, p99);
	for (i = 0; i < n; i++) {
		if (!b[i].count)
			continue;
		if (b[i].lt_us)
			printf("  < %-14" PRIu64 " %" PRIu64 "\n", b[i].lt_us,
			       b[i].count);
		else
			printf("  %-16s %" PRIu64 "\n", "more", b[i].count);
	}
}

/*
 * Print every file of directory @dir (stats/ or regions/<name>/stats/)
 * and then those of @extra (gauges kept elsewhere), as "key value" lines
 * indented by @indent or as JSON members.  Returns 0 or XC_EXIT_ERR.
 */
static int xc_print_counters(const char *dir, const char *const *extra,
			     const char *indent, bool json)
{
	char val[XC_VALUE_MAX], attr[600];
	struct xc_names l;
	size_t i, k = 0;
	int ret, status = XC_EXIT_OK;

	ret = xc_list_dir(dir, &l);
	if (ret)
		return xc_err(dir, ret);
	for (i = 0; i < l.n || (extra && extra[i - l.n]); i++) {
		const char *name = i < l.n ? l.v[i] : extra[i - l.n];

		if (!strcmp(name, "fault_latency_us"))
			continue;
		if (i < l.n)
			snprintf(attr, sizeof(attr), "%s/%s", dir, name);
		else
			snprintf(attr, sizeof(attr), "%s", name);
		ret = xc_read_attr(attr, val, sizeof(val));
		if (ret) {
			fflush(stdout);
			xc_err(attr, ret);
			status = XC_EXIT_ERR;
		}
		/* A gauge's name is the file's, without the directory. */
		if (strrchr(name, '/'))
			name = strrchr(name, '/') + 1;
		if (json) {
			printf("%s", k++ ? ", " : "");
			xc_json_str(name);
			fputs(": ", stdout);
			if (ret)
				fputs("null", stdout);
			else
				xc_json_val(val);
		} else if (!ret) {
			printf("%s%-*s %s\n", indent, 18 - (int)strlen(indent),
			       name, val);
		}
	}
	xc_names_free(&l);
	return status;
}

/* The regions stat shows: the NAMEs given, else every regions/ entry. */
static int xc_stat_regions(char **names, int n, struct xc_names *l)
{
	char path[4096];
	int i, ret;

	if (!n) {
		ret = xc_list_dir("regions", l);
		if (ret == ENOENT)
			return 0;
		return ret ? xc_err("regions", ret) : 0;
	}
	l->v = calloc(n, sizeof(*l->v));
	l->n = 0;
	if (!l->v)
		return xc_err("stat", ENOMEM);
	for (i = 0; i < n; i++) {
		snprintf(path, sizeof(path), "%s/regions/%s", xc_sysfs,
			 names[i]);
		if (access(path, F_OK)) {
			fprintf(stderr, "xmemctl: stat: region %s: not attached on this client since the module was loaded\n",
				names[i]);
			xc_names_free(l);
			return XC_EXIT_ERR;
		}
		l->v[l->n] = strdup(names[i]);
		if (!l->v[l->n]) {
			xc_names_free(l);
			return xc_err("stat", ENOMEM);
		}
		l->n++;
	}
	return 0;
}

static int xc_stat_once(struct xc_names *regions, bool json)
{
	static const char *const gauges[] = { "resident_bytes",
					      "dirty_bytes", NULL };
	char hist[4096], dir[300], g[2][300];
	const char *extra[3] = { g[0], g[1], NULL };
	int ret, status;
	size_t i;

	if (json)
		fputs("{\"total\": {", stdout);
	status = xc_print_counters("stats", NULL, "", json);
	if (json)
		putchar('}');
	ret = xc_read_long("stats/fault_latency_us", hist, sizeof(hist));
	if (!ret)
		xc_print_hist(hist, json);
	else if (ret != ENOENT)
		status = xc_err("stats/fault_latency_us", ret);
	if (json)
		fputs(", \"regions\": [", stdout);
	for (i = 0; i < regions->n; i++) {
		snprintf(dir, sizeof(dir), "regions/%s/stats", regions->v[i]);
		snprintf(g[0], sizeof(g[0]), "regions/%s/%s", regions->v[i],
			 gauges[0]);
		snprintf(g[1], sizeof(g[1]), "regions/%s/%s", regions->v[i],
			 gauges[1]);
		if (json) {
			printf("%s{\"name\": ", i ? ", " : "");
			xc_json_str(regions->v[i]);
			fputs(", ", stdout);
		} else {
			printf("region %s\n", regions->v[i]);
		}
		if (xc_print_counters(dir, extra, "  ", json))
			status = XC_EXIT_ERR;
		if (json)
			putchar('}');
	}
	if (json)
		puts("]}");
	return status;
}

/* stat -w: the counters it turns into rates. */
enum {
	XC_FAULTS, XC_HITS, XC_RA_HITS, XC_BYTES_READ, XC_BYTES_WRITTEN,
	XC_EVICT_CLEAN, XC_EVICT_DIRTY, XC_WB_ERRORS, XC_RESIDENT, XC_DIRTY,
	XC_NCTR,
};

/* Files under stats/ (or regions/<name>/stats/), the last two elsewhere. */
static const char *const xc_ctr_files[XC_NCTR] = {
	"faults", "cache_hits", "readahead_hits", "bytes_read",
	"bytes_written", "evictions_clean", "evictions_dirty",
	"writeback_errors", "resident_bytes", "dirty_bytes",
};

/*
 * One row's counters and when they were read: the midpoint of its reads,
 * so that a row's rate uses its own interval even when reading sysfs is
 * slow (the totals and each region are not read at the same moment).
 */
struct xc_sample {
	uint64_t v[XC_NCTR];
	unsigned int have;	/* bit i: v[i] was read */
	struct timespec t;
};

static double xc_ts(const struct timespec *t)
{
	return t->tv_sec + t->tv_nsec / 1e9;
}

struct xc_snap {
	struct timespec t;
	struct xc_sample total;
	struct xc_names names;
	struct xc_sample *reg;
};

static void xc_sample_read(const char *region, struct xc_sample *s)
{
	struct timespec t0, t1;
	char attr[400];
	double mid;
	int i;

	s->have = 0;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	for (i = 0; i < XC_NCTR; i++) {
		if (!region)
			snprintf(attr, sizeof(attr), "stats/%s", xc_ctr_files[i]);
		else if (i < XC_RESIDENT)
			snprintf(attr, sizeof(attr), "regions/%s/stats/%s",
				 region, xc_ctr_files[i]);
		else
			snprintf(attr, sizeof(attr), "regions/%s/%s", region,
				 xc_ctr_files[i]);
		if (!xc_read_u64(attr, &s->v[i]))
			s->have |= 1u << i;
	}
	clock_gettime(CLOCK_MONOTONIC, &t1);
	mid = (xc_ts(&t0) + xc_ts(&t1)) / 2;
	s->t.tv_sec = (time_t)mid;
	s->t.tv_nsec = (long)((mid - (time_t)mid) * 1e9);
}

static void xc_snap_free(struct xc_snap *s)
{
	xc_names_free(&s->names);
	free(s->reg);
	s->reg = NULL;
}

/* 0, or an exit status after a message. */
static int xc_snap_read(char **names, int n, struct xc_snap *s)
{
	size_t i;
	int ret;

	s->reg = NULL;
	ret = xc_stat_regions(names, n, &s->names);
	if (ret)
		return ret;
	s->reg = calloc(s->names.n ? s->names.n : 1, sizeof(*s->reg));
	if (!s->reg) {
		xc_names_free(&s->names);
		return xc_err("stat", ENOMEM);
	}
	clock_gettime(CLOCK_MONOTONIC, &s->t);
	xc_sample_read(NULL, &s->total);
	if (!(s->total.have & 1u << XC_FAULTS)) {
		xc_snap_free(s);
		if (access(xc_sysfs, F_OK))
			return xc_check_sysfs();
		ret = xc_read_u64("stats/faults", &s->total.v[XC_FAULTS]);
		return xc_err("stats/faults", ret ? ret : EIO);
	}
	for (i = 0; i < s->names.n; i++)
		xc_sample_read(s->names.v[i], &s->reg[i]);
	return 0;
}

/* Rates of stat -w, in the order of the columns. */
enum {
	XC_R_FAULTS, XC_R_HITS, XC_R_RA_HITS, XC_R_READ, XC_R_WRITE,
	XC_R_EVICT, XC_R_WB_ERR, XC_NRATES,
};

static const char *const xc_rate_json[XC_NRATES] = {
	"faults_per_s", "cache_hits_per_s", "readahead_hits_per_s",
	"read_mib_per_s", "write_mib_per_s", "evictions_per_s",
	"writeback_errors_per_s",
};

/* The increase of counter @i from @a to @b, false if unknown or reset. */
static bool xc_delta(const struct xc_sample *a, const struct xc_sample *b,
		     int i, double *d)
{
	unsigned int m = 1u << i;

	if (!a || !(a->have & m) || !(b->have & m) || b->v[i] < a->v[i])
		return false;
	*d = (double)(b->v[i] - a->v[i]);
	return true;
}

static void xc_rates(const struct xc_sample *a, const struct xc_sample *b,
		     double *r, bool *ok)
{
	double dt = a ? xc_ts(&b->t) - xc_ts(&a->t) : 0;

	static const int src[XC_NRATES] = {
		XC_FAULTS, XC_HITS, XC_RA_HITS, XC_BYTES_READ,
		XC_BYTES_WRITTEN, XC_EVICT_CLEAN, XC_WB_ERRORS,
	};
	double d2 = 0;
	int i;

	for (i = 0; i < XC_NRATES; i++) {
		ok[i] = dt > 0 && xc_delta(a, b, src[i], &r[i]);
		if (ok[i] && i == XC_R_EVICT) {
			ok[i] = xc_delta(a, b, XC_EVICT_DIRTY, &d2);
			r[i] += d2;
		}
		if (ok[i] && (i == XC_R_READ || i == XC_R_WRITE))
			r[i] /= 1024.0 * 1024.0;
		if (ok[i])
			r[i] /= dt;
	}
}

static void xc_rate_row(const char *name, const struct xc_sample *a,
			const struct xc_sample *b, bool json)
{
	double r[XC_NRATES];
	bool ok[XC_NRATES];
	char h[2][32];
	int i;

	xc_rates(a, b, r, ok);
	if (json) {
		for (i = 0; i < XC_NRATES; i++) {
			printf("%s\"%s\": ", i ? ", " : "", xc_rate_json[i]);
			if (ok[i])
				printf("%.3f", r[i]);
			else
				fputs("null", stdout);
		}
		for (i = XC_RESIDENT; i <= XC_DIRTY; i++) {
			printf(", \"%s\": ", xc_ctr_files[i]);
			if (b->have & 1u << i)
				printf("%" PRIu64, b->v[i]);
			else
				fputs("null", stdout);
		}
		return;
	}
	printf("%-20s", name);
	for (i = 0; i < XC_NRATES; i++) {
		if (i == XC_R_WB_ERR)
			continue;
		if (ok[i])
			printf(" %*.1f", i == XC_R_READ || i == XC_R_WRITE ?
			       10 : 9, r[i]);
		else
			printf(" %*s", i == XC_R_READ || i == XC_R_WRITE ?
			       10 : 9, "-");
	}
	for (i = 0; i < 2; i++) {
		if (b->have & 1u << (XC_RESIDENT + i))
			xc_human(b->v[XC_RESIDENT + i], h[i], sizeof(h[i]));
		else
			strcpy(h[i], "-");
	}
	printf(" %9s %9s\n", h[0], h[1]);
}

static void xc_print_rates(const struct xc_snap *a, const struct xc_snap *b,
			   bool json, bool tty)
{
	double dt = xc_ts(&b->total.t) - xc_ts(&a->total.t);
	const struct xc_sample *prev;
	char stamp[64];
	time_t now = time(NULL);
	struct tm tm;
	size_t i, j;

	if (dt <= 0)
		dt = 1e-9;
	gmtime_r(&now, &tm);
	if (json) {
		strftime(stamp, sizeof(stamp), "%Y-%m-%dT%H:%M:%SZ", &tm);
		printf("{\"time\": \"%s\", \"interval_s\": %.3f, \"total\": {",
		       stamp, dt);
		xc_rate_row("total", &a->total, &b->total, true);
		fputs("}, \"regions\": [", stdout);
	} else {
		if (tty)
			fputs("\033[H\033[J", stdout);
		strftime(stamp, sizeof(stamp), "%Y-%m-%d %H:%M:%S UTC", &tm);
		printf("%s, rates per second over %.2f s\n", stamp, dt);
		printf("%-20s %9s %9s %9s %10s %10s %9s %9s %9s\n", "REGION",
		       "faults/s", "hits/s", "ra_hits/s", "read MiB/s",
		       "write MiB/s", "evict/s", "resident", "dirty");
		xc_rate_row("(all)", &a->total, &b->total, false);
	}
	for (i = 0; i < b->names.n; i++) {
		prev = NULL;
		for (j = 0; j < a->names.n; j++)
			if (!strcmp(a->names.v[j], b->names.v[i]))
				prev = &a->reg[j];
		if (json) {
			printf("%s{\"name\": ", i ? ", " : "");
			xc_json_str(b->names.v[i]);
			fputs(", ", stdout);
		}
		xc_rate_row(b->names.v[i], prev, &b->reg[i], json);
		if (json)
			putchar('}');
	}
	if (json)
		puts("]}");
	else if (!tty)
		putchar('\n');
	fflush(stdout);
}

static volatile sig_atomic_t xc_stop;

static void xc_on_signal(int sig)
{
	(void)sig;
	xc_stop = 1;
}

/* stat -w: refresh every @interval s, @count times (0: until a signal). */
static int xc_stat_watch(char **names, int n, double interval,
			 unsigned long count, bool json)
{
	struct sigaction sa;
	struct xc_snap prev, cur;
	struct timespec next;
	bool tty = !json && isatty(STDOUT_FILENO);
	unsigned long i;
	int ret;

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = xc_on_signal;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);

	ret = xc_snap_read(names, n, &prev);
	if (ret)
		return ret;
	for (i = 0; !count || i < count; i++) {
		/*
		 * From the previous sample, not on a fixed schedule: after a
		 * stall the next interval is a whole one again, not a short
		 * catch-up.
		 */
		next = prev.t;
		next.tv_sec += (time_t)interval;
		next.tv_nsec += (long)((interval - (time_t)interval) * 1e9);
		if (next.tv_nsec >= 1000000000L) {
			next.tv_sec++;
			next.tv_nsec -= 1000000000L;
		}
		/* A signal interrupts the sleep: stop cleanly then. */
		while (!xc_stop && clock_nanosleep(CLOCK_MONOTONIC,
						   TIMER_ABSTIME, &next,
						   NULL) == EINTR)
			;
		if (xc_stop)
			break;
		ret = xc_snap_read(names, n, &cur);
		if (ret)
			break;
		xc_print_rates(&prev, &cur, json, tty);
		xc_snap_free(&prev);
		prev = cur;
	}
	xc_snap_free(&prev);
	return ret;
}

static int xc_cmd_stat(int argc, char **argv)
{
	double interval = 0;
	unsigned long count = 0;
	struct xc_names regions;
	bool json = false;
	char *end;
	int opt, i, ret;

	optind = 1;
	opterr = 0;
	while ((opt = getopt(argc, argv, "+jw:n:h")) != -1) {
		switch (opt) {
		case 'j':
			json = true;
			break;
		case 'w':
			errno = 0;
			interval = strtod(optarg, &end);
			if (errno || *end || end == optarg ||
			    !(interval >= 0.1 && interval <= 86400))
				return xc_usage_err("stat: -w %s: want seconds from 0.1 to 86400",
						    optarg);
			break;
		case 'n':
			errno = 0;
			count = strtoul(optarg, &end, 10);
			if (errno || *end || end == optarg || !count ||
			    optarg[0] == '-')
				return xc_usage_err("stat: -n %s: want a count of at least 1",
						    optarg);
			break;
		case 'h':
			xc_usage(stdout);
			exit(XC_EXIT_OK);
		default:
			if (optopt == 'w' || optopt == 'n')
				return xc_usage_err("stat: -%c needs a value",
						    optopt);
			return xc_usage_err("stat: unknown option -%c",
					    optopt ? optopt : '?');
		}
	}
	if (count && !interval)
		return xc_usage_err("stat: -n needs -w");
	for (i = optind; i < argc; i++)
		if (!xc_name_valid(argv[i]))
			return xc_usage_err("stat: bad region name '%s' (1-63 of [A-Za-z0-9._-])",
					    argv[i]);
	ret = xc_check_sysfs();
	if (ret)
		return ret;
	if (interval)
		return xc_stat_watch(argv + optind, argc - optind, interval,
				     count, json);
	ret = xc_stat_regions(argv + optind, argc - optind, &regions);
	if (ret)
		return ret;
	ret = xc_stat_once(&regions, json);
	xc_names_free(&regions);
	return ret;
}

static const struct {
	const char *name;
	int (*fn)(int argc, char **argv);
} xc_cmds[] = {
	{ "version", xc_cmd_version },
	{ "appliance", xc_cmd_appliance },
	{ "placement", xc_cmd_placement },
	{ "connect", xc_cmd_connect },
	{ "disconnect", xc_cmd_disconnect },
	{ "secret", xc_cmd_secret },
	{ "status", xc_cmd_status },
	{ "stat", xc_cmd_stat },
	{ "limit", xc_cmd_limit },
	{ "region", xc_cmd_region },
};

int main(int argc, char **argv)
{
	const char *env;
	size_t i;

	env = getenv("XMEMCTL_SYSFS");
	if (env && *env)
		xc_sysfs = env;
	env = getenv("XMEMCTL_DEV");
	if (env && *env)
		xc_dev = env;

	if (argc < 2) {
		fputs("xmemctl: missing command\n", stderr);
		xc_usage(stderr);
		return XC_EXIT_USAGE;
	}
	if (!strcmp(argv[1], "-h") || !strcmp(argv[1], "--help") ||
	    !strcmp(argv[1], "help")) {
		xc_usage(stdout);
		return XC_EXIT_OK;
	}
	for (i = 0; i < sizeof(xc_cmds) / sizeof(xc_cmds[0]); i++)
		if (!strcmp(argv[1], xc_cmds[i].name))
			return xc_cmds[i].fn(argc - 1, argv + 1);
	return xc_usage_err("unknown command '%s'", argv[1]);
}
