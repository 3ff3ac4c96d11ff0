/* SPDX-License-Identifier: Apache-2.0 */
/*
 * echo_demo.c - a ServiceManager, an echo service and two clients, each in its own simulated
 * LiteOS process, talking through one simulated /dev/lite_ipc.
 *
 *   SM        sets itself as the CMS (handle 0) and serves REGISTER / LOOKUP / SHUTDOWN,
 *             granting access with CMS_GEN_HANDLE and CMS_ADD_ACCESS (the old samgr way).
 *   echo      registers "echo" with a synchronous call to handle 0, then serves UPPER and
 *             ASIS calls and one-way NOTEs until the SM tells it to QUIT.
 *   client-A  looks up "echo", makes three calls, then a one-way NOTE followed by a call.
 *   client-B  calls the service before looking it up (EACCES), looks up a name that does not
 *             exist (ENOENT from a failed reply), then looks up "echo" and calls it.
 *   main      (the host process) starts the kernel and the processes, and at the end asks the
 *             SM to shut down; the SM stops the echo service and waits for its death notice.
 *
 * Every step is printed by the task that makes it, labelled with its simulated PID and TID.
 * Steps are sequenced by the synchronous calls themselves (a task prints before it sends and
 * after it receives), so the output is the same on every run. The only other synchronisation
 * is a condition variable with which main waits until the SM is up and the service has
 * registered, and with which a task, once answered (or after a one-way send), waits until the
 * service is back in its receive with an empty queue, as the kernel's events tell (a
 * subscriber): so the events, and the diagrams drawn from them, come in the same order on every
 * run. `--trace` also prints every kernel event (from the broker thread, so those lines
 * interleave freely with the others). `--mermaid FILE` draws the whole run as a Mermaid
 * sequence diagram into FILE (liteipc_trace_start), `--chrome FILE` as Chrome trace-event JSON
 * for ui.perfetto.dev; `--preview` adds the first bytes of each message to both.
 *
 * Usage: echo_demo [--trace] [--mermaid FILE] [--chrome FILE] [--preview]
 */
#ifndef _GNU_SOURCE
#define _POSIX_C_SOURCE 200809L
#endif
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include <liteipc/liteipc.h>

#define POOL_SIZE 65536u       /* each process maps a 64 KiB pool, as ipc_lite does */
#define SM_MAX_MSG_SIZE 256u   /* IPC_SET_CMS argument, as samgr uses */
#define SM_MAX_SERVICES 8
#define NAME_LEN_MAX 31
#define ECHO_DATA_MAX 256
#define WATCHDOG_SECONDS 30    /* a hang is a bug: fail loudly instead of waiting forever */
#define STR_(x) #x
#define STR(x) STR_(x)

/* Request codes of the ServiceManager (handle 0). */
enum { SM_REGISTER = 1, SM_LOOKUP = 2, SM_SHUTDOWN = 3 };
/* Request codes of the echo service. SVC_QUIT is understood by every service of the demo. */
enum { ECHO_UPPER = 1, ECHO_ASIS = 2, ECHO_NOTE = 3, SVC_QUIT = 100 };

/* What main shares with the processes it starts. */
struct demo {
    liteipc_kernel *k;
    pthread_mutex_t lock;
    pthread_cond_t changed;
    bool sm_ready;        /* IPC_SET_CMS is done: others may send */
    bool echo_registered; /* echo_handle is valid */
    bool failed;          /* some process gave up: main stops waiting */
    uint32_t echo_handle;
    int sm_tid;
    /* What the kernel's events say of each task (on_step): parked in a receive, and how many
       messages wait in its queue. */
    bool parked[MAX_SERVICE_NUM];
    int queued[MAX_SERVICE_NUM];
};

/* One task's view of the device: who it is and its descriptor. */
struct actor {
    struct demo *d;
    const char *name;
    liteipc_kernel *k;
    int fd;
    int pid;
    int tid;
};

/* ---- output ---------------------------------------------------------------------------------- */

static void say(const struct actor *a, const char *fmt, ...)
{
    char line[512];
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(line, sizeof line, fmt, ap);
    va_end(ap);
    printf("[%-8s pid %2d tid %3d] %s\n", a->name, a->pid, a->tid, line);
    fflush(stdout);
}

static const char *msg_type_name(uint32_t type)
{
    static const char *const names[] = {"REQUEST", "REPLY", "FAILED_REPLY", "DEATH_NOTIFY"};
    return type < MT_NUM ? names[type] : "?";
}

