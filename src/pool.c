/* SPDX-License-Identifier: Apache-2.0 */
/*
 * pool.c - the allocator inside a process's IPC pool (interface and capacity model: pool.h).
 *
 * Layout of a pool of S bytes, every position an offset from base:
 *
 *   [0, 944)      struct pool_hdr: counters, 64 free-list heads, their non-empty bitmap and
 *                 the block index
 *   [944, S - 8)  blocks, each an 8-byte header then its payload (the first payload is at 952)
 *   [S - 8, S)    the end sentinel: a header of size 0 that is never free, so the last block
 *                 has a right neighbour like every other
 *
 * 944 + 8 + 8 = 960 = LK_POOL_OVERHEAD, hence the largest payload of a fresh pool, S - 960.
 *
 * A header holds the payload size with the FREE flag in its low bits, and the payload size of
 * the physically previous block (boundary tag), so a freed block finds both neighbours in O(1)
 * and merges with them. A free block keeps its free-list links in its first 8 payload bytes,
 * which is why the minimum payload is 8. Every link is a header offset; 0 means none, as no
 * block starts at 0.
 *
 * Free lists are TLSF-like size classes: one exact list for payloads 8, 16 and 24, four lists
 * per power of two from 32 up to 1 MiB, and one list for everything larger (only pools above
 * 1 MiB have such blocks). A 64-bit bitmap says which lists are non-empty, so finding a list
 * with a block that surely fits is a mask and a count-trailing-zeros.
 *
 * Validating an offset to free. An 8-byte-granular bitmap of payload starts would be exact and
 * O(1), but it needs S/64 bytes (4 KiB for a 256 KiB pool) and the overhead budget has 648
 * bytes left. A header consistency check (flags, size, the neighbours' boundary tags) fits in
 * nothing, but it is fooled by a copy of real headers inside an allocated payload, and payloads
 * hold data that users chose. So the pool keeps a *block index* instead: the region is cut
 * into granules of 2^gshift bytes and the index stores, per granule, the first block that
 * starts in it. To validate an offset, the free walks the real headers from that block to the
 * offset: exact (it only ever reads headers the allocator wrote), at most granule/16 steps
 * (granules are 16 bytes, hence O(1), for 4 KiB pools, 256 bytes for 64 KiB and 1 KiB for
 * 256 KiB pools), and kept up to date in O(1) because only a split adds a block start and only
 * a merge removes one. Entries are 16-bit (position in the granule / 8, plus 1) while granules
 * are at most 256 KiB, that is for pools up to ~81 MiB; larger pools use half as many 32-bit
 * entries with bigger granules.
 *
 * Only the broker calls in (single-threaded). Nothing here allocates, blocks or keeps a
 * pointer in the region.
 */
#include "pool.h"

#include <assert.h>
#include <errno.h>
#include <stdalign.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#define POOL_MAGIC 0x4f504b4cu /* "LKPO" */
#define POOL_SIZE_LIMIT ((size_t)1 << 31)

#define HDR_BYTES 944u  /* struct pool_hdr */
#define FIRST_BLOCK HDR_BYTES
#define SENTINEL_BYTES LK_POOL_BLOCK_HEADER
#define MIN_BLOCK (LK_POOL_BLOCK_HEADER + LK_POOL_MIN_PAYLOAD)

#define BLK_FREE 1u
#define BLK_FLAGS (LK_POOL_ALIGN - 1u) /* header bits below the size; only BLK_FREE is used */

/* Size classes; see class_of(). */
#define CLASS_COUNT 64u
#define CLASS_EXACT 3u            /* payloads 8, 16, 24 */
#define CLASS_FL_MIN 5u           /* the first power-of-two range is [32, 64) */
#define CLASS_SL_BITS 2u          /* four lists per power of two */
#define CLASS_HUGE (CLASS_COUNT - 1u)
#define CLASS_HUGE_MIN (1u << 20) /* == the first payload past the last power-of-two range */

/* Block index; see index_shift(). */
#define IDX_BYTES 648u
#define IDX_NARROW (IDX_BYTES / sizeof(uint16_t))
#define IDX_WIDE (IDX_BYTES / sizeof(uint32_t))
#define IDX_NARROW_MAX_SHIFT 18u /* (2^18 - 8) / 8 + 1 still fits in 16 bits */
#define IDX_MIN_SHIFT 4u         /* a 16-byte granule holds at most one block start */

