/* SPDX-License-Identifier: Apache-2.0 */
/*
 * chrome.c - a kernel's events as Chrome trace-event JSON (LITEIPC_TRACE_CHROME), the format
 * ui.perfetto.dev and chrome://tracing load. One track per task: pid is the simulated process,
 * tid the task (tid + 1000 * n for the n-th later life of a reused TID), both named with
 * process_name/thread_name metadata. Duration slices (B/E) for calls, from a synchronous
 * request's write to its reply's read, and for waits, from RECV_WAIT to the read, timeout or
 * death that ends them; a short slice for each message written and read, joined by a flow arrow
 * (ph s/f, one id per message); instants for grants, refusals, drops, timeouts, deaths and exec.
 *
 * The events come in the kernel's order, all on one thread, so the B/E of a task nest by
 * construction: a call holds at most the wait for its reply. Zero-length slices share their
 * timestamp with what surrounds them, so the records of one instant are written in the order
 * the viewers must see them (a flow inside its slice, a read before the wait's end). The end
 * (lk_render_end) closes what is still open, at the last event's time, so the file is valid
 * wherever the trace stops. Time is in µs since the first event, with ns precision.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kernel.h"
#include "render.h"
#include "runtime.h"

#define TID_LIFE 1000 /* JSON tid of a TID's n-th life: tid + n * TID_LIFE */
#define MAX_DEPTH 4   /* a call and its wait; room to spare */

enum slice_kind { SL_CALL, SL_WAIT };

typedef struct ch_task {
    unsigned life;
    bool seen;               /* this life has its thread_name */
    int pid;                 /* its process in this life */
    char name[LK_NAME_MAX];  /* the name it was given in the metadata */
    unsigned depth;          /* open slices (B written, E not yet) */
    uint8_t open[MAX_DEPTH]; /* their kinds, outermost first */
} ch_task;

/* A message in a task's queue: the id of the flow that its read ends. */
typedef struct ch_flow {
    int tid;
    uint64_t id;
} ch_flow;

typedef struct chrome {
    lk_render base;
    bool started;      /* t0 is the first event's time */
    uint64_t t0, now;  /* ns */
    bool first_record; /* no comma before it */
    uint64_t next_flow;
    ch_task tasks[LK_MAX_TASKS];
    char proc_name[LK_MAX_PROCS][LK_NAME_MAX];
    bool proc_seen[LK_MAX_PROCS];
    ch_flow *flows; /* queued messages, oldest first */
    size_t nflows, cap;
    /* A failed reply just written to a task waiting for its reply: the kernel reports no read
       of it, so it was consumed (the call ends with ENOENT) unless the next event drops it. */
    bool failed_pending;
    liteipc_event failed;
} chrome;

/* ---- JSON ------------------------------------------------------------------------------------ */

/* A JSON string. Bytes outside printable ASCII become '?' (names are not always UTF-8). */
static void put_str(FILE *out, const char *s)
{
    fputc('"', out);
    for (; *s; s++) {
        unsigned char ch = (unsigned char)*s;

        if (ch == '"' || ch == '\\')
            fprintf(out, "\\%c", ch);
        else
            fputc(ch >= 0x20 && ch < 0x7f ? ch : '?', out);
    }
    fputc('"', out);
}

/* The start of a record of task tid at the current time: {"ph":..,"pid":..,"tid":..,"ts":.. */
static void record(chrome *c, const char *ph, int tid)
{
    const ch_task *t = &c->tasks[tid];
    uint64_t ts = c->now - c->t0;

    fputs(c->first_record ? "\n" : ",\n", c->base.out);
    c->first_record = false;
    fprintf(c->base.out, "{\"ph\":\"%s\",\"pid\":%d,\"tid\":%u,\"ts\":%" PRIu64 ".%03u", ph,
            t->pid, (unsigned)tid + t->life * TID_LIFE, ts / 1000, (unsigned)(ts % 1000));
}

static void put_name(chrome *c, const char *name)
{
    fputs(",\"name\":", c->base.out);
    put_str(c->base.out, name);
}

/* A metadata record naming a process or a thread ("SM (pid 3)", "echo (task 9)"). */
static void metadata(chrome *c, int tid, const char *what, const char *name, const char *unit,
                     int num)
{
    char text[64];

    if (name[0] != '\0')
        snprintf(text, sizeof text, "%.15s (%s %d)", name, unit, num);
    else
        snprintf(text, sizeof text, "%s %d", unit, num);
    record(c, "M", tid);
    put_name(c, what);
    fputs(",\"args\":{\"name\":", c->base.out);
    put_str(c->base.out, text);
    fputs("}}", c->base.out);
}

