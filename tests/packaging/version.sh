#!/usr/bin/env bash
# `--version` on every subcommand prints what `cmboot --version` prints, exits 0, and runs nothing else.
# usage: version.sh CMBOOT VERSION
set -euo pipefail
cmboot=$1 version=$2
want="cmboot $version"
got=$("$cmboot" --version)
[ "$got" = "$want" ] || { echo "version: cmboot --version said '$got', expected '$want'" >&2; exit 1; }
for sub in boot list doctor flash write records power mode; do
  got=$("$cmboot" "$sub" --version 2>&1) || { echo "version: cmboot $sub --version failed" >&2; exit 1; }
  [ "$got" = "$want" ] || { echo "version: cmboot $sub --version said '$got', expected '$want'" >&2; exit 1; }
done
# with other options before it (flash would otherwise want an IMAGE)
got=$("$cmboot" flash --loop --quiet --version)
[ "$got" = "$want" ] || { echo "version: flash --loop --quiet --version said '$got'" >&2; exit 1; }
echo "version: '$want' from cmboot and its 7 commands"
