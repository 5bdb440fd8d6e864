/* Test helper for tests/records/pg.sh: writes records to a store, pauses at markers, flushes, counts. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "cmboot/error.h"
#include "cmboot/records.h"

static void usage(void)
{
    fprintf(stderr, "usage: records_writer add LOCATION OUTBOX N PREFIX [--fixed-ids] [--pause-at K DIR]\n"
                    "                      [--flush-deadline SEC]\n"
                    "       records_writer count LOCATION OUTBOX [SERIAL]\n"
                    "       records_writer schema LOCATION OUTBOX\n");
}

static int64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void pause_ms(long ms)
{
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

/* Tells the script we reached a point (DIR/NAME.reached) and waits until it says go (DIR/NAME.go). */
static void rendezvous(const char *dir, const char *name)
{
    char p[1024];
    snprintf(p, sizeof p, "%s/%s.reached", dir, name);
    FILE *f = fopen(p, "w");
    if (f)
        fclose(f);
    snprintf(p, sizeof p, "%s/%s.go", dir, name);
    struct stat st;
    int64_t end = now_ms() + 60000;
    while (stat(p, &st) != 0 && now_ms() < end)
        pause_ms(20);
}

static void log_cb(void *user, const char *device_id, cmboot_log_level level, const char *msg)
{
    (void)user;
    (void)device_id;
    fprintf(stderr, "[%s] %s\n", cmboot_log_level_name(level), msg);
}

static cmboot_records *open_store(const char *loc, const char *outbox)
{
    cmboot_records_config cfg;
    cmboot_records_config_default(&cfg);
    cfg.location = loc;
    cfg.outbox_path = outbox;
    cfg.log = log_cb;
    cmboot_records *r = NULL;
    int rc = cmboot_records_open(&cfg, &r);
    if (rc != CMBOOT_OK) {
        fprintf(stderr, "records_writer: open %s: %s\n", loc, cmboot_strerror(rc));
        exit(1);
    }
    return r;
}

int main(int argc, char **argv)
{
    if (argc < 4) {
        usage();
        return 2;
    }
    cmboot_records *r = open_store(argv[2], argv[3]);
    if (strcmp(argv[1], "schema") == 0) {
        int v = -1;
        int rc = cmboot_records_schema_version(r, &v);
        printf("%d %d\n", rc == CMBOOT_OK ? v : rc, cmboot_records_schema_current());
        cmboot_records_close(r);
        return rc == CMBOOT_OK ? 0 : 1;
    }
    if (strcmp(argv[1], "count") == 0) {
        cmboot_records_filter f;
        cmboot_records_filter_default(&f);
        f.serial = argc > 4 ? argv[4] : NULL;
        cmboot_record_list *l = NULL;
        int rc = cmboot_records_query(r, &f, &l);
        printf("%zu\n", cmboot_record_list_count(l));
        cmboot_record_list_free(l);
        cmboot_records_close(r);
        return rc == CMBOOT_OK ? 0 : 1;
    }
    if (strcmp(argv[1], "add") != 0 || argc < 6) {
        usage();
        return 2;
    }
    long n = atol(argv[4]);
    const char *prefix = argv[5];
    bool fixed = false;
    long pause_at = -1;
    const char *dir = NULL;
    long deadline_s = 30;
    for (int i = 6; i < argc; i++) {
        if (strcmp(argv[i], "--fixed-ids") == 0) {
            fixed = true;
        } else if (strcmp(argv[i], "--pause-at") == 0 && i + 2 < argc) {
            pause_at = atol(argv[++i]);
            dir = argv[++i];
        } else if (strcmp(argv[i], "--flush-deadline") == 0 && i + 1 < argc) {
            deadline_s = atol(argv[++i]);
        } else {
            usage();
            return 2;
        }
    }
    for (long i = 0; i < n; i++) {
        if (i == pause_at)
            rendezvous(dir, "paused"); /* the script stops the server here */
        char serial[64];
        snprintf(serial, sizeof serial, "%s-%ld", prefix, i);
        cmboot_record rec;
        cmboot_record_default(&rec);
        if (fixed) /* the same attempt sent by two stations: stored once */
            snprintf(rec.attempt_id, sizeof rec.attempt_id, "00000000-0000-4000-8000-%012ld", i);
        rec.serial = serial;
        rec.station = prefix;
        rec.image = "/img/test.img";
        rec.result = i % 7 == 0 ? "CMBOOT_ERR_VERIFY" : "ok";
        rec.bytes_written = 4096 * i;
        int rc = cmboot_records_add(r, &rec, NULL);
        if (rc != CMBOOT_OK) {
            fprintf(stderr, "records_writer: add: %s\n", cmboot_strerror(rc));
            return 1;
        }
    }
    if (dir)
        rendezvous(dir, "written"); /* the script restarts the server here */
    unsigned pending = 0;
    int64_t end = now_ms() + deadline_s * 1000;
    int rc;
    while ((rc = cmboot_records_flush(r, &pending)) != CMBOOT_OK || pending > 0) {
        if (now_ms() >= end)
            break;
        pause_ms(200);
    }
    printf("pending %u\n", pending);
    cmboot_records_close(r);
    return 0;
}
