/* Sending a stream as one protocol write(): length announced, then the data in bounded chunks. */
#include <stdlib.h>

#include "cmboot/error.h"
#include "protocol_internal.h"

void cmboot_stage_limits_default(cmboot_stage_limits *limits)
{
    limits->control_timeout_ms = 5000;
    limits->bulk_timeout_ms = 5000;
    limits->request_timeout_ms = 20000;
    limits->status_deadline_ms = 5000;
    /* docs/performance.md: the pipeline drains between chunks; 4 MiB keeps most of the gain of 8 MiB at half
     * the memory per board, which matters on small hosts serving many boards. */
    limits->chunk_size = 4u << 20;
    limits->max_file_size = 2ull << 30;
}

int cmboot_send_stream(const cmboot_transport *t, cmboot_stream *s, const char *name,
                       const cmboot_stage_limits *lim, const cmboot_stage_hooks *hooks)
{
    if (s->size > CMBOOT_MAX_WIRE_LENGTH)
        return CMBOOT_ERR_TOO_LARGE;
    uint16_t v, i;
    cmboot_wire_length_split((uint32_t)s->size, &v, &i);
    int rc = t->ops->control_out(t->self, v, i, lim->control_timeout_ms);
    if (rc < 0 || s->size == 0)
        return rc;
    size_t chunk = lim->chunk_size ? lim->chunk_size : (4u << 20);
    if (chunk > s->size)
        chunk = (size_t)s->size;
    unsigned char *buf = malloc(chunk);
    if (!buf)
        return CMBOOT_ERR_NO_MEMORY;
    uint64_t done = 0;
    while (done < s->size) {
        size_t want = chunk;
        if (want > s->size - done)
            want = (size_t)(s->size - done);
        size_t have = 0;
        while (have < want) {
            long n = s->read(s->self, buf + have, want - have);
            if (n < 0) {
                rc = (int)n;
                goto out;
            }
            if (n == 0) { /* the file shrank after its size was announced */
                rc = CMBOOT_ERR_IO;
                goto out;
            }
            have += (size_t)n;
        }
        size_t actual = 0;
        rc = t->ops->bulk_out(t->self, buf, have, &actual, lim->bulk_timeout_ms);
        if (rc < 0)
            goto out;
        if (actual != have) {
            rc = CMBOOT_ERR_SHORT_TRANSFER;
            goto out;
        }
        done += have;
        if (hooks && hooks->progress)
            hooks->progress(hooks->user, name, done, s->size);
    }
    rc = CMBOOT_OK;
out:
    free(buf);
    return rc;
}

void cmboot_hook_log(const cmboot_stage_hooks *hooks, int level, const char *msg)
{
    if (hooks && hooks->log)
        hooks->log(hooks->user, level, msg);
}
