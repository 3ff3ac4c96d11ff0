/* SPDX-License-Identifier: Apache-2.0 */
/*
 * tutorial.c - the runs behind the diagrams of docs/TUTORIAL.md: one scenario per chapter, each
 * on its own kernel, with virtual processes whose tasks are named after their role ("SM",
 * "echo", "client", ...). The scenario is drawn with liteipc_trace_start, and this program adds
 * a note after each message arrow naming the ioctl and flags that sent it.
 *
 * Usage: tutorial NAME      print the Mermaid diagram of scenario NAME on stdout
 *        tutorial --list    print the scenario names
 *        tutorial           run every scenario (a test: output discarded, exit status only)
 *
 * The diagram must come out the same on every run (scripts/tutorial-gen.sh --check compares
 * it with the committed one), so nothing in it may depend on timing. Every step is taken in
 * turn: an actor waits for its turn (a counter in struct tut) and, before acting, for the
 * tasks it talks to to be parked in a receive, which it learns from the kernel's own events
 * (a subscriber). No sleep: the only times that matter are the shrunk reply timeouts of the
 * "timeout" and "death" scenarios, and there the late actions wait for the timeout to happen.
 * Every outcome the tutorial describes is checked here: a scenario fails (exit status 1, a
 * message on stderr) when the kernel answers anything else.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE /* strerrorname_np */
#endif
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

#define MAX_ACTORS 6
#define MAX_TIDS MAX_SERVICE_NUM
#define POOL_SIZE 65536u     /* LITE_IPC_POOL_DEFAULT_SIZE, as ipc_lite maps */
#define SMALL_POOL 4096u     /* the "pool" scenario: one page, full after one big message */
#define BIG_MSG 2000u        /* fits once in an empty one-page pool, not twice */
#define SM_MAX_MSG_SIZE 256u /* IPC_SET_CMS argument, as samgr uses */
#define WATCHDOG_SECONDS 60  /* a hang is a bug: fail loudly instead of waiting forever */

/* Request codes of the ServiceManager (handle 0). */
enum { SM_REGISTER = 1, SM_LOOKUP = 2, SM_LOOKUP_SVC = 3 };

struct tut;

struct actor {
    struct tut *t;
    const char *name;              /* task name, and process name of a process's first task */
    size_t pool_size;              /* 0: POOL_SIZE */
    void (*body)(struct actor *a); /* the scenario's part for this task */
    struct actor *process;         /* NULL: a process of its own; else a thread of that one */
    liteipc_vproc *vp;
    bool attached;
    int fd, pid, tid;
    const char *pool;              /* its process's pool, mapped read-only */
    uint32_t handle;               /* what the actor learnt (a service handle) */
};

struct tut {
    liteipc_kernel *k;
    FILE *out;                  /* the diagram: written on the broker thread only */
    pthread_mutex_t lock;
    pthread_cond_t changed;
    int turn;                   /* whose step it is: each actor waits for its own numbers */
    bool started;               /* every actor has attached: the scenario begins */
    bool finished;              /* teardown: nobody waits any more */
    bool failed;
    bool mmap_refused;          /* "pool": svc's second mmap has been refused */
    bool read_notes;            /* draw a note for each message received (queues, pool) */
    bool parked[MAX_TIDS];      /* the task waits in a receive, with an empty queue */
    unsigned deaths[MAX_TIDS];
    unsigned lives[MAX_TIDS];   /* as src/trace.c: a TID reused after a death is T8_2 */
    uint32_t sending[MAX_TIDS]; /* IpcContent flags of the task's ioctl in progress, + 1 */
    struct actor actors[MAX_ACTORS];
    int nactors;
};

/* ---- failures -------------------------------------------------------------------------------- */

static void fail(struct actor *a, const char *fmt, ...)
{
    struct tut *t = a->t;
    va_list ap;

    pthread_mutex_lock(&t->lock);
    if (!t->finished) { /* after teardown began, ESHUTDOWN is the expected end */
        fprintf(stderr, "tutorial: %s: ", a->name);
        va_start(ap, fmt);
        vfprintf(stderr, fmt, ap);
        va_end(ap);
        fputc('\n', stderr);
        t->failed = true;
    }
    pthread_cond_broadcast(&t->changed);
    pthread_mutex_unlock(&t->lock);
}

static const char *err_name(int err)
{
    const char *n = err ? strerrorname_np(err) : "success";

    return n ? n : "an unknown error";
}

/* Check that a device call gave want (0 or a positive errno); rc is 0 or -errno. */
static bool expect(struct actor *a, int rc, int want, const char *what)
{
    if (-rc == want)
        return true;
    fail(a, "%s: %s, expected %s", what, err_name(-rc), err_name(want));
    return false;
}

static void on_watchdog(int sig)
{
    static const char msg[] = "tutorial: a scenario did not finish: giving up\n";

    (void)sig;
    if (write(STDERR_FILENO, msg, sizeof msg - 1) < 0) {
        /* nothing more to do */
    }
    _exit(2);
}

/* ---- sequencing: turns, and what the kernel's events say ------------------------------------- */

/* Wait for cond(t, arg) under t->lock; false if the scenario failed or is being torn down. */
static bool await(struct tut *t, bool (*cond)(struct tut *t, int arg), int arg)
{
    bool ok;

    pthread_mutex_lock(&t->lock);
    while (!cond(t, arg) && !t->finished && !t->failed)
        pthread_cond_wait(&t->changed, &t->lock);
    ok = cond(t, arg) && !t->failed;
    pthread_mutex_unlock(&t->lock);
    return ok;
}

