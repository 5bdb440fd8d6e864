/* Board metadata (*KEY*VALUE): bounded collection, JSON with json-c, atomic write of DIR/<serial>.json. */
#include <errno.h>
#include <fcntl.h>
#include <json-c/json.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "cmboot/error.h"
#include "cmboot/files.h"
#include "cmboot/metadata.h"
#include "cmboot/text.h"
#include "core/error_map.h"
#include "metadata_internal.h"

#define METADATA_MAX_KEYS 64
#define METADATA_KEY_MAX 64
#define METADATA_VALUE_MAX 256

typedef struct md_entry {
    char key[METADATA_KEY_MAX];
    char value[METADATA_VALUE_MAX];
} md_entry;

struct cmboot_metadata {
    size_t count;
    md_entry entries[METADATA_MAX_KEYS];
};

int cmboot_metadata_new(cmboot_metadata **out)
{
    *out = calloc(1, sizeof **out);
    return *out ? CMBOOT_OK : CMBOOT_ERR_NO_MEMORY;
}

void cmboot_metadata_free(cmboot_metadata *md)
{
    free(md);
}

int cmboot_metadata_set(cmboot_metadata *md, const char *key, const char *value)
{
    if (!md || !key || !value || !*key || strcmp(key, CMBOOT_METADATA_SANITIZED_KEY) == 0)
        return CMBOOT_ERR_INVALID_ARG;
    if (strlen(key) >= METADATA_KEY_MAX || strlen(value) >= METADATA_VALUE_MAX)
        return CMBOOT_ERR_TOO_LARGE;
    md_entry *e = NULL;
    for (size_t i = 0; i < md->count; i++)
        if (strcmp(md->entries[i].key, key) == 0)
            e = &md->entries[i];
    if (!e) {
        if (md->count == METADATA_MAX_KEYS)
            return CMBOOT_ERR_TOO_LARGE;
        e = &md->entries[md->count++];
        snprintf(e->key, sizeof e->key, "%s", key);
    }
    snprintf(e->value, sizeof e->value, "%s", value);
    return CMBOOT_OK;
}

size_t cmboot_metadata_count(const cmboot_metadata *md)
{
    return md ? md->count : 0;
}

int cmboot_metadata_entry(const cmboot_metadata *md, size_t index, const char **key, const char **value)
{
    if (!md || !key || !value)
        return CMBOOT_ERR_INVALID_ARG;
    if (index >= md->count)
        return CMBOOT_ERR_NOT_FOUND;
    *key = md->entries[index].key;
    *value = md->entries[index].value;
    return CMBOOT_OK;
}

/* Adds key: value with both made valid UTF-8; a key that needed it is listed in san. */
static int add_clean(json_object *obj, json_object *san, const char *key, const char *value)
{
    bool ck = false, cv = false;
    char *k = cmboot_text_utf8(key, &ck), *v = cmboot_text_utf8(value, &cv);
    int rc = k && v ? CMBOOT_OK : CMBOOT_ERR_NO_MEMORY;
    json_object *jv = rc == CMBOOT_OK ? json_object_new_string(v) : NULL;
    if (rc == CMBOOT_OK && (!jv || json_object_object_add(obj, k, jv) != 0)) {
        json_object_put(jv);
        rc = CMBOOT_ERR_NO_MEMORY;
    }
    if (rc == CMBOOT_OK && (ck || cv) && json_object_array_add(san, json_object_new_string(k)) != 0)
        rc = CMBOOT_ERR_NO_MEMORY;
    free(k);
    free(v);
    return rc;
}

