/* Unit tests of boot-file lookup (protocol.md section 5): names, symlink policy, payload trees, fallback. */
#include <archive.h>
#include <archive_entry.h>
#include <openssl/evp.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cmboot/cmboot.h"
#include "files/files_internal.h"
#include "fixture_payload_tree.h"
#include "testutil.h"

/* Builds DIR/bootfiles.bin with the given members (name, content pairs). */
static void make_tar(const char *dir, const char *const *members, size_t n)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/bootfiles.bin", dir);
    struct archive *a = archive_write_new();
    archive_write_set_format_pax_restricted(a);
    assert_int_equal(archive_write_open_filename(a, path), ARCHIVE_OK);
    for (size_t i = 0; i < n; i += 2) {
        struct archive_entry *e = archive_entry_new();
        archive_entry_set_pathname(e, members[i]);
        archive_entry_set_size(e, (la_int64_t)strlen(members[i + 1]));
        archive_entry_set_filetype(e, AE_IFREG);
        archive_entry_set_perm(e, 0644);
        archive_write_header(a, e);
        archive_write_data(a, members[i + 1], strlen(members[i + 1]));
        archive_entry_free(e);
    }
    archive_write_close(a);
    archive_write_free(a);
}

/* Reads the whole stream of a lookup into buf (length in *len); returns the error. */
static int fetch_raw(cmboot_files *f, cmboot_soc_id soc, const char *port, const char *name, void *buf, size_t size,
                     size_t *len, char *source)
{
    cmboot_stream s;
    int rc = cmboot_files_open(f, cmboot_soc_by_id(soc), port, name, &s);
    if (rc < 0)
        return rc;
    size_t have = 0;
    long n;
    while ((n = s.read(s.self, (char *)buf + have, size - have)) > 0)
        have += (size_t)n;
    assert_true(n == 0);
    assert_true(have < size);
    assert_int_equal(have, s.size);
    *len = have;
    if (source)
        strcpy(source, s.source);
    cmboot_stream_close(&s);
    return CMBOOT_OK;
}

/* The same for text: buf gets a NUL terminator. */
static int fetch(cmboot_files *f, cmboot_soc_id soc, const char *port, const char *name, char *buf, size_t size,
                 char *source)
{
    size_t len;
    int rc = fetch_raw(f, soc, port, name, buf, size, &len, source);
    if (rc == CMBOOT_OK)
        buf[len] = 0;
    return rc;
}

static const cmboot_embedded_file no_embedded[] = {{NULL, NULL, 0}};
static const char *const no_dirs[] = {NULL};

/* A files object without the host's installed or built-in fallback, so results depend on the test only. */
static cmboot_files *files_for(const char *dir, bool overlay)
{
    cmboot_files_config cfg = {.struct_size = sizeof cfg,
                               .boot_dir = dir,
                               .overlay = overlay,
                               .fallback_dirs = no_dirs,
                               .embedded = no_embedded};
    cmboot_files *f;
    assert_int_equal(cmboot_files_new(&cfg, &f), CMBOOT_OK);
    return f;
}

static void test_name_check_refuses_hostile_names(void **state)
{
    (void)state;
    const char *bad[] = {"/etc/passwd", "..", "../x", "a/../../b", "a/..", "x\ny", "\033]0;x", "a\\b", ""};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        assert_int_equal(cmboot_name_check(bad[i]), CMBOOT_ERR_UNSAFE_NAME);
    char longname[300];
    memset(longname, 'a', sizeof longname - 1);
    longname[sizeof longname - 1] = 0;
    assert_int_equal(cmboot_name_check(longname), CMBOOT_ERR_UNSAFE_NAME);
    const char *good[] = {"start.elf", "overlays/dwc2.dtbo", "..hidden", "a..b", "./config.txt"};
    for (size_t i = 0; i < sizeof good / sizeof good[0]; i++)
        assert_int_equal(cmboot_name_check(good[i]), CMBOOT_OK);
}

/* Collects log lines of a files object. */
typedef struct logbuf {
    char text[32768];
    size_t len;
    int warns;
} logbuf;

static void log_to_buf(void *user, const char *device_id, cmboot_log_level level, const char *msg)
{
    logbuf *lb = user;
    if (level == CMBOOT_LOG_WARN)
        lb->warns++;
    int n = snprintf(lb->text + lb->len, sizeof lb->text - lb->len, "%s [%s] %s\n", cmboot_log_level_name(level),
                     device_id, msg);
    assert_true(n > 0 && (size_t)n < sizeof lb->text - lb->len);
    lb->len += (size_t)n;
}

/* A files object without the host's installed or built-in fallback, so results depend on the test only. */
static cmboot_files *files_with(const char *dir, bool strict, logbuf *lb)
{
    cmboot_files_config cfg = {.struct_size = sizeof cfg,
                               .boot_dir = dir,
                               .strict_confine = strict,
                               .fallback_dirs = no_dirs,
                               .embedded = no_embedded,
                               .log = lb ? log_to_buf : NULL,
                               .log_user = lb,
                               .log_level = CMBOOT_LOG_INFO};
    cmboot_files *f;
    assert_int_equal(cmboot_files_new(&cfg, &f), CMBOOT_OK);
    return f;
}

/* root/secret.txt and root/outside/x.txt outside the boot directory root/boot, which holds the operator's
 * symlinks: leak.txt (absolute, out), rel.txt (relative, out), chain.txt (-> rel.txt), inside.txt (stays in),
 * outdir (a directory out), loop.txt (-> itself), magic.txt (a /proc magic link), and a FIFO. */
static char *escape_tree(char *dir, size_t size, char *real_root, size_t real_size)
{
    char *root = test_tmpdir("esc");
    char path[4096], target[4096];
    assert_non_null(realpath(root, real_root));
    assert_true(strlen(real_root) < real_size);
    snprintf(dir, size, "%s/boot", root);
    test_write_file(root, "secret.txt", "secret", 6);
    test_write_file(root, "outside/x.txt", "x-out", 5);
    test_write_file(dir, "start.elf", "ELF", 3);
    test_write_file(dir, "sub/x", "x", 1);
    struct {
        const char *link, *target;
    } links[] = {{"leak.txt", NULL},          {"rel.txt", "../secret.txt"}, {"chain.txt", "rel.txt"},
                 {"inside.txt", "start.elf"}, {"outdir", "../outside"},     {"loop.txt", "loop.txt"},
                 {"magic.txt", NULL}};
    for (size_t i = 0; i < sizeof links / sizeof links[0]; i++) {
        const char *t = links[i].target;
        if (strcmp(links[i].link, "leak.txt") == 0) {
            snprintf(target, sizeof target, "%s/secret.txt", root);
            t = target;
        } else if (strcmp(links[i].link, "magic.txt") == 0) {
            snprintf(target, sizeof target, "/proc/self/root%s/secret.txt", real_root);
            t = target;
        }
        snprintf(path, sizeof path, "%s/%s", dir, links[i].link);
        assert_int_equal(symlink(t, path), 0);
    }
    snprintf(path, sizeof path, "%s/pipe.bin", dir);
    assert_int_equal(mkfifo(path, 0600), 0);
    return root;
}

