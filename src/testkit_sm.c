/* SPDX-License-Identifier: Apache-2.0 */
/*
 * testkit_sm.c - the test kit's reference ServiceManager and its clients (<liteipc/testkit.h>;
 * the wire protocol is in docs/TESTKIT.md). The ServiceManager is one task, in a virtual process
 * of its own: the CMS and its process's IPC thread, so that the death notices of the services
 * it registered reach its receive loop.
 */
#include <liteipc/testkit.h>

#include <stdlib.h>
#include <string.h>

#include "testkit_int.h"

/* One-way, from the ServiceManager's own process only (ltk_sm_stop): leave the loop. */
#define LTK_SM_QUIT 0x7f534d51u

struct ltk_service {
    uint32_t handle;
    uint32_t pid; /* the process that registered it: only it may unregister it */
    char name[LTK_SM_NAME_MAX];
};

struct ltk_sm {
    liteipc_kernel *k;
    liteipc_vproc *vp;
    int fd, tid, pid;
    ltk_latch ready;     /* 0 once it serves, or -errno */
    ltk_latch quit_sent; /* the stop's one-way send has returned */
    pthread_mutex_t m;   /* guards deaths (read by other threads) */
    pthread_cond_t c;
    unsigned deaths;
    /* Only the ServiceManager's thread touches the table. */
    size_t n;
    struct ltk_service svc[LTK_SM_MAX_SERVICES];
};

/* ---- the table ------------------------------------------------------------------------------ */

/* The request's name: 1 to LTK_SM_NAME_MAX - 1 bytes, no NUL inside (a trailing one is
   accepted). 0, or -EINVAL. */
static int msg_name(const IpcMsg *m, char name[LTK_SM_NAME_MAX], bool empty_ok)
{
    size_t len = m->dataSz;

    name[0] = '\0';
    if (len == 0) /* data may be NULL then */
        return empty_ok ? 0 : -EINVAL;
    if (((const char *)m->data)[len - 1] == '\0')
        len--;
    if ((len == 0 && !empty_ok) || len >= LTK_SM_NAME_MAX ||
        memchr(m->data, '\0', len) != NULL)
        return -EINVAL;
    memcpy(name, m->data, len);
    name[len] = '\0';
    return 0;
}

static struct ltk_service *find(ltk_sm *sm, const char *name)
{
    for (size_t i = 0; i < sm->n; i++)
        if (strcmp(sm->svc[i].name, name) == 0)
            return &sm->svc[i];
    return NULL;
}

static void remove_at(ltk_sm *sm, size_t i)
{
    sm->svc[i] = sm->svc[--sm->n];
}

static int by_name(const void *a, const void *b)
{
    return strcmp(((const ltk_sm_entry *)a)->name, ((const ltk_sm_entry *)b)->name);
}

/* ---- requests --------------------------------------------------------------------------- */

static int sm_register(ltk_sm *sm, const IpcMsg *m, const char *name, uint32_t *handle)
{
    struct ltk_service *s;
    int r;

    if (find(sm, name))
        return -EEXIST;
    if (sm->n == LTK_SM_MAX_SERVICES)
        return -ENOSPC;
    /* Also grants this process access to the task, which brings its death notice here. */
    r = ltk_gen_handle(sm->k, sm->fd, m->taskID, handle);
    if (r != 0)
        return r;
    s = &sm->svc[sm->n++];
    s->handle = *handle;
    s->pid = m->processID;
    strcpy(s->name, name);
    return 0;
}

static int sm_lookup(ltk_sm *sm, const IpcMsg *m, const char *name, uint32_t *handle)
{
    struct ltk_service *s = find(sm, name);

    if (!s)
        return -ENOENT;
    *handle = s->handle;
    return ltk_add_access(sm->k, sm->fd, m->taskID, s->handle);
}

static int sm_unregister(ltk_sm *sm, const IpcMsg *m, const char *name)
{
    struct ltk_service *s = find(sm, name);

    if (!s)
        return -ENOENT;
    if (s->pid != m->processID)
        return -EPERM;
    remove_at(sm, (size_t)(s - sm->svc));
    return 0;
}

/* The reply of LIST: the header, then the entries sorted by name. Returns the entries. */
static size_t sm_list(ltk_sm *sm, const char *prefix, ltk_sm_entry *out)
{
    size_t n = 0, plen = strlen(prefix);

    for (size_t i = 0; i < sm->n; i++) {
        if (strncmp(sm->svc[i].name, prefix, plen) != 0)
            continue;
        memset(&out[n], 0, sizeof(out[n]));
        out[n].handle = sm->svc[i].handle;
        strcpy(out[n].name, sm->svc[i].name);
        n++;
    }
    qsort(out, n, sizeof(*out), by_name);
    return n;
}

