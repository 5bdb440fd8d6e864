/* The line view: a live row per port path on a terminal, JSON lines off one, one log file per board. */
#include "line_view.h"

#include <errno.h>
#include <fcntl.h>
#include <json-c/json.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <time.h>
#include <unistd.h>

#include "cmboot/cmboot.h"
#include "cmboot/text.h"

#define LV_PENDING_MAX (64u << 10) /* log text kept for a board whose serial is not known yet */
#define LV_MIN_WIDTH 20
#define LV_MIN_HEIGHT 3

typedef struct lv_row {
    char port[64];
    char serial[CMBOOT_SERIAL_MAX];
    char soc[32];
    char stage[32];
    char phase[32];
    char detail[96];
    char prog_name[64];
    uint64_t done, total;
    int64_t started, prog_elapsed_ms, phase_started;
    /* JSON and log file progress throttle */
    unsigned last_pct;
    int64_t last_prog_ms;
    bool finished;
    int error;
    char reason[256];
    uint64_t bytes;
    int64_t elapsed_ms, finished_at;
    bool verified;
    time_t wall_start;
    /* --log-dir */
    FILE *log;
    bool log_by_serial;
    char log_name[256];
    char *pending;
    size_t pending_len;
} lv_row;

struct line_view {
    line_view_config cfg;
    pthread_mutex_t mu;
    lv_row **rows; /* in port path order */
    size_t nrows, cap;
    unsigned done, failed;
    int64_t t0, first_board, last_frame;
    bool dirty, broken;
    /* the frame on the terminal: display width of each line, to move back over it */
    int *drawn;
    size_t ndrawn, drawn_cap;
    int dirfd;
    pthread_t ticker;
    bool ticker_live, stop;
    pthread_cond_t cv;
};

/* SIGWINCH only sets this flag: the ticker sees it and draws at the new size (CLI state, not the library's). */
static volatile sig_atomic_t lv_winch;

static void on_winch(int sig)
{
    (void)sig;
    lv_winch = 1;
}

void line_view_config_default(line_view_config *cfg)
{
    memset(cfg, 0, sizeof *cfg);
    cfg->out = stderr;
    cfg->rows = true;
    cfg->log_level = CMBOOT_LOG_WARN;
    cfg->min_redraw_ms = 100;
    cfg->json_progress_pct = 10;
    cfg->json_progress_ms = 5000;
}

static int64_t now_ms(const line_view *v)
{
    return v->cfg.clock_ms ? v->cfg.clock_ms(v->cfg.clock_user) : cmboot_now_ms();
}

static void copy(char *dst, size_t size, const char *src)
{
    snprintf(dst, size, "%s", src ? src : "");
}

bool line_view_file_part(const char *s, char *out, size_t size)
{
    size_t n = 0;
    if (!size)
        return false;
    for (; s && *s && n + 1 < size; s++) {
        unsigned char c = (unsigned char)*s;
        bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' || c == '-' ||
                  (c == '.' && n > 0);
        out[n++] = ok ? (char)c : '_';
    }
    out[n] = 0;
    return n > 0;
}

/* ---- output ---- */

static void out_write(line_view *v, const char *text, size_t len)
{
    if (v->broken)
        return;
    if (fwrite(text, 1, len, v->cfg.out) != len || fflush(v->cfg.out) != 0) {
        v->broken = true;
        if (v->cfg.output_failed)
            v->cfg.output_failed();
    }
}

static void wall_stamp(char *buf, size_t size)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    struct tm tm;
    gmtime_r(&ts.tv_sec, &tm);
    char s[32];
    strftime(s, sizeof s, "%Y-%m-%dT%H:%M:%S", &tm);
    snprintf(buf, size, "%s.%03ldZ", s, ts.tv_nsec / 1000000);
}

/* ---- per-board log files ---- */

static void log_file_open(line_view *v, lv_row *r)
{
    char part[80], when[32];
    struct tm tm;
    gmtime_r(&r->wall_start, &tm);
    strftime(when, sizeof when, "%Y%m%d-%H%M%S", &tm);
    bool by_serial = line_view_file_part(r->serial, part, sizeof part);
    if (!by_serial) {
        char p[64];
        if (!line_view_file_part(r->port, p, sizeof p))
            copy(p, sizeof p, "host");
        snprintf(part, sizeof part, "port-%s", p);
    }
    for (unsigned n = 1; n < 100 && !r->log; n++) {
        char name[sizeof r->log_name];
        if (n == 1)
            snprintf(name, sizeof name, "%s-%s.log", part, when);
        else
            snprintf(name, sizeof name, "%s-%s-%u.log", part, when, n);
        int fd = openat(v->dirfd, name, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0644);
        if (fd < 0) {
            if (errno == EEXIST)
                continue;
            break;
        }
        r->log = fdopen(fd, "w");
        if (!r->log) {
            close(fd);
            break;
        }
        copy(r->log_name, sizeof r->log_name, name);
        r->log_by_serial = by_serial;
    }
    if (r->log && r->pending_len)
        fwrite(r->pending, 1, r->pending_len, r->log);
    free(r->pending);
    r->pending = NULL;
    r->pending_len = 0;
    if (r->log)
        fflush(r->log);
}

