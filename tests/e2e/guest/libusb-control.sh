#!/bin/sh
# Control: Debian's udev-built libusb never sees a board plugged in after start on a host without udevd;
# native discovery boots the very same board.
. /e2e/common.sh
mk_bootdir_legacy /boot-cm3
cmboot --discovery=libusb -d /boot-cm3 --timeout 6 -v > /tmp/out 2>&1 & pid=$!
sleep 1
board_at 1-1 && fail "precondition: the board is on the bus before cmboot started"
echo "plug 0" > /dev/ttyS1
wait $pid; rc=$?
cat /tmp/out
board_at 1-1 || fail "the kernel never enumerated the board"
note "libusb discovery exit $rc; the kernel sees $(cat /sys/bus/usb/devices/1-1/idVendor):$(cat /sys/bus/usb/devices/1-1/idProduct) at 1-1"
[ $rc -eq 3 ] || fail "expected the field failure (exit 3, no board seen) with --discovery=libusb, got $rc"
cmboot -d /boot-cm3 --wait-msd --timeout 30 -v; rc=$?
[ $rc -eq 0 ] || fail "native discovery failed on the same board: exit $rc"
disk=$(wait_disk 1-1 10) || fail "no disk under 1-1"
pass "libusb discovery never saw the board (exit 3); native discovery booted it to $disk"
