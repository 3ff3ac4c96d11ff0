#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# consumer-installed.sh - the installed package on its own: build the library in a scratch tree,
# install it to a staging prefix, DELETE the build tree, then run, with no $LITEIPCD and the
# daemon not on PATH:
#   1. an unmodified device program (plain open/mmap/ioctl, linked with nothing of ours) under
#      the installed shim (LD_PRELOAD=<libdir>/libliteipc_preload.so);
#   2. a program linked with the installed libliteipc.a that calls attach_or_start, and one that
#      also uses the test kit (<liteipc/testkit.h>) on that kernel;
# each must start the installation's own liteipcd, which must exit once unused. Then, with the
# daemon moved away, the error must name the places tried and $LITEIPCD.
#
# Usage: scripts/consumer-installed.sh [SCRATCH_DIR]   (default: a temporary directory)
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
source scripts/testlib.sh
src=$PWD
work=${1:-$(mktemp -d "${TMPDIR:-/tmp}/liteipc-installed.XXXXXX")}
rm -rf "$work"
mkdir -p "$work"
work=$(cd "$work" && pwd)
trap 'rm -rf "$work"' EXIT
failed=0

step "build the library alone in $work/build, install to $work/prefix, delete the build tree"
cmake -S "$src" -B "$work/build" -DCMAKE_BUILD_TYPE=RelWithDebInfo -DLITEIPC_BUILD_TESTS=OFF \
    -DLITEIPC_BUILD_EXAMPLES=OFF -DLITEIPC_BUILD_BENCH=OFF >/dev/null
env -u MAKEFLAGS -u MFLAGS -u MAKELEVEL cmake --build "$work/build" --parallel "${JOBS:-2}" \
    >/dev/null
cmake --install "$work/build" --prefix "$work/prefix" >/dev/null
rm -rf "$work/build"
prefix=$work/prefix
preload=$(find "$prefix" -name libliteipc_preload.so -print -quit)
pcdir=$(dirname "$(find "$prefix" -name liteipc.pc -print -quit)")
[ -n "$preload" ] && [ -x "$prefix/bin/liteipcd" ] && [ ! -e "$work/build" ]
ok "installed; build tree gone"

step "compile the consumers against the installed headers and library"
${CC:-cc} -std=c11 -Wall -Wextra -Werror -I"$prefix/include" tests/consumer/consumer_compat.c \
    -o "$work/device"
read -r -a flags <<<"$(PKG_CONFIG_PATH=$pcdir pkg-config --cflags --libs liteipc)"
${CC:-cc} -std=c11 -Wall -Wextra -Werror tests/consumer/consumer_attach.c -o "$work/attach" \
    "${flags[@]}"
${CC:-cc} -std=c11 -Wall -Wextra -Werror tests/consumer/consumer_testkit.c -o "$work/testkit" \
    "${flags[@]}"
ok "device (no liteipc linked), attach and testkit (libliteipc.a)"

# run NAME CMD...: with a private device name, no $LITEIPCD, a PATH without the prefix; then
# the daemon started for NAME must exit by itself (it serves no one).
run() {
    local name=$1
    shift
    env -u LITEIPCD PATH=/usr/bin:/bin LITEIPC_DEVICE="$name" "$@" || { fail "$* failed"; return 1; }
    wait_daemon_gone "$name" 10 && return 0
    fail "the liteipcd started for $name still runs"
    return 1
}

step "an unmodified device program under the installed shim"
run "adopt-shim-$$" env LD_PRELOAD="$preload" "$work/device" &&
    ok "the shim found <libdir>/../bin/liteipcd; it exited once unused"

step "a program linked with the installed library calls attach_or_start"
run "adopt-attach-$$" "$work/attach" "adopt-attach-$$" &&
    ok "the library found the bin directory recorded at install; the daemon exited once unused"

step "the test kit: its ServiceManager, a service and a client on attach_or_start's daemon"
run "adopt-testkit-$$" "$work/testkit" "adopt-testkit-$$" &&
    ok "the kit works from the installed library alone; the daemon exited once unused"

step "no daemon: the error names every place tried and \$LITEIPCD"
mv "$prefix/bin/liteipcd" "$work/liteipcd.away"
if env -u LITEIPCD PATH=/usr/bin:/bin "$work/attach" "adopt-none-$$" 2>"$work/err"; then
    fail "attach_or_start succeeded with no liteipcd"
elif grep -qF "$prefix/bin/liteipcd" "$work/err" && grep -qF 'LITEIPCD=' "$work/err"; then
    sed 's/^/    /' "$work/err"
    ok "ENOEXEC, and the message says where to look"
else
    fail "unexpected message: $(cat "$work/err")"
fi
mv "$work/liteipcd.away" "$prefix/bin/liteipcd"

[ "$failed" = 0 ] || exit 1
echo "consumer-installed: passed"
