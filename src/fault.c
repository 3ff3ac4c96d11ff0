/* SPDX-License-Identifier: Apache-2.0 */
/*
 * fault.c - fault injection inside the pure kernel (liteipc.h, "fault injection"), and the
 * parser of its textual form ($LITEIPC_FAULTS).
 *
 * The kernel calls the hooks below (kernel_int.h) only once a fault has been armed, so a kernel
 * without faults pays one untaken branch per hook. Each hook counts the matches of every armed
 * fault and fires it at the nth, `count` times; every firing is reported as an INJECTED event
 * before its consequences (the REFUSED of a failed command, the DROP_ON_WRITE of a full pool,
 * the death of a killed task).
 *
 * Kills are deferred to the end of the command (or of the tick) that triggered them: a kill
 * inside the write path would tear down the very tables the path is walking. So a victim dies
 * after the command that triggered it has done everything it does on the device (the request
 * is queued and its caller parked), and before any other command runs. Each victim is also
 * recorded for the broker (lk_kernel_take_kill), which ends what lives outside the kernel.
 *
 * Delayed messages are fully written in the receiver's pool (objects included) and held here
 * until lk_kernel_tick reaches their due time; they are then queued as any message, so they
 * overtake nothing already queued and are overtaken by what is sent meanwhile.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kernel_int.h"

#define FAULT_KILLS 64    /* victims not yet taken by the broker (the oldest is lost) */
#define FAULT_DELAYED 128 /* messages held at once; past it a message is queued at once */

typedef struct fault_slot {
    liteipc_fault f;
    bool armed;
    uint32_t seen, fired;
} fault_slot;

typedef struct fault_kill {
    int id;
    int subject;     /* the event's task */
    int pid, tid;    /* the victim (tid -1: the whole process) */
    bool has_msg;
    IpcMsg msg;
} fault_kill;

typedef struct fault_delayed {
    uint64_t due;
    int src_tid, src_pid, dst_tid;
    uint32_t node;
    IpcMsg hdr; /* the kernel's copy of the message */
} fault_delayed;

typedef struct lk_faults lk_faults;

struct lk_faults {
    fault_slot slot[LITEIPC_FAULT_MAX];
    /* the command in progress, for matches on its cmd and flag; moves outside a command or a
       tick (a death notice sent by lk_proc_exit) trigger no kill */
    bool active;
    uint32_t cmd, flags;
    fault_kill pend[LITEIPC_FAULT_MAX];
    unsigned npend;
    lk_kill killed[FAULT_KILLS];
    unsigned kill_head, nkilled;
    fault_delayed delayed[FAULT_DELAYED];
    unsigned ndelayed;
};

/* ---- arming ----------------------------------------------------------------------------------- */

static bool fault_valid(const liteipc_fault *f)
{
    if ((unsigned)f->kind > LITEIPC_FAULT_KILL || (unsigned)f->type > LITEIPC_MSG_DEATH_NOTIFY)
        return false;
    if ((unsigned)f->on > LITEIPC_ON_READ)
        return false;
    if (f->tid < 0 || f->pid < 0 || f->dst_tid < 0 || f->dst_pid < 0 || f->kill_tid < 0 ||
        f->kill_pid < 0)
        return false;
    if (f->kind == LITEIPC_FAULT_FAIL && (f->err <= 0 || f->err >= 4096))
        return false;
    return true;
}

int lk_kernel_fault_add(lk_kernel *k, const liteipc_fault *f)
{
    if (f == NULL || !fault_valid(f))
        return -EINVAL;
    if (k->faults == NULL) {
        k->faults = calloc(1, sizeof(*k->faults));
        if (k->faults == NULL)
            return -ENOMEM;
    }
    for (int i = 0; i < LITEIPC_FAULT_MAX; i++) {
        fault_slot *s = &k->faults->slot[i];

        if (s->armed)
            continue;
        memset(s, 0, sizeof(*s));
        s->f = *f;
        s->armed = true;
        return i;
    }
    return -ENOSPC;
}

void lk_kernel_fault_clear(lk_kernel *k)
{
    if (k->faults == NULL)
        return;
    for (int i = 0; i < LITEIPC_FAULT_MAX; i++)
        k->faults->slot[i].armed = false;
}

