/* Choice of the discovery backend for the commands that look for boards (--discovery=sysfs|libusb). */
#ifndef CMBOOT_CLI_DISCOVERY_CHOICE_H
#define CMBOOT_CLI_DISCOVERY_CHOICE_H

#include "cmboot/session.h"

/* Opens the backend called `name` ("sysfs", "libusb"; NULL = the platform default: sysfs on Linux, libusb
 * elsewhere). The sysfs backend honours CMBOOT_SYS_ROOT and CMBOOT_DEV_ROOT (tests, chroots). Returns
 * CMBOOT_OK, CMBOOT_ERR_INVALID_ARG for an unknown name, or the backend's error. */
int cli_discovery_open(cmboot_ctx *ctx, const char *name, cmboot_discovery *out);

/* The default backend name on this platform. */
const char *cli_discovery_default(void);

#endif
