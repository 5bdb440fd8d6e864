/* Internal: opening a USB hub by its port path for hub class requests (board control's port power). */
#ifndef CMB_USB_HUB_H
#define CMB_USB_HUB_H

#include "cmboot/transport.h"

/* Finds the hub `port_path` ("1-1.2") under <sys_root>/bus/usb/devices, checks that it is a hub (class 9) and
 * opens its usbfs node under dev_root without claiming an interface (the kernel's hub driver stays bound).
 * The transport offers ops->control. CMBOOT_ERR_NOT_FOUND (no such device), _INVALID_ARG (not a hub),
 * _ACCESS (no permission on the node), _NO_MEMORY, _IO. */
int cmb_usb_hub_open(const char *sys_root, const char *dev_root, const char *port_path, cmboot_transport *out);

#endif
