/* Flash job: one board booted to mass storage, its disk paired by port path, written, verified, reported. */
#include "flash_internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cmboot/error.h"
#include "core/ctx.h"
#include "session/run.h"

#define DEFAULT_PAIR_TIMEOUT_MS 60000

struct cmboot_flash_job {
    cmboot_flash_config cfg; /* the caller's, read up to its struct_size; env points to env below */
    cmboot_target_env env;
    int64_t pair_timeout_ms;
    bool opened;
    bool ran;
    cmboot_flash_source *src; /* open from cmboot_flash_job_open until the writer closes it */
    cmboot_bmap *bmap;
    const cmboot_bmap *shared_bmap; /* a flash line's, loaded once and read by every board (not freed here) */
    cmboot_flash_step step;
    int error;
    char reason[512]; /* room for pairing's list of disks */
    bool have_board;
    cmboot_board_result board;
    bool have_dev;
    const cmboot_discovery *disc; /* a line's, for a board taken with cmb_flash_job_take_device */
    cmboot_device_info dev;       /* the device of the board's last stage (the fastboot gadget is opened through it) */
    cmboot_metadata *md;          /* copied from the session when the board finished booting */
    char target[4096];
    int64_t boot_ms, pair_ms;
    bool flash_ran;
    cmboot_flash_result flash;
    cmboot_ctx *ctx;      /* during cmboot_flash_job_run: where events go */
    char via_reason[256]; /* what --via auto chose and why, when not the ordinary disk */
};

int cmboot_flash_job_new(const cmboot_flash_config *cfg, cmboot_flash_job **out)
{
    if (!out)
        return CMBOOT_ERR_INVALID_ARG;
    *out = NULL;
    cmboot_flash_job *job = calloc(1, sizeof *job);
    if (!job)
        return CMBOOT_ERR_NO_MEMORY;
    int rc = cmb_flash_config_load(cfg, &job->cfg, &job->env);
    if (rc != CMBOOT_OK || !job->cfg.image) {
        free(job);
        return rc ? rc : CMBOOT_ERR_INVALID_ARG;
    }
    if (cmboot_metadata_new(&job->md) != CMBOOT_OK) {
        free(job);
        return CMBOOT_ERR_NO_MEMORY;
    }
    cmboot_flash_result_default(&job->flash);
    job->cfg.port_path = NULL;
    job->cfg.device_id = "";
    job->cfg.event = NULL;
    job->cfg.user = NULL;
    job->cfg.cancel = NULL;
    job->pair_timeout_ms = DEFAULT_PAIR_TIMEOUT_MS;
    job->boot_ms = job->pair_ms = -1;
    *out = job;
    return CMBOOT_OK;
}

void cmboot_flash_job_set_pair_timeout(cmboot_flash_job *job, int64_t timeout_ms)
{
    if (job && timeout_ms > 0)
        job->pair_timeout_ms = timeout_ms;
}

static int stop(cmboot_flash_job *job, cmboot_flash_step step, int rc, const char *reason)
{
    job->step = step;
    job->error = rc;
    if (reason && reason != job->reason)
        snprintf(job->reason, sizeof job->reason, "%s", reason);
    return rc;
}

int cmboot_flash_job_open(cmboot_flash_job *job)
{
    if (!job)
        return CMBOOT_ERR_INVALID_ARG;
    if (job->opened)
        return job->error;
    job->opened = true;
    int rc = cmboot_flash_source_open_flags(job->cfg.image, job->cfg.source_flags, &job->src, job->reason,
                                            sizeof job->reason);
    if (rc != CMBOOT_OK)
        return stop(job, CMBOOT_FLASH_STEP_IMAGE, rc, NULL);
    if (job->cfg.bmap && !job->shared_bmap && (rc = cmboot_bmap_load(job->cfg.bmap, &job->bmap)) != CMBOOT_OK) {
        char why[256];
        snprintf(why, sizeof why, "bmap %s is %s", job->cfg.bmap,
                 rc == CMBOOT_ERR_VERIFY ? "corrupt (its checksum does not match)" : "unusable");
        return stop(job, CMBOOT_FLASH_STEP_BMAP, rc, why);
    }
    return CMBOOT_OK;
}

/* The session's metadata of this board, copied while the session still owns it. */
static void board_finished(void *user, const cmboot_board_result *res, const cmboot_metadata *md, bool adopted)
{
    cmboot_flash_job *job = user;
    (void)adopted; /* a single job boots its board: the session does not adopt for it */
    job->board = *res;
    job->have_board = true;
    /* Keys in the order the board sent them: the report needs no JSON round trip. */
    const char *key, *value;
    for (size_t i = 0; cmboot_metadata_entry(md, i, &key, &value) == CMBOOT_OK; i++)
        cmboot_metadata_set(job->md, key, value);
}

