/* Internal: the records layer's store handle, column list and backends, shared by its files and white-box tests. */
#ifndef CMB_RECORDS_RECORDS_INTERNAL_H
#define CMB_RECORDS_RECORDS_INTERNAL_H

#ifdef CMB_HAVE_LIBPQ
#include <libpq-fe.h>
#else
/* Built without libpq (pg_none.c): the handles stay opaque and are never made. */
typedef struct pg_conn PGconn;
typedef struct pg_result PGresult;
#endif
#include <pthread.h>
#include <sqlite3.h>
#include <stdbool.h>
#include <stdint.h>
#include "cmboot/records.h"

/* Columns of the records table in the order every INSERT and SELECT uses. */
#define CMB_REC_NCOLS 24
extern const char cmb_rec_columns[];

/* A record as column texts (NULL = SQL NULL); buf holds the number texts. */
typedef struct cmb_rec_texts {
    const char *v[CMB_REC_NCOLS];
    char buf[CMB_REC_NCOLS][24];
} cmb_rec_texts;
void cmb_rec_to_texts(const cmboot_record *rec, cmb_rec_texts *t);
/* A record whose strings are copies of vals (owned by *strings, one block); -1 for NULL numbers. */
int cmb_rec_from_texts(const char *const vals[CMB_REC_NCOLS], cmboot_record *rec, char **strings);

/* One migration: the statements that take the schema from version - 1 to version. */
typedef struct cmb_rec_migration {
    int version;
    const char *sql;
} cmb_rec_migration;
/* The ordered list, and its length. */
const cmb_rec_migration *cmb_rec_migrations(size_t *count);

/* Three locks, so that adding a record never waits on the network: mu for db (adds, SQLite queries); pg_mu
 * for the server connection and the sender's own handle on the outbox (sending, PostgreSQL queries); wake_mu
 * for the sender's wake-up state. */
struct cmboot_records {
    pthread_mutex_t mu;
    sqlite3 *db; /* the store (SQLite) or the outbox (PostgreSQL) */
    bool pg_mode;
    char *conninfo;
    pthread_mutex_t pg_mu;
    sqlite3 *send_db; /* the outbox file again, for the sender */
    PGconn *pg;
    struct cmb_pq_fns *pq; /* libpq, loaded when a postgresql:// location is opened (pg.c) */
    bool pg_migrated;
    cmboot_log_fn log;
    void *user;
    /* background sender */
    bool background;
    pthread_t thread;
    pthread_mutex_t wake_mu;
    pthread_cond_t cond;
    bool stop, wake;
    int64_t backoff_ms;
    bool warned;
};

/* Migrates the SQLite database db to `upto` (tests: an older version). */
int cmb_rec_sqlite_migrate(sqlite3 *db, int upto);
/* Opens path as a store (folders made, WAL, busy timeout, migrated). */
int cmb_rec_sqlite_open(const char *path, int busy_ms, sqlite3 **out);
int64_t cmb_rec_now_ms(void);
void cmb_rec_log(cmboot_records *r, cmboot_log_level level, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

/* PostgreSQL side: pg.c with libpq headers (CMB_HAVE_LIBPQ), else pg_none.c, where all of it answers
 * CMBOOT_ERR_UNSUPPORTED. cmb_rec_pg_available: loads libpq (CMBOOT_OK), or CMBOOT_ERR_UNSUPPORTED with the
 * reason logged; no lock needed. */
int cmb_rec_pg_available(cmboot_records *r);
/* The library pg.c loads, and the loader itself (tests: another name); pg_none.c answers unsupported. */
#define CMB_REC_LIBPQ_SONAME "libpq.so.5"
int cmb_rec_pg_load(cmboot_records *r, const char *soname);
/* Whether pg.c (true) or pg_none.c (false) is in this build. */
extern const bool cmb_rec_pg_built;
/* Closes r->pg (NULL: nothing) and unloads libpq. The result accessors are libpq's, for store.c's queries. */
void cmb_rec_pg_finish(cmboot_records *r);
int cmb_rec_pg_rows(const cmboot_records *r, const PGresult *res);
int cmb_rec_pg_isnull(const cmboot_records *r, const PGresult *res, int row, int col);
const char *cmb_rec_pg_value(const cmboot_records *r, const PGresult *res, int row, int col);
void cmb_rec_pg_clear(const cmboot_records *r, PGresult *res);
/* r->pg_mu held. */
int cmb_rec_pg_connect(cmboot_records *r);
int cmb_rec_pg_send_outbox(cmboot_records *r, unsigned *pending);
int cmb_rec_pg_query(cmboot_records *r, const char *sql, const char *const *params, int nparams, PGresult **out);
int cmb_rec_pg_start(cmboot_records *r);
void cmb_rec_pg_stop(cmboot_records *r);

#endif
