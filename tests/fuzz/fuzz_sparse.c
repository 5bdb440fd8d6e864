/* libFuzzer target: Android sparse images from an untrusted file, to the chunk check and the splitter (resparse). */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "cmboot/error.h"
#include "fastboot/sparse.h"
#include "fuzz_util.h"

/* Input: 2 bytes of the piece size (plus the smallest allowed), then the sparse image. */
typedef struct src {
    const uint8_t *p;
    size_t left;
    uint32_t max;
    uint64_t pieces, next_block;
} src;

static int in_read(void *user, void *buf, size_t len)
{
    src *s = user;
    if (s->left < len)
        return CMBOOT_ERR_FORMAT;
    memcpy(buf, s->p, len);
    s->p += len;
    s->left -= len;
    return CMBOOT_OK;
}

static int piece(void *user, const void *buf, size_t len)
{
    src *s = user;
    if (len > s->max || cmb_sparse_check(buf, len, NULL) != CMBOOT_OK)
        fuzz_fail("a piece is too large or not a valid sparse image");
    s->pieces++;
    return CMBOOT_OK;
}

static int data(void *user, uint32_t blk_sz, uint32_t block, uint32_t blocks, const uint8_t *raw, uint32_t fill)
{
    src *s = user;
    (void)blk_sz, (void)raw, (void)fill;
    if (block < s->next_block)
        fuzz_fail("mapped blocks out of order");
    s->next_block = (uint64_t)block + blocks;
    return CMBOOT_OK;
}

int LLVMFuzzerTestOneInput(const uint8_t *d, size_t size)
{
    if (size < 2)
        return 0;
    (void)cmb_sparse_check(d + 2, size - 2, NULL);
    uint32_t blk = 4096;
    cmb_sparse_header h;
    if (cmb_sparse_header_parse(d + 2, size - 2, &h) == CMBOOT_OK && h.blk_sz <= (1u << 16))
        blk = h.blk_sz;
    src s = {d + 2, size - 2, 28 + 3 * 12 + blk + ((uint32_t)d[0] | (uint32_t)d[1] << 8) * 4, 0, 0};
    if (h.blk_sz > (1u << 16))
        return 0; /* a huge block size needs a huge piece buffer: not what this target is about */
    uint8_t *buf = malloc(s.max);
    if (!buf)
        return 0;
    (void)cmb_sparse_resparse(in_read, &s, s.max, buf, piece, data, &s, NULL);
    free(buf);
    return 0;
}
