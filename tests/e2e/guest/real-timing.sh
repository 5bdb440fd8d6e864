#!/bin/sh
# Real boards' timings on the bench: a full-speed BCM2837 ROM with two interfaces whose configuration is set
# late (after the kernel's ADD uevent), ROM -> second stage in seconds, Done -> mass storage in many seconds.
# cmboot must open interface 1 / EP 0x03 (never the ROM's mass-storage interface 0) and wait for each stage.
. /e2e/common.sh
mk_bootdir_legacy /boot-cm3
t0=$(up)
cmboot -d /boot-cm3 --wait-msd --timeout 30 -v; rc=$?
t1=$(up)
note "cmboot exit $rc after $(echo "$t1 - $t0" | bc) s"
[ $rc -eq 0 ] || fail "cmboot exited $rc"
# The ROM's mass-storage interface must have been switched off (no udev here: cmboot does it through sysfs).
disk=$(wait_disk 1-1 10) || fail "no disk under port 1-1"
check_disk "$disk" "written by the real-timing guest"
pass "full-speed two-interface ROM configured late, realistic re-enumeration: booted to $disk"
