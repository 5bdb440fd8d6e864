#!/bin/sh
# `cmboot write` stopped mid-write by SIGHUP, or by its --json reader going away, ends as Ctrl-C does: exit
# 130 and a report with the bytes written and the state of the disk (on stderr once stdout is gone).
# The image is a FIFO fed by this script, so the write cannot finish before the stop: 8 MiB first, then
# (only once the stop was sent) 1 MiB at a time over about 2 s, which the writer must not get through: it
# sees a stop at its next buffer, or for a closed stdout at its next progress line (one per 200 ms).
# Usage: stop-report.sh PATH/TO/cmboot [TMPDIR [sighup|closed-stdout]] (both cases by default).
# No device is touched: the target is a regular file.
set -u
CMBOOT=$1
BASE=${2:-${TMPDIR:-/tmp}}
CASES=${3:-sighup closed-stdout}
mkdir -p "$BASE"
T=$(mktemp -d "$BASE/stop-report.XXXXXX") || exit 1
trap 'rm -rf "$T"' EXIT
fails=0
fail() { echo "FAIL: $*"; fails=$((fails + 1)); }
FIRST=$((8 * 1024 * 1024))
CHUNKS=40
MORE=$((CHUNKS * 1024 * 1024))

# Starts the feeder of $T/image and `cmboot write` with stdout on the FIFO $T/out; fd 3 reads that stdout.
start() {
    rm -f "$T/image" "$T/go" "$T/out"
    mkfifo "$T/image" "$T/go" "$T/out" || exit 1
    : > "$T/target.img"
    {
        head -c $FIRST /dev/zero
        read -r _ < "$T/go"
        i=0
        while [ $i -lt $CHUNKS ] && head -c 1048576 /dev/zero; do sleep 0.05; i=$((i + 1)); done
    } > "$T/image" 2>/dev/null &
    FEEDER=$!
    "$CMBOOT" write "$T/image" "$T/target.img" --json --no-verify > "$T/out" 2> "$T/err" &
    RUNNER=$!
    exec 3< "$T/out"
}

# Reads cmboot's JSON lines from fd 3 until one shows bytes on the target: the write really started.
wait_written() {
    while IFS= read -r line <&3; do
        printf '%s\n' "$line" >> "$T/seen"
        case $line in
        *'"event":"progress"'*'"name":"write","done":'[1-9]*) return 0 ;;
        esac
    done
    return 1
}

# The report's numbers: bytes_written must show the write had begun and was stopped before the feed ended.
check_report() { # what file-with-report
    what=$1; file=$2; before=$fails
    report=$(grep '"event":"report"' "$file" | tail -n 1)
    [ -n "$report" ] || { fail "$what: no report in $file"; sed 's/^/  | /' "$T/err"; return; }
    case $report in *'"result":"CMBOOT_ERR_CANCELLED"'*) ;; *) fail "$what: report result: $report" ;; esac
    case $report in *'"disk_state":"partial"'*) ;; *) fail "$what: report has no disk_state partial: $report" ;; esac
    case $report in
    *'"disk":"'*'bytes of the image were written'*) ;;
    *) fail "$what: report has no disk sentence: $report" ;;
    esac
    written=$(printf '%s\n' "$report" | sed -n 's/.*"bytes_written":\([0-9]*\).*/\1/p')
    if [ -z "$written" ] || [ "$written" -le 0 ] || [ "$written" -ge $((FIRST + MORE)) ]; then
        fail "$what: bytes_written '$written' is not between 1 and the whole feed"
    fi
    size=$(wc -c < "$T/target.img")
    [ "$size" -ge "$written" ] || fail "$what: the target holds $size bytes, the report says $written"
    [ $fails -eq $before ] && echo "ok: $what: exit 130, $written bytes reported written, disk partial"
}

# 1. SIGHUP while the write runs (the terminal or the ssh session went away).
case_sighup() {
: > "$T/seen"
start
if wait_written; then
    kill -HUP $RUNNER 2>/dev/null
    # the writer is blocked reading the image: more data lets it reach its next check
    echo go > "$T/go"
    cat <&3 >> "$T/seen"
    exec 3<&-
    wait $RUNNER; rc=$?
    [ "$rc" = 130 ] || fail "SIGHUP: exit $rc, expected 130"
    check_report SIGHUP "$T/seen"
else
    exec 3<&-
    fail "SIGHUP: the write never started"; sed 's/^/  | /' "$T/err"
    kill $FEEDER 2>/dev/null
    wait $RUNNER
fi
wait $FEEDER 2>/dev/null
}

# 2. The --json reader goes away (like `cmboot write --json ... | head -c 1`): EPIPE on stdout.
case_closed_stdout() {
: > "$T/seen"
start
if wait_written; then
    exec 3<&-  # the reader leaves, as `head -c 1` does, while the write is still going on
    echo go > "$T/go"
    wait $RUNNER; rc=$?
    [ "$rc" = 130 ] || fail "closed stdout: exit $rc, expected 130"
    check_report "closed stdout" "$T/err"  # stdout is gone: the report must be on stderr
else
    exec 3<&-
    fail "closed stdout: the write never started"; sed 's/^/  | /' "$T/err"
    kill $FEEDER 2>/dev/null
    wait $RUNNER
fi
wait $FEEDER 2>/dev/null
}

for c in $CASES; do
    case $c in
    sighup) case_sighup ;;
    closed-stdout) case_closed_stdout ;;
    *) echo "unknown case $c"; exit 2 ;;
    esac
done
[ $fails -eq 0 ] || { echo "$fails check(s) failed"; exit 1; }
echo "all stop-report checks passed"
