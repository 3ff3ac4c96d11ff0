/* SPDX-License-Identifier: Apache-2.0 */
/*
 * test_kernel_access_events.c - the events of the access model (issue 11 item 2): IPC_SET_CMS,
 * IPC_SET_IPC_THREAD, CMS_GEN_HANDLE, every grant (CMS_GEN_HANDLE, CMS_ADD_ACCESS, OBJ_SVC) and
 * every refused command with its errno and the task that tried, each with its fields. A scene
 * with the ServiceManager, a service and two clients checks the whole sequence, so a missing or
 * extra event fails it.
 */
#include "kfix.h"

#include <errno.h>
#include <string.h>

#define T(fn) cmocka_unit_test_setup_teardown(fn, t_setup, t_teardown)

/* The access-model events of f, in emission order. */
static unsigned access_events(t_kfix *f, const lk_event **out, unsigned max)
{
    unsigned n = 0;

    for (unsigned i = 0; i < f->nev && n < max; i++)
        if (f->ev[i].type >= LK_EV_SET_CMS)
            out[n++] = &f->ev[i];
    return n;
}

static void assert_access(const lk_event *ev, lk_event_type type, int src, int src_pid,
                          uint32_t cmd, int err)
{
    assert_int_equal(ev->type, type);
    assert_int_equal(ev->src_tid, src);
    assert_int_equal(ev->src_pid, src_pid);
    assert_int_equal(ev->cmd, cmd);
    assert_int_equal(ev->err, err);
}

static void assert_grant(const lk_event *ev, int by, int svc, int grantee, int32_t cms_cmd)
{
    assert_int_equal(ev->type, LK_EV_GRANT);
    assert_int_equal(ev->src_tid, by);
    assert_int_equal(ev->dst_tid, svc);
    assert_int_equal(ev->handle, svc);
    assert_int_equal(ev->grantee_pid, grantee);
    assert_int_equal(ev->cms_cmd, cms_cmd);
    assert_int_equal(ev->cmd, cms_cmd < 0 ? IPC_SEND_RECV_MSG : IPC_CMS_CMD);
    assert_int_equal(ev->err, 0);
}

static void set_cms_and_ipc_thread_events(void **state)
{
    t_kfix *f = *state;
    int pid, other_pid;
    int cms = t_must_cms_size(f, 256, &pid);
    int other = t_must_ready_task(f, 0, &other_pid);
    const lk_event *ev;

    assert_int_equal(t_ev_count(f, LK_EV_SET_CMS), 1);
    ev = t_ev_nth(f, LK_EV_SET_CMS, 0);
    assert_access(ev, LK_EV_SET_CMS, cms, pid, IPC_SET_CMS, 0);
    assert_int_equal(ev->dst_tid, -1);
    assert_int_equal(ev->handle, -1);
    assert_int_equal(ev->grantee_pid, -1);

    assert_int_equal(t_set_cms(f, other, 256), -EEXIST); /* Q1 */
    assert_int_equal(t_ev_count(f, LK_EV_SET_CMS), 1);
    assert_access(t_ev_nth(f, LK_EV_REFUSED, 0), LK_EV_REFUSED, other, other_pid, IPC_SET_CMS,
                  EEXIST);

    assert_int_equal(t_set_ipc_thread(f, other), other);
    assert_access(t_ev_nth(f, LK_EV_SET_IPC_THREAD, 0), LK_EV_SET_IPC_THREAD, other, other_pid,
                  IPC_SET_IPC_THREAD, 0);
    assert_int_equal(t_set_ipc_thread(f, other), -EINVAL); /* once per process (Q9) */
    assert_int_equal(t_ev_count(f, LK_EV_SET_IPC_THREAD), 1);
    assert_access(t_ev_nth(f, LK_EV_REFUSED, 1), LK_EV_REFUSED, other, other_pid,
                  IPC_SET_IPC_THREAD, EINVAL);
    assert_int_equal(t_ev_count(f, LK_EV_REFUSED), 2);
}

static void gen_handle_emits_the_handle_and_the_cms_grant(void **state)
{
    t_kfix *f = *state;
    int cms_pid, s_pid;
    int cms = t_must_cms_size(f, 256, &cms_pid);
    int s = t_must_ready_task(f, 0, &s_pid);
    uint32_t h = 0;
    const lk_event *ev;

    t_give_info(f, s);
    t_ev_clear(f);
    assert_int_equal(t_gen_handle(f, cms, (uint32_t)s, &h), 0);
    assert_int_equal(h, s);
    assert_int_equal(f->nev, 2);
    ev = &f->ev[0];
    assert_access(ev, LK_EV_GEN_HANDLE, cms, cms_pid, IPC_CMS_CMD, 0);
    assert_int_equal(ev->cms_cmd, CMS_GEN_HANDLE);
    assert_int_equal(ev->dst_tid, s);
    assert_int_equal(ev->dst_pid, s_pid);
    assert_int_equal(ev->handle, s);
    assert_grant(&f->ev[1], cms, s, cms_pid, CMS_GEN_HANDLE);
    assert_int_equal(f->ev[1].dst_pid, s_pid);

    /* The CMS's own handle: refused, yet the grant still runs (§3.4); no handle generated. */
    t_ev_clear(f);
    assert_int_equal(t_gen_handle(f, cms, (uint32_t)cms, &h), -EINVAL);
    assert_int_equal(t_ev_count(f, LK_EV_GEN_HANDLE), 0);
    assert_int_equal(t_ev_count(f, LK_EV_REFUSED), 1);
    ev = t_ev_nth(f, LK_EV_REFUSED, 0);
    assert_access(ev, LK_EV_REFUSED, cms, cms_pid, IPC_CMS_CMD, EINVAL);
    assert_int_equal(ev->cms_cmd, CMS_GEN_HANDLE);
}

