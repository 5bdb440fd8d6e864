/* The status page's state from the line's events: rows per port path, counts, latest records, as JSON. */
#include "status_model.h"

#include <json-c/json.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cmboot/cmboot.h"
#include "cmboot/text.h"

typedef struct sm_row {
    char port[64];
    char serial[CMBOOT_SERIAL_MAX];
    char soc[32];
    char state[16]; /* booting, flashing, control, done, failed */
    char phase[32];
    char detail[96];
    uint64_t done, total;
    int64_t prog_elapsed_ms, phase_started, started;
    bool finished;
    /* the last board finished on this port (kept while the next one runs) */
    bool has_last;
    char last_result[48];
    char last_serial[CMBOOT_SERIAL_MAX];
    char last_reason[160];
    int64_t last_wall_ms;
    uint64_t last_bytes;
    bool last_verified;
    unsigned boards; /* finished on this port */
} sm_row;

struct status_model {
    status_model_config cfg;
    char station[128];
    pthread_mutex_t mu;
    pthread_cond_t cv;
    sm_row **rows; /* in port path order */
    size_t nrows, cap;
    unsigned done, failed;
    int64_t first_board; /* monotonic ms of the first board's first event, -1 = none yet */
    char *records;       /* JSON array text or NULL */
    bool day_known;
    unsigned day_ok, day_failed;
    uint64_t version;
    bool stop;
};

static int64_t mono(const status_model *m)
{
    return m->cfg.clock_ms ? m->cfg.clock_ms(m->cfg.clock_user) : cmboot_now_ms();
}

static int64_t wall(const status_model *m)
{
    if (m->cfg.wall_ms)
        return m->cfg.wall_ms(m->cfg.clock_user);
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void copy(char *dst, size_t size, const char *src)
{
    snprintf(dst, size, "%s", src ? src : "");
}

status_model *status_model_new(const status_model_config *cfg)
{
    status_model *m = calloc(1, sizeof *m);
    if (!m)
        return NULL;
    if (cfg)
        m->cfg = *cfg;
    copy(m->station, sizeof m->station, m->cfg.station);
    m->cfg.station = NULL;
    m->first_board = -1;
    pthread_mutex_init(&m->mu, NULL);
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&m->cv, &ca);
    pthread_condattr_destroy(&ca);
    return m;
}

void status_model_free(status_model *m)
{
    if (!m)
        return;
    for (size_t i = 0; i < m->nrows; i++)
        free(m->rows[i]);
    free(m->rows);
    free(m->records);
    pthread_cond_destroy(&m->cv);
    pthread_mutex_destroy(&m->mu);
    free(m);
}

static void changed_locked(status_model *m)
{
    m->version++;
    pthread_cond_broadcast(&m->cv);
}

static sm_row *row_for(status_model *m, const char *port)
{
    for (size_t i = 0; i < m->nrows; i++)
        if (strcmp(m->rows[i]->port, port) == 0)
            return m->rows[i];
    if (m->nrows == m->cap) {
        size_t cap = m->cap ? m->cap * 2 : 8;
        sm_row **rows = realloc(m->rows, cap * sizeof *rows);
        if (!rows)
            return NULL;
        m->rows = rows;
        m->cap = cap;
    }
    sm_row *r = calloc(1, sizeof *r);
    if (!r)
        return NULL;
    copy(r->port, sizeof r->port, port);
    r->finished = true; /* no board yet: the first event starts one */
    size_t at = m->nrows;
    while (at > 0 && cmboot_port_path_compare(m->rows[at - 1]->port, r->port) > 0)
        at--;
    memmove(m->rows + at + 1, m->rows + at, (m->nrows - at) * sizeof *m->rows);
    m->rows[at] = r;
    m->nrows++;
    return r;
}

static void start_phase(status_model *m, sm_row *r, const char *state, const char *phase, const char *detail)
{
    if (state)
        copy(r->state, sizeof r->state, state);
    copy(r->phase, sizeof r->phase, phase);
    copy(r->detail, sizeof r->detail, detail);
    r->done = r->total = 0;
    r->prog_elapsed_ms = 0;
    r->phase_started = mono(m);
}

static const char *or_empty(const char *s)
{
    return s ? s : "";
}

