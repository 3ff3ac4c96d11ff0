/* SPDX-License-Identifier: Apache-2.0 */
/*
 * version.c - the version of the library itself, as opposed to that of the headers a program
 * was compiled with (include/liteipc/version.h).
 */
#include <liteipc/liteipc.h>

const char *liteipc_version(void)
{
    return LITEIPC_VERSION_STRING;
}
