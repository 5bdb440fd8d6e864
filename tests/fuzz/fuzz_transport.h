/* A transport whose device replies come from fuzz input: drives the ROM stage and file server with anything. */
#ifndef CMBOOT_FUZZ_TRANSPORT_H
#define CMBOOT_FUZZ_TRANSPORT_H
#include <stddef.h>
#include <stdint.h>
#include "cmboot/cmboot.h"

/* Runs both stages against replies decoded from data; never fails itself (sanitizers judge). Returns the
 * file server's result. */
int fuzz_run_stages(const uint8_t *data, size_t size, const char *boot_dir);
#endif
