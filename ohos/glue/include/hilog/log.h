/* SPDX-License-Identifier: Apache-2.0 */
/* The inner kit's <hilog/log.h> for OpenHarmony code built on the host: see ohos_glue_log.h. */
#ifndef OHOS_GLUE_HILOG_LOG_H
#define OHOS_GLUE_HILOG_LOG_H
#include "../ohos_glue_log.h"
#endif
