/* The clock the protocol stages measure their deadlines on: the system's, or one a test or emulator drives. */
#ifndef CMBOOT_CLOCK_H
#define CMBOOT_CLOCK_H

#include <stdint.h>
#include "cmboot/export.h"

#ifdef __cplusplus
extern "C" {
#endif

/* now_ms: a monotonic time in milliseconds (any origin). pause_ms: waits about ms milliseconds, the only way the
 * stages wait between retries. A fake clock advances its time in pause_ms (and a fake transport by the timeout of
 * a transfer that timed out), so deadlines of seconds pass in no real time. Both called from the stage's thread;
 * both must be set (a clock missing one counts as the system clock). */
typedef struct cmboot_clock {
    int64_t (*now_ms)(void *user);
    void (*pause_ms)(void *user, unsigned ms);
    void *user;
} cmboot_clock;

/* The system clock: cmboot_now_ms() and a real wait. What a NULL clock means. */
CMBOOT_API const cmboot_clock *cmboot_clock_system(void);

#ifdef __cplusplus
}
#endif
#endif
