/* SPDX-License-Identifier: Apache-2.0 */
/*
 * bench_uds.c - request/reply over a Unix-domain SOCK_SEQPACKET socket pair between two
 * processes: the client sends a message and blocks in recv for the echo.
 *
 * Usage: bench_uds [--iters N] [--warmup N]
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "bench_util.h"

static void server(int sock)
{
    static unsigned char buf[BENCH_MAX_PAYLOAD];

    for (;;) {
        ssize_t n = recv(sock, buf, sizeof buf, 0);

        if (n <= 0)
            _exit(n == 0 ? 0 : 1); /* the client closed its end: done */
        if (send(sock, buf, (size_t)n, 0) != n)
            _exit(1);
    }
}

struct client {
    int sock;
    unsigned char rep[BENCH_MAX_PAYLOAD];
};

static int call(void *ctx, const unsigned char *req, unsigned payload)
{
    struct client *c = ctx;
    ssize_t n;

    if (send(c->sock, req, payload, 0) != (ssize_t)payload)
        return -errno;
    n = recv(c->sock, c->rep, sizeof c->rep, 0);
    if (n < 0)
        return -errno;
    return n == (ssize_t)payload ? 0 : -EBADMSG;
}

static int check(void *ctx, const unsigned char *req, unsigned payload)
{
    struct client *c = ctx;

    return memcmp(req, c->rep, payload) == 0 ? 0 : -EBADMSG;
}

static void run(const bench_opts *o)
{
    static struct client c;
    bench_rtt r = {.mechanism = "uds-seqpacket", .call = call, .check = check, .ctx = &c};
    int sv[2];
    pid_t pid;

    if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) < 0)
        bench_die("socketpair: %s", strerror(errno));
    pid = bench_fork();
    if (pid == 0) {
        close(sv[0]);
        server(sv[1]);
    }
    close(sv[1]);
    c.sock = sv[0];
    bench_rtt_run(&r, o);
    close(sv[0]);
    if (bench_wait_child(pid, "uds server") < 0)
        exit(1);
}

int main(int argc, char **argv)
{
    bench_opts o = {.iters = 20000, .warmup = 2000};

    bench_parse(argc, argv, 1, &o);
    bench_watchdog(BENCH_WATCHDOG_S, "bench_uds");
    run(&o);
    return 0;
}
