/* Storage speed model of the mass-storage stage: the time the board's eMMC needs for READ/WRITE data. */
#ifndef CMBOOT_SIM_MSC_SPEED_H
#define CMBOOT_SIM_MSC_SPEED_H

/*
 * The Bulk-Only Transport (msc_bot) accounts every disk byte it moves; the frontend asks when the storage is
 * done with them and answers the transfer no earlier (it never sleeps: the answer is held like a NAK). The
 * storage works beside the link, so a frontend that also paces the link answers at the later of the two and
 * the board moves data at min(link, storage). Time is whatever clock the caller passes (microseconds), so a
 * test can drive it without waiting.
 *
 * Writes are taken like the board's Linux gadget (f_mass_storage) takes them: into its page cache, written
 * back while the host sends more or sits between commands, so a WRITE's data is answered once the storage has
 * at most write_behind_bytes still to write (far less than the page cache a board holds back, so the model is
 * never quicker than the board). The gadget reports its write cache on: SYNCHRONIZE CACHE (msc_speed_flush)
 * and every READ wait for all of it.
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
    uint64_t write_behind_bytes;  /* written data the storage may still owe when a WRITE is answered */
    bool owes_read;               /* READ data accounted since the last msc_speed_done_at: no write-behind */
    bool flush;                   /* the next msc_speed_done_at waits until the storage is idle */
} msc_speed;

/* Write-behind msc_speed_init sets: 4 MiB (a board's gadget holds back tens of MiB of page cache). */
#define MSC_SPEED_WRITE_BEHIND (4u * 1024u * 1024u)

void msc_speed_init(msc_speed *s, uint64_t write_bytes_per_s, uint64_t read_bytes_per_s);
/* The BOT's hook: n bytes of WRITE (write) or READ data moved between the host and the disk. */
void msc_speed_account(msc_speed *s, bool write, uint64_t n);
/* A SYNCHRONIZE CACHE: the next msc_speed_done_at answers when everything accounted is on the storage. */
void msc_speed_flush(msc_speed *s);
/* When the storage has finished what was accounted since the last call, starting no earlier than start_us
 * and after what it was doing before; for WRITE data, once at most write_behind_bytes of it is left. start_us
 * when nothing is owed (and no flush asked for). */
int64_t msc_speed_done_at(msc_speed *s, int64_t start_us);

#ifdef __cplusplus
}
#endif
#endif
