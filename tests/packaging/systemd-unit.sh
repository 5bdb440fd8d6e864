#!/usr/bin/env bash
# The station unit: systemd-analyze verify accepts it (pointed at the build's cmboot and the example config),
# and every option of the example station.conf is an option of `cmboot flash`.
# usage: systemd-unit.sh UNIT STATION_CONF CMBOOT
set -euo pipefail
unit=$1 conf=$2 cmboot=$3
command -v systemd-analyze >/dev/null || { echo "systemd-unit: systemd-analyze not installed" >&2; exit 1; }
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
# The installed paths do not exist here: the same unit with the build's binary and the source's config.
sed -e "s|^ExecStart=[^ ]*/cmboot |ExecStart=$cmboot |" -e "s|^EnvironmentFile=.*|EnvironmentFile=$conf|" \
    -e "s|^ConditionPathExists=.*|ConditionPathExists=$conf|" "$unit" >"$tmp/cmboot-station.service"
grep -q "^ExecStart=$cmboot flash --loop" "$tmp/cmboot-station.service" || { echo "systemd-unit: ExecStart not as expected" >&2; exit 1; }
out=$(SYSTEMD_LOG_LEVEL=notice systemd-analyze verify --man=no "$tmp/cmboot-station.service" 2>&1) || {
  echo "systemd-unit: systemd-analyze verify failed:" >&2; echo "$out" >&2; exit 1; }
# only lines about our unit count (a container's own units may produce noise)
if grep -i "cmboot-station" <<<"$out" >&2; then echo "systemd-unit: warnings about the unit" >&2; exit 1; fi
# The options line, split as systemd splits an unbraced $VAR: each --name must be a flash option.
opts=$(sed -n 's/^CMBOOT_STATION_OPTIONS=//p' "$conf")
img=$(sed -n 's/^CMBOOT_IMAGE=//p' "$conf")
if [ -z "$opts" ] || [ -z "$img" ]; then echo "systemd-unit: $conf lacks CMBOOT_STATION_OPTIONS or CMBOOT_IMAGE" >&2; exit 1; fi
known=$("$cmboot" flash --help | grep -oE -- '--[a-z][a-z0-9-]*' | sort -u)
n=0
for w in $opts; do
  case $w in
    --*) grep -qxF -- "$w" <<<"$known" || { echo "systemd-unit: $w in $conf is not a cmboot flash option" >&2; exit 1; }
         n=$((n + 1)) ;;
  esac
done
[ "$n" -gt 0 ] || { echo "systemd-unit: no option checked" >&2; exit 1; }
echo "systemd-unit: unit verified, $n station options known to cmboot flash"
