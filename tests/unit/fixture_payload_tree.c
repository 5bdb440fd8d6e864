/* Test fixture: builds an upstream-style payload tree (relative symlinks into firmware/) under a directory. */
#include "fixture_payload_tree.h"

#include <archive.h>
#include <archive_entry.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "testutil.h"

/* bootfiles.bin members of current firmware (protocol.md section 9); no 2710/ members. */
static const char *const tar_members[] = {
    "2711/bootcode4.bin", "2711/bootmain",     "2711/mcb.bin",      "2711/memsys00.bin",   "2711/memsys01.bin",
    "2711/memsys02.bin",  "2711/memsys03.bin", "2711/memsys04.bin", "2711/memsys05.bin",   "2711/memsys06.bin",
    "2711/memsys07.bin",  "2711/memsys08.bin", "2711/logo.bin",     "2711/font.bin",       "2712/bootcode5.bin",
    "2712/bootmain",      "2712/mcb.bin",      "2712/memsys00.bin", "2712/memsys01.bin",   "2712/memsys02.bin",
    "2712/memsys03.bin",  "2712/rp1c0fw1.bin", "2712/rp1c0fw2.bin", "2712/bootsys-ab.bin", "2712/logo.bin",
    "2712/font.bin",
};

/* Real files (everything else is a symlink). */
static const char *const real_files[] = {
    "rpi-eeprom/firmware-2711/latest/recovery.bin",
    "rpi-eeprom/firmware-2711/latest/pieeprom-2026-05-17.bin",
    "rpi-eeprom/firmware-2712/latest/recovery.bin",
    "rpi-eeprom/firmware-2712/latest/pieeprom-2026-05-26.bin",
    "firmware/2711/bootcode4.bin",
    "msd/bootcode.bin",
    "msd/start.elf",
    "mass-storage-gadget64/boot.img",
    "mass-storage-gadget64/config.txt",
    "recovery/config.txt",
    "recovery/boot.conf",
    "recovery/pieeprom.bin", /* made by update-pieeprom.sh from pieeprom.original.bin */
    "recovery/pieeprom.sig",
    "recovery5/config.txt",
    "recovery5/pieeprom.bin",
    "recovery5/pieeprom.sig",
    "secure-boot-recovery/config.txt",
    "secure-boot-recovery/pieeprom.bin",
    "secure-boot-msd/boot.img",
    "secure-boot-msd/config.txt",
    "eeprom-erase/config.txt",
    "rpi-imager-embedded/config.txt",
};

/* Upstream's symlinks, relative as shipped (link, target). */
static const char *const links[][2] = {
    {"firmware/2711/recovery.bin", "../../rpi-eeprom/firmware-2711/latest/recovery.bin"},
    {"firmware/2711/pieeprom.bin", "../../rpi-eeprom/firmware-2711/latest/pieeprom-2026-05-17.bin"},
    {"firmware/2712/recovery.bin", "../../rpi-eeprom/firmware-2712/latest/recovery.bin"},
    {"firmware/2712/pieeprom.bin", "../../rpi-eeprom/firmware-2712/latest/pieeprom-2026-05-26.bin"},
    {"msd/bootcode4.bin", "../firmware/2711/bootcode4.bin"},
    {"mass-storage-gadget64/bootfiles.bin", "../firmware/bootfiles.bin"},
    {"mass-storage-gadget", "mass-storage-gadget64"},
    {"mass-storage-gadget64-cm3", "mass-storage-gadget64"},
    {"recovery/bootcode4.bin", "../firmware/2711/recovery.bin"},
    {"recovery/pieeprom.original.bin", "../firmware/2711/pieeprom.bin"},
    {"recovery5/bootcode5.bin", "../firmware/2712/recovery.bin"},
    {"recovery5/pieeprom.original.bin", "../firmware/2712/pieeprom.bin"},
    {"secure-boot-recovery/bootcode4.bin", "../firmware/2711/recovery.bin"},
    {"secure-boot-recovery/pieeprom.original.bin", "../firmware/2711/pieeprom.bin"},
    {"secure-boot-msd/bootcode4.bin", "../firmware/2711/bootcode4.bin"},
    {"eeprom-erase/bootcode4.bin", "../firmware/2711/bootcode4.bin"},
    {"eeprom-erase/bootcode5.bin", "../firmware/2712/recovery.bin"},
    {"rpi-imager-embedded/bootfiles.bin", "../firmware/bootfiles.bin"},
};

