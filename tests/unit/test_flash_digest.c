/* Unit tests: the flash layer's SHA-256 / SHA-1 (flash/digest.h) against published vectors and in pieces. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "flash/digest.h"

static void hex(const uint8_t *d, size_t n, char *out)
{
    for (size_t i = 0; i < n; i++)
        sprintf(out + 2 * i, "%02x", d[i]);
}

static void expect(cmb_digest_kind k, const void *p, size_t n, const char *want)
{
    cmb_digest *d = cmb_digest_new(k);
    assert_non_null(d);
    assert_true(cmb_digest_update(d, p, n));
    uint8_t out[CMB_DIGEST_MAX];
    char got[2 * CMB_DIGEST_MAX + 1];
    assert_true(cmb_digest_final(d, out));
    hex(out, cmb_digest_size(k), got);
    assert_string_equal(got, want);
    cmb_digest_free(d);
}

/* FIPS 180-2 examples: "abc" and the empty message. */
static void known_vectors(void **state)
{
    (void)state;
    expect(CMB_DIGEST_SHA256, "abc", 3, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
    expect(CMB_DIGEST_SHA256, "", 0, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
    expect(CMB_DIGEST_SHA1, "abc", 3, "a9993e364706816aba3e25717850c26c9cd0d89d");
    expect(CMB_DIGEST_SHA1, "", 0, "da39a3ee5e6b4b0d3255bfef95601890afd80709");
    assert_int_equal(cmb_digest_size(CMB_DIGEST_SHA256), 32);
    assert_int_equal(cmb_digest_size(CMB_DIGEST_SHA1), 20);
}

/* A million 'a's fed in uneven pieces gives the published digest; a reset digest starts from nothing, and may
 * change kind (the bmap writer reuses one digest per range). */
static void pieces_and_reset(void **state)
{
    (void)state;
    size_t n = 1000000;
    char *a = malloc(n);
    assert_non_null(a);
    memset(a, 'a', n);
    cmb_digest *d = cmb_digest_new(CMB_DIGEST_SHA1);
    assert_non_null(d);
    assert_true(cmb_digest_update(d, "junk", 4));
    assert_true(cmb_digest_reset(d, CMB_DIGEST_SHA256));
    size_t at = 0, step = 1;
    while (at < n) {
        size_t k = step < n - at ? step : n - at;
        assert_true(cmb_digest_update(d, a + at, k));
        at += k;
        step = step * 3 + 1;
    }
    uint8_t out[CMB_DIGEST_MAX];
    char got[2 * CMB_DIGEST_MAX + 1];
    assert_true(cmb_digest_final(d, out));
    hex(out, 32, got);
    assert_string_equal(got, "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0");
    assert_true(cmb_digest_reset(d, CMB_DIGEST_SHA1));
    assert_true(cmb_digest_update(d, a, n));
    assert_true(cmb_digest_final(d, out));
    hex(out, 20, got);
    assert_string_equal(got, "34aa973cd4c4daa4f61eeb2bdbad27316534016f");
    cmb_digest_free(d);
    cmb_digest_free(NULL);
    free(a);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(known_vectors),
        cmocka_unit_test(pieces_and_reset),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
