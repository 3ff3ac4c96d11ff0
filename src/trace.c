/* SPDX-License-Identifier: Apache-2.0 */
/*
 * trace.c - a kernel's events drawn into a stream (liteipc_trace_start_format): a subscriber that
 * runs on the broker thread and hands each event to a renderer (render.h); and the Mermaid
 * renderer: a sequence diagram with one participant per task, named after it, one arrow per
 * message the kernel queues, one note per wait, timeout, drop, death, exec, IPC_SET_CMS,
 * IPC_SET_IPC_THREAD, handle generated, access granted and command refused. The Chrome JSON
 * renderer is chrome.c.
 */
#include <ctype.h>
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kernel.h"
#include "render.h"
#include "runtime.h"

struct liteipc_trace {
    liteipc_kernel *k;
    lk_render *r;
    int sub;
};

typedef struct mermaid {
    lk_render base;
    /* A TID comes back after its task dies (LIFO reuse): each life is its own participant. */
    unsigned life[LK_MAX_TASKS];
    bool declared[LK_MAX_TASKS];
    int dropped_tid; /* the sender of a DROP_ON_WRITE just drawn: its REFUSED says nothing new */
} mermaid;

bool lk_render_preview(const lk_render *r, const liteipc_event *ev, char *buf, size_t size)
{
    uint32_t n = ev->preview_len < sizeof(ev->preview) ? ev->preview_len : sizeof(ev->preview);
    bool text = n > 0;
    size_t at = 0;

    buf[0] = '\0';
    for (uint32_t i = 0; i < n; i++)
        text = text && isprint(ev->preview[i]);
    for (uint32_t i = 0; i < n && at + 4 < size; i++)
        at += (size_t)snprintf(buf + at, size - at, text ? "%c" : i ? " %02x" : "%02x",
                               ev->preview[i]);
    if (n > 0 && ev->msg.dataSz > n && at + 4 < size)
        snprintf(buf + at, size - at, "...");
    return r->previews && n > 0;
}

/* The participant of task tid in its current life: T8, then T8_2, T8_3... */
static void put_id(FILE *out, const mermaid *t, int tid)
{
    if (t->life[tid] == 0)
        fprintf(out, "T%d", tid);
    else
        fprintf(out, "T%d_%u", tid, t->life[tid] + 1);
}

/* A name as Mermaid text: characters that mean something to Mermaid become '_'. */
static void put_name(FILE *out, const char *name)
{
    for (; *name; name++)
        fputc(isalnum((unsigned char)*name) || strchr(" ._-+", *name) ? *name : '_', out);
}

/* A payload preview as Mermaid text: only what would end the line or start an entity, a tag
   or a comment changes, to '_'. */
static void put_preview(FILE *out, const char *text)
{
    for (; *text; text++)
        fputc(strchr(";#<>%\\", *text) ? '_' : *text, out);
}

/* Declare tid (named, with its process) before its first appearance. False if tid is not a
   task ID. */
static bool participant(mermaid *t, int tid, int pid, const char *name)
{
    if (tid < 0 || tid >= LK_MAX_TASKS)
        return false;
    if (!t->declared[tid]) {
        fputs("    participant ", t->base.out);
        put_id(t->base.out, t, tid);
        fputs(" as ", t->base.out);
        if (name[0] != '\0') {
            put_name(t->base.out, name);
            fputs(" (", t->base.out);
        }
        fprintf(t->base.out, "task %d", tid);
        if (pid >= 0)
            fprintf(t->base.out, " of pid %d", pid);
        fputs(name[0] != '\0' ? ")\n" : "\n", t->base.out);
        t->declared[tid] = true;
    }
    return true;
}

static bool src_participant(mermaid *t, const liteipc_event *ev)
{
    return participant(t, ev->src_tid, ev->src_pid, ev->src_task);
}

static bool dst_participant(mermaid *t, const liteipc_event *ev)
{
    return participant(t, ev->dst_tid, ev->dst_pid, ev->dst_task);
}

static void put_size(FILE *out, const IpcMsg *m)
{
    if (m->dataSz > 0)
        fprintf(out, " (%u B", m->dataSz);
    if (m->spObjNum > 0)
        fprintf(out, "%s%u object%s", m->dataSz > 0 ? ", " : " (", m->spObjNum,
                m->spObjNum == 1 ? "" : "s");
    if (m->dataSz > 0 || m->spObjNum > 0)
        fputc(')', out);
}

