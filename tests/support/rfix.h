/* SPDX-License-Identifier: Apache-2.0 */
/*
 * rfix.h - fixtures for the real-process tests (test_real_*.c): a named kernel served by the
 * test process, separate executables that reach it by name (through the LD_PRELOAD shim or
 * linked with the compat library), and forked children.
 *
 * A child program talks to the test in lines over its stdin/stdout (tests/real/devprog.c).
 * Every wait is bounded: line reads by T_WAIT_MS, waits for a child's end by T_WAIT_MS, and
 * every child arms alarm() itself, so a lost child can never hang the suite. Nothing sleeps
 * for synchronisation: the test learns that a task is parked in a receive from the kernel's
 * events (LITEIPC_EV_RECV_WAIT), and that a process is reaped from LITEIPC_EV_TASK_DEATH.
 */
#ifndef LITEIPC_TESTS_RFIX_H
#define LITEIPC_TESTS_RFIX_H

#include "sfix.h"

#include <stdbool.h>
#include <sys/types.h>

/* The shrunk reply timeout of r_setup. */
#define R_TIMEOUT_MS 300u
/* A child program or forked child kills itself (SIGALRM) after this long. */
#define R_CHILD_ALARM_S 30u
#define R_MAX_CHILDREN 8
#define R_LINE_MAX 256

typedef struct r_child {
    pid_t pid;     /* 0: none */
    int in;        /* our end of its stdin; -1 if none */
    int out;       /* our end of its stdout; -1 if none */
    char buf[1024];
    size_t len;
    bool reaped;
    int status;    /* once reaped */
} r_child;

typedef struct r_ctx {
    char name[48];     /* the kernel's device name, unique to this test */
    liteipc_kernel *k; /* NULL: the test has no kernel of its own */
    liteipc_config cfg;
    t_evrec *ev;
    t_ctx *t;          /* sfix's fixture over the same kernel: its teardown checks leaks */
    r_child kids[R_MAX_CHILDREN];
    int nkids;
} r_ctx;

/* CMocka setups: a kernel served under a fresh name with reply_timeout_ms = R_TIMEOUT_MS /
   with the device's 5 s / no kernel at all (only the name). All check /dev/shm is empty of
   liteipc objects and arm a watchdog. */
int r_setup(void **state);
int r_setup_slow(void **state);
int r_setup_nokernel(void **state);
/* Kill and reap every child still there, then sfix's teardown (stop the kernel, join virtual
   processes a failed test left, check for leaked mappings and descriptors), and fail if
   /dev/shm holds anything of ours. */
int r_teardown(void **state);

/* Paths of the build tree's helpers (set by tests/CMakeLists.txt). */
const char *r_preload_path(void);

/*
 * Start argv[0] with stdin/stdout piped to the test, stderr inherited, and this environment:
 * LITEIPC_DEVICE = c->name, LITEIPCD = a path that does not exist (a program that cannot reach
 * the test's kernel fails instead of starting a daemon), LD_PRELOAD = the shim if preload, else
 * unset. extra_env: more "NAME=value" entries (or "NAME" to unset), NULL-terminated, may be
 * NULL. Fails the test if it cannot start.
 */
r_child *r_spawn(r_ctx *c, bool preload, const char *const argv[], const char *const extra_env[]);

/* Read the next line (without newline) into line; fail the test if none comes within
   T_WAIT_MS or the child closes its stdout. */
void r_line(r_child *ch, char *line, size_t len);
/* Read the next line; it must start with prefix. Returns the rest after the prefix. */
const char *r_expect(r_child *ch, const char *prefix, char *line, size_t len);
/* Send one line to the child (a newline is appended). */
void r_say(r_child *ch, const char *line);
/* Close the child's stdin (it sees EOF). */
void r_hangup(r_child *ch);
/* Everything the child still writes until it closes its stdout (bounded), into out. */
void r_drain(r_child *ch, char *out, size_t len);

/* SIGKILL the child and reap it. Returns its wait status. */
int r_kill(r_child *ch);
/* Reap the child, waiting at most T_WAIT_MS (fails the test otherwise). Returns the status. */
int r_wait(r_child *ch);
/* The child's exit must be 0 (fails the test otherwise, showing its status). */
void r_assert_exit0(int status, const char *what);

/* fork(); the child runs fn(arg) with alarm armed and default fatal signals, then _exit(0).
   A forked child reports through its exit status and pipes. Returns the child's pid. */
pid_t r_fork(void (*fn)(void *arg), void *arg);
/* waitpid bounded by T_WAIT_MS (the test fails otherwise). Returns the status. */
int r_waitpid(pid_t pid);

/* r_fork with two pipes: the child runs fn(arg, in, out), reading lines from the test on `in`
   and writing lines on `out`; the test uses the returned r_child (r_line, r_say, r_kill...). */
typedef void (*r_child_fn)(void *arg, int in, int out);
/* In a forked child: write one line (printf format, a newline appended) to the test through out;
   _exit(20) if it cannot. */
void r_report(int out, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
r_child *r_fork_child(r_ctx *c, r_child_fn fn, void *arg);

/* The first event of type whose dst (or src, if by_src) is tid, once there are min of them;
   fails the test after T_WAIT_MS. */
liteipc_event r_ev_wait(r_ctx *c, liteipc_event_type type, int tid, unsigned min, bool by_src);

/* The first event of type to dst_tid carrying a message with this code, waiting for it at
   most T_WAIT_MS (the test fails otherwise). */
liteipc_event r_ev_wait_msg(r_ctx *c, liteipc_event_type type, int dst_tid, uint32_t code);

/* Inodes of this process's (pid's) mappings whose path contains what, from /proc/PID/maps.
   Returns how many were found (up to max). */
int r_map_inodes(pid_t pid, const char *what, unsigned long *inodes, int max);
/* Descriptors of pid whose link target contains what (/proc/PID/fd). */
int r_fd_count_matching(pid_t pid, const char *what);

#endif /* LITEIPC_TESTS_RFIX_H */
