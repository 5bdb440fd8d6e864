/* Internal: reading and initialising the caller-allocated structs that carry struct_size (docs/abi.md). */
#ifndef CMB_CORE_ABI_H
#define CMB_CORE_ABI_H

#include <stddef.h>

/* Bytes of type up to and including member: a release's size of a struct, fixed when members are appended. */
#define CMB_SIZE_THROUGH(type, member) (offsetof(type, member) + sizeof(((type *)0)->member))

/* Whether the caller's struct p (with struct_size first) holds member: members past its size take defaults. */
#define CMB_HAS(p, type, member) ((p)->struct_size >= CMB_SIZE_THROUGH(type, member))

/* Reads a caller's struct into dst, which holds the library's defaults (known = sizeof *dst): the caller's
 * first struct_size bytes replace them, the rest keep their defaults, and dst's struct_size becomes known.
 * CMBOOT_ERR_INVALID_ARG when src is NULL or its struct_size is below min (the first release's size);
 * CMBOOT_ERR_UNSUPPORTED when it is larger than known and a byte past known is not zero (a newer caller set
 * a member this library does not have). */
int cmb_struct_load(void *dst, size_t known, const void *src, size_t min);

/* The other way, for the *_init functions: writes the defaults (known bytes) into the caller's struct of
 * struct_size bytes, zero past known, and sets its struct_size. CMBOOT_ERR_INVALID_ARG when dst is NULL or
 * struct_size is below min (nothing written). */
int cmb_struct_init(void *dst, size_t struct_size, const void *defaults, size_t known, size_t min);

/* A caller's struct_size (first member), 0 for NULL. */
size_t cmb_struct_size(const void *p);

#endif
