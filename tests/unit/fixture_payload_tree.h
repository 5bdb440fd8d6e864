/* Test fixture: an upstream-style payload tree (usbboot repository / rpiboot package) built from symlinks. */
#ifndef CMBOOT_FIXTURE_PAYLOAD_TREE_H
#define CMBOOT_FIXTURE_PAYLOAD_TREE_H

#include <stddef.h>
#include "cmboot/soc.h"

/* One payload directory as a board of one SoC uses it: what it must receive for two requests. */
typedef struct fixture_payload {
    const char *dir; /* relative to the tree's root, e.g. "recovery" */
    cmboot_soc_id soc;
    const char *second_target; /* the real file behind the second stage ("firmware/bootfiles.bin:2711/...") */
    const char *typical;       /* another file the board asks for */
    const char *typical_target;
} fixture_payload;

/* Every upstream payload directory with each SoC it serves; count in *n. */
const fixture_payload *fixture_payloads(size_t *n);

/* Builds the tree under root (which must exist): firmware/ (2711/, 2712/, bootfiles.bin, a tar with 2711/ and
 * 2712/ members and no 2710/), rpi-eeprom/ behind firmware's symlinks, msd/, mass-storage-gadget64/ and the
 * other payload directories, with upstream's relative symlinks. */
void fixture_payload_tree(const char *root);

/* The content of a real file of the tree ("firmware/2711/recovery.bin", or "firmware/bootfiles.bin:2711/mcb.bin"
 * for an archive member) into buf. */
void fixture_payload_content(const char *real_path, char *buf, size_t size);

#endif
