/* SPDX-License-Identifier: Apache-2.0 */
/*
 * sched.c - deterministic interleavings: which threads take part, their running count, the
 * seeded PRNG, and the seed explorer (docs/TESTING.md, "Deterministic interleavings").
 *
 * A deterministic kernel's broker (broker.c, "deterministic turns") runs a command only when
 * no counted thread is running, that is when each of them is inside a device call (posted,
 * parked or asleep in it) or has ended; then every command that can run has been posted, and
 * the seed alone picks which runs next. What the threads do between two calls cannot change the
 * order of the kernel's steps, only what they post next; so a run is a function of its seed, as
 * far as the threads' behaviour is a function of what the device answered them.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "runtime.h"

#define RUNNING_MASK 0xffffffffull
#define CHANGE ((uint64_t)1 << 32)

void lk_sched_init(liteipc_kernel *k, bool owner_counted)
{
    lk_sched *s = &k->sched;

    s->owner = pthread_self();
    s->owner_counted = owner_counted && k->cfg.deterministic;
    s->rng = k->cfg.sched_seed;
    atomic_init(&s->word, s->owner_counted ? 1 : 0);
    atomic_init(&s->forced, 0);
}

bool lk_sched_counted(const liteipc_kernel *k)
{
    if (!k->cfg.deterministic || !k->is_host)
        return false;
    if (lk_vproc_current((liteipc_kernel *)k))
        return true;
    return k->sched.owner_counted && pthread_equal(pthread_self(), k->sched.owner);
}

void lk_sched_running(liteipc_kernel *k, int delta)
{
    /* Adding 2^32 - 1 takes one from the low half and carries one into the change count.
       seq_cst: pairs with the broker's two loads around its look at the channels (broker.c);
       a thread's post is visible before the decrement that follows it. */
    atomic_fetch_add(&k->sched.word, delta > 0 ? CHANGE + 1 : CHANGE - 1);
}

void lk_sched_fence(liteipc_kernel *k)
{
    lk_ctask *t = lk_task_lookup(k);

    if (t && lk_sched_counted(k))
        lk_do_call(k, t, LK_CHAN_CMD_FENCE, 0);
}

