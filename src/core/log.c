/* Log message formatting and names of levels and event types. */
#include <stdarg.h>
#include <stdio.h>

#include "core/log.h"

void cmb_logf(const cmb_logger *lg, const char *device_id, cmboot_log_level level, const char *fmt, ...)
{
    if (!lg || !lg->fn || level > lg->level)
        return;
    char msg[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    lg->fn(lg->user, device_id ? device_id : "", level, msg);
}

const char *cmboot_log_level_name(cmboot_log_level level)
{
    static const char *const names[] = {"error", "warn", "info", "debug", "trace"};
    if ((unsigned)level >= sizeof names / sizeof names[0])
        return "?";
    return names[level];
}

const char *cmboot_event_type_name(cmboot_event_type type)
{
    static const char *const names[] = {"device",   "stage-start",    "stage-done", "file",  "progress",
                                        "metadata", "metadata-saved", "board-done", "phase", "control"};
    if ((unsigned)type >= sizeof names / sizeof names[0])
        return "?";
    return names[type];
}
