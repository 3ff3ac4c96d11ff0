/* SPDX-License-Identifier: Apache-2.0 */
/*
 * sanitizer.h - what the tests need to know about the sanitizer they run under.
 *
 * UNDER_TSAN: ThreadSanitizer does not support threads started in a child forked from a
 * threaded process (the test's host runs the broker thread); tests whose children start
 * threads skip under it.
 */
#ifndef LITEIPC_TESTS_SANITIZER_H
#define LITEIPC_TESTS_SANITIZER_H

#if defined(__SANITIZE_THREAD__)
#define UNDER_TSAN 1
#elif defined(__has_feature)
#if __has_feature(thread_sanitizer)
#define UNDER_TSAN 1
#endif
#endif
#ifndef UNDER_TSAN
#define UNDER_TSAN 0
#endif

#endif /* LITEIPC_TESTS_SANITIZER_H */