/* Names a device may not use, whatever the mode. */
static void assert_hostile_refused(cmboot_files *f, const char *root)
{
    char buf[64], abs[4096];
    snprintf(abs, sizeof abs, "%s/secret.txt", root);
    const char *bad[] = {"../secret.txt", abs, "sub/../start.elf", "start\n.elf", "start.elf\033", ".."};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        assert_int_equal(fetch(f, CMBOOT_SOC_BCM2837, "1-1", bad[i], buf, sizeof buf, NULL), CMBOOT_ERR_UNSAFE_NAME);
}

static void test_symlink_out_followed_by_default(void **state)
{
    (void)state;
    char dir[4096], real_root[4096], buf[64];
    char *root = escape_tree(dir, sizeof dir, real_root, sizeof real_root);
    cmboot_files *f = files_with(dir, false, NULL);
    const char *ok[][2] = {{"start.elf", "ELF"},    {"leak.txt", "secret"}, {"rel.txt", "secret"},
                           {"chain.txt", "secret"}, {"inside.txt", "ELF"},  {"outdir/x.txt", "x-out"}};
    for (size_t i = 0; i < sizeof ok / sizeof ok[0]; i++) {
        assert_int_equal(fetch(f, CMBOOT_SOC_BCM2837, "1-1", ok[i][0], buf, sizeof buf, NULL), CMBOOT_OK);
        assert_string_equal(buf, ok[i][1]);
    }
    assert_int_equal(fetch(f, CMBOOT_SOC_BCM2837, "1-1", "loop.txt", buf, sizeof buf, NULL), CMBOOT_ERR_UNSAFE_NAME);
    assert_int_equal(fetch(f, CMBOOT_SOC_BCM2837, "1-1", "magic.txt", buf, sizeof buf, NULL), CMBOOT_ERR_UNSAFE_NAME);
    assert_int_equal(fetch(f, CMBOOT_SOC_BCM2837, "1-1", "absent.bin", buf, sizeof buf, NULL), CMBOOT_ERR_NOT_FOUND);
    assert_int_equal(fetch(f, CMBOOT_SOC_BCM2837, "1-1", "sub", buf, sizeof buf, NULL), CMBOOT_ERR_NOT_FOUND);
    assert_hostile_refused(f, root);
    cmboot_files_free(f);
    test_rmtree(root);
    free(root);
}

static void test_symlink_out_refused_strict(void **state)
{
    (void)state;
    char dir[4096], real_root[4096], buf[64];
    char *root = escape_tree(dir, sizeof dir, real_root, sizeof real_root);
    cmboot_files *f = files_with(dir, true, NULL);
    assert_int_equal(fetch(f, CMBOOT_SOC_BCM2837, "1-1", "start.elf", buf, sizeof buf, NULL), CMBOOT_OK);
    assert_int_equal(fetch(f, CMBOOT_SOC_BCM2837, "1-1", "inside.txt", buf, sizeof buf, NULL), CMBOOT_OK);
    assert_string_equal(buf, "ELF"); /* a symlink that stays inside is fine */
    const char *out[] = {"leak.txt", "rel.txt", "chain.txt", "outdir/x.txt", "loop.txt", "magic.txt"};
    for (size_t i = 0; i < sizeof out / sizeof out[0]; i++)
        assert_int_equal(fetch(f, CMBOOT_SOC_BCM2837, "1-1", out[i], buf, sizeof buf, NULL), CMBOOT_ERR_UNSAFE_NAME);
    assert_hostile_refused(f, root);
    cmboot_files_free(f);
    test_rmtree(root);
    free(root);
}

/* Kernels without openat2: the user-space resolver must give the same answers as the kernel's, both modes. */
static void test_open_without_openat2_matches(void **state)
{
    (void)state;
    char dir[4096], real_root[4096];
    char *root = escape_tree(dir, sizeof dir, real_root, sizeof real_root);
    int dirfd = open(dir, O_PATH | O_DIRECTORY | O_CLOEXEC);
    assert_true(dirfd >= 0);
    /* name, content or error by default, content or error when strict */
    struct {
        const char *name, *def;
        int def_rc;
        const char *strict;
        int strict_rc;
    } cases[] = {
        {"start.elf", "ELF", 0, "ELF", 0},
        {"inside.txt", "ELF", 0, "ELF", 0},
        {"leak.txt", "secret", 0, NULL, CMBOOT_ERR_UNSAFE_NAME},
        {"rel.txt", "secret", 0, NULL, CMBOOT_ERR_UNSAFE_NAME},
        {"chain.txt", "secret", 0, NULL, CMBOOT_ERR_UNSAFE_NAME},
        {"outdir/x.txt", "x-out", 0, NULL, CMBOOT_ERR_UNSAFE_NAME},
        {"./sub//x", "x", 0, "x", 0},
        {"loop.txt", NULL, CMBOOT_ERR_UNSAFE_NAME, NULL, CMBOOT_ERR_UNSAFE_NAME},
        {"magic.txt", NULL, CMBOOT_ERR_UNSAFE_NAME, NULL, CMBOOT_ERR_UNSAFE_NAME},
        {"pipe.bin", NULL, CMBOOT_ERR_NOT_FOUND, NULL, CMBOOT_ERR_NOT_FOUND},
        {"sub", NULL, CMBOOT_ERR_NOT_FOUND, NULL, CMBOOT_ERR_NOT_FOUND},
        {"sub/", NULL, CMBOOT_ERR_NOT_FOUND, NULL, CMBOOT_ERR_NOT_FOUND},
        {"start.elf/x", NULL, CMBOOT_ERR_NOT_FOUND, NULL, CMBOOT_ERR_NOT_FOUND},
        {"absent", NULL, CMBOOT_ERR_NOT_FOUND, NULL, CMBOOT_ERR_NOT_FOUND},
        {"../secret.txt", NULL, CMBOOT_ERR_UNSAFE_NAME, NULL, CMBOOT_ERR_UNSAFE_NAME},
    };
    alarm(10); /* opening the FIFO must not block */
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        for (unsigned walk = 0; walk < 2; walk++) {
            for (unsigned strict = 0; strict < 2; strict++) {
                unsigned flags = (walk ? CMB_OPEN_NO_OPENAT2 : 0) | (strict ? CMB_OPEN_BENEATH : 0);
                const char *want = strict ? cases[i].strict : cases[i].def;
                int want_rc = strict ? cases[i].strict_rc : cases[i].def_rc;
                int fd = cmb_open_in(dirfd, cases[i].name, flags);
                if (!want) {
                    if (fd != want_rc)
                        fail_msg("%s (walk %u strict %u): %d, want %d", cases[i].name, walk, strict, fd, want_rc);
                    continue;
                }
                if (fd < 0)
                    fail_msg("%s (walk %u strict %u): %d", cases[i].name, walk, strict, fd);
                char buf[64];
                ssize_t n = read(fd, buf, sizeof buf - 1);
                assert_true(n >= 0);
                buf[n] = 0;
                assert_string_equal(buf, want);
                assert_int_equal(fcntl(fd, F_GETFL) & O_NONBLOCK, 0);
                close(fd);
            }
        }
    }
    alarm(0);
    close(dirfd);
    test_rmtree(root);
    free(root);
}

