/* The records store: SQLite file (WAL, busy timeout, migrations), adding attempts, queries and counts. */
#include "records_internal.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "cmboot/error.h"

/* Portable SQL (SQLite and PostgreSQL): BIGINT is INTEGER affinity in SQLite. Never edit a released step:
 * append one. */
static const cmb_rec_migration migrations[] = {
    {1, "CREATE TABLE records (attempt_id TEXT PRIMARY KEY, finished_ms BIGINT NOT NULL, station TEXT, "
        "port_path TEXT, serial TEXT, soc TEXT, metadata_json TEXT, image TEXT, image_size BIGINT, "
        "image_sha256 TEXT, bmap TEXT, bytes_written BIGINT, boot_ms BIGINT, pair_ms BIGINT, check_ms BIGINT, "
        "write_ms BIGINT, sync_ms BIGINT, verify_ms BIGINT, result TEXT NOT NULL, error TEXT, report_json TEXT)"},
    {2, "ALTER TABLE records ADD COLUMN mac TEXT;"
        "ALTER TABLE records ADD COLUMN emmc_cid TEXT;"
        "ALTER TABLE records ADD COLUMN factory_uuid TEXT;"
        "CREATE INDEX records_serial ON records (serial);"
        "CREATE INDEX records_finished ON records (finished_ms);"
        "CREATE TABLE outbox (attempt_id TEXT PRIMARY KEY, queued_ms BIGINT NOT NULL, tries BIGINT NOT NULL "
        "DEFAULT 0)"},
};

const cmb_rec_migration *cmb_rec_migrations(size_t *count)
{
    *count = sizeof migrations / sizeof migrations[0];
    return migrations;
}

int cmboot_records_schema_current(void)
{
    return migrations[sizeof migrations / sizeof migrations[0] - 1].version;
}

int64_t cmb_rec_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int64_t cmboot_records_day_start(int64_t t_ms)
{
    time_t sec = (time_t)(t_ms / 1000);
    struct tm tm;
    if (!localtime_r(&sec, &tm))
        return 0;
    tm.tm_hour = tm.tm_min = tm.tm_sec = 0;
    tm.tm_isdst = -1;
    return (int64_t)mktime(&tm) * 1000;
}

void cmb_rec_log(cmboot_records *r, cmboot_log_level level, const char *fmt, ...)
{
    if (!r->log)
        return;
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    r->log(r->user, "", level, msg);
}

int cmboot_records_config_init(cmboot_records_config *cfg, size_t struct_size)
{
    if (!cfg || struct_size < sizeof(size_t))
        return CMBOOT_ERR_INVALID_ARG;
    cmboot_records_config d = {.struct_size = sizeof d, .background = true};
    memcpy(cfg, &d, struct_size < sizeof d ? struct_size : sizeof d);
    cfg->struct_size = struct_size;
    return CMBOOT_OK;
}

int cmboot_records_filter_init(cmboot_records_filter *f, size_t struct_size)
{
    if (!f || struct_size < sizeof(size_t))
        return CMBOOT_ERR_INVALID_ARG;
    cmboot_records_filter d = {.struct_size = sizeof d};
    memcpy(f, &d, struct_size < sizeof d ? struct_size : sizeof d);
    f->struct_size = struct_size;
    return CMBOOT_OK;
}

int cmboot_records_default_path(char *out, size_t size)
{
    if (!out || size == 0)
        return CMBOOT_ERR_INVALID_ARG;
    int n;
    const char *xdg = getenv("XDG_STATE_HOME");
    const char *home = getenv("HOME");
    if (geteuid() == 0)
        n = snprintf(out, size, "/var/lib/cmboot/records.db");
    else if (xdg && xdg[0] == '/')
        n = snprintf(out, size, "%s/cmboot/records.db", xdg);
    else if (home && home[0])
        n = snprintf(out, size, "%s/.local/state/cmboot/records.db", home);
    else
        return CMBOOT_ERR_NOT_FOUND;
    return n < 0 || (size_t)n >= size ? CMBOOT_ERR_TOO_LARGE : CMBOOT_OK;
}

