/* Sessions: a manager thread follows each board by port path; a worker thread per stage does the I/O. */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cmboot/error.h"
#include "cmboot/files.h"
#include "cmboot/metadata.h"
#include "core/abi.h"
#include "core/ctx.h"
#include "protocol/abi.h"
#include "session/run.h"

/* Sizes in release 0.2, the first with struct_size (docs/abi.md). */
#define BOOT_CONFIG_MIN CMB_SIZE_THROUGH(cmboot_boot_config, limits)
#define DISCOVERY_OPS_MIN CMB_SIZE_THROUGH(cmboot_discovery_ops, name)

#define MAX_ROM_ATTEMPTS 3

typedef enum board_state {
    BOARD_WAITING, /* for its next stage to appear, until deadline */
    BOARD_WORKING, /* a worker runs a stage */
    BOARD_FINISHED
} board_state;

typedef struct board {
    struct cmb_run_state *run;
    board_state state;
    cmboot_device_info dev; /* device of the current / last stage */
    cmboot_board_result res;
    cmboot_metadata *md;
    int64_t deadline;
    bool has_deadline; /* waiting for a stage that must come (after the first one ran) */
    int64_t stage_started;
    int pending_error; /* why the last stage ended early, reported if nothing follows */
    bool have_next;    /* the next stage appeared while a worker still ran the previous one */
    cmboot_device_info next;
    int rom_attempts;     /* ROM stages since the last completed file server */
    bool fileserver_done; /* a file server ran to its end (Done, or the device left): a ROM now is a new boot */
    char stage_serial[CMBOOT_SERIAL_MAX]; /* second stage's own serial string: names the metadata file */
    pthread_t thread;
    bool thread_live; /* thread was created and not yet joined */
    long report_slot; /* index in the report once finished, -1 before */
    bool worker_done; /* set by the worker under run->lock */
    int worker_rc;
    bool have_transport;
    cmboot_transport transport;
    bool adopted; /* found in its mass-storage stage, not booted by this run */
} board;

/* A mass-storage device already taken (adopted, or reached by a board booted here): not taken again while it
 * stays plugged in. */
typedef struct taken_device {
    char port_path[CMBOOT_PORT_PATH_MAX];
    uint8_t busnum, devnum;
} taken_device;

struct cmb_run_state {
    cmboot_ctx *ctx;
    const cmboot_discovery *disc;
    const cmboot_boot_config *cfg; /* &cfg_full */
    cmboot_boot_config cfg_full;   /* the caller's, read up to its struct_size; limits points to limits */
    cmboot_stage_limits limits;
    cmboot_files *files;
    cmboot_metadata_dir *mddir; /* -j DIR, opened once: two boards with one serial keep both files */
    pthread_mutex_t lock;
    board **boards; /* grown under lock: cmboot_ctx_cancel reads it from other threads */
    unsigned nboards, board_cap;
    int first_error; /* of the first board that failed, kept when loop mode forgets the board */
    const cmb_run_observer *obs;
    taken_device *taken; /* adopt_mass_storage: devices taken, until they leave (manager thread only) */
    unsigned ntaken, taken_cap;
};

static void emit(const board *b, cmboot_event_type type, const char *name, const char *value, uint64_t done,
                 uint64_t total, int error)
{
    cmboot_ctx *ctx = b->run->ctx;
    if (!ctx->event)
        return;
    cmboot_event ev = {
        .type = type,
        .device_id = b->res.port_path,
        .serial = b->res.serial,
        .soc = b->res.soc ? b->res.soc->name : "",
        .stage = cmboot_stage_name(b->dev.stage),
        .name = name ? name : "",
        .value = value ? value : "",
        .json = "",
        .done = done,
        .total = total,
        .error = error,
        .elapsed_ms = (uint64_t)(cmboot_now_ms() - b->stage_started),
    };
    ctx->event(ctx->user, &ev);
}

/* ---- stage hooks: what the protocol code reports, turned into events tagged with the board ---- */

static void hook_file(void *user, const char *name, int found, uint64_t size, const char *source, int command)
{
    board *b = user;
    cmb_logf(&b->run->ctx->log, b->res.port_path, CMBOOT_LOG_INFO, "%s %s: %s (%llu bytes)",
             command == CMBOOT_FS_GET_FILE_SIZE ? "size of"
             : command == CMBOOT_FS_READ_FILE   ? "read"
                                                : "request",
             *name ? name : "(refused name)", found ? source : "absent", (unsigned long long)size);
    if (command == CMBOOT_FS_READ_FILE || !found)
        emit(b, CMBOOT_EV_FILE, name, found ? source : "", 0, size, found ? CMBOOT_OK : CMBOOT_ERR_NOT_FOUND);
}

static void hook_progress(void *user, const char *name, uint64_t done, uint64_t total)
{
    emit(user, CMBOOT_EV_PROGRESS, name, NULL, done, total, CMBOOT_OK);
}

