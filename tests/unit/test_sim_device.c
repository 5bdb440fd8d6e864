/* Device emulator model driven directly: descriptors per SoC, ROM stage, second-stage script, faults. */
#include "testutil.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <openssl/sha.h>
#include "cmboot/error.h"
#include "model/sim_device.h"

/* ---- a tiny hand-driven host ---- */

static sim_status ctl_out(sim_device *d, uint32_t len, int64_t now)
{
    uint8_t s[8] = {0x40, 0, (uint8_t)len, (uint8_t)(len >> 8), (uint8_t)(len >> 16), (uint8_t)(len >> 24), 0, 0};
    size_t n;
    return sim_device_control(d, s, NULL, &n, now);
}

static sim_status ctl_in(sim_device *d, uint16_t len, uint8_t *buf, size_t *n, int64_t now)
{
    uint8_t s[8] = {0xc0, 0, (uint8_t)len, (uint8_t)(len >> 8), 0, 0, (uint8_t)len, (uint8_t)(len >> 8)};
    return sim_device_control(d, s, buf, n, now);
}

static int get_desc(sim_device *d, uint8_t type, uint8_t index, uint8_t *buf, uint16_t len)
{
    uint8_t s[8] = {0x80, 6, index, type, 0, 0, (uint8_t)len, (uint8_t)(len >> 8)};
    size_t n = 0;
    sim_status st = sim_device_control(d, s, buf, &n, 0);
    return st == SIM_OK ? (int)n : -1;
}

static void string_of(sim_device *d, uint8_t index, char *out, size_t size)
{
    uint8_t buf[255];
    int n = get_desc(d, 3, index, buf, sizeof buf);
    assert_true(n >= 2);
    assert_int_equal(buf[0], n);
    assert_int_equal(buf[1], 3);
    size_t o = 0;
    for (int i = 2; i + 1 < n && o + 1 < size; i += 2)
        out[o++] = (char)buf[i];
    out[o] = 0;
}

static sim_status set_config(sim_device *d, uint8_t value, int64_t now)
{
    uint8_t s[8] = {0x00, 9, value, 0, 0, 0, 0, 0};
    size_t n;
    return sim_device_control(d, s, NULL, &n, now);
}

/* A new device, configured as a host's USB stack would do after the connect. */
static sim_device *make(const sim_config *cfg)
{
    sim_device *d = NULL;
    assert_int_equal(sim_device_new(cfg, &d), CMBOOT_OK);
    sim_event ev;
    assert_true(sim_device_take_event(d, &ev));
    assert_int_equal(ev.type, SIM_EV_CONNECT);
    assert_int_equal(ev.stage, cfg->start_stage);
    assert_int_equal(set_config(d, 1, 0), SIM_OK);
    return d;
}

static void send_bulk(sim_device *d, const void *data, size_t len, int64_t now)
{
    size_t took = 0;
    assert_int_equal(sim_device_bulk_out(d, 0x01, data, len, &took, now), SIM_OK);
    assert_int_equal(took, len);
}

/* Boot message + second stage, as a host would. */
static void rom_send(sim_device *d, const uint8_t *ss, uint32_t len, int64_t now)
{
    uint8_t msg[24] = {(uint8_t)len, (uint8_t)(len >> 8), (uint8_t)(len >> 16), (uint8_t)(len >> 24)};
    assert_int_equal(ctl_out(d, 24, now), SIM_OK);
    send_bulk(d, msg, sizeof msg, now);
    assert_int_equal(ctl_out(d, len, now), SIM_OK);
    send_bulk(d, ss, len, now);
}

static int32_t request(sim_device *d, uint8_t req[260], size_t *n, int64_t now)
{
    *n = 0;
    assert_int_equal(ctl_in(d, 260, req, n, now), SIM_OK);
    return (int32_t)((uint32_t)req[0] | (uint32_t)req[1] << 8 | (uint32_t)req[2] << 16 | (uint32_t)req[3] << 24);
}

static void expect_event(sim_device *d, sim_event_type type, cmboot_stage stage)
{
    sim_event ev;
    assert_true(sim_device_take_event(d, &ev));
    assert_int_equal(ev.type, type);
    if (type == SIM_EV_CONNECT)
        assert_int_equal(ev.stage, stage);
}

static void second_stage_cfg(sim_config *cfg, cmboot_soc_id soc, sim_script *s)
{
    sim_config_default(cfg, soc);
    cfg->start_stage = CMBOOT_STAGE_SECOND;
    cfg->script = s;
}

/* ---- descriptors ---- */

static void desc_rom_bcm2835(void **state)
{
    (void)state;
    sim_config cfg;
    sim_config_default(&cfg, CMBOOT_SOC_BCM2835);
    sim_device *d = make(&cfg);
    uint8_t dd[18];
    assert_int_equal(get_desc(d, 1, 0, dd, 18), 18);
    assert_int_equal(dd[8] | dd[9] << 8, 0x0a5c);
    assert_int_equal(dd[10] | dd[11] << 8, 0x2763);
    assert_int_equal(dd[16], 0); /* iSerialNumber index 0: BCM2835/7 ROM */
    char s[64];
    string_of(d, 2, s, sizeof s);
    assert_string_equal(s, "BCM2708 Boot");
    uint8_t buf[64];
    assert_int_equal(get_desc(d, 3, 3, buf, 64), -1); /* no serial string */
    assert_int_equal(get_desc(d, 2, 0, buf, 64), 32);
    assert_int_equal(buf[4], 1);
    assert_int_equal(buf[9 + 5], 0xff);  /* vendor class */
    assert_int_equal(buf[18 + 2], 0x01); /* bulk OUT 0x01 */
    sim_identity id;
    sim_device_identity(d, &id);
    assert_int_equal(id.bulk_out_ep, 0x01);
    assert_int_equal(id.stage, CMBOOT_STAGE_ROM);
    assert_string_equal(id.serial, "");
    sim_device_free(d);
}

static void desc_rom_bcm2711_config_quirk(void **state)
{
    (void)state;
    sim_config cfg;
    sim_config_default(&cfg, CMBOOT_SOC_BCM2711);
    snprintf(cfg.serial, sizeof cfg.serial, "af04b2da");
    sim_device *d = make(&cfg);
    uint8_t dd[18], buf[255];
    assert_int_equal(get_desc(d, 1, 0, dd, 18), 18);
    assert_int_equal(dd[10] | dd[11] << 8, 0x2711);
    assert_int_equal(dd[16], 3);
    /* first read claims 55 bytes / 2 interfaces, the full read returns 32 */
    assert_int_equal(get_desc(d, 2, 0, buf, 9), 9);
    assert_int_equal(buf[2] | buf[3] << 8, 55);
    assert_int_equal(buf[4], 2);
    assert_int_equal(get_desc(d, 2, 0, buf, 55), 32);
    assert_int_equal(buf[2] | buf[3] << 8, 32);
    assert_int_equal(buf[4], 1);
    assert_int_equal(get_desc(d, 2, 0, buf, 255), 32);
    char s[64];
    string_of(d, 3, s, sizeof s);
    assert_string_equal(s, "af04b2da");
    string_of(d, 2, s, sizeof s);
    assert_string_equal(s, "BCM2711 Boot");
    /* language list */
    assert_int_equal(get_desc(d, 3, 0, buf, 255), 4);
    assert_int_equal(buf[2] | buf[3] << 8, 0x0409);
    sim_identity id;
    sim_device_identity(d, &id);
    assert_string_equal(id.serial, "af04b2da");
    assert_int_equal(id.num_interfaces, 1);
    sim_device_free(d);
}

static void desc_rom_bcm2712(void **state)
{
    (void)state;
    sim_config cfg;
    sim_config_default(&cfg, CMBOOT_SOC_BCM2712);
    sim_device *d = make(&cfg);
    uint8_t dd[18], buf[64];
    assert_int_equal(get_desc(d, 1, 0, dd, 18), 18);
    assert_int_equal(dd[10] | dd[11] << 8, 0x2712);
    assert_int_equal(dd[16], 3);
    assert_int_equal(get_desc(d, 2, 0, buf, 9), 9);
    assert_int_equal(buf[2] | buf[3] << 8, 32); /* no quirk on BCM2712 */
    sim_device_free(d);
}

