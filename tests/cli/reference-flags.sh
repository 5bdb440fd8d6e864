#!/bin/sh
# rpiboot's command line as scripts use it: exit codes and outputs of cmboot called without a subcommand
# (usage errors exit 255 like rpiboot's exit(-1)), beside `cmboot boot` (usage errors exit 2).
# Usage: reference-flags.sh PATH/TO/cmboot. None of these reach USB: they end before any board is awaited.
set -u
CMBOOT=$1
fails=0
check() { # expected-exit description command...
    want=$1; what=$2; shift 2
    "$@" > /tmp/cmboot-flags.out 2> /tmp/cmboot-flags.err; got=$?
    if [ "$got" -ne "$want" ]; then
        echo "FAIL: $what: exit $got, expected $want ($*)"; cat /tmp/cmboot-flags.err; fails=$((fails + 1))
    else
        echo "ok: $what (exit $got)"
    fi
}
check 255 "-m 0 is a usage error, as in rpiboot" "$CMBOOT" -m 0
check 255 "-m without a number" "$CMBOOT" -m abc
check 2 "cmboot boot keeps its own usage exit" "$CMBOOT" boot -m 0
check 255 "-o without -d" "$CMBOOT" -o
check 255 "unknown flag" "$CMBOOT" -x
check 255 "port number and -p together" "$CMBOOT" -3 -p 1-1.3
check 255 "port number out of range" "$CMBOOT" -99
check 0 "-V prints the version" "$CMBOOT" -V
grep -q "^cmboot [0-9]" /tmp/cmboot-flags.out || { echo "FAIL: -V printed: $(cat /tmp/cmboot-flags.out)"; fails=$((fails + 1)); }
check 0 "-h prints help on stdout" "$CMBOOT" -h
grep -q -- "-j" /tmp/cmboot-flags.out || { echo "FAIL: -h printed no help"; fails=$((fails + 1)); }
rm -f /tmp/cmboot-flags.out /tmp/cmboot-flags.err
[ $fails -eq 0 ] || { echo "$fails check(s) failed"; exit 1; }
echo "all reference-flag checks passed"
