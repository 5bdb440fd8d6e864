/* Emulator: the fastboot gadget stage driven through the model (sim_fastboot.c), its parser and sparse decoder. */
#include "testutil.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "cmboot/error.h"
#include "model/sim_device.h"
#include "model/sim_fastboot.h"

#define PART_SIZE 8192

typedef struct fb_env {
    char *dir;
    char path[512];
    char path2[512];
    sim_fastboot_part parts[2];
    sim_config cfg;
    sim_device *d;
    int64_t now;
} fb_env;

static void env_init(fb_env *e, const char *tag)
{
    memset(e, 0, sizeof *e);
    e->dir = test_tmpdir(tag);
    uint8_t img[PART_SIZE];
    test_fill_pattern(img, sizeof img, 7);
    test_write_file(e->dir, "disk.img", img, sizeof img);
    test_write_file(e->dir, "boot.img", img, 1024);
    snprintf(e->path, sizeof e->path, "%s/disk.img", e->dir);
    snprintf(e->path2, sizeof e->path2, "%s/boot.img", e->dir);
    e->parts[0] = (sim_fastboot_part){"mmcblk0", e->path};
    e->parts[1] = (sim_fastboot_part){"boot", e->path2};
    sim_config_default(&e->cfg, CMBOOT_SOC_BCM2711);
    e->cfg.start_stage = SIM_STAGE_FASTBOOT;
    e->cfg.fastboot_parts = e->parts;
    e->cfg.n_fastboot_parts = 2;
    e->cfg.fastboot_max_download = 65536;
    e->now = 0;
}

static void env_start(fb_env *e)
{
    assert_int_equal(sim_device_new(&e->cfg, &e->d), CMBOOT_OK);
    sim_event ev;
    assert_true(sim_device_take_event(e->d, &ev));
    assert_int_equal(ev.type, SIM_EV_CONNECT);
    assert_int_equal(ev.stage, SIM_STAGE_FASTBOOT);
    const uint8_t setup[8] = {0x00, 0x09, 1, 0, 0, 0, 0, 0};
    size_t n;
    assert_int_equal(sim_device_control(e->d, setup, NULL, &n, 0), SIM_OK);
}

static void env_free(fb_env *e)
{
    sim_device_free(e->d);
    test_rmtree(e->dir);
    free(e->dir);
}

static void send(fb_env *e, const void *data, size_t len)
{
    size_t took = 0;
    assert_int_equal(sim_device_bulk_out(e->d, 0x01, data, len, &took, ++e->now), SIM_OK);
    assert_int_equal(took, len);
}

static void cmd(fb_env *e, const char *c)
{
    send(e, c, strlen(c));
}

/* One reply, NUL-terminated into out. */
static void reply(fb_env *e, char *out, size_t cap)
{
    size_t n = 0;
    assert_int_equal(sim_device_bulk_in(e->d, 0x81, (uint8_t *)out, SIM_FB_REPLY_MAX, &n, ++e->now), SIM_OK);
    assert_true(n < cap);
    out[n] = 0;
}

static void expect(fb_env *e, const char *want)
{
    char r[SIM_FB_REPLY_MAX + 1];
    reply(e, r, sizeof r);
    assert_string_equal(r, want);
}

static void no_reply(fb_env *e)
{
    uint8_t buf[SIM_FB_REPLY_MAX];
    size_t n;
    assert_int_equal(sim_device_bulk_in(e->d, 0x81, buf, sizeof buf, &n, ++e->now), SIM_PENDING);
}

static void download(fb_env *e, const uint8_t *data, size_t len)
{
    char c[32], want[16];
    snprintf(c, sizeof c, "download:%08zx", len);
    snprintf(want, sizeof want, "DATA%08zx", len);
    cmd(e, c);
    expect(e, want);
    for (size_t off = 0; off < len; off += 1000) /* in pieces, as a host may send it */
        send(e, data + off, len - off < 1000 ? len - off : 1000);
    expect(e, "OKAY");
}

static void read_part(const char *path, uint8_t *buf, size_t len)
{
    FILE *f = fopen(path, "rb");
    assert_non_null(f);
    assert_int_equal(fread(buf, 1, len, f), len);
    fclose(f);
}