static void desc_bcm2837_two_interfaces(void **state)
{
    (void)state;
    sim_config cfg;
    sim_config_default(&cfg, CMBOOT_SOC_BCM2837);
    cfg.two_interfaces = true;
    sim_device *d = make(&cfg);
    uint8_t dd[18], buf[255];
    assert_int_equal(get_desc(d, 1, 0, dd, 18), 18);
    assert_int_equal(dd[10] | dd[11] << 8, 0x2764);
    assert_int_equal(get_desc(d, 2, 0, buf, 255), 55);
    assert_int_equal(buf[4], 2);
    assert_int_equal(buf[9 + 5], 0x08);      /* interface 0: mass storage */
    assert_int_equal(buf[32 + 2], 1);        /* interface 1 ... */
    assert_int_equal(buf[32 + 5], 0xff);     /* ... vendor */
    assert_int_equal(buf[32 + 9 + 2], 0x03); /* bulk OUT 0x03 */
    sim_identity id;
    sim_device_identity(d, &id);
    assert_int_equal(id.num_interfaces, 2);
    assert_int_equal(id.vendor_interface, 1);
    assert_int_equal(id.bulk_out_ep, 0x03);
    /* data on the wrong endpoint stalls, on 0x03 it is taken */
    uint8_t msg[24] = {4};
    size_t took;
    assert_int_equal(ctl_out(d, 24, 0), SIM_OK);
    assert_int_equal(sim_device_bulk_out(d, 0x01, msg, 24, &took, 0), SIM_STALL);
    assert_int_equal(sim_device_bulk_out(d, 0x03, msg, 24, &took, 0), SIM_OK);
    assert_int_equal(took, 24);
    sim_device_free(d);
    /* two interfaces only exist on BCM2837 */
    sim_config_default(&cfg, CMBOOT_SOC_BCM2711);
    cfg.two_interfaces = true;
    assert_int_equal(sim_device_new(&cfg, &d), CMBOOT_ERR_INVALID_ARG);
}

/* ---- ROM ---- */

static void rom_accepts_and_reenumerates(void **state)
{
    (void)state;
    uint8_t ss[5000];
    test_fill_pattern(ss, sizeof ss, 1);
    sim_config cfg;
    sim_config_default(&cfg, CMBOOT_SOC_BCM2711);
    cfg.expect_second_stage_size = sizeof ss;
    cfg.expect_second_stage_sha = true;
    SHA256(ss, sizeof ss, cfg.second_stage_sha256);
    cfg.disconnect_delay_ms = 10;
    cfg.reenum_delay_ms = 30;
    sim_device *d = make(&cfg);
    uint8_t st[4];
    size_t n;
    /* status before the second stage: NAK */
    assert_int_equal(ctl_in(d, 4, st, &n, 100), SIM_PENDING);
    rom_send(d, ss, sizeof ss, 100);
    assert_int_equal(ctl_in(d, 4, st, &n, 101), SIM_OK);
    assert_int_equal(n, 4);
    assert_memory_equal(st, "\0\0\0\0", 4);
    assert_int_equal(sim_device_next_wakeup(d), 111);
    sim_device_poll(d, 110);
    assert_true(sim_device_connected(d));
    sim_device_poll(d, 111);
    assert_false(sim_device_connected(d));
    expect_event(d, SIM_EV_DISCONNECT, 0);
    assert_int_equal(sim_device_next_wakeup(d), 141);
    assert_int_equal(ctl_in(d, 4, st, &n, 120), SIM_NO_DEVICE);
    sim_device_poll(d, 141);
    expect_event(d, SIM_EV_CONNECT, CMBOOT_STAGE_SECOND);
    uint8_t dd[18];
    assert_int_equal(get_desc(d, 1, 0, dd, 18), 18);
    assert_int_equal(dd[16], 4); /* BCM2711 second stage: iSerialNumber 4, the board serial */
    char s[64];
    string_of(d, 4, s, sizeof s);
    assert_string_equal(s, cfg.serial);
    sim_result r;
    sim_device_result(d, &r);
    assert_true(r.rom_accepted);
    assert_int_equal(r.failures, 0);
    assert_int_equal(r.second_stage_size, sizeof ss);
    assert_memory_equal(r.second_stage_sha256, cfg.second_stage_sha256, 32);
    assert_int_equal(r.enumerations, 2);
    sim_device_free(d);
}

static void rom_rejects(void **state)
{
    (void)state;
    uint8_t ss[100] = {1, 2, 3};
    sim_config cfg;
    sim_config_default(&cfg, CMBOOT_SOC_BCM2837);
    cfg.rom_reject = true;
    cfg.rom_reject_status = 7;
    sim_device *d = make(&cfg);
    rom_send(d, ss, sizeof ss, 0);
    uint8_t st[4];
    size_t n;
    assert_int_equal(ctl_in(d, 4, st, &n, 0), SIM_OK);
    assert_int_equal(st[0], 7);
    sim_device_poll(d, 100000);
    assert_true(sim_device_connected(d)); /* stays in the ROM */
    sim_result r;
    sim_device_result(d, &r);
    assert_false(r.rom_accepted);
    assert_int_equal(r.rom_rejections, 1);
    sim_device_free(d);
}

static void rom_rejects_wrong_second_stage(void **state)
{
    (void)state;
    uint8_t ss[100] = {1, 2, 3};
    sim_config cfg;
    sim_config_default(&cfg, CMBOOT_SOC_BCM2712);
    cfg.expect_second_stage_sha = true;
    memset(cfg.second_stage_sha256, 0x11, 32);
    sim_device *d = make(&cfg);
    rom_send(d, ss, sizeof ss, 0);
    uint8_t st[4];
    size_t n;
    assert_int_equal(ctl_in(d, 4, st, &n, 0), SIM_OK);
    assert_int_equal(st[0], 1);
    sim_result r;
    sim_device_result(d, &r);
    assert_int_equal(r.rom_rejections, 1);
    assert_true(r.failures > 0);
    assert_non_null(strstr(r.first_failure, "SHA-256"));
    sim_device_free(d);
}

static void rom_status_delay_naks(void **state)
{
    (void)state;
    uint8_t ss[10] = {0};
    sim_config cfg;
    sim_config_default(&cfg, CMBOOT_SOC_BCM2835);
    cfg.rom_status_delay_ms = 50;
    sim_device *d = make(&cfg);
    rom_send(d, ss, sizeof ss, 1000);
    uint8_t st[4];
    size_t n;
    assert_int_equal(ctl_in(d, 4, st, &n, 1010), SIM_PENDING);
    assert_int_equal(sim_device_next_wakeup(d), 1050);
    assert_int_equal(ctl_in(d, 4, st, &n, 1050), SIM_OK);
    sim_device_free(d);
}

static void rom_fault_vanish_mid_bulk(void **state)
{
    (void)state;
    uint8_t ss[4096] = {0};
    sim_script s;
    sim_script_init(&s);
    s.rom_fault.kind = SIM_FAULT_VANISH_AFTER_BYTES;
    s.rom_fault.arg = 1000;
    sim_config cfg;
    sim_config_default(&cfg, CMBOOT_SOC_BCM2711);
    cfg.script = &s;
    sim_device *d = make(&cfg);
    uint8_t msg[24] = {0x00, 0x10};
    assert_int_equal(ctl_out(d, 24, 0), SIM_OK);
    send_bulk(d, msg, 24, 0);
    assert_int_equal(ctl_out(d, sizeof ss, 0), SIM_OK);
    size_t took = 0;
    assert_int_equal(sim_device_bulk_out(d, 1, ss, sizeof ss, &took, 0), SIM_NO_DEVICE);
    assert_int_equal(took, 1000);
    expect_event(d, SIM_EV_VANISH, 0);
    assert_false(sim_device_connected(d));
    sim_result r;
    sim_device_result(d, &r);
    assert_true(r.vanished);
    sim_device_free(d);
}

