/* Image sources: raw files, gzip through zlib, xz through liblzma (multi-threaded), zstd through libzstd,
 * bzip2/zip through libarchive (loaded only for those); each checked for integrity. */
#include "flash_internal.h"
#include "gzip.h"
#include "image_read.h"
#include "xz_mt.h"
#include "zstd_src.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cmboot/error.h"
#include "core/archive_lib.h"
#include "core/error_map.h"

#define SOURCE_READ_BLOCK (64u * 1024u) /* compressed input read size: small, the decoder is the slow side */
#define SOURCE_PEEK 64u                 /* first bytes, read once to tell the format */

struct cmboot_flash_source {
    cmb_archive_lib al;        /* libarchive's functions, loaded for bzip2, zip and the unrecognised */
    struct archive *ar;        /* bzip2, zip, and names that promise a format their content lacks */
    cmb_gzip *gz;              /* gzip */
    cmb_zstd *zst;             /* zstd: libzstd */
    cmb_xz *xz;                /* xz: liblzma, set up on first use (cmb_flash_source_prepare) */
    bool xz_pending;           /* an xz stream whose decoder is not made yet */
    unsigned threads;          /* xz decoder threads, 0 = the online cores */
    uint64_t memlimit;         /* xz and zstd decoder memory cap, 0 = none (zstd: libzstd's default) */
    int fd;                    /* the image, opened once; every reader works on it */
    bool seekable;             /* regular file: read with pread at pos */
    uint64_t file_size;        /* regular file: its size */
    uint64_t pos;              /* seekable: next offset to read */
    uint8_t head[SOURCE_PEEK]; /* not seekable: bytes already taken from fd, handed to the reader first */
    size_t head_len, head_pos;
    uint8_t *feed; /* libarchive's input buffer */
    uint64_t size;
    bool size_known;
    bool eof;
    char format[16];
    char err[256];
};

static void set_err(cmboot_flash_source *src, const char *what)
{
    const char *msg = src->ar ? src->al.error_string(src->ar) : NULL;
    snprintf(src->err, sizeof src->err, "%s%s%s", what, msg ? ": " : "", msg ? msg : "");
}

/* Bytes of the image in order: the peeked head first when the file cannot be read again, then the file. */
static ssize_t next_bytes(cmboot_flash_source *src, uint8_t *buf, size_t len, const uint8_t **where)
{
    if (!src->seekable && src->head_pos < src->head_len) {
        size_t n = src->head_len - src->head_pos;
        *where = src->head + src->head_pos;
        src->head_pos = src->head_len;
        return (ssize_t)n;
    }
    ssize_t n = cmb_image_read(src->fd, src->seekable, src->pos, buf, len);
    if (n > 0)
        src->pos += (uint64_t)n;
    *where = buf;
    return n;
}

static la_ssize_t feed_read(struct archive *a, void *user, const void **buf)
{
    cmboot_flash_source *src = user;
    const uint8_t *where = NULL;
    ssize_t n = next_bytes(src, src->feed, SOURCE_READ_BLOCK, &where);
    if (n < 0) {
        src->al.set_error(a, errno, "read error at byte %llu", (unsigned long long)src->pos);
        return -1;
    }
    *buf = where;
    return n;
}

static la_int64_t feed_skip(struct archive *a, void *user, la_int64_t request)
{
    (void)a;
    cmboot_flash_source *src = user;
    if (request <= 0 || src->pos >= src->file_size)
        return 0;
    if ((uint64_t)request > src->file_size - src->pos)
        request = (la_int64_t)(src->file_size - src->pos);
    src->pos += (uint64_t)request;
    return request;
}

static la_int64_t feed_seek(struct archive *a, void *user, la_int64_t offset, int whence)
{
    (void)a;
    cmboot_flash_source *src = user;
    la_int64_t base = whence == SEEK_SET ? 0 : whence == SEEK_CUR ? (la_int64_t)src->pos : (la_int64_t)src->file_size;
    if (offset < -base)
        return ARCHIVE_FATAL;
    src->pos = (uint64_t)(base + offset);
    return (la_int64_t)src->pos;
}

