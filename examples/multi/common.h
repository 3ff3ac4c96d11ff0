/* SPDX-License-Identifier: Apache-2.0 */
/*
 * common.h - what liteipc-sm, liteipc-echo and liteipc-client share: a program's simulated
 * process on a named kernel, thin wrappers of IPC_SEND_RECV_MSG, timestamped output, and a
 * signal thread for a clean stop.
 *
 * Each program is one simulated process: the host's default process of an attached kernel.
 * Its main thread opens the device and maps the pool; any other thread that uses the device
 * becomes another task of the same process.
 */
#ifndef LITEIPC_MULTI_COMMON_H
#define LITEIPC_MULTI_COMMON_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <liteipc/liteipc.h>

#define POOL_SIZE 65536u /* every program maps a 64 KiB pool */

/* Exit statuses of the three programs. */
enum { EXIT_OK = 0, EXIT_FAILED = 1, EXIT_USAGE = 2, EXIT_SERVICE_GONE = 3 };

struct node {
    const char *prog;  /* for the output */
    liteipc_kernel *k;
    int fd;            /* the device, -1 if not open */
    int pid;           /* simulated PID */
};

/* "12:34:56.789 prog[pid P tid T]: text" on stdout, flushed (tid "-" if this thread has no
   task yet). One line per call. */
void note(const struct node *n, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Parse a decimal number in [min, max] for option opt; false (reported) if it is not one. */
bool parse_uint(const char *prog, const char *opt, const char *s, unsigned long min,
                unsigned long max, unsigned long *out);

/*
 * Attach to the kernel named liteipc_device_name() ($LITEIPC_DEVICE, else "lite_ipc"),
 * starting a liteipcd for it if none runs and start is true, then open the device and map the
 * pool. Returns 0, or -errno after printing why.
 */
int node_attach(struct node *n, const char *prog, bool start);

/* Close the device and detach: the simulated process ends. Every other thread that used the
   device must have ended (joined) first. */
void node_detach(struct node *n);

/* The calling thread's task ID (it becomes a task of the process if it is not one yet). */
int node_tid(struct node *n);

/* IPC_SEND_RECV_MSG wrappers; each returns 0 or -errno. */
/* A synchronous request (SEND|RECV); on success *reply is in our pool: free it. */
int node_call(struct node *n, uint32_t handle, uint32_t code, const void *data, size_t size,
              const IpcMsg **reply);
/* A one-way request (SEND, LITEIPC_FLAG_ONEWAY). */
int node_send_oneway(struct node *n, uint32_t handle, uint32_t code);
/* Wait, with no deadline, for the next message (RECV). Free it when done. */
int node_receive(struct node *n, const IpcMsg **msg);
/* BUFF_FREE of a received message. */
int node_free(struct node *n, const IpcMsg *msg);
/* Answer a request (MT_REPLY or MT_FAILED_REPLY) and free it, in one SEND|BUFF_FREE. */
int node_answer(struct node *n, const IpcMsg *req, MsgType type, const void *data,
                size_t size);

/* The first 4 bytes of a message's data, or UINT32_MAX if it has fewer. */
uint32_t msg_u32(const IpcMsg *msg);
/* A message's data as a C string of at most size-1 bytes with no NUL inside; false if not. */
bool msg_text(const IpcMsg *msg, char *buf, size_t size);
/* True for the one-way MSG_STOP that a thread of our own process sends to end a loop. */
bool msg_is_stop(const struct node *n, const IpcMsg *msg);

/*
 * A thread that waits for SIGINT, SIGTERM and SIGHUP with sigwait and calls on_stop(sig, arg)
 * for the first one. stopper_start blocks those signals in the calling thread, so call it
 * from main before creating any thread that should not receive them (threads inherit the
 * mask). on_stop runs on the stopper's thread: if it uses the device, that thread becomes a
 * task of the process.
 */
struct stopper {
    pthread_t thread;
    void (*on_stop)(int sig, void *arg);
    void *arg;
    bool running;
};
int stopper_start(struct stopper *s, void (*on_stop)(int sig, void *arg), void *arg);
/* End the stopper thread (whether a signal came or not) and wait for it. */
void stopper_end(struct stopper *s);
/* A signal's name: "SIGTERM". */
const char *sig_name(int sig);

#endif /* LITEIPC_MULTI_COMMON_H */
