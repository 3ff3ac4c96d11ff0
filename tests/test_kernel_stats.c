/* SPDX-License-Identifier: Apache-2.0 */
/*
 * test_kernel_stats.c - the kernel's counters (issue 11, `liteipcctl stats`): each one moves on
 * its event and on nothing else, with no event sink installed (counting must not depend on
 * anyone listening), and each process's pool keeps its high-water mark.
 */
#include "kfix.h"

#include <errno.h>
#include <string.h>

/* A default fixture whose kernel has no event sink: the counters must move on their own. */
static int s_setup(void **state)
{
    int err = t_setup(state);
    t_kfix *f = *state;

    if (err == 0)
        lk_kernel_set_event_sink(f->k, NULL, NULL);
    return err;
}

#define T(fn) cmocka_unit_test_setup_teardown(fn, s_setup, t_teardown)

static lk_stats stats_of(t_kfix *f)
{
    lk_stats st;

    lk_kernel_stats(f->k, &st);
    return st;
}

/* Every counter of now equals that of then, except the ones a test names by moving them. */
static void assert_same(const lk_stats *now, const lk_stats *then)
{
    assert_memory_equal(now, then, sizeof(*now));
}

static void oneway_counts_its_bytes(void **state)
{
    t_kfix *f = *state;
    int c, c_pid, s, s_pid;
    char data[100] = "payload";
    IpcMsg m;
    lk_stats before, after;

    t_client_server(f, &c, &c_pid, &s, &s_pid);
    before = stats_of(f);
    t_msg(&m, MT_REQUEST, (uint32_t)s, 7, LITEIPC_FLAG_ONEWAY);
    t_msg_data(&m, data, sizeof(data));
    assert_int_equal(t_send(f, c, &m), 0);
    after = stats_of(f);
    assert_int_equal(after.oneway, before.oneway + 1);
    assert_int_equal(after.bytes, before.bytes + sizeof(data));
    assert_int_equal(after.received, before.received);
    before.oneway++;
    before.bytes += sizeof(data);
    assert_same(&after, &before);

    t_must_recv_free(f, s);
    after = stats_of(f);
    assert_int_equal(after.received, before.received + 1);
}

/* c calls s synchronously and s answers with type (MT_REPLY or MT_FAILED_REPLY). */
static void call_answered(t_kfix *f, int c, int s, MsgType type)
{
    IpcMsg m, *req;

    t_msg(&m, MT_REQUEST, (uint32_t)s, 1, LITEIPC_FLAG_DEFAULT);
    assert_int_equal(t_call(f, c, &m, NULL), LK_PARKED);
    req = t_must_recv(f, s);
    assert_int_equal(t_reply(f, s, req, type, 1), 0);
    if (type == MT_REPLY)
        t_must_free(f, c, t_must_complete(f, c, 0));
    else
        t_must_complete(f, c, -ENOENT);
}

/* A call answered with a reply, then one answered with a failed reply. */
static void calls_replies_and_failed_replies(void **state)
{
    t_kfix *f = *state;
    int c, c_pid, s, s_pid;
    lk_stats before, after;

    t_client_server(f, &c, &c_pid, &s, &s_pid);
    before = stats_of(f);
    call_answered(f, c, s, MT_REPLY);
    after = stats_of(f);
    assert_int_equal(after.calls, before.calls + 1);
    assert_int_equal(after.replies, before.replies + 1);
    assert_int_equal(after.received, before.received + 2); /* the request and the reply */
    before.calls++;
    before.replies++;
    before.received += 2;
    assert_same(&after, &before); /* no failed reply, timeout, refusal, drop */

    call_answered(f, c, s, MT_FAILED_REPLY);
    after = stats_of(f);
    assert_int_equal(after.calls, before.calls + 1);
    assert_int_equal(after.failed_replies, before.failed_replies + 1);
    assert_int_equal(after.replies, before.replies);
}

static void timeout_with_a_short_timeout(void **state)
{
    t_kfix *f = *state;
    int c, c_pid, s, s_pid;
    IpcMsg m;
    lk_stats before, after;

    t_client_server(f, &c, &c_pid, &s, &s_pid);
    before = stats_of(f);
    t_msg(&m, MT_REQUEST, (uint32_t)s, 1, LITEIPC_FLAG_DEFAULT);
    assert_int_equal(t_call(f, c, &m, NULL), LK_PARKED);
    t_advance(f, T_TIMEOUT_NS - 1);
    t_tick(f);
    assert_int_equal(stats_of(f).timeouts, before.timeouts);
    t_advance(f, 1);
    t_tick(f);
    t_must_complete(f, c, -ETIME);
    after = stats_of(f);
    assert_int_equal(after.timeouts, before.timeouts + 1);
    t_must_recv_free(f, s);
}

