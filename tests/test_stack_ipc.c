/* SPDX-License-Identifier: Apache-2.0 */
/*
 * test_stack_ipc.c - messages between simulated processes through the whole stack
 * (LITEIPC_REFERENCE §1.5, §4, §5.4, §6): synchronous calls with data, one-way messages,
 * failed replies, access grants, timeouts, FIFO order, many clients on one service, bad input
 * that must not disturb anyone else, and the event stream.
 *
 * Unless a test says otherwise, the test thread is the ServiceManager (CMS) of the kernel, in
 * the host's default process; services and clients are virtual processes.
 */
#include "sfix.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static uint64_t now_ns(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* A wait that must have lasted the kernel's timeout (less 1 ms of clock rounding), and not
   absurdly longer (a loaded machine may add seconds, a lost wake-up adds forever). */
#define assert_waited_timeout(ns, timeout_ms)                                              \
    do {                                                                                   \
        assert_true((ns) + 1000000u >= (uint64_t)(timeout_ms) * 1000000u);                 \
        assert_true((ns) < (uint64_t)(timeout_ms) * 1000000u + 8000000000u);               \
    } while (0)

/* ---- the CMS world ---------------------------------------------------------------------------- */

struct world {
    liteipc_kernel *k;
    t_evrec *ev;
    int fd;
    char *pool;
    int tid, pid;
};

static void world_init(t_ctx *c, struct world *w, unsigned long cms_size)
{
    void *pool = NULL;

    w->k = c->k;
    w->ev = c->ev;
    w->fd = t_dev_setup(c->k, T_POOL, &pool);
    assert_true(w->fd >= 0);
    w->pool = pool;
    w->tid = liteipc_self_tid(c->k);
    w->pid = liteipc_self_pid(c->k);
    assert_ok(t_set_cms(c->k, w->fd, cms_size));
    assert_ok(t_prime_task(c->k, w->fd));
}

static void world_fini(struct world *w)
{
    assert_ok(liteipc_close(w->k, w->fd));
}

/* Start a service and give the CMS access to it (so that the CMS can stop it). */
static void service_up(struct world *w, t_svc *s)
{
    uint32_t h = 0;

    t_svc_start(s, w->k);
    T_CHECK_OK(t_gen_handle(w->k, w->fd, (uint32_t)s->tid, &h));
    T_CHECK_EQ(h, s->tid);
}

static void service_down(struct world *w, t_svc *s)
{
    T_CHECK_OK(t_svc_quit(s, w->k, w->fd, false));
    t_svc_join(s);
}

/* Start an actor, grant its process access to `svc` (if >= 0), release it. */
static void actor_up(struct world *w, t_actor *a, int svc)
{
    t_actor_start(a, w->k);
    if (svc >= 0)
        T_CHECK_OK(t_add_access(w->k, w->fd, (uint32_t)a->tid, (uint32_t)svc));
}

/* ---- an echo client ------------------------------------------------------------------------ */

struct echo_job {
    uint32_t target, code;
    unsigned ncalls;
    uint32_t size;  /* bytes per call, unless cycle */
    bool cycle;     /* sizes 1, 7, 1000, IPC_MSG_DATA_SZ_MAX, 0, 64, ... */
    pthread_barrier_t *barrier; /* after the loop, if set */
    pthread_mutex_t *big_lock;  /* if set: then one IPC_MSG_DATA_SZ_MAX call under it */
    /* results */
    int fail_rc, fail_err;
    unsigned ok;
    uint64_t first_ns;
    IpcMsg reply; /* copy of the last reply */
    bool reply_in_pool, data_in_pool, data_ok;
    int big_rc, big_err;
};

static const uint32_t cycle_sizes[] = {1, 7, 1000, IPC_MSG_DATA_SZ_MAX, 0, 64};

static bool check_echo(t_actor *a, struct echo_job *j, const IpcMsg *r, uint32_t size,
                       unsigned seed)
{
    j->reply = *r;
    j->reply_in_pool = t_inside(r, sizeof(*r), a->pool, a->pool_len);
    j->data_in_pool = size == 0 || t_inside(r->data, size, a->pool, a->pool_len);
    return r->type == MT_REPLY && r->dataSz == size &&
           (size == 0 ? r->data == NULL : t_check_fill(r->data, size, seed));
}

static void echo_body(t_actor *a)
{
    struct echo_job *j = a->user;
    unsigned char *buf = malloc(IPC_MSG_DATA_SZ_MAX);
    IpcMsg *r = NULL;

    T_CHECK(buf != NULL);
    if (!buf)
        return;
    j->data_ok = true;
    for (unsigned i = 0; i < j->ncalls; i++) {
        uint32_t size = j->cycle ? cycle_sizes[i % 6] : j->size;
        unsigned seed = (unsigned)a->tid * 100000u + i;
        uint64_t t0;
        int rc;

        t_fill(buf, size, seed);
        t0 = now_ns();
        errno = 0;
        rc = t_call(a->k, a->fd, j->target, j->code ? j->code : T_CODE_ECHO, size ? buf : NULL,
                    size, &r);
        if (i == 0)
            j->first_ns = now_ns() - t0;
        if (rc != 0) {
            j->fail_rc = rc;
            j->fail_err = errno;
            break;
        }
        j->ok++;
        if (!check_echo(a, j, r, size, seed))
            j->data_ok = false;
        T_CHECK_OK(t_free(a->k, a->fd, r));
    }
    if (j->barrier)
        pthread_barrier_wait(j->barrier);
    if (j->big_lock) {
        pthread_mutex_lock(j->big_lock);
        t_fill(buf, IPC_MSG_DATA_SZ_MAX, 99);
        errno = 0;
        j->big_rc = t_call(a->k, a->fd, j->target, T_CODE_ECHO, buf, IPC_MSG_DATA_SZ_MAX, &r);
        j->big_err = errno;
        if (j->big_rc == 0) {
            if (!check_echo(a, j, r, IPC_MSG_DATA_SZ_MAX, 99))
                j->data_ok = false;
            T_CHECK_OK(t_free(a->k, a->fd, r));
        }
        pthread_mutex_unlock(j->big_lock);
    }
    free(buf);
}

/* ---- synchronous calls with data -------------------------------------------------------------- */

struct capture {
    unsigned count;
    IpcMsg req;
    bool req_in_pool, data_in_pool, offsets_null;
    unsigned char data[64];
};

static int capture_first(t_svc *s, IpcMsg *m)
{
    struct capture *cap = s->user;

    if (cap->count++ == 0) {
        cap->req = *m;
        cap->req_in_pool = t_inside(m, sizeof(*m), s->pool, s->pool_len);
        cap->data_in_pool = m->dataSz == 0 || t_inside(m->data, m->dataSz, s->pool, s->pool_len);
        cap->offsets_null = m->offsets == NULL;
        if (m->data)
            memcpy(cap->data, m->data, m->dataSz < 64 ? m->dataSz : 64);
    }
    return T_SVC_DEFAULT; /* echo */
}

/* One client running job against one capturing echo service. */
static void run_pair(t_ctx *c, struct capture *cap, struct echo_job *j, t_svc *svc, t_actor *a)
{
    struct world w;

    world_init(c, &w, T_CMS_BIG);
    svc->handler = capture_first;
    svc->user = cap;
    service_up(&w, svc);
    j->target = (uint32_t)svc->tid;
    a->body = echo_body;
    a->user = j;
    actor_up(&w, a, svc->tid);
    /* Release the client only once the service is parked in its receive loop, so that the
       first request always finds a waiting receiver (ipc_events_trace_sync_call checks that
       wait; otherwise the client may win the race, as it did under valgrind on a loaded host). */
    assert_ok(t_ev_wait(c->ev, LITEIPC_EV_RECV_WAIT, svc->tid, 1, T_WAIT_MS));
    t_actor_go(a);
    t_actor_join(a);
    service_down(&w, svc);
    world_fini(&w);
    t_assert_threads_ok();
}

