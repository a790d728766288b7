/*
 * options.h - the library options every command takes (resolver, DNS
 * timeouts, deadline, cache TTLs, table files, ...), parsed once here
 * so "check" and "clean" spell and check them the same way.
 *
 * A command puts MV_LIB_LONG_OPTIONS into its getopt_long() table, hands
 * every option value it does not know itself to mv_lib_opts_parse(),
 * and prints mv_lib_opts_usage() in its --help.
 */
#ifndef MV_OPTIONS_H
#define MV_OPTIONS_H

#include <stdbool.h>
#include <stdio.h>

#include "validate.h"

/* getopt_long() values of the shared options; a command's own start at
 * MV_OPT_COMMAND. */
enum {
    MV_OPT_OFFLINE = 256,
    MV_OPT_RESOLVER,
    MV_OPT_DNS_TIMEOUT,
    MV_OPT_DNS_TRIES,
    MV_OPT_CONCURRENCY,
    MV_OPT_DEADLINE,
    MV_OPT_TTL_MIN,
    MV_OPT_TTL_MAX,
    MV_OPT_NO_PROVIDER,
    MV_OPT_NO_SPOOF,
    MV_OPT_DISPOSABLE,
    MV_OPT_FREE,
    MV_OPT_ROLE,
    MV_OPT_TYPO,
    MV_OPT_COMMAND = 512
};

/* clang-format off */
#define MV_LIB_LONG_OPTIONS                                                 \
    {"offline", no_argument, NULL, MV_OPT_OFFLINE},                         \
    {"resolver", required_argument, NULL, MV_OPT_RESOLVER},                 \
    {"dns-timeout", required_argument, NULL, MV_OPT_DNS_TIMEOUT},           \
    {"dns-tries", required_argument, NULL, MV_OPT_DNS_TRIES},               \
    {"concurrency", required_argument, NULL, MV_OPT_CONCURRENCY},           \
    {"deadline", required_argument, NULL, MV_OPT_DEADLINE},                 \
    {"cache-ttl-min", required_argument, NULL, MV_OPT_TTL_MIN},             \
    {"cache-ttl-max", required_argument, NULL, MV_OPT_TTL_MAX},             \
    {"no-provider-rules", no_argument, NULL, MV_OPT_NO_PROVIDER},           \
    {"no-spoof-check", no_argument, NULL, MV_OPT_NO_SPOOF},                 \
    {"disposable-file", required_argument, NULL, MV_OPT_DISPOSABLE},        \
    {"free-file", required_argument, NULL, MV_OPT_FREE},                    \
    {"role-file", required_argument, NULL, MV_OPT_ROLE},                    \
    {"typo-file", required_argument, NULL, MV_OPT_TYPO},                    \
    {"quiet", no_argument, NULL, 'q'},                                      \
    {"help", no_argument, NULL, 'h'}
/* clang-format on */

typedef struct mv_lib_opts {
    vl_options lib;  /* lib.resolvers points into 'resolvers' */
    char *resolvers; /* owned: the --resolver values joined by ',' */
} mv_lib_opts;

void mv_lib_opts_init(mv_lib_opts *o);
void mv_lib_opts_free(mv_lib_opts *o);

/* Handle getopt_long()'s value 'c' with argument 'arg' when it is one of
 * MV_LIB_LONG_OPTIONS (not 'q' or 'h'): 1 handled, 0 not a shared
 * option, -1 a bad value (said on stderr). */
int mv_lib_opts_parse(mv_lib_opts *o, int c, const char *arg);

/* Parse a decimal count for option 'what' (said on stderr when bad). */
int mv_parse_uint(const char *s, const char *what, unsigned *out);

/* The --help lines of the shared options. */
void mv_lib_opts_usage(FILE *out);

#endif
