/* SHA-256 / SHA-1 for the flash layer: libcrypto's digests without its provider machinery (docs/performance.md). */
#ifndef CMB_FLASH_DIGEST_H
#define CMB_FLASH_DIGEST_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define CMB_DIGEST_MAX 32 /* bytes of the longest digest (SHA-256) */

typedef enum { CMB_DIGEST_SHA256 = 0, CMB_DIGEST_SHA1 = 1 } cmb_digest_kind;

/* One running digest. Not thread-safe: one thread at a time, like an EVP_MD_CTX. */
typedef struct cmb_digest cmb_digest;

/* A digest of kind k, started; NULL when out of memory. */
cmb_digest *cmb_digest_new(cmb_digest_kind k);
/* Starts it again, as k (which may differ from before); false on failure. */
bool cmb_digest_reset(cmb_digest *d, cmb_digest_kind k);
bool cmb_digest_update(cmb_digest *d, const void *p, size_t n);
/* Writes the digest (cmb_digest_size() bytes) into out; the digest must be reset before it is used again. */
bool cmb_digest_final(cmb_digest *d, uint8_t out[CMB_DIGEST_MAX]);
void cmb_digest_free(cmb_digest *d);
/* 32 for SHA-256, 20 for SHA-1. */
size_t cmb_digest_size(cmb_digest_kind k);

#endif
