/* SPDX-License-Identifier: Apache-2.0 */
/*
 * echo_client.c - a client of the sample feature (echo_service.c), built against either
 * OpenHarmony IPC stack. It looks the feature up through samgr_lite, as any client on the
 * device does, and calls it:
 *     ohos_echo_client [TEXT]           ECHO TEXT ("hello"); exit 0 if the answer is right
 *     ohos_echo_client --slow [TEXT]    then SLOW, which the service never answers: exit 0
 *                                       if the call fails (the service was killed) and
 *                                       print the error and how long the call was blocked
 * Exit status 1 for any other outcome, 2 for a usage error.
 */
#include <string.h>
#include <unistd.h>

#include "echo_proto.h"
#include "iproxy_client.h"
#include "iunknown.h"
#include "ohos_errno.h"
#include "samgr_lite.h"

typedef struct {
    int status;
    char text[sizeof(ECHO_PREFIX) + ECHO_TEXT_MAX];
} EchoAnswer;

static int OnAnswer(IOwner owner, int code, IpcIo *reply)
{
    EchoAnswer *answer = (EchoAnswer *)owner;
    size_t len = 0;
    char *text;

    /* samgr_lite HEAD calls notify with its reply IpcIo uninitialised when the call failed
       (code is SendRequest's error): read it only after a success */
    if (code != EC_SUCCESS) {
        answer->status = code;
        return code;
    }
    answer->status = EchoReadInt32(reply);
    text = EchoReadString(reply, &len);
    if (text != NULL)
        snprintf(answer->text, sizeof(answer->text), "%s", text);
    return EC_SUCCESS;
}

static long ElapsedMs(const struct timespec *since)
{
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    return (now.tv_sec - since->tv_sec) * 1000 + (now.tv_nsec - since->tv_nsec) / 1000000;
}

static int CallEcho(IClientProxy *proxy, const char *text)
{
    uint8 buf[256];
    IpcIo req;
    EchoAnswer answer = {.status = EC_FAILURE};
    char expected[sizeof(answer.text)];
    int ret;

    IpcIoInit(&req, buf, sizeof(buf), 0);
    EchoWriteString(&req, text);
    ret = proxy->Invoke(proxy, ECHO_FUNC_ECHO, &req, &answer, OnAnswer);
    snprintf(expected, sizeof(expected), ECHO_PREFIX "%s", text);
    if (ret != EC_SUCCESS || answer.status != EC_SUCCESS || strcmp(answer.text, expected) != 0) {
        ECHO_LOG("ECHO '%s' failed: Invoke %d, status %d, answer '%s'", text, ret,
                 answer.status, answer.text);
        return 1;
    }
    ECHO_LOG("ECHO '%s' -> '%s'", text, answer.text);
    return 0;
}

static int CallSlow(IClientProxy *proxy)
{
    uint8 buf[64];
    IpcIo req;
    EchoAnswer answer = {.status = EC_FAILURE};
    struct timespec start;
    int ret;

    IpcIoInit(&req, buf, sizeof(buf), 0);
    ECHO_LOG("SLOW: calling (the service never answers)");
    clock_gettime(CLOCK_MONOTONIC, &start);
    ret = proxy->Invoke(proxy, ECHO_FUNC_SLOW, &req, &answer, OnAnswer);
    if (ret == EC_SUCCESS) {
        ECHO_LOG("SLOW: unexpectedly answered after %ld ms", ElapsedMs(&start));
        return 1;
    }
    ECHO_LOG("SLOW: failed with %d after %ld ms", ret, ElapsedMs(&start));
    return 0;
}

int main(int argc, char **argv)
{
    const char *text = "hello";
    int slow = 0, rc;
    IUnknown *iUnknown;
    IClientProxy *proxy = NULL;

    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--slow") == 0)
            slow = 1;
        else if (argv[i][0] != '-' && strlen(argv[i]) <= ECHO_TEXT_MAX)
            text = argv[i];
        else {
            fprintf(stderr, "usage: %s [--slow] [TEXT of at most %d bytes]\n", argv[0],
                    ECHO_TEXT_MAX);
            return 2;
        }
    }
    iUnknown = SAMGR_GetInstance()->GetFeatureApi(ECHO_SERVICE, ECHO_FEATURE);
    if (iUnknown == NULL ||
        iUnknown->QueryInterface(iUnknown, CLIENT_PROXY_VER, (void **)&proxy) != EC_SUCCESS ||
        proxy == NULL) {
        ECHO_LOG("no feature <%s, %s>", ECHO_SERVICE, ECHO_FEATURE);
        return 1;
    }
    ECHO_LOG("found <%s, %s>", ECHO_SERVICE, ECHO_FEATURE);
    rc = CallEcho(proxy, text);
    if (rc == 0 && slow)
        rc = CallSlow(proxy);
    proxy->Release((IUnknown *)proxy);
    return rc;
}
