/* Unit tests of metadata: JSON escaping through json-c, C40 FACTORY_UUID vectors, safe file naming, atomic
 * files that nothing planted in the directory can block or hijack, one file per board in a run. */
#include <errno.h>
#include <fcntl.h>
#include <json-c/json.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "cmboot/cmboot.h"
#include "cmboot/metadata.h"
#include "metadata/metadata_internal.h"
#include "testutil.h"
#include "text_check.h"

/* Independent C40 encoder for the vectors: three values per half-word, h = v1*1600 + v2*40 + v3 + 1. */
static unsigned c40_val(char c)
{
    return c >= '0' && c <= '9' ? (unsigned)(c - '0' + 4) : (unsigned)(c - 'A' + 14);
}

static void encode_c40(const char *text, char *out, size_t size)
{
    size_t n = strlen(text), pos = 0;
    out[0] = 0;
    for (size_t i = 0; i < n; i += 6) {
        unsigned half[2] = {0, 0};
        for (int h = 0; h < 2 && i + 3 * (size_t)h < n; h++) {
            const char *t = text + i + 3 * h;
            half[h] = c40_val(t[0]) * 1600 + c40_val(t[1]) * 40 + c40_val(t[2]) + 1;
        }
        pos += (size_t)snprintf(out + pos, size - pos, "%s%08x", pos ? "_" : "", half[1] << 16 | half[0]);
    }
}

static void test_c40_vectors(void **state)
{
    (void)state;
    char enc[256], dec[128];
    const char *vectors[] = {"AB1", "7F3K9Q", "ZZZ000", "0123456789AB", "CM4SERIAL123"};
    for (size_t i = 0; i < sizeof vectors / sizeof vectors[0]; i++) {
        encode_c40(vectors[i], enc, sizeof enc);
        assert_int_equal(cmboot_c40_decode(enc, dec, sizeof dec), CMBOOT_OK);
        assert_string_equal(dec, vectors[i]);
    }
    /* hand-checked: "AB1" -> 14*1600 + 15*40 + 5 + 1 = 23006 = 0x59de */
    assert_int_equal(cmboot_c40_decode("000059de", dec, sizeof dec), CMBOOT_OK);
    assert_string_equal(dec, "AB1");
    /* a zero word ends the list */
    assert_int_equal(cmboot_c40_decode("000059de_00000000_000059de", dec, sizeof dec), CMBOOT_OK);
    assert_string_equal(dec, "AB1");
}

static void test_c40_rejects_garbage(void **state)
{
    (void)state;
    char dec[8];
    assert_int_equal(cmboot_c40_decode("xyz", dec, sizeof dec), CMBOOT_ERR_FORMAT);
    assert_int_equal(cmboot_c40_decode("123456789", dec, sizeof dec), CMBOOT_ERR_FORMAT);
    assert_int_equal(cmboot_c40_decode("59de;rm", dec, sizeof dec), CMBOOT_ERR_FORMAT);
    /* values outside '0'..'9' / 'A'..'Z' (shift 0..3, 40+) make the value undecodable, as in the reference,
     * instead of silently shortening it: 1 = values 0,0,0; 0xfa01 -> first value 40 */
    assert_int_equal(cmboot_c40_decode("00000001", dec, sizeof dec), CMBOOT_ERR_FORMAT);
    assert_int_equal(cmboot_c40_decode("0000fa01", dec, sizeof dec), CMBOOT_ERR_FORMAT);
    /* a word whose low half is 0 but high half is not */
    assert_int_equal(cmboot_c40_decode("59de0000", dec, sizeof dec), CMBOOT_ERR_FORMAT);
    /* output bound respected */
    char enc[64];
    encode_c40("ABCDEFGHIJKL", enc, sizeof enc);
    assert_int_equal(cmboot_c40_decode(enc, dec, sizeof dec), CMBOOT_ERR_TOO_LARGE);
}

