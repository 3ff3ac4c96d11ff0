/* SPDX-License-Identifier: Apache-2.0 */
/*
 * ohos_samgr_glue.h - the lifecycle that every samgr_lite service and feature of ohos/ shares
 * (the IpcAuth feature of the glue, the sample service): a service that only hosts features,
 * and features that need no messages of their own. Header-only: it compiles against whichever
 * samgr_lite (legacy or HEAD) the including program is built with.
 */
#ifndef OHOS_SAMGR_GLUE_H
#define OHOS_SAMGR_GLUE_H

#include "feature.h"
#include "service.h"

/* A service with its name; OHOS_GLUE_SERVICE(name) initialises one. */
typedef struct {
    INHERIT_SERVICE;
    const char *name;
    Identity identity;
} OhosGlueService;

static inline const char *OhosGlueServiceName(Service *service)
{
    return ((OhosGlueService *)service)->name;
}

static inline BOOL OhosGlueServiceInitialize(Service *service, Identity identity)
{
    ((OhosGlueService *)service)->identity = identity;
    return TRUE;
}

static inline BOOL OhosGlueServiceMessage(Service *service, Request *request)
{
    (void)service;
    (void)request;
    return FALSE;
}

/* A shared task, as small system services have. */
static inline TaskConfig OhosGlueServiceTaskConfig(Service *service)
{
    TaskConfig config = {LEVEL_HIGH, PRI_NORMAL, 0x800, 20, SHARED_TASK};

    (void)service;
    return config;
}

#define OHOS_GLUE_SERVICE(serviceName)                                                       \
    {                                                                                        \
        .GetName = OhosGlueServiceName, .Initialize = OhosGlueServiceInitialize,             \
        .MessageHandle = OhosGlueServiceMessage, .GetTaskConfig = OhosGlueServiceTaskConfig, \
        .name = (serviceName),                                                               \
    }

static inline void OhosGlueFeatureInitialize(Feature *feature, Service *parent, Identity identity)
{
    (void)feature;
    (void)parent;
    (void)identity;
}

static inline void OhosGlueFeatureStop(Feature *feature, Identity identity)
{
    (void)feature;
    (void)identity;
}

static inline BOOL OhosGlueFeatureMessage(Feature *feature, Request *request)
{
    (void)feature;
    (void)request;
    return FALSE;
}

/* The lifecycle members of a feature whose GetName is nameFn. */
#define OHOS_GLUE_FEATURE_LIFECYCLE(nameFn)                                              \
    .GetName = (nameFn), .OnInitialize = OhosGlueFeatureInitialize,                      \
    .OnStop = OhosGlueFeatureStop, .OnMessage = OhosGlueFeatureMessage

#endif /* OHOS_SAMGR_GLUE_H */
