/* Unit tests of metadata: JSON escaping through json-c, C40 FACTORY_UUID vectors, safe file naming. */
#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cmboot/cmboot.h"
#include "testutil.h"

/* Independent C40 encoder for the vectors: three values per half-word, h = v1*1600 + v2*40 + v3 + 1. */
static unsigned c40_val(char c)
{
    return c >= '0' && c <= '9' ? (unsigned)(c - '0' + 4) : (unsigned)(c - 'A' + 14);
}

static void encode_c40(const char *text, char *out, size_t size)
{
    size_t n = strlen(text), pos = 0;
    out[0] = 0;
    for (size_t i = 0; i < n; i += 6) {
        unsigned half[2] = {0, 0};
        for (int h = 0; h < 2 && i + 3 * (size_t)h < n; h++) {
            const char *t = text + i + 3 * h;
            half[h] = c40_val(t[0]) * 1600 + c40_val(t[1]) * 40 + c40_val(t[2]) + 1;
        }
        pos += (size_t)snprintf(out + pos, size - pos, "%s%08x", pos ? "_" : "", half[1] << 16 | half[0]);
    }
}

static void test_c40_vectors(void **state)
{
    (void)state;
    char enc[256], dec[128];
    const char *vectors[] = {"AB1", "7F3K9Q", "ZZZ000", "0123456789AB", "CM4SERIAL123"};
    for (size_t i = 0; i < sizeof vectors / sizeof vectors[0]; i++) {
        encode_c40(vectors[i], enc, sizeof enc);
        assert_int_equal(cmboot_c40_decode(enc, dec, sizeof dec), CMBOOT_OK);
        assert_string_equal(dec, vectors[i]);
    }
    /* hand-checked: "AB1" -> 14*1600 + 15*40 + 5 + 1 = 23006 = 0x59de */
    assert_int_equal(cmboot_c40_decode("000059de", dec, sizeof dec), CMBOOT_OK);
    assert_string_equal(dec, "AB1");
    /* a zero word ends the list */
    assert_int_equal(cmboot_c40_decode("000059de_00000000_000059de", dec, sizeof dec), CMBOOT_OK);
    assert_string_equal(dec, "AB1");
}

static void test_c40_rejects_garbage(void **state)
{
    (void)state;
    char dec[8];
    assert_int_equal(cmboot_c40_decode("xyz", dec, sizeof dec), CMBOOT_ERR_FORMAT);
    assert_int_equal(cmboot_c40_decode("123456789", dec, sizeof dec), CMBOOT_ERR_FORMAT);
    assert_int_equal(cmboot_c40_decode("59de;rm", dec, sizeof dec), CMBOOT_ERR_FORMAT);
    /* values outside '0'..'9' / 'A'..'Z' (shift 0..3, 40+) make the value undecodable, as in the reference,
     * instead of silently shortening it: 1 = values 0,0,0; 0xfa01 -> first value 40 */
    assert_int_equal(cmboot_c40_decode("00000001", dec, sizeof dec), CMBOOT_ERR_FORMAT);
    assert_int_equal(cmboot_c40_decode("0000fa01", dec, sizeof dec), CMBOOT_ERR_FORMAT);
    /* a word whose low half is 0 but high half is not */
    assert_int_equal(cmboot_c40_decode("59de0000", dec, sizeof dec), CMBOOT_ERR_FORMAT);
    /* output bound respected */
    char enc[64];
    encode_c40("ABCDEFGHIJKL", enc, sizeof enc);
    assert_int_equal(cmboot_c40_decode(enc, dec, sizeof dec), CMBOOT_ERR_TOO_LARGE);
}

static void test_metadata_json_escaping(void **state)
{
    (void)state;
    cmboot_metadata *md;
    assert_int_equal(cmboot_metadata_new(&md), CMBOOT_OK);
    assert_int_equal(cmboot_metadata_set(md, "MAC_ADDR", "d8:3a:dd:05:ee:78"), CMBOOT_OK);
    assert_int_equal(cmboot_metadata_set(md, "EVIL", "\"},{\"x\":\"\\"), CMBOOT_OK);
    assert_int_equal(cmboot_metadata_set(md, "FACTORY_UUID", "000059de"), CMBOOT_OK);
    char *json;
    assert_int_equal(cmboot_metadata_to_json(md, &json), CMBOOT_OK);
    json_object *o = json_tokener_parse(json);
    assert_non_null(o);
    json_object *v;
    assert_true(json_object_object_get_ex(o, "EVIL", &v));
    assert_string_equal(json_object_get_string(v), "\"},{\"x\":\"\\");
    assert_true(json_object_object_get_ex(o, "FACTORY_UUID", &v));
    assert_string_equal(json_object_get_string(v), "AB1");
    assert_true(json_object_object_get_ex(o, "MAC_ADDR", &v));
    assert_int_equal(json_object_object_length(o), 4); /* + FACTORY_UUID_RAW */
    json_object_put(o);
    free(json);
    cmboot_metadata_free(md);
}

static void test_metadata_bounds(void **state)
{
    (void)state;
    cmboot_metadata *md;
    assert_int_equal(cmboot_metadata_new(&md), CMBOOT_OK);
    char key[16];
    int rc = CMBOOT_OK, n = 0;
    while (rc == CMBOOT_OK && n < 1000) {
        snprintf(key, sizeof key, "K%d", n++);
        rc = cmboot_metadata_set(md, key, "v");
    }
    assert_int_equal(rc, CMBOOT_ERR_TOO_LARGE);
    assert_true(n < 1000);
    assert_int_equal(cmboot_metadata_set(md, "K0", "replaced"), CMBOOT_OK); /* existing key still updatable */
    char big[400];
    memset(big, 'x', sizeof big - 1);
    big[sizeof big - 1] = 0;
    assert_int_equal(cmboot_metadata_set(md, "K1", big), CMBOOT_ERR_TOO_LARGE);
    cmboot_metadata_free(md);
}

static void test_metadata_write_file(void **state)
{
    (void)state;
    char *dir = test_tmpdir("md");
    cmboot_metadata *md;
    assert_int_equal(cmboot_metadata_new(&md), CMBOOT_OK);
    assert_int_equal(cmboot_metadata_set(md, "BOOT_ROM", "0x1234"), CMBOOT_OK);
    char path[4096];
    assert_int_equal(cmboot_metadata_write(md, dir, "af04b2da", path, sizeof path), CMBOOT_OK);
    json_object *o = json_object_from_file(path);
    assert_non_null(o);
    json_object *v;
    assert_true(json_object_object_get_ex(o, "BOOT_ROM", &v));
    json_object_put(o);
    assert_non_null(strstr(path, "/af04b2da.json"));
    /* serials come from the device: nothing that names another place */
    assert_int_equal(cmboot_metadata_write(md, dir, "../evil", path, sizeof path), CMBOOT_ERR_UNSAFE_NAME);
    assert_int_equal(cmboot_metadata_write(md, dir, "a/b", path, sizeof path), CMBOOT_ERR_UNSAFE_NAME);
    assert_int_equal(cmboot_metadata_write(md, dir, ".hidden", path, sizeof path), CMBOOT_ERR_UNSAFE_NAME);
    cmboot_metadata_free(md);
    test_rmtree(dir);
    free(dir);
}

static const struct CMUnitTest tests[] = {
    cmocka_unit_test(test_c40_vectors),
    cmocka_unit_test(test_c40_rejects_garbage),
    cmocka_unit_test(test_metadata_json_escaping),
    cmocka_unit_test(test_metadata_bounds),
    cmocka_unit_test(test_metadata_write_file),
};
CMBOOT_TEST_MAIN(tests)
