// SPDX-License-Identifier: GPL-2.0
/*
 * xmemd: the xmem memory appliance.
 *
 * Hands out named regions of its memory to xmem clients over RDMA.  A
 * client connects with RDMA CM (include/xmem_proto.h), asks for a region
 * by name with XMEM_MSG_ATTACH_REQ and then moves data itself with
 * one-sided RDMA READ and WRITE; the daemon only answers control messages.
 *
 * Regions live as long as the daemon, not as long as a connection: any
 * client may attach the same name later and gets the same memory.
 *
 * One thread runs everything from a poll() loop over the RDMA CM event
 * channel, one completion channel per RDMA device, a signalfd and the
 * eventfd of the pulls, so no state below needs a lock.  The exception is
 * XMEM_MSG_PULL_REQ (appliance-to-appliance copy): each pull runs a worker
 * thread that touches only its struct xmemd_pull, handed back and forth
 * under that struct's lock; see "PULL" below.
 */
#define _GNU_SOURCE
#include <endian.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <ifaddrs.h>
#include <inttypes.h>
#include <limits.h>
#include <netdb.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <sys/random.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <netinet/in.h>

#include <infiniband/verbs.h>
#include <rdma/rdma_cma.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include "xmem_proto.h"
#include "wirec.h"

/* Receive buffers (and thus requests in flight) per connection at most. */
#define XMEMD_CREDITS		16
/*
 * Receive buffers are larger than XMEM_MSG_MAX_SIZE so that a peer that
 * sends a slightly oversized message gets an XMEM_MSG_ERROR_REP instead of
 * a broken connection.
 */
#define XMEMD_RX_SIZE		1024
#define XMEMD_PAGE_SIZE		4096ULL
/* The largest region the xmem client accepts (xmem_wire.h). */
#define XMEMD_REGION_MAX	(1ULL << 40)
#define XMEMD_MAX_CONNS		1024
#define XMEMD_BACKLOG		64
#define XMEMD_HASH_SIZE		1024
/* Work request ids: receives are slot numbers, sends carry this bit. */
#define XMEMD_WR_SEND		(1ULL << 32)
/* Peer-triggered error lines: a burst of this many, then one a second. */
#define XMEMD_LOG_BURST		64
#define XMEMD_CONFIG		"/etc/xmem/xmemd.conf"
/* --temp-grace at most: a day; a region nobody uses is pinned meanwhile. */
#define XMEMD_TEMP_GRACE_MAX	86400u
/*
 * --sole-grace: at least twice the lease a client trusts its hold for
 * (see XMEM_ATTACH_F_SOLE), at most an hour, during which nobody else
 * may write the region.
 */
#define XMEMD_SOLE_GRACE_MIN	(2 * XMEM_SOLE_LEASE_SEC)
#define XMEMD_SOLE_GRACE_MAX	3600u
#define XMEMD_SOLE_GRACE_DEF	(3 * XMEM_SOLE_LEASE_SEC)

/**
 * struct xmemd_dev - state kept per RDMA device (ibv_context)
 * @next: list of devices
 * @verbs: the device context, owned by librdmacm
 * @cc: completion channel of every CQ on this device
 * @attr: the device's limits
 * @refs: connections using this device
 * @dead: the device was removed; freed when @refs drops to zero
 */
struct xmemd_dev {
	struct xmemd_dev *next;
	struct ibv_context *verbs;
	struct ibv_comp_channel *cc;
	struct ibv_device_attr attr;
	unsigned int refs;
	bool dead;
};

/**
 * struct xmemd_key - a registration of a region for one attachment
 * @next: the attachment's registrations, the current one first
 * @mr: the memory region, in the connection's protection domain
 * @retired: registration from before the region grew and moved; it
 *	still covers the old range (same pages), so the client holding its
 *	key keeps working until it attaches again.  Deregistered on a
 *	shrink, a detach or when the connection goes.
 */
struct xmemd_key {
	struct xmemd_key *next;
	struct ibv_mr *mr;
	bool retired;
};

/**
 * struct xmemd_att - a region attached to a connection
 * @rnext: the region's attachments
 * @cnext: the connection's attachments
 * @r: the region
 * @conn: the connection
 * @keys: registrations of @r in @conn's protection domain; the remote
 *	keys handed to that client, valid on its queue pair only
 * @read_only: attached with XMEM_ATTACH_F_READ (protocol minor 9): @keys
 *	allow RDMA READ only, and the attachment does not stand in the way
 *	of a hold (XMEM_ATTACH_F_SOLE)
 *
 * Every connection has its own protection domain, so a key is useless on
 * any other connection; and it goes with the attachment (DETACH, DESTROY,
 * a shrink, the connection's end), so a client keeps no access to a
 * region it no longer has attached.
 */
struct xmemd_att {
	struct xmemd_att *rnext;
	struct xmemd_att *cnext;
	struct xmemd_region *r;
	struct xmemd_conn *conn;
	struct xmemd_key *keys;
	bool read_only;
};

/**
 * struct xmemd_grant - a host, or one user of it, that may attach a region
 *	it does not own
 * @host: the host, a name as XMEM_MSG_AUTH_HOST_REQ gives it
 * @has_uid: for @uid of @host only; else for every user of @host, through
 *	the region's mode
 * @uid: the user
 */
struct xmemd_grant {
	char host[XMEM_HOST_MAX];
	bool has_uid;
	uint32_t uid;
};

/**
 * struct xmemd_region - a named region of appliance memory
 * @next: hash chain
 * @atts: the connections that have it attached, with their keys
 * @mem: the memory, anonymous and zero filled at creation
 * @id: appliance-wide identifier, never 0 and never reused
 * @size: size in bytes, a multiple of XMEMD_PAGE_SIZE
 * @host: the host the creating client authenticated as (conn->host);
 *	whose quota the region counts against
 * @uid: owner, the user the creating client acted for
 * @gid: the owner's group
 * @mode: permission bits (XMEM_REGION_MODE_MASK)
 * @grants: other hosts (or users of them) that may attach it
 *	(XMEM_MSG_GRANT_REQ); the first @ngrants are used
 * @ngrants: entries of @grants in use
 * @users: connections that have it attached
 * @fd: with --dir, the open file holding the memory (NAME.region); else -1
 * @busy: copies and pulls in flight that read or write @mem from a
 *	worker thread: resize and destroy wait (EBUSY) until it is 0
 * @temp: temporary (XMEM_COPY_F_TEMP, protocol minor 8): xmemd destroys
 *	it by itself once no connection has it attached (see "temporary
 *	regions" below), and it does not outlive the daemon: with --dir its
 *	files go at exit, and a start removes them instead of loading them
 * @temp_deadline: with @temp, while no connection has it attached: when
 *	it is destroyed (xmemd_now() seconds), or once @busy drops to 0 if
 *	that is later; 0 while attached
 * @temp_why: why it lost its last attachment, for the log line of its end
 * @sole: the connection that holds it alone (XMEM_ATTACH_F_SOLE, protocol
 *	minor 9), or NULL; see "holds" below
 * @sole_token: the token of its hold, the holder's choice; nonzero while
 *	held by @sole or in the hold's grace.  Saved in the .meta file.
 * @sole_until: with @sole NULL and @sole_token set, the hold's grace
 *	ends then (xmemd_now() seconds); see xmemd_held()
 * @name: NUL terminated name
 */
struct xmemd_region {
	struct xmemd_region *next;
	struct xmemd_att *atts;
	void *mem;
	uint64_t id;
	uint64_t size;
	char host[XMEM_HOST_MAX];
	uint32_t uid;
	uint32_t gid;
	uint32_t mode;
	struct xmemd_grant grants[XMEM_GRANT_MAX];
	unsigned int ngrants;
	uint32_t users;
	int fd;
	unsigned int busy;
	bool temp;
	double temp_deadline;
	const char *temp_why;
	struct xmemd_conn *sole;
	uint64_t sole_token;
	double sole_until;
	char name[XMEM_NAME_MAX];
};

/**
 * struct xmemd_pending - a received request not answered yet
 * @slot: its receive buffer, not reposted until it is answered
 * @len: bytes received
 */
struct xmemd_pending {
	unsigned int slot;
	uint32_t len;
};

/**
 * struct xmemd_conn - one client connection
 * @next: list of connections
 * @id: the RDMA CM id; its context points back here
 * @dev: device the connection runs on
 * @pd: the connection's own protection domain: its queue pair, buffers
 *	and the registrations of the regions it attached
 * @cq: completion queue for sends and receives
 * @mr: registration of @buf
 * @buf: @credits receive buffers of XMEMD_RX_SIZE bytes, then @ntx send
 *	buffers of XMEM_MSG_MAX_SIZE bytes
 * @credits: receive buffers posted, as announced to the client
 * @ntx: send buffers
 * @tx_free: stack of free send buffer indices, @tx_nfree of them
 * @tx_nfree: entries on @tx_free
 * @pending: requests waiting for a free send buffer, oldest first
 * @npending: entries in @pending
 * @failed: an error occurred; wait for the disconnect, process nothing
 * @auth: authentication state: XMEMD_AUTH_* (XMEMD_AUTH_DONE with
 *	--insecure)
 * @minor: protocol minor version the client announced
 * @host: the host the client authenticated as: a name of the --hosts
 *	list, XMEMD_HOST_SHARED (the shared secret) or XMEMD_HOST_NONE
 *	(--insecure); chosen at step 1, valid once @auth is DONE; after
 *	XMEM_MSG_ACT_FOR_REQ the host acted for
 * @deputy: after XMEM_MSG_ACT_FOR_REQ, the host that authenticated (an
 *	appliance acting for @host); else empty
 * @key: the key of step 1 (a copy: a reload may drop the host meanwhile)
 * @key_len: its length
 * @cnonce: the client's nonce of step 1
 * @anonce: our nonce of step 1
 * @nr: connection number for the log
 * @requests: requests handled
 * @log_tokens: peer-triggered log lines allowed now
 * @log_stamp: time @log_tokens was last refilled
 * @log_dropped: lines suppressed since the last one printed
 * @peer: the client's address, for the log
 * @atts: the regions this connection attached
 */
struct xmemd_conn {
	struct xmemd_conn *next;
	struct rdma_cm_id *id;
	struct xmemd_dev *dev;
	struct ibv_pd *pd;
	struct ibv_cq *cq;
	struct ibv_mr *mr;
	uint8_t *buf;
	unsigned int credits;
	unsigned int ntx;
	unsigned int *tx_free;
	unsigned int tx_nfree;
	struct xmemd_pending *pending;
	unsigned int npending;
	bool failed;
	int auth;
	uint16_t minor;
	char host[XMEM_HOST_MAX];
	char deputy[XMEM_HOST_MAX];
	uint8_t key[XMEM_AUTH_SECRET_MAX];
	size_t key_len;
	uint8_t cnonce[XMEM_AUTH_NONCE_SIZE];
	uint8_t anonce[XMEM_AUTH_NONCE_SIZE];
	unsigned long long nr;
	unsigned long long requests;
	unsigned int log_tokens;
	time_t log_stamp;
	unsigned long log_dropped;
	char peer[NI_MAXHOST + NI_MAXSERV + 4];
	struct xmemd_att *atts;
};

/**
 * struct xmemd_host - a client host of the --hosts allow-list
 * @name: its name, as its clients send it in XMEM_MSG_AUTH_HOST_REQ
 * @key: its key, never logged
 * @key_len: the key's length
 * @act_for: "act-for" on its line: another appliance, which may act for
 *	the client hosts it copies regions for (XMEM_MSG_ACT_FOR_REQ)
 */
struct xmemd_host {
	char name[XMEM_HOST_MAX];
	uint8_t key[XMEM_AUTH_SECRET_MAX];
	size_t key_len;
	bool act_for;
};

/* Connections authenticated with the shared secret, or not at all. */
#define XMEMD_HOST_SHARED	"(shared-secret)"
#define XMEMD_HOST_NONE		"(insecure)"

/**
 * struct xmemd_audit - refusals counted for the status line (SIGUSR1)
 * @bad_credential: authentication refused: unknown or revoked host,
 *	wrong proof, no credentials
 * @refused_attach: ATTACH refused for permission
 * @quota: requests refused for a quota
 * @tokens: audit log lines allowed now (all connections together)
 * @stamp: when @tokens was last refilled
 * @dropped: lines suppressed since the last one printed
 */
struct xmemd_audit {
	unsigned long long bad_credential;
	unsigned long long refused_attach;
	unsigned long long quota;
	unsigned int tokens;
	time_t stamp;
	unsigned long dropped;
};

/*
 * Everything the daemon knows; only the main loop touches it.  Pull
 * workers read @secret, @secret_len, @identity, @verbose, @pull_efd,
 * @pull_chunk, @pull_depth and @debug_hold, which do not change once the
 * loop runs.  @identity is this appliance's own name and key on other
 * appliances' --hosts lists (--identity), for its pulls; empty name:
 * none.  @sole_grace is --sole-grace.  @temp_grace is --temp-grace;
 * @temp_next the earliest deadline of
 * a temporary region that nobody has attached and that is not busy, or 0
 * for none (it may be early: the sweep then finds nothing and looks again).
 */
static struct {
	struct rdma_event_channel *ec;
	struct rdma_cm_id *listen_id;
	struct sockaddr_storage bind_addr;
	const char *bind_str;
	uint16_t port;
	struct xmemd_dev *devs;
	struct xmemd_conn *conns;
	unsigned int nconns;
	unsigned long long next_conn_nr;
	struct xmemd_region *regions[XMEMD_HASH_SIZE];
	uint64_t nregions;
	uint64_t allocated;
	uint64_t capacity;
	uint64_t next_region_id;
	bool verbose;
	bool relisten_logged;
	const char *dir;
	int dirfd;
	uint8_t secret[XMEM_AUTH_SECRET_MAX];
	size_t secret_len;
	bool insecure;
	const char *hosts_file;
	struct xmemd_host *hosts;
	unsigned int nhosts;
	struct xmemd_host identity;
	struct xmemd_audit audit;
	int pull_efd;
	uint32_t pull_chunk;
	unsigned int pull_depth;
	const char *debug_hold;
	const char *control;
	int control_fd;
	unsigned int temp_grace;
	double temp_next;
	unsigned int sole_grace;
} xmemd = { .dirfd = -1, .pull_efd = -1, .control_fd = -1 };

/* Authentication states of a connection. */
enum {
	XMEMD_AUTH_NONE,	/* nothing yet: only AUTH step 1 is served */
	XMEMD_AUTH_CHALLENGED,	/* step 1 answered: step 2 expected */
	XMEMD_AUTH_DONE,	/* authenticated, or no secret configured */
	XMEMD_AUTH_FAILED,	/* wrong proof: everything refused */
};

static const char *xmemd_prog = "xmemd";

__attribute__((format(printf, 2, 0)))
static void xmemd_vlog(const char *prefix, const char *fmt, va_list ap)
{
	char line[1024];
	char stamp[32];
	struct timespec ts;
	struct tm tm;
	int n;

	clock_gettime(CLOCK_REALTIME, &ts);
	localtime_r(&ts.tv_sec, &tm);
	strftime(stamp, sizeof(stamp), "%Y-%m-%dT%H:%M:%S", &tm);
	n = snprintf(line, sizeof(line), "%s.%03ld xmemd: %s", stamp,
		     ts.tv_nsec / 1000000, prefix);
	if (n < 0 || (size_t)n >= sizeof(line))
		n = 0;
	vsnprintf(line + n, sizeof(line) - n, fmt, ap);
	/* One write per line, so lines never interleave in a shared log. */
	fprintf(stderr, "%s\n", line);
}

__attribute__((format(printf, 1, 2)))
static void xmemd_log(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	xmemd_vlog("", fmt, ap);
	va_end(ap);
}

#define xmemd_dbg(...)					\
	do {						\
		if (xmemd.verbose)			\
			xmemd_log(__VA_ARGS__);		\
	} while (0)

__attribute__((format(printf, 2, 3)))
static void xmemd_conn_log(const struct xmemd_conn *conn, const char *fmt, ...)
{
	char prefix[sizeof(conn->peer) + 32];
	va_list ap;

	snprintf(prefix, sizeof(prefix), "conn %llu %s: ", conn->nr,
		 conn->peer);
	va_start(ap, fmt);
	xmemd_vlog(prefix, fmt, ap);
	va_end(ap);
}

/*
 * Log a line a peer can trigger at will: rate limited per connection to a
 * burst of XMEMD_LOG_BURST lines, refilled at one line a second.
 */
/*
 * A token bucket for lines a peer can trigger: a burst of XMEMD_LOG_BURST,
 * then one a second.  True when a line may go out (a token is taken);
 * false counts it in *@dropped.
 */
static bool xmemd_ratelimit(unsigned int *tokens, time_t *stamp,
			    unsigned long *dropped)
{
	time_t now = time(NULL);

	if (now > *stamp) {
		uint64_t add = (uint64_t)(now - *stamp);

		*tokens = add >= XMEMD_LOG_BURST ? XMEMD_LOG_BURST :
			*tokens + (unsigned int)add;
		if (*tokens > XMEMD_LOG_BURST)
			*tokens = XMEMD_LOG_BURST;
		*stamp = now;
	}
	if (!*tokens) {
		(*dropped)++;
		return false;
	}
	(*tokens)--;
	return true;
}

__attribute__((format(printf, 2, 3)))
static void xmemd_conn_err(struct xmemd_conn *conn, const char *fmt, ...)
{
	char prefix[sizeof(conn->peer) + 32];
	va_list ap;

	if (!xmemd_ratelimit(&conn->log_tokens, &conn->log_stamp,
			     &conn->log_dropped))
		return;
	if (conn->log_dropped) {
		xmemd_conn_log(conn, "%lu error lines suppressed",
			       conn->log_dropped);
		conn->log_dropped = 0;
	}
	snprintf(prefix, sizeof(prefix), "conn %llu %s: ", conn->nr,
		 conn->peer);
	va_start(ap, fmt);
	xmemd_vlog(prefix, fmt, ap);
	va_end(ap);
}

static const char *xmemd_errname(int err)
{
	switch (err) {
	case 0:		return "OK";
	case EINVAL:	return "EINVAL";
	case ENOENT:	return "ENOENT";
	case EEXIST:	return "EEXIST";
	case ENOMEM:	return "ENOMEM";
	case EBADMSG:	return "EBADMSG";
	case EPROTO:	return "EPROTO";
	case EOPNOTSUPP: return "EOPNOTSUPP";
	case EBUSY:	return "EBUSY";
	case EACCES:	return "EACCES";
	case ECONNREFUSED: return "ECONNREFUSED";
	case EHOSTUNREACH: return "EHOSTUNREACH";
	case ECONNRESET: return "ECONNRESET";
	case ETIMEDOUT:	return "ETIMEDOUT";
	case EIO:	return "EIO";
	case ECANCELED:	return "ECANCELED";
	default:	return "error";
	}
}

/* Print up to @n bytes of untrusted @src into @dst, escaping oddities. */
static const char *xmemd_escape(char *dst, size_t dstlen, const char *src,
				size_t n)
{
	size_t o = 0, i;

	for (i = 0; i < n && src[i] && o + 5 < dstlen; i++) {
		unsigned char c = src[i];

		if (c >= 0x20 && c < 0x7f && c != '\\' && c != '\'')
			dst[o++] = c;
		else
			o += snprintf(dst + o, dstlen - o, "\\x%02x", c);
	}
	dst[o] = '\0';
	return dst;
}

static int xmemd_set_nonblock(int fd)
{
	int fl = fcntl(fd, F_GETFL);

	if (fl < 0 || fcntl(fd, F_SETFL, fl | O_NONBLOCK) < 0)
		return -1;
	return 0;
}

/* ---- regions ----------------------------------------------------------- */

static unsigned int xmemd_hash(const char *name)
{
	uint32_t h = 2166136261u;	/* FNV-1a */

	while (*name) {
		h ^= (unsigned char)*name++;
		h *= 16777619u;
	}
	return h % XMEMD_HASH_SIZE;
}

static struct xmemd_region *xmemd_region_find(const char *name)
{
	struct xmemd_region *r;

	for (r = xmemd.regions[xmemd_hash(name)]; r; r = r->next)
		if (!strcmp(r->name, name))
			return r;
	return NULL;
}

/*
 * A valid name is 1 to XMEM_NAME_MAX - 1 characters of [A-Za-z0-9._-],
 * NUL padded to the end of the field, and not "." or "..".
 */
static bool xmemd_name_valid(const char name[XMEM_NAME_MAX])
{
	size_t len = strnlen(name, XMEM_NAME_MAX);
	size_t i;

	if (len == 0 || len == XMEM_NAME_MAX)
		return false;
	for (i = 0; i < len; i++) {
		char c = name[i];

		if (!(c >= 'a' && c <= 'z') && !(c >= 'A' && c <= 'Z') &&
		    !(c >= '0' && c <= '9') && c != '.' && c != '_' &&
		    c != '-')
			return false;
	}
	for (; i < XMEM_NAME_MAX; i++)
		if (name[i])
			return false;
	return strcmp(name, ".") && strcmp(name, "..");
}

/* ---- persistence (--dir) ----------------------------------------------- */

static struct xmemd_region *xmemd_region_by_id(uint64_t id);
static double xmemd_now(void);

/*
 * With --dir, region NAME lives in two files of the directory: NAME.region
 * holds its memory (mapped MAP_SHARED, so RDMA writes land in the file's
 * pages) and NAME.meta its identity, as "key value" lines: version, id,
 * uid, gid, mode; host and grants if it has them; "temp yes" for a
 * temporary region, whose files a start removes; "sole TOKEN" for a region
 * held alone (protocol 1.9), which a start holds for --sole-grace seconds
 * for the holder to come back.  The size is the data
 * file's.  xmemd.next-id keeps the id counter, so ids are never reused
 * across restarts.  Names cannot contain '/', and every file ends in
 * .region or .meta (or is xmemd.next-id, or a *.tmp being written), so no
 * two regions' files collide.
 */
#define XMEMD_META_VERSION	1

static void xmemd_file_name(char *buf, size_t len, const char *name,
			    const char *suffix)
{
	snprintf(buf, len, "%s%s", name, suffix);
}

/* Write @text to @file in the directory atomically; 0 or errno. */
static int xmemd_write_atomic(const char *file, const char *text)
{
	char tmp[XMEM_NAME_MAX + 32];
	size_t len = strlen(text);
	int fd, err = 0;

	snprintf(tmp, sizeof(tmp), "%s.tmp", file);
	fd = openat(xmemd.dirfd, tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC,
		    0600);
	if (fd < 0)
		return errno;
	if (write(fd, text, len) != (ssize_t)len || fsync(fd))
		err = errno ? errno : EIO;
	if (close(fd) && !err)
		err = errno;
	if (!err && renameat(xmemd.dirfd, tmp, xmemd.dirfd, file))
		err = errno;
	if (err) {
		unlinkat(xmemd.dirfd, tmp, 0);
		xmemd_log("%s/%s: %s", xmemd.dir, file, strerror(err));
	}
	return err;
}

static int xmemd_meta_write(const struct xmemd_region *r)
{
	char file[XMEM_NAME_MAX + 16];
	char text[256 + XMEM_GRANT_MAX * (XMEM_HOST_MAX + 20)];
	unsigned int i;
	size_t n;
	int err;

	snprintf(text, sizeof(text), "%" PRIu64 "\n", xmemd.next_region_id);
	err = xmemd_write_atomic("xmemd.next-id", text);
	if (err)
		return err;
	snprintf(text, sizeof(text),
		 "version %d\nid %" PRIu64 "\nuid %u\ngid %u\nmode %o\n%s%s%s%s",
		 XMEMD_META_VERSION, r->id, r->uid, r->gid, r->mode,
		 r->host[0] ? "host " : "", r->host, r->host[0] ? "\n" : "",
		 r->temp ? "temp yes\n" : "");
	if (r->sole_token) {
		n = strlen(text);
		snprintf(text + n, sizeof(text) - n, "sole %" PRIu64 "\n",
			 r->sole_token);
	}
	for (i = 0; i < r->ngrants; i++) {
		n = strlen(text);
		if (r->grants[i].has_uid)
			snprintf(text + n, sizeof(text) - n, "grant %s %u\n",
				 r->grants[i].host, r->grants[i].uid);
		else
			snprintf(text + n, sizeof(text) - n, "grant %s *\n",
				 r->grants[i].host);
	}
	xmemd_file_name(file, sizeof(file), r->name, ".meta");
	return xmemd_write_atomic(file, text);
}

/* Map @size bytes for @r: anonymous, or its data file with --dir. */
static int xmemd_region_map(struct xmemd_region *r, uint64_t size,
			    bool create)
{
	char file[XMEM_NAME_MAX + 16];
	int err;

	r->fd = -1;
	if (!xmemd.dir) {
		/* Anonymous memory reads as zeroes; ibv_reg_mr() pins it in. */
		r->mem = mmap(NULL, size, PROT_READ | PROT_WRITE,
			      MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1,
			      0);
		return r->mem == MAP_FAILED ? ENOMEM : 0;
	}
	xmemd_file_name(file, sizeof(file), r->name, ".region");
	r->fd = openat(xmemd.dirfd, file, O_RDWR | O_CLOEXEC |
		       (create ? O_CREAT | O_EXCL : 0), 0600);
	if (r->fd < 0) {
		err = errno;
		xmemd_log("%s/%s: %s", xmemd.dir, file, strerror(err));
		return err == ENOSPC ? ENOMEM : err;
	}
	if (create && ftruncate(r->fd, size)) {
		err = errno;
		xmemd_log("%s/%s: ftruncate: %s", xmemd.dir, file,
			  strerror(err));
		goto err_unlink;
	}
	r->mem = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, r->fd,
		      0);
	if (r->mem == MAP_FAILED) {
		err = errno;
		xmemd_log("%s/%s: mmap: %s", xmemd.dir, file, strerror(err));
		goto err_unlink;
	}
	return 0;

err_unlink:
	if (create)
		unlinkat(xmemd.dirfd, file, 0);
	close(r->fd);
	r->fd = -1;
	return ENOMEM;
}

static void xmemd_region_link(struct xmemd_region *r)
{
	unsigned int h = xmemd_hash(r->name);

	r->next = xmemd.regions[h];
	xmemd.regions[h] = r;
	xmemd.nregions++;
	xmemd.allocated += r->size;
}

/* xmemd_name_valid() of a NUL-terminated string (a file name). */
static bool xmemd_name_valid_str(const char *s)
{
	char name[XMEM_NAME_MAX] = "";

	if (strlen(s) >= XMEM_NAME_MAX)
		return false;
	strcpy(name, s);
	return xmemd_name_valid(name);
}

static struct xmemd_region *xmemd_region_create(const char *name,
						uint64_t size, const char *host,
						uint32_t uid, uint32_t gid,
						uint32_t mode, int *err)
{
	char file[XMEM_NAME_MAX + 16];
	struct xmemd_region *r;

	r = calloc(1, sizeof(*r));
	if (!r) {
		*err = ENOMEM;
		return NULL;
	}
	strcpy(r->name, name);
	*err = xmemd_region_map(r, size, true);
	if (*err) {
		free(r);
		return NULL;
	}
	r->id = ++xmemd.next_region_id;
	r->size = size;
	snprintf(r->host, sizeof(r->host), "%s", host);
	r->uid = uid;
	r->gid = gid;
	r->mode = mode ? mode : XMEM_REGION_MODE_DEFAULT;
	if (xmemd.dir && xmemd_meta_write(r)) {
		munmap(r->mem, size);
		close(r->fd);
		xmemd_file_name(file, sizeof(file), name, ".region");
		unlinkat(xmemd.dirfd, file, 0);
		free(r);
		*err = ENOMEM;
		return NULL;
	}
	xmemd_region_link(r);
	return r;
}

/* A "grant HOST UID|*" line of NAME.meta; bad lines are ignored. */
static void xmemd_meta_grant(struct xmemd_region *r, const char *line)
{
	struct xmemd_grant *g;
	char host[XMEM_HOST_MAX], who[16];
	unsigned long v;
	char *end;

	if (r->ngrants >= XMEM_GRANT_MAX ||
	    sscanf(line, "%*s %63s %15s", host, who) != 2 ||
	    !xmemd_name_valid_str(host))
		return;
	g = &r->grants[r->ngrants];
	memset(g, 0, sizeof(*g));
	if (strcmp(who, "*")) {
		errno = 0;
		v = strtoul(who, &end, 10);
		if (errno || *end || v > UINT32_MAX)
			return;
		g->has_uid = true;
		g->uid = v;
	}
	strcpy(g->host, host);
	r->ngrants++;
}

