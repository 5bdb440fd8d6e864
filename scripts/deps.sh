#!/usr/bin/env bash
# Installs everything cmboot needs to build, test and run its QEMU bench on Debian 12 (idempotent).
set -euo pipefail
# clang-14 + libclang-rt-14-dev (libclang_rt.fuzzer-x86_64.a): the libFuzzer build of scripts/test.sh;
# abigail-tools (abidw, abidiff): scripts/check-abi.sh; shellcheck: scripts/check-shell.sh;
# clang-format-14: scripts/check-format.sh; tmux: the line view's terminal test (tests/cli/line-view-tmux.sh);
# android-sdk-libsparse-utils (simg2img): decodes our sparse images in tests/unit/test_fastboot_sparse.c.
# musl-tools (musl-gcc), dpkg-dev (dpkg-source), file: scripts/build-musl.sh and scripts/build-static.sh,
# which build the dependencies from Debian's source packages (apt-get source, network needed once); tcl
# (tclsh): SQLite's build makes its one-file amalgamation with it there.
PKGS=(build-essential cmake pkg-config clang-14 libclang-rt-14-dev clang-format-14 abigail-tools shellcheck
      libusb-1.0-0-dev libarchive-dev zlib1g-dev liblzma-dev libzstd-dev libjson-c-dev libcmocka-dev libssl-dev libexpat1-dev libusbredirparser-dev
      libgpiod-dev android-sdk-libsparse-utils musl-tools dpkg-dev file tcl
      libsqlite3-dev libpq-dev postgresql # records store (src/records) and its tests against a real server
      libmicrohttpd-dev chromium curl # cmboot flash --http (cli/status_http.c); its page in headless Chromium, curl
      qemu-system-x86 linux-image-amd64 busybox-static cpio e2fsprogs bc gzip xz-utils zstd bzip2 zip bmap-tools time tmux)
# Packaging tests (ctest -L packaging): scdoc builds cmboot.1, groff-base + man-db render it, bash-completion's
# pkg-config file names the completions dir, zsh runs the compinit smoke test, systemd has systemd-analyze,
# python3 runs the buildroot lint. (scripts/build-deb.sh and ctest -L deb also need debhelper devscripts
# lintian debootstrap: not installed here, CI does not build the .deb.)
PKGS+=(scdoc groff-base man-db bash-completion zsh systemd python3)
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

# Cross builds (scripts/cross-build.sh) and the arm64 guest (e2e.arm64-host): Debian's cross toolchains and the
# -dev packages of the foreign architecture through multiarch (dpkg --add-architecture first, hence apart);
# qemu-user-static runs the cross-built unit tests, qemu-system-arm has qemu-system-aarch64; file checks the
# binaries' architecture; cmocka and usbredirparser: the cross build's unit tests and emulator; kmod (depmod)
# and the arm64 kernel and busybox, downloaded (not installed) by tests/e2e/arm64-root.sh. liblzma-dev,
# libzstd-dev and libsqlite3-dev: required (xz_mt.c, zstd_src.c, the records store). No libpq-dev: Debian 12's is not Multi-Arch: same, so
# libpq-dev:<arch> would remove the host's; cross builds are CMBOOT_POSTGRESQL=off (scripts/cross-build.sh).
cmb_cross_deps() {
  local arch=$1 sudo="" p
  [ "$(id -u)" -eq 0 ] || sudo=sudo
  local want=(crossbuild-essential-"$arch" qemu-user-static qemu-system-arm file kmod)
  for p in libusb-1.0-0-dev libarchive-dev libjson-c-dev libexpat1-dev libssl-dev zlib1g-dev libgpiod-dev \
           libcmocka-dev libusbredirparser-dev liblzma-dev libzstd-dev libsqlite3-dev libmicrohttpd-dev; do
    want+=("$p:$arch")
  done
  local need=()
  for p in "${want[@]}"; do
    [[ "$(dpkg-query -W -f='${Status}' "$p" 2>/dev/null || true)" == *"ok installed"* ]] || need+=("$p")
  done
  [ ${#need[@]} -gt 0 ] || return 0
  if ! dpkg --print-foreign-architectures | grep -qx "$arch"; then
    $sudo dpkg --add-architecture "$arch"
  fi
  echo "installing ($arch): ${need[*]}"
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get -o DPkg::Lock::Timeout=600 install -y -qq --no-install-recommends \
    "${need[@]}" >/dev/null
}
for a in ${CMBOOT_CROSS_ARCHES-arm64 armhf}; do cmb_cross_deps "$a"; done
