#!/bin/sh
# e2e.line-tty: the real cmboot binary draws the line view's rows on a terminal. tmux runs the line-tty
# scenario live (the guest's serial console is the pane), and capture-pane reads the screen at the end: one row
# per board with its result, and the summary. Usage: tty-rows.sh BUILD_DIR. Needs tmux (scripts/deps.sh).
set -u
BUILD=$1
HERE=$(cd "$(dirname "$0")" && pwd)
command -v tmux > /dev/null || { echo "FAIL: tmux is missing (scripts/deps.sh installs it)"; exit 1; }
T=$(mktemp -d "${TMPDIR:-/tmp}/cmboot-tty-rows.XXXXXX") || exit 1
SOCK="cmboot-tty-rows-$$"
tm() { tmux -L "$SOCK" -f /dev/null "$@"; }
trap 'tm kill-server 2> /dev/null; rm -rf "$T"' EXIT
tm new-session -d -s rows -x 120 -y 45 \
    "'$HERE/run-scenario.sh' --build '$BUILD' --scenario line-tty --live; echo \$? > '$T/exit'"
# The pane shows the guest's console (QEMU's stdio, through tee) and then the scenario's host-side checks.
i=0
while [ ! -f "$T/exit" ]; do
    [ $i -lt 1800 ] || { echo "FAIL: the scenario did not finish within 180 s"; exit 1; }
    # The screen while it runs, for the check below: the last frame before the guest powers off.
    tm capture-pane -p -t rows -S -100 2> /dev/null | sed 's/ *$//' > "$T/screen.now" && cp "$T/screen.now" "$T/screen"
    sleep 0.1; i=$((i + 1))
done
rc=$(cat "$T/exit")
fails=0
fail() { echo "FAIL: $*"; fails=$((fails + 1)); }
[ "$rc" -eq 0 ] || fail "the line-tty scenario failed (exit $rc)"
for p in 1-1.1 1-1.2; do
    n=$(grep -c "^$p .*OK .*verified" "$T/screen")
    [ "$n" -eq 1 ] || fail "$n rows of board $p with its result on the screen, expected 1"
done
grep -q "2 done, 0 failed, 0 in progress" "$T/screen" || fail "no summary line '2 done, 0 failed, 0 in progress'"
if [ $fails -ne 0 ]; then
    echo "-- the pane's last screen:"; sed 's/^/    | /' "$T/screen"; exit 1
fi
echo "-- rows on the terminal:"; grep "^1-1\.[12] \|done, .*failed" "$T/screen" | sed 's/^/    | /'
echo "PASS: one row per board with its result, and the summary, on a real terminal"