#define R2711 "rpi-eeprom/firmware-2711/latest/recovery.bin"
#define R2712 "rpi-eeprom/firmware-2712/latest/recovery.bin"
#define TAR "firmware/bootfiles.bin:"
static const fixture_payload payloads[] = {
    {"msd", CMBOOT_SOC_BCM2837, "msd/bootcode.bin", "start.elf", "msd/start.elf"},
    {"msd", CMBOOT_SOC_BCM2835, "msd/bootcode.bin", "start.elf", "msd/start.elf"},
    {"msd", CMBOOT_SOC_BCM2711, "firmware/2711/bootcode4.bin", "start.elf", "msd/start.elf"},
    {"mass-storage-gadget64", CMBOOT_SOC_BCM2711, TAR "2711/bootcode4.bin", "boot.img",
     "mass-storage-gadget64/boot.img"},
    {"mass-storage-gadget64", CMBOOT_SOC_BCM2712, TAR "2712/bootcode5.bin", "bootmain", TAR "2712/bootmain"},
    {"mass-storage-gadget", CMBOOT_SOC_BCM2711, TAR "2711/bootcode4.bin", "MemSys03.bin", TAR "2711/memsys03.bin"},
    {"mass-storage-gadget64-cm3", CMBOOT_SOC_BCM2712, TAR "2712/bootcode5.bin", "config.txt",
     "mass-storage-gadget64/config.txt"},
    {"recovery", CMBOOT_SOC_BCM2711, R2711, "pieeprom.bin", "recovery/pieeprom.bin"},
    {"recovery5", CMBOOT_SOC_BCM2712, R2712, "pieeprom.sig", "recovery5/pieeprom.sig"},
    {"secure-boot-recovery", CMBOOT_SOC_BCM2711, R2711, "config.txt", "secure-boot-recovery/config.txt"},
    {"secure-boot-msd", CMBOOT_SOC_BCM2711, "firmware/2711/bootcode4.bin", "boot.img", "secure-boot-msd/boot.img"},
    {"eeprom-erase", CMBOOT_SOC_BCM2711, "firmware/2711/bootcode4.bin", "config.txt", "eeprom-erase/config.txt"},
    {"eeprom-erase", CMBOOT_SOC_BCM2712, R2712, "config.txt", "eeprom-erase/config.txt"},
    {"rpi-imager-embedded", CMBOOT_SOC_BCM2711, TAR "2711/bootcode4.bin", "mcb.bin", TAR "2711/mcb.bin"},
    {"rpi-imager-embedded", CMBOOT_SOC_BCM2712, TAR "2712/bootcode5.bin", "config.txt",
     "rpi-imager-embedded/config.txt"},
};

const fixture_payload *fixture_payloads(size_t *n)
{
    *n = sizeof payloads / sizeof payloads[0];
    return payloads;
}

void fixture_payload_content(const char *real_path, char *buf, size_t size)
{
    snprintf(buf, size, "payload-tree %s\n", real_path);
}

static void write_tar(const char *root)
{
    char path[4096], body[256];
    snprintf(path, sizeof path, "%s/firmware/bootfiles.bin", root);
    struct archive *a = archive_write_new();
    assert_non_null(a);
    assert_int_equal(archive_write_set_format_ustar(a), ARCHIVE_OK);
    assert_int_equal(archive_write_open_filename(a, path), ARCHIVE_OK);
    for (size_t i = 0; i < sizeof tar_members / sizeof tar_members[0]; i++) {
        snprintf(path, sizeof path, TAR "%s", tar_members[i]);
        fixture_payload_content(path, body, sizeof body);
        struct archive_entry *e = archive_entry_new();
        archive_entry_set_pathname(e, tar_members[i]);
        archive_entry_set_size(e, (la_int64_t)strlen(body));
        archive_entry_set_filetype(e, AE_IFREG);
        archive_entry_set_perm(e, 0644);
        assert_int_equal(archive_write_header(a, e), ARCHIVE_OK);
        assert_int_equal(archive_write_data(a, body, strlen(body)), (la_ssize_t)strlen(body));
        archive_entry_free(e);
    }
    assert_int_equal(archive_write_close(a), ARCHIVE_OK);
    archive_write_free(a);
}

void fixture_payload_tree(const char *root)
{
    char body[256], path[4096];
    for (size_t i = 0; i < sizeof real_files / sizeof real_files[0]; i++) {
        fixture_payload_content(real_files[i], body, sizeof body);
        test_write_file(root, real_files[i], body, strlen(body));
    }
    test_write_file(root, "firmware/2712/.keep", "", 0); /* the directory for 2712's links */
    write_tar(root);
    for (size_t i = 0; i < sizeof links / sizeof links[0]; i++) {
        snprintf(path, sizeof path, "%s/%s", root, links[i][0]);
        assert_int_equal(symlink(links[i][1], path), 0);
    }
}
