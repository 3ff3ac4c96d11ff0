/* SPDX-License-Identifier: Apache-2.0 */
/*
 * ohos_gtest_ext.h - what OpenHarmony's tests expect on top of googletest: HWTEST_F (a TEST_F
 * with a test level) and testing::ext::TestSize. Force-included (-include) before the test's
 * own "gtest/gtest.h"; the level only sorts tests on the device, here every test runs.
 */
#ifndef OHOS_GLUE_GTEST_EXT_H
#define OHOS_GLUE_GTEST_EXT_H

#include <gtest/gtest.h>

namespace testing {
namespace ext {
struct TestSizeLevels {
    int Level0 = 0, Level1 = 1, Level2 = 2, Level3 = 3, Level4 = 4;
};
static const TestSizeLevels TestSize;
} // namespace ext
} // namespace testing

#define HWTEST_F(fixture, name, level) TEST_F(fixture, name)

#endif /* OHOS_GLUE_GTEST_EXT_H */
