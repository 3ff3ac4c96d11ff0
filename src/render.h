/* SPDX-License-Identifier: Apache-2.0 */
/*
 * render.h - drawings of a kernel's events (liteipc_event records) into a stream: the Mermaid
 * sequence diagram (trace.c) and Chrome trace-event JSON (chrome.c). A renderer only consumes
 * events in the order the kernel produced them, so it draws the same whether it is fed by a
 * subscriber on the broker thread (liteipc_trace_start_format) or by a monitor's stream in
 * another process (liteipcctl trace).
 */
#ifndef LITEIPC_RENDER_H
#define LITEIPC_RENDER_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include <liteipc/liteipc.h>

typedef struct lk_render lk_render;

typedef struct lk_render_ops {
    void (*event)(lk_render *r, const liteipc_event *ev);
    /* Write what ends the drawing (close what is still open); the stream stays open. */
    void (*finish)(lk_render *r);
} lk_render_ops;

/* What every renderer starts with. */
struct lk_render {
    const lk_render_ops *ops;
    FILE *out;
    bool previews; /* LITEIPC_TRACE_PREVIEW */
};

/*
 * A renderer of format (LITEIPC_TRACE_MERMAID or LITEIPC_TRACE_CHROME, or'ed with
 * LITEIPC_TRACE_PREVIEW) writing to out; its header is written at once. Returns 0 and *r, or
 * -EINVAL (unknown format) or -ENOMEM.
 */
int lk_render_new(unsigned format, FILE *out, lk_render **r);
void lk_render_event(lk_render *r, const liteipc_event *ev);
/* Finish the drawing, flush out and free r. Returns 0 or -errno of the stream. */
int lk_render_end(lk_render *r);

/* A zeroed renderer of size bytes (its struct, which starts with an lk_render), or NULL. */
lk_render *lk_render_alloc(size_t size, const lk_render_ops *ops, FILE *out, bool previews);
/* The constructors behind lk_render_new: each writes its header. NULL: out of memory. */
lk_render *lk_render_mermaid_new(FILE *out, bool previews);
lk_render *lk_render_chrome_new(FILE *out, bool previews);

/* Shared by the renderers (trace.c). An errno's name is liteipc_errno_name's. */
/* The preview of ev's data as text in buf (printable bytes as they are, else as hex,
   "68 65 6c", "..." if the data is longer): true if r shows previews and ev has one. */
bool lk_render_preview(const lk_render *r, const liteipc_event *ev, char *buf, size_t size);
/* The name of an ioctl request ("IPC_SEND_RECV_MSG"), and of a CmsCmdContent's cmd
   ("CMS_ADD_ACCESS"; -1, a grant by an OBJ_SVC object: "OBJ_SVC"). */
const char *lk_render_cmd_name(uint32_t cmd);
const char *lk_render_cms_cmd_name(int32_t cmd);
/* What a LITEIPC_EV_INJECTED event injected, in buf: "kill process 5", "fail EINVAL",
   "delay 20 ms"... */
void lk_render_fault(const liteipc_event *ev, char *buf, size_t size);

#endif
