/* Internal: xz image decoder through liblzma, multi-threaded when the stream has several blocks. */
#ifndef CMB_FLASH_XZ_MT_H
#define CMB_FLASH_XZ_MT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct cmb_xz cmb_xz;

/* Decodes what is read from fd (not owned), after the head_len bytes in head already taken from it (may be
 * 0). When seekable, the stream's index (at the end of the file) tells the number of blocks; only a stream of
 * several blocks is decoded on up to `threads` threads (0 = the online cores), as many as memlimit allows
 * (bytes for the decoder; 0 = no cap). A stream whose dictionary alone needs more than memlimit is refused
 * (CMBOOT_ERR_NO_MEMORY with the reason in err). note gets a sentence for the log ("" when none). */
int cmb_xz_open(int fd, bool seekable, uint64_t file_size, const uint8_t *head, size_t head_len, unsigned threads,
                uint64_t memlimit, cmb_xz **out, char *note, size_t note_size, char *err, size_t err_size);
/* Fills buf as far as the stream goes; *got = 0 at the end, after every check matched. CMBOOT_ERR_ARCHIVE
 * with a sentence in err for corrupt or truncated data, CMBOOT_ERR_IO for a read error. */
int cmb_xz_read(cmb_xz *x, uint8_t *buf, size_t len, size_t *got, char *err, size_t err_size);
/* Decoder threads in use (1 = single-threaded); blocks of the last stream (0 = unknown). */
/* Bytes the decoder holds now (liblzma's count); 0 once the stream has ended and its memory is freed. */
uint64_t cmb_xz_memusage(const cmb_xz *x);
unsigned cmb_xz_threads(const cmb_xz *x);
uint64_t cmb_xz_blocks(const cmb_xz *x);
void cmb_xz_close(cmb_xz *x);

/* Blocks in the last xz stream of a seekable file (its index), 0 when it cannot be told. */
uint64_t cmb_xz_count_blocks(int fd, uint64_t file_size);

#endif