static void test_fifo_answered_absent(void **state)
{
    (void)state;
    char dir[4096], real_root[4096], buf[64];
    char *root = escape_tree(dir, sizeof dir, real_root, sizeof real_root);
    for (int strict = 0; strict < 2; strict++) {
        cmboot_files *f = files_with(dir, strict, NULL);
        alarm(10); /* a blocked open fails the test instead of hanging it */
        assert_int_equal(fetch(f, CMBOOT_SOC_BCM2837, "1-1", "pipe.bin", buf, sizeof buf, NULL), CMBOOT_ERR_NOT_FOUND);
        alarm(0);
        cmboot_files_free(f);
    }
    test_rmtree(root);
    free(root);
}

static void test_symlink_logged_with_target(void **state)
{
    (void)state;
    char dir[4096], real_root[4096], buf[64], want[8192];
    char *root = escape_tree(dir, sizeof dir, real_root, sizeof real_root);
    logbuf lb = {0};
    cmboot_files *f = files_with(dir, false, &lb);
    assert_int_equal(fetch(f, CMBOOT_SOC_BCM2837, "1-1.3", "start.elf", buf, sizeof buf, NULL), CMBOOT_OK);
    assert_null(strstr(lb.text, "->")); /* a plain file is not worth a line */
    assert_int_equal(fetch(f, CMBOOT_SOC_BCM2837, "1-1.3", "rel.txt", buf, sizeof buf, NULL), CMBOOT_OK);
    snprintf(want, sizeof want, "info [1-1.3] %s/rel.txt -> %s/secret.txt\n", dir, real_root);
    assert_non_null(strstr(lb.text, want));
    assert_int_equal(fetch(f, CMBOOT_SOC_BCM2837, "1-1.3", "outdir/x.txt", buf, sizeof buf, NULL), CMBOOT_OK);
    snprintf(want, sizeof want, "%s/outdir/x.txt -> %s/outside/x.txt\n", dir, real_root);
    assert_non_null(strstr(lb.text, want)); /* a symlinked directory on the way counts too */
    cmboot_files_free(f);
    /* INFO is below a WARN threshold: nothing */
    cmboot_files_config cfg = {.struct_size = sizeof cfg,
                               .boot_dir = dir,
                               .fallback_dirs = no_dirs,
                               .embedded = no_embedded,
                               .log = log_to_buf,
                               .log_user = &lb,
                               .log_level = CMBOOT_LOG_WARN};
    memset(&lb, 0, sizeof lb);
    assert_int_equal(cmboot_files_new(&cfg, &f), CMBOOT_OK);
    assert_int_equal(fetch(f, CMBOOT_SOC_BCM2837, "1-1.3", "rel.txt", buf, sizeof buf, NULL), CMBOOT_OK);
    assert_int_equal(lb.len, 0);
    cmboot_files_free(f);
    test_rmtree(root);
    free(root);
}

static void test_strict_warns_hard_link(void **state)
{
    (void)state;
    char *dir = test_tmpdir("hard");
    char a[4096], b[4096], buf[64];
    test_write_file(dir, "start.elf", "ELF", 3);
    snprintf(a, sizeof a, "%s/start.elf", dir);
    snprintf(b, sizeof b, "%s/hard.elf", dir);
    assert_int_equal(link(a, b), 0);
    test_write_file(dir, "plain.elf", "P", 1);
    logbuf lb = {0};
    cmboot_files *f = files_with(dir, true, &lb);
    assert_int_equal(fetch(f, CMBOOT_SOC_BCM2837, "1-1", "plain.elf", buf, sizeof buf, NULL), CMBOOT_OK);
    assert_int_equal(lb.warns, 0);
    assert_int_equal(fetch(f, CMBOOT_SOC_BCM2837, "1-1", "hard.elf", buf, sizeof buf, NULL), CMBOOT_OK);
    assert_string_equal(buf, "ELF"); /* served, with a warning */
    assert_int_equal(lb.warns, 1);
    assert_non_null(strstr(lb.text, "hard.elf has 2 hard links"));
    cmboot_files_free(f);
    memset(&lb, 0, sizeof lb);
    f = files_with(dir, false, &lb); /* only strict mode promises confinement, so only it warns */
    assert_int_equal(fetch(f, CMBOOT_SOC_BCM2837, "1-1", "hard.elf", buf, sizeof buf, NULL), CMBOOT_OK);
    assert_int_equal(lb.warns, 0);
    cmboot_files_free(f);
    test_rmtree(dir);
    free(dir);
}

/* ---- upstream payload trees ---- */

