/* SPDX-License-Identifier: Apache-2.0 */
/*
 * thread.c - thread creation for OpenHarmony code on an unprivileged host.
 *
 * samgr_lite's posix adapter creates every task thread with PTHREAD_EXPLICIT_SCHED and
 * SCHED_RR, as LiteOS-A allows any process to. On Linux an unprivileged process gets EPERM, so
 * no task of samgr would ever start (the ServiceManager never sets itself as CMS, and every
 * call gets EINVAL). The programs of ohos/ are linked with --wrap=pthread_create: when the
 * requested real-time scheduling is refused, the thread is created again with the scheduling of
 * its creator, and this is said once on stderr. Nothing else changes: a privileged run keeps
 * SCHED_RR, and any other error is returned as it is.
 */
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>

#include "ohos_glue.h"

int __real_pthread_create(pthread_t *thread, const pthread_attr_t *attr,
                          void *(*start)(void *), void *arg);
int __wrap_pthread_create(pthread_t *thread, const pthread_attr_t *attr,
                          void *(*start)(void *), void *arg);

static atomic_int g_fallbacks;

int OhosGlueSchedFallbacks(void)
{
    return atomic_load(&g_fallbacks);
}

int __wrap_pthread_create(pthread_t *thread, const pthread_attr_t *attr,
                          void *(*start)(void *), void *arg)
{
    /* the caller's attributes, changed for the retry only and put back */
    pthread_attr_t *mutable = (pthread_attr_t *)attr;
    int inherit = PTHREAD_INHERIT_SCHED;
    int r = __real_pthread_create(thread, attr, start, arg);

    if (r != EPERM || attr == NULL)
        return r;
    if (pthread_attr_getinheritsched(attr, &inherit) != 0 || inherit != PTHREAD_EXPLICIT_SCHED)
        return r;
    pthread_attr_setinheritsched(mutable, PTHREAD_INHERIT_SCHED);
    r = __real_pthread_create(thread, attr, start, arg);
    pthread_attr_setinheritsched(mutable, PTHREAD_EXPLICIT_SCHED);
    if (r == 0 && atomic_fetch_add(&g_fallbacks, 1) == 0)
        fprintf(stderr, "ohos glue: real-time scheduling refused (EPERM, not privileged): "
                        "threads are created with the creator's scheduling instead\n");
    return r;
}
