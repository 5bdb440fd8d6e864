/* Symbol visibility: only what carries CMBOOT_API leaves the shared library. */
#ifndef CMBOOT_EXPORT_H
#define CMBOOT_EXPORT_H
#if defined(__GNUC__)
#define CMBOOT_API __attribute__((visibility("default")))
#else
#define CMBOOT_API
#endif
#endif