/* libarchive over the already open descriptor: only the formats whose own checks catch corruption. */
static int open_archive(cmboot_flash_source *src)
{
    if (src->ar)
        src->al.read_free(src->ar);
    src->pos = 0;
    src->ar = src->al.read_new();
    if (!src->ar)
        return CMBOOT_ERR_NO_MEMORY;
    src->al.read_support_filter_xz(src->ar);
    src->al.read_support_filter_zstd(src->ar);
    src->al.read_support_filter_bzip2(src->ar);
    src->al.read_support_format_zip(src->ar);
    src->al.read_support_format_raw(src->ar);
    src->al.read_set_callback_data(src->ar, src);
    src->al.read_set_read_callback(src->ar, feed_read);
    if (src->seekable) {
        src->al.read_set_skip_callback(src->ar, feed_skip);
        src->al.read_set_seek_callback(src->ar, feed_seek);
    }
    if (src->al.read_open1(src->ar) != ARCHIVE_OK) {
        set_err(src, "cannot open image");
        return CMBOOT_ERR_ARCHIVE;
    }
    return CMBOOT_OK;
}

static bool has_suffix(const char *name, const char *suffix)
{
    size_t n = strlen(name), s = strlen(suffix);
    return n > s && strcasecmp(name + n - s, suffix) == 0;
}

/* The compressed format a file name promises, NULL for none. */
static const char *name_format(const char *path)
{
    static const struct {
        const char *suffix, *format;
    } names[] = {
        {".gz", "gzip"}, {".xz", "xz"}, {".zst", "zstd"}, {".zstd", "zstd"}, {".bz2", "bzip2"}, {".zip", "zip"},
    };
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
        if (has_suffix(path, names[i].suffix))
            return names[i].format;
    }
    return NULL;
}

/* Moves to the image entry of a zip: the first "*.img", else (second pass) the first regular file. */
static int select_zip_entry(cmboot_flash_source *src, struct archive_entry **entry)
{
    for (int pass = 0; pass < 2; pass++) {
        if (pass == 1) {
            if (!src->seekable) {
                snprintf(src->err, sizeof src->err, "zip: no *.img entry, and choosing another needs a regular file");
                return CMBOOT_ERR_UNSUPPORTED;
            }
            int rc = open_archive(src);
            if (rc)
                return rc;
        }
        bool first = pass == 1;
        for (;;) {
            int r = src->al.read_next_header(src->ar, entry);
            if (r == ARCHIVE_EOF)
                break;
            if (r < ARCHIVE_WARN) {
                set_err(src, "cannot read zip entry");
                return CMBOOT_ERR_ARCHIVE;
            }
            if (src->al.entry_filetype(*entry) != AE_IFREG)
                continue;
            const char *name = src->al.entry_pathname(*entry);
            if (first || (name && has_suffix(name, ".img")))
                return CMBOOT_OK;
        }
    }
    snprintf(src->err, sizeof src->err, "zip archive holds no regular file");
    return CMBOOT_ERR_NOT_FOUND;
}

/* A regular file read with pread straight into the caller's buffers, without libarchive's extra copy.
 * Buffered, not O_DIRECT: measured slower here (warm page cache; the disk is shared with the target's
 * write-back). */
static int read_raw(cmboot_flash_source *src, uint8_t *buf, size_t len, size_t *got)
{
    size_t total = 0;
    while (total < len && !src->eof) {
        const uint8_t *where = NULL;
        ssize_t n = next_bytes(src, buf + total, len - total, &where);
        if (n < 0) {
            snprintf(src->err, sizeof src->err, "cannot read image at offset %llu: %s", (unsigned long long)src->pos,
                     strerror(errno));
            *got = total;
            return CMBOOT_ERR_IO;
        }
        if (n == 0)
            src->eof = true;
        if (n > 0 && where != buf + total)
            memcpy(buf + total, where, (size_t)n); /* the peeked head of a pipe: at most SOURCE_PEEK bytes */
        total += (size_t)n;
    }
    *got = total;
    return CMBOOT_OK;
}

