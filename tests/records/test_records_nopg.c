/* The records layer built without libpq (CMB_HAVE_LIBPQ unset, pg_none.c): PostgreSQL unsupported, SQLite intact. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "cmboot/error.h"
#include "cmboot/records.h"

#ifdef CMB_HAVE_LIBPQ
#error "test_records_nopg must be built without CMB_HAVE_LIBPQ"
#endif

typedef struct capture {
    char text[1024];
    int errors;
} capture;

static void capture_log(void *user, const char *device_id, cmboot_log_level level, const char *msg)
{
    capture *c = user;
    (void)device_id;
    if (level == CMBOOT_LOG_ERROR)
        c->errors++;
    size_t used = strlen(c->text);
    snprintf(c->text + used, sizeof c->text - used, "%s\n", msg);
}

static char *make_dir(void)
{
    const char *base = getenv("CMBOOT_TEST_TMP");
    if (base && *base)
        (void)mkdir(base, 0700); /* the first test of a fresh build dir */
    char tmpl[4096];
    snprintf(tmpl, sizeof tmpl, "%s/records-nopg-XXXXXX", base && *base ? base : "/tmp");
    char *dir = strdup(tmpl);
    assert_non_null(dir);
    assert_non_null(mkdtemp(dir));
    return dir;
}

static void expect_unsupported(const char *location)
{
    char *dir = make_dir();
    char outbox[4200];
    snprintf(outbox, sizeof outbox, "%s/outbox.db", dir);
    capture c = {{0}, 0};
    cmboot_records_config cfg;
    cmboot_records_config_default(&cfg);
    cfg.location = location;
    cfg.outbox_path = outbox;
    cfg.log = capture_log;
    cfg.user = &c;
    cmboot_records *r = (cmboot_records *)(uintptr_t)1;
    assert_int_equal(cmboot_records_open(&cfg, &r), CMBOOT_ERR_UNSUPPORTED);
    assert_int_equal(c.errors, 1);
    assert_non_null(strstr(c.text, "built without PostgreSQL support"));
    /* Refused before anything was made: no outbox left behind. */
    assert_int_equal(access(outbox, F_OK), -1);
    rmdir(dir);
    free(dir);
}

static void test_postgresql_location_unsupported(void **state)
{
    (void)state;
    expect_unsupported("postgresql://records@db.example/cmboot");
}

static void test_postgres_scheme_unsupported(void **state)
{
    (void)state;
    expect_unsupported("postgres://x");
}

static void test_sqlite_store_still_works(void **state)
{
    (void)state;
    char *dir = make_dir();
    char path[4200];
    snprintf(path, sizeof path, "%s/records.db", dir);
    cmboot_records_config cfg;
    cmboot_records_config_default(&cfg);
    cfg.location = path;
    cmboot_records *r = NULL;
    assert_int_equal(cmboot_records_open(&cfg, &r), CMBOOT_OK);
    assert_string_equal(cmboot_records_backend(r), "sqlite");
    cmboot_record rec;
    cmboot_record_default(&rec);
    rec.station = "bench";
    rec.serial = "1234abcd";
    rec.image = "image.img";
    rec.result = "ok";
    char id[CMBOOT_RECORD_ID_SIZE];
    assert_int_equal(cmboot_records_add(r, &rec, id), CMBOOT_OK);
    cmboot_record_list *l = NULL;
    assert_int_equal(cmboot_records_query(r, NULL, &l), CMBOOT_OK);
    assert_int_equal(cmboot_record_list_count(l), 1);
    assert_string_equal(cmboot_record_list_get(l, 0)->serial, "1234abcd");
    cmboot_record_list_free(l);
    unsigned pending = 99;
    assert_int_equal(cmboot_records_flush(r, &pending), CMBOOT_OK);
    cmboot_records_close(r);
    unlink(path);
    char side[4300];
    snprintf(side, sizeof side, "%s-wal", path);
    unlink(side);
    snprintf(side, sizeof side, "%s-shm", path);
    unlink(side);
    rmdir(dir);
    free(dir);
}

int main(int argc, char **argv)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_postgresql_location_unsupported),
        cmocka_unit_test(test_postgres_scheme_unsupported),
        cmocka_unit_test(test_sqlite_store_still_works),
    };
    if (argc > 1)
        cmocka_set_test_filter(argv[1]);
    return cmocka_run_group_tests(tests, NULL, NULL);
}
