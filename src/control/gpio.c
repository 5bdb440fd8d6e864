/* GPIO lines through libgpiod 1.6 (the character device; never sysfs GPIO), behind cmb_gpio_line. */
#ifdef CMB_HAVE_LIBGPIOD /* src/CMakeLists.txt; without libgpiod, gpio_none.c */
#include <errno.h>
#include <gpiod.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cmboot/error.h"
#include "control_internal.h"
#include "core/error_map.h"

/* libgpiod 2.x replaced chips/lines with line requests (gpiod_chip_request_lines, gpiod_line_request_set_value);
 * a second implementation of these four functions under #if for it is all a port needs. */
#ifdef CMB_LIBGPIOD_V2 /* set by src/CMakeLists.txt from pkg-config's version */
#error "only the libgpiod 1.x API is implemented (src/control/gpio.c)"
#endif

struct cmb_gpio_line {
    struct gpiod_chip *chip;
    struct gpiod_line *line;
    bool requested;
    bool active_low;
    char consumer[32];
    char name[CMB_SPEC_MAX + 160];
};

static int gpio_error(int e)
{
    return e == EBUSY ? CMBOOT_ERR_BUSY : cmb_error_from_errno(e);
}

static bool all_digits(const char *s)
{
    if (!*s)
        return false;
    for (; *s; s++)
        if (*s < '0' || *s > '9')
            return false;
    return true;
}

int cmb_gpio_line_open(const cmb_gpio_spec *spec, const char *consumer, cmb_gpio_line **out, char *why, size_t why_size)
{
    *out = NULL;
    cmb_gpio_line *l = calloc(1, sizeof *l);
    if (!l)
        return CMBOOT_ERR_NO_MEMORY;
    snprintf(l->consumer, sizeof l->consumer, "%s", consumer && *consumer ? consumer : "cmboot");
    snprintf(l->name, sizeof l->name, "%s:%s", spec->chip, spec->line);
    l->active_low = spec->active_low;
    errno = 0;
    /* gpiod_chip_open_lookup takes a path, "gpiochipN", a number or a chip label. */
    l->chip = gpiod_chip_open_lookup(spec->chip);
    if (!l->chip) {
        int e = errno ? errno : ENOENT;
        int rc = e == EACCES || e == EPERM ? CMBOOT_ERR_ACCESS : CMBOOT_ERR_NOT_FOUND;
        snprintf(why, why_size, "GPIO chip '%s': %s", spec->chip,
                 rc == CMBOOT_ERR_ACCESS
                     ? "permission denied (see docs/board-control.md: the gpio group or a udev rule)"
                     : "no such chip (gpiodetect lists them)");
        free(l);
        return rc;
    }
    if (all_digits(spec->line)) {
        unsigned long off = strtoul(spec->line, NULL, 10);
        if (off < gpiod_chip_num_lines(l->chip))
            l->line = gpiod_chip_get_line(l->chip, (unsigned)off);
        if (!l->line)
            snprintf(why, why_size, "GPIO chip '%s' (%s) has %u lines, no line %s", spec->chip,
                     gpiod_chip_label(l->chip), gpiod_chip_num_lines(l->chip), spec->line);
    } else {
        l->line = gpiod_chip_find_line(l->chip, spec->line);
        if (!l->line)
            snprintf(why, why_size, "GPIO chip '%s' (%s) has no line named '%s' (gpioinfo lists them)", spec->chip,
                     gpiod_chip_label(l->chip), spec->line);
    }
    if (!l->line) {
        gpiod_chip_close(l->chip);
        free(l);
        return CMBOOT_ERR_NOT_FOUND;
    }
    *out = l;
    return CMBOOT_OK;
}

int cmb_gpio_line_drive(cmb_gpio_line *l, bool asserted, char *why, size_t why_size)
{
    int value = asserted != l->active_low; /* physical level */
    if (!l->requested) {
        if (gpiod_line_request_output(l->line, l->consumer, value) < 0) {
            int e = errno;
            const char *holder = gpiod_line_consumer(l->line);
            if (e == EBUSY)
                snprintf(why, why_size, "GPIO line %s is busy (held by '%s')", l->name, holder ? holder : "?");
            else
                snprintf(why, why_size, "GPIO line %s: %s", l->name, strerror(e));
            return gpio_error(e);
        }
        l->requested = true;
        return CMBOOT_OK;
    }
    if (gpiod_line_set_value(l->line, value) < 0) {
        int e = errno;
        snprintf(why, why_size, "GPIO line %s: %s", l->name, strerror(e));
        return gpio_error(e);
    }
    return CMBOOT_OK;
}

void cmb_gpio_line_close(cmb_gpio_line *l)
{
    if (!l)
        return;
    if (l->requested)
        gpiod_line_release(l->line);
    gpiod_chip_close(l->chip);
    free(l);
}

#endif
