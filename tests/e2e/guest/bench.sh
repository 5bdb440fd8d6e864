#!/bin/sh
# bench/boot: board plugged in, timed to the disk being ready; 32 MiB start.elf for file-serving throughput.
# $1 (e2e.args= on the kernel command line, no spaces there): bulk settings CHUNK,PIECE,INFLIGHT in bytes,
# bytes and transfers, each passed to cmboot as --chunk-size/--bulk-piece/--in-flight; empty = cmboot's defaults.
. /e2e/common.sh
# shellcheck disable=SC2046 # split on purpose: CHUNK,PIECE,INFLIGHT -> $1 $2 $3
set -- $(echo "${1:-}" | tr ',' ' ')
tune=""
[ -n "${1:-}" ] && tune="$tune --chunk-size $1"
[ -n "${2:-}" ] && tune="$tune --bulk-piece $2"
[ -n "${3:-}" ] && tune="$tune --in-flight $3"
mk_bootdir_legacy /boot-bench 33554432
echo "plug 0" > /dev/ttyS1
t0=$(up)
i=0; while ! board_at 1-1 && [ $i -lt 1000 ]; do sleep 0.01; i=$((i+1)); done
t1=$(up)
# shellcheck disable=SC2086
cmboot -d /boot-bench --wait-msd --timeout 30 $tune; rc=$?
t2=$(up)
[ $rc -eq 0 ] || fail "cmboot exited $rc (bulk settings:${tune:- defaults})"
wait_disk 1-1 10 >/dev/null || fail "no disk"
t3=$(up)
echo "E2E-BENCH plugged=$t0 board_seen=$t1 cmboot_done=$t2 disk_ready=$t3 tune=$(echo "${tune# }" | tr ' ' ',')"
pass "bench"