static void ipc_sync_call_roundtrip_data_intact(void **state)
{
    struct capture cap = {0};
    struct echo_job j = {.ncalls = 12, .cycle = true};
    t_svc svc = {0};
    t_actor a = {0};

    run_pair(*state, &cap, &j, &svc, &a);
    assert_int_equal(j.fail_rc, 0);
    assert_int_equal(j.ok, 12);
    assert_true(j.data_ok); /* every size from 0 to IPC_MSG_DATA_SZ_MAX came back intact */
    assert_int_equal(svc.requests, 12);
    assert_true(t_check_fill(cap.data, 1, (unsigned)a.tid * 100000u)); /* as the service saw it */
}

static void ipc_messages_land_in_receiver_pool(void **state)
{
    struct capture cap = {0};
    struct echo_job j = {.ncalls = 1, .size = 1000};
    t_svc svc = {0};
    t_actor a = {0};

    run_pair(*state, &cap, &j, &svc, &a);
    assert_int_equal(j.ok, 1);
    assert_true(cap.req_in_pool);  /* inMsg inside the service's own pool mapping */
    assert_true(cap.data_in_pool); /* and its data */
    assert_true(j.reply_in_pool);  /* the reply inside the client's pool */
    assert_true(j.data_in_pool);
    assert_true(cap.offsets_null); /* no objects: offsets NULL (Q3 fixed) */
}

static void ipc_request_sender_fields_stamped(void **state)
{
    struct capture cap = {0};
    struct echo_job j = {.ncalls = 1, .size = 16, .code = 0x1234};
    t_svc svc = {0};
    t_actor a = {0};

    run_pair(*state, &cap, &j, &svc, &a);
    assert_int_equal(j.ok, 1);
    assert_int_equal(cap.req.type, MT_REQUEST);
    assert_int_equal(cap.req.target.handle, svc.tid);
    assert_int_equal(cap.req.code, 0x1234);
    assert_int_equal(cap.req.flag, LITEIPC_FLAG_DEFAULT);
    assert_int_equal(cap.req.dataSz, 16);
    assert_int_equal(cap.req.spObjNum, 0);
    assert_int_equal(cap.req.processID, a.pid);
    assert_int_equal(cap.req.taskID, a.tid);
    assert_int_equal(cap.req.userID, getuid());
    assert_int_equal(cap.req.gid, getgid());
    assert_true(cap.req.timestamp != 0);
}

static void ipc_reply_fields_come_from_replier(void **state)
{
    struct capture cap = {0};
    struct echo_job j = {.ncalls = 1, .size = 8};
    t_svc svc = {0};
    t_actor a = {0};

    run_pair(*state, &cap, &j, &svc, &a);
    assert_int_equal(j.ok, 1);
    assert_int_equal(j.reply.type, MT_REPLY);
    assert_int_equal(j.reply.target.handle, a.tid);
    assert_int_equal(j.reply.timestamp, cap.req.timestamp);
    assert_int_equal(j.reply.processID, svc.pid);
    assert_int_equal(j.reply.taskID, svc.tid);
    assert_int_equal(j.reply.userID, getuid());
    assert_int_equal(j.reply.gid, getgid());
}

static void ipc_zero_length_message_has_null_data(void **state)
{
    struct capture cap = {0};
    struct echo_job j = {.ncalls = 1, .size = 0};
    t_svc svc = {0};
    t_actor a = {0};

    run_pair(*state, &cap, &j, &svc, &a);
    assert_int_equal(j.ok, 1);
    assert_int_equal(cap.req.dataSz, 0);
    assert_null(cap.req.data); /* Q3 fixed: no meaningless pointer */
    assert_null(cap.req.offsets);
    assert_int_equal(j.reply.dataSz, 0);
    assert_null(j.reply.data);
}

struct forged {
    uint32_t target;
    int rc, err;
};

static void forging_body(t_actor *a)
{
    struct forged *f = a->user;
    char data[4] = "abc";
    IpcMsg out;
    IpcContent ct;

    memset(&out, 0, sizeof(out));
    memset(&ct, 0, sizeof(ct));
    out.type = MT_REQUEST;
    out.target.handle = f->target;
    out.target.token = 0x11;
    out.target.cookie = 0x22;
    out.code = 0x33;
    out.timestamp = 12345;
    out.dataSz = sizeof(data);
    out.data = data;
    out.processID = 60; /* kernel-filled: ignored */
    out.taskID = 9;
    out.userID = 0xdead;
    out.gid = 0xbeef;
    ct.flag = SEND | RECV;
    ct.outMsg = &out;
    errno = 0;
    f->rc = liteipc_ioctl(a->k, a->fd, IPC_SEND_RECV_MSG, &ct);
    f->err = errno;
    if (f->rc == 0)
        T_CHECK_OK(t_free(a->k, a->fd, ct.inMsg));
    T_CHECK_EQ(out.timestamp, 12345); /* the sender's outMsg is not updated */
    T_CHECK(ct.flag == (SEND | RECV) && ct.outMsg == &out); /* only inMsg is written */
}

static void ipc_request_kernel_fields_cannot_be_forged(void **state)
{
    t_ctx *c = *state;
    struct capture cap = {0};
    struct forged f = {0};
    struct world w;
    t_svc svc = {.handler = capture_first, .user = &cap};
    t_actor a = {.body = forging_body, .user = &f};

    world_init(c, &w, T_CMS_BIG);
    service_up(&w, &svc);
    f.target = (uint32_t)svc.tid;
    actor_up(&w, &a, svc.tid);
    t_actor_go(&a);
    t_actor_join(&a);
    service_down(&w, &svc);
    world_fini(&w);
    t_assert_threads_ok();
    assert_int_equal(f.rc, 0);
    assert_int_equal(cap.req.processID, a.pid);
    assert_int_equal(cap.req.taskID, a.tid);
    assert_int_equal(cap.req.userID, getuid());
    assert_int_equal(cap.req.gid, getgid());
    assert_true(cap.req.timestamp != 12345);
    assert_int_equal(cap.req.target.token, 0x11); /* free fields pass unchanged */
    assert_int_equal(cap.req.target.cookie, 0x22);
    assert_int_equal(cap.req.code, 0x33);
}

/* ---- one-way messages, refused and failed replies ------------------------------------------ */

struct hold {
    bool reply;      /* reply to the held request (else just free it) */
    t_latch got;     /* set when the request has been received */
    t_latch release; /* wait for it before replying/freeing */
    IpcMsg req;
    int reply_rc, reply_err, free_rc, free_err;
};

/* Receive one message, hold it until released, then reply to it (or not) and free it. */
static void hold_body(t_actor *a)
{
    struct hold *h = a->user;
    IpcMsg *m = NULL;

    if (t_recv(a->k, a->fd, &m) != 0) {
        t_fail_record(__FILE__, __LINE__, "holder recv: errno %d", errno);
        return;
    }
    h->req = *m;
    t_latch_set(&h->got, 1);
    if (t_latch_wait(&h->release, NULL, T_WAIT_MS) != 0)
        t_fail_record(__FILE__, __LINE__, "holder: never released");
    if (h->reply) {
        errno = 0;
        h->reply_rc = t_reply(a->k, a->fd, m, "late", 4);
        h->reply_err = errno;
    }
    errno = 0;
    h->free_rc = t_free(a->k, a->fd, m);
    h->free_err = errno;
}

static void holder_up(struct world *w, t_actor *a, struct hold *h)
{
    uint32_t hd = 0;

    t_latch_init(&h->got);
    t_latch_init(&h->release);
    a->body = hold_body;
    a->user = h;
    a->prime = true;
    t_actor_start(a, w->k);
    T_CHECK_OK(t_gen_handle(w->k, w->fd, (uint32_t)a->tid, &hd)); /* the CMS may send to it */
}

static void holder_down(t_actor *a, struct hold *h)
{
    t_latch_set(&h->release, 1);
    t_actor_join(a);
    t_latch_destroy(&h->got);
    t_latch_destroy(&h->release);
}

