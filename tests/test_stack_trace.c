/* SPDX-License-Identifier: Apache-2.0 */
/*
 * test_stack_trace.c - liteipc_trace_start/stop: a kernel's events as a Mermaid sequence diagram.
 * Participants are named after their tasks. A call and its reply, a one-way message, a
 * synchronous wait that times out and a task that ends are each drawn with their own arrow or
 * note, and so are IPC_SET_CMS, IPC_SET_IPC_THREAD, a handle generated, the grants and a refused
 * call; bad arguments give EINVAL and an attached kernel EPERM. liteipc_trace_start_format:
 * payload previews in the arrows; Chrome JSON shows the same timeout, death, grants and
 * refusal, and stopped in the middle of a call still closes every slice it opened and itself.
 */
#include "sfix.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define T(fn) cmocka_unit_test_setup_teardown(fn, t_setup, t_teardown)
#define T_FAST(fn) cmocka_unit_test_setup_teardown(fn, t_setup_fast, t_teardown)

struct drawing {
    char *text;
    size_t len;
    FILE *out;
    liteipc_trace *trace;
};

static void draw_start_format(struct drawing *d, liteipc_kernel *k, unsigned format)
{
    d->out = open_memstream(&d->text, &d->len);
    assert_non_null(d->out);
    assert_int_equal(liteipc_trace_start_format(k, d->out, format, &d->trace), 0);
}

static void draw_start(struct drawing *d, liteipc_kernel *k)
{
    draw_start_format(d, k, LITEIPC_TRACE_MERMAID);
}

static void draw_stop(struct drawing *d)
{
    assert_int_equal(liteipc_trace_stop(d->trace), 0);
    assert_int_equal(fclose(d->out), 0);
}

static void assert_drawn(const struct drawing *d, const char *line)
{
    if (!strstr(d->text, line))
        fail_msg("no '%s' in the diagram:\n%s", line, d->text);
}

static void trace_draws_a_call_its_reply_and_a_one_way(void **state)
{
    t_ctx *c = *state;
    t_svc cms = {.cms_size = T_CMS_BIG};
    struct drawing d = {0};
    IpcMsg *r = NULL;
    char want[96];
    int fd, me, pid;

    t_svc_start(&cms, c->k);
    fd = t_dev_setup(c->k, T_POOL, NULL);
    assert_true(fd >= 0);
    me = liteipc_self_tid(c->k);
    pid = liteipc_self_pid(c->k);
    assert_int_equal(liteipc_set_task_name(c->k, "caller;#1"), 0); /* Mermaid-safe: '_' */
    draw_start(&d, c->k);
    assert_ok(t_call(c->k, fd, 0, T_CODE_ECHO, "hi", 2, &r));
    assert_ok(t_free(c->k, fd, r));
    assert_ok(t_svc_quit(&cms, c->k, fd, true)); /* a one-way QUIT */
    t_svc_join(&cms);
    draw_stop(&d);
    liteipc_close(c->k, fd);

    assert_memory_equal(d.text, "sequenceDiagram\n", 16);
    snprintf(want, sizeof want, "    participant T%d as caller__1 (task %d of pid %d)\n", me, me,
             pid);
    assert_drawn(&d, want);
    snprintf(want, sizeof want, "    T%d->>T%d: request code %d (2 B)\n", me, cms.tid, T_CODE_ECHO);
    assert_drawn(&d, want);
    snprintf(want, sizeof want, "    T%d-->>T%d: reply code %d (2 B)\n", cms.tid, me, T_CODE_ECHO);
    assert_drawn(&d, want);
    snprintf(want, sizeof want, "    T%d-)T%d: one-way code ", me, cms.tid);
    assert_drawn(&d, want);
    snprintf(want, sizeof want, "    Note over T%d: waits\n", me);
    assert_drawn(&d, want);
    free(d.text);
}

/* A client process whose call to handle 0 is never answered: it times out, then ends. */
static void *unanswered_client(void *arg)
{
    liteipc_kernel *k = arg;
    int fd = t_dev_setup(k, T_POOL, NULL);
    IpcMsg *r = NULL;

    T_CHECK(fd >= 0);
    T_CHECK_ERR(t_call(k, fd, 0, T_CODE_ECHO, "x", 1, &r), ETIME);
    liteipc_close(k, fd);
    return (void *)(intptr_t)liteipc_self_tid(k);
}

