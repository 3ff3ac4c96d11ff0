/* SPDX-License-Identifier: Apache-2.0 */
/*
 * kernel_msg.c - IPC_SEND_RECV_MSG (LITEIPC_REFERENCE §4, §5): BUFF_FREE, the write path, the
 * special objects, the read path with parking, timeouts and completions, and the death notice
 * of §7.2. Node layout: see kernel_int.h.
 *
 * Timestamps: a request is stamped with `now`, except that two requests *of the same task* (TID
 * slot, across reuse) never share a stamp: a stamp that would not increase becomes one more than
 * that TID's previous one. Replies are matched by timestamp alone (§4.4.2), but only in the
 * queue of the task the request came from (IsValidReply sends a reply to the request's taskID),
 * so uniqueness per sending TID is exactly what exact matching needs, while requests of
 * different tasks made at the same instant keep the device's identical stamps. A death notice is
 * stamped with `now` as is: it is accepted whatever its timestamp.
 *
 * Waits: a receive that finds its queue empty is parked ({sync, stamp to match, deadline}).
 * A write that queues a node to a parked task runs that task's read loop at once; if the loop
 * ends (accepted, or -ENOENT) a completion is queued, and if it only dropped messages the wait
 * starts afresh (Q7: a new deadline and a new RECV_WAIT event). lk_kernel_tick ends sync waits
 * whose deadline has passed with -ETIME.
 *
 * Events: DROP_ON_WRITE is emitted for a send that fails from the destination check of §4.3.2
 * on (dead destination, no IPC state, pool full, bad objects...), never for the argument, size,
 * access and reply checks before it; its err is the send's errno. DROP_ON_READ has err ENOMSG
 * for a message a receive threw away (§4.4.2), and ESRCH for one drained at task death (§7.2).
 *
 * A matching MT_FAILED_REPLY ends the call with -ENOENT; its node is freed with its objects
 * rolled back like a dropped node (the reference only says "freed"; a failed reply normally has
 * no objects, and this way nothing it carried can leak).
 */
#include <errno.h>
#include <string.h>

#include "kernel_int.h"

/* ---- nodes and the used list ---------------------------------------------------------------- */

/* Nodes are laid out in their pool owner's profile (kernel_int.h). */
static inline const lk_abi_layout *proc_layout(const lk_proc *p)
{
    return lk_abi_layout_of(p->abi);
}

/* The data offset in a node of p's pool: 88, or 104 for communication_ipc. */
static inline uint32_t node_hdr_size(const lk_proc *p)
{
    return proc_layout(p)->msg_size + LK_NODE_LINK;
}

/* The node's header, decoded into the canonical IpcMsg. */
static inline void node_get(const lk_proc *p, uint32_t node, IpcMsg *m)
{
    lk_abi_decode_msg(proc_layout(p), p->kbase + node, m);
}

static inline uint32_t *node_link(const lk_proc *p, uint32_t node)
{
    return (uint32_t *)(void *)(p->kbase + node + proc_layout(p)->msg_size);
}

static inline unsigned char *node_data(const lk_proc *p, uint32_t node)
{
    return p->kbase + node + node_hdr_size(p);
}

/* The layout of the special objects inside a node's data: its sender's (link word 1). */
static inline const lk_abi_layout *node_obj_layout(const lk_proc *p, uint32_t node)
{
    return lk_abi_layout_of((int)node_link(p, node)[1]);
}

/* offsets[i] of a node: the array follows the data and is not realigned (§4.3.4). */
static inline uint32_t node_offset(const lk_proc *p, const unsigned char *data, uint32_t data_sz,
                                   uint32_t i)
{
    return lk_abi_offset_get(proc_layout(p), data + data_sz, i);
}

static inline bool used_test(const lk_proc *p, uint32_t off)
{
    uint32_t b = off / LK_POOL_ALIGN;

    return (p->used[b / 64] >> (b % 64)) & 1u;
}

static inline void used_set(lk_proc *p, uint32_t off)
{
    uint32_t b = off / LK_POOL_ALIGN;

    p->used[b / 64] |= (uint64_t)1 << (b % 64);
    p->used_count++;
}

static inline void used_clear(lk_proc *p, uint32_t off)
{
    uint32_t b = off / LK_POOL_ALIGN;

    p->used[b / 64] &= ~((uint64_t)1 << (b % 64));
    p->used_count--;
}

/* The pool offset of user address addr if it is in p's used list, else 0. */
static uint32_t used_lookup(const lk_proc *p, uintptr_t addr)
{
    uintptr_t off;

    if (addr < p->uvaddr || addr - p->uvaddr >= p->pool_size)
        return 0;
    off = addr - p->uvaddr;
    if (off % LK_POOL_ALIGN != 0 || !used_test(p, (uint32_t)off))
        return 0;
    return (uint32_t)off;
}

/* ---- §4.2 validating a buffer to free ------------------------------------------------------- */