static void getvar(void **state)
{
    (void)state;
    fb_env e;
    env_init(&e, "fb-getvar");
    env_start(&e);
    no_reply(&e);
    cmd(&e, "getvar:version");
    /* the next command waits until the reply was read */
    size_t took;
    assert_int_equal(sim_device_bulk_out(e.d, 0x01, (const uint8_t *)"getvar:x", 8, &took, 1), SIM_PENDING);
    expect(&e, "OKAY0.4");
    cmd(&e, "getvar:max-download-size");
    expect(&e, "OKAY0x00010000");
    cmd(&e, "getvar:serial");
    expect(&e, "OKAYaf04b2da");
    cmd(&e, "getvar:product");
    expect(&e, "OKAYBCM2711");
    cmd(&e, "getvar:partition-size:mmcblk0");
    expect(&e, "OKAY0x2000");
    cmd(&e, "getvar:partition-type:boot");
    expect(&e, "OKAYraw");
    cmd(&e, "getvar:partition-size:nvme0n1");
    expect(&e, "FAILVariable not found");
    cmd(&e, "getvar:all");
    expect(&e, "INFOversion:0.4");
    expect(&e, "INFOproduct:BCM2711");
    expect(&e, "INFOserial:af04b2da");
    expect(&e, "INFOmax-download-size:0x00010000");
    expect(&e, "INFOpartition-size:mmcblk0:0x2000");
    expect(&e, "INFOpartition-type:mmcblk0:raw");
    expect(&e, "INFOpartition-size:boot:0x400");
    expect(&e, "INFOpartition-type:boot:raw");
    expect(&e, "OKAY");
    no_reply(&e);
    cmd(&e, "oem led blink");
    expect(&e, "INFOoem led blink");
    expect(&e, "INFOdone");
    expect(&e, "OKAY");
    cmd(&e, "powerdown");
    expect(&e, "FAILunknown command");
    /* 65 bytes: over the limit */
    cmd(&e, "getvar:aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa");
    expect(&e, "FAILcommand too long");
    cmd(&e, "download:1234");
    expect(&e, "FAILmalformed command");
    cmd(&e, "download:00010001");
    expect(&e, "FAILdata too large");
    sim_result r;
    sim_device_result(e.d, &r);
    assert_int_equal(r.failures, 0);
    env_free(&e);
}

static void flash_raw_and_erase(void **state)
{
    (void)state;
    fb_env e;
    env_init(&e, "fb-raw");
    env_start(&e);
    cmd(&e, "flash:mmcblk0");
    expect(&e, "FAILno data downloaded");
    uint8_t img[3000], before[PART_SIZE], after[PART_SIZE];
    test_fill_pattern(img, sizeof img, 99);
    read_part(e.path, before, sizeof before);
    download(&e, img, sizeof img);
    cmd(&e, "flash:nvme0n1");
    expect(&e, "FAILpartition nvme0n1 does not exist");
    cmd(&e, "flash:mmcblk0");
    expect(&e, "INFOwriting mmcblk0");
    expect(&e, "OKAY");
    read_part(e.path, after, sizeof after);
    assert_memory_equal(after, img, sizeof img);
    assert_memory_equal(after + sizeof img, before + sizeof img, sizeof after - sizeof img); /* rest kept */
    /* too large for the 1 KiB partition */
    cmd(&e, "flash:boot");
    expect(&e, "FAILimage too large for partition boot");
    cmd(&e, "erase:boot");
    expect(&e, "OKAY");
    uint8_t boot[1024], zero[1024] = {0};
    read_part(e.path2, boot, sizeof boot);
    assert_memory_equal(boot, zero, sizeof zero);
    cmd(&e, "erase:nope");
    expect(&e, "FAILpartition nope does not exist");
    env_free(&e);
}

static size_t put_chunk(uint8_t *p, uint16_t type, uint32_t blocks, uint32_t total)
{
    memset(p, 0, 12);
    p[0] = (uint8_t)type;
    p[1] = (uint8_t)(type >> 8);
    memcpy(p + 4, &blocks, 4); /* little-endian host */
    memcpy(p + 8, &total, 4);
    return 12;
}

/* A sparse image of 8 blocks of 1 KiB: RAW 2, FILL 3 (0xa5a55a5a), DONT_CARE 2, CRC32, RAW 1. */
static size_t build_sparse(uint8_t *out, const uint8_t raw[3072])
{
    uint32_t hdr[7] = {SIM_SPARSE_MAGIC, 1, 28 | 12u << 16, 1024, 8, 5, 0};
    memcpy(out, hdr, 28);
    size_t n = 28;
    n += put_chunk(out + n, 0xcac1, 2, 12 + 2048);
    memcpy(out + n, raw, 2048);
    n += 2048;
    n += put_chunk(out + n, 0xcac2, 3, 16);
    const uint8_t pat[4] = {0x5a, 0x5a, 0xa5, 0xa5};
    memcpy(out + n, pat, 4);
    n += 4;
    n += put_chunk(out + n, 0xcac3, 2, 12);
    n += put_chunk(out + n, 0xcac4, 0, 16);
    memset(out + n, 0, 4);
    n += 4;
    n += put_chunk(out + n, 0xcac1, 1, 12 + 1024);
    memcpy(out + n, raw + 2048, 1024);
    return n + 1024;
}

