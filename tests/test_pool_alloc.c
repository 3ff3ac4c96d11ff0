/* SPDX-License-Identifier: Apache-2.0 */
/*
 * test_pool_alloc.c - the pool allocator on its own: capacity model, rounding, merging,
 * rejection of bad frees, an exhaustive free-order test in the style of Linux's
 * binder_alloc_selftest, and a randomized stress against a shadow model.
 *
 * Every pool is laid over a buffer filled with garbage first, since a pool region is not
 * zeroed before lk_pool_init.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include <cmocka.h>

#include "pool.h"

#define T_GARBAGE 0xA5
#define T_FIRST_PAYLOAD 952u /* the first payload of a fresh pool: S - 8 - (S - 960) */

/* ---- helpers ------------------------------------------------------------------------- */

static void *t_buffer(size_t size)
{
    void *buf = aligned_alloc(64, size);

    assert_non_null(buf);
    memset(buf, T_GARBAGE, size);
    return buf;
}

static void *t_pool(size_t size)
{
    void *buf = t_buffer(size);

    assert_int_equal(lk_pool_init(buf, size), 0);
    assert_int_equal(lk_pool_check(buf), 0);
    return buf;
}

static lk_pool_stats t_stats(const void *pool)
{
    lk_pool_stats st;

    lk_pool_get_stats(pool, &st);
    return st;
}

/* The pool is one free block again, exactly as fresh. */
static void t_assert_whole(const void *pool, size_t size)
{
    lk_pool_stats st = t_stats(pool);

    assert_int_equal(lk_pool_check(pool), 0);
    assert_int_equal(st.size, size);
    assert_int_equal(st.free_bytes, size - LK_POOL_OVERHEAD);
    assert_int_equal(st.largest_free, size - LK_POOL_OVERHEAD);
    assert_int_equal(st.used_blocks, 0);
    assert_int_equal(st.free_blocks, 1);
}

static size_t t_rounded(size_t n)
{
    size_t r = (n + LK_POOL_ALIGN - 1) / LK_POOL_ALIGN * LK_POOL_ALIGN;

    return r < LK_POOL_MIN_PAYLOAD ? LK_POOL_MIN_PAYLOAD : r;
}

static uint32_t t_alloc(void *pool, size_t n)
{
    uint32_t off = lk_pool_alloc(pool, n);

    assert_int_not_equal(off, 0);
    assert_int_equal(off % LK_POOL_ALIGN, 0);
    assert_true(lk_pool_block_size(pool, off) >= n);
    return off;
}

/* Free must fail with -EFAULT and leave every byte of the pool as it was. */
static void t_assert_free_refused(void *pool, size_t size, void *copy, uint32_t off)
{
    memcpy(copy, pool, size);
    assert_int_equal(lk_pool_free(pool, off), -EFAULT);
    assert_memory_equal(pool, copy, size);
    assert_int_equal(lk_pool_block_size(pool, off), 0);
    assert_int_equal(lk_pool_check(pool), 0);
}

/* xorshift64*: a fixed, portable sequence. */
static uint64_t t_rand(uint64_t *state)
{
    *state ^= *state >> 12;
    *state ^= *state << 25;
    *state ^= *state >> 27;
    return *state * UINT64_C(2685821657736338717);
}

/* Next lexicographic permutation of p[0..n); false after the last one. */
static bool t_next_permutation(unsigned *p, unsigned n)
{
    unsigned i = n - 1, j = n - 1;

    while (i > 0 && p[i - 1] >= p[i])
        i--;
    if (i == 0)
        return false;
    while (p[j] <= p[i - 1])
        j--;
    unsigned tmp = p[i - 1];
    p[i - 1] = p[j];
    p[j] = tmp;
    for (j = n - 1; i < j; i++, j--) {
        tmp = p[i];
        p[i] = p[j];
        p[j] = tmp;
    }
    return true;
}

/* ---- init and capacity --------------------------------------------------------------- */

