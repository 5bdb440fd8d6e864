#!/usr/bin/env bash
# Installs a cmboot build into a DESTDIR, then builds and runs two consumers of it: one through
# find_package(cmboot) (cmbootConfig.cmake, cmboot::cmboot), one through pkg-config (cmboot.pc).
# Usage: install-consumers.sh BUILD_DIR WORK_DIR [CC]
set -euo pipefail
build=$1
work=$2
cc=${3:-cc}
here=$(cd "$(dirname "$0")" && pwd)
rm -rf "$work"
mkdir -p "$work"
dest=$work/dest
DESTDIR=$dest cmake --install "$build" >"$work/install.log"
prefix=$(sed -n 's/^CMAKE_INSTALL_PREFIX:PATH=//p' "$build/CMakeCache.txt")
libdir=$(sed -n 's/^CMAKE_INSTALL_LIBDIR:PATH=//p' "$build/CMakeCache.txt")
rules=$(sed -n 's/^CMBOOT_UDEV_RULES_DIR:PATH=//p' "$build/CMakeCache.txt")
root=$dest$prefix
fail() { echo "install-consumers: $*" >&2; exit 1; }
for f in "$root/bin/cmboot" "$root/include/cmboot/cmboot.h" "$root/include/cmboot/version.h" \
         "$root/$libdir/pkgconfig/cmboot.pc" "$root/$libdir/cmake/cmboot/cmbootConfig.cmake" \
         "$root/$libdir/cmake/cmboot/cmbootConfigVersion.cmake" "$dest$rules/60-cmboot.rules"; do
  [ -e "$f" ] || fail "not installed: ${f#"$dest"}"
done
version=$("$build/cmboot" --version | head -n1 | grep -oE '[0-9]+\.[0-9]+\.[0-9]+' | head -n1)
export LD_LIBRARY_PATH=$root/$libdir

# CMake package.
cmake -S "$here/consumer" -B "$work/cmake" -DCMAKE_C_COMPILER="$cc" -DCMAKE_PREFIX_PATH="$root" >"$work/cmake.log"
cmake --build "$work/cmake" >>"$work/cmake.log"
out=$("$work/cmake/consumer") || fail "the find_package consumer failed"
[ "$out" = "$version" ] || fail "find_package consumer printed '$out', want '$version'"
# The consumer must have linked the installed library, not the build tree's.
ldd "$work/cmake/consumer" | grep -q "$root/$libdir/libcmboot.so" || fail "find_package consumer did not link the installed libcmboot"

# pkg-config (the .pc file holds absolute paths: the DESTDIR is its sysroot).
flags=$(PKG_CONFIG_PATH="$root/$libdir/pkgconfig" PKG_CONFIG_SYSROOT_DIR=$dest pkg-config --cflags --libs cmboot)
# shellcheck disable=SC2086 # flags are words
"$cc" -o "$work/pc-consumer" "$here/consumer/consumer.c" $flags
out=$("$work/pc-consumer") || fail "the pkg-config consumer failed"
[ "$out" = "$version" ] || fail "pkg-config consumer printed '$out', want '$version'"
echo "install-consumers: find_package and pkg-config consumers of cmboot $version built and ran"
