/* cmboot-sim: emulated Raspberry Pi boards on QEMU usb-redir sockets (ROM -> second stage -> mass storage). */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "cmboot/error.h"
#include "cmboot/soc.h"
#include "model/sim_device.h"
#include "model/sim_script.h"
#include "front/usbredir_board.h"
#include "front/usbredir_bridge.h"

#define MAX_BOARDS 8
#define MAX_THEN 16 /* boards that follow one another on one port (--then) */
#define MAX_PAST 16 /* earlier power-ons of a wired board kept for the report */
#define MAX_POWER_EVENTS 64

/* Per-board settings from the command line (before the first --socket: defaults for all boards). */
typedef struct board_opts {
    char socket_path[108];
    cmboot_soc_id soc;
    const char *serial;
    const char *script_path;
    const char *fault;
    const char *rom_fault;
    bool rom_reject;
    bool two_interfaces;
    const char *disk;
    msc_config luns[MSC_MAX_LUNS - 1]; /* --lun: LUN 1, 2, ... */
    unsigned n_luns;
    const char *save_dir;
    bool plug_later;
    long rom_delay_ms, disconnect_delay_ms, reenum_delay_ms;
    bool rom_status_lost;
    bool timing_real;                   /* --timing real */
    long rom_reenum_ms, done_reenum_ms; /* explicit; -1: --timing, else --reenum-delay-ms */
    long late_config_ms;
    long second_serial_index; /* -1: the SoC's default */
    int config_quirk;         /* -1: the SoC's default, 0 off, 1 on */
    int after_done;           /* -1: mass storage (or nothing with --no-done) */
    bool cancel_misaligns;
    bool no_done;
    int start_stage; /* -1: ROM */
    /* the fastboot gadget (--after-done fastboot) */
    sim_fastboot_part fb_parts[SIM_FASTBOOT_PARTS_MAX]; /* --fastboot-part NAME=FILE; none: mmcblk0 = --disk */
    size_t n_fb_parts;
    sim_fastboot_part fb_default;
    long fb_max_download; /* -1: the model's default */
    bool fb_no_fetch, fb_short_fetch;
    const char *fb_fail_cmd;
    unsigned long long fb_vanish_after;
    /* --then SERIAL:DISK: the boards that follow on this port, one per unplug + plug */
    const char *then_serial[MAX_THEN];
    const char *then_disk[MAX_THEN];
    unsigned nthen, then_used;
    bool ever_plugged;
    /* wiring to the GPIO bridge (--wire-power, --wire-boot): line number, -1 = not wired */
    int wire_power, wire_boot;
    bool power_active_low; /* default: high = powered */
    bool boot_active_high; /* default: low = nRPIBOOT asserted (USB boot), as on the CM */
    bool powered;
    int boot_cmd; /* "boot N usb|normal" on the control socket: 1 usb, 0 normal, -1 never said; once said, "plug N"
                   * is a power-on that starts per this level and "unplug N" a power-off */
    sim_result past[MAX_PAST]; /* the results of earlier power-ons, oldest first */
    unsigned npast;
} board_opts;

typedef struct power_event {
    unsigned board;
    int64_t t_us;
    bool on;
    cmboot_stage stage; /* at power-on: where the board starts */
} power_event;

/* --timing presets: ROM -> second stage and Done -> next stage re-enumeration (docs/emulator.md). */
#define REAL_ROM_REENUM_MS 2000
#define REAL_DONE_REENUM_MS 8000
#define MAX_LATE_CONFIG_MS 4500 /* the guest kernel gives SET_CONFIGURATION 5 s */

typedef struct program {
    board_opts defaults;
    board_opts boards[MAX_BOARDS];
    unsigned nboards;
    double link_mbps;
    double emmc_write_mbps; /* eMMC model behind the mass-storage stage; 0 = unthrottled */
    double emmc_read_mbps;
    bool verbose;
    FILE *log;
    const char *control_path;
    const char *report_path;
    int control_listen;
    int control_fd;
    char control_buf[256];
    size_t control_len;
    usbredir_board *b[MAX_BOARDS];
    sim_script scripts[MAX_BOARDS];
    sim_config sim_cfg[MAX_BOARDS]; /* each port's model settings, for the boards that follow (--then) */
    int64_t t0_us;
    const char *bridge_path; /* --gpio-bridge */
    usbredir_bridge *bridge;
    power_event power[MAX_POWER_EVENTS];
    unsigned npower;
} program;

static volatile sig_atomic_t g_stop; /* set by SIGINT/SIGTERM: print the summary and leave */

static void on_signal(int sig)
{
    (void)sig;
    g_stop = 1;
}

