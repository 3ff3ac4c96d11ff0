#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# consumer-check.sh - build and run tests/consumer against an installed liteipc-sim.
#
# Usage: scripts/consumer-check.sh PREFIX [BUILD_DIR]
#   PREFIX     where liteipc-sim was installed (cmake --install build --prefix PREFIX)
#   BUILD_DIR  scratch directory for the consumer build (default: build-consumer)
#
# Checks, as C11 and as C++11, with -Wall -Wextra -Wpedantic -Werror:
#   1. find_package(liteipc) + liteipc::liteipc (a standalone CMake project), run with CTest;
#   2. cc/c++ with `pkg-config --cflags --libs liteipc`, run (and the test kit's consumer);
#   and where the compat layer is installed, the same for unchanged device code with
#   liteipc::compat and `pkg-config --libs liteipc-compat`, run against the installed liteipcd.
set -euo pipefail

if [ $# -lt 1 ]; then
    echo "usage: $0 PREFIX [BUILD_DIR]" >&2
    exit 2
fi
prefix=$(cd "$1" && pwd)
cd "$(dirname "${BASH_SOURCE[0]}")/.."
src=$PWD/tests/consumer
out=${2:-build-consumer}
rm -rf "$out"
mkdir -p "$out"
out=$(cd "$out" && pwd)

config=$(find "$prefix" -name liteipcConfig.cmake -print -quit)
pcfile=$(find "$prefix" -name liteipc.pc -print -quit)
if [ -z "$config" ] || [ -z "$pcfile" ]; then
    echo "consumer-check: no liteipcConfig.cmake or liteipc.pc under $prefix" >&2
    exit 1
fi

echo "consumer-check: find_package(liteipc) from $(dirname "$config")"
cmake -S "$src" -B "$out/cmake" -DCMAKE_PREFIX_PATH="$prefix" \
    -Dliteipc_DIR="$(dirname "$config")"
env -u MAKEFLAGS -u MFLAGS -u MAKELEVEL cmake --build "$out/cmake" --parallel 2
(cd "$out/cmake" && ctest --output-on-failure --no-tests=error)

echo "consumer-check: pkg-config from $(dirname "$pcfile")"
PKG_CONFIG_PATH="$(dirname "$pcfile")${PKG_CONFIG_PATH:+:$PKG_CONFIG_PATH}"
export PKG_CONFIG_PATH
echo "  liteipc $(pkg-config --modversion liteipc): $(pkg-config --cflags --libs liteipc)"
read -r -a flags <<<"$(pkg-config --cflags --libs liteipc)"
warn=(-Wall -Wextra -Wpedantic -Werror)
${CC:-cc} -std=c11 "${warn[@]}" "$src/consumer.c" -o "$out/consumer_c_pc" "${flags[@]}"
${CXX:-c++} -std=c++11 "${warn[@]}" "$src/consumer.cpp" -o "$out/consumer_cxx_pc" "${flags[@]}"
"$out/consumer_c_pc"
"$out/consumer_cxx_pc"
${CC:-cc} -std=c11 "${warn[@]}" "$src/consumer_testkit.c" -o "$out/consumer_testkit_pc" \
    "${flags[@]}"
tk_daemon=$(find "$prefix" -path '*/bin/liteipcd' -print -quit)
env ${tk_daemon:+LITEIPCD="$tk_daemon"} "$out/consumer_testkit_pc" "consumer-testkit-pc-$$"
if pkg-config --exists liteipc-compat; then
    echo "  liteipc-compat: $(pkg-config --cflags --libs liteipc-compat)"
    read -r -a flags <<<"$(pkg-config --cflags --libs liteipc-compat)"
    ${CC:-cc} -std=c11 "${warn[@]}" "$src/consumer_compat.c" -o "$out/consumer_compat_pc" \
        "${flags[@]}"
    daemon=$(find "$prefix" -path '*/bin/liteipcd' -print -quit)
    env LITEIPC_DEVICE="consumer-compat-pc-$$" ${daemon:+LITEIPCD="$daemon"} \
        "$out/consumer_compat_pc"
fi
echo "consumer-check: passed"
