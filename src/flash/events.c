/* Flash events and hex text: shared by the writer, the verifier and the report, so none depends on another. */
#include "flash_internal.h"

#include <string.h>

void cmb_flash_hex(const uint8_t *bytes, size_t len, char *out)
{
    static const char digits[] = "0123456789abcdef";
    for (size_t i = 0; i < len; i++) {
        out[2 * i] = digits[bytes[i] >> 4];
        out[2 * i + 1] = digits[bytes[i] & 15];
    }
    out[2 * len] = 0;
}

void cmb_flash_emit(const cmboot_flash_config *cfg, int type, const char *name, const char *value, uint64_t done,
                    uint64_t total, int error, uint64_t elapsed_ms)
{
    if (!cfg || !cfg->event)
        return;
    cmboot_event ev;
    memset(&ev, 0, sizeof ev);
    ev.type = (cmboot_event_type)type;
    ev.device_id = cfg->device_id ? cfg->device_id : "";
    ev.serial = "";
    ev.soc = "";
    ev.stage = cfg->via == CMBOOT_FLASH_VIA_FASTBOOT ? "fastboot" : "mass-storage";
    ev.name = name ? name : "";
    ev.value = value ? value : "";
    ev.json = "";
    ev.done = done;
    ev.total = total;
    ev.error = error;
    ev.elapsed_ms = elapsed_ms;
    cfg->event(cfg->user, &ev);
}