/* --trace: one line per kernel event, printed by the broker thread. */
static void on_event(const liteipc_event *ev, void *ctx)
{
    char who[96] = "", what[64] = "";
    bool has_msg = ev->type == LITEIPC_EV_MSG_WRITTEN || ev->type == LITEIPC_EV_MSG_READ ||
                   ev->type == LITEIPC_EV_DROP_ON_WRITE || ev->type == LITEIPC_EV_DROP_ON_READ;

    (void)ctx;
    if (ev->src_tid >= 0 && ev->dst_tid >= 0)
        snprintf(who, sizeof who, "%.16s (tid %d) -> %.16s (tid %d)", ev->src_task, ev->src_tid,
                 ev->dst_task, ev->dst_tid);
    else if (ev->src_tid >= 0)
        snprintf(who, sizeof who, "%.16s (tid %d)", ev->src_task, ev->src_tid);
    else if (ev->dst_tid >= 0)
        snprintf(who, sizeof who, "%.16s (tid %d)", ev->dst_task, ev->dst_tid);
    if (ev->type == LITEIPC_EV_GEN_HANDLE || ev->type == LITEIPC_EV_GRANT)
        snprintf(what, sizeof what, ": handle %d%s%.16s", (int)ev->handle,
                 ev->type == LITEIPC_EV_GRANT ? " to " : "",
                 ev->type == LITEIPC_EV_GRANT ? ev->grantee_prog : "");
    else if (has_msg)
        snprintf(what, sizeof what, ": %s code %u", msg_type_name((uint32_t)ev->msg.type),
                 ev->msg.code);
    printf("    (trace) %s %s%s%s%s\n", liteipc_event_name(ev->type), who, what,
           ev->err ? ", " : "", ev->err ? liteipc_errno_name(ev->err) : "");
    fflush(stdout);
}

static void on_watchdog(int sig)
{
    static const char msg[] =
        "echo_demo: not finished after " STR(WATCHDOG_SECONDS) " s: giving up\n";
    (void)sig;
    if (write(STDERR_FILENO, msg, sizeof msg - 1) < 0) {
        /* nothing more to do */
    }
    _exit(2);
}

/* ---- shared state ---------------------------------------------------------------------------- */

static void demo_update(struct demo *d, void (*fn)(struct demo *d, uint32_t v), uint32_t v)
{
    pthread_mutex_lock(&d->lock);
    fn(d, v);
    pthread_cond_broadcast(&d->changed);
    pthread_mutex_unlock(&d->lock);
}

static void set_sm_ready(struct demo *d, uint32_t tid)
{
    d->sm_tid = (int)tid;
    d->sm_ready = true;
}

static void set_echo_handle(struct demo *d, uint32_t handle)
{
    d->echo_handle = handle;
    d->echo_registered = true;
}

static void set_failed(struct demo *d, uint32_t v)
{
    (void)v;
    d->failed = true;
}

/* Wait until *flag (a field of d) is true; false if some process failed first. */
static bool demo_wait(struct demo *d, const bool *flag)
{
    bool ok;

    pthread_mutex_lock(&d->lock);
    while (!*flag && !d->failed)
        pthread_cond_wait(&d->changed, &d->lock);
    ok = *flag;
    pthread_mutex_unlock(&d->lock);
    return ok;
}

/* Whether task tid is in a receive with nothing queued: the kernel's events say so. */
static bool task_idle(const struct demo *d, int tid)
{
    return tid >= 0 && tid < MAX_SERVICE_NUM && d->parked[tid] && d->queued[tid] == 0;
}

/* Wait until task tid waits in its receive with nothing queued; false if some process failed
   first. What a task does after answering then never races with what its caller does next. */
static bool await_idle(struct demo *d, int tid)
{
    bool ok;

    pthread_mutex_lock(&d->lock);
    while (!task_idle(d, tid) && !d->failed)
        pthread_cond_wait(&d->changed, &d->lock);
    ok = task_idle(d, tid);
    pthread_mutex_unlock(&d->lock);
    return ok;
}

static void count_step(struct demo *d, const liteipc_event *ev)
{
    int dst = ev->dst_tid >= 0 && ev->dst_tid < MAX_SERVICE_NUM ? ev->dst_tid : -1;
    int src = ev->src_tid >= 0 && ev->src_tid < MAX_SERVICE_NUM ? ev->src_tid : -1;

    if (ev->type == LITEIPC_EV_MSG_WRITTEN && dst >= 0)
        d->queued[dst]++;
    if ((ev->type == LITEIPC_EV_MSG_READ || ev->type == LITEIPC_EV_DROP_ON_READ) && dst >= 0 &&
        d->queued[dst] > 0)
        d->queued[dst]--;
    if (ev->type == LITEIPC_EV_RECV_WAIT && dst >= 0)
        d->parked[dst] = true;
    if ((ev->type == LITEIPC_EV_MSG_READ || ev->type == LITEIPC_EV_RECV_TIMEOUT ||
         ev->type == LITEIPC_EV_RECV_KILLED) && dst >= 0)
        d->parked[dst] = false;
    if (ev->type == LITEIPC_EV_TASK_DEATH && src >= 0) {
        d->parked[src] = false;
        d->queued[src] = 0;
    }
}

/* The subscriber that keeps parked/queued (on the broker thread: quick, no device calls). */
static void on_step(const liteipc_event *ev, void *ctx)
{
    struct demo *d = ctx;

    pthread_mutex_lock(&d->lock);
    count_step(d, ev);
    pthread_cond_broadcast(&d->changed);
    pthread_mutex_unlock(&d->lock);
}

