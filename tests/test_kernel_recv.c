/* SPDX-License-Identifier: Apache-2.0 */
/*
 * test_kernel_recv.c - the read path (LITEIPC_REFERENCE §4.4): parking and completion, the
 * accept/drop table row by row for synchronous calls and plain receives, Q4 (fixed: a plain
 * receive drops stale replies), Q5, Q6, Q7 (the deadline restarts after each drop), Q23, ETIME
 * through lk_kernel_tick, ENOENT on a matching failed reply, and the address translation of
 * what is handed over.
 */
#include "kfix.h"

#include <errno.h>
#include <string.h>
#include <sys/mman.h>

#define T(fn) cmocka_unit_test_setup_teardown(fn, t_setup, t_teardown)

/* ---- waiting ------------------------------------------------------------------------------- */

static void recv_empty_queue_parks_without_deadline(void **state)
{
    t_kfix *f = *state;
    int s = t_must_cms(f);
    t_ev_clear(f);
    IpcContent ct = {.flag = RECV};
    lk_ioctl_out out;
    assert_int_equal(t_ioctl(f, s, IPC_SEND_RECV_MSG, (uintptr_t)&ct, &out), LK_PARKED);
    lk_task_view tv = t_tview(f, s);
    assert_true(tv.parked);
    assert_false(tv.parked_sync);
    assert_true(tv.has_info);
    assert_true(lk_task_is_parked(f->k, s));
    assert_int_equal(lk_kernel_next_deadline(f->k), UINT64_MAX);
    assert_null(ct.inMsg);
    t_must_no_completion(f);
}

static void recv_plain_waits_forever(void **state)
{
    t_kfix *f = *state;
    int s = t_must_cms(f);
    assert_int_equal(t_recv(f, s, NULL), LK_PARKED);
    t_advance(f, 1000000ull * T_TIMEOUT_NS);
    t_tick(f);
    t_must_no_completion(f);
    assert_true(lk_task_is_parked(f->k, s));
}

static void recv_queued_message_returned_at_once(void **state)
{
    t_kfix *f = *state;
    int pid;
    int s = t_must_cms_size(f, T_CMS_MAX, &pid);
    assert_int_equal(t_send_req(f, s, (uint32_t)s, 21, LITEIPC_FLAG_ONEWAY), 0);
    IpcContent ct = {.flag = RECV};
    lk_ioctl_out out;
    assert_int_equal(t_ioctl(f, s, IPC_SEND_RECV_MSG, (uintptr_t)&ct, &out), 0);
    assert_int_equal(out.copyout, LK_COPYOUT_INMSG);
    assert_int_equal(out.in_msg, (uintptr_t)ct.inMsg);
    assert_non_null(ct.inMsg);
    assert_int_equal(ct.inMsg->code, 21);
    assert_false(t_tview(f, s).parked);
    assert_int_equal(t_tview(f, s).queued, 0);
    assert_int_equal(t_pview(f, pid).used_buffers, 1);
    t_must_free(f, s, ct.inMsg);
}

static void recv_plain_accepts_request_while_parked(void **state)
{
    t_kfix *f = *state;
    int pid;
    int s = t_must_cms_size(f, T_CMS_MAX, &pid);
    int a = t_must_task(f, pid);
    assert_int_equal(t_recv(f, s, NULL), LK_PARKED);
    assert_int_equal(t_send_req(f, a, (uint32_t)s, 22, LITEIPC_FLAG_DEFAULT), 0);
    IpcMsg *in = t_must_complete(f, s, 0);
    t_must_no_completion(f);
    assert_non_null(in);
    assert_true(t_in_pool(f, pid, in, sizeof *in));
    assert_int_equal(in->type, MT_REQUEST);
    assert_int_equal(in->code, 22);
    assert_int_equal(in->taskID, a);
    assert_false(lk_task_is_parked(f->k, s));
    assert_int_equal(t_tview(f, s).queued, 0);
    assert_int_equal(t_pview(f, pid).used_buffers, 1);
    t_must_free(f, s, in);
}

