/* SPDX-License-Identifier: Apache-2.0 */
/*
 * racy_counter.c - a deliberately buggy service, and the race that seed exploration finds.
 *
 *   counter   the ServiceManager task (handle 0) of its process: holds one number and answers
 *             GET (reply: the number), SET n (the number becomes n), ADD (adds one, atomically,
 *             from the clients' point of view) and QUIT.
 *   client-N  adds one to the counter. The buggy client does it in two calls, GET then SET to
 *             the value + 1: a check-then-act across two IPC calls. When both clients GET
 *             before either SETs, an update is lost. The fixed client sends one ADD.
 *   main      spawns them, joins the clients, reads the counter and stops the service.
 *
 * Under an ordinary kernel the race shows only now and then, and a failing run cannot be
 * replayed. Under liteipc_explore each run gets a deterministic kernel whose order of device
 * calls follows from a seed: the first seeds find the lost update, always at the same seed,
 * and that seed replays the same events every time (LITEIPC_SEED=<seed>).
 *
 * Usage: racy_counter [--fixed] [--one-process] [--seeds N]
 *   Explores seeds 1..N (default 64); --one-process makes the clients threads of one process.
 *   Exit status 0 when the outcome is the expected one: the buggy service fails at some seed
 *   (its report goes to stdout), the fixed one never fails.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>

#include "racy_counter.h"

#define POOL_SIZE 65536u
#define CMS_MAX_MSG 256u
#define NOT_READY_TRIES 100000u /* calls to handle 0 before the service is up: EINVAL */
#define CLIENTS_MAX 8
#define WARMUP_GETS 2 /* client N reads the counter 2N times before its update */

enum { CTR_GET = 1, CTR_SET = 2, CTR_ADD = 3, CTR_QUIT = 4 };

struct racy {
    liteipc_kernel *k;
    bool fixed;
    bool failed; /* some task could not do its part (written before its thread ends) */
    bool one_process;
    pthread_mutex_t map_lock; /* one_process: the clients' process maps its pool once */
    bool mapped;
};

struct client {
    struct racy *r;
    char name[16];
    unsigned warmup;   /* GETs before the update */
    unsigned think_us; /* computing between two calls */
};

/* Compute for us microseconds: a client that takes its time between two calls (a deterministic
   kernel waits for it; the order of the calls does not change). */
static void think(unsigned us)
{
    struct timespec t0, t;

    clock_gettime(CLOCK_MONOTONIC, &t0);
    do
        clock_gettime(CLOCK_MONOTONIC, &t);
    while (us && (int64_t)(t.tv_sec - t0.tv_sec) * 1000000 + (t.tv_nsec - t0.tv_nsec) / 1000 <
                     (int64_t)us);
}

/* Open the device and map the pool (unless *mapped: a process maps it once); the descriptor
   or -1. */
static int dev_open(liteipc_kernel *k, const char *name, bool *mapped)
{
    int fd;

    if (liteipc_set_task_name(k, name) < 0)
        return -1;
    fd = liteipc_open(k, LITEIPC_DRIVER, O_RDWR);
    if (fd < 0 || (mapped && *mapped))
        return fd;
    if (liteipc_mmap(k, NULL, POOL_SIZE, PROT_READ, MAP_PRIVATE, fd, 0) == MAP_FAILED) {
        liteipc_close(k, fd);
        return -1;
    }
    if (mapped)
        *mapped = true;
    return fd;
}

static uint32_t msg_u32(const IpcMsg *m)
{
    uint32_t v = 0;

    if (m->dataSz >= sizeof(v) && m->data)
        memcpy(&v, m->data, sizeof(v));
    return v;
}

/*
 * A synchronous call to handle 0 carrying v; the reply's number in *out. The service may not be
 * the ServiceManager yet (the device then gives EINVAL): try again, a deterministic kernel runs
 * the service's IPC_SET_CMS in between sooner or later. 0 or -errno.
 */