void status_model_event(status_model *m, const cmboot_event *ev)
{
    if (!m || !ev)
        return;
    const char *name = or_empty(ev->name), *value = or_empty(ev->value);
    pthread_mutex_lock(&m->mu);
    bool new_board = ev->type == CMBOOT_EV_DEVICE_SEEN || ev->type == CMBOOT_EV_STAGE_START ||
                     (ev->type == CMBOOT_EV_PHASE && strcmp(name, "check") == 0);
    sm_row *r = row_for(m, or_empty(ev->device_id));
    if (!r || (r->finished && !new_board)) { /* a finished board's late events change nothing */
        pthread_mutex_unlock(&m->mu);
        return;
    }
    if (r->finished) { /* the next board on this port */
        r->finished = false;
        r->serial[0] = r->soc[0] = 0;
        r->started = mono(m);
        if (m->first_board < 0)
            m->first_board = r->started;
    }
    if (ev->serial && ev->serial[0])
        copy(r->serial, sizeof r->serial, ev->serial);
    if (ev->soc && ev->soc[0])
        copy(r->soc, sizeof r->soc, ev->soc);
    switch (ev->type) {
    case CMBOOT_EV_DEVICE_SEEN: start_phase(m, r, "booting", "found", ev->stage); break;
    case CMBOOT_EV_STAGE_START: start_phase(m, r, "booting", or_empty(ev->stage), ""); break;
    case CMBOOT_EV_FILE: copy(r->detail, sizeof r->detail, name); break;
    case CMBOOT_EV_PROGRESS:
        r->done = ev->done;
        r->total = ev->total;
        r->prog_elapsed_ms = (int64_t)ev->elapsed_ms;
        break;
    case CMBOOT_EV_BOARD_DONE: start_phase(m, r, "booting", ev->error ? "boot failed" : "booted", value); break;
    case CMBOOT_EV_CONTROL: start_phase(m, r, "control", name, value); break;
    case CMBOOT_EV_PHASE:
        if (strcmp(name, "done") != 0 && strcmp(name, "failed") != 0) { /* the result comes by _result */
            start_phase(m, r, "flashing", name, value);
            r->total = ev->total;
        }
        break;
    default: break;
    }
    changed_locked(m);
    pthread_mutex_unlock(&m->mu);
}

void status_model_result(status_model *m, const char *port_path, const char *serial, int error, const char *reason,
                         uint64_t bytes, bool verified)
{
    if (!m)
        return;
    pthread_mutex_lock(&m->mu);
    sm_row *r = row_for(m, or_empty(port_path));
    if (!r) {
        pthread_mutex_unlock(&m->mu);
        return;
    }
    if (serial && serial[0])
        copy(r->serial, sizeof r->serial, serial);
    bool ok = error == CMBOOT_OK;
    r->finished = true;
    copy(r->state, sizeof r->state, ok ? "done" : "failed");
    r->has_last = true;
    copy(r->last_result, sizeof r->last_result, ok ? "ok" : cmboot_error_name(error));
    copy(r->last_serial, sizeof r->last_serial, r->serial);
    copy(r->last_reason, sizeof r->last_reason, ok ? "" : reason && reason[0] ? reason : cmboot_strerror(error));
    r->last_wall_ms = wall(m);
    r->last_bytes = bytes;
    r->last_verified = verified;
    r->boards++;
    if (ok)
        m->done++;
    else
        m->failed++;
    changed_locked(m);
    pthread_mutex_unlock(&m->mu);
}

void status_model_set_records(status_model *m, const char *records_json, bool day_known, unsigned day_ok,
                              unsigned day_failed)
{
    if (!m)
        return;
    char *dup = records_json ? strdup(records_json) : NULL;
    pthread_mutex_lock(&m->mu);
    free(m->records);
    m->records = dup;
    m->day_known = day_known;
    m->day_ok = day_ok;
    m->day_failed = day_failed;
    changed_locked(m);
    pthread_mutex_unlock(&m->mu);
}

/* Device-supplied text as valid UTF-8 (json-c escapes the rest). */
static void add_str(json_object *o, const char *key, const char *val)
{
    char *clean = cmboot_text_utf8(val ? val : "", NULL);
    json_object_object_add(o, key, json_object_new_string(clean ? clean : ""));
    free(clean);
}

static json_object *row_json(const status_model *m, const sm_row *r, int64_t now)
{
    json_object *o = json_object_new_object();
    add_str(o, "port", r->port);
    add_str(o, "state", r->finished ? (r->has_last ? r->state : "idle") : r->state);
    add_str(o, "phase", r->finished ? "" : r->phase);
    add_str(o, "detail", r->finished ? "" : r->detail);
    add_str(o, "serial", r->serial);
    add_str(o, "soc", r->soc);
    uint64_t done = r->finished ? 0 : r->done, total = r->finished ? 0 : r->total;
    json_object_object_add(o, "done", json_object_new_int64((int64_t)done));
    json_object_object_add(o, "total", json_object_new_int64((int64_t)total));
    int64_t ms = r->prog_elapsed_ms > 0 ? r->prog_elapsed_ms : now - r->phase_started;
    double rate = !r->finished && ms > 0 ? (double)done * 1000.0 / (double)ms : 0;
    json_object_object_add(o, "rate_bps", json_object_new_int64((int64_t)rate));
    int64_t eta = -1;
    if (rate > 0 && total >= done && total > 0)
        eta = (int64_t)((double)(total - done) * 1000.0 / rate);
    json_object_object_add(o, "eta_ms", json_object_new_int64(eta));
    json_object_object_add(
        o, "percent",
        json_object_new_int(total ? (int)(done >= total ? 100 : 100.0 * (double)done / (double)total) : -1));
    json_object_object_add(o, "elapsed_ms", json_object_new_int64(r->finished ? 0 : now - r->started));
    json_object_object_add(o, "boards", json_object_new_int((int)r->boards));
    if (r->has_last) {
        json_object *l = json_object_new_object();
        add_str(l, "result", r->last_result);
        add_str(l, "serial", r->last_serial);
        add_str(l, "reason", r->last_reason);
        json_object_object_add(l, "time_ms", json_object_new_int64(r->last_wall_ms));
        json_object_object_add(l, "bytes", json_object_new_int64((int64_t)r->last_bytes));
        json_object_object_add(l, "verified", json_object_new_boolean(r->last_verified));
        json_object_object_add(o, "last", l);
    } else {
        json_object_object_add(o, "last", NULL);
    }
    (void)m;
    return o;
}

