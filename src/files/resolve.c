/* Boot-file lookup order of protocol.md section 5: overrides, bootfiles.bin, overlay, prefix, base, fallback. */
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cmboot/error.h"
#include "core/abi.h"
#include "files_internal.h"

/* Where Raspberry Pi OS's rpiboot package (and a local install) put the stock payloads; the reference also
 * tries ./mass-storage-gadget64 for the newer SoCs. */
static const char *const default_dirs_legacy[] = {"/usr/share/rpiboot/msd", "/usr/local/share/rpiboot/msd", NULL};
static const char *const default_dirs_gadget[] = {"/usr/share/rpiboot/mass-storage-gadget64",
                                                  "/usr/local/share/rpiboot/mass-storage-gadget64",
                                                  "./mass-storage-gadget64", NULL};
static const char *const default_fallback_dirs[] = {"/usr/share/rpiboot/msd", "/usr/local/share/rpiboot/msd", NULL};

/* One directory being searched for one request. */
typedef struct place {
    cmboot_files *f; /* its noted-log table changes under its own lock */
    const char *dir;
    int dirfd;
    const char *device_id; /* for log lines */
    const cmb_logger *lg;  /* NULL: quiet (choosing defaults) */
} place;

static void strv_free(char **v)
{
    for (char **p = v; p && *p; p++)
        free(*p);
    free(v);
}

static char **strv_dup(const char *const *list)
{
    size_t n = 0;
    while (list && list[n])
        n++;
    char **v = calloc(n + 1, sizeof *v);
    if (!v)
        return NULL;
    for (size_t i = 0; i < n; i++) {
        v[i] = strdup(list[i]);
        if (!v[i]) {
            strv_free(v);
            return NULL;
        }
    }
    return v;
}

/* True the first time this board meets this path and note (the rest would repeat it on every request). When
 * the table is full, everything counts as new: a repeated line is better than a lost one. */
static bool first_note(const place *pl, char kind, const char *rel)
{
    char key[PATH_MAX + 64];
    snprintf(key, sizeof key, "%c %s %s/%s", kind, pl->device_id, pl->dir, rel);
    cmboot_files *f = pl->f;
    bool first = true;
    pthread_mutex_lock(&f->noted_lock);
    for (size_t i = 0; i < f->nnoted && first; i++)
        first = strcmp(f->noted[i], key) != 0;
    if (first && f->nnoted < CMB_FILES_NOTED_MAX) {
        f->noted[f->nnoted] = strdup(key);
        if (f->noted[f->nnoted])
            f->nnoted++;
    }
    pthread_mutex_unlock(&f->noted_lock);
    return first;
}

/* Logs the symlinks a served path went through (the operator's, since device names cannot hold one). */
static void note_links(const place *pl, const char *rel, int fd)
{
    if (!pl->lg || !pl->lg->fn || pl->lg->level < CMBOOT_LOG_INFO)
        return;
    char prefix[PATH_MAX];
    bool linked = false;
    for (size_t i = 0; rel[i] && !linked && i < sizeof prefix - 1; i++) {
        if (rel[i + 1] != '/' && rel[i + 1] != 0)
            continue;
        memcpy(prefix, rel, i + 1);
        prefix[i + 1] = 0;
        struct stat st;
        linked = fstatat(pl->dirfd, prefix, &st, AT_SYMLINK_NOFOLLOW) == 0 && S_ISLNK(st.st_mode);
    }
    if (!linked || !first_note(pl, 'l', rel))
        return;
    char proc[64], target[PATH_MAX];
    snprintf(proc, sizeof proc, "/proc/self/fd/%d", fd);
    ssize_t n = readlink(proc, target, sizeof target - 1);
    if (n > 0) {
        target[n] = 0;
    } else {
        char path[PATH_MAX];
        snprintf(path, sizeof path, "%s/%s", pl->dir, rel);
        if (!realpath(path, target))
            snprintf(target, sizeof target, "(a symlink)");
    }
    cmb_logf(pl->lg, pl->device_id, CMBOOT_LOG_INFO, "%s/%s -> %s", pl->dir, rel, target);
}

