/* SPDX-License-Identifier: Apache-2.0 */
/*
 * bench_futex.c - the floor: a request/reply ping-pong between two processes over shared
 * memory, woken by futexes, with nothing else on the path.
 *
 * Each direction has a slot: a state word and a payload buffer. The sender copies its payload
 * into the slot and publishes it; the receiver copies it out. The state word is the futex:
 *
 *   EMPTY --sender: exchange--> FULL                 (wake only if it was SLEEPING)
 *   EMPTY --receiver: CAS--> SLEEPING, futex_wait    (after `spin` polls that saw EMPTY)
 *   FULL --receiver, after copying out--> EMPTY
 *
 * "blocking" polls zero times (every wait that finds the slot empty sleeps); "spin" polls
 * FUTEX_SPIN times first, as a tuned implementation would. Both wake only a sleeper, so the
 * blocking variant is the cheapest correct blocking hand-off, not a strawman.
 *
 * Usage: bench_futex [--iters N] [--warmup N]
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "bench_util.h"

#define FUTEX_SPIN 2000

enum { SLOT_EMPTY = 0, SLOT_FULL = 1, SLOT_SLEEPING = 2 };

struct slot {
    _Alignas(64) _Atomic uint32_t state;
    uint32_t len;
    _Alignas(64) unsigned char data[BENCH_MAX_PAYLOAD];
};

struct pingpong {
    struct slot req, rep;
    _Atomic uint32_t quit;
};

static void slot_put(struct slot *s, const unsigned char *buf, uint32_t len)
{
    memcpy(s->data, buf, len);
    s->len = len;
    /* release: the payload is visible before FULL; pairs with the acquire in slot_get. */
    if (atomic_exchange_explicit(&s->state, SLOT_FULL, memory_order_acq_rel) == SLOT_SLEEPING)
        bench_futex_wake(&s->state, 1);
}

static uint32_t slot_get(struct slot *s, unsigned char *buf, int spin)
{
    uint32_t len;

    for (int i = 0; i < spin; i++) {
        if (atomic_load_explicit(&s->state, memory_order_acquire) == SLOT_FULL)
            goto full;
        bench_cpu_relax();
    }
    for (;;) {
        uint32_t st = SLOT_EMPTY;

        if (atomic_compare_exchange_strong_explicit(&s->state, &st, SLOT_SLEEPING,
                                                    memory_order_acq_rel,
                                                    memory_order_acquire) ||
            st == SLOT_SLEEPING)
            bench_futex_wait(&s->state, SLOT_SLEEPING);
        else if (st == SLOT_FULL)
            break;
    }
full:
    len = s->len;
    memcpy(buf, s->data, len);
    atomic_store_explicit(&s->state, SLOT_EMPTY, memory_order_release);
    return len;
}

static void server(struct pingpong *pp, int spin)
{
    static unsigned char buf[BENCH_MAX_PAYLOAD];

    for (;;) {
        uint32_t len = slot_get(&pp->req, buf, spin);

        if (atomic_load(&pp->quit))
            _exit(0);
        slot_put(&pp->rep, buf, len);
    }
}

struct client {
    struct pingpong *pp;
    int spin;
    unsigned char rep[BENCH_MAX_PAYLOAD];
};

static int call(void *ctx, const unsigned char *req, unsigned payload)
{
    struct client *c = ctx;

    slot_put(&c->pp->req, req, payload);
    return slot_get(&c->pp->rep, c->rep, c->spin) == payload ? 0 : -EBADMSG;
}

static int check(void *ctx, const unsigned char *req, unsigned payload)
{
    struct client *c = ctx;

    return memcmp(req, c->rep, payload) == 0 ? 0 : -EBADMSG;
}

static void run(const char *mech, int spin, const bench_opts *o)
{
    static struct client c;
    bench_rtt r = {.mechanism = mech, .call = call, .check = check, .ctx = &c};
    pid_t pid;

    c.pp = bench_shared_alloc(sizeof(*c.pp));
    c.spin = spin;
    pid = bench_fork();
    if (pid == 0)
        server(c.pp, spin);
    bench_rtt_run(&r, o);
    atomic_store(&c.pp->quit, 1);
    slot_put(&c.pp->req, c.rep, 0);
    if (bench_wait_child(pid, "futex server") < 0)
        exit(1);
    munmap(c.pp, sizeof(*c.pp));
}

int main(int argc, char **argv)
{
    bench_opts o = {.iters = 20000, .warmup = 2000};

    bench_parse(argc, argv, 1, &o);
    bench_watchdog(BENCH_WATCHDOG_S, "bench_futex");
    run("futex-blocking", 0, &o);
    run("futex-spin", FUTEX_SPIN, &o);
    return 0;
}
