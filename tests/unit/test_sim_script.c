/* Emulator script text format, default scripts per SoC and fault names. */
#include "testutil.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "cmboot/error.h"
#include "model/sim_script.h"

static void script_parse_all_steps(void **state)
{
    (void)state;
    const char *text = "# a comment\n"
                       "get autoboot.txt?\n"
                       "get start.elf must-exist expect-size=4096 "
                       "expect-sha256=00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff\n"
                       "read fixup.dat absent\n"
                       "meta MAC_ADDR d8:3a:dd:05:ee:78\n"
                       "meta NOTE two words\n"
                       "raw 0 ../../etc/passwd\n"
                       "raw 1 bad\\x01name\\\\x\n"
                       "raw 0x7 \"\"\n"
                       "get boot.img fault=vanish-after-bytes:1000\n"
                       "get config.txt   \t # trailing comment\r\n"
                       "fault delay 250\n"
                       "rom-fault stall\n"
                       "rom-reject 5\n"
                       "empty\n"
                       "done\n";
    sim_script s;
    char err[128] = "";
    assert_int_equal(sim_script_parse(&s, text, err, sizeof err), CMBOOT_OK);
    assert_int_equal(s.count, 12);
    assert_int_equal(s.steps[0].kind, SIM_STEP_GET);
    assert_int_equal(s.steps[0].name_len, strlen("autoboot.txt"));
    assert_memory_equal(s.steps[0].name, "autoboot.txt", 12);
    assert_false(s.steps[0].must_exist);
    assert_true(s.steps[1].must_exist);
    assert_int_equal(s.steps[1].expect_size, 4096);
    assert_true(s.steps[1].expect_sha);
    assert_int_equal(s.steps[1].sha256[1], 0x11);
    assert_int_equal(s.steps[2].kind, SIM_STEP_READ);
    assert_true(s.steps[2].must_be_absent);
    assert_int_equal(s.steps[3].kind, SIM_STEP_META);
    assert_memory_equal(s.steps[3].name, "*MAC_ADDR*d8:3a:dd:05:ee:78", s.steps[3].name_len);
    assert_memory_equal(s.steps[4].name, "*NOTE*two words", s.steps[4].name_len);
    assert_int_equal(s.steps[5].kind, SIM_STEP_RAW);
    assert_int_equal(s.steps[5].command, 0);
    assert_int_equal(s.steps[6].command, 1);
    assert_int_equal(s.steps[6].name_len, 10);
    assert_memory_equal(s.steps[6].name, "bad\x01name\\x", 10);
    assert_int_equal(s.steps[7].command, 7);
    assert_int_equal(s.steps[7].name_len, 0);
    assert_int_equal(s.steps[8].fault.kind, SIM_FAULT_VANISH_AFTER_BYTES);
    assert_int_equal(s.steps[8].fault.arg, 1000);
    assert_int_equal(s.steps[9].fault.kind, SIM_FAULT_DELAY);
    assert_int_equal(s.steps[9].fault.arg, 250);
    assert_int_equal(s.rom_fault.kind, SIM_FAULT_STALL);
    assert_true(s.rom_reject);
    assert_int_equal(s.rom_reject_status, 5);
    assert_int_equal(s.steps[10].kind, SIM_STEP_EMPTY);
    assert_int_equal(s.steps[11].kind, SIM_STEP_DONE);
    sim_script_free(&s);
}

static void expect_error(const char *text, unsigned line, const char *fragment)
{
    sim_script s;
    char err[160] = "";
    char want[32];
    assert_int_equal(sim_script_parse(&s, text, err, sizeof err), CMBOOT_ERR_FORMAT);
    snprintf(want, sizeof want, "line %u:", line);
    assert_non_null(strstr(err, want));
    assert_non_null(strstr(err, fragment));
    assert_null(s.steps);
}

static void script_parse_errors(void **state)
{
    (void)state;
    expect_error("bogus x\n", 1, "unknown step");
    expect_error("done\nget\n", 2, "needs a file name");
    expect_error("fault vanish\n", 1, "step before it");
    expect_error("get a\nfault explode\n", 2, "bad fault");
    expect_error("get a\nfault delay\n", 2, "bad fault");
    expect_error("get a expect-sha256=abc\n", 1, "64 hex");
    expect_error("get a expect-size=-1\n", 1, "bad size");
    expect_error("get a must-exist absent\n", 1, "exclude");
    expect_error("get a colour=blue\n", 1, "unknown option");
    expect_error("raw x name\n", 1, "bad command");
    expect_error("raw 0\n", 1, "raw needs");
    expect_error("raw 0 bad\\q\n", 1, "escape");
    expect_error("done now\n", 1, "no argument");
    expect_error("rom-reject 0\n", 1, "non-zero");
    /* 257 bytes do not fit the 256-byte name field */
    char big[300] = "raw 0 ";
    memset(big + 6, 'a', 257);
    big[6 + 257] = 0;
    expect_error(big, 1, "256");
}