static void pool_init_rejects_bad_sizes(void **state)
{
    (void)state;
    unsigned char *buf = t_buffer(8192);
    static const size_t bad[] = {0, 8, 4088, 4095, 4097, 4100, 4104 + 4,
                                 (size_t)1 << 31, ((size_t)1 << 31) + 8, SIZE_MAX,
                                 SIZE_MAX & ~(size_t)7};

    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        assert_int_equal(lk_pool_init(buf, bad[i]), -EINVAL);
    /* Rejected sizes are checked before the region is touched. */
    for (size_t i = 0; i < 8192; i++)
        assert_int_equal(buf[i], T_GARBAGE);
    assert_int_equal(lk_pool_init(NULL, 4096), -EINVAL);
    assert_int_equal(lk_pool_init(buf + 4, 4096), -EINVAL);
    assert_int_equal(lk_pool_init(buf, 4096), 0);
    assert_int_equal(lk_pool_init(buf, 4104), 0);
    assert_int_equal(lk_pool_check(buf), 0);
    free(buf);
}

static void t_largest_first_alloc(size_t size)
{
    void *pool = t_pool(size);
    void *copy = t_buffer(size);

    t_assert_whole(pool, size);
    memcpy(copy, pool, size);
    assert_int_equal(lk_pool_alloc(pool, size - LK_POOL_OVERHEAD + 1), 0);
    assert_memory_equal(pool, copy, size); /* a failed allocation changes nothing */

    uint32_t off = t_alloc(pool, size - LK_POOL_OVERHEAD);
    assert_int_equal(off, T_FIRST_PAYLOAD);
    assert_int_equal(lk_pool_block_size(pool, off), size - LK_POOL_OVERHEAD);
    memset((char *)pool + off, 0x5A, size - LK_POOL_OVERHEAD); /* the payload is all ours */
    assert_int_equal(lk_pool_check(pool), 0);

    lk_pool_stats st = t_stats(pool);
    assert_int_equal(st.free_bytes, 0);
    assert_int_equal(st.largest_free, 0);
    assert_int_equal(st.used_blocks, 1);
    assert_int_equal(st.free_blocks, 0);
    assert_int_equal(lk_pool_alloc(pool, 1), 0);

    assert_int_equal(lk_pool_free(pool, off), 0);
    t_assert_whole(pool, size);
    free(copy);
    free(pool);
}

static void pool_largest_first_alloc_is_size_minus_960(void **state)
{
    (void)state;
    t_largest_first_alloc(4096);   /* 3136, the device's figure */
    t_largest_first_alloc(65536);  /* 64576 */
    t_largest_first_alloc(262144); /* 261184 */
}

/* The largest pool lk_pool_init accepts; only its first and last pages are touched. */
static void pool_largest_pool_size_works(void **state)
{
    (void)state;
    size_t map = (size_t)1 << 31, size = map - LK_POOL_ALIGN;
    unsigned char *pool = mmap(NULL, map, PROT_READ | PROT_WRITE,
                               MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);

    if (pool == MAP_FAILED)
        skip();
    memset(pool, T_GARBAGE, 4096);
    /* the pool's last page: the mapping's own would end 2 GiB in, past PTRDIFF_MAX in 32-bit */
    memset(pool + size - 4096, T_GARBAGE, 4096);
    assert_int_equal(lk_pool_init(pool, size), 0);
    t_assert_whole(pool, size);

    uint32_t small = t_alloc(pool, 100);
    uint32_t big = t_alloc(pool, size - LK_POOL_OVERHEAD - 112 - 8);
    assert_int_equal(lk_pool_alloc(pool, 1), 0);
    assert_int_equal(lk_pool_check(pool), 0);
    assert_int_equal(lk_pool_free(pool, big + 8), -EFAULT);
    assert_int_equal(lk_pool_free(pool, small), 0);
    assert_int_equal(lk_pool_free(pool, big), 0);
    t_assert_whole(pool, size);
    munmap(pool, map);
}

/* ---- rounding ------------------------------------------------------------------------ */

