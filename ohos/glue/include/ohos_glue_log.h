/* SPDX-License-Identifier: Apache-2.0 */
/*
 * ohos_glue_log.h - OpenHarmony's logging macros, printed to stderr on the host.
 *
 * OpenHarmony's code logs through two families of macros with one shape, HILOG_<LEVEL>(first,
 * fmt, ...): hilog_lite's <log.h> (first = a module, HILOG_MODULE_SAMGR) and the inner kit's
 * <hilog/log.h> (first = a log type, LOG_CORE). Both headers of the glue include this one, so
 * upstream files compile unchanged and print one line per message:
 *     samgr[pid 1234] I HILOG_MODULE_SAMGR: Register endpoint<...>
 * The level shown is chosen by $OHOS_LOG_LEVEL: debug, info (the default), warn, error, fatal
 * or off. The "{public}" and "{private}" markers of hilog's format strings are dropped.
 */
#ifndef OHOS_GLUE_LOG_H
#define OHOS_GLUE_LOG_H

#ifdef __cplusplus
extern "C" {
#endif

enum OhosGlueLogLevel {
    OHOS_GLUE_LOG_DEBUG = 3,
    OHOS_GLUE_LOG_INFO = 4,
    OHOS_GLUE_LOG_WARN = 5,
    OHOS_GLUE_LOG_ERROR = 6,
    OHOS_GLUE_LOG_FATAL = 7,
};

/* Whether a message of this level is printed ($OHOS_LOG_LEVEL, read once). */
int OhosGlueLogEnabled(int level);
/* Print one line; the "{public}"/"{private}" markers of fmt are dropped (not printf's). */
void OhosGlueLogRaw(int level, const char *origin, const char *fmt, ...);
#define OHOS_GLUE_LOG(level, origin, ...)                                 \
    do {                                                                  \
        if (OhosGlueLogEnabled(level))                                    \
            OhosGlueLogRaw((level), (origin), __VA_ARGS__);               \
    } while (0)

#define HILOG_DEBUG(first, ...) OHOS_GLUE_LOG(OHOS_GLUE_LOG_DEBUG, #first, __VA_ARGS__)
#define HILOG_INFO(first, ...) OHOS_GLUE_LOG(OHOS_GLUE_LOG_INFO, #first, __VA_ARGS__)
#define HILOG_WARN(first, ...) OHOS_GLUE_LOG(OHOS_GLUE_LOG_WARN, #first, __VA_ARGS__)
#define HILOG_ERROR(first, ...) OHOS_GLUE_LOG(OHOS_GLUE_LOG_ERROR, #first, __VA_ARGS__)
#define HILOG_FATAL(first, ...) OHOS_GLUE_LOG(OHOS_GLUE_LOG_FATAL, #first, __VA_ARGS__)

/* The names passed as the first argument also exist as values, for code that stores them. */
typedef enum {
    HILOG_MODULE_HIVIEW = 0,
    HILOG_MODULE_SAMGR,
    HILOG_MODULE_UPDATE,
    HILOG_MODULE_ACE,
    HILOG_MODULE_APP,
    HILOG_MODULE_AAFWK,
    HILOG_MODULE_GRAPHIC,
    HILOG_MODULE_MEDIA,
    HILOG_MODULE_DMS,
    HILOG_MODULE_SEN,
    HILOG_MODULE_SCY,
    HILOG_MODULE_SOFTBUS,
    HILOG_MODULE_POWERMGR,
    HILOG_MODULE_UIKIT,
    HILOG_MODULE_GLOBAL,
    HILOG_MODULE_DATAMGR,
    HILOG_MODULE_MAX
} HiLogModuleType;

typedef enum { LOG_TYPE_MIN = 0, LOG_INIT = 1, LOG_CORE = 3, LOG_TYPE_MAX } LogType;

typedef enum { LOG_DEBUG = 3, LOG_INFO = 4, LOG_WARN = 5, LOG_ERROR = 6, LOG_FATAL = 7 } LogLevel;

#ifdef __cplusplus
}
#endif
#endif /* OHOS_GLUE_LOG_H */
