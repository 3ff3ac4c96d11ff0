/* SPDX-License-Identifier: Apache-2.0 */
/*
 * cmocka_minimal.c - a minimal CMocka test of a LiteIPC service with liteipc-sim and its test
 * kit (<liteipc/testkit.h>; the README's example, built and run by CTest so that it is known
 * to work).
 *
 * ltk_setup_sm gives each test a fresh kernel whose reply timeout is shrunk to 150 ms, with the
 * kit's reference ServiceManager as handle 0; ltk_teardown stops both and fails the test if
 * anything is left over. The service under test runs in a simulated process of its own.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>
#include <liteipc/testkit.h>

/* The service under test: registers as "adder", answers one request n with n + 1. It reports
 * failures with LTK_CHECK (assert_* belongs to the test's thread). */
static void *adder_main(void *arg)
{
    liteipc_kernel *k = arg;
    int fd = ltk_dev_setup(k, LTK_POOL, NULL); /* open + mmap, as every process does */
    IpcMsg *req;
    int32_t n;

    LTK_CHECK_OK(ltk_sm_register(k, fd, "adder", NULL));
    if (ltk_recv(k, fd, &req) == 0 && req->dataSz == sizeof(n)) {
        memcpy(&n, req->data, sizeof(n));
        n++;
        LTK_CHECK_OK(ltk_reply(k, fd, req, &n, sizeof(n))); /* frees req too */
    }
    ltk_dev_close(k, fd);
    return NULL;
}

static void call_gets_reply(void **state)
{
    ltk_fixture *f = *state;
    liteipc_vproc *adder;
    uint32_t handle;
    IpcMsg *reply;
    int32_t n = 41;

    assert_int_equal(ltk_vproc_start(f->k, adder_main, f->k, &adder), 0);
    int fd = ltk_dev_setup(f->k, LTK_POOL, NULL);
    /* The adder may not have registered yet: wait for it (bounded). */
    LTK_ASSERT_OK(ltk_sm_wait_service(f->k, fd, "adder", LTK_WAIT_MS, &handle));
    LTK_ASSERT_OK(ltk_call(f->k, fd, handle, 1, &n, sizeof(n), &reply));
    assert_int_equal(reply->type, MT_REPLY);
    assert_int_equal(reply->dataSz, sizeof(n));
    memcpy(&n, reply->data, sizeof(n));
    assert_int_equal(n, 42);
    LTK_ASSERT_OK(ltk_free(f->k, fd, reply)); /* replies must be freed */
    assert_int_equal(ltk_vproc_finish(adder, NULL), 0);
    /* Its death notice removes it from the ServiceManager. */
    LTK_ASSERT_OK(ltk_sm_wait_deaths(f->sm, 1, LTK_WAIT_MS));
    LTK_ASSERT_ERR(ltk_sm_lookup(f->k, fd, "adder", &handle), ENOENT);
    ltk_dev_close(f->k, fd);
}

/* A synchronous call drops requests queued to its own task, so calling oneself times out. */
static void call_to_self_times_out(void **state)
{
    ltk_fixture *f = *state;
    int fd = ltk_dev_setup(f->k, LTK_POOL, NULL);

    LTK_ASSERT_ERR(ltk_call(f->k, fd, (uint32_t)liteipc_self_tid(f->k), 1, NULL, 0, NULL),
                   ETIME); /* after 150 ms, not the device's 5 s */
    ltk_dev_close(f->k, fd);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(call_gets_reply, ltk_setup_sm, ltk_teardown),
        cmocka_unit_test_setup_teardown(call_to_self_times_out, ltk_setup_sm, ltk_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