static void ipc_oneway_send_queues_without_waiting(void **state)
{
    t_ctx *c = *state;
    struct hold h = {0};
    struct world w;
    t_actor a = {0};
    char data[32];

    world_init(c, &w, T_CMS_BIG);
    holder_up(&w, &a, &h);
    t_fill(data, sizeof(data), 3);
    /* the holder is not receiving yet: the one-way send still completes at once */
    T_CHECK_OK(t_send(w.k, w.fd, (uint32_t)a.tid, 77, LITEIPC_FLAG_ONEWAY, data, sizeof(data)));
    T_CHECK_OK(t_ev_wait(w.ev, LITEIPC_EV_MSG_WRITTEN, a.tid, 2, T_WAIT_MS));
    T_CHECK_EQ(t_ev_count(w.ev, LITEIPC_EV_MSG_READ, a.tid), 1); /* only its own priming */
    t_actor_go(&a);
    holder_down(&a, &h);
    world_fini(&w);
    t_assert_threads_ok();
    assert_int_equal(h.req.type, MT_REQUEST);
    assert_int_equal(h.req.code, 77);
    assert_int_equal(h.req.flag, LITEIPC_FLAG_ONEWAY);
    assert_int_equal(h.req.taskID, w.tid);
    assert_int_equal(h.free_rc, 0);
}

static void ipc_reply_to_oneway_refused_and_request_freed(void **state)
{
    t_ctx *c = *state;
    struct hold h = {.reply = true};
    struct world w;
    t_actor a = {0};

    world_init(c, &w, T_CMS_BIG);
    holder_up(&w, &a, &h);
    T_CHECK_OK(t_send(w.k, w.fd, (uint32_t)a.tid, 78, LITEIPC_FLAG_ONEWAY, "z", 1));
    t_actor_go(&a);
    holder_down(&a, &h);
    world_fini(&w);
    t_assert_threads_ok();
    assert_int_equal(h.req.flag, LITEIPC_FLAG_ONEWAY);
    assert_int_equal(h.reply_rc, -1);
    assert_int_equal(h.reply_err, EINVAL);
    /* BUFF_FREE of the refused reply still freed the request (Q13): a retry faults */
    assert_int_equal(h.free_rc, -1);
    assert_int_equal(h.free_err, EFAULT);
}

static int fail_code_99(t_svc *s, IpcMsg *m)
{
    if (m->code != 99)
        return T_SVC_DEFAULT;
    T_CHECK_OK(t_failed_reply(s->k, s->fd, m));
    return T_SVC_HANDLED;
}

struct two_calls {
    uint32_t target;
    int rc1, err1, rc2, err2;
    IpcMsg reply2;
};

static void failed_then_ok_body(t_actor *a)
{
    struct two_calls *t = a->user;
    IpcMsg *r = NULL;

    errno = 0;
    t->rc1 = t_call(a->k, a->fd, t->target, 99, "q", 1, &r);
    t->err1 = errno;
    errno = 0;
    t->rc2 = t_call(a->k, a->fd, t->target, T_CODE_ECHO, "ok", 2, &r);
    t->err2 = errno;
    if (t->rc2 == 0) {
        t->reply2 = *r;
        T_CHECK_OK(t_free(a->k, a->fd, r));
    }
}

static void ipc_failed_reply_gives_enoent(void **state)
{
    t_ctx *c = *state;
    struct world w;
    t_svc svc = {.handler = fail_code_99};
    struct two_calls t = {0};
    t_actor a = {.body = failed_then_ok_body, .user = &t};

    world_init(c, &w, T_CMS_BIG);
    service_up(&w, &svc);
    t.target = (uint32_t)svc.tid;
    actor_up(&w, &a, svc.tid);
    t_actor_go(&a);
    t_actor_join(&a);
    service_down(&w, &svc);
    world_fini(&w);
    t_assert_threads_ok();
    assert_int_equal(t.rc1, -1);
    assert_int_equal(t.err1, ENOENT);
    assert_int_equal(t.rc2, 0); /* the next call is not confused by the failed one */
    assert_int_equal(t.reply2.dataSz, 2);
}

/* ---- access ----------------------------------------------------------------------------------- */

struct probe_grant {
    uint32_t target;
    t_latch probed, granted;
    int rc1, err1, rc2, err2;
};

static void probe_then_call_body(t_actor *a)
{
    struct probe_grant *p = a->user;
    IpcMsg *r = NULL;

    errno = 0;
    p->rc1 = t_call(a->k, a->fd, p->target, T_CODE_ECHO, "a", 1, &r);
    p->err1 = errno;
    if (p->rc1 == 0)
        t_free(a->k, a->fd, r);
    t_latch_set(&p->probed, 1);
    if (t_latch_wait(&p->granted, NULL, T_WAIT_MS) != 0) {
        t_fail_record(__FILE__, __LINE__, "no grant");
        return;
    }
    errno = 0;
    p->rc2 = t_call(a->k, a->fd, p->target, T_CODE_ECHO, "b", 1, &r);
    p->err2 = errno;
    if (p->rc2 == 0)
        T_CHECK_OK(t_free(a->k, a->fd, r));
}

static void ipc_request_without_grant_eacces_then_add_access(void **state)
{
    t_ctx *c = *state;
    struct world w;
    t_svc svc = {0};
    struct probe_grant p = {0};
    t_actor a = {.body = probe_then_call_body, .user = &p};

    world_init(c, &w, T_CMS_BIG);
    service_up(&w, &svc);
    p.target = (uint32_t)svc.tid;
    t_latch_init(&p.probed);
    t_latch_init(&p.granted);
    actor_up(&w, &a, -1);
    t_actor_go(&a);
    T_CHECK_OK(t_latch_wait(&p.probed, NULL, T_WAIT_MS));
    T_CHECK_OK(t_add_access(w.k, w.fd, (uint32_t)a.tid, (uint32_t)svc.tid));
    t_latch_set(&p.granted, 1);
    t_actor_join(&a);
    service_down(&w, &svc);
    world_fini(&w);
    t_latch_destroy(&p.probed);
    t_latch_destroy(&p.granted);
    t_assert_threads_ok();
    assert_int_equal(p.rc1, -1);
    assert_int_equal(p.err1, EACCES);
    assert_int_equal(p.rc2, 0);
    assert_int_equal(svc.requests, 1); /* the refused request never reached it */
}

static void ipc_gen_handle_grants_cms_access(void **state)
{
    t_ctx *c = *state;
    struct world w;
    t_svc svc = {0};
    IpcMsg *r = NULL;
    uint32_t h = 0;
    int rc1, err1, rc2, err2;

    world_init(c, &w, T_CMS_BIG);
    t_svc_start(&svc, w.k); /* primed: it has an IpcTaskInfo */
    errno = 0;
    rc1 = t_call(w.k, w.fd, (uint32_t)svc.tid, T_CODE_ECHO, "x", 1, &r);
    err1 = errno;
    T_CHECK_OK(t_gen_handle(w.k, w.fd, (uint32_t)svc.tid, &h));
    errno = 0;
    rc2 = t_call(w.k, w.fd, h, T_CODE_ECHO, "yz", 2, &r);
    err2 = errno;
    if (rc2 == 0) {
        T_CHECK_EQ(r->dataSz, 2);
        T_CHECK_OK(t_free(w.k, w.fd, r));
    }
    service_down(&w, &svc);
    world_fini(&w);
    t_assert_threads_ok();
    assert_int_equal(rc1, -1);
    assert_int_equal(err1, EACCES);
    assert_int_equal(h, svc.tid);
    assert_int_equal(rc2, 0);
    (void)err2;
}

struct late_prime {
    t_latch primed, sent;
    IpcMsg got;
    int recv_rc;
};

static void prime_later_body(t_actor *a)
{
    struct late_prime *lp = a->user;
    IpcMsg *m = NULL;

    T_CHECK_OK(t_prime_task(a->k, a->fd));
    t_latch_set(&lp->primed, 1);
    if (t_latch_wait(&lp->sent, NULL, T_WAIT_MS) != 0)
        return;
    lp->recv_rc = t_recv(a->k, a->fd, &m);
    if (lp->recv_rc == 0) {
        lp->got = *m;
        T_CHECK_OK(t_free(a->k, a->fd, m));
    }
}