static void recv_sync_deadline_is_now_plus_timeout(void **state)
{
    t_kfix *f = *state;
    int c, c_pid, s, s_pid;
    t_client_server(f, &c, &c_pid, &s, &s_pid);
    int c2 = t_must_task(f, c_pid);
    IpcMsg m;
    t_msg(&m, MT_REQUEST, (uint32_t)s, 1, LITEIPC_FLAG_DEFAULT);
    uint64_t t0 = f->now;
    assert_int_equal(t_call(f, c, &m, NULL), LK_PARKED);
    t_advance(f, 300);
    assert_int_equal(t_call(f, c2, &m, NULL), LK_PARKED);
    assert_int_equal(lk_kernel_next_deadline(f->k), t0 + T_TIMEOUT_NS);
    f->now = t0 + T_TIMEOUT_NS;
    t_tick(f);
    t_must_complete(f, c, -ETIME);
    t_must_no_completion(f);
    assert_int_equal(lk_kernel_next_deadline(f->k), t0 + 300 + T_TIMEOUT_NS);
}

static void recv_sync_timeout_etime(void **state)
{
    t_kfix *f = *state;
    int c, c_pid, s, s_pid;
    t_client_server(f, &c, &c_pid, &s, &s_pid);
    IpcMsg m;
    t_msg(&m, MT_REQUEST, (uint32_t)s, 1, LITEIPC_FLAG_DEFAULT);
    assert_int_equal(t_call(f, c, &m, NULL), LK_PARKED);
    t_advance(f, T_TIMEOUT_NS - 1);
    t_tick(f);
    t_must_no_completion(f);
    assert_true(lk_task_is_parked(f->k, c));
    t_advance(f, 1);
    t_ev_clear(f);
    t_tick(f);
    IpcMsg *in = t_must_complete(f, c, -ETIME);
    (void)in;
    t_must_no_completion(f);
    assert_false(lk_task_is_parked(f->k, c));
    assert_int_equal(lk_kernel_next_deadline(f->k), UINT64_MAX);
    assert_int_equal(t_tview(f, s).queued, 1); /* the request itself stays where it was */
    const lk_event *ev = t_ev_nth(f, LK_EV_RECV_TIMEOUT, 0);
    assert_non_null(ev);
    assert_int_equal(ev->err, ETIME);
    assert_int_equal(ev->time_ns, f->now);
}

static void recv_unpark_cancels_without_completion(void **state)
{
    t_kfix *f = *state;
    int s = t_must_cms(f);
    assert_int_equal(t_recv(f, s, NULL), LK_PARKED);
    assert_int_equal(lk_task_unpark(f->k, s), 0);
    assert_false(lk_task_is_parked(f->k, s));
    t_must_no_completion(f);
    assert_int_equal(lk_task_unpark(f->k, 120), -ESRCH);
}

/* ---- accept/drop table (§4.4.2), synchronous column ---------------------------------------- */

static void recv_sync_accepts_matching_reply(void **state)
{
    t_kfix *f = *state;
    int c, c_pid, s, s_pid;
    t_client_server(f, &c, &c_pid, &s, &s_pid);
    IpcMsg m;
    t_msg(&m, MT_REQUEST, (uint32_t)s, 1, LITEIPC_FLAG_DEFAULT);
    assert_int_equal(t_call(f, c, &m, NULL), LK_PARKED);
    IpcMsg *req = t_must_recv(f, s);
    t_ev_clear(f);
    assert_int_equal(t_reply(f, s, req, MT_REPLY, 31), 0);
    IpcMsg *rep = t_must_complete(f, c, 0);
    assert_true(t_in_pool(f, c_pid, rep, sizeof *rep));
    assert_int_equal(rep->type, MT_REPLY);
    assert_int_equal(rep->code, 31);
    assert_false(lk_task_is_parked(f->k, c));
    assert_int_equal(t_pview(f, c_pid).used_buffers, 1);
    assert_int_equal(t_ev_count(f, LK_EV_DROP_ON_READ), 0);
    t_must_free(f, c, rep);
}