/* mkdir -p of path's folder. */
static int make_parent(const char *path)
{
    char dir[4096];
    if (snprintf(dir, sizeof dir, "%s", path) >= (int)sizeof dir)
        return CMBOOT_ERR_TOO_LARGE;
    char *slash = strrchr(dir, '/');
    if (!slash || slash == dir)
        return CMBOOT_OK;
    *slash = 0;
    for (char *p = dir + 1; *p; p++) {
        if (*p != '/')
            continue;
        *p = 0;
        if (mkdir(dir, 0755) != 0 && errno != EEXIST)
            return errno == EACCES ? CMBOOT_ERR_ACCESS : CMBOOT_ERR_IO;
        *p = '/';
    }
    if (mkdir(dir, 0755) != 0 && errno != EEXIST)
        return errno == EACCES ? CMBOOT_ERR_ACCESS : CMBOOT_ERR_IO;
    return CMBOOT_OK;
}

static int sq_err(int rc)
{
    switch (rc) {
    case SQLITE_OK:
    case SQLITE_DONE:
    case SQLITE_ROW: return CMBOOT_OK;
    case SQLITE_BUSY:
    case SQLITE_LOCKED: return CMBOOT_ERR_BUSY;
    case SQLITE_NOMEM: return CMBOOT_ERR_NO_MEMORY;
    case SQLITE_PERM:
    case SQLITE_READONLY:
    case SQLITE_AUTH: return CMBOOT_ERR_ACCESS;
    case SQLITE_CANTOPEN: return CMBOOT_ERR_NOT_FOUND;
    case SQLITE_FULL: return CMBOOT_ERR_NO_SPACE;
    case SQLITE_NOTADB:
    case SQLITE_CORRUPT: return CMBOOT_ERR_FORMAT;
    default: return CMBOOT_ERR_IO;
    }
}

int cmb_rec_sqlite_migrate(sqlite3 *db, int upto)
{
    /* IMMEDIATE: the write lock first, so two processes opening a new file migrate one after the other. */
    int rc = sqlite3_exec(db, "BEGIN IMMEDIATE", NULL, NULL, NULL);
    if (rc != SQLITE_OK)
        return sq_err(rc);
    rc = sqlite3_exec(db, "CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL)", NULL, NULL, NULL);
    int have = 0;
    sqlite3_stmt *st = NULL;
    if (rc == SQLITE_OK)
        rc = sqlite3_prepare_v2(db, "SELECT COALESCE(MAX(version), 0) FROM schema_version", -1, &st, NULL);
    if (rc == SQLITE_OK && sqlite3_step(st) == SQLITE_ROW)
        have = sqlite3_column_int(st, 0);
    sqlite3_finalize(st);
    size_t n;
    const cmb_rec_migration *m = cmb_rec_migrations(&n);
    int done = have;
    for (size_t i = 0; rc == SQLITE_OK && i < n && m[i].version <= upto; i++) {
        if (m[i].version <= have)
            continue;
        rc = sqlite3_exec(db, m[i].sql, NULL, NULL, NULL);
        done = m[i].version;
    }
    if (rc == SQLITE_OK && done != have) {
        char sql[96];
        snprintf(sql, sizeof sql, "DELETE FROM schema_version; INSERT INTO schema_version VALUES (%d)", done);
        rc = sqlite3_exec(db, sql, NULL, NULL, NULL);
    }
    if (rc == SQLITE_OK)
        rc = sqlite3_exec(db, "COMMIT", NULL, NULL, NULL);
    if (rc != SQLITE_OK) {
        sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL);
        return sq_err(rc);
    }
    return have > cmboot_records_schema_current() ? CMBOOT_ERR_UNSUPPORTED : CMBOOT_OK;
}

