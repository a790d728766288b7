/*
 * storeopts.h - the store options that 'check' and 'clean' share:
 * --store, --scope, --record, --expire-after.  A command lists
 * MV_STORE_LONG_OPTS in its getopt_long() table, hands unknown options to
 * mv_store_opts_parse(), opens the store before its context (the context
 * borrows it through vl_options.store) and closes it after.
 */
#ifndef MV_STOREOPTS_H
#define MV_STOREOPTS_H

#include <getopt.h>
#include <stdbool.h>
#include <stdio.h>

#include "validate.h"

/* getopt_long() values: above the pipeline's and every command's own. */
enum { MV_OPT_STORE = 0x400, MV_OPT_SCOPE, MV_OPT_RECORD, MV_OPT_EXPIRE };

#define MV_STORE_LONG_OPTS                                                    \
    {"store", required_argument, NULL, MV_OPT_STORE},                         \
        {"scope", required_argument, NULL, MV_OPT_SCOPE},                     \
        {"record", no_argument, NULL, MV_OPT_RECORD},                         \
    {                                                                         \
        "expire-after", required_argument, NULL, MV_OPT_EXPIRE                \
    }

typedef struct mv_store_opts {
    const char *where; /* --store; "default" for the default path */
    const char *scope;
    bool record;
    vl_store_config cfg;
    vl_store *store; /* owned once opened */
    size_t n_recorded;
} mv_store_opts;

void mv_store_opts_init(mv_store_opts *o);
/* 1 when 'c' was a store option, 0 when not, -1 on a bad value. */
int mv_store_opts_parse(mv_store_opts *o, int c, const char *arg);
/* After parsing: -1 (said on stderr) when an option needs --store. */
int mv_store_opts_check(const mv_store_opts *o);
/* Open the store, if asked, and lend it to 'lib'; -1 when it fails.
 * A store that cannot be reached yet (VL_ETEMP) opens anyway, said on
 * stderr: its lookups are store_unavailable until it answers. */
int mv_store_opts_open(mv_store_opts *o, vl_options *lib);
/* With --record, write a check's permanent undeliverable verdict (never
 * a temporary one); -1 (said on stderr) when the store fails. */
int mv_store_opts_record(mv_store_opts *o, const vl_result *res);
/* Close the store (after the context); tell how many were recorded. */
void mv_store_opts_close(mv_store_opts *o, bool quiet);
void mv_store_opts_usage(FILE *out);

#endif
