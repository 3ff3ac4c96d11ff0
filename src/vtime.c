/* SPDX-License-Identifier: Apache-2.0 */
/*
 * vtime.c - virtual time: the host's side of liteipc_time_*.
 *
 * The clock and the kernel belong to the broker thread, so a call here posts a request and
 * waits for the broker to answer it between two commands (broker.c, "virtual time"), as
 * liteipc_subscribe does. One request at a time (call_lock); a request carries a sequence
 * number, so that an answer the broker gives after its caller gave up (run_until_idle's
 * timeout) is not taken for the next request's.
 */
#include <errno.h>
#include <stdint.h>
#include <time.h>

#include "platform.h"
#include "runtime.h"

void lk_vtime_init(lk_vtime *vt)
{
    pthread_condattr_t ca;

    pthread_mutex_init(&vt->call_lock, NULL);
    pthread_mutex_init(&vt->lock, NULL);
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC); /* a timeout immune to clock changes */
    pthread_cond_init(&vt->cond, &ca);
    pthread_condattr_destroy(&ca);
}

void lk_vtime_fini(lk_vtime *vt)
{
    pthread_cond_destroy(&vt->cond);
    pthread_mutex_destroy(&vt->lock);
    pthread_mutex_destroy(&vt->call_lock);
}

void lk_vtime_answer(lk_vtime *vt, uint64_t seq, int64_t result)
{
    pthread_mutex_lock(&vt->lock);
    if (vt->seq == seq && !vt->done) {
        vt->result = result;
        vt->done = true;
        pthread_cond_broadcast(&vt->cond);
    }
    pthread_mutex_unlock(&vt->lock);
}

bool lk_vtime_take(lk_vtime *vt, int *op, uint64_t *arg, uint64_t *seq)
{
    bool any;

    pthread_mutex_lock(&vt->lock);
    any = atomic_exchange(&vt->pending, 0) != 0;
    *op = vt->op;
    *arg = vt->arg;
    *seq = vt->seq;
    pthread_mutex_unlock(&vt->lock);
    return any;
}

void lk_vtime_shutdown(lk_vtime *vt)
{
    pthread_mutex_lock(&vt->lock);
    vt->dead = true;
    if (!vt->done) {
        vt->result = -ESHUTDOWN;
        vt->done = true;
        pthread_cond_broadcast(&vt->cond);
    }
    pthread_mutex_unlock(&vt->lock);
}

void lk_vtime_thread_begin(liteipc_kernel *k, int pid)
{
    if (pid >= 0 && pid < LK_MAX_PROCS)
        atomic_fetch_add(&k->b.vt.threads[pid], 1);
}

void lk_vtime_thread_end(liteipc_kernel *k, int pid)
{
    lk_vtime *vt = &k->b.vt;

    if (pid < 0 || pid >= LK_MAX_PROCS)
        return;
    atomic_fetch_sub(&vt->threads[pid], 1);
    if (!k->cfg.virtual_time || !k->is_host)
        return;
    /* A thread may end without a word to the broker (it never used the device): wake it if a
       run_until_idle waits, so that it sees the count change. Under vt->lock, which the broker
       takes to mark itself dead before its eventfd is closed. */
    pthread_mutex_lock(&vt->lock);
    if (!vt->dead && vt->op == LK_VT_IDLE && !vt->done)
        lk_broker_kick(k);
    pthread_mutex_unlock(&vt->lock);
}

/* Why a liteipc_time_* call cannot be made on k, or 0. */
static int vt_usable(liteipc_kernel *k)
{
    if (!k)
        return -EINVAL;
    if (!k->is_host)
        return -EPERM;
    if (!k->cfg.virtual_time)
        return -EINVAL;
    return atomic_load(&k->stopped) ? -ESHUTDOWN : 0;
}

/* The absolute CLOCK_MONOTONIC time timeout_ms from now. */
static struct timespec deadline_in(int timeout_ms)
{
    uint64_t t = lk_now_ns() + (uint64_t)timeout_ms * 1000000u;

    return (struct timespec){.tv_sec = (time_t)(t / 1000000000u),
                             .tv_nsec = (long)(t % 1000000000u)};
}

/* Post op to the broker and wait for its answer (timeout_ms < 0: for as long as it takes). */
static int64_t vt_request(liteipc_kernel *k, int op, uint64_t arg, int timeout_ms)
{
    lk_vtime *vt = &k->b.vt;
    struct timespec until = deadline_in(timeout_ms < 0 ? 0 : timeout_ms);
    int64_t result;

    pthread_mutex_lock(&vt->call_lock);
    pthread_mutex_lock(&vt->lock);
    vt->op = op;
    vt->arg = arg;
    vt->seq++;
    vt->done = vt->dead;
    vt->result = -ESHUTDOWN;
    if (!vt->done) {
        atomic_store(&vt->pending, 1); /* read by the broker under vt->lock (lk_vtime_take) */
        lk_broker_kick(k);
    }
    while (!vt->done) {
        if (timeout_ms < 0) {
            pthread_cond_wait(&vt->cond, &vt->lock);
        } else if (pthread_cond_timedwait(&vt->cond, &vt->lock, &until) == ETIMEDOUT &&
                   !vt->done) {
            /* Give up: the broker's answer to this seq, if it comes, is ignored. */
            atomic_store(&vt->pending, 0);
            vt->result = -ETIMEDOUT;
            vt->done = true;
        }
    }
    result = vt->result;
    pthread_mutex_unlock(&vt->lock);
    pthread_mutex_unlock(&vt->call_lock);
    return result;
}

int64_t liteipc_time_now(liteipc_kernel *k)
{
    int err = vt_usable(k);

    return err < 0 ? err : (int64_t)atomic_load(&k->b.vt.now);
}

int liteipc_time_advance(liteipc_kernel *k, uint64_t ns)
{
    int err = vt_usable(k);

    if (err < 0)
        return err;
    if (ns > INT64_MAX)
        return -EOVERFLOW;
    return (int)vt_request(k, LK_VT_ADVANCE, ns, -1);
}

int64_t liteipc_time_advance_to_next(liteipc_kernel *k)
{
    int err = vt_usable(k);

    return err < 0 ? err : vt_request(k, LK_VT_TO_NEXT, 0, -1);
}

int liteipc_time_run_until_idle(liteipc_kernel *k, int timeout_ms)
{
    int err = vt_usable(k);
    bool counted;

    if (err < 0)
        return err;
    /* A deterministic kernel waits for its starting thread: not while it waits here. */
    counted = lk_sched_counted(k);
    if (counted)
        lk_sched_running(k, -1);
    /* 0: the broker looks once and answers; the caller waits for that answer. */
    err = (int)vt_request(k, LK_VT_IDLE, timeout_ms == 0, timeout_ms == 0 ? -1 : timeout_ms);
    if (counted)
        lk_sched_running(k, +1);
    return err;
}
