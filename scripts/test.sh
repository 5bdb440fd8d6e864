#!/usr/bin/env bash
# The whole test suite from a fresh Debian 12 machine: dependencies, shellcheck, build (warnings are errors),
# unit tests, the packaging checks (install, musl, static), end-to-end tests, the ABI check against abi/, then
# the unit tests again under AddressSanitizer + UndefinedBehaviorSanitizer, then every libFuzzer target briefly.
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
"$top/scripts/deps.sh"
"$top/scripts/check-shell.sh"
"$top/scripts/check-layers.sh"
"$top/scripts/check-format.sh"
BUILD_DIR=$top/build "$top/scripts/build.sh"
"$top/scripts/check-abi.sh" "$top/build/libcmboot.so"
(cd "$top/build" && ctest --output-on-failure -j2 -L unit)
# Records against a real PostgreSQL server started by the test itself (tests/records/pg.sh, ~15 s).
(cd "$top/build" && ctest --output-on-failure --no-tests=error -L records)
# Packaging (docs/packaging.md): install + find_package/pkg-config consumers, the musl build and the static
# binary (their dependencies are built once into build-musl/deps/).
(cd "$top/build" && ctest --output-on-failure --no-tests=error -L packaging)
BUILD_DIR=$top/build-musl "$top/scripts/build-musl.sh"
BUILD_DIR=$top/build-musl "$top/scripts/build-static.sh"
# The status page in headless Chromium (tests/page, ~5 s): three emulated boards, DOM rows vs /api/status.
(cd "$top/build" && ctest --output-on-failure --no-tests=error -L page)
if [ -f "$top/tests/e2e/CMakeLists.txt" ]; then
  # '^e2e$': the x86 guest's scenarios only (-L is a regular expression; e2e-arm is the arm64 guest, below).
  (cd "$top/build" && ctest --output-on-failure -L '^e2e$')
fi
# Cross builds for ARM boards (docs/packaging.md), the arm64 one's unit tests under qemu-user, and that binary on
# an emulated arm64 host against the x86 build's cmboot-sim (e2e.arm64-host, label e2e-arm).
"$top/scripts/cross-build.sh" arm64 --test-quick
"$top/scripts/cross-build.sh" armhf
(cd "$top/build" && ctest --output-on-failure --no-tests=error -L '^e2e-arm$')
BUILD_DIR=$top/build-asan "$top/scripts/build.sh" -DCMBOOT_SANITIZE=ON -DCMAKE_BUILD_TYPE=Debug
(cd "$top/build-asan" && ASAN_OPTIONS=detect_leaks=1 UBSAN_OPTIONS=print_stacktrace=1 ctest --output-on-failure -j2 -L unit)
"$top/scripts/check-globals.sh" "$top/build/libcmboot.so"
# The whole tree with clang, libFuzzer targets included; each target runs CMBOOT_FUZZ_SECONDS (20) on its seed
# corpus (ctest label fuzz, docs/testing.md). No clang or no libFuzzer runtime: this fails, never skips.
CLANG=$(command -v clang-14 || command -v clang || true)
[ -n "$CLANG" ] || { echo "test.sh: clang not found (scripts/deps.sh installs clang-14)" >&2; exit 1; }
BUILD_DIR=$top/build-fuzz "$top/scripts/build.sh" -DCMAKE_C_COMPILER="$CLANG" -DCMBOOT_FUZZ=ON
(cd "$top/build-fuzz" && ctest --output-on-failure --no-tests=error -j2 -L fuzz)
