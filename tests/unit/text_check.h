/* Test-side checks of output text, written apart from the library's escaper: UTF-8 validity, raw hazards. */
#ifndef CMBOOT_TEST_TEXT_CHECK_H
#define CMBOOT_TEST_TEXT_CHECK_H
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

/* Decodes by code point and range (Unicode 15, table 3-7 rules stated as value bounds). */
static inline bool text_utf8_valid(const char *s)
{
    const unsigned char *p = (const unsigned char *)s;
    while (*p) {
        uint32_t cp;
        int extra;
        uint32_t min;
        if (*p < 0x80) {
            p++;
            continue;
        } else if ((*p & 0xe0) == 0xc0) {
            cp = *p & 0x1f, extra = 1, min = 0x80;
        } else if ((*p & 0xf0) == 0xe0) {
            cp = *p & 0x0f, extra = 2, min = 0x800;
        } else if ((*p & 0xf8) == 0xf0) {
            cp = *p & 0x07, extra = 3, min = 0x10000;
        } else {
            return false;
        }
        for (int i = 1; i <= extra; i++) {
            if ((p[i] & 0xc0) != 0x80)
                return false;
            cp = cp << 6 | (p[i] & 0x3f);
        }
        if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
            return false;
        p += extra + 1;
    }
    return true;
}

/* A raw C1 control or bidi/line-separator character in s (as UTF-8 bytes). */
static inline bool text_has_raw_hazard(const char *s)
{
    static const char *const seqs[] = {"\xc2\x80",     "\xc2\x85",     "\xc2\x9b",     "\xc2\x9d",     "\xc2\x9f",
                                       "\xd8\x9c",     "\xe2\x80\x8e", "\xe2\x80\x8f", "\xe2\x80\xaa", "\xe2\x80\xab",
                                       "\xe2\x80\xac", "\xe2\x80\xad", "\xe2\x80\xae", "\xe2\x81\xa6", "\xe2\x81\xa7",
                                       "\xe2\x81\xa8", "\xe2\x81\xa9", "\xe2\x80\xa8"};
    for (size_t i = 0; i < sizeof seqs / sizeof seqs[0]; i++)
        if (strstr(s, seqs[i]))
            return true;
    /* any C1 at all */
    for (const unsigned char *p = (const unsigned char *)s; *p; p++)
        if (p[0] == 0xc2 && p[1] >= 0x80 && p[1] <= 0x9f)
            return true;
    return false;
}

/* A C0 control other than newline (ESC above all), or DEL, in s. */
static inline bool text_has_raw_c0(const char *s)
{
    for (const unsigned char *p = (const unsigned char *)s; *p; p++)
        if ((*p < 0x20 && *p != '\n') || *p == 0x7f)
            return true;
    return false;
}
#endif
