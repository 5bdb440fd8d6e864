/* Transport interface: the only way protocol code reaches a device (libusb, emulator, fuzzer). */
#ifndef CMBOOT_TRANSPORT_H
#define CMBOOT_TRANSPORT_H

#include <stddef.h>
#include <stdint.h>
#include "cmboot/export.h"

#ifdef __cplusplus
extern "C" {
#endif

/* All calls return CMBOOT_OK or a negative cmboot_error. Timeouts are in milliseconds. One thread uses a transport
 * at a time (a board's worker); only cancel() may be called from another thread, concurrently with any call.
 * After close() the transport must not be used; buffers passed in stay the caller's. */
/* A vtable: the implementer sets .struct_size = sizeof(cmboot_transport_ops) (docs/abi.md); members past a
 * smaller struct_size count as NULL. */
typedef struct cmboot_transport_ops {
    size_t struct_size;
    /* Vendor control OUT to the device: bmRequestType 0x40, bRequest 0, no data stage. */
    int (*control_out)(void *self, uint16_t wValue, uint16_t wIndex, unsigned timeout_ms);
    /* Vendor control IN: bmRequestType 0xC0, bRequest 0, wLength = len. *actual gets what arrived. */
    int (*control_in)(void *self, uint16_t wValue, uint16_t wIndex, void *buf, size_t len, size_t *actual,
                      unsigned timeout_ms);
    /* Bulk OUT of len bytes on the vendor OUT endpoint; may split and pipeline internally. *actual is the
     * number of leading bytes of buf the device took, also when an error is returned (bytes that went out
     * after a failed piece do not count): the caller resends from there. */
    int (*bulk_out)(void *self, const void *buf, size_t len, size_t *actual, unsigned timeout_ms);
    /* Thread-safe: makes the call in progress and every later call return CMBOOT_ERR_CANCELLED. */
    void (*cancel)(void *self);
    /* Releases the device. */
    void (*close)(void *self);
    /* Optional (NULL = unsupported): CLEAR_FEATURE(ENDPOINT_HALT) on the bulk OUT endpoint after a failed
     * bulk_out, so the data can be resent. */
    int (*clear_halt)(void *self);
    /* Optional (NULL = unsupported): any control transfer to the device, e.g. hub class requests (board control).
     * IN when bit 7 of request_type is set (up to len bytes into buf, *actual = what arrived), OUT otherwise
     * (len bytes from buf; len 0 = no data stage). */
    int (*control)(void *self, uint8_t request_type, uint8_t request, uint16_t wValue, uint16_t wIndex, void *buf,
                   size_t len, size_t *actual, unsigned timeout_ms);
    /* Optional (NULL = unsupported): bulk IN on the device's bulk IN endpoint; *actual = bytes received (a short packet
     * ends the transfer). */
    int (*bulk_in)(void *self, void *buf, size_t len, size_t *actual, unsigned timeout_ms);
} cmboot_transport_ops;

typedef struct cmboot_transport {
    const cmboot_transport_ops *ops;
    void *self;
} cmboot_transport;

/* Tuning for transports that can pipeline bulk data. */
typedef struct cmboot_bulk_tuning {
    size_t struct_size; /* set by cmboot_bulk_tuning_default() */
    size_t piece_size;  /* bytes per USB transfer (reference: 16 KiB); 0 = built-in */
    unsigned in_flight; /* transfers submitted at once; 0 = built-in */
} cmboot_bulk_tuning;

/* Defaults (0 = built-in) into the caller's struct of struct_size bytes (session.h says how struct_size works).
 * Use cmboot_bulk_tuning_default(). */
CMBOOT_API int cmboot_bulk_tuning_init(cmboot_bulk_tuning *tuning, size_t struct_size);
static inline void cmboot_bulk_tuning_default(cmboot_bulk_tuning *tuning)
{
    (void)cmboot_bulk_tuning_init(tuning, sizeof *tuning);
}

#ifdef __cplusplus
}
#endif
#endif