static void board_device(void *user, const cmboot_device_info *dev)
{
    cmboot_flash_job *job = user;
    if (dev) {
        job->dev = *dev;
        job->have_dev = true;
    }
}

/* Writer events, named by the board, to the context's callback. */
static void forward_event(void *user, const cmboot_event *ev)
{
    cmboot_flash_job *job = user;
    if (job->ctx && job->ctx->event)
        job->ctx->event(job->ctx->user, ev);
}

/* Makes cmboot_ctx_cancel reach the pairing and the writer (one canceller per board: a flash line runs many at
 * once); a cancel that came before still counts. */
static int attach_cancel(cmboot_ctx *ctx, cmboot_flash_canceller *c)
{
    pthread_mutex_lock(&ctx->lock);
    if (ctx->nflash == ctx->flash_cap) {
        size_t cap = ctx->flash_cap ? ctx->flash_cap * 2 : 8;
        cmboot_flash_canceller **t = realloc(ctx->flash, cap * sizeof *t);
        if (!t) {
            pthread_mutex_unlock(&ctx->lock);
            return CMBOOT_ERR_NO_MEMORY;
        }
        ctx->flash = t;
        ctx->flash_cap = cap;
    }
    ctx->flash[ctx->nflash++] = c;
    pthread_mutex_unlock(&ctx->lock);
    if (atomic_load(&ctx->cancelled))
        cmboot_flash_cancel(c);
    return CMBOOT_OK;
}

static void detach_cancel(cmboot_ctx *ctx, cmboot_flash_canceller *c)
{
    pthread_mutex_lock(&ctx->lock);
    for (size_t i = 0; i < ctx->nflash; i++)
        if (ctx->flash[i] == c) {
            ctx->flash[i] = ctx->flash[--ctx->nflash];
            break;
        }
    pthread_mutex_unlock(&ctx->lock);
}

/* Whether the stage the board came up in can be written the way asked; auto's choice said (log, report). */
static int check_via(cmboot_flash_job *job, cmboot_ctx *ctx)
{
    bool fastboot = job->board.last_stage == CMBOOT_STAGE_FASTBOOT;
    if (job->cfg.via == CMBOOT_FLASH_VIA_AUTO) {
        char why[sizeof job->via_reason];
        int via = cmboot_flash_via_auto(&job->env, fastboot, why, sizeof why);
        if (ctx)
            cmb_logf(&ctx->log, job->board.port_path,
                     via == CMBOOT_FLASH_VIA_FASTBOOT ? CMBOOT_LOG_INFO : CMBOOT_LOG_DEBUG, "--via auto: %s", why);
        if (via == CMBOOT_FLASH_VIA_FASTBOOT)
            snprintf(job->via_reason, sizeof job->via_reason, "%s", why);
        if (via == CMBOOT_FLASH_VIA_FASTBOOT && !fastboot) {
            char reason[512];
            snprintf(reason, sizeof reason,
                     "%s; but the board came up as a USB disk, not as its fastboot gadget: give it boot files that "
                     "start the fastboot gadget, or load/build usb-storage and sd_mod",
                     why);
            return stop(job, CMBOOT_FLASH_STEP_BOOT, CMBOOT_ERR_UNSUPPORTED, reason);
        }
    }
    if (fastboot && job->cfg.via == CMBOOT_FLASH_VIA_MSD)
        return stop(job, CMBOOT_FLASH_STEP_BOOT, CMBOOT_ERR_UNSUPPORTED,
                    "the board came up as the fastboot gadget, which has no USB disk to write");
    if (!fastboot && job->cfg.via == CMBOOT_FLASH_VIA_FASTBOOT)
        return stop(job, CMBOOT_FLASH_STEP_BOOT, CMBOOT_ERR_UNSUPPORTED,
                    "the board came up as a USB disk, not as the fastboot gadget asked for");
    return CMBOOT_OK;
}

