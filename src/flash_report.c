/* Flash report: one JSON document per board with identity, image, bytes, time per phase and result. */
#include "flash_internal.h"

#include <json-c/json.h>
#include <stdlib.h>
#include <string.h>

#include "cmboot/error.h"

static void add_str(json_object *o, const char *key, const char *v)
{
    json_object_object_add(o, key, v ? json_object_new_string(v) : json_object_new_null());
}

int cmboot_flash_report_json(const cmboot_flash_report *rep, char **out)
{
    if (!rep || !out || !rep->flash)
        return CMBOOT_ERR_INVALID_ARG;
    *out = NULL;
    const cmboot_flash_result *f = rep->flash;
    json_object *o = json_object_new_object();
    if (!o)
        return CMBOOT_ERR_NO_MEMORY;
    add_str(o, "serial", rep->serial);
    add_str(o, "port_path", rep->port_path);
    add_str(o, "soc", rep->soc);
    json_object *md = NULL;
    if (rep->metadata_json && *rep->metadata_json) {
        md = json_tokener_parse(rep->metadata_json);
        if (md && !json_object_is_type(md, json_type_object)) {
            json_object_put(md);
            md = NULL;
        }
    }
    json_object_object_add(o, "metadata", md ? md : json_object_new_object());
    add_str(o, "image", rep->image);
    add_str(o, "bmap", rep->bmap);
    add_str(o, "target", rep->target);
    add_str(o, "format", f->format);
    if (f->image_sha256_valid) {
        char hex[65];
        cmboot_flash_hex(f->image_sha256, 32, hex);
        add_str(o, "image_sha256", hex);
    } else {
        add_str(o, "image_sha256", NULL);
    }
    json_object_object_add(o, "image_size", json_object_new_int64((int64_t)f->image_size));
    json_object_object_add(o, "bytes_written", json_object_new_int64((int64_t)f->bytes_written));
    json_object_object_add(o, "bytes_verified", json_object_new_int64((int64_t)f->bytes_verified));
    json_object_object_add(o, "verified", json_object_new_boolean(f->verified));
    json_object *ph = json_object_new_object();
    if (rep->boot_ms >= 0)
        json_object_object_add(ph, "boot_ms", json_object_new_int64(rep->boot_ms));
    if (rep->pair_ms >= 0)
        json_object_object_add(ph, "pair_ms", json_object_new_int64(rep->pair_ms));
    /* Fixed-width names: a char table needs no relocation, so it stays read-only data. */
    static const char names[CMBOOT_FLASH_PHASES][10] = {"check_ms", "write_ms", "sync_ms", "verify_ms"};
    for (int i = 0; i < CMBOOT_FLASH_PHASES; i++)
        json_object_object_add(ph, names[i], json_object_new_int64(f->phase_ms[i]));
    json_object_object_add(o, "phases", ph);
    add_str(o, "result", f->error == CMBOOT_OK ? "ok" : cmboot_error_name(f->error));
    if (f->error != CMBOOT_OK)
        add_str(o, "reason", f->reason[0] ? f->reason : cmboot_strerror(f->error));
    if (f->fail_offset_valid)
        json_object_object_add(o, "fail_offset", json_object_new_int64((int64_t)f->fail_offset));
    cmboot_flash_report_target(o, f);
    const char *text = json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN);
    *out = text ? strdup(text) : NULL;
    json_object_put(o);
    return *out ? CMBOOT_OK : CMBOOT_ERR_NO_MEMORY;
}
