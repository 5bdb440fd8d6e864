#!/bin/sh
# What a person sees when a command fails, on a terminal and off one, against the real binary:
# - `flash -v` logs through its own output: text on a terminal (it used to hand the wrong struct to the log
#   printer, which then printed JSON there), JSON lines off one;
# - a failure prints one human line on stderr also in JSON mode (off a terminal or --json);
# - no human line shows an enum name (CMBOOT_ERR_...): those stay in JSON fields.
# Terminals come from script(1) (util-linux). Usage: output-modes.sh PATH/TO/cmboot. Needs no USB, no root.
set -u
CMBOOT=$1
T=$(mktemp -d "${TMPDIR:-/tmp}/cmboot-output.XXXXXX") || exit 1
trap 'rm -rf "$T"' EXIT
fails=0
fail() { echo "FAIL: $*"; fails=$((fails + 1)); }
command -v script > /dev/null || { echo "script(1) is missing (util-linux)"; exit 1; }
head -c 65536 /dev/zero > "$T/img"
mkdir -p "$T/sys/bus/usb/devices" "$T/empty" "$T/boot"
: > "$T/boot/bootcode.bin"
: > "$T/boot/bootcode4.bin"
# A USB bus with no board on it: boot and flash get past the USB check and then find nothing.
export CMBOOT_SYS_ROOT="$T/sys"

# on_tty EXPECTED-EXIT NAME ARGS...: runs cmboot on a pseudo-terminal; its output lands in $T/NAME.
on_tty() {
    want=$1; name=$2; shift 2
    cmd="'$CMBOOT'"
    for a in "$@"; do cmd="$cmd '$a'"; done
    script -qec "$cmd" /dev/null < /dev/null > "$T/$name" 2>&1; got=$?
    [ "$got" -eq "$want" ] || { fail "$name: exit $got on a terminal, expected $want"; sed 's/^/    /' "$T/$name"; }
}

# off_tty EXPECTED-EXIT NAME ARGS...: stdout to $T/NAME.out, stderr to $T/NAME.err, neither a terminal.
off_tty() {
    want=$1; name=$2; shift 2
    "$CMBOOT" "$@" > "$T/$name.out" 2> "$T/$name.err" < /dev/null; got=$?
    [ "$got" -eq "$want" ] || { fail "$name: exit $got off a terminal, expected $want"; sed 's/^/    /' "$T/$name.err"; }
}

# human_lines FILE: the lines of FILE that are not JSON.
human_lines() { grep -v '^{' "$1" | tr -d '\r'; }

# one_human_line NAME FILE PATTERN: FILE holds exactly one non-JSON line, matching PATTERN.
one_human_line() {
    n=$(human_lines "$2" | grep -c .)
    [ "$n" -eq 1 ] || { fail "$1: $n human lines on stderr, expected 1: $(cat "$2")"; return; }
    human_lines "$2" | grep -q -e "$3" || fail "$1: the human line does not say '$3': $(human_lines "$2")"
}

# tty_line NAME FILE PATTERN: a terminal's output (progress and phase lines too) has one line matching
# PATTERN among the lines that start "cmboot".
tty_line() {
    n=$(human_lines "$2" | grep -c '^cmboot')
    [ "$n" -eq 1 ] || { fail "$1: $n 'cmboot...' lines on the terminal, expected 1: $(cat "$2")"; return; }
    human_lines "$2" | grep -q -e "$3" || fail "$1: no line says '$3': $(human_lines "$2")"
}

no_enum_names() { # NAME FILE: no human line names an enum
    if human_lines "$2" | grep -q CMBOOT_ERR_; then fail "$1: an enum name in a human line: $(human_lines "$2")"; fi
}

