/* Internal: zstd image decoder through libzstd, every frame's checksum required and checked. */
#ifndef CMB_FLASH_ZSTD_SRC_H
#define CMB_FLASH_ZSTD_SRC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct cmb_zstd cmb_zstd;

/* Decodes what is read from fd (not owned), after the head_len bytes in head already taken from it (may be 0;
 * a seekable fd is read from offset 0). Reads up to the first data frame's header (skippable frames are
 * passed over): CMBOOT_ERR_FORMAT when it carries no content checksum, CMBOOT_ERR_ARCHIVE when the input
 * is not zstd or ends early; the reason in err. */
int cmb_zstd_open(int fd, bool seekable, const uint8_t *head, size_t head_len, cmb_zstd **out, char *err,
                  size_t err_size);
/* Caps the decoder's memory (bytes; 0 = libzstd's default window limit, 128 MiB). A frame whose window needs
 * more is refused (CMBOOT_ERR_NO_MEMORY): the first one here, before anything is decoded. */
int cmb_zstd_limit(cmb_zstd *z, uint64_t memlimit, char *err, size_t err_size);
/* Fills buf as far as the stream goes; *got = 0 at the end, after every frame's checksum matched and nothing
 * but frames followed. CMBOOT_ERR_ARCHIVE for corrupt, truncated or trailing data, CMBOOT_ERR_FORMAT for a
 * frame without checksum, CMBOOT_ERR_NO_MEMORY for a window over the cap, CMBOOT_ERR_IO for a read error. */
int cmb_zstd_read(cmb_zstd *z, uint8_t *buf, size_t len, size_t *got, char *err, size_t err_size);
/* Data frames started so far. */
uint64_t cmb_zstd_frames(const cmb_zstd *z);
void cmb_zstd_close(cmb_zstd *z);

#endif
