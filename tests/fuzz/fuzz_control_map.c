/* libFuzzer target: board control's map file parser (src/control/map.c) and the spec and hook-word parsers it
 * shares; every entry it accepts must make a control object. */
#include <stdlib.h>
#include <string.h>

#include "cmboot/control.h"
#include "cmboot/error.h"
#include "control/control_internal.h"
#include "fuzz_util.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char err[256];
    cmboot_control_map *m = NULL;
    int rc = cmboot_control_map_parse((const char *)data, size, &m, err, sizeof err);
    if (rc == CMBOOT_OK) {
        size_t n = cmboot_control_map_count(m);
        for (size_t i = 0; i < n; i++) {
            const char *port = cmboot_control_map_port(m, i);
            cmboot_control_config cfg;
            cmboot_control_config_default(&cfg);
            if (!port || cmboot_control_map_config(m, port, &cfg) != CMBOOT_OK)
                fuzz_fail("a listed port has no config");
            cmboot_control *c = NULL;
            if (cmboot_control_new(&cfg, &c) != CMBOOT_OK)
                fuzz_fail("the map accepted a config the control object refuses");
            cmboot_control_free(c);
        }
        cmboot_control_map_free(m);
    } else if (m) {
        fuzz_fail("map parse failed but returned a map");
    } else if (strnlen(err, sizeof err) == sizeof err) {
        fuzz_fail("error message not terminated");
    }
    /* The same bytes as one spec and one hook command line. */
    char line[CMB_SPEC_MAX];
    size_t l = size < sizeof line - 1 ? size : sizeof line - 1;
    memcpy(line, data, l);
    line[l] = '\0';
    cmb_gpio_spec gs;
    cmb_hub_spec hs;
    (void)cmb_gpio_spec_parse(line, true, &gs);
    (void)cmb_hub_spec_parse(line, &hs);
    char buf[CMB_SPEC_MAX * 3];
    char *argv[CMB_HOOK_MAX_ARGS + 4];
    for (int shell = 0; shell < 2; shell++) {
        if (cmb_hook_argv(line, "normal", shell, buf, sizeof buf, argv, CMB_HOOK_MAX_ARGS + 4) == CMBOOT_OK) {
            size_t k = 0;
            while (argv[k])
                k++;
            if (k == 0 || k > CMB_HOOK_MAX_ARGS + 3)
                fuzz_fail("hook argv empty or unterminated");
        }
    }
    return 0;
}