static void pool_alloc_rounds_to_8_with_min_payload(void **state)
{
    (void)state;
    void *pool = t_pool(4096);

    uint32_t a = t_alloc(pool, 1);
    uint32_t b = t_alloc(pool, 8);
    uint32_t c = t_alloc(pool, 9);
    uint32_t d = t_alloc(pool, 17);
    uint32_t e = t_alloc(pool, 1);
    assert_int_equal(lk_pool_block_size(pool, a), 8);
    assert_int_equal(lk_pool_block_size(pool, b), 8);
    assert_int_equal(lk_pool_block_size(pool, c), 16);
    assert_int_equal(lk_pool_block_size(pool, d), 24);
    /* Each block costs its rounded size plus an 8-byte header. */
    assert_int_equal(a, T_FIRST_PAYLOAD);
    assert_int_equal(b, a + 16);
    assert_int_equal(c, b + 16);
    assert_int_equal(d, c + 24);
    assert_int_equal(e, d + 32);
    assert_int_equal(t_stats(pool).free_bytes, 3136 - (16 + 16 + 24 + 32 + 16));

    assert_int_equal(lk_pool_alloc(pool, 0), 0);
    assert_int_equal(lk_pool_alloc(pool, SIZE_MAX), 0);
    assert_int_equal(lk_pool_alloc(pool, 4096), 0);
    assert_int_equal(lk_pool_check(pool), 0);
    free(pool);
}

/* A remainder too small for a block of its own (< 16 bytes) stays with the allocation. */
static void pool_alloc_keeps_unsplittable_remainder(void **state)
{
    (void)state;
    void *pool = t_pool(4096);

    uint32_t off = t_alloc(pool, 3136 - 8);
    assert_int_equal(lk_pool_block_size(pool, off), 3136);
    assert_int_equal(t_stats(pool).free_blocks, 0);
    assert_int_equal(lk_pool_free(pool, off), 0);

    off = t_alloc(pool, 3136 - 16); /* leaves exactly a header and a minimum payload */
    assert_int_equal(lk_pool_block_size(pool, off), 3120);
    assert_int_equal(t_stats(pool).largest_free, 8);
    assert_int_equal(t_alloc(pool, 5), off + 3120 + 8);
    assert_int_equal(lk_pool_check(pool), 0);
    free(pool);
}

/* ---- exhaustion ---------------------------------------------------------------------- */

static void t_exhaust_then_free_all(size_t size, size_t n, uint64_t seed)
{
    void *pool = t_pool(size);
    size_t cap = size / 16;
    uint32_t *offs = calloc(cap, sizeof(*offs));
    size_t count = 0;

    assert_non_null(offs);
    for (uint32_t off; (off = lk_pool_alloc(pool, n)) != 0; count++) {
        assert_true(count < cap);
        offs[count] = off;
    }
    lk_pool_stats st = t_stats(pool);
    assert_true(st.largest_free < t_rounded(n));
    assert_int_equal(st.used_blocks, count);
    assert_true(st.free_blocks <= 1);
    assert_int_equal(count, (size - 952) / (t_rounded(n) + 8));
    assert_int_equal(lk_pool_check(pool), 0);

    for (size_t i = count; i > 1; i--) { /* free in a shuffled order */
        size_t j = t_rand(&seed) % i;
        uint32_t tmp = offs[i - 1];
        offs[i - 1] = offs[j];
        offs[j] = tmp;
    }
    for (size_t i = 0; i < count; i++)
        assert_int_equal(lk_pool_free(pool, offs[i]), 0);
    t_assert_whole(pool, size);
    free(offs);
    free(pool);
}

static void pool_exhaust_then_free_all_is_whole(void **state)
{
    (void)state;
    t_exhaust_then_free_all(4096, 1, 1);
    t_exhaust_then_free_all(4096, 64, 2);
    t_exhaust_then_free_all(4096, 100, 3);
    t_exhaust_then_free_all(65536, 72, 4);
    t_exhaust_then_free_all(262144, 200, 5);
}

/* ---- merging ------------------------------------------------------------------------- */

struct t_four {
    void *pool;
    uint32_t a, b, c, guard; /* guard keeps the tail of the pool from joining in */
};

static struct t_four t_four_blocks(void)
{
    struct t_four f = {.pool = t_pool(4096)};

    f.a = t_alloc(f.pool, 64);
    f.b = t_alloc(f.pool, 128);
    f.c = t_alloc(f.pool, 256);
    f.guard = t_alloc(f.pool, 8);
    assert_int_equal(f.b, f.a + 72);
    assert_int_equal(f.c, f.b + 136);
    assert_int_equal(f.guard, f.c + 264);
    return f;
}

