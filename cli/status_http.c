/* The status page's HTTP server: libmicrohttpd, a thread per connection, GET only, events pushed as SSE. */
#include "status_http.h"

#include <arpa/inet.h>
#include <errno.h>
#ifdef CMB_HAVE_MHD
#include <dlfcn.h>
#include <microhttpd.h>
#endif
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

/* A stream sends the state at least this often (rates, ETAs and times move between events). */
#define SSE_TICK_MS 1000
#define MAX_CONNECTIONS 32

#ifdef CMB_HAVE_MHD
/* libmicrohttpd is loaded only for --http (dlopen): linked, it and GnuTLS, nettle, gmp and p11-kit would be
 * mapped and relocated in every cmboot run (~2.3 MiB of RSS). The functions this file calls: */
struct mhd_fns {
    void *lib;
    struct MHD_Daemon *(*start_daemon)(unsigned int flags, uint16_t port, MHD_AcceptPolicyCallback apc, void *apc_cls,
                                       MHD_AccessHandlerCallback dh, void *dh_cls, ...);
    MHD_socket (*quiesce_daemon)(struct MHD_Daemon *daemon);
    void (*stop_daemon)(struct MHD_Daemon *daemon);
    struct MHD_Response *(*create_response_from_buffer)(size_t size, void *buffer, enum MHD_ResponseMemoryMode mode);
    struct MHD_Response *(*create_response_from_callback)(uint64_t size, size_t block_size,
                                                          MHD_ContentReaderCallback crc, void *crc_cls,
                                                          MHD_ContentReaderFreeCallback crfc);
    enum MHD_Result (*add_response_header)(struct MHD_Response *response, const char *header, const char *content);
    enum MHD_Result (*queue_response)(struct MHD_Connection *connection, unsigned int status_code,
                                      struct MHD_Response *response);
    void (*destroy_response)(struct MHD_Response *response);
    const char *(*lookup_connection_value)(struct MHD_Connection *connection, enum MHD_ValueKind kind, const char *key);
};
#endif

struct status_http {
    status_model *m;
#ifdef CMB_HAVE_MHD
    struct MHD_Daemon *d;
    struct mhd_fns mhd;
#endif
    int fd;
    uint16_t port;
};

int status_http_parse(const char *spec, char *addr, size_t addr_size, uint16_t *port, char *why, size_t why_size)
{
    const char *p = spec ? spec : "";
    const char *colon = strrchr(p, ':');
    char host[128];
    if (!colon) {
        snprintf(host, sizeof host, "127.0.0.1");
        colon = p - 1;
    } else if (p[0] == '[') {
        const char *close = strchr(p, ']');
        if (!close || close + 1 != colon || (size_t)(close - p - 1) >= sizeof host) {
            snprintf(why, why_size, "'%s': an IPv6 address goes in brackets: [::1]:8080", p);
            return -EINVAL;
        }
        memcpy(host, p + 1, (size_t)(close - p - 1));
        host[close - p - 1] = 0;
    } else {
        if ((size_t)(colon - p) >= sizeof host || colon == p) {
            snprintf(why, why_size, "'%s': expected ADDR:PORT (127.0.0.1:8080) or PORT", p);
            return -EINVAL;
        }
        memcpy(host, p, (size_t)(colon - p));
        host[colon - p] = 0;
        if (strchr(host, ':')) { /* "::1:80" could be read two ways */
            snprintf(why, why_size, "'%s': an IPv6 address goes in brackets: [::1]:8080", p);
            return -EINVAL;
        }
    }
    const char *ps = colon + 1;
    char *end = NULL;
    errno = 0;
    unsigned long n = strtoul(ps, &end, 10);
    if (!*ps || *end || errno || n > 65535 || ps[0] == '-' || ps[0] == '+') {
        snprintf(why, why_size, "'%s': the port must be a number 0-65535", p);
        return -EINVAL;
    }
    unsigned char buf[sizeof(struct in6_addr)];
    if (inet_pton(AF_INET, host, buf) != 1 && inet_pton(AF_INET6, host, buf) != 1) {
        snprintf(why, why_size, "'%s': '%s' is not an IP address (names are not looked up)", p, host);
        return -EINVAL;
    }
    snprintf(addr, addr_size, "%s", host);
    *port = (uint16_t)n;
    return 0;
}