static int boot_board(cmboot_flash_job *job, cmboot_ctx *ctx, const cmboot_discovery *disc,
                      const cmboot_boot_config *boot)
{
    cmboot_boot_config bcfg;
    cmboot_stage_limits limits;
    int rc = cmb_boot_config_load(boot, &bcfg, &limits);
    if (rc != CMBOOT_OK)
        return stop(job, CMBOOT_FLASH_STEP_BOOT, rc, "bad boot configuration");
    bcfg.wait_mass_storage = true;
    bcfg.max_boards = 1;
    bcfg.loop = false;
    bcfg.metadata_stdout = false; /* the metadata goes into the report */
    cmb_run_observer obs = {board_finished, job, board_device};
    rc = cmb_run_observed(ctx, disc, &bcfg, NULL, &obs);
    if (job->have_board)
        job->boot_ms =
            job->board.finished_ms > job->board.started_ms ? job->board.finished_ms - job->board.started_ms : 0;
    if (rc != CMBOOT_OK || !job->have_board || job->board.error != CMBOOT_OK) {
        rc = rc ? rc : job->have_board ? job->board.error : CMBOOT_ERR_TIMEOUT;
        return stop(job, CMBOOT_FLASH_STEP_BOOT, rc, cmboot_strerror(rc));
    }
    return check_via(job, ctx);
}

static int pair_disk(cmboot_flash_job *job, cmboot_flash_canceller *cancel)
{
    int64_t start = cmboot_now_ms();
    char why[sizeof job->reason];
    int rc = cmboot_flash_pair_select(job->cfg.env, job->board.port_path, job->cfg.lun, job->cfg.target_kind,
                                      start + job->pair_timeout_ms, cancel, job->target, sizeof job->target, why,
                                      sizeof why);
    job->pair_ms = cmboot_now_ms() - start;
    if (rc != CMBOOT_OK) {
        job->target[0] = 0;
        return stop(job, CMBOOT_FLASH_STEP_PAIR, rc,
                    rc == CMBOOT_ERR_CANCELLED ? "interrupted while waiting for its disk"
                    : rc == CMBOOT_ERR_TIMEOUT ? "no disk appeared under this port path in time"
                    : why[0]                   ? why /* the list of disks and how to choose */
                                               : cmboot_strerror(rc));
    }
    cmb_logf(&job->ctx->log, job->board.port_path, CMBOOT_LOG_DEBUG, "its disk is %s", job->target);
    /* usb-storage sends 120 KiB per command by default, each a round trip through the board: ask for 1 MiB.
     * Never a reason to fail the flash (not root, not usb-storage): said, and the write goes on. */
    const char *name = strrchr(job->target, '/');
    char msg[512];
    cmboot_target_env e;
    int t = cmb_target_env_load(job->cfg.env, &e);
    if (t == CMBOOT_OK)
        t = cmb_disk_raise_transfer(e.sys_root, name ? name + 1 : job->target, CMB_DISK_TRANSFER_SECTORS, msg,
                                    sizeof msg);
    else
        snprintf(msg, sizeof msg, "%s", cmboot_strerror(t));
    cmb_logf(&job->ctx->log, job->board.port_path,
             t == CMBOOT_ERR_ACCESS               ? CMBOOT_LOG_WARN
             : t == CMBOOT_OK && strchr(msg, '>') ? CMBOOT_LOG_INFO
                                                  : CMBOOT_LOG_DEBUG,
             "transfer size per command: %s", msg);
    return CMBOOT_OK;
}

/* The steps after the board is up in its mass-storage stage: pair (unless a target was given), check, write,
 * verify. */
static int run_booted(cmboot_flash_job *job, cmboot_ctx *ctx)
{
    cmboot_flash_canceller *cancel = NULL;
    int rc = cmboot_flash_canceller_new(&cancel);
    if (rc == CMBOOT_OK && (rc = attach_cancel(ctx, cancel)) != CMBOOT_OK) {
        cmboot_flash_canceller_free(cancel);
        cancel = NULL;
    }
    if (rc != CMBOOT_OK)
        return stop(job, CMBOOT_FLASH_STEP_PAIR, rc, cmboot_strerror(rc));
    if (!job->cfg.target) {
        rc = pair_disk(job, cancel);
        /* The name may be re-used before it is opened: the disk behind the descriptor must be this board's. */
        job->cfg.port_path = job->board.port_path;
    } else {
        snprintf(job->target, sizeof job->target, "%s", job->cfg.target);
    }
    if (rc == CMBOOT_OK) {
        cmboot_flash_config wcfg = job->cfg;
        wcfg.target = job->target;
        wcfg.device_id = job->board.port_path;
        wcfg.event = forward_event;
        wcfg.user = job;
        wcfg.cancel = cancel;
        cmboot_flash_source *src = job->src;
        job->src = NULL; /* the writer closes it */
        job->flash_ran = true;
        rc = cmb_flash_write_opened(&wcfg, src, job->bmap ? job->bmap : job->shared_bmap, &job->flash);
        stop(job, rc == CMBOOT_OK ? CMBOOT_FLASH_STEP_DONE : CMBOOT_FLASH_STEP_WRITE, rc,
             rc == CMBOOT_OK        ? ""
             : job->flash.reason[0] ? job->flash.reason
                                    : cmboot_strerror(rc));
    }
    detach_cancel(ctx, cancel);
    cmboot_flash_canceller_free(cancel);
    return rc;
}