static void hook_metadata(void *user, const char *key, const char *value)
{
    board *b = user;
    int rc = cmboot_metadata_set(b->md, key, value);
    if (rc < 0)
        cmb_logf(&b->run->ctx->log, b->res.port_path, CMBOOT_LOG_WARN, "metadata %s dropped: %s", key,
                 cmboot_strerror(rc));
    emit(b, CMBOOT_EV_METADATA, key, value, 0, 0, rc);
}

static void hook_log(void *user, int level, const char *msg)
{
    board *b = user;
    cmb_logf(&b->run->ctx->log, b->res.port_path, (cmboot_log_level)level, "%s", msg);
}

static int provide_file(void *user, const char *name, cmboot_stream *out)
{
    board *b = user;
    return cmboot_files_open(b->run->files, b->res.soc, b->res.port_path, name, out);
}

/* ---- stages ---- */

static int run_rom(board *b, const cmboot_transport *t, const cmboot_stage_hooks *hooks)
{
    const cmboot_boot_config *cfg = b->run->cfg;
    const cmboot_soc_info *soc = b->res.soc;
    cmboot_stream s = {0};
    /* bootcode*.bin never comes from an overlay, so the port path only names the board in the lookup's logs. */
    int rc = cmboot_files_open(b->run->files, soc, b->res.port_path, soc->second_stage, &s);
    if (rc < 0) {
        char why[1024];
        if (cmboot_files_probe(b->run->files, soc, why, sizeof why) == CMBOOT_OK)
            snprintf(why, sizeof why, "%s", cmboot_strerror(rc));
        cmb_logf(&b->run->ctx->log, b->res.port_path, CMBOOT_LOG_ERROR, "cannot serve %s: %s", soc->second_stage, why);
        return rc;
    }
    uint8_t sig[CMBOOT_SIGNATURE_SIZE];
    const uint8_t *sigp = NULL;
    if (cfg->signed_boot && soc->signed_boot_in_rom) {
        rc = cmboot_files_signature(b->run->files, soc, sig);
        if (rc < 0) {
            cmb_logf(&b->run->ctx->log, b->res.port_path, CMBOOT_LOG_ERROR,
                     "signed boot needs bootcode.sig (20 bytes) and bootsig.bin among the boot files: %s",
                     cmboot_strerror(rc));
            cmboot_stream_close(&s);
            return rc;
        }
        sigp = sig;
    }
    emit(b, CMBOOT_EV_FILE, soc->second_stage, s.source, 0, s.size, CMBOOT_OK);
    int32_t status = -1;
    /* Imager notes that a BCM2711/2712 ROM may reset before its status read answers: then the second stage
     * appearing is the answer. */
    cmboot_stage_limits limits = *cfg->limits;
    limits.rom_status_optional = limits.rom_status_optional || soc->rom_status_optional;
    rc = cmboot_rom_stage_run(t, &s, sigp, &limits, hooks, &status);
    cmboot_stream_close(&s);
    return rc;
}

static void save_metadata(board *b)
{
    const cmboot_boot_config *cfg = b->run->cfg;
    if (cmboot_metadata_count(b->md) == 0)
        return;
    char *json = NULL;
    if (cmboot_metadata_to_json(b->md, &json) < 0)
        return;
    /* Named like the reference: after the second stage's serial string (the board serial on real boards), which
     * is what provisioning scripts look for after `rpiboot -i SERIAL -j DIR`. */
    const char *serial = b->stage_serial[0] ? b->stage_serial : b->res.serial[0] ? b->res.serial : b->res.port_path;
    char path[4096] = "-";
    if (b->run->mddir) {
        unsigned suffix = 0;
        int rc = cmboot_metadata_dir_write(b->run->mddir, b->md, serial, path, sizeof path, &suffix);
        if (rc < 0) {
            cmb_logf(&b->run->ctx->log, b->res.port_path, CMBOOT_LOG_ERROR, "cannot write metadata to %s: %s",
                     cfg->metadata_dir, cmboot_strerror(rc));
            free(json);
            return;
        }
        if (suffix > 0)
            cmb_logf(&b->run->ctx->log, b->res.port_path, CMBOOT_LOG_WARN,
                     "another board in this run already wrote %s.json: this board's metadata is in %s", serial, path);
    }
    if (cfg->metadata_dir || cfg->metadata_stdout) {
        cmboot_ctx *ctx = b->run->ctx;
        if (ctx->event) {
            cmboot_event ev = {.type = CMBOOT_EV_METADATA_SAVED,
                               .device_id = b->res.port_path,
                               .serial = b->res.serial,
                               .soc = b->res.soc ? b->res.soc->name : "",
                               .stage = cmboot_stage_name(b->dev.stage),
                               .name = "",
                               .value = path,
                               .json = json};
            ctx->event(ctx->user, &ev);
        }
    }
    free(json);
}

