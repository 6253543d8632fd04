// SPDX-License-Identifier: GPL-2.0
/*
 * xtest: TAP harness of the xmem integration tests; see xtest.h.
 */
#define _GNU_SOURCE
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "xtest.h"

#define XT_REASON_MAX	400
#define XT_MAX_HOOKS	4
#define XT_EXIT_SKIP	4	/* as KSFT_SKIP */

static struct xt_test *xt_head, **xt_tail = &xt_head;
static void (*xt_hooks[XT_MAX_HOOKS])(void);
static unsigned int xt_nr_hooks;

/* Written by the test child, read by the parent: why the test ended. */
static char *xt_reason;

void xt_register(struct xt_test *t)
{
	*xt_tail = t;
	xt_tail = &t->next;
}

void xt_after_each(void (*fn)(void))
{
	if (xt_nr_hooks < XT_MAX_HOOKS)
		xt_hooks[xt_nr_hooks++] = fn;
}

const char *xt_errname(int err)
{
	const char *s = strerrorname_np(err);
	static char buf[24];

	if (s && err)
		return s;
	snprintf(buf, sizeof(buf), "errno %d", err);
	return buf;
}

void xt_diag(const char *fmt, ...)
{
	char buf[1024];
	va_list ap;
	char *line, *save = NULL;

	va_start(ap, fmt);
	vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	for (line = strtok_r(buf, "\n", &save); line;
	     line = strtok_r(NULL, "\n", &save))
		printf("# %s\n", line);
	fflush(stdout);
}

static void xt_set_reason(const char *prefix, const char *fmt, va_list ap)
{
	char *p;

	if (!xt_reason)
		return;
	snprintf(xt_reason, XT_REASON_MAX, "%s", prefix);
	vsnprintf(xt_reason + strlen(xt_reason),
		  XT_REASON_MAX - strlen(xt_reason), fmt, ap);
	/* One TAP line: no newlines, and no '#' that would start a directive. */
	for (p = xt_reason; *p; p++)
		if (*p == '\n' || *p == '#')
			*p = ' ';
}

void xt_fail(const char *file, int line, const char *fmt, ...)
{
	char prefix[128];
	va_list ap;

	snprintf(prefix, sizeof(prefix), "%s:%d: ", file, line);
	va_start(ap, fmt);
	xt_set_reason(prefix, fmt, ap);
	va_end(ap);
	fflush(NULL);
	_exit(1);
}

void xt_skip(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	xt_set_reason("", fmt, ap);
	va_end(ap);
	fflush(NULL);
	_exit(XT_EXIT_SKIP);
}

static void xt_name(const struct xt_test *t, char *buf, size_t len)
{
	size_t i;

	snprintf(buf, len, "%s", t->id);
	for (i = 0; buf[i]; i++)
		if (buf[i] == '_')
			buf[i] = '-';
}

static volatile sig_atomic_t xt_timed_out;

static void xt_alarm(int sig)
{
	(void)sig;
	xt_timed_out = 1;
}

static double xt_seconds(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

/*
 * Returns 0 pass, 1 fail, 2 skip.  After the result line, a diagnostic
 * "# time NAME: SECONDS s" says how long the test took, so that a slow
 * section can be taken apart test by test (scripts/check's summary).
 */
static int xt_run_one(const struct xt_test *t, unsigned int num)
{
	struct sigaction sa = { .sa_handler = xt_alarm };
	double start = xt_seconds();
	char name[128];
	int status, ret;
	pid_t pid;

	xt_name(t, name, sizeof(name));
	xt_reason[0] = '\0';
	fflush(NULL);
	pid = fork();
	if (pid < 0) {
		printf("not ok %u - %s # fork: %s\n", num, name,
		       xt_errname(errno));
		return 1;
	}
	if (!pid) {
		setpgid(0, 0);
		alarm(0);
		t->fn();
		fflush(NULL);
		_exit(0);
	}

	/* No SA_RESTART: the alarm interrupts waitpid(). */
	sigaction(SIGALRM, &sa, NULL);
	xt_timed_out = 0;
	alarm(t->timeout);
	while (waitpid(pid, &status, 0) < 0) {
		if (errno != EINTR) {
			status = -1;
			break;
		}
		if (xt_timed_out) {
			kill(-pid, SIGKILL);
			kill(pid, SIGKILL);
			xt_timed_out = 0;
			snprintf(xt_reason, XT_REASON_MAX,
				 "timed out after %u s", t->timeout);
		}
	}
	alarm(0);
	/* Whatever the child left running in its group goes too. */
	kill(-pid, SIGKILL);

	if (status != -1 && WIFEXITED(status) && WEXITSTATUS(status) == 0) {
		printf("ok %u - %s\n", num, name);
		ret = 0;
	} else if (status != -1 && WIFEXITED(status) &&
		   WEXITSTATUS(status) == XT_EXIT_SKIP) {
		printf("ok %u - %s # SKIP %s\n", num, name, xt_reason);
		ret = 2;
	} else {
		if (!xt_reason[0]) {
			if (status == -1)
				snprintf(xt_reason, XT_REASON_MAX,
					 "waitpid failed");
			else if (WIFSIGNALED(status))
				snprintf(xt_reason, XT_REASON_MAX,
					 "killed by SIG%s",
					 sigabbrev_np(WTERMSIG(status)) ?: "?");
			else
				snprintf(xt_reason, XT_REASON_MAX,
					 "exit status %d",
					 WEXITSTATUS(status));
		}
		printf("not ok %u - %s # %s\n", num, name, xt_reason);
		ret = 1;
	}
	printf("# time %s: %.1f s\n", name, xt_seconds() - start);
	fflush(stdout);
	return ret;
}

static int xt_selected(const struct xt_test *t, int argc, char **argv)
{
	char name[128];
	int i;

	if (argc <= 1)
		return 1;
	xt_name(t, name, sizeof(name));
	for (i = 1; i < argc; i++)
		if (!strcmp(argv[i], name) || !strcmp(argv[i], t->id))
			return 1;
	return 0;
}

int xt_main(int argc, char **argv)
{
	unsigned int n = 0, num = 0, failed = 0, i;
	struct xt_test *t;
	char name[128];

	setvbuf(stdout, NULL, _IOLBF, 0);
	if (argc == 2 && !strcmp(argv[1], "-l")) {
		for (t = xt_head; t; t = t->next) {
			xt_name(t, name, sizeof(name));
			printf("%s\n", name);
		}
		return 0;
	}
	if (argc == 2 && !strcmp(argv[1], "-t")) {
		unsigned long sum = 0;

		for (t = xt_head; t; t = t->next)
			sum += t->timeout;
		printf("%lu\n", sum);
		return 0;
	}
	xt_reason = mmap(NULL, XT_REASON_MAX, PROT_READ | PROT_WRITE,
			 MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (xt_reason == MAP_FAILED) {
		perror("mmap");
		return 1;
	}
	for (t = xt_head; t; t = t->next)
		n += xt_selected(t, argc, argv);
	if (!n) {
		fprintf(stderr, "%s: no such test\n", argv[0]);
		return 1;
	}
	printf("1..%u\n", n);
	for (t = xt_head; t; t = t->next) {
		if (!xt_selected(t, argc, argv))
			continue;
		if (xt_run_one(t, ++num) == 1)
			failed++;
		for (i = 0; i < xt_nr_hooks; i++)
			xt_hooks[i]();
		fflush(NULL);
	}
	return failed ? 1 : 0;
}
