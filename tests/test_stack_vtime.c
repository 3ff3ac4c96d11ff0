/* SPDX-License-Identifier: Apache-2.0 */
/*
 * test_stack_vtime.c - virtual time (liteipc_time_*): the kernel's clock moves only when the
 * test moves it, so the device's own 5 s reply timeout is tested without waiting 5 s.
 *
 * A ServiceManager (a t_svc in a virtual process) holds every HOLD request it receives: it frees
 * it and never answers, so its caller waits for the kernel's deadline. Time is moved only once
 * liteipc_time_run_until_idle says every thread of the virtual processes is blocked in the
 * kernel (or once the test saw the wait begin, for a caller whose turn comes later).
 */
#include "sfix.h"
#include "child.h"

#include <stdio.h>
#include <string.h>
#include <unistd.h>

#define S_NS 1000000000ll /* one second of virtual time */
#define CODE_HOLD 0x100   /* the service never answers (it frees the request) */
#define CODE_POKE 0x101   /* the service sends a one-way to the caller it holds */
#define CODE_KEEP 0x102   /* the service keeps the request, to answer on ANSWER */
#define CODE_ANSWER 0x103 /* the service replies to the request it keeps */

struct holder {
    /* The caller of the last HOLD. Atomic: the test reads it while the service lives, and the
       kernel's own ordering (shared memory mapped twice) is invisible to TSan. */
    _Atomic uint32_t held_tid;
    IpcMsg *kept;                     /* service thread only */
    _Atomic int reply_rc, reply_err;  /* of its reply to the kept request */
};

static int hold_handler(t_svc *s, IpcMsg *m)
{
    struct holder *h = s->user;

    if (m->code == CODE_HOLD) {
        h->held_tid = m->taskID;
        /* The service's process may now send to its caller (Q7 test): CMS_ADD_ACCESS. */
        T_CHECK_OK(t_add_access(s->k, s->fd, (uint32_t)s->tid, m->taskID));
        T_CHECK_OK(t_free(s->k, s->fd, m));
        return T_SVC_HANDLED;
    }
    if (m->code == CODE_KEEP) {
        h->kept = m;
        return T_SVC_HANDLED;
    }
    if (m->code == CODE_ANSWER && h->kept) {
        errno = 0;
        atomic_store(&h->reply_rc, t_reply(s->k, s->fd, h->kept, "r", 1));
        atomic_store(&h->reply_err, errno);
        h->kept = NULL; /* freed by the reply, even a refused one (Q13) */
        T_CHECK_OK(t_free(s->k, s->fd, m));
        return T_SVC_HANDLED;
    }
    if (m->code == CODE_POKE) {
        T_CHECK_OK(t_send(s->k, s->fd, h->held_tid, 0x55, LITEIPC_FLAG_ONEWAY, NULL, 0));
        T_CHECK_OK(t_free(s->k, s->fd, m));
        return T_SVC_HANDLED;
    }
    return T_SVC_DEFAULT;
}

struct call {
    int rc, err;
};

static void call_body(t_actor *a, uint32_t code)
{
    struct call *r = a->user;
    IpcMsg *reply = NULL;

    errno = 0;
    r->rc = t_call(a->k, a->fd, 0, code, "x", 1, &reply);
    r->err = errno;
    if (r->rc == 0)
        T_CHECK_OK(t_free(a->k, a->fd, reply));
}

static void hold_call_body(t_actor *a)
{
    call_body(a, CODE_HOLD);
}

static void keep_call_body(t_actor *a)
{
    call_body(a, CODE_KEEP);
}

static int setup_virtual(void **state)
{
    liteipc_config cfg;

    liteipc_config_init(&cfg); /* reply_timeout_ms: the device's 5000 */
    cfg.virtual_time = true;
    return t_setup_with(state, &cfg);
}

static void holder_start(t_svc *svc, struct holder *h, liteipc_kernel *k)
{
    *svc = (t_svc){.cms_size = T_CMS_BIG, .handler = hold_handler, .user = h};
    t_svc_start(svc, k);
}