static void ipc_gen_handle_before_task_info_grants_nothing(void **state)
{
    t_ctx *c = *state;
    struct world w;
    struct late_prime lp = {0};
    t_actor a = {.body = prime_later_body, .user = &lp}; /* not primed: no IpcTaskInfo */
    uint32_t h = 0;
    int rc_before, err_before, rc_after_prime, err_after_prime, rc_regen, rc_final;

    world_init(c, &w, T_CMS_BIG);
    t_latch_init(&lp.primed);
    t_latch_init(&lp.sent);
    actor_up(&w, &a, -1);
    rc_regen = t_gen_handle(w.k, w.fd, (uint32_t)a.tid, &h); /* succeeds, grants nothing (Q10) */
    T_CHECK_EQ(rc_regen, 0);
    T_CHECK_EQ(h, a.tid);
    errno = 0;
    rc_before = t_send(w.k, w.fd, (uint32_t)a.tid, 5, LITEIPC_FLAG_ONEWAY, NULL, 0);
    err_before = errno;
    t_actor_go(&a);
    T_CHECK_OK(t_latch_wait(&lp.primed, NULL, T_WAIT_MS));
    errno = 0;
    rc_after_prime = t_send(w.k, w.fd, (uint32_t)a.tid, 6, LITEIPC_FLAG_ONEWAY, NULL, 0);
    err_after_prime = errno; /* a grant is not retroactive */
    rc_regen = t_gen_handle(w.k, w.fd, (uint32_t)a.tid, &h);
    rc_final = t_send(w.k, w.fd, (uint32_t)a.tid, 7, LITEIPC_FLAG_ONEWAY, NULL, 0);
    t_latch_set(&lp.sent, 1);
    t_actor_join(&a);
    world_fini(&w);
    t_latch_destroy(&lp.primed);
    t_latch_destroy(&lp.sent);
    t_assert_threads_ok();
    assert_int_equal(rc_before, -1);
    assert_int_equal(err_before, EACCES);
    assert_int_equal(rc_after_prime, -1);
    assert_int_equal(err_after_prime, EACCES);
    assert_int_equal(rc_regen, 0);
    assert_int_equal(rc_final, 0);
    assert_int_equal(lp.recv_rc, 0);
    assert_int_equal(lp.got.code, 7);
}

static void ipc_request_to_invalid_handle_eacces(void **state)
{
    t_ctx *c = *state;
    struct world w;

    world_init(c, &w, T_CMS_BIG);
    assert_errno(t_send(w.k, w.fd, MAX_SERVICE_NUM, 1, LITEIPC_FLAG_ONEWAY, NULL, 0), EACCES);
    assert_errno(t_send(w.k, w.fd, 200, 1, LITEIPC_FLAG_ONEWAY, NULL, 0), EACCES);
    assert_errno(t_send(w.k, w.fd, 0xffffffffu, 1, LITEIPC_FLAG_ONEWAY, NULL, 0), EACCES);
    assert_errno(t_send(w.k, w.fd, MAX_SERVICE_NUM - 1, 1, LITEIPC_FLAG_ONEWAY, NULL, 0),
                 EACCES); /* no such task */
    assert_errno(t_call(w.k, w.fd, 200, 1, NULL, 0, NULL), EACCES); /* no wait either */
    world_fini(&w);
}

/* OBJ_SVC in a reply grants the receiving process access to the service (§5.4). */
static void obj_svc_client_body(t_actor *a)
{
    struct two_calls *t = a->user;
    IpcMsg *r = NULL;

    errno = 0;
    t->rc1 = t_call(a->k, a->fd, 0, 0x600, NULL, 0, &r); /* "look up the service" */
    t->err1 = errno;
    if (t->rc1 == 0) {
        SpecialObj obj;

        T_CHECK_EQ(r->spObjNum, 1);
        if (r->spObjNum == 1 && r->dataSz >= sizeof(obj)) {
            uint32_t off;

            memcpy(&off, r->offsets, sizeof(off));
            memcpy(&obj, (const char *)r->data + off, sizeof(obj));
            T_CHECK_EQ(obj.type, OBJ_SVC);
            t->target = obj.content.svc.handle;
            T_CHECK_EQ(obj.content.svc.token, 0x99);
        }
        T_CHECK_OK(t_free(a->k, a->fd, r));
    }
    errno = 0;
    t->rc2 = t_call(a->k, a->fd, t->target, T_CODE_ECHO, "svc", 3, &r);
    t->err2 = errno;
    if (t->rc2 == 0)
        T_CHECK_OK(t_free(a->k, a->fd, r));
}

static void ipc_obj_svc_in_reply_grants_access(void **state)
{
    t_ctx *c = *state;
    struct world w;
    t_svc svc = {0};
    struct two_calls t = {0};
    t_actor a = {.body = obj_svc_client_body, .user = &t};
    IpcMsg *req = NULL, out;
    IpcContent ct;
    SpecialObj obj;
    uint32_t off = 0;

    world_init(c, &w, T_CMS_BIG);
    service_up(&w, &svc); /* the CMS has access through CMS_GEN_HANDLE */
    actor_up(&w, &a, -1);
    t_actor_go(&a);
    T_CHECK_OK(t_recv(w.k, w.fd, &req));
    if (req) {
        memset(&obj, 0, sizeof(obj));
        obj.type = OBJ_SVC;
        obj.content.svc.handle = (uint32_t)svc.tid;
        obj.content.svc.token = 0x99;
        memset(&out, 0, sizeof(out));
        out.type = MT_REPLY;
        out.target.handle = req->taskID;
        out.timestamp = req->timestamp;
        out.dataSz = sizeof(obj);
        out.data = &obj;
        out.spObjNum = 1;
        out.offsets = &off;
        memset(&ct, 0, sizeof(ct));
        ct.flag = SEND | BUFF_FREE;
        ct.outMsg = &out;
        ct.buffToFree = req;
        T_CHECK_OK(liteipc_ioctl(w.k, w.fd, IPC_SEND_RECV_MSG, &ct));
    }
    t_actor_join(&a);
    service_down(&w, &svc);
    world_fini(&w);
    t_assert_threads_ok();
    assert_int_equal(t.rc1, 0);
    assert_int_equal(t.target, svc.tid);
    assert_int_equal(t.rc2, 0);
}

/* ---- timeouts (shrunk: T_FAST_TIMEOUT_MS) -------------------------------------------------------- */

/* A client calling a holder that receives the request and does not answer in time. */
static void run_unanswered_call(t_ctx *c, struct world *w, struct hold *h, t_actor *hold_actor,
                                struct echo_job *j, t_actor *client)
{
    world_init(c, w, T_CMS_BIG);
    holder_up(w, hold_actor, h);
    t_actor_go(hold_actor);
    j->target = (uint32_t)hold_actor->tid;
    j->ncalls = 1;
    j->size = 4;
    client->body = echo_body;
    client->user = j;
    actor_up(w, client, hold_actor->tid);
    t_actor_go(client);
    t_actor_join(client); /* the call has ended (ETIME) */
    holder_down(hold_actor, h); /* only now may the holder answer */
    world_fini(w);
    t_assert_threads_ok();
}

static void ipc_sync_call_times_out_etime(void **state)
{
    t_ctx *c = *state;
    struct world w;
    struct hold h = {0};
    struct echo_job j = {0};
    t_actor ha = {0}, ca = {0};

    run_unanswered_call(c, &w, &h, &ha, &j, &ca);
    assert_int_equal(j.fail_rc, -1);
    assert_int_equal(j.fail_err, ETIME);
    assert_waited_timeout(j.first_ns, c->cfg.reply_timeout_ms);
    assert_int_equal(h.req.taskID, ca.tid); /* it was delivered, just not answered */
    assert_int_equal(h.free_rc, 0);
}

static void ipc_late_reply_refused_etime(void **state)
{
    t_ctx *c = *state;
    struct world w;
    struct hold h = {.reply = true};
    struct echo_job j = {0};
    t_actor ha = {0}, ca = {0};

    run_unanswered_call(c, &w, &h, &ha, &j, &ca);
    assert_int_equal(j.fail_err, ETIME);
    assert_int_equal(h.reply_rc, -1); /* past the reply deadline */
    assert_int_equal(h.reply_err, ETIME);
    assert_int_equal(h.free_rc, -1); /* the request was freed anyway (Q13) */
    assert_int_equal(h.free_err, EFAULT);
}