static void test_metadata_json_escaping(void **state)
{
    (void)state;
    cmboot_metadata *md;
    assert_int_equal(cmboot_metadata_new(&md), CMBOOT_OK);
    assert_int_equal(cmboot_metadata_set(md, "MAC_ADDR", "d8:3a:dd:05:ee:78"), CMBOOT_OK);
    assert_int_equal(cmboot_metadata_set(md, "EVIL", "\"},{\"x\":\"\\"), CMBOOT_OK);
    assert_int_equal(cmboot_metadata_set(md, "FACTORY_UUID", "000059de"), CMBOOT_OK);
    char *json;
    assert_int_equal(cmboot_metadata_to_json(md, &json), CMBOOT_OK);
    json_object *o = json_tokener_parse(json);
    assert_non_null(o);
    json_object *v;
    assert_true(json_object_object_get_ex(o, "EVIL", &v));
    assert_string_equal(json_object_get_string(v), "\"},{\"x\":\"\\");
    assert_true(json_object_object_get_ex(o, "FACTORY_UUID", &v));
    assert_string_equal(json_object_get_string(v), "AB1");
    assert_true(json_object_object_get_ex(o, "MAC_ADDR", &v));
    assert_int_equal(json_object_object_length(o), 4); /* + FACTORY_UUID_RAW */
    json_object_put(o);
    free(json);
    cmboot_metadata_free(md);
}

static void test_metadata_bounds(void **state)
{
    (void)state;
    cmboot_metadata *md;
    assert_int_equal(cmboot_metadata_new(&md), CMBOOT_OK);
    char key[16];
    int rc = CMBOOT_OK, n = 0;
    while (rc == CMBOOT_OK && n < 1000) {
        snprintf(key, sizeof key, "K%d", n++);
        rc = cmboot_metadata_set(md, key, "v");
    }
    assert_int_equal(rc, CMBOOT_ERR_TOO_LARGE);
    assert_true(n < 1000);
    assert_int_equal(cmboot_metadata_set(md, "K0", "replaced"), CMBOOT_OK); /* existing key still updatable */
    char big[400];
    memset(big, 'x', sizeof big - 1);
    big[sizeof big - 1] = 0;
    assert_int_equal(cmboot_metadata_set(md, "K1", big), CMBOOT_ERR_TOO_LARGE);
    cmboot_metadata_free(md);
}

static void test_metadata_write_file(void **state)
{
    (void)state;
    char *dir = test_tmpdir("md");
    cmboot_metadata *md;
    assert_int_equal(cmboot_metadata_new(&md), CMBOOT_OK);
    assert_int_equal(cmboot_metadata_set(md, "BOOT_ROM", "0x1234"), CMBOOT_OK);
    char path[4096];
    assert_int_equal(cmboot_metadata_write(md, dir, "af04b2da", path, sizeof path), CMBOOT_OK);
    json_object *o = json_object_from_file(path);
    assert_non_null(o);
    json_object *v;
    assert_true(json_object_object_get_ex(o, "BOOT_ROM", &v));
    json_object_put(o);
    assert_non_null(strstr(path, "/af04b2da.json"));
    /* serials come from the device: nothing that names another place */
    assert_int_equal(cmboot_metadata_write(md, dir, "../evil", path, sizeof path), CMBOOT_ERR_UNSAFE_NAME);
    assert_int_equal(cmboot_metadata_write(md, dir, "a/b", path, sizeof path), CMBOOT_ERR_UNSAFE_NAME);
    assert_int_equal(cmboot_metadata_write(md, dir, ".hidden", path, sizeof path), CMBOOT_ERR_UNSAFE_NAME);
    cmboot_metadata_free(md);
    test_rmtree(dir);
    free(dir);
}

/* Parses text with a strict parser that also rejects invalid UTF-8. */
static json_object *parse_strict(const char *text)
{
    json_tokener *tok = json_tokener_new();
    json_tokener_set_flags(tok, JSON_TOKENER_STRICT | JSON_TOKENER_VALIDATE_UTF8);
    json_object *o = json_tokener_parse_ex(tok, text, (int)strlen(text));
    json_tokener_free(tok);
    return o;
}

static const char *get_str(json_object *o, const char *key)
{
    json_object *v = NULL;
    assert_true(json_object_object_get_ex(o, key, &v));
    return json_object_get_string(v);
}

