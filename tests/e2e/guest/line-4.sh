#!/bin/sh
# A flash line: four boards of three SoCs on a usb-hub (1-1.1..1-1.4) booted and flashed by ONE
# `cmboot flash --boards 4` run; one JSON report per board in --report-dir. The host then compares every board's
# backing file with the image, byte for byte.
. /e2e/common.sh
PORTS="1-1.1 1-1.2 1-1.3 1-1.4"
D=/boot-mixed
# One directory for every SoC: the legacy files beside bootfiles.bin (2711/, 2712/) and boot.img.
t=/tmp/tar-mixed
mkfile "$D/bootcode.bin" 51200 1; mkfile "$D/start.elf" 2097152 2; mkfile "$D/fixup.dat" 7265 3
printf 'enable_uart=1\n[all]\nboot_load_flags=0x1\n' > "$D/config.txt"
mkfile "$t/2711/bootcode4.bin" 102400 11; mkfile "$t/2712/bootcode5.bin" 102400 21
mkfile "$t/common/mcb.bin" 3072 12; mkfile "$t/common/bootmain" 204800 17
for i in 0 1 2 3; do mkfile "$t/common/memsys0$i.bin" 8192 $((13 + i)); done
for p in 2711 2712; do cp "$t"/common/* "$t/$p/"; done
(cd "$t" && tar -cf "$D/bootfiles.bin" 2711 2712) || fail "cannot make bootfiles.bin"
mkfile "$D/boot.img" 2097152 18

mkfile /tmp/flash.img 8388608 41
gzip -c /tmp/flash.img > /tmp/flash.img.gz
echo "E2E-FLASH size=8388608 sha256=$(sha256sum /tmp/flash.img | cut -d' ' -f1)"
rm /tmp/flash.img
mkdir -p /tmp/reports
note "cmboot flash --boards 4 start"
cmboot flash /tmp/flash.img.gz -d "$D" --boards 4 --report-dir /tmp/reports --timeout 60 > /tmp/out 2> /tmp/err
rc=$?
note "cmboot flash exit $rc"
sed 's/^/E2E-NOTE line-4 stderr: /' /tmp/err
[ $rc -eq 0 ] || fail "cmboot flash --boards 4 exited $rc"
# Off a terminal stdout carries JSON lines: the line view's events and each board's report.
fin=$(grep -c '"event": *"board-finished"' /tmp/out)
[ "$fin" -eq 4 ] || fail "expected 4 board-finished events on stdout, got $fin"
grep -q '"event": *"summary"' /tmp/out || fail "no summary event on stdout"
reps=$(grep -v '"event"' /tmp/out | grep -c '"port_path"')
[ "$reps" -eq 4 ] || fail "expected 4 reports on stdout, got $reps"
note "stdout: $(wc -l < /tmp/out) JSON lines, $fin board-finished events, $reps reports"
n=0; names=""
for f in /tmp/reports/*.json; do
    [ -f "$f" ] || continue
    n=$((n + 1)); names="$names ${f##*/}"
    grep -q '"result":"ok"' "$f" || fail "report $f is not ok: $(cat "$f")"
    grep -q '"verified":true' "$f" || fail "report $f is not verified"
done
[ $n -eq 4 ] || fail "expected 4 reports in --report-dir, found $n: $(ls /tmp/reports)"
for p in $PORTS; do
    grep -l "\"port_path\":\"$p\"" /tmp/reports/*.json > /dev/null || fail "no report for the board at $p"
done
pass "4 boards flashed and verified in one run, one report each:$names"
