#!/bin/sh
# `cmboot write` targets and exit codes, against the real binary with regular files and a fake dev root:
# no file is ever created in the dev root, a missing file needs --create (or a .img name), a longer file is
# cut to the image, and a target that fills up mid-write is exit 5 (written), never 6 (refused).
# Usage: write-targets.sh PATH/TO/cmboot. Needs no USB, no root.
set -u
CMBOOT=$1
T=$(mktemp -d "${TMPDIR:-/tmp}/cmboot-write-targets.XXXXXX")
trap 'rm -rf "$T"' EXIT
fails=0
check() { # expected-exit description command...
    want=$1; what=$2; shift 2
    "$@" > "$T/out" 2> "$T/err"; got=$?
    if [ "$got" -ne "$want" ]; then
        echo "FAIL: $what: exit $got, expected $want ($*)"; cat "$T/err"; fails=$((fails + 1))
    else
        echo "ok: $what (exit $got)"
    fi
}
no() { # description command...: the command must fail (a file check)
    what=$1; shift
    if "$@"; then echo "FAIL: $what"; fails=$((fails + 1)); else echo "ok: $what"; fi
}
mkdir "$T/dev"
head -c 3000000 /dev/urandom > "$T/os.img"
export CMBOOT_DEV_ROOT="$T/dev"

check 2 "a disk that is not there is an error" "$CMBOOT" write "$T/os.img" "$T/dev/sdzz"
no "no file created in the dev root" test -e "$T/dev/sdzz"
cat "$T/out" "$T/err" | grep -q "no such disk" || { echo "FAIL: no 'no such disk' in: $(cat "$T/out" "$T/err")"; fails=$((fails + 1)); }

check 2 "a missing file without --create" "$CMBOOT" write "$T/os.img" "$T/new.bin"
cat "$T/out" "$T/err" | grep -q -- "--create" || { echo "FAIL: the error does not mention --create"; fails=$((fails + 1)); }
no "nothing created without --create" test -e "$T/new.bin"
check 0 "a missing file with --create" "$CMBOOT" write "$T/os.img" "$T/new.bin" --create
cmp -s "$T/os.img" "$T/new.bin" || { echo "FAIL: new.bin differs"; fails=$((fails + 1)); }
check 0 "a missing *.img is created" "$CMBOOT" write "$T/os.img" "$T/copy.img"

head -c 5000000 /dev/zero > "$T/long.bin"
check 0 "a longer file" "$CMBOOT" write "$T/os.img" "$T/long.bin" --json
cmp -s "$T/os.img" "$T/long.bin" || { echo "FAIL: long.bin is not the image (length included)"; fails=$((fails + 1)); }
grep -q '"truncated_from":5000000' "$T/out" || { echo "FAIL: the report does not say it was cut"; fails=$((fails + 1)); }

# An image of unknown size (xz) on a target that fills up: written, then failed: exit 5 with the bytes written.
if command -v xz >/dev/null; then
    xz -0 -c "$T/os.img" > "$T/os.img.xz"
    check 5 "a target full mid-write" sh -c "ulimit -f 1024; exec \"\$0\" write \"\$1\" \"\$2\" --json" \
        "$CMBOOT" "$T/os.img.xz" "$T/full.img"
    grep -q 'bytes written' "$T/out" || { echo "FAIL: the report does not say how much was written"; fails=$((fails + 1)); }
else
    echo "skip: no xz"
fi
[ $fails -eq 0 ] || { echo "$fails check(s) failed"; exit 1; }
echo "all write-target checks passed"
