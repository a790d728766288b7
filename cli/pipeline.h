/*
 * pipeline.h - the options every command that checks addresses takes
 * (`check`, `serve`): offline or which resolver, DNS knobs, cache TTLs,
 * provider rules, spoof check and extra table files.  A command lists
 * MV_PIPELINE_LONG_OPTS in its getopt_long() table and hands each option
 * it does not know to mv_pipeline_option().
 */
#ifndef MV_PIPELINE_H
#define MV_PIPELINE_H

#include <getopt.h>
#include <stdbool.h>
#include <stdio.h>

#include "validate.h"

enum {
    MV_OPT_OFFLINE = 256,
    MV_OPT_EXPLAIN,
    MV_OPT_RESOLVER,
    MV_OPT_DNS_TIMEOUT,
    MV_OPT_DNS_TRIES,
    MV_OPT_CONCURRENCY,
    MV_OPT_TTL_MIN,
    MV_OPT_TTL_MAX,
    MV_OPT_NO_PROVIDER,
    MV_OPT_NO_SPOOF,
    MV_OPT_DISPOSABLE,
    MV_OPT_FREE,
    MV_OPT_ROLE,
    MV_OPT_TYPO,
    MV_OPT__PIPELINE_END /* a command's own options start here */
};

#define MV_PIPELINE_LONG_OPTS                                                 \
    {"offline", no_argument, NULL, MV_OPT_OFFLINE},                           \
        {"explain", no_argument, NULL, MV_OPT_EXPLAIN},                       \
        {"resolver", required_argument, NULL, MV_OPT_RESOLVER},               \
        {"dns-timeout", required_argument, NULL, MV_OPT_DNS_TIMEOUT},         \
        {"dns-tries", required_argument, NULL, MV_OPT_DNS_TRIES},             \
        {"concurrency", required_argument, NULL, MV_OPT_CONCURRENCY},         \
        {"cache-ttl-min", required_argument, NULL, MV_OPT_TTL_MIN},           \
        {"cache-ttl-max", required_argument, NULL, MV_OPT_TTL_MAX},           \
        {"no-provider-rules", no_argument, NULL, MV_OPT_NO_PROVIDER},         \
        {"no-spoof-check", no_argument, NULL, MV_OPT_NO_SPOOF},               \
        {"disposable-file", required_argument, NULL, MV_OPT_DISPOSABLE},      \
        {"free-file", required_argument, NULL, MV_OPT_FREE},                  \
        {"role-file", required_argument, NULL, MV_OPT_ROLE},                  \
    {                                                                         \
        "typo-file", required_argument, NULL, MV_OPT_TYPO                     \
    }

typedef struct mv_pipeline {
    vl_options lib;  /* lib.resolvers points into 'resolvers' */
    bool explain;    /* --explain: VL_JSON_EXPLAIN in the output */
    char *resolvers; /* owned: the --resolver values joined by commas */
} mv_pipeline;

/* Library defaults; no resolver list. */
void mv_pipeline_init(mv_pipeline *p);
/* Apply getopt_long()'s 'c' (with 'arg'): 1 when it was a pipeline
 * option, 0 when it is none, -1 (after a message on stderr) when its
 * value is bad. */
int mv_pipeline_option(mv_pipeline *p, int c, const char *arg);
void mv_pipeline_free(mv_pipeline *p);
/* How many addresses a batch command keeps in flight: enough to keep
 * every query slot busy, few enough that an address never waits long in
 * the queue (its deadline runs from when it is handed over). */
size_t mv_pipeline_window(const mv_pipeline *p);
/* The help lines of the pipeline options. */
void mv_pipeline_usage(FILE *out);

/* A decimal number up to 100,000,000; -1 and a message naming 'what'
 * otherwise. */
int mv_parse_uint(const char *s, const char *what, unsigned *out);

#endif
