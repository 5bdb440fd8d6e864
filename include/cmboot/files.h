/* Boot-file resolution (protocol.md section 5) with confinement of device-chosen names. */
#ifndef CMBOOT_FILES_H
#define CMBOOT_FILES_H

#include <stdbool.h>
#include "cmboot/export.h"
#include "cmboot/protocol.h"
#include "cmboot/soc.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct cmboot_files_config {
    const char *boot_dir;        /* -d DIR; NULL: the default directories */
    bool overlay;                /* -o: DIR/<port path>/NAME first (bootcode*.bin exempt) */
    const char *const *default_dirs; /* NULL-terminated search list used when boot_dir is NULL (NULL = built-in) */
} cmboot_files_config;

typedef struct cmboot_files cmboot_files;

CMBOOT_API int cmboot_files_new(const cmboot_files_config *cfg, cmboot_files **out);
CMBOOT_API void cmboot_files_free(cmboot_files *files);

/* Opens the file a device of this SoC on this port asks for. CMBOOT_ERR_NOT_FOUND when absent,
 * CMBOOT_ERR_UNSAFE_NAME when the name is refused. */
CMBOOT_API int cmboot_files_open(cmboot_files *files, const cmboot_soc_info *soc, const char *port_path,
                                 const char *name, cmboot_stream *out);

/* The directory used for a SoC (the -d directory or the default found for it), or NULL. */
CMBOOT_API const char *cmboot_files_dir_for(cmboot_files *files, const cmboot_soc_info *soc);

/* Whether a device-chosen name is acceptable at all (no absolute path, no "..", no control
 * characters, not empty, at most CMBOOT_FS_NAME_MAX). CMBOOT_OK or CMBOOT_ERR_UNSAFE_NAME. */
CMBOOT_API int cmboot_name_check(const char *name);

/* Opens dir/name for reading, never leaving dir (symlinks included). fd or negative cmboot_error. */
CMBOOT_API int cmboot_open_beneath(int dirfd, const char *name);

/* Streams of an open fd or of memory (used by tests and providers). */
CMBOOT_API int cmboot_stream_from_fd(int fd, const char *source, cmboot_stream *out);
CMBOOT_API void cmboot_stream_close(cmboot_stream *s);

/* Signed boot (BCM2835/6/7): reads the 20-byte signature from DIR/bootcode.sig; requires DIR/bootsig.bin. */
CMBOOT_API int cmboot_files_signature(cmboot_files *files, const cmboot_soc_info *soc,
                                      unsigned char sig[CMBOOT_SIGNATURE_SIZE]);

#ifdef __cplusplus
}
#endif
#endif