/* Q5: requests that arrive during a synchronous call are dropped. */
static void recv_sync_drops_request_arriving(void **state)
{
    t_kfix *f = *state;
    int c, c_pid, s, s_pid;
    t_client_server(f, &c, &c_pid, &s, &s_pid);
    int c2 = t_must_task(f, c_pid);
    IpcMsg m;
    t_msg(&m, MT_REQUEST, (uint32_t)s, 1, LITEIPC_FLAG_DEFAULT);
    assert_int_equal(t_call(f, c, &m, NULL), LK_PARKED);
    t_ev_clear(f);
    assert_int_equal(t_send_req(f, c2, (uint32_t)c, 2, LITEIPC_FLAG_DEFAULT), 0);
    t_must_no_completion(f);
    assert_true(lk_task_is_parked(f->k, c));
    assert_int_equal(t_tview(f, c).queued, 0);
    assert_int_equal(t_pool_used(f, c_pid), 0);
    assert_int_equal(t_ev_count(f, LK_EV_DROP_ON_READ), 1);
    /* the call still gets its reply */
    IpcMsg *req = t_must_recv(f, s);
    assert_int_equal(t_reply(f, s, req, MT_REPLY, 3), 0);
    t_must_free(f, c, t_must_complete(f, c, 0));
}

/* Q5: requests queued before the call are dropped too. */
static void recv_sync_drops_requests_queued_before(void **state)
{
    t_kfix *f = *state;
    int c, c_pid, s, s_pid;
    t_client_server(f, &c, &c_pid, &s, &s_pid);
    int c2 = t_must_task(f, c_pid);
    assert_int_equal(t_send_req(f, c2, (uint32_t)c, 2, LITEIPC_FLAG_DEFAULT), 0);
    assert_int_equal(t_send_req(f, c2, (uint32_t)c, 3, LITEIPC_FLAG_ONEWAY), 0);
    assert_int_equal(t_tview(f, c).queued, 2);
    t_ev_clear(f);
    IpcMsg m;
    t_msg(&m, MT_REQUEST, (uint32_t)s, 1, LITEIPC_FLAG_DEFAULT);
    assert_int_equal(t_call(f, c, &m, NULL), LK_PARKED);
    assert_int_equal(t_tview(f, c).queued, 0);
    assert_int_equal(t_pool_used(f, c_pid), 0);
    assert_int_equal(t_ev_count(f, LK_EV_DROP_ON_READ), 2);
}

static void recv_sync_drops_reply_with_other_timestamp(void **state)
{
    t_kfix *f = *state;
    int c, c_pid, s, s_pid;
    t_client_server(f, &c, &c_pid, &s, &s_pid);
    IpcMsg m;
    t_msg(&m, MT_REQUEST, (uint32_t)s, 1, LITEIPC_FLAG_DEFAULT);
    assert_int_equal(t_call(f, c, &m, NULL), LK_PARKED);
    IpcMsg *req1 = t_must_recv(f, s);
    t_advance(f, T_TIMEOUT_NS);
    t_tick(f);
    t_must_complete(f, c, -ETIME);

    m.code = 2;
    uint64_t t2 = f->now;
    assert_int_equal(t_call(f, c, &m, NULL), LK_PARKED);
    assert_int_equal(t_reply(f, s, req1, MT_REPLY, 10), 0); /* late answer to call 1 */
    t_must_no_completion(f);
    assert_true(lk_task_is_parked(f->k, c));
    assert_int_equal(t_tview(f, c).queued, 0);
    assert_int_equal(t_pool_used(f, c_pid), 0);

    IpcMsg *req2 = t_must_recv(f, s);
    assert_int_equal(req2->code, 2);
    assert_int_equal(t_reply(f, s, req2, MT_REPLY, 20), 0);
    IpcMsg *rep = t_must_complete(f, c, 0);
    assert_int_equal(rep->code, 20);
    assert_int_equal(rep->timestamp, t2);
    t_must_free(f, c, rep);
}

