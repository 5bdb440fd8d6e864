#!/bin/sh
# Helpers sourced by the guest scenario scripts: results, boot directories, waiting for the disk.
up() { cut -d' ' -f1 /proc/uptime; }
SCEN=${SCEN:-$(basename "$0" .sh)}
pass() { echo "E2E-RESULT $SCEN PASS $*"; exit 0; }
fail() { echo "E2E-RESULT $SCEN FAIL $*"; dmesg | tail -n 25; exit 0; }
note() { echo "E2E-NOTE $SCEN uptime=$(up) $*"; }

# Deterministic file content (not all zeros, so a mix-up of offsets shows): NAME SIZE_BYTES SEED
mkfile() {
    mkdir -p "$(dirname "$1")"
    { echo "cmboot e2e $1 seed $3"; dd if=/dev/urandom bs=4096 count=$(( ($2 + 4095) / 4096 )) 2>/dev/null; } \
        | head -c "$2" > "$1"
}
# Prints a file's hash for the host, which compares it with what the emulated board received.
report_file() { echo "E2E-FILE $2 $(sha256sum "$1" | cut -d' ' -f1)"; }

# Boot directory of a BCM2835/2837 board: bootcode.bin + the legacy second stage's files.
mk_bootdir_legacy() {
    d=$1; start_size=${2:-2097152}
    mkfile "$d/bootcode.bin" 51200 1; mkfile "$d/start.elf" "$start_size" 2
    mkfile "$d/fixup.dat" 7265 3; printf 'enable_uart=1\n' > "$d/config.txt"
    for f in bootcode.bin start.elf fixup.dat config.txt; do report_file "$d/$f" "$f"; done
}
# Boot directory of a BCM2711/2712 board: bootfiles.bin (tar, PREFIX/...), config.txt and boot.img.
mk_bootdir_modern() {
    d=$1; prefix=$2; second=$3; img_size=${4:-4194304}
    t=/tmp/tar-$prefix; mkdir -p "$t/$prefix" "$d"
    mkfile "$t/$prefix/$second" 102400 11; mkfile "$t/$prefix/mcb.bin" 3072 12
    for i in 0 1 2 3; do mkfile "$t/$prefix/memsys0$i.bin" 8192 $((13 + i)); done
    mkfile "$t/$prefix/bootmain" 204800 17
    (cd "$t" && tar -cf "$d/bootfiles.bin" "$prefix")
    printf '[all]\nboot_load_flags=0x1\n' > "$d/config.txt"; mkfile "$d/boot.img" "$img_size" 18
    for f in "$second" mcb.bin memsys00.bin memsys01.bin memsys02.bin memsys03.bin bootmain; do
        report_file "$t/$prefix/$f" "$f"; done
    report_file "$d/config.txt" config.txt; report_file "$d/boot.img" boot.img
}

# The sdX disk behind a USB port path (e.g. 1-1), waiting up to $2 seconds. Prints the name.
wait_disk() {
    port=$1; limit=$(( ${2:-10} * 10 )); i=0
    while [ $i -lt $limit ]; do
        for b in /sys/block/sd*; do
            [ -e "$b" ] || continue
            case "$(readlink -f "$b/device")" in */usb*/$port/$port:*) basename "$b"; return 0;; esac
        done
        sleep 0.1; i=$((i + 1))
    done
    return 1
}
# Whether a Broadcom device (any stage) sits at a port path now.
board_at() { [ "$(cat "/sys/bus/usb/devices/$1/idVendor" 2>/dev/null)" = 0a5c ]; }

# Mounts the board's disk, shows the host's file, writes one back. $1 = sdX, $2 = text to write.
check_disk() {
    dev=/dev/$1
    [ -b "$dev" ] || fail "no block node $dev (devtmpfs)"
    note "disk $1 vendor=$(cat "/sys/block/$1/device/vendor") model=$(cat "/sys/block/$1/device/model")" \
         "sectors=$(cat "/sys/block/$1/size")"
    mkdir -p /mnt/disk
    mount -t ext4 "$dev" /mnt/disk || fail "cannot mount $dev"
    [ -f /mnt/disk/hello.txt ] || { umount /mnt/disk; fail "hello.txt missing on the disk"; }
    note "hello.txt: $(cat /mnt/disk/hello.txt)"
    echo "$2" > /mnt/disk/from-guest.txt
    umount /mnt/disk || fail "umount failed"
    sync
}
