#!/bin/bash
# Builds the e2e guest initramfs (busybox-static, Debian kernel modules, cmboot, scenario scripts), cached by input hash.
#
# Usage: build-guest.sh --out DIR --cmboot PATH [--guest-dir DIR] [--root DIR --triplet TRIPLET]
#   --root, --triplet: a foreign-architecture guest (the arm64 one, tests/e2e/arm64-root.sh): kernel, modules and
#   busybox from DIR, and cmboot's libraries from the host's multiarch directories of TRIPLET (no ldd there).
# Prints two lines: "KERNEL=<vmlinuz>" and "INITRD=<cpio.gz>". Fails loudly when a component is missing.
# No udev and no mdev: /init mounts devtmpfs and insmods the modules itself, like a minimal buildroot host.
set -euo pipefail

HERE=$(cd "$(dirname "$0")" && pwd)
OUT=""
CMBOOT=""
GUEST_DIR="$HERE/guest"
SYSROOT=""
TRIPLET=""
while [ $# -gt 0 ]; do
    case "$1" in
        --out) OUT=$2; shift 2 ;;
        --cmboot) CMBOOT=$2; shift 2 ;;
        --guest-dir) GUEST_DIR=$2; shift 2 ;;
        --root) SYSROOT=$2; shift 2 ;;
        --triplet) TRIPLET=$2; shift 2 ;;
        *) echo "build-guest: unknown argument $1" >&2; exit 2 ;;
    esac
done
die() { echo "build-guest: ERROR: $*" >&2; exit 1; }
[ -n "$OUT" ] || die "--out DIR is required"
[ -n "$CMBOOT" ] || die "--cmboot PATH is required"
[ -x "$CMBOOT" ] || die "cmboot binary '$CMBOOT' is missing (build the cmboot target first)"

# Kernel: the newest Debian kernel that has both an image and modules.
KVER=${CMBOOT_E2E_KVER:-}
if [ -z "$KVER" ]; then
    for d in $(find "$SYSROOT/lib/modules" -mindepth 1 -maxdepth 1 -printf '%f\n' 2>/dev/null | sort -V -r); do
        if [ -r "$SYSROOT/boot/vmlinuz-$d" ] && [ -r "$SYSROOT/lib/modules/$d/modules.dep" ]; then KVER=$d; break; fi
    done
fi
[ -n "$KVER" ] || die "no kernel found: install linux-image-amd64 (needs /boot/vmlinuz-* and /lib/modules/*)"
KERNEL=$SYSROOT/boot/vmlinuz-$KVER
[ -r "$KERNEL" ] || die "kernel image $KERNEL is not readable"
MODDIR=$SYSROOT/lib/modules/$KVER
if [ -n "$TRIPLET" ]; then
    BUSYBOX=$SYSROOT/bin/busybox
    [ -x "$BUSYBOX" ] || die "$BUSYBOX is missing"
    ! readelf -l "$BUSYBOX" | grep -q 'program interpreter' || die "$BUSYBOX is not static"
else
    BUSYBOX=$(command -v busybox || true)
    [ -n "$BUSYBOX" ] || die "busybox is missing: install busybox-static"
    { ldd "$BUSYBOX" 2>&1 || true; } | grep -q 'not a dynamic' \
        || die "$BUSYBOX is not static: install busybox-static"
fi
command -v cpio >/dev/null || die "cpio is missing: install cpio"

# Wanted modules (with their parameters: busybox insmod does not read them from the kernel command line).
# hid, usbhid, hid-cp2112: the emulated USB GPIO bridge's real kernel driver (a gpiochip with 8 lines); the
# specific driver is loaded before hid-generic, which would otherwise take the device first.
WANTED="usbcore xhci-pci sd_mod usb-storage crc32c_generic ext4 hid usbhid hid-cp2112 hid-generic"
declare -A PARAMS=([usbcore]="autosuspend=-1" [usb-storage]="delay_use=0")