/* ---- tasks ----------------------------------------------------------------------------------- */

static void end_slice(chrome *c, int tid)
{
    record(c, "E", tid);
    fputc('}', c->base.out);
    c->tasks[tid].depth--;
}

/* End the open slices of tid down to the innermost of kind (all of them if kind < 0). */
static void end_slices(chrome *c, int tid, int kind)
{
    ch_task *t = &c->tasks[tid];
    unsigned d = t->depth;

    while (d > 0 && kind >= 0 && t->open[d - 1] != kind)
        d--;
    if (d == 0 && kind >= 0)
        return; /* none of that kind */
    while (t->depth > (kind >= 0 ? d - 1 : 0))
        end_slice(c, tid);
}

/* A message in tid's queue ends: its flow's end (0 if it was queued before the trace began). */
static uint64_t flow_take(chrome *c, int tid)
{
    for (size_t i = 0; i < c->nflows; i++) {
        uint64_t id = c->flows[i].id;

        if (c->flows[i].tid != tid)
            continue;
        memmove(&c->flows[i], &c->flows[i + 1], (c->nflows - i - 1) * sizeof(*c->flows));
        c->nflows--;
        return id;
    }
    return 0;
}

static void flow_put(chrome *c, int tid, uint64_t id)
{
    if (c->nflows == c->cap) {
        size_t cap = c->cap ? 2 * c->cap : 64;
        ch_flow *grown = realloc(c->flows, cap * sizeof(*grown));

        if (!grown)
            return; /* its arrow is lost, the JSON stays valid */
        c->flows = grown;
        c->cap = cap;
    }
    c->flows[c->nflows++] = (ch_flow){.tid = tid, .id = id};
}

/* A zero-length slice on tid, holding the start (s) or end (f) of flow id if id != 0. The
   caller writes its args (or nothing) between mark_begin and mark_end. */
static void mark_begin(chrome *c, int tid, const char *name)
{
    record(c, "B", tid);
    put_name(c, name);
}

static void mark_end(chrome *c, int tid, const char *flow_ph, uint64_t id)
{
    fputc('}', c->base.out);
    if (id != 0) {
        record(c, flow_ph, tid);
        fprintf(c->base.out, ",\"cat\":\"msg\",\"name\":\"message\",\"id\":%" PRIu64 "%s}",
                id, flow_ph[0] == 'f' ? ",\"bp\":\"e\"" : "");
    }
    record(c, "E", tid);
    fputc('}', c->base.out);
}

/* The messages still queued to tid end here (its queue was drained, or the trace stops). */
static void flows_end(chrome *c, int tid, const char *why)
{
    uint64_t id;

    while ((id = flow_take(c, tid)) != 0) {
        mark_begin(c, tid, why);
        mark_end(c, tid, "f", id);
    }
}

/* A task's life is over: end what it had open and what was queued to it. */
static void task_end(chrome *c, int tid, const char *why)
{
    ch_task *t = &c->tasks[tid];

    if (!t->seen)
        return;
    end_slices(c, tid, -1);
    flows_end(c, tid, why);
    t->seen = false;
    t->life++;
}

/* Name tid (and its process) before its first record, and again if a name changed. False if
   tid is not a task's. */
static bool task(chrome *c, int tid, int pid, const char *name, const char *prog)
{
    ch_task *t;

    if (tid < 0 || tid >= LK_MAX_TASKS)
        return false;
    t = &c->tasks[tid];
    if (t->seen && pid >= 0 && t->pid != pid)
        task_end(c, tid, "queue lost (TID reused)"); /* its death came before the trace */
    if (pid >= 0)
        t->pid = pid;
    if (pid >= 0 && pid < LK_MAX_PROCS &&
        (!c->proc_seen[pid] || strncmp(c->proc_name[pid], prog, LK_NAME_MAX) != 0)) {
        c->proc_seen[pid] = true;
        memcpy(c->proc_name[pid], prog, LK_NAME_MAX);
        metadata(c, tid, "process_name", prog, "pid", pid);
    }
    if (!t->seen || strncmp(t->name, name, LK_NAME_MAX) != 0) {
        t->seen = true;
        memcpy(t->name, name, LK_NAME_MAX);
        metadata(c, tid, "thread_name", name, "task", tid);
    }
    return true;
}

static bool src_task(chrome *c, const liteipc_event *ev)
{
    return task(c, ev->src_tid, ev->src_pid, ev->src_task, ev->src_prog);
}

