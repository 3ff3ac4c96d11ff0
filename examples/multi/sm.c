/* SPDX-License-Identifier: Apache-2.0 */
/*
 * sm.c - liteipc-sm: a ServiceManager as its own program.
 *
 * Its main thread becomes the CMS (IPC_SET_CMS: handle 0) and serves, by name:
 *   REGISTER  the sender's task becomes a service: CMS_GEN_HANDLE(sender's TID) gives its
 *             handle and grants this process access to it (so we hear of its death);
 *   LOOKUP    CMS_ADD_ACCESS grants the asking process access to the named service, and the
 *             reply carries its handle; an unknown name gets a FAILED_REPLY (ENOENT there).
 * A second thread is the process's IPC thread (IPC_SET_IPC_THREAD): it receives the
 * MT_DEATH_NOTIFY of every registered service that ends, however it ends, prints it and
 * removes the service, so that later LOOKUPs fail.
 *
 * It runs until SIGINT, SIGTERM or SIGHUP. As on the device, a kernel has one CMS for its
 * whole life: once a ServiceManager has run, even one that has exited, IPC_SET_CMS answers
 * EEXIST until the kernel (liteipcd) is restarted.
 *
 * Usage: liteipc-sm [--no-start]   (device: $LITEIPC_DEVICE, else "lite_ipc")
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <errno.h>
#include <getopt.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>

#include "common.h"
#include "proto.h"

#define PROG "liteipc-sm"
#define SM_MAX_SERVICES 16

struct service {
    char name[SVC_NAME_MAX + 1];
    uint32_t handle;
    bool used;
};

struct sm {
    struct node n;
    pthread_mutex_t lock;  /* services: the main thread adds, the IPC thread removes */
    struct service services[SM_MAX_SERVICES];

    pthread_t ipc_thread;
    pthread_mutex_t ipc_lock;
    pthread_cond_t ipc_cond;
    int ipc_tid;           /* 0 until the IPC thread is set up, then its TID or -errno */
};

/* ---- the service table ----------------------------------------------------------------------- */

static struct service *find_locked(struct sm *sm, const char *name)
{
    for (int i = 0; i < SM_MAX_SERVICES; i++)
        if (sm->services[i].used && strcmp(sm->services[i].name, name) == 0)
            return &sm->services[i];
    return NULL;
}

/* Record name -> handle; false if the name is taken or the table is full. */
static bool add_service(struct sm *sm, const char *name, uint32_t handle)
{
    struct service *free_slot = NULL;
    bool ok = false;

    pthread_mutex_lock(&sm->lock);
    for (int i = 0; i < SM_MAX_SERVICES && !free_slot; i++)
        if (!sm->services[i].used)
            free_slot = &sm->services[i];
    if (free_slot && !find_locked(sm, name)) {
        snprintf(free_slot->name, sizeof free_slot->name, "%s", name);
        free_slot->handle = handle;
        free_slot->used = true;
        ok = true;
    }
    pthread_mutex_unlock(&sm->lock);
    return ok;
}

static bool lookup_service(struct sm *sm, const char *name, uint32_t *handle)
{
    struct service *s;

    pthread_mutex_lock(&sm->lock);
    s = find_locked(sm, name);
    if (s)
        *handle = s->handle;
    pthread_mutex_unlock(&sm->lock);
    return s != NULL;
}

/* Forget the service whose task has died; its name, or false if none had that handle. */
static bool remove_service(struct sm *sm, uint32_t handle, char name[SVC_NAME_MAX + 1])
{
    bool found = false;

    pthread_mutex_lock(&sm->lock);
    for (int i = 0; i < SM_MAX_SERVICES && !found; i++) {
        struct service *s = &sm->services[i];

        if (s->used && s->handle == handle) {
            memcpy(name, s->name, sizeof s->name);
            s->used = false;
            found = true;
        }
    }
    pthread_mutex_unlock(&sm->lock);
    return found;
}

/* ---- the IPC thread: death notices ----------------------------------------------------------- */

static void publish_ipc_tid(struct sm *sm, int tid)
{
    pthread_mutex_lock(&sm->ipc_lock);
    sm->ipc_tid = tid;
    pthread_cond_broadcast(&sm->ipc_cond);
    pthread_mutex_unlock(&sm->ipc_lock);
}

static void on_death(struct sm *sm, const IpcMsg *msg)
{
    uint32_t dead = msg->target.token; /* the dead task's TID, which was its handle */
    char name[SVC_NAME_MAX + 1];

    if (remove_service(sm, dead, name))
        note(&sm->n, "<- DEATH_NOTIFY: task %u has died: service '%s' (handle %u) removed",
             dead, name, dead);
    else
        note(&sm->n, "<- DEATH_NOTIFY: task %u has died (no registered service had it)", dead);
}

