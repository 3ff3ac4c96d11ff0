/* SPDX-License-Identifier: Apache-2.0 */
/*
 * lite_ipc.h - the LiteOS-A LiteIPC device ABI (/dev/lite_ipc), as seen from user space.
 *
 * This header mirrors the driver's user-visible types, constants and ioctl numbers with the
 * same names and values. It holds nothing of the simulator: code written for the device can
 * include it instead of its own copy of the definitions. The simulator's API is in
 * <liteipc/liteipc.h>, which includes this file (never the other way round).
 *
 * Layouts are those of the host ABI; the end of this file asserts them for LP64 (x86-64,
 * AArch64: IpcMsg 80 bytes, SpecialObj 24, IpcContent 32) and for ILP32 (a -m32 build: exactly
 * the 32-bit device's IpcMsg 64, SpecialObj 16, IpcContent 16, IPC_SEND_RECV_MSG 0xC0106904,
 * also on i386, where uint64_t is 4-aligned in structs). Two deliberate choices, both
 * recommended by the behavioural reference:
 *   - the offsets array of a message is an array of uint32_t (the kernel's element type);
 *   - limits that applications can observe (data and object maxima, the smallest CMS message
 *     size, the CMS size sum) are computed from the 32-bit *device* struct sizes, given below
 *     as LITEIPC_DEVICE_* constants. Host sizes matter only for memory layout.
 */
#ifndef LITEIPC_LITE_IPC_H
#define LITEIPC_LITE_IPC_H

#include <stddef.h>
#include <stdint.h>
#include <sys/ioctl.h>

