/* Records store (SQLite): add and query, retries not duplicated, migrations, concurrent processes, CSV/JSON. */
#include "testutil.h"

#include <dlfcn.h>
#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "cmboot/error.h"
#include "cmboot/records.h"
#include "records/records_internal.h"

static cmboot_records *open_store(const char *path)
{
    cmboot_records_config cfg;
    cmboot_records_config_default(&cfg);
    cfg.location = path;
    cmboot_records *r = NULL;
    assert_int_equal(cmboot_records_open(&cfg, &r), CMBOOT_OK);
    return r;
}

static void add(cmboot_records *r, const char *serial, const char *image, const char *result, int64_t when)
{
    cmboot_record rec;
    cmboot_record_default(&rec);
    rec.serial = serial;
    rec.image = image;
    rec.result = result;
    rec.error = strcmp(result, "ok") == 0 ? NULL : "it failed";
    rec.finished_ms = when;
    rec.station = "st1";
    assert_int_equal(cmboot_records_add(r, &rec, NULL), CMBOOT_OK);
}

static size_t count(cmboot_records *r, const cmboot_records_filter *f)
{
    cmboot_record_list *l = NULL;
    assert_int_equal(cmboot_records_query(r, f, &l), CMBOOT_OK);
    size_t n = cmboot_record_list_count(l);
    cmboot_record_list_free(l);
    return n;
}

static void records_add_and_filter(void **state)
{
    (void)state;
    char *dir = test_tmpdir("records-filter");
    char path[512];
    snprintf(path, sizeof path, "%s/sub/dir/records.db", dir); /* folders are made */
    cmboot_records *r = open_store(path);
    assert_string_equal(cmboot_records_backend(r), "sqlite");
    add(r, "aaa", "/img/os-1.img.xz", "ok", 1000000);
    add(r, "aaa", "/img/os-2.img.xz", "CMBOOT_ERR_VERIFY", 2000000);
    add(r, "bbb", "/img/os-1.img.xz", "ok", 3000000);
    add(r, "ccc", "os-1.img.xz", "CMBOOT_ERR_TIMEOUT", 4000000);
    cmboot_records_filter f;
    cmboot_records_filter_default(&f);
    assert_int_equal(count(r, NULL), 4);
    f.serial = "aaa";
    assert_int_equal(count(r, &f), 2);
    f.serial = NULL;
    f.result = "ok";
    assert_int_equal(count(r, &f), 2);
    f.result = "failed";
    assert_int_equal(count(r, &f), 2);
    f.result = NULL;
    f.image = "os-1.img.xz"; /* by file name: a path ending in /NAME or NAME itself */
    assert_int_equal(count(r, &f), 3);
    f.image = "1.img.xz"; /* not a file name's tail */
    assert_int_equal(count(r, &f), 0);
    f.image = NULL;
    f.since_ms = 2000000;
    f.until_ms = 4000000;
    assert_int_equal(count(r, &f), 2);
    /* latest N, newest first */
    cmboot_records_filter_default(&f);
    f.limit = 2;
    f.newest_first = true;
    cmboot_record_list *l = NULL;
    assert_int_equal(cmboot_records_query(r, &f, &l), CMBOOT_OK);
    assert_int_equal(cmboot_record_list_count(l), 2);
    assert_string_equal(cmboot_record_list_get(l, 0)->serial, "ccc");
    assert_string_equal(cmboot_record_list_get(l, 1)->serial, "bbb");
    assert_null(cmboot_record_list_get(l, 2));
    assert_int_equal(cmboot_record_list_get(l, 0)->boot_ms, -1); /* NULL phase back as -1 */
    assert_string_equal(cmboot_record_list_get(l, 0)->error, "it failed");
    cmboot_record_list_free(l);
    unsigned ok = 0, failed = 0;
    assert_int_equal(cmboot_records_counts(r, 1500000, 0, &ok, &failed), CMBOOT_OK);
    assert_int_equal(ok, 1);
    assert_int_equal(failed, 2);
    cmboot_records_close(r);
    test_rmtree(dir);
    free(dir);
}

