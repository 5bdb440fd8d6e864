/* A record in memory: defaults, filling one from a flash report, column texts, JSON and CSV export. */
#include "records_internal.h"

#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cmboot/error.h"

const char cmb_rec_columns[] = "attempt_id, finished_ms, station, port_path, serial, soc, mac, emmc_cid, "
                               "factory_uuid, metadata_json, image, image_size, image_sha256, bmap, "
                               "bytes_written, boot_ms, pair_ms, check_ms, write_ms, sync_ms, verify_ms, "
                               "result, error, report_json";

int cmboot_record_init(cmboot_record *rec, size_t struct_size)
{
    if (!rec || struct_size < sizeof(size_t))
        return CMBOOT_ERR_INVALID_ARG;
    cmboot_record d;
    memset(&d, 0, sizeof d);
    d.struct_size = sizeof d;
    d.image_size = d.bytes_written = -1;
    d.boot_ms = d.pair_ms = d.check_ms = d.write_ms = d.sync_ms = d.verify_ms = -1;
    size_t n = struct_size < sizeof d ? struct_size : sizeof d;
    memcpy(rec, &d, n);
    rec->struct_size = struct_size;
    return CMBOOT_OK;
}

struct cmboot_record_holder {
    json_object *doc;
    char *metadata;
};

void cmboot_record_holder_free(cmboot_record_holder *h)
{
    if (!h)
        return;
    json_object_put(h->doc);
    free(h->metadata);
    free(h);
}

static const char *jstr(json_object *o, const char *key)
{
    json_object *v;
    if (!o || !json_object_object_get_ex(o, key, &v) || !json_object_is_type(v, json_type_string))
        return NULL;
    return json_object_get_string(v);
}

static int64_t jint(json_object *o, const char *key)
{
    json_object *v;
    if (!o || !json_object_object_get_ex(o, key, &v) || !json_object_is_type(v, json_type_int))
        return -1;
    return json_object_get_int64(v);
}

int cmboot_record_from_report(const char *report_json, cmboot_record *rec, cmboot_record_holder **holder)
{
    if (!report_json || !rec || !holder || rec->struct_size < sizeof *rec)
        return CMBOOT_ERR_INVALID_ARG;
    *holder = NULL;
    cmboot_record_holder *h = calloc(1, sizeof *h);
    if (!h)
        return CMBOOT_ERR_NO_MEMORY;
    h->doc = json_tokener_parse(report_json);
    if (!h->doc || !json_object_is_type(h->doc, json_type_object) || !jstr(h->doc, "result")) {
        cmboot_record_holder_free(h);
        return CMBOOT_ERR_FORMAT;
    }
    json_object *o = h->doc, *md = NULL, *ph = NULL;
    if (!json_object_object_get_ex(o, "metadata", &md) || !json_object_is_type(md, json_type_object))
        md = NULL;
    if (!json_object_object_get_ex(o, "phases", &ph) || !json_object_is_type(ph, json_type_object))
        ph = NULL;
    if (md) {
        const char *t = json_object_to_json_string_ext(md, JSON_C_TO_STRING_PLAIN);
        h->metadata = t ? strdup(t) : NULL;
    }
    rec->port_path = jstr(o, "port_path");
    rec->serial = jstr(o, "serial");
    rec->soc = jstr(o, "soc");
    rec->mac = jstr(md, "MAC_ADDR");
    rec->emmc_cid = jstr(md, "EMMC_CID");
    rec->factory_uuid = jstr(md, "FACTORY_UUID");
    rec->metadata_json = h->metadata;
    rec->image = jstr(o, "image");
    rec->image_size = jint(o, "image_size");
    rec->image_sha256 = jstr(o, "image_sha256");
    rec->bmap = jstr(o, "bmap");
    rec->bytes_written = jint(o, "bytes_written");
    rec->boot_ms = jint(ph, "boot_ms");
    rec->pair_ms = jint(ph, "pair_ms");
    rec->check_ms = jint(ph, "check_ms");
    rec->write_ms = jint(ph, "write_ms");
    rec->sync_ms = jint(ph, "sync_ms");
    rec->verify_ms = jint(ph, "verify_ms");
    rec->result = jstr(o, "result");
    rec->error = jstr(o, "reason");
    rec->report_json = report_json;
    *holder = h;
    return CMBOOT_OK;
}

/* Numbers below 0 mean unknown: SQL NULL, so sums and averages skip them. */
static const char *num(char *buf, int64_t v)
{
    if (v < 0)
        return NULL;
    snprintf(buf, 24, "%lld", (long long)v);
    return buf;
}

