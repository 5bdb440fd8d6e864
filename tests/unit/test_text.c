/* Unit tests of device-string escaping: hostile byte strings in, valid UTF-8 and terminal-safe text out. */
#include <json-c/json.h>
#include <stdlib.h>
#include <string.h>

#include "cmboot/text.h"
#include "testutil.h"
#include "text_check.h"

/* Byte strings a board (or a file name) can carry, each with what cmboot_text_utf8 must make of it. */
static const struct {
    const char *in, *utf8;
    bool changed;
} vectors[] = {
    {"plain ASCII 123", "plain ASCII 123", false},
    {"caf\xc3\xa9 \xe6\x97\xa5\xe6\x9c\xac \xf0\x9f\x98\x80", "caf\xc3\xa9 \xe6\x97\xa5\xe6\x9c\xac \xf0\x9f\x98\x80",
     false},
    {"\xff\xfe", "\\xff\\xfe", true},                            /* never UTF-8 */
    {"a\x80z", "a\\x80z", true},                                 /* stray continuation */
    {"\xc0\xaf", "\\xc0\\xaf", true},                            /* overlong '/' */
    {"\xe0\x80\xaf", "\\xe0\\x80\\xaf", true},                   /* overlong, 3 bytes */
    {"\xed\xa0\x80", "\\xed\\xa0\\x80", true},                   /* surrogate U+D800 */
    {"\xf4\x90\x80\x80", "\\xf4\\x90\\x80\\x80", true},          /* past U+10FFFF */
    {"\xf8\x88\x80\x80\x80", "\\xf8\\x88\\x80\\x80\\x80", true}, /* 5-byte form */
    {"end\xe2\x82", "end\\xe2\\x82", true},                      /* truncated at the end */
    {"\xe2\x82x", "\\xe2\\x82x", true},                          /* truncated mid-string */
    {"\xc2\x9b"
     "31m",
     "\xc2\x9b"
     "31m",
     false}, /* C1 CSI is valid UTF-8: kept here */
};

static void text_utf8_hostile_bytes_escaped(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof vectors / sizeof vectors[0]; i++) {
        bool changed = !vectors[i].changed;
        char *out = cmboot_text_utf8(vectors[i].in, &changed);
        assert_non_null(out);
        assert_string_equal(out, vectors[i].utf8);
        assert_int_equal(changed, vectors[i].changed);
        assert_true(text_utf8_valid(out));
        free(out);
    }
    char *out = cmboot_text_utf8(NULL, NULL);
    assert_string_equal(out, "");
    free(out);
}

static void text_terminal_controls_visible(void **state)
{
    (void)state;
    /* ESC[2J, C1 CSI, NEL, RLO ... PDF, LRI, FSI, ALM, LRM, RLM, U+2028, a newline, DEL, invalid bytes */
    const char *hostile = "x\x1b[2J\xc2\x9b"
                          "31m\xc2\x85\xe2\x80\xae"
                          "gpj.exe\xe2\x80\xac\xe2\x81\xa6\xe2\x81\xa8"
                          "\xd8\x9c\xe2\x80\x8e\xe2\x80\x8f\xe2\x80\xa8\n\x7f\xff"
                          "caf\xc3\xa9";
    bool changed = false;
    char *out = cmboot_text_terminal(hostile, &changed);
    assert_non_null(out);
    assert_true(changed);
    assert_true(text_utf8_valid(out));
    assert_false(text_has_raw_hazard(out));
    for (const char *p = out; *p; p++)
        assert_true((unsigned char)*p >= 0x20 && *p != 0x7f);
    assert_non_null(strstr(out, "\\x1b[2J"));
    assert_non_null(strstr(out, "\\u{009B}31m"));
    assert_non_null(strstr(out, "\\u{202E}gpj.exe\\u{202C}"));
    assert_non_null(strstr(out, "\\u{2066}\\u{2068}\\u{061C}\\u{200E}\\u{200F}\\u{2028}\\x0a\\x7f\\xff"));
    assert_non_null(strstr(out, "caf\xc3\xa9")); /* ordinary non-ASCII stays readable */
    free(out);
    out = cmboot_text_terminal("ordinary 1-1.3 caf\xc3\xa9", &changed);
    assert_false(changed);
    assert_string_equal(out, "ordinary 1-1.3 caf\xc3\xa9");
    free(out);
}

static void text_json_same_value_safe_bytes(void **state)
{
    (void)state;
    /* json-c writes these bytes raw: a C1, a bidi override and an invalid byte inside a string value */
    json_object *o = json_object_new_object();
    json_object_object_add(o, "k",
                           json_object_new_string("a\xc2\x9b"
                                                  "b\xe2\x80\xae"
                                                  "c\xff"
                                                  "d\\x"));
    const char *raw = json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN);
    assert_false(text_utf8_valid(raw));
    bool changed = false;
    char *safe = cmboot_text_json(raw, &changed);
    assert_true(changed);
    assert_true(text_utf8_valid(safe));
    assert_false(text_has_raw_hazard(safe));
    /* a strict, UTF-8 validating parser takes it, and the value is the one cmboot_text_utf8 gives */
    json_tokener *tok = json_tokener_new();
    json_tokener_set_flags(tok, JSON_TOKENER_STRICT | JSON_TOKENER_VALIDATE_UTF8);
    json_object *back = json_tokener_parse_ex(tok, safe, (int)strlen(safe));
    assert_non_null(back);
    json_object *v;
    assert_true(json_object_object_get_ex(back, "k", &v));
    char *expect = cmboot_text_utf8("a\xc2\x9b"
                                    "b\xe2\x80\xae"
                                    "c\xff"
                                    "d\\x",
                                    NULL);
    assert_string_equal(json_object_get_string(v), expect);
    free(expect);
    json_object_put(back);
    json_tokener_free(tok);
    free(safe);
    /* valid text with no hazard comes back byte for byte, unchanged */
    safe = cmboot_text_json("{\"a\":\"caf\xc3\xa9\"}", &changed);
    assert_false(changed);
    assert_string_equal(safe, "{\"a\":\"caf\xc3\xa9\"}");
    free(safe);
    json_object_put(o);
}

static const struct CMUnitTest tests[] = {
    cmocka_unit_test(text_utf8_hostile_bytes_escaped),
    cmocka_unit_test(text_terminal_controls_visible),
    cmocka_unit_test(text_json_same_value_safe_bytes),
};
CMBOOT_TEST_MAIN(tests)