/* After the frees, exactly one free block spans [first, last block) and is reused whole. */
static void t_assert_merged(void *pool, uint32_t first, size_t payload)
{
    lk_pool_stats st = t_stats(pool);

    assert_int_equal(lk_pool_check(pool), 0);
    assert_int_equal(st.free_blocks, 2); /* the merged block and the pool's tail */
    assert_int_equal(lk_pool_alloc(pool, payload), first);
    assert_int_equal(lk_pool_block_size(pool, first), payload);
    assert_int_equal(t_stats(pool).free_blocks, 1);
}

static void pool_free_merges_with_left_neighbour(void **state)
{
    (void)state;
    struct t_four f = t_four_blocks();

    assert_int_equal(lk_pool_free(f.pool, f.a), 0);
    assert_int_equal(lk_pool_free(f.pool, f.b), 0);
    t_assert_merged(f.pool, f.a, 64 + 8 + 128);
    free(f.pool);
}

static void pool_free_merges_with_right_neighbour(void **state)
{
    (void)state;
    struct t_four f = t_four_blocks();

    assert_int_equal(lk_pool_free(f.pool, f.c), 0);
    assert_int_equal(lk_pool_free(f.pool, f.b), 0);
    t_assert_merged(f.pool, f.b, 128 + 8 + 256);
    free(f.pool);
}

static void pool_free_merges_with_both_neighbours(void **state)
{
    (void)state;
    struct t_four f = t_four_blocks();

    assert_int_equal(lk_pool_free(f.pool, f.a), 0);
    assert_int_equal(lk_pool_free(f.pool, f.c), 0);
    assert_int_equal(t_stats(f.pool).free_blocks, 3);
    assert_int_equal(lk_pool_free(f.pool, f.b), 0);
    t_assert_merged(f.pool, f.a, 64 + 8 + 128 + 8 + 256);
    free(f.pool);
}

static void pool_free_merges_with_tail(void **state)
{
    (void)state;
    struct t_four f = t_four_blocks();

    assert_int_equal(lk_pool_free(f.pool, f.guard), 0);
    assert_int_equal(t_stats(f.pool).free_blocks, 1);
    assert_int_equal(t_stats(f.pool).largest_free, 3136 - 72 - 136 - 264);
    assert_int_equal(lk_pool_free(f.pool, f.a), 0);
    assert_int_equal(lk_pool_free(f.pool, f.c), 0);
    assert_int_equal(lk_pool_free(f.pool, f.b), 0);
    t_assert_whole(f.pool, 4096);
    free(f.pool);
}

/* ---- fit ----------------------------------------------------------------------------- */

/* With holes of several sizes and a large tail, an allocation takes the smallest hole that
 * fits rather than carving the tail. */
static void pool_alloc_takes_smallest_fitting_hole(void **state)
{
    (void)state;
    void *pool = t_pool(65536);
    uint32_t h64 = t_alloc(pool, 64);
    t_alloc(pool, 8);
    uint32_t h256 = t_alloc(pool, 256);
    t_alloc(pool, 8);
    uint32_t h1024 = t_alloc(pool, 1024);
    t_alloc(pool, 8);

    assert_int_equal(lk_pool_free(pool, h256), 0);
    assert_int_equal(lk_pool_free(pool, h1024), 0);
    assert_int_equal(lk_pool_free(pool, h64), 0);
    assert_int_equal(lk_pool_alloc(pool, 56), h64); /* 64-byte hole, split 56 + 8 rest: kept */
    assert_int_equal(lk_pool_alloc(pool, 200), h256);
    assert_int_equal(lk_pool_alloc(pool, 1000), h1024);
    assert_int_equal(lk_pool_check(pool), 0);
    free(pool);
}

/* When no list above the request's own class has a block, the own class is searched, so an
 * allocation fails only if no free block is large enough. */
static void pool_alloc_finds_fit_in_own_class(void **state)
{
    (void)state;
    void *pool = t_pool(4096);
    uint32_t small = t_alloc(pool, 900);
    uint32_t sep = t_alloc(pool, 8);
    uint32_t large = t_alloc(pool, 1016); /* 904 and 1016 share the class [896, 1024) */
    (void)sep;
    while (lk_pool_alloc(pool, 8) != 0)
        continue;

    assert_int_equal(lk_pool_free(pool, large), 0);
    assert_int_equal(lk_pool_free(pool, small), 0); /* the head of the class now, too small */
    assert_int_equal(lk_pool_alloc(pool, 1016), large);
    assert_int_equal(lk_pool_check(pool), 0);
    free(pool);
}

