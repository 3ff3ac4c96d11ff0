/* SPDX-License-Identifier: Apache-2.0 */
/*
 * racy_counter.h - the deliberately buggy counter service of examples/racy_counter.c, as a
 * test body for liteipc_explore (tests/test_stack_sched.c runs it too).
 */
#ifndef LITEIPC_EXAMPLES_RACY_COUNTER_H
#define LITEIPC_EXAMPLES_RACY_COUNTER_H

#include <stdbool.h>
#include <stdint.h>

#include <liteipc/liteipc.h>

/* What a run does: the buggy clients (GET, then SET to the value + 1) or the fixed ones (ADD). */
typedef struct racy_counter_opts {
    bool fixed;
    unsigned clients;   /* 0: 2 */
    bool one_process;   /* the clients are threads of one process (liteipc_vproc_add_thread) */
    unsigned think_us;  /* each client computes this long (busy) between its calls */
} racy_counter_opts;

/*
 * One run on k (a deterministic kernel from liteipc_explore; ctx: a racy_counter_opts): a
 * counter service and the clients, each in its own virtual process; every client adds one.
 * Returns 0 if the counter ends at the number of clients, 1 if an update was lost, 2 if
 * something else failed (said on stderr).
 */
int racy_counter_run(liteipc_kernel *k, uint64_t seed, void *ctx);

#endif /* LITEIPC_EXAMPLES_RACY_COUNTER_H */
