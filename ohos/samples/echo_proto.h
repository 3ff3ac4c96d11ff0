/* SPDX-License-Identifier: Apache-2.0 */
/*
 * echo_proto.h - the sample remote feature of ohos/: its names, its functions, and the few
 * serializer calls it needs, spelled for either IPC stack (ipc_lite: IpcIoPush/Pop...,
 * communication_ipc: Write/Read...; OHOS_SAMPLE_RPC selects the second).
 */
#ifndef OHOS_SAMPLE_ECHO_PROTO_H
#define OHOS_SAMPLE_ECHO_PROTO_H

#include <errno.h>
#include <stdio.h>
#include <time.h>
#include <unistd.h>

#include "serializer.h"

#define ECHO_SERVICE "ohos_echo"
#define ECHO_FEATURE "echo"

enum EchoFunc {
    ECHO_FUNC_ECHO = 0, /* string in, "echo: " + string out */
    ECHO_FUNC_SLOW = 1, /* never answers: the service works until it is killed */
};

#define ECHO_PREFIX "echo: "
#define ECHO_TEXT_MAX 128

#ifdef OHOS_SAMPLE_RPC
#define EchoWriteString(io, s) WriteString((io), (s))
#define EchoReadString(io, len) ((char *)ReadString((io), (len)))
#define EchoWriteInt32(io, v) WriteInt32((io), (v))
static inline int32_t EchoReadInt32(IpcIo *io)
{
    int32_t v = -1;
    return ReadInt32(io, &v) ? v : -1;
}
#else
#define EchoWriteString(io, s) IpcIoPushString((io), (s))
#define EchoReadString(io, len) ((char *)IpcIoPopString((io), (len)))
#define EchoWriteInt32(io, v) IpcIoPushInt32((io), (v))
#define EchoReadInt32(io) IpcIoPopInt32(io)
#endif

/* One line on stderr, with the wall-clock time to merge the programs' outputs by. */
#define ECHO_LOG(fmt, ...)                                                                  \
    do {                                                                                    \
        struct timespec ts_;                                                                \
        struct tm tm_;                                                                      \
        clock_gettime(CLOCK_REALTIME, &ts_);                                                \
        localtime_r(&ts_.tv_sec, &tm_);                                                     \
        fprintf(stderr, "%02d:%02d:%02d.%03ld %s[%d]: " fmt "\n", tm_.tm_hour, tm_.tm_min, \
                tm_.tm_sec, ts_.tv_nsec / 1000000, program_invocation_short_name,           \
                (int)getpid(), ##__VA_ARGS__);                                              \
    } while (0)

#endif /* OHOS_SAMPLE_ECHO_PROTO_H */