/* ---- second stage ---- */

static void second_stage_serves_script(void **state)
{
    (void)state;
    char *dir = test_tmpdir("simsave");
    uint8_t file[3000];
    test_fill_pattern(file, sizeof file, 9);
    uint8_t sha[32];
    SHA256(file, sizeof file, sha);
    sim_script s;
    sim_script_init(&s);
    assert_int_equal(sim_script_add_get(&s, "start.elf", true), CMBOOT_OK);
    s.steps[0].expect_sha = true;
    memcpy(s.steps[0].sha256, sha, 32);
    assert_int_equal(sim_script_add_get(&s, "absent.txt", false), CMBOOT_OK);
    assert_int_equal(sim_script_add_meta(&s, "MAC_ADDR", "d8:3a:dd:05:ee:78"), CMBOOT_OK);
    assert_int_equal(sim_script_add_done(&s), CMBOOT_OK);
    sim_config cfg;
    second_stage_cfg(&cfg, CMBOOT_SOC_BCM2837, &s);
    cfg.save_dir = dir;
    sim_device *d = make(&cfg);
    sim_script_free(&s); /* the model keeps its own copy */
    uint8_t req[260];
    size_t n;
    assert_int_equal(request(d, req, &n, 0), 0);
    assert_int_equal(n, 260);
    assert_string_equal((char *)req + 4, "start.elf");
    assert_int_equal(ctl_out(d, sizeof file, 0), SIM_OK);
    assert_int_equal(request(d, req, &n, 0), 1);
    assert_string_equal((char *)req + 4, "start.elf");
    assert_int_equal(ctl_out(d, sizeof file, 0), SIM_OK);
    send_bulk(d, file, 1000, 0);
    send_bulk(d, file + 1000, sizeof file - 1000, 0);
    assert_int_equal(request(d, req, &n, 0), 0);
    assert_string_equal((char *)req + 4, "absent.txt");
    assert_int_equal(ctl_out(d, 0, 0), SIM_OK);
    assert_int_equal(request(d, req, &n, 0), 0);
    assert_string_equal((char *)req + 4, "*MAC_ADDR*d8:3a:dd:05:ee:78");
    assert_int_equal(ctl_out(d, 0, 0), SIM_OK);
    assert_int_equal(request(d, req, &n, 5), 2);
    assert_int_equal(req[4], 0);
    /* Done: disconnect, then mass storage 0a5c:0001 for BCM2837 */
    sim_device_poll(d, 5 + cfg.disconnect_delay_ms);
    expect_event(d, SIM_EV_DISCONNECT, 0);
    sim_device_poll(d, 1000);
    expect_event(d, SIM_EV_CONNECT, CMBOOT_STAGE_MASS_STORAGE);
    sim_identity id;
    sim_device_identity(d, &id);
    assert_int_equal(id.pid, SIM_PID_MSD_LEGACY);
    assert_string_equal(id.serial, cfg.serial);
    sim_result r;
    sim_device_result(d, &r);
    assert_true(r.script_complete);
    assert_int_equal(r.failures, 0);
    assert_int_equal(r.requests, 5);
    assert_int_equal(r.metadata_acked, 1);
    assert_int_equal(r.files_received, 1);
    const sim_file_record *f = sim_device_file(d, "start.elf");
    assert_non_null(f);
    assert_true(f->complete);
    assert_int_equal(f->received, sizeof file);
    assert_memory_equal(f->sha256, sha, 32);
    assert_int_equal(sim_device_file(d, "absent.txt")->announced_size, 0);
    /* saved copy */
    char path[4200];
    snprintf(path, sizeof path, "%s/start.elf", dir);
    FILE *fp = fopen(path, "rb");
    assert_non_null(fp);
    uint8_t back[4000];
    assert_int_equal(fread(back, 1, sizeof back, fp), sizeof file);
    fclose(fp);
    assert_memory_equal(back, file, sizeof file);
    sim_device_free(d);
    test_rmtree(dir);
    free(dir);
}

static void second_stage_expectations_fail(void **state)
{
    (void)state;
    sim_script s;
    char err[128];
    assert_int_equal(sim_script_parse(&s, "get boot.img must-exist\nget x expect-size=10\ndone\n", err, sizeof err),
                     CMBOOT_OK);
    sim_config cfg;
    second_stage_cfg(&cfg, CMBOOT_SOC_BCM2711, &s);
    sim_device *d = make(&cfg);
    sim_script_free(&s);
    uint8_t req[260];
    size_t n;
    request(d, req, &n, 0);
    assert_int_equal(ctl_out(d, 0, 0), SIM_OK); /* boot.img absent: expectation broken */
    request(d, req, &n, 0);
    assert_int_equal(ctl_out(d, 11, 0), SIM_OK); /* wrong size */
    request(d, req, &n, 0);
    assert_int_equal(ctl_out(d, 11, 0), SIM_OK);
    uint8_t data[11] = {0};
    send_bulk(d, data, sizeof data, 0);
    sim_result r;
    sim_device_result(d, &r);
    assert_int_equal(r.failures, 2);
    assert_non_null(strstr(r.first_failure, "boot.img must exist"));
    /* more bulk than announced stalls */
    size_t took;
    assert_int_equal(sim_device_bulk_out(d, 1, data, 1, &took, 0), SIM_STALL);
    sim_device_free(d);
}

static void second_stage_nothing_to_ask_naks(void **state)
{
    (void)state;
    sim_script s;
    sim_script_init(&s);
    sim_config cfg;
    second_stage_cfg(&cfg, CMBOOT_SOC_BCM2711, &s);
    sim_device *d = make(&cfg);
    uint8_t req[260];
    size_t n;
    assert_int_equal(ctl_in(d, 260, req, &n, 0), SIM_PENDING);
    assert_int_equal(sim_device_next_wakeup(d), INT64_MAX);
    sim_device_free(d);
}

static void second_stage_empty_name_then_gadget(void **state)
{
    (void)state;
    sim_script s;
    sim_script_init(&s);
    sim_script_add_empty(&s);
    sim_config cfg;
    second_stage_cfg(&cfg, CMBOOT_SOC_BCM2712, &s);
    sim_device *d = make(&cfg);
    uint8_t req[260];
    size_t n;
    assert_int_equal(request(d, req, &n, 0), 0);
    assert_int_equal(req[4], 0);
    assert_int_equal(ctl_out(d, 0, 0), SIM_OK);
    sim_device_poll(d, 1000);
    expect_event(d, SIM_EV_DISCONNECT, 0);
    expect_event(d, SIM_EV_CONNECT, CMBOOT_STAGE_MASS_STORAGE);
    sim_identity id;
    sim_device_identity(d, &id);
    assert_int_equal(id.pid, SIM_PID_MSD_GADGET);
    assert_int_equal(id.serial_index, 3);
    sim_result r;
    sim_device_result(d, &r);
    assert_true(r.script_complete);
    assert_int_equal(r.failures, 0);
    sim_device_free(d);
    sim_script_free(&s);
}

static void second_stage_empty_name_unacked(void **state)
{
    (void)state;
    sim_script s;
    sim_script_init(&s);
    sim_script_add_empty(&s);
    sim_config cfg;
    second_stage_cfg(&cfg, CMBOOT_SOC_BCM2711, &s);
    cfg.after_done = SIM_AFTER_NOTHING;
    sim_device *d = make(&cfg);
    uint8_t req[260];
    size_t n;
    request(d, req, &n, 0);
    assert_int_equal(sim_device_next_wakeup(d), cfg.done_ack_timeout_ms);
    sim_device_poll(d, 5000);
    sim_device_poll(d, 6000);
    expect_event(d, SIM_EV_VANISH, 0);
    sim_result r;
    sim_device_result(d, &r);
    assert_int_equal(r.failures, 1);
    assert_true(r.vanished);
    sim_device_free(d);
    sim_script_free(&s);
}

