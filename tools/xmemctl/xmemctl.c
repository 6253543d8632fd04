// SPDX-License-Identifier: GPL-2.0
/*
 * xmemctl: administer the xmem client module.
 *
 * Talks to the module only through the ioctls of /dev/xmem
 * (include/uapi/xmem.h) and the attributes in /sys/class/misc/xmem/.
 * The environment variables XMEMCTL_SYSFS and XMEMCTL_DEV replace those
 * two paths, for tests.
 *
 * Exit status: 0 success, 1 runtime error, 2 usage error.
 */
#define _GNU_SOURCE
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
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

#define XC_LIMIT_MIN	(1ULL << 20)
#define XC_VALUE_MAX	256

static const char *xc_sysfs = "/sys/class/misc/xmem";
static const char *xc_dev = "/dev/xmem";

static const char xc_usage_text[] =
"Usage: xmemctl COMMAND [ARGS]\n"
"Administer the xmem client module (external memory over RDMA).\n"
"\n"
"Commands:\n"
"  version [-j]                  module, uapi and wire protocol versions\n"
"  connect [-t SECS] ADDR:PORT   connect to an appliance and wait up to SECS\n"
"                                (default 30, 0: do not wait) until connected\n"
"  disconnect                    drop the appliance connection\n"
"  secret FILE|-|--clear         set the shared secret for the appliance from\n"
"                                FILE or stdin (never an argument), or clear it\n"
"  status [-j]                   state, appliance, local_limit, appliance totals\n"
"  stat [-j]                     the module's counters (stats/)\n"
"  limit [BYTES]                 show or set local_limit (at least 1M)\n"
"  region create [-j] [-m MODE] NAME SIZE\n"
"                                create a region (mode in octal, default 600)\n"
"                                and attach it here; fails if it exists\n"
"  region attach [-j] NAME       attach an existing region to this client\n"
"  region detach NAME            write back, drop and forget it here\n"
"  region resize [-w] NAME SIZE  grow or shrink it (-w: write back the removed\n"
"                                range first instead of discarding it)\n"
"  region destroy NAME           free it on the appliance\n"
"  region list [-j]              every region of the appliance\n"
"  region show [-j] NAME         one region: owner, mode, users, local use\n"
"\n"
"  -j          print JSON\n"
"  -h, --help  this help\n"
"\n"
"SIZE and BYTES take K, M, G or T suffixes (powers of 2).  NAME is 1 to 63\n"
"characters of [A-Za-z0-9._-].  Exit status: 0 ok, 1 error, 2 usage error.\n";

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

