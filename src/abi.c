/* SPDX-License-Identifier: Apache-2.0 */
/*
 * abi.c - the 64-bit ABI profiles (abi.h): their layouts, and field-by-field conversion
 * between a profile's bytes and the kernel's canonical header. Every access is a memcpy: user
 * headers and objects may sit at any alignment.
 */
#include "abi.h"

#include <errno.h>
#include <stddef.h>
#include <string.h>

/*
 * communication_ipc's structures, as its headers declare them: only SvcIdentity differs from
 * the driver's, and with it every offset after `target` (on LP64; on ILP32 they coincide).
 */
typedef struct {
    int32_t handle;
    uintptr_t token;
    uintptr_t cookie;
} ci_svc;

typedef struct {
    MsgType type;
    ci_svc target;
    uint32_t code;
    uint32_t flag;
    uint64_t timestamp;
    uint32_t dataSz;
    void *data;
    uint32_t spObjNum;
    void *offsets;
    uint32_t processID;
    uint32_t taskID;
    uint32_t userID;
    uint32_t gid;
} ci_msg;

typedef struct {
    ObjType type;
    union {
        uint32_t fd;
        BuffPtr ptr;
        ci_svc svc;
    } content;
} ci_obj;

/* A layout from a struct type M (message), S (SvcIdentity), O (SpecialObj), entry size E. */
#define LAYOUT(nm, M, S, O, E)                                                                  \
    {                                                                                          \
        .name = nm, .msg_size = sizeof(M), .sender_bytes = offsetof(M, processID),            \
        .id_size = sizeof(((S *)0)->token), .target = offsetof(M, target),                     \
        .code = offsetof(M, code), .flag = offsetof(M, flag),                                   \
        .timestamp = offsetof(M, timestamp), .data_sz = offsetof(M, dataSz),                    \
        .data = offsetof(M, data), .sp_obj_num = offsetof(M, spObjNum),                         \
        .offsets = offsetof(M, offsets), .process_id = offsetof(M, processID),                  \
        .task_id = offsetof(M, taskID), .user_id = offsetof(M, userID), .gid = offsetof(M, gid), \
        .entry_size = E, .obj_size = sizeof(O), .obj_content = offsetof(O, content),            \
    }

/* The host compiler lays each one out; LP64 figures are asserted below (docs/ABI.md), and on
   ILP32 that every profile is the device's own layout. */
static const lk_abi_layout layouts[LK_ABI_COUNT] = {
    [LK_ABI_DEFAULT] = LAYOUT("default", IpcMsg, SvcIdentity, SpecialObj, sizeof(uint32_t)),
    [LK_ABI_IPC_LITE] = LAYOUT("ipc_lite", IpcMsg, SvcIdentity, SpecialObj, sizeof(size_t)),
    [LK_ABI_COMM_IPC] = LAYOUT("communication_ipc", ci_msg, ci_svc, ci_obj, sizeof(size_t)),
};

#if defined(__LP64__)
_Static_assert(sizeof(IpcMsg) == 80 && offsetof(IpcMsg, gid) == 76, "default IpcMsg");
_Static_assert(offsetof(IpcMsg, offsets) == 56 && offsetof(IpcMsg, processID) == 64, "IpcMsg");
_Static_assert(sizeof(SpecialObj) == 24 && offsetof(SpecialObj, content) == 8, "SpecialObj");
_Static_assert(sizeof(ci_msg) == 96 && offsetof(ci_msg, code) == 32, "communication_ipc");
_Static_assert(offsetof(ci_msg, dataSz) == 48 && offsetof(ci_msg, offsets) == 72, "ci_msg");
_Static_assert(offsetof(ci_msg, processID) == 80 && sizeof(ci_obj) == 32, "ci_obj");
#elif UINTPTR_MAX == 0xFFFFFFFFu
_Static_assert(sizeof(ci_msg) == sizeof(IpcMsg) && sizeof(ci_obj) == sizeof(SpecialObj), "ci");
_Static_assert(offsetof(ci_msg, dataSz) == 32 && offsetof(ci_msg, processID) == 48, "ci_msg");
_Static_assert(offsetof(ci_obj, content) == 4 && sizeof(size_t) == sizeof(uint32_t), "ci_obj");
#endif

const lk_abi_layout *lk_abi_layout_of(int abi)
{
    return (abi >= 0 && abi < LK_ABI_COUNT) ? &layouts[abi] : &layouts[LK_ABI_DEFAULT];
}

int lk_abi_parse(const char *s)
{
    if (!s || !*s)
        return LK_ABI_DEFAULT;
    for (int i = 0; i < LK_ABI_COUNT; i++)
        if (strcmp(s, layouts[i].name) == 0)
            return i;
    return -EINVAL;
}

static inline uint32_t get32(const unsigned char *p)
{
    uint32_t v;

    memcpy(&v, p, sizeof(v));
    return v;
}

static inline uint64_t get64(const unsigned char *p)
{
    uint64_t v;

    memcpy(&v, p, sizeof(v));
    return v;
}

static inline void put32(unsigned char *p, uint32_t v)
{
    memcpy(p, &v, sizeof(v));
}

static inline void put64(unsigned char *p, uint64_t v)
{
    memcpy(p, &v, sizeof(v));
}

/* A token or cookie: 4 or 8 bytes; the high half goes to *hi. */
static inline uint32_t get_id(const lk_abi_layout *L, const unsigned char *p, uint32_t *hi)
{
    uint64_t v = L->id_size == 8 ? get64(p) : get32(p);

    *hi = (uint32_t)(v >> 32);
    return (uint32_t)v;
}

