/* SPDX-License-Identifier: Apache-2.0 */
/*
 * fuzz_input.h - reading a fuzzer's input as a sequence of small decisions (shared by the
 * harnesses in fuzz/). Reading past the end gives zeros, and fz_done() says the input is spent,
 * so every prefix of an input is a valid, shorter run. Take each decision in its own statement
 * (never two reads as operands or arguments of one expression, whose order C leaves open).
 */
#ifndef LITEIPC_FUZZ_INPUT_H
#define LITEIPC_FUZZ_INPUT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* A broken invariant: say which and abort, which libFuzzer and the replayer report as a crash. */
#define FZ_ASSERT(cond, ...)                                                               \
    do {                                                                                   \
        if (!(cond)) {                                                                     \
            fprintf(stderr, "%s: invariant broken: ", __FILE__);                           \
            fprintf(stderr, __VA_ARGS__);                                                  \
            fprintf(stderr, "\n");                                                         \
            abort();                                                                       \
        }                                                                                  \
    } while (0)

typedef struct fz_in {
    const uint8_t *p;
    size_t n, pos;
} fz_in;

static inline bool fz_done(const fz_in *in)
{
    return in->pos >= in->n;
}

static inline uint8_t fz_u8(fz_in *in)
{
    return in->pos < in->n ? in->p[in->pos++] : 0;
}

/* Little-endian. Each read is its own statement: the order of operands is unspecified in C,
   and an input must decode the same with every compiler. */
static inline uint16_t fz_u16(fz_in *in)
{
    uint16_t lo = fz_u8(in);

    return (uint16_t)(lo | (uint16_t)fz_u8(in) << 8);
}

static inline uint32_t fz_u32(fz_in *in)
{
    uint32_t lo = fz_u16(in);

    return lo | (uint32_t)fz_u16(in) << 16;
}

/* A value below n (n > 0), from one byte: the decoder's way of choosing among few things. */
static inline unsigned fz_pick(fz_in *in, unsigned n)
{
    return fz_u8(in) % n;
}

/* Copy up to len bytes of input into dst, then repeat a pattern: the input stays short. */
static inline void fz_fill(fz_in *in, void *dst, size_t len)
{
    uint8_t *d = dst;
    size_t take = in->n - in->pos < len ? in->n - in->pos : len;

    if (take > 64)
        take = 64;
    memcpy(d, in->p + in->pos, take);
    in->pos += take;
    for (size_t i = take; i < len; i++)
        d[i] = (uint8_t)(i * 31u + 7u);
}

/* The harness's entry point, for libFuzzer and for the corpus replayer (fuzz/replay.c). */
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#endif /* LITEIPC_FUZZ_INPUT_H */
