/* Block maps: bmaptool's XML parsed with expat, its own checksum and its ranges checked. */
#include "flash_internal.h"
#include "digest.h"

#include <ctype.h>
#include <errno.h>
#include <expat.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cmboot/error.h"
#include "core/error_map.h"

#define BMAP_MAX_FILE (64u * 1024u * 1024u)
#define BMAP_TEXT_MAX 160

enum field { F_NONE, F_IMAGE_SIZE, F_BLOCK_SIZE, F_BLOCKS_COUNT, F_MAPPED, F_CKTYPE, F_FILE_CK, F_RANGE };

typedef struct parse_state {
    XML_Parser parser;
    cmboot_bmap *bmap;
    size_t cap;
    int error;
    int depth;
    enum field field;
    char text[BMAP_TEXT_MAX + 1];
    size_t text_len;
    char range_ck[80];
    bool range_has_ck;
    size_t range_ck_len;
    char file_ck[80];
    char ck_type[16];
    int version_major;
    int version_minor;
    bool seen_bmap, seen_image_size, seen_block_size, seen_blocks, seen_mapped;
} parse_state;

static void fail(parse_state *st, int err)
{
    if (st->error == CMBOOT_OK)
        st->error = err;
    XML_StopParser(st->parser, XML_FALSE);
}

static const char *attr(const XML_Char **atts, const char *name)
{
    for (int i = 0; atts && atts[i]; i += 2) {
        if (strcmp(atts[i], name) == 0)
            return atts[i + 1];
    }
    return NULL;
}

static void XMLCALL on_start(void *user, const XML_Char *name, const XML_Char **atts)
{
    parse_state *st = user;
    st->depth++;
    st->text_len = 0;
    st->field = F_NONE;
    if (st->depth > 3) {
        fail(st, CMBOOT_ERR_FORMAT);
        return;
    }
    if (st->depth == 1) {
        const char *v = attr(atts, "version");
        if (strcmp(name, "bmap") != 0 || !v || sscanf(v, "%d.%d", &st->version_major, &st->version_minor) != 2 ||
            st->version_major < 1 || st->version_major > 2) {
            fail(st, CMBOOT_ERR_FORMAT);
            return;
        }
        st->seen_bmap = true;
        return;
    }
    if (strcmp(name, "ImageSize") == 0)
        st->field = F_IMAGE_SIZE;
    else if (strcmp(name, "BlockSize") == 0)
        st->field = F_BLOCK_SIZE;
    else if (strcmp(name, "BlocksCount") == 0)
        st->field = F_BLOCKS_COUNT;
    else if (strcmp(name, "MappedBlocksCount") == 0)
        st->field = F_MAPPED;
    else if (strcmp(name, "ChecksumType") == 0)
        st->field = F_CKTYPE;
    else if (strcmp(name, "BmapFileChecksum") == 0 || strcmp(name, "BmapFileSHA1") == 0)
        st->field = F_FILE_CK;
    else if (strcmp(name, "Range") == 0) {
        if (st->depth != 3) {
            fail(st, CMBOOT_ERR_FORMAT);
            return;
        }
        st->field = F_RANGE;
        const char *ck = attr(atts, "chksum");
        if (!ck)
            ck = attr(atts, "sha1");
        st->range_has_ck = ck != NULL;
        if (ck && strlen(ck) >= sizeof st->range_ck) {
            fail(st, CMBOOT_ERR_FORMAT);
            return;
        }
        snprintf(st->range_ck, sizeof st->range_ck, "%s", ck ? ck : "");
    }
}

static void XMLCALL on_text(void *user, const XML_Char *s, int len)
{
    parse_state *st = user;
    if (st->field == F_NONE)
        return;
    if (len < 0 || st->text_len + (size_t)len > BMAP_TEXT_MAX) {
        fail(st, CMBOOT_ERR_FORMAT);
        return;
    }
    memcpy(st->text + st->text_len, s, (size_t)len);
    st->text_len += (size_t)len;
}