/* Switching a new file to WAL needs its exclusive lock, and SQLite answers SQLITE_BUSY at once there instead of
 * calling the busy handler when another process is opening the same new file. A file lock has no event to wait
 * on, so this retries the way SQLite's own busy handler does (short growing sleeps) until the busy timeout. */
static int set_wal(sqlite3 *db, int busy_ms)
{
    int waited = 0, step = 1;
    for (;;) {
        int s = sqlite3_exec(db, "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL", NULL, NULL, NULL);
        if ((s != SQLITE_BUSY && s != SQLITE_LOCKED) || waited >= busy_ms)
            return s;
        waited += sqlite3_sleep(step);
        step = step < 50 ? step * 2 : 50;
    }
}

int cmb_rec_sqlite_open(const char *path, int busy_ms, sqlite3 **out)
{
    *out = NULL;
    int rc = make_parent(path);
    if (rc != CMBOOT_OK)
        return rc;
    sqlite3 *db = NULL;
    int s = sqlite3_open_v2(path, &db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_FULLMUTEX, NULL);
    if (s != SQLITE_OK) {
        sqlite3_close(db);
        return sq_err(s);
    }
    sqlite3_busy_timeout(db, busy_ms > 0 ? busy_ms : 10000);
    s = set_wal(db, busy_ms > 0 ? busy_ms : 10000);
    rc = s == SQLITE_OK ? cmb_rec_sqlite_migrate(db, cmboot_records_schema_current()) : sq_err(s);
    if (rc != CMBOOT_OK) {
        sqlite3_close(db);
        return rc;
    }
    *out = db;
    return CMBOOT_OK;
}

static bool is_pg(const char *loc)
{
    return loc && (strncmp(loc, "postgresql://", 13) == 0 || strncmp(loc, "postgres://", 11) == 0);
}

int cmboot_records_open(const cmboot_records_config *cfg_in, cmboot_records **out)
{
    if (!out)
        return CMBOOT_ERR_INVALID_ARG;
    *out = NULL;
    cmboot_records_config cfg;
    cmboot_records_config_default(&cfg);
    if (cfg_in) {
        if (cfg_in->struct_size < sizeof(size_t))
            return CMBOOT_ERR_INVALID_ARG;
        memcpy(&cfg, cfg_in, cfg_in->struct_size < sizeof cfg ? cfg_in->struct_size : sizeof cfg);
        cfg.struct_size = sizeof cfg;
    }
    cmboot_records *r = calloc(1, sizeof *r);
    if (!r)
        return CMBOOT_ERR_NO_MEMORY;
    pthread_mutex_init(&r->mu, NULL);
    pthread_mutex_init(&r->pg_mu, NULL);
    pthread_mutex_init(&r->wake_mu, NULL);
    pthread_cond_init(&r->cond, NULL);
    r->log = cfg.log;
    r->user = cfg.user;
    r->pg_mode = is_pg(cfg.location);
    char path[4096];
    const char *local = r->pg_mode ? cfg.outbox_path : cfg.location;
    /* Before the outbox is made: a build without libpq says so here. */
    int rc = r->pg_mode ? cmb_rec_pg_available(r) : CMBOOT_OK;
    if (rc == CMBOOT_OK && !local) {
        rc = cmboot_records_default_path(path, sizeof path);
        local = path;
    }
    if (rc == CMBOOT_OK)
        rc = cmb_rec_sqlite_open(local, cfg.busy_timeout_ms, &r->db);
    if (rc == CMBOOT_OK && r->pg_mode)
        rc = cmb_rec_sqlite_open(local, cfg.busy_timeout_ms, &r->send_db);
    if (rc == CMBOOT_OK && r->pg_mode) {
        r->conninfo = strdup(cfg.location);
        if (!r->conninfo)
            rc = CMBOOT_ERR_NO_MEMORY;
        r->background = cfg.background;
        r->backoff_ms = 500;
        if (rc == CMBOOT_OK && r->background)
            rc = cmb_rec_pg_start(r);
    }
    if (rc != CMBOOT_OK) {
        r->background = false;
        cmboot_records_close(r);
        return rc;
    }
    *out = r;
    return CMBOOT_OK;
}

