/* libFuzzer target: doctor's kernel config reader (src/doctor/kconfig.c): /proc/config.gz or /boot/config-*, plain or
 * compressed, then option lookups in the text. */
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cmboot/error.h"
#include "fuzz_util.h"
#include "doctor/kconfig.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char path[PATH_MAX];
    snprintf(path, sizeof path, "%s/config", fuzz_scratch());
    fuzz_write_file(path, data, size);
    char *text = NULL;
    size_t len = 0;
    if (cmb_kconfig_load(path, &text, &len) == CMBOOT_OK) {
        if (!text || strlen(text) != len)
            fuzz_fail("kconfig text not terminated at its length");
        static const char *const opts[] = {"CONFIG_USB", "CONFIG_USB_STORAGE", "CONFIG_BLK_DEV_SD", "CONFIG_",
                                           "",           "CONFIG_USB_UAS"};
        for (size_t i = 0; i < sizeof opts / sizeof opts[0]; i++) {
            char v = cmb_kconfig_value(text, opts[i]);
            if (v != 0 && v != 'y' && v != 'm')
                fuzz_fail("kconfig value neither y, m nor unset");
        }
    } else if (text) {
        fuzz_fail("kconfig failed but left a buffer");
    }
    free(text);
    return 0;
}
