/* Boot-file lookup order of protocol.md section 5: overrides, bootfiles.bin, overlay, prefix, base. */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cmboot/error.h"
#include "files_internal.h"

struct cmboot_files {
    bool overlay;
    char *dir[CMBOOT_SOC_COUNT]; /* directory serving each SoC generation, NULL if none */
};

/* Where Raspberry Pi OS's rpiboot package (and a local install) put the stock payloads. */
static const char *const default_dirs_legacy[] = {"/usr/share/rpiboot/msd", "/usr/local/share/rpiboot/msd", NULL};
static const char *const default_dirs_gadget[] = {"/usr/share/rpiboot/mass-storage-gadget64",
                                                  "/usr/local/share/rpiboot/mass-storage-gadget64", NULL};

static char *first_dir(const char *const *list)
{
    for (; list && *list; list++) {
        struct stat st;
        if (stat(*list, &st) == 0 && S_ISDIR(st.st_mode))
            return strdup(*list);
    }
    return NULL;
}

int cmboot_files_new(const cmboot_files_config *cfg, cmboot_files **out)
{
    if (!cfg || !out)
        return CMBOOT_ERR_INVALID_ARG;
    cmboot_files *f = calloc(1, sizeof *f);
    if (!f)
        return CMBOOT_ERR_NO_MEMORY;
    f->overlay = cfg->overlay;
    for (int i = 0; i < CMBOOT_SOC_COUNT; i++) {
        if (cfg->boot_dir)
            f->dir[i] = strdup(cfg->boot_dir);
        else if (cfg->default_dirs)
            f->dir[i] = first_dir(cfg->default_dirs);
        else
            f->dir[i] = first_dir(i >= CMBOOT_SOC_BCM2711 ? default_dirs_gadget : default_dirs_legacy);
        if (cfg->boot_dir && !f->dir[i]) {
            cmboot_files_free(f);
            return CMBOOT_ERR_NO_MEMORY;
        }
    }
    *out = f;
    return CMBOOT_OK;
}

void cmboot_files_free(cmboot_files *f)
{
    if (!f)
        return;
    for (int i = 0; i < CMBOOT_SOC_COUNT; i++)
        free(f->dir[i]);
    free(f);
}

const char *cmboot_files_dir_for(cmboot_files *f, const cmboot_soc_info *soc)
{
    if (!f || !soc)
        return NULL;
    return f->dir[soc->id];
}

/* Opens DIR/rel as a stream; NOT_FOUND lets the caller go on to the next place. */
static int try_path(int dirfd, const char *dir, const char *rel, cmboot_stream *out)
{
    int fd = cmboot_open_beneath(dirfd, rel);
    if (fd < 0)
        return fd;
    char src[256];
    snprintf(src, sizeof src, "%s/%s", dir, rel);
    return cmboot_stream_from_fd(fd, src, out);
}

static int is_bootcode(const char *name)
{
    size_t n = strlen(name);
    return strncmp(name, "bootcode", 8) == 0 && n >= 12 && strcmp(name + n - 4, ".bin") == 0;
}

/* Continue the lookup only while a place simply lacks the file. */
#define TRY(expr)                                                                                             \
    do {                                                                                                      \
        rc = (expr);                                                                                          \
        if (rc != CMBOOT_ERR_NOT_FOUND)                                                                       \
            goto done;                                                                                        \
    } while (0)

int cmboot_files_open(cmboot_files *f, const cmboot_soc_info *soc, const char *port_path, const char *name,
                      cmboot_stream *out)
{
    if (!f || !soc || !out)
        return CMBOOT_ERR_INVALID_ARG;
    int rc = cmboot_name_check(name);
    if (rc < 0)
        return rc;
    const char *dir = f->dir[soc->id];
    if (!dir)
        return CMBOOT_ERR_NOT_FOUND;
    int dirfd = open(dir, O_PATH | O_DIRECTORY | O_CLOEXEC);
    if (dirfd < 0)
        return CMBOOT_ERR_NOT_FOUND;
    char rel[CMBOOT_FS_NAME_MAX + 64];

    snprintf(rel, sizeof rel, "%s/%s", soc->prefix, name);
    int bf = cmboot_open_beneath(dirfd, "bootfiles.bin");
    if (bf >= 0) {
        rc = try_path(dirfd, dir, rel, out); /* an override beside the archive wins */
        if (rc != CMBOOT_ERR_NOT_FOUND) {
            close(bf);
            goto done;
        }
        TRY(cmboot_bootfiles_open_member(bf, "bootfiles.bin", rel, out));
    }
    if (f->overlay && port_path && *port_path && !is_bootcode(name) && cmboot_name_check(port_path) == 0 &&
        !strchr(port_path, '/')) {
        char orel[sizeof rel];
        snprintf(orel, sizeof orel, "%s/%s", port_path, name);
        TRY(try_path(dirfd, dir, orel, out));
    }
    if (bf < 0)
        TRY(try_path(dirfd, dir, rel, out));
    TRY(try_path(dirfd, dir, name, out));
done:
    close(dirfd);
    return rc;
}

static int hexval(int c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

int cmboot_files_signature(cmboot_files *f, const cmboot_soc_info *soc, unsigned char sig[CMBOOT_SIGNATURE_SIZE])
{
    const char *dir = cmboot_files_dir_for(f, soc);
    if (!dir)
        return CMBOOT_ERR_NOT_FOUND;
    int dirfd = open(dir, O_PATH | O_DIRECTORY | O_CLOEXEC);
    if (dirfd < 0)
        return CMBOOT_ERR_NOT_FOUND;
    int rc = CMBOOT_OK;
    int fd = cmboot_open_beneath(dirfd, "bootsig.bin"); /* the reference insists on it being there */
    if (fd < 0) {
        rc = fd;
        goto out;
    }
    close(fd);
    fd = cmboot_open_beneath(dirfd, "bootcode.sig");
    if (fd < 0) {
        rc = fd;
        goto out;
    }
    unsigned char buf[64];
    ssize_t n = read(fd, buf, sizeof buf);
    close(fd);
    /* Either the 20 raw bytes or 40 hex digits (optionally followed by a newline). */
    if (n == CMBOOT_SIGNATURE_SIZE) {
        memcpy(sig, buf, CMBOOT_SIGNATURE_SIZE);
    } else if (n >= 40 && n <= 41 && (n == 40 || buf[40] == '\n')) {
        for (int i = 0; i < CMBOOT_SIGNATURE_SIZE; i++) {
            int hi = hexval(buf[2 * i]), lo = hexval(buf[2 * i + 1]);
            if (hi < 0 || lo < 0) {
                rc = CMBOOT_ERR_FORMAT;
                goto out;
            }
            sig[i] = (unsigned char)(hi << 4 | lo);
        }
    } else {
        rc = CMBOOT_ERR_FORMAT;
    }
out:
    close(dirfd);
    return rc;
}
