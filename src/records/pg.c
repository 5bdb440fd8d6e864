/* PostgreSQL: the same schema on the server, fed from the local outbox with retries and backoff. libpq is
 * loaded on demand (dlopen) the first time a postgresql:// location is opened: a run without one does not pay
 * for it and its dependencies (TLS, Kerberos, LDAP). Its headers are still needed to build. */
#include "records_internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cmboot/error.h"

#ifdef CMB_HAVE_LIBPQ

#include <dlfcn.h>

#define CMB_REC_BACKOFF_MAX_MS 30000
#define CMB_REC_BATCH 200

const bool cmb_rec_pg_built = true;

/* The libpq functions this file calls, resolved from the loaded library. */
struct cmb_pq_fns {
    void *lib;
    PGconn *(*connectdb_params)(const char *const *keys, const char *const *vals, int expand);
    ConnStatusType (*status)(const PGconn *conn);
    char *(*error_message)(const PGconn *conn);
    void (*finish)(PGconn *conn);
    PGresult *(*exec)(PGconn *conn, const char *query);
    PGresult *(*exec_params)(PGconn *conn, const char *command, int nparams, const Oid *types,
                             const char *const *values, const int *lengths, const int *formats, int result_format);
    ExecStatusType (*result_status)(const PGresult *res);
    char *(*result_error_message)(const PGresult *res);
    int (*ntuples)(const PGresult *res);
    int (*getisnull)(const PGresult *res, int row, int col);
    char *(*getvalue)(const PGresult *res, int row, int col);
    void (*clear)(PGresult *res);
};

/* dlsym gives a void *; its bits are the function's address on every POSIX system. */
static void *pq_sym(void *lib, const char *name, const char **missing)
{
    void *f = dlsym(lib, name);
    if (!f && !*missing)
        *missing = name;
    return f;
}

#define CMB_PQ_BIND(field, name) memcpy(&pq->field, &(void *){pq_sym(lib, name, &missing)}, sizeof pq->field)

int cmb_rec_pg_load(cmboot_records *r, const char *soname)
{
    if (r->pq)
        return CMBOOT_OK;
    /* Never unloaded (NODELETE): libpq and its TLS/Kerberos libraries may leave thread or exit handlers. */
    void *lib = dlopen(soname, RTLD_NOW | RTLD_LOCAL | RTLD_NODELETE);
    if (!lib) {
        const char *why = dlerror();
        cmb_rec_log(r, CMBOOT_LOG_ERROR,
                    "records: a postgresql:// location needs libpq, which could not be loaded (%s): install it "
                    "(Debian: libpq5)",
                    why ? why : soname);
        return CMBOOT_ERR_UNSUPPORTED;
    }
    struct cmb_pq_fns *pq = calloc(1, sizeof *pq);
    if (!pq) {
        dlclose(lib);
        return CMBOOT_ERR_NO_MEMORY;
    }
    const char *missing = NULL;
    CMB_PQ_BIND(connectdb_params, "PQconnectdbParams");
    CMB_PQ_BIND(status, "PQstatus");
    CMB_PQ_BIND(error_message, "PQerrorMessage");
    CMB_PQ_BIND(finish, "PQfinish");
    CMB_PQ_BIND(exec, "PQexec");
    CMB_PQ_BIND(exec_params, "PQexecParams");
    CMB_PQ_BIND(result_status, "PQresultStatus");
    CMB_PQ_BIND(result_error_message, "PQresultErrorMessage");
    CMB_PQ_BIND(ntuples, "PQntuples");
    CMB_PQ_BIND(getisnull, "PQgetisnull");
    CMB_PQ_BIND(getvalue, "PQgetvalue");
    CMB_PQ_BIND(clear, "PQclear");
    if (missing) {
        cmb_rec_log(r, CMBOOT_LOG_ERROR,
                    "records: the libpq loaded (%s) has no %s: a postgresql:// location needs a "
                    "newer libpq",
                    soname, missing);
        free(pq);
        dlclose(lib);
        return CMBOOT_ERR_UNSUPPORTED;
    }
    pq->lib = lib;
    r->pq = pq;
    return CMBOOT_OK;
}