static void records_same_attempt_once(void **state)
{
    (void)state;
    char *dir = test_tmpdir("records-once");
    char path[512];
    snprintf(path, sizeof path, "%s/r.db", dir);
    cmboot_records *r = open_store(path);
    cmboot_record rec;
    cmboot_record_default(&rec);
    rec.serial = "x";
    rec.result = "ok";
    char id[CMBOOT_RECORD_ID_SIZE], id2[CMBOOT_RECORD_ID_SIZE];
    assert_int_equal(cmboot_records_add(r, &rec, id), CMBOOT_OK);
    assert_int_equal(strlen(id), 36);
    assert_int_equal(id[14], '4'); /* version 4 */
    memcpy(rec.attempt_id, id, sizeof id);
    assert_int_equal(cmboot_records_add(r, &rec, id2), CMBOOT_OK); /* a retry of the same attempt */
    assert_string_equal(id, id2);
    rec.attempt_id[0] = 0;
    assert_int_equal(cmboot_records_add(r, &rec, id2), CMBOOT_OK); /* a new attempt: a new id */
    assert_string_not_equal(id, id2);
    assert_int_equal(count(r, NULL), 2);
    cmboot_records_close(r);
    /* reopened: still there, the schema current */
    r = open_store(path);
    assert_int_equal(count(r, NULL), 2);
    int v = 0;
    assert_int_equal(cmboot_records_schema_version(r, &v), CMBOOT_OK);
    assert_int_equal(v, cmboot_records_schema_current());
    cmboot_records_close(r);
    test_rmtree(dir);
    free(dir);
}

static void records_migrate_v1_to_current(void **state)
{
    (void)state;
    char *dir = test_tmpdir("records-migrate");
    char path[512];
    snprintf(path, sizeof path, "%s/old.db", dir);
    sqlite3 *db = NULL;
    assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
    assert_int_equal(cmb_rec_sqlite_migrate(db, 1), CMBOOT_OK);
    assert_int_equal(sqlite3_exec(db,
                                  "INSERT INTO records (attempt_id, finished_ms, serial, result) "
                                  "VALUES ('old-1', 5, 'oldserial', 'ok')",
                                  NULL, NULL, NULL),
                     SQLITE_OK);
    /* v1 has no mac column */
    assert_int_not_equal(sqlite3_exec(db, "SELECT mac FROM records", NULL, NULL, NULL), SQLITE_OK);
    sqlite3_close(db);
    cmboot_records *r = open_store(path);
    int v = 0;
    assert_int_equal(cmboot_records_schema_version(r, &v), CMBOOT_OK);
    assert_int_equal(v, cmboot_records_schema_current());
    assert_true(v >= 2);
    cmboot_records_filter f;
    cmboot_records_filter_default(&f);
    f.serial = "oldserial";
    cmboot_record_list *l = NULL;
    assert_int_equal(cmboot_records_query(r, &f, &l), CMBOOT_OK);
    assert_int_equal(cmboot_record_list_count(l), 1);
    assert_null(cmboot_record_list_get(l, 0)->mac);
    cmboot_record_list_free(l);
    cmboot_record rec;
    cmboot_record_default(&rec);
    rec.result = "ok";
    rec.mac = "dc:a6:32:00:00:01";
    assert_int_equal(cmboot_records_add(r, &rec, NULL), CMBOOT_OK);
    assert_int_equal(count(r, NULL), 2);
    cmboot_records_close(r);
    /* a newer database than this cmboot knows is refused, not written */
    assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
    assert_int_equal(sqlite3_exec(db, "UPDATE schema_version SET version = 999", NULL, NULL, NULL), SQLITE_OK);
    sqlite3_close(db);
    cmboot_records_config cfg;
    cmboot_records_config_default(&cfg);
    cfg.location = path;
    assert_int_equal(cmboot_records_open(&cfg, &r), CMBOOT_ERR_UNSUPPORTED);
    test_rmtree(dir);
    free(dir);
}

#define PER_PROC 200