static bool is_turn(struct tut *t, int n) { return t->turn >= n; }
static bool is_parked(struct tut *t, int tid) { return t->parked[tid]; }
static bool is_dead(struct tut *t, int tid) { return t->deaths[tid] > 0; }
static bool is_over(struct tut *t, int n) { (void)n; return t->finished; }
static bool is_started(struct tut *t, int n) { (void)n; return t->started; }
static bool is_refused(struct tut *t, int n) { (void)n; return t->mmap_refused; }

static bool turn(struct actor *a, int n) { return await(a->t, is_turn, n); }
static bool parked(struct actor *a, const struct actor *other)
{
    return await(a->t, is_parked, other->tid);
}
static bool dead(struct tut *t, const struct actor *other)
{
    return await(t, is_dead, other->tid);
}

/* End this step: the next turn begins. */
static void next(struct actor *a)
{
    pthread_mutex_lock(&a->t->lock);
    a->t->turn++;
    pthread_cond_broadcast(&a->t->changed);
    pthread_mutex_unlock(&a->t->lock);
}

/* Stay (keep the task and its process alive) until the scenario is over. */
static void linger(struct actor *a)
{
    await(a->t, is_over, 0);
}

/* The participant of tid, as src/trace.c names it. */
static void put_id(struct tut *t, int tid)
{
    if (t->lives[tid] == 0)
        fprintf(t->out, "T%d", tid);
    else
        fprintf(t->out, "T%d_%u", tid, t->lives[tid] + 1);
}

/* The ioctl behind an arrow, as a note after it. */
static void note_sent(struct tut *t, int tid, uint32_t flag)
{
    static const char *const names[] = {"SEND", "RECV", "BUFF_FREE"}; /* bits 0, 1, 2 */

    fputs("    Note over ", t->out);
    put_id(t, tid);
    fputs(": IPC_SEND_RECV_MSG ", t->out);
    for (unsigned bit = 0, n = 0; bit < 3; bit++)
        if (flag & (1u << bit))
            fprintf(t->out, "%s%s", n++ ? "|" : "", names[bit]);
    fputc('\n', t->out);
}

/* Subscribed after the trace, so its notes follow the trace's line of the same event. */
static void on_event(const liteipc_event *ev, void *ctx)
{
    struct tut *t = ctx;
    int src = ev->src_tid, dst = ev->dst_tid;

    if (src >= MAX_TIDS || dst >= MAX_TIDS)
        return; /* not a task ID: never drawn */
    pthread_mutex_lock(&t->lock);
    switch (ev->type) {
    case LITEIPC_EV_MSG_WRITTEN:
    case LITEIPC_EV_DROP_ON_WRITE:
        if (ev->type == LITEIPC_EV_MSG_WRITTEN && dst >= 0)
            t->parked[dst] = false; /* it wakes (a dropped message re-parks it: RECV_WAIT) */
        if (src >= 0 && t->sending[src]) {
            note_sent(t, src, t->sending[src] - 1);
            t->sending[src] = 0;
        }
        break;
    case LITEIPC_EV_RECV_WAIT:
        if (dst < 0)
            break;
        t->parked[dst] = true;
        if (t->sending[dst] && t->sending[dst] - 1 != RECV) /* RECV alone: "waits" says it */
            note_sent(t, dst, t->sending[dst] - 1);
        t->sending[dst] = 0;
        break;
    case LITEIPC_EV_MSG_READ:
        if (dst < 0)
            break;
        t->parked[dst] = false;
        if (t->read_notes) {
            fputs("    Note over ", t->out);
            put_id(t, dst);
            fprintf(t->out, ": receives code %u\n", ev->msg.code);
        }
        break;
    case LITEIPC_EV_RECV_TIMEOUT:
    case LITEIPC_EV_RECV_KILLED:
        if (dst >= 0)
            t->parked[dst] = false;
        break;
    case LITEIPC_EV_TASK_DEATH:
        if (src < 0)
            break;
        t->deaths[src]++;
        t->lives[src]++;
        t->parked[src] = false;
        break;
    default: /* the access model's events name their ioctl themselves */
        break;
    }
    pthread_cond_broadcast(&t->changed);
    pthread_mutex_unlock(&t->lock);
}

/* ---- the device, as each task uses it -------------------------------------------------------- */

/* Open the device and map the process's pool (its first task only). */
static int attach(struct actor *a)
{
    liteipc_kernel *k = a->t->k;
    size_t size = a->pool_size ? a->pool_size : POOL_SIZE;
    int rc;

    a->pid = liteipc_self_pid(k);
    a->tid = liteipc_self_tid(k);
    if (a->pid < 0 || a->tid < 0)
        return a->pid < 0 ? a->pid : a->tid;
    rc = liteipc_set_task_name(k, a->name);
    if (rc == 0 && !a->process)
        rc = liteipc_set_process_name(k, a->name);
    if (rc < 0)
        return rc;
    a->fd = liteipc_open(k, LITEIPC_DRIVER, O_RDWR);
    if (a->fd < 0)
        return -errno;
    if (a->process) { /* the process's pool is mapped already */
        a->pool = a->process->pool;
        return 0;
    }
    a->pool = liteipc_mmap(k, NULL, size, PROT_READ, MAP_PRIVATE, a->fd, 0);
    return a->pool == MAP_FAILED ? -errno : 0;
}

