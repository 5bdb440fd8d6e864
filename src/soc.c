/* The table of SoC generations and the stage rules of protocol.md section 1. */
#include <stddef.h>

#include "cmboot/soc.h"

static const cmboot_soc_info soc_table[CMBOOT_SOC_COUNT] = {
    {CMBOOT_SOC_BCM2835, 0x2763, "BCM2835", "BCM2708 Boot", "Pi Zero, Pi 1A+, CM1", "bootcode.bin", "2710", 0,
     false, true},
    {CMBOOT_SOC_BCM2837, 0x2764, "BCM2837", "BCM2710 Boot", "CM3, CM3+, 3A+, Zero 2 W", "bootcode.bin", "2710", 0,
     false, true},
    {CMBOOT_SOC_BCM2711, 0x2711, "BCM2711", "BCM2711 Boot", "CM4, CM4S, Pi 4, Pi 400", "bootcode4.bin", "2711", 3,
     true, false},
    {CMBOOT_SOC_BCM2712, 0x2712, "BCM2712", "BCM2712 Boot", "CM5, Pi 5, Pi 500", "bootcode5.bin", "2712", 3, true,
     false},
};

/* Product IDs of the payloads that expose the eMMC after Done. */
static const uint16_t mass_storage_pids[] = {0x0001, 0x0104};

const cmboot_soc_info *cmboot_soc_by_product_id(uint16_t pid)
{
    for (size_t i = 0; i < CMBOOT_SOC_COUNT; i++)
        if (soc_table[i].product_id == pid)
            return &soc_table[i];
    return NULL;
}

const cmboot_soc_info *cmboot_soc_by_id(cmboot_soc_id id)
{
    if ((unsigned)id >= CMBOOT_SOC_COUNT)
        return NULL;
    return &soc_table[id];
}

cmboot_stage cmboot_stage_of(uint16_t vid, uint16_t pid, uint8_t serial_index)
{
    if (vid != CMBOOT_VID_BROADCOM)
        return CMBOOT_STAGE_UNKNOWN;
    for (size_t i = 0; i < sizeof mass_storage_pids / sizeof mass_storage_pids[0]; i++)
        if (pid == mass_storage_pids[i])
            return CMBOOT_STAGE_MASS_STORAGE;
    const cmboot_soc_info *soc = cmboot_soc_by_product_id(pid);
    if (!soc)
        return CMBOOT_STAGE_UNKNOWN;
    /* The stage is told by the index, not the string: 0 or 3 is a ROM, anything else the second stage. */
    if (serial_index == 0 || serial_index == 3)
        return CMBOOT_STAGE_ROM;
    return CMBOOT_STAGE_SECOND;
}

const char *cmboot_stage_name(cmboot_stage stage)
{
    switch (stage) {
    case CMBOOT_STAGE_ROM: return "rom";
    case CMBOOT_STAGE_SECOND: return "second-stage";
    case CMBOOT_STAGE_MASS_STORAGE: return "mass-storage";
    default: return "unknown";
    }
}

void cmboot_vendor_endpoint(uint8_t num_interfaces, int *interface_number, uint8_t *out_endpoint)
{
    int two = num_interfaces > 1;
    if (interface_number)
        *interface_number = two ? 1 : 0;
    if (out_endpoint)
        *out_endpoint = two ? 0x03 : 0x01;
}
