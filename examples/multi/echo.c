/* SPDX-License-Identifier: Apache-2.0 */
/*
 * echo.c - liteipc-echo: a service as its own program.
 *
 * Registers its name ("echo" by default) with the ServiceManager (a synchronous REGISTER to
 * handle 0; the reply is its handle, which is the TID of its main thread), then serves
 * ECHO_UPPER requests on that thread: the reply is the request's text in upper case, sent
 * after --delay-ms of simulated work.
 *
 * It runs until SIGINT, SIGTERM or SIGHUP, or until it is killed. Either way its task ends and
 * every process that had access to it (the ServiceManager, and every client that looked it up)
 * receives an MT_DEATH_NOTIFY on its IPC thread. A caller whose request it held, or had not
 * yet received, gets ETIME at the end of the kernel's timeout: nobody replies for the dead.
 *
 * Usage: liteipc-echo [--service NAME] [--delay-ms MS] [--wait-ms MS] [--no-start]
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <ctype.h>
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <liteipc/testkit.h> /* ltk_wait_cms */

#include "common.h"
#include "proto.h"

#define PROG "liteipc-echo"
#define TEXT_MAX 256

struct options {
    const char *service;
    unsigned long delay_ms;
    unsigned long wait_ms;
    bool start;
};

struct echo {
    struct node n;
    uint32_t handle; /* ours: the TID of the serving (main) thread */
};

static void sleep_ms(unsigned long ms)
{
    struct timespec ts = {.tv_sec = (time_t)(ms / 1000), .tv_nsec = (long)(ms % 1000) * 1000000L};

    while (nanosleep(&ts, &ts) < 0 && errno == EINTR) {
    }
}

/*
 * REGISTER our name. Until a ServiceManager has set itself as the CMS every send gives EINVAL:
 * then wait for one for up to wait_ms (the test kit's ltk_wait_cms) and register again.
 * Returns 0 (handle set) or -errno.
 */
static int register_service(struct echo *e, const struct options *o)
{
    const IpcMsg *reply;
    int rc;

    rc = node_call(&e->n, 0, SM_REGISTER, o->service, strlen(o->service), &reply);
    if (rc == -EINVAL) {
        note(&e->n, "no ServiceManager yet (EINVAL); waiting for one for up to %lu ms",
             o->wait_ms);
        rc = ltk_wait_cms(e->n.k, e->n.fd, (unsigned)o->wait_ms);
        rc = rc == -ETIMEDOUT ? -EINVAL : rc;
        if (rc == 0)
            rc = node_call(&e->n, 0, SM_REGISTER, o->service, strlen(o->service), &reply);
    }
    if (rc != 0) {
        note(&e->n, "<- REGISTER '%s': %s%s", o->service, liteipc_errno_name(-rc),
             rc == -ENOENT ? " (FAILED_REPLY: the name is taken)"
             : rc == -EINVAL ? " (no ServiceManager: start liteipc-sm)" : "");
        return rc;
    }
    e->handle = msg_u32(reply);
    note(&e->n, "<- REPLY from the SM: '%s' is handle %u", o->service, e->handle);
    return node_free(&e->n, reply);
}

/* One request: 0 to go on, 1 to stop, or -errno. */
static int on_request(struct echo *e, const IpcMsg *req, unsigned long delay_ms)
{
    char text[TEXT_MAX];

    if (msg_is_stop(&e->n, req)) {
        int rc = node_free(&e->n, req);
        return rc < 0 ? rc : 1;
    }
    if (req->type != MT_REQUEST || req->flag == LITEIPC_FLAG_ONEWAY)
        return node_free(&e->n, req); /* nothing to answer */
    if (req->code != ECHO_UPPER || !msg_text(req, text, sizeof text)) {
        note(&e->n, "<- code %u from pid %u: not an UPPER with text: FAILED_REPLY", req->code,
             req->processID);
        return node_answer(&e->n, req, MT_FAILED_REPLY, NULL, 0);
    }
    note(&e->n, "<- UPPER '%s' from pid %u tid %u%s", text, req->processID, req->taskID,
         delay_ms ? "; working..." : "");
    if (delay_ms)
        sleep_ms(delay_ms); /* the request is ours now: its caller waits for the reply */
    for (char *c = text; *c; c++)
        *c = (char)toupper((unsigned char)*c);
    note(&e->n, "-> REPLY '%s'", text);
    return node_answer(&e->n, req, MT_REPLY, text, strlen(text));
}

