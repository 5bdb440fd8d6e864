/* Storage speed model of the mass-storage stage: READ/WRITE bytes turned into the time the eMMC needs. */
#include "model/msc_speed.h"

#include <string.h>

#define NS_PER_S 1000000000u

void msc_speed_init(msc_speed *s, uint64_t write_bytes_per_s, uint64_t read_bytes_per_s)
{
    memset(s, 0, sizeof(*s));
    s->write_bytes_per_s = write_bytes_per_s;
    s->read_bytes_per_s = read_bytes_per_s;
    s->write_behind_bytes = MSC_SPEED_WRITE_BEHIND;
}

void msc_speed_flush(msc_speed *s)
{
    s->flush = true;
}

/* n bytes at rate: whole nanoseconds, the remainder carried to the next call. */
static uint64_t cost_ns(uint64_t n, uint64_t rate, uint64_t *rem)
{
    if (rate == 0 || n == 0)
        return 0;
    /* Split so n * 1e9 cannot overflow for any transfer a BOT command can carry (< 4 GiB). */
    uint64_t whole = n / rate * NS_PER_S;
    uint64_t part = (n % rate) * NS_PER_S + *rem;
    *rem = part % rate;
    return whole + part / rate;
}

void msc_speed_account(msc_speed *s, bool write, uint64_t n)
{
    uint64_t ns =
        write ? cost_ns(n, s->write_bytes_per_s, &s->write_rem) : cost_ns(n, s->read_bytes_per_s, &s->read_rem);
    s->owed_ns += ns;
    if (write) {
        s->write_ns += ns;
    } else {
        s->read_ns += ns;
        s->owes_read = true;
    }
}

int64_t msc_speed_done_at(msc_speed *s, int64_t start_us)
{
    int64_t start_ns = start_us * 1000;
    if (s->owed_ns == 0 && !s->flush)
        return start_us;
    /* Callers see whole microseconds: a start within the microsecond the storage got free continues from there,
     * so rounding does not add up over many transfers. */
    if (s->free_ns > start_ns - 1000)
        start_ns = s->free_ns;
    s->free_ns = start_ns + (int64_t)s->owed_ns;
    int64_t done_ns = s->free_ns;
    if (!s->owes_read && !s->flush && s->write_bytes_per_s) {
        /* Write-behind: answered once no more than write_behind_bytes of writing is left. */
        uint64_t rem = 0;
        int64_t behind_ns = (int64_t)cost_ns(s->write_behind_bytes, s->write_bytes_per_s, &rem);
        done_ns = done_ns - behind_ns > start_us * 1000 ? done_ns - behind_ns : start_us * 1000;
    }
    s->owed_ns = 0;
    s->owes_read = false;
    s->flush = false;
    return (done_ns + 999) / 1000;
}
