/* SPDX-License-Identifier: Apache-2.0 */
/*
 * bench_liteipc.c - liteipc-sim measured the way a user would use it: the function-call device
 * (liteipc_open/mmap/ioctl), a service that is the CMS task (handle 0, which every process may
 * call), synchronous calls SEND|RECV answered with SEND|BUFF_FREE.
 *
 * One subcommand per measurement, each in a fresh process with a fresh kernel:
 *
 *   rtt-virtual  round trip, client and service in two virtual processes of this host
 *   rtt-real     round trip, client in a forked child (a real process), service in a virtual
 *                process of the parent, which hosts the kernel
 *   oneway       one-way throughput, 64 B: a forked sender, a receiver that frees each buffer
 *   clients      synchronous calls/s with 1, 2, 4 and 8 forked client processes, one service
 *   tasks        round trip with 120 live tasks versus 2 (virtual processes)
 *   startstop    liteipc_kernel_start + liteipc_kernel_stop, and a whole test fixture
 *   idle         CPU used by a started kernel with a parked service, over --seconds
 *   allocs       heap allocations per call and RSS growth over --count calls
 *
 * The client frees each reply with the BUFF_FREE of its next call (SEND|RECV|BUFF_FREE), and a
 * receiver frees each message with its next receive (RECV|BUFF_FREE): one ioctl per message on
 * those sides. The service needs two per request: the reply (SEND|BUFF_FREE, which frees the
 * request), then the next RECV (a SEND|RECV would be a synchronous wait for a reply).
 *
 * This binary is linked with -Wl,--wrap=malloc,--wrap=calloc,--wrap=realloc so that every heap
 * allocation made by the library (linked statically) and by this program is counted.
 *
 * Usage: bench_liteipc SUBCOMMAND [--iters N] [--warmup N] [--seconds S] [--count N]
 */
#include <errno.h>
#include <fcntl.h>
#include <malloc.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include <liteipc/liteipc.h>

#include "bench_util.h"

#define POOL_SIZE (256u * 1024u) /* the largest pool the device allows */
#define CMS_MAX_MSG 65536u       /* IPC_SET_CMS: lets 6 KiB requests reach handle 0 */
#define CODE_ECHO 1u
#define CODE_QUIT 100u
#define ONEWAY_PAYLOAD 64u
#define ONEWAY_WINDOW 1024u      /* messages in flight; 64 B messages take 160 B of pool */
#define ONEWAY_REPS 3
#define MANY_TASKS 120           /* TIDs 8..127: every task the kernel can have */
#define TASK_ROUNDS 8
#define CLIENT_ROUNDS 3 /* alternating rounds of the clients benchmark */
#define MAX_CLIENTS 8

/* ---- heap accounting (--wrap) ------------------------------------------------------------- */

static _Atomic unsigned long heap_allocs;

void *__real_malloc(size_t n);
void *__real_calloc(size_t n, size_t m);
void *__real_realloc(void *p, size_t n);
void *__wrap_malloc(size_t n);
void *__wrap_calloc(size_t n, size_t m);
void *__wrap_realloc(void *p, size_t n);

void *__wrap_malloc(size_t n)
{
    atomic_fetch_add_explicit(&heap_allocs, 1, memory_order_relaxed);
    return __real_malloc(n);
}

void *__wrap_calloc(size_t n, size_t m)
{
    atomic_fetch_add_explicit(&heap_allocs, 1, memory_order_relaxed);
    return __real_calloc(n, m);
}

void *__wrap_realloc(void *p, size_t n)
{
    atomic_fetch_add_explicit(&heap_allocs, 1, memory_order_relaxed);
    return __real_realloc(p, n);
}

/* ---- the device, as one task uses it -------------------------------------------------------- */

struct lb {
    liteipc_kernel *k;
    int fd;
};

static int lb_open(struct lb *a, liteipc_kernel *k)
{
    a->k = k;
    a->fd = liteipc_open(k, LITEIPC_DRIVER, O_RDWR);
    return a->fd < 0 ? -errno : 0;
}

/* open, then map this process's pool (read-only, as on the device). */
static int lb_attach(struct lb *a, liteipc_kernel *k)
{
    int rc = lb_open(a, k);

    if (rc < 0)
        return rc;
    if (liteipc_mmap(k, NULL, POOL_SIZE, PROT_READ, MAP_PRIVATE, a->fd, 0) == MAP_FAILED)
        return -errno;
    return 0;
}