static void *worker_main(void *arg)
{
    board *b = arg;
    struct cmb_run_state *run = b->run;
    cmboot_stage_hooks hooks = {sizeof hooks, hook_file, hook_progress, hook_metadata, hook_log, b};
    cmboot_transport t;
    int rc = run->disc->ops->open(run->disc->self, &b->dev, &t);
    if (rc == CMBOOT_OK) {
        pthread_mutex_lock(&run->lock);
        b->transport = t;
        b->have_transport = true;
        bool cancelled = atomic_load(&run->ctx->cancelled);
        pthread_mutex_unlock(&run->lock);
        if (cancelled)
            t.ops->cancel(t.self);
        if (b->dev.stage == CMBOOT_STAGE_ROM) {
            rc = run_rom(b, &t, &hooks);
        } else {
            cmboot_file_provider files = {sizeof files, provide_file, b};
            unsigned served = 0;
            rc = cmboot_fileserver_run(&t, &files, run->cfg->limits, &hooks, &served);
            save_metadata(b);
        }
        pthread_mutex_lock(&run->lock);
        b->have_transport = false;
        pthread_mutex_unlock(&run->lock);
        t.ops->close(t.self);
    } else {
        cmb_logf(&run->ctx->log, b->res.port_path, CMBOOT_LOG_ERROR, "cannot open %s stage: %s",
                 cmboot_stage_name(b->dev.stage), cmboot_strerror(rc));
    }
    pthread_mutex_lock(&run->lock);
    b->worker_rc = rc;
    b->worker_done = true;
    pthread_mutex_unlock(&run->lock);
    run->disc->ops->wakeup(run->disc->self); /* let the manager see the result now */
    return NULL;
}

/* ---- manager ---- */

static bool selection_matches(const cmboot_boot_config *cfg, const cmboot_device_info *dev)
{
    if (cfg->port_path && *cfg->port_path && strcmp(cfg->port_path, dev->port_path) != 0)
        return false;
    if (cfg->port_number >= 0 && cmboot_port_path_last_port(dev->port_path) != cfg->port_number)
        return false;
    if (cfg->serial && *cfg->serial && strcmp(cfg->serial, dev->serial) != 0)
        return false;
    return true;
}

bool cmboot_selection_matches(const cmboot_boot_config *cfg, const cmboot_device_info *dev)
{
    cmboot_boot_config c;
    cmboot_boot_config_default(&c);
    return dev && cmb_struct_load(&c, sizeof c, cfg, BOOT_CONFIG_MIN) == CMBOOT_OK && selection_matches(&c, dev);
}

int cmboot_boot_config_init(cmboot_boot_config *cfg, size_t struct_size)
{
    const cmboot_boot_config d = {.struct_size = sizeof d,
                                  .port_number = -1,
                                  .metadata_stdout = true,
                                  .stage_timeout_ms = 15000,
                                  .next_stage_timeout_ms = 60000};
    return cmb_struct_init(cfg, struct_size, &d, sizeof d, BOOT_CONFIG_MIN);
}

int cmb_boot_config_load(const cmboot_boot_config *in, cmboot_boot_config *out, cmboot_stage_limits *limits)
{
    cmboot_boot_config_default(out);
    cmboot_stage_limits_default(limits);
    int rc = cmb_struct_load(out, sizeof *out, in, BOOT_CONFIG_MIN);
    if (rc == CMBOOT_OK && out->limits)
        rc = cmb_stage_limits_load(out->limits, limits);
    out->limits = limits;
    return rc;
}

static board *find_board(struct cmb_run_state *run, const char *port_path)
{
    for (unsigned i = 0; i < run->nboards; i++)
        if (strcmp(run->boards[i]->res.port_path, port_path) == 0)
            return run->boards[i];
    return NULL;
}

struct cmboot_run_report {
    cmboot_board_result *results;
    size_t boards, cap;
    size_t failed;
};

int cmboot_run_report_new(cmboot_run_report **out)
{
    if (!out)
        return CMBOOT_ERR_INVALID_ARG;
    *out = calloc(1, sizeof **out);
    return *out ? CMBOOT_OK : CMBOOT_ERR_NO_MEMORY;
}

void cmboot_run_report_free(cmboot_run_report *report)
{
    if (!report)
        return;
    free(report->results);
    free(report);
}

size_t cmboot_run_report_boards(const cmboot_run_report *report)
{
    return report ? report->boards : 0;
}

size_t cmboot_run_report_failed(const cmboot_run_report *report)
{
    return report ? report->failed : 0;
}

const cmboot_board_result *cmboot_run_report_board(const cmboot_run_report *report, size_t index)
{
    return report && index < report->boards ? &report->results[index] : NULL;
}

