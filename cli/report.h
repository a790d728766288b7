/*
 * report.h - what "mailvet clean" tells at the end: counts by verdict
 * and reason, domains, duplicates, DNS queries, speed, and the expected
 * bounce rate before and after cleaning; as JSON (--report), as a short
 * text on stderr, and as one HTML page (--report-html, report_html.c).
 *
 * Expected bounce rate: the share of rows expected to hard-bounce if
 * the list were sent, counting each undeliverable or malformed row as
 * 1, each unknown row as MV_BOUNCE_UNKNOWN and each risky row as
 * MV_BOUNCE_RISKY (deliverable rows as 0); "before" over every row read,
 * "after" over the kept rows.  The weights are an estimate, documented
 * in README.md: unknown means the check could not finish (most such
 * domains work on a retry), risky covers disposable, role and typo
 * addresses, some of which bounce.
 */
#ifndef MV_REPORT_H
#define MV_REPORT_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "csv.h"
#include "domains.h"
#include "validate.h"

#define MV_BOUNCE_UNKNOWN 0.10
#define MV_BOUNCE_RISKY 0.05

enum { MV_CSV_PROBLEMS = MV_CSV_TOO_LONG + 1, MV_TOP_DOMAINS = 20 };

typedef struct mv_report {
    uint64_t rows, kept, dropped, duplicates, malformed;
    uint64_t verdict[VL_UNDELIVERABLE + 1]; /* rows checked */
    uint64_t kept_verdict[VL_UNDELIVERABLE + 1];
    uint64_t dropped_verdict[VL_UNDELIVERABLE + 1];
    uint64_t dropped_reason[VL_R__COUNT];
    uint64_t problem[MV_CSV_PROBLEMS];
    uint64_t dns_queries;
    uint64_t smtp_connections, smtp_rcpts; /* the probe's, with --smtp */
    bool smtp, smtp_port_blocked;
    double seconds;
    bool offline;
    const char *input, *out, *rejects; /* borrowed paths */
    mv_domains *domains;
} mv_report;

int mv_report_init(mv_report *r);
void mv_report_free(mv_report *r);

/* Count one row: 'res' NULL for a malformed one ('problem').
 * 'domain_hash' is mv_domains_hash() of its A-label domain, or all
 * zero to have it computed here. */
int mv_report_row(mv_report *r, mv_csv_problem problem, const vl_result *res,
                  bool kept, bool duplicate, mv_hash128 domain_hash);

double mv_report_bounce_before(const mv_report *r);
double mv_report_bounce_after(const mv_report *r);

int mv_report_json(const mv_report *r, FILE *f);
void mv_report_human(const mv_report *r, FILE *f);
int mv_report_html(const mv_report *r, FILE *f);

/* "1,234,567" into 'buf' (at least 32 bytes); returns buf. */
const char *mv_group(uint64_t n, char *buf);

#endif