static void pg_drop(cmboot_records *r, const char *why)
{
    if (!r->warned)
        cmb_rec_log(r, CMBOOT_LOG_WARN, "records: PostgreSQL unreachable (%s); records wait in the local outbox", why);
    r->warned = true;
    if (r->pg)
        r->pq->finish(r->pg);
    r->pg = NULL;
}

static int pg_exec_ok(const cmboot_records *r, PGresult *res)
{
    ExecStatusType s = r->pq->result_status(res);
    return s == PGRES_COMMAND_OK || s == PGRES_TUPLES_OK ? CMBOOT_OK : CMBOOT_ERR_IO;
}

/* The same migrations as SQLite, in one transaction under an advisory lock (two stations starting together). */
static int pg_migrate(cmboot_records *r)
{
    PGresult *res = r->pq->exec(r->pg, "BEGIN; SELECT pg_advisory_xact_lock(7405000015); CREATE TABLE IF NOT EXISTS "
                                       "schema_version (version INTEGER NOT NULL)");
    int rc = pg_exec_ok(r, res);
    r->pq->clear(res);
    int have = 0;
    if (rc == CMBOOT_OK) {
        res = r->pq->exec(r->pg, "SELECT COALESCE(MAX(version), 0) FROM schema_version");
        rc = pg_exec_ok(r, res);
        if (rc == CMBOOT_OK)
            have = atoi(r->pq->getvalue(res, 0, 0));
        r->pq->clear(res);
    }
    size_t n;
    const cmb_rec_migration *m = cmb_rec_migrations(&n);
    int done = have;
    for (size_t i = 0; rc == CMBOOT_OK && i < n; i++) {
        if (m[i].version <= have)
            continue;
        res = r->pq->exec(r->pg, m[i].sql);
        rc = pg_exec_ok(r, res);
        if (rc != CMBOOT_OK)
            cmb_rec_log(r, CMBOOT_LOG_ERROR, "records: migration %d failed on PostgreSQL: %s", m[i].version,
                        r->pq->result_error_message(res));
        r->pq->clear(res);
        done = m[i].version;
    }
    if (rc == CMBOOT_OK && done != have) {
        char sql[96];
        snprintf(sql, sizeof sql, "DELETE FROM schema_version; INSERT INTO schema_version VALUES (%d)", done);
        res = r->pq->exec(r->pg, sql);
        rc = pg_exec_ok(r, res);
        r->pq->clear(res);
    }
    res = r->pq->exec(r->pg, rc == CMBOOT_OK ? "COMMIT" : "ROLLBACK");
    if (rc == CMBOOT_OK)
        rc = pg_exec_ok(r, res);
    r->pq->clear(res);
    if (rc == CMBOOT_OK && have > cmboot_records_schema_current())
        return CMBOOT_ERR_UNSUPPORTED;
    return rc;
}

int cmb_rec_pg_connect(cmboot_records *r)
{
    if (r->pg && r->pq->status(r->pg) == CONNECTION_OK)
        return CMBOOT_OK;
    if (r->pg)
        pg_drop(r, "connection lost");
    /* A bounded connect: a station must never hang on a dead server. */
    const char *keys[] = {"dbname", "connect_timeout", NULL};
    const char *vals[] = {r->conninfo, "3", NULL};
    r->pg = r->pq->connectdb_params(keys, vals, 1);
    if (!r->pg)
        return CMBOOT_ERR_NO_MEMORY;
    if (r->pq->status(r->pg) != CONNECTION_OK) {
        char why[256];
        snprintf(why, sizeof why, "%s", r->pq->error_message(r->pg));
        why[strcspn(why, "\n")] = 0;
        pg_drop(r, why);
        return CMBOOT_ERR_NO_DEVICE;
    }
    if (!r->pg_migrated) {
        int rc = pg_migrate(r);
        if (rc != CMBOOT_OK) {
            pg_drop(r, "migration failed");
            return rc;
        }
        r->pg_migrated = true;
    }
    if (r->warned)
        cmb_rec_log(r, CMBOOT_LOG_INFO, "records: PostgreSQL reachable again");
    r->warned = false;
    return CMBOOT_OK;
}

