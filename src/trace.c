/* SPDX-License-Identifier: Apache-2.0 */
/*
 * trace.c - a kernel's events drawn as a Mermaid sequence diagram (liteipc_trace_start): one
 * participant per task, one arrow per message the kernel queues, one note per wait, timeout,
 * drop, death and exec. A subscriber like any other: it runs on the broker thread and only
 * formats lines into the caller's stream.
 */
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kernel.h"
#include "runtime.h"

struct liteipc_trace {
    liteipc_kernel *k;
    FILE *out;
    int sub;
    /* A TID comes back after its task dies (LIFO reuse): each life is its own participant. */
    unsigned life[LK_MAX_TASKS];
    bool declared[LK_MAX_TASKS];
};

static const char *err_name(int err)
{
    const char *n = strerrorname_np(err);

    return n ? n : "error";
}

/* The participant of task tid in its current life: T8, then T8_2, T8_3... */
static void put_id(FILE *out, const struct liteipc_trace *t, int tid)
{
    if (t->life[tid] == 0)
        fprintf(out, "T%d", tid);
    else
        fprintf(out, "T%d_%u", tid, t->life[tid] + 1);
}

/* Declare tid (with its process) before its first appearance. False if tid is not a task ID. */
static bool participant(struct liteipc_trace *t, int tid, int pid)
{
    if (tid < 0 || tid >= LK_MAX_TASKS)
        return false;
    if (!t->declared[tid]) {
        fputs("    participant ", t->out);
        put_id(t->out, t, tid);
        if (pid >= 0)
            fprintf(t->out, " as task %d of pid %d\n", tid, pid);
        else
            fprintf(t->out, " as task %d\n", tid);
        t->declared[tid] = true;
    }
    return true;
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
static void put_message(struct liteipc_trace *t, const liteipc_event *ev, bool dropped)
{
    const IpcMsg *m = &ev->msg;
    const char *arrow = "->>", *what = "request";

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
    fputs("    ", t->out);
    put_id(t->out, t, ev->src_tid);
    fputs(dropped ? "-x" : arrow, t->out);
    put_id(t->out, t, ev->dst_tid);
    fprintf(t->out, ": %s code %u", what, m->code);
    put_size(t->out, m);
    if (dropped)
        fprintf(t->out, " dropped, %s", err_name(ev->err));
    fputc('\n', t->out);
}

static void note(struct liteipc_trace *t, int tid, const char *text, const char *detail)
{
    fputs("    Note over ", t->out);
    put_id(t->out, t, tid);
    fprintf(t->out, ": %s%s\n", text, detail ? detail : "");
}

/* What happened to a task's wait. */
static const char *const wait_notes[] = {
    [LITEIPC_EV_RECV_WAIT] = "waits",
    [LITEIPC_EV_RECV_TIMEOUT] = "ETIME, no reply in time",
    [LITEIPC_EV_RECV_KILLED] = "ERFKILL, its process died",
};

static void on_event(const liteipc_event *ev, void *ctx)
{
    struct liteipc_trace *t = ctx;
    char buf[64];

    switch (ev->type) {
    case LITEIPC_EV_MSG_WRITTEN:
    case LITEIPC_EV_DROP_ON_WRITE:
        if (participant(t, ev->src_tid, ev->src_pid) && participant(t, ev->dst_tid, ev->dst_pid))
            put_message(t, ev, ev->type == LITEIPC_EV_DROP_ON_WRITE);
        break;
    case LITEIPC_EV_RECV_WAIT:
    case LITEIPC_EV_RECV_TIMEOUT:
    case LITEIPC_EV_RECV_KILLED:
        if (participant(t, ev->dst_tid, ev->dst_pid))
            note(t, ev->dst_tid, wait_notes[ev->type], NULL);
        break;
    case LITEIPC_EV_DROP_ON_READ:
        if (participant(t, ev->dst_tid, ev->dst_pid)) {
            snprintf(buf, sizeof buf, " code %u, %s", ev->msg.code, err_name(ev->err));
            note(t, ev->dst_tid, "drops", buf);
        }
        break;
    case LITEIPC_EV_TASK_DEATH:
        if (participant(t, ev->src_tid, ev->src_pid)) {
            note(t, ev->src_tid, "task ends", NULL);
            t->declared[ev->src_tid] = false;
            t->life[ev->src_tid]++;
        }
        break;
    case LITEIPC_EV_EXEC:
        if (participant(t, ev->src_tid, ev->src_pid))
            note(t, ev->src_tid, "exec", NULL);
        break;
    default: /* MSG_READ: the arrow was drawn when the message was queued */
        break;
    }
}

int liteipc_trace_start(liteipc_kernel *k, FILE *out, liteipc_trace **trace)
{
    struct liteipc_trace *t;
    int id;

    if (!k || !out || !trace)
        return -EINVAL;
    if (!k->is_host)
        return -EPERM;
    t = calloc(1, sizeof(*t));
    if (!t)
        return -ENOMEM;
    t->k = k;
    t->out = out;
    fputs("sequenceDiagram\n", out);
    id = liteipc_subscribe(k, on_event, t);
    if (id < 0) {
        free(t);
        return id;
    }
    t->sub = id;
    *trace = t;
    return 0;
}

int liteipc_trace_stop(liteipc_trace *t)
{
    int err;

    if (!t)
        return -EINVAL;
    err = liteipc_unsubscribe(t->k, t->sub); /* returns once the broker has let go of t */
    if (fflush(t->out) == EOF && err == 0)
        err = -errno;
    free(t);
    return err;
}