struct pool_hdr {
    uint32_t magic;
    uint32_t size;        /* S */
    uint32_t end;         /* S - 8: the sentinel's offset */
    uint32_t free_bytes;  /* payload bytes in free blocks */
    uint32_t used_blocks;
    uint32_t free_blocks;
    uint8_t gshift;       /* log2 of the index granule */
    uint8_t wide;         /* the index uses 32-bit entries */
    uint8_t pad[6];
    uint64_t nonempty;    /* bit c set <=> head[c] != 0 */
    uint32_t head[CLASS_COUNT];
    union {
        uint16_t narrow[IDX_NARROW];
        uint32_t wide[IDX_WIDE];
    } idx;
};

struct blk_hdr {
    uint32_t word;      /* payload size | flags */
    uint32_t prev_size; /* payload size of the physically previous block; 0 for the first */
};

struct free_links { /* the first payload bytes of a free block */
    uint32_t next;
    uint32_t prev;
};

static_assert(sizeof(struct pool_hdr) == HDR_BYTES, "pool header layout");
static_assert(offsetof(struct pool_hdr, idx) + IDX_BYTES == HDR_BYTES, "index fills the header");
static_assert(alignof(struct pool_hdr) <= LK_POOL_ALIGN, "base alignment is enough");
static_assert(HDR_BYTES + LK_POOL_BLOCK_HEADER + SENTINEL_BYTES == LK_POOL_OVERHEAD,
              "the largest fresh payload must be S - LK_POOL_OVERHEAD");
static_assert(sizeof(struct blk_hdr) == LK_POOL_BLOCK_HEADER, "block header layout");
static_assert(sizeof(struct free_links) == LK_POOL_MIN_PAYLOAD, "links fit the minimum payload");
static_assert(HDR_BYTES % LK_POOL_ALIGN == 0, "payloads stay aligned");
static_assert(LK_POOL_MIN_PAYLOAD <= LK_POOL_ALIGN, "rounding yields the minimum payload");
static_assert(CLASS_EXACT + ((20u - CLASS_FL_MIN) << CLASS_SL_BITS) == CLASS_HUGE,
              "the power-of-two classes end where the huge class starts");

/* ---- raw access ---------------------------------------------------------------------- */

static struct pool_hdr *pool_of(void *base)
{
    return base;
}

static const struct pool_hdr *cpool_of(const void *base)
{
    return base;
}

static struct blk_hdr *hdr_at(void *base, uint32_t b)
{
    return (struct blk_hdr *)((unsigned char *)base + b);
}

static const struct blk_hdr *chdr_at(const void *base, uint32_t b)
{
    return (const struct blk_hdr *)((const unsigned char *)base + b);
}

static struct free_links *links_at(void *base, uint32_t b)
{
    return (struct free_links *)((unsigned char *)base + b + LK_POOL_BLOCK_HEADER);
}

static const struct free_links *clinks_at(const void *base, uint32_t b)
{
    return (const struct free_links *)((const unsigned char *)base + b + LK_POOL_BLOCK_HEADER);
}

static uint32_t blk_size(const void *base, uint32_t b)
{
    return chdr_at(base, b)->word & ~BLK_FLAGS;
}

static bool blk_is_free(const void *base, uint32_t b)
{
    return (chdr_at(base, b)->word & BLK_FREE) != 0;
}

/* The header after block b (possibly the sentinel). */
static uint32_t blk_next(const void *base, uint32_t b)
{
    return b + LK_POOL_BLOCK_HEADER + blk_size(base, b);
}

/* ---- size classes -------------------------------------------------------------------- */

/*
 * The list for a payload of s bytes (s a multiple of 8, >= 8). Every block in a list above
 * class_of(s) is larger than s; blocks in class_of(s) itself may be smaller.
 */
