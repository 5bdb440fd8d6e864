/* Internal: which shared libraries an ELF file asks for (DT_NEEDED), to tell how libusb was built. */
#ifndef CMB_DOCTOR_ELF_NEEDED_H
#define CMB_DOCTOR_ELF_NEEDED_H

#include <stdbool.h>

/* Sets *found when one DT_NEEDED entry of the ELF file at path starts with prefix ("libudev").
 * CMBOOT_ERR_NOT_FOUND when the file is missing, CMBOOT_ERR_FORMAT when it is not an ELF of this host's
 * byte order or is malformed, CMBOOT_ERR_TOO_LARGE beyond 256 MiB. */
int cmb_elf_needs(const char *path, const char *prefix, bool *found);

#endif
