/* SPDX-License-Identifier: Apache-2.0 */
/*
 * ohos_glue.h - the platform pieces OpenHarmony's IPC stacks expect from LiteOS-A, provided
 * on the host by the project (ohos/glue/): logging (ohos_glue_log.h), thread creation that
 * falls back when real-time scheduling is refused (thread.c), the IpcAuth policy feature of
 * the ServiceManager's process (ipc_auth.c) and the ServiceManager's main (samgr_main.c).
 */
#ifndef OHOS_GLUE_H
#define OHOS_GLUE_H

#ifdef __cplusplus
extern "C" {
#endif

/* How many threads were created with the creator's scheduling after SCHED_RR was refused. */
int OhosGlueSchedFallbacks(void);

#ifdef __cplusplus
}
#endif
#endif /* OHOS_GLUE_H */
