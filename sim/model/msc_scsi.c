/* SCSI command decoding for the emulated mass-storage stage (SPC/SBC subset Linux's sd driver uses). */
#include "model/msc_scsi.h"

#include <string.h>

enum {
    OP_TEST_UNIT_READY = 0x00,
    OP_REQUEST_SENSE = 0x03,
    OP_INQUIRY = 0x12,
    OP_MODE_SENSE6 = 0x1a,
    OP_START_STOP = 0x1b,
    OP_PREVENT_ALLOW = 0x1e,
    OP_READ_CAPACITY10 = 0x25,
    OP_READ10 = 0x28,
    OP_WRITE10 = 0x2a,
    OP_SYNC_CACHE10 = 0x35,
    OP_MODE_SENSE10 = 0x5a,
    OP_READ16 = 0x88,
    OP_WRITE16 = 0x8a,
    OP_SYNC_CACHE16 = 0x91,
    OP_SERVICE_ACTION_IN16 = 0x9e,
    SA_READ_CAPACITY16 = 0x10,
};

enum {
    SK_NOT_READY = 0x02,
    SK_ILLEGAL_REQUEST = 0x05,
    SK_DATA_PROTECT = 0x07,
    ASC_INVALID_OPCODE = 0x20,
    ASC_LBA_OUT_OF_RANGE = 0x21,
    ASC_INVALID_FIELD = 0x24,
    ASC_WRITE_PROTECTED = 0x27,
};

static void put_be16(uint8_t *p, uint16_t v)
{
    p[0] = (uint8_t)(v >> 8);
    p[1] = (uint8_t)v;
}

static void put_be32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)(v >> 24);
    p[1] = (uint8_t)(v >> 16);
    p[2] = (uint8_t)(v >> 8);
    p[3] = (uint8_t)v;
}

static void put_be64(uint8_t *p, uint64_t v)
{
    put_be32(p, (uint32_t)(v >> 32));
    put_be32(p + 4, (uint32_t)v);
}

static uint32_t get_be16(const uint8_t *p)
{
    return (uint32_t)p[0] << 8 | p[1];
}