/* The board came up as the fastboot gadget: open it through the discovery and write the image through it. */
static int run_fastboot(cmboot_flash_job *job, cmboot_ctx *ctx, const cmboot_discovery *disc)
{
    if (!job->have_dev || job->dev.stage != CMBOOT_STAGE_FASTBOOT)
        return stop(job, CMBOOT_FLASH_STEP_BOOT, CMBOOT_ERR_NO_DEVICE, "the fastboot gadget is not known");
    cmboot_flash_canceller *cancel = NULL;
    int rc = cmboot_flash_canceller_new(&cancel);
    if (rc == CMBOOT_OK && (rc = attach_cancel(ctx, cancel)) != CMBOOT_OK) {
        cmboot_flash_canceller_free(cancel);
        cancel = NULL;
    }
    if (rc != CMBOOT_OK)
        return stop(job, CMBOOT_FLASH_STEP_WRITE, rc, cmboot_strerror(rc));
    cmboot_transport t;
    rc = disc->ops->open(disc->self, &job->dev, &t);
    if (rc != CMBOOT_OK) {
        stop(job, CMBOOT_FLASH_STEP_WRITE, rc, "the fastboot gadget cannot be opened");
    } else {
        cmboot_flash_config wcfg = job->cfg;
        wcfg.device_id = job->board.port_path;
        wcfg.event = forward_event;
        wcfg.user = job;
        wcfg.cancel = cancel;
        wcfg.via = CMBOOT_FLASH_VIA_FASTBOOT; /* its events name the stage */
        cmboot_flash_source *src = job->src;
        job->src = NULL; /* the writer closes it */
        job->flash_ran = true;
        snprintf(job->target, sizeof job->target, "fastboot:%s",
                 job->cfg.fastboot_partition && job->cfg.fastboot_partition[0] ? job->cfg.fastboot_partition
                                                                               : "mmcblk0");
        rc = cmb_flash_write_fastboot(&wcfg, t, src, job->bmap ? job->bmap : job->shared_bmap, &job->flash);
        t.ops->close(t.self);
        stop(job, rc == CMBOOT_OK ? CMBOOT_FLASH_STEP_DONE : CMBOOT_FLASH_STEP_WRITE, rc,
             rc == CMBOOT_OK        ? ""
             : job->flash.reason[0] ? job->flash.reason
                                    : cmboot_strerror(rc));
    }
    detach_cancel(ctx, cancel);
    cmboot_flash_canceller_free(cancel);
    return rc;
}

int cmboot_flash_job_run(cmboot_flash_job *job, cmboot_ctx *ctx, const cmboot_discovery *disc,
                         const cmboot_boot_config *boot)
{
    if (!job || !ctx || !disc || !boot || job->ran)
        return CMBOOT_ERR_INVALID_ARG;
    job->ran = true;
    int rc = cmboot_flash_job_open(job);
    if (rc != CMBOOT_OK)
        return rc;
    job->ctx = ctx;
    rc = boot_board(job, ctx, disc, boot);
    if (rc == CMBOOT_OK)
        rc = job->board.last_stage == CMBOOT_STAGE_FASTBOOT ? run_fastboot(job, ctx, disc) : run_booted(job, ctx);
    job->ctx = NULL;
    return rc;
}

int cmb_flash_job_new_shared(const cmboot_flash_config *cfg, const cmboot_bmap *bmap, int64_t pair_timeout_ms,
                             cmboot_flash_job **out)
{
    int rc = cmboot_flash_job_new(cfg, out);
    if (rc == CMBOOT_OK) {
        (*out)->shared_bmap = bmap;
        cmboot_flash_job_set_pair_timeout(*out, pair_timeout_ms);
    }
    return rc;
}

int cmb_flash_job_fail(cmboot_flash_job *job, cmboot_flash_step step, int rc, const char *reason)
{
    job->ran = true;
    return stop(job, step, rc, reason);
}

void cmb_flash_job_take_board(cmboot_flash_job *job, const cmboot_board_result *res, const cmboot_metadata *md,
                              bool adopted)
{
    board_finished(job, res, md, adopted);
    if (!adopted) /* an adopted board was not booted: no boot phase in its report */
        job->boot_ms = res->finished_ms > res->started_ms ? res->finished_ms - res->started_ms : 0;
}