static void metadata_invalid_utf8_escaped_and_listed(void **state)
{
    (void)state;
    cmboot_metadata *md;
    assert_int_equal(cmboot_metadata_new(&md), CMBOOT_OK);
    assert_int_equal(cmboot_metadata_set(md, "MAC_ADDR", "d8:3a:dd:05:ee:78"), CMBOOT_OK);
    /* invalid bytes of every kind, then valid but hostile characters (C1 CSI, RLO) */
    assert_int_equal(cmboot_metadata_set(md, "BAD", "\xff\xfe\xc0\xaf\xed\xa0\x80\xf4\x90\x80\x80\xe2\x82"), CMBOOT_OK);
    assert_int_equal(cmboot_metadata_set(md, "SHOWY",
                                         "a\xc2\x9b"
                                         "2Jb\xe2\x80\xae"
                                         "cd"),
                     CMBOOT_OK);
    assert_int_equal(cmboot_metadata_set(md, "K\xff", "v"), CMBOOT_OK); /* through the API, keys too */
    char *json;
    assert_int_equal(cmboot_metadata_to_json(md, &json), CMBOOT_OK);
    assert_true(text_utf8_valid(json));
    assert_false(text_has_raw_hazard(json));
    json_object *o = parse_strict(json);
    assert_non_null(o);
    assert_string_equal(get_str(o, "BAD"), "\\xff\\xfe\\xc0\\xaf\\xed\\xa0\\x80\\xf4\\x90\\x80\\x80\\xe2\\x82");
    assert_string_equal(get_str(o, "SHOWY"), "a\xc2\x9b"
                                             "2Jb\xe2\x80\xae"
                                             "cd"); /* same value, escaped as \u */
    assert_string_equal(get_str(o, "K\\xff"), "v");
    assert_string_equal(get_str(o, "MAC_ADDR"), "d8:3a:dd:05:ee:78");
    json_object *san = NULL;
    assert_true(json_object_object_get_ex(o, CMBOOT_METADATA_SANITIZED_KEY, &san));
    assert_int_equal(json_object_array_length(san), 2);
    assert_string_equal(json_object_get_string(json_object_array_get_idx(san, 0)), "BAD");
    assert_string_equal(json_object_get_string(json_object_array_get_idx(san, 1)), "K\\xff");
    json_object_put(o);
    free(json);
    /* clean metadata carries no marker, and the marker is not a key anyone can set */
    assert_int_equal(cmboot_metadata_set(md, CMBOOT_METADATA_SANITIZED_KEY, "x"), CMBOOT_ERR_INVALID_ARG);
    cmboot_metadata *clean;
    assert_int_equal(cmboot_metadata_new(&clean), CMBOOT_OK);
    assert_int_equal(cmboot_metadata_set(clean, "MAC_ADDR", "d8:3a:dd:05:ee:78"), CMBOOT_OK);
    assert_int_equal(cmboot_metadata_to_json(clean, &json), CMBOOT_OK);
    assert_null(strstr(json, CMBOOT_METADATA_SANITIZED_KEY));
    free(json);
    cmboot_metadata_free(clean);
    cmboot_metadata_free(md);
}

static char *read_text(const char *path)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    char *buf = calloc(1, 65536);
    size_t n = fread(buf, 1, 65535, f);
    buf[n] = 0;
    fclose(f);
    return buf;
}

static size_t count_entries(const char *dir)
{
    char cmd[4200];
    snprintf(cmd, sizeof cmd, "ls -A '%s' | wc -l", dir);
    FILE *p = popen(cmd, "r");
    unsigned n = 0;
    assert_int_equal(fscanf(p, "%u", &n), 1);
    pclose(p);
    return n;
}

static cmboot_metadata *md_with(const char *key, const char *value)
{
    cmboot_metadata *md;
    assert_int_equal(cmboot_metadata_new(&md), CMBOOT_OK);
    assert_int_equal(cmboot_metadata_set(md, key, value), CMBOOT_OK);
    return md;
}

/* The name a writer of DIR/SERIAL.json would use if it derived its temporary name from what it knows. */
static void predictable_tmp_of(char *out, size_t size, const char *dir, const char *serial, pid_t pid)
{
    snprintf(out, size, "%s/.%s.json.%ld.tmp", dir, serial, (long)pid);
}

static void predictable_tmp(char *out, size_t size, const char *dir, const char *serial)
{
    predictable_tmp_of(out, size, dir, serial, getpid());
}

