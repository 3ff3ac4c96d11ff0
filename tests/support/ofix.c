/* SPDX-License-Identifier: Apache-2.0 */
/* ofix.c - helpers shared by the special-object tests (see ofix.h). */
#include "ofix.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* ---- messages with objects ----------------------------------------------------------------- */


void om_init(omsg *o, MsgType type, uint32_t handle, uint32_t code, uint32_t flag,
                    uint32_t size)
{
    memset(&o->m, 0, sizeof(o->m));
    memset(o->data, 0, sizeof(o->data));
    o->m.type = type;
    o->m.target.handle = handle;
    o->m.code = code;
    o->m.flag = flag;
    o->m.dataSz = size;
    o->m.data = size ? o->data : NULL;
}

/* Append an offset to the table without writing an object there. */
void om_off(omsg *o, uint32_t off)
{
    o->offs[o->m.spObjNum++] = off;
    o->m.offsets = o->offs;
}

/* Write obj at byte offset off of the data and append off to the table. */
void om_put(omsg *o, uint32_t off, SpecialObj obj)
{
    memcpy(o->data + off, &obj, sizeof(obj));
    om_off(o, off);
}

SpecialObj o_fd(int fd)
{
    SpecialObj s;

    memset(&s, 0, sizeof(s));
    s.type = OBJ_FD;
    s.content.fd = (uint32_t)fd;
    return s;
}

SpecialObj o_ptr(const void *buf, uint32_t n)
{
    SpecialObj s;

    memset(&s, 0, sizeof(s));
    s.type = OBJ_PTR;
    s.content.ptr.buff = (void *)buf;
    s.content.ptr.buffSz = n;
    return s;
}

SpecialObj o_svc(uint32_t handle, uint32_t token, uint32_t cookie)
{
    SpecialObj s;

    memset(&s, 0, sizeof(s));
    s.type = OBJ_SVC;
    s.content.svc.handle = handle;
    s.content.svc.token = token;
    s.content.svc.cookie = cookie;
    return s;
}

/* An object of any 32-bit type (the field is an enum: write its bytes). */
SpecialObj o_type(uint32_t type)
{
    SpecialObj s = o_svc(1, 0, 0);

    memcpy(&s.type, &type, sizeof(type));
    return s;
}

int om_send(liteipc_kernel *k, int fd, omsg *o)
{
    IpcContent c;

    memset(&c, 0, sizeof(c));
    c.flag = SEND;
    c.outMsg = &o->m;
    return liteipc_ioctl(k, fd, IPC_SEND_RECV_MSG, &c);
}

/* Reply to req with o (SEND|BUFF_FREE, frees req). */
int om_reply(liteipc_kernel *k, int fd, omsg *o, const IpcMsg *req)
{
    IpcContent c;

    o->m.type = MT_REPLY;
    o->m.target.handle = req->taskID;
    o->m.timestamp = req->timestamp;
    memset(&c, 0, sizeof(c));
    c.flag = SEND | BUFF_FREE;
    c.outMsg = &o->m;
    c.buffToFree = (void *)req;
    return liteipc_ioctl(k, fd, IPC_SEND_RECV_MSG, &c);
}

/* Object i of a received message (the caller checked spObjNum). */
SpecialObj obj_at(const IpcMsg *m, uint32_t i)
{
    SpecialObj s;
    uint32_t off;

    memcpy(&off, (const char *)m->offsets + 4u * i, sizeof(off));
    memcpy(&s, (const char *)m->data + off, sizeof(s));
    return s;
}

/* ---- descriptors --------------------------------------------------------------------------- */

int lowest_free_fd(void)
{
    for (int fd = 3; fd < 1 << 20; fd++)
        if (fcntl(fd, F_GETFD) == -1 && errno == EBADF)
            return fd;
    return -1;
}

