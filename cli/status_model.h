/* The status page's state: a row per port path from the line's events, the day's counts, the latest records. */
#ifndef CMBOOT_CLI_STATUS_MODEL_H
#define CMBOOT_CLI_STATUS_MODEL_H

#include <stdbool.h>
#include <stdint.h>
#include "cmboot/log.h"

typedef struct status_model status_model;

typedef struct status_model_config {
    const char *station;             /* shown in the page's title; NULL = "" */
    int64_t (*clock_ms)(void *user); /* monotonic ms; NULL = cmboot_now_ms (tests script the time) */
    int64_t (*wall_ms)(void *user);  /* Unix ms; NULL = the real time */
    void *clock_user;
} status_model_config;

/* NULL on no memory. The model is thread-safe: the line's threads feed it, the HTTP server's read it. */
status_model *status_model_new(const status_model_config *cfg);
void status_model_free(status_model *m);

/* Feeds one line event (any thread; the cmboot_ctx_config event callback's arguments). */
void status_model_event(status_model *m, const cmboot_event *ev);
/* A board finished: its row shows the result until the next board on that port starts. */
void status_model_result(status_model *m, const char *port_path, const char *serial, int error, const char *reason,
                         uint64_t bytes, bool verified);
/* The latest records (a JSON array text, copied; NULL = none configured) and the day's counts from the store
 * (ok/failed since local midnight; day_known false: the page counts this run's boards instead). */
void status_model_set_records(status_model *m, const char *records_json, bool day_known, unsigned day_ok,
                              unsigned day_failed);

/* The whole state as one JSON object (malloc'd text): {"station","time","rows":[...],"counts":{...},
 * "records":[...]}; *version (may be NULL) gets the change counter it reflects. NULL on no memory. */
char *status_model_json(status_model *m, uint64_t *version);
/* Waits until the change counter differs from version, timeout_ms passes or status_model_stop is called.
 * Returns the counter now. */
uint64_t status_model_wait(status_model *m, uint64_t version, int timeout_ms);
/* Wakes every waiter for good (the server stops). */
void status_model_stop(status_model *m);
bool status_model_stopped(status_model *m);

/* One server-sent event: "event: NAME\n" and each line of data as "data: LINE\n", then a blank line (a "\r"
 * or "\n" in data starts a new data line, so no text can end the event early). malloc'd, NULL on no memory. */
char *status_sse_frame(const char *event, const char *data);

#endif
