// SPDX-License-Identifier: GPL-2.0
/*
 * xmem-malloc-bench: xmem_malloc()/xmem_free() against glibc's malloc()/
 * free() on the same workload, with 1 and 2 threads:
 *
 *   small  sizes 16..256 bytes, batches of 64 allocations, then frees
 *   large  sizes 32..256 KiB, batches of 8
 *
 * Every allocation is written (first and last byte) so it is really
 * used.  The working set is small, so after the first batch every
 * allocation is resident: this measures the allocator's fast path, not
 * the network.  Throughput is operations (malloc + free) per second of
 * wall time, all threads together; each figure is the best of 20
 * alternating runs of a 20th of --seconds (the machine is shared and
 * noise only ever slows a run, so alternating short runs and keeping the
 * best of each compares the allocators under the same conditions).
 *
 * usage: xmem-malloc-bench [--json] [--seconds S]
 *   --json     one JSON object per line and row, two rows per workload
 *              and thread count (libxmem.small.1t.glibc, ...xmem):
 *              {"name": .., "metric": .., "value": .., "unit": ..};
 *              bench/report.py computes the ratios
 *   --seconds  time per allocator, workload and thread count (default 2)
 *
 * The heap is set up as for any libxmem user (XMEM_* variables; the
 * region is 32 MiB unless XMEM_RESERVE says otherwise); on a host
 * without /dev/xmem run it with XMEM_BACKEND=anon.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "xmem_alloc.h"

/* Alternating runs per allocator; each lasts --seconds / REPS. */
#define REPS 20

struct workload {
	const char *name;
	size_t min, max;
	unsigned int batch;
};

static const struct workload workloads[] = {
	{ "small", 16, 256, 64 },
	{ "large", 32 << 10, 256 << 10, 8 },
};

struct run {
	const struct workload *w;
	bool xmem;
	double seconds;
	uint64_t ops;
	double t0, t1;		/* when this thread started and stopped */
	int error;
	pthread_barrier_t *barrier;
	unsigned int seed;
};

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static void *worker(void *arg)
{
	struct run *r = arg;
	const struct workload *w = r->w;
	void *slot[64];
	size_t sizes[1024];
	uint64_t ops = 0, s = r->seed * 2654435761u + 1;
	unsigned int i, k = 0;
	double end;

	for (i = 0; i < 1024; i++) {
		s ^= s << 13;
		s ^= s >> 7;
		s ^= s << 17;
		sizes[i] = w->min + s % (w->max - w->min + 1);
	}
	pthread_barrier_wait(r->barrier);
	r->t0 = now();
	end = r->t0 + r->seconds;
	do {
		unsigned int round;

		for (round = 0; round < 64; round++) {
			for (i = 0; i < w->batch; i++) {
				size_t n = sizes[k++ & 1023];
				char *p = r->xmem ? xmem_malloc(n) : malloc(n);

				if (!p) {
					r->error = errno;
					return NULL;
				}
				p[0] = (char)i;
				p[n - 1] = (char)i;
				slot[i] = p;
			}
			for (i = 0; i < w->batch; i++) {
				if (r->xmem)
					xmem_free(slot[i]);
				else
					free(slot[i]);
			}
			ops += 2 * w->batch;
		}
	} while ((r->t1 = now()) < end);
	r->ops = ops;
	return NULL;
}

