#!/bin/sh
# cmboot flash --via auto of an xz image with its bmap onto a CM5 whose next stage is the fastboot gadget, in a
# kernel without usb-storage and sd_mod: only usbfs is left. fastboot reads it back with fetch:; fastboot-nofetch
# (a gadget without fetch:) must say "written, not read back". The host compares the partition's file.
. /e2e/common.sh
for m in usb_storage sd_mod uas; do
    [ ! -e /sys/module/$m ] || fail "/sys/module/$m exists: the kernel has $m, the proof would prove nothing"
done
[ ! -e /sys/bus/usb/drivers/usb-storage ] || fail "the usb-storage driver is registered"
note "no usb_storage, sd_mod or uas in this kernel"
mk_bootdir_modern /boot-cm5 2712 bootcode5.bin
img=/e2e-data/flash.img.xz
bmap=/e2e-data/flash.img.bmap
{ [ -r $img ] && [ -r $bmap ]; } || fail "no $img or $bmap: the runner did not append the image archive"
mapped=$(sed -n 's:.*<MappedBlocksCount> *\([0-9]*\) *<.*:\1:p' $bmap)
bs=$(sed -n 's:.*<BlockSize> *\([0-9]*\) *<.*:\1:p' $bmap)
{ [ -n "$mapped" ] && [ -n "$bs" ]; } || fail "cannot read MappedBlocksCount/BlockSize from $bmap"
echo "E2E-FLASH size=$(xzcat $img | wc -c) sha256=$(xzcat $img | sha256sum | cut -d' ' -f1) mapped=$((mapped * bs))"
cmboot flash $img --bmap $bmap -d /boot-cm5 --via auto --timeout 60 --report /tmp/report.json -v; rc=$?
note "cmboot flash exit $rc"
note "report $(cat /tmp/report.json 2>/dev/null)"
[ $rc -eq 0 ] || fail "cmboot flash exited $rc"
r=/tmp/report.json
grep -q '"result":"ok"' $r || fail "the report does not say ok"
grep -q '"via":"fastboot"' $r || fail "--via auto did not write through the fastboot gadget"
grep -q '"format":"xz"' $r || fail "the report does not name the xz format"
grep -q '"target":"fastboot:mmcblk0"' $r || fail "the report does not name the gadget's mmcblk0"
[ "$(cat /sys/bus/usb/devices/1-1/idVendor 2>/dev/null):$(cat /sys/bus/usb/devices/1-1/idProduct 2>/dev/null)" = \
  18d1:4e40 ] || fail "the fastboot gadget (18d1:4e40) is not on port 1-1"
for b in /sys/block/sd*; do [ ! -e "$b" ] || fail "a SCSI disk appeared: $b"; done
if [ "$SCEN" = fastboot-nofetch ]; then
    grep -q '"verified":true' $r && fail "a gadget without fetch: cannot have verified anything"
    grep -q '"read_back":false' $r || fail "the report does not say the image was not read back"
    grep -q '"disk_state":"written"' $r || fail "the report's disk_state is not \"written\""
    grep -q 'not read back' $r || fail "the report does not say \"not read back\""
    pass "flashed through fastboot without fetch:; reported written, not read back"
fi
grep -q '"verified":true' $r || fail "the image was not verified"
grep -q '"read_back":true' $r || fail "the report does not say the image was read back"
grep -q '"disk_state":"verified"' $r || fail "the report's disk_state is not \"verified\""
pass "flashed an xz image with its bmap through fastboot, read back with fetch:"