/* The first bytes, without losing them: pread on a regular file, else kept in head for the reader. */
static int peek(cmboot_flash_source *src)
{
    while (src->head_len < SOURCE_PEEK) {
        ssize_t n = src->seekable
                        ? pread(src->fd, src->head + src->head_len, SOURCE_PEEK - src->head_len, (off_t)src->head_len)
                        : read(src->fd, src->head + src->head_len, SOURCE_PEEK - src->head_len);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) {
            snprintf(src->err, sizeof src->err, "cannot read image: %s", strerror(errno));
            return CMBOOT_ERR_IO;
        }
        if (n == 0)
            break;
        src->head_len += (size_t)n;
    }
    return CMBOOT_OK;
}

/* xz may say it carries no check of the data: then corruption cannot be told from the image. */
static int require_check(cmboot_flash_source *src)
{
    static const uint8_t xz_magic[6] = {0xfd, '7', 'z', 'X', 'Z', 0x00};
    /* xz stream flags: 0x00, then the check type in the low nibble (0 = none); the header has its own CRC. */
    if (src->head_len >= 8 && memcmp(src->head, xz_magic, 6) == 0 && (src->head[7] & 0x0f) == 0) {
        snprintf(src->err, sizeof src->err,
                 "xz: the stream carries no integrity check (made with --check=none), so corruption could not be "
                 "detected; recompress with a check (xz's default is CRC64)");
        return CMBOOT_ERR_FORMAT;
    }
    return CMBOOT_OK;
}

/* zstd: a frame, or a skippable frame first. */
static bool zstd_magic(const cmboot_flash_source *src)
{
    const uint8_t *h = src->head;
    if (src->head_len >= 4 && h[0] == 0x28 && h[1] == 0xb5 && h[2] == 0x2f && h[3] == 0xfd)
        return true;
    return src->head_len >= 4 && (h[0] & 0xf0) == 0x50 && h[1] == 0x2a && h[2] == 0x4d && h[3] == 0x18;
}

/* The first bytes of a format cmboot reads through libarchive: bzip2, zip (a local header, an empty or a
 * spanned archive all start "PK"). Only these make libarchive worth loading. */
static bool archive_magic(const cmboot_flash_source *src)
{
    const uint8_t *h = src->head;
    if (src->head_len >= 3 && h[0] == 'B' && h[1] == 'Z' && h[2] == 'h')
        return true;
    return src->head_len >= 2 && h[0] == 'P' && h[1] == 'K';
}

static void set_size_from_file(cmboot_flash_source *src)
{
    if (src->seekable) {
        src->size = src->file_size;
        src->size_known = true;
    }
}

