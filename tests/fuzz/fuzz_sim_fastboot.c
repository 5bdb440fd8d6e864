/* libFuzzer target: the emulator's fastboot gadget (sim/model/sim_fastboot.c): command parser, sparse decoder
 * and a whole session of host transfers against one partition file. */
#include <stdio.h>
#include <string.h>

#include "cmboot/error.h"
#include "fuzz_util.h"
#include "model/sim_device.h"
#include "model/sim_fastboot.h"

#define PART 4096

static int mem_write(void *ctx, uint64_t off, const uint8_t *data, size_t len)
{
    if (off > PART || len > PART - off)
        fuzz_fail("sparse write past the target");
    memcpy((uint8_t *)ctx + off, data, len);
    return CMBOOT_OK;
}

static int mem_fill(void *ctx, uint64_t off, const uint8_t pattern[4], size_t len)
{
    if (off > PART || len > PART - off || len % 4)
        fuzz_fail("sparse fill past the target");
    for (size_t i = 0; i < len; i++)
        ((uint8_t *)ctx)[off + i] = pattern[i % 4];
    return CMBOOT_OK;
}

static void session(const uint8_t *data, size_t size)
{
    static uint8_t zero[PART];
    char path[4200];
    snprintf(path, sizeof path, "%s/part.img", fuzz_scratch());
    fuzz_write_file(path, zero, sizeof zero);
    sim_fastboot_part part = {"mmcblk0", path};
    sim_config cfg;
    sim_config_default(&cfg, CMBOOT_SOC_BCM2712);
    cfg.start_stage = SIM_STAGE_FASTBOOT;
    cfg.fastboot_parts = &part;
    cfg.n_fastboot_parts = 1;
    cfg.fastboot_max_download = 8192;
    fuzz_in in = {data, size};
    uint8_t flags = fuzz_u8(&in);
    cfg.fastboot_no_fetch = flags & 1;
    cfg.fastboot_short_fetch = flags & 2;
    cfg.fastboot_vanish_after = flags & 4 ? fuzz_u16(&in) : 0;
    sim_device *d;
    if (sim_device_new(&cfg, &d) != CMBOOT_OK)
        return;
    const uint8_t setup[8] = {0x00, 0x09, 1, 0, 0, 0, 0, 0};
    size_t n;
    sim_device_control(d, setup, NULL, &n, 0);
    int64_t now = 0;
    while (in.left) {
        uint8_t op = fuzz_u8(&in);
        now++;
        if (op & 1) {
            uint8_t buf[1024];
            size_t cap = 1 + (fuzz_u16(&in) % sizeof buf);
            size_t got = 0;
            sim_status st = sim_device_bulk_in(d, 0x81, buf, cap, &got, now);
            if (got > cap || (st != SIM_OK && got))
                fuzz_fail("bulk IN answered more than asked");
        } else {
            const uint8_t *p;
            size_t len = fuzz_bytes(&in, op >> 1, &p);
            size_t took = 0;
            sim_device_bulk_out(d, 0x01, p, len, &took, now);
            if (took > len)
                fuzz_fail("bulk OUT took more than given");
        }
    }
    sim_device_free(d);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    sim_fb_cmd c;
    int rc = sim_fb_parse(data, size, &c);
    if (rc == CMBOOT_OK && strnlen(c.arg, sizeof c.arg) == sizeof c.arg)
        fuzz_fail("argument not terminated");
    if (rc != CMBOOT_OK && rc != CMBOOT_ERR_FORMAT && rc != CMBOOT_ERR_TOO_LARGE)
        fuzz_fail("parse: unexpected error");
    static uint8_t target[PART];
    const sim_fb_sink sink = {target, mem_write, mem_fill};
    (void)sim_fb_sparse_apply(data, size, PART, &sink);
    session(data, size);
    return 0;
}
