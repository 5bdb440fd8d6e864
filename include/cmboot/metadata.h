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
/* Records KEY=VALUE (last one wins); bounded number of keys. */
CMBOOT_API int cmboot_metadata_set(cmboot_metadata *md, const char *key, const char *value);
CMBOOT_API size_t cmboot_metadata_count(const cmboot_metadata *md);
/* JSON object text (caller frees with free()); FACTORY_UUID decoded. */
CMBOOT_API int cmboot_metadata_to_json(const cmboot_metadata *md, char **json_out);
/* Writes DIR/<serial>.json atomically (serial is checked as a plain file name). */
CMBOOT_API int cmboot_metadata_write(const cmboot_metadata *md, const char *dir, const char *serial,
                                     char *path_out, size_t path_size);

/* Decodes a FACTORY_UUID value ("hex_hex_..." words) from C40 into text. */
CMBOOT_API int cmboot_c40_decode(const char *encoded, char *out, size_t out_size);

#ifdef __cplusplus
}
#endif
#endif