static void sm_request(ltk_sm *sm, IpcMsg *m)
{
    struct {
        ltk_sm_reply head;
        ltk_sm_entry list[LTK_SM_MAX_SERVICES];
    } out;
    char name[LTK_SM_NAME_MAX];
    size_t size = sizeof(out.head);
    int r;

    memset(&out.head, 0, sizeof(out.head));
    r = msg_name(m, name, m->code == LTK_SM_LIST);
    if (r == 0 && m->code == LTK_SM_REGISTER)
        r = sm_register(sm, m, name, &out.head.handle);
    else if (r == 0 && m->code == LTK_SM_LOOKUP)
        r = sm_lookup(sm, m, name, &out.head.handle);
    else if (r == 0 && m->code == LTK_SM_UNREGISTER)
        r = sm_unregister(sm, m, name);
    else if (r == 0 && m->code == LTK_SM_LIST) {
        r = (int)sm_list(sm, name, out.list);
        size += (size_t)r * sizeof(out.list[0]);
    } else if (r == 0) {
        ltk_failed_reply(sm->k, sm->fd, m);
        return;
    }
    out.head.result = r;
    ltk_reply(sm->k, sm->fd, m, &out, (uint32_t)size);
}

static void sm_death(ltk_sm *sm, IpcMsg *m)
{
    uint32_t dead = m->target.token;

    for (size_t i = sm->n; i-- > 0;)
        if (sm->svc[i].handle == dead)
            remove_at(sm, i);
    ltk_free(sm->k, sm->fd, m);
    pthread_mutex_lock(&sm->m);
    sm->deaths++;
    pthread_cond_broadcast(&sm->c);
    pthread_mutex_unlock(&sm->m);
}

/* ---- the ServiceManager's process ------------------------------------------------------------ */

static int sm_setup(ltk_sm *sm)
{
    int r;

    liteipc_set_process_name(sm->k, "ltk-sm");
    liteipc_set_task_name(sm->k, "ltk-sm");
    sm->fd = ltk_dev_setup(sm->k, LTK_POOL, NULL);
    if (sm->fd < 0)
        return sm->fd;
    sm->tid = liteipc_self_tid(sm->k);
    sm->pid = liteipc_self_pid(sm->k);
    r = ltk_set_cms(sm->k, sm->fd, LTK_SM_MAX_MSG);
    if (r == 0)
        r = ltk_set_ipc_thread(sm->k, sm->fd);
    if (r < 0) {
        ltk_dev_close(sm->k, sm->fd);
        return r;
    }
    return 0;
}

static void *sm_main(void *arg)
{
    ltk_sm *sm = arg;
    int r = sm_setup(sm);
    IpcMsg *m;

    ltk_latch_set(&sm->ready, r);
    if (r != 0)
        return NULL;
    while (ltk_recv(sm->k, sm->fd, &m) == 0) {
        if (m->type == MT_DEATH_NOTIFY) {
            sm_death(sm, m);
        } else if (m->type != MT_REQUEST || m->flag == LITEIPC_FLAG_ONEWAY) {
            bool quit = m->type == MT_REQUEST && m->code == LTK_SM_QUIT &&
                        m->processID == (uint32_t)sm->pid;
            ltk_free(sm->k, sm->fd, m);
            if (quit)
                break;
        } else {
            sm_request(sm, m);
        }
    }
    /* Close only once the stop's send has returned: it uses this process's descriptor. */
    ltk_latch_wait(&sm->quit_sent, NULL, LTK_WAIT_MS);
    ltk_dev_close(sm->k, sm->fd);
    return NULL;
}

static void sm_free(ltk_sm *sm)
{
    ltk_latch_destroy(&sm->ready);
    ltk_latch_destroy(&sm->quit_sent);
    pthread_cond_destroy(&sm->c);
    pthread_mutex_destroy(&sm->m);
    free(sm);
}

int ltk_sm_start(liteipc_kernel *k, ltk_sm **out)
{
    ltk_sm *sm;
    long ready = 0;
    int r;

    if (!k || !out)
        return -EINVAL;
    sm = calloc(1, sizeof(*sm));
    if (!sm)
        return -ENOMEM;
    sm->k = k;
    sm->fd = -1;
    ltk_latch_init(&sm->ready);
    ltk_latch_init(&sm->quit_sent);
    pthread_mutex_init(&sm->m, NULL);
    ltk__cond_init(&sm->c);
    r = liteipc_vproc_spawn(k, sm_main, sm, &sm->vp);
    if (r != 0) {
        sm_free(sm);
        return r;
    }
    r = ltk_latch_wait(&sm->ready, &ready, LTK_WAIT_MS);
    if (r == 0 && ready == 0) {
        *out = sm;
        return 0;
    }
    ltk_latch_set(&sm->quit_sent, 1);
    liteipc_vproc_join(sm->vp, NULL);
    sm_free(sm);
    return r != 0 ? r : (int)ready;
}

