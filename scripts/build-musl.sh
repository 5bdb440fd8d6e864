#!/usr/bin/env bash
# Builds cmboot (library + CLI) with musl (Debian's musl-tools) against dependencies built here from Debian's
# source packages, kept under $BUILD_DIR/deps as a cache. --static: one static cmboot binary (CMBOOT_STATIC).
# Extra arguments go to cmake. The dependencies: zlib, bzip2, xz (liblzma), zstd, expat, json-c, libusb (without
# udev), libarchive (gzip, bzip2, xz, zstd filters; no xml, acl, xattr, lz4, crypto), libcrypto (OpenSSL, no
# libssl), SQLite (the library alone, for the records store).
# Not built: libgpiod (the GPIO control kind answers CMBOOT_ERR_UNSUPPORTED), libpq (CMBOOT_POSTGRESQL=off: a
# postgresql:// records location answers CMBOOT_ERR_UNSUPPORTED), usbredirparser and cmocka (no emulator, no
# tests: a musl build here proves the library and the CLI).
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
static=OFF
if [ "${1:-}" = --static ]; then
  static=ON
  shift
fi
build=${BUILD_DIR:-$top/build-musl}
jobs=${JOBS:-2}
deps=$build/deps
srcdir=$build/deps-src
command -v musl-gcc >/dev/null || { echo "build-musl: musl-gcc missing (scripts/deps.sh installs musl-tools)" >&2; exit 1; }
mkdir -p "$deps/include" "$deps/lib/pkgconfig" "$srcdir"
export CC=musl-gcc
# musl's include directory has no kernel headers: Debian's linux-libc-dev ones fit (libusb and cmboot use
# linux/usbdevice_fs.h, linux/netlink.h, ...).
kinc=$deps/kernel-include
mkdir -p "$kinc"
for d in linux asm-generic mtd; do ln -sfn "/usr/include/$d" "$kinc/$d"; done
ln -sfn "/usr/include/$(gcc -print-multiarch)/asm" "$kinc/asm"
export CFLAGS="-O2 -fPIC -isystem $kinc"
export CPPFLAGS="-I$deps/include -isystem $kinc"
export LDFLAGS="-L$deps/lib"
export PKG_CONFIG_LIBDIR=$deps/lib/pkgconfig:$deps/share/pkgconfig
log=$build/deps.log

# Debian's source packages through apt-get with a private source list (the machine's lists stay as they are).
fetch() {
  local pkg=$1
  if ! compgen -G "$srcdir/$pkg"_*.dsc >/dev/null; then
    local apt=$srcdir/apt
    if [ ! -d "$apt/lists" ]; then
      mkdir -p "$apt/lists/partial"
      echo "deb-src http://deb.debian.org/debian bookworm main" > "$apt/sources.list"
      apt-get -qq -o Dir::Etc::SourceList="$apt/sources.list" -o Dir::Etc::SourceParts=/nonexistent \
        -o Dir::State::Lists="$apt/lists" -o APT::Sandbox::User=root update
    fi
    (cd "$srcdir" && apt-get -qq -o Dir::Etc::SourceList="$apt/sources.list" -o Dir::Etc::SourceParts=/nonexistent \
      -o Dir::State::Lists="$apt/lists" -o APT::Sandbox::User=root source --download-only "$pkg")
  fi
  local dsc
  dsc=$(compgen -G "$srcdir/$pkg"_*.dsc | head -n1)
  rm -rf "${srcdir:?}/$pkg"
  dpkg-source --no-check -x "$dsc" "$srcdir/$pkg" >/dev/null
}

# Each dependency once: its stamp file in $deps marks it built.
dep() {
  local name=$1
  shift
  [ -f "$deps/.$name" ] && return 0
  echo "build-musl: building $name"
  fetch "$name"
  if ! (cd "$srcdir/$name" && "$@") >>"$log" 2>&1; then
    echo "build-musl: $name failed, see $log" >&2
    tail -n 30 "$log" >&2
    exit 1
  fi
  touch "$deps/.$name"
}

autotools() { ./configure --prefix="$deps" --disable-shared --enable-static "$@" && make -j"$jobs" && make install; }

dep zlib sh -c "./configure --static --prefix='$deps' && make -j$jobs libz.a && make install"
dep bzip2 sh -c "make -j$jobs CC=musl-gcc CFLAGS='$CFLAGS -D_FILE_OFFSET_BITS=64' libbz2.a && cp libbz2.a '$deps/lib/' && cp bzlib.h '$deps/include/'"
dep xz-utils autotools --disable-xz --disable-xzdec --disable-lzmadec --disable-lzmainfo --disable-lzma-links \
  --disable-scripts --disable-doc --disable-nls
dep libzstd env -u BUILD_DIR sh -c "make -j$jobs -C lib libzstd.a-mt CC=musl-gcc && make -C lib install-static install-includes install-pc PREFIX='$deps'"
# Debian's expat source is the git tree (no configure): its CMake build. Debian's security patches test
# "#if XML_DTD == 1", which autotools' config.h satisfies and CMake's bare #define does not.
dep expat sh -c "sed -i 's/^#cmakedefine XML_DTD$/#cmakedefine XML_DTD 1/' expat/expat_config.h.cmake && cmake -S expat -B b -DCMAKE_C_COMPILER=musl-gcc -DCMAKE_INSTALL_PREFIX='$deps' -DCMAKE_INSTALL_LIBDIR=lib \
  -DEXPAT_SHARED_LIBS=OFF -DEXPAT_BUILD_TOOLS=OFF -DEXPAT_BUILD_EXAMPLES=OFF -DEXPAT_BUILD_TESTS=OFF \
  -DEXPAT_BUILD_DOCS=OFF -DEXPAT_BUILD_FUZZERS=OFF >/dev/null && cmake --build b -j$jobs && cmake --install b"
