/* SPDX-License-Identifier: Apache-2.0 */
/*
 * test_real_listen.c - "listening" (issue 12): a task of a virtual process of the kernel's host
 * that waits in the kernel (polling, or asleep in futex_waitv on its own word and on each real
 * process's host_bell) serves the real processes' posted commands itself, so that a call between
 * a real process and a host task needs no hand-off through the broker thread (client.c,
 * "Listening"; broker.c, lk_broker_listen_begin).
 *
 * The real processes are forked children of the test, which serves the kernel. Where the test
 * asserts WHICH thread served a post, it first makes the path certain: it waits (a bounded look
 * at the host's bell) until the broker sleeps and the host task sleeps listening, and only then
 * lets the child post; a post is seen served on a thread by its LITEIPC_EV_MSG_WRITTEN event,
 * which the kernel reports on the thread that runs it. Nothing sleeps for synchronisation:
 * children say what they did in lines. The reply timeout is the device's 5 s (r_setup_slow),
 * so that no deadline wakes the broker while a test runs, and a call that ends with ETIME was
 * never served; only test 9, which is about deadlines, shrinks it.
 */
#include "rfix.h"
#include "platform.h" /* lk_now_ns */
#include "runtime.h"  /* the host's bell, broker and client counters */

#include <limits.h>
#include <linux/filter.h>
#include <linux/futex.h>
#include <linux/seccomp.h>
#include <poll.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>

#define CALLS 20       /* paced calls, each on a path made certain first */
#define BURST 500      /* calls in a row, as fast as they go */
#define ONEWAYS 3000   /* one-way messages of the one-way test */
#define ONEWAY_SYNC 200 /* the sender's synchronous call every so many: the receiver's pool
                           holds its backlog (a full pool would refuse them with ENOMEM) */
#define CODE_SEQ 0x5351u
#define CODE_SYNC 0x5359u
#define HOSTILE_MIN_ROUNDS 1000u
/* Paced posts that may go to the broker although the test saw the listener asleep: a sleeping
   task wakes every CLIENT_WAKE_CHECK_NS (250 ms) to check the kernel is alive, and a post in
   the few microseconds it is then not listening rings the broker, by design. Rare (seen under
   TSan with three runs on two loaded CPUs); a listener that does not serve shows all CALLS. */
#define PERIODIC_SLACK 2

/* ---- where the posts of one task were served ------------------------------------------------- */

/* The OS threads on which the MSG_WRITTEN events of one sender were reported, in order. */
typedef struct watch {
    _Atomic int src_tid; /* the sender's TID once known; -1 before */
    _Atomic unsigned n;
    _Atomic long os[BURST + CALLS + 8];
} watch;

static long os_tid(void)
{
    return (long)syscall(SYS_gettid);
}

static void watch_event(const liteipc_event *ev, void *ctx)
{
    watch *w = ctx;
    unsigned i;

    if (ev->type != LITEIPC_EV_MSG_WRITTEN || ev->src_tid != atomic_load(&w->src_tid))
        return;
    i = atomic_fetch_add(&w->n, 1);
    if (i < sizeof(w->os) / sizeof(w->os[0]))
        atomic_store(&w->os[i], os_tid());
}

static int watch_start(r_ctx *c, watch *w)
{
    int sub;

    memset(w, 0, sizeof(*w));
    atomic_store(&w->src_tid, -1);
    sub = liteipc_subscribe(c->k, watch_event, w);
    assert_true(sub >= 0);
    return sub;
}

/* How many of the watched events from..to-1 were reported on OS thread tid. */
static unsigned watch_on(watch *w, unsigned from, unsigned to, long tid)
{
    unsigned n = 0;

    for (unsigned i = from; i < to && i < atomic_load(&w->n); i++)
        n += atomic_load(&w->os[i]) == tid;
    return n;
}

/*
 * Is the broker asleep for good: in (or on its way into) its epoll wait, with no descriptor of
 * it ready and no wake-up of its own due within a second? Looked at under kern_lock: the broker
 * sets wake_by under it before it sleeps and clears it under it once awake (handle_events), so
 * a broker woken but not yet running is not taken for a sleeping one.
 */
static bool broker_asleep_locked(liteipc_kernel *k)
{
    struct pollfd pfd = {.fd = k->b.epfd, .events = POLLIN};

    return atomic_load(&k->b.bell->broker_sleeping) && k->b.wake_by != 0 &&
           k->b.wake_by > lk_now_ns() + 1000000000u && poll(&pfd, 1, 0) == 0;
}

/*
 * Until the broker sleeps for good and at least `sleepers` tasks of the host sleep listening: a
 * bounded look at the host's state. Then a real process's post can only be served by a
 * listener: the post does not ring the sleeping broker (client.c, ring_broker), and nothing
 * else wakes it.
 */
static bool settled(liteipc_kernel *k, unsigned sleepers)
{
    uint64_t until = t_now_ms() + T_WAIT_MS;

    for (;;) {
        bool ok;

        pthread_mutex_lock(&k->b.kern_lock);
        ok = broker_asleep_locked(k) && atomic_load(&k->b.bell->sleepers) >= sleepers;
        pthread_mutex_unlock(&k->b.kern_lock);
        if (ok)
            return true;
        if (t_now_ms() > until)
            return false;
        sched_yield();
    }
}