static unsigned class_of(uint32_t s)
{
    if (s < (1u << CLASS_FL_MIN))
        return s / LK_POOL_ALIGN - 1u;
    if (s >= CLASS_HUGE_MIN)
        return CLASS_HUGE;
    unsigned fl = 31u - (unsigned)__builtin_clz(s);
    unsigned sl = (s >> (fl - CLASS_SL_BITS)) & ((1u << CLASS_SL_BITS) - 1u);
    return CLASS_EXACT + ((fl - CLASS_FL_MIN) << CLASS_SL_BITS) + sl;
}

static void list_insert(void *base, uint32_t b)
{
    struct pool_hdr *ph = pool_of(base);
    uint32_t size = blk_size(base, b);
    unsigned c = class_of(size);
    struct free_links *l = links_at(base, b);

    /* LIFO: the most recently freed block is the most likely to be cache-hot. */
    l->prev = 0;
    l->next = ph->head[c];
    if (l->next != 0)
        links_at(base, l->next)->prev = b;
    ph->head[c] = b;
    ph->nonempty |= UINT64_C(1) << c;
    ph->free_bytes += size;
    ph->free_blocks++;
}

/* Must run while b still has the size it was inserted with (its class depends on it). */
static void list_remove(void *base, uint32_t b)
{
    struct pool_hdr *ph = pool_of(base);
    uint32_t size = blk_size(base, b);
    unsigned c = class_of(size);
    const struct free_links *l = links_at(base, b);

    if (l->prev != 0)
        links_at(base, l->prev)->next = l->next;
    else
        ph->head[c] = l->next;
    if (l->next != 0)
        links_at(base, l->next)->prev = l->prev;
    if (ph->head[c] == 0)
        ph->nonempty &= ~(UINT64_C(1) << c);
    ph->free_bytes -= size;
    ph->free_blocks--;
}

/* ---- block index --------------------------------------------------------------------- */

static unsigned index_capacity(unsigned shift)
{
    return shift <= IDX_NARROW_MAX_SHIFT ? (unsigned)IDX_NARROW : (unsigned)IDX_WIDE;
}

/* The smallest granule whose index covers every block start up to the sentinel at end. */
static unsigned index_shift(uint32_t end)
{
    unsigned shift = IDX_MIN_SHIFT;

    while ((end >> shift) >= index_capacity(shift))
        shift++;
    return shift;
}

/* Granule g's entry as stored: 0 for none, else the first block start's position / 8 + 1. */
static uint32_t index_raw(const struct pool_hdr *ph, uint32_t g)
{
    return ph->wide ? ph->idx.wide[g] : ph->idx.narrow[g];
}

/* The first block starting in granule g, or 0 if none does. */
static uint32_t index_get(const struct pool_hdr *ph, uint32_t g)
{
    uint32_t v = index_raw(ph, g);

    if (v == 0)
        return 0;
    return (g << ph->gshift) + ((v - 1u) << 3);
}

/* Record b (0: none) as the first block starting in granule g. */
static void index_set(struct pool_hdr *ph, uint32_t g, uint32_t b)
{
    uint32_t v = b == 0 ? 0 : ((b - (g << ph->gshift)) >> 3) + 1u;

    if (ph->wide)
        ph->idx.wide[g] = v;
    else
        ph->idx.narrow[g] = (uint16_t)v;
}

/* A block now starts at b and the block before it starts at prev. */
static void index_add(struct pool_hdr *ph, uint32_t prev, uint32_t b)
{
    uint32_t g = b >> ph->gshift;

    if (prev >> ph->gshift != g)
        index_set(ph, g, b); /* nothing lies between prev and b: b is its granule's first */
}

/* The block at b is gone (merged into its left neighbour); after is the next block start. */
static void index_drop(struct pool_hdr *ph, uint32_t b, uint32_t after)
{
    uint32_t g = b >> ph->gshift;

    if (index_get(ph, g) == b)
        index_set(ph, g, after >> ph->gshift == g ? after : 0);
}

/*
 * The header of the block whose payload is at off, or 0 if no block's payload starts there
 * (free or not). Walks only headers the allocator wrote, from the first block of off's
 * granule, so data inside a payload can never pass for a header.
 */
