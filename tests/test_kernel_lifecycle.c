/* SPDX-License-Identifier: Apache-2.0 */
/*
 * test_kernel_lifecycle.c - tasks and processes over time (LITEIPC_REFERENCE §1.1, §1.4, §1.5,
 * §7): TID/PID allocation (LIFO/FIFO), lazy IpcTaskInfo (Q10), the access model, task death and
 * its death notices (Q15 fixed: the sender is the dead task), process destruction, callers of a
 * dead service, death of the CMS (Q1), fork, exec (Q17 fixed), Q9, Q18, ERFKILL at process exit,
 * and the events emitted through lk_kernel_set_event_sink for each event type.
 */
#include "kfix.h"

#include <errno.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#define T(fn) cmocka_unit_test_setup_teardown(fn, t_setup, t_teardown)

static bool access_bit(t_kfix *f, int tid, int pid)
{
    return (t_tview(f, tid).access_map >> pid) & 1u;
}

/* A client process A with IPC thread *a, granted access to service s by the CMS. */
static int notified_client(t_kfix *f, int cms, int s, int *a)
{
    int a_pid;
    *a = t_must_ready_task(f, 0, &a_pid);
    assert_int_equal(t_set_ipc_thread(f, *a), *a);
    assert_int_equal(t_add_access(f, cms, (uint32_t)*a, (uint32_t)s), 0);
    return a_pid;
}

static bool ev_names(const lk_event *ev, int tid)
{
    return ev->src_tid == tid || ev->dst_tid == tid;
}

/* A one-way request (code 1) from task `from` to handle `to`, carrying fd as its OBJ_FD. */
static void send_fd_oneway(t_kfix *f, int from, int to, int fd)
{
    char data[T_HOST_OBJ];
    uint32_t off = 0;
    IpcMsg m;

    memset(data, 0, sizeof data);
    t_put_fd(data, 0, fd);
    t_msg(&m, MT_REQUEST, (uint32_t)to, 1, LITEIPC_FLAG_ONEWAY);
    t_msg_data(&m, data, sizeof data);
    t_msg_objs(&m, &off, 1);
    assert_int_equal(t_send(f, from, &m), 0);
}

/* ---- §1.1 allocation ----------------------------------------------------------------------- */

static void lifecycle_tids_handed_out_lowest_first(void **state)
{
    t_kfix *f = *state;
    int p1 = t_must_proc(f), p2 = t_must_proc(f);
    assert_int_equal(lk_task_create(f->k, p1), LK_FIRST_USER_TID);
    assert_int_equal(lk_task_create(f->k, p2), LK_FIRST_USER_TID + 1);
    assert_int_equal(lk_task_create(f->k, p1), LK_FIRST_USER_TID + 2);
    assert_int_equal(lk_task_pid(f->k, LK_FIRST_USER_TID + 1), p2);
}

static void lifecycle_freed_tid_reused_first(void **state)
{
    t_kfix *f = *state;
    int p = t_must_proc(f);
    int a = t_must_task(f, p), b = t_must_task(f, p), c = t_must_task(f, p);
    assert_int_equal(lk_task_exit(f->k, b, f->now), 0);
    assert_int_equal(lk_task_exit(f->k, a, f->now), 0);
    int q = t_must_proc(f);
    assert_int_equal(lk_task_create(f->k, q), a);
    assert_int_equal(lk_task_create(f->k, p), b);
    assert_int_equal(lk_task_create(f->k, p), c + 1);
    assert_int_equal(lk_task_pid(f->k, a), q);
}

static void lifecycle_pids_handed_out_from_first_user_pid(void **state)
{
    t_kfix *f = *state;
    assert_int_equal(lk_proc_create(f->k, 0, 0), LK_FIRST_USER_PID);
    assert_int_equal(lk_proc_create(f->k, 0, 0), LK_FIRST_USER_PID + 1);
    assert_int_equal(lk_proc_create(f->k, 0, 0), LK_FIRST_USER_PID + 2);
}

static void lifecycle_freed_pid_reused_last(void **state)
{
    t_kfix *f = *state;
    lk_config cfg;
    t_config(&cfg);
    cfg.process_limit = LK_FIRST_USER_PID + 5; /* user PIDs 3..7 */
    t_kfix_restart(f, &cfg, true);
    int p0 = lk_proc_create(f->k, 0, 0);
    assert_int_equal(p0, LK_FIRST_USER_PID);
    assert_int_equal(lk_proc_exit(f->k, p0, f->now), 0);
    for (int i = 1; i < 5; i++)
        assert_int_equal(lk_proc_create(f->k, 0, 0), LK_FIRST_USER_PID + i);
    assert_int_equal(lk_proc_create(f->k, 0, 0), p0);
    assert_int_equal(lk_proc_create(f->k, 0, 0), -EAGAIN);
    assert_int_equal(lk_proc_exit(f->k, LK_FIRST_USER_PID + 2, f->now), 0);
    assert_int_equal(lk_proc_exit(f->k, LK_FIRST_USER_PID + 1, f->now), 0);
    assert_int_equal(lk_proc_create(f->k, 0, 0), LK_FIRST_USER_PID + 2);
    assert_int_equal(lk_proc_create(f->k, 0, 0), LK_FIRST_USER_PID + 1);
}

static void lifecycle_task_table_full_eagain(void **state)
{
    t_kfix *f = *state;
    lk_config cfg;
    t_config(&cfg);
    cfg.task_limit = LK_FIRST_USER_TID + 2;
    t_kfix_restart(f, &cfg, true);
    int p = t_must_proc(f);
    assert_int_equal(lk_task_create(f->k, p), LK_FIRST_USER_TID);
    assert_int_equal(lk_task_create(f->k, p), LK_FIRST_USER_TID + 1);
    assert_int_equal(lk_task_create(f->k, p), -EAGAIN);
    assert_int_equal(lk_task_exit(f->k, LK_FIRST_USER_TID, f->now), 0);
    assert_int_equal(lk_task_create(f->k, p), LK_FIRST_USER_TID);
}

static void lifecycle_unknown_process_or_task_esrch(void **state)
{
    t_kfix *f = *state;
    assert_int_equal(lk_task_create(f->k, 50), -ESRCH);
    int p = t_must_proc(f);
    int t = t_must_task(f, p);
    assert_int_equal(lk_task_exit(f->k, t, f->now), 0);
    assert_int_equal(lk_task_exit(f->k, t, f->now), -ESRCH);
    assert_int_equal(lk_task_pid(f->k, t), -ESRCH);
    assert_int_equal(lk_proc_exit(f->k, p, f->now), 0);
    assert_int_equal(lk_task_create(f->k, p), -ESRCH);
    assert_int_equal(lk_proc_exit(f->k, p, f->now), -ESRCH);
}

/* ---- §1.4 lazy IpcTaskInfo, §1.5 access ---------------------------------------------------- */

