/* SPDX-License-Identifier: Apache-2.0 */
/*
 * test_stack_caller_kernel.c - a virtual process's thread runs the kernel for its own device
 * calls (lk_broker_serve, docs/PERFORMANCE.md "The kernel on the caller's thread"), and only
 * where it may. The events of its calls are reported on its own thread, also while a real
 * process is connected (whose posts a waiting host task may serve: test_real_listen.c); on the
 * broker's with LITEIPC_CALLER_KERNEL=0, or once a fault was armed (the fault still fires). A
 * deadline a caller sets while the broker sleeps without one ends the call on time (the caller
 * rings the broker). The setting is off in virtual time and in deterministic kernels.
 */
#include "sfix.h"

#include "runtime.h" /* the broker's setting and its bell */

#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#define CALLS 20

/* Where the MSG_WRITTEN events of one task were reported: on its own thread or elsewhere. */
struct job {
    liteipc_kernel *k;
    _Atomic int tid;     /* the caller's TID, once known; -1 before */
    _Atomic long os_tid; /* the caller's OS thread */
    _Atomic int on_caller, elsewhere;
    int fail_at;         /* a call expected to fail with EIO (1-based), 0: none */
    int fails;
};

static void seen_event(const liteipc_event *ev, void *ctx)
{
    struct job *j = ctx;

    if (ev->type != LITEIPC_EV_MSG_WRITTEN || ev->src_tid != atomic_load(&j->tid))
        return;
    if ((long)syscall(SYS_gettid) == atomic_load(&j->os_tid))
        atomic_fetch_add(&j->on_caller, 1);
    else
        atomic_fetch_add(&j->elsewhere, 1);
}

/* A virtual process: CALLS echo calls to the CMS, each checked. */
static void *calls_main(void *arg)
{
    struct job *j = arg;
    int fd = t_dev_setup(j->k, T_POOL, NULL);
    char buf[16] = "caller-kernel";

    T_CHECK(fd >= 0);
    if (fd < 0)
        return NULL;
    atomic_store(&j->os_tid, (long)syscall(SYS_gettid));
    atomic_store(&j->tid, liteipc_self_tid(j->k));
    for (int i = 1; i <= CALLS; i++) {
        IpcMsg *r = NULL;
        int rc = t_call(j->k, fd, 0, T_CODE_ECHO, buf, sizeof buf, &r);

        if (i == j->fail_at ? rc != -1 || errno != EIO
                            : rc != 0 || !r || r->dataSz != sizeof buf ||
                                  memcmp(r->data, buf, sizeof buf) != 0)
            j->fails++;
        if (rc == 0 && r)
            T_CHECK_OK(t_free(j->k, fd, r));
    }
    atomic_store(&j->tid, -1); /* its TID may name another task later */
    liteipc_close(j->k, fd);
    return NULL;
}

/* Run the calls in a fresh virtual process against an echoing CMS, watching their events. */
static void run_calls(t_ctx *c, struct job *j)
{
    t_svc cms = {.cms_size = T_CMS_BIG};
    int sub, fd;

    j->k = c->k;
    atomic_store(&j->tid, -1);
    sub = liteipc_subscribe(c->k, seen_event, j);
    assert_true(sub >= 0);
    t_svc_start(&cms, c->k);
    t_run_in_vproc(c->k, calls_main, j);
    fd = t_dev_setup(c->k, T_POOL, NULL);
    assert_true(fd >= 0);
    assert_ok(t_svc_quit(&cms, c->k, fd, true));
    t_svc_join(&cms);
    liteipc_close(c->k, fd);
    assert_ok(liteipc_unsubscribe(c->k, sub));
    t_assert_threads_ok();
    assert_int_equal(j->fails, 0);
    assert_int_equal(atomic_load(&j->on_caller) + atomic_load(&j->elsewhere),
                     CALLS - (j->fail_at > 0));
}

static void calls_run_the_kernel_on_the_callers_thread(void **state)
{
    struct job j = {0};

    assert_true(((t_ctx *)*state)->k->b.caller_kernel);
    run_calls(*state, &j);
    assert_int_equal(atomic_load(&j.elsewhere), 0);
}

static void calls_go_through_the_broker_when_turned_off(void **state)
{
    struct job j = {0};

    assert_false(((t_ctx *)*state)->k->b.caller_kernel);
    run_calls(*state, &j);
    assert_int_equal(atomic_load(&j.on_caller), 0);
}

/* A real process is connected: the virtual process's calls still run the kernel on its own
   thread (the real process's are served by the broker, or by a host task while it waits). */
static void calls_run_on_the_callers_thread_while_a_real_process_is_connected(void **state)
{
    t_ctx *c = *state;
    struct job j = {0};
    int ready[2], done[2], status = 0, nreal = -1;
    char b = 0;
    pid_t pid;

    assert_ok(pipe(ready));
    assert_ok(pipe(done));
    fflush(NULL);
    pid = fork();
    if (pid == 0) {
        int fd;

        close(ready[0]);
        close(done[1]);
        fd = t_dev_open(c->k);

        alarm(60);
        if (write(ready[1], &b, 1) != 1 || read(done[0], &b, 1) < 0) /* EOF: leave */
            _exit(2);
        _exit(fd >= 0 ? 0 : 1);
    }
    assert_true(pid > 0);
    close(ready[1]);
    close(done[0]);
    if (read(ready[0], &b, 1) == 1) {
        nreal = atomic_load(&c->k->b.nreal); /* the child's connection, counted at its open */
        run_calls(c, &j);
    }
    close(ready[0]);
    close(done[1]); /* the child leaves */
    assert_int_equal(waitpid(pid, &status, 0), pid);
    assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    assert_int_equal(nreal, 1);
    assert_int_equal(atomic_load(&j.on_caller), CALLS);
    assert_int_equal(atomic_load(&j.elsewhere), 0);
}

