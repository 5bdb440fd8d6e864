/* Unit tests of boot-file lookup (protocol.md section 5) and confinement of device-chosen names. */
#include <archive.h>
#include <archive_entry.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cmboot/cmboot.h"
#include "testutil.h"

/* Builds DIR/bootfiles.bin with the given members (name, content pairs). */
static void make_tar(const char *dir, const char *const *members, size_t n)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/bootfiles.bin", dir);
    struct archive *a = archive_write_new();
    archive_write_set_format_pax_restricted(a);
    assert_int_equal(archive_write_open_filename(a, path), ARCHIVE_OK);
    for (size_t i = 0; i < n; i += 2) {
        struct archive_entry *e = archive_entry_new();
        archive_entry_set_pathname(e, members[i]);
        archive_entry_set_size(e, (la_int64_t)strlen(members[i + 1]));
        archive_entry_set_filetype(e, AE_IFREG);
        archive_entry_set_perm(e, 0644);
        archive_write_header(a, e);
        archive_write_data(a, members[i + 1], strlen(members[i + 1]));
        archive_entry_free(e);
    }
    archive_write_close(a);
    archive_write_free(a);
}

/* Reads the whole stream of a lookup into buf; returns the error or the source. */
static int fetch(cmboot_files *f, cmboot_soc_id soc, const char *port, const char *name, char *buf, size_t size,
                 char *source)
{
    cmboot_stream s;
    int rc = cmboot_files_open(f, cmboot_soc_by_id(soc), port, name, &s);
    if (rc < 0)
        return rc;
    size_t have = 0;
    long n;
    while ((n = s.read(s.self, buf + have, size - 1 - have)) > 0)
        have += (size_t)n;
    buf[have] = 0;
    assert_int_equal(have, s.size);
    if (source)
        strcpy(source, s.source);
    cmboot_stream_close(&s);
    return CMBOOT_OK;
}

static cmboot_files *files_for(const char *dir, bool overlay)
{
    cmboot_files_config cfg = {.boot_dir = dir, .overlay = overlay};
    cmboot_files *f;
    assert_int_equal(cmboot_files_new(&cfg, &f), CMBOOT_OK);
    return f;
}

static void test_name_check_refuses_hostile_names(void **state)
{
    (void)state;
    const char *bad[] = {"/etc/passwd", "..", "../x", "a/../../b", "a/..", "x\ny", "\033]0;x", "a\\b", ""};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        assert_int_equal(cmboot_name_check(bad[i]), CMBOOT_ERR_UNSAFE_NAME);
    char longname[300];
    memset(longname, 'a', sizeof longname - 1);
    longname[sizeof longname - 1] = 0;
    assert_int_equal(cmboot_name_check(longname), CMBOOT_ERR_UNSAFE_NAME);
    const char *good[] = {"start.elf", "overlays/dwc2.dtbo", "..hidden", "a..b", "./config.txt"};
    for (size_t i = 0; i < sizeof good / sizeof good[0]; i++)
        assert_int_equal(cmboot_name_check(good[i]), CMBOOT_OK);
}

