/* Unit tests of the wire format: lengths, boot message, file-server request parsing of hostile input. */
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
    assert_int_equal(parse(2, "", 0, &r), CMBOOT_OK);
    assert_int_equal(r.kind, CMBOOT_FS_REQ_DONE);
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
    assert_int_equal(parse(0, "*NOVALUE", 8, &r), CMBOOT_ERR_PROTOCOL);
    assert_int_equal(parse(0, "**x", 3, &r), CMBOOT_ERR_PROTOCOL);
    assert_int_equal(parse(0, "*BAD KEY*x", 10, &r), CMBOOT_ERR_PROTOCOL);
}

static void test_parse_rejects_unknown_command(void **state)
{
    (void)state;
    cmboot_fs_request r;
    assert_int_equal(parse(3, "x", 1, &r), CMBOOT_ERR_PROTOCOL);
    assert_int_equal(parse(-1, "x", 1, &r), CMBOOT_ERR_PROTOCOL);
    assert_int_equal(parse(0x7fffffff, "x", 1, &r), CMBOOT_ERR_PROTOCOL);
}

static void test_parse_rejects_short_and_long(void **state)
{
    (void)state;
    uint8_t buf[CMBOOT_FS_REQUEST_SIZE + 8] = {0};
    cmboot_fs_request r;
    assert_int_equal(cmboot_fs_request_parse(buf, 3, &r), CMBOOT_ERR_SHORT_TRANSFER);
    assert_int_equal(cmboot_fs_request_parse(buf, 259, &r), CMBOOT_ERR_SHORT_TRANSFER);
    assert_int_equal(cmboot_fs_request_parse(buf, 261, &r), CMBOOT_ERR_OVERFLOW);
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
    cmocka_unit_test(test_parse_rejects_unknown_command),
    cmocka_unit_test(test_parse_rejects_short_and_long),
    cmocka_unit_test(test_parse_rejects_unterminated_and_control),
};
CMBOOT_TEST_MAIN(tests)