/* The arrow of a message: its style says what kind of message it is. */
static void put_message(mermaid *t, const liteipc_event *ev, bool dropped)
{
    const IpcMsg *m = &ev->msg;
    const char *arrow = "->>", *what = "request";
    char text[4 * LITEIPC_PREVIEW_MAX];

    switch (m->type) {
    case MT_REPLY:
        arrow = "-->>";
        what = "reply";
        break;
    case MT_FAILED_REPLY:
        arrow = "-->>";
        what = "failed reply";
        break;
    case MT_DEATH_NOTIFY:
        arrow = "--)";
        what = "death notice";
        break;
    default:
        if (m->flag == LITEIPC_FLAG_ONEWAY) {
            arrow = "-)";
            what = "one-way";
        }
        break;
    }
    fputs("    ", t->base.out);
    put_id(t->base.out, t, ev->src_tid);
    fputs(dropped ? "-x" : arrow, t->base.out);
    put_id(t->base.out, t, ev->dst_tid);
    fprintf(t->base.out, ": %s code %u", what, m->code);
    put_size(t->base.out, m);
    if (lk_render_preview(&t->base, ev, text, sizeof text)) {
        fputs(" [", t->base.out);
        put_preview(t->base.out, text);
        fputc(']', t->base.out);
    }
    if (dropped)
        fprintf(t->base.out, " dropped, %s", liteipc_errno_name(ev->err));
    fputc('\n', t->base.out);
}

static void note(mermaid *t, int tid, const char *text, const char *detail)
{
    fputs("    Note over ", t->base.out);
    put_id(t->base.out, t, tid);
    fprintf(t->base.out, ": %s%s\n", text, detail ? detail : "");
}

const char *lk_render_cmd_name(uint32_t cmd)
{
    switch (cmd) {
    case IPC_SET_CMS: return "IPC_SET_CMS";
    case IPC_CMS_CMD: return "IPC_CMS_CMD";
    case IPC_SET_IPC_THREAD: return "IPC_SET_IPC_THREAD";
    case IPC_SEND_RECV_MSG: return "IPC_SEND_RECV_MSG";
    case IPC_GET_VERSION: return "IPC_GET_VERSION";
    case LITEIPC_CMD_MMAP: return "mmap";
    case LITEIPC_CMD_OPEN: return "open";
    default: return "ioctl";
    }
}

void lk_render_fault(const liteipc_event *ev, char *buf, size_t size)
{
    static const char *const kinds[] = {
        [LITEIPC_FAULT_FAIL] = "fail", [LITEIPC_FAULT_NOMEM] = "nomem",
        [LITEIPC_FAULT_DROP] = "drop", [LITEIPC_FAULT_DELAY] = "delay",
        [LITEIPC_FAULT_KILL] = "kill",
    };
    const char *kind = ev->fault >= 0 && ev->fault < (int32_t)(sizeof kinds / sizeof *kinds) &&
                               kinds[ev->fault] ? kinds[ev->fault] : "?";

    if (ev->fault == LITEIPC_FAULT_DELAY)
        snprintf(buf, size, "delay %u ms", ev->fault_ms);
    else if (ev->fault == LITEIPC_FAULT_KILL)
        snprintf(buf, size, "kill %s %d", ev->dst_tid < 0 ? "process" : "task",
                 ev->dst_tid < 0 ? ev->dst_pid : ev->dst_tid);
    else
        snprintf(buf, size, "%s%s%s", kind, ev->err ? " " : "",
                 ev->err ? liteipc_errno_name(ev->err) : "");
}

const char *lk_render_cms_cmd_name(int32_t cmd)
{
    switch (cmd) {
    case CMS_GEN_HANDLE: return "CMS_GEN_HANDLE";
    case CMS_REMOVE_HANDLE: return "CMS_REMOVE_HANDLE";
    case CMS_ADD_ACCESS: return "CMS_ADD_ACCESS";
    default: return "OBJ_SVC";
    }
}