static int free_check(lk_proc *p, uintptr_t addr, uint32_t *off)
{
    /* Q14: the upper bound is inclusive, so uvaddr + poolSize gets EFAULT below. */
    if (addr == 0 || addr < p->uvaddr || addr - p->uvaddr > p->pool_size)
        return -EINVAL;
    *off = used_lookup(p, addr);
    if (*off == 0)
        return -EFAULT; /* double free, not a buffer start, or already rolled back */
    used_clear(p, *off);
    return 0;
}

/* ---- §5.5 rollback -------------------------------------------------------------------------- */

static void obj_undo(lk_kernel *k, int pid, const lk_obj *o)
{
    lk_proc *p = &k->procs[pid];
    uint32_t off;

    switch (o->type) {
    case OBJ_FD:
        if (k->ops.fd_close != NULL)
            k->ops.fd_close(k->ops.ctx, pid, (int)o->fd);
        break;
    case OBJ_PTR: /* freed only if the user has not freed it already (§5.3) */
        off = used_lookup(p, (uintptr_t)o->buff);
        if (off != 0) {
            used_clear(p, off);
            lk_pool_free(p->kbase, off);
        }
        break;
    default: /* OBJ_SVC: grants stay (Q11) */
        break;
    }
}

/* Undo objects [0, n) of a node in pid's pool, in reverse order (the owner is pid). */
static void objs_rollback(lk_kernel *k, int pid, uint32_t node, uint32_t n)
{
    const lk_proc *p = &k->procs[pid];
    const lk_abi_layout *ol = node_obj_layout(p, node);
    const unsigned char *data = node_data(p, node);
    IpcMsg m;

    node_get(p, node, &m);
    while (n-- > 0) {
        uint32_t off = node_offset(p, data, m.dataSz, n);
        lk_obj o;

        if (m.dataSz < ol->obj_size || off > m.dataSz - ol->obj_size)
            continue; /* never true for a node the write path accepted */
        lk_obj_read(ol, data + off, &o);
        obj_undo(k, pid, &o);
    }
}

/* A node the receiver will never get: roll back all its objects, free it (§4.4.3). */
void lk__node_discard(lk_kernel *k, int pid, uint32_t node)
{
    lk_proc *p = &k->procs[pid];
    IpcMsg m;

    node_get(p, node, &m);
    objs_rollback(k, pid, node, m.spObjNum);
    lk_pool_free(p->kbase, node);
}

/* ---- the write path: context ---------------------------------------------------------------- */

typedef struct lk_write {
    IpcMsg hdr;               /* the kernel's copy of the message */
    lk_msg_hi hi;             /* and the high halves of a 64-bit target token/cookie */
    const lk_abi_layout *obj_layout; /* the sender's: its objects inside data */
    const void *data;         /* dataSz bytes copied in by the device layer, or NULL */
    const uint32_t *offsets;  /* spObjNum offsets, or NULL */
    const lk_ioctl_in *in;    /* the command (OBJ_PTR copies); NULL for a death notice */
    int src_tid, src_pid;
    bool buff_free;           /* BUFF_FREE validated free_off: the request a reply answers */
    uint32_t free_off;
    uint32_t dst;             /* the destination as resolved (§4.3.2), before "alive" */
    int dst_tid, dst_pid;
    uint32_t node;            /* payload offset of the node in the destination pool */
    uint64_t match_stamp;     /* what a RECV in the same call matches (§4.4.2) */
    uint64_t now;             /* of the command: for the GRANT events of OBJ_SVC objects */
} lk_write;

/* §4.3.6: the sender fields the kernel fills, from the sending task and its process. */
static void wr_init(lk_kernel *k, lk_write *w, int src_tid, const lk_ioctl_in *in)
{
    const lk_task *t = &k->tasks[src_tid];
    const lk_proc *p = &k->procs[t->pid];

    memset(w, 0, sizeof(*w));
    w->in = in;
    w->src_tid = src_tid;
    w->src_pid = t->pid;
    w->dst_tid = -1;
    w->dst_pid = -1;
    w->hdr.taskID = (uint32_t)src_tid;
    w->hdr.processID = (uint32_t)t->pid;
    w->hdr.userID = p->uid;
    w->hdr.gid = p->gid;
    w->obj_layout = proc_layout(p);
}

static uint64_t next_stamp(lk_task *t, uint64_t now)
{
    uint64_t s = now > t->last_stamp ? now : t->last_stamp + 1;

    t->last_stamp = s;
    return s;
}

/* ---- §4.3.1 size and pointer checks --------------------------------------------------------- */

static int wr_check_sizes(const lk_kernel *k, const IpcMsg *m)
{
    if (m->dataSz > 0 && m->data == NULL)
        return -EINVAL;
    if (m->spObjNum > 0 && m->offsets == NULL)
        return -EINVAL;
    if (m->dataSz > k->cfg.data_max || m->spObjNum > k->cfg.object_max)
        return -EINVAL;
    /* The device's sizeof(SpecialObj): a limit applications can observe (§11). */
    if ((uint64_t)m->dataSz < (uint64_t)m->spObjNum * LITEIPC_DEVICE_SIZEOF_SPECIALOBJ)
        return -EINVAL;
    return 0;
}

