/* In-process emulator bus driven by a minimal hand-written host through cmboot_discovery / cmboot_transport. */
#include "testutil.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <openssl/sha.h>
#include "cmboot/error.h"
#include "front/sim_bus.h"

#define T_CTL 2000

/* ---- minimal host ---- */

static int host_write(const cmboot_transport *t, const void *buf, uint32_t len)
{
    int rc = t->ops->control_out(t->self, (uint16_t)len, (uint16_t)(len >> 16), T_CTL);
    if (rc != CMBOOT_OK || len == 0)
        return rc;
    size_t actual = 0;
    rc = t->ops->bulk_out(t->self, buf, len, &actual, T_CTL);
    if (rc == CMBOOT_OK && actual != len)
        rc = CMBOOT_ERR_SHORT_TRANSFER;
    return rc;
}

static int host_rom(const cmboot_transport *t, const uint8_t *ss, uint32_t len, int32_t *status)
{
    uint8_t msg[24] = {(uint8_t)len, (uint8_t)(len >> 8), (uint8_t)(len >> 16), (uint8_t)(len >> 24)};
    int rc = host_write(t, msg, sizeof msg);
    if (rc == CMBOOT_OK)
        rc = host_write(t, ss, len);
    uint8_t st[4];
    size_t n = 0;
    if (rc == CMBOOT_OK)
        rc = t->ops->control_in(t->self, 4, 0, st, 4, &n, T_CTL);
    if (rc == CMBOOT_OK && n != 4)
        rc = CMBOOT_ERR_SHORT_TRANSFER;
    if (rc == CMBOOT_OK)
        *status = (int32_t)((uint32_t)st[0] | (uint32_t)st[1] << 8 | (uint32_t)st[2] << 16 | (uint32_t)st[3] << 24);
    return rc;
}

typedef struct hfile {
    const char *name;
    const uint8_t *data;
    uint32_t len;
} hfile;

/* Serves requests until Done / empty name; returns CMBOOT_OK or the first error. */
static int host_fs(const cmboot_transport *t, const hfile *files, size_t nfiles, unsigned *served)
{
    *served = 0;
    for (;;) {
        uint8_t req[260];
        size_t n = 0;
        int rc = t->ops->control_in(t->self, 260, 0, req, 260, &n, T_CTL);
        if (rc != CMBOOT_OK)
            return rc;
        if (n != 260)
            return CMBOOT_ERR_SHORT_TRANSFER;
        int32_t cmd =
            (int32_t)((uint32_t)req[0] | (uint32_t)req[1] << 8 | (uint32_t)req[2] << 16 | (uint32_t)req[3] << 24);
        if (!memchr(req + 4, 0, 256))
            return CMBOOT_ERR_UNSAFE_NAME;
        const char *name = (const char *)req + 4;
        (*served)++;
        if (cmd == 2)
            return CMBOOT_OK;
        if (cmd < 0 || cmd > 2)
            return CMBOOT_ERR_PROTOCOL;
        if (name[0] == 0)
            return host_write(t, NULL, 0);
        const hfile *f = NULL;
        for (size_t i = 0; i < nfiles; i++)
            if (strcmp(files[i].name, name) == 0)
                f = &files[i];
        if (name[0] == '*' || !f)
            rc = host_write(t, NULL, 0);
        else if (cmd == 0)
            rc = t->ops->control_out(t->self, (uint16_t)f->len, (uint16_t)(f->len >> 16), T_CTL);
        else
            rc = host_write(t, f->data, f->len);
        if (rc != CMBOOT_OK)
            return rc;
    }
}

static void next_ev(const cmboot_discovery *d, cmboot_device_event *ev, cmboot_device_event_type type, const char *path,
                    cmboot_stage stage)
{
    assert_int_equal(d->ops->next_event(d->self, ev, cmboot_now_ms() + 5000), CMBOOT_OK);
    assert_int_equal(ev->type, type);
    assert_string_equal(ev->dev.port_path, path);
    if (type == CMBOOT_DEVICE_ADDED)
        assert_int_equal(ev->dev.stage, stage);
}

static sim_script *script_from(const char *text)
{
    sim_script *s = malloc(sizeof *s);
    char err[128];
    assert_int_equal(sim_script_parse(s, text, err, sizeof err), CMBOOT_OK);
    return s;
}

static void script_drop(sim_script *s)
{
    sim_script_free(s);
    free(s);
}

/* ---- tests ---- */