int cmb_rec_pg_query(cmboot_records *r, const char *sql, const char *const *params, int nparams, PGresult **out)
{
    *out = NULL;
    int rc = cmb_rec_pg_connect(r);
    if (rc != CMBOOT_OK)
        return rc;
    PGresult *res = r->pq->exec_params(r->pg, sql, nparams, NULL, params, NULL, NULL, 0);
    if (pg_exec_ok(r, res) != CMBOOT_OK) {
        bool lost = r->pq->status(r->pg) != CONNECTION_OK;
        cmb_rec_log(r, CMBOOT_LOG_ERROR, "records: PostgreSQL: %s", r->pq->result_error_message(res));
        r->pq->clear(res);
        if (lost)
            pg_drop(r, "connection lost");
        return lost ? CMBOOT_ERR_NO_DEVICE : CMBOOT_ERR_IO;
    }
    *out = res;
    return CMBOOT_OK;
}

static unsigned outbox_count(cmboot_records *r)
{
    sqlite3_stmt *st = NULL;
    unsigned n = 0;
    if (sqlite3_prepare_v2(r->send_db, "SELECT COUNT(*) FROM outbox", -1, &st, NULL) == SQLITE_OK &&
        sqlite3_step(st) == SQLITE_ROW)
        n = (unsigned)sqlite3_column_int64(st, 0);
    sqlite3_finalize(st);
    return n;
}

/* Sends a batch: each row INSERT ... ON CONFLICT DO NOTHING, then removed from the outbox. A row whose insert
 * reached the server but whose answer was lost is sent again later and meets the conflict: never twice. */
int cmb_rec_pg_send_outbox(cmboot_records *r, unsigned *pending)
{
    int rc = CMBOOT_OK;
    char ins[1024];
    snprintf(ins, sizeof ins,
             "INSERT INTO records (%s) VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9,$10,$11,$12,$13,$14,$15,$16,$17,$18,$19,"
             "$20,$21,$22,$23,$24) ON CONFLICT (attempt_id) DO NOTHING",
             cmb_rec_columns);
    char sel[1024];
    snprintf(sel, sizeof sel,
             "SELECT %s FROM records WHERE attempt_id IN (SELECT attempt_id FROM outbox ORDER BY queued_ms LIMIT %d)",
             cmb_rec_columns, CMB_REC_BATCH);
    for (;;) {
        if (outbox_count(r) == 0)
            break;
        rc = cmb_rec_pg_connect(r);
        if (rc != CMBOOT_OK)
            break;
        sqlite3_stmt *st = NULL;
        if (sqlite3_prepare_v2(r->send_db, sel, -1, &st, NULL) != SQLITE_OK) {
            rc = CMBOOT_ERR_IO;
            break;
        }
        unsigned sent = 0;
        while (rc == CMBOOT_OK && sqlite3_step(st) == SQLITE_ROW) {
            const char *vals[CMB_REC_NCOLS];
            for (int c = 0; c < CMB_REC_NCOLS; c++)
                vals[c] = (const char *)sqlite3_column_text(st, c);
            PGresult *res = r->pq->exec_params(r->pg, ins, CMB_REC_NCOLS, NULL, vals, NULL, NULL, 0);
            rc = pg_exec_ok(r, res);
            if (rc != CMBOOT_OK) {
                bool lost = r->pq->status(r->pg) != CONNECTION_OK;
                if (!lost)
                    cmb_rec_log(r, CMBOOT_LOG_ERROR, "records: PostgreSQL refused a record: %s",
                                r->pq->result_error_message(res));
                else
                    pg_drop(r, "connection lost while sending");
                rc = lost ? CMBOOT_ERR_NO_DEVICE : CMBOOT_ERR_IO;
            }
            r->pq->clear(res);
            if (rc != CMBOOT_OK)
                break;
            sqlite3_stmt *del = NULL;
            if (sqlite3_prepare_v2(r->send_db, "DELETE FROM outbox WHERE attempt_id = ?", -1, &del, NULL) ==
                SQLITE_OK) {
                sqlite3_bind_text(del, 1, vals[0], -1, SQLITE_TRANSIENT);
                if (sqlite3_step(del) != SQLITE_DONE)
                    rc = CMBOOT_ERR_IO;
            } else {
                rc = CMBOOT_ERR_IO;
            }
            sqlite3_finalize(del);
            sent++;
        }
        sqlite3_finalize(st);
        if (rc != CMBOOT_OK || sent == 0)
            break;
    }
    if (rc != CMBOOT_OK) {
        sqlite3_exec(r->send_db, "UPDATE outbox SET tries = tries + 1", NULL, NULL, NULL);
    }
    if (pending)
        *pending = outbox_count(r);
    return rc;
}