/* A number that is not an open descriptor. */
int unused_fd(void)
{
    for (int fd = 1000; fd < 1 << 20; fd++)
        if (fcntl(fd, F_GETFD) == -1 && errno == EBADF)
            return fd;
    return -1;
}

/* Read until EOF or n bytes, each wait bounded. Bytes read, or -1. */
ssize_t read_all(int fd, char *buf, size_t n)
{
    size_t got = 0;

    while (got < n) {
        struct pollfd p = {.fd = fd, .events = POLLIN};
        ssize_t r;

        if (poll(&p, 1, (int)T_WAIT_MS) <= 0)
            return -1;
        r = read(fd, buf + got, n - got);
        if (r < 0)
            return -1;
        if (r == 0)
            break;
        got += (size_t)r;
    }
    return (ssize_t)got;
}

/* An unnamed temporary file, opened O_CLOEXEC. */
int temp_file(void)
{
    char path[] = "/tmp/objtest-XXXXXX";
    int fd = open("/tmp", O_TMPFILE | O_RDWR | O_CLOEXEC, 0600);

    if (fd >= 0)
        return fd;
    fd = mkostemp(path, O_CLOEXEC);
    if (fd >= 0)
        unlink(path);
    return fd;
}

/* ---- pool measurement ------------------------------------------------------------------------ */

/* Send the calling task a one-way message of size bytes and take it back. 0: it fitted,
   1: no room (ENOMEM), -1: anything else (including another message queued before it). */
int probe_fits(liteipc_kernel *k, int fd, int tid, uint32_t size)
{
    static const unsigned char zeros[IPC_MSG_DATA_SZ_MAX];
    IpcMsg *m = NULL;
    bool mine;

    if (t_send(k, fd, (uint32_t)tid, CODE_PROBE, LITEIPC_FLAG_ONEWAY, size ? zeros : NULL,
               size) != 0)
        return errno == ENOMEM ? 1 : -1;
    if (t_recv(k, fd, &m) != 0)
        return -1;
    mine = m->code == CODE_PROBE && m->dataSz == size && m->taskID == (uint32_t)tid;
    if (t_free(k, fd, m) != 0)
        return -1;
    return mine ? 0 : -1;
}

/* The largest message (data bytes) the calling task's process can take now, or -1. */
long pool_largest(liteipc_kernel *k, int fd)
{
    int tid = liteipc_self_tid(k);
    uint32_t lo = 0, hi = IPC_MSG_DATA_SZ_MAX;
    int r;

    r = probe_fits(k, fd, tid, hi);
    if (r <= 0)
        return r == 0 ? (long)hi : -1;
    if (probe_fits(k, fd, tid, lo) != 0)
        return -1;
    while (hi - lo > 1) { /* lo fits, hi does not */
        uint32_t mid = lo + (hi - lo) / 2;

        r = probe_fits(k, fd, tid, mid);
        if (r < 0)
            return -1;
        if (r == 0)
            lo = mid;
        else
            hi = mid;
    }
    return (long)lo;
}

/* ---- the CMS world --------------------------------------------------------------------------- */

void world_init(t_ctx *c, struct world *w, size_t pool_size, unsigned long cms_size)
{
    void *pool = NULL;

    w->k = c->k;
    w->ev = c->ev;
    w->fd = t_dev_setup(c->k, pool_size, &pool);
    assert_true(w->fd >= 0);
    w->pool = pool;
    w->pool_len = pool_size;
    w->tid = liteipc_self_tid(c->k);
    w->pid = liteipc_self_pid(c->k);
    assert_ok(t_set_cms(c->k, w->fd, cms_size));
    assert_ok(t_prime_task(c->k, w->fd));
}

void world_fini(struct world *w)
{
    assert_ok(liteipc_close(w->k, w->fd));
}

/* CMS_ADD_ACCESS: the process of client may send requests to task svc. */
void grant(struct world *w, int client, int svc)
{
    assert_ok(t_add_access(w->k, w->fd, (uint32_t)client, (uint32_t)svc));
}