static void bus_full_boot_bcm2711(void **state)
{
    (void)state;
    static uint8_t ss[40000], img[200000];
    test_fill_pattern(ss, sizeof ss, 3);
    test_fill_pattern(img, sizeof img, 4);
    sim_bus *bus;
    assert_int_equal(sim_bus_new(&bus), CMBOOT_OK);
    sim_config cfg;
    sim_config_default(&cfg, CMBOOT_SOC_BCM2711);
    snprintf(cfg.serial, sizeof cfg.serial, "af04b2da");
    cfg.expect_second_stage_size = sizeof ss;
    assert_int_equal(sim_bus_plug(bus, "1-1.3", &cfg, 0), CMBOOT_OK);
    assert_int_equal(sim_bus_plug(bus, "1-1.3", &cfg, 0), CMBOOT_ERR_BUSY);
    assert_int_equal(sim_bus_plug(bus, "bogus", &cfg, 0), CMBOOT_ERR_INVALID_ARG);
    cmboot_discovery disc;
    assert_int_equal(sim_bus_discovery(bus, &disc), CMBOOT_OK);
    assert_string_equal(disc.ops->name, "sim");

    cmboot_device_event ev;
    next_ev(&disc, &ev, CMBOOT_DEVICE_ADDED, "1-1.3", CMBOOT_STAGE_ROM);
    assert_int_equal(ev.dev.vid, 0x0a5c);
    assert_int_equal(ev.dev.pid, 0x2711);
    assert_int_equal(ev.dev.serial_index, 3);
    assert_string_equal(ev.dev.serial, "af04b2da");
    assert_int_equal(ev.dev.busnum, 1);
    assert_non_null(ev.dev.soc);
    assert_int_equal(ev.dev.soc->id, CMBOOT_SOC_BCM2711);
    uint8_t rom_devnum = ev.dev.devnum;

    cmboot_transport rom;
    assert_int_equal(disc.ops->open(disc.self, &ev.dev, &rom), CMBOOT_OK);
    int32_t status = -1;
    assert_int_equal(host_rom(&rom, ss, sizeof ss, &status), CMBOOT_OK);
    assert_int_equal(status, 0);

    next_ev(&disc, &ev, CMBOOT_DEVICE_REMOVED, "1-1.3", 0);
    assert_int_equal(ev.dev.devnum, rom_devnum);
    next_ev(&disc, &ev, CMBOOT_DEVICE_ADDED, "1-1.3", CMBOOT_STAGE_SECOND);
    assert_int_equal(ev.dev.serial_index, 4);
    assert_string_equal(ev.dev.serial, "af04b2da");
    assert_true(ev.dev.devnum != rom_devnum);
    /* the ROM's transport is dead now */
    uint8_t b4[4];
    size_t n;
    assert_int_equal(rom.ops->control_in(rom.self, 4, 0, b4, 4, &n, 100), CMBOOT_ERR_NO_DEVICE);
    rom.ops->close(rom.self);

    cmboot_transport fs;
    assert_int_equal(disc.ops->open(disc.self, &ev.dev, &fs), CMBOOT_OK);
    hfile files[] = {{"boot.img", img, sizeof img}, {"config.txt", (const uint8_t *)"x=1\n", 4}};
    unsigned served = 0;
    assert_int_equal(host_fs(&fs, files, 2, &served), CMBOOT_OK);
    fs.ops->close(fs.self);

    next_ev(&disc, &ev, CMBOOT_DEVICE_REMOVED, "1-1.3", 0);
    next_ev(&disc, &ev, CMBOOT_DEVICE_ADDED, "1-1.3", CMBOOT_STAGE_MASS_STORAGE);
    assert_int_equal(ev.dev.pid, SIM_PID_MSD_GADGET);
    assert_string_equal(ev.dev.serial, "af04b2da");
    assert_null(ev.dev.soc);
    cmboot_transport msd;
    assert_int_equal(disc.ops->open(disc.self, &ev.dev, &msd), CMBOOT_ERR_UNSUPPORTED);
    assert_int_equal(sim_bus_wait_stage(bus, "1-1.3", CMBOOT_STAGE_MASS_STORAGE, cmboot_now_ms() + 100), CMBOOT_OK);

    sim_result r;
    assert_int_equal(sim_bus_result(bus, "1-1.3", &r), CMBOOT_OK);
    assert_true(r.rom_accepted);
    assert_true(r.script_complete);
    assert_int_equal(r.failures, 0);
    assert_int_equal(r.enumerations, 3);
    sim_file_record f;
    assert_int_equal(sim_bus_file(bus, "1-1.3", "boot.img", &f), CMBOOT_OK);
    uint8_t sha[32];
    SHA256(img, sizeof img, sha);
    assert_true(f.complete);
    assert_memory_equal(f.sha256, sha, 32);
    assert_int_equal(sim_bus_file(bus, "1-1.3", "nope", &f), CMBOOT_ERR_NOT_FOUND);
    char log[8192];
    assert_int_equal(sim_bus_log(bus, "1-1.3", log, sizeof log), CMBOOT_OK);
    assert_non_null(strstr(log, "GetFileSize boot.img"));
    assert_int_equal(sim_bus_result(bus, "9-9", &r), CMBOOT_ERR_NOT_FOUND);
    disc.ops->destroy(disc.self);
    sim_bus_free(bus);
}

