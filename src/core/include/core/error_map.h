/* Internal: the one translation of errno into cmboot_error; a call site that maps differently says why. */
#ifndef CMB_CORE_ERROR_MAP_H
#define CMB_CORE_ERROR_MAP_H

/* ENOENT/ENOTDIR -> NOT_FOUND, EACCES/EPERM -> ACCESS, ENOMEM -> NO_MEMORY, EBUSY -> BUSY,
 * ENODEV/ENXIO -> NO_DEVICE, anything else -> IO. ENOSPC stays IO here: NO_SPACE means "target smaller
 * than the image", which only the flash writer can say. */
int cmb_error_from_errno(int e);

#endif
