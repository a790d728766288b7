/*
 * pipeline.c - parse the options shared by the commands that check
 * addresses (see pipeline.h) into a vl_options.
 */
#include "pipeline.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

static int num(const char *s, const char *what, unsigned *out);

void mv_pipeline_init(mv_pipeline *p)
{
    memset(p, 0, sizeof *p);
    VL_OPTIONS_INIT(&p->lib);
    p->greylist_wait_s = 360;
}

int mv_pipeline_finish(mv_pipeline *p)
{
    vl_options *o = &p->lib;

    if (!(o->flags & VL_OPT_SMTP)) {
        if (o->flags & VL_OPT_SMTP_ALLOW_LOOPBACK || p->retry_greylisted) {
            fprintf(stderr, "mailvet: --smtp-allow-loopback and "
                            "--retry-greylisted need --smtp\n");
            return -1;
        }
        return 0;
    }
    if (o->flags & VL_OPT_OFFLINE) {
        fprintf(stderr, "mailvet: --smtp and --offline exclude each other\n");
        return -1;
    }
    if (p->retry_greylisted)
        o->smtp_greylist_wait_ms = p->greylist_wait_s * 1000;
    /* A probe takes seconds (and a greylisting wait minutes): unless the
     * user set one, the deadline covers the slowest dialogue allowed. */
    if (!p->deadline_set)
        o->deadline_ms = 2 * o->smtp_connect_timeout_ms +
                         6 * o->smtp_timeout_ms + o->smtp_greylist_wait_ms +
                         o->dns_timeout_ms * 4;
    return 0;
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
          "entry)\n"
          "SMTP probe (off by default; asks the MX whether the mailbox "
          "exists,\n"
          "never sends DATA):\n"
          "  --smtp                RCPT probe after DNS\n"
          "  --smtp-from ADDR      MAIL FROM address [<>, the null sender]\n"
          "  --smtp-helo NAME      EHLO name [this host's name]\n"
          "  --smtp-tls MODE       never|opportunistic|require "
          "[opportunistic]\n"
          "  --smtp-port N         port of the MX hosts [25]\n"
          "  --smtp-source ADDR    local IP address to connect from\n"
          "  --smtp-connect-timeout MS  per connection attempt [10000]\n"
          "  --smtp-timeout MS     per reply [30000]\n"
          "  --smtp-rcpt-per-conn N  recipients per connection [50]\n"
          "  --smtp-per-host N     connections at once per MX address [2]\n"
          "  --smtp-rate N         new connections per second per MX "
          "address\n"
          "                        (0: no limit) [10]\n"
          "  --smtp-providers F    extra domains not to probe (accept-all "
          "or\n"
          "                        probe-blocking providers), one per line\n"
          "  --retry-greylisted    greylisted (4xx): wait and ask once more\n"
          "  --greylist-wait-max S  the longest such wait [360]\n"
          "  --smtp-allow-loopback  probe loopback MX addresses (tests "
          "only)\n",
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
    case MV_OPT_SMTP:
        p->lib.flags |= VL_OPT_SMTP;
        return 1;
    case MV_OPT_SMTP_LOOPBACK:
        p->lib.flags |= VL_OPT_SMTP_ALLOW_LOOPBACK;
        return 1;
    case MV_OPT_RETRY_GREYLISTED:
        p->retry_greylisted = true;
        return 1;
    }
    return 0;
}

static int smtp_tls_mode(const char *arg, vl_smtp_tls *out)
{
    if (strcmp(arg, "never") == 0)
        *out = VL_SMTP_TLS_NEVER;
    else if (strcmp(arg, "opportunistic") == 0)
        *out = VL_SMTP_TLS_OPPORTUNISTIC;
    else if (strcmp(arg, "require") == 0)
        *out = VL_SMTP_TLS_REQUIRE;
    else {
        fprintf(stderr,
                "mailvet: --smtp-tls: never, opportunistic or "
                "require, not '%s'\n",
                arg);
        return -1;
    }
    return 1;
}

static int smtp_option(mv_pipeline *p, int c, const char *arg)
{
    vl_options *o = &p->lib;

    switch (c) {
    case MV_OPT_SMTP_PORT:
        if (num(arg, "--smtp-port", &o->smtp_port) < 0)
            return -1;
        if (o->smtp_port < 1 || o->smtp_port > 65535) {
            fprintf(stderr, "mailvet: --smtp-port: 1-65535\n");
            return -1;
        }
        return 1;
    case MV_OPT_SMTP_TLS:
        return smtp_tls_mode(arg, &o->smtp_tls);
    case MV_OPT_SMTP_FROM:
        o->smtp_from = arg;
        return 1;
    case MV_OPT_SMTP_HELO:
        o->smtp_helo = arg;
        return 1;
    case MV_OPT_SMTP_SOURCE:
        o->smtp_source = arg;
        return 1;
    case MV_OPT_SMTP_TIMEOUT:
        return num(arg, "--smtp-timeout", &o->smtp_timeout_ms);
    case MV_OPT_SMTP_CONNECT_TIMEOUT:
        return num(arg, "--smtp-connect-timeout", &o->smtp_connect_timeout_ms);
    case MV_OPT_SMTP_PER_CONN:
        return num(arg, "--smtp-rcpt-per-conn", &o->smtp_rcpt_per_conn);
    case MV_OPT_SMTP_PER_HOST:
        return num(arg, "--smtp-per-host", &o->smtp_per_host);
    case MV_OPT_SMTP_RATE:
        return num(arg, "--smtp-rate", &o->smtp_rate);
    case MV_OPT_SMTP_PROVIDERS:
        o->smtp_providers_file = arg;
        return 1;
    case MV_OPT_GREYLIST_WAIT:
        return num(arg, "--greylist-wait-max", &p->greylist_wait_s);
    }
    return set_flag(p, c);
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
    return smtp_option(p, c, arg);
}

size_t mv_pipeline_window(const mv_pipeline *p)
{
    size_t w = 8 * (size_t)p->lib.dns_max_inflight;

    return w < 1024 ? 1024 : w;
}