static void bus_plug_later_by_time(void **state)
{
    (void)state;
    sim_bus *bus;
    sim_bus_new(&bus);
    sim_config cfg;
    sim_config_default(&cfg, CMBOOT_SOC_BCM2835);
    int64_t t0 = cmboot_now_ms();
    assert_int_equal(sim_bus_plug(bus, "2-4", &cfg, t0 + 150), CMBOOT_OK);
    cmboot_discovery disc;
    sim_bus_discovery(bus, &disc);
    cmboot_device_event ev;
    assert_int_equal(disc.ops->next_event(disc.self, &ev, t0 + 50), CMBOOT_ERR_TIMEOUT);
    assert_int_equal(disc.ops->next_event(disc.self, &ev, t0 + 5000), CMBOOT_OK);
    assert_true(cmboot_now_ms() - t0 >= 150);
    assert_int_equal(ev.type, CMBOOT_DEVICE_ADDED);
    assert_string_equal(ev.dev.port_path, "2-4");
    assert_int_equal(ev.dev.busnum, 2);
    assert_int_equal(ev.dev.serial_index, 0);
    disc.ops->destroy(disc.self);
    sim_bus_free(bus);
}

typedef struct plug_arg {
    sim_bus *bus;
    const sim_config *cfg;
} plug_arg;

static void *plug_thread(void *p)
{
    plug_arg *a = p;
    sim_bus_plug(a->bus, "3-1.2.4", a->cfg, 0);
    return NULL;
}

static void bus_plug_from_other_thread(void **state)
{
    (void)state;
    sim_bus *bus;
    sim_bus_new(&bus);
    sim_config cfg;
    sim_config_default(&cfg, CMBOOT_SOC_BCM2712);
    cmboot_discovery disc;
    sim_bus_discovery(bus, &disc);
    plug_arg a = {bus, &cfg};
    pthread_t th;
    assert_int_equal(pthread_create(&th, NULL, plug_thread, &a), 0);
    cmboot_device_event ev;
    next_ev(&disc, &ev, CMBOOT_DEVICE_ADDED, "3-1.2.4", CMBOOT_STAGE_ROM);
    assert_int_equal(ev.dev.pid, 0x2712);
    pthread_join(th, NULL);
    disc.ops->destroy(disc.self);
    sim_bus_free(bus);
}

static void bus_vanish_gives_no_device(void **state)
{
    (void)state;
    sim_bus *bus;
    sim_bus_new(&bus);
    sim_script *s = script_from("get config.txt\nfault vanish\ndone\n");
    sim_config cfg;
    sim_config_default(&cfg, CMBOOT_SOC_BCM2711);
    cfg.start_stage = CMBOOT_STAGE_SECOND;
    cfg.script = s;
    sim_bus_plug(bus, "1-2", &cfg, 0);
    script_drop(s);
    cmboot_discovery disc;
    sim_bus_discovery(bus, &disc);
    cmboot_device_event ev;
    next_ev(&disc, &ev, CMBOOT_DEVICE_ADDED, "1-2", CMBOOT_STAGE_SECOND);
    cmboot_transport t;
    assert_int_equal(disc.ops->open(disc.self, &ev.dev, &t), CMBOOT_OK);
    uint8_t req[260];
    size_t n;
    assert_int_equal(t.ops->control_in(t.self, 260, 0, req, 260, &n, T_CTL), CMBOOT_ERR_NO_DEVICE);
    assert_int_equal(t.ops->control_out(t.self, 0, 0, T_CTL), CMBOOT_ERR_NO_DEVICE);
    next_ev(&disc, &ev, CMBOOT_DEVICE_REMOVED, "1-2", 0);
    assert_int_equal(disc.ops->open(disc.self, &ev.dev, &t), CMBOOT_ERR_NO_DEVICE);
    assert_int_equal(sim_bus_wait_stage(bus, "1-2", CMBOOT_STAGE_UNKNOWN, cmboot_now_ms() + 100), CMBOOT_OK);
    assert_int_equal(sim_bus_wait_stage(bus, "1-2", CMBOOT_STAGE_SECOND, cmboot_now_ms() + 100), CMBOOT_ERR_NO_DEVICE);
    assert_int_equal(disc.ops->next_event(disc.self, &ev, cmboot_now_ms() + 50), CMBOOT_ERR_TIMEOUT);
    t.ops->close(t.self);
    /* the port can take a new board */
    sim_config_default(&cfg, CMBOOT_SOC_BCM2711);
    assert_int_equal(sim_bus_plug(bus, "1-2", &cfg, 0), CMBOOT_OK);
    next_ev(&disc, &ev, CMBOOT_DEVICE_ADDED, "1-2", CMBOOT_STAGE_ROM);
    disc.ops->destroy(disc.self);
    sim_bus_free(bus);
}