int64_t cmboot_board_result_stage_ms(const cmboot_board_result *res, cmboot_stage stage)
{
    if (!res)
        return 0;
    switch (stage) {
    case CMBOOT_STAGE_ROM: return res->rom_ms;
    case CMBOOT_STAGE_SECOND: return res->second_ms;
    default: return 0;
    }
}

/* A slot for a board's result; false when out of memory (the board is then missing from the report). */
static bool report_add(cmboot_run_report *report)
{
    if (report->boards == report->cap) {
        size_t cap = report->cap ? report->cap * 2 : 16;
        cmboot_board_result *r = realloc(report->results, cap * sizeof *r);
        if (!r)
            return false;
        report->results = r;
        report->cap = cap;
    }
    report->boards++;
    return true;
}

static void finish_board(board *b, int rc, cmboot_run_report *report)
{
    b->state = BOARD_FINISHED;
    b->res.error = rc;
    b->res.finished_ms = cmboot_now_ms();
    if (rc && !b->run->first_error)
        b->run->first_error = rc;
    cmb_logf(&b->run->ctx->log, b->res.port_path, rc ? CMBOOT_LOG_ERROR : CMBOOT_LOG_INFO, "board %s: %s",
             b->res.serial[0] ? b->res.serial : b->res.port_path, rc ? cmboot_strerror(rc) : "done");
    emit(b, CMBOOT_EV_BOARD_DONE, NULL, rc ? cmboot_strerror(rc) : "ok", 0, 0, rc);
    if (b->run->obs && b->run->obs->board_device)
        b->run->obs->board_device(b->run->obs->user, &b->dev);
    if (b->run->obs && b->run->obs->board_finished)
        b->run->obs->board_finished(b->run->obs->user, &b->res, b->md, b->adopted);
    if (report) {
        if (b->report_slot < 0 && report_add(report))
            b->report_slot = (long)report->boards - 1;
        else if (b->report_slot < 0)
            cmb_logf(&b->run->ctx->log, b->res.port_path, CMBOOT_LOG_ERROR,
                     "out of memory: board left out of the report");
        if (b->report_slot >= 0) { /* also when it finished again after coming back (see device_added) */
            report->results[b->report_slot] = b->res;
            if (rc)
                report->failed++;
        }
    }
}

static void start_stage(board *b, const cmboot_device_info *dev)
{
    b->dev = *dev;
    b->res.last_stage = dev->stage;
    /* Only a BCM2711/2712 ROM names the board; a second stage's string 1 is the maker ("Broadcom"). The
     * mass-storage stage fills the serial in for the others. */
    if (dev->serial[0] && dev->stage == CMBOOT_STAGE_ROM && b->res.soc && b->res.soc->serial_is_board_serial)
        snprintf(b->res.serial, sizeof b->res.serial, "%s", dev->serial);
    if (dev->stage == CMBOOT_STAGE_SECOND)
        snprintf(b->stage_serial, sizeof b->stage_serial, "%s", dev->serial);
    b->stage_started = cmboot_now_ms();
    emit(b, CMBOOT_EV_STAGE_START, NULL, NULL, 0, 0, CMBOOT_OK);
    b->worker_done = false;
    b->state = BOARD_WORKING;
    b->thread_live = pthread_create(&b->thread, NULL, worker_main, b) == 0;
    if (!b->thread_live) {
        b->worker_done = true;
        b->worker_rc = CMBOOT_ERR_NO_MEMORY;
    }
}

static void join_worker(board *b)
{
    if (b->thread_live)
        pthread_join(b->thread, NULL);
    b->thread_live = false;
}

static void wait_next(board *b, int pending_error, unsigned timeout_ms)
{
    b->state = BOARD_WAITING;
    b->pending_error = pending_error;
    b->deadline = cmboot_now_ms() + timeout_ms;
    b->has_deadline = true;
}

