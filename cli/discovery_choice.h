/* Choice of the discovery backend for the commands that look for boards (--discovery=sysfs|libusb). */
#ifndef CMBOOT_CLI_DISCOVERY_CHOICE_H
#define CMBOOT_CLI_DISCOVERY_CHOICE_H

#include <stdbool.h>
#include <stddef.h>

#include "cmboot/session.h"

/* Opens the backend called `name` ("sysfs", "libusb"; NULL = the platform default: sysfs on Linux, libusb
 * elsewhere). The sysfs backend honours CMBOOT_SYS_ROOT and CMBOOT_DEV_ROOT (tests, chroots). Returns
 * CMBOOT_OK, CMBOOT_ERR_INVALID_ARG for an unknown name, or the backend's error. */
int cli_discovery_open(cmboot_ctx *ctx, const char *name, cmboot_discovery *out);

/* Why no board can ever appear through the backend called `name` on this host, as a sentence ("this kernel
 * has no USB support (/sys/bus/usb is missing)"), or NULL when boards can appear. sysfs looks under
 * CMBOOT_SYS_ROOT like the backend does; libusb needs a kernel with USB as much. Commands that wait for
 * boards check this first: waiting would never end. */
const char *cli_usb_absent(const char *name, char *buf, size_t size);

/* Whether `name` names a backend (NULL or "" = the default). */
bool cli_discovery_known(const char *name);

/* The default backend name on this platform. */
const char *cli_discovery_default(void);

#endif
