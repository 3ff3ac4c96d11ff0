/* SPDX-License-Identifier: Apache-2.0 */
/*
 * bench_util.h - what every benchmark program of bench/ shares: clocks, latency statistics,
 * the result lines that bench/run.sh parses, shared memory and futexes between forked
 * processes, and small helpers for children.
 *
 * Output protocol (one line each, tab-separated, on stdout):
 *   ROW     <mechanism> <payload bytes> <iterations> <median us> <p99 us>
 *   METRIC  <name> <value> <free-text note>
 * Anything else a program prints is commentary for a human.
 */
#ifndef LITEIPC_BENCH_UTIL_H
#define LITEIPC_BENCH_UTIL_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#define BENCH_MAX_PAYLOAD 8192u
#define BENCH_WATCHDOG_S 240u /* a hang is a bug: a program gives up loudly after this */

/* CLOCK_MONOTONIC, nanoseconds. */
uint64_t bench_now_ns(void);

/* Latency samples of one measurement. */
typedef struct bench_samples {
    uint64_t *ns;
    size_t n, cap;
} bench_samples;

/* Allocate room for cap samples (aborts on failure: a benchmark cannot go on without). */
void bench_samples_init(bench_samples *s, size_t cap);
void bench_samples_free(bench_samples *s);
static inline void bench_samples_add(bench_samples *s, uint64_t ns)
{
    if (s->n < s->cap)
        s->ns[s->n++] = ns;
}
/* Sorts the samples; q in [0,1] (0.5 median, 0.99 p99). Result in nanoseconds. */
double bench_quantile_ns(bench_samples *s, double q);

/* Print a ROW line from the samples (sorted as a side effect). */
void bench_row(const char *mechanism, unsigned payload, bench_samples *s);
/* Print a METRIC line. value is printed with %g-like precision; note may be NULL. */
void bench_metric(const char *name, double value, const char *note);

/* Payload sizes every round-trip benchmark measures. */
extern const unsigned bench_payloads[3];

/* Common options: --iters N, --warmup N. Unknown options abort with a usage line. */
typedef struct bench_opts {
    unsigned iters;
    unsigned warmup;
    const char *address; /* --address (D-Bus), or NULL */
    double seconds;      /* --seconds (throughput windows) */
    unsigned count;      /* --count (calls for the allocation/RSS run) */
} bench_opts;
/* Parse argv from index first. Defaults come from *o on entry. */
void bench_parse(int argc, char **argv, int first, bench_opts *o);

/*
 * One mechanism's side of the round-trip measurement, for bench_rtt_run. `call` sends req
 * (payload bytes) and waits for the reply: it is the timed part. `check` verifies the reply of
 * that call and releases it, untimed; it may be NULL. Both return 0 or a negative errno.
 */
typedef struct bench_rtt {
    const char *mechanism;
    int (*call)(void *ctx, const unsigned char *req, unsigned payload);
    int (*check)(void *ctx, const unsigned char *req, unsigned payload);
    void *ctx;
} bench_rtt;

/* Calls per payload in one block of the interleaved round-trip measurement. */
#define BENCH_RTT_BLOCK 200u

/*
 * The round-trip measurement of every mechanism: warmup untimed calls, then iters timed calls,
 * for each payload of bench_payloads, interleaved in blocks of BENCH_RTT_BLOCK calls (16 B,
 * 1 KiB, 6 KiB, 16 B, ...). All three sizes thus see the same machine: on a shared 2-vCPU guest
 * the conditions drift over seconds, and a ratio of two sizes measured one after the other
 * would compare two moments as much as two sizes. Prints one ROW per payload; dies on an error.
 */
void bench_rtt_run(const bench_rtt *r, const bench_opts *o);

/* Arm a SIGALRM watchdog that kills the process group member with a message. */
void bench_watchdog(unsigned seconds, const char *who);

/* Anonymous MAP_SHARED memory, inherited by fork children. Aborts on failure. */
void *bench_shared_alloc(size_t size);

/* Futexes on shared (not private) memory. wait returns when *w != expected or on a wake. */
void bench_futex_wait(_Atomic uint32_t *w, uint32_t expected);
void bench_futex_wake(_Atomic uint32_t *w, int n);

static inline void bench_cpu_relax(void)
{
#if defined(__x86_64__) || defined(__i386__)
    __builtin_ia32_pause();
#elif defined(__aarch64__)
    __asm__ __volatile__("yield");
#endif
}

/* A one-shot gate in shared memory: waiters sleep until bench_gate_open. */
typedef struct bench_gate {
    _Atomic uint32_t open;
    _Atomic uint32_t arrived;
} bench_gate;
void bench_gate_wait(bench_gate *g);
void bench_gate_open(bench_gate *g);
/* Wait (sleeping briefly) until at least n parties called bench_gate_arrive. */
void bench_gate_arrive(bench_gate *g);
void bench_gate_wait_arrived(bench_gate *g, uint32_t n);

/* fork() with stdout flushed first; in the child, the watchdog is re-armed. Aborts on error. */
pid_t bench_fork(void);
/* waitpid; returns 0 if the child exited with status 0, else -1 (and says why on stderr). */
int bench_wait_child(pid_t pid, const char *what);

/* Fill buf with a recognisable pattern. */
void bench_fill(unsigned char *buf, size_t n, unsigned seed);

/* Print the message and exit(1). */
void bench_die(const char *fmt, ...) __attribute__((noreturn, format(printf, 1, 2)));

#endif /* LITEIPC_BENCH_UTIL_H */
