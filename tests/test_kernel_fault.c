/* SPDX-License-Identifier: Apache-2.0 */
/*
 * test_kernel_fault.c - fault injection in the pure kernel (liteipc.h, "fault injection"):
 * a failed Nth matching command, ENOMEM in the receiver's pool in the driver's order of
 * checks, an exhausted pool, a dropped and a delayed message (on the kernel's clock), kills on
 * a call, on a queued request and on a read, the INJECTED event of each, and the textual form
 * of $LITEIPC_FAULTS (good and bad specs).
 */
#include "kfix.h"

#include <errno.h>
#include <string.h>

#define T(fn) cmocka_unit_test_setup_teardown(fn, t_setup, t_teardown)
#define MS 1000000ull

static int must_add(t_kfix *f, liteipc_fault fault)
{
    int id = lk_kernel_fault_add(f->k, &fault);

    assert_true(id >= 0);
    return id;
}

/* The nth INJECTED event, checked for its fault's kind and id. */
static const lk_event *injected(t_kfix *f, unsigned n, liteipc_fault_kind kind, int id)
{
    const lk_event *ev = t_ev_nth(f, LK_EV_INJECTED, n);

    assert_non_null(ev);
    assert_int_equal(ev->fault, kind);
    assert_int_equal(ev->fault_id, id);
    return ev;
}

/* The index of the first event of type in f's record, or -1. */
static int ev_index(t_kfix *f, lk_event_type type)
{
    for (unsigned i = 0; i < f->nev; i++)
        if (f->ev[i].type == type)
            return (int)i;
    return -1;
}

/* caller's synchronous request to s, answered by s with a reply of code + 100. */
static void call_answered(t_kfix *f, int caller, int s, uint32_t code)
{
    IpcMsg m;

    t_msg(&m, MT_REQUEST, (uint32_t)s, code, LITEIPC_FLAG_DEFAULT);
    assert_int_equal(t_call(f, caller, &m, NULL), LK_PARKED);
    assert_int_equal(t_reply(f, s, t_must_recv(f, s), MT_REPLY, code + 100), 0);
    IpcMsg *rep = t_must_complete(f, caller, 0);
    assert_int_equal(rep->code, code + 100);
    t_must_free(f, caller, rep);
}

/* ---- FAIL ----------------------------------------------------------------------------------- */

static void fail_nth_matching_command(void **state)
{
    t_kfix *f = *state;
    int s = t_must_cms(f);
    IpcVersion v;
    int id = must_add(f, (liteipc_fault){
        .kind = LITEIPC_FAULT_FAIL, .cmd = IPC_GET_VERSION, .nth = 2, .err = EINVAL});

    t_ev_clear(f);
    assert_int_equal(t_set_ipc_thread(f, s), s); /* another command: not counted */
    assert_int_equal(t_version(f, s, &v), 0);
    assert_int_equal(t_ev_count(f, LK_EV_INJECTED), 0);
    v.driverVersion = 0;
    assert_int_equal(t_version(f, s, &v), -EINVAL);
    assert_int_equal(v.driverVersion, 0); /* it never ran */
    const lk_event *ev = injected(f, 0, LITEIPC_FAULT_FAIL, id);
    assert_int_equal(ev->err, EINVAL);
    assert_int_equal(ev->src_tid, s);
    assert_int_equal(ev->cmd, IPC_GET_VERSION);
    assert_true(ev_index(f, LK_EV_INJECTED) < ev_index(f, LK_EV_REFUSED));
    assert_int_equal(t_ev_nth(f, LK_EV_REFUSED, 0)->err, EINVAL);
    assert_int_equal(t_version(f, s, &v), 0); /* it fired once */
    assert_int_equal(v.driverVersion, DRIVER_VERSION);
}