/* ---- faults at a file-server request ---- */

static sim_device *fault_dev(sim_fault_kind kind, uint64_t arg, sim_script *s)
{
    sim_script_init(s);
    sim_script_add_get(s, "config.txt", false);
    sim_script_fault_last(s, kind, arg);
    sim_script_add_done(s);
    sim_config cfg;
    second_stage_cfg(&cfg, CMBOOT_SOC_BCM2711, s);
    return make(&cfg);
}

static void fault_vanish(void **state)
{
    (void)state;
    sim_script s;
    sim_device *d = fault_dev(SIM_FAULT_VANISH, 0, &s);
    uint8_t req[260];
    size_t n;
    assert_int_equal(ctl_in(d, 260, req, &n, 0), SIM_NO_DEVICE);
    expect_event(d, SIM_EV_VANISH, 0);
    assert_int_equal(ctl_in(d, 260, req, &n, 0), SIM_NO_DEVICE);
    sim_device_free(d);
    sim_script_free(&s);
}

static void fault_stall_once(void **state)
{
    (void)state;
    sim_script s;
    sim_device *d = fault_dev(SIM_FAULT_STALL, 0, &s);
    uint8_t req[260];
    size_t n;
    assert_int_equal(ctl_in(d, 260, req, &n, 0), SIM_STALL);
    assert_int_equal(request(d, req, &n, 0), 0);
    assert_string_equal((char *)req + 4, "config.txt");
    sim_device_free(d);
    sim_script_free(&s);
}

static void fault_delay(void **state)
{
    (void)state;
    sim_script s;
    sim_device *d = fault_dev(SIM_FAULT_DELAY, 300, &s);
    uint8_t req[260];
    size_t n;
    assert_int_equal(ctl_in(d, 260, req, &n, 1000), SIM_PENDING);
    assert_int_equal(sim_device_next_wakeup(d), 1300);
    assert_int_equal(ctl_in(d, 260, req, &n, 1299), SIM_PENDING);
    assert_int_equal(ctl_in(d, 260, req, &n, 1300), SIM_OK);
    assert_int_equal(n, 260);
    sim_device_free(d);
    sim_script_free(&s);
}

static void fault_garbage(void **state)
{
    (void)state;
    sim_script s;
    sim_device *d = fault_dev(SIM_FAULT_GARBAGE, 0, &s);
    uint8_t req[260];
    size_t n;
    int32_t cmd = request(d, req, &n, 0);
    assert_int_equal(n, 260);
    assert_true(cmd < 0 || cmd > 2);
    assert_null(memchr(req + 4, 0, 256));
    sim_device_free(d);
    sim_script_free(&s);
}

static void fault_short(void **state)
{
    (void)state;
    sim_script s;
    sim_device *d = fault_dev(SIM_FAULT_SHORT, 100, &s);
    uint8_t req[260];
    size_t n;
    request(d, req, &n, 0);
    assert_int_equal(n, 100);
    /* a host that ignores it and reads again gets the next step */
    request(d, req, &n, 0);
    assert_int_equal(n, 260);
    assert_int_equal(req[0], 2);
    sim_device_free(d);
    sim_script_free(&s);
}

static void fault_unknown_command(void **state)
{
    (void)state;
    sim_script s;
    sim_device *d = fault_dev(SIM_FAULT_UNKNOWN_COMMAND, 9, &s);
    uint8_t req[260];
    size_t n;
    assert_int_equal(request(d, req, &n, 0), 9);
    assert_string_equal((char *)req + 4, "config.txt");
    sim_device_free(d);
    sim_script_free(&s);
}

static void fault_unterminated_and_overlong(void **state)
{
    (void)state;
    sim_script s;
    sim_device *d = fault_dev(SIM_FAULT_UNTERMINATED, 0, &s);
    uint8_t req[260];
    size_t n;
    assert_int_equal(request(d, req, &n, 0), 0);
    assert_null(memchr(req + 4, 0, 256));
    assert_int_equal(ctl_out(d, 0, 0), SIM_OK); /* refused: answered size 0 */
    sim_result r;
    sim_device_result(d, &r);
    assert_int_equal(r.failures, 0);
    sim_device_free(d);
    sim_script_free(&s);

    d = fault_dev(SIM_FAULT_OVERLONG, 0, &s);
    request(d, req, &n, 0);
    assert_int_equal(strlen((char *)req + 4), 255);
    sim_device_free(d);
    sim_script_free(&s);
}

static void fault_vanish_after_bytes(void **state)
{
    (void)state;
    sim_script s;
    sim_device *d = fault_dev(SIM_FAULT_VANISH_AFTER_BYTES, 1000, &s);
    uint8_t req[260], data[4096] = {0};
    size_t n, took;
    request(d, req, &n, 0);
    assert_int_equal(ctl_out(d, sizeof data, 0), SIM_OK);
    request(d, req, &n, 0);
    assert_int_equal(ctl_out(d, sizeof data, 0), SIM_OK);
    assert_int_equal(sim_device_bulk_out(d, 1, data, 600, &took, 0), SIM_OK);
    assert_int_equal(sim_device_bulk_out(d, 1, data, 600, &took, 0), SIM_NO_DEVICE);
    assert_int_equal(took, 400);
    expect_event(d, SIM_EV_VANISH, 0);
    sim_device_free(d);
    sim_script_free(&s);
}

static void fault_stall_bulk(void **state)
{
    (void)state;
    sim_script s;
    sim_device *d = fault_dev(SIM_FAULT_STALL_BULK, 0, &s);
    uint8_t req[260], data[10] = {0};
    size_t n, took;
    request(d, req, &n, 0);
    ctl_out(d, sizeof data, 0);
    request(d, req, &n, 0);
    ctl_out(d, sizeof data, 0);
    assert_int_equal(sim_device_bulk_out(d, 1, data, sizeof data, &took, 0), SIM_STALL);
    assert_int_equal(took, 0);
    sim_device_free(d);
    sim_script_free(&s);
}

static void raw_hostile_name_recorded(void **state)
{
    (void)state;
    sim_script s;
    sim_script_init(&s);
    sim_script_add_raw(&s, 0, "../../etc/passwd", 16);
    sim_script_add_raw(&s, 1, "/etc/shadow", 11);
    sim_config cfg;
    second_stage_cfg(&cfg, CMBOOT_SOC_BCM2711, &s);
    sim_device *d = make(&cfg);
    sim_script_free(&s);
    uint8_t req[260];
    size_t n;
    assert_int_equal(request(d, req, &n, 0), 0);
    assert_string_equal((char *)req + 4, "../../etc/passwd");
    ctl_out(d, 0, 0);
    assert_int_equal(request(d, req, &n, 0), 1);
    assert_string_equal((char *)req + 4, "/etc/shadow");
    ctl_out(d, 0, 0);
    bool seen = false;
    for (size_t i = 0; i < sim_device_log_count(d); i++)
        if (strstr(sim_device_log_line(d, i), "raw request answered with write(0)"))
            seen = true;
    assert_true(seen);
    sim_device_free(d);
}

/* ---- issue 8: as hard as a real board ---- */

static sim_status std_req(sim_device *d, uint8_t type, uint8_t req, uint16_t wValue, uint16_t wIndex, uint8_t *buf,
                          uint16_t wLength, size_t *n, int64_t now)
{
    uint8_t s[8] = {type,
                    req,
                    (uint8_t)wValue,
                    (uint8_t)(wValue >> 8),
                    (uint8_t)wIndex,
                    (uint8_t)(wIndex >> 8),
                    (uint8_t)wLength,
                    (uint8_t)(wLength >> 8)};
    size_t dummy;
    return sim_device_control(d, s, buf, n ? n : &dummy, now);
}

static uint16_t endpoint_mps(const uint8_t *cfg, int len, uint8_t ep)
{
    for (int off = 0; off + 2 <= len && cfg[off] >= 2; off += cfg[off])
        if (cfg[off + 1] == 5 && cfg[off + 2] == ep)
            return (uint16_t)(cfg[off + 4] | cfg[off + 5] << 8);
    return 0;
}

