/* SPDX-License-Identifier: Apache-2.0 */
/* testkit_int.h - private to the test kit (src/testkit*.c): shared time helpers. */
#ifndef LITEIPC_TESTKIT_INT_H
#define LITEIPC_TESTKIT_INT_H

#include <pthread.h>
#include <stdbool.h>
#include <time.h>

/* CLOCK_MONOTONIC, ms from now. */
struct timespec ltk__deadline(unsigned ms);
bool ltk__passed(const struct timespec *deadline);
/* A condition variable timed on CLOCK_MONOTONIC. */
void ltk__cond_init(pthread_cond_t *c);
/* The backoff of the waits that cannot watch events: 1 ms doubling up to 50 ms, never past
   the deadline. *step_ms starts at 0. */
void ltk__backoff(unsigned *step_ms, const struct timespec *deadline);

#endif /* LITEIPC_TESTKIT_INT_H */
