#!/usr/bin/env bash
# One static cmboot program: musl and the dependencies scripts/build-musl.sh builds from Debian's source
# packages (libusb without udev, libarchive, json-c, expat, libcrypto, zlib, xz, zstd, bzip2, SQLite) linked in;
# no libpq (CMBOOT_POSTGRESQL=off). Prints its size and the proof that it is static, then runs `cmboot --version`,
# `cmboot doctor --json` (doctor's checks may fail on a host without USB: its exit status is not the point, its
# JSON is), `cmboot records list` on a new SQLite store and, with a postgresql:// location, checks that it says
# it was built without PostgreSQL support.
# BUILD_DIR (build-musl) is shared with build-musl.sh: the dependencies are built once. Extra arguments go to cmake.
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
build=${BUILD_DIR:-$top/build-musl}
BUILD_DIR=$build "$top/scripts/build-musl.sh" --static "$@"
cli=$build/cmboot-static/cmboot
strip -o "$cli.stripped" "$cli"
echo "build-static: $cli: $(stat -c %s "$cli") bytes, stripped ($cli.stripped): $(stat -c %s "$cli.stripped") bytes"
file "$cli"
file "$cli" | grep -q "statically linked" || { echo "build-static: $cli is not statically linked" >&2; exit 1; }
# ldd of a static program says so (and exits 1).
ldd "$cli" 2>&1 || true
if readelf -d "$cli" 2>/dev/null | grep -q NEEDED; then
  echo "build-static: $cli needs shared libraries:" >&2
  readelf -d "$cli" | grep NEEDED >&2
  exit 1
fi
"$cli" --version
set +e
"$cli" doctor --json >"$build/doctor.json"
rc=$?
set -e
echo "build-static: cmboot doctor --json exited $rc"
head -c 300 "$build/doctor.json"
echo
[ "$(head -c1 "$build/doctor.json")" = "{" ] || { echo "build-static: cmboot doctor --json printed no JSON object" >&2; exit 1; }
# Records: the SQLite store works (a new one, empty); a postgresql:// location is refused with the reason.
db=$build/static-records.db
rm -f "$db" "$db-wal" "$db-shm"
"$cli" records list --records "$db"
[ -f "$db" ] || { echo "build-static: cmboot records list made no store at $db" >&2; exit 1; }
set +e
"$cli" records list --records postgresql://records@localhost/cmboot >"$build/records-pg.txt" 2>&1
rc=$?
set -e
cat "$build/records-pg.txt"
if [ $rc -eq 0 ] || ! grep -q "built without PostgreSQL support" "$build/records-pg.txt"; then
  echo "build-static: a postgresql:// records location did not fail with 'built without PostgreSQL support'" >&2
  exit 1
fi
echo "build-static: checks passed"