/* BCM2835/2837 boot ROMs are full-speed devices (64-byte bulk packets); later stages and BCM2711/2712 ROMs
 * are high speed. */
static void rom_full_speed_then_high_speed(void **state)
{
    (void)state;
    const cmboot_soc_id socs[] = {CMBOOT_SOC_BCM2835, CMBOOT_SOC_BCM2837, CMBOOT_SOC_BCM2711, CMBOOT_SOC_BCM2712};
    for (size_t i = 0; i < 4; i++) {
        sim_config cfg;
        sim_config_default(&cfg, socs[i]);
        sim_device *d = make(&cfg);
        sim_identity id;
        sim_device_identity(d, &id);
        bool full = socs[i] == CMBOOT_SOC_BCM2835 || socs[i] == CMBOOT_SOC_BCM2837;
        assert_int_equal(id.full_speed, full);
        assert_int_equal(id.bulk_max_packet, full ? 64 : 512);
        uint8_t c[255];
        int n = get_desc(d, 2, 0, c, sizeof c);
        n = get_desc(d, 2, 0, c, sizeof c); /* the settled one (BCM2711's first read is the quirk) */
        assert_int_equal(endpoint_mps(c, n, 0x01), full ? 64 : 512);
        assert_int_equal(endpoint_mps(c, n, 0x82), full ? 64 : 512);
        uint8_t q[10];
        assert_int_equal(get_desc(d, 6, 0, q, sizeof q), -1); /* no device qualifier: not dual-speed */
        sim_device_free(d);

        cfg.start_stage = CMBOOT_STAGE_SECOND;
        d = make(&cfg);
        sim_device_identity(d, &id);
        assert_false(id.full_speed);
        assert_int_equal(id.bulk_max_packet, 512);
        n = get_desc(d, 2, 0, c, sizeof c);
        assert_int_equal(endpoint_mps(c, n, 0x01), 512);
        sim_device_free(d);
    }
}

/* ROM -> second stage and Done -> next stage re-enumerate after their own delays. */
static void reenumeration_delays_per_stage(void **state)
{
    (void)state;
    uint8_t ss[64] = {0};
    sim_script s;
    sim_script_init(&s);
    sim_script_add_done(&s);
    sim_config cfg;
    sim_config_default(&cfg, CMBOOT_SOC_BCM2837);
    cfg.script = &s;
    cfg.disconnect_delay_ms = 5;
    cfg.rom_to_second_ms = 2000;
    cfg.done_to_next_ms = 8000;
    sim_device *d = make(&cfg);
    rom_send(d, ss, sizeof ss, 0);
    uint8_t st[4], req[260];
    size_t n;
    assert_int_equal(ctl_in(d, 4, st, &n, 0), SIM_OK);
    sim_device_poll(d, 5);
    expect_event(d, SIM_EV_DISCONNECT, 0);
    assert_int_equal(sim_device_next_wakeup(d), 2005);
    sim_device_poll(d, 2004);
    assert_false(sim_device_connected(d));
    sim_device_poll(d, 2005);
    expect_event(d, SIM_EV_CONNECT, CMBOOT_STAGE_SECOND);
    assert_int_equal(set_config(d, 1, 2005), SIM_OK);
    assert_int_equal(request(d, req, &n, 3000), 2);
    sim_device_poll(d, 3005);
    expect_event(d, SIM_EV_DISCONNECT, 0);
    assert_int_equal(sim_device_next_wakeup(d), 11005);
    sim_device_poll(d, 11004);
    assert_false(sim_device_connected(d));
    sim_device_poll(d, 11005);
    expect_event(d, SIM_EV_CONNECT, CMBOOT_STAGE_MASS_STORAGE);
    sim_device_free(d);

    /* -1: both follow reenum_delay_ms */
    sim_config_default(&cfg, CMBOOT_SOC_BCM2837);
    assert_int_equal(cfg.rom_to_second_ms, -1);
    assert_int_equal(cfg.done_to_next_ms, -1);
    cfg.reenum_delay_ms = 70;
    d = make(&cfg);
    rom_send(d, ss, sizeof ss, 0);
    assert_int_equal(ctl_in(d, 4, st, &n, 0), SIM_OK);
    sim_device_poll(d, 5);
    expect_event(d, SIM_EV_DISCONNECT, 0);
    assert_int_equal(sim_device_next_wakeup(d), 75);
    sim_device_free(d);
    sim_script_free(&s);
}

/* BCM2711/2712 second stages report iSerialNumber 4 = the board serial; BCM2835/2837 ones 1 (the maker). */
static void second_stage_serial_index(void **state)
{
    (void)state;
    const cmboot_soc_id socs[] = {CMBOOT_SOC_BCM2835, CMBOOT_SOC_BCM2837, CMBOOT_SOC_BCM2711, CMBOOT_SOC_BCM2712};
    for (size_t i = 0; i < 4; i++) {
        sim_config cfg;
        sim_config_default(&cfg, socs[i]);
        cfg.start_stage = CMBOOT_STAGE_SECOND;
        snprintf(cfg.serial, sizeof cfg.serial, "5e%06zx", i);
        sim_device *d = make(&cfg);
        uint8_t dd[18];
        char str[64];
        assert_int_equal(get_desc(d, 1, 0, dd, 18), 18);
        sim_identity id;
        sim_device_identity(d, &id);
        if (socs[i] == CMBOOT_SOC_BCM2711 || socs[i] == CMBOOT_SOC_BCM2712) {
            assert_int_equal(dd[16], 4);
            string_of(d, 4, str, sizeof str);
            assert_string_equal(str, cfg.serial);
            assert_string_equal(id.serial, cfg.serial);
        } else {
            assert_int_equal(dd[16], 1);
            string_of(d, 1, str, sizeof str);
            assert_string_equal(str, "Broadcom");
            uint8_t buf[64];
            assert_int_equal(get_desc(d, 3, 4, buf, sizeof buf), -1);
        }
        sim_device_free(d);
    }
    sim_config cfg;
    sim_config_default(&cfg, CMBOOT_SOC_BCM2711);
    sim_device *d;
    cfg.second_serial_index = 3; /* would read as a ROM */
    assert_int_equal(sim_device_new(&cfg, &d), CMBOOT_ERR_INVALID_ARG);
    cfg.second_serial_index = 0;
    assert_int_equal(sim_device_new(&cfg, &d), CMBOOT_ERR_INVALID_ARG);
}

static void config_quirk_on_bcm2837(void **state)
{
    (void)state;
    sim_config cfg;
    sim_config_default(&cfg, CMBOOT_SOC_BCM2837);
    assert_false(cfg.config_quirk); /* default: BCM2711 only */
    cfg.config_quirk = true;
    sim_device *d = make(&cfg);
    uint8_t buf[255];
    assert_int_equal(get_desc(d, 2, 0, buf, 9), 9);
    assert_int_equal(buf[2] | buf[3] << 8, 55);
    assert_int_equal(buf[4], 2);
    assert_int_equal(get_desc(d, 2, 0, buf, 255), 32);
    assert_int_equal(buf[4], 1);
    sim_device_reset(d); /* a port reset: the quirk starts over */
    assert_int_equal(get_desc(d, 2, 0, buf, 255), 32);
    assert_int_equal(buf[2] | buf[3] << 8, 55);
    sim_device_free(d);
}

/* The configuration appears after the connect: SET_CONFIGURATION NAKs, the bus shows no interfaces, bulk
 * data is refused; then the vendor interface is 1 / OUT 0x03 and interface 0's endpoints are not ours. */