/* Parse NAME.meta into @r; 0 or -1 with a log line. */
static int xmemd_meta_read(struct xmemd_region *r)
{
	char file[XMEM_NAME_MAX + 16], line[256], key[16];
	unsigned long long v;
	unsigned int seen = 0, ver = 0;
	FILE *f;
	int fd;

	xmemd_file_name(file, sizeof(file), r->name, ".meta");
	fd = openat(xmemd.dirfd, file, O_RDONLY | O_CLOEXEC);
	f = fd >= 0 ? fdopen(fd, "r") : NULL;
	if (!f) {
		xmemd_log("%s/%s: %s", xmemd.dir, file, strerror(errno));
		if (fd >= 0)
			close(fd);
		return -1;
	}
	while (fgets(line, sizeof(line), f)) {
		if (sscanf(line, "%15s", key) != 1)
			continue;
		if (!strcmp(key, "grant")) {
			xmemd_meta_grant(r, line);
			continue;
		}
		if (!strcmp(key, "temp")) {
			r->temp = true;
			continue;
		}
		if (!strcmp(key, "host")) {
			/* Optional: regions from before hosts have none. */
			if (sscanf(line, "%*s %63s", r->host) != 1)
				r->host[0] = '\0';
			continue;
		}
		if (!strcmp(key, "mode")) {
			if (sscanf(line, "%*s %llo", &v) == 1 &&
			    v <= XMEM_REGION_MODE_MASK) {
				r->mode = v;
				seen |= 1;
			}
			continue;
		}
		if (sscanf(line, "%*s %llu", &v) != 1)
			continue;
		if (!strcmp(key, "sole") && v) {
			/* Its holder may come back: hold it for the grace. */
			r->sole_token = v;
			r->sole_until = xmemd_now() + xmemd.sole_grace;
		} else if (!strcmp(key, "version")) {
			ver = v;
		} else if (!strcmp(key, "id") && v) {
			r->id = v;
			seen |= 2;
		} else if (!strcmp(key, "uid") && v <= UINT32_MAX) {
			r->uid = v;
			seen |= 4;
		} else if (!strcmp(key, "gid") && v <= UINT32_MAX) {
			r->gid = v;
			seen |= 8;
		}
	}
	fclose(f);
	if (ver != XMEMD_META_VERSION || seen != 15) {
		xmemd_log("%s/%s: not a version %d region description; skipped",
			  xmemd.dir, file, XMEMD_META_VERSION);
		return -1;
	}
	return 0;
}

/* Re-export one region found in the directory; @name is its name. */
static void xmemd_region_load(const char *name)
{
	char file[XMEM_NAME_MAX + 16];
	struct xmemd_region *r;
	struct stat st;

	if (!xmemd_name_valid_str(name) || xmemd_region_find(name)) {
		xmemd_log("%s: ignoring %s.meta: bad or duplicate name",
			  xmemd.dir, name);
		return;
	}
	r = calloc(1, sizeof(*r));
	if (!r)
		return;
	strcpy(r->name, name);
	if (xmemd_meta_read(r))
		goto err_free;
	if (r->temp) {
		/* Nobody can have it attached any more: it goes, as it would have. */
		xmemd_file_name(file, sizeof(file), name, ".region");
		unlinkat(xmemd.dirfd, file, 0);
		xmemd_file_name(file, sizeof(file), name, ".meta");
		unlinkat(xmemd.dirfd, file, 0);
		xmemd_log("region %" PRIu64 " '%s': temporary, not kept across a restart: %s/%s.region and .meta removed",
			  r->id, r->name, xmemd.dir, r->name);
		goto err_free;
	}
	if (xmemd_region_by_id(r->id)) {
		xmemd_log("%s: %s.meta: id %" PRIu64 " used twice; skipped",
			  xmemd.dir, name, r->id);
		goto err_free;
	}
	xmemd_file_name(file, sizeof(file), name, ".region");
	if (fstatat(xmemd.dirfd, file, &st, 0) || !st.st_size ||
	    st.st_size % XMEMD_PAGE_SIZE ||
	    (uint64_t)st.st_size > XMEMD_REGION_MAX) {
		xmemd_log("%s/%s: missing, or size not a multiple of 4096 up to 1 TiB; skipped",
			  xmemd.dir, file);
		goto err_free;
	}
	r->size = st.st_size;
	if (xmemd_region_map(r, r->size, false))
		goto err_free;
	if (r->id > xmemd.next_region_id)
		xmemd.next_region_id = r->id;
	xmemd_region_link(r);
	xmemd_log("region %" PRIu64 " '%s': %" PRIu64 " bytes, owner %u:%u mode %04o, from %s/%s",
		  r->id, r->name, r->size, r->uid, r->gid, r->mode, xmemd.dir,
		  file);
	return;

err_free:
	free(r);
}

