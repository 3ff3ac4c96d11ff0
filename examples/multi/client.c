/* SPDX-License-Identifier: Apache-2.0 */
/*
 * client.c - liteipc-client: a client of the echo service as its own program.
 *
 * Looks the service up (LOOKUP to handle 0: the ServiceManager grants this process access and
 * replies with the handle), sets a second thread as the process's IPC thread to hear of the
 * service's death, then calls it --count times, --interval-ms apart, printing each reply.
 *
 * If the service dies meanwhile, the output shows what the device would give:
 *   - the IPC thread receives MT_DEATH_NOTIFY, token = the service's handle, at once;
 *   - a call the service held or had not yet received is not ended by the death: it returns
 *     ETIME when the kernel's reply timeout (5 s on the device, liteipcd --timeout-ms) runs out;
 *     a call made after the death fails at once (the handle is not alive, or no longer ours);
 *   - a new LOOKUP then gets a FAILED_REPLY (ENOENT), as the ServiceManager removed the
 *     service when its own death notice came.
 *
 * Exit status: 0 if every call was answered (or a signal stopped the calls), 3 if the service
 * went away, 1 for other failures (the kernel has gone, for example), 2 for a usage error.
 *
 * Usage: liteipc-client [--service NAME] [--count N] [--interval-ms MS] [--text TEXT]
 *                       [--wait-ms MS] [--no-start]
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <errno.h>
#include <getopt.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "common.h"
#include "proto.h"

#define PROG "liteipc-client"
#define TEXT_MAX 200
#define RETRY_MS 50

struct options {
    const char *service;
    const char *text;
    unsigned long count;
    unsigned long interval_ms;
    unsigned long wait_ms;
    bool start;
};

struct client {
    struct node n;
    const struct options *o;
    _Atomic uint32_t handle;   /* the service's, once looked up (read by the IPC thread) */
    atomic_bool service_died;  /* its death notice came */

    pthread_mutex_t lock;      /* stop and ipc_tid */
    pthread_cond_t cond;
    bool stop;                 /* a signal came: make no more calls */
    int ipc_tid;               /* 0 until the IPC thread is set up, then its TID or -errno */
    pthread_t ipc_thread;
};

static uint64_t now_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

/* Wait up to ms, or until a signal asks us to stop; true if we must stop. */
static bool pause_ms(struct client *c, unsigned long ms)
{
    struct timespec until;
    bool stop;

    clock_gettime(CLOCK_MONOTONIC, &until);
    until.tv_sec += (time_t)(ms / 1000);
    until.tv_nsec += (long)(ms % 1000) * 1000000L;
    if (until.tv_nsec >= 1000000000L) {
        until.tv_sec++;
        until.tv_nsec -= 1000000000L;
    }
    pthread_mutex_lock(&c->lock);
    while (!c->stop && pthread_cond_timedwait(&c->cond, &c->lock, &until) == 0) {
    }
    stop = c->stop;
    pthread_mutex_unlock(&c->lock);
    return stop;
}

static bool stopping(struct client *c)
{
    bool stop;

    pthread_mutex_lock(&c->lock);
    stop = c->stop;
    pthread_mutex_unlock(&c->lock);
    return stop;
}

/* On the stopper thread: no device call, just tell the main thread. */
static void on_stop(int sig, void *arg)
{
    struct client *c = arg;

    note(&c->n, "%s: no more calls", sig_name(sig));
    pthread_mutex_lock(&c->lock);
    c->stop = true;
    pthread_cond_broadcast(&c->cond);
    pthread_mutex_unlock(&c->lock);
}

/* ---- the IPC thread: death notices ----------------------------------------------------------- */

static void publish_ipc_tid(struct client *c, int tid)
{
    pthread_mutex_lock(&c->lock);
    c->ipc_tid = tid;
    pthread_cond_broadcast(&c->cond);
    pthread_mutex_unlock(&c->lock);
}