static void late_configuration_two_interfaces(void **state)
{
    (void)state;
    sim_config cfg;
    sim_config_default(&cfg, CMBOOT_SOC_BCM2837);
    cfg.two_interfaces = true;
    cfg.set_config_delay_ms = 300;
    sim_device *d = NULL;
    assert_int_equal(sim_device_new(&cfg, &d), CMBOOT_OK);
    expect_event(d, SIM_EV_CONNECT, CMBOOT_STAGE_ROM);
    sim_device_poll(d, 1000);
    sim_identity id;
    sim_device_identity(d, &id);
    assert_false(id.configured);
    assert_int_equal(set_config(d, 1, 1000), SIM_PENDING);
    assert_int_equal(sim_device_next_wakeup(d), 1300);
    uint8_t cur = 9;
    size_t n = 0;
    assert_int_equal(std_req(d, 0x80, 8, 0, 0, &cur, 1, &n, 1100), SIM_OK);
    assert_int_equal(cur, 0); /* GET_CONFIGURATION: not configured */
    uint8_t msg[24] = {4};
    size_t took;
    assert_int_equal(ctl_out(d, 24, 1100), SIM_OK); /* ep0 works in the address state */
    assert_int_equal(sim_device_bulk_out(d, 0x03, msg, 24, &took, 1100), SIM_STALL);
    assert_int_equal(took, 0);
    sim_result r;
    sim_device_result(d, &r);
    assert_non_null(strstr(r.first_failure, "before SET_CONFIGURATION"));
    assert_int_equal(set_config(d, 1, 1299), SIM_PENDING);
    assert_int_equal(set_config(d, 1, 1300), SIM_OK);
    sim_device_identity(d, &id);
    assert_true(id.configured);
    assert_int_equal(id.num_interfaces, 2);
    /* a host that took the empty bNumInterfaces for one interface uses interface 0 / OUT 0x01: refused */
    assert_int_equal(sim_device_bulk_out(d, 0x01, msg, 24, &took, 1300), SIM_STALL);
    int before = (sim_device_result(d, &r), r.failures);
    assert_non_null(strstr(sim_device_log_line(d, sim_device_log_count(d) - 1), "endpoint 0x01"));
    /* interface 0 is mass storage: a kernel driver probing it is stalled but is not the host tool's fault */
    assert_int_equal(sim_device_bulk_out(d, 0x02, msg, 24, &took, 1300), SIM_STALL);
    sim_device_result(d, &r);
    assert_int_equal(r.failures, before);
    assert_int_equal(sim_device_bulk_out(d, 0x03, msg, 24, &took, 1300), SIM_OK);
    assert_int_equal(took, 24);
    sim_device_free(d);
}

/* A lenient host answers every request with a zero-length write; whatever the firmware sent, the board
 * goes on to its next stage. */
static void lenient_host_gets_past(const char *script_text, unsigned expect_acked)
{
    sim_script s;
    char err[128] = "";
    assert_int_equal(sim_script_parse(&s, script_text, err, sizeof err), CMBOOT_OK);
    sim_config cfg;
    second_stage_cfg(&cfg, CMBOOT_SOC_BCM2711, &s);
    sim_device *d = make(&cfg);
    sim_script_free(&s);
    uint8_t req[260];
    for (int i = 0; i < 20; i++) {
        size_t n = 0;
        sim_status st = ctl_in(d, 260, req, &n, 0);
        if (st != SIM_OK)
            break; /* Done delivered: going away */
        assert_true(n <= 260);
        int32_t cmd =
            (int32_t)((uint32_t)req[0] | (uint32_t)req[1] << 8 | (uint32_t)req[2] << 16 | (uint32_t)req[3] << 24);
        if (n >= 5 && cmd == 2 && req[4] == 0)
            break;
        assert_int_equal(ctl_out(d, 0, 0), SIM_OK);
    }
    sim_device_poll(d, 100);
    expect_event(d, SIM_EV_DISCONNECT, 0);
    expect_event(d, SIM_EV_CONNECT, CMBOOT_STAGE_MASS_STORAGE);
    sim_result r;
    sim_device_result(d, &r);
    if (r.failures)
        fprintf(stderr, "%s: %s\n", script_text, r.first_failure);
    assert_int_equal(r.failures, 0);
    assert_true(r.script_complete);
    assert_int_equal(r.metadata_acked, expect_acked);
    sim_device_free(d);
}

static void request_faults_lenient_host_reaches_next_stage(void **state)
{
    (void)state;
    lenient_host_gets_past("get config.txt\nfault short\ndone\n", 0);
    lenient_host_gets_past("get config.txt\nfault short 3\ndone\n", 0);
    lenient_host_gets_past("get config.txt\nfault long\ndone\n", 0);
    lenient_host_gets_past("get config.txt\nfault unknown-command\ndone\n", 0);
    lenient_host_gets_past("get config.txt\nfault garbage\ndone\n", 0);
    lenient_host_gets_past("get config.txt\nfault unterminated\ndone\n", 0);
    lenient_host_gets_past("get config.txt\nfault overlong\ndone\n", 0);
    lenient_host_gets_past("meta EEPROM_UPDATE\nmeta-bare BOOT_ROM\ndone\n", 2);
    lenient_host_gets_past("meta MAC_ADDR d8:3a:dd:05:ee:78\nfault short\nempty\n", 1);
}

/* "short" alone: the request up to the name's NUL (4 + len + 1), still servable; "short 3": 3 bytes. */
static void fault_short_sizes(void **state)
{
    (void)state;
    sim_script s;
    char err[128];
    assert_int_equal(sim_script_parse(&s, "get config.txt\nfault short\ndone\n", err, sizeof err), CMBOOT_OK);
    assert_int_equal(s.steps[0].fault.arg, SIM_SHORT_TO_NAME);
    sim_config cfg;
    second_stage_cfg(&cfg, CMBOOT_SOC_BCM2837, &s);
    sim_device *d = make(&cfg);
    sim_script_free(&s);
    uint8_t req[260];
    size_t n;
    memset(req, 0xee, sizeof req);
    assert_int_equal(request(d, req, &n, 0), 0);
    assert_int_equal(n, 4 + strlen("config.txt") + 1);
    assert_string_equal((char *)req + 4, "config.txt");
    /* a host that serves it anyway gets the ReadFile (short as well) and delivers the file */
    assert_int_equal(ctl_out(d, 6, 0), SIM_OK);
    assert_int_equal(request(d, req, &n, 0), 1);
    assert_int_equal(n, 15);
    assert_int_equal(ctl_out(d, 6, 0), SIM_OK);
    send_bulk(d, "x=1\ny\n", 6, 0);
    sim_result r;
    sim_device_result(d, &r);
    assert_int_equal(r.files_received, 1);
    assert_int_equal(r.failures, 0);
    assert_int_equal(request(d, req, &n, 0), 2);
    assert_int_equal(n, 260); /* the fault was on config.txt only */
    sim_device_free(d);

    assert_int_equal(sim_script_parse(&s, "get config.txt\nfault short 3\n", err, sizeof err), CMBOOT_OK);
    second_stage_cfg(&cfg, CMBOOT_SOC_BCM2837, &s);
    d = make(&cfg);
    sim_script_free(&s);
    request(d, req, &n, 0);
    assert_int_equal(n, 3);
    sim_device_free(d);
}

/* "long": the name is NUL terminated, the rest of the field is stale non-zero bytes. */
static void fault_long_stale_bytes(void **state)
{
    (void)state;
    sim_script s;
    sim_device *d = fault_dev(SIM_FAULT_LONG, 0, &s);
    uint8_t req[260];
    size_t n;
    assert_int_equal(request(d, req, &n, 0), 0);
    assert_int_equal(n, 260);
    assert_string_equal((char *)req + 4, "config.txt");
    for (size_t i = 4 + 11; i < 260; i++)
        assert_int_not_equal(req[i], 0);
    assert_int_equal(ctl_out(d, 0, 0), SIM_OK);
    assert_int_equal(request(d, req, &n, 0), 2);
    sim_result r;
    sim_device_result(d, &r);
    assert_int_equal(r.failures, 0);
    sim_device_free(d);
    sim_script_free(&s);
}