int cmboot_metadata_to_json(const cmboot_metadata *md, char **json_out)
{
    if (!md || !json_out)
        return CMBOOT_ERR_INVALID_ARG;
    *json_out = NULL;
    json_object *obj = json_object_new_object();
    json_object *san = json_object_new_array();
    int rc = obj && san ? CMBOOT_OK : CMBOOT_ERR_NO_MEMORY;
    for (size_t i = 0; i < md->count && rc == CMBOOT_OK; i++) {
        const md_entry *e = &md->entries[i];
        const char *value = e->value;
        char decoded[METADATA_VALUE_MAX * 2];
        if (strcmp(e->key, "FACTORY_UUID") == 0 && cmboot_c40_decode(e->value, decoded, sizeof decoded) == 0) {
            value = decoded;
            rc = add_clean(obj, san, "FACTORY_UUID_RAW", e->value);
        }
        if (rc == CMBOOT_OK)
            rc = add_clean(obj, san, e->key, value);
    }
    if (rc == CMBOOT_OK && json_object_array_length(san) > 0) {
        rc = json_object_object_add(obj, CMBOOT_METADATA_SANITIZED_KEY, san) == 0 ? CMBOOT_OK : CMBOOT_ERR_NO_MEMORY;
        san = NULL;
    }
    if (rc == CMBOOT_OK) {
        const char *text = json_object_to_json_string_ext(obj, JSON_C_TO_STRING_PRETTY | JSON_C_TO_STRING_SPACED);
        /* Valid UTF-8 already; this turns raw C1/bidi characters into \u escapes for whoever cats the file. */
        *json_out = text ? cmboot_text_json(text, NULL) : NULL;
        if (!*json_out)
            rc = CMBOOT_ERR_NO_MEMORY;
    }
    json_object_put(san);
    json_object_put(obj);
    return rc;
}

/* ---- Atomic write ---- */

static void default_random(void *user, unsigned char *buf, size_t len)
{
    (void)user;
    if (getrandom(buf, len, 0) == (ssize_t)len)
        return;
    /* No getrandom (very old kernel): still hard to guess, and O_EXCL settles any collision. */
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    uint64_t x = (uint64_t)ts.tv_nsec * 0x9e3779b97f4a7c15ull ^ (uint64_t)getpid() << 32 ^ (uint64_t)(uintptr_t)buf;
    for (size_t i = 0; i < len; i++) {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        buf[i] = (unsigned char)x;
    }
}

/* A dot name nobody can guess ahead, so nobody can park a FIFO, file or symlink there. */
static void temp_name(char *out, size_t size, cmb_md_random_fn rnd, void *user)
{
    unsigned char r[12];
    rnd(user, r, sizeof r);
    int n = snprintf(out, size, ".cmboot-md-");
    for (size_t i = 0; i < sizeof r && n + 3 < (int)size; i++)
        n += snprintf(out + n, size - (size_t)n, "%02x", r[i]);
    snprintf(out + n, size - (size_t)n, ".tmp");
}

static int write_all(int fd, const char *p, size_t len)
{
    while (len > 0) {
        ssize_t n = write(fd, p, len);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return -1;
        p += n;
        len -= (size_t)n;
    }
    return 0;
}

#define TEMP_ATTEMPTS 16

/* Gives the anonymous O_TMPFILE file fd a fresh temporary name in dirfd (linkat never replaces a name). */
static int link_anonymous(int fd, int dirfd, char *tmp, size_t size, cmb_md_random_fn rnd, void *user)
{
    char self[64];
    snprintf(self, sizeof self, "/proc/self/fd/%d", fd);
    for (int i = 0; i < TEMP_ATTEMPTS; i++) {
        temp_name(tmp, size, rnd, user);
        if (linkat(AT_FDCWD, self, dirfd, tmp, AT_SYMLINK_FOLLOW) == 0)
            return 0;
        if (errno == EEXIST)
            continue;
        /* No /proc: AT_EMPTY_PATH (needs CAP_DAC_READ_SEARCH) */
        if (linkat(fd, "", dirfd, tmp, AT_EMPTY_PATH) == 0)
            return 0;
        if (errno != EEXIST)
            return -1;
    }
    errno = EEXIST;
    return -1;
}