static void *ipc_thread_main(void *arg)
{
    struct sm *sm = arg;
    int rc = liteipc_ioctl(sm->n.k, sm->n.fd, IPC_SET_IPC_THREAD, 0UL);

    publish_ipc_tid(sm, rc < 0 ? -errno : rc);
    if (rc < 0)
        return NULL;
    node_tid(&sm->n); /* for the output */
    for (;;) {
        const IpcMsg *msg;
        bool stop;

        rc = node_receive(&sm->n, &msg);
        if (rc < 0) {
            note(&sm->n, "IPC thread: RECV: %s; the thread ends", liteipc_errno_name(-rc));
            return NULL;
        }
        stop = msg_is_stop(&sm->n, msg);
        if (msg->type == MT_DEATH_NOTIFY)
            on_death(sm, msg);
        else if (!stop)
            note(&sm->n, "IPC thread: unexpected message type %d code %u: dropped",
                 (int)msg->type, msg->code);
        if (msg->type == MT_REQUEST && msg->flag != LITEIPC_FLAG_ONEWAY)
            rc = node_answer(&sm->n, msg, MT_FAILED_REPLY, NULL, 0);
        else
            rc = node_free(&sm->n, msg);
        if (rc < 0)
            note(&sm->n, "IPC thread: freeing a message: %s", liteipc_errno_name(-rc));
        if (stop)
            return NULL;
    }
}

/* Start the IPC thread and wait until it has called IPC_SET_IPC_THREAD: its TID or -errno. */
static int start_ipc_thread(struct sm *sm)
{
    int err = pthread_create(&sm->ipc_thread, NULL, ipc_thread_main, sm);

    if (err)
        return -err;
    pthread_mutex_lock(&sm->ipc_lock);
    while (sm->ipc_tid == 0)
        pthread_cond_wait(&sm->ipc_cond, &sm->ipc_lock);
    err = sm->ipc_tid;
    pthread_mutex_unlock(&sm->ipc_lock);
    if (err < 0)
        pthread_join(sm->ipc_thread, NULL);
    return err;
}

/* ---- the main thread: handle 0 --------------------------------------------------------------- */

static int on_register(struct sm *sm, const IpcMsg *req, const char *name)
{
    CmsCmdContent cms = {.cmd = CMS_GEN_HANDLE, .taskID = req->taskID};
    uint32_t handle;

    note(&sm->n, "<- REGISTER '%s' from pid %u tid %u", name, req->processID, req->taskID);
    if (lookup_service(sm, name, &handle)) {
        note(&sm->n, "-> FAILED_REPLY: '%s' is taken (handle %u)", name, handle);
        return node_answer(&sm->n, req, MT_FAILED_REPLY, NULL, 0);
    }
    if (liteipc_ioctl(sm->n.k, sm->n.fd, IPC_CMS_CMD, &cms) < 0) {
        note(&sm->n, "   CMS_GEN_HANDLE(task %u): %s", req->taskID, liteipc_errno_name(errno));
        return node_answer(&sm->n, req, MT_FAILED_REPLY, NULL, 0);
    }
    handle = cms.serviceHandle;
    if (!add_service(sm, name, handle)) {
        note(&sm->n, "-> FAILED_REPLY: the table is full or '%s' was just taken", name);
        return node_answer(&sm->n, req, MT_FAILED_REPLY, NULL, 0);
    }
    note(&sm->n, "-> REPLY: '%s' is handle %u (this process now hears of its death)", name,
         handle);
    return node_answer(&sm->n, req, MT_REPLY, &handle, sizeof handle);
}

static int on_lookup(struct sm *sm, const IpcMsg *req, const char *name)
{
    CmsCmdContent cms = {.cmd = CMS_ADD_ACCESS, .taskID = req->taskID};
    uint32_t handle;

    note(&sm->n, "<- LOOKUP '%s' from pid %u tid %u", name, req->processID, req->taskID);
    if (!lookup_service(sm, name, &handle)) {
        note(&sm->n, "-> FAILED_REPLY: no service '%s'", name);
        return node_answer(&sm->n, req, MT_FAILED_REPLY, NULL, 0);
    }
    cms.serviceHandle = handle;
    if (liteipc_ioctl(sm->n.k, sm->n.fd, IPC_CMS_CMD, &cms) < 0) {
        note(&sm->n, "   CMS_ADD_ACCESS(task %u, handle %u): %s", req->taskID, handle,
             liteipc_errno_name(errno));
        return node_answer(&sm->n, req, MT_FAILED_REPLY, NULL, 0);
    }
    note(&sm->n, "-> REPLY: handle %u (pid %u may call it now)", handle, req->processID);
    return node_answer(&sm->n, req, MT_REPLY, &handle, sizeof handle);
}

/* One request to handle 0: 0 to go on, 1 to stop, or -errno. */
static int on_request(struct sm *sm, const IpcMsg *msg)
{
    char name[SVC_NAME_MAX + 1];

    if (msg_is_stop(&sm->n, msg)) {
        int rc = node_free(&sm->n, msg);
        return rc < 0 ? rc : 1;
    }
    if (msg->type != MT_REQUEST)
        return node_free(&sm->n, msg); /* a stray reply: not ours to answer */
    if (msg->flag == LITEIPC_FLAG_ONEWAY)
        return node_free(&sm->n, msg); /* nothing here is one-way: just drop it */
    if ((msg->code == SM_REGISTER || msg->code == SM_LOOKUP) &&
        !msg_text(msg, name, sizeof name)) {
        note(&sm->n, "<- code %u from pid %u without a valid name: FAILED_REPLY", msg->code,
             msg->processID);
        return node_answer(&sm->n, msg, MT_FAILED_REPLY, NULL, 0);
    }
    switch (msg->code) {
    case SM_REGISTER:
        return on_register(sm, msg, name);
    case SM_LOOKUP:
        return on_lookup(sm, msg, name);
    default:
        note(&sm->n, "<- unknown code %u from pid %u: FAILED_REPLY", msg->code, msg->processID);
        return node_answer(&sm->n, msg, MT_FAILED_REPLY, NULL, 0);
    }
}

