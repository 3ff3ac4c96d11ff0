/* SPDX-License-Identifier: Apache-2.0 */
/*
 * test_stack_sched.c - deterministic interleavings (docs/TESTING.md): a deterministic kernel
 * orders the virtual tasks' device calls from its seed alone, liteipc_explore finds the lost
 * update of examples/racy_counter.c at the same seed on every run, and that seed replays the
 * same event trace every time. A thread blocked outside the device (on a latch) is waited for
 * sched_stall_ms at most, and the run is then reported as not reproducible.
 */
#include "sfix.h"

#include <stdlib.h>
#include <string.h>

#include "racy_counter.h"

#define SEEDS 64      /* the race is found well within these */
#define REPLAYS 5
#define STALL_MS 20u  /* the shrunk stall bound of the blocked-thread test */

/* Explore racy_counter quietly from seed 1; returns what liteipc_explore returns. */
static int explore(racy_counter_opts *ro, unsigned seeds, liteipc_explore_opts *eo)
{
    memset(eo, 0, sizeof(*eo));
    eo->first_seed = 1;
    eo->seeds = seeds;
    eo->quiet = 1;
    return liteipc_explore(eo, racy_counter_run, ro);
}

/* Run one seed and hand back its trace (keep_trace). */
static int run_one(racy_counter_opts *ro, uint64_t seed, char **trace)
{
    liteipc_explore_opts eo = {.first_seed = seed, .seeds = 1, .quiet = 1, .keep_trace = 1};
    int rc = liteipc_explore(&eo, racy_counter_run, ro);

    assert_int_equal(eo.runs, 1);
    assert_non_null(eo.trace);
    *trace = eo.trace;
    return rc;
}

static void explore_finds_race(bool one_process)
{
    racy_counter_opts ro = {.one_process = one_process};
    liteipc_explore_opts eo, again;

    assert_int_equal(explore(&ro, SEEDS, &eo), 1);
    assert_true(eo.failed_seed >= 1 && eo.failed_seed <= SEEDS);
    assert_int_equal(eo.runs, eo.failed_seed); /* it stopped at the first failure */
    assert_null(eo.trace);                     /* not asked for */
    /* Deterministic: the same first failing seed on every exploration. */
    assert_int_equal(explore(&ro, SEEDS, &again), 1);
    assert_int_equal(again.failed_seed, eo.failed_seed);
}

static void sched_explore_finds_lost_update(void **state)
{
    (void)state;
    explore_finds_race(false);
}

/* The clients as threads of one process (liteipc_vproc_add_thread) are ordered as well. */
static void sched_explore_finds_lost_update_threads(void **state)
{
    (void)state;
    explore_finds_race(true);
}

/* "A failing seed replays the same event trace every time." */
static void sched_failing_seed_replays_same_trace(void **state)
{
    racy_counter_opts ro = {.fixed = false};
    liteipc_explore_opts eo;
    char *first = NULL;

    (void)state;
    assert_int_equal(explore(&ro, SEEDS, &eo), 1);
    assert_int_equal(run_one(&ro, eo.failed_seed, &first), 1);
    assert_non_null(strstr(first, "msg-written src "));
    assert_null(strstr(first, "time")); /* nothing in it that changes between runs */
    for (int i = 0; i < REPLAYS; i++) {
        char *t = NULL;

        assert_int_equal(run_one(&ro, eo.failed_seed, &t), 1);
        assert_string_equal(t, first);
        free(t);
    }
    free(first);
}

/* The order depends on the seed only, not on how long the threads take between their calls:
   clients that compute 2 ms between calls (a deterministic kernel waits for them) give the
   same trace as clients that do not. */
static void sched_order_ignores_thread_speed(void **state)
{
    racy_counter_opts quick = {.fixed = false}, slow = {.fixed = false, .think_us = 2000};
    liteipc_explore_opts eo;
    char *a = NULL, *b = NULL;

    (void)state;
    assert_int_equal(explore(&quick, SEEDS, &eo), 1);
    assert_int_equal(run_one(&quick, eo.failed_seed, &a), 1);
    assert_int_equal(run_one(&slow, eo.failed_seed, &b), 1);
    assert_string_equal(a, b);
    free(a);
    free(b);
}

