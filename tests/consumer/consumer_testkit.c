/* SPDX-License-Identifier: Apache-2.0 */
/*
 * consumer_testkit.c - a program linked with an installed liteipc-sim that uses its test kit
 * (<liteipc/testkit.h>, in libliteipc.a) without CMocka:
 *   1. on the kernel served as NAME, started by attach_or_start (the installation's liteipcd): a
 *      client that starts before the ServiceManager waits for it and for the service
 *      (ltk_sm_wait_service: the backoff path, an attached kernel has no events to watch), the
 *      kit's ServiceManager, a service that registers and answers; its death unregisters it;
 *   2. the fixture on a kernel of its own (ltk_setup_sm / ltk_teardown as plain functions).
 * Usage: consumer_testkit NAME
 */
#include <liteipc/testkit.h>

#include <stdio.h>
#include <string.h>

static void *service_main(void *arg)
{
    liteipc_kernel *k = arg;
    int fd = ltk_dev_setup(k, LTK_POOL, NULL);
    IpcMsg *req;

    LTK_CHECK_OK(ltk_sm_register(k, fd, "echo", NULL));
    LTK_CHECK_OK(ltk_recv(k, fd, &req));
    LTK_CHECK_OK(ltk_reply(k, fd, req, req->data, req->dataSz));
    ltk_dev_close(k, fd);
    return NULL;
}

static void *client_main(void *arg)
{
    liteipc_kernel *k = arg;
    int fd = ltk_dev_setup(k, LTK_POOL, NULL);
    uint32_t handle = 0;
    IpcMsg *reply;

    LTK_CHECK_OK(ltk_sm_wait_service(k, fd, "echo", LTK_WAIT_MS, &handle));
    LTK_CHECK_OK(ltk_call(k, fd, handle, 1, "ping", 4, &reply));
    if (!ltk_failures(NULL, 0)) {
        LTK_CHECK(reply->dataSz == 4 && memcmp(reply->data, "ping", 4) == 0);
        LTK_CHECK_OK(ltk_free(k, fd, reply));
    }
    ltk_dev_close(k, fd);
    return NULL;
}

static int run_on_daemon(const char *name)
{
    liteipc_kernel *k = NULL;
    liteipc_vproc *client, *service;
    ltk_sm *sm = NULL;
    int rc = liteipc_kernel_attach_or_start(name, &k);

    if (rc < 0) {
        fprintf(stderr, "consumer (testkit): attach_or_start: %s\n", liteipc_errno_name(rc));
        return 1;
    }
    LTK_CHECK_OK(ltk_vproc_start(k, client_main, k, &client));
    LTK_CHECK_OK(ltk_sm_start(k, &sm));
    LTK_CHECK_OK(ltk_vproc_start(k, service_main, k, &service));
    LTK_CHECK_OK(ltk_vproc_finish(client, NULL));
    LTK_CHECK_OK(ltk_vproc_finish(service, NULL));
    if (sm) {
        LTK_CHECK_OK(ltk_sm_wait_deaths(sm, 1, LTK_WAIT_MS));
        LTK_CHECK_OK(ltk_sm_stop(sm));
    }
    LTK_CHECK_OK(liteipc_kernel_detach(k));
    return 0;
}

static int run_fixture(void)
{
    void *state = NULL;
    ltk_fixture *f;
    int fd;

    if (ltk_setup_sm(&state) != 0)
        return 1;
    f = state;
    fd = ltk_dev_setup(f->k, LTK_POOL, NULL);
    LTK_CHECK(fd >= 0);
    LTK_CHECK_EQ(ltk_sm_lookup(f->k, fd, "nothing", NULL), -ENOENT);
    LTK_CHECK_EQ(ltk_call(f->k, fd, (uint32_t)liteipc_self_tid(f->k), 1, NULL, 0, NULL),
                 -ETIME); /* after LTK_FAST_TIMEOUT_MS */
    ltk_dev_close(f->k, fd);
    return ltk_teardown(&state) == 0 ? 0 : 1;
}

int main(int argc, char **argv)
{
    char first[400];
    int rc;

    if (argc != 2) {
        fprintf(stderr, "usage: %s NAME\n", argv[0]);
        return 2;
    }
    ltk_watchdog_arm(LTK_WATCHDOG_S);
    rc = run_on_daemon(argv[1]);
    if (rc == 0)
        rc = run_fixture();
    if (ltk_failures(first, sizeof(first)) != 0) {
        fprintf(stderr, "consumer (testkit): failed: %s\n", first);
        rc = 1;
    }
    if (rc == 0)
        printf("consumer (testkit): ServiceManager, service, client and fixture work\n");
    return rc;
}