static int call(liteipc_kernel *k, int fd, uint32_t code, uint32_t v, uint32_t *out)
{
    IpcMsg req = {.type = MT_REQUEST, .target = {.handle = 0}, .code = code,
                  .flag = LITEIPC_FLAG_DEFAULT, .dataSz = sizeof(v), .data = &v};

    for (unsigned i = 0; i < NOT_READY_TRIES; i++) {
        IpcContent c = {.flag = SEND | RECV, .outMsg = &req};
        IpcContent f = {.flag = BUFF_FREE};

        if (liteipc_ioctl(k, fd, IPC_SEND_RECV_MSG, &c) < 0) {
            if (errno == EINVAL)
                continue;
            return -errno;
        }
        *out = msg_u32(c.inMsg);
        f.buffToFree = c.inMsg;
        return liteipc_ioctl(k, fd, IPC_SEND_RECV_MSG, &f) < 0 ? -errno : 0;
    }
    return -ETIMEDOUT;
}

/* Reply v to req, freeing req (SEND | BUFF_FREE). 0 or -errno. */
static int reply(liteipc_kernel *k, int fd, const IpcMsg *req, uint32_t v)
{
    IpcMsg rep = {.type = MT_REPLY, .target = {.handle = req->taskID}, .code = req->code,
                  .timestamp = req->timestamp, .dataSz = sizeof(v), .data = &v};
    IpcContent c = {.flag = SEND | BUFF_FREE, .outMsg = &rep, .buffToFree = (void *)req};

    return liteipc_ioctl(k, fd, IPC_SEND_RECV_MSG, &c) < 0 ? -errno : 0;
}

/* The service: correct in itself; the bug is in how the buggy clients use it. */
static void *counter_main(void *arg)
{
    struct racy *r = arg;
    liteipc_kernel *k = r->k;
    int fd = dev_open(k, "counter", NULL);
    uint32_t value = 0;

    if (fd < 0 || liteipc_ioctl(k, fd, IPC_SET_CMS, (unsigned long)CMS_MAX_MSG) < 0)
        goto fail;
    for (;;) {
        IpcContent c = {.flag = RECV};
        const IpcMsg *m;
        uint32_t code;

        if (liteipc_ioctl(k, fd, IPC_SEND_RECV_MSG, &c) < 0)
            goto fail;
        m = c.inMsg;
        code = m->code;
        if (code == CTR_SET)
            value = msg_u32(m);
        else if (code == CTR_ADD)
            value++;
        if (reply(k, fd, m, value) < 0)
            goto fail;
        if (code == CTR_QUIT)
            break;
    }
    liteipc_close(k, fd);
    return NULL;
fail:
    fprintf(stderr, "racy_counter: counter: %s\n", strerror(errno));
    r->failed = true;
    if (fd >= 0)
        liteipc_close(k, fd);
    return NULL;
}

static void *client_main(void *arg)
{
    struct client *cl = arg;
    liteipc_kernel *k = cl->r->k;
    uint32_t v = 0, ignored;
    int fd, err;

    if (cl->r->one_process) {
        pthread_mutex_lock(&cl->r->map_lock);
        fd = dev_open(k, cl->name, &cl->r->mapped);
        pthread_mutex_unlock(&cl->r->map_lock);
    } else {
        fd = dev_open(k, cl->name, NULL);
    }
    err = fd < 0 ? -errno : 0;

    /* The clients start their update at different times: client N first reads the counter
       2N times (to show it), so that the clients overlap under some orders only. */
    for (unsigned i = 0; err == 0 && i < cl->warmup; i++) {
        err = call(k, fd, CTR_GET, 0, &ignored);
        think(cl->think_us);
    }
    if (err == 0 && cl->r->fixed)
        err = call(k, fd, CTR_ADD, 0, &ignored);
    else if (err == 0)
        err = call(k, fd, CTR_GET, 0, &v); /* check ... */
    think(cl->think_us);
    if (err == 0 && !cl->r->fixed)
        err = call(k, fd, CTR_SET, v + 1, &ignored); /* ... then act: the bug */
    if (err < 0) {
        fprintf(stderr, "racy_counter: %s: %s\n", cl->name, strerror(-err));
        cl->r->failed = true;
    }
    if (fd >= 0)
        liteipc_close(k, fd);
    return NULL;
}