static inline void put_id(const lk_abi_layout *L, unsigned char *p, uint32_t lo, uint32_t hi)
{
    if (L->id_size == 8)
        put64(p, (uint64_t)hi << 32 | lo);
    else
        put32(p, lo);
}

void lk_abi_decode_sender(const lk_abi_layout *L, const void *src, IpcMsg *m, lk_msg_hi *hi)
{
    const unsigned char *s = src;
    const unsigned char *t = s + L->target;

    memset(m, 0, sizeof(*m));
    *hi = (lk_msg_hi){0, 0};
    if (L == &layouts[LK_ABI_DEFAULT] || L == &layouts[LK_ABI_IPC_LITE]) {
        memcpy(m, s, L->sender_bytes); /* the host struct itself */
        return;
    }
    m->type = (MsgType)get32(s);
    m->target.handle = get32(t);
    m->target.token = get_id(L, t + L->id_size, &hi->token_hi);
    m->target.cookie = get_id(L, t + 2 * L->id_size, &hi->cookie_hi);
    m->code = get32(s + L->code);
    m->flag = get32(s + L->flag);
    m->timestamp = get64(s + L->timestamp);
    m->dataSz = get32(s + L->data_sz);
    memcpy(&m->data, s + L->data, sizeof(m->data));
    m->spObjNum = get32(s + L->sp_obj_num);
    memcpy(&m->offsets, s + L->offsets, sizeof(m->offsets));
}

void lk_abi_decode_msg(const lk_abi_layout *L, const void *src, IpcMsg *m)
{
    const unsigned char *s = src;
    lk_msg_hi hi;

    if (L->msg_size == sizeof(IpcMsg) && L->target == offsetof(IpcMsg, target)) {
        memcpy(m, s, sizeof(*m));
        return;
    }
    lk_abi_decode_sender(L, src, m, &hi);
    m->processID = get32(s + L->process_id);
    m->taskID = get32(s + L->task_id);
    m->userID = get32(s + L->user_id);
    m->gid = get32(s + L->gid);
}

void lk_abi_encode_msg(const lk_abi_layout *L, const IpcMsg *m, const lk_msg_hi *hi, void *dst)
{
    unsigned char *d = dst;
    unsigned char *t = d + L->target;
    uint32_t th = hi ? hi->token_hi : 0, ch = hi ? hi->cookie_hi : 0;

    if (L->msg_size == sizeof(IpcMsg) && L->target == offsetof(IpcMsg, target)) {
        memcpy(d, m, sizeof(*m));
        return;
    }
    memset(d, 0, L->msg_size); /* no stale bytes in the padding */
    put32(d, (uint32_t)m->type);
    put32(t, m->target.handle);
    put_id(L, t + L->id_size, m->target.token, th);
    put_id(L, t + 2 * L->id_size, m->target.cookie, ch);
    put32(d + L->code, m->code);
    put32(d + L->flag, m->flag);
    put64(d + L->timestamp, m->timestamp);
    put32(d + L->data_sz, m->dataSz);
    memcpy(d + L->data, &m->data, sizeof(m->data));
    put32(d + L->sp_obj_num, m->spObjNum);
    memcpy(d + L->offsets, &m->offsets, sizeof(m->offsets));
    put32(d + L->process_id, m->processID);
    put32(d + L->task_id, m->taskID);
    put32(d + L->user_id, m->userID);
    put32(d + L->gid, m->gid);
}

uint32_t lk_abi_offset_get(const lk_abi_layout *L, const void *offsets, uint32_t i)
{
    const unsigned char *p = (const unsigned char *)offsets + (size_t)i * L->entry_size;
    uint64_t v;

    if (L->entry_size == 4)
        return get32(p);
    v = get64(p);
    return v > UINT32_MAX ? UINT32_MAX : (uint32_t)v;
}

void lk_abi_offset_put(const lk_abi_layout *L, void *offsets, uint32_t i, uint32_t value)
{
    unsigned char *p = (unsigned char *)offsets + (size_t)i * L->entry_size;

    if (L->entry_size == 4)
        put32(p, value);
    else
        put64(p, value);
}

void lk_obj_read(const lk_abi_layout *L, const unsigned char *p, lk_obj *o)
{
    const unsigned char *c = p + L->obj_content;
    uint32_t hi;

    memset(o, 0, sizeof(*o));
    o->type = get32(p);
    switch (o->type) {
    case OBJ_FD:
        o->fd = get32(c);
        break;
    case OBJ_PTR: { /* the driver's BuffPtr {u32 buffSz; void *buff} at content */
        void *b;

        o->buff_sz = get32(c + offsetof(BuffPtr, buffSz));
        memcpy(&b, c + offsetof(BuffPtr, buff), sizeof(b));
        o->buff = (uintptr_t)b;
        break;
    }
    case OBJ_SVC:
        o->handle = get32(c);
        o->token = get_id(L, c + L->id_size, &hi);
        o->token |= (uint64_t)hi << 32;
        break;
    default:
        break;
    }
}

void lk_obj_patch(const lk_abi_layout *L, unsigned char *p, const lk_obj *o)
{
    unsigned char *c = p + L->obj_content;

    switch (o->type) {
    case OBJ_FD:
        put32(c, o->fd);
        break;
    case OBJ_PTR: {
        void *b = (void *)(uintptr_t)o->buff;

        memcpy(c + offsetof(BuffPtr, buff), &b, sizeof(b));
        break;
    }
    case OBJ_SVC:
        put32(c, o->handle);
        break;
    default:
        break;
    }
}