static void bus_unplug(void **state)
{
    (void)state;
    sim_bus *bus;
    sim_bus_new(&bus);
    sim_config cfg;
    sim_config_default(&cfg, CMBOOT_SOC_BCM2837);
    sim_bus_plug(bus, "1-1", &cfg, 0);
    cmboot_discovery disc;
    sim_bus_discovery(bus, &disc);
    cmboot_device_event ev;
    next_ev(&disc, &ev, CMBOOT_DEVICE_ADDED, "1-1", CMBOOT_STAGE_ROM);
    cmboot_transport t;
    assert_int_equal(disc.ops->open(disc.self, &ev.dev, &t), CMBOOT_OK);
    assert_int_equal(sim_bus_unplug(bus, "1-1"), CMBOOT_OK);
    assert_int_equal(sim_bus_unplug(bus, "1-1"), CMBOOT_ERR_NOT_FOUND);
    next_ev(&disc, &ev, CMBOOT_DEVICE_REMOVED, "1-1", 0);
    assert_int_equal(t.ops->control_out(t.self, 24, 0, T_CTL), CMBOOT_ERR_NO_DEVICE);
    t.ops->close(t.self);
    disc.ops->destroy(disc.self);
    sim_bus_free(bus);
}

typedef struct cancel_arg {
    cmboot_transport *t;
    sim_bus *bus;
} cancel_arg;

static void *cancel_thread(void *p)
{
    cancel_arg *a = p;
    /* wait (without sleeping) until the host's read is certainly pending: 100 ms of bus time */
    sim_bus_wait_stage(a->bus, "1-5", CMBOOT_STAGE_ROM, cmboot_now_ms() + 100);
    a->t->ops->cancel(a->t->self);
    return NULL;
}

static void bus_timeout_and_cancel(void **state)
{
    (void)state;
    sim_bus *bus;
    sim_bus_new(&bus);
    sim_script *s = script_from("# nothing to ask\n");
    sim_config cfg;
    sim_config_default(&cfg, CMBOOT_SOC_BCM2711);
    cfg.start_stage = CMBOOT_STAGE_SECOND;
    cfg.script = s;
    sim_bus_plug(bus, "1-5", &cfg, 0);
    script_drop(s);
    cmboot_discovery disc;
    sim_bus_discovery(bus, &disc);
    cmboot_device_event ev;
    next_ev(&disc, &ev, CMBOOT_DEVICE_ADDED, "1-5", CMBOOT_STAGE_SECOND);
    cmboot_transport t;
    assert_int_equal(disc.ops->open(disc.self, &ev.dev, &t), CMBOOT_OK);
    uint8_t req[260];
    size_t n;
    int64_t t0 = cmboot_now_ms();
    assert_int_equal(t.ops->control_in(t.self, 260, 0, req, 260, &n, 120), CMBOOT_ERR_TIMEOUT);
    int64_t waited = cmboot_now_ms() - t0;
    assert_true(waited >= 120 && waited < 2000);
    cancel_arg a = {&t, bus};
    pthread_t th;
    assert_int_equal(pthread_create(&th, NULL, cancel_thread, &a), 0);
    t0 = cmboot_now_ms();
    assert_int_equal(t.ops->control_in(t.self, 260, 0, req, 260, &n, 20000), CMBOOT_ERR_CANCELLED);
    assert_true(cmboot_now_ms() - t0 < 10000);
    pthread_join(th, NULL);
    assert_int_equal(t.ops->control_out(t.self, 0, 0, T_CTL), CMBOOT_ERR_CANCELLED);
    t.ops->close(t.self);
    disc.ops->destroy(disc.self);
    sim_bus_free(bus);
}