static void *ipc_thread_main(void *arg)
{
    struct client *c = arg;
    int rc = liteipc_ioctl(c->n.k, c->n.fd, IPC_SET_IPC_THREAD, 0UL);

    publish_ipc_tid(c, rc < 0 ? -errno : rc);
    if (rc < 0)
        return NULL;
    node_tid(&c->n); /* for the output */
    for (;;) {
        const IpcMsg *msg;
        bool stop;

        rc = node_receive(&c->n, &msg);
        if (rc < 0) {
            note(&c->n, "IPC thread: RECV: %s; the thread ends", liteipc_errno_name(-rc));
            return NULL;
        }
        stop = msg_is_stop(&c->n, msg);
        if (msg->type == MT_DEATH_NOTIFY) {
            uint32_t dead = msg->target.token;
            bool ours = dead == atomic_load(&c->handle);

            note(&c->n, "IPC thread <- DEATH_NOTIFY: task %u has died%s%s%s", dead,
                 ours ? ": it was '" : "", ours ? c->o->service : "", ours ? "'" : "");
            if (ours)
                atomic_store(&c->service_died, true);
        }
        if (msg->type == MT_REQUEST && msg->flag != LITEIPC_FLAG_ONEWAY)
            rc = node_answer(&c->n, msg, MT_FAILED_REPLY, NULL, 0);
        else
            rc = node_free(&c->n, msg);
        if (rc < 0)
            note(&c->n, "IPC thread: freeing a message: %s", liteipc_errno_name(-rc));
        if (stop)
            return NULL;
    }
}

static int start_ipc_thread(struct client *c)
{
    int err = pthread_create(&c->ipc_thread, NULL, ipc_thread_main, c);

    if (err)
        return -err;
    pthread_mutex_lock(&c->lock);
    while (c->ipc_tid == 0)
        pthread_cond_wait(&c->cond, &c->lock);
    err = c->ipc_tid;
    pthread_mutex_unlock(&c->lock);
    if (err < 0)
        pthread_join(c->ipc_thread, NULL);
    return err;
}

/* ---- calls ----------------------------------------------------------------------------------- */

/* LOOKUP the service once: its handle, or -errno (ENOENT: the SM's FAILED_REPLY). */
static int lookup(struct client *c)
{
    const char *name = c->o->service;
    const IpcMsg *reply;
    uint32_t handle;
    int rc;

    note(&c->n, "-> LOOKUP '%s' to handle 0", name);
    rc = node_call(&c->n, 0, SM_LOOKUP, name, strlen(name), &reply);
    if (rc < 0) {
        note(&c->n, "<- %s%s", liteipc_errno_name(-rc),
             rc == -ENOENT ? ": a FAILED_REPLY, the ServiceManager knows no such service"
             : rc == -EINVAL ? ": no ServiceManager (no CMS) in this kernel" : "");
        return rc;
    }
    handle = msg_u32(reply);
    note(&c->n, "<- REPLY: '%s' is handle %u", name, handle);
    rc = node_free(&c->n, reply);
    return rc < 0 ? rc : (int)handle;
}

/* LOOKUP until the SM and the service are there, for up to --wait-ms. */
static int lookup_patiently(struct client *c)
{
    uint64_t deadline = now_ms() + c->o->wait_ms;

    for (;;) {
        int rc = lookup(c);

        if (rc >= 0 || (rc != -EINVAL && rc != -ENOENT) || now_ms() >= deadline)
            return rc;
        if (pause_ms(c, RETRY_MS))
            return -EINTR;
    }
}