/* A file named by port (the serial came late) takes the serial's name, never replacing another file. */
static void log_file_rename(line_view *v, lv_row *r)
{
    char part[80], when[32], name[sizeof r->log_name];
    if (!line_view_file_part(r->serial, part, sizeof part))
        return;
    struct tm tm;
    gmtime_r(&r->wall_start, &tm);
    strftime(when, sizeof when, "%Y%m%d-%H%M%S", &tm);
    for (unsigned n = 1; n < 100; n++) {
        if (n == 1)
            snprintf(name, sizeof name, "%s-%s.log", part, when);
        else
            snprintf(name, sizeof name, "%s-%s-%u.log", part, when, n);
        if (linkat(v->dirfd, r->log_name, v->dirfd, name, 0) == 0) {
            unlinkat(v->dirfd, r->log_name, 0);
            copy(r->log_name, sizeof r->log_name, name);
            r->log_by_serial = true;
            return;
        }
        if (errno != EEXIST)
            return;
    }
}

/* One line of a board's log file (terminal-safe text); kept in memory until its serial names the file. */
static void log_file_line(line_view *v, lv_row *r, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static void log_file_line(line_view *v, lv_row *r, const char *fmt, ...)
{
    if (v->dirfd < 0)
        return;
    char raw[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(raw, sizeof raw, fmt, ap);
    va_end(ap);
    char *safe = cmboot_text_terminal(raw, NULL);
    char stamp[40];
    wall_stamp(stamp, sizeof stamp);
    char line[1200];
    int len = snprintf(line, sizeof line, "%s %s\n", stamp, safe ? safe : raw);
    free(safe);
    if (len < 0)
        return;
    if ((size_t)len >= sizeof line)
        len = (int)sizeof line - 1;
    if (!r->log && !r->serial[0] && r->pending_len + (size_t)len <= LV_PENDING_MAX) {
        char *p = realloc(r->pending, r->pending_len + (size_t)len);
        if (p) {
            memcpy(p + r->pending_len, line, (size_t)len);
            r->pending = p;
            r->pending_len += (size_t)len;
            return;
        }
    }
    if (!r->log)
        log_file_open(v, r);
    else if (!r->log_by_serial && r->serial[0])
        log_file_rename(v, r);
    if (r->log) {
        fwrite(line, 1, (size_t)len, r->log);
        fflush(r->log);
    }
}

static void log_file_close(line_view *v, lv_row *r)
{
    if (v->dirfd < 0)
        return;
    if (!r->log && r->pending_len)
        log_file_open(v, r);
    else if (r->log && !r->log_by_serial && r->serial[0])
        log_file_rename(v, r);
    if (r->log)
        fclose(r->log);
    r->log = NULL;
    free(r->pending);
    r->pending = NULL;
    r->pending_len = 0;
}

/* ---- JSON lines ---- */

static void add_str(json_object *o, json_object *san, const char *key, const char *val)
{
    bool changed = false;
    char *clean = cmboot_text_utf8(val ? val : "", &changed);
    json_object_object_add(o, key, json_object_new_string(clean ? clean : ""));
    if (changed || !clean)
        json_object_array_add(san, json_object_new_string(key));
    free(clean);
}

static json_object *json_begin(line_view *v, const char *event, const lv_row *r, const char *port, json_object **san)
{
    json_object *o = json_object_new_object();
    *san = json_object_new_array();
    char stamp[40];
    wall_stamp(stamp, sizeof stamp);
    json_object_object_add(o, "event", json_object_new_string(event));
    json_object_object_add(o, "time", json_object_new_string(stamp));
    json_object_object_add(o, "t_ms", json_object_new_int64(now_ms(v) - v->t0));
    add_str(o, *san, "port", r ? r->port : port);
    add_str(o, *san, "serial", r ? r->serial : "");
    return o;
}

static void json_end(line_view *v, json_object *o, json_object *san)
{
    if (json_object_array_length(san) > 0)
        json_object_object_add(o, "sanitized", san);
    else
        json_object_put(san);
    const char *text = json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN);
    char *safe = cmboot_text_json(text, NULL);
    const char *line = safe ? safe : text;
    size_t len = strlen(line);
    char *buf = malloc(len + 2);
    if (buf) {
        memcpy(buf, line, len);
        buf[len] = '\n';
        out_write(v, buf, len + 1);
        free(buf);
    }
    free(safe);
    json_object_put(o);
}

/* ---- rows ---- */

static lv_row *find_row(line_view *v, const char *port)
{
    for (size_t i = 0; i < v->nrows; i++)
        if (strcmp(v->rows[i]->port, port) == 0)
            return v->rows[i];
    return NULL;
}

static void row_free(line_view *v, lv_row *r)
{
    log_file_close(v, r);
    free(r);
}

static lv_row *new_row(line_view *v, const char *port)
{
    if (v->nrows == v->cap) {
        size_t cap = v->cap ? v->cap * 2 : 8;
        lv_row **rows = realloc(v->rows, cap * sizeof *rows);
        if (!rows)
            return NULL;
        v->rows = rows;
        v->cap = cap;
    }
    lv_row *r = calloc(1, sizeof *r);
    if (!r)
        return NULL;
    copy(r->port, sizeof r->port, port);
    r->started = r->phase_started = now_ms(v);
    r->wall_start = time(NULL);
    if (v->first_board < 0)
        v->first_board = r->started;
    size_t at = v->nrows;
    while (at > 0 && cmboot_port_path_compare(v->rows[at - 1]->port, r->port) > 0)
        at--;
    memmove(v->rows + at + 1, v->rows + at, (v->nrows - at) * sizeof *v->rows);
    v->rows[at] = r;
    v->nrows++;
    return r;
}

static void remove_row(line_view *v, lv_row *r)
{
    for (size_t i = 0; i < v->nrows; i++) {
        if (v->rows[i] == r) {
            memmove(v->rows + i, v->rows + i + 1, (v->nrows - i - 1) * sizeof *v->rows);
            v->nrows--;
            break;
        }
    }
    row_free(v, r);
}

static void human_bytes(double bytes, char *buf, size_t size)
{
    const char *unit[] = {"B", "KiB", "MiB", "GiB", "TiB"};
    int u = 0;
    while (bytes >= 1024 && u < 4) {
        bytes /= 1024;
        u++;
    }
    snprintf(buf, size, u ? "%.1f %s" : "%.0f %s", bytes, unit[u]);
}

static void human_time(int64_t ms, char *buf, size_t size)
{
    long s = (long)((ms < 0 ? 0 : ms) / 1000);
    if (s >= 3600)
        snprintf(buf, size, "%ld:%02ld:%02ld", s / 3600, s / 60 % 60, s % 60);
    else
        snprintf(buf, size, "%ld:%02ld", s / 60, s % 60);
}

static double row_rate(const line_view *v, const lv_row *r)
{
    int64_t ms = r->prog_elapsed_ms > 0 ? r->prog_elapsed_ms : now_ms(v) - r->phase_started;
    return ms > 0 ? (double)r->done * 1000.0 / (double)ms : 0;
}

/* Display columns of terminal-safe UTF-8, counting any non-ASCII character as two (never under-counted,
 * so a truncated row never wraps). Cuts s to at most max columns. */
static int fit_width(char *s, int max)
{
    int cols = 0;
    for (size_t i = 0; s[i];) {
        unsigned char c = (unsigned char)s[i];
        size_t n = c < 0x80 ? 1 : c >= 0xf0 ? 4 : c >= 0xe0 ? 3 : 2;
        int w = c < 0x80 ? 1 : 2;
        if (cols + w > max) {
            s[i] = 0;
            break;
        }
        cols += w;
        for (size_t k = 0; k < n && s[i]; k++)
            i++;
    }
    return cols;
}

/* A board's row as text (terminal-safe, not yet cut to the width). */
static void row_text(const line_view *v, const lv_row *r, int port_w, char *buf, size_t size)
{
    char *port = cmboot_text_terminal(r->port, NULL), *serial = cmboot_text_terminal(r->serial, NULL),
         *soc = cmboot_text_terminal(r->soc, NULL), *phase = cmboot_text_terminal(r->phase, NULL);
    char tail[400], a[32], b[32], c[32], t[32];
    if (r->finished) {
        human_time(r->elapsed_ms, t, sizeof t);
        human_bytes((double)r->bytes, a, sizeof a);
        if (r->error == CMBOOT_OK) {
            snprintf(tail, sizeof tail, "OK      %s in %s%s", a, t, r->verified ? ", verified" : ", not verified");
        } else {
            char *why = cmboot_text_terminal(r->reason[0] ? r->reason : cmboot_strerror(r->error), NULL);
            snprintf(tail, sizeof tail, "FAILED  after %s: %s", t, why ? why : "?");
            free(why);
        }
    } else if (r->total > 0 || r->done > 0) {
        double rate = row_rate(v, r);
        human_bytes((double)r->done, a, sizeof a);
        human_bytes(rate, c, sizeof c);
        if (r->total > 0) {
            unsigned pct = r->done >= r->total ? 100 : (unsigned)(100.0 * (double)r->done / (double)r->total);
            human_bytes((double)r->total, b, sizeof b);
            copy(t, sizeof t, "--:--");
            if (rate > 0 && r->total >= r->done)
                human_time((int64_t)((double)(r->total - r->done) * 1000.0 / rate), t, sizeof t);
            snprintf(tail, sizeof tail, "%9s / %-9s %3u%%  %9s/s  ETA %s", a, b, pct, c, t);
        } else {
            snprintf(tail, sizeof tail, "%9s  %9s/s", a, c);
        }
    } else {
        human_time(now_ms(v) - r->started, t, sizeof t);
        snprintf(tail, sizeof tail, "%s", t);
    }
    snprintf(buf, size, "%-*s  %-16s  %-7s  %-10s  %s", port_w, port ? port : "?", serial && *serial ? serial : "-",
             soc && *soc ? soc : "-", phase && *phase ? phase : "-", tail);
    free(port);
    free(serial);
    free(soc);
    free(phase);
}

static void summary_text(line_view *v, char *buf, size_t size)
{
    unsigned active = 0;
    for (size_t i = 0; i < v->nrows; i++)
        active += !v->rows[i]->finished;
    int64_t now = now_ms(v);
    int64_t since = v->first_board >= 0 ? now - v->first_board : 0;
    char per_hour[32] = "-", t[32];
    if (since >= 1000)
        snprintf(per_hour, sizeof per_hour, "%.1f", (double)v->done * 3600000.0 / (double)since);
    human_time(since, t, sizeof t);
    snprintf(buf, size, "%u done, %u failed, %u in progress | %s boards/h | %s", v->done, v->failed, active, per_hour,
             t);
}

/* Terminal size: the configured one, else the terminal's, else 80x24. */
static void term_size(const line_view *v, int *w, int *h)
{
    *w = v->cfg.width;
    *h = v->cfg.height;
    if (*w <= 0 || *h <= 0) {
        struct winsize ws;
        if (ioctl(fileno(v->cfg.out), TIOCGWINSZ, &ws) == 0 && ws.ws_col > 0 && ws.ws_row > 0) {
            *w = ws.ws_col;
            *h = ws.ws_row;
        } else {
            *w = 80;
            *h = 24;
        }
    }
    if (*w < LV_MIN_WIDTH)
        *w = LV_MIN_WIDTH;
    if (*h < LV_MIN_HEIGHT)
        *h = LV_MIN_HEIGHT;
}

typedef struct frame {
    char *text;
    size_t len, cap;
} frame;

static void fputs_frame(frame *f, const char *s)
{
    size_t n = strlen(s);
    if (f->len + n + 1 > f->cap) {
        size_t cap = (f->len + n + 1) * 2;
        char *t = realloc(f->text, cap);
        if (!t)
            return;
        f->text = t;
        f->cap = cap;
    }
    memcpy(f->text + f->len, s, n + 1);
    f->len += n;
}

/* Moves back over the frame on the terminal and erases it. Its lines never wrapped when drawn; after the
 * window shrank, a terminal that rewraps (tmux, VTE) holds each on as many lines as the new width needs. */
static void erase_frame(line_view *v, frame *f, int width)
{
    int up = 0;
    for (size_t i = 0; i < v->ndrawn; i++)
        up += v->drawn[i] > width ? (v->drawn[i] + width - 1) / width : 1;
    if (up > 0) {
        char esc[32];
        snprintf(esc, sizeof esc, "\r\033[%dA\033[J", up);
        fputs_frame(f, esc);
    }
    v->ndrawn = 0;
}

static void push_drawn(line_view *v, int cols)
{
    if (v->ndrawn == v->drawn_cap) {
        size_t cap = v->drawn_cap ? v->drawn_cap * 2 : 16;
        int *d = realloc(v->drawn, cap * sizeof *d);
        if (!d)
            return;
        v->drawn = d;
        v->drawn_cap = cap;
    }
    v->drawn[v->ndrawn++] = cols;
}

static int port_width(const line_view *v)
{
    int w = 5;
    for (size_t i = 0; i < v->nrows; i++) {
        int n = (int)strlen(v->rows[i]->port);
        if (n > w)
            w = n < 20 ? n : 20;
    }
    return w;
}

/* A finished row leaves the live area: printed once above it, where the terminal scrolls it away. */
static void retire_row(line_view *v, frame *f, lv_row *r)
{
    char text[1024];
    row_text(v, r, port_width(v), text, sizeof text);
    fputs_frame(f, text);
    fputs_frame(f, "\n");
    remove_row(v, r);
}

/* The live area: a row per board (as many as the terminal's height allows) and the summary. */
static void draw_locked(line_view *v, const char *above)
{
    int width, height;
    term_size(v, &width, &height);
    frame f = {0};
    fputs_frame(&f, "");
    erase_frame(v, &f, width);
    if (above)
        fputs_frame(&f, above);
    if (v->nrows > 0 && !v->cfg.quiet) {
        /* One line stays free below the frame (the cursor's), one holds the summary. */
        size_t max = (size_t)height - 2;
        while (v->nrows > max) {
            lv_row *oldest = NULL;
            for (size_t i = 0; i < v->nrows; i++)
                if (v->rows[i]->finished && (!oldest || v->rows[i]->finished_at < oldest->finished_at))
                    oldest = v->rows[i];
            if (!oldest)
                break;
            retire_row(v, &f, oldest);
        }
        size_t shown = v->nrows <= max ? v->nrows : max - 1;
        int port_w = port_width(v);
        char text[1024];
        for (size_t i = 0; i < shown; i++) {
            row_text(v, v->rows[i], port_w, text, sizeof text);
            int cols = fit_width(text, width - 1);
            fputs_frame(&f, "\033[K");
            fputs_frame(&f, text);
            fputs_frame(&f, "\n");
            push_drawn(v, cols);
        }
        if (shown < v->nrows) {
            snprintf(text, sizeof text, "... and %zu more boards in progress", v->nrows - shown);
            push_drawn(v, fit_width(text, width - 1));
            fputs_frame(&f, text);
            fputs_frame(&f, "\n");
        }
        summary_text(v, text, sizeof text);
        push_drawn(v, fit_width(text, width - 1));
        fputs_frame(&f, text);
        fputs_frame(&f, "\n");
    }
    if (f.text && f.len)
        out_write(v, f.text, f.len);
    free(f.text);
    v->dirty = false;
    v->last_frame = now_ms(v);
}

/* A frame now unless one was drawn less than min_redraw_ms ago (then the ticker or the next event draws it). */
static void changed_locked(line_view *v)
{
    if (!v->cfg.rows || v->cfg.quiet)
        return;
    v->dirty = true;
    if (now_ms(v) - v->last_frame >= (int64_t)v->cfg.min_redraw_ms)
        draw_locked(v, NULL);
}

static void *ticker_main(void *arg)
{
    line_view *v = arg;
    pthread_mutex_lock(&v->mu);
    while (!v->stop) {
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        long ns = ts.tv_nsec + (long)v->cfg.min_redraw_ms * 1000000L;
        ts.tv_sec += ns / 1000000000L;
        ts.tv_nsec = ns % 1000000000L;
        pthread_cond_timedwait(&v->cv, &v->mu, &ts);
        if (v->stop)
            break;
        bool active = false;
        for (size_t i = 0; i < v->nrows && !active; i++)
            active = !v->rows[i]->finished;
        /* A board at work gets a frame a second at least: its rate, ETA and time move without events. */
        if (v->dirty || lv_winch || (active && now_ms(v) - v->last_frame >= 1000)) {
            lv_winch = 0;
            draw_locked(v, NULL);
        }
    }
    pthread_mutex_unlock(&v->mu);
    return NULL;
}

/* ---- the board's state from events ---- */

static const char *or_empty(const char *s)
{
    return s ? s : "";
}

/* The row of the board an event names: a finished row at that port is a board done, and the next one starts. */
static lv_row *board_row(line_view *v, const char *port, bool new_board)
{
    lv_row *r = find_row(v, port);
    if (r && r->finished && new_board) {
        char text[1024];
        row_text(v, r, port_width(v), text, sizeof text - 1);
        strcat(text, "\n");
        remove_row(v, r);
        if (v->cfg.rows && !v->cfg.quiet)
            draw_locked(v, text);
        r = NULL;
    }
    if (!r)
        r = new_row(v, port);
    return r;
}

/* Whether a progress tick goes to the JSON lines and the log file: every N % or N ms, and the last one. */
static bool progress_due(line_view *v, lv_row *r)
{
    int64_t now = now_ms(v);
    unsigned pct = r->total ? (unsigned)(100.0 * (double)r->done / (double)r->total) : 0;
    bool last = r->total && r->done >= r->total;
    unsigned step = v->cfg.json_progress_pct ? v->cfg.json_progress_pct : 10;
    if (last || pct >= r->last_pct + step || now - r->last_prog_ms >= (int64_t)v->cfg.json_progress_ms) {
        r->last_pct = pct - pct % step;
        r->last_prog_ms = now;
        return true;
    }
    return false;
}

static void start_phase(line_view *v, lv_row *r, const char *phase, const char *detail)
{
    copy(r->phase, sizeof r->phase, phase);
    copy(r->detail, sizeof r->detail, detail);
    r->prog_name[0] = 0;
    r->done = r->total = 0;
    r->prog_elapsed_ms = 0;
    r->last_pct = 0;
    r->phase_started = r->last_prog_ms = now_ms(v);
}

void line_view_event(void *user, const cmboot_event *ev)
{
    line_view *v = user;
    if (!v || !ev)
        return;
    const char *port = or_empty(ev->device_id);
    pthread_mutex_lock(&v->mu);
    bool new_board = ev->type == CMBOOT_EV_DEVICE_SEEN || ev->type == CMBOOT_EV_STAGE_START ||
                     (ev->type == CMBOOT_EV_PHASE && strcmp(or_empty(ev->name), "check") == 0);
    lv_row *r = board_row(v, port, new_board);
    if (!r || r->finished) { /* a finished board's late events change nothing */
        pthread_mutex_unlock(&v->mu);
        return;
    }
    if (ev->serial && ev->serial[0] && strcmp(ev->serial, r->serial) != 0) {
        copy(r->serial, sizeof r->serial, ev->serial);
        if (r->log && !r->log_by_serial)
            log_file_rename(v, r);
    }
    if (ev->soc && ev->soc[0])
        copy(r->soc, sizeof r->soc, ev->soc);
    if (ev->stage && ev->stage[0])
        copy(r->stage, sizeof r->stage, ev->stage);
    const char *name = or_empty(ev->name), *value = or_empty(ev->value), *stage = or_empty(ev->stage);
    bool json = !v->cfg.rows && !v->cfg.quiet;
    json_object *o = NULL, *san = NULL;
    switch (ev->type) {
    case CMBOOT_EV_DEVICE_SEEN:
        start_phase(v, r, "found", stage);
        log_file_line(v, r, "[%s] %s board found (%s)", port, r->soc[0] ? r->soc : "?", stage);
        if (json) {
            o = json_begin(v, "board-seen", r, port, &san);
            add_str(o, san, "soc", r->soc);
            add_str(o, san, "stage", stage);
        }
        break;
    case CMBOOT_EV_STAGE_START:
        start_phase(v, r, stage, "");
        log_file_line(v, r, "[%s] stage %s", port, stage);
        if (json) {
            o = json_begin(v, "stage", r, port, &san);
            add_str(o, san, "soc", r->soc);
            add_str(o, san, "stage", stage);
            json_object_object_add(o, "state", json_object_new_string("start"));
        }
        break;
    case CMBOOT_EV_STAGE_DONE:
        log_file_line(v, r, "[%s] %s stage %s in %llu ms%s%s", port, stage, ev->error ? "failed" : "done",
                      (unsigned long long)ev->elapsed_ms, ev->error ? ": " : "", ev->error ? value : "");
        if (json) {
            o = json_begin(v, "stage", r, port, &san);
            add_str(o, san, "stage", stage);
            json_object_object_add(o, "state", json_object_new_string(ev->error ? "failed" : "done"));
            if (ev->error) {
                json_object_object_add(o, "error", json_object_new_string(cmboot_error_name(ev->error)));
                add_str(o, san, "reason", value);
            }
            json_object_object_add(o, "elapsed_ms", json_object_new_int64((int64_t)ev->elapsed_ms));
        }
        break;
    case CMBOOT_EV_FILE:
        copy(r->detail, sizeof r->detail, name);
        log_file_line(v, r, "[%s] file %s: %s (%llu bytes)", port, name, ev->error ? "absent" : value,
                      (unsigned long long)ev->total);
        break;
    case CMBOOT_EV_PROGRESS:
        if (strcmp(r->prog_name, name) != 0) {
            copy(r->prog_name, sizeof r->prog_name, name);
            r->last_pct = 0;
            r->last_prog_ms = now_ms(v);
        }
        r->done = ev->done;
        r->total = ev->total;
        r->prog_elapsed_ms = (int64_t)ev->elapsed_ms;
        if (progress_due(v, r)) {
            log_file_line(v, r, "[%s] %s %llu / %llu bytes", port, name, (unsigned long long)ev->done,
                          (unsigned long long)ev->total);
            if (json) {
                o = json_begin(v, "progress", r, port, &san);
                add_str(o, san, "phase", r->phase);
                add_str(o, san, "name", name);
                json_object_object_add(o, "done", json_object_new_int64((int64_t)ev->done));
                json_object_object_add(o, "total", json_object_new_int64((int64_t)ev->total));
                json_object_object_add(o, "rate_bps", json_object_new_int64((int64_t)row_rate(v, r)));
            }
        }
        break;
    case CMBOOT_EV_METADATA: log_file_line(v, r, "[%s] metadata %s = %s", port, name, value); break;
    case CMBOOT_EV_METADATA_SAVED: log_file_line(v, r, "[%s] metadata written to %s", port, value); break;
    case CMBOOT_EV_CONTROL: /* board control (power, boot mode): a phase of the board's row */
        start_phase(v, r, name, value);
        log_file_line(v, r, "[%s] control %s: %s%s%s", port, name, value, ev->error ? ": " : "",
                      ev->error ? cmboot_strerror(ev->error) : "");
        if (json) {
            o = json_begin(v, "control", r, port, &san);
            add_str(o, san, "step", name);
            add_str(o, san, "detail", value);
            json_object_object_add(o, "ok", json_object_new_boolean(ev->error == CMBOOT_OK));
        }
        break;
    case CMBOOT_EV_BOARD_DONE:
        start_phase(v, r, ev->error ? "boot failed" : "booted", value);
        log_file_line(v, r, "[%s] boot %s: %s", port, ev->error ? "failed" : "done", value);
        if (json) {
            o = json_begin(v, "boot-done", r, port, &san);
            add_str(o, san, "soc", r->soc);
            add_str(o, san, "stage", stage);
            json_object_object_add(o, "result", json_object_new_string(cmboot_error_name(ev->error)));
            if (ev->error)
                add_str(o, san, "reason", value);
        }
        break;
    case CMBOOT_EV_PHASE:
        start_phase(v, r, name, value);
        if (strcmp(name, "write") == 0)
            r->total = ev->total;
        log_file_line(v, r, "[%s] %s %s", port, name, value);
        if (json) {
            o = json_begin(v, "phase", r, port, &san);
            add_str(o, san, "phase", name);
            add_str(o, san, "detail", value);
            if (ev->total)
                json_object_object_add(o, "total", json_object_new_int64((int64_t)ev->total));
            if (ev->error)
                json_object_object_add(o, "error", json_object_new_string(cmboot_error_name(ev->error)));
        }
        break;
    }
    if (o)
        json_end(v, o, san);
    changed_locked(v);
    pthread_mutex_unlock(&v->mu);
}

void line_view_log(void *user, const char *device_id, cmboot_log_level level, const char *msg)
{
    line_view *v = user;
    if (!v)
        return;
    const char *port = or_empty(device_id);
    const char *kind = level <= CMBOOT_LOG_WARN ? (level ? "warning: " : "error: ") : "";
    pthread_mutex_lock(&v->mu);
    lv_row *r = port[0] ? find_row(v, port) : NULL;
    if (r && !r->finished)
        log_file_line(v, r, "[%s] %s%s", port, kind, or_empty(msg));
    if (level > v->cfg.log_level || v->cfg.quiet) {
        pthread_mutex_unlock(&v->mu);
        return;
    }
    if (v->cfg.rows) {
        /* Above the rows: the frame is erased, the line printed, the rows drawn again below it. */
        char *dev = cmboot_text_terminal(port, NULL), *text = cmboot_text_terminal(or_empty(msg), NULL);
        size_t size = (dev ? strlen(dev) : 0) + (text ? strlen(text) : 0) + 32;
        char *line = malloc(size);
        if (line) {
            if (dev && *dev)
                snprintf(line, size, "[%s] %s%s\n", dev, kind, text ? text : "?");
            else
                snprintf(line, size, "%s%s\n", kind, text ? text : "?");
            draw_locked(v, line);
            free(line);
        }
        free(dev);
        free(text);
    } else {
        json_object *san;
        json_object *o = json_begin(v, "log", r, port, &san);
        json_object_object_add(o, "level", json_object_new_string(cmboot_log_level_name(level)));
        add_str(o, san, "message", msg);
        json_end(v, o, san);
    }
    pthread_mutex_unlock(&v->mu);
}

static void json_summary(line_view *v)
{
    unsigned active = 0;
    for (size_t i = 0; i < v->nrows; i++)
        active += !v->rows[i]->finished;
    int64_t since = v->first_board >= 0 ? now_ms(v) - v->first_board : 0;
    json_object *san;
    json_object *o = json_begin(v, "summary", NULL, "", &san);
    json_object_object_add(o, "done", json_object_new_int64(v->done));
    json_object_object_add(o, "failed", json_object_new_int64(v->failed));
    json_object_object_add(o, "in_progress", json_object_new_int64(active));
    json_object_object_add(o, "elapsed_ms", json_object_new_int64(since));
    json_object_object_add(o, "boards_per_hour",
                           json_object_new_double(since > 0 ? (double)v->done * 3600000.0 / (double)since : 0));
    json_end(v, o, san);
}

void line_view_board_finished(line_view *v, const line_view_result *res)
{
    if (!v || !res)
        return;
    const char *port = or_empty(res->port_path);
    pthread_mutex_lock(&v->mu);
    lv_row *r = find_row(v, port);
    if (!r || r->finished)
        r = board_row(v, port, true);
    if (!r) {
        pthread_mutex_unlock(&v->mu);
        return;
    }
    if (res->serial && res->serial[0])
        copy(r->serial, sizeof r->serial, res->serial);
    r->finished = true;
    r->error = res->error;
    copy(r->reason, sizeof r->reason, res->reason);
    r->bytes = res->bytes;
    r->verified = res->verified;
    r->finished_at = now_ms(v);
    r->elapsed_ms = res->elapsed_ms >= 0 ? res->elapsed_ms : r->finished_at - r->started;
    copy(r->phase, sizeof r->phase, res->error ? "failed" : "done");
    if (res->error)
        v->failed++;
    else
        v->done++;
    log_file_line(v, r, "[%s] board %s: %s, %llu bytes written in %lld ms%s", port, res->error ? "failed" : "done",
                  res->error ? (r->reason[0] ? r->reason : cmboot_strerror(res->error)) : "ok",
                  (unsigned long long)r->bytes, (long long)r->elapsed_ms,
                  r->verified ? ", verified" : ", not verified");
    log_file_close(v, r);
    if (!v->cfg.rows) {
        json_object *san;
        json_object *o = json_begin(v, "board-finished", r, port, &san);
        add_str(o, san, "soc", r->soc);
        json_object_object_add(o, "result", json_object_new_string(res->error ? "failed" : "ok"));
        json_object_object_add(o, "error", res->error ? json_object_new_string(cmboot_error_name(res->error)) : NULL);
        add_str(o, san, "reason", r->reason);
        json_object_object_add(o, "bytes", json_object_new_int64((int64_t)r->bytes));
        json_object_object_add(o, "elapsed_ms", json_object_new_int64(r->elapsed_ms));
        json_object_object_add(o, "verified", json_object_new_boolean(r->verified));
        json_end(v, o, san);
        json_summary(v);
    } else if (v->cfg.quiet) {
        char text[1024];
        row_text(v, r, port_width(v), text, sizeof text - 1);
        strcat(text, "\n");
        out_write(v, text, strlen(text));
    } else {
        /* A result is a frame of its own, whatever the frame limit. */
        draw_locked(v, NULL);
    }
    pthread_mutex_unlock(&v->mu);
}

void line_view_refresh(line_view *v)
{
    if (!v || !v->cfg.rows)
        return;
    pthread_mutex_lock(&v->mu);
    draw_locked(v, NULL);
    pthread_mutex_unlock(&v->mu);
}

void line_view_counts(line_view *v, unsigned *done, unsigned *failed, unsigned *active)
{
    pthread_mutex_lock(&v->mu);
    unsigned a = 0;
    for (size_t i = 0; i < v->nrows; i++)
        a += !v->rows[i]->finished;
    if (done)
        *done = v->done;
    if (failed)
        *failed = v->failed;
    if (active)
        *active = a;
    pthread_mutex_unlock(&v->mu);
}

static void stop_ticker(line_view *v)
{
    if (!v->ticker_live)
        return;
    pthread_mutex_lock(&v->mu);
    v->stop = true;
    pthread_cond_signal(&v->cv);
    pthread_mutex_unlock(&v->mu);
    pthread_join(v->ticker, NULL);
    v->ticker_live = false;
}

void line_view_finish(line_view *v)
{
    if (!v)
        return;
    stop_ticker(v);
    pthread_mutex_lock(&v->mu);
    if (v->first_board >= 0) {
        if (!v->cfg.rows) {
            json_summary(v);
        } else if (v->cfg.quiet) {
            char text[256];
            summary_text(v, text, sizeof text - 1);
            strcat(text, "\n");
            out_write(v, text, strlen(text));
        } else {
            draw_locked(v, NULL);
            v->ndrawn = 0; /* the last frame stays */
        }
    }
    for (size_t i = 0; i < v->nrows; i++)
        log_file_close(v, v->rows[i]);
    pthread_mutex_unlock(&v->mu);
}

int line_view_new(const line_view_config *cfg, line_view **out)
{
    *out = NULL;
    line_view *v = calloc(1, sizeof *v);
    if (!v)
        return -ENOMEM;
    v->cfg = *cfg;
    if (!v->cfg.out)
        v->cfg.out = cfg->rows ? stderr : stdout;
    if (!v->cfg.min_redraw_ms)
        v->cfg.min_redraw_ms = 100;
    if (!v->cfg.json_progress_ms)
        v->cfg.json_progress_ms = 5000;
    v->dirfd = -1;
    if (cfg->log_dir) {
        v->dirfd = open(cfg->log_dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (v->dirfd < 0) {
            int e = errno;
            free(v);
            return -e;
        }
    }
    v->cfg.log_dir = NULL; /* the caller's string is not kept */
    pthread_mutex_init(&v->mu, NULL);
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&v->cv, &ca);
    pthread_condattr_destroy(&ca);
    v->t0 = now_ms(v);
    v->first_board = -1;
    v->last_frame = v->t0 - (int64_t)v->cfg.min_redraw_ms;
    if (v->cfg.rows && (v->cfg.width <= 0 || v->cfg.height <= 0)) {
        struct sigaction sa;
        memset(&sa, 0, sizeof sa);
        sa.sa_handler = on_winch;
        sa.sa_flags = SA_RESTART;
        sigemptyset(&sa.sa_mask);
        sigaction(SIGWINCH, &sa, NULL);
    }
    if (v->cfg.rows && v->cfg.ticker)
        v->ticker_live = pthread_create(&v->ticker, NULL, ticker_main, v) == 0;
    *out = v;
    return 0;
}

void line_view_free(line_view *v)
{
    if (!v)
        return;
    stop_ticker(v);
    for (size_t i = 0; i < v->nrows; i++)
        row_free(v, v->rows[i]);
    free(v->rows);
    free(v->drawn);
    if (v->dirfd >= 0)
        close(v->dirfd);
    pthread_cond_destroy(&v->cv);
    pthread_mutex_destroy(&v->mu);
    free(v);
}