void lk__fault_free(lk_kernel *k)
{
    free(k->faults);
    k->faults = NULL;
}

int lk_kernel_take_kill(lk_kernel *k, lk_kill *kill)
{
    lk_faults *fs = k->faults;

    if (fs == NULL || fs->nkilled == 0)
        return 0;
    *kill = fs->killed[fs->kill_head];
    fs->kill_head = (fs->kill_head + 1) % FAULT_KILLS;
    fs->nkilled--;
    return 1;
}

/* ---- matching --------------------------------------------------------------------------------- */

/* What a fault is matched against. 0 in an id: unknown (matches only a fault that does not
   care). */
typedef struct fault_subject {
    int32_t tid, pid, dst_tid, dst_pid;
    uint32_t cmd, flags;
    const IpcMsg *msg; /* NULL: the command moves no message */
} fault_subject;

static liteipc_fault_msg msg_kind(const IpcMsg *m)
{
    switch (m->type) {
    case MT_REQUEST:
        return m->flag == LITEIPC_FLAG_ONEWAY ? LITEIPC_MSG_ONEWAY : LITEIPC_MSG_REQUEST;
    case MT_REPLY:
        return LITEIPC_MSG_REPLY;
    case MT_FAILED_REPLY:
        return LITEIPC_MSG_FAILED_REPLY;
    default:
        return LITEIPC_MSG_DEATH_NOTIFY;
    }
}

static bool id_match(int32_t want, int32_t have)
{
    return want == 0 || want == have;
}

static bool matches(const liteipc_fault *f, const fault_subject *s)
{
    if (f->cmd != 0 && f->cmd != s->cmd)
        return false;
    if ((s->flags & f->flags) != f->flags)
        return false;
    if (f->type != LITEIPC_MSG_ANY && (s->msg == NULL || msg_kind(s->msg) != f->type))
        return false;
    return id_match(f->tid, s->tid) && id_match(f->pid, s->pid) &&
           id_match(f->dst_tid, s->dst_tid) && id_match(f->dst_pid, s->dst_pid);
}

/* The armed fault of this kind (and trigger) that fires on s now, or -1. Every matching fault
   counts the match, whether it fires or not. */
static int fire(lk_kernel *k, liteipc_fault_kind kind, liteipc_fault_on on,
                const fault_subject *s)
{
    int hit = -1;

    for (int i = 0; i < LITEIPC_FAULT_MAX; i++) {
        fault_slot *f = &k->faults->slot[i];
        uint32_t nth = f->f.nth > 1 ? f->f.nth : 1;
        uint32_t count = f->f.count > 1 ? f->f.count : 1;

        if (!f->armed || f->f.kind != kind || (kind == LITEIPC_FAULT_KILL && f->f.on != on))
            continue;
        if (!matches(&f->f, s))
            continue;
        f->seen++;
        if (f->seen < nth || hit >= 0)
            continue;
        if (count != LITEIPC_FAULT_ALWAYS && ++f->fired >= count)
            f->armed = false;
        hit = i;
    }
    return hit;
}

static int32_t pid_of(const lk_kernel *k, int tid)
{
    if (tid < 0 || tid >= LK_MAX_TASKS || !k->tasks[tid].in_use)
        return -1;
    return k->tasks[tid].pid;
}

/* The message's side of a subject: its sender, its receiver and the command moving it. */
static void msg_subject(const lk_kernel *k, const IpcMsg *m, int src_pid, int dst_tid,
                        fault_subject *s)
{
    s->tid = (int32_t)m->taskID;
    s->pid = src_pid;
    s->dst_tid = dst_tid;
    s->dst_pid = pid_of(k, dst_tid);
    s->cmd = k->faults->cmd;
    s->flags = k->faults->flags;
    s->msg = m;
}

/* ---- events ----------------------------------------------------------------------------------- */

