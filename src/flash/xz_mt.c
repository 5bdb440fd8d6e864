/* xz images through liblzma directly: its multi-threaded decoder for multi-block streams, bounded memory. */
#include "xz_mt.h"
#include "image_read.h"

#include <errno.h>
#include <lzma.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cmboot/error.h"

#define XZ_IN_BLOCK (64u * 1024u) /* compressed read size */

struct cmb_xz {
    lzma_stream strm;
    int fd;
    bool seekable;
    uint64_t pos; /* seekable: next file offset */
    const uint8_t *head;
    size_t head_len;
    bool in_eof, done;
    int failed; /* sticky error */
    unsigned threads;
    uint64_t blocks;
    uint64_t memlimit;
    uint8_t in[XZ_IN_BLOCK];
};

static bool read_at(int fd, void *buf, size_t len, uint64_t off)
{
    size_t got = 0;
    while (got < len) {
        ssize_t n = pread(fd, (uint8_t *)buf + got, len - got, (off_t)(off + got));
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return false;
        got += (size_t)n;
    }
    return true;
}

/* Reads a multibyte integer of the xz format; false when malformed. */
static bool get_vli(const uint8_t *p, size_t len, size_t *at, uint64_t *v)
{
    *v = 0;
    for (unsigned i = 0; i < 9 && *at < len; i++) {
        uint8_t b = p[(*at)++];
        *v |= (uint64_t)(b & 0x7f) << (7 * i);
        if (!(b & 0x80))
            return true;
    }
    return false;
}

uint64_t cmb_xz_count_blocks(int fd, uint64_t file_size)
{
    uint8_t foot[12];
    uint64_t end = file_size;
    /* Stream padding: groups of four zero bytes after the footer. */
    while (end >= 12 + 12) {
        if (!read_at(fd, foot, 4, end - 4))
            return 0;
        if (foot[0] | foot[1] | foot[2] | foot[3])
            break;
        end -= 4;
    }
    if (end < 12 + 12 || !read_at(fd, foot, sizeof foot, end - 12) || foot[10] != 'Y' || foot[11] != 'Z')
        return 0;
    uint64_t backward =
        ((uint64_t)foot[4] | (uint64_t)foot[5] << 8 | (uint64_t)foot[6] << 16 | (uint64_t)foot[7] << 24) * 4 + 4;
    if (backward + 12 + 12 > end)
        return 0;
    uint8_t idx[16];
    size_t n = backward < sizeof idx ? (size_t)backward : sizeof idx;
    if (!read_at(fd, idx, n, end - 12 - backward) || idx[0] != 0x00)
        return 0;
    size_t at = 1;
    uint64_t records = 0;
    return get_vli(idx, n, &at, &records) ? records : 0;
}

static int lzma_fail(cmb_xz *x, lzma_ret r, char *err, size_t err_size)
{
    const char *why = r == LZMA_MEM_ERROR           ? "out of memory"
                      : r == LZMA_MEMLIMIT_ERROR    ? "the memory cap is too small for this stream"
                      : r == LZMA_FORMAT_ERROR      ? "not an xz stream"
                      : r == LZMA_OPTIONS_ERROR     ? "unsupported stream options"
                      : r == LZMA_BUF_ERROR         ? "truncated stream"
                      : r == LZMA_UNSUPPORTED_CHECK ? "its integrity check type is not supported"
                                                    : "corrupt data (a check failed)";
    if (r == LZMA_MEMLIMIT_ERROR)
        snprintf(err, err_size,
                 "xz: the image needs %llu KiB to decode (its dictionary, chosen when it was compressed), more "
                 "than the %llu KiB the memory cap (--max-memory) leaves the decoder; raise the cap or recompress "
                 "with a smaller "
                 "dictionary (xz -6 needs ~9 MiB)",
                 (unsigned long long)(lzma_memusage(&x->strm) >> 10), (unsigned long long)(x->memlimit >> 10));
    else
        snprintf(err, err_size, "xz: corrupt image: %s", why);
    x->failed = r == LZMA_MEM_ERROR || r == LZMA_MEMLIMIT_ERROR ? CMBOOT_ERR_NO_MEMORY : CMBOOT_ERR_ARCHIVE;
    return x->failed;
}

