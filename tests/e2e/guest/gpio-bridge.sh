#!/bin/sh
# The USB GPIO bridge alone: the kernel's hid-cp2112 driver gives the emulated CP2112 a gpiochip, and its lines
# (sysfs GPIO: busybox has no libgpiod tools) power the wired board on in USB boot mode, then in normal mode.
. /e2e/common.sh
SERIAL=${1:-c3f00001}
BOOT=0  # GPIO.0: nRPIBOOT, low = USB boot (cmboot-sim --wire-boot 0)
POWER=1 # GPIO.1: the board's power, high = on (cmboot-sim --wire-power 1)

# The USB device name (e.g. 1-2) with this VID and PID, waiting up to $3 seconds.
usb_dev() {
    i=0
    while [ $i -lt $(($3 * 10)) ]; do
        for d in /sys/bus/usb/devices/*; do
            [ "$(cat "$d/idVendor" 2>/dev/null):$(cat "$d/idProduct" 2>/dev/null)" = "$1:$2" ] &&
                { basename "$d"; return 0; }
        done
        sleep 0.1; i=$((i + 1))
    done
    return 1
}
# Waits up to $3 seconds until no device with this VID and PID is left.
usb_gone() {
    i=0
    while [ $i -lt $(($3 * 10)) ]; do
        usb_dev "$1" "$2" 0 >/dev/null || return 0
        sleep 0.1; i=$((i + 1))
    done
    return 1
}
gpio() { echo "$2" > "/sys/class/gpio/gpio$((BASE + $1))/$3" || fail "cannot write $2 to GPIO.$1 $3"; }
level() { cat "/sys/class/gpio/gpio$((BASE + $1))/value"; }

bridge=$(usb_dev 10c4 ea90 10) || fail "no CP2112 (10c4:ea90) on the bus"
note "bridge at $bridge: $(cat "/sys/bus/usb/devices/$bridge/product" 2>/dev/null)"

# The driver's gpiochip: the legacy class entry (label, ngpio, base) and the character device.
chip=""
i=0
while [ -z "$chip" ] && [ $i -lt 100 ]; do
    for c in /sys/class/gpio/gpiochip*; do
        [ "$(cat "$c/label" 2>/dev/null)" = cp2112_gpio ] && chip=$c
    done
    [ -n "$chip" ] || { sleep 0.1; i=$((i + 1)); }
done
[ -n "$chip" ] || fail "hid-cp2112 registered no gpiochip (lsmod: $(cut -d' ' -f1 /proc/modules | tr '\n' ' '))"
BASE=$(cat "$chip/base")
NGPIO=$(cat "$chip/ngpio")
[ "$NGPIO" = 8 ] || fail "the CP2112 gpiochip has $NGPIO lines, not 8"
cdev=""
for g in /sys/bus/gpio/devices/gpiochip*; do
    case "$(readlink -f "$g")" in *10C4:EA90*) cdev=$(basename "$g") ;; esac
done
[ -n "$cdev" ] || fail "no gpiochip under the CP2112's HID device in /sys/bus/gpio/devices"
[ -c "/dev/$cdev" ] || fail "no character device /dev/$cdev (CONFIG_GPIO_CDEV)"
note "gpiochip $(basename "$chip") label=$(cat "$chip/label") ngpio=$NGPIO base=$BASE cdev=/dev/$cdev"
note "driver: $(dmesg | grep -m1 -o 'Part Number.*')"

# At power-up every bridge line is a pulled-up input: the board is powered with nRPIBOOT released.
board=$(usb_dev 0525 a4aa 10) || fail "the board is not in normal mode (0525:a4aa) at start"
note "board at $board in normal mode, serial $(cat "/sys/bus/usb/devices/$board/serial")"

echo $((BASE + BOOT)) > /sys/class/gpio/export || fail "cannot export GPIO.$BOOT"
echo $((BASE + POWER)) > /sys/class/gpio/export || fail "cannot export GPIO.$POWER"

# USB boot mode: assert nRPIBOOT, power-cycle.
gpio $BOOT low direction
gpio $POWER low direction
usb_gone 0525 a4aa 10 || fail "the board stayed on the bus with its power line low"
note "power off: board gone"
[ "$(level $POWER)" = 0 ] || fail "GPIO.$POWER reads $(level $POWER) while driven low"
gpio $POWER 1 value
rom=$(usb_dev 0a5c 2764 10) || fail "no boot ROM (0a5c:2764) after power-on with nRPIBOOT asserted"
[ "$(level $BOOT)$(level $POWER)" = 01 ] || fail "lines read $(level $BOOT)$(level $POWER), want 01"
note "power on with nRPIBOOT low: boot ROM $(cat "/sys/bus/usb/devices/$rom/idVendor"):$(cat \
    "/sys/bus/usb/devices/$rom/idProduct") at $rom"

# Normal mode: release nRPIBOOT, power-cycle.
gpio $BOOT 1 value
gpio $POWER 0 value
usb_gone 0a5c 2764 10 || fail "the boot ROM stayed on the bus with its power line low"
gpio $POWER 1 value
board=$(usb_dev 0525 a4aa 10) || fail "the board did not come back in normal mode (0525:a4aa)"
got=$(cat "/sys/bus/usb/devices/$board/serial")
[ "$got" = "$SERIAL" ] || fail "normal mode shows serial '$got', not the board's $SERIAL"
note "power on with nRPIBOOT released: normal mode at $board, serial $got"

# The driver logs every failed report request (hid_err): there must be none.
errs=$(dmesg | grep -i 'cp2112.*error' | head -3)
[ -z "$errs" ] || fail "hid-cp2112 reported errors: $errs"
echo $((BASE + BOOT)) > /sys/class/gpio/unexport
echo $((BASE + POWER)) > /sys/class/gpio/unexport
pass "bridge $bridge gpiochip $cdev (8 lines): ROM with nRPIBOOT asserted, normal mode with it released"