static void ipc_call_to_self_times_out_etime(void **state)
{
    t_ctx *c = *state;
    struct world w;
    uint64_t t0, dt;
    IpcMsg *r = NULL;
    int rc, err;

    world_init(c, &w, T_CMS_BIG);
    t0 = now_ns();
    errno = 0;
    rc = t_call(w.k, w.fd, (uint32_t)w.tid, 1, "me", 2, &r); /* same task: allowed, then dropped */
    err = errno;
    dt = now_ns() - t0;
    assert_int_equal(rc, -1);
    assert_int_equal(err, ETIME);
    assert_waited_timeout(dt, c->cfg.reply_timeout_ms);
    assert_ok(t_ev_wait(w.ev, LITEIPC_EV_DROP_ON_READ, w.tid, 1, T_WAIT_MS)); /* Q23 via Q5 */
    assert_ok(t_ev_wait(w.ev, LITEIPC_EV_RECV_TIMEOUT, w.tid, 1, T_WAIT_MS));
    assert_int_equal(t_ev_count(w.ev, LITEIPC_EV_RECV_TIMEOUT, w.tid), 1);
    world_fini(&w);
}

struct bad_replies {
    int rc[2], err[2];
};

static void two_cms_calls_body(t_actor *a)
{
    struct bad_replies *b = a->user;
    IpcMsg *r = NULL;

    for (int i = 0; i < 2; i++) {
        errno = 0;
        b->rc[i] = t_call(a->k, a->fd, 0, 0x70 + (uint32_t)i, "r", 1, &r);
        b->err[i] = errno;
        if (b->rc[i] == 0)
            t_free(a->k, a->fd, r);
    }
}

static void ipc_reply_must_match_request(void **state)
{
    t_ctx *c = *state;
    struct world w;
    struct bad_replies b = {0};
    t_actor a = {.body = two_cms_calls_body, .user = &b};
    IpcMsg *req = NULL, out;
    IpcContent ct;
    int rc[4], err[4];

    world_init(c, &w, T_CMS_BIG);
    actor_up(&w, &a, -1);
    t_actor_go(&a);
    for (int i = 0; i < 2; i++) {
        T_CHECK_OK(t_recv(w.k, w.fd, &req));
        if (!req)
            break;
        memset(&out, 0, sizeof(out));
        out.type = MT_REPLY;
        out.target.handle = req->taskID;
        out.timestamp = req->timestamp;
        if (i == 0)
            out.timestamp ^= 1; /* wrong timestamp */
        else
            out.target.handle = (uint32_t)w.tid; /* wrong requester */
        memset(&ct, 0, sizeof(ct));
        ct.flag = SEND | BUFF_FREE;
        ct.outMsg = &out;
        ct.buffToFree = req;
        errno = 0;
        rc[2 * i] = liteipc_ioctl(w.k, w.fd, IPC_SEND_RECV_MSG, &ct);
        err[2 * i] = errno;
        /* the correct reply now: the request is gone already (Q13) */
        errno = 0;
        rc[2 * i + 1] = t_reply(w.k, w.fd, req, NULL, 0);
        err[2 * i + 1] = errno;
    }
    t_actor_join(&a);
    world_fini(&w);
    t_assert_threads_ok();
    for (int i = 0; i < 2; i++) {
        assert_int_equal(rc[2 * i], -1);
        assert_int_equal(err[2 * i], EINVAL);
        assert_int_equal(rc[2 * i + 1], -1);
        assert_int_equal(err[2 * i + 1], EFAULT);
        assert_int_equal(b.rc[i], -1);
        assert_int_equal(b.err[i], ETIME);
    }
}

/* ---- ordering, volume, isolation -------------------------------------------------------------- */

struct order {
    unsigned next, mismatches;
};

static int check_order(t_svc *s, IpcMsg *m)
{
    struct order *o = s->user;

    if (m->code < 0x1000 || m->code >= 0x2000)
        return T_SVC_DEFAULT;
    if (m->code != 0x1000 + o->next || m->dataSz != 4 ||
        memcmp(m->data, &o->next, sizeof(o->next)) != 0)
        o->mismatches++;
    o->next++;
    T_CHECK_OK(t_free(s->k, s->fd, m));
    return T_SVC_HANDLED;
}

#define FIFO_N 300

static void fifo_sender_body(t_actor *a)
{
    uint32_t target = *(uint32_t *)a->user;
    IpcMsg *r = NULL;

    for (unsigned i = 0; i < FIFO_N; i++)
        T_CHECK_OK(t_send(a->k, a->fd, target, 0x1000 + i, LITEIPC_FLAG_ONEWAY, &i, sizeof(i)));
    /* a synchronous call queued behind them: when it returns, all were handled */
    T_CHECK_OK(t_call(a->k, a->fd, target, T_CODE_ECHO, NULL, 0, &r));
    if (r)
        T_CHECK_OK(t_free(a->k, a->fd, r));
}

static void ipc_fifo_order_from_one_sender(void **state)
{
    t_ctx *c = *state;
    struct world w;
    struct order o = {0};
    t_svc svc = {.handler = check_order, .user = &o, .pool_size = 131072};
    uint32_t target;
    t_actor a = {.body = fifo_sender_body, .user = &target};

    world_init(c, &w, T_CMS_BIG);
    service_up(&w, &svc);
    target = (uint32_t)svc.tid;
    actor_up(&w, &a, svc.tid);
    t_actor_go(&a);
    t_actor_join(&a);
    service_down(&w, &svc);
    world_fini(&w);
    t_assert_threads_ok();
    assert_int_equal(o.next, FIFO_N);
    assert_int_equal(o.mismatches, 0);
}

#define MANY_CLIENTS 4
#define MANY_CALLS 500

static void ipc_many_clients_no_pool_leak(void **state)
{
    t_ctx *c = *state;
    struct world w;
    /* small pools: a leak of even one node per call would run them dry within 60 calls */
    t_svc svc = {.pool_size = 16384};
    struct echo_job j[MANY_CLIENTS];
    t_actor a[MANY_CLIENTS];
    pthread_barrier_t barrier;
    pthread_mutex_t big_lock = PTHREAD_MUTEX_INITIALIZER;
    unsigned char *big = malloc(IPC_MSG_DATA_SZ_MAX);
    IpcMsg *r = NULL;
    int big_rc;

    assert_non_null(big);
    memset(j, 0, sizeof(j));
    memset(a, 0, sizeof(a));
    world_init(c, &w, T_CMS_BIG);
    service_up(&w, &svc);
    pthread_barrier_init(&barrier, NULL, MANY_CLIENTS);
    for (int i = 0; i < MANY_CLIENTS; i++) {
        j[i] = (struct echo_job){.target = (uint32_t)svc.tid, .ncalls = MANY_CALLS, .size = 64,
                                 .barrier = &barrier, .big_lock = &big_lock};
        a[i] = (t_actor){.body = echo_body, .user = &j[i], .pool_size = 8192};
        actor_up(&w, &a[i], svc.tid);
    }
    for (int i = 0; i < MANY_CLIENTS; i++)
        t_actor_go(&a[i]);
    for (int i = 0; i < MANY_CLIENTS; i++)
        t_actor_join(&a[i]);
    /* everything was freed: the largest message still fits the service's pool */
    t_fill(big, IPC_MSG_DATA_SZ_MAX, 5);
    errno = 0;
    big_rc = t_call(w.k, w.fd, (uint32_t)svc.tid, T_CODE_ECHO, big, IPC_MSG_DATA_SZ_MAX, &r);
    if (big_rc == 0) {
        T_CHECK(t_check_fill(r->data, IPC_MSG_DATA_SZ_MAX, 5));
        T_CHECK_OK(t_free(w.k, w.fd, r));
    } else {
        t_fail_record(__FILE__, __LINE__, "final big call: errno %d", errno);
    }
    service_down(&w, &svc);
    world_fini(&w);
    pthread_barrier_destroy(&barrier);
    free(big);
    t_assert_threads_ok();
    for (int i = 0; i < MANY_CLIENTS; i++) {
        if (j[i].fail_rc != 0)
            fail_msg("client %d: call %u failed: %s", i, j[i].ok,
                     liteipc_errno_name(j[i].fail_err));
        assert_int_equal(j[i].ok, MANY_CALLS);
        assert_true(j[i].data_ok);
        assert_int_equal(j[i].big_rc, 0); /* and in each client's small pool */
    }
    assert_int_equal(svc.requests, MANY_CLIENTS * (MANY_CALLS + 1) + 1);
}

