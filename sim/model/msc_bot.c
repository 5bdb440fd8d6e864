/* Bulk-Only Transport state machine of the emulated mass-storage stage, disk data moved with pread/pwrite. */
#include "model/msc_bot.h"

#include <errno.h>
#include <stdarg.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cmboot/error.h"
#include "model/msc_speed.h"

#define CBW_SIGNATURE 0x43425355u
#define CSW_SIGNATURE 0x53425355u
#define CBW_SIZE 31
#define CSW_SIZE 13

enum { CSW_PASSED = 0, CSW_FAILED = 1, CSW_PHASE_ERROR = 2 };

typedef enum bot_state {
    BOT_IDLE = 0, /* waiting for a CBW */
    BOT_DATA_IN,
    BOT_DATA_OUT,
    BOT_STATUS, /* CSW ready for the host */
    BOT_HALTED  /* invalid CBW: stalled until reset recovery */
} bot_state;

/* One logical unit: its backing file and SCSI state (sense data stays per LUN). */
typedef struct msc_unit {
    int fd;
    msc_lun lun;
} msc_unit;

struct msc_bot {
    int fd;       /* backing file of the current command's LUN */
    msc_lun *lun; /* the current command's LUN */
    msc_unit units[MSC_MAX_LUNS];
    unsigned n_units;
    bot_state state;
    /* current command */
    msc_command cmd;
    uint32_t tag;
    uint32_t expected; /* dCBWDataTransferLength */
    uint32_t data_len; /* bytes of the data phase that carry meaning (<= expected) */
    uint32_t done;     /* bytes moved so far in the data phase */
    uint8_t csw_status;
    msc_stats stats;
    void (*log)(void *user, const char *line);
    void *log_user;
    msc_speed *speed; /* storage speed model, NULL = none */
};

static uint32_t get_le32(const uint8_t *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static void put_le32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)v;
    p[1] = (uint8_t)(v >> 8);
    p[2] = (uint8_t)(v >> 16);
    p[3] = (uint8_t)(v >> 24);
}

static void logf_bot(msc_bot *bot, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void logf_bot(msc_bot *bot, const char *fmt, ...)
{
    if (!bot->log)
        return;
    char line[256];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(line, sizeof(line), fmt, ap);
    va_end(ap);
    bot->log(bot->log_user, line);
}

static void copy_field(char *dst, size_t size, const char *src, const char *def)
{
    snprintf(dst, size, "%s", src ? src : def);
}

static int open_unit(const msc_config *cfg, msc_unit *u)
{
    if (!cfg->image_path)
        return CMBOOT_ERR_INVALID_ARG;
    int fd = open(cfg->image_path, (cfg->read_only ? O_RDONLY : O_RDWR) | O_CLOEXEC);
    if (fd < 0)
        return errno == EACCES ? CMBOOT_ERR_ACCESS : errno == ENOENT ? CMBOOT_ERR_NOT_FOUND : CMBOOT_ERR_IO;
    struct stat st;
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode) || st.st_size < (off_t)MSC_BLOCK_SIZE) {
        close(fd);
        return CMBOOT_ERR_INVALID_ARG;
    }
    u->fd = fd;
    u->lun.blocks = (uint64_t)st.st_size / MSC_BLOCK_SIZE;
    u->lun.read_only = cfg->read_only;
    copy_field(u->lun.vendor, sizeof(u->lun.vendor), cfg->vendor, "RPi-MSD-");
    copy_field(u->lun.product, sizeof(u->lun.product), cfg->product, "cmboot-sim eMMC");
    copy_field(u->lun.revision, sizeof(u->lun.revision), cfg->revision, "0001");
    return CMBOOT_OK;
}

int msc_bot_open(const msc_config *cfg, msc_bot **out)
{
    return msc_bot_open_luns(cfg, 1, out);
}