static void script_name_field_limits(void **state)
{
    (void)state;
    /* exactly 256 bytes: the unterminated-name case, allowed in a raw step */
    char text[300] = "raw 0 ";
    memset(text + 6, 'b', 256);
    text[6 + 256] = 0;
    sim_script s;
    char err[128];
    assert_int_equal(sim_script_parse(&s, text, err, sizeof err), CMBOOT_OK);
    assert_int_equal(s.steps[0].name_len, 256);
    sim_script_free(&s);
    /* metadata must fit 255 bytes + NUL */
    char value[260];
    memset(value, 'v', 259);
    value[259] = 0;
    sim_script_init(&s);
    assert_int_equal(sim_script_add_meta(&s, "K", value), CMBOOT_ERR_TOO_LARGE);
    assert_int_equal(sim_script_fault_last(&s, SIM_FAULT_STALL, 0), CMBOOT_ERR_INVALID_ARG);
    sim_script_free(&s);
}

static void script_defaults_per_soc(void **state)
{
    (void)state;
    sim_script s;
    assert_int_equal(sim_script_default(&s, CMBOOT_SOC_BCM2837), CMBOOT_OK);
    assert_memory_equal(s.steps[0].name, "autoboot.txt", 12);
    assert_memory_equal(s.steps[1].name, "config.txt", 10);
    bool start = false;
    for (size_t i = 0; i < s.count; i++)
        if (s.steps[i].name_len == 9 && memcmp(s.steps[i].name, "start.elf", 9) == 0)
            start = s.steps[i].must_exist;
    assert_true(start);
    assert_int_equal(s.steps[s.count - 1].kind, SIM_STEP_DONE);
    sim_script_free(&s);

    assert_int_equal(sim_script_default(&s, CMBOOT_SOC_BCM2711), CMBOOT_OK);
    assert_memory_equal(s.steps[0].name, "mcb.bin", 7);
    assert_memory_equal(s.steps[1].name, "memsys00.bin", 12);
    assert_memory_equal(s.steps[4].name, "memsys03.bin", 12);
    assert_memory_equal(s.steps[5].name, "bootmain", 8);
    assert_memory_equal(s.steps[6].name, "config.txt", 10);
    assert_memory_equal(s.steps[7].name, "boot.img", 8);
    assert_true(s.steps[7].must_exist);
    assert_int_equal(s.steps[8].kind, SIM_STEP_META);
    assert_int_equal(s.steps[s.count - 1].kind, SIM_STEP_EMPTY);
    sim_script_free(&s);
    assert_int_equal(sim_script_default(&s, CMBOOT_SOC_COUNT), CMBOOT_ERR_INVALID_ARG);
}

static void script_load_file(void **state)
{
    (void)state;
    char *dir = test_tmpdir("simscript");
    const char *text = "get start.elf\nfault short 10\ndone\n";
    test_write_file(dir, "boot.script", text, strlen(text));
    char path[4200];
    snprintf(path, sizeof path, "%s/boot.script", dir);
    sim_script s;
    char err[128];
    assert_int_equal(sim_script_load(&s, path, err, sizeof err), CMBOOT_OK);
    assert_int_equal(s.count, 2);
    assert_int_equal(s.steps[0].fault.kind, SIM_FAULT_SHORT);
    assert_int_equal(s.steps[0].fault.arg, 10);
    sim_script copy;
    assert_int_equal(sim_script_copy(&copy, &s), CMBOOT_OK);
    sim_script_free(&s);
    assert_int_equal(copy.count, 2);
    assert_int_equal(copy.steps[1].kind, SIM_STEP_DONE);
    sim_script_free(&copy);
    snprintf(path, sizeof path, "%s/missing", dir);
    assert_int_equal(sim_script_load(&s, path, err, sizeof err), CMBOOT_ERR_NOT_FOUND);
    test_rmtree(dir);
    free(dir);
}

static void fault_names_round_trip(void **state)
{
    (void)state;
    for (int k = 1; k < SIM_FAULT_COUNT; k++)
        assert_int_equal(sim_fault_by_name(sim_fault_name((sim_fault_kind)k)), k);
    assert_int_equal(sim_fault_by_name("over-long"), SIM_FAULT_OVERLONG);
    assert_int_equal(sim_fault_by_name("nonsense"), SIM_FAULT_NONE);
    char out[64];
    sim_name_printable((const uint8_t *)"a\x01/\\", 4, out, sizeof out);
    assert_string_equal(out, "a\\x01/\\x5c");
}

