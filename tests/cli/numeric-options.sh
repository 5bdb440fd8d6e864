#!/bin/sh
# Every numeric option of every command, against the real binary. A bad value (garbage, sign, trailing text,
# out of range, overflow) gives exactly one line on stderr naming the option and the value, and the usage
# exit: 2, or 255 without a subcommand as rpiboot. A good value passes the parser: boot, flash and list then
# stop at the fake /sys that has no USB (exit 4), write writes a file (exit 0).
# Usage: numeric-options.sh PATH/TO/cmboot. Needs no USB, no root.
set -u
CMBOOT=$1
T=$(mktemp -d "${TMPDIR:-/tmp}/cmboot-numeric.XXXXXX") || exit 1
trap 'rm -rf "$T"' EXIT
mkdir "$T/sys" "$T/sys/bus" # a kernel without USB: nothing can wait for a board
export CMBOOT_SYS_ROOT="$T/sys"
head -c 65536 /dev/zero > "$T/img"
fails=0
checks=0
fail() { echo "FAIL: $*"; fails=$((fails + 1)); }

# run EXIT LABEL VALUE ARGS...: ARGS must exit EXIT; a usage failure must be one stderr line naming
# LABEL (the option) and quoting VALUE ('-' for a line that quotes none).
run() {
    want=$1; label=$2; value=$3; shift 3
    checks=$((checks + 1))
    "$@" > "$T/out" 2> "$T/err" < /dev/null; got=$?
    if [ "$got" -ne "$want" ]; then
        fail "exit $got, expected $want: $*"; sed 's/^/    /' "$T/err"; return
    fi
    if [ "$want" -eq 2 ] || [ "$want" -eq 255 ]; then
        lines=$(wc -l < "$T/err")
        [ "$lines" -eq 1 ] || { fail "$lines lines on stderr, expected 1: $*"; sed 's/^/    /' "$T/err"; }
        grep -q -F -e "$label" "$T/err" || fail "stderr does not name $label: $(cat "$T/err")"
        [ "$value" = - ] || grep -q -F -e "'$value'" "$T/err" || fail "stderr does not quote the value '$value': $(cat "$T/err")"
    fi
}

# opt CMD OPT GOOD-EXIT "GOOD VALUES" "BAD VALUES": every value of each list, as a separate word and as
# OPT=VALUE for long options. CMD is a command line prefix: "boot", "" (rpiboot mode), "flash IMG"...
# Values hold no spaces; the empty value is tested apart.
opt() {
    cmd=$1; o=$2; good_exit=$3; good=$4; bad=$5
    # shellcheck disable=SC2086 # $cmd is a word list on purpose
    set -- $cmd
    usage=2
    [ $# -eq 0 ] && usage=255
    for v in $good; do
        run "$good_exit" "$o" "$v" "$CMBOOT" "$@" "$o" "$v"
    done
    for v in $bad; do
        run "$usage" "$o" "$v" "$CMBOOT" "$@" "$o" "$v"
        case $o in --*) run "$usage" "$o" "$v" "$CMBOOT" "$@" "$o=$v" ;; esac
    done
    run "$usage" "$o" "" "$CMBOOT" "$@" "$o" ""
}

# Garbage every numeric option refuses.
GARBAGE="abc -5 -1 +5 5x 0x10 1e3 nan inf 99999999999999999999 18446744073709551616"
SECONDS_BAD="$GARBAGE 1.2345 1. 1,5 1000000.001 1000001"

for mode in boot ""; do
    opt "$mode" --timeout 4 "0 30 1.5 .5 0.001 1000000" "$SECONDS_BAD"
    opt "$mode" --stage-timeout 4 "0.001 15 1000000" "$SECONDS_BAD 0 0.0001"
    opt "$mode" --next-stage-timeout 4 "0.001 60" "$SECONDS_BAD 0"
    opt "$mode" --request-timeout 4 "0.001 20" "$SECONDS_BAD 0"
    opt "$mode" --request-idle-limit 4 "0 5 1000000" "$SECONDS_BAD"
    opt "$mode" --boards 4 "1 4 1000000" "$GARBAGE 0 1.5 1000001"
    opt "$mode" --chunk-size 4 "512 16384 4M 4MiB 1K 256M" "$GARBAGE 0 511 257M 1.5M 4Q 4m 17179869184G"
    opt "$mode" --bulk-piece 4 "512 1024 256K 16M" "$GARBAGE 0 511 1000 16777728 17M"
    opt "$mode" --in-flight 4 "1 4 16" "$GARBAGE 0 17"
    opt "$mode" -m 4 "1 500 2147483647" "$GARBAGE 0 2147483648"