static void gen_handle_without_task_info_grants_nothing(void **state)
{
    t_kfix *f = *state;
    int cms = t_must_cms(f);
    int s = t_must_ready_task(f, 0, NULL);
    uint32_t h = 0;

    t_ev_clear(f);
    assert_int_equal(t_gen_handle(f, cms, (uint32_t)s, &h), 0);
    assert_int_equal(t_ev_count(f, LK_EV_GEN_HANDLE), 1);
    assert_int_equal(t_ev_count(f, LK_EV_GRANT), 0); /* Q10: silently nothing */
}

static void add_access_grant_and_its_refusals(void **state)
{
    t_kfix *f = *state;
    int c, c_pid, s, s_pid;
    int cms = t_client_server(f, &c, &c_pid, &s, &s_pid);
    const lk_event *ev;

    assert_int_equal(t_ev_count(f, LK_EV_GRANT), 1);
    assert_grant(t_ev_nth(f, LK_EV_GRANT, 0), cms, s, c_pid, CMS_ADD_ACCESS);
    assert_int_equal(t_ev_nth(f, LK_EV_GRANT, 0)->src_pid, t_pid_of(f, cms));

    t_ev_clear(f);
    assert_int_equal(t_add_access(f, c, (uint32_t)c, (uint32_t)s), -EACCES); /* not the CMS */
    assert_int_equal(t_add_access(f, cms, 3, (uint32_t)s), -EINVAL);         /* not alive */
    assert_int_equal(f->nev, 2);
    assert_access(&f->ev[0], LK_EV_REFUSED, c, c_pid, IPC_CMS_CMD, EACCES);
    assert_int_equal(f->ev[0].cms_cmd, CMS_ADD_ACCESS);
    assert_access(&f->ev[1], LK_EV_REFUSED, cms, t_pid_of(f, cms), IPC_CMS_CMD, EINVAL);
    assert_int_equal(f->ev[1].cms_cmd, CMS_ADD_ACCESS);
    ev = &f->ev[1];
    assert_int_equal(ev->dst_tid, -1);
    assert_int_equal(ev->grantee_pid, -1);
}

static void obj_svc_grant_names_the_message(void **state)
{
    t_kfix *f = *state;
    int c, c_pid, s, s_pid;
    char data[T_HOST_OBJ];
    uint32_t off = 0;
    IpcMsg m;

    t_client_server(f, &c, &c_pid, &s, &s_pid);
    memset(data, 0, sizeof data);
    t_put_svc(data, 0, (uint32_t)INVAILD_ID, 1, 0); /* "me": c grants s's process access */
    t_msg(&m, MT_REQUEST, (uint32_t)s, 7, LITEIPC_FLAG_ONEWAY);
    t_msg_data(&m, data, sizeof data);
    t_msg_objs(&m, &off, 1);
    t_ev_clear(f);
    assert_int_equal(t_send(f, c, &m), 0);
    assert_int_equal(t_ev_count(f, LK_EV_GRANT), 1);
    assert_grant(t_ev_nth(f, LK_EV_GRANT, 0), c, c, s_pid, -1);
    assert_int_equal(t_ev_nth(f, LK_EV_GRANT, 0)->msg.code, 7);
    assert_int_equal(t_ev_nth(f, LK_EV_GRANT, 0)->msg.target.handle, s);
    assert_int_equal(t_must_recv_free(f, s), 7);
}