uint64_t lk_sched_next(liteipc_kernel *k)
{
    uint64_t z = (k->sched.rng += 0x9e3779b97f4a7c15ull);

    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

int liteipc_sched_forced(liteipc_kernel *k)
{
    return k ? (int)atomic_load(&k->sched.forced) : -EINVAL;
}

/* ---- the explorer ------------------------------------------------------------------------- */

/* One line per event, with nothing in it that changes from run to run (no time, no host
   PID): two runs of one seed must write the same text. */
static void record_event(const liteipc_event *ev, void *ctx)
{
    FILE *f = ctx;

    fprintf(f, "%s src %d.%d(%.16s) dst %d.%d(%.16s)", liteipc_event_name(ev->type),
            ev->src_pid, ev->src_tid, ev->src_task, ev->dst_pid, ev->dst_tid, ev->dst_task);
    if (ev->msg.type || ev->msg.code || ev->msg.dataSz)
        fprintf(f, " msg type %d code %u size %u", (int)ev->msg.type, ev->msg.code,
                ev->msg.dataSz);
    if (ev->err)
        fprintf(f, " err %d", ev->err);
    if (ev->cmd)
        fprintf(f, " cmd %#x", ev->cmd);
    if (ev->handle >= 0 && ev->cmd)
        fprintf(f, " handle %d", ev->handle);
    if (ev->grantee_pid >= 0 && ev->cmd)
        fprintf(f, " grantee %d", ev->grantee_pid);
    fputc('\n', f);
}

/* $LITEIPC_SEED: 1 and *seed, 0 if unset, -EINVAL (said on stderr) if it is not a number. */
static int env_seed(uint64_t *seed)
{
    const char *v = getenv(LITEIPC_SEED_ENV);
    char *end;

    if (!v || !*v)
        return 0;
    errno = 0;
    *seed = strtoull(v, &end, 0);
    if (errno || *end || *v == '-') {
        fprintf(stderr, "liteipc: %s=%s is not a seed (a decimal or 0x number)\n",
                LITEIPC_SEED_ENV, v);
        return -EINVAL;
    }
    return 1;
}

typedef struct explore_run {
    int verdict;      /* the body's result */
    unsigned forced;  /* commands forced by a stall */
    char *trace;      /* malloc'd */
    size_t len;
} explore_run;

/* Run body once under seed, on a fresh deterministic kernel, recording its events. */
static int run_seed(const liteipc_explore_opts *o, liteipc_explore_fn body, void *ctx,
                    uint64_t seed, explore_run *r)
{
    liteipc_config cfg;
    liteipc_kernel *k = NULL;
    FILE *f;
    int sub, err;

    if (o->cfg)
        cfg = *o->cfg;
    else
        liteipc_config_init(&cfg);
    cfg.deterministic = 1;
    cfg.sched_seed = seed;
    memset(r, 0, sizeof(*r));
    f = open_memstream(&r->trace, &r->len);
    if (!f)
        return -ENOMEM;
    err = liteipc_kernel_start(&cfg, &k);
    if (err < 0)
        goto out;
    sub = err = liteipc_subscribe(k, record_event, f);
    if (err < 0) {
        liteipc_kernel_stop(k);
        goto out;
    }
    atomic_fetch_add(&k->refs, 1); /* the body may stop k (to release stuck tasks) */
    r->verdict = body(k, seed, ctx);
    r->forced = (unsigned)liteipc_sched_forced(k);
    if (!atomic_load(&k->stopped)) {
        /* Before the stop: what the stop itself tears down is not part of the run. */
        liteipc_unsubscribe(k, sub);
        liteipc_kernel_stop(k);
    }
    lk_kernel_unref(k);
    err = 0;
out:
    if (fclose(f) != 0 && err == 0)
        err = -ENOMEM;
    if (err < 0) {
        free(r->trace);
        r->trace = NULL;
    }
    return err;
}

static void report_failure(const liteipc_explore_opts *o, uint64_t seed, const explore_run *r)
{
    FILE *out = o->report ? o->report : stderr;

    if (o->quiet)
        return;
    fprintf(out, "liteipc_explore: seed %" PRIu64 " failed (run %u); replay it with %s=%" PRIu64
            "\n", seed, o->runs, LITEIPC_SEED_ENV, seed);
    if (r->forced)
        fprintf(out, "liteipc_explore: warning: %u command(s) ran while a thread was outside the"
                " device (blocked on something else?): this run may not replay exactly\n",
                r->forced);
    fprintf(out, "--- events of seed %" PRIu64 " ---\n%s--- end of seed %" PRIu64 " ---\n", seed,
            r->trace ? r->trace : "", seed);
    fflush(out);
}

int liteipc_explore(liteipc_explore_opts *o, liteipc_explore_fn body, void *ctx)
{
    uint64_t seed, first;
    unsigned n;
    int only;

    if (!o || !body)
        return -EINVAL;
    o->runs = 0;
    o->failed_seed = 0;
    o->trace = NULL;
    only = env_seed(&seed);
    if (only < 0)
        return only;
    first = only ? seed : o->first_seed;
    n = only ? 1 : (o->seeds ? o->seeds : 1);
    for (unsigned i = 0; i < n; i++) {
        explore_run r;
        int err = run_seed(o, body, ctx, first + i, &r);

        if (err < 0)
            return err;
        o->runs++;
        if (r.verdict != 0) {
            o->failed_seed = first + i;
            report_failure(o, first + i, &r);
        }
        if (o->keep_trace && (r.verdict != 0 || i + 1 == n)) {
            o->trace = r.trace; /* the caller's now */
            r.trace = NULL;
        }
        free(r.trace);
        if (r.verdict != 0)
            return 1;
    }
    return 0;
}
