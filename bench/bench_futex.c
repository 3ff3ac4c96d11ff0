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

static void run(const char *mech, int spin, unsigned payload, const bench_opts *o)
{
    static unsigned char req[BENCH_MAX_PAYLOAD], rep[BENCH_MAX_PAYLOAD];
    struct pingpong *pp = bench_shared_alloc(sizeof(*pp));
    bench_samples s;
    pid_t pid;

    bench_samples_init(&s, o->iters);
    bench_fill(req, payload, payload);
    pid = bench_fork();
    if (pid == 0)
        server(pp, spin);
    for (unsigned i = 0; i < o->warmup + o->iters; i++) {
        uint64_t t0 = bench_now_ns();

        slot_put(&pp->req, req, payload);
        if (slot_get(&pp->rep, rep, spin) != payload || memcmp(req, rep, payload) != 0)
            bench_die("%s: reply differs from request", mech);
        if (i >= o->warmup)
            bench_samples_add(&s, bench_now_ns() - t0);
    }
    atomic_store(&pp->quit, 1);
    slot_put(&pp->req, req, 0);
    if (bench_wait_child(pid, "futex server") < 0)
        exit(1);
    bench_row(mech, payload, &s);
    bench_samples_free(&s);
    munmap(pp, sizeof(*pp));
}

int main(int argc, char **argv)
{
    bench_opts o = {.iters = 20000, .warmup = 2000};

    bench_parse(argc, argv, 1, &o);
    bench_watchdog(BENCH_WATCHDOG_S, "bench_futex");
    for (int i = 0; i < 3; i++)
        run("futex-blocking", 0, bench_payloads[i], &o);
    for (int i = 0; i < 3; i++)
        run("futex-spin", FUTEX_SPIN, bench_payloads[i], &o);
    return 0;
}
