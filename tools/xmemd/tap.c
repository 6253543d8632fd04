// SPDX-License-Identifier: GPL-2.0
/*
 * tap: the wire tools' TAP output; see tap.h.
 */
#include <stdarg.h>
#include <stdio.h>

#include "tap.h"

unsigned int tap_n, tap_failed;

/**
 * tap_ok() - print the next result, "ok N - " or "not ok N - ", and @fmt
 * @cond: whether the test passed
 * @fmt: printf format of its description
 *
 * Return: @cond.
 */
bool tap_ok(bool cond, const char *fmt, ...)
{
	va_list ap;

	tap_n++;
	tap_failed += !cond;
	printf("%sok %u - ", cond ? "" : "not ", tap_n);
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	printf("\n");
	fflush(stdout);
	return cond;
}

/**
 * tap_diag() - print a diagnostic line, "# " and @fmt
 * @fmt: printf format
 */
void tap_diag(const char *fmt, ...)
{
	va_list ap;

	printf("# ");
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	printf("\n");
	fflush(stdout);
}

/**
 * tap_done() - print the plan, "1..N", after the last result
 *
 * Return: the exit status of the tool: 1 if a result failed, else 0.
 */
int tap_done(void)
{
	printf("1..%u\n", tap_n);
	fflush(stdout);
	return tap_failed ? 1 : 0;
}
