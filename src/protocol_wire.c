/* Wire encoding of protocol.md section 2: length split, boot message, file-server requests, write/read. */
#include <string.h>

#include "cmboot/error.h"
#include "cmboot/protocol.h"

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

int cmboot_fs_request_parse(const uint8_t *buf, size_t len, cmboot_fs_request *out)
{
    if (!buf || !out)
        return CMBOOT_ERR_INVALID_ARG;
    memset(out, 0, sizeof *out);
    if (len < CMBOOT_FS_REQUEST_SIZE)
        return CMBOOT_ERR_SHORT_TRANSFER;
    if (len > CMBOOT_FS_REQUEST_SIZE)
        return CMBOOT_ERR_OVERFLOW;
    uint32_t raw = get_le32(buf);
    if (raw > CMBOOT_FS_DONE)
        return CMBOOT_ERR_PROTOCOL;
    out->command = (int32_t)raw;
    const char *field = (const char *)buf + 4;
    const char *nul = memchr(field, 0, CMBOOT_FS_NAME_FIELD);
    if (out->command == CMBOOT_FS_DONE) {
        /* Done carries no name worth reading; keep whatever terminated text there is for logs only. */
        out->kind = CMBOOT_FS_REQ_DONE;
        if (nul && name_bytes_safe(field, (size_t)(nul - field))) {
            out->name_len = (size_t)(nul - field);
            memcpy(out->name, field, out->name_len);
        }
        return CMBOOT_OK;
    }
    if (!nul)
        return CMBOOT_ERR_UNSAFE_NAME; /* unterminated: 256 bytes of name and no end */
    out->name_len = (size_t)(nul - field);
    if (out->name_len > CMBOOT_FS_NAME_MAX)
        return CMBOOT_ERR_UNSAFE_NAME;
    if (!name_bytes_safe(field, out->name_len))
        return CMBOOT_ERR_UNSAFE_NAME;
    memcpy(out->name, field, out->name_len);
    out->name[out->name_len] = 0;
    if (out->name_len == 0) {
        out->kind = CMBOOT_FS_REQ_EMPTY;
        return CMBOOT_OK;
    }
    if (out->name[0] == '*') {
        /* "*KEY*VALUE": split in place; KEY must be non-empty and made of [A-Za-z0-9_]. */
        char *sep = strchr(out->name + 1, '*');
        if (!sep || sep == out->name + 1)
            return CMBOOT_ERR_PROTOCOL;
        for (const char *k = out->name + 1; k < sep; k++) {
            char c = *k;
            if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_'))
                return CMBOOT_ERR_PROTOCOL;
        }
        *sep = 0;
        out->key = out->name + 1;
        out->value = sep + 1;
        out->kind = CMBOOT_FS_REQ_METADATA;
        return CMBOOT_OK;
    }
    out->kind = CMBOOT_FS_REQ_FILE;
    return CMBOOT_OK;
}

void cmboot_fs_request_encode(uint8_t out[CMBOOT_FS_REQUEST_SIZE], int32_t command, const char *name,
                              size_t name_len)
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
    uint16_t v, i;
    cmboot_wire_length_split(len, &v, &i);
    int rc = t->ops->control_out(t->self, v, i, timeout_ms);
    if (rc < 0 || len == 0)
        return rc;
    size_t actual = 0;
    rc = t->ops->bulk_out(t->self, buf, len, &actual, timeout_ms);
    if (rc < 0)
        return rc;
    return actual == len ? CMBOOT_OK : CMBOOT_ERR_SHORT_TRANSFER;
}

int cmboot_wire_read(const cmboot_transport *t, void *buf, uint32_t len, unsigned timeout_ms)
{
    uint16_t v, i;
    cmboot_wire_length_split(len, &v, &i);
    size_t actual = 0;
    int rc = t->ops->control_in(t->self, v, i, buf, len, &actual, timeout_ms);
    if (rc < 0)
        return rc;
    if (actual > len)
        return CMBOOT_ERR_OVERFLOW;
    return actual == len ? CMBOOT_OK : CMBOOT_ERR_SHORT_TRANSFER;
}