/* A worker finished: decide what the board waits for next. */
static void stage_finished(board *b, cmboot_run_report *report)
{
    join_worker(b);
    int rc = b->worker_rc;
    cmboot_stage st = b->dev.stage;
    int64_t spent = cmboot_now_ms() - b->stage_started;
    if (st == CMBOOT_STAGE_ROM)
        b->res.rom_ms += spent;
    else if (st == CMBOOT_STAGE_SECOND)
        b->res.second_ms += spent;
    emit(b, CMBOOT_EV_STAGE_DONE, NULL, rc ? cmboot_strerror(rc) : "ok", 0, 0, rc);
    if (rc == CMBOOT_ERR_CANCELLED) {
        finish_board(b, rc, report);
        return;
    }
    const cmboot_boot_config *cfg = b->run->cfg;
    if (st == CMBOOT_STAGE_ROM) {
        if (rc == CMBOOT_OK || rc == CMBOOT_ERR_NO_DEVICE) {
            wait_next(b, rc == CMBOOT_OK ? CMBOOT_ERR_TIMEOUT : rc, cfg->stage_timeout_ms);
        } else if (rc == CMBOOT_ERR_ROM_REJECTED) {
            /* The reference prints the status and carries on; if the second stage still comes, the board is
             * fine. Only when it does not is the board failed as rejected. */
            cmb_logf(&b->run->ctx->log, b->res.port_path, CMBOOT_LOG_WARN,
                     "waiting for the second stage anyway (the reference carries on after a non-zero status)");
            wait_next(b, rc, cfg->stage_timeout_ms);
        } else {
            finish_board(b, rc, report);
        }
        return;
    }
    /* File server: Done ends the boot unless we follow the board to its next stage. A device that left without
     * Done has finished too, as the reference and Imager count it (payloads that reboot or power off do so);
     * a board we follow must still show its next stage. */
    bool left = rc == CMBOOT_ERR_NO_DEVICE || rc == CMBOOT_ERR_IO;
    if (rc == CMBOOT_OK || left)
        b->fileserver_done = true;
    if (left && !cfg->wait_mass_storage)
        cmb_logf(&b->run->ctx->log, b->res.port_path, CMBOOT_LOG_INFO,
                 "second stage left without saying Done: finished, as the reference counts it");
    if ((rc == CMBOOT_OK || left) && !cfg->wait_mass_storage)
        finish_board(b, CMBOOT_OK, report);
    else if (rc == CMBOOT_OK)
        wait_next(b, CMBOOT_ERR_TIMEOUT, cfg->next_stage_timeout_ms);
    else if (left)
        wait_next(b, CMBOOT_ERR_NO_DEVICE, cfg->next_stage_timeout_ms);
    else
        finish_board(b, rc, report);
}

/* Loop mode serves boards forever: a finished board is reported, then forgotten, so its port can take the
 * next board and memory stays bounded. */
static void forget_finished(struct cmb_run_state *run)
{
    unsigned kept = 0;
    pthread_mutex_lock(&run->lock); /* cmboot_ctx_cancel walks the table */
    for (unsigned i = 0; i < run->nboards; i++) {
        board *b = run->boards[i];
        if (b->state == BOARD_FINISHED) {
            cmboot_metadata_free(b->md);
            free(b);
        } else {
            run->boards[kept++] = b;
        }
    }
    run->nboards = kept;
    pthread_mutex_unlock(&run->lock);
}

static bool is_payload_stage(cmboot_stage st)
{
    return st == CMBOOT_STAGE_MASS_STORAGE || st == CMBOOT_STAGE_FASTBOOT;
}

static bool is_taken(const struct cmb_run_state *run, const cmboot_device_info *dev)
{
    for (unsigned i = 0; i < run->ntaken; i++)
        if (run->taken[i].busnum == dev->busnum && run->taken[i].devnum == dev->devnum &&
            strcmp(run->taken[i].port_path, dev->port_path) == 0)
            return true;
    return false;
}

/* Remembers a mass-storage device as taken; false when out of memory (then it is not adopted). */
static bool take_device(struct cmb_run_state *run, const cmboot_device_info *dev)
{
    if (is_taken(run, dev))
        return true;
    if (run->ntaken == run->taken_cap) {
        unsigned cap = run->taken_cap ? run->taken_cap * 2 : 16;
        taken_device *t = realloc(run->taken, cap * sizeof *t);
        if (!t)
            return false;
        run->taken = t;
        run->taken_cap = cap;
    }
    taken_device *t = &run->taken[run->ntaken++];
    snprintf(t->port_path, sizeof t->port_path, "%s", dev->port_path);
    t->busnum = dev->busnum;
    t->devnum = dev->devnum;
    return true;
}

/* The device left: a new one on that port is a new board. */
static void forget_taken(struct cmb_run_state *run, const cmboot_device_info *dev)
{
    for (unsigned i = 0; i < run->ntaken; i++)
        if (run->taken[i].busnum == dev->busnum && run->taken[i].devnum == dev->devnum &&
            strcmp(run->taken[i].port_path, dev->port_path) == 0) {
            run->taken[i] = run->taken[--run->ntaken];
            return;
        }
}

/* The board's payload is up (mass storage or fastboot gadget): following it ends here. */
static void payload_stage_seen(board *b, const cmboot_device_info *dev, cmboot_run_report *report)
{
    if (b->run->cfg->adopt_mass_storage && dev->stage == CMBOOT_STAGE_MASS_STORAGE && !take_device(b->run, dev))
        cmb_logf(&b->run->ctx->log, b->res.port_path, CMBOOT_LOG_WARN,
                 "out of memory: its disk may be taken again as a new board");
    b->dev = *dev;
    b->stage_started = cmboot_now_ms();
    b->res.last_stage = dev->stage;
    if (!b->res.serial[0] && dev->serial[0])
        snprintf(b->res.serial, sizeof b->res.serial, "%s", dev->serial);
    if (dev->stage == CMBOOT_STAGE_FASTBOOT)
        cmb_logf(&b->run->ctx->log, b->res.port_path, CMBOOT_LOG_INFO, "came up as the fastboot gadget (%04x:%04x)",
                 dev->vid, dev->pid);
    emit(b, CMBOOT_EV_STAGE_START, NULL, NULL, 0, 0, CMBOOT_OK);
    finish_board(b, CMBOOT_OK, report);
}

