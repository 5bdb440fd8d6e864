#!/bin/sh
# Upstream's payload trees as shipped: relative symlinks into a sibling firmware/ (usbboot repository, Raspberry
# Pi OS rpiboot package). First with no boot files at all (cmboot must say so before any board, exit 4), then
# the package layout in /usr/share/rpiboot: a CM4 with no -d (mass-storage-gadget64 by default), a CM3+ with
# -d mass-storage-gadget64 (its bootfiles.bin has no 2710/ members: bootcode.bin and start.elf come from the
# installed msd/), and a CM3+ with -d msd.
. /e2e/common.sh
. /e2e/payload-tree.sh
i=0; while ! { board_at 1-1.1 && board_at 1-1.2 && board_at 1-1.3; } && [ $i -lt 100 ]; do sleep 0.1; i=$((i+1)); done
{ mkdir -p /tmp/empty && cd /tmp/empty; } || fail "no /tmp/empty"
cmboot --timeout 2 2> /tmp/nofiles.err; rc=$?
cat /tmp/nofiles.err
[ $rc -eq 4 ] || fail "with no boot files anywhere cmboot exited $rc, expected 4"
grep -q "apt install rpiboot" /tmp/nofiles.err || fail "no advice on how to get boot files"
grep -q "/usr/share/rpiboot" /tmp/nofiles.err || fail "the searched directories are not named"
[ "$(cat /sys/bus/usb/devices/1-1.1/idProduct)" = 2711 ] || fail "a board was touched without boot files"

mk_upstream_tree /usr/share/rpiboot mass-storage-gadget64 2711 2710
ls -l /usr/share/rpiboot/mass-storage-gadget64 /usr/share/rpiboot/msd
cmboot -p 1-1.1 --wait-msd --timeout 30 -v 2> /tmp/cm4.err; rc=$?
cat /tmp/cm4.err
[ $rc -eq 0 ] || fail "CM4 from the default (package) tree: cmboot exited $rc"
grep -q "bootfiles.bin -> .*firmware/bootfiles.bin" /tmp/cm4.err || fail "the followed symlink was not logged at -v"
cmboot -d /usr/share/rpiboot/mass-storage-gadget64 -p 1-1.2 --wait-msd --timeout 30 -v; rc=$?
[ $rc -eq 0 ] || fail "CM3+ with -d mass-storage-gadget64: cmboot exited $rc"
cmboot -d /usr/share/rpiboot/msd -p 1-1.3 --wait-msd --timeout 30 -v; rc=$?
[ $rc -eq 0 ] || fail "CM3+ with -d msd: cmboot exited $rc"
d1=$(wait_disk 1-1.1 10) || fail "no disk under 1-1.1"
d2=$(wait_disk 1-1.2 10) || fail "no disk under 1-1.2"
d3=$(wait_disk 1-1.3 10) || fail "no disk under 1-1.3"
check_disk "$d1" "cm4 from the package tree"
check_disk "$d2" "cm3+ from mass-storage-gadget64"
check_disk "$d3" "cm3+ from msd"
pass "no files: exit 4 with advice; CM4 (default dir), CM3+ (gadget dir + msd fallback), CM3+ (msd) booted"