static void test_lookup_refuses_escape(void **state)
{
    (void)state;
    char *root = test_tmpdir("esc");
    char dir[4096], outside[4096], link[4096];
    snprintf(dir, sizeof dir, "%s/boot", root);
    test_write_file(root, "secret.txt", "secret", 6);
    test_write_file(dir, "start.elf", "ELF", 3);
    snprintf(outside, sizeof outside, "%s/secret.txt", root);
    snprintf(link, sizeof link, "%s/leak.txt", dir);
    assert_int_equal(symlink(outside, link), 0);        /* absolute symlink out */
    snprintf(link, sizeof link, "%s/rel.txt", dir);
    assert_int_equal(symlink("../secret.txt", link), 0); /* relative symlink out */
    snprintf(link, sizeof link, "%s/inside.txt", dir);
    assert_int_equal(symlink("start.elf", link), 0);    /* symlink that stays inside is fine */
    cmboot_files *f = files_for(dir, false);
    char buf[64];
    assert_int_equal(fetch(f, CMBOOT_SOC_BCM2837, "1-1", "start.elf", buf, sizeof buf, NULL), CMBOOT_OK);
    assert_string_equal(buf, "ELF");
    assert_int_equal(fetch(f, CMBOOT_SOC_BCM2837, "1-1", "leak.txt", buf, sizeof buf, NULL), CMBOOT_ERR_UNSAFE_NAME);
    assert_int_equal(fetch(f, CMBOOT_SOC_BCM2837, "1-1", "rel.txt", buf, sizeof buf, NULL), CMBOOT_ERR_UNSAFE_NAME);
    assert_int_equal(fetch(f, CMBOOT_SOC_BCM2837, "1-1", "../secret.txt", buf, sizeof buf, NULL),
                     CMBOOT_ERR_UNSAFE_NAME);
    assert_int_equal(fetch(f, CMBOOT_SOC_BCM2837, "1-1", outside, buf, sizeof buf, NULL), CMBOOT_ERR_UNSAFE_NAME);
    assert_int_equal(fetch(f, CMBOOT_SOC_BCM2837, "1-1", "inside.txt", buf, sizeof buf, NULL), CMBOOT_OK);
    assert_int_equal(fetch(f, CMBOOT_SOC_BCM2837, "1-1", "absent.bin", buf, sizeof buf, NULL), CMBOOT_ERR_NOT_FOUND);
    /* a directory is not a boot file */
    test_write_file(dir, "sub/x", "x", 1);
    assert_int_equal(fetch(f, CMBOOT_SOC_BCM2837, "1-1", "sub", buf, sizeof buf, NULL), CMBOOT_ERR_NOT_FOUND);
    /* nor is a FIFO, and asking for one must not block the file server until someone writes to it */
    snprintf(link, sizeof link, "%s/pipe.bin", dir);
    assert_int_equal(mkfifo(link, 0600), 0);
    alarm(10); /* a blocked open fails the test instead of hanging it */
    assert_int_equal(fetch(f, CMBOOT_SOC_BCM2837, "1-1", "pipe.bin", buf, sizeof buf, NULL), CMBOOT_ERR_NOT_FOUND);
    alarm(0);
    cmboot_files_free(f);
    test_rmtree(root);
    free(root);
}

static void test_lookup_prefix_then_base(void **state)
{
    (void)state;
    char *dir = test_tmpdir("prefix");
    test_write_file(dir, "config.txt", "base", 4);
    test_write_file(dir, "2711/config.txt", "cm4", 3);
    cmboot_files *f = files_for(dir, false);
    char buf[64];
    assert_int_equal(fetch(f, CMBOOT_SOC_BCM2711, "1-1", "config.txt", buf, sizeof buf, NULL), CMBOOT_OK);
    assert_string_equal(buf, "cm4");
    assert_int_equal(fetch(f, CMBOOT_SOC_BCM2837, "1-1", "config.txt", buf, sizeof buf, NULL), CMBOOT_OK);
    assert_string_equal(buf, "base");
    cmboot_files_free(f);
    test_rmtree(dir);
    free(dir);
}

