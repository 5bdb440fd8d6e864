#!/bin/sh
# A board already running its mass-storage gadget when cmboot starts (it booted by itself, or an earlier run
# booted it) is flashed as it is: nothing to boot, its disk paired by port path, written and verified.
. /e2e/common.sh
mk_bootdir_modern /boot-cm4 2711 bootcode4.bin
disk=$(wait_disk 1-1 20) || fail "precondition: the board's disk is not there before cmboot starts"
note "the board is in mass storage before cmboot starts: $disk"
mkfile /tmp/flash.img 8388608 41
echo "E2E-FLASH size=8388608 sha256=$(sha256sum /tmp/flash.img | cut -d' ' -f1)"
mkdir -p /tmp/reports
cmboot flash /tmp/flash.img -d /boot-cm4 --boards 1 --timeout 60 --report-dir /tmp/reports -v; rc=$?
note "cmboot flash exit $rc"
[ $rc -eq 0 ] || fail "cmboot flash exited $rc"
n=$(find /tmp/reports -type f -name '*.json' | wc -l)
[ "$n" -eq 1 ] || fail "expected one report, found $n"
r=$(find /tmp/reports -type f -name '*.json')
grep -q '"result": *"ok"' "$r" || fail "the report does not say ok: $(cat "$r")"
grep -q '"verified": *true' "$r" || fail "the report does not say verified: $(cat "$r")"
pass "a board already in mass storage was flashed and verified ($(basename "$r"))"