int msc_bot_open_luns(const msc_config *cfgs, size_t n, msc_bot **out)
{
    if (!cfgs || n == 0 || n > MSC_MAX_LUNS || !out)
        return CMBOOT_ERR_INVALID_ARG;
    *out = NULL;
    msc_bot *bot = calloc(1, sizeof(*bot));
    if (!bot)
        return CMBOOT_ERR_NO_MEMORY;
    for (size_t i = 0; i < n; i++) {
        int rc = open_unit(&cfgs[i], &bot->units[i]);
        if (rc != CMBOOT_OK) {
            msc_bot_close(bot);
            return rc;
        }
        bot->n_units++;
    }
    bot->fd = bot->units[0].fd;
    bot->lun = &bot->units[0].lun;
    *out = bot;
    return CMBOOT_OK;
}

void msc_bot_close(msc_bot *bot)
{
    if (!bot)
        return;
    for (unsigned i = 0; i < bot->n_units; i++)
        close(bot->units[i].fd);
    free(bot);
}

unsigned msc_bot_lun_count(const msc_bot *bot)
{
    return bot->n_units;
}

bool msc_kind_strings(const char *kind, const char **vendor, const char **product, const char **revision)
{
    /* The usbboot mass-storage gadget writes the kernel's device name into each LUN's inquiry_string, which
     * f_mass_storage pads to 28 characters: the name is the vendor field, product and revision are blank. */
    static const struct {
        const char *kind, *device;
    } names[] = {{"emmc", "mmcblk0"}, {"sd", "mmcblk0"}, {"nvme", "nvme0n1"}, {"usb", "sda"}};
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
        if (strcmp(kind, names[i].kind) == 0) {
            *vendor = names[i].device;
            *product = "";
            *revision = "";
            return true;
        }
    }
    return false;
}

void msc_bot_reset(msc_bot *bot)
{
    bot->state = BOT_IDLE;
    bot->done = 0;
    bot->data_len = 0;
    bot->expected = 0;
    bot->stats.resets++;
}

uint64_t msc_bot_capacity_bytes(const msc_bot *bot)
{
    return bot->units[0].lun.blocks * MSC_BLOCK_SIZE;
}

void msc_bot_stats(const msc_bot *bot, msc_stats *out)
{
    *out = bot->stats;
}

void msc_bot_set_log(msc_bot *bot, void (*log)(void *user, const char *line), void *user)
{
    bot->log = log;
    bot->log_user = user;
}

void msc_bot_set_speed(msc_bot *bot, msc_speed *speed)
{
    bot->speed = speed;
}

/* Bytes the device side of the command wants to move. */
static uint64_t device_bytes(const msc_command *cmd)
{
    switch (cmd->phase) {
    case MSC_PHASE_REPLY: return cmd->reply_len;
    case MSC_PHASE_READ:
    case MSC_PHASE_WRITE: return (uint64_t)cmd->count * MSC_BLOCK_SIZE;
    default: return 0;
    }
}