static void bus_delay_fault_answers_late(void **state)
{
    (void)state;
    sim_bus *bus;
    sim_bus_new(&bus);
    sim_script *s = script_from("get config.txt fault=delay:200\ndone\n");
    sim_config cfg;
    sim_config_default(&cfg, CMBOOT_SOC_BCM2837);
    cfg.start_stage = CMBOOT_STAGE_SECOND;
    cfg.script = s;
    sim_bus_plug(bus, "1-6", &cfg, 0);
    script_drop(s);
    cmboot_discovery disc;
    sim_bus_discovery(bus, &disc);
    cmboot_device_event ev;
    next_ev(&disc, &ev, CMBOOT_DEVICE_ADDED, "1-6", CMBOOT_STAGE_SECOND);
    cmboot_transport t;
    disc.ops->open(disc.self, &ev.dev, &t);
    uint8_t req[260];
    size_t n;
    int64_t t0 = cmboot_now_ms();
    assert_int_equal(t.ops->control_in(t.self, 260, 0, req, 260, &n, 5000), CMBOOT_OK);
    assert_true(cmboot_now_ms() - t0 >= 200);
    assert_int_equal(n, 260);
    assert_string_equal((char *)req + 4, "config.txt");
    t.ops->close(t.self);
    disc.ops->destroy(disc.self);
    sim_bus_free(bus);
}

static void bus_large_bulk_pieces(void **state)
{
    (void)state;
    const uint32_t size = 3u << 20;
    uint8_t *big = malloc(size);
    assert_non_null(big);
    test_fill_pattern(big, size, 11);
    sim_bus *bus;
    sim_bus_new(&bus);
    sim_script *s = script_from("get big.bin must-exist\nempty\n");
    sim_config cfg;
    sim_config_default(&cfg, CMBOOT_SOC_BCM2712);
    cfg.start_stage = CMBOOT_STAGE_SECOND;
    cfg.script = s;
    sim_bus_plug(bus, "4-1", &cfg, 0);
    script_drop(s);
    cmboot_discovery disc;
    sim_bus_discovery(bus, &disc);
    cmboot_device_event ev;
    next_ev(&disc, &ev, CMBOOT_DEVICE_ADDED, "4-1", CMBOOT_STAGE_SECOND);
    cmboot_transport t;
    disc.ops->open(disc.self, &ev.dev, &t);
    hfile files[] = {{"big.bin", big, size}};
    unsigned served;
    int64_t t0 = cmboot_now_ms();
    assert_int_equal(host_fs(&t, files, 1, &served), CMBOOT_OK); /* 3 MiB in one bulk_out call */
    print_message("3 MiB through the in-process bus: %lld ms\n", (long long)(cmboot_now_ms() - t0));
    assert_int_equal(served, 3);
    t.ops->close(t.self);
    assert_int_equal(sim_bus_wait_stage(bus, "4-1", CMBOOT_STAGE_MASS_STORAGE, cmboot_now_ms() + 2000), CMBOOT_OK);
    sim_file_record f;
    assert_int_equal(sim_bus_file(bus, "4-1", "big.bin", &f), CMBOOT_OK);
    uint8_t sha[32];
    SHA256(big, size, sha);
    assert_int_equal(f.received, size);
    assert_memory_equal(f.sha256, sha, 32);
    sim_result r;
    sim_bus_result(bus, "4-1", &r);
    assert_int_equal(r.failures, 0);
    disc.ops->destroy(disc.self);
    sim_bus_free(bus);
    free(big);
}

static void bus_two_interface_rom(void **state)
{
    (void)state;
    uint8_t ss[1000] = {7};
    sim_bus *bus;
    sim_bus_new(&bus);
    sim_config cfg;
    sim_config_default(&cfg, CMBOOT_SOC_BCM2837);
    cfg.two_interfaces = true;
    sim_bus_plug(bus, "1-3", &cfg, 0);
    cmboot_discovery disc;
    sim_bus_discovery(bus, &disc);
    cmboot_device_event ev;
    next_ev(&disc, &ev, CMBOOT_DEVICE_ADDED, "1-3", CMBOOT_STAGE_ROM);
    assert_int_equal(ev.dev.num_interfaces, 2);
    cmboot_transport t;
    disc.ops->open(disc.self, &ev.dev, &t);
    int32_t status = -1;
    assert_int_equal(host_rom(&t, ss, sizeof ss, &status), CMBOOT_OK);
    assert_int_equal(status, 0);
    t.ops->close(t.self);
    next_ev(&disc, &ev, CMBOOT_DEVICE_REMOVED, "1-3", 0);
    next_ev(&disc, &ev, CMBOOT_DEVICE_ADDED, "1-3", CMBOOT_STAGE_SECOND);
    assert_int_equal(ev.dev.num_interfaces, 1);
    disc.ops->destroy(disc.self);
    sim_bus_free(bus);
}