static int serve(struct echo *e, unsigned long delay_ms)
{
    for (;;) {
        const IpcMsg *msg;
        int rc = node_receive(&e->n, &msg);

        if (rc < 0) {
            note(&e->n, "RECV: %s%s", liteipc_errno_name(-rc),
                 rc == -ESHUTDOWN ? ": the kernel has gone" : "");
            return rc;
        }
        rc = on_request(e, msg, delay_ms);
        if (rc < 0) {
            note(&e->n, "answering: %s", liteipc_errno_name(-rc));
            return rc;
        }
        if (rc == 1)
            return 0;
    }
}

/* On the stopper thread: wake the serving thread with a one-way MSG_STOP to our own handle. */
static void on_stop(int sig, void *arg)
{
    struct echo *e = arg;
    int rc;

    note(&e->n, "%s: stopping", sig_name(sig));
    rc = node_send_oneway(&e->n, e->handle, MSG_STOP);
    if (rc < 0)
        note(&e->n, "sending MSG_STOP to handle %u: %s", e->handle, liteipc_errno_name(-rc));
}

static void usage(FILE *f)
{
    fprintf(f, "usage: " PROG " [--service NAME] [--delay-ms MS] [--wait-ms MS] [--no-start]\n"
               "An echo service for the kernel named $%s (default '%s'): registers NAME with\n"
               "the ServiceManager and answers UPPER requests. Runs until SIGINT, SIGTERM or\n"
               "SIGHUP.\n"
               "  --service NAME  the name to register (default 'echo', at most %d bytes)\n"
               "  --delay-ms MS   simulated work before each reply (default 0)\n"
               "  --wait-ms MS    how long to wait for a ServiceManager (default 5000)\n"
               "  --no-start      fail if no kernel serves the name (default: start a liteipcd)\n",
            LITEIPC_DEVICE_ENV, LITEIPC_DEFAULT_DEVICE, SVC_NAME_MAX);
}

static int parse_options(int argc, char **argv, struct options *o)
{
    static const struct option opts[] = {
        {"service", required_argument, NULL, 's'}, {"delay-ms", required_argument, NULL, 'd'},
        {"wait-ms", required_argument, NULL, 'w'},  {"no-start", no_argument, NULL, 'N'},
        {"help", no_argument, NULL, 'h'},           {NULL, 0, NULL, 0}};
    int opt;

    *o = (struct options){.service = "echo", .wait_ms = 5000, .start = true};
    while ((opt = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
        switch (opt) {
        case 's': o->service = optarg; break;
        case 'd':
            if (!parse_uint(PROG, "--delay-ms", optarg, 0, 3600000, &o->delay_ms))
                return EXIT_USAGE;
            break;
        case 'w':
            if (!parse_uint(PROG, "--wait-ms", optarg, 0, 3600000, &o->wait_ms))
                return EXIT_USAGE;
            break;
        case 'N': o->start = false; break;
        case 'h': usage(stdout); return -1;
        default: usage(stderr); return EXIT_USAGE;
        }
    }
    if (optind < argc || o->service[0] == '\0' || strlen(o->service) > SVC_NAME_MAX) {
        usage(stderr);
        return EXIT_USAGE;
    }
    return 0;
}

int main(int argc, char **argv)
{
    struct options o;
    struct echo e = {.handle = 0};
    struct stopper stopper = {.running = false};
    int rc;

    rc = parse_options(argc, argv, &o);
    if (rc != 0)
        return rc < 0 ? EXIT_OK : rc;
    if (node_attach(&e.n, PROG, o.start) < 0)
        return EXIT_FAILED;
    note(&e.n, "-> REGISTER '%s' to handle 0 (synchronous)", o.service);
    if (register_service(&e, &o) < 0) {
        node_detach(&e.n);
        return EXIT_FAILED;
    }
    /* A signal before this point ends the program at once, which the kernel handles too. */
    rc = stopper_start(&stopper, on_stop, &e);
    if (rc < 0)
        note(&e.n, "starting the signal thread: %s (signals will just end the program)",
             liteipc_errno_name(-rc));
    note(&e.n, "ready: serving '%s' as handle %u%s", o.service, e.handle,
         o.delay_ms ? "" : " (no delay)");

    rc = serve(&e, o.delay_ms);

    stopper_end(&stopper);
    node_detach(&e.n);
    note(&e.n, "%s", rc == 0 ? "stopped: the service's task has ended (its death notices are sent)"
                             : "FAILED");
    return rc == 0 ? EXIT_OK : EXIT_FAILED;
}
