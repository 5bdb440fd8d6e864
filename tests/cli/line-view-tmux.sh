#!/bin/sh
# The line view's rows on a real terminal: tmux runs a replay of four boards flashed at once (line_view_replay,
# linked with cli/line_view.c) and capture-pane reads the screen: one live row per board while they write, rows
# cut to the width after the window shrinks (SIGWINCH), and at the end one row per board with its result and
# the summary. Usage: line-view-tmux.sh PATH/TO/line_view_replay. Needs tmux (scripts/deps.sh installs it).
set -u
REPLAY=$1
command -v tmux > /dev/null || { echo "FAIL: tmux is missing (scripts/deps.sh installs it)"; exit 1; }
T=$(mktemp -d "${TMPDIR:-/tmp}/cmboot-line-view.XXXXXX") || exit 1
SOCK="cmboot-line-view-$$"
tm() { tmux -L "$SOCK" -f /dev/null "$@"; }
trap 'tm kill-server 2> /dev/null; rm -rf "$T"' EXIT
fails=0
fail() { echo "FAIL: $*"; fails=$((fails + 1)); }

# The pane's screen, trailing blanks dropped.
screen() { tm capture-pane -p -t line | sed 's/ *$//' > "$T/screen"; }

# wait_for PATTERN: until a line of the screen matches (20 s at most).
wait_for() {
    i=0
    while [ $i -lt 200 ]; do
        screen
        grep -q -e "$1" "$T/screen" && return 0
        i=$((i + 1))
        sleep 0.1
    done
    fail "the screen never showed '$1':"
    sed 's/^/    | /' "$T/screen"
    return 1
}

# one_row_each PATTERN WHAT: each board has exactly one row matching PATTERN on the screen.
one_row_each() {
    for p in 1 2 3 4; do
        n=$(grep -c -e "^1-1\.$p .*$1" "$T/screen")
        [ "$n" -eq 1 ] || { fail "$2: $n rows of 1-1.$p matching '$1', expected 1"; sed 's/^/    | /' "$T/screen"; }
    done
}

# The pane stays open after the replay (cat waits on the terminal) so its last screen can be read.
tm new-session -d -s line -x 100 -y 20 "'$REPLAY' 4 '$T/hold'; echo REPLAY-EXIT=\$?; exec cat"

# 1. At work: a row per board at 50 % with rate and ETA, the log line above them, the summary below.
wait_for "0 done, 0 failed, 4 in progress" || exit 1
# The boards write on their own threads: each reaches its 50 % hold in its own time.
for p in 1 2 3 4; do wait_for "^1-1\.$p .* 50%" || exit 1; done
one_row_each "write .* 50%  .*/s  ETA " "live"
grep -q "^warning: replaying a line of boards" "$T/screen" || fail "the log line is not above the rows"

# 2. A narrower window: the rows are cut to its width, never wrapped (SIGWINCH redraws at once).
tm resize-window -t line -x 50
i=0
while [ $i -lt 100 ]; do
    screen
    long=$(grep -c '.\{50,\}' "$T/screen")
    rows=$(grep -c '^1-1\.[1-4] ' "$T/screen")
    [ "$long" -eq 0 ] && [ "$rows" -ge 4 ] && break
    i=$((i + 1))
    sleep 0.1
done
[ "$long" -eq 0 ] || { fail "a line is wider than the 50-column window:"; sed 's/^/    | /' "$T/screen"; }
grep -q "^0 done, 0 failed, 4 in progress" "$T/screen" || fail "the summary is gone after the resize"
tm resize-window -t line -x 100
wait_for "^1-1\.4 .* ETA " || exit 1 # drawn at the full width again

# 3. Released: every board finishes; one row each with its result and time, and the summary.
touch "$T/hold"
wait_for "REPLAY-EXIT=" || exit 1
grep -q "REPLAY-EXIT=0" "$T/screen" || fail "the replay failed: $(grep REPLAY-EXIT "$T/screen")"
for p in 1 3 4; do
    n=$(grep -c "^1-1\.$p .* OK .*256.0 MiB in 0:0$((p + 4)), verified" "$T/screen")
    [ "$n" -eq 1 ] || fail "1-1.$p: $n result rows, expected 1 saying OK"
done
n=$(grep -c "^1-1\.2 .* FAILED  after 0:06: the read-back differs" "$T/screen")
[ "$n" -eq 1 ] || fail "1-1.2: $n result rows, expected 1 saying FAILED"
grep -q "^3 done, 1 failed, 0 in progress | .* boards/h" "$T/screen" || fail "no final summary"
[ $fails -eq 0 ] || { sed 's/^/    | /' "$T/screen"; echo "$fails check(s) failed"; exit 1; }
echo "line view rows on tmux: all checks passed"
