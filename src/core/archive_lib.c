/* libarchive's functions as a table: dlopen()ed on first use, or the linked ones in a static build. */
#include "core/archive_lib.h"

#include <stdio.h>
#include <string.h>

#include "cmboot/error.h"

#ifndef CMB_ARCHIVE_LINKED
#include <dlfcn.h>

/* dlsym gives a void *; its bits are the function's address on every POSIX system. */
static void *ar_sym(void *dl, const char *name, const char **missing)
{
    void *f = dlsym(dl, name);
    if (!f && !*missing)
        *missing = name;
    return f;
}

/* sizeof's operand is not evaluated (no reference to the symbol is made) but its assignment is type-checked:
 * a field whose type differs from libarchive's declaration does not compile. */
#define CMB_AR_BIND(field, sym)                                                                                        \
    do {                                                                                                               \
        (void)sizeof(lib->field = sym);                                                                                \
        memcpy(&lib->field, &(void *){ar_sym(dl, #sym, &missing)}, sizeof lib->field);                                 \
    } while (0)
#else
#define CMB_AR_BIND(field, sym) (lib->field = sym)
#endif

int cmb_archive_lib_load_from(cmb_archive_lib *lib, const char *soname, char *why, size_t why_size)
{
    memset(lib, 0, sizeof *lib);
    if (why && why_size)
        why[0] = 0;
#ifndef CMB_ARCHIVE_LINKED
    /* Never unloaded (NODELETE): libxml2 and ICU, which it brings, leave exit handlers. */
    void *dl = dlopen(soname, RTLD_NOW | RTLD_LOCAL | RTLD_NODELETE);
    if (!dl) {
        const char *e = dlerror();
        if (why && why_size)
            snprintf(why, why_size, "this needs libarchive, which could not be loaded (%s): install it (Debian: %s)",
                     e ? e : soname, CMB_ARCHIVE_PACKAGE);
        return CMBOOT_ERR_UNSUPPORTED;
    }
    const char *missing = NULL;
#else
    (void)soname;
#endif
    CMB_AR_BIND(read_new, archive_read_new);
    CMB_AR_BIND(read_free, archive_read_free);
    CMB_AR_BIND(read_support_filter_all, archive_read_support_filter_all);
    CMB_AR_BIND(read_support_filter_xz, archive_read_support_filter_xz);
    CMB_AR_BIND(read_support_filter_zstd, archive_read_support_filter_zstd);
    CMB_AR_BIND(read_support_filter_bzip2, archive_read_support_filter_bzip2);
    CMB_AR_BIND(read_support_format_raw, archive_read_support_format_raw);
    CMB_AR_BIND(read_support_format_zip, archive_read_support_format_zip);
    CMB_AR_BIND(read_support_format_tar, archive_read_support_format_tar);
    CMB_AR_BIND(read_support_format_gnutar, archive_read_support_format_gnutar);
    CMB_AR_BIND(read_set_callback_data, archive_read_set_callback_data);
    CMB_AR_BIND(read_set_read_callback, archive_read_set_read_callback);
    CMB_AR_BIND(read_set_skip_callback, archive_read_set_skip_callback);
    CMB_AR_BIND(read_set_seek_callback, archive_read_set_seek_callback);
    CMB_AR_BIND(read_open1, archive_read_open1);
    CMB_AR_BIND(read_open_filename, archive_read_open_filename);
    CMB_AR_BIND(read_open_fd, archive_read_open_fd);
    CMB_AR_BIND(read_next_header, archive_read_next_header);
    CMB_AR_BIND(read_data, archive_read_data);
    CMB_AR_BIND(error_string, archive_error_string);
    CMB_AR_BIND(set_error, archive_set_error);
    CMB_AR_BIND(format, archive_format);
    CMB_AR_BIND(filter_code, archive_filter_code);
    CMB_AR_BIND(format_name, archive_format_name);
    CMB_AR_BIND(entry_pathname, archive_entry_pathname);
    CMB_AR_BIND(entry_filetype, archive_entry_filetype);
    CMB_AR_BIND(entry_size, archive_entry_size);
    CMB_AR_BIND(entry_size_is_set, archive_entry_size_is_set);
#ifndef CMB_ARCHIVE_LINKED
    if (missing) {
        if (why && why_size)
            snprintf(why, why_size, "the libarchive loaded (%s) has no %s: a newer one is needed", soname, missing);
        dlclose(dl);
        memset(lib, 0, sizeof *lib);
        return CMBOOT_ERR_UNSUPPORTED;
    }
    lib->dl = dl;
#endif
    lib->loaded = 1;
    return CMBOOT_OK;
}

int cmb_archive_lib_load(cmb_archive_lib *lib, char *why, size_t why_size)
{
    return cmb_archive_lib_load_from(lib, CMB_ARCHIVE_SONAME, why, why_size);
}

void cmb_archive_lib_unload(cmb_archive_lib *lib)
{
    if (!lib || !lib->loaded)
        return;
#ifndef CMB_ARCHIVE_LINKED
    if (lib->dl)
        dlclose(lib->dl);
#endif
    memset(lib, 0, sizeof *lib);
}
