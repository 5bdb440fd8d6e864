#!/bin/bash
# Fetches the arm64 guest's foreign parts once into a cache: Debian's arm64 kernel (same version as the host's
# amd64 one) and busybox-static:arm64, downloaded with apt-get download and unpacked with dpkg-deb -x.
#
# Usage: arm64-root.sh --out DIR     Prints "ROOT=<dir>" (holding boot/vmlinuz-*, lib/modules/*, bin/busybox).
# Needs arm64 as a dpkg foreign architecture with its package lists (scripts/deps.sh). Fails loudly, never skips.
set -euo pipefail
OUT=""
while [ $# -gt 0 ]; do
    case "$1" in
        --out) OUT=$2; shift 2 ;;
        *) echo "arm64-root: unknown argument $1" >&2; exit 2 ;;
    esac
done
die() { echo "arm64-root: ERROR: $*" >&2; exit 1; }
[ -n "$OUT" ] || die "--out DIR is required"

# The amd64 kernel's ABI name (6.1.0-57) picks the arm64 package: linux-image-6.1.0-57-arm64.
ABI=${CMBOOT_E2E_KABI:-}
if [ -z "$ABI" ]; then
    ABI=$(find /boot -maxdepth 1 -name 'vmlinuz-*-amd64' -printf '%f\n' 2>/dev/null | sed 's/^vmlinuz-//; s/-amd64$//' \
          | sort -V | tail -1)
fi
[ -n "$ABI" ] || die "no amd64 kernel in /boot to take the version from (install linux-image-amd64)"
KPKG=linux-image-$ABI-arm64
ROOT=$OUT/root-$ABI
if [ -f "$ROOT/.complete" ]; then echo "ROOT=$ROOT"; exit 0; fi

dpkg --print-foreign-architectures | grep -qx arm64 \
    || die "arm64 is not a dpkg foreign architecture (scripts/deps.sh adds it)"
rm -rf "$ROOT" "$OUT/debs"
mkdir -p "$OUT/debs" "$ROOT"
chmod a+rwx "$OUT/debs"   # apt's download user writes there
(cd "$OUT/debs" && apt-get download -q "$KPKG:arm64" busybox-static:arm64 >/dev/null) \
    || die "apt-get download $KPKG:arm64 busybox-static:arm64 failed (apt-get update after adding arm64?)"
for deb in "$OUT"/debs/*.deb; do dpkg-deb -x "$deb" "$ROOT"; done
rm -rf "$OUT/debs"
[ -r "$ROOT/boot/vmlinuz-$ABI-arm64" ] || die "no kernel image in $KPKG"
# The package has no modules.dep (its postinst runs depmod): make it, as build-guest.sh reads it.
depmod -b "$ROOT" "$ABI-arm64" || die "depmod for $KPKG failed (install kmod)"
[ -x "$ROOT/bin/busybox" ] || die "no bin/busybox in busybox-static:arm64"
touch "$ROOT/.complete"
echo "ROOT=$ROOT"