static void metadata_without_value(void **state)
{
    (void)state;
    sim_script s;
    char err[128];
    assert_int_equal(sim_script_parse(&s, "meta EEPROM_UPDATE\nmeta-bare JTAG_LOCKED\ndone\n", err, sizeof err),
                     CMBOOT_OK);
    sim_config cfg;
    second_stage_cfg(&cfg, CMBOOT_SOC_BCM2712, &s);
    sim_device *d = make(&cfg);
    sim_script_free(&s);
    uint8_t req[260];
    size_t n;
    assert_int_equal(request(d, req, &n, 0), 0);
    assert_string_equal((char *)req + 4, "*EEPROM_UPDATE*");
    assert_int_equal(ctl_out(d, 0, 0), SIM_OK);
    assert_int_equal(request(d, req, &n, 0), 0);
    assert_string_equal((char *)req + 4, "*JTAG_LOCKED");
    assert_int_equal(ctl_out(d, 0, 0), SIM_OK);
    assert_int_equal(request(d, req, &n, 0), 2);
    sim_result r;
    sim_device_result(d, &r);
    assert_int_equal(r.metadata_acked, 2);
    assert_int_equal(r.failures, 0);
    sim_device_free(d);
}

/* Imager's observation: a cancelled pending request read misaligns the next reply; the next zero-length
 * write answers the original request. */
static void cancelled_read_misaligns_next_reply(void **state)
{
    (void)state;
    for (int on = 0; on < 2; on++) {
        sim_script s;
        sim_device *d = fault_dev(SIM_FAULT_DELAY, 500, &s);
        sim_device_free(d);
        sim_config cfg;
        second_stage_cfg(&cfg, CMBOOT_SOC_BCM2711, &s);
        cfg.cancel_misaligns = on;
        d = make(&cfg);
        uint8_t req[260], setup[8] = {0xc0, 0, 4, 1, 0, 0, 4, 1};
        size_t n;
        assert_int_equal(ctl_in(d, 260, req, &n, 0), SIM_PENDING);
        sim_device_cancel(d, setup, 100);                            /* the host timed out */
        assert_int_equal(ctl_in(d, 260, req, &n, 200), SIM_PENDING); /* the firmware is still busy */
        memset(req, 0xee, sizeof req);
        assert_int_equal(ctl_in(d, 260, req, &n, 500), SIM_OK);
        assert_int_equal(n, 260);
        sim_result r;
        if (!on) {
            assert_string_equal((char *)req + 4, "config.txt");
            assert_int_equal(ctl_out(d, 0, 800), SIM_OK);
        } else {
            assert_memory_equal(req, "config.txt", 11); /* the name where the command should be */
            assert_memory_equal(req + 256, "\0\0\0\0", 4);
            /* the firmware waits for the answer to its request: reads go unanswered */
            assert_int_equal(ctl_in(d, 260, req, &n, 600), SIM_PENDING);
            sim_device_cancel(d, setup, 700);
            assert_int_equal(ctl_out(d, 0, 800), SIM_OK); /* taken as GetFileSize config.txt -> 0 */
            sim_device_result(d, &r);
            assert_int_equal(r.misaligned, 1);
            assert_int_equal(sim_device_file(d, "config.txt")->announced_size, 0);
        }
        assert_int_equal(request(d, req, &n, 900), 2); /* Done, aligned again */
        sim_device_result(d, &r);
        assert_int_equal(r.failures, 0);
        assert_true(r.script_complete);
        sim_device_free(d);
        sim_script_free(&s);
    }
}

/* leave_without_done: no Done; the board leaves for good or re-enumerates as what after_done says. */
static void leaves_without_done(void **state)
{
    (void)state;
    const sim_after_done after[] = {SIM_AFTER_NOTHING, SIM_AFTER_MASS_STORAGE};
    const char *scripts[] = {"get config.txt\ndone\n", "get config.txt\n"};
    for (int i = 0; i < 2; i++) {
        for (int k = 0; k < 2; k++) {
            sim_script s;
            char err[128];
            assert_int_equal(sim_script_parse(&s, scripts[k], err, sizeof err), CMBOOT_OK);
            sim_config cfg;
            second_stage_cfg(&cfg, CMBOOT_SOC_BCM2837, &s);
            cfg.leave_without_done = true;
            cfg.after_done = after[i];
            sim_device *d = make(&cfg);
            sim_script_free(&s);
            uint8_t req[260];
            size_t n;
            assert_int_equal(request(d, req, &n, 0), 0);
            assert_int_equal(ctl_out(d, 0, 0), SIM_OK);
            assert_int_equal(ctl_in(d, 260, req, &n, 1), SIM_PENDING); /* no Done */
            sim_device_poll(d, 1000);
            if (after[i] == SIM_AFTER_NOTHING) {
                expect_event(d, SIM_EV_VANISH, 0);
            } else {
                expect_event(d, SIM_EV_DISCONNECT, 0);
                expect_event(d, SIM_EV_CONNECT, CMBOOT_STAGE_MASS_STORAGE);
            }
            sim_result r;
            sim_device_result(d, &r);
            assert_true(r.left_without_done);
            assert_false(r.script_complete);
            assert_int_equal(r.requests, 1);
            assert_int_equal(r.failures, 0);
            sim_device_free(d);
        }
    }
}

static void after_done_fastboot_gadget(void **state)
{
    (void)state;
    sim_script s;
    sim_script_init(&s);
    sim_script_add_done(&s);
    sim_config cfg;
    second_stage_cfg(&cfg, CMBOOT_SOC_BCM2712, &s);
    cfg.after_done = SIM_AFTER_FASTBOOT;
    sim_device *d = make(&cfg);
    uint8_t req[260];
    size_t n;
    assert_int_equal(request(d, req, &n, 0), 2);
    sim_device_poll(d, 1000);
    expect_event(d, SIM_EV_DISCONNECT, 0);
    expect_event(d, SIM_EV_CONNECT, SIM_STAGE_FASTBOOT);
    assert_string_equal(sim_stage_name(SIM_STAGE_FASTBOOT), "fastboot");
    uint8_t dd[18], c[255];
    char str[64];
    assert_int_equal(get_desc(d, 1, 0, dd, 18), 18);
    assert_int_equal(dd[8] | dd[9] << 8, 0x18d1);
    assert_int_equal(dd[10] | dd[11] << 8, 0x4e40);
    string_of(d, dd[16], str, sizeof str);
    assert_string_equal(str, cfg.serial);
    int len = get_desc(d, 2, 0, c, sizeof c);
    assert_int_equal(len, 32);
    assert_int_equal(c[4], 1);
    assert_int_equal(c[9 + 4], 2); /* two endpoints */
    assert_int_equal(c[9 + 5], 0xff);
    assert_int_equal(c[9 + 6], 0x42);
    assert_int_equal(c[9 + 7], 0x03);
    string_of(d, c[9 + 8], str, sizeof str);
    assert_string_equal(str, "fastbootd-provisioner");
    assert_int_equal(endpoint_mps(c, len, 0x01), 512);
    assert_true(endpoint_mps(c, len, 0x81) == 512);
    sim_identity id;
    sim_device_identity(d, &id);
    assert_int_equal(id.vid, SIM_VID_FASTBOOT);
    assert_string_equal(id.serial, cfg.serial);
    /* no rpiboot protocol here: fastboot on its bulk pair (tests/unit/test_sim_fastboot.c) */
    assert_int_equal(ctl_in(d, 260, req, &n, 1000), SIM_STALL);
    assert_int_equal(set_config(d, 1, 1000), SIM_OK);
    size_t took;
    assert_int_equal(sim_device_bulk_in(d, 0x81, req, 256, &n, 1000), SIM_PENDING);
    assert_int_equal(sim_device_bulk_out(d, 0x01, (const uint8_t *)"getvar:version", 14, &took, 1000), SIM_OK);
    assert_int_equal(took, 14);
    assert_int_equal(sim_device_bulk_in(d, 0x81, req, 256, &n, 1000), SIM_OK);
    assert_int_equal(n, 7);
    assert_memory_equal(req, "OKAY0.4", 7);
    sim_device_free(d);
    sim_script_free(&s);
}

