/* Drawing of logs, progress and events for the cmboot tool (the library only reports). */
#include <json-c/json.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "output.h"

/* One process-wide lock so lines from board threads never interleave (CLI state, not library state). */
static pthread_mutex_t out_lock = PTHREAD_MUTEX_INITIALIZER;
static bool progress_drawn;

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
        json_object_object_add(o, "event", json_object_new_string("log"));
        json_object_object_add(o, "level", json_object_new_string(cmboot_log_level_name(level)));
        json_object_object_add(o, "device", json_object_new_string(device_id));
        json_object_object_add(o, "message", json_object_new_string(msg));
        fprintf(stderr, "%s\n", json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN));
        json_object_put(o);
    } else {
        clear_progress();
        if (*device_id)
            fprintf(stderr, "[%s] %s%s\n", device_id, level <= CMBOOT_LOG_WARN ? (level ? "warning: " : "error: ") : "",
                    msg);
        else
            fprintf(stderr, "%s%s\n", level <= CMBOOT_LOG_WARN ? (level ? "warning: " : "error: ") : "", msg);
    }
    pthread_mutex_unlock(&out_lock);
}

static void json_event(const cmboot_event *ev)
{
    json_object *o = json_object_new_object();
    json_object_object_add(o, "event", json_object_new_string(cmboot_event_type_name(ev->type)));
    json_object_object_add(o, "device", json_object_new_string(ev->device_id));
    if (*ev->serial)
        json_object_object_add(o, "serial", json_object_new_string(ev->serial));
    if (*ev->soc)
        json_object_object_add(o, "soc", json_object_new_string(ev->soc));
    json_object_object_add(o, "stage", json_object_new_string(ev->stage));
    if (*ev->name)
        json_object_object_add(o, "name", json_object_new_string(ev->name));
    if (*ev->value)
        json_object_object_add(o, "value", json_object_new_string(ev->value));
    if (ev->type == CMBOOT_EV_PROGRESS || ev->type == CMBOOT_EV_FILE) {
        json_object_object_add(o, "done", json_object_new_int64((int64_t)ev->done));
        json_object_object_add(o, "total", json_object_new_int64((int64_t)ev->total));
    }
    if (ev->json && *ev->json) {
        json_object *md = json_tokener_parse(ev->json);
        if (md)
            json_object_object_add(o, "metadata", md);
    }
    if (ev->error) {
        json_object_object_add(o, "error", json_object_new_string(cmboot_error_name(ev->error)));
    }
    json_object_object_add(o, "elapsed_ms", json_object_new_int64((int64_t)ev->elapsed_ms));
    printf("%s\n", json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN));
    fflush(stdout);
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
    switch (ev->type) {
    case CMBOOT_EV_DEVICE_SEEN:
        clear_progress();
        fprintf(stderr, "[%s] %s board found (%s)\n", ev->device_id, *ev->soc ? ev->soc : "?", ev->stage);
        break;
    case CMBOOT_EV_STAGE_START:
        if (out->verbosity >= 1) {
            clear_progress();
            fprintf(stderr, "[%s] stage %s\n", ev->device_id, ev->stage);
        }
        break;
    case CMBOOT_EV_STAGE_DONE:
        clear_progress();
        fprintf(stderr, "[%s] %s stage %s in %llu ms\n", ev->device_id, ev->stage, ev->error ? "failed" : "done",
                (unsigned long long)ev->elapsed_ms);
        break;
    case CMBOOT_EV_FILE:
        if (out->verbosity >= 1 || (ev->error && out->verbosity >= 1)) {
            clear_progress();
            fprintf(stderr, "[%s] %s %s\n", ev->device_id, ev->name, ev->error ? "(absent)" : ev->value);
        }
        break;
    case CMBOOT_EV_PROGRESS:
        if (out->tty && ev->total > 0) {
            fprintf(stderr, "\r\033[K[%s] %s %s / %s (%3.0f%%)", ev->device_id, ev->name,
                    cli_human_bytes((double)ev->done, a, sizeof a), cli_human_bytes((double)ev->total, b, sizeof b),
                    100.0 * (double)ev->done / (double)ev->total);
            progress_drawn = true;
        }
        break;
    case CMBOOT_EV_METADATA:
        if (out->verbosity >= 1) {
            clear_progress();
            fprintf(stderr, "[%s] metadata %s = %s\n", ev->device_id, ev->name, ev->value);
        }
        break;
    case CMBOOT_EV_METADATA_SAVED:
        clear_progress();
        if (strcmp(ev->value, "-") == 0) {
            printf("%s\n", ev->json);
            fflush(stdout);
        } else {
            fprintf(stderr, "[%s] metadata written to %s\n", ev->device_id, ev->value);
        }
        break;
    case CMBOOT_EV_BOARD_DONE:
        clear_progress();
        fprintf(stderr, "[%s] board %s: %s\n", ev->device_id, *ev->serial ? ev->serial : "", ev->value);
        break;
    case CMBOOT_EV_PHASE:
        clear_progress();
        fprintf(stderr, "[%s] %s %s\n", ev->device_id, ev->name, ev->value);
        break;
    }
    fflush(stderr);
    pthread_mutex_unlock(&out_lock);
}

void cli_json_line(const char *type, ...)
{
    json_object *o = json_object_new_object();
    json_object_object_add(o, "event", json_object_new_string(type));
    va_list ap;
    va_start(ap, type);
    for (;;) {
        const char *k = va_arg(ap, const char *);
        if (!k)
            break;
        const char *v = va_arg(ap, const char *);
        json_object_object_add(o, k, json_object_new_string(v ? v : ""));
    }
    va_end(ap);
    pthread_mutex_lock(&out_lock);
    printf("%s\n", json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN));
    fflush(stdout);
    pthread_mutex_unlock(&out_lock);
    json_object_put(o);
}
