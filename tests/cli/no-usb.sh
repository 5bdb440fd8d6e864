#!/bin/sh
# Every command that waits for boards says at once that a kernel without USB support can show none, and
# exits 4 (host problem), instead of waiting for ever: boot (and rpiboot mode), flash, list. Run against a
# fake /sys without bus/usb (CMBOOT_SYS_ROOT, as the sysfs backend reads it) and, on a host whose own kernel
# has no USB (/sys/bus exists, /sys/bus/usb does not), against the real one with both backends.
# Usage: no-usb.sh PATH/TO/cmboot. Needs no USB, no root.
set -u
CMBOOT=$1
T=$(mktemp -d "${TMPDIR:-/tmp}/cmboot-no-usb.XXXXXX") || exit 1
trap 'rm -rf "$T"' EXIT
fails=0
fail() { echo "FAIL: $*"; fails=$((fails + 1)); }
head -c 65536 /dev/zero > "$T/img"
mkdir -p "$T/sys/bus" "$T/boot"
: > "$T/boot/bootcode.bin"

# expect_no_usb WHAT ARGS...: exit 4 within 20 s, one stderr line that says why and what to run.
expect_no_usb() {
    what=$1; shift
    timeout 20 "$CMBOOT" "$@" > "$T/out" 2> "$T/err" < /dev/null; got=$?
    if [ "$got" -eq 124 ]; then
        fail "$what: still waiting after 20 s ($*)"; return
    fi
    [ "$got" -eq 4 ] || { fail "$what: exit $got, expected 4 ($*)"; sed 's/^/    /' "$T/err"; return; }
    if ! grep -q "no USB support" "$T/err" || ! grep -q "cmboot doctor" "$T/err"; then
        fail "$what: no reason given: $(cat "$T/err")"; return
    fi
    [ "$(wc -l < "$T/err")" -eq 1 ] || fail "$what: more than one line on stderr: $(cat "$T/err")"
    echo "ok: $what"
}

all_commands() { # LABEL EXTRA-ARGS...: each command that waits for boards
    label=$1; shift
    expect_no_usb "$label: boot" boot -d "$T/boot" "$@"
    expect_no_usb "$label: boot --json" boot -d "$T/boot" --json "$@"
    expect_no_usb "$label: rpiboot mode" -d "$T/boot" "$@"
    expect_no_usb "$label: flash" flash "$T/img" -d "$T/boot" "$@"
    expect_no_usb "$label: flash --json" flash "$T/img" -d "$T/boot" --json "$@"
    expect_no_usb "$label: flash --target" flash "$T/img" -d "$T/boot" --target "$T/out.img" "$@"
    expect_no_usb "$label: list" list "$@"
    expect_no_usb "$label: list --json" list --json "$@"
}

export CMBOOT_SYS_ROOT="$T/sys"
all_commands "fake /sys"
unset CMBOOT_SYS_ROOT
if [ -d /sys/bus ] && [ ! -e /sys/bus/usb ]; then
    all_commands "this host"
    all_commands "this host, libusb" --discovery=libusb
else
    echo "note: this host has USB; only the fake /sys was checked"
fi

[ $fails -eq 0 ] || { echo "$fails check(s) failed"; exit 1; }
echo "all no-USB checks passed"
