/* SPDX-License-Identifier: Apache-2.0 */
/*
 * testkit_dev.c - the test kit's device helpers and ltk_wait_cms (<liteipc/testkit.h>). With a
 * kernel they call liteipc_*; with k == NULL the plain open/mmap/ioctl/close, which the LD_PRELOAD
 * shim or the compat library route to the simulator (or which reach the real device).
 */
#include <liteipc/testkit.h>

#include <fcntl.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <unistd.h>

#include "testkit_int.h"

/* ---- the device, as function calls or as system calls ------------------------------------ */

/* The device call's result, or -errno: the kit's convention. */
static int dev_ioctl(liteipc_kernel *k, int fd, unsigned long req, void *arg)
{
    int r = k ? liteipc_ioctl(k, fd, req, arg) : ioctl(fd, req, arg);

    return r < 0 ? -errno : r;
}

/* IPC_SET_CMS and IPC_SET_IPC_THREAD take an integer, not a pointer. */
static int dev_ioctl_ul(liteipc_kernel *k, int fd, unsigned long req, unsigned long arg)
{
    int r = k ? liteipc_ioctl(k, fd, req, arg) : ioctl(fd, req, arg);

    return r < 0 ? -errno : r;
}

int ltk_dev_open(liteipc_kernel *k)
{
    int fd = k ? liteipc_open(k, LITEIPC_DRIVER, O_RDWR) : open(LITEIPC_DRIVER, O_RDWR);

    return fd < 0 ? -errno : fd;
}

int ltk_dev_close(liteipc_kernel *k, int fd)
{
    int r = k ? liteipc_close(k, fd) : close(fd);

    return r < 0 ? -errno : 0;
}

int ltk_dev_setup(liteipc_kernel *k, size_t pool_size, void **pool)
{
    int fd = ltk_dev_open(k);
    void *p;
    int err;

    if (fd < 0)
        return fd;
    p = k ? liteipc_mmap(k, NULL, pool_size, PROT_READ, MAP_PRIVATE, fd, 0)
          : mmap(NULL, pool_size, PROT_READ, MAP_PRIVATE, fd, 0);
    if (p == MAP_FAILED) {
        err = errno;
        ltk_dev_close(k, fd);
        return -err;
    }
    if (pool)
        *pool = p;
    return fd;
}

/* ---- messages --------------------------------------------------------------------------- */

static void msg_init(IpcMsg *m, MsgType type, uint32_t handle, uint32_t code, uint32_t flag,
                     const void *data, uint32_t size)
{
    memset(m, 0, sizeof(*m));
    m->type = type;
    m->target.handle = handle;
    m->code = code;
    m->flag = flag;
    m->dataSz = size;
    m->data = (void *)data;
}

int ltk_call(liteipc_kernel *k, int fd, uint32_t handle, uint32_t code, const void *data,
             uint32_t size, IpcMsg **reply)
{
    IpcMsg out;
    IpcContent c;
    int r;

    msg_init(&out, MT_REQUEST, handle, code, LITEIPC_FLAG_DEFAULT, data, size);
    memset(&c, 0, sizeof(c));
    c.flag = SEND | RECV;
    c.outMsg = &out;
    r = dev_ioctl(k, fd, IPC_SEND_RECV_MSG, &c);
    if (r != 0)
        return r;
    if (reply)
        *reply = c.inMsg;
    else
        ltk_free(k, fd, c.inMsg);
    return 0;
}

int ltk_send(liteipc_kernel *k, int fd, uint32_t handle, uint32_t code, uint32_t flag,
             const void *data, uint32_t size)
{
    IpcMsg out;
    IpcContent c;

    msg_init(&out, MT_REQUEST, handle, code, flag, data, size);
    memset(&c, 0, sizeof(c));
    c.flag = SEND;
    c.outMsg = &out;
    return dev_ioctl(k, fd, IPC_SEND_RECV_MSG, &c);
}

int ltk_recv(liteipc_kernel *k, int fd, IpcMsg **msg)
{
    IpcContent c;
    int r;

    memset(&c, 0, sizeof(c));
    c.flag = RECV;
    r = dev_ioctl(k, fd, IPC_SEND_RECV_MSG, &c);
    if (r == 0 && msg)
        *msg = c.inMsg;
    return r;
}

/* A reply matches its request by the requester's TID and the request's timestamp (§4.3.2). */
static int reply_common(liteipc_kernel *k, int fd, MsgType type, const IpcMsg *req,
                        const void *data, uint32_t size)
{
    IpcMsg out;
    IpcContent c;

    msg_init(&out, type, req->taskID, req->code, req->flag, data, size);
    out.timestamp = req->timestamp;
    memset(&c, 0, sizeof(c));
    c.flag = SEND | BUFF_FREE;
    c.outMsg = &out;
    c.buffToFree = (void *)req;
    return dev_ioctl(k, fd, IPC_SEND_RECV_MSG, &c);
}

int ltk_reply(liteipc_kernel *k, int fd, const IpcMsg *req, const void *data, uint32_t size)
{
    return reply_common(k, fd, MT_REPLY, req, data, size);
}

int ltk_failed_reply(liteipc_kernel *k, int fd, const IpcMsg *req)
{
    return reply_common(k, fd, MT_FAILED_REPLY, req, NULL, 0);
}