/* Tells the format and sets up its reader. */
static int open_reader(cmboot_flash_source *src, const char *path, unsigned flags)
{
    int rc = peek(src);
    if (rc != CMBOOT_OK)
        return rc;
    if (flags & CMBOOT_SOURCE_RAW) {
        snprintf(src->format, sizeof src->format, "raw");
        set_size_from_file(src);
        if (src->seekable)
            posix_fadvise(src->fd, 0, 0, POSIX_FADV_SEQUENTIAL);
        return CMBOOT_OK;
    }
    /* gzip through zlib: libarchive 3.6 does not check the CRC-32 and ISIZE of gzip members. */
    if (src->head_len >= 2 && src->head[0] == 0x1f && src->head[1] == 0x8b) {
        snprintf(src->format, sizeof src->format, "gzip");
        rc = cmb_gzip_open(src->fd, src->head, src->seekable ? 0 : src->head_len, &src->gz);
        src->head_pos = src->head_len;
        return rc;
    }
    if ((rc = require_check(src)) != CMBOOT_OK)
        return rc;
    /* xz: liblzma itself (its multi-threaded decoder), the decoder made when the limits are known. */
    static const uint8_t xz_magic[6] = {0xfd, '7', 'z', 'X', 'Z', 0x00};
    if (src->head_len >= 6 && memcmp(src->head, xz_magic, 6) == 0) {
        snprintf(src->format, sizeof src->format, "xz");
        src->xz_pending = true;
        return CMBOOT_OK;
    }
    /* zstd: libzstd itself, decoding into the writer's buffers; every frame's header is checked as it comes. */
    if (zstd_magic(src)) {
        snprintf(src->format, sizeof src->format, "zstd");
        rc = cmb_zstd_open(src->fd, src->seekable, src->head, src->seekable ? 0 : src->head_len, &src->zst, src->err,
                           sizeof src->err);
        src->head_pos = src->head_len;
        return rc;
    }
    /* Neither a magic number libarchive would take (bzip2, zip) nor a name that promises a format: raw,
     * told without loading libarchive (and its XML, ICU and C++ runtime). */
    if (src->head_len > 0 && !archive_magic(src) && !name_format(path)) {
        snprintf(src->format, sizeof src->format, "raw");
        set_size_from_file(src);
        if (src->seekable)
            posix_fadvise(src->fd, 0, 0, POSIX_FADV_SEQUENTIAL);
        return CMBOOT_OK;
    }
    char why[200];
    if ((rc = cmb_archive_lib_load(&src->al, why, sizeof why)) != CMBOOT_OK) {
        snprintf(src->err, sizeof src->err, "%s: %s", path, why);
        return rc;
    }
    src->feed = malloc(SOURCE_READ_BLOCK);
    if (!src->feed)
        return CMBOOT_ERR_NO_MEMORY;
    rc = open_archive(src);
    struct archive_entry *entry = NULL;
    if (rc == CMBOOT_OK) {
        int r = src->al.read_next_header(src->ar, &entry);
        if (r < ARCHIVE_WARN || r == ARCHIVE_EOF) {
            set_err(src, "cannot recognise image");
            rc = CMBOOT_ERR_ARCHIVE;
        }
    }
    if (rc != CMBOOT_OK)
        return rc;
    if (src->al.format(src->ar) == ARCHIVE_FORMAT_RAW) {
        int code = src->al.filter_code(src->ar, 0);
        const char *fname = code == ARCHIVE_FILTER_XZ      ? "xz"
                            : code == ARCHIVE_FILTER_ZSTD  ? "zstd"
                            : code == ARCHIVE_FILTER_BZIP2 ? "bzip2"
                                                           : "raw";
        snprintf(src->format, sizeof src->format, "%s", fname);
        const char *promised = name_format(path);
        if (code == ARCHIVE_FILTER_NONE && promised) {
            /* libarchive's raw fallback would write a damaged or mislabelled file as it is. */
            snprintf(src->err, sizeof src->err,
                     "%s: the name says %s but the content is not %s (nor another compressed format); "
                     "a damaged download? To write these bytes as they are, use --raw",
                     path, promised, promised);
            return CMBOOT_ERR_FORMAT;
        }
        if (code == ARCHIVE_FILTER_NONE && src->seekable) {
            /* Raw regular file: read it directly, libarchive is not needed any more. */
            src->al.read_free(src->ar);
            src->ar = NULL;
            src->pos = 0; /* libarchive has read ahead while telling the format */
            set_size_from_file(src);
            posix_fadvise(src->fd, 0, 0, POSIX_FADV_SEQUENTIAL);
        }
        return CMBOOT_OK;
    }
    if ((src->al.format(src->ar) & ARCHIVE_FORMAT_BASE_MASK) == ARCHIVE_FORMAT_ZIP) {
        snprintf(src->format, sizeof src->format, "zip");
        /* The entry already read may be a directory or a README: pick the image. */
        const char *name = src->al.entry_pathname(entry);
        if (src->al.entry_filetype(entry) != AE_IFREG || !has_suffix(name ? name : "", ".img"))
            rc = select_zip_entry(src, &entry);
        if (rc == CMBOOT_OK && src->al.entry_size_is_set(entry) && src->al.entry_size(entry) >= 0) {
            src->size = (uint64_t)src->al.entry_size(entry);
            src->size_known = true;
        }
        return rc;
    }
    snprintf(src->err, sizeof src->err, "unsupported image format %s", src->al.format_name(src->ar));
    return CMBOOT_ERR_FORMAT;
}

