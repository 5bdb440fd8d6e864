/* The CLI's side of the records store: opening it from --records, recording a finished flash job. */
#ifndef CMBOOT_CLI_RECORDS_CLI_H
#define CMBOOT_CLI_RECORDS_CLI_H

#include "cmboot/flash.h"
#include "cmboot/records.h"

/* Opens loc (NULL = the default path; "off" = *out NULL and 0). Failure: a loud line on stderr, *out NULL and
 * the error (flash goes on without records; `records` exits). */
int cli_records_open(const char *prog, const char *loc, cmboot_records **out);
/* Records a finished board attempt (nothing when no board booted far enough to be known). report_text: the
 * board's JSON report when there is one (NULL: built from the job). Never fails the board: a record that
 * cannot be stored is said loudly on stderr. Thread-safe. */
void cli_records_job(cmboot_records *r, const char *station, const char *image, const cmboot_flash_job *job,
                     const char *report_text);
/* The station id: given, else the host name. */
const char *cli_records_station(const char *given, char *buf, size_t size);

#endif
