#!/usr/bin/env bash
# Fails when a C source or header differs from what clang-format makes of it with the repository's .clang-format.
#   scripts/check-format.sh         (scripts/test.sh runs it)    fix: git ls-files '*.[ch]' | xargs clang-format-14 -i
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
cd "$top"
CF=$(command -v clang-format-14 || command -v clang-format || true)
[ -n "$CF" ] || { echo "check-format: clang-format not found (scripts/deps.sh installs clang-format-14)" >&2; exit 1; }
mapfile -t files < <(git ls-files '*.c' '*.h')
[ ${#files[@]} -gt 0 ] || { echo "check-format: no sources found" >&2; exit 1; }
if ! "$CF" --dry-run -Werror "${files[@]}"; then
  echo "check-format: the files above are not formatted: $CF -i FILE (or: git ls-files '*.[ch]' | xargs $CF -i)" >&2
  exit 1
fi
echo "check-format: ${#files[@]} files formatted as .clang-format says ($("$CF" --version | sed 's/.*version //'))"
