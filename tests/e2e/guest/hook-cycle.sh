#!/bin/sh
# The whole cycle with hook commands: power and boot mode are the emulator's control socket (ttyS1), driven by
# two small scripts as a relay board's tools would be; cmboot runs them without a shell.
. /e2e/common.sh
SERIAL=c3f00001
cat > /tmp/power.sh <<'HOOK'
#!/bin/sh
echo "power $1" >> /tmp/hooks.log
case "$1" in on) echo "plug 0" > /dev/ttyS1 ;; off) echo "unplug 0" > /dev/ttyS1 ;; *) exit 2 ;; esac
HOOK
cat > /tmp/bootmode.sh <<'HOOK'
#!/bin/sh
echo "boot $1" >> /tmp/hooks.log
case "$1" in usb|normal) echo "boot 0 $1" > /dev/ttyS1 ;; *) exit 2 ;; esac
HOOK
chmod +x /tmp/power.sh /tmp/bootmode.sh

usb_id_at() { echo "$(cat "/sys/bus/usb/devices/$1/idVendor" 2>/dev/null):$(cat "/sys/bus/usb/devices/$1/idProduct" 2>/dev/null)"; }
i=0
while [ "$(usb_id_at 1-1)" != 0525:a4aa ] && [ $i -lt 100 ]; do sleep 0.1; i=$((i + 1)); done
[ "$(usb_id_at 1-1)" = 0525:a4aa ] || fail "the board is not in normal mode (0525:a4aa) at 1-1 at start"

mk_bootdir_legacy /boot-cm3
mkfile /tmp/flash.img 4194304 51
echo "E2E-FLASH size=4194304 sha256=$(sha256sum /tmp/flash.img | cut -d' ' -f1)"
cmboot flash /tmp/flash.img -d /boot-cm3 --power-cmd '/tmp/power.sh {on|off}' \
    --boot-mode-cmd '/tmp/bootmode.sh {usb|normal}' --hook-timeout 10 --off-time 0.2 \
    --expect-normal 0525:a4aa --normal-timeout 30 --timeout 30 --report /tmp/r1.json -v; rc=$?
note "cmboot flash exit $rc"
[ $rc -eq 0 ] || fail "cmboot flash exited $rc"
note "control: $(grep -o '"control":.*' /tmp/r1.json | head -c 1500)"
steps=$(grep -o '"control":.*' /tmp/r1.json | grep -o '"name":"[a-z-]*"' | cut -d'"' -f4 | tr '\n' ' ')
want="boot-mode-usb power-off wait power-on boot-mode-normal power-off wait power-on normal-check release "
[ "$steps" = "$want" ] || fail "report steps '$steps', want '$want'"
n=$(grep -o '"control":.*' /tmp/r1.json | grep -o '"result":"ok"' | wc -l)
[ "$n" -eq 10 ] || fail "not every step is ok ($n ok): $(cat /tmp/r1.json)"
grep -q '"detail":"0525:a4aa at 1-1 serial '"$SERIAL"'"' /tmp/r1.json || fail "normal-check detail: $(cat /tmp/r1.json)"
grep -q '"verified":true' /tmp/r1.json || fail "the report says not verified"
hooks=$(tr '\n' ' ' < /tmp/hooks.log)
[ "$hooks" = "boot usb power off power on boot normal power off power on " ] || fail "hooks ran as '$hooks'"
[ "$(usb_id_at 1-1)" = 0525:a4aa ] || fail "the board is not in normal mode after the cycle"
pass "hook cycle: USB boot, flash, verify, normal mode at 1-1 (hooks: $hooks)"
