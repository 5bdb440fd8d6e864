/* Internal: the fastboot reply parser, shared by the client and its fuzz target. */
#ifndef CMB_FASTBOOT_INTERNAL_H
#define CMB_FASTBOOT_INTERNAL_H

#include <stddef.h>
#include <stdint.h>
#include "cmboot/fastboot.h"

typedef enum cmb_fb_kind { CMB_FB_OKAY, CMB_FB_FAIL, CMB_FB_INFO, CMB_FB_TEXT, CMB_FB_DATA } cmb_fb_kind;

typedef struct cmb_fb_reply {
    cmb_fb_kind kind;
    uint32_t data_size;                           /* DATA only */
    char text[CMBOOT_FASTBOOT_REPLY_MAX - 4 + 1]; /* payload after the 4-byte tag: printable ASCII, NUL-ended */
} cmb_fb_reply;

/* Parses one reply packet of len bytes. CMBOOT_ERR_PROTOCOL for fewer than 4 bytes, more than 256, an unknown
 * tag, or a DATA that is not exactly "DATA" and 8 hex digits. The payload stops at a NUL byte; bytes outside
 * printable ASCII become '?'. */
int cmb_fb_parse_reply(const uint8_t *buf, size_t len, cmb_fb_reply *out);

#endif
