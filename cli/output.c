/* Drawing of logs, progress and events for the cmboot tool (the library only reports). */
#include <json-c/json.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cmboot/text.h"
#include "output.h"
#include "signals.h"

/* One process-wide lock so lines from board threads never interleave (CLI state, not library state). */
static pthread_mutex_t out_lock = PTHREAD_MUTEX_INITIALIZER;
static bool progress_drawn;
static bool stdout_gone; /* its reader went away: later lines are dropped, the report goes to stderr */

/* One line on stdout, with out_lock held; false once stdout cannot be written (then the run is cancelled,
 * as by a signal). JSON text leaves with raw C1/bidi characters escaped. */
static bool stdout_line_locked(const char *text, bool json)
{
    if (stdout_gone)
        return false;
    char *safe = json ? cmboot_text_json(text, NULL) : NULL;
    const char *line = safe ? safe : text;
    bool ok = fputs(line, stdout) >= 0 && fputc('\n', stdout) != EOF && fflush(stdout) == 0;
    free(safe);
    if (!ok) {
        stdout_gone = true;
        cli_cancel_stdout_gone();
    }
    return ok;
}

void cli_stdout_report(const char *text)
{
    pthread_mutex_lock(&out_lock);
    if (!stdout_line_locked(text, true)) {
        char *safe = cmboot_text_json(text, NULL);
        fprintf(stderr, "%s\n", safe ? safe : text);
        fflush(stderr);
        free(safe);
    }
    pthread_mutex_unlock(&out_lock);
}

bool cli_stdout_closed(void)
{
    pthread_mutex_lock(&out_lock);
    bool gone = stdout_gone;
    pthread_mutex_unlock(&out_lock);
    return gone;
}

/* A string field made valid UTF-8; its name goes into san when bytes had to be escaped. */
static void add_clean(json_object *o, json_object *san, const char *key, const char *v)
{
    bool changed = false;
    char *clean = cmboot_text_utf8(v ? v : "", &changed);
    json_object_object_add(o, key, json_object_new_string(clean ? clean : ""));
    if (changed || !clean)
        json_object_array_add(san, json_object_new_string(key));
    free(clean);
}

/* Adds "sanitized": [fields] when any field was escaped (then owns san), else frees san. */
static void add_sanitized(json_object *o, json_object *san)
{
    if (json_object_array_length(san) > 0)
        json_object_object_add(o, "sanitized", san);
    else
        json_object_put(san);
}

/* Terminal-safe copies of an event's device-supplied strings, for the human output. */
typedef struct safe_event {
    char *device_id, *serial, *soc, *stage, *name, *value;
} safe_event;

static const char *or_q(const char *s)
{
    return s ? s : "?";
}

static void safe_event_init(safe_event *s, const cmboot_event *ev)
{
    s->device_id = cmboot_text_terminal(ev->device_id, NULL);
    s->serial = cmboot_text_terminal(ev->serial, NULL);
    s->soc = cmboot_text_terminal(ev->soc, NULL);
    s->stage = cmboot_text_terminal(ev->stage, NULL);
    s->name = cmboot_text_terminal(ev->name, NULL);
    s->value = cmboot_text_terminal(ev->value, NULL);
}

static void safe_event_free(safe_event *s)
{
    free(s->device_id);
    free(s->serial);
    free(s->soc);
    free(s->stage);
    free(s->name);
    free(s->value);
}

void cli_output_init(cli_output *out, bool json, int verbosity)
{
    memset(out, 0, sizeof *out);
    out->json = json;
    out->tty = isatty(STDERR_FILENO) && !json;
    out->verbosity = verbosity;
}

cmboot_log_level cli_log_level(int verbosity)
{
    return verbosity >= 2 ? CMBOOT_LOG_DEBUG : verbosity ? CMBOOT_LOG_INFO : CMBOOT_LOG_WARN;
}

const char *cli_human_bytes(double bytes, char *buf, size_t size)
{
    const char *unit[] = {"B", "KiB", "MiB", "GiB", "TiB"};
    int u = 0;
    while (bytes >= 1024 && u < 4) {
        bytes /= 1024;
        u++;
    }
    snprintf(buf, size, u ? "%.1f %s" : "%.0f %s", bytes, unit[u]);
    return buf;
}

static void clear_progress(void)
{
    if (progress_drawn) {
        fputs("\r\033[K", stderr);
        progress_drawn = false;
    }
}

void cli_log_cb(void *user, const char *device_id, cmboot_log_level level, const char *msg)
{
    cli_output *out = user;
    pthread_mutex_lock(&out_lock);
    if (out->json) {
        json_object *o = json_object_new_object();
        json_object *san = json_object_new_array();
        json_object_object_add(o, "event", json_object_new_string("log"));
        json_object_object_add(o, "level", json_object_new_string(cmboot_log_level_name(level)));
        add_clean(o, san, "device", device_id);
        add_clean(o, san, "message", msg);
        add_sanitized(o, san);
        const char *text = json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN);
        char *safe = cmboot_text_json(text, NULL);
        fprintf(stderr, "%s\n", safe ? safe : text);
        free(safe);
        json_object_put(o);
    } else {
        clear_progress();
        /* Messages quote what boards send (file names, metadata): nothing in them may drive the terminal. */
        char *dev = cmboot_text_terminal(device_id, NULL), *text = cmboot_text_terminal(msg, NULL);
        const char *kind = level <= CMBOOT_LOG_WARN ? (level ? "warning: " : "error: ") : "";
        if (dev && *dev)
            fprintf(stderr, "[%s] %s%s\n", dev, kind, or_q(text));
        else
            fprintf(stderr, "%s%s\n", kind, or_q(text));
        free(dev);
        free(text);
    }
    pthread_mutex_unlock(&out_lock);
}