static int open_file(const place *pl, const char *rel)
{
    int fd = cmb_open_in(pl->dirfd, rel, pl->f->strict ? CMB_OPEN_BENEATH : 0);
    if (fd < 0)
        return fd;
    note_links(pl, rel, fd);
    struct stat st;
    /* A hard link is the one way a file from elsewhere can sit beneath the directory unnoticed. */
    if (pl->f->strict && pl->lg && fstat(fd, &st) == 0 && st.st_nlink > 1 && first_note(pl, 'h', rel))
        cmb_logf(pl->lg, pl->device_id, CMBOOT_LOG_WARN,
                 "%s/%s has %lu hard links: strict confinement cannot tell where else it lives", pl->dir, rel,
                 (unsigned long)st.st_nlink);
    return fd;
}

/* Opens DIR/rel as a stream; NOT_FOUND lets the caller go on to the next place. */
static int try_path(const place *pl, const char *rel, cmboot_stream *out)
{
    int fd = open_file(pl, rel);
    if (fd < 0)
        return fd;
    char src[sizeof out->source];
    snprintf(src, sizeof src, "%s/%s", pl->dir, rel);
    return cmboot_stream_from_fd(fd, src, out);
}

static int is_bootcode(const char *name)
{
    size_t n = strlen(name);
    return strncmp(name, "bootcode", 8) == 0 && n >= 12 && strcmp(name + n - 4, ".bin") == 0;
}

/* Continue the lookup only while a place simply lacks the file. */
#define TRY(expr)                                                                                                      \
    do {                                                                                                               \
        rc = (expr);                                                                                                   \
        if (rc != CMBOOT_ERR_NOT_FOUND)                                                                                \
            goto done;                                                                                                 \
    } while (0)

/* Steps 1-3 of the lookup in one directory. */
static int lookup_dir(cmboot_files *f, const char *dir, const cmboot_soc_info *soc, const char *port_path,
                      const char *name, const cmb_logger *lg, cmboot_stream *out)
{
    int dirfd = open(dir, O_PATH | O_DIRECTORY | O_CLOEXEC);
    if (dirfd < 0)
        return CMBOOT_ERR_NOT_FOUND;
    place pl = {f, dir, dirfd, port_path ? port_path : "", lg};
    char rel[CMBOOT_FS_NAME_MAX + 64];
    int rc;

    snprintf(rel, sizeof rel, "%s/%s", soc->prefix, name);
    int bf = open_file(&pl, "bootfiles.bin");
    if (bf < 0 && bf != CMBOOT_ERR_NOT_FOUND) {
        rc = bf; /* e.g. a strict refusal: say so rather than serve without the archive */
        goto done;
    }
    if (bf >= 0) {
        rc = try_path(&pl, rel, out); /* an override beside the archive wins */
        if (rc != CMBOOT_ERR_NOT_FOUND) {
            close(bf);
            goto done;
        }
        char label[sizeof out->source];
        snprintf(label, sizeof label, "%s/bootfiles.bin", dir);
        TRY(cmb_bootfiles_open_member(bf, label, rel, out));
    }
    if (f->overlay && port_path && *port_path && !is_bootcode(name) && cmboot_name_check(port_path) == 0 &&
        !strchr(port_path, '/')) {
        char orel[sizeof rel];
        snprintf(orel, sizeof orel, "%s/%s", port_path, name);
        TRY(try_path(&pl, orel, out));
    }
    if (bf < 0)
        TRY(try_path(&pl, rel, out));
    TRY(try_path(&pl, name, out));
done:
    close(dirfd);
    return rc;
}

/* The reference's built-in copies cover exactly these requests (the BCM2711 legacy msd boots start4.elf
 * from the common start.elf). */
static const struct {
    cmboot_soc_id soc;
    const char *requested;
    const char *file;
} fallback_map[] = {
    {CMBOOT_SOC_BCM2835, "bootcode.bin", "bootcode.bin"},   {CMBOOT_SOC_BCM2835, "start.elf", "start.elf"},
    {CMBOOT_SOC_BCM2837, "bootcode.bin", "bootcode.bin"},   {CMBOOT_SOC_BCM2837, "start.elf", "start.elf"},
    {CMBOOT_SOC_BCM2711, "bootcode4.bin", "bootcode4.bin"}, {CMBOOT_SOC_BCM2711, "start4.elf", "start.elf"},
};

