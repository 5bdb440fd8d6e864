#!/bin/bash
# Demo: watch an emulated Compute Module 3+ boot from its ROM to a mounted mass-storage disk, no hardware.
# Usage: tests/e2e/demo.sh [BUILD_DIR]   (default: ./build; configures and builds it when needed)
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
SRC=$(cd "$HERE/../.." && pwd)
BUILD=${1:-$SRC/build}
if [ ! -x "$BUILD/cmboot" ] || [ ! -x "$BUILD/cmboot-sim" ]; then
    cmake -S "$SRC" -B "$BUILD"
    cmake --build "$BUILD" -j"$(nproc)" --target cmboot_cli cmboot-sim
fi
cat <<'TXT'
== cmboot demo ==================================================================
Host side : cmboot-sim emulates a CM3+ (BCM2837) on a QEMU usb-redir socket:
            boot ROM -> second stage (file server) -> USB mass storage backed by an image file.
Guest side: Debian's kernel in QEMU (TCG), busybox, no udev; /init runs
            `cmboot -d /boot-cm3 --wait-msd`, then mounts the board's disk and writes a file to it.
Takes ~15 s. The guest console follows.
=================================================================================
TXT
"$HERE/run-scenario.sh" --build "$BUILD" --scenario demo --live
W=$BUILD/e2e-work/demo
echo
echo "== What the emulated board saw (cmboot-sim report, $W/sim.report):"
cat "$W/sim.report"
echo "== The guest's file is now in the board's disk image on the host:"
debugfs -R 'cat /from-guest.txt' "$W/disk0.img" 2>/dev/null
