#!/bin/sh
# Libraries loaded on demand stay out of NEEDED: the cmboot program does not link libmicrohttpd (dlopen()ed
# for flash --http only), libcmboot does not link libarchive (dlopen()ed for bzip2 and zip images,
# bootfiles.bin, a kernel config), so a raw, gzip, xz or zstd write never maps them, nor GnuTLS, libxml2, ICU
# and libstdc++. The NEEDED lists read must be the real ones (libcmboot, zlib), and a bzip2 write must load
# libarchive (the check sees loading). Usage: lazy-libraries.sh PATH/TO/cmboot. Needs xz, gzip, zstd, bzip2.
set -u
CMBOOT=$1
fails=0
fail() { echo "FAIL: $*"; fails=$((fails + 1)); }
needed() { readelf -d "$1" | sed -n 's/.*(NEEDED)[^[]*\[\(.*\)\]/\1/p'; }

N=$(needed "$CMBOOT") || { echo "FAIL: readelf -d $CMBOOT"; exit 1; }
echo "$N" | grep -q '^libcmboot\.so' || fail "cmboot: NEEDED has no libcmboot (not the real list?): $N"
if echo "$N" | grep -q 'libmicrohttpd'; then fail "cmboot: NEEDED has libmicrohttpd"; else echo "ok: cmboot does not need libmicrohttpd"; fi
# What a run maps, transitively (the loader's own list: works for a foreign binary under binfmt too, unlike ldd).
L=$(LD_DEBUG=libs "$CMBOOT" --version 2>&1 >/dev/null | sed -n 's/.*calling init: //p') || true
for lib in libmicrohttpd libgnutls libarchive libxml2; do
    if echo "$L" | grep -q "$lib"; then fail "cmboot --version loads $lib"; else echo "ok: no $lib at start"; fi
done
LIB=$(echo "$L" | grep '/libcmboot\.so' | head -1)
[ -f "$LIB" ] || { echo "FAIL: the loader named no libcmboot: $L"; exit 1; }
N=$(needed "$LIB")
echo "$N" | grep -q '^libz\.so' || fail "libcmboot: NEEDED has no zlib (not the real list?): $N"
if echo "$N" | grep -q 'libarchive'; then fail "libcmboot: NEEDED has libarchive"; else echo "ok: libcmboot does not need libarchive"; fi

# What a write run loads (LD_DEBUG=files lists every object mapped, at start or by dlopen).
T=$(mktemp -d "${TMPDIR:-/tmp}/cmboot-lazy.XXXXXX") || exit 1
trap 'rm -rf "$T"' EXIT
head -c 300000 /dev/urandom > "$T/os.img"
gzip -k -c "$T/os.img" > "$T/os.img.gz"
xz -k -c "$T/os.img" > "$T/os.img.xz"
zstd -q -c "$T/os.img" > "$T/os.img.zst"
bzip2 -k -c "$T/os.img" > "$T/os.img.bz2"
for img in os.img os.img.gz os.img.xz os.img.zst os.img.bz2; do
    rm -f "$T/out.img"
    LD_DEBUG=files "$CMBOOT" write "$T/$img" "$T/out.img" > "$T/out" 2> "$T/err"; rc=$?
    [ "$rc" -eq 0 ] || { fail "write $img: exit $rc: $(tail -3 "$T/err")"; continue; }
    cmp -s "$T/os.img" "$T/out.img" || { fail "write $img: the target differs from the image"; continue; }
    grep -q 'file=libcmboot' "$T/err" || { fail "write $img: LD_DEBUG listed nothing"; continue; }
    loaded=$(grep -c 'file=libarchive\.so' "$T/err")
    want=0
    case $img in *.bz2) want=1 ;; esac
    if [ "$want" -eq 1 ] && [ "$loaded" -eq 0 ]; then
        fail "write $img: libarchive not loaded (is the check blind?)"
    elif [ "$want" -eq 0 ] && [ "$loaded" -gt 0 ]; then
        fail "write $img loads libarchive"
    else
        echo "ok: write $img: libarchive loaded: $want"
    fi
    if grep -q 'file=libmicrohttpd' "$T/err"; then fail "write $img loads libmicrohttpd"; fi
done
[ "$fails" -eq 0 ] || exit 1
echo "lazy-libraries: all passed"
