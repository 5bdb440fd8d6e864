/* Flash report: the JSON document carries identity, image, bytes, phases and result. */
#include "testutil.h"

#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cmboot/error.h"
#include "cmboot/flash.h"
#include "text_check.h"

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
    cmboot_flash_result_default(&res);
    res.image_size = 1000;
    res.bytes_written = 900;
    res.bytes_verified = 900;
    res.verified = true;
    res.image_sha256_valid = true;
    memset(res.image_sha256, 0xab, 32);
    res.write_ms = 1234;
    snprintf(res.format, sizeof res.format, "xz");
    cmboot_flash_report rep = {sizeof rep,
                               "10000000abcdef",
                               "1-1.3",
                               "BCM2711",
                               "{\"MAC_ADDR\":\"dc:a6:32:01:02:03\"}",
                               "os.img.xz",
                               NULL,
                               "/dev/sdb",
                               3000,
                               250,
                               &res};
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
    cmboot_flash_result_default(&res);
    res.error = CMBOOT_ERR_VERIFY;
    res.fail_offset = 4097;
    res.fail_offset_valid = true;
    snprintf(res.reason, sizeof res.reason, "the target differs at offset 4097");
    cmboot_flash_report rep = {sizeof rep, NULL, NULL, NULL, "not json", "a \"quoted\" name.img",
                               NULL,       "t",  -1,   -1,   &res};
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

static bool listed(json_object *arr, const char *name)
{
    for (size_t i = 0; i < json_object_array_length(arr); i++)
        if (strcmp(json_object_get_string(json_object_array_get_idx(arr, i)), name) == 0)
            return true;
    return false;
}

static void report_hostile_strings_valid_utf8(void **state)
{
    (void)state;
    cmboot_flash_result res;
    cmboot_flash_result_default(&res);
    res.error = CMBOOT_OK;
    snprintf(res.format, sizeof res.format, "raw");
    /* serial with invalid bytes, product-like soc with a C1 CSI, metadata with a bidi override and an
     * invalid byte (as a caller could hand over unchecked), an image name with a truncated sequence */
    cmboot_flash_report rep = {sizeof rep,
                               "10\xff\xfe"
                               "00",
                               "1-1.3",
                               "BCM\xc2\x9b"
                               "2711",
                               "{\"MAC_ADDR\":\"dc\xe2\x80\xae"
                               "a6\xc3\"}",
                               "os\xe2\x82.img",
                               NULL,
                               "/dev/sdb",
                               -1,
                               -1,
                               &res};
    char *text = NULL;
    assert_int_equal(cmboot_flash_report_json(&rep, &text), CMBOOT_OK);
    assert_true(text_utf8_valid(text));
    assert_false(text_has_raw_hazard(text));
    json_tokener *tok = json_tokener_new();
    json_tokener_set_flags(tok, JSON_TOKENER_STRICT | JSON_TOKENER_VALIDATE_UTF8);
    json_object *o = json_tokener_parse_ex(tok, text, (int)strlen(text));
    json_tokener_free(tok);
    assert_non_null(o);
    assert_string_equal(json_object_get_string(field(o, "serial")), "10\\xff\\xfe00");
    assert_string_equal(json_object_get_string(field(o, "soc")), "BCM\xc2\x9b"
                                                                 "2711"); /* kept, as \u009b */
    assert_string_equal(json_object_get_string(field(o, "image")), "os\\xe2\\x82.img");
    assert_string_equal(json_object_get_string(field(field(o, "metadata"), "MAC_ADDR")), "dc\xe2\x80\xae"
                                                                                         "a6\\xc3");
    json_object *san = field(o, "sanitized");
    assert_true(listed(san, "serial"));
    assert_true(listed(san, "image"));
    assert_true(listed(san, "metadata"));
    assert_false(listed(san, "soc"));
    assert_false(listed(san, "target"));
    json_object_put(o);
    free(text);
    /* a clean report says so with an empty list */
    cmboot_flash_report clean = {sizeof clean, "100000001234", "1-1.3", "BCM2711", NULL, "os.img",
                                 NULL,         "/dev/sdb",     -1,      -1,        &res};
    assert_int_equal(cmboot_flash_report_json(&clean, &text), CMBOOT_OK);
    o = json_tokener_parse(text);
    assert_int_equal(json_object_array_length(field(o, "sanitized")), 0);
    json_object_put(o);
    free(text);
}

/* The report's disk_state for a result. */
static char *state_of(const cmboot_flash_result *res, char **detail)
{
    cmboot_flash_report rep = {sizeof rep, NULL, NULL, NULL, NULL, "i.img", NULL, "t", -1, -1, res};
    char *text = NULL;
    assert_int_equal(cmboot_flash_report_json(&rep, &text), CMBOOT_OK);
    json_object *o = json_tokener_parse(text);
    assert_non_null(o);
    char *state = strdup(json_object_get_string(field(o, "disk_state")));
    *detail = strdup(json_object_get_string(field(o, "disk")));
    json_object_put(o);
    free(text);
    return state;
}

static void report_stopped_write_states_disk(void **state)
{
    (void)state;
    struct {
        int error;
        uint64_t written, verified_bytes;
        bool sha, verified;
        const char *state, *detail;
    } cases[] = {
        {CMBOOT_ERR_CANCELLED, 0, 0, false, false, "unchanged", "nothing was written"},
        {CMBOOT_ERR_CANCELLED, 8388608, 0, false, false, "partial", "8388608 bytes of the image were written"},
        {CMBOOT_ERR_IO, 4096, 0, false, false, "partial", "neither its old contents nor a usable image"},
        {CMBOOT_ERR_CANCELLED, 1000000, 4096, true, false, "unverified", "verification stopped after 4096"},
        {CMBOOT_ERR_VERIFY, 1000000, 4096, true, false, "mismatch", "does not read back as the image"},
        {CMBOOT_OK, 1000000, 1000000, true, true, "verified", "read back identical"},
        {CMBOOT_OK, 1000000, 0, true, false, "written", "not read back"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        cmboot_flash_result res;
        cmboot_flash_result_default(&res);
        res.error = cases[i].error;
        res.bytes_written = cases[i].written;
        res.bytes_verified = cases[i].verified_bytes;
        res.image_sha256_valid = cases[i].sha;
        res.verified = cases[i].verified;
        snprintf(res.reason, sizeof res.reason, "interrupted");
        char *detail = NULL;
        char *st = state_of(&res, &detail);
        assert_string_equal(st, cases[i].state);
        assert_non_null(strstr(detail, cases[i].detail));
        free(st);
        free(detail);
    }
}

static const struct CMUnitTest tests[] = {
    cmocka_unit_test(report_ok),
    cmocka_unit_test(report_failure_names_offset),
    cmocka_unit_test(report_hostile_strings_valid_utf8),
    cmocka_unit_test(report_stopped_write_states_disk),
};

CMBOOT_TEST_MAIN(tests)