/* A host client (test 3) and a host receiver (test 7): what their virtual processes share. */
struct host_client {
    liteipc_kernel *k;
    _Atomic long os;
    int calls_ok;
};

struct receiver {
    liteipc_kernel *k;
    t_latch ready;
    int tid;
    unsigned got, out_of_order, syncs;
};

/* What the virtual processes and subscribers of a test use lives here, not on the test's stack:
   if a test fails, they run on until the teardown stops the kernel. */
static struct {
    t_svc cms;
    _Atomic long svc_os; /* the OS thread of the host's ServiceManager */
    watch w;
    struct host_client h;
    struct receiver rv;
    _Atomic int swallow; /* requests the host's ServiceManager takes and never answers */
} g;

/* Skip a test that needs host tasks asleep listening where the system has no futex_waitv
   (Linux before 5.16, or valgrind): they then sleep as before (k->c.no_waitv). */
static void need_futex_waitv(void)
{
#ifdef SYS_futex_waitv
    if (syscall(SYS_futex_waitv, NULL, 0u, 0u, NULL, 0) == -1 && errno != ENOSYS)
        return; /* EINVAL: no futex given, the call exists */
#endif
    skip();
}

/* ---- the children ---------------------------------------------------------------------------- */

struct kid {
    liteipc_kernel *k;
    bool scribble; /* bell_ringer_main: scribble over its region's header too */
};

/* Read one line from the test; false at EOF. */
static bool hear(int in, char *line, size_t len)
{
    size_t n = 0;
    char ch;

    while (read(in, &ch, 1) == 1) {
        if (ch == '\n') {
            line[n] = '\0';
            return true;
        }
        if (n + 1 < len)
            line[n++] = ch;
    }
    return false;
}

/* One echo call to handle 0, its reply verified (our data, from the callee). 0 or an errno
   (EBADMSG: a reply that is not ours). */
static int checked_call(liteipc_kernel *k, int fd, unsigned seq)
{
    unsigned char data[96];
    IpcMsg *r = NULL;
    int err = 0;

    t_fill(data, sizeof(data), seq);
    if (t_call(k, fd, 0, T_CODE_ECHO, data, sizeof(data), &r) != 0)
        return errno ? errno : EIO;
    if (r->type != MT_REPLY || r->dataSz != sizeof(data) ||
        !t_check_fill(r->data, sizeof(data), seq))
        err = EBADMSG;
    if (t_free(k, fd, r) != 0 && !err)
        err = errno;
    return err;
}

/*
 * A real client of the host's ServiceManager (handle 0): attaches, says "ready TID PID", then obeys
 * "call" (one checked call: "ok" or "bad ERRNO"), "burst" (BURST checked calls in a row:
 * "burst N failed F errno E") and "quit" ("lost-wakes L": calls of its own answered but never
 * woken, then it exits).
 */
static void client_main(void *arg, int in, int out)
{
    struct kid *a = arg;
    char line[R_LINE_MAX];
    unsigned seq = 1;
    int fd = t_dev_setup(a->k, T_POOL, NULL);

    if (fd < 0)
        _exit(10);
    r_report(out, "ready %d %d", liteipc_self_tid(a->k), liteipc_self_pid(a->k));
    while (hear(in, line, sizeof(line)) && strcmp(line, "quit") != 0) {
        if (strcmp(line, "call") == 0) {
            int err = checked_call(a->k, fd, seq++);

            if (err)
                r_report(out, "bad %d", err);
            else
                r_report(out, "ok");
        } else if (strcmp(line, "burst") == 0) {
            unsigned failed = 0;
            int first = 0;

            for (int i = 0; i < BURST; i++) {
                int err = checked_call(a->k, fd, seq++);

                if (err && failed++ == 0)
                    first = err;
            }
            r_report(out, "burst %d failed %u errno %d", BURST, failed, first);
        }
    }
    r_report(out, "lost-wakes %lu", atomic_load(&a->k->c.lost_wakes));
    liteipc_close(a->k, fd);
}

/* A child's "ready TID [PID]": its TID, and its PID in the kernel if pid. */
static int ready_tid(r_child *ch, int *pid)
{
    char line[R_LINE_MAX];
    int tid = -1, p = -1;

    assert_true(sscanf(r_expect(ch, "ready ", line, sizeof(line)), "%d %d", &tid, &p) >= 1);
    if (pid)
        *pid = p;
    return tid;
}

/* Tell a client child to leave: its own lost wake-ups must be none. */
static void client_quit(r_child *ch)
{
    char line[R_LINE_MAX];

    r_say(ch, "quit");
    assert_string_equal(r_expect(ch, "lost-wakes ", line, sizeof(line)), "0");
    r_assert_exit0(r_wait(ch), "client");
}

/* The child's "burst" report: every call served and verified. */
static void client_burst(r_child *ch)
{
    char line[R_LINE_MAX];
    unsigned n = 0, failed = 1;
    int err = 0;

    r_say(ch, "burst");
    r_expect(ch, "burst ", line, sizeof(line));
    assert_int_equal(sscanf(line, "burst %u failed %u errno %d", &n, &failed, &err), 3);
    if (failed)
        fail_msg("%u of %u calls failed, the first with %s", failed, n, liteipc_errno_name(err));
    assert_int_equal(n, BURST);
}

/* ---- the host's ServiceManager --------------------------------------------------------------- */