static void recv_sync_failed_reply_matching_enoent(void **state)
{
    t_kfix *f = *state;
    int c, c_pid, s, s_pid;
    t_client_server(f, &c, &c_pid, &s, &s_pid);
    IpcMsg m;
    t_msg(&m, MT_REQUEST, (uint32_t)s, 1, LITEIPC_FLAG_DEFAULT);
    assert_int_equal(t_call(f, c, &m, NULL), LK_PARKED);
    IpcMsg *req = t_must_recv(f, s);
    assert_int_equal(t_reply(f, s, req, MT_FAILED_REPLY, 0), 0);
    t_must_complete(f, c, -ENOENT);
    t_must_no_completion(f);
    assert_false(lk_task_is_parked(f->k, c));
    assert_int_equal(t_tview(f, c).queued, 0);
    assert_int_equal(t_pview(f, c_pid).used_buffers, 0);
    assert_int_equal(t_pool_used(f, c_pid), 0);
}

static void recv_sync_drops_failed_reply_with_other_timestamp(void **state)
{
    t_kfix *f = *state;
    int c, c_pid, s, s_pid;
    t_client_server(f, &c, &c_pid, &s, &s_pid);
    IpcMsg m;
    t_msg(&m, MT_REQUEST, (uint32_t)s, 1, LITEIPC_FLAG_DEFAULT);
    assert_int_equal(t_call(f, c, &m, NULL), LK_PARKED);
    IpcMsg *req1 = t_must_recv(f, s);
    t_advance(f, T_TIMEOUT_NS);
    t_tick(f);
    t_must_complete(f, c, -ETIME);

    assert_int_equal(t_call(f, c, &m, NULL), LK_PARKED);
    assert_int_equal(t_reply(f, s, req1, MT_FAILED_REPLY, 0), 0);
    t_must_no_completion(f);
    assert_true(lk_task_is_parked(f->k, c));
    assert_int_equal(t_tview(f, c).queued, 0);
    assert_int_equal(t_pool_used(f, c_pid), 0);
}

/* Q6 */
static void recv_sync_accepts_death_notify(void **state)
{
    t_kfix *f = *state;
    int c, c_pid, s, s_pid;
    t_client_server(f, &c, &c_pid, &s, &s_pid);
    assert_int_equal(t_set_ipc_thread(f, c), c);
    IpcMsg m;
    t_msg(&m, MT_REQUEST, (uint32_t)s, 1, LITEIPC_FLAG_DEFAULT);
    assert_int_equal(t_call(f, c, &m, NULL), LK_PARKED);
    assert_int_equal(lk_task_exit(f->k, s, f->now), 0);
    IpcMsg *in = t_must_complete(f, c, 0);
    assert_int_equal(in->type, MT_DEATH_NOTIFY);
    assert_int_equal(in->target.token, s);
    assert_false(lk_task_is_parked(f->k, c));
    t_must_free(f, c, in);
}

/* ---- accept/drop table, plain-receive column ----------------------------------------------- */

/* Q4 (fixed): a stale reply found by a plain receive is dropped silently. */
static void recv_plain_drops_queued_reply(void **state)
{
    t_kfix *f = *state;
    int c, c_pid, s, s_pid;
    t_client_server(f, &c, &c_pid, &s, &s_pid);
    IpcMsg m;
    t_msg(&m, MT_REQUEST, (uint32_t)s, 1, LITEIPC_FLAG_DEFAULT);
    assert_int_equal(t_call(f, c, &m, NULL), LK_PARKED);
    IpcMsg *req = t_must_recv(f, s);
    t_advance(f, T_TIMEOUT_NS);
    t_tick(f);
    t_must_complete(f, c, -ETIME);
    assert_int_equal(t_reply(f, s, req, MT_REPLY, 0), 0);
    assert_int_equal(t_tview(f, c).queued, 1); /* it stays queued after the timeout */
    t_ev_clear(f);
    assert_int_equal(t_recv(f, c, NULL), LK_PARKED);
    assert_int_equal(t_tview(f, c).queued, 0);
    assert_int_equal(t_pool_used(f, c_pid), 0);
    assert_int_equal(t_pview(f, c_pid).used_buffers, 0);
    assert_int_equal(t_ev_count(f, LK_EV_DROP_ON_READ), 1);
    t_must_no_completion(f);
}

