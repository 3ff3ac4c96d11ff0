#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# fuzz.sh - run every libFuzzer harness of a fuzz build for a while and print the figures.
#
# Usage: scripts/fuzz.sh BUILD_DIR SECONDS [HARNESS...]
#   Runs each harness (default: kernel device) SECONDS seconds, starting from the committed
#   corpus fuzz/corpus/<name>/ (read only) plus BUILD_DIR/fuzz-corpus/<name>/, where new inputs
#   are kept between runs. Crashes are written to BUILD_DIR/fuzz-artifacts/. Prints one line
#   per harness: executions, seconds, executions per second, corpus size. Exit non-zero if a
#   harness found a crash, a leak or a timeout.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

if [ $# -lt 2 ]; then
    sed -n '3,10s/^# \{0,1\}//p' "$0" >&2
    exit 2
fi
build=$1
seconds=$2
shift 2
harnesses=("$@")
[ ${#harnesses[@]} -gt 0 ] || harnesses=(kernel device)

status=0
mkdir -p "$build/fuzz-artifacts"
for h in "${harnesses[@]}"; do
    bin="$build/fuzz/fuzz_$h"
    if [ ! -x "$bin" ]; then
        echo "fuzz: $bin is missing (configure with CC=clang -DLITEIPC_FUZZ=ON)" >&2
        exit 2
    fi
    work="$build/fuzz-corpus/$h"
    log="$build/fuzz-$h.log"
    mkdir -p "$work"
    echo "fuzz: $h for ${seconds}s (log: $log)"
    rc=0
    ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1} \
        "$bin" -max_total_time="$seconds" -timeout=10 -rss_limit_mb=1024 -print_final_stats=1 \
        -artifact_prefix="$build/fuzz-artifacts/$h-" "$work" "fuzz/corpus/$h" >"$log" 2>&1 || rc=$?
    execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)
    secs=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$log" | tail -1)
    units=$(ls "$work" | wc -l)
    if [ "$rc" -ne 0 ]; then
        status=1
        echo "fuzz: $h FAILED (exit $rc); the end of $log:" >&2
        tail -40 "$log" >&2
    fi
    printf 'fuzz: %-7s %s executions in %ss (%s/s), %s new corpus inputs, exit %d\n' \
        "$h" "${execs:-?}" "$seconds" "${secs:-?}" "$units" "$rc"
done
exit $status
