/* Internal: gzip image decoder through zlib that checks every member's CRC-32 and ISIZE. */
#ifndef CMB_FLASH_GZIP_H
#define CMB_FLASH_GZIP_H

#include <stddef.h>
#include <stdint.h>

typedef struct cmb_gzip cmb_gzip;

/* Decodes what is read from fd (not owned, read from its current offset), after the head_len bytes in
 * head that were already taken from it (may be 0). */
int cmb_gzip_open(int fd, const uint8_t *head, size_t head_len, cmb_gzip **out);
/* Fills buf as far as the stream goes; *got = 0 at the end, which only comes after a whole member whose
 * trailer matched. CMBOOT_ERR_ARCHIVE with a sentence in err for a corrupt, truncated or trailing-garbage
 * stream, CMBOOT_ERR_IO for a read error. Once failed, it keeps failing. */
int cmb_gzip_read(cmb_gzip *gz, uint8_t *buf, size_t len, size_t *got, char *err, size_t err_size);
void cmb_gzip_close(cmb_gzip *gz);

#endif
