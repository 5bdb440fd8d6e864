/* SoC generations and boot stages as data: one table row per variant. */
#ifndef CMBOOT_SOC_H
#define CMBOOT_SOC_H

#include <stdbool.h>
#include <stdint.h>
#include "cmboot/export.h"

#ifdef __cplusplus
extern "C" {
#endif

#define CMBOOT_VID_BROADCOM 0x0a5c
/* The fastboot gadget some payloads become after Done (Imager's CM flow, rpi-sb-provisioner). */
#define CMBOOT_VID_FASTBOOT 0x18d1
#define CMBOOT_PID_FASTBOOT 0x4e40

typedef enum cmboot_soc_id {
    CMBOOT_SOC_BCM2835 = 0, /* BCM2835/2836: Zero, 1A+, CM1 */
    CMBOOT_SOC_BCM2837,     /* CM3, CM3+, 3A+, Zero 2 W */
    CMBOOT_SOC_BCM2711,     /* CM4, Pi 4/400 */
    CMBOOT_SOC_BCM2712,     /* CM5, Pi 5/500 */
    CMBOOT_SOC_COUNT
} cmboot_soc_id;

typedef enum cmboot_stage {
    CMBOOT_STAGE_UNKNOWN = 0,
    CMBOOT_STAGE_ROM,          /* boot ROM: wants the second stage */
    CMBOOT_STAGE_SECOND,       /* second stage: file server */
    CMBOOT_STAGE_MASS_STORAGE, /* booted payload exposes the eMMC */
    CMBOOT_STAGE_FASTBOOT,     /* booted payload is the fastboot gadget (18d1:4e40) */
    CMBOOT_STAGE_COUNT
} cmboot_stage;

typedef struct cmboot_soc_info {
    cmboot_soc_id id;
    uint16_t product_id;
    const char *name;            /* "BCM2711" */
    const char *product;         /* ROM product string */
    const char *boards;          /* human list of boards */
    const char *second_stage;    /* bootcode.bin / bootcode4.bin / bootcode5.bin */
    const char *prefix;          /* tar / override directory prefix: 2710, 2711, 2712 */
    bool serial_is_board_serial; /* the ROM stage's serial string is the board serial */
    bool signed_boot_in_rom;     /* -s changes the ROM boot message (BCM2835/6/7) */
    bool rom_status_optional;    /* the ROM may leave before its status read answers (BCM2711/2712) */
} cmboot_soc_info;

CMBOOT_API const cmboot_soc_info *cmboot_soc_by_product_id(uint16_t pid);
CMBOOT_API const cmboot_soc_info *cmboot_soc_by_id(cmboot_soc_id id);
/* Stage of a device by its IDs and iSerialNumber index; UNKNOWN for foreign devices. 18d1:4e40 is FASTBOOT:
 * that ID is generic Android fastboot, so it only means a board when it appears on a board's port. */
CMBOOT_API cmboot_stage cmboot_stage_of(uint16_t vid, uint16_t pid, uint8_t serial_index);
CMBOOT_API const char *cmboot_stage_name(cmboot_stage stage);
/* Vendor interface and bulk OUT endpoint by interface count (some BCM2837 ROMs have two). */
CMBOOT_API void cmboot_vendor_endpoint(uint8_t num_interfaces, int *interface_number, uint8_t *out_endpoint);

#ifdef __cplusplus
}
#endif
#endif
