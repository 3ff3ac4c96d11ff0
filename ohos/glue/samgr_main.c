/* SPDX-License-Identifier: Apache-2.0 */
/*
 * samgr_main.c - the main of a samgr_lite process on the host: the ServiceManager
 * (samgr_server), and the sample service. On LiteOS-A the init functions of the linked
 * services and features (SYS_SERVICE_INIT, ...) run first, then SAMGR_Bootstrap starts their
 * tasks; the process then lives until it is stopped. Here the init functions are constructors
 * (LAYER_INIT_SHARED_LIB), and SIGINT/SIGTERM stop the process with status 0.
 */
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <unistd.h>

#include "samgr_lite.h"

int main(void)
{
    sigset_t stop;
    int sig = 0;

    /* blocked before any task starts, so only sigwait below receives them */
    sigemptyset(&stop);
    sigaddset(&stop, SIGINT);
    sigaddset(&stop, SIGTERM);
    pthread_sigmask(SIG_BLOCK, &stop, NULL);

    SAMGR_Bootstrap();
    fprintf(stderr, "%s[%d]: bootstrapped; SIGTERM or SIGINT stops it\n",
            program_invocation_short_name, (int)getpid());
    sigwait(&stop, &sig);
    fprintf(stderr, "%s[%d]: stopping on signal %d\n", program_invocation_short_name,
            (int)getpid(), sig);
    return 0;
}