int ltk_free(liteipc_kernel *k, int fd, const void *buf)
{
    IpcContent c;

    memset(&c, 0, sizeof(c));
    c.flag = BUFF_FREE;
    c.buffToFree = (void *)buf;
    return dev_ioctl(k, fd, IPC_SEND_RECV_MSG, &c);
}

/* ---- the access model --------------------------------------------------------------------- */

int ltk_set_cms(liteipc_kernel *k, int fd, unsigned long max_msg_size)
{
    return dev_ioctl_ul(k, fd, IPC_SET_CMS, max_msg_size);
}

int ltk_set_ipc_thread(liteipc_kernel *k, int fd)
{
    return dev_ioctl_ul(k, fd, IPC_SET_IPC_THREAD, 0UL);
}

int ltk_gen_handle(liteipc_kernel *k, int fd, uint32_t tid, uint32_t *handle)
{
    CmsCmdContent c = {.cmd = CMS_GEN_HANDLE, .taskID = tid, .serviceHandle = 0xdeadbeef};
    int r = dev_ioctl(k, fd, IPC_CMS_CMD, &c);

    if (r == 0 && handle)
        *handle = c.serviceHandle;
    return r;
}

int ltk_add_access(liteipc_kernel *k, int fd, uint32_t tid, uint32_t handle)
{
    CmsCmdContent c = {.cmd = CMS_ADD_ACCESS, .taskID = tid, .serviceHandle = handle};

    return dev_ioctl(k, fd, IPC_CMS_CMD, &c);
}

/* The calling thread's TID: with no kernel, gettid(), which is the task ID on the device and
   the simulated TID under the shim and the compat library. */
static int self_tid(liteipc_kernel *k)
{
    return k ? liteipc_self_tid(k) : (int)gettid();
}

int ltk_prime_task(liteipc_kernel *k, int fd)
{
    int tid = self_tid(k);
    IpcMsg *m;
    int r;

    if (tid < 0)
        return tid;
    r = ltk_send(k, fd, (uint32_t)tid, 0x7e01, LITEIPC_FLAG_ONEWAY, NULL, 0);
    if (r == 0)
        r = ltk_recv(k, fd, &m);
    return r == 0 ? ltk_free(k, fd, m) : r;
}

/* ---- waiting for the ServiceManager -------------------------------------------------------- */

void ltk__backoff(unsigned *step_ms, const struct timespec *deadline)
{
    struct timespec now, ts;
    long left_ms;

    *step_ms = *step_ms == 0 ? 1 : *step_ms >= 25 ? 50 : *step_ms * 2;
    clock_gettime(CLOCK_MONOTONIC, &now);
    left_ms = (long)(deadline->tv_sec - now.tv_sec) * 1000 +
              (deadline->tv_nsec - now.tv_nsec) / 1000000;
    if (left_ms <= 0)
        return;
    if (left_ms > (long)*step_ms)
        left_ms = (long)*step_ms;
    ts.tv_sec = left_ms / 1000;
    ts.tv_nsec = (left_ms % 1000) * 1000000L;
    nanosleep(&ts, NULL);
}

/* 0 once a CMS is set, -EINVAL before (§3.8), or another error. Flag 0 does nothing. */
static int probe_cms(liteipc_kernel *k, int fd)
{
    IpcContent c;

    memset(&c, 0, sizeof(c));
    return dev_ioctl(k, fd, IPC_SEND_RECV_MSG, &c);
}

struct cms_watch {
    pthread_mutex_t m;
    pthread_cond_t c;
    int seen;
};

static void cms_event(const liteipc_event *ev, void *ctx)
{
    struct cms_watch *w = ctx;

    if (ev->type != LITEIPC_EV_SET_CMS || ev->err != 0)
        return;
    pthread_mutex_lock(&w->m);
    w->seen = 1;
    pthread_cond_broadcast(&w->c);
    pthread_mutex_unlock(&w->m);
}

/* Hosted kernel: sleep until the SET_CMS event (subscribed before the probe, so none is
   missed). -EPERM (attached kernel) or -ENOSPC: the caller falls back to the backoff. */
static int wait_cms_event(liteipc_kernel *k, int fd, const struct timespec *dl)
{
    struct cms_watch w = {.seen = 0};
    int id, r;

    pthread_mutex_init(&w.m, NULL);
    ltk__cond_init(&w.c);
    id = liteipc_subscribe(k, cms_event, &w);
    if (id < 0) {
        r = id == -EPERM || id == -ENOSPC ? -EAGAIN : id;
        goto out;
    }
    r = probe_cms(k, fd);
    pthread_mutex_lock(&w.m);
    while (r == -EINVAL && !w.seen)
        if (pthread_cond_timedwait(&w.c, &w.m, dl) != 0)
            break;
    pthread_mutex_unlock(&w.m);
    liteipc_unsubscribe(k, id);
    if (r == -EINVAL && (r = probe_cms(k, fd)) == -EINVAL)
        r = -ETIMEDOUT;
out:
    pthread_cond_destroy(&w.c);
    pthread_mutex_destroy(&w.m);
    return r;
}

int ltk_wait_cms(liteipc_kernel *k, int fd, unsigned timeout_ms)
{
    struct timespec dl = ltk__deadline(timeout_ms);
    unsigned step = 0;
    int r;

    if (k && (r = wait_cms_event(k, fd, &dl)) != -EAGAIN)
        return r;
    while ((r = probe_cms(k, fd)) == -EINVAL && !ltk__passed(&dl))
        ltk__backoff(&step, &dl);
    return r == -EINVAL ? -ETIMEDOUT : r;
}