static void expect_content(cmboot_files *f, cmboot_soc_id soc, const char *name, const char *target)
{
    char buf[256], want[256], src[300];
    int rc = fetch(f, soc, "1-1", name, buf, sizeof buf, src);
    if (rc != CMBOOT_OK)
        fail_msg("%s for %s: %s", name, cmboot_soc_by_id(soc)->name, cmboot_error_name(rc));
    fixture_payload_content(target, want, sizeof want);
    assert_string_equal(buf, want);
}

static void test_upstream_tree_resolves(void **state)
{
    (void)state;
    char *root = test_tmpdir("upstream");
    fixture_payload_tree(root);
    size_t n;
    const fixture_payload *p = fixture_payloads(&n);
    assert_true(n >= 10);
    for (size_t i = 0; i < n; i++) {
        char dir[4096];
        snprintf(dir, sizeof dir, "%s/%s", root, p[i].dir);
        cmboot_files *f = files_with(dir, false, NULL);
        const cmboot_soc_info *soc = cmboot_soc_by_id(p[i].soc);
        expect_content(f, p[i].soc, soc->second_stage, p[i].second_target);
        expect_content(f, p[i].soc, p[i].typical, p[i].typical_target);
        cmboot_files_free(f);
        /* the same through the resolver of kernels without openat2 */
        int dirfd = open(dir, O_PATH | O_DIRECTORY | O_CLOEXEC);
        assert_true(dirfd >= 0);
        const char *first = strchr(p[i].second_target, ':') ? "bootfiles.bin" : soc->second_stage;
        int fd = cmb_open_in(dirfd, first, CMB_OPEN_NO_OPENAT2);
        if (fd < 0)
            fail_msg("%s/%s without openat2: %s", p[i].dir, first, cmboot_error_name(fd));
        if (!strchr(p[i].second_target, ':')) {
            char buf[256], want[256];
            ssize_t got = read(fd, buf, sizeof buf - 1);
            assert_true(got > 0);
            buf[got] = 0;
            fixture_payload_content(p[i].second_target, want, sizeof want);
            assert_string_equal(buf, want);
        }
        close(fd);
        close(dirfd);
    }
    test_rmtree(root);
    free(root);
}

static void test_upstream_tree_strict_refuses(void **state)
{
    (void)state;
    char *root = test_tmpdir("upstream-strict");
    fixture_payload_tree(root);
    char dir[4096], buf[256];
    snprintf(dir, sizeof dir, "%s/recovery", root);
    cmboot_files *f = files_with(dir, true, NULL);
    assert_int_equal(fetch(f, CMBOOT_SOC_BCM2711, "1-1", "bootcode4.bin", buf, sizeof buf, NULL),
                     CMBOOT_ERR_UNSAFE_NAME);
    expect_content(f, CMBOOT_SOC_BCM2711, "pieeprom.bin", "recovery/pieeprom.bin"); /* real files still served */
    cmboot_files_free(f);
    /* a refused bootfiles.bin is reported, not skipped as if absent */
    snprintf(dir, sizeof dir, "%s/mass-storage-gadget64", root);
    f = files_with(dir, true, NULL);
    assert_int_equal(fetch(f, CMBOOT_SOC_BCM2711, "1-1", "bootcode4.bin", buf, sizeof buf, NULL),
                     CMBOOT_ERR_UNSAFE_NAME);
    cmboot_files_free(f);
    test_rmtree(root);
    free(root);
}

static void test_upstream_symlink_logged(void **state)
{
    (void)state;
    char *root = test_tmpdir("upstream-log");
    fixture_payload_tree(root);
    char dir[4096], real_root[4096], want[8192];
    assert_non_null(realpath(root, real_root));
    snprintf(dir, sizeof dir, "%s/recovery", root);
    logbuf lb = {0};
    cmboot_files *f = files_with(dir, false, &lb);
    expect_content(f, CMBOOT_SOC_BCM2711, "bootcode4.bin", "rpi-eeprom/firmware-2711/latest/recovery.bin");
    snprintf(want, sizeof want, "info [1-1] %s/bootcode4.bin -> %s/rpi-eeprom/firmware-2711/latest/recovery.bin\n", dir,
             real_root);
    assert_non_null(strstr(lb.text, want));
    cmboot_files_free(f);
    test_rmtree(root);
    free(root);
}
static void test_lookup_prefix_then_base(void **state)
{
    (void)state;
    char *dir = test_tmpdir("prefix");
    test_write_file(dir, "config.txt", "base", 4);
    test_write_file(dir, "2711/config.txt", "cm4", 3);
    cmboot_files *f = files_for(dir, false);
    char buf[64];
    assert_int_equal(fetch(f, CMBOOT_SOC_BCM2711, "1-1", "config.txt", buf, sizeof buf, NULL), CMBOOT_OK);
    assert_string_equal(buf, "cm4");
    assert_int_equal(fetch(f, CMBOOT_SOC_BCM2837, "1-1", "config.txt", buf, sizeof buf, NULL), CMBOOT_OK);
    assert_string_equal(buf, "base");
    cmboot_files_free(f);
    test_rmtree(dir);
    free(dir);
}

static void test_lookup_bootfiles_archive(void **state)
{
    (void)state;
    char *dir = test_tmpdir("tar");
    const char *members[] = {"2711/bootcode4.bin", "BC4",     "2712/bootcode5.bin", "BC5",
                             "2711/MemSys00.bin",  "mem",     "2711/bootmain",      "main2711",
                             "2712/bootmain",      "main2712"};
    make_tar(dir, members, sizeof members / sizeof members[0]);
    test_write_file(dir, "2711/bootmain", "override", 8); /* DIR/<prefix>/NAME wins over the member */
    test_write_file(dir, "config.txt", "cfg", 3);
    cmboot_files *f = files_for(dir, false);
    char buf[64], src[300];
    assert_int_equal(fetch(f, CMBOOT_SOC_BCM2711, "1-1", "bootcode4.bin", buf, sizeof buf, src), CMBOOT_OK);
    assert_string_equal(buf, "BC4");
    assert_non_null(strstr(src, "bootfiles.bin:"));
    assert_int_equal(fetch(f, CMBOOT_SOC_BCM2712, "1-1", "bootcode5.bin", buf, sizeof buf, NULL), CMBOOT_OK);
    assert_string_equal(buf, "BC5");
    assert_int_equal(fetch(f, CMBOOT_SOC_BCM2711, "1-1", "memsys00.bin", buf, sizeof buf, NULL), CMBOOT_OK);
    assert_string_equal(buf, "mem"); /* case-insensitive member match */
    assert_int_equal(fetch(f, CMBOOT_SOC_BCM2711, "1-1", "bootmain", buf, sizeof buf, NULL), CMBOOT_OK);
    assert_string_equal(buf, "override");
    assert_int_equal(fetch(f, CMBOOT_SOC_BCM2712, "1-1", "bootmain", buf, sizeof buf, NULL), CMBOOT_OK);
    assert_string_equal(buf, "main2712");
    assert_int_equal(fetch(f, CMBOOT_SOC_BCM2711, "1-1", "config.txt", buf, sizeof buf, NULL), CMBOOT_OK);
    assert_string_equal(buf, "cfg");
    assert_int_equal(fetch(f, CMBOOT_SOC_BCM2711, "1-1", "nothere", buf, sizeof buf, NULL), CMBOOT_ERR_NOT_FOUND);
    cmboot_files_free(f);
    test_rmtree(dir);
    free(dir);
}