static void emit_injected(lk_kernel *k, int id, int err, uint64_t now, int src_tid, int dst_tid,
                          int dst_pid, const IpcMsg *msg)
{
    const liteipc_fault *f = &k->faults->slot[id].f;
    lk_event ev;

    if (__builtin_expect(k->ev_fn == NULL, 1))
        return;
    memset(&ev, 0, sizeof(ev));
    ev.type = LK_EV_INJECTED;
    ev.err = err;
    ev.time_ns = now;
    ev.src_tid = src_tid;
    ev.src_pid = msg != NULL ? (int32_t)msg->processID : pid_of(k, src_tid);
    ev.dst_tid = dst_tid;
    ev.dst_pid = dst_pid;
    if (msg != NULL)
        ev.msg = *msg;
    ev.cmd = k->faults->cmd;
    ev.cms_cmd = ev.handle = ev.grantee_pid = -1;
    ev.fault = (int32_t)f->kind;
    ev.fault_id = id;
    ev.fault_ms = f->kind == LITEIPC_FAULT_DELAY ? f->delay_ms : 0;
    k->ev_fn(k->ev_ctx, &ev);
}

/* ---- kills ------------------------------------------------------------------------------------ */

/* Fault id fired on an event of task subject: note its victim, killed at the end of the
   command. */
static void kill_note(lk_kernel *k, int id, int subject, const IpcMsg *msg)
{
    lk_faults *fs = k->faults;
    const liteipc_fault *f = &fs->slot[id].f;
    fault_kill *p;

    if (fs->npend == LITEIPC_FAULT_MAX)
        return; /* cannot happen: each fault fires at most once per event */
    p = &fs->pend[fs->npend++];
    memset(p, 0, sizeof(*p));
    p->id = id;
    p->subject = subject;
    p->tid = -1;
    if (f->kill_tid != 0) {
        p->tid = f->kill_tid;
        p->pid = pid_of(k, f->kill_tid);
    } else if (f->kill_pid != 0) {
        p->pid = f->kill_pid;
    } else {
        p->pid = pid_of(k, subject);
        p->tid = f->task_only ? subject : -1;
    }
    p->has_msg = msg != NULL;
    if (msg != NULL)
        p->msg = *msg;
}

static void kill_record(lk_faults *fs, int pid, int tid)
{
    if (fs->nkilled == FAULT_KILLS) { /* the broker takes them after every command */
        fs->kill_head = (fs->kill_head + 1) % FAULT_KILLS;
        fs->nkilled--;
    }
    fs->killed[(fs->kill_head + fs->nkilled) % FAULT_KILLS] = (lk_kill){.pid = pid, .tid = tid};
    fs->nkilled++;
}

/* Completions of the victims not yet delivered: the thread, killed before it returned to user
   space, sees ERFKILL (a message it had received dies with it). */
static void ring_kill(lk_kernel *k, int pid, int tid)
{
    for (unsigned i = 0; i < k->ring_count; i++) {
        lk_completion *c = &k->ring[(k->ring_head + i) % LK_RING_SIZE];

        if (tid >= 0 ? c->tid == tid : pid_of(k, c->tid) == pid) {
            c->result = -ERFKILL;
            c->in_msg = 0;
        }
    }
}

/* Take tid's completion out of the ring, if it has one. */
static bool ring_take(lk_kernel *k, int tid, lk_completion *out)
{
    for (unsigned i = 0; i < k->ring_count; i++) {
        if (k->ring[(k->ring_head + i) % LK_RING_SIZE].tid != tid)
            continue;
        *out = k->ring[(k->ring_head + i) % LK_RING_SIZE];
        for (unsigned j = i; j + 1 < k->ring_count; j++)
            k->ring[(k->ring_head + j) % LK_RING_SIZE] =
                k->ring[(k->ring_head + j + 1) % LK_RING_SIZE];
        k->ring_count--;
        return true;
    }
    return false;
}

/* Kill every noted victim still alive. A kill may trigger no further kill: moves during a
   death are not the command's. */
static void kills_run(lk_kernel *k, uint64_t now)
{
    lk_faults *fs = k->faults;
    bool was_active = fs->active;

    fs->active = false;
    for (unsigned i = 0; i < fs->npend; i++) {
        const fault_kill *p = &fs->pend[i];
        bool alive = p->tid >= 0 ? pid_of(k, p->tid) == p->pid && k->tasks[p->tid].in_use
                                 : lk__proc(k, p->pid) != NULL;

        if (p->pid < 0 || !alive)
            continue;
        emit_injected(k, p->id, 0, now, p->subject, p->tid, p->pid,
                      p->has_msg ? &p->msg : NULL);
        ring_kill(k, p->pid, p->tid);
        lk__kill(k, p->pid, p->tid, now);
        kill_record(fs, p->pid, p->tid);
    }
    fs->npend = 0;
    fs->active = was_active;
}

