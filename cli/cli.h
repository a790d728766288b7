/*
 * cli.h - the mailvet program's commands.  Each takes the arguments
 * after its name (argv[0] is the command name) and returns the exit
 * status.  The commands use only the public libvalidate API.
 */
#ifndef MV_CLI_H
#define MV_CLI_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "validate.h"

/* Exit statuses shared by all commands (README.md "Exit status"). */
enum {
    MV_EXIT_OK = 0,            /* every address deliverable or risky */
    MV_EXIT_UNDELIVERABLE = 1, /* at least one undeliverable */
    MV_EXIT_USAGE = 2,         /* usage or system error */
    MV_EXIT_UNKNOWN = 3        /* none undeliverable, some unknown */
};

int mv_cmd_check(int argc, char **argv);
void mv_check_usage(FILE *out);
int mv_cmd_serve(int argc, char **argv);
void mv_serve_usage(FILE *out);

int mv_cmd_store(int argc, char **argv);
void mv_store_usage(FILE *out);
/* Open a store (NULL 'where': the default path); prints why not. */
vl_store *mv_store_open(const char *where, const vl_store_config *cfg);
/* One entry as a JSON object, no newline: the fields of "store show
 * --json" (also the answers of serve's store routes). */
void mv_store_entry_json(vl_store *st, const vl_store_entry *e, FILE *f);
/* "store ingest-dsn" (ingest.c). */
int mv_ingest_dsn(vl_store *st, const char *scope, bool verbose, int argc,
                  char **argv);
/* "365d", "12w", "48h", "90m", "3600s" (a bare number: days). */
int mv_parse_duration(const char *s, int64_t *out);
/* ISO 8601 date or date-time, UTC unless a zone is given. */
int mv_parse_time(const char *s, int64_t *out);

int mv_cmd_clean(int argc, char **argv);
void mv_clean_usage(FILE *out);

#endif