static void *sm_quit_main(void *arg)
{
    ltk_sm *sm = arg;

    ltk_send(sm->k, sm->fd, 0, LTK_SM_QUIT, LITEIPC_FLAG_ONEWAY, NULL, 0);
    ltk_latch_set(&sm->quit_sent, 1);
    return NULL;
}

int ltk_sm_stop(ltk_sm *sm)
{
    int r;

    if (!sm)
        return -EINVAL;
    /* A stopped kernel has ended the loop already (ESHUTDOWN): then there is nothing to send. */
    if (liteipc_vproc_add_thread(sm->vp, sm_quit_main, sm) != 0)
        ltk_latch_set(&sm->quit_sent, 1);
    r = liteipc_vproc_join(sm->vp, NULL);
    sm_free(sm);
    return r;
}

int ltk_sm_tid(const ltk_sm *sm)
{
    return sm ? sm->tid : -EINVAL;
}

int ltk_sm_pid(const ltk_sm *sm)
{
    return sm ? sm->pid : -EINVAL;
}

int ltk_sm_wait_deaths(ltk_sm *sm, unsigned n, unsigned timeout_ms)
{
    struct timespec dl = ltk__deadline(timeout_ms);
    int rc = 0;

    pthread_mutex_lock(&sm->m);
    while (sm->deaths < n && rc == 0)
        rc = pthread_cond_timedwait(&sm->c, &sm->m, &dl);
    rc = sm->deaths >= n ? 0 : -ETIMEDOUT;
    pthread_mutex_unlock(&sm->m);
    return rc;
}

/* ---- clients -------------------------------------------------------------------------------- */

/* One request to handle 0: the reply's header into *head, up to max entries into list. The
   ServiceManager's result, or the call's error. */
static int sm_call(liteipc_kernel *k, int fd, uint32_t code, const char *name, bool empty_ok,
                   ltk_sm_reply *head, ltk_sm_entry *list, size_t max)
{
    size_t len = name ? strlen(name) : 0;
    IpcMsg *r;
    int rc;

    if ((len == 0 && !empty_ok) || len >= LTK_SM_NAME_MAX)
        return -EINVAL;
    rc = ltk_call(k, fd, 0, code, name, (uint32_t)len, &r);
    if (rc != 0)
        return rc;
    rc = -EPROTO;
    if (r->type == MT_REPLY && r->dataSz >= sizeof(*head)) {
        memcpy(head, r->data, sizeof(*head));
        rc = head->result;
    }
    if (list && rc > 0) {
        size_t have = (r->dataSz - sizeof(*head)) / sizeof(*list);
        size_t n = (size_t)rc < have ? (size_t)rc : have;

        memcpy(list, (const char *)r->data + sizeof(*head),
               (n < max ? n : max) * sizeof(*list));
    }
    ltk_free(k, fd, r);
    return rc;
}

int ltk_sm_register(liteipc_kernel *k, int fd, const char *name, uint32_t *handle)
{
    ltk_sm_reply h;
    int r = sm_call(k, fd, LTK_SM_REGISTER, name, false, &h, NULL, 0);

    if (r == 0 && handle)
        *handle = h.handle;
    return r;
}

int ltk_sm_lookup(liteipc_kernel *k, int fd, const char *name, uint32_t *handle)
{
    ltk_sm_reply h;
    int r = sm_call(k, fd, LTK_SM_LOOKUP, name, false, &h, NULL, 0);

    if (r == 0 && handle)
        *handle = h.handle;
    return r;
}

int ltk_sm_unregister(liteipc_kernel *k, int fd, const char *name)
{
    ltk_sm_reply h;

    return sm_call(k, fd, LTK_SM_UNREGISTER, name, false, &h, NULL, 0);
}

int ltk_sm_list(liteipc_kernel *k, int fd, const char *prefix, ltk_sm_entry *out, size_t max)
{
    ltk_sm_reply h;

    return sm_call(k, fd, LTK_SM_LIST, prefix, true, &h, out, max);
}

int ltk_sm_wait_service(liteipc_kernel *k, int fd, const char *name, unsigned timeout_ms,
                        uint32_t *handle)
{
    struct timespec dl = ltk__deadline(timeout_ms);
    unsigned step = 0;
    int r = ltk_wait_cms(k, fd, timeout_ms);

    while (r == 0 && (r = ltk_sm_lookup(k, fd, name, handle)) == -ENOENT &&
           !ltk__passed(&dl)) {
        ltk__backoff(&step, &dl);
        r = 0;
    }
    return r;
}