/* A note over the task that granted and the service (one of them if they are the same). */
static void put_note_over(mermaid *t, const liteipc_event *ev)
{
    fputs("    Note over ", t->base.out);
    put_id(t->base.out, t, ev->src_tid);
    if (ev->dst_tid != ev->src_tid) {
        fputc(',', t->base.out);
        put_id(t->base.out, t, ev->dst_tid);
    }
    fputs(": ", t->base.out);
}

static void on_grant(mermaid *t, const liteipc_event *ev)
{
    if (!src_participant(t, ev) || !dst_participant(t, ev))
        return;
    put_note_over(t, ev);
    if (ev->type == LITEIPC_EV_GEN_HANDLE) {
        fprintf(t->base.out, "CMS_GEN_HANDLE: handle %d\n", (int)ev->handle);
        return;
    }
    fprintf(t->base.out, "pid %d", (int)ev->grantee_pid);
    if (ev->grantee_prog[0]) {
        fputc(' ', t->base.out);
        put_name(t->base.out, ev->grantee_prog);
    }
    fprintf(t->base.out, " may call handle %d (%s)\n", (int)ev->handle,
            lk_render_cms_cmd_name(ev->cms_cmd));
}

static void on_refused(mermaid *t, const liteipc_event *ev)
{
    char buf[96];

    if (!src_participant(t, ev))
        return;
    if (ev->cmd == IPC_SEND_RECV_MSG && ev->src_tid == t->dropped_tid)
        return; /* its arrow says it already */
    if (ev->cmd == IPC_CMS_CMD && ev->cms_cmd >= 0)
        snprintf(buf, sizeof buf, " %s refused, %s", lk_render_cms_cmd_name(ev->cms_cmd),
                 liteipc_errno_name(ev->err));
    else if (ev->cmd == IPC_SEND_RECV_MSG && ev->handle != -1 && ev->msg.type == MT_REQUEST)
        snprintf(buf, sizeof buf, " refused, %s (code %u to handle %u)",
                 liteipc_errno_name(ev->err), ev->msg.code, ev->msg.target.handle);
    else
        snprintf(buf, sizeof buf, " refused, %s", liteipc_errno_name(ev->err));
    note(t, ev->src_tid, lk_render_cmd_name(ev->cmd), buf);
}

/* What happened to a task's wait. */
static const char *const wait_notes[] = {
    [LITEIPC_EV_RECV_WAIT] = "waits",
    [LITEIPC_EV_RECV_TIMEOUT] = "ETIME, no reply in time",
    [LITEIPC_EV_RECV_KILLED] = "ERFKILL, its process died",
};

static void mermaid_event(lk_render *r, const liteipc_event *ev)
{
    mermaid *t = (mermaid *)r;
    char buf[64];
    int dropped = t->dropped_tid;

    t->dropped_tid = -1;
    switch (ev->type) {
    case LITEIPC_EV_MSG_WRITTEN:
    case LITEIPC_EV_DROP_ON_WRITE:
        if (src_participant(t, ev) && dst_participant(t, ev))
            put_message(t, ev, ev->type == LITEIPC_EV_DROP_ON_WRITE);
        if (ev->type == LITEIPC_EV_DROP_ON_WRITE)
            t->dropped_tid = ev->src_tid;
        break;
    case LITEIPC_EV_RECV_WAIT:
    case LITEIPC_EV_RECV_TIMEOUT:
    case LITEIPC_EV_RECV_KILLED:
        if (dst_participant(t, ev))
            note(t, ev->dst_tid, wait_notes[ev->type], NULL);
        break;
    case LITEIPC_EV_DROP_ON_READ:
        if (dst_participant(t, ev)) {
            snprintf(buf, sizeof buf, " code %u, %s", ev->msg.code, liteipc_errno_name(ev->err));
            note(t, ev->dst_tid, "drops", buf);
        }
        break;
    case LITEIPC_EV_TASK_DEATH:
        if (src_participant(t, ev)) {
            note(t, ev->src_tid, "task ends", NULL);
            t->declared[ev->src_tid] = false;
            t->life[ev->src_tid]++;
        }
        break;
    case LITEIPC_EV_EXEC:
        if (src_participant(t, ev))
            note(t, ev->src_tid, "exec", NULL);
        break;
    case LITEIPC_EV_SET_CMS:
        if (src_participant(t, ev))
            note(t, ev->src_tid, "IPC_SET_CMS, the ServiceManager", NULL);
        break;
    case LITEIPC_EV_SET_IPC_THREAD:
        if (src_participant(t, ev))
            note(t, ev->src_tid, "IPC_SET_IPC_THREAD, its process's IPC thread", NULL);
        break;
    case LITEIPC_EV_GEN_HANDLE:
    case LITEIPC_EV_GRANT:
        on_grant(t, ev);
        break;
    case LITEIPC_EV_REFUSED:
        t->dropped_tid = dropped;
        on_refused(t, ev);
        t->dropped_tid = -1;
        break;
    case LITEIPC_EV_INJECTED: /* over the caller, the sender, or the task whose event killed */
        if (src_participant(t, ev)) {
            buf[0] = ' ';
            lk_render_fault(ev, buf + 1, sizeof buf - 1);
            note(t, ev->src_tid, "fault injected:", buf);
        }
        break;
    default: /* MSG_READ: the arrow was drawn when the message was queued */
        break;
    }
}