/* Passing seeds replay too, and the seed does choose the order: seeds give several traces. */
static void sched_seed_decides_the_order(void **state)
{
    racy_counter_opts ro = {.fixed = true};
    char *traces[8];
    int distinct = 1;

    (void)state;
    for (int s = 0; s < 8; s++) {
        char *again = NULL;

        assert_int_equal(run_one(&ro, (uint64_t)s + 100, &traces[s]), 0);
        assert_int_equal(run_one(&ro, (uint64_t)s + 100, &again), 0);
        assert_string_equal(again, traces[s]);
        free(again);
    }
    for (int s = 1; s < 8; s++) {
        bool seen = false;

        for (int p = 0; p < s && !seen; p++)
            seen = strcmp(traces[s], traces[p]) == 0;
        distinct += !seen;
    }
    for (int s = 0; s < 8; s++)
        free(traces[s]);
    assert_true(distinct >= 3);
}

struct forced_ctx {
    racy_counter_opts ro;
    int max_forced;
};

/* racy_counter_run, recording how many commands the kernel had to force. */
static int counting_body(liteipc_kernel *k, uint64_t seed, void *arg)
{
    struct forced_ctx *c = arg;
    int rc = racy_counter_run(k, seed, &c->ro);
    int forced = liteipc_sched_forced(k);

    if (forced > c->max_forced)
        c->max_forced = forced;
    return rc;
}

/* The fixed service passes every seed, and no run needed a forced command. */
static void sched_fixed_service_passes_every_seed(void **state)
{
    struct forced_ctx c = {.ro = {.fixed = true, .clients = 3}, .max_forced = -1};
    liteipc_explore_opts eo = {.first_seed = 1, .seeds = SEEDS, .quiet = 1};

    (void)state;
    assert_int_equal(liteipc_explore(&eo, counting_body, &c), 0);
    assert_int_equal(eo.runs, SEEDS);
    assert_int_equal(c.max_forced, 0);
}

/* $LITEIPC_SEED runs that seed only, whatever the options say. */
static void sched_env_seed_replays_one_seed(void **state)
{
    racy_counter_opts ro = {.fixed = false};
    liteipc_explore_opts eo, env = {.first_seed = 1000, .seeds = 50, .quiet = 1};
    char seed[32];

    (void)state;
    assert_int_equal(explore(&ro, SEEDS, &eo), 1);
    snprintf(seed, sizeof seed, "%llu", (unsigned long long)eo.failed_seed);
    setenv(LITEIPC_SEED_ENV, seed, 1);
    assert_int_equal(liteipc_explore(&env, racy_counter_run, &ro), 1);
    assert_int_equal(env.runs, 1);
    assert_int_equal(env.failed_seed, eo.failed_seed);
    setenv(LITEIPC_SEED_ENV, "12abc", 1);
    assert_int_equal(liteipc_explore(&env, racy_counter_run, &ro), -EINVAL);
    assert_int_equal(env.runs, 0);
    unsetenv(LITEIPC_SEED_ENV);
}

/* The failure report names the seed, how to replay it, and the trace. */
static void sched_report_names_seed_and_trace(void **state)
{
    racy_counter_opts ro = {.fixed = false};
    liteipc_explore_opts eo = {.first_seed = 1, .seeds = SEEDS};
    char *text = NULL, want[64];
    size_t len = 0;

    (void)state;
    eo.report = open_memstream(&text, &len);
    assert_non_null(eo.report);
    assert_int_equal(liteipc_explore(&eo, racy_counter_run, &ro), 1);
    fclose(eo.report);
    snprintf(want, sizeof want, "replay it with LITEIPC_SEED=%llu",
             (unsigned long long)eo.failed_seed);
    assert_non_null(strstr(text, want));
    assert_non_null(strstr(text, "--- events of seed "));
    assert_non_null(strstr(text, "task-death src "));
    free(text);
}

