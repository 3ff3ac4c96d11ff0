/* SPDX-License-Identifier: Apache-2.0 */
/*
 * test_real_fault_inject.c - fault injection for unmodified device programs (tests/real/
 * devprog.c under the LD_PRELOAD shim): $LITEIPC_FAULTS read by the liteipcd that the program's
 * first open starts (it inherits the program's environment), and a KILL fault ending a real
 * process with SIGKILL, as its death would be on the device.
 */
#include "rfix.h"

#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>

#ifdef R_LITEIPCD
/* devprog sends a one-way request to handle 0 under the shim, its first open starting a
   liteipcd with faults (NULL: $LITEIPC_FAULTS unset) under the test's device name + suffix (a
   new daemon each time: the last one may still be leaving); it must report errno err. */
static void sendcms_gets(r_ctx *c, const char *suffix, const char *faults, int err)
{
    const char *argv[] = {R_DEVPROG, "sendcms", "5", NULL};
    char var[128], dev[96], line[R_LINE_MAX], want[32];
    const char *env[] = {"LITEIPCD=" R_LITEIPCD, var, dev, NULL};
    r_child *ch;

    snprintf(var, sizeof(var), "%s%s%s", LITEIPC_FAULTS_ENV, faults ? "=" : "",
             faults ? faults : "");
    snprintf(dev, sizeof(dev), "%s=%s%s", LITEIPC_DEVICE_ENV, c->name, suffix);
    ch = r_spawn(c, true, argv, env);
    snprintf(want, sizeof(want), "-1 %d", err);
    assert_string_equal(r_expect(ch, "sent ", line, sizeof(line)), want);
    r_assert_exit0(r_wait(ch), "devprog sendcms");
}
#endif

/* No CMS exists, so the device answers this one-way send with EINVAL: the ENOMEM it gets is
   the fault's, armed by a daemon that read the variable from the program's environment. */
static void faults_env_reaches_daemon_started_by_program(void **state)
{
#ifdef R_LITEIPCD
    sendcms_gets(*state, "-f", "fail:cmd=send_recv:errno=ENOMEM", ENOMEM);
    sendcms_gets(*state, "-n", NULL, EINVAL); /* the device's answer without it */
#else
    (void)state;
    skip(); /* no liteipcd in this build tree */
#endif
}

/* A real process killed by a fault dies of SIGKILL at its call, and the kernel reaps it. */
static void kill_fault_sigkills_real_process(void **state)
{
    r_ctx *c = *state;
    const char *argv[] = {R_DEVPROG, "sendcms", "5", NULL};
    liteipc_fault f = {.kind = LITEIPC_FAULT_KILL, .on = LITEIPC_ON_CALL,
                       .cmd = IPC_SEND_RECV_MSG};
    liteipc_event ev[2];
    r_child *ch;
    int status;

    assert_true(liteipc_fault_add(c->k, &f) >= 0);
    ch = r_spawn(c, true, argv, NULL);
    status = r_wait(ch);
    assert_true(WIFSIGNALED(status));
    assert_int_equal(WTERMSIG(status), SIGKILL);
    assert_int_equal(t_ev_collect(c->ev, LITEIPC_EV_INJECTED, -1, ev, 2), 1);
    assert_int_equal(ev[0].fault, LITEIPC_FAULT_KILL);
    assert_int_equal(ev[0].dst_tid, -1);
    assert_int_equal(ev[0].dst_host_pid, ch->pid);
    r_ev_wait(c, LITEIPC_EV_TASK_DEATH, ev[0].src_tid, 1, true);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(faults_env_reaches_daemon_started_by_program,
                                        r_setup_nokernel, r_teardown),
        cmocka_unit_test_setup_teardown(kill_fault_sigkills_real_process, r_setup, r_teardown),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
