/* Pairing: the disk under the board's port path in a fake sysfs tree, exactly one, openable, with a deadline. */
#include "testutil.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "cmboot/device.h"
#include "cmboot/error.h"
#include "cmboot/flash.h"

typedef struct fake {
    char *root;
    char sys[4096];
    char dev[4096];
    cmboot_target_env env;
} fake;

static fake *make_fake(void)
{
    fake *f = calloc(1, sizeof *f);
    f->root = test_tmpdir("pair");
    snprintf(f->sys, sizeof f->sys, "%s/sys", f->root);
    snprintf(f->dev, sizeof f->dev, "%s/dev", f->root);
    test_write_file(f->dev, ".keep", "", 0);
    cmboot_target_env_default(&f->env);
    f->env.sys_root = f->sys;
    f->env.dev_root = f->dev;
    return f;
}

static void free_fake(fake *f)
{
    test_rmtree(f->root);
    free(f->root);
    free(f);
}

/* A USB device at port path pp (sysfs links bus/usb/devices/<pp> into devices/), with a disk. */
static void add_disk(fake *f, const char *pp, const char *lun, const char *name, const char *size)
{
    char rel[4096], link[4096], target[4096];
    snprintf(rel, sizeof rel, "devices/pci0000:00/usb/%s", pp);
    snprintf(link, sizeof link, "%s/bus/usb/devices/%s", f->sys, pp);
    snprintf(target, sizeof target, "%s/%s", f->sys, rel);
    test_write_file(target, ".keep", "", 0);
    test_write_file(f->sys, "bus/usb/devices/.keep", "", 0);
    if (access(link, F_OK) != 0)
        assert_int_equal(symlink(target, link), 0);
    char p[4096];
    snprintf(p, sizeof p, "%s/%s:1.0/host3/target3:0:0/%s/block/%s", target, pp, lun, name);
    test_write_file(p, "size", size, strlen(size));
    test_write_file(f->dev, name, "", 0);
}

static void pair_finds_the_board_disk(void **state)
{
    (void)state;
    fake *f = make_fake();
    add_disk(f, "1-1.2", "3:0:0:0", "sdb", "2048\n");
    add_disk(f, "1-1.3", "4:0:0:0", "sdc", "4096\n"); /* another board's disk: never ours */
    char out[256];
    assert_int_equal(cmboot_flash_pair(&f->env, "1-1.3", cmboot_now_ms() + 1000, out, sizeof out), CMBOOT_OK);
    char want[4200];
    snprintf(want, sizeof want, "%s/sdc", f->dev);
    assert_string_equal(out, want);
    free_fake(f);
}

static void pair_refuses_two_disks(void **state)
{
    (void)state;
    fake *f = make_fake();
    add_disk(f, "2-4", "3:0:0:0", "sdb", "2048\n");
    add_disk(f, "2-4", "3:0:0:1", "sdc", "2048\n");
    char out[256];
    assert_int_equal(cmboot_flash_pair(&f->env, "2-4", cmboot_now_ms() + 1000, out, sizeof out),
                     CMBOOT_ERR_UNSAFE_TARGET);
    free_fake(f);
}

static void pair_times_out_without_disk(void **state)
{
    (void)state;
    fake *f = make_fake();
    add_disk(f, "1-1.2", "3:0:0:0", "sdb", "2048\n");
    char out[256];
    assert_int_equal(cmboot_flash_pair(&f->env, "1-1.4", cmboot_now_ms() + 150, out, sizeof out), CMBOOT_ERR_TIMEOUT);
    free_fake(f);
}

static void pair_waits_for_medium(void **state)
{
    (void)state;
    fake *f = make_fake();
    add_disk(f, "1-1.2", "3:0:0:0", "sdb", "0\n"); /* no medium yet: not ready */
    char out[256];
    assert_int_equal(cmboot_flash_pair(&f->env, "1-1.2", cmboot_now_ms() + 150, out, sizeof out), CMBOOT_ERR_TIMEOUT);
    free_fake(f);
}

static void *appear_later(void *arg)
{
    fake *f = arg;
    struct timespec ts = {0, 120 * 1000 * 1000};
    nanosleep(&ts, NULL);
    add_disk(f, "3-1", "5:0:0:0", "sdd", "8192\n");
    return NULL;
}

static void pair_waits_for_late_disk(void **state)
{
    (void)state;
    fake *f = make_fake();
    pthread_t th;
    assert_int_equal(pthread_create(&th, NULL, appear_later, f), 0);
    char out[256];
    int rc = cmboot_flash_pair(&f->env, "3-1", cmboot_now_ms() + 10000, out, sizeof out);
    pthread_join(th, NULL);
    assert_int_equal(rc, CMBOOT_OK);
    assert_non_null(strstr(out, "/sdd"));
    free_fake(f);
}

typedef struct later_cancel {
    cmboot_flash_canceller *c;
    int64_t at_ms;
} later_cancel;

