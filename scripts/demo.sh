#!/usr/bin/env bash
# Watch a whole boot without hardware: an emulated CM3+ on the USB bus of a QEMU guest (Debian kernel, busybox,
# no udev) goes from boot ROM through the second stage to a mass-storage disk that the guest mounts.
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
"$top/scripts/deps.sh"
BUILD_DIR=$top/build "$top/scripts/build.sh"
exec "$top/tests/e2e/demo.sh" "$top/build"