/* Operations per second of @w with @threads threads. */
static double measure(const struct workload *w, bool xmem,
		      unsigned int threads, double seconds)
{
	pthread_t t[8];
	struct run r[8];
	pthread_barrier_t barrier;
	uint64_t ops = 0;
	unsigned int i;
	double t0 = 1e300, t1 = 0;

	pthread_barrier_init(&barrier, NULL, threads + 1);
	for (i = 0; i < threads; i++) {
		r[i] = (struct run){ .w = w, .xmem = xmem, .seconds = seconds,
				     .barrier = &barrier, .seed = i + 1 };
		if (pthread_create(&t[i], NULL, worker, &r[i])) {
			fprintf(stderr, "xmem-malloc-bench: pthread_create failed\n");
			exit(1);
		}
	}
	pthread_barrier_wait(&barrier);
	for (i = 0; i < threads; i++) {
		pthread_join(t[i], NULL);
		if (r[i].error) {
			fprintf(stderr, "xmem-malloc-bench: %s allocation failed: %s\n",
				xmem ? "xmem" : "glibc", strerror(r[i].error));
			exit(1);
		}
		ops += r[i].ops;
		t0 = r[i].t0 < t0 ? r[i].t0 : t0;
		t1 = r[i].t1 > t1 ? r[i].t1 : t1;
	}
	pthread_barrier_destroy(&barrier);
	/* The threads' own clocks: this thread may not run at once after
	 * the barrier on a busy machine. */
	return ops / (t1 - t0);
}

static void row(bool json, const char *name, const char *metric,
		double value, const char *unit)
{
	if (json)
		printf("{\"name\": \"%s\", \"metric\": \"%s\", \"value\": %.4f, \"unit\": \"%s\"}\n",
		       name, metric, value, unit);
}

int main(int argc, char **argv)
{
	double seconds = 2.0, worst = 1e9;
	struct xmem_alloc_stats st;
	bool json = false;
	unsigned int wi, threads;
	int i;

	for (i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--json")) {
			json = true;
		} else if (!strcmp(argv[i], "--seconds") && i + 1 < argc) {
			seconds = atof(argv[++i]);
		} else {
			fprintf(stderr, "usage: xmem-malloc-bench [--json] [--seconds S]\n");
			return 2;
		}
	}
	if (seconds <= 0 || seconds > 60) {
		fprintf(stderr, "xmem-malloc-bench: --seconds must be in (0, 60]\n");
		return 2;
	}
	/* The working set is small; a big region only costs the appliance
	 * time to register it. */
	setenv("XMEM_RESERVE", "32M", 0);
	if (xmem_alloc_init() || xmem_alloc_stats(&st)) {
		fprintf(stderr, "xmem-malloc-bench: no libxmem heap: %s\n",
			strerror(errno));
		return 1;
	}
	if (!json) {
		printf("# libxmem backend %s%s%s\n", st.backend,
		       st.region[0] ? ", region " : "", st.region);
		printf("%-14s %14s %14s %10s\n", "workload", "glibc Mops/s",
		       "xmem Mops/s", "xmem/glibc");
	}
	for (wi = 0; wi < sizeof(workloads) / sizeof(workloads[0]); wi++) {
		for (threads = 1; threads <= 2; threads++) {
			const struct workload *w = &workloads[wi];
			char name[64];
			double g, x;

			int rep;

			/* Warm both up (first touch of the region's pages),
			 * then the best of REPS alternating runs each: the
			 * machine is shared, and noise only ever slows. */
			measure(w, true, threads, seconds / REPS);
			measure(w, false, threads, seconds / REPS);
			g = x = 0;
			for (rep = 0; rep < REPS; rep++) {
				double v = measure(w, false, threads,
						   seconds / REPS);

				g = v > g ? v : g;
				v = measure(w, true, threads, seconds / REPS);
				x = v > x ? v : x;
			}
			if (x / g < worst)
				worst = x / g;
			snprintf(name, sizeof(name), "libxmem.%s.%ut", w->name,
				 threads);
			if (json) {
				char n2[80];

				snprintf(n2, sizeof(n2), "%s.glibc", name);
				row(true, n2, "glibc malloc+free, resident", g / 1e6,
				    "Mops/s");
				snprintf(n2, sizeof(n2), "%s.xmem", name);
				row(true, n2, "xmem_malloc+free, resident", x / 1e6,
				    "Mops/s");
			} else {
				printf("%-14s %14.2f %14.2f %10.2f\n", name + 8,
				       g / 1e6, x / 1e6, x / g);
			}
		}
	}
	if (!json)
		printf("worst ratio xmem/glibc: %.2f (target: >= 0.5)\n", worst);
	return 0;
}
