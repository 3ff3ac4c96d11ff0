/* SPDX-License-Identifier: Apache-2.0 */
/*
 * test_stack_fault_inject.c - fault injection through the whole stack (liteipc.h, "fault
 * injection"): liteipc_fault_add/clear, $LITEIPC_FAULTS read by liteipc_kernel_start (a good
 * spec armed, a bad one refusing the start with a clear message), a service killed exactly
 * when a client's request has been queued (the client, its process's IPC thread, gets the
 * death notice as its answer; the service's own receive ends with ERFKILL), a task killed
 * alone (its thread's later calls fail with ESRCH), an exhausted pool, a dropped and a delayed
 * message, the INJECTED events, and their note in the Mermaid trace. (test_stack_fault.c is
 * about faults of user memory, not these.)
 */
#include "sfix.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#define T(fn) cmocka_unit_test_setup_teardown(fn, t_setup, t_teardown)
#define TF(fn) cmocka_unit_test_setup_teardown(fn, t_setup_fast, t_teardown)

static void must_add(liteipc_kernel *k, liteipc_fault f)
{
    int id = liteipc_fault_add(k, &f);

    if (id < 0)
        fail_msg("liteipc_fault_add: %d (%s)", id, liteipc_errno_name(-id));
}

/* The logged INJECTED events (up to max). */
static size_t injected(t_ctx *c, liteipc_event *out, size_t max)
{
    return t_ev_collect(c->ev, LITEIPC_EV_INJECTED, -1, out, max);
}

/* Position of the first logged event of type about task tid (src or dst), or -1. */
static int ev_pos(t_ctx *c, liteipc_event_type type, int tid)
{
    static liteipc_event all[T_EV_LOG_MAX];
    size_t n = t_ev_collect(c->ev, -1, -1, all, T_EV_LOG_MAX);

    for (size_t i = 0; i < n; i++)
        if (all[i].type == type && (tid < 0 || all[i].src_tid == tid || all[i].dst_tid == tid))
            return (int)i;
    return -1;
}

static int version(liteipc_kernel *k, int fd)
{
    IpcVersion v = {0};

    return liteipc_ioctl(k, fd, IPC_GET_VERSION, &v);
}

/* ---- the API ---------------------------------------------------------------------------------- */

static void inject_fail_nth_command_then_clear(void **state)
{
    t_ctx *c = *state;
    int fd = t_dev_setup(c->k, T_POOL, NULL);
    liteipc_event ev[4];
    liteipc_fault bad = {.kind = LITEIPC_FAULT_FAIL};

    assert_true(fd >= 0);
    assert_int_equal(liteipc_fault_add(c->k, &bad), -EINVAL);
    assert_int_equal(liteipc_fault_add(NULL, &bad), -EINVAL);
    must_add(c->k, (liteipc_fault){.kind = LITEIPC_FAULT_FAIL, .cmd = IPC_GET_VERSION, .nth = 2,
                                   .count = LITEIPC_FAULT_ALWAYS, .err = ETIME});
    assert_ok(version(c->k, fd));
    assert_errno(version(c->k, fd), ETIME);
    assert_errno(version(c->k, fd), ETIME);
    assert_ok(liteipc_fault_clear(c->k));
    assert_ok(version(c->k, fd));
    assert_int_equal(injected(c, ev, 4), 2);
    assert_int_equal(ev[0].fault, LITEIPC_FAULT_FAIL);
    assert_int_equal(ev[0].err, ETIME);
    assert_int_equal(ev[0].src_tid, liteipc_self_tid(c->k));
    assert_int_equal(ev[0].cmd, IPC_GET_VERSION);
    assert_string_equal(liteipc_event_name(LITEIPC_EV_INJECTED), "injected");
    liteipc_close(c->k, fd);
}

/* ---- the example --------------------------------------------------------------------- */

/*
 * The service dies exactly when the client's request has been queued, with no sleep and no
 * signal: the client, its process's IPC thread, gets the death notice as the answer of its call
 * (Q6) at once; the service's receive, which had taken the request, ends with ERFKILL.
 */