/* Read attribute @attr into @buf without the trailing newline; errno or 0. */
static int xc_read_attr(const char *attr, char *buf, size_t len)
{
	char path[4096];
	ssize_t n;
	int fd, err;

	snprintf(path, sizeof(path), "%s/%s", xc_sysfs, attr);
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

/* Fail early, and clearly, when the module is not there. */
static int xc_check_sysfs(void)
{
	if (!access(xc_sysfs, F_OK))
		return 0;
	fprintf(stderr, "xmemctl: %s: %s (is the xmem module loaded?)\n",
		xc_sysfs, strerror(errno));
	return XC_EXIT_ERR;
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

/* A value in JSON: a number if it is one, a string otherwise. */
static void xc_json_val(const char *s)
{
	if (xc_is_number(s) && strlen(s) < 20)
		fputs(s, stdout);
	else
		xc_json_str(s);
}

/* ---- /dev/xmem --------------------------------------------------------- */

static int xc_open_dev(void)
{
	int fd = open(xc_dev, O_RDWR | O_CLOEXEC);

	if (fd < 0) {
		fprintf(stderr, "xmemctl: %s: %s%s\n", xc_dev, strerror(errno),
			errno == ENOENT ? " (is the xmem module loaded?)" : "");
		return -1;
	}
	return fd;
}

/* ---- commands ---------------------------------------------------------- */

static int xc_cmd_version(int argc, char **argv)
{
	struct xmem_version v;
	bool json = false;
	int fd, ret;

	ret = xc_opts(argc, argv, &json, NULL);
	if (ret || (ret = xc_nargs(argc, argv, 0, 0)))
		return ret;
	fd = xc_open_dev();
	if (fd < 0)
		return XC_EXIT_ERR;
	memset(&v, 0, sizeof(v));
	ret = ioctl(fd, XMEM_IOC_VERSION, &v);
	ret = ret ? errno : 0;
	close(fd);
	if (ret)
		return xc_err("version", ret);
	if (json) {
		printf("{\"xmemctl_uapi\": \"%d.%d\", \"module_uapi\": \"%u.%u\", \"protocol\": \"%u.%u\"}\n",
		       XMEM_UAPI_MAJOR, XMEM_UAPI_MINOR, v.major, v.minor,
		       v.proto_major, v.proto_minor);
		return XC_EXIT_OK;
	}
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
	if (xc_check_sysfs())
		return XC_EXIT_ERR;
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
	if (xc_check_sysfs())
		return XC_EXIT_ERR;
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
		if (xc_check_sysfs())
			return XC_EXIT_ERR;
		ret = xc_write_attr("secret", "\n");
		return ret ? xc_err("secret --clear", ret) : XC_EXIT_OK;
	}
	ret = xc_opts(argc, argv, NULL, NULL);
	if (ret || (ret = xc_nargs(argc, argv, 1, 1)))
		return ret;
	if (xc_check_sysfs())
		return XC_EXIT_ERR;
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
	if (xc_check_sysfs())
		return XC_EXIT_ERR;
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
	if (json)
		puts("}");
	return err ? xc_err("status", err) : XC_EXIT_OK;
}

static int xc_strcmp(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static int xc_cmd_stat(int argc, char **argv)
{
	char val[XC_VALUE_MAX], attr[300], dirpath[4096];
	char **names = NULL, **tmp;
	size_t n = 0, cap = 0, i;
	struct dirent *de;
	bool json = false;
	int ret, status = XC_EXIT_OK;
	DIR *dir;

	ret = xc_opts(argc, argv, &json, NULL);
	if (ret || (ret = xc_nargs(argc, argv, 0, 0)))
		return ret;
	if (xc_check_sysfs())
		return XC_EXIT_ERR;
	snprintf(dirpath, sizeof(dirpath), "%s/stats", xc_sysfs);
	dir = opendir(dirpath);
	if (!dir)
		return xc_err(dirpath, errno);
	while ((de = readdir(dir))) {
		if (de->d_name[0] == '.')
			continue;
		if (n == cap) {
			cap = cap ? 2 * cap : 32;
			tmp = realloc(names, cap * sizeof(*names));
			if (!tmp)
				goto err_nomem;
			names = tmp;
		}
		names[n] = strdup(de->d_name);
		if (!names[n])
			goto err_nomem;
		n++;
	}
	closedir(dir);
	if (n)
		qsort(names, n, sizeof(*names), xc_strcmp);

	if (json)
		putchar('{');
	for (i = 0; i < n; i++) {
		snprintf(attr, sizeof(attr), "stats/%s", names[i]);
		ret = xc_read_attr(attr, val, sizeof(val));
		if (ret) {
			fflush(stdout);
			xc_err(attr, ret);
			status = XC_EXIT_ERR;
		}
		if (json) {
			printf("%s", i ? ", " : "");
			xc_json_str(names[i]);
			fputs(": ", stdout);
			if (ret)
				fputs("null", stdout);
			else
				xc_json_val(val);
		} else if (!ret) {
			printf("%-18s %s\n", names[i], val);
		}
		free(names[i]);
	}
	if (json)
		puts("}");
	free(names);
	return status;

err_nomem:
	closedir(dir);
	while (n)
		free(names[--n]);
	free(names);
	return xc_err("stat", ENOMEM);
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
		if (xc_check_sysfs())
			return XC_EXIT_ERR;
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
	if (xc_check_sysfs())
		return XC_EXIT_ERR;
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
	int fd, err = 0;

	fd = xc_open_dev();
	if (fd < 0)
		return XC_EXIT_ERR;
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
	int fd, err = 0;

	fd = xc_open_dev();
	if (fd < 0)
		return XC_EXIT_ERR;
	memset(&op, 0, sizeof(op));
	strcpy(op.name, name);
	op.size = size;
	op.flags = flags;
	if (ioctl(fd, cmd, &op))
		err = errno;
	close(fd);
	if (err == EBUSY && cmd != XMEM_IOC_RESIZE)
		fprintf(stderr, "xmemctl: %s: region in use (open or mapped here, or attached by another client)\n",
			what);
	else if (err)
		return xc_err(what, err);
	return err ? XC_EXIT_ERR : XC_EXIT_OK;
}

static void xc_print_entry(const struct xmem_region_entry *e, bool json,
			   bool table)
{
	bool att = e->flags & XMEM_ENTRY_ATTACHED;

	if (json) {
		printf("{\"name\": ");
		xc_json_str(e->name);
		printf(", \"region_id\": %llu, \"size\": %llu, \"uid\": %u, \"gid\": %u, \"mode\": \"%04o\", \"users\": %u, \"attached\": %s, \"resident_bytes\": %llu, \"appliance\": ",
		       (unsigned long long)e->region_id,
		       (unsigned long long)e->size, e->uid, e->gid, e->mode,
		       e->users, att ? "true" : "false",
		       (unsigned long long)e->resident_bytes);
		xc_json_str(e->appliance);
		putchar('}');
		return;
	}
	if (table) {
		printf("%-24s %6llu %14llu %6u %6u %04o %5u %-8s %s\n", e->name,
		       (unsigned long long)e->region_id,
		       (unsigned long long)e->size, e->uid, e->gid, e->mode,
		       e->users, att ? "yes" : "no", e->appliance);
		return;
	}
	printf("name       %s\n", e->name);
	printf("region_id  %llu\n", (unsigned long long)e->region_id);
	printf("size       %llu\n", (unsigned long long)e->size);
	printf("owner      %u\n", e->uid);
	printf("group      %u\n", e->gid);
	printf("mode       %04o\n", e->mode);
	printf("users      %u\n", e->users);
	printf("attached   %s\n", att ? "yes" : "no");
	printf("resident   %llu\n", (unsigned long long)e->resident_bytes);
	printf("appliance  %s\n", e->appliance);
}

/* List every region, or show the one named @name (NULL: all). */
static int xc_region_list(const char *what, const char *name, bool json)
{
	struct xmem_region_entry e[XMEM_LIST_MAX];
	struct xmem_region_list l;
	unsigned int i, n = 0;
	int fd, err = 0;
	bool found = false;

	fd = xc_open_dev();
	if (fd < 0)
		return XC_EXIT_ERR;
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
			if (name) {
				if (strcmp(e[i].name, name))
					continue;
				xc_print_entry(&e[i], json, false);
				if (json)
					putchar('\n');
				found = true;
				break;
			}
			if (json && n)
				fputs(", ", stdout);
			xc_print_entry(&e[i], json, true);
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
		"show",
	};
	/* Operands of each subcommand, in the order of @names. */
	static const int nops[] = { 2, 1, 1, 2, 1, 0, 1 };
	const char *sub, *name = NULL;
	uint32_t mode = 0, flags = 0;
	bool json = false, jok, mok, wok;
	char what[300], *end;
	uint64_t size = 0;
	unsigned long m;
	unsigned int k;
	long psize;
	int opt;

	if (argc < 2)
		return xc_usage_err("region: missing subcommand (create, attach, detach, resize, destroy, list or show)");
	argc--;
	argv++;
	sub = argv[0];
	for (k = 0; k < sizeof(names) / sizeof(names[0]); k++)
		if (!strcmp(sub, names[k]))
			break;
	if (k == sizeof(names) / sizeof(names[0]))
		return xc_usage_err("region: unknown subcommand '%s'", sub);
	jok = k == 0 || k == 1 || k == 5 || k == 6;
	mok = k == 0;
	wok = k == 3;

	optind = 1;
	opterr = 0;
	while ((opt = getopt(argc, argv, "+jm:wh")) != -1) {
		switch (opt) {
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
	if (nops[k] == 2) {
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
		return xc_region(what, name, 0, 0, 0, json);
	case 2:
		return xc_region_op(what, XMEM_IOC_DETACH, name, 0, 0);
	case 3:
		return xc_region_op(what, XMEM_IOC_RESIZE, name, size, flags);
	case 4:
		return xc_region_op(what, XMEM_IOC_DESTROY, name, 0, 0);
	case 5:
		return xc_region_list(what, NULL, json);
	default:
		return xc_region_list(what, name, json);
	}
}

static const struct {
	const char *name;
	int (*fn)(int argc, char **argv);
} xc_cmds[] = {
	{ "version", xc_cmd_version },
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