/* Room for one more board in the run's table (no cap: a run serves as many boards as come at once). */
static bool table_room(struct cmb_run_state *run)
{
    if (run->nboards < run->board_cap)
        return true;
    unsigned cap = run->board_cap ? run->board_cap * 2 : 16;
    pthread_mutex_lock(&run->lock);
    board **t = realloc(run->boards, cap * sizeof *t);
    if (t) {
        run->boards = t;
        run->board_cap = cap;
    }
    pthread_mutex_unlock(&run->lock);
    return t != NULL;
}

static void device_added(struct cmb_run_state *run, const cmboot_device_info *dev, cmboot_run_report *report,
                         unsigned *started)
{
    const cmboot_boot_config *cfg = run->cfg;
    if (dev->stage == CMBOOT_STAGE_UNKNOWN)
        return;
    board *b = find_board(run, dev->port_path);
    bool adopt = false;
    if (!b && cfg->adopt_mass_storage && dev->stage == CMBOOT_STAGE_MASS_STORAGE && !is_taken(run, dev) &&
        selection_matches(cfg, dev))
        adopt = true; /* in its mass-storage stage without us: taken as it is */
    if (!b) {
        /* Payload stages (and the generic fastboot ID above all) are only followed on a board's own port. */
        if ((is_payload_stage(dev->stage) && !adopt) || !selection_matches(cfg, dev))
            return;
        unsigned limit = cfg->max_boards ? cfg->max_boards : (cfg->loop ? 0 : 1);
        if (limit && *started >= limit)
            return;
        b = calloc(1, sizeof *b);
        if (!b || cmboot_metadata_new(&b->md) < 0 || !table_room(run)) {
            cmb_logf(&run->ctx->log, dev->port_path, CMBOOT_LOG_ERROR, "out of memory: board not served");
            if (b)
                cmboot_metadata_free(b->md);
            free(b);
            return;
        }
        b->run = run;
        b->report_slot = -1;
        snprintf(b->res.port_path, sizeof b->res.port_path, "%s", dev->port_path);
        b->res.soc = dev->soc;
        b->res.started_ms = cmboot_now_ms();
        b->stage_started = b->res.started_ms; /* events carry time since their stage began */
        b->state = BOARD_WAITING;
        pthread_mutex_lock(&run->lock);
        run->boards[run->nboards++] = b;
        pthread_mutex_unlock(&run->lock);
        (*started)++;
        b->dev = *dev;
        b->adopted = adopt;
        emit(b, CMBOOT_EV_DEVICE_SEEN, NULL, NULL, 0, 0, CMBOOT_OK);
        if (adopt)
            cmb_logf(&run->ctx->log, dev->port_path, CMBOOT_LOG_INFO,
                     "already in its mass-storage stage (%04x:%04x): taken as it is", dev->vid, dev->pid);
    } else if (!is_payload_stage(dev->stage) && !selection_matches(cfg, dev)) {
        /* Like the reference, -i compares the string at each stage's own serial index, at every stage. */
        cmb_logf(&run->ctx->log, dev->port_path, CMBOOT_LOG_INFO,
                 "%s stage does not match the selection (serial \"%s\"): not served", cmboot_stage_name(dev->stage),
                 dev->serial);
        return;
    }
    if (b->state == BOARD_WORKING) {
        /* The board re-enumerated before its worker was reaped: keep the newcomer for when it is. */
        if (dev->devnum != b->dev.devnum || dev->stage != b->dev.stage) {
            b->next = *dev;
            b->have_next = true;
        }
        return;
    }
    bool newcomer = dev->devnum != b->dev.devnum || dev->busnum != b->dev.busnum;
    if (b->state == BOARD_FINISHED && b->res.error == CMBOOT_OK && newcomer &&
        (dev->stage == CMBOOT_STAGE_SECOND || (dev->stage == CMBOOT_STAGE_ROM && b->fileserver_done))) {
        /* The board came back after its Done and wants serving again: left alone it would hang. */
        cmb_logf(&run->ctx->log, b->res.port_path, CMBOOT_LOG_INFO, "%s again after the file server: serving it",
                 cmboot_stage_name(dev->stage));
        b->state = BOARD_WAITING;
    }
    if (b->state != BOARD_WAITING)
        return;
    if (dev->soc)
        b->res.soc = dev->soc;
    if (is_payload_stage(dev->stage)) {
        payload_stage_seen(b, dev, report);
        return;
    }
    if (!b->res.soc)
        return;
    if (dev->stage == CMBOOT_STAGE_ROM && b->fileserver_done) {
        /* Recovery payloads with an rpiboot boot order reboot into the ROM once their work is done: that is a
         * new boot of the board, not a ROM refusing its second stage. */
        cmb_logf(&run->ctx->log, b->res.port_path, CMBOOT_LOG_INFO,
                 "back in its boot ROM after a completed file server: a new boot");
        b->fileserver_done = false;
        b->rom_attempts = 0;
    }
    if (dev->stage == CMBOOT_STAGE_ROM && ++b->rom_attempts > MAX_ROM_ATTEMPTS) {
        /* Rejected only when the ROM said so; otherwise the second stage just never ran. */
        finish_board(b, b->pending_error == CMBOOT_ERR_ROM_REJECTED ? CMBOOT_ERR_ROM_REJECTED : CMBOOT_ERR_ROM_LOOP,
                     report);
        return;
    }
    start_stage(b, dev);
}