/* Starts a command from a valid CBW: picks the data phase per the thirteen cases of the BOT spec. */
static void start_command(msc_bot *bot, const uint8_t *cbw)
{
    bot->tag = get_le32(cbw + 4);
    bot->expected = get_le32(cbw + 8);
    bool host_in = (cbw[12] & 0x80) != 0;
    uint8_t lun = cbw[13] & 0x0f;
    uint8_t cb_len = cbw[14] & 0x1f;
    bot->done = 0;
    bot->stats.commands++;
    /* bCBWLUN picks the unit; one that does not exist fails, its sense kept by LUN 0. */
    unsigned unit = lun < bot->n_units ? lun : 0;
    bot->fd = bot->units[unit].fd;
    bot->lun = &bot->units[unit].lun;
    if (lun >= bot->n_units || cb_len == 0 || cb_len > 16) {
        memset(&bot->cmd, 0, sizeof(bot->cmd));
        bot->cmd.failed = true;
        msc_scsi_fail(bot->lun, 0x05, lun >= bot->n_units ? 0x25 : 0x24, 0);
    } else {
        msc_scsi_decode(bot->lun, cbw + 15, cb_len, &bot->cmd);
    }
    uint64_t want = device_bytes(&bot->cmd);
    bool dev_in = bot->cmd.phase == MSC_PHASE_REPLY || bot->cmd.phase == MSC_PHASE_READ;
    bot->csw_status = bot->cmd.failed ? CSW_FAILED : CSW_PASSED;
    if (bot->cmd.opcode != 0x28 && bot->cmd.opcode != 0x2a)
        logf_bot(bot, "SCSI %s (0x%02x) host %s %u bytes -> %s", msc_scsi_opcode_name(bot->cmd.opcode), bot->cmd.opcode,
                 host_in ? "in" : "out", bot->expected, bot->cmd.failed ? "CHECK CONDITION" : "ok");
    if (bot->expected == 0) {
        /* Cases 1-3: no data phase; a device that wanted data is a phase error. */
        if (want > 0)
            bot->csw_status = CSW_PHASE_ERROR;
        bot->data_len = 0;
        bot->state = BOT_STATUS;
    } else if (host_in) {
        /* Cases 4-8: send what we have (at most what the host expects), a short packet ends the phase. */
        if (want > 0 && !dev_in) {
            bot->csw_status = CSW_PHASE_ERROR;
            want = 0;
        }
        bot->data_len = want < bot->expected ? (uint32_t)want : bot->expected;
        if (want > bot->expected && bot->csw_status == CSW_PASSED)
            bot->csw_status = CSW_PHASE_ERROR;
        bot->state = BOT_DATA_IN;
    } else {
        /* Cases 9-13: take everything the host sends, keep what the command needs. */
        if (want > 0 && dev_in) {
            bot->csw_status = CSW_PHASE_ERROR;
            want = 0;
        }
        bot->data_len = want < bot->expected ? (uint32_t)want : bot->expected;
        if (want > bot->expected && bot->csw_status == CSW_PASSED)
            bot->csw_status = CSW_PHASE_ERROR;
        bot->state = BOT_DATA_OUT;
    }
    if (bot->cmd.failed)
        bot->stats.failed_commands++;
}

msc_status msc_bot_out(msc_bot *bot, const uint8_t *data, size_t len, size_t *consumed)
{
    *consumed = 0;
    switch (bot->state) {
    case BOT_HALTED: return MSC_STALL;
    case BOT_DATA_IN:
    case BOT_STATUS: return MSC_PENDING; /* the host must collect the data / CSW first */
    case BOT_IDLE:
        if (len != CBW_SIZE || get_le32(data) != CBW_SIGNATURE) {
            logf_bot(bot, "invalid CBW (%zu bytes): halted until reset recovery", len);
            bot->state = BOT_HALTED;
            return MSC_STALL;
        }
        start_command(bot, data);
        *consumed = len;
        return MSC_OK;
    case BOT_DATA_OUT: {
        uint32_t left = bot->expected - bot->done;
        size_t take = len < left ? len : left;
        /* The part of this packet that lands on the disk. */
        if (bot->done < bot->data_len && bot->cmd.phase == MSC_PHASE_WRITE && bot->csw_status == CSW_PASSED) {
            uint32_t useful = bot->data_len - bot->done;
            size_t n = take < useful ? take : useful;
            off_t off = (off_t)(bot->cmd.lba * MSC_BLOCK_SIZE + bot->done);
            ssize_t w = pwrite(bot->fd, data, n, off);
            if (w != (ssize_t)n) {
                msc_scsi_fail(bot->lun, MSC_SK_MEDIUM_ERROR, MSC_ASC_WRITE_ERROR, 0);
                bot->csw_status = CSW_FAILED;
                bot->stats.failed_commands++;
            } else {
                bot->stats.bytes_written += n;
                if (bot->speed)
                    msc_speed_account(bot->speed, true, n);
            }
        }
        bot->done += (uint32_t)take;
        *consumed = take;
        if (bot->done >= bot->expected || take < len)
            bot->state = BOT_STATUS;
        return MSC_OK;
    }
    }
    return MSC_STALL;
}

