/* Fuzz transport: each device answer (status, size, request bytes) is taken from the input stream (layout in
 * fuzz_transport.h). */
#include <string.h>

#include "fuzz_transport.h"

typedef struct fuzz_dev {
    const uint8_t *p;
    size_t left;
    unsigned calls;
    const fuzz_fs_options *opt; /* NULL: plain runs */
    int64_t now_ms;             /* the fake clock: moved by pauses and by transfers that time out */
} fuzz_dev;

/* The stages' clock for a run: no real time passes, so the default deadlines and back-off stay on (their
 * paths are fuzzed) and cost nothing. */
static int64_t clock_now(void *user)
{
    return ((fuzz_dev *)user)->now_ms;
}

static void clock_pause(void *user, unsigned ms)
{
    ((fuzz_dev *)user)->now_ms += ms;
}

static int take(fuzz_dev *d, uint8_t *out, size_t n)
{
    size_t k = n < d->left ? n : d->left;
    memcpy(out, d->p, k);
    d->p += k;
    d->left -= k;
    return (int)k;
}

/* One byte decides the outcome of each transfer: mostly success, sometimes each error. A timeout took the
 * transfer's whole timeout on the fake clock. */
static int outcome(fuzz_dev *d, unsigned timeout_ms)
{
    uint8_t b = 0;
    if (take(d, &b, 1) == 0 || ++d->calls > 4000)
        return CMBOOT_ERR_NO_DEVICE; /* input exhausted: the device leaves */
    switch (b % 16) {
    case 13: d->now_ms += timeout_ms; return CMBOOT_ERR_TIMEOUT;
    case 14: return CMBOOT_ERR_STALL;
    case 15: return CMBOOT_ERR_IO;
    default: return CMBOOT_OK;
    }
}

static int f_control_out(void *self, uint16_t v, uint16_t i, unsigned t)
{
    (void)v;
    (void)i;
    return outcome(self, t);
}

static int f_control_in(void *self, uint16_t v, uint16_t i, void *buf, size_t len, size_t *actual, unsigned t)
{
    (void)v;
    (void)i;
    fuzz_dev *d = self;
    int rc = outcome(d, t);
    if (rc < 0)
        return rc;
    uint8_t lb = 0;
    take(d, &lb, 1);
    size_t want = lb >= 0xf0 ? (size_t)(lb - 0xf0) : len; /* sometimes a short answer */
    if (want > len)
        want = len;
    memset(buf, 0, len);
    /* keep commands small so the file server's branches are reached, not only "unknown command"; a high
     * bit of the command byte leaves it as it came (negative and huge commands) */
    *actual = (size_t)take(d, buf, want);
    if (*actual >= 4 && len == CMBOOT_FS_REQUEST_SIZE) {
        uint8_t *b = buf;
        if (!(b[0] & 0x80)) {
            b[0] %= 5;
            b[1] = b[2] = b[3] = 0;
        }
    }
    return CMBOOT_OK;
}

static int f_bulk_out(void *self, const void *buf, size_t len, size_t *actual, unsigned t)
{
    fuzz_dev *d = self;
    if (d->opt && d->opt->bulk_check)
        d->opt->bulk_check(d->opt->user, buf, len); /* every byte offered to the device, taken or not */
    int rc = outcome(d, t);
    *actual = rc == CMBOOT_OK ? len : 0;
    if (rc < 0 && rc != CMBOOT_ERR_NO_DEVICE) {
        /* a failed bulk OUT may have taken part of the data (what the halt-clearing retry resends) */
        uint8_t part = 0;
        take(d, &part, 1);
        *actual = len * part / 255;
    }
    return rc;
}

static int f_clear_halt(void *self)
{
    return outcome(self, 0);
}

static void f_cancel(void *self)
{
    (void)self;
}
static void f_close(void *self)
{
    (void)self;
}

static const cmboot_transport_ops fuzz_ops = {
    .struct_size = sizeof(cmboot_transport_ops),
    .control_out = f_control_out,
    .control_in = f_control_in,
    .bulk_out = f_bulk_out,
    .cancel = f_cancel,
    .close = f_close,
    .clear_halt = f_clear_halt,
};

