/* Flash report: the JSON document carries identity, image, bytes, phases and result. */
#include "testutil.h"

#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cmboot/error.h"
#include "cmboot/flash.h"

static json_object *field(json_object *o, const char *key)
{
    json_object *v = NULL;
    assert_true(json_object_object_get_ex(o, key, &v));
    return v;
}

static void report_ok(void **state)
{
    (void)state;
    cmboot_flash_result res;
    memset(&res, 0, sizeof res);
    res.image_size = 1000;
    res.bytes_written = 900;
    res.bytes_verified = 900;
    res.verified = true;
    res.image_sha256_valid = true;
    memset(res.image_sha256, 0xab, 32);
    res.phase_ms[CMBOOT_FLASH_PHASE_WRITE] = 1234;
    snprintf(res.format, sizeof res.format, "xz");
    cmboot_flash_report rep = {"10000000abcdef", "1-1.3", "BCM2711", "{\"MAC_ADDR\":\"dc:a6:32:01:02:03\"}",
                               "os.img.xz", NULL, "/dev/sdb", 3000, 250, &res};
    char *text = NULL;
    assert_int_equal(cmboot_flash_report_json(&rep, &text), CMBOOT_OK);
    json_object *o = json_tokener_parse(text);
    assert_non_null(o);
    assert_string_equal(json_object_get_string(field(o, "serial")), "10000000abcdef");
    assert_string_equal(json_object_get_string(field(o, "port_path")), "1-1.3");
    assert_string_equal(json_object_get_string(field(o, "soc")), "BCM2711");
    assert_string_equal(json_object_get_string(field(field(o, "metadata"), "MAC_ADDR")), "dc:a6:32:01:02:03");
    assert_string_equal(json_object_get_string(field(o, "image")), "os.img.xz");
    char hex[65];
    memset(hex, 0, sizeof hex);
    for (int i = 0; i < 32; i++)
        memcpy(hex + 2 * i, "ab", 2);
    assert_string_equal(json_object_get_string(field(o, "image_sha256")), hex);
    assert_int_equal(json_object_get_int64(field(o, "bytes_written")), 900);
    assert_int_equal(json_object_get_int64(field(field(o, "phases"), "write_ms")), 1234);
    assert_int_equal(json_object_get_int64(field(field(o, "phases"), "boot_ms")), 3000);
    assert_int_equal(json_object_get_int64(field(field(o, "phases"), "pair_ms")), 250);
    assert_string_equal(json_object_get_string(field(o, "result")), "ok");
    assert_true(json_object_get_boolean(field(o, "verified")));
    json_object_put(o);
    free(text);
}

static void report_failure_names_offset(void **state)
{
    (void)state;
    cmboot_flash_result res;
    memset(&res, 0, sizeof res);
    res.error = CMBOOT_ERR_VERIFY;
    res.fail_offset = 4097;
    res.fail_offset_valid = true;
    snprintf(res.reason, sizeof res.reason, "the target differs at offset 4097");
    cmboot_flash_report rep = {NULL, NULL, NULL, "not json", "a \"quoted\" name.img", NULL, "t", -1, -1, &res};
    char *text = NULL;
    assert_int_equal(cmboot_flash_report_json(&rep, &text), CMBOOT_OK);
    json_object *o = json_tokener_parse(text);
    assert_non_null(o);
    assert_string_equal(json_object_get_string(field(o, "image")), "a \"quoted\" name.img");
    assert_string_not_equal(json_object_get_string(field(o, "result")), "ok");
    assert_int_equal(json_object_get_int64(field(o, "fail_offset")), 4097);
    assert_non_null(strstr(json_object_get_string(field(o, "reason")), "4097"));
    assert_true(json_object_is_type(field(o, "serial"), json_type_null));
    json_object *ph = field(o, "phases");
    json_object *v = NULL;
    assert_false(json_object_object_get_ex(ph, "boot_ms", &v));
    json_object_put(o);
    free(text);
}

static const struct CMUnitTest tests[] = {
    cmocka_unit_test(report_ok),
    cmocka_unit_test(report_failure_names_offset),
};

CMBOOT_TEST_MAIN(tests)
