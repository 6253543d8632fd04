/* SPDX-License-Identifier: GPL-2.0 */
/*
 * xtest: a small TAP test harness for the xmem integration tests, in the
 * spirit of tools/testing/selftests/kselftest_harness.h.
 *
 * Every TEST() runs in a forked child of its own, in its own process group,
 * so a crash (SIGBUS from a dead mapping, SIGSEGV) or a hang (killed after
 * the test's timeout) fails that test and not the ones after it.  The parent
 * prints one line per test:
 *
 *	ok 3 - two-fds-one-region
 *	not ok 4 - mmap-offset # xmem-test-fork.c:88: ...
 *	ok 5 - msync-second-client # SKIP client2 unreachable
 *
 * and the plan "1..N" first.  The exit status is 0 iff no test failed.
 *
 * Test identifiers are C identifiers; they are printed with '_' turned
 * into '-'.  A program's main() calls xt_main(); arguments name the tests
 * to run (default: all), "-l" lists them, "-t" prints the sum of their
 * timeouts in seconds (the longest the program can take; tests/integration.sh
 * kills it only after that).
 */
#ifndef XTEST_H
#define XTEST_H

#include <errno.h>
#include <string.h>

struct xt_test {
	const char *id;
	void (*fn)(void);
	unsigned int timeout;		/* seconds */
	struct xt_test *next;
};

void xt_register(struct xt_test *t);
int xt_main(int argc, char **argv);

/*
 * True if xt_main() will only answer a query (-l, -t) and run no test:
 * main() then skips its setup and teardown.
 */
static inline int xt_query(int argc, char **argv)
{
	return argc == 2 && (!strcmp(argv[1], "-l") || !strcmp(argv[1], "-t"));
}

/*
 * Run @fn in the parent after every test, whatever its outcome: undo
 * global changes a failed test may have left behind (sysfs knobs, an
 * unloaded module).  Up to four hooks, run in registration order.
 */
void xt_after_each(void (*fn)(void));

/* Diagnostic line on stdout, TAP style ("# ..."). */
void xt_diag(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* End the current test as failed / skipped; only valid inside a TEST(). */
void xt_fail(const char *file, int line, const char *fmt, ...)
	__attribute__((noreturn, format(printf, 3, 4)));
void xt_skip(const char *fmt, ...)
	__attribute__((noreturn, format(printf, 1, 2)));

/* "EINVAL" for EINVAL; never NULL. */
const char *xt_errname(int err);

#define TEST_TIMEOUT(id, secs)						\
	static void xt_fn_##id(void);					\
	static struct xt_test xt_t_##id = {				\
		#id, xt_fn_##id, (secs), NULL				\
	};								\
	static void __attribute__((constructor)) xt_reg_##id(void)	\
	{								\
		xt_register(&xt_t_##id);				\
	}								\
	static void xt_fn_##id(void)

#define XT_DEFAULT_TIMEOUT	120
#define TEST(id)	TEST_TIMEOUT(id, XT_DEFAULT_TIMEOUT)

#define FAIL(...)	xt_fail(__FILE__, __LINE__, __VA_ARGS__)
#define SKIP(...)	xt_skip(__VA_ARGS__)

/*
 * Comparisons are done on long long: the values tested here (sizes,
 * counters, return values) are far below 2^63.
 */
#define XT_CMP(a, op, b) do {						\
	long long _a = (long long)(a);					\
	long long _b = (long long)(b);					\
	if (!(_a op _b))						\
		FAIL("%s %s %s: %lld vs %lld", #a, #op, #b, _a, _b);	\
} while (0)

#define ASSERT_EQ(a, b)	XT_CMP(a, ==, b)
#define ASSERT_NE(a, b)	XT_CMP(a, !=, b)
#define ASSERT_LT(a, b)	XT_CMP(a, <, b)
#define ASSERT_LE(a, b)	XT_CMP(a, <=, b)
#define ASSERT_GT(a, b)	XT_CMP(a, >, b)
#define ASSERT_GE(a, b)	XT_CMP(a, >=, b)

#define ASSERT_TRUE(c) do {						\
	if (!(c))							\
		FAIL("%s is false", #c);				\
} while (0)

/* @expr is a syscall-like call: -1 and errno on failure. */
#define ASSERT_OK(expr) do {						\
	long _r = (long)(expr);						\
	if (_r < 0)							\
		FAIL("%s: %s", #expr, xt_errname(errno));		\
} while (0)

/* @expr must fail with -1 and errno @err. */
#define ASSERT_ERRNO(expr, err) do {					\
	long _r;							\
	int _e;								\
	errno = 0;							\
	_r = (long)(expr);						\
	_e = errno;							\
	if (_r != -1)							\
		FAIL("%s: expected %s, succeeded (%ld)", #expr,	\
		     xt_errname(err), _r);				\
	if (_e != (err))						\
		FAIL("%s: expected %s, got %s", #expr,			\
		     xt_errname(err), xt_errname(_e));			\
} while (0)

/* @expr returns 0 or a negative errno value (the helpers of xsys.h). */
#define ASSERT_ZERO_ERR(expr) do {					\
	int _r = (expr);						\
	if (_r)								\
		FAIL("%s: %s", #expr,					\
		     _r < 0 ? xt_errname(-_r) : "nonzero");		\
} while (0)

#endif /* XTEST_H */
