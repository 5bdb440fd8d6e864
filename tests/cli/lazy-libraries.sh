#!/bin/sh
# Libraries loaded on demand stay out of NEEDED: the cmboot program does not link libmicrohttpd (dlopen()ed
# for flash --http only), so a write or boot run never maps it and GnuTLS. The NEEDED list read must be the
# real one: it names libcmboot. Usage: lazy-libraries.sh PATH/TO/cmboot.
set -u
CMBOOT=$1
fails=0
fail() { echo "FAIL: $*"; fails=$((fails + 1)); }
needed() { readelf -d "$1" | sed -n 's/.*(NEEDED)[^[]*\[\(.*\)\]/\1/p'; }

N=$(needed "$CMBOOT") || { echo "FAIL: readelf -d $CMBOOT"; exit 1; }
echo "$N" | grep -q '^libcmboot\.so' || fail "cmboot: NEEDED has no libcmboot (not the real list?): $N"
if echo "$N" | grep -q 'libmicrohttpd'; then fail "cmboot: NEEDED has libmicrohttpd"; else echo "ok: cmboot does not need libmicrohttpd"; fi
# What a run maps, transitively: no libmicrohttpd, no GnuTLS.
L=$(ldd "$CMBOOT") || { echo "FAIL: ldd $CMBOOT"; exit 1; }
for lib in libmicrohttpd libgnutls; do
    if echo "$L" | grep -q "$lib"; then fail "cmboot loads $lib at start"; else echo "ok: no $lib at start"; fi
done
[ "$fails" -eq 0 ] || exit 1
echo "lazy-libraries: all passed"
