/* Board metadata (*KEY*VALUE): bounded collection, JSON with json-c, atomic write of DIR/<serial>.json. */
#include <errno.h>
#include <fcntl.h>
#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cmboot/error.h"
#include "cmboot/files.h"
#include "cmboot/metadata.h"
#include "error_internal.h"

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
    if (!md || !key || !value || !*key)
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

int cmboot_metadata_to_json(const cmboot_metadata *md, char **json_out)
{
    if (!md || !json_out)
        return CMBOOT_ERR_INVALID_ARG;
    json_object *obj = json_object_new_object();
    if (!obj)
        return CMBOOT_ERR_NO_MEMORY;
    int rc = CMBOOT_OK;
    for (size_t i = 0; i < md->count && rc == CMBOOT_OK; i++) {
        const md_entry *e = &md->entries[i];
        const char *value = e->value;
        char decoded[METADATA_VALUE_MAX * 2];
        if (strcmp(e->key, "FACTORY_UUID") == 0 && cmboot_c40_decode(e->value, decoded, sizeof decoded) == 0) {
            value = decoded;
            if (json_object_object_add(obj, "FACTORY_UUID_RAW", json_object_new_string(e->value)) != 0)
                rc = CMBOOT_ERR_NO_MEMORY;
        }
        if (json_object_object_add(obj, e->key, json_object_new_string(value)) != 0)
            rc = CMBOOT_ERR_NO_MEMORY;
    }
    if (rc == CMBOOT_OK) {
        const char *text = json_object_to_json_string_ext(obj, JSON_C_TO_STRING_PRETTY | JSON_C_TO_STRING_SPACED);
        *json_out = text ? strdup(text) : NULL;
        if (!*json_out)
            rc = CMBOOT_ERR_NO_MEMORY;
    }
    json_object_put(obj);
    return rc;
}

int cmboot_metadata_write(const cmboot_metadata *md, const char *dir, const char *serial, char *path_out,
                          size_t path_size)
{
    if (!md || !dir || !serial)
        return CMBOOT_ERR_INVALID_ARG;
    /* The serial comes from the device: it names a file in dir and nothing else. */
    if (cmboot_name_check(serial) != CMBOOT_OK || strchr(serial, '/') || serial[0] == '.')
        return CMBOOT_ERR_UNSAFE_NAME;
    char *json = NULL;
    int rc = cmboot_metadata_to_json(md, &json);
    if (rc < 0)
        return rc;
    char path[4096], tmp[4200];
    snprintf(path, sizeof path, "%s/%s.json", dir, serial);
    snprintf(tmp, sizeof tmp, "%s/.%s.json.%ld.tmp", dir, serial, (long)getpid());
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0644);
    if (fd < 0) {
        rc = cmboot_error_from_errno(errno);
        free(json);
        return rc;
    }
    size_t len = strlen(json);
    ssize_t n = write(fd, json, len);
    int ok = n == (ssize_t)len && write(fd, "\n", 1) == 1 && fsync(fd) == 0;
    ok = close(fd) == 0 && ok;
    free(json);
    if (!ok || rename(tmp, path) != 0) {
        unlink(tmp);
        return CMBOOT_ERR_IO;
    }
    if (path_out && path_size)
        snprintf(path_out, path_size, "%s", path);
    return CMBOOT_OK;
}
