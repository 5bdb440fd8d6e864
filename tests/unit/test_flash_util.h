/* Helpers for the flash tests: bmap files made like bmaptool makes them, file comparisons, loop devices. */
#ifndef CMBOOT_FLASH_TESTUTIL_H
#define CMBOOT_FLASH_TESTUTIL_H

#include <errno.h>
#include <fcntl.h>
#include <linux/fs.h>
#include <linux/loop.h>
#include <openssl/evp.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include "testutil.h"

static inline void ft_hex(const uint8_t *b, size_t n, char *out)
{
    for (size_t i = 0; i < n; i++)
        sprintf(out + 2 * i, "%02x", b[i]);
}

static inline void ft_sha256(const void *data, size_t len, uint8_t out[32])
{
    unsigned n = 0;
    assert_int_equal(EVP_Digest(data, len, out, &n, EVP_sha256(), NULL), 1);
}

/* bmap 2.0 text for `img` with the given [first,last] block ranges (4096-byte blocks). */
static inline char *ft_make_bmap(const uint8_t *img, size_t size, const uint64_t (*ranges)[2], size_t n)
{
    size_t cap = 4096 + n * 160;
    char *t = malloc(cap);
    assert_non_null(t);
    uint64_t blocks = (size + 4095) / 4096, mapped = 0;
    for (size_t i = 0; i < n; i++)
        mapped += ranges[i][1] - ranges[i][0] + 1;
    int len = snprintf(t, cap,
                       "<?xml version=\"1.0\" ?>\n<!-- test bmap -->\n<bmap version=\"2.0\">\n"
                       "    <ImageSize> %zu </ImageSize>\n    <BlockSize> 4096 </BlockSize>\n"
                       "    <BlocksCount> %llu </BlocksCount>\n    <MappedBlocksCount> %llu </MappedBlocksCount>\n"
                       "    <ChecksumType> sha256 </ChecksumType>\n"
                       "    <BmapFileChecksum> %064d </BmapFileChecksum>\n    <BlockMap>\n",
                       size, (unsigned long long)blocks, (unsigned long long)mapped, 0);
    for (size_t i = 0; i < n; i++) {
        uint64_t s = ranges[i][0] * 4096, e = (ranges[i][1] + 1) * 4096;
        if (e > size)
            e = size;
        uint8_t d[32];
        char hex[65];
        ft_sha256(img + s, (size_t)(e - s), d);
        ft_hex(d, 32, hex);
        if (ranges[i][0] == ranges[i][1])
            len += snprintf(t + len, cap - (size_t)len, "        <Range chksum=\"%s\"> %llu </Range>\n", hex,
                            (unsigned long long)ranges[i][0]);
        else
            len += snprintf(t + len, cap - (size_t)len, "        <Range chksum=\"%s\"> %llu-%llu </Range>\n", hex,
                            (unsigned long long)ranges[i][0], (unsigned long long)ranges[i][1]);
    }
    len += snprintf(t + len, cap - (size_t)len, "    </BlockMap>\n</bmap>\n");
    uint8_t d[32];
    char hex[65];
    ft_sha256(t, (size_t)len, d);
    ft_hex(d, 32, hex);
    char *z = strstr(t, "<BmapFileChecksum> ") + strlen("<BmapFileChecksum> ");
    memcpy(z, hex, 64);
    return t;
}

static inline uint8_t *ft_read_file(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    assert_non_null(f);
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    uint8_t *b = malloc((size_t)n + 1);
    assert_non_null(b);
    assert_int_equal(fread(b, 1, (size_t)n, f), (size_t)n);
    fclose(f);
    *len = (size_t)n;
    return b;
}

/* A real block device: a loop device over a file, torn down when the last descriptor closes. */
typedef struct ft_loop {
    int fd;
    char dev[64];
    unsigned maj, min;
    uint64_t diskseq; /* 0 when the kernel has none */
} ft_loop;

/* Attaches backing (a file) to a free loop device; false (the caller skips) without root or loop support. */
static inline bool ft_loop_attach(ft_loop *l, const char *backing)
{
    memset(l, 0, sizeof *l);
    l->fd = -1;
    int ctl = open("/dev/loop-control", O_RDWR | O_CLOEXEC);
    if (ctl < 0)
        return false;
    for (int tries = 0; tries < 8; tries++) {
        int n = ioctl(ctl, LOOP_CTL_GET_FREE);
        if (n < 0)
            break;
        snprintf(l->dev, sizeof l->dev, "/dev/loop%d", n);
        int fd = open(l->dev, O_RDWR | O_CLOEXEC);
        int bf = open(backing, O_RDWR | O_CLOEXEC);
        if (fd < 0 || bf < 0) {
            if (fd >= 0)
                close(fd);
            if (bf >= 0)
                close(bf);
            break;
        }
        struct loop_config cfg;
        memset(&cfg, 0, sizeof cfg);
        cfg.fd = (uint32_t)bf;
        cfg.info.lo_flags = LO_FLAGS_AUTOCLEAR;
        int r = ioctl(fd, LOOP_CONFIGURE, &cfg);
        int e = errno;
        close(bf);
        if (r == 0) {
            struct stat st;
            assert_int_equal(fstat(fd, &st), 0);
            l->fd = fd;
            l->maj = major(st.st_rdev);
            l->min = minor(st.st_rdev);
            uint64_t seq = 0;
            if (ioctl(fd, BLKGETDISKSEQ, &seq) == 0)
                l->diskseq = seq;
            close(ctl);
            return true;
        }
        close(fd);
        if (e != EBUSY)
            break; /* EBUSY: someone else took that device meanwhile */
    }
    close(ctl);
    return false;
}

static inline void ft_loop_detach(ft_loop *l)
{
    if (l->fd >= 0) {
        ioctl(l->fd, LOOP_CLR_FD, 0);
        close(l->fd);
        l->fd = -1;
    }
}

/* Whether len bytes of a file at off are all zero. */
static inline bool ft_file_zero(const char *path, size_t len)
{
    size_t n = 0;
    uint8_t *b = ft_read_file(path, &n);
    bool zero = true;
    for (size_t i = 0; i < len && i < n; i++)
        zero = zero && b[i] == 0;
    free(b);
    return zero;
}
/* A directory holding disk.img: size bytes of test_fill_pattern(seed); target.bin and disk.bmap named beside. */
typedef struct ft_fixture {
    char *dir;
    char image[4096];
    char target[4096];
    char bmap[4096];
    uint8_t *data;
    size_t size;
} ft_fixture;

static inline ft_fixture *ft_setup(const char *tag, size_t size, uint32_t seed)
{
    ft_fixture *f = calloc(1, sizeof *f);
    assert_non_null(f);
    f->dir = test_tmpdir(tag);
    f->size = size;
    f->data = malloc(size);
    assert_non_null(f->data);
    test_fill_pattern(f->data, size, seed);
    test_write_file(f->dir, "disk.img", f->data, size);
    snprintf(f->image, sizeof f->image, "%s/disk.img", f->dir);
    snprintf(f->target, sizeof f->target, "%s/target.bin", f->dir);
    snprintf(f->bmap, sizeof f->bmap, "%s/disk.bmap", f->dir);
    return f;
}

static inline void ft_teardown(ft_fixture *f)
{
    test_rmtree(f->dir);
    free(f->dir);
    free(f->data);
    free(f);
}
#endif