/* ---- the hooks ------------------------------------------------------------------------------ */

/* The command as the device layer copied it: what it sends, and to whom. */
static void call_subject(const lk_kernel *k, int tid, const lk_ioctl_in *in, fault_subject *s)
{
    const IpcContent *c = &in->content;
    bool send_recv = in->cmd == IPC_SEND_RECV_MSG && !(in->faults & LK_FAULT_ARG);

    memset(s, 0, sizeof(*s));
    s->tid = tid;
    s->pid = pid_of(k, tid);
    s->cmd = (uint32_t)in->cmd;
    s->flags = send_recv ? c->flag : 0;
    if (!send_recv || !(c->flag & SEND) || c->outMsg == NULL || (in->faults & LK_FAULT_OUTMSG))
        return;
    s->msg = &in->out;
    if (in->out.type == MT_REQUEST && in->out.target.handle < MAX_SERVICE_NUM)
        s->dst_tid = lk__resolve(k, in->out.target.handle);
    else if (in->out.target.handle < MAX_SERVICE_NUM)
        s->dst_tid = (int32_t)in->out.target.handle;
    s->dst_pid = pid_of(k, s->dst_tid);
}

int lk__fault_call(lk_kernel *k, int tid, const lk_ioctl_in *in, uint64_t now)
{
    lk_faults *fs = k->faults;
    fault_subject s;
    int id;

    call_subject(k, tid, in, &s);
    fs->active = true;
    fs->cmd = s.cmd;
    fs->flags = s.flags;
    id = fire(k, LITEIPC_FAULT_KILL, LITEIPC_ON_CALL, &s);
    if (id >= 0) {
        kill_note(k, id, tid, NULL);
        k->fault_caller = tid;
        kills_run(k, now);
        k->fault_caller = 0;
        if (pid_of(k, tid) != s.pid)
            return -ERFKILL; /* the caller died before its command ran */
    }
    id = fire(k, LITEIPC_FAULT_FAIL, LITEIPC_ON_CALL, &s);
    if (id < 0)
        return 0;
    emit_injected(k, id, fs->slot[id].f.err, now, tid, s.dst_tid, s.dst_pid, s.msg);
    return -fs->slot[id].f.err;
}

int lk__fault_after(lk_kernel *k, int tid, int ret, uint64_t now, lk_ioctl_out *out)
{
    lk_faults *fs = k->faults;
    int32_t pid = pid_of(k, tid);
    lk_completion own;

    if (fs->npend > 0) {
        k->fault_caller = tid;
        kills_run(k, now);
        k->fault_caller = 0;
        /* A kill's consequences (a death notice) may end the caller's own wait: that is the
           command's result, never a completion of a command still in progress. */
        if (ret == LK_PARKED && !lk_task_is_parked(k, tid) && ring_take(k, tid, &own)) {
            ret = own.result;
            out->copyout = ret == 0 ? LK_COPYOUT_INMSG : LK_COPYOUT_NONE;
            out->in_msg = own.in_msg;
        }
        if (pid >= 0 && pid_of(k, tid) != pid) { /* the caller was among the victims */
            memset(out, 0, sizeof(*out));
            ret = -ERFKILL;
        }
    }
    fs->active = false;
    fs->cmd = fs->flags = 0;
    return ret;
}

bool lk__fault_alloc(lk_kernel *k, const IpcMsg *hdr, int dst_tid, uint64_t now)
{
    fault_subject s;
    int id;

    msg_subject(k, hdr, (int32_t)hdr->processID, dst_tid, &s);
    id = fire(k, LITEIPC_FAULT_NOMEM, LITEIPC_ON_CALL, &s);
    if (id < 0)
        return false;
    emit_injected(k, id, ENOMEM, now, (int)hdr->taskID, dst_tid, s.dst_pid, hdr);
    return true;
}

