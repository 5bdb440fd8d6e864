/* File-server stage (protocol.md section 4): answer GetFileSize / ReadFile / metadata until Done. */
#include <stdio.h>
#include <string.h>

#include "cmboot/error.h"
#include "cmboot/log.h"
#include "core/clock.h"
#include "protocol_internal.h"

/* A zero-length write: "ack", "no such file" and "size 0" all look like this. */
static int answer_nothing(const cmboot_transport *t, const cmboot_stage_limits *lim)
{
    return t->ops->control_out(t->self, 0, 0, lim->control_timeout_ms);
}

static void report_file(const cmboot_stage_hooks *hooks, const char *name, int found, uint64_t size, const char *source,
                        int command)
{
    if (hooks && hooks->file)
        hooks->file(hooks->user, name, found, size, source, command);
}

static int serve_file(const cmboot_transport *t, const cmboot_file_provider *files, const cmboot_fs_request *req,
                      const cmboot_stage_limits *lim, const cmboot_stage_hooks *hooks)
{
    cmboot_stream s = {0};
    int rc = files->open(files->user, req->name, &s);
    if (rc == CMBOOT_OK && (s.size > lim->max_file_size || s.size > CMBOOT_MAX_WIRE_LENGTH)) {
        char m[400];
        snprintf(m, sizeof m, "%s is %llu bytes, over the limit: answered as absent", req->name,
                 (unsigned long long)s.size);
        cmb_hook_log(hooks, CMBOOT_LOG_WARN, m);
        if (s.close)
            s.close(s.self);
        rc = CMBOOT_ERR_TOO_LARGE;
    }
    if (rc < 0) {
        if (rc == CMBOOT_ERR_UNSAFE_NAME) {
            char m[400];
            snprintf(m, sizeof m, "refused unsafe file name \"%s\"", req->name);
            cmb_hook_log(hooks, CMBOOT_LOG_WARN, m);
        } else if (rc != CMBOOT_ERR_NOT_FOUND && rc != CMBOOT_ERR_TOO_LARGE) {
            char m[400];
            snprintf(m, sizeof m, "cannot open %s: %s", req->name, cmboot_strerror(rc));
            cmb_hook_log(hooks, CMBOOT_LOG_WARN, m);
        }
        report_file(hooks, req->name, 0, 0, "", req->command);
        return answer_nothing(t, lim);
    }
    report_file(hooks, req->name, 1, s.size, s.source, req->command);
    if (req->command == CMBOOT_FS_GET_FILE_SIZE) {
        uint16_t v, i;
        cmboot_wire_length_split((uint32_t)s.size, &v, &i);
        rc = t->ops->control_out(t->self, v, i, lim->control_timeout_ms);
    } else {
        rc = cmb_send_stream(t, &s, req->name, lim, hooks);
    }
    if (s.close)
        s.close(s.self);
    return rc;
}

/* Errors of a request read after which the device is still there and reading again may help. */
static int read_retryable(int rc)
{
    return rc == CMBOOT_ERR_TIMEOUT || rc == CMBOOT_ERR_STALL;
}

/* The device sent a reply we cannot read as a request (under 4 bytes, or more than asked): it has sent its
 * request all the same and now waits for an answer, so it gets the zero-length write that means "absent /
 * ack" (the reference answers whatever its stale buffer says; Imager would leave it waiting). */
static bool reply_unreadable(int rc)
{
    return rc == CMBOOT_ERR_SHORT_TRANSFER || rc == CMBOOT_ERR_OVERFLOW;
}

/* Logs an odd request: what it is and its name bytes, escaped and bounded. */
static void log_odd(const cmboot_stage_hooks *hooks, const char *what, int32_t command, const void *name, size_t n)
{
    char esc[200], m[320];
    cmb_escape_bytes(name, n, esc, sizeof esc);
    snprintf(m, sizeof m, "%s (command %ld, name \"%s\"): acknowledged", what, (long)command, esc);
    cmb_hook_log(hooks, CMBOOT_LOG_WARN, m);
}

/* Bytes of the name field as received, up to the first NUL, for logs. */
static size_t raw_name_len(const uint8_t *buf, size_t got)
{
    if (got <= 4)
        return 0;
    const uint8_t *nul = memchr(buf + 4, 0, got - 4);
    return nul ? (size_t)(nul - (buf + 4)) : got - 4;
}

