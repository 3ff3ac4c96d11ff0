/* SPDX-License-Identifier: Apache-2.0 */
/*
 * consumer_attach.c - a program linked with an installed liteipc-sim that attaches to a named
 * kernel, starting that installation's liteipcd when none serves it (with no $LITEIPCD and the
 * daemon not on PATH: the library finds it by itself). Usage: consumer_attach NAME
 */
#include <liteipc/liteipc.h>

#include <stdio.h>
#include <string.h>

int main(int argc, char **argv)
{
    liteipc_kernel *k = NULL;
    int rc;

    if (argc != 2) {
        fprintf(stderr, "usage: %s NAME\n", argv[0]);
        return 2;
    }
    rc = liteipc_kernel_attach_or_start(argv[1], &k);
    if (rc < 0) {
        fprintf(stderr, "consumer (attach): liteipc_kernel_attach_or_start(\"%s\"): %s\n",
                argv[1], strerror(-rc));
        return 1;
    }
    printf("consumer (attach): attached to \"%s\"\n", argv[1]);
    rc = liteipc_kernel_detach(k);
    return rc < 0 ? 1 : 0;
}
