/* One view of a production line: a live row per port path on a terminal, JSON lines off one, per-board logs. */
#ifndef CMBOOT_CLI_LINE_VIEW_H
#define CMBOOT_CLI_LINE_VIEW_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include "cmboot/log.h"

typedef struct line_view line_view;

typedef struct line_view_config {
    FILE *out;  /* rows (a terminal: stderr) or JSON lines (stdout) */
    bool rows;  /* live rows redrawn in place; false: JSON lines, one per state change */
    bool quiet; /* only the per-board results and the summary */
    /* Terminal size; 0 = ask out's terminal (TIOCGWINSZ) at each frame and redraw on SIGWINCH. */
    int width, height;
    cmboot_log_level log_level;      /* log messages this severe or more are shown (all go to --log-dir files) */
    const char *log_dir;             /* NULL, or one log file per board in DIR, named by serial and time */
    unsigned min_redraw_ms;          /* frames at most this often (default 100: ~10/s) */
    bool ticker;                     /* a thread draws what changed between events (the CLI; tests draw by hand) */
    unsigned json_progress_pct;      /* a progress line (JSON, log files) every this many percent (default 10)... */
    unsigned json_progress_ms;       /* ...or this many ms (default 5000), and the last one (done == total) */
    int64_t (*clock_ms)(void *user); /* monotonic ms; NULL = cmboot_now_ms */
    void *clock_user;
    void (*output_failed)(void); /* called once when out cannot be written (its reader went away) */
} line_view_config;

void line_view_config_default(line_view_config *cfg);
/* 0, or -errno when log_dir cannot be opened as a directory (nothing else fails but memory: -ENOMEM). */
int line_view_new(const line_view_config *cfg, line_view **out);
/* Callbacks for cmboot_ctx_config and cmboot_flash_config (user = the view). Thread-safe: several boards'
 * threads call them at once. Events without a serial (the writer's) take the one the board's row knows. */
void line_view_event(void *user, const cmboot_event *ev);
void line_view_log(void *user, const char *device_id, cmboot_log_level level, const char *msg);

/* A board finished (flashed, or failed at any step): plain values, copied. */
typedef struct line_view_result {
    const char *port_path;
    const char *serial; /* NULL or "": the one the row knows */
    int error;          /* cmboot_error; CMBOOT_OK = success */
    const char *reason; /* one sentence, or NULL */
    uint64_t bytes;     /* bytes written */
    int64_t elapsed_ms; /* the whole board: boot to report; < 0 = since the row's first event */
    bool verified;
} line_view_result;
void line_view_board_finished(line_view *v, const line_view_result *r);

/* Draws now what changed (bypasses the frame limit). */
void line_view_refresh(line_view *v);
/* Last frame and the summary (rows stay on the terminal) or the summary line (JSON); closes the log files. */
void line_view_finish(line_view *v);
/* Boards finished ok, failed, and still in progress. */
void line_view_counts(line_view *v, unsigned *done, unsigned *failed, unsigned *active);
/* Stops the ticker and frees (call line_view_finish first to keep the last frame). */
void line_view_free(line_view *v);

/* A device-supplied serial as a file name part: [A-Za-z0-9_.-] kept, anything else '_', no leading '.',
 * at most size-1 bytes. false when nothing is left (then out is ""). */
bool line_view_file_part(const char *s, char *out, size_t size);

#endif
