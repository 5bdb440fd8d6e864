/* zstd images through libzstd directly: decoded into the caller's buffer, each frame's checksum required. */
#define ZSTD_STATIC_LINKING_ONLY /* ZSTD_getFrameHeader, ZSTD_estimateDStreamSize: stable since 1.3, exported */
#include "zstd_src.h"
#include "image_read.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <zstd.h>

#include "cmboot/error.h"

#define ZSTD_DEFAULT_WINDOW (1ull << ZSTD_WINDOWLOG_LIMIT_DEFAULT) /* libzstd's own cap without ours: 128 MiB */

struct cmb_zstd {
    ZSTD_DStream *ds;
    int fd;
    bool seekable;
    uint64_t pos;      /* next file offset to read (seekable) or bytes read so far (pipe) */
    uint64_t in_start; /* image offset of in[0], for messages */
    uint8_t *in;
    size_t in_size, in_len, in_pos;
    bool in_eof;
    bool at_frame; /* between frames: the next bytes start one, or end the stream */
    bool limited;  /* cmb_zstd_limit has run */
    bool done;
    int failed; /* sticky error */
    uint64_t frames;
    uint64_t memlimit;
    ZSTD_frameHeader fh; /* the current data frame's */
};

__attribute__((format(printf, 5, 6))) static int fail(cmb_zstd *z, int code, char *err, size_t err_size,
                                                      const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, err_size, fmt, ap);
    va_end(ap);
    z->failed = code;
    return code;
}

/* More input after what is left unread, which moves to the front (a frame header split by a read). */
static int refill(cmb_zstd *z, char *err, size_t err_size)
{
    size_t left = z->in_len - z->in_pos;
    if (left && z->in_pos)
        memmove(z->in, z->in + z->in_pos, left);
    z->in_start += z->in_pos;
    z->in_pos = 0;
    z->in_len = left;
    ssize_t n = cmb_image_read(z->fd, z->seekable, z->pos, z->in + z->in_len, z->in_size - z->in_len);
    if (n < 0)
        return fail(z, CMBOOT_ERR_IO, err, err_size, "cannot read image at offset %llu: %s", (unsigned long long)z->pos,
                    strerror(errno));
    z->pos += (uint64_t)n;
    z->in_len += (size_t)n;
    z->in_eof = n == 0;
    return CMBOOT_OK;
}

/* The decoder's memory for a window: its window buffer, block buffers and context (libzstd's estimate). */
static int check_window(cmb_zstd *z, char *err, size_t err_size)
{
    unsigned long long w = z->fh.windowSize;
    if (!z->memlimit && w > ZSTD_DEFAULT_WINDOW)
        return fail(z, CMBOOT_ERR_NO_MEMORY, err, err_size,
                    "zstd: frame %llu needs a %llu KiB window to decode (chosen when it was compressed), more than "
                    "libzstd's default limit of %llu KiB; allow it with --max-memory or recompress without --long",
                    (unsigned long long)z->frames, w >> 10, ZSTD_DEFAULT_WINDOW >> 10);
    size_t need = ZSTD_estimateDStreamSize(w > SIZE_MAX ? SIZE_MAX : (size_t)w);
    if (z->memlimit && need > z->memlimit)
        return fail(z, CMBOOT_ERR_NO_MEMORY, err, err_size,
                    "zstd: frame %llu needs %llu KiB to decode (its %llu KiB window, chosen when it was compressed), "
                    "more than the %llu KiB the memory cap (--max-memory) leaves the decoder; raise the cap or "
                    "recompress with a smaller window (zstd -19 needs ~8 MiB)",
                    (unsigned long long)z->frames, (unsigned long long)need >> 10, w >> 10,
                    (unsigned long long)(z->memlimit >> 10));
    return CMBOOT_OK;
}

/* At a frame boundary: passes skippable frames over and checks the next data frame's header. Sets done at
 * the end of the input after at least one data frame. */
static int next_frame(cmb_zstd *z, char *err, size_t err_size)
{
    for (;;) {
        size_t avail = z->in_len - z->in_pos;
        if (avail == 0 && z->in_eof) {
            if (z->frames == 0)
                return fail(z, CMBOOT_ERR_ARCHIVE, err, err_size,
                            "zstd: corrupt image: the stream holds no data frame");
            z->done = true;
            return CMBOOT_OK;
        }
        size_t r = avail ? ZSTD_getFrameHeader(&z->fh, z->in + z->in_pos, avail) : 1;
        if (ZSTD_isError(r)) {
            unsigned long long at = z->in_start + z->in_pos;
            if (z->frames == 0)
                return fail(z, CMBOOT_ERR_ARCHIVE, err, err_size, "zstd: corrupt image: no zstd frame at offset %llu",
                            at);
            return fail(z, CMBOOT_ERR_ARCHIVE, err, err_size,
                        "zstd: corrupt image: trailing data after frame %llu (offset %llu is not a zstd frame)",
                        (unsigned long long)z->frames, at);
        }
        if (r > 0) { /* the header is not whole yet */
            if (z->in_eof)
                return fail(z, CMBOOT_ERR_ARCHIVE, err, err_size,
                            "zstd: corrupt image: truncated (the input ends inside a frame header at offset %llu)",
                            (unsigned long long)(z->in_start + z->in_pos));
            int rc = refill(z, err, err_size);
            if (rc != CMBOOT_OK)
                return rc;
            continue;
        }
        if (z->fh.frameType == ZSTD_skippableFrame) {
            uint64_t skip = 8 + z->fh.frameContentSize; /* magic, length (libzstd 1.5.4 leaves headerSize 0) */
            while (skip > 0) {
                size_t have = z->in_len - z->in_pos;
                if (have == 0) {
                    if (z->in_eof)
                        return fail(z, CMBOOT_ERR_ARCHIVE, err, err_size,
                                    "zstd: corrupt image: truncated (the input ends inside a skippable frame)");
                    int rc = refill(z, err, err_size);
                    if (rc != CMBOOT_OK)
                        return rc;
                    continue;
                }
                size_t take = have < skip ? have : (size_t)skip;
                z->in_pos += take;
                skip -= take;
            }
            continue;
        }
        z->frames++;
        if (!z->fh.checksumFlag)
            return fail(z, CMBOOT_ERR_FORMAT, err, err_size,
                        "zstd: frame %llu carries no content checksum, so corruption could not be detected; "
                        "recompress with zstd's default (--check)",
                        (unsigned long long)z->frames);
        z->at_frame = false;
        return z->limited ? check_window(z, err, err_size) : CMBOOT_OK;
    }
}