static void refused_sends_carry_the_header(void **state)
{
    t_kfix *f = *state;
    int c, c_pid, s, s_pid, x_pid;
    const lk_event *ev;
    int x;

    t_client_server(f, &c, &c_pid, &s, &s_pid);
    x = t_must_ready_task(f, 0, &x_pid); /* never granted */
    t_ev_clear(f);
    assert_int_equal(t_send_req(f, x, (uint32_t)s, 5, LITEIPC_FLAG_DEFAULT), -EACCES);
    assert_int_equal(f->nev, 1); /* before the destination check: no DROP_ON_WRITE */
    ev = &f->ev[0];
    assert_access(ev, LK_EV_REFUSED, x, x_pid, IPC_SEND_RECV_MSG, EACCES);
    assert_int_equal(ev->msg.code, 5);
    assert_int_equal(ev->msg.target.handle, s);
    assert_int_equal(ev->cms_cmd, -1);

    /* An unknown command, and a process without a pool (ENOMEM, §2.5 B). */
    int np_pid = t_must_proc(f);
    int np;

    t_must_open(f, np_pid);
    np = t_must_task(f, np_pid);
    t_ev_clear(f);
    assert_int_equal(t_ioctl(f, x, _IO(IPC_IOC_MAGIC, 42), 0, NULL), -EINVAL);
    assert_int_equal(t_set_ipc_thread(f, np), -ENOMEM);
    assert_int_equal(f->nev, 2);
    assert_access(&f->ev[0], LK_EV_REFUSED, x, x_pid, _IO(IPC_IOC_MAGIC, 42), EINVAL);
    assert_int_equal(f->ev[0].msg.code, 0);
    assert_access(&f->ev[1], LK_EV_REFUSED, np, np_pid, IPC_SET_IPC_THREAD, ENOMEM);
}

static void a_send_dropped_at_write_is_also_refused(void **state)
{
    t_kfix *f = *state;
    int c, c_pid, s, s_pid;
    char data[T_HOST_OBJ];
    uint32_t off = 0;
    IpcMsg m;

    t_client_server(f, &c, &c_pid, &s, &s_pid);
    memset(data, 0, sizeof data);
    t_put_type(data, 0, 99); /* no such object type: the write fails after its node was taken */
    t_msg(&m, MT_REQUEST, (uint32_t)s, 5, LITEIPC_FLAG_ONEWAY);
    t_msg_data(&m, data, sizeof data);
    t_msg_objs(&m, &off, 1);
    t_ev_clear(f);
    assert_int_equal(t_send(f, c, &m), -EINVAL);
    assert_int_equal(f->nev, 2); /* what happened to the message, then to the command */
    assert_int_equal(f->ev[0].type, LK_EV_DROP_ON_WRITE);
    assert_access(&f->ev[1], LK_EV_REFUSED, c, c_pid, IPC_SEND_RECV_MSG, EINVAL);
    assert_int_equal(f->ev[1].msg.code, 5);
}

/* The ServiceManager way of the demo: every step's event, in order, nothing more. */
static void the_whole_access_sequence(void **state)
{
    t_kfix *f = *state;
    const lk_event *ev[16];
    int sm_pid, s_pid, a_pid, b_pid;
    int sm = t_must_ready_task(f, 0, &sm_pid);
    int s = t_must_ready_task(f, 0, &s_pid);
    int a = t_must_ready_task(f, 0, &a_pid);
    int b = t_must_ready_task(f, 0, &b_pid);
    uint32_t h = 0;

    t_ev_clear(f);
    assert_int_equal(t_set_cms(f, sm, 256), 0);
    assert_int_equal(t_set_ipc_thread(f, sm), sm);
    t_give_info(f, s);
    assert_int_equal(t_gen_handle(f, sm, (uint32_t)s, &h), 0);
    assert_int_equal(t_add_access(f, sm, (uint32_t)a, h), 0);
    assert_int_equal(t_send_req(f, b, h, 1, LITEIPC_FLAG_ONEWAY), -EACCES);
    assert_int_equal(t_send_req(f, a, h, 1, LITEIPC_FLAG_ONEWAY), 0);
    assert_int_equal(t_must_recv_free(f, s), 1);

    assert_int_equal(access_events(f, ev, 16), 6);
    assert_access(ev[0], LK_EV_SET_CMS, sm, sm_pid, IPC_SET_CMS, 0);
    assert_access(ev[1], LK_EV_SET_IPC_THREAD, sm, sm_pid, IPC_SET_IPC_THREAD, 0);
    assert_access(ev[2], LK_EV_GEN_HANDLE, sm, sm_pid, IPC_CMS_CMD, 0);
    assert_grant(ev[3], sm, s, sm_pid, CMS_GEN_HANDLE);
    assert_grant(ev[4], sm, s, a_pid, CMS_ADD_ACCESS);
    assert_access(ev[5], LK_EV_REFUSED, b, b_pid, IPC_SEND_RECV_MSG, EACCES);
}

static void no_sink_no_events(void **state)
{
    t_kfix *f = *state;
    int c, c_pid, s, s_pid;

    lk_kernel_set_event_sink(f->k, NULL, NULL);
    t_client_server(f, &c, &c_pid, &s, &s_pid);
    assert_int_equal(t_add_access(f, c, (uint32_t)c, (uint32_t)s), -EACCES);
    assert_int_equal(f->nev, 0); /* nothing recorded: the sink is gone */
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        T(set_cms_and_ipc_thread_events),
        T(gen_handle_emits_the_handle_and_the_cms_grant),
        T(gen_handle_without_task_info_grants_nothing),
        T(add_access_grant_and_its_refusals),
        T(obj_svc_grant_names_the_message),
        T(refused_sends_carry_the_header),
        T(a_send_dropped_at_write_is_also_refused),
        T(the_whole_access_sequence),
        T(no_sink_no_events),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
