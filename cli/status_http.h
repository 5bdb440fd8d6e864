/* `cmboot flash --http ADDR:PORT`: the status page, its JSON and its server-sent events (libmicrohttpd). */
#ifndef CMBOOT_CLI_STATUS_HTTP_H
#define CMBOOT_CLI_STATUS_HTTP_H

#include <stddef.h>
#include <stdint.h>
#include "status_model.h"

typedef struct status_http status_http;

/* "ADDR:PORT", "[ADDR6]:PORT" or "PORT" (= 127.0.0.1:PORT). 0, or -EINVAL with why filled. */
int status_http_parse(const char *spec, char *addr, size_t addr_size, uint16_t *port, char *why, size_t why_size);

/* The library loaded (dlopen) when a server starts, and its Debian package (for the error message). */
#define STATUS_HTTP_MHD_SONAME "libmicrohttpd.so.12"
#define STATUS_HTTP_MHD_PACKAGE "libmicrohttpd12"

/* Serves m on addr:port (port 0 = any free one, see status_http_port) from libmicrohttpd's own threads: GET
 * only (/, /api/status, /events; anything else 404, other methods 405). m must outlive the server.
 * 0 or -errno (-EADDRINUSE, -EADDRNOTAVAIL, -EINVAL); -ENOPKG: libmicrohttpd could not be loaded, -ELIBBAD: it
 * lacks a function; -ENOTSUP: built without it (CMBOOT_HTTP=off). */
int status_http_start(status_model *m, const char *addr, uint16_t port, status_http **out);
/* The same with libmicrohttpd loaded from soname (tests: a name that does not exist). */
int status_http_start_with(const char *soname, status_model *m, const char *addr, uint16_t port, status_http **out);
uint16_t status_http_port(const status_http *h);
/* Ends every event stream and stops the server (joins its threads). NULL is fine. */
void status_http_stop(status_http *h);

/* The page (HTML with its CSS and JavaScript inline: no other request, works offline). */
extern const char status_page_html[];

#endif