/* IPC_SEND_RECV_MSG; 0 or -errno. The flags are noted for the arrow the call draws. */
static int sendrecv(struct actor *a, IpcContent *c)
{
    struct tut *t = a->t;
    int rc, err;

    pthread_mutex_lock(&t->lock);
    t->sending[a->tid] = c->flag + 1;
    pthread_mutex_unlock(&t->lock);
    rc = liteipc_ioctl(t->k, a->fd, IPC_SEND_RECV_MSG, c);
    err = errno;
    pthread_mutex_lock(&t->lock);
    t->sending[a->tid] = 0;
    pthread_mutex_unlock(&t->lock);
    return rc < 0 ? -err : 0;
}

/* A synchronous call (SEND|RECV); on success *reply is in our pool and must be freed. */
static int call(struct actor *a, uint32_t handle, uint32_t code, const char *text,
                const IpcMsg **reply)
{
    IpcMsg req = {.type = MT_REQUEST, .target = {.handle = handle}, .code = code,
                  .flag = LITEIPC_FLAG_DEFAULT, .dataSz = (uint32_t)strlen(text),
                  .data = (void *)text};
    IpcContent c = {.flag = SEND | RECV, .outMsg = &req};
    int rc = sendrecv(a, &c);

    if (rc == 0)
        *reply = c.inMsg;
    return rc;
}

/* A one-way request (SEND, LITEIPC_FLAG_ONEWAY) of size bytes: no reply may come. */
static int oneway(struct actor *a, uint32_t handle, uint32_t code, const void *data,
                  size_t size)
{
    IpcMsg req = {.type = MT_REQUEST, .target = {.handle = handle}, .code = code,
                  .flag = LITEIPC_FLAG_ONEWAY, .dataSz = (uint32_t)size, .data = (void *)data};
    IpcContent c = {.flag = SEND, .outMsg = &req};

    return sendrecv(a, &c);
}

/* Wait for the next message (RECV, no deadline); free first (RECV|BUFF_FREE) if buf. */
static int receive(struct actor *a, const IpcMsg **msg, const void *buf)
{
    IpcContent c = {.flag = buf ? RECV | BUFF_FREE : RECV, .buffToFree = (void *)buf};
    int rc = sendrecv(a, &c);

    if (rc == 0)
        *msg = c.inMsg;
    return rc;
}

static int buff_free(struct actor *a, const void *buf)
{
    IpcContent c = {.flag = BUFF_FREE, .buffToFree = (void *)buf};

    return sendrecv(a, &c);
}

/* Answer req (MT_REPLY or MT_FAILED_REPLY) and free it, in one SEND|BUFF_FREE; with objects
   when spobj (one object at the start of data). */
static int answer_obj(struct actor *a, const IpcMsg *req, MsgType type, const void *data,
                      size_t size, uint32_t spobj)
{
    uint32_t offset = 0;
    IpcMsg rep = {.type = type, .target = {.handle = req->taskID}, .code = req->code,
                  .timestamp = req->timestamp, /* how the kernel matches it with the request */
                  .dataSz = (uint32_t)size, .data = (void *)data, .spObjNum = spobj,
                  .offsets = spobj ? &offset : NULL};
    IpcContent c = {.flag = SEND | BUFF_FREE, .outMsg = &rep, .buffToFree = (void *)req};

    return sendrecv(a, &c);
}

static int answer(struct actor *a, const IpcMsg *req, const void *data, size_t size)
{
    return answer_obj(a, req, MT_REPLY, data, size, 0);
}

/* IPC_CMS_CMD; 0 or -errno. *handle (if given) receives serviceHandle. */
static int cms_cmd(struct actor *a, CmsCmd cmd, uint32_t task, uint32_t service,
                   uint32_t *handle)
{
    CmsCmdContent c = {.cmd = cmd, .taskID = task, .serviceHandle = service};

    if (liteipc_ioctl(a->t->k, a->fd, IPC_CMS_CMD, &c) < 0)
        return -errno;
    if (handle)
        *handle = c.serviceHandle;
    return 0;
}

static int set_cms(struct actor *a)
{
    return liteipc_ioctl(a->t->k, a->fd, IPC_SET_CMS, (unsigned long)SM_MAX_MSG_SIZE) < 0
               ? -errno : 0;
}

/* IPC_SET_IPC_THREAD: the calling task receives its process's death notices. */
static bool become_ipc_thread(struct actor *a)
{
    int rc = liteipc_ioctl(a->t->k, a->fd, IPC_SET_IPC_THREAD, 0UL);

    if (rc < 0)
        return expect(a, -errno, 0, "IPC_SET_IPC_THREAD");
    if (rc != a->tid) {
        fail(a, "IPC_SET_IPC_THREAD returned %d, expected my TID %d", rc, a->tid);
        return false;
    }
    return true;
}

/* ---- a small ServiceManager ------------------------------------------------------------------ */

static struct actor *find(struct tut *t, const char *name)
{
    for (int i = 0; i < t->nactors; i++)
        if (strcmp(t->actors[i].name, name) == 0)
            return &t->actors[i];
    return NULL;
}

/* One request to handle 0: REGISTER (CMS_GEN_HANDLE for the caller), LOOKUP (CMS_ADD_ACCESS
   for the caller), LOOKUP_SVC (a reply carrying the service as an OBJ_SVC, as the newer
   framework does). Names are the actors' names. 0 or -errno. */