void cmb_flash_job_take_device(cmboot_flash_job *job, const cmboot_device_info *dev, const cmboot_discovery *disc)
{
    board_device(job, dev);
    job->disc = disc;
}

int cmb_flash_job_run_booted(cmboot_flash_job *job, cmboot_ctx *ctx, const char *target)
{
    if (!job || !ctx || job->ran || !job->have_board)
        return CMBOOT_ERR_INVALID_ARG;
    job->ran = true;
    if (target && *target)
        job->cfg.target = target;
    int rc = job->board.error;
    if (rc != CMBOOT_OK)
        return stop(job, CMBOOT_FLASH_STEP_BOOT, rc, cmboot_strerror(rc));
    bool fastboot = job->board.last_stage == CMBOOT_STAGE_FASTBOOT;
    if ((rc = check_via(job, ctx)) != CMBOOT_OK)
        return rc;
    if (fastboot && !job->disc)
        return stop(job, CMBOOT_FLASH_STEP_BOOT, CMBOOT_ERR_UNSUPPORTED,
                    "the board came up as the fastboot gadget, which has no USB disk to write");
    /* Opened per board: a decoder keeps state and cannot be shared; the line checked the image once before. */
    if ((rc = cmboot_flash_job_open(job)) != CMBOOT_OK)
        return rc;
    job->ctx = ctx;
    rc = fastboot ? run_fastboot(job, ctx, job->disc) : run_booted(job, ctx);
    job->ctx = NULL;
    return rc;
}

void cmboot_flash_job_free(cmboot_flash_job *job)
{
    if (!job)
        return;
    cmboot_flash_source_close(job->src);
    cmboot_bmap_free(job->bmap);
    cmboot_metadata_free(job->md);
    free(job);
}

cmboot_flash_step cmboot_flash_job_step(const cmboot_flash_job *job)
{
    return job ? job->step : CMBOOT_FLASH_STEP_NONE;
}
int cmboot_flash_job_error(const cmboot_flash_job *job)
{
    return job ? job->error : CMBOOT_ERR_INVALID_ARG;
}
const char *cmboot_flash_job_reason(const cmboot_flash_job *job)
{
    return job ? job->reason : "";
}
const cmboot_board_result *cmboot_flash_job_board(const cmboot_flash_job *job)
{
    return job && job->have_board ? &job->board : NULL;
}
const cmboot_metadata *cmboot_flash_job_metadata(const cmboot_flash_job *job)
{
    return job ? job->md : NULL;
}
const char *cmboot_flash_job_via_reason(const cmboot_flash_job *job)
{
    return job ? job->via_reason : "";
}
const char *cmboot_flash_job_target(const cmboot_flash_job *job)
{
    return job ? job->target : "";
}
int64_t cmboot_flash_job_boot_ms(const cmboot_flash_job *job)
{
    return job ? job->boot_ms : -1;
}
int64_t cmboot_flash_job_pair_ms(const cmboot_flash_job *job)
{
    return job ? job->pair_ms : -1;
}
const cmboot_flash_result *cmboot_flash_job_flash(const cmboot_flash_job *job)
{
    return job && job->flash_ran ? &job->flash : NULL;
}

int cmboot_flash_job_report_json(const cmboot_flash_job *job, char **out)
{
    if (!out)
        return CMBOOT_ERR_INVALID_ARG;
    *out = NULL;
    if (!job || !job->flash_ran)
        return CMBOOT_ERR_INVALID_ARG;
    char *md_json = NULL;
    if (cmboot_metadata_count(job->md) > 0 && cmboot_metadata_to_json(job->md, &md_json) != CMBOOT_OK)
        return CMBOOT_ERR_NO_MEMORY;
    const cmboot_board_result *b = &job->board;
    cmboot_flash_report rep = {sizeof rep,   b->serial,      b->port_path,  b->soc ? b->soc->name : NULL,
                               md_json,      job->cfg.image, job->cfg.bmap, job->target,
                               job->boot_ms, job->pair_ms,   &job->flash,   job->via_reason};
    int rc = cmboot_flash_report_json(&rep, out);
    free(md_json);
    return rc;
}

int cmboot_flash_board(cmboot_ctx *ctx, const cmboot_discovery *disc, const cmboot_boot_config *boot,
                       const cmboot_flash_config *flash, cmboot_flash_job **out)
{
    cmboot_flash_job *job = NULL;
    if (out)
        *out = NULL;
    int rc = cmboot_flash_job_new(flash, &job);
    if (rc != CMBOOT_OK)
        return rc;
    rc = cmboot_flash_job_run(job, ctx, disc, boot);
    if (out)
        *out = job;
    else
        cmboot_flash_job_free(job);
    return rc;
}