/* Open --dir and re-export every region in it; 0 or -1. */
static int xmemd_load_dir(void)
{
	char name[XMEM_NAME_MAX + 16], buf[64];
	struct dirent *de;
	size_t len;
	DIR *d;
	int fd;

	if (mkdir(xmemd.dir, 0700) && errno != EEXIST) {
		xmemd_log("--dir %s: %s", xmemd.dir, strerror(errno));
		return -1;
	}
	xmemd.dirfd = open(xmemd.dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (xmemd.dirfd < 0) {
		xmemd_log("--dir %s: %s", xmemd.dir, strerror(errno));
		return -1;
	}
	fd = openat(xmemd.dirfd, "xmemd.next-id", O_RDONLY | O_CLOEXEC);
	if (fd >= 0) {
		ssize_t n = read(fd, buf, sizeof(buf) - 1);

		if (n > 0) {
			buf[n] = '\0';
			xmemd.next_region_id = strtoull(buf, NULL, 10);
		}
		close(fd);
	}
	fd = openat(xmemd.dirfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	d = fd >= 0 ? fdopendir(fd) : NULL;
	if (!d) {
		xmemd_log("--dir %s: %s", xmemd.dir, strerror(errno));
		return -1;
	}
	while ((de = readdir(d))) {
		len = strlen(de->d_name);
		if (len <= 5 || len - 5 >= XMEM_NAME_MAX ||
		    strcmp(de->d_name + len - 5, ".meta"))
			continue;
		memcpy(name, de->d_name, len - 5);
		name[len - 5] = '\0';
		xmemd_region_load(name);
	}
	closedir(d);
	if (xmemd.allocated > xmemd.capacity)
		xmemd_log("--dir %s: regions hold %" PRIu64 " bytes, above the capacity of %" PRIu64,
			  xmemd.dir, xmemd.allocated, xmemd.capacity);
	return 0;
}

/* Deregister the keys of @att, or only its retired ones. */
static void xmemd_att_drop_keys(struct xmemd_att *att, bool retired_only)
{
	struct xmemd_key **pp = &att->keys, *k;

	while ((k = *pp)) {
		if (retired_only && !k->retired) {
			pp = &k->next;
			continue;
		}
		*pp = k->next;
		ibv_dereg_mr(k->mr);
		free(k);
	}
}

/* @r's holder went: the hold stays for --sole-grace seconds. */
static void xmemd_hold_lapse(struct xmemd_region *r)
{
	r->sole = NULL;
	r->sole_until = xmemd_now() + xmemd.sole_grace;
}

/* Is @r held: by a connection, or in the grace of its holder's end. */
static bool xmemd_held(const struct xmemd_region *r)
{
	return r->sole ||
	       (r->sole_token && xmemd_now() < r->sole_until);
}

/* Unlink @att from its region and connection, drop its keys, free it. */
static void xmemd_att_free(struct xmemd_att *att)
{
	struct xmemd_att **pp;

	for (pp = &att->r->atts; *pp != att; pp = &(*pp)->rnext)
		;
	*pp = att->rnext;
	for (pp = &att->conn->atts; *pp != att; pp = &(*pp)->cnext)
		;
	*pp = att->cnext;
	/*
	 * DETACH, DESTROY, the connection's end and shutdown all come here:
	 * the hold goes into its grace (a restart finds it in the .meta
	 * file); DETACH and DESTROY end it for good.
	 */
	if (att->r->sole == att->conn)
		xmemd_hold_lapse(att->r);
	if (att->r->users)
		att->r->users--;
	xmemd_att_drop_keys(att, false);
	free(att);
}

static struct xmemd_att *xmemd_att_find(const struct xmemd_conn *conn,
					const struct xmemd_region *r)
{
	struct xmemd_att *att;

	for (att = conn->atts; att; att = att->cnext)
		if (att->r == r)
			return att;
	return NULL;
}

/*
 * Free @r; with @remove (a DESTROY) its files go too, else (shutdown) they
 * stay for the next start.
 */
static void xmemd_region_free(struct xmemd_region *r, bool remove)
{
	struct xmemd_region **pp = &xmemd.regions[xmemd_hash(r->name)];
	char file[XMEM_NAME_MAX + 16];

	while (*pp != r)
		pp = &(*pp)->next;
	*pp = r->next;
	while (r->atts)
		xmemd_att_free(r->atts);
	munmap(r->mem, r->size);
	if (r->fd >= 0) {
		close(r->fd);
		if (remove) {
			xmemd_file_name(file, sizeof(file), r->name, ".meta");
			unlinkat(xmemd.dirfd, file, 0);
			xmemd_file_name(file, sizeof(file), r->name, ".region");
			unlinkat(xmemd.dirfd, file, 0);
		}
	}
	xmemd.nregions--;
	xmemd.allocated -= r->size;
	free(r);
}

/* ---- temporary regions (XMEM_COPY_F_TEMP, protocol minor 8) ------------- */

/*
 * A temporary region is destroyed by xmemd itself, as a DESTROY would
 * (memory, files and quota freed), when nobody needs it: at once when a
 * DETACH leaves it attached by no connection; xmemd.temp_grace seconds
 * after the end of the last connection that had it attached, or after the
 * answer to the COPY that made it, unless some connection attaches it
 * meanwhile.  A copy or pull in flight on it (@busy) puts that off until
 * it ends.  Deadlines are kept on the regions; the main loop sleeps in
 * poll() until the earliest one at most (xmemd.temp_next) and then
 * sweeps: no thread, no timer.
 */

/* Destroy temporary region @r as a DESTROY would; log once, with @why. */
static void xmemd_temp_destroy(struct xmemd_region *r, const char *why)
{
	xmemd_log("region %" PRIu64 " '%s': temporary, destroyed: %s (%" PRIu64
		  " bytes; %" PRIu64 " regions, %" PRIu64 " of %" PRIu64
		  " bytes in use)", r->id, r->name, why, r->size,
		  xmemd.nregions - 1, xmemd.allocated - r->size,
		  xmemd.capacity);
	xmemd_region_free(r, true);
}

/* Let the sweep know of @r's deadline, if it has one that may pass. */
static void xmemd_temp_arm(const struct xmemd_region *r)
{
	if (!r->temp || r->users || r->busy || !r->temp_deadline)
		return;
	if (!xmemd.temp_next || r->temp_deadline < xmemd.temp_next)
		xmemd.temp_next = r->temp_deadline;
}

/*
 * Nobody has @r attached any more (or yet): if it is temporary, it goes
 * @grace seconds from now (0: at the next sweep, at the end of this turn
 * of the main loop) unless it is attached again; @why goes to the log.
 */
static void xmemd_temp_unused(struct xmemd_region *r, unsigned int grace,
			      const char *why)
{
	if (!r->temp || r->users)
		return;
	r->temp_deadline = xmemd_now() + grace;
	r->temp_why = why;
	xmemd_temp_arm(r);
}

/* A copy or pull in flight on @r ended. */
static void xmemd_region_unbusy(struct xmemd_region *r)
{
	r->busy--;
	xmemd_temp_arm(r);
}

/*
 * Destroy every temporary region past its deadline that nobody has
 * attached and no copy holds, and note the next deadline.
 */
static void xmemd_temp_sweep(void)
{
	struct xmemd_region *r, *next;
	double now, first = 0;
	unsigned int h;

	if (!xmemd.temp_next)
		return;
	now = xmemd_now();
	if (now < xmemd.temp_next)
		return;
	for (h = 0; h < XMEMD_HASH_SIZE; h++) {
		for (r = xmemd.regions[h]; r; r = next) {
			next = r->next;
			if (!r->temp || r->users || r->busy ||
			    !r->temp_deadline)
				continue;
			if (r->temp_deadline <= now) {
				xmemd_temp_destroy(r, r->temp_why);
				continue;
			}
			if (!first || r->temp_deadline < first)
				first = r->temp_deadline;
		}
	}
	xmemd.temp_next = first;
}

/* The poll() timeout in ms: @ms, or less to meet the next deadline. */
static int xmemd_temp_timeout(int ms)
{
	double left;
	int t;

	if (!xmemd.temp_next)
		return ms;
	left = (xmemd.temp_next - xmemd_now()) * 1000;
	/* Rounded up, so that the sweep does not wake up just before it. */
	t = left <= 0 ? 0 : left >= INT_MAX - 1 ? INT_MAX : (int)left + 1;
	return ms < 0 || t < ms ? t : ms;
}

/*
 * Change the size of @r; 0 or a positive errno.  A grow may move the
 * memory (mremap): the keys of every attachment then retire, still
 * covering the old range's pages, so clients go on with their keys until
 * they attach again.  A shrink deregisters every key first, since any
 * registration pins the removed range, then unmaps it: its memory is
 * freed at once.  New keys are made by xmemd_conn_attach().
 */
static int xmemd_region_resize(struct xmemd_region *r, uint64_t size)
{
	struct xmemd_att *att;
	struct xmemd_key *k;
	void *mem;

	if (size == r->size)
		return 0;
	if (size > r->size) {
		if (size - r->size > xmemd.capacity - xmemd.allocated)
			return ENOMEM;
		if (r->fd >= 0 && ftruncate(r->fd, size)) {
			xmemd_log("region %" PRIu64 " '%s': ftruncate: %s",
				  r->id, r->name, strerror(errno));
			return ENOMEM;
		}
		mem = mremap(r->mem, r->size, size, MREMAP_MAYMOVE);
		if (mem == MAP_FAILED) {
			if (r->fd >= 0 && ftruncate(r->fd, r->size))
				xmemd_log("region %" PRIu64 " '%s': ftruncate back: %s",
					  r->id, r->name, strerror(errno));
			return ENOMEM;
		}
		for (att = r->atts; att; att = att->rnext)
			for (k = att->keys; k; k = k->next)
				k->retired = true;
		xmemd.allocated += size - r->size;
	} else {
		for (att = r->atts; att; att = att->rnext)
			xmemd_att_drop_keys(att, false);
		if (munmap((char *)r->mem + size, r->size - size))
			xmemd_log("region %" PRIu64 " '%s': munmap: %s", r->id,
				  r->name, strerror(errno));
		/* The file's blocks of the removed range go too. */
		if (r->fd >= 0 && ftruncate(r->fd, size))
			xmemd_log("region %" PRIu64 " '%s': ftruncate: %s",
				  r->id, r->name, strerror(errno));
		mem = r->mem;
		xmemd.allocated -= r->size - size;
	}
	r->mem = mem;
	r->size = size;
	return 0;
}

static struct xmemd_region *xmemd_region_by_id(uint64_t id)
{
	struct xmemd_region *r;
	unsigned int h;

	for (h = 0; h < XMEMD_HASH_SIZE; h++)
		for (r = xmemd.regions[h]; r; r = r->next)
			if (r->id == id)
				return r;
	return NULL;
}

/* The region with the smallest id above @cursor, or NULL. */
static struct xmemd_region *xmemd_region_next(uint64_t cursor)
{
	struct xmemd_region *r, *best = NULL;
	unsigned int h;

	for (h = 0; h < XMEMD_HASH_SIZE; h++)
		for (r = xmemd.regions[h]; r; r = r->next)
			if (r->id > cursor && (!best || r->id < best->id))
				best = r;
	return best;
}

/*
 * The host recorded as the owner of a region @conn creates: its host, or
 * none for a client of an --insecure daemon, which proved no identity.
 * A region without a host belongs to every host, so that regions made
 * while the daemon ran --insecure stay reachable, by uid and mode, once it
 * authenticates its clients (as those of a daemon before hosts do).
 */
static const char *xmemd_owner_host(const struct xmemd_conn *conn)
{
	return strcmp(conn->host, XMEMD_HOST_NONE) ? conn->host : "";
}

/*
 * Is @host the host that owns @r?  A region without a host (written by an
 * xmemd before hosts) belongs to every host.
 */
static bool xmemd_host_owns(const struct xmemd_region *r, const char *host)
{
	return !r->host[0] || !strcmp(r->host, host);
}

/* The grant of @r to @host (and @uid, for a per-user one), or NULL. */
static const struct xmemd_grant *
xmemd_grant_find(const struct xmemd_region *r, const char *host,
		 bool has_uid, uint32_t uid)
{
	unsigned int i;

	for (i = 0; i < r->ngrants; i++)
		if (!strcmp(r->grants[i].host, host) &&
		    r->grants[i].has_uid == has_uid &&
		    (!has_uid || r->grants[i].uid == uid))
			return &r->grants[i];
	return NULL;
}

/*
 * Read and write permission for @uid/@gid of @host: on the owning host, or
 * a host granted the whole region, by the mode (uid 0 always has it); a
 * user granted by uid, whatever the mode.
 */
static bool xmemd_may_attach(const struct xmemd_region *r, const char *host,
			     uint32_t uid, uint32_t gid)
{
	uint32_t need;

	if (!xmemd_host_owns(r, host)) {
		if (xmemd_grant_find(r, host, true, uid))
			return true;
		if (!xmemd_grant_find(r, host, false, 0))
			return false;
	}
	if (!uid)
		return true;
	if (uid == r->uid)
		need = 0600;
	else if (gid == r->gid)
		need = 0060;
	else
		need = 0006;
	return (r->mode & need) == need;
}

/* Resize, destroy, grant and revoke: the owner or uid 0 of its host. */
static bool xmemd_may_admin(const struct xmemd_region *r, const char *host,
			    uint32_t uid)
{
	return xmemd_host_owns(r, host) && (!uid || uid == r->uid);
}

/* ---- devices ----------------------------------------------------------- */

static struct xmemd_dev *xmemd_dev_get(struct ibv_context *verbs, int *err)
{
	const char *name = ibv_get_device_name(verbs->device);
	struct xmemd_dev *dev;

	for (dev = xmemd.devs; dev; dev = dev->next) {
		if (dev->verbs == verbs && !dev->dead) {
			dev->refs++;
			return dev;
		}
	}
	dev = calloc(1, sizeof(*dev));
	if (!dev) {
		*err = ENOMEM;
		return NULL;
	}
	dev->verbs = verbs;
	if (ibv_query_device(verbs, &dev->attr)) {
		*err = errno ? errno : EIO;
		xmemd_log("%s: ibv_query_device: %s", name, strerror(*err));
		goto err_free;
	}
	dev->cc = ibv_create_comp_channel(verbs);
	if (!dev->cc) {
		*err = errno ? errno : ENOMEM;
		xmemd_log("%s: ibv_create_comp_channel: %s", name,
			  strerror(*err));
		goto err_free;
	}
	if (xmemd_set_nonblock(dev->cc->fd)) {
		*err = errno;
		xmemd_log("%s: completion channel: %s", name, strerror(*err));
		goto err_destroy_cc;
	}
	dev->refs = 1;
	dev->next = xmemd.devs;
	xmemd.devs = dev;
	xmemd_log("%s: using device (max_qp_wr %d, max_cqe %d, max_qp_rd_atom %d, max_qp_init_rd_atom %d)",
		  name, dev->attr.max_qp_wr, dev->attr.max_cqe,
		  dev->attr.max_qp_rd_atom, dev->attr.max_qp_init_rd_atom);
	return dev;

err_destroy_cc:
	ibv_destroy_comp_channel(dev->cc);
err_free:
	free(dev);
	return NULL;
}

static void xmemd_dev_free(struct xmemd_dev *dev)
{
	struct xmemd_dev **pp = &xmemd.devs;

	while (*pp != dev)
		pp = &(*pp)->next;
	*pp = dev->next;
	ibv_destroy_comp_channel(dev->cc);
	free(dev);
}

/*
 * Devices stay set up while unused; a removed device is freed once its
 * last connection is gone, before librdmacm closes its context.
 */
static void xmemd_dev_put(struct xmemd_dev *dev)
{
	if (!--dev->refs && dev->dead)
		xmemd_dev_free(dev);
}

/* ---- connections ------------------------------------------------------- */

static uint8_t *xmemd_rx_buf(struct xmemd_conn *conn, unsigned int slot)
{
	return conn->buf + (size_t)slot * XMEMD_RX_SIZE;
}

static uint8_t *xmemd_tx_buf(struct xmemd_conn *conn, unsigned int tx)
{
	return conn->buf + (size_t)conn->credits * XMEMD_RX_SIZE +
		(size_t)tx * XMEM_MSG_MAX_SIZE;
}

static int xmemd_post_recv(struct xmemd_conn *conn, unsigned int slot)
{
	struct ibv_sge sge = {
		.addr = (uintptr_t)xmemd_rx_buf(conn, slot),
		.length = XMEMD_RX_SIZE,
		.lkey = conn->mr->lkey,
	};
	struct ibv_recv_wr wr = {
		.wr_id = slot,
		.sg_list = &sge,
		.num_sge = 1,
	};
	struct ibv_recv_wr *bad;

	return ibv_post_recv(conn->id->qp, &wr, &bad);
}

static int xmemd_post_send(struct xmemd_conn *conn, unsigned int tx,
			   uint32_t len)
{
	struct ibv_sge sge = {
		.addr = (uintptr_t)xmemd_tx_buf(conn, tx),
		.length = len,
		.lkey = conn->mr->lkey,
	};
	struct ibv_send_wr wr = {
		.wr_id = XMEMD_WR_SEND | tx,
		.sg_list = &sge,
		.num_sge = 1,
		.opcode = IBV_WR_SEND,
		.send_flags = IBV_SEND_SIGNALED,
	};
	struct ibv_send_wr *bad;

	return ibv_post_send(conn->id->qp, &wr, &bad);
}

/* Stop serving @conn; the DISCONNECTED event then releases it. */
static void xmemd_conn_fail(struct xmemd_conn *conn)
{
	if (conn->failed)
		return;
	conn->failed = true;
	if (rdma_disconnect(conn->id))
		xmemd_dbg("conn %llu: rdma_disconnect: %s", conn->nr,
			  strerror(errno));
}

static void xmemd_conn_link(struct xmemd_conn *conn)
{
	conn->next = xmemd.conns;
	xmemd.conns = conn;
	xmemd.nconns++;
}

static void xmemd_pull_cancel(struct xmemd_conn *conn);
static bool xmemd_pulling(const char *name);
static void xmemd_copy_forget(struct xmemd_conn *conn);

/*
 * Free everything of @conn but its CM id, which the caller destroys once
 * the event that led here is acknowledged.  Regions stay; the keys this
 * connection was handed go with its protection domain.
 */
static struct rdma_cm_id *xmemd_conn_release(struct xmemd_conn *conn)
{
	struct rdma_cm_id *id = conn->id;
	struct xmemd_conn **pp;
	struct xmemd_region *r;

	/* Its pulls go on without it and are undone when they end. */
	xmemd_pull_cancel(conn);
	xmemd_copy_forget(conn);
	for (pp = &xmemd.conns; *pp; pp = &(*pp)->next) {
		if (*pp == conn) {
			*pp = conn->next;
			xmemd.nconns--;
			break;
		}
	}
	if (id->qp)
		rdma_destroy_qp(id);
	/*
	 * No work request of the client runs any more: revoke its keys.  A
	 * temporary region nobody else has attached gets the grace period:
	 * its client may come back for it.
	 */
	while (conn->atts) {
		r = conn->atts->r;
		xmemd_att_free(conn->atts);
		xmemd_temp_unused(r, xmemd.temp_grace,
				  "its last connection ended");
	}
	if (conn->cq)
		ibv_destroy_cq(conn->cq);
	if (conn->mr)
		ibv_dereg_mr(conn->mr);
	if (conn->pd)
		ibv_dealloc_pd(conn->pd);
	free(conn->buf);
	free(conn->tx_free);
	free(conn->pending);
	if (conn->dev)
		xmemd_dev_put(conn->dev);
	id->context = NULL;
	free(conn);
	return id;
}

static void xmemd_peer_name(struct rdma_cm_id *id, char *buf, size_t len)
{
	struct sockaddr *sa = rdma_get_peer_addr(id);
	char host[NI_MAXHOST], serv[NI_MAXSERV];
	socklen_t salen;

	salen = sa->sa_family == AF_INET6 ? sizeof(struct sockaddr_in6) :
		sizeof(struct sockaddr_in);
	if (sa->sa_family != AF_INET && sa->sa_family != AF_INET6) {
		snprintf(buf, len, "(family %d)", sa->sa_family);
		return;
	}
	if (getnameinfo(sa, salen, host, sizeof(host), serv, sizeof(serv),
			NI_NUMERICHOST | NI_NUMERICSERV)) {
		snprintf(buf, len, "(unknown)");
		return;
	}
	if (sa->sa_family == AF_INET6)
		snprintf(buf, len, "[%s]:%s", host, serv);
	else
		snprintf(buf, len, "%s:%s", host, serv);
}

static void xmemd_build_hello_rep(struct xmem_hello_rep *rep,
				  unsigned int credits, int status)
{
	memset(rep, 0, sizeof(*rep));
	rep->magic = htole32(XMEM_PROTO_MAGIC);
	rep->major = htole16(XMEM_PROTO_MAJOR);
	rep->minor = htole16(XMEM_PROTO_MINOR);
	rep->credits = htole16(credits);
	rep->status = htole16(status);
}

/* Check a connection request's private data; 0 or a positive errno. */
static int xmemd_check_hello(struct xmemd_conn *conn,
			     const struct rdma_conn_param *p)
{
	struct xmem_hello hello;

	/* Transports may pad private data, never shorten it. */
	if (!p->private_data || p->private_data_len < sizeof(hello)) {
		xmemd_conn_log(conn, "rejected: private data of %u bytes, want %zu",
			       p->private_data ? p->private_data_len : 0,
			       sizeof(hello));
		return EPROTO;
	}
	memcpy(&hello, p->private_data, sizeof(hello));
	if (le32toh(hello.magic) != XMEM_PROTO_MAGIC) {
		xmemd_conn_log(conn, "rejected: bad magic 0x%08x",
			       le32toh(hello.magic));
		return EPROTO;
	}
	if (le16toh(hello.major) != XMEM_PROTO_MAJOR) {
		xmemd_conn_log(conn, "rejected: protocol %u.%u, we speak %u.x",
			       le16toh(hello.major), le16toh(hello.minor),
			       XMEM_PROTO_MAJOR);
		return EPROTO;
	}
	if (hello.reserved[0] || hello.reserved[1] || hello.reserved[2]) {
		xmemd_conn_log(conn, "rejected: reserved fields not zero");
		return EPROTO;
	}
	if (!le16toh(hello.credits)) {
		xmemd_conn_log(conn, "rejected: client announces 0 credits");
		return EPROTO;
	}
	conn->minor = le16toh(hello.minor);
	xmemd_dbg("conn %llu: hello: protocol %u.%u, %u credits", conn->nr,
		  le16toh(hello.major), le16toh(hello.minor),
		  le16toh(hello.credits));
	return 0;
}

/* Set up queues and buffers of @conn on its device; 0 or a positive errno. */
static int xmemd_conn_setup(struct xmemd_conn *conn)
{
	const struct ibv_device_attr *attr = &conn->dev->attr;
	struct ibv_qp_init_attr qpa;
	size_t buflen;
	unsigned int i;
	int err;

	/* The SQ holds 2 sends per credit, the CQ all sends and receives. */
	conn->credits = XMEMD_CREDITS;
	if (attr->max_qp_wr > 0 && conn->credits > (unsigned int)attr->max_qp_wr / 2)
		conn->credits = attr->max_qp_wr / 2;
	if (attr->max_cqe > 0 && conn->credits > (unsigned int)attr->max_cqe / 3)
		conn->credits = attr->max_cqe / 3;
	if (!conn->credits || attr->max_sge < 1) {
		xmemd_conn_log(conn, "device too small (max_qp_wr %d, max_cqe %d)",
			       attr->max_qp_wr, attr->max_cqe);
		return ENOMEM;
	}
	conn->ntx = 2 * conn->credits;

	buflen = (size_t)conn->credits * XMEMD_RX_SIZE +
		 (size_t)conn->ntx * XMEM_MSG_MAX_SIZE;
	conn->buf = aligned_alloc(XMEMD_PAGE_SIZE, buflen);
	conn->tx_free = calloc(conn->ntx, sizeof(*conn->tx_free));
	conn->pending = calloc(conn->credits, sizeof(*conn->pending));
	if (!conn->buf || !conn->tx_free || !conn->pending)
		return ENOMEM;
	memset(conn->buf, 0, buflen);
	for (i = 0; i < conn->ntx; i++)
		conn->tx_free[i] = i;
	conn->tx_nfree = conn->ntx;

	conn->pd = ibv_alloc_pd(conn->id->verbs);
	if (!conn->pd) {
		err = errno ? errno : ENOMEM;
		xmemd_conn_log(conn, "ibv_alloc_pd: %s", strerror(err));
		return err;
	}
	conn->mr = ibv_reg_mr(conn->pd, conn->buf, buflen,
			      IBV_ACCESS_LOCAL_WRITE);
	if (!conn->mr) {
		err = errno ? errno : ENOMEM;
		xmemd_conn_log(conn, "ibv_reg_mr: %s", strerror(err));
		return err;
	}
	conn->cq = ibv_create_cq(conn->id->verbs, conn->credits + conn->ntx,
				 conn, conn->dev->cc, 0);
	if (!conn->cq) {
		err = errno ? errno : ENOMEM;
		xmemd_conn_log(conn, "ibv_create_cq: %s", strerror(err));
		return err;
	}
	if (ibv_req_notify_cq(conn->cq, 0)) {
		err = errno ? errno : EIO;
		xmemd_conn_log(conn, "ibv_req_notify_cq: %s", strerror(err));
		return err;
	}

	memset(&qpa, 0, sizeof(qpa));
	qpa.qp_context = conn;
	qpa.send_cq = conn->cq;
	qpa.recv_cq = conn->cq;
	qpa.qp_type = IBV_QPT_RC;
	qpa.cap.max_send_wr = conn->ntx;
	qpa.cap.max_recv_wr = conn->credits;
	qpa.cap.max_send_sge = 1;
	qpa.cap.max_recv_sge = 1;
	qpa.sq_sig_all = 0;
	if (rdma_create_qp(conn->id, conn->pd, &qpa)) {
		err = errno ? errno : ENOMEM;
		xmemd_conn_log(conn, "rdma_create_qp: %s", strerror(err));
		return err;
	}
	for (i = 0; i < conn->credits; i++) {
		err = xmemd_post_recv(conn, i);
		if (err) {
			xmemd_conn_log(conn, "ibv_post_recv: %s", strerror(err));
			return err;
		}
	}
	return 0;
}

/*
 * A client asks to connect: check its hello, set the connection up and
 * accept, or reject with a status.  Returns an id to destroy once the
 * event is acknowledged, or NULL.
 */
static struct rdma_cm_id *xmemd_conn_request(struct rdma_cm_event *ev)
{
	const struct rdma_conn_param *p = &ev->param.conn;
	struct rdma_cm_id *id = ev->id;
	struct rdma_conn_param param;
	struct xmem_hello_rep rep;
	struct xmemd_conn *conn;
	int status;

	conn = calloc(1, sizeof(*conn));
	if (!conn) {
		xmemd_log("connect request: out of memory");
		xmemd_build_hello_rep(&rep, 0, ENOMEM);
		rdma_reject(id, &rep, sizeof(rep));
		return id;
	}
	conn->id = id;
	conn->nr = ++xmemd.next_conn_nr;
	conn->log_tokens = XMEMD_LOG_BURST;
	conn->log_stamp = time(NULL);
	xmemd_peer_name(id, conn->peer, sizeof(conn->peer));
	xmemd_conn_log(conn, "connect request on %s",
		       id->verbs ? ibv_get_device_name(id->verbs->device) :
		       "(no device)");

	status = xmemd_check_hello(conn, p);
	if (status)
		goto reject;
	if (xmemd.nconns >= XMEMD_MAX_CONNS) {
		xmemd_conn_log(conn, "rejected: %u connections already",
			       xmemd.nconns);
		status = EBUSY;
		goto reject;
	}
	if (!id->verbs) {
		xmemd_conn_log(conn, "rejected: no device");
		status = ENODEV;
		goto reject;
	}
	conn->dev = xmemd_dev_get(id->verbs, &status);
	if (!conn->dev)
		goto reject;
	status = xmemd_conn_setup(conn);
	if (status)
		goto reject;

	/*
	 * The event reports the client's limits from our point of view;
	 * never promise more than the device can do.
	 */
	memset(&param, 0, sizeof(param));
	param.responder_resources = p->responder_resources;
	if (param.responder_resources > conn->dev->attr.max_qp_rd_atom)
		param.responder_resources = conn->dev->attr.max_qp_rd_atom;
	param.initiator_depth = p->initiator_depth;
	if (param.initiator_depth > conn->dev->attr.max_qp_init_rd_atom)
		param.initiator_depth = conn->dev->attr.max_qp_init_rd_atom;
	param.rnr_retry_count = 7;
	param.flow_control = 1;
	xmemd_build_hello_rep(&rep, conn->credits, 0);
	if (xmemd.insecure) {
		conn->auth = XMEMD_AUTH_DONE;
		snprintf(conn->host, sizeof(conn->host), "%s", XMEMD_HOST_NONE);
	} else {
		/* Older clients never see a flag they do not know. */
		rep.flags = htole32(XMEM_HELLO_F_AUTH |
				    (xmemd.nhosts && conn->minor >= 3 ?
				     XMEM_HELLO_F_HOSTS : 0));
		conn->auth = XMEMD_AUTH_NONE;
	}
	param.private_data = &rep;
	param.private_data_len = sizeof(rep);
	id->context = conn;
	if (rdma_accept(id, &param)) {
		status = errno ? errno : EIO;
		xmemd_conn_log(conn, "rdma_accept: %s", strerror(status));
		id->context = NULL;
		goto reject;
	}
	xmemd_conn_link(conn);
	xmemd_conn_log(conn, "accepted: %u credits, responder_resources %u, initiator_depth %u",
		       conn->credits, param.responder_resources,
		       param.initiator_depth);
	return NULL;

reject:
	xmemd_build_hello_rep(&rep, 0, status);
	if (rdma_reject(id, &rep, sizeof(rep)))
		xmemd_conn_log(conn, "rdma_reject: %s", strerror(errno));
	return xmemd_conn_release(conn);
}

/*
 * An audit line: a refusal that an administrator wants to see, with the
 * host identity, counted in @counter.  Rate-limited over all connections
 * together (a peer can open many): a burst of XMEMD_LOG_BURST, then one
 * a second.
 */
__attribute__((format(printf, 3, 4)))
static void xmemd_audit(struct xmemd_conn *conn, unsigned long long *counter,
			const char *fmt, ...)
{
	struct xmemd_audit *a = &xmemd.audit;
	char prefix[sizeof(conn->peer) + 2 * XMEM_HOST_MAX + 64];
	va_list ap;

	(*counter)++;
	if (!xmemd_ratelimit(&a->tokens, &a->stamp, &a->dropped))
		return;
	if (a->dropped) {
		xmemd_log("audit: %lu lines suppressed", a->dropped);
		a->dropped = 0;
	}
	snprintf(prefix, sizeof(prefix), "audit: conn %llu %s host %s%s%s: ",
		 conn->nr, conn->peer,
		 conn->host[0] ? conn->host : "(none yet)",
		 conn->deputy[0] ? " acted for by " : "", conn->deputy);
	va_start(ap, fmt);
	xmemd_vlog(prefix, fmt, ap);
	va_end(ap);
}

/* ---- quotas ------------------------------------------------------------ */

/*
 * --quota FILE: "HOST[:UID] BYTES REGIONS" lines; HOST or UID "*" for
 * every one without a line of its own, BYTES and REGIONS "-" for no limit.
 * A region counts against the host that created it (struct xmemd_region
 * @host) and, with its uid, against that user on that host.
 */

/**
 * struct xmemd_quota - one line of the --quota file
 * @host: the host, or "*"
 * @has_uid: a per-user line (HOST:UID); else the host's total
 * @any_uid: UID "*"
 * @uid: the user
 * @bytes: bytes of regions at most, UINT64_MAX: no limit
 * @regions: regions at most, UINT64_MAX: no limit
 */
struct xmemd_quota {
	char host[XMEM_HOST_MAX];
	bool has_uid;
	bool any_uid;
	uint32_t uid;
	uint64_t bytes;
	uint64_t regions;
};

static struct xmemd_quota *xmemd_quotas;
static unsigned int xmemd_nquotas;
static const char *xmemd_quota_file;

static int xmemd_parse_size(const char *s, uint64_t *out);

/* The line that limits @host (and @uid with @has_uid), or NULL. */
static const struct xmemd_quota *xmemd_quota_find(const char *host,
						  bool has_uid, uint32_t uid)
{
	const struct xmemd_quota *q, *best = NULL;
	unsigned int i, score, best_score = 0;

	for (i = 0; i < xmemd_nquotas; i++) {
		q = &xmemd_quotas[i];
		if (q->has_uid != has_uid)
			continue;
		if (strcmp(q->host, "*") && strcmp(q->host, host))
			continue;
		if (has_uid && !q->any_uid && q->uid != uid)
			continue;
		/* An exact host wins over "*", then an exact uid. */
		score = 1 + (strcmp(q->host, "*") ? 2 : 0) +
			(has_uid && !q->any_uid ? 1 : 0);
		if (score > best_score) {
			best = q;
			best_score = score;
		}
	}
	return best;
}

static void xmemd_copy_usage(const char *host, uint32_t uid, uint64_t *hb,
			     uint64_t *hn, uint64_t *ub, uint64_t *un);

/*
 * Bytes and regions of @host, and of @uid on @host: the regions, and the
 * targets that COPYs in flight are creating for them (not linked yet, but
 * theirs once the copy is done, and their memory is taken already).
 */
static void xmemd_quota_usage(const char *host, uint32_t uid, uint64_t *hb,
			      uint64_t *hn, uint64_t *ub, uint64_t *un)
{
	struct xmemd_region *r;
	unsigned int h;

	*hb = *hn = *ub = *un = 0;
	for (h = 0; h < XMEMD_HASH_SIZE; h++) {
		for (r = xmemd.regions[h]; r; r = r->next) {
			if (strcmp(r->host, host))
				continue;
			*hb += r->size;
			*hn += 1;
			if (r->uid == uid) {
				*ub += r->size;
				*un += 1;
			}
		}
	}
	xmemd_copy_usage(host, uid, hb, hn, ub, un);
}

/*
 * May @host/@uid hold @bytes and @regions more, beside what they hold
 * (@r's current size included when @r is given)?  0, or the quota status
 * with *@why, audited: EDQUOT for clients of protocol 1.3, ENOMEM (as for
 * the capacity) for older ones, which do not know EDQUOT.
 */
static int xmemd_quota_check_as(struct xmemd_conn *conn, const char *host,
				uint32_t uid, uint64_t bytes, uint64_t regions,
				const char **why)
{
	const struct xmemd_quota *qh, *qu;
	uint64_t hb, hn, ub, un;

	qh = xmemd_quota_find(host, false, 0);
	qu = xmemd_quota_find(host, true, uid);
	if (!qh && !qu)
		return 0;
	xmemd_quota_usage(host, uid, &hb, &hn, &ub, &un);
	*why = NULL;
	if (qh && (hb + bytes > qh->bytes || hb + bytes < hb))
		*why = "over the host's byte quota";
	else if (qh && hn + regions > qh->regions)
		*why = "over the host's region quota";
	else if (qu && (ub + bytes > qu->bytes || ub + bytes < ub))
		*why = "over the user's byte quota";
	else if (qu && un + regions > qu->regions)
		*why = "over the user's region quota";
	if (!*why)
		return 0;
	xmemd_audit(conn, &xmemd.audit.quota,
		    "uid %u wants %" PRIu64 " bytes and %" PRIu64
		    " regions more: %s (host %" PRIu64 " bytes in %" PRIu64
		    " regions, uid %" PRIu64 " bytes in %" PRIu64 " regions)",
		    uid, bytes, regions, *why, hb, hn, ub, un);
	return conn->minor >= 3 ? EDQUOT : ENOMEM;
}

static int xmemd_quota_check(struct xmemd_conn *conn, uint32_t uid,
			     uint64_t bytes, uint64_t regions, const char **why)
{
	return xmemd_quota_check_as(conn, conn->host, uid, bytes, regions,
				    why);
}

/* A grow of @r by @bytes counts against @r's host and owner. */
static int xmemd_quota_check_region(struct xmemd_conn *conn,
				    const struct xmemd_region *r,
				    uint64_t bytes, const char **why)
{
	return xmemd_quota_check_as(conn, r->host, r->uid, bytes, 0, why);
}

/*
 * Read the --quota file; the number of lines (0 is fine) with *@qp, or
 * -1 with a message on stderr naming the file and line.
 */
static int xmemd_quota_read(const char *path, struct xmemd_quota **qp)
{
	char line[512], *p, *who, *b, *n, *more, *end, *colon;
	struct xmemd_quota *qs = NULL, *q;
	unsigned int lineno = 0, count = 0;
	char name[XMEM_HOST_MAX];
	unsigned long long v;
	FILE *f;

	f = fopen(path, "re");
	if (!f) {
		fprintf(stderr, "%s: quota file %s: %s\n", xmemd_prog, path,
			strerror(errno));
		return -1;
	}
	while (fgets(line, sizeof(line), f)) {
		lineno++;
		p = strchr(line, '#');
		if (p)
			*p = '\0';
		who = strtok_r(line, " \t\r\n", &p);
		if (!who)
			continue;
		b = strtok_r(NULL, " \t\r\n", &p);
		n = strtok_r(NULL, " \t\r\n", &p);
		more = strtok_r(NULL, " \t\r\n", &p);
		q = realloc(qs, (count + 1) * sizeof(*qs));
		if (!q)
			goto err;
		qs = q;
		q = &qs[count];
		memset(q, 0, sizeof(*q));
		colon = strchr(who, ':');
		if (colon) {
			*colon++ = '\0';
			q->has_uid = true;
			if (!strcmp(colon, "*")) {
				q->any_uid = true;
			} else {
				errno = 0;
				v = strtoull(colon, &end, 10);
				if (errno || *end || end == colon ||
				    v > UINT32_MAX)
					goto bad;
				q->uid = v;
			}
		}
		memset(name, 0, sizeof(name));
		if (strlen(who) >= sizeof(name))
			goto bad;
		memcpy(name, who, strlen(who));
		if (strcmp(who, "*") && !xmemd_name_valid(name))
			goto bad;
		memcpy(q->host, name, sizeof(q->host));
		if (!b || !n || more)
			goto bad;
		q->bytes = UINT64_MAX;
		if (strcmp(b, "-") && xmemd_parse_size(b, &q->bytes))
			goto bad;
		q->regions = UINT64_MAX;
		if (strcmp(n, "-")) {
			errno = 0;
			q->regions = strtoull(n, &end, 10);
			if (errno || *end || end == n)
				goto bad;
		}
		count++;
	}
	fclose(f);
	*qp = qs;
	return (int)count;

bad:
	fprintf(stderr, "%s: quota file %s line %u: want HOST[:UID] BYTES REGIONS (HOST or UID *, BYTES or REGIONS -)\n",
		xmemd_prog, path, lineno);
err:
	fclose(f);
	free(qs);
	return -1;
}

/* ---- control messages -------------------------------------------------- */

/*
 * Holds (XMEM_ATTACH_F_SOLE, protocol minor 9).  A connection that
 * attached a region with SOLE holds it (@sole), under the token it chose
 * (@sole_token), until it DETACHes or DESTROYs it.  When its attachment
 * goes otherwise (the connection ends, the daemon stops), the hold stays
 * for --sole-grace seconds without a holder (@sole_until): the client
 * trusts its hold for XMEM_SOLE_LEASE_SEC after its last exchange, and
 * may not have noticed the end yet.  The token is saved in the .meta
 * file, so a restart starts the grace again.  A SOLE ATTACH with the
 * hold's token takes it over at once, even from a connection that has
 * not ended yet here: the holder reconnecting.
 *
 * While held, nobody else may write to it: another connection's ATTACH
 * without XMEM_ATTACH_F_READ, RESIZE, and COPY or PULL into it are
 * refused with EBUSY.  Attachments with XMEM_ATTACH_F_READ get keys
 * without IBV_ACCESS_REMOTE_WRITE and do not count: an appliance pulling
 * the region elsewhere reads it beside the holder.
 */

static bool xmemd_copy_target(const struct xmemd_region *r);

/* Is @r held by anyone but @conn: another connection, or in a grace. */
static bool xmemd_held_by_other(const struct xmemd_region *r,
				const struct xmemd_conn *conn)
{
	return xmemd_held(r) && r->sole != conn;
}

/*
 * May @conn attach @r with @flags (and, with SOLE, the hold's @token) as
 * far as holds go?  0, or EBUSY with *@why set.
 */
static int xmemd_hold_check(const struct xmemd_conn *conn,
			    const struct xmemd_region *r, uint32_t flags,
			    uint64_t token, const char **why)
{
	const struct xmemd_att *att;

	if (flags & XMEM_ATTACH_F_READ)
		return 0;
	/* The holder, back on a new connection. */
	if ((flags & XMEM_ATTACH_F_SOLE) && xmemd_held(r) &&
	    token == r->sole_token)
		return 0;
	if (xmemd_held_by_other(r, conn)) {
		*why = r->sole ? "held alone by another connection" :
				 "held alone, its holder gone for less than --sole-grace";
		return EBUSY;
	}
	if (!(flags & XMEM_ATTACH_F_SOLE))
		return 0;
	for (att = r->atts; att; att = att->rnext) {
		if (att->conn != conn && !att->read_only) {
			*why = "SOLE: attached by another connection";
			return EBUSY;
		}
	}
	/* Bytes it did not write must not change under the holder. */
	if (xmemd_copy_target(r)) {
		*why = "SOLE: a copy or pull into it is in flight";
		return EBUSY;
	}
	return 0;
}

/* @conn holds @r now, under @token; saved for a restart. */
static void xmemd_hold_take(struct xmemd_conn *conn, struct xmemd_region *r,
			    uint64_t token)
{
	bool changed = r->sole_token != token;

	r->sole = conn;
	r->sole_token = token;
	r->sole_until = 0;
	if (changed && xmemd.dir && xmemd_meta_write(r))
		xmemd_log("region %" PRIu64 " '%s': its hold is not saved; a restart forgets it",
			  r->id, r->name);
}

/* The holder of @r gave the hold up (DETACH, an ATTACH with READ). */
static void xmemd_hold_end(struct xmemd_region *r)
{
	r->sole = NULL;
	r->sole_until = 0;
	if (!r->sole_token)
		return;
	r->sole_token = 0;
	if (xmemd.dir && xmemd_meta_write(r))
		xmemd_log("region %" PRIu64 " '%s': the end of its hold is not saved; a restart holds it for --sole-grace",
			  r->id, r->name);
}

/*
 * Attach @r to @conn, or find it attached, and give it a current key in
 * @conn's protection domain (*@mrp): with @read_only, one for RDMA READ
 * only.  An attachment that changes kind (READ, or not) loses the keys
 * it had: those stop working.  0 or a positive errno, logged; on error
 * an attachment made here is undone.
 */
static int xmemd_conn_attach(struct xmemd_conn *conn, struct xmemd_region *r,
			     bool read_only, struct ibv_mr **mrp)
{
	struct xmemd_att *att = xmemd_att_find(conn, r);
	bool made = false;
	struct xmemd_key *k;
	int access;
	int err;

	/*
	 * A hold whose grace ran out: forget its token, in NAME.meta too, or
	 * a restart would hold the region again while others use it.
	 */
	if (r->sole_token && !xmemd_held(r))
		xmemd_hold_end(r);
	if (!att) {
		att = calloc(1, sizeof(*att));
		if (!att)
			return ENOMEM;
		att->r = r;
		att->conn = conn;
		att->rnext = r->atts;
		r->atts = att;
		att->cnext = conn->atts;
		conn->atts = att;
		r->users++;
		made = true;
		att->read_only = read_only;
	}
	if (att->read_only != read_only)
		xmemd_att_drop_keys(att, false);
	if (att->keys && !att->keys->retired) {
		*mrp = att->keys->mr;
		return 0;
	}
	k = calloc(1, sizeof(*k));
	if (!k) {
		err = ENOMEM;
		goto err_att;
	}
	access = IBV_ACCESS_LOCAL_WRITE | IBV_ACCESS_REMOTE_READ;
	if (!read_only)
		access |= IBV_ACCESS_REMOTE_WRITE;
	k->mr = ibv_reg_mr(conn->pd, r->mem, r->size, access);
	if (!k->mr) {
		err = errno ? errno : ENOMEM;
		xmemd_conn_log(conn, "region %" PRIu64 " '%s': ibv_reg_mr of %"
			       PRIu64 " bytes: %s", r->id, r->name, r->size,
			       strerror(err));
		free(k);
		goto err_att;
	}
	k->next = att->keys;
	att->keys = k;
	att->read_only = read_only;
	/* A holder that attaches for reading only gives its hold up. */
	if (read_only && r->sole == conn)
		xmemd_hold_end(r);
	*mrp = k->mr;
	/* Attached: a temporary region is needed again. */
	r->temp_deadline = 0;
	xmemd_dbg("conn %llu: region %" PRIu64 " '%s': key 0x%08x at 0x%" PRIxPTR
		  " for %" PRIu64 " bytes%s", conn->nr, r->id, r->name,
		  k->mr->rkey, (uintptr_t)r->mem, r->size,
		  read_only ? ", read only" : "");
	return 0;

err_att:
	if (made)
		xmemd_att_free(att);
	return err;
}

/*
 * @conn stops using @r: its keys of @r stop working at once.  Returns
 * whether @conn had it attached.
 */
static bool xmemd_conn_detach(struct xmemd_conn *conn, struct xmemd_region *r)
{
	struct xmemd_att *att = xmemd_att_find(conn, r);

	bool holder = r->sole == conn;

	if (!att)
		return false;
	xmemd_att_free(att);
	/* Given up, not lost: no grace. */
	if (holder)
		xmemd_hold_end(r);
	return true;
}

/* Fill an XMEM_MSG_ERROR_REP; returns its length. */
static uint32_t xmemd_error_rep(void *tx, uint64_t tag, int status)
{
	struct xmem_msg_error_rep *rep = tx;

	memset(rep, 0, sizeof(*rep));
	rep->hdr.type = htole16(XMEM_MSG_ERROR_REP);
	rep->hdr.len = htole32(sizeof(*rep));
	rep->hdr.tag = htole64(tag);
	rep->status = htole32(status);
	return sizeof(*rep);
}

static uint32_t xmemd_stat(struct xmemd_conn *conn,
			   const struct xmem_msg_stat_req *req, void *tx)
{
	struct xmem_msg_stat_rep *rep = tx;

	memset(rep, 0, sizeof(*rep));
	rep->hdr.type = htole16(XMEM_MSG_STAT_REP);
	rep->hdr.len = htole32(sizeof(*rep));
	rep->hdr.tag = req->hdr.tag;
	rep->regions = htole64(xmemd.nregions);
	rep->bytes_allocated = htole64(xmemd.allocated);
	rep->bytes_capacity = htole64(xmemd.capacity);
	xmemd_dbg("conn %llu: stat: %" PRIu64 " regions, %" PRIu64 " of %"
		  PRIu64 " bytes", conn->nr, xmemd.nregions, xmemd.allocated,
		  xmemd.capacity);
	return sizeof(*rep);
}

/*
 * Look up or create a region.  The caller checked the message's length,
 * flags and reserved field; here go the request's values.  On failure the
 * reply carries only the status.
 */
static uint32_t xmemd_attach(struct xmemd_conn *conn,
			     const struct xmem_msg_attach_req *req, void *tx)
{
	struct xmem_msg_attach_rep *rep = tx;
	uint64_t size = le64toh(req->size);
	uint32_t flags = le32toh(req->flags);
	struct xmemd_region *r = NULL;
	char ename[4 * XMEM_NAME_MAX + 1];
	uint64_t token = 0;
	const char *why;
	bool created = false;
	struct ibv_mr *mr;
	int status;

	memset(rep, 0, sizeof(*rep));
	rep->hdr.type = htole16(XMEM_MSG_ATTACH_REP);
	rep->hdr.len = htole32(sizeof(*rep));
	rep->hdr.tag = req->hdr.tag;
	xmemd_escape(ename, sizeof(ename), req->name, XMEM_NAME_MAX);

	status = EINVAL;
	if (!xmemd_name_valid(req->name)) {
		why = "bad name";
		goto fail;
	}
	if (size % XMEMD_PAGE_SIZE) {
		why = "size not a multiple of 4096";
		goto fail;
	}
	if (size > XMEMD_REGION_MAX) {
		why = "size above the 1 TiB limit";
		goto fail;
	}
	if ((flags & XMEM_ATTACH_F_EXCL) && !(flags & XMEM_ATTACH_F_CREATE)) {
		why = "EXCL without CREATE";
		goto fail;
	}
	if ((flags & XMEM_ATTACH_F_READ) &&
	    (flags & (XMEM_ATTACH_F_CREATE | XMEM_ATTACH_F_SOLE))) {
		why = "READ with CREATE or SOLE";
		goto fail;
	}

	r = xmemd_region_find(req->name);
	if (r) {
		if (flags & XMEM_ATTACH_F_EXCL) {
			status = EEXIST;
			why = "exists";
			goto fail;
		}
		/* This request acts as uid 0, of its own host only. */
		if (!xmemd_may_attach(r, conn->host, 0, 0)) {
			status = EACCES;
			why = "permission denied";
			xmemd_audit(conn, &xmemd.audit.refused_attach,
				    "attach '%s' as uid 0 refused: region of host %s",
				    ename, r->host);
			goto fail;
		}
		if (size && size != r->size) {
			why = "size differs from the existing region's";
			goto fail;
		}
		status = xmemd_hold_check(conn, r, flags, 0, &why);
		if (status)
			goto fail;
	} else {
		if (!(flags & XMEM_ATTACH_F_CREATE)) {
			status = ENOENT;
			why = "no such region";
			goto fail;
		}
		if (!size) {
			why = "size 0 for a new region";
			goto fail;
		}
		if (xmemd_pulling(req->name)) {
			status = EBUSY;
			why = "a region of that name is being pulled in";
			goto fail;
		}
		if (size > xmemd.capacity - xmemd.allocated) {
			status = ENOMEM;
			why = "capacity exhausted";
			goto fail;
		}
		status = xmemd_quota_check(conn, 0, size, 1, &why);
		if (status)
			goto fail;
		r = xmemd_region_create(req->name, size,
					xmemd_owner_host(conn), 0, 0, 0,
					&status);
		if (!r) {
			why = "cannot allocate memory";
			goto fail;
		}
		created = true;
	}

	status = xmemd_conn_attach(conn, r, flags & XMEM_ATTACH_F_READ, &mr);
	if (status) {
		why = "cannot register memory";
		status = ENOMEM;
		if (created)
			xmemd_region_free(r, true);
		goto fail;
	}
	/* This message has no room for a token: one nobody can present. */
	if ((flags & XMEM_ATTACH_F_SOLE) &&
	    getrandom(&token, sizeof(token), 0) != sizeof(token))
		token = (uint64_t)(uintptr_t)conn ^ (uint64_t)xmemd_now();
	if (flags & XMEM_ATTACH_F_SOLE)
		xmemd_hold_take(conn, r, token ? token : 1);

	rep->created = htole32(created);
	rep->region_id = htole64(r->id);
	rep->size = htole64(r->size);
	rep->addr = htole64((uintptr_t)r->mem);
	rep->rkey = htole32(mr->rkey);
	xmemd_conn_log(conn, "attach '%s' size %" PRIu64 " flags 0x%x: %s region %"
		       PRIu64 " (%" PRIu64 " bytes; %" PRIu64 " regions, %"
		       PRIu64 " of %" PRIu64 " bytes in use)", ename, size,
		       flags, created ? "created" : "attached", r->id, r->size,
		       xmemd.nregions, xmemd.allocated, xmemd.capacity);
	return sizeof(*rep);

fail:
	rep->status = htole32(status);
	xmemd_conn_err(conn, "attach '%s' size %" PRIu64 " flags 0x%x: %s (%s)",
		       ename, size, flags, why, xmemd_errname(status));
	return sizeof(*rep);
}

static const char *const xmemd_op_names[XMEM_REGION_OP_MAX] = {
	[XMEM_REGION_OP_ATTACH] = "attach",
	[XMEM_REGION_OP_DETACH] = "detach",
	[XMEM_REGION_OP_RESIZE] = "resize",
	[XMEM_REGION_OP_DESTROY] = "destroy",
	[XMEM_REGION_OP_INFO] = "info",
	[XMEM_REGION_OP_NEXT] = "next",
};

/* Describe @r in @rep; the key only with @mr (ATTACH and RESIZE). */
static void xmemd_region_rep(struct xmem_msg_region_rep *rep,
			     const struct xmemd_region *r,
			     const struct ibv_mr *mr)
{
	rep->region_id = htole64(r->id);
	rep->size = htole64(r->size);
	if (mr) {
		rep->addr = htole64((uintptr_t)r->mem);
		rep->rkey = htole32(mr->rkey);
	}
	rep->mode = htole32(r->mode);
	rep->uid = htole32(r->uid);
	rep->gid = htole32(r->gid);
	rep->users = htole32(r->users);
	memcpy(rep->name, r->name, XMEM_NAME_MAX);
}

/* Check the fields an operation allows; NULL or why not (EINVAL). */
static const char *xmemd_region_req_invalid(uint16_t op, uint16_t flags,
					    uint32_t mode, uint64_t size,
					    uint64_t cursor, const char *name)
{
	static const char zero[XMEM_NAME_MAX];

	if (op == XMEM_REGION_OP_NEXT ? memcmp(name, zero, XMEM_NAME_MAX) :
	    !xmemd_name_valid(name))
		return "bad name";
	if ((flags & XMEM_ATTACH_F_EXCL) && !(flags & XMEM_ATTACH_F_CREATE))
		return "EXCL without CREATE";
	if ((flags & XMEM_ATTACH_F_READ) &&
	    (flags & (XMEM_ATTACH_F_CREATE | XMEM_ATTACH_F_SOLE)))
		return "READ with CREATE or SOLE";
	if (mode & ~XMEM_REGION_MODE_MASK)
		return "mode beyond 0777";
	if (mode && !(flags & XMEM_ATTACH_F_CREATE))
		return "mode without CREATE";
	if (cursor && op != XMEM_REGION_OP_NEXT)
		return "cursor with an operation other than NEXT";
	if (size % XMEMD_PAGE_SIZE)
		return "size not a multiple of 4096";
	if (size > XMEMD_REGION_MAX)
		return "size above the 1 TiB limit";
	if (op == XMEM_REGION_OP_RESIZE && !size)
		return "size 0 for RESIZE";
	if (size && op != XMEM_REGION_OP_RESIZE && op != XMEM_REGION_OP_ATTACH)
		return "size with an operation that takes none";
	return NULL;
}

/*
 * A region operation.  The caller checked the length, op, flags and
 * reserved field; here go the operation's own fields, permissions and
 * the work.  On failure the reply carries only the status.
 */
static uint32_t xmemd_region_op(struct xmemd_conn *conn,
				const struct xmem_msg_region_req *req,
				void *tx)
{
	struct xmem_msg_region_rep *rep = tx;
	uint16_t op = le16toh(req->op), flags = le16toh(req->flags);
	uint32_t mode = le32toh(req->mode), uid = le32toh(req->uid);
	uint32_t gid = le32toh(req->gid);
	uint64_t size = le64toh(req->size), cursor = le64toh(req->cursor);
	uint64_t token = le64toh(req->reserved);
	char ename[4 * XMEM_NAME_MAX + 1];
	struct xmemd_region *r = NULL;
	struct ibv_mr *mr = NULL;
	struct xmemd_att *att;
	uint64_t old_size = 0;
	bool created = false, detached = false;
	const char *why;
	int status;

	memset(rep, 0, sizeof(*rep));
	rep->hdr.type = htole16(XMEM_MSG_REGION_REP);
	rep->hdr.len = htole32(sizeof(*rep));
	rep->hdr.tag = req->hdr.tag;
	xmemd_escape(ename, sizeof(ename), req->name, XMEM_NAME_MAX);

	status = EINVAL;
	why = xmemd_region_req_invalid(op, flags, mode, size, cursor,
				       req->name);
	if (!why && (flags & XMEM_ATTACH_F_SOLE) && !token)
		why = "SOLE without a token";
	if (why)
		goto fail;

	if (op == XMEM_REGION_OP_NEXT) {
		r = xmemd_region_next(cursor);
		status = ENOENT;
		why = "no region after the cursor";
		if (!r)
			goto fail_quiet;
		xmemd_region_rep(rep, r, NULL);
		return sizeof(*rep);
	}

	r = xmemd_region_find(req->name);
	if (!r && op == XMEM_REGION_OP_ATTACH &&
	    (flags & XMEM_ATTACH_F_CREATE)) {
		status = EINVAL;
		why = "size 0 for a new region";
		if (!size)
			goto fail;
		status = EBUSY;
		why = "a region of that name is being pulled in";
		if (xmemd_pulling(req->name))
			goto fail;
		status = ENOMEM;
		why = "capacity exhausted";
		if (size > xmemd.capacity - xmemd.allocated)
			goto fail;
		status = xmemd_quota_check(conn, uid, size, 1, &why);
		if (status)
			goto fail;
		r = xmemd_region_create(req->name, size,
					xmemd_owner_host(conn), uid, gid,
					mode, &status);
		why = "cannot allocate memory";
		if (!r)
			goto fail;
		created = true;
	} else if (!r) {
		status = ENOENT;
		why = "no such region";
		goto fail;
	}

	switch (op) {
	case XMEM_REGION_OP_ATTACH:
		status = EEXIST;
		why = "exists";
		if (!created && (flags & XMEM_ATTACH_F_EXCL))
			goto fail;
		status = EINVAL;
		why = "size differs from the existing region's";
		if (size && size != r->size)
			goto fail;
		status = EACCES;
		why = "permission denied";
		if (!xmemd_may_attach(r, conn->host, uid, gid)) {
			xmemd_audit(conn, &xmemd.audit.refused_attach,
				    "attach '%s' as uid %u gid %u refused: region of %s %u:%u mode %04o, %u grants",
				    ename, uid, gid,
				    r->host[0] ? r->host : "(any host)",
				    r->uid, r->gid, r->mode, r->ngrants);
			/* A mode that locks its creator out: nothing stays. */
			if (created)
				xmemd_region_free(r, true);
			goto fail;
		}
		status = xmemd_hold_check(conn, r, flags, token, &why);
		if (status)
			goto fail;
		why = "cannot register memory";
		status = xmemd_conn_attach(conn, r, flags & XMEM_ATTACH_F_READ,
					   &mr);
		if (status) {
			status = ENOMEM;
			if (created)
				xmemd_region_free(r, true);
			goto fail;
		}
		if (flags & XMEM_ATTACH_F_SOLE)
			xmemd_hold_take(conn, r, token);
		break;
	case XMEM_REGION_OP_DETACH:
		detached = xmemd_conn_detach(conn, r);
		break;
	case XMEM_REGION_OP_RESIZE:
		status = EACCES;
		why = "only the owner may resize";
		if (!xmemd_may_admin(r, conn->host, uid))
			goto fail;
		status = EBUSY;
		why = "a copy of it is in flight";
		if (r->busy)
			goto fail;
		why = "held alone by another connection";
		if (xmemd_held_by_other(r, conn))
			goto fail;
		old_size = r->size;
		if (size > r->size) {
			status = xmemd_quota_check_region(conn, r,
							  size - r->size,
							  &why);
			if (status)
				goto fail;
		}
		why = "cannot resize";
		status = xmemd_region_resize(r, size);
		if (status)
			goto fail;
		/*
		 * The new key comes with an attachment, like ATTACH's, of
		 * the kind the attachment had (a new one may write).
		 */
		why = "cannot register memory";
		att = xmemd_att_find(conn, r);
		status = xmemd_conn_attach(conn, r, att && att->read_only,
					   &mr);
		if (status) {
			status = ENOMEM;
			goto fail;
		}
		break;
	case XMEM_REGION_OP_DESTROY:
		status = EACCES;
		why = "only the owner may destroy";
		if (!xmemd_may_admin(r, conn->host, uid))
			goto fail;
		status = EBUSY;
		why = "attached by another connection";
		if (r->users > (xmemd_att_find(conn, r) ? 1u : 0u))
			goto fail;
		why = "a copy of it is in flight";
		if (r->busy)
			goto fail;
		break;
	default:	/* INFO */
		break;
	}

	xmemd_region_rep(rep, r, mr);
	if (created)
		rep->flags = htole32(XMEM_REGION_REP_F_CREATED);
	if (op == XMEM_REGION_OP_INFO) {
		xmemd_dbg("conn %llu: info '%s'", conn->nr, ename);
		return sizeof(*rep);
	}
	xmemd_conn_log(conn, "%s '%s' uid %u size %" PRIu64 ": %s region %"
		       PRIu64 " (%" PRIu64 " bytes%s; %" PRIu64 " regions, %"
		       PRIu64 " of %" PRIu64 " bytes in use)",
		       xmemd_op_names[op], ename, uid, size,
		       created ? "created" : "ok", r->id,
		       op == XMEM_REGION_OP_RESIZE ? old_size : r->size,
		       op == XMEM_REGION_OP_RESIZE ? " before" : "",
		       xmemd.nregions -
		       (op == XMEM_REGION_OP_DESTROY ? 1 : 0),
		       xmemd.allocated -
		       (op == XMEM_REGION_OP_DESTROY ? r->size : 0),
		       xmemd.capacity);
	if (op == XMEM_REGION_OP_DESTROY) {
		xmemd_conn_detach(conn, r);
		xmemd_region_free(r, true);
	}
	/* The last DETACH of a temporary region ends it (the answer is made). */
	if (detached && r->temp && !r->users) {
		if (r->busy)
			xmemd_temp_unused(r, 0, "detached by its last connection, once the copy in flight ended");
		else
			xmemd_temp_destroy(r, "detached by its last connection");
	}
	return sizeof(*rep);

fail:
	xmemd_conn_err(conn, "%s '%s' uid %u size %" PRIu64 " flags 0x%x: %s (%s)",
		       xmemd_op_names[op], ename, uid, size, flags, why,
		       xmemd_errname(status));
fail_quiet:
	memset(&rep->status, 0, sizeof(*rep) -
	       offsetof(struct xmem_msg_region_rep, status));
	rep->status = htole32(status);
	return sizeof(*rep);
}

/* HMAC-SHA256(the key of step 1, @label || @a || @b); 0 or -1. */
static void xmemd_region_rep_hdr(struct xmem_msg_region_rep *rep,
				 uint64_t tag);

/*
 * XMEM_MSG_GRANT_REQ (minor 5): the owner lets another host, or one user
 * of it, attach a region; or takes that back.  Answered with a REGION_REP
 * describing the region.
 */
static uint32_t xmemd_grant(struct xmemd_conn *conn,
			    const struct xmem_msg_grant_req *req, void *tx)
{
	struct xmem_msg_region_rep *rep = tx;
	uint16_t op = le16toh(req->op), flags = le16toh(req->flags);
	uint32_t uid = le32toh(req->uid), guid = le32toh(req->grantee_uid);
	bool has_uid = flags & XMEM_GRANT_F_UID;
	char ename[4 * XMEM_NAME_MAX + 1], ehost[4 * XMEM_HOST_MAX + 1];
	const struct xmemd_grant *g;
	struct xmemd_region *r;
	unsigned int i;
	const char *why;
	int status;

	xmemd_region_rep_hdr(rep, le64toh(req->hdr.tag));
	xmemd_escape(ename, sizeof(ename), req->name, XMEM_NAME_MAX);
	xmemd_escape(ehost, sizeof(ehost), req->host, XMEM_HOST_MAX);
	status = EINVAL;
	why = "bad operation";
	if (op != XMEM_GRANT_OP_GRANT && op != XMEM_GRANT_OP_REVOKE)
		goto fail;
	why = "bad region or host name";
	if (!xmemd_name_valid(req->name) || !xmemd_name_valid(req->host))
		goto fail;
	why = "a grantee uid without XMEM_GRANT_F_UID";
	if (guid && !has_uid)
		goto fail;
	status = ENOENT;
	why = "no such region";
	r = xmemd_region_find(req->name);
	if (!r)
		goto fail;
	status = EACCES;
	why = "only the owner may grant and revoke";
	if (!xmemd_may_admin(r, conn->host, uid)) {
		xmemd_audit(conn, &xmemd.audit.refused_attach,
			    "%s '%s' to %s as uid %u refused: region of %s %u",
			    op == XMEM_GRANT_OP_GRANT ? "grant" : "revoke",
			    ename, ehost, uid,
			    r->host[0] ? r->host : "(any host)", r->uid);
		goto fail;
	}
	g = xmemd_grant_find(r, req->host, has_uid, guid);
	if (op == XMEM_GRANT_OP_GRANT && !g) {
		status = ENOSPC;
		why = "too many grants";
		if (r->ngrants >= XMEM_GRANT_MAX)
			goto fail;
		memset(&r->grants[r->ngrants], 0, sizeof(r->grants[0]));
		memcpy(r->grants[r->ngrants].host, req->host, XMEM_HOST_MAX);
		r->grants[r->ngrants].has_uid = has_uid;
		r->grants[r->ngrants].uid = guid;
		r->ngrants++;
	} else if (op == XMEM_GRANT_OP_REVOKE) {
		status = ENOENT;
		why = "no such grant";
		if (!g)
			goto fail;
		i = g - r->grants;
		memmove(&r->grants[i], &r->grants[i + 1],
			(r->ngrants - i - 1) * sizeof(r->grants[0]));
		r->ngrants--;
	}
	/* The grant lives in memory even if the description cannot be kept. */
	if (xmemd.dir)
		xmemd_meta_write(r);
	xmemd_region_rep(rep, r, NULL);
	if (has_uid)
		xmemd_conn_log(conn, "%s '%s' to host %s uid %u (%u grants)",
			       op == XMEM_GRANT_OP_GRANT ? "grant" : "revoke",
			       ename, ehost, guid, r->ngrants);
	else
		xmemd_conn_log(conn, "%s '%s' to host %s (%u grants)",
			       op == XMEM_GRANT_OP_GRANT ? "grant" : "revoke",
			       ename, ehost, r->ngrants);
	return sizeof(*rep);

fail:
	xmemd_conn_err(conn, "grant op %u '%s' to %s uid %u: %s (%s)", op,
		       ename, ehost, uid, why, xmemd_errname(status));
	rep->status = htole32(status);
	return sizeof(*rep);
}

static int xmemd_hmac(const struct xmemd_conn *conn, const char *label,
		      const uint8_t *a, const uint8_t *b, uint8_t *out)
{
	return wirec_hmac(conn->key, conn->key_len, label, a, b, out);
}

static const struct xmemd_host *xmemd_host_find(const char *name)
{
	unsigned int i;

	for (i = 0; i < xmemd.nhosts; i++)
		if (!strncmp(xmemd.hosts[i].name, name, XMEM_HOST_MAX))
			return &xmemd.hosts[i];
	return NULL;
}

static void xmemd_auth_rep_hdr(struct xmem_msg_auth_rep *rep, uint64_t tag)
{
	memset(rep, 0, sizeof(*rep));
	rep->hdr.type = htole16(XMEM_MSG_AUTH_REP);
	rep->hdr.len = htole32(sizeof(*rep));
	rep->hdr.tag = htole64(tag);
}

/*
 * Step 1 with the key in @conn: our nonce and proof in @rep.  0, or EIO
 * when there is no randomness.
 */
static int xmemd_auth_challenge(struct xmemd_conn *conn, const uint8_t *nonce,
				struct xmem_msg_auth_rep *rep)
{
	memcpy(conn->cnonce, nonce, sizeof(conn->cnonce));
	if (getrandom(conn->anonce, sizeof(conn->anonce), 0) !=
	    (ssize_t)sizeof(conn->anonce) ||
	    xmemd_hmac(conn, XMEM_AUTH_LABEL_APPLIANCE, conn->cnonce,
		       conn->anonce, rep->mac))
		return EIO;
	memcpy(rep->nonce, conn->anonce, sizeof(rep->nonce));
	conn->auth = XMEMD_AUTH_CHALLENGED;
	return 0;
}

/* A refused step: only the status goes back; bad credentials audited. */
static uint32_t xmemd_auth_refuse(struct xmemd_conn *conn,
				  struct xmem_msg_auth_rep *rep, uint16_t step,
				  int status, const char *why)
{
	memset(rep->nonce, 0, sizeof(rep->nonce));
	memset(rep->mac, 0, sizeof(rep->mac));
	rep->status = htole32(status);
	if (status == EACCES)
		xmemd_audit(conn, &xmemd.audit.bad_credential,
			    "authentication step %u refused: %s", step, why);
	else
		xmemd_conn_err(conn, "authentication step %u refused: %s (%s)",
			       step, why, xmemd_errname(status));
	return sizeof(*rep);
}

/*
 * XMEM_MSG_AUTH_REQ: step 1 with the shared secret (before minor 3), or
 * step 2 of either kind.  The keys are never logged, nor the nonces or
 * proofs.
 */
static uint32_t xmemd_auth(struct xmemd_conn *conn,
			   const struct xmem_msg_auth_req *req, void *tx)
{
	static const uint8_t zero[XMEM_AUTH_MAC_SIZE];
	struct xmem_msg_auth_rep *rep = tx;
	uint16_t step = le16toh(req->step);
	uint8_t want[XMEM_AUTH_MAC_SIZE];
	bool wrong;

	xmemd_auth_rep_hdr(rep, le64toh(req->hdr.tag));
	if (xmemd.insecure)
		return xmemd_auth_refuse(conn, rep, step, EOPNOTSUPP,
					 "no credentials configured (--insecure)");
	if (conn->auth == XMEMD_AUTH_FAILED)
		return xmemd_auth_refuse(conn, rep, step, EACCES,
					 "failed before");
	if (step == 1 && conn->auth == XMEMD_AUTH_NONE &&
	    !memcmp(req->mac, zero, sizeof(zero))) {
		if (!xmemd.secret_len) {
			conn->auth = XMEMD_AUTH_FAILED;
			return xmemd_auth_refuse(conn, rep, step, EACCES,
						 "no host name: this appliance has per-host keys only (protocol 1.3)");
		}
		memcpy(conn->key, xmemd.secret, xmemd.secret_len);
		conn->key_len = xmemd.secret_len;
		snprintf(conn->host, sizeof(conn->host), "%s",
			 XMEMD_HOST_SHARED);
		if (xmemd_auth_challenge(conn, req->nonce, rep))
			return xmemd_auth_refuse(conn, rep, step, EIO,
						 "cannot make a challenge");
		return sizeof(*rep);
	}
	if (step != 2 || conn->auth != XMEMD_AUTH_CHALLENGED ||
	    memcmp(req->nonce, zero, sizeof(req->nonce)))
		return xmemd_auth_refuse(conn, rep, step, EPROTO,
					 "step out of order or with fields of the other step");
	wrong = xmemd_hmac(conn, XMEM_AUTH_LABEL_CLIENT, conn->anonce,
			   conn->cnonce, want) ||
		CRYPTO_memcmp(want, req->mac, sizeof(want));
	OPENSSL_cleanse(want, sizeof(want));
	if (wrong) {
		conn->auth = XMEMD_AUTH_FAILED;
		return xmemd_auth_refuse(conn, rep, step, EACCES,
					 "wrong proof (the client's key differs)");
	}
	conn->auth = XMEMD_AUTH_DONE;
	xmemd_conn_log(conn, "authenticated as host %s", conn->host);
	return sizeof(*rep);
}

/* XMEM_MSG_AUTH_HOST_REQ: step 1 naming the client's host (minor 3). */
static uint32_t xmemd_auth_host(struct xmemd_conn *conn,
				const struct xmem_msg_auth_host_req *req,
				void *tx)
{
	struct xmem_msg_auth_rep *rep = tx;
	uint16_t step = le16toh(req->step);
	const struct xmemd_host *h;

	xmemd_auth_rep_hdr(rep, le64toh(req->hdr.tag));
	if (!xmemd.nhosts)
		return xmemd_auth_refuse(conn, rep, step, EOPNOTSUPP,
					 "no per-host keys (--hosts)");
	if (conn->auth == XMEMD_AUTH_FAILED)
		return xmemd_auth_refuse(conn, rep, step, EACCES,
					 "failed before");
	if (step != 1 || !xmemd_name_valid(req->host))
		return xmemd_auth_refuse(conn, rep, step, EINVAL,
					 "step other than 1, or a bad host name");
	if (conn->auth != XMEMD_AUTH_NONE)
		return xmemd_auth_refuse(conn, rep, step, EPROTO,
					 "step 1 again");
	memcpy(conn->host, req->host, XMEM_HOST_MAX);
	conn->host[XMEM_HOST_MAX - 1] = '\0';
	h = xmemd_host_find(req->host);
	if (!h) {
		conn->auth = XMEMD_AUTH_FAILED;
		return xmemd_auth_refuse(conn, rep, step, EACCES,
					 "unknown or revoked host");
	}
	memcpy(conn->key, h->key, h->key_len);
	conn->key_len = h->key_len;
	if (xmemd_auth_challenge(conn, req->nonce, rep))
		return xmemd_auth_refuse(conn, rep, step, EIO,
					 "cannot make a challenge");
	return sizeof(*rep);
}

/*
 * XMEM_MSG_ACT_FOR_REQ (minor 6): an appliance that authenticated with a
 * key of the --hosts list marked "act-for" acts for the client host
 * @req->host from now on: the requests that follow are authorised as
 * that host's.  This is how the target of a PULL copies only what the
 * host that asked for the copy may read here.  Once per connection; the
 * host acted for must be on the list too (a revoked host has nobody
 * acting for it).
 */
static uint32_t xmemd_act_for(struct xmemd_conn *conn,
			      const struct xmem_msg_act_for_req *req,
			      void *tx)
{
	struct xmem_msg_auth_rep *rep = tx;
	const struct xmemd_host *h;
	char ename[XMEM_HOST_MAX * 4];

	xmemd_auth_rep_hdr(rep, le64toh(req->hdr.tag));
	xmemd_escape(ename, sizeof(ename), req->host, XMEM_HOST_MAX);
	if (!xmemd.nhosts) {
		rep->status = htole32(EOPNOTSUPP);
		xmemd_conn_err(conn, "act for host '%s' refused: no per-host keys (--hosts)",
			       ename);
		return sizeof(*rep);
	}
	if (conn->deputy[0] || conn->host[0] == '(') {
		rep->status = htole32(EPROTO);
		xmemd_conn_err(conn, "act for host '%s' refused: %s", ename,
			       conn->deputy[0] ? "acting for a host already" :
			       "not authenticated with a per-host key");
		return sizeof(*rep);
	}
	if (!xmemd_name_valid(req->host)) {
		rep->status = htole32(EINVAL);
		xmemd_conn_err(conn, "act for host '%s' refused: bad host name",
			       ename);
		return sizeof(*rep);
	}
	h = xmemd_host_find(conn->host);
	if (!h || !h->act_for || !xmemd_host_find(req->host)) {
		rep->status = htole32(EACCES);
		xmemd_audit(conn, &xmemd.audit.refused_attach,
			    "act for host %s refused: %s", ename,
			    !h || !h->act_for ?
			    "this host may not act for others (no act-for in the hosts file)" :
			    "unknown or revoked host");
		return sizeof(*rep);
	}
	memcpy(conn->deputy, conn->host, sizeof(conn->deputy));
	memcpy(conn->host, req->host, XMEM_HOST_MAX);
	conn->host[XMEM_HOST_MAX - 1] = '\0';
	xmemd_conn_log(conn, "host %s acts for host %s", conn->deputy,
		       conn->host);
	return sizeof(*rep);
}

/* ---- PULL: appliance-to-appliance copy --------------------------------- */

/*
 * XMEM_MSG_PULL_REQ asks this appliance (the target) to copy a region
 * from another one (the source).  A pull runs in a thread of its own, the
 * worker, so that the poll loop keeps serving every other connection
 * while the copy runs.  The worker talks to the source as a client does
 * and copies into memory that the main thread mapped for it; the global
 * state (regions, capacity, connections, files) stays with the main thread
 * alone.  The two meet in struct xmemd_pull, in four steps:
 *
 *   main:   checks the request, keeps its send buffer for the answer and
 *           starts the worker (step SIZING)
 *   worker: connects, authenticates and attaches the region at the
 *           source; step SIZED with its size, owner, group and mode
 *   main:   reserves the capacity and maps the memory (NAME.region with
 *           --dir); step COPYING with the memory, or with a status
 *   worker: copies with RDMA READ, detaches at the source, disconnects;
 *           step DONE with a status
 *   main:   joins the worker, then gives the region an id, writes
 *           NAME.meta, links it, attaches it to the requester and
 *           answers; or undoes all of it and answers the status
 *
 * A FILL pull maps the existing region instead (@fill_r, busy meanwhile)
 * and links nothing; with DST (minor 7) that region is @dst, not the
 * source's name.
 *
 * The step moves under the pull's @lock; the worker wakes the poll loop
 * through the eventfd xmemd.pull_efd, the main thread wakes the worker
 * with the pull's @cond.  Fields are owned as their comments say.
 */
#define XMEMD_PULL_MAX		8	/* pulls in flight at once */
/* Defaults of --pull-chunk (bytes per RDMA READ) and --pull-depth. */
#define XMEMD_PULL_CHUNK	(1u << 20)
#define XMEMD_PULL_DEPTH	16
#define XMEMD_PULL_NRX		4	/* receive buffers towards the source */
#define XMEMD_PULL_STEP_MS	30000	/* a CM step, a reply, a READ */
/* The whole pull, so that the answer comes within XMEM_PULL_TIMEOUT_SEC. */
#define XMEMD_PULL_DEADLINE	(XMEM_PULL_TIMEOUT_SEC - 20)
/* Work request ids towards the source. */
#define XMEMD_SRC_WR_READ	WIREC_WR_USER

enum {
	XMEMD_PULL_SIZING,	/* worker: connecting, attaching at the source */
	XMEMD_PULL_SIZED,	/* main: reserve and map @size bytes */
	XMEMD_PULL_COPYING,	/* worker: copy into @mem (or fail: @status) */
	XMEMD_PULL_DONE,	/* main: join, finish, answer */
};

/**
 * struct xmemd_pull - a PULL in flight
 * @next: list xmemd.pulls (main thread)
 * @conn: the requesting connection; NULL once it is gone (main thread)
 * @tx: send buffer of @conn kept for the answer (main thread)
 * @tag: tag of the request (main thread)
 * @r: the new region, mapped but not linked, from step SIZED until it
 *	is linked or undone (main thread)
 * @fill: XMEM_PULL_F_FILL: copy into the existing region @fill_r
 *	(read-only)
 * @fill_r: with @fill, the region copied into, busy from step SIZED to
 *	DONE (main thread)
 * @thread: the worker
 * @nr: number of the pull, for the log
 * @src: the source appliance (read-only while the worker runs)
 * @src_str: @src as text, for the log (read-only)
 * @name: the region at the source (read-only)
 * @dst: the region here: @name, or another one with XMEM_PULL_F_DST
 *	(read-only)
 * @for_host: the host the requesting connection authenticated as (or
 *	acts for): the host the source must authorise (read-only)
 * @start: CLOCK_MONOTONIC seconds when the request came (read-only)
 * @size: the region's size (worker before SIZED, main after)
 * @uid: its owner (worker before SIZED, main after)
 * @gid: its group (worker before SIZED, main after)
 * @mode: its permission bits (worker before SIZED, main after)
 * @mem: where to copy to (main before COPYING, worker after)
 * @copy_secs: seconds the RDMA READs took (worker before DONE, main after)
 * @lock: protects @step, @status and @cancel
 * @cond: signalled when the main thread moves @step or sets @cancel
 * @step: XMEMD_PULL_*
 * @status: 0 or a positive errno: set by the main thread with COPYING
 *	(why the worker must not copy), by the worker with DONE
 * @cancel: the requester is gone, or xmemd stops: the worker gives up
 */
struct xmemd_pull {
	struct xmemd_pull *next;
	struct xmemd_conn *conn;
	unsigned int tx;
	uint64_t tag;
	struct xmemd_region *r;
	bool fill;
	struct xmemd_region *fill_r;
	pthread_t thread;
	unsigned long long nr;
	struct sockaddr_storage src;
	char src_str[INET6_ADDRSTRLEN + 16];
	char name[XMEM_NAME_MAX];
	char dst[XMEM_NAME_MAX];
	char for_host[XMEM_HOST_MAX];
	double start;
	uint64_t size;
	uint32_t uid;
	uint32_t gid;
	uint32_t mode;
	void *mem;
	double copy_secs;
	pthread_mutex_t lock;
	pthread_cond_t cond;
	int step;
	int status;
	bool cancel;
};

/* Pulls in flight; only the main thread touches the list. */
static struct xmemd_pull *xmemd_pulls;
static unsigned int xmemd_npulls;
static unsigned long long xmemd_next_pull_nr;

static double xmemd_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

/* Wake the poll loop: a pull moved a step. */
static void xmemd_pull_notify(void)
{
	uint64_t one = 1;

	if (write(xmemd.pull_efd, &one, sizeof(one)) != sizeof(one))
		xmemd_log("pull: eventfd write: %s", strerror(errno));
}

static bool xmemd_pull_cancelled(struct xmemd_pull *p)
{
	bool cancel;

	pthread_mutex_lock(&p->lock);
	cancel = p->cancel;
	pthread_mutex_unlock(&p->lock);
	return cancel;
}

/**
 * struct xmemd_src - the worker's connection to the source appliance
 * @p: the pull
 * @c: the connection, made by wirec (the worker's own event channel,
 *	protection domain and queues)
 * @data_mr: registration of the new region's memory in @c's protection
 *	domain, for the READs
 * @chunk: bytes per RDMA READ
 * @depth: RDMA READs in flight at most
 * @attached: the region is attached at the source; detach it
 */
struct xmemd_src {
	struct xmemd_pull *p;
	struct wirec c;
	struct ibv_mr *data_mr;
	uint32_t chunk;
	unsigned int depth;
	bool attached;
};

__attribute__((format(printf, 2, 3)))
static void xmemd_pull_log(const struct xmemd_pull *p, const char *fmt, ...)
{
	char prefix[sizeof(p->src_str) + 2 * XMEM_NAME_MAX + 56];
	va_list ap;

	if (strcmp(p->name, p->dst))
		snprintf(prefix, sizeof(prefix), "pull %llu '%s' from %s into '%s': ",
			 p->nr, p->name, p->src_str, p->dst);
	else
		snprintf(prefix, sizeof(prefix), "pull %llu '%s' from %s: ",
			 p->nr, p->name, p->src_str);
	va_start(ap, fmt);
	xmemd_vlog(prefix, fmt, ap);
	va_end(ap);
}

/* wirec's log and check callbacks: the pull's log line, its end. */
__attribute__((format(printf, 2, 3)))
static void xmemd_src_log(void *arg, const char *fmt, ...)
{
	char line[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	xmemd_pull_log(arg, "%s", line);
}

static int xmemd_src_check(void *arg)
{
	struct xmemd_pull *p = arg;

	if (xmemd_pull_cancelled(p))
		return ECANCELED;
	if (xmemd_now() > p->start + XMEMD_PULL_DEADLINE)
		return ETIMEDOUT;
	return 0;
}

/*
 * Authenticate to the source of a pull.  A requester that authenticated
 * here with a per-host key is acted for: we authenticate with our own
 * key (--identity) and the source authorises the pull as the requester's
 * host, or the pull is refused (no confused deputy: the requester gets
 * nothing that host may not read there).  Other requesters (shared
 * secret, --insecure) are served with the shared secret, if any.
 * 0 or a positive errno (EACCES, EIO), logged.
 */
static int xmemd_src_auth(struct xmemd_src *s, uint32_t flags)
{
	bool act_for = s->p->for_host[0] != '(';
	const struct xmemd_host *me = &xmemd.identity;
	int err;

	if (!(flags & XMEM_HELLO_F_AUTH)) {
		if (!xmemd.secret_len && !me->name[0] && !act_for)
			return 0;
		if (act_for)
			xmemd_pull_log(s->p, "the source does not authenticate: it cannot authorise the pull as host %s",
				       s->p->for_host);
		else
			xmemd_pull_log(s->p, "the source does not authenticate, but we have credentials: refused");
		return EACCES;
	}
	if (act_for) {
		if (!(flags & XMEM_HELLO_F_HOSTS) || !me->name[0]) {
			xmemd_pull_log(s->p, "cannot act for host %s there: %s",
				       s->p->for_host, me->name[0] ?
				       "the source has no per-host keys" :
				       "we have no --identity");
			return EACCES;
		}
		err = wirec_auth(&s->c, me->name, me->key, me->key_len);
		if (err)
			return err == EACCES ? err : EIO;
		if (!strcmp(s->p->for_host, me->name))
			return 0;
		err = wirec_act_for(&s->c, s->p->for_host);
		if (err)
			xmemd_pull_log(s->p, "the source refused us as %s acting for host %s: %s",
				       me->name, s->p->for_host, strerror(err));
		return err == EACCES || !err ? err : EIO;
	}
	if (!xmemd.secret_len) {
		xmemd_pull_log(s->p, "the source wants authentication; we have no secret (--secret-file)");
		return EACCES;
	}
	err = wirec_auth(&s->c, NULL, xmemd.secret, xmemd.secret_len);
	return err == EACCES || !err ? err : EIO;
}

/*
 * Connect to the source and authenticate if it wants that; 0 or a positive
 * errno (ECONNREFUSED, EHOSTUNREACH, ETIMEDOUT, EACCES, ENOMEM, EIO),
 * logged.
 */
static int xmemd_src_connect(struct xmemd_src *s)
{
	struct wirec_opts o = {
		.nrx = XMEMD_PULL_NRX,
		.ntx = 2,
		.slot = XMEMD_RX_SIZE,
		.send_extra = xmemd.pull_depth + 2,
		/* We issue the READs; the source never reads from us. */
		.rd_atom = xmemd.pull_depth,
		.responder = 0,
		.step_ms = XMEMD_PULL_STEP_MS,
		.check = xmemd_src_check,
		.log = xmemd_src_log,
		.arg = s->p,
	};
	struct xmem_hello hello;
	uint32_t flags;
	int err;

	wirec_hello(&hello, XMEMD_PULL_NRX);
	err = wirec_connect(&s->c, &o, (struct sockaddr *)&s->p->src, &hello,
			    sizeof(hello));
	if (err == ECONNREFUSED && s->c.reject_status > 0)
		xmemd_pull_log(s->p, "the source rejected us: %s",
			       strerror(s->c.reject_status));
	if (err)
		return err == EPROTO ? EIO : err;
	/* Chunks within max_msg_sz, page multiples unless it is smaller. */
	s->chunk = xmemd.pull_chunk;
	if (s->c.max_msg && s->c.max_msg < s->chunk)
		s->chunk = s->c.max_msg >= XMEMD_PAGE_SIZE ?
			   s->c.max_msg & ~(XMEMD_PAGE_SIZE - 1) :
			   s->c.max_msg;
	s->depth = xmemd.pull_depth;
	flags = le32toh(s->c.rep.flags);
	if (s->c.rep.status || !s->c.rep.credits ||
	    flags & ~XMEM_HELLO_F_ALL) {
		xmemd_pull_log(s->p, "bad accept data (protocol %u.%u, credits %u)",
			       le16toh(s->c.rep.major), le16toh(s->c.rep.minor),
			       le16toh(s->c.rep.credits));
		return EIO;
	}
	return xmemd_src_auth(s, flags);
}

/* A REGION_REQ @op with @flags for the pull's region as uid 0; 0 or errno. */
static int xmemd_src_region(struct xmemd_src *s, uint16_t op, uint16_t flags,
			    struct xmem_msg_region_rep *rep)
{
	struct xmem_msg_region_req req;
	int err;

	memset(&req, 0, sizeof(req));
	req.hdr.type = htole16(XMEM_MSG_REGION_REQ);
	req.hdr.len = htole32(sizeof(req));
	req.hdr.tag = htole64(++s->c.tag);
	req.op = htole16(op);
	req.flags = htole16(flags);
	memcpy(req.name, s->p->name, XMEM_NAME_MAX);
	err = wirec_rpc(&s->c, &req, sizeof(req), XMEMD_PULL_STEP_MS);
	if (!err)
		err = wirec_check_reply(&s->c, XMEM_MSG_REGION_REP,
					sizeof(*rep));
	if (!err)
		memcpy(rep, s->c.rx, sizeof(*rep));
	return err;
}

/*
 * REGION ATTACH at the source, without CREATE: learn the size, owner,
 * group, mode, address and key.  We only READ: from a source of minor 9
 * or later we say so (XMEM_ATTACH_F_READ), so that a region a client
 * there holds alone (XMEM_ATTACH_F_SOLE) can still be pulled; older
 * sources would refuse the flag.  0 or a positive errno (ENOENT, EACCES,
 * EIO, ...), logged.
 */
static int xmemd_src_attach(struct xmemd_src *s, uint64_t *raddr,
			    uint32_t *rkey)
{
	struct xmem_msg_region_rep rep;
	uint16_t flags = 0;
	uint32_t status;
	uint64_t size, addr;
	int err;

	if (le16toh(s->c.rep.minor) >= 9)
		flags = XMEM_ATTACH_F_READ;
	err = xmemd_src_region(s, XMEM_REGION_OP_ATTACH, flags, &rep);
	if (err)
		return err;
	status = le32toh(rep.status);
	if (status) {
		xmemd_pull_log(s->p, "the source cannot attach it: %s",
			       strerror(status));
		return status == ENOENT || status == EACCES ? (int)status : EIO;
	}
	s->attached = true;
	size = le64toh(rep.size);
	addr = le64toh(rep.addr);
	if (!size || size % XMEMD_PAGE_SIZE || size > XMEMD_REGION_MAX ||
	    addr + size < addr || le32toh(rep.mode) & ~XMEM_REGION_MODE_MASK ||
	    memcmp(rep.name, s->p->name, XMEM_NAME_MAX)) {
		xmemd_pull_log(s->p, "implausible ATTACH answer (size %" PRIu64 ", mode %o)",
			       size, le32toh(rep.mode));
		return EIO;
	}
	s->p->size = size;
	s->p->uid = le32toh(rep.uid);
	s->p->gid = le32toh(rep.gid);
	s->p->mode = le32toh(rep.mode);
	*raddr = addr;
	*rkey = le32toh(rep.rkey);
	return 0;
}

/* Copy the region into @mem with RDMA READs; 0 or a positive errno. */
static int xmemd_src_copy(struct xmemd_src *s, void *mem, uint64_t raddr,
			  uint32_t rkey)
{
	uint64_t size = s->p->size, off = 0, done = 0, len;
	unsigned int inflight = 0;
	struct ibv_send_wr wr, *bad;
	struct ibv_sge sge;
	struct ibv_wc wc;
	int err;

	s->data_mr = ibv_reg_mr(s->c.pd, mem, size, IBV_ACCESS_LOCAL_WRITE);
	if (!s->data_mr) {
		xmemd_pull_log(s->p, "ibv_reg_mr of %" PRIu64 " bytes: %s",
			       size, strerror(errno));
		return ENOMEM;
	}
	while (done < size) {
		while (inflight < s->depth && off < size) {
			len = size - off < s->chunk ? size - off : s->chunk;
			sge = (struct ibv_sge){
				.addr = (uintptr_t)mem + off,
				.length = (uint32_t)len,
				.lkey = s->data_mr->lkey,
			};
			wr = (struct ibv_send_wr){
				.wr_id = XMEMD_SRC_WR_READ,
				.sg_list = &sge,
				.num_sge = 1,
				.opcode = IBV_WR_RDMA_READ,
				.send_flags = IBV_SEND_SIGNALED,
				.wr.rdma.remote_addr = raddr + off,
				.wr.rdma.rkey = rkey,
			};
			if (ibv_post_send(s->c.id->qp, &wr, &bad)) {
				xmemd_pull_log(s->p, "ibv_post_send (RDMA READ) failed");
				return EIO;
			}
			off += len;
			inflight++;
		}
		err = wirec_wc(&s->c, &wc, XMEMD_PULL_STEP_MS);
		if (err) {
			xmemd_pull_log(s->p, "copy stopped after %" PRIu64 " of %" PRIu64 " bytes: %s",
				       done, size, strerror(err));
			return err;
		}
		if (wc.status != IBV_WC_SUCCESS) {
			xmemd_pull_log(s->p, "RDMA READ failed after %" PRIu64 " bytes: %s",
				       done, ibv_wc_status_str(wc.status));
			return EIO;
		}
		if (WIREC_WR_KIND(wc.wr_id) != XMEMD_SRC_WR_READ)
			continue;
		/* An RC send queue completes in order: the oldest READ. */
		inflight--;
		done += size - done < s->chunk ? size - done : s->chunk;
		/* Completions may never let the wait see a cancel: look. */
		err = xmemd_src_check(s->p);
		if (err) {
			xmemd_pull_log(s->p, "copy stopped after %" PRIu64 " of %" PRIu64 " bytes: %s",
				       done, size, strerror(err));
			return err;
		}
	}
	return 0;
}

/* Disconnect and free everything of @s. */
static void xmemd_src_close(struct xmemd_src *s)
{
	/* The QP goes first: no READ can land in the region any more. */
	wirec_disconnect(&s->c);
	if (s->data_mr)
		ibv_dereg_mr(s->data_mr);
	wirec_close(&s->c);
}

/*
 * Step SIZED: hand the size to the main thread and wait for the memory.
 * Returns the main thread's status (0: @p->mem is there) or ECANCELED.
 */
static int xmemd_pull_wait_memory(struct xmemd_pull *p)
{
	int err;

	pthread_mutex_lock(&p->lock);
	p->step = XMEMD_PULL_SIZED;
	pthread_mutex_unlock(&p->lock);
	xmemd_pull_notify();
	pthread_mutex_lock(&p->lock);
	while (p->step == XMEMD_PULL_SIZED && !p->cancel)
		pthread_cond_wait(&p->cond, &p->lock);
	err = p->step == XMEMD_PULL_COPYING ? p->status : ECANCELED;
	pthread_mutex_unlock(&p->lock);
	return err;
}

/*
 * xmemd_debug_hold - --debug-hold: wait while its file exists
 * @what: "copy" or "pull", for the log
 * @nr: the copy's or pull's number
 * @lock: protects @cancel
 * @cancel: set when the worker must give up
 *
 * For tests that act on a copy or pull in the middle (destroy or kill its
 * source, drop its requester) at a point they know it has reached, with
 * no timing: the test creates the file, starts the copy, does what it
 * does, and removes the file.  Polls every 10 ms; no effect without
 * --debug-hold.
 *
 * Context: a copy or pull worker.
 * Return: true if @cancel was set while it waited.
 */
static bool xmemd_debug_hold(const char *what, unsigned long long nr,
			     pthread_mutex_t *lock, const bool *cancel)
{
	const struct timespec tick = { .tv_nsec = 10 * 1000 * 1000 };
	bool logged = false, stop = false;

	while (xmemd.debug_hold && !access(xmemd.debug_hold, F_OK)) {
		if (!logged) {
			xmemd_log("%s %llu: held while %s exists (--debug-hold)",
				  what, nr, xmemd.debug_hold);
			logged = true;
		}
		pthread_mutex_lock(lock);
		stop = *cancel;
		pthread_mutex_unlock(lock);
		if (stop)
			break;
		nanosleep(&tick, NULL);
	}
	if (logged)
		xmemd_log("%s %llu: released", what, nr);
	return stop;
}

/* The worker: everything that talks to the source. */
static void *xmemd_pull_worker(void *arg)
{
	struct xmemd_pull *p = arg;
	struct xmemd_src s;
	struct xmem_msg_region_rep rep;
	uint64_t raddr = 0;
	uint32_t rkey = 0;
	void *mem = NULL;
	int err, derr;

	memset(&s, 0, sizeof(s));
	s.p = p;
	err = xmemd_src_connect(&s);
	if (!err)
		err = xmemd_src_attach(&s, &raddr, &rkey);
	if (!err)
		err = xmemd_pull_wait_memory(p);
	if (!err) {
		/* Written by the main thread before COPYING. */
		pthread_mutex_lock(&p->lock);
		mem = p->mem;
		pthread_mutex_unlock(&p->lock);
		if (xmemd_debug_hold("pull", p->nr, &p->lock, &p->cancel))
			err = ECANCELED;
	}
	if (!err) {
		p->copy_secs = xmemd_now();
		err = xmemd_src_copy(&s, mem, raddr, rkey);
		p->copy_secs = xmemd_now() - p->copy_secs;
	}
	if (s.attached && err != ECANCELED) {
		derr = xmemd_src_region(&s, XMEM_REGION_OP_DETACH, 0, &rep);
		if (derr || rep.status)
			xmemd_pull_log(p, "DETACH at the source failed (%s); disconnecting detaches it",
				       strerror(derr ? derr :
						(int)le32toh(rep.status)));
	}
	xmemd_src_close(&s);

	pthread_mutex_lock(&p->lock);
	p->status = err;
	p->step = XMEMD_PULL_DONE;
	pthread_mutex_unlock(&p->lock);
	xmemd_pull_notify();
	return NULL;
}

/* Format @ss as ADDR:PORT ([ADDR]:PORT for IPv6). */
static void xmemd_sockaddr_str(const struct sockaddr_storage *ss, char *buf,
			       size_t len)
{
	const struct sockaddr_in6 *sin6 = (const void *)ss;
	const struct sockaddr_in *sin = (const void *)ss;
	char host[INET6_ADDRSTRLEN];

	if (ss->ss_family == AF_INET6) {
		inet_ntop(AF_INET6, &sin6->sin6_addr, host, sizeof(host));
		snprintf(buf, len, "[%s]:%u", host, ntohs(sin6->sin6_port));
	} else {
		inet_ntop(AF_INET, &sin->sin_addr, host, sizeof(host));
		snprintf(buf, len, "%s:%u", host, ntohs(sin->sin_port));
	}
}

/*
 * Is @ss this daemon: our port on one of this host's addresses?  Such a
 * pull would wait for itself.
 */
static bool xmemd_pull_is_self(const struct sockaddr_storage *ss)
{
	const struct sockaddr_in6 *sin6 = (const void *)ss;
	const struct sockaddr_in *sin = (const void *)ss;
	struct ifaddrs *ifa, *i;
	bool self = false;

	if ((ss->ss_family == AF_INET ? ntohs(sin->sin_port) :
	     ntohs(sin6->sin6_port)) != xmemd.port)
		return false;
	if (ss->ss_family == AF_INET ?
	    (ntohl(sin->sin_addr.s_addr) >> 24) == 127 :
	    IN6_IS_ADDR_LOOPBACK(&sin6->sin6_addr))
		return true;
	if (getifaddrs(&ifa)) {
		xmemd_log("getifaddrs: %s", strerror(errno));
		return false;
	}
	for (i = ifa; i && !self; i = i->ifa_next) {
		if (!i->ifa_addr || i->ifa_addr->sa_family != ss->ss_family)
			continue;
		if (ss->ss_family == AF_INET)
			self = ((struct sockaddr_in *)i->ifa_addr)->sin_addr.s_addr ==
			       sin->sin_addr.s_addr;
		else
			self = !memcmp(&((struct sockaddr_in6 *)i->ifa_addr)->sin6_addr,
				       &sin6->sin6_addr, sizeof(sin6->sin6_addr));
	}
	freeifaddrs(ifa);
	return self;
}

/* Decode the source of @req into @ss; NULL or why it is invalid. */
static const char *xmemd_pull_source(const struct xmem_msg_pull_req *req,
				     struct sockaddr_storage *ss)
{
	static const uint8_t zero[12];
	struct sockaddr_in6 *sin6 = (void *)ss;
	struct sockaddr_in *sin = (void *)ss;
	uint16_t family = le16toh(req->family);
	uint32_t a;

	memset(ss, 0, sizeof(*ss));
	if (!req->port)
		return "port 0";
	if (family == XMEM_PULL_FAMILY_INET6) {
		sin6->sin6_family = AF_INET6;
		sin6->sin6_port = req->port;
		memcpy(&sin6->sin6_addr, req->addr, sizeof(sin6->sin6_addr));
		if (IN6_IS_ADDR_UNSPECIFIED(&sin6->sin6_addr))
			return "address ::";
		if (IN6_IS_ADDR_MULTICAST(&sin6->sin6_addr))
			return "multicast address";
		if (!IN6_IS_ADDR_V4MAPPED(&sin6->sin6_addr))
			return NULL;
		/* ::ffff:a.b.c.d is IPv4, and checked as such. */
		memcpy(&a, req->addr + 12, sizeof(a));
		memset(ss, 0, sizeof(*ss));
	} else if (family == XMEM_PULL_FAMILY_INET) {
		if (memcmp(req->addr + 4, zero, sizeof(zero)))
			return "IPv4 address with nonzero bytes after the first 4";
		memcpy(&a, req->addr, sizeof(a));
	} else {
		return "unknown address family";
	}
	sin->sin_family = AF_INET;
	sin->sin_port = req->port;
	sin->sin_addr.s_addr = a;
	a = ntohl(a);
	if (!a)
		return "address 0.0.0.0";
	if (a == 0xffffffffu || (a >> 28) == 0xe)
		return "broadcast or multicast address";
	return NULL;
}

static bool xmemd_copying(const char *name);

/*
 * Is a region of this name being pulled in, or created by a copy?  Its
 * name is taken then.
 */
static bool xmemd_pulling(const char *name)
{
	struct xmemd_pull *p;

	for (p = xmemd_pulls; p; p = p->next)
		if (!p->fill && !strcmp(p->dst, name))
			return true;
	return xmemd_copying(name);
}

/* Fill the header of a REGION_REP answering @tag, every other field 0. */
static void xmemd_region_rep_hdr(struct xmem_msg_region_rep *rep,
				 uint64_t tag)
{
	memset(rep, 0, sizeof(*rep));
	rep->hdr.type = htole16(XMEM_MSG_REGION_REP);
	rep->hdr.len = htole32(sizeof(*rep));
	rep->hdr.tag = htole64(tag);
}

/*
 * A PULL_REQ; the caller checked its length and reserved fields.  @dst is
 * the region to fill here with XMEM_PULL_F_DST (its field of struct
 * xmem_msg_pull_dst_req), else NULL: it is @req's name.  Returns the
 * length of an immediate answer in @tx (a refusal), or 0 when a worker
 * took the request: send buffer @txi then stays with it for the answer.
 */
static uint32_t xmemd_pull_start(struct xmemd_conn *conn,
				 const struct xmem_msg_pull_req *req,
				 const char *dst, void *tx, unsigned int txi)
{
	struct xmem_msg_region_rep *rep = tx;
	char ename[4 * XMEM_NAME_MAX + 1], src[INET6_ADDRSTRLEN + 16];
	char edst[4 * XMEM_NAME_MAX + 1];
	bool fill = le32toh(req->flags) & XMEM_PULL_F_FILL;
	struct sockaddr_storage ss;
	struct xmemd_region *r;
	struct xmemd_pull *p;
	const char *why;
	int status = EINVAL, err;

	xmemd_region_rep_hdr(rep, le64toh(req->hdr.tag));
	xmemd_escape(ename, sizeof(ename), req->name, XMEM_NAME_MAX);
	xmemd_escape(edst, sizeof(edst), dst ? dst : req->name,
		     XMEM_NAME_MAX);
	why = xmemd_pull_source(req, &ss);
	if (why) {
		snprintf(src, sizeof(src), "(family %u)", le16toh(req->family));
		goto fail;
	}
	xmemd_sockaddr_str(&ss, src, sizeof(src));
	why = "bad name";
	if (!xmemd_name_valid(req->name))
		goto fail;
	why = "bad name of the region to fill";
	if (dst && !xmemd_name_valid(dst))
		goto fail;
	why = "DST without FILL";
	if (dst && !fill)
		goto fail;
	if (!dst)
		dst = req->name;
	why = "the source is this appliance";
	if (xmemd_pull_is_self(&ss))
		goto fail;
	status = EEXIST;
	why = "a region of that name exists here";
	if (!fill && xmemd_region_find(dst))
		goto fail;
	status = ENOENT;
	why = "no region of that name to fill here";
	if (fill && !xmemd_region_find(dst))
		goto fail;
	status = EEXIST;
	why = "a region of that name is being pulled here";
	for (p = xmemd_pulls; p; p = p->next)
		if (!strcmp(p->dst, dst))
			goto fail;
	if (xmemd_pulling(dst))
		goto fail;
	status = EACCES;
	why = "the region to fill belongs to another host";
	r = xmemd_region_find(dst);
	if (fill && r && !xmemd_may_attach(r, conn->host, 0, 0))
		goto fail;
	status = EBUSY;
	why = "a copy of the region to fill is in flight";
	if (fill && r && r->busy)
		goto fail;
	why = "the region to fill is held alone by another connection";
	if (fill && r && xmemd_held_by_other(r, conn))
		goto fail;
	status = EBUSY;
	why = "too many pulls in flight";
	if (xmemd_npulls >= XMEMD_PULL_MAX)
		goto fail;

	status = ENOMEM;
	why = "out of memory";
	p = calloc(1, sizeof(*p));
	if (!p)
		goto fail;
	p->conn = conn;
	p->tx = txi;
	p->tag = le64toh(req->hdr.tag);
	p->fill = fill;
	p->nr = ++xmemd_next_pull_nr;
	p->src = ss;
	memcpy(p->src_str, src, sizeof(p->src_str));
	memcpy(p->name, req->name, XMEM_NAME_MAX);
	memcpy(p->dst, dst, XMEM_NAME_MAX);
	memcpy(p->for_host, conn->host, sizeof(p->for_host));
	p->start = xmemd_now();
	p->step = XMEMD_PULL_SIZING;
	pthread_mutex_init(&p->lock, NULL);
	pthread_cond_init(&p->cond, NULL);
	/* SIGINT and SIGTERM stay blocked in the worker: it inherits the mask. */
	err = pthread_create(&p->thread, NULL, xmemd_pull_worker, p);
	if (err) {
		xmemd_conn_log(conn, "pull: pthread_create: %s", strerror(err));
		pthread_mutex_destroy(&p->lock);
		pthread_cond_destroy(&p->cond);
		free(p);
		goto fail;
	}
	p->next = xmemd_pulls;
	xmemd_pulls = p;
	xmemd_npulls++;
	xmemd_dbg("conn %llu: pull %llu '%s' from %s into '%s': started",
		  conn->nr, p->nr, ename, src, edst);
	return 0;

fail:
	rep->status = htole32(status);
	xmemd_conn_err(conn, "pull '%s' from %s into '%s': %s (%s)", ename,
		       src, edst, why, xmemd_errname(status));
	return sizeof(*rep);
}

/* Step SIZED: reserve the capacity and map the memory for the worker. */
static void xmemd_pull_sized(struct xmemd_pull *p)
{
	struct xmemd_region *r = NULL;
	const char *why;
	int status;

	if (!p->conn) {
		status = ECANCELED;
	} else if (p->fill) {
		r = xmemd_region_find(p->dst);
		status = r ? 0 : ENOENT;
		if (r && r->size < p->size) {
			xmemd_pull_log(p, "%" PRIu64 " bytes do not fit in the region here, of %" PRIu64,
				       p->size, r->size);
			status = EINVAL;
		}
		if (!status) {
			r->busy++;
			p->fill_r = r;
		}
		r = NULL;
	} else if (xmemd_region_find(p->dst)) {
		status = EEXIST;
	} else if (p->size > xmemd.capacity - xmemd.allocated) {
		xmemd_pull_log(p, "%" PRIu64 " bytes do not fit: %" PRIu64 " of %" PRIu64 " in use",
			       p->size, xmemd.allocated, xmemd.capacity);
		status = ENOMEM;
	} else if ((status = xmemd_quota_check(p->conn, p->uid, p->size, 1,
					       &why))) {
		xmemd_pull_log(p, "%s", why);
	} else {
		r = calloc(1, sizeof(*r));
		status = ENOMEM;
		if (r) {
			memcpy(r->name, p->dst, XMEM_NAME_MAX);
			status = xmemd_region_map(r, p->size, true);
			if (status && status != EEXIST)
				status = ENOMEM;
		}
		if (status) {
			free(r);
			r = NULL;
		}
	}
	if (r) {
		/* Counted from now on, so nothing else takes the room. */
		r->size = p->size;
		xmemd.allocated += r->size;
		p->r = r;
	}
	/*
	 * With @p->conn there was no cancel, so the worker still waits in
	 * SIZED; after a cancel it may have moved on to DONE by itself.
	 */
	pthread_mutex_lock(&p->lock);
	if (p->step == XMEMD_PULL_SIZED) {
		p->status = status;
		p->mem = r ? r->mem : p->fill_r ? p->fill_r->mem : NULL;
		p->step = XMEMD_PULL_COPYING;
		pthread_cond_signal(&p->cond);
	}
	pthread_mutex_unlock(&p->lock);
}

/* Undo step SIZED: unmap the memory, remove its file, free the room. */
static void xmemd_pull_unmap(struct xmemd_pull *p)
{
	char file[XMEM_NAME_MAX + 16];
	struct xmemd_region *r = p->r;

	if (!r)
		return;
	munmap(r->mem, r->size);
	if (r->fd >= 0) {
		close(r->fd);
		xmemd_file_name(file, sizeof(file), r->name, ".meta");
		unlinkat(xmemd.dirfd, file, 0);
		xmemd_file_name(file, sizeof(file), r->name, ".region");
		unlinkat(xmemd.dirfd, file, 0);
	}
	xmemd.allocated -= r->size;
	free(r);
	p->r = NULL;
}

/*
 * Step DONE: join the worker, make the copy a region attached to the
 * requester, or undo everything; answer, log and free @p.  @p is off the
 * list already.
 */
static void xmemd_pull_done(struct xmemd_pull *p)
{
	struct xmemd_conn *conn = p->conn;
	struct xmem_msg_region_rep *rep;
	struct xmemd_region *r = p->r;
	struct ibv_mr *mr = NULL;
	double secs;
	int status, err;

	pthread_join(p->thread, NULL);
	/* The worker has ended: its fields are ours now. */
	status = p->status;
	if (p->fill_r)
		xmemd_region_unbusy(p->fill_r);
	/* Nobody would learn of a copy made for a failed connection. */
	if (conn && conn->failed)
		conn = NULL;
	if (!status && !conn)
		status = ECANCELED;
	if (p->fill) {
		/* The region was there before: nothing to make or undo. */
		r = p->fill_r;
		if (!status)
			status = xmemd_conn_attach(conn, r, false, &mr);
	} else if (!status && xmemd_region_find(p->dst)) {
		status = EEXIST;
	}
	if (!status && !p->fill) {
		r->id = ++xmemd.next_region_id;
		snprintf(r->host, sizeof(r->host), "%s",
			 xmemd_owner_host(conn));
		r->uid = p->uid;
		r->gid = p->gid;
		r->mode = p->mode;
		if (xmemd.dir && xmemd_meta_write(r))
			status = ENOMEM;
	}
	if (!status && !p->fill) {
		/* The reservation becomes the region's own. */
		xmemd.allocated -= r->size;
		xmemd_region_link(r);
		p->r = NULL;
		status = xmemd_conn_attach(conn, r, false, &mr);
		if (status) {
			xmemd_region_free(r, true);
			status = ENOMEM;
		}
	}
	xmemd_pull_unmap(p);
	secs = xmemd_now() - p->start;

	if (!status)
		xmemd_pull_log(p, "%" PRIu64 " bytes in %.3f s (%.1f MiB/s; the RDMA READs %.3f s, %.1f MiB/s): region %" PRIu64 ", owner %u:%u mode %04o",
			       p->size, secs, p->size / 1048576.0 /
			       (secs > 0 ? secs : 1e-9), p->copy_secs,
			       p->size / 1048576.0 /
			       (p->copy_secs > 0 ? p->copy_secs : 1e-9),
			       r->id, r->uid, r->gid, r->mode);
	else
		xmemd_pull_log(p, "FAILED after %.3f s: %s (%s)%s", secs,
			       strerror(status), xmemd_errname(status),
			       conn ? "" : "; the requester is gone");
	if (p->conn) {
		conn = p->conn;
		rep = (void *)xmemd_tx_buf(conn, p->tx);
		xmemd_region_rep_hdr(rep, p->tag);
		if (status) {
			/* ECANCELED is ours only: the requester is there. */
			rep->status = htole32(status == ECANCELED ? EIO :
					      status);
		} else {
			xmemd_region_rep(rep, r, mr);
			if (!p->fill)
				rep->flags = htole32(XMEM_REGION_REP_F_CREATED);
		}
		err = conn->failed ? -1 : xmemd_post_send(conn, p->tx,
							  sizeof(*rep));
		if (err) {
			conn->tx_free[conn->tx_nfree++] = p->tx;
			if (err > 0) {
				xmemd_conn_log(conn, "ibv_post_send: %s",
					       strerror(err));
				xmemd_conn_fail(conn);
			}
			/* An answer that cannot go out: undo the copy. */
			if (!status && !p->fill) {
				xmemd_pull_log(p, "the answer cannot be sent: copy removed");
				xmemd_conn_detach(conn, r);
				xmemd_region_free(r, true);
			}
		}
	}
	pthread_mutex_destroy(&p->lock);
	pthread_cond_destroy(&p->cond);
	free(p);
}

/* The eventfd woke us: act on every pull that moved a step. */
static void xmemd_pull_events(void)
{
	struct xmemd_pull **pp, *p;
	uint64_t n;
	int step;

	if (read(xmemd.pull_efd, &n, sizeof(n)) < 0 && errno != EAGAIN)
		xmemd_log("pull: eventfd read: %s", strerror(errno));
	for (pp = &xmemd_pulls; (p = *pp);) {
		pthread_mutex_lock(&p->lock);
		step = p->step;
		pthread_mutex_unlock(&p->lock);
		if (step == XMEMD_PULL_SIZED)
			xmemd_pull_sized(p);
		if (step != XMEMD_PULL_DONE) {
			pp = &p->next;
			continue;
		}
		*pp = p->next;
		xmemd_npulls--;
		xmemd_pull_done(p);
	}
}

/* Tell the workers of @conn's pulls (or of all, @conn NULL) to give up. */
static void xmemd_pull_cancel(struct xmemd_conn *conn)
{
	struct xmemd_pull *p;

	for (p = xmemd_pulls; p; p = p->next) {
		if (conn && p->conn != conn)
			continue;
		p->conn = NULL;
		pthread_mutex_lock(&p->lock);
		p->cancel = true;
		pthread_cond_signal(&p->cond);
		pthread_mutex_unlock(&p->lock);
	}
}

/* At exit: cancel every pull, wait for its worker and undo it. */
static void xmemd_pull_shutdown(void)
{
	struct xmemd_pull *p;

	xmemd_pull_cancel(NULL);
	while ((p = xmemd_pulls)) {
		xmemd_pulls = p->next;
		xmemd_npulls--;
		xmemd_pull_done(p);
	}
}

/* ---- COPY: region to region on this appliance ------------------------- */

/*
 * XMEM_MSG_COPY_REQ copies region @src into region @dst of this
 * appliance.  The main thread checks the request, pins both regions
 * (busy: no resize or destroy) and, for a new @dst, maps its memory
 * without linking it (the name stays taken, see xmemd_pulling()); a
 * worker thread copies memory to memory, so the poll loop keeps serving
 * everyone; then the main thread links a new @dst and answers.  The
 * worker touches only the two memory ranges and its struct xmemd_copy's
 * @done, @status and @secs, handed over under @lock and announced through
 * the eventfd xmemd.pull_efd.
 */
#define XMEMD_COPY_MAX		8		/* copies in flight at once */
#define XMEMD_COPY_CHUNK	(4ULL << 20)	/* bytes between cancel checks */

/**
 * struct xmemd_copy - a COPY in flight
 * @next: list xmemd_copies (main thread)
 * @conn: the requesting connection; NULL once it is gone (main thread)
 * @tx: send buffer of @conn kept for the answer (main thread)
 * @tag: tag of the request (main thread)
 * @src: the source region, busy (main thread)
 * @dst: the target region, busy if it existed, else mapped but not
 *	linked until the copy is complete (main thread)
 * @created: @dst is new
 * @nr: number of the copy, for the log
 * @from: source memory (read-only while the worker runs)
 * @to: target memory (read-only while the worker runs)
 * @from_fd: with --dir, the source's file; else -1 (read-only)
 * @to_fd: with --dir, the target's file; else -1 (read-only)
 * @size: bytes to copy: @src's size (read-only while the worker runs)
 * @start: CLOCK_MONOTONIC seconds when the request came
 * @thread: the worker
 * @lock: protects @done, @status, @secs and @cancel
 * @done: the worker has finished
 * @status: 0, or a positive errno from the worker
 * @secs: seconds the copy took
 * @cancel: xmemd stops: the worker gives up
 */
struct xmemd_copy {
	struct xmemd_copy *next;
	struct xmemd_conn *conn;
	unsigned int tx;
	uint64_t tag;
	struct xmemd_region *src;
	struct xmemd_region *dst;
	bool created;
	unsigned long long nr;
	const void *from;
	void *to;
	int from_fd;
	int to_fd;
	uint64_t size;
	double start;
	pthread_t thread;
	pthread_mutex_t lock;
	bool done;
	int status;
	double secs;
	bool cancel;
};

/* Copies in flight; only the main thread touches the list. */
static struct xmemd_copy *xmemd_copies;
static unsigned int xmemd_ncopies;
static unsigned long long xmemd_next_copy_nr;

/* Is a region of this name being created by a copy? */
static bool xmemd_copying(const char *name)
{
	struct xmemd_copy *c;

	for (c = xmemd_copies; c; c = c->next)
		if (c->created && !strcmp(c->dst->name, name))
			return true;
	return false;
}

/* Add the targets that copies in flight create for @host and @uid. */
static void xmemd_copy_usage(const char *host, uint32_t uid, uint64_t *hb,
			     uint64_t *hn, uint64_t *ub, uint64_t *un)
{
	struct xmemd_copy *c;

	for (c = xmemd_copies; c; c = c->next) {
		if (!c->created || strcmp(c->dst->host, host))
			continue;
		*hb += c->dst->size;
		*hn += 1;
		if (c->dst->uid == uid) {
			*ub += c->dst->size;
			*un += 1;
		}
	}
}

/* Is @r the target of a copy or of a filling pull in flight? */
static bool xmemd_copy_target(const struct xmemd_region *r)
{
	struct xmemd_copy *c;
	struct xmemd_pull *p;

	for (c = xmemd_copies; c; c = c->next)
		if (c->dst == r)
			return true;
	for (p = xmemd_pulls; p; p = p->next)
		if (p->fill && !strcmp(p->dst, r->name))
			return true;
	return false;
}

/*
 * The worker: in chunks, looking for a cancel in between.  With --dir
 * the files are copied with copy_file_range() (the regions' mappings are
 * MAP_SHARED, so the page cache is the memory); memcpy() where that is
 * refused.  Region files live on tmpfs or hugetlbfs, which cannot share
 * extents (FICLONE): a reflink is only for taking a snapshot's files
 * away to another file system (see Documentation/snapshots.rst).
 */
static void *xmemd_copy_worker(void *arg)
{
	struct xmemd_copy *c = arg;
	double t0 = xmemd_now();
	bool cancel = false, files = c->from_fd >= 0 && c->to_fd >= 0;
	uint64_t off, len;
	loff_t in, out;
	ssize_t n;

	for (off = 0; off < c->size && !cancel; off += len) {
		len = c->size - off < XMEMD_COPY_CHUNK ? c->size - off :
			XMEMD_COPY_CHUNK;
		in = out = (loff_t)off;
		while (files && in < (loff_t)(off + len)) {
			n = copy_file_range(c->from_fd, &in, c->to_fd, &out,
					    off + len - in, 0);
			if (n <= 0) {
				/* Short or refused: the rest by memcpy(). */
				files = false;
				break;
			}
		}
		if (in < (loff_t)(off + len))
			memcpy((char *)c->to + in, (const char *)c->from + in,
			       off + len - in);
		pthread_mutex_lock(&c->lock);
		cancel = c->cancel;
		pthread_mutex_unlock(&c->lock);
		if (!off && !cancel)
			cancel = xmemd_debug_hold("copy", c->nr, &c->lock,
						  &c->cancel);
	}
	pthread_mutex_lock(&c->lock);
	c->status = cancel ? ECANCELED : 0;
	c->secs = xmemd_now() - t0;
	c->done = true;
	pthread_mutex_unlock(&c->lock);
	xmemd_pull_notify();
	return NULL;
}

/* Unmap a @dst that was never linked, remove its file, free its room. */
static void xmemd_copy_unmap(struct xmemd_region *r)
{
	char file[XMEM_NAME_MAX + 16];

	munmap(r->mem, r->size);
	if (r->fd >= 0) {
		close(r->fd);
		xmemd_file_name(file, sizeof(file), r->name, ".region");
		unlinkat(xmemd.dirfd, file, 0);
	}
	xmemd.allocated -= r->size;
	free(r);
}

/*
 * A COPY_REQ; the caller checked its length, flags and reserved field.
 * Returns the length of an immediate answer in @tx (a refusal), or 0 when
 * a worker took the request: send buffer @txi then stays with it.
 */
static uint32_t xmemd_copy_start(struct xmemd_conn *conn,
				 const struct xmem_msg_copy_req *req,
				 void *tx, unsigned int txi)
{
	struct xmem_msg_region_rep *rep = tx;
	uint32_t flags = le32toh(req->flags), mode = le32toh(req->mode);
	uint32_t uid = le32toh(req->uid), gid = le32toh(req->gid);
	char esrc[4 * XMEM_NAME_MAX + 1], edst[4 * XMEM_NAME_MAX + 1];
	struct xmemd_region *src, *dst, *r = NULL;
	struct xmemd_copy *c;
	const char *why;
	int status = EINVAL, err;

	xmemd_region_rep_hdr(rep, le64toh(req->hdr.tag));
	xmemd_escape(esrc, sizeof(esrc), req->src, XMEM_NAME_MAX);
	xmemd_escape(edst, sizeof(edst), req->dst, XMEM_NAME_MAX);
	why = "bad name";
	if (!xmemd_name_valid(req->src) || !xmemd_name_valid(req->dst))
		goto fail;
	why = "source and target are the same region";
	if (!memcmp(req->src, req->dst, XMEM_NAME_MAX))
		goto fail;
	why = "EXCL without CREATE";
	if ((flags & XMEM_COPY_F_EXCL) && !(flags & XMEM_COPY_F_CREATE))
		goto fail;
	why = "TEMP without CREATE and EXCL";
	if ((flags & XMEM_COPY_F_TEMP) &&
	    (~flags & (XMEM_COPY_F_CREATE | XMEM_COPY_F_EXCL)))
		goto fail;
	why = "mode without CREATE, or beyond 0777";
	if ((mode && !(flags & XMEM_COPY_F_CREATE)) ||
	    (mode & ~XMEM_REGION_MODE_MASK))
		goto fail;

	status = ENOENT;
	why = "no such source region";
	src = xmemd_region_find(req->src);
	if (!src)
		goto fail;
	status = EACCES;
	why = "permission denied on the source";
	if (!xmemd_may_attach(src, conn->host, uid, gid))
		goto fail;
	dst = xmemd_region_find(req->dst);
	status = EEXIST;
	why = "the target is being created by a pull or a copy";
	if (!dst && (xmemd_pulling(req->dst) || xmemd_copying(req->dst)))
		goto fail;
	why = "the target exists";
	if (dst && (flags & XMEM_COPY_F_EXCL))
		goto fail;
	status = ENOENT;
	why = "no such target region";
	if (!dst && !(flags & XMEM_COPY_F_CREATE))
		goto fail;
	status = EACCES;
	why = "permission denied on the target";
	if (dst && !xmemd_may_attach(dst, conn->host, uid, gid))
		goto fail;
	status = EINVAL;
	why = "the target is smaller than the source";
	if (dst && dst->size < src->size)
		goto fail;
	status = EBUSY;
	why = "a copy or pull into the source or target is in flight";
	if (xmemd_copy_target(src) || (dst && xmemd_copy_target(dst)))
		goto fail;
	why = "the target is held alone by another connection";
	if (dst && xmemd_held_by_other(dst, conn))
		goto fail;
	why = "too many copies in flight";
	if (xmemd_ncopies >= XMEMD_COPY_MAX)
		goto fail;
	status = ENOMEM;
	why = "capacity exhausted";
	if (!dst && src->size > xmemd.capacity - xmemd.allocated)
		goto fail;
	/* A new target counts against the requesting host and user. */
	if (!dst) {
		status = xmemd_quota_check(conn, uid, src->size, 1, &why);
		if (status)
			goto fail;
	}

	why = "out of memory";
	c = calloc(1, sizeof(*c));
	if (!c)
		goto fail;
	if (!dst) {
		r = calloc(1, sizeof(*r));
		status = ENOMEM;
		if (r) {
			memcpy(r->name, req->dst, XMEM_NAME_MAX);
			status = xmemd_region_map(r, src->size, true);
		}
		if (status) {
			why = "cannot allocate memory";
			status = ENOMEM;
			free(r);
			free(c);
			goto fail;
		}
		/* Counted from now on, so nothing else takes the room. */
		r->size = src->size;
		r->uid = uid;
		r->gid = gid;
		r->mode = mode ? mode : XMEM_REGION_MODE_DEFAULT;
		r->temp = flags & XMEM_COPY_F_TEMP;
		/* Whose it will be: counted in their quota from now on. */
		snprintf(r->host, sizeof(r->host), "%s",
			 xmemd_owner_host(conn));
		xmemd.allocated += r->size;
		dst = r;
		c->created = true;
	}
	c->conn = conn;
	c->tx = txi;
	c->tag = le64toh(req->hdr.tag);
	c->src = src;
	c->dst = dst;
	c->nr = ++xmemd_next_copy_nr;
	c->from = src->mem;
	c->to = dst->mem;
	c->from_fd = src->fd;
	c->to_fd = dst->fd;
	c->size = src->size;
	c->start = xmemd_now();
	pthread_mutex_init(&c->lock, NULL);
	/* SIGINT and SIGTERM stay blocked in the worker: it inherits the mask. */
	err = pthread_create(&c->thread, NULL, xmemd_copy_worker, c);
	if (err) {
		xmemd_conn_log(conn, "copy: pthread_create: %s", strerror(err));
		pthread_mutex_destroy(&c->lock);
		if (r)
			xmemd_copy_unmap(r);
		free(c);
		status = ENOMEM;
		goto fail;
	}
	src->busy++;
	if (!c->created)
		dst->busy++;
	c->next = xmemd_copies;
	xmemd_copies = c;
	xmemd_ncopies++;
	xmemd_dbg("conn %llu: copy %llu '%s' to '%s'%s: started", conn->nr,
		  c->nr, esrc, edst, dst->temp ? " (temporary)" : "");
	return 0;

fail:
	rep->status = htole32(status);
	xmemd_conn_err(conn, "copy '%s' to '%s' flags 0x%x uid %u: %s (%s)",
		       esrc, edst, flags, uid, why, xmemd_errname(status));
	return sizeof(*rep);
}

/*
 * The worker of @c has finished: join it, link a new target or undo it,
 * answer, log and free @c.  @c is off the list already.
 */
static void xmemd_copy_done(struct xmemd_copy *c)
{
	struct xmemd_conn *conn = c->conn;
	struct xmem_msg_region_rep *rep;
	struct xmemd_region *dst = c->dst;
	double secs;
	int status, err;

	pthread_join(c->thread, NULL);
	status = c->status;
	xmemd_region_unbusy(c->src);
	if (!c->created)
		xmemd_region_unbusy(dst);
	if (conn && conn->failed)
		conn = NULL;
	/* Nobody would learn of a region made for a failed connection. */
	if (!status && !conn && c->created)
		status = ECANCELED;
	if (!status && c->created) {
		/* Owned by the requesting host (set at the start). */
		dst->id = ++xmemd.next_region_id;
		if (xmemd.dir && xmemd_meta_write(dst))
			status = ENOMEM;
	}
	if (c->created) {
		if (status) {
			xmemd_copy_unmap(dst);
			dst = NULL;
		} else {
			/* The reservation becomes the region's own. */
			xmemd.allocated -= dst->size;
			xmemd_region_link(dst);
			/* Its requester attaches it next, or nobody needs it. */
			xmemd_temp_unused(dst, xmemd.temp_grace,
					  "not attached after its copy");
		}
	}
	secs = xmemd_now() - c->start;
	if (!status)
		xmemd_log("copy %llu '%s' to '%s'%s: %" PRIu64 " bytes in %.3f s (%.1f MiB/s; memcpy %.3f s)",
			  c->nr, c->src->name, dst->name,
			  !c->created ? "" : dst->temp ? " (created, temporary)" :
			  " (created)", c->size, secs,
			  c->size / 1048576.0 / (secs > 0 ? secs : 1e-9),
			  c->secs);
	else
		xmemd_log("copy %llu '%s': FAILED after %.3f s: %s%s", c->nr,
			  c->src->name, secs, strerror(status),
			  conn ? "" : "; the requester is gone");

	if (c->conn) {
		conn = c->conn;
		rep = (void *)xmemd_tx_buf(conn, c->tx);
		xmemd_region_rep_hdr(rep, c->tag);
		if (status) {
			rep->status = htole32(status == ECANCELED ? EIO :
					      status);
		} else {
			xmemd_region_rep(rep, dst, NULL);
			if (c->created)
				rep->flags = htole32(XMEM_REGION_REP_F_CREATED);
		}
		err = conn->failed ? -1 : xmemd_post_send(conn, c->tx,
							  sizeof(*rep));
		if (err) {
			conn->tx_free[conn->tx_nfree++] = c->tx;
			if (err > 0) {
				xmemd_conn_log(conn, "ibv_post_send: %s",
					       strerror(err));
				xmemd_conn_fail(conn);
			}
			/* An answer that cannot go out: undo a new region. */
			if (!status && c->created && !dst->users)
				xmemd_region_free(dst, true);
		}
	}
	pthread_mutex_destroy(&c->lock);
	free(c);
}

/* The eventfd woke us: finish every copy whose worker is done. */
static void xmemd_copy_events(void)
{
	struct xmemd_copy **pp, *c;
	bool done;

	for (pp = &xmemd_copies; (c = *pp);) {
		pthread_mutex_lock(&c->lock);
		done = c->done;
		pthread_mutex_unlock(&c->lock);
		if (!done) {
			pp = &c->next;
			continue;
		}
		*pp = c->next;
		xmemd_ncopies--;
		xmemd_copy_done(c);
	}
}

/* Forget @conn in its copies: they finish, but answer nobody. */
static void xmemd_copy_forget(struct xmemd_conn *conn)
{
	struct xmemd_copy *c;

	for (c = xmemd_copies; c; c = c->next)
		if (c->conn == conn)
			c->conn = NULL;
}

/* At exit: cancel every copy, wait for its worker and undo it. */
static void xmemd_copy_shutdown(void)
{
	struct xmemd_copy *c;

	for (c = xmemd_copies; c; c = c->next) {
		c->conn = NULL;
		pthread_mutex_lock(&c->lock);
		c->cancel = true;
		pthread_mutex_unlock(&c->lock);
	}
	while ((c = xmemd_copies)) {
		xmemd_copies = c->next;
		xmemd_ncopies--;
		xmemd_copy_done(c);
	}
}

/*
 * The ATTACH flags @conn may send: SOLE and READ are minor 9's, unknown
 * (EPROTO) to older clients.
 */
static uint32_t xmemd_attach_flags(const struct xmemd_conn *conn)
{
	return conn->minor >= 9 ? XMEM_ATTACH_F_ALL_9 : XMEM_ATTACH_F_ALL;
}

/*
 * Answer the message of @len bytes in receive slot @slot into @tx, send
 * buffer number @txi.  Returns the answer's length, or 0 when the answer
 * comes later (a PULL) from the same send buffer.
 */
static uint32_t xmemd_handle(struct xmemd_conn *conn, unsigned int slot,
			     uint32_t len, void *tx, unsigned int txi)
{
	/* A zeroed copy: nothing past @len can leak into the decision. */
	union {
		struct xmem_msg_hdr hdr;
		struct xmem_msg_attach_req attach;
		struct xmem_msg_stat_req stat;
		struct xmem_msg_region_req region;
		struct xmem_msg_auth_req auth;
		struct xmem_msg_auth_host_req auth_host;
		struct xmem_msg_pull_req pull;
		struct xmem_msg_pull_dst_req pull_dst;
		struct xmem_msg_copy_req copy;
		struct xmem_msg_grant_req grant;
		struct xmem_msg_act_for_req act_for;
		uint8_t raw[XMEMD_RX_SIZE];
	} msg;
	uint16_t type;
	uint64_t tag = 0;
	const char *why;
	int status;

	memset(&msg, 0, sizeof(msg));
	memcpy(&msg, xmemd_rx_buf(conn, slot), len);
	conn->requests++;

	status = EBADMSG;
	if (len < sizeof(msg.hdr)) {
		why = "truncated header";
		goto bad;
	}
	tag = le64toh(msg.hdr.tag);
	type = le16toh(msg.hdr.type);
	if (len > XMEM_MSG_MAX_SIZE) {
		why = "message too long";
		goto bad;
	}
	if (le32toh(msg.hdr.len) != len) {
		why = "length field differs from bytes received";
		goto bad;
	}
	switch (type) {
	case XMEM_MSG_ATTACH_REQ:
	case XMEM_MSG_STAT_REQ:
	case XMEM_MSG_REGION_REQ:
	case XMEM_MSG_AUTH_REQ:
	case XMEM_MSG_PULL_REQ:
	case XMEM_MSG_AUTH_HOST_REQ:
	case XMEM_MSG_COPY_REQ:
	case XMEM_MSG_GRANT_REQ:
	case XMEM_MSG_ACT_FOR_REQ:
		break;
	case XMEM_MSG_INVALID:
	case XMEM_MSG_ATTACH_REP:
	case XMEM_MSG_STAT_REP:
	case XMEM_MSG_ERROR_REP:
	case XMEM_MSG_REGION_REP:
	case XMEM_MSG_AUTH_REP:
		why = "not a request type";
		goto bad;
	default:
		status = EOPNOTSUPP;
		why = "unknown type";
		goto bad;
	}
	if (msg.hdr.flags) {
		status = EPROTO;
		why = "header flags not zero";
		goto bad;
	}

	if (type == XMEM_MSG_AUTH_REQ) {
		if (len != sizeof(msg.auth)) {
			why = "bad length for AUTH_REQ";
			goto bad;
		}
		if (msg.auth.reserved[0] || msg.auth.reserved[1] ||
		    msg.auth.reserved[2]) {
			why = "reserved field not zero";
			goto bad;
		}
		return xmemd_auth(conn, &msg.auth, tx);
	}
	if (type == XMEM_MSG_AUTH_HOST_REQ) {
		if (len != sizeof(msg.auth_host)) {
			why = "bad length for AUTH_HOST_REQ";
			goto bad;
		}
		if (msg.auth_host.reserved[0] || msg.auth_host.reserved[1] ||
		    msg.auth_host.reserved[2]) {
			why = "reserved field not zero";
			goto bad;
		}
		return xmemd_auth_host(conn, &msg.auth_host, tx);
	}
	if (conn->auth != XMEMD_AUTH_DONE) {
		status = EACCES;
		why = "not authenticated";
		goto bad;
	}

	if (type == XMEM_MSG_ACT_FOR_REQ) {
		if (len != sizeof(msg.act_for)) {
			why = "bad length for ACT_FOR_REQ";
			goto bad;
		}
		if (msg.act_for.reserved) {
			why = "reserved field not zero";
			goto bad;
		}
		return xmemd_act_for(conn, &msg.act_for, tx);
	}

	if (type == XMEM_MSG_STAT_REQ) {
		if (len != sizeof(msg.stat)) {
			why = "bad length for STAT_REQ";
			goto bad;
		}
		return xmemd_stat(conn, &msg.stat, tx);
	}

	if (type == XMEM_MSG_REGION_REQ) {
		uint16_t op = le16toh(msg.region.op);

		if (len != sizeof(msg.region)) {
			why = "bad length for REGION_REQ";
			goto bad;
		}
		/* The hold's token of a SOLE ATTACH (minor 9) goes there. */
		if (msg.region.reserved &&
		    !(op == XMEM_REGION_OP_ATTACH && conn->minor >= 9 &&
		      (le16toh(msg.region.flags) & XMEM_ATTACH_F_SOLE))) {
			why = "reserved field not zero";
			goto bad;
		}
		if (op == XMEM_REGION_OP_INVALID || op >= XMEM_REGION_OP_MAX) {
			status = EOPNOTSUPP;
			why = "unknown region operation";
			goto bad;
		}
		if (op == XMEM_REGION_OP_ATTACH ?
		    le16toh(msg.region.flags) & ~xmemd_attach_flags(conn) :
		    !!msg.region.flags) {
			status = EPROTO;
			why = "unknown region flags";
			goto bad;
		}
		return xmemd_region_op(conn, &msg.region, tx);
	}

	if (type == XMEM_MSG_PULL_REQ) {
		bool dst = le32toh(msg.pull.flags) & XMEM_PULL_F_DST;

		if (len != (dst ? sizeof(msg.pull_dst) : sizeof(msg.pull))) {
			why = "bad length for PULL_REQ";
			goto bad;
		}
		if (msg.pull.reserved2) {
			why = "reserved field not zero";
			goto bad;
		}
		if (le32toh(msg.pull.flags) & ~XMEM_PULL_F_ALL) {
			status = EPROTO;
			why = "unknown pull flags";
			goto bad;
		}
		return xmemd_pull_start(conn, &msg.pull,
					dst ? msg.pull_dst.dst : NULL, tx, txi);
	}

	if (type == XMEM_MSG_COPY_REQ) {
		if (len != sizeof(msg.copy)) {
			why = "bad length for COPY_REQ";
			goto bad;
		}
		if (msg.copy.reserved) {
			why = "reserved field not zero";
			goto bad;
		}
		if (le32toh(msg.copy.flags) & ~XMEM_COPY_F_ALL) {
			status = EPROTO;
			why = "unknown copy flags";
			goto bad;
		}
		/* TEMP is minor 8's: older clients cannot know it. */
		if ((le32toh(msg.copy.flags) & XMEM_COPY_F_TEMP) &&
		    conn->minor < 8) {
			status = EPROTO;
			why = "TEMP from a client of protocol 1.7 or older";
			goto bad;
		}
		return xmemd_copy_start(conn, &msg.copy, tx, txi);
	}

	if (type == XMEM_MSG_GRANT_REQ) {
		if (len != sizeof(msg.grant)) {
			why = "bad length for GRANT_REQ";
			goto bad;
		}
		if (msg.grant.reserved) {
			why = "reserved field not zero";
			goto bad;
		}
		if (le16toh(msg.grant.flags) & ~XMEM_GRANT_F_ALL) {
			status = EPROTO;
			why = "unknown grant flags";
			goto bad;
		}
		return xmemd_grant(conn, &msg.grant, tx);
	}

	if (len != sizeof(msg.attach)) {
		why = "bad length for ATTACH_REQ";
		goto bad;
	}
	if (le32toh(msg.attach.flags) & ~xmemd_attach_flags(conn)) {
		status = EPROTO;
		why = "unknown attach flags";
		goto bad;
	}
	if (msg.attach.reserved) {
		why = "reserved field not zero";
		goto bad;
	}
	return xmemd_attach(conn, &msg.attach, tx);

bad:
	if (len >= sizeof(msg.hdr))
		xmemd_conn_err(conn, "bad message (type %u, flags 0x%x, len field %u, %u bytes, tag %" PRIu64 "): %s (%s)",
			       le16toh(msg.hdr.type), le16toh(msg.hdr.flags),
			       le32toh(msg.hdr.len), len, tag, why,
			       xmemd_errname(status));
	else
		xmemd_conn_err(conn, "bad message (%u bytes): %s (%s)", len,
			       why, xmemd_errname(status));
	return xmemd_error_rep(tx, tag, status);
}

/*
 * Answer the request in receive slot @slot with send buffer @tx, then give
 * the receive buffer back.  The receive is reposted before the reply goes
 * out, so a client that sends its next request as soon as it has the reply
 * always finds a buffer.
 */
static void xmemd_serve(struct xmemd_conn *conn, unsigned int slot,
			uint32_t len, unsigned int tx)
{
	uint32_t replen;
	int err;

	replen = xmemd_handle(conn, slot, len, xmemd_tx_buf(conn, tx), tx);
	err = xmemd_post_recv(conn, slot);
	if (err) {
		xmemd_conn_log(conn, "ibv_post_recv: %s", strerror(err));
		/* A pull keeps its send buffer until it ends. */
		if (!replen) {
			xmemd_conn_fail(conn);
			return;
		}
		goto fail;
	}
	if (!replen)
		return;
	err = xmemd_post_send(conn, tx, replen);
	if (err) {
		xmemd_conn_log(conn, "ibv_post_send: %s", strerror(err));
		goto fail;
	}
	return;

fail:
	conn->tx_free[conn->tx_nfree++] = tx;
	xmemd_conn_fail(conn);
}

static void xmemd_conn_wc(struct xmemd_conn *conn, const struct ibv_wc *wc)
{
	unsigned int idx = (unsigned int)(wc->wr_id & 0xffffffffu);
	bool send = wc->wr_id & XMEMD_WR_SEND;
	uint32_t len;

	if (wc->status != IBV_WC_SUCCESS) {
		if (!conn->failed && wc->status != IBV_WC_WR_FLUSH_ERR)
			xmemd_conn_log(conn, "%s failed: %s (vendor error 0x%x)",
				       send ? "send" : "receive",
				       ibv_wc_status_str(wc->status),
				       wc->vendor_err);
		xmemd_conn_fail(conn);
		return;
	}
	if (conn->failed)
		return;
	if (send ? idx >= conn->ntx : idx >= conn->credits) {
		xmemd_conn_log(conn, "completion with bad wr_id 0x%" PRIx64,
			       (uint64_t)wc->wr_id);
		xmemd_conn_fail(conn);
		return;
	}

	if (send) {
		conn->tx_free[conn->tx_nfree++] = idx;
		if (conn->npending) {
			struct xmemd_pending p = conn->pending[0];

			conn->npending--;
			memmove(conn->pending, conn->pending + 1,
				conn->npending * sizeof(*conn->pending));
			xmemd_serve(conn, p.slot, p.len,
				    conn->tx_free[--conn->tx_nfree]);
		}
		return;
	}

	/* Only plain SENDs carry a message; anything else is empty. */
	len = wc->opcode == IBV_WC_RECV ? wc->byte_len : 0;
	if (len > XMEMD_RX_SIZE)
		len = 0;
	if (!conn->tx_nfree || conn->npending) {
		/*
		 * Every send buffer is still in flight (the client got its
		 * replies before we saw the send completions): answer when
		 * one comes back.  At most one request per receive buffer
		 * can wait, so @pending never overflows.
		 */
		conn->pending[conn->npending].slot = idx;
		conn->pending[conn->npending].len = len;
		conn->npending++;
		xmemd_dbg("conn %llu: request parked, no free send buffer",
			  conn->nr);
		return;
	}
	xmemd_serve(conn, idx, len, conn->tx_free[--conn->tx_nfree]);
}

static void xmemd_conn_poll(struct xmemd_conn *conn)
{
	struct ibv_wc wc[16];
	int n, i;

	do {
		n = ibv_poll_cq(conn->cq, 16, wc);
		for (i = 0; i < n; i++)
			xmemd_conn_wc(conn, &wc[i]);
	} while (n > 0);
	if (n < 0) {
		xmemd_conn_log(conn, "ibv_poll_cq failed");
		xmemd_conn_fail(conn);
	}
}

/* Drain the completion channel of @dev. */
static void xmemd_dev_events(struct xmemd_dev *dev)
{
	struct xmemd_conn *conn;
	struct ibv_cq *cq;
	void *ctx;

	while (!ibv_get_cq_event(dev->cc, &cq, &ctx)) {
		conn = ctx;
		/* Acked at once: a CQ can then be destroyed at any time. */
		ibv_ack_cq_events(cq, 1);
		if (ibv_req_notify_cq(cq, 0)) {
			xmemd_conn_log(conn, "ibv_req_notify_cq: %s",
				       strerror(errno));
			xmemd_conn_fail(conn);
		}
		xmemd_conn_poll(conn);
	}
	if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)
		xmemd_log("%s: ibv_get_cq_event: %s",
			  ibv_get_device_name(dev->verbs->device),
			  strerror(errno));
}

/* ---- RDMA CM ----------------------------------------------------------- */

static int xmemd_listen(bool quiet)
{
	struct rdma_cm_id *id;
	struct sockaddr_in6 any6 = {
		.sin6_family = AF_INET6,
		.sin6_addr = IN6ADDR_ANY_INIT,
		.sin6_port = htons(xmemd.port),
	};
	struct sockaddr_in any4 = {
		.sin_family = AF_INET,
		.sin_addr.s_addr = htonl(INADDR_ANY),
		.sin_port = htons(xmemd.port),
	};
	struct sockaddr *addrs[2];
	int naddrs, i, err = 0;

	if (xmemd.bind_str) {
		addrs[0] = (struct sockaddr *)&xmemd.bind_addr;
		naddrs = 1;
	} else {
		/* [::] takes IPv4 too, unless IPv6 is off: then 0.0.0.0. */
		addrs[0] = (struct sockaddr *)&any6;
		addrs[1] = (struct sockaddr *)&any4;
		naddrs = 2;
	}
	for (i = 0; i < naddrs; i++) {
		if (rdma_create_id(xmemd.ec, &id, NULL, RDMA_PS_TCP)) {
			err = errno;
			if (!quiet)
				xmemd_log("rdma_create_id: %s", strerror(err));
			return -1;
		}
		/* Dual stack for [::], whatever net.ipv6.bindv6only says. */
		if (addrs[i]->sa_family == AF_INET6 && !xmemd.bind_str) {
			int afonly = 0;

			rdma_set_option(id, RDMA_OPTION_ID,
					RDMA_OPTION_ID_AFONLY, &afonly,
					sizeof(afonly));
		}
		if (!rdma_bind_addr(id, addrs[i]) &&
		    !rdma_listen(id, XMEMD_BACKLOG)) {
			xmemd.listen_id = id;
			return 0;
		}
		err = errno;
		rdma_destroy_id(id);
	}
	if (!quiet)
		xmemd_log("cannot listen on %s port %u: %s",
			  xmemd.bind_str ? xmemd.bind_str : "any address",
			  xmemd.port, strerror(err));
	return -1;
}

/* Handle one CM event; returns an id to destroy after the ack, or NULL. */
static struct rdma_cm_id *xmemd_cm_event(struct rdma_cm_event *ev)
{
	struct xmemd_conn *conn;
	struct rdma_cm_id *id;

	if (ev->event == RDMA_CM_EVENT_CONNECT_REQUEST)
		return xmemd_conn_request(ev);

	if (ev->id == xmemd.listen_id) {
		if (ev->event == RDMA_CM_EVENT_DEVICE_REMOVAL) {
			xmemd_log("listening device removed; listening again when possible");
			id = xmemd.listen_id;
			xmemd.listen_id = NULL;
			xmemd.relisten_logged = false;
			return id;
		}
		xmemd_dbg("listener: %s", rdma_event_str(ev->event));
		return NULL;
	}

	conn = ev->id->context;
	if (!conn) {
		xmemd_dbg("%s on an unknown id", rdma_event_str(ev->event));
		return NULL;
	}
	switch (ev->event) {
	case RDMA_CM_EVENT_ESTABLISHED:
		xmemd_conn_log(conn, "established");
		return NULL;
	case RDMA_CM_EVENT_DEVICE_REMOVAL:
		conn->dev->dead = true;
		/* fall through */
	case RDMA_CM_EVENT_DISCONNECTED:
	case RDMA_CM_EVENT_CONNECT_ERROR:
	case RDMA_CM_EVENT_UNREACHABLE:
	case RDMA_CM_EVENT_REJECTED:
		xmemd_conn_log(conn, "%s (status %d) after %llu requests",
			       rdma_event_str(ev->event), ev->status,
			       conn->requests);
		if (ev->event != RDMA_CM_EVENT_DISCONNECTED)
			rdma_disconnect(ev->id);
		return xmemd_conn_release(conn);
	default:
		xmemd_dbg("conn %llu: %s", conn->nr, rdma_event_str(ev->event));
		return NULL;
	}
}

static void xmemd_cm_events(void)
{
	struct rdma_cm_event *ev;
	struct rdma_cm_id *id;

	while (!rdma_get_cm_event(xmemd.ec, &ev)) {
		id = xmemd_cm_event(ev);
		rdma_ack_cm_event(ev);
		/* An id is destroyed only once its events are acknowledged. */
		if (id)
			rdma_destroy_id(id);
	}
	if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)
		xmemd_log("rdma_get_cm_event: %s", strerror(errno));
}

/* ---- main -------------------------------------------------------------- */

static void xmemd_shutdown(void)
{
	struct xmemd_region *r;
	struct rdma_cm_id *id;
	unsigned int h;

	if (xmemd.control_fd >= 0) {
		close(xmemd.control_fd);
		xmemd.control_fd = -1;
		unlink(xmemd.control);
	}
	xmemd_pull_shutdown();
	xmemd_copy_shutdown();
	while (xmemd.conns) {
		rdma_disconnect(xmemd.conns->id);
		id = xmemd_conn_release(xmemd.conns);
		rdma_destroy_id(id);
	}
	while (xmemd.devs)
		xmemd_dev_free(xmemd.devs);
	if (xmemd.listen_id)
		rdma_destroy_id(xmemd.listen_id);
	/* With --dir the files stay for the next start, but a temporary one's. */
	for (h = 0; h < XMEMD_HASH_SIZE; h++) {
		while ((r = xmemd.regions[h])) {
			if (r->temp)
				xmemd_temp_destroy(r, "xmemd stops");
			else
				xmemd_region_free(r, false);
		}
	}
	rdma_destroy_event_channel(xmemd.ec);
}

/*
 * Read the --hosts allow-list: "HOST KEY [act-for]" lines, '#' comments
 * and blank lines; HOST as a region name, KEY 16 to 128 characters
 * without blanks, "act-for" for another appliance that may act for the
 * client hosts it pulls regions for.
 * The file must not be readable or writable by group or others.  Returns
 * the number of hosts (at least 1) with *@hostsp, or -1 with a message on
 * stderr that names the file and line, never a key.
 */
static int xmemd_hosts_read(const char *path, struct xmemd_host **hostsp)
{
	struct xmemd_host *hosts = NULL, *h;
	char line[512], name[XMEM_HOST_MAX];
	unsigned int lineno = 0, n = 0, i;
	char *p, *host, *key, *flag, *end;
	struct stat st;
	FILE *f;

	f = fopen(path, "re");
	if (!f) {
		fprintf(stderr, "%s: hosts file %s: %s\n", xmemd_prog, path,
			strerror(errno));
		return -1;
	}
	if (fstat(fileno(f), &st) || (st.st_mode & 0077)) {
		fprintf(stderr, "%s: hosts file %s: group or others have access (mode %04o); chmod 600 it\n",
			xmemd_prog, path, (unsigned int)(st.st_mode & 07777));
		goto err;
	}
	while (fgets(line, sizeof(line), f)) {
		lineno++;
		p = strchr(line, '#');
		if (p)
			*p = '\0';
		host = strtok_r(line, " \t\r\n", &p);
		if (!host)
			continue;
		key = strtok_r(NULL, " \t\r\n", &p);
		flag = strtok_r(NULL, " \t\r\n", &p);
		end = strtok_r(NULL, " \t\r\n", &p);
		memset(name, 0, sizeof(name));
		if (strlen(host) < sizeof(name))
			memcpy(name, host, strlen(host));
		if (!key || end || (flag && strcmp(flag, "act-for")) ||
		    !xmemd_name_valid(name) ||
		    strlen(key) < XMEM_AUTH_SECRET_MIN ||
		    strlen(key) > XMEM_AUTH_SECRET_MAX) {
			fprintf(stderr, "%s: hosts file %s line %u: want HOST KEY [act-for] (a host name as region names go, a key of %d to %d characters)\n",
				xmemd_prog, path, lineno, XMEM_AUTH_SECRET_MIN,
				XMEM_AUTH_SECRET_MAX);
			goto err;
		}
		for (i = 0; i < n; i++) {
			if (!strcmp(hosts[i].name, name)) {
				fprintf(stderr, "%s: hosts file %s line %u: host %s twice\n",
					xmemd_prog, path, lineno, name);
				goto err;
			}
		}
		h = realloc(hosts, (n + 1) * sizeof(*hosts));
		if (!h)
			goto err;
		hosts = h;
		h = &hosts[n++];
		memcpy(h->name, name, sizeof(h->name));
		h->key_len = strlen(key);
		memcpy(h->key, key, h->key_len);
		h->act_for = !!flag;
	}
	OPENSSL_cleanse(line, sizeof(line));
	fclose(f);
	if (!n) {
		fprintf(stderr, "%s: hosts file %s: no host\n", xmemd_prog,
			path);
		free(hosts);
		return -1;
	}
	*hostsp = hosts;
	return (int)n;

err:
	OPENSSL_cleanse(line, sizeof(line));
	fclose(f);
	if (hosts)
		OPENSSL_cleanse(hosts, n * sizeof(*hosts));
	free(hosts);
	return -1;
}

/*
 * Read --identity: one "NAME KEY" line as in a hosts file (mode 0600),
 * this appliance's name and key on the hosts lists of the appliances it
 * pulls from.  0, or -1 with a message that never shows the key.
 */
static int xmemd_identity_read(const char *path)
{
	struct xmemd_host *id = NULL;
	int n;

	n = xmemd_hosts_read(path, &id);
	if (n < 0)
		return -1;
	if (n != 1 || id->act_for) {
		fprintf(stderr, "%s: identity file %s: want one \"NAME KEY\" line\n",
			xmemd_prog, path);
		OPENSSL_cleanse(id, n * sizeof(*id));
		free(id);
		return -1;
	}
	xmemd.identity = *id;
	OPENSSL_cleanse(id, sizeof(*id));
	free(id);
	return 0;
}

/*
 * SIGHUP: read the --hosts file again.  Connections of a host that is no
 * longer listed, or whose key changed, are disconnected; the others go
 * on untouched.  A file that does not parse changes nothing.
 */
static void xmemd_hosts_reload(void)
{
	const struct xmemd_host *h;
	struct xmemd_host *hosts;
	struct xmemd_conn *conn;
	unsigned int dropped = 0;
	struct xmemd_quota *qs;
	int n;

	if (xmemd_quota_file) {
		n = xmemd_quota_read(xmemd_quota_file, &qs);
		if (n < 0) {
			xmemd_log("SIGHUP: %s does not parse (see above): the old quotas stay",
				  xmemd_quota_file);
		} else {
			free(xmemd_quotas);
			xmemd_quotas = qs;
			xmemd_nquotas = n;
			xmemd_log("SIGHUP: %u quota lines in %s", n,
				  xmemd_quota_file);
		}
	}
	if (!xmemd.hosts_file) {
		xmemd_log("SIGHUP: no --hosts file to read again");
		return;
	}
	n = xmemd_hosts_read(xmemd.hosts_file, &hosts);
	if (n < 0) {
		xmemd_log("SIGHUP: %s does not parse (see above): the old list stays",
			  xmemd.hosts_file);
		return;
	}
	OPENSSL_cleanse(xmemd.hosts, xmemd.nhosts * sizeof(*xmemd.hosts));
	free(xmemd.hosts);
	xmemd.hosts = hosts;
	xmemd.nhosts = n;
	for (conn = xmemd.conns; conn; conn = conn->next) {
		if (conn->auth == XMEMD_AUTH_NONE || conn->failed ||
		    !strcmp(conn->host, XMEMD_HOST_SHARED))
			continue;
		/* An appliance acting for a host: both must stay. */
		h = xmemd_host_find(conn->deputy[0] ? conn->deputy :
				    conn->host);
		if (h && h->key_len == conn->key_len &&
		    !CRYPTO_memcmp(h->key, conn->key, h->key_len) &&
		    (!conn->deputy[0] ||
		     (h->act_for && xmemd_host_find(conn->host))))
			continue;
		xmemd_audit(conn, &xmemd.audit.bad_credential,
			    "host revoked or its key changed: disconnected");
		xmemd_conn_fail(conn);
		dropped++;
	}
	xmemd_log("SIGHUP: %u hosts in %s; %u connections of revoked hosts dropped",
		  xmemd.nhosts, xmemd.hosts_file, dropped);
}

/* A quota line's limits as text, or "none". */
static const char *xmemd_quota_str(const struct xmemd_quota *q, char *buf,
				   size_t len)
{
	char b[24] = "-", n[24] = "-";

	if (!q)
		return "none";
	if (q->bytes != UINT64_MAX)
		snprintf(b, sizeof(b), "%" PRIu64, q->bytes);
	if (q->regions != UINT64_MAX)
		snprintf(n, sizeof(n), "%" PRIu64, q->regions);
	snprintf(buf, len, "%s bytes, %s regions", b, n);
	return buf;
}

/*
 * A status line: to the log with the prefix "status: " (SIGUSR1, @out
 * NULL), or one line of @out (the control socket).
 */
__attribute__((format(printf, 2, 3)))
static void xmemd_status_line(FILE *out, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	if (out) {
		vfprintf(out, fmt, ap);
		fputc('\n', out);
	} else {
		xmemd_vlog("status: ", fmt, ap);
	}
	va_end(ap);
}

/*
 * After the host lines: one line per user of a host that holds regions
 * (the first 256 pairs), with its usage and limits.
 */
static void xmemd_status_users(FILE *out)
{
	const struct xmemd_region *seen[256];
	unsigned int nseen = 0, i, h;
	uint64_t hb, hn, ub, un;
	struct xmemd_region *r;
	char lim[64];

	for (h = 0; h < XMEMD_HASH_SIZE; h++) {
		for (r = xmemd.regions[h]; r; r = r->next) {
			for (i = 0; i < nseen; i++)
				if (seen[i]->uid == r->uid &&
				    !strcmp(seen[i]->host, r->host))
					break;
			if (i < nseen || nseen == 256)
				continue;
			seen[nseen++] = r;
			xmemd_quota_usage(r->host, r->uid, &hb, &hn, &ub, &un);
			xmemd_status_line(out, "host %s uid %u: %" PRIu64 " bytes in %" PRIu64 " regions; quota %s",
					  r->host[0] ? r->host : "(none)",
					  r->uid, ub, un,
					  xmemd_quota_str(xmemd_quota_find(r->host,
									   true,
									   r->uid),
							  lim, sizeof(lim)));
		}
	}
}

/*
 * After the user lines: one line per temporary region (the first 256),
 * attached or when it goes.
 */
static void xmemd_status_temp(FILE *out)
{
	unsigned int n = 0, h;
	struct xmemd_region *r;
	double now = xmemd_now();

	for (h = 0; h < XMEMD_HASH_SIZE; h++) {
		for (r = xmemd.regions[h]; r; r = r->next) {
			if (!r->temp || n++ >= 256)
				continue;
			if (r->users)
				xmemd_status_line(out, "temporary region %" PRIu64 " '%s': attached by %u connections",
						  r->id, r->name, r->users);
			else if (r->busy && r->temp_deadline <= now)
				xmemd_status_line(out, "temporary region %" PRIu64 " '%s': not attached, destroyed when the copy in flight ends (%s)",
						  r->id, r->name, r->temp_why);
			else
				xmemd_status_line(out, "temporary region %" PRIu64 " '%s': not attached, destroyed in %.0f s (%s)",
						  r->id, r->name,
						  r->temp_deadline > now ?
						  r->temp_deadline - now : 0,
						  r->temp_why);
		}
	}
	if (n > 256)
		xmemd_status_line(out, "%u more temporary regions", n - 256);
}

/*
 * After the temporary regions: one line per region held alone
 * (XMEM_ATTACH_F_SOLE; the first 256), with the holder, or how long its
 * grace lasts.
 */
static void xmemd_status_sole(FILE *out)
{
	unsigned int n = 0, h;
	struct xmemd_region *r;

	for (h = 0; h < XMEMD_HASH_SIZE; h++) {
		for (r = xmemd.regions[h]; r; r = r->next) {
			if (!xmemd_held(r) || n++ >= 256)
				continue;
			if (r->sole)
				xmemd_status_line(out, "sole region %" PRIu64 " '%s': held by conn %llu (%s, host %s), attached by %u connections",
						  r->id, r->name, r->sole->nr,
						  r->sole->peer, r->sole->host,
						  r->users);
			else
				xmemd_status_line(out, "sole region %" PRIu64 " '%s': holder gone, held %.0f s more, attached by %u connections",
						  r->id, r->name,
						  r->sole_until - xmemd_now(),
						  r->users);
		}
	}
	if (n > 256)
		xmemd_status_line(out, "%u more sole regions", n - 256);
}

/*
 * The status (SIGUSR1 to the log, `xmemd --status` to @out): one line
 * with the audit counters, then one per host that holds regions, with
 * its usage and limits, then one per user, then one per temporary
 * region, then one per region held alone.
 */
static void xmemd_status(FILE *out)
{
	const char *seen[256];
	unsigned int nseen = 0, i, h;
	const struct xmemd_quota *q;
	uint64_t hb, hn, ub, un;
	struct xmemd_region *r;
	char lim[64];

	xmemd_status_line(out, "%u connections, %" PRIu64 " regions, %" PRIu64
			  " of %" PRIu64 " bytes; %u hosts; refused: %llu bad credentials, %llu attaches, %llu over quota",
			  xmemd.nconns, xmemd.nregions, xmemd.allocated,
			  xmemd.capacity, xmemd.nhosts,
			  xmemd.audit.bad_credential,
			  xmemd.audit.refused_attach, xmemd.audit.quota);
	for (h = 0; h < XMEMD_HASH_SIZE; h++) {
		for (r = xmemd.regions[h]; r; r = r->next) {
			for (i = 0; i < nseen; i++)
				if (!strcmp(seen[i], r->host))
					break;
			if (i < nseen || nseen == 256)
				continue;
			seen[nseen++] = r->host;
			xmemd_quota_usage(r->host, 0, &hb, &hn, &ub, &un);
			q = xmemd_quota_find(r->host, false, 0);
			xmemd_status_line(out, "host %s: %" PRIu64 " bytes in %" PRIu64 " regions; quota %s",
					  r->host[0] ? r->host : "(none)", hb,
					  hn, xmemd_quota_str(q, lim,
							      sizeof(lim)));
		}
	}
	xmemd_status_users(out);
	xmemd_status_temp(out);
	xmemd_status_sole(out);
}

/* ---- the control socket: xmemd --status --------------------------------- */

/* Bound of a status transfer on the control socket, either side. */
#define XMEMD_CONTROL_TIMEOUT_S	5

/*
 * Listen on the control socket @path: a unix stream socket of mode 0600
 * (only root, or the user running xmemd, may connect), where every
 * connection is sent the status lines and closed.  A socket file left by
 * a daemon that died is replaced: we hold the port now.  The fd, or -1
 * with errno.
 */
static int xmemd_control_open(const char *path)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	struct stat st;
	mode_t old;
	int fd, ret, err;

	if (strlen(path) >= sizeof(sa.sun_path)) {
		errno = ENAMETOOLONG;
		return -1;
	}
	memcpy(sa.sun_path, path, strlen(path));
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -1;
	if (!lstat(path, &st) && S_ISSOCK(st.st_mode))
		unlink(path);
	old = umask(0077);
	ret = bind(fd, (struct sockaddr *)&sa, sizeof(sa));
	umask(old);
	if (ret || listen(fd, 4)) {
		err = errno;
		close(fd);
		errno = err;
		return -1;
	}
	return fd;
}

