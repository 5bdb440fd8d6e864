/* Internal: formatting of log messages into the caller's callback. */
#ifndef CMB_CORE_LOG_H
#define CMB_CORE_LOG_H

#include "cmboot/log.h"

typedef struct cmb_logger {
    cmboot_log_fn fn;
    void *user;
    cmboot_log_level level;
} cmb_logger;

/* Formats and delivers a message when level is enabled; does nothing without a callback. */
void cmb_logf(const cmb_logger *lg, const char *device_id, cmboot_log_level level, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

#endif