/* ---- bad frees ----------------------------------------------------------------------- */

static void pool_free_rejects_bad_offsets(void **state)
{
    (void)state;
    const size_t size = 4096;
    void *pool = t_pool(size);
    void *copy = t_buffer(size);
    uint32_t a = t_alloc(pool, 100);
    uint32_t b = t_alloc(pool, 24);
    uint32_t c = t_alloc(pool, 8);
    uint32_t tail = c + 16; /* payload offset of the free tail block */
    static const uint32_t wild[] = {0, 4, 8, 944, 948, 4088, 4096, 4104, 65536,
                                    UINT32_MAX, UINT32_MAX - 7, 0x80000000u};

    for (size_t i = 0; i < sizeof(wild) / sizeof(wild[0]); i++)
        t_assert_free_refused(pool, size, copy, wild[i]);
    t_assert_free_refused(pool, size, copy, a + 1);  /* misaligned */
    t_assert_free_refused(pool, size, copy, a + 4);  /* misaligned */
    t_assert_free_refused(pool, size, copy, a + 8);  /* middle */
    t_assert_free_refused(pool, size, copy, a + 96); /* middle, last word */
    t_assert_free_refused(pool, size, copy, b - 8);  /* the header of b */
    t_assert_free_refused(pool, size, copy, c + 8);  /* header of the free tail */
    t_assert_free_refused(pool, size, copy, tail);   /* a free block */
    t_assert_free_refused(pool, size, copy, tail + 8);

    assert_int_equal(lk_pool_free(pool, b), 0);
    t_assert_free_refused(pool, size, copy, b); /* double free */
    assert_int_equal(lk_pool_free(pool, a), 0);
    t_assert_free_refused(pool, size, copy, a); /* double free after merging */
    t_assert_free_refused(pool, size, copy, b); /* now inside the merged free block */
    assert_int_equal(lk_pool_free(pool, c), 0);
    t_assert_free_refused(pool, size, copy, c);
    t_assert_whole(pool, size);
    free(copy);
    free(pool);
}

/*
 * A byte-exact copy of real blocks (headers included) placed inside an allocated payload,
 * as a user could arrange through message data, must not pass for a block.
 */
static void pool_free_rejects_forged_blocks_in_payload(void **state)
{
    (void)state;
    const size_t size = 65536;
    unsigned char *pool = t_pool(size);
    void *copy = t_buffer(size);
    uint32_t x = t_alloc(pool, 64);
    uint32_t y = t_alloc(pool, 64);
    uint32_t z = t_alloc(pool, 64);
    uint32_t big = t_alloc(pool, 4096);
    uint32_t span = z + 64 - (x - 8); /* x's header up to the end of z */

    assert_int_equal(lk_pool_free(pool, y), 0); /* a free block in the copy, too */
    for (uint32_t at = 8; at + span + 8 <= 4096; at += 8 * 37) {
        uint32_t dst = big + at;
        memcpy(pool + dst, pool + x - 8, span);
        memcpy(pool + dst + span, pool + z + 64, 8); /* the header after z */
        assert_int_equal(lk_pool_check(pool), 0);
        t_assert_free_refused(pool, size, copy, dst + 8);              /* forged x */
        t_assert_free_refused(pool, size, copy, dst + 8 + (z - x));    /* forged z */
        t_assert_free_refused(pool, size, copy, dst + 8 + (y - x));    /* forged free y */
    }
    free(copy);
    free(pool);
}

/* ---- the checker --------------------------------------------------------------------- */

/* lk_pool_check notices any single-bit change in the pool header (counters, lists, bitmap,
 * block index) and in the bookkeeping of a block, allocated or free. */
