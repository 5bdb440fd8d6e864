/* Replays boards being flashed at once into the line view on a real terminal (for tests/cli/line-view-tmux.sh):
 * line_view_replay N HOLD_FILE [--quiet]. Each board writes to 50 %, waits until HOLD_FILE exists (so a test
 * reads the live rows), then finishes; board 2 fails. */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cmboot/cmboot.h"
#include "line_view.h"

typedef struct board {
    line_view *v;
    unsigned index;
    const char *hold;
} board;

static void pause_ms(long ms)
{
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

static void send(line_view *v, cmboot_event_type type, const char *port, const char *serial, const char *stage,
                 const char *name, const char *value, uint64_t done, uint64_t total, int error, uint64_t elapsed)
{
    cmboot_event e = {.type = type,
                      .device_id = port,
                      .serial = serial,
                      .soc = serial[0] ? "BCM2711" : "",
                      .stage = stage,
                      .name = name,
                      .value = value,
                      .json = "",
                      .done = done,
                      .total = total,
                      .error = error,
                      .elapsed_ms = elapsed};
    line_view_event(v, &e);
}

static void *board_main(void *arg)
{
    board *b = arg;
    char port[16], serial[32];
    snprintf(port, sizeof port, "1-1.%u", b->index);
    snprintf(serial, sizeof serial, "10000000c0ffee%02u", b->index);
    const uint64_t total = 256u << 20;
    send(b->v, CMBOOT_EV_DEVICE_SEEN, port, "", "rom", "", "", 0, 0, 0, 0);
    send(b->v, CMBOOT_EV_STAGE_START, port, serial, "mass-storage", "", "", 0, 0, 0, 0);
    send(b->v, CMBOOT_EV_BOARD_DONE, port, serial, "mass-storage", "", "ok", 0, 0, 0, 0);
    send(b->v, CMBOOT_EV_PHASE, port, "", "mass-storage", "write", "raw", 0, total, 0, 0);
    for (unsigned i = 1; i <= 10; i++) {
        send(b->v, CMBOOT_EV_PROGRESS, port, "", "mass-storage", "write", "", total * i / 20, total, 0, i * 200);
        pause_ms(20);
    }
    for (unsigned i = 0; i < 600 && access(b->hold, F_OK) != 0; i++) /* a minute at most */
        pause_ms(100);
    bool fail = b->index == 2;
    send(b->v, CMBOOT_EV_PHASE, port, "", "mass-storage", fail ? "failed" : "done", "", total, total,
         fail ? CMBOOT_ERR_VERIFY : 0, 0);
    line_view_result r = {.port_path = port,
                          .error = fail ? CMBOOT_ERR_VERIFY : CMBOOT_OK,
                          .reason = fail ? "the read-back differs" : NULL,
                          .bytes = total,
                          .elapsed_ms = 4000 + b->index * 1000,
                          .verified = !fail};
    line_view_board_finished(b->v, &r);
    return NULL;
}

int main(int argc, char **argv)
{
    if (argc < 3) {
        fprintf(stderr, "usage: line_view_replay N HOLD_FILE [--quiet]\n");
        return 2;
    }
    unsigned n = (unsigned)atoi(argv[1]);
    if (n < 1 || n > 32)
        return 2;
    line_view_config cfg;
    line_view_config_default(&cfg);
    cfg.out = stderr;
    cfg.rows = isatty(STDERR_FILENO);
    cfg.out = cfg.rows ? stderr : stdout;
    cfg.quiet = argc > 3 && strcmp(argv[3], "--quiet") == 0;
    cfg.ticker = true;
    line_view *v = NULL;
    if (line_view_new(&cfg, &v) != 0)
        return 1;
    line_view_log(v, "", CMBOOT_LOG_WARN, "replaying a line of boards");
    board b[32];
    pthread_t t[32];
    for (unsigned i = 0; i < n; i++) {
        b[i] = (board){v, i + 1, argv[2]};
        pthread_create(&t[i], NULL, board_main, &b[i]);
    }
    for (unsigned i = 0; i < n; i++)
        pthread_join(t[i], NULL);
    line_view_finish(v);
    line_view_free(v);
    return 0;
}
