/* SPDX-License-Identifier: Apache-2.0 */
/*
 * test_kernel_dump.c - the text of the state dump (src/dump.c, liteipc_kernel_dump): every fact
 * the dump states about the ServiceManager, processes and tasks, from a kernel put into a known
 * state with the pure-layer fixture.
 */
#include "kfix.h"

#include <stdlib.h>
#include <string.h>

#include "abi.h"
#include "dump.h"

#define T(fn) cmocka_unit_test_setup_teardown(fn, t_setup, t_teardown)

/* The dump of f's kernel, as one string (free it). */
static char *dump_text(t_kfix *f)
{
    char *text = NULL;
    size_t len = 0;
    FILE *out = open_memstream(&text, &len);

    assert_non_null(out);
    lk_dump(f->k, out, NULL);
    assert_int_equal(fclose(out), 0);
    return text;
}

/* The line of text that starts with prefix (after any indentation), copied (free it). */
static char *line_of(const char *text, const char *prefix)
{
    for (const char *l = text; *l; l = strchr(l, '\n') ? strchr(l, '\n') + 1 : l + strlen(l)) {
        const char *s = l + strspn(l, " ");
        size_t n = strcspn(l, "\n");

        if (strncmp(s, prefix, strlen(prefix)) == 0)
            return strndup(l, n);
    }
    fail_msg("no line starting with '%s' in:\n%s", prefix, text);
    return NULL;
}

static void assert_line(const char *text, const char *prefix, const char *expected)
{
    char *l = line_of(text, prefix);

    if (!strstr(l, expected))
        fail_msg("line '%s' lacks '%s'", l, expected);
    free(l);
}

static void dump_empty_kernel(void **state)
{
    t_kfix *f = *state;
    char *text = dump_text(f);

    assert_line(text, "liteipc kernel:", "0 processes, 0 tasks (limits 64 and 128)");
    assert_line(text, "liteipc kernel:", "reply timeout 1 us, driver version 2");
    assert_line(text, "ServiceManager:", "none");
    assert_null(strstr(text, "processes:\n"));
    assert_null(strstr(text, "tasks:\n"));
    free(text);
}

static void dump_describes_every_process_and_task(void **state)
{
    t_kfix *f = *state;
    int c, c_pid, s, s_pid;
    int cms = t_client_server(f, &c, &c_pid, &s, &s_pid);
    int cms_pid = t_pid_of(f, cms);
    int bare = t_must_proc(f);                 /* never opened */
    int opened = t_must_proc(f);               /* opened, no pool */
    t_must_open(f, opened);
    int idle = t_must_task(f, opened);         /* no IpcTaskInfo */
    assert_int_equal(t_set_ipc_thread(f, c), c);
    assert_int_equal(t_send_req(f, c, (uint32_t)s, 1, LITEIPC_FLAG_ONEWAY), 0);
    assert_int_equal(t_send_req(f, c, (uint32_t)s, 2, LITEIPC_FLAG_ONEWAY), 0);
    assert_int_equal(t_recv(f, cms, NULL), LK_PARKED);
    char *text = dump_text(f);
    char want[96];

    if (getenv("T_SHOW_DUMP"))
        fputs(text, stderr);
    assert_line(text, "liteipc kernel:", "5 processes, 4 tasks");
    snprintf(want, sizeof want, "task %d (IPC_SET_CMS %u)", cms, T_CMS_MAX);
    assert_line(text, "ServiceManager:", want);

    snprintf(want, sizeof want, "process %d:", s_pid);
    assert_line(text, want, "pool of 64 KiB at 0x");
    assert_line(text, want, "2 messages held, ");
    snprintf(want, sizeof want, "process %d:", c_pid);
    char grant[32];
    snprintf(grant, sizeof grant, "; may call tasks %d", s);
    assert_line(text, want, grant);
    snprintf(grant, sizeof grant, "; IPC thread %d", c);
    assert_line(text, want, grant);
    snprintf(want, sizeof want, "process %d:", bare);
    assert_line(text, want, "no IPC state");
    snprintf(want, sizeof want, "process %d:", opened);
    assert_line(text, want, "opened, no pool mapped");

    snprintf(want, sizeof want, "task %d (process %d):", s, s_pid);
    assert_line(text, want, "2 queued");
    snprintf(grant, sizeof grant, "may be called by processes %d", c_pid);
    assert_line(text, want, grant);
    snprintf(want, sizeof want, "task %d (process %d):", cms, cms_pid);
    assert_line(text, want, "0 queued; waiting in RECV");
    snprintf(want, sizeof want, "task %d (process %d):", idle, opened);
    assert_line(text, want, "no IPC state yet");
    free(text);
}