static uint32_t locate(const void *base, uint32_t off)
{
    const struct pool_hdr *ph = cpool_of(base);

    if ((off & (LK_POOL_ALIGN - 1u)) != 0 || off < FIRST_BLOCK + LK_POOL_BLOCK_HEADER ||
        off > ph->end - LK_POOL_MIN_PAYLOAD)
        return 0;
    uint32_t h = off - LK_POOL_BLOCK_HEADER;
    uint32_t b = index_get(ph, h >> ph->gshift);
    if (b == 0 || b > h)
        return 0;
    while (b < h) {
        uint32_t step = LK_POOL_BLOCK_HEADER + blk_size(base, b);
        if (step > ph->end - b) /* only a corrupt pool gets here; never step outside */
            return 0;
        b += step;
    }
    return b == h ? h : 0;
}

/* ---- allocation ---------------------------------------------------------------------- */

/*
 * A free block with at least want payload bytes, or 0. Good fit: the head of want's own list
 * if it is big enough, else the head of the first non-empty list above (any block there fits,
 * O(1)), else a scan of want's own list, which holds blocks both smaller and larger than
 * want. The scan runs only when nothing larger is free, so that an allocation fails only when
 * no free block is large enough, as on the device.
 */
static uint32_t find_fit(const void *base, uint32_t want)
{
    const struct pool_hdr *ph = cpool_of(base);
    unsigned c = class_of(want);
    uint32_t b = ph->head[c];

    if (b != 0 && blk_size(base, b) >= want)
        return b;
    uint64_t above = c == CLASS_HUGE ? 0 : ph->nonempty & (~UINT64_C(0) << (c + 1u));
    if (above != 0)
        return ph->head[__builtin_ctzll(above)];
    for (; b != 0; b = clinks_at(base, b)->next) {
        if (blk_size(base, b) >= want)
            return b;
    }
    return 0;
}

/* Allocate want bytes of the free block b, returning the tail to the free lists if it can
 * hold a block of its own. */
static void take_block(void *base, uint32_t b, uint32_t want)
{
    struct pool_hdr *ph = pool_of(base);
    uint32_t size = blk_size(base, b);
    uint32_t rest = size - want;

    list_remove(base, b);
    if (rest < MIN_BLOCK) {
        hdr_at(base, b)->word = size; /* the block is handed out whole */
    } else {
        uint32_t tail = b + LK_POOL_BLOCK_HEADER + want;
        uint32_t tail_size = rest - LK_POOL_BLOCK_HEADER;

        hdr_at(base, b)->word = want;
        hdr_at(base, tail)->word = tail_size | BLK_FREE;
        hdr_at(base, tail)->prev_size = want;
        hdr_at(base, blk_next(base, tail))->prev_size = tail_size;
        index_add(ph, b, tail);
        list_insert(base, tail);
    }
    ph->used_blocks++;
}

uint32_t lk_pool_alloc(void *base, size_t n)
{
    const struct pool_hdr *ph = cpool_of(base);

    /* n > end can never fit; rejecting it first keeps the rounding below from overflowing. */
    if (ph->magic != POOL_MAGIC || n == 0 || n > ph->end)
        return 0;
    /* Rounding n >= 1 up to LK_POOL_ALIGN already gives at least the minimum payload. */
    uint32_t want = ((uint32_t)n + LK_POOL_ALIGN - 1u) & ~(LK_POOL_ALIGN - 1u);
    uint32_t b = find_fit(base, want);
    if (b == 0)
        return 0;
    take_block(base, b, want);
    return b + LK_POOL_BLOCK_HEADER;
}

/* ---- release ------------------------------------------------------------------------- */

/* Free the allocated block b, merging it with free neighbours on both sides. */
static void release(void *base, uint32_t b)
{
    struct pool_hdr *ph = pool_of(base);
    uint32_t size = blk_size(base, b);
    uint32_t next = blk_next(base, b);

    ph->used_blocks--;
    if (blk_is_free(base, next)) { /* the sentinel is never free */
        uint32_t after = blk_next(base, next);

        list_remove(base, next);
        index_drop(ph, next, after);
        size += LK_POOL_BLOCK_HEADER + blk_size(base, next);
        next = after;
    }
    if (b != FIRST_BLOCK) {
        uint32_t prev = b - LK_POOL_BLOCK_HEADER - chdr_at(base, b)->prev_size;

        if (blk_is_free(base, prev)) {
            list_remove(base, prev);
            index_drop(ph, b, next);
            size += LK_POOL_BLOCK_HEADER + blk_size(base, prev);
            b = prev;
        }
    }
    hdr_at(base, b)->word = size | BLK_FREE;
    hdr_at(base, next)->prev_size = size;
    list_insert(base, b);
}