/* Counts of a substring. */
static int count_of(const char *text, const char *what)
{
    int n = 0;

    for (const char *p = strstr(text, what); p; p = strstr(p + 1, what))
        n++;
    return n;
}

/* Chrome JSON that ended well: the header, every slice begun was ended, the end. */
static void assert_complete_json(const struct drawing *j)
{
    assert_memory_equal(j->text, "{\"displayTimeUnit\":\"ms\"", 22);
    assert_string_equal(j->text + j->len - 4, "\n]}\n");
    assert_int_equal(count_of(j->text, "{\"ph\":\"B\""), count_of(j->text, "{\"ph\":\"E\""));
    assert_int_equal(count_of(j->text, "{\"ph\":\"s\""), count_of(j->text, "{\"ph\":\"f\""));
}

static void trace_draws_a_timeout_and_a_task_death(void **state)
{
    t_ctx *c = *state;
    struct drawing d = {0}, j = {0};
    IpcMsg *m = NULL;
    char want[96];
    int fd = t_dev_setup(c->k, T_POOL, NULL), client;

    assert_true(fd >= 0);
    assert_ok(t_set_cms(c->k, fd, T_CMS_BIG)); /* the CMS never answers: we do not receive */
    draw_start(&d, c->k);
    draw_start_format(&j, c->k, LITEIPC_TRACE_CHROME);
    client = (int)(intptr_t)t_run_in_vproc(c->k, unanswered_client, c->k);
    t_assert_threads_ok();
    assert_ok(t_recv(c->k, fd, &m)); /* the request is still queued to us; take it out */
    assert_ok(t_free(c->k, fd, m));
    draw_stop(&d);
    draw_stop(&j);
    liteipc_close(c->k, fd);

    snprintf(want, sizeof want, "    Note over T%d: ETIME, no reply in time\n", client);
    assert_drawn(&d, want);
    snprintf(want, sizeof want, "    Note over T%d: task ends\n", client);
    assert_drawn(&d, want);
    free(d.text);
    /* The same as instants on the client's track, its call and wait ended by the timeout. */
    assert_complete_json(&j);
    snprintf(want, sizeof want, "\"tid\":%d,\"ts\":", client);
    assert_drawn(&j, want);
    assert_drawn(&j, ",\"name\":\"ETIME, no reply in time\",\"s\":\"t\"}");
    assert_drawn(&j, ",\"name\":\"task ends\",\"s\":\"t\"}");
    assert_drawn(&j, ",\"name\":\"read request code 1\"");
    free(j.text);
}

/* A client process that calls the service before it is granted, then asks for access. */
static void *refused_client(void *arg)
{
    liteipc_kernel *k = ((void **)arg)[0];
    uint32_t handle = (uint32_t)(uintptr_t)((void **)arg)[1];
    int fd = t_dev_setup(k, T_POOL, NULL);

    T_CHECK(fd >= 0);
    T_CHECK_EQ(liteipc_set_task_name(k, "client-B"), 0);
    T_CHECK_EQ(liteipc_set_process_name(k, "client-B"), 0);
    T_CHECK_ERR(t_send(k, fd, handle, 5, LITEIPC_FLAG_ONEWAY, "x", 1), EACCES);
    T_CHECK_OK(t_request_grant(k, fd, handle));
    liteipc_close(k, fd);
    return (void *)(intptr_t)liteipc_self_tid(k);
}

