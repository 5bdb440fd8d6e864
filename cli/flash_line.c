/* `cmboot flash --boards N | --loop`: a flash line on the library call, one report per board (stdout, --report-dir). */
#include "flash_line.h"

#include <errno.h>
#include <fcntl.h>
#include <json-c/json.h>
#include <limits.h>
#include <pthread.h>
#include <signal.h>
#include <sys/ioctl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cmboot/line.h"
#include "cmd_write.h"
#include "commands.h"
#include "discovery_choice.h"
#include "line_view.h"
#include "output.h"
#include "signals.h"
#include "status_http.h"

typedef struct line_state {
    cli_output out;
    line_view *view; /* rows on a terminal, JSON lines off one; NULL = plain lines (no memory) */
    bool rows;       /* the view draws rows on stderr: no plain result lines, reports only off a terminal */
    const flash_line_opts *o;
    pthread_mutex_t mu;
    int fail_exit;      /* exit code of the first failed board, 0 = none */
    bool interrupted;   /* a board was cut short */
    flash_cycle *ports; /* board control of each port of the control map (n_ports), NULL = none */
    size_t n_ports;
    status_model *page; /* --http: the status page's state, NULL = none */
} line_state;

/* The page's latest records and the day's counts, from the store (none configured: the page says so). */
static void page_records(line_state *st)
{
    if (!st->page || !st->o->records)
        return;
    cmboot_records_filter f;
    cmboot_records_filter_default(&f);
    f.limit = 10;
    f.newest_first = true;
    cmboot_record_list *l = NULL;
    json_object *arr = json_object_new_array();
    if (cmboot_records_query(st->o->records, &f, &l) == CMBOOT_OK) {
        for (size_t i = 0; i < cmboot_record_list_count(l); i++) {
            char *one = NULL;
            json_object *o = NULL;
            if (cmboot_record_json(cmboot_record_list_get(l, i), &one) == CMBOOT_OK && (o = json_tokener_parse(one)))
                json_object_array_add(arr, o);
            free(one);
        }
        cmboot_record_list_free(l);
    }
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    int64_t now = (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
    unsigned ok = 0, failed = 0;
    bool day = cmboot_records_counts(st->o->records, cmboot_records_day_start(now), 0, &ok, &failed) == CMBOOT_OK;
    status_model_set_records(st->page, json_object_to_json_string_ext(arr, JSON_C_TO_STRING_PLAIN), day, ok, failed);
    json_object_put(arr);
}

/* The control of a board's port, NULL when the map has none. One board at a time per port: no lock needed. */
static flash_cycle *port_cycle(line_state *st, const char *port_path)
{
    for (size_t i = 0; port_path && i < st->n_ports; i++)
        if (strcmp(cmboot_control_map_port(st->o->control_map, i), port_path) == 0)
            return &st->ports[i];
    return NULL;
}

/* After a board's flash, on its worker: normal mode, power cycle and the normal-mode check when it was flashed,
 * else only the release; the steps go into its report (text replaced). */
static int board_control(line_state *st, const cmboot_flash_job *job, char **text)
{
    const cmboot_board_result *b = cmboot_flash_job_board(job);
    flash_cycle *fc = port_cycle(st, b ? b->port_path : NULL);
    if (!fc)
        return CMBOOT_OK;
    int crc = CMBOOT_OK;
    if (cmboot_flash_job_error(job) == CMBOOT_OK)
        crc = flash_cycle_finish(fc, b->port_path, b->serial);
    else
        (void)flash_cycle_release(fc);
    if (*text) {
        char *with = flash_cycle_report(fc, *text);
        if (with) {
            free(*text);
            *text = with;
        }
    }
    cmboot_control_steps_clear(fc->ctl); /* the next board on this port starts a new list */
    fc->checked = false;
    fc->t0 = cmboot_now_ms();
    if (st->o->loop) {
        /* The port waits for its next board in USB boot mode: the board that comes powers on into its boot ROM
         * (the one just flashed keeps running its new system until it is taken off). This step opens the next
         * board's list; the line's end releases every port. */
        int arm = cmboot_control_boot_mode(fc->ctl, CMBOOT_BOOT_MODE_USB);
        if (arm != CMBOOT_OK && st->view) {
            char m[256];
            snprintf(m, sizeof m, "cannot put the port back in USB boot mode for the next board: %s",
                     cmboot_strerror(arm));
            line_view_log(st->view, b->port_path, CMBOOT_LOG_ERROR, m);
        }
    }
    return crc;
}

static const char *step_name(cmboot_flash_step s)
{
    switch (s) {
    case CMBOOT_FLASH_STEP_IMAGE: return "image";
    case CMBOOT_FLASH_STEP_BMAP: return "bmap";
    case CMBOOT_FLASH_STEP_BOOT: return "boot";
    case CMBOOT_FLASH_STEP_PAIR: return "pair";
    case CMBOOT_FLASH_STEP_WRITE: return "write";
    case CMBOOT_FLASH_STEP_DONE: return "done";
    default: return "none";
    }
}

/* The report of a board that stopped before its write: who it was, where it stopped and why. */
static char *short_report(const cmboot_flash_job *job)
{
    const cmboot_board_result *b = cmboot_flash_job_board(job);
    json_object *o = json_object_new_object();
    json_object_object_add(o, "port_path", json_object_new_string(b ? b->port_path : ""));
    if (b && b->serial[0])
        json_object_object_add(o, "serial", json_object_new_string(b->serial));
    if (b && b->soc)
        json_object_object_add(o, "soc", json_object_new_string(b->soc->name));
    json_object_object_add(o, "result", json_object_new_string(cmboot_strerror(cmboot_flash_job_error(job))));
    json_object_object_add(o, "step", json_object_new_string(step_name(cmboot_flash_job_step(job))));
    json_object_object_add(o, "reason", json_object_new_string(cmboot_flash_job_reason(job)));
    if (cmboot_flash_job_boot_ms(job) >= 0)
        json_object_object_add(o, "boot_ms", json_object_new_int64(cmboot_flash_job_boot_ms(job)));
    char *text = strdup(json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN));
    json_object_put(o);
    return text;
}