/* ---- §4.3.2 checks by message type ---------------------------------------------------------- */

static int wr_request(lk_kernel *k, lk_write *w, uint64_t now)
{
    if (!lk__has_access(k, w->src_pid, w->hdr.target.handle))
        return -EACCES;
    w->dst = (uint32_t)lk__resolve(k, w->hdr.target.handle);
    w->hdr.timestamp = next_stamp(&k->tasks[w->src_tid], now); /* outMsg is not updated */
    w->match_stamp = w->hdr.timestamp;
    return 0;
}

/* IsValidReply over the request node found at buffToFree. */
static bool valid_reply(const lk_kernel *k, const lk_write *w, const IpcMsg *req)
{
    int svc;

    if (req->type != MT_REQUEST || req->flag == LITEIPC_FLAG_ONEWAY)
        return false;
    if (w->hdr.timestamp != req->timestamp || w->hdr.target.handle != req->taskID)
        return false;
    if (req->target.handle >= MAX_SERVICE_NUM)
        return false;
    svc = lk__resolve(k, req->target.handle);
    return k->tasks[svc].in_use && k->tasks[svc].pid == w->src_pid;
}

static int wr_reply(lk_kernel *k, lk_write *w, uint64_t now)
{
    const lk_proc *p = &k->procs[w->src_pid];
    IpcMsg req;
    uint64_t deadline;

    if (!w->buff_free)
        return -EINVAL; /* a reply must free the request it answers */
    /* buffToFree may be an OBJ_PTR buffer: read it as a message only if one fits. */
    if (lk_pool_block_size(p->kbase, w->free_off) < proc_layout(p)->msg_size)
        return -EINVAL;
    node_get(p, w->free_off, &req);
    if (!valid_reply(k, w, &req))
        return -EINVAL;
    deadline = lk__deadline(k, req.timestamp);
    if (now > deadline)
        return -ETIME; /* the request buffer is still freed (phase 4, Q13) */
    w->dst = w->hdr.target.handle;
    w->match_stamp = w->hdr.timestamp;
    return 0;
}

static int wr_route(lk_kernel *k, lk_write *w, uint64_t now)
{
    switch (w->hdr.type) {
    case MT_REQUEST:
        return wr_request(k, w, now);
    case MT_REPLY:
    case MT_FAILED_REPLY:
        return wr_reply(k, w, now);
    default: /* MT_DEATH_NOTIFY, made only by the kernel (§7.2) */
        w->dst = w->hdr.target.handle;
        w->hdr.timestamp = now;
        return 0;
    }
}

/* ---- §4.3.3 destination and allocation, §4.3.5 copy and CMS limit -------------------------- */

static int wr_alloc(lk_kernel *k, lk_write *w)
{
    lk_proc *d = &k->procs[w->dst_pid];
    size_t size = (size_t)node_hdr_size(d) + w->hdr.dataSz +
                  (size_t)proc_layout(d)->entry_size * w->hdr.spObjNum;

    if (!d->has_ipc)
        return -EINVAL;
    if (!lk__pool_mapped(d))
        return -ENOMEM; /* the allocation from a missing pool returns nothing */
    if (__builtin_expect(k->faults != NULL, 0) && lk__fault_alloc(k, &w->hdr, w->dst_tid, w->now))
        return -ENOMEM; /* a NOMEM fault: the pool is full for this message */
    w->node = lk_pool_alloc(d->kbase, size);
    if (w->node == 0)
        return -ENOMEM;
    lk__pool_note_use(d);
    return 0;
}

static int wr_copy(lk_kernel *k, const lk_write *w)
{
    const lk_proc *d = &k->procs[w->dst_pid];
    const lk_abi_layout *r = proc_layout(d);
    uint32_t *link = node_link(d, w->node);
    unsigned char *data = node_data(d, w->node);
    uint32_t dsz = w->hdr.dataSz, n = w->hdr.spObjNum;
    uintptr_t udata = d->uvaddr + w->node + node_hdr_size(d);
    IpcMsg m = w->hdr;

    /* Q12 (deviation): a non-NULL user buffer the device layer could not copy gives EFAULT. */
    if ((dsz > 0 && w->data == NULL) || (n > 0 && w->offsets == NULL))
        return -EFAULT;
    m.data = dsz > 0 ? (void *)udata : NULL; /* Q3 (fixed): NULL for a zero size */
    m.offsets = n > 0 ? (void *)(udata + dsz) : NULL;
    lk_abi_encode_msg(r, &m, &w->hi, d->kbase + w->node); /* in the receiver's layout */
    link[0] = 0;
    link[1] = (uint32_t)(w->obj_layout - lk_abi_layout_of(LK_ABI_DEFAULT));
    if (dsz > 0)
        memcpy(data, w->data, dsz);
    if (r->entry_size == 4 && n > 0)
        memcpy(data + dsz, w->offsets, 4u * (size_t)n);
    else
        for (uint32_t i = 0; i < n; i++)
            lk_abi_offset_put(r, data + dsz, i, w->offsets[i]);
    return 0;
}

