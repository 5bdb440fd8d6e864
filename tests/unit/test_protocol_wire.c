/* Unit tests of the wire format: lengths, boot message, file-server request parsing of hostile input. */
#include <stdint.h>
#include <string.h>

#include "cmboot/cmboot.h"
#include "testutil.h"

static void test_length_split_join(void **state)
{
    (void)state;
    uint16_t v, i;
    cmboot_wire_length_split(0x12345678, &v, &i);
    assert_int_equal(v, 0x5678);
    assert_int_equal(i, 0x1234);
    assert_int_equal(cmboot_wire_length_join(v, i), 0x12345678);
    cmboot_wire_length_split(24, &v, &i);
    assert_int_equal(v, 24);
    assert_int_equal(i, 0);
}

static void test_boot_message_roundtrip(void **state)
{
    (void)state;
    uint8_t sig[20], out[24], got[20];
    for (int k = 0; k < 20; k++)
        sig[k] = (uint8_t)(0xa0 + k);
    cmboot_boot_message_encode(out, 51234, sig);
    assert_int_equal(out[0], 51234 & 0xff);
    assert_int_equal(out[1], 51234 >> 8);
    uint32_t len = 0;
    assert_int_equal(cmboot_boot_message_decode(out, 24, &len, got), CMBOOT_OK);
    assert_int_equal(len, 51234);
    assert_memory_equal(sig, got, 20);
    cmboot_boot_message_encode(out, 1, NULL);
    for (int k = 4; k < 24; k++)
        assert_int_equal(out[k], 0);
    assert_int_equal(cmboot_boot_message_decode(out, 23, &len, got), CMBOOT_ERR_SHORT_TRANSFER);
}

static int parse(int32_t cmd, const char *name, size_t name_len, cmboot_fs_request *req)
{
    uint8_t buf[CMBOOT_FS_REQUEST_SIZE];
    cmboot_fs_request_encode(buf, cmd, name, name_len);
    return cmboot_fs_request_parse(buf, sizeof buf, req);
}

static void test_parse_file_requests(void **state)
{
    (void)state;
    cmboot_fs_request r;
    assert_int_equal(parse(0, "start.elf", 9, &r), CMBOOT_OK);
    assert_int_equal(r.kind, CMBOOT_FS_REQ_FILE);
    assert_int_equal(r.command, CMBOOT_FS_GET_FILE_SIZE);
    assert_string_equal(r.name, "start.elf");
    assert_int_equal(parse(1, "overlays/x.dtbo", 15, &r), CMBOOT_OK);
    assert_int_equal(r.command, CMBOOT_FS_READ_FILE);
    assert_int_equal(parse(2, "bye", 3, &r), CMBOOT_OK);
    assert_int_equal(r.kind, CMBOOT_FS_REQ_DONE);
    assert_string_equal(r.name, "bye");
    char junk[256];
    memset(junk, 1, sizeof junk); /* Done stays Done whatever its name; the name is not kept */
    assert_int_equal(parse(2, junk, sizeof junk, &r), CMBOOT_OK);
    assert_int_equal(r.kind, CMBOOT_FS_REQ_DONE);
    assert_int_equal(r.name_len, 0);
    assert_int_equal(parse(2, "", 0, &r), CMBOOT_OK); /* empty name comes first, as in the reference */
    assert_int_equal(r.kind, CMBOOT_FS_REQ_EMPTY);
    assert_int_equal(parse(0, "", 0, &r), CMBOOT_OK);
    assert_int_equal(r.kind, CMBOOT_FS_REQ_EMPTY);
}

static void test_parse_metadata(void **state)
{
    (void)state;
    cmboot_fs_request r;
    const char *m = "*MAC_ADDR*d8:3a:dd:05:ee:78";
    assert_int_equal(parse(0, m, strlen(m), &r), CMBOOT_OK);
    assert_int_equal(r.kind, CMBOOT_FS_REQ_METADATA);
    assert_string_equal(r.key, "MAC_ADDR");
    assert_string_equal(r.value, "d8:3a:dd:05:ee:78");
    const char *q = "*NOTE*say \"hi\" \\ there";
    assert_int_equal(parse(0, q, strlen(q), &r), CMBOOT_OK);
    assert_string_equal(r.value, "say \"hi\" \\ there");
    const char *e = "*EMPTY*";
    assert_int_equal(parse(1, e, strlen(e), &r), CMBOOT_OK); /* ReadFile of metadata too, value may be empty */
    assert_int_equal(r.kind, CMBOOT_FS_REQ_METADATA);
    assert_string_equal(r.key, "EMPTY");
    assert_string_equal(r.value, "");
}

/* Metadata that does not parse is its own kind (acknowledged by the server), never an error. */
static void test_parse_bad_metadata_is_a_kind(void **state)
{
    (void)state;
    cmboot_fs_request r;
    static const char *bad[] = {"*NOVALUE", "**x", "*BAD KEY*x", "*", "*K-EY*v", "*\xc3\xa9*v"};
    for (size_t k = 0; k < sizeof bad / sizeof bad[0]; k++) {
        assert_int_equal(parse(0, bad[k], strlen(bad[k]), &r), CMBOOT_OK);
        assert_int_equal(r.kind, CMBOOT_FS_REQ_BAD_METADATA);
        assert_string_equal(r.name, bad[k]); /* the whole text, for the log */
        assert_null(r.key);
        assert_null(r.value);
    }
    /* '*' with an unknown command is metadata too (the reference checks '*' before the command) */
    assert_int_equal(parse(9, "*K*v", 4, &r), CMBOOT_OK);
    assert_int_equal(r.kind, CMBOOT_FS_REQ_METADATA);
    assert_int_equal(r.command, 9);
    /* Done with a '*' name is Done */
    assert_int_equal(parse(2, "*K*v", 4, &r), CMBOOT_OK);
    assert_int_equal(r.kind, CMBOOT_FS_REQ_DONE);
}