typedef struct files_ctx {
    cmboot_files *files;
} files_ctx;

static int open_file(void *user, const char *name, cmboot_stream *out)
{
    files_ctx *fc = user;
    return cmboot_files_open(fc->files, cmboot_soc_by_id(CMBOOT_SOC_BCM2711), "1-1", name, out);
}

static void count_log(void *user, int level, const char *msg)
{
    (void)level;
    fuzz_stats *st = user;
    if (strstr(msg, "reading again"))
        st->reads_again++;
    if (strstr(msg, "at least 4 needed"))
        st->short_requests++;
    if (strstr(msg, "unknown command"))
        st->unknown_commands++;
    if (strstr(msg, "not *KEY*VALUE"))
        st->bad_metadata++;
    if (strstr(msg, "refused a file name"))
        st->unsafe_names++;
    if (strstr(msg, "clearing the halt"))
        st->halt_retries++;
}

static void count_metadata(void *user, const char *key, const char *value)
{
    fuzz_stats *st = user;
    /* both strings must be terminated within the request: reading them is what the sanitizers check */
    if (strlen(key) + strlen(value) < CMBOOT_FS_NAME_FIELD)
        st->metadata++;
}

static int run(const uint8_t *data, size_t size, const char *boot_dir, fuzz_stats *stats, int rom)
{
    fuzz_dev d = {data, size, 0, NULL, 0};
    cmboot_transport t = {&fuzz_ops, &d};
    cmboot_clock clock = {clock_now, clock_pause, &d};
    cmboot_stage_limits lim;
    cmboot_stage_limits_default(&lim); /* the real deadlines and back-off: on the fake clock they cost nothing */
    lim.chunk_size = 4096;
    lim.clock = &clock;
    fuzz_stats local;
    memset(&local, 0, sizeof local);
    cmboot_stage_hooks hooks = {
        .struct_size = sizeof hooks, .metadata = count_metadata, .log = count_log, .user = stats ? stats : &local};
    static const uint8_t second[64];
    cmboot_files_config cfg = {.struct_size = sizeof cfg, .boot_dir = boot_dir};
    files_ctx fc;
    if (cmboot_files_new(&cfg, &fc.files) < 0)
        return CMBOOT_ERR_NO_MEMORY;
    cmboot_stream s;
    if (rom && cmboot_files_open(fc.files, cmboot_soc_by_id(CMBOOT_SOC_BCM2711), NULL, "bootcode4.bin", &s) == 0) {
        int32_t st;
        lim.rom_status_optional = size % 2; /* both ways of treating a failed status read */
        cmboot_rom_stage_run(&t, &s, second, &lim, &hooks, &st);
        cmboot_stream_close(&s);
    }
    cmboot_file_provider p = {sizeof p, open_file, &fc};
    unsigned served;
    int rc = cmboot_fileserver_run(&t, &p, &lim, &hooks, &served);
    cmboot_files_free(fc.files);
    if (stats)
        stats->clock_ms = d.now_ms;
    return rc;
}

int fuzz_run_fileserver_with(const uint8_t *data, size_t size, const fuzz_fs_options *opt)
{
    fuzz_dev d = {data, size, 0, opt, 0};
    cmboot_transport t = {&fuzz_ops, &d};
    cmboot_clock clock = {clock_now, clock_pause, &d};
    cmboot_stage_limits lim;
    cmboot_stage_limits_default(&lim);
    lim.chunk_size = 4096;
    lim.request_idle_limit_ms = opt->idle_limit_ms;
    lim.clock = &clock;
    unsigned served;
    int rc = cmboot_fileserver_run(&t, opt->provider, &lim, opt->hooks, &served);
    if (opt->clock_ms)
        *opt->clock_ms = d.now_ms;
    return rc;
}

int fuzz_run_stages(const uint8_t *data, size_t size, const char *boot_dir, fuzz_stats *stats)
{
    return run(data, size, boot_dir, stats, 1);
}

int fuzz_run_fileserver(const uint8_t *data, size_t size, const char *boot_dir, fuzz_stats *stats)
{
    return run(data, size, boot_dir, stats, 0);
}