/* Stop the service with a one-way QUIT from the test thread's own process. */
static void holder_stop(t_svc *svc, liteipc_kernel *k)
{
    int fd = t_dev_setup(k, T_POOL, NULL);

    assert_true(fd >= 0);
    assert_ok(t_svc_quit(svc, k, fd, true));
    t_svc_join(svc);
    assert_ok(liteipc_close(k, fd));
}

/* The time of the only event of type whose dst is tid. */
static uint64_t only_event_time(t_ctx *c, liteipc_event_type type, int tid)
{
    liteipc_event ev[4];
    size_t n = 0, got = t_ev_collect(c->ev, (int)type, tid, ev, 4);

    for (size_t i = 0; i < got; i++)
        if (ev[i].dst_tid == tid)
            ev[n++] = ev[i];
    if (n != 1)
        fail_msg("%zu %s events for task %d, expected 1", n, liteipc_event_name(type), tid);
    return ev[0].time_ns;
}

/*
 * The device's own 5 s reply timeout, in milliseconds of wall time. The wall-time bound is
 * loose (2.5 s, half the timeout) so that a slow machine cannot fail it, while a kernel that
 * waited for the host clock could not pass it: the call could not end before 5 s.
 */
static void vtime_device_timeout_takes_no_wall_time(void **state)
{
    t_ctx *c = *state;
    struct holder h = {0};
    t_svc svc;
    struct call r = {0};
    t_actor a = {.body = hold_call_body, .user = &r};
    uint64_t t0 = t_now_ms(), wall;

    assert_int_equal(liteipc_kernel_config(c->k)->reply_timeout_ms, 5000);
    holder_start(&svc, &h, c->k);
    t_actor_start(&a, c->k);
    t_actor_go(&a);
    assert_int_equal(liteipc_time_run_until_idle(c->k, T_WAIT_MS), 0);
    assert_int_equal(liteipc_time_now(c->k), 0); /* running until idle does not move time */
    assert_int_equal(atomic_load(&h.held_tid), a.tid); /* the service has the request */
    assert_int_equal(t_ev_count(c->ev, LITEIPC_EV_RECV_TIMEOUT, a.tid), 0);

    assert_int_equal(liteipc_time_advance_to_next(c->k), 5 * S_NS);
    t_actor_join(&a);
    wall = t_now_ms() - t0;
    assert_int_equal(r.rc, -1);
    assert_int_equal(r.err, ETIME);
    assert_int_equal(liteipc_time_now(c->k), 5 * S_NS);
    /* The events carry the virtual time: the wait began at 0 and ended at its deadline. */
    assert_int_equal(only_event_time(c, LITEIPC_EV_RECV_WAIT, a.tid), 0);
    assert_int_equal(only_event_time(c, LITEIPC_EV_RECV_TIMEOUT, a.tid), 5 * S_NS);
    holder_stop(&svc, c->k);
    assert_true(wall < 2500);
}

/* advance(N) fires every deadline it passes, in order, each at its own time, and has delivered
   the completions (and their events) when it returns; the clock ends at now + N. */