/* Safe file name part: letters, digits, '-', '_', '.'; anything else becomes '_'. */
static void name_part(const char *in, char *out, size_t size)
{
    size_t n = 0;
    for (; *in && n + 1 < size; in++)
        out[n++] = (char)((*in >= 'a' && *in <= 'z') || (*in >= 'A' && *in <= 'Z') || (*in >= '0' && *in <= '9') ||
                                  *in == '-' || *in == '_' || *in == '.'
                              ? *in
                              : '_');
    out[n] = 0;
}

/* DIR/<serial or port path>-<UTC time>.json, written whole to a temporary file and linked to its name: a reader
 * never sees half a report, and an existing report is never replaced (-2, -3... instead). */
static int write_report(const char *dir, const cmboot_board_result *b, const char *text, char *path, size_t size)
{
    char who[96], stamp[32], tmp[PATH_MAX];
    name_part(b && b->serial[0] ? b->serial : b ? b->port_path : "board", who, sizeof who);
    time_t now = time(NULL);
    struct tm tm;
    gmtime_r(&now, &tm);
    strftime(stamp, sizeof stamp, "%Y%m%dT%H%M%SZ", &tm);
    if ((size_t)snprintf(tmp, sizeof tmp, "%s/.%s-%s.json.XXXXXX", dir, who, stamp) >= sizeof tmp)
        return -ENAMETOOLONG;
    int fd = mkstemp(tmp);
    if (fd < 0)
        return -errno;
    size_t len = strlen(text);
    bool ok = write(fd, text, len) == (ssize_t)len && write(fd, "\n", 1) == 1 && fsync(fd) == 0;
    int err = ok ? 0 : errno ? errno : EIO;
    close(fd);
    for (unsigned i = 1; ok && i < 1000; i++) {
        int n = i == 1 ? snprintf(path, size, "%s/%s-%s.json", dir, who, stamp)
                       : snprintf(path, size, "%s/%s-%s-%u.json", dir, who, stamp, i);
        if (n < 0 || (size_t)n >= size) {
            err = ENAMETOOLONG;
            break;
        }
        if (link(tmp, path) == 0) {
            unlink(tmp);
            return 0;
        }
        if (errno != EEXIST) {
            err = errno;
            break;
        }
    }
    unlink(tmp);
    return -(err ? err : EEXIST);
}