static int sm_serve(struct actor *sm, const IpcMsg *req)
{
    char name[16] = "";
    struct actor *svc;
    uint32_t handle;
    int rc;

    if (req->dataSz > 0 && req->dataSz < sizeof name)
        memcpy(name, req->data, req->dataSz);
    if (req->code == SM_REGISTER) {
        rc = cms_cmd(sm, CMS_GEN_HANDLE, req->taskID, 0, &handle);
        return rc < 0 ? rc : answer(sm, req, &handle, sizeof handle);
    }
    svc = find(sm->t, name);
    if (!svc || svc->handle == 0)
        return answer_obj(sm, req, MT_FAILED_REPLY, NULL, 0, 0);
    if (req->code == SM_LOOKUP) {
        rc = cms_cmd(sm, CMS_ADD_ACCESS, req->taskID, svc->handle, NULL);
        return rc < 0 ? rc : answer(sm, req, &svc->handle, sizeof svc->handle);
    }
    SpecialObj obj = {.type = OBJ_SVC, .content.svc = {.handle = svc->handle}};
    return answer_obj(sm, req, MT_REPLY, &obj, sizeof obj, 1);
}

/* Serve n requests to handle 0. */
static bool sm_loop(struct actor *sm, int n)
{
    const IpcMsg *msg;
    int rc;

    for (int i = 0; i < n; i++) {
        rc = receive(sm, &msg, NULL);
        if (rc == 0)
            rc = sm_serve(sm, msg);
        if (!expect(sm, rc, 0, "serving handle 0"))
            return false;
    }
    return true;
}

/* Become the ServiceManager. */
static bool sm_start(struct actor *sm)
{
    return expect(sm, set_cms(sm), 0, "IPC_SET_CMS");
}

/* Register with the SM (a synchronous call to handle 0); a->handle is the handle. */
static bool register_self(struct actor *a)
{
    const IpcMsg *rep;
    int rc = call(a, 0, SM_REGISTER, a->name, &rep);

    if (!expect(a, rc, 0, "REGISTER"))
        return false;
    memcpy(&a->handle, rep->data, sizeof a->handle);
    if (a->handle != (uint32_t)a->tid) {
        fail(a, "registered as handle %u, expected my TID %d", a->handle, a->tid);
        return false;
    }
    return expect(a, buff_free(a, rep), 0, "BUFF_FREE of the reply");
}

/* Look up svc with code SM_LOOKUP or SM_LOOKUP_SVC; a->handle is the handle. */
static bool lookup(struct actor *a, uint32_t code, const char *svc)
{
    const IpcMsg *rep;
    int rc = call(a, 0, code, svc, &rep);

    if (!expect(a, rc, 0, "LOOKUP"))
        return false;
    if (code == SM_LOOKUP_SVC) {
        const SpecialObj *obj = (const void *)((const char *)rep->data +
                                               ((const uint32_t *)rep->offsets)[0]);
        a->handle = obj->content.svc.handle;
    } else {
        memcpy(&a->handle, rep->data, sizeof a->handle);
    }
    return expect(a, buff_free(a, rep), 0, "BUFF_FREE of the reply");
}

/* A synchronous call to handle h expecting err (0: a reply, which is freed). */
static bool call_expect(struct actor *a, uint32_t h, uint32_t code, const char *text, int err)
{
    const IpcMsg *rep;
    int rc = call(a, h, code, text, &rep);

    if (!expect(a, rc, err, "a synchronous call"))
        return false;
    return rc < 0 || expect(a, buff_free(a, rep), 0, "BUFF_FREE of the reply");
}

/* Serve n requests: reply with the request's data (nothing to a one-way request). */
static bool echo_loop(struct actor *a, int n)
{
    const IpcMsg *msg;
    int rc;

    for (int i = 0; i < n; i++) {
        rc = receive(a, &msg, NULL);
        if (rc == 0)
            rc = msg->flag == LITEIPC_FLAG_ONEWAY ? buff_free(a, msg)
                                                  : answer(a, msg, msg->data, msg->dataSz);
        if (!expect(a, rc, 0, "serving a request"))
            return false;
    }
    return true;
}

/* The SM of the scenarios that need one grant only: become the CMS (turn 0); once the service
   waits in its receive (turn 2), let "client" call it (CMS_ADD_ACCESS). */
static void sm_grant(struct actor *a, const char *service)
{
    struct actor *svc = find(a->t, service);

    if (!sm_start(a))
        return;
    next(a); /* turn 1: the service receives */
    if (!turn(a, 2) || !parked(a, svc) ||
        !expect(a, cms_cmd(a, CMS_ADD_ACCESS, (uint32_t)find(a->t, "client")->tid,
                           (uint32_t)svc->tid, NULL), 0, "CMS_ADD_ACCESS"))
        return;
    next(a);
    linger(a);
}

/* The service of those scenarios, at turn 1: it passes the turn to the SM, which grants once
   the service waits in the receive that follows. */
static bool service_begins(struct actor *a)
{
    if (!turn(a, 1))
        return false;
    next(a);
    return true;
}

/* ---- scenario "cms": the ServiceManager ------------------------------------------------------ */

static void cms_sm(struct actor *a)
{
    if (!turn(a, 1) || !sm_start(a))
        return;
    if (!become_ipc_thread(a))
        return;
    next(a);
    if (turn(a, 2))
        echo_loop(a, 1); /* anyone may call handle 0 */
    linger(a);
}