void cmb_rec_to_texts(const cmboot_record *r, cmb_rec_texts *t)
{
    const char **v = t->v;
    v[0] = r->attempt_id;
    v[1] = num(t->buf[1], r->finished_ms);
    v[2] = r->station;
    v[3] = r->port_path;
    v[4] = r->serial;
    v[5] = r->soc;
    v[6] = r->mac;
    v[7] = r->emmc_cid;
    v[8] = r->factory_uuid;
    v[9] = r->metadata_json;
    v[10] = r->image;
    v[11] = num(t->buf[11], r->image_size);
    v[12] = r->image_sha256;
    v[13] = r->bmap;
    v[14] = num(t->buf[14], r->bytes_written);
    const int64_t ph[6] = {r->boot_ms, r->pair_ms, r->check_ms, r->write_ms, r->sync_ms, r->verify_ms};
    for (int i = 0; i < 6; i++)
        v[15 + i] = num(t->buf[15 + i], ph[i]);
    v[21] = r->result;
    v[22] = r->error;
    v[23] = r->report_json;
}

static int64_t parse_num(const char *s)
{
    return s && *s ? strtoll(s, NULL, 10) : -1;
}

int cmb_rec_from_texts(const char *const vals[CMB_REC_NCOLS], cmboot_record *rec, char **strings)
{
    /* Every string column copied into one block, so the list frees one pointer per row. */
    static const int str_cols[] = {2, 3, 4, 5, 6, 7, 8, 9, 10, 12, 13, 21, 22, 23};
    size_t total = 0;
    for (size_t i = 0; i < sizeof str_cols / sizeof str_cols[0]; i++)
        if (vals[str_cols[i]])
            total += strlen(vals[str_cols[i]]) + 1;
    char *block = malloc(total ? total : 1);
    if (!block)
        return CMBOOT_ERR_NO_MEMORY;
    cmboot_record_default(rec);
    const char *s[CMB_REC_NCOLS] = {0};
    char *p = block;
    for (size_t i = 0; i < sizeof str_cols / sizeof str_cols[0]; i++) {
        const char *src = vals[str_cols[i]];
        if (!src)
            continue;
        size_t n = strlen(src) + 1;
        memcpy(p, src, n);
        s[str_cols[i]] = p;
        p += n;
    }
    snprintf(rec->attempt_id, sizeof rec->attempt_id, "%s", vals[0] ? vals[0] : "");
    rec->finished_ms = parse_num(vals[1]);
    rec->station = s[2];
    rec->port_path = s[3];
    rec->serial = s[4];
    rec->soc = s[5];
    rec->mac = s[6];
    rec->emmc_cid = s[7];
    rec->factory_uuid = s[8];
    rec->metadata_json = s[9];
    rec->image = s[10];
    rec->image_size = parse_num(vals[11]);
    rec->image_sha256 = s[12];
    rec->bmap = s[13];
    rec->bytes_written = parse_num(vals[14]);
    int64_t *ph[6] = {&rec->boot_ms, &rec->pair_ms, &rec->check_ms, &rec->write_ms, &rec->sync_ms, &rec->verify_ms};
    for (int i = 0; i < 6; i++)
        *ph[i] = parse_num(vals[15 + i]);
    rec->result = s[21];
    rec->error = s[22];
    rec->report_json = s[23];
    *strings = block;
    return CMBOOT_OK;
}

/* ---- export ---- */

static void add_s(json_object *o, const char *k, const char *v)
{
    json_object_object_add(o, k, v ? json_object_new_string(v) : json_object_new_null());
}

static void add_n(json_object *o, const char *k, int64_t v)
{
    json_object_object_add(o, k, v >= 0 ? json_object_new_int64(v) : json_object_new_null());
}