static int lb_ioctl(const struct lb *a, IpcContent *c)
{
    return liteipc_ioctl(a->k, a->fd, IPC_SEND_RECV_MSG, c) < 0 ? -errno : 0;
}

/* A synchronous call to handle 0 that also frees to_free (the previous reply), if any. */
static int lb_call(const struct lb *a, const void *data, uint32_t size, const IpcMsg *to_free,
                   const IpcMsg **reply)
{
    IpcMsg req = {
        .type = MT_REQUEST,
        .code = CODE_ECHO,
        .flag = LITEIPC_FLAG_DEFAULT,
        .dataSz = size,
        .data = (void *)data,
    };
    IpcContent c = {
        .flag = SEND | RECV | (to_free ? BUFF_FREE : 0),
        .outMsg = &req,
        .buffToFree = (void *)to_free,
    };
    int rc = lb_ioctl(a, &c);

    if (rc == 0)
        *reply = c.inMsg;
    return rc;
}

static int lb_oneway(const struct lb *a, uint32_t code, const void *data, uint32_t size)
{
    IpcMsg req = {
        .type = MT_REQUEST,
        .code = code,
        .flag = LITEIPC_FLAG_ONEWAY,
        .dataSz = size,
        .data = (void *)data,
    };
    IpcContent c = {.flag = SEND, .outMsg = &req};

    return lb_ioctl(a, &c);
}

static int lb_free(const struct lb *a, const IpcMsg *buf)
{
    IpcContent c = {.flag = BUFF_FREE, .buffToFree = (void *)buf};

    return lb_ioctl(a, &c);
}

/* ---- the service: the CMS task, in a virtual process of this host --------------------------- */

struct svc {
    liteipc_kernel *k;
    liteipc_vproc *vp;
    _Atomic uint32_t ready; /* 0 starting, 1 serving, 2 failed */
    _Atomic uint64_t *received; /* one-way messages counted here (may be shared memory) */
};

static int svc_reply(const struct lb *a, const IpcMsg *req)
{
    IpcMsg rep = {
        .type = MT_REPLY,
        .target = {.handle = req->taskID}, /* a reply goes to the requesting task */
        .code = req->code,
        .timestamp = req->timestamp,     /* how the kernel matches it with the request */
        .dataSz = req->dataSz,
        .data = req->data,               /* echo: the request's bytes, from our pool */
    };
    IpcContent c = {.flag = SEND | BUFF_FREE, .outMsg = &rep, .buffToFree = (void *)req};

    return lb_ioctl(a, &c);
}

static void svc_set_ready(struct svc *s, uint32_t v)
{
    atomic_store(&s->ready, v);
    bench_futex_wake(&s->ready, 1 << 30);
}

static void *svc_main(void *arg)
{
    struct svc *s = arg;
    const IpcMsg *prev = NULL;
    struct lb a;
    int rc = lb_attach(&a, s->k);

    if (rc == 0 && liteipc_ioctl(s->k, a.fd, IPC_SET_CMS, (unsigned long)CMS_MAX_MSG) < 0)
        rc = -errno;
    svc_set_ready(s, rc == 0 ? 1 : 2);
    if (rc < 0) {
        fprintf(stderr, "bench_liteipc: service: %s\n", strerror(-rc));
        return (void *)1;
    }
    for (;;) {
        IpcContent c = {.flag = RECV | (prev ? BUFF_FREE : 0), .buffToFree = (void *)prev};
        const IpcMsg *m;

        prev = NULL;
        rc = lb_ioctl(&a, &c);
        if (rc < 0)
            break;
        m = c.inMsg;
        if (m->code == CODE_QUIT) {
            rc = lb_free(&a, m);
            break;
        }
        if (m->flag == LITEIPC_FLAG_ONEWAY) {
            if (s->received)
                atomic_fetch_add_explicit(s->received, 1, memory_order_release);
            prev = m; /* freed by the next receive */
            continue;
        }
        rc = svc_reply(&a, m);
        if (rc < 0)
            break;
    }
    liteipc_close(a.k, a.fd);
    if (rc < 0)
        fprintf(stderr, "bench_liteipc: service stopped: %s\n", strerror(-rc));
    return rc < 0 ? (void *)1 : NULL;
}