/* The element text without surrounding blanks. */
static char *trimmed(parse_state *st)
{
    st->text[st->text_len] = 0;
    char *p = st->text;
    while (*p && isspace((unsigned char)*p))
        p++;
    char *e = p + strlen(p);
    while (e > p && isspace((unsigned char)e[-1]))
        *--e = 0;
    return p;
}

static bool parse_u64(const char *s, uint64_t *out)
{
    if (!*s || !isdigit((unsigned char)*s))
        return false;
    errno = 0;
    char *end;
    unsigned long long v = strtoull(s, &end, 10);
    if (errno || *end)
        return false;
    *out = v;
    return true;
}

static bool parse_hex(const char *s, uint8_t *out, size_t len)
{
    if (strlen(s) != 2 * len)
        return false;
    for (size_t i = 0; i < len; i++) {
        unsigned v;
        if (!isxdigit((unsigned char)s[2 * i]) || !isxdigit((unsigned char)s[2 * i + 1]) ||
            sscanf(s + 2 * i, "%2x", &v) != 1)
            return false;
        out[i] = (uint8_t)v;
    }
    return true;
}

static void add_range(parse_state *st, const char *text)
{
    cmboot_bmap *b = st->bmap;
    char first[32], last[32];
    const char *dash = strchr(text, '-');
    uint64_t a, z;
    if (dash) {
        size_t n = (size_t)(dash - text);
        if (n == 0 || n >= sizeof first || strlen(dash + 1) >= sizeof last) {
            fail(st, CMBOOT_ERR_FORMAT);
            return;
        }
        memcpy(first, text, n);
        first[n] = 0;
        snprintf(last, sizeof last, "%s", dash + 1);
    } else {
        if (strlen(text) >= sizeof first) {
            fail(st, CMBOOT_ERR_FORMAT);
            return;
        }
        snprintf(first, sizeof first, "%s", text);
        snprintf(last, sizeof last, "%s", text);
    }
    if (!parse_u64(first, &a) || !parse_u64(last, &z) || z < a) {
        fail(st, CMBOOT_ERR_FORMAT);
        return;
    }
    if (b->range_count > 0 && a <= b->ranges[b->range_count - 1].last) {
        fail(st, CMBOOT_ERR_FORMAT); /* ranges must ascend without overlap */
        return;
    }
    if (b->range_count == st->cap) {
        size_t ncap = st->cap ? st->cap * 2 : 64;
        cmboot_bmap_range *r = realloc(b->ranges, ncap * sizeof *r);
        if (!r) {
            fail(st, CMBOOT_ERR_NO_MEMORY);
            return;
        }
        b->ranges = r;
        st->cap = ncap;
    }
    cmboot_bmap_range *r = &b->ranges[b->range_count++];
    memset(r, 0, sizeof *r);
    r->first = a;
    r->last = z;
    if (st->range_has_ck) {
        size_t hexlen = strlen(st->range_ck);
        if ((hexlen != 64 && hexlen != 40) || !parse_hex(st->range_ck, r->digest, hexlen / 2)) {
            fail(st, CMBOOT_ERR_FORMAT);
            return;
        }
        r->has_digest = true;
        if (st->range_ck_len == 0)
            st->range_ck_len = hexlen / 2;
        else if (st->range_ck_len != hexlen / 2)
            fail(st, CMBOOT_ERR_FORMAT);
    }
}

