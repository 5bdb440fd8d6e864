/* --discovery=sysfs|libusb: one place that maps the name to a backend. */
#include "discovery_choice.h"

#include <stdlib.h>
#include <string.h>

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