static void usage(FILE *f)
{
    fprintf(
        f,
        "usage: cmboot-sim [options] --socket PATH [board options] [--socket PATH [board options]]...\n"
        "       cmboot-sim [options] --boards N --socket-dir DIR\n"
        "Emulated Raspberry Pi boards for QEMU: each board listens on a unix socket that a QEMU\n"
        "  -chardev socket,id=X,path=PATH -device usb-redir,chardev=X\n"
        "connects to, and boots ROM -> second stage -> mass storage on that port.\n"
        "Options before the first --socket apply to every board, options after it to that board only.\n"
        "Board options:\n"
        "  --soc NAME              bcm2835 | bcm2837 (default, CM3+) | bcm2711 (CM4) | bcm2712 (CM5)\n"
        "  --serial S              board serial (ROM string 3 on BCM2711/2712, mass-storage serial)\n"
        "  --script FILE           second-stage request script (docs/emulator.md); default per SoC\n"
        "  --fault KIND[=ARG]      fault on the last script step (e.g. vanish-after-bytes=100000, short=3, long)\n"
        "  --rom-fault KIND[=ARG]  fault on the ROM stage\n"
        "  --rom-reject            the ROM refuses the second stage\n"
        "  --two-interfaces        BCM2837 ROM variant: mass storage on interface 0, vendor on 1 (bulk OUT 0x03)\n"
        "  --disk IMAGE            image file behind the mass-storage stage (required): LUN 0\n"
        "  --lun FILE[,kind=K][,vendor=V][,product=P][,revision=R][,ro]\n"
        "                          one more LUN of that stage (repeat: LUN 1, 2, ...); kind emmc|sd|nvme|usb\n"
        "                          sets the INQUIRY strings the usbboot gadget reports for such a disk\n"
        "                          (vendor = kernel device name, e.g. \"nvme0n1\"); default as LUN 0's\n"
        "  --save-dir DIR          keep the files the host sent\n"
        "  --plug-later            start unplugged; plug with \"plug N\" on the control socket\n"
        "  --start-stage STAGE     rom (default), second-stage, mass-storage, fastboot or normal: where the\n"
        "                          board starts (already running a gadget, or its own system)\n"
        "  --then SERIAL:DISK      after \"unplug N\", the next \"plug N\" puts another board on this port:\n"
        "                          same settings, this serial and disk (repeatable, in order; a line)\n"
        "  --rom-delay-ms MS       ROM status NAKed this long after the second stage arrived\n"
        "  --rom-status-lost       the ROM never answers the status read, it just runs the second stage\n"
        "  --disconnect-delay-ms MS  last answer of a stage -> disconnect (default 5)\n"
        "  --reenum-delay-ms MS    disconnect -> next stage connects, every stage (default 20)\n"
        "  --timing fast|real      re-enumeration preset: fast = 20 ms everywhere (default); real = ROM ->\n"
        "                          second stage %d ms, Done -> next stage %d ms (real boards: 1.5-3 s, 5-30 s)\n"
        "  --rom-reenum-ms MS      ROM -> second stage re-enumeration (wins over --timing)\n"
        "  --done-reenum-ms MS     second stage -> next stage re-enumeration (wins over --timing)\n"
        "  --late-config MS        ROM: answer the guest's SET_CONFIGURATION MS later (0..%d), so sysfs\n"
        "                          shows no bNumInterfaces for that long after the ADD uevent\n"
        "  --config-quirk          ROM: first configuration read claims 55 bytes (default on BCM2711 only)\n"
        "  --no-config-quirk       ROM: no such quirk\n"
        "  --second-serial-index N iSerialNumber of the second stage (default 4 on BCM2711/2712, 1 else)\n"
        "  --cancel-misaligns      a cancelled pending request read misaligns the next reply (Imager's note)\n"
        "  --no-done               leave instead of saying Done (for good, unless --after-done says more)\n"
        "  --after-done WHAT       msd (default) | fastboot (18d1:4e40 gadget) | rom (a new boot) | none\n"
        "  --fastboot-part NAME=FILE  a partition of the fastboot gadget, its bytes in FILE (repeatable; default:\n"
        "                          mmcblk0 = --disk)\n"
        "  --fastboot-max-download N   the gadget's max-download-size in bytes (default 64 MiB)\n"
        "  --fastboot-no-fetch     a gadget without fetch: (FAIL \"unknown command\")\n"
        "  --fastboot-fault F      fail:COMMAND (FAIL to commands starting so) | short-fetch (fetch sends half its\n"
        "                          data) | vanish:BYTES (gone after that many download bytes)\n"
        "  --wire-power N[:high|:low]  the board's power follows GPIO.N of the --gpio-bridge (default high =\n"
        "                          powered): off unplugs it, on powers it on from the start per --wire-boot\n"
        "  --wire-boot N[:low|:high]   nRPIBOOT on GPIO.N (default low = asserted, as on the CM): sampled at\n"
        "                          power-on, asserted -> boot ROM (USB boot), released -> normal mode (the\n"
        "                          board's own system: g_cdc-like gadget 0525:a4aa with its serial)\n"
        "Global options:\n"
        "  --link MBPS             bulk link model in MB/s (default 40: USB 2.0 high speed; 0 = unthrottled)\n"
        "  --emmc-write MBPS       eMMC write speed behind the mass-storage stage, MB/s (default 35; 0 =\n"
        "                          unthrottled); the board writes at min(link, eMMC)\n"
        "  --emmc-read MBPS        eMMC read speed, MB/s (default 80; 0 = unthrottled)\n"
        "  --control PATH          unix socket for commands \"plug N\", \"unplug N\" (e.g. a guest serial port) and\n"
        "                          \"boot N usb|normal\": nRPIBOOT of board N at its next power-on; once given,\n"
        "                          unplug/plug of that board are a power-off/power-on (a fresh start per it)\n"
        "  --gpio-bridge PATH      a USB GPIO bridge (CP2112, 10c4:ea90, 8 lines) on this usb-redir socket;\n"
        "                          boards are wired to its lines with --wire-power / --wire-boot\n"
        "  --report FILE           write the per-stage summary there too\n"
        "  --log FILE              log file (default stderr)\n"
        "  -v, --verbose           log every transfer\n"
        "Runs until QEMU has closed every board's socket, or SIGINT/SIGTERM; then prints a summary.\n",
        REAL_ROM_REENUM_MS, REAL_DONE_REENUM_MS, MAX_LATE_CONFIG_MS);
}