static void *fail(struct actor *a, struct demo *d, const char *what, int err)
{
    say(a, "FAILED: %s: %s", what, liteipc_errno_name(err));
    demo_update(d, set_failed, 0);
    return (void *)1;
}

/* ---- the device, as each process uses it ----------------------------------------------------- */

/* Open the device and map this process's pool: the first thing every process does. */
static int actor_attach(struct actor *a, struct demo *d, const char *name)
{
    liteipc_kernel *k = d->k;
    void *pool;
    int rc;

    a->d = d;
    a->name = name;
    a->k = k;
    a->fd = -1;
    a->pid = liteipc_self_pid(k);
    a->tid = liteipc_self_tid(k);
    if (a->pid < 0 || a->tid < 0)
        return a->pid < 0 ? a->pid : a->tid;
    /* Names for events, diagrams and dumps: the task's and its process's. */
    rc = liteipc_set_task_name(k, name);
    if (rc == 0)
        rc = liteipc_set_process_name(k, name);
    if (rc < 0)
        return rc;
    a->fd = liteipc_open(k, LITEIPC_DRIVER, O_RDWR);
    if (a->fd < 0)
        return -errno;
    pool = liteipc_mmap(k, NULL, POOL_SIZE, PROT_READ, MAP_PRIVATE, a->fd, 0);
    if (pool == MAP_FAILED)
        return -errno;
    say(a, "open %s, mmap a %u KiB pool (read-only)", LITEIPC_DRIVER, POOL_SIZE / 1024);
    return 0;
}

static void actor_detach(struct actor *a)
{
    if (a->fd >= 0)
        liteipc_close(a->k, a->fd);
    a->fd = -1;
}

/* IPC_SEND_RECV_MSG; 0 or -errno. */
static int send_recv(struct actor *a, IpcContent *c)
{
    int rc = liteipc_ioctl(a->k, a->fd, IPC_SEND_RECV_MSG, c);

    if (rc < 0)
        return -errno;
    return rc == 0 ? 0 : -EIO; /* the simulator never returns a positive count here */
}

/* A synchronous call (SEND|RECV). On success *reply is in our pool and must be freed. */
static int call(struct actor *a, uint32_t handle, uint32_t code, const void *data, size_t size,
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
    int rc = send_recv(a, &c);

    if (rc == 0)
        *reply = c.inMsg;
    return rc;
}

/* A one-way request (SEND, flag LITEIPC_FLAG_ONEWAY): no reply may come. */
static int send_oneway(struct actor *a, uint32_t handle, uint32_t code, const void *data,
                       size_t size)
{
    IpcMsg req = {
        .type = MT_REQUEST,
        .target = {.handle = handle},
        .code = code,
        .flag = LITEIPC_FLAG_ONEWAY,
        .dataSz = (uint32_t)size,
        .data = (void *)data,
    };
    IpcContent c = {.flag = SEND, .outMsg = &req};

    return send_recv(a, &c);
}

/* Wait for the next incoming message (RECV, no deadline). */
static int receive(struct actor *a, const IpcMsg **msg)
{
    IpcContent c = {.flag = RECV};
    int rc = send_recv(a, &c);

    if (rc == 0)
        *msg = c.inMsg;
    return rc;
}

/* Give a received message back to the pool (BUFF_FREE). */
static int free_buffer(struct actor *a, const void *buf)
{
    IpcContent c = {.flag = BUFF_FREE, .buffToFree = (void *)buf};

    return send_recv(a, &c);
}

/* Answer req (MT_REPLY or MT_FAILED_REPLY) and free it, in one SEND|BUFF_FREE. */
static int answer(struct actor *a, const IpcMsg *req, MsgType type, const void *data,
                  size_t size)
{
    IpcMsg rep = {
        .type = type,
        .target = {.handle = req->taskID}, /* a reply goes to the requesting task */
        .code = req->code,
        .timestamp = req->timestamp, /* how the kernel matches it with the request */
        .dataSz = (uint32_t)size,
        .data = (void *)data,
    };
    IpcContent c = {.flag = SEND | BUFF_FREE, .outMsg = &rep, .buffToFree = (void *)req};

    return send_recv(a, &c);
}

static int reply_u32(struct actor *a, const IpcMsg *req, uint32_t value)
{
    return answer(a, req, MT_REPLY, &value, sizeof value);
}

/* The first 4 bytes of a reply's data, or UINT32_MAX if it has fewer. */
static uint32_t reply_get_u32(const IpcMsg *msg)
{
    uint32_t value = UINT32_MAX;

    if (msg->dataSz >= sizeof value && msg->data != NULL)
        memcpy(&value, msg->data, sizeof value);
    return value;
}

/* ---- the ServiceManager ---------------------------------------------------------------------- */

struct sm_entry {
    char name[NAME_LEN_MAX + 1];
    uint32_t handle;
    bool used;
};

