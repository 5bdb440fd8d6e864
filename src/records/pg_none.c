/* PostgreSQL in a build without libpq (CMBOOT_POSTGRESQL off): a postgresql:// location is unsupported. */
#include "records_internal.h"

#include "cmboot/error.h"

#ifndef CMB_HAVE_LIBPQ

const bool cmb_rec_pg_built = false;

int cmb_rec_pg_load(cmboot_records *r, const char *soname)
{
    (void)soname;
    return cmb_rec_pg_available(r);
}

int cmb_rec_pg_available(cmboot_records *r)
{
    cmb_rec_log(r, CMBOOT_LOG_ERROR,
                "records: a postgresql:// location needs libpq: this cmboot was built without PostgreSQL support "
                "(CMBOOT_POSTGRESQL)");
    return CMBOOT_ERR_UNSUPPORTED;
}

int cmb_rec_pg_connect(cmboot_records *r)
{
    (void)r;
    return CMBOOT_ERR_UNSUPPORTED;
}

int cmb_rec_pg_send_outbox(cmboot_records *r, unsigned *pending)
{
    (void)r;
    if (pending)
        *pending = 0;
    return CMBOOT_ERR_UNSUPPORTED;
}

int cmb_rec_pg_query(cmboot_records *r, const char *sql, const char *const *params, int nparams, PGresult **out)
{
    (void)r;
    (void)sql;
    (void)params;
    (void)nparams;
    *out = NULL;
    return CMBOOT_ERR_UNSUPPORTED;
}

int cmb_rec_pg_start(cmboot_records *r)
{
    (void)r;
    return CMBOOT_ERR_UNSUPPORTED;
}

void cmb_rec_pg_stop(cmboot_records *r)
{
    r->background = false;
}

void cmb_rec_pg_finish(cmboot_records *r)
{
    r->pg = NULL;
}

int cmb_rec_pg_rows(const cmboot_records *r, const PGresult *res)
{
    (void)r;
    (void)res;
    return 0;
}

int cmb_rec_pg_isnull(const cmboot_records *r, const PGresult *res, int row, int col)
{
    (void)r;
    (void)res;
    (void)row;
    (void)col;
    return 1;
}

const char *cmb_rec_pg_value(const cmboot_records *r, const PGresult *res, int row, int col)
{
    (void)r;
    (void)res;
    (void)row;
    (void)col;
    return "";
}

void cmb_rec_pg_clear(const cmboot_records *r, PGresult *res)
{
    (void)r;
    (void)res;
}

#endif