/* §5.1 for object i at byte offset off, prev being offsets[i-1]. The sender's real
   sizeof(SpecialObj) (24 or 32) is used here: an object must physically fit inside the data. */
static int obj_offset_check(uint32_t obj_size, uint32_t data_sz, uint32_t i, uint32_t off,
                            uint32_t prev)
{
    if (data_sz < obj_size || off > data_sz - obj_size)
        return -EINVAL;
    if (i > 0 && (uint64_t)off < (uint64_t)prev + obj_size)
        return -EINVAL;
    return 0;
}

/* §4.3.5 step 5: only for requests written to handle 0 (Q19). Reads the node's own copy. */
static int wr_cms_limit(const lk_kernel *k, const lk_write *w)
{
    const lk_proc *d = &k->procs[w->dst_pid];
    const unsigned char *data = node_data(d, w->node);
    uint32_t dsz = w->hdr.dataSz, n = w->hdr.spObjNum, prev = 0;
    uint64_t total = LITEIPC_DEVICE_SIZEOF_IPCMSG + (uint64_t)dsz + 4u * (uint64_t)n;

    if (w->hdr.target.handle != 0)
        return 0;
    for (uint32_t i = 0; i < n; i++) {
        uint32_t off = node_offset(d, data, dsz, i);
        lk_obj o;

        if (obj_offset_check(w->obj_layout->obj_size, dsz, i, off, prev) != 0)
            return -EINVAL;
        lk_obj_read(w->obj_layout, data + off, &o);
        if (o.type == OBJ_PTR)
            total += o.buff_sz;
        prev = off;
    }
    return total > k->cms_max ? -EINVAL : 0;
}

/* ---- §5 special objects on the forward path ------------------------------------------------- */

/* §5.2 */
static int obj_fd(lk_kernel *k, const lk_write *w, lk_obj *o)
{
    int fd;

    if (k->ops.fd_dup == NULL)
        return -EBADF;
    fd = k->ops.fd_dup(k->ops.ctx, w->src_pid, (int)o->fd, w->dst_pid);
    if (fd < 0)
        return fd;
    o->fd = (uint32_t)fd;
    return 0;
}

/* §5.3 */
static int obj_ptr(lk_kernel *k, const lk_write *w, lk_obj *o)
{
    lk_proc *d = &k->procs[w->dst_pid];
    uintptr_t src = (uintptr_t)o->buff;
    uint32_t n = o->buff_sz;
    uint32_t off;

    if (src == 0 || n == 0)
        return -EINVAL;
    off = lk_pool_alloc(d->kbase, n);
    if (off == 0)
        return -EINVAL; /* Q14: not ENOMEM */
    lk__pool_note_use(d);
    /* Q12 (deviation): a fault, or no way to copy, gives EFAULT after freeing the buffer. */
    if (w->in == NULL || w->in->copy_from_user == NULL ||
        w->in->copy_from_user(w->in->copy_ctx, d->kbase + off, src, n) != 0) {
        lk_pool_free(d->kbase, off);
        return -EFAULT;
    }
    o->buff = d->uvaddr + off;
    used_set(d, off); /* the receiver owns it at once, apart from the message */
    return 0;
}

/* §5.4 step 1: handle -1 with token 1 means "the sending task itself". */
static int svc_self(lk_kernel *k, const lk_write *w, lk_obj *svc)
{
    if (svc->token != 1)
        return -EINVAL;
    k->tasks[w->src_tid].has_info = true;
    if (w->src_tid == k->cms_task)
        return -EINVAL;
    svc->handle = (uint32_t)w->src_tid;
    /* No event: obj_svc makes the same grant again at once, and reports that one. */
    (void)lk__grant(k, w->dst_pid, svc->handle, -1, -1, &w->hdr, w->now);
    return 0;
}

/* §5.4. Grants made here are never rolled back (Q11). */
static int obj_svc(lk_kernel *k, const lk_write *w, lk_obj *o)
{
    lk_obj *svc = o;
    int ret;

    if (svc->handle == (uint32_t)INVAILD_ID) {
        ret = svc_self(k, w, svc);
        if (ret != 0)
            return ret;
    }
    if (!lk__alive(k, svc->handle))
        return -EINVAL; /* handle 0 too: TID 0 is a kernel task */
    if (!lk__has_access(k, w->src_pid, svc->handle))
        return -EACCES;
    k->tasks[svc->handle].has_info = true;
    (void)lk__grant(k, w->dst_pid, svc->handle, w->src_tid, -1, &w->hdr, w->now);
    return 0;
}