static void fail_matches_flag_type_and_caller(void **state)
{
    t_kfix *f = *state;
    int c, cp, s, sp;
    t_client_server(f, &c, &cp, &s, &sp);
    must_add(f, (liteipc_fault){.kind = LITEIPC_FAULT_FAIL, .flags = SEND | RECV,
                                .type = LITEIPC_MSG_REQUEST, .tid = c, .dst_pid = sp,
                                .err = ETIME});
    int c2 = t_must_task(f, cp);
    IpcMsg m;

    /* A one-way send (SEND alone) and another task's call do not match. */
    assert_int_equal(t_send_req(f, c, (uint32_t)s, 1, LITEIPC_FLAG_ONEWAY), 0);
    assert_int_equal(t_must_recv_free(f, s), 1);
    call_answered(f, c2, s, 2);
    /* c's synchronous request fails at once: nothing is queued. */
    t_msg(&m, MT_REQUEST, (uint32_t)s, 3, LITEIPC_FLAG_DEFAULT);
    assert_int_equal(t_call(f, c, &m, NULL), -ETIME);
    assert_int_equal(t_tview(f, s).queued, 0);
    call_answered(f, c, s, 4); /* it fired once */
}

/* ---- NOMEM and an exhausted pool ------------------------------------------------------------ */

static void nomem_after_the_checks_before_allocation(void **state)
{
    t_kfix *f = *state;
    int c, cp, s, sp;
    t_client_server(f, &c, &cp, &s, &sp);
    int other = t_must_ready_task(f, 0, NULL);
    int id = must_add(f, (liteipc_fault){.kind = LITEIPC_FAULT_NOMEM, .dst_pid = sp});

    t_ev_clear(f);
    /* Checks before the allocation come first: a caller without access gets EACCES, and
       the fault is not spent. */
    assert_int_equal(t_send_req(f, other, (uint32_t)s, 1, LITEIPC_FLAG_ONEWAY), -EACCES);
    assert_int_equal(t_ev_count(f, LK_EV_INJECTED), 0);
    unsigned used = t_pool_stats(f, sp).used_blocks;
    assert_int_equal(t_send_req(f, c, (uint32_t)s, 2, LITEIPC_FLAG_ONEWAY), -ENOMEM);
    assert_int_equal(t_pool_stats(f, sp).used_blocks, used);
    const lk_event *ev = injected(f, 0, LITEIPC_FAULT_NOMEM, id);
    assert_int_equal(ev->err, ENOMEM);
    assert_int_equal(ev->src_tid, c);
    assert_int_equal(ev->dst_tid, s);
    assert_int_equal(ev->dst_pid, sp);
    assert_int_equal(ev->msg.code, 2);
    const lk_event *drop = t_ev_nth(f, LK_EV_DROP_ON_WRITE, 0);
    assert_non_null(drop);
    assert_int_equal(drop->err, ENOMEM);
    assert_true(ev_index(f, LK_EV_INJECTED) < ev_index(f, LK_EV_DROP_ON_WRITE));
    assert_int_equal(t_send_req(f, c, (uint32_t)s, 3, LITEIPC_FLAG_ONEWAY), 0);
    assert_int_equal(t_must_recv_free(f, s), 3);
}

/* A reply that meets a full pool fails with ENOMEM, and its BUFF_FREE still frees (Q13). */
static void nomem_reply_still_frees_the_request(void **state)
{
    t_kfix *f = *state;
    int c, cp, s, sp;
    t_client_server(f, &c, &cp, &s, &sp);
    IpcMsg m;

    must_add(f, (liteipc_fault){.kind = LITEIPC_FAULT_NOMEM, .type = LITEIPC_MSG_REPLY});
    t_msg(&m, MT_REQUEST, (uint32_t)s, 1, LITEIPC_FLAG_DEFAULT);
    assert_int_equal(t_call(f, c, &m, NULL), LK_PARKED);
    IpcMsg *req = t_must_recv(f, s);
    assert_int_equal(t_reply(f, s, req, MT_REPLY, 2), -ENOMEM);
    assert_int_equal(t_free(f, s, req), -EFAULT); /* freed already */
    t_advance(f, T_TIMEOUT_NS);
    t_tick(f);
    t_must_complete(f, c, -ETIME);
}

