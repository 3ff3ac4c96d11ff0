/* SPDX-License-Identifier: Apache-2.0 */
/*
 * pool.h - the allocator that lives inside a process's IPC pool (private to the library).
 *
 * A pool is one shared-memory region. Only the broker writes it (through its own writable
 * mapping); the owning process maps it read-only. Everything the allocator keeps is inside the
 * region and addressed by offsets from its start, so the region can be mapped at different
 * addresses by different processes. The allocator never calls malloc.
 *
 * Capacity follows the device's TLSF pool (LITEIPC_REFERENCE §4.6) closely enough that ENOMEM
 * happens where it does on the device: the largest single allocation in a fresh pool of S bytes
 * is S - LK_POOL_OVERHEAD (960, the device's single-core figure); each allocation costs its
 * size rounded up to LK_POOL_ALIGN plus an LK_POOL_BLOCK_HEADER-byte header, with a minimum
 * payload of LK_POOL_MIN_PAYLOAD; freed neighbours merge; the fit is good-fit.
 *
 * The broker is single-threaded: no function here is thread-safe, none blocks.
 */
#ifndef LITEIPC_POOL_H
#define LITEIPC_POOL_H

#include <stddef.h>
#include <stdint.h>

#define LK_POOL_ALIGN 8u          /* payload offsets and sizes are multiples of this */
#define LK_POOL_BLOCK_HEADER 8u   /* bytes in front of each payload */
#define LK_POOL_MIN_PAYLOAD 8u
#define LK_POOL_OVERHEAD 960u     /* S - largest payload of a fresh pool of S bytes */
#define LK_POOL_MIN_SIZE 4096u    /* smallest pool lk_pool_init accepts */

/*
 * Lay an empty pool over base[0..size). base must be LK_POOL_ALIGN-aligned; size must be a
 * multiple of LK_POOL_ALIGN, at least LK_POOL_MIN_SIZE and below 2^31. Returns 0, or -EINVAL.
 */
int lk_pool_init(void *base, size_t size);

/*
 * Allocate n payload bytes (n == 0 fails, as on the device). Returns the payload's offset from base (a multiple of
 * LK_POOL_ALIGN, never 0), or 0 if no free block is large enough or n is absurd (overflow).
 */
uint32_t lk_pool_alloc(void *base, size_t n);

/*
 * Free the payload at offset off. Returns 0, or -EFAULT if off is not the payload offset of an
 * allocated block (the pool is left untouched then). The answer is exact, even against block
 * headers forged inside a payload, at a cost of a short bounded walk.
 */
int lk_pool_free(void *base, uint32_t off);

/* The usable payload size of the allocated block at off (>= the size asked), or 0 if none. */
size_t lk_pool_block_size(const void *base, uint32_t off);

/* Statistics, for tests, the state dump and benchmarks (not for the hot path). */
typedef struct lk_pool_stats {
    size_t size;          /* the region's size */
    size_t free_bytes;    /* payload bytes in free blocks */
    size_t largest_free;  /* largest payload one allocation can get now */
    unsigned used_blocks; /* allocated blocks */
    unsigned free_blocks; /* free blocks */
} lk_pool_stats;

void lk_pool_get_stats(const void *base, lk_pool_stats *st);

/* The bytes allocations take now, block headers included (0 for a fresh pool): O(1), for the
   kernel's high-water mark after each allocation. */
size_t lk_pool_used(const void *base);

/* Walk every block and check the pool's invariants. Returns 0, or -EIO if it is corrupt. */
int lk_pool_check(const void *base);

#endif /* LITEIPC_POOL_H */