/* The host thread reads the counter and stops the service. The counter or -errno. */
static long read_and_stop(liteipc_kernel *k)
{
    int fd = dev_open(k, "main", NULL);
    uint32_t value = 0, ignored;
    int err = fd < 0 ? -errno : call(k, fd, CTR_GET, 0, &value);

    if (err == 0)
        err = call(k, fd, CTR_QUIT, 0, &ignored);
    if (fd >= 0)
        liteipc_close(k, fd);
    return err < 0 ? err : (long)value;
}

int racy_counter_run(liteipc_kernel *k, uint64_t seed, void *ctx)
{
    const racy_counter_opts *o = ctx;
    unsigned n = o && o->clients ? o->clients : 2;
    struct racy r = {.k = k, .fixed = o && o->fixed, .one_process = o && o->one_process,
                     .map_lock = PTHREAD_MUTEX_INITIALIZER};
    struct client cl[CLIENTS_MAX];
    liteipc_vproc *svc = NULL, *vp[CLIENTS_MAX];
    unsigned started = 0;
    long value = -EINVAL;

    (void)seed;
    if (n > CLIENTS_MAX || liteipc_vproc_spawn(k, counter_main, &r, &svc) < 0)
        return 2;
    for (; started < n; started++) {
        cl[started].r = &r;
        cl[started].warmup = WARMUP_GETS * started;
        cl[started].think_us = o ? o->think_us : 0;
        snprintf(cl[started].name, sizeof(cl[started].name), "client-%c", 'a' + (int)started);
        if (o && o->one_process && started > 0) {
            if (liteipc_vproc_add_thread(vp[0], client_main, &cl[started]) < 0)
                break;
        } else if (liteipc_vproc_spawn(k, client_main, &cl[started], &vp[started]) < 0) {
            break;
        }
    }
    for (unsigned i = 0; i < started && (i == 0 || !(o && o->one_process)); i++)
        liteipc_vproc_join(vp[i], NULL);
    if (started == n)
        value = read_and_stop(k);
    if (value < 0) /* the service still runs: a process's end would not stop it */
        liteipc_kernel_stop(k);
    liteipc_vproc_join(svc, NULL);
    if (value < 0 || r.failed)
        return 2;
    return value == (long)n ? 0 : 1;
}

#ifndef RACY_COUNTER_NO_MAIN
int main(int argc, char **argv)
{
    racy_counter_opts ro = {.fixed = false};
    liteipc_explore_opts eo = {.first_seed = 1, .seeds = 64, .report = stdout};
    int rc;

    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--fixed") == 0) {
            ro.fixed = true;
        } else if (strcmp(argv[i], "--one-process") == 0) {
            ro.one_process = true;
        } else if (strcmp(argv[i], "--seeds") == 0 && i + 1 < argc) {
            eo.seeds = (unsigned)strtoul(argv[++i], NULL, 10);
        } else {
            fprintf(stderr, "usage: %s [--fixed] [--one-process] [--seeds N]\n", argv[0]);
            return 2;
        }
    }
    rc = liteipc_explore(&eo, racy_counter_run, &ro);
    if (rc < 0) {
        fprintf(stderr, "racy_counter: liteipc_explore: %s\n", strerror(-rc));
        return 2;
    }
    if (rc == 0)
        printf("racy_counter: %u seed(s) run, no update lost\n", eo.runs);
    else
        printf("racy_counter: an update was lost at seed %llu, after %u seed(s)\n",
               (unsigned long long)eo.failed_seed, eo.runs);
    return (rc == 1) != ro.fixed ? 0 : 1;
}
#endif