static void bus_discovery_wakeup(void **state)
{
    (void)state;
    sim_bus *bus;
    sim_bus_new(&bus);
    cmboot_discovery disc;
    sim_bus_discovery(bus, &disc);
    disc.ops->wakeup(disc.self);
    cmboot_device_event ev;
    assert_int_equal(disc.ops->next_event(disc.self, &ev, cmboot_now_ms() + 5000), CMBOOT_ERR_CANCELLED);
    assert_int_equal(disc.ops->next_event(disc.self, &ev, cmboot_now_ms() + 20), CMBOOT_ERR_TIMEOUT);
    disc.ops->destroy(disc.self);
    sim_bus_free(bus);
}

/* Several boards, each booted by its own host thread with its own discovery view. */
typedef struct board_job {
    sim_bus *bus;
    char path[16];
    int rc;
} board_job;

static void *board_thread(void *p)
{
    board_job *j = p;
    static const uint8_t ss[20000];
    static const uint8_t img[300000];
    hfile files[] = {{"boot.img", img, sizeof img}, {"start.elf", img, 1000}};
    cmboot_discovery disc;
    sim_bus_discovery(j->bus, &disc);
    cmboot_device_event ev;
    j->rc = CMBOOT_ERR_TIMEOUT;
    int64_t deadline = cmboot_now_ms() + 10000;
    while (disc.ops->next_event(disc.self, &ev, deadline) == CMBOOT_OK) {
        if (strcmp(ev.dev.port_path, j->path) != 0 || ev.type != CMBOOT_DEVICE_ADDED)
            continue;
        if (ev.dev.stage == CMBOOT_STAGE_MASS_STORAGE) {
            j->rc = CMBOOT_OK;
            break;
        }
        cmboot_transport t;
        int rc = disc.ops->open(disc.self, &ev.dev, &t);
        if (rc == CMBOOT_OK) {
            int32_t status = 0;
            unsigned served;
            rc = ev.dev.stage == CMBOOT_STAGE_ROM ? host_rom(&t, ss, sizeof ss, &status)
                                                  : host_fs(&t, files, 2, &served);
            t.ops->close(t.self);
        }
        if (rc != CMBOOT_OK) {
            j->rc = rc;
            break;
        }
    }
    disc.ops->destroy(disc.self);
    return NULL;
}

static void bus_many_boards_in_parallel(void **state)
{
    (void)state;
    sim_bus *bus;
    sim_bus_new(&bus);
    const cmboot_soc_id socs[4] = {CMBOOT_SOC_BCM2835, CMBOOT_SOC_BCM2837, CMBOOT_SOC_BCM2711, CMBOOT_SOC_BCM2712};
    board_job jobs[8];
    pthread_t th[8];
    for (int i = 0; i < 8; i++) {
        sim_config cfg;
        sim_config_default(&cfg, socs[i % 4]);
        snprintf(cfg.serial, sizeof cfg.serial, "0000%04d", i);
        jobs[i].bus = bus;
        snprintf(jobs[i].path, sizeof jobs[i].path, "1-1.%d", i + 1);
        assert_int_equal(sim_bus_plug(bus, jobs[i].path, &cfg, cmboot_now_ms() + 10 * i), CMBOOT_OK);
    }
    for (int i = 0; i < 8; i++)
        assert_int_equal(pthread_create(&th[i], NULL, board_thread, &jobs[i]), 0);
    for (int i = 0; i < 8; i++) {
        pthread_join(th[i], NULL);
        assert_int_equal(jobs[i].rc, CMBOOT_OK);
        sim_result r;
        sim_bus_result(bus, jobs[i].path, &r);
        assert_true(r.rom_accepted);
        assert_true(r.script_complete);
        assert_int_equal(r.failures, 0);
    }
    sim_bus_free(bus);
}

/* Lets the bus's time pass (a discovery view drives it) for ms, returning early on no event. */
static void let_time_pass(cmboot_discovery *disc, int64_t ms)
{
    cmboot_device_event ev;
    int64_t until = cmboot_now_ms() + ms;
    while (cmboot_now_ms() < until)
        if (disc->ops->next_event(disc->self, &ev, until) != CMBOOT_OK)
            break;
}

/* A two-interface ROM whose configuration comes late: the ADDED event shows no interfaces; a host that
 * opens it then uses interface 0 / OUT 0x01 and is refused; one that opens it after the configuration is
 * set gets interface 1 / OUT 0x03. */