void cmboot_records_close(cmboot_records *r)
{
    if (!r)
        return;
    if (r->pg_mode) {
        cmb_rec_pg_stop(r);
        pthread_mutex_lock(&r->pg_mu);
        unsigned pending = 0;
        if (r->send_db && r->conninfo && cmb_rec_pg_send_outbox(r, &pending) != CMBOOT_OK && pending > 0)
            cmb_rec_log(r, CMBOOT_LOG_WARN, "records: %u record(s) stay queued in the local outbox for the next run",
                        pending);
        pthread_mutex_unlock(&r->pg_mu);
        cmb_rec_pg_finish(r);
    }
    sqlite3_close(r->send_db);
    sqlite3_close(r->db);
    free(r->conninfo);
    pthread_cond_destroy(&r->cond);
    pthread_mutex_destroy(&r->wake_mu);
    pthread_mutex_destroy(&r->pg_mu);
    pthread_mutex_destroy(&r->mu);
    free(r);
}

const char *cmboot_records_backend(const cmboot_records *r)
{
    return r && r->pg_mode ? "postgresql" : "sqlite";
}

int cmboot_records_schema_version(cmboot_records *r, int *version)
{
    if (!r || !version)
        return CMBOOT_ERR_INVALID_ARG;
    const char *sql = "SELECT COALESCE(MAX(version), 0) FROM schema_version";
    pthread_mutex_t *mu = r->pg_mode ? &r->pg_mu : &r->mu;
    pthread_mutex_lock(mu);
    int rc;
    if (r->pg_mode) {
        PGresult *res = NULL;
        rc = cmb_rec_pg_query(r, sql, NULL, 0, &res);
        if (rc == CMBOOT_OK)
            *version = atoi(cmb_rec_pg_value(r, res, 0, 0));
        cmb_rec_pg_clear(r, res);
    } else {
        sqlite3_stmt *st = NULL;
        rc = sq_err(sqlite3_prepare_v2(r->db, sql, -1, &st, NULL));
        if (rc == CMBOOT_OK && sqlite3_step(st) == SQLITE_ROW)
            *version = sqlite3_column_int(st, 0);
        sqlite3_finalize(st);
    }
    pthread_mutex_unlock(mu);
    return rc;
}

/* A version 4 UUID from the kernel's random source: unique across stations without coordination. */
static int make_id(char out[CMBOOT_RECORD_ID_SIZE])
{
    unsigned char b[16];
    size_t got = 0;
    while (got < sizeof b) {
        ssize_t n = getrandom(b + got, sizeof b - got, 0);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return CMBOOT_ERR_IO;
        got += (size_t)n;
    }
    b[6] = (unsigned char)((b[6] & 0x0f) | 0x40);
    b[8] = (unsigned char)((b[8] & 0x3f) | 0x80);
    snprintf(out, CMBOOT_RECORD_ID_SIZE, "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x", b[0],
             b[1], b[2], b[3], b[4], b[5], b[6], b[7], b[8], b[9], b[10], b[11], b[12], b[13], b[14], b[15]);
    return CMBOOT_OK;
}

static int bind_texts(sqlite3_stmt *st, const char *const *v, int n, int first)
{
    for (int i = 0; i < n; i++) {
        int s = v[i] ? sqlite3_bind_text(st, first + i, v[i], -1, SQLITE_TRANSIENT) : sqlite3_bind_null(st, first + i);
        if (s != SQLITE_OK)
            return sq_err(s);
    }
    return CMBOOT_OK;
}