#ifdef __cplusplus
extern "C" {
#endif

#define LITEIPC_DRIVER "/dev/lite_ipc"

/* Pool sizes (§8). */
#define LITE_IPC_POOL_PAGE_MAX_NUM 64
#define LITE_IPC_POOL_PAGE_DEFAULT_NUM 16
#define LITE_IPC_POOL_MAX_SIZE (LITE_IPC_POOL_PAGE_MAX_NUM * 4096)
#define LITE_IPC_POOL_DEFAULT_SIZE (LITE_IPC_POOL_PAGE_DEFAULT_NUM * 4096)
#define LITE_IPC_POOL_UVADDR 0x10000000

#define MAX_SERVICE_NUM 128    /* LOSCFG_BASE_CORE_TSK_LIMIT: handles and TIDs 0..127 */
#define LITEIPC_PROCESS_LIMIT 64 /* LOSCFG_BASE_CORE_PROCESS_LIMIT: PIDs 0..63 */
#define LITEIPC_TIMEOUT_MS 5000
#define LITEIPC_TIMEOUT_NS 5000000000ULL
#define INVAILD_ID (-1)

/* Sizes of the 32-bit device structures, used for every limit an application can observe. */
#define LITEIPC_DEVICE_SIZEOF_IPCMSG 64
#define LITEIPC_DEVICE_SIZEOF_SPECIALOBJ 16
#define LITEIPC_DEVICE_SIZEOF_NODE 72
#define IPC_IO_DATA_MAX 8192
#define IPC_MSG_DATA_SZ_MAX                                                                      \
    (IPC_IO_DATA_MAX * LITEIPC_DEVICE_SIZEOF_SPECIALOBJ / (LITEIPC_DEVICE_SIZEOF_SPECIALOBJ + 4))
#define IPC_MSG_OBJECT_NUM_MAX (IPC_MSG_DATA_SZ_MAX / LITEIPC_DEVICE_SIZEOF_SPECIALOBJ)

/* IpcContent.flag bits. */
#define SEND (1 << 0)
#define RECV (1 << 1)
#define BUFF_FREE (1 << 2)

#define DRIVER_VERSION_MAJOR 2
#define DRIVER_VERSION_MINOR 0
#define DRIVER_VERSION (DRIVER_VERSION_MAJOR | (DRIVER_VERSION_MINOR << 16))

typedef enum {
    HANDLE_NOT_USED,
    HANDLE_REGISTING,
    HANDLE_REGISTED,
} HandleStatus;

typedef enum {
    OBJ_FD,
    OBJ_PTR,
    OBJ_SVC,
} ObjType;

typedef enum {
    MT_REQUEST,
    MT_REPLY,
    MT_FAILED_REPLY,
    MT_DEATH_NOTIFY,
    MT_NUM,
} MsgType;

typedef enum {
    LITEIPC_FLAG_DEFAULT = 0, /* a reply is expected */
    LITEIPC_FLAG_ONEWAY,      /* no reply is allowed */
} IpcFlag;

typedef enum {
    CMS_GEN_HANDLE,
    CMS_REMOVE_HANDLE,
    CMS_ADD_ACCESS,
} CmsCmd;

typedef struct {
    uint32_t handle;
    uint32_t token;
    uint32_t cookie;
} SvcIdentity;

typedef struct {
    uint32_t buffSz;
    void *buff;
} BuffPtr;

typedef struct {
    ObjType type;
    union {
        uint32_t fd;
        BuffPtr ptr;
        SvcIdentity svc;
    } content;
} SpecialObj;

typedef struct {
    MsgType type;
    SvcIdentity target;
    uint32_t code;
    uint32_t flag;
    uint64_t timestamp;
    uint32_t dataSz;
    void *data;
    uint32_t spObjNum;
    void *offsets; /* uint32_t[spObjNum]: byte offsets of SpecialObj inside data */
    uint32_t processID;
    uint32_t taskID;
    uint32_t userID;
    uint32_t gid;
} IpcMsg;

typedef struct {
    uint32_t flag;
    IpcMsg *outMsg;
    IpcMsg *inMsg;
    void *buffToFree;
} IpcContent;

typedef struct {
    CmsCmd cmd;
    uint32_t taskID;
    uint32_t serviceHandle;
} CmsCmdContent;

typedef struct {
    int32_t driverVersion;
} IpcVersion;

#define IPC_IOC_MAGIC 'i'
#define IPC_SET_CMS _IO(IPC_IOC_MAGIC, 1)
#define IPC_CMS_CMD _IOWR(IPC_IOC_MAGIC, 2, CmsCmdContent)
#define IPC_SET_IPC_THREAD _IO(IPC_IOC_MAGIC, 3)
#define IPC_SEND_RECV_MSG _IOWR(IPC_IOC_MAGIC, 4, IpcContent)
#define IPC_GET_VERSION _IOR(IPC_IOC_MAGIC, 5, IpcVersion)

/* The part of an IpcMsg that the sender supplies; the rest is filled by the kernel (Q20). */
#define LITEIPC_IPCMSG_SENDER_BYTES offsetof(IpcMsg, processID)

#ifdef __cplusplus
#define LITEIPC_STATIC_ASSERT(c, m) static_assert(c, m)
#else
#define LITEIPC_STATIC_ASSERT(c, m) _Static_assert(c, m)
#endif

#if defined(__LP64__)
LITEIPC_STATIC_ASSERT(sizeof(SvcIdentity) == 12, "SvcIdentity layout");
LITEIPC_STATIC_ASSERT(sizeof(SpecialObj) == 24 && offsetof(SpecialObj, content) == 8, "SpecialObj");
LITEIPC_STATIC_ASSERT(sizeof(IpcMsg) == 80, "IpcMsg layout");
LITEIPC_STATIC_ASSERT(offsetof(IpcMsg, timestamp) == 24 && offsetof(IpcMsg, data) == 40, "IpcMsg");
LITEIPC_STATIC_ASSERT(offsetof(IpcMsg, offsets) == 56 && offsetof(IpcMsg, processID) == 64, "IpcMsg");
LITEIPC_STATIC_ASSERT(offsetof(IpcMsg, gid) == 76, "IpcMsg");
LITEIPC_STATIC_ASSERT(sizeof(IpcContent) == 32 && offsetof(IpcContent, inMsg) == 16, "IpcContent");
LITEIPC_STATIC_ASSERT(sizeof(CmsCmdContent) == 12 && sizeof(IpcVersion) == 4, "CMS/version");
LITEIPC_STATIC_ASSERT(IPC_SEND_RECV_MSG == 0xC0206904u, "ioctl number");
LITEIPC_STATIC_ASSERT(IPC_CMS_CMD == 0xC00C6902u && IPC_GET_VERSION == 0x80046905u, "ioctl numbers");
LITEIPC_STATIC_ASSERT(IPC_MSG_DATA_SZ_MAX == 6553 && IPC_MSG_OBJECT_NUM_MAX == 409, "device limits");
#elif UINTPTR_MAX == 0xFFFFFFFFu
/* ILP32: the device's own layouts (reference §3.3), so device code and the user libraries of
   OpenHarmony agree with the simulator unmodified. timestamp stays at 24 whether uint64_t is
   8-aligned (ARM32) or 4-aligned (i386): the struct has no hidden padding. */
LITEIPC_STATIC_ASSERT(sizeof(SvcIdentity) == 12, "SvcIdentity layout");
LITEIPC_STATIC_ASSERT(sizeof(SpecialObj) == LITEIPC_DEVICE_SIZEOF_SPECIALOBJ, "SpecialObj");
LITEIPC_STATIC_ASSERT(offsetof(SpecialObj, content) == 4, "SpecialObj");
LITEIPC_STATIC_ASSERT(sizeof(BuffPtr) == 8 && offsetof(BuffPtr, buff) == 4, "BuffPtr layout");
LITEIPC_STATIC_ASSERT(sizeof(IpcMsg) == LITEIPC_DEVICE_SIZEOF_IPCMSG, "IpcMsg layout");
LITEIPC_STATIC_ASSERT(offsetof(IpcMsg, timestamp) == 24 && offsetof(IpcMsg, data) == 36, "IpcMsg");
LITEIPC_STATIC_ASSERT(offsetof(IpcMsg, offsets) == 44 && offsetof(IpcMsg, processID) == 48, "IpcMsg");
LITEIPC_STATIC_ASSERT(offsetof(IpcMsg, gid) == 60, "IpcMsg");
LITEIPC_STATIC_ASSERT(sizeof(IpcContent) == 16 && offsetof(IpcContent, inMsg) == 8, "IpcContent");
LITEIPC_STATIC_ASSERT(offsetof(IpcContent, buffToFree) == 12, "IpcContent");
LITEIPC_STATIC_ASSERT(sizeof(CmsCmdContent) == 12 && sizeof(IpcVersion) == 4, "CMS/version");
LITEIPC_STATIC_ASSERT(IPC_SEND_RECV_MSG == 0xC0106904u, "ioctl number");
LITEIPC_STATIC_ASSERT(IPC_CMS_CMD == 0xC00C6902u && IPC_GET_VERSION == 0x80046905u, "ioctl numbers");
LITEIPC_STATIC_ASSERT(IPC_MSG_DATA_SZ_MAX == 6553 && IPC_MSG_OBJECT_NUM_MAX == 409, "device limits");
#endif

#ifdef __cplusplus
}
#endif
#endif /* LITEIPC_LITE_IPC_H */
