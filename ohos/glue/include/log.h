/* SPDX-License-Identifier: Apache-2.0 */
/* hilog_lite's <log.h> for OpenHarmony code built on the host: see ohos_glue_log.h. */
#ifndef OHOS_GLUE_HILOG_LITE_LOG_H
#define OHOS_GLUE_HILOG_LITE_LOG_H
#include "ohos_glue_log.h"
#endif
