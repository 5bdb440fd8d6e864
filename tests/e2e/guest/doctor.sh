#!/bin/sh
# `cmboot doctor` on a host like the field's: no udev, devtmpfs only.
. /e2e/common.sh
cmboot doctor > /tmp/out 2>&1; rc=$?
cat /tmp/out
note "doctor exit $rc"
[ -s /tmp/out ] || fail "doctor printed nothing"
grep -qi udev /tmp/out || fail "doctor says nothing about udev on a host without it"
[ $rc -eq 0 ] || [ $rc -eq 4 ] || fail "doctor exited $rc"
pass "doctor ran (exit $rc)"
