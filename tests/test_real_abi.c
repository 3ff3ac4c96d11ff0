/* SPDX-License-Identifier: Apache-2.0 */
/*
 * test_real_abi.c - a real program picks its ABI profile with LITEIPC_ABI (docs/ABI.md): a
 * program that lays its messages out as communication_ipc or ipc_lite does (tests/real/devprog.c
 * "abiself") exchanges them with the kernel through the shim and through the compat library
 * when its environment names that profile, is misread (EINVAL) when it does not, and cannot
 * open the device when the variable names no profile. In a 32-bit build every profile is the
 * device's own layout: there, the communication_ipc program needs no profile at all.
 */
#include "rfix.h"

#include <stdio.h>
#include <string.h>

#define CODE_BIG 0x10005u /* read as dataSz in the wrong layout: above IPC_MSG_DATA_SZ_MAX */

/* Run devprog abiself LAYOUT with env; return its "abi ..." or "open ..." line. */
static void run_abiself(r_ctx *c, const char *prog, bool preload, const char *layout,
                        const char *env, char *line, size_t len)
{
    char code[16];
    snprintf(code, sizeof(code), "%u", CODE_BIG);
    const char *argv[] = {prog, "abiself", layout, code, NULL};
    const char *extra[] = {env, NULL};
    r_child *ch = r_spawn(c, preload, argv, extra);

    r_line(ch, line, len);
    r_assert_exit0(r_wait(ch), prog);
    assert_int_equal(liteipc_kernel_wait_unused(c->k, (int)T_WAIT_MS), 0);
}

/* The message as its own layout says: code, 40 data bytes, one object at offset 4 naming the
   sender, token 9 (64-bit for communication_ipc), the sender's TID. */
#define ABI_OK_LINE "abi 0 0 65541 40 1 4 1 9 1"

static void abi_real_communication_ipc_through_shim(void **state)
{
    char line[R_LINE_MAX];
    run_abiself(*state, R_DEVPROG, true, "communication_ipc", "LITEIPC_ABI=communication_ipc",
                line, sizeof(line));
    assert_string_equal(line, ABI_OK_LINE);
}

static void abi_real_ipc_lite_through_compat(void **state)
{
    char line[R_LINE_MAX];
    run_abiself(*state, R_DEVPROG_COMPAT, false, "ipc_lite", "LITEIPC_ABI=ipc_lite", line,
                sizeof(line));
    assert_string_equal(line, ABI_OK_LINE);
}

static void abi_real_default_profile_through_shim(void **state)
{
    char line[R_LINE_MAX];
    run_abiself(*state, R_DEVPROG, true, "default", "LITEIPC_ABI=default", line, sizeof(line));
    assert_string_equal(line, ABI_OK_LINE);
}

/* Without the variable, a communication_ipc message is read in the default layout: on LP64 its
   code lands on dataSz, above the maximum (the failure that motivated the profiles); on ILP32
   the two layouts are the device's, and the message goes through whole. */
#if defined(__LP64__)
#define UNSET_CI_LINE "abi -1 22" /* EINVAL */
#else
#define UNSET_CI_LINE ABI_OK_LINE
#endif

static void abi_real_unset_profile_communication_ipc(void **state)
{
    char line[R_LINE_MAX];
    run_abiself(*state, R_DEVPROG_COMPAT, false, "communication_ipc", "LITEIPC_ABI", line,
                sizeof(line));
    assert_string_equal(line, UNSET_CI_LINE);
}

static void abi_real_unknown_profile_refuses_open(void **state)
{
    char line[R_LINE_MAX];
    run_abiself(*state, R_DEVPROG, true, "default", "LITEIPC_ABI=ipc-lite", line, sizeof(line));
    assert_string_equal(line, "open -1 22"); /* EINVAL, and a message on stderr */
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(abi_real_communication_ipc_through_shim, r_setup,
                                        r_teardown),
        cmocka_unit_test_setup_teardown(abi_real_ipc_lite_through_compat, r_setup, r_teardown),
        cmocka_unit_test_setup_teardown(abi_real_default_profile_through_shim, r_setup,
                                        r_teardown),
        cmocka_unit_test_setup_teardown(abi_real_unset_profile_communication_ipc, r_setup,
                                        r_teardown),
        cmocka_unit_test_setup_teardown(abi_real_unknown_profile_refuses_open, r_setup,
                                        r_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