/* ---- server-sent events ---- */

typedef struct sse_stream {
    status_model *m;
    uint64_t version;
    bool sent;
    char *frame;
    size_t len, off;
} sse_stream;

#ifdef CMB_HAVE_MHD
/* On the connection's own thread: blocks until the state changes (or a tick passes), then sends it whole. */
static ssize_t sse_read(void *cls, uint64_t pos, char *buf, size_t max)
{
    (void)pos;
    sse_stream *s = cls;
    if (s->off >= s->len) {
        free(s->frame);
        s->frame = NULL;
        s->len = s->off = 0;
        if (s->sent)
            (void)status_model_wait(s->m, s->version, SSE_TICK_MS);
        if (status_model_stopped(s->m))
            return MHD_CONTENT_READER_END_OF_STREAM;
        char *json = status_model_json(s->m, &s->version);
        char *frame = json ? status_sse_frame("status", json) : NULL;
        free(json);
        if (!frame)
            return MHD_CONTENT_READER_END_WITH_ERROR;
        if (!s->sent) { /* the browser reconnects after 2 s when the stream breaks */
            size_t n = strlen(frame);
            s->frame = malloc(n + 16);
            if (!s->frame) {
                free(frame);
                return MHD_CONTENT_READER_END_WITH_ERROR;
            }
            s->len = (size_t)snprintf(s->frame, n + 16, "retry: 2000\n%s", frame);
            free(frame);
        } else {
            s->frame = frame;
            s->len = strlen(frame);
        }
        s->sent = true;
    }
    size_t n = s->len - s->off < max ? s->len - s->off : max;
    memcpy(buf, s->frame + s->off, n);
    s->off += n;
    return (ssize_t)n;
}

static void sse_free(void *cls)
{
    sse_stream *s = cls;
    free(s->frame);
    free(s);
}

/* ---- requests ---- */

static void common_headers(const struct mhd_fns *mhd, struct MHD_Response *r, const char *type)
{
    mhd->add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, type);
    mhd->add_response_header(r, MHD_HTTP_HEADER_CACHE_CONTROL, "no-store");
    mhd->add_response_header(r, "X-Content-Type-Options", "nosniff");
    mhd->add_response_header(r, "Referrer-Policy", "no-referrer");
    /* Nothing but this page's own inline code and its own server: no external asset can load. */
    mhd->add_response_header(r, "Content-Security-Policy",
                             "default-src 'none'; style-src 'unsafe-inline'; script-src 'unsafe-inline'; "
                             "connect-src 'self'; img-src data:; frame-ancestors 'none'");
}

static enum MHD_Result send_text(const struct mhd_fns *mhd, struct MHD_Connection *c, unsigned code, const char *type,
                                 const char *text, enum MHD_ResponseMemoryMode mode)
{
    struct MHD_Response *r = mhd->create_response_from_buffer(strlen(text), (void *)text, mode);
    if (!r)
        return MHD_NO;
    common_headers(mhd, r, type);
    if (code == MHD_HTTP_METHOD_NOT_ALLOWED)
        mhd->add_response_header(r, "Allow", "GET, HEAD");
    enum MHD_Result ret = mhd->queue_response(c, code, r);
    mhd->destroy_response(r);
    return ret;
}

/* Host must be an IP address or localhost (with or without a port): a web site that rebinds its own name to
 * this address (DNS rebinding) cannot read the line through a visitor's browser. */