static void pool_check_detects_corruption(void **state)
{
    (void)state;
    const size_t size = 4096;
    unsigned char *pool = t_pool(size);
    uint32_t a = t_alloc(pool, 40);
    uint32_t b = t_alloc(pool, 40);
    t_alloc(pool, 40);
    uint32_t d = t_alloc(pool, 40);
    t_alloc(pool, 40);
    assert_int_equal(lk_pool_free(pool, b), 0);
    assert_int_equal(lk_pool_free(pool, d), 0);
    /* The pool header; a's header; b's header and free links; the sentinel. */
    const uint32_t spots[][2] = {{0, 944}, {a - 8, 8}, {b - 8, 16}, {size - 8, 8}};

    for (size_t s = 0; s < sizeof(spots) / sizeof(spots[0]); s++) {
        for (uint32_t bit = 0; bit < spots[s][1] * 8; bit++) {
            unsigned char *byte = pool + spots[s][0] + bit / 8;
            *byte ^= (unsigned char)(1u << (bit % 8));
            if (lk_pool_check(pool) != -EIO)
                fail_msg("flipping bit %u at offset %u went unnoticed", bit % 8,
                         spots[s][0] + bit / 8);
            *byte ^= (unsigned char)(1u << (bit % 8));
        }
    }
    assert_int_equal(lk_pool_check(pool), 0);
    free(pool);
}

/* A region that was never initialised (or was overwritten) is not taken for a pool. */
static void pool_calls_on_uninitialised_region_fail_safely(void **state)
{
    (void)state;
    unsigned char *pool = t_buffer(4096);
    void *copy = t_buffer(4096);
    lk_pool_stats st;

    memcpy(copy, pool, 4096);
    assert_int_equal(lk_pool_alloc(pool, 8), 0);
    assert_int_equal(lk_pool_free(pool, T_FIRST_PAYLOAD), -EFAULT);
    assert_int_equal(lk_pool_block_size(pool, T_FIRST_PAYLOAD), 0);
    assert_int_equal(lk_pool_check(pool), -EIO);
    lk_pool_get_stats(pool, &st);
    assert_int_equal(st.size, 0);
    assert_int_equal(st.used_blocks + st.free_blocks, 0);
    assert_memory_equal(pool, copy, 4096);
    free(copy);
    free(pool);
}

/* ---- exhaustive free orders ---------------------------------------------------------- */

#define T_EX_BLOCKS 5

/* Runs of adjacent free blocks among the allocated ones and the tail (if there is one). */
static void t_expect_free(const bool *freed, const size_t *bsize, size_t tail, bool has_tail,
                          unsigned *runs, size_t *largest)
{
    size_t run = 0;

    *runs = 0;
    *largest = 0;
    for (unsigned i = 0; i <= T_EX_BLOCKS; i++) {
        bool is_free = i < T_EX_BLOCKS ? freed[i] : has_tail;
        size_t payload = i < T_EX_BLOCKS ? bsize[i] : tail;
        if (!is_free) {
            run = 0;
            continue;
        }
        if (run == 0)
            (*runs)++;
        run = run == 0 ? payload : run + 8 + payload;
        if (run > *largest)
            *largest = run;
    }
}

static void t_free_in_order(void *pool, const uint32_t *offs, const size_t *bsize,
                            const unsigned *order, size_t tail, bool has_tail)
{
    bool freed[T_EX_BLOCKS] = {false};

    for (unsigned k = 0; k < T_EX_BLOCKS; k++) {
        unsigned i = order[k];
        unsigned runs;
        size_t largest;

        assert_int_equal(lk_pool_free(pool, offs[i]), 0);
        freed[i] = true;
        assert_int_equal(lk_pool_check(pool), 0);
        t_expect_free(freed, bsize, tail, has_tail, &runs, &largest);
        lk_pool_stats st = t_stats(pool);
        assert_int_equal(st.free_blocks, runs);
        assert_int_equal(st.largest_free, largest);
        assert_int_equal(st.used_blocks, T_EX_BLOCKS - k - 1);
    }
}

/* Allocate sizes[] in order in a fresh 4 KiB pool, then free them in every order. */
static void t_every_free_order(unsigned char *pool, const size_t *sizes)
{
    unsigned order[T_EX_BLOCKS];

    for (unsigned i = 0; i < T_EX_BLOCKS; i++)
        order[i] = i;
    do {
        uint32_t offs[T_EX_BLOCKS];
        size_t bsize[T_EX_BLOCKS];

        memset(pool, T_GARBAGE, 4096);
        assert_int_equal(lk_pool_init(pool, 4096), 0);
        for (unsigned i = 0; i < T_EX_BLOCKS; i++) {
            offs[i] = t_alloc(pool, sizes[i]);
            bsize[i] = lk_pool_block_size(pool, offs[i]);
            assert_int_equal(offs[i], i == 0 ? T_FIRST_PAYLOAD : offs[i - 1] + bsize[i - 1] + 8);
            memset(pool + offs[i], 0x11 * (int)(i + 1), bsize[i]);
            assert_int_equal(lk_pool_check(pool), 0);
        }
        lk_pool_stats st = t_stats(pool);
        t_free_in_order(pool, offs, bsize, order, st.free_bytes, st.free_blocks == 1);
        t_assert_whole(pool, 4096);
    } while (t_next_permutation(order, T_EX_BLOCKS));
}

