/* Sending a stream as one protocol write(): length announced, then the data in bounded chunks. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cmboot/error.h"
#include "cmboot/log.h"
#include "protocol_internal.h"

int cmb_bulk_send(const cmboot_transport *t, const void *buf, size_t len, unsigned timeout_ms, unsigned *retries_left,
                  const cmboot_stage_hooks *hooks)
{
    const unsigned char *p = buf;
    size_t done = 0;
    for (;;) {
        size_t actual = 0;
        int rc = t->ops->bulk_out(t->self, p + done, len - done, &actual, timeout_ms);
        if (actual > len - done)
            actual = len - done;
        done += actual;
        if (rc == CMBOOT_OK)
            return done == len ? CMBOOT_OK : CMBOOT_ERR_SHORT_TRANSFER;
        /* Imager and node retry after a stall or I/O error; the halt must be cleared first or the endpoint
         * keeps refusing. Once per write: a device that fails again is not helped by more. */
        if ((rc != CMBOOT_ERR_STALL && rc != CMBOOT_ERR_IO) || !t->ops->clear_halt || *retries_left == 0)
            return rc;
        (*retries_left)--;
        char m[160];
        snprintf(m, sizeof m, "bulk OUT failed after %zu of %zu bytes (%s): clearing the halt and resending the rest",
                 done, len, cmboot_strerror(rc));
        cmb_hook_log(hooks, CMBOOT_LOG_WARN, m);
        int c = t->ops->clear_halt(t->self);
        if (c < 0) {
            snprintf(m, sizeof m, "clearing the bulk OUT halt failed: %s", cmboot_strerror(c));
            cmb_hook_log(hooks, CMBOOT_LOG_WARN, m);
            return rc;
        }
    }
}

void cmb_escape_bytes(const void *in, size_t n, char *out, size_t cap)
{
    const unsigned char *p = in;
    size_t o = 0;
    if (cap == 0)
        return;
    for (size_t k = 0; k < n; k++) {
        unsigned char c = p[k];
        char tmp[5];
        size_t w;
        if (c >= 0x20 && c < 0x7f && c != '\\' && c != '"') {
            tmp[0] = (char)c;
            w = 1;
        } else {
            snprintf(tmp, sizeof tmp, "\\x%02x", c);
            w = 4;
        }
        if (o + w + 4 > cap) { /* room for this, "..." and the NUL */
            if (o + 4 <= cap) {
                memcpy(out + o, "...", 3);
                o += 3;
            }
            break;
        }
        memcpy(out + o, tmp, w);
        o += w;
    }
    out[o] = 0;
}

int cmb_send_stream(const cmboot_transport *t, cmboot_stream *s, const char *name, const cmboot_stage_limits *lim,
                    const cmboot_stage_hooks *hooks)
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
    unsigned retries = 1; /* one halt-clearing retry per file */
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
        rc = cmb_bulk_send(t, buf, have, lim->bulk_timeout_ms, &retries, hooks);
        if (rc < 0)
            goto out;
        done += have;
        if (hooks && hooks->progress)
            hooks->progress(hooks->user, name, done, s->size);
    }
    rc = CMBOOT_OK;
out:
    free(buf);
    return rc;
}

void cmb_hook_log(const cmboot_stage_hooks *hooks, int level, const char *msg)
{
    if (hooks && hooks->log)
        hooks->log(hooks->user, level, msg);
}