/* ---- malformed offsets tables (§4.3.1, §5.1) ---- */

/* Variant v of a malformed kind, to `to`; objects are OBJ_SVC of the sender itself. Returns
   MAL_BAD (must be refused with EINVAL), MAL_GOOD (the accepted limit case), or MAL_END. */
int mal_build(omsg *o, int kind, unsigned v, uint32_t to, uint32_t self)
{
    static const uint32_t types[] = {3, 4, 7, 0xFFFF, 0x80000000u, 0xFFFFFFFFu};
    const SpecialObj me = o_svc(self, 0, 0);

    switch (kind) {
    case MAL_PAST_END: { /* offset > dataSz - 24 */
        static const uint32_t offs[] = {HOST_OBJ + 1, 2 * HOST_OBJ - 1, 0xFFFFFFFFu, HOST_OBJ};

        if (v >= 4)
            return MAL_END;
        om_init(o, MT_REQUEST, to, 1, LITEIPC_FLAG_ONEWAY, 2 * HOST_OBJ);
        if (offs[v] < 2 * HOST_OBJ)
            om_put(o, offs[v], me); /* (the buffer is larger than dataSz) */
        else
            om_off(o, offs[v]);
        return v < 3 ? MAL_BAD : MAL_GOOD;
    }
    case MAL_OVERLAP: /* offsets[i] < offsets[i-1] + 24 */
        if (v >= 3)
            return MAL_END;
        om_init(o, MT_REQUEST, to, 1, LITEIPC_FLAG_ONEWAY, 3 * HOST_OBJ);
        om_put(o, 0, me);
        if (v == 0) {
            om_off(o, HOST_OBJ - 1);
        } else if (v == 1) {
            om_put(o, HOST_OBJ, me);
            om_off(o, 2 * HOST_OBJ - 1);
        } else {
            om_put(o, HOST_OBJ, me);
        }
        return v < 2 ? MAL_BAD : MAL_GOOD;
    case MAL_ORDER: /* decreasing or repeated */
        if (v >= 4)
            return MAL_END;
        om_init(o, MT_REQUEST, to, 1, LITEIPC_FLAG_ONEWAY, 3 * HOST_OBJ);
        if (v == 0) {
            om_put(o, HOST_OBJ, me);
            om_put(o, 0, me);
        } else if (v == 1) {
            om_put(o, 0, me);
            om_off(o, 0);
        } else {
            om_put(o, 0, me);
            om_put(o, 2 * HOST_OBJ, me);
            if (v == 2)
                om_off(o, HOST_OBJ);
        }
        return v < 3 ? MAL_BAD : MAL_GOOD;
    case MAL_TOO_MANY: { /* spObjNum > 409 */
        const uint32_t fit = IPC_MSG_DATA_SZ_MAX / HOST_OBJ; /* 273 host objects fit */

        if (v >= 3)
            return MAL_END;
        om_init(o, MT_REQUEST, to, 1, LITEIPC_FLAG_ONEWAY, IPC_MSG_DATA_SZ_MAX);
        if (v < 2) {
            for (uint32_t i = 0; i <= IPC_MSG_OBJECT_NUM_MAX; i++)
                o->offs[i] = i * DEV_OBJ;
            o->m.offsets = o->offs;
            o->m.spObjNum = v == 0 ? IPC_MSG_OBJECT_NUM_MAX + 1 : 0xFFFFFFFFu;
            return MAL_BAD;
        }
        o->m.dataSz = fit * HOST_OBJ;
        for (uint32_t i = 0; i < fit; i++)
            om_put(o, i * HOST_OBJ, me);
        return MAL_GOOD;
    }
    case MAL_SHORT_DATA: /* dataSz < 16 * spObjNum, or too short for one host object */
        if (v >= 4)
            return MAL_END;
        om_init(o, MT_REQUEST, to, 1, LITEIPC_FLAG_ONEWAY, 2 * HOST_OBJ);
        if (v == 0) {
            o->m.dataSz = 2 * DEV_OBJ - 1;
            om_off(o, 0);
            om_off(o, DEV_OBJ);
        } else {
            /* v1 passes the device's count check (16 bytes) with no whole host object: LP64
               only; in 32-bit, where both sizes are 16, it is v2 again */
            om_put(o, 0, me);
            o->m.dataSz = v == 3 ? HOST_OBJ : v == 1 && HOST_OBJ > DEV_OBJ ? DEV_OBJ : HOST_OBJ - 1;
        }
        return v < 3 ? MAL_BAD : MAL_GOOD;
    case MAL_NULL: /* NULL offsets with spObjNum > 0, NULL data with dataSz > 0 */
        if (v >= 4)
            return MAL_END;
        om_init(o, MT_REQUEST, to, 1, LITEIPC_FLAG_ONEWAY, HOST_OBJ);
        if (v == 3)
            return MAL_GOOD; /* no objects: a plain message */
        om_put(o, 0, me);
        if (v == 0)
            o->m.offsets = NULL;
        else if (v == 1)
            o->m.data = NULL;
        else {
            o->m.spObjNum = 0;
            o->m.offsets = NULL;
            o->m.data = NULL;
        }
        return MAL_BAD;
    default: /* MAL_TYPE: not 0, 1 or 2 */
        if (v > sizeof(types) / sizeof(types[0]))
            return MAL_END;
        om_init(o, MT_REQUEST, to, 1, LITEIPC_FLAG_ONEWAY, HOST_OBJ);
        if (v == sizeof(types) / sizeof(types[0])) {
            om_put(o, 0, me);
            return MAL_GOOD;
        }
        om_put(o, 0, o_type(types[v]));
        return MAL_BAD;
    }
}

