#!/bin/sh
# The field case: cmboot is already waiting when the board is plugged in (no udev to tell anyone).
. /e2e/common.sh
mk_bootdir_legacy /boot-cm3
cmboot -d /boot-cm3 --wait-msd --timeout 40 -v & pid=$!
sleep 1
board_at 1-1 && fail "precondition: the board is already on the bus before cmboot started"
note "plugging the board in"
echo "plug 0" > /dev/ttyS1
wait $pid; rc=$?
note "cmboot exit $rc"
[ $rc -eq 0 ] || fail "cmboot exited $rc"
disk=$(wait_disk 1-1 10) || fail "no disk under port 1-1"
check_disk "$disk" "written by the plug-later guest"
pass "board plugged after cmboot started booted to $disk"