static void cms_app(struct actor *a)
{
    CmsCmdContent c = {.cmd = CMS_ADD_ACCESS, .taskID = (uint32_t)a->tid, .serviceHandle = 0};
    IpcMsg req = {.type = MT_REQUEST, .target = {.handle = 0}, .code = 1};
    IpcContent ic = {.flag = SEND, .outMsg = &req};

    /* No message moves before a ServiceManager exists. */
    if (!expect(a, sendrecv(a, &ic), EINVAL, "a request before IPC_SET_CMS"))
        return;
    next(a);
    if (!turn(a, 2))
        return;
    if (!parked(a, find(a->t, "SM")) || !expect(a, set_cms(a), EEXIST, "a second IPC_SET_CMS") ||
        !expect(a, liteipc_ioctl(a->t->k, a->fd, IPC_CMS_CMD, &c) < 0 ? -errno : 0, EACCES,
                "IPC_CMS_CMD from another process") ||
        !call_expect(a, 0, 1, "hello", 0))
        return;
    next(a);
    linger(a);
}

/* ---- scenario "register": a service registers ------------------------------------------------ */

static void reg_sm(struct actor *a)
{
    if (sm_start(a))
        sm_loop(a, 1);
    linger(a);
}

static void reg_echo(struct actor *a)
{
    if (parked(a, find(a->t, "SM")) && register_self(a))
        next(a);
    linger(a);
}

/* ---- scenario "access": grants and refusals -------------------------------------------------- */

static void access_sm(struct actor *a)
{
    if (sm_start(a))
        sm_loop(a, 3); /* echo's REGISTER, client-A's LOOKUP, client-B's LOOKUP_SVC */
    linger(a);
}

static void access_echo(struct actor *a)
{
    struct actor *sm = find(a->t, "SM");

    /* Once the SM waits again: the two "waits" in the same order on every run. */
    if (parked(a, sm) && register_self(a) && parked(a, sm)) {
        next(a); /* turn 1: client-A */
        echo_loop(a, 2);
    }
    linger(a);
}

static void access_client_a(struct actor *a)
{
    struct actor *sm = find(a->t, "SM"), *echo = find(a->t, "echo");

    /* Knowing the number is not enough: access is granted per process. */
    if (!turn(a, 1) || !parked(a, echo) || !parked(a, sm) ||
        !call_expect(a, echo->handle, 1, "hi", EACCES) || !lookup(a, SM_LOOKUP, "echo") ||
        !parked(a, sm) ||
        !call_expect(a, a->handle, 1, "hi", 0))
        return;
    next(a);
    linger(a);
}

static void access_client_b(struct actor *a)
{
    /* The SM's last request: it answers and waits no more. */
    if (!turn(a, 2) || !parked(a, find(a->t, "echo")) || !lookup(a, SM_LOOKUP_SVC, "echo") ||
        !call_expect(a, a->handle, 1, "hey", 0))
        return;
    next(a);
    linger(a);
}

/* ---- scenario "queues": one queue per task --------------------------------------------------- */

static void queues_sm(struct actor *a)
{
    struct actor *w1 = find(a->t, "worker-1"), *w2 = find(a->t, "worker-2");
    uint32_t client = (uint32_t)find(a->t, "client")->tid;

    if (!sm_start(a))
        return;
    next(a); /* turn 1: the workers receive */
    if (!turn(a, 3) || !parked(a, w2) ||
        !expect(a, cms_cmd(a, CMS_ADD_ACCESS, client, (uint32_t)w1->tid, NULL), 0,
                "CMS_ADD_ACCESS") ||
        !expect(a, cms_cmd(a, CMS_ADD_ACCESS, client, (uint32_t)w2->tid, NULL), 0,
                "CMS_ADD_ACCESS"))
        return;
    next(a);
    linger(a);
}

/* worker-1 takes one message, is busy while three more arrive, then takes them in order. */
static void queues_w1(struct actor *a)
{
    const IpcMsg *msg = NULL;

    if (!turn(a, 1))
        return;
    next(a); /* turn 2: worker-2, once this one waits */
    if (!expect(a, receive(a, &msg, NULL), 0, "RECV") || !turn(a, 5) ||
        !expect(a, buff_free(a, msg), 0, "BUFF_FREE"))
        return;
    next(a); /* turn 6: worker-2 */
    if (!turn(a, 7) || !parked(a, find(a->t, "worker-2")))
        return;
    for (uint32_t code = 2; code <= 3; code++) { /* queued while it was busy: no wait */
        if (!expect(a, receive(a, &msg, NULL), 0, "RECV") ||
            !expect(a, buff_free(a, msg), 0, "BUFF_FREE"))
            return;
        if (msg->code != code) {
            fail(a, "received code %u, expected %u", msg->code, code);
            return;
        }
    }
    next(a);
    receive(a, &msg, NULL); /* the empty queue: waits until the kernel stops (ESHUTDOWN) */
}

static void queues_w2(struct actor *a)
{
    const IpcMsg *msg = NULL;

    if (!turn(a, 2) || !parked(a, find(a->t, "worker-1")))
        return;
    next(a); /* turn 3: the SM grants */
    if (!expect(a, receive(a, &msg, NULL), 0, "RECV") || !turn(a, 6) ||
        !expect(a, buff_free(a, msg), 0, "BUFF_FREE"))
        return;
    next(a); /* turn 7: worker-1 */
    receive(a, &msg, NULL); /* waits until the kernel stops */
}