struct sm_state {
    struct actor a;
    struct sm_entry services[SM_MAX_SERVICES];
    const IpcMsg *shutdown_req; /* held (not yet answered) while services stop */
    unsigned stopping;          /* services told to quit whose death notice is awaited */
};

/* Copy a request's data as a name; false if it is not a plausible name. */
static bool msg_name(const IpcMsg *msg, char name[NAME_LEN_MAX + 1])
{
    if (msg->dataSz == 0 || msg->dataSz > NAME_LEN_MAX || msg->data == NULL)
        return false;
    memcpy(name, msg->data, msg->dataSz);
    name[msg->dataSz] = '\0';
    return strlen(name) == msg->dataSz;
}

static struct sm_entry *sm_find(struct sm_state *sm, const char *name)
{
    for (int i = 0; i < SM_MAX_SERVICES; i++)
        if (sm->services[i].used && strcmp(sm->services[i].name, name) == 0)
            return &sm->services[i];
    return NULL;
}

static int sm_register(struct sm_state *sm, const IpcMsg *req)
{
    struct actor *a = &sm->a;
    char name[NAME_LEN_MAX + 1];
    struct sm_entry *e = NULL;
    CmsCmdContent cms = {.cmd = CMS_GEN_HANDLE, .taskID = req->taskID};

    if (!msg_name(req, name))
        return answer(a, req, MT_FAILED_REPLY, NULL, 0);
    say(a, "<- REGISTER '%s' from pid %u tid %u", name, req->processID, req->taskID);
    for (int i = 0; i < SM_MAX_SERVICES && e == NULL; i++)
        if (!sm->services[i].used)
            e = &sm->services[i];
    if (e == NULL || sm_find(sm, name) != NULL) {
        say(a, "-> FAILED_REPLY (%s)", e == NULL ? "table full" : "name taken");
        return answer(a, req, MT_FAILED_REPLY, NULL, 0);
    }
    /* The service waits in its synchronous call, so it has task IPC state and the grant of the
     * new handle to this (the CMS) process takes effect (reference §3.4, §6.2). */
    if (liteipc_ioctl(a->k, a->fd, IPC_CMS_CMD, &cms) < 0) {
        int err = errno;
        say(a, "   CMS_GEN_HANDLE(task %u) failed: %s", req->taskID, liteipc_errno_name(err));
        return answer(a, req, MT_FAILED_REPLY, NULL, 0);
    }
    memcpy(e->name, name, sizeof e->name);
    e->handle = cms.serviceHandle;
    e->used = true;
    say(a, "   CMS_GEN_HANDLE(task %u) = handle %u; the SM process may now call it", req->taskID,
        cms.serviceHandle);
    say(a, "-> REPLY handle %u", e->handle);
    return reply_u32(a, req, e->handle);
}

static int sm_lookup(struct sm_state *sm, const IpcMsg *req)
{
    struct actor *a = &sm->a;
    char name[NAME_LEN_MAX + 1];
    struct sm_entry *e;
    CmsCmdContent cms = {.cmd = CMS_ADD_ACCESS, .taskID = req->taskID};

    if (!msg_name(req, name))
        return answer(a, req, MT_FAILED_REPLY, NULL, 0);
    say(a, "<- LOOKUP '%s' from pid %u tid %u", name, req->processID, req->taskID);
    e = sm_find(sm, name);
    if (e == NULL) {
        say(a, "-> FAILED_REPLY (no such service)");
        return answer(a, req, MT_FAILED_REPLY, NULL, 0);
    }
    cms.serviceHandle = e->handle;
    if (liteipc_ioctl(a->k, a->fd, IPC_CMS_CMD, &cms) < 0) {
        int err = errno;
        say(a, "   CMS_ADD_ACCESS(task %u, handle %u) failed: %s", req->taskID, e->handle,
            liteipc_errno_name(err));
        return answer(a, req, MT_FAILED_REPLY, NULL, 0);
    }
    say(a, "   CMS_ADD_ACCESS(task %u, handle %u): pid %u may now call it", req->taskID,
        e->handle, req->processID);
    say(a, "-> REPLY handle %u", e->handle);
    return reply_u32(a, req, e->handle);
}

static int sm_shutdown(struct sm_state *sm, const IpcMsg *req)
{
    struct actor *a = &sm->a;

    say(a, "<- SHUTDOWN from pid %u tid %u", req->processID, req->taskID);
    for (int i = 0; i < SM_MAX_SERVICES; i++) {
        struct sm_entry *e = &sm->services[i];
        int rc;

        if (!e->used)
            continue;
        say(a, "-> one-way QUIT to '%s' (handle %u)", e->name, e->handle);
        rc = send_oneway(a, e->handle, SVC_QUIT, NULL, 0);
        if (rc < 0) {
            say(a, "   QUIT to '%s' failed: %s", e->name, liteipc_errno_name(-rc));
            e->used = false;
            continue;
        }
        sm->stopping++;
    }
    sm->shutdown_req = req; /* answered once every service has died */
    return 0;
}

