#!/bin/bash
# Demo: an emulated Compute Module 3+ booted from its ROM, flashed with an xz image, verified and recorded, no hardware.
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
            boot ROM -> second stage (file server) -> USB mass storage backed by a disk file;
            the host makes an xz-compressed OS image and hands it to the guest.
Guest side: Debian's kernel in QEMU (TCG), busybox, no udev; /init runs
            `cmboot flash flash.img.xz -d /boot-cm3`: boot, find the board's own disk, write, read back
            and verify, report, and record the attempt (SQLite); then `cmboot records show SERIAL`.
Afterwards the host compares the board's disk file with the image byte for byte.
Takes ~20 s. The guest console follows.
=================================================================================
TXT
"$HERE/run-scenario.sh" --build "$BUILD" --scenario flash-xz --live
W=$BUILD/e2e-work/flash-xz
echo
echo "== What the emulated board saw (cmboot-sim report, $W/sim.report):"
cat "$W/sim.report"
echo "== The guest's report and record of the board:"
grep -a -e '^E2E-NOTE flash-xz .* report ' -e '^E2E-NOTE flash-xz .* records ' "$W/console.log" | tr -d '\r' | cut -d' ' -f3-
