#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# check.sh - the whole test suite, as `make check` runs it:
#   1. build/       the test suite as is
#   2. build-asan/  the same under AddressSanitizer + UndefinedBehaviorSanitizer
#   3. build-tsan/  the same under ThreadSanitizer, if time allows
#
# CHECK_TSAN=yes runs step 3 always, no never, auto (the default) when the time spent so far
# plus an estimate for TSan (1.5 x the ASan step) stays within CHECK_BUDGET seconds (300).
# Stops at the first failure. Called by the Makefile, which passes MAKE.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

make_cmd=${MAKE:-make}
budget=${CHECK_BUDGET:-300}
tsan=${CHECK_TSAN:-auto}
start=$SECONDS
summary=()

banner() { printf '\n---- make check: %s ----\n' "$*"; }

step() { # NAME TARGET
    local t0=$SECONDS
    banner "$1"
    $make_cmd --no-print-directory "$2"
    summary+=("$(printf '%-26s passed in %ds' "$1" $((SECONDS - t0)))")
    last_step_time=$((SECONDS - t0))
}

step "test suite" test
step "test suite, ASan+UBSan" asan
asan_time=$last_step_time

elapsed=$((SECONDS - start))
estimate=$((asan_time * 3 / 2))
case "$tsan" in
yes | 1 | on | ON) run_tsan=1 ;;
no | 0 | off | OFF) run_tsan=0 ;;
*) run_tsan=$((elapsed + estimate <= budget ? 1 : 0)) ;;
esac

if [ "$run_tsan" = 1 ]; then
    step "test suite, TSan" tsan
else
    why="CHECK_TSAN=$tsan"
    [ "$tsan" = auto ] && why="${elapsed}s spent, TSan estimated at ${estimate}s, budget ${budget}s"
    summary+=("$(printf '%-26s skipped (%s); run: make tsan' "test suite, TSan" "$why")")
fi

banner "summary"
printf '  %s\n' "${summary[@]}"
printf '  total %ds\n' $((SECONDS - start))
