/* Internal: pieces of boot-file resolution. */
#ifndef CMB_FILES_FILES_INTERNAL_H
#define CMB_FILES_FILES_INTERNAL_H

#include <pthread.h>

#include "cmboot/files.h"
#include "core/log.h"

#define CMB_FILES_NOTED_MAX 128

struct cmboot_files {
    bool overlay;
    bool strict;                          /* strict_confine */
    bool explicit_dir;                    /* -d given */
    char *dir[CMBOOT_SOC_COUNT];          /* directory serving each SoC generation, NULL if none */
    char **searched[CMBOOT_SOC_COUNT];    /* directories considered for it (NULL-terminated), for messages */
    char **fallback_dirs;                 /* NULL-terminated */
    const cmboot_embedded_file *embedded; /* never NULL */
    cmb_logger log;
    /* What was logged already (board + path), so a symlink or hard link is reported once per board, not on
     * every request. Boards are served from several threads. */
    pthread_mutex_t noted_lock;
    char *noted[CMB_FILES_NOTED_MAX];
    size_t nnoted;
};

/* The legacy msd file that stands in for NAME requested by this SoC (protocol.md section 5 step 4), or NULL
 * when NAME has no last-resort copy. */
const char *cmb_files_fallback_name(const cmboot_soc_info *soc, const char *name);

/* Stream of one member of a tar archive open on archive_fd (taken over and closed in every case). */
int cmb_bootfiles_open_member(int archive_fd, const char *archive_label, const char *member, cmboot_stream *out);

enum {
    CMB_OPEN_BENEATH = 1u << 0,    /* never leave dirfd (RESOLVE_BENEATH): strict confinement */
    CMB_OPEN_NO_OPENAT2 = 1u << 1, /* resolve in user space as on kernels without openat2 (tests) */
};

/* Opens the regular file dirfd/rel for reading (rel: relative, no ".." component). Symlinks are followed
 * (staying beneath dirfd with CMB_OPEN_BENEATH), magic links never; FIFOs, devices and directories are
 * CMBOOT_ERR_NOT_FOUND and are not opened. fd or negative cmboot_error. */
int cmb_open_in(int dirfd, const char *rel, unsigned flags);

/* The boot files built into the library (-DCMBOOT_EMBED_BOOTFILES=DIR); generated at build time. */
extern const cmboot_embedded_file cmb_builtin_files[];

#endif