static int obj_forward(lk_kernel *k, const lk_write *w, lk_obj *o)
{
    switch (o->type) {
    case OBJ_FD:
        return obj_fd(k, w, o);
    case OBJ_PTR:
        return obj_ptr(k, w, o);
    case OBJ_SVC:
        return obj_svc(k, w, o);
    default:
        return -EINVAL;
    }
}

/* §4.3.7 step 2: objects in index order, read from and rewritten in the node (never from the
   sender's memory again). A failure undoes objects 0..i-1 in reverse order. */
static int wr_objects(lk_kernel *k, const lk_write *w)
{
    const lk_proc *d = &k->procs[w->dst_pid];
    unsigned char *data = node_data(d, w->node);
    uint32_t dsz = w->hdr.dataSz, prev = 0;

    for (uint32_t i = 0; i < w->hdr.spObjNum; i++) {
        uint32_t off = node_offset(d, data, dsz, i);
        lk_obj o;
        int ret = obj_offset_check(w->obj_layout->obj_size, dsz, i, off, prev);

        if (ret == 0) {
            lk_obj_read(w->obj_layout, data + off, &o);
            ret = obj_forward(k, w, &o);
        }
        if (ret != 0) {
            objs_rollback(k, w->dst_pid, w->node, i);
            return ret;
        }
        lk_obj_patch(w->obj_layout, data + off, &o);
        prev = off;
    }
    return 0;
}

/* ---- the read path: parking and completions ------------------------------------------------- */

static void park(lk_kernel *k, int tid, bool sync, uint64_t stamp, uint64_t now)
{
    lk_task *t = &k->tasks[tid];

    t->parked = true;
    t->parked_sync = sync;
    t->park_stamp = stamp;
    t->deadline = sync ? lk__deadline(k, now) : LK_NO_DEADLINE;
    if (sync)
        k->sync_parked++;
    lk__emit(k, LK_EV_RECV_WAIT, 0, now, -1, -1, tid, NULL);
}

void lk__unpark(lk_kernel *k, int tid)
{
    lk_task *t = &k->tasks[tid];

    if (!t->parked)
        return;
    if (t->parked_sync)
        k->sync_parked--;
    t->parked = false;
    t->parked_sync = false;
    t->deadline = LK_NO_DEADLINE;
}

void lk__complete(lk_kernel *k, int tid, int result, uintptr_t in_msg)
{
    lk_completion *c;

    if (k->ring_count == LK_RING_SIZE) { /* never with a broker draining it: drop the oldest */
        k->ring_head = (k->ring_head + 1) % LK_RING_SIZE;
        k->ring_count--;
    }
    c = &k->ring[(k->ring_head + k->ring_count) % LK_RING_SIZE];
    c->tid = tid;
    c->result = result;
    c->in_msg = in_msg;
    k->ring_count++;
}

int lk_kernel_take_completion(lk_kernel *k, lk_completion *c)
{
    if (k->ring_count == 0)
        return 0;
    *c = k->ring[k->ring_head];
    k->ring_head = (k->ring_head + 1) % LK_RING_SIZE;
    k->ring_count--;
    return 1;
}

/* ---- §4.4 the read loop --------------------------------------------------------------------- */

typedef enum rd_verdict { RD_ACCEPT, RD_FAILED, RD_DROP } rd_verdict;

/* §4.4.2 */
static rd_verdict rd_classify(const IpcMsg *m, bool sync, uint64_t stamp)
{
    switch (m->type) {
    case MT_REQUEST:
        return sync ? RD_DROP : RD_ACCEPT; /* Q5 */
    case MT_DEATH_NOTIFY:
        return RD_ACCEPT; /* as the answer of a synchronous call too (Q6) */
    case MT_REPLY: /* Q4 (fixed): a plain RECV drops stale replies */
        return sync && m->timestamp == stamp ? RD_ACCEPT : RD_DROP;
    case MT_FAILED_REPLY:
        return sync && m->timestamp == stamp ? RD_FAILED : RD_DROP;
    default:
        return RD_DROP;
    }
}

static uint32_t queue_pop(lk_task *t, const lk_proc *p)
{
    uint32_t node = t->q_head;

    t->q_head = *node_link(p, node);
    if (t->q_head == 0)
        t->q_tail = 0;
    t->queued--;
    return node;
}

/*
 * Pop and classify the head until a message is accepted (0, *in_msg set), a matching failed
 * reply is found (-ENOENT), or the queue is empty (LK_PARKED). *drops counts dropped messages.
 */
