// SPDX-License-Identifier: GPL-2.0
/*
 * xmem_plugin.so: checkpoint/restore of processes and containers whose
 * memory is on xmem mappings, with CRIU's plugin API (Debian 12: CRIU
 * 3.17.1; the model is CRIU's plugins/amdgpu).
 *
 * Dump (the tasks are frozen):
 *   HANDLE_DEVICE_VMA  a mapping of a region node /dev/xmem.d/NAME: write
 *		the region back (fsync of CRIU's file of the mapping, bound to
 *		the same region) and let CRIU record only the mapping's file
 *		name (which names the region) and page offset, not its data.
 *		The node is recognised by its device number, looked up in
 *		/sys/class/misc/xmem*\/dev.  A mapping of /dev/xmem itself
 *		(of a file bound by ATTACH) names no region, and CRIU's file
 *		of it (from /proc/PID/map_files) is a new, unbound one: every
 *		region attached on this client is written back and its window
 *		recorded, once per dump, and the restore finds the region by
 *		the offset CRIU records, which lies in its window.
 *   DUMP_EXT_FILE	an open file of /dev/xmem or of a node: write the
 *		region back and record its name in xmem-file-ID.img.
 * Restore:
 *   UPDATE_VMA_MAP	attach NAME by name through /dev/xmem (device minors
 *		differ between hosts, and a container's /dev may hold a stale
 *		node) and give CRIU that file to map at the same address and
 *		page offset.  For a mapping of /dev/xmem, NAME is the region
 *		whose window at dump holds the mapping's offset.  The region
 *		is never created: if it is gone the restore fails, with a log
 *		line naming the region.
 *   RESTORE_EXT_FILE	reopen the file bound to its region.
 * A region this restore attached and nobody uses is detached again if the
 * restore fails (CR_PLUGIN_STAGE__RESTORE exit), so nothing is left behind.
 *
 * Install as /usr/lib/criu/xmem_plugin.so, or give its directory with
 * criu -L.  Documentation/snapshots.rst describes its use.
 */
#define _GNU_SOURCE
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include <criu/criu-plugin.h>

#include "uapi/xmem.h"

/* CRIU's log (criu-log.h needs headers Debian does not ship). */
extern void print_on_level(unsigned int loglevel, const char *format, ...)
	__attribute__((format(printf, 2, 3)));
#define XP_ERR	1
#define XP_INFO	3
#define pr_err(fmt, ...) print_on_level(XP_ERR, "xmem: " fmt, ##__VA_ARGS__)
#define pr_info(fmt, ...) print_on_level(XP_INFO, "xmem: " fmt, ##__VA_ARGS__)

#define XP_SYSFS	"/sys/class/misc"
#define XP_DEV		"/dev/xmem"
#define XP_NODE_PREFIX	"dev/xmem.d/"
#define XP_FILE_MAGIC	"xmem-file 1"
#define XP_REGION_MAGIC	"xmem-region 1"

static int xp_valid_name(const char *name)
{
	size_t len = strlen(name), i;

	if (!len || len >= XMEM_REGION_NAME_MAX)
		return 0;
	for (i = 0; i < len; i++)
		if (!isalnum((unsigned char)name[i]) && !strchr("._-", name[i]))
			return 0;
	return 1;
}

/*
 * xp_lookup - which xmem misc device is @rdev
 * @rdev: a character device number
 * @name: out, the region's name for a node xmem.NAME, "" for /dev/xmem
 *
 * Return: 1 if @rdev is an xmem device, 0 if not, -errno.
 */
static int xp_lookup(dev_t rdev, char name[XMEM_REGION_NAME_MAX])
{
	unsigned int maj, min;
	struct dirent *de;
	char path[512];
	int found = 0;
	DIR *d;
	FILE *f;

	d = opendir(XP_SYSFS);
	if (!d)
		return -errno;
	while (!found && (de = readdir(d))) {
		const char *n = de->d_name;

		if (strcmp(n, "xmem") && strncmp(n, "xmem.", 5))
			continue;
		snprintf(path, sizeof(path), XP_SYSFS "/%s/dev", n);
		f = fopen(path, "r");
		if (!f)
			continue;
		if (fscanf(f, "%u:%u", &maj, &min) == 2 &&
		    makedev(maj, min) == rdev &&
		    strlen(n) < XMEM_REGION_NAME_MAX + 5) {
			strcpy(name, n[4] ? n + 5 : "");
			found = 1;
		}
		fclose(f);
	}
	closedir(d);
	return found;
}