static uint32_t get_be32(const uint8_t *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static uint64_t get_be64(const uint8_t *p)
{
    return (uint64_t)get_be32(p) << 32 | get_be32(p + 4);
}

/* Copies a string into a space-padded field of len bytes. */
static void put_padded(uint8_t *dst, const char *src, size_t len)
{
    size_t n = strnlen(src, len);
    memset(dst, ' ', len);
    memcpy(dst, src, n);
}

/* Length a CDB of this opcode must have (by group code). */
static size_t cdb_length(uint8_t opcode)
{
    switch (opcode >> 5) {
    case 0: return 6;
    case 1:
    case 2: return 10;
    case 4: return 16;
    case 5: return 12;
    default: return 6;
    }
}

void msc_scsi_fail(msc_lun *lun, uint8_t key, uint8_t asc, uint8_t ascq)
{
    lun->sense.key = key;
    lun->sense.asc = asc;
    lun->sense.ascq = ascq;
}

static void fail(msc_lun *lun, msc_command *cmd, uint8_t key, uint8_t asc)
{
    msc_scsi_fail(lun, key, asc, 0);
    cmd->failed = true;
    cmd->phase = MSC_PHASE_NONE;
    cmd->reply_len = 0;
}

static void reply(msc_command *cmd, uint32_t len, uint32_t alloc_len)
{
    cmd->phase = MSC_PHASE_REPLY;
    cmd->reply_len = len < alloc_len ? len : alloc_len;
}

/* Mode parameter pages after the header: only the caching page, as sd asks for it. Write cache on, as the board's
 * gadget (f_mass_storage) reports: the host then sends SYNCHRONIZE CACHE to make its writes durable. */
static uint32_t mode_pages(uint8_t page, uint8_t *out)
{
    if (page != 0x08 && page != 0x3f)
        return 0;
    memset(out, 0, 20);
    out[0] = 0x08;
    out[1] = 0x12;
    out[2] = 0x04; /* WCE */
    return 20;
}

static void inquiry(msc_lun *lun, const uint8_t *cdb, msc_command *cmd)
{
    uint32_t alloc = get_be16(cdb + 3);
    uint8_t *r = cmd->reply;
    if (cdb[1] & 0x01) {
        /* Vital product data: only the list of supported pages. */
        if (cdb[2] != 0x00) {
            fail(lun, cmd, SK_ILLEGAL_REQUEST, ASC_INVALID_FIELD);
            return;
        }
        memset(r, 0, 5);
        r[3] = 1;
        reply(cmd, 5, alloc);
        return;
    }
    memset(r, 0, 36);
    r[0] = 0x00; /* direct-access block device */
    r[1] = 0x00; /* not removable: an eMMC */
    r[2] = 0x04; /* SPC-2 */
    r[3] = 0x02; /* response data format 2 */
    r[4] = 31;   /* additional length */
    put_padded(r + 8, lun->vendor, 8);
    put_padded(r + 16, lun->product, 16);
    put_padded(r + 32, lun->revision, 4);
    reply(cmd, 36, alloc);
}

static void read_write(msc_lun *lun, const uint8_t *cdb, msc_command *cmd, bool write, bool is16)
{
    uint64_t lba = is16 ? get_be64(cdb + 2) : get_be32(cdb + 2);
    uint32_t count = is16 ? get_be32(cdb + 10) : get_be16(cdb + 7);
    if (lba > lun->blocks || count > lun->blocks - lba) {
        fail(lun, cmd, SK_ILLEGAL_REQUEST, ASC_LBA_OUT_OF_RANGE);
        return;
    }
    if (write && lun->read_only) {
        fail(lun, cmd, SK_DATA_PROTECT, ASC_WRITE_PROTECTED);
        return;
    }
    cmd->lba = lba;
    cmd->count = count;
    cmd->phase = count == 0 ? MSC_PHASE_NONE : (write ? MSC_PHASE_WRITE : MSC_PHASE_READ);
}

void msc_scsi_decode(msc_lun *lun, const uint8_t *cdb, size_t cdb_len, msc_command *cmd)
{
    memset(cmd, 0, sizeof(*cmd));
    if (cdb_len == 0) {
        fail(lun, cmd, SK_ILLEGAL_REQUEST, ASC_INVALID_FIELD);
        return;
    }
    uint8_t op = cdb[0];
    cmd->opcode = op;
    if (cdb_len < cdb_length(op)) {
        fail(lun, cmd, SK_ILLEGAL_REQUEST, ASC_INVALID_FIELD);
        return;
    }
    uint8_t *r = cmd->reply;
    uint32_t n;
    switch (op) {
    case OP_TEST_UNIT_READY:
    case OP_START_STOP:
    case OP_PREVENT_ALLOW:
    case OP_SYNC_CACHE10:
    case OP_SYNC_CACHE16: cmd->phase = MSC_PHASE_NONE; break;
    case OP_REQUEST_SENSE:
        memset(r, 0, 18);
        r[0] = 0x70;
        r[2] = lun->sense.key;
        r[7] = 10;
        r[12] = lun->sense.asc;
        r[13] = lun->sense.ascq;
        memset(&lun->sense, 0, sizeof(lun->sense));
        reply(cmd, 18, cdb[4]);
        break;
    case OP_INQUIRY: inquiry(lun, cdb, cmd); break;
    case OP_MODE_SENSE6:
        memset(r, 0, 4);
        r[2] = lun->read_only ? 0x80 : 0x00;
        n = 4 + mode_pages(cdb[2] & 0x3f, r + 4);
        r[0] = (uint8_t)(n - 1);
        reply(cmd, n, cdb[4]);
        break;
    case OP_MODE_SENSE10:
        memset(r, 0, 8);
        r[3] = lun->read_only ? 0x80 : 0x00;
        n = 8 + mode_pages(cdb[2] & 0x3f, r + 8);
        put_be16(r, (uint16_t)(n - 2));
        reply(cmd, n, get_be16(cdb + 7));
        break;
    case OP_READ_CAPACITY10:
        if (lun->blocks == 0) {
            fail(lun, cmd, SK_NOT_READY, 0x3a);
            break;
        }
        put_be32(r, lun->blocks - 1 > 0xffffffffu ? 0xffffffffu : (uint32_t)(lun->blocks - 1));
        put_be32(r + 4, MSC_BLOCK_SIZE);
        reply(cmd, 8, 8);
        break;
    case OP_SERVICE_ACTION_IN16:
        if ((cdb[1] & 0x1f) != SA_READ_CAPACITY16 || lun->blocks == 0) {
            fail(lun, cmd, SK_ILLEGAL_REQUEST, ASC_INVALID_FIELD);
            break;
        }
        memset(r, 0, 32);
        put_be64(r, lun->blocks - 1);
        put_be32(r + 8, MSC_BLOCK_SIZE);
        reply(cmd, 32, get_be32(cdb + 10));
        break;
    case OP_READ10: read_write(lun, cdb, cmd, false, false); break;
    case OP_READ16: read_write(lun, cdb, cmd, false, true); break;
    case OP_WRITE10: read_write(lun, cdb, cmd, true, false); break;
    case OP_WRITE16: read_write(lun, cdb, cmd, true, true); break;
    default: fail(lun, cmd, SK_ILLEGAL_REQUEST, ASC_INVALID_OPCODE); break;
    }
}

const char *msc_scsi_opcode_name(uint8_t opcode)
{
    switch (opcode) {
    case OP_TEST_UNIT_READY: return "TEST UNIT READY";
    case OP_REQUEST_SENSE: return "REQUEST SENSE";
    case OP_INQUIRY: return "INQUIRY";
    case OP_MODE_SENSE6: return "MODE SENSE(6)";
    case OP_START_STOP: return "START STOP UNIT";
    case OP_PREVENT_ALLOW: return "PREVENT ALLOW MEDIUM REMOVAL";
    case OP_READ_CAPACITY10: return "READ CAPACITY(10)";
    case OP_READ10: return "READ(10)";
    case OP_WRITE10: return "WRITE(10)";
    case OP_SYNC_CACHE10: return "SYNCHRONIZE CACHE(10)";
    case OP_MODE_SENSE10: return "MODE SENSE(10)";
    case OP_READ16: return "READ(16)";
    case OP_WRITE16: return "WRITE(16)";
    case OP_SYNC_CACHE16: return "SYNCHRONIZE CACHE(16)";
    case OP_SERVICE_ACTION_IN16: return "READ CAPACITY(16)";
    default: return "?";
    }
}
