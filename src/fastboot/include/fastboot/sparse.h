/* Internal: Android sparse images (docs/fastboot.md): a streaming encoder of an image's mapped ranges, split into
 * images no larger than a download may be, and the header check that lets an already sparse image pass. */
#ifndef CMB_FASTBOOT_SPARSE_H
#define CMB_FASTBOOT_SPARSE_H

#include <stddef.h>
#include <stdint.h>

#define CMB_SPARSE_MAGIC 0xed26ff3au
#define CMB_SPARSE_BLOCK 4096u
#define CMB_SPARSE_FILE_HEADER 28u
#define CMB_SPARSE_CHUNK_HEADER 12u
#define CMB_SPARSE_RAW 0xcac1u
#define CMB_SPARSE_FILL 0xcac2u
#define CMB_SPARSE_DONT_CARE 0xcac3u
#define CMB_SPARSE_CRC32 0xcac4u

/* Bytes of the image that hold data (a bmap's ranges); the rest need not be written. */
typedef struct cmb_sparse_range {
    uint64_t offset;
    uint64_t length;
} cmb_sparse_range;

/* A run of blocks sent as one RAW chunk. */
typedef struct cmb_sparse_extent {
    uint32_t block;
    uint32_t count;
} cmb_sparse_extent;

/* One sparse image of a plan: extents [first, first + count), size bytes in all. */
typedef struct cmb_sparse_part {
    size_t first;
    size_t count;
    uint64_t size;
} cmb_sparse_part;

typedef struct cmb_sparse_plan {
    uint64_t image_size;
    uint32_t total_blocks; /* of CMB_SPARSE_BLOCK bytes; the last one padded with zeros */
    cmb_sparse_extent *extents;
    size_t n_extents;
    cmb_sparse_part *parts;
    size_t n_parts;
} cmb_sparse_plan;

/* Plans the sparse images of an image of image_size bytes whose data is in ranges (any order, may overlap; each
 * widened to whole blocks): each image covers all blocks (DONT_CARE where it sends nothing) and is at most
 * max_size bytes. CMBOOT_ERR_FORMAT for a range past the image's end, CMBOOT_ERR_TOO_LARGE for an image of more
 * than 2^32 blocks, CMBOOT_ERR_INVALID_ARG when max_size cannot hold one block with its headers. */
int cmb_sparse_plan_make(uint64_t image_size, const cmb_sparse_range *ranges, size_t n_ranges, uint32_t max_size,
                         cmb_sparse_plan *out);
void cmb_sparse_plan_free(cmb_sparse_plan *plan);

/* Reads len bytes of the image at offset (always within image_size). CMBOOT_OK or a negative cmboot_error. */
typedef int (*cmb_sparse_read_fn)(void *user, uint64_t offset, void *buf, size_t len);

/* The bytes of one part, produced as they are read: headers, then image data fetched through read. */
typedef struct cmb_sparse_stream {
    const cmb_sparse_plan *plan;
    const cmb_sparse_part *part;
    cmb_sparse_read_fn read;
    void *user;
    int state;      /* 0: file header next, 1: chunks, 2: done */
    size_t next;    /* next extent of the part */
    uint32_t block; /* blocks covered so far */
    uint8_t hdr[CMB_SPARSE_FILE_HEADER];
    size_t hdr_len, hdr_pos;
    uint64_t data_at, data_end; /* image bytes of the RAW chunk being sent */
    uint64_t produced;
} cmb_sparse_stream;

void cmb_sparse_stream_init(cmb_sparse_stream *s, const cmb_sparse_plan *plan, size_t part, cmb_sparse_read_fn read,
                            void *user);
/* The next len bytes of the part (the shape of cmboot_fastboot_read_fn, user = the stream). CMBOOT_ERR_INVALID_ARG
 * when that would go past the part's end. */
int cmb_sparse_stream_read(void *stream, void *buf, size_t len);

/* A sparse file header, as read from the first 28 bytes of an image. */
typedef struct cmb_sparse_header {
    uint16_t major, minor, file_hdr_sz, chunk_hdr_sz;
    uint32_t blk_sz, total_blks, total_chunks, image_checksum;
} cmb_sparse_header;

/* Whether head (len bytes) starts with the sparse magic. */
int cmb_sparse_is_sparse(const void *head, size_t len);
/* Parses and checks a sparse header for passing the image through as it is: CMBOOT_ERR_FORMAT unless the magic,
 * major version 1, header sizes of at least 28 and 12 bytes and a block size that is a non-zero multiple of 4. */
int cmb_sparse_header_parse(const void *head, size_t len, cmb_sparse_header *out);

/* Header writers, the one place sparse headers are made: a 28-byte file header (block size blk_sz, total_blks
 * blocks, chunks chunks, no checksum) and a 12-byte chunk header (data_bytes after it). */
void cmb_sparse_put_file_header(uint8_t *out, uint32_t blk_sz, uint32_t total_blks, uint32_t chunks);
void cmb_sparse_put_chunk_header(uint8_t *out, uint32_t type, uint32_t blocks, uint32_t data_bytes);

/* ---- Splitting an Android sparse image that is larger than one download ---- */

/* Exactly len bytes of the input image into buf; CMBOOT_ERR_FORMAT when it ends first. */
typedef int (*cmb_sparse_in_fn)(void *user, void *buf, size_t len);
/* One complete sparse image of len bytes (at most max_size), to download and flash. */
typedef int (*cmb_sparse_piece_fn)(void *user, const void *buf, size_t len);
/* Blocks [block, block + blocks) of blk_sz bytes get data: raw (blocks x blk_sz bytes) or, when raw is NULL, the
 * 4-byte pattern fill repeated. Called in ascending block order, before the piece holding them is handed out. */
typedef int (*cmb_sparse_data_fn)(void *user, uint32_t blk_sz, uint32_t block, uint32_t blocks, const uint8_t *raw,
                                  uint32_t fill);

typedef struct cmb_resparse_stats {
    cmb_sparse_header header;
    uint32_t pieces;     /* sparse images handed out */
    uint32_t crc_chunks; /* CRC32 chunks met: skipped, not checked (the read-back compares the data instead) */
} cmb_resparse_stats;

/* Reads a whole sparse image through in (header, then every chunk; strict: each chunk's total size must be what
 * its type and block count make, no chunk past total_blks, exactly total_chunks chunks) and hands out pieces, each
 * a valid sparse image of at most max_size bytes covering all total_blks blocks: the same RAW and FILL data at
 * the same blocks (RAW chunks cut at block boundaries where a piece ends), DONT_CARE everywhere else; CRC32 chunks
 * are dropped. buf (max_size bytes) holds the piece being built. CMBOOT_ERR_FORMAT for a malformed or truncated
 * image, CMBOOT_ERR_INVALID_ARG when max_size cannot hold one block with its headers, else the callbacks' error.
 * stats may be NULL. */
int cmb_sparse_resparse(cmb_sparse_in_fn in, void *in_user, uint32_t max_size, uint8_t *buf, cmb_sparse_piece_fn piece,
                        cmb_sparse_data_fn data, void *user, cmb_resparse_stats *stats);

/* Checks a whole sparse image held in memory by the same rules as cmb_sparse_resparse (and that it ends with its
 * last chunk): CMBOOT_OK or CMBOOT_ERR_FORMAT. stats (pieces stays 0) may be NULL. */
int cmb_sparse_check(const void *img, size_t len, cmb_resparse_stats *stats);

#endif
