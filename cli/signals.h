/* Ctrl-C, SIGTERM, SIGHUP and a closed stdout cancel a running session cleanly (through a thread, not a handler). */
#ifndef CMBOOT_CLI_SIGNALS_H
#define CMBOOT_CLI_SIGNALS_H
#include <stdbool.h>
#include "cmboot/flash.h"
#include "cmboot/session.h"
/* Blocks SIGINT/SIGTERM/SIGHUP in every thread, ignores SIGPIPE, and starts a thread that cancels ctx when
 * one arrives. */
void cli_cancel_on_signals(cmboot_ctx *ctx);
/* Same, cancelling ctx and/or flash (either may be NULL); call again with NULL before freeing them.
 * A signal already received cancels the new ones at once. */
void cli_cancel_targets(cmboot_ctx *ctx, cmboot_flash_canceller *flash);
/* stdout cannot be written any more (its reader went away): cancels as a signal does. */
void cli_cancel_stdout_gone(void);
/* Whether a signal arrived or stdout went away. */
bool cli_cancel_requested(void);
/* What stopped the run ("SIGINT", "SIGTERM", "SIGHUP", "stdout closed"), NULL if nothing did. */
const char *cli_cancel_cause(void);
#endif