int cmboot_records_add(cmboot_records *r, const cmboot_record *rec_in, char id_out[CMBOOT_RECORD_ID_SIZE])
{
    if (!r || !rec_in || rec_in->struct_size < sizeof(size_t))
        return CMBOOT_ERR_INVALID_ARG;
    cmboot_record rec;
    cmboot_record_default(&rec);
    memcpy(&rec, rec_in, rec_in->struct_size < sizeof rec ? rec_in->struct_size : sizeof rec);
    rec.struct_size = sizeof rec;
    rec.attempt_id[CMBOOT_RECORD_ID_SIZE - 1] = 0;
    if (!rec.attempt_id[0] && make_id(rec.attempt_id) != CMBOOT_OK)
        return CMBOOT_ERR_IO;
    if (rec.finished_ms <= 0)
        rec.finished_ms = cmb_rec_now_ms();
    if (!rec.result)
        rec.result = "CMBOOT_ERR_IO";
    cmb_rec_texts t;
    cmb_rec_to_texts(&rec, &t);
    char sql[1024];
    snprintf(sql, sizeof sql,
             "INSERT INTO records (%s) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?) "
             "ON CONFLICT (attempt_id) DO NOTHING",
             cmb_rec_columns);
    pthread_mutex_lock(&r->mu);
    int s = sqlite3_exec(r->db, "BEGIN IMMEDIATE", NULL, NULL, NULL);
    sqlite3_stmt *st = NULL;
    if (s == SQLITE_OK)
        s = sqlite3_prepare_v2(r->db, sql, -1, &st, NULL);
    int rc = sq_err(s);
    if (rc == CMBOOT_OK)
        rc = bind_texts(st, t.v, CMB_REC_NCOLS, 1);
    if (rc == CMBOOT_OK)
        rc = sq_err(sqlite3_step(st));
    bool inserted = rc == CMBOOT_OK && sqlite3_changes(r->db) > 0;
    sqlite3_finalize(st);
    st = NULL;
    if (rc == CMBOOT_OK && r->pg_mode && inserted) {
        /* The outbox row commits with the record: a record is never local-only without being queued. */
        rc = sq_err(
            sqlite3_prepare_v2(r->db, "INSERT INTO outbox (attempt_id, queued_ms) VALUES (?, ?)", -1, &st, NULL));
        char now[24];
        snprintf(now, sizeof now, "%lld", (long long)cmb_rec_now_ms());
        const char *v[2] = {rec.attempt_id, now};
        if (rc == CMBOOT_OK)
            rc = bind_texts(st, v, 2, 1);
        if (rc == CMBOOT_OK)
            rc = sq_err(sqlite3_step(st));
        sqlite3_finalize(st);
    }
    if (rc == CMBOOT_OK)
        rc = sq_err(sqlite3_exec(r->db, "COMMIT", NULL, NULL, NULL));
    if (rc != CMBOOT_OK)
        sqlite3_exec(r->db, "ROLLBACK", NULL, NULL, NULL);
    pthread_mutex_unlock(&r->mu);
    if (rc == CMBOOT_OK && r->pg_mode && r->background) {
        pthread_mutex_lock(&r->wake_mu);
        r->wake = true;
        pthread_cond_signal(&r->cond);
        pthread_mutex_unlock(&r->wake_mu);
    }
    if (rc == CMBOOT_OK && id_out)
        memcpy(id_out, rec.attempt_id, CMBOOT_RECORD_ID_SIZE);
    return rc;
}

int cmboot_records_flush(cmboot_records *r, unsigned *pending)
{
    if (pending)
        *pending = 0;
    if (!r)
        return CMBOOT_ERR_INVALID_ARG;
    if (!r->pg_mode)
        return CMBOOT_OK;
    pthread_mutex_lock(&r->pg_mu);
    unsigned p = 0;
    int rc = cmb_rec_pg_send_outbox(r, &p);
    pthread_mutex_unlock(&r->pg_mu);
    if (pending)
        *pending = p;
    return rc;
}

/* ---- queries: one SQL text for both backends, placeholders ? or $n ---- */

typedef struct qbuild {
    char sql[2048];
    const char *params[8];
    int n;
    bool pg;
} qbuild;