const char *cmb_files_fallback_name(const cmboot_soc_info *soc, const char *name)
{
    for (size_t i = 0; i < sizeof fallback_map / sizeof fallback_map[0]; i++)
        if (fallback_map[i].soc == soc->id && strcmp(fallback_map[i].requested, name) == 0)
            return fallback_map[i].file;
    return NULL;
}

/* Step 4: the legacy msd files, built in or installed. */
static int lookup_fallback(cmboot_files *f, const cmboot_soc_info *soc, const char *port_path, const char *name,
                           const cmb_logger *lg, cmboot_stream *out)
{
    const char *file = cmb_files_fallback_name(soc, name);
    if (!file)
        return CMBOOT_ERR_NOT_FOUND;
    const char *dev = port_path ? port_path : "";
    const char *dir = f->dir[soc->id];
    for (const cmboot_embedded_file *e = f->embedded; e->name; e++) {
        if (strcmp(e->name, file) != 0)
            continue;
        char src[sizeof out->source];
        snprintf(src, sizeof src, "built-in:%s", file);
        cmb_logf(lg, dev, CMBOOT_LOG_INFO, "%s not in %s: serving the built-in %s", name,
                 dir ? dir : "any boot directory", file);
        return cmboot_stream_from_memory(e->data, e->size, src, out);
    }
    for (char **d = f->fallback_dirs; *d; d++) {
        int dirfd = open(*d, O_PATH | O_DIRECTORY | O_CLOEXEC);
        if (dirfd < 0)
            continue;
        place pl = {f, *d, dirfd, dev, lg};
        int rc = try_path(&pl, file, out);
        close(dirfd);
        if (rc == CMBOOT_OK)
            cmb_logf(lg, dev, CMBOOT_LOG_INFO, "%s not in %s: serving %s", name, dir ? dir : "any boot directory",
                     out->source);
        if (rc != CMBOOT_ERR_NOT_FOUND)
            return rc;
    }
    return CMBOOT_ERR_NOT_FOUND;
}

/* The default directory for a SoC: the first that serves its second stage, else the first that exists. */
static char *choose_dir(cmboot_files *f, const cmboot_soc_info *soc, char *const *cand)
{
    for (char *const *d = cand; *d; d++) {
        cmboot_stream s;
        if (lookup_dir(f, *d, soc, NULL, soc->second_stage, NULL, &s) == CMBOOT_OK) {
            cmboot_stream_close(&s);
            return strdup(*d);
        }
    }
    for (char *const *d = cand; *d; d++) {
        struct stat st;
        if (stat(*d, &st) == 0 && S_ISDIR(st.st_mode))
            return strdup(*d);
    }
    return NULL;
}

/* Size in release 0.2, the first with struct_size (docs/abi.md). */
#define FILES_CONFIG_MIN CMB_SIZE_THROUGH(cmboot_files_config, log_level)

int cmboot_files_config_init(cmboot_files_config *cfg, size_t struct_size)
{
    const cmboot_files_config d = {.struct_size = sizeof d, .log_level = CMBOOT_LOG_ERROR};
    return cmb_struct_init(cfg, struct_size, &d, sizeof d, FILES_CONFIG_MIN);
}