static void records_two_processes(void **state)
{
    (void)state;
    char *dir = test_tmpdir("records-procs");
    char path[512];
    snprintf(path, sizeof path, "%s/shared.db", dir);
    pid_t kids[2];
    for (int k = 0; k < 2; k++) {
        kids[k] = fork();
        assert_true(kids[k] >= 0);
        if (kids[k] == 0) {
            cmboot_records_config cfg;
            cmboot_records_config_default(&cfg);
            cfg.location = path;
            cmboot_records *r = NULL;
            if (cmboot_records_open(&cfg, &r) != CMBOOT_OK)
                _exit(2);
            for (int i = 0; i < PER_PROC; i++) {
                char serial[32];
                snprintf(serial, sizeof serial, "p%d-%d", k, i);
                cmboot_record rec;
                cmboot_record_default(&rec);
                rec.serial = serial;
                rec.result = "ok";
                if (cmboot_records_add(r, &rec, NULL) != CMBOOT_OK)
                    _exit(3);
            }
            cmboot_records_close(r);
            _exit(0);
        }
    }
    for (int k = 0; k < 2; k++) {
        int st = 0;
        assert_int_equal(waitpid(kids[k], &st, 0), kids[k]);
        assert_true(WIFEXITED(st));
        assert_int_equal(WEXITSTATUS(st), 0);
    }
    cmboot_records *r = open_store(path);
    assert_int_equal(count(r, NULL), 2 * PER_PROC);
    sqlite3 *db = NULL;
    assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
    sqlite3_stmt *st = NULL;
    assert_int_equal(
        sqlite3_prepare_v2(db, "SELECT COUNT(DISTINCT serial), COUNT(DISTINCT attempt_id) FROM records", -1, &st, NULL),
        SQLITE_OK);
    assert_int_equal(sqlite3_step(st), SQLITE_ROW);
    assert_int_equal(sqlite3_column_int(st, 0), 2 * PER_PROC);
    assert_int_equal(sqlite3_column_int(st, 1), 2 * PER_PROC);
    sqlite3_finalize(st);
    sqlite3_prepare_v2(db, "PRAGMA journal_mode", -1, &st, NULL);
    assert_int_equal(sqlite3_step(st), SQLITE_ROW);
    assert_string_equal((const char *)sqlite3_column_text(st, 0), "wal");
    sqlite3_finalize(st);
    sqlite3_close(db);
    cmboot_records_close(r);
    test_rmtree(dir);
    free(dir);
}

static void records_from_report(void **state)
{
    (void)state;
    const char *rep = "{\"serial\":\"10000000abcdef\",\"port_path\":\"1-1.3\",\"soc\":\"BCM2711\","
                      "\"metadata\":{\"MAC_ADDR\":\"dc:a6:32:01:02:03\",\"FACTORY_UUID\":\"ABC\"},"
                      "\"image\":\"os.img.xz\",\"bmap\":null,\"image_sha256\":\"abab\",\"image_size\":1000,"
                      "\"bytes_written\":900,\"phases\":{\"boot_ms\":10,\"write_ms\":1234,\"verify_ms\":5},"
                      "\"result\":\"CMBOOT_ERR_VERIFY\",\"reason\":\"mismatch at 4096\"}";
    cmboot_record rec;
    cmboot_record_default(&rec);
    cmboot_record_holder *h = NULL;
    assert_int_equal(cmboot_record_from_report(rep, &rec, &h), CMBOOT_OK);
    assert_string_equal(rec.serial, "10000000abcdef");
    assert_string_equal(rec.mac, "dc:a6:32:01:02:03");
    assert_string_equal(rec.factory_uuid, "ABC");
    assert_null(rec.emmc_cid);
    assert_null(rec.bmap);
    assert_int_equal(rec.image_size, 1000);
    assert_int_equal(rec.write_ms, 1234);
    assert_int_equal(rec.pair_ms, -1);
    assert_string_equal(rec.result, "CMBOOT_ERR_VERIFY");
    assert_string_equal(rec.error, "mismatch at 4096");
    assert_non_null(strstr(rec.metadata_json, "MAC_ADDR"));
    char *js = NULL;
    assert_int_equal(cmboot_record_json(&rec, &js), CMBOOT_OK);
    json_object *o = json_tokener_parse(js);
    assert_non_null(o);
    json_object *v = NULL;
    assert_true(json_object_object_get_ex(o, "metadata", &v));
    assert_true(json_object_is_type(v, json_type_object));
    json_object_put(o);
    free(js);
    cmboot_record_holder_free(h);
    cmboot_record_default(&rec);
    assert_int_equal(cmboot_record_from_report("[1,2]", &rec, &h), CMBOOT_ERR_FORMAT);
    assert_int_equal(cmboot_record_from_report("{\"no\":1}", &rec, &h), CMBOOT_ERR_FORMAT);
}

static void records_csv_escaping(void **state)
{
    (void)state;
    cmboot_record rec;
    cmboot_record_default(&rec);
    memcpy(rec.attempt_id, "id1", 4);
    rec.finished_ms = 0; /* 1970-01-01T00:00:00Z */
    rec.serial = "a,b";
    rec.image = "say \"hi\"\nnow";
    rec.station = "=HYPERLINK(\"x\")";
    rec.result = "ok";
    rec.image_size = 42;
    char *line = NULL;
    assert_int_equal(cmboot_record_csv(&rec, &line), CMBOOT_OK);
    assert_non_null(strstr(line, "id1,1970-01-01T00:00:00Z,\"'=HYPERLINK(\"\"x\"\")\","));
    assert_non_null(strstr(line, ",\"a,b\","));
    assert_non_null(strstr(line, ",\"say \"\"hi\"\"\nnow\",42,"));
    assert_non_null(strstr(line, ",ok,")); /* NULL error: empty last field */
    assert_int_equal(line[strlen(line) - 1], ',');
    /* as many fields as the header */
    size_t commas = 0;
    for (const char *p = cmboot_record_csv_header(); *p; p++)
        commas += *p == ',';
    assert_int_equal(commas, 21);
    free(line);
}

