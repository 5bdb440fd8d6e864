#!/usr/bin/env bash
# Builds the Debian packages (cmboot, libcmboot1, libcmboot-dev) with dpkg-buildpackage in a copy of the
# tree, then runs lintian on them. usage: scripts/build-deb.sh [OUT_DIR]   (default build/deb)
# The .debs, .changes and lintian.txt end up in OUT_DIR; exit non-zero on a build failure or a lintian
# error or warning that packaging/debian/*lintian-overrides does not explain.
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
out=$(mkdir -p "${1:-$top/build/deb}" && cd "${1:-$top/build/deb}" && pwd)
for tool in dpkg-buildpackage dh lintian; do
  command -v "$tool" >/dev/null || { echo "build-deb: $tool missing (apt-get install devscripts debhelper lintian)" >&2; exit 1; }
done
version=$(sed -n '1s/^cmboot (\([^)]*\)).*/\1/p' "$top/packaging/debian/changelog")
work=$(mktemp -d "${TMPDIR:-/tmp}/cmboot-deb.XXXXXX")
trap 'rm -rf "$work"' EXIT
src=$work/cmboot-$version
mkdir -p "$src"
# The tracked files as they are in the work tree (uncommitted edits included), never build dirs.
while IFS= read -r -d '' f; do
  if [ -f "$top/$f" ]; then (cd "$top" && cp --parents -t "$src" "$f"); fi
done < <(cd "$top" && git ls-files -z --cached --others --exclude-standard | grep -zv -e '^build' -e '^packaging/debian/')
[ -f "$src/CMakeLists.txt" ] || { echo "build-deb: copying the tree failed" >&2; exit 1; }
cp -r "$top/packaging/debian" "$src/debian"
jobs=$(nproc 2>/dev/null || echo 2)
[ "$jobs" -gt 2 ] && jobs=2
(cd "$src" && DEB_BUILD_OPTIONS="parallel=$jobs nocheck" dpkg-buildpackage -us -uc -b >"$work/build.log" 2>&1) || {
  tail -n 40 "$work/build.log" >&2; cp "$work/build.log" "$out/build.log"; echo "build-deb: dpkg-buildpackage failed ($out/build.log)" >&2; exit 1; }
cp "$work/build.log" "$out/build.log"
rm -f "$out"/*.deb "$out"/*.changes "$out"/*.buildinfo
cp "$work"/*.deb "$work"/*.changes "$work"/*.buildinfo "$out/"
changes=$(ls "$out"/*.changes)
# --fail-on warning: errors and warnings fail; info and pedantic tags are listed only.
lintian --info --display-info --fail-on error,warning "$changes" >"$out/lintian.txt" 2>&1 || {
  cat "$out/lintian.txt" >&2; echo "build-deb: lintian failed ($out/lintian.txt)" >&2; exit 1; }
ls -l "$out"/*.deb
echo "build-deb: lintian passed (see $out/lintian.txt)"