static void bus_late_config_two_interfaces(void **state)
{
    (void)state;
    uint8_t ss[1000] = {7};
    sim_bus *bus;
    sim_bus_new(&bus);
    sim_config cfg;
    sim_config_default(&cfg, CMBOOT_SOC_BCM2837);
    cfg.two_interfaces = true;
    cfg.set_config_delay_ms = 300;
    assert_int_equal(sim_bus_plug(bus, "1-3", &cfg, 0), CMBOOT_OK);
    cmboot_discovery disc;
    sim_bus_discovery(bus, &disc);
    cmboot_device_event ev;
    next_ev(&disc, &ev, CMBOOT_DEVICE_ADDED, "1-3", CMBOOT_STAGE_ROM);
    assert_int_equal(ev.dev.num_interfaces, 0); /* sysfs: bNumInterfaces empty */
    cmboot_transport early;
    assert_int_equal(disc.ops->open(disc.self, &ev.dev, &early), CMBOOT_OK);
    let_time_pass(&disc, 400);
    int32_t status = -1;
    assert_int_equal(host_rom(&early, ss, sizeof ss, &status), CMBOOT_ERR_STALL);
    early.ops->close(early.self);
    sim_result r;
    sim_bus_result(bus, "1-3", &r);
    assert_true(r.failures > 0);
    assert_non_null(strstr(r.first_failure, "endpoint 0x01"));

    /* a second board; the host waits until the configuration is set before it opens */
    assert_int_equal(sim_bus_plug(bus, "1-4", &cfg, 0), CMBOOT_OK);
    next_ev(&disc, &ev, CMBOOT_DEVICE_ADDED, "1-4", CMBOOT_STAGE_ROM);
    assert_int_equal(ev.dev.num_interfaces, 0);
    let_time_pass(&disc, 400);
    cmboot_transport t;
    assert_int_equal(disc.ops->open(disc.self, &ev.dev, &t), CMBOOT_OK);
    assert_int_equal(host_rom(&t, ss, sizeof ss, &status), CMBOOT_OK);
    assert_int_equal(status, 0);
    t.ops->close(t.self);
    sim_bus_result(bus, "1-4", &r);
    assert_int_equal(r.failures, 0);
    /* without the delay the configuration is set before the ADDED event */
    cfg.set_config_delay_ms = 0;
    assert_int_equal(sim_bus_plug(bus, "1-5", &cfg, 0), CMBOOT_OK);
    do
        assert_int_equal(disc.ops->next_event(disc.self, &ev, cmboot_now_ms() + 5000), CMBOOT_OK);
    while (strcmp(ev.dev.port_path, "1-5") != 0);
    assert_int_equal(ev.dev.num_interfaces, 2);
    disc.ops->destroy(disc.self);
    sim_bus_free(bus);
}

/* cancel_misaligns: a control_in that times out on the bus is a cancelled transfer. */
static void bus_cancelled_read_misaligns(void **state)
{
    (void)state;
    sim_bus *bus;
    sim_bus_new(&bus);
    sim_script *s = script_from("get config.txt\nfault delay 300\ndone\n");
    sim_config cfg;
    sim_config_default(&cfg, CMBOOT_SOC_BCM2711);
    cfg.start_stage = CMBOOT_STAGE_SECOND;
    cfg.script = s;
    cfg.cancel_misaligns = true;
    assert_int_equal(sim_bus_plug(bus, "2-1", &cfg, 0), CMBOOT_OK);
    script_drop(s);
    cmboot_discovery disc;
    sim_bus_discovery(bus, &disc);
    cmboot_device_event ev;
    next_ev(&disc, &ev, CMBOOT_DEVICE_ADDED, "2-1", CMBOOT_STAGE_SECOND);
    cmboot_transport t;
    assert_int_equal(disc.ops->open(disc.self, &ev.dev, &t), CMBOOT_OK);
    uint8_t req[260];
    size_t n = 0;
    assert_int_equal(t.ops->control_in(t.self, 260, 0, req, 260, &n, 50), CMBOOT_ERR_TIMEOUT);
    assert_int_equal(t.ops->control_in(t.self, 260, 0, req, 260, &n, T_CTL), CMBOOT_OK);
    assert_int_equal(n, 260);
    assert_memory_equal(req, "config.txt", 11);
    /* reading again instead of answering: the firmware stays silent */
    assert_int_equal(t.ops->control_in(t.self, 260, 0, req, 260, &n, 50), CMBOOT_ERR_TIMEOUT);
    assert_int_equal(t.ops->control_out(t.self, 0, 0, T_CTL), CMBOOT_OK);
    assert_int_equal(t.ops->control_in(t.self, 260, 0, req, 260, &n, T_CTL), CMBOOT_OK);
    assert_int_equal(req[0], 2); /* Done */
    t.ops->close(t.self);
    assert_int_equal(sim_bus_wait_stage(bus, "2-1", CMBOOT_STAGE_MASS_STORAGE, cmboot_now_ms() + 2000), CMBOOT_OK);
    sim_result r;
    sim_bus_result(bus, "2-1", &r);
    assert_int_equal(r.misaligned, 1);
    assert_int_equal(r.failures, 0);
    assert_true(r.script_complete);
    disc.ops->destroy(disc.self);
    sim_bus_free(bus);
}

