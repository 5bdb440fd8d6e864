/* Helpers shared by the libFuzzer targets: a private scratch directory, files and trees written from input. */
#ifndef CMBOOT_FUZZ_UTIL_H
#define CMBOOT_FUZZ_UTIL_H
#include <stddef.h>
#include <stdint.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* A directory of this process (under /dev/shm when it is writable: no disk I/O), made on first use and removed
 * at exit. Aborts when it cannot be made: a fuzz run without its scratch space would test nothing. */
const char *fuzz_scratch(void);
/* Writes a file (parents must exist); aborts on failure. */
void fuzz_write_file(const char *path, const void *data, size_t len);
/* Removes a tree (files, links, directories); the path itself too. */
void fuzz_rm_tree(const char *path);
/* Creates every missing directory of path (not the last component unless with_last). */
void fuzz_mkdirs(const char *path, int with_last);
/* Aborts with a message: what the sanitizers and libFuzzer report as a crash. */
void fuzz_fail(const char *what) __attribute__((noreturn));

/* Input reader: bytes taken in order; past the end every read gives 0 / empty. */
typedef struct fuzz_in {
    const uint8_t *p;
    size_t left;
} fuzz_in;
uint8_t fuzz_u8(fuzz_in *in);
uint16_t fuzz_u16(fuzz_in *in);
uint32_t fuzz_u32(fuzz_in *in);
/* Takes up to n bytes: returns how many, *out points into the input. */
size_t fuzz_bytes(fuzz_in *in, size_t n, const uint8_t **out);

/* Fake trees (sysfs, /proc, /dev) built from input under root. Each record: an op byte (mkdir, file, symlink,
 * stop), a path of 1-6 components, each a byte: < count picks names[b], else a raw name of (b & 7) + 1 input
 * bytes ('/' and NUL mapped to '_', "." and ".." to "_"); a file takes a length byte and its content; a symlink
 * a ".." count (0-3) and a relative path, so it never leaves the scratch directory given a root at least
 * four levels below it. Failures (a file where a directory is needed) are ignored: odd trees are the point. */
void fuzz_tree_build(fuzz_in *in, const char *root, const char *const *names, size_t count);
#endif
