#!/usr/bin/env bash
# Cross-builds cmboot for arm64 or armhf with Debian's cross toolchain into build-arm64 / build-armhf (warnings
# are errors), installing the toolchain and the foreign-architecture -dev packages first when missing.
#
# Usage: cross-build.sh arm64|armhf [--test] [--tests-regex RE] [extra cmake arguments...]
#   --test           also run the unit tests under qemu-user (ctest -L unit, optionally only -R RE)
# BUILD_DIR overrides the build directory.
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
arch=${1:-}
shift || true
case "$arch" in
    arm64) triplet=aarch64-linux-gnu ;;
    armhf) triplet=arm-linux-gnueabihf ;;
    *) echo "usage: cross-build.sh arm64|armhf [--test] [--tests-regex RE] [cmake args...]" >&2; exit 2 ;;
esac
run_tests=0
regex=""
cmake_args=()
while [ $# -gt 0 ]; do
    case "$1" in
        --test) run_tests=1; shift ;;
        --tests-regex) regex=$2; shift 2 ;;
        *) cmake_args+=("$1"); shift ;;
    esac
done

# The cross toolchains and the :arm64/:armhf -dev packages (idempotent: nothing to do when all are there).
"$top/scripts/deps.sh"

build=${BUILD_DIR:-$top/build-$arch}
cmake -S "$top" -B "$build" -DCMAKE_TOOLCHAIN_FILE="$top/cmake/toolchain-$triplet.cmake" \
    -DCMAKE_BUILD_TYPE=RelWithDebInfo -DCMBOOT_WERROR=ON "${cmake_args[@]}" >/dev/null
cmake --build "$build" -j"$(nproc)"
file -L "$build/cmboot" | grep -q "ELF.*$([ "$arch" = arm64 ] && echo aarch64 || echo ARM)" \
    || { echo "cross-build: $build/cmboot is not an $arch binary" >&2; exit 1; }
echo "cross-build: $build/cmboot ($arch) built"
if [ $run_tests -eq 1 ]; then
    args=(--output-on-failure --no-tests=error -j2 -L unit)
    [ -n "$regex" ] && args+=(-R "$regex")
    (cd "$build" && ctest "${args[@]}")
fi