/* Q4 (fixed): a reply reaching a plain receive, even one the task asked for, is dropped. */
static void recv_plain_drops_reply_arriving(void **state)
{
    t_kfix *f = *state;
    int c, c_pid, s, s_pid;
    t_client_server(f, &c, &c_pid, &s, &s_pid);
    IpcMsg *req = t_request_received(f, c, s, 1);
    assert_int_equal(t_recv(f, c, NULL), LK_PARKED);
    assert_int_equal(t_reply(f, s, req, MT_REPLY, 0), 0);
    t_must_no_completion(f);
    assert_true(lk_task_is_parked(f->k, c));
    assert_int_equal(t_tview(f, c).queued, 0);
    assert_int_equal(t_pool_used(f, c_pid), 0);
}

static void recv_plain_drops_failed_reply(void **state)
{
    t_kfix *f = *state;
    int c, c_pid, s, s_pid;
    t_client_server(f, &c, &c_pid, &s, &s_pid);
    IpcMsg *req = t_request_received(f, c, s, 1);
    assert_int_equal(t_recv(f, c, NULL), LK_PARKED);
    assert_int_equal(t_reply(f, s, req, MT_FAILED_REPLY, 0), 0);
    t_must_no_completion(f);
    assert_true(lk_task_is_parked(f->k, c));
    assert_int_equal(t_tview(f, c).queued, 0);
    assert_int_equal(t_pool_used(f, c_pid), 0);
}

static void recv_plain_accepts_death_notify(void **state)
{
    t_kfix *f = *state;
    int c, c_pid, s, s_pid;
    t_client_server(f, &c, &c_pid, &s, &s_pid);
    int ipc = t_must_task(f, c_pid);
    assert_int_equal(t_set_ipc_thread(f, ipc), ipc);
    assert_int_equal(t_recv(f, ipc, NULL), LK_PARKED);
    assert_int_equal(lk_task_exit(f->k, s, f->now), 0);
    IpcMsg *in = t_must_complete(f, ipc, 0);
    assert_int_equal(in->type, MT_DEATH_NOTIFY);
    assert_int_equal(in->target.handle, ipc);
    assert_int_equal(in->target.token, s);
    t_must_free(f, ipc, in);
}

/* ---- Q7, Q23 ------------------------------------------------------------------------------- */

static void recv_sync_deadline_restarts_after_drop(void **state)
{
    t_kfix *f = *state;
    int c, c_pid, s, s_pid;
    t_client_server(f, &c, &c_pid, &s, &s_pid);
    int c2 = t_must_task(f, c_pid);
    IpcMsg m;
    t_msg(&m, MT_REQUEST, (uint32_t)s, 1, LITEIPC_FLAG_DEFAULT);
    uint64_t t0 = f->now;
    assert_int_equal(t_call(f, c, &m, NULL), LK_PARKED);
    t_advance(f, 600);
    assert_int_equal(t_send_req(f, c2, (uint32_t)c, 2, LITEIPC_FLAG_ONEWAY), 0);
    assert_int_equal(lk_kernel_next_deadline(f->k), t0 + 600 + T_TIMEOUT_NS);
    f->now = t0 + T_TIMEOUT_NS;
    t_tick(f);
    t_must_no_completion(f);
    f->now = t0 + 600 + T_TIMEOUT_NS - 1;
    t_tick(f);
    t_must_no_completion(f);
    f->now = t0 + 600 + T_TIMEOUT_NS;
    t_tick(f);
    t_must_complete(f, c, -ETIME);
}

