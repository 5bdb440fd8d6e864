#!/bin/sh
# bench/boot: board plugged in, timed to the disk being ready; 32 MiB start.elf for file-serving throughput.
. /e2e/common.sh
mk_bootdir_legacy /boot-bench 33554432
echo "plug 0" > /dev/ttyS1
t0=$(up)
i=0; while ! board_at 1-1 && [ $i -lt 1000 ]; do sleep 0.01; i=$((i+1)); done
t1=$(up)
cmboot -d /boot-bench --wait-msd --timeout 30; rc=$?
t2=$(up)
[ $rc -eq 0 ] || fail "cmboot exited $rc"
disk=$(wait_disk 1-1 10) || fail "no disk"
t3=$(up)
echo "E2E-BENCH plugged=$t0 board_seen=$t1 cmboot_done=$t2 disk_ready=$t3"
pass "bench"
