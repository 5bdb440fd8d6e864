#!/usr/bin/env bash
# The main job without hardware: an emulated CM3+ on the USB bus of a QEMU guest (Debian kernel, busybox, no udev)
# is booted from its ROM, flashed with an xz image, verified and recorded by cmboot in the guest.
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
"$top/scripts/deps.sh"
BUILD_DIR=$top/build "$top/scripts/build.sh"
exec "$top/tests/e2e/demo.sh" "$top/build"