static void flash_sparse(void **state)
{
    (void)state;
    fb_env e;
    env_init(&e, "fb-sparse");
    env_start(&e);
    uint8_t raw[3072], img[4096], before[PART_SIZE], after[PART_SIZE];
    test_fill_pattern(raw, sizeof raw, 5);
    size_t n = build_sparse(img, raw);
    assert_true(sim_fb_is_sparse(img, n));
    read_part(e.path, before, sizeof before);
    download(&e, img, n);
    cmd(&e, "flash:mmcblk0");
    expect(&e, "INFOwriting mmcblk0");
    expect(&e, "OKAY");
    read_part(e.path, after, sizeof after);
    assert_memory_equal(after, raw, 2048);
    for (size_t i = 2048; i < 5 * 1024; i++)
        assert_int_equal(after[i], (i % 4) < 2 ? 0x5a : 0xa5);
    assert_memory_equal(after + 5 * 1024, before + 5 * 1024, 2048); /* DONT_CARE: untouched */
    assert_memory_equal(after + 7 * 1024, raw + 2048, 1024);
    /* the 1 KiB partition cannot take 8 KiB of blocks */
    cmd(&e, "flash:boot");
    expect(&e, "FAILimage too large for partition boot");
    /* a chunk whose size disagrees: malformed */
    img[28 + 8] ^= 1;
    download(&e, img, n);
    cmd(&e, "flash:mmcblk0");
    expect(&e, "FAILmalformed sparse image");
    env_free(&e);
}

static void fetch_round_trip(void **state)
{
    (void)state;
    fb_env e;
    env_init(&e, "fb-fetch");
    env_start(&e);
    uint8_t part[PART_SIZE], buf[PART_SIZE];
    read_part(e.path, part, sizeof part);
    cmd(&e, "fetch:mmcblk0:0x00000100:0x00000c00");
    expect(&e, "DATA00000c00");
    size_t got = 0, n;
    while (got < 0xc00) { /* 512-byte transfers */
        assert_int_equal(sim_device_bulk_in(e.d, 0x81, buf + got, 512, &n, ++e.now), SIM_OK);
        assert_int_equal(n, 512);
        got += n;
    }
    assert_memory_equal(buf, part + 0x100, 0xc00);
    expect(&e, "OKAY");
    cmd(&e, "fetch:mmcblk0:8000:200"); /* decimal works too; past the end */
    expect(&e, "FAILbad range");
    cmd(&e, "fetch:boot:0:1024");
    expect(&e, "DATA00000400");
    assert_int_equal(sim_device_bulk_in(e.d, 0x81, buf, 1024, &n, ++e.now), SIM_OK);
    assert_int_equal(n, 1024);
    expect(&e, "OKAY");
    cmd(&e, "fetch:mmcblk0");
    expect(&e, "FAILmalformed command");
    env_free(&e);
}

static void fetch_disabled(void **state)
{
    (void)state;
    fb_env e;
    env_init(&e, "fb-nofetch");
    e.cfg.fastboot_no_fetch = true;
    env_start(&e);
    cmd(&e, "fetch:mmcblk0:0:0x100");
    expect(&e, "FAILunknown command");
    no_reply(&e);
    env_free(&e);
}

static void fault_fail_command(void **state)
{
    (void)state;
    fb_env e;
    env_init(&e, "fb-failcmd");
    e.cfg.fastboot_fail_cmd = "flash:";
    env_start(&e);
    uint8_t img[100] = {1, 2, 3};
    download(&e, img, sizeof img);
    cmd(&e, "flash:mmcblk0");
    expect(&e, "FAILinjected fault");
    cmd(&e, "getvar:version");
    expect(&e, "OKAY0.4");
    env_free(&e);
}