/* Call #i; 0 or -errno, the reply or the error printed. */
static int call_once(struct client *c, uint32_t handle, unsigned long i)
{
    char text[TEXT_MAX + 32];
    const IpcMsg *reply;
    uint64_t t0 = now_ms();
    int rc;

    snprintf(text, sizeof text, "%s #%lu", c->o->text, i);
    note(&c->n, "-> UPPER '%s' to handle %u", text, handle);
    rc = node_call(&c->n, handle, ECHO_UPPER, text, strlen(text), &reply);
    if (rc < 0) {
        note(&c->n, "<- %s after %llu ms", liteipc_errno_name(-rc), (unsigned long long)(now_ms() - t0));
        return rc;
    }
    if (reply->type == MT_DEATH_NOTIFY) /* only if this thread were the IPC thread (Q6) */
        note(&c->n, "<- a DEATH_NOTIFY in place of the reply");
    else
        note(&c->n, "<- REPLY '%.*s' from pid %u tid %u after %llu ms", (int)reply->dataSz,
             reply->dataSz ? (const char *)reply->data : "", reply->processID, reply->taskID,
             (unsigned long long)(now_ms() - t0));
    return node_free(&c->n, reply);
}

/* Explain a failed call, then LOOKUP again. Returns the exit status. */
static int report_loss(struct client *c, int err)
{
    unsigned timeout = liteipc_kernel_config(c->n.k)->reply_timeout_ms;
    int rc;

    switch (err) {
    case -ESHUTDOWN:
        note(&c->n, "the kernel has gone (its liteipcd stopped or died)");
        return EXIT_FAILED;
    case -ETIME:
        note(&c->n, "no reply within the kernel's %u ms timeout: a service's death does not end "
                    "its callers' waits, they time out (as on the device)", timeout);
        break;
    case -EACCES:
    case -EINVAL:
        note(&c->n, "the handle is no longer a live service of ours: the call failed at once");
        break;
    default:
        note(&c->n, "the call failed: %s", liteipc_errno_name(-err));
        return EXIT_FAILED;
    }
    note(&c->n, "%s", atomic_load(&c->service_died)
                          ? "our IPC thread has received the service's death notice"
                          : "no death notice has reached our IPC thread");
    rc = lookup(c);
    if (rc == -ENOENT) {
        note(&c->n, "outcome: '%s' is gone, and the ServiceManager has removed it",
             c->o->service);
        return EXIT_SERVICE_GONE;
    }
    if (rc >= 0)
        note(&c->n, "outcome: the ServiceManager still (or again) lists '%s', as handle %d",
             c->o->service, rc);
    else
        note(&c->n, "outcome: the LOOKUP failed too (%s)", liteipc_errno_name(-rc));
    return rc == -ESHUTDOWN ? EXIT_FAILED : EXIT_SERVICE_GONE;
}

/* The calls; the exit status. */
static int run(struct client *c)
{
    int rc = lookup_patiently(c);
    uint32_t handle;

    if (rc == -EINTR)
        return EXIT_OK;
    if (rc < 0)
        return EXIT_FAILED;
    handle = (uint32_t)rc;
    atomic_store(&c->handle, handle);
    /* IPC_SET_IPC_THREAD needs a CMS, which the LOOKUP's answer proves exists. */
    rc = start_ipc_thread(c);
    if (rc < 0) {
        note(&c->n, "starting the IPC thread (IPC_SET_IPC_THREAD): %s", liteipc_errno_name(-rc));
        return EXIT_FAILED;
    }
    note(&c->n, "IPC_SET_IPC_THREAD: death notices for this process go to task %d", rc);
    unsigned long done = 0;

    while (done < c->o->count) {
        if (done > 0 && pause_ms(c, c->o->interval_ms))
            break;
        if (stopping(c))
            break;
        rc = call_once(c, handle, done + 1);
        if (rc < 0)
            return report_loss(c, rc);
        done++;
    }
    note(&c->n, "done: %lu call%s, every one answered", done, done == 1 ? "" : "s");
    return EXIT_OK;
}

/* ---- main ------------------------------------------------------------------------------------ */

