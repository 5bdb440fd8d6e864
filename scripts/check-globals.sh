#!/usr/bin/env bash
# Fails when libcmboot holds mutable global or static data (data/bss symbols of its own objects).
set -euo pipefail
lib=${1:?usage: check-globals.sh path/to/libcmboot.so}
top=$(cd "$(dirname "$0")/.." && pwd)
objs=$(find "$(dirname "$lib")/CMakeFiles/cmboot_obj.dir" -name '*.o')
bad=$(nm $objs | awk '$2 ~ /^[bBdDgGsS]$/ {print $3}' | sort -u || true)
if [ -n "$bad" ]; then
  echo "mutable global/static data in libcmboot:"; echo "$bad"; exit 1
fi
echo "libcmboot: no mutable global or static data ($(echo "$objs" | wc -l) objects checked)"