static void exhaust_every_send_until_cleared(void **state)
{
    t_kfix *f = *state;
    int c, cp, s, sp;
    t_client_server(f, &c, &cp, &s, &sp);

    must_add(f, (liteipc_fault){
        .kind = LITEIPC_FAULT_NOMEM, .dst_pid = sp, .count = LITEIPC_FAULT_ALWAYS});
    t_ev_clear(f);
    for (uint32_t i = 0; i < 5; i++)
        assert_int_equal(t_send_req(f, c, (uint32_t)s, i, LITEIPC_FLAG_ONEWAY), -ENOMEM);
    assert_int_equal(t_ev_count(f, LK_EV_INJECTED), 5);
    lk_kernel_fault_clear(f->k);
    assert_int_equal(t_send_req(f, c, (uint32_t)s, 9, LITEIPC_FLAG_ONEWAY), 0);
    assert_int_equal(t_must_recv_free(f, s), 9);
}

/* ---- DROP and DELAY --------------------------------------------------------------------------- */

static void drop_next_message_to_a_task(void **state)
{
    t_kfix *f = *state;
    int c, cp, s, sp;
    t_client_server(f, &c, &cp, &s, &sp);
    int id = must_add(f, (liteipc_fault){.kind = LITEIPC_FAULT_DROP, .dst_tid = s});

    t_ev_clear(f);
    assert_int_equal(t_recv(f, s, NULL), LK_PARKED);
    assert_int_equal(t_send_req(f, c, (uint32_t)s, 1, LITEIPC_FLAG_ONEWAY), 0); /* "sent" */
    t_must_no_completion(f);
    assert_int_equal(t_tview(f, s).queued, 0);
    assert_int_equal(t_pool_stats(f, sp).used_blocks, 0); /* the node went back */
    assert_int_equal(t_ev_count(f, LK_EV_MSG_WRITTEN), 0);
    const lk_event *ev = injected(f, 0, LITEIPC_FAULT_DROP, id);
    assert_int_equal(ev->src_tid, c);
    assert_int_equal(ev->dst_tid, s);
    assert_int_equal(ev->msg.code, 1);
    assert_int_equal(t_send_req(f, c, (uint32_t)s, 2, LITEIPC_FLAG_ONEWAY), 0);
    IpcMsg *in = t_must_complete(f, s, 0);
    assert_int_equal(in->code, 2);
    t_must_free(f, s, in);
}

static void delay_queues_on_the_kernel_clock(void **state)
{
    t_kfix *f = *state;
    int c, cp, s, sp;
    t_client_server(f, &c, &cp, &s, &sp);
    int id = must_add(f, (liteipc_fault){
        .kind = LITEIPC_FAULT_DELAY, .dst_tid = s, .delay_ms = 3});

    t_ev_clear(f);
    assert_int_equal(t_recv(f, s, NULL), LK_PARKED);
    uint64_t sent = f->now;
    assert_int_equal(t_send_req(f, c, (uint32_t)s, 1, LITEIPC_FLAG_ONEWAY), 0);
    const lk_event *ev = injected(f, 0, LITEIPC_FAULT_DELAY, id);
    assert_int_equal(ev->fault_ms, 3);
    assert_int_equal(lk_kernel_next_deadline(f->k), sent + 3 * MS);
    t_advance(f, 3 * MS - 1);
    t_tick(f);
    t_must_no_completion(f);
    assert_int_equal(t_ev_count(f, LK_EV_MSG_WRITTEN), 0);
    t_advance(f, 1);
    t_tick(f);
    IpcMsg *in = t_must_complete(f, s, 0);
    assert_int_equal(in->code, 1);
    assert_int_equal(t_ev_nth(f, LK_EV_MSG_WRITTEN, 0)->time_ns, sent + 3 * MS);
    assert_int_equal(lk_kernel_next_deadline(f->k), UINT64_MAX);
    t_must_free(f, s, in);
}