/* A fault armed: the kernel runs on the broker, and the fault fires (the 3rd call fails). */
static void faults_fire_through_the_broker(void **state)
{
    t_ctx *c = *state;
    liteipc_fault f = {.kind = LITEIPC_FAULT_FAIL, .cmd = IPC_SEND_RECV_MSG,
                       .flags = SEND | RECV, .nth = 3, .err = EIO};
    struct job j = {.fail_at = 3};

    assert_true(liteipc_fault_add(c->k, &f) >= 0);
    run_calls(c, &j);
    assert_int_equal(atomic_load(&j.on_caller), 0);
}

/* A holder: receives the caller's request and never answers it. */
static int hold_request(t_svc *s, IpcMsg *msg)
{
    (void)s;
    (void)msg;
    return T_SVC_HANDLED;
}

/* Until the broker sleeps (a bounded look: it sleeps once its 20 us spin finds nothing). */
static bool broker_asleep(liteipc_kernel *k)
{
    uint64_t until = t_now_ms() + T_WAIT_MS;

    while (!atomic_load(&k->b.bell->broker_sleeping) && t_now_ms() < until)
        sched_yield();
    return atomic_load(&k->b.bell->broker_sleeping) != 0;
}

struct timed {
    liteipc_kernel *k;
    int rc, err;
    uint64_t ms;
};

static void *timed_call_main(void *arg)
{
    struct timed *t = arg;
    int fd = t_dev_setup(t->k, T_POOL, NULL);
    IpcMsg *r = NULL;
    uint64_t t0;

    T_CHECK(fd >= 0);
    if (fd < 0)
        return NULL;
    T_CHECK(broker_asleep(t->k)); /* with no deadline: the holder waits without one */
    t0 = t_now_ms();
    t->rc = t_call(t->k, fd, 0, T_CODE_ECHO, "late", 4, &r);
    t->err = errno;
    t->ms = t_now_ms() - t0;
    liteipc_close(t->k, fd);
    return NULL;
}

/* The caller sets the reply deadline while the broker sleeps with none: it must ring it, or the
   call would wait forever (the alarm fails the test). Reply timeout shrunk (t_setup_fast). */
static void a_deadline_set_by_a_caller_wakes_the_sleeping_broker(void **state)
{
    t_ctx *c = *state;
    t_svc cms = {.cms_size = T_CMS_BIG, .handler = hold_request};
    struct timed t = {.k = c->k};
    int fd;

    assert_true(c->k->b.caller_kernel);
    t_svc_start(&cms, c->k);
    alarm(60);
    t_run_in_vproc(c->k, timed_call_main, &t);
    alarm(0);
    assert_int_equal(t.rc, -1);
    assert_int_equal(t.err, ETIME);
    assert_true(t.ms + 1 >= c->cfg.reply_timeout_ms);
    assert_true(t.ms < c->cfg.reply_timeout_ms + 8000u);
    fd = t_dev_setup(c->k, T_POOL, NULL);
    assert_true(fd >= 0);
    assert_ok(t_svc_quit(&cms, c->k, fd, true));
    t_svc_join(&cms);
    liteipc_close(c->k, fd);
    t_assert_threads_ok();
}

/* LITEIPC_CALLER_KERNEL: only "0" turns it off; virtual time and deterministic kernels never
   have it. Read when a kernel starts. */
static void setting_from_the_environment_and_modes(void **state)
{
    static const struct {
        const char *value;
        bool vt, det, expect;
    } cases[] = {{NULL, false, false, true},  {"1", false, false, true},
                 {"", false, false, true},    {"0", false, false, false},
                 {NULL, true, false, false},  {NULL, false, true, false}};
    liteipc_kernel *k;

    (void)state;
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        liteipc_config cfg;

        liteipc_config_init(&cfg);
        cfg.virtual_time = cases[i].vt;
        cfg.deterministic = cases[i].det;
        if (cases[i].value)
            setenv(LITEIPC_CALLER_KERNEL_ENV, cases[i].value, 1);
        else
            unsetenv(LITEIPC_CALLER_KERNEL_ENV);
        assert_int_equal(liteipc_kernel_start(&cfg, &k), 0);
        assert_int_equal(k->b.caller_kernel, cases[i].expect);
        assert_int_equal(liteipc_kernel_stop(k), 0);
    }
    unsetenv(LITEIPC_CALLER_KERNEL_ENV);
}

static int setup_on(void **state)
{
    unsetenv(LITEIPC_CALLER_KERNEL_ENV);
    return t_setup(state);
}

static int setup_on_fast(void **state)
{
    unsetenv(LITEIPC_CALLER_KERNEL_ENV);
    return t_setup_fast(state);
}

static int setup_off(void **state)
{
    int rc;

    setenv(LITEIPC_CALLER_KERNEL_ENV, "0", 1);
    rc = t_setup(state);
    unsetenv(LITEIPC_CALLER_KERNEL_ENV);
    return rc;
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(calls_run_the_kernel_on_the_callers_thread, setup_on,
                                        t_teardown),
        cmocka_unit_test_setup_teardown(calls_go_through_the_broker_when_turned_off, setup_off,
                                        t_teardown),
        cmocka_unit_test_setup_teardown(
            calls_run_on_the_callers_thread_while_a_real_process_is_connected, setup_on,
            t_teardown),
        cmocka_unit_test_setup_teardown(faults_fire_through_the_broker, setup_on, t_teardown),
        cmocka_unit_test_setup_teardown(a_deadline_set_by_a_caller_wakes_the_sleeping_broker,
                                        setup_on_fast, t_teardown),
        cmocka_unit_test(setting_from_the_environment_and_modes),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