void cmboot_ctx_cancel(cmboot_ctx *ctx)
{
    if (!ctx)
        return;
    atomic_store(&ctx->cancelled, true);
    pthread_mutex_lock(&ctx->lock);
    struct cmb_run_state *run = ctx->run;
    if (run) {
        pthread_mutex_lock(&run->lock);
        for (unsigned i = 0; i < run->nboards; i++)
            if (run->boards[i]->have_transport)
                run->boards[i]->transport.ops->cancel(run->boards[i]->transport.self);
        pthread_mutex_unlock(&run->lock);
        run->disc->ops->wakeup(run->disc->self);
    }
    for (size_t i = 0; i < ctx->nflash; i++)
        cmboot_flash_cancel(ctx->flash[i]);
    pthread_mutex_unlock(&ctx->lock);
}

/* A device that left before its board could take it up is no longer worth waiting for. */
static void device_removed(struct cmb_run_state *run, const cmboot_device_info *dev)
{
    forget_taken(run, dev);
    board *b = find_board(run, dev->port_path);
    if (b && b->have_next && b->next.devnum == dev->devnum && b->next.busnum == dev->busnum)
        b->have_next = false;
}

static bool all_idle(struct cmb_run_state *run)
{
    for (unsigned i = 0; i < run->nboards; i++)
        if (run->boards[i]->state != BOARD_FINISHED)
            return false;
    return true;
}

/* Before any board arrives: say which SoCs have no boot files, where we looked and how to get them, instead of
 * failing on the first board. Without any at all there is nothing to wait for. */
static int check_boot_files(cmboot_ctx *ctx, const cmboot_boot_config *cfg, cmboot_files *files)
{
    unsigned usable = 0;
    for (int id = 0; id < CMBOOT_SOC_COUNT; id++) {
        const cmboot_soc_info *soc = cmboot_soc_by_id((cmboot_soc_id)id);
        char msg[1024];
        if (cmboot_files_probe(files, soc, msg, sizeof msg) == CMBOOT_OK) {
            usable++;
            cmb_logf(&ctx->log, "", CMBOOT_LOG_DEBUG, "%s", msg);
        } else {
            /* With -d the directory is often meant for one SoC (recovery/, say): only -v needs the others. */
            cmb_logf(&ctx->log, "", cfg->boot_dir ? CMBOOT_LOG_INFO : CMBOOT_LOG_WARN, "%s", msg);
        }
    }
    if (usable)
        return CMBOOT_OK;
    cmb_logf(&ctx->log, "", CMBOOT_LOG_ERROR, "no boot files for any board: nothing could be booted");
    return CMBOOT_ERR_NOT_FOUND;
}

int cmboot_run(cmboot_ctx *ctx, const cmboot_discovery *disc, const cmboot_boot_config *cfg, cmboot_run_report *report)
{
    return cmb_run_observed(ctx, disc, cfg, report, NULL);
}