static void lifecycle_task_info_not_created_by_cms_commands(void **state)
{
    t_kfix *f = *state;
    int cms = t_must_cms(f);
    int s = t_must_ready_task(f, 0, NULL);
    int c = t_must_ready_task(f, 0, NULL);
    assert_int_equal(t_gen_handle(f, cms, (uint32_t)s, NULL), 0);
    assert_int_equal(t_add_access(f, cms, (uint32_t)c, (uint32_t)s), -EINVAL);
    assert_int_equal(t_set_ipc_thread(f, s), s);
    IpcVersion v;
    assert_int_equal(t_version(f, s, &v), 0);
    assert_false(t_tview(f, s).has_info);
}

static void lifecycle_task_info_created_by_receive(void **state)
{
    t_kfix *f = *state;
    t_must_cms(f);
    int s = t_must_ready_task(f, 0, NULL);
    assert_false(t_tview(f, s).has_info);
    assert_int_equal(t_recv(f, s, NULL), LK_PARKED);
    assert_true(t_tview(f, s).has_info);
}

static void lifecycle_task_info_created_by_message_written(void **state)
{
    t_kfix *f = *state;
    t_must_cms(f);
    int pid;
    int a = t_must_ready_task(f, 0, &pid);
    int b = t_must_task(f, pid);
    assert_int_equal(t_send_req(f, a, (uint32_t)b, 1, LITEIPC_FLAG_ONEWAY), 0);
    assert_true(t_tview(f, b).has_info);
    assert_false(t_tview(f, a).has_info); /* sending alone does not give one */
    assert_int_equal(t_tview(f, b).queued, 1);
    assert_int_equal(t_must_recv_free(f, b), 1);
}

/* Q10: the same GEN_HANDLE grants once the service has its IpcTaskInfo. */
static void lifecycle_gen_handle_grants_once_task_info_exists(void **state)
{
    t_kfix *f = *state;
    int cms_pid;
    int cms = t_must_cms_size(f, T_CMS_MAX, &cms_pid);
    int s = t_must_ready_task(f, 0, NULL);
    assert_int_equal(t_gen_handle(f, cms, (uint32_t)s, NULL), 0);
    assert_false(access_bit(f, s, cms_pid));
    t_give_info(f, s);
    assert_false(access_bit(f, s, cms_pid)); /* nothing was remembered */
    assert_int_equal(t_gen_handle(f, cms, (uint32_t)s, NULL), 0);
    assert_true(access_bit(f, s, cms_pid));
}

static void lifecycle_grant_belongs_to_process(void **state)
{
    t_kfix *f = *state;
    int c, c_pid, s, s_pid;
    t_client_server(f, &c, &c_pid, &s, &s_pid);
    int c2 = t_must_task(f, c_pid);
    assert_int_equal(lk_task_exit(f->k, c, f->now), 0);
    assert_true(access_bit(f, s, c_pid));
    assert_int_equal(t_send_req(f, c2, (uint32_t)s, 3, LITEIPC_FLAG_ONEWAY), 0);
    assert_int_equal(t_must_recv_free(f, s), 3);
}

/* ---- §7.2 task death ----------------------------------------------------------------------- */

static void lifecycle_task_death_drains_queue_with_rollback(void **state)
{
    t_kfix *f = *state;
    int c, c_pid, s, s_pid;
    t_client_server(f, &c, &c_pid, &s, &s_pid);
    int c2 = t_must_task(f, c_pid);
    int p[2];
    assert_int_equal(pipe(p), 0);
    char buf[32] = "queued";
    char data[2 * T_HOST_OBJ];
    memset(data, 0, sizeof data);
    t_put_fd(data, 0, p[0]);
    t_put_ptr(data, T_HOST_OBJ, buf, sizeof buf);
    uint32_t offs[2] = {0, T_HOST_OBJ};
    IpcMsg m;
    t_msg(&m, MT_REQUEST, (uint32_t)s, 1, LITEIPC_FLAG_ONEWAY);
    t_msg_data(&m, data, sizeof data);
    t_msg_objs(&m, offs, 2);
    assert_int_equal(t_send(f, c2, &m), 0);
    t_msg(&m, MT_REQUEST, (uint32_t)s, 2, LITEIPC_FLAG_DEFAULT);
    assert_int_equal(t_call(f, c, &m, NULL), LK_PARKED);
    assert_int_equal(t_tview(f, s).queued, 2);
    assert_int_equal(t_pview(f, s_pid).used_buffers, 1);

    assert_int_equal(lk_task_exit(f->k, s, f->now), 0);
    assert_int_equal(f->fd_closes, 1);
    assert_int_equal(f->last_close_pid, s_pid);
    assert_int_equal(f->nfds, 0);
    assert_int_equal(t_pview(f, s_pid).used_buffers, 0);
    assert_int_equal(t_pool_used(f, s_pid), 0);
    t_must_no_completion(f); /* the caller is not told */
    assert_true(lk_task_is_parked(f->k, c));
    t_advance(f, T_TIMEOUT_NS);
    t_tick(f);
    t_must_complete(f, c, -ETIME);
    close(p[0]);
    close(p[1]);
}

/* §7.4: a caller whose request was already taken also just times out. */
static void lifecycle_caller_of_dead_service_times_out(void **state)
{
    t_kfix *f = *state;
    int c, c_pid, s, s_pid;
    t_client_server(f, &c, &c_pid, &s, &s_pid);
    int s2 = t_must_task(f, s_pid);
    IpcMsg m;
    t_msg(&m, MT_REQUEST, (uint32_t)s, 1, LITEIPC_FLAG_DEFAULT);
    assert_int_equal(t_call(f, c, &m, NULL), LK_PARKED);
    IpcMsg *req = t_must_recv(f, s);
    assert_int_equal(lk_task_exit(f->k, s, f->now), 0);
    t_must_no_completion(f);
    t_advance(f, T_TIMEOUT_NS);
    t_tick(f);
    t_must_complete(f, c, -ETIME);
    assert_int_equal(t_tview(f, c).queued, 0); /* no failed reply either */
    t_must_free(f, s2, req);                   /* the used list belongs to the process */
}

/* Q15 (fixed): the notice's sender is the dead task and its process. */
static void lifecycle_death_notice_fields(void **state)
{
    t_kfix *f = *state;
    int cms = t_must_cms(f);
    int s_pid = t_must_proc_ids(f, 5151, 5252);
    t_must_open(f, s_pid);
    t_must_map(f, s_pid, 8192);
    int s = t_must_task(f, s_pid);
    t_give_info(f, s);
    int a;
    int a_pid = notified_client(f, cms, s, &a);
    t_advance(f, 12345);
    uint64_t died = f->now;
    assert_int_equal(lk_task_exit(f->k, s, f->now), 0);
    assert_int_equal(t_tview(f, a).queued, 1);
    t_advance(f, 10);
    IpcMsg *in = t_must_recv(f, a);
    assert_true(t_in_pool(f, a_pid, in, sizeof *in));
    assert_int_equal(in->type, MT_DEATH_NOTIFY);
    assert_int_equal(in->target.handle, a);
    assert_int_equal(in->target.token, s);
    assert_int_equal(in->target.cookie, 0);
    assert_int_equal(in->code, 0);
    assert_int_equal(in->flag, 0);
    assert_int_equal(in->timestamp, died);
    assert_int_equal(in->dataSz, 0);
    assert_null(in->data);
    assert_int_equal(in->spObjNum, 0);
    assert_null(in->offsets);
    assert_int_equal(in->taskID, s);
    assert_int_equal(in->processID, s_pid);
    assert_int_equal(in->userID, 5151);
    assert_int_equal(in->gid, 5252);
    t_must_free(f, a, in);
}

