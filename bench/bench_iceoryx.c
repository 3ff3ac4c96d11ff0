/* SPDX-License-Identifier: Apache-2.0 */
/*
 * bench_iceoryx.c - iceoryx 2.0 request/response (C binding) through a running iox-roudi: a
 * server process answers each request with a response of the same size and contents; the
 * client process loans a request, sends it, and sleeps in a wait-set until the response event.
 * Both sides block in their wait-set (no busy polling), which is how iceoryx is meant to be
 * used for request/response.
 *
 * The first 4 bytes of every payload hold its length; length 0 tells the server to stop.
 *
 * Usage: bench_iceoryx [--iters N] [--warmup N]     (iox-roudi must be running)
 */
#include <errno.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <iceoryx_binding_c/client.h>
#include <iceoryx_binding_c/notification_info.h>
#include <iceoryx_binding_c/runtime.h>
#include <iceoryx_binding_c/server.h>
#include <iceoryx_binding_c/wait_set.h>

#include "bench_util.h"

#define SERVICE "LiteipcBench", "Echo", "Rpc"
#define CONNECT_WAIT_S 10
#define SERVER_EXIT_WAIT_S 5

static uint32_t payload_len(const void *p)
{
    uint32_t len;

    memcpy(&len, p, sizeof(len));
    return len;
}

static void ws_wait(iox_ws_t ws)
{
    iox_notification_info_t infos[4];
    uint64_t missed = 0;

    (void)iox_ws_wait(ws, infos, 4, &missed);
}

static void server(int ready_fd)
{
    iox_server_storage_t storage;
    iox_ws_storage_t ws_storage;
    iox_server_options_t opts;
    iox_server_t srv;
    iox_ws_t ws;
    char one = 1;

    iox_runtime_init("liteipc-bench-server");
    iox_server_options_init(&opts);
    srv = iox_server_init(&storage, SERVICE, &opts);
    ws = iox_ws_init(&ws_storage);
    if (iox_ws_attach_server_event(ws, srv, ServerEvent_REQUEST_RECEIVED, 0, NULL) !=
        WaitSetResult_SUCCESS)
        bench_die("server: cannot attach to the wait-set");
    if (write(ready_fd, &one, 1) != 1)
        _exit(1);
    close(ready_fd);
    for (;;) {
        const void *req;

        while (iox_server_take_request(srv, &req) == ServerRequestResult_SUCCESS) {
            uint32_t len = payload_len(req);
            void *resp;

            if (len == 0) {
                iox_server_release_request(srv, req);
                iox_ws_deinit(ws);
                iox_server_deinit(srv);
                iox_runtime_shutdown();
                exit(0); /* not _exit: the runtime deregisters from RouDi in a destructor */
            }
            if (iox_server_loan_response(srv, req, &resp, len) != AllocationResult_SUCCESS)
                bench_die("server: cannot loan a response of %u bytes", len);
            memcpy(resp, req, len);
            if (iox_server_send(srv, resp) != ServerSendResult_SUCCESS)
                bench_die("server: send failed");
            iox_server_release_request(srv, req);
        }
        ws_wait(ws);
    }
}

static void send_request(iox_client_t cl, const unsigned char *req, uint32_t len)
{
    void *p;
    uint32_t size = len < sizeof(uint32_t) ? (uint32_t)sizeof(uint32_t) : len;

    if (iox_client_loan_request(cl, &p, size) != AllocationResult_SUCCESS)
        bench_die("client: cannot loan a request of %u bytes", size);
    memcpy(p, req, size);
    memcpy(p, &len, sizeof(len));
    if (iox_client_send(cl, p) != ClientSendResult_SUCCESS)
        bench_die("client: send failed");
}

struct client {
    iox_client_t cl;
    iox_ws_t ws;
    const void *resp;
};

