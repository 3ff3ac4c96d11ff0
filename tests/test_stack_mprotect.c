/* SPDX-License-Identifier: Apache-2.0 */
/*
 * test_stack_mprotect.c - mprotect on a LiteIPC region is refused with EPERM, as on the device
 * since 2024-09 (LITEIPC_REFERENCE §2.3 step 10, §12 88ef6712), through liteipc_mprotect:
 * the pool, and the other regions the library maps for a process (channel region, bell), of
 * the caller's process and of every other simulated process of this host. Any other range is
 * the host's mprotect. (The compat library and the shim route mprotect here: test_real_compat,
 * devprog's check mode.)
 */
#include "sfix.h"

#include <sys/mman.h>
#include <unistd.h>

#include "runtime.h" /* white box: where the library mapped the process's regions */

#define PAGE 4096u

static void mprotect_pool_refused_eperm(void **state)
{
    liteipc_kernel *k = ((t_ctx *)*state)->k;
    char *pool = NULL;
    int fd = t_dev_setup(k, T_POOL, (void **)&pool);

    assert_true(fd >= 0);
    assert_errno(liteipc_mprotect(k, pool, T_POOL, PROT_READ | PROT_WRITE), EPERM);
    assert_errno(liteipc_mprotect(k, pool, T_POOL, PROT_READ), EPERM); /* even a no-op */
    assert_errno(liteipc_mprotect(k, pool + PAGE, PAGE, PROT_NONE), EPERM);
    assert_errno(liteipc_mprotect(k, pool + T_POOL - PAGE, 1, PROT_NONE), EPERM); /* last page */
    (void)*(volatile char *)(pool + T_POOL - 1); /* still mapped, still readable */
    assert_ok(liteipc_close(k, fd));
}

/* A range that starts before the pool and reaches into it touches the region: refused. */
static void mprotect_range_overlapping_pool_refused(void **state)
{
    liteipc_kernel *k = ((t_ctx *)*state)->k;
    char *area = mmap(NULL, 4 * PAGE, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    char *pool;
    int fd;

    assert_true(area != MAP_FAILED);
    /* The pool goes right after area's first page, over the reservation (MAP_FIXED replaces it
       at once): unmapping it first would leave a hole in which the broker, a thread of this
       process, could place its own writable mapping of the new pool, which MAP_FIXED would then
       replace under it. */
    fd = t_dev_open(k);
    assert_true(fd >= 0);
    pool = liteipc_mmap(k, area + PAGE, 2 * PAGE, PROT_READ, MAP_PRIVATE | MAP_FIXED, fd, 0);
    assert_ptr_equal(pool, area + PAGE);
    assert_errno(liteipc_mprotect(k, area, 2 * PAGE, PROT_READ), EPERM);
    assert_ok(liteipc_mprotect(k, area, PAGE, PROT_READ)); /* ends where the pool begins */
    assert_int_equal(area[0], 0);
    assert_int_equal(munmap(area, PAGE), 0);
    assert_int_equal(munmap(area + 3 * PAGE, PAGE), 0); /* the rest of the reservation */
    assert_ok(liteipc_close(k, fd));
}

static void mprotect_channel_region_and_bell_refused(void **state)
{
    liteipc_kernel *k = ((t_ctx *)*state)->k;
    int fd = t_dev_setup(k, T_POOL, NULL);
    lk_cproc *p = lk_default_proc(k);

    assert_true(fd >= 0);
    assert_non_null(p);
    assert_non_null(p->region);
    assert_non_null(p->bell);
    assert_errno(liteipc_mprotect(k, p->region, PAGE, PROT_READ), EPERM);
    assert_errno(liteipc_mprotect(k, p->bell, PAGE, PROT_NONE), EPERM);
    /* the calls still work: nothing was changed */
    assert_int_equal(t_set_cms(k, fd, T_CMS_BIG), 0);
    assert_ok(liteipc_close(k, fd));
}

/* Outside every LiteIPC region, the host's mprotect. */
static void mprotect_other_memory_is_the_hosts(void **state)
{
    liteipc_kernel *k = ((t_ctx *)*state)->k;
    int fd = t_dev_setup(k, T_POOL, NULL);
    char *m = mmap(NULL, PAGE, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

    assert_true(fd >= 0);
    assert_true(m != MAP_FAILED);
    assert_ok(liteipc_mprotect(k, m, PAGE, PROT_READ | PROT_WRITE));
    m[0] = 1; /* really writable now */
    assert_errno(liteipc_mprotect(k, m + 1, PAGE, PROT_READ), EINVAL); /* the host's check */
    assert_ok(liteipc_mprotect(NULL, m, PAGE, PROT_READ)); /* no kernel: plain mprotect */
    assert_int_equal(munmap(m, PAGE), 0);
    assert_ok(liteipc_close(k, fd));
}

typedef struct vp_pool {
    liteipc_kernel *k;
    void *pool;
    t_latch mapped, done;
} vp_pool;

static void *map_and_wait(void *arg)
{
    vp_pool *v = arg;
    int fd = t_dev_setup(v->k, T_POOL, &v->pool);

    t_latch_set(&v->mapped, fd);
    T_CHECK_EQ(t_latch_wait(&v->done, NULL, T_WAIT_MS), 0);
    if (fd >= 0)
        T_CHECK_OK(liteipc_close(v->k, fd));
    return NULL;
}

/* Virtual processes share the host's address space: another process's pool is refused too. */
static void mprotect_other_process_pool_refused(void **state)
{
    vp_pool v = {.k = ((t_ctx *)*state)->k};
    liteipc_vproc *vp;
    long fd = -1;

    t_latch_init(&v.mapped);
    t_latch_init(&v.done);
    vp = t_vproc_start(v.k, map_and_wait, &v);
    assert_int_equal(t_latch_wait(&v.mapped, &fd, T_WAIT_MS), 0);
    assert_true(fd >= 0);
    assert_errno(liteipc_mprotect(v.k, v.pool, PAGE, PROT_READ | PROT_WRITE), EPERM);
    t_latch_set(&v.done, 0);
    t_vproc_finish(vp);
    t_latch_destroy(&v.mapped);
    t_latch_destroy(&v.done);
}

#define T(fn) cmocka_unit_test_setup_teardown(fn, t_setup, t_teardown)

int main(void)
{
    const struct CMUnitTest tests[] = {
        T(mprotect_pool_refused_eperm),
        T(mprotect_range_overlapping_pool_refused),
        T(mprotect_channel_region_and_bell_refused),
        T(mprotect_other_memory_is_the_hosts),
        T(mprotect_other_process_pool_refused),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