# 1. flash -v: the logs of the boot (no boot files in an empty -d) are text on a terminal...
on_tty 1 flash-tty flash "$T/img" -d "$T/empty" -v --timeout 1
grep -q '"event":"log"' "$T/flash-tty" && fail "flash -v printed JSON logs on a terminal: $(head -3 "$T/flash-tty")"
grep -q '^error: no boot files' "$T/flash-tty" || fail "flash -v: no text error log on a terminal: $(cat "$T/flash-tty")"
grep -q 'no bootcode.bin' "$T/flash-tty" || fail "flash -v: the info logs (-v) are missing: $(cat "$T/flash-tty")"
no_enum_names flash-tty "$T/flash-tty"
# ...and JSON lines off one, beside one human line.
off_tty 1 flash flash "$T/img" -d "$T/empty" -v --timeout 1
grep -q '^{"event":"log","level":"error"' "$T/flash.err" || fail "flash off a terminal: no JSON log: $(cat "$T/flash.err")"
one_human_line flash "$T/flash.err" "^cmboot flash: no boot files"
no_enum_names flash "$T/flash.err"

# 2. No board within --timeout: boot and flash say so in words, in every mode (exit 3; flash 1 as before).
for mode in "" --json; do
    # shellcheck disable=SC2086 # $mode is empty or one word
    off_tty 3 "boot$mode" boot -d "$T/boot" --timeout 0.3 $mode
    check=one_human_line # JSON mode: that line alone; text mode also says what it waits for
    [ -z "$mode" ] && check=tty_line
    $check "boot $mode" "$T/boot$mode.err" "^cmboot boot: no board appeared within 0.3 s"
    no_enum_names "boot $mode" "$T/boot$mode.err"
done
grep -q '"event":"result","result":"CMBOOT_ERR_TIMEOUT"' "$T/boot--json.out" ||
    fail "boot --json: the result event lost its error name: $(cat "$T/boot--json.out")"
on_tty 3 boot-tty boot -d "$T/boot" --timeout 0.3
tty_line boot-tty "$T/boot-tty" "^cmboot boot: no board appeared within 0.3 s"
off_tty 3 flash-timeout flash "$T/img" -d "$T/boot" --timeout 0.3
one_human_line flash-timeout "$T/flash-timeout.err" "^cmboot flash: no board appeared within 0.3 s"

# 3. write failures: the reason in words on a terminal, off one and with --json; the report keeps the name.
for mode in "" --json; do
    # shellcheck disable=SC2086
    off_tty 2 "write-missing$mode" write "$T/img" "$T/nodir/disk" $mode
    one_human_line "write-missing $mode" "$T/write-missing$mode.err" "^cmboot: .*does not exist"
    # shellcheck disable=SC2086
    off_tty 6 "write-refused$mode" write "$T/img" /dev/null $mode
    one_human_line "write-refused $mode" "$T/write-refused$mode.err" "nothing was written"
    grep -q '"result":"CMBOOT_ERR_' "$T/write-refused$mode.out" || fail "write $mode: the report has no result name"
done
on_tty 2 write-tty write "$T/img" "$T/nodir/disk"
tty_line write-tty "$T/write-tty" "^cmboot: .*does not exist"
no_enum_names write-tty "$T/write-tty"

# 4. Other usage errors say what is wrong in one line: an unknown backend (it used to be "cannot watch for
#    USB devices: invalid argument"); `cmboot help CMD` is that command's help.
off_tty 2 disc-boot boot --discovery foo
one_human_line "boot --discovery foo" "$T/disc-boot.err" "unknown discovery backend 'foo'"
off_tty 255 disc-rpiboot --discovery foo
one_human_line "--discovery foo" "$T/disc-rpiboot.err" "unknown discovery backend 'foo'"
off_tty 2 disc-flash flash "$T/img" --discovery foo
one_human_line "flash --discovery foo" "$T/disc-flash.err" "unknown discovery backend 'foo'"
off_tty 0 help-flash help flash
grep -q "^usage: cmboot flash IMAGE" "$T/help-flash.out" || fail "cmboot help flash: $(head -2 "$T/help-flash.out")"

[ $fails -eq 0 ] || { echo "$fails check(s) failed"; exit 1; }
echo "all output-mode checks passed"
