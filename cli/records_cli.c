/* Opening the records store for a command and recording each finished flash job in it. */
#include "records_cli.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cmboot/error.h"

static void records_log(void *user, const char *device_id, cmboot_log_level level, const char *msg)
{
    (void)user;
    (void)device_id;
    if (level <= CMBOOT_LOG_WARN)
        fprintf(stderr, "cmboot: %s\n", msg);
}

int cli_records_open(const char *prog, const char *loc, cmboot_records **out)
{
    *out = NULL;
    if (loc && strcmp(loc, "off") == 0)
        return CMBOOT_OK;
    cmboot_records_config cfg;
    cmboot_records_config_default(&cfg);
    cfg.location = loc;
    cfg.log = records_log;
    int rc = cmboot_records_open(&cfg, out);
    if (rc != CMBOOT_OK) {
        char path[4096] = "";
        if (!loc)
            (void)cmboot_records_default_path(path, sizeof path);
        fprintf(stderr, "%s: RECORDS: cannot open the records store %s: %s\n", prog, loc ? loc : path,
                cmboot_strerror(rc));
    }
    return rc;
}

const char *cli_records_station(const char *given, char *buf, size_t size)
{
    if (given)
        return given;
    if (gethostname(buf, size) != 0 || !buf[0])
        snprintf(buf, size, "unknown");
    buf[size - 1] = 0;
    return buf;
}

void cli_records_job(cmboot_records *r, const char *station, const char *image, const cmboot_flash_job *job,
                     const char *report_text)
{
    const cmboot_board_result *b = cmboot_flash_job_board(job);
    if (!r || !b)
        return;
    cmboot_record rec;
    cmboot_record_default(&rec);
    cmboot_record_holder *h = NULL;
    char *full = NULL;
    if (cmboot_flash_job_report_json(job, &full) != CMBOOT_OK || cmboot_record_from_report(full, &rec, &h) != 0) {
        /* Failed before the write: what the job knows. */
        int err = cmboot_flash_job_error(job);
        rec.image = image;
        rec.result = err == CMBOOT_OK ? "ok" : cmboot_error_name(err);
        rec.error = err == CMBOOT_OK                  ? NULL
                    : cmboot_flash_job_reason(job)[0] ? cmboot_flash_job_reason(job)
                                                      : cmboot_strerror(err);
        rec.boot_ms = cmboot_flash_job_boot_ms(job);
        rec.pair_ms = cmboot_flash_job_pair_ms(job);
    }
    rec.station = station;
    rec.port_path = b->port_path;
    if (b->serial[0])
        rec.serial = b->serial;
    if (b->soc)
        rec.soc = b->soc->name;
    char *md = NULL;
    if (!rec.metadata_json && cmboot_metadata_to_json(cmboot_flash_job_metadata(job), &md) == CMBOOT_OK)
        rec.metadata_json = md;
    if (report_text)
        rec.report_json = report_text; /* with what board control added */
    char id[CMBOOT_RECORD_ID_SIZE];
    int rc = cmboot_records_add(r, &rec, id);
    if (rc != CMBOOT_OK)
        fprintf(stderr, "cmboot: [%s] RECORDS: this board's attempt was NOT recorded: %s\n", b->port_path,
                cmboot_strerror(rc));
    free(md);
    cmboot_record_holder_free(h);
    free(full);
}
