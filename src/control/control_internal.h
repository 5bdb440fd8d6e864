/* Internal to the control layer: spec parsers, word splitting, and the three kinds (GPIO, hub, hooks). */
#ifndef CMB_CONTROL_INTERNAL_H
#define CMB_CONTROL_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "cmboot/transport.h"
#include "core/log.h"

#define CMB_SPEC_MAX 1024     /* longest spec or hook command line */
#define CMB_HOOK_MAX_ARGS 64  /* words of a hook command */
#define CMB_HOOK_LINE_MAX 512 /* a hook's output is logged in lines of at most this */

/* "CHIP:LINE[=high|low]": CHIP and LINE non-empty, LINE without ':'; active_low from the suffix or the default. */
typedef struct cmb_gpio_spec {
    char chip[CMB_SPEC_MAX];
    char line[128];
    bool active_low;
} cmb_gpio_spec;
int cmb_gpio_spec_parse(const char *s, bool default_active_low, cmb_gpio_spec *out);

/* "HUBPATH:PORT": a valid device port path and a port 1..255. */
typedef struct cmb_hub_spec {
    char path[64];
    unsigned port;
} cmb_hub_spec;
int cmb_hub_spec_parse(const char *s, cmb_hub_spec *out);

/* Splits s (len bytes, no NUL needed) into words at blanks; '...' and "..." group blanks (no escapes). The words
 * are NUL-terminated copies in buf. CMBOOT_ERR_FORMAT for an unterminated quote, _TOO_LARGE when buf or
 * max_words is too small. */
int cmb_split_words(const char *s, size_t len, char *buf, size_t bufsize, char **words, size_t max_words,
                    size_t *nwords);

/* A hook's argv: the words of cmd with its placeholder ("{a|b}" or "{}") replaced by action, or action appended
 * when no word holds one; with shell, {"/bin/sh", "-c", cmd with the placeholder replaced}. */
int cmb_hook_argv(const char *cmd, const char *action, bool shell, char *buf, size_t bufsize, char **argv,
                  size_t max_args);

/* Runs argv (PATH searched, stdin /dev/null) in its own process group, its stdout and stderr logged line by line
 * as "tag: ...". The whole group is killed at timeout_ms, or when cancelled(arg) turns true (checked when wake_fd,
 * if >= 0, becomes readable and at least every 100 ms). CMBOOT_OK when it exited 0; _IO (non-zero exit or
 * killed by a signal; why says which), _TIMEOUT, _CANCELLED, _NOT_FOUND / _ACCESS (could not start). */
int cmb_hook_run(char *const argv[], unsigned timeout_ms, const cmb_logger *log, const char *device_id, const char *tag,
                 int wake_fd, bool (*cancelled)(void *arg), void *arg, char *why, size_t why_size);

/* Hub class requests (USB 2.0 section 11.24) through t->ops->control. */
enum { CMB_HUB_PORT_POWER = 8 };
typedef struct cmb_hub_info {
    unsigned ports;         /* bNbrPorts */
    uint16_t chars;         /* wHubCharacteristics */
    unsigned power_good_ms; /* bPwrOn2PwrGood x 2 */
} cmb_hub_info;
/* GET_DESCRIPTOR(hub), USB 2 type 0x29 then SuperSpeed 0x2A on a stall. */
int cmb_hub_read_info(const cmboot_transport *t, cmb_hub_info *info);
/* Checks per-port power switching and the port number, then Set/ClearPortFeature(PORT_POWER). why explains a
 * refusal: CMBOOT_ERR_UNSUPPORTED (ganged or no switching, or no control op), _NOT_FOUND (port out of range). */
int cmb_hub_port_power(const cmboot_transport *t, unsigned port, bool on, cmb_hub_info *info, char *why,
                       size_t why_size);

/* A GPIO line behind a small wrapper so libgpiod 2.x can be added beside 1.6 (only 1.6 is built and tested:
 * Debian 12). The line is requested when first driven and released by cmb_gpio_line_close. */
typedef struct cmb_gpio_line cmb_gpio_line;
/* Finds the chip and the line (no request yet). CMBOOT_ERR_NOT_FOUND / _ACCESS with why. */
int cmb_gpio_line_open(const cmb_gpio_spec *spec, const char *consumer, cmb_gpio_line **out, char *why,
                       size_t why_size);
/* Requests the line as an output if not yet and drives it to its asserted or deasserted level. _BUSY when
 * someone else holds it. */
int cmb_gpio_line_drive(cmb_gpio_line *l, bool asserted, char *why, size_t why_size);
/* Releases the request (the kernel leaves most lines at their last level) and closes the chip. */
void cmb_gpio_line_close(cmb_gpio_line *l);

#endif
