/* Internal: reading and waiting on a cmboot_clock, NULL meaning the system clock. ISO C only (protocol uses it). */
#ifndef CMB_CORE_CLOCK_H
#define CMB_CORE_CLOCK_H

#include <stdint.h>
#include "cmboot/clock.h"

int64_t cmb_clock_now(const cmboot_clock *c);
void cmb_clock_pause(const cmboot_clock *c, unsigned ms);

#endif