static void lifecycle_death_notice_needs_ipc_thread(void **state)
{
    t_kfix *f = *state;
    int c, c_pid, s, s_pid;
    t_client_server(f, &c, &c_pid, &s, &s_pid);
    lk_proc_view pv = t_pview(f, c_pid);
    assert_true(t_has_access_bit(&pv, s));
    t_ev_clear(f);
    assert_int_equal(lk_task_exit(f->k, s, f->now), 0);
    pv = t_pview(f, c_pid);
    assert_false(t_has_access_bit(&pv, s));
    assert_int_equal(t_tview(f, c).queued, 0);
    assert_int_equal(t_pool_used(f, c_pid), 0);
    assert_int_equal(t_ev_count(f, LK_EV_MSG_WRITTEN), 0);
}

static void lifecycle_death_notice_not_sent_to_own_process(void **state)
{
    t_kfix *f = *state;
    int cms = t_must_cms(f);
    int s_pid;
    int s = t_must_ready_task(f, 0, &s_pid);
    t_give_info(f, s);
    int s2 = t_must_task(f, s_pid);
    assert_int_equal(t_set_ipc_thread(f, s2), s2);
    assert_int_equal(t_add_access(f, cms, (uint32_t)s2, (uint32_t)s), 0);
    assert_true(access_bit(f, s, s_pid));
    assert_int_equal(lk_task_exit(f->k, s, f->now), 0);
    assert_int_equal(t_tview(f, s2).queued, 0);
    assert_int_equal(t_pool_used(f, s_pid), 0);
}

static void lifecycle_death_notice_to_every_granted_process(void **state)
{
    t_kfix *f = *state;
    int cms = t_must_cms(f);
    int s = t_must_ready_task(f, 0, NULL);
    t_give_info(f, s);
    int a, b;
    int a_pid = notified_client(f, cms, s, &a);
    int b_pid = notified_client(f, cms, s, &b);
    assert_int_equal(lk_task_exit(f->k, s, f->now), 0);
    IpcMsg *na = t_must_recv(f, a);
    IpcMsg *nb = t_must_recv(f, b);
    assert_int_equal(na->type, MT_DEATH_NOTIFY);
    assert_int_equal(nb->type, MT_DEATH_NOTIFY);
    assert_int_equal(na->target.handle, a);
    assert_int_equal(nb->target.handle, b);
    assert_int_equal(na->target.token, s);
    assert_int_equal(nb->target.token, s);
    lk_proc_view pa = t_pview(f, a_pid), pb = t_pview(f, b_pid);
    assert_false(t_has_access_bit(&pa, s));
    assert_false(t_has_access_bit(&pb, s));
    t_must_free(f, a, na);
    t_must_free(f, b, nb);
}

/* §7.2 step 5: the TID comes back without grants and without IpcTaskInfo. */
static void lifecycle_reused_tid_has_no_grants(void **state)
{
    t_kfix *f = *state;
    int c, c_pid, s, s_pid;
    t_client_server(f, &c, &c_pid, &s, &s_pid);
    assert_int_equal(lk_task_exit(f->k, s, f->now), 0);
    assert_int_equal(t_must_task(f, s_pid), s);
    lk_task_view tv = t_tview(f, s);
    assert_false(tv.has_info);
    assert_int_equal(tv.access_map, 0);
    assert_int_equal(t_send_req(f, c, (uint32_t)s, 1, 1), -EACCES);
    t_give_info(f, s);
    assert_int_equal(t_send_req(f, c, (uint32_t)s, 1, 1), -EACCES);
}

/* Q9: the IPC thread is never reset; notices to it are lost once it is gone. */
static void lifecycle_ipc_thread_never_reset(void **state)
{
    t_kfix *f = *state;
    int cms = t_must_cms(f);
    int s = t_must_ready_task(f, 0, NULL);
    t_give_info(f, s);
    int a;
    int a_pid = notified_client(f, cms, s, &a);
    int a2 = t_must_task(f, a_pid);
    assert_int_equal(lk_task_exit(f->k, a, f->now), 0);
    assert_int_equal(t_pview(f, a_pid).ipc_task, a);
    assert_int_equal(t_set_ipc_thread(f, a2), -EINVAL);
    assert_int_equal(lk_task_exit(f->k, s, f->now), 0);
    assert_int_equal(t_tview(f, a2).queued, 0);
    assert_int_equal(t_pool_used(f, a_pid), 0);
    lk_proc_view pv = t_pview(f, a_pid);
    assert_false(t_has_access_bit(&pv, s));
}

/* Q9: when the IPC thread's TID is reused, the notice goes to the new, unrelated task. */
static void lifecycle_death_notice_follows_reused_ipc_thread_tid(void **state)
{
    t_kfix *f = *state;
    int cms = t_must_cms(f);
    int s = t_must_ready_task(f, 0, NULL);
    t_give_info(f, s);
    int a;
    notified_client(f, cms, s, &a);
    assert_int_equal(lk_task_exit(f->k, a, f->now), 0);
    int x_pid = t_must_ready_proc(f, 0);
    assert_int_equal(t_must_task(f, x_pid), a);
    assert_int_equal(lk_task_exit(f->k, s, f->now), 0);
    assert_int_equal(t_tview(f, a).queued, 1);
    IpcMsg *in = t_must_recv(f, a);
    assert_true(t_in_pool(f, x_pid, in, sizeof *in));
    assert_int_equal(in->type, MT_DEATH_NOTIFY);
    assert_int_equal(in->target.handle, a);
    assert_int_equal(in->target.token, s);
    t_must_free(f, a, in);
}

static void lifecycle_death_notice_lost_when_pool_full(void **state)
{
    t_kfix *f = *state;
    int cms = t_must_cms(f);
    int s = t_must_ready_task(f, 0, NULL);
    t_give_info(f, s);
    int a_pid;
    int a = t_must_ready_task(f, 4096, &a_pid);
    assert_int_equal(t_set_ipc_thread(f, a), a);
    assert_int_equal(t_add_access(f, cms, (uint32_t)a, (uint32_t)s), 0);
    int filler = t_must_task(f, a_pid);
    static char data[2000];
    const uint32_t sizes[] = {2000, 1000, 500, 200, 100, 50, 20, 8, 0};
    for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++) {
        IpcMsg m;
        t_msg(&m, MT_REQUEST, (uint32_t)filler, 1, LITEIPC_FLAG_ONEWAY);
        t_msg_data(&m, data, sizes[i]);
        int r;
        while ((r = t_send(f, a, &m)) == 0) {
        }
        assert_int_equal(r, -ENOMEM);
    }
    unsigned before = t_tview(f, a).queued;
    assert_int_equal(lk_task_exit(f->k, s, f->now), 0);
    assert_int_equal(t_tview(f, a).queued, before);
    lk_proc_view pv = t_pview(f, a_pid);
    assert_false(t_has_access_bit(&pv, s));
}