static void fault_short_fetch(void **state)
{
    (void)state;
    fb_env e;
    env_init(&e, "fb-short");
    e.cfg.fastboot_short_fetch = true;
    env_start(&e);
    cmd(&e, "fetch:mmcblk0:0:0x400");
    expect(&e, "DATA00000400");
    uint8_t buf[1024];
    size_t n;
    assert_int_equal(sim_device_bulk_in(e.d, 0x81, buf, 512, &n, ++e.now), SIM_OK);
    assert_int_equal(n, 512); /* half of what DATA announced */
    assert_int_equal(sim_device_bulk_in(e.d, 0x81, buf, 512, &n, ++e.now), SIM_OK);
    assert_int_equal(n, 4);
    assert_memory_equal(buf, "OKAY", 4);
    /* Read with the size announced: the half ends on a whole packet and no zero-length packet follows, so the
     * OKAY arrives in the same transfer, after the data, as from a real gadget. */
    cmd(&e, "fetch:mmcblk0:0:0x400");
    expect(&e, "DATA00000400");
    assert_int_equal(sim_device_bulk_in(e.d, 0x81, buf, sizeof buf, &n, ++e.now), SIM_OK);
    assert_int_equal(n, 516);
    assert_memory_equal(buf + 512, "OKAY", 4);
    no_reply(&e);
    env_free(&e);
}

/* Bulk IN as on the wire: 512-byte packets into the host's transfer; no zero-length packet after fetch's data. */
static int failures(const fb_env *e)
{
    sim_result r;
    sim_device_result(e->d, &r);
    return r.failures;
}

static void fetch_packets_as_on_the_wire(void **state)
{
    (void)state;
    fb_env e;
    env_init(&e, "fb-wire");
    env_start(&e);
    uint8_t part[PART_SIZE], buf[PART_SIZE];
    read_part(e.path, part, sizeof part);
    size_t n = 0;
    /* A transfer that is not a whole number of packets and shorter than the data: babble, and the board's
     * report counts it as a failure of the host. */
    cmd(&e, "fetch:mmcblk0:0:0x800");
    expect(&e, "DATA00000800");
    assert_int_equal(sim_device_bulk_in(e.d, 0x81, buf, 700, &n, ++e.now), SIM_OVERFLOW);
    assert_int_equal(n, 0);
    assert_int_equal(failures(&e), 1);
    /* The rest (two packets went out) still arrives, then OKAY. */
    assert_int_equal(sim_device_bulk_in(e.d, 0x81, buf, 1024, &n, ++e.now), SIM_OK);
    assert_int_equal(n, 1024);
    assert_memory_equal(buf, part + 1024, 1024);
    expect(&e, "OKAY");
    /* Data ending on a whole packet in a larger transfer: the OKAY follows in the same transfer. */
    cmd(&e, "fetch:mmcblk0:0x200:0x400");
    expect(&e, "DATA00000400");
    assert_int_equal(sim_device_bulk_in(e.d, 0x81, buf, sizeof buf, &n, ++e.now), SIM_OK);
    assert_int_equal(n, 0x404);
    assert_memory_equal(buf, part + 0x200, 0x400);
    assert_memory_equal(buf + 0x400, "OKAY", 4);
    no_reply(&e);
    /* Data ending in a short packet ends the transfer; the exact size read is always fine. */
    cmd(&e, "fetch:mmcblk0:0:0x2ff");
    expect(&e, "DATA000002ff");
    assert_int_equal(sim_device_bulk_in(e.d, 0x81, buf, sizeof buf, &n, ++e.now), SIM_OK);
    assert_int_equal(n, 0x2ff);
    expect(&e, "OKAY");
    /* Data ending on a whole packet with too little room left for the OKAY after it: babble, nothing delivered. */
    cmd(&e, "fetch:mmcblk0:0:0x200");
    expect(&e, "DATA00000200");
    assert_int_equal(sim_device_bulk_in(e.d, 0x81, buf, 0x202, &n, ++e.now), SIM_OVERFLOW);
    assert_int_equal(n, 0);
    assert_int_equal(failures(&e), 2);
    no_reply(&e);
    /* A reply longer than the transfer: babble too, and the reply is gone. */
    cmd(&e, "getvar:version");
    assert_int_equal(sim_device_bulk_in(e.d, 0x81, buf, 4, &n, ++e.now), SIM_OVERFLOW);
    assert_int_equal(n, 0);
    assert_int_equal(failures(&e), 3);
    no_reply(&e);
    env_free(&e);
}

