#!/usr/bin/env bash
# Every option that `cmboot <sub> --help` names must be in the man page source (docs/man/cmboot.1.scd),
# written as *--name* or *-x*, so the page cannot drift from the CLI.
# usage: man-options.sh CMBOOT SCD
set -euo pipefail
cmboot=$1 scd=$2
if [ ! -x "$cmboot" ] || [ ! -f "$scd" ]; then echo "man-options: need $cmboot and $scd" >&2; exit 1; fi
missing=0 checked=0
for sub in boot list doctor flash write records power mode; do
  help=$("$cmboot" "$sub" --help)
  # long options anywhere; short ones where options stand: first on a line, or in the usage's [...|...]
  opts=$( { grep -oE -- '--[a-z][a-z0-9-]*' <<<"$help" || true
            grep -oP -- '(?:^\s+|\[|\|)\K-[A-Za-z](?=[\s,\]|]|v|$)' <<<"$help" || true; } | sort -u)
  n=$(wc -l <<<"$opts")
  [ "$n" -ge 3 ] || { echo "man-options: only $n options found in '$sub --help'" >&2; exit 1; }
  for o in $opts; do
    checked=$((checked + 1))
    grep -qF -- "*$o*" "$scd" || { echo "man-options: $sub: $o is not in $scd" >&2; missing=$((missing + 1)); }
  done
done
[ "$missing" -eq 0 ] || exit 1
echo "man-options: $checked options of 7 commands all in the man page"
