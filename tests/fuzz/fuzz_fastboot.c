/* libFuzzer target: fastboot replies from a hostile device, to the reply parser and through the whole client. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "cmboot/error.h"
#include "cmboot/fastboot.h"
#include "fastboot/fastboot_internal.h"
#include "fastboot/sparse.h"
#include "fuzz_util.h"

/* Input: first the bytes the parser gets alone (a length byte, then that many), then the device's transfers:
 * per bulk IN an outcome byte (% 8: 6 timeout, 7 device gone, else data), a length byte (0-255, >= 250 means
 * 256 + (b - 250) * 64: over the reply limit) and the bytes; bulk OUT always succeeds. */
typedef struct dev {
    fuzz_in in;
    int64_t now;
} dev;

static int d_bulk_out(void *self, const void *buf, size_t len, size_t *actual, unsigned timeout_ms)
{
    (void)self, (void)buf, (void)timeout_ms;
    *actual = len;
    return CMBOOT_OK;
}

static int d_bulk_in(void *self, void *buf, size_t len, size_t *actual, unsigned timeout_ms)
{
    dev *d = self;
    *actual = 0;
    if (!d->in.left)
        return CMBOOT_ERR_NO_DEVICE;
    uint8_t o = fuzz_u8(&d->in) % 8;
    if (o == 6) {
        d->now += timeout_ms;
        return CMBOOT_ERR_TIMEOUT;
    }
    if (o == 7)
        return CMBOOT_ERR_NO_DEVICE;
    uint8_t b = fuzz_u8(&d->in);
    size_t want = b >= 250 ? 256 + (size_t)(b - 250) * 64 : b;
    const uint8_t *p = NULL;
    size_t n = fuzz_bytes(&d->in, want, &p);
    if (n > len)
        return CMBOOT_ERR_OVERFLOW;
    if (n)
        memcpy(buf, p, n);
    *actual = n;
    return CMBOOT_OK;
}

static void d_nop(void *self)
{
    (void)self;
}
static int64_t d_now(void *user)
{
    return ((dev *)user)->now;
}
static void d_pause(void *user, unsigned ms)
{
    ((dev *)user)->now += ms;
}

static const cmboot_transport_ops dev_ops = {
    .struct_size = sizeof(cmboot_transport_ops),
    .bulk_out = d_bulk_out,
    .cancel = d_nop,
    .close = d_nop,
    .bulk_in = d_bulk_in,
};

typedef struct sink {
    uint32_t got, asked;
} sink;

static int sink_write(void *user, const void *buf, size_t len)
{
    sink *s = user;
    (void)buf;
    s->got += (uint32_t)len;
    if (s->got > s->asked)
        fuzz_fail("fetch wrote more than asked");
    return CMBOOT_OK;
}

static void log_check(void *user, cmboot_fastboot_message kind, const char *text)
{
    (void)user, (void)kind;
    size_t n = strlen(text);
    if (n > CMBOOT_FASTBOOT_REPLY_MAX - 4)
        fuzz_fail("message longer than a reply");
    for (size_t i = 0; i < n; i++)
        if (text[i] < 0x20 || text[i] > 0x7e)
            fuzz_fail("unprintable byte in a message");
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    fuzz_in in = {data, size};
    const uint8_t *p = NULL;
    size_t n = fuzz_bytes(&in, fuzz_u8(&in), &p);
    cmb_fb_reply r;
    if (cmb_fb_parse_reply(p, n, &r) == CMBOOT_OK) {
        if (r.kind == CMB_FB_DATA && n != 12)
            fuzz_fail("DATA reply of a wrong length accepted");
        if (strlen(r.text) > n - 4)
            fuzz_fail("payload longer than the reply");
    }
    cmb_sparse_header h;
    (void)cmb_sparse_header_parse(p, n, &h);

    dev d = {in, 0};
    cmboot_clock clock = {d_now, d_pause, &d};
    cmboot_fastboot_options o;
    cmboot_fastboot_options_default(&o);
    o.clock = &clock;
    o.log = log_check;
    cmboot_fastboot *fb = NULL;
    if (cmboot_fastboot_new((cmboot_transport){&dev_ops, &d}, &o, &fb) != CMBOOT_OK)
        fuzz_fail("client refused a good transport");
    char v[32];
    if (cmboot_fastboot_getvar(fb, "product", v, sizeof v) == CMBOOT_OK && strlen(v) >= sizeof v)
        fuzz_fail("getvar overran its buffer");
    static const uint8_t payload[3000];
    (void)cmboot_fastboot_download_buffer(fb, payload, sizeof payload, NULL, NULL);
    sink s = {0, 5000};
    uint32_t fetched = 0;
    int rc = cmboot_fastboot_fetch(fb, "mmc0", 4096, s.asked, sink_write, &s, &fetched, NULL, NULL);
    if (fetched != s.got || (rc == CMBOOT_OK && fetched > s.asked))
        fuzz_fail("fetch count wrong");
    (void)cmboot_fastboot_flash(fb, "mmc0");
    (void)cmboot_fastboot_oem(fb, "x", v, sizeof v);
    if (strlen(cmboot_fastboot_last_fail(fb)) > CMBOOT_FASTBOOT_REPLY_MAX - 4)
        fuzz_fail("FAIL message too long");
    cmboot_fastboot_free(fb);
    return 0;
}