static void vtime_advance_fires_each_deadline_at_its_time(void **state)
{
    t_ctx *c = *state;
    struct holder h = {0};
    t_svc svc;
    struct call ra = {0}, rb = {0};
    t_actor a = {.body = hold_call_body, .user = &ra}, b = {.body = hold_call_body, .user = &rb};
    liteipc_event ev[4];

    holder_start(&svc, &h, c->k);
    t_actor_start(&a, c->k);
    t_actor_start(&b, c->k);
    t_actor_go(&a);
    /* b waits for its `go` outside the kernel, so the kernel is not idle: watch a's wait. */
    assert_ok(t_ev_wait(c->ev, LITEIPC_EV_RECV_WAIT, a.tid, 1, T_WAIT_MS));
    assert_int_equal(liteipc_time_advance(c->k, 2 * S_NS), 0);
    assert_int_equal(t_ev_count(c->ev, LITEIPC_EV_RECV_TIMEOUT, -1), 0);
    t_actor_go(&b);
    assert_int_equal(liteipc_time_run_until_idle(c->k, T_WAIT_MS), 0);
    assert_int_equal(only_event_time(c, LITEIPC_EV_RECV_WAIT, b.tid), 2 * S_NS);

    assert_int_equal(liteipc_time_advance(c->k, 10 * S_NS), 0);
    assert_int_equal(t_ev_collect(c->ev, LITEIPC_EV_RECV_TIMEOUT, -1, ev, 4), 2);
    assert_int_equal(ev[0].dst_tid, a.tid);
    assert_int_equal(ev[0].time_ns, 5 * S_NS);
    assert_int_equal(ev[1].dst_tid, b.tid);
    assert_int_equal(ev[1].time_ns, 7 * S_NS);
    assert_int_equal(liteipc_time_now(c->k), 12 * S_NS);
    /* The service waits in a plain receive, without a deadline: nothing is left to fire. */
    assert_int_equal(liteipc_time_advance_to_next(c->k), -ENOENT);
    assert_int_equal(liteipc_time_now(c->k), 12 * S_NS);
    t_actor_join(&a);
    t_actor_join(&b);
    assert_int_equal(ra.err, ETIME);
    assert_int_equal(rb.err, ETIME);
    holder_stop(&svc, c->k);
}

/* Q7: a message dropped by a synchronous wait restarts its 5 s, from the virtual time of the
   drop: the call that began at 0 and saw a drop at 3 s times out at 8 s. */
static void vtime_drop_restarts_the_deadline(void **state)
{
    t_ctx *c = *state;
    struct holder h = {0};
    t_svc svc;
    struct call r = {0};
    t_actor a = {.body = hold_call_body, .user = &r, .prime = true};
    int fd;

    holder_start(&svc, &h, c->k);
    t_actor_start(&a, c->k); /* primed: the service's grant to reach it takes effect (Q10) */
    t_actor_go(&a);
    assert_int_equal(liteipc_time_run_until_idle(c->k, T_WAIT_MS), 0);
    assert_int_equal(liteipc_time_advance(c->k, 3 * S_NS), 0);
    fd = t_dev_setup(c->k, T_POOL, NULL);
    assert_true(fd >= 0);
    assert_ok(t_send(c->k, fd, 0, CODE_POKE, LITEIPC_FLAG_ONEWAY, NULL, 0));
    assert_int_equal(liteipc_time_run_until_idle(c->k, T_WAIT_MS), 0);
    assert_int_equal(only_event_time(c, LITEIPC_EV_DROP_ON_READ, a.tid), 3 * S_NS);
    assert_int_equal(t_ev_count(c->ev, LITEIPC_EV_RECV_TIMEOUT, a.tid), 0);

    assert_int_equal(liteipc_time_advance_to_next(c->k), 5 * S_NS); /* not 2 s */
    t_actor_join(&a);
    assert_int_equal(r.err, ETIME);
    assert_int_equal(only_event_time(c, LITEIPC_EV_RECV_TIMEOUT, a.tid), 8 * S_NS);
    assert_ok(t_svc_quit(&svc, c->k, fd, true));
    t_svc_join(&svc);
    assert_ok(liteipc_close(c->k, fd));
}

/* Answer the request the service keeps, from the test thread's process (fd). */
static void answer_kept(t_ctx *c, int fd)
{
    assert_ok(t_send(c->k, fd, 0, CODE_ANSWER, LITEIPC_FLAG_ONEWAY, NULL, 0));
    assert_int_equal(liteipc_time_run_until_idle(c->k, T_WAIT_MS), 0);
}

/* The reply deadline (request timestamp + 5 s) is virtual too: a reply 4 s after the request
   is delivered, one 6 s after it is refused with ETIME. */