static bool host_allowed(const char *host)
{
    if (!host || !*host)
        return false;
    char h[128];
    const char *end;
    if (host[0] == '[') {
        end = strchr(host, ']');
        if (!end || (end[1] && end[1] != ':'))
            return false;
        host++;
    } else {
        end = strchr(host, ':');
        if (!end)
            end = host + strlen(host);
    }
    if ((size_t)(end - host) >= sizeof h)
        return false;
    memcpy(h, host, (size_t)(end - host));
    h[end - host] = 0;
    unsigned char buf[sizeof(struct in6_addr)];
    return strcmp(h, "localhost") == 0 || inet_pton(AF_INET, h, buf) == 1 || inet_pton(AF_INET6, h, buf) == 1;
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *c, const char *url, const char *method,
                                  const char *version, const char *upload, size_t *upload_size, void **con_cls)
{
    (void)version;
    (void)upload;
    status_http *h = cls;
    const struct mhd_fns *mhd = &h->mhd;
    if (!*con_cls) { /* first call: headers only; answer on the next */
        *con_cls = h;
        return MHD_YES;
    }
    if (*upload_size) { /* a body is read and dropped: no request changes anything */
        *upload_size = 0;
        return MHD_YES;
    }
    bool head = strcmp(method, MHD_HTTP_METHOD_HEAD) == 0;
    if (strcmp(method, MHD_HTTP_METHOD_GET) != 0 && !head)
        return send_text(mhd, c, MHD_HTTP_METHOD_NOT_ALLOWED, "text/plain; charset=utf-8",
                         "405 method not allowed: this page is read-only\n", MHD_RESPMEM_PERSISTENT);
    if (!host_allowed(mhd->lookup_connection_value(c, MHD_HEADER_KIND, MHD_HTTP_HEADER_HOST)))
        return send_text(mhd, c, MHD_HTTP_FORBIDDEN, "text/plain; charset=utf-8",
                         "403 forbidden: use the page by its IP address (http://127.0.0.1:PORT/)\n",
                         MHD_RESPMEM_PERSISTENT);
    if (strcmp(url, "/") == 0 || strcmp(url, "/index.html") == 0)
        return send_text(mhd, c, MHD_HTTP_OK, "text/html; charset=utf-8", status_page_html, MHD_RESPMEM_PERSISTENT);
    if (strcmp(url, "/api/status") == 0) {
        char *json = status_model_json(h->m, NULL);
        if (!json)
            return MHD_NO;
        return send_text(mhd, c, MHD_HTTP_OK, "application/json", json, MHD_RESPMEM_MUST_FREE);
    }
    if (strcmp(url, "/events") == 0) {
        sse_stream *s = calloc(1, sizeof *s);
        if (!s)
            return MHD_NO;
        s->m = h->m;
        struct MHD_Response *r = mhd->create_response_from_callback(MHD_SIZE_UNKNOWN, 16384, sse_read, s, sse_free);
        if (!r) {
            free(s);
            return MHD_NO;
        }
        common_headers(mhd, r, "text/event-stream");
        enum MHD_Result ret = mhd->queue_response(c, MHD_HTTP_OK, r);
        mhd->destroy_response(r);
        return ret;
    }
    return send_text(mhd, c, MHD_HTTP_NOT_FOUND, "text/plain; charset=utf-8", "404 not found\n",
                     MHD_RESPMEM_PERSISTENT);
}

/* The socket is ours: bind errors come back as errno, and port 0 gets a free port we can tell. */
static int listen_on(const char *addr, uint16_t port, int *fd_out, uint16_t *bound)
{
    struct sockaddr_storage ss;
    memset(&ss, 0, sizeof ss);
    socklen_t len;
    struct sockaddr_in *in4 = (struct sockaddr_in *)&ss;
    struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)&ss;
    if (inet_pton(AF_INET, addr, &in4->sin_addr) == 1) {
        in4->sin_family = AF_INET;
        in4->sin_port = htons(port);
        len = sizeof *in4;
    } else if (inet_pton(AF_INET6, addr, &in6->sin6_addr) == 1) {
        in6->sin6_family = AF_INET6;
        in6->sin6_port = htons(port);
        len = sizeof *in6;
    } else {
        return -EINVAL;
    }
    int fd = socket(ss.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return -errno;
    int one = 1;
    (void)setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    if (ss.ss_family == AF_INET6)
        (void)setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof one);
    if (bind(fd, (struct sockaddr *)&ss, len) != 0 || listen(fd, 16) != 0) {
        int err = errno;
        close(fd);
        return -err;
    }
    len = sizeof ss;
    if (getsockname(fd, (struct sockaddr *)&ss, &len) != 0) {
        int err = errno;
        close(fd);
        return -err;
    }
    *bound = ntohs(ss.ss_family == AF_INET ? in4->sin_port : in6->sin6_port);
    *fd_out = fd;
    return 0;
}

