/* Internal helpers shared by the ROM stage and the file server. */
#ifndef CMBOOT_SRC_PROTOCOL_INTERNAL_H
#define CMBOOT_SRC_PROTOCOL_INTERNAL_H

#include "cmboot/protocol.h"

/* write() of a whole stream: control OUT with its size, then bulk pieces of lim->chunk_size. */
int cmboot_send_stream(const cmboot_transport *t, cmboot_stream *s, const char *name,
                       const cmboot_stage_limits *lim, const cmboot_stage_hooks *hooks);
void cmboot_hook_log(const cmboot_stage_hooks *hooks, int level, const char *msg);

#endif
