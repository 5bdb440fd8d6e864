/* Flash report: one JSON document per board with identity, image, bytes, time per phase and result. */
#include "flash_internal.h"

#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cmboot/error.h"
#include "cmboot/text.h"

/* Adds a string made valid UTF-8 (NULL as null); a field that needed escaping is named in san. */
static void add_str(json_object *o, json_object *san, const char *key, const char *v)
{
    if (!v) {
        json_object_object_add(o, key, json_object_new_null());
        return;
    }
    bool changed = false;
    char *clean = cmboot_text_utf8(v, &changed);
    json_object_object_add(o, key, json_object_new_string(clean ? clean : ""));
    if (changed || !clean)
        json_object_array_add(san, json_object_new_string(key));
    free(clean);
}

/* What is on the disk now, from what the writer and the read-back got to: a short state and a sentence. */
static const char *disk_state(const cmboot_flash_result *f, char *detail, size_t size)
{
    unsigned long long w = (unsigned long long)f->bytes_written;
    if (f->error == CMBOOT_OK && f->not_read_back) { /* fastboot: a gadget without fetch, or verify off */
        snprintf(detail, size, "the whole image was written, not read back: nothing checked what the board holds");
        return "written";
    }
    if (f->error == CMBOOT_OK) {
        snprintf(detail, size,
                 f->verified ? "the whole image was written and read back identical"
                             : "the whole image was written; it was not read back");
        return f->verified ? "verified" : "written";
    }
    if (f->bytes_written == 0) {
        snprintf(detail, size, "nothing was written: the disk holds what it held before");
        return "unchanged";
    }
    /* The image digest exists only once the whole image went through, and verification starts only then. */
    if (f->image_sha256_valid || f->bytes_verified > 0) {
        if (f->error == CMBOOT_ERR_VERIFY) {
            snprintf(detail, size,
                     "the whole image was written (%llu bytes) but the disk does not read back as "
                     "the image: do not use it",
                     w);
            return "mismatch";
        }
        snprintf(detail, size,
                 "the whole image was written (%llu bytes) but verification stopped after %llu "
                 "bytes: do not trust the disk until it is verified",
                 w, (unsigned long long)f->bytes_verified);
        return "unverified";
    }
    snprintf(detail, size,
             "%llu bytes of the image were written before it stopped: the disk holds neither "
             "its old contents nor a usable image",
             w);
    return "partial";
}

int cmboot_flash_report_json(const cmboot_flash_report *caller_rep, char **out)
{
    if (!out)
        return CMBOOT_ERR_INVALID_ARG;
    *out = NULL;
    cmboot_flash_report full_rep;
    cmboot_flash_result full_res;
    if (cmb_flash_report_load(caller_rep, &full_rep) != CMBOOT_OK || !full_rep.flash ||
        cmb_flash_result_load(full_rep.flash, &full_res) != CMBOOT_OK)
        return CMBOOT_ERR_INVALID_ARG;
    const cmboot_flash_report *rep = &full_rep;
    const cmboot_flash_result *f = &full_res;
    json_object *o = json_object_new_object();
    if (!o)
        return CMBOOT_ERR_NO_MEMORY;
    json_object *san = json_object_new_array();
    if (!san) {
        json_object_put(o);
        return CMBOOT_ERR_NO_MEMORY;
    }
    add_str(o, san, "serial", rep->serial);
    add_str(o, san, "port_path", rep->port_path);
    add_str(o, san, "soc", rep->soc);
    json_object *md = NULL;
    if (rep->metadata_json && *rep->metadata_json) {
        /* Invalid bytes can only sit inside its strings: escaped there, the text stays the same JSON. */
        bool changed = false;
        char *clean = cmboot_text_json(rep->metadata_json, &changed);
        md = clean ? json_tokener_parse(clean) : NULL;
        free(clean);
        if (md && !json_object_is_type(md, json_type_object)) {
            json_object_put(md);
            md = NULL;
        }
        if (md && changed)
            json_object_array_add(san, json_object_new_string("metadata"));
    }
    json_object_object_add(o, "metadata", md ? md : json_object_new_object());
    add_str(o, san, "image", rep->image);
    add_str(o, san, "bmap", rep->bmap);
    add_str(o, san, "target", rep->target);
    add_str(o, san, "format", f->format);
    if (f->image_sha256_valid) {
        char hex[65];
        cmb_flash_hex(f->image_sha256, 32, hex);
        add_str(o, san, "image_sha256", hex);
    } else {
        add_str(o, san, "image_sha256", NULL);
    }
    json_object_object_add(o, "image_size", json_object_new_int64((int64_t)f->image_size));
    json_object_object_add(o, "bytes_written", json_object_new_int64((int64_t)f->bytes_written));
    json_object_object_add(o, "bytes_verified", json_object_new_int64((int64_t)f->bytes_verified));
    json_object_object_add(o, "verified", json_object_new_boolean(f->verified));
    if (f->via_fastboot) { /* only then: the report of a disk keeps its keys */
        add_str(o, san, "via", "fastboot");
        json_object_object_add(o, "read_back", json_object_new_boolean(!f->not_read_back));
    }
    if (rep->via_reason && rep->via_reason[0]) /* loaded: NULL past the caller's struct */
        add_str(o, san, "via_reason", rep->via_reason);
    char detail[256];
    add_str(o, san, "disk_state", disk_state(f, detail, sizeof detail));
    add_str(o, san, "disk", detail);
    json_object *ph = json_object_new_object();
    if (rep->boot_ms >= 0)
        json_object_object_add(ph, "boot_ms", json_object_new_int64(rep->boot_ms));
    if (rep->pair_ms >= 0)
        json_object_object_add(ph, "pair_ms", json_object_new_int64(rep->pair_ms));
    /* Fixed-width names: a char table needs no relocation, so it stays read-only data. */
    static const char names[CMBOOT_FLASH_PHASES][10] = {"check_ms", "write_ms", "sync_ms", "verify_ms"};
    for (int i = 0; i < CMBOOT_FLASH_PHASES; i++)
        json_object_object_add(ph, names[i], json_object_new_int64(cmboot_flash_result_phase_ms(f, i)));
    json_object_object_add(o, "phases", ph);
    add_str(o, san, "result", f->error == CMBOOT_OK ? "ok" : cmboot_error_name(f->error));
    if (f->error != CMBOOT_OK)
        add_str(o, san, "reason", f->reason[0] ? f->reason : cmboot_strerror(f->error));
    if (f->fail_offset_valid)
        json_object_object_add(o, "fail_offset", json_object_new_int64((int64_t)f->fail_offset));
    cmb_flash_report_target(o, f);
    /* Fields whose bytes were not valid UTF-8 (escaped as \xNN); empty when none. */
    json_object_object_add(o, "sanitized", san);
    const char *text = json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN);
    /* Raw C1/bidi characters (valid UTF-8) leave as \u escapes, harmless on a terminal. */
    *out = text ? cmboot_text_json(text, NULL) : NULL;
    json_object_put(o);
    return *out ? CMBOOT_OK : CMBOOT_ERR_NO_MEMORY;
}
