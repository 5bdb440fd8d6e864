/* The monotonic clock every deadline in the library is measured on. */
#include <time.h>

#include "cmboot/device.h"

int64_t cmboot_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}