/*
 * A connection on the control socket: send it the status and close it.
 * The send is bounded, so a reader that does not read (or reads slowly)
 * holds the main loop XMEMD_CONTROL_TIMEOUT_S at most (and only root can
 * connect).
 */
static void xmemd_control_serve(void)
{
	struct timeval tv = { .tv_sec = XMEMD_CONTROL_TIMEOUT_S };
	double deadline = xmemd_now() + XMEMD_CONTROL_TIMEOUT_S;
	char *buf = NULL;
	size_t len = 0, off = 0;
	ssize_t n;
	FILE *out;
	int fd;

	fd = accept4(xmemd.control_fd, NULL, NULL, SOCK_CLOEXEC);
	if (fd < 0)
		return;
	setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
	out = open_memstream(&buf, &len);
	if (out) {
		xmemd_status(out);
		if (fclose(out))
			len = 0;
	}
	while (buf && off < len) {
		n = send(fd, buf + off, len - off, MSG_NOSIGNAL);
		if (n <= 0 || (off + n < len && xmemd_now() > deadline)) {
			xmemd_log("control socket: status not sent in full: %s",
				  n < 0 ? strerror(errno) :
				  n ? "the reader is too slow" : "closed");
			break;
		}
		off += n;
	}
	free(buf);
	close(fd);
}