static int sm_death(struct sm_state *sm, const IpcMsg *msg)
{
    struct actor *a = &sm->a;
    uint32_t dead = msg->target.token; /* the dead task's TID, i.e. its handle */
    int rc;

    for (int i = 0; i < SM_MAX_SERVICES; i++) {
        struct sm_entry *e = &sm->services[i];

        if (!e->used || e->handle != dead)
            continue;
        say(a, "<- DEATH_NOTIFY: '%s' (handle %u) has exited; forgetting it", e->name, dead);
        e->used = false;
        if (sm->stopping > 0)
            sm->stopping--;
    }
    rc = free_buffer(a, msg);
    if (rc == 0 && sm->shutdown_req != NULL && sm->stopping == 0) {
        say(a, "-> REPLY to SHUTDOWN: all services stopped; the SM stops too");
        rc = answer(a, sm->shutdown_req, MT_REPLY, NULL, 0);
        sm->shutdown_req = NULL;
        return rc == 0 ? 1 : rc; /* 1: leave the loop */
    }
    return rc;
}

/* One message; 0 to go on, 1 to stop, or -errno. */
static int sm_handle(struct sm_state *sm, const IpcMsg *msg)
{
    if (msg->type == MT_DEATH_NOTIFY)
        return sm_death(sm, msg);
    if (msg->type != MT_REQUEST)
        return free_buffer(&sm->a, msg); /* stray replies are not ours to answer */
    switch (msg->code) {
    case SM_REGISTER:
        return sm_register(sm, msg);
    case SM_LOOKUP:
        return sm_lookup(sm, msg);
    case SM_SHUTDOWN: {
        int rc = sm_shutdown(sm, msg);
        if (rc == 0 && sm->stopping == 0) {
            say(&sm->a, "-> REPLY to SHUTDOWN: no services; the SM stops");
            rc = answer(&sm->a, msg, MT_REPLY, NULL, 0);
            return rc == 0 ? 1 : rc;
        }
        return rc;
    }
    default:
        if (msg->flag == LITEIPC_FLAG_ONEWAY)
            return free_buffer(&sm->a, msg);
        return answer(&sm->a, msg, MT_FAILED_REPLY, NULL, 0);
    }
}

static void *sm_main(void *arg)
{
    struct demo *d = arg;
    struct sm_state sm = {.shutdown_req = NULL};
    struct actor *a = &sm.a;
    int rc;

    rc = actor_attach(a, d, "SM");
    if (rc < 0)
        return fail(a, d, "open/mmap", -rc);
    if (liteipc_ioctl(a->k, a->fd, IPC_SET_CMS, (unsigned long)SM_MAX_MSG_SIZE) < 0)
        return fail(a, d, "IPC_SET_CMS", errno);
    say(a, "IPC_SET_CMS(%u): this task is handle 0 now", SM_MAX_MSG_SIZE);
    rc = liteipc_ioctl(a->k, a->fd, IPC_SET_IPC_THREAD, 0UL);
    if (rc < 0)
        return fail(a, d, "IPC_SET_IPC_THREAD", errno);
    say(a, "IPC_SET_IPC_THREAD = %d: death notices for this process come to this task", rc);
    demo_update(d, set_sm_ready, (uint32_t)a->tid);

    for (;;) {
        const IpcMsg *msg = NULL;

        rc = receive(a, &msg);
        if (rc < 0)
            return fail(a, d, "RECV", -rc);
        rc = sm_handle(&sm, msg);
        if (rc < 0)
            return fail(a, d, "handling a message", -rc);
        if (rc == 1)
            break;
    }
    actor_detach(a);
    return NULL;
}

/* ---- the echo service ------------------------------------------------------------------------ */

static int echo_serve(struct actor *a, const IpcMsg *req, uint32_t sm_tid, bool *quit)
{
    char buf[ECHO_DATA_MAX];
    size_t n = req->dataSz;

    if (req->type != MT_REQUEST)
        return free_buffer(a, req);
    if (n > sizeof buf || (n > 0 && req->data == NULL)) {
        say(a, "<- code %u with %zu bytes: too large; FAILED_REPLY", req->code, n);
        return answer(a, req, MT_FAILED_REPLY, NULL, 0);
    }
    if (n > 0)
        memcpy(buf, req->data, n);

    switch (req->code) {
    case ECHO_UPPER:
    case ECHO_ASIS:
        say(a, "<- %s '%.*s' from pid %u tid %u", req->code == ECHO_UPPER ? "UPPER" : "ASIS",
            (int)n, buf, req->processID, req->taskID);
        if (req->code == ECHO_UPPER)
            for (size_t i = 0; i < n; i++)
                buf[i] = (char)toupper((unsigned char)buf[i]);
        if (req->flag == LITEIPC_FLAG_ONEWAY)
            return free_buffer(a, req); /* one-way: a reply would be refused */
        say(a, "-> REPLY '%.*s'", (int)n, buf);
        return answer(a, req, MT_REPLY, buf, n);
    case ECHO_NOTE:
        say(a, "<- one-way NOTE '%.*s' from pid %u tid %u (no reply; just free it)", (int)n, buf,
            req->processID, req->taskID);
        return free_buffer(a, req);
    case SVC_QUIT:
        if (req->taskID != sm_tid) {
            say(a, "<- QUIT from tid %u, which is not the SM: ignored", req->taskID);
            break;
        }
        say(a, "<- one-way QUIT from the SM: closing the device and exiting the thread");
        *quit = true;
        /* The SM sent it one-way: let it get back to its receive before the death notice. */
        return await_idle(a->d, (int)sm_tid) ? free_buffer(a, req) : -EIO;
    default:
        break;
    }
    if (req->flag == LITEIPC_FLAG_ONEWAY)
        return free_buffer(a, req);
    return answer(a, req, MT_FAILED_REPLY, NULL, 0);
}

