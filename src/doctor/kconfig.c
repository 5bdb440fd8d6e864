/* Kernel configuration text: decompressed through libarchive's raw format, looked up line by line. */
#include "kconfig.h"

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "cmboot/error.h"
#include "core/archive_lib.h"

#define KCONFIG_MAX (8u << 20)

int cmb_kconfig_load(const char *path, char **out, size_t *len)
{
    if (!path || !out)
        return CMBOOT_ERR_INVALID_ARG;
    *out = NULL;
    struct stat st;
    if (stat(path, &st) < 0)
        return CMBOOT_ERR_NOT_FOUND;
    cmb_archive_lib al;
    int rc = cmb_archive_lib_load(&al, NULL, 0);
    if (rc != CMBOOT_OK)
        return rc;
    struct archive *a = al.read_new();
    if (!a) {
        cmb_archive_lib_unload(&al);
        return CMBOOT_ERR_NO_MEMORY;
    }
    /* The raw format with every filter reads a .gz and a plain file alike. */
    al.read_support_filter_all(a);
    al.read_support_format_raw(a);
    struct archive_entry *entry;
    rc = CMBOOT_ERR_ARCHIVE;
    char *buf = NULL;
    size_t used = 0, cap = 0;
    if (al.read_open_filename(a, path, 64 * 1024) != ARCHIVE_OK || al.read_next_header(a, &entry) != ARCHIVE_OK)
        goto done;
    for (;;) {
        if (cap - used < 64 * 1024 + 1) {
            size_t ncap = cap ? cap * 2 : 256 * 1024;
            if (ncap > KCONFIG_MAX + 64 * 1024 + 1)
                ncap = KCONFIG_MAX + 64 * 1024 + 1;
            char *nb = realloc(buf, ncap);
            if (!nb) {
                rc = CMBOOT_ERR_NO_MEMORY;
                goto done;
            }
            buf = nb;
            cap = ncap;
        }
        la_ssize_t n = al.read_data(a, buf + used, 64 * 1024);
        if (n < 0)
            goto done;
        if (n == 0)
            break;
        used += (size_t)n;
        if (used > KCONFIG_MAX) {
            rc = CMBOOT_ERR_TOO_LARGE;
            goto done;
        }
    }
    buf[used] = '\0';
    if (memchr(buf, '\0', used)) { /* binary: not a config */
        rc = CMBOOT_ERR_ARCHIVE;
        goto done;
    }
    *out = buf;
    buf = NULL;
    if (len)
        *len = used;
    rc = CMBOOT_OK;
done:
    free(buf);
    al.read_free(a);
    cmb_archive_lib_unload(&al);
    return rc;
}

char cmb_kconfig_value(const char *text, const char *option)
{
    if (!text || !option)
        return 0;
    size_t olen = strlen(option);
    for (const char *line = text; line && *line;) {
        const char *eol = strchr(line, '\n');
        size_t llen = eol ? (size_t)(eol - line) : strlen(line);
        if (llen > olen + 1 && strncmp(line, option, olen) == 0 && line[olen] == '=') {
            char v = line[olen + 1];
            bool one = llen == olen + 2;
            return one && (v == 'y' || v == 'm') ? v : 0;
        }
        line = eol ? eol + 1 : NULL;
    }
    return 0;
}
