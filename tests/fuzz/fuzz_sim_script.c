/* libFuzzer target: the emulator's script parser (sim/model/sim_script.c), text files given with --script. */
#include <stdlib.h>
#include <string.h>

#include "cmboot/error.h"
#include "fuzz_util.h"
#include "model/sim_script.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *text = malloc(size + 1);
    if (!text)
        return 0;
    memcpy(text, data, size);
    text[size] = 0;
    sim_script s;
    sim_script_init(&s);
    char err[128];
    int rc = sim_script_parse(&s, text, err, sizeof err);
    if (rc == CMBOOT_OK) {
        for (size_t i = 0; i < s.count; i++) {
            const sim_step *st = &s.steps[i];
            if (st->name_len > SIM_NAME_FIELD || st->fault.kind >= SIM_FAULT_COUNT)
                fuzz_fail("script step out of bounds");
            char printable[SIM_NAME_FIELD * 4 + 1];
            sim_name_printable(st->name, st->name_len, printable, sizeof printable);
            (void)sim_fault_name(st->fault.kind);
        }
        sim_script copy;
        sim_script_init(&copy);
        if (sim_script_copy(&copy, &s) == CMBOOT_OK && copy.count != s.count)
            fuzz_fail("script copy lost steps");
        sim_script_free(&copy);
    } else if (rc != CMBOOT_ERR_FORMAT && rc != CMBOOT_ERR_NO_MEMORY) {
        fuzz_fail("script parse: unexpected error");
    } else if (strnlen(err, sizeof err) == sizeof err) {
        fuzz_fail("script error message not terminated");
    }
    sim_script_free(&s);
    /* a fault given alone on the command line (--fault KIND:ARG) */
    sim_fault f;
    (void)sim_fault_parse(text, &f);
    free(text);
    return 0;
}