/*
 * xmemd --status: print the status of the xmemd whose control socket is
 * @path.  0, or 1 with a message.
 */
static int xmemd_status_client(const char *path)
{
	struct timeval tv = { .tv_sec = XMEMD_CONTROL_TIMEOUT_S };
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	char buf[4096];
	ssize_t n;
	int fd;

	if (strlen(path) >= sizeof(sa.sun_path)) {
		fprintf(stderr, "%s: control socket %s: %s\n", xmemd_prog,
			path, strerror(ENAMETOOLONG));
		return 1;
	}
	memcpy(sa.sun_path, path, strlen(path));
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0 ||
	    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv)) ||
	    connect(fd, (struct sockaddr *)&sa, sizeof(sa))) {
		fprintf(stderr, "%s: cannot reach xmemd at %s: %s (is it running, on that port, and are you root?)\n",
			xmemd_prog, path, strerror(errno));
		if (fd >= 0)
			close(fd);
		return 1;
	}
	while ((n = read(fd, buf, sizeof(buf))) > 0)
		fwrite(buf, 1, n, stdout);
	close(fd);
	if (n < 0) {
		fprintf(stderr, "%s: reading the status from %s: %s\n",
			xmemd_prog, path, strerror(errno));
		return 1;
	}
	return fflush(stdout) ? 1 : 0;
}

