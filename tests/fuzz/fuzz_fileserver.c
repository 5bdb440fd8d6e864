/* libFuzzer target: the file server against fuzzed device requests (tests/fuzz/fuzz_transport.h), with the
 * metadata hooks on (*KEY*VALUE -> cmboot_metadata -> JSON, FACTORY_UUID through the C40 decoder, the metadata
 * file), and one invariant above all: no byte from outside the boot directory ever reaches the device.
 * Every file the host may serve holds only bytes 0x80-0x8f; everything outside (a canary beside the boot
 * directory, a look-alike directory, /etc) holds other bytes, so one foreign byte in a bulk OUT aborts. */
#include <json-c/json.h>
#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cmboot/cmboot.h"
#include "fuzz_transport.h"
#include "fuzz_util.h"

#define SERVED_MIN 0x80
#define SERVED_MAX 0x8f
#define CANARY 0xca

typedef struct tree {
    char lenient[PATH_MAX]; /* boot directory without links that leave it */
    char strict[PATH_MAX];  /* boot directory with links out of it: strict confinement must refuse them */
    char md[PATH_MAX];      /* metadata files */
    char msd[PATH_MAX];     /* last-resort directory */
    const char *fallback[2];
} tree;

static const unsigned char embedded_bytes[64] = {
    0x8e, 0x8e, 0x8e, 0x8e, 0x8e, 0x8e, 0x8e, 0x8e, 0x8e, 0x8e, 0x8e, 0x8e, 0x8e, 0x8e, 0x8e, 0x8e,
    0x8e, 0x8e, 0x8e, 0x8e, 0x8e, 0x8e, 0x8e, 0x8e, 0x8e, 0x8e, 0x8e, 0x8e, 0x8e, 0x8e, 0x8e, 0x8e,
    0x8e, 0x8e, 0x8e, 0x8e, 0x8e, 0x8e, 0x8e, 0x8e, 0x8e, 0x8e, 0x8e, 0x8e, 0x8e, 0x8e, 0x8e, 0x8e,
    0x8e, 0x8e, 0x8e, 0x8e, 0x8e, 0x8e, 0x8e, 0x8e, 0x8e, 0x8e, 0x8e, 0x8e, 0x8e, 0x8e, 0x8e, 0x8e};
static const cmboot_embedded_file embedded[] = {{"bootcode.bin", embedded_bytes, sizeof embedded_bytes},
                                                {"start.elf", embedded_bytes, 7},
                                                {"bootcode4.bin", embedded_bytes, 33},
                                                {NULL, NULL, 0}};

static void put(const char *dir, const char *name, int byte, size_t len)
{
    char p[PATH_MAX];
    snprintf(p, sizeof p, "%s/%s", dir, name);
    fuzz_mkdirs(p, 0);
    unsigned char *b = malloc(len ? len : 1);
    if (!b)
        fuzz_fail("no memory for the tree");
    memset(b, byte, len);
    fuzz_write_file(p, b, len);
    free(b);
}

static void link_to(const char *dir, const char *name, const char *target)
{
    char p[PATH_MAX];
    snprintf(p, sizeof p, "%s/%s", dir, name);
    if (symlink(target, p) != 0)
        fuzz_fail("cannot make a link of the boot tree");
}

static void boot_files(const char *dir)
{
    put(dir, "bootcode4.bin", 0x80, 300);
    put(dir, "start4.elf", 0x81, 5000);
    put(dir, "config.txt", 0x82, 20);
    put(dir, "sub/deep/file.bin", 0x83, 10);
    put(dir, "1-1/config.txt", 0x84, 7); /* overlay of the board on port 1-1 */
    put(dir, "1-1/start4.elf", 0x85, 9);
    put(dir, "empty.txt", 0x86, 0);
    link_to(dir, "link.elf", "start4.elf");
    link_to(dir, "sub/up.txt", "../config.txt");
}