/* Hold node until now + ms, in due order (equal dues in the order they were sent). */
static bool delay(lk_kernel *k, const IpcMsg *hdr, int src_pid, int dst_tid, uint32_t node,
                  uint64_t due)
{
    lk_faults *fs = k->faults;
    unsigned i = fs->ndelayed;

    if (fs->ndelayed == FAULT_DELAYED)
        return false;
    while (i > 0 && fs->delayed[i - 1].due > due) {
        fs->delayed[i] = fs->delayed[i - 1];
        i--;
    }
    fs->delayed[i] = (fault_delayed){
        .due = due, .src_tid = (int)hdr->taskID, .src_pid = src_pid, .dst_tid = dst_tid,
        .node = node, .hdr = *hdr};
    fs->ndelayed++;
    return true;
}

bool lk__fault_enqueue(lk_kernel *k, const IpcMsg *hdr, int src_pid, int dst_tid, uint32_t node,
                       uint64_t now)
{
    fault_subject s;
    uint64_t ms;
    int id;

    msg_subject(k, hdr, src_pid, dst_tid, &s);
    id = fire(k, LITEIPC_FAULT_DROP, LITEIPC_ON_CALL, &s);
    if (id >= 0) {
        emit_injected(k, id, 0, now, (int)hdr->taskID, dst_tid, s.dst_pid, hdr);
        lk__node_discard(k, s.dst_pid, node);
        return true;
    }
    id = fire(k, LITEIPC_FAULT_DELAY, LITEIPC_ON_CALL, &s);
    if (id < 0)
        return false;
    ms = k->faults->slot[id].f.delay_ms;
    if (!delay(k, hdr, src_pid, dst_tid, node, now + ms * 1000000u))
        return false;
    emit_injected(k, id, 0, now, (int)hdr->taskID, dst_tid, s.dst_pid, hdr);
    return true;
}

void lk__fault_moved(lk_kernel *k, liteipc_fault_on on, const IpcMsg *m, int tid)
{
    fault_subject s;
    int id;

    if (!k->faults->active)
        return;
    msg_subject(k, m, (int32_t)m->processID, tid, &s);
    id = fire(k, LITEIPC_FAULT_KILL, on, &s);
    if (id >= 0)
        kill_note(k, id, tid, m);
}

void lk__fault_tick(lk_kernel *k, uint64_t now)
{
    lk_faults *fs = k->faults;

    fs->active = true;
    while (fs->ndelayed > 0 && fs->delayed[0].due <= now) {
        fault_delayed d = fs->delayed[0];

        fs->ndelayed--;
        memmove(&fs->delayed[0], &fs->delayed[1], fs->ndelayed * sizeof(fs->delayed[0]));
        lk__enqueue(k, d.src_tid, d.src_pid, d.dst_tid, d.node, &d.hdr, now);
    }
    kills_run(k, now);
    fs->active = false;
}

uint64_t lk__fault_next_due(const lk_kernel *k)
{
    return k->faults->ndelayed > 0 ? k->faults->delayed[0].due : UINT64_MAX;
}

void lk__fault_drain(lk_kernel *k, int tid, uint64_t now)
{
    lk_faults *fs = k->faults;
    unsigned kept = 0;

    for (unsigned i = 0; i < fs->ndelayed; i++) {
        const fault_delayed *d = &fs->delayed[i];
        int pid = k->tasks[tid].pid;
        IpcMsg m;

        if (d->dst_tid != tid) {
            fs->delayed[kept++] = *d;
            continue;
        }
        lk_abi_decode_msg(lk_abi_layout_of(k->procs[pid].abi), k->procs[pid].kbase + d->node,
                          &m);
        lk__emit(k, LK_EV_DROP_ON_READ, ESRCH, now, d->src_tid, d->src_pid, tid, &m);
        k->stats.drop_read[ESRCH]++;
        lk__node_discard(k, pid, d->node);
    }
    fs->ndelayed = kept;
}

/* ---- the textual form ------------------------------------------------------------------------- */

typedef struct name_val {
    const char *name;
    long long val;
} name_val;

static const name_val kinds[] = {
    {"fail", LITEIPC_FAULT_FAIL}, {"nomem", LITEIPC_FAULT_NOMEM},
    {"exhaust", LITEIPC_FAULT_NOMEM}, {"drop", LITEIPC_FAULT_DROP},
    {"delay", LITEIPC_FAULT_DELAY}, {"kill", LITEIPC_FAULT_KILL}, {NULL, 0}};