static void trace_draws_the_access_model(void **state)
{
    t_ctx *c = *state;
    t_svc cms = {.cms_size = T_CMS_BIG, .ipc_thread = true};
    struct drawing d = {0}, j = {0};
    char want[128];
    void *args[2];
    int fd, me, pid, client;

    draw_start(&d, c->k);
    draw_start_format(&j, c->k, LITEIPC_TRACE_CHROME);
    t_svc_start(&cms, c->k);
    fd = t_dev_setup(c->k, T_POOL, NULL);
    assert_true(fd >= 0);
    assert_int_equal(liteipc_set_task_name(c->k, "svc"), 0);
    me = liteipc_self_tid(c->k);
    pid = liteipc_self_pid(c->k);
    assert_ok(t_prime_task(c->k, fd));
    assert_ok(t_request_register(c->k, fd));
    args[0] = c->k;
    args[1] = (void *)(uintptr_t)me;
    client = (int)(intptr_t)t_run_in_vproc(c->k, refused_client, args);
    t_assert_threads_ok();
    assert_ok(t_svc_quit(&cms, c->k, fd, true));
    t_svc_join(&cms);
    draw_stop(&d);
    draw_stop(&j);
    liteipc_close(c->k, fd);

    assert_complete_json(&j);
    assert_drawn(&j, ",\"name\":\"IPC_SET_CMS, the ServiceManager\"");
    assert_drawn(&j, ",\"name\":\"IPC_SET_IPC_THREAD, its process's IPC thread\"");
    snprintf(want, sizeof want, ",\"name\":\"CMS_GEN_HANDLE: handle %d\"", me);
    assert_drawn(&j, want);
    snprintf(want, sizeof want, "\"args\":{\"name\":\"client-B (task %d)\"}", client);
    assert_drawn(&j, want);
    snprintf(want, sizeof want,
             ",\"name\":\"IPC_SEND_RECV_MSG refused, EACCES\",\"s\":\"t\",\"args\":{"
             "\"errno\":\"EACCES\",\"ioctl\":\"IPC_SEND_RECV_MSG\",\"code\":5,\"handle\":%d}",
             me);
    assert_drawn(&j, want);
    snprintf(want, sizeof want, " client-B may call handle %d\",\"s\":\"t\"", me);
    assert_drawn(&j, want);
    assert_drawn(&j, "\"grantee\":\"client-B\",\"by\":\"CMS_ADD_ACCESS\",\"service\":\"svc\"");
    free(j.text);

    snprintf(want, sizeof want, "    Note over T%d: IPC_SET_CMS, the ServiceManager\n", cms.tid);
    assert_drawn(&d, want);
    snprintf(want, sizeof want, "    Note over T%d: IPC_SET_IPC_THREAD, its process's IPC thread\n",
             cms.tid);
    assert_drawn(&d, want);
    snprintf(want, sizeof want, "    participant T%d as svc (task %d of pid %d)\n", me, me, pid);
    assert_drawn(&d, want);
    snprintf(want, sizeof want, "    Note over T%d,T%d: CMS_GEN_HANDLE: handle %d\n", cms.tid, me,
             me);
    assert_drawn(&d, want);
    snprintf(want, sizeof want, "    Note over T%d,T%d: pid %d ", cms.tid, me, cms.pid);
    assert_drawn(&d, want);
    snprintf(want, sizeof want, " may call handle %d (CMS_GEN_HANDLE)\n", me);
    assert_drawn(&d, want);
    snprintf(want, sizeof want, "    participant T%d as client-B (task %d of pid ", client, client);
    assert_drawn(&d, want);
    snprintf(want, sizeof want,
             "    Note over T%d: IPC_SEND_RECV_MSG refused, EACCES (code 5 to handle %d)\n",
             client, me);
    assert_drawn(&d, want);
    snprintf(want, sizeof want, " client-B may call handle %d (CMS_ADD_ACCESS)\n", me);
    assert_drawn(&d, want);
    free(d.text);
}

static void trace_draws_payload_previews(void **state)
{
    t_ctx *c = *state;
    t_svc cms = {.cms_size = T_CMS_BIG};
    struct drawing d = {0};
    IpcMsg *r = NULL;
    char want[96];
    int fd, me;

    t_svc_start(&cms, c->k);
    fd = t_dev_setup(c->k, T_POOL, NULL);
    assert_true(fd >= 0);
    me = liteipc_self_tid(c->k);
    draw_start_format(&d, c->k, LITEIPC_TRACE_MERMAID | LITEIPC_TRACE_PREVIEW);
    assert_ok(t_call(c->k, fd, 0, T_CODE_ECHO, "hi; there", 9, &r)); /* ';' ends a line */
    assert_ok(t_free(c->k, fd, r));
    assert_ok(t_call(c->k, fd, 0, T_CODE_ECHO, "\x01\x02", 2, &r)); /* not text: hex */
    assert_ok(t_free(c->k, fd, r));
    assert_ok(t_call(c->k, fd, 0, T_CODE_ECHO, "0123456789abcdefXYZ", 19, &r));
    assert_ok(t_free(c->k, fd, r));
    assert_ok(t_svc_quit(&cms, c->k, fd, true));
    t_svc_join(&cms);
    draw_stop(&d);
    liteipc_close(c->k, fd);

    snprintf(want, sizeof want, "    T%d->>T%d: request code %d (9 B) [hi_ there]\n", me,
             cms.tid, T_CODE_ECHO);
    assert_drawn(&d, want);
    snprintf(want, sizeof want, "    T%d-->>T%d: reply code %d (2 B) [01 02]\n", cms.tid, me,
             T_CODE_ECHO);
    assert_drawn(&d, want);
    assert_drawn(&d, " (19 B) [0123456789abcdef...]\n"); /* the first 16 bytes */
    free(d.text);
}

