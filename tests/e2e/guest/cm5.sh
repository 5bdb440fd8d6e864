#!/bin/sh
# BCM2712 (CM5): bootcode5.bin from bootfiles.bin (2712/), then mass storage.
. /e2e/common.sh
mk_bootdir_modern /boot-cm5 2712 bootcode5.bin
cmboot -d /boot-cm5 --wait-msd --timeout 30 -v; rc=$?
[ $rc -eq 0 ] || fail "cmboot exited $rc"
disk=$(wait_disk 1-1 10) || fail "no disk under port 1-1"
check_disk "$disk" "written by the cm5 guest"
pass "CM5 booted to $disk"