static void inject_kill_service_when_request_queued(void **state)
{
    t_ctx *c = *state;
    t_svc svc = {0};
    int fd = t_dev_setup(c->k, T_POOL, NULL);
    int me = liteipc_self_tid(c->k);
    IpcMsg *r = NULL, got;
    liteipc_event ev[4];
    uint32_t h = 0;
    int rc, err;

    assert_true(fd >= 0);
    assert_ok(t_set_cms(c->k, fd, T_CMS_BIG));
    assert_int_equal(t_set_ipc_thread(c->k, fd), me);
    t_svc_start(&svc, c->k);
    assert_ok(t_gen_handle(c->k, fd, (uint32_t)svc.tid, &h)); /* grants our process */
    must_add(c->k, (liteipc_fault){.kind = LITEIPC_FAULT_KILL, .on = LITEIPC_ON_WRITTEN,
                                   .type = LITEIPC_MSG_REQUEST, .dst_pid = svc.pid});
    assert_ok(t_ev_wait(c->ev, LITEIPC_EV_RECV_WAIT, svc.tid, 1, T_WAIT_MS)); /* in its loop */
    errno = 0;
    rc = t_call(c->k, fd, (uint32_t)svc.tid, 1, "?", 1, &r);
    err = errno;
    memset(&got, 0, sizeof(got));
    if (rc == 0) {
        got = *r;
        assert_ok(t_free(c->k, fd, r));
    }
    t_svc_join(&svc);
    liteipc_close(c->k, fd);
    if (rc != 0)
        fail_msg("call: errno %d (%s), expected the death notice", err, liteipc_errno_name(err));
    assert_int_equal(got.type, MT_DEATH_NOTIFY);
    assert_int_equal(got.target.token, svc.tid);
    assert_int_equal(svc.exit_errno, ERFKILL);
    assert_int_equal(svc.requests, 0);
    assert_int_equal(injected(c, ev, 4), 1);
    assert_int_equal(ev[0].fault, LITEIPC_FAULT_KILL);
    assert_int_equal(ev[0].dst_tid, -1);
    assert_int_equal(ev[0].dst_pid, svc.pid);
    assert_int_equal(ev[0].msg.code, 1);
    assert_true(ev_pos(c, LITEIPC_EV_MSG_WRITTEN, me) < ev_pos(c, LITEIPC_EV_INJECTED, -1));
    assert_true(ev_pos(c, LITEIPC_EV_INJECTED, -1) < ev_pos(c, LITEIPC_EV_TASK_DEATH, svc.tid));
    assert_int_equal(liteipc_kernel_process_count(c->k), 1); /* ours alone */
}

/* ---- a task killed alone ------------------------------------------------------------------- */

static void killed_task_body(t_actor *a)
{
    T_CHECK_ERR(version(a->k, a->fd), ERFKILL); /* killed in this call */
    T_CHECK_ERR(version(a->k, a->fd), ESRCH);   /* and dead for every later one */
}

static void inject_kill_task_alone(void **state)
{
    t_ctx *c = *state;
    t_actor a = {.body = killed_task_body};
    int fd = t_dev_setup(c->k, T_POOL, NULL);

    assert_true(fd >= 0);
    t_actor_start(&a, c->k);
    must_add(c->k, (liteipc_fault){.kind = LITEIPC_FAULT_KILL, .on = LITEIPC_ON_CALL,
                                   .tid = a.tid, .task_only = 1});
    t_actor_go(&a);
    t_actor_join(&a);
    t_assert_threads_ok();
    assert_int_equal(t_ev_count_src(c->ev, LITEIPC_EV_TASK_DEATH, a.tid), 1);
    assert_ok(version(c->k, fd)); /* the kernel serves on; the TID may be handed out again */
    liteipc_close(c->k, fd);
}

/* ---- drop and delay --------------------------------------------------------------------------- */

static void inject_drop_then_deliver(void **state)
{
    t_ctx *c = *state;
    t_svc svc = {0};
    int fd = t_dev_setup(c->k, T_POOL, NULL);
    liteipc_event ev[2];

    assert_true(fd >= 0);
    assert_ok(t_set_cms(c->k, fd, T_CMS_BIG));
    t_svc_start(&svc, c->k);
    assert_ok(t_add_access(c->k, fd, (uint32_t)liteipc_self_tid(c->k), (uint32_t)svc.tid));
    must_add(c->k, (liteipc_fault){.kind = LITEIPC_FAULT_DROP, .dst_tid = svc.tid,
                                   .type = LITEIPC_MSG_ONEWAY});
    assert_ok(t_send(c->k, fd, (uint32_t)svc.tid, T_CODE_ECHO, LITEIPC_FLAG_ONEWAY, "a", 1));
    assert_ok(t_svc_quit(&svc, c->k, fd, false)); /* the next one-way gets through */
    t_svc_join(&svc);
    liteipc_close(c->k, fd);
    assert_int_equal(svc.oneways, 0);
    assert_int_equal(injected(c, ev, 2), 1);
    assert_int_equal(ev[0].fault, LITEIPC_FAULT_DROP);
    assert_int_equal(ev[0].dst_tid, svc.tid);
    assert_int_equal(ev[0].msg.code, T_CODE_ECHO);
}

