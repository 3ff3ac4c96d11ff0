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

static void run(unsigned payload, const bench_opts *o)
{
    static unsigned char req[BENCH_MAX_PAYLOAD], rep[BENCH_MAX_PAYLOAD];
    bench_samples s;
    int sv[2];
    pid_t pid;

    if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) < 0)
        bench_die("socketpair: %s", strerror(errno));
    bench_samples_init(&s, o->iters);
    bench_fill(req, payload, payload);
    pid = bench_fork();
    if (pid == 0) {
        close(sv[0]);
        server(sv[1]);
    }
    close(sv[1]);
    for (unsigned i = 0; i < o->warmup + o->iters; i++) {
        uint64_t t0 = bench_now_ns();

        if (send(sv[0], req, payload, 0) != (ssize_t)payload)
            bench_die("send: %s", strerror(errno));
        if (recv(sv[0], rep, sizeof rep, 0) != (ssize_t)payload || memcmp(req, rep, payload))
            bench_die("recv: short or different reply");
        if (i >= o->warmup)
            bench_samples_add(&s, bench_now_ns() - t0);
    }
    close(sv[0]);
    if (bench_wait_child(pid, "uds server") < 0)
        exit(1);
    bench_row("uds-seqpacket", payload, &s);
    bench_samples_free(&s);
}

int main(int argc, char **argv)
{
    bench_opts o = {.iters = 20000, .warmup = 2000};

    bench_parse(argc, argv, 1, &o);
    bench_watchdog(BENCH_WATCHDOG_S, "bench_uds");
    for (int i = 0; i < 3; i++)
        run(bench_payloads[i], &o);
    return 0;
}
