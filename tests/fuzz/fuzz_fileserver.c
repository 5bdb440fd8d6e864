/* libFuzzer entry: `clang -fsanitize=fuzzer,address` build of the stages against fuzzed device replies. */
#include <stdlib.h>

#include "fuzz_transport.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *dir = getenv("CMBOOT_FUZZ_BOOT_DIR");
    fuzz_run_stages(data, size, dir ? dir : ".");
    return 0;
}