int cmb_run_observed(cmboot_ctx *ctx, const cmboot_discovery *disc, const cmboot_boot_config *cfg,
                     cmboot_run_report *report, const cmb_run_observer *obs)
{
    if (!ctx || !disc || !disc->ops || !cfg || disc->ops->struct_size < DISCOVERY_OPS_MIN)
        return CMBOOT_ERR_INVALID_ARG;
    struct cmb_run_state run = {.ctx = ctx, .disc = disc, .obs = obs};
    int rc = cmb_boot_config_load(cfg, &run.cfg_full, &run.limits);
    if (rc != CMBOOT_OK)
        return rc;
    cfg = run.cfg = &run.cfg_full;
    if (report)
        report->boards = report->failed = 0; /* emptied first, also for a run that fails at once; memory reused */
    cmboot_files_config fcfg = {.struct_size = sizeof fcfg,
                                .boot_dir = cfg->boot_dir,
                                .overlay = cfg->overlay,
                                .strict_confine = cfg->strict_confine,
                                .log = ctx->log.fn,
                                .log_user = ctx->log.user,
                                .log_level = ctx->log.level};
    rc = cmboot_files_new(&fcfg, &run.files);
    if (rc < 0)
        return rc;
    rc = check_boot_files(ctx, cfg, run.files);
    if (rc == CMBOOT_OK && cfg->metadata_dir) {
        rc = cmboot_metadata_dir_open(cfg->metadata_dir, &run.mddir);
        if (rc < 0)
            cmb_logf(&ctx->log, "", CMBOOT_LOG_ERROR, "cannot use metadata directory %s: %s", cfg->metadata_dir,
                     cmboot_strerror(rc));
    }
    if (rc < 0) {
        cmboot_files_free(run.files);
        return rc;
    }
    pthread_mutex_init(&run.lock, NULL);
    pthread_mutex_lock(&ctx->lock);
    ctx->run = &run;
    pthread_mutex_unlock(&ctx->lock);

    unsigned started = 0;
    unsigned limit = cfg->max_boards ? cfg->max_boards : (cfg->loop ? 0 : 1);
    int64_t first_deadline = cfg->wait_first_ms > 0 ? cmboot_now_ms() + cfg->wait_first_ms : INT64_MAX;
    int result = CMBOOT_OK;
    cmb_logf(&ctx->log, "", CMBOOT_LOG_INFO, "waiting for boards (%s discovery)",
             disc->ops->name ? disc->ops->name : "?");
    for (;;) {
        /* Reap workers that finished and boards whose next stage never came. */
        int64_t now = cmboot_now_ms();
        int64_t deadline = started == 0 ? first_deadline : INT64_MAX;
        for (unsigned i = 0; i < run.nboards; i++) {
            board *b = run.boards[i];
            pthread_mutex_lock(&run.lock);
            bool done = b->state == BOARD_WORKING && b->worker_done;
            pthread_mutex_unlock(&run.lock);
            if (done) {
                stage_finished(b, report);
                /* Also when the stage finished the board: a second stage that came back after Done is served. */
                if (b->have_next) {
                    b->have_next = false;
                    device_added(&run, &b->next, report, &started);
                }
            }
            if (b->state == BOARD_WAITING && atomic_load(&ctx->cancelled))
                finish_board(b, CMBOOT_ERR_CANCELLED, report);
            if (b->state == BOARD_WAITING && b->has_deadline) {
                if (now >= b->deadline)
                    finish_board(b, b->pending_error, report); /* wait_next always sets why */
                else if (b->deadline < deadline)
                    deadline = b->deadline;
            }
        }
        if (cfg->loop)
            forget_finished(&run);
        if (atomic_load(&ctx->cancelled) && all_idle(&run)) {
            result = CMBOOT_ERR_CANCELLED;
            break;
        }
        if (limit && started >= limit && all_idle(&run))
            break;
        if (started == 0 && now >= first_deadline) {
            result = CMBOOT_ERR_TIMEOUT;
            break;
        }
        cmboot_device_event ev;
        rc = disc->ops->next_event(disc->self, &ev, deadline);
        if (rc == CMBOOT_OK && ev.type == CMBOOT_DEVICE_ADDED && !atomic_load(&ctx->cancelled))
            device_added(&run, &ev.dev, report, &started);
        else if (rc == CMBOOT_OK && ev.type == CMBOOT_DEVICE_REMOVED)
            device_removed(&run, &ev.dev);
        else if (rc < 0 && rc != CMBOOT_ERR_TIMEOUT && rc != CMBOOT_ERR_CANCELLED) {
            cmb_logf(&ctx->log, "", CMBOOT_LOG_ERROR, "device discovery failed: %s", cmboot_strerror(rc));
            result = rc;
            break;
        }
    }
    for (unsigned i = 0; i < run.nboards; i++) {
        board *b = run.boards[i];
        if (b->state == BOARD_WORKING) { /* only after a discovery failure: stop and collect the worker */
            pthread_mutex_lock(&run.lock);
            if (b->have_transport)
                b->transport.ops->cancel(b->transport.self);
            pthread_mutex_unlock(&run.lock);
            join_worker(b);
        }
    }
    pthread_mutex_lock(&ctx->lock);
    ctx->run = NULL;
    pthread_mutex_unlock(&ctx->lock);
    if (result == CMBOOT_OK && run.first_error)
        result = run.first_error;
    for (unsigned i = 0; i < run.nboards; i++) {
        cmboot_metadata_free(run.boards[i]->md);
        free(run.boards[i]);
    }
    free(run.boards);
    free(run.taken);
    pthread_mutex_destroy(&run.lock);
    cmboot_metadata_dir_close(run.mddir);
    cmboot_files_free(run.files);
    return result;
}
