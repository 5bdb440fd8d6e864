#!/bin/sh
# BCM2711 (CM4): bootfiles.bin, boot.img, metadata written as JSON with -j.
. /e2e/common.sh
SERIAL=${1:-c4c4b2da}
mk_bootdir_modern /boot-cm4 2711 bootcode4.bin
mkdir -p /tmp/meta
cmboot -d /boot-cm4 -j /tmp/meta --wait-msd --timeout 30 -v; rc=$?
note "cmboot exit $rc"
[ $rc -eq 0 ] || fail "cmboot exited $rc"
ls /tmp/meta
j=/tmp/meta/$SERIAL.json
[ -f "$j" ] || fail "no metadata file $j"
cat "$j"; echo
{ grep -q '"MAC_ADDR"' "$j" && grep -q 'd8:3a:dd:05:ee:78' "$j"; } || fail "MAC_ADDR missing from $j"
disk=$(wait_disk 1-1 10) || fail "no disk under port 1-1"
check_disk "$disk" "written by the cm4 guest"
pass "CM4 booted to $disk with metadata in $j"
