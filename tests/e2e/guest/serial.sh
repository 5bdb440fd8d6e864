#!/bin/sh
# -i and -j like the reference, on a CM4 and a CM5 behind a hub: -i matches the string at each stage's own
# serial index at every stage (ROM index 3, second stage index 4 on real BCM2711/2712), and -j names the
# metadata file after the second stage's serial, which is what provisioning scripts read back.
. /e2e/common.sh
S4=${1%%,*}; S5=${1##*,}
{ [ -n "$S4" ] && [ -n "$S5" ]; } || fail "usage: serial.sh CM4SERIAL,CM5SERIAL"
# One directory for both boards (bootfiles.bin with 2711/ and 2712/ members of the same content), so every file
# name the host checks stands for one content.
mk_bootdir_modern /boot 2711 bootcode4.bin
t=/tmp/tar-2711
cp -r "$t/2711" "$t/2712" && cp "$t/2711/bootcode4.bin" "$t/2712/bootcode5.bin"
(cd "$t" && tar -cf /boot/bootfiles.bin 2711 2712) || fail "cannot make bootfiles.bin"
report_file "$t/2712/bootcode5.bin" bootcode5.bin
i=0; while ! { board_at 1-1.1 && board_at 1-1.2; } && [ $i -lt 100 ]; do sleep 0.1; i=$((i+1)); done
{ board_at 1-1.1 && board_at 1-1.2; } || fail "both boards should be on the hub"
mkdir -p /tmp/meta
# The CM5 first, by serial only: the CM4 on the same hub must stay untouched.
cmboot -d /boot -i "$S5" -j /tmp/meta --wait-msd --timeout 30 -v; rc=$?
[ $rc -eq 0 ] || fail "cmboot -i $S5 exited $rc"
[ "$(cat /sys/bus/usb/devices/1-1.1/idProduct)" = 2711 ] || fail "-i $S5 touched the CM4 at 1-1.1"
[ -f "/tmp/meta/$S5.json" ] || fail "no /tmp/meta/$S5.json (metadata must be named after the second stage's serial)"
grep -q '"MAC_ADDR"' "/tmp/meta/$S5.json" || fail "MAC_ADDR missing from $S5.json"
d5=$(wait_disk 1-1.2 10) || fail "no disk under 1-1.2"
# A serial that no board has: nothing is booted, exit 3 once the timeout passes.
cmboot -d /boot -i 00000000 --timeout 3; rc=$?
[ $rc -eq 3 ] || fail "cmboot -i 00000000 exited $rc, expected 3 (no board)"
[ "$(cat /sys/bus/usb/devices/1-1.1/idProduct)" = 2711 ] || fail "-i 00000000 touched the CM4"
# Bare -j (rpiboot: metadata on stdout), then the CM4 by serial.
cmboot -d /boot -i "$S4" -j --wait-msd --timeout 30 > /tmp/cm4.out; rc=$?
[ $rc -eq 0 ] || fail "cmboot -i $S4 -j exited $rc"
grep -q '"MAC_ADDR"' /tmp/cm4.out || fail "bare -j printed no metadata on stdout: $(cat /tmp/cm4.out)"
d4=$(wait_disk 1-1.1 10) || fail "no disk under 1-1.1"
ls /tmp/meta
check_disk "$d4" "cm4 by serial"
check_disk "$d5" "cm5 by serial"
pass "CM5 by -i $S5 with $S5.json, CM4 by -i $S4 with bare -j; unknown serial left both alone"
