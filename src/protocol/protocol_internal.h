/* Internal helpers shared by the ROM stage and the file server. */
#ifndef CMB_PROTOCOL_PROTOCOL_INTERNAL_H
#define CMB_PROTOCOL_PROTOCOL_INTERNAL_H

#include <stdbool.h>
#include "cmboot/protocol.h"

/* The stage functions' limits and hooks (both may be NULL) into full ones of this library (protocol/abi.c);
 * hooks past the caller's struct_size are NULL. CMBOOT_ERR_INVALID_ARG / _UNSUPPORTED for a bad struct_size. */
int cmb_stage_args_load(const cmboot_stage_limits *limits, const cmboot_stage_hooks *hooks,
                        cmboot_stage_limits *lim_out, cmboot_stage_hooks *hooks_out);
/* Whether a transport's and a file provider's vtables are at least the first release's size. */
bool cmb_transport_ok(const cmboot_transport *t);
bool cmb_file_provider_ok(const cmboot_file_provider *files);

/* write() of a whole stream: control OUT with its size, then bulk pieces of lim->chunk_size. */
int cmb_send_stream(const cmboot_transport *t, cmboot_stream *s, const char *name, const cmboot_stage_limits *lim,
                    const cmboot_stage_hooks *hooks);
void cmb_hook_log(const cmboot_stage_hooks *hooks, int level, const char *msg);
/* Bulk OUT of all len bytes. On a stall or I/O error, while *retries_left > 0 and the transport has
 * clear_halt: clears the halt and resends from the first byte the device did not take (decrementing
 * *retries_left). Returns the first error when it cannot retry. hooks may be NULL. */
int cmb_bulk_send(const cmboot_transport *t, const void *buf, size_t len, unsigned timeout_ms, unsigned *retries_left,
                  const cmboot_stage_hooks *hooks);
/* Device bytes for a log line: printable ASCII as is, the rest (and \ ") as \xNN, at most cap-1 chars
 * ("..." marks a cut). */
void cmb_escape_bytes(const void *in, size_t n, char *out, size_t cap);

#endif
