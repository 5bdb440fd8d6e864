/* Ctrl-C and SIGTERM cancel a running session cleanly (through a thread, not a signal handler). */
#ifndef CMBOOT_CLI_SIGNALS_H
#define CMBOOT_CLI_SIGNALS_H
#include <stdbool.h>
#include "cmboot/flash.h"
#include "cmboot/session.h"
/* Blocks SIGINT/SIGTERM in every thread and starts a thread that cancels ctx when one arrives. */
void cli_cancel_on_signals(cmboot_ctx *ctx);
/* Same, cancelling ctx and/or flash (either may be NULL); call again with NULL before freeing them.
 * A signal already received cancels the new ones at once. */
void cli_cancel_targets(cmboot_ctx *ctx, cmboot_flash_canceller *flash);
/* Whether SIGINT/SIGTERM arrived. */
bool cli_cancel_requested(void);
#endif