int cmboot_record_json(const cmboot_record *r, char **out)
{
    if (!r || !out)
        return CMBOOT_ERR_INVALID_ARG;
    *out = NULL;
    json_object *o = json_object_new_object();
    if (!o)
        return CMBOOT_ERR_NO_MEMORY;
    add_s(o, "attempt_id", r->attempt_id);
    add_n(o, "finished_ms", r->finished_ms);
    add_s(o, "station", r->station);
    add_s(o, "port_path", r->port_path);
    add_s(o, "serial", r->serial);
    add_s(o, "soc", r->soc);
    add_s(o, "mac", r->mac);
    add_s(o, "emmc_cid", r->emmc_cid);
    add_s(o, "factory_uuid", r->factory_uuid);
    json_object *md = r->metadata_json ? json_tokener_parse(r->metadata_json) : NULL;
    json_object_object_add(o, "metadata", md ? md : json_object_new_null());
    add_s(o, "image", r->image);
    add_n(o, "image_size", r->image_size);
    add_s(o, "image_sha256", r->image_sha256);
    add_s(o, "bmap", r->bmap);
    add_n(o, "bytes_written", r->bytes_written);
    json_object *ph = json_object_new_object();
    add_n(ph, "boot_ms", r->boot_ms);
    add_n(ph, "pair_ms", r->pair_ms);
    add_n(ph, "check_ms", r->check_ms);
    add_n(ph, "write_ms", r->write_ms);
    add_n(ph, "sync_ms", r->sync_ms);
    add_n(ph, "verify_ms", r->verify_ms);
    json_object_object_add(o, "phases", ph);
    add_s(o, "result", r->result);
    add_s(o, "error", r->error);
    const char *t = json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN);
    *out = t ? strdup(t) : NULL;
    json_object_put(o);
    return *out ? CMBOOT_OK : CMBOOT_ERR_NO_MEMORY;
}

const char *cmboot_record_csv_header(void)
{
    return "attempt_id,finished_utc,station,port_path,serial,soc,mac,emmc_cid,factory_uuid,image,image_size,"
           "image_sha256,bmap,bytes_written,boot_ms,pair_ms,check_ms,write_ms,sync_ms,verify_ms,result,error";
}

/* Appends one CSV field: quoted when it holds a comma, quote or line break; a formula lead gets a '. */
static int csv_field(char **buf, size_t *len, size_t *cap, const char *v, bool first)
{
    size_t need = *len + (v ? 2 * strlen(v) : 0) + 8;
    if (need > *cap) {
        size_t nc = need * 2;
        char *nb = realloc(*buf, nc);
        if (!nb)
            return CMBOOT_ERR_NO_MEMORY;
        *buf = nb;
        *cap = nc;
    }
    char *p = *buf + *len;
    if (!first)
        *p++ = ',';
    if (v) {
        bool formula = strchr("=+-@", v[0]) && v[0];
        bool quote = formula || strpbrk(v, ",\"\r\n") != NULL;
        if (quote)
            *p++ = '"';
        if (formula)
            *p++ = '\'';
        for (const char *s = v; *s; s++) {
            if (*s == '"')
                *p++ = '"';
            *p++ = *s;
        }
        if (quote)
            *p++ = '"';
    }
    *p = 0;
    *len = (size_t)(p - *buf);
    return CMBOOT_OK;
}

int cmboot_record_csv(const cmboot_record *r, char **out)
{
    if (!r || !out)
        return CMBOOT_ERR_INVALID_ARG;
    *out = NULL;
    char when[32] = "";
    if (r->finished_ms >= 0) {
        time_t sec = (time_t)(r->finished_ms / 1000);
        struct tm tm;
        if (gmtime_r(&sec, &tm))
            strftime(when, sizeof when, "%Y-%m-%dT%H:%M:%SZ", &tm);
    }
    char nb[9][24];
    const int64_t nums[9] = {r->image_size, r->bytes_written, r->boot_ms,   r->pair_ms, r->check_ms,
                             r->write_ms,   r->sync_ms,       r->verify_ms, 0};
    const char *f[22] = {r->attempt_id,
                         when,
                         r->station,
                         r->port_path,
                         r->serial,
                         r->soc,
                         r->mac,
                         r->emmc_cid,
                         r->factory_uuid,
                         r->image,
                         num(nb[0], nums[0]),
                         r->image_sha256,
                         r->bmap,
                         num(nb[1], nums[1]),
                         num(nb[2], nums[2]),
                         num(nb[3], nums[3]),
                         num(nb[4], nums[4]),
                         num(nb[5], nums[5]),
                         num(nb[6], nums[6]),
                         num(nb[7], nums[7]),
                         r->result,
                         r->error};
    char *buf = NULL;
    size_t len = 0, cap = 0;
    for (int i = 0; i < 22; i++) {
        if (csv_field(&buf, &len, &cap, f[i], i == 0) != CMBOOT_OK) {
            free(buf);
            return CMBOOT_ERR_NO_MEMORY;
        }
    }
    *out = buf;
    return CMBOOT_OK;
}