static void metadata_write_fifo_at_temp_name_does_not_block(void **state)
{
    (void)state;
    char *dir = test_tmpdir("md-fifo");
    char fifo[4200];
    /* In a child with a deadline: a writer that opens the FIFO blocks for ever (nobody reads it). */
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        alarm(10);
        predictable_tmp(fifo, sizeof fifo, dir, "af04b2da");
        if (mkfifo(fifo, 0644) != 0)
            _exit(2);
        cmboot_metadata *md = md_with("BOOT_ROM", "0x1234");
        char path[4096];
        int rc = cmboot_metadata_write(md, dir, "af04b2da", path, sizeof path);
        _exit(rc == CMBOOT_OK ? 0 : 1);
    }
    int status = 0;
    assert_int_equal(waitpid(pid, &status, 0), pid);
    assert_false(WIFSIGNALED(status)); /* SIGALRM: the writer hung on the FIFO */
    assert_int_equal(WEXITSTATUS(status), 0);
    predictable_tmp_of(fifo, sizeof fifo, dir, "af04b2da", pid);
    struct stat st;
    assert_int_equal(lstat(fifo, &st), 0);
    assert_true(S_ISFIFO(st.st_mode)); /* left alone */
    char final[4200];
    snprintf(final, sizeof final, "%s/af04b2da.json", dir);
    char *text = read_text(final);
    assert_non_null(text);
    assert_non_null(strstr(text, "0x1234"));
    free(text);
    test_rmtree(dir);
    free(dir);
}

static void metadata_write_planted_temp_link_not_hijacked(void **state)
{
    (void)state;
    char *dir = test_tmpdir("md-hijack");
    /* a file elsewhere, hard-linked and symlinked at names a writer could pick */
    char victim[4200], link_name[4200];
    snprintf(victim, sizeof victim, "%s/victim", dir);
    assert_int_equal(mkdir(strcat(strcpy(link_name, dir), "/out"), 0755), 0);
    FILE *f = fopen(victim, "w");
    fputs("precious", f);
    fclose(f);
    char out_dir[4200];
    snprintf(out_dir, sizeof out_dir, "%s/out", dir);
    predictable_tmp(link_name, sizeof link_name, out_dir, "hard");
    assert_int_equal(link(victim, link_name), 0);
    predictable_tmp(link_name, sizeof link_name, out_dir, "soft");
    assert_int_equal(symlink(victim, link_name), 0);
    cmboot_metadata *md = md_with("BOOT_ROM", "0x1234");
    char path[4096];
    assert_int_equal(cmboot_metadata_write(md, out_dir, "hard", path, sizeof path), CMBOOT_OK);
    assert_int_equal(cmboot_metadata_write(md, out_dir, "soft", path, sizeof path), CMBOOT_OK);
    char *text = read_text(victim);
    assert_string_equal(text, "precious");
    free(text);
    struct stat st;
    assert_int_equal(lstat(path, &st), 0);
    assert_true(S_ISREG(st.st_mode));
    assert_int_equal(st.st_nlink, 1); /* the result is a file of its own, not the victim */
    cmboot_metadata_free(md);
    test_rmtree(dir);
    free(dir);
}

/* Random bytes that aim the writer at prepared names first: one per call, from a script. */
typedef struct aimed {
    int call;
    unsigned char first[4];
} aimed;

static void aimed_random(void *user, unsigned char *buf, size_t len)
{
    aimed *a = user;
    memset(buf, 0, len);
    buf[0] = (unsigned char)(a->call < 4 ? a->first[a->call] : 0xf0 + a->call);
    a->call++;
}

static void temp_for(char *out, size_t size, const char *dir, unsigned char b)
{
    /* the writer's temporary names: ".cmboot-md-" + 24 hex digits + ".tmp" */
    snprintf(out, size, "%s/.cmboot-md-%02x0000000000000000000000.tmp", dir, b);
}