int cmb_metadata_write_at(int dirfd, const char *name, const char *text, size_t len, unsigned flags,
                          cmb_md_random_fn rnd, void *rnd_user)
{
    if (dirfd < 0 || !name || !text)
        return CMBOOT_ERR_INVALID_ARG;
    if (!rnd)
        rnd = default_random;
    char tmp[64];
    int fd = -1;
    bool anonymous = false;
#ifdef O_TMPFILE
    if (!(flags & CMB_MD_NO_TMPFILE)) {
        fd = openat(dirfd, ".", O_TMPFILE | O_WRONLY | O_CLOEXEC, 0644);
        anonymous = fd >= 0;
    }
#endif
    for (int i = 0; fd < 0 && i < TEMP_ATTEMPTS; i++) {
        temp_name(tmp, sizeof tmp, rnd, rnd_user);
        /* O_EXCL: whatever sits at the name (FIFO, file, symlink) is never opened, only skipped. */
        fd = openat(dirfd, tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_NONBLOCK | O_NOCTTY | O_CLOEXEC, 0644);
        if (fd < 0 && errno != EEXIST)
            return cmb_error_from_errno(errno);
    }
    if (fd < 0)
        return CMBOOT_ERR_IO; /* TEMP_ATTEMPTS names taken: someone is guessing */
    int rc = CMBOOT_OK;
    if (write_all(fd, text, len) != 0 || fsync(fd) != 0)
        rc = CMBOOT_ERR_IO;
    if (rc == CMBOOT_OK && anonymous) {
        if (link_anonymous(fd, dirfd, tmp, sizeof tmp, rnd, rnd_user) != 0) {
            /* Linking is not allowed here: start again with a named temporary file. */
            close(fd);
            return cmb_metadata_write_at(dirfd, name, text, len, flags | CMB_MD_NO_TMPFILE, rnd, rnd_user);
        }
        anonymous = false;
    }
    /* From here tmp names our file; make sure it still is before moving it into place. */
    struct stat mine, there;
    if (rc == CMBOOT_OK && (fstat(fd, &mine) != 0 || fstatat(dirfd, tmp, &there, AT_SYMLINK_NOFOLLOW) != 0 ||
                            mine.st_dev != there.st_dev || mine.st_ino != there.st_ino)) {
        close(fd);
        return CMBOOT_ERR_IO; /* the name is someone else's now (or gone): leave it alone */
    }
    if (rc == CMBOOT_OK && renameat(dirfd, tmp, dirfd, name) != 0)
        rc = cmb_error_from_errno(errno);
    if (rc != CMBOOT_OK && !anonymous)
        unlinkat(dirfd, tmp, 0); /* an anonymous file that was never linked just goes with its fd */
    if (close(fd) != 0 && rc == CMBOOT_OK)
        rc = CMBOOT_ERR_IO;
    /* The rename itself lasts only once the directory is on disk. */
    if (rc == CMBOOT_OK && fsync(dirfd) != 0)
        rc = CMBOOT_ERR_IO;
    return rc;
}

/* The serial names a file in dir and nothing else, with room for "-NNN.json". */
static int serial_check(const char *serial)
{
    if (cmboot_name_check(serial) != CMBOOT_OK || strchr(serial, '/') || serial[0] == '.' || strlen(serial) > 200)
        return CMBOOT_ERR_UNSAFE_NAME;
    return CMBOOT_OK;
}

static int open_dir(const char *dir)
{
    int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    return fd >= 0 ? fd : cmb_error_from_errno(errno);
}

static int write_file(int dirfd, const cmboot_metadata *md, const char *name)
{
    char *json = NULL;
    int rc = cmboot_metadata_to_json(md, &json);
    if (rc < 0)
        return rc;
    size_t len = strlen(json);
    char *text = realloc(json, len + 2);
    if (!text) {
        free(json);
        return CMBOOT_ERR_NO_MEMORY;
    }
    memcpy(text + len, "\n", 2);
    rc = cmb_metadata_write_at(dirfd, name, text, len + 1, 0, NULL, NULL);
    free(text);
    return rc;
}

int cmboot_metadata_write(const cmboot_metadata *md, const char *dir, const char *serial, char *path_out,
                          size_t path_size)
{
    if (!md || !dir || !serial)
        return CMBOOT_ERR_INVALID_ARG;
    int rc = serial_check(serial);
    if (rc < 0)
        return rc;
    int dirfd = open_dir(dir);
    if (dirfd < 0)
        return dirfd;
    char name[256];
    snprintf(name, sizeof name, "%s.json", serial);
    rc = write_file(dirfd, md, name);
    close(dirfd);
    if (rc == CMBOOT_OK && path_out && path_size)
        snprintf(path_out, path_size, "%s/%s", dir, name);
    return rc;
}

