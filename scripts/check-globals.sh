#!/usr/bin/env bash
# Fails when libcmboot holds mutable global or static data: symbols in writable data sections of its objects
# (.data, .bss, thread-local); .data.rel.ro is read-only after relocation and allowed.
set -euo pipefail
lib=${1:?usage: check-globals.sh path/to/libcmboot.so}
objs=$(find "$(dirname "$lib")/src/CMakeFiles" -path "*/cmboot_*.dir/*" -name "*.o" | sort)
[ -n "$objs" ] || { echo "no objects of libcmboot found next to $lib"; exit 1; }
bad=$(for o in $objs; do
  objdump -t "$o" | awk -v o="$(basename "$o")" '$0 ~ /[ \t](\.data|\.bss|\.tdata|\.tbss)(\.[^ \t]*)?[ \t]/ && $0 !~ /\.data\.rel\.ro/ && $NF !~ /^\./ && $3 == "O" {print o ": " $NF}'
done)
if [ -n "$bad" ]; then
  echo "mutable global/static data in libcmboot:"; echo "$bad"; exit 1
fi
echo "libcmboot: no mutable global or static data ($(echo "$objs" | wc -l) objects checked)"
