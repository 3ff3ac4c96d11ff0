/* SPDX-License-Identifier: Apache-2.0 */
/*
 * test_stack_wakeups.c - nobody is left asleep with an answer (src/channel.h): thousands of calls
 * and one-way messages between virtual processes and from a forked process, once with callers
 * polling (the broker hands wake-ups to the task it answers) and once with LITEIPC_POLL_NS=0
 * (callers are asleep, or going to sleep, when the broker answers: it must wake every task
 * itself and take back any wake-up it handed to a caller that went to sleep first). A lost
 * wake-up leaves a task to find its answer at its own 250 ms check, which the library counts
 * (lk_client.lost_wakes): these runs must lose none.
 */
#include "sfix.h"

#include "runtime.h" /* the library's poll setting and count of lost wake-ups */

#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#define CALLS 2000

struct caller {
    liteipc_kernel *k;
    unsigned calls;
    int fails;
};

/* CALLS synchronous calls to handle 0 (an echo service), each checked; then one-way messages. */
static void *calls_main(void *arg)
{
    struct caller *cl = arg;
    int fd = t_dev_setup(cl->k, T_POOL, NULL);
    char buf[64];

    T_CHECK(fd >= 0);
    for (unsigned i = 0; i < cl->calls && fd >= 0; i++) {
        IpcMsg *r = NULL;
        unsigned n = 1 + i % sizeof buf;

        t_fill(buf, n, i);
        if (t_call(cl->k, fd, 0, T_CODE_ECHO, buf, n, &r) != 0 || !r || r->dataSz != n ||
            memcmp(r->data, buf, n) != 0)
            cl->fails++;
        if (r)
            T_CHECK_OK(t_free(cl->k, fd, r));
        if (i % 4 == 0)
            T_CHECK_OK(t_send(cl->k, fd, 0, T_CODE_ECHO, LITEIPC_FLAG_ONEWAY, buf, 8));
    }
    if (fd >= 0)
        liteipc_close(cl->k, fd);
    return NULL;
}

/* Stop the CMS with a QUIT from a task of the test's own process, and join it. */
static void cms_stop(t_ctx *c, t_svc *cms)
{
    int fd = t_dev_setup(c->k, T_POOL, NULL);

    assert_true(fd >= 0);
    assert_ok(t_svc_quit(cms, c->k, fd, true));
    t_svc_join(cms);
    liteipc_close(c->k, fd);
    t_assert_threads_ok();
}

static void calls_between_virtual_processes(void **state)
{
    t_ctx *c = *state;
    t_svc cms = {.cms_size = T_CMS_BIG};
    struct caller a = {.k = c->k, .calls = CALLS}, b = {.k = c->k, .calls = CALLS};
    liteipc_vproc *va, *vb;

    t_svc_start(&cms, c->k);
    va = t_vproc_start(c->k, calls_main, &a);
    vb = t_vproc_start(c->k, calls_main, &b); /* two callers: queued requests as well */
    t_vproc_finish(va);
    t_vproc_finish(vb);
    cms_stop(c, &cms);
    assert_int_equal(a.fails, 0);
    assert_int_equal(b.fails, 0);
    assert_int_equal(atomic_load(&c->k->c.lost_wakes), 0);
    assert_int_equal(cms.oneways, 2 * (CALLS / 4));
    assert_int_equal(cms.requests, 2 * CALLS + 2 * (CALLS / 4)); /* one-way ones included */
}

/* The same from a forked child: a real process, whose wake-ups cross process boundaries. */
static void calls_from_a_real_process(void **state)
{
    t_ctx *c = *state;
    t_svc cms = {.cms_size = T_CMS_BIG};
    struct caller cl = {.k = c->k, .calls = CALLS};
    int status = 0;
    pid_t pid;

    t_svc_start(&cms, c->k);
    fflush(NULL);
    pid = fork();
    if (pid == 0) {
        alarm(100);
        calls_main(&cl);
        _exit(cl.fails == 0 && !t_failed() && atomic_load(&c->k->c.lost_wakes) == 0 ? 0 : 1);
    }
    assert_true(pid > 0);
    assert_int_equal(waitpid(pid, &status, 0), pid);
    cms_stop(c, &cms);
    assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    assert_int_equal(atomic_load(&c->k->c.lost_wakes), 0); /* the service's side */
    assert_int_equal(cms.requests, CALLS + CALLS / 4);
}

static void polling_calls_between_virtual_processes(void **state)
{
    assert_true(((t_ctx *)*state)->k->c.spin_ns > 0);
    calls_between_virtual_processes(state);
}

static void polling_calls_from_a_real_process(void **state)
{
    assert_true(((t_ctx *)*state)->k->c.spin_ns > 0);
    calls_from_a_real_process(state);
}

static void no_polling_calls_between_virtual_processes(void **state)
{
    assert_int_equal(((t_ctx *)*state)->k->c.spin_ns, 0);
    calls_between_virtual_processes(state);
}

static void no_polling_calls_from_a_real_process(void **state)
{
    assert_int_equal(((t_ctx *)*state)->k->c.spin_ns, 0);
    calls_from_a_real_process(state);
}

/* LITEIPC_POLL_NS: a number of ns up to 1000000, read when a kernel starts; anything else is
   ignored for the default. */
static void poll_setting_from_the_environment(void **state)
{
    static const struct {
        const char *value;
        uint64_t expect; /* 0 ... ; UINT64_MAX: the default */
    } cases[] = {{"0", 0}, {"250", 250}, {"1000000", 1000000}, {"1000001", UINT64_MAX},
                 {"12x", UINT64_MAX}, {"-5", UINT64_MAX}, {"", UINT64_MAX}, {NULL, UINT64_MAX}};
    uint64_t dflt;
    liteipc_kernel *k;

    (void)state;
    unsetenv(LITEIPC_POLL_ENV);
    assert_int_equal(liteipc_kernel_start(NULL, &k), 0);
    dflt = k->c.spin_ns;
    assert_int_equal(liteipc_kernel_stop(k), 0);
    assert_true(dflt > 0);
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        if (cases[i].value)
            setenv(LITEIPC_POLL_ENV, cases[i].value, 1);
        else
            unsetenv(LITEIPC_POLL_ENV);
        assert_int_equal(liteipc_kernel_start(NULL, &k), 0);
        assert_int_equal(k->c.spin_ns, cases[i].expect == UINT64_MAX ? dflt : cases[i].expect);
        assert_int_equal(liteipc_kernel_stop(k), 0);
    }
    unsetenv(LITEIPC_POLL_ENV);
}

/* Each kernel reads LITEIPC_POLL_NS when it starts (in t_setup). */
static int setup_polling(void **state)
{
    unsetenv(LITEIPC_POLL_ENV);
    return t_setup(state);
}

static int setup_no_polling(void **state)
{
    setenv(LITEIPC_POLL_ENV, "0", 1);
    return t_setup(state);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(polling_calls_between_virtual_processes, setup_polling,
                                        t_teardown),
        cmocka_unit_test_setup_teardown(polling_calls_from_a_real_process, setup_polling,
                                        t_teardown),
        cmocka_unit_test_setup_teardown(no_polling_calls_between_virtual_processes,
                                        setup_no_polling, t_teardown),
        cmocka_unit_test_setup_teardown(no_polling_calls_from_a_real_process, setup_no_polling,
                                        t_teardown),
        cmocka_unit_test(poll_setting_from_the_environment),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
