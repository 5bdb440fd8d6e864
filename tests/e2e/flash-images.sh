# Host side of the flash-xz, flash-bmap and fastboot* e2e scenarios: makes the images (xz-utils, bmaptool), hands them to
# the guest as an extra initramfs archive (/e2e-data) and checks the board's disk file afterwards byte for byte.
# Sourced by run-scenario.sh, which provides SCENARIO, WORK, INITRD and die().
# shellcheck shell=bash

# bmap scenario: 12 MiB image of 4 KiB blocks; these ranges hold data (one of them explicit zeros, one across a
# 1 MiB boundary, the first and the last block), the rest are holes the writer must skip.
FLASH_BMAP_BLOCKS=3072
FLASH_BMAP_RANGES="0-255 500-520 700 1024-1279 3071"
FLASH_BMAP_ZERO_RANGE=1024-1279

# Writes blocks FIRST-LAST of FILE from SOURCE (a file read at the same offset, or /dev/urandom, /dev/zero).
flash_put_range() {
    local file=$1 range=$2 source=$3 first last
    first=${range%-*}; last=${range#*-}
    case "$source" in
        /dev/*) dd if="$source" of="$file" bs=4096 seek="$first" count=$((last - first + 1)) conv=notrunc \
                   status=none ;;
        *) dd if="$source" of="$file" bs=4096 skip="$first" seek="$first" count=$((last - first + 1)) \
              conv=notrunc status=none ;;
    esac
}

flash_prepare_xz() {
    local data=$1
    command -v xz >/dev/null || die "xz is missing: install xz-utils"
    # 8 MiB + 1000 bytes (a tail that is not a whole sector): random half, compressible half.
    { echo "cmboot e2e flash-xz image"; head -c 4194304 /dev/urandom
      yes "cmboot e2e flash-xz: compressible line $SCENARIO" | head -c 4195304; } | head -c 8389608 > "$WORK/flash.img"
    xz -c -T1 "$WORK/flash.img" > "$data/flash.img.xz" || die "xz failed"
    echo "size=8389608 sha256=$(sha256sum < "$WORK/flash.img" | cut -d' ' -f1)" > "$WORK/flash.expect"
}

flash_prepare_bmap() {
    local data=$1 r got disk_size
    command -v bmaptool >/dev/null || die "bmaptool is missing: install bmap-tools"
    rm -f "$WORK/flash.img"
    truncate -s $((FLASH_BMAP_BLOCKS * 4096)) "$WORK/flash.img"
    for r in $FLASH_BMAP_RANGES; do
        case "$r" in *-*) ;; *) r=$r-$r ;; esac
        if [ "$r" = "$FLASH_BMAP_ZERO_RANGE" ]; then
            flash_put_range "$WORK/flash.img" "$r" /dev/zero
        else
            flash_put_range "$WORK/flash.img" "$r" /dev/urandom
        fi
    done
    bmaptool create -o "$data/flash.img.bmap" "$WORK/flash.img" 2> "$WORK/bmaptool.err" \
        || die "bmaptool create failed: $(cat "$WORK/bmaptool.err")"
    # The host file system must have kept the holes, or the scenario could not tell skipped blocks apart.
    got=$(sed -n 's:.*<Range[^>]*> *\([0-9-]*\) *</Range>.*:\1:p' "$data/flash.img.bmap" | tr '\n' ' ')
    [ "${got% }" = "$FLASH_BMAP_RANGES" ] || die "bmaptool mapped '$got', expected '$FLASH_BMAP_RANGES' (no holes?)"
    cp --sparse=always "$WORK/flash.img" "$data/flash.img"
    # The board's disk before: a non-zero pattern everywhere, so a hole written as zeros shows.
    disk_size=$(stat -c %s "$WORK/disk0.img")
    yes "cmboot e2e: unmapped blocks keep this pattern" | head -c "$disk_size" > "$WORK/disk0.img"
}

# Makes the scenario's image, saves the board's disk as it is before the run, and appends /e2e-data to INITRD.
flash_prepare() {
    local data=$WORK/guest-root/e2e-data size
    command -v cpio >/dev/null || die "cpio is missing: install cpio"
    mkdir -p "$data"
    case "$SCENARIO" in
        flash-xz) flash_prepare_xz "$data" ;;
        flash-bmap) flash_prepare_bmap "$data" ;;
        fastboot|fastboot-nofetch)
            # The bmap image, shipped xz-compressed with its bmap: the fastboot writer sends only the mapped
            # ranges (holes as DONT_CARE), so the same check as flash-bmap's applies to the gadget's partition.
            command -v xz >/dev/null || die "xz is missing: install xz-utils"
            flash_prepare_bmap "$data"
            xz -c -T1 "$data/flash.img" > "$data/flash.img.xz" || die "xz failed"
            rm -f "$data/flash.img" ;;
        *) die "flash_prepare: no image for scenario $SCENARIO" ;;
    esac
    cp "$WORK/disk0.img" "$WORK/disk0.before"
    # The kernel unpacks concatenated initramfs archives; each must start on a 4-byte boundary.
    cp "$INITRD" "$WORK/initrd.cpio.gz"
    size=$(stat -c %s "$WORK/initrd.cpio.gz")
    truncate -s $(( (size + 3) / 4 * 4 )) "$WORK/initrd.cpio.gz"
    (cd "$WORK/guest-root" && find . | LC_ALL=C sort | cpio -o -H newc --quiet -R 0:0 | gzip -1) \
        >> "$WORK/initrd.cpio.gz" || die "cannot append the image archive to the initramfs"
    INITRD=$WORK/initrd.cpio.gz
}

# Checks board I's disk file after the run; prints what it found, returns non-zero on any difference.
flash_check() {
    local i=$1 disk=$WORK/disk$1.img size want have r bad=0
    case "$SCENARIO" in
        flash-xz)
            size=$(sed -n 's/.*size=\([0-9]*\).*/\1/p' "$WORK/flash.expect")
            want=$(sed -n 's/.*sha256=\([0-9a-f]*\).*/\1/p' "$WORK/flash.expect")
            # The guest must have flashed the very image the host made.
            grep -aq "^E2E-FLASH size=$size sha256=$want" "$WORK/console.log" \
                || { echo "board$i: the guest's E2E-FLASH line does not match the host's image"; bad=1; }
            have=$(head -c "$size" "$disk" | sha256sum | cut -d' ' -f1)
            if [ "$have" = "$want" ] && cmp -s -n "$size" "$WORK/flash.img" "$disk"; then
                echo "== board$i disk holds the decompressed image ($size bytes) byte for byte"
            else
                echo "board$i: the disk differs from the image at $(cmp -n "$size" "$WORK/flash.img" "$disk" 2>&1)"
                bad=1
            fi
            # Nothing past the image's end (not even the rest of its last sector) may have changed.
            if cmp -s -i "$size:$size" "$WORK/disk$i.before" "$disk"; then
                echo "== board$i disk past the image is unchanged"
            else
                echo "board$i: the disk changed past the image (bytes counted from its end): $(cmp -i "$size:$size" "$WORK/disk$i.before" "$disk" 2>&1)"
                bad=1
            fi
            ;;
        flash-bmap|fastboot|fastboot-nofetch)
            # Expected disk: what was there before, with exactly the mapped ranges of the image written over it.
            cp "$WORK/disk$i.before" "$WORK/disk$i.expect"
            for r in $FLASH_BMAP_RANGES; do
                case "$r" in *-*) ;; *) r=$r-$r ;; esac
                flash_put_range "$WORK/disk$i.expect" "$r" "$WORK/flash.img"
            done
            # The check can tell: writing the whole image (holes as zeros) would not give the expected disk.
            cmp -s -n $((FLASH_BMAP_BLOCKS * 4096)) "$WORK/flash.img" "$WORK/disk$i.expect" \
                && { echo "board$i: the holes of the image equal the pattern; the check could not tell"; bad=1; }
            if cmp -s "$WORK/disk$i.expect" "$disk"; then
                echo "== board$i disk: mapped ranges ($FLASH_BMAP_RANGES) hold the image, every other block" \
                     "kept its pattern"
            else
                echo "board$i: the disk differs from the expected one: $(cmp "$WORK/disk$i.expect" "$disk" 2>&1)" \
                     "($(cmp -l "$WORK/disk$i.expect" "$disk" 2>/dev/null | wc -l) bytes differ)"
                bad=1
            fi
            ;;
    esac
    return $bad
}