static void svc_start(struct svc *s, liteipc_kernel *k, _Atomic uint64_t *received)
{
    int rc;

    s->k = k;
    s->received = received;
    atomic_store(&s->ready, 0);
    rc = liteipc_vproc_spawn(k, svc_main, s, &s->vp);
    if (rc < 0)
        bench_die("spawning the service: %s", strerror(-rc));
    while (atomic_load(&s->ready) == 0)
        bench_futex_wait(&s->ready, 0);
    if (atomic_load(&s->ready) != 1)
        bench_die("the service could not start");
}

static void *quit_main(void *arg)
{
    liteipc_kernel *k = arg;
    struct lb a;
    int rc = lb_attach(&a, k); /* the driver refuses every call before the pool is mapped */

    if (rc == 0)
        rc = lb_oneway(&a, CODE_QUIT, NULL, 0);
    if (a.fd >= 0)
        liteipc_close(k, a.fd);
    if (rc < 0)
        fprintf(stderr, "bench_liteipc: sending QUIT to the service: %s\n", strerror(-rc));
    return rc < 0 ? (void *)1 : NULL;
}

/* A one-way QUIT from a short-lived process, then join the service. */
static void svc_stop(struct svc *s)
{
    liteipc_vproc *vp;
    void *r1 = NULL, *r2 = NULL;

    if (liteipc_vproc_spawn(s->k, quit_main, s->k, &vp) < 0 || liteipc_vproc_join(vp, &r1) < 0 ||
        r1)
        bench_die("stopping the service failed");
    if (liteipc_vproc_join(s->vp, &r2) < 0 || r2)
        bench_die("the service failed");
}

static liteipc_kernel *kernel_start(void)
{
    liteipc_kernel *k;
    int rc = liteipc_kernel_start(NULL, &k);

    if (rc < 0)
        bench_die("liteipc_kernel_start: %s", strerror(-rc));
    return k;
}

static void kernel_stop(liteipc_kernel *k)
{
    int rc = liteipc_kernel_stop(k);

    if (rc < 0)
        bench_die("liteipc_kernel_stop: %s", strerror(-rc));
}

/* ---- round trips ----------------------------------------------------------------------------- */

/*
 * warmup + iters synchronous calls of `payload` bytes, the last iters timed into s. Each reply
 * is checked (outside the timed part) and freed by the next call; the last one at the end.
 */
static int rtt_loop(const struct lb *a, unsigned payload, unsigned warmup, unsigned iters,
                    bench_samples *s)
{
    static _Thread_local unsigned char req[BENCH_MAX_PAYLOAD];
    const IpcMsg *rep = NULL;
    int rc;

    bench_fill(req, payload, payload);
    for (unsigned i = 0; i < warmup + iters; i++) {
        uint64_t t0 = bench_now_ns(), t1;

        rc = lb_call(a, req, payload, rep, &rep);
        t1 = bench_now_ns();
        if (rc < 0)
            return rc;
        if (rep->dataSz != payload || memcmp(rep->data, req, payload) != 0)
            return -EBADMSG;
        if (i >= warmup && s)
            bench_samples_add(s, t1 - t0);
    }
    return rep ? lb_free(a, rep) : 0;
}

/* A client of the echo service for bench_rtt_run: each call frees the previous reply. */
struct rtt_client {
    struct lb a;
    const IpcMsg *rep;
};

static int rtt_call(void *ctx, const unsigned char *req, unsigned payload)
{
    struct rtt_client *c = ctx;

    return lb_call(&c->a, req, payload, c->rep, &c->rep);
}

static int rtt_check(void *ctx, const unsigned char *req, unsigned payload)
{
    const IpcMsg *rep = ((struct rtt_client *)ctx)->rep;

    return rep->dataSz == payload && memcmp(rep->data, req, payload) == 0 ? 0 : -EBADMSG;
}

static void rtt_all_payloads(liteipc_kernel *k, const char *mech, const bench_opts *o)
{
    struct rtt_client c = {.rep = NULL};
    bench_rtt r = {.mechanism = mech, .call = rtt_call, .check = rtt_check, .ctx = &c};
    int rc = lb_attach(&c.a, k);

    if (rc < 0)
        bench_die("%s: client attach: %s", mech, strerror(-rc));
    bench_rtt_run(&r, o);
    if (c.rep && (rc = lb_free(&c.a, c.rep)) < 0)
        bench_die("%s: freeing the last reply: %s", mech, strerror(-rc));
    liteipc_close(k, c.a.fd);
}

struct client_job {
    liteipc_kernel *k;
    const bench_opts *o;
};