static void delayed_message_is_overtaken(void **state)
{
    t_kfix *f = *state;
    int c, cp, s, sp;
    t_client_server(f, &c, &cp, &s, &sp);

    must_add(f, (liteipc_fault){.kind = LITEIPC_FAULT_DELAY, .dst_tid = s, .delay_ms = 1});
    assert_int_equal(t_send_req(f, c, (uint32_t)s, 1, LITEIPC_FLAG_ONEWAY), 0);
    assert_int_equal(t_send_req(f, c, (uint32_t)s, 2, LITEIPC_FLAG_ONEWAY), 0);
    t_advance(f, MS);
    t_tick(f);
    assert_int_equal(t_must_recv_free(f, s), 2);
    assert_int_equal(t_must_recv_free(f, s), 1);
}

static void delayed_message_dropped_when_its_task_dies(void **state)
{
    t_kfix *f = *state;
    int c, cp, s, sp;
    t_client_server(f, &c, &cp, &s, &sp);

    must_add(f, (liteipc_fault){.kind = LITEIPC_FAULT_DELAY, .dst_tid = s, .delay_ms = 1});
    assert_int_equal(t_send_req(f, c, (uint32_t)s, 1, LITEIPC_FLAG_ONEWAY), 0);
    assert_int_equal(t_pool_stats(f, sp).used_blocks, 1);
    t_ev_clear(f);
    assert_int_equal(lk_task_exit(f->k, s, f->now), 0);
    const lk_event *ev = t_ev_nth(f, LK_EV_DROP_ON_READ, 0);
    assert_non_null(ev);
    assert_int_equal(ev->err, ESRCH);
    assert_int_equal(ev->msg.code, 1);
    assert_int_equal(t_pool_stats(f, sp).used_blocks, 0);
    assert_int_equal(lk_kernel_next_deadline(f->k), UINT64_MAX);
}

/* ---- KILL ------------------------------------------------------------------------------------ */

/*
 * The example: the service dies exactly when the client's request has been queued.
 * As on the device the request is drained with the service's queue, and the client's process
 * is sent a death notice; the client being its process's IPC thread, its synchronous call
 * accepts the notice as its answer (Q6).
 */
static void kill_service_when_request_queued(void **state)
{
    t_kfix *f = *state;
    int c, cp, s, sp;
    t_client_server(f, &c, &cp, &s, &sp);
    assert_int_equal(t_set_ipc_thread(f, c), c);
    int id = must_add(f, (liteipc_fault){.kind = LITEIPC_FAULT_KILL, .on = LITEIPC_ON_WRITTEN,
                                         .type = LITEIPC_MSG_REQUEST, .dst_pid = sp});
    IpcMsg m;
    lk_kill kill;

    IpcMsg *notice = NULL;

    t_ev_clear(f);
    t_msg(&m, MT_REQUEST, (uint32_t)s, 7, LITEIPC_FLAG_DEFAULT);
    assert_int_equal(t_call(f, c, &m, &notice), 0); /* answered within the call: the notice */
    t_must_no_completion(f);
    assert_false(t_pview(f, sp).in_use);
    assert_false(t_tview(f, s).in_use);
    /* Events: queued, injected, drained, the task's death; in that order. */
    int written = ev_index(f, LK_EV_MSG_WRITTEN), inj = ev_index(f, LK_EV_INJECTED);
    int drained = ev_index(f, LK_EV_DROP_ON_READ), death = ev_index(f, LK_EV_TASK_DEATH);
    assert_true(written >= 0 && written < inj && inj < drained && drained < death);
    const lk_event *ev = injected(f, 0, LITEIPC_FAULT_KILL, id);
    assert_int_equal(ev->src_tid, s); /* the task whose event it was */
    assert_int_equal(ev->dst_tid, -1); /* the whole process */
    assert_int_equal(ev->dst_pid, sp);
    assert_int_equal(ev->msg.code, 7);
    assert_int_equal(t_ev_nth(f, LK_EV_DROP_ON_READ, 0)->err, ESRCH);
    assert_int_equal(lk_kernel_take_kill(f->k, &kill), 1);
    assert_int_equal(kill.pid, sp);
    assert_int_equal(kill.tid, -1);
    assert_int_equal(lk_kernel_take_kill(f->k, &kill), 0);
    /* The notice is what the client received. */
    assert_non_null(notice);
    assert_int_equal(notice->type, MT_DEATH_NOTIFY);
    assert_int_equal(notice->target.token, (uint32_t)s);
    assert_int_equal(t_ev_nth(f, LK_EV_MSG_READ, 0)->dst_tid, c);
    t_must_free(f, c, notice);
}

