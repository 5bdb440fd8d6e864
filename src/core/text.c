/* Escaping of device-supplied text: valid UTF-8 for JSON readers, nothing a terminal would act on. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cmboot/text.h"

/* Length of the well-formed UTF-8 sequence at p (RFC 3629 table), 0 if the byte there starts none. */
static size_t utf8_seq(const unsigned char *p, uint32_t *cp)
{
    unsigned char c = p[0];
    if (c < 0x80) {
        *cp = c;
        return 1;
    }
    size_t n;
    unsigned char lo = 0x80, hi = 0xbf;
    if (c >= 0xc2 && c <= 0xdf)
        n = 2;
    else if (c >= 0xe0 && c <= 0xef) {
        n = 3;
        if (c == 0xe0)
            lo = 0xa0; /* overlong */
        else if (c == 0xed)
            hi = 0x9f; /* surrogates */
    } else if (c >= 0xf0 && c <= 0xf4) {
        n = 4;
        if (c == 0xf0)
            lo = 0x90; /* overlong */
        else if (c == 0xf4)
            hi = 0x8f; /* past U+10FFFF */
    } else {
        return 0;
    }
    /* The terminating NUL is no continuation byte, so this never reads past the string. */
    if (p[1] < lo || p[1] > hi)
        return 0;
    for (size_t i = 2; i < n; i++)
        if (p[i] < 0x80 || p[i] > 0xbf)
            return 0;
    uint32_t v = c & (0x7f >> n);
    for (size_t i = 1; i < n; i++)
        v = v << 6 | (p[i] & 0x3f);
    *cp = v;
    return n;
}

/* Characters that make a terminal or a text viewer misdraw what follows. */
static int is_hazard(uint32_t cp)
{
    return (cp >= 0x80 && cp <= 0x9f) || cp == 0x061c || cp == 0x200e || cp == 0x200f ||
           (cp >= 0x202a && cp <= 0x202e) || (cp >= 0x2066 && cp <= 0x2069) || cp == 0x2028 || cp == 0x2029;
}

enum mode { MODE_UTF8, MODE_TERMINAL, MODE_JSON };

static char *escape(const char *s, enum mode mode, bool *changed)
{
    if (changed)
        *changed = false;
    if (!s)
        s = "";
    size_t len = strlen(s);
    /* Worst case: one byte becomes "\\xNN" (5), two bytes become "\u{0085}" (8). */
    if (len > (SIZE_MAX - 1) / 5)
        return NULL;
    char *out = malloc(len * 5 + 1);
    if (!out)
        return NULL;
    const unsigned char *p = (const unsigned char *)s;
    size_t o = 0;
    bool esc = false;
    while (*p) {
        uint32_t cp = 0;
        size_t n = utf8_seq(p, &cp);
        if (n == 0) {
            o += (size_t)sprintf(out + o, mode == MODE_JSON ? "\\\\x%02x" : "\\x%02x", *p);
            esc = true;
            p++;
            continue;
        }
        if (mode == MODE_TERMINAL && (cp < 0x20 || cp == 0x7f)) {
            o += (size_t)sprintf(out + o, "\\x%02x", (unsigned)cp);
            esc = true;
        } else if (mode != MODE_UTF8 && is_hazard(cp)) {
            o += (size_t)sprintf(out + o, mode == MODE_JSON ? "\\u%04x" : "\\u{%04X}", (unsigned)cp);
            esc = esc || mode == MODE_TERMINAL; /* in JSON the value stays the same */
        } else {
            memcpy(out + o, p, n);
            o += n;
        }
        p += n;
    }
    out[o] = 0;
    if (changed)
        *changed = esc;
    return out;
}

char *cmboot_text_utf8(const char *s, bool *changed)
{
    return escape(s, MODE_UTF8, changed);
}

char *cmboot_text_terminal(const char *s, bool *changed)
{
    return escape(s, MODE_TERMINAL, changed);
}

char *cmboot_text_json(const char *json, bool *changed)
{
    return escape(json, MODE_JSON, changed);
}