static bool dst_task(chrome *c, const liteipc_event *ev)
{
    return task(c, ev->dst_tid, ev->dst_pid, ev->dst_task, ev->dst_prog);
}

/* How a task is called in a slice's name: its name, else "task N". */
static const char *who(const char *name, int tid, char buf[24])
{
    if (name[0] != '\0')
        return name;
    snprintf(buf, 24, "task %d", tid);
    return buf;
}

/* ---- messages -------------------------------------------------------------------------------- */

static const char *msg_kind(const IpcMsg *m)
{
    switch (m->type) {
    case MT_REPLY: return "reply";
    case MT_FAILED_REPLY: return "failed reply";
    case MT_DEATH_NOTIFY: return "death notice";
    default: return m->flag == LITEIPC_FLAG_ONEWAY ? "one-way" : "request";
    }
}

static bool is_call(const IpcMsg *m)
{
    return m->type == MT_REQUEST && m->flag != LITEIPC_FLAG_ONEWAY;
}

/* The args of a message's slice. */
static void msg_args(chrome *c, const liteipc_event *ev)
{
    const IpcMsg *m = &ev->msg;
    char from[24], to[24], text[4 * LITEIPC_PREVIEW_MAX];

    fprintf(c->base.out, ",\"args\":{\"type\":\"%s\",\"code\":%u,\"bytes\":%u,\"objects\":%u",
            msg_kind(m), m->code, m->dataSz, m->spObjNum);
    fputs(",\"from\":", c->base.out);
    put_str(c->base.out, who(ev->src_task, ev->src_tid, from));
    fputs(",\"to\":", c->base.out);
    put_str(c->base.out, who(ev->dst_task, ev->dst_tid, to));
    if (lk_render_preview(&c->base, ev, text, sizeof text)) {
        fputs(",\"preview\":", c->base.out);
        put_str(c->base.out, text);
    }
    fputc('}', c->base.out);
}

/* Whether tid waits for the reply to its call. */
static bool awaits_reply(const chrome *c, int tid)
{
    const ch_task *t = &c->tasks[tid];

    return t->depth >= 2 && t->open[t->depth - 1] == SL_WAIT && t->open[t->depth - 2] == SL_CALL;
}

static void on_read(chrome *c, const liteipc_event *ev, const char *verb);

/* The failed reply written last was consumed, unless ev (the next event, or NULL at the end)
   is its drop: draw its read, which ended its receiver's call with ENOENT, when it happened. */
static void settle_failed_reply(chrome *c, const liteipc_event *ev)
{
    liteipc_event read = c->failed;
    uint64_t now = c->now;

    c->failed_pending = false;
    if (ev && ev->type == LITEIPC_EV_DROP_ON_READ && ev->dst_tid == read.dst_tid &&
        ev->msg.type == MT_FAILED_REPLY)
        return;
    read.type = LITEIPC_EV_MSG_READ;
    read.err = ENOENT;
    c->now = read.time_ns;
    on_read(c, &read, "read");
    c->now = now;
}

static void on_written(chrome *c, const liteipc_event *ev)
{
    char name[64], buf[24];
    uint64_t id = ++c->next_flow;

    if (!src_task(c, ev) || !dst_task(c, ev))
        return;
    if (is_call(&ev->msg) && c->tasks[ev->src_tid].depth < MAX_DEPTH) {
        snprintf(name, sizeof name, "call %s code %u", who(ev->dst_task, ev->dst_tid, buf),
                 ev->msg.code);
        record(c, "B", ev->src_tid);
        put_name(c, name);
        fputc('}', c->base.out);
        c->tasks[ev->src_tid].open[c->tasks[ev->src_tid].depth++] = SL_CALL;
    }
    snprintf(name, sizeof name, "send %s code %u", msg_kind(&ev->msg), ev->msg.code);
    mark_begin(c, ev->src_tid, name);
    msg_args(c, ev);
    mark_end(c, ev->src_tid, "s", id);
    flow_put(c, ev->dst_tid, id);
    if (ev->msg.type == MT_FAILED_REPLY && awaits_reply(c, ev->dst_tid)) {
        c->failed_pending = true;
        c->failed = *ev;
    }
}

