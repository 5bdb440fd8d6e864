#!/usr/bin/env bash
# Configures and builds cmboot into build/ (or $BUILD_DIR); extra arguments go to cmake.
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
build=${BUILD_DIR:-$top/build}
# Warnings are errors here (CI); packagers configure without CMBOOT_WERROR.
cmake -S "$top" -B "$build" -DCMAKE_BUILD_TYPE=RelWithDebInfo -DCMBOOT_WERROR=ON "$@" >/dev/null
cmake --build "$build" -j"$(nproc)"