static const tree *tree_get(void)
{
    static tree t;
    if (t.lenient[0])
        return &t;
    char top[PATH_MAX];
    snprintf(top, sizeof top, "%s/fs", fuzz_scratch());
    fuzz_mkdirs(top, 1);
    snprintf(t.lenient, sizeof t.lenient, "%s/boot", top);
    snprintf(t.strict, sizeof t.strict, "%s/strict", top);
    snprintf(t.md, sizeof t.md, "%s/md", top);
    snprintf(t.msd, sizeof t.msd, "%s/msd", top);
    fuzz_mkdirs(t.md, 1);
    boot_files(t.lenient);
    boot_files(t.strict);
    put(t.msd, "start.elf", 0x8d, 100);
    put(t.msd, "bootcode.bin", 0x8d, 10);
    /* what must never be served: beside the boot directories, in look-alikes, through links in strict mode */
    put(top, "canary", CANARY, 100);
    put(top, "bootx/config.txt", CANARY, 50);
    put(top, "boot-evil/start4.elf", CANARY, 50);
    put(top, "strictly/config.txt", CANARY, 50);
    link_to(t.strict, "esc1.bin", "../canary");
    link_to(t.strict, "esc2.bin", "/etc/passwd");
    link_to(t.strict, "sub/esc3.bin", "../../boot-evil/start4.elf");
    link_to(t.strict, "updir", "..");
    link_to(t.strict, "1-1/esc4.txt", "../../canary");
    t.fallback[0] = t.msd;
    t.fallback[1] = NULL;
    return &t;
}

typedef struct run_ctx {
    cmboot_files *files;
    const cmboot_soc_info *soc;
    const char *port;
    cmboot_metadata *md;
    size_t bulk_bytes;
} run_ctx;

static int open_file(void *user, const char *name, cmboot_stream *out)
{
    run_ctx *r = user;
    return cmboot_files_open(r->files, r->soc, r->port, name, out);
}

static void on_metadata(void *user, const char *key, const char *value)
{
    run_ctx *r = user;
    if (getenv("CMBOOT_FUZZ_VERBOSE"))
        fprintf(stderr, "metadata %s = %s\n", key, value);
    (void)cmboot_metadata_set(r->md, key, value); /* too many or too long: refused, as the session logs */
    /* the decoder alone, with room for everything, and with too little room */
    char out[600];
    size_t sizes[] = {sizeof out, 1, 4, 17};
    for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++) {
        if (cmboot_c40_decode(value, out, sizes[i]) == CMBOOT_OK && strnlen(out, sizes[i]) == sizes[i])
            fuzz_fail("C40 output not terminated within its buffer");
    }
}

static void on_log(void *user, int level, const char *msg)
{
    (void)user;
    if (getenv("CMBOOT_FUZZ_VERBOSE")) /* to see where a seed goes */
        fprintf(stderr, "log %d: %s\n", level, msg);
}

static void on_file(void *user, const char *name, int found, uint64_t size, const char *source, int command)
{
    (void)user;
    if (getenv("CMBOOT_FUZZ_VERBOSE"))
        fprintf(stderr, "file %s command %d found %d size %llu from %s\n", name, command, found,
                (unsigned long long)size, source ? source : "-");
}

static void check_bulk(void *user, const void *buf, size_t len)
{
    run_ctx *r = user;
    const unsigned char *b = buf;
    for (size_t i = 0; i < len; i++) {
        if (b[i] < SERVED_MIN || b[i] > SERVED_MAX) {
            fprintf(stderr, "byte 0x%02x at %zu of a %zu-byte bulk OUT%s\n", b[i], i, len,
                    b[i] == CANARY ? ": the canary from outside the boot directory" : "");
            fuzz_fail("a byte from outside the boot directory was sent to the device");
        }
    }
    r->bulk_bytes += len;
}