static void *rtt_virtual_client(void *arg)
{
    struct client_job *j = arg;

    rtt_all_payloads(j->k, "liteipc-virtual", j->o);
    return NULL;
}

static void cmd_rtt_virtual(const bench_opts *o)
{
    liteipc_kernel *k = kernel_start();
    struct client_job job = {.k = k, .o = o};
    struct svc s;
    liteipc_vproc *vp;

    svc_start(&s, k, NULL);
    if (liteipc_vproc_spawn(k, rtt_virtual_client, &job, &vp) < 0 ||
        liteipc_vproc_join(vp, NULL) < 0)
        bench_die("rtt-virtual: client process failed");
    svc_stop(&s);
    kernel_stop(k);
}

static void cmd_rtt_real(const bench_opts *o)
{
    liteipc_kernel *k = kernel_start();
    struct svc s;
    pid_t pid;

    svc_start(&s, k, NULL);
    pid = bench_fork();
    if (pid == 0) {
        /* A new simulated process: it attaches to the parent's broker on its first call. */
        rtt_all_payloads(k, "liteipc-real", o);
        _exit(0);
    }
    if (bench_wait_child(pid, "rtt-real client") < 0)
        exit(1);
    svc_stop(&s);
    kernel_stop(k);
}

/* ---- one-way throughput ---------------------------------------------------------------------- */

struct oneway_shared {
    _Atomic uint64_t received;
    uint64_t sent, enomem, window_waits, t0, t1;
};

static void oneway_sender(liteipc_kernel *k, struct oneway_shared *sh, const bench_opts *o)
{
    static unsigned char msg[ONEWAY_PAYLOAD];
    uint64_t total = (uint64_t)o->warmup + o->count;
    struct lb a;
    int rc = lb_attach(&a, k);

    if (rc < 0)
        bench_die("oneway: sender attach: %s", strerror(-rc));
    bench_fill(msg, sizeof msg, 7);
    for (uint64_t i = 0; i < total; i++) {
        if (i == o->warmup) { /* the measured window starts with an empty queue */
            while (atomic_load_explicit(&sh->received, memory_order_acquire) < i)
                sched_yield();
            sh->t0 = bench_now_ns();
        }
        /* Flow control: never more than ONEWAY_WINDOW messages in the receiver's pool. */
        while (i - atomic_load_explicit(&sh->received, memory_order_acquire) >= ONEWAY_WINDOW) {
            sh->window_waits++;
            sched_yield();
        }
        while ((rc = lb_oneway(&a, CODE_ECHO, msg, sizeof msg)) == -ENOMEM) {
            sh->enomem++; /* the receiver's pool is full: count, let it drain, retry */
            sched_yield();
        }
        if (rc < 0)
            bench_die("oneway: send: %s", strerror(-rc));
    }
    while (atomic_load_explicit(&sh->received, memory_order_acquire) < total)
        sched_yield();
    sh->t1 = bench_now_ns();
    sh->sent = total;
    liteipc_close(k, a.fd);
}

/* One sender process and one receiver, in a fresh kernel; returns messages/s. */
static double oneway_once(const bench_opts *o, struct oneway_shared *sh)
{
    liteipc_kernel *k = kernel_start();
    struct svc s;
    pid_t pid;

    memset(sh, 0, sizeof(*sh));
    svc_start(&s, k, &sh->received);
    pid = bench_fork();
    if (pid == 0) {
        oneway_sender(k, sh, o);
        _exit(0);
    }
    if (bench_wait_child(pid, "oneway sender") < 0)
        exit(1);
    svc_stop(&s);
    kernel_stop(k);
    return (double)o->count / ((double)(sh->t1 - sh->t0) / 1e9);
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;

    return x < y ? -1 : x > y;
}

/* The median of ONEWAY_REPS runs: one run is at the mercy of where the scheduler puts 3
   threads on the machine's CPUs. */
static void cmd_oneway(const bench_opts *o)
{
    struct oneway_shared *sh = bench_shared_alloc(sizeof(*sh));
    double rate[ONEWAY_REPS];
    uint64_t enomem = 0, waits = 0;
    char note[200];

    for (int r = 0; r < ONEWAY_REPS; r++) {
        rate[r] = oneway_once(o, sh);
        enomem += sh->enomem;
        waits += sh->window_waits;
    }
    qsort(rate, ONEWAY_REPS, sizeof(rate[0]), cmp_double);
    snprintf(note, sizeof note,
             "%u B, real processes, median of %d runs of %u messages (min %.0f, max %.0f); "
             "send ENOMEM retries %llu, window waits %llu", ONEWAY_PAYLOAD, ONEWAY_REPS,
             o->count, rate[0], rate[ONEWAY_REPS - 1], (unsigned long long)enomem,
             (unsigned long long)waits);
    bench_metric("oneway_msgs_per_s", rate[ONEWAY_REPS / 2], note);
    bench_metric("oneway_enomem_retries", (double)enomem, "sends refused because the pool was full");
}

