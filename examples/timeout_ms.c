/* SPDX-License-Identifier: Apache-2.0 */
/*
 * timeout_ms.c - the device's 5-second reply timeout, tested in milliseconds with virtual time
 * (docs/TESTING.md, "Virtual time"; built and run by CTest so that it is known to work).
 *
 * The kernel keeps the device's timeout (reply_timeout_ms = 5000) but reads a virtual clock:
 * the test lets the caller block, then moves the clock to its deadline. It runs twice: the
 * second time in a deterministic kernel too (docs/TESTING.md, "Deterministic interleavings").
 */
#define _POSIX_C_SOURCE 200809L
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/mman.h>

#include <cmocka.h>
#include <liteipc/liteipc.h>

#define FIVE_S 5000000000ll

static _Atomic uint64_t timeout_at; /* when the kernel reported the timeout */

static void on_event(const liteipc_event *ev, void *ctx)
{
    (void)ctx;
    if (ev->type == LITEIPC_EV_RECV_TIMEOUT)
        atomic_store(&timeout_at, ev->time_ns);
}

static int start(void **state, bool deterministic)
{
    liteipc_config cfg;
    liteipc_kernel *k;

    liteipc_config_init(&cfg); /* the device's values: a 5 s reply timeout */
    cfg.virtual_time = true;   /* ... on a clock that moves only when the test says so */
    cfg.deterministic = deterministic; /* and, in the second run, device calls in seed order */
    cfg.sched_seed = 42;
    atomic_store(&timeout_at, 0);
    if (liteipc_kernel_start(&cfg, &k) != 0)
        return -1;
    if (liteipc_subscribe(k, on_event, NULL) < 0) {
        liteipc_kernel_stop(k);
        return -1;
    }
    *state = k;
    return 0;
}

static int setup(void **state)
{
    return start(state, false);
}

static int setup_deterministic(void **state)
{
    return start(state, true);
}

static int teardown(void **state)
{
    return liteipc_kernel_stop(*state);
}

/* A process that becomes the ServiceManager and calls itself: a synchronous call drops the
   requests queued to its own task, so nothing ever answers. Returns the call's errno. */
static void *call_self(void *arg)
{
    liteipc_kernel *k = arg;
    int fd = liteipc_open(k, LITEIPC_DRIVER, O_RDWR);
    IpcMsg req = {.type = MT_REQUEST, .target.handle = 0};
    IpcContent c = {.flag = SEND | RECV, .outMsg = &req};
    intptr_t err = -1;

    if (fd >= 0 && liteipc_mmap(k, NULL, 4096, PROT_READ, MAP_PRIVATE, fd, 0) != MAP_FAILED &&
        liteipc_ioctl(k, fd, IPC_SET_CMS, (unsigned long)256) == 0)
        err = liteipc_ioctl(k, fd, IPC_SEND_RECV_MSG, &c) == -1 ? errno : 0;
    liteipc_close(k, fd);
    return (void *)err;
}

static void five_second_timeout_in_milliseconds(void **state)
{
    liteipc_kernel *k = *state;
    liteipc_vproc *vp;
    void *err = NULL;

    assert_int_equal(liteipc_vproc_spawn(k, call_self, k, &vp), 0);
    /* Let the caller run until it blocks in its call (10 s of host time at most). */
    assert_int_equal(liteipc_time_run_until_idle(k, 10000), 0);
    /* Then jump to its deadline: the device's 5 s, at once. */
    assert_int_equal(liteipc_time_advance_to_next(k), FIVE_S);
    assert_int_equal(liteipc_vproc_join(vp, &err), 0);
    assert_int_equal((intptr_t)err, ETIME);
    assert_int_equal(atomic_load(&timeout_at), FIVE_S); /* events carry the virtual time */
    /* In a deterministic kernel, no command had to be forced past a thread that was not in a
       device call (run_until_idle does not count the thread that waits in it): the run
       replays from its seed. */
    assert_int_equal(liteipc_sched_forced(k), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(five_second_timeout_in_milliseconds, setup, teardown),
        cmocka_unit_test_setup_teardown(five_second_timeout_in_milliseconds, setup_deterministic,
                                        teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
