/* SPDX-License-Identifier: Apache-2.0 */
/*
 * ipc_auth.c - the IpcAuth policy feature that samgr_lite's ServiceManager asks for in its own
 * process (GetFeatureApi("permissionms", "ipc_auth")). On the device security_permission_lite
 * provides it; without it every registration and lookup of a remote feature fails with
 * EC_NOINIT. Linked into the ServiceManager program of ohos/ only.
 *
 * Policy:
 *   - by default, allow all: every feature may register and be called by any user ID (one
 *     RANGE policy 0..INT32_MAX, and every consumer is allowed);
 *   - with $OHOS_IPC_AUTH_POLICY=FILE, only what FILE allows. One rule a line,
 *         SERVICE FEATURE UIDMIN UIDMAX
 *     ("*" as SERVICE or FEATURE matches any; FEATURE "-" is a service's default feature;
 *     '#' starts a comment). A feature no rule matches cannot register (EC_PERMISSION), and a
 *     consumer whose user ID no matching rule covers cannot look it up. A file that cannot be
 *     read or parsed refuses everything, and says why on stderr.
 */
#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "feature.h"
#include "ipc_auth_interface.h"
#include "iunknown.h"
#include "log.h"
#include "ohos_errno.h"
#include "ohos_init.h"
#include "ohos_samgr_glue.h"
#include "samgr_lite.h"
#include "service.h"

#define AUTH_RULES_MAX 64
#define AUTH_NAME_MAX 64

typedef struct {
    char service[AUTH_NAME_MAX];
    char feature[AUTH_NAME_MAX];
    long uidMin;
    long uidMax;
} AuthRule;

static struct {
    pthread_once_t once;
    int allowAll;
    int count;
    AuthRule rules[AUTH_RULES_MAX];
} g_policy = {.once = PTHREAD_ONCE_INIT};

static int ParseLine(char *line, const char *path, int lineNo)
{
    AuthRule *rule = &g_policy.rules[g_policy.count];
    char *hash = strchr(line, '#');
    char extra;
    int n;

    if (hash != NULL)
        *hash = '\0';
    n = sscanf(line, "%63s %63s %ld %ld %c", rule->service, rule->feature, &rule->uidMin,
               &rule->uidMax, &extra);
    if (n <= 0)
        return 0; /* blank or comment */
    if (n != 4 || rule->uidMin < 0 || rule->uidMax > INT_MAX || rule->uidMin > rule->uidMax) {
        fprintf(stderr, "ohos glue: %s:%d: expected SERVICE FEATURE UIDMIN UIDMAX "
                        "(0 <= UIDMIN <= UIDMAX <= %d)\n", path, lineNo, INT_MAX);
        return -EINVAL;
    }
    if (g_policy.count == AUTH_RULES_MAX - 1) {
        fprintf(stderr, "ohos glue: %s:%d: more than %d rules\n", path, lineNo, AUTH_RULES_MAX);
        return -E2BIG;
    }
    g_policy.count++;
    return 0;
}

static void LoadPolicy(void)
{
    const char *path = getenv("OHOS_IPC_AUTH_POLICY");
    char line[256];
    int lineNo = 0;
    FILE *f;

    if (path == NULL || path[0] == '\0') {
        g_policy.allowAll = 1;
        return;
    }
    f = fopen(path, "r");
    if (f == NULL) {
        fprintf(stderr, "ohos glue: OHOS_IPC_AUTH_POLICY=%s: %s: every feature is refused\n",
                path, strerror(errno));
        return;
    }
    while (fgets(line, sizeof(line), f) != NULL) {
        if (ParseLine(line, path, ++lineNo) < 0) {
            g_policy.count = 0; /* a broken policy refuses everything */
            break;
        }
    }
    fclose(f);
}

static int NameMatches(const char *pattern, const char *name)
{
    if (strcmp(pattern, "*") == 0)
        return 1;
    if (name == NULL)
        return strcmp(pattern, "-") == 0;
    return strcmp(pattern, name) == 0;
}