/* ---- §7.3 process destruction -------------------------------------------------------------- */

static void lifecycle_process_exit_revokes_its_grants(void **state)
{
    t_kfix *f = *state;
    int c, c_pid, s, s_pid;
    t_client_server(f, &c, &c_pid, &s, &s_pid);
    int s_ipc = t_must_task(f, s_pid);
    assert_int_equal(t_set_ipc_thread(f, s_ipc), s_ipc);
    assert_true(access_bit(f, s, c_pid));
    assert_int_equal(lk_proc_exit(f->k, c_pid, f->now), 0);
    assert_false(access_bit(f, s, c_pid));
    assert_int_equal(t_tview(f, s_ipc).queued, 0); /* no notice about a client going away */
    assert_int_equal(t_tview(f, s).queued, 0);
}

static void lifecycle_process_exit_frees_its_state(void **state)
{
    t_kfix *f = *state;
    t_must_cms(f);
    int pid;
    int t = t_must_ready_task(f, 0, &pid);
    assert_int_equal(t_send_req(f, t, (uint32_t)t, 1, LITEIPC_FLAG_ONEWAY), 0);
    assert_int_equal(lk_proc_exit(f->k, pid, f->now), 0);
    lk_proc_view pv = t_pview(f, pid);
    assert_false(pv.in_use);
    assert_null(lk_proc_pool_base(f->k, pid));
    assert_int_equal(lk_task_pid(f->k, t), -ESRCH);
    assert_false(t_tview(f, t).in_use);
}

/* Q18 (fixed): task cleanup (with notices and rollback) runs before the pool goes. */
static void lifecycle_process_exit_runs_task_cleanup_first(void **state)
{
    t_kfix *f = *state;
    int cms = t_must_cms(f);
    int b_pid;
    int s = t_must_ready_task(f, 0, &b_pid);
    t_give_info(f, s);
    int a;
    notified_client(f, cms, s, &a);
    int p[2];
    assert_int_equal(pipe(p), 0);
    send_fd_oneway(f, a, s, p[0]);
    assert_int_equal(f->fd_dups, 1);

    assert_int_equal(lk_proc_exit(f->k, b_pid, f->now), 0);
    assert_int_equal(f->fd_closes, 1);
    assert_int_equal(f->nfds, 0);
    IpcMsg *in = t_must_recv(f, a);
    assert_int_equal(in->type, MT_DEATH_NOTIFY);
    assert_int_equal(in->target.token, s);
    assert_int_equal(in->taskID, s);
    assert_int_equal(in->processID, b_pid);
    t_must_free(f, a, in);
    close(p[0]);
    close(p[1]);
}

static void lifecycle_process_exit_kills_parked_receivers(void **state)
{
    t_kfix *f = *state;
    int pid;
    int cms = t_must_cms_size(f, T_CMS_MAX, &pid);
    int p_pid;
    int r1 = t_must_ready_task(f, 0, &p_pid);
    int r2 = t_must_task(f, p_pid);
    assert_int_equal(t_recv(f, r1, NULL), LK_PARKED);
    IpcMsg m;
    t_msg(&m, MT_REQUEST, 0, 1, LITEIPC_FLAG_DEFAULT);
    assert_int_equal(t_call(f, r2, &m, NULL), LK_PARKED);
    t_ev_clear(f);
    assert_int_equal(lk_proc_exit(f->k, p_pid, f->now), 0);
    lk_completion c1, c2;
    assert_int_equal(t_take(f, &c1), 1);
    assert_int_equal(t_take(f, &c2), 1);
    t_must_no_completion(f);
    assert_int_equal(c1.result, -ERFKILL);
    assert_int_equal(c2.result, -ERFKILL);
    assert_true((c1.tid == r1 && c2.tid == r2) || (c1.tid == r2 && c2.tid == r1));
    assert_int_equal(t_ev_count(f, LK_EV_RECV_KILLED), 2);
    assert_int_equal(lk_kernel_next_deadline(f->k), UINT64_MAX);
    (void)cms;
}

static void lifecycle_task_exit_cancels_parked_receive(void **state)
{
    t_kfix *f = *state;
    t_must_cms(f);
    int pid;
    int r1 = t_must_ready_task(f, 0, &pid);
    int r2 = t_must_task(f, pid);
    assert_int_equal(t_recv(f, r1, NULL), LK_PARKED);
    IpcMsg m;
    t_msg(&m, MT_REQUEST, 0, 1, LITEIPC_FLAG_DEFAULT);
    assert_int_equal(t_call(f, r2, &m, NULL), LK_PARKED);
    assert_int_equal(lk_task_exit(f->k, r1, f->now), 0);
    assert_int_equal(lk_task_exit(f->k, r2, f->now), 0);
    t_must_no_completion(f);
    assert_int_equal(lk_kernel_next_deadline(f->k), UINT64_MAX);
    t_advance(f, T_TIMEOUT_NS);
    t_tick(f);
    t_must_no_completion(f);
}

/* ---- §7.5 death of the CMS (Q1) ------------------------------------------------------------ */

static void lifecycle_cms_death_keeps_record(void **state)
{
    t_kfix *f = *state;
    int cms_pid;
    int cms = t_must_cms_size(f, 256, &cms_pid);
    int other = t_must_ready_task(f, 0, NULL);
    assert_int_equal(lk_task_exit(f->k, cms, f->now), 0);
    lk_cms_view v = t_cview(f);
    assert_int_equal(v.status, HANDLE_REGISTED);
    assert_int_equal(v.task, cms);
    assert_int_equal(v.max_msg_size, 256);
    assert_int_equal(t_set_cms(f, other, 256), -EEXIST);
    assert_int_equal(lk_proc_exit(f->k, cms_pid, f->now), 0);
    assert_int_equal(t_set_cms(f, other, 256), -EEXIST);
    assert_int_equal(t_cview(f).task, cms);
    /* messages still move: the record is set */
    assert_int_equal(t_send_req(f, other, (uint32_t)other, 1, LITEIPC_FLAG_ONEWAY), 0);
    assert_int_equal(t_must_recv_free(f, other), 1);
}

