/* The status page's e2e driver: three emulated boards (in process) on a flash line, the page's server fed the
 * line's events as `cmboot flash --http` feeds it; each board is held mid-write until the test says "go".
 * stdout: "PORT n", "HELD port" x3, "READY", then after "go" on stdin "FINISHED ok=N"; "quit" ends it. */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cmboot/cmboot.h"
#include "cmboot/flash.h"
#include "cmboot/line.h"
#include "cmboot/records.h"
#include "front/sim_bus.h"
#include "status_http.h"

#define BOARDS 3
#define IMAGE_SIZE (24u << 20) /* several writer buffers: progress events come mid-write */

typedef struct driver {
    char root[4096];
    status_model *page;
    cmboot_records *records;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    unsigned held;
    bool go;
    char held_port[BOARDS][32];
} driver;

static void die(const char *what, int err)
{
    fprintf(stderr, "page_line: %s: %s\n", what, err < 0 ? cmboot_strerror(err) : strerror(errno));
    exit(2);
}

static void write_file(const char *dir, const char *name, size_t size, unsigned seed)
{
    char path[4200];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    FILE *f = fopen(path, "wb");
    if (!f)
        die(path, 0);
    uint32_t x = seed * 2654435761u + 1;
    for (size_t i = 0; i < size; i++) {
        x = x * 1103515245u + 12345u;
        fputc((int)(x >> 16) & 0xff, f);
    }
    if (fclose(f) != 0)
        die(path, 0);
}

static bool is_held(driver *d, const char *port)
{
    for (unsigned i = 0; i < d->held; i++)
        if (strcmp(d->held_port[i], port) == 0)
            return true;
    return false;
}

/* Every event to the page first; a board's first mid-write progress then waits for "go" (its worker only). */
static void on_event(void *user, const cmboot_event *ev)
{
    driver *d = user;
    status_model_event(d->page, ev);
    if (ev->type != CMBOOT_EV_PROGRESS || !ev->name || strcmp(ev->name, "write") != 0 || ev->done == 0 ||
        ev->done >= ev->total)
        return;
    pthread_mutex_lock(&d->mu);
    if (!d->go && !is_held(d, ev->device_id) && d->held < BOARDS) {
        snprintf(d->held_port[d->held++], sizeof d->held_port[0], "%s", ev->device_id);
        printf("HELD %s\n", ev->device_id);
        if (d->held == BOARDS)
            printf("READY\n");
        fflush(stdout);
        while (!d->go)
            pthread_cond_wait(&d->cv, &d->mu);
    }
    pthread_mutex_unlock(&d->mu);
}

static void on_log(void *user, const char *dev, cmboot_log_level level, const char *msg)
{
    (void)user;
    if (level <= CMBOOT_LOG_WARN || getenv("CMBOOT_TEST_VERBOSE"))
        fprintf(stderr, "[%s] %s %s\n", dev, cmboot_log_level_name(level), msg);
}

static int target_for(void *user, const cmboot_board_result *board, char *path, size_t size)
{
    driver *d = user;
    snprintf(path, size, "%s/disk-%s.img", d->root, board->port_path);
    return CMBOOT_OK;
}

/* The page's latest records, as flash_line.c gives them. */
static void page_records(driver *d)
{
    cmboot_records_filter f;
    cmboot_records_filter_default(&f);
    f.limit = 10;
    f.newest_first = true;
    cmboot_record_list *l = NULL;
    size_t cap = 64, len = 1;
    char *arr = malloc(cap);
    strcpy(arr, "[");
    if (cmboot_records_query(d->records, &f, &l) == CMBOOT_OK) {
        for (size_t i = 0; i < cmboot_record_list_count(l); i++) {
            char *one = NULL;
            if (cmboot_record_json(cmboot_record_list_get(l, i), &one) != CMBOOT_OK)
                continue;
            size_t n = strlen(one);
            if (len + n + 3 > cap) {
                cap = (len + n + 3) * 2;
                arr = realloc(arr, cap);
            }
            len += (size_t)sprintf(arr + len, "%s%s", len > 1 ? "," : "", one);
            free(one);
        }
        cmboot_record_list_free(l);
    }
    strcpy(arr + len, "]");
    unsigned ok = 0, failed = 0;
    bool day = cmboot_records_counts(d->records, 0, 0, &ok, &failed) == CMBOOT_OK;
    status_model_set_records(d->page, arr, day, ok, failed);
    free(arr);
}