static const name_val cmds[] = {
    {"send_recv", IPC_SEND_RECV_MSG}, {"set_cms", IPC_SET_CMS}, {"cms_cmd", IPC_CMS_CMD},
    {"set_ipc_thread", IPC_SET_IPC_THREAD}, {"get_version", IPC_GET_VERSION}, {NULL, 0}};
static const name_val flags[] = {
    {"send", SEND}, {"recv", RECV}, {"buff_free", BUFF_FREE}, {NULL, 0}};
static const name_val types[] = {
    {"request", LITEIPC_MSG_REQUEST}, {"oneway", LITEIPC_MSG_ONEWAY},
    {"reply", LITEIPC_MSG_REPLY}, {"failed_reply", LITEIPC_MSG_FAILED_REPLY},
    {"death", LITEIPC_MSG_DEATH_NOTIFY}, {NULL, 0}};
static const name_val ons[] = {
    {"call", LITEIPC_ON_CALL}, {"written", LITEIPC_ON_WRITTEN}, {"read", LITEIPC_ON_READ},
    {NULL, 0}};
static const name_val errnos[] = {
    {"EPERM", EPERM}, {"ENOENT", ENOENT}, {"ESRCH", ESRCH}, {"EINTR", EINTR}, {"EIO", EIO},
    {"EBADF", EBADF}, {"EAGAIN", EAGAIN}, {"ENOMEM", ENOMEM}, {"EACCES", EACCES},
    {"EFAULT", EFAULT}, {"EBUSY", EBUSY}, {"EEXIST", EEXIST}, {"EINVAL", EINVAL},
    {"ENOSPC", ENOSPC}, {"ENOMSG", ENOMSG}, {"ETIME", ETIME}, {"ETIMEDOUT", ETIMEDOUT},
    {"ESHUTDOWN", ESHUTDOWN}, {"ERFKILL", ERFKILL}, {NULL, 0}};

/* A name of table t, or a number (decimal or 0x hex) when numeric; -1 if neither. */
static long long lookup(const name_val *t, const char *v, size_t n, bool numeric)
{
    char *end;
    long long x;

    for (; t->name != NULL; t++)
        if (strlen(t->name) == n && strncmp(t->name, v, n) == 0)
            return t->val;
    if (!numeric || n == 0 || v[0] < '0' || v[0] > '9')
        return -1;
    x = strtoll(v, &end, 0);
    return (size_t)(end - v) == n && x >= 0 ? x : -1;
}

static long long number(const char *v, size_t n)
{
    static const name_val none[] = {{NULL, 0}};

    return lookup(none, v, n, true);
}

/* flag=send+recv */
static long long flag_set(const char *v, size_t n)
{
    long long all = 0;

    while (n > 0) {
        const char *plus = memchr(v, '+', n);
        size_t len = plus != NULL ? (size_t)(plus - v) : n;
        long long f = lookup(flags, v, len, false);

        if (f < 0)
            return -1;
        all |= f;
        n -= plus != NULL ? len + 1 : len;
        v += len + 1;
    }
    return all;
}

/* Apply setting key=v (or the bare word "task") to f. Returns 0, or -1 for an unknown key,
   -2 for a bad value. */
static int setting(liteipc_fault *f, const char *key, size_t klen, const char *v, size_t n)
{
    struct { const char *key; int32_t *field; } ids[] = {
        {"tid", &f->tid}, {"pid", &f->pid}, {"dst_tid", &f->dst_tid}, {"dst_pid", &f->dst_pid},
        {"kill_tid", &f->kill_tid}, {"kill_pid", &f->kill_pid}};
    long long x = -1;

#define KEY(s) (klen == sizeof(s) - 1 && strncmp(key, s, klen) == 0)
    if (v == NULL) {
        if (!KEY("task"))
            return -1;
        f->task_only = 1;
        return 0;
    }
    for (size_t i = 0; i < sizeof(ids) / sizeof(ids[0]); i++) {
        if (strlen(ids[i].key) == klen && strncmp(ids[i].key, key, klen) == 0) {
            x = number(v, n);
            if (x <= 0 || x > INT32_MAX)
                return -2;
            *ids[i].field = (int32_t)x;
            return 0;
        }
    }
    if (KEY("cmd") && (x = lookup(cmds, v, n, true)) >= 0)
        f->cmd = (uint32_t)x;
    else if (KEY("flag") && (x = flag_set(v, n)) >= 0)
        f->flags = (uint32_t)x;
    else if (KEY("type") && (x = lookup(types, v, n, false)) >= 0)
        f->type = (liteipc_fault_msg)x;
    else if (KEY("on") && (x = lookup(ons, v, n, false)) >= 0)
        f->on = (liteipc_fault_on)x;
    else if (KEY("errno") && (x = lookup(errnos, v, n, true)) > 0 && x < 4096)
        f->err = (int)x;
    else if (KEY("nth") && (x = number(v, n)) >= 0 && x <= UINT32_MAX)
        f->nth = (uint32_t)x;
    else if (KEY("count") && n == 3 && strncmp(v, "all", 3) == 0)
        f->count = LITEIPC_FAULT_ALWAYS;
    else if (KEY("count") && (x = number(v, n)) >= 0 && x < UINT32_MAX)
        f->count = (uint32_t)x;
    else if (KEY("ms") && (x = number(v, n)) >= 0 && x <= UINT32_MAX)
        f->delay_ms = (uint32_t)x;
    else if (KEY("cmd") || KEY("flag") || KEY("type") || KEY("on") || KEY("errno") ||
             KEY("nth") || KEY("count") || KEY("ms"))
        return -2;
    else
        return -1;
#undef KEY
    return 0;
}