static void write_csw(msc_bot *bot, uint8_t *buf)
{
    uint32_t moved = bot->state == BOT_STATUS ? bot->done : 0;
    put_le32(buf, CSW_SIGNATURE);
    put_le32(buf + 4, bot->tag);
    put_le32(buf + 8, bot->expected - (moved < bot->expected ? moved : bot->expected));
    buf[12] = bot->csw_status;
}

msc_status msc_bot_in(msc_bot *bot, uint8_t *buf, size_t cap, size_t *len)
{
    *len = 0;
    switch (bot->state) {
    case BOT_HALTED: return MSC_STALL;
    case BOT_IDLE:
    case BOT_DATA_OUT: return MSC_PENDING;
    case BOT_STATUS:
        if (cap < CSW_SIZE)
            return MSC_STALL;
        /* SYNCHRONIZE CACHE: its status waits until the storage has written everything taken before. */
        if (bot->speed && !bot->cmd.failed && (bot->cmd.opcode == 0x35 || bot->cmd.opcode == 0x91))
            msc_speed_flush(bot->speed);
        write_csw(bot, buf);
        *len = CSW_SIZE;
        bot->state = BOT_IDLE;
        return MSC_OK;
    case BOT_DATA_IN: {
        uint32_t left = bot->data_len - bot->done;
        size_t n = cap < left ? cap : left;
        if (n > 0 && bot->cmd.phase == MSC_PHASE_REPLY) {
            memcpy(buf, bot->cmd.reply + bot->done, n);
        } else if (n > 0) {
            off_t off = (off_t)(bot->cmd.lba * MSC_BLOCK_SIZE + bot->done);
            ssize_t r = pread(bot->fd, buf, n, off);
            if (r < 0)
                r = 0;
            if ((size_t)r < n) {
                /* Short read of the image: end the data phase here and fail the command. */
                msc_scsi_fail(bot->lun, MSC_SK_MEDIUM_ERROR, MSC_ASC_READ_ERROR, 0);
                bot->csw_status = CSW_FAILED;
                bot->stats.failed_commands++;
                n = (size_t)r;
                bot->data_len = bot->done + (uint32_t)n;
            }
            bot->stats.bytes_read += n;
            if (bot->speed)
                msc_speed_account(bot->speed, false, n);
        }
        bot->done += (uint32_t)n;
        *len = n;
        /* A short (or zero-length) packet ends the data phase; so does delivering the last byte. */
        if (bot->done >= bot->data_len)
            bot->state = BOT_STATUS;
        return MSC_OK;
    }
    }
    return MSC_STALL;
}

int msc_bot_class_request(msc_bot *bot, const uint8_t setup[8], uint8_t *data, size_t cap)
{
    uint8_t type = setup[0], request = setup[1];
    if (type == 0xa1 && request == 0xfe) { /* GET MAX LUN */
        if (cap < 1)
            return -1;
        data[0] = (uint8_t)(bot->n_units - 1);
        return 1;
    }
    if (type == 0x21 && request == 0xff) { /* Bulk-Only Mass Storage Reset */
        logf_bot(bot, "Bulk-Only reset");
        msc_bot_reset(bot);
        return 0;
    }
    return -1;
}

size_t msc_bot_config_descriptor(uint8_t *buf, size_t cap)
{
    static const uint8_t desc[32] = {
        9,
        2,
        32,
        0,
        1,
        1,
        0,
        0x80,
        250, /* configuration: 1 interface, 500 mA */
        9,
        4,
        0,
        0,
        2,
        0x08,
        0x06,
        0x50,
        0, /* mass storage, SCSI transparent, Bulk-Only */
        7,
        5,
        MSC_EP_OUT,
        2,
        MSC_MAX_PACKET & 0xff,
        MSC_MAX_PACKET >> 8,
        0,
        7,
        5,
        MSC_EP_IN,
        2,
        MSC_MAX_PACKET & 0xff,
        MSC_MAX_PACKET >> 8,
        0,
    };
    size_t n = cap < sizeof(desc) ? cap : sizeof(desc);
    if (n)
        memcpy(buf, desc, n); /* a zero-length read comes with no buffer at all */
    return n;
}