/* 1 and the region's name if @fd is a file of an xmem device, 0, -errno. */
static int xp_fd_region(int fd, const struct stat *st,
			char name[XMEM_REGION_NAME_MAX])
{
	if (!S_ISCHR(st->st_mode))
		return 0;
	(void)fd;
	return xp_lookup(st->st_rdev, name);
}

/*
 * xp_base - the region's window in the module's address space
 * @fd: a file bound to the region
 * @base: out, the file offset (bytes) /proc/PID/maps shows for region
 *	offset 0
 *
 * The module moves a mapping's page offset into the region's window
 * (xmem_core.h), so the offsets CRIU records are window offsets, and the
 * window differs on another host.  A one-page mapping of offset 0 here,
 * never touched, shows the window in /proc/self/maps.
 *
 * Return: 0 or -errno.
 */
static int xp_base(int fd, unsigned long long *base)
{
	unsigned long lo, hi;
	unsigned long long off;
	char line[512];
	int ret = -ENOENT;
	long page = sysconf(_SC_PAGESIZE);
	void *p;
	FILE *f;

	p = mmap(NULL, page, PROT_READ, MAP_SHARED, fd, 0);
	if (p == MAP_FAILED)
		return -errno;
	f = fopen("/proc/self/maps", "r");
	if (!f) {
		ret = -errno;
		goto unmap;
	}
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, "%lx-%lx %*s %llx", &lo, &hi, &off) == 3 &&
		    lo == (unsigned long)p) {
			*base = off;
			ret = 0;
			break;
		}
	fclose(f);
unmap:
	munmap(p, page);
	return ret;
}

/*
 * The image of region @name, xmem-region-NAME.img: "xmem-region 1", then
 * its window at dump (the file offset, in bytes, of region offset 0) and
 * its size in bytes, one number a line.
 */
static int xp_region_image(const char *name, int flags)
{
	char img[XMEM_REGION_NAME_MAX + 32];

	if (snprintf(img, sizeof(img), "xmem-region-%s.img", name) >=
	    (int)sizeof(img)) {
		errno = ENAMETOOLONG;
		return -1;
	}
	return openat(criu_get_image_dir(), img, flags, 0600);
}

/* Forward: a new file of /dev/xmem bound to region @name. */
static int xp_attach(const char *name);

/*
 * xp_save_base - record region @name's window in its image
 * @name: a region attached on this client
 * @sync: also write the region back
 *
 * Return: 0 or -errno (logged).
 */
static int xp_save_base(const char *name, int sync)
{
	unsigned long long base = 0;
	int ret, img, fd;
	off_t size;
	FILE *f;

	/* A file of our own, read-write: CRIU's may be read-only. */
	fd = xp_attach(name);
	if (fd < 0)
		return fd;
	if (sync && fsync(fd)) {
		ret = -errno;
		close(fd);
		pr_err("region %s: write-back failed: %s\n", name,
		       strerror(-ret));
		return ret;
	}
	size = lseek(fd, 0, SEEK_END);
	ret = size < 0 ? -errno : xp_base(fd, &base);
	close(fd);
	if (ret) {
		pr_err("region %s: cannot find its window: %s\n", name,
		       strerror(-ret));
		return ret;
	}
	img = xp_region_image(name, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC);
	if (img < 0 || !(f = fdopen(img, "w"))) {
		ret = -errno;
		if (img >= 0)
			close(img);
		goto err;
	}
	fprintf(f, XP_REGION_MAGIC "\n%llu\n%llu\n", base,
		(unsigned long long)size);
	if (!fclose(f))
		return 0;
	ret = -errno;
err:
	pr_err("region %s: cannot write its image: %s\n", name,
	       strerror(-ret));
	return ret;
}