static void fault_vanish_mid_download(void **state)
{
    (void)state;
    fb_env e;
    env_init(&e, "fb-vanish");
    e.cfg.fastboot_vanish_after = 1500;
    env_start(&e);
    uint8_t img[3000] = {0};
    cmd(&e, "download:00000bb8");
    expect(&e, "DATA00000bb8");
    send(&e, img, 1000);
    size_t took;
    assert_int_equal(sim_device_bulk_out(e.d, 0x01, img, 1000, &took, ++e.now), SIM_NO_DEVICE);
    assert_int_equal(took, 500);
    sim_event ev;
    assert_true(sim_device_take_event(e.d, &ev));
    assert_int_equal(ev.type, SIM_EV_VANISH);
    uint8_t buf[64];
    size_t n;
    assert_int_equal(sim_device_bulk_in(e.d, 0x81, buf, sizeof buf, &n, ++e.now), SIM_NO_DEVICE);
    env_free(&e);
}

/* A zero-length OUT packet mid-download (NULL data) is no data; found by fuzz_usbredir under UBSan. */
static void zero_length_packet_mid_download(void **state)
{
    (void)state;
    fb_env e;
    env_init(&e, "fb-zlp");
    env_start(&e);
    uint8_t img[16];
    test_fill_pattern(img, sizeof img, 3);
    cmd(&e, "download:00000010");
    expect(&e, "DATA00000010");
    send(&e, img, 8);
    size_t took = 99;
    assert_int_equal(sim_device_bulk_out(e.d, 0x01, NULL, 0, &took, ++e.now), SIM_OK);
    assert_int_equal(took, 0);
    send(&e, img + 8, 8);
    expect(&e, "OKAY");
    env_free(&e);
}

static void reboot_goes_to_normal_mode(void **state)
{
    (void)state;
    fb_env e;
    env_init(&e, "fb-reboot");
    env_start(&e);
    cmd(&e, "reboot");
    expect(&e, "OKAY");
    sim_device_poll(e.d, e.now + 1000);
    sim_event ev;
    assert_true(sim_device_take_event(e.d, &ev));
    assert_int_equal(ev.type, SIM_EV_DISCONNECT);
    sim_device_poll(e.d, e.now + 2000);
    assert_true(sim_device_take_event(e.d, &ev));
    assert_int_equal(ev.type, SIM_EV_CONNECT);
    assert_int_equal(ev.stage, SIM_STAGE_NORMAL);
    env_free(&e);
}

static void parser(void **state)
{
    (void)state;
    sim_fb_cmd c;
    assert_int_equal(sim_fb_parse((const uint8_t *)"fetch:boot:0x10:32", 18, &c), CMBOOT_OK);
    assert_int_equal(c.verb, SIM_FB_FETCH);
    assert_string_equal(c.arg, "boot");
    assert_int_equal(c.offset, 16);
    assert_int_equal(c.size, 32);
    assert_int_equal(sim_fb_parse((const uint8_t *)"download:0000ABcd", 17, &c), CMBOOT_OK);
    assert_int_equal(c.size, 0xabcd);
    assert_int_equal(sim_fb_parse((const uint8_t *)"flash:", 6, &c), CMBOOT_ERR_FORMAT);
    assert_int_equal(sim_fb_parse((const uint8_t *)"getvar:a\nb", 10, &c), CMBOOT_ERR_FORMAT);
    assert_int_equal(sim_fb_parse((const uint8_t *)"fetch:b:0x:1", 12, &c), CMBOOT_ERR_FORMAT);
    assert_int_equal(sim_fb_parse((const uint8_t *)"fetch:b:99999999999999999999:1", 30, &c), CMBOOT_ERR_FORMAT);
    assert_int_equal(sim_fb_parse((const uint8_t *)"boot", 4, &c), CMBOOT_OK);
    assert_int_equal(c.verb, SIM_FB_UNKNOWN);
}

static const struct CMUnitTest tests[] = {
    cmocka_unit_test(getvar),
    cmocka_unit_test(flash_raw_and_erase),
    cmocka_unit_test(flash_sparse),
    cmocka_unit_test(fetch_round_trip),
    cmocka_unit_test(fetch_disabled),
    cmocka_unit_test(fault_fail_command),
    cmocka_unit_test(fault_short_fetch),
    cmocka_unit_test(fetch_packets_as_on_the_wire),
    cmocka_unit_test(fault_vanish_mid_download),
    cmocka_unit_test(zero_length_packet_mid_download),
    cmocka_unit_test(reboot_goes_to_normal_mode),
    cmocka_unit_test(parser),
};

CMBOOT_TEST_MAIN(tests)