static void sched_config_checked(void **state)
{
    liteipc_config cfg;
    liteipc_kernel *k = NULL;

    (void)state;
    liteipc_config_init(&cfg);
    assert_int_equal(cfg.deterministic, 0);
    assert_int_equal(cfg.sched_stall_ms, 1000);
    cfg.deterministic = 2;
    assert_int_equal(liteipc_kernel_start(&cfg, &k), -EINVAL);
    cfg.deterministic = 1;
    cfg.sched_stall_ms = 0;
    assert_int_equal(liteipc_kernel_start(&cfg, &k), -EINVAL);
    assert_null(k);
    assert_int_equal(liteipc_sched_forced(NULL), -EINVAL);
    assert_int_equal(liteipc_explore(NULL, racy_counter_run, NULL), -EINVAL);
}

/* ---- a thread blocked on something else than the device ----------------------------------- */

struct blocked {
    liteipc_kernel *k;
    t_latch called; /* set by the caller once its device call has returned */
    int version;
};

/* Waits on a latch, outside the device, for its sibling's device call. */
static void *waiter_main(void *arg)
{
    struct blocked *b = arg;

    T_CHECK_OK(t_latch_wait(&b->called, NULL, T_WAIT_MS));
    return NULL;
}

static void *caller_main(void *arg)
{
    struct blocked *b = arg;
    int fd = t_dev_setup(b->k, T_POOL, NULL);
    IpcVersion v = {0};

    T_CHECK(fd >= 0);
    T_CHECK_OK(liteipc_ioctl(b->k, fd, IPC_GET_VERSION, &v));
    b->version = v.driverVersion;
    t_latch_set(&b->called, 1);
    liteipc_close(b->k, fd);
    return NULL;
}

/* Without the stall bound the broker would wait for the waiter forever, and the waiter for the
   caller's answer: the kernel runs the call after sched_stall_ms and counts it as forced. */
static void sched_blocked_thread_is_bounded(void **state)
{
    t_ctx *c = *state;
    struct blocked b = {.k = c->k};
    liteipc_vproc *vp;

    t_latch_init(&b.called);
    assert_int_equal(liteipc_sched_forced(c->k), 0);
    assert_int_equal(liteipc_vproc_spawn(c->k, waiter_main, &b, &vp), 0);
    assert_int_equal(liteipc_vproc_add_thread(vp, caller_main, &b), 0);
    assert_int_equal(liteipc_vproc_join(vp, NULL), 0);
    t_assert_threads_ok();
    assert_int_equal(b.version, liteipc_kernel_config(c->k)->driver_version);
    assert_true(liteipc_sched_forced(c->k) >= 1);
    t_latch_destroy(&b.called);
}

static int setup_stall(void **state)
{
    liteipc_config cfg;

    liteipc_config_init(&cfg);
    cfg.deterministic = 1;
    cfg.sched_stall_ms = STALL_MS;
    cfg.sched_seed = 7;
    return t_setup_with(state, &cfg);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(sched_explore_finds_lost_update),
        cmocka_unit_test(sched_explore_finds_lost_update_threads),
        cmocka_unit_test(sched_failing_seed_replays_same_trace),
        cmocka_unit_test(sched_order_ignores_thread_speed),
        cmocka_unit_test(sched_seed_decides_the_order),
        cmocka_unit_test(sched_fixed_service_passes_every_seed),
        cmocka_unit_test(sched_env_seed_replays_one_seed),
        cmocka_unit_test(sched_report_names_seed_and_trace),
        cmocka_unit_test(sched_config_checked),
        cmocka_unit_test_setup_teardown(sched_blocked_thread_is_bounded, setup_stall,
                                        t_teardown),
    };

    unsetenv(LITEIPC_SEED_ENV); /* the tests choose their seeds */
    return cmocka_run_group_tests(tests, NULL, NULL);
}
