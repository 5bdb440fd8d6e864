/* Internal: formatting of log messages into the caller's callback. */
#ifndef CMBOOT_SRC_LOG_INTERNAL_H
#define CMBOOT_SRC_LOG_INTERNAL_H

#include "cmboot/log.h"

typedef struct cmboot_logger {
    cmboot_log_fn fn;
    void *user;
    cmboot_log_level level;
} cmboot_logger;

/* Formats and delivers a message when level is enabled; does nothing without a callback. */
void cmboot_logf(const cmboot_logger *lg, const char *device_id, cmboot_log_level level, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

#endif