#define BAD_ROUNDS 40

static void bad_input_body(t_actor *a)
{
    liteipc_kernel *k = a->k;
    int fd = a->fd;
    char *big = malloc(IPC_MSG_DATA_SZ_MAX + 1);
    IpcMsg out, *m = NULL;
    IpcContent ct;

    T_CHECK(big != NULL);
    if (!big)
        return;
    memset(big, 0, IPC_MSG_DATA_SZ_MAX + 1);
    for (int round = 0; round < BAD_ROUNDS && !t_failed(); round++) {
        memset(&out, 0, sizeof(out));
        memset(&ct, 0, sizeof(ct));
        ct.flag = SEND | RECV; /* NULL outMsg */
        T_CHECK_ERR(liteipc_ioctl(k, fd, IPC_SEND_RECV_MSG, &ct), EINVAL);
        ct.outMsg = &out;
        out.target.handle = (uint32_t)a->tid;
        out.type = (MsgType)7; /* bogus type */
        T_CHECK_ERR(liteipc_ioctl(k, fd, IPC_SEND_RECV_MSG, &ct), EINVAL);
        out.type = MT_DEATH_NOTIFY; /* only the kernel sends these */
        T_CHECK_ERR(liteipc_ioctl(k, fd, IPC_SEND_RECV_MSG, &ct), EINVAL);
        out.type = MT_REQUEST; /* oversized data */
        out.dataSz = IPC_MSG_DATA_SZ_MAX + 1;
        out.data = big;
        T_CHECK_ERR(liteipc_ioctl(k, fd, IPC_SEND_RECV_MSG, &ct), EINVAL);
        out.data = NULL; /* data missing */
        out.dataSz = 10;
        T_CHECK_ERR(liteipc_ioctl(k, fd, IPC_SEND_RECV_MSG, &ct), EINVAL);
        T_CHECK_ERR(t_free(k, fd, NULL), EINVAL);         /* bad buffToFree */
        T_CHECK_ERR(t_free(k, fd, a->pool + 8), EFAULT); /* inside the pool, not a node */
        memset(&out, 0, sizeof(out)); /* reply to nothing */
        out.type = MT_REPLY;
        out.target.handle = (uint32_t)a->tid;
        ct.flag = SEND;
        T_CHECK_ERR(liteipc_ioctl(k, fd, IPC_SEND_RECV_MSG, &ct), EINVAL);
        ct.flag = SEND | BUFF_FREE;
        T_CHECK_ERR(liteipc_ioctl(k, fd, IPC_SEND_RECV_MSG, &ct), EINVAL);
        /* reply to a one-way request */
        T_CHECK_OK(t_send(k, fd, (uint32_t)a->tid, 3, LITEIPC_FLAG_ONEWAY, "1w", 2));
        m = NULL;
        T_CHECK_OK(t_recv(k, fd, &m));
        if (m) {
            T_CHECK_ERR(t_reply(k, fd, m, NULL, 0), EINVAL);
            T_CHECK_ERR(t_free(k, fd, m), EFAULT);
        }
        T_CHECK_ERR(t_send(k, fd, 200, 1, 0, NULL, 0), EACCES);
        T_CHECK_ERR(liteipc_ioctl(k, fd, _IO('i', 42), 0UL), EINVAL);
    }
    free(big);
}

static void ipc_bad_input_does_not_disturb_other_pair(void **state)
{
    t_ctx *c = *state;
    struct world w;
    t_svc svc = {0};
    struct echo_job j = {.ncalls = 300, .cycle = true};
    t_actor good = {.body = echo_body, .user = &j};
    t_actor bad = {.body = bad_input_body};

    world_init(c, &w, T_CMS_BIG);
    service_up(&w, &svc);
    j.target = (uint32_t)svc.tid;
    actor_up(&w, &good, svc.tid);
    actor_up(&w, &bad, -1);
    t_actor_go(&bad);
    t_actor_go(&good);
    t_actor_join(&bad);
    t_actor_join(&good);
    service_down(&w, &svc);
    world_fini(&w);
    t_assert_threads_ok(); /* every bad call gave its errno */
    assert_int_equal(j.fail_rc, 0);
    assert_int_equal(j.ok, 300);
    assert_true(j.data_ok);
}

/* ---- bad input, one errno at a time (test thread only) -------------------------------------- */

static int raw_send(struct world *w, uint32_t flag, IpcMsg *out, void *buff_to_free)
{
    IpcContent ct;

    memset(&ct, 0, sizeof(ct));
    ct.flag = flag;
    ct.outMsg = out;
    ct.buffToFree = buff_to_free;
    return liteipc_ioctl(w->k, w->fd, IPC_SEND_RECV_MSG, &ct);
}

static void ipc_send_null_outmsg_einval(void **state)
{
    struct world w;

    world_init(*state, &w, T_CMS_BIG);
    assert_errno(raw_send(&w, SEND, NULL, NULL), EINVAL);
    assert_errno(raw_send(&w, SEND | RECV, NULL, NULL), EINVAL); /* and RECV is not attempted */
    assert_ok(raw_send(&w, 0, NULL, NULL));                     /* nothing to do */
    assert_ok(raw_send(&w, 8 | 16, NULL, NULL));                /* unknown bits are ignored */
    world_fini(&w);
}

static void ipc_send_bad_type_einval(void **state)
{
    struct world w;
    IpcMsg out;
    const uint32_t types[] = {MT_DEATH_NOTIFY, MT_NUM, 7, 0x80000000u, 0xffffffffu};

    world_init(*state, &w, T_CMS_BIG);
    for (size_t i = 0; i < sizeof(types) / sizeof(types[0]); i++) {
        memset(&out, 0, sizeof(out));
        out.type = (MsgType)types[i];
        out.target.handle = (uint32_t)w.tid;
        assert_errno(raw_send(&w, SEND, &out, NULL), EINVAL);
    }
    world_fini(&w);
}

static void ipc_send_bad_sizes_einval(void **state)
{
    struct world w;
    IpcMsg out, *m = NULL;
    char *data = calloc(1, IPC_MSG_DATA_SZ_MAX + 1);
    uint32_t offs[IPC_MSG_OBJECT_NUM_MAX + 1] = {0};

    assert_non_null(data);
    world_init(*state, &w, T_CMS_BIG);
    memset(&out, 0, sizeof(out));
    out.type = MT_REQUEST;
    out.target.handle = (uint32_t)w.tid;
    out.flag = LITEIPC_FLAG_ONEWAY;
    out.data = data;
    out.dataSz = IPC_MSG_DATA_SZ_MAX + 1;
    assert_errno(raw_send(&w, SEND, &out, NULL), EINVAL);
    out.dataSz = 10;
    out.data = NULL;
    assert_errno(raw_send(&w, SEND, &out, NULL), EINVAL);
    out.data = data;
    out.spObjNum = 1;
    out.offsets = NULL;
    assert_errno(raw_send(&w, SEND, &out, NULL), EINVAL);
    out.offsets = offs;
    out.dataSz = IPC_MSG_DATA_SZ_MAX;
    out.spObjNum = IPC_MSG_OBJECT_NUM_MAX + 1;
    assert_errno(raw_send(&w, SEND, &out, NULL), EINVAL);
    out.spObjNum = 2;
    out.dataSz = 2 * LITEIPC_DEVICE_SIZEOF_SPECIALOBJ - 1; /* too small for its objects */
    assert_errno(raw_send(&w, SEND, &out, NULL), EINVAL);
    /* the largest message is fine */
    out.spObjNum = 0;
    out.offsets = NULL;
    out.dataSz = IPC_MSG_DATA_SZ_MAX;
    assert_ok(raw_send(&w, SEND, &out, NULL));
    assert_ok(t_recv(w.k, w.fd, &m));
    assert_int_equal(m->dataSz, IPC_MSG_DATA_SZ_MAX);
    assert_ok(t_free(w.k, w.fd, m));
    world_fini(&w);
    free(data);
}

