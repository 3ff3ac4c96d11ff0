/* SPDX-License-Identifier: Apache-2.0 */
/*
 * abi.h - the 64-bit ABI profiles: how each OpenHarmony user stack lays out the driver's
 * structures on an LP64 host (private to the library; docs/ABI.md has the tables and sources).
 *
 * No LP64 device exists, so each stack made its own choice:
 *   default            the simulator's <liteipc/lite_ipc.h>: host structs, u32 offset entries;
 *   ipc_lite           communication_ipc_lite: the same IpcMsg/SpecialObj/SvcIdentity{3 x u32},
 *                      but the offsets array holds size_t entries (spObjNum = bytes / 8);
 *   communication_ipc  its SvcIdentity is {int32 handle; uintptr_t token; uintptr_t cookie}
 *                      (24 B), so its IpcMsg is 96 B and its SpecialObj 32 B; size_t offsets.
 *
 * In a 32-bit build all three are the device's own layout (src/abi.c asserts it).
 *
 * Every simulated process has one profile. The kernel works on a canonical header (IpcMsg of
 * the default profile, plus the high halves of a 64-bit target token and cookie); the device
 * layer decodes what a sender wrote, and the kernel encodes what it writes into a receiver's
 * pool, each in that process's profile. Special objects inside data stay in the sender's
 * layout: the kernel reads and patches them there (lk_obj_*).
 */
#ifndef LITEIPC_ABI_H
#define LITEIPC_ABI_H

#include <stdbool.h>
#include <stdint.h>

#include <liteipc/lite_ipc.h>

typedef enum lk_abi {
    LK_ABI_DEFAULT = 0,
    LK_ABI_IPC_LITE = 1,
    LK_ABI_COMM_IPC = 2,
    LK_ABI_COUNT
} lk_abi;

/* Byte offsets and sizes of one profile's structures. */
typedef struct lk_abi_layout {
    const char *name;       /* the LITEIPC_ABI value */
    uint32_t msg_size;      /* sizeof(IpcMsg) */
    uint32_t sender_bytes;  /* offsetof(IpcMsg, processID): what the kernel reads (Q20) */
    uint32_t id_size;       /* width of SvcIdentity.token and .cookie: 4 or 8 */
    uint32_t target, code, flag, timestamp, data_sz, data, sp_obj_num, offsets;
    uint32_t process_id, task_id, user_id, gid;
    uint32_t entry_size;    /* an offsets-array entry: 4 (u32) or 8 (size_t) */
    uint32_t obj_size;      /* sizeof(SpecialObj): objects must physically fit in data */
    uint32_t obj_content;   /* offsetof(SpecialObj, content) */
} lk_abi_layout;

/* The layout of profile abi (LK_ABI_DEFAULT for an out-of-range value). */
const lk_abi_layout *lk_abi_layout_of(int abi);

/* Parse a LITEIPC_ABI value: NULL or "" or "default", "ipc_lite", "communication_ipc".
   Returns the profile, or -EINVAL. */
int lk_abi_parse(const char *s);

/* The canonical header: the default profile's IpcMsg, and what a 64-bit token/cookie adds. */
typedef struct lk_msg_hi {
    uint32_t token_hi, cookie_hi;
} lk_msg_hi;

/* Decode the sender_bytes of a header laid out per L (src) into *m (tail zeroed) and *hi. */
void lk_abi_decode_sender(const lk_abi_layout *L, const void *src, IpcMsg *m, lk_msg_hi *hi);
/* Decode a whole header written by the kernel in layout L. */
void lk_abi_decode_msg(const lk_abi_layout *L, const void *src, IpcMsg *m);
/* Encode *m (and hi, may be NULL) as a whole header in layout L at dst (msg_size bytes). */
void lk_abi_encode_msg(const lk_abi_layout *L, const IpcMsg *m, const lk_msg_hi *hi, void *dst);

/* Entry i of an offsets array in layout L (an entry past UINT32_MAX reads as UINT32_MAX, which
   no object check accepts). */
uint32_t lk_abi_offset_get(const lk_abi_layout *L, const void *offsets, uint32_t i);
void lk_abi_offset_put(const lk_abi_layout *L, void *offsets, uint32_t i, uint32_t value);

/* A special object as the kernel sees it; only fd, buff and handle are ever written back. */
typedef struct lk_obj {
    uint32_t type;
    uint32_t fd;       /* OBJ_FD */
    uint32_t buff_sz;  /* OBJ_PTR: BuffPtr at content (buffSz u32, then the pointer at +8) */
    uint64_t buff;
    uint32_t handle;   /* OBJ_SVC */
    uint64_t token;    /* the full token, 32 or 64 bits */
} lk_obj;

/* Read the object at p (obj_size bytes, any alignment) in layout L. */
void lk_obj_read(const lk_abi_layout *L, const unsigned char *p, lk_obj *o);
/* Write back the field the kernel patches for o->type (fd, buff or handle). */
void lk_obj_patch(const lk_abi_layout *L, unsigned char *p, const lk_obj *o);

#endif /* LITEIPC_ABI_H */