static void vtime_reply_deadline_follows_the_clock(void **state)
{
    t_ctx *c = *state;
    struct holder h = {0};
    t_svc svc;
    struct call ra = {0}, rb = {0};
    t_actor a = {.body = keep_call_body, .user = &ra}, b = {.body = keep_call_body, .user = &rb};
    int fd;

    holder_start(&svc, &h, c->k);
    fd = t_dev_setup(c->k, T_POOL, NULL);
    assert_true(fd >= 0);
    t_actor_start(&a, c->k);
    t_actor_go(&a);
    assert_int_equal(liteipc_time_run_until_idle(c->k, T_WAIT_MS), 0);
    assert_int_equal(liteipc_time_advance(c->k, 4 * S_NS), 0);
    answer_kept(c, fd);
    t_actor_join(&a);
    assert_int_equal(atomic_load(&h.reply_rc), 0);
    assert_int_equal(ra.rc, 0);

    t_actor_start(&b, c->k);
    t_actor_go(&b);
    assert_int_equal(liteipc_time_run_until_idle(c->k, T_WAIT_MS), 0);
    assert_int_equal(liteipc_time_advance(c->k, 6 * S_NS), 0);
    assert_int_equal(only_event_time(c, LITEIPC_EV_RECV_TIMEOUT, b.tid), 9 * S_NS);
    answer_kept(c, fd);
    t_actor_join(&b);
    assert_int_equal(rb.err, ETIME);
    assert_int_equal(atomic_load(&h.reply_rc), -1);
    assert_int_equal(atomic_load(&h.reply_err), ETIME);
    assert_ok(t_svc_quit(&svc, c->k, fd, true));
    t_svc_join(&svc);
    assert_ok(liteipc_close(c->k, fd));
}

/* ---- run until idle -------------------------------------------------------------------------- */

static void *latch_body(void *arg)
{
    return t_latch_wait(arg, NULL, T_WAIT_MS) == 0 ? NULL : (void *)1;
}

/* A thread of a virtual process that runs (here: waits outside the kernel) keeps the kernel
   from being idle; its end, with no word to the kernel, makes it idle. */
static void vtime_idle_waits_for_running_threads(void **state)
{
    t_ctx *c = *state;
    t_latch go;
    liteipc_vproc *vp;

    assert_int_equal(liteipc_time_run_until_idle(c->k, 0), 0); /* nothing runs: idle at once */
    t_latch_init(&go);
    vp = t_vproc_start(c->k, latch_body, &go);
    assert_int_equal(liteipc_time_run_until_idle(c->k, 0), -ETIMEDOUT); /* one look */
    /* The only wait of this file that must run out: 50 ms of the host's clock. */
    assert_int_equal(liteipc_time_run_until_idle(c->k, 50), -ETIMEDOUT);
    t_latch_set(&go, 1);
    assert_int_equal(liteipc_time_run_until_idle(c->k, T_WAIT_MS), 0);
    assert_null(t_vproc_finish(vp));
    t_latch_destroy(&go);
    assert_int_equal(liteipc_time_now(c->k), 0);
}

/* A kernel idle with a service blocked in a receive: a task that is not parked in the kernel
   (here: a second thread of the service's process that has not used the device) is waited for. */
static void vtime_idle_counts_added_threads(void **state)
{
    t_ctx *c = *state;
    struct holder h = {0};
    t_svc svc;
    t_latch go;

    holder_start(&svc, &h, c->k);
    assert_int_equal(liteipc_time_run_until_idle(c->k, T_WAIT_MS), 0);
    t_latch_init(&go);
    assert_int_equal(liteipc_vproc_add_thread(svc.vp, latch_body, &go), 0);
    assert_int_equal(liteipc_time_run_until_idle(c->k, 0), -ETIMEDOUT);
    t_latch_set(&go, 1);
    assert_int_equal(liteipc_time_run_until_idle(c->k, T_WAIT_MS), 0);
    holder_stop(&svc, c->k);
    t_latch_destroy(&go);
}

/* ---- errors ---------------------------------------------------------------------------------- */

static void vtime_host_clock_kernel_einval(void **state)
{
    t_ctx *c = *state; /* t_setup: the host's clock */

    assert_int_equal(liteipc_time_now(c->k), -EINVAL);
    assert_int_equal(liteipc_time_advance(c->k, 1), -EINVAL);
    assert_int_equal(liteipc_time_advance_to_next(c->k), -EINVAL);
    assert_int_equal(liteipc_time_run_until_idle(c->k, 0), -EINVAL);
    assert_int_equal(liteipc_time_now(NULL), -EINVAL);
    assert_int_equal(liteipc_time_advance(NULL, 1), -EINVAL);
    assert_int_equal(liteipc_time_advance_to_next(NULL), -EINVAL);
    assert_int_equal(liteipc_time_run_until_idle(NULL, 0), -EINVAL);
}