static void queues_client(struct actor *a)
{
    uint32_t w1 = (uint32_t)find(a->t, "worker-1")->tid, w2 = (uint32_t)find(a->t, "worker-2")->tid;

    if (!turn(a, 4) || !expect(a, oneway(a, w1, 1, "a", 1), 0, "one-way to worker-1"))
        return;
    next(a); /* turn 5: worker-1 keeps busy */
    if (!turn(a, 6) ||                                 /* worker-1 is busy: these queue */
        !expect(a, oneway(a, w1, 2, "b", 1), 0, "one-way to worker-1") ||
        !expect(a, oneway(a, w1, 3, "c", 1), 0, "one-way to worker-1") ||
        !expect(a, oneway(a, w2, 4, "d", 1), 0, "one-way to worker-2"))
        return;
    linger(a);
}

/* ---- scenario "pool": each process's memory -------------------------------------------------- */

/* The SM waits for svc's refused mmap: the two would otherwise race for the first note. */
static void pool_sm(struct actor *a)
{
    if (await(a->t, is_refused, 0))
        sm_grant(a, "svc");
}

static void pool_svc(struct actor *a)
{
    const IpcMsg *held = NULL, *msg = NULL;

    /* One pool per process, mapped once: a second mmap is refused (the driver's EEXIST, which
       mmap reports as ENOMEM). */
    if (liteipc_mmap(a->t->k, NULL, SMALL_POOL, PROT_READ, MAP_PRIVATE, a->fd, 0) !=
            MAP_FAILED || errno != ENOMEM) {
        fail(a, "a second mmap should fail with ENOMEM");
        return;
    }
    pthread_mutex_lock(&a->t->lock);
    a->t->mmap_refused = true;
    pthread_cond_broadcast(&a->t->changed);
    pthread_mutex_unlock(&a->t->lock);
    if (!service_begins(a) || !expect(a, receive(a, &held, NULL), 0, "RECV"))
        return;
    /* The message, header and data, was written into this process's own pool. */
    if ((const char *)held < a->pool || (const char *)held->data + held->dataSz >
                                            a->pool + SMALL_POOL || held->dataSz != BIG_MSG) {
        fail(a, "the message is not in the receiver's pool");
        return;
    }
    if (!turn(a, 4)) /* the client's second message did not fit */
        return;
    next(a); /* turn 5: the client, once this frees and waits */
    if (!expect(a, receive(a, &msg, held), 0, "RECV|BUFF_FREE") || !turn(a, 6) ||
        !expect(a, buff_free(a, msg), 0, "BUFF_FREE") ||
        !expect(a, buff_free(a, msg), EFAULT, "a second BUFF_FREE"))
        return;
    next(a);
    linger(a);
}

static void pool_client(struct actor *a)
{
    static char big[BIG_MSG];
    uint32_t svc = (uint32_t)find(a->t, "svc")->tid;

    memset(big, 'x', sizeof big);
    if (!turn(a, 3) || !expect(a, oneway(a, svc, 1, big, sizeof big), 0, "the first message") ||
        !expect(a, oneway(a, svc, 2, big, sizeof big), ENOMEM, "the second message"))
        return;
    next(a); /* turn 4: svc frees */
    if (!turn(a, 5) || !parked(a, find(a->t, "svc")) ||
        !expect(a, oneway(a, svc, 2, big, sizeof big), 0, "the second message again"))
        return;
    next(a);
    linger(a);
}

/* ---- scenario "calls": synchronous and one-way ----------------------------------------------- */

static void calls_sm(struct actor *a) { sm_grant(a, "echo"); }

static void calls_echo(struct actor *a)
{
    const IpcMsg *msg = NULL;

    if (!service_begins(a) || !echo_loop(a, 1) || !expect(a, receive(a, &msg, NULL), 0, "RECV"))
        return;
    /* A one-way request takes no reply: the kernel refuses it. */
    IpcMsg rep = {.type = MT_REPLY, .target = {.handle = msg->taskID}, .code = msg->code,
                  .timestamp = msg->timestamp};
    IpcContent c = {.flag = SEND, .outMsg = &rep};
    if (!expect(a, sendrecv(a, &c), EINVAL, "a reply to a one-way request") ||
        !expect(a, buff_free(a, msg), 0, "BUFF_FREE"))
        return;
    next(a);
    linger(a);
}

static void calls_client(struct actor *a)
{
    struct actor *echo = find(a->t, "echo");

    if (!turn(a, 3) || !call_expect(a, (uint32_t)echo->tid, 1, "ping", 0) || !parked(a, echo) ||
        !expect(a, oneway(a, (uint32_t)echo->tid, 2, "note", 4), 0, "a one-way request"))
        return;
    linger(a); /* echo ends the scenario */
}

/* ---- scenario "timeout": no reply in time ---------------------------------------------------- */

static void timeout_sm(struct actor *a) { sm_grant(a, "svc"); }

static void timeout_svc(struct actor *a)
{
    const IpcMsg *msg = NULL;

    if (!service_begins(a) || !expect(a, receive(a, &msg, NULL), 0, "RECV") || !turn(a, 4) ||
        !expect(a, answer(a, msg, "late", 4), ETIME, "a late reply"))
        return;
    next(a);
    linger(a);
}