static void on_read(chrome *c, const liteipc_event *ev, const char *verb)
{
    char name[80];
    uint64_t id;

    if (!dst_task(c, ev))
        return;
    id = flow_take(c, ev->dst_tid);
    if (ev->err)
        snprintf(name, sizeof name, "%s %s code %u, %s", verb, msg_kind(&ev->msg), ev->msg.code,
                 liteipc_errno_name(ev->err));
    else
        snprintf(name, sizeof name, "%s %s code %u", verb, msg_kind(&ev->msg), ev->msg.code);
    mark_begin(c, ev->dst_tid, name);
    msg_args(c, ev);
    mark_end(c, ev->dst_tid, "f", id);
    if (ev->type != LITEIPC_EV_MSG_READ)
        return; /* a drop: the wait goes on */
    end_slices(c, ev->dst_tid, SL_WAIT);
    if (ev->msg.type == MT_REPLY || ev->msg.type == MT_FAILED_REPLY)
        end_slices(c, ev->dst_tid, SL_CALL);
}

static void on_wait(chrome *c, const liteipc_event *ev)
{
    ch_task *t;

    if (!dst_task(c, ev))
        return;
    t = &c->tasks[ev->dst_tid];
    if ((t->depth > 0 && t->open[t->depth - 1] == SL_WAIT) || t->depth == MAX_DEPTH)
        return; /* a fresh wait after a drop (Q7): the same wait to the eye */
    record(c, "B", ev->dst_tid);
    put_name(c, t->depth > 0 && t->open[t->depth - 1] == SL_CALL ? "wait for the reply"
                                                                 : "receive");
    fputc('}', c->base.out);
    t->open[t->depth++] = SL_WAIT;
}

/* ---- instants -------------------------------------------------------------------------------- */

static void instant_begin(chrome *c, int tid, const char *name)
{
    record(c, "i", tid);
    put_name(c, name);
    fputs(",\"s\":\"t\"", c->base.out);
}

static void instant(chrome *c, int tid, const char *name)
{
    instant_begin(c, tid, name);
    fputc('}', c->base.out);
}

static void on_grant(chrome *c, const liteipc_event *ev)
{
    char name[80], buf[24];

    if (!src_task(c, ev) || !dst_task(c, ev))
        return;
    if (ev->type == LITEIPC_EV_GEN_HANDLE) {
        snprintf(name, sizeof name, "CMS_GEN_HANDLE: handle %d", (int)ev->handle);
        instant_begin(c, ev->src_tid, name);
        fputs(",\"args\":{\"handle\":", c->base.out);
        fprintf(c->base.out, "%d,\"task\":", (int)ev->handle);
        put_str(c->base.out, who(ev->dst_task, ev->dst_tid, buf));
        fputs("}}", c->base.out);
        return;
    }
    snprintf(name, sizeof name, "grant: pid %d %.15s may call handle %d", (int)ev->grantee_pid,
             ev->grantee_prog, (int)ev->handle);
    instant_begin(c, ev->src_tid, name);
    fprintf(c->base.out, ",\"args\":{\"handle\":%d,\"grantee_pid\":%d,\"grantee\":",
            (int)ev->handle, (int)ev->grantee_pid);
    put_str(c->base.out, ev->grantee_prog);
    fprintf(c->base.out, ",\"by\":\"%s\",\"service\":",
            lk_render_cms_cmd_name(ev->cms_cmd));
    put_str(c->base.out, who(ev->dst_task, ev->dst_tid, buf));
    fputs("}}", c->base.out);
}

static void on_refused(chrome *c, const liteipc_event *ev)
{
    char name[80];
    const char *err = liteipc_errno_name(ev->err), *cmd = lk_render_cmd_name(ev->cmd);

    if (!src_task(c, ev))
        return;
    if (ev->cmd == IPC_CMS_CMD && ev->cms_cmd >= 0)
        cmd = lk_render_cms_cmd_name(ev->cms_cmd);
    snprintf(name, sizeof name, "%s refused, %s", cmd, err);
    instant_begin(c, ev->src_tid, name);
    fprintf(c->base.out, ",\"args\":{\"errno\":\"%s\",\"ioctl\":\"%s\"", err,
            lk_render_cmd_name(ev->cmd));
    if (ev->cmd == IPC_SEND_RECV_MSG && ev->handle != -1 && ev->msg.type == MT_REQUEST)
        fprintf(c->base.out, ",\"code\":%u,\"handle\":%u", ev->msg.code,
                ev->msg.target.handle);
    fputs("}}", c->base.out);
}

static void on_drop_write(chrome *c, const liteipc_event *ev)
{
    char name[80];

    if (!src_task(c, ev))
        return;
    snprintf(name, sizeof name, "%s code %u dropped, %s", msg_kind(&ev->msg), ev->msg.code,
             liteipc_errno_name(ev->err));
    instant_begin(c, ev->src_tid, name);
    msg_args(c, ev);
    fputc('}', c->base.out);
}