/* dlsym gives a void *; its bits are the function's address on every POSIX system. */
static void *mhd_sym(void *lib, const char *name, bool *missing)
{
    void *f = dlsym(lib, name);
    *missing |= f == NULL;
    return f;
}

#define CMB_MHD_BIND(field, name) memcpy(&t->field, &(void *){mhd_sym(lib, name, &missing)}, sizeof t->field)

/* -ENOPKG: the library is not installed; -ELIBBAD: it lacks a function. dlopen is refcounted, so each server
 * holds its own reference; NODELETE: its threads are joined before dlclose, but GnuTLS may leave exit handlers. */
static int mhd_load(struct mhd_fns *t, const char *soname)
{
    void *lib = dlopen(soname, RTLD_NOW | RTLD_LOCAL | RTLD_NODELETE);
    if (!lib)
        return -ENOPKG;
    bool missing = false;
    CMB_MHD_BIND(start_daemon, "MHD_start_daemon");
    CMB_MHD_BIND(quiesce_daemon, "MHD_quiesce_daemon");
    CMB_MHD_BIND(stop_daemon, "MHD_stop_daemon");
    CMB_MHD_BIND(create_response_from_buffer, "MHD_create_response_from_buffer");
    CMB_MHD_BIND(create_response_from_callback, "MHD_create_response_from_callback");
    CMB_MHD_BIND(add_response_header, "MHD_add_response_header");
    CMB_MHD_BIND(queue_response, "MHD_queue_response");
    CMB_MHD_BIND(destroy_response, "MHD_destroy_response");
    CMB_MHD_BIND(lookup_connection_value, "MHD_lookup_connection_value");
    if (missing) {
        dlclose(lib);
        return -ELIBBAD;
    }
    t->lib = lib;
    return 0;
}

int status_http_start_with(const char *soname, status_model *m, const char *addr, uint16_t port, status_http **out)
{
    *out = NULL;
    status_http *h = calloc(1, sizeof *h);
    if (!h)
        return -ENOMEM;
    h->m = m;
    int rc = mhd_load(&h->mhd, soname);
    if (rc < 0) {
        free(h);
        return rc;
    }
    rc = listen_on(addr, port, &h->fd, &h->port);
    if (rc < 0) {
        dlclose(h->mhd.lib);
        free(h);
        return rc;
    }
    h->d = h->mhd.start_daemon(
        MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_THREAD_PER_CONNECTION | MHD_USE_POLL | MHD_USE_ITC, 0, NULL, NULL,
        on_request, h, MHD_OPTION_LISTEN_SOCKET, h->fd, MHD_OPTION_CONNECTION_LIMIT, (unsigned)MAX_CONNECTIONS,
        MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)120, MHD_OPTION_END);
    if (!h->d) {
        close(h->fd);
        dlclose(h->mhd.lib);
        free(h);
        return -EIO;
    }
    *out = h;
    return 0;
}

int status_http_start(status_model *m, const char *addr, uint16_t port, status_http **out)
{
    return status_http_start_with(STATUS_HTTP_MHD_SONAME, m, addr, port, out);
}

uint16_t status_http_port(const status_http *h)
{
    return h ? h->port : 0;
}

void status_http_stop(status_http *h)
{
    if (!h)
        return;
    status_model_stop(h->m); /* every event stream ends at its next read */
    /* Quiescing hands the listening socket back, so it is closed once, here. */
    MHD_socket fd = h->mhd.quiesce_daemon(h->d);
    h->mhd.stop_daemon(h->d);
    if (fd != MHD_INVALID_SOCKET)
        close(fd);
    dlclose(h->mhd.lib);
    free(h);
}
#else
/* Built without libmicrohttpd (CMBOOT_HTTP=off): --http says so instead of serving. */
int status_http_start_with(const char *soname, status_model *m, const char *addr, uint16_t port, status_http **out)
{
    (void)soname;
    (void)m;
    (void)addr;
    (void)port;
    *out = NULL;
    return -ENOTSUP;
}

int status_http_start(status_model *m, const char *addr, uint16_t port, status_http **out)
{
    (void)m;
    (void)addr;
    (void)port;
    *out = NULL;
    return -ENOTSUP;
}

uint16_t status_http_port(const status_http *h)
{
    (void)h;
    return 0;
}

void status_http_stop(status_http *h)
{
    (void)h;
}
#endif