/* Exit code of one board that did not finish ok (as `cmboot flash` for one board). */
static int board_exit(const cmboot_flash_job *job)
{
    int rc = cmboot_flash_job_error(job);
    const cmboot_flash_result *res = cmboot_flash_job_flash(job);
    switch (cmboot_flash_job_step(job)) {
    case CMBOOT_FLASH_STEP_BOOT: return rc == CMBOOT_ERR_ACCESS ? EXIT_HOST : EXIT_FAILURE_BOARD;
    case CMBOOT_FLASH_STEP_PAIR: return rc == CMBOOT_ERR_UNSAFE_TARGET ? EXIT_REFUSED : EXIT_FLASH;
    default: return flash_exit_code(rc, res && res->target_touched);
    }
}

/* On the board's worker thread, once per board. */
static void board_done(void *user, const cmboot_flash_job *job)
{
    line_state *st = user;
    const cmboot_board_result *b = cmboot_flash_job_board(job);
    int rc = cmboot_flash_job_error(job);
    char *text = NULL;
    if (cmboot_flash_job_report_json(job, &text) != CMBOOT_OK)
        text = short_report(job);
    int crc = board_control(st, job, &text);
    if (rc == CMBOOT_OK && crc != CMBOOT_OK)
        rc = crc; /* flashed, but not back in normal mode */
    cli_records_job(st->o->records, st->o->station, st->o->image, job, text);
    char path[PATH_MAX] = "";
    int werr = 0;
    if (text && st->o->report_dir)
        werr = write_report(st->o->report_dir, b, text, path, sizeof path);
    pthread_mutex_lock(&st->mu);
    if (rc == CMBOOT_ERR_CANCELLED)
        st->interrupted = true;
    else if (rc != CMBOOT_OK && !st->fail_exit)
        st->fail_exit = crc != CMBOOT_OK ? flash_cycle_exit(crc) : board_exit(job);
    pthread_mutex_unlock(&st->mu);
    if (text && !(st->rows && isatty(STDOUT_FILENO))) /* rows own the terminal: the report goes to a file */
        cli_stdout_report(text);
    if (st->view) {
        const cmboot_flash_result *res = cmboot_flash_job_flash(job);
        line_view_result r = {
            .port_path = b ? b->port_path : "",
            .serial = b ? b->serial : NULL,
            .error = rc,
            .reason = crc != CMBOOT_OK ? "board control after the flash failed" : cmboot_flash_job_reason(job),
            .bytes = res ? res->bytes_written : 0,
            .elapsed_ms = -1,
            .verified = res && res->verified,
        };
        line_view_board_finished(st->view, &r);
    }
    if (st->page) {
        const cmboot_flash_result *res = cmboot_flash_job_flash(job);
        status_model_result(st->page, b ? b->port_path : "", b ? b->serial : NULL, rc,
                            crc != CMBOOT_OK ? "board control after the flash failed" : cmboot_flash_job_reason(job),
                            res ? res->bytes_written : 0, res && res->verified);
        pthread_mutex_lock(&st->mu); /* one query at a time: the last one set is the newest */
        page_records(st);            /* after cli_records_job: the page lists this attempt */
        pthread_mutex_unlock(&st->mu);
    }
    const char *pp = b ? b->port_path : "?";
    if (werr) {
        char m[512];
        snprintf(m, sizeof m, "cannot write its report to %s: %s", st->o->report_dir, strerror(-werr));
        if (st->view)
            line_view_log(st->view, pp, CMBOOT_LOG_ERROR, m);
        else
            fprintf(stderr, "cmboot: [%s] %s\n", pp, m);
    }
    if (!st->out.json && !st->view) {
        const cmboot_flash_result *res = cmboot_flash_job_flash(job);
        if (rc == CMBOOT_OK)
            fprintf(stderr, "[%s] %s: flashed%s\n", pp, b && b->serial[0] ? b->serial : "board",
                    res && res->verified ? " and verified" : "");
        else
            fprintf(stderr, "[%s] %s: %s at %s: %s\n", pp, b && b->serial[0] ? b->serial : "board",
                    rc == CMBOOT_ERR_CANCELLED ? "interrupted" : "failed",
                    crc != CMBOOT_OK ? "control" : step_name(cmboot_flash_job_step(job)),
                    crc != CMBOOT_OK ? cmboot_strerror(crc) : cmboot_flash_job_reason(job));
        if (path[0])
            fprintf(stderr, "[%s] report: %s\n", pp, path);
    }
    free(text);
}

