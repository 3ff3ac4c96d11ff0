#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# install-deps.sh - install what liteipc-sim needs to build and test, if it is missing.
#
# Usage: scripts/install-deps.sh [--cxx] [--valgrind] [--m32] [--fuzz] [--check]
#   --cxx    also g++, for the C++ half of the installed-package consumer check
#   --valgrind  also valgrind, for `make valgrind`
#   --m32    also what a -m32 build needs on x86-64 (`make test32`): gcc-multilib and the
#            i386 CMocka, adding the i386 architecture to dpkg first if it is not there
#   --fuzz   also clang and its libFuzzer runtime (Debian 12: libclang-rt-14-dev), for `make fuzz`
#   --check  only report what is missing (exit 1 if anything is)
#
# Assumes the base toolchain (gcc, make). Installs, on Debian/Ubuntu with apt-get, only what is
# missing among: cmake, pkg-config, libcmocka-dev, groff-base (and g++ with --cxx, valgrind with
# --valgrind, gcc-multilib and libcmocka-dev:i386 with --m32, clang and its runtime with --fuzz).
# The sanitizer runtimes come with gcc. Prints
# nothing when nothing is missing. Uses sudo when not root, and runs `apt-get update` only when
# it has something to install.
set -euo pipefail

want_cxx=0
want_valgrind=0
want_m32=0
want_fuzz=0
check_only=0
for arg in "$@"; do
    case "$arg" in
    --cxx) want_cxx=1 ;;
    --valgrind) want_valgrind=1 ;;
    --m32) want_m32=1 ;;
    --fuzz) want_fuzz=1 ;;
    --check) check_only=1 ;;
    -h | --help)
        sed -n '2,/^[^#]/s/^# \{0,1\}//p' "$0"
        exit 0
        ;;
    *)
        echo "install-deps: unknown option '$arg'" >&2
        exit 2
        ;;
    esac
done

have_cmd() { command -v "$1" >/dev/null 2>&1; }

have_deb() {
    have_cmd dpkg-query &&
        [ "$(dpkg-query -W -f='${db:Status-Status}' "$1" 2>/dev/null)" = installed ]
}

have_cmocka() {
    if have_cmd pkg-config && pkg-config --exists cmocka 2>/dev/null; then
        return 0
    fi
    have_deb libcmocka-dev
}

# A -m32 compiler is there when it links a program (gcc-multilib or an equivalent).
have_cc_m32() {
    printf 'int main(void) { return 0; }\n' |
        "${CC:-gcc}" -m32 -x c - -o /dev/null -pthread >/dev/null 2>&1
}

# The i386 CMocka, where a -m32 configure looks for it (CMakeLists.txt sets PKG_CONFIG_LIBDIR).
have_cmocka_i386() {
    local pc_dir=/usr/lib/i386-linux-gnu/pkgconfig
    if have_cmd pkg-config && PKG_CONFIG_LIBDIR=$pc_dir pkg-config --exists cmocka 2>/dev/null; then
        return 0
    fi
    have_deb libcmocka-dev:i386
}

have_arch_i386() {
    [ "$(dpkg --print-architecture 2>/dev/null)" = i386 ] ||
        dpkg --print-foreign-architectures 2>/dev/null | grep -qx i386
}

missing=()
have_cmd cmake || missing+=(cmake)
have_cmd pkg-config || missing+=(pkg-config)
have_cmocka || missing+=(libcmocka-dev)
have_cmd groff || missing+=(groff-base) # the man page test (scripts/man-check.sh)
have_cmd jq || missing+=(jq) # parses `liteipcctl monitor --json` (tools/test-liteipcctl.sh)
have_cmd python3 || missing+=(python3) # the JSON checks (scripts/chrome-check.py)
if [ "$want_cxx" = 1 ]; then
    have_cmd g++ || missing+=(g++)
fi
if [ "$want_valgrind" = 1 ]; then
    have_cmd valgrind || missing+=(valgrind)
fi
# libFuzzer comes with clang's runtime, packaged per version (libclang-rt-N-dev on Debian 12).
have_fuzzer_runtime() {
    have_cmd clang &&
        [ -e "$(clang -print-resource-dir)/lib/linux/libclang_rt.fuzzer-$(uname -m).a" ]
}
if [ "$want_fuzz" = 1 ] && ! have_fuzzer_runtime; then
    have_cmd clang || missing+=(clang)
    clang_major=$(clang --version 2>/dev/null | sed -n 's/.*clang version \([0-9]*\).*/\1/p' | head -1)
    missing+=("libclang-rt-${clang_major:-14}-dev")
fi

if [ "$want_m32" = 1 ]; then
    have_cc_m32 || missing+=(gcc-multilib)
    have_cmocka_i386 || missing+=(libcmocka-dev:i386)
fi

[ "${#missing[@]}" -eq 0 ] && exit 0

if [ "$check_only" = 1 ]; then
    echo "install-deps: missing: ${missing[*]}" >&2
    exit 1
fi

if ! have_cmd apt-get; then
    echo "install-deps: missing: ${missing[*]}; no apt-get here, please install them" >&2
    exit 1
fi

sudo_cmd=()
if [ "$(id -u)" != 0 ]; then
    if ! have_cmd sudo; then
        echo "install-deps: missing: ${missing[*]}; not root and no sudo" >&2
        exit 1
    fi
    sudo_cmd=(sudo)
fi

echo "install-deps: installing ${missing[*]}"
apt_env=(env DEBIAN_FRONTEND=noninteractive)
# An :i386 package needs the architecture known to dpkg before `apt-get update`.
if [[ " ${missing[*]} " == *:i386\ * ]] && ! have_arch_i386; then
    echo "install-deps: adding the i386 architecture to dpkg"
    "${sudo_cmd[@]}" dpkg --add-architecture i386
fi
# A mirror caught mid-sync fails one index (often the security suite of a foreign
# architecture) while the rest are fine: go on, and let apt-get install say what is missing.
if ! "${sudo_cmd[@]}" "${apt_env[@]}" apt-get update -qq; then
    echo "install-deps: apt-get update failed (above); trying with the package lists there are" >&2
fi
"${sudo_cmd[@]}" "${apt_env[@]}" apt-get install -y -qq --no-install-recommends \
    -o Dpkg::Use-Pty=0 "${missing[@]}" >/dev/null
echo "install-deps: done"
