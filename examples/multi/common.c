/* SPDX-License-Identifier: Apache-2.0 */
/*
 * common.c - see common.h.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include "common.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#include "proto.h"

/* The calling thread's task ID once known (0: not yet). Only for the output. */
static _Thread_local int t_tid;

/* ---- output ---------------------------------------------------------------------------------- */

void note(const struct node *n, const char *fmt, ...)
{
    char text[768], tid[16];
    struct timespec now;
    struct tm tm;
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(text, sizeof text, fmt, ap);
    va_end(ap);
    clock_gettime(CLOCK_REALTIME, &now);
    localtime_r(&now.tv_sec, &tm);
    if (t_tid > 0)
        snprintf(tid, sizeof tid, "%d", t_tid);
    else
        snprintf(tid, sizeof tid, "-");
    /* One printf per line, flushed at once: the programs' outputs are merged by time. */
    printf("%02d:%02d:%02d.%03ld %s[pid %d tid %s]: %s\n", tm.tm_hour, tm.tm_min, tm.tm_sec,
           now.tv_nsec / 1000000L, n->prog, n->pid, tid, text);
    fflush(stdout);
}

bool parse_uint(const char *prog, const char *opt, const char *s, unsigned long min,
                unsigned long max, unsigned long *out)
{
    char *end;
    unsigned long v;

    errno = 0;
    v = strtoul(s, &end, 10);
    if (end == s || *end != '\0' || errno == ERANGE || s[0] == '-' || v < min || v > max) {
        fprintf(stderr, "%s: %s: '%s' is not a number in %lu..%lu\n", prog, opt, s, min, max);
        return false;
    }
    *out = v;
    return true;
}

/* ---- the simulated process ------------------------------------------------------------------- */

static int attach_kernel(struct node *n, const char *device, bool start)
{
    int rc = start ? liteipc_kernel_attach_or_start(device, &n->k)
                   : liteipc_kernel_attach(device, &n->k);

    if (rc == 0)
        return 0;
    if (rc == -ENOENT)
        note(n, "no kernel serves device '%s': start `liteipcd --name %s` first%s", device,
             device, start ? "" : ", or drop --no-start");
    else if (rc == -ENOEXEC)
        note(n, "no kernel serves device '%s' and no liteipcd could be started (set $LITEIPCD "
                "to its path)", device);
    else
        note(n, "attaching to device '%s': %s", device, liteipc_errno_name(-rc));
    return rc;
}

int node_attach(struct node *n, const char *prog, bool start)
{
    const char *device = liteipc_device_name();
    void *pool;
    int rc;

    *n = (struct node){.prog = prog, .fd = -1, .pid = -1};
    rc = attach_kernel(n, device, start);
    if (rc < 0)
        return rc;
    n->fd = liteipc_open(n->k, LITEIPC_DRIVER, O_RDWR);
    if (n->fd < 0) {
        rc = -errno;
        note(n, "open %s: %s", LITEIPC_DRIVER, liteipc_errno_name(-rc));
        return rc;
    }
    pool = liteipc_mmap(n->k, NULL, POOL_SIZE, PROT_READ, MAP_PRIVATE, n->fd, 0);
    if (pool == MAP_FAILED) {
        rc = -errno;
        note(n, "mmap of the pool: %s", liteipc_errno_name(-rc));
        return rc;
    }
    n->pid = liteipc_self_pid(n->k);
    node_tid(n);
    note(n, "attached to device '%s' (reply timeout %u ms); open + mmap of a %u KiB pool done",
         device, liteipc_kernel_config(n->k)->reply_timeout_ms, POOL_SIZE / 1024);
    return 0;
}

void node_detach(struct node *n)
{
    if (!n->k)
        return;
    if (n->fd >= 0)
        liteipc_close(n->k, n->fd);
    n->fd = -1;
    liteipc_kernel_detach(n->k);
    n->k = NULL;
}

int node_tid(struct node *n)
{
    if (t_tid <= 0) {
        int tid = liteipc_self_tid(n->k);

        if (tid > 0)
            t_tid = tid;
        return tid;
    }
    return t_tid;
}

/* ---- IPC_SEND_RECV_MSG ----------------------------------------------------------------------- */

static int send_recv(struct node *n, IpcContent *c)
{
    if (liteipc_ioctl(n->k, n->fd, IPC_SEND_RECV_MSG, c) < 0)
        return -errno;
    if (t_tid <= 0)
        node_tid(n); /* this thread is a task now: show its ID in the output */
    return 0;
}

