/* SPDX-License-Identifier: Apache-2.0 */
/*
 * test_stack_attach_abi.c - a program attaches only to a kernel of its own build. A 32-bit
 * program and a 64-bit daemon (or the reverse) lay out their shared structures differently, so
 * the attach fails with EPROTO before anything is mapped, and the connection is released. The
 * daemon is played by a thread that answers the configuration request with the exact bytes a
 * daemon of either word size sends.
 */
#include "sfix.h"

#include <pthread.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "runtime.h"

/* lk_wire_config as each word size lays it out (liteipc_config holds two size_t; the bool
   virtual_time is written here as 4 bytes that include its padding). */
typedef struct {
    uint32_t magic, size;
    uint32_t task_limit, process_limit;
    uint64_t pool_default_size, pool_max_size;
    uint32_t data_max, object_max, reply_timeout_ms;
    int32_t driver_version;
    uint32_t fd_pending_max, conn_user_max;
    uint32_t virtual_time;
    uint32_t deterministic, sched_stall_ms;
    uint32_t pad_; /* the padding an LP64 build puts before the u64 (a 32-bit one does not) */
    uint64_t sched_seed;
} wire_lp64;

typedef struct {
    uint32_t magic, size;
    uint32_t task_limit, process_limit;
    uint32_t pool_default_size, pool_max_size;
    uint32_t data_max, object_max, reply_timeout_ms;
    int32_t driver_version;
    uint32_t fd_pending_max, conn_user_max;
    uint32_t virtual_time;
    uint32_t deterministic, sched_stall_ms;
    uint32_t sched_seed_lo, sched_seed_hi; /* a 32-bit build aligns a u64 to 4 only */
} wire_ilp32;

_Static_assert(sizeof(wire_lp64) == 80 && sizeof(wire_ilp32) == 68, "the two layouts");
#define OWN_IS_LP64 (UINTPTR_MAX > UINT32_MAX)
_Static_assert(sizeof(lk_wire_config) == (OWN_IS_LP64 ? sizeof(wire_lp64) : sizeof(wire_ilp32)),
               "this build's wire configuration is one of the two");

struct fake_daemon {
    int lfd;
    unsigned char reply[sizeof(wire_lp64)];
    size_t reply_len;
    uint32_t op_seen; /* the request the program sent */
    bool eof_seen;    /* the program closed its connection */
};

/* The configuration of the device's defaults, as a daemon of that word size sends it. */
static size_t wire_of(bool lp64, unsigned char *out)
{
    liteipc_config c;

    liteipc_config_init(&c);
    c.reply_timeout_ms = 1234; /* not a default: the control case reads it back */
    if (lp64) {
        wire_lp64 w = {LK_WIRE_MAGIC, sizeof(w), c.task_limit, c.process_limit,
                       c.pool_default_size, c.pool_max_size, c.data_max, c.object_max,
                       c.reply_timeout_ms, c.driver_version, c.fd_pending_max, c.conn_user_max,
                       c.virtual_time, c.deterministic, c.sched_stall_ms, 0, c.sched_seed};
        memcpy(out, &w, sizeof(w));
        return sizeof(w);
    }
    wire_ilp32 w = {LK_WIRE_MAGIC, sizeof(w), c.task_limit, c.process_limit,
                    (uint32_t)c.pool_default_size, (uint32_t)c.pool_max_size, c.data_max,
                    c.object_max, c.reply_timeout_ms, c.driver_version, c.fd_pending_max,
                    c.conn_user_max, c.virtual_time, c.deterministic, c.sched_stall_ms,
                    (uint32_t)c.sched_seed, (uint32_t)(c.sched_seed >> 32)};
    memcpy(out, &w, sizeof(w));
    return sizeof(w);
}

/* One connection: read the request, send the reply, wait for the program to hang up. */
static void *fake_daemon_main(void *arg)
{
    struct fake_daemon *d = arg;
    lk_wire_req rq;
    char byte;
    int s = accept4(d->lfd, NULL, NULL, SOCK_CLOEXEC);

    T_CHECK(s >= 0);
    if (s < 0)
        return NULL;
    if (recv(s, &rq, sizeof(rq), 0) == (ssize_t)sizeof(rq))
        d->op_seen = rq.op;
    T_CHECK(send(s, d->reply, d->reply_len, MSG_NOSIGNAL) == (ssize_t)d->reply_len);
    d->eof_seen = recv(s, &byte, 1, 0) == 0;
    close(s);
    return NULL;
}

/* Serve a name with a daemon of the given word size and attach to it: the attach's result, and
   the configuration it got (then it detaches, which hangs up and lets the daemon end). */
static int attach_to_fake(bool lp64, liteipc_config *got, struct fake_daemon *d)
{
    liteipc_kernel *k = NULL;
    char name[64];
    struct sockaddr_un addr;
    socklen_t len;
    pthread_t th;
    int rc;

    snprintf(name, sizeof name, "test-abi-%d-%d", (int)getpid(), lp64);
    memset(d, 0, sizeof(*d));
    d->reply_len = wire_of(lp64, d->reply);
    assert_ok(lk_kernel_address(name, &addr, &len));
    d->lfd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
    assert_true(d->lfd >= 0);
    assert_ok(bind(d->lfd, (struct sockaddr *)&addr, len));
    assert_ok(listen(d->lfd, 1));
    assert_ok(pthread_create(&th, NULL, fake_daemon_main, d));
    rc = liteipc_kernel_attach(name, &k);
    if (rc == 0) {
        *got = *liteipc_kernel_config(k);
        assert_ok(liteipc_kernel_detach(k));
    } else {
        assert_null(k);
    }
    assert_ok(pthread_join(th, NULL));
    close(d->lfd);
    t_assert_threads_ok();
    assert_int_equal(d->op_seen, LK_OP_CONFIG);
    assert_true(d->eof_seen);
    return rc;
}

/* Control: the same bytes as this build's daemon sends are understood, so the refusal below is
   the word size's and not the fake daemon's. */
static void attach_kernel_of_own_word_size(void **state)
{
    struct fake_daemon d;
    liteipc_config got, want;

    (void)state;
    liteipc_config_init(&want);
    assert_int_equal(attach_to_fake(OWN_IS_LP64, &got, &d), 0);
    assert_int_equal(got.reply_timeout_ms, 1234);
    assert_int_equal(got.pool_max_size, want.pool_max_size);
    assert_int_equal(got.driver_version, want.driver_version);
}

/* A 32-bit program meeting a 64-bit daemon, or a 64-bit program meeting a 32-bit one. */
static void attach_kernel_of_other_word_size_eproto(void **state)
{
    struct fake_daemon d;
    liteipc_config got;

    (void)state;
    assert_int_equal(attach_to_fake(!OWN_IS_LP64, &got, &d), -EPROTO);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(attach_kernel_of_own_word_size),
        cmocka_unit_test(attach_kernel_of_other_word_size_eproto),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