static void test_lookup_bootfiles_archive(void **state)
{
    (void)state;
    char *dir = test_tmpdir("tar");
    const char *members[] = {"2711/bootcode4.bin", "BC4", "2712/bootcode5.bin", "BC5", "2711/MemSys00.bin", "mem",
                             "2711/bootmain", "main2711", "2712/bootmain", "main2712"};
    make_tar(dir, members, sizeof members / sizeof members[0]);
    test_write_file(dir, "2711/bootmain", "override", 8); /* DIR/<prefix>/NAME wins over the member */
    test_write_file(dir, "config.txt", "cfg", 3);
    cmboot_files *f = files_for(dir, false);
    char buf[64], src[300];
    assert_int_equal(fetch(f, CMBOOT_SOC_BCM2711, "1-1", "bootcode4.bin", buf, sizeof buf, src), CMBOOT_OK);
    assert_string_equal(buf, "BC4");
    assert_non_null(strstr(src, "bootfiles.bin:"));
    assert_int_equal(fetch(f, CMBOOT_SOC_BCM2712, "1-1", "bootcode5.bin", buf, sizeof buf, NULL), CMBOOT_OK);
    assert_string_equal(buf, "BC5");
    assert_int_equal(fetch(f, CMBOOT_SOC_BCM2711, "1-1", "memsys00.bin", buf, sizeof buf, NULL), CMBOOT_OK);
    assert_string_equal(buf, "mem"); /* case-insensitive member match */
    assert_int_equal(fetch(f, CMBOOT_SOC_BCM2711, "1-1", "bootmain", buf, sizeof buf, NULL), CMBOOT_OK);
    assert_string_equal(buf, "override");
    assert_int_equal(fetch(f, CMBOOT_SOC_BCM2712, "1-1", "bootmain", buf, sizeof buf, NULL), CMBOOT_OK);
    assert_string_equal(buf, "main2712");
    assert_int_equal(fetch(f, CMBOOT_SOC_BCM2711, "1-1", "config.txt", buf, sizeof buf, NULL), CMBOOT_OK);
    assert_string_equal(buf, "cfg");
    assert_int_equal(fetch(f, CMBOOT_SOC_BCM2711, "1-1", "nothere", buf, sizeof buf, NULL), CMBOOT_ERR_NOT_FOUND);
    cmboot_files_free(f);
    test_rmtree(dir);
    free(dir);
}

static void test_lookup_bootfiles_corrupt(void **state)
{
    (void)state;
    char *dir = test_tmpdir("badtar");
    char junk[2048];
    test_fill_pattern((uint8_t *)junk, sizeof junk, 7);
    test_write_file(dir, "bootfiles.bin", junk, sizeof junk);
    cmboot_files *f = files_for(dir, false);
    char buf[64];
    assert_int_equal(fetch(f, CMBOOT_SOC_BCM2711, "1-1", "bootcode4.bin", buf, sizeof buf, NULL), CMBOOT_ERR_ARCHIVE);
    cmboot_files_free(f);
    test_rmtree(dir);
    free(dir);
}

static void test_lookup_overlay_by_port(void **state)
{
    (void)state;
    char *dir = test_tmpdir("overlay");
    test_write_file(dir, "bootcode.bin", "base-bc", 7);
    test_write_file(dir, "config.txt", "base-cfg", 8);
    test_write_file(dir, "1-1.3/config.txt", "port-cfg", 8);
    test_write_file(dir, "1-1.3/bootcode.bin", "port-bc", 7);
    cmboot_files *f = files_for(dir, true);
    char buf[64];
    assert_int_equal(fetch(f, CMBOOT_SOC_BCM2837, "1-1.3", "config.txt", buf, sizeof buf, NULL), CMBOOT_OK);
    assert_string_equal(buf, "port-cfg");
    assert_int_equal(fetch(f, CMBOOT_SOC_BCM2837, "1-1.3", "bootcode.bin", buf, sizeof buf, NULL), CMBOOT_OK);
    assert_string_equal(buf, "base-bc"); /* bootcode*.bin always from the base directory */
    assert_int_equal(fetch(f, CMBOOT_SOC_BCM2837, "1-1.4", "config.txt", buf, sizeof buf, NULL), CMBOOT_OK);
    assert_string_equal(buf, "base-cfg");
    cmboot_files_free(f);
    /* without -o the port directory is ignored */
    f = files_for(dir, false);
    assert_int_equal(fetch(f, CMBOOT_SOC_BCM2837, "1-1.3", "config.txt", buf, sizeof buf, NULL), CMBOOT_OK);
    assert_string_equal(buf, "base-cfg");
    cmboot_files_free(f);
    test_rmtree(dir);
    free(dir);
}