/*
 * xp_load_base - the window and size of region @name at dump
 * @name: the region
 * @base: out, its window (bytes)
 * @size: out, its size in bytes
 * @quiet: do not log a missing image
 *
 * Return: 0, -ENOENT if it has no image, -EINVAL if the image is bad.
 */
static int xp_load_base(const char *name, unsigned long long *base,
			unsigned long long *size, int quiet)
{
	char magic[32];
	int img, ok;
	FILE *f;

	img = xp_region_image(name, O_RDONLY | O_CLOEXEC);
	if (img < 0 || !(f = fdopen(img, "r"))) {
		if (!quiet)
			pr_err("region %s: no image xmem-region-%s.img: %s\n",
			       name, name, strerror(errno));
		if (img >= 0)
			close(img);
		return -ENOENT;
	}
	ok = fgets(magic, sizeof(magic), f) &&
	     !strcmp(magic, XP_REGION_MAGIC "\n") &&
	     fscanf(f, "%llu %llu", base, size) == 2 && *size;
	fclose(f);
	if (!ok) {
		pr_err("region %s: bad image xmem-region-%s.img\n", name,
		       name);
		return -EINVAL;
	}
	return 0;
}

/* Forward: calls @fn for each region attached here. */
static int xp_each_attached(int fd, void (*fn)(int fd, const char *name));

/* The first error of xp_save_one() in this dump, 0 if none. */
static int xp_save_err;

static void xp_save_one(int fd, const char *name)
{
	int ret;

	(void)fd;
	ret = xp_save_base(name, 1);
	if (ret && !xp_save_err)
		xp_save_err = ret;
}

/*
 * xp_save_all - write back every region attached here, record its window
 *
 * For mappings of /dev/xmem: which region such a mapping is bound to is
 * not known at dump (CRIU's file of it is a new, unbound file), so every
 * region attached on this client is written back and its window
 * recorded, once per dump; the restore finds a mapping's region by the
 * window holding its offset.
 *
 * Return: 0 or -errno (logged).
 */
static int xp_save_all(void)
{
	static int done;
	int fd, ret;

	if (done)
		return xp_save_err;
	done = 1;
	fd = open(XP_DEV, O_RDWR | O_CLOEXEC);
	if (fd < 0) {
		xp_save_err = -errno;
		pr_err("cannot open " XP_DEV ": %s\n", strerror(errno));
		return xp_save_err;
	}
	ret = xp_each_attached(fd, xp_save_one);
	close(fd);
	if (ret && !xp_save_err) {
		xp_save_err = ret;
		pr_err("cannot list the regions: %s\n", strerror(-ret));
	}
	return xp_save_err;
}

static int xp_handle_device_vma(int fd, const struct stat *st)
{
	char name[XMEM_REGION_NAME_MAX];
	int ret;

	ret = xp_fd_region(fd, st, name);
	if (ret <= 0)
		return ret ? ret : -ENOTSUP;
	if (!name[0]) {
		ret = xp_save_all();
		if (ret)
			return ret;
		pr_info("a mapping of " XP_DEV ": every attached region written back; dumped by its window\n");
		return 0;
	}
	/* CRIU's file of the mapping is bound to the same region. */
	if (fsync(fd)) {
		ret = -errno;
		pr_err("region %s: write-back failed: %s\n", name,
		       strerror(errno));
		return ret;
	}
	ret = xp_save_base(name, 0);
	if (ret)
		return ret;
	pr_info("region %s written back; its mapping is dumped by name\n",
		name);
	return 0;
}

/*
 * NAME of "/dev/xmem.d/NAME" (any number of '/' anywhere), or NULL; @buf
 * gets @path without its leading and repeated '/'.
 */
static const char *xp_path_region(const char *path, char *buf, size_t len)
{
	size_t i = 0;

	for (; *path && i + 1 < len; path++)
		if (*path != '/' || (i && buf[i - 1] != '/'))
			buf[i++] = *path;
	buf[i] = '\0';
	if (strncmp(buf, XP_NODE_PREFIX, strlen(XP_NODE_PREFIX)))
		return NULL;
	return buf + strlen(XP_NODE_PREFIX);
}