/* Appends before, the next parameter's placeholder, after. */
static void q_add(qbuild *q, const char *before, const char *param, const char *after)
{
    size_t len = strlen(q->sql);
    q->params[q->n++] = param;
    if (q->pg)
        snprintf(q->sql + len, sizeof q->sql - len, "%s$%d%s", before, q->n, after);
    else
        snprintf(q->sql + len, sizeof q->sql - len, "%s?%s", before, after);
}

static void q_where(qbuild *q, const cmboot_records_filter *f, char nums[2][24])
{
    strcat(q->sql, " WHERE 1=1");
    if (f->serial)
        q_add(q, " AND serial = ", f->serial, "");
    if (f->since_ms > 0) {
        snprintf(nums[0], 24, "%lld", (long long)f->since_ms);
        q_add(q, " AND finished_ms >= CAST(", nums[0], " AS BIGINT)");
    }
    if (f->until_ms > 0) {
        snprintf(nums[1], 24, "%lld", (long long)f->until_ms);
        q_add(q, " AND finished_ms < CAST(", nums[1], " AS BIGINT)");
    }
    if (f->result)
        strcat(q->sql, strcmp(f->result, "ok") == 0 ? " AND result = 'ok'" : " AND result <> 'ok'");
    if (f->image) {
        q_add(q, " AND (image = CAST(", f->image, " AS TEXT)");
        q_add(q, " OR substr(image, length(image) - length(CAST(", f->image, " AS TEXT))) = ");
        q_add(q, "'/' || CAST(", f->image, " AS TEXT))");
    }
}

struct cmboot_record_list {
    size_t count;
    cmboot_record *recs;
    char **strings;
};

void cmboot_record_list_free(cmboot_record_list *l)
{
    if (!l)
        return;
    for (size_t i = 0; i < l->count; i++)
        free(l->strings[i]);
    free(l->strings);
    free(l->recs);
    free(l);
}

size_t cmboot_record_list_count(const cmboot_record_list *l)
{
    return l ? l->count : 0;
}

const cmboot_record *cmboot_record_list_get(const cmboot_record_list *l, size_t i)
{
    return l && i < l->count ? &l->recs[i] : NULL;
}

static int list_push(cmboot_record_list *l, size_t *cap, const char *const vals[CMB_REC_NCOLS])
{
    if (l->count == *cap) {
        size_t nc = *cap ? *cap * 2 : 16;
        cmboot_record *nr = realloc(l->recs, nc * sizeof *nr);
        if (!nr)
            return CMBOOT_ERR_NO_MEMORY;
        l->recs = nr;
        char **ns = realloc(l->strings, nc * sizeof *ns);
        if (!ns)
            return CMBOOT_ERR_NO_MEMORY;
        l->strings = ns;
        *cap = nc;
    }
    int rc = cmb_rec_from_texts(vals, &l->recs[l->count], &l->strings[l->count]);
    if (rc == CMBOOT_OK)
        l->count++;
    return rc;
}

