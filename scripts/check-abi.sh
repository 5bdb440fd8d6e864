#!/usr/bin/env bash
# Compares libcmboot.so's ABI with the last release's dump abi/libcmboot.abi.xml (abigail-tools; docs/abi.md).
# Fails on an incompatible change unless the soname and the version were bumped for it; added functions pass.
#   scripts/check-abi.sh [build/libcmboot.so]            check (scripts/test.sh runs this)
#   scripts/check-abi.sh --update [build/libcmboot.so]   write the dump for a release (after the version bump)
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
update=0
if [ "${1:-}" = --update ]; then update=1; shift; fi
lib=${1:-$top/build/libcmboot.so}
ref=$top/abi/libcmboot.abi.xml
ref_version_file=$top/abi/libcmboot.abi.version
suppr=$top/abi/libcmboot.abignore
die() { echo "check-abi: $*" >&2; exit 1; }

if ! command -v abidw >/dev/null || ! command -v abidiff >/dev/null; then
  die "abidw/abidiff missing: install abigail-tools (scripts/deps.sh)"
fi
[ -f "$lib" ] || die "$lib not found: build first (scripts/build.sh)"
# Whole output first: grep -q leaving early would kill readelf with SIGPIPE and fail the pipeline (pipefail).
sections=$(readelf -S "$lib")
grep -q '\.debug_info' <<< "$sections" || die "$lib has no debug info: build with -DCMAKE_BUILD_TYPE=RelWithDebInfo"
version_h=$(dirname "$(readlink -f "$lib")")/include/cmboot/version.h
[ -f "$version_h" ] || die "$version_h not found next to $lib"
version=$(sed -n 's/^#define CMBOOT_VERSION_STRING "\(.*\)"$/\1/p' "$version_h")
soname=$(objdump -p "$lib" | awk '$1 == "SONAME" {print $2}')
if [ -z "$version" ] || [ -z "$soname" ]; then die "cannot read the version or soname of $lib"; fi

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
# Public headers only (generated version.h included): types of other headers count as private and are dropped,
# so an internal struct may change freely. No paths or line numbers: the dump changes only with the ABI.
mkdir "$work/headers"
cp "$top"/include/cmboot/*.h "$version_h" "$work/headers/"
abidw --headers-dir "$work/headers" --drop-private-types --drop-undefined-syms --no-corpus-path \
      --no-comp-dir-path --no-show-locs --type-id-style hash --out-file "$work/current.xml" "$lib"

# x.y.z -> "x y" for the break rule: from 1.0 a break bumps the major, before 1.0 the minor.
break_bumped() {
  local old_major old_minor new_major new_minor
  IFS=. read -r old_major old_minor _ <<< "$1"
  IFS=. read -r new_major new_minor _ <<< "$2"
  if [ "$old_major" -ge 1 ]; then [ "$new_major" -gt "$old_major" ]; return; fi
  [ "$new_major" -gt 0 ] || [ "$new_minor" -gt "$old_minor" ]
}
version_gt() { [ "$1" != "$2" ] && [ "$(printf '%s\n%s\n' "$1" "$2" | sort -V | tail -n1)" = "$1" ]; }

if [ ! -f "$ref" ]; then
  [ "$update" = 1 ] || die "no $ref: make it with scripts/check-abi.sh --update (docs/abi.md)"
  cp "$work/current.xml" "$ref"; echo "$version" > "$ref_version_file"
  echo "check-abi: wrote $ref for $version ($soname)"; exit 0
fi
ref_version=$(cat "$ref_version_file")
ref_soname=$(sed -n "1s/.* soname='\([^']*\)'.*/\1/p" "$ref")
echo "check-abi: $lib ($version, $soname) against abi/ ($ref_version, $ref_soname)"
version_gt "$ref_version" "$version" && die "the dump ($ref_version) is newer than the library ($version)"

# abidiff exit status: bit 1 tool error, bit 2 usage error, bit 4 ABI change, bit 8 known-incompatible change.
# Struct layout changes only set bit 4, so any change but added functions counts as a break.
rc=0
abidiff --no-added-syms --suppressions "$suppr" "$ref" "$work/current.xml" > "$work/break.txt" || rc=$?
[ $((rc & 3)) -eq 0 ] || { cat "$work/break.txt"; die "abidiff failed (status $rc)"; }
broken=0
[ "$rc" -eq 0 ] || broken=1
if [ "$ref_soname" != "$soname" ]; then
  # A declared break: the soname moved; the version must have moved with it.
  break_bumped "$ref_version" "$version" \
    || die "soname $ref_soname -> $soname needs a version bump past $ref_version (docs/abi.md)"
  [ "$broken" = 0 ] || { echo "ABI break declared by the soname bump:"; cat "$work/break.txt"; }
elif [ "$broken" = 1 ]; then
  cat "$work/break.txt"
  die "incompatible ABI change against $ref_version with the same soname $soname. Restore compatibility, or" \
      "break on purpose: bump CMBOOT_SOVERSION and the version in CMakeLists.txt, then at release run" \
      "scripts/check-abi.sh --update (docs/abi.md)"
fi

# Additions: compatible, but the API grew, so the next release must bump the minor version.
added=0
abidiff --suppressions "$suppr" "$ref" "$work/current.xml" > "$work/all.txt" || added=1
if [ "$added" = 1 ] && [ "$broken" = 0 ]; then
  grep -E "^  \[A\]" "$work/all.txt" || true
  if [ "$version" = "$ref_version" ]; then
    echo "check-abi: API added since $ref_version: the next release bumps the minor version (docs/abi.md)"
  fi
fi

if [ "$update" = 1 ]; then
  if [ "$broken" = 0 ] && [ "$added" = 0 ]; then echo "check-abi: ABI unchanged, dump kept"; exit 0; fi
  version_gt "$version" "$ref_version" \
    || die "the ABI changed but the version is still $ref_version: bump it in CMakeLists.txt first"
  cp "$work/current.xml" "$ref"; echo "$version" > "$ref_version_file"
  echo "check-abi: wrote $ref for $version ($soname)"
  exit 0
fi
echo "check-abi: OK (no incompatible change)"
