/* File-server stage (protocol.md section 4): answer GetFileSize / ReadFile / metadata until Done. */
#include <stdio.h>

#include "cmboot/error.h"
#include "cmboot/log.h"
#include "protocol_internal.h"

/* A zero-length write: "ack", "no such file" and "size 0" all look like this. */
static int answer_nothing(const cmboot_transport *t, const cmboot_stage_limits *lim)
{
    return t->ops->control_out(t->self, 0, 0, lim->control_timeout_ms);
}

static void report_file(const cmboot_stage_hooks *hooks, const char *name, int found, uint64_t size,
                        const char *source, int command)
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
        cmboot_hook_log(hooks, CMBOOT_LOG_WARN, m);
        if (s.close)
            s.close(s.self);
        rc = CMBOOT_ERR_TOO_LARGE;
    }
    if (rc < 0) {
        if (rc == CMBOOT_ERR_UNSAFE_NAME) {
            char m[400];
            snprintf(m, sizeof m, "refused unsafe file name \"%s\"", req->name);
            cmboot_hook_log(hooks, CMBOOT_LOG_WARN, m);
        } else if (rc != CMBOOT_ERR_NOT_FOUND && rc != CMBOOT_ERR_TOO_LARGE) {
            char m[400];
            snprintf(m, sizeof m, "cannot open %s: %s", req->name, cmboot_strerror(rc));
            cmboot_hook_log(hooks, CMBOOT_LOG_WARN, m);
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
        rc = cmboot_send_stream(t, &s, req->name, lim, hooks);
    }
    if (s.close)
        s.close(s.self);
    return rc;
}

int cmboot_fileserver_run(const cmboot_transport *t, const cmboot_file_provider *files,
                          const cmboot_stage_limits *limits, const cmboot_stage_hooks *hooks,
                          unsigned *requests_served)
{
    cmboot_stage_limits lim;
    if (limits)
        lim = *limits;
    else
        cmboot_stage_limits_default(&lim);
    if (!t || !files || !files->open)
        return CMBOOT_ERR_INVALID_ARG;
    unsigned served = 0;
    int rc;
    for (;;) {
        uint8_t buf[CMBOOT_FS_REQUEST_SIZE];
        rc = cmboot_wire_read(t, buf, sizeof buf, lim.request_timeout_ms);
        if (rc < 0)
            break; /* NO_DEVICE here: the device re-enumerated or was unplugged without saying Done */
        cmboot_fs_request req;
        rc = cmboot_fs_request_parse(buf, sizeof buf, &req);
        if (rc == CMBOOT_ERR_UNSAFE_NAME) {
            /* Hostile or broken name: never looked up, answered as absent, serving goes on. */
            cmboot_hook_log(hooks, CMBOOT_LOG_WARN, "refused a file name that is unterminated, too long or "
                                                     "holds control characters");
            report_file(hooks, "", 0, 0, "", -1);
            served++;
            rc = answer_nothing(t, &lim);
            if (rc < 0)
                break;
            continue;
        }
        if (rc < 0) {
            char m[96];
            snprintf(m, sizeof m, "bad request from device (command %u): %s",
                     (unsigned)buf[0] | (unsigned)buf[1] << 8, cmboot_strerror(rc));
            cmboot_hook_log(hooks, CMBOOT_LOG_ERROR, m);
            break;
        }
        served++;
        switch (req.kind) {
        case CMBOOT_FS_REQ_DONE:
            /* An empty name is answered before the command is looked at (protocol.md section 4, step 2), so a
             * Done without a name gets the zero-length write too. The device may already be leaving: Done
             * stands whatever that write returns. */
            if (req.name_len == 0)
                (void)answer_nothing(t, &lim);
            rc = CMBOOT_OK;
            goto out;
        case CMBOOT_FS_REQ_EMPTY:
            rc = answer_nothing(t, &lim);
            goto out;
        case CMBOOT_FS_REQ_METADATA:
            if (hooks && hooks->metadata)
                hooks->metadata(hooks->user, req.key, req.value);
            rc = answer_nothing(t, &lim);
            break;
        case CMBOOT_FS_REQ_FILE:
            rc = serve_file(t, files, &req, &lim, hooks);
            break;
        }
        if (rc < 0)
            break;
    }
out:
    if (requests_served)
        *requests_served = served;
    return rc;
}
