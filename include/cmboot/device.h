/* Devices on the bus and the discovery interface that reports and opens them. */
#ifndef CMBOOT_DEVICE_H
#define CMBOOT_DEVICE_H

#include <stddef.h>
#include <stdint.h>
#include "cmboot/export.h"
#include "cmboot/soc.h"
#include "cmboot/transport.h"

#ifdef __cplusplus
extern "C" {
#endif

#define CMBOOT_PORT_PATH_MAX 32 /* "BUS-P1.P2....P7" */
#define CMBOOT_SERIAL_MAX 64
#define CMBOOT_SYSPATH_MAX 256

typedef struct cmboot_device_info {
    uint16_t vid;
    uint16_t pid;
    uint8_t serial_index; /* iSerialNumber index: tells the stage */
    uint8_t num_interfaces;
    uint8_t busnum;
    uint8_t devnum;
    cmboot_stage stage;
    const cmboot_soc_info *soc;           /* NULL for mass storage or unknown */
    char port_path[CMBOOT_PORT_PATH_MAX]; /* stable across re-enumeration */
    char serial[CMBOOT_SERIAL_MAX];       /* string at serial_index, "" if none */
    char syspath[CMBOOT_SYSPATH_MAX];     /* backend-specific locator (sysfs dir, ...) */
} cmboot_device_info;

typedef enum cmboot_device_event_type { CMBOOT_DEVICE_ADDED = 1, CMBOOT_DEVICE_REMOVED = 2 } cmboot_device_event_type;

typedef struct cmboot_device_event {
    cmboot_device_event_type type;
    cmboot_device_info dev;
} cmboot_device_event;

/* A source of device events. Devices present at start are reported as ADDED first. */
/* A vtable: the implementer sets .struct_size = sizeof(cmboot_discovery_ops) (docs/abi.md). */
typedef struct cmboot_discovery_ops {
    size_t struct_size;
    /* Waits for the next event until deadline_ms (cmboot_now_ms clock); CMBOOT_ERR_TIMEOUT at the deadline,
     * CMBOOT_ERR_CANCELLED after wakeup(). Called from one thread only. */
    int (*next_event)(void *self, cmboot_device_event *ev, int64_t deadline_ms);
    /* Opens the device's vendor interface as a transport. Thread-safe. */
    int (*open)(void *self, const cmboot_device_info *dev, cmboot_transport *out);
    /* Thread-safe: makes a waiting next_event return CMBOOT_ERR_CANCELLED. */
    void (*wakeup)(void *self);
    void (*destroy)(void *self);
    const char *name; /* "sysfs", "libusb", "sim" */
} cmboot_discovery_ops;

typedef struct cmboot_discovery {
    const cmboot_discovery_ops *ops;
    void *self;
} cmboot_discovery;

/* Monotonic clock in milliseconds, the clock of every deadline in the API. */
CMBOOT_API int64_t cmboot_now_ms(void);

/* Port path from bus number and port chain: "1-1.3". Returns CMBOOT_ERR_TOO_LARGE if it does not fit. */
CMBOOT_API int cmboot_port_path_format(char *out, size_t size, uint8_t bus, const uint8_t *ports, int depth);
/* Last port number of a port path ("1-1.3" -> 3); -1 when malformed. */
CMBOOT_API int cmboot_port_path_last_port(const char *port_path);
/* Whether a port path is well formed (BUS-P[.P]*). */
CMBOOT_API int cmboot_port_path_valid(const char *port_path);
/* Natural order of port paths, for listing boards as they sit on the hubs: numbers compare by value
 * ("1-1.2" < "1-1.10", "2-1" < "10-1"), anything else byte by byte. strcmp-like result; never NULL. */
CMBOOT_API int cmboot_port_path_compare(const char *a, const char *b);

#ifdef __cplusplus
}
#endif
#endif