/* Without an IPC thread the notice is lost and the client's call times out (ETIME). */
static void kill_service_client_times_out(void **state)
{
    t_kfix *f = *state;
    int c, cp, s, sp;
    t_client_server(f, &c, &cp, &s, &sp);
    must_add(f, (liteipc_fault){.kind = LITEIPC_FAULT_KILL, .on = LITEIPC_ON_WRITTEN,
                                .dst_tid = s});
    IpcMsg m;

    t_msg(&m, MT_REQUEST, (uint32_t)s, 7, LITEIPC_FLAG_DEFAULT);
    assert_int_equal(t_call(f, c, &m, NULL), LK_PARKED);
    assert_false(t_pview(f, sp).in_use);
    t_must_no_completion(f);
    t_advance(f, T_TIMEOUT_NS);
    t_tick(f);
    t_must_complete(f, c, -ETIME);
}

static void kill_caller_on_its_nth_call(void **state)
{
    t_kfix *f = *state;
    int c, cp, s, sp;
    t_client_server(f, &c, &cp, &s, &sp);
    int id = must_add(f, (liteipc_fault){.kind = LITEIPC_FAULT_KILL, .on = LITEIPC_ON_CALL,
                                         .tid = c, .nth = 2, .task_only = 1});
    lk_kill kill;

    t_ev_clear(f);
    assert_int_equal(t_send_req(f, c, (uint32_t)s, 1, LITEIPC_FLAG_ONEWAY), 0);
    assert_int_equal(t_send_req(f, c, (uint32_t)s, 2, LITEIPC_FLAG_ONEWAY), -ERFKILL);
    assert_false(t_tview(f, c).in_use);
    assert_true(t_pview(f, cp).in_use); /* the task alone */
    assert_int_equal(t_tview(f, s).queued, 1); /* the second send never ran */
    const lk_event *ev = injected(f, 0, LITEIPC_FAULT_KILL, id);
    assert_int_equal(ev->dst_tid, c);
    assert_int_equal(ev->dst_pid, cp);
    assert_int_equal(t_ev_count(f, LK_EV_REFUSED), 0); /* a kill is no refusal */
    assert_int_equal(lk_kernel_take_kill(f->k, &kill), 1);
    assert_int_equal(kill.tid, c);
    assert_int_equal(kill.pid, cp);
    assert_int_equal(t_must_recv_free(f, s), 1);
}

/* A parked victim's receive ends with ERFKILL, as at any process death. */
static void kill_parked_process_by_another_call(void **state)
{
    t_kfix *f = *state;
    int c, cp, s, sp;
    t_client_server(f, &c, &cp, &s, &sp);
    must_add(f, (liteipc_fault){
        .kind = LITEIPC_FAULT_KILL, .on = LITEIPC_ON_CALL, .tid = c, .kill_pid = sp});

    assert_int_equal(t_recv(f, s, NULL), LK_PARKED);
    t_ev_clear(f);
    /* The service is gone before c's send runs: no access to a dead task (§1.5). */
    assert_int_equal(t_send_req(f, c, (uint32_t)s, 1, LITEIPC_FLAG_ONEWAY), -EACCES);
    t_must_complete(f, s, -ERFKILL);
    assert_int_equal(t_ev_count(f, LK_EV_RECV_KILLED), 1);
    assert_true(ev_index(f, LK_EV_INJECTED) < ev_index(f, LK_EV_RECV_KILLED));
    assert_false(t_pview(f, sp).in_use);
}