static void timeout_client(struct actor *a)
{
    if (!turn(a, 3) ||
        !call_expect(a, (uint32_t)find(a->t, "svc")->tid, 1, "are you there", ETIME))
        return;
    next(a); /* turn 4: the service's late reply */
    linger(a);
}

/* ---- scenario "death": a service task ends --------------------------------------------------- */

static void death_sm(struct actor *a)
{
    const IpcMsg *msg = NULL;

    if (!sm_start(a) || !become_ipc_thread(a) || !sm_loop(a, 2))
        return; /* echo's REGISTER, the client's LOOKUP */
    if (!expect(a, receive(a, &msg, NULL), 0, "RECV") || msg->type != MT_DEATH_NOTIFY ||
        msg->target.token != find(a->t, "echo")->handle) {
        fail(a, "expected echo's death notice");
        return;
    }
    expect(a, buff_free(a, msg), 0, "BUFF_FREE");
    linger(a);
}

static void death_echo(struct actor *a)
{
    const IpcMsg *msg = NULL;

    if (!parked(a, find(a->t, "SM")) || !register_self(a))
        return;
    next(a); /* turn 1: client-ipc */
    if (!turn(a, 2) || !parked(a, find(a->t, "client-ipc")))
        return;
    next(a); /* turn 3: the client */
    if (!expect(a, receive(a, &msg, NULL), 0, "RECV") || !turn(a, 4) ||
        !parked(a, find(a->t, "client")))
        return;
    /* Returning ends the task: no reply, and the process ends with its last thread. */
}

/* The client process's IPC thread: where its death notices arrive. */
static void death_client_ipc(struct actor *a)
{
    const IpcMsg *msg = NULL;

    if (!turn(a, 1) || !parked(a, find(a->t, "SM")) || !become_ipc_thread(a))
        return;
    next(a); /* turn 2: echo receives */
    if (!expect(a, receive(a, &msg, NULL), 0, "RECV") || msg->type != MT_DEATH_NOTIFY) {
        fail(a, "expected a death notice");
        return;
    }
    if (expect(a, buff_free(a, msg), 0, "BUFF_FREE"))
        turn(a, 5); /* the client's call has ended: this thread ends first */
}

static void death_client(struct actor *a)
{
    struct actor *echo = find(a->t, "echo");

    if (!turn(a, 3) || !parked(a, echo) || !parked(a, find(a->t, "SM")) ||
        !lookup(a, SM_LOOKUP, "echo") || !parked(a, find(a->t, "SM")))
        return;
    next(a); /* turn 4: echo ends while this call waits */
    if (!call_expect(a, a->handle, 1, "still there", ETIME))
        return;
    next(a); /* turn 5: client-ipc ends */
    dead(a->t, find(a->t, "client-ipc"));
}

/* ---- scenarios ------------------------------------------------------------------------------- */

struct role {
    const char *name;
    void (*body)(struct actor *a);
    size_t pool_size;
    const char *process; /* NULL: its own process; else the name of the actor it joins */
};

struct scenario {
    const char *name;
    unsigned timeout_ms;  /* 0: the device's 5000 */
    bool read_notes;
    int end_turn;         /* the diagram ends when the turn reaches it ... */
    const char *end_dead; /* ... and (if set) this actor's task has died */
    const char *end_parked; /* ... and (if set) this actor waits in a receive */
    struct role roles[MAX_ACTORS];
};

/* A task of its own process (ROLE), a thread of another role's process (THREAD), a process
   with a pool of its own size (POOL). */
#define ROLE(name, body) {name, body, 0, NULL}
#define THREAD(name, body, of) {name, body, 0, of}
#define POOL(name, body, size) {name, body, size, NULL}

static const struct scenario scenarios[] = {
    {"cms", 0, false, 3, NULL, NULL, {ROLE("app", cms_app), ROLE("SM", cms_sm)}},
    {"register", 0, false, 1, NULL, NULL, {ROLE("SM", reg_sm), ROLE("echo", reg_echo)}},
    {"access", 0, false, 3, NULL, NULL,
     {ROLE("SM", access_sm), ROLE("echo", access_echo), ROLE("client-A", access_client_a),
      ROLE("client-B", access_client_b)}},
    {"queues", 0, true, 8, NULL, "worker-1",
     {ROLE("SM", queues_sm), ROLE("worker-1", queues_w1),
      THREAD("worker-2", queues_w2, "worker-1"), ROLE("client", queues_client)}},
    {"pool", 0, true, 7, NULL, NULL,
     {ROLE("SM", pool_sm), POOL("svc", pool_svc, SMALL_POOL), ROLE("client", pool_client)}},
    {"calls", 0, false, 4, NULL, NULL,
     {ROLE("SM", calls_sm), ROLE("echo", calls_echo), ROLE("client", calls_client)}},
    {"timeout", 200, false, 5, NULL, NULL,
     {ROLE("SM", timeout_sm), ROLE("svc", timeout_svc), ROLE("client", timeout_client)}},
    {"death", 1000, false, 5, "client", NULL,
     {ROLE("SM", death_sm), ROLE("echo", death_echo), ROLE("client", death_client),
      THREAD("client-ipc", death_client_ipc, "client")}},
};

