/* Flash line: the session boots every matching board; each board that finishes gets a worker that flashes it. */
#include "flash_internal.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cmboot/error.h"
#include "cmboot/line.h"
#include "core/abi.h"
#include "core/ctx.h"
#include "core/log.h"
#include "session/run.h"

#define DEFAULT_PAIR_TIMEOUT_MS 60000

/* Sizes in the first release with these structs (docs/abi.md). */
#define LINE_CONFIG_MIN CMB_SIZE_THROUGH(cmboot_flash_line_config, user)
#define LINE_SUMMARY_MIN CMB_SIZE_THROUGH(cmboot_flash_line_summary, interrupted)

struct line_run;

typedef struct line_board {
    struct line_run *line;
    cmboot_flash_job *job;
    char target[4096]; /* from target_for; outlives the job */
    pthread_t thread;
    bool done; /* under line->mu: the worker may be joined */
    struct line_board *next;
} line_board;

typedef struct line_run {
    cmboot_ctx *ctx;
    const cmboot_flash_config *flash; /* the caller's: each job reads it up to its struct_size */
    const cmboot_bmap *bmap;          /* loaded once, shared read-only */
    cmboot_flash_line_config cfg;
    pthread_mutex_t mu; /* guards done flags and counts */
    line_board *boards; /* workers not yet joined (manager thread only) */
    cmboot_flash_line_summary sum;
    int first_error;
    const cmboot_discovery *disc;
    bool have_dev; /* the device of the board about to finish (session's thread) */
    cmboot_device_info dev;
} line_run;

int cmboot_flash_line_config_init(cmboot_flash_line_config *cfg, size_t struct_size)
{
    const cmboot_flash_line_config d = {.struct_size = sizeof d, .adopt_mass_storage = true};
    return cmb_struct_init(cfg, struct_size, &d, sizeof d, LINE_CONFIG_MIN);
}

int cmboot_flash_line_summary_init(cmboot_flash_line_summary *sum, size_t struct_size)
{
    const cmboot_flash_line_summary d = {.struct_size = sizeof d};
    return cmb_struct_init(sum, struct_size, &d, sizeof d, LINE_SUMMARY_MIN);
}

static void *line_worker(void *arg)
{
    line_board *lb = arg;
    line_run *L = lb->line;
    const cmboot_board_result *board = cmboot_flash_job_board(lb->job);
    int rc = CMBOOT_OK;
    if (L->cfg.target_for && board && board->error == CMBOOT_OK) {
        rc = L->cfg.target_for(L->cfg.user, board, lb->target, sizeof lb->target);
        if (rc < 0)
            cmb_flash_job_fail(lb->job, CMBOOT_FLASH_STEP_PAIR, rc, "no target for this board");
    }
    if (rc >= 0)
        rc = cmb_flash_job_run_booted(lb->job, L->ctx, lb->target);
    if (L->cfg.board_done)
        L->cfg.board_done(L->cfg.user, lb->job);
    pthread_mutex_lock(&L->mu);
    L->sum.boards++;
    if (rc == CMBOOT_OK) {
        L->sum.ok++;
    } else if (rc == CMBOOT_ERR_CANCELLED) {
        L->sum.interrupted++;
    } else {
        L->sum.failed++;
        if (!L->first_error)
            L->first_error = rc;
    }
    lb->done = true;
    pthread_mutex_unlock(&L->mu);
    return NULL;
}

static void board_free(line_board *lb)
{
    cmboot_flash_job_free(lb->job);
    free(lb);
}

/* Joins workers; all = wait for every one, else only those already done (loop mode keeps memory bounded). */
static void reap(line_run *L, bool all)
{
    line_board **pp = &L->boards;
    while (*pp) {
        line_board *lb = *pp;
        pthread_mutex_lock(&L->mu);
        bool done = lb->done;
        pthread_mutex_unlock(&L->mu);
        if (done || all) {
            pthread_join(lb->thread, NULL);
            *pp = lb->next;
            board_free(lb);
        } else {
            pp = &lb->next;
        }
    }
}

/* On the session's thread, just before line_board_finished: the device of the board's last stage. */
static void line_board_device(void *user, const cmboot_device_info *dev)
{
    line_run *L = user;
    L->have_dev = dev != NULL;
    if (dev)
        L->dev = *dev;
}