/* A recovery payload whose boot order says rpiboot: the ROM comes back, a new boot. */
static void after_done_rom_is_a_new_boot(void **state)
{
    (void)state;
    uint8_t ss[32] = {0};
    sim_script s;
    sim_script_init(&s);
    sim_script_add_meta(&s, "EEPROM_UPDATE", "success");
    sim_script_add_done(&s);
    sim_config cfg;
    sim_config_default(&cfg, CMBOOT_SOC_BCM2711);
    cfg.script = &s;
    cfg.after_done = SIM_AFTER_ROM;
    sim_device *d = make(&cfg);
    for (int boot = 0; boot < 2; boot++) {
        int64_t t = boot * 1000;
        uint8_t st[4], req[260];
        size_t n;
        rom_send(d, ss, sizeof ss, t);
        assert_int_equal(ctl_in(d, 4, st, &n, t), SIM_OK);
        sim_device_poll(d, t + 100);
        expect_event(d, SIM_EV_DISCONNECT, 0);
        expect_event(d, SIM_EV_CONNECT, CMBOOT_STAGE_SECOND);
        assert_int_equal(set_config(d, 1, t + 100), SIM_OK);
        assert_int_equal(request(d, req, &n, t + 100), 0);
        assert_int_equal(ctl_out(d, 0, t + 100), SIM_OK);
        assert_int_equal(request(d, req, &n, t + 100), 2);
        sim_device_poll(d, t + 200);
        expect_event(d, SIM_EV_DISCONNECT, 0);
        expect_event(d, SIM_EV_CONNECT, CMBOOT_STAGE_ROM);
        assert_int_equal(set_config(d, 1, t + 200), SIM_OK);
        uint8_t buf[9];
        assert_int_equal(get_desc(d, 2, 0, buf, 9), 9);
        assert_int_equal(buf[2] | buf[3] << 8, 55); /* a new enumeration: the BCM2711 quirk again */
    }
    sim_result r;
    sim_device_result(d, &r);
    assert_int_equal(r.enumerations, 5);
    assert_int_equal(r.metadata_acked, 2);
    assert_int_equal(r.failures, 0);
    sim_device_free(d);
    sim_script_free(&s);
}

/* stall-bulk halts the endpoint: nothing is taken until CLEAR_FEATURE(ENDPOINT_HALT), then all of it is. */
static void stall_bulk_until_clear_halt(void **state)
{
    (void)state;
    sim_script s;
    sim_device *d = fault_dev(SIM_FAULT_STALL_BULK, 0, &s);
    uint8_t req[260], data[1000], status[2];
    test_fill_pattern(data, sizeof data, 5);
    size_t n, took;
    request(d, req, &n, 0);
    assert_int_equal(ctl_out(d, sizeof data, 0), SIM_OK);
    request(d, req, &n, 0);
    assert_int_equal(ctl_out(d, sizeof data, 0), SIM_OK);
    for (int i = 0; i < 3; i++) { /* retries without clearing the halt keep stalling */
        assert_int_equal(sim_device_bulk_out(d, 0x01, data, sizeof data, &took, 0), SIM_STALL);
        assert_int_equal(took, 0);
    }
    assert_int_equal(std_req(d, 0x82, 0, 0, 0x01, status, 2, &n, 0), SIM_OK); /* GET_STATUS(ep 0x01) */
    assert_int_equal(n, 2);
    assert_int_equal(status[0], 1);
    assert_int_equal(std_req(d, 0x02, 1, 0, 0x05, NULL, 0, NULL, 0), SIM_STALL); /* no endpoint 0x05 */
    assert_int_equal(std_req(d, 0x02, 1, 0, 0x01, NULL, 0, NULL, 0), SIM_OK);    /* CLEAR_FEATURE(HALT) */
    assert_int_equal(std_req(d, 0x82, 0, 0, 0x01, status, 2, &n, 0), SIM_OK);
    assert_int_equal(status[0], 0);
    send_bulk(d, data, sizeof data, 0);
    const sim_file_record *f = sim_device_file(d, "config.txt");
    assert_true(f->complete);
    uint8_t sha[32];
    SHA256(data, sizeof data, sha);
    assert_memory_equal(f->sha256, sha, 32);
    sim_result r;
    sim_device_result(d, &r);
    assert_int_equal(r.failures, 0);
    sim_device_free(d);
    sim_script_free(&s);

    /* the ROM's second-stage data the same way; a port reset also clears a halt */
    sim_script_init(&s);
    s.rom_fault.kind = SIM_FAULT_STALL_BULK;
    sim_config cfg;
    sim_config_default(&cfg, CMBOOT_SOC_BCM2837);
    cfg.script = &s;
    d = make(&cfg);
    uint8_t msg[24] = {sizeof data & 0xff, sizeof data >> 8};
    assert_int_equal(ctl_out(d, 24, 0), SIM_OK);
    send_bulk(d, msg, sizeof msg, 0);
    assert_int_equal(ctl_out(d, sizeof data, 0), SIM_OK);
    assert_int_equal(sim_device_bulk_out(d, 0x01, data, sizeof data, &took, 0), SIM_STALL);
    assert_int_equal(sim_device_bulk_out(d, 0x01, data, sizeof data, &took, 0), SIM_STALL);
    sim_device_reset(d);
    assert_int_equal(set_config(d, 1, 0), SIM_OK);
    send_bulk(d, data, sizeof data, 0);
    assert_int_equal(ctl_in(d, 4, req, &n, 0), SIM_OK);
    sim_device_result(d, &r);
    assert_true(r.rom_accepted);
    assert_int_equal(r.second_stage_received, sizeof data);
    sim_device_free(d);
    sim_script_free(&s);
}

static const struct CMUnitTest tests[] = {
    cmocka_unit_test(desc_rom_bcm2835),
    cmocka_unit_test(desc_rom_bcm2711_config_quirk),
    cmocka_unit_test(desc_rom_bcm2712),
    cmocka_unit_test(desc_bcm2837_two_interfaces),
    cmocka_unit_test(rom_accepts_and_reenumerates),
    cmocka_unit_test(rom_rejects),
    cmocka_unit_test(rom_rejects_wrong_second_stage),
    cmocka_unit_test(rom_status_delay_naks),
    cmocka_unit_test(rom_fault_vanish_mid_bulk),
    cmocka_unit_test(second_stage_serves_script),
    cmocka_unit_test(second_stage_expectations_fail),
    cmocka_unit_test(second_stage_nothing_to_ask_naks),
    cmocka_unit_test(second_stage_empty_name_then_gadget),
    cmocka_unit_test(second_stage_empty_name_unacked),
    cmocka_unit_test(fault_vanish),
    cmocka_unit_test(fault_stall_once),
    cmocka_unit_test(fault_delay),
    cmocka_unit_test(fault_garbage),
    cmocka_unit_test(fault_short),
    cmocka_unit_test(fault_unknown_command),
    cmocka_unit_test(fault_unterminated_and_overlong),
    cmocka_unit_test(fault_vanish_after_bytes),
    cmocka_unit_test(fault_stall_bulk),
    cmocka_unit_test(raw_hostile_name_recorded),
    cmocka_unit_test(rom_full_speed_then_high_speed),
    cmocka_unit_test(reenumeration_delays_per_stage),
    cmocka_unit_test(second_stage_serial_index),
    cmocka_unit_test(config_quirk_on_bcm2837),
    cmocka_unit_test(late_configuration_two_interfaces),
    cmocka_unit_test(request_faults_lenient_host_reaches_next_stage),
    cmocka_unit_test(fault_short_sizes),
    cmocka_unit_test(fault_long_stale_bytes),
    cmocka_unit_test(metadata_without_value),
    cmocka_unit_test(cancelled_read_misaligns_next_reply),
    cmocka_unit_test(leaves_without_done),
    cmocka_unit_test(after_done_fastboot_gadget),
    cmocka_unit_test(after_done_rom_is_a_new_boot),
    cmocka_unit_test(stall_bulk_until_clear_halt),
};

CMBOOT_TEST_MAIN(tests)
