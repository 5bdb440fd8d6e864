#!/bin/sh
# Four boards of three SoCs on a usb-hub (1-1.1..1-1.4) booted by ONE cmboot run: every disk under its own port
# path, and cmboot's JSON events must show second stages served at overlapping times (boards in parallel).
. /e2e/common.sh
SERIALS=${1:-c3000001,c3000002,c4000003,c5000004}
PORTS="1-1.1 1-1.2 1-1.3 1-1.4"
BIG=16777216   # start.elf and boot.img: ~0.4 s on the 40 MB/s link, so serving is long enough to overlap
D=/boot-mixed

# One directory for every SoC (as with rpiboot -d): the legacy files beside bootfiles.bin (2711/, 2712/) and
# boot.img. Files of the same name are the same file for every board: the host compares each board's by name.
t=/tmp/tar-mixed
mkfile "$D/bootcode.bin" 51200 1; mkfile "$D/start.elf" "$BIG" 2; mkfile "$D/fixup.dat" 7265 3
printf 'enable_uart=1\n[all]\nboot_load_flags=0x1\n' > "$D/config.txt"
mkfile "$t/2711/bootcode4.bin" 102400 11; mkfile "$t/2712/bootcode5.bin" 102400 21
mkfile "$t/common/mcb.bin" 3072 12; mkfile "$t/common/bootmain" 204800 17
for i in 0 1 2 3; do mkfile "$t/common/memsys0$i.bin" 8192 $((13 + i)); done
for p in 2711 2712; do cp "$t"/common/* "$t/$p/"; done
(cd "$t" && tar -cf "$D/bootfiles.bin" 2711 2712) || fail "cannot make bootfiles.bin"
mkfile "$D/boot.img" "$BIG" 18
for f in bootcode.bin start.elf fixup.dat config.txt boot.img; do report_file "$D/$f" "$f"; done
report_file "$t/2711/bootcode4.bin" bootcode4.bin; report_file "$t/2712/bootcode5.bin" bootcode5.bin
for f in mcb.bin bootmain memsys00.bin memsys01.bin memsys02.bin memsys03.bin; do
    report_file "$t/common/$f" "$f"; done

i=0
while [ $i -lt 100 ]; do
    n=0; for p in $PORTS; do board_at "$p" && n=$((n + 1)); done
    [ $n -eq 4 ] && break
    sleep 0.1; i=$((i + 1))
done
for p in $PORTS; do board_at "$p" || fail "no board at $p"; done

# Each JSON line stamped with the guest's clock when read (read from /proc/uptime is a shell builtin: no fork).
stamp() { while IFS= read -r line; do read -r now _ < /proc/uptime; echo "$now $line"; done; }
note "cmboot start (4 boards, one run)"
{ cmboot -d "$D" --boards 4 --wait-msd --json --timeout 60; echo $? > /tmp/cmboot.rc; } | stamp > /tmp/events
rc=$(cat /tmp/cmboot.rc)
note "cmboot exit $rc"
grep -v '"event":"progress"' /tmp/events | sed 's/^/E2E-EVENT /'
[ "$rc" = 0 ] || fail "cmboot --boards 4 exited $rc"

# Per board: its port path, serial, result; second-stage service period [done - elapsed_ms, done]; then how
# many of those periods overlap, the run's wall time and the sum of the boards' own times.
awk -v want="$PORTS" '
function str(k,   m) {
    if (!match($0, "\"" k "\":\"[^\"]*\"")) return ""
    m = substr($0, RSTART, RLENGTH); sub("^\"" k "\":\"", "", m); sub("\"$", "", m); return m
}
function num(k,   m) {
    if (!match($0, "\"" k "\":[0-9]+")) return -1
    m = substr($0, RSTART, RLENGTH); sub("^\"" k "\":", "", m); return m + 0
}
{ t = $1 + 0; ev = str("event"); dev = str("device") }
ev == "device" && !(dev in seen) { seen[dev] = t; if (first == "" || t < first) first = t }
ev == "stage-done" { own[dev] += num("elapsed_ms") / 1000 }
ev == "stage-done" && str("stage") == "second-stage" && !(dev in e2) {
    e2[dev] = t; s2[dev] = t - num("elapsed_ms") / 1000; n2++; order[n2] = dev
}
ev == "board-done" { done[dev] = t; result[dev] = str("value"); serial[dev] = str("serial"); if (t > last) last = t }
END {
    bad = 0; np = split(want, p, " ")
    for (k = 1; k <= np; k++) {
        d = p[k]
        if (!(d in done) || result[d] != "ok") { print "E2E-PARALLEL-BAD " d " board-done=" result[d]; bad = 1; continue }
        if (!(d in e2)) { print "E2E-PARALLEL-BAD " d " no second-stage stage-done"; bad = 1; continue }
        sum += done[d] - seen[d]; stagesum += own[d]
        printf "E2E-NOTE hub-parallel board %s serial=%s seen=%.2f second-stage=%.2f..%.2f (%.0f ms) done=%.2f\n",
               d, serial[d], seen[d], s2[d], e2[d], (e2[d] - s2[d]) * 1000, done[d]
    }
    # Pairs whose second-stage periods intersect, and the most served at one instant (a period start inside
    # the others).
    pairs = 0; most = 0
    for (a = 1; a <= n2; a++) {
        x = order[a]; at = 1
        for (b = 1; b <= n2; b++) {
            if (a == b) continue
            y = order[b]
            lo = s2[x] > s2[y] ? s2[x] : s2[y]; hi = e2[x] < e2[y] ? e2[x] : e2[y]
            if (b > a && lo < hi) pairs++
            if (s2[y] <= s2[x] && s2[x] < e2[y]) at++
        }
        if (at > most) most = at
    }
    printf "E2E-NOTE hub-parallel wall=%.2f s (first board seen -> last board done) sum_per_board=%.2f s " \
           "sum_stage_elapsed=%.2f s overlapping_second_stage_pairs=%d max_concurrent_second_stages=%d\n",
           last - first, sum, stagesum, pairs, most
    print "E2E-PARALLEL pairs=" pairs " bad=" bad
}' /tmp/events > /tmp/parallel
cat /tmp/parallel
grep -q '^E2E-PARALLEL .* bad=0$' /tmp/parallel || fail "a board did not finish cleanly in the run"
pairs=$(sed -n 's/^E2E-PARALLEL pairs=\([0-9]*\) .*/\1/p' /tmp/parallel)
[ "${pairs:-0}" -ge 1 ] || fail "no two second stages were served at the same time: the boards went one by one"

# Every board reached mass storage at its own port path, with its own serial.
k=1; disks=""
for p in $PORTS; do
    s=$(echo "$SERIALS" | cut -d, -f$k)
    disk=$(wait_disk "$p" 10) || fail "no disk under $p"
    [ "$(cat "/sys/bus/usb/devices/$p/serial" 2>/dev/null)" = "$s" ] || fail "$p is not the board with serial $s"
    check_disk "$disk" "board $p serial $s"
    disks="$disks $p=$disk"; k=$((k + 1))
done
pass "4 boards (2x BCM2837, BCM2711, BCM2712) in one run, $pairs overlapping second-stage pairs:$disks"
