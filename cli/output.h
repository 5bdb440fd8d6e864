/* How the cmboot tool shows logs, progress and events: a TTY line, plain text, or JSON lines. */
#ifndef CMBOOT_CLI_OUTPUT_H
#define CMBOOT_CLI_OUTPUT_H

#include <stdbool.h>
#include "cmboot/cmboot.h"

typedef struct cli_output {
    bool json;     /* JSON lines on stdout */
    bool tty;      /* stderr is a terminal: draw a progress line */
    int verbosity; /* 0 quiet-ish, 1 -v, 2 -vv */
    bool metadata_stdout;
} cli_output;

void cli_output_init(cli_output *out, bool json, int verbosity);
/* Library log level for -v counts: warnings by default, info with -v, debug with -vv. */
cmboot_log_level cli_log_level(int verbosity);
/* Callbacks for cmboot_ctx_config: user must be the cli_output. Thread-safe. Device-supplied strings are made
 * valid UTF-8 in JSON (a "sanitized" array names the fields escaped) and terminal-safe in text. A failed
 * write to stdout cancels the run (cli_cancel_stdout_gone). */
void cli_log_cb(void *user, const char *device_id, cmboot_log_level level, const char *msg);
void cli_event_cb(void *user, const cmboot_event *ev);
/* A JSON line {"event":type, ...fields} printed atomically; fields as key/value string pairs, NULL-ended. */
void cli_json_line(const char *type, ...) __attribute__((sentinel));
/* A whole JSON document (the flash report) as one line on stdout; on stderr once stdout is closed, so the
 * report outlives its reader. */
void cli_stdout_report(const char *text);
/* Whether a write to stdout failed (its reader went away); the run was cancelled then. */
bool cli_stdout_closed(void);
/* Human size "12.3 MiB". */
const char *cli_human_bytes(double bytes, char *buf, size_t size);

#endif