static void planted_names_skipped(unsigned flags)
{
    char *dir = test_tmpdir("md-planted");
    char victim[4200], p[4200];
    snprintf(victim, sizeof victim, "%s/../md-victim-%d", dir, (int)getpid());
    FILE *f = fopen(victim, "w");
    fputs("precious", f);
    fclose(f);
    temp_for(p, sizeof p, dir, 0x01);
    assert_int_equal(mkfifo(p, 0644), 0);
    temp_for(p, sizeof p, dir, 0x02);
    assert_int_equal(symlink(victim, p), 0);
    temp_for(p, sizeof p, dir, 0x03);
    f = fopen(p, "w");
    fputs("planted", f);
    fclose(f);
    int dirfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    assert_true(dirfd >= 0);
    aimed a = {0, {0x01, 0x02, 0x03, 0x04}};
    const char *text = "{ \"BOOT_ROM\": \"0x1234\" }\n";
    assert_int_equal(cmb_metadata_write_at(dirfd, "s.json", text, strlen(text), flags, aimed_random, &a), CMBOOT_OK);
    assert_true(a.call >= 4); /* it did meet the three planted names */
    close(dirfd);
    struct stat st;
    temp_for(p, sizeof p, dir, 0x01);
    assert_int_equal(lstat(p, &st), 0);
    assert_true(S_ISFIFO(st.st_mode));
    temp_for(p, sizeof p, dir, 0x03);
    char *got = read_text(p);
    assert_string_equal(got, "planted");
    free(got);
    got = read_text(victim);
    assert_string_equal(got, "precious");
    free(got);
    snprintf(p, sizeof p, "%s/s.json", dir);
    got = read_text(p);
    assert_string_equal(got, text);
    free(got);
    temp_for(p, sizeof p, dir, 0x04);
    assert_int_equal(lstat(p, &st), -1);     /* its own temporary name is gone: renamed */
    assert_int_equal(count_entries(dir), 4); /* three planted names + s.json */
    unlink(victim);
    test_rmtree(dir);
    free(dir);
}

static void metadata_temp_named_planted_names_skipped(void **state)
{
    (void)state;
    planted_names_skipped(CMB_MD_NO_TMPFILE);
}

static void metadata_tmpfile_planted_names_skipped(void **state)
{
    (void)state;
    planted_names_skipped(0);
}

static void metadata_dir_same_serial_gets_suffix(void **state)
{
    (void)state;
    char *dir = test_tmpdir("md-run");
    /* left by an earlier run: replaced, as rpiboot does */
    test_write_file(dir, "10000000cafe.json", "old\n", 4);
    cmboot_metadata_dir *d;
    assert_int_equal(cmboot_metadata_dir_open(dir, &d), CMBOOT_OK);
    cmboot_metadata *a = md_with("MAC_ADDR", "aa"), *b = md_with("MAC_ADDR", "bb"), *c = md_with("MAC_ADDR", "cc");
    char path[4096];
    unsigned suffix = 99;
    assert_int_equal(cmboot_metadata_dir_write(d, a, "10000000cafe", path, sizeof path, &suffix), CMBOOT_OK);
    assert_int_equal(suffix, 0);
    assert_non_null(strstr(path, "/10000000cafe.json"));
    assert_int_equal(cmboot_metadata_dir_write(d, b, "10000000cafe", path, sizeof path, &suffix), CMBOOT_OK);
    assert_int_equal(suffix, 1);
    assert_non_null(strstr(path, "/10000000cafe-1.json"));
    /* a board whose serial is literally the suffixed name does not take the second board's file */
    assert_int_equal(cmboot_metadata_dir_write(d, c, "10000000cafe-1", path, sizeof path, &suffix), CMBOOT_OK);
    assert_int_equal(suffix, 1);
    assert_non_null(strstr(path, "/10000000cafe-1-1.json"));
    char p[4200];
    const char *want[][2] = {
        {"10000000cafe.json", "aa"}, {"10000000cafe-1.json", "bb"}, {"10000000cafe-1-1.json", "cc"}};
    for (int i = 0; i < 3; i++) {
        snprintf(p, sizeof p, "%s/%s", dir, want[i][0]);
        json_object *o = json_object_from_file(p);
        assert_non_null(o);
        assert_string_equal(get_str(o, "MAC_ADDR"), want[i][1]);
        json_object_put(o);
    }
    assert_int_equal(count_entries(dir), 3); /* no temporary file left */
    assert_int_equal(cmboot_metadata_dir_write(d, a, "../x", path, sizeof path, &suffix), CMBOOT_ERR_UNSAFE_NAME);
    cmboot_metadata_dir_close(d);
    /* a new run starts over: the same serial is SERIAL.json again */
    assert_int_equal(cmboot_metadata_dir_open(dir, &d), CMBOOT_OK);
    assert_int_equal(cmboot_metadata_dir_write(d, c, "10000000cafe", path, sizeof path, &suffix), CMBOOT_OK);
    assert_int_equal(suffix, 0);
    cmboot_metadata_dir_close(d);
    cmboot_metadata_free(a);
    cmboot_metadata_free(b);
    cmboot_metadata_free(c);
    test_rmtree(dir);
    free(dir);
}

