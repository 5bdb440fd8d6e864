/* Internal: the atomic file write behind cmboot_metadata_write, with seams for tests. */
#ifndef CMB_METADATA_METADATA_INTERNAL_H
#define CMB_METADATA_METADATA_INTERNAL_H

#include <stddef.h>

/* Fills buf with len unpredictable bytes (tests pass their own to aim at names they prepared). */
typedef void (*cmb_md_random_fn)(void *user, unsigned char *buf, size_t len);

enum { CMB_MD_NO_TMPFILE = 1u << 0 }; /* skip O_TMPFILE: the named-temporary path, as on filesystems without it */

/* Writes text to name in the directory dirfd (opened O_RDONLY|O_DIRECTORY) through a temporary file that
 * only this call can have created, then renames it over name and fsyncs the directory. rnd NULL = getrandom. */
int cmb_metadata_write_at(int dirfd, const char *name, const char *text, size_t len, unsigned flags,
                          cmb_md_random_fn rnd, void *rnd_user);

#endif