/* After Done the fastboot gadget: another vendor, no rpiboot stage; it opens and speaks fastboot. */
static void bus_fastboot_after_done(void **state)
{
    (void)state;
    sim_bus *bus;
    sim_bus_new(&bus);
    sim_script *s = script_from("done\n");
    sim_config cfg;
    sim_config_default(&cfg, CMBOOT_SOC_BCM2712);
    snprintf(cfg.serial, sizeof cfg.serial, "c5c5b2da");
    cfg.start_stage = CMBOOT_STAGE_SECOND;
    cfg.script = s;
    cfg.after_done = SIM_AFTER_FASTBOOT;
    assert_int_equal(sim_bus_plug(bus, "3-2", &cfg, 0), CMBOOT_OK);
    script_drop(s);
    cmboot_discovery disc;
    sim_bus_discovery(bus, &disc);
    cmboot_device_event ev;
    next_ev(&disc, &ev, CMBOOT_DEVICE_ADDED, "3-2", CMBOOT_STAGE_SECOND);
    assert_string_equal(ev.dev.serial, "c5c5b2da");
    cmboot_transport t;
    assert_int_equal(disc.ops->open(disc.self, &ev.dev, &t), CMBOOT_OK);
    unsigned served;
    assert_int_equal(host_fs(&t, NULL, 0, &served), CMBOOT_OK);
    t.ops->close(t.self);
    next_ev(&disc, &ev, CMBOOT_DEVICE_REMOVED, "3-2", 0);
    next_ev(&disc, &ev, CMBOOT_DEVICE_ADDED, "3-2", CMBOOT_STAGE_FASTBOOT);
    assert_int_equal(ev.dev.vid, SIM_VID_FASTBOOT);
    assert_int_equal(ev.dev.pid, SIM_PID_FASTBOOT);
    assert_string_equal(ev.dev.serial, "c5c5b2da");
    assert_null(ev.dev.soc);
    /* the gadget opens: a fastboot command on bulk OUT 0x01, its reply on bulk IN 0x81 */
    assert_int_equal(disc.ops->open(disc.self, &ev.dev, &t), CMBOOT_OK);
    assert_non_null(t.ops->bulk_in);
    size_t got;
    char rbuf[256];
    assert_int_equal(t.ops->bulk_in(t.self, rbuf, sizeof rbuf, &got, 10), CMBOOT_ERR_TIMEOUT); /* nothing to say */
    assert_int_equal(t.ops->bulk_out(t.self, "getvar:serial", 13, &got, 1000), CMBOOT_OK);
    assert_int_equal(t.ops->bulk_in(t.self, rbuf, sizeof rbuf, &got, 1000), CMBOOT_OK);
    assert_int_equal(got, 12);
    assert_memory_equal(rbuf, "OKAYc5c5b2da", 12);
    t.ops->close(t.self);
    assert_int_equal(sim_bus_wait_stage(bus, "3-2", SIM_STAGE_FASTBOOT, cmboot_now_ms() + 100), CMBOOT_OK);
    disc.ops->destroy(disc.self);
    sim_bus_free(bus);
}

static const struct CMUnitTest tests[] = {
    cmocka_unit_test(bus_full_boot_bcm2711),
    cmocka_unit_test(bus_plug_later_by_time),
    cmocka_unit_test(bus_plug_from_other_thread),
    cmocka_unit_test(bus_vanish_gives_no_device),
    cmocka_unit_test(bus_unplug),
    cmocka_unit_test(bus_timeout_and_cancel),
    cmocka_unit_test(bus_delay_fault_answers_late),
    cmocka_unit_test(bus_large_bulk_pieces),
    cmocka_unit_test(bus_two_interface_rom),
    cmocka_unit_test(bus_discovery_wakeup),
    cmocka_unit_test(bus_many_boards_in_parallel),
    cmocka_unit_test(bus_late_config_two_interfaces),
    cmocka_unit_test(bus_cancelled_read_misaligns),
    cmocka_unit_test(bus_fastboot_after_done),
};

CMBOOT_TEST_MAIN(tests)