/* A process's ABI profile is named unless it is the default one. */
static void dump_names_a_processs_abi_profile(void **state)
{
    t_kfix *f = *state;
    int lite = t_must_proc(f), plain = t_must_proc(f);
    char want[64];
    char *text;

    t_must_open(f, lite);
    t_must_open(f, plain);
    assert_int_equal(lk_proc_set_abi(f->k, lite, LK_ABI_IPC_LITE), 0);
    text = dump_text(f);
    snprintf(want, sizeof want, "process %d:", lite);
    assert_line(text, want, "; ABI ipc_lite");
    snprintf(want, sizeof want, "process %d: opened, no pool mapped\n", plain);
    assert_non_null(strstr(text, want)); /* the default profile is not named */
    free(text);
}

static void dump_shows_a_caller_waiting_for_its_reply(void **state)
{
    t_kfix *f = *state;
    int c, c_pid, s, s_pid;
    t_client_server(f, &c, &c_pid, &s, &s_pid);
    IpcMsg m;
    t_msg(&m, MT_REQUEST, (uint32_t)s, 7, LITEIPC_FLAG_DEFAULT);
    assert_int_equal(t_call(f, c, &m, NULL), LK_PARKED);
    IpcMsg *in = t_must_recv(f, s);
    char *text = dump_text(f);
    char want[64];

    snprintf(want, sizeof want, "task %d (process %d):", c, c_pid);
    assert_line(text, want, "waiting for a reply");
    snprintf(want, sizeof want, "process %d:", s_pid);
    assert_line(text, want, "1 message held (1 received, not freed)");
    free(text);
    assert_int_equal(t_reply(f, s, in, MT_REPLY, 7), 0);
    t_must_free(f, c, t_must_complete(f, c, 0));
}

/* The broker names the host process behind each simulated one; without it, nothing is shown. */
static void dump_shows_the_host_process_of_each_process(void **state)
{
    t_kfix *f = *state;
    int known = t_must_proc(f), unknown = t_must_proc(f);
    lk_dump_host hosts[LK_MAX_PROCS] = {0};
    char *text = NULL, want[64];
    size_t len = 0;
    FILE *out = open_memstream(&text, &len);

    hosts[known] = (lk_dump_host){.pid = 4242, .prog = "samgr"};
    assert_non_null(out);
    lk_dump(f->k, out, hosts);
    assert_int_equal(fclose(out), 0);
    snprintf(want, sizeof want, "process %d (host 4242 samgr):", known);
    assert_line(text, want, "no IPC state");
    snprintf(want, sizeof want, "process %d:", unknown);
    assert_line(text, want, "no IPC state");
    free(text);
}

/* The broker names each task after its thread; an empty name shows nothing. */
static void dump_names_each_task(void **state)
{
    t_kfix *f = *state;
    int named = t_must_ready_task(f, 0, NULL), unnamed = t_must_ready_task(f, 0, NULL);
    char names[LK_MAX_TASKS][LK_DUMP_NAME] = {{0}};
    char *text = NULL, want[64];
    size_t len = 0;
    FILE *out = open_memstream(&text, &len);

    snprintf(names[named], LK_DUMP_NAME, "echo");
    assert_non_null(out);
    lk_dump_names(f->k, out, NULL, (const char(*)[LK_DUMP_NAME])names);
    assert_int_equal(fclose(out), 0);
    snprintf(want, sizeof want, "  task %d 'echo' (process %d): ", named, t_pid_of(f, named));
    assert_non_null(strstr(text, want));
    snprintf(want, sizeof want, "  task %d (process %d): ", unnamed, t_pid_of(f, unnamed));
    assert_non_null(strstr(text, want));
    free(text);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        T(dump_empty_kernel),
        T(dump_describes_every_process_and_task),
        T(dump_names_a_processs_abi_profile),
        T(dump_shows_a_caller_waiting_for_its_reply),
        T(dump_shows_the_host_process_of_each_process),
        T(dump_names_each_task),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
