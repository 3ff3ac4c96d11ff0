/* SPDX-License-Identifier: Apache-2.0 */
/*
 * vproc.c - virtual processes: simulated LiteOS processes made of host threads.
 *
 * A virtual process has its own connection to the broker, so the kernel sees it exactly as it
 * sees a real process: its own PID, pool, channels, descriptors and grants. It ends like a
 * process on the device: each thread's task dies when the thread returns (§7.2), and when the
 * last one has returned the process is destroyed (§7.3) before liteipc_vproc_join returns, so
 * a test can assert the consequences (death notices, freed pools) right after joining.
 */
#include <errno.h>
#include <semaphore.h>
#include <stdlib.h>

#include "runtime.h"

struct liteipc_vproc {
    liteipc_kernel *k;
    lk_cproc *proc;
    int pid;
    pthread_mutex_t lock;
    pthread_t *threads;
    int nthreads, cap;
    int live;
    void *first_result;
    bool joiner_counted; /* a counted thread waits in liteipc_vproc_join (sched.c) */
};

typedef struct vproc_start {
    liteipc_vproc *vp;
    liteipc_thread_fn fn;
    void *arg;
    bool first;
    bool counted;      /* a deterministic kernel waits for this thread (sched.c) */
    sem_t *attached;   /* counted: posted once the thread is a task (the spawner waits) */
} vproc_start;

static __thread liteipc_vproc *tls_vproc;

lk_cproc *lk_vproc_current(liteipc_kernel *k)
{
    liteipc_vproc *vp = tls_vproc;

    return (vp && vp->k == k) ? vp->proc : NULL;
}

void lk_vproc_forget_in_child(void)
{
    tls_vproc = NULL; /* a fork child is a new process, not this virtual process */
}

static void *vproc_thread(void *arg)
{
    vproc_start st = *(vproc_start *)arg;
    liteipc_vproc *vp = st.vp;
    liteipc_kernel *k = vp->k;
    int pid = vp->pid;
    void *result;
    bool last, hand_over;

    free(arg);
    tls_vproc = vp;
    if (st.counted) {
        int err;

        /* Attached in the order the threads were started, so that their TIDs, by which the
           broker orders the commands it picks from, do not depend on a race. */
        lk_current_task(vp->k, vp->proc, &err);
        sem_post(st.attached);
    }
    result = st.fn(st.arg);
    if (st.counted)
        lk_sched_fence(vp->k); /* the seed, not a race, orders the ends of threads */
    lk_task_detach_self(vp->k); /* the task dies before the process (Q18 order) */
    tls_vproc = NULL;
    pthread_mutex_lock(&vp->lock);
    if (st.first)
        vp->first_result = result;
    last = --vp->live == 0;
    /* The last thread hands its running count to the counted joiner, which runs once this
       thread has ended: never is neither of them counted, for the broker to pick meanwhile. */
    hand_over = last && vp->joiner_counted;
    pthread_mutex_unlock(&vp->lock);
    if (last) {
        lk_cproc_exit(vp->proc);
        vp->proc = NULL;
    }
    lk_vtime_thread_end(k, pid); /* only now: its task, and its process if last, are gone */
    if (st.counted && !hand_over)
        lk_sched_running(vp->k, -1); /* ended: the broker no longer waits for it */
    return result;
}

