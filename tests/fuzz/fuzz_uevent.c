/* libFuzzer target: kernel uevent datagrams (src/os/linux/uevent.c), what the hotplug monitor reads from netlink. */
#include <string.h>

#include "cmboot/error.h"
#include "fuzz_util.h"
#include "os/linux/uevent.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size > CMB_UEVENT_BUF)
        return 0; /* larger datagrams are cut by the receive buffer */
    cmb_uevent ev;
    int rc = cmb_uevent_parse(data, size, &ev);
    if (rc == CMBOOT_OK) {
        /* every field the parser filled must be terminated within itself */
        if (strnlen(ev.devpath, sizeof ev.devpath) == sizeof ev.devpath ||
            strnlen(ev.subsystem, sizeof ev.subsystem) == sizeof ev.subsystem ||
            strnlen(ev.devtype, sizeof ev.devtype) == sizeof ev.devtype ||
            strnlen(ev.devname, sizeof ev.devname) == sizeof ev.devname ||
            strnlen(ev.name, sizeof ev.name) == sizeof ev.name)
            fuzz_fail("unterminated uevent field");
        (void)cmb_uevent_is_usb_device(&ev);
    } else if (rc != CMBOOT_ERR_FORMAT && rc != CMBOOT_ERR_INVALID_ARG) {
        fuzz_fail("uevent parse: unexpected error");
    }
    return 0;
}
