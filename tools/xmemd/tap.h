/* SPDX-License-Identifier: GPL-2.0 */
/*
 * tap: the Test Anything Protocol output of the wire tools
 * (xmem-wire-test, xmem-wire-fuzz, xmem-wire-attack): numbered results,
 * "# " diagnostics and the plan line at the end, on standard output,
 * flushed line by line so that a tool killed by its timeout leaves every
 * result it reached.  Not thread safe.
 */
#ifndef XMEM_TOOLS_TAP_H
#define XMEM_TOOLS_TAP_H

#include <stdbool.h>

/* Results printed so far, and how many of them failed. */
extern unsigned int tap_n, tap_failed;

bool tap_ok(bool cond, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
void tap_diag(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
int tap_done(void);

#endif /* XMEM_TOOLS_TAP_H */