/* A new file of /dev/xmem bound to existing region @name, or -errno. */
static int xp_attach(const char *name)
{
	struct xmem_attach at;
	int fd, err;

	fd = open(XP_DEV, O_RDWR | O_CLOEXEC);
	if (fd < 0) {
		err = -errno;
		pr_err("region %s: cannot open " XP_DEV ": %s\n", name,
		       strerror(errno));
		return err;
	}
	memset(&at, 0, sizeof(at));
	strcpy(at.name, name);
	if (ioctl(fd, XMEM_IOC_ATTACH, &at)) {
		err = -errno;
		pr_err("region %s cannot be attached: %s%s\n", name,
		       strerror(errno), errno == ENOENT ?
		       " (it no longer exists on the appliances)" : "");
		close(fd);
		return err;
	}
	return fd;
}

/*
 * xp_window_region - the region whose window at dump holds @off
 * @off: a mapping's file offset (bytes) recorded at dump
 * @name: out, the region's name
 *
 * Return: 0, -ENOENT if no region image holds @off, -errno.
 */
static int xp_window_region(unsigned long long off,
			    char name[XMEM_REGION_NAME_MAX])
{
	unsigned long long base, size;
	const char *n;
	struct dirent *de;
	size_t len;
	int fd, ret = -ENOENT;
	DIR *d;

	fd = dup(criu_get_image_dir());
	if (fd < 0)
		return -errno;
	d = fdopendir(fd);
	if (!d) {
		close(fd);
		return -errno;
	}
	rewinddir(d);
	while (ret == -ENOENT && (de = readdir(d))) {
		n = de->d_name;
		len = strlen(n);
		if (strncmp(n, "xmem-region-", 12) || len < 17 ||
		    strcmp(n + len - 4, ".img") ||
		    len - 16 >= XMEM_REGION_NAME_MAX)
			continue;
		memcpy(name, n + 12, len - 16);
		name[len - 16] = '\0';
		if (!xp_valid_name(name) ||
		    xp_load_base(name, &base, &size, 1))
			continue;
		if (off >= base && off - base < size)
			ret = 0;
	}
	closedir(d);
	return ret;
}

/*
 * The file handed to CRIU by the previous UPDATE_VMA_MAP call in this
 * task: CRIU dup()s it at once or not at all, so it is closed at the next
 * call.
 */
static int xp_last_fd = -1;

static int xp_update_vma_map(const char *path, const uint64_t addr,
			     const uint64_t old_pgoff, uint64_t *new_pgoff,
			     int *plugin_fd)
{
	char buf[PATH_MAX], dev_name[XMEM_REGION_NAME_MAX];
	unsigned long long base, size;
	const char *name;
	int fd, ret;

	name = xp_path_region(path, buf, sizeof(buf));
	if (!name && strcmp(buf, XP_DEV + 1))
		return -ENOTSUP;
	if (xp_last_fd >= 0) {
		close(xp_last_fd);
		xp_last_fd = -1;
	}
	if (!name) {
		/* A mapping of /dev/xmem: its offset names the region. */
		ret = xp_window_region(old_pgoff, dev_name);
		if (ret) {
			pr_err("mapping of " XP_DEV " at %#llx: offset %#llx is in no region's window recorded at dump: %s\n",
			       (unsigned long long)addr,
			       (unsigned long long)old_pgoff, strerror(-ret));
			return ret == -ENOENT ? -EINVAL : ret;
		}
		name = dev_name;
	}
	if (!xp_valid_name(name)) {
		pr_err("mapping at %#llx: bad region name in %s\n",
		       (unsigned long long)addr, path);
		return -EINVAL;
	}
	ret = xp_load_base(name, &base, &size, 0);
	if (ret)
		return ret;
	/* CRIU's "pgoff" is the file offset in bytes, as in /proc/PID/maps. */
	if (old_pgoff < base || old_pgoff - base >= size) {
		pr_err("region %s: mapping at %#llx: offset %#llx outside the region's window %#llx\n",
		       name, (unsigned long long)addr,
		       (unsigned long long)old_pgoff, base);
		return -EINVAL;
	}
	fd = xp_attach(name);
	if (fd < 0) {
		pr_err("region %s: mapping at %#llx not restored\n", name,
		       (unsigned long long)addr);
		return fd;
	}
	pr_info("region %s attached for the mapping at %#llx, region offset %#llx\n",
		name, (unsigned long long)addr,
		(unsigned long long)(old_pgoff - base));
	xp_last_fd = fd;
	*new_pgoff = old_pgoff - base;
	*plugin_fd = fd;
	return 1;
}

