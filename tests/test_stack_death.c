/* SPDX-License-Identifier: Apache-2.0 */
/*
 * test_stack_death.c - task death, process death and kernel stop through the whole stack
 * (LITEIPC_REFERENCE §7.2-§7.5, Q1, Q6, Q9): death notices to the access holders' IPC
 * threads, callers of a dead service timing out, TID reuse without grants, the CMS record
 * outliving the CMS, and kernel stop releasing blocked callers with ESHUTDOWN.
 *
 * ERFKILL is returned only to a thread that is about to die, so users never see it: not tested
 * here (test_fork.c checks the RECV_KILLED event of a killed child).
 */
#include "ofix.h"
#include "sfix.h"

#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

static uint64_t now_ns(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* A ServiceManager in its own virtual process that is also its process's IPC thread and
   answers T_CODE_REGISTER with CMS_GEN_HANDLE on the caller. */
static void cms_up(t_svc *cms, liteipc_kernel *k, bool ipc_thread)
{
    cms->cms_size = T_CMS_BIG;
    cms->ipc_thread = ipc_thread;
    t_svc_start(cms, k);
}

/* Stop that CMS from a task of the host's default process (whose pool is mapped). */
static void cms_down(t_svc *cms, liteipc_kernel *k, int host_fd)
{
    T_CHECK_OK(t_svc_quit(cms, k, host_fd, true));
    t_svc_join(cms);
}

static void register_body(t_actor *a)
{
    T_CHECK_OK(t_request_register(a->k, a->fd));
}

static void assert_death_notice(const IpcMsg *m, const t_svc *cms, int dead_tid, int dead_pid)
{
    assert_int_equal(m->type, MT_DEATH_NOTIFY);
    assert_int_equal(m->target.handle, cms->tid); /* its own IPC-thread TID */
    assert_int_equal(m->target.token, dead_tid);
    assert_int_equal(m->target.cookie, 0);
    assert_int_equal(m->code, 0);
    assert_int_equal(m->flag, 0);
    assert_int_equal(m->dataSz, 0);
    assert_int_equal(m->spObjNum, 0);
    assert_true(m->timestamp != 0);
    assert_int_equal(m->taskID, dead_tid); /* Q15 fixed: the dead task and its process */
    assert_int_equal(m->processID, dead_pid);
}

/* ---- death notices -------------------------------------------------------------------------- */

static void death_host_thread_exit_notifies_access_holders(void **state)
{
    t_ctx *c = *state;
    t_svc cms = {0};
    t_actor a = {.body = register_body, .prime = true, .host_thread = true};
    long token = -1;
    int fd, got;

    cms_up(&cms, c->k, true);
    t_actor_start(&a, c->k); /* maps the host process's pool, receives its own message */
    t_actor_go(&a);
    t_actor_join(&a); /* the host thread has ended: its task dies */
    got = t_latch_wait(&cms.death, &token, T_WAIT_MS);
    fd = t_dev_open(c->k);
    T_CHECK(fd >= 0);
    cms_down(&cms, c->k, fd);
    liteipc_close(c->k, fd);
    t_assert_threads_ok();
    assert_int_equal(got, 0);
    assert_int_equal(token, a.tid);
    assert_int_equal(cms.deaths, 1);
    assert_death_notice(&cms.death_msg, &cms, a.tid, a.pid);
    assert_int_equal(t_ev_count_src(c->ev, LITEIPC_EV_TASK_DEATH, a.tid), 1);
}

static void death_vproc_end_notifies_cms(void **state)
{
    t_ctx *c = *state;
    t_svc cms = {0};
    t_actor a = {.body = register_body, .prime = true};
    long token = -1;
    int got;
    int fd = t_dev_setup(c->k, T_POOL, NULL);

    assert_true(fd >= 0);
    cms_up(&cms, c->k, true);
    t_actor_start(&a, c->k);
    t_actor_go(&a);
    t_actor_join(&a); /* its only thread returned: the process is gone */
    got = t_latch_wait(&cms.death, &token, T_WAIT_MS);
    cms_down(&cms, c->k, fd);
    liteipc_close(c->k, fd);
    t_assert_threads_ok();
    assert_int_equal(got, 0);
    assert_int_equal(token, a.tid);
    assert_death_notice(&cms.death_msg, &cms, a.tid, a.pid);
}

static void death_notice_lost_without_ipc_thread(void **state)
{
    t_ctx *c = *state;
    t_svc cms = {0};
    t_actor a = {.body = register_body, .prime = true};
    IpcMsg *r = NULL;
    int fd = t_dev_setup(c->k, T_POOL, NULL);

    assert_true(fd >= 0);
    cms_up(&cms, c->k, false); /* no IPC_SET_IPC_THREAD in the CMS process */
    t_actor_start(&a, c->k);
    t_actor_go(&a);
    t_actor_join(&a);
    T_CHECK_OK(t_ev_wait_src(c->ev, LITEIPC_EV_TASK_DEATH, a.tid, 1, T_WAIT_MS));
    /* a round trip through the CMS: a notice, had one been queued, would be ahead of it */
    T_CHECK_OK(t_call(c->k, fd, 0, T_CODE_ECHO, "x", 1, &r));
    if (r)
        T_CHECK_OK(t_free(c->k, fd, r));
    assert_false(t_latch_is_set(&cms.death)); /* before cms_down destroys the latch */
    cms_down(&cms, c->k, fd);
    liteipc_close(c->k, fd);
    t_assert_threads_ok();
    assert_int_equal(cms.deaths, 0);
}

/* A synchronous call made by its process's IPC thread gets the death notice as its answer
   when the service it waits on dies (Q6). */
static void receive_then_die_body(t_actor *a)
{
    IpcMsg *m = NULL;

    T_CHECK_OK(t_recv(a->k, a->fd, &m)); /* take the request, never answer it */
}

static void death_notice_answers_sync_call_of_ipc_thread(void **state)
{
    t_ctx *c = *state;
    t_actor s = {.body = receive_then_die_body, .prime = true};
    IpcMsg *r = NULL;
    uint32_t h = 0;
    int fd = t_dev_setup(c->k, T_POOL, NULL);
    int me = liteipc_self_tid(c->k);
    int rc, err;
    IpcMsg got;

    assert_true(fd >= 0);
    assert_ok(t_set_cms(c->k, fd, T_CMS_BIG));
    assert_int_equal(t_set_ipc_thread(c->k, fd), me);
    t_actor_start(&s, c->k);
    T_CHECK_OK(t_gen_handle(c->k, fd, (uint32_t)s.tid, &h)); /* grants the CMS process */
    t_actor_go(&s);
    errno = 0;
    rc = t_call(c->k, fd, (uint32_t)s.tid, 1, "?", 1, &r);
    err = errno;
    memset(&got, 0, sizeof(got));
    if (rc == 0) {
        got = *r;
        T_CHECK_OK(t_free(c->k, fd, r));
    }
    t_actor_join(&s);
    liteipc_close(c->k, fd);
    t_assert_threads_ok();
    if (rc != 0)
        fail_msg("call: errno %d (%s), expected the death notice", err, liteipc_errno_name(err));
    assert_int_equal(got.type, MT_DEATH_NOTIFY);
    assert_int_equal(got.target.handle, me);
    assert_int_equal(got.target.token, s.tid);
}

/* ---- callers of a dead service ---------------------------------------------------------------- */

struct call_result {
    uint32_t target;
    int rc, err;
    uint64_t ns;
};

static void one_call_body(t_actor *a)
{
    struct call_result *r = a->user;
    IpcMsg *m = NULL;
    uint64_t t0 = now_ns();

    errno = 0;
    r->rc = t_call(a->k, a->fd, r->target, 1, "call", 4, &m);
    r->err = errno;
    r->ns = now_ns() - t0;
    if (r->rc == 0)
        t_free(a->k, a->fd, m);
}

static void death_caller_of_dying_service_gets_etime(void **state)
{
    t_ctx *c = *state;
    t_actor s = {.body = receive_then_die_body, .prime = true};
    struct call_result res = {0};
    t_actor cl = {.body = one_call_body, .user = &res};
    int fd = t_dev_setup(c->k, T_POOL, NULL);

    assert_true(fd >= 0);
    assert_ok(t_set_cms(c->k, fd, T_CMS_BIG));
    t_actor_start(&s, c->k);
    t_actor_start(&cl, c->k);
    T_CHECK_OK(t_add_access(c->k, fd, (uint32_t)cl.tid, (uint32_t)s.tid));
    res.target = (uint32_t)s.tid;
    t_actor_go(&s);
    t_actor_go(&cl);
    t_actor_join(&s); /* it took the request and died without a reply */
    t_actor_join(&cl);
    liteipc_close(c->k, fd);
    t_assert_threads_ok();
    assert_int_equal(res.rc, -1);
    assert_int_equal(res.err, ETIME); /* no failed reply: the deadline ends the wait */
    assert_true(res.ns + 1000000u >= (uint64_t)c->cfg.reply_timeout_ms * 1000000u);
    assert_int_equal(t_ev_count(c->ev, LITEIPC_EV_MSG_READ, s.tid), 2); /* prime + request */
    assert_int_equal(t_ev_count_src(c->ev, LITEIPC_EV_TASK_DEATH, s.tid), 1);
}

struct die_on_signal {
    t_latch die;
};

static void wait_then_die_body(t_actor *a)
{
    struct die_on_signal *d = a->user;

    if (t_latch_wait(&d->die, NULL, T_WAIT_MS) != 0)
        t_fail_record(__FILE__, __LINE__, "never told to die");
}

static void death_queued_request_dropped_when_service_dies(void **state)
{
    t_ctx *c = *state;
    struct die_on_signal d;
    t_actor s = {.body = wait_then_die_body, .user = &d, .prime = true};
    struct call_result res = {0};
    t_actor cl = {.body = one_call_body, .user = &res};
    int fd = t_dev_setup(c->k, T_POOL, NULL);

    assert_true(fd >= 0);
    assert_ok(t_set_cms(c->k, fd, T_CMS_BIG));
    t_latch_init(&d.die);
    t_actor_start(&s, c->k);
    t_actor_go(&s);
    t_actor_start(&cl, c->k);
    T_CHECK_OK(t_add_access(c->k, fd, (uint32_t)cl.tid, (uint32_t)s.tid));
    res.target = (uint32_t)s.tid;
    t_actor_go(&cl);
    /* the client is parked and its request sits in the service's queue */
    T_CHECK_OK(t_ev_wait(c->ev, LITEIPC_EV_RECV_WAIT, cl.tid, 1, T_WAIT_MS));
    t_latch_set(&d.die, 1);
    t_actor_join(&s);
    t_actor_join(&cl);
    liteipc_close(c->k, fd);
    t_latch_destroy(&d.die);
    t_assert_threads_ok();
    assert_int_equal(res.rc, -1);
    assert_int_equal(res.err, ETIME);
    assert_int_equal(t_ev_count(c->ev, LITEIPC_EV_MSG_READ, s.tid), 1); /* only its priming */
    assert_int_equal(t_ev_count(c->ev, LITEIPC_EV_MSG_WRITTEN, s.tid), 2);
    assert_int_equal(t_ev_count_src(c->ev, LITEIPC_EV_TASK_DEATH, s.tid), 1);
}

/* ---- what survives a death --------------------------------------------------------------------- */

static void death_tid_reused_without_grants(void **state)
{
    t_ctx *c = *state;
    t_svc svc = {0};
    t_actor n = {.prime = true};
    IpcMsg *r = NULL;
    uint32_t h = 0;
    int fd = t_dev_setup(c->k, T_POOL, NULL);
    int rc_old, rc_new, err_new;

    assert_true(fd >= 0);
    assert_ok(t_set_cms(c->k, fd, T_CMS_BIG));
    t_svc_start(&svc, c->k);
    T_CHECK_OK(t_gen_handle(c->k, fd, (uint32_t)svc.tid, &h));
    rc_old = t_call(c->k, fd, (uint32_t)svc.tid, T_CODE_ECHO, "a", 1, &r);
    if (rc_old == 0)
        T_CHECK_OK(t_free(c->k, fd, r));
    T_CHECK_OK(t_svc_quit(&svc, c->k, fd, false));
    t_svc_join(&svc); /* its task and process are gone */
    t_actor_start(&n, c->k); /* a new task in a new process: the freed TID comes back first */
    errno = 0;
    rc_new = t_send(c->k, fd, (uint32_t)n.tid, 1, LITEIPC_FLAG_ONEWAY, NULL, 0);
    err_new = errno;
    t_actor_join(&n);
    liteipc_close(c->k, fd);
    t_assert_threads_ok();
    assert_int_equal(rc_old, 0);
    assert_int_equal(n.tid, svc.tid); /* LIFO reuse (§1.1) */
    assert_int_equal(rc_new, -1);     /* the old grant died with the old task */
    assert_int_equal(err_new, EACCES);
}

static void death_cms_record_survives_cms_death(void **state)
{
    t_ctx *c = *state;
    t_svc cms = {0};
    CmsCmdContent cc = {.cmd = CMS_REMOVE_HANDLE, .serviceHandle = 1};
    int fd = t_dev_setup(c->k, T_POOL, NULL); /* attach before the CMS: keep our own TID */

    assert_true(fd >= 0);
    assert_true(liteipc_self_tid(c->k) > 0);
    cms_up(&cms, c->k, false);
    cms_down(&cms, c->k, fd);
    t_assert_threads_ok();
    assert_errno(t_set_cms(c->k, fd, 256), EEXIST); /* Q1: never cleared */
    assert_errno(t_send(c->k, fd, 0, 1, LITEIPC_FLAG_ONEWAY, NULL, 0), EINVAL); /* not alive */
    assert_errno(liteipc_ioctl(c->k, fd, IPC_CMS_CMD, &cc), EACCES);
    assert_ok(liteipc_close(c->k, fd));
}

struct heir {
    int cms_cmd_rc, cms_cmd_err;
    int recv_rc;
    IpcMsg got;
    t_latch sent;
};

static void heir_body(t_actor *a)
{
    struct heir *h = a->user;
    CmsCmdContent cc = {.cmd = CMS_REMOVE_HANDLE, .serviceHandle = 1};
    IpcMsg *m = NULL;

    errno = 0;
    h->cms_cmd_rc = liteipc_ioctl(a->k, a->fd, IPC_CMS_CMD, &cc);
    h->cms_cmd_err = errno;
    if (t_latch_wait(&h->sent, NULL, T_WAIT_MS) != 0)
        return;
    h->recv_rc = t_recv(a->k, a->fd, &m);
    if (h->recv_rc == 0) {
        h->got = *m;
        T_CHECK_OK(t_free(a->k, a->fd, m));
    }
}

static void death_cms_tid_reuse_inherits_handle_zero(void **state)
{
    t_ctx *c = *state;
    t_svc cms = {0};
    struct heir h = {0};
    t_actor n = {.body = heir_body, .user = &h};
    int fd = t_dev_setup(c->k, T_POOL, NULL);
    int rc_send;

    assert_true(fd >= 0);
    assert_true(liteipc_self_tid(c->k) > 0);
    t_latch_init(&h.sent);
    cms_up(&cms, c->k, false);
    cms_down(&cms, c->k, fd);
    t_actor_start(&n, c->k); /* gets the dead CMS's TID */
    t_actor_go(&n);
    rc_send = t_send(c->k, fd, 0, 0x0c, LITEIPC_FLAG_ONEWAY, NULL, 0); /* to "the CMS" */
    t_latch_set(&h.sent, 1);
    t_actor_join(&n);
    t_latch_destroy(&h.sent);
    liteipc_close(c->k, fd);
    t_assert_threads_ok();
    assert_int_equal(n.tid, cms.tid);
    assert_int_equal(h.cms_cmd_rc, 0); /* its process now passes the CMS check (Q1) */
    assert_int_equal(rc_send, 0);
    assert_int_equal(h.recv_rc, 0);
    assert_int_equal(h.got.code, 0x0c); /* handle 0 reaches the new owner of the TID */
}

/*
 * §7.5 as a whole through the stack (issue 10): the CMS's virtual process ends; only the process
 * granted handle 0 gets the death notice (with the CMS's real TID); handle 0 gives EINVAL while
 * the TID is unused; IPC_SET_CMS stays EEXIST; the next task to get the TID receives what is
 * sent to handle 0 and passes the CMS check.
 */
struct cms_watch {
    bool granted;
    int ipc_rc, grant_rc, recv_rc;
    IpcMsg got;
    t_latch armed, noticed, done;
};

static void cms_watch_body(t_actor *a)
{
    struct cms_watch *w = a->user;
    IpcMsg *m = NULL;

    w->ipc_rc = t_set_ipc_thread(a->k, a->fd);
    w->grant_rc = w->granted ? t_request_grant(a->k, a->fd, 0) : 0;
    t_latch_set(&w->armed, 1);
    if (w->granted) {
        w->recv_rc = t_recv(a->k, a->fd, &m);
        if (w->recv_rc == 0) {
            w->got = *m;
            T_CHECK_OK(t_free(a->k, a->fd, m));
        }
        t_latch_set(&w->noticed, 1);
    }
    /* stay alive (holding our TIDs) until the heir has taken the CMS's */
    T_CHECK_EQ(t_latch_wait(&w->done, NULL, T_WAIT_MS), 0);
}

static void cms_watch_start(struct cms_watch *w, t_actor *a, liteipc_kernel *k, bool granted)
{
    w->granted = granted;
    t_latch_init(&w->armed);
    t_latch_init(&w->noticed);
    t_latch_init(&w->done);
    *a = (t_actor){.body = cms_watch_body, .user = w, .prime = true};
    t_actor_start(a, k);
    t_actor_go(a);
    assert_int_equal(t_latch_wait(&w->armed, NULL, T_WAIT_MS), 0);
}

static void cms_watch_end(struct cms_watch *w, t_actor *a)
{
    t_latch_set(&w->done, 1);
    t_actor_join(a);
    t_latch_destroy(&w->armed);
    t_latch_destroy(&w->noticed);
    t_latch_destroy(&w->done);
}

static void death_cms_as_reference_7_5(void **state)
{
    t_ctx *c = *state;
    t_svc cms = {0};
    struct cms_watch g = {0}, n = {0};
    struct heir h = {0};
    t_actor ga, na, heir = {.body = heir_body, .user = &h};
    int fd = t_dev_setup(c->k, T_POOL, NULL), rc_send;
    unsigned n_written;

    assert_true(fd >= 0);
    assert_true(liteipc_self_tid(c->k) > 0);
    cms_up(&cms, c->k, false);
    cms_watch_start(&g, &ga, c->k, true);
    cms_watch_start(&n, &na, c->k, false);
    assert_int_equal(g.ipc_rc, ga.tid);
    assert_int_equal(g.grant_rc, 0);
    assert_int_equal(n.ipc_rc, na.tid);
    n_written = t_ev_count(c->ev, LITEIPC_EV_MSG_WRITTEN, na.tid); /* its priming message */

    cms_down(&cms, c->k, fd);
    assert_int_equal(t_latch_wait(&g.noticed, NULL, T_WAIT_MS), 0);
    assert_int_equal(g.recv_rc, 0);
    assert_int_equal(g.got.type, MT_DEATH_NOTIFY);
    assert_int_equal(g.got.target.token, cms.tid); /* the real TID, not 0 */
    /* written in the same step as g's: none for the process not granted handle 0 */
    assert_int_equal(t_ev_count(c->ev, LITEIPC_EV_MSG_WRITTEN, na.tid), n_written);
    assert_errno(t_send(c->k, fd, 0, 1, LITEIPC_FLAG_ONEWAY, NULL, 0), EINVAL); /* TID unused */
    assert_errno(t_set_cms(c->k, fd, 256), EEXIST);

    t_latch_init(&h.sent);
    t_actor_start(&heir, c->k); /* the next TID handed out is the CMS's */
    t_actor_go(&heir);
    rc_send = t_send(c->k, fd, 0, 0x0d, LITEIPC_FLAG_ONEWAY, NULL, 0);
    t_latch_set(&h.sent, 1);
    t_actor_join(&heir);
    t_latch_destroy(&h.sent);
    cms_watch_end(&g, &ga);
    cms_watch_end(&n, &na);
    assert_errno(t_set_cms(c->k, fd, 256), EEXIST);
    assert_ok(liteipc_close(c->k, fd));
    t_assert_threads_ok();
    assert_int_equal(heir.tid, cms.tid);
    assert_int_equal(h.cms_cmd_rc, 0);
    assert_int_equal(rc_send, 0);
    assert_int_equal(h.recv_rc, 0);
    assert_int_equal(h.got.code, 0x0d);
}

/* ---- kernel stop ------------------------------------------------------------------------------- */

/*
 * A process of this host dies with the kernel as on the device (§7.2): an OBJ_FD queued to it
 * and never received is rolled back, so the descriptor installed for it in this host is closed
 * (found by fuzz_device: it stayed open after liteipc_kernel_stop).
 */
static void fd_to_cms_body(t_actor *a)
{
    omsg *o = calloc(1, sizeof(*o));
    int *sock = a->user;

    T_CHECK(o != NULL);
    if (!o)
        return;
    om_init(o, MT_REQUEST, 0, 1, LITEIPC_FLAG_ONEWAY, HOST_OBJ);
    om_put(o, 0, o_fd(*sock));
    T_CHECK_OK(om_send(a->k, a->fd, o));
    free(o);
}

static void death_kernel_stop_closes_queued_obj_fd(void **state)
{
    t_ctx *c = *state;
    int sv[2], fd = t_dev_setup(c->k, T_POOL, NULL);
    t_actor sender = {.body = fd_to_cms_body, .user = &sv[0]};

    assert_true(fd >= 0);
    assert_int_equal(t_set_cms(c->k, fd, T_CMS_BIG), 0);
    assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
    t_actor_start(&sender, c->k);
    t_actor_go(&sender);
    t_actor_join(&sender);
    t_assert_threads_ok();
    assert_int_equal(close(sv[0]), 0); /* the copy installed for the CMS is the last one */
    assert_int_equal(send(sv[1], "x", 1, MSG_NOSIGNAL), 1);
    assert_ok(liteipc_close(c->k, fd));
    assert_int_equal(t_kernel_stop_now(c), 0);
    assert_int_equal(send(sv[1], "x", 1, MSG_NOSIGNAL), -1);
    assert_int_equal(errno, EPIPE);
    close(sv[1]);
}


struct stopped {
    liteipc_kernel *k;
    int fd;
    uint32_t target; /* for a call; 0 with call == false: plain RECV */
    bool call;
    t_latch ready;
    int tid, rc, err;
    uint64_t ns;
};

/* A host thread that blocks, then must not touch the kernel again (it is freed by the stop). */
static void *blocked_host_thread(void *arg)
{
    struct stopped *s = arg;
    IpcMsg *m = NULL;
    uint64_t t0;

    s->tid = liteipc_self_tid(s->k);
    t_latch_set(&s->ready, s->tid);
    t0 = now_ns();
    errno = 0;
    if (s->call)
        s->rc = t_call(s->k, s->fd, s->target, 1, "w", 1, &m);
    else
        s->rc = t_recv(s->k, s->fd, &m);
    s->err = errno;
    s->ns = now_ns() - t0;
    return NULL;
}

static void run_blocked_then_stop(t_ctx *c, struct stopped *s)
{
    pthread_t th;
    int fd = t_dev_setup(c->k, T_POOL, NULL);

    assert_true(fd >= 0);
    assert_ok(t_set_cms(c->k, fd, T_CMS_BIG));
    s->k = c->k;
    s->fd = fd; /* shared by the host process's threads */
    t_latch_init(&s->ready);
    th = t_thread_start(blocked_host_thread, s);
    assert_ok(t_latch_wait(&s->ready, NULL, T_WAIT_MS));
    assert_ok(t_ev_wait(c->ev, LITEIPC_EV_RECV_WAIT, s->tid, 1, T_WAIT_MS));
    assert_ok(t_kernel_stop_now(c));
    t_thread_finish(th);
    t_latch_destroy(&s->ready);
}

static void death_kernel_stop_releases_plain_recv(void **state)
{
    struct stopped s = {.call = false};

    run_blocked_then_stop(*state, &s);
    assert_int_equal(s.rc, -1);
    assert_int_equal(s.err, ESHUTDOWN);
}

static void death_kernel_stop_releases_sync_call(void **state)
{
    struct stopped s = {.call = true, .target = 0}; /* the CMS (this thread) never answers */

    run_blocked_then_stop(*state, &s);
    assert_int_equal(s.rc, -1);
    assert_int_equal(s.err, ESHUTDOWN);
    assert_true(s.ns < 4000000000u); /* well before its 5 s deadline */
}

static void recv_in_vproc_body(t_actor *a)
{
    IpcMsg *m = NULL;
    int *res = a->user;

    errno = 0;
    res[0] = t_recv(a->k, a->fd, &m);
    res[1] = errno;
}

static void death_kernel_stop_releases_vproc_recv(void **state)
{
    t_ctx *c = *state;
    int res[2] = {0, 0};
    t_actor a = {.body = recv_in_vproc_body, .user = res};
    int fd = t_dev_setup(c->k, T_POOL, NULL);

    assert_true(fd >= 0);
    assert_ok(t_set_cms(c->k, fd, T_CMS_BIG));
    t_actor_start(&a, c->k);
    t_actor_go(&a);
    assert_ok(t_ev_wait(c->ev, LITEIPC_EV_RECV_WAIT, a.tid, 1, T_WAIT_MS));
    assert_ok(t_kernel_stop_now(c));
    t_actor_join(&a); /* a virtual process may be joined after the stop */
    t_assert_threads_ok();
    assert_int_equal(res[0], -1);
    assert_int_equal(res[1], ESHUTDOWN);
}

#define T(fn) cmocka_unit_test_setup_teardown(fn, t_setup, t_teardown)
#define TF(fn) cmocka_unit_test_setup_teardown(fn, t_setup_fast, t_teardown)

int main(void)
{
    const struct CMUnitTest tests[] = {
        T(death_host_thread_exit_notifies_access_holders),
        T(death_vproc_end_notifies_cms),
        T(death_notice_lost_without_ipc_thread),
        T(death_notice_answers_sync_call_of_ipc_thread),
        TF(death_caller_of_dying_service_gets_etime),
        TF(death_queued_request_dropped_when_service_dies),
        T(death_tid_reused_without_grants),
        T(death_cms_record_survives_cms_death),
        T(death_cms_tid_reuse_inherits_handle_zero),
        T(death_cms_as_reference_7_5),
        T(death_kernel_stop_releases_vproc_recv),
        T(death_kernel_stop_closes_queued_obj_fd),
        /* last: a host thread that ends while the kernel stops (see the report) */
        T(death_kernel_stop_releases_sync_call),
        T(death_kernel_stop_releases_plain_recv),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