static void refusals_by_errno(void **state)
{
    t_kfix *f = *state;
    int c, c_pid, s, s_pid, d;
    lk_stats before, after;

    t_client_server(f, &c, &c_pid, &s, &s_pid);
    d = t_must_ready_task(f, 0, NULL);
    before = stats_of(f);
    assert_int_equal(t_send_req(f, d, (uint32_t)s, 1, LITEIPC_FLAG_ONEWAY), -EACCES);
    assert_int_equal(t_send_req(f, d, (uint32_t)s, 1, LITEIPC_FLAG_ONEWAY), -EACCES);
    assert_int_equal(t_set_cms(f, d, 256), -EEXIST);
    after = stats_of(f);
    assert_int_equal(after.refused[EACCES], before.refused[EACCES] + 2);
    assert_int_equal(after.refused[EEXIST], before.refused[EEXIST] + 1);
    before.refused[EACCES] += 2;
    before.refused[EEXIST]++;
    assert_same(&after, &before); /* refused before any message: no drop, nothing queued */
}

static void drop_on_write_and_on_read(void **state)
{
    t_kfix *f = *state;
    int c, c_pid, s, s_pid;
    static char big[T_CMS_MAX + 1];
    IpcMsg m;
    lk_stats before, after;

    t_client_server(f, &c, &c_pid, &s, &s_pid);
    /* A one-way to s that s never reads: drained (ESRCH) when s dies. */
    assert_int_equal(t_send_req(f, c, (uint32_t)s, 1, LITEIPC_FLAG_ONEWAY), 0);
    before = stats_of(f);
    assert_int_equal(lk_task_exit(f->k, s, f->now), 0);
    after = stats_of(f);
    assert_int_equal(after.drop_read[ESRCH], before.drop_read[ESRCH] + 1);
    assert_int_equal(after.task_deaths, before.task_deaths + 1);

    /* A request to the CMS beyond its size limit: allocated, then dropped (EINVAL, §4.3.5),
       and the send is refused. */
    before = after;
    t_msg(&m, MT_REQUEST, 0, 1, LITEIPC_FLAG_ONEWAY);
    t_msg_data(&m, big, sizeof(big));
    assert_int_equal(t_send(f, c, &m), -EINVAL);
    after = stats_of(f);
    assert_int_equal(after.drop_write[EINVAL], before.drop_write[EINVAL] + 1);
    assert_int_equal(after.refused[EINVAL], before.refused[EINVAL] + 1);
    assert_int_equal(after.oneway, before.oneway);
    assert_int_equal(after.bytes, before.bytes);
}

static void deaths_and_killed_waits(void **state)
{
    t_kfix *f = *state;
    int pid;
    int cms = t_must_cms(f); /* IPC_SEND_RECV_MSG needs a ServiceManager */
    int a = t_must_ready_task(f, 0, &pid);
    int b = t_must_task(f, pid);
    lk_stats before = stats_of(f), after;

    assert_int_equal(t_recv(f, a, NULL), LK_PARKED);
    assert_int_equal(lk_proc_exit(f->k, pid, f->now), 0);
    t_must_complete(f, a, -ERFKILL);
    after = stats_of(f);
    assert_int_equal(after.process_deaths, before.process_deaths + 1);
    assert_int_equal(after.task_deaths, before.task_deaths + 2); /* a and b */
    assert_int_equal(after.killed, before.killed + 1);
    assert_int_equal(lk_task_pid(f->k, b), -ESRCH);
    assert_int_equal(lk_task_pid(f->k, cms), t_pid_of(f, cms));
}

static void death_notice_is_counted(void **state)
{
    t_kfix *f = *state;
    int c, c_pid, s, s_pid;
    lk_stats before, after;

    t_client_server(f, &c, &c_pid, &s, &s_pid);
    assert_int_equal(t_set_ipc_thread(f, c), c);
    before = stats_of(f);
    assert_int_equal(lk_task_exit(f->k, s, f->now), 0);
    after = stats_of(f);
    assert_int_equal(after.death_notices, before.death_notices + 1);
    assert_int_equal(t_must_recv(f, c)->type, MT_DEATH_NOTIFY);
    t_allow_leaks(f);
}

static void pool_high_water_mark(void **state)
{
    t_kfix *f = *state;
    int c, c_pid, s, s_pid;
    char data[1000] = {0};
    IpcMsg m, *in[3];
    size_t peak;

    t_client_server(f, &c, &c_pid, &s, &s_pid);
    peak = t_pview(f, s_pid).pool_peak;
    assert_true(peak > 0); /* t_give_info's message */
    t_msg(&m, MT_REQUEST, (uint32_t)s, 1, LITEIPC_FLAG_ONEWAY);
    t_msg_data(&m, data, sizeof(data));
    for (int i = 0; i < 3; i++)
        assert_int_equal(t_send(f, c, &m), 0);
    peak = t_pview(f, s_pid).pool_peak;
    assert_true(peak >= 3 * sizeof(data));
    assert_int_equal(peak, lk_pool_used(lk_proc_pool_base(f->k, s_pid)));
    for (int i = 0; i < 3; i++)
        in[i] = t_must_recv(f, s);
    for (int i = 0; i < 3; i++)
        t_must_free(f, s, in[i]);
    assert_int_equal(lk_pool_used(lk_proc_pool_base(f->k, s_pid)), 0);
    assert_int_equal(t_pview(f, s_pid).pool_peak, peak); /* a high-water mark stays */
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        T(oneway_counts_its_bytes),
        T(calls_replies_and_failed_replies),
        T(timeout_with_a_short_timeout),
        T(refusals_by_errno),
        T(drop_on_write_and_on_read),
        T(deaths_and_killed_waits),
        T(death_notice_is_counted),
        T(pool_high_water_mark),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
