/* Records: one row per board attempt in SQLite (default) or PostgreSQL (through a local SQLite outbox). */
#ifndef CMBOOT_RECORDS_H
#define CMBOOT_RECORDS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "cmboot/export.h"
#include "cmboot/log.h"

#ifdef __cplusplus
extern "C" {
#endif

/* An attempt id: 36 characters (UUID version 4 form) and the terminator. */
#define CMBOOT_RECORD_ID_SIZE 37

/* One board attempt. Strings may be NULL (stored as NULL); times are milliseconds, -1 = the phase did not run.
 * On cmboot_records_add the strings are the caller's; in a cmboot_record_list they are the list's. */
typedef struct cmboot_record {
    size_t struct_size;                     /* set by cmboot_record_default() (docs/abi.md) */
    char attempt_id[CMBOOT_RECORD_ID_SIZE]; /* "" on add: one is made; the same id again is not a new row */
    int64_t finished_ms;                    /* Unix time of the end of the attempt, ms; 0 on add = now */
    const char *station;                    /* station id (cmboot flash --station, default the host name) */
    const char *port_path;
    const char *serial;
    const char *soc;
    const char *mac;           /* from the board's metadata (MAC_ADDR), NULL when it sent none */
    const char *emmc_cid;      /* metadata EMMC_CID */
    const char *factory_uuid;  /* metadata FACTORY_UUID */
    const char *metadata_json; /* every key the board sent (object text) */
    const char *image;
    int64_t image_size;       /* -1 = unknown */
    const char *image_sha256; /* hex */
    const char *bmap;
    int64_t bytes_written;
    int64_t boot_ms, pair_ms, check_ms, write_ms, sync_ms, verify_ms;
    const char *result; /* "ok" or the error's name ("CMBOOT_ERR_VERIFY") */
    const char *error;  /* sentence, NULL when ok */
    const char *report_json;
} cmboot_record;

/* Empty record (NULL strings, sizes and times -1) into the caller's struct of struct_size bytes. */
CMBOOT_API int cmboot_record_init(cmboot_record *rec, size_t struct_size);
static inline void cmboot_record_default(cmboot_record *rec)
{
    (void)cmboot_record_init(rec, sizeof *rec);
}

/* Fills rec from a flash report (cmboot_flash_report_json): identity, metadata, image, bytes, phases, result.
 * The strings point into *holder, which the caller frees with cmboot_record_holder_free() after the last use
 * of rec. CMBOOT_ERR_FORMAT when report_json is not a report. */
typedef struct cmboot_record_holder cmboot_record_holder;
CMBOOT_API int cmboot_record_from_report(const char *report_json, cmboot_record *rec, cmboot_record_holder **holder);
CMBOOT_API void cmboot_record_holder_free(cmboot_record_holder *holder);

typedef struct cmboot_records_config {
    size_t struct_size;   /* set by cmboot_records_config_default() */
    const char *location; /* NULL = cmboot_records_default_path(); a file path; or "postgresql://..." */
    /* PostgreSQL only: the local SQLite whose outbox holds records until the server has them. NULL = the
     * default path. */
    const char *outbox_path;
    int busy_timeout_ms; /* SQLite lock wait; 0 = 10000 */
    cmboot_log_fn log;   /* optional: why a record is not sent yet, retries */
    void *user;
    /* PostgreSQL only: send the outbox from a background thread (backoff 0.5 s doubling to 30 s); off: only
     * by cmboot_records_flush(). Default on. */
    bool background;
} cmboot_records_config;

CMBOOT_API int cmboot_records_config_init(cmboot_records_config *cfg, size_t struct_size);
static inline void cmboot_records_config_default(cmboot_records_config *cfg)
{
    (void)cmboot_records_config_init(cfg, sizeof *cfg);
}

/* $XDG_STATE_HOME/cmboot/records.db ($HOME/.local/state/... without it); /var/lib/cmboot/records.db for root.
 * CMBOOT_ERR_TOO_LARGE when it does not fit, CMBOOT_ERR_NOT_FOUND without HOME. */
CMBOOT_API int cmboot_records_default_path(char *out, size_t size);

/* A store: thread-safe (one handle shared by the boards of a line); several processes may open the same one. */
typedef struct cmboot_records cmboot_records;

/* Opens (creating the file and its folder) and migrates the store to the current schema. With PostgreSQL
 * the server may be unreachable: the store still opens (records wait in the outbox); the outbox left by an
 * earlier run is sent as soon as the server answers. */
CMBOOT_API int cmboot_records_open(const cmboot_records_config *cfg, cmboot_records **out);
/* Tries once more to send the outbox (bounded), stops the background thread, closes. */
CMBOOT_API void cmboot_records_close(cmboot_records *r);
/* "sqlite" or "postgresql". */
CMBOOT_API const char *cmboot_records_backend(const cmboot_records *r);
/* Schema version of the store (the server's with PostgreSQL). */
CMBOOT_API int cmboot_records_schema_version(cmboot_records *r, int *version);
/* The version cmboot_records_open migrates to. */
CMBOOT_API int cmboot_records_schema_current(void);

/* Stores one attempt; id_out (may be NULL) gets its attempt id. A record whose attempt id is already stored
 * is not stored again (CMBOOT_OK). With PostgreSQL: committed to the local outbox, then sent. */
CMBOOT_API int cmboot_records_add(cmboot_records *r, const cmboot_record *rec, char id_out[CMBOOT_RECORD_ID_SIZE]);
/* PostgreSQL: sends the outbox now; *pending (may be NULL) gets what is still queued. SQLite: nothing to send
 * (0 pending). Returns the connection's error when the server did not take them. */
CMBOOT_API int cmboot_records_flush(cmboot_records *r, unsigned *pending);

typedef struct cmboot_records_filter {
    size_t struct_size; /* set by cmboot_records_filter_default() */
    const char *serial; /* NULL = any */
    int64_t since_ms;   /* finished at or after (Unix ms); 0 = no bound */
    int64_t until_ms;   /* finished before; 0 = no bound */
    const char *result; /* "ok", "failed" or NULL = any */
    const char *image;  /* image path or its file name; NULL = any */
    unsigned limit;     /* 0 = all */
    bool newest_first;  /* default: oldest first */
} cmboot_records_filter;

CMBOOT_API int cmboot_records_filter_init(cmboot_records_filter *f, size_t struct_size);
static inline void cmboot_records_filter_default(cmboot_records_filter *f)
{
    (void)cmboot_records_filter_init(f, sizeof *f);
}

typedef struct cmboot_record_list cmboot_record_list;
/* The records that match (filter NULL = all). "Latest N": limit N, newest_first. */
CMBOOT_API int cmboot_records_query(cmboot_records *r, const cmboot_records_filter *filter, cmboot_record_list **out);
CMBOOT_API size_t cmboot_record_list_count(const cmboot_record_list *l);
/* Valid until the list is freed; NULL past the end. */
CMBOOT_API const cmboot_record *cmboot_record_list_get(const cmboot_record_list *l, size_t index);
CMBOOT_API void cmboot_record_list_free(cmboot_record_list *l);

/* Attempts finished in [since_ms, until_ms) (0 = no bound): ok and not ok. The day's counts: since local
 * midnight (cmboot_records_day_start). */
CMBOOT_API int cmboot_records_counts(cmboot_records *r, int64_t since_ms, int64_t until_ms, unsigned *ok,
                                     unsigned *failed);
/* Local midnight of the day holding t_ms (Unix ms). */
CMBOOT_API int64_t cmboot_records_day_start(int64_t t_ms);

/* Export: one JSON object (caller frees with free()); the CSV header line and one CSV line (RFC 4180
 * quoting; fields that start with = + - @ get a leading ' so a spreadsheet does not run them). */
CMBOOT_API int cmboot_record_json(const cmboot_record *rec, char **out);
CMBOOT_API const char *cmboot_record_csv_header(void);
CMBOOT_API int cmboot_record_csv(const cmboot_record *rec, char **out);

#ifdef __cplusplus
}
#endif
#endif