static void recv_sync_stream_of_drops_outlasts_timeout(void **state)
{
    t_kfix *f = *state;
    int c, c_pid, s, s_pid;
    t_client_server(f, &c, &c_pid, &s, &s_pid);
    int c2 = t_must_task(f, c_pid);
    IpcMsg m;
    t_msg(&m, MT_REQUEST, (uint32_t)s, 1, LITEIPC_FLAG_DEFAULT);
    uint64_t t0 = f->now;
    assert_int_equal(t_call(f, c, &m, NULL), LK_PARKED);
    for (int i = 0; i < 5; i++) {
        t_advance(f, T_TIMEOUT_NS - 1);
        t_tick(f);
        assert_int_equal(t_send_req(f, c2, (uint32_t)c, 2, LITEIPC_FLAG_ONEWAY), 0);
    }
    t_must_no_completion(f);
    assert_true(f->now - t0 > 4 * T_TIMEOUT_NS);
    assert_true(lk_task_is_parked(f->k, c));
    /* the reply still lands */
    IpcMsg *req = t_must_recv(f, s);
    assert_int_equal(t_reply(f, s, req, MT_REPLY, 0), -ETIME); /* past the reply deadline */
    t_advance(f, T_TIMEOUT_NS);
    t_tick(f);
    t_must_complete(f, c, -ETIME);
}

/* Q23: a synchronous call to oneself drops its own request. */
static void recv_sync_call_to_self_times_out(void **state)
{
    t_kfix *f = *state;
    int pid;
    int s = t_must_cms_size(f, T_CMS_MAX, &pid);
    int c = t_must_task(f, pid);
    t_ev_clear(f);
    IpcMsg m;
    t_msg(&m, MT_REQUEST, (uint32_t)c, 1, LITEIPC_FLAG_DEFAULT);
    assert_int_equal(t_call(f, c, &m, NULL), LK_PARKED);
    assert_int_equal(t_tview(f, c).queued, 0);
    assert_int_equal(t_pool_used(f, pid), 0);
    assert_int_equal(t_ev_count(f, LK_EV_MSG_WRITTEN), 1);
    assert_int_equal(t_ev_count(f, LK_EV_DROP_ON_READ), 1);
    t_advance(f, T_TIMEOUT_NS);
    t_tick(f);
    t_must_complete(f, c, -ETIME);
    (void)s;
}

/* Q23: a thread that only makes synchronous calls drops the calls made to it. */
static void recv_sync_call_to_sync_caller_times_out(void **state)
{
    t_kfix *f = *state;
    int pid;
    t_must_cms_size(f, T_CMS_MAX, &pid);
    int a = t_must_task(f, pid), b = t_must_task(f, pid), x = t_must_task(f, pid);
    IpcMsg m;
    t_msg(&m, MT_REQUEST, (uint32_t)x, 1, LITEIPC_FLAG_DEFAULT);
    assert_int_equal(t_call(f, b, &m, NULL), LK_PARKED);
    m.target.handle = (uint32_t)b;
    assert_int_equal(t_call(f, a, &m, NULL), LK_PARKED);
    assert_int_equal(t_tview(f, b).queued, 0);
    t_advance(f, T_TIMEOUT_NS);
    t_tick(f);
    lk_completion c1, c2;
    assert_int_equal(t_take(f, &c1), 1);
    assert_int_equal(t_take(f, &c2), 1);
    t_must_no_completion(f);
    assert_int_equal(c1.result, -ETIME);
    assert_int_equal(c2.result, -ETIME);
    assert_true((c1.tid == a && c2.tid == b) || (c1.tid == b && c2.tid == a));
}

/* "This call's request timestamp" is the reply's when the send part was a reply. */
static void recv_reply_and_wait_matches_reply_timestamp(void **state)
{
    t_kfix *f = *state;
    int pid;
    t_must_cms_size(f, T_CMS_MAX, &pid);
    int c = t_must_task(f, pid), s = t_must_task(f, pid);
    /* Both send each other a request at the same instant: both carry timestamp T. */
    assert_int_equal(t_send_req(f, c, (uint32_t)s, 1, LITEIPC_FLAG_DEFAULT), 0);
    assert_int_equal(t_send_req(f, s, (uint32_t)c, 2, LITEIPC_FLAG_DEFAULT), 0);
    IpcMsg *at_s = t_must_recv(f, s);
    IpcMsg *at_c = t_must_recv(f, c);
    assert_int_equal(at_s->timestamp, at_c->timestamp);
    uint64_t t = at_s->timestamp;
    t_advance(f, 10);

    /* s replies and waits in synchronous mode for timestamp T. */
    IpcMsg r;
    t_reply_to(&r, at_s, MT_REPLY, 3);
    assert_int_equal(t_sr(f, s, SEND | RECV | BUFF_FREE, &r, at_s, NULL), LK_PARKED);
    /* c's answer to s's request carries T as well: it is accepted as s's reply. */
    assert_int_equal(t_reply(f, c, at_c, MT_REPLY, 4), 0);
    IpcMsg *got = t_must_complete(f, s, 0);
    assert_int_equal(got->type, MT_REPLY);
    assert_int_equal(got->code, 4);
    assert_int_equal(got->timestamp, t);
    t_must_free(f, s, got);
    /* s's own reply went to c, where it waits in the queue (not a call of c's). */
    assert_int_equal(t_tview(f, c).queued, 1);
}