char *status_model_json(status_model *m, uint64_t *version)
{
    json_object *o = json_object_new_object();
    pthread_mutex_lock(&m->mu);
    int64_t now = mono(m);
    add_str(o, "station", m->station);
    json_object_object_add(o, "time_ms", json_object_new_int64(wall(m)));
    json_object *rows = json_object_new_array();
    unsigned active = 0;
    for (size_t i = 0; i < m->nrows; i++) {
        json_object_array_add(rows, row_json(m, m->rows[i], now));
        active += !m->rows[i]->finished;
    }
    json_object_object_add(o, "rows", rows);
    json_object *c = json_object_new_object();
    json_object_object_add(c, "done", json_object_new_int((int)m->done));
    json_object_object_add(c, "failed", json_object_new_int((int)m->failed));
    json_object_object_add(c, "in_progress", json_object_new_int((int)active));
    int64_t since = m->first_board >= 0 ? now - m->first_board : 0;
    json_object_object_add(c, "boards_per_hour",
                           since >= 1000 ? json_object_new_double((double)m->done * 3600000.0 / (double)since) : NULL);
    json_object_object_add(c, "day_source", json_object_new_string(m->day_known ? "records" : "run"));
    json_object_object_add(c, "day_done", json_object_new_int((int)(m->day_known ? m->day_ok : m->done)));
    json_object_object_add(c, "day_failed", json_object_new_int((int)(m->day_known ? m->day_failed : m->failed)));
    json_object_object_add(o, "counts", c);
    json_object *rec = m->records ? json_tokener_parse(m->records) : NULL;
    if (rec && !json_object_is_type(rec, json_type_array)) {
        json_object_put(rec);
        rec = NULL;
    }
    json_object_object_add(o, "records", rec ? rec : json_object_new_array());
    json_object_object_add(o, "records_configured", json_object_new_boolean(m->records != NULL));
    if (version)
        *version = m->version;
    pthread_mutex_unlock(&m->mu);
    const char *text = json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN);
    char *out = text ? strdup(text) : NULL;
    json_object_put(o);
    return out;
}

uint64_t status_model_wait(status_model *m, uint64_t version, int timeout_ms)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    long ns = ts.tv_nsec + (long)(timeout_ms % 1000) * 1000000L;
    ts.tv_sec += timeout_ms / 1000 + ns / 1000000000L;
    ts.tv_nsec = ns % 1000000000L;
    pthread_mutex_lock(&m->mu);
    while (m->version == version && !m->stop)
        if (pthread_cond_timedwait(&m->cv, &m->mu, &ts) != 0)
            break;
    uint64_t v = m->version;
    pthread_mutex_unlock(&m->mu);
    return v;
}

void status_model_stop(status_model *m)
{
    pthread_mutex_lock(&m->mu);
    m->stop = true;
    pthread_cond_broadcast(&m->cv);
    pthread_mutex_unlock(&m->mu);
}

bool status_model_stopped(status_model *m)
{
    pthread_mutex_lock(&m->mu);
    bool s = m->stop;
    pthread_mutex_unlock(&m->mu);
    return s;
}

char *status_sse_frame(const char *event, const char *data)
{
    size_t n = strlen(event ? event : "") + strlen(data ? data : "");
    /* worst case: every byte of data a line of its own ("data: " + byte + "\n") */
    size_t cap = 16 + n * 8 + 16;
    char *out = malloc(cap), *p = out;
    if (!out)
        return NULL;
    if (event && event[0]) {
        /* the event name is ours, but keep it on one line all the same */
        p += sprintf(p, "event: ");
        for (const char *e = event; *e; e++)
            if (*e != '\n' && *e != '\r')
                *p++ = *e;
        *p++ = '\n';
    }
    p += sprintf(p, "data: ");
    for (const char *d = data ? data : ""; *d; d++) {
        if (*d == '\r' || *d == '\n') {
            if (*d == '\r' && d[1] == '\n')
                d++;
            p += sprintf(p, "\ndata: ");
        } else {
            *p++ = *d;
        }
    }
    *p++ = '\n';
    *p++ = '\n';
    *p = 0;
    return out;
}