int cmboot_fileserver_run(const cmboot_transport *t, const cmboot_file_provider *files,
                          const cmboot_stage_limits *limits, const cmboot_stage_hooks *hooks, unsigned *requests_served)
{
    cmboot_stage_limits lim;
    cmboot_stage_hooks hook_copy;
    int rc = cmb_stage_args_load(limits, hooks, &lim, &hook_copy);
    if (rc != CMBOOT_OK)
        return rc;
    hooks = &hook_copy;
    if (!cmb_transport_ok(t) || !cmb_file_provider_ok(files) || !files->open)
        return CMBOOT_ERR_INVALID_ARG;
    unsigned served = 0;
    int64_t last_request = cmb_clock_now(lim.clock);
    unsigned backoff_ms = 0; /* after a failed read: 0 (read again at once), then 10 doubling to the maximum */
    for (;;) {
        uint8_t buf[CMBOOT_FS_REQUEST_SIZE];
        unsigned wait_ms = lim.request_timeout_ms;
        if (lim.request_idle_limit_ms) {
            int64_t left = last_request + lim.request_idle_limit_ms - cmb_clock_now(lim.clock);
            if (left <= 0) {
                char m[96];
                snprintf(m, sizeof m, "no request from the device for %u ms: giving up", lim.request_idle_limit_ms);
                cmb_hook_log(hooks, CMBOOT_LOG_ERROR, m);
                rc = CMBOOT_ERR_TIMEOUT;
                break;
            }
            if (wait_ms == 0 || (int64_t)wait_ms > left)
                wait_ms = (unsigned)left;
        }
        size_t got = 0;
        rc = cmboot_wire_read_some(t, buf, sizeof buf, &got, wait_ms);
        if (rc == CMBOOT_OK && got < 4)
            rc = CMBOOT_ERR_SHORT_TRANSFER;
        if (reply_unreadable(rc)) {
            char m[128];
            if (rc == CMBOOT_ERR_SHORT_TRANSFER)
                snprintf(m, sizeof m, "request of %zu bytes (at least 4 needed): acknowledged", got);
            else
                snprintf(m, sizeof m, "request longer than %u bytes: acknowledged", (unsigned)sizeof buf);
            cmb_hook_log(hooks, CMBOOT_LOG_WARN, m);
            last_request = cmb_clock_now(lim.clock);
            served++;
            rc = answer_nothing(t, &lim);
            if (rc < 0)
                break;
            continue;
        }
        if (rc < 0) {
            /* NO_DEVICE / IO: the device re-enumerated or was unplugged without saying Done. */
            if (!read_retryable(rc))
                break;
            /* The reference keeps polling after a failed read, Imager retries; a device still there is never
             * left without a reader. */
            char m[128];
            snprintf(m, sizeof m, "reading a request: %s: reading again", cmboot_strerror(rc));
            cmb_hook_log(hooks, rc == CMBOOT_ERR_TIMEOUT ? CMBOOT_LOG_INFO : CMBOOT_LOG_WARN, m);
            if (rc != CMBOOT_ERR_TIMEOUT) {
                /* Bounded back-off: a device that refuses at once must not spin the host. */
                if (backoff_ms > lim.retry_backoff_max_ms)
                    backoff_ms = lim.retry_backoff_max_ms;
                int64_t pause = backoff_ms;
                if (lim.request_idle_limit_ms) {
                    int64_t left = last_request + lim.request_idle_limit_ms - cmb_clock_now(lim.clock);
                    if (pause > left)
                        pause = left > 0 ? left : 0;
                }
                if (pause > 0)
                    cmb_clock_pause(lim.clock, (unsigned)pause);
                backoff_ms = backoff_ms ? backoff_ms * 2 : 10;
            }
            continue;
        }
        backoff_ms = 0;
        last_request = cmb_clock_now(lim.clock);
        cmboot_fs_request req;
        rc = cmboot_fs_request_parse(buf, got, &req);
        if (rc == CMBOOT_ERR_UNSAFE_NAME) {
            /* Hostile or broken name: never looked up, answered as absent, serving goes on. */
            log_odd(hooks, "refused a file name that is unterminated, too long or holds control characters",
                    req.command, buf + 4, raw_name_len(buf, got));
            report_file(hooks, "", 0, 0, "", req.command);
            served++;
            rc = answer_nothing(t, &lim);
            if (rc < 0)
                break;
            continue;
        }
        if (rc < 0)
            break; /* not reached: the length was checked above */
        served++;
        switch (req.kind) {
        case CMBOOT_FS_REQ_DONE: rc = CMBOOT_OK; goto out;
        case CMBOOT_FS_REQ_EMPTY:
            /* Acknowledged whatever the command (the reference and Imager do). The device may already be leaving:
             * the end of serving stands whatever that write returns. */
            (void)answer_nothing(t, &lim);
            rc = CMBOOT_OK;
            goto out;
        case CMBOOT_FS_REQ_METADATA:
            if (hooks && hooks->metadata)
                hooks->metadata(hooks->user, req.key, req.value);
            rc = answer_nothing(t, &lim);
            break;
        case CMBOOT_FS_REQ_BAD_METADATA:
            log_odd(hooks, "metadata that is not *KEY*VALUE", req.command, req.name, req.name_len);
            rc = answer_nothing(t, &lim);
            break;
        case CMBOOT_FS_REQ_UNKNOWN:
            /* Also what a misaligned reply looks like (Imager): the ack is what the device waits for. */
            log_odd(hooks, "unknown command", req.command, req.name, req.name_len);
            rc = answer_nothing(t, &lim);
            break;
        case CMBOOT_FS_REQ_FILE: rc = serve_file(t, files, &req, &lim, hooks); break;
        }
        if (rc < 0)
            break;
    }
out:
    if (requests_served)
        *requests_served = served;
    return rc;
}