int lk_pool_free(void *base, uint32_t off)
{
    if (cpool_of(base)->magic != POOL_MAGIC)
        return -EFAULT;
    uint32_t b = locate(base, off);
    if (b == 0 || blk_is_free(base, b))
        return -EFAULT;
    release(base, b);
    return 0;
}

size_t lk_pool_block_size(const void *base, uint32_t off)
{
    if (cpool_of(base)->magic != POOL_MAGIC)
        return 0;
    uint32_t b = locate(base, off);
    if (b == 0 || blk_is_free(base, b))
        return 0;
    return blk_size(base, b);
}

/* ---- init ---------------------------------------------------------------------------- */

int lk_pool_init(void *base, size_t size)
{
    if (base == NULL || ((uintptr_t)base & (LK_POOL_ALIGN - 1u)) != 0)
        return -EINVAL;
    if (size < LK_POOL_MIN_SIZE || size >= POOL_SIZE_LIMIT || size % LK_POOL_ALIGN != 0)
        return -EINVAL;

    struct pool_hdr *ph = pool_of(base);
    uint32_t end = (uint32_t)size - SENTINEL_BYTES;
    uint32_t first_size = end - FIRST_BLOCK - LK_POOL_BLOCK_HEADER;

    memset(ph, 0, sizeof(*ph)); /* the region may hold anything before */
    ph->magic = POOL_MAGIC;
    ph->size = (uint32_t)size;
    ph->end = end;
    ph->gshift = (uint8_t)index_shift(end);
    ph->wide = ph->gshift > IDX_NARROW_MAX_SHIFT;

    hdr_at(base, FIRST_BLOCK)->word = first_size | BLK_FREE;
    hdr_at(base, FIRST_BLOCK)->prev_size = 0;
    hdr_at(base, end)->word = 0;
    hdr_at(base, end)->prev_size = first_size;
    index_set(ph, FIRST_BLOCK >> ph->gshift, FIRST_BLOCK);
    index_add(ph, FIRST_BLOCK, end);
    list_insert(base, FIRST_BLOCK);
    return 0;
}

/* ---- statistics ---------------------------------------------------------------------- */

/* The largest free payload: the largest block in the highest non-empty list. */
static uint32_t largest_free(const void *base)
{
    const struct pool_hdr *ph = cpool_of(base);
    uint32_t best = 0;

    if (ph->nonempty == 0)
        return 0;
    unsigned c = 63u - (unsigned)__builtin_clzll(ph->nonempty);
    for (uint32_t b = ph->head[c]; b != 0; b = clinks_at(base, b)->next) {
        if (blk_size(base, b) > best)
            best = blk_size(base, b);
    }
    return best;
}

void lk_pool_get_stats(const void *base, lk_pool_stats *st)
{
    const struct pool_hdr *ph = cpool_of(base);

    memset(st, 0, sizeof(*st));
    if (ph->magic != POOL_MAGIC)
        return;
    st->size = ph->size;
    st->free_bytes = ph->free_bytes;
    st->largest_free = largest_free(base);
    st->used_blocks = ph->used_blocks;
    st->free_blocks = ph->free_blocks;
}

size_t lk_pool_used(const void *base)
{
    const struct pool_hdr *ph = cpool_of(base);

    if (ph->magic != POOL_MAGIC)
        return 0;
    return (size_t)ph->size - LK_POOL_OVERHEAD - ph->free_bytes;
}

/* ---- consistency check --------------------------------------------------------------- */

struct walk_totals {
    uint32_t used_blocks;
    uint32_t free_blocks;
    uint32_t free_bytes;
};

static bool header_ok(const struct pool_hdr *ph)
{
    if (ph->magic != POOL_MAGIC || ph->size < LK_POOL_MIN_SIZE || ph->size % LK_POOL_ALIGN != 0 ||
        ph->size >= POOL_SIZE_LIMIT || ph->end != ph->size - SENTINEL_BYTES)
        return false;
    if (ph->gshift != index_shift(ph->end) || ph->wide != (ph->gshift > IDX_NARROW_MAX_SHIFT))
        return false;
    for (size_t i = 0; i < sizeof(ph->pad); i++) {
        if (ph->pad[i] != 0)
            return false;
    }
    return true;
}

