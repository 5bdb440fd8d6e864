#!/usr/bin/env bash
# Runs shellcheck on every shell script of the repository: *.sh files and files whose first line names a
# shell (bench/*, .ci/run, the guest's init). A warning that is wrong gets a disable comment with its reason.
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
cd "$top"
command -v shellcheck >/dev/null || { echo "check-shell: shellcheck missing (scripts/deps.sh)" >&2; exit 1; }
if git rev-parse --is-inside-work-tree >/dev/null 2>&1; then
  list_files() { git ls-files -z --cached --others --exclude-standard; }
else
  list_files() { find . -path ./.git -prune -o -path './build*' -prune -o -type f -print0 | sed -z 's|^\./||'; }
fi
scripts=()
while IFS= read -r -d '' f; do
  [ -f "$f" ] || continue
  case "$f" in
    *.sh) scripts+=("$f") ;;
    *) first=$(head -n1 "$f" 2>/dev/null | tr -d '\0' || true)
       if grep -qE '^#!.*(/|env |busybox )(ba|da)?sh( |$)' <<< "$first"; then scripts+=("$f"); fi ;;
  esac
done < <(list_files)
[ ${#scripts[@]} -gt 0 ] || { echo "check-shell: no scripts found" >&2; exit 1; }
# -x follows the files a script sources (named by "shellcheck source=" where the path is computed).
shellcheck -x "${scripts[@]}"
echo "check-shell: ${#scripts[@]} scripts clean"
