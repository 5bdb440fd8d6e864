/* libFuzzer target: the emulator's mass-storage stage (sim/model/msc_bot.c, sim/model/msc_scsi.c): CBWs, data
 * and class requests from a guest, in any order. */
#include <limits.h>
#include <stdio.h>
#include <string.h>

#include "cmboot/error.h"
#include "fuzz_util.h"
#include "model/msc_bot.h"

static void drop_line(void *user, const char *line)
{
    (void)user;
    if (strnlen(line, 256) == 256)
        fuzz_fail("unterminated log line");
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    fuzz_in in = {data, size};
    char path[PATH_MAX];
    snprintf(path, sizeof path, "%s/disk.img", fuzz_scratch());
    static uint8_t disk[64 * 1024 + 300]; /* not a whole number of blocks: the tail is cut */
    fuzz_write_file(path, disk, sizeof disk);
    uint8_t flags = fuzz_u8(&in);
    msc_config cfg = {.image_path = path, .read_only = flags & 1};
    msc_bot *bot;
    if (msc_bot_open(&cfg, &bot) != CMBOOT_OK)
        fuzz_fail("cannot open the emulated disk");
    if (flags & 2)
        msc_bot_set_log(bot, drop_line, NULL);
    uint8_t buf[70000];
    for (unsigned ops = 0; ops < 256 && in.left; ops++) {
        uint8_t op = fuzz_u8(&in);
        size_t n = 0;
        const uint8_t *p;
        switch ((op & 0x7f) % 6) {
        case 0: { /* a well-formed CBW around fuzzed fields: the common way into the SCSI decoder */
            uint8_t cbw[31] = {0x55, 0x53, 0x42, 0x43};
            fuzz_bytes(&in, 27, &p);
            memcpy(cbw + 4, p, (size_t)(in.p - p));
            if (op & 0x80) /* a plausible length, not a random 32-bit one */
                cbw[8] = fuzz_u8(&in), cbw[9] = fuzz_u8(&in) & 3, cbw[10] = cbw[11] = 0;
            msc_bot_out(bot, cbw, sizeof cbw, &n);
            break;
        }
        case 1: { /* raw bulk OUT (data phase or a bad CBW) */
            size_t len = fuzz_u8(&in);
            if (op & 0x80)
                len = len * 256 + fuzz_u8(&in);
            if (len > in.left)
                len = in.left;
            if (len > sizeof buf)
                len = sizeof buf;
            memcpy(buf, in.p, len);
            in.p += len;
            in.left -= len;
            if (msc_bot_out(bot, buf, len, &n) == MSC_OK && n > len)
                fuzz_fail("msc consumed more than given");
            break;
        }
        case 2: { /* bulk IN of some size */
            size_t cap = fuzz_u16(&in) % sizeof buf;
            size_t len = 0;
            if (msc_bot_in(bot, buf, cap, &len) == MSC_OK && len > cap)
                fuzz_fail("msc answered more than the buffer");
            break;
        }
        case 3: { /* class request */
            uint8_t setup[8] = {0};
            fuzz_bytes(&in, 8, &p);
            memcpy(setup, p, (size_t)(in.p - p));
            size_t cap = fuzz_u8(&in);
            int r = msc_bot_class_request(bot, setup, buf, cap);
            if (r > (int)cap)
                fuzz_fail("class request answered more than asked");
            break;
        }
        case 4: msc_bot_reset(bot); break;
        case 5: { /* the SCSI decoder alone, any CDB length */
            msc_lun lun = {.blocks = fuzz_u32(&in), .read_only = op & 0x80};
            msc_command cmd;
            size_t len = fuzz_u8(&in) % 16 + 1;
            uint8_t cdb[16] = {0};
            fuzz_bytes(&in, len, &p);
            memcpy(cdb, p, (size_t)(in.p - p));
            msc_scsi_decode(&lun, cdb, len, &cmd);
            if (cmd.reply_len > MSC_REPLY_MAX)
                fuzz_fail("SCSI reply longer than its buffer");
            if (cmd.phase == MSC_PHASE_READ || cmd.phase == MSC_PHASE_WRITE) {
                if (cmd.lba + cmd.count > lun.blocks || cmd.lba + cmd.count < cmd.lba)
                    fuzz_fail("SCSI range outside the disk accepted");
            }
            (void)msc_scsi_opcode_name(cdb[0]);
            break;
        }
        }
    }
    msc_stats st;
    msc_bot_stats(bot, &st);
    if (st.bytes_read > st.commands * 0xffffffffull)
        fuzz_fail("stats out of bounds");
    msc_bot_close(bot);
    return 0;
}