int flood_build(omsg *o, const struct flood_src *s, int kind, unsigned i, uint32_t to)
{
    static const uint32_t bad_types[] = {3, 7, 0xFFFF, 0xFFFFFFFFu};
    /* overlapping the third object, before it, past the end of the data */
    static const uint32_t bad_offs[] = {3 * HOST_OBJ - 1, HOST_OBJ, 3 * HOST_OBJ + 1};
    const uint32_t last = 3 * HOST_OBJ;

    om_init(o, MT_REQUEST, to, 0x100 + i % 64, LITEIPC_FLAG_ONEWAY, 4 * HOST_OBJ);
    om_put(o, 0, o_fd(s->good_fd));
    om_put(o, HOST_OBJ, o_ptr(s->ptr, sizeof(s->ptr)));
    om_put(o, 2 * HOST_OBJ, o_svc(s->self, 0, 0));
    switch (kind) {
    case FK_BAD_TYPE:
        om_put(o, last, o_type(bad_types[i % 4]));
        return EINVAL;
    case FK_BAD_OFFSET:
        om_off(o, bad_offs[i % 3]);
        return EINVAL;
    default:
        break;
    }
    switch (i % 7) {
    case 0:
        om_put(o, last, o_fd(s->bad_fd));
        return EBADF;
    case 1:
        om_put(o, last, o_svc(s->no_access, 0, 0));
        return EACCES;
    case 2:
        om_put(o, last, o_ptr(NULL, 16));
        return EINVAL;
    case 3:
        om_put(o, last, o_ptr(s->big, sizeof(s->big))); /* Q14 */
        return EINVAL;
    case 4:
        om_put(o, last, o_svc(NO_HANDLE, 2, 0));
        return EINVAL;
    case 5:
        om_put(o, last, o_svc(0, 0, 0)); /* handle 0: TID 0 is a kernel task */
        return EINVAL;
    default:
        om_put(o, last, o_svc(MAX_SERVICE_NUM - 1, 0, 0)); /* not alive */
        return EINVAL;
    }
}