static void json_event(const cmboot_event *ev)
{
    json_object *o = json_object_new_object();
    json_object *san = json_object_new_array();
    json_object_object_add(o, "event", json_object_new_string(cmboot_event_type_name(ev->type)));
    add_clean(o, san, "device", ev->device_id);
    if (*ev->serial)
        add_clean(o, san, "serial", ev->serial);
    if (*ev->soc)
        add_clean(o, san, "soc", ev->soc);
    add_clean(o, san, "stage", ev->stage);
    if (*ev->name)
        add_clean(o, san, "name", ev->name);
    if (*ev->value)
        add_clean(o, san, "value", ev->value);
    if (ev->type == CMBOOT_EV_PROGRESS || ev->type == CMBOOT_EV_FILE) {
        json_object_object_add(o, "done", json_object_new_int64((int64_t)ev->done));
        json_object_object_add(o, "total", json_object_new_int64((int64_t)ev->total));
    }
    if (ev->json && *ev->json) {
        /* Invalid bytes can only be inside its strings: escaped there, it parses as the same JSON. */
        bool changed = false;
        char *clean = cmboot_text_json(ev->json, &changed);
        json_object *md = clean ? json_tokener_parse(clean) : NULL;
        free(clean);
        if (md) {
            json_object_object_add(o, "metadata", md);
            if (changed)
                json_object_array_add(san, json_object_new_string("metadata"));
        }
    }
    if (ev->error) {
        json_object_object_add(o, "error", json_object_new_string(cmboot_error_name(ev->error)));
    }
    json_object_object_add(o, "elapsed_ms", json_object_new_int64((int64_t)ev->elapsed_ms));
    add_sanitized(o, san);
    stdout_line_locked(json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN), true);
    json_object_put(o);
}

void cli_event_cb(void *user, const cmboot_event *ev)
{
    cli_output *out = user;
    pthread_mutex_lock(&out_lock);
    if (out->json) {
        json_event(ev);
        pthread_mutex_unlock(&out_lock);
        return;
    }
    char a[32], b[32];
    safe_event se;
    safe_event_init(&se, ev);
    const char *dev = or_q(se.device_id), *soc = or_q(se.soc), *stage = or_q(se.stage), *name = or_q(se.name),
               *value = or_q(se.value), *serial = or_q(se.serial);
    switch (ev->type) {
    case CMBOOT_EV_DEVICE_SEEN:
        clear_progress();
        fprintf(stderr, "[%s] %s board found (%s)\n", dev, *soc ? soc : "?", stage);
        break;
    case CMBOOT_EV_STAGE_START:
        if (out->verbosity >= 1) {
            clear_progress();
            fprintf(stderr, "[%s] stage %s\n", dev, stage);
        }
        break;
    case CMBOOT_EV_STAGE_DONE:
        clear_progress();
        fprintf(stderr, "[%s] %s stage %s in %llu ms\n", dev, stage, ev->error ? "failed" : "done",
                (unsigned long long)ev->elapsed_ms);
        break;
    case CMBOOT_EV_FILE:
        if (out->verbosity >= 1 || (ev->error && out->verbosity >= 1)) {
            clear_progress();
            fprintf(stderr, "[%s] %s %s\n", dev, name, ev->error ? "(absent)" : value);
        }
        break;
    case CMBOOT_EV_PROGRESS:
        if (out->tty && ev->total > 0) {
            fprintf(stderr, "\r\033[K[%s] %s %s / %s (%3.0f%%)", dev, name,
                    cli_human_bytes((double)ev->done, a, sizeof a), cli_human_bytes((double)ev->total, b, sizeof b),
                    100.0 * (double)ev->done / (double)ev->total);
            progress_drawn = true;
        }
        break;
    case CMBOOT_EV_METADATA:
        if (out->verbosity >= 1) {
            clear_progress();
            fprintf(stderr, "[%s] metadata %s = %s\n", dev, name, value);
        }
        break;
    case CMBOOT_EV_METADATA_SAVED:
        clear_progress();
        if (strcmp(ev->value, "-") == 0)
            stdout_line_locked(ev->json ? ev->json : "{}", true);
        else
            fprintf(stderr, "[%s] metadata written to %s\n", dev, value);
        break;
    case CMBOOT_EV_BOARD_DONE:
        clear_progress();
        fprintf(stderr, "[%s] board %s: %s\n", dev, serial, value);
        break;
    case CMBOOT_EV_PHASE:
        clear_progress();
        fprintf(stderr, "[%s] %s %s\n", dev, name, value);
        break;
    case CMBOOT_EV_CONTROL:
        clear_progress();
        fprintf(stderr, "[%s] %s (%s) %s in %llu ms\n", dev, name, value,
                ev->error ? cmboot_strerror(ev->error) : "done", (unsigned long long)ev->elapsed_ms);
        break;
    }
    safe_event_free(&se);
    fflush(stderr);
    pthread_mutex_unlock(&out_lock);
}

void cli_json_line(const char *type, ...)
{
    json_object *o = json_object_new_object();
    json_object *san = json_object_new_array();
    json_object_object_add(o, "event", json_object_new_string(type));
    va_list ap;
    va_start(ap, type);
    for (;;) {
        const char *k = va_arg(ap, const char *);
        if (!k)
            break;
        const char *v = va_arg(ap, const char *);
        add_clean(o, san, k, v);
    }
    va_end(ap);
    add_sanitized(o, san);
    pthread_mutex_lock(&out_lock);
    stdout_line_locked(json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN), true);
    pthread_mutex_unlock(&out_lock);
    json_object_put(o);
}