static int xmemd_run(int sigfd)
{
	struct xmemd_dev **devs = NULL;
	struct pollfd *pfd = NULL;
	size_t cap = 0;

	for (;;) {
		struct signalfd_siginfo si;
		struct xmemd_dev *dev;
		size_t n = 4, i;
		int ret;

		for (dev = xmemd.devs; dev; dev = dev->next)
			n++;
		if (n > cap) {
			free(pfd);
			free(devs);
			pfd = calloc(n, sizeof(*pfd));
			devs = calloc(n, sizeof(*devs));
			if (!pfd || !devs) {
				xmemd_log("out of memory");
				free(pfd);
				free(devs);
				return 1;
			}
			cap = n;
		}
		pfd[0] = (struct pollfd){ .fd = sigfd, .events = POLLIN };
		pfd[1] = (struct pollfd){ .fd = xmemd.ec->fd, .events = POLLIN };
		pfd[2] = (struct pollfd){ .fd = xmemd.pull_efd,
					  .events = POLLIN };
		/* A negative fd (no control socket) is ignored by poll(). */
		pfd[3] = (struct pollfd){ .fd = xmemd.control_fd,
					  .events = POLLIN };
		for (i = 4, dev = xmemd.devs; dev; dev = dev->next, i++) {
			pfd[i] = (struct pollfd){ .fd = dev->cc->fd,
						  .events = POLLIN };
			devs[i] = dev;
		}

		ret = poll(pfd, n,
			   xmemd_temp_timeout(xmemd.listen_id ? -1 : 1000));
		if (ret < 0) {
			if (errno == EINTR)
				continue;
			xmemd_log("poll: %s", strerror(errno));
			break;
		}
		if (pfd[0].revents &&
		    read(sigfd, &si, sizeof(si)) == sizeof(si)) {
			if (si.ssi_signo == SIGHUP) {
				xmemd_hosts_reload();
				continue;
			}
			if (si.ssi_signo == SIGUSR1) {
				xmemd_status(NULL);
				continue;
			}
			xmemd_log("%s: shutting down (%" PRIu64 " regions, %u connections)",
				  strsignal(si.ssi_signo), xmemd.nregions,
				  xmemd.nconns);
			break;
		}
		/* Completions first: CM events may free devices. */
		for (i = 4; i < n; i++)
			if (pfd[i].revents)
				xmemd_dev_events(devs[i]);
		if (pfd[3].revents)
			xmemd_control_serve();
		if (pfd[2].revents) {
			xmemd_pull_events();
			xmemd_copy_events();
		}
		if (pfd[1].revents)
			xmemd_cm_events();
		xmemd_temp_sweep();
		if (!xmemd.listen_id) {
			if (!xmemd_listen(xmemd.relisten_logged))
				xmemd_log("listening again on port %u",
					  xmemd.port);
			xmemd.relisten_logged = true;
		}
	}
	free(pfd);
	free(devs);
	return 0;
}

