#!/usr/bin/env bash
# Configures and builds cmboot with exactly the -D options packaging/buildroot/package/cmboot/cmboot.mk passes
# (as buildroot's cmake-package would, plus the install it does), in BUILD_DIR, and checks what it installs.
# usage: buildroot-build.sh SOURCE_DIR BUILD_DIR
set -euo pipefail
src=$1 out=$2
mapfile -t opts < <(python3 "$src/tests/packaging/buildroot_lint.py" --conf-opts "$src/packaging/buildroot/package/cmboot/cmboot.mk")
[ ${#opts[@]} -ge 3 ] || { echo "buildroot-build: no CMBOOT_CONF_OPTS found" >&2; exit 1; }
for want in -DCMBOOT_TESTS=OFF -DCMBOOT_SIM=OFF -DCMBOOT_WERROR=OFF; do
  printf '%s\n' "${opts[@]}" | grep -qxF -- "$want" || { echo "buildroot-build: cmboot.mk lacks $want" >&2; exit 1; }
done
rm -rf "$out"
# buildroot passes these too (package/pkg-cmake.mk): release build, /usr prefix, shared libraries.
cmake -S "$src" -B "$out" -DCMAKE_BUILD_TYPE=Release -DCMAKE_INSTALL_PREFIX=/usr -DBUILD_SHARED_LIBS=ON \
  "${opts[@]}" >"$out.log" 2>&1 || { cat "$out.log" >&2; exit 1; }
if grep -A3 'Manually-specified variables were not used' "$out.log" >&2; then
  echo "buildroot-build: (an option above is not known to this tree yet)" >&2
fi
cmake --build "$out" -j2 >>"$out.log" 2>&1 || { tail -n 30 "$out.log" >&2; exit 1; }
DESTDIR=$out/root cmake --install "$out" >>"$out.log" 2>&1
for f in usr/bin/cmboot usr/include/cmboot/cmboot.h; do
  [ -e "$out/root/$f" ] || { echo "buildroot-build: $f not installed" >&2; exit 1; }
done
find "$out/root/usr" -name "libcmboot.so.*" | grep -q . || { echo "buildroot-build: no libcmboot.so.N installed" >&2; exit 1; }
! find "$out/root" -name 'cmboot-sim' | grep -q . || { echo "buildroot-build: the emulator was installed" >&2; exit 1; }
! find "$out/root" -name '*.service' | grep -q . || { echo "buildroot-build: a unit with CMBOOT_SYSTEMD=OFF" >&2; exit 1; }
libdir=$(dirname "$(find "$out/root/usr" -name 'libcmboot.so.*' | head -n1)")
LD_LIBRARY_PATH=$libdir "$out/root/usr/bin/cmboot" --version
echo "buildroot-build: built and installed with: ${opts[*]}"
