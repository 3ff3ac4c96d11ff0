/* SPDX-License-Identifier: Apache-2.0 */
/*
 * bench_dbus.c - D-Bus method calls through a dbus-daemon (libdbus-1): a server process owns a
 * well-known name and answers Echo(ay) -> ay; the client process calls it and blocks for the
 * reply (dbus_connection_send_with_reply_and_block), as a typical D-Bus client does. Message
 * construction and parsing are part of each round trip, as they are for any user.
 *
 * The bus is the private one that bench/run.sh starts (its address given with --address);
 * nothing here talks to a system or session bus.
 *
 * Usage: bench_dbus --address unix:path=... [--iters N] [--warmup N]
 */
#include <dbus/dbus.h>
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "bench_util.h"

#define BUS_NAME "org.liteipc.Bench"
#define OBJ_PATH "/org/liteipc/Bench"
#define IFACE "org.liteipc.Bench"
#define CALL_TIMEOUT_MS 5000

static DBusConnection *connect_bus(const char *address)
{
    DBusError err;
    DBusConnection *c;

    dbus_error_init(&err);
    c = dbus_connection_open_private(address, &err);
    if (!c)
        bench_die("cannot connect to %s: %s", address, err.message);
    if (!dbus_bus_register(c, &err))
        bench_die("Hello to the bus failed: %s", err.message);
    return c;
}

static void answer(DBusConnection *c, DBusMessage *m)
{
    DBusError err;
    DBusMessage *r;
    const unsigned char *data = NULL;
    int len = 0;

    dbus_error_init(&err);
    if (!dbus_message_get_args(m, &err, DBUS_TYPE_ARRAY, DBUS_TYPE_BYTE, &data, &len,
                               DBUS_TYPE_INVALID))
        bench_die("server: bad Echo arguments: %s", err.message);
    r = dbus_message_new_method_return(m);
    if (!r || !dbus_message_append_args(r, DBUS_TYPE_ARRAY, DBUS_TYPE_BYTE, &data, len,
                                        DBUS_TYPE_INVALID))
        bench_die("server: out of memory");
    if (!dbus_connection_send(c, r, NULL))
        bench_die("server: send failed");
    dbus_connection_flush(c);
    dbus_message_unref(r);
}

static void server(const char *address, int ready_fd)
{
    DBusConnection *c = connect_bus(address);
    DBusError err;
    char one = 1;

    dbus_error_init(&err);
    if (dbus_bus_request_name(c, BUS_NAME, DBUS_NAME_FLAG_DO_NOT_QUEUE, &err) !=
        DBUS_REQUEST_NAME_REPLY_PRIMARY_OWNER)
        bench_die("server: cannot own %s: %s", BUS_NAME, err.message ? err.message : "taken");
    if (write(ready_fd, &one, 1) != 1)
        _exit(1);
    close(ready_fd);
    while (dbus_connection_read_write(c, -1)) {
        DBusMessage *m;

        while ((m = dbus_connection_pop_message(c)) != NULL) {
            bool quit = dbus_message_is_method_call(m, IFACE, "Quit");

            if (quit || dbus_message_is_method_call(m, IFACE, "Echo")) {
                answer(c, m);
                if (quit) {
                    dbus_message_unref(m);
                    dbus_connection_close(c);
                    dbus_connection_unref(c);
                    _exit(0);
                }
            }
            dbus_message_unref(m);
        }
    }
    _exit(1);
}

static DBusMessage *call(DBusConnection *c, const char *method, const unsigned char *data,
                         int len)
{
    DBusMessage *m = dbus_message_new_method_call(BUS_NAME, OBJ_PATH, IFACE, method), *r;
    DBusError err;

    dbus_error_init(&err);
    if (!m || !dbus_message_append_args(m, DBUS_TYPE_ARRAY, DBUS_TYPE_BYTE, &data, len,
                                        DBUS_TYPE_INVALID))
        bench_die("client: out of memory");
    r = dbus_connection_send_with_reply_and_block(c, m, CALL_TIMEOUT_MS, &err);
    dbus_message_unref(m);
    if (!r)
        bench_die("client: %s failed: %s", method, err.message);
    return r;
}

static void check_reply(DBusMessage *r, const unsigned char *req, int len)
{
    DBusError err;
    const unsigned char *data = NULL;
    int n = 0;

    dbus_error_init(&err);
    if (!dbus_message_get_args(r, &err, DBUS_TYPE_ARRAY, DBUS_TYPE_BYTE, &data, &n,
                               DBUS_TYPE_INVALID) ||
        n != len || memcmp(data, req, (size_t)len) != 0)
        bench_die("client: reply differs from request");
}

struct client {
    DBusConnection *c;
    DBusMessage *reply;
};

static int echo_call(void *ctx, const unsigned char *req, unsigned payload)
{
    struct client *cl = ctx;

    cl->reply = call(cl->c, "Echo", req, (int)payload);
    return 0;
}

static int echo_check(void *ctx, const unsigned char *req, unsigned payload)
{
    struct client *cl = ctx;

    check_reply(cl->reply, req, (int)payload);
    dbus_message_unref(cl->reply);
    cl->reply = NULL;
    return 0;
}

int main(int argc, char **argv)
{
    bench_opts o = {.iters = 10000, .warmup = 1000};
    struct client cl = {0};
    bench_rtt r = {.mechanism = "dbus-daemon", .call = echo_call, .check = echo_check, .ctx = &cl};
    DBusConnection *c;
    int pfd[2];
    char ready;
    pid_t pid;

    bench_parse(argc, argv, 1, &o);
    if (!o.address)
        bench_die("--address of the private bus is required");
    bench_watchdog(BENCH_WATCHDOG_S, "bench_dbus");
    if (pipe(pfd) < 0)
        bench_die("pipe: %s", strerror(errno));
    pid = bench_fork();
    if (pid == 0) {
        close(pfd[0]);
        server(o.address, pfd[1]);
    }
    close(pfd[1]);
    if (read(pfd[0], &ready, 1) != 1)
        bench_die("the D-Bus server process did not start");
    close(pfd[0]);
    c = connect_bus(o.address);
    cl.c = c;
    bench_rtt_run(&r, &o);
    dbus_message_unref(call(c, "Quit", (const unsigned char *)"", 0));
    dbus_connection_close(c);
    dbus_connection_unref(c);
    return bench_wait_child(pid, "D-Bus server") < 0;
}