static void vtime_advance_overflow_and_no_deadline(void **state)
{
    t_ctx *c = *state;

    assert_int_equal(liteipc_time_advance_to_next(c->k), -ENOENT);
    assert_int_equal(liteipc_time_advance(c->k, UINT64_MAX), -EOVERFLOW);
    assert_int_equal(liteipc_time_advance(c->k, INT64_MAX - 10 * S_NS), 0);
    assert_int_equal(liteipc_time_advance(c->k, 20 * S_NS), -EOVERFLOW);
    assert_int_equal(liteipc_time_now(c->k), INT64_MAX - 10 * S_NS); /* did not move */
    assert_int_equal(liteipc_time_advance(c->k, 0), 0);
}

static void vtime_child_in_fork_eperm(void *arg)
{
    liteipc_kernel *k = arg;

    CHILD_CHECK(liteipc_time_now(k) == -EPERM, 1);
    CHILD_CHECK(liteipc_time_advance(k, 1) == -EPERM, 2);
    CHILD_CHECK(liteipc_time_run_until_idle(k, 0) == -EPERM, 3);
}

/* Only the host moves time: a fork child (a real process of this kernel) gets EPERM. */
static void vtime_fork_child_eperm(void **state)
{
    t_ctx *c = *state;

    assert_child_passed(wait_child(fork_child(vtime_child_in_fork_eperm, c->k)));
    assert_int_equal(liteipc_time_now(c->k), 0);
}

/* A kernel served by name cannot run in virtual time; an attached program cannot move time. */
static void vtime_served_kernel_eopnotsupp(void **state)
{
    liteipc_config cfg;
    liteipc_kernel *k = NULL, *att = NULL;
    char name[64];

    (void)state;
    snprintf(name, sizeof(name), "vtime-test-%d", (int)getpid());
    liteipc_config_init(&cfg);
    cfg.virtual_time = true;
    assert_int_equal(liteipc_kernel_serve(name, &cfg, &k), -EOPNOTSUPP);
    assert_null(k);
    assert_int_equal(liteipc_kernel_serve(name, NULL, &k), 0); /* the name was left free */
    assert_int_equal(liteipc_kernel_attach(name, &att), 0);
    assert_int_equal(liteipc_time_now(att), -EPERM);
    assert_int_equal(liteipc_time_run_until_idle(att, 0), -EPERM);
    assert_int_equal(liteipc_kernel_detach(att), 0);
    assert_int_equal(liteipc_kernel_stop(k), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(vtime_device_timeout_takes_no_wall_time, setup_virtual,
                                        t_teardown),
        cmocka_unit_test_setup_teardown(vtime_advance_fires_each_deadline_at_its_time,
                                        setup_virtual, t_teardown),
        cmocka_unit_test_setup_teardown(vtime_drop_restarts_the_deadline, setup_virtual,
                                        t_teardown),
        cmocka_unit_test_setup_teardown(vtime_reply_deadline_follows_the_clock, setup_virtual,
                                        t_teardown),
        cmocka_unit_test_setup_teardown(vtime_idle_waits_for_running_threads, setup_virtual,
                                        t_teardown),
        cmocka_unit_test_setup_teardown(vtime_idle_counts_added_threads, setup_virtual,
                                        t_teardown),
        cmocka_unit_test_setup_teardown(vtime_host_clock_kernel_einval, t_setup, t_teardown),
        cmocka_unit_test_setup_teardown(vtime_advance_overflow_and_no_deadline, setup_virtual,
                                        t_teardown),
        cmocka_unit_test_setup_teardown(vtime_fork_child_eperm, setup_virtual, t_teardown),
        cmocka_unit_test(vtime_served_kernel_eopnotsupp),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
