/* Hub port power: GET_DESCRIPTOR(hub) and Set/ClearPortFeature(PORT_POWER), USB 2.0 section 11.24. */
#include <stdio.h>

#include "cmboot/error.h"
#include "control_internal.h"

#define HUB_TIMEOUT_MS 1000
#define RT_CLASS_DEVICE_IN 0xA0 /* IN, class, device */
#define RT_CLASS_OTHER_OUT 0x23 /* OUT, class, other (a port) */
#define REQ_CLEAR_FEATURE 1
#define REQ_SET_FEATURE 3
#define REQ_GET_DESCRIPTOR 6

int cmb_hub_read_info(const cmboot_transport *t, cmb_hub_info *info)
{
    if (!t || !t->ops || !t->ops->control || t->ops->struct_size < sizeof(cmboot_transport_ops))
        return CMBOOT_ERR_UNSUPPORTED;
    uint8_t d[16];
    size_t got = 0;
    /* A USB 2 hub answers type 0x29; a SuperSpeed hub stalls it and answers 0x2A (USB 3.2 section 10.15.2.1). */
    static const uint8_t types[] = {0x29, 0x2A};
    int rc = CMBOOT_ERR_STALL;
    uint8_t type = 0;
    for (size_t i = 0; i < sizeof types && rc == CMBOOT_ERR_STALL; i++) {
        type = types[i];
        rc = t->ops->control(t->self, RT_CLASS_DEVICE_IN, REQ_GET_DESCRIPTOR, (uint16_t)(type << 8), 0, d, sizeof d,
                             &got, HUB_TIMEOUT_MS);
    }
    if (rc != CMBOOT_OK)
        return rc;
    if (got > sizeof d)
        return CMBOOT_ERR_OVERFLOW;
    /* bLength, bDescriptorType, bNbrPorts, wHubCharacteristics, bPwrOn2PwrGood: 6 bytes at least. */
    if (got < 6 || d[0] < 6 || d[1] != type)
        return CMBOOT_ERR_PROTOCOL;
    info->ports = d[2];
    info->chars = (uint16_t)(d[3] | d[4] << 8);
    info->power_good_ms = 2u * d[5];
    return CMBOOT_OK;
}

int cmb_hub_port_power(const cmboot_transport *t, unsigned port, bool on, cmb_hub_info *info, char *why,
                       size_t why_size)
{
    cmb_hub_info local;
    if (!info)
        info = &local;
    int rc = cmb_hub_read_info(t, info);
    if (rc == CMBOOT_ERR_UNSUPPORTED) {
        snprintf(why, why_size, "this transport cannot send hub requests");
        return rc;
    }
    if (rc != CMBOOT_OK) {
        snprintf(why, why_size, "reading the hub descriptor: %s", cmboot_strerror(rc));
        return rc;
    }
    /* wHubCharacteristics bits 1:0: 00 ganged, 01 per port, 1x no power switching. */
    if ((info->chars & 3) != 1) {
        snprintf(why, why_size, "the hub %s (wHubCharacteristics 0x%04x): it cannot switch one port's power",
                 (info->chars & 3) == 0 ? "switches all ports together" : "has no power switching", info->chars);
        return CMBOOT_ERR_UNSUPPORTED;
    }
    if (port < 1 || port > info->ports) {
        snprintf(why, why_size, "the hub has %u ports, no port %u", info->ports, port);
        return CMBOOT_ERR_NOT_FOUND;
    }
    rc = t->ops->control(t->self, RT_CLASS_OTHER_OUT, on ? REQ_SET_FEATURE : REQ_CLEAR_FEATURE, CMB_HUB_PORT_POWER,
                         (uint16_t)port, NULL, 0, NULL, HUB_TIMEOUT_MS);
    if (rc != CMBOOT_OK)
        snprintf(why, why_size, "%s(PORT_POWER) on port %u: %s", on ? "SetPortFeature" : "ClearPortFeature", port,
                 cmboot_strerror(rc));
    return rc;
}
