/* SPDX-License-Identifier: Apache-2.0 */
/*
 * echo_service.c - a sample samgr_lite service with one remote feature, built against either
 * OpenHarmony IPC stack (see echo_proto.h). Its process is started by glue/samgr_main.c.
 *   ECHO: answers "echo: " + the caller's string;
 *   SLOW: says "working" and never answers, so that a test can kill the service mid-call.
 */
#include <signal.h>
#include <string.h>
#include <unistd.h>

#include "echo_proto.h"
#include "feature.h"
#include "iproxy_server.h"
#include "iunknown.h"
#include "ohos_errno.h"
#include "ohos_init.h"
#include "ohos_samgr_glue.h"
#include "samgr_lite.h"
#include "service.h"

typedef struct {
    INHERIT_FEATURE;
    INHERIT_IUNKNOWNENTRY(IServerProxy);
} EchoFeature;

static int32 EchoInvoke(IServerProxy *proxy, int funcId, void *origin, IpcIo *req, IpcIo *reply)
{
    char answer[sizeof(ECHO_PREFIX) + ECHO_TEXT_MAX];
    size_t len = 0;
    char *text;

    (void)proxy;
    (void)origin;
    switch (funcId) {
    case ECHO_FUNC_ECHO:
        text = EchoReadString(req, &len);
        if (text == NULL || len > ECHO_TEXT_MAX) {
            EchoWriteInt32(reply, EC_INVALID);
            return EC_INVALID;
        }
        snprintf(answer, sizeof(answer), ECHO_PREFIX "%s", text);
        ECHO_LOG("ECHO '%s' -> '%s'", text, answer);
        EchoWriteInt32(reply, EC_SUCCESS);
        EchoWriteString(reply, answer);
        return EC_SUCCESS;
    case ECHO_FUNC_SLOW:
        ECHO_LOG("SLOW: working (never answers)");
        for (;;)
            pause(); /* until the test kills this process */
    default:
        EchoWriteInt32(reply, EC_INVALID);
        return EC_INVALID;
    }
}

static const char *FeatureName(Feature *feature)
{
    (void)feature;
    return ECHO_FEATURE;
}

static OhosGlueService g_service = OHOS_GLUE_SERVICE(ECHO_SERVICE);

static EchoFeature g_feature = {
    OHOS_GLUE_FEATURE_LIFECYCLE(FeatureName),
    SERVER_IPROXY_IMPL_BEGIN,
    .Invoke = EchoInvoke,
    IPROXY_END,
};

static void EchoServiceInit(void)
{
    SAMGR_GetInstance()->RegisterService((Service *)&g_service);
}
SYS_SERVICE_INIT(EchoServiceInit);

static void EchoFeatureInit(void)
{
    SAMGR_GetInstance()->RegisterFeature(ECHO_SERVICE, (Feature *)&g_feature);
    SAMGR_GetInstance()->RegisterFeatureApi(ECHO_SERVICE, ECHO_FEATURE, GET_IUNKNOWN(g_feature));
}
SYS_FEATURE_INIT(EchoFeatureInit);