/* On the session's thread: the board finished booting (or failed, or was taken as it was): start its worker. */
static void line_board_finished(void *user, const cmboot_board_result *res, const cmboot_metadata *md, bool adopted)
{
    line_run *L = user;
    reap(L, false);
    line_board *lb = calloc(1, sizeof *lb);
    int rc = lb ? cmb_flash_job_new_shared(L->flash, L->bmap, L->cfg.pair_timeout_ms, &lb->job) : CMBOOT_ERR_NO_MEMORY;
    if (rc == CMBOOT_OK) {
        lb->line = L;
        cmb_flash_job_take_board(lb->job, res, md, adopted);
        if (L->have_dev)
            cmb_flash_job_take_device(lb->job, &L->dev, L->disc);
        L->have_dev = false;
        if (pthread_create(&lb->thread, NULL, line_worker, lb) == 0) {
            lb->next = L->boards;
            L->boards = lb;
            return;
        }
        rc = CMBOOT_ERR_NO_MEMORY;
    }
    cmb_logf(&L->ctx->log, res->port_path, CMBOOT_LOG_ERROR, "cannot start flashing this board: %s",
             cmboot_strerror(rc));
    if (lb)
        cmboot_flash_job_free(lb->job);
    free(lb);
    pthread_mutex_lock(&L->mu);
    L->sum.boards++;
    L->sum.failed++;
    if (!L->first_error)
        L->first_error = rc;
    pthread_mutex_unlock(&L->mu);
}

/* The image (and bmap) checked once, before any board is booted for nothing. */
static int check_image(cmboot_ctx *ctx, const cmboot_flash_config *flash, cmboot_bmap **bmap)
{
    cmboot_flash_config full;
    cmboot_target_env env;
    int rc = cmb_flash_config_load(flash, &full, &env);
    if (rc != CMBOOT_OK || !full.image || full.target)
        return rc ? rc : CMBOOT_ERR_INVALID_ARG; /* one target for many boards: never */
    if (full.bmap && (rc = cmboot_bmap_load(full.bmap, bmap)) != CMBOOT_OK) {
        cmb_logf(&ctx->log, "", CMBOOT_LOG_ERROR, "bmap %s is unusable: %s", full.bmap, cmboot_strerror(rc));
        return rc;
    }
    cmboot_flash_job *job = NULL;
    rc = cmb_flash_job_new_shared(flash, *bmap, 0, &job);
    if (rc == CMBOOT_OK && (rc = cmboot_flash_job_open(job)) != CMBOOT_OK)
        cmb_logf(&ctx->log, "", CMBOOT_LOG_ERROR, "image %s is unusable: %s", full.image,
                 cmboot_flash_job_reason(job)[0] ? cmboot_flash_job_reason(job) : cmboot_strerror(rc));
    cmboot_flash_job_free(job);
    return rc;
}

int cmboot_flash_line_run(cmboot_ctx *ctx, const cmboot_discovery *disc, const cmboot_boot_config *boot,
                          const cmboot_flash_config *flash, const cmboot_flash_line_config *line,
                          cmboot_flash_line_summary *summary)
{
    line_run L = {.ctx = ctx, .flash = flash, .disc = disc};
    cmboot_flash_line_summary_default(&L.sum);
    cmboot_flash_line_config_default(&L.cfg);
    int rc = ctx && disc && boot && flash && line ? CMBOOT_OK : CMBOOT_ERR_INVALID_ARG;
    if (rc == CMBOOT_OK)
        rc = cmb_struct_load(&L.cfg, sizeof L.cfg, line, LINE_CONFIG_MIN);
    if (L.cfg.pair_timeout_ms <= 0)
        L.cfg.pair_timeout_ms = DEFAULT_PAIR_TIMEOUT_MS;
    cmboot_boot_config bcfg;
    cmboot_stage_limits limits;
    if (rc == CMBOOT_OK)
        rc = cmb_boot_config_load(boot, &bcfg, &limits);
    cmboot_bmap *bmap = NULL;
    if (rc == CMBOOT_OK)
        rc = check_image(ctx, flash, &bmap);
    if (rc == CMBOOT_OK) {
        L.bmap = bmap;
        bcfg.wait_mass_storage = true;
        bcfg.adopt_mass_storage = L.cfg.adopt_mass_storage;
        bcfg.max_boards = L.cfg.boards;
        bcfg.loop = true; /* finished boards are forgotten: their port takes the next board */
        bcfg.metadata_stdout = false;
        pthread_mutex_init(&L.mu, NULL);
        cmb_run_observer obs = {line_board_finished, &L, line_board_device};
        rc = cmb_run_observed(ctx, disc, &bcfg, NULL, &obs);
        reap(&L, true);
        pthread_mutex_destroy(&L.mu);
        /* A board's failure is in first_error too; else the session's own (no board came, discovery failed). */
        if (atomic_load(&ctx->cancelled))
            rc = CMBOOT_ERR_CANCELLED;
        else if (L.first_error)
            rc = L.first_error;
    }
    cmboot_bmap_free(bmap);
    if (summary && cmb_struct_size(summary) >= LINE_SUMMARY_MIN)
        (void)cmb_struct_init(summary, summary->struct_size, &L.sum, sizeof L.sum, LINE_SUMMARY_MIN);
    return rc;
}
