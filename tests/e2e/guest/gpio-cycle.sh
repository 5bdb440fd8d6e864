#!/bin/sh
# The whole cycle with nothing but GPIO lines of the emulated CP2112: a CM3+ running normally is put in USB boot
# mode, power cycled, booted, flashed, verified, put back in normal mode and power cycled, and cmboot waits for its
# normal-mode device. Then a second flash is stopped by SIGTERM mid-write: the boot line must be released.
. /e2e/common.sh
SERIAL=c3f00001
CTL="--boot-gpio cp2112_gpio:0 --power-gpio cp2112_gpio:1 --off-time 0.2"

usb_id_at() { echo "$(cat "/sys/bus/usb/devices/$1/idVendor" 2>/dev/null):$(cat "/sys/bus/usb/devices/$1/idProduct" 2>/dev/null)"; }
wait_id_at() { # PORT VID:PID SECONDS
    i=0
    while [ $i -lt $(($3 * 10)) ]; do [ "$(usb_id_at "$1")" = "$2" ] && return 0; sleep 0.1; i=$((i + 1)); done
    return 1
}
chip=""
i=0
while [ -z "$chip" ] && [ $i -lt 100 ]; do
    for c in /sys/class/gpio/gpiochip*; do [ "$(cat "$c/label" 2>/dev/null)" = cp2112_gpio ] && chip=$c; done
    [ -n "$chip" ] || { sleep 0.1; i=$((i + 1)); }
done
[ -n "$chip" ] || fail "hid-cp2112 registered no gpiochip"
BASE=$(cat "$chip/base")
wait_id_at 1-1 0525:a4aa 10 || fail "the board is not in normal mode (0525:a4aa) at 1-1 at start"
note "board at 1-1 in normal mode, serial $(cat /sys/bus/usb/devices/1-1/serial)"

mk_bootdir_legacy /boot-cm3
mkfile /tmp/flash.img 4194304 41
echo "E2E-FLASH size=4194304 sha256=$(sha256sum /tmp/flash.img | cut -d' ' -f1)"
# shellcheck disable=SC2086 # CTL is a list of options
cmboot flash /tmp/flash.img -d /boot-cm3 $CTL --expect-normal 0525:a4aa --normal-timeout 30 --timeout 30 \
    --report /tmp/r1.json -v; rc=$?
note "cmboot flash exit $rc"
[ $rc -eq 0 ] || fail "cmboot flash exited $rc"
[ -s /tmp/r1.json ] || fail "no report"
note "control: $(grep -o '"control":.*' /tmp/r1.json | head -c 1500)"
# Every step, in order, each ok: the cycle before the boot, the cycle after, the normal-mode check.
steps=$(grep -o '"control":.*' /tmp/r1.json | grep -o '"name":"[a-z-]*"'  | cut -d'"' -f4 | tr '\n' ' ')
want="boot-mode-usb power-off wait power-on boot-mode-normal power-off wait power-on normal-check boot-mode-normal release "
[ "$steps" = "$want" ] || fail "report steps '$steps', want '$want'"
n=$(grep -o '"result":"ok"' /tmp/r1.json | wc -l)
[ "$n" -ge 12 ] || fail "not every step is ok ($n ok results): $(cat /tmp/r1.json)"
grep -q '"detail":"0525:a4aa at 1-1 serial '"$SERIAL"'"' /tmp/r1.json || fail "normal-check detail: $(cat /tmp/r1.json)"
grep -q '"verified":true' /tmp/r1.json || fail "the report says not verified"
[ "$(usb_id_at 1-1)" = 0525:a4aa ] || fail "the board is not in normal mode after the cycle: $(usb_id_at 1-1)"

# A bigger image (the first image, then more) stopped by SIGTERM after its first progress event.
mkfile /tmp/more.img 29360128 42
cat /tmp/flash.img /tmp/more.img > /tmp/big.img
rm /tmp/more.img
# shellcheck disable=SC2086
cmboot flash /tmp/big.img -d /boot-cm3 $CTL --timeout 30 --json > /tmp/out2.json 2> /tmp/err2.txt &
pid=$!
i=0
while ! grep -q '"event":"progress"' /tmp/out2.json 2>/dev/null; do
    kill -0 $pid 2>/dev/null || break
    [ $i -lt 600 ] || break
    sleep 0.05; i=$((i + 1))
done
grep -q '"event":"progress"' /tmp/out2.json || { cat /tmp/err2.txt; fail "the second flash shows no progress"; }
kill -TERM $pid
wait $pid; rc=$?
note "second flash after SIGTERM: exit $rc"
[ $rc -eq 130 ] || { tail -5 /tmp/err2.txt; fail "interrupted flash exited $rc, not 130"; }
grep '"event":"report"' /tmp/out2.json > /tmp/r2.json || fail "no report from the interrupted flash"
steps=$(grep -o '"control":.*' /tmp/r2.json | grep -o '"name":"[a-z-]*"'  | cut -d'"' -f4 | tr '\n' ' ')
note "interrupted run's control steps: $steps"
case "$steps" in "boot-mode-usb power-off wait power-on boot-mode-normal release "*) ;;
    *) fail "interrupted run's steps '$steps'" ;; esac
# Released: the boot line is free (sysfs can take it) and reads high (nRPIBOOT not asserted).
echo $((BASE + 0)) > /sys/class/gpio/export || fail "GPIO.0 is still held after the SIGTERM"
lvl=$(cat /sys/class/gpio/gpio$((BASE + 0))/value)
echo $((BASE + 0)) > /sys/class/gpio/unexport
[ "$lvl" = 1 ] || fail "nRPIBOOT (GPIO.0) reads $lvl after the SIGTERM: still asserted"
pass "GPIO cycle: USB boot, flash, verify, normal mode at 1-1; SIGTERM mid-write left nRPIBOOT released"
