/* The monotonic clock every deadline in the library is measured on, and the clock interface over it. */
#include <poll.h>
#include <time.h>

#include "cmboot/device.h"
#include "core/clock.h"

int64_t cmboot_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int64_t system_now(void *user)
{
    (void)user;
    return cmboot_now_ms();
}

static void system_pause(void *user, unsigned ms)
{
    (void)user;
    poll(NULL, 0, ms > 0x7fffffffu ? 0x7fffffff : (int)ms);
}

static const cmboot_clock system_clock = {system_now, system_pause, NULL};

const cmboot_clock *cmboot_clock_system(void)
{
    return &system_clock;
}

/* Half a clock is no clock: fake time with real waits (or the reverse) would mix two time lines. */
static const cmboot_clock *usable(const cmboot_clock *c)
{
    return c && c->now_ms && c->pause_ms ? c : &system_clock;
}

int64_t cmb_clock_now(const cmboot_clock *c)
{
    c = usable(c);
    return c->now_ms(c->user);
}

void cmb_clock_pause(const cmboot_clock *c, unsigned ms)
{
    c = usable(c);
    c->pause_ms(c->user, ms);
}
