/* Internal: the protocol API's caller-allocated structs read up to their struct_size (docs/abi.md). */
#ifndef CMB_PROTOCOL_ABI_H
#define CMB_PROTOCOL_ABI_H

#include "cmboot/protocol.h"

/* The caller's limits (NULL = defaults) into out, this library's size. CMBOOT_ERR_INVALID_ARG /
 * CMBOOT_ERR_UNSUPPORTED for a bad struct_size. */
int cmb_stage_limits_load(const cmboot_stage_limits *in, cmboot_stage_limits *out);

#endif
