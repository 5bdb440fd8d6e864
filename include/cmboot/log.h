/* Logging and event callbacks: the library reports, the caller decides how to show it. */
#ifndef CMBOOT_LOG_H
#define CMBOOT_LOG_H

#include <stdint.h>
#include "cmboot/export.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef enum cmboot_log_level {
    CMBOOT_LOG_ERROR = 0,
    CMBOOT_LOG_WARN = 1,
    CMBOOT_LOG_INFO = 2,
    CMBOOT_LOG_DEBUG = 3,
    CMBOOT_LOG_TRACE = 4
} cmboot_log_level;

/* device_id is the board's port path ("1-1.3"), or "" for host-wide messages. Called from several threads at
 * once (one per board): msg and device_id are valid during the call only. */
typedef void (*cmboot_log_fn)(void *user, const char *device_id, cmboot_log_level level, const char *msg);

typedef enum cmboot_event_type {
    CMBOOT_EV_DEVICE_SEEN,    /* a board in a boot stage matched the selection */
    CMBOOT_EV_STAGE_START,    /* stage begins on this board */
    CMBOOT_EV_STAGE_DONE,     /* stage finished; error holds the result */
    CMBOOT_EV_FILE,           /* a file was requested: name, total = size (0 = absent), value = source */
    CMBOOT_EV_PROGRESS,       /* bytes done/total of name */
    CMBOOT_EV_METADATA,       /* name = key, value = value */
    CMBOOT_EV_METADATA_SAVED, /* value = path written ("-" = stdout), json = document */
    CMBOOT_EV_BOARD_DONE,     /* the board finished; error = result */
    CMBOOT_EV_PHASE,          /* flash phases: name = phase, value = detail */
    CMBOOT_EV_CONTROL         /* board control step done: name = step, value = what was driven, error, elapsed_ms */
} cmboot_event_type;

typedef struct cmboot_event {
    cmboot_event_type type;
    const char *device_id; /* port path */
    const char *serial;    /* board serial when known, else "" */
    const char *soc;       /* "BCM2711" ... or "" */
    const char *stage;     /* "rom", "second-stage", "mass-storage" */
    const char *name;
    const char *value;
    const char *json;
    uint64_t done;
    uint64_t total;
    int error;           /* cmboot_error */
    uint64_t elapsed_ms; /* since the stage started */
} cmboot_event;

/* Called from several threads at once (one per board); ev and every string in it are valid during the call
 * only. Events of one board arrive in order. */
typedef void (*cmboot_event_fn)(void *user, const cmboot_event *ev);

CMBOOT_API const char *cmboot_log_level_name(cmboot_log_level level);
CMBOOT_API const char *cmboot_event_type_name(cmboot_event_type type);

#ifdef __cplusplus
}
#endif
#endif