static void *actor_main(void *arg)
{
    struct actor *a = arg;
    struct tut *t = a->t;
    int rc = attach(a);

    pthread_mutex_lock(&t->lock);
    a->attached = true;
    pthread_cond_broadcast(&t->changed);
    pthread_mutex_unlock(&t->lock);
    if (rc < 0)
        fail(a, "open/mmap: %s", err_name(-rc));
    else if (await(t, is_started, 0)) /* the others are known (find) */
        a->body(a);
    if (a->fd >= 0)
        liteipc_close(t->k, a->fd);
    return NULL;
}

static bool is_attached(struct tut *t, int i) { return t->actors[i].attached; }

/* Start the actors one by one, so that PIDs and TIDs are the same on every run. */
static bool spawn_all(struct tut *t, const struct scenario *s)
{
    for (int i = 0; i < MAX_ACTORS && s->roles[i].name; i++) {
        struct actor *a = &t->actors[i];
        int rc;

        *a = (struct actor){.t = t, .name = s->roles[i].name, .body = s->roles[i].body,
                            .pool_size = s->roles[i].pool_size, .fd = -1};
        a->process = s->roles[i].process ? find(t, s->roles[i].process) : NULL;
        t->nactors = i + 1;
        if (a->process)
            rc = liteipc_vproc_add_thread(a->process->vp, actor_main, a);
        else
            rc = liteipc_vproc_spawn(t->k, actor_main, a, &a->vp);
        if (rc < 0) {
            fprintf(stderr, "tutorial: starting %s: %s\n", a->name, err_name(-rc));
            return false;
        }
        if (!await(t, is_attached, i))
            return false;
    }
    pthread_mutex_lock(&t->lock);
    t->started = true;
    pthread_cond_broadcast(&t->changed);
    pthread_mutex_unlock(&t->lock);
    return true;
}

static bool scenario_done(struct tut *t, int n)
{
    return t->turn >= n;
}

/* Run scenario s, writing its diagram on out. 0, or 1 on failure. */
static int run(const struct scenario *s, FILE *out)
{
    struct tut t = {.lock = PTHREAD_MUTEX_INITIALIZER, .changed = PTHREAD_COND_INITIALIZER,
                    .read_notes = s->read_notes};
    liteipc_config cfg;
    liteipc_trace *trace = NULL;
    char *text = NULL;
    size_t len = 0;
    int sub = -1, rc;
    bool ok;

    liteipc_config_init(&cfg);
    if (s->timeout_ms)
        cfg.reply_timeout_ms = s->timeout_ms;
    rc = liteipc_kernel_start(&cfg, &t.k);
    if (rc < 0) {
        fprintf(stderr, "tutorial: liteipc_kernel_start: %s\n", err_name(-rc));
        return 1;
    }
    t.out = open_memstream(&text, &len);
    rc = t.out ? liteipc_trace_start(t.k, t.out, &trace) : -errno;
    if (rc == 0)
        sub = liteipc_subscribe(t.k, on_event, &t); /* after the trace: see on_event */
    ok = rc == 0 && sub >= 0 && spawn_all(&t, s) && await(&t, scenario_done, s->end_turn) &&
         (!s->end_dead || dead(&t, find(&t, s->end_dead))) &&
         (!s->end_parked || await(&t, is_parked, find(&t, s->end_parked)->tid));

    if (trace && liteipc_trace_stop(trace) < 0)
        ok = false;
    if (sub >= 0)
        liteipc_unsubscribe(t.k, sub);
    pthread_mutex_lock(&t.lock);
    ok = ok && !t.failed;
    t.finished = true; /* the actors stop waiting; those in a receive get ESHUTDOWN */
    pthread_cond_broadcast(&t.changed);
    pthread_mutex_unlock(&t.lock);
    if (liteipc_kernel_stop(t.k) < 0)
        ok = false;
    for (int i = 0; i < t.nactors; i++)
        if (t.actors[i].vp && liteipc_vproc_join(t.actors[i].vp, NULL) < 0)
            ok = false;
    if (t.out && fclose(t.out) == 0 && ok)
        fwrite(text, 1, len, out);
    free(text);
    if (!ok)
        fprintf(stderr, "tutorial: scenario %s FAILED\n", s->name);
    return ok ? 0 : 1;
}

static void usage(FILE *f)
{
    fputs("usage: tutorial NAME | --list\n"
          "  Run one scenario of docs/TUTORIAL.md and print its Mermaid diagram.\n"
          "  With no argument, run every scenario and print nothing (a test).\n", f);
}

int main(int argc, char **argv)
{
    size_t n = sizeof scenarios / sizeof scenarios[0];
    int failed = 0;

    signal(SIGALRM, on_watchdog);
    alarm(WATCHDOG_SECONDS);
    if (argc == 1) {
        FILE *null = fopen("/dev/null", "w");

        for (size_t i = 0; i < n && null; i++)
            failed |= run(&scenarios[i], null);
        if (null)
            fclose(null);
        return null && !failed ? 0 : 1;
    }
    if (argc != 2) {
        usage(stderr);
        return 64;
    }
    if (strcmp(argv[1], "--list") == 0) {
        for (size_t i = 0; i < n; i++)
            puts(scenarios[i].name);
        return 0;
    }
    if (strcmp(argv[1], "-h") == 0 || strcmp(argv[1], "--help") == 0) {
        usage(stdout);
        return 0;
    }
    for (size_t i = 0; i < n; i++)
        if (strcmp(argv[1], scenarios[i].name) == 0)
            return run(&scenarios[i], stdout);
    fprintf(stderr, "tutorial: no scenario named '%s' (see tutorial --list)\n", argv[1]);
    return 64;
}