/* ---- synchronous throughput with several client processes ----------------------------------- */

struct clients_shared {
    bench_gate gate;
    uint64_t start_ns, end_ns;
    uint64_t calls[MAX_CLIENTS];
};

static void clients_child(liteipc_kernel *k, struct clients_shared *sh, int idx)
{
    static unsigned char req[16];
    const IpcMsg *rep = NULL;
    struct lb a;
    uint64_t n = 0;
    int rc = lb_attach(&a, k);

    if (rc < 0)
        bench_die("clients: attach: %s", strerror(-rc));
    bench_gate_arrive(&sh->gate);
    bench_gate_wait(&sh->gate);
    for (;;) {
        uint64_t t;

        rc = lb_call(&a, req, sizeof req, rep, &rep);
        if (rc < 0)
            bench_die("clients: call: %s", strerror(-rc));
        t = bench_now_ns();
        if (t >= sh->end_ns)
            break;
        if (t >= sh->start_ns)
            n++;
    }
    lb_free(&a, rep);
    sh->calls[idx] = n;
}

static double clients_run(liteipc_kernel *k, struct clients_shared *sh, int n, double seconds)
{
    pid_t pids[MAX_CLIENTS];
    uint64_t total = 0;

    memset(sh, 0, sizeof(*sh));
    for (int i = 0; i < n; i++) {
        pids[i] = bench_fork();
        if (pids[i] == 0) {
            clients_child(k, sh, i);
            _exit(0);
        }
    }
    bench_gate_wait_arrived(&sh->gate, (uint32_t)n);
    sh->start_ns = bench_now_ns() + 100000000u; /* 100 ms of warm-up, not counted */
    sh->end_ns = sh->start_ns + (uint64_t)(seconds * 1e9);
    bench_gate_open(&sh->gate);
    for (int i = 0; i < n; i++)
        if (bench_wait_child(pids[i], "client process") < 0)
            exit(1);
    for (int i = 0; i < n; i++)
        total += sh->calls[i];
    return (double)total / seconds;
}

/* Rounds of 1, 2, 4, 8 clients in turn, so that a change in the machine's load hits every
   count alike; each count reports the median of its rounds. */
static void cmd_clients(const bench_opts *o)
{
    static const int counts[] = {1, 2, 4, 8};
    struct clients_shared *sh = bench_shared_alloc(sizeof(*sh));
    liteipc_kernel *k = kernel_start();
    double rate[4][CLIENT_ROUNDS], med[4];
    struct svc s;
    char name[64], note[128];

    svc_start(&s, k, NULL);
    for (int r = 0; r < CLIENT_ROUNDS; r++)
        for (int i = 0; i < 4; i++)
            rate[i][r] = clients_run(k, sh, counts[i], o->seconds);
    svc_stop(&s);
    kernel_stop(k);
    for (int i = 0; i < 4; i++) {
        qsort(rate[i], CLIENT_ROUNDS, sizeof(rate[i][0]), cmp_double);
        med[i] = rate[i][CLIENT_ROUNDS / 2];
        snprintf(name, sizeof name, "sync_calls_per_s_%dclients", counts[i]);
        snprintf(note, sizeof note,
                 "16 B calls, aggregate over all client processes; median of %d alternating "
                 "rounds (min %.0f, max %.0f)", CLIENT_ROUNDS, rate[i][0],
                 rate[i][CLIENT_ROUNDS - 1]);
        bench_metric(name, med[i], note);
    }
    bench_metric("sync_8clients_over_1client", med[3] / med[0], NULL);
}

/* ---- 120 live tasks versus 2 ----------------------------------------------------------------- */

struct idle_tasks {
    liteipc_kernel *k;
    int fd;
    bench_gate attached; /* .arrived counts tasks that made their device call */
    bench_gate release;
    _Atomic int max_tid;
    _Atomic int failed;
};

