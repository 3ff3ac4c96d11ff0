/* SPDX-License-Identifier: Apache-2.0 */
/*
 * abiview.h - the user stacks' own 64-bit layouts, for tests of the ABI profiles (docs/ABI.md).
 *
 * These are the tests' independent copies of the upstream structures, never src/abi.c: a test
 * builds what a sender of a profile writes and reads what a receiver of a profile reads, so a
 * translation that breaks fails it. The figures below are LP64's; in a 32-bit build every
 * profile is the device's own layout (IpcMsg 64 B, SpecialObj 16 B, 4-byte size_t offsets),
 * which abiview.c asserts.
 *   default            <liteipc/lite_ipc.h>: IpcMsg 80 B, SpecialObj 24 B, u32 offsets;
 *   ipc_lite           communication_ipc_lite's liteipc.h/serializer.h: the same structs,
 *                      size_t offsets;
 *   communication_ipc  ipc/native/c/ipc/src/liteos_a/include/lite_ipc.h and
 *                      interfaces/innerkits/c/ipc/include/serializer.h: SvcIdentity
 *                      {int32_t; uintptr_t; uintptr_t}, IpcMsg 96 B, SpecialObj 32 B, size_t
 *                      offsets.
 */
#ifndef LITEIPC_TESTS_ABIVIEW_H
#define LITEIPC_TESTS_ABIVIEW_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <liteipc/lite_ipc.h>

/* Profile numbers, as liteipc_abi and lk_abi number them. */
enum { T_ABI_DEFAULT = 0, T_ABI_IPC_LITE = 1, T_ABI_COMM_IPC = 2, T_ABI_COUNT = 3 };

typedef struct {
    int32_t handle;
    uintptr_t token;
    uintptr_t cookie;
} CiSvcIdentity;

typedef struct {
    MsgType type;
    CiSvcIdentity target;
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
} CiIpcMsg;

typedef struct {
    ObjType type;
    union {
        uint32_t fd;
        BuffPtr ptr; /* not in its header (it has no OBJ_PTR writer): the kernel's BuffPtr */
        CiSvcIdentity svc;
    } content;
} CiSpecialObj;

/* A header in any profile, field by field. */
typedef struct t_abiview {
    uint32_t type, handle, code, flag, dsz, n, pid, tid, uid, gid;
    uint64_t token, cookie, ts;
    uintptr_t data, offs;
} t_abiview;

/* The size of IpcMsg / SpecialObj / an offsets entry in a profile. */
size_t t_abi_hdr_size(int abi);
/* Whether SvcIdentity's token and cookie have 64 bits in a profile (communication_ipc on LP64;
   on ILP32 every profile is the device's layout, with u32 ones). */
bool t_abi_wide_ids(int abi);
uint32_t t_abi_obj_size(int abi);
size_t t_abi_entry_size(int abi);

/* Read a header laid out per abi / write one (raw must hold t_abi_hdr_size(abi) bytes). */
t_abiview t_abi_view(int abi, const void *raw);
void t_abi_build(int abi, const t_abiview *v, void *raw);

/* Entry i of the offsets array at offs / write entry i. */
uint64_t t_abi_entry(int abi, uintptr_t offs, uint32_t i);
void t_abi_put_entry(int abi, void *offs, uint32_t i, uint64_t value);

/* Write a special object at data + off: OBJ_FD a = fd; OBJ_PTR a = size, b = buffer;
   OBJ_SVC a = handle, b = token. */
void t_abi_put_obj(int abi, void *data, uint32_t off, ObjType type, uint32_t a, uint64_t b);
/* The object at data + off: its fd, buffer or handle by *type; *token for OBJ_SVC. */
uint64_t t_abi_obj(int abi, uintptr_t data, uint32_t off, uint32_t *type, uint64_t *token);

#endif /* LITEIPC_TESTS_ABIVIEW_H */
