/* Members of bootfiles.bin (a tar archive) as streams, matched case-insensitively, read with libarchive
 * (loaded when a bootfiles.bin is opened). */
#include <stdio.h>
#include <stdlib.h>
#include <strings.h>
#include <unistd.h>

#include "cmboot/error.h"
#include "core/archive_lib.h"
#include "files_internal.h"

typedef struct member_stream {
    cmb_archive_lib al;
    struct archive *a;
    int fd;
} member_stream;

static long member_read(void *self, void *buf, size_t len)
{
    member_stream *m = self;
    la_ssize_t n = m->al.read_data(m->a, buf, len);
    if (n < 0)
        return CMBOOT_ERR_ARCHIVE;
    return (long)n;
}

static void member_close(void *self)
{
    member_stream *m = self;
    if (m->a)
        m->al.read_free(m->a);
    cmb_archive_lib_unload(&m->al);
    close(m->fd);
    free(m);
}

int cmb_bootfiles_open_member(int archive_fd, const char *archive_label, const char *member, cmboot_stream *out)
{
    member_stream *m = calloc(1, sizeof *m);
    if (!m) {
        close(archive_fd);
        return CMBOOT_ERR_NO_MEMORY;
    }
    m->fd = archive_fd;
    int rc = cmb_archive_lib_load(&m->al, NULL, 0);
    if (rc != CMBOOT_OK)
        goto fail;
    m->a = m->al.read_new();
    if (!m->a) {
        rc = CMBOOT_ERR_NO_MEMORY;
        goto fail;
    }
    m->al.read_support_format_tar(m->a);
    m->al.read_support_format_gnutar(m->a);
    rc = CMBOOT_ERR_NOT_FOUND;
    if (m->al.read_open_fd(m->a, archive_fd, 64 * 1024) != ARCHIVE_OK) {
        rc = CMBOOT_ERR_ARCHIVE;
        goto fail;
    }
    struct archive_entry *e;
    int r;
    while ((r = m->al.read_next_header(m->a, &e)) == ARCHIVE_OK) {
        const char *path = m->al.entry_pathname(e);
        if (!path)
            continue;
        while (path[0] == '.' && path[1] == '/')
            path += 2;
        if (m->al.entry_filetype(e) != AE_IFREG || strcasecmp(path, member) != 0)
            continue;
        if (m->al.entry_size(e) < 0) {
            rc = CMBOOT_ERR_ARCHIVE;
            goto fail;
        }
        out->size = (uint64_t)m->al.entry_size(e);
        out->read = member_read;
        out->close = member_close;
        out->self = m;
        snprintf(out->source, sizeof out->source, "%s:%s", archive_label, path);
        return CMBOOT_OK;
    }
    if (r != ARCHIVE_EOF)
        rc = CMBOOT_ERR_ARCHIVE;
fail:
    member_close(m);
    return rc;
}