static void pool_every_free_order_restores_whole_pool(void **state)
{
    (void)state;
    /* 3144 bytes of blocks in a 4 KiB pool: the last set fills it exactly, the one before
     * leaves a tail too small to split off. */
    static const size_t sets[][T_EX_BLOCKS] = {
        {1, 8, 9, 16, 17},
        {8, 8, 8, 8, 8},
        {24, 1, 200, 3, 64},
        {1000, 7, 500, 65, 1},
        {512, 1024, 256, 128, 64},
        {100, 100, 100, 100, 3144 - 4 * 112 - 8 - 8},
        {8, 16, 24, 40, 3144 - (16 + 24 + 32 + 48) - 8},
    };

    unsigned char *pool = t_buffer(4096);
    for (size_t s = 0; s < sizeof(sets) / sizeof(sets[0]); s++)
        t_every_free_order(pool, sets[s]);
    free(pool);
}

/* ---- randomized stress --------------------------------------------------------------- */

#define T_SLOTS 96

struct t_live {
    uint32_t off;
    uint32_t len;  /* bytes asked */
    uint32_t span; /* payload bytes granted */
    uint8_t seed;
};

static void t_fill(unsigned char *pool, const struct t_live *l)
{
    for (uint32_t i = 0; i < l->len; i++)
        pool[l->off + i] = (unsigned char)(l->seed + i * 31u);
}

static void t_verify(const unsigned char *pool, const struct t_live *l)
{
    for (uint32_t i = 0; i < l->len; i++) {
        if (pool[l->off + i] != (unsigned char)(l->seed + i * 31u))
            fail_msg("payload at %u corrupted at byte %u", l->off, i);
    }
}

/* The new block (header included) overlaps no live block and lies inside the block area. */
static void t_assert_disjoint(const struct t_live *live, const struct t_live *l, size_t size)
{
    uint64_t lo = l->off - 8u, hi = (uint64_t)l->off + l->span;

    assert_true(lo >= 944 && hi <= size - 8);
    for (unsigned i = 0; i < T_SLOTS; i++) {
        if (live[i].off == 0 || &live[i] == l)
            continue;
        uint64_t olo = live[i].off - 8u, ohi = (uint64_t)live[i].off + live[i].span;
        if (lo < ohi && olo < hi)
            fail_msg("block %u overlaps block %u", l->off, live[i].off);
    }
}

static size_t t_random_len(uint64_t *rng, size_t max_len)
{
    uint64_t r = t_rand(rng);
    size_t len;

    switch (r % 20) {
    case 0:
        len = 1 + (r >> 8) % max_len; /* anything, often too big */
        break;
    case 1:
    case 2:
    case 3:
    case 4:
        len = 129 + (r >> 8) % 2048;
        break;
    default:
        len = 1 + (r >> 8) % 128;
        break;
    }
    return len;
}

/* Pool-wide accounting: every byte between the header and the sentinel is in some block. */
static void t_assert_accounting(const void *pool, const struct t_live *live, size_t size)
{
    lk_pool_stats st = t_stats(pool);
    size_t used = 0;
    unsigned count = 0;

    for (unsigned i = 0; i < T_SLOTS; i++) {
        if (live[i].off != 0) {
            used += live[i].span;
            count++;
        }
    }
    assert_int_equal(st.used_blocks, count);
    assert_int_equal(st.free_bytes + used + 8 * (st.used_blocks + st.free_blocks), size - 952);
}

