/* Internal: libarchive through a table of the functions cmboot calls, loaded (dlopen) by the first user that
 * needs it: raw, gzip and xz images never do, and so never map libarchive and its XML, ICU and C++ runtime. */
#ifndef CMB_CORE_ARCHIVE_LIB_H
#define CMB_CORE_ARCHIVE_LIB_H

#include <archive.h>
#include <archive_entry.h>
#include <stddef.h>

/* The library loaded, and its Debian package (for messages). */
#define CMB_ARCHIVE_SONAME "libarchive.so.13"
#define CMB_ARCHIVE_PACKAGE "libarchive13"

typedef struct cmb_archive_lib {
    void *dl; /* dlopen handle; NULL when not loaded (or linked statically: CMB_ARCHIVE_LINKED) */
    int loaded;
    struct archive *(*read_new)(void);
    int (*read_free)(struct archive *);
    int (*read_support_filter_all)(struct archive *);
    int (*read_support_filter_xz)(struct archive *);
    int (*read_support_filter_zstd)(struct archive *);
    int (*read_support_filter_bzip2)(struct archive *);
    int (*read_support_format_raw)(struct archive *);
    int (*read_support_format_zip)(struct archive *);
    int (*read_support_format_tar)(struct archive *);
    int (*read_support_format_gnutar)(struct archive *);
    int (*read_set_callback_data)(struct archive *, void *);
    int (*read_set_read_callback)(struct archive *, archive_read_callback *);
    int (*read_set_skip_callback)(struct archive *, archive_skip_callback *);
    int (*read_set_seek_callback)(struct archive *, archive_seek_callback *);
    int (*read_open1)(struct archive *);
    int (*read_open_filename)(struct archive *, const char *, size_t);
    int (*read_open_fd)(struct archive *, int, size_t);
    int (*read_next_header)(struct archive *, struct archive_entry **);
    la_ssize_t (*read_data)(struct archive *, void *, size_t);
    const char *(*error_string)(struct archive *);
    void (*set_error)(struct archive *, int, const char *, ...);
    int (*format)(struct archive *);
    int (*filter_code)(struct archive *, int);
    const char *(*format_name)(struct archive *);
    const char *(*entry_pathname)(struct archive_entry *);
    __LA_MODE_T (*entry_filetype)(struct archive_entry *);
    la_int64_t (*entry_size)(struct archive_entry *);
    int (*entry_size_is_set)(struct archive_entry *);
} cmb_archive_lib;

/* Fills lib (dlopen is refcounted: each user holds its own table and reference). CMBOOT_OK, or
 * CMBOOT_ERR_UNSUPPORTED with why (if given) saying what is missing and which package to install. */
int cmb_archive_lib_load(cmb_archive_lib *lib, char *why, size_t why_size);
/* Drops the reference taken by cmb_archive_lib_load; a table never loaded (zeroed) is fine. */
void cmb_archive_lib_unload(cmb_archive_lib *lib);
/* Test hook: the same with another file name (a missing library). */
int cmb_archive_lib_load_from(cmb_archive_lib *lib, const char *soname, char *why, size_t why_size);

#endif
