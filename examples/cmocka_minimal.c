/* SPDX-License-Identifier: Apache-2.0 */
/*
 * cmocka_minimal.c - a minimal CMocka test of LiteIPC code with liteipc-sim (the README's
 * example, built and run by CTest so that it is known to work).
 *
 * Each test gets a fresh kernel (setup/teardown), so the CMS set in one test does not leak into
 * the next, and the reply timeout is shrunk so that a test of a timeout takes
 * a quarter of a second, not 5 s.
 */
#define _POSIX_C_SOURCE 200809L
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <sys/mman.h>

#include <cmocka.h>
#include <liteipc/liteipc.h>

static int setup(void **state)
{
    liteipc_config cfg;
    liteipc_kernel *k;

    liteipc_config_init(&cfg);
    cfg.reply_timeout_ms = 250; /* device: 5000 */
    if (liteipc_kernel_start(&cfg, &k) != 0)
        return -1;
    *state = k;
    return 0;
}

static int teardown(void **state)
{
    return liteipc_kernel_stop(*state);
}

/* What every process does first: open the device and map its pool. */
static int open_and_map(liteipc_kernel *k)
{
    int fd = liteipc_open(k, LITEIPC_DRIVER, O_RDWR);

    assert_true(fd >= 0);
    assert_ptr_not_equal(liteipc_mmap(k, NULL, 4096, PROT_READ, MAP_PRIVATE, fd, 0), MAP_FAILED);
    return fd;
}

static void version_is_2(void **state)
{
    liteipc_kernel *k = *state;
    int fd = open_and_map(k);
    IpcVersion v = {0};

    assert_int_equal(liteipc_ioctl(k, fd, IPC_GET_VERSION, &v), 0);
    assert_int_equal(v.driverVersion, DRIVER_VERSION);
    liteipc_close(k, fd);
}

/* A server in its own simulated process: becomes handle 0, answers one request with code+1.
 * It reports failure by its result, not with assert_*: those belong to the test's thread. */
struct server {
    liteipc_kernel *k;
    pthread_barrier_t cms_set;
};

static void *server_main(void *arg)
{
    struct server *s = arg;
    int fd = liteipc_open(s->k, LITEIPC_DRIVER, O_RDWR);
    void *pool = liteipc_mmap(s->k, NULL, 4096, PROT_READ, MAP_PRIVATE, fd, 0);
    int cms = liteipc_ioctl(s->k, fd, IPC_SET_CMS, (unsigned long)256);

    pthread_barrier_wait(&s->cms_set); /* no message moves before a CMS exists */
    if (pool == MAP_FAILED || cms != 0)
        return "setup failed";

    IpcContent in = {.flag = RECV};
    if (liteipc_ioctl(s->k, fd, IPC_SEND_RECV_MSG, &in) != 0)
        return "RECV failed";
    IpcMsg reply = {
        .type = MT_REPLY,
        .target.handle = in.inMsg->taskID, /* to the requesting task */
        .timestamp = in.inMsg->timestamp,  /* matches the reply with the request */
        .code = in.inMsg->code + 1,
    };
    IpcContent out = {.flag = SEND | BUFF_FREE, .outMsg = &reply, .buffToFree = in.inMsg};
    if (liteipc_ioctl(s->k, fd, IPC_SEND_RECV_MSG, &out) != 0)
        return "reply failed";
    liteipc_close(s->k, fd);
    return NULL;
}

static void call_gets_reply(void **state)
{
    struct server s = {.k = *state};
    liteipc_vproc *vp;

    pthread_barrier_init(&s.cms_set, NULL, 2);
    assert_int_equal(liteipc_vproc_spawn(s.k, server_main, &s, &vp), 0);
    int fd = open_and_map(s.k);
    pthread_barrier_wait(&s.cms_set);

    IpcMsg req = {.type = MT_REQUEST, .target.handle = 0, .code = 41};
    IpcContent c = {.flag = SEND | RECV, .outMsg = &req};
    assert_int_equal(liteipc_ioctl(s.k, fd, IPC_SEND_RECV_MSG, &c), 0);
    assert_int_equal(c.inMsg->type, MT_REPLY);
    assert_int_equal(c.inMsg->code, 42);

    IpcContent f = {.flag = BUFF_FREE, .buffToFree = c.inMsg}; /* replies must be freed */
    assert_int_equal(liteipc_ioctl(s.k, fd, IPC_SEND_RECV_MSG, &f), 0);

    void *failure = NULL;
    assert_int_equal(liteipc_vproc_join(vp, &failure), 0);
    assert_null(failure);
    pthread_barrier_destroy(&s.cms_set);
    liteipc_close(s.k, fd);
}

/* A synchronous call drops requests queued to its own task, so calling oneself times out. */
static void call_to_self_times_out(void **state)
{
    liteipc_kernel *k = *state;
    int fd = open_and_map(k);

    assert_int_equal(liteipc_ioctl(k, fd, IPC_SET_CMS, (unsigned long)256), 0);
    IpcMsg req = {.type = MT_REQUEST, .target.handle = 0};
    IpcContent c = {.flag = SEND | RECV, .outMsg = &req};
    assert_int_equal(liteipc_ioctl(k, fd, IPC_SEND_RECV_MSG, &c), -1);
    assert_int_equal(errno, ETIME); /* after reply_timeout_ms */
    liteipc_close(k, fd);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(version_is_2, setup, teardown),
        cmocka_unit_test_setup_teardown(call_gets_reply, setup, teardown),
        cmocka_unit_test_setup_teardown(call_to_self_times_out, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