static void lifecycle_cms_tid_reuse_inherits_cms_role(void **state)
{
    t_kfix *f = *state;
    int cms_pid;
    int cms = t_must_cms_size(f, 256, &cms_pid);
    int old_sibling = t_must_task(f, cms_pid);
    int c = t_must_ready_task(f, 0, NULL);
    assert_int_equal(lk_task_exit(f->k, cms, f->now), 0);
    assert_int_equal(t_remove_handle(f, old_sibling, 1), -EACCES);
    int x_pid = t_must_ready_proc(f, 0);
    assert_int_equal(t_must_task(f, x_pid), cms);
    assert_int_equal(t_send_req(f, c, 0, 44, LITEIPC_FLAG_ONEWAY), 0);
    IpcMsg *in = t_must_recv(f, cms);
    assert_true(t_in_pool(f, x_pid, in, sizeof *in));
    assert_int_equal(in->code, 44);
    t_must_free(f, cms, in);
    int x2 = t_must_task(f, x_pid);
    assert_int_equal(t_remove_handle(f, x2, 1), 0);
    assert_int_equal(t_remove_handle(f, old_sibling, 1), -EACCES);
}

/*
 * §7.5 as a whole, in the order a system lives it (issue 10): after the CMS task dies, only the
 * processes granted handle 0 hear of the death (with the real TID, not 0), handle 0 gives EINVAL
 * while its TID is unused, IPC_SET_CMS stays EEXIST, and the next task to get the TID receives
 * what is sent to handle 0 and passes the CMS check; the old CMS process no longer does.
 */
static void lifecycle_cms_death_as_reference_7_5(void **state)
{
    t_kfix *f = *state;
    int cms_pid;
    int cms = t_must_cms_size(f, T_CMS_MAX, &cms_pid);
    int helper = t_must_task(f, cms_pid);
    t_give_info(f, cms);
    int a_pid = t_must_ready_proc(f, 0);
    int a = t_must_task(f, a_pid);
    assert_int_equal(t_set_ipc_thread(f, a), a);
    int b = t_must_ready_task(f, 0, NULL);
    assert_int_equal(t_set_ipc_thread(f, b), b);
    assert_int_equal(t_add_access(f, helper, (uint32_t)a, 0), 0); /* a's process: handle 0 */

    assert_int_equal(lk_task_exit(f->k, cms, f->now), 0);
    /* death notices: to the granted process only, with the real TID */
    IpcMsg *in = t_must_recv(f, a);
    assert_int_equal(in->type, MT_DEATH_NOTIFY);
    assert_int_equal(in->target.token, cms);
    t_must_free(f, a, in);
    assert_int_equal(t_tview(f, b).queued, 0);
    /* the TID unused: handle 0 is not alive */
    assert_int_equal(t_send_req(f, a, 0, 1, LITEIPC_FLAG_ONEWAY), -EINVAL);
    assert_int_equal(t_send_req(f, b, 0, 1, LITEIPC_FLAG_ONEWAY), -EINVAL);
    assert_int_equal(t_set_cms(f, b, T_CMS_MAX), -EEXIST);
    assert_int_equal(t_cview(f).task, cms);
    /* a new task of an unrelated process gets the TID (LIFO) and with it the role */
    int x_pid = t_must_ready_proc(f, 0);
    assert_int_equal(t_must_task(f, x_pid), cms);
    assert_int_equal(t_send_req(f, b, 0, 77, LITEIPC_FLAG_ONEWAY), 0);
    assert_int_equal(t_must_recv_free(f, cms), 77);
    assert_int_equal(t_remove_handle(f, cms, 1), 0);
    assert_int_equal(t_remove_handle(f, helper, 1), -EACCES);
    assert_int_equal(t_set_cms(f, cms, T_CMS_MAX), -EEXIST);
}

/* ---- §7.6 fork ------------------------------------------------------------------------------ */

static void lifecycle_fork_child_state(void **state)
{
    t_kfix *f = *state;
    int cms = t_must_cms(f);
    int pid;
    int t = t_must_ready_task(f, 0, &pid);
    assert_int_equal(t_set_ipc_thread(f, t), t);
    int s = t_must_ready_task(f, 0, NULL);
    t_give_info(f, s);
    assert_int_equal(t_add_access(f, cms, (uint32_t)t, (uint32_t)s), 0);
    IpcMsg *held = t_self_msg(f, t, 1);

    int child = lk_proc_fork(f->k, pid, 7, 8);
    assert_true(child >= LK_FIRST_USER_PID);
    assert_int_not_equal(child, pid);
    lk_proc_view parent = t_pview(f, pid), cv = t_pview(f, child);
    assert_true(cv.in_use);
    assert_true(cv.has_ipc);
    assert_false(cv.pool_mapped);
    assert_int_equal(cv.uvaddr, parent.uvaddr);
    assert_int_equal(cv.pool_size, 0);
    assert_int_equal(cv.ipc_task, -1);
    assert_int_equal(cv.used_buffers, 0);
    assert_int_equal(cv.access[0], 0);
    assert_int_equal(cv.access[1], 0);
    assert_null(lk_proc_pool_base(f->k, child));
    t_must_free(f, t, held);
}

static void lifecycle_fork_of_process_without_ipc_state(void **state)
{
    t_kfix *f = *state;
    int pid = t_must_proc(f);
    int child = lk_proc_fork(f->k, pid, 0, 0);
    assert_true(child >= LK_FIRST_USER_PID);
    assert_false(t_pview(f, child).has_ipc);
    int ct = t_must_task(f, child);
    assert_int_equal(t_ioctl(f, ct, _IO('i', 6), 0, NULL), -EINVAL);
}

static void lifecycle_fork_child_must_map_before_ioctls(void **state)
{
    t_kfix *f = *state;
    t_must_cms(f);
    int pid = t_must_ready_proc(f, 8192);
    int child = lk_proc_fork(f->k, pid, 0, 0);
    int ct = t_must_task(f, child);
    IpcVersion v = {0};
    assert_int_equal(t_version(f, ct, &v), -ENOMEM);
    assert_int_equal(t_set_ipc_thread(f, ct), -ENOMEM);
    assert_int_equal(t_send_req(f, ct, 0, 1, 1), -ENOMEM);
    void *mem = t_must_map(f, child, 16384);
    lk_proc_view cv = t_pview(f, child);
    assert_true(cv.pool_mapped);
    assert_int_equal(cv.pool_size, 16384);
    assert_int_equal(cv.uvaddr, (uintptr_t)mem);
    assert_int_equal(t_pview(f, pid).pool_size, 8192);
    assert_int_equal(t_version(f, ct, &v), 0);
    assert_int_equal(v.driverVersion, 2);
    assert_int_equal(t_set_ipc_thread(f, ct), ct);
    assert_int_equal(lk_mmap_check(f->k, child, 4096, PROT_READ, MAP_PRIVATE), -EEXIST);
}

static void lifecycle_fork_child_is_not_cms(void **state)
{
    t_kfix *f = *state;
    int cms_pid;
    int cms = t_must_cms_size(f, T_CMS_MAX, &cms_pid);
    int child = lk_proc_fork(f->k, cms_pid, 0, 0);
    t_must_map(f, child, 8192);
    int ct = t_must_task(f, child);
    assert_int_equal(t_remove_handle(f, ct, 1), -EACCES);
    assert_int_equal(t_remove_handle(f, cms, 1), 0);
    assert_int_equal(t_set_cms(f, ct, 256), -EEXIST);
}

