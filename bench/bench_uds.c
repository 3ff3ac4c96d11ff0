/* SPDX-License-Identifier: Apache-2.0 */
/*
 * bench_uds.c - request/reply over a Unix-domain SOCK_SEQPACKET socket pair between two
 * processes: the client sends a message and blocks in recv for the echo. With `oneway`, the
 * peer of liteipc-sim's one-way benchmark: a forked sender writes 64 B messages as fast as the
 * socket takes them (its buffer is the flow control), the receiver reads them.
 *
 * Usage: bench_uds [--iters N] [--warmup N]
 *        bench_uds oneway [--count N] [--warmup N]
 */
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
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

/* Fork the peer process over a socket pair; returns this side's end (the child's in the child,
   where *pid is 0). */
static int fork_peer(pid_t *pid)
{
    int sv[2];

    if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) < 0)
        bench_die("socketpair: %s", strerror(errno));
    *pid = bench_fork();
    close(sv[*pid == 0 ? 0 : 1]);
    return sv[*pid == 0 ? 1 : 0];
}

static void run(const bench_opts *o)
{
    static struct client c;
    bench_rtt r = {.mechanism = "uds-seqpacket", .call = call, .check = check, .ctx = &c};
    pid_t pid;
    int sock = fork_peer(&pid);

    if (pid == 0)
        server(sock);
    c.sock = sock;
    bench_rtt_run(&r, o);
    close(sock);
    if (bench_wait_child(pid, "uds server") < 0)
        exit(1);
}

/* ---- one-way throughput ---------------------------------------------------------------------- */

#define ONEWAY_PAYLOAD 64u /* as bench_liteipc oneway */
#define ONEWAY_REPS 3

static void oneway_sender(int sock, uint64_t total)
{
    unsigned char msg[ONEWAY_PAYLOAD];

    bench_fill(msg, sizeof msg, 7);
    for (uint64_t i = 0; i < total; i++)
        if (send(sock, msg, sizeof msg, 0) != (ssize_t)sizeof msg)
            _exit(1);
    _exit(0);
}

/* One sender process and this receiver; returns messages/s over the count after the warmup. */
static double oneway_once(const bench_opts *o)
{
    unsigned char buf[ONEWAY_PAYLOAD];
    uint64_t total = (uint64_t)o->warmup + o->count, t0 = 0;
    pid_t pid;
    int sock = fork_peer(&pid);

    if (pid == 0)
        oneway_sender(sock, total);
    for (uint64_t i = 0; i < total; i++) {
        if (recv(sock, buf, sizeof buf, 0) != (ssize_t)sizeof buf)
            bench_die("oneway: recv: %s", strerror(errno));
        if (i + 1 == o->warmup || (o->warmup == 0 && i == 0))
            t0 = bench_now_ns();
    }
    close(sock);
    if (bench_wait_child(pid, "uds sender") < 0)
        exit(1);
    return (double)o->count / ((double)(bench_now_ns() - t0) / 1e9);
}

/* The median of ONEWAY_REPS runs, as bench_liteipc oneway. */
static void oneway(const bench_opts *o)
{
    double rate[ONEWAY_REPS], t;
    char note[160];

    for (int r = 0; r < ONEWAY_REPS; r++) {
        rate[r] = oneway_once(o);
        for (int j = r; j > 0 && rate[j - 1] > rate[j]; j--) {
            t = rate[j];
            rate[j] = rate[j - 1];
            rate[j - 1] = t;
        }
    }
    snprintf(note, sizeof note, "%u B, SOCK_SEQPACKET, median of %d runs of %u messages "
             "(min %.0f, max %.0f)", ONEWAY_PAYLOAD, ONEWAY_REPS, o->count, rate[0],
             rate[ONEWAY_REPS - 1]);
    bench_metric("uds_oneway_msgs_per_s", rate[ONEWAY_REPS / 2], note);
}

int main(int argc, char **argv)
{
    bench_opts o = {.iters = 20000, .warmup = 2000, .count = 100000};
    bool is_oneway = argc > 1 && strcmp(argv[1], "oneway") == 0;

    bench_parse(argc, argv, is_oneway ? 2 : 1, &o);
    bench_watchdog(BENCH_WATCHDOG_S, "bench_uds");
    if (is_oneway)
        oneway(&o);
    else
        run(&o);
    return 0;
}