int cmboot_flash_source_open_flags(const char *path, unsigned flags, cmboot_flash_source **out, char *reason,
                                   size_t reason_size)
{
    if (reason && reason_size)
        reason[0] = 0;
    if (!path || !out)
        return CMBOOT_ERR_INVALID_ARG;
    *out = NULL;
    /* Opened once: every check and every read below is on this descriptor, never on the name again. */
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        int e = errno;
        if (reason && reason_size)
            snprintf(reason, reason_size, "cannot open image %s: %s", path, strerror(e));
        return cmb_error_from_errno(e);
    }
    struct stat st;
    if (fstat(fd, &st) != 0 || S_ISDIR(st.st_mode)) {
        if (reason && reason_size)
            snprintf(reason, reason_size, "image %s is a directory", path);
        close(fd);
        return CMBOOT_ERR_INVALID_ARG;
    }
    cmboot_flash_source *src = calloc(1, sizeof *src);
    if (!src) {
        close(fd);
        return CMBOOT_ERR_NO_MEMORY;
    }
    src->fd = fd;
    src->seekable = S_ISREG(st.st_mode);
    src->file_size = (uint64_t)st.st_size;
    int rc = open_reader(src, path, flags);
    if (rc != CMBOOT_OK) {
        if (reason && reason_size)
            snprintf(reason, reason_size, "%s", src->err[0] ? src->err : cmboot_strerror(rc));
        cmboot_flash_source_close(src);
        return rc;
    }
    *out = src;
    return CMBOOT_OK;
}

int cmboot_flash_source_open(const char *path, cmboot_flash_source **out)
{
    return cmboot_flash_source_open_flags(path, 0, out, NULL, 0);
}

int cmboot_flash_source_read(cmboot_flash_source *src, void *buf, size_t len, size_t *got)
{
    if (!src || !buf || !got)
        return CMBOOT_ERR_INVALID_ARG;
    if (src->gz)
        return cmb_gzip_read(src->gz, buf, len, got, src->err, sizeof src->err);
    if (src->xz_pending) {
        int rc = cmb_flash_source_prepare(src, src->threads, src->memlimit, NULL, 0);
        if (rc != CMBOOT_OK) {
            *got = 0;
            return rc;
        }
    }
    if (src->xz)
        return cmb_xz_read(src->xz, buf, len, got, src->err, sizeof src->err);
    if (src->zst)
        return cmb_zstd_read(src->zst, buf, len, got, src->err, sizeof src->err);
    if (!src->ar)
        return read_raw(src, buf, len, got);
    size_t total = 0;
    while (total < len && !src->eof) {
        la_ssize_t n = src->al.read_data(src->ar, (char *)buf + total, len - total);
        if (n < 0) {
            /* bzip2 and zip (entry CRC-32) report their own checks failing here. */
            char what[48];
            snprintf(what, sizeof what, "%s: corrupt image", src->format);
            set_err(src, what);
            *got = total;
            return CMBOOT_ERR_ARCHIVE;
        }
        if (n == 0)
            src->eof = true;
        total += (size_t)n;
    }
    *got = total;
    return CMBOOT_OK;
}

int cmb_flash_source_prepare(cmboot_flash_source *src, unsigned threads, uint64_t memlimit, char *note,
                             size_t note_size)
{
    if (note && note_size)
        note[0] = 0;
    src->threads = threads;
    src->memlimit = memlimit;
    if (src->zst)
        return cmb_zstd_limit(src->zst, memlimit, src->err, sizeof src->err);
    if (!src->xz_pending)
        return CMBOOT_OK;
    src->xz_pending = false;
    /* A pipe's first bytes are in head already; a regular file is read from its start. */
    return cmb_xz_open(src->fd, src->seekable, src->file_size, src->head, src->seekable ? 0 : src->head_len, threads,
                       memlimit, &src->xz, note, note_size, src->err, sizeof src->err);
}

unsigned cmb_flash_source_threads(const cmboot_flash_source *src)
{
    return src && src->xz ? cmb_xz_threads(src->xz) : 1;
}

bool cmboot_flash_source_size_known(const cmboot_flash_source *src, uint64_t *size)
{
    if (!src || !src->size_known)
        return false;
    if (size)
        *size = src->size;
    return true;
}

const char *cmboot_flash_source_format(const cmboot_flash_source *src)
{
    return src ? src->format : "";
}

const char *cmb_flash_source_error(const cmboot_flash_source *src)
{
    return src ? src->err : "";
}

void cmboot_flash_source_close(cmboot_flash_source *src)
{
    if (!src)
        return;
    if (src->ar)
        src->al.read_free(src->ar);
    cmb_archive_lib_unload(&src->al);
    cmb_gzip_close(src->gz);
    cmb_xz_close(src->xz);
    cmb_zstd_close(src->zst);
    if (src->fd >= 0)
        close(src->fd);
    free(src->feed);
    free(src);
}