static void usage(FILE *f)
{
    fprintf(f, "usage: " PROG " [--service NAME] [--count N] [--interval-ms MS] [--text TEXT]\n"
               "                      [--wait-ms MS] [--no-start]\n"
               "Calls the echo service of the kernel named $%s (default '%s') N times and\n"
               "prints the replies, and what happens if the service dies.\n"
               "  --service NAME    the service to look up (default 'echo')\n"
               "  --count N         calls to make (default 10)\n"
               "  --interval-ms MS  pause between calls (default 500)\n"
               "  --text TEXT       what to send; ' #i' is appended (default 'hello')\n"
               "  --wait-ms MS      how long to wait for the SM and the service (default 5000)\n"
               "  --no-start        fail if no kernel serves the name (default: start liteipcd)\n"
               "Exit status: 0 all calls answered, 3 the service went away, 1 other failure.\n",
            LITEIPC_DEVICE_ENV, LITEIPC_DEFAULT_DEVICE);
}

static int parse_options(int argc, char **argv, struct options *o)
{
    static const struct option opts[] = {
        {"service", required_argument, NULL, 's'}, {"count", required_argument, NULL, 'c'},
        {"interval-ms", required_argument, NULL, 'i'}, {"text", required_argument, NULL, 't'},
        {"wait-ms", required_argument, NULL, 'w'}, {"no-start", no_argument, NULL, 'N'},
        {"help", no_argument, NULL, 'h'},          {NULL, 0, NULL, 0}};
    int opt;

    *o = (struct options){.service = "echo", .text = "hello", .count = 10, .interval_ms = 500,
                          .wait_ms = 5000, .start = true};
    while ((opt = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
        bool ok = true;

        switch (opt) {
        case 's': o->service = optarg; break;
        case 't': o->text = optarg; break;
        case 'c': ok = parse_uint(PROG, "--count", optarg, 1, 1000000, &o->count); break;
        case 'i':
            ok = parse_uint(PROG, "--interval-ms", optarg, 0, 3600000, &o->interval_ms);
            break;
        case 'w': ok = parse_uint(PROG, "--wait-ms", optarg, 0, 3600000, &o->wait_ms); break;
        case 'N': o->start = false; break;
        case 'h': usage(stdout); return -1;
        default: usage(stderr); return EXIT_USAGE;
        }
        if (!ok)
            return EXIT_USAGE;
    }
    if (optind < argc || o->service[0] == '\0' || strlen(o->service) > SVC_NAME_MAX ||
        strlen(o->text) > TEXT_MAX) {
        usage(stderr);
        return EXIT_USAGE;
    }
    return 0;
}

int main(int argc, char **argv)
{
    static struct client c = {.lock = PTHREAD_MUTEX_INITIALIZER,
                              .cond = PTHREAD_COND_INITIALIZER};
    struct stopper stopper = {.running = false};
    struct options o;
    pthread_condattr_t ca;
    int rc, status;

    rc = parse_options(argc, argv, &o);
    if (rc != 0)
        return rc < 0 ? EXIT_OK : rc;
    c.o = &o;
    /* pause_ms waits on CLOCK_MONOTONIC, which a change of the wall clock does not move. */
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&c.cond, &ca);
    pthread_condattr_destroy(&ca);
    /* Before any other thread: the on_stop callback touches no device, so it may come early. */
    rc = stopper_start(&stopper, on_stop, &c);
    if (rc < 0)
        fprintf(stderr, PROG ": starting the signal thread: %s\n", liteipc_errno_name(-rc));
    if (node_attach(&c.n, PROG, o.start) < 0) {
        stopper_end(&stopper);
        return EXIT_FAILED;
    }

    status = run(&c);
    if (c.ipc_tid > 0) {
        /* A one-way MSG_STOP from our own process ends the IPC thread's receive. If the kernel
           has gone the send fails, and so has the thread's receive. */
        node_send_oneway(&c.n, (uint32_t)c.ipc_tid, MSG_STOP);
        pthread_join(c.ipc_thread, NULL);
    }
    stopper_end(&stopper);
    node_detach(&c.n);
    return status;
}
