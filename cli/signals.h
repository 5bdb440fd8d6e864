/* Ctrl-C and SIGTERM cancel a running session cleanly (through a thread, not a signal handler). */
#ifndef CMBOOT_CLI_SIGNALS_H
#define CMBOOT_CLI_SIGNALS_H
#include "cmboot/session.h"
/* Blocks SIGINT/SIGTERM in every thread and starts a thread that cancels ctx when one arrives. */
void cli_cancel_on_signals(cmboot_ctx *ctx);
#endif