static void test_signature_file(void **state)
{
    (void)state;
    char *dir = test_tmpdir("sig");
    cmboot_files *f = files_for(dir, false);
    unsigned char sig[20];
    const cmboot_soc_info *soc = cmboot_soc_by_id(CMBOOT_SOC_BCM2837);
    assert_int_equal(cmboot_files_signature(f, soc, sig), CMBOOT_ERR_NOT_FOUND); /* no bootsig.bin */
    test_write_file(dir, "bootsig.bin", "x", 1);
    test_write_file(dir, "bootcode.sig", "00112233445566778899aabbccddeeff00112233\n", 41);
    assert_int_equal(cmboot_files_signature(f, soc, sig), CMBOOT_OK);
    assert_int_equal(sig[1], 0x11);
    assert_int_equal(sig[19], 0x33);
    unsigned char raw[20];
    for (int i = 0; i < 20; i++)
        raw[i] = (unsigned char)(200 + i);
    test_write_file(dir, "bootcode.sig", raw, 20);
    assert_int_equal(cmboot_files_signature(f, soc, sig), CMBOOT_OK);
    assert_memory_equal(sig, raw, 20);
    test_write_file(dir, "bootcode.sig", "short", 5);
    assert_int_equal(cmboot_files_signature(f, soc, sig), CMBOOT_ERR_FORMAT);
    cmboot_files_free(f);
    test_rmtree(dir);
    free(dir);
}

static void test_soc_table_and_stages(void **state)
{
    (void)state;
    assert_string_equal(cmboot_soc_by_product_id(0x2763)->second_stage, "bootcode.bin");
    assert_string_equal(cmboot_soc_by_product_id(0x2764)->second_stage, "bootcode.bin");
    assert_string_equal(cmboot_soc_by_product_id(0x2711)->second_stage, "bootcode4.bin");
    assert_string_equal(cmboot_soc_by_product_id(0x2712)->second_stage, "bootcode5.bin");
    assert_null(cmboot_soc_by_product_id(0x1234));
    assert_int_equal(cmboot_stage_of(0x0a5c, 0x2764, 0), CMBOOT_STAGE_ROM);
    assert_int_equal(cmboot_stage_of(0x0a5c, 0x2711, 3), CMBOOT_STAGE_ROM);
    assert_int_equal(cmboot_stage_of(0x0a5c, 0x2711, 1), CMBOOT_STAGE_SECOND);
    assert_int_equal(cmboot_stage_of(0x0a5c, 0x0001, 0), CMBOOT_STAGE_MASS_STORAGE);
    assert_int_equal(cmboot_stage_of(0x0a5c, 0x0104, 3), CMBOOT_STAGE_MASS_STORAGE);
    assert_int_equal(cmboot_stage_of(0x1d6b, 0x2764, 0), CMBOOT_STAGE_UNKNOWN);
    int iface;
    uint8_t ep;
    cmboot_vendor_endpoint(1, &iface, &ep);
    assert_int_equal(iface, 0);
    assert_int_equal(ep, 0x01);
    cmboot_vendor_endpoint(2, &iface, &ep);
    assert_int_equal(iface, 1);
    assert_int_equal(ep, 0x03);
    for (int e = 0; e > -CMBOOT_ERR_COUNT; e--)
        assert_string_not_equal(cmboot_strerror(e), "unknown error");
    assert_string_equal(cmboot_strerror(-999), "unknown error");
}

static const struct CMUnitTest tests[] = {
    cmocka_unit_test(test_name_check_refuses_hostile_names),
    cmocka_unit_test(test_lookup_refuses_escape),
    cmocka_unit_test(test_lookup_prefix_then_base),
    cmocka_unit_test(test_lookup_bootfiles_archive),
    cmocka_unit_test(test_lookup_bootfiles_corrupt),
    cmocka_unit_test(test_lookup_overlay_by_port),
    cmocka_unit_test(test_signature_file),
    cmocka_unit_test(test_soc_table_and_stages),
};
CMBOOT_TEST_MAIN(tests)
