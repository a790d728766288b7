/*
 * resolver.h - the asynchronous resolver of the DNS stage: c-ares on a
 * libuv loop, a cache of answers (RRsets) and of whole domains, and
 * coalescing of concurrent lookups.  Every function here runs on the
 * loop's thread.  Private to libvalidate.
 */
#ifndef VL_RESOLVER_H
#define VL_RESOLVER_H

#include "dns.h"

#include <uv.h>

typedef struct vl__resolver vl__resolver;

typedef struct vl__resolver_config {
    const char *servers; /* "host[:port],..." or NULL for the system's */
    unsigned timeout_ms; /* first try; c-ares doubles it per round */
    unsigned tries;
    unsigned max_inflight;         /* queries in flight at once */
    unsigned ttl_min_s, ttl_max_s; /* clamp of positive and negative TTLs */
    unsigned fail_ttl_s;           /* how long a failure is remembered */
    unsigned max_entries;          /* cache size (RRsets and domains each) */
    bool explain;                  /* keep each query's evidence */
    bool allow_loopback; /* a loopback MX is usable (SMTP probe tests) */
} vl__resolver_config;

typedef struct vl__resolver_stats {
    uint64_t queries_sent;       /* to the network */
    uint64_t queries_by_type[4]; /* MX, A, AAAA, TXT */
    uint64_t rrset_hits, domain_hits, coalesced;
    uint64_t domains_resolved;
} vl__resolver_stats;

/* Called with the domain's information, a new reference the callee must
 * drop with vl__domain_info_unref(); 'cached' when no query was needed.
 * NULL 'info' only when out of memory or shutting down. */
typedef void (*vl__domain_cb)(void *arg, vl__domain_info *info, bool cached);

vl_status vl__resolver_new(uv_loop_t *loop, const vl__resolver_config *cfg,
                           vl__resolver **out, char *err, size_t err_cap);
/* Cancel everything (callbacks get NULL info) and close the handles;
 * the loop must then run until they are closed (uv_run). */
void vl__resolver_free(vl__resolver *r);

/* Look up how 'domain' (A-label, lower case) receives mail.  Calls 'cb'
 * exactly once, possibly before returning (a cache hit). */
void vl__resolver_domain(vl__resolver *r, const char *domain, vl__domain_cb cb,
                         void *arg);

void vl__resolver_get_stats(const vl__resolver *r, vl__resolver_stats *out);

#endif /* VL_RESOLVER_H */
