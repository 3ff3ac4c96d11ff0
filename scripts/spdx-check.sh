#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# spdx-check.sh - every source file of the project (C, C++, headers, CMake, shell, Python, the
# Makefile and CI script) names its license in its first lines; the fuzz corpus, the docs and
# the golden files (tests/golden: program output, compared byte for byte) are not source.
# Exit status 1 and the list of files without it otherwise.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

missing=()
while IFS= read -r f; do
    head -n 3 "$f" | grep -q 'SPDX-License-Identifier: Apache-2.0' || missing+=("$f")
done < <(git ls-files |
    grep -vE '^(fuzz/corpus|docs|tests/golden)/|\.md$|(^|/)\.gitignore$|^LICENSE$')
if [ ${#missing[@]} -gt 0 ]; then
    echo "spdx-check: no SPDX-License-Identifier: Apache-2.0 line in:" >&2
    printf '  %s\n' "${missing[@]}" >&2
    exit 1
fi
echo "spdx-check: every source file is marked Apache-2.0"