static void board_done(void *user, const cmboot_flash_job *job)
{
    driver *d = user;
    const cmboot_board_result *b = cmboot_flash_job_board(job);
    const cmboot_flash_result *res = cmboot_flash_job_flash(job);
    char *text = NULL;
    if (cmboot_flash_job_report_json(job, &text) == CMBOOT_OK) {
        cmboot_record rec;
        cmboot_record_default(&rec);
        cmboot_record_holder *h = NULL;
        if (cmboot_record_from_report(text, &rec, &h) == CMBOOT_OK) {
            rec.station = "page-e2e";
            int rc = cmboot_records_add(d->records, &rec, NULL);
            if (rc != CMBOOT_OK)
                fprintf(stderr, "page_line: record: %s\n", cmboot_strerror(rc));
        }
        cmboot_record_holder_free(h);
        free(text);
    }
    status_model_result(d->page, b ? b->port_path : "", b ? b->serial : NULL, cmboot_flash_job_error(job),
                        cmboot_flash_job_reason(job), res ? res->bytes_written : 0, res && res->verified);
    page_records(d);
}

typedef struct line_args {
    cmboot_ctx *ctx;
    cmboot_discovery *disc;
    cmboot_boot_config *boot;
    cmboot_flash_config *flash;
    cmboot_flash_line_config *line;
    int rc;
    cmboot_flash_line_summary sum;
} line_args;

static void *run_line(void *arg)
{
    line_args *a = arg;
    a->rc = cmboot_flash_line_run(a->ctx, a->disc, a->boot, a->flash, a->line, &a->sum);
    return NULL;
}

static void plug(sim_bus *bus, sim_script *script, const char *port, const char *serial)
{
    sim_config c;
    sim_config_default(&c, CMBOOT_SOC_BCM2711);
    c.script = script;
    c.start_stage = CMBOOT_STAGE_ROM;
    snprintf(c.serial, sizeof c.serial, "%s", serial);
    int rc = sim_bus_plug(bus, port, &c, 0);
    if (rc != CMBOOT_OK)
        die("plug", rc);
}

