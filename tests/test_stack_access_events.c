/* SPDX-License-Identifier: Apache-2.0 */
/*
 * test_stack_access_events.c - the access model's events through the whole stack (issue 11
 * items 2 and 3): a ServiceManager, a service and a client in separate processes; the handle
 * generated, both grants and the client's EACCES arrive at a subscriber with their fields and
 * the names of the tasks and processes involved. Names come from the host thread when a task
 * attaches and from liteipc_set_task_name / liteipc_set_process_name.
 */
#include "sfix.h"

#include <pthread.h>
#include <stdint.h>
#include <string.h>

#define T(fn) cmocka_unit_test_setup_teardown(fn, t_setup, t_teardown)

/* The last logged event of type whose src is tid (zeroed, and a failure recorded, if none). */
static liteipc_event last_from(t_ctx *c, liteipc_event_type type, int tid)
{
    liteipc_event evs[64], none = {0};
    size_t i = t_ev_collect(c->ev, (int)type, tid, evs, 64);

    while (i > 0 && evs[i - 1].src_tid != tid)
        i--;
    T_CHECK(i > 0);
    return i > 0 ? evs[i - 1] : none;
}

/* The nth refused command of the calling task: IPC_SET_IPC_THREAD before any IPC_SET_CMS.
   Any thread. */
static liteipc_event refusal(t_ctx *c, int fd, int tid, unsigned nth)
{
    T_CHECK_ERR(t_set_ipc_thread(c->k, fd), EINVAL);
    T_CHECK_OK(t_ev_wait_src(c->ev, LITEIPC_EV_REFUSED, tid, nth, T_WAIT_MS));
    return last_from(c, LITEIPC_EV_REFUSED, tid);
}

struct named {
    t_ctx *c;
    int tid, pid;
};

static void *named_thread(void *arg)
{
    struct named *n = arg;
    liteipc_kernel *k = n->c->k;
    liteipc_event ev;
    int fd;

    T_CHECK_EQ(pthread_setname_np(pthread_self(), "first"), 0);
    fd = t_dev_setup(k, T_POOL, NULL); /* attaches: the task takes the thread's name */
    T_CHECK(fd >= 0);
    n->tid = liteipc_self_tid(k);
    n->pid = liteipc_self_pid(k);
    ev = refusal(n->c, fd, n->tid, 1);
    T_CHECK(strcmp(ev.src_task, "first") == 0);
    T_CHECK_EQ(ev.cmd, IPC_SET_IPC_THREAD);
    T_CHECK_EQ(ev.err, EINVAL);

    T_CHECK_EQ(liteipc_set_task_name(k, "second"), 0);
    T_CHECK(strcmp(refusal(n->c, fd, n->tid, 2).src_task, "second") == 0);
    T_CHECK_EQ(pthread_setname_np(pthread_self(), "third"), 0);
    T_CHECK_EQ(liteipc_set_task_name(k, NULL), 0); /* read the thread's name again */
    T_CHECK(strcmp(refusal(n->c, fd, n->tid, 3).src_task, "third") == 0);
    T_CHECK_EQ(liteipc_set_task_name(k, "tab\there"), 0);
    T_CHECK(strcmp(refusal(n->c, fd, n->tid, 4).src_task, "tab?here") == 0);

    T_CHECK_EQ(liteipc_set_task_name(k, "0123456789abcdef"), -ERANGE);
    T_CHECK_EQ(liteipc_set_process_name(k, NULL), -EINVAL);
    T_CHECK_EQ(liteipc_set_process_name(k, "0123456789abcdef"), -ERANGE);
    T_CHECK_EQ(liteipc_set_process_name(k, "proc-z"), 0);
    ev = refusal(n->c, fd, n->tid, 5);
    T_CHECK(strcmp(ev.src_prog, "proc-z") == 0);
    T_CHECK(strcmp(ev.src_task, "tab?here") == 0);
    liteipc_close(k, fd);
    return NULL;
}

static void names_of_tasks_and_processes(void **state)
{
    t_ctx *c = *state;
    struct named n = {.c = c};

    t_run_in_vproc(c->k, named_thread, &n);
    t_assert_threads_ok();
    assert_int_equal(liteipc_set_task_name(NULL, "x"), -EINVAL);
    assert_int_equal(liteipc_set_process_name(NULL, "x"), -EINVAL);
}

struct client {
    liteipc_kernel *k;
    uint32_t handle;
    int tid, pid;
};

