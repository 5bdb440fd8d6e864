#!/bin/sh
# A production line on one port: cmboot flash --loop serves three boards plugged one after another into the
# same port (each taken off once its report is written), then SIGTERM: exit 0 and three reports.
. /e2e/common.sh
mk_bootdir_modern /boot-cm4 2711 bootcode4.bin
mkfile /tmp/flash.img 8388608 51
echo "E2E-FLASH size=8388608 sha256=$(sha256sum /tmp/flash.img | cut -d' ' -f1)"
mkdir -p /tmp/reports
cmboot flash /tmp/flash.img -d /boot-cm4 --loop --report-dir /tmp/reports -v & pid=$!
reports() { find /tmp/reports -type f -name '*.json' | wc -l; }
for n in 1 2 3; do
    note "board $n goes on the port"
    echo "plug 0" > /dev/ttyS1
    i=0
    while [ "$(reports)" -lt $n ]; do
        kill -0 $pid 2>/dev/null || fail "cmboot flash --loop left early (board $n)"
        [ $i -lt 900 ] || fail "no report for board $n within 90 s"
        sleep 0.1; i=$((i + 1))
    done
    note "board $n reported; taking it off"
    echo "unplug 0" > /dev/ttyS1
    i=0
    while board_at 1-1; do
        [ $i -lt 100 ] || fail "board $n did not leave the bus"
        sleep 0.1; i=$((i + 1))
    done
done
kill -TERM $pid
wait $pid; rc=$?
note "cmboot flash --loop exit $rc after SIGTERM"
[ $rc -eq 0 ] || fail "cmboot flash --loop exited $rc after SIGTERM"
[ "$(reports)" -eq 3 ] || fail "expected three reports, found $(reports)"
for r in /tmp/reports/*; do
    grep -q '"result": *"ok"' "$r" || fail "$(basename "$r") does not say ok"
    grep -q '"verified": *true' "$r" || fail "$(basename "$r") does not say verified"
done
serials=$(cat /tmp/reports/* | grep -o '"serial": *"[^"]*"' | sort -u | wc -l)
[ "$serials" -eq 3 ] || fail "three reports but $serials different serials"
pass "three boards flashed one after another on one port, three reports: $(cd /tmp/reports && echo *)"
