/* SPDX-License-Identifier: Apache-2.0 */
/*
 * ofix.h - helpers shared by the special-object tests (test_objects_stack.c, test_objects_real.c):
 * building messages with objects, reading them back, descriptor counts, and measuring a pool by
 * the largest message it still takes. Prefixes as in the tests that use them.
 */
#ifndef LITEIPC_TEST_OFIX_H
#define LITEIPC_TEST_OFIX_H

#include <stdint.h>
#include <sys/types.h>

#include "sfix.h"

#define NO_HANDLE 0xFFFFFFFFu
#define HOST_OBJ ((uint32_t)sizeof(SpecialObj)) /* 24 (16 in 32-bit): bounds and overlap */
#define DEV_OBJ LITEIPC_DEVICE_SIZEOF_SPECIALOBJ  /* 16: the dataSz >= 16 * spObjNum check */
/* The CMS size limit of handle-0 requests (§4.3.5) at maxMsgSize CMS_LIMIT: the device's IpcMsg
   (64) + dataSz (host objects) + 4 per offset + the OBJ_PTR buffer sizes must not exceed it.
   The largest buffer that fits beside one object, and beside two objects and a 100-byte one: */
#define CMS_LIMIT 256u
#define PTR_FIT1 (CMS_LIMIT - LITEIPC_DEVICE_SIZEOF_IPCMSG - HOST_OBJ - 4) /* 164 (172) */
#define PTR_FIT2 (CMS_LIMIT - LITEIPC_DEVICE_SIZEOF_IPCMSG - 2 * HOST_OBJ - 8 - 100) /* 36 (52) */
#define CODE_PROBE 0x7e02u /* pool probes a task sends itself */
#define SMALL_POOL 4096u /* receivers whose pool is measured */
#define FLOOD_N 1000u    /* failing messages per flood */
#define DROP_N 300u      /* messages dropped by the receive path per test */
#define DRAIN_N 8u       /* messages queued to a dying task (they must fit a 4 KiB pool) */
#define FLOOD_PTR 200u   /* bytes of the good OBJ_PTR of a flood message */
#define CODE_MARK 0x6d61u  /* a plain message sent after refused ones: the first to arrive */
#define CODE_CB 0x6362u    /* a call back through an anonymous handle */
#define CODE_R1 0x7231u    /* a request whose reply arrives as a stray */
#define CODE_R2 0x7232u    /* the synchronous call that drops it */

typedef struct omsg {
    IpcMsg m;
    uint32_t offs[IPC_MSG_OBJECT_NUM_MAX + 1];
    unsigned char data[IPC_MSG_DATA_SZ_MAX];
} omsg;

struct world {
    liteipc_kernel *k;
    t_evrec *ev;
    int fd;
    char *pool;
    size_t pool_len;
    int tid, pid;
};

void om_init(omsg *o, MsgType type, uint32_t handle, uint32_t code, uint32_t flag, uint32_t size);
void om_off(omsg *o, uint32_t off);
void om_put(omsg *o, uint32_t off, SpecialObj obj);
SpecialObj o_fd(int fd);
SpecialObj o_ptr(const void *buf, uint32_t n);
SpecialObj o_svc(uint32_t handle, uint32_t token, uint32_t cookie);
SpecialObj o_type(uint32_t type);
int om_send(liteipc_kernel *k, int fd, omsg *o);
int om_reply(liteipc_kernel *k, int fd, omsg *o, const IpcMsg *req);
SpecialObj obj_at(const IpcMsg *m, uint32_t i);
int lowest_free_fd(void);
int unused_fd(void);
ssize_t read_all(int fd, char *buf, size_t n);
int temp_file(void);
int probe_fits(liteipc_kernel *k, int fd, int tid, uint32_t size);
long pool_largest(liteipc_kernel *k, int fd);
void world_init(t_ctx *c, struct world *w, size_t pool_size, unsigned long cms_size);
void world_fini(struct world *w);
void grant(struct world *w, int client, int svc);

/* Malformed offsets tables (§4.3.1, §5.1): the kinds, and what mal_build says of a variant. */
enum { MAL_PAST_END, MAL_OVERLAP, MAL_ORDER, MAL_TOO_MANY, MAL_SHORT_DATA, MAL_NULL, MAL_TYPE };
enum { MAL_GOOD = 0, MAL_BAD = 1, MAL_END = -1 };

/* Variant v of a malformed kind, to `to`; objects are OBJ_SVC of the sender itself. Returns
   MAL_BAD (must be refused with EINVAL), MAL_GOOD (the accepted limit case), or MAL_END. */
int mal_build(omsg *o, int kind, unsigned v, uint32_t to, uint32_t self);

/* Flood messages (§5.5): good objects first, then one that fails in a way of `kind`. */
enum { FK_BAD_TYPE, FK_BAD_OFFSET, FK_FAILING_OBJECT };

struct flood_src {
    int good_fd;        /* open in the sender */
    int bad_fd;         /* not open in the sender */
    uint32_t self;      /* the sender's TID: an OBJ_SVC it may pass */
    uint32_t no_access; /* a live task the sender may not pass */
    unsigned char ptr[FLOOD_PTR];
    unsigned char big[2 * SMALL_POOL]; /* more than the receiver's pool */
};

/* Message i of a flood of `kind` to `to`: an OBJ_FD, an OBJ_PTR and an OBJ_SVC that all take
   effect, then a fourth that fails. Returns the errno the device gives it. */
int flood_build(omsg *o, const struct flood_src *s, int kind, unsigned i, uint32_t to);

#endif /* LITEIPC_TEST_OFIX_H */