/* The rules for (service, feature): their count, and up to max of them copied to out. */
static unsigned int FindRules(const char *service, const char *feature, PolicyTrans *out,
                              unsigned int max)
{
    unsigned int found = 0;

    for (int i = 0; i < g_policy.count; i++) {
        const AuthRule *rule = &g_policy.rules[i];
        if (!NameMatches(rule->service, service) || !NameMatches(rule->feature, feature))
            continue;
        if (out != NULL && found < max) {
            memset(&out[found], 0, sizeof(out[found]));
            out[found].type = RANGE;
            out[found].uidMin = (int)rule->uidMin;
            out[found].uidMax = (int)rule->uidMax;
        }
        found++;
    }
    return found;
}

static int GetCommunicationStrategy(RegParams params, PolicyTrans **policies,
                                    unsigned int *policyNum)
{
    unsigned int n;

    pthread_once(&g_policy.once, LoadPolicy);
    n = g_policy.allowAll ? 1 : FindRules(params.service, params.feature, NULL, 0);
    if (n == 0) {
        HILOG_WARN(HILOG_MODULE_SCY, "IpcAuth: no policy allows <%s, %s> to register",
                   params.service, params.feature ? params.feature : "-");
        return EC_PERMISSION;
    }
    *policies = calloc(n, sizeof(PolicyTrans)); /* freed by samgr with SAMGR_Free (free) */
    if (*policies == NULL)
        return EC_NOMEMORY;
    if (g_policy.allowAll) {
        (*policies)[0].type = RANGE;
        (*policies)[0].uidMin = 0;
        (*policies)[0].uidMax = INT_MAX;
    } else {
        FindRules(params.service, params.feature, *policies, n);
    }
    *policyNum = n;
    return EC_SUCCESS;
}

static int IsCommunicationAllowed(AuthParams params)
{
    pthread_once(&g_policy.once, LoadPolicy);
    if (g_policy.allowAll)
        return EC_SUCCESS;
    for (int i = 0; i < g_policy.count; i++) {
        const AuthRule *rule = &g_policy.rules[i];
        if (NameMatches(rule->service, params.providerService) &&
            NameMatches(rule->feature, params.providerfeature) &&
            (long)params.consumerUid >= rule->uidMin && (long)params.consumerUid <= rule->uidMax)
            return EC_SUCCESS;
    }
    HILOG_WARN(HILOG_MODULE_SCY, "IpcAuth: uid %u may not call <%s, %s>", params.consumerUid,
               params.providerService, params.providerfeature ? params.providerfeature : "-");
    return EC_PERMISSION;
}

/* ---- the service and its feature, registered in samgr as security_permission_lite does ---- */

typedef struct {
    INHERIT_FEATURE;
    INHERIT_IUNKNOWNENTRY(IpcAuthInterface);
} AuthFeature;

static const char *FeatureName(Feature *feature)
{
    (void)feature;
    return IPCAUTH;
}

static OhosGlueService g_authService = OHOS_GLUE_SERVICE(PERMISSION_SERVICE);

static AuthFeature g_authFeature = {
    OHOS_GLUE_FEATURE_LIFECYCLE(FeatureName),
    DEFAULT_IUNKNOWN_ENTRY_BEGIN,
    .GetCommunicationStrategy = GetCommunicationStrategy,
    .IsCommunicationAllowed = IsCommunicationAllowed,
    DEFAULT_IUNKNOWN_ENTRY_END,
};

static void AuthServiceInit(void)
{
    SAMGR_GetInstance()->RegisterService((Service *)&g_authService);
}
SYS_SERVICE_INIT(AuthServiceInit);

static void AuthFeatureInit(void)
{
    SAMGR_GetInstance()->RegisterFeature(PERMISSION_SERVICE, (Feature *)&g_authFeature);
    SAMGR_GetInstance()->RegisterFeatureApi(PERMISSION_SERVICE, IPCAUTH,
                                            GET_IUNKNOWN(g_authFeature));
}
SYS_FEATURE_INIT(AuthFeatureInit);
