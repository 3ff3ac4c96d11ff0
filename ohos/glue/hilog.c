/* SPDX-License-Identifier: Apache-2.0 */
/*
 * hilog.c - OpenHarmony's log macros on the host: one line on stderr per message, filtered by
 * $OHOS_LOG_LEVEL (see include/ohos_glue_log.h).
 */
#include <errno.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "ohos_glue_log.h"

#define GLUE_FMT_MAX 1024
#define GLUE_LINE_MAX 2048
#define GLUE_LOG_OFF 100

static int g_minLevel;
static pthread_once_t g_levelOnce = PTHREAD_ONCE_INIT;

static void ReadLevel(void)
{
    static const struct {
        const char *name;
        int level;
    } names[] = {
        {"debug", OHOS_GLUE_LOG_DEBUG}, {"info", OHOS_GLUE_LOG_INFO},
        {"warn", OHOS_GLUE_LOG_WARN},   {"error", OHOS_GLUE_LOG_ERROR},
        {"fatal", OHOS_GLUE_LOG_FATAL}, {"off", GLUE_LOG_OFF},
    };
    const char *env = getenv("OHOS_LOG_LEVEL");

    g_minLevel = OHOS_GLUE_LOG_INFO;
    if (env == NULL || env[0] == '\0')
        return;
    for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
        if (strcmp(env, names[i].name) == 0) {
            g_minLevel = names[i].level;
            return;
        }
    }
    fprintf(stderr, "ohos glue: OHOS_LOG_LEVEL=%s is not one of debug, info, warn, error, "
                    "fatal, off: using info\n", env);
}

int OhosGlueLogEnabled(int level)
{
    pthread_once(&g_levelOnce, ReadLevel);
    return level >= g_minLevel;
}

/* fmt without hilog's privacy markers: "%{public}s" becomes "%s". */
static void StripMarkers(const char *fmt, char *out, size_t size)
{
    static const char *const markers[] = {"{public}", "{private}"};
    size_t n = 0;

    while (*fmt != '\0' && n + 1 < size) {
        size_t skip = 0;
        if (fmt[0] == '%') {
            for (size_t i = 0; i < 2 && skip == 0; i++) {
                if (strncmp(fmt + 1, markers[i], strlen(markers[i])) == 0)
                    skip = strlen(markers[i]);
            }
        }
        out[n++] = *fmt++;
        fmt += skip;
    }
    out[n] = '\0';
}

void OhosGlueLogRaw(int level, const char *origin, const char *fmt, ...)
{
    static const char letters[] = "???DIWEF";
    char clean[GLUE_FMT_MAX];
    char line[GLUE_LINE_MAX];
    int saved = errno; /* upstream logs errno after the call; the log must not change it */
    int len;
    va_list ap;

    StripMarkers(fmt, clean, sizeof(clean));
    len = snprintf(line, sizeof(line), "%s[%d] %c %s: ", program_invocation_short_name,
                   (int)getpid(), letters[level & 7], origin);
    if (len < 0)
        len = 0;
    if ((size_t)len < sizeof(line)) {
        va_start(ap, fmt);
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wformat-nonliteral"
        vsnprintf(line + len, sizeof(line) - (size_t)len, clean, ap);
#pragma GCC diagnostic pop
        va_end(ap);
    }
    /* one write per line: lines of concurrent threads and processes never interleave */
    fprintf(stderr, "%s\n", line);
    errno = saved;
}