static int serve(struct sm *sm)
{
    for (;;) {
        const IpcMsg *msg;
        int rc = node_receive(&sm->n, &msg);

        if (rc < 0) {
            note(&sm->n, "RECV: %s%s", liteipc_errno_name(-rc),
                 rc == -ESHUTDOWN ? ": the kernel has gone" : "");
            return rc;
        }
        rc = on_request(sm, msg);
        if (rc < 0) {
            note(&sm->n, "answering: %s", liteipc_errno_name(-rc));
            return rc;
        }
        if (rc == 1)
            return 0;
    }
}

/* On the stopper thread: wake the main thread with a one-way MSG_STOP to handle 0 (us). */
static void on_stop(int sig, void *arg)
{
    struct sm *sm = arg;
    int rc;

    note(&sm->n, "%s: stopping", sig_name(sig));
    rc = node_send_oneway(&sm->n, 0, MSG_STOP);
    if (rc < 0)
        note(&sm->n, "sending MSG_STOP to handle 0: %s", liteipc_errno_name(-rc));
}

static void usage(FILE *f)
{
    fprintf(f, "usage: " PROG " [--no-start]\n"
               "A ServiceManager (the CMS, handle 0) for the kernel named $%s (default '%s'):\n"
               "REGISTER and LOOKUP of services by name; prints and applies death notices.\n"
               "Runs until SIGINT, SIGTERM or SIGHUP.\n"
               "  --no-start  fail if no kernel serves the name (default: start a liteipcd)\n",
            LITEIPC_DEVICE_ENV, LITEIPC_DEFAULT_DEVICE);
}

int main(int argc, char **argv)
{
    static const struct option opts[] = {
        {"no-start", no_argument, NULL, 'N'}, {"help", no_argument, NULL, 'h'}, {NULL, 0, NULL, 0}};
    static struct sm sm = {.lock = PTHREAD_MUTEX_INITIALIZER,
                           .ipc_lock = PTHREAD_MUTEX_INITIALIZER,
                           .ipc_cond = PTHREAD_COND_INITIALIZER};
    struct stopper stopper = {.running = false};
    bool start = true;
    int opt, rc, ipc_tid = -1;

    while ((opt = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
        switch (opt) {
        case 'N': start = false; break;
        case 'h': usage(stdout); return EXIT_OK;
        default: usage(stderr); return EXIT_USAGE;
        }
    }
    if (optind < argc) {
        usage(stderr);
        return EXIT_USAGE;
    }
    if (node_attach(&sm.n, PROG, start) < 0)
        return EXIT_FAILED;

    if (liteipc_ioctl(sm.n.k, sm.n.fd, IPC_SET_CMS, (unsigned long)SM_MAX_MSG_SIZE) < 0) {
        rc = errno;
        note(&sm.n, "IPC_SET_CMS: %s%s", liteipc_errno_name(rc),
             rc == EEXIST ? ": this kernel already has a CMS; as on the device it is never "
                            "replaced, even after it has exited: restart liteipcd"
                          : "");
        node_detach(&sm.n);
        return EXIT_FAILED;
    }
    note(&sm.n, "IPC_SET_CMS(%u): this task is handle 0", SM_MAX_MSG_SIZE);
    /* From here, signals go to the stopper thread only (the IPC thread inherits the mask). */
    rc = stopper_start(&stopper, on_stop, &sm);
    if (rc == 0)
        rc = ipc_tid = start_ipc_thread(&sm);
    if (rc < 0) {
        note(&sm.n, "starting a thread or IPC_SET_IPC_THREAD: %s", liteipc_errno_name(-rc));
        stopper_end(&stopper);
        node_detach(&sm.n);
        return EXIT_FAILED;
    }
    note(&sm.n, "ready: handle 0 is task %d; death notices come to the IPC thread, task %d",
         node_tid(&sm.n), ipc_tid);

    rc = serve(&sm);

    /* The IPC thread is in its receive: a one-way MSG_STOP from our own process ends it. If
       the kernel has gone, the send fails, and so has the thread's receive. */
    node_send_oneway(&sm.n, (uint32_t)ipc_tid, MSG_STOP);
    pthread_join(sm.ipc_thread, NULL);
    stopper_end(&stopper);
    node_detach(&sm.n);
    note(&sm.n, "%s", rc == 0 ? "stopped" : "FAILED");
    return rc == 0 ? EXIT_OK : EXIT_FAILED;
}
