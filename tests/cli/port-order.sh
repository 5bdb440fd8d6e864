#!/bin/sh
# `list` and `doctor` show boards in port path order, numbers compared as numbers (1-1.2 before 1-1.10,
# 2-1 before 10-1), whatever order the kernel lists them in: the real binary on a fake /sys with six boards.
# Usage: port-order.sh PATH/TO/cmboot. Needs no USB, no root.
set -u
CMBOOT=$1
T=$(mktemp -d "${TMPDIR:-/tmp}/cmboot-port-order.XXXXXX") || exit 1
trap 'rm -rf "$T"' EXIT
fails=0
fail() { echo "FAIL: $*"; fails=$((fails + 1)); }
WANT="1-1 1-1.2 1-1.3 1-1.10 2-1 10-1"

# A BCM2711 ROM at each port path, as the kernel shows it in sysfs (descriptor: 0a5c:2711, serial index 3).
mkdir -p "$T/sys/bus/usb/devices/usb1" "$T/dev/bus/usb/001" "$T/proc"
for p in 1-1.10 10-1 1-1.2 2-1 1-1 1-1.3; do
    d="$T/sys/bus/usb/devices/$p"
    mkdir "$d"
    printf '0a5c\n' > "$d/idVendor"
    printf '2711\n' > "$d/idProduct"
    printf '1\n' > "$d/busnum"
    printf '5\n' > "$d/devnum"
    printf ' 1\n' > "$d/bNumInterfaces"
    printf '189:4\n' > "$d/dev"
    printf 'serial-%s\n' "$p" > "$d/serial"
    printf '\022\001\000\002\000\000\000\100\134\012\021\047\000\000\001\002\003\001\011\002\040\000\001\001\000\200\062' \
        > "$d/descriptors"
done

# order WHAT FILE: the port paths in FILE (one per line) must be $WANT.
order() {
    got=$(tr '\n' ' ' < "$2" | sed 's/ $//')
    if [ "$got" = "$WANT" ]; then echo "ok: $1"; else fail "$1: order '$got', expected '$WANT'"; fi
}

CMBOOT_SYS_ROOT="$T/sys" "$CMBOOT" list --wait 0 > "$T/list" 2> "$T/err" || fail "list: exit $?: $(cat "$T/err")"
sed 1d "$T/list" | awk '{print $1}' > "$T/ports"
order "list" "$T/ports"

CMBOOT_SYS_ROOT="$T/sys" "$CMBOOT" list --wait 0 --json > "$T/list.json" 2> "$T/err" || fail "list --json: exit $?"
grep -o '"port_path":"[^"]*"' "$T/list.json" | cut -d'"' -f4 > "$T/ports"
order "list --json" "$T/ports"

# doctor: exit 4 here (no device nodes for the boards), which does not matter for the order.
"$CMBOOT" doctor --json --sys-root "$T/sys" --dev-root "$T/dev" --proc-root "$T/proc" > "$T/doctor.json" 2> "$T/err"
sed -n '/"boards"/,$p' "$T/doctor.json" | grep -o '"port_path":"[^"]*"' | cut -d'"' -f4 > "$T/ports"
order "doctor --json boards" "$T/ports"
# Each board's findings, in the same order ("board" is the first finding about each).
tr -d ' \n' < "$T/doctor.json" | grep -o '"id":"board","severity":"[a-z]*","device":"[^"]*"' |
    sed 's/.*"device":"//; s/"$//' > "$T/ports"
order "doctor --json findings" "$T/ports"
"$CMBOOT" doctor --sys-root "$T/sys" --dev-root "$T/dev" --proc-root "$T/proc" > "$T/doctor.txt" 2> "$T/err"
sed -n 's/.* in the .* stage at port \([^ ]*\) .*/\1/p' "$T/doctor.txt" > "$T/ports"
order "doctor text" "$T/ports"

[ $fails -eq 0 ] || { echo "$fails check(s) failed"; exit 1; }
echo "all port order checks passed"