/* Calls the service before it is granted (EACCES), asks the SM for access, calls again. */
static void *client_main(void *arg)
{
    struct client *cl = arg;
    int fd;

    T_CHECK_EQ(pthread_setname_np(pthread_self(), "client-y"), 0);
    fd = t_dev_setup(cl->k, T_POOL, NULL);
    T_CHECK(fd >= 0);
    T_CHECK_EQ(liteipc_set_process_name(cl->k, "proc-y"), 0);
    cl->tid = liteipc_self_tid(cl->k);
    cl->pid = liteipc_self_pid(cl->k);
    T_CHECK_ERR(t_send(cl->k, fd, cl->handle, 5, LITEIPC_FLAG_ONEWAY, "x", 1), EACCES);
    T_CHECK_OK(t_request_grant(cl->k, fd, cl->handle));
    T_CHECK_OK(t_send(cl->k, fd, cl->handle, 6, LITEIPC_FLAG_ONEWAY, "y", 1));
    liteipc_close(cl->k, fd);
    return NULL;
}

static void grants_and_refusal_reach_subscribers(void **state)
{
    t_ctx *c = *state;
    t_svc cms = {.cms_size = T_CMS_BIG};
    struct client cl = {.k = c->k};
    liteipc_event ev[16];
    IpcMsg *m = NULL;
    int fd, me, my_pid;

    t_svc_start(&cms, c->k);
    fd = t_dev_setup(c->k, T_POOL, NULL);
    assert_true(fd >= 0);
    assert_int_equal(liteipc_set_task_name(c->k, "svc-x"), 0);
    me = liteipc_self_tid(c->k);
    my_pid = liteipc_self_pid(c->k);
    assert_ok(t_prime_task(c->k, fd));
    assert_ok(t_request_register(c->k, fd)); /* CMS_GEN_HANDLE on us */
    cl.handle = (uint32_t)me;
    t_run_in_vproc(c->k, client_main, &cl);
    t_assert_threads_ok();
    assert_ok(t_recv(c->k, fd, &m)); /* the granted one-way */
    assert_int_equal(m->code, 6);
    assert_ok(t_free(c->k, fd, m));
    assert_ok(t_svc_quit(&cms, c->k, fd, true));
    t_svc_join(&cms);
    liteipc_close(c->k, fd);

    assert_int_equal(t_ev_collect(c->ev, LITEIPC_EV_SET_CMS, -1, ev, 16), 1);
    assert_int_equal(ev[0].src_tid, cms.tid);
    assert_int_equal(ev[0].src_pid, cms.pid);
    assert_int_equal(ev[0].cmd, IPC_SET_CMS);

    assert_int_equal(t_ev_collect(c->ev, LITEIPC_EV_GEN_HANDLE, -1, ev, 16), 1);
    assert_int_equal(ev[0].src_tid, cms.tid);
    assert_int_equal(ev[0].dst_tid, me);
    assert_int_equal(ev[0].dst_pid, my_pid);
    assert_int_equal(ev[0].handle, me);
    assert_int_equal(ev[0].cms_cmd, CMS_GEN_HANDLE);
    assert_string_equal(ev[0].dst_task, "svc-x");

    assert_int_equal(t_ev_collect(c->ev, LITEIPC_EV_GRANT, -1, ev, 16), 2);
    assert_int_equal(ev[0].cms_cmd, CMS_GEN_HANDLE);
    assert_int_equal(ev[0].grantee_pid, cms.pid);
    assert_int_equal(ev[1].cms_cmd, CMS_ADD_ACCESS);
    assert_int_equal(ev[1].cmd, IPC_CMS_CMD);
    assert_int_equal(ev[1].src_tid, cms.tid);
    assert_int_equal(ev[1].dst_tid, me);
    assert_int_equal(ev[1].handle, me);
    assert_int_equal(ev[1].grantee_pid, cl.pid);
    assert_string_equal(ev[1].grantee_prog, "proc-y");
    assert_string_equal(ev[1].dst_task, "svc-x");

    assert_int_equal(t_ev_collect(c->ev, LITEIPC_EV_REFUSED, cl.tid, ev, 16), 1);
    assert_int_equal(ev[0].src_tid, cl.tid);
    assert_int_equal(ev[0].src_pid, cl.pid);
    assert_int_equal(ev[0].err, EACCES);
    assert_int_equal(ev[0].cmd, IPC_SEND_RECV_MSG);
    assert_int_equal(ev[0].msg.code, 5);
    assert_int_equal(ev[0].msg.target.handle, me);
    assert_string_equal(ev[0].src_task, "client-y");
    assert_string_equal(ev[0].src_prog, "proc-y");
    assert_string_equal(liteipc_event_name(LITEIPC_EV_REFUSED), "refused");
    assert_string_equal(liteipc_event_name(LITEIPC_EV_GRANT), "grant");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        T(names_of_tasks_and_processes),
        T(grants_and_refusal_reach_subscribers),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