int cmboot_files_new(const cmboot_files_config *caller_cfg, cmboot_files **out)
{
    if (!caller_cfg || !out)
        return CMBOOT_ERR_INVALID_ARG;
    cmboot_files_config full;
    cmboot_files_config_default(&full);
    int rc = cmb_struct_load(&full, sizeof full, caller_cfg, FILES_CONFIG_MIN);
    if (rc != CMBOOT_OK)
        return rc;
    const cmboot_files_config *cfg = &full;
    cmboot_files *f = calloc(1, sizeof *f);
    if (!f)
        return CMBOOT_ERR_NO_MEMORY;
    pthread_mutex_init(&f->noted_lock, NULL);
    f->overlay = cfg->overlay;
    f->strict = cfg->strict_confine;
    f->explicit_dir = cfg->boot_dir != NULL;
    f->embedded = cfg->embedded ? cfg->embedded : cmboot_files_builtin();
    f->log = (cmb_logger){cfg->log, cfg->log_user, cfg->log_level};
    f->fallback_dirs = strv_dup(cfg->fallback_dirs ? cfg->fallback_dirs : default_fallback_dirs);
    if (!f->fallback_dirs)
        goto nomem;
    for (int i = 0; i < CMBOOT_SOC_COUNT; i++) {
        const char *only[] = {cfg->boot_dir, NULL};
        const char *const *cand = cfg->boot_dir             ? only
                                  : cfg->default_dirs       ? cfg->default_dirs
                                  : i >= CMBOOT_SOC_BCM2711 ? default_dirs_gadget
                                                            : default_dirs_legacy;
        f->searched[i] = strv_dup(cand);
        if (!f->searched[i])
            goto nomem;
        if (cfg->boot_dir) {
            f->dir[i] = strdup(cfg->boot_dir);
            if (!f->dir[i])
                goto nomem;
        } else {
            f->dir[i] = choose_dir(f, cmboot_soc_by_id((cmboot_soc_id)i), f->searched[i]);
        }
    }
    *out = f;
    return CMBOOT_OK;
nomem:
    cmboot_files_free(f);
    return CMBOOT_ERR_NO_MEMORY;
}

void cmboot_files_free(cmboot_files *f)
{
    if (!f)
        return;
    for (int i = 0; i < CMBOOT_SOC_COUNT; i++) {
        free(f->dir[i]);
        strv_free(f->searched[i]);
    }
    strv_free(f->fallback_dirs);
    for (size_t i = 0; i < f->nnoted; i++)
        free(f->noted[i]);
    pthread_mutex_destroy(&f->noted_lock);
    free(f);
}

const char *cmboot_files_dir_for(cmboot_files *f, const cmboot_soc_info *soc)
{
    if (!f || !soc)
        return NULL;
    return f->dir[soc->id];
}

int cmboot_files_open(cmboot_files *f, const cmboot_soc_info *soc, const char *port_path, const char *name,
                      cmboot_stream *out)
{
    if (!f || !soc || !out)
        return CMBOOT_ERR_INVALID_ARG;
    int rc = cmboot_name_check(name);
    if (rc < 0)
        return rc;
    const char *dir = f->dir[soc->id];
    rc = dir ? lookup_dir(f, dir, soc, port_path, name, &f->log, out) : CMBOOT_ERR_NOT_FOUND;
    if (rc == CMBOOT_ERR_NOT_FOUND)
        rc = lookup_fallback(f, soc, port_path, name, &f->log, out);
    return rc;
}

int cmboot_files_signature(cmboot_files *f, const cmboot_soc_info *soc, unsigned char sig[CMBOOT_SIGNATURE_SIZE])
{
    if (!f || !soc || !sig)
        return CMBOOT_ERR_INVALID_ARG;
    cmboot_stream s;
    int rc = cmboot_files_open(f, soc, NULL, "bootsig.bin", &s); /* the reference insists on it being there */
    if (rc < 0)
        return rc;
    cmboot_stream_close(&s);
    rc = cmboot_files_open(f, soc, NULL, "bootcode.sig", &s);
    if (rc < 0)
        return rc;
    /* The first 20 bytes, raw, as the reference reads them; fewer is no signature. */
    size_t have = 0;
    while (have < CMBOOT_SIGNATURE_SIZE) {
        long n = s.read(s.self, sig + have, CMBOOT_SIGNATURE_SIZE - have);
        if (n < 0) {
            rc = (int)n;
            break;
        }
        if (n == 0)
            break;
        have += (size_t)n;
    }
    cmboot_stream_close(&s);
    if (rc < 0)
        return rc;
    return have == CMBOOT_SIGNATURE_SIZE ? CMBOOT_OK : CMBOOT_ERR_FORMAT;
}
