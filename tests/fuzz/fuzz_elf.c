/* libFuzzer target: doctor's ELF reader (src/doctor/elf_needed.c), DT_NEEDED of whatever libusb file is installed. */
#include <limits.h>
#include <stdbool.h>
#include <stdio.h>

#include "cmboot/error.h"
#include "doctor/elf_needed.h"
#include "fuzz_util.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char path[PATH_MAX];
    snprintf(path, sizeof path, "%s/lib.so", fuzz_scratch());
    fuzz_write_file(path, data, size);
    bool found = false;
    int rc = cmb_elf_needs(path, "libudev", &found);
    if (rc != CMBOOT_OK && rc != CMBOOT_ERR_FORMAT && rc != CMBOOT_ERR_TOO_LARGE && rc != CMBOOT_ERR_NO_MEMORY)
        fuzz_fail("elf: unexpected error");
    if (rc == CMBOOT_OK) {
        found = false;
        (void)cmb_elf_needs(path, "", &found); /* every entry matches an empty prefix */
    }
    return 0;
}
