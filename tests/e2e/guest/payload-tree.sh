#!/bin/sh
# An upstream-style payload tree for guest scenarios (busybox sh): payload directories whose files are relative
# symlinks into a sibling firmware/, as in the usbboot repository and the Raspberry Pi OS rpiboot package.
#
# mk_upstream_tree DIR [PAYLOAD PREFIX...]
#   Builds DIR/firmware (2711/, 2712/, bootfiles.bin: a tar with 2711/ and 2712/ members, no 2710/),
#   DIR/rpi-eeprom (behind firmware's recovery/pieeprom links), DIR/msd and the payload directories
#   mass-storage-gadget64 (+ the mass-storage-gadget and mass-storage-gadget64-cm3 links to it), recovery,
#   recovery5, secure-boot-recovery, secure-boot-msd, eeprom-erase and rpi-imager-embedded.
#   With PAYLOAD (one of those names), prints "E2E-FILE <name> <sha256>" for every file a board of each PREFIX
#   (2710, 2711 or 2712) booted from DIR/PAYLOAD can receive; a 2710 board on a bootfiles.bin payload gets
#   bootcode.bin and start.elf from DIR/msd (cmboot's fallback when DIR/msd is a fallback directory).
#   DIR=/usr/share/rpiboot gives the rpiboot package's layout, which cmboot finds with no -d.
#   Archive members with the same name under 2711/ and 2712/ have the same content, so a file name always
#   stands for one hash even with both boards in a scenario. PT_BOOT_IMG_SIZE sets boot.img's size.

# Deterministic-looking content that differs per file: PATH SIZE TAG
pt_file() {
    mkdir -p "$(dirname "$1")"
    { echo "cmboot e2e payload-tree $3"; dd if=/dev/urandom bs=4096 count=$(( ($2 + 4095) / 4096 )) 2>/dev/null; } \
        | head -c "$2" > "$1"
}
pt_report() { echo "E2E-FILE $2 $(sha256sum "$1" | cut -d' ' -f1)"; }
# LINK TARGET, relative as upstream ships them.
pt_link() { mkdir -p "$(dirname "$1")"; ln -s "$2" "$1"; }