/* Records the OS thread the service runs on, then echoes (t_svc's built-in handling). */
static int note_thread(t_svc *s, IpcMsg *m)
{
    (void)m;
    atomic_store((_Atomic long *)s->user, os_tid());
    return T_SVC_DEFAULT;
}

/* The host's ServiceManager, fresh; noting its OS thread (g.svc_os) if note. */
static t_svc *cms_fresh(bool note)
{
    memset(&g.cms, 0, sizeof(g.cms));
    atomic_store(&g.svc_os, 0);
    g.cms.cms_size = T_CMS_BIG;
    if (note) {
        g.cms.handler = note_thread;
        g.cms.user = &g.svc_os;
    }
    return &g.cms;
}

/* Stop the host's ServiceManager from the test thread, and check nothing was lost in the host. */
static void stop_cms(r_ctx *c, t_svc *cms)
{
    int fd = t_dev_setup(c->k, T_POOL, NULL);

    assert_true(fd >= 0);
    assert_ok(checked_call(c->k, fd, 7)); /* the kernel serves on */
    assert_ok(t_svc_quit(cms, c->k, fd, true));
    t_svc_join(cms);
    assert_ok(liteipc_close(c->k, fd));
    t_assert_threads_ok();
    assert_int_equal(atomic_load(&c->k->c.lost_wakes), 0);
}

/* The child makes CALLS checked calls, each posted once the path is certain: the broker sleeps
   and the service sleeps listening (listen: true) or the broker has gone to sleep (false). */
static void paced_calls(r_ctx *c, r_child *ch, bool listen)
{
    char line[R_LINE_MAX];

    for (int i = 0; i < CALLS; i++) {
        if (!settled(c->k, listen ? 1 : 0))
            fail_msg("call %d: the broker or the service never went to sleep (sleepers %u)", i,
                     atomic_load(&c->k->b.bell->sleepers));
        r_say(ch, "call");
        r_expect(ch, "ok", line, sizeof(line));
    }
}

/* ---- 1. a real client's calls are served on the service's thread ----------------------------- */

/* A real client calls a host service waiting in RECV: each of its requests is written by the
   service's own thread, which was asleep listening (no hand-off through the broker). */
static void listen_real_calls_served_on_the_service_thread(void **state)
{
    r_ctx *c = *state;
    t_svc *cms = cms_fresh(true);
    struct kid a = {.k = c->k};
    watch *w = &g.w;
    r_child *ch;
    int sub;

    need_futex_waitv();
    sub = watch_start(c, w);
    ch = r_fork_child(c, client_main, &a); /* first: the service parks listening */
    atomic_store(&w->src_tid, ready_tid(ch, NULL));
    t_svc_start(cms, c->k);
    paced_calls(c, ch, true);
    client_quit(ch);
    assert_ok(liteipc_unsubscribe(c->k, sub));
    stop_cms(c, cms);
    assert_int_equal(atomic_load(&w->n), CALLS);
    assert_true(atomic_load(&g.svc_os) != 0);
    assert_in_range(watch_on(w, 0, CALLS, atomic_load(&g.svc_os)), CALLS - PERIODIC_SLACK, CALLS);
    assert_true(atomic_load(&c->k->b.listen_sleeps) > 0);
}

/* ---- 2. with LITEIPC_CALLER_KERNEL=0, through the broker ------------------------------------- */

/* With the kernel on the callers' threads turned off, no host task listens: the broker serves
   every request of the real client (one thread, neither the service's nor the test's). */
static void listen_off_with_caller_kernel_off(void **state)
{
    r_ctx *c = *state;
    t_svc *cms = cms_fresh(true);
    struct kid a = {.k = c->k};
    watch *w = &g.w;
    int sub;
    r_child *ch;
    long broker;

    assert_false(c->k->b.caller_kernel);
    sub = watch_start(c, w);
    ch = r_fork_child(c, client_main, &a);
    atomic_store(&w->src_tid, ready_tid(ch, NULL));
    t_svc_start(cms, c->k);
    paced_calls(c, ch, false);
    client_burst(ch);
    client_quit(ch);
    assert_ok(liteipc_unsubscribe(c->k, sub));
    stop_cms(c, cms);
    assert_int_equal(atomic_load(&w->n), CALLS + BURST);
    broker = atomic_load(&w->os[0]);
    assert_true(broker != atomic_load(&g.svc_os) && broker != os_tid());
    assert_int_equal(watch_on(w, 0, CALLS + BURST, broker), CALLS + BURST);
    assert_int_equal(atomic_load(&c->k->b.listen_sleeps), 0);
}

/* ---- 3. a host client's reply from a real service -------------------------------------------- */

/* A ServiceManager in a real process, on its main thread: says "ready TID", then for each
   message "got CODE", and for a request waits for "reply" and echoes it ("replied RC"). A QUIT
   ends it ("lost-wakes L"). */
static void real_cms_main(void *arg, int in, int out)
{
    struct kid *a = arg;
    char line[R_LINE_MAX];
    int fd = t_dev_setup(a->k, T_POOL, NULL);

    if (fd < 0 || t_set_cms(a->k, fd, T_CMS_BIG) != 0)
        _exit(10);
    r_report(out, "ready %d", liteipc_self_tid(a->k));
    for (;;) {
        IpcMsg *m = NULL;

        if (t_recv(a->k, fd, &m) != 0)
            _exit(11);
        r_report(out, "got %u", m->code);
        if (m->code == T_CODE_QUIT || m->type != MT_REQUEST ||
            m->flag == LITEIPC_FLAG_ONEWAY) {
            if (t_free(a->k, fd, m) != 0)
                _exit(12);
            if (m->code == T_CODE_QUIT)
                break;
            continue;
        }
        if (!hear(in, line, sizeof(line)) || strcmp(line, "reply") != 0)
            _exit(13);
        r_report(out, "replied %d", t_reply(a->k, fd, m, m->data, m->dataSz) == 0 ? 0 : errno);
    }
    r_report(out, "lost-wakes %lu", atomic_load(&a->k->c.lost_wakes));
    liteipc_close(a->k, fd);
}

