/* Internal: one translation of errno into cmboot_error for the library's file and device opens. */
#ifndef CMBOOT_SRC_ERROR_INTERNAL_H
#define CMBOOT_SRC_ERROR_INTERNAL_H

/* ENOENT/ENOTDIR -> NOT_FOUND, EACCES/EPERM -> ACCESS, ENOMEM -> NO_MEMORY, anything else -> IO. */
int cmboot_error_from_errno(int e);

#endif