static void *echo_main(void *arg)
{
    struct demo *d = arg;
    struct actor a;
    const IpcMsg *msg = NULL;
    uint32_t handle, sm_tid;
    bool quit = false;
    int rc;

    rc = actor_attach(&a, d, "echo");
    if (rc < 0)
        return fail(&a, d, "open/mmap", -rc);
    say(&a, "-> REGISTER 'echo' to handle 0, synchronous (SEND|RECV)");
    rc = call(&a, 0, SM_REGISTER, "echo", 4, &msg);
    if (rc < 0)
        return fail(&a, d, "REGISTER", -rc);
    handle = reply_get_u32(msg);
    sm_tid = msg->taskID; /* the kernel stamps who sent the reply: the SM's task */
    say(&a, "<- REPLY from tid %u: registered as handle %u (= my tid)", sm_tid, handle);
    rc = free_buffer(&a, msg);
    if (rc < 0)
        return fail(&a, d, "BUFF_FREE", -rc);
    if (!await_idle(d, (int)sm_tid))
        return fail(&a, d, "waiting for the SM", EIO);
    demo_update(d, set_echo_handle, handle);

    while (!quit) {
        rc = receive(&a, &msg);
        if (rc < 0)
            return fail(&a, d, "RECV", -rc);
        rc = echo_serve(&a, msg, sm_tid, &quit);
        if (rc < 0)
            return fail(&a, d, "answering", -rc);
    }
    actor_detach(&a);
    return NULL;
}

/* ---- clients --------------------------------------------------------------------------------- */

/* LOOKUP name at handle 0; the handle, or -errno. */
static int lookup(struct actor *a, const char *name)
{
    const IpcMsg *rep = NULL;
    uint32_t handle;
    int rc;

    say(a, "-> LOOKUP '%s' to handle 0", name);
    rc = call(a, 0, SM_LOOKUP, name, strlen(name), &rep);
    if ((rc == 0 || rc == -ENOENT) && !await_idle(a->d, a->d->sm_tid))
        rc = -EIO;
    if (rc < 0) {
        say(a, "<- %s%s", liteipc_errno_name(-rc),
            rc == -ENOENT ? ": the SM answered with a FAILED_REPLY" : "");
        return rc;
    }
    handle = reply_get_u32(rep);
    say(a, "<- REPLY handle %u", handle);
    rc = free_buffer(a, rep);
    return rc < 0 ? rc : (int)handle;
}

/* A synchronous echo call and its reply, printed; 0 or -errno. */
static int echo_call_quiet(struct actor *a, uint32_t handle, uint32_t code, const char *text)
{
    const IpcMsg *rep = NULL;
    int rc;

    rc = call(a, handle, code, text, strlen(text), &rep);
    if (rc == 0 && !await_idle(a->d, (int)handle)) /* the handle is the service's TID */
        rc = -EIO;
    if (rc < 0) {
        say(a, "<- %s", liteipc_errno_name(-rc));
        return rc;
    }
    say(a, "<- REPLY '%.*s' from pid %u tid %u", (int)rep->dataSz,
        rep->dataSz > 0 ? (const char *)rep->data : "", rep->processID, rep->taskID);
    return free_buffer(a, rep);
}

/* The same, announced first. */
static int echo_call(struct actor *a, uint32_t handle, uint32_t code, const char *text)
{
    say(a, "-> %s '%s' to handle %u", code == ECHO_UPPER ? "UPPER" : "ASIS", text, handle);
    return echo_call_quiet(a, handle, code, text);
}

