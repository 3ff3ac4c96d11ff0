#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# deb-check.sh [BUILD_DIR] - the .deb that `make package` built in BUILD_DIR (default build)
# has the control fields it should (dpkg-deb -I) and holds the library, headers, liteipcd and
# liteipcctl, the shim, the man pages, the docs, the CMake package and the pkg-config files under
# /usr (dpkg-deb -c), whose .pc files name /usr and no staging directory. Nothing is installed.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
build=${1:-build}

version=$(sed -n 's/^#define LITEIPC_VERSION_\(MAJOR\|MINOR\|PATCH\) \([0-9]*\)$/\2/p' \
          include/liteipc/version.h | paste -sd.)
deb="$build/liteipc-sim_${version}_$(dpkg --print-architecture).deb"
[ -f "$deb" ] || { echo "deb-check: no $deb (run make package)" >&2; exit 1; }
fail=0
problem() { echo "deb-check: $deb: $*" >&2; fail=1; }

field() { dpkg-deb -f "$deb" "$1"; }
[ "$(field Package)" = liteipc-sim ] || problem "Package is '$(field Package)'"
[ "$(field Version)" = "$version" ] || problem "Version is '$(field Version)', not $version"
[ -n "$(field Maintainer)" ] || problem "no Maintainer"
field Description | grep -q 'Apache-2.0' || problem "the Description does not name the license"
field Depends | grep -Eq '(^|, )libc6( |,|$)' || problem "Depends '$(field Depends)' lacks libc6"

contents=$(dpkg-deb -c "$deb" | awk '{ print $6 }' | sed 's|^\./|/|')
for path in /usr/bin/liteipcd /usr/bin/liteipcctl /usr/lib/libliteipc.a \
            /usr/lib/libliteipc_compat.a /usr/lib/libliteipc_preload.so \
            /usr/include/liteipc/liteipc.h \
            /usr/include/liteipc/testkit.h \
            /usr/include/liteipc/lite_ipc.h /usr/include/liteipc/compat.h \
            /usr/include/liteipc/version.h /usr/share/man/man1/liteipcd.1.gz \
            /usr/share/man/man1/liteipcctl.1.gz \
            /usr/lib/cmake/liteipc/liteipcConfig.cmake \
            /usr/lib/cmake/liteipc/liteipcConfigVersion.cmake \
            /usr/lib/cmake/liteipc/liteipcTargets.cmake \
            /usr/lib/pkgconfig/liteipc.pc /usr/lib/pkgconfig/liteipc-compat.pc \
            /usr/share/doc/liteipc-sim/README.md /usr/share/doc/liteipc-sim/LICENSE \
            /usr/share/doc/liteipc-sim/copyright \
            /usr/share/doc/liteipc-sim/CHANGELOG.md /usr/share/doc/liteipc-sim/docs/USAGE.md \
            /usr/share/doc/liteipc-sim/docs/TESTKIT.md \
            /usr/share/doc/liteipc-sim/examples/echo_demo.c \
            /usr/share/doc/liteipc-sim/examples/cmocka_minimal.c \
            /usr/share/doc/liteipc-sim/examples/multi/sm.c; do
    grep -qx "$path" <<<"$contents" || problem "does not hold $path"
done

# The test kit is part of libliteipc.a (<liteipc/testkit.h>).
lib=$(mktemp)
dpkg-deb --fsys-tarfile "$deb" | tar -xOf - ./usr/lib/libliteipc.a >"$lib"
# (grep reads everything: with -q, nm would die of SIGPIPE and fail the pipeline.)
nm --defined-only "$lib" 2>/dev/null | grep -w ltk_sm_start >/dev/null ||
    problem "libliteipc.a does not hold the test kit (ltk_sm_start)"
rm -f "$lib"

# The staged install must have recorded /usr, not CPack's staging directory.
for pc in liteipc.pc liteipc-compat.pc; do
    text=$(dpkg-deb --fsys-tarfile "$deb" | tar -xOf - "./usr/lib/pkgconfig/$pc")
    grep -qx 'prefix=/usr' <<<"$text" || problem "$pc does not say prefix=/usr"
done

# Man pages are gzipped, as man-db and Debian policy want them.
for page in liteipcd liteipcctl; do
    dpkg-deb --fsys-tarfile "$deb" | tar -xOf - "./usr/share/man/man1/$page.1.gz" | gzip -t ||
        problem "$page.1.gz is no gzip file"
done

[ $fail = 0 ] && echo "deb-check: $deb: fields and $(wc -l <<<"$contents") entries as expected"
exit $fail
