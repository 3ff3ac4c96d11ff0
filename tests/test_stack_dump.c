/* SPDX-License-Identifier: Apache-2.0 */
/*
 * test_stack_dump.c - liteipc_kernel_dump through the whole stack: the snapshot is taken by the
 * broker and shows what the device calls did; bad arguments give EINVAL, and a kernel this
 * program only attached to gives EPERM (its tables live in another process). The text itself
 * is tested in test_kernel_dump.c.
 */
#include "sfix.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static char *dump_of(liteipc_kernel *k, int *rc)
{
    char *text = NULL;
    size_t len = 0;
    FILE *out = open_memstream(&text, &len);

    assert_non_null(out);
    *rc = liteipc_kernel_dump(k, out);
    assert_int_equal(fclose(out), 0);
    return text;
}

/* This process's name as the kernel reads it (/proc/self/comm: under valgrind it is valgrind's
   tool, not the test's name). */
static void own_comm(char name[16])
{
    FILE *f = fopen("/proc/self/comm", "re");
    size_t n = f ? fread(name, 1, 15, f) : 0;

    if (f)
        fclose(f);
    while (n > 0 && name[n - 1] == '\n')
        n--;
    name[n] = '\0';
}

static void dump_shows_the_callers_process_and_task(void **state)
{
    t_ctx *c = *state;
    int fd = t_dev_setup(c->k, T_POOL, NULL), rc;
    char want[128], comm[16];
    char *text;

    own_comm(comm);
    assert_true(comm[0] != '\0');
    assert_true(fd >= 0);
    assert_int_equal(liteipc_set_task_name(c->k, "dumper"), 0);
    assert_ok(t_set_cms(c->k, fd, 256));
    assert_ok(t_send(c->k, fd, 0, 1, LITEIPC_FLAG_ONEWAY, "x", 1)); /* queued to ourselves */
    text = dump_of(c->k, &rc);
    assert_int_equal(rc, 0);
    snprintf(want, sizeof want, "ServiceManager: task %d (IPC_SET_CMS 256)",
             liteipc_self_tid(c->k));
    assert_non_null(strstr(text, want));
    snprintf(want, sizeof want, "process %d (host %d %s): pool of 64 KiB at 0x",
             liteipc_self_pid(c->k), (int)getpid(), comm);
    assert_non_null(strstr(text, want));
    snprintf(want, sizeof want, "task %d 'dumper' (process %d): 1 queued",
             liteipc_self_tid(c->k), liteipc_self_pid(c->k));
    assert_non_null(strstr(text, want));
    free(text);
    IpcMsg *m = NULL;
    assert_ok(t_recv(c->k, fd, &m));
    assert_ok(t_free(c->k, fd, m));
    liteipc_close(c->k, fd);
}

static void dump_argument_errors(void **state)
{
    t_ctx *c = *state;

    assert_int_equal(liteipc_kernel_dump(NULL, stderr), -EINVAL);
    assert_int_equal(liteipc_kernel_dump(c->k, NULL), -EINVAL);
}

static void dump_of_an_attached_kernel_eperm(void **state)
{
    char name[64], *text;
    liteipc_kernel *host, *attached;
    int rc;

    (void)state;
    snprintf(name, sizeof name, "test-dump-%d", (int)getpid());
    assert_int_equal(liteipc_kernel_serve(name, NULL, &host), 0);
    assert_int_equal(liteipc_kernel_attach(name, &attached), 0);
    text = dump_of(attached, &rc);
    assert_int_equal(rc, -EPERM);
    assert_string_equal(text, "");
    free(text);
    assert_int_equal(liteipc_kernel_detach(attached), 0);
    assert_int_equal(liteipc_kernel_stop(host), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(dump_shows_the_callers_process_and_task, t_setup,
                                        t_teardown),
        cmocka_unit_test_setup_teardown(dump_argument_errors, t_setup, t_teardown),
        cmocka_unit_test(dump_of_an_attached_kernel_eperm),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