mk_upstream_tree() {
    local d="$1" img="${PT_BOOT_IMG_SIZE:-4194304}" s g r p f i prefix
    shift
    mkdir -p "$d"
    # rpi-eeprom and firmware: the only real second stages
    pt_file "$d/rpi-eeprom/firmware-2711/latest/recovery.bin" 98304 recovery-2711
    pt_file "$d/rpi-eeprom/firmware-2711/latest/pieeprom-2026-05-17.bin" 524288 pieeprom-2711
    pt_file "$d/rpi-eeprom/firmware-2712/latest/recovery.bin" 110592 recovery-2712
    pt_file "$d/rpi-eeprom/firmware-2712/latest/pieeprom-2026-05-26.bin" 524288 pieeprom-2712
    pt_file "$d/firmware/2711/bootcode4.bin" 105984 msd-bootcode4
    pt_link "$d/firmware/2711/recovery.bin" ../../rpi-eeprom/firmware-2711/latest/recovery.bin
    pt_link "$d/firmware/2711/pieeprom.bin" ../../rpi-eeprom/firmware-2711/latest/pieeprom-2026-05-17.bin
    pt_link "$d/firmware/2712/recovery.bin" ../../rpi-eeprom/firmware-2712/latest/recovery.bin
    pt_link "$d/firmware/2712/pieeprom.bin" ../../rpi-eeprom/firmware-2712/latest/pieeprom-2026-05-26.bin
    # bootfiles.bin, from a staging copy kept beside it for the hashes
    s=$d/firmware/.bootfiles
    pt_file "$s/2711/bootcode4.bin" 102400 gadget-bootcode4
    pt_file "$s/2712/bootcode5.bin" 114688 gadget-bootcode5
    pt_file "$s/2711/bootmain" 204800 bootmain; pt_file "$s/2711/mcb.bin" 3072 mcb
    pt_file "$s/2711/logo.bin" 6144 logo; pt_file "$s/2711/font.bin" 4096 font
    for i in 0 1 2 3 4 5 6 7 8; do pt_file "$s/2711/memsys0$i.bin" 8192 "memsys0$i"; done
    mkdir -p "$s/2712"
    for f in bootmain mcb.bin logo.bin font.bin memsys00.bin memsys01.bin memsys02.bin memsys03.bin; do
        cp "$s/2711/$f" "$s/2712/$f"; done
    pt_file "$s/2712/rp1c0fw1.bin" 16384 rp1c0fw1; pt_file "$s/2712/rp1c0fw2.bin" 16384 rp1c0fw2
    pt_file "$s/2712/bootsys-ab.bin" 8192 bootsys-ab
    (cd "$s" && tar -cf "$d/firmware/bootfiles.bin" 2711 2712)
    # msd: the legacy mass-storage firmware
    pt_file "$d/msd/bootcode.bin" 52456 msd-bootcode; pt_file "$d/msd/start.elf" 1048576 msd-start
    pt_link "$d/msd/bootcode4.bin" ../firmware/2711/bootcode4.bin
    # payload directories
    g=$d/mass-storage-gadget64
    pt_link "$g/bootfiles.bin" ../firmware/bootfiles.bin
    pt_file "$g/boot.img" "$img" gadget-boot.img
    printf '[all]\nboot_load_flags=0x1\n' > "$g/config.txt"
    ln -s mass-storage-gadget64 "$d/mass-storage-gadget"
    ln -s mass-storage-gadget64 "$d/mass-storage-gadget64-cm3"
    for r in recovery secure-boot-recovery; do
        pt_link "$d/$r/bootcode4.bin" ../firmware/2711/recovery.bin
        pt_link "$d/$r/pieeprom.original.bin" ../firmware/2711/pieeprom.bin
        pt_file "$d/$r/pieeprom.bin" 524288 "$r-pieeprom"
        printf 'uart_2ndstage=1\nrecovery_metadata=1\n' > "$d/$r/config.txt"
    done
    pt_file "$d/recovery/pieeprom.sig" 96 recovery-pieeprom.sig
    pt_link "$d/recovery5/bootcode5.bin" ../firmware/2712/recovery.bin
    pt_link "$d/recovery5/pieeprom.original.bin" ../firmware/2712/pieeprom.bin
    pt_file "$d/recovery5/pieeprom.bin" 524288 recovery5-pieeprom
    pt_file "$d/recovery5/pieeprom.sig" 96 recovery5-pieeprom.sig
    printf 'uart_2ndstage=1\nrecovery_metadata=1\n' > "$d/recovery5/config.txt"
    pt_link "$d/secure-boot-msd/bootcode4.bin" ../firmware/2711/bootcode4.bin
    pt_file "$d/secure-boot-msd/boot.img" "$img" secure-boot-msd-boot.img
    printf 'uart_2ndstage=1\n' > "$d/secure-boot-msd/config.txt"
    pt_link "$d/eeprom-erase/bootcode4.bin" ../firmware/2711/bootcode4.bin
    pt_link "$d/eeprom-erase/bootcode5.bin" ../firmware/2712/recovery.bin
    printf 'erase_eeprom=1\n' > "$d/eeprom-erase/config.txt"
    pt_link "$d/rpi-imager-embedded/bootfiles.bin" ../firmware/bootfiles.bin
    printf '[all]\nboot_load_flags=0x1\n' > "$d/rpi-imager-embedded/config.txt"
    pt_file "$d/rpi-imager-embedded/boot.img" "$img" imager-boot.img

    [ $# -gt 0 ] || return 0
    p=$d/$1; shift
    for f in "$p"/*; do
        [ -f "$f" ] && [ "${f##*/}" != bootfiles.bin ] && pt_report "$f" "${f##*/}"
    done
    [ -f "$p/bootfiles.bin" ] || return 0
    for prefix in "$@"; do
        case $prefix in
        2711|2712) for f in "$s/$prefix"/*; do pt_report "$f" "${f##*/}"; done ;;
        2710) pt_report "$d/msd/bootcode.bin" bootcode.bin; pt_report "$d/msd/start.elf" start.elf ;;
        esac
    done
}