/* A host client (a virtual process): CALLS checked calls to handle 0, then a one-way QUIT. */
static void *host_client_main(void *arg)
{
    struct host_client *h = arg;
    int fd = t_dev_setup(h->k, T_POOL, NULL);

    T_CHECK(fd >= 0);
    if (fd < 0)
        return NULL;
    atomic_store(&h->os, os_tid());
    for (int i = 0; i < CALLS; i++) {
        int err = checked_call(h->k, fd, (unsigned)i);

        T_CHECK_EQ(err, 0);
        h->calls_ok += err == 0;
    }
    T_CHECK_OK(t_send(h->k, fd, 0, T_CODE_QUIT, LITEIPC_FLAG_ONEWAY, NULL, 0));
    liteipc_close(h->k, fd);
    return NULL;
}

/* A host client calls a service in a real process: each reply (the real process's post) is
   served on the host client's own thread, asleep listening while it waits for it. */
static void listen_real_reply_served_on_the_waiting_host_client(void **state)
{
    r_ctx *c = *state;
    struct host_client *h = memset(&g.h, 0, sizeof(g.h));
    struct kid a = {.k = c->k};
    char line[R_LINE_MAX], code[16];
    liteipc_vproc *vp;
    watch *w = &g.w;
    r_child *svc;
    int sub;

    need_futex_waitv();
    sub = watch_start(c, w);
    svc = r_fork_child(c, real_cms_main, &a);
    atomic_store(&w->src_tid, ready_tid(svc, NULL));
    h->k = c->k;
    vp = t_vproc_start(c->k, host_client_main, h);
    snprintf(code, sizeof(code), "%u", T_CODE_ECHO);
    for (int i = 0; i < CALLS; i++) {
        assert_string_equal(r_expect(svc, "got ", line, sizeof(line)), code);
        /* the host client waits for this reply: asleep, listening */
        if (!settled(c->k, 1))
            fail_msg("reply %d: the broker or the host client never went to sleep", i);
        r_say(svc, "reply");
        assert_string_equal(r_expect(svc, "replied ", line, sizeof(line)), "0");
    }
    snprintf(code, sizeof(code), "%u", T_CODE_QUIT);
    assert_string_equal(r_expect(svc, "got ", line, sizeof(line)), code);
    assert_string_equal(r_expect(svc, "lost-wakes ", line, sizeof(line)), "0");
    r_assert_exit0(r_wait(svc), "real ServiceManager");
    t_vproc_finish(vp);
    assert_ok(liteipc_unsubscribe(c->k, sub));
    t_assert_threads_ok();
    assert_int_equal(h->calls_ok, CALLS);
    assert_int_equal(atomic_load(&w->n), CALLS);
    assert_in_range(watch_on(w, 0, CALLS, atomic_load(&h->os)), CALLS - PERIODIC_SLACK, CALLS);
    assert_int_equal(atomic_load(&c->k->c.lost_wakes), 0);
}

/* ---- 4. a process that connects while a host task sleeps listening --------------------------- */

/* A real process connects while the service already sleeps listening (on the bells of the
   processes connected before): the service is woken to listen to it too, and serves its calls
   at once; none is found only at a periodic check (lost_wakes), here or in the child. */
static void listen_process_connecting_while_host_sleeps_is_heard(void **state)
{
    r_ctx *c = *state;
    t_svc *cms = cms_fresh(true);
    struct kid a = {.k = c->k};
    r_child *idle, *late;
    lk_bell *bell = c->k->b.bell;
    uint32_t gen;
    watch *w = &g.w;
    int sub, pid = -1;

    need_futex_waitv();
    idle = r_fork_child(c, client_main, &a);
    ready_tid(idle, NULL);
    t_svc_start(cms, c->k);
    if (!settled(c->k, 1))
        fail_msg("the service never went to sleep listening");
    gen = atomic_load(&bell->listen_gen);
    sub = watch_start(c, w);
    late = r_fork_child(c, client_main, &a);
    atomic_store(&w->src_tid, ready_tid(late, &pid));
    assert_true(atomic_load(&bell->listen_gen) != gen); /* its connection was announced */
    assert_true(pid > 0 && pid < 64);
    assert_int_equal(atomic_load(&bell->heard[pid]), 1);
    paced_calls(c, late, true);
    client_burst(late);
    client_quit(late);
    client_quit(idle);
    assert_ok(liteipc_unsubscribe(c->k, sub));
    stop_cms(c, cms);
    /* the paced ones */
    assert_in_range(watch_on(w, 0, CALLS, atomic_load(&g.svc_os)), CALLS - PERIODIC_SLACK, CALLS);
    assert_int_equal(atomic_load(&w->n), CALLS + BURST);
}