/* xmem-file-ID.img in the image directory: the region of an open file. */
static int xp_image(int id, int flags)
{
	char img[64];

	snprintf(img, sizeof(img), "xmem-file-%d.img", id);
	return openat(criu_get_image_dir(), img, flags, 0600);
}

/* The name of the region @fd (a /dev/xmem file) is bound to, "" if none. */
static int xp_bound_name(int fd, char name[XMEM_REGION_NAME_MAX])
{
	struct xmem_region_entry e[XMEM_LIST_MAX];
	struct xmem_region_info info;
	struct xmem_region_list l;
	unsigned int i, found = 0;

	memset(&info, 0, sizeof(info));
	name[0] = '\0';
	if (ioctl(fd, XMEM_IOC_INFO, &info))
		return errno == EINVAL ? 0 : -errno;	/* EINVAL: unbound */
	/* Ids are per appliance: the name must be unambiguous here. */
	memset(&l, 0, sizeof(l));
	do {
		l.entries = (uintptr_t)e;
		l.count = XMEM_LIST_MAX;
		if (ioctl(fd, XMEM_IOC_LIST, &l))
			return -errno;
		for (i = 0; i < l.count; i++) {
			if (e[i].region_id != info.region_id ||
			    !(e[i].flags & XMEM_ENTRY_ATTACHED))
				continue;
			if (found++)
				return -ENOTUNIQ;
			strcpy(name, e[i].name);
		}
	} while (l.count);
	return found ? 0 : -ENOENT;
}

static int xp_dump_file(int fd, int id)
{
	char name[XMEM_REGION_NAME_MAX];
	struct stat st;
	int ret, img;
	FILE *f;

	if (fstat(fd, &st))
		return -errno;
	ret = xp_fd_region(fd, &st, name);
	if (ret <= 0)
		return ret ? ret : -ENOTSUP;
	if (!name[0]) {
		ret = xp_bound_name(fd, name);
		if (ret) {
			pr_err("file %d of " XP_DEV ": its region cannot be named: %s\n",
			       id, strerror(-ret));
			return ret;
		}
	}
	if (name[0] && fsync(fd)) {
		ret = -errno;
		pr_err("region %s: write-back failed: %s\n", name,
		       strerror(errno));
		return ret;
	}
	img = xp_image(id, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC);
	if (img < 0 || !(f = fdopen(img, "w"))) {
		ret = -errno;
		if (img >= 0)
			close(img);
		pr_err("file %d: cannot write its image: %s\n", id,
		       strerror(-ret));
		return ret;
	}
	fprintf(f, XP_FILE_MAGIC "\n%s\n", name);
	if (fclose(f)) {
		ret = -errno;
		pr_err("file %d: cannot write its image: %s\n", id,
		       strerror(-ret));
		return ret;
	}
	pr_info("file %d: %s%s\n", id, name[0] ? "region " : "unbound " XP_DEV,
		name);
	return 0;
}