static void mermaid_finish(lk_render *r)
{
    (void)r; /* a diagram needs no end */
}

static const lk_render_ops mermaid_ops = {.event = mermaid_event, .finish = mermaid_finish};

lk_render *lk_render_alloc(size_t size, const lk_render_ops *ops, FILE *out, bool previews)
{
    lk_render *r = calloc(1, size);

    if (r)
        *r = (lk_render){.ops = ops, .out = out, .previews = previews};
    return r;
}

lk_render *lk_render_mermaid_new(FILE *out, bool previews)
{
    mermaid *t = (mermaid *)lk_render_alloc(sizeof(*t), &mermaid_ops, out, previews);

    if (!t)
        return NULL;
    t->dropped_tid = -1;
    fputs("sequenceDiagram\n", out);
    return &t->base;
}

/* ---- renderers ------------------------------------------------------------------------------- */

int lk_render_new(unsigned format, FILE *out, lk_render **r)
{
    bool previews = (format & LITEIPC_TRACE_PREVIEW) != 0;

    switch (format & ~LITEIPC_TRACE_PREVIEW) {
    case LITEIPC_TRACE_MERMAID:
        *r = lk_render_mermaid_new(out, previews);
        break;
    case LITEIPC_TRACE_CHROME:
        *r = lk_render_chrome_new(out, previews);
        break;
    default:
        return -EINVAL;
    }
    return *r ? 0 : -ENOMEM;
}

void lk_render_event(lk_render *r, const liteipc_event *ev)
{
    r->ops->event(r, ev);
}

int lk_render_end(lk_render *r)
{
    int err = 0;

    r->ops->finish(r);
    if (fflush(r->out) == EOF)
        err = -errno;
    free(r);
    return err;
}

/* ---- the subscriber -------------------------------------------------------------------------- */

static void on_event(const liteipc_event *ev, void *ctx)
{
    lk_render_event(ctx, ev);
}

int liteipc_trace_start_format(liteipc_kernel *k, FILE *out, unsigned format,
                               liteipc_trace **trace)
{
    struct liteipc_trace *t;
    int id;

    if (!k || !out || !trace)
        return -EINVAL;
    if (!k->is_host)
        return -EPERM;
    if ((format & ~LITEIPC_TRACE_PREVIEW) > LITEIPC_TRACE_CHROME)
        return -EINVAL;
    t = calloc(1, sizeof(*t));
    if (!t)
        return -ENOMEM;
    id = lk_render_new(format, out, &t->r);
    if (id == 0)
        id = lk_subscribe(k, on_event, t->r, (format & LITEIPC_TRACE_PREVIEW) != 0);
    if (id < 0) {
        if (t->r)
            lk_render_end(t->r);
        free(t);
        return id;
    }
    t->k = k;
    t->sub = id;
    *trace = t;
    return 0;
}

int liteipc_trace_start(liteipc_kernel *k, FILE *out, liteipc_trace **trace)
{
    return liteipc_trace_start_format(k, out, LITEIPC_TRACE_MERMAID, trace);
}

int liteipc_trace_stop(liteipc_trace *t)
{
    int err, end;

    if (!t)
        return -EINVAL;
    err = liteipc_unsubscribe(t->k, t->sub); /* returns once the broker has let go of t */
    end = lk_render_end(t->r);
    free(t);
    return err < 0 ? err : end;
}
