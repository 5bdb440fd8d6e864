/* libFuzzer target: image sources (src/flash/source.c): raw, gzip (zlib), xz (liblzma), zstd (libzstd: every
 * frame's header), bzip2 and zip (libarchive; which entry is the image), read to the end as the writer does. */
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cmboot/error.h"
#include "flash/flash_internal.h"
#include "fuzz_util.h"

#define READ_CAP (32u << 20) /* decompression bombs: the writer streams them; here they only cost time */

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    /* the name may matter (a name that says compressed); the first byte chooses it */
    static const char *const names[] = {"image.img",     "image.img.gz", "image.img.xz", "image.img.zst",
                                        "image.img.bz2", "image.zip",    "image"};
    if (size < 1)
        return 0;
    char path[PATH_MAX];
    snprintf(path, sizeof path, "%s/%s", fuzz_scratch(), names[data[0] % (sizeof names / sizeof names[0])]);
    fuzz_write_file(path, data + 1, size - 1);
    cmboot_flash_source *src = NULL;
    int rc = cmboot_flash_source_open(path, &src);
    if (rc == CMBOOT_OK) {
        uint64_t known = 0;
        bool has_size = cmboot_flash_source_size_known(src, &known);
        const char *fmt = cmboot_flash_source_format(src);
        if (!fmt || !fmt[0] || strnlen(fmt, 16) == 16)
            fuzz_fail("source without a format name");
        static uint8_t buf[256 * 1024];
        uint64_t total = 0;
        size_t got = 0;
        int r;
        size_t step = 1 + (data[0] >> 3) * 4099; /* odd read sizes, as the writer's buffers are not */
        if (step > sizeof buf)
            step = sizeof buf;
        while ((r = cmboot_flash_source_read(src, buf, step, &got)) == CMBOOT_OK && got > 0 && total < READ_CAP) {
            if (got > step)
                fuzz_fail("source read more than asked");
            total += got;
        }
        if (r != CMBOOT_OK && r != CMBOOT_ERR_ARCHIVE && r != CMBOOT_ERR_IO && r != CMBOOT_ERR_FORMAT &&
            r != CMBOOT_ERR_VERIFY && r != CMBOOT_ERR_NO_MEMORY) /* NO_MEMORY: a zstd frame's window over the limit */
            fuzz_fail("source read: unexpected error");
        if (r != CMBOOT_OK)
            (void)cmb_flash_source_error(src);
        /* a raw file's size is its length; a claimed size only matters when the read reached the end */
        if (r == CMBOOT_OK && total < READ_CAP && has_size && strcmp(fmt, "raw") == 0 && known != total)
            fuzz_fail("raw source size differs from its length");
        cmboot_flash_source_close(src);
    } else if (src) {
        fuzz_fail("failed open left a source");
    }
    unlink(path);
    return 0;
}
