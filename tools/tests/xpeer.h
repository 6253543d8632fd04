/* SPDX-License-Identifier: GPL-2.0 */
/*
 * xpeer.h - the second client of the test bed, for tests that check on
 * another host what one client wrote: reachability and the verifier of
 * xmem-test-msync run there over ssh.
 */
#ifndef XPEER_H
#define XPEER_H

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>

#include "xtest.h"

#define PEER		"client2"
#define SSH		"ssh -o BatchMode=yes -o ConnectTimeout=20 " PEER " "

/* Skips the test unless the test bed has a second client reachable. */
static inline void require_peer(void)
{
	const char *clients = getenv("XMEM_CLIENTS");

	/* The test bed has one: the verifier's failure will say if not. */
	if (clients && atoi(clients) >= 2)
		return;
	if (!system(SSH "true </dev/null >/dev/null 2>&1"))
		return;
	SKIP("%s unreachable by ssh (needs a test bed with 2 clients)", PEER);
}

/*
 * Runs the verifier of the first @len bytes (0: all) of region @name on the
 * peer; its output becomes diagnostics.  Returns pclose()'s wait status.
 */
static inline int verify_on_peer(const char *name, uint64_t seed,
				 uint64_t len)
{
	char cmd[256], line[512];
	FILE *f;

	snprintf(cmd, sizeof(cmd),
		 SSH "/xmem/bin/xmem-test-msync verify %s %" PRIu64 " %" PRIu64
		 " </dev/null 2>&1", name, seed, len);
	f = popen(cmd, "r");
	if (!f)
		FAIL("popen: %s", xt_errname(errno));
	while (fgets(line, sizeof(line), f))
		xt_diag("%s: %s", PEER, line[0] == '#' ? line + 2 : line);
	return pclose(f);
}

#endif /* XPEER_H */
