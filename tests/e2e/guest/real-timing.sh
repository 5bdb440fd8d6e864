#!/bin/sh
# Real boards' timings on the bench: a full-speed BCM2837 ROM with two interfaces whose configuration is set
# late (after the kernel's ADD uevent), ROM -> second stage in seconds, Done -> mass storage in many seconds.
# cmboot is already waiting when the board is plugged (a production line). It must open interface 1 / EP 0x03
# (never the ROM's mass-storage interface 0), switch that interface off (no udev here), and wait each stage.
. /e2e/common.sh
mk_bootdir_legacy /boot-cm3
cmboot -d /boot-cm3 --wait-msd --timeout 40 -v & pid=$!
sleep 1
board_at 1-1 && fail "precondition: the board is already on the bus before cmboot started"
t0=$(up)
note "plugging the board in"
echo "plug 0" > /dev/ttyS1
wait $pid; rc=$?
t1=$(up)
note "cmboot exit $rc, $(echo "$t1 - $t0" | bc) s after the plug"
[ $rc -eq 0 ] || fail "cmboot exited $rc"
auth=$(cat /sys/bus/usb/devices/1-1/1-1:1.0/authorized 2>/dev/null)
note "ROM interface 0 authorized=${auth:-gone}"
disk=$(wait_disk 1-1 10) || fail "no disk under port 1-1"
check_disk "$disk" "written by the real-timing guest"
pass "full-speed two-interface ROM configured late, realistic re-enumeration: booted to $disk"
