/* GPIO lines in a build without libgpiod (CMBOOT_GPIO off): the GPIO kind of board control is unsupported. */
#include <stdio.h>

#include "cmboot/error.h"
#include "control_internal.h"

#ifndef CMB_HAVE_LIBGPIOD

int cmb_gpio_line_open(const cmb_gpio_spec *spec, const char *consumer, cmb_gpio_line **out, char *why, size_t why_size)
{
    (void)consumer;
    *out = NULL;
    snprintf(why, why_size, "GPIO line %s:%s: this cmboot was built without libgpiod (CMBOOT_GPIO)", spec->chip,
             spec->line);
    return CMBOOT_ERR_UNSUPPORTED;
}

int cmb_gpio_line_drive(cmb_gpio_line *l, bool asserted, char *why, size_t why_size)
{
    (void)l;
    (void)asserted;
    snprintf(why, why_size, "built without libgpiod");
    return CMBOOT_ERR_UNSUPPORTED;
}

void cmb_gpio_line_close(cmb_gpio_line *l)
{
    (void)l;
}

#endif
