/* Before any board arrives: can a SoC's second stage be served, and if not, where was it looked for. */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "cmboot/error.h"
#include "files_internal.h"

typedef struct buf {
    char *s;
    size_t size, len;
} buf;

static void put(buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void put(buf *b, const char *fmt, ...)
{
    if (!b->size || b->len >= b->size - 1)
        return;
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(b->s + b->len, b->size - b->len, fmt, ap);
    va_end(ap);
    if (n > 0)
        b->len += (size_t)n < b->size - b->len ? (size_t)n : b->size - b->len - 1;
}

static const char *dir_state(const char *dir)
{
    struct stat st;
    if (stat(dir, &st) != 0)
        return " (missing)";
    return S_ISDIR(st.st_mode) ? "" : " (not a directory)";
}

int cmboot_files_probe(cmboot_files *f, const cmboot_soc_info *soc, char *msg, size_t msg_size)
{
    char dummy[1];
    buf b = {msg ? msg : dummy, msg ? msg_size : sizeof dummy, 0};
    b.s[0] = 0;
    if (!f || !soc)
        return CMBOOT_ERR_INVALID_ARG;
    cmboot_stream s;
    int rc = cmboot_files_open(f, soc, NULL, soc->second_stage, &s);
    if (rc == CMBOOT_OK) {
        put(&b, "%s: %s from %s", soc->name, soc->second_stage, s.source);
        cmboot_stream_close(&s);
        return CMBOOT_OK;
    }
    const char *dir = f->dir[soc->id];
    if (rc != CMBOOT_ERR_NOT_FOUND) {
        put(&b, "%s: cannot serve %s from %s: %s", soc->name, soc->second_stage, dir ? dir : "(no directory)",
            cmboot_strerror(rc));
        return rc;
    }
    put(&b, "%s (%s): no %s. Searched%s:", soc->name, soc->boards, soc->second_stage,
        f->explicit_dir ? " the -d directory" : "");
    const char *sep = " ";
    for (char **d = f->searched[soc->id]; *d; d++, sep = ", ")
        put(&b, "%s%s%s", sep, *d, dir_state(*d));
    const char *file = cmb_files_fallback_name(soc, soc->second_stage);
    if (file) {
        bool builtin = false;
        for (const cmboot_embedded_file *e = f->embedded; e->name; e++)
            builtin |= strcmp(e->name, file) == 0;
        put(&b, "; fallback: built-in %s (%s)", file, builtin ? "unusable" : "not in this build");
        for (char **d = f->fallback_dirs; *d; d++)
            put(&b, ", %s/%s", *d, file);
    }
    const char *payload = soc->id >= CMBOOT_SOC_BCM2711 ? "mass-storage-gadget64" : "msd";
    if (f->explicit_dir)
        put(&b,
            ". Pass -d a payload directory for %s (e.g. usbboot/%s from https://github.com/raspberrypi/usbboot), "
            "or install the rpiboot package (apt install rpiboot) and leave out -d.",
            soc->name, payload);
    else
        put(&b,
            ". Install the rpiboot package (apt install rpiboot), or clone https://github.com/raspberrypi/usbboot "
            "and pass -d usbboot/%s.",
            payload);
    return CMBOOT_ERR_NOT_FOUND;
}

const cmboot_embedded_file *cmboot_files_builtin(void)
{
    return cmb_builtin_files;
}