static int rd_loop(lk_kernel *k, int tid, bool sync, uint64_t stamp, uint64_t now,
                   uintptr_t *in_msg, unsigned *drops)
{
    lk_task *t = &k->tasks[tid];
    lk_proc *p = &k->procs[t->pid];

    while (t->q_head != 0) {
        uint32_t node = queue_pop(t, p);
        IpcMsg hdr;
        const IpcMsg *m = &hdr;
        rd_verdict v;

        node_get(p, node, &hdr);
        v = rd_classify(m, sync, stamp);

        if (v == RD_ACCEPT) { /* §4.4.4 data/offsets already hold user addresses */
            used_set(p, node);
            *in_msg = p->uvaddr + node;
            lk__emit(k, LK_EV_MSG_READ, 0, now, (int)m->taskID, (int)m->processID, tid, m);
            k->stats.received++;
            if (__builtin_expect(k->faults != NULL, 0))
                lk__fault_moved(k, LITEIPC_ON_READ, m, tid);
            return 0;
        }
        if (v == RD_DROP) {
            lk__emit(k, LK_EV_DROP_ON_READ, ENOMSG, now, (int)m->taskID, (int)m->processID,
                     tid, m);
            k->stats.drop_read[ENOMSG]++;
            (*drops)++;
        }
        lk__node_discard(k, t->pid, node); /* §4.4.3; a failed reply's node is freed alike */
        if (v == RD_FAILED)
            return -ENOENT;
    }
    return LK_PARKED;
}

/* §4.1 phase 6 and §4.4.1: receive now, or park. */
static int recv_phase(lk_kernel *k, int tid, bool sync, uint64_t stamp, uint64_t now,
                      lk_ioctl_out *out)
{
    uintptr_t in_msg = 0;
    unsigned drops = 0;
    int ret;

    k->tasks[tid].has_info = true; /* §1.4: the receive path creates IpcTaskInfo */
    ret = rd_loop(k, tid, sync, stamp, now, &in_msg, &drops);
    if (ret == 0) {
        out->copyout = LK_COPYOUT_INMSG;
        out->in_msg = in_msg;
    }
    if (ret != LK_PARKED)
        return ret;
    park(k, tid, sync, stamp, now);
    return LK_PARKED;
}

/* A message was queued to parked task tid: it wakes and runs its loop again. */
static void rd_wake(lk_kernel *k, int tid, uint64_t now)
{
    lk_task *t = &k->tasks[tid];
    uintptr_t in_msg = 0;
    unsigned drops = 0;
    int ret = rd_loop(k, tid, t->parked_sync, t->park_stamp, now, &in_msg, &drops);

    if (ret == LK_PARKED) {
        if (drops > 0) { /* Q7: a fresh wait, with a fresh timeout */
            if (t->parked_sync)
                t->deadline = lk__deadline(k, now);
            lk__emit(k, LK_EV_RECV_WAIT, 0, now, -1, -1, tid, NULL);
        }
        return;
    }
    lk__unpark(k, tid);
    lk__complete(k, tid, ret, in_msg);
}

/* ---- §4.3 the write path -------------------------------------------------------------------- */

/* The counters of a message queued, by its type (the header as its sender wrote it). */
static void count_written(lk_stats *s, const IpcMsg *m)
{
    if (m->type == MT_REQUEST && m->flag == LITEIPC_FLAG_ONEWAY)
        s->oneway++;
    else if (m->type == MT_REQUEST)
        s->calls++;
    else if (m->type == MT_REPLY)
        s->replies++;
    else if (m->type == MT_FAILED_REPLY)
        s->failed_replies++;
    else
        s->death_notices++;
    s->bytes += m->dataSz;
}

/* §4.3.8: append to the destination's FIFO and wake it if it waits. */
void lk__enqueue(lk_kernel *k, int src_tid, int src_pid, int dst_tid, uint32_t node,
                 const IpcMsg *hdr, uint64_t now)
{
    lk_task *t = &k->tasks[dst_tid];
    const lk_proc *d = &k->procs[t->pid];

    if (t->q_tail != 0)
        *node_link(d, t->q_tail) = node;
    else
        t->q_head = node;
    t->q_tail = node;
    t->queued++;
    count_written(&k->stats, hdr);
    if (__builtin_expect(k->ev_fn != NULL, 0)) { /* the header as the receiver will see it */
        IpcMsg m;

        node_get(d, node, &m);
        lk__emit(k, LK_EV_MSG_WRITTEN, 0, now, src_tid, src_pid, dst_tid, &m);
    }
    if (__builtin_expect(k->faults != NULL, 0))
        lk__fault_moved(k, LITEIPC_ON_WRITTEN, hdr, dst_tid);
    if (t->parked)
        rd_wake(k, dst_tid, now);
}

static void wr_enqueue(lk_kernel *k, const lk_write *w, uint64_t now)
{
    if (__builtin_expect(k->faults != NULL, 0) &&
        lk__fault_enqueue(k, &w->hdr, w->src_pid, w->dst_tid, w->node, now))
        return; /* dropped or delayed by a fault */
    lk__enqueue(k, w->src_tid, w->src_pid, w->dst_tid, w->node, &w->hdr, now);
}

