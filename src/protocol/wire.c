/* Wire encoding of protocol.md section 2: length split, boot message, file-server requests, write/read. */
#include <string.h>

#include "cmboot/error.h"
#include "protocol_internal.h"

static void put_le32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)v;
    p[1] = (uint8_t)(v >> 8);
    p[2] = (uint8_t)(v >> 16);
    p[3] = (uint8_t)(v >> 24);
}

static uint32_t get_le32(const uint8_t *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

void cmboot_wire_length_split(uint32_t len, uint16_t *wValue, uint16_t *wIndex)
{
    *wValue = (uint16_t)(len & 0xffff);
    *wIndex = (uint16_t)(len >> 16);
}

uint32_t cmboot_wire_length_join(uint16_t wValue, uint16_t wIndex)
{
    return (uint32_t)wValue | (uint32_t)wIndex << 16;
}

void cmboot_boot_message_encode(uint8_t out[CMBOOT_BOOT_MESSAGE_SIZE], uint32_t length, const uint8_t *signature)
{
    put_le32(out, length);
    if (signature)
        memcpy(out + 4, signature, CMBOOT_SIGNATURE_SIZE);
    else
        memset(out + 4, 0, CMBOOT_SIGNATURE_SIZE);
}

int cmboot_boot_message_decode(const uint8_t *buf, size_t len, uint32_t *length,
                               uint8_t signature[CMBOOT_SIGNATURE_SIZE])
{
    if (!buf || len < CMBOOT_BOOT_MESSAGE_SIZE)
        return CMBOOT_ERR_SHORT_TRANSFER;
    if (len > CMBOOT_BOOT_MESSAGE_SIZE)
        return CMBOOT_ERR_OVERFLOW;
    if (length)
        *length = get_le32(buf);
    if (signature)
        memcpy(signature, buf + 4, CMBOOT_SIGNATURE_SIZE);
    return CMBOOT_OK;
}

/* Names the device chooses go into paths and reports: refuse anything a terminal or path could misread. */
static int name_bytes_safe(const char *name, size_t len)
{
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)name[i];
        if (c < 0x20 || c == 0x7f)
            return 0;
    }
    return 1;
}

static int key_char(char c)
{
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_';
}

/* "*KEY*VALUE" split in place: KEY non-empty and made of [A-Za-z0-9_], VALUE may be empty. */
static int split_metadata(cmboot_fs_request *out)
{
    char *sep = strchr(out->name + 1, '*');
    if (!sep || sep == out->name + 1)
        return 0;
    for (const char *k = out->name + 1; k < sep; k++)
        if (!key_char(*k))
            return 0;
    *sep = 0;
    out->key = out->name + 1;
    out->value = sep + 1;
    return 1;
}

int cmboot_fs_request_parse(const uint8_t *buf, size_t len, cmboot_fs_request *out)
{
    if (!buf || !out)
        return CMBOOT_ERR_INVALID_ARG;
    memset(out, 0, sizeof *out);
    if (len < 4)
        return CMBOOT_ERR_SHORT_TRANSFER;
    if (len > CMBOOT_FS_REQUEST_SIZE)
        return CMBOOT_ERR_OVERFLOW;
    out->command = (int32_t)get_le32(buf);
    /* A reply shorter than 260 bytes: the name ends where the data ends (Imager's rule). */
    char field[CMBOOT_FS_NAME_FIELD] = {0};
    memcpy(field, buf + 4, len - 4);
    const char *nul = memchr(field, 0, sizeof field);
    size_t n = nul ? (size_t)(nul - field) : sizeof field;
    /* The reference tests for an empty name before it looks at the command. */
    if (n == 0) {
        out->kind = CMBOOT_FS_REQ_EMPTY;
        return CMBOOT_OK;
    }
    if (out->command == CMBOOT_FS_DONE) {
        /* Done carries no name worth reading; keep whatever safe terminated text there is for logs only. */
        out->kind = CMBOOT_FS_REQ_DONE;
        if (nul && name_bytes_safe(field, n)) {
            out->name_len = n;
            memcpy(out->name, field, n);
        }
        return CMBOOT_OK;
    }
    if (!nul || n > CMBOOT_FS_NAME_MAX || !name_bytes_safe(field, n))
        return CMBOOT_ERR_UNSAFE_NAME; /* unterminated (256 bytes of name) or control characters */
    out->name_len = n;
    memcpy(out->name, field, n);
    if (out->name[0] == '*') {
        /* Metadata before the command, as the reference: every '*' message but Done gets its ack. */
        out->kind = split_metadata(out) ? CMBOOT_FS_REQ_METADATA : CMBOOT_FS_REQ_BAD_METADATA;
        return CMBOOT_OK;
    }
    if (out->command != CMBOOT_FS_GET_FILE_SIZE && out->command != CMBOOT_FS_READ_FILE)
        out->kind = CMBOOT_FS_REQ_UNKNOWN;
    else
        out->kind = CMBOOT_FS_REQ_FILE;
    return CMBOOT_OK;
}

void cmboot_fs_request_encode(uint8_t out[CMBOOT_FS_REQUEST_SIZE], int32_t command, const char *name, size_t name_len)
{
    memset(out, 0, CMBOOT_FS_REQUEST_SIZE);
    put_le32(out, (uint32_t)command);
    if (name) {
        if (name_len > CMBOOT_FS_NAME_FIELD)
            name_len = CMBOOT_FS_NAME_FIELD;
        memcpy(out + 4, name, name_len);
    }
}

int cmboot_wire_write(const cmboot_transport *t, const void *buf, uint32_t len, unsigned timeout_ms)
{
    if (!cmb_transport_ok(t))
        return CMBOOT_ERR_INVALID_ARG;
    uint16_t v, i;
    cmboot_wire_length_split(len, &v, &i);
    int rc = t->ops->control_out(t->self, v, i, timeout_ms);
    if (rc < 0 || len == 0)
        return rc;
    unsigned retries = 1;
    return cmb_bulk_send(t, buf, len, timeout_ms, &retries, NULL);
}

int cmboot_wire_read_some(const cmboot_transport *t, void *buf, uint32_t len, size_t *actual, unsigned timeout_ms)
{
    if (!cmb_transport_ok(t) || !actual)
        return CMBOOT_ERR_INVALID_ARG;
    uint16_t v, i;
    cmboot_wire_length_split(len, &v, &i);
    *actual = 0;
    size_t got = 0;
    int rc = t->ops->control_in(t->self, v, i, buf, len, &got, timeout_ms);
    if (rc < 0)
        return rc;
    if (got > len)
        return CMBOOT_ERR_OVERFLOW;
    *actual = got;
    return CMBOOT_OK;
}

int cmboot_wire_read(const cmboot_transport *t, void *buf, uint32_t len, unsigned timeout_ms)
{
    size_t actual = 0;
    int rc = cmboot_wire_read_some(t, buf, len, &actual, timeout_ms);
    if (rc < 0)
        return rc;
    return actual == len ? CMBOOT_OK : CMBOOT_ERR_SHORT_TRANSFER;
}