/* The line view: rows on stderr when it is a terminal big enough (and no --json), else JSON lines on stdout. */
static line_view *open_view(line_state *st, const flash_line_opts *o)
{
    struct winsize ws;
    bool rows = !o->json && isatty(STDERR_FILENO) && ioctl(STDERR_FILENO, TIOCGWINSZ, &ws) == 0 && ws.ws_col >= 60 &&
                ws.ws_row >= 3;
    line_view_config cfg;
    line_view_config_default(&cfg);
    cfg.out = rows ? stderr : stdout;
    cfg.rows = rows;
    cfg.quiet = o->quiet;
    cfg.log_dir = o->log_dir;
    cfg.ticker = rows;
    cfg.log_level = cli_log_level(o->verbosity);
    if (!rows)
        cfg.output_failed = cli_cancel_stdout_gone; /* the reader of the JSON lines went away: stop */
    line_view *v = NULL;
    int err = line_view_new(&cfg, &v);
    if (err < 0) {
        fprintf(stderr, "cmboot flash: %s%s: %s\n", o->log_dir ? "--log-dir " : "", o->log_dir ? o->log_dir : "",
                strerror(-err));
        return NULL;
    }
    st->rows = rows;
    return v;
}

static void line_log(void *user, const char *device_id, cmboot_log_level level, const char *msg)
{
    line_state *st = user;
    line_view_log(st->view, device_id, level, msg);
}

static void line_event(void *user, const cmboot_event *ev)
{
    line_state *st = user;
    line_view_event(st->view, ev);
    status_model_event(st->page, ev); /* NULL without --http: nothing */
}

/* --http: the page's state and its server, started before the first board. Binding elsewhere than loopback is
 * said on stderr: everyone who can reach that address sees the line. */
static int page_start(line_state *st, status_http **http)
{
    char addr[128], why[256];
    uint16_t port = 0;
    if (status_http_parse(st->o->http, addr, sizeof addr, &port, why, sizeof why) < 0) {
        fprintf(stderr, "cmboot flash: --http %s\n", why);
        return EXIT_USAGE;
    }
    status_model_config mc = {.station = st->o->station};
    st->page = status_model_new(&mc);
    if (!st->page)
        return EXIT_HOST;
    page_records(st);
    int err = status_http_start(st->page, addr, port, http);
    if (err < 0) {
        if (err == -ENOTSUP)
            fprintf(stderr, "cmboot flash: --http: this cmboot was built without the status page (libmicrohttpd)\n");
        else if (err == -ENOPKG || err == -ELIBBAD)
            fprintf(stderr,
                    "cmboot flash: --http: the status page needs libmicrohttpd (%s), which could not be %s: "
                    "install it (Debian: %s)\n",
                    STATUS_HTTP_MHD_SONAME, err == -ENOPKG ? "loaded" : "used (a function is missing)",
                    STATUS_HTTP_MHD_PACKAGE);
        else
            fprintf(stderr, "cmboot flash: --http %s: cannot listen: %s\n", st->o->http, strerror(-err));
        status_model_free(st->page);
        st->page = NULL;
        return EXIT_HOST;
    }
    bool v6 = strchr(addr, ':') != NULL;
    fprintf(stderr, "Status page: http://%s%s%s:%u/\n", v6 ? "[" : "", addr, v6 ? "]" : "", status_http_port(*http));
    if (strcmp(addr, "127.0.0.1") != 0 && strcmp(addr, "::1") != 0)
        fprintf(stderr, "cmboot flash: the status page listens on %s, not only on this host (read-only)\n", addr);
    return EXIT_OK;
}