static void test_lookup_bootfiles_corrupt(void **state)
{
    (void)state;
    char *dir = test_tmpdir("badtar");
    char junk[2048];
    test_fill_pattern((uint8_t *)junk, sizeof junk, 7);
    test_write_file(dir, "bootfiles.bin", junk, sizeof junk);
    cmboot_files *f = files_for(dir, false);
    char buf[64];
    assert_int_equal(fetch(f, CMBOOT_SOC_BCM2711, "1-1", "bootcode4.bin", buf, sizeof buf, NULL), CMBOOT_ERR_ARCHIVE);
    cmboot_files_free(f);
    test_rmtree(dir);
    free(dir);
}

static void test_lookup_overlay_by_port(void **state)
{
    (void)state;
    char *dir = test_tmpdir("overlay");
    test_write_file(dir, "bootcode.bin", "base-bc", 7);
    test_write_file(dir, "config.txt", "base-cfg", 8);
    test_write_file(dir, "1-1.3/config.txt", "port-cfg", 8);
    test_write_file(dir, "1-1.3/bootcode.bin", "port-bc", 7);
    cmboot_files *f = files_for(dir, true);
    char buf[64];
    assert_int_equal(fetch(f, CMBOOT_SOC_BCM2837, "1-1.3", "config.txt", buf, sizeof buf, NULL), CMBOOT_OK);
    assert_string_equal(buf, "port-cfg");
    assert_int_equal(fetch(f, CMBOOT_SOC_BCM2837, "1-1.3", "bootcode.bin", buf, sizeof buf, NULL), CMBOOT_OK);
    assert_string_equal(buf, "base-bc"); /* bootcode*.bin always from the base directory */
    assert_int_equal(fetch(f, CMBOOT_SOC_BCM2837, "1-1.4", "config.txt", buf, sizeof buf, NULL), CMBOOT_OK);
    assert_string_equal(buf, "base-cfg");
    cmboot_files_free(f);
    /* without -o the port directory is ignored */
    f = files_for(dir, false);
    assert_int_equal(fetch(f, CMBOOT_SOC_BCM2837, "1-1.3", "config.txt", buf, sizeof buf, NULL), CMBOOT_OK);
    assert_string_equal(buf, "base-cfg");
    cmboot_files_free(f);
    test_rmtree(dir);
    free(dir);
}

/* ---- last-resort fallback, embedded copies, probe ---- */

/* The generated table of tests/unit/embed-fixture (same generator as -DCMBOOT_EMBED_BOOTFILES). */
extern const cmboot_embedded_file cmboot_test_embedded_files[];

static size_t read_fixture(const char *name, unsigned char *buf, size_t size)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/%s", CMBOOT_TEST_EMBED_FIXTURE, name);
    FILE *fp = fopen(path, "rb");
    assert_non_null(fp);
    size_t n = fread(buf, 1, size, fp);
    assert_true(n < size);
    fclose(fp);
    return n;
}

static void test_cm3_gadget_dir_uses_fallback_dirs(void **state)
{
    (void)state;
    char *root = test_tmpdir("cm3");
    fixture_payload_tree(root);
    char dir[4096], msd[4096], absent[4096], buf[256], src[300];
    snprintf(dir, sizeof dir, "%s/mass-storage-gadget64", root);
    snprintf(msd, sizeof msd, "%s/msd", root);
    snprintf(absent, sizeof absent, "%s/not-installed", root);
    const char *fallback[] = {absent, msd, NULL};
    cmboot_files_config cfg = {
        .struct_size = sizeof cfg, .boot_dir = dir, .fallback_dirs = fallback, .embedded = no_embedded};
    cmboot_files *f;
    assert_int_equal(cmboot_files_new(&cfg, &f), CMBOOT_OK);
    /* the gadget's bootfiles.bin has no 2710/ members: a CM3 gets the msd files */
    expect_content(f, CMBOOT_SOC_BCM2837, "bootcode.bin", "msd/bootcode.bin");
    assert_int_equal(fetch(f, CMBOOT_SOC_BCM2837, "1-1", "bootcode.bin", buf, sizeof buf, src), CMBOOT_OK);
    assert_non_null(strstr(src, "/msd/bootcode.bin"));
    expect_content(f, CMBOOT_SOC_BCM2837, "start.elf", "msd/start.elf");
    expect_content(f, CMBOOT_SOC_BCM2835, "bootcode.bin", "msd/bootcode.bin");
    expect_content(f, CMBOOT_SOC_BCM2837, "config.txt", "mass-storage-gadget64/config.txt"); /* lookup first */
    expect_content(f, CMBOOT_SOC_BCM2711, "start4.elf", "msd/start.elf"); /* as the reference's built-in */
    expect_content(f, CMBOOT_SOC_BCM2711, "bootcode4.bin", "firmware/bootfiles.bin:2711/bootcode4.bin");
    /* only the legacy msd files have a fallback */
    assert_int_equal(fetch(f, CMBOOT_SOC_BCM2837, "1-1", "fixup.dat", buf, sizeof buf, NULL), CMBOOT_ERR_NOT_FOUND);
    assert_int_equal(fetch(f, CMBOOT_SOC_BCM2712, "1-1", "start.elf", buf, sizeof buf, NULL), CMBOOT_ERR_NOT_FOUND);
    assert_int_equal(fetch(f, CMBOOT_SOC_BCM2711, "1-1", "start.elf", buf, sizeof buf, NULL), CMBOOT_ERR_NOT_FOUND);
    cmboot_files_free(f);
    /* without the fallback the CM3 has nothing */
    f = files_with(dir, false, NULL);
    assert_int_equal(fetch(f, CMBOOT_SOC_BCM2837, "1-1", "bootcode.bin", buf, sizeof buf, NULL), CMBOOT_ERR_NOT_FOUND);
    cmboot_files_free(f);
    test_rmtree(root);
    free(root);
}

