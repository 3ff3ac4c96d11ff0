/* SPDX-License-Identifier: Apache-2.0 */
/*
 * child.h - forked children in tests: fork one that runs a function and can never hang its
 * parent (alarm, default signal actions, no core), report its checks through its exit status,
 * and pass values back through a pipe with a deadline.
 */
#ifndef LITEIPC_TEST_CHILD_H
#define LITEIPC_TEST_CHILD_H

#include <errno.h>
#include <stddef.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#define CHILD_ALARM_S 15u /* a child gives up (SIGALRM) after this */

/* In the child: leave with `code` unless cond holds. */
#define CHILD_CHECK(cond, code)                                                            \
    do {                                                                                   \
        if (!(cond))                                                                       \
            _exit(code);                                                                   \
    } while (0)

#define CHILD_ERR(expr, e, code)                                                           \
    do {                                                                                   \
        errno = 0;                                                                         \
        long c_r_ = (long)(expr);                                                          \
        if (c_r_ != -1 || errno != (e))                                                    \
            _exit(code);                                                                   \
    } while (0)

/* In the parent: fail the test unless the child exited 0. */
#define assert_child_passed(status)                                                        \
    do {                                                                                   \
        int s_ = (status);                                                                 \
        if (WIFSIGNALED(s_))                                                               \
            fail_msg("child killed by signal %d", WTERMSIG(s_));                           \
        if (!WIFEXITED(s_) || WEXITSTATUS(s_) != 0)                                        \
            fail_msg("child failed its check number %d", WEXITSTATUS(s_));                 \
    } while (0)

typedef void (*child_fn)(void *arg);

/* Fork a child that runs fn(arg) and exits 0 (or with the code of its first failed check). */
pid_t fork_child(child_fn fn, void *arg);
/* Wait for it (retrying EINTR); its status. */
int wait_child(pid_t pid);
/* Read n bytes from a pipe, waiting at most T_WAIT_MS. Returns 0 or -1. */
int read_pipe(int fd, void *buf, size_t n);
/* In a child: write n bytes to a pipe, or _exit(90). */
void write_pipe(int fd, const void *buf, size_t n);

#endif /* LITEIPC_TEST_CHILD_H */