static void ipc_buff_free_validation(void **state)
{
    struct world w;
    IpcMsg *m = NULL;
    int local;

    world_init(*state, &w, T_CMS_BIG);
    assert_ok(t_send(w.k, w.fd, (uint32_t)w.tid, 1, LITEIPC_FLAG_ONEWAY, "abc", 3));
    assert_ok(t_recv(w.k, w.fd, &m));
    assert_errno(t_free(w.k, w.fd, NULL), EINVAL);
    assert_errno(t_free(w.k, w.fd, w.pool - 1), EINVAL);         /* below the pool */
    assert_errno(t_free(w.k, w.fd, w.pool + T_POOL), EFAULT);    /* the bound is inclusive */
    assert_errno(t_free(w.k, w.fd, w.pool + T_POOL + 1), EINVAL); /* above */
    assert_errno(t_free(w.k, w.fd, &local), EINVAL);             /* elsewhere */
    assert_errno(t_free(w.k, w.fd, (char *)m + 8), EFAULT);      /* not a node start */
    assert_errno(t_free(w.k, w.fd, m->data), EFAULT);            /* its data is not a node */
    assert_ok(t_free(w.k, w.fd, m));
    assert_errno(t_free(w.k, w.fd, m), EFAULT); /* double free */
    world_fini(&w);
}

static void ipc_reply_without_request_einval(void **state)
{
    struct world w;
    IpcMsg out;

    world_init(*state, &w, T_CMS_BIG);
    memset(&out, 0, sizeof(out));
    out.target.handle = (uint32_t)w.tid;
    out.type = MT_REPLY;
    assert_errno(raw_send(&w, SEND, &out, NULL), EINVAL);             /* no BUFF_FREE */
    assert_errno(raw_send(&w, SEND | BUFF_FREE, &out, NULL), EINVAL); /* nothing to free */
    out.type = MT_FAILED_REPLY;
    assert_errno(raw_send(&w, SEND, &out, NULL), EINVAL);
    world_fini(&w);
}

/* ---- pool capacity and the CMS size limit --------------------------------------------------- */

static void ipc_one_page_pool_limits_message_size(void **state)
{
    t_ctx *c = *state;
    struct world w;
    t_svc svc = {.pool_size = 1}; /* rounded up to one page */
    char *data = malloc(6000);
    IpcMsg *r = NULL;
    int rc_big, err_big, rc_small;

    assert_non_null(data);
    t_fill(data, 6000, 1);
    world_init(c, &w, T_CMS_BIG);
    service_up(&w, &svc);
    errno = 0;
    rc_big = t_send(w.k, w.fd, (uint32_t)svc.tid, 1, LITEIPC_FLAG_ONEWAY, data, 6000);
    err_big = errno;
    rc_small = t_call(w.k, w.fd, (uint32_t)svc.tid, T_CODE_ECHO, data, 2000, &r);
    if (rc_small == 0) {
        T_CHECK(r->dataSz == 2000 && t_check_fill(r->data, 2000, 1));
        T_CHECK_OK(t_free(w.k, w.fd, r));
    }
    service_down(&w, &svc);
    world_fini(&w);
    free(data);
    t_assert_threads_ok();
    assert_int_equal(rc_big, -1);
    assert_int_equal(err_big, ENOMEM);
    assert_int_equal(rc_small, 0);
}

static void cms_limit_body(t_actor *a)
{
    char data[200] = {0};

    T_CHECK_ERR(t_send(a->k, a->fd, 0, 2, LITEIPC_FLAG_ONEWAY, data, 193), EINVAL);
    T_CHECK_OK(t_send(a->k, a->fd, 0, 2, LITEIPC_FLAG_ONEWAY, data, 192));
}

static void ipc_cms_size_limit_only_through_handle_zero(void **state)
{
    t_ctx *c = *state;
    struct world w;
    t_actor a = {.body = cms_limit_body};
    char data[1000] = {0};
    IpcMsg *m = NULL;
    int got = 0;

    world_init(c, &w, 256); /* like samgr: 64 + at most 192 bytes */
    assert_ok(t_send(w.k, w.fd, 0, 1, LITEIPC_FLAG_ONEWAY, data, 192));
    assert_errno(t_send(w.k, w.fd, 0, 1, LITEIPC_FLAG_ONEWAY, data, 193), EINVAL);
    /* the CMS named by its TID: no limit (Q19) */
    assert_ok(t_send(w.k, w.fd, (uint32_t)w.tid, 1, LITEIPC_FLAG_ONEWAY, data, sizeof(data)));
    actor_up(&w, &a, -1);
    t_actor_go(&a);
    t_actor_join(&a);
    t_assert_threads_ok();
    for (got = 0; got < 3; got++) {
        assert_ok(t_recv(w.k, w.fd, &m));
        assert_ok(t_free(w.k, w.fd, m));
    }
    assert_int_equal(t_ev_count(w.ev, LITEIPC_EV_MSG_WRITTEN, w.tid), 1 + 3); /* prime + 3 */
    world_fini(&w);
}

/* ---- who may reply, what a synchronous call drops ------------------------------------------- */

struct relay {
    t_latch msg, replied;
    int rc, err, tid;
};

static int hand_to_helper(t_svc *s, IpcMsg *m)
{
    struct relay *r = s->user;

    t_latch_set(&r->msg, (long)(uintptr_t)m);
    if (t_latch_wait(&r->replied, NULL, T_WAIT_MS) != 0)
        t_fail_record(__FILE__, __LINE__, "helper never replied");
    return T_SVC_HANDLED;
}

static t_svc *relay_svc;

static void *relay_helper(void *arg)
{
    struct relay *r = arg;
    long p = 0;

    r->tid = liteipc_self_tid(relay_svc->k);
    if (t_latch_wait(&r->msg, &p, T_WAIT_MS) == 0) {
        errno = 0;
        r->rc = t_reply(relay_svc->k, relay_svc->fd, (IpcMsg *)(uintptr_t)p, "helper", 6);
        r->err = errno;
    }
    t_latch_set(&r->replied, 1);
    return NULL;
}

static void ipc_any_thread_of_receiving_process_may_reply(void **state)
{
    t_ctx *c = *state;
    struct world w;
    struct relay rel = {0};
    t_svc svc = {.handler = hand_to_helper, .user = &rel};
    struct echo_job j = {.ncalls = 1, .size = 6};
    t_actor a = {.body = echo_body, .user = &j};

    t_latch_init(&rel.msg);
    t_latch_init(&rel.replied);
    world_init(c, &w, T_CMS_BIG);
    service_up(&w, &svc);
    relay_svc = &svc;
    assert_int_equal(liteipc_vproc_add_thread(svc.vp, relay_helper, &rel), 0);
    j.target = (uint32_t)svc.tid;
    actor_up(&w, &a, svc.tid);
    t_actor_go(&a);
    t_actor_join(&a);
    service_down(&w, &svc);
    world_fini(&w);
    t_latch_destroy(&rel.msg);
    t_latch_destroy(&rel.replied);
    t_assert_threads_ok();
    assert_int_equal(rel.rc, 0);
    assert_int_not_equal(rel.tid, svc.tid);
    assert_int_equal(j.ok, 1);
    assert_int_equal(j.reply.taskID, rel.tid); /* the reply came from the helper thread */
    assert_int_equal(j.reply.processID, svc.pid);
}

struct dropper {
    uint32_t svc;
    int call_rc;
    IpcMsg next;
};

