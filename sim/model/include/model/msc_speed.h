/* Storage speed model of the mass-storage stage: the time the board's eMMC needs for READ/WRITE data. */
#ifndef CMBOOT_SIM_MSC_SPEED_H
#define CMBOOT_SIM_MSC_SPEED_H

/*
 * The Bulk-Only Transport (msc_bot) accounts every disk byte it moves; the frontend asks when the storage is
 * done with them and answers the transfer no earlier (it never sleeps: the answer is held like a NAK). The
 * storage works beside the link, so a frontend that also paces the link answers at the later of the two and
 * the board moves data at min(link, storage). Time is whatever clock the caller passes (microseconds), so a
 * test can drive it without waiting.
 */

#include <stdbool.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct msc_speed {
    uint64_t write_bytes_per_s;   /* 0 = unthrottled */
    uint64_t read_bytes_per_s;    /* 0 = unthrottled */
    uint64_t owed_ns;             /* storage time of the bytes accounted since the last msc_speed_done_at */
    uint64_t write_rem, read_rem; /* remainders (bytes * 1e9 mod rate) so the totals do not drift */
    int64_t free_ns;              /* the storage is busy until then */
    uint64_t write_ns, read_ns;   /* storage time of every byte so far, per direction */
} msc_speed;

void msc_speed_init(msc_speed *s, uint64_t write_bytes_per_s, uint64_t read_bytes_per_s);
/* The BOT's hook: n bytes of WRITE (write) or READ data moved between the host and the disk. */
void msc_speed_account(msc_speed *s, bool write, uint64_t n);
/* When the storage has finished what was accounted since the last call, starting no earlier than start_us
 * and after what it was doing before. start_us when nothing is owed. */
int64_t msc_speed_done_at(msc_speed *s, int64_t start_us);

#ifdef __cplusplus
}
#endif
#endif