static int valid_utf8(const unsigned char *s)
{
    while (*s) {
        int n = *s < 0x80 ? 0 : (*s & 0xe0) == 0xc0 ? 1 : (*s & 0xf0) == 0xe0 ? 2 : (*s & 0xf8) == 0xf0 ? 3 : -1;
        if (n < 0 || (n == 1 && *s < 0xc2))
            return 0;
        s++;
        for (int i = 0; i < n; i++, s++)
            if ((*s & 0xc0) != 0x80)
                return 0;
    }
    return 1;
}

static void check_metadata(run_ctx *r, const tree *t, const uint8_t *data, size_t size)
{
    if (cmboot_metadata_count(r->md) == 0)
        return;
    char *json = NULL;
    if (cmboot_metadata_to_json(r->md, &json) != CMBOOT_OK)
        return;
    json_object *o = json_tokener_parse(json);
    if (!o || !json_object_is_type(o, json_type_object))
        fuzz_fail("metadata JSON does not parse back into an object");
    json_object_put(o);
    /* issue 9 item 6 (device strings sanitised to UTF-8) is opt-in here until it lands */
    if (getenv("CMBOOT_FUZZ_STRICT_UTF8") && !valid_utf8((const unsigned char *)json))
        fuzz_fail("metadata JSON is not valid UTF-8");
    free(json);
    /* the file is named after a device string: take one from the input */
    char serial[40];
    size_t n = size < sizeof serial - 1 ? size : sizeof serial - 1;
    memcpy(serial, data + size - n, n);
    serial[n] = 0;
    if (!(size & 1))
        snprintf(serial, sizeof serial, "af04b2da");
    char path[PATH_MAX];
    if (cmboot_metadata_write(r->md, t->md, serial, path, sizeof path) == CMBOOT_OK) {
        size_t dl = strlen(t->md);
        if (strncmp(path, t->md, dl) != 0 || path[dl] != '/' || strchr(path + dl + 1, '/'))
            fuzz_fail("metadata file written outside its directory");
        unlink(path);
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    const tree *t = tree_get();
    uint8_t mode = data[0];
    if (mode & 0x40) {
        /* both stages as before (ROM status replies included), on the lenient directory */
        fuzz_run_stages(data + 1, size - 1, t->lenient, NULL);
        return 0;
    }
    bool strict = mode & 1;
    /* Self-test of the invariant (ctest fuzz.fuzz_fileserver.selftest, expected to abort): the directory with
     * links out of it served without strict confinement, which follows them by design. */
    bool selftest = getenv("CMBOOT_FUZZ_SELFTEST") != NULL;
    cmboot_files_config cfg = {
        .struct_size = sizeof cfg,
        .boot_dir = strict ? t->strict : t->lenient,
        .overlay = mode & 2,
        .strict_confine = strict && !selftest,
        .fallback_dirs = t->fallback,
        .embedded = embedded,
    };
    run_ctx r = {.port = mode & 4 ? "1-1" : "",
                 .soc = cmboot_soc_by_id(mode & 8 ? CMBOOT_SOC_BCM2837 : CMBOOT_SOC_BCM2711)};
    if (cmboot_files_new(&cfg, &r.files) != CMBOOT_OK)
        fuzz_fail("cannot make the file lookup");
    if (cmboot_metadata_new(&r.md) != CMBOOT_OK)
        fuzz_fail("no memory for metadata");
    cmboot_file_provider provider = {sizeof provider, open_file, &r};
    cmboot_stage_hooks hooks = {
        .struct_size = sizeof hooks, .file = on_file, .metadata = on_metadata, .log = on_log, .user = &r};
    /* The transport's fake clock measures the deadlines (fuzz_transport.h): an idle limit of a minute, on
     * mode bit 0x10, ends a run that only times out after three reads, without real waiting. */
    fuzz_fs_options opt = {.provider = &provider,
                           .hooks = &hooks,
                           .bulk_check = check_bulk,
                           .user = &r,
                           .idle_limit_ms = mode & 0x10 ? 60000 : 0};
    fuzz_run_fileserver_with(data + 1, size - 1, &opt);
    check_metadata(&r, t, data, size);
    cmboot_metadata_free(r.md);
    cmboot_files_free(r.files);
    return 0;
}