static void XMLCALL on_end(void *user, const XML_Char *name)
{
    parse_state *st = user;
    (void)name;
    enum field f = st->field;
    st->field = F_NONE;
    st->depth--;
    if (f == F_NONE)
        return;
    char *t = trimmed(st);
    cmboot_bmap *b = st->bmap;
    bool ok = true;
    switch (f) {
    case F_IMAGE_SIZE:
        ok = parse_u64(t, &b->image_size);
        st->seen_image_size = true;
        break;
    case F_BLOCK_SIZE:
        ok = parse_u64(t, &b->block_size);
        st->seen_block_size = true;
        break;
    case F_BLOCKS_COUNT:
        ok = parse_u64(t, &b->blocks_count);
        st->seen_blocks = true;
        break;
    case F_MAPPED:
        ok = parse_u64(t, &b->mapped_blocks);
        st->seen_mapped = true;
        break;
    case F_CKTYPE:
        ok = strlen(t) < sizeof st->ck_type;
        snprintf(st->ck_type, sizeof st->ck_type, "%s", t);
        break;
    case F_FILE_CK:
        ok = strlen(t) < sizeof st->file_ck;
        snprintf(st->file_ck, sizeof st->file_ck, "%s", t);
        break;
    case F_RANGE: add_range(st, t); break;
    case F_NONE: break;
    }
    if (!ok)
        fail(st, CMBOOT_ERR_FORMAT);
}

static void XMLCALL on_doctype(void *user, const XML_Char *name, const XML_Char *sysid, const XML_Char *pubid,
                               int has_internal)
{
    (void)name;
    (void)sysid;
    (void)pubid;
    (void)has_internal;
    fail(user, CMBOOT_ERR_FORMAT); /* no entities, no DTDs: a bmap never needs them */
}

/* SHA-256/SHA-1 of the file with its checksum text replaced by zeros, as bmaptool computes it. */
static int check_file_checksum(const char *text, size_t len, const char *hex, cmb_digest_kind kind)
{
    size_t hexlen = strlen(hex);
    size_t mdlen = cmb_digest_size(kind);
    uint8_t want[64], got[CMB_DIGEST_MAX];
    if (hexlen != 2 * mdlen || !parse_hex(hex, want, mdlen))
        return CMBOOT_ERR_FORMAT;
    const char *at = NULL;
    for (size_t i = 0; i + hexlen <= len; i++) {
        if (memcmp(text + i, hex, hexlen) == 0) {
            at = text + i;
            break;
        }
    }
    if (!at)
        return CMBOOT_ERR_FORMAT;
    static const char zeros[128] = "00000000000000000000000000000000000000000000000000000000000000000000000000000000"
                                   "000000000000000000000000000000000000000000000000";
    cmb_digest *c = cmb_digest_new(kind);
    if (!c)
        return CMBOOT_ERR_NO_MEMORY;
    bool ok = cmb_digest_update(c, text, (size_t)(at - text)) && cmb_digest_update(c, zeros, hexlen) &&
              cmb_digest_update(c, at + hexlen, len - (size_t)(at - text) - hexlen) && cmb_digest_final(c, got);
    cmb_digest_free(c);
    if (!ok)
        return CMBOOT_ERR_NO_MEMORY;
    return memcmp(want, got, mdlen) == 0 ? CMBOOT_OK : CMBOOT_ERR_VERIFY;
}

static int validate(parse_state *st, const char *text, size_t len)
{
    cmboot_bmap *b = st->bmap;
    if (!st->seen_bmap || !st->seen_image_size || !st->seen_block_size || !st->seen_blocks || !st->seen_mapped)
        return CMBOOT_ERR_FORMAT;
    if (b->block_size < 512 || b->block_size > (1u << 20) || (b->block_size & (b->block_size - 1)) != 0)
        return CMBOOT_ERR_FORMAT;
    if (b->blocks_count != (b->image_size + b->block_size - 1) / b->block_size)
        return CMBOOT_ERR_FORMAT;
    uint64_t mapped = 0;
    for (size_t i = 0; i < b->range_count; i++) {
        if (b->ranges[i].last >= b->blocks_count)
            return CMBOOT_ERR_FORMAT;
        mapped += b->ranges[i].last - b->ranges[i].first + 1;
    }
    if (mapped != b->mapped_blocks)
        return CMBOOT_ERR_FORMAT;
    cmb_digest_kind kind = CMB_DIGEST_SHA1;
    if (st->version_major >= 2) {
        if (strcmp(st->ck_type, "sha256") == 0)
            kind = CMB_DIGEST_SHA256;
        else if (strcmp(st->ck_type, "sha1") != 0)
            return CMBOOT_ERR_FORMAT;
    }
    b->digest_len = (int)cmb_digest_size(kind);
    if (st->range_ck_len != 0 && st->range_ck_len != (size_t)b->digest_len)
        return CMBOOT_ERR_FORMAT; /* range checksums of another type than the file's */
    bool needs_file_ck = st->version_major >= 2 || st->version_minor >= 3;
    if (!st->file_ck[0])
        return needs_file_ck ? CMBOOT_ERR_FORMAT : CMBOOT_OK;
    return check_file_checksum(text, len, st->file_ck, kind);
}