/* One fault, text[0..n): kind, then settings. */
static int parse_one(const char *text, size_t n, liteipc_fault *f, char *why, size_t whylen)
{
    const char *colon = memchr(text, ':', n);
    size_t klen = colon != NULL ? (size_t)(colon - text) : n;
    long long kind = lookup(kinds, text, klen, false);
    size_t pos = klen;

    memset(f, 0, sizeof(*f));
    if (kind < 0) {
        snprintf(why, whylen, "\"%.*s\": unknown kind (fail, nomem, exhaust, drop, delay, kill)",
                 (int)klen, text);
        return -EINVAL;
    }
    f->kind = (liteipc_fault_kind)kind;
    if (klen == 7 && strncmp(text, "exhaust", 7) == 0)
        f->count = LITEIPC_FAULT_ALWAYS;
    while (pos < n) {
        const char *item = text + pos + 1;
        const char *end = memchr(item, ':', n - pos - 1);
        size_t len = end != NULL ? (size_t)(end - item) : n - pos - 1;
        const char *eq = memchr(item, '=', len);
        size_t key = eq != NULL ? (size_t)(eq - item) : len;
        int r = setting(f, item, key, eq != NULL ? eq + 1 : NULL, eq != NULL ? len - key - 1 : 0);

        if (r == -1) {
            snprintf(why, whylen, "\"%.*s\": unknown setting", (int)len, item);
            return -EINVAL;
        }
        if (r == -2) {
            snprintf(why, whylen, "\"%.*s\": bad value", (int)len, item);
            return -EINVAL;
        }
        pos += len + 1;
    }
    if (f->kind == LITEIPC_FAULT_FAIL && f->err == 0) {
        snprintf(why, whylen, "\"%.*s\": fail needs errno=", (int)n, text);
        return -EINVAL;
    }
    if (f->kind != LITEIPC_FAULT_KILL && (f->on != 0 || f->kill_tid || f->kill_pid ||
                                          f->task_only)) {
        snprintf(why, whylen, "\"%.*s\": on=, kill_tid=, kill_pid= and task are for kill",
                 (int)n, text);
        return -EINVAL;
    }
    return 0;
}

int liteipc_fault_parse(const char *text, liteipc_fault *out, int max, char *why, size_t whylen)
{
    char scratch[2];
    int count = 0;

    if (why == NULL) {
        why = scratch;
        whylen = sizeof(scratch);
    }
    if (whylen > 0)
        why[0] = '\0';
    if (text == NULL || (out == NULL && max > 0) || max < 0)
        return -EINVAL;
    while (*text != '\0') {
        const char *semi = strchr(text, ';');
        size_t n = semi != NULL ? (size_t)(semi - text) : strlen(text);

        if (n > 0) {
            if (count == max) {
                snprintf(why, whylen, "more than %d faults", max);
                return -EINVAL;
            }
            if (parse_one(text, n, &out[count], why, whylen) < 0)
                return -EINVAL;
            count++;
        }
        text += semi != NULL ? n + 1 : n;
    }
    return count;
}
