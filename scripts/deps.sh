#!/usr/bin/env bash
# Installs everything cmboot needs to build, test and run its QEMU bench on Debian 12 (idempotent).
set -euo pipefail
# clang-14 + libclang-rt-14-dev (libclang_rt.fuzzer-x86_64.a): the libFuzzer build of scripts/test.sh;
# abigail-tools (abidw, abidiff): scripts/check-abi.sh; shellcheck: scripts/check-shell.sh;
# clang-format-14: scripts/check-format.sh; tmux: the line view's terminal test (tests/cli/line-view-tmux.sh);
# android-sdk-libsparse-utils (simg2img): decodes our sparse images in tests/unit/test_fastboot_sparse.c.
PKGS=(build-essential cmake pkg-config clang-14 libclang-rt-14-dev clang-format-14 abigail-tools shellcheck
      libusb-1.0-0-dev libarchive-dev zlib1g-dev liblzma-dev libjson-c-dev libcmocka-dev libssl-dev libexpat1-dev libusbredirparser-dev
      libgpiod-dev android-sdk-libsparse-utils
      qemu-system-x86 linux-image-amd64 busybox-static cpio e2fsprogs bc gzip xz-utils zstd bzip2 zip bmap-tools time tmux)
missing=()
for p in "${PKGS[@]}"; do
  [[ "$(dpkg-query -W -f='${Status}' "$p" 2>/dev/null || true)" == *"ok installed"* ]] || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  SUDO=""
  [ "$(id -u)" -eq 0 ] || SUDO=sudo
  echo "installing: ${missing[*]}"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