static void keep_log(void *user, const char *device_id, cmboot_log_level level, const char *msg)
{
    (void)device_id;
    (void)level;
    snprintf(user, 512, "%s", msg);
}

static bool libpq_loaded(void)
{
    void *h = dlopen(CMB_REC_LIBPQ_SONAME, RTLD_NOW | RTLD_NOLOAD);
    if (h)
        dlclose(h);
    return h != NULL;
}

/* libpq is loaded when a postgresql:// location is opened, never before: a SQLite run does not pay for it. */
static void records_libpq_on_demand(void **state)
{
    (void)state;
    char *dir = test_tmpdir("records-libpq");
    char path[512];
    snprintf(path, sizeof path, "%s/records.db", dir);
    cmboot_records *r = open_store(path);
    add(r, "aaa", "os.img", "ok", 1000);
    cmboot_records_close(r);
    assert_false(libpq_loaded());

    char outbox[512], log[512] = "";
    snprintf(outbox, sizeof outbox, "%s/outbox.db", dir);
    cmboot_records_config cfg;
    cmboot_records_config_default(&cfg);
    cfg.location = "postgresql://127.0.0.1:1/none";
    cfg.outbox_path = outbox;
    cfg.background = false;
    cfg.log = keep_log;
    cfg.user = log;
    r = NULL;
    int rc = cmboot_records_open(&cfg, &r);
    if (cmb_rec_pg_built) {
        assert_int_equal(rc, CMBOOT_OK);
        assert_string_equal(cmboot_records_backend(r), "postgresql");
        assert_true(libpq_loaded());
        cmboot_records_close(r);
    } else {
        assert_int_equal(rc, CMBOOT_ERR_UNSUPPORTED);
        assert_false(libpq_loaded());
    }
    free(dir);
}

/* A libpq that cannot be loaded, or lacks a function, is unsupported with the reason, never a crash. */
static void records_libpq_missing(void **state)
{
    (void)state;
    char log[512] = "";
    cmboot_records *r = calloc(1, sizeof *r);
    assert_non_null(r);
    r->log = keep_log;
    r->user = log;
    assert_int_equal(cmb_rec_pg_load(r, "libcmboot-no-such-libpq.so.5"), CMBOOT_ERR_UNSUPPORTED);
    assert_null(r->pq);
    if (cmb_rec_pg_built) {
        assert_non_null(strstr(log, "could not be loaded"));
        assert_non_null(strstr(log, "libcmboot-no-such-libpq.so.5"));
        log[0] = 0;
        /* libc is there but is no libpq: the first missing function is named */
        assert_int_equal(cmb_rec_pg_load(r, "libc.so.6"), CMBOOT_ERR_UNSUPPORTED);
        assert_null(r->pq);
        assert_non_null(strstr(log, "has no PQconnectdbParams"));
    } else {
        assert_non_null(strstr(log, "built without PostgreSQL"));
    }
    cmb_rec_pg_finish(r);
    free(r);
}

static void records_default_path(void **state)
{
    (void)state;
    char p[512];
    assert_int_equal(cmboot_records_default_path(p, sizeof p), CMBOOT_OK);
    if (geteuid() == 0) {
        assert_string_equal(p, "/var/lib/cmboot/records.db");
    } else {
        setenv("XDG_STATE_HOME", "/x/state", 1);
        assert_int_equal(cmboot_records_default_path(p, sizeof p), CMBOOT_OK);
        assert_string_equal(p, "/x/state/cmboot/records.db");
    }
    assert_int_equal(cmboot_records_default_path(p, 5), CMBOOT_ERR_TOO_LARGE);
    /* day start: local midnight, at or before the time, within a day */
    int64_t now = 1764770000000LL;
    int64_t d = cmboot_records_day_start(now);
    assert_true(d <= now && now - d < 86400000LL + 3600000LL);
}

static const struct CMUnitTest tests[] = {
    cmocka_unit_test(records_add_and_filter),        cmocka_unit_test(records_same_attempt_once),
    cmocka_unit_test(records_migrate_v1_to_current), cmocka_unit_test(records_two_processes),
    cmocka_unit_test(records_from_report),           cmocka_unit_test(records_csv_escaping),
    cmocka_unit_test(records_default_path),          cmocka_unit_test(records_libpq_on_demand),
    cmocka_unit_test(records_libpq_missing),
};

CMBOOT_TEST_MAIN(tests)