static void *cancel_later(void *arg)
{
    later_cancel *lc = arg;
    struct timespec ts = {1, 200 * 1000 * 1000}; /* past the back-off's growth: it waits 500 ms at a time */
    nanosleep(&ts, NULL);
    lc->at_ms = cmboot_now_ms();
    cmboot_flash_cancel(lc->c);
    return NULL;
}

static void pair_cancelled_from_another_thread(void **state)
{
    (void)state;
    fake *f = make_fake();
    later_cancel lc = {NULL, 0};
    assert_int_equal(cmboot_flash_canceller_new(&lc.c), CMBOOT_OK);
    pthread_t th;
    assert_int_equal(pthread_create(&th, NULL, cancel_later, &lc), 0);
    char out[256];
    int rc = cmboot_flash_pair_cancellable(&f->env, "1-1.4", cmboot_now_ms() + 20000, lc.c, out, sizeof out);
    int64_t back = cmboot_now_ms();
    pthread_join(th, NULL);
    assert_int_equal(rc, CMBOOT_ERR_CANCELLED);
    /* Woken by the canceller's fd, not by the next 500 ms back-off step. */
    assert_true(back - lc.at_ms < 250);
    /* Once cancelled, a new wait ends at once even though the disk is there. */
    add_disk(f, "1-1.4", "3:0:0:0", "sdb", "2048\n");
    assert_int_equal(cmboot_flash_pair_cancellable(&f->env, "1-1.4", cmboot_now_ms() + 20000, lc.c, out, sizeof out),
                     CMBOOT_ERR_CANCELLED);
    assert_int_equal(cmboot_flash_pair_cancellable(&f->env, "1-1.4", cmboot_now_ms() + 20000, NULL, out, sizeof out),
                     CMBOOT_OK);
    cmboot_flash_canceller_free(lc.c);
    free_fake(f);
}

/* The node exists but the kernel does not open it yet (ENXIO: sd still probing or resetting): not ready. A UNIX
 * socket stands for such a node: opening it fails with ENXIO. */
static void pair_waits_until_disk_opens(void **state)
{
    (void)state;
    fake *f = make_fake();
    add_disk(f, "1-1.2", "3:0:0:0", "sdb", "2048\n");
    char node[4200];
    snprintf(node, sizeof node, "%s/sdb", f->dev);
    assert_int_equal(unlink(node), 0);
    int s = socket(AF_UNIX, SOCK_STREAM, 0);
    assert_true(s >= 0);
    struct sockaddr_un sa;
    memset(&sa, 0, sizeof sa);
    sa.sun_family = AF_UNIX;
    if (strlen(node) >= sizeof sa.sun_path) {
        close(s);
        free_fake(f);
        print_message("temporary path too long for a UNIX socket\n");
        skip();
    }
    snprintf(sa.sun_path, sizeof sa.sun_path, "%s", node);
    assert_int_equal(bind(s, (struct sockaddr *)&sa, sizeof sa), 0);
    char out[256];
    assert_int_equal(cmboot_flash_pair(&f->env, "1-1.2", cmboot_now_ms() + 150, out, sizeof out), CMBOOT_ERR_TIMEOUT);
    close(s);
    assert_int_equal(unlink(node), 0);
    test_write_file(f->dev, "sdb", "", 0); /* the disk opens now */
    assert_int_equal(cmboot_flash_pair(&f->env, "1-1.2", cmboot_now_ms() + 1000, out, sizeof out), CMBOOT_OK);
    assert_string_equal(out, node);
    free_fake(f);
}

static void pair_rejects_bad_port_path(void **state)
{
    (void)state;
    char out[256];
    assert_int_equal(cmboot_flash_pair(NULL, "../1-1", cmboot_now_ms(), out, sizeof out), CMBOOT_ERR_INVALID_ARG);
    assert_int_equal(cmboot_flash_pair(NULL, "1-1/*", cmboot_now_ms(), out, sizeof out), CMBOOT_ERR_INVALID_ARG);
    assert_int_equal(cmboot_flash_pair(NULL, "", cmboot_now_ms(), out, sizeof out), CMBOOT_ERR_INVALID_ARG);
    /* made of digits, '-' and '.' but no port path (cmboot_port_path_valid): refused, not waited for */
    static const char *const odd[] = {"1-0", "01-1", "1-1..2", "1-", "-1", "1-1.2.3.4.5.6.7.8", "1-256", "1-1-1"};
    for (size_t i = 0; i < sizeof odd / sizeof odd[0]; i++)
        assert_int_equal(cmboot_flash_pair(NULL, odd[i], cmboot_now_ms(), out, sizeof out), CMBOOT_ERR_INVALID_ARG);
}

static const struct CMUnitTest tests[] = {
    cmocka_unit_test(pair_finds_the_board_disk),          cmocka_unit_test(pair_refuses_two_disks),
    cmocka_unit_test(pair_times_out_without_disk),        cmocka_unit_test(pair_waits_for_medium),
    cmocka_unit_test(pair_waits_for_late_disk),           cmocka_unit_test(pair_rejects_bad_port_path),
    cmocka_unit_test(pair_cancelled_from_another_thread), cmocka_unit_test(pair_waits_until_disk_opens),
};

CMBOOT_TEST_MAIN(tests)