/* ---- One run's directory ---- */

#define SUFFIX_MAX 999

struct cmboot_metadata_dir {
    int fd;
    char *path;
    pthread_mutex_t mu;
    char **names; /* file names written (or being written) in this run */
    size_t count, cap;
};

int cmboot_metadata_dir_open(const char *dir, cmboot_metadata_dir **out)
{
    if (!dir || !out)
        return CMBOOT_ERR_INVALID_ARG;
    *out = NULL;
    cmboot_metadata_dir *d = calloc(1, sizeof *d);
    if (!d || !(d->path = strdup(dir))) {
        free(d);
        return CMBOOT_ERR_NO_MEMORY;
    }
    d->fd = open_dir(dir);
    if (d->fd < 0) {
        int rc = d->fd;
        free(d->path);
        free(d);
        return rc;
    }
    pthread_mutex_init(&d->mu, NULL);
    *out = d;
    return CMBOOT_OK;
}

static bool name_taken(const cmboot_metadata_dir *d, const char *name)
{
    for (size_t i = 0; i < d->count; i++)
        if (strcmp(d->names[i], name) == 0)
            return true;
    return false;
}

/* Picks and records the first of SERIAL.json, SERIAL-1.json, ... not yet written in this run. */
static int reserve(cmboot_metadata_dir *d, const char *serial, char *name, size_t size, unsigned *suffix)
{
    int rc = CMBOOT_ERR_TOO_LARGE;
    pthread_mutex_lock(&d->mu);
    for (unsigned n = 0; n <= SUFFIX_MAX; n++) {
        if (n)
            snprintf(name, size, "%s-%u.json", serial, n);
        else
            snprintf(name, size, "%s.json", serial);
        if (name_taken(d, name))
            continue;
        if (d->count == d->cap) {
            size_t cap = d->cap ? d->cap * 2 : 16;
            char **names = realloc(d->names, cap * sizeof *names);
            if (!names) {
                rc = CMBOOT_ERR_NO_MEMORY;
                break;
            }
            d->names = names;
            d->cap = cap;
        }
        if (!(d->names[d->count] = strdup(name))) {
            rc = CMBOOT_ERR_NO_MEMORY;
            break;
        }
        d->count++;
        *suffix = n;
        rc = CMBOOT_OK;
        break;
    }
    pthread_mutex_unlock(&d->mu);
    return rc;
}

static void release(cmboot_metadata_dir *d, const char *name)
{
    pthread_mutex_lock(&d->mu);
    for (size_t i = 0; i < d->count; i++) {
        if (strcmp(d->names[i], name) == 0) {
            free(d->names[i]);
            d->names[i] = d->names[--d->count];
            break;
        }
    }
    pthread_mutex_unlock(&d->mu);
}

int cmboot_metadata_dir_write(cmboot_metadata_dir *d, const cmboot_metadata *md, const char *serial, char *path_out,
                              size_t path_size, unsigned *suffix)
{
    if (!d || !md || !serial)
        return CMBOOT_ERR_INVALID_ARG;
    int rc = serial_check(serial);
    if (rc < 0)
        return rc;
    char name[256];
    unsigned n = 0;
    rc = reserve(d, serial, name, sizeof name, &n);
    if (rc < 0)
        return rc;
    rc = write_file(d->fd, md, name);
    if (rc < 0) {
        release(d, name); /* nothing of ours is there: a later board may have the name */
        return rc;
    }
    if (suffix)
        *suffix = n;
    if (path_out && path_size)
        snprintf(path_out, path_size, "%s/%s", d->path, name);
    return CMBOOT_OK;
}

void cmboot_metadata_dir_close(cmboot_metadata_dir *d)
{
    if (!d)
        return;
    for (size_t i = 0; i < d->count; i++)
        free(d->names[i]);
    free(d->names);
    pthread_mutex_destroy(&d->mu);
    close(d->fd);
    free(d->path);
    free(d);
}
