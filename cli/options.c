/*
 * options.c - the library options shared by the commands (options.h).
 */
#include "options.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

void mv_lib_opts_init(mv_lib_opts *o)
{
    memset(o, 0, sizeof *o);
    VL_OPTIONS_INIT(&o->lib);
}

void mv_lib_opts_free(mv_lib_opts *o)
{
    free(o->resolvers);
    o->resolvers = NULL;
    o->lib.resolvers = NULL;
}

int mv_parse_uint(const char *s, const char *what, unsigned *out)
{
    char *end;
    unsigned long v;

    errno = 0;
    v = strtoul(s, &end, 10);
    if (errno || end == s || *end != '\0' || v > 100000000ul || s[0] == '-') {
        fprintf(stderr, "mailvet: %s: not a number: '%s'\n", what, s);
        return -1;
    }
    *out = (unsigned)v;
    return 0;
}

/* "--resolver" may repeat: join the values with commas (c-ares' list
 * syntax). */
static int add_resolver(mv_lib_opts *o, const char *r)
{
    size_t old = o->resolvers ? strlen(o->resolvers) : 0, n = strlen(r);
    char *grown;

    if (n == 0 || strchr(r, ',') != NULL) {
        fprintf(stderr, "mailvet: --resolver: bad value '%s'\n", r);
        return -1;
    }
    if ((grown = realloc(o->resolvers, old + n + 2)) == NULL) {
        fprintf(stderr, "mailvet: out of memory\n");
        return -1;
    }
    if (old)
        grown[old++] = ',';
    memcpy(grown + old, r, n + 1);
    o->resolvers = grown;
    o->lib.resolvers = grown;
    return 0;
}

static int rc(int r)
{
    return r < 0 ? -1 : 1;
}

int mv_lib_opts_parse(mv_lib_opts *o, int c, const char *arg)
{
    vl_options *l = &o->lib;

    switch (c) {
    case MV_OPT_OFFLINE:
        l->flags |= VL_OPT_OFFLINE;
        return 1;
    case MV_OPT_NO_PROVIDER:
        l->flags &= ~(unsigned)VL_OPT_PROVIDER_RULES;
        return 1;
    case MV_OPT_NO_SPOOF:
        l->flags |= VL_OPT_NO_SPOOF_CHECK;
        return 1;
    case MV_OPT_RESOLVER:
        return rc(add_resolver(o, arg));
    case MV_OPT_DNS_TIMEOUT:
        return rc(mv_parse_uint(arg, "--dns-timeout", &l->dns_timeout_ms));
    case MV_OPT_DNS_TRIES:
        return rc(mv_parse_uint(arg, "--dns-tries", &l->dns_tries));
    case MV_OPT_CONCURRENCY:
        return rc(mv_parse_uint(arg, "--concurrency", &l->dns_max_inflight));
    case MV_OPT_DEADLINE:
        return rc(mv_parse_uint(arg, "--deadline", &l->deadline_ms));
    case MV_OPT_TTL_MIN:
        return rc(mv_parse_uint(arg, "--cache-ttl-min", &l->cache_ttl_min_s));
    case MV_OPT_TTL_MAX:
        return rc(mv_parse_uint(arg, "--cache-ttl-max", &l->cache_ttl_max_s));
    case MV_OPT_DISPOSABLE:
        l->disposable_file = arg;
        return 1;
    case MV_OPT_FREE:
        l->free_file = arg;
        return 1;
    case MV_OPT_ROLE:
        l->role_file = arg;
        return 1;
    case MV_OPT_TYPO:
        l->typo_file = arg;
        return 1;
    }
    return 0;
}

void mv_lib_opts_usage(FILE *out)
{
    fputs("  --offline             skip the network stages (DNS)\n"
          "  --resolver HOST[:PORT]  DNS resolver to use (repeatable; "
          "default:\n"
          "                        the system's); IPv6 as [ADDR]:PORT\n"
          "  --dns-timeout MS      first-try timeout of a DNS query [2000]\n"
          "  --dns-tries N         tries per resolver [2]\n"
          "  --concurrency N       DNS queries in flight at once [256]\n"
          "  --deadline MS         per address; past it: unknown, deadline\n"
          "                        (0: none) [10000]\n"
          "  --cache-ttl-min S     floor on cached DNS TTLs [60]\n"
          "  --cache-ttl-max S     ceiling on cached DNS TTLs [86400]\n"
          "  --no-provider-rules   canonical key without provider rules\n"
          "                        (Gmail dots, +tags)\n"
          "  --no-spoof-check      do not flag confusable domains\n"
          "  --disposable-file F   extra disposable domains, one per line\n"
          "  --free-file F         extra free-mail domains\n"
          "  --role-file F         extra role local parts\n"
          "  --typo-file F         extra typo fixes, \"typo<TAB>fix\" per "
          "line\n"
          "                        (a line \"!entry\" removes a built-in "
          "entry)\n"
          "  -q, --quiet           no notes on stderr\n"
          "  -h, --help            show this help\n",
          out);
}