static int xp_restore_file(int id)
{
	char magic[32], name[XMEM_REGION_NAME_MAX + 2] = "";
	int img, fd;
	FILE *f;

	img = xp_image(id, O_RDONLY | O_CLOEXEC);
	if (img < 0)
		return errno == ENOENT ? -ENOTSUP : -errno;
	f = fdopen(img, "r");
	if (!f) {
		close(img);
		return -ENOMEM;
	}
	if (!fgets(magic, sizeof(magic), f) ||
	    strcmp(magic, XP_FILE_MAGIC "\n") ||
	    !fgets(name, sizeof(name), f)) {
		fclose(f);
		pr_err("file %d: bad image xmem-file-%d.img\n", id, id);
		return -EINVAL;
	}
	fclose(f);
	name[strcspn(name, "\n")] = '\0';
	if (!name[0]) {
		fd = open(XP_DEV, O_RDWR);
		return fd < 0 ? -errno : fd;
	}
	if (!xp_valid_name(name)) {
		pr_err("file %d: bad region name in its image\n", id);
		return -EINVAL;
	}
	fd = xp_attach(name);
	if (fd < 0)
		return fd;
	/* CRIU installs the file as is: no close-on-exec unless dumped so. */
	if (fcntl(fd, F_SETFD, 0)) {
		close(fd);
		return -errno;
	}
	return fd;
}

/* Regions attached on this client when the restore began. */
static char (*xp_before)[XMEM_REGION_NAME_MAX];
static unsigned int xp_nbefore;

/* Calls @fn for each region attached here; -errno if listing fails. */
static int xp_each_attached(int fd, void (*fn)(int fd, const char *name))
{
	struct xmem_region_entry e[XMEM_LIST_MAX];
	struct xmem_region_list l;
	unsigned int i;

	memset(&l, 0, sizeof(l));
	do {
		l.entries = (uintptr_t)e;
		l.count = XMEM_LIST_MAX;
		if (ioctl(fd, XMEM_IOC_LIST, &l))
			return -errno;
		for (i = 0; i < l.count; i++)
			if (e[i].flags & XMEM_ENTRY_ATTACHED)
				fn(fd, e[i].name);
	} while (l.count);
	return 0;
}

static void xp_note(int fd, const char *name)
{
	void *p = realloc(xp_before, (xp_nbefore + 1) * sizeof(*xp_before));

	(void)fd;
	if (!p)
		return;
	xp_before = p;
	strcpy(xp_before[xp_nbefore++], name);
}

/* A region this failed restore attached: detach it (EBUSY if in use). */
static void xp_undo(int fd, const char *name)
{
	struct xmem_region_op op;
	unsigned int i;

	for (i = 0; i < xp_nbefore; i++)
		if (!strcmp(xp_before[i], name))
			return;
	memset(&op, 0, sizeof(op));
	strcpy(op.name, name);
	if (ioctl(fd, XMEM_IOC_DETACH, &op))
		pr_err("region %s: not detached after the failed restore: %s\n",
		       name, strerror(errno));
	else
		pr_info("region %s detached: the restore failed\n", name);
}

static int xp_init(int stage)
{
	int fd;

	if (stage != CR_PLUGIN_STAGE__RESTORE)
		return 0;
	/* No module here: nothing to note; mappings will fail clearly. */
	fd = open(XP_DEV, O_RDWR | O_CLOEXEC);
	if (fd < 0)
		return 0;
	xp_each_attached(fd, xp_note);
	close(fd);
	return 0;
}

static void xp_exit(int stage, int ret)
{
	int fd;

	if (stage == CR_PLUGIN_STAGE__RESTORE && ret) {
		fd = open(XP_DEV, O_RDWR | O_CLOEXEC);
		if (fd >= 0) {
			xp_each_attached(fd, xp_undo);
			close(fd);
		}
	}
	free(xp_before);
	xp_before = NULL;
	xp_nbefore = 0;
}

CR_PLUGIN_REGISTER("xmem", xp_init, xp_exit)
CR_PLUGIN_REGISTER_HOOK(CR_PLUGIN_HOOK__HANDLE_DEVICE_VMA, xp_handle_device_vma)
CR_PLUGIN_REGISTER_HOOK(CR_PLUGIN_HOOK__UPDATE_VMA_MAP, xp_update_vma_map)
CR_PLUGIN_REGISTER_HOOK(CR_PLUGIN_HOOK__DUMP_EXT_FILE, xp_dump_file)
CR_PLUGIN_REGISTER_HOOK(CR_PLUGIN_HOOK__RESTORE_EXT_FILE, xp_restore_file)
