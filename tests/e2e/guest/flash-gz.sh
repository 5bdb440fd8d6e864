#!/bin/sh
# cmboot flash: boot a CM3+ to mass storage and write a gzip-compressed image onto its disk; the host then
# compares the board's image file byte for byte.
. /e2e/common.sh
mk_bootdir_legacy /boot-cm3
mkfile /tmp/flash.img 8388608 31
gzip -c /tmp/flash.img > /tmp/flash.img.gz
echo "E2E-FLASH size=8388608 sha256=$(sha256sum /tmp/flash.img | cut -d' ' -f1)"
rm /tmp/flash.img
cmboot flash /tmp/flash.img.gz -d /boot-cm3 --timeout 30 -v; rc=$?
note "cmboot flash exit $rc"
[ $rc -eq 0 ] || fail "cmboot flash exited $rc"
pass "flashed a gzip image onto the board's disk"