static void lifecycle_fork_child_has_no_grants(void **state)
{
    t_kfix *f = *state;
    int c, c_pid, s, s_pid;
    int cms = t_client_server(f, &c, &c_pid, &s, &s_pid);
    int child = lk_proc_fork(f->k, c_pid, 0, 0);
    t_must_map(f, child, 8192);
    int ct = t_must_task(f, child);
    assert_false(access_bit(f, s, child));
    assert_int_equal(t_send_req(f, ct, (uint32_t)s, 1, 1), -EACCES);
    assert_int_equal(t_send_req(f, ct, 0, 2, 1), 0);
    assert_int_equal(t_must_recv_free(f, cms), 2);
    assert_int_equal(t_send_req(f, c, (uint32_t)s, 3, 1), 0); /* the parent keeps its grant */
    assert_int_equal(t_must_recv_free(f, s), 3);
}

static void lifecycle_fork_unknown_parent_esrch(void **state)
{
    t_kfix *f = *state;
    assert_int_equal(lk_proc_fork(f->k, 40, 0, 0), -ESRCH);
    int pid = t_must_proc(f);
    assert_int_equal(lk_proc_exit(f->k, pid, f->now), 0);
    assert_int_equal(lk_proc_fork(f->k, pid, 0, 0), -ESRCH);
}

static void lifecycle_fork_leaves_parent_unchanged(void **state)
{
    t_kfix *f = *state;
    t_must_cms(f);
    int pid;
    int t = t_must_ready_task(f, 8192, &pid);
    assert_int_equal(t_set_ipc_thread(f, t), t);
    IpcMsg *held = t_self_msg(f, t, 1);
    lk_proc_view before = t_pview(f, pid);
    int child = lk_proc_fork(f->k, pid, 0, 0);
    t_must_map(f, child, 4096);
    lk_proc_view after = t_pview(f, pid);
    assert_true(after.pool_mapped);
    assert_int_equal(after.uvaddr, before.uvaddr);
    assert_int_equal(after.pool_size, before.pool_size);
    assert_int_equal(after.ipc_task, t);
    assert_int_equal(after.used_buffers, 1);
    t_must_free(f, t, held);
}

/* ---- §7.7 exec (Q17) ----------------------------------------------------------------------- */

/* The process keeps its PID and the exec'ing task its TID and IpcTaskInfo; the process's IPC
   state is gone, so every ioctl and mmap fails with EINVAL until it opens the device again. */
static void lifecycle_exec_keeps_ids_and_drops_process_state(void **state)
{
    t_kfix *f = *state;
    int cms = t_must_cms(f);
    int c, s_pid;
    int s = t_must_ready_task(f, 0, &s_pid);
    t_give_info(f, s);
    notified_client(f, cms, s, &c);
    assert_int_equal(t_set_ipc_thread(f, s), s);
    assert_int_equal(lk_proc_exec(f->k, s, f->now), 0);
    assert_int_equal(lk_task_pid(f->k, s), s_pid);
    lk_task_view tv = t_tview(f, s);
    assert_true(tv.in_use);
    assert_true(tv.has_info);
    assert_true(access_bit(f, s, t_pid_of(f, c))); /* who may call it: the task's, kept */
    lk_proc_view pv = t_pview(f, s_pid);
    assert_true(pv.in_use);
    assert_false(pv.has_ipc);
    assert_false(pv.pool_mapped);
    assert_int_equal(pv.ipc_task, -1);
    assert_null(lk_proc_pool_base(f->k, s_pid));
    IpcVersion v;
    assert_int_equal(t_version(f, s, &v), -EINVAL);
    assert_int_equal(lk_mmap_check(f->k, s_pid, T_POOL_SIZE, PROT_READ, MAP_PRIVATE), -EINVAL);
    t_must_open(f, s_pid);
    assert_int_equal(t_version(f, s, &v), -ENOMEM);
    t_must_map(f, s_pid, T_POOL_SIZE);
    assert_int_equal(t_version(f, s, &v), 0);
    assert_int_equal(t_set_ipc_thread(f, s), s); /* a fresh ProcIpcInfo has no IPC thread */
}

/* The other threads die as at process exit: a parked receive ends with ERFKILL, and the
   processes granted access to them are told. */
static void lifecycle_exec_kills_the_other_tasks(void **state)
{
    t_kfix *f = *state;
    int cms = t_must_cms(f);
    int s_pid;
    int e = t_must_ready_task(f, 0, &s_pid);
    int r = t_must_task(f, s_pid);
    int s = t_must_task(f, s_pid);
    t_give_info(f, s);
    int a;
    notified_client(f, cms, s, &a);
    assert_int_equal(t_recv(f, r, NULL), LK_PARKED);
    t_ev_clear(f);
    assert_int_equal(lk_proc_exec(f->k, e, f->now), 0);
    t_must_complete(f, r, -ERFKILL);
    t_must_no_completion(f);
    assert_int_equal(t_ev_count(f, LK_EV_RECV_KILLED), 1);
    assert_int_equal(t_ev_count(f, LK_EV_TASK_DEATH), 2);
    assert_false(t_tview(f, r).in_use);
    assert_false(t_tview(f, s).in_use);
    assert_true(t_tview(f, e).in_use);
    IpcMsg *n = t_must_recv(f, a);
    assert_int_equal(n->type, MT_DEATH_NOTIFY);
    assert_int_equal(n->target.token, s);
    t_must_free(f, a, n);
}

/* Q17 (fixed): the exec'ing task's queue is drained with rollback before the pool goes; the
   senders are not told (a synchronous one times out), and nothing old is received later. */
static void lifecycle_exec_drains_the_survivors_queue(void **state)
{
    t_kfix *f = *state;
    int c, c_pid, s, s_pid;
    t_client_server(f, &c, &c_pid, &s, &s_pid);
    int c2 = t_must_task(f, c_pid);
    int p[2];
    assert_int_equal(pipe(p), 0);
    send_fd_oneway(f, c2, s, p[0]);
    IpcMsg m;
    t_msg(&m, MT_REQUEST, (uint32_t)s, 2, LITEIPC_FLAG_DEFAULT);
    assert_int_equal(t_call(f, c, &m, NULL), LK_PARKED);
    assert_int_equal(t_tview(f, s).queued, 2);
    t_ev_clear(f);
    assert_int_equal(lk_proc_exec(f->k, s, f->now), 0);
    assert_int_equal(t_tview(f, s).queued, 0);
    assert_int_equal(t_ev_count(f, LK_EV_DROP_ON_READ), 2);
    assert_int_equal(f->fd_closes, 1);
    assert_int_equal(f->nfds, 0);
    t_must_no_completion(f);
    t_advance(f, T_TIMEOUT_NS);
    t_tick(f);
    t_must_complete(f, c, -ETIME);
    t_must_open(f, s_pid);
    t_must_map(f, s_pid, T_POOL_SIZE);
    assert_int_equal(t_send_req(f, c2, (uint32_t)s, 3, LITEIPC_FLAG_ONEWAY), 0);
    assert_int_equal(t_must_recv_free(f, s), 3);
    close(p[0]);
    close(p[1]);
}