/* LiteIpcWrite from the checks by type (§4.3.2) to the queue (§4.3.8). */
static int wr_write(lk_kernel *k, lk_write *w, uint64_t now)
{
    int ret = wr_route(k, w, now);

    if (ret != 0)
        return ret;
    if (!lk__alive(k, w->dst)) {
        ret = -EINVAL;
        goto fail;
    }
    w->dst_tid = (int)w->dst;
    w->dst_pid = k->tasks[w->dst_tid].pid;
    ret = wr_alloc(k, w);
    if (ret != 0)
        goto fail;
    ret = wr_copy(k, w);
    if (ret == 0)
        ret = wr_cms_limit(k, w);
    if (ret != 0)
        goto free_node;
    k->tasks[w->dst_tid].has_info = true; /* §4.3.7 step 1 */
    ret = wr_objects(k, w);
    if (ret != 0)
        goto free_node;
    wr_enqueue(k, w, now);
    return 0;

free_node:
    lk_pool_free(k->procs[w->dst_pid].kbase, w->node);
fail:
    k->stats.drop_write[lk_stats_slot(-ret)]++;
    lk__emit(k, LK_EV_DROP_ON_WRITE, -ret, now, w->src_tid, w->src_pid,
             w->dst < LK_MAX_TASKS ? (int)w->dst : -1, &w->hdr);
    return ret;
}

/* §4.1 phase 3. *stamp gets what a RECV in the same call matches. */
static int send_phase(lk_kernel *k, int tid, const lk_ioctl_in *in, bool freeing,
                      uint32_t free_off, uint64_t now, uint64_t *stamp)
{
    lk_write w;
    int ret;

    if (in->content.outMsg == NULL)
        return -EINVAL;
    if (in->faults & LK_FAULT_OUTMSG)
        return -EINVAL; /* copying the header in failed */
    if ((uint32_t)in->out.type > MT_FAILED_REPLY)
        return -EINVAL; /* MT_DEATH_NOTIFY cannot be sent from user space */
    wr_init(k, &w, tid, in);
    w.now = now;
    memcpy(&w.hdr, &in->out, LK_MSG_SENDER_BYTES); /* Q20: only the sender's bytes */
    w.hi = in->out_hi;
    w.data = in->data;
    w.offsets = in->offsets;
    w.buff_free = freeing;
    w.free_off = free_off;
    ret = wr_check_sizes(k, &w.hdr);
    if (ret != 0)
        return ret;
    ret = wr_write(k, &w, now);
    *stamp = w.match_stamp;
    return ret;
}

/* §3.8 then §4.1: free check, send, free, receive. */
int lk__cmd_send_recv(lk_kernel *k, int tid, const lk_ioctl_in *in, uint64_t now,
                      lk_ioctl_out *out)
{
    const IpcContent *c = &in->content;
    lk_proc *p = &k->procs[k->tasks[tid].pid];
    bool freeing = (c->flag & BUFF_FREE) != 0;
    uint32_t free_off = 0;
    uint64_t stamp = 0;
    int ret = 0;

    if (k->cms_status != HANDLE_REGISTED)
        return -EINVAL; /* no message moves before a CMS exists */
    if (in->faults & LK_FAULT_ARG)
        return -EINVAL; /* §4.1 step 1: copying the IpcContent in failed */
    if (freeing) {
        ret = free_check(p, (uintptr_t)c->buffToFree, &free_off);
        if (ret != 0)
            return ret; /* at once: nothing else is done */
    }
    if (c->flag & SEND)
        ret = send_phase(k, tid, in, freeing, free_off, now, &stamp);
    if (freeing)
        lk_pool_free(p->kbase, free_off); /* Q13: even when the send failed */
    if (ret != 0 || !(c->flag & RECV))
        return ret; /* no RECV after a failed send */
    return recv_phase(k, tid, (c->flag & SEND) != 0, stamp, now, out);
}

/* ---- §7.2 task death: queue drain and death notices ----------------------------------------- */

void lk__task_drain(lk_kernel *k, int tid, uint64_t now)
{
    lk_task *t = &k->tasks[tid];
    const lk_proc *p = &k->procs[t->pid];

    if (p->kbase == NULL) { /* cannot hold nodes; keep the state sane regardless */
        t->q_head = t->q_tail = 0;
        t->queued = 0;
        return;
    }
    while (t->q_head != 0) {
        uint32_t node = queue_pop(t, p);
        IpcMsg m;

        node_get(p, node, &m);
        lk__emit(k, LK_EV_DROP_ON_READ, ESRCH, now, (int)m.taskID, (int)m.processID, tid, &m);
        k->stats.drop_read[ESRCH]++;
        lk__node_discard(k, t->pid, node); /* nobody is told (§7.2 step 2) */
    }
    if (__builtin_expect(k->faults != NULL, 0))
        lk__fault_drain(k, tid, now);
}