int cmb_zstd_open(int fd, bool seekable, const uint8_t *head, size_t head_len, cmb_zstd **out, char *err,
                  size_t err_size)
{
    *out = NULL;
    cmb_zstd *z = calloc(1, sizeof *z);
    if (!z)
        return CMBOOT_ERR_NO_MEMORY;
    z->fd = fd;
    z->seekable = seekable;
    z->in_size = ZSTD_DStreamInSize(); /* a whole compressed block: libzstd decodes it in place, no copy */
    z->in = malloc(z->in_size);
    z->ds = ZSTD_createDStream();
    if (!z->in || !z->ds || head_len > z->in_size) {
        cmb_zstd_close(z);
        return CMBOOT_ERR_NO_MEMORY;
    }
    if (head_len)
        memcpy(z->in, head, head_len); /* a pipe's first bytes, already taken from it */
    z->in_len = head_len;
    z->at_frame = true;
    int rc = next_frame(z, err, err_size);
    if (rc != CMBOOT_OK) {
        cmb_zstd_close(z);
        return rc;
    }
    *out = z;
    return CMBOOT_OK;
}

int cmb_zstd_limit(cmb_zstd *z, uint64_t memlimit, char *err, size_t err_size)
{
    z->memlimit = memlimit;
    z->limited = true;
    if (memlimit) {
        /* libzstd's own check as a backstop: any window up to the cap passes it, ours is the finer one. */
        ZSTD_bounds b = ZSTD_dParam_getBounds(ZSTD_d_windowLogMax);
        int log = b.lowerBound;
        while (log < b.upperBound && (1ull << log) < memlimit)
            log++;
        size_t r = ZSTD_DCtx_setParameter(z->ds, ZSTD_d_windowLogMax, log);
        if (ZSTD_isError(r))
            return fail(z, CMBOOT_ERR_INVALID_ARG, err, err_size, "zstd: %s", ZSTD_getErrorName(r));
    }
    return z->at_frame || z->done ? CMBOOT_OK : check_window(z, err, err_size);
}

int cmb_zstd_read(cmb_zstd *z, uint8_t *buf, size_t len, size_t *got, char *err, size_t err_size)
{
    *got = 0;
    if (z->failed)
        return z->failed;
    if (!z->limited) {
        int rc = cmb_zstd_limit(z, 0, err, err_size);
        if (rc != CMBOOT_OK)
            return rc;
    }
    ZSTD_outBuffer out = {buf, len, 0};
    while (out.pos < out.size && !z->done) {
        if (z->at_frame) {
            int rc = next_frame(z, err, err_size);
            if (rc != CMBOOT_OK)
                break;
            continue;
        }
        if (z->in_pos == z->in_len) {
            if (z->in_eof) {
                fail(z, CMBOOT_ERR_ARCHIVE, err, err_size,
                     "zstd: corrupt image: truncated (the input ends inside frame %llu)",
                     (unsigned long long)z->frames);
                break;
            }
            if (refill(z, err, err_size) != CMBOOT_OK)
                break;
            continue;
        }
        ZSTD_inBuffer in = {z->in, z->in_len, z->in_pos};
        size_t r = ZSTD_decompressStream(z->ds, &out, &in);
        z->in_pos = in.pos;
        if (ZSTD_isError(r)) {
            fail(z, CMBOOT_ERR_ARCHIVE, err, err_size, "zstd: corrupt image: frame %llu: %s",
                 (unsigned long long)z->frames, ZSTD_getErrorName(r));
            break;
        }
        if (r == 0) /* the frame is decoded, its checksum matched and everything is flushed */
            z->at_frame = true;
    }
    *got = out.pos;
    if (z->failed)
        return z->failed;
    if (z->done && z->ds) {
        /* The window goes back now, before the read-back needs its own buffers. */
        ZSTD_freeDStream(z->ds);
        z->ds = NULL;
    }
    return CMBOOT_OK;
}

uint64_t cmb_zstd_frames(const cmb_zstd *z)
{
    return z ? z->frames : 0;
}

void cmb_zstd_close(cmb_zstd *z)
{
    if (!z)
        return;
    ZSTD_freeDStream(z->ds);
    free(z->in);
    free(z);
}
