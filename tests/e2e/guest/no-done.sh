#!/bin/sh
# A second stage that leaves without Done and never comes back: success in boot mode, as the reference and
# Imager count it (payloads that reboot or power off do this).
. /e2e/common.sh
mk_bootdir_legacy /boot-cm3
cmboot -d /boot-cm3 --timeout 30 -v; rc=$?
note "cmboot exit $rc"
[ $rc -eq 0 ] || fail "cmboot exited $rc for a board that left without Done"
# Followed to its next stage (as flash does), the same board must fail: no disk ever came.
pass "left without Done: boot exit 0"
