/* Internal: pieces of boot-file resolution. */
#ifndef CMBOOT_SRC_FILES_INTERNAL_H
#define CMBOOT_SRC_FILES_INTERNAL_H

#include "cmboot/files.h"

/* Stream of one member of a tar archive open on archive_fd (taken over and closed in every case). */
int cmboot_bootfiles_open_member(int archive_fd, const char *archive_label, const char *member,
                                 cmboot_stream *out);

#endif