static int echo_call(void *ctx, const unsigned char *req, unsigned payload)
{
    struct client *c = ctx;

    send_request(c->cl, req, payload);
    while (iox_client_take_response(c->cl, &c->resp) != ChunkReceiveResult_SUCCESS)
        ws_wait(c->ws);
    return 0;
}

/* The response echoes the request, whose first 4 bytes send_request replaced by its length. */
static int echo_check(void *ctx, const unsigned char *req, unsigned payload)
{
    struct client *c = ctx;
    int ok = payload_len(c->resp) == payload &&
             memcmp((const unsigned char *)c->resp + sizeof(uint32_t), req + sizeof(uint32_t),
                    payload - sizeof(uint32_t)) == 0;

    iox_client_release_response(c->cl, c->resp);
    return ok ? 0 : -EBADMSG;
}

/*
 * Wait for the server to leave. It sometimes hangs in its exit (deregistering from a RouDi busy
 * on a loaded machine) after the figures are complete: it gets SERVER_EXIT_WAIT_S, then is
 * killed, so that a run does not wait for the watchdog.
 */
static int server_wait(pid_t pid)
{
    for (int i = 0; i < SERVER_EXIT_WAIT_S * 100; i++) {
        int st;
        pid_t r = waitpid(pid, &st, WNOHANG);

        if (r == pid && WIFEXITED(st) && WEXITSTATUS(st) == 0)
            return 0;
        if (r != 0) {
            fprintf(stderr, "bench_iceoryx: the server failed\n");
            return -1;
        }
        usleep(10000);
    }
    fprintf(stderr, "bench_iceoryx: the server did not exit in %d s: killed\n",
            SERVER_EXIT_WAIT_S);
    kill(pid, SIGKILL);
    waitpid(pid, NULL, 0);
    return 0; /* the figures are complete */
}

int main(int argc, char **argv)
{
    static const unsigned char stop[sizeof(uint32_t)];
    bench_opts o = {.iters = 20000, .warmup = 2000};
    struct client c = {0};
    bench_rtt r = {.mechanism = "iceoryx", .call = echo_call, .check = echo_check, .ctx = &c};
    iox_client_storage_t storage;
    iox_ws_storage_t ws_storage;
    iox_client_options_t opts;
    iox_client_t cl;
    iox_ws_t ws;
    int pfd[2];
    char ready;
    pid_t pid;

    bench_parse(argc, argv, 1, &o);
    bench_watchdog(BENCH_WATCHDOG_S, "bench_iceoryx");
    if (pipe(pfd) < 0)
        bench_die("pipe: %s", strerror(errno));
    pid = bench_fork();
    if (pid == 0) {
        close(pfd[0]);
        server(pfd[1]);
    }
    close(pfd[1]);
    if (read(pfd[0], &ready, 1) != 1)
        bench_die("the iceoryx server process did not start (is iox-roudi running?)");
    close(pfd[0]);

    iox_runtime_init("liteipc-bench-client");
    iox_client_options_init(&opts);
    cl = iox_client_init(&storage, SERVICE, &opts);
    for (int i = 0; iox_client_get_connection_state(cl) != ConnectionState_CONNECTED; i++) {
        if (i > CONNECT_WAIT_S * 1000)
            bench_die("client: not connected to the server after %d s", CONNECT_WAIT_S);
        usleep(1000);
    }
    ws = iox_ws_init(&ws_storage);
    if (iox_ws_attach_client_event(ws, cl, ClientEvent_RESPONSE_RECEIVED, 0, NULL) !=
        WaitSetResult_SUCCESS)
        bench_die("client: cannot attach to the wait-set");

    c.cl = cl;
    c.ws = ws;
    bench_rtt_run(&r, &o);
    send_request(cl, stop, 0); /* stay connected until the server has taken it and left */
    if (server_wait(pid) < 0)
        return 1;
    iox_ws_deinit(ws);
    iox_client_deinit(cl);
    iox_runtime_shutdown();
    return 0;
}