/* §7.3: the grants the process held are withdrawn, without notices. */
static void lifecycle_exec_revokes_grants_held(void **state)
{
    t_kfix *f = *state;
    int c, c_pid, s, s_pid;
    t_client_server(f, &c, &c_pid, &s, &s_pid);
    assert_true(access_bit(f, s, c_pid));
    assert_int_equal(lk_proc_exec(f->k, c, f->now), 0);
    assert_false(access_bit(f, s, c_pid));
    assert_int_equal(t_tview(f, s).queued, 0);
    t_must_open(f, c_pid);
    t_must_map(f, c_pid, T_POOL_SIZE);
    assert_int_equal(t_send_req(f, c, (uint32_t)s, 1, LITEIPC_FLAG_ONEWAY), -EACCES);
}

/* The CMS task keeps its role; until its process maps a pool again, requests to handle 0
   find no memory to land in. */
static void lifecycle_exec_of_cms_keeps_role(void **state)
{
    t_kfix *f = *state;
    int cms_pid;
    int cms = t_must_cms_size(f, T_CMS_MAX, &cms_pid);
    int a = t_must_ready_task(f, 0, NULL);
    assert_int_equal(lk_proc_exec(f->k, cms, f->now), 0);
    assert_int_equal(t_cview(f).task, cms);
    assert_int_equal(t_send_req(f, a, 0, 1, LITEIPC_FLAG_ONEWAY), -EINVAL);
    t_must_open(f, cms_pid);
    assert_int_equal(t_send_req(f, a, 0, 2, LITEIPC_FLAG_ONEWAY), -ENOMEM);
    t_must_map(f, cms_pid, T_POOL_SIZE);
    assert_int_equal(t_send_req(f, a, 0, 3, LITEIPC_FLAG_ONEWAY), 0);
    assert_int_equal(t_must_recv_free(f, cms), 3);
}

static void lifecycle_exec_errors(void **state)
{
    t_kfix *f = *state;
    t_must_cms(f);
    int pid;
    int r = t_must_ready_task(f, 0, &pid);
    assert_int_equal(lk_proc_exec(f->k, -1, f->now), -ESRCH);
    assert_int_equal(lk_proc_exec(f->k, LK_MAX_TASKS, f->now), -ESRCH);
    assert_int_equal(lk_proc_exec(f->k, r + 1, f->now), -ESRCH);
    assert_int_equal(t_recv(f, r, NULL), LK_PARKED);
    assert_int_equal(lk_proc_exec(f->k, r, f->now), -EBUSY);
    assert_true(t_pview(f, pid).has_ipc);
}

static void lifecycle_event_exec(void **state)
{
    t_kfix *f = *state;
    t_must_cms(f);
    int pid;
    int e = t_must_ready_task(f, 0, &pid);
    t_ev_clear(f);
    t_advance(f, 5);
    assert_int_equal(lk_proc_exec(f->k, e, f->now), 0);
    assert_int_equal(t_ev_count(f, LK_EV_EXEC), 1);
    const lk_event *ev = t_ev_nth(f, LK_EV_EXEC, 0);
    assert_int_equal(ev->src_tid, e);
    assert_int_equal(ev->src_pid, pid);
    assert_int_equal(ev->time_ns, f->now);
}

/* ---- events -------------------------------------------------------------------------------- */

static void lifecycle_event_msg_written(void **state)
{
    t_kfix *f = *state;
    int c, c_pid, s, s_pid;
    t_client_server(f, &c, &c_pid, &s, &s_pid);
    t_ev_clear(f);
    t_advance(f, 5);
    assert_int_equal(t_send_req(f, c, (uint32_t)s, 0x51, LITEIPC_FLAG_ONEWAY), 0);
    assert_int_equal(t_ev_count(f, LK_EV_MSG_WRITTEN), 1);
    const lk_event *ev = t_ev_nth(f, LK_EV_MSG_WRITTEN, 0);
    assert_int_equal(ev->err, 0);
    assert_int_equal(ev->time_ns, f->now);
    assert_int_equal(ev->src_tid, c);
    assert_int_equal(ev->src_pid, c_pid);
    assert_int_equal(ev->dst_tid, s);
    assert_int_equal(ev->dst_pid, s_pid);
    assert_int_equal(ev->msg.type, MT_REQUEST);
    assert_int_equal(ev->msg.code, 0x51);
    assert_int_equal(ev->msg.taskID, c);
    assert_int_equal(t_must_recv_free(f, s), 0x51);
}

static void lifecycle_event_msg_read(void **state)
{
    t_kfix *f = *state;
    int c, c_pid, s, s_pid;
    t_client_server(f, &c, &c_pid, &s, &s_pid);
    assert_int_equal(t_send_req(f, c, (uint32_t)s, 0x52, LITEIPC_FLAG_ONEWAY), 0);
    t_ev_clear(f);
    t_advance(f, 7);
    IpcMsg *in = t_must_recv(f, s);
    assert_int_equal(t_ev_count(f, LK_EV_MSG_READ), 1);
    const lk_event *ev = t_ev_nth(f, LK_EV_MSG_READ, 0);
    assert_int_equal(ev->time_ns, f->now);
    assert_int_equal(ev->dst_tid, s);
    assert_int_equal(ev->dst_pid, s_pid);
    assert_int_equal(ev->src_tid, c);
    assert_int_equal(ev->msg.code, 0x52);
    t_must_free(f, s, in);
}

static void lifecycle_event_recv_wait(void **state)
{
    t_kfix *f = *state;
    int s = t_must_cms(f);
    t_ev_clear(f);
    assert_int_equal(t_recv(f, s, NULL), LK_PARKED);
    assert_int_equal(t_ev_count(f, LK_EV_RECV_WAIT), 1);
    const lk_event *ev = t_ev_nth(f, LK_EV_RECV_WAIT, 0);
    assert_int_equal(ev->time_ns, f->now);
    assert_true(ev_names(ev, s));
}

static void lifecycle_event_recv_timeout(void **state)
{
    t_kfix *f = *state;
    int pid;
    t_must_cms_size(f, T_CMS_MAX, &pid);
    int c = t_must_task(f, pid);
    IpcMsg m;
    t_msg(&m, MT_REQUEST, (uint32_t)c, 1, LITEIPC_FLAG_DEFAULT);
    assert_int_equal(t_call(f, c, &m, NULL), LK_PARKED);
    t_advance(f, T_TIMEOUT_NS);
    t_ev_clear(f);
    t_tick(f);
    t_must_complete(f, c, -ETIME);
    assert_int_equal(t_ev_count(f, LK_EV_RECV_TIMEOUT), 1);
    const lk_event *ev = t_ev_nth(f, LK_EV_RECV_TIMEOUT, 0);
    assert_int_equal(ev->err, ETIME);
    assert_int_equal(ev->time_ns, f->now);
    assert_true(ev_names(ev, c));
}

