/* One read of an image's bytes for every decoder: at an offset on a regular file, in order from a pipe. */
#ifndef CMB_FLASH_IMAGE_READ_H
#define CMB_FLASH_IMAGE_READ_H

#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>
#include <unistd.h>

/* Up to len bytes at pos (seekable: pread, which leaves the descriptor's offset alone) or the next ones (a pipe:
 * read, pos unused); retried on EINTR. Returns the bytes read, 0 at the end, -1 with errno set. */
static inline ssize_t cmb_image_read(int fd, bool seekable, uint64_t pos, void *buf, size_t len)
{
    for (;;) {
        ssize_t n = seekable ? pread(fd, buf, len, (off_t)pos) : read(fd, buf, len);
        if (n >= 0 || errno != EINTR)
            return n;
    }
}

#endif