static void inject_delay_sync_request(void **state)
{
    t_ctx *c = *state;
    t_svc svc = {0};
    int fd = t_dev_setup(c->k, T_POOL, NULL);
    liteipc_event ev[2], w[8];
    IpcMsg *r = NULL;
    uint64_t t0;
    size_t n;

    assert_true(fd >= 0);
    assert_ok(t_set_cms(c->k, fd, T_CMS_BIG));
    t_svc_start(&svc, c->k);
    assert_ok(t_add_access(c->k, fd, (uint32_t)liteipc_self_tid(c->k), (uint32_t)svc.tid));
    must_add(c->k, (liteipc_fault){.kind = LITEIPC_FAULT_DELAY, .dst_tid = svc.tid,
                                   .type = LITEIPC_MSG_REQUEST, .delay_ms = 30});
    t0 = t_now_ms();
    assert_ok(t_call(c->k, fd, (uint32_t)svc.tid, T_CODE_ECHO, "hi", 2, &r));
    assert_true(t_now_ms() - t0 >= 30);
    assert_memory_equal(r->data, "hi", 2);
    assert_ok(t_free(c->k, fd, r));
    assert_ok(t_svc_quit(&svc, c->k, fd, false));
    t_svc_join(&svc);
    liteipc_close(c->k, fd);
    assert_int_equal(injected(c, ev, 2), 1);
    assert_int_equal(ev[0].fault, LITEIPC_FAULT_DELAY);
    assert_int_equal(ev[0].fault_ms, 30);
    n = t_ev_collect(c->ev, LITEIPC_EV_MSG_WRITTEN, svc.tid, w, 8);
    for (size_t i = 0; i < n; i++)
        if (w[i].dst_tid == svc.tid && w[i].msg.code == T_CODE_ECHO)
            assert_true(w[i].time_ns >= ev[0].time_ns + 30000000u);
}

/* An exhausted pool: every call to the service fails with ENOMEM until the fault is cleared,
   and nothing reaches it. */
static void inject_exhaust_service_pool(void **state)
{
    t_ctx *c = *state;
    t_svc svc = {0};
    int fd = t_dev_setup(c->k, T_POOL, NULL);
    liteipc_event ev[4];
    IpcMsg *r = NULL;

    assert_true(fd >= 0);
    assert_ok(t_set_cms(c->k, fd, T_CMS_BIG));
    t_svc_start(&svc, c->k);
    assert_ok(t_add_access(c->k, fd, (uint32_t)liteipc_self_tid(c->k), (uint32_t)svc.tid));
    must_add(c->k, (liteipc_fault){
        .kind = LITEIPC_FAULT_NOMEM, .dst_pid = svc.pid, .count = LITEIPC_FAULT_ALWAYS});
    assert_errno(t_call(c->k, fd, (uint32_t)svc.tid, T_CODE_ECHO, "a", 1, &r), ENOMEM);
    assert_errno(t_call(c->k, fd, (uint32_t)svc.tid, T_CODE_ECHO, "b", 1, &r), ENOMEM);
    assert_ok(liteipc_fault_clear(c->k));
    assert_ok(t_call(c->k, fd, (uint32_t)svc.tid, T_CODE_ECHO, "c", 1, &r));
    assert_memory_equal(r->data, "c", 1);
    assert_ok(t_free(c->k, fd, r));
    assert_ok(t_svc_quit(&svc, c->k, fd, false));
    t_svc_join(&svc);
    liteipc_close(c->k, fd);
    assert_int_equal(svc.requests, 1);
    assert_int_equal(injected(c, ev, 4), 2);
    assert_int_equal(ev[1].fault, LITEIPC_FAULT_NOMEM);
    assert_int_equal(ev[1].err, ENOMEM);
    assert_int_equal(ev[1].dst_pid, svc.pid);
    assert_int_equal(t_ev_count(c->ev, LITEIPC_EV_DROP_ON_WRITE, svc.tid), 2);
}