static void test_fallback_embedded_before_dirs(void **state)
{
    (void)state;
    char *root = test_tmpdir("embedded");
    fixture_payload_tree(root);
    char dir[4096], msd[4096], src[300];
    unsigned char buf[1024], want[1024];
    snprintf(dir, sizeof dir, "%s/mass-storage-gadget64", root);
    snprintf(msd, sizeof msd, "%s/msd", root);
    const char *fallback[] = {msd, NULL};
    cmboot_files_config cfg = {
        .struct_size = sizeof cfg, .boot_dir = dir, .fallback_dirs = fallback, .embedded = cmboot_test_embedded_files};
    cmboot_files *f;
    assert_int_equal(cmboot_files_new(&cfg, &f), CMBOOT_OK);
    struct {
        cmboot_soc_id soc;
        const char *name, *file;
    } cases[] = {{CMBOOT_SOC_BCM2837, "bootcode.bin", "bootcode.bin"},
                 {CMBOOT_SOC_BCM2837, "start.elf", "start.elf"},
                 {CMBOOT_SOC_BCM2711, "start4.elf", "start.elf"}};
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        size_t len;
        assert_int_equal(fetch_raw(f, cases[i].soc, "1-1", cases[i].name, buf, sizeof buf, &len, src), CMBOOT_OK);
        size_t wlen = read_fixture(cases[i].file, want, sizeof want);
        assert_int_equal(len, wlen);
        assert_memory_equal(buf, want, len);
        char label[64];
        snprintf(label, sizeof label, "built-in:%s", cases[i].file);
        assert_string_equal(src, label);
    }
    cmboot_files_free(f);
    /* what the lookup finds still wins over the built-in copies */
    cfg.boot_dir = msd;
    assert_int_equal(cmboot_files_new(&cfg, &f), CMBOOT_OK);
    expect_content(f, CMBOOT_SOC_BCM2837, "bootcode.bin", "msd/bootcode.bin");
    cmboot_files_free(f);
    test_rmtree(root);
    free(root);
}

/* The generator behind -DCMBOOT_EMBED_BOOTFILES reproduces files byte for byte (all byte values, a size that
 * is a multiple of its line length, an empty file), and the library's own table is well formed. */
static void test_embedded_table_generated(void **state)
{
    (void)state;
    const char *names[] = {"bootcode.bin", "start.elf", "bootcode4.bin"};
    size_t count = 0;
    for (const cmboot_embedded_file *e = cmboot_test_embedded_files; e->name; e++)
        count++;
    assert_int_equal(count, 3);
    for (size_t i = 0; i < 3; i++) {
        const cmboot_embedded_file *e = &cmboot_test_embedded_files[i];
        assert_string_equal(e->name, names[i]);
        unsigned char want[1024];
        size_t n = read_fixture(names[i], want, sizeof want);
        assert_int_equal(e->size, n);
        if (n)
            assert_memory_equal(e->data, want, n);
    }
    assert_int_equal(cmboot_test_embedded_files[2].size, 0);
    assert_int_equal(cmboot_test_embedded_files[1].size % 64, 0);
    const cmboot_embedded_file *b = cmboot_files_builtin();
    assert_non_null(b);
    for (; b->name; b++) {
        assert_true(strcmp(b->name, "bootcode.bin") == 0 || strcmp(b->name, "start.elf") == 0 ||
                    strcmp(b->name, "bootcode4.bin") == 0);
        assert_non_null(b->data);
    }
}

static void test_probe_names_source_or_searched_dirs(void **state)
{
    (void)state;
    char *root = test_tmpdir("probe");
    fixture_payload_tree(root);
    char absent[4096], recovery5[4096], gadget[4096], nomsd[4096], msd[4096], msg[2048], want[4200];
    snprintf(absent, sizeof absent, "%s/absent", root);
    snprintf(recovery5, sizeof recovery5, "%s/recovery5", root);
    snprintf(gadget, sizeof gadget, "%s/mass-storage-gadget64", root);
    snprintf(nomsd, sizeof nomsd, "%s/no-msd", root);
    snprintf(msd, sizeof msd, "%s/msd", root);
    const char *defaults[] = {absent, recovery5, gadget, NULL};
    const char *fallback[] = {nomsd, NULL};
    cmboot_files_config cfg = {
        .struct_size = sizeof cfg, .default_dirs = defaults, .fallback_dirs = fallback, .embedded = no_embedded};
    cmboot_files *f;
    assert_int_equal(cmboot_files_new(&cfg, &f), CMBOOT_OK);
    /* each SoC gets the first default directory that serves its second stage */
    const cmboot_soc_info *s2711 = cmboot_soc_by_id(CMBOOT_SOC_BCM2711), *s2712 = cmboot_soc_by_id(CMBOOT_SOC_BCM2712),
                          *s2837 = cmboot_soc_by_id(CMBOOT_SOC_BCM2837);
    assert_string_equal(cmboot_files_dir_for(f, s2711), gadget);
    assert_string_equal(cmboot_files_dir_for(f, s2712), recovery5);
    assert_string_equal(cmboot_files_dir_for(f, s2837), recovery5); /* none serves it: the first that exists */
    assert_int_equal(cmboot_files_probe(f, s2711, msg, sizeof msg), CMBOOT_OK);
    snprintf(want, sizeof want, "bootcode4.bin from %s/bootfiles.bin:2711/bootcode4.bin", gadget);
    assert_non_null(strstr(msg, want));
    assert_int_equal(cmboot_files_probe(f, s2712, msg, sizeof msg), CMBOOT_OK);
    assert_non_null(strstr(msg, "recovery5/bootcode5.bin"));
    assert_int_equal(cmboot_files_probe(f, s2837, msg, sizeof msg), CMBOOT_ERR_NOT_FOUND);
    const char *parts[] = {"no bootcode.bin",
                           absent,
                           "(missing)",
                           recovery5,
                           gadget,
                           nomsd,
                           "apt install rpiboot",
                           "https://github.com/raspberrypi/usbboot",
                           "-d usbboot/msd"};
    for (size_t i = 0; i < sizeof parts / sizeof parts[0]; i++)
        if (!strstr(msg, parts[i]))
            fail_msg("probe message lacks \"%s\": %s", parts[i], msg);
    /* a short buffer is truncated, never overrun */
    char small[16];
    memset(small, 'x', sizeof small);
    assert_int_equal(cmboot_files_probe(f, s2837, small, 8), CMBOOT_ERR_NOT_FOUND);
    assert_int_equal(strlen(small), 7);
    assert_int_equal(small[8], 'x');
    cmboot_files_free(f);
    /* with msd installed, the CM3 is served by the fallback, and the probe says so */
    fallback[0] = msd;
    assert_int_equal(cmboot_files_new(&cfg, &f), CMBOOT_OK);
    assert_int_equal(cmboot_files_probe(f, s2837, msg, sizeof msg), CMBOOT_OK);
    assert_non_null(strstr(msg, "msd/bootcode.bin"));
    cmboot_files_free(f);
    /* -d: the one directory searched, and a gadget hint for the newer SoCs */
    cfg.boot_dir = absent;
    fallback[0] = nomsd;
    assert_int_equal(cmboot_files_new(&cfg, &f), CMBOOT_OK);
    assert_int_equal(cmboot_files_probe(f, s2712, msg, sizeof msg), CMBOOT_ERR_NOT_FOUND);
    assert_non_null(strstr(msg, "Searched the -d directory"));
    assert_non_null(strstr(msg, absent));
    assert_null(strstr(msg, gadget));
    assert_non_null(strstr(msg, "usbboot/mass-storage-gadget64"));
    assert_non_null(strstr(msg, "apt install rpiboot"));
    cmboot_files_free(f);
    test_rmtree(root);
    free(root);
}