/* A host task asleep with no real process connected sleeps on a private futex of the host
   (channel.h, lk_wake: its word marked `private`). A real process that connects afterwards and
   calls it is answered at once: the broker, which serves that call, wakes the service itself
   instead of handing the wake-up to the caller, which could not do it (the broker would do it
   only at its 1 ms check, hand_settles); nothing is found at a periodic check (lost_wakes).
   The service's next sleeps, with a real process connected, are shared ones again. */
static void host_task_asleep_before_any_real_process_sleeps_private(void **state)
{
    r_ctx *c = *state;
    t_svc *cms = cms_fresh(false);
    struct kid a = {.k = c->k};
    _Atomic uint32_t *mark;
    unsigned long settles;
    uint64_t until;
    r_child *late;
    char line[R_LINE_MAX];
    int tid;

    t_svc_start(cms, c->k);
    tid = cms->tid;
    assert_true(tid > 0 && tid < MAX_SERVICE_NUM);
    mark = &c->k->b.bell->wake[tid].private;
    until = t_now_ms() + T_WAIT_MS;
    while (!atomic_load(mark) && t_now_ms() < until)
        sched_yield(); /* until the service sleeps in its receive */
    assert_int_equal(atomic_load(mark), 1);
    assert_int_equal(atomic_load(&c->k->b.nreal), 0);
    late = r_fork_child(c, client_main, &a);
    ready_tid(late, NULL);
    settles = atomic_load(&c->k->b.hand_settles);
    r_say(late, "call");
    r_expect(late, "ok", line, sizeof(line));
    assert_int_equal(atomic_load(&c->k->b.hand_settles), settles);
    client_burst(late);
    until = t_now_ms() + T_WAIT_MS;
    while (atomic_load(mark) && t_now_ms() < until)
        sched_yield(); /* its next sleeps are shared ones */
    assert_int_equal(atomic_load(mark), 0);
    client_quit(late);
    stop_cms(c, cms); /* lost_wakes: none */
}

/* ---- 5. a hostile process ringing its own host_bell ------------------------------------------ */

/* Until told to stop: bump this process's host_bell and FUTEX_WAKE it, and (a->scribble) every
   64 rounds scribble over its region's header (posted bits, host_bell). Obeys "count" (reports
   "rounds N" and rings on) and "stop" (reports "rounds N", then waits for "quit"). */
static void bell_ringer_main(void *arg, int in, int out)
{
    struct kid *a = arg;
    struct pollfd pfd = {.fd = in, .events = POLLIN};
    char line[R_LINE_MAX];
    uint64_t x = 0x9e3779b97f4a7c15ull ^ (uint64_t)getpid();
    unsigned long rounds = 0;
    int fd = t_dev_setup(a->k, T_POOL, NULL);
    IpcVersion ver;
    lk_ctask *t;
    lk_proc_region *r;

    /* its task (and so its region) is attached at its first command */
    if (fd < 0 || liteipc_ioctl(a->k, fd, IPC_GET_VERSION, &ver) != 0)
        _exit(10);
    t = lk_task_lookup(a->k);
    r = t ? t->proc->region : NULL;
    if (!r)
        _exit(11);
    r_report(out, "ringing");
    for (;;) {
        for (int i = 0; i < 256; i++, rounds++) {
            atomic_fetch_add(&r->host_bell, 1);
            syscall(SYS_futex, (uint32_t *)&r->host_bell, FUTEX_WAKE, INT_MAX, NULL, NULL, 0);
            if (a->scribble && rounds % 64 == 0) {
                x ^= x << 13, x ^= x >> 7, x ^= x << 17;
                memset((void *)r, (int)(x & 0xff), LK_REGION_HEADER);
            }
        }
        if (poll(&pfd, 1, 0) == 0)
            continue;
        if (!hear(in, line, sizeof(line)) || strcmp(line, "count") != 0)
            break; /* "stop" */
        r_report(out, "rounds %lu", rounds);
    }
    r_report(out, "rounds %lu", rounds);
    hear(in, line, sizeof(line)); /* "quit" */
    _exit(0); /* its own channels are garbage: it leaves without a word to the kernel */
}

/* While a real process rings its own host_bell (FUTEX_WAKE in a tight loop) and scribbles over
   its region's header, every call of an honest real client to a host service is served and
   verified; none fails or is found only at a periodic check, and the kernel serves on. The
   listener may be woken for nothing: it stops listening after LISTEN_IDLE_MAX such wake-ups. */
static void listen_hostile_host_bell_harms_nobody(void **state)
{
    r_ctx *c = *state;
    t_svc *cms = cms_fresh(false);
    struct kid a = {.k = c->k, .scribble = true};
    char line[R_LINE_MAX];
    unsigned long rounds = 0;
    r_child *honest = r_fork_child(c, client_main, &a), *ringer;

    ready_tid(honest, NULL);
    t_svc_start(cms, c->k);
    ringer = r_fork_child(c, bell_ringer_main, &a);
    r_expect(ringer, "ringing", line, sizeof(line));
    client_burst(honest);
    client_burst(honest);
    r_say(ringer, "stop");
    r_expect(ringer, "rounds ", line, sizeof(line));
    assert_int_equal(sscanf(line, "rounds %lu", &rounds), 1);
    print_message("ringer: %s\n", line);
    r_say(ringer, "quit");
    r_assert_exit0(r_wait(ringer), "ringer");
    client_burst(honest); /* and once it is gone */
    client_quit(honest);
    stop_cms(c, cms);
    assert_true(rounds >= HOSTILE_MIN_ROUNDS);
}

