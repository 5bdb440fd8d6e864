/* USB descriptors of the model's stages: functions of the configuration and the stage only, no device state. */
#ifndef CMBOOT_SIM_DESCRIPTORS_H
#define CMBOOT_SIM_DESCRIPTORS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "model/sim_device.h"

/* GET_DESCRIPTOR of a stage: type 1 device, 2 config, 3 string. *config_reads counts the configuration reads
 * since the connect (the BCM2711 quirk answers the first one differently). Bytes written (truncated to cap)
 * or -1 (no such descriptor: stall). */
int sim_desc_build(const sim_config *cfg, cmboot_stage stage, unsigned *config_reads, uint8_t type, uint8_t index,
                   uint8_t *buf, size_t cap);
/* The configuration descriptor as it settles (no quirk). */
int sim_desc_settled_config(const sim_config *cfg, cmboot_stage stage, uint8_t *buf, size_t cap);
/* Whether the stage's configuration has this (non-zero) endpoint. */
bool sim_desc_has_endpoint(const sim_config *cfg, cmboot_stage stage, uint8_t ep);
/* The vendor interface's bulk OUT endpoint: 0x03 on the BCM2837 ROM with two interfaces, else 0x01. */
uint8_t sim_desc_bulk_out_ep(const sim_config *cfg, cmboot_stage stage);
/* Identity of a connected stage; `configured` is the device's to fill. */
void sim_desc_identity(const sim_config *cfg, cmboot_stage stage, sim_identity *out);

#endif
