/* Helpers shared by the unit tests: cmocka main with a name filter, temp dirs, file writers. */
#ifndef CMBOOT_TESTUTIL_H
#define CMBOOT_TESTUTIL_H
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

/* Runs the group; argv[1], when given, selects one test by exact name (CTest runs each alone). */
int cmboot_test_main(const char *group, const struct CMUnitTest *tests, size_t count, int argc, char **argv);
#define CMBOOT_TEST_MAIN(tests)                                                                                        \
    int main(int argc, char **argv)                                                                                    \
    {                                                                                                                  \
        return cmboot_test_main(__FILE__, tests, sizeof(tests) / sizeof(tests[0]), argc, argv);                        \
    }

/* A fresh empty directory for this test (removed by the caller or left for inspection). */
char *test_tmpdir(const char *tag);
/* Writes len bytes to dir/name, creating parent directories. */
void test_write_file(const char *dir, const char *name, const void *data, size_t len);
/* Deterministic pattern bytes. */
void test_fill_pattern(uint8_t *buf, size_t len, uint32_t seed);
/* Removes a directory tree. */
void test_rmtree(const char *path);
#endif