/* Killed by what it reads: its receive returns ERFKILL, the message dies with the process. */
static void kill_reader_on_read(void **state)
{
    t_kfix *f = *state;
    int c, cp, s, sp;
    t_client_server(f, &c, &cp, &s, &sp);
    must_add(f, (liteipc_fault){.kind = LITEIPC_FAULT_KILL, .on = LITEIPC_ON_READ,
                                .dst_tid = s, .type = LITEIPC_MSG_ONEWAY});

    assert_int_equal(t_recv(f, s, NULL), LK_PARKED);
    /* Woken by c's send, s had received the message when the kill came: its wait ends with
       ERFKILL, and the message dies with its process. */
    assert_int_equal(t_send_req(f, c, (uint32_t)s, 1, LITEIPC_FLAG_ONEWAY), 0);
    t_must_complete(f, s, -ERFKILL);
    t_must_no_completion(f);
    assert_false(t_pview(f, sp).in_use);
}

static void kill_reader_in_its_own_receive(void **state)
{
    t_kfix *f = *state;
    int c, cp, s, sp;
    t_client_server(f, &c, &cp, &s, &sp);
    must_add(f, (liteipc_fault){.kind = LITEIPC_FAULT_KILL, .on = LITEIPC_ON_READ,
                                .dst_tid = s, .task_only = 1});

    assert_int_equal(t_send_req(f, c, (uint32_t)s, 1, LITEIPC_FLAG_ONEWAY), 0);
    IpcMsg *in = (IpcMsg *)1;
    assert_int_equal(t_recv(f, s, &in), -ERFKILL);
    assert_false(t_tview(f, s).in_use);
    assert_true(t_pview(f, sp).in_use);
    t_allow_leaks(f); /* the message it had received stays in its process's used list */
}

static void bad_faults_are_refused(void **state)
{
    t_kfix *f = *state;
    liteipc_fault bad = {.kind = LITEIPC_FAULT_FAIL}; /* no errno */

    assert_int_equal(lk_kernel_fault_add(f->k, &bad), -EINVAL);
    bad = (liteipc_fault){.kind = (liteipc_fault_kind)9};
    assert_int_equal(lk_kernel_fault_add(f->k, &bad), -EINVAL);
    bad = (liteipc_fault){.kind = LITEIPC_FAULT_DROP, .tid = -1};
    assert_int_equal(lk_kernel_fault_add(f->k, &bad), -EINVAL);
    for (int i = 0; i < LITEIPC_FAULT_MAX; i++)
        must_add(f, (liteipc_fault){.kind = LITEIPC_FAULT_DROP, .dst_tid = 100});
    liteipc_fault one = {.kind = LITEIPC_FAULT_DROP};
    assert_int_equal(lk_kernel_fault_add(f->k, &one), -ENOSPC);
    lk_kernel_fault_clear(f->k);
    assert_int_equal(lk_kernel_fault_add(f->k, &one), 0);
}

/* ---- the textual form ------------------------------------------------------------------------ */

