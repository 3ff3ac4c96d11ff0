/* SPDX-License-Identifier: Apache-2.0 */
/*
 * mprotect.c - mprotect as the device answers it: refused with EPERM on any LiteIPC region.
 *
 * Since 2024-09 (driver 88ef6712, LITEIPC_REFERENCE §2.3 step 10 and §12) the pool's region is
 * tagged LITEIPC and mprotect on any part of it fails with EPERM. Here the same rule covers
 * every region the library maps for a simulated process of this host: the pool, the channel
 * region and the bell. Virtual processes share the host's address space, so the regions of all
 * of them are refused, not only the caller's: on the device another process's pool cannot even
 * be addressed. Any other range goes to the host's mprotect unchanged.
 */
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/mman.h>

#include "platform.h"
#include "runtime.h"

/* Does [a, a + len) overlap [base, base + size)? An empty range overlaps nothing. */
static bool overlaps(uintptr_t a, size_t len, const void *base, size_t size)
{
    uintptr_t b = (uintptr_t)base;

    return base && size && len && a < b + size && b < a + len;
}

static bool in_region_of_locked(const lk_cproc *p, uintptr_t a, size_t len)
{
    return overlaps(a, len, p->pool, p->pool_size) ||
           overlaps(a, len, p->region, p->region_size) ||
           overlaps(a, len, p->bell, sizeof(lk_bell));
}

/* Does the page-aligned range [a, a + len) (len rounded up to pages) touch a LiteIPC region of
   k in this host? */
static bool is_liteipc_range(liteipc_kernel *k, uintptr_t a, size_t len)
{
    bool hit = false;

    len = lk_round_up(len, LK_PAGE_SIZE);
    pthread_mutex_lock(&k->c.lock);
    for (lk_cproc *p = k->c.procs; p && !hit; p = p->next) {
        pthread_mutex_lock(&p->lock); /* after k->c.lock: the documented order */
        hit = in_region_of_locked(p, a, len);
        pthread_mutex_unlock(&p->lock);
    }
    pthread_mutex_unlock(&k->c.lock);
    return hit;
}

int liteipc_mprotect(liteipc_kernel *k, void *addr, size_t len, int prot)
{
    /* A misaligned address is refused (EINVAL) before any region is looked at, by both
       kernels: the host's mprotect gives that answer. */
    if (k && ((uintptr_t)addr & (LK_PAGE_SIZE - 1)) == 0 &&
        is_liteipc_range(k, (uintptr_t)addr, len)) {
        errno = EPERM;
        return -1;
    }
    return mprotect(addr, len, prot);
}