# Resolves WANTED into a dependency-ordered list of module paths from modules.dep.
declare -A SEEN=()
ORDER=()
modpath() {
    local name=$1 alt=${1//-/_} alt2=${1//_/-}
    grep -E "^(kernel/)?[^:]*/($name|$alt|$alt2)\.ko(\.xz|\.zst|\.gz)?:" "$MODDIR/modules.dep" | head -1 | cut -d: -f1
}
visit() {
    local path=$1 dep
    [ -n "${SEEN[$path]:-}" ] && return 0
    SEEN[$path]=1
    # shellcheck disable=SC2013 # modules.dep lists a module's dependencies as words on one line
    for dep in $(grep -E "^$path:" "$MODDIR/modules.dep" | cut -d: -f2); do visit "$dep"; done
    ORDER+=("$path")
}
for m in $WANTED; do
    # Built into this kernel (arm64's has some the amd64 one builds as modules): nothing to load.
    grep -qE "/(${m//-/[-_]})\.ko\$" "$MODDIR/modules.builtin" 2>/dev/null && continue
    p=$(modpath "$m")
    [ -n "$p" ] || die "kernel module $m not found in $MODDIR/modules.dep"
    visit "$p"
done

# Inputs of the cache key: this script, the guest files, kernel, modules, busybox, cmboot and its libraries.
# ldd lists every library the binary needs, directly or not (libcmboot.so, libusb, libgpiod when linked...):
# all of them go into the guest; one ldd cannot resolve is an error, not a guest that fails to start cmboot.
# A foreign binary: its loader and DT_NEEDED libraries, followed through RUNPATH and the multiarch directories.
cross_libs() {
    local queue=("$1") f n d found rp seen=" "
    readelf -l "$1" | sed -n 's/.*Requesting program interpreter: \(.*\)]/\1/p'
    while [ ${#queue[@]} -gt 0 ]; do
        f=${queue[0]}; queue=("${queue[@]:1}")
        rp=$(readelf -d "$f" | sed -n 's/.*(R[UN]*PATH)[^[]*\[\(.*\)\]/\1/p' | sed "s|\$ORIGIN|$(dirname "$f")|g" | tr ':' ' ')
        for n in $(readelf -d "$f" | sed -n 's/.*(NEEDED)[^[]*\[\(.*\)\]/\1/p'); do
            case "$seen" in *" $n "*) continue ;; esac
            seen="$seen$n "
            found=""
            for d in $rp "/lib/$TRIPLET" "/usr/lib/$TRIPLET"; do
                if [ -e "$d/$n" ]; then found=$d/$n; break; fi
            done
            if [ -n "$found" ]; then echo "$found"; queue+=("$found"); else echo "$n => not found"; fi
        done
    done
}
if [ -n "$TRIPLET" ]; then LDD=$(cross_libs "$CMBOOT"); else LDD=$(ldd "$CMBOOT" 2>/dev/null); fi
# Libraries cmboot loads on demand (dlopen), not in any NEEDED list: libarchive (bootfiles.bin, zstd, bzip2 and
# zip images) and libmicrohttpd (flash --http); each with what it needs.
for n in libarchive.so.13 libmicrohttpd.so.12; do
    found=""
    if [ -n "$TRIPLET" ]; then
        for d in "/lib/$TRIPLET" "/usr/lib/$TRIPLET"; do
            if [ -e "$d/$n" ]; then found=$d/$n; break; fi
        done
    else
        found=$(ldconfig -p | sed -n "s/^[[:space:]]*$n (.*) => \(.*\)/\1/p" | head -1)
    fi
    [ -n "$found" ] || die "cmboot loads $n on demand and this host has none"
    if [ -n "$TRIPLET" ]; then more=$(cross_libs "$found"); else more=$(ldd "$found" 2>/dev/null); fi
    LDD=$(printf '%s\n%s\n%s\n' "$LDD" "$found" "$more")
done
MISSING=$(echo "$LDD" | grep 'not found' || true)
[ -z "$MISSING" ] || die "cmboot needs libraries this host cannot find: $MISSING"
LIBS=$(echo "$LDD" | grep -o '/[^ ]*' | sort -u || true)
KEY=$( {
    cat "$0"; echo "$KVER $SYSROOT $TRIPLET"
    find "$GUEST_DIR" -type f | sort | xargs cat
    for p in "${ORDER[@]}"; do echo "$p"; done
    for f in "$KERNEL" "$BUSYBOX" "$CMBOOT" $LIBS; do stat -L -c '%n %s %Y' "$f"; done
    sha256sum "$CMBOOT"
} | sha256sum | cut -c1-16)
mkdir -p "$OUT"
IMG="$OUT/guest-$KEY.cpio.gz"
if [ -s "$IMG" ]; then
    echo "KERNEL=$KERNEL"; echo "INITRD=$IMG"; exit 0
fi

ROOT=$(mktemp -d "$OUT/.root.XXXXXX")
trap 'rm -rf "$ROOT"' EXIT
mkdir -p "$ROOT"/{bin,sbin,proc,sys,dev,tmp,mnt,modules,e2e,etc}
install -m 755 "$BUSYBOX" "$ROOT/bin/busybox"
: > "$ROOT/modules/order"
i=0
for p in "${ORDER[@]}"; do
    src="$MODDIR/$p"
    base=$(basename "$p"); base=${base%.xz}; base=${base%.zst}; base=${base%.gz}
    name=${base%.ko}
    dst="$ROOT/modules/$base"
    case "$src" in
        *.xz) xz -dc "$src" > "$dst" ;;
        *.zst) zstd -dc "$src" > "$dst" ;;
        *.gz) gzip -dc "$src" > "$dst" ;;
        *) cp "$src" "$dst" ;;
    esac
    key=${name//_/-}
    echo "$base ${PARAMS[$key]:-${PARAMS[$name]:-}}" >> "$ROOT/modules/order"
    i=$((i + 1))
done

# cmboot with the shared libraries it was linked against (Debian's udev-built libusb among them: the
# --discovery=libusb control scenario needs exactly that library).
install -m 755 "$CMBOOT" "$ROOT/bin/cmboot"
# The system's libraries keep their paths; the project's own (libcmboot.so from the build tree, found through
# the binary's RUNPATH) go beside libc, where the loader looks anyway: the build tree's path may not exist in the
# guest, or sit under its /tmp, which the guest's init covers with a tmpfs.
SYSLIBDIR=$(dirname "$(echo "$LIBS" | tr ' ' '\n' | grep -m1 '/libc\.so')")
{ [ -n "$SYSLIBDIR" ] && [ "$SYSLIBDIR" != . ]; } || die "no libc among cmboot's libraries (ldd $CMBOOT)"
for lib in $LIBS; do
    case "$lib" in
        /lib/*|/lib64/*|/usr/lib/*|/usr/lib64/*) dst=$lib ;;
        *) dst=$SYSLIBDIR/$(basename "$lib") ;;
    esac
    mkdir -p "$ROOT$(dirname "$dst")"
    cp -L "$lib" "$ROOT$dst"
done
install -m 755 "$GUEST_DIR/init" "$ROOT/init"
for f in "$GUEST_DIR"/*.sh; do install -m 755 "$f" "$ROOT/e2e/"; done
echo "$KVER" > "$ROOT/etc/e2e-kernel"

TMP="$IMG.tmp.$$"
(cd "$ROOT" && find . | LC_ALL=C sort | cpio -o -H newc --quiet -R 0:0 | gzip -1) > "$TMP"
mv "$TMP" "$IMG"
# Keep only the newest few images.
# shellcheck disable=SC2012 # our own names (guest-<hex>.cpio.gz); ls sorts by time, find cannot
ls -1t "$OUT"/guest-*.cpio.gz | tail -n +4 | xargs -r rm -f
echo "KERNEL=$KERNEL"
echo "INITRD=$IMG"