static void *client_a_main(void *arg)
{
    struct demo *d = arg;
    struct actor a;
    int handle, rc;
    static const char note[] = "fire and forget", after[] = "after the note";

    rc = actor_attach(&a, d, "client-A");
    if (rc < 0)
        return fail(&a, d, "open/mmap", -rc);
    handle = lookup(&a, "echo");
    if (handle < 0)
        return fail(&a, d, "LOOKUP echo", -handle);
    if (echo_call(&a, (uint32_t)handle, ECHO_UPPER, "hello, liteipc") < 0 ||
        echo_call(&a, (uint32_t)handle, ECHO_ASIS, "Mixed Case stays") < 0 ||
        echo_call(&a, (uint32_t)handle, ECHO_UPPER, "third call") < 0)
        return fail(&a, d, "echo call", EIO);

    /* A one-way send returns at once, while the service may be printing: so announce both
     * messages first. The call is queued behind the note (each task's queue is FIFO), so the
     * service handles the note before it answers the call. */
    say(&a, "-> one-way NOTE '%s' to handle %d, then ASIS '%s'", note, handle, after);
    rc = send_oneway(&a, (uint32_t)handle, ECHO_NOTE, note, strlen(note));
    if (rc == 0 && !await_idle(d, handle))
        rc = -EIO;
    if (rc < 0)
        return fail(&a, d, "one-way NOTE", -rc);
    if (echo_call_quiet(&a, (uint32_t)handle, ECHO_ASIS, after) < 0)
        return fail(&a, d, "echo call", EIO);
    say(&a, "done; closing the device, the process exits");
    actor_detach(&a);
    return NULL;
}

static void *client_b_main(void *arg)
{
    struct demo *d = arg;
    struct actor a;
    int handle, rc;

    rc = actor_attach(&a, d, "client-B");
    if (rc < 0)
        return fail(&a, d, "open/mmap", -rc);

    /* Knowing the number is not enough: access is granted per process, by the SM. */
    say(&a, "(calling handle %u before any lookup: this process has no grant for it)",
        d->echo_handle);
    rc = echo_call(&a, d->echo_handle, ECHO_UPPER, "too early");
    if (rc != -EACCES)
        return fail(&a, d, "the early call should give EACCES", rc < 0 ? -rc : 0);

    rc = lookup(&a, "nosuch");
    if (rc != -ENOENT)
        return fail(&a, d, "LOOKUP nosuch should give ENOENT", rc < 0 ? -rc : 0);

    handle = lookup(&a, "echo");
    if (handle < 0)
        return fail(&a, d, "LOOKUP echo", -handle);
    if (echo_call(&a, (uint32_t)handle, ECHO_UPPER, "now it works") < 0)
        return fail(&a, d, "echo call", EIO);
    say(&a, "done; closing the device, the process exits");
    actor_detach(&a);
    return NULL;
}

/* ---- main ------------------------------------------------------------------------------------ */

static int spawn(struct demo *d, liteipc_thread_fn fn, liteipc_vproc **vp, const char *what)
{
    int rc = liteipc_vproc_spawn(d->k, fn, d, vp);

    if (rc < 0)
        fprintf(stderr, "echo_demo: spawning %s: %s\n", what, liteipc_errno_name(-rc));
    return rc;
}

static bool join(liteipc_vproc *vp, const char *what)
{
    void *result = NULL;
    int rc = liteipc_vproc_join(vp, &result);

    if (rc < 0) {
        fprintf(stderr, "echo_demo: joining %s: %s\n", what, liteipc_errno_name(-rc));
        return false;
    }
    return result == NULL;
}

/* Run one client process to its end. */
static bool run_client(struct demo *d, liteipc_thread_fn fn, const char *what)
{
    liteipc_vproc *vp;

    if (spawn(d, fn, &vp, what) < 0)
        return false;
    return join(vp, what);
}

/* The host process (this thread) asks the SM to stop everything. */
static bool shutdown_all(struct demo *d)
{
    struct actor a;
    const IpcMsg *rep = NULL;
    int rc;

    rc = actor_attach(&a, d, "main");
    if (rc < 0) {
        fprintf(stderr, "echo_demo: main: open/mmap: %s\n", liteipc_errno_name(-rc));
        return false;
    }
    say(&a, "-> SHUTDOWN to handle 0");
    rc = call(&a, 0, SM_SHUTDOWN, NULL, 0, &rep);
    if (rc < 0) {
        say(&a, "<- %s", liteipc_errno_name(-rc));
        actor_detach(&a);
        return false;
    }
    say(&a, "<- REPLY: everything stopped");
    rc = free_buffer(&a, rep);
    actor_detach(&a);
    return rc == 0;
}

static void usage(FILE *f)
{
    fprintf(f, "usage: echo_demo [--trace] [--mermaid FILE] [--chrome FILE] [--preview]\n"
               "  A ServiceManager, an echo service and two clients in simulated processes.\n"
               "  --trace           also print every kernel event\n"
               "  --mermaid FILE    draw the run as a Mermaid sequence diagram into FILE\n"
               "  --chrome FILE     write the run as Chrome trace-event JSON into FILE (open it\n"
               "                    in ui.perfetto.dev or chrome://tracing)\n"
               "  --preview         show the first bytes of each message in those drawings\n");
}

/* A drawing of the run (--mermaid, --chrome) into a file. */
struct drawing {
    const char *path; /* NULL: not asked for */
    unsigned format;  /* LITEIPC_TRACE_* */
    FILE *out;
    liteipc_trace *trace;
};

