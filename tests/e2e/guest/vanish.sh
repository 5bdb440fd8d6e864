#!/bin/sh
# The board vanishes in the middle of the second-stage transfer: cmboot must say so and exit non-zero.
. /e2e/common.sh
mk_bootdir_legacy /boot-cm3
cmboot -d /boot-cm3 --wait-msd --timeout 30 --stage-timeout 5 -v > /tmp/out 2>&1; rc=$?
cat /tmp/out
note "cmboot exit $rc"
[ $rc -ne 0 ] || fail "cmboot claimed success for a board that vanished"
[ $rc -eq 1 ] || fail "cmboot exited $rc, expected 1 (a board failed)"
pass "cmboot reported the vanished board and exited $rc"