/* The ringer's count of rounds, asked for ("count") or given at "stop". */
static unsigned long ringer_rounds(r_child *ringer, const char *say)
{
    char line[R_LINE_MAX];
    unsigned long rounds = 0;

    r_say(ringer, say);
    r_expect(ringer, "rounds ", line, sizeof(line));
    assert_int_equal(sscanf(line, "rounds %lu", &rounds), 1);
    return rounds;
}

/* A host service waiting in RECV, which a real process keeps waking for nothing (its host_bell
   bumped and woken, nothing posted), stops listening after LISTEN_IDLE_MAX such wake-ups and
   sleeps on its own word for the rest of that wait: however long the ringing goes on after
   that (EXTRA_ROUNDS more wake-ups), it sleeps listening no more. The service still answers. */
#define EXTRA_ROUNDS 100000ul
static void listen_idle_wakes_end_listening(void **state)
{
    r_ctx *c = *state;
    t_svc *cms = cms_fresh(false);
    struct kid a = {.k = c->k};
    _Atomic unsigned long *sleeps = &c->k->b.listen_sleeps;
    unsigned long before, reached, after, rounds;
    uint64_t until;
    r_child *honest, *ringer;
    char line[R_LINE_MAX];

    need_futex_waitv();
    honest = r_fork_child(c, client_main, &a); /* a real process: host tasks listen */
    ready_tid(honest, NULL);
    t_svc_start(cms, c->k);
    if (!settled(c->k, 1))
        fail_msg("the service never slept listening");
    /* The service is in its first listening sleep: LISTEN_IDLE_MAX - 1 more at least (the
       first wake-up, by the ringer's connection, may serve its first command and start over) */
    before = atomic_load(sleeps);
    ringer = r_fork_child(c, bell_ringer_main, &a);
    r_expect(ringer, "ringing", line, sizeof(line));
    until = t_now_ms() + T_WAIT_MS;
    while (atomic_load(sleeps) - before < LISTEN_IDLE_MAX - 1 && t_now_ms() < until)
        sched_yield();
    reached = atomic_load(sleeps) - before;
    if (reached < LISTEN_IDLE_MAX - 1)
        fail_msg("the ringing woke the service %lu times, not %d", reached, LISTEN_IDLE_MAX);
    rounds = ringer_rounds(ringer, "count") + EXTRA_ROUNDS;
    while (ringer_rounds(ringer, "count") < rounds)
        sched_yield();
    after = atomic_load(sleeps) - before;
    print_message("listening sleeps: %lu when the cap was reached, %lu after %lu more rounds\n",
                  reached, after, EXTRA_ROUNDS);
    ringer_rounds(ringer, "stop");
    r_say(ringer, "quit");
    r_assert_exit0(r_wait(ringer), "ringer");
    assert_true(after <= LISTEN_IDLE_MAX);
    client_burst(honest); /* the service answers a real client as before */
    client_quit(honest);
    stop_cms(c, cms);
}

/* ---- 6. without futex_waitv ------------------------------------------------------------------ */

/* A host without futex_waitv (k->c.no_waitv, as after ENOSYS) never sleeps listening: the calls
   of a real client to a host service are all served, by the broker or by the service while it
   polls, and nothing is lost. */
static void listen_without_futex_waitv_still_serves(void **state)
{
    r_ctx *c = *state;
    t_svc *cms = cms_fresh(false);
    struct kid a = {.k = c->k};
    r_child *ch;

    c->k->c.no_waitv = true; /* before any call of the host */
    ch = r_fork_child(c, client_main, &a);
    ready_tid(ch, NULL);
    t_svc_start(cms, c->k);
    paced_calls(c, ch, false);
    client_burst(ch);
    client_quit(ch);
    stop_cms(c, cms);
    assert_int_equal(atomic_load(&c->k->b.listen_sleeps), 0); /* no task slept listening */
    assert_true(c->k->c.no_waitv);
}

/* ---- 7. one-way messages --------------------------------------------------------------------- */

/* A host receiver, the ServiceManager: receives with RECV|BUFF_FREE, freeing the one-way
   message it received before; checks each one-way carries the next number; answers a sync
   call with how many it got; leaves at QUIT. */
static void *receiver_main(void *arg)
{
    struct receiver *rv = arg;
    void *to_free = NULL;
    int fd = t_dev_setup(rv->k, LITE_IPC_POOL_MAX_SIZE, NULL);

    if (fd < 0 || t_set_cms(rv->k, fd, T_CMS_BIG) != 0) {
        t_fail_record(__FILE__, __LINE__, "receiver setup: errno %d", errno);
        t_latch_set(&rv->ready, -1);
        return NULL;
    }
    rv->tid = liteipc_self_tid(rv->k);
    t_latch_set(&rv->ready, rv->tid);
    for (;;) {
        IpcContent ct = {.flag = RECV | (to_free ? BUFF_FREE : 0), .buffToFree = to_free};
        IpcMsg *m;
        uint32_t seq;

        if (liteipc_ioctl(rv->k, fd, IPC_SEND_RECV_MSG, &ct) != 0) {
            t_fail_record(__FILE__, __LINE__, "receive: errno %d", errno);
            break;
        }
        m = ct.inMsg;
        to_free = NULL;
        if (m->code == CODE_SEQ && m->dataSz == sizeof(seq)) {
            memcpy(&seq, m->data, sizeof(seq));
            rv->out_of_order += seq != rv->got;
            rv->got++;
            to_free = m;
        } else if (m->code == CODE_SYNC) {
            rv->syncs++;
            T_CHECK_OK(t_reply(rv->k, fd, m, &rv->got, sizeof(rv->got)));
        } else {
            T_CHECK_EQ(m->code, T_CODE_QUIT);
            T_CHECK_OK(t_free(rv->k, fd, m));
            break;
        }
    }
    liteipc_close(rv->k, fd);
    return NULL;
}

