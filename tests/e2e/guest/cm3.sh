#!/bin/sh
# BCM2837 (CM3+) from ROM to a mounted mass-storage disk, natively discovered, no udev.
. /e2e/common.sh
mk_bootdir_legacy /boot-cm3
note "cmboot start"
cmboot -d /boot-cm3 --wait-msd --timeout 30 -v; rc=$?
note "cmboot exit $rc"
[ $rc -eq 0 ] || fail "cmboot exited $rc"
disk=$(wait_disk 1-1 10) || fail "no disk under port 1-1"
note "disk ready $disk"
check_disk "$disk" "written by the cm3 guest"
pass "CM3+ booted to $disk"
