/*
 * pipeline.c - parse the options shared by the commands that check
 * addresses (see pipeline.h) into a vl_options.
 */
#include "pipeline.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

void mv_pipeline_init(mv_pipeline *p)
{
    memset(p, 0, sizeof *p);
    VL_OPTIONS_INIT(&p->lib);
}

void mv_pipeline_free(mv_pipeline *p)
{
    free(p->resolvers);
    p->resolvers = NULL;
    p->lib.resolvers = NULL;
}

void mv_pipeline_usage(FILE *out)
{
    fputs("  --offline             skip the network stages (DNS)\n"
          "  --explain             show each DNS query behind the verdict\n"
          "  --resolver HOST[:PORT]  DNS resolver to use (repeatable; "
          "default:\n"
          "                        the system's); IPv6 as [ADDR]:PORT\n"
          "  --dns-timeout MS      first-try timeout of a DNS query [2000]\n"
          "  --dns-tries N         tries per resolver [2]\n"
          "  --concurrency N       DNS queries in flight at once [256]\n"
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
          "entry)\n",
          out);
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
static int add_resolver(mv_pipeline *p, const char *r)
{
    size_t old = p->resolvers ? strlen(p->resolvers) : 0, n = strlen(r);
    char *grown = realloc(p->resolvers, old + n + 2);

    if (grown == NULL || n == 0 || strchr(r, ',') != NULL) {
        if (grown)
            p->resolvers = grown;
        fprintf(stderr, "mailvet: --resolver: bad value '%s'\n", r);
        return -1;
    }
    if (old)
        grown[old++] = ',';
    memcpy(grown + old, r, n + 1);
    p->resolvers = grown;
    p->lib.resolvers = grown;
    return 0;
}

static int set_flag(mv_pipeline *p, int c)
{
    switch (c) {
    case MV_OPT_OFFLINE:
        p->lib.flags |= VL_OPT_OFFLINE;
        return 1;
    case MV_OPT_EXPLAIN:
        p->explain = true;
        p->lib.flags |= VL_OPT_EXPLAIN;
        return 1;
    case MV_OPT_NO_PROVIDER:
        p->lib.flags &= ~(unsigned)VL_OPT_PROVIDER_RULES;
        return 1;
    case MV_OPT_NO_SPOOF:
        p->lib.flags |= VL_OPT_NO_SPOOF_CHECK;
        return 1;
    }
    return 0;
}

/* 1 when 's' is a number (stored), -1 when not. */
static int num(const char *s, const char *what, unsigned *out)
{
    return mv_parse_uint(s, what, out) < 0 ? -1 : 1;
}

int mv_pipeline_option(mv_pipeline *p, int c, const char *arg)
{
    vl_options *o = &p->lib;

    switch (c) {
    case MV_OPT_RESOLVER:
        return add_resolver(p, arg) < 0 ? -1 : 1;
    case MV_OPT_DNS_TIMEOUT:
        return num(arg, "--dns-timeout", &o->dns_timeout_ms);
    case MV_OPT_DNS_TRIES:
        return num(arg, "--dns-tries", &o->dns_tries);
    case MV_OPT_CONCURRENCY:
        return num(arg, "--concurrency", &o->dns_max_inflight);
    case MV_OPT_TTL_MIN:
        return num(arg, "--cache-ttl-min", &o->cache_ttl_min_s);
    case MV_OPT_TTL_MAX:
        return num(arg, "--cache-ttl-max", &o->cache_ttl_max_s);
    case MV_OPT_DISPOSABLE:
        o->disposable_file = arg;
        return 1;
    case MV_OPT_FREE:
        o->free_file = arg;
        return 1;
    case MV_OPT_ROLE:
        o->role_file = arg;
        return 1;
    case MV_OPT_TYPO:
        o->typo_file = arg;
        return 1;
    }
    return set_flag(p, c);
}

size_t mv_pipeline_window(const mv_pipeline *p)
{
    size_t w = 8 * (size_t)p->lib.dns_max_inflight;

    return w < 1024 ? 1024 : w;
}