dep json-c sh -c "cmake -S . -B b -DCMAKE_C_COMPILER=musl-gcc -DCMAKE_INSTALL_PREFIX='$deps' -DCMAKE_INSTALL_LIBDIR=lib \
  -DBUILD_SHARED_LIBS=OFF -DBUILD_STATIC_LIBS=ON -DBUILD_TESTING=OFF -DBUILD_APPS=OFF -DDISABLE_WERROR=ON >/dev/null \
  && cmake --build b -j$jobs && cmake --install b"
# libusb asks for libatomic, which x86_64 does not need and musl-gcc would take from the glibc toolchain.
dep libusb-1.0 sh -c "./configure --prefix='$deps' --disable-shared --enable-static --disable-udev --disable-examples-build \
  --disable-tests-build && make -j$jobs && make install && sed -i 's/ -latomic//' '$deps/lib/pkgconfig/libusb-1.0.pc'"
# libarchive's autotools files would be regenerated (Debian's patches touch them) with another libtool: CMake.
dep libarchive sh -c "cmake -S . -B b -DCMAKE_C_COMPILER=musl-gcc -DCMAKE_INSTALL_PREFIX='$deps' -DCMAKE_INSTALL_LIBDIR=lib \
  -DCMAKE_PREFIX_PATH='$deps' -DENABLE_TAR=OFF -DENABLE_CPIO=OFF -DENABLE_CAT=OFF -DENABLE_TEST=OFF -DENABLE_ACL=OFF \
  -DENABLE_XATTR=OFF -DENABLE_LIBXML2=OFF -DENABLE_EXPAT=OFF -DENABLE_OPENSSL=OFF -DENABLE_NETTLE=OFF -DENABLE_MBEDTLS=OFF \
  -DENABLE_LZ4=OFF -DENABLE_LIBB2=OFF -DENABLE_LZO=OFF -DENABLE_CNG=OFF -DENABLE_ICONV=OFF -DENABLE_PCREPOSIX=OFF \
  -DENABLE_WERROR=OFF -DENABLE_ZLIB=ON -DENABLE_BZip2=ON -DENABLE_LZMA=ON -DENABLE_ZSTD=ON >/dev/null \
  && cmake --build b -j$jobs && cmake --install b && rm -f '$deps'/lib/libarchive.so*"
# libcrypto alone (no libssl, no engines or modules to load at run time; cmboot uses its digests): ciphers and
# formats nothing here uses are left out to keep the build short.
dep openssl sh -c "./Configure linux-x86_64 --prefix='$deps' --libdir=lib no-shared no-tests no-module no-engine \
  no-dso no-afalgeng no-async no-legacy no-comp no-ct no-ocsp no-srp no-srtp no-ts no-cms no-idea no-mdc2 \
  no-rc2 no-rc4 no-seed no-whirlpool no-camellia no-aria no-sm2 no-sm3 no-sm4 no-bf no-cast no-ui-console -fPIC -isystem '$kinc' >/dev/null && make -j$jobs build_generated \
  && make -j$jobs libcrypto.a libcrypto.pc && cp -r include/openssl '$deps/include/' && cp libcrypto.a '$deps/lib/' \
  && cp libcrypto.pc '$deps/lib/pkgconfig/'"

# SQLite: Debian's source is the full tree; its build makes the one-file amalgamation (sqlite3.c, with tclsh)
# and compiles that alone: the library, its header and sqlite3.pc, no shell, no Tcl, no extension loading.
dep sqlite3 sh -c "./configure --prefix='$deps' --disable-shared --enable-static --disable-tcl --disable-readline \
  --disable-editline --disable-load-extension >/dev/null && make -j$jobs libsqlite3.la sqlite3.h sqlite3.pc \
  && make lib_install && cp sqlite3.h src/sqlite3ext.h '$deps/include/' && cp sqlite3.pc '$deps/lib/pkgconfig/'"
# liblzma >= 5.4 (multi-threaded xz decoding, src/flash/xz_mt.c): Debian 12's xz-utils is 5.4.1.
pkg-config --atleast-version=5.4 liblzma || { echo "build-musl: liblzma in $deps is older than 5.4" >&2; exit 1; }

# cmboot itself: no emulator, no tests (their libraries are not built here), no GPIO (no libgpiod), no
# PostgreSQL records (no libpq). Every
# dependency is a static archive: pkg-config --static names what each needs.
out=$build/cmboot
[ "$static" = OFF ] || out=$build/cmboot-static
cmake -S "$top" -B "$out" -DCMAKE_C_COMPILER=musl-gcc -DCMAKE_BUILD_TYPE=Release -DCMBOOT_WERROR=ON \
  -DCMBOOT_SIM=OFF -DCMBOOT_TESTS=OFF -DCMBOOT_GPIO=OFF -DCMBOOT_POSTGRESQL=OFF -DCMBOOT_HTTP=OFF -DCMBOOT_STATIC="$static" \
  -DCMAKE_C_FLAGS="-isystem $kinc" -DPKG_CONFIG_ARGN=--static "$@" >/dev/null
cmake --build "$out" -j"$jobs"
cli=$out/cmboot
echo "build-musl: $cli ($(stat -c %s "$cli") bytes)"
file "$cli"
"$cli" --version