/* §4.4.4: what is handed over are user addresses in the receiver's mapping. */
static void recv_addresses_are_user_addresses(void **state)
{
    t_kfix *f = *state;
    t_must_cms(f);
    int pid = t_must_proc(f);
    t_must_open(f, pid);
    assert_int_equal(lk_mmap_check(f->k, pid, 8192, PROT_READ, MAP_PRIVATE), 0);
    /* The process sees its pool at another address than the kernel's mapping: above 4 GiB on
       64-bit (no address is cut to 32 bits on the way), the device's pool address in 32-bit. */
    const uintptr_t uva =
        UINTPTR_MAX > UINT32_MAX ? (uintptr_t)0x100000000000ull : LITE_IPC_POOL_UVADDR;
    void *mem = NULL;
    assert_int_equal(t_attach_at(f, pid, 8192, uva, &mem), 0);
    int s = t_must_task(f, pid);
    char data[6] = "hello";
    uint32_t dummy = 0;
    IpcMsg m;
    t_msg(&m, MT_REQUEST, (uint32_t)s, 1, LITEIPC_FLAG_ONEWAY);
    t_msg_data(&m, data, sizeof data);
    m.offsets = &dummy; /* spObjNum 0 */
    assert_int_equal(t_send(f, s, &m), 0);
    IpcMsg *in = NULL;
    assert_int_equal(t_recv(f, s, &in), 0);
    uintptr_t u = (uintptr_t)in;
    assert_true(u >= uva && u + sizeof(IpcMsg) <= uva + 8192);
    const IpcMsg *k = (const IpcMsg *)(void *)((char *)mem + (u - uva));
    assert_int_equal(k->code, 1);
    assert_int_equal(k->taskID, s);
    uintptr_t ud = (uintptr_t)k->data;
    assert_true(ud >= uva && ud + sizeof data <= uva + 8192);
    assert_memory_equal((char *)mem + (ud - uva), "hello", sizeof data);
    assert_null(k->offsets);
    t_must_free(f, s, in);
    assert_int_equal(t_pool_used(f, pid), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        T(recv_empty_queue_parks_without_deadline),
        T(recv_plain_waits_forever),
        T(recv_queued_message_returned_at_once),
        T(recv_plain_accepts_request_while_parked),
        T(recv_sync_deadline_is_now_plus_timeout),
        T(recv_sync_timeout_etime),
        T(recv_unpark_cancels_without_completion),
        T(recv_sync_accepts_matching_reply),
        T(recv_sync_drops_request_arriving),
        T(recv_sync_drops_requests_queued_before),
        T(recv_sync_drops_reply_with_other_timestamp),
        T(recv_sync_failed_reply_matching_enoent),
        T(recv_sync_drops_failed_reply_with_other_timestamp),
        T(recv_sync_accepts_death_notify),
        T(recv_plain_drops_queued_reply),
        T(recv_plain_drops_reply_arriving),
        T(recv_plain_drops_failed_reply),
        T(recv_plain_accepts_death_notify),
        T(recv_sync_deadline_restarts_after_drop),
        T(recv_sync_stream_of_drops_outlasts_timeout),
        T(recv_sync_call_to_self_times_out),
        T(recv_sync_call_to_sync_caller_times_out),
        T(recv_reply_and_wait_matches_reply_timestamp),
        T(recv_addresses_are_user_addresses),
    };
    return cmocka_run_group_tests_name("kernel_recv", tests, NULL, NULL);
}