static void page_stop(line_state *st, status_http *http)
{
    status_http_stop(http);
    status_model_free(st->page);
    st->page = NULL;
}

/* Before the line: one control object per port of the map, each port's board put in USB boot mode and power
 * cycled (in --loop, each port is put back in USB boot mode once its board is done, for the next board). */
static int ports_start(line_state *st, cmboot_ctx *ctx)
{
    const cmboot_control_map *map = st->o->control_map;
    if (!map)
        return CMBOOT_OK;
    size_t n = cmboot_control_map_count(map);
    st->ports = calloc(n ? n : 1, sizeof *st->ports);
    if (!st->ports)
        return CMBOOT_ERR_NO_MEMORY;
    st->n_ports = n;
    for (size_t i = 0; i < n; i++) {
        flash_cycle *fc = &st->ports[i];
        *fc = *st->o->cycle;
        fc->ctl = NULL;
        cmboot_control_config cfg;
        (void)cli_control_config(st->o->control_opts, map, cmboot_control_map_port(map, i), &cfg);
        cfg.device_id = cmboot_control_map_port(map, i);
        cfg.ctx = ctx;
        int rc = cmboot_control_new(&cfg, &fc->ctl);
        if (rc == CMBOOT_OK)
            rc = flash_cycle_start(fc);
        if (rc != CMBOOT_OK)
            return rc;
    }
    return CMBOOT_OK;
}

static void ports_free(line_state *st)
{
    for (size_t i = 0; i < st->n_ports; i++) {
        if (st->ports[i].ctl)
            (void)cmboot_control_release(st->ports[i].ctl);
        cmboot_control_free(st->ports[i].ctl);
    }
    free(st->ports);
    st->ports = NULL;
    st->n_ports = 0;
}