/* The service that, given the request, stops the trace (in s->user) while the caller waits. */
static int stop_trace_mid_call(t_svc *s, IpcMsg *msg)
{
    if (msg->code != T_CODE_ECHO)
        return T_SVC_DEFAULT;
    draw_stop(s->user); /* never answered: the caller's call times out */
    return T_SVC_HANDLED;
}

static void trace_chrome_stopped_mid_call_is_complete(void **state)
{
    t_ctx *c = *state;
    struct drawing d = {0};
    t_svc cms = {.cms_size = T_CMS_BIG, .handler = stop_trace_mid_call, .user = &d};
    IpcMsg *r = NULL;
    char want[96];
    int fd, me;

    draw_start_format(&d, c->k, LITEIPC_TRACE_CHROME | LITEIPC_TRACE_PREVIEW);
    t_svc_start(&cms, c->k);
    fd = t_dev_setup(c->k, T_POOL, NULL);
    assert_true(fd >= 0);
    assert_int_equal(liteipc_set_task_name(c->k, "caller\"1"), 0); /* JSON-escaped */
    me = liteipc_self_tid(c->k);
    assert_errno(t_call(c->k, fd, 0, T_CODE_ECHO, "ping", 4, &r), ETIME);
    assert_ok(t_svc_quit(&cms, c->k, fd, true));
    t_svc_join(&cms);
    liteipc_close(c->k, fd);

    assert_complete_json(&d);
    snprintf(want, sizeof want, "\"args\":{\"name\":\"caller\\\"1 (task %d)\"}", me);
    assert_drawn(&d, want);
    snprintf(want, sizeof want, "\"tid\":%d,\"ts\":", me);
    assert_drawn(&d, want);
    assert_drawn(&d, ",\"name\":\"call "); /* the service by its name */
    assert_drawn(&d, ",\"name\":\"wait for the reply\"}");
    assert_drawn(&d, "\"preview\":\"ping\"");
    assert_drawn(&d, "\"ph\":\"s\"");
    assert_drawn(&d, "\"ph\":\"f\"");
    free(d.text);
}

static void trace_argument_errors(void **state)
{
    t_ctx *c = *state;
    liteipc_trace *t = NULL;

    assert_int_equal(liteipc_trace_start(NULL, stderr, &t), -EINVAL);
    assert_int_equal(liteipc_trace_start(c->k, NULL, &t), -EINVAL);
    assert_int_equal(liteipc_trace_start(c->k, stderr, NULL), -EINVAL);
    assert_int_equal(liteipc_trace_stop(NULL), -EINVAL);
    assert_int_equal(liteipc_trace_start_format(c->k, stderr, 2, &t), -EINVAL);
    assert_int_equal(liteipc_trace_start_format(c->k, stderr, 0x80, &t), -EINVAL);
}

static void trace_of_an_attached_kernel_eperm(void **state)
{
    char name[64];
    liteipc_kernel *host, *attached;
    liteipc_trace *t = NULL;

    (void)state;
    snprintf(name, sizeof name, "test-trace-%d", (int)getpid());
    assert_int_equal(liteipc_kernel_serve(name, NULL, &host), 0);
    assert_int_equal(liteipc_kernel_attach(name, &attached), 0);
    assert_int_equal(liteipc_trace_start(attached, stderr, &t), -EPERM);
    assert_int_equal(liteipc_kernel_detach(attached), 0);
    assert_int_equal(liteipc_kernel_stop(host), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        T(trace_draws_a_call_its_reply_and_a_one_way),
        T_FAST(trace_draws_a_timeout_and_a_task_death),
        T(trace_draws_the_access_model),
        T(trace_draws_payload_previews),
        T_FAST(trace_chrome_stopped_mid_call_is_complete),
        T(trace_argument_errors),
        cmocka_unit_test(trace_of_an_attached_kernel_eperm),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
