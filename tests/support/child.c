/* SPDX-License-Identifier: Apache-2.0 */
/* child.c - forked children in tests (see child.h). */
#include "child.h"

#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <sys/resource.h>
#include <unistd.h>

#include "sfix.h"

pid_t fork_child(child_fn fn, void *arg)
{
    pid_t pid;

    fflush(NULL);
    pid = fork();
    if (pid < 0)
        fail_msg("fork: errno %d", errno);
    if (pid == 0) {
        struct rlimit no_core = {0, 0};

        setrlimit(RLIMIT_CORE, &no_core); /* a deliberate SIGSEGV must not dump a core */
        /* cmocka catches these to report a test's crash; in a child they must kill it */
        signal(SIGSEGV, SIG_DFL);
        signal(SIGBUS, SIG_DFL);
        signal(SIGILL, SIG_DFL);
        signal(SIGFPE, SIG_DFL);
        signal(SIGSYS, SIG_DFL);
        signal(SIGALRM, SIG_DFL);
        alarm(CHILD_ALARM_S);
        fn(arg);
        _exit(0);
    }
    return pid;
}

int wait_child(pid_t pid)
{
    int status = 0;
    pid_t r;

    do {
        r = waitpid(pid, &status, 0);
    } while (r < 0 && errno == EINTR);
    if (r != pid)
        fail_msg("waitpid: errno %d", errno);
    return status;
}

int read_pipe(int fd, void *buf, size_t n)
{
    char *p = buf;
    size_t got = 0;

    while (got < n) {
        struct pollfd pfd = {.fd = fd, .events = POLLIN};
        ssize_t r;

        if (poll(&pfd, 1, (int)T_WAIT_MS) <= 0)
            return -1;
        r = read(fd, p + got, n - got);
        if (r <= 0)
            return -1;
        got += (size_t)r;
    }
    return 0;
}

void write_pipe(int fd, const void *buf, size_t n)
{
    if (write(fd, buf, n) != (ssize_t)n)
        _exit(90);
}
