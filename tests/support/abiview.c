/* SPDX-License-Identifier: Apache-2.0 */
/* abiview.c - the user stacks' layouts (64-bit; the device's on ILP32), for tests (abiview.h). */
#include "abiview.h"

#include <string.h>

#if defined(__LP64__)
_Static_assert(sizeof(CiIpcMsg) == 96 && offsetof(CiIpcMsg, code) == 32, "communication_ipc");
_Static_assert(offsetof(CiIpcMsg, dataSz) == 48 && offsetof(CiIpcMsg, offsets) == 72, "ci");
_Static_assert(offsetof(CiIpcMsg, processID) == 80 && sizeof(CiSpecialObj) == 32, "ci");
#else
/* ILP32: communication_ipc's structures are the device's own (LITEIPC_REFERENCE §3.3), and so
   every profile's view below reads and writes exactly the device layout. */
_Static_assert(sizeof(CiSvcIdentity) == 12 && offsetof(CiSvcIdentity, cookie) == 8, "ci svc");
_Static_assert(sizeof(CiIpcMsg) == 64 && offsetof(CiIpcMsg, code) == 16, "communication_ipc");
_Static_assert(offsetof(CiIpcMsg, timestamp) == 24 && offsetof(CiIpcMsg, dataSz) == 32, "ci");
_Static_assert(offsetof(CiIpcMsg, data) == 36 && offsetof(CiIpcMsg, spObjNum) == 40, "ci");
_Static_assert(offsetof(CiIpcMsg, offsets) == 44 && offsetof(CiIpcMsg, processID) == 48, "ci");
_Static_assert(offsetof(CiIpcMsg, gid) == 60 && sizeof(size_t) == 4, "ci");
_Static_assert(sizeof(CiSpecialObj) == 16 && offsetof(CiSpecialObj, content) == 4, "ci obj");
#endif

size_t t_abi_hdr_size(int abi)
{
    return abi == T_ABI_COMM_IPC ? sizeof(CiIpcMsg) : sizeof(IpcMsg);
}

bool t_abi_wide_ids(int abi)
{
    return abi == T_ABI_COMM_IPC && sizeof(uintptr_t) == sizeof(uint64_t);
}

uint32_t t_abi_obj_size(int abi)
{
    return abi == T_ABI_COMM_IPC ? (uint32_t)sizeof(CiSpecialObj) : (uint32_t)sizeof(SpecialObj);
}

size_t t_abi_entry_size(int abi)
{
    return abi == T_ABI_DEFAULT ? sizeof(uint32_t) : sizeof(size_t);
}

t_abiview t_abi_view(int abi, const void *raw)
{
    if (abi == T_ABI_COMM_IPC) {
        CiIpcMsg m;
        memcpy(&m, raw, sizeof m);
        return (t_abiview){m.type, (uint32_t)m.target.handle, m.code, m.flag, m.dataSz,
                           m.spObjNum, m.processID, m.taskID, m.userID, m.gid, m.target.token,
                           m.target.cookie, m.timestamp, (uintptr_t)m.data, (uintptr_t)m.offsets};
    }
    IpcMsg m;
    memcpy(&m, raw, sizeof m);
    return (t_abiview){m.type, m.target.handle, m.code, m.flag, m.dataSz, m.spObjNum,
                       m.processID, m.taskID, m.userID, m.gid, m.target.token, m.target.cookie,
                       m.timestamp, (uintptr_t)m.data, (uintptr_t)m.offsets};
}

void t_abi_build(int abi, const t_abiview *v, void *raw)
{
    if (abi == T_ABI_COMM_IPC) {
        CiIpcMsg m = {
            .type = (MsgType)v->type,
            .target = {(int32_t)v->handle, (uintptr_t)v->token, (uintptr_t)v->cookie},
            .code = v->code, .flag = v->flag, .timestamp = v->ts, .dataSz = v->dsz,
            .data = (void *)v->data, .spObjNum = v->n, .offsets = (void *)v->offs,
        };
        memcpy(raw, &m, sizeof m);
        return;
    }
    IpcMsg m = {
        .type = (MsgType)v->type,
        .target = {v->handle, (uint32_t)v->token, (uint32_t)v->cookie},
        .code = v->code, .flag = v->flag, .timestamp = v->ts, .dataSz = v->dsz,
        .data = (void *)v->data, .spObjNum = v->n, .offsets = (void *)v->offs,
    };
    memcpy(raw, &m, sizeof m);
}

uint64_t t_abi_entry(int abi, uintptr_t offs, uint32_t i)
{
    if (abi == T_ABI_DEFAULT) {
        uint32_t e;
        memcpy(&e, (const char *)offs + 4u * i, sizeof e);
        return e;
    }
    size_t e;
    memcpy(&e, (const char *)offs + sizeof(size_t) * i, sizeof e);
    return e;
}

void t_abi_put_entry(int abi, void *offs, uint32_t i, uint64_t value)
{
    if (abi == T_ABI_DEFAULT) {
        uint32_t e = (uint32_t)value;
        memcpy((char *)offs + 4u * i, &e, sizeof e);
        return;
    }
    size_t e = (size_t)value;
    memcpy((char *)offs + sizeof(size_t) * i, &e, sizeof e);
}

void t_abi_put_obj(int abi, void *data, uint32_t off, ObjType type, uint32_t a, uint64_t b)
{
    if (abi == T_ABI_COMM_IPC) {
        CiSpecialObj o;
        memset(&o, 0, sizeof o);
        o.type = type;
        if (type == OBJ_FD)
            o.content.fd = a;
        else if (type == OBJ_PTR)
            o.content.ptr = (BuffPtr){a, (void *)(uintptr_t)b};
        else
            o.content.svc = (CiSvcIdentity){(int32_t)a, (uintptr_t)b, (uintptr_t)0xC00C1E5ull};
        memcpy((char *)data + off, &o, sizeof o);
        return;
    }
    SpecialObj o;
    memset(&o, 0, sizeof o);
    o.type = type;
    if (type == OBJ_FD)
        o.content.fd = a;
    else if (type == OBJ_PTR)
        o.content.ptr = (BuffPtr){a, (void *)(uintptr_t)b};
    else
        o.content.svc = (SvcIdentity){a, (uint32_t)b, 0xC00C1E5u};
    memcpy((char *)data + off, &o, sizeof o);
}

uint64_t t_abi_obj(int abi, uintptr_t data, uint32_t off, uint32_t *type, uint64_t *token)
{
    if (abi == T_ABI_COMM_IPC) {
        CiSpecialObj o;
        memcpy(&o, (const char *)data + off, sizeof o);
        *type = o.type;
        *token = o.content.svc.token;
        return o.type == OBJ_FD    ? o.content.fd
               : o.type == OBJ_PTR ? (uintptr_t)o.content.ptr.buff
                                   : (uint32_t)o.content.svc.handle;
    }
    SpecialObj o;
    memcpy(&o, (const char *)data + off, sizeof o);
    *type = o.type;
    *token = o.content.svc.token;
    return o.type == OBJ_FD    ? o.content.fd
           : o.type == OBJ_PTR ? (uintptr_t)o.content.ptr.buff
                               : o.content.svc.handle;
}