done
opt "flash $T/img" --timeout 4 "0 30 1.5" "$SECONDS_BAD"
opt "flash $T/img" --pair-timeout 4 "0.001 60" "$SECONDS_BAD 0"
opt "flash $T/img" --boards 4 "1 4 1000000" "$GARBAGE 0 1.5 1000001"
# flash takes boot's port number flags too; a negative value of --boards is never one.
for f in -0 -5 -98; do run 4 "$f" - "$CMBOOT" flash "$T/img" "$f"; done
for f in -99 -100 -0099; do run 2 "$f" - "$CMBOOT" flash "$T/img" "$f"; done
for o in --boards --timeout --pair-timeout --board:--boards; do
    run 2 "${o#*:}" -5 "$CMBOOT" flash "$T/img" "${o%:*}" -5
    grep -q -i "port" "$T/err" && fail "flash ${o%:*} -5 read as a port flag: $(cat "$T/err")"
done
opt "flash $T/img" --lun 4 "0 1 15" "$GARBAGE 16 1.5"
opt "flash $T/img" --target-kind 4 "emmc nvme sd" "EMMC eMMC usb nvme0n1 s sdd 1"
opt "flash $T/img" --via 4 "auto msd fastboot" "AUTO Fastboot mass-storage usb fb 1 msd,fastboot"
opt "flash $T/img" --fastboot-partition 4 "mmcblk0 boot_a system.img x" "a/b a:b ../x abcdefghijklmnopqrstuvwxyz0123456"
opt list --wait 4 "0 100 3600000" "$GARBAGE 3600001 5ms 1.5"
# Board control: a hook that does nothing succeeds (exit 0); off-time values stay short, they are waited.
opt "power cycle --power-cmd true" --off-time 0 "0 0.001 .05" "$SECONDS_BAD 600.001"
opt "power on --power-cmd true" --hook-timeout 0 "0.5 1 30 3600" "$SECONDS_BAD 0 3600.001"
opt "mode usb --boot-mode-cmd true" --hook-timeout 0 "1 5.5" "$SECONDS_BAD 0"
opt "write $T/img $T/out.img" --buffer-size 0 "4096 64K 1M 3M" "$GARBAGE 0 4095 5000 1.5M"
opt "write $T/img $T/out.img" --buffers 0 "2 4 12" "$GARBAGE 0 1 3073"

# rpiboot's port number flags -0..-98 (no subcommand: exit 255; `boot`: 2).
for mode in "" boot; do
    usage=255
    [ -n "$mode" ] && usage=2
    # shellcheck disable=SC2086
    for f in -0 -5 -98; do run 4 "$f" - "$CMBOOT" $mode "$f"; done
    for f in -99 -100 -0099 -99999999999999999999; do
        # shellcheck disable=SC2086
        run $usage "$f" - "$CMBOOT" $mode "$f"
    done
    # A negative number after an option that takes a value is that option's bad value, never a port flag
    # (nor the first one's, even abbreviated).
    for o in --timeout --stage-timeout --boards --chunk-size --in-flight --time:--timeout -m; do
        # shellcheck disable=SC2086
        run $usage "${o#*:}" -5 "$CMBOOT" $mode "${o%:*}" -5
        grep -q -i "port" "$T/err" && fail "${o%:*} -5 read as a port flag: $(cat "$T/err")"
    done
done

# The writer's queue cap: buffers x buffer size at most 12 MiB, counted with the defaults too.
run 2 "--buffers" - "$CMBOOT" write "$T/img" "$T/out.img" --buffer-size 6M
run 2 "--buffers" - "$CMBOOT" write "$T/img" "$T/out.img" --buffers 13
run 0 "" - "$CMBOOT" write "$T/img" "$T/out.img" --buffers 2 --buffer-size 6M
run 0 "" - "$CMBOOT" write "$T/img" "$T/out.img" --buffers 3072 --buffer-size 4K

[ $fails -eq 0 ] || { echo "$fails of $checks check(s) failed"; exit 1; }
echo "all $checks numeric option checks passed"