/* ---- the trace ------------------------------------------------------------------------------ */

/* The trace of a GET_VERSION failed by an injected ENOMEM, in format (LITEIPC_TRACE_*). */
static char *trace_of_injection(t_ctx *c, unsigned format)
{
    int fd = t_dev_setup(c->k, T_POOL, NULL);
    char *text = NULL;
    size_t len = 0;
    FILE *out = open_memstream(&text, &len);
    liteipc_trace *tr = NULL;

    assert_true(fd >= 0);
    assert_non_null(out);
    assert_ok(liteipc_trace_start_format(c->k, out, format, &tr));
    must_add(c->k, (liteipc_fault){.kind = LITEIPC_FAULT_FAIL, .cmd = IPC_GET_VERSION,
                                   .err = ENOMEM});
    assert_errno(version(c->k, fd), ENOMEM);
    assert_ok(liteipc_trace_stop(tr));
    fclose(out);
    liteipc_close(c->k, fd);
    return text;
}

static void inject_noted_in_mermaid_trace(void **state)
{
    char *text = trace_of_injection(*state, LITEIPC_TRACE_MERMAID);

    if (strstr(text, ": fault injected: fail ENOMEM") == NULL)
        fail_msg("no note of the injection in:\n%s", text);
    free(text);
}

/* The Chrome timeline has an instant for it, on the caller's track. */
static void inject_instant_in_chrome_trace(void **state)
{
    char *text = trace_of_injection(*state, LITEIPC_TRACE_CHROME);

    if (strstr(text, "\"name\":\"fault injected: fail ENOMEM\"") == NULL)
        fail_msg("no instant of the injection in:\n%s", text);
    free(text);
}

/* ---- $LITEIPC_FAULTS -------------------------------------------------------------------------- */

/* Start a kernel with $LITEIPC_FAULTS = spec; *why gets what was written on stderr. */
static int start_with_env(const char *spec, liteipc_kernel **k, char *why, size_t n)
{
    int saved = dup(2), mem = memfd_create("stderr", 0);
    ssize_t got;
    int rc;

    assert_true(saved >= 0 && mem >= 0);
    setenv(LITEIPC_FAULTS_ENV, spec, 1);
    fflush(stderr);
    dup2(mem, 2);
    rc = liteipc_kernel_start(NULL, k);
    fflush(stderr);
    dup2(saved, 2);
    close(saved);
    unsetenv(LITEIPC_FAULTS_ENV);
    got = pread(mem, why, n - 1, 0);
    why[got > 0 ? got : 0] = '\0';
    close(mem);
    return rc;
}

static void env_faults_armed_at_start(void **state)
{
    liteipc_kernel *k = NULL;
    char why[256];
    int fd;
    (void)state;

    assert_ok(start_with_env("fail:cmd=get_version:nth=2:errno=EBUSY", &k, why, sizeof why));
    assert_string_equal(why, "");
    fd = t_dev_setup(k, T_POOL, NULL);
    assert_true(fd >= 0);
    assert_ok(version(k, fd));
    assert_errno(version(k, fd), EBUSY);
    assert_ok(version(k, fd));
    liteipc_close(k, fd);
    assert_ok(liteipc_kernel_stop(k));
}

static void env_bad_spec_refuses_start(void **state)
{
    liteipc_kernel *k = NULL;
    char why[256];
    (void)state;

    assert_int_equal(start_with_env("drop:dst_tid=9;kill:on=lunch", &k, why, sizeof why),
                     -EINVAL);
    assert_null(k);
    if (strstr(why, "LITEIPC_FAULTS") == NULL || strstr(why, "\"on=lunch\": bad value") == NULL)
        fail_msg("unclear message: %s", why);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        T(inject_fail_nth_command_then_clear),
        T(inject_kill_service_when_request_queued),
        T(inject_kill_task_alone),
        T(inject_drop_then_deliver),
        T(inject_delay_sync_request),
        T(inject_exhaust_service_pool),
        T(inject_noted_in_mermaid_trace),
        T(inject_instant_in_chrome_trace),
        cmocka_unit_test(env_faults_armed_at_start),
        cmocka_unit_test(env_bad_spec_refuses_start),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
