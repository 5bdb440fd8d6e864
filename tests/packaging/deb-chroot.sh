#!/usr/bin/env bash
# Installs the cmboot .debs into a clean Debian 12 minbase chroot and runs `cmboot --version` there.
# usage: deb-chroot.sh DEB_DIR CACHE_DIR VERSION   (root; the chroot tarball is cached in CACHE_DIR)
set -euo pipefail
debs=$1 cache=$2 version=$3
[ "$(id -u)" -eq 0 ] || { echo "deb-chroot: needs root (debootstrap, chroot)" >&2; exit 1; }
command -v debootstrap >/dev/null || { echo "deb-chroot: debootstrap not installed (scripts/deps.sh)" >&2; exit 1; }
shopt -s nullglob
pkgs=("$debs"/cmboot_*.deb "$debs"/libcmboot1_*.deb)
[ ${#pkgs[@]} -eq 2 ] || { echo "deb-chroot: no cmboot/libcmboot1 .deb in $debs (run scripts/build-deb.sh)" >&2; exit 1; }
# The mirror apt uses here: the first URIs of a deb822 source, else the first deb line of sources.list.
mirror=$(sed -n 's/^URIs:[[:space:]]*\([^[:space:]]*\).*/\1/p' /etc/apt/sources.list.d/*.sources 2>/dev/null | grep -v security | head -n1 || true)
[ -n "$mirror" ] || mirror=$(awk '$1 == "deb" { print $2; exit }' /etc/apt/sources.list 2>/dev/null || true)
[ -n "$mirror" ] || { echo "deb-chroot: no Debian mirror configured in /etc/apt/sources.list*" >&2; exit 1; }
mkdir -p "$cache"
tarball=$cache/bookworm-minbase.tar
if [ ! -f "$tarball" ]; then
  boot=$(mktemp -d "$cache/debootstrap.XXXXXX")
  debootstrap --variant=minbase bookworm "$boot" "$mirror" >"$cache/debootstrap.log" 2>&1 ||
    { echo "deb-chroot: debootstrap from $mirror failed, see $cache/debootstrap.log" >&2; rm -rf "$boot"; exit 1; }
  tar -C "$boot" -cf "$tarball.part" . && mv "$tarball.part" "$tarball"
  rm -rf "$boot"
fi
root=$(mktemp -d "$cache/root.XXXXXX")
cleanup() {
  umount "$root/proc" 2>/dev/null || true
  rm -rf "$root"
}
trap cleanup EXIT
tar -C "$root" -xf "$tarball"
mkdir -p "$root/tmp/debs"
cp "${pkgs[@]}" "$root/tmp/debs/"
cp /etc/resolv.conf "$root/etc/resolv.conf" 2>/dev/null || true
mount -t proc proc "$root/proc"
# apt resolves the libraries the packages depend on from the same mirror: this is what proves the Depends.
chroot "$root" env DEBIAN_FRONTEND=noninteractive apt-get -qq update
inside=()
for p in "${pkgs[@]}"; do inside+=("/tmp/debs/$(basename "$p")"); done
chroot "$root" env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${inside[@]}" >/dev/null
chroot "$root" dpkg-query -W cmboot libcmboot1
out=$(chroot "$root" cmboot --version)
echo "$out"
[ "$out" = "cmboot $version" ] || { echo "deb-chroot: expected 'cmboot $version', got '$out'" >&2; exit 1; }
out=$(chroot "$root" cmboot flash --version)
[ "$out" = "cmboot $version" ] || { echo "deb-chroot: flash --version said '$out'" >&2; exit 1; }
chroot "$root" test -f /usr/share/man/man1/cmboot.1.gz || { echo "deb-chroot: man page not installed" >&2; exit 1; }
echo "deb-chroot: cmboot $version installed and ran in a clean bookworm chroot"
