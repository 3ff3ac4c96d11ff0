/* SPDX-License-Identifier: Apache-2.0 */
/*
 * bench_machine.c - what the machine charges for the operations a hand-off is made of, measured
 * in the same run as the round trips, so that docs/PERFORMANCE.md can explain them: a trivial
 * system call, sched_yield, a futex wake with no waiter, reading the clock, and a 6 KiB copy.
 * These vary between machines far more than the code does (a system call costs about 0.1 µs
 * on bare metal, several times that in some guests).
 *
 * Usage: bench_machine [--iters N]      (prints METRIC lines; each figure is the median of 9
 *                                        batches of N operations, in nanoseconds)
 */
#include <linux/futex.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "bench_util.h"

#define BATCHES 9

static _Atomic uint32_t word;
static unsigned char src[6144], dst[6144];

static void op_syscall(void)
{
    syscall(SYS_getppid);
}

static void op_yield(void)
{
    sched_yield();
}

static void op_futex_wake(void)
{
    syscall(SYS_futex, &word, FUTEX_WAKE_PRIVATE, 1, NULL, NULL, 0);
}

static void op_clock(void)
{
    (void)bench_now_ns();
}

static void op_copy(void)
{
    memcpy(dst, src, sizeof dst);
    __asm__ __volatile__("" : : "r"(dst) : "memory"); /* keep the copy */
}

/* Median over BATCHES batches of the time per operation, in ns. */
static double per_op(void (*op)(void), unsigned iters)
{
    double t[BATCHES];

    for (int b = 0; b < BATCHES; b++) {
        uint64_t t0 = bench_now_ns();

        for (unsigned i = 0; i < iters; i++)
            op();
        t[b] = (double)(bench_now_ns() - t0) / iters;
    }
    for (int i = 1; i < BATCHES; i++) /* insertion sort: nine values */
        for (int j = i; j > 0 && t[j] < t[j - 1]; j--) {
            double x = t[j];

            t[j] = t[j - 1];
            t[j - 1] = x;
        }
    return t[BATCHES / 2];
}

int main(int argc, char **argv)
{
    bench_opts o = {.iters = 20000, .warmup = 0};

    bench_parse(argc, argv, 1, &o);
    bench_watchdog(BENCH_WATCHDOG_S, "bench_machine");
    bench_fill(src, sizeof src, 1);
    bench_metric("machine_syscall_ns", per_op(op_syscall, o.iters), "getppid(2), no vDSO");
    bench_metric("machine_sched_yield_ns", per_op(op_yield, o.iters), "nothing else runnable");
    bench_metric("machine_futex_wake_ns", per_op(op_futex_wake, o.iters), "FUTEX_WAKE, no waiter");
    bench_metric("machine_clock_ns", per_op(op_clock, o.iters), "clock_gettime(CLOCK_MONOTONIC)");
    bench_metric("machine_memcpy_6k_ns", per_op(op_copy, o.iters), "6 KiB, cache-hot");
    return 0;
}