static void test_parse_unknown_command_is_a_kind(void **state)
{
    (void)state;
    cmboot_fs_request r;
    static const int32_t cmds[] = {3, -1, 0x7fffffff, INT32_MIN};
    for (size_t k = 0; k < sizeof cmds / sizeof cmds[0]; k++) {
        assert_int_equal(parse(cmds[k], "x", 1, &r), CMBOOT_OK);
        assert_int_equal(r.kind, CMBOOT_FS_REQ_UNKNOWN);
        assert_int_equal(r.command, cmds[k]);
        assert_string_equal(r.name, "x");
    }
    /* an empty name ends serving whatever the command */
    assert_int_equal(parse(7, "", 0, &r), CMBOOT_OK);
    assert_int_equal(r.kind, CMBOOT_FS_REQ_EMPTY);
    assert_int_equal(parse(1, "", 0, &r), CMBOOT_OK);
    assert_int_equal(r.kind, CMBOOT_FS_REQ_EMPTY);
    assert_int_equal(parse(2, "", 0, &r), CMBOOT_OK);
    assert_int_equal(r.kind, CMBOOT_FS_REQ_EMPTY);
    /* unknown command with a garbage name: the name is still refused */
    assert_int_equal(parse(5, "a\nb", 3, &r), CMBOOT_ERR_UNSAFE_NAME);
    assert_int_equal(r.command, 5);
}

/* 4..260 bytes are a request (Imager's rule): the name ends where the data ends. */
static void test_parse_short_and_long(void **state)
{
    (void)state;
    uint8_t buf[CMBOOT_FS_REQUEST_SIZE + 8];
    memset(buf, 0xee, sizeof buf); /* bytes past len must never be read */
    cmboot_fs_request r;
    assert_int_equal(cmboot_fs_request_parse(buf, 0, &r), CMBOOT_ERR_SHORT_TRANSFER);
    assert_int_equal(cmboot_fs_request_parse(buf, 3, &r), CMBOOT_ERR_SHORT_TRANSFER);
    assert_int_equal(cmboot_fs_request_parse(buf, 261, &r), CMBOOT_ERR_OVERFLOW);
    /* command only: empty name */
    buf[0] = 1;
    buf[1] = buf[2] = buf[3] = 0;
    assert_int_equal(cmboot_fs_request_parse(buf, 4, &r), CMBOOT_OK);
    assert_int_equal(r.kind, CMBOOT_FS_REQ_EMPTY);
    assert_int_equal(r.command, CMBOOT_FS_READ_FILE);
    /* name cut by the end of the data, no NUL sent */
    memcpy(buf + 4, "start.elf", 9);
    assert_int_equal(cmboot_fs_request_parse(buf, 13, &r), CMBOOT_OK);
    assert_int_equal(r.kind, CMBOOT_FS_REQ_FILE);
    assert_string_equal(r.name, "start.elf");
    assert_int_equal(r.name_len, 9);
    assert_int_equal(cmboot_fs_request_parse(buf, 8, &r), CMBOOT_OK);
    assert_string_equal(r.name, "star");
    /* 255 name bytes in a 259-byte reply: terminated by the missing last byte */
    memset(buf + 4, 'A', 255);
    assert_int_equal(cmboot_fs_request_parse(buf, 259, &r), CMBOOT_OK);
    assert_int_equal(r.name_len, 255);
    /* all 260 bytes with 256 name bytes: unterminated */
    memset(buf + 4, 'A', 256);
    assert_int_equal(cmboot_fs_request_parse(buf, 260, &r), CMBOOT_ERR_UNSAFE_NAME);
}

static void test_parse_rejects_unterminated_and_control(void **state)
{
    (void)state;
    cmboot_fs_request r;
    char name[256];
    memset(name, 'A', sizeof name);
    assert_int_equal(parse(1, name, 256, &r), CMBOOT_ERR_UNSAFE_NAME);
    assert_int_equal(parse(1, name, 255, &r), CMBOOT_OK); /* 255 + NUL fits the field */
    assert_int_equal(r.name_len, 255);
    assert_int_equal(parse(1, "a\nb", 3, &r), CMBOOT_ERR_UNSAFE_NAME);
    assert_int_equal(parse(1, "a\033[2Jb", 6, &r), CMBOOT_ERR_UNSAFE_NAME);
    assert_int_equal(parse(1, "a\x7f", 2, &r), CMBOOT_ERR_UNSAFE_NAME);
}

static const struct CMUnitTest tests[] = {
    cmocka_unit_test(test_length_split_join),
    cmocka_unit_test(test_boot_message_roundtrip),
    cmocka_unit_test(test_parse_file_requests),
    cmocka_unit_test(test_parse_metadata),
    cmocka_unit_test(test_parse_bad_metadata_is_a_kind),
    cmocka_unit_test(test_parse_unknown_command_is_a_kind),
    cmocka_unit_test(test_parse_short_and_long),
    cmocka_unit_test(test_parse_rejects_unterminated_and_control),
};
CMBOOT_TEST_MAIN(tests)