static void plog(program *p, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void plog(program *p, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fprintf(p->log, "[%9.3f] ", (double)(usbredir_now_us() - p->t0_us) / 1e6);
    vfprintf(p->log, fmt, ap);
    fputc('\n', p->log);
    fflush(p->log);
    va_end(ap);
}

static void board_log(void *user, const char *board, int64_t t_us, const char *line)
{
    program *p = user;
    (void)t_us;
    plog(p, "%s: %s", board, line);
}

static bool parse_soc(const char *s, cmboot_soc_id *out)
{
    static const struct {
        const char *name;
        cmboot_soc_id id;
    } socs[] = {
        {"bcm2835", CMBOOT_SOC_BCM2835}, {"bcm2837", CMBOOT_SOC_BCM2837}, {"cm3", CMBOOT_SOC_BCM2837},
        {"bcm2711", CMBOOT_SOC_BCM2711}, {"cm4", CMBOOT_SOC_BCM2711},     {"bcm2712", CMBOOT_SOC_BCM2712},
        {"cm5", CMBOOT_SOC_BCM2712},
    };
    for (size_t i = 0; i < sizeof(socs) / sizeof(socs[0]); i++) {
        if (strcasecmp(s, socs[i].name) == 0) {
            *out = socs[i].id;
            return true;
        }
    }
    return false;
}

static bool parse_long(const char *s, long *out)
{
    char *end;
    errno = 0;
    long v = strtol(s, &end, 10);
    if (errno || *end || v < 0)
        return false;
    *out = v;
    return true;
}

/* "KIND" or "KIND=ARG", with the script's defaults. */
static bool parse_fault(const char *s, sim_fault *out)
{
    return sim_fault_parse(s, out) == CMBOOT_OK;
}

enum {
    OPT_SOC = 256,
    OPT_SOCKET,
    OPT_BOARDS,
    OPT_SOCKET_DIR,
    OPT_SERIAL,
    OPT_SCRIPT,
    OPT_FAULT,
    OPT_ROM_FAULT,
    OPT_ROM_REJECT,
    OPT_TWO_IF,
    OPT_DISK,
    OPT_SAVE_DIR,
    OPT_PLUG_LATER,
    OPT_ROM_DELAY,
    OPT_ROM_STATUS_LOST,
    OPT_DISC_DELAY,
    OPT_REENUM_DELAY,
    OPT_LINK,
    OPT_EMMC_WRITE,
    OPT_EMMC_READ,
    OPT_CONTROL,
    OPT_REPORT,
    OPT_LOG,
    OPT_HELP,
    OPT_TIMING,
    OPT_ROM_REENUM,
    OPT_DONE_REENUM,
    OPT_LATE_CONFIG,
    OPT_CONFIG_QUIRK,
    OPT_NO_CONFIG_QUIRK,
    OPT_SECOND_INDEX,
    OPT_CANCEL_MISALIGNS,
    OPT_NO_DONE,
    OPT_START_STAGE,
    OPT_THEN,
    OPT_AFTER_DONE,
    OPT_LUN,
    OPT_GPIO_BRIDGE,
    OPT_WIRE_POWER,
    OPT_WIRE_BOOT,
    OPT_FB_PART,
    OPT_FB_NO_FETCH,
    OPT_FB_MAX_DOWNLOAD,
    OPT_FB_FAULT
};

/* --lun FILE[,key=value...], split in place (argv strings are ours to change). */
static bool parse_lun(char *arg, msc_config *out)
{
    memset(out, 0, sizeof(*out));
    char *save = NULL;
    char *file = strtok_r(arg, ",", &save);
    if (!file || !*file)
        return false;
    out->image_path = file;
    for (char *kv; (kv = strtok_r(NULL, ",", &save)) != NULL;) {
        char *eq = strchr(kv, '=');
        if (strcmp(kv, "ro") == 0) {
            out->read_only = true;
            continue;
        }
        if (!eq)
            return false;
        *eq = 0;
        const char *v = eq + 1;
        if (strcmp(kv, "kind") == 0) {
            if (!msc_kind_strings(v, &out->vendor, &out->product, &out->revision))
                return false;
        } else if (strcmp(kv, "vendor") == 0 && strlen(v) <= 8) {
            out->vendor = v;
        } else if (strcmp(kv, "product") == 0 && strlen(v) <= 16) {
            out->product = v;
        } else if (strcmp(kv, "revision") == 0 && strlen(v) <= 4) {
            out->revision = v;
        } else {
            return false;
        }
    }
    return true;
}

/* "N", "N:high" or "N:low" (N = 0..7); *active_other is set when the suffix names the non-default level. */
static bool parse_wire(const char *s, const char *other, int *line, bool *active_other)
{
    char *end;
    long v = strtol(s, &end, 10);
    if (end == s || v < 0 || v >= SIM_CP2112_LINES)
        return false;
    *line = (int)v;
    *active_other = false;
    if (*end == 0)
        return true;
    if (*end != ':')
        return false;
    if (strcmp(end + 1, other) == 0)
        *active_other = true;
    else if (strcmp(end + 1, "high") != 0 && strcmp(end + 1, "low") != 0)
        return false;
    return true;
}

static int parse_args(program *p, int argc, char **argv)
{
    static const struct option opts[] = {
        {"soc", required_argument, 0, OPT_SOC},
        {"socket", required_argument, 0, OPT_SOCKET},
        {"boards", required_argument, 0, OPT_BOARDS},
        {"socket-dir", required_argument, 0, OPT_SOCKET_DIR},
        {"serial", required_argument, 0, OPT_SERIAL},
        {"script", required_argument, 0, OPT_SCRIPT},
        {"fault", required_argument, 0, OPT_FAULT},
        {"rom-fault", required_argument, 0, OPT_ROM_FAULT},
        {"rom-reject", no_argument, 0, OPT_ROM_REJECT},
        {"two-interfaces", no_argument, 0, OPT_TWO_IF},
        {"disk", required_argument, 0, OPT_DISK},
        {"save-dir", required_argument, 0, OPT_SAVE_DIR},
        {"plug-later", no_argument, 0, OPT_PLUG_LATER},
        {"rom-delay-ms", required_argument, 0, OPT_ROM_DELAY},
        {"rom-status-lost", no_argument, 0, OPT_ROM_STATUS_LOST},
        {"disconnect-delay-ms", required_argument, 0, OPT_DISC_DELAY},
        {"reenum-delay-ms", required_argument, 0, OPT_REENUM_DELAY},
        {"link", required_argument, 0, OPT_LINK},
        {"emmc-write", required_argument, 0, OPT_EMMC_WRITE},
        {"emmc-read", required_argument, 0, OPT_EMMC_READ},
        {"control", required_argument, 0, OPT_CONTROL},
        {"report", required_argument, 0, OPT_REPORT},
        {"log", required_argument, 0, OPT_LOG},
        {"timing", required_argument, 0, OPT_TIMING},
        {"rom-reenum-ms", required_argument, 0, OPT_ROM_REENUM},
        {"done-reenum-ms", required_argument, 0, OPT_DONE_REENUM},
        {"late-config", required_argument, 0, OPT_LATE_CONFIG},
        {"config-quirk", no_argument, 0, OPT_CONFIG_QUIRK},
        {"no-config-quirk", no_argument, 0, OPT_NO_CONFIG_QUIRK},
        {"second-serial-index", required_argument, 0, OPT_SECOND_INDEX},
        {"cancel-misaligns", no_argument, 0, OPT_CANCEL_MISALIGNS},
        {"no-done", no_argument, 0, OPT_NO_DONE},
        {"start-stage", required_argument, 0, OPT_START_STAGE},
        {"then", required_argument, 0, OPT_THEN},
        {"after-done", required_argument, 0, OPT_AFTER_DONE},
        {"lun", required_argument, 0, OPT_LUN},
        {"gpio-bridge", required_argument, 0, OPT_GPIO_BRIDGE},
        {"wire-power", required_argument, 0, OPT_WIRE_POWER},
        {"wire-boot", required_argument, 0, OPT_WIRE_BOOT},
        {"fastboot-part", required_argument, 0, OPT_FB_PART},
        {"fastboot-no-fetch", no_argument, 0, OPT_FB_NO_FETCH},
        {"fastboot-max-download", required_argument, 0, OPT_FB_MAX_DOWNLOAD},
        {"fastboot-fault", required_argument, 0, OPT_FB_FAULT},
        {"verbose", no_argument, 0, 'v'},
        {"help", no_argument, 0, OPT_HELP},
        {0, 0, 0, 0},
    };
    long boards = 0;
    const char *socket_dir = NULL;
    int c;
    while ((c = getopt_long(argc, argv, "vh", opts, NULL)) != -1) {
        board_opts *o = p->nboards ? &p->boards[p->nboards - 1] : &p->defaults;
        long v;
        sim_fault f;
        switch (c) {
        case OPT_SOC:
            if (!parse_soc(optarg, &o->soc)) {
                fprintf(stderr, "cmboot-sim: unknown SoC '%s'\n", optarg);
                return 2;
            }
            break;
        case OPT_SOCKET:
            if (p->nboards == MAX_BOARDS || strlen(optarg) >= sizeof(o->socket_path)) {
                fprintf(stderr, "cmboot-sim: too many boards or socket path too long\n");
                return 2;
            }
            p->boards[p->nboards] = p->defaults;
            snprintf(p->boards[p->nboards].socket_path, sizeof(o->socket_path), "%s", optarg);
            p->nboards++;
            break;
        case OPT_BOARDS:
            if (!parse_long(optarg, &boards) || boards < 1 || boards > MAX_BOARDS) {
                fprintf(stderr, "cmboot-sim: --boards takes 1..%d\n", MAX_BOARDS);
                return 2;
            }
            break;
        case OPT_SOCKET_DIR: socket_dir = optarg; break;
        case OPT_SERIAL: o->serial = optarg; break;
        case OPT_SCRIPT: o->script_path = optarg; break;
        case OPT_FAULT:
        case OPT_ROM_FAULT:
            if (!parse_fault(optarg, &f)) {
                fprintf(stderr, "cmboot-sim: unknown fault '%s'\n", optarg);
                return 2;
            }
            if (c == OPT_FAULT)
                o->fault = optarg;
            else
                o->rom_fault = optarg;
            break;
        case OPT_ROM_REJECT: o->rom_reject = true; break;
        case OPT_ROM_STATUS_LOST: o->rom_status_lost = true; break;
        case OPT_TWO_IF: o->two_interfaces = true; break;
        case OPT_DISK: o->disk = optarg; break;
        case OPT_LUN:
            if (o->n_luns == MSC_MAX_LUNS - 1 || !parse_lun(optarg, &o->luns[o->n_luns])) {
                fprintf(stderr,
                        "cmboot-sim: bad --lun '%s' (FILE[,kind=emmc|sd|nvme|usb][,vendor=V][,product=P]"
                        "[,revision=R][,ro]; at most %d)\n",
                        optarg, MSC_MAX_LUNS - 1);
                return 2;
            }
            o->n_luns++;
            break;
        case OPT_SAVE_DIR: o->save_dir = optarg; break;
        case OPT_PLUG_LATER: o->plug_later = true; break;
        case OPT_ROM_DELAY:
        case OPT_DISC_DELAY:
        case OPT_REENUM_DELAY:
            if (!parse_long(optarg, &v) || v > 600000) {
                fprintf(stderr, "cmboot-sim: bad delay '%s'\n", optarg);
                return 2;
            }
            *(c == OPT_ROM_DELAY    ? &o->rom_delay_ms
              : c == OPT_DISC_DELAY ? &o->disconnect_delay_ms
                                    : &o->reenum_delay_ms) = v;
            break;
        case OPT_TIMING:
            if (strcmp(optarg, "real") == 0 || strcmp(optarg, "fast") == 0) {
                o->timing_real = optarg[0] == 'r';
            } else {
                fprintf(stderr, "cmboot-sim: --timing takes fast or real\n");
                return 2;
            }
            break;
        case OPT_ROM_REENUM:
        case OPT_DONE_REENUM:
            if (!parse_long(optarg, &v) || v > 600000) {
                fprintf(stderr, "cmboot-sim: bad re-enumeration time '%s'\n", optarg);
                return 2;
            }
            *(c == OPT_ROM_REENUM ? &o->rom_reenum_ms : &o->done_reenum_ms) = v;
            break;
        case OPT_LATE_CONFIG:
            if (!parse_long(optarg, &v) || v > MAX_LATE_CONFIG_MS) {
                fprintf(stderr, "cmboot-sim: --late-config takes 0..%d ms (the guest gives up at 5 s)\n",
                        MAX_LATE_CONFIG_MS);
                return 2;
            }
            o->late_config_ms = v;
            break;
        case OPT_CONFIG_QUIRK: o->config_quirk = 1; break;
        case OPT_NO_CONFIG_QUIRK: o->config_quirk = 0; break;
        case OPT_SECOND_INDEX:
            if (!parse_long(optarg, &v) || v < 1 || v > 255 || v == 3) {
                fprintf(stderr, "cmboot-sim: --second-serial-index takes 1..255 except 3 (0 and 3 mean ROM)\n");
                return 2;
            }
            o->second_serial_index = v;
            break;
        case OPT_CANCEL_MISALIGNS: o->cancel_misaligns = true; break;
        case OPT_NO_DONE: o->no_done = true; break;
        case OPT_START_STAGE:
            if (strcmp(optarg, "rom") == 0) {
                o->start_stage = CMBOOT_STAGE_ROM;
            } else if (strcmp(optarg, "second-stage") == 0) {
                o->start_stage = CMBOOT_STAGE_SECOND;
            } else if (strcmp(optarg, "mass-storage") == 0) {
                o->start_stage = CMBOOT_STAGE_MASS_STORAGE;
            } else if (strcmp(optarg, "normal") == 0) {
                o->start_stage = SIM_STAGE_NORMAL;
            } else if (strcmp(optarg, "fastboot") == 0) {
                o->start_stage = SIM_STAGE_FASTBOOT;
            } else {
                fprintf(stderr,
                        "cmboot-sim: --start-stage takes rom, second-stage, mass-storage, fastboot or normal\n");
                return 2;
            }
            break;
        case OPT_THEN: {
            char *colon = strchr(optarg, ':');
            if (!colon || colon == optarg || !colon[1] || colon - optarg >= SIM_SERIAL_MAX || o->nthen == MAX_THEN) {
                fprintf(stderr, "cmboot-sim: --then takes SERIAL:DISK (at most %d per port)\n", MAX_THEN);
                return 2;
            }
            *colon = 0; /* optarg is argv's: the serial ends here, the disk follows */
            o->then_serial[o->nthen] = optarg;
            o->then_disk[o->nthen++] = colon + 1;
            break;
        }
        case OPT_FB_PART: {
            char *eq = strchr(optarg, '=');
            if (!eq || eq == optarg || !eq[1] || eq - optarg > 64 || o->n_fb_parts == SIM_FASTBOOT_PARTS_MAX) {
                fprintf(stderr, "cmboot-sim: --fastboot-part takes NAME=FILE (at most %d)\n", SIM_FASTBOOT_PARTS_MAX);
                return 2;
            }
            *eq = 0; /* optarg is argv's: the name ends here, the file follows */
            o->fb_parts[o->n_fb_parts++] = (sim_fastboot_part){optarg, eq + 1};
            break;
        }
        case OPT_FB_NO_FETCH: o->fb_no_fetch = true; break;
        case OPT_FB_MAX_DOWNLOAD:
            if (!parse_long(optarg, &v) || v < 1 || v > 0x7fffffffL) {
                fprintf(stderr, "cmboot-sim: --fastboot-max-download takes 1..2147483647 bytes\n");
                return 2;
            }
            o->fb_max_download = v;
            break;
        case OPT_FB_FAULT:
            if (strncmp(optarg, "fail:", 5) == 0 && optarg[5])
                o->fb_fail_cmd = optarg + 5;
            else if (strcmp(optarg, "short-fetch") == 0)
                o->fb_short_fetch = true;
            else if (strncmp(optarg, "vanish:", 7) == 0 && parse_long(optarg + 7, &v) && v > 0)
                o->fb_vanish_after = (unsigned long long)v;
            else {
                fprintf(stderr, "cmboot-sim: --fastboot-fault takes fail:COMMAND, short-fetch or vanish:BYTES\n");
                return 2;
            }
            break;
        case OPT_AFTER_DONE:
            if (strcmp(optarg, "msd") == 0)
                o->after_done = SIM_AFTER_MASS_STORAGE;
            else if (strcmp(optarg, "fastboot") == 0)
                o->after_done = SIM_AFTER_FASTBOOT;
            else if (strcmp(optarg, "rom") == 0)
                o->after_done = SIM_AFTER_ROM;
            else if (strcmp(optarg, "none") == 0)
                o->after_done = SIM_AFTER_NOTHING;
            else {
                fprintf(stderr, "cmboot-sim: --after-done takes msd, fastboot, rom or none\n");
                return 2;
            }
            break;
        case OPT_LINK: {
            char *end;
            p->link_mbps = strtod(optarg, &end);
            if (*end || p->link_mbps < 0) {
                fprintf(stderr, "cmboot-sim: bad --link '%s'\n", optarg);
                return 2;
            }
            break;
        }
        case OPT_EMMC_WRITE:
        case OPT_EMMC_READ: {
            char *end;
            double mbps = strtod(optarg, &end);
            if (end == optarg || *end || !(mbps >= 0) || mbps > 1e6) {
                fprintf(stderr, "cmboot-sim: bad --%s '%s' (MB/s, 0 = unthrottled)\n",
                        c == OPT_EMMC_WRITE ? "emmc-write" : "emmc-read", optarg);
                return 2;
            }
            *(c == OPT_EMMC_WRITE ? &p->emmc_write_mbps : &p->emmc_read_mbps) = mbps;
            break;
        }
        case OPT_CONTROL: p->control_path = optarg; break;
        case OPT_GPIO_BRIDGE: p->bridge_path = optarg; break;
        case OPT_WIRE_POWER:
            if (!parse_wire(optarg, "low", &o->wire_power, &o->power_active_low)) {
                fprintf(stderr, "cmboot-sim: --wire-power takes N[:high|:low], N = 0..%d\n", SIM_CP2112_LINES - 1);
                return 2;
            }
            break;
        case OPT_WIRE_BOOT:
            if (!parse_wire(optarg, "high", &o->wire_boot, &o->boot_active_high)) {
                fprintf(stderr, "cmboot-sim: --wire-boot takes N[:low|:high], N = 0..%d\n", SIM_CP2112_LINES - 1);
                return 2;
            }
            break;
        case OPT_REPORT: p->report_path = optarg; break;
        case OPT_LOG:
            p->log = fopen(optarg, "a");
            if (!p->log) {
                fprintf(stderr, "cmboot-sim: cannot open log %s: %s\n", optarg, strerror(errno));
                return 2;
            }
            break;
        case 'v': p->verbose = true; break;
        case OPT_HELP:
        case 'h': usage(stdout); return 1;
        default: usage(stderr); return 2;
        }
    }
    if (optind < argc) {
        fprintf(stderr, "cmboot-sim: unexpected argument '%s'\n", argv[optind]);
        return 2;
    }
    for (long i = 0; i < boards; i++) {
        if (!socket_dir || p->nboards == MAX_BOARDS) {
            fprintf(stderr, "cmboot-sim: --boards needs --socket-dir (and at most %d boards)\n", MAX_BOARDS);
            return 2;
        }
        p->boards[p->nboards] = p->defaults;
        snprintf(p->boards[p->nboards].socket_path, sizeof(p->boards[0].socket_path), "%s/board%ld.sock", socket_dir,
                 i);
        p->nboards++;
    }
    if (p->nboards == 0) {
        fprintf(stderr, "cmboot-sim: no board: give --socket PATH or --boards N --socket-dir DIR\n");
        usage(stderr);
        return 2;
    }
    for (unsigned i = 0; i < p->nboards; i++) {
        const board_opts *o = &p->boards[i];
        if (!o->disk) {
            fprintf(stderr, "cmboot-sim: board %u has no --disk IMAGE (the mass-storage stage needs one)\n", i);
            return 2;
        }
        if ((o->wire_power >= 0 || o->wire_boot >= 0) && !p->bridge_path) {
            fprintf(stderr, "cmboot-sim: board %u is wired to GPIO lines but there is no --gpio-bridge\n", i);
            return 2;
        }
        if (o->wire_boot >= 0 && o->wire_power < 0) {
            fprintf(stderr, "cmboot-sim: board %u: --wire-boot is sampled at power-on and needs --wire-power\n", i);
            return 2;
        }
        if (o->wire_power >= 0 && (o->plug_later || o->nthen)) {
            fprintf(stderr,
                    "cmboot-sim: board %u: --wire-power decides when the board is on the bus (no "
                    "--plug-later or --then)\n",
                    i);
            return 2;
        }
    }
    return 0;
}

static bool line_high(uint8_t levels, int line)
{
    return (levels >> line) & 1;
}

/* Whether the wired board is powered at these levels, and where a power-on starts it. */
static bool wired_powered(const board_opts *o, uint8_t levels)
{
    return line_high(levels, o->wire_power) != o->power_active_low;
}

static cmboot_stage power_on_stage(const board_opts *o, uint8_t levels, cmboot_stage start)
{
    if (o->wire_boot < 0)
        return start;
    bool asserted = line_high(levels, o->wire_boot) == o->boot_active_high;
    return asserted ? CMBOOT_STAGE_ROM : SIM_STAGE_NORMAL;
}

static void record_power(program *p, unsigned i, bool on, cmboot_stage stage)
{
    if (p->npower < MAX_POWER_EVENTS)
        p->power[p->npower++] = (power_event){i, usbredir_now_us() - p->t0_us, on, stage};
    plog(p, "board%u: power %s%s%s", i, on ? "on" : "off", on ? ", starts in " : "", on ? sim_stage_name(stage) : "");
}

/* The bridge's lines changed: each wired board follows its power line; a power-on samples the boot line. */
static void on_lines(void *user, uint8_t levels, uint8_t changed)
{
    program *p = user;
    for (unsigned i = 0; i < p->nboards; i++) {
        board_opts *o = &p->boards[i];
        if (o->wire_power < 0 || !(changed & (1u << o->wire_power)))
            continue;
        bool on = wired_powered(o, levels);
        if (on == o->powered)
            continue;
        o->powered = on;
        if (!on) {
            usbredir_board_plug(p->b[i], false);
            record_power(p, i, false, CMBOOT_STAGE_UNKNOWN);
            continue;
        }
        /* A new power-on: a fresh board model on the same port and disk; the last one's result is kept. */
        usbredir_board_report r;
        usbredir_board_report_get(p->b[i], &r);
        if (o->npast == MAX_PAST)
            memmove(&o->past[0], &o->past[1], sizeof(o->past[0]) * (MAX_PAST - 1));
        o->past[o->npast < MAX_PAST ? o->npast++ : MAX_PAST - 1] = r.sim;
        sim_config next = p->sim_cfg[i];
        next.start_stage = power_on_stage(o, levels, p->sim_cfg[i].start_stage);
        int rc = usbredir_board_replace(p->b[i], &next, o->disk);
        if (rc != CMBOOT_OK) {
            plog(p, "board%u: cannot power on: %s", i, cmboot_strerror(rc));
            continue;
        }
        record_power(p, i, true, next.start_stage);
        usbredir_board_plug(p->b[i], true);
    }
}

static void bridge_log(void *user, const char *line)
{
    plog(user, "bridge: %s", line);
}

static int make_bridge(program *p)
{
    if (!p->bridge_path)
        return CMBOOT_OK;
    usbredir_bridge_config bc = {
        .socket_path = p->bridge_path,
        .serial = "cmbootsim0001",
        .lines = on_lines,
        .lines_user = p,
        .log = bridge_log,
        .log_user = p,
        .verbose = p->verbose,
    };
    int rc = usbredir_bridge_new(&bc, &p->bridge);
    if (rc != CMBOOT_OK) {
        fprintf(stderr, "cmboot-sim: GPIO bridge on %s: %s\n", p->bridge_path, cmboot_strerror(rc));
        return rc;
    }
    plog(p, "bridge: CP2112 (10c4:ea90) on %s, lines 0x%02x", p->bridge_path, usbredir_bridge_levels(p->bridge));
    return CMBOOT_OK;
}

static int make_board(program *p, unsigned i)
{
    board_opts *o = &p->boards[i];
    usbredir_board_config bc = {0};
    char name[16];
    snprintf(name, sizeof(name), "board%u", i);
    bc.name = name;
    bc.socket_path = o->socket_path;
    bc.disk_path = o->disk;
    bc.extra_luns = o->luns;
    bc.n_extra_luns = o->n_luns;
    bc.link_bytes_per_s = (uint64_t)(p->link_mbps * 1e6);
    bc.emmc_write_bytes_per_s = (uint64_t)(p->emmc_write_mbps * 1e6);
    bc.emmc_read_bytes_per_s = (uint64_t)(p->emmc_read_mbps * 1e6);
    bc.start_unplugged = o->plug_later;
    bc.log = board_log;
    bc.log_user = p;
    bc.verbose = p->verbose;
    sim_config_default(&bc.sim, o->soc);
    if (o->serial)
        snprintf(bc.sim.serial, sizeof(bc.sim.serial), "%s", o->serial);
    bc.sim.two_interfaces = o->two_interfaces;
    bc.sim.save_dir = o->save_dir;
    bc.sim.rom_reject = o->rom_reject;
    if (o->rom_delay_ms >= 0)
        bc.sim.rom_status_delay_ms = (unsigned)o->rom_delay_ms;
    bc.sim.rom_status_lost = o->rom_status_lost;
    if (o->disconnect_delay_ms >= 0)
        bc.sim.disconnect_delay_ms = (unsigned)o->disconnect_delay_ms;
    if (o->reenum_delay_ms >= 0)
        bc.sim.reenum_delay_ms = (unsigned)o->reenum_delay_ms;
    long rom_ms = o->timing_real ? REAL_ROM_REENUM_MS : -1, done_ms = o->timing_real ? REAL_DONE_REENUM_MS : -1;
    bc.sim.rom_to_second_ms = (int)(o->rom_reenum_ms >= 0 ? o->rom_reenum_ms : rom_ms);
    bc.sim.done_to_next_ms = (int)(o->done_reenum_ms >= 0 ? o->done_reenum_ms : done_ms);
    bc.sim.set_config_delay_ms = (unsigned)o->late_config_ms;
    if (o->config_quirk >= 0)
        bc.sim.config_quirk = o->config_quirk == 1;
    if (o->second_serial_index > 0)
        bc.sim.second_serial_index = (uint8_t)o->second_serial_index;
    bc.sim.cancel_misaligns = o->cancel_misaligns;
    bc.sim.leave_without_done = o->no_done;
    if (o->after_done >= 0)
        bc.sim.after_done = (sim_after_done)o->after_done;
    else if (o->no_done)
        bc.sim.after_done = SIM_AFTER_NOTHING; /* --no-done alone: gone for good */
    o->fb_default = (sim_fastboot_part){"mmcblk0", o->disk};
    bc.sim.fastboot_parts = o->n_fb_parts ? o->fb_parts : &o->fb_default;
    bc.sim.n_fastboot_parts = o->n_fb_parts ? o->n_fb_parts : 1;
    if (o->fb_max_download > 0)
        bc.sim.fastboot_max_download = (uint32_t)o->fb_max_download;
    bc.sim.fastboot_no_fetch = o->fb_no_fetch;
    bc.sim.fastboot_fail_cmd = o->fb_fail_cmd;
    bc.sim.fastboot_short_fetch = o->fb_short_fetch;
    bc.sim.fastboot_vanish_after = o->fb_vanish_after;
    sim_script *s = &p->scripts[i];
    char err[256] = "";
    int rc = o->script_path ? sim_script_load(s, o->script_path, err, sizeof(err)) : sim_script_default(s, o->soc);
    if (rc != CMBOOT_OK) {
        fprintf(stderr, "cmboot-sim: script %s: %s %s\n", o->script_path ? o->script_path : "(default)",
                cmboot_strerror(rc), err);
        return rc;
    }
    sim_fault f;
    if (o->fault && parse_fault(o->fault, &f) && sim_script_fault_last(s, f.kind, f.arg) != CMBOOT_OK) {
        fprintf(stderr, "cmboot-sim: --fault needs a script step\n");
        return CMBOOT_ERR_INVALID_ARG;
    }
    if (o->rom_fault && parse_fault(o->rom_fault, &f))
        s->rom_fault = f;
    bc.sim.script = s;
    if (o->start_stage >= 0)
        bc.sim.start_stage = (cmboot_stage)o->start_stage;
    p->sim_cfg[i] = bc.sim;
    if (o->wire_power >= 0) { /* on the bus while its power line says so, started per its boot line */
        uint8_t levels = usbredir_bridge_levels(p->bridge);
        o->powered = wired_powered(o, levels);
        bc.start_unplugged = !o->powered;
        bc.sim.start_stage = power_on_stage(o, levels, bc.sim.start_stage);
    }
    o->ever_plugged = !o->plug_later;
    if (o->wire_power < 0)
        o->powered = !o->plug_later;
    o->boot_cmd = -1;
    rc = usbredir_board_new(&bc, &p->b[i]);
    if (rc != CMBOOT_OK) {
        fprintf(stderr, "cmboot-sim: board %u on %s (disk %s): %s\n", i, o->socket_path, o->disk, cmboot_strerror(rc));
        return rc;
    }
    const cmboot_soc_info *soc = cmboot_soc_by_id(o->soc);
    plog(p, "%s: %s on %s, serial %s, disk %s, link %s%.0f MB/s, eMMC write %.0f read %.0f MB/s (0 = unthrottled)%s",
         name, soc ? soc->name : "?", o->socket_path, bc.sim.serial, o->disk, p->link_mbps > 0 ? "" : "unthrottled ",
         p->link_mbps, p->emmc_write_mbps, p->emmc_read_mbps, o->plug_later ? ", unplugged until \"plug\"" : "");
    for (unsigned l = 0; l < o->n_luns; l++)
        plog(p, "%s: LUN %u: %s (\"%s\" \"%s\")%s", name, l + 1, o->luns[l].image_path,
             o->luns[l].vendor ? o->luns[l].vendor : "RPi-MSD-",
             o->luns[l].product ? o->luns[l].product : "cmboot-sim eMMC", o->luns[l].read_only ? ", read-only" : "");
    if (o->wire_power >= 0) {
        char boot[64] = "";
        if (o->wire_boot >= 0)
            snprintf(boot, sizeof(boot), ", nRPIBOOT on GPIO.%d (%s = USB boot)", o->wire_boot,
                     o->boot_active_high ? "high" : "low");
        plog(p, "%s: power on GPIO.%d (%s = on)%s, %s at start", name, o->wire_power,
             o->power_active_low ? "low" : "high", boot, o->powered ? "powered" : "off");
        if (o->powered)
            record_power(p, i, true, bc.sim.start_stage);
    }
    return CMBOOT_OK;
}

static int open_control(program *p)
{
    p->control_fd = -1;
    p->control_listen = -1;
    if (!p->control_path)
        return 0;
    struct sockaddr_un sa = {.sun_family = AF_UNIX};
    if (strlen(p->control_path) >= sizeof(sa.sun_path))
        return -1;
    snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", p->control_path);
    unlink(p->control_path);
    p->control_listen = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (p->control_listen < 0 || bind(p->control_listen, (struct sockaddr *)&sa, sizeof(sa)) != 0 ||
        listen(p->control_listen, 1) != 0)
        return -1;
    return 0;
}

/* A power-on of a board whose boot level comes from the control socket: a fresh model on the same port and disk,
 * starting in its ROM (USB boot) or normal mode; the last power-on's result is kept. */
static void control_power_on(program *p, unsigned i)
{
    board_opts *o = &p->boards[i];
    usbredir_board_report r;
    usbredir_board_report_get(p->b[i], &r);
    if (o->npast == MAX_PAST)
        memmove(&o->past[0], &o->past[1], sizeof(o->past[0]) * (MAX_PAST - 1));
    o->past[o->npast < MAX_PAST ? o->npast++ : MAX_PAST - 1] = r.sim;
    sim_config next = p->sim_cfg[i];
    next.start_stage = o->boot_cmd == 1 ? CMBOOT_STAGE_ROM : SIM_STAGE_NORMAL;
    int rc = usbredir_board_replace(p->b[i], &next, o->disk);
    if (rc != CMBOOT_OK) {
        plog(p, "board%u: cannot power on: %s", i, cmboot_strerror(rc));
        return;
    }
    record_power(p, i, true, next.start_stage);
    usbredir_board_plug(p->b[i], true);
}

static void control_command(program *p, char *line)
{
    char verb[16], mode[16] = "";
    int n = -1;
    int got = sscanf(line, "%15s %d %15s", verb, &n, mode);
    if (got < 1)
        return;
    if (strcmp(verb, "boot") == 0) { /* nRPIBOOT level for the next power-on */
        bool usb = strcmp(mode, "usb") == 0;
        if (got != 3 || n < 0 || (unsigned)n >= p->nboards || (!usb && strcmp(mode, "normal") != 0)) {
            plog(p, "control: ignored \"%s\" (boot N usb|normal)", line);
            return;
        }
        p->boards[n].boot_cmd = usb ? 1 : 0;
        plog(p, "board%d: boot mode %s at the next power-on", n, mode);
        return;
    }
    bool plug = strcmp(verb, "plug") == 0;
    if (!plug && strcmp(verb, "unplug") != 0) {
        plog(p, "control: ignored \"%s\"", line);
        return;
    }
    for (unsigned i = 0; i < p->nboards; i++) {
        if (got != 1 && n != (int)i)
            continue;
        board_opts *o = &p->boards[i];
        if (plug && o->ever_plugged && o->then_used < o->nthen) {
            /* The port's board was taken off: the next one of the line goes on. */
            sim_config next = p->sim_cfg[i];
            snprintf(next.serial, sizeof(next.serial), "%s", o->then_serial[o->then_used]);
            if (!o->n_fb_parts) /* the fastboot gadget's mmcblk0 is the next board's disk */
                o->fb_default.path = o->then_disk[o->then_used];
            int rc = usbredir_board_replace(p->b[i], &next, o->then_disk[o->then_used]);
            if (rc != CMBOOT_OK) {
                plog(p, "control: board %u: cannot put the next board (%s) on: %s", i, o->then_serial[o->then_used],
                     cmboot_strerror(rc));
                continue;
            }
            plog(p, "board%u: next board on this port: serial %s, disk %s", i, o->then_serial[o->then_used],
                 o->then_disk[o->then_used]);
            o->then_used++;
        }
        if (plug)
            o->ever_plugged = true;
        if (o->boot_cmd >= 0 && o->wire_power < 0) { /* power, as a relay switches it */
            if (plug == o->powered)
                continue;
            o->powered = plug;
            if (plug) {
                control_power_on(p, i);
            } else {
                usbredir_board_plug(p->b[i], false);
                record_power(p, i, false, CMBOOT_STAGE_UNKNOWN);
            }
            continue;
        }
        usbredir_board_plug(p->b[i], plug);
    }
}

static void control_read(program *p)
{
    ssize_t r = read(p->control_fd, p->control_buf + p->control_len, sizeof(p->control_buf) - 1 - p->control_len);
    if (r <= 0) {
        if (r == 0 || (errno != EAGAIN && errno != EINTR)) {
            close(p->control_fd);
            p->control_fd = -1;
        }
        return;
    }
    p->control_len += (size_t)r;
    p->control_buf[p->control_len] = 0;
    char *nl;
    while ((nl = strpbrk(p->control_buf, "\r\n")) != NULL) {
        *nl = 0;
        if (p->control_buf[0])
            control_command(p, p->control_buf);
        size_t used = (size_t)(nl + 1 - p->control_buf);
        memmove(p->control_buf, nl + 1, p->control_len - used + 1);
        p->control_len -= used;
    }
    if (p->control_len == sizeof(p->control_buf) - 1)
        p->control_len = 0; /* an overlong line without newline: drop it */
}

/* Device-side minimum of a stage: link time of its bulk bytes plus the delays the board itself adds (for mass
 * storage: what the eMMC model added beyond the link). */
static double floor_ms(const program *p, const board_opts *o, const usbredir_stage_record *r)
{
    /* A full-speed stage (BCM2835/2837 ROM) moves at most 1.216 MB/s whatever the link model says. */
    double mbps = p->link_mbps;
    if (r->full_speed && (mbps <= 0 || mbps > 1.216))
        mbps = 1.216;
    double link = mbps > 0 ? (double)(r->bulk_out_bytes + r->bulk_in_bytes) / (mbps * 1e3) : 0;
    double delays = (double)(o->disconnect_delay_ms >= 0 ? o->disconnect_delay_ms : 5);
    if (r->stage == CMBOOT_STAGE_ROM && o->rom_delay_ms > 0)
        delays += (double)o->rom_delay_ms;
    if (r->stage == CMBOOT_STAGE_MASS_STORAGE)
        delays = (double)r->storage_wait_us / 1e3;
    return link + delays;
}

/* The model's counters of one power-on ("board0", or "board0#1" for an earlier power-on of a wired board). */
static void print_sim_result(FILE *f, const char *label, const sim_result *s)
{
    fprintf(f,
            "RESULT %s rom_accepted=%d rom_rejections=%d requests=%u script_complete=%d left_without_done=%d "
            "misaligned=%u files_received=%u bytes_received=%llu metadata_acked=%u enumerations=%u vanished=%d "
            "failures=%d first_failure=\"%s\"\n",
            label, s->rom_accepted, s->rom_rejections, s->requests, s->script_complete, s->left_without_done,
            s->misaligned, s->files_received, (unsigned long long)s->bytes_received, s->metadata_acked, s->enumerations,
            s->vanished, s->failures, s->first_failure);
}

static void summary(program *p, FILE *f)
{
    if (p->bridge) {
        usbredir_bridge_report br;
        usbredir_bridge_report_get(p->bridge, &br);
        fprintf(f,
                "BRIDGE cp2112 get_reports=%u set_reports=%u gpio_sets=%u refused=%u outputs=0x%02x push_pull=0x%02x "
                "latch=0x%02x levels=0x%02x\n",
                br.get_reports, br.set_reports, br.gpio_sets, br.refused, br.direction, br.push_pull, br.latch,
                br.levels);
    }
    for (unsigned k = 0; k < p->npower; k++) {
        const power_event *e = &p->power[k];
        fprintf(f, "POWER board%u t_ms=%.1f %s%s%s\n", e->board, (double)e->t_us / 1e3, e->on ? "on" : "off",
                e->on ? " stage=" : "", e->on ? sim_stage_name(e->stage) : "");
    }
    for (unsigned i = 0; i < p->nboards; i++) {
        for (unsigned k = 0; k < p->boards[i].npast; k++) {
            char label[32];
            snprintf(label, sizeof(label), "board%u#%u", i, k + 1);
            print_sim_result(f, label, &p->boards[i].past[k]);
        }
    }
    for (unsigned i = 0; i < p->nboards; i++) {
        usbredir_board_report r;
        usbredir_board_report_get(p->b[i], &r);
        fprintf(f,
                "RESULT board%u rom_accepted=%d rom_rejections=%d requests=%u script_complete=%d "
                "left_without_done=%d misaligned=%u files_received=%u bytes_received=%llu metadata_acked=%u "
                "enumerations=%u vanished=%d failures=%d cancelled=%u resets=%u first_failure=\"%s\"\n",
                i, r.sim.rom_accepted, r.sim.rom_rejections, r.sim.requests, r.sim.script_complete,
                r.sim.left_without_done, r.sim.misaligned, r.sim.files_received,
                (unsigned long long)r.sim.bytes_received, r.sim.metadata_acked, r.sim.enumerations, r.sim.vanished,
                r.sim.failures, r.cancelled, r.resets, r.sim.first_failure);
        fprintf(f,
                "MSC board%u commands=%llu failed=%llu read_bytes=%llu written_bytes=%llu resets=%llu "
                "emmc_write_ms=%.1f emmc_read_ms=%.1f\n",
                i, (unsigned long long)r.msc.commands, (unsigned long long)r.msc.failed_commands,
                (unsigned long long)r.msc.bytes_read, (unsigned long long)r.msc.bytes_written,
                (unsigned long long)r.msc.resets, (double)r.emmc_write_us / 1e3, (double)r.emmc_read_us / 1e3);
        for (unsigned k = 0; k < r.stage_count; k++) {
            const usbredir_stage_record *s = &r.stages[k];
            /* enumerate: connect -> first protocol transfer (QEMU + guest kernel + host tool discovery);
             * serve: first protocol transfer -> disconnect (the protocol itself); floor: what the board needs. */
            double enumerate = s->first_vendor_us >= 0 ? (double)(s->first_vendor_us - s->connect_us) / 1e3 : -1;
            int64_t end = s->disconnect_us >= 0 ? s->disconnect_us : s->last_answer_us;
            double serve = s->first_vendor_us >= 0 && end >= 0 ? (double)(end - s->first_vendor_us) / 1e3 : -1;
            fprintf(f,
                    "STAGE board%u %s connect_ms=%.1f enumerate_ms=%.1f serve_ms=%.1f floor_ms=%.1f "
                    "link_ms=%.1f out_bytes=%llu in_bytes=%llu disconnect_ms=%.1f storage_ms=%.1f\n",
                    i, sim_stage_name(s->stage), (double)s->connect_us / 1e3, enumerate, serve,
                    floor_ms(p, &p->boards[i], s), (double)s->link_wait_us / 1e3, (unsigned long long)s->bulk_out_bytes,
                    (unsigned long long)s->bulk_in_bytes, s->disconnect_us >= 0 ? (double)s->disconnect_us / 1e3 : -1.0,
                    (double)s->storage_wait_us / 1e3);
        }
    }
    fflush(f);
}

int main(int argc, char **argv)
{
    program *p = calloc(1, sizeof(*p));
    if (!p)
        return 1;
    p->log = stderr;
    p->link_mbps = 40;
    p->emmc_write_mbps = 35; /* docs/emulator.md: a CM4's eMMC behind the USB 2.0 gadget */
    p->emmc_read_mbps = 80;
    p->defaults.soc = CMBOOT_SOC_BCM2837;
    p->defaults.rom_delay_ms = p->defaults.disconnect_delay_ms = p->defaults.reenum_delay_ms = -1;
    p->defaults.rom_reenum_ms = p->defaults.done_reenum_ms = -1;
    p->defaults.second_serial_index = -1;
    p->defaults.config_quirk = -1;
    p->defaults.after_done = -1;
    p->defaults.fb_max_download = -1;
    p->defaults.start_stage = -1;
    p->defaults.wire_power = p->defaults.wire_boot = -1;
    p->t0_us = usbredir_now_us();
    int rc = parse_args(p, argc, argv);
    if (rc != 0)
        return rc == 1 ? 0 : rc;
    struct sigaction sa = {.sa_handler = on_signal};
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    signal(SIGPIPE, SIG_IGN);
    if (make_bridge(p) != CMBOOT_OK) /* first: the wired boards start as its lines say */
        return 1;
    for (unsigned i = 0; i < p->nboards; i++) {
        if (make_board(p, i) != CMBOOT_OK)
            return 1;
    }
    if (open_control(p) != 0) {
        fprintf(stderr, "cmboot-sim: cannot listen on control socket %s\n", p->control_path);
        return 1;
    }
    plog(p, "ready: %u board(s)", p->nboards);
    bool seen_peer = false;
    while (!g_stop) {
        struct pollfd fds[MAX_BOARDS + 2];
        nfds_t n = 0;
        int64_t wake = INT64_MAX;
        bool all_closed = true;
        for (unsigned i = 0; i < p->nboards; i++) {
            fds[n].fd = usbredir_board_fd(p->b[i], &fds[n].events);
            fds[n].revents = 0;
            n++;
            int64_t w = usbredir_board_next_wakeup_us(p->b[i]);
            if (w < wake)
                wake = w;
            usbredir_board_report r;
            usbredir_board_report_get(p->b[i], &r);
            seen_peer |= r.peer_connected;
            all_closed &= r.peer_closed && !r.peer_connected;
        }
        if (seen_peer && all_closed)
            break;
        nfds_t control_idx = n, bridge_idx = n;
        if (p->control_listen >= 0) {
            fds[n].fd = p->control_fd >= 0 ? p->control_fd : p->control_listen;
            fds[n].events = POLLIN;
            fds[n].revents = 0;
            n++;
            bridge_idx = n;
        }
        if (p->bridge) {
            fds[n].fd = usbredir_bridge_fd(p->bridge, &fds[n].events);
            fds[n].revents = 0;
            n++;
        }
        /* Microsecond timeout: a paced answer (link, eMMC) is due in a few hundred us, and poll()'s whole
         * milliseconds would add up to 1 ms to each. */
        struct timespec ts, *timeout = NULL;
        if (wake != INT64_MAX) {
            int64_t d = wake - usbredir_now_us();
            if (d < 0)
                d = 0;
            ts.tv_sec = (time_t)(d / 1000000);
            ts.tv_nsec = (long)(d % 1000000) * 1000;
            timeout = &ts;
        }
        int pr = ppoll(fds, n, timeout, NULL);
        if (pr < 0 && errno != EINTR)
            break;
        for (unsigned i = 0; i < p->nboards; i++) {
            if (pr > 0 && fds[i].revents)
                usbredir_board_handle(p->b[i], fds[i].revents);
            usbredir_board_step(p->b[i]);
        }
        if (p->bridge && pr > 0 && fds[bridge_idx].revents)
            usbredir_bridge_handle(p->bridge, fds[bridge_idx].revents); /* may power boards on or off */
        if (p->control_listen >= 0 && pr > 0 && fds[control_idx].revents) {
            if (p->control_fd < 0)
                p->control_fd = accept4(p->control_listen, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
            else
                control_read(p);
        }
    }
    plog(p, "%s", g_stop ? "stopped by signal" : "QEMU closed every board's socket");
    summary(p, p->log);
    if (p->report_path) {
        FILE *f = fopen(p->report_path, "w");
        if (f) {
            summary(p, f);
            fclose(f);
        }
    }
    for (unsigned i = 0; i < p->nboards; i++) {
        usbredir_board_free(p->b[i]);
        sim_script_free(&p->scripts[i]);
    }
    usbredir_bridge_free(p->bridge);
    if (p->control_fd >= 0)
        close(p->control_fd);
    if (p->control_listen >= 0) {
        close(p->control_listen);
        unlink(p->control_path);
    }
    if (p->log != stderr)
        fclose(p->log);
    free(p);
    return 0;
}
