/* Internal: the libusb implementation of cmboot_transport, shared by both discovery backends. */
#ifndef CMB_USB_TRANSPORT_LIBUSB_H
#define CMB_USB_TRANSPORT_LIBUSB_H

#include <libusb.h>
#include "cmboot/transport.h"

/* Takes ownership of `handle`: claims the vendor interface chosen by num_interfaces (protocol.md section 1),
 * detaching a kernel driver if one holds it. On failure the handle is closed. `owned_ctx`, when not NULL,
 * is a libusb context made for this device alone and is exited on close (used with libusb_wrap_sys_device);
 * `owned_fd` >= 0 is closed on close. */
int cmb_libusb_transport_new(libusb_device_handle *handle, uint8_t num_interfaces, const cmboot_bulk_tuning *tuning,
                             libusb_context *owned_ctx, int owned_fd, cmboot_transport *out);

/* Same, for a handle of a context shared with other devices (not exited on close). */
int cmb_libusb_transport_new_shared(libusb_device_handle *handle, libusb_context *ctx, uint8_t num_interfaces,
                                    const cmboot_bulk_tuning *tuning, cmboot_transport *out);

/* A transport that claims no interface (a hub, whose kernel driver must stay bound): only control transfers to
 * the device and its ports. Ownership as cmb_libusb_transport_new. */
int cmb_libusb_transport_new_unclaimed(libusb_device_handle *handle, libusb_context *owned_ctx, int owned_fd,
                                       cmboot_transport *out);

/* A libusb context that never scans the bus (for devices opened by fd). */
int cmb_libusb_ctx_no_discovery(libusb_context **out);

/* libusb error -> cmboot_error. */
int cmb_error_from_libusb(int err);

#endif