static void *idle_task(void *arg)
{
    struct idle_tasks *it = arg;
    IpcVersion v;
    int tid;

    /* One device call makes this thread a task of the idle process. */
    if (liteipc_ioctl(it->k, it->fd, IPC_GET_VERSION, &v) < 0) {
        atomic_store(&it->failed, errno);
    } else {
        tid = liteipc_self_tid(it->k);
        for (int m = atomic_load(&it->max_tid); tid > m;)
            if (atomic_compare_exchange_weak(&it->max_tid, &m, tid))
                break;
    }
    bench_gate_arrive(&it->attached);
    bench_gate_wait(&it->release);
    return NULL;
}

static void *idle_leader(void *arg)
{
    struct idle_tasks *it = arg;

    struct lb a;
    int rc = lb_attach(&a, it->k); /* the device wants the pool mapped before any ioctl */

    it->fd = a.fd;
    if (rc < 0)
        atomic_store(&it->failed, -rc);
    return idle_task(arg);
}

/* A virtual process with n idle tasks; returns when all of them are attached. */
static liteipc_vproc *idle_spawn(struct idle_tasks *it, liteipc_kernel *k, int n)
{
    liteipc_vproc *vp;

    memset(it, 0, sizeof(*it));
    it->k = k;
    if (liteipc_vproc_spawn(k, idle_leader, it, &vp) < 0)
        bench_die("tasks: spawning the idle process failed");
    bench_gate_wait_arrived(&it->attached, 1);
    for (int i = 1; i < n; i++)
        if (liteipc_vproc_add_thread(vp, idle_task, it) < 0)
            bench_die("tasks: adding idle thread %d failed", i);
    bench_gate_wait_arrived(&it->attached, (uint32_t)n);
    if (atomic_load(&it->failed))
        bench_die("tasks: an idle task's device call failed: %s",
                  strerror(atomic_load(&it->failed)));
    return vp;
}

struct tasks_job {
    liteipc_kernel *k;
    unsigned warmup, iters;
    bench_samples *s;
};

static void *tasks_client(void *arg)
{
    struct tasks_job *j = arg;
    struct lb a;
    int rc = lb_attach(&a, j->k);

    if (rc == 0)
        rc = rtt_loop(&a, 16, j->warmup, j->iters, j->s);
    if (rc < 0)
        bench_die("tasks: client: %s", strerror(-rc));
    liteipc_close(j->k, a.fd);
    return NULL;
}

static void tasks_measure(liteipc_kernel *k, const bench_opts *o, bench_samples *s)
{
    struct tasks_job job = {.k = k, .warmup = o->warmup / TASK_ROUNDS,
                            .iters = o->iters / TASK_ROUNDS, .s = s};
    liteipc_vproc *vp;

    if (liteipc_vproc_spawn(k, tasks_client, &job, &vp) < 0 || liteipc_vproc_join(vp, NULL) < 0)
        bench_die("tasks: client process failed");
}

static void cmd_tasks(const bench_opts *o)
{
    liteipc_kernel *k = kernel_start();
    struct idle_tasks *it = calloc(1, sizeof(*it));
    bench_samples two, many;
    struct svc s;
    char note[96];
    double ratio;

    if (!it)
        bench_die("out of memory");
    bench_samples_init(&two, o->iters);
    bench_samples_init(&many, o->iters);
    svc_start(&s, k, NULL);
    /* Alternate, so that a change in the machine's load hits both sides alike. */
    for (int r = 0; r < TASK_ROUNDS; r++) {
        liteipc_vproc *idle;

        tasks_measure(k, o, &two); /* service + client */
        idle = idle_spawn(it, k, MANY_TASKS - 2);
        tasks_measure(k, o, &many); /* service + client + 118 idle tasks */
        bench_gate_open(&it->release);
        if (liteipc_vproc_join(idle, NULL) < 0)
            bench_die("tasks: joining the idle process failed");
    }
    svc_stop(&s);
    kernel_stop(k);
    printf("# tasks: highest TID of an idle task: %d (TIDs 8..127 exist)\n",
           atomic_load(&it->max_tid));
    bench_row("liteipc-virtual-2tasks", 16, &two);
    bench_row("liteipc-virtual-120tasks", 16, &many);
    ratio = bench_quantile_ns(&many, 0.5) / bench_quantile_ns(&two, 0.5);
    snprintf(note, sizeof note, "16 B round trip medians, %d alternating rounds", TASK_ROUNDS);
    bench_metric("rtt_120tasks_over_2tasks", ratio, note);
    bench_samples_free(&two);
    bench_samples_free(&many);
    free(it);
}

