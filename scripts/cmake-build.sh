#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# cmake-build.sh - configure (when needed) and build one build directory. Used by the Makefile.
#
# Usage: scripts/cmake-build.sh DIR [CMAKE_ARGS...]
#   Configures DIR from the source tree when it has no CMakeCache.txt yet or when CMAKE_ARGS
#   differ from those of the last configure done by this script; then builds it with
#   JOBS (default: the number of CPUs) parallel jobs.
set -euo pipefail

if [ $# -lt 1 ]; then
    echo "usage: $0 DIR [CMAKE_ARGS...]" >&2
    exit 2
fi
cd "$(dirname "${BASH_SOURCE[0]}")/.."
dir=$1
shift
jobs=${JOBS:-$(nproc 2>/dev/null || echo 2)}

stamp="$dir/.liteipc-configure-args"
want=$(printf '%q ' "$@")
if [ ! -f "$dir/CMakeCache.txt" ] || [ "$(cat "$stamp" 2>/dev/null)" != "$want" ]; then
    echo "cmake-build: configuring $dir: $*"
    cmake -S . -B "$dir" "$@"
    printf '%s' "$want" >"$stamp"
fi

# cmake --build runs its own make: keep the calling make's flags and job server out of it.
env -u MAKEFLAGS -u MFLAGS -u MAKELEVEL cmake --build "$dir" --parallel "$jobs"