static void test_signature_raw_20_bytes(void **state)
{
    (void)state;
    char *dir = test_tmpdir("sig");
    cmboot_files *f = files_for(dir, false);
    unsigned char sig[20], raw[25];
    const cmboot_soc_info *soc = cmboot_soc_by_id(CMBOOT_SOC_BCM2837);
    for (int i = 0; i < 25; i++)
        raw[i] = (unsigned char)(200 + i);
    test_write_file(dir, "bootcode.sig", raw, 20);
    assert_int_equal(cmboot_files_signature(f, soc, sig), CMBOOT_ERR_NOT_FOUND); /* no bootsig.bin */
    test_write_file(dir, "bootsig.bin", "x", 1);
    assert_int_equal(cmboot_files_signature(f, soc, sig), CMBOOT_OK);
    assert_memory_equal(sig, raw, 20);
    test_write_file(dir, "bootcode.sig", raw, 25); /* longer: its first 20 bytes, as the reference */
    memset(sig, 0, sizeof sig);
    assert_int_equal(cmboot_files_signature(f, soc, sig), CMBOOT_OK);
    assert_memory_equal(sig, raw, 20);
    /* hex text is not decoded: the reference sends the file's bytes */
    const char *hex = "00112233445566778899aabbccddeeff00112233\n";
    test_write_file(dir, "bootcode.sig", hex, strlen(hex));
    assert_int_equal(cmboot_files_signature(f, soc, sig), CMBOOT_OK);
    assert_memory_equal(sig, hex, 20);
    test_write_file(dir, "bootcode.sig", raw, 19);
    assert_int_equal(cmboot_files_signature(f, soc, sig), CMBOOT_ERR_FORMAT);
    /* the ordinary lookup: DIR/2710/ wins over DIR/, and a symlink to the signature is followed */
    test_write_file(dir, "2710/bootcode.sig", raw + 5, 20);
    assert_int_equal(cmboot_files_signature(f, soc, sig), CMBOOT_OK);
    assert_memory_equal(sig, raw + 5, 20);
    char *other = test_tmpdir("sig-src");
    test_write_file(other, "signed.sig", raw + 2, 20);
    char path[4096], target[4096];
    snprintf(path, sizeof path, "%s/2710/bootcode.sig", dir);
    snprintf(target, sizeof target, "%s/signed.sig", other);
    assert_int_equal(unlink(path), 0);
    assert_int_equal(symlink(target, path), 0);
    assert_int_equal(cmboot_files_signature(f, soc, sig), CMBOOT_OK);
    assert_memory_equal(sig, raw + 2, 20);
    cmboot_files_free(f);
    test_rmtree(other);
    free(other);
    test_rmtree(dir);
    free(dir);
}
/* The guest's shell copy of the tree (tests/e2e/guest/payload-tree.sh) must be served as it claims: every
 * "E2E-FILE name sha256" line it prints is what cmboot's lookup hands a board of that SoC. */
static void sha256_stream(cmboot_stream *s, char hex[65])
{
    EVP_MD_CTX *md = EVP_MD_CTX_new();
    assert_non_null(md);
    assert_int_equal(EVP_DigestInit_ex(md, EVP_sha256(), NULL), 1);
    unsigned char buf[65536], out[32];
    long n;
    while ((n = s->read(s->self, buf, sizeof buf)) > 0)
        assert_int_equal(EVP_DigestUpdate(md, buf, (size_t)n), 1);
    assert_int_equal(n, 0);
    unsigned len = 0;
    assert_int_equal(EVP_DigestFinal_ex(md, out, &len), 1);
    EVP_MD_CTX_free(md);
    for (int i = 0; i < 32; i++)
        snprintf(hex + 2 * i, 3, "%02x", out[i]);
}