void lk__death_notice(lk_kernel *k, int dead_tid, int pid, uint64_t now)
{
    lk_proc *p = lk__proc(k, pid);
    lk_write w;

    if (p == NULL || !p->has_ipc)
        return;
    p->access[dead_tid / 64] &= ~((uint64_t)1 << (dead_tid % 64));
    if (p->ipc_task == LK_INVALID_ID)
        return; /* no IPC thread: the notice is lost */
    /* Q15 (fixed): the sender is the dead task and its process. */
    wr_init(k, &w, dead_tid, NULL);
    w.now = now;
    w.hdr.type = MT_DEATH_NOTIFY;
    w.hdr.target.handle = (uint32_t)p->ipc_task;
    w.hdr.target.token = (uint32_t)dead_tid;
    (void)wr_write(k, &w, now); /* lost silently on failure, e.g. a dead IPC thread (Q9) */
}

/* ---- deadlines ------------------------------------------------------------------------------ */

/* The parked synchronous wait with the earliest deadline <= now, or -1. */
static int earliest_expired(const lk_kernel *k, uint64_t now)
{
    int best = -1;

    for (int tid = LK_FIRST_USER_TID; tid < LK_MAX_TASKS; tid++) {
        const lk_task *t = &k->tasks[tid];

        if (!t->in_use || !t->parked || !t->parked_sync || t->deadline > now)
            continue;
        if (best < 0 || t->deadline < k->tasks[best].deadline)
            best = tid;
    }
    return best;
}

void lk_kernel_tick(lk_kernel *k, uint64_t now)
{
    int tid;

    if (__builtin_expect(k->faults != NULL, 0))
        lk__fault_tick(k, now); /* delayed messages now due */
    while (k->sync_parked > 0 && (tid = earliest_expired(k, now)) >= 0) {
        lk__unpark(k, tid);
        lk__complete(k, tid, -ETIME, 0);
        lk__emit(k, LK_EV_RECV_TIMEOUT, ETIME, now, -1, -1, tid, NULL);
        k->stats.timeouts++;
    }
}

uint64_t lk_kernel_next_deadline(const lk_kernel *k)
{
    uint64_t best = k->faults != NULL ? lk__fault_next_due(k) : UINT64_MAX;

    if (k->sync_parked == 0)
        return best;
    for (int tid = LK_FIRST_USER_TID; tid < LK_MAX_TASKS; tid++) {
        const lk_task *t = &k->tasks[tid];

        if (t->in_use && t->parked && t->parked_sync && t->deadline < best)
            best = t->deadline;
    }
    return best;
}

bool lk_task_is_parked(const lk_kernel *k, int tid)
{
    return tid >= 0 && tid < LK_MAX_TASKS && k->tasks[tid].in_use && k->tasks[tid].parked;
}

int lk_task_unpark(lk_kernel *k, int tid)
{
    if (lk__task(k, tid) == NULL)
        return -ESRCH;
    lk__unpark(k, tid);
    return 0;
}

/* ---- OBJ_FD objects of a delivered message (for the broker's descriptor hand-over) ---------- */

int lk_msg_fd_objects(const lk_kernel *k, int pid, uintptr_t in_msg,
                      void (*fn)(void *ctx, uint32_t fd, uint32_t pos), void *ctx)
{
    const lk_proc *p = (pid >= 0 && pid < LK_MAX_PROCS) ? &k->procs[pid] : NULL;
    const lk_abi_layout *ol;
    const unsigned char *data;
    uint32_t node, count = 0;
    IpcMsg m;

    if (p == NULL || !p->in_use || !lk__pool_mapped(p))
        return -ESRCH;
    if (in_msg < p->uvaddr || in_msg - p->uvaddr >= p->pool_size)
        return -EINVAL;
    node = (uint32_t)(in_msg - p->uvaddr);
    if (!used_test(p, node))
        return -EINVAL; /* not a message the kernel handed out */
    node_get(p, node, &m);
    ol = node_obj_layout(p, node);
    data = node_data(p, node);
    for (uint32_t i = 0; i < m.spObjNum; i++) {
        uint32_t off = node_offset(p, data, m.dataSz, i);
        lk_obj o;

        if (m.dataSz < ol->obj_size || off > m.dataSz - ol->obj_size)
            continue;
        lk_obj_read(ol, data + off, &o);
        if (o.type != OBJ_FD)
            continue;
        fn(ctx, o.fd, (uint32_t)(data + off + ol->obj_content - p->kbase));
        count++;
    }
    return (int)count;
}

size_t lk_msg_peek(const lk_kernel *k, int pid, const IpcMsg *msg, void *buf, size_t n)
{
    const lk_proc *p = (pid >= 0 && pid < LK_MAX_PROCS) ? &k->procs[pid] : NULL;
    uintptr_t at = (uintptr_t)msg->data;

    if (p == NULL || !p->in_use || !lk__pool_mapped(p) || msg->dataSz == 0)
        return 0;
    if (at < p->uvaddr || at - p->uvaddr >= p->pool_size)
        return 0;
    if (n > msg->dataSz)
        n = msg->dataSz;
    if (n > p->pool_size - (at - p->uvaddr))
        n = p->pool_size - (at - p->uvaddr);
    memcpy(buf, p->kbase + (at - p->uvaddr), n);
    return n;
}