/*
 * Granules [*next_g, g) hold no block start, and b is the first start in g unless the
 * previous start prev already is in g. Keeps *next_g one past the last granule seen.
 */
static bool index_entry_ok(const struct pool_hdr *ph, uint32_t prev, uint32_t b, uint32_t *next_g)
{
    uint32_t g = b >> ph->gshift;

    if (prev != 0 && prev >> ph->gshift == g)
        return true;
    for (; *next_g < g; (*next_g)++) {
        if (index_raw(ph, *next_g) != 0)
            return false;
    }
    *next_g = g + 1u;
    return index_get(ph, g) == b;
}

static bool block_ok(const void *base, uint32_t b, uint32_t prev_size, bool prev_free)
{
    const struct blk_hdr *h = chdr_at(base, b);
    uint32_t size = h->word & ~BLK_FLAGS;

    if (h->prev_size != prev_size || (h->word & BLK_FLAGS & ~BLK_FREE) != 0)
        return false;
    if (size < LK_POOL_MIN_PAYLOAD || size > cpool_of(base)->end - b - LK_POOL_BLOCK_HEADER)
        return false;
    return !(prev_free && (h->word & BLK_FREE) != 0); /* neighbours would have merged */
}

/* Walk the blocks from the first to the sentinel, checking links, sizes and the index. */
static bool walk_ok(const void *base, struct walk_totals *t)
{
    const struct pool_hdr *ph = cpool_of(base);
    uint32_t b = FIRST_BLOCK, prev = 0, prev_size = 0, next_g = 0;
    bool prev_free = false;

    for (; b != ph->end; prev = b, b = blk_next(base, b)) {
        if (!block_ok(base, b, prev_size, prev_free) || !index_entry_ok(ph, prev, b, &next_g))
            return false;
        prev_size = blk_size(base, b);
        prev_free = blk_is_free(base, b);
        if (prev_free) {
            t->free_blocks++;
            t->free_bytes += prev_size;
        } else {
            t->used_blocks++;
        }
    }
    if (chdr_at(base, b)->word != 0 || chdr_at(base, b)->prev_size != prev_size)
        return false;
    if (!index_entry_ok(ph, prev, b, &next_g))
        return false;
    for (; next_g < index_capacity(ph->gshift); next_g++) {
        if (index_raw(ph, next_g) != 0)
            return false;
    }
    return true;
}

/* Every list is a well-linked chain of real free blocks of its class; the bitmap matches. */
static bool lists_ok(const void *base, uint32_t *listed)
{
    const struct pool_hdr *ph = cpool_of(base);

    for (unsigned c = 0; c < CLASS_COUNT; c++) {
        uint32_t prev = 0;

        if ((ph->head[c] != 0) != ((ph->nonempty >> c) & 1u))
            return false;
        for (uint32_t b = ph->head[c]; b != 0; prev = b, b = clinks_at(base, b)->next) {
            if (++*listed > ph->free_blocks) /* also ends a cycle */
                return false;
            if (b >= ph->end || locate(base, b + LK_POOL_BLOCK_HEADER) != b)
                return false;
            if (!blk_is_free(base, b) || class_of(blk_size(base, b)) != c ||
                clinks_at(base, b)->prev != prev)
                return false;
        }
    }
    return true;
}

int lk_pool_check(const void *base)
{
    const struct pool_hdr *ph = cpool_of(base);
    struct walk_totals t = {0};
    uint32_t listed = 0;

    if (!header_ok(ph) || !walk_ok(base, &t))
        return -EIO;
    if (t.used_blocks != ph->used_blocks || t.free_blocks != ph->free_blocks ||
        t.free_bytes != ph->free_bytes)
        return -EIO;
    /* With as many listed blocks as free ones, all distinct and real, every free block is
     * listed exactly once. */
    if (!lists_ok(base, &listed) || listed != ph->free_blocks)
        return -EIO;
    return 0;
}
