/* libFuzzer entry: `clang -fsanitize=fuzzer,address` build of the stages against fuzzed device replies. */
#include <stdlib.h>

#include "fuzz_transport.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *dir = getenv("CMBOOT_FUZZ_BOOT_DIR");
    /* first byte: both stages, or the file server alone (so request bytes line up with the input) */
    if (size == 0)
        return 0;
    if (data[0] & 1)
        fuzz_run_fileserver(data + 1, size - 1, dir ? dir : ".", NULL);
    else
        fuzz_run_stages(data + 1, size - 1, dir ? dir : ".", NULL);
    return 0;
}