/* ---- kernel start and stop ------------------------------------------------------------------- */

static void *fixture_service(void *arg)
{
    liteipc_kernel *k = arg;
    struct lb a;
    int rc = lb_attach(&a, k);

    if (rc == 0 && liteipc_ioctl(k, a.fd, IPC_SET_CMS, (unsigned long)CMS_MAX_MSG) < 0)
        rc = -errno;
    return rc < 0 ? (void *)1 : NULL;
}

static void cmd_startstop(const bench_opts *o)
{
    bench_samples bare, fixture;
    char note[128];

    bench_samples_init(&bare, o->iters);
    bench_samples_init(&fixture, o->iters);
    for (unsigned i = 0; i < o->warmup + o->iters; i++) {
        uint64_t t0 = bench_now_ns();
        liteipc_kernel *k = kernel_start();

        kernel_stop(k);
        if (i >= o->warmup)
            bench_samples_add(&bare, bench_now_ns() - t0);
    }
    /* What a CMocka fixture with one process pays: start, a virtual process that opens the
       device, maps its pool and becomes the CMS, its end, stop. */
    for (unsigned i = 0; i < o->warmup + o->iters; i++) {
        uint64_t t0 = bench_now_ns();
        liteipc_kernel *k = kernel_start();
        liteipc_vproc *vp;
        void *r = NULL;

        if (liteipc_vproc_spawn(k, fixture_service, k, &vp) < 0 ||
            liteipc_vproc_join(vp, &r) < 0 || r)
            bench_die("startstop: fixture process failed");
        kernel_stop(k);
        if (i >= o->warmup)
            bench_samples_add(&fixture, bench_now_ns() - t0);
    }
    snprintf(note, sizeof note, "median of %u; p99 %.1f us", o->iters,
             bench_quantile_ns(&bare, 0.99) / 1000.0);
    bench_metric("kernel_start_stop_us", bench_quantile_ns(&bare, 0.5) / 1000.0, note);
    snprintf(note, sizeof note, "start + vproc(open, mmap, SET_CMS) + stop; median of %u; "
             "p99 %.1f us", o->iters, bench_quantile_ns(&fixture, 0.99) / 1000.0);
    bench_metric("fixture_start_stop_us", bench_quantile_ns(&fixture, 0.5) / 1000.0, note);
    bench_samples_free(&bare);
    bench_samples_free(&fixture);
}

/* ---- idle CPU ---------------------------------------------------------------------------------- */

static uint64_t cpu_ns(void)
{
    struct rusage ru;

    getrusage(RUSAGE_SELF, &ru);
    return ((uint64_t)ru.ru_utime.tv_sec + (uint64_t)ru.ru_stime.tv_sec) * 1000000000u +
           ((uint64_t)ru.ru_utime.tv_usec + (uint64_t)ru.ru_stime.tv_usec) * 1000u;
}

static void sleep_ns(uint64_t ns)
{
    struct timespec ts = {.tv_sec = (time_t)(ns / 1000000000u), .tv_nsec = (long)(ns % 1000000000u)};

    while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
        ;
}

static void cmd_idle(const bench_opts *o)
{
    liteipc_kernel *k = kernel_start();
    uint64_t c0, c1, t0, t1;
    struct svc s;
    char note[128];

    svc_start(&s, k, NULL); /* a service parked in RECV, as in a test between two steps */
    sleep_ns(200000000u);   /* let the broker finish its spin and go to sleep */
    c0 = cpu_ns();
    t0 = bench_now_ns();
    sleep_ns((uint64_t)(o->seconds * 1e9));
    c1 = cpu_ns();
    t1 = bench_now_ns();
    svc_stop(&s);
    kernel_stop(k);
    snprintf(note, sizeof note, "whole process (broker, parked service, main) over %.1f s: "
             "%.3f ms CPU", (double)(t1 - t0) / 1e9, (double)(c1 - c0) / 1e6);
    bench_metric("idle_cpu_percent", 100.0 * (double)(c1 - c0) / (double)(t1 - t0), note);
}

/* ---- heap allocations and RSS ---------------------------------------------------------------- */

static long rss_kib(void)
{
    FILE *f = fopen("/proc/self/status", "r");
    char line[256];
    long kib = -1;

    if (!f)
        return -1;
    while (fgets(line, sizeof line, f))
        if (sscanf(line, "VmRSS: %ld kB", &kib) == 1)
            break;
    fclose(f);
    return kib;
}