/* On "go": ONEWAYS one-way messages to handle 0 numbered from 0, with a synchronous call every
   ONEWAY_SYNC of them that must answer how many arrived so far; then a one-way QUIT. Reports
   "sent N failed F errno E bad-sync B". */
static void sender_main(void *arg, int in, int out)
{
    struct kid *a = arg;
    char line[R_LINE_MAX];
    unsigned failed = 0, bad_sync = 0;
    int fd = t_dev_setup(a->k, T_POOL, NULL), first = 0;

    if (fd < 0)
        _exit(10);
    r_report(out, "ready %d", liteipc_self_tid(a->k));
    if (!hear(in, line, sizeof(line)))
        _exit(11);
    for (uint32_t i = 0; i < ONEWAYS; i++) {
        if (t_send(a->k, fd, 0, CODE_SEQ, LITEIPC_FLAG_ONEWAY, &i, sizeof(i)) != 0 &&
            failed++ == 0)
            first = errno;
        if ((i + 1) % ONEWAY_SYNC == 0 || i + 1 == ONEWAYS) {
            IpcMsg *r = NULL;
            unsigned got = 0;

            if (t_call(a->k, fd, 0, CODE_SYNC, NULL, 0, &r) != 0) {
                if (failed++ == 0)
                    first = errno;
                continue;
            }
            if (r->dataSz == sizeof(got))
                memcpy(&got, r->data, sizeof(got));
            bad_sync += got != i + 1;
            if (t_free(a->k, fd, r) != 0 && failed++ == 0)
                first = errno;
        }
    }
    if (t_send(a->k, fd, 0, T_CODE_QUIT, LITEIPC_FLAG_ONEWAY, NULL, 0) != 0 && failed++ == 0)
        first = errno;
    r_report(out, "sent %d failed %u errno %d bad-sync %u lost-wakes %lu", ONEWAYS, failed, first,
        bad_sync, atomic_load(&a->k->c.lost_wakes));
    liteipc_close(a->k, fd);
}

/* A real sender's one-way messages to a host receiver that frees each buffer as it receives
   the next (RECV|BUFF_FREE) all arrive, in order, none lost. */
static void listen_real_oneways_all_arrive_in_order(void **state)
{
    r_ctx *c = *state;
    struct receiver *rv = memset(&g.rv, 0, sizeof(g.rv));
    struct kid a = {.k = c->k};
    char line[R_LINE_MAX];
    unsigned sent = 0, failed = 1, bad_sync = 1;
    unsigned long lost = 1;
    liteipc_vproc *vp;
    int err = 0;
    long tid = -1;
    r_child *ch;

    need_futex_waitv();
    ch = r_fork_child(c, sender_main, &a);
    ready_tid(ch, NULL);
    rv->k = c->k;
    t_latch_init(&rv->ready);
    vp = t_vproc_start(c->k, receiver_main, rv);
    assert_int_equal(t_latch_wait(&rv->ready, &tid, T_WAIT_MS), 0);
    assert_true(tid >= 0);
    if (!settled(c->k, 1)) /* the receiver sleeps listening before the first message */
        fail_msg("the receiver never went to sleep listening");
    r_say(ch, "go");
    r_expect(ch, "sent ", line, sizeof(line));
    print_message("sender: %s\n", line);
    assert_int_equal(sscanf(line, "sent %u failed %u errno %d bad-sync %u lost-wakes %lu", &sent,
                            &failed, &err, &bad_sync, &lost),
                     5);
    r_assert_exit0(r_wait(ch), "sender");
    t_vproc_finish(vp);
    t_latch_destroy(&rv->ready);
    t_assert_threads_ok();
    if (failed)
        fail_msg("%u of the sender's calls failed, the first with %s", failed,
                 liteipc_errno_name(err));
    assert_int_equal(sent, ONEWAYS);
    assert_int_equal(rv->got, ONEWAYS);
    assert_int_equal(rv->out_of_order, 0);
    assert_int_equal(rv->syncs, (ONEWAYS + ONEWAY_SYNC - 1) / ONEWAY_SYNC);
    assert_int_equal(bad_sync, 0);
    assert_int_equal(lost, 0);
    assert_int_equal(atomic_load(&c->k->c.lost_wakes), 0);
    assert_true(atomic_load(&c->k->b.listen_sleeps) > 0);
}

/* ---- 8. futex_waitv missing, found at the first wait ------------------------------------- */

/* From now on, futex_waitv fails with ENOSYS in every thread of this process (seccomp): as on
   Linux before 5.16. For good: the test that calls it runs last. False if it cannot. */
static bool forbid_futex_waitv(void)
{
#ifdef SYS_futex_waitv
    struct sock_filter f[] = {
        BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, nr)),
        BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, SYS_futex_waitv, 0, 1),
        BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ERRNO | ENOSYS),
        BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
    };
    struct sock_fprog prog = {.len = sizeof(f) / sizeof(f[0]), .filter = f};

    return prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) == 0 &&
           syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, SECCOMP_FILTER_FLAG_TSYNC, &prog) == 0;