int cmb_xz_open(int fd, bool seekable, uint64_t file_size, const uint8_t *head, size_t head_len, unsigned threads,
                uint64_t memlimit, cmb_xz **out, char *note, size_t note_size, char *err, size_t err_size)
{
    if (note && note_size)
        note[0] = 0;
    cmb_xz *x = calloc(1, sizeof *x);
    if (!x)
        return CMBOOT_ERR_NO_MEMORY;
    lzma_stream init = LZMA_STREAM_INIT;
    x->strm = init;
    x->fd = fd;
    x->seekable = seekable;
    x->head = head;
    x->head_len = head_len;
    x->memlimit = memlimit;
    x->blocks = seekable ? cmb_xz_count_blocks(fd, file_size) : 0;
    if (threads == 0) {
        long cores = sysconf(_SC_NPROCESSORS_ONLN);
        threads = cores > 0 ? (unsigned)cores : 1;
    }
    bool could = threads > 1;
    if (x->blocks > 0 && threads > x->blocks)
        threads = (unsigned)x->blocks;
    uint64_t limit = memlimit ? memlimit : UINT64_MAX;
    lzma_ret r;
    const uint32_t flags = LZMA_CONCATENATED | LZMA_TELL_UNSUPPORTED_CHECK;
    if (threads > 1 && x->blocks > 1) {
        lzma_mt mt;
        memset(&mt, 0, sizeof mt);
        mt.flags = flags | LZMA_FAIL_FAST;
        mt.threads = threads;
        mt.timeout = 0;
        /* Threads are added only while their buffers fit: past the cap it decodes on fewer, not fails. */
        mt.memlimit_threading = memlimit ? memlimit : lzma_physmem() / 4;
        mt.memlimit_stop = limit;
        r = lzma_stream_decoder_mt(&x->strm, &mt);
        x->threads = threads;
    } else {
        r = lzma_stream_decoder(&x->strm, limit, flags);
        x->threads = 1;
        if (note && note_size && x->blocks == 1 && could)
            snprintf(note, note_size,
                     "single-block xz stream: decoding on one thread; xz -T0 makes multi-block streams");
    }
    if (r != LZMA_OK) {
        int rc = lzma_fail(x, r, err, err_size);
        cmb_xz_close(x);
        return rc;
    }
    *out = x;
    return CMBOOT_OK;
}

/* More compressed input: the head first, then the file. */
static int refill(cmb_xz *x, char *err, size_t err_size)
{
    if (x->head_len) {
        x->strm.next_in = x->head;
        x->strm.avail_in = x->head_len;
        x->head_len = 0;
        return CMBOOT_OK;
    }
    ssize_t n = cmb_image_read(x->fd, x->seekable, x->pos, x->in, sizeof x->in);
    if (n < 0) {
        snprintf(err, err_size, "cannot read image: %s", strerror(errno));
        x->failed = CMBOOT_ERR_IO;
        return x->failed;
    }
    x->pos += (uint64_t)n;
    x->strm.next_in = x->in;
    x->strm.avail_in = (size_t)n;
    x->in_eof = n == 0;
    return CMBOOT_OK;
}

int cmb_xz_read(cmb_xz *x, uint8_t *buf, size_t len, size_t *got, char *err, size_t err_size)
{
    *got = 0;
    if (x->failed)
        return x->failed;
    x->strm.next_out = buf;
    x->strm.avail_out = len;
    while (x->strm.avail_out > 0 && !x->done) {
        if (x->strm.avail_in == 0 && !x->in_eof) {
            int rc = refill(x, err, err_size);
            if (rc != CMBOOT_OK)
                return rc;
        }
        lzma_ret r = lzma_code(&x->strm, x->in_eof && x->strm.avail_in == 0 ? LZMA_FINISH : LZMA_RUN);
        if (r == LZMA_STREAM_END) {
            /* The last stream is checked: the dictionary (8 MiB for xz -6, 64 MiB for -9) goes back now, before
             * the read-back needs its own buffers, not when the source is closed. */
            x->done = true;
            lzma_end(&x->strm);
        } else if (r != LZMA_OK) {
            *got = len - x->strm.avail_out;
            return lzma_fail(x, r, err, err_size);
        }
    }
    *got = len - x->strm.avail_out;
    return CMBOOT_OK;
}

uint64_t cmb_xz_memusage(const cmb_xz *x)
{
    return x ? lzma_memusage(&x->strm) : 0; /* 0 once lzma_end() has run */
}

unsigned cmb_xz_threads(const cmb_xz *x)
{
    return x ? x->threads : 0;
}

uint64_t cmb_xz_blocks(const cmb_xz *x)
{
    return x ? x->blocks : 0;
}

void cmb_xz_close(cmb_xz *x)
{
    if (!x)
        return;
    lzma_end(&x->strm);
    free(x);
}
