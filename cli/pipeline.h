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
    MV_OPT_SMTP,
    MV_OPT_SMTP_LOOPBACK,
    MV_OPT_SMTP_PORT,
    MV_OPT_SMTP_TLS,
    MV_OPT_SMTP_FROM,
    MV_OPT_SMTP_HELO,
    MV_OPT_SMTP_SOURCE,
    MV_OPT_SMTP_TIMEOUT,
    MV_OPT_SMTP_CONNECT_TIMEOUT,
    MV_OPT_SMTP_PER_CONN,
    MV_OPT_SMTP_PER_HOST,
    MV_OPT_SMTP_RATE,
    MV_OPT_SMTP_PROVIDERS,
    MV_OPT_RETRY_GREYLISTED,
    MV_OPT_GREYLIST_WAIT,
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
        {"typo-file", required_argument, NULL, MV_OPT_TYPO},                  \
        {"smtp", no_argument, NULL, MV_OPT_SMTP},                             \
        {"smtp-allow-loopback", no_argument, NULL, MV_OPT_SMTP_LOOPBACK},     \
        {"smtp-port", required_argument, NULL, MV_OPT_SMTP_PORT},             \
        {"smtp-tls", required_argument, NULL, MV_OPT_SMTP_TLS},               \
        {"smtp-from", required_argument, NULL, MV_OPT_SMTP_FROM},             \
        {"smtp-helo", required_argument, NULL, MV_OPT_SMTP_HELO},             \
        {"smtp-source", required_argument, NULL, MV_OPT_SMTP_SOURCE},         \
        {"smtp-timeout", required_argument, NULL, MV_OPT_SMTP_TIMEOUT},       \
        {"smtp-connect-timeout", required_argument, NULL,                     \
         MV_OPT_SMTP_CONNECT_TIMEOUT},                                        \
        {"smtp-rcpt-per-conn", required_argument, NULL,                       \
         MV_OPT_SMTP_PER_CONN},                                               \
        {"smtp-per-host", required_argument, NULL, MV_OPT_SMTP_PER_HOST},     \
        {"smtp-rate", required_argument, NULL, MV_OPT_SMTP_RATE},             \
        {"smtp-providers", required_argument, NULL, MV_OPT_SMTP_PROVIDERS},   \
        {"retry-greylisted", no_argument, NULL, MV_OPT_RETRY_GREYLISTED},     \
    {                                                                         \
        "greylist-wait-max", required_argument, NULL, MV_OPT_GREYLIST_WAIT    \
    }

typedef struct mv_pipeline {
    vl_options lib;        /* lib.resolvers points into 'resolvers' */
    bool explain;          /* --explain: VL_JSON_EXPLAIN in the output */
    char *resolvers;       /* owned: the --resolver values joined by commas */
    bool deadline_set;     /* the command's --deadline was given */
    bool retry_greylisted; /* --retry-greylisted */
    unsigned greylist_wait_s; /* --greylist-wait-max [360] */
} mv_pipeline;

/* Library defaults; no resolver list. */
void mv_pipeline_init(mv_pipeline *p);
/* Apply getopt_long()'s 'c' (with 'arg'): 1 when it was a pipeline
 * option, 0 when it is none, -1 (after a message on stderr) when its
 * value is bad. */
int mv_pipeline_option(mv_pipeline *p, int c, const char *arg);
void mv_pipeline_free(mv_pipeline *p);
/* After the options are read: settings that depend on each other (the
 * SMTP probe's deadline and greylisting wait).  -1 after a message when
 * they do not fit together. */
int mv_pipeline_finish(mv_pipeline *p);
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
