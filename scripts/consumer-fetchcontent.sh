#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# consumer-fetchcontent.sh - liteipc-sim as a subproject: tests/consumer/fetchcontent pulls this
# tree in with FetchContent and builds one program; the check is that the subproject defines no
# test, example or benchmark target, and that the program, calling attach_or_start with no
# $LITEIPCD, starts the build tree's liteipcd, which exits once unused.
#
# Usage: scripts/consumer-fetchcontent.sh [BUILD_DIR]   (default: build-fetchcontent)
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
source scripts/testlib.sh
out=${1:-build-fetchcontent}
rm -rf "$out"
failed=0

step "configure tests/consumer/fetchcontent in $out"
cmake -S tests/consumer/fetchcontent -B "$out" -DLITEIPC_SOURCE_DIR="$PWD" >/dev/null
extra=$(cmake --build "$out" --target help | grep -E '(test_|real_|bench|echo_demo|fuzz_)' || true)
if [ -n "$extra" ]; then
    fail "the subproject defines targets a consumer does not need: $(echo $extra)"
else
    ok "only the libraries, liteipcd and the program are defined"
fi

step "build and run the program"
env -u MAKEFLAGS -u MFLAGS -u MAKELEVEL cmake --build "$out" --parallel "${JOBS:-2}" \
    --target consumer_attach >/dev/null
name=adopt-fetch-$$
env -u LITEIPCD PATH=/usr/bin:/bin "$out/consumer_attach" "$name"
if ! wait_daemon_gone "$name" 10; then
    fail "the liteipcd started for $name still runs"
else
    ok "attach_or_start started the build tree's liteipcd; it exited once unused"
fi

[ "$failed" = 0 ] || exit 1
echo "consumer-fetchcontent: passed"
