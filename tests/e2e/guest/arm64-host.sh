#!/bin/sh
# On an ARM host (the arm64 guest, run-scenario.sh arm64-host): the cross-built cmboot boots a CM4 to mass
# storage and writes a gzip-compressed image onto its disk; the host compares the board's disk byte for byte.
. /e2e/common.sh
note "machine $(uname -m)"
[ "$(uname -m)" = aarch64 ] || fail "not an arm64 guest: $(uname -m)"
mk_bootdir_modern /boot-cm4 2711 bootcode4.bin
mkfile /tmp/flash.img 8388608 41
gzip -c /tmp/flash.img > /tmp/flash.img.gz
echo "E2E-FLASH size=8388608 sha256=$(sha256sum /tmp/flash.img | cut -d' ' -f1)"
rm /tmp/flash.img
cmboot flash /tmp/flash.img.gz -d /boot-cm4 --timeout 120 -v; rc=$?
note "cmboot flash exit $rc"
[ $rc -eq 0 ] || fail "cmboot flash exited $rc"
pass "arm64 host: booted a CM4 and flashed a gzip image onto its disk"
