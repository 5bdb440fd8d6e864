#!/bin/sh
# Two CM4s on a usb-hub (1-1.1 and 1-1.2): one chosen by -p port path, the other by -i serial.
. /e2e/common.sh
S2=${1:-c4000002}
mk_bootdir_modern /boot-cm4 2711 bootcode4.bin
i=0; while ! { board_at 1-1.1 && board_at 1-1.2; } && [ $i -lt 100 ]; do sleep 0.1; i=$((i+1)); done
{ board_at 1-1.1 && board_at 1-1.2; } || fail "both boards should be on the hub"
cmboot -d /boot-cm4 -p 1-1.1 --wait-msd --timeout 30 -v; rc=$?
[ $rc -eq 0 ] || fail "cmboot -p 1-1.1 exited $rc"
d1=$(wait_disk 1-1.1 10) || fail "no disk under 1-1.1"
[ "$(cat /sys/bus/usb/devices/1-1.2/idProduct)" = 2711 ] || fail "-p 1-1.1 touched the board at 1-1.2"
cmboot -d /boot-cm4 -i "$S2" --wait-msd --timeout 30 -v; rc=$?
[ $rc -eq 0 ] || fail "cmboot -i $S2 exited $rc"
d2=$(wait_disk 1-1.2 10) || fail "no disk under 1-1.2"
check_disk "$d1" "board 1-1.1"
check_disk "$d2" "board 1-1.2"
pass "1-1.1 by port path -> $d1, 1-1.2 by serial $S2 -> $d2"