struct allocs_job {
    liteipc_kernel *k;
    const bench_opts *o;
    unsigned long allocs0, allocs1;
    long rss0, rss1;
    size_t heap0, heap1;
    uint64_t t0, t1;
};

static void *allocs_client(void *arg)
{
    struct allocs_job *j = arg;
    struct lb a;
    int rc = lb_attach(&a, j->k);

    if (rc == 0)
        rc = rtt_loop(&a, 16, j->o->warmup, 0, NULL); /* steady state first */
    j->rss0 = rss_kib();
    j->heap0 = mallinfo2().uordblks;
    j->allocs0 = atomic_load(&heap_allocs);
    j->t0 = bench_now_ns();
    if (rc == 0)
        rc = rtt_loop(&a, 16, 0, j->o->count, NULL);
    j->t1 = bench_now_ns();
    j->allocs1 = atomic_load(&heap_allocs);
    j->heap1 = mallinfo2().uordblks;
    j->rss1 = rss_kib();
    if (rc < 0)
        bench_die("allocs: client: %s", strerror(-rc));
    liteipc_close(j->k, a.fd);
    return NULL;
}

static void cmd_allocs(const bench_opts *o)
{
    liteipc_kernel *k = kernel_start();
    struct allocs_job job = {.k = k, .o = o};
    liteipc_vproc *vp;
    struct svc s;
    char note[160];

    svc_start(&s, k, NULL);
    if (liteipc_vproc_spawn(k, allocs_client, &job, &vp) < 0 || liteipc_vproc_join(vp, NULL) < 0)
        bench_die("allocs: client process failed");
    svc_stop(&s);
    kernel_stop(k);
    snprintf(note, sizeof note, "malloc/calloc/realloc calls in every thread (client, broker, "
             "service) during %u calls of 16 B after %u warm-up calls, %.1f s",
             o->count, o->warmup, (double)(job.t1 - job.t0) / 1e9);
    bench_metric("allocs_per_call", (double)(job.allocs1 - job.allocs0) / o->count, note);
    bench_metric("allocs_total", (double)(job.allocs1 - job.allocs0), NULL);
    snprintf(note, sizeof note, "VmRSS %ld -> %ld KiB over %u calls", job.rss0, job.rss1, o->count);
    bench_metric("rss_growth_kib", (double)(job.rss1 - job.rss0), note);
    bench_metric("heap_in_use_growth_bytes", (double)job.heap1 - (double)job.heap0,
                 "mallinfo2().uordblks, every allocator user of the process");
}

/* ---- main ---------------------------------------------------------------------------------------- */

static void usage(void)
{
    fprintf(stderr, "usage: bench_liteipc rtt-virtual|rtt-real|oneway|clients|tasks|startstop|"
                    "idle|allocs [--iters N] [--warmup N] [--seconds S] [--count N]\n");
    exit(64);
}

int main(int argc, char **argv)
{
    bench_opts o = {.iters = 20000, .warmup = 2000, .seconds = 1.0, .count = 200000};
    const char *cmd;

    if (argc < 2)
        usage();
    cmd = argv[1];
    if (strcmp(cmd, "startstop") == 0) {
        o.iters = 300;
        o.warmup = 20;
    } else if (strcmp(cmd, "idle") == 0) {
        o.seconds = 10.0;
    } else if (strcmp(cmd, "allocs") == 0) {
        o.count = 1000000;
        o.warmup = 20000;
    } else if (strcmp(cmd, "oneway") == 0) {
        o.warmup = 20000;
    }
    bench_parse(argc, argv, 2, &o);
    bench_watchdog(BENCH_WATCHDOG_S, "bench_liteipc");
    if (strcmp(cmd, "rtt-virtual") == 0)
        cmd_rtt_virtual(&o);
    else if (strcmp(cmd, "rtt-real") == 0)
        cmd_rtt_real(&o);
    else if (strcmp(cmd, "oneway") == 0)
        cmd_oneway(&o);
    else if (strcmp(cmd, "clients") == 0)
        cmd_clients(&o);
    else if (strcmp(cmd, "tasks") == 0)
        cmd_tasks(&o);
    else if (strcmp(cmd, "startstop") == 0)
        cmd_startstop(&o);
    else if (strcmp(cmd, "idle") == 0)
        cmd_idle(&o);
    else if (strcmp(cmd, "allocs") == 0)
        cmd_allocs(&o);
    else
        usage();
    return 0;
}