int cmboot_bmap_parse(const char *text, size_t len, cmboot_bmap **out)
{
    if (!text || !out || len > BMAP_MAX_FILE)
        return CMBOOT_ERR_INVALID_ARG;
    *out = NULL;
    parse_state st;
    memset(&st, 0, sizeof st);
    st.bmap = calloc(1, sizeof *st.bmap);
    if (!st.bmap)
        return CMBOOT_ERR_NO_MEMORY;
    st.parser = XML_ParserCreate(NULL);
    if (!st.parser) {
        free(st.bmap);
        return CMBOOT_ERR_NO_MEMORY;
    }
    XML_SetUserData(st.parser, &st);
    XML_SetElementHandler(st.parser, on_start, on_end);
    XML_SetCharacterDataHandler(st.parser, on_text);
    XML_SetStartDoctypeDeclHandler(st.parser, on_doctype);
    if (XML_Parse(st.parser, text, (int)len, XML_TRUE) != XML_STATUS_OK && st.error == CMBOOT_OK)
        st.error = CMBOOT_ERR_FORMAT;
    XML_ParserFree(st.parser);
    int rc = st.error;
    if (rc == CMBOOT_OK)
        rc = validate(&st, text, len);
    if (rc != CMBOOT_OK) {
        cmboot_bmap_free(st.bmap);
        return rc;
    }
    *out = st.bmap;
    return CMBOOT_OK;
}

int cmboot_bmap_load(const char *path, cmboot_bmap **out)
{
    if (!path || !out)
        return CMBOOT_ERR_INVALID_ARG;
    *out = NULL;
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return cmb_error_from_errno(errno);
    struct stat st;
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
        close(fd);
        return CMBOOT_ERR_FORMAT;
    }
    if ((uint64_t)st.st_size > BMAP_MAX_FILE) {
        close(fd);
        return CMBOOT_ERR_TOO_LARGE;
    }
    size_t len = (size_t)st.st_size;
    char *buf = malloc(len + 1);
    if (!buf) {
        close(fd);
        return CMBOOT_ERR_NO_MEMORY;
    }
    size_t have = 0;
    while (have < len) {
        ssize_t n = read(fd, buf + have, len - have);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            break;
        have += (size_t)n;
    }
    close(fd);
    int rc = have == len ? cmboot_bmap_parse(buf, len, out) : CMBOOT_ERR_IO;
    free(buf);
    return rc;
}

void cmboot_bmap_free(cmboot_bmap *bmap)
{
    if (!bmap)
        return;
    free(bmap->ranges);
    free(bmap);
}

uint64_t cmboot_bmap_mapped_bytes(const cmboot_bmap *b)
{
    if (!b)
        return 0;
    uint64_t total = 0;
    for (size_t i = 0; i < b->range_count; i++) {
        uint64_t start = b->ranges[i].first * b->block_size;
        uint64_t end = (b->ranges[i].last + 1) * b->block_size;
        if (end > b->image_size)
            end = b->image_size;
        total += end > start ? end - start : 0;
    }
    return total;
}