static void deadline_in(struct timespec *ts, int64_t ms)
{
    clock_gettime(CLOCK_REALTIME, ts);
    ts->tv_sec += ms / 1000;
    ts->tv_nsec += (long)(ms % 1000) * 1000000L;
    if (ts->tv_nsec >= 1000000000L) {
        ts->tv_sec++;
        ts->tv_nsec -= 1000000000L;
    }
}

/* Sends whenever woken (a record added, the start); after a failure waits the backoff, doubling. */
static void *sender(void *arg)
{
    cmboot_records *r = arg;
    pthread_mutex_lock(&r->wake_mu);
    bool retry = false;
    while (!r->stop) {
        if (!r->wake) {
            if (retry) {
                struct timespec ts;
                deadline_in(&ts, r->backoff_ms);
                if (pthread_cond_timedwait(&r->cond, &r->wake_mu, &ts) != 0 && !r->stop)
                    r->wake = true;
            } else {
                pthread_cond_wait(&r->cond, &r->wake_mu);
            }
            continue;
        }
        r->wake = false;
        pthread_mutex_unlock(&r->wake_mu);
        unsigned pending = 0;
        pthread_mutex_lock(&r->pg_mu);
        int rc = cmb_rec_pg_send_outbox(r, &pending);
        pthread_mutex_unlock(&r->pg_mu);
        pthread_mutex_lock(&r->wake_mu);
        retry = rc != CMBOOT_OK && pending > 0;
        if (retry) {
            r->backoff_ms = r->backoff_ms * 2 > CMB_REC_BACKOFF_MAX_MS ? CMB_REC_BACKOFF_MAX_MS : r->backoff_ms * 2;
            cmb_rec_log(r, CMBOOT_LOG_DEBUG, "records: %u queued, next try in %lld ms", pending,
                        (long long)r->backoff_ms);
        } else {
            r->backoff_ms = 500;
        }
    }
    pthread_mutex_unlock(&r->wake_mu);
    return NULL;
}

int cmb_rec_pg_start(cmboot_records *r)
{
    r->wake = true; /* the outbox an earlier run left goes first */
    if (pthread_create(&r->thread, NULL, sender, r) != 0) {
        r->background = false;
        return CMBOOT_ERR_NO_MEMORY;
    }
    return CMBOOT_OK;
}

void cmb_rec_pg_stop(cmboot_records *r)
{
    if (!r->background)
        return;
    pthread_mutex_lock(&r->wake_mu);
    r->stop = true;
    pthread_cond_signal(&r->cond);
    pthread_mutex_unlock(&r->wake_mu);
    pthread_join(r->thread, NULL);
    r->background = false;
}

int cmb_rec_pg_available(cmboot_records *r)
{
    return cmb_rec_pg_load(r, CMB_REC_LIBPQ_SONAME);
}

void cmb_rec_pg_finish(cmboot_records *r)
{
    if (r->pg)
        r->pq->finish(r->pg);
    r->pg = NULL;
    if (r->pq) {
        dlclose(r->pq->lib);
        free(r->pq);
        r->pq = NULL;
    }
}

int cmb_rec_pg_rows(const cmboot_records *r, const PGresult *res)
{
    return r->pq->ntuples(res);
}

int cmb_rec_pg_isnull(const cmboot_records *r, const PGresult *res, int row, int col)
{
    return r->pq->getisnull(res, row, col);
}

const char *cmb_rec_pg_value(const cmboot_records *r, const PGresult *res, int row, int col)
{
    return r->pq->getvalue(res, row, col);
}

void cmb_rec_pg_clear(const cmboot_records *r, PGresult *res)
{
    r->pq->clear(res);
}

#endif