static void lifecycle_event_recv_killed(void **state)
{
    t_kfix *f = *state;
    t_must_cms(f);
    int pid;
    int r = t_must_ready_task(f, 0, &pid);
    assert_int_equal(t_recv(f, r, NULL), LK_PARKED);
    t_ev_clear(f);
    assert_int_equal(lk_proc_exit(f->k, pid, f->now), 0);
    t_must_complete(f, r, -ERFKILL);
    assert_int_equal(t_ev_count(f, LK_EV_RECV_KILLED), 1);
    const lk_event *ev = t_ev_nth(f, LK_EV_RECV_KILLED, 0);
    assert_int_equal(ev->time_ns, f->now);
    assert_true(ev_names(ev, r));
}

static void lifecycle_event_drop_on_read(void **state)
{
    t_kfix *f = *state;
    int pid;
    t_must_cms_size(f, T_CMS_MAX, &pid);
    int c = t_must_task(f, pid), d = t_must_task(f, pid);
    assert_int_equal(t_send_req(f, d, (uint32_t)c, 0x53, LITEIPC_FLAG_ONEWAY), 0);
    t_ev_clear(f);
    IpcMsg m;
    t_msg(&m, MT_REQUEST, (uint32_t)d, 1, LITEIPC_FLAG_DEFAULT);
    assert_int_equal(t_call(f, c, &m, NULL), LK_PARKED);
    assert_int_equal(t_ev_count(f, LK_EV_DROP_ON_READ), 1);
    const lk_event *ev = t_ev_nth(f, LK_EV_DROP_ON_READ, 0);
    assert_int_equal(ev->time_ns, f->now);
    assert_int_equal(ev->msg.code, 0x53);
    assert_true(ev_names(ev, c));
}

/* A death notice that cannot be delivered is a message dropped on the write side. */
static void lifecycle_event_drop_on_write(void **state)
{
    t_kfix *f = *state;
    int cms = t_must_cms(f);
    int s = t_must_ready_task(f, 0, NULL);
    t_give_info(f, s);
    int a;
    notified_client(f, cms, s, &a);
    assert_int_equal(lk_task_exit(f->k, a, f->now), 0); /* Q9: the IPC thread is gone */
    t_ev_clear(f);
    assert_int_equal(lk_task_exit(f->k, s, f->now), 0);
    assert_int_equal(t_ev_count(f, LK_EV_MSG_WRITTEN), 0);
    assert_int_equal(t_ev_count(f, LK_EV_DROP_ON_WRITE), 1);
    const lk_event *ev = t_ev_nth(f, LK_EV_DROP_ON_WRITE, 0);
    assert_true(ev->err > 0);
    assert_int_equal(ev->time_ns, f->now);
}

static void lifecycle_event_task_death(void **state)
{
    t_kfix *f = *state;
    t_must_cms(f);
    int s = t_must_ready_task(f, 0, NULL);
    t_give_info(f, s);
    t_ev_clear(f);
    t_advance(f, 3);
    assert_int_equal(lk_task_exit(f->k, s, f->now), 0);
    assert_int_equal(t_ev_count(f, LK_EV_TASK_DEATH), 1);
    const lk_event *ev = t_ev_nth(f, LK_EV_TASK_DEATH, 0);
    assert_int_equal(ev->time_ns, f->now);
    assert_true(ev_names(ev, s));
}

static void lifecycle_event_sink_removed_stops_events(void **state)
{
    t_kfix *f = *state;
    int s = t_must_cms(f);
    lk_kernel_set_event_sink(f->k, NULL, NULL);
    t_ev_clear(f);
    assert_int_equal(t_send_req(f, s, (uint32_t)s, 1, LITEIPC_FLAG_ONEWAY), 0);
    assert_int_equal(t_must_recv_free(f, s), 1);
    assert_int_equal(f->nev, 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        T(lifecycle_tids_handed_out_lowest_first),
        T(lifecycle_freed_tid_reused_first),
        T(lifecycle_pids_handed_out_from_first_user_pid),
        T(lifecycle_freed_pid_reused_last),
        T(lifecycle_task_table_full_eagain),
        T(lifecycle_unknown_process_or_task_esrch),
        T(lifecycle_task_info_not_created_by_cms_commands),
        T(lifecycle_task_info_created_by_receive),
        T(lifecycle_task_info_created_by_message_written),
        T(lifecycle_gen_handle_grants_once_task_info_exists),
        T(lifecycle_grant_belongs_to_process),
        T(lifecycle_task_death_drains_queue_with_rollback),
        T(lifecycle_caller_of_dead_service_times_out),
        T(lifecycle_death_notice_fields),
        T(lifecycle_death_notice_needs_ipc_thread),
        T(lifecycle_death_notice_not_sent_to_own_process),
        T(lifecycle_death_notice_to_every_granted_process),
        T(lifecycle_reused_tid_has_no_grants),
        T(lifecycle_ipc_thread_never_reset),
        T(lifecycle_death_notice_follows_reused_ipc_thread_tid),
        T(lifecycle_death_notice_lost_when_pool_full),
        T(lifecycle_process_exit_revokes_its_grants),
        T(lifecycle_process_exit_frees_its_state),
        T(lifecycle_process_exit_runs_task_cleanup_first),
        T(lifecycle_process_exit_kills_parked_receivers),
        T(lifecycle_task_exit_cancels_parked_receive),
        T(lifecycle_cms_death_keeps_record),
        T(lifecycle_cms_tid_reuse_inherits_cms_role),
        T(lifecycle_cms_death_as_reference_7_5),
        T(lifecycle_fork_child_state),
        T(lifecycle_fork_of_process_without_ipc_state),
        T(lifecycle_fork_child_must_map_before_ioctls),
        T(lifecycle_fork_child_is_not_cms),
        T(lifecycle_fork_child_has_no_grants),
        T(lifecycle_fork_unknown_parent_esrch),
        T(lifecycle_fork_leaves_parent_unchanged),
        T(lifecycle_exec_keeps_ids_and_drops_process_state),
        T(lifecycle_exec_kills_the_other_tasks),
        T(lifecycle_exec_drains_the_survivors_queue),
        T(lifecycle_exec_revokes_grants_held),
        T(lifecycle_exec_of_cms_keeps_role),
        T(lifecycle_exec_errors),
        T(lifecycle_event_exec),
        T(lifecycle_event_msg_written),
        T(lifecycle_event_msg_read),
        T(lifecycle_event_recv_wait),
        T(lifecycle_event_recv_timeout),
        T(lifecycle_event_recv_killed),
        T(lifecycle_event_drop_on_read),
        T(lifecycle_event_drop_on_write),
        T(lifecycle_event_task_death),
        T(lifecycle_event_sink_removed_stops_events),
    };
    return cmocka_run_group_tests_name("kernel_lifecycle", tests, NULL, NULL);
}