static void call_then_recv_body(t_actor *a)
{
    struct dropper *d = a->user;
    IpcMsg *r = NULL;

    d->call_rc = t_call(a->k, a->fd, d->svc, T_CODE_ECHO, "p", 1, &r);
    if (d->call_rc == 0)
        T_CHECK_OK(t_free(a->k, a->fd, r));
    /* the request queued before the call is gone: the next message is our own marker */
    T_CHECK_OK(t_send(a->k, a->fd, (uint32_t)a->tid, 0x55, LITEIPC_FLAG_ONEWAY, NULL, 0));
    r = NULL;
    T_CHECK_OK(t_recv(a->k, a->fd, &r));
    if (r) {
        d->next = *r;
        T_CHECK_OK(t_free(a->k, a->fd, r));
    }
}

static void ipc_sync_call_drops_queued_requests(void **state)
{
    t_ctx *c = *state;
    struct world w;
    t_svc svc = {0};
    struct dropper d = {0};
    t_actor a = {.body = call_then_recv_body, .user = &d, .prime = true};
    uint32_t h = 0;

    world_init(c, &w, T_CMS_BIG);
    service_up(&w, &svc);
    d.svc = (uint32_t)svc.tid;
    actor_up(&w, &a, svc.tid);
    T_CHECK_OK(t_gen_handle(w.k, w.fd, (uint32_t)a.tid, &h));
    T_CHECK_OK(t_send(w.k, w.fd, (uint32_t)a.tid, 0x44, LITEIPC_FLAG_ONEWAY, NULL, 0));
    t_actor_go(&a);
    t_actor_join(&a);
    service_down(&w, &svc);
    world_fini(&w);
    t_assert_threads_ok();
    assert_int_equal(d.call_rc, 0);
    assert_int_equal(d.next.code, 0x55); /* not 0x44: dropped by the call (Q5) */
    assert_int_equal(t_ev_count(c->ev, LITEIPC_EV_DROP_ON_READ, a.tid), 1);
}

/* ---- events ----------------------------------------------------------------------------------- */

static ssize_t find_event(const liteipc_event *ev, size_t n, size_t from, liteipc_event_type type,
                          int src, int dst, int msgtype, uint32_t code)
{
    for (size_t i = from; i < n; i++) {
        if (ev[i].type != type)
            continue;
        if (src >= 0 && ev[i].src_tid != src)
            continue;
        if (dst >= 0 && ev[i].dst_tid != dst)
            continue;
        if (msgtype >= 0 && (int)ev[i].msg.type != msgtype)
            continue;
        if (code != 0 && ev[i].msg.code != code)
            continue;
        return (ssize_t)i;
    }
    return -1;
}

static void ipc_events_trace_sync_call(void **state)
{
    t_ctx *c = *state;
    struct capture cap = {0};
    struct echo_job j = {.ncalls = 1, .size = 10, .code = 0x5150};
    t_svc svc = {0};
    t_actor a = {0};
    liteipc_event *ev = calloc(T_EV_LOG_MAX, sizeof(*ev));
    size_t n;
    ssize_t wait_s, w1, r1, wait_c, w2, r2;

    assert_non_null(ev);
    run_pair(c, &cap, &j, &svc, &a);
    assert_int_equal(j.ok, 1);
    n = t_ev_collect(c->ev, -1, -1, ev, T_EV_LOG_MAX);
    w1 = find_event(ev, n, 0, LITEIPC_EV_MSG_WRITTEN, a.tid, svc.tid, MT_REQUEST, 0x5150);
    assert_true(w1 >= 0);
    assert_int_equal(ev[w1].src_pid, a.pid);
    assert_int_equal(ev[w1].dst_pid, svc.pid);
    assert_int_equal(ev[w1].msg.dataSz, 10);
    r1 = find_event(ev, n, (size_t)w1, LITEIPC_EV_MSG_READ, -1, svc.tid, MT_REQUEST, 0x5150);
    wait_c = find_event(ev, n, (size_t)w1, LITEIPC_EV_RECV_WAIT, -1, a.tid, -1, 0);
    w2 = find_event(ev, n, (size_t)w1, LITEIPC_EV_MSG_WRITTEN, svc.tid, a.tid, MT_REPLY, 0);
    assert_true(r1 > w1);
    assert_true(wait_c > w1); /* the caller parked after its request was queued */
    assert_true(w2 > r1);
    r2 = find_event(ev, n, (size_t)w2, LITEIPC_EV_MSG_READ, -1, a.tid, MT_REPLY, 0);
    assert_true(r2 > w2);
    assert_true(ev[r2].time_ns >= ev[w1].time_ns);
    /* the service was blocked in its receive loop when the request came (run_pair waits for
       that wait before releasing the client) */
    wait_s = find_event(ev, n, 0, LITEIPC_EV_RECV_WAIT, -1, svc.tid, -1, 0);
    assert_true(wait_s >= 0);
    assert_true(wait_s < w1);
    assert_int_equal(ev[wait_s].dst_pid, svc.pid);
    assert_int_equal(t_ev_count(c->ev, LITEIPC_EV_RECV_TIMEOUT, -1), 0);
    free(ev);
}

static void ipc_events_report_timeout(void **state)
{
    t_ctx *c = *state;
    struct world w;
    struct hold h = {0};
    struct echo_job j = {0};
    t_actor ha = {0}, ca = {0};
    liteipc_event to[8], wait[8];
    size_t n;

    run_unanswered_call(c, &w, &h, &ha, &j, &ca);
    assert_int_equal(j.fail_err, ETIME);
    n = t_ev_collect(c->ev, LITEIPC_EV_RECV_TIMEOUT, ca.tid, to, 8);
    assert_int_equal(n, 1);
    assert_int_equal(to[0].dst_tid, ca.tid);
    assert_int_equal(to[0].dst_pid, ca.pid);
    assert_int_equal(to[0].err, ETIME);
    n = t_ev_collect(c->ev, LITEIPC_EV_RECV_WAIT, ca.tid, wait, 8);
    assert_int_equal(n, 1); /* one wait: nothing restarted it */
    assert_true(to[0].time_ns >= wait[0].time_ns + (uint64_t)c->cfg.reply_timeout_ms * 1000000u -
                                     1000000u);
    assert_int_equal(t_ev_count(c->ev, LITEIPC_EV_RECV_TIMEOUT, -1), 1);
}

#define T(fn) cmocka_unit_test_setup_teardown(fn, t_setup, t_teardown)
#define TF(fn) cmocka_unit_test_setup_teardown(fn, t_setup_fast, t_teardown)

int main(void)
{
    const struct CMUnitTest tests[] = {
        T(ipc_sync_call_roundtrip_data_intact),
        T(ipc_messages_land_in_receiver_pool),
        T(ipc_request_sender_fields_stamped),
        T(ipc_reply_fields_come_from_replier),
        T(ipc_zero_length_message_has_null_data),
        T(ipc_request_kernel_fields_cannot_be_forged),
        T(ipc_oneway_send_queues_without_waiting),
        T(ipc_reply_to_oneway_refused_and_request_freed),
        T(ipc_failed_reply_gives_enoent),
        T(ipc_request_without_grant_eacces_then_add_access),
        T(ipc_gen_handle_grants_cms_access),
        T(ipc_gen_handle_before_task_info_grants_nothing),
        T(ipc_request_to_invalid_handle_eacces),
        T(ipc_obj_svc_in_reply_grants_access),
        TF(ipc_sync_call_times_out_etime),
        TF(ipc_late_reply_refused_etime),
        TF(ipc_call_to_self_times_out_etime),
        TF(ipc_reply_must_match_request),
        T(ipc_fifo_order_from_one_sender),
        T(ipc_many_clients_no_pool_leak),
        T(ipc_bad_input_does_not_disturb_other_pair),
        T(ipc_send_null_outmsg_einval),
        T(ipc_send_bad_type_einval),
        T(ipc_send_bad_sizes_einval),
        T(ipc_buff_free_validation),
        T(ipc_reply_without_request_einval),
        T(ipc_one_page_pool_limits_message_size),
        T(ipc_cms_size_limit_only_through_handle_zero),
        T(ipc_any_thread_of_receiving_process_may_reply),
        T(ipc_sync_call_drops_queued_requests),
        T(ipc_events_trace_sync_call),
        TF(ipc_events_report_timeout),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