static int add_thread(liteipc_vproc *vp, liteipc_thread_fn fn, void *arg, bool first)
{
    vproc_start *st;
    sem_t attached;
    bool counted;
    int err;

    if (!fn)
        return -EINVAL;
    st = malloc(sizeof(*st));
    if (!st)
        return -ENOMEM;
    *st = (vproc_start){.vp = vp, .fn = fn, .arg = arg, .first = first, .attached = &attached,
                        .counted = vp->k->cfg.deterministic && vp->k->is_host};
    pthread_mutex_lock(&vp->lock);
    if (!first && vp->live == 0) {
        pthread_mutex_unlock(&vp->lock);
        free(st);
        return -ESRCH; /* the process has already ended */
    }
    if (vp->nthreads == vp->cap) {
        int cap = vp->cap ? vp->cap * 2 : 4;
        pthread_t *t = realloc(vp->threads, (size_t)cap * sizeof(*t));

        if (!t) {
            pthread_mutex_unlock(&vp->lock);
            free(st);
            return -ENOMEM;
        }
        vp->threads = t;
        vp->cap = cap;
    }
    /* Counted before it runs: liteipc_time_run_until_idle must wait for it from the start. */
    lk_vtime_thread_begin(vp->k, vp->pid);
    counted = st->counted;
    if (counted) {
        sem_init(&attached, 0, 0);
        lk_sched_running(vp->k, +1); /* running from now: before its first call */
    }
    err = pthread_create(&vp->threads[vp->nthreads], NULL, vproc_thread, st);
    if (err) {
        lk_vtime_thread_end(vp->k, vp->pid);
        pthread_mutex_unlock(&vp->lock);
        free(st);
        if (counted) {
            lk_sched_running(vp->k, -1);
            sem_destroy(&attached);
        }
        return -err;
    }
    vp->nthreads++;
    vp->live++;
    pthread_mutex_unlock(&vp->lock);
    if (counted) {
        while (sem_wait(&attached) < 0)
            continue; /* EINTR */
        sem_destroy(&attached);
    }
    return 0;
}

int liteipc_vproc_spawn(liteipc_kernel *k, liteipc_thread_fn fn, void *arg, liteipc_vproc **out)
{
    return liteipc_vproc_spawn_abi(k, LITEIPC_ABI_DEFAULT, fn, arg, out);
}

int liteipc_vproc_spawn_abi(liteipc_kernel *k, liteipc_abi abi, liteipc_thread_fn fn, void *arg,
                            liteipc_vproc **out)
{
    liteipc_vproc *vp;
    int err;

    if (!k || !fn || !out || (int)abi < 0 || (int)abi >= LK_ABI_COUNT)
        return -EINVAL;
    vp = calloc(1, sizeof(*vp));
    if (!vp)
        return -ENOMEM;
    vp->k = k;
    pthread_mutex_init(&vp->lock, NULL);
    vp->proc = lk_cproc_connect(k, -1, (int)abi, &err);
    if (!vp->proc)
        goto fail;
    vp->pid = vp->proc->pid;
    vp->proc->virt = true; /* before its first thread: its calls may run the kernel */
    atomic_fetch_add(&k->refs, 1);
    err = add_thread(vp, fn, arg, true);
    if (err < 0) {
        lk_cproc_exit(vp->proc);
        lk_kernel_unref(k);
        goto fail;
    }
    *out = vp;
    return 0;
fail:
    pthread_mutex_destroy(&vp->lock);
    free(vp);
    return err;
}

int liteipc_vproc_add_thread(liteipc_vproc *vp, liteipc_thread_fn fn, void *arg)
{
    return vp ? add_thread(vp, fn, arg, false) : -EINVAL;
}

int liteipc_vproc_join(liteipc_vproc *vp, void **first_result)
{
    int joined = 0;

    if (!vp)
        return -EINVAL;
    pthread_mutex_lock(&vp->lock);
    /* Waiting for threads the broker waits for: the last of them counts us back in. */
    vp->joiner_counted = vp->live > 0 && lk_sched_counted(vp->k);
    if (vp->joiner_counted)
        lk_sched_running(vp->k, -1);
    pthread_mutex_unlock(&vp->lock);
    for (;;) {
        pthread_t t;

        pthread_mutex_lock(&vp->lock);
        if (joined == vp->nthreads) {
            pthread_mutex_unlock(&vp->lock);
            break;
        }
        t = vp->threads[joined];
        pthread_mutex_unlock(&vp->lock);
        pthread_join(t, NULL);
        joined++;
    }
    if (first_result)
        *first_result = vp->first_result;
    lk_kernel_unref(vp->k);
    pthread_mutex_destroy(&vp->lock);
    free(vp->threads);
    free(vp);
    return 0;
}

int liteipc_vproc_pid(const liteipc_vproc *vp)
{
    return vp ? vp->pid : -EINVAL;
}
