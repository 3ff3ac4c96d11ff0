#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# cmake-build.sh - configure (when needed) and build one build directory. Used by the Makefile.
#
# Usage: scripts/cmake-build.sh [--quiet] [--target T]... DIR [CMAKE_ARGS...]
#   Configures DIR from the source tree when it has no CMakeCache.txt yet or when CMAKE_ARGS
#   differ from those of the last configure done by this script; then builds it (only the
#   targets T, if given) with JOBS (default: the number of CPUs) parallel jobs.
#   --quiet  writes the configure and build output to DIR/build.log and prints one line
#            instead (the log's last lines as well if the build fails).
set -euo pipefail

quiet=0
targets=()
names=()
while [ $# -gt 0 ]; do
    case "$1" in
    --quiet) quiet=1 ;;
    --target)
        [ $# -ge 2 ] || { echo "cmake-build: --target wants a target name" >&2; exit 2; }
        targets+=(--target "$2")
        names+=("$2")
        shift
        ;;
    *) break ;;
    esac
    shift
done
if [ $# -lt 1 ]; then
    echo "usage: $0 [--quiet] [--target T]... DIR [CMAKE_ARGS...]" >&2
    exit 2
fi
cd "$(dirname "${BASH_SOURCE[0]}")/.."
dir=$1
shift
jobs=${JOBS:-$(nproc 2>/dev/null || echo 2)}

if [ "$quiet" = 1 ]; then
    mkdir -p "$dir"
    log="$dir/build.log"
    start=$(date +%s)
    if ! "$0" ${targets[@]+"${targets[@]}"} "$dir" "$@" >"$log" 2>&1; then
        tail -n 30 "$log" >&2
        echo "cmake-build: building $dir failed; the whole output is in $log" >&2
        exit 1
    fi
    what=${names[*]+"${names[*]}"}
    echo "cmake-build: $dir${what:+ ($what)} built in $(($(date +%s) - start)) s (log: $log)"
    exit 0
fi

stamp="$dir/.liteipc-configure-args"
want=$(printf '%q ' "$@")
if [ ! -f "$dir/CMakeCache.txt" ] || [ "$(cat "$stamp" 2>/dev/null)" != "$want" ]; then
    echo "cmake-build: configuring $dir: $*"
    cmake -S . -B "$dir" "$@"
    printf '%s' "$want" >"$stamp"
fi

# cmake --build runs its own make: keep the calling make's flags and job server out of it.
env -u MAKEFLAGS -u MFLAGS -u MAKELEVEL cmake --build "$dir" --parallel "$jobs" \
    ${targets[@]+"${targets[@]}"}
