/* SHA-256 / SHA-1 for the flash layer: libcrypto's low-level digest functions, EVP where they are gone. */
/* Why not EVP: in OpenSSL 3 the first EVP digest loads the configuration and the default provider's tables,
 * about 1.8 MiB of a board's 16 MiB budget, for the same assembly code the low-level calls reach directly.
 * A libcrypto built without the 3.0 deprecated API (or a later major version) gets the EVP path. */
#define OPENSSL_SUPPRESS_DEPRECATED
#include "digest.h"

#include <openssl/evp.h>
#include <openssl/opensslv.h>
#include <openssl/sha.h> /* through openssl/macros.h: OPENSSL_NO_DEPRECATED_3_0 in a build without them */
#include <stdlib.h>

#if defined(OPENSSL_NO_DEPRECATED_3_0) || OPENSSL_VERSION_MAJOR >= 4
#define CMB_DIGEST_EVP 1
#endif

struct cmb_digest {
    cmb_digest_kind kind;
#ifdef CMB_DIGEST_EVP
    EVP_MD_CTX *md;
#else
    union {
        SHA256_CTX sha256;
        SHA_CTX sha1;
    } u;
#endif
};

size_t cmb_digest_size(cmb_digest_kind k)
{
    return k == CMB_DIGEST_SHA1 ? 20 : 32;
}

bool cmb_digest_reset(cmb_digest *d, cmb_digest_kind k)
{
    d->kind = k;
#ifdef CMB_DIGEST_EVP
    return EVP_DigestInit_ex(d->md, k == CMB_DIGEST_SHA1 ? EVP_sha1() : EVP_sha256(), NULL) == 1;
#else
    return (k == CMB_DIGEST_SHA1 ? SHA1_Init(&d->u.sha1) : SHA256_Init(&d->u.sha256)) == 1;
#endif
}

cmb_digest *cmb_digest_new(cmb_digest_kind k)
{
    cmb_digest *d = calloc(1, sizeof *d);
    if (!d)
        return NULL;
#ifdef CMB_DIGEST_EVP
    if (!(d->md = EVP_MD_CTX_new())) {
        free(d);
        return NULL;
    }
#endif
    if (!cmb_digest_reset(d, k)) {
        cmb_digest_free(d);
        return NULL;
    }
    return d;
}

bool cmb_digest_update(cmb_digest *d, const void *p, size_t n)
{
#ifdef CMB_DIGEST_EVP
    return EVP_DigestUpdate(d->md, p, n) == 1;
#else
    return (d->kind == CMB_DIGEST_SHA1 ? SHA1_Update(&d->u.sha1, p, n) : SHA256_Update(&d->u.sha256, p, n)) == 1;
#endif
}

bool cmb_digest_final(cmb_digest *d, uint8_t out[CMB_DIGEST_MAX])
{
#ifdef CMB_DIGEST_EVP
    unsigned len = 0;
    return EVP_DigestFinal_ex(d->md, out, &len) == 1 && len == cmb_digest_size(d->kind);
#else
    return (d->kind == CMB_DIGEST_SHA1 ? SHA1_Final(out, &d->u.sha1) : SHA256_Final(out, &d->u.sha256)) == 1;
#endif
}

void cmb_digest_free(cmb_digest *d)
{
    if (!d)
        return;
#ifdef CMB_DIGEST_EVP
    EVP_MD_CTX_free(d->md);
#endif
    free(d);
}