#define RACERS 8
typedef struct racer {
    cmboot_metadata_dir *d;
    cmboot_metadata *md;
    int rc;
} racer;

static void *race(void *arg)
{
    racer *r = arg;
    char path[4096];
    r->rc = cmboot_metadata_dir_write(r->d, r->md, "dup", path, sizeof path, NULL);
    return NULL;
}

static void metadata_dir_same_serial_concurrent_boards_all_kept(void **state)
{
    (void)state;
    char *dir = test_tmpdir("md-race");
    cmboot_metadata_dir *d;
    assert_int_equal(cmboot_metadata_dir_open(dir, &d), CMBOOT_OK);
    racer r[RACERS];
    pthread_t t[RACERS];
    for (int i = 0; i < RACERS; i++) {
        char v[16];
        snprintf(v, sizeof v, "board%d", i);
        r[i] = (racer){d, md_with("ID", v), -1};
        assert_int_equal(pthread_create(&t[i], NULL, race, &r[i]), 0);
    }
    for (int i = 0; i < RACERS; i++) {
        pthread_join(t[i], NULL);
        assert_int_equal(r[i].rc, CMBOOT_OK);
    }
    /* every board's value is in exactly one of dup.json, dup-1.json ... dup-7.json */
    int seen[RACERS] = {0};
    for (int i = 0; i < RACERS; i++) {
        char p[4200];
        if (i)
            snprintf(p, sizeof p, "%s/dup-%d.json", dir, i);
        else
            snprintf(p, sizeof p, "%s/dup.json", dir);
        json_object *o = json_object_from_file(p);
        assert_non_null(o);
        int id = -1;
        assert_int_equal(sscanf(get_str(o, "ID"), "board%d", &id), 1);
        assert_true(id >= 0 && id < RACERS);
        seen[id]++;
        json_object_put(o);
    }
    for (int i = 0; i < RACERS; i++) {
        assert_int_equal(seen[i], 1);
        cmboot_metadata_free(r[i].md);
    }
    assert_int_equal(count_entries(dir), RACERS);
    cmboot_metadata_dir_close(d);
    test_rmtree(dir);
    free(dir);
}

static void metadata_dir_follows_the_directory_not_its_path(void **state)
{
    (void)state;
    char *dir = test_tmpdir("md-moved");
    char moved[4200];
    snprintf(moved, sizeof moved, "%s.moved", dir);
    cmboot_metadata_dir *d;
    assert_int_equal(cmboot_metadata_dir_open(dir, &d), CMBOOT_OK);
    /* the path now names another directory: the file still goes to the one opened */
    assert_int_equal(rename(dir, moved), 0);
    assert_int_equal(mkdir(dir, 0755), 0);
    cmboot_metadata *md = md_with("ID", "x");
    assert_int_equal(cmboot_metadata_dir_write(d, md, "s1", NULL, 0, NULL), CMBOOT_OK);
    char p[4200];
    snprintf(p, sizeof p, "%s/s1.json", moved);
    assert_int_equal(access(p, F_OK), 0);
    assert_int_equal(count_entries(dir), 0);
    cmboot_metadata_dir_close(d);
    cmboot_metadata_free(md);
    test_rmtree(moved);
    test_rmtree(dir);
    free(dir);
}

static const struct CMUnitTest tests[] = {
    cmocka_unit_test(test_c40_vectors),
    cmocka_unit_test(test_c40_rejects_garbage),
    cmocka_unit_test(test_metadata_json_escaping),
    cmocka_unit_test(test_metadata_bounds),
    cmocka_unit_test(test_metadata_write_file),
    cmocka_unit_test(metadata_invalid_utf8_escaped_and_listed),
    cmocka_unit_test(metadata_write_fifo_at_temp_name_does_not_block),
    cmocka_unit_test(metadata_write_planted_temp_link_not_hijacked),
    cmocka_unit_test(metadata_temp_named_planted_names_skipped),
    cmocka_unit_test(metadata_tmpfile_planted_names_skipped),
    cmocka_unit_test(metadata_dir_same_serial_gets_suffix),
    cmocka_unit_test(metadata_dir_same_serial_concurrent_boards_all_kept),
    cmocka_unit_test(metadata_dir_follows_the_directory_not_its_path),
};
CMBOOT_TEST_MAIN(tests)
