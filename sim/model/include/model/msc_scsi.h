/* SCSI block commands of the emulated mass-storage stage: decodes a CDB into a small reply or a disk range. */
#ifndef CMBOOT_SIM_MSC_SCSI_H
#define CMBOOT_SIM_MSC_SCSI_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define MSC_BLOCK_SIZE 512u
#define MSC_REPLY_MAX 64u
/* Sense of a failed data phase (backing file I/O error): MEDIUM ERROR, unrecovered read/write error. */
#define MSC_SK_MEDIUM_ERROR 0x03
#define MSC_ASC_READ_ERROR 0x11
#define MSC_ASC_WRITE_ERROR 0x0c

/* Fixed sense data of the last failed command (REQUEST SENSE reports and clears it). */
typedef struct msc_sense {
    uint8_t key;
    uint8_t asc;
    uint8_t ascq;
} msc_sense;

typedef struct msc_lun {
    uint64_t blocks; /* capacity in MSC_BLOCK_SIZE blocks */
    bool read_only;
    char vendor[9]; /* INQUIRY strings, space padded on the wire */
    char product[17];
    char revision[5];
    msc_sense sense;
} msc_lun;

typedef enum msc_phase {
    MSC_PHASE_NONE = 0, /* no data phase: status only */
    MSC_PHASE_REPLY,    /* reply[0..reply_len) goes to the host */
    MSC_PHASE_READ,     /* blocks [lba, lba+count) go to the host */
    MSC_PHASE_WRITE     /* blocks [lba, lba+count) come from the host */
} msc_phase;

typedef struct msc_command {
    msc_phase phase;
    bool failed; /* CHECK CONDITION (sense set in the lun) */
    uint8_t reply[MSC_REPLY_MAX];
    uint32_t reply_len;
    uint64_t lba;
    uint32_t count;
    uint8_t opcode;
} msc_command;

/* Decodes one CDB of cdb_len bytes (1..16). Never touches the disk: the caller moves the data. */
void msc_scsi_decode(msc_lun *lun, const uint8_t *cdb, size_t cdb_len, msc_command *out);
/* Records a failure of the data phase (I/O error on the backing file). */
void msc_scsi_fail(msc_lun *lun, uint8_t key, uint8_t asc, uint8_t ascq);
/* Name of an opcode for logs ("READ(10)"), "?" if unknown. */
const char *msc_scsi_opcode_name(uint8_t opcode);

#ifdef __cplusplus
}
#endif
#endif