int main(int argc, char **argv)
{
    if (argc != 2) {
        fprintf(stderr, "usage: page_line DIR\n");
        return 2;
    }
    static driver d;
    snprintf(d.root, sizeof d.root, "%s", argv[1]);
    pthread_mutex_init(&d.mu, NULL);
    pthread_cond_init(&d.cv, NULL);
    char boot[4200], sys[4200], dev[4200], image[4200], db[4200];
    snprintf(boot, sizeof boot, "%s/boot", d.root);
    snprintf(sys, sizeof sys, "%s/sys", d.root);
    snprintf(dev, sizeof dev, "%s/dev", d.root);
    snprintf(image, sizeof image, "%s/image.bin", d.root);
    snprintf(db, sizeof db, "%s/records.db", d.root);
    mkdir(boot, 0755);
    mkdir(sys, 0755);
    mkdir(dev, 0755);
    write_file(boot, "bootcode.bin", 40000, 1);
    write_file(boot, "bootcode4.bin", 40000, 1);
    write_file(boot, "start.elf", 64 * 1024 + 17, 2);
    write_file(boot, "start4.elf", 64 * 1024 + 17, 2);
    write_file(boot, "config.txt", 0, 3);
    write_file(d.root, "image.bin", IMAGE_SIZE, 9);

    cmboot_records_config rcfg;
    cmboot_records_config_default(&rcfg);
    rcfg.location = db;
    int rc = cmboot_records_open(&rcfg, &d.records);
    if (rc != CMBOOT_OK)
        die("records", rc);
    status_model_config mc = {.station = "page-e2e"};
    d.page = status_model_new(&mc);
    page_records(&d);
    status_http *http = NULL;
    int err = status_http_start(d.page, "127.0.0.1", 0, &http);
    if (err < 0) {
        errno = -err;
        die("listen", 0);
    }
    printf("PORT %u\n", status_http_port(http));
    fflush(stdout);

    sim_script script;
    sim_script_init(&script);
    sim_script_add_meta(&script, "MAC_ADDR", "d8:3a:dd:05:ee:78");
    sim_script_add_get(&script, "config.txt", true);
    sim_script_add_done(&script);
    sim_bus *bus = NULL;
    cmboot_discovery disc;
    if ((rc = sim_bus_new(&bus)) != CMBOOT_OK || (rc = sim_bus_discovery(bus, &disc)) != CMBOOT_OK)
        die("sim bus", rc);
    cmboot_ctx_config cc;
    cmboot_ctx_config_default(&cc);
    cc.log = on_log;
    cc.event = on_event;
    cc.user = &d;
    cc.log_level = CMBOOT_LOG_DEBUG;
    cmboot_ctx *ctx = NULL;
    if ((rc = cmboot_ctx_new(&cc, &ctx)) != CMBOOT_OK)
        die("ctx", rc);
    cmboot_boot_config bcfg;
    cmboot_boot_config_default(&bcfg);
    bcfg.boot_dir = boot;
    bcfg.wait_first_ms = 20000;
    bcfg.stage_timeout_ms = 20000;
    cmboot_flash_config fcfg;
    cmboot_flash_config_default(&fcfg);
    fcfg.image = image;
    cmboot_target_env env;
    cmboot_target_env_default(&env);
    env.sys_root = sys;
    env.dev_root = dev;
    fcfg.env = &env;
    cmboot_flash_line_config line;
    cmboot_flash_line_config_default(&line);
    line.boards = BOARDS;
    line.board_done = board_done;
    line.target_for = target_for;
    line.user = &d;
    plug(bus, &script, "1-1", "e2e00001");
    plug(bus, &script, "1-2", "e2e00002");
    plug(bus, &script, "1-3", "e2e00003");

    /* The line runs on its own thread; this one reads the test's commands. */
    line_args la = {ctx, &disc, &bcfg, &fcfg, &line, 0};
    cmboot_flash_line_summary_default(&la.sum);
    pthread_t t;
    if (pthread_create(&t, NULL, run_line, &la) != 0)
        die("thread", 0);
    char cmd[64];
    bool finished = false;
    while (fgets(cmd, sizeof cmd, stdin)) {
        if (strncmp(cmd, "go", 2) == 0 && !finished) {
            pthread_mutex_lock(&d.mu);
            d.go = true;
            pthread_cond_broadcast(&d.cv);
            pthread_mutex_unlock(&d.mu);
            pthread_join(t, NULL);
            finished = true;
            printf("FINISHED ok=%u failed=%u rc=%s\n", la.sum.ok, la.sum.failed, cmboot_error_name(la.rc));
            fflush(stdout);
        } else if (strncmp(cmd, "quit", 4) == 0) {
            break;
        }
    }
    if (!finished) { /* stdin closed early: stop the line */
        cmboot_ctx_cancel(ctx);
        pthread_mutex_lock(&d.mu);
        d.go = true;
        pthread_cond_broadcast(&d.cv);
        pthread_mutex_unlock(&d.mu);
        pthread_join(t, NULL);
    }
    status_http_stop(http);
    disc.ops->destroy(disc.self);
    sim_bus_free(bus);
    sim_script_free(&script);
    cmboot_ctx_free(ctx);
    cmboot_records_close(d.records);
    status_model_free(d.page);
    return finished && la.sum.ok == BOARDS ? 0 : 1;
}
