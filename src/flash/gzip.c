/* gzip images through zlib: streaming inflate that checks each member's CRC-32 and ISIZE (libarchive 3.6 does not). */
#include "gzip.h"
#include "image_read.h"

#include <errno.h>
#include <stdarg.h>
#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <zlib.h>

#include "cmboot/error.h"

#define GZIP_READ_BLOCK (128u * 1024u) /* compressed input per read(): the decoder, not the read, is the slow side */

struct cmb_gzip {
    z_stream zs;
    int fd;
    bool in_member; /* between a member's first byte and its trailer: the end of the file here is truncation */
    bool padding;   /* zero bytes after the last member (as dd or tape blocking leaves them) */
    bool eof;
    int failed;       /* sticky error code */
    unsigned member;  /* 1-based number of the member being read */
    uint64_t in_base; /* compressed bytes of the members before this one, and of padding */
    uint8_t *in;
};

int cmb_gzip_open(int fd, const uint8_t *head, size_t head_len, cmb_gzip **out)
{
    if (fd < 0 || !out || head_len > GZIP_READ_BLOCK || (head_len && !head))
        return CMBOOT_ERR_INVALID_ARG;
    *out = NULL;
    cmb_gzip *gz = calloc(1, sizeof *gz);
    if (!gz)
        return CMBOOT_ERR_NO_MEMORY;
    gz->in = malloc(GZIP_READ_BLOCK);
    /* 16 + MAX_WBITS: gzip wrapper only; zlib then checks the header CRC (when present), CRC-32 and ISIZE. */
    if (!gz->in || inflateInit2(&gz->zs, 16 + MAX_WBITS) != Z_OK) {
        free(gz->in);
        free(gz);
        return CMBOOT_ERR_NO_MEMORY;
    }
    gz->fd = fd;
    if (head_len)
        memcpy(gz->in, head, head_len);
    gz->zs.next_in = gz->in;
    gz->zs.avail_in = (uInt)head_len;
    *out = gz;
    return CMBOOT_OK;
}

static int fail(cmb_gzip *gz, int rc, char *err, size_t err_size, const char *fmt, ...)
    __attribute__((format(printf, 5, 6)));

static int fail(cmb_gzip *gz, int rc, char *err, size_t err_size, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    if (err && err_size)
        vsnprintf(err, err_size, fmt, ap);
    va_end(ap);
    gz->failed = rc;
    return rc;
}

/* zlib's message, said in terms of the gzip format. */
static const char *describe(const char *msg)
{
    if (!msg)
        return "corrupt data";
    if (strcmp(msg, "incorrect data check") == 0)
        return "the CRC-32 in its trailer does not match the decompressed data";
    if (strcmp(msg, "incorrect length check") == 0)
        return "the ISIZE (length) in its trailer does not match the decompressed data";
    if (strcmp(msg, "incorrect header check") == 0)
        return "bad gzip header";
    if (strcmp(msg, "header crc mismatch") == 0)
        return "the header CRC does not match the header";
    return msg;
}

static int refill(cmb_gzip *gz, size_t *n, char *err, size_t err_size)
{
    ssize_t r = cmb_image_read(gz->fd, false, 0, gz->in, GZIP_READ_BLOCK); /* in order from the fd's offset */
    if (r < 0)
        return fail(gz, CMBOOT_ERR_IO, err, err_size, "cannot read the gzip image at byte %llu: %s",
                    (unsigned long long)(gz->in_base + gz->zs.total_in), strerror(errno));
    gz->zs.next_in = gz->in;
    gz->zs.avail_in = (uInt)r;
    *n = (size_t)r;
    return CMBOOT_OK;
}

/* After a member: only another member or zero padding up to the end of the file may follow. */
static int between_members(cmb_gzip *gz, bool *start, char *err, size_t err_size)
{
    *start = false;
    if (gz->member == 0 || (!gz->padding && gz->zs.next_in[0] == 0x1f)) {
        *start = true;
        return CMBOOT_OK;
    }
    if (!gz->padding && gz->zs.next_in[0] != 0)
        return fail(gz, CMBOOT_ERR_ARCHIVE, err, err_size,
                    "gzip: the data after member %u (at byte %llu) is neither another gzip member nor zero padding",
                    gz->member, (unsigned long long)gz->in_base);
    gz->padding = true;
    for (uInt i = 0; i < gz->zs.avail_in; i++) {
        if (gz->zs.next_in[i] != 0)
            return fail(gz, CMBOOT_ERR_ARCHIVE, err, err_size,
                        "gzip: non-zero data at byte %llu in the padding after member %u",
                        (unsigned long long)(gz->in_base + i), gz->member);
    }
    gz->in_base += gz->zs.avail_in;
    gz->zs.avail_in = 0;
    return CMBOOT_OK;
}

int cmb_gzip_read(cmb_gzip *gz, uint8_t *buf, size_t len, size_t *got, char *err, size_t err_size)
{
    if (!gz || !buf || !got)
        return CMBOOT_ERR_INVALID_ARG;
    *got = 0;
    if (gz->failed)
        return gz->failed;
    size_t total = 0;
    while (total < len && !gz->eof) {
        if (gz->zs.avail_in == 0) {
            size_t n = 0;
            int rc = refill(gz, &n, err, err_size);
            if (rc != CMBOOT_OK) {
                *got = total;
                return rc;
            }
            if (n == 0) {
                if (gz->in_member || gz->member == 0) {
                    *got = total;
                    return fail(gz, CMBOOT_ERR_ARCHIVE, err, err_size,
                                "gzip member %u is truncated: the file ends at byte %llu, before the member's "
                                "end and its CRC-32 and ISIZE trailer",
                                gz->member ? gz->member : 1, (unsigned long long)(gz->in_base + gz->zs.total_in));
                }
                gz->eof = true;
                break;
            }
        }
        if (!gz->in_member) {
            bool start = false;
            int rc = between_members(gz, &start, err, err_size);
            if (rc != CMBOOT_OK) {
                *got = total;
                return rc;
            }
            if (!start)
                continue;
            gz->in_member = true;
            gz->member++;
        }
        uInt room = len - total > UINT_MAX ? UINT_MAX : (uInt)(len - total);
        gz->zs.next_out = buf + total;
        gz->zs.avail_out = room;
        int zr = inflate(&gz->zs, Z_NO_FLUSH);
        total += room - gz->zs.avail_out;
        if (zr == Z_STREAM_END) {
            /* zlib has checked this member's trailer; the next one starts from a fresh state. */
            gz->in_base += gz->zs.total_in;
            gz->in_member = false;
            if (inflateReset(&gz->zs) != Z_OK) {
                *got = total;
                return fail(gz, CMBOOT_ERR_NO_MEMORY, err, err_size, "gzip: cannot reset the decoder");
            }
            continue;
        }
        if (zr == Z_OK || (zr == Z_BUF_ERROR && gz->zs.avail_in == 0))
            continue;
        *got = total;
        if (zr == Z_MEM_ERROR)
            return fail(gz, CMBOOT_ERR_NO_MEMORY, err, err_size, "gzip: out of memory");
        return fail(gz, CMBOOT_ERR_ARCHIVE, err, err_size,
                    "gzip member %u is corrupt (found at compressed byte %llu): %s", gz->member,
                    (unsigned long long)(gz->in_base + gz->zs.total_in), describe(gz->zs.msg));
    }
    *got = total;
    return CMBOOT_OK;
}

void cmb_gzip_close(cmb_gzip *gz)
{
    if (!gz)
        return;
    inflateEnd(&gz->zs);
    free(gz->in);
    free(gz);
}