/* Parse a byte count with an optional K, M, G or T suffix (powers of 2). */
static int xmemd_parse_size(const char *s, uint64_t *out)
{
	unsigned long long v;
	unsigned int shift = 0;
	char *end;

	if (!*s || *s == '-' || *s == '+')
		return -1;
	errno = 0;
	v = strtoull(s, &end, 10);
	if (errno || end == s)
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

static void xmemd_usage(FILE *f)
{
	fprintf(f,
		"Usage: %s [-f CONFIG] [-p PORT] [-a ADDR] [-c CAPACITY] [-d DIR]\n"
		"       [-H HOSTS] [--identity FILE] [-s SECRET] [--insecure]\n"
		"       [-Q QUOTA] [--control SOCKET] [--temp-grace SECONDS]\n"
		"       [--sole-grace SECONDS] [-v]\n"
		"       %s [-f CONFIG] [-p PORT] [--control SOCKET] --status\n"
		"The xmem memory appliance: serves named memory regions over RDMA.\n"
		"\n"
		"  -f, --config CONFIG  read settings from CONFIG (default %s, if it\n"
		"                       exists); options given here win\n"
		"  -p, --port PORT      RDMA CM port to listen on (default %u)\n"
		"  -a, --address ADDR   address to bind to (default: any)\n"
		"  -c, --capacity SIZE  bytes to hand out in all, K/M/G/T suffixes\n"
		"                       allowed (default: half of physical memory)\n"
		"  -d, --dir DIR        keep regions in files in DIR (a tmpfs or\n"
		"                       hugetlbfs), re-exported after a restart;\n"
		"                       default: anonymous memory, gone at exit\n"
		"  -H, --hosts FILE     the client hosts allowed, one \"HOST KEY\" line\n"
		"                       each (mode 0600), \"HOST KEY act-for\" for\n"
		"                       appliances that pull for their clients;\n"
		"                       SIGHUP reads it again\n"
		"      --identity FILE  this appliance's own \"NAME KEY\" line (mode\n"
		"                       0600) on other appliances' hosts files, to\n"
		"                       pull regions for hosts with per-host keys\n"
		"  -s, --secret-file FILE  also accept the shared secret in FILE (16\n"
		"                       to 128 bytes; a final newline is not part of\n"
		"                       it), for clients of protocol 1.2 and older\n"
		"      --insecure       no authentication at all; without it, -H or\n"
		"                       -s is required\n"
		"  -Q, --quota FILE     limits per host and per user: \"HOST[:UID]\n"
		"                       BYTES REGIONS\" lines; SIGHUP reads it again\n"
		"      --control SOCKET  the control socket (mode 0600) that\n"
		"                       --status reads (default /run/xmemd-PORT.sock)\n"
		"      --status         print the status of the xmemd running on PORT\n"
		"                       (connections, regions, refusals, usage and\n"
		"                       quota of each host and user) and exit\n"
		"      --pull-chunk SIZE  bytes per RDMA READ of a PULL (default 1M)\n"
		"      --pull-depth N   RDMA READs of a PULL in flight (default 16)\n"
		"      --temp-grace SECONDS  how long a temporary copy (protocol\n"
		"                       1.8) may stay unattached before it is\n"
		"                       destroyed, 0 to %u (default %u)\n"
		"      --sole-grace SECONDS  how long a region held alone\n"
		"                       (protocol 1.9) stays held after its\n"
		"                       holder's connection ended or a restart,\n"
		"                       %u to %u (default %u)\n"
		"      --debug-hold FILE  tests only: while FILE exists, a COPY\n"
		"                       stops after its first chunk and a PULL\n"
		"                       before its first RDMA READ\n"
		"  -v, --verbose        verbose log\n"
		"  -h, --help           this help\n",
		xmemd_prog, xmemd_prog, XMEMD_CONFIG,
		(unsigned int)XMEM_PROTO_DEFAULT_PORT, XMEMD_TEMP_GRACE_MAX,
		XMEM_TEMP_GRACE_SEC, XMEMD_SOLE_GRACE_MIN, XMEMD_SOLE_GRACE_MAX,
		XMEMD_SOLE_GRACE_DEF);
}

/*
 * Read the shared secret; 0 or -1 with a message.  The secret is never
 * printed; only the file name is.  A file others may read is refused.
 */
static int xmemd_load_secret(const char *path)
{
	if (wirec_load_key(path, xmemd.secret, &xmemd.secret_len)) {
		fprintf(stderr, "%s: secret file %s refused\n", xmemd_prog,
			path);
		return -1;
	}
	return 0;
}

/* Settings from the config file and the command line. */
struct xmemd_settings {
	const char *bind_str;
	unsigned long port;
	uint64_t capacity;
	const char *dir;
	const char *secret_file;
	const char *hosts_file;
	const char *identity_file;
	const char *quota_file;
	const char *control;
	bool insecure;
	bool verbose;
	uint64_t pull_chunk;
	unsigned long pull_depth;
	unsigned long temp_grace;
	unsigned long sole_grace;
};

/* Long options without a short form. */
enum {
	XMEMD_OPT_PULL_CHUNK = 256,
	XMEMD_OPT_PULL_DEPTH,
	XMEMD_OPT_INSECURE,
	XMEMD_OPT_DEBUG_HOLD,
	XMEMD_OPT_IDENTITY,
	XMEMD_OPT_CONTROL,
	XMEMD_OPT_STATUS,
	XMEMD_OPT_TEMP_GRACE,
	XMEMD_OPT_SOLE_GRACE,
};

/*
 * Apply option @opt with value @val; @where names its origin for errors.
 * Returns 0 or 2 (usage error).  Values are copied: config lines are
 * reused buffers.
 */
static int xmemd_setting(struct xmemd_settings *set, int opt, const char *val,
			 const char *where)
{
	char *end;

	switch (opt) {
	case 'p':
		errno = 0;
		set->port = strtoul(val, &end, 10);
		if (errno || *end || end == val || !set->port ||
		    set->port > 65535) {
			fprintf(stderr, "%s: %s %s: not a port number\n",
				xmemd_prog, where, val);
			return 2;
		}
		return 0;
	case 'a':
		set->bind_str = strdup(val);
		return set->bind_str ? 0 : 2;
	case 'c':
		if (xmemd_parse_size(val, &set->capacity) ||
		    set->capacity < XMEMD_PAGE_SIZE) {
			fprintf(stderr, "%s: %s %s: not a size of at least 4K\n",
				xmemd_prog, where, val);
			return 2;
		}
		return 0;
	case 'd':
		if (!*val) {
			fprintf(stderr, "%s: %s: empty directory\n", xmemd_prog,
				where);
			return 2;
		}
		set->dir = strdup(val);
		return set->dir ? 0 : 2;
	case 's':
		set->secret_file = strdup(val);
		return set->secret_file ? 0 : 2;
	case 'H':
		set->hosts_file = strdup(val);
		return set->hosts_file ? 0 : 2;
	case 'Q':
		set->quota_file = strdup(val);
		return set->quota_file ? 0 : 2;
	case XMEMD_OPT_IDENTITY:
		set->identity_file = strdup(val);
		return set->identity_file ? 0 : 2;
	case XMEMD_OPT_CONTROL:
		if (!*val) {
			fprintf(stderr, "%s: %s: empty path\n", xmemd_prog,
				where);
			return 2;
		}
		set->control = strdup(val);
		return set->control ? 0 : 2;
	case XMEMD_OPT_INSECURE:
		if (!strcmp(val, "yes") || !strcmp(val, "1")) {
			set->insecure = true;
		} else if (!strcmp(val, "no") || !strcmp(val, "0")) {
			set->insecure = false;
		} else {
			fprintf(stderr, "%s: %s %s: not yes or no\n",
				xmemd_prog, where, val);
			return 2;
		}
		return 0;
	case XMEMD_OPT_PULL_CHUNK:
		if (xmemd_parse_size(val, &set->pull_chunk) ||
		    set->pull_chunk < XMEMD_PAGE_SIZE ||
		    set->pull_chunk > (1ULL << 30) ||
		    set->pull_chunk % XMEMD_PAGE_SIZE) {
			fprintf(stderr, "%s: %s %s: not a multiple of 4K from 4K to 1G\n",
				xmemd_prog, where, val);
			return 2;
		}
		return 0;
	case XMEMD_OPT_TEMP_GRACE:
		/* Digits only: strtoul() would take "-1" for a huge number. */
		errno = 0;
		set->temp_grace = strtoul(val, &end, 10);
		if (*val < '0' || *val > '9' || errno || *end ||
		    set->temp_grace > XMEMD_TEMP_GRACE_MAX) {
			fprintf(stderr, "%s: %s %s: not a number of seconds from 0 to %u\n",
				xmemd_prog, where, val, XMEMD_TEMP_GRACE_MAX);
			return 2;
		}
		return 0;
	case XMEMD_OPT_SOLE_GRACE:
		errno = 0;
		set->sole_grace = strtoul(val, &end, 10);
		if (*val < '0' || *val > '9' || errno || *end ||
		    set->sole_grace < XMEMD_SOLE_GRACE_MIN ||
		    set->sole_grace > XMEMD_SOLE_GRACE_MAX) {
			fprintf(stderr, "%s: %s %s: not a number of seconds from %u to %u\n",
				xmemd_prog, where, val, XMEMD_SOLE_GRACE_MIN,
				XMEMD_SOLE_GRACE_MAX);
			return 2;
		}
		return 0;
	case XMEMD_OPT_PULL_DEPTH:
		errno = 0;
		set->pull_depth = strtoul(val, &end, 10);
		if (errno || *end || end == val || !set->pull_depth ||
		    set->pull_depth > 1024) {
			fprintf(stderr, "%s: %s %s: not a number from 1 to 1024\n",
				xmemd_prog, where, val);
			return 2;
		}
		return 0;
	case 'v':
		if (!strcmp(val, "yes") || !strcmp(val, "1")) {
			set->verbose = true;
		} else if (!strcmp(val, "no") || !strcmp(val, "0")) {
			set->verbose = false;
		} else {
			fprintf(stderr, "%s: %s %s: not yes or no\n",
				xmemd_prog, where, val);
			return 2;
		}
		return 0;
	}
	return 2;
}

/*
 * The config file: "key value" lines, '#' comments, blank lines.  Keys:
 * port, address, capacity, dir, verbose, secret-file, hosts, identity,
 * insecure, quota, control, pull-chunk, pull-depth, temp-grace,
 * sole-grace.
 * A missing default file is fine;
 * a missing file named with -f is not.  Returns 0, 1 or 2.
 */
static int xmemd_read_config(struct xmemd_settings *set, const char *path,
			     bool must)
{
	static const struct { const char *key; int opt; } keys[] = {
		{ "port", 'p' }, { "address", 'a' }, { "capacity", 'c' },
		{ "dir", 'd' }, { "verbose", 'v' }, { "secret-file", 's' },
		{ "hosts", 'H' }, { "insecure", XMEMD_OPT_INSECURE },
		{ "identity", XMEMD_OPT_IDENTITY },
		{ "control", XMEMD_OPT_CONTROL },
		{ "quota", 'Q' },
		{ "pull-chunk", XMEMD_OPT_PULL_CHUNK },
		{ "pull-depth", XMEMD_OPT_PULL_DEPTH },
		{ "temp-grace", XMEMD_OPT_TEMP_GRACE },
		{ "sole-grace", XMEMD_OPT_SOLE_GRACE },
	};
	char line[1024], where[64], *key, *val, *e;
	unsigned int lineno = 0, i;
	FILE *f;
	int ret = 0;

	f = fopen(path, "re");
	if (!f) {
		if (!must && errno == ENOENT)
			return 0;
		fprintf(stderr, "%s: %s: %s\n", xmemd_prog, path,
			strerror(errno));
		return 1;
	}
	while (!ret && fgets(line, sizeof(line), f)) {
		lineno++;
		e = strchr(line, '#');
		if (e)
			*e = '\0';
		key = line + strspn(line, " \t\r\n");
		if (!*key)
			continue;
		val = key + strcspn(key, " \t=\r\n");
		if (*val)
			*val++ = '\0';
		val += strspn(val, " \t=");
		e = val + strlen(val);
		while (e > val && strchr(" \t\r\n", e[-1]))
			*--e = '\0';
		snprintf(where, sizeof(where), "%.40s:%u:", path, lineno);
		for (i = 0; i < sizeof(keys) / sizeof(keys[0]); i++)
			if (!strcmp(key, keys[i].key))
				break;
		if (i == sizeof(keys) / sizeof(keys[0])) {
			fprintf(stderr, "%s: %s unknown setting '%s'\n",
				xmemd_prog, where, key);
			ret = 2;
			break;
		}
		ret = xmemd_setting(set, keys[i].opt, val, where);
	}
	fclose(f);
	return ret;
}

static int xmemd_resolve_bind(const char *addr)
{
	struct addrinfo hints = {
		.ai_family = AF_UNSPEC,
		.ai_socktype = SOCK_STREAM,
		.ai_flags = AI_PASSIVE,
	};
	struct addrinfo *ai;
	int ret;

	ret = getaddrinfo(addr, NULL, &hints, &ai);
	if (ret) {
		fprintf(stderr, "%s: -a %s: %s\n", xmemd_prog, addr,
			gai_strerror(ret));
		return -1;
	}
	memcpy(&xmemd.bind_addr, ai->ai_addr, ai->ai_addrlen);
	if (ai->ai_family == AF_INET6)
		((struct sockaddr_in6 *)&xmemd.bind_addr)->sin6_port =
			htons(xmemd.port);
	else
		((struct sockaddr_in *)&xmemd.bind_addr)->sin_port =
			htons(xmemd.port);
	freeaddrinfo(ai);
	return 0;
}

int main(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "config", required_argument, NULL, 'f' },
		{ "port", required_argument, NULL, 'p' },
		{ "address", required_argument, NULL, 'a' },
		{ "capacity", required_argument, NULL, 'c' },
		{ "dir", required_argument, NULL, 'd' },
		{ "secret-file", required_argument, NULL, 's' },
		{ "hosts", required_argument, NULL, 'H' },
		{ "identity", required_argument, NULL, XMEMD_OPT_IDENTITY },
		{ "control", required_argument, NULL, XMEMD_OPT_CONTROL },
		{ "status", no_argument, NULL, XMEMD_OPT_STATUS },
		{ "quota", required_argument, NULL, 'Q' },
		{ "insecure", no_argument, NULL, XMEMD_OPT_INSECURE },
		{ "pull-chunk", required_argument, NULL, XMEMD_OPT_PULL_CHUNK },
		{ "pull-depth", required_argument, NULL, XMEMD_OPT_PULL_DEPTH },
		{ "debug-hold", required_argument, NULL, XMEMD_OPT_DEBUG_HOLD },
		{ "temp-grace", required_argument, NULL, XMEMD_OPT_TEMP_GRACE },
		{ "sole-grace", required_argument, NULL, XMEMD_OPT_SOLE_GRACE },
		{ "verbose", no_argument, NULL, 'v' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	static const char optstring[] = "f:p:a:c:d:s:H:Q:vh";
	struct xmemd_settings set = {
		.port = XMEM_PROTO_DEFAULT_PORT,
		.temp_grace = XMEM_TEMP_GRACE_SEC,
		.sole_grace = XMEMD_SOLE_GRACE_DEF,
	};
	const char *config = XMEMD_CONFIG, *bind_str;
	bool config_given = false, status = false;
	char control[64];
	unsigned long port;
	uint64_t capacity;
	sigset_t mask;
	char where[16];
	int sigfd, opt, ret;
	long pages, psize;

	if (argv[0] && *argv[0]) {
		xmemd_prog = strrchr(argv[0], '/');
		xmemd_prog = xmemd_prog ? xmemd_prog + 1 : argv[0];
	}
	/* First pass: only -f and -h; the file first, then the options. */
	opterr = 0;
	while ((opt = getopt_long(argc, argv, optstring, longopts, NULL)) != -1) {
		if (opt == 'f') {
			config = optarg;
			config_given = true;
		} else if (opt == 'h') {
			xmemd_usage(stdout);
			return 0;
		}
	}
	ret = xmemd_read_config(&set, config, config_given);
	if (ret)
		return ret;
	optind = 1;
	opterr = 1;
	while ((opt = getopt_long(argc, argv, optstring, longopts, NULL)) != -1) {
		switch (opt) {
		case 'f':
			break;
		case 'v':
			set.verbose = true;
			break;
		case XMEMD_OPT_INSECURE:
			set.insecure = true;
			break;
		case XMEMD_OPT_DEBUG_HOLD:
			xmemd.debug_hold = optarg;
			break;
		case XMEMD_OPT_STATUS:
			status = true;
			break;
		case 'H':
		case 'Q':
		case 'p':
		case 'a':
		case 'c':
		case 'd':
		case 's':
		case XMEMD_OPT_PULL_CHUNK:
		case XMEMD_OPT_PULL_DEPTH:
		case XMEMD_OPT_IDENTITY:
		case XMEMD_OPT_CONTROL:
		case XMEMD_OPT_TEMP_GRACE:
		case XMEMD_OPT_SOLE_GRACE:
			if (opt == XMEMD_OPT_PULL_CHUNK)
				snprintf(where, sizeof(where), "--pull-chunk");
			else if (opt == XMEMD_OPT_PULL_DEPTH)
				snprintf(where, sizeof(where), "--pull-depth");
			else if (opt == XMEMD_OPT_IDENTITY)
				snprintf(where, sizeof(where), "--identity");
			else if (opt == XMEMD_OPT_CONTROL)
				snprintf(where, sizeof(where), "--control");
			else if (opt == XMEMD_OPT_TEMP_GRACE)
				snprintf(where, sizeof(where), "--temp-grace");
			else if (opt == XMEMD_OPT_SOLE_GRACE)
				snprintf(where, sizeof(where), "--sole-grace");
			else
				snprintf(where, sizeof(where), "-%c", opt);
			if (xmemd_setting(&set, opt, optarg, where))
				return 2;
			break;
		default:
			xmemd_usage(stderr);
			return 2;
		}
	}
	if (optind != argc) {
		fprintf(stderr, "%s: unexpected argument '%s'\n", xmemd_prog,
			argv[optind]);
		xmemd_usage(stderr);
		return 2;
	}
	port = set.port;
	bind_str = set.bind_str;
	capacity = set.capacity;
	xmemd.verbose = set.verbose;
	xmemd.dir = set.dir;
	xmemd.pull_chunk = set.pull_chunk ? set.pull_chunk : XMEMD_PULL_CHUNK;
	xmemd.pull_depth = set.pull_depth ? set.pull_depth : XMEMD_PULL_DEPTH;
	xmemd.temp_grace = set.temp_grace;
	xmemd.sole_grace = set.sole_grace;
	/* The control socket: --control, else one per port in /run. */
	if (!set.control) {
		snprintf(control, sizeof(control), "/run/xmemd-%lu.sock",
			 set.port);
		set.control = control;
	}
	if (status)
		return xmemd_status_client(set.control);
	if (set.insecure && (set.secret_file || set.hosts_file)) {
		fprintf(stderr, "%s: --insecure with --secret-file or --hosts: choose\n",
			xmemd_prog);
		return 2;
	}
	if (!set.insecure && !set.secret_file && !set.hosts_file) {
		fprintf(stderr, "%s: no credentials: give --hosts FILE (a key per client host) or --secret-file FILE, or --insecure to serve every host that can reach this one without authentication\n",
			xmemd_prog);
		return 2;
	}
	xmemd.insecure = set.insecure;
	if (set.secret_file && xmemd_load_secret(set.secret_file))
		return 1;
	if (set.hosts_file) {
		ret = xmemd_hosts_read(set.hosts_file, &xmemd.hosts);
		if (ret < 0)
			return 1;
		xmemd.nhosts = ret;
		xmemd.hosts_file = set.hosts_file;
	}
	if (set.identity_file && xmemd_identity_read(set.identity_file))
		return 1;
	if (set.quota_file) {
		ret = xmemd_quota_read(set.quota_file, &xmemd_quotas);
		if (ret < 0)
			return 1;
		xmemd_nquotas = ret;
		xmemd_quota_file = set.quota_file;
	}
	xmemd.audit.tokens = XMEMD_LOG_BURST;
	xmemd.audit.stamp = time(NULL);

	xmemd.port = port;
	xmemd.bind_str = bind_str;
	if (bind_str && xmemd_resolve_bind(bind_str))
		return 2;
	if (!capacity) {
		pages = sysconf(_SC_PHYS_PAGES);
		psize = sysconf(_SC_PAGESIZE);
		if (pages <= 0 || psize <= 0) {
			fprintf(stderr, "%s: cannot tell the memory size; use -c\n",
				xmemd_prog);
			return 1;
		}
		capacity = (uint64_t)pages * (uint64_t)psize / 2;
	}
	xmemd.capacity = capacity & ~(XMEMD_PAGE_SIZE - 1);

	sigemptyset(&mask);
	sigaddset(&mask, SIGINT);
	sigaddset(&mask, SIGTERM);
	sigaddset(&mask, SIGHUP);
	sigaddset(&mask, SIGUSR1);
	if (sigprocmask(SIG_BLOCK, &mask, NULL) ||
	    (sigfd = signalfd(-1, &mask, SFD_CLOEXEC)) < 0) {
		fprintf(stderr, "%s: signalfd: %s\n", xmemd_prog,
			strerror(errno));
		return 1;
	}
	signal(SIGPIPE, SIG_IGN);

	xmemd.ec = rdma_create_event_channel();
	if (!xmemd.ec) {
		xmemd_log("rdma_create_event_channel: %s (no RDMA device or rdma_ucm module?)",
			  strerror(errno));
		return 1;
	}
	if (xmemd_set_nonblock(xmemd.ec->fd)) {
		xmemd_log("event channel: %s", strerror(errno));
		return 1;
	}
	xmemd.pull_efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	if (xmemd.pull_efd < 0) {
		xmemd_log("eventfd: %s", strerror(errno));
		return 1;
	}
	if (xmemd.dir && xmemd_load_dir()) {
		rdma_destroy_event_channel(xmemd.ec);
		return 1;
	}
	if (xmemd_listen(false)) {
		rdma_destroy_event_channel(xmemd.ec);
		return 1;
	}
	xmemd.control_fd = xmemd_control_open(set.control);
	if (xmemd.control_fd < 0) {
		xmemd_log("control socket %s: %s: xmemd --status cannot reach this daemon",
			  set.control, strerror(errno));
		if (set.control != control) {
			xmemd_shutdown();
			return 1;
		}
	} else {
		xmemd.control = set.control;
	}
	xmemd_log("listening on %s port %u, capacity %" PRIu64 " bytes, protocol %u.%u, regions in %s (%" PRIu64 " now)",
		  bind_str ? bind_str : "any address", xmemd.port,
		  xmemd.capacity, XMEM_PROTO_MAJOR, XMEM_PROTO_MINOR,
		  xmemd.dir ? xmemd.dir : "anonymous memory", xmemd.nregions);
	if (xmemd.insecure)
		xmemd_log("clients are not authenticated (--insecure): every host that reaches this one may use every region");
	else
		xmemd_log("clients must authenticate: %u hosts with keys of their own%s",
			  xmemd.nhosts, xmemd.secret_len ?
			  ", and the shared secret (the host of every client that uses it)" :
			  "");

	ret = xmemd_run(sigfd);
	xmemd_shutdown();
	close(sigfd);
	xmemd_log("stopped");
	return ret;
}
