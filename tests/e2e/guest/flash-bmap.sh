#!/bin/sh
# cmboot flash --bmap of a sparse image (made and mapped with bmaptool on the host, in /e2e-data) onto a CM3+'s
# disk; only mapped blocks may be written: the host checks them and that every other block kept its old content.
. /e2e/common.sh
mk_bootdir_legacy /boot-cm3
img=/e2e-data/flash.img
bmap=/e2e-data/flash.img.bmap
{ [ -r $img ] && [ -r $bmap ]; } || fail "no $img or $bmap: the runner did not append the image archive"
mapped=$(sed -n 's:.*<MappedBlocksCount> *\([0-9]*\) *<.*:\1:p' $bmap)
bs=$(sed -n 's:.*<BlockSize> *\([0-9]*\) *<.*:\1:p' $bmap)
{ [ -n "$mapped" ] && [ -n "$bs" ]; } || fail "cannot read MappedBlocksCount/BlockSize from $bmap"
echo "E2E-FLASH size=$(wc -c < $img) sha256=$(sha256sum < $img | cut -d' ' -f1) mapped=$((mapped * bs))"
cmboot flash $img --bmap $bmap -d /boot-cm3 --timeout 30 --report /tmp/report.json -v; rc=$?
note "cmboot flash exit $rc"
note "report $(cat /tmp/report.json 2>/dev/null)"
[ $rc -eq 0 ] || fail "cmboot flash exited $rc"
grep -q '"result":"ok"' /tmp/report.json || fail "the report does not say ok"
grep -q '"bytes_written":'$((mapped * bs))',' /tmp/report.json \
    || fail "the report does not say exactly the $((mapped * bs)) mapped bytes were written"
grep -q '"verified":true' /tmp/report.json || fail "the mapped ranges were not verified"
pass "flashed a sparse image with its bmap onto the board's disk"
