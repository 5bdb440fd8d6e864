#!/bin/sh
# bench/line: N boards of mixed SoCs on a usb-hub (1-1.1..1-1.N) flashed with one IMAGE_MIB MiB raw image by
# ONE `cmboot flash` run, timed on the guest clock. $1 (e2e.args=) = N,IMAGE_MIB. The host compares every
# board's disk with the image (E2E-FLASH line) afterwards; the bench script (bench/line) prints the figures.
. /e2e/common.sh
# shellcheck disable=SC2046 # split on purpose: N,MIB -> $1 $2
set -- $(echo "${1:-1,64}" | tr ',' ' ')
N=${1:-1}; MIB=${2:-64}
D=/boot-line

# One directory for every SoC (as hub-parallel): legacy files and bootfiles.bin + boot.img, all small so that
# writing the image dominates the run.
t=/tmp/tar-line
mkfile "$D/bootcode.bin" 51200 1; mkfile "$D/start.elf" 1048576 2; mkfile "$D/fixup.dat" 7265 3
printf 'enable_uart=1\n[all]\nboot_load_flags=0x1\n' > "$D/config.txt"
mkfile "$t/2711/bootcode4.bin" 102400 11; mkfile "$t/2712/bootcode5.bin" 102400 21
mkfile "$t/common/mcb.bin" 3072 12; mkfile "$t/common/bootmain" 204800 17
for i in 0 1 2 3; do mkfile "$t/common/memsys0$i.bin" 8192 $((13 + i)); done
for p in 2711 2712; do cp "$t"/common/* "$t/$p/"; done
(cd "$t" && tar -cf "$D/bootfiles.bin" 2711 2712) || fail "cannot make bootfiles.bin"
mkfile "$D/boot.img" 1048576 18

img=/tmp/line.img
mkfile "$img" $((MIB * 1048576)) 41
echo "E2E-FLASH size=$((MIB * 1048576)) sha256=$(sha256sum "$img" | cut -d' ' -f1)"

ports=""; k=1
while [ $k -le "$N" ]; do ports="$ports 1-1.$k"; k=$((k + 1)); done
i=0
while [ $i -lt 200 ]; do
    n=0; for p in $ports; do board_at "$p" && n=$((n + 1)); done
    [ "$n" -eq "$N" ] && break
    sleep 0.1; i=$((i + 1))
done
for p in $ports; do board_at "$p" || fail "no board at $p"; done

# One board: the plain command (the baseline that exists for every cmboot); N boards: --boards N. Once
# `cmboot flash --boards` exists, one board goes through it too, so both figures come from the same code.
if cmboot flash --help 2>&1 | grep -q -- '--boards'; then
    many="--boards $N --report-dir /tmp/reports"
elif [ "$N" -eq 1 ]; then
    many="--report /tmp/reports/one.json"
else
    fail "this cmboot has no 'flash --boards': only N=1 can run"
fi
mkdir -p /tmp/reports
t0=$(up)
# shellcheck disable=SC2086 # $many is a list of options
cmboot flash "$img" -d "$D" --timeout 120 $many > /tmp/flash.out 2>&1; rc=$?
t1=$(up)
tail -n 5 /tmp/flash.out | sed 's/^/E2E-NOTE flash: /'
echo "E2E-BENCH-LINE boards=$N image_bytes=$((MIB * 1048576)) start=$t0 end=$t1 rc=$rc" \
     "reports=$(find /tmp/reports -type f | wc -l)" \
     "ok_reports=$(grep -l '"result":"ok"' /tmp/reports/* 2>/dev/null | wc -l)"
# Per board, from its report: write and verify phase times (the host-side rate of each board).
for f in /tmp/reports/*; do
    [ -f "$f" ] || continue
    echo "E2E-LINE-REPORT $(tr -d '\n' < "$f" | sed -n \
        's/.*"port_path":"\([^"]*\)".*"write_ms":\([0-9]*\).*"verify_ms":\([0-9]*\).*/port=\1 write_ms=\2 verify_ms=\3/p')"
done
[ $rc -eq 0 ] || fail "cmboot flash exited $rc"
pass "flashed $N board(s) with a $MIB MiB image in one run"
