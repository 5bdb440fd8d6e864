/* Streams over file descriptors and memory: how boot files are read in bounded chunks. */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cmboot/error.h"
#include "cmboot/files.h"

typedef struct fd_stream {
    int fd;
} fd_stream;

static long fd_read(void *self, void *buf, size_t len)
{
    fd_stream *s = self;
    for (;;) {
        ssize_t n = read(s->fd, buf, len);
        if (n >= 0)
            return (long)n;
        if (errno != EINTR)
            return CMBOOT_ERR_IO;
    }
}

static void fd_close(void *self)
{
    fd_stream *s = self;
    close(s->fd);
    free(s);
}

int cmboot_stream_from_fd(int fd, const char *source, cmboot_stream *out)
{
    struct stat st;
    if (fstat(fd, &st) != 0) {
        close(fd);
        return CMBOOT_ERR_IO;
    }
    fd_stream *s = malloc(sizeof *s);
    if (!s) {
        close(fd);
        return CMBOOT_ERR_NO_MEMORY;
    }
    s->fd = fd;
    out->size = (uint64_t)st.st_size;
    out->read = fd_read;
    out->close = fd_close;
    out->self = s;
    snprintf(out->source, sizeof out->source, "%s", source ? source : "");
    return CMBOOT_OK;
}

void cmboot_stream_close(cmboot_stream *s)
{
    if (s && s->close) {
        s->close(s->self);
        s->close = NULL;
        s->self = NULL;
    }
}

typedef struct mem_stream {
    const unsigned char *data;
    size_t size, pos;
} mem_stream;

static long mem_read(void *self, void *buf, size_t len)
{
    mem_stream *m = self;
    size_t n = m->size - m->pos;
    if (n > len)
        n = len;
    if (n > LONG_MAX)
        n = LONG_MAX;
    if (n)
        memcpy(buf, m->data + m->pos, n);
    m->pos += n;
    return (long)n;
}

int cmboot_stream_from_memory(const void *data, size_t size, const char *source, cmboot_stream *out)
{
    if (!out || (!data && size))
        return CMBOOT_ERR_INVALID_ARG;
    mem_stream *m = malloc(sizeof *m);
    if (!m)
        return CMBOOT_ERR_NO_MEMORY;
    m->data = data;
    m->size = size;
    m->pos = 0;
    out->size = size;
    out->read = mem_read;
    out->close = free;
    out->self = m;
    snprintf(out->source, sizeof out->source, "%s", source ? source : "");
    return CMBOOT_OK;
}