static void check_guest_payload(const char *root, const char *payload, const char *prefixes, int want_lines)
{
    char cmd[8192], dir[4096], msd[4096];
    snprintf(cmd, sizeof cmd,
             "PT_BOOT_IMG_SIZE=70000 sh -c '. %s/e2e/guest/payload-tree.sh && mk_upstream_tree \"$0\" %s %s' %s",
             CMBOOT_TEST_SOURCE_DIR, payload, prefixes, root);
    FILE *p = popen(cmd, "r");
    assert_non_null(p);
    snprintf(dir, sizeof dir, "%s/%s", root, payload);
    snprintf(msd, sizeof msd, "%s/msd", root);
    const char *fallback[] = {msd, NULL};
    cmboot_files_config cfg = {
        .struct_size = sizeof cfg, .boot_dir = dir, .fallback_dirs = fallback, .embedded = no_embedded};
    cmboot_files *f;
    assert_int_equal(cmboot_files_new(&cfg, &f), CMBOOT_OK);
    char line[512], name[256], sum[80];
    int lines = 0;
    while (fgets(line, sizeof line, p)) {
        assert_int_equal(sscanf(line, "E2E-FILE %255s %79s", name, sum), 2);
        /* the SoC that asks for it: names only one generation uses, else the first of the prefixes */
        cmboot_soc_id soc = strstr(prefixes, "2711") ? CMBOOT_SOC_BCM2711 : CMBOOT_SOC_BCM2712;
        if (!strcmp(name, "bootcode.bin") || !strcmp(name, "start.elf"))
            soc = CMBOOT_SOC_BCM2837;
        else if (!strcmp(name, "bootcode5.bin") || !strncmp(name, "rp1c0fw", 7) || !strcmp(name, "bootsys-ab.bin"))
            soc = CMBOOT_SOC_BCM2712;
        cmboot_stream s;
        int rc = cmboot_files_open(f, cmboot_soc_by_id(soc), "1-1", name, &s);
        if (rc != CMBOOT_OK)
            fail_msg("%s/%s for %s: %s", payload, name, cmboot_soc_by_id(soc)->name, cmboot_error_name(rc));
        char hex[65];
        sha256_stream(&s, hex);
        cmboot_stream_close(&s);
        if (strcmp(hex, sum) != 0)
            fail_msg("%s/%s: served %s, the guest reports %s", payload, name, hex, sum);
        lines++;
    }
    assert_int_equal(pclose(p), 0);
    assert_int_equal(lines, want_lines);
    cmboot_files_free(f);
}

static void test_guest_tree_served_as_reported(void **state)
{
    (void)state;
    const char *tools[] = {"/bin/sh", "tar", "sha256sum", "dd", "head", "cut"};
    for (size_t i = 0; i < sizeof tools / sizeof tools[0]; i++) {
        char cmd[256];
        snprintf(cmd, sizeof cmd, "command -v %s >/dev/null 2>&1", tools[i]);
        if (system(cmd) != 0) {
            fprintf(stderr, "skipped: no %s on this host\n", tools[i]);
            skip();
        }
    }
    struct {
        const char *payload, *prefixes;
        int lines;
    } cases[] = {
        /* boot.img + config.txt, msd's 2, 2711's 14 members, 2712's 12 */
        {"mass-storage-gadget64", "2710 2711 2712", 2 + 2 + 14 + 12},
        {"recovery", "2711", 5},
        {"recovery5", "2712", 5},
        {"eeprom-erase", "2711", 3},
        {"rpi-imager-embedded", "2712", 2 + 12},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char *root = test_tmpdir("guest-tree");
        check_guest_payload(root, cases[i].payload, cases[i].prefixes, cases[i].lines);
        test_rmtree(root);
        free(root);
    }
}

static void test_soc_table_and_stages(void **state)
{
    (void)state;
    assert_string_equal(cmboot_soc_by_product_id(0x2763)->second_stage, "bootcode.bin");
    assert_string_equal(cmboot_soc_by_product_id(0x2764)->second_stage, "bootcode.bin");
    assert_string_equal(cmboot_soc_by_product_id(0x2711)->second_stage, "bootcode4.bin");
    assert_string_equal(cmboot_soc_by_product_id(0x2712)->second_stage, "bootcode5.bin");
    assert_null(cmboot_soc_by_product_id(0x1234));
    assert_int_equal(cmboot_stage_of(0x0a5c, 0x2764, 0), CMBOOT_STAGE_ROM);
    assert_int_equal(cmboot_stage_of(0x0a5c, 0x2711, 3), CMBOOT_STAGE_ROM);
    assert_int_equal(cmboot_stage_of(0x0a5c, 0x2711, 1), CMBOOT_STAGE_SECOND);
    assert_int_equal(cmboot_stage_of(0x0a5c, 0x0001, 0), CMBOOT_STAGE_MASS_STORAGE);
    assert_int_equal(cmboot_stage_of(0x0a5c, 0x0104, 3), CMBOOT_STAGE_MASS_STORAGE);
    assert_int_equal(cmboot_stage_of(0x1d6b, 0x2764, 0), CMBOOT_STAGE_UNKNOWN);
    int iface;
    uint8_t ep;
    cmboot_vendor_endpoint(1, &iface, &ep);
    assert_int_equal(iface, 0);
    assert_int_equal(ep, 0x01);
    cmboot_vendor_endpoint(2, &iface, &ep);
    assert_int_equal(iface, 1);
    assert_int_equal(ep, 0x03);
    for (int e = 0; e > -CMBOOT_ERR_COUNT; e--)
        assert_string_not_equal(cmboot_strerror(e), "unknown error");
    assert_string_equal(cmboot_strerror(-999), "unknown error");
}

static const struct CMUnitTest tests[] = {
    cmocka_unit_test(test_name_check_refuses_hostile_names),
    cmocka_unit_test(test_symlink_out_followed_by_default),
    cmocka_unit_test(test_symlink_out_refused_strict),
    cmocka_unit_test(test_open_without_openat2_matches),
    cmocka_unit_test(test_fifo_answered_absent),
    cmocka_unit_test(test_symlink_logged_with_target),
    cmocka_unit_test(test_strict_warns_hard_link),
    cmocka_unit_test(test_upstream_tree_resolves),
    cmocka_unit_test(test_upstream_tree_strict_refuses),
    cmocka_unit_test(test_upstream_symlink_logged),
    cmocka_unit_test(test_lookup_prefix_then_base),
    cmocka_unit_test(test_lookup_bootfiles_archive),
    cmocka_unit_test(test_lookup_bootfiles_corrupt),
    cmocka_unit_test(test_lookup_overlay_by_port),
    cmocka_unit_test(test_cm3_gadget_dir_uses_fallback_dirs),
    cmocka_unit_test(test_fallback_embedded_before_dirs),
    cmocka_unit_test(test_embedded_table_generated),
    cmocka_unit_test(test_probe_names_source_or_searched_dirs),
    cmocka_unit_test(test_signature_raw_20_bytes),
    cmocka_unit_test(test_guest_tree_served_as_reported),
    cmocka_unit_test(test_soc_table_and_stages),
};
CMBOOT_TEST_MAIN(tests)
