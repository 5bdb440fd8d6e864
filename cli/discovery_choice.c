/* --discovery=sysfs|libusb: one place that maps the name to a backend. */
#include "discovery_choice.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cmboot/error.h"

const char *cli_discovery_default(void)
{
#ifdef __linux__
    return "sysfs";
#else
    return "libusb";
#endif
}

static const char *env_or_null(const char *name)
{
    const char *v = getenv(name);
    return v && *v ? v : NULL;
}

bool cli_discovery_known(const char *name)
{
    return !name || !*name || strcmp(name, "sysfs") == 0 || strcmp(name, "libusb") == 0;
}

int cli_discovery_open(cmboot_ctx *ctx, const char *name, cmboot_discovery *out)
{
    if (!out)
        return CMBOOT_ERR_INVALID_ARG;
    if (!name || !*name)
        name = cli_discovery_default();
    if (strcmp(name, "sysfs") == 0)
        return cmboot_discovery_sysfs_new(ctx, env_or_null("CMBOOT_SYS_ROOT"), env_or_null("CMBOOT_DEV_ROOT"), out);
    if (strcmp(name, "libusb") == 0)
        return cmboot_discovery_libusb_new(ctx, out);
    return CMBOOT_ERR_INVALID_ARG;
}

const char *cli_usb_absent(const char *name, char *buf, size_t size)
{
    if (!name || !*name)
        name = cli_discovery_default();
    bool sysfs = strcmp(name, "sysfs") == 0;
    if (!sysfs && strcmp(name, "libusb") != 0)
        return NULL; /* an unknown backend: opening it says so */
    /* libusb on Linux enumerates through /sys too, and without a kernel USB core nothing exists to find;
     * where /sys/bus does not exist at all (not Linux, or sysfs unmounted) libusb may still see devices. */
    const char *root = sysfs ? env_or_null("CMBOOT_SYS_ROOT") : NULL;
    if (!root)
        root = "/sys";
    char bus[4096], usb[4096];
    snprintf(bus, sizeof bus, "%s/bus", root);
    snprintf(usb, sizeof usb, "%s/bus/usb", root);
    if (access(bus, F_OK) != 0) {
        if (!sysfs)
            return NULL;
        snprintf(buf, size, "sysfs is not mounted (%s is missing)", bus);
        return buf;
    }
    if (access(usb, F_OK) == 0)
        return NULL;
    snprintf(buf, size, "this kernel has no USB support (%s is missing)", usb);
    return buf;
}
