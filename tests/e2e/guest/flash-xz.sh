#!/bin/sh
# cmboot flash of an xz-compressed image (made on the host, in /e2e-data) onto a CM3+'s disk; the host then
# compares the board's image file with the decompressed image byte for byte.
. /e2e/common.sh
mk_bootdir_legacy /boot-cm3
img=/e2e-data/flash.img.xz
[ -r $img ] || fail "no $img: the runner did not append the image archive to the initramfs"
echo "E2E-FLASH size=$(xzcat $img | wc -c) sha256=$(xzcat $img | sha256sum | cut -d' ' -f1)"
cmboot flash $img -d /boot-cm3 --timeout 30 --report /tmp/report.json -v; rc=$?
note "cmboot flash exit $rc"
note "report $(cat /tmp/report.json 2>/dev/null)"
[ $rc -eq 0 ] || fail "cmboot flash exited $rc"
grep -q '"result":"ok"' /tmp/report.json || fail "the report does not say ok"
grep -q '"format":"xz"' /tmp/report.json || fail "the report does not name the xz format"
grep -q '"verified":true' /tmp/report.json || fail "the image was not verified"
# The attempt is recorded in the default SQLite store (/var/lib/cmboot/records.db, as root), found by serial.
serial=$(sed -n 's/.*"serial":"\([^"]*\)".*/\1/p' /tmp/report.json)
[ -n "$serial" ] || fail "the report names no serial"
rec=$(cmboot records show "$serial" --json); rc=$?
note "records $rec"
[ $rc -eq 0 ] || fail "cmboot records show $serial exited $rc"
echo "$rec" | grep -q '"result":"ok"' || fail "the record of $serial does not say ok"
echo "$rec" | grep -q "$(xzcat $img | sha256sum | cut -d' ' -f1)" || fail "the record lacks the image's SHA-256"
pass "flashed an xz image onto the board's disk, verified and recorded"
