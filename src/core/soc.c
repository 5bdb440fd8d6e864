/* The table of SoC generations and the stage rules of protocol.md sections 1 and 10. */
#include <stddef.h>

#include "cmboot/soc.h"

static const cmboot_soc_info soc_table[CMBOOT_SOC_COUNT] = {
    [CMBOOT_SOC_BCM2835] = {.id = CMBOOT_SOC_BCM2835,
                            .product_id = 0x2763,
                            .name = "BCM2835",
                            .product = "BCM2708 Boot",
                            .boards = "Pi Zero, Pi 1A+, CM1",
                            .second_stage = "bootcode.bin",
                            .prefix = "2710",
                            .serial_is_board_serial = false,
                            .signed_boot_in_rom = true,
                            .rom_status_optional = false},
    [CMBOOT_SOC_BCM2837] = {.id = CMBOOT_SOC_BCM2837,
                            .product_id = 0x2764,
                            .name = "BCM2837",
                            .product = "BCM2710 Boot",
                            .boards = "CM3, CM3+, 3A+, Zero 2 W",
                            .second_stage = "bootcode.bin",
                            .prefix = "2710",
                            .serial_is_board_serial = false,
                            .signed_boot_in_rom = true,
                            .rom_status_optional = false},
    /* Imager notes that the status read may fail on BCM2711/2712: the ROM can reset before it answers. */
    [CMBOOT_SOC_BCM2711] = {.id = CMBOOT_SOC_BCM2711,
                            .product_id = 0x2711,
                            .name = "BCM2711",
                            .product = "BCM2711 Boot",
                            .boards = "CM4, CM4S, Pi 4, Pi 400",
                            .second_stage = "bootcode4.bin",
                            .prefix = "2711",
                            .serial_is_board_serial = true,
                            .signed_boot_in_rom = false,
                            .rom_status_optional = true},
    [CMBOOT_SOC_BCM2712] = {.id = CMBOOT_SOC_BCM2712,
                            .product_id = 0x2712,
                            .name = "BCM2712",
                            .product = "BCM2712 Boot",
                            .boards = "CM5, Pi 5, Pi 500",
                            .second_stage = "bootcode5.bin",
                            .prefix = "2712",
                            .serial_is_board_serial = true,
                            .signed_boot_in_rom = false,
                            .rom_status_optional = true},
};

/* Product IDs of the payloads that expose the eMMC after Done: legacy msd firmware, Linux mass-storage gadget. */
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
    if (vid == CMBOOT_VID_FASTBOOT && pid == CMBOOT_PID_FASTBOOT)
        return CMBOOT_STAGE_FASTBOOT;
    if (vid != CMBOOT_VID_BROADCOM)
        return CMBOOT_STAGE_UNKNOWN;
    for (size_t i = 0; i < sizeof mass_storage_pids / sizeof mass_storage_pids[0]; i++)
        if (pid == mass_storage_pids[i])
            return CMBOOT_STAGE_MASS_STORAGE;
    const cmboot_soc_info *soc = cmboot_soc_by_product_id(pid);
    if (!soc)
        return CMBOOT_STAGE_UNKNOWN;
    /* The stage is told by the index, not the string: 0 or 3 is a ROM, anything else (1, or 4 on a real
     * BCM2711 second stage) the second stage. */
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
    case CMBOOT_STAGE_FASTBOOT: return "fastboot";
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
