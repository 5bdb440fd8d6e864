/* Internal: the running kernel's build configuration (/proc/config.gz, /boot/config-*), for doctor. */
#ifndef CMB_DOCTOR_KCONFIG_H
#define CMB_DOCTOR_KCONFIG_H

#include <stddef.h>

/* Reads a kernel config file, gzip-compressed or plain, into a NUL-terminated heap string (*out, free it).
 * CMBOOT_ERR_NOT_FOUND when missing, CMBOOT_ERR_TOO_LARGE beyond 8 MiB, CMBOOT_ERR_ARCHIVE when corrupt. */
int cmb_kconfig_load(const char *path, char **out, size_t *len);

/* Value of one option in the text: 'y', 'm', or 0 when not set or absent (also other values). */
char cmb_kconfig_value(const char *text, const char *option);

#endif