int cmboot_records_query(cmboot_records *r, const cmboot_records_filter *f_in, cmboot_record_list **out)
{
    if (!r || !out)
        return CMBOOT_ERR_INVALID_ARG;
    *out = NULL;
    cmboot_records_filter f;
    cmboot_records_filter_default(&f);
    if (f_in) {
        if (f_in->struct_size < sizeof(size_t))
            return CMBOOT_ERR_INVALID_ARG;
        memcpy(&f, f_in, f_in->struct_size < sizeof f ? f_in->struct_size : sizeof f);
    }
    qbuild q = {.pg = r->pg_mode};
    char nums[2][24];
    snprintf(q.sql, sizeof q.sql, "SELECT %s FROM records", cmb_rec_columns);
    q_where(&q, &f, nums);
    size_t len = strlen(q.sql);
    snprintf(q.sql + len, sizeof q.sql - len, " ORDER BY finished_ms %s, attempt_id", f.newest_first ? "DESC" : "ASC");
    if (f.limit) {
        len = strlen(q.sql);
        snprintf(q.sql + len, sizeof q.sql - len, " LIMIT %u", f.limit);
    }
    cmboot_record_list *l = calloc(1, sizeof *l);
    if (!l)
        return CMBOOT_ERR_NO_MEMORY;
    size_t cap = 0;
    int rc;
    pthread_mutex_t *mu = r->pg_mode ? &r->pg_mu : &r->mu;
    pthread_mutex_lock(mu);
    if (r->pg_mode) {
        PGresult *res = NULL;
        rc = cmb_rec_pg_query(r, q.sql, q.params, q.n, &res);
        for (int i = 0; rc == CMBOOT_OK && i < cmb_rec_pg_rows(r, res); i++) {
            const char *vals[CMB_REC_NCOLS];
            for (int c = 0; c < CMB_REC_NCOLS; c++)
                vals[c] = cmb_rec_pg_isnull(r, res, i, c) ? NULL : cmb_rec_pg_value(r, res, i, c);
            rc = list_push(l, &cap, vals);
        }
        cmb_rec_pg_clear(r, res);
    } else {
        sqlite3_stmt *st = NULL;
        rc = sq_err(sqlite3_prepare_v2(r->db, q.sql, -1, &st, NULL));
        if (rc == CMBOOT_OK)
            rc = bind_texts(st, q.params, q.n, 1);
        int s = SQLITE_ROW;
        while (rc == CMBOOT_OK && (s = sqlite3_step(st)) == SQLITE_ROW) {
            const char *vals[CMB_REC_NCOLS];
            for (int c = 0; c < CMB_REC_NCOLS; c++)
                vals[c] = (const char *)sqlite3_column_text(st, c);
            rc = list_push(l, &cap, vals);
        }
        if (rc == CMBOOT_OK && s != SQLITE_DONE)
            rc = sq_err(s);
        sqlite3_finalize(st);
    }
    pthread_mutex_unlock(mu);
    if (rc != CMBOOT_OK) {
        cmboot_record_list_free(l);
        return rc;
    }
    *out = l;
    return CMBOOT_OK;
}

int cmboot_records_counts(cmboot_records *r, int64_t since_ms, int64_t until_ms, unsigned *ok, unsigned *failed)
{
    if (!r)
        return CMBOOT_ERR_INVALID_ARG;
    cmboot_records_filter f;
    cmboot_records_filter_default(&f);
    f.since_ms = since_ms;
    f.until_ms = until_ms;
    qbuild q = {.pg = r->pg_mode};
    char nums[2][24];
    snprintf(q.sql, sizeof q.sql,
             "SELECT COALESCE(SUM(CASE WHEN result = 'ok' THEN 1 ELSE 0 END), 0), "
             "COALESCE(SUM(CASE WHEN result <> 'ok' THEN 1 ELSE 0 END), 0) FROM records");
    q_where(&q, &f, nums);
    long long a = 0, b = 0;
    int rc;
    pthread_mutex_t *mu = r->pg_mode ? &r->pg_mu : &r->mu;
    pthread_mutex_lock(mu);
    if (r->pg_mode) {
        PGresult *res = NULL;
        rc = cmb_rec_pg_query(r, q.sql, q.params, q.n, &res);
        if (rc == CMBOOT_OK) {
            a = atoll(cmb_rec_pg_value(r, res, 0, 0));
            b = atoll(cmb_rec_pg_value(r, res, 0, 1));
        }
        cmb_rec_pg_clear(r, res);
    } else {
        sqlite3_stmt *st = NULL;
        rc = sq_err(sqlite3_prepare_v2(r->db, q.sql, -1, &st, NULL));
        if (rc == CMBOOT_OK)
            rc = bind_texts(st, q.params, q.n, 1);
        if (rc == CMBOOT_OK && sqlite3_step(st) == SQLITE_ROW) {
            a = sqlite3_column_int64(st, 0);
            b = sqlite3_column_int64(st, 1);
        }
        sqlite3_finalize(st);
    }
    pthread_mutex_unlock(mu);
    if (ok)
        *ok = (unsigned)a;
    if (failed)
        *failed = (unsigned)b;
    return rc;
}