static void t_stress_step(unsigned char *pool, size_t size, struct t_live *live, uint64_t *rng,
                          size_t max_len)
{
    struct t_live *l = &live[t_rand(rng) % T_SLOTS];

    if (l->off != 0) {
        t_verify(pool, l);
        assert_int_equal(lk_pool_block_size(pool, l->off), l->span);
        assert_int_equal(lk_pool_free(pool, l->off), 0);
        assert_int_equal(lk_pool_free(pool, l->off), -EFAULT);
        l->off = 0;
        return;
    }
    size_t len = t_random_len(rng, max_len);
    size_t largest = t_stats(pool).largest_free;
    uint32_t off = lk_pool_alloc(pool, len);
    if (off == 0) {
        assert_true(largest < t_rounded(len)); /* fails only when nothing fits */
        return;
    }
    *l = (struct t_live){off, (uint32_t)len, (uint32_t)lk_pool_block_size(pool, off),
                         (uint8_t)t_rand(rng)};
    assert_true(l->span >= t_rounded(len) && l->span < t_rounded(len) + 16);
    t_assert_disjoint(live, l, size);
    t_fill(pool, l);
}

static void t_stress(unsigned char *pool, size_t size, uint64_t seed, unsigned steps,
                     size_t max_len)
{
    struct t_live live[T_SLOTS] = {{0}};
    uint64_t rng = seed;

    assert_int_equal(lk_pool_init(pool, size), 0);
    for (unsigned step = 0; step < steps; step++) {
        t_stress_step(pool, size, live, &rng, max_len);
        t_assert_accounting(pool, live, size);
        if (step % 8 == 0)
            assert_int_equal(lk_pool_check(pool), 0);
    }
    for (unsigned i = 0; i < T_SLOTS; i++) {
        if (live[i].off != 0) {
            t_verify(pool, &live[i]);
            assert_int_equal(lk_pool_free(pool, live[i].off), 0);
        }
    }
    t_assert_whole(pool, size);
}

static void pool_random_stress_against_shadow(void **state)
{
    (void)state;
    unsigned char *pool = t_buffer(262144);

    t_stress(pool, 4096, UINT64_C(0x9E3779B97F4A7C15), 20000, 3136);
    memset(pool, T_GARBAGE, 262144);
    t_stress(pool, 65536, UINT64_C(0xD1B54A32D192ED03), 20000, 65536);
    memset(pool, T_GARBAGE, 262144);
    t_stress(pool, 262144, UINT64_C(0x8CB92BA72F3D8DD7), 20000, 262144);
    free(pool);
}

/* A pool large enough for the 32-bit block index and the list of huge blocks. */
static void pool_random_stress_large_pool(void **state)
{
    (void)state;
    size_t size = (size_t)128 << 20;
    unsigned char *pool = mmap(NULL, size, PROT_READ | PROT_WRITE,
                               MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);

    if (pool == MAP_FAILED)
        skip();
    memset(pool, T_GARBAGE, (size_t)4 << 20); /* the rest is untouched zero pages */
    t_stress(pool, size, UINT64_C(0x243F6A8885A308D3), 4000, (size_t)2 << 20);
    munmap(pool, size);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(pool_init_rejects_bad_sizes),
        cmocka_unit_test(pool_largest_first_alloc_is_size_minus_960),
        cmocka_unit_test(pool_largest_pool_size_works),
        cmocka_unit_test(pool_alloc_rounds_to_8_with_min_payload),
        cmocka_unit_test(pool_alloc_keeps_unsplittable_remainder),
        cmocka_unit_test(pool_exhaust_then_free_all_is_whole),
        cmocka_unit_test(pool_free_merges_with_left_neighbour),
        cmocka_unit_test(pool_free_merges_with_right_neighbour),
        cmocka_unit_test(pool_free_merges_with_both_neighbours),
        cmocka_unit_test(pool_free_merges_with_tail),
        cmocka_unit_test(pool_alloc_takes_smallest_fitting_hole),
        cmocka_unit_test(pool_alloc_finds_fit_in_own_class),
        cmocka_unit_test(pool_free_rejects_bad_offsets),
        cmocka_unit_test(pool_free_rejects_forged_blocks_in_payload),
        cmocka_unit_test(pool_check_detects_corruption),
        cmocka_unit_test(pool_calls_on_uninitialised_region_fail_safely),
        cmocka_unit_test(pool_every_free_order_restores_whole_pool),
        cmocka_unit_test(pool_random_stress_against_shadow),
        cmocka_unit_test(pool_random_stress_large_pool),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
