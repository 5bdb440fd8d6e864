#!/bin/sh
# bench/flash --usb: one board (BCM2711) plugged in ROM mode, one `cmboot flash` of an IMAGE_MIB MiB raw image
# from boot to verified, timed on the guest clock. $1 (e2e.args=) = IMAGE_MIB[,MAX_SECTORS]. The host compares
# the board's disk with the image (E2E-FLASH line) and bench/flash prints the time beside the board's floor.
# MAX_SECTORS: set the disk's usb-storage max_sectors as soon as it appears (the kernel's default is 240, one
# 120 KiB SCSI command at a time), to see what the per-command cost of this guest is.
. /e2e/common.sh
# shellcheck disable=SC2046 # split on purpose: MIB,MAX_SECTORS -> $1 $2
set -- $(echo "${1:-64}" | tr ',' ' ')
MIB=${1:-64}; MAXSEC=${2:-}
D=/boot-flash

# bootfiles.bin + boot.img, small: the image is what the run is about.
mk_bootdir_modern "$D" 2711 bootcode4.bin 1048576 > /dev/null

img=/tmp/flash.img
mkfile "$img" $((MIB * 1048576)) 42
echo "E2E-FLASH size=$((MIB * 1048576)) sha256=$(sha256sum "$img" | cut -d' ' -f1)"

i=0
while [ $i -lt 200 ] && ! board_at 1-1; do sleep 0.1; i=$((i + 1)); done
board_at 1-1 || fail "no board at 1-1"

mkdir -p /tmp/reports
if [ -n "$MAXSEC" ]; then
    ( i=0; f=/sys/block/sda/device/max_sectors
      while [ $i -lt 600 ] && [ ! -e $f ]; do sleep 0.02; i=$((i + 1)); done
      echo "$MAXSEC" > $f && note "max_sectors $(cat $f), max_sectors_kb $(cat /sys/block/sda/queue/max_sectors_kb)" ) &
fi
t0=$(up)
cmboot flash "$img" -d "$D" --timeout 300 --report /tmp/reports/one.json > /tmp/flash.out 2>&1; rc=$?
t1=$(up)
tail -n 5 /tmp/flash.out | sed 's/^/E2E-NOTE flash: /'
# Phase times from cmboot's own report (ms): boot (ROM to mass storage), write, verify.
ph() { tr -d '\n' < /tmp/reports/one.json 2>/dev/null | sed -n "s/.*\"$1\":\([0-9]*\).*/\1/p"; }
echo "E2E-BENCH-FLASH image_bytes=$((MIB * 1048576)) start=$t0 end=$t1 rc=$rc" \
     "boot_ms=$(ph boot_ms) write_ms=$(ph write_ms) verify_ms=$(ph verify_ms)" \
     "ok=$(grep -c '"result":"ok"' /tmp/reports/one.json 2>/dev/null)"
[ $rc -eq 0 ] || fail "cmboot flash exited $rc"
pass "flashed one board with a $MIB MiB image, verified"