static void parse_good_specs(void **state)
{
    liteipc_fault f[4];
    char why[128];
    (void)state;

    assert_int_equal(liteipc_fault_parse("fail:cmd=send_recv:flag=send+recv:nth=3:errno=ENOMEM"
                                         ";kill:on=read:tid=9:task",
                                         f, 4, why, sizeof why),
                     2);
    assert_int_equal(f[0].kind, LITEIPC_FAULT_FAIL);
    assert_int_equal(f[0].cmd, IPC_SEND_RECV_MSG);
    assert_int_equal(f[0].flags, SEND | RECV);
    assert_int_equal(f[0].nth, 3);
    assert_int_equal(f[0].err, ENOMEM);
    assert_int_equal(f[1].kind, LITEIPC_FAULT_KILL);
    assert_int_equal(f[1].on, LITEIPC_ON_READ);
    assert_int_equal(f[1].tid, 9);
    assert_int_equal(f[1].task_only, 1);
    assert_int_equal(liteipc_fault_parse("exhaust:dst_pid=4;;delay:dst_tid=12:ms=250:type=oneway;"
                                         "drop:type=reply:count=2;fail:errno=22:cmd=0x80",
                                         f, 4, why, sizeof why),
                     4);
    assert_int_equal(f[0].kind, LITEIPC_FAULT_NOMEM);
    assert_int_equal(f[0].count, LITEIPC_FAULT_ALWAYS);
    assert_int_equal(f[0].dst_pid, 4);
    assert_int_equal(f[1].kind, LITEIPC_FAULT_DELAY);
    assert_int_equal(f[1].delay_ms, 250);
    assert_int_equal(f[1].type, LITEIPC_MSG_ONEWAY);
    assert_int_equal(f[2].count, 2);
    assert_int_equal(f[2].type, LITEIPC_MSG_REPLY);
    assert_int_equal(f[3].err, EINVAL);
    assert_int_equal(f[3].cmd, 0x80);
    assert_int_equal(liteipc_fault_parse("", f, 4, why, sizeof why), 0);
    assert_int_equal(liteipc_fault_parse("kill:on=written:kill_pid=5:type=death", f, 1, NULL, 0),
                     1);
    assert_int_equal(f[0].kill_pid, 5);
    assert_int_equal(f[0].type, LITEIPC_MSG_DEATH_NOTIFY);
}

static void parse_bad_specs(void **state)
{
    static const struct {
        const char *spec, *why;
    } bad[] = {
        {"explode", "\"explode\": unknown kind"},
        {"fail:nth=2", "fail needs errno="},
        {"fail:errno=EWHAT", "\"errno=EWHAT\": bad value"},
        {"drop:colour=red", "\"colour=red\": unknown setting"},
        {"drop:tid=0", "\"tid=0\": bad value"},
        {"drop:tid=-3", "\"tid=-3\": bad value"},
        {"delay:ms=ten", "\"ms=ten\": bad value"},
        {"drop:flag=send+sideways", "\"flag=send+sideways\": bad value"},
        {"kill:on=lunch", "\"on=lunch\": bad value"},
        {"drop:on=read", "are for kill"},
        {"drop:task", "are for kill"},
        {"nomem:type=letter", "\"type=letter\": bad value"},
        {"drop;drop;drop", "more than 2 faults"},
    };
    liteipc_fault f[2];
    char why[128];
    (void)state;

    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        assert_int_equal(liteipc_fault_parse(bad[i].spec, f, 2, why, sizeof why), -EINVAL);
        if (strstr(why, bad[i].why) == NULL)
            fail_msg("%s: \"%s\" does not say \"%s\"", bad[i].spec, why, bad[i].why);
    }
    assert_int_equal(liteipc_fault_parse(NULL, f, 2, NULL, 0), -EINVAL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        T(fail_nth_matching_command),
        T(fail_matches_flag_type_and_caller),
        T(nomem_after_the_checks_before_allocation),
        T(nomem_reply_still_frees_the_request),
        T(exhaust_every_send_until_cleared),
        T(drop_next_message_to_a_task),
        T(delay_queues_on_the_kernel_clock),
        T(delayed_message_is_overtaken),
        T(delayed_message_dropped_when_its_task_dies),
        T(kill_service_when_request_queued),
        T(kill_service_client_times_out),
        T(kill_caller_on_its_nth_call),
        T(kill_parked_process_by_another_call),
        T(kill_reader_on_read),
        T(kill_reader_in_its_own_receive),
        T(bad_faults_are_refused),
        cmocka_unit_test(parse_good_specs),
        cmocka_unit_test(parse_bad_specs),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