static int drawing_start(struct drawing *w, liteipc_kernel *k, bool preview)
{
    int rc;

    if (!w->path)
        return 0;
    w->out = fopen(w->path, "w");
    rc = w->out ? liteipc_trace_start_format(k, w->out, w->format |
                                             (preview ? LITEIPC_TRACE_PREVIEW : 0u), &w->trace)
                : -errno;
    if (rc < 0)
        fprintf(stderr, "echo_demo: %s: %s\n", w->path, liteipc_errno_name(-rc));
    return rc;
}

static bool drawing_stop(struct drawing *w)
{
    int rc = w->trace ? liteipc_trace_stop(w->trace) : 0;

    if (w->out && fclose(w->out) != 0 && rc == 0)
        rc = -errno;
    if (rc < 0)
        fprintf(stderr, "echo_demo: writing %s failed: %s\n", w->path, liteipc_errno_name(-rc));
    return rc == 0;
}

/* On failure: stop the kernel (which ends every blocked call with ESHUTDOWN) and give up. */
static int give_up(struct demo *d)
{
    fprintf(stderr, "echo_demo: FAILED\n");
    liteipc_kernel_stop(d->k);
    return 1;
}

int main(int argc, char **argv)
{
    struct demo d = {.lock = PTHREAD_MUTEX_INITIALIZER, .changed = PTHREAD_COND_INITIALIZER};
    liteipc_vproc *sm_vp, *echo_vp;
    struct drawing mermaid = {.format = LITEIPC_TRACE_MERMAID};
    struct drawing chrome = {.format = LITEIPC_TRACE_CHROME};
    bool trace = false, preview = false, ok = true;
    int sub = -1, steps, rc;

    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--trace") == 0) {
            trace = true;
        } else if (strcmp(argv[i], "--mermaid") == 0 && i + 1 < argc) {
            mermaid.path = argv[++i];
        } else if (strcmp(argv[i], "--chrome") == 0 && i + 1 < argc) {
            chrome.path = argv[++i];
        } else if (strcmp(argv[i], "--preview") == 0) {
            preview = true;
        } else if (strcmp(argv[i], "-h") == 0 || strcmp(argv[i], "--help") == 0) {
            usage(stdout);
            return 0;
        } else {
            usage(stderr);
            return 64;
        }
    }
    signal(SIGALRM, on_watchdog);
    alarm(WATCHDOG_SECONDS);

    rc = liteipc_kernel_start(NULL, &d.k); /* the device's limits and timeouts */
    if (rc < 0) {
        fprintf(stderr, "echo_demo: liteipc_kernel_start: %s\n", liteipc_errno_name(-rc));
        return 1;
    }
    steps = liteipc_subscribe(d.k, on_step, &d);
    if (steps < 0) {
        fprintf(stderr, "echo_demo: liteipc_subscribe: %s\n", liteipc_errno_name(-steps));
        return give_up(&d);
    }
    if (trace) {
        sub = liteipc_subscribe(d.k, on_event, NULL);
        if (sub < 0)
            fprintf(stderr, "echo_demo: liteipc_subscribe: %s\n", liteipc_errno_name(-sub));
    }
    if (drawing_start(&mermaid, d.k, preview) < 0 || drawing_start(&chrome, d.k, preview) < 0)
        return give_up(&d);
    printf("liteipc-sim %s echo demo: driver version %d\n", LITEIPC_VERSION_STRING,
           liteipc_kernel_config(d.k)->driver_version);
    fflush(stdout);

    /* The SM must be the CMS before anyone sends (no message moves until a CMS exists). */
    if (spawn(&d, sm_main, &sm_vp, "the ServiceManager") < 0 || !demo_wait(&d, &d.sm_ready) ||
        !await_idle(&d, d.sm_tid))
        return give_up(&d);
    if (spawn(&d, echo_main, &echo_vp, "the echo service") < 0 ||
        !demo_wait(&d, &d.echo_registered) || !await_idle(&d, (int)d.echo_handle))
        return give_up(&d);

    ok = run_client(&d, client_a_main, "client A") && ok;
    ok = run_client(&d, client_b_main, "client B") && ok;
    if (!shutdown_all(&d))
        return give_up(&d);
    ok = join(echo_vp, "the echo service") && ok;
    ok = join(sm_vp, "the ServiceManager") && ok;

    if (sub >= 0)
        liteipc_unsubscribe(d.k, sub);
    liteipc_unsubscribe(d.k, steps);
    ok = drawing_stop(&mermaid) && ok;
    ok = drawing_stop(&chrome) && ok;
    rc = liteipc_kernel_stop(d.k);
    if (rc < 0) {
        fprintf(stderr, "echo_demo: liteipc_kernel_stop: %s\n", liteipc_errno_name(-rc));
        ok = false;
    }
    alarm(0);
    printf("%s\n", ok ? "echo demo: all steps done, kernel stopped" : "echo demo: FAILED");
    return ok ? 0 : 1;
}
