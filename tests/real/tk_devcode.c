/* SPDX-License-Identifier: Apache-2.0 */
/*
 * tk_devcode.c - the test kit from device code (k == NULL: plain open/mmap/ioctl, routed by the
 * compat library to the kernel named $LITEIPC_DEVICE), started before its ServiceManager:
 *   parent (device code)                      child (the simulator API on the same kernel)
 *   open + mmap; ltk_wait_cms gives ETIMEDOUT
 *   "go" ------------------------------------> attach; ltk_sm_start; a service registers "svc"
 *   ltk_sm_wait_service(NULL, "svc") waits (its backoff), then calls it, looks up a missing name
 *   "done" ----------------------------------> the service ends; its death unregisters it
 * The pipes order the two processes; nothing sleeps to synchronise. Exit status 0 if every
 * check held. Run with a private LITEIPC_DEVICE and LITEIPCD (tests/CMakeLists.txt).
 */
#include <liteipc/testkit.h>

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

static int failures;

static void expect(int ok, const char *what, int rc)
{
    if (ok)
        return;
    fprintf(stderr, "tk_devcode[%d]: %s (%d, %s)\n", (int)getpid(), what, rc,
            liteipc_errno_name(rc));
    failures++;
}

/* One byte from fd: 0, or -1 if the other side went away. */
static int await(int fd)
{
    char c;

    return read(fd, &c, 1) == 1 ? 0 : -1;
}

static void *service_main(void *arg)
{
    liteipc_kernel *k = arg;
    int fd = ltk_dev_setup(k, LTK_POOL, NULL);
    IpcMsg *req;

    LTK_CHECK_OK(ltk_sm_register(k, fd, "svc", NULL));
    LTK_CHECK_OK(ltk_recv(k, fd, &req));
    LTK_CHECK_OK(ltk_reply(k, fd, req, "pong", 4));
    ltk_dev_close(k, fd);
    return NULL;
}

/* The ServiceManager and the service, once the device code is waiting. */
static int child(int go, int done)
{
    liteipc_kernel *k = NULL;
    liteipc_vproc *svc = NULL;
    ltk_sm *sm = NULL;
    int rc;

    if (await(go) != 0)
        return 1;
    rc = liteipc_kernel_attach(liteipc_device_name(), &k);
    expect(rc == 0, "attach", rc);
    if (rc != 0)
        return 1;
    rc = ltk_sm_start(k, &sm);
    expect(rc == 0, "ltk_sm_start", rc);
    if (rc == 0) {
        rc = liteipc_vproc_spawn(k, service_main, k, &svc);
        expect(rc == 0, "spawn", rc);
    }
    await(done);
    if (svc)
        liteipc_vproc_join(svc, NULL);
    if (sm) {
        rc = ltk_sm_wait_deaths(sm, 1, LTK_WAIT_MS);
        expect(rc == 0, "the service's death", rc);
        rc = ltk_sm_stop(sm);
        expect(rc == 0, "ltk_sm_stop", rc);
    }
    liteipc_kernel_detach(k);
    expect(ltk_failures(NULL, 0) == 0, "checks in the service", 0);
    return failures != 0;
}

/* Device code: no kernel handle, only the device's system calls. */
static void device_code(int go, int done)
{
    int fd = open(LITEIPC_DRIVER, O_RDWR);
    uint32_t handle = 0;
    IpcMsg *reply;
    int rc;

    expect(fd >= 0, "open", fd);
    expect(mmap(NULL, LTK_POOL, PROT_READ, MAP_PRIVATE, fd, 0) != MAP_FAILED, "mmap", 0);
    /* No ServiceManager: every message is refused with EINVAL, and the wait runs out. */
    rc = ltk_send(NULL, fd, 0, 1, LITEIPC_FLAG_ONEWAY, NULL, 0);
    expect(rc == -EINVAL, "a send before the CMS gives EINVAL", rc);
    rc = ltk_wait_cms(NULL, fd, 20);
    expect(rc == -ETIMEDOUT, "ltk_wait_cms without a CMS", rc);
    expect(write(go, "g", 1) == 1, "write go", 0);
    rc = ltk_sm_wait_service(NULL, fd, "svc", LTK_WAIT_MS, &handle);
    expect(rc == 0, "ltk_sm_wait_service", rc);
    rc = ltk_call(NULL, fd, handle, 1, "ping", 4, &reply);
    expect(rc == 0, "call svc", rc);
    if (rc == 0) {
        expect(reply->dataSz == 4 && memcmp(reply->data, "pong", 4) == 0, "the reply", 0);
        rc = ltk_free(NULL, fd, reply);
        expect(rc == 0, "free the reply", rc);
    }
    rc = ltk_sm_lookup(NULL, fd, "missing", &handle);
    expect(rc == -ENOENT, "lookup of a missing name", rc);
    expect(write(done, "d", 1) == 1, "write done", 0);
    close(fd);
}

int main(void)
{
    int go[2], done[2], status = 0;
    pid_t pid;

    ltk_watchdog_arm(LTK_WATCHDOG_S);
    if (pipe(go) != 0 || pipe(done) != 0)
        return 1;
    pid = fork(); /* before any device call: the child starts from scratch */
    if (pid < 0)
        return 1;
    if (pid == 0) {
        close(go[1]);
        close(done[1]);
        _exit(child(go[0], done[0]));
    }
    close(go[0]);
    close(done[0]);
    device_code(go[1], done[1]);
    close(go[1]);
    close(done[1]);
    expect(waitpid(pid, &status, 0) == pid && WIFEXITED(status) && WEXITSTATUS(status) == 0,
           "the child's checks", status);
    if (failures == 0)
        printf("tk_devcode: device code waited for the ServiceManager and its service\n");
    return failures != 0;
}
