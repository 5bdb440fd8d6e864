/* Helpers shared by the libFuzzer targets: scratch directory, files, fake trees from the fuzz input. */
#include "fuzz_util.h"

#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static char scratch[PATH_MAX];

void fuzz_fail(const char *what)
{
    fprintf(stderr, "fuzz invariant broken: %s\n", what);
    abort();
}

static int rm_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st;
    (void)flag;
    (void)ftw;
    remove(path);
    return 0;
}

void fuzz_rm_tree(const char *path)
{
    /* FTW_PHYS: never follow a link out of the tree */
    nftw(path, rm_one, 16, FTW_DEPTH | FTW_PHYS);
}

static void rm_scratch(void)
{
    if (scratch[0])
        fuzz_rm_tree(scratch);
}

const char *fuzz_scratch(void)
{
    if (scratch[0])
        return scratch;
    const char *base = access("/dev/shm", W_OK) == 0 ? "/dev/shm" : getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp";
    snprintf(scratch, sizeof scratch, "%s/cmboot-fuzz-XXXXXX", base);
    if (!mkdtemp(scratch))
        fuzz_fail("cannot create the scratch directory");
    atexit(rm_scratch);
    return scratch;
}

void fuzz_write_file(const char *path, const void *data, size_t len)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0644);
    if (fd < 0 || (len && write(fd, data, len) != (ssize_t)len)) {
        fprintf(stderr, "%s: %s\n", path, strerror(errno));
        fuzz_fail("cannot write a scratch file");
    }
    close(fd);
}

void fuzz_mkdirs(const char *path, int with_last)
{
    char p[PATH_MAX];
    snprintf(p, sizeof p, "%s", path);
    for (char *s = p + 1; *s; s++) {
        if (*s == '/') {
            *s = 0;
            mkdir(p, 0755);
            *s = '/';
        }
    }
    if (with_last)
        mkdir(p, 0755);
}

uint8_t fuzz_u8(fuzz_in *in)
{
    if (!in->left)
        return 0;
    in->left--;
    return *in->p++;
}

uint16_t fuzz_u16(fuzz_in *in)
{
    uint16_t a = fuzz_u8(in);
    return (uint16_t)(a | (uint16_t)fuzz_u8(in) << 8);
}

uint32_t fuzz_u32(fuzz_in *in)
{
    uint32_t a = fuzz_u16(in);
    return a | (uint32_t)fuzz_u16(in) << 16;
}

size_t fuzz_bytes(fuzz_in *in, size_t n, const uint8_t **out)
{
    if (n > in->left)
        n = in->left;
    *out = in->p;
    in->p += n;
    in->left -= n;
    return n;
}

/* Appends one path component chosen by the input. */
static void component(fuzz_in *in, const char *const *names, size_t count, char *out, size_t size)
{
    uint8_t b = fuzz_u8(in);
    size_t n = strlen(out);
    if (b < count) {
        snprintf(out + n, size - n, "%s%s", n ? "/" : "", names[b]);
        return;
    }
    char raw[9];
    const uint8_t *p;
    size_t k = fuzz_bytes(in, (size_t)(b & 7) + 1, &p);
    for (size_t i = 0; i < k; i++)
        raw[i] = p[i] == '/' || p[i] == 0 ? '_' : (char)p[i];
    raw[k] = 0;
    if (k == 0 || strcmp(raw, ".") == 0 || strcmp(raw, "..") == 0)
        snprintf(raw, sizeof raw, "_");
    snprintf(out + n, size - n, "%s%s", n ? "/" : "", raw);
}

static void rel_path(fuzz_in *in, const char *const *names, size_t count, char *out, size_t size)
{
    out[0] = 0;
    unsigned parts = fuzz_u8(in) % 6 + 1;
    for (unsigned i = 0; i < parts && in->left; i++)
        component(in, names, count, out, size);
    if (!out[0])
        snprintf(out, size, "_");
}

/* Whether every existing ancestor of root/rel below root is a real directory: a record never writes through
 * a link (which could lead out of the scratch directory). */
static int physical_parent(const char *root, const char *rel)
{
    char p[PATH_MAX];
    size_t base = (size_t)snprintf(p, sizeof p, "%s/%s", root, rel);
    if (base >= sizeof p)
        return 0;
    for (char *s = p + strlen(root) + 1; *s; s++) {
        if (*s != '/')
            continue;
        *s = 0;
        struct stat st;
        int bad = lstat(p, &st) == 0 && !S_ISDIR(st.st_mode);
        *s = '/';
        if (bad)
            return 0;
    }
    return 1;
}

void fuzz_tree_build(fuzz_in *in, const char *root, const char *const *names, size_t count)
{
    fuzz_mkdirs(root, 1);
    for (unsigned rec = 0; rec < 64 && in->left; rec++) {
        uint8_t op = fuzz_u8(in) % 4;
        if (op == 3)
            break;
        char rel[PATH_MAX / 2], path[PATH_MAX];
        rel_path(in, names, count, rel, sizeof rel);
        snprintf(path, sizeof path, "%s/%s", root, rel);
        if (!physical_parent(root, rel))
            continue;
        fuzz_mkdirs(path, op == 0);
        if (op == 1) {
            const uint8_t *p;
            size_t n = fuzz_bytes(in, fuzz_u8(in), &p);
            int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0644);
            if (fd >= 0) {
                if (n && write(fd, p, n) < 0)
                    fuzz_fail("cannot write a tree file");
                close(fd);
            }
        } else if (op == 2) {
            unsigned up = fuzz_u8(in) % 4;
            char target[PATH_MAX / 2 + 16] = "", sub[PATH_MAX / 2];
            for (unsigned i = 0; i < up; i++)
                strcat(target, "../");
            rel_path(in, names, count, sub, sizeof sub);
            strncat(target, sub, sizeof target - strlen(target) - 1);
            if (symlink(target, path) != 0 && errno != EEXIST && errno != ENOENT && errno != ENOTDIR)
                fuzz_fail("cannot make a tree link");
        }
    }
}
