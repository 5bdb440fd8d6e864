/* Boot-file resolution (protocol.md section 5): device-chosen names checked, operator symlinks followed. */
#ifndef CMBOOT_FILES_H
#define CMBOOT_FILES_H

#include <stdbool.h>
#include <stddef.h>
#include "cmboot/export.h"
#include "cmboot/log.h"
#include "cmboot/protocol.h"
#include "cmboot/soc.h"

#ifdef __cplusplus
extern "C" {
#endif

/* A boot file held in memory: the library's built-in copies, or a table given by the caller. */
typedef struct cmboot_embedded_file {
    const char *name; /* "bootcode.bin", "start.elf", "bootcode4.bin"; NULL ends a table */
    const unsigned char *data;
    size_t size;
} cmboot_embedded_file;

typedef struct cmboot_files_config {
    size_t struct_size;              /* set by cmboot_files_config_default() (session.h, docs/abi.md) */
    const char *boot_dir;            /* -d DIR; NULL: the default directories */
    bool overlay;                    /* -o: DIR/<port path>/NAME first (bootcode*.bin exempt) */
    const char *const *default_dirs; /* NULL-terminated search list used when boot_dir is NULL (NULL = built-in) */
    /* Refuse symlinks that leave the boot directory (RESOLVE_BENEATH) and warn about hard-linked files.
     * Default (false): symlinks the operator placed in the directory are followed wherever they lead. */
    bool strict_confine;
    /* Last resort for the legacy msd files (bootcode.bin, start.elf, bootcode4.bin) when the lookup misses:
     * first the embedded table, then these directories. */
    const char *const *fallback_dirs;     /* NULL-terminated; NULL = the installed msd directories */
    const cmboot_embedded_file *embedded; /* NULL = cmboot_files_builtin(); must outlive the object */
    cmboot_log_fn log;                    /* optional; device_id is the port path ("" when none) */
    void *log_user;
    cmboot_log_level log_level; /* messages above this level are dropped */
} cmboot_files_config;

/* Defaults (all NULL/false, CMBOOT_LOG_ERROR) into the caller's struct of struct_size bytes. Use
 * cmboot_files_config_default(). */
CMBOOT_API int cmboot_files_config_init(cmboot_files_config *cfg, size_t struct_size);
static inline void cmboot_files_config_default(cmboot_files_config *cfg)
{
    (void)cmboot_files_config_init(cfg, sizeof *cfg);
}

typedef struct cmboot_files cmboot_files;

CMBOOT_API int cmboot_files_new(const cmboot_files_config *cfg, cmboot_files **out);
CMBOOT_API void cmboot_files_free(cmboot_files *files);

/* Opens the file a device of this SoC on this port asks for. CMBOOT_ERR_NOT_FOUND when absent,
 * CMBOOT_ERR_UNSAFE_NAME when the name is refused. */
CMBOOT_API int cmboot_files_open(cmboot_files *files, const cmboot_soc_info *soc, const char *port_path,
                                 const char *name, cmboot_stream *out);

/* The directory used for a SoC (the -d directory or the default found for it), or NULL. */
CMBOOT_API const char *cmboot_files_dir_for(cmboot_files *files, const cmboot_soc_info *soc);

/* Whether this SoC's second stage (soc->second_stage) can be served, before any board arrives.
 * CMBOOT_OK with msg saying where it comes from; CMBOOT_ERR_NOT_FOUND with msg naming every place
 * searched and how to get the files; another error (e.g. CMBOOT_ERR_ARCHIVE) with msg saying what failed. */
CMBOOT_API int cmboot_files_probe(cmboot_files *files, const cmboot_soc_info *soc, char *msg, size_t msg_size);

/* The boot files built into this library (-DCMBOOT_EMBED_BOOTFILES=DIR); an empty table (name NULL
 * first) when the build embedded none. */
CMBOOT_API const cmboot_embedded_file *cmboot_files_builtin(void);

/* Whether a device-chosen name is acceptable at all (no absolute path, no "..", no control
 * characters, not empty, at most CMBOOT_FS_NAME_MAX). CMBOOT_OK or CMBOOT_ERR_UNSAFE_NAME. */
CMBOOT_API int cmboot_name_check(const char *name);

/* Opens dir/name for reading, never leaving dir (symlinks included). fd or negative cmboot_error. */
CMBOOT_API int cmboot_open_beneath(int dirfd, const char *name);

/* Streams of an open fd or of memory (used by tests and providers). The memory must outlive the stream. */
CMBOOT_API int cmboot_stream_from_fd(int fd, const char *source, cmboot_stream *out);
CMBOOT_API int cmboot_stream_from_memory(const void *data, size_t size, const char *source, cmboot_stream *out);
CMBOOT_API void cmboot_stream_close(cmboot_stream *s);

/* Signed boot (BCM2835/6/7): the first 20 bytes of bootcode.sig, found by the ordinary lookup (as the
 * reference does); bootsig.bin must exist too. CMBOOT_ERR_FORMAT when bootcode.sig is shorter. */
CMBOOT_API int cmboot_files_signature(cmboot_files *files, const cmboot_soc_info *soc,
                                      unsigned char sig[CMBOOT_SIGNATURE_SIZE]);

#ifdef __cplusplus
}
#endif
#endif