/* Issue 8 additions: metadata without a value, short up to the name / short N, long, KIND=ARG. */
static void script_issue8_steps_and_faults(void **state)
{
    (void)state;
    const char *text = "meta EEPROM_UPDATE\n"
                       "meta-bare JTAG_LOCKED\n"
                       "get config.txt\nfault short\n"
                       "get start.elf fault=short:3\n"
                       "get fixup.dat\nfault long\n"
                       "get x\nfault unknown-command\n";
    sim_script s;
    char err[128] = "";
    assert_int_equal(sim_script_parse(&s, text, err, sizeof err), CMBOOT_OK);
    assert_int_equal(s.count, 6);
    assert_int_equal(s.steps[0].kind, SIM_STEP_META);
    assert_int_equal(s.steps[0].name_len, strlen("*EEPROM_UPDATE*"));
    assert_memory_equal(s.steps[0].name, "*EEPROM_UPDATE*", s.steps[0].name_len);
    assert_int_equal(s.steps[1].kind, SIM_STEP_META);
    assert_int_equal(s.steps[1].name_len, strlen("*JTAG_LOCKED"));
    assert_memory_equal(s.steps[1].name, "*JTAG_LOCKED", s.steps[1].name_len);
    assert_int_equal(s.steps[2].fault.kind, SIM_FAULT_SHORT);
    assert_true(s.steps[2].fault.arg == SIM_SHORT_TO_NAME);
    assert_int_equal(s.steps[3].fault.kind, SIM_FAULT_SHORT);
    assert_int_equal(s.steps[3].fault.arg, 3);
    assert_int_equal(s.steps[4].fault.kind, SIM_FAULT_LONG);
    assert_int_equal(s.steps[5].fault.arg, 7);
    sim_script_free(&s);
    expect_error("meta-bare\n", 1, "meta-bare needs KEY");
    expect_error("meta-bare A B\n", 1, "meta-bare needs KEY");
    expect_error("meta\n", 1, "meta needs KEY");

    sim_fault f;
    assert_int_equal(sim_fault_parse("short=3", &f), CMBOOT_OK);
    assert_int_equal(f.kind, SIM_FAULT_SHORT);
    assert_int_equal(f.arg, 3);
    assert_int_equal(sim_fault_parse("short", &f), CMBOOT_OK);
    assert_true(f.arg == SIM_SHORT_TO_NAME);
    assert_int_equal(sim_fault_parse("vanish-after-bytes:100", &f), CMBOOT_OK);
    assert_int_equal(f.arg, 100);
    assert_int_equal(sim_fault_parse("vanish-after-bytes", &f), CMBOOT_ERR_FORMAT);
    assert_int_equal(sim_fault_parse("long", &f), CMBOOT_OK);
    assert_int_equal(f.kind, SIM_FAULT_LONG);
    assert_int_equal(sim_fault_parse("loud", &f), CMBOOT_ERR_FORMAT);

    sim_script_init(&s);
    assert_int_equal(sim_script_add_meta_name(&s, "NOSTAR"), CMBOOT_ERR_INVALID_ARG);
    assert_int_equal(sim_script_add_meta_name(&s, "*K"), CMBOOT_OK);
    sim_script_free(&s);
}

/* The script parser reads files: random and mutated texts end in OK or a format error, never worse. */
static void script_parse_random_texts(void **state)
{
    (void)state;
    static const char *const words[] = {"get",
                                        "read",
                                        "meta",
                                        "meta-bare",
                                        "raw",
                                        "done",
                                        "empty",
                                        "fault",
                                        "rom-fault",
                                        "rom-reject",
                                        "short",
                                        "long",
                                        "delay",
                                        "1",
                                        "0x7",
                                        "-3",
                                        "a\\x0",
                                        "\\x41",
                                        "\"\"",
                                        "must-exist",
                                        "fault=short:3",
                                        "#",
                                        "?",
                                        "expect-size=9",
                                        "vanish-after-bytes",
                                        "\t",
                                        "\n",
                                        "\r\n",
                                        " "};
    char text[2048];
    int ok = 0, bad = 0;
    for (uint32_t seed = 1; seed <= 4000; seed++) {
        uint32_t x = seed * 2654435761u;
        size_t o = 0;
        int n = 1 + (int)(x % 40);
        for (int i = 0; i < n && o + 40 < sizeof text; i++) {
            x = x * 1103515245u + 12345u;
            if (seed % 5 == 0 && (x >> 8) % 7 == 0) {
                text[o++] = (char)(1 + (x >> 16) % 255); /* a raw byte */
            } else {
                const char *w = words[(x >> 16) % (sizeof words / sizeof words[0])];
                o += (size_t)snprintf(text + o, sizeof text - o, "%s ", w);
            }
        }
        text[o] = 0;
        sim_script sc;
        char err[96];
        int rc = sim_script_parse(&sc, text, err, sizeof err);
        assert_true(rc == CMBOOT_OK || rc == CMBOOT_ERR_FORMAT || rc == CMBOOT_ERR_NO_MEMORY);
        if (rc == CMBOOT_OK) {
            ok++;
            for (size_t i = 0; i < sc.count; i++)
                assert_true(sc.steps[i].name_len <= SIM_NAME_FIELD);
        } else {
            bad++;
        }
        sim_script_free(&sc);
    }
    assert_true(ok > 0 && bad > 0); /* both ways were reached */
}

static const struct CMUnitTest tests[] = {
    cmocka_unit_test(script_parse_all_steps),
    cmocka_unit_test(script_parse_errors),
    cmocka_unit_test(script_name_field_limits),
    cmocka_unit_test(script_defaults_per_soc),
    cmocka_unit_test(script_load_file),
    cmocka_unit_test(fault_names_round_trip),
    cmocka_unit_test(script_issue8_steps_and_faults),
    cmocka_unit_test(script_parse_random_texts),
};

CMBOOT_TEST_MAIN(tests)
