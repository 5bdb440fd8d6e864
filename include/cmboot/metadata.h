/* Board metadata sent as *KEY*VALUE: collection, FACTORY_UUID (C40) decoding and JSON. */
#ifndef CMBOOT_METADATA_H
#define CMBOOT_METADATA_H

#include <stddef.h>
#include "cmboot/export.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct cmboot_metadata cmboot_metadata;

CMBOOT_API int cmboot_metadata_new(cmboot_metadata **out);
CMBOOT_API void cmboot_metadata_free(cmboot_metadata *md);
/* Records KEY=VALUE (last one wins); bounded number of keys. The key CMBOOT_METADATA_SANITIZED_KEY is
 * reserved (CMBOOT_ERR_INVALID_ARG). */
CMBOOT_API int cmboot_metadata_set(cmboot_metadata *md, const char *key, const char *value);
CMBOOT_API size_t cmboot_metadata_count(const cmboot_metadata *md);
/* The index-th KEY=VALUE in the order first set (raw bytes as the board sent them); the strings are md's and
 * valid until it changes. CMBOOT_ERR_NOT_FOUND past the end. */
CMBOOT_API int cmboot_metadata_entry(const cmboot_metadata *md, size_t index, const char **key, const char **value);
/* Names the keys whose key or value was not valid UTF-8 (their bytes escaped as "\xNN", see cmboot/text.h):
 * an array of the keys as written. Never a key the device can send ('-' is not a key character). */
#define CMBOOT_METADATA_SANITIZED_KEY "cmboot-sanitized"
/* JSON object text (caller frees with free()); FACTORY_UUID decoded. Always valid UTF-8 with C1 and bidi
 * characters as \u escapes; CMBOOT_METADATA_SANITIZED_KEY present when something was escaped. */
CMBOOT_API int cmboot_metadata_to_json(const cmboot_metadata *md, char **json_out);
/* Writes DIR/<serial>.json atomically, replacing an older file of that name (serial is checked as a plain
 * file name): a temporary file made with O_EXCL (or O_TMPFILE) under an unpredictable name in DIR, written,
 * fsync'd, renamed into place, DIR fsync'd. Stateless: two calls with the same serial replace each other;
 * a run that boots several boards uses a cmboot_metadata_dir instead. */
CMBOOT_API int cmboot_metadata_write(const cmboot_metadata *md, const char *dir, const char *serial, char *path_out,
                                     size_t path_size);

/* A metadata directory for one run: remembers the names it wrote, so a second board with the same serial
 * never replaces the first one's file but gets SERIAL-1.json (then -2, ...). Files left by earlier runs are
 * replaced as by cmboot_metadata_write. The directory is opened once: renaming or replacing its path later
 * does not redirect the files. Thread-safe (one handle shared by the boards of a run). */
typedef struct cmboot_metadata_dir cmboot_metadata_dir;

CMBOOT_API int cmboot_metadata_dir_open(const char *dir, cmboot_metadata_dir **out);
/* Writes the board's file as cmboot_metadata_write does; path_out gets the path written. *suffix (may be
 * NULL) is 0 for DIR/<serial>.json, N for DIR/<serial>-N.json when that serial was already written in
 * this run (the caller should say so: two boards reported the same serial). */
CMBOOT_API int cmboot_metadata_dir_write(cmboot_metadata_dir *d, const cmboot_metadata *md, const char *serial,
                                         char *path_out, size_t path_size, unsigned *suffix);
CMBOOT_API void cmboot_metadata_dir_close(cmboot_metadata_dir *d);

/* Decodes a FACTORY_UUID value ("hex_hex_..." words) from C40 into text. */
CMBOOT_API int cmboot_c40_decode(const char *encoded, char *out, size_t out_size);

#ifdef __cplusplus
}
#endif
#endif
