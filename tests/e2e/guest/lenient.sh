#!/bin/sh
# A CM4 whose second stage sends short and long requests, metadata without a value, an unknown command, and
# pauses past the host's request timeout (the host's cancelled read leaves the next reply misaligned, as Imager
# saw on real firmware). cmboot answers every one and the board reaches mass storage.
. /e2e/common.sh
mk_bootdir_modern /boot-cm4 2711 bootcode4.bin
mkdir -p /tmp/meta
cmboot -d /boot-cm4 -j /tmp/meta --wait-msd --timeout 30 --request-timeout 1 -v; rc=$?
note "cmboot exit $rc"
[ $rc -eq 0 ] || fail "cmboot exited $rc"
ls /tmp/meta
# shellcheck disable=SC2012 # the first of cmboot's own metadata files; no odd names here
j=$(ls /tmp/meta/*.json 2>/dev/null | head -1)
[ -n "$j" ] || fail "no metadata file"
cat "$j"; echo
grep -q 'd8:3a:dd:05:ee:78' "$j" || fail "MAC_ADDR missing from $j"
grep -q '"BOOT_ROM"' "$j" || fail "*BOOT_ROM* (empty value) should be stored"
disk=$(wait_disk 1-1 10) || fail "no disk under port 1-1"
check_disk "$disk" "written by the lenient guest"
pass "odd requests answered, board at $disk, metadata in $j"