int flash_line_main(const cmboot_flash_config *fcfg, const cmboot_boot_config *bcfg, const flash_line_opts *o)
{
    line_state st = {.o = o, .mu = PTHREAD_MUTEX_INITIALIZER};
    cli_output_init(&st.out, o->json, o->verbosity);
    if (o->report_dir && access(o->report_dir, W_OK | X_OK) != 0) {
        fprintf(stderr, "cmboot flash: --report-dir '%s': %s\n", o->report_dir, strerror(errno));
        return EXIT_USAGE;
    }
    char why[4200];
    if (cli_usb_absent(o->discovery, why, sizeof why)) {
        fprintf(stderr, "cmboot flash: %s, so no board can appear; run `cmboot doctor` for the fix\n", why);
        return EXIT_HOST;
    }
    st.view = open_view(&st, o);
    if (!st.view)
        return o->log_dir ? EXIT_USAGE : EXIT_HOST;
    status_http *http = NULL;
    if (o->http) {
        int pec = page_start(&st, &http);
        if (pec != EXIT_OK) {
            line_view_free(st.view);
            return pec;
        }
    }
    cmboot_ctx_config ccfg;
    cmboot_ctx_config_default(&ccfg);
    ccfg.log = line_log;
    ccfg.event = line_event;
    ccfg.user = &st;
    /* Every message reaches the view: it shows those of the chosen level, and writes all to --log-dir files. */
    ccfg.log_level = o->log_dir ? CMBOOT_LOG_DEBUG : cli_log_level(o->verbosity);
    cmboot_ctx *ctx = NULL;
    if (cmboot_ctx_new(&ccfg, &ctx) < 0) {
        page_stop(&st, http);
        line_view_free(st.view);
        return EXIT_HOST;
    }
    /* SIGINT/SIGTERM cancel the context: the session and every board's pairing and write stop. */
    cli_cancel_on_signals(ctx);
    cmboot_discovery disc;
    int rc = cli_discovery_open(ctx, o->discovery, &disc);
    if (rc < 0) {
        fprintf(stderr, "cmboot: cannot watch for USB devices: %s (run `cmboot doctor`)\n", cmboot_strerror(rc));
        cli_cancel_targets(NULL, NULL);
        cmboot_ctx_free(ctx);
        page_stop(&st, http);
        line_view_free(st.view);
        return rc == CMBOOT_ERR_INVALID_ARG ? EXIT_USAGE : EXIT_HOST;
    }
    if (!st.out.json) {
        if (o->loop)
            fprintf(stderr, "Flashing every board in USB boot mode until interrupted (Ctrl-C)...\n");
        else
            fprintf(stderr, "Waiting for %u board%s in USB boot mode...\n", o->boards, o->boards == 1 ? "" : "s");
    }
    signal(SIGXFSZ, SIG_IGN);
    int crc = ports_start(&st, ctx);
    if (crc != CMBOOT_OK) {
        ports_free(&st);
        disc.ops->destroy(disc.self);
        cli_cancel_targets(NULL, NULL);
        cmboot_ctx_free(ctx);
        page_stop(&st, http);
        line_view_free(st.view);
        fprintf(stderr, "cmboot flash: board control: %s\n", cmboot_strerror(crc));
        return flash_cycle_exit(crc);
    }
    cmboot_flash_line_config line;
    cmboot_flash_line_config_default(&line);
    line.boards = o->loop ? 0 : o->boards;
    line.pair_timeout_ms = o->pair_timeout_ms;
    line.board_done = board_done;
    line.user = &st;
    cmboot_flash_line_summary sum;
    cmboot_flash_line_summary_default(&sum);
    rc = cmboot_flash_line_run(ctx, &disc, bcfg, fcfg, &line, &sum);
    disc.ops->destroy(disc.self);
    ports_free(&st);                /* every port's lines released (boot mode normal) */
    cli_cancel_targets(NULL, NULL); /* the signal thread must not touch a freed context */
    cmboot_ctx_free(ctx);
    line_view_finish(st.view); /* the last frame and the summary (rows), or the summary line (JSON) */
    page_stop(&st, http);
    line_view_free(st.view);
    if (!st.rows) /* a person reading a log sees the outcome without parsing JSON */
        fprintf(stderr, "%u board%s: %u flashed, %u failed, %u interrupted\n", sum.boards, sum.boards == 1 ? "" : "s",
                sum.ok, sum.failed, sum.interrupted);
    if (st.fail_exit)
        return st.fail_exit;
    if (st.interrupted)
        return EXIT_CANCELLED;
    if (rc == CMBOOT_ERR_CANCELLED)
        return o->loop ? EXIT_OK : EXIT_CANCELLED; /* --loop ends on a signal; --boards N was cut short */
    if (rc == CMBOOT_ERR_TIMEOUT && sum.boards == 0) {
        fprintf(stderr, "cmboot flash: no board appeared in time\n");
        return EXIT_NO_BOARD;
    }
    if (rc != CMBOOT_OK) {
        fprintf(stderr, "cmboot flash: %s\n", cmboot_strerror(rc));
        return rc == CMBOOT_ERR_NOT_FOUND ? EXIT_USAGE : EXIT_FAILURE_BOARD;
    }
    return EXIT_OK;
}