/* A wait that ended without a message: a timeout (the call ends too) or the process died. */
static void on_wait_end(chrome *c, const liteipc_event *ev, const char *name)
{
    if (!dst_task(c, ev))
        return;
    instant(c, ev->dst_tid, name);
    if (ev->type != LITEIPC_EV_RECV_TIMEOUT) {
        end_slices(c, ev->dst_tid, -1);
        return;
    }
    end_slices(c, ev->dst_tid, SL_WAIT);
    end_slices(c, ev->dst_tid, SL_CALL); /* if it was a call's */
}

static void on_src_instant(chrome *c, const liteipc_event *ev, const char *name)
{
    if (src_task(c, ev))
        instant(c, ev->src_tid, name);
}

/* A fault injected (docs/TESTING.md): an instant on the caller's, sender's or killer's track. */
static void on_injected(chrome *c, const liteipc_event *ev)
{
    char what[48], name[64];

    lk_render_fault(ev, what, sizeof what);
    snprintf(name, sizeof name, "fault injected: %s", what);
    on_src_instant(c, ev, name);
}

static void chrome_event(lk_render *r, const liteipc_event *ev)
{
    chrome *c = (chrome *)r;

    if (!c->started) {
        c->started = true;
        c->t0 = ev->time_ns;
    }
    c->now = ev->time_ns < c->t0 ? c->t0 : ev->time_ns;
    if (c->failed_pending)
        settle_failed_reply(c, ev);
    switch (ev->type) {
    case LITEIPC_EV_MSG_WRITTEN: on_written(c, ev); break;
    case LITEIPC_EV_MSG_READ: on_read(c, ev, "read"); break;
    case LITEIPC_EV_DROP_ON_READ: on_read(c, ev, "drop"); break;
    case LITEIPC_EV_DROP_ON_WRITE: on_drop_write(c, ev); break;
    case LITEIPC_EV_RECV_WAIT: on_wait(c, ev); break;
    case LITEIPC_EV_RECV_TIMEOUT: on_wait_end(c, ev, "ETIME, no reply in time"); break;
    case LITEIPC_EV_RECV_KILLED: on_wait_end(c, ev, "ERFKILL, its process died"); break;
    case LITEIPC_EV_TASK_DEATH:
        if (src_task(c, ev)) {
            instant(c, ev->src_tid, "task ends");
            task_end(c, ev->src_tid, "queue drained at its end");
        }
        break;
    case LITEIPC_EV_EXEC:
        if (src_task(c, ev)) {
            instant(c, ev->src_tid, "exec");
            flows_end(c, ev->src_tid, "queue dropped at exec");
        }
        break;
    case LITEIPC_EV_SET_CMS: on_src_instant(c, ev, "IPC_SET_CMS, the ServiceManager"); break;
    case LITEIPC_EV_SET_IPC_THREAD:
        on_src_instant(c, ev, "IPC_SET_IPC_THREAD, its process's IPC thread");
        break;
    case LITEIPC_EV_GEN_HANDLE:
    case LITEIPC_EV_GRANT: on_grant(c, ev); break;
    case LITEIPC_EV_REFUSED: on_refused(c, ev); break;
    case LITEIPC_EV_INJECTED: on_injected(c, ev); break;
    default: break;
    }
}

static void chrome_finish(lk_render *r)
{
    chrome *c = (chrome *)r;

    if (c->failed_pending)
        settle_failed_reply(c, NULL);
    for (int tid = 0; tid < LK_MAX_TASKS; tid++)
        if (c->tasks[tid].seen)
            end_slices(c, tid, -1);
    for (int tid = 0; tid < LK_MAX_TASKS; tid++)
        if (c->tasks[tid].seen)
            flows_end(c, tid, "still queued when the trace stopped");
    fputs("\n]}\n", c->base.out);
    free(c->flows);
}

static const lk_render_ops chrome_ops = {.event = chrome_event, .finish = chrome_finish};

lk_render *lk_render_chrome_new(FILE *out, bool previews)
{
    chrome *c = (chrome *)lk_render_alloc(sizeof(*c), &chrome_ops, out, previews);

    if (!c)
        return NULL;
    c->first_record = true;
    fputs("{\"displayTimeUnit\":\"ms\",\"otherData\":{\"producer\":\"liteipc-sim\"},"
          "\"traceEvents\":[",
          out);
    return &c->base;
}
