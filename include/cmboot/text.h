/* Making device-supplied strings safe to show: valid UTF-8 for JSON, no raw control or bidi character on a tty. */
#ifndef CMBOOT_TEXT_H
#define CMBOOT_TEXT_H

#include <stdbool.h>
#include "cmboot/export.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Copy of s that is valid UTF-8: every byte that is not part of a well-formed sequence (stray continuation
 * bytes, truncated sequences, overlong forms, surrogates, code points past U+10FFFF) becomes the four
 * characters "\xNN". Valid text is copied unchanged. Returns a string to free() (NULL: out of memory);
 * *changed (may be NULL) says whether a byte was escaped. */
CMBOOT_API char *cmboot_text_utf8(const char *s, bool *changed);

/* Copy of s that can be printed on a terminal without acting on it: like cmboot_text_utf8, and C0 controls,
 * DEL, C1 controls (U+0080-U+009F), bidi controls (U+061C, U+200E, U+200F, U+202A-U+202E, U+2066-U+2069)
 * and U+2028/U+2029 become visible escapes ("\xNN" for a byte below 0x80, "\u{XXXX}" for the others).
 * *changed (may be NULL) says whether anything was escaped. */
CMBOOT_API char *cmboot_text_terminal(const char *s, bool *changed);

/* JSON text made valid and safe to print, with the same meaning: a byte that is not valid UTF-8 (they can
 * only sit inside strings) becomes "\\xNN" (a string then holds the four characters \xNN, as
 * cmboot_text_utf8 gives), and raw C1, bidi and U+2028/U+2029 characters become \uXXXX escapes.
 * *changed (may be NULL) says whether an invalid byte was escaped (the \u escapes change no value). */
CMBOOT_API char *cmboot_text_json(const char *json, bool *changed);

#ifdef __cplusplus
}
#endif
#endif