int node_call(struct node *n, uint32_t handle, uint32_t code, const void *data, size_t size,
              const IpcMsg **reply)
{
    IpcMsg req = {
        .type = MT_REQUEST,
        .target = {.handle = handle},
        .code = code,
        .flag = LITEIPC_FLAG_DEFAULT,
        .dataSz = (uint32_t)size,
        .data = (void *)data,
    };
    IpcContent c = {.flag = SEND | RECV, .outMsg = &req};
    int rc = send_recv(n, &c);

    if (rc == 0)
        *reply = c.inMsg;
    return rc;
}

int node_send_oneway(struct node *n, uint32_t handle, uint32_t code)
{
    IpcMsg req = {
        .type = MT_REQUEST,
        .target = {.handle = handle},
        .code = code,
        .flag = LITEIPC_FLAG_ONEWAY,
    };
    IpcContent c = {.flag = SEND, .outMsg = &req};

    return send_recv(n, &c);
}

int node_receive(struct node *n, const IpcMsg **msg)
{
    IpcContent c = {.flag = RECV};
    int rc = send_recv(n, &c);

    if (rc == 0)
        *msg = c.inMsg;
    return rc;
}

int node_free(struct node *n, const IpcMsg *msg)
{
    IpcContent c = {.flag = BUFF_FREE, .buffToFree = (void *)msg};

    return send_recv(n, &c);
}

int node_answer(struct node *n, const IpcMsg *req, MsgType type, const void *data,
                size_t size)
{
    IpcMsg rep = {
        .type = type,
        .target = {.handle = req->taskID}, /* a reply goes back to the requesting task */
        .code = req->code,
        .timestamp = req->timestamp,       /* what the kernel matches it with the request by */
        .dataSz = (uint32_t)size,
        .data = (void *)data,
    };
    IpcContent c = {.flag = SEND | BUFF_FREE, .outMsg = &rep, .buffToFree = (void *)req};

    return send_recv(n, &c);
}

/* ---- messages -------------------------------------------------------------------------------- */

uint32_t msg_u32(const IpcMsg *msg)
{
    uint32_t v = UINT32_MAX;

    if (msg->dataSz >= sizeof v)
        memcpy(&v, msg->data, sizeof v);
    return v;
}

bool msg_text(const IpcMsg *msg, char *buf, size_t size)
{
    /* With dataSz 0 the data pointer is meaningless (the device translates NULL too). */
    if (msg->dataSz >= size)
        return false;
    if (msg->dataSz > 0)
        memcpy(buf, msg->data, msg->dataSz);
    buf[msg->dataSz] = '\0';
    return strlen(buf) == msg->dataSz;
}

bool msg_is_stop(const struct node *n, const IpcMsg *msg)
{
    return msg->type == MT_REQUEST && msg->code == MSG_STOP &&
           msg->flag == LITEIPC_FLAG_ONEWAY && (int)msg->processID == n->pid;
}

/* ---- stopping on a signal -------------------------------------------------------------------- */

/* SIGUSR2 only ends the stopper thread (stopper_end). */
static void stop_signals(sigset_t *set, bool with_wakeup)
{
    sigemptyset(set);
    sigaddset(set, SIGINT);
    sigaddset(set, SIGTERM);
    sigaddset(set, SIGHUP);
    if (with_wakeup)
        sigaddset(set, SIGUSR2);
}

static void *stopper_main(void *arg)
{
    struct stopper *s = arg;
    sigset_t set;
    int sig;

    stop_signals(&set, true);
    while (sigwait(&set, &sig) != 0) {
    }
    if (sig != SIGUSR2)
        s->on_stop(sig, s->arg);
    return NULL;
}

int stopper_start(struct stopper *s, void (*on_stop)(int sig, void *arg), void *arg)
{
    sigset_t set;
    int err;

    s->on_stop = on_stop;
    s->arg = arg;
    stop_signals(&set, true);
    pthread_sigmask(SIG_BLOCK, &set, NULL);
    err = pthread_create(&s->thread, NULL, stopper_main, s);
    s->running = err == 0;
    return -err;
}

void stopper_end(struct stopper *s)
{
    if (!s->running)
        return;
    pthread_kill(s->thread, SIGUSR2); /* harmless if a signal already ended its wait */
    pthread_join(s->thread, NULL);
    s->running = false;
}

const char *sig_name(int sig)
{
    switch (sig) {
    case SIGINT: return "SIGINT";
    case SIGTERM: return "SIGTERM";
    case SIGHUP: return "SIGHUP";
    default: return "a signal";
    }
}