#else
    return false;
#endif
}

/* A host that learns at its first listening wait that it has no futex_waitv (ENOSYS) no longer
   counts itself as listening while it sleeps on its own word: a real client's call then rings
   the broker and is served at once, not at the host task's periodic check (lost_wakes). */
static void listen_enosys_at_first_wait_loses_no_post(void **state)
{
    r_ctx *c = *state;
    t_svc *cms = cms_fresh(false);
    struct kid a = {.k = c->k};
    r_child *ch;

    if (!forbid_futex_waitv())
        skip();
    ch = r_fork_child(c, client_main, &a);
    ready_tid(ch, NULL);
    t_svc_start(cms, c->k); /* its receive parks: futex_waitv fails, it sleeps as before */
    r_ev_wait(c, LITEIPC_EV_RECV_WAIT, cms->tid, 1, false);
    if (!settled(c->k, 0))
        fail_msg("the broker never went to sleep");
    paced_calls(c, ch, false);
    client_quit(ch);
    stop_cms(c, cms); /* none of its receives found done only at its periodic check */
    assert_true(c->k->c.no_waitv);
}

/* ---- 9. a call a listener served still ends at its deadline ------------------------------- */

/* Notes the OS thread, then takes the request and never answers it while g.swallow lasts. */
static int swallow(t_svc *s, IpcMsg *m)
{
    (void)m;
    atomic_store((_Atomic long *)s->user, os_tid());
    if (atomic_load(&g.swallow) <= 0)
        return T_SVC_DEFAULT;
    atomic_fetch_sub(&g.swallow, 1);
    return T_SVC_HANDLED; /* stays in the pool, unanswered */
}

/*
 * A host task that runs a real process's call sets its reply deadline while the broker sleeps
 * with none, so it must wake the broker to look again (broker.c, kick_if_earlier): else a call
 * never answered would wait for good. With the reply timeout shrunk to R_TIMEOUT_MS, each call
 * ends with ETIME, and at least one of them was run on the service's thread (a post in the
 * listener's periodic wake goes to the broker instead, PERIODIC_SLACK).
 */
static void listen_unanswered_real_call_ends_at_its_deadline(void **state)
{
    r_ctx *c = *state;
    t_svc *cms = cms_fresh(true);
    struct kid a = {.k = c->k};
    watch *w = &g.w;
    char line[R_LINE_MAX];
    unsigned calls = 0;
    r_child *ch;
    int sub;

    need_futex_waitv();
    cms->handler = swallow;
    atomic_store(&g.swallow, PERIODIC_SLACK + 1);
    sub = watch_start(c, w);
    ch = r_fork_child(c, client_main, &a);
    atomic_store(&w->src_tid, ready_tid(ch, NULL));
    t_svc_start(cms, c->k);
    do {
        if (!settled(c->k, 1))
            fail_msg("the broker or the service never went to sleep");
        r_say(ch, "call");
        assert_int_equal(atoi(r_expect(ch, "bad ", line, sizeof(line))), ETIME);
        calls++;
    } while (watch_on(w, 0, calls, atomic_load(&g.svc_os)) == 0 && calls <= PERIODIC_SLACK);
    client_quit(ch);
    assert_ok(liteipc_unsubscribe(c->k, sub));
    atomic_store(&g.swallow, 0);
    stop_cms(c, cms);
    assert_int_equal(atomic_load(&w->n), calls);
    assert_true(watch_on(w, 0, calls, atomic_load(&g.svc_os)) >= 1);
}

/* ---- fixtures -------------------------------------------------------------------------------- */

static int setup(void **state)
{
    unsetenv(LITEIPC_CALLER_KERNEL_ENV);
    return r_setup_slow(state);
}

/* The reply timeout shrunk to R_TIMEOUT_MS, the rest as setup. */
static int setup_short_timeout(void **state)
{
    unsetenv(LITEIPC_CALLER_KERNEL_ENV);
    return r_setup(state);
}

static int setup_caller_kernel_off(void **state)
{
    int rc;

    setenv(LITEIPC_CALLER_KERNEL_ENV, "0", 1);
    rc = r_setup_slow(state);
    unsetenv(LITEIPC_CALLER_KERNEL_ENV);
    return rc;
}

#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, r_teardown)

int main(void)
{
    const struct CMUnitTest tests[] = {
        T(listen_real_calls_served_on_the_service_thread),
        cmocka_unit_test_setup_teardown(listen_off_with_caller_kernel_off,
                                        setup_caller_kernel_off, r_teardown),
        T(listen_real_reply_served_on_the_waiting_host_client),
        T(listen_process_connecting_while_host_sleeps_is_heard),
        T(host_task_asleep_before_any_real_process_sleeps_private),
        T(listen_hostile_host_bell_harms_nobody),
        T(listen_idle_wakes_end_listening),
        T(listen_without_futex_waitv_still_serves),
        T(listen_real_oneways_all_arrive_in_order),
        cmocka_unit_test_setup_teardown(listen_unanswered_real_call_ends_at_its_deadline,
                                        setup_short_timeout, r_teardown),
        T(listen_enosys_at_first_wait_loses_no_post), /* last: it forbids futex_waitv */
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
