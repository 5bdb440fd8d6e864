/* libFuzzer target: bmap XML (src/flash/bmap.c), a file that comes with a downloaded image. */
#include <stdlib.h>

#include "cmboot/error.h"
#include "cmboot/flash.h"
#include "fuzz_util.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    cmboot_bmap *b = NULL;
    if (cmboot_bmap_parse((const char *)data, size, &b) != CMBOOT_OK)
        return 0;
    /* what the writer relies on once a bmap is accepted */
    if (b->block_size == 0 || (b->range_count == 0 && b->mapped_blocks != 0))
        fuzz_fail("bmap accepted with a zero block size or lost ranges");
    uint64_t prev_end = 0;
    for (size_t i = 0; i < b->range_count; i++) {
        const cmboot_bmap_range *r = &b->ranges[i];
        if (r->last < r->first || (i > 0 && r->first < prev_end) || r->last >= b->blocks_count)
            fuzz_fail("bmap accepted with ranges out of order or outside the image");
        prev_end = r->last + 1;
    }
    if (cmboot_bmap_mapped_bytes(b) > b->image_size)
        fuzz_fail("bmap maps more bytes than the image has");
    cmboot_bmap_free(b);
    return 0;
}
