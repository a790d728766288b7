/*
 * metrics.h - counters of `mailvet serve` for GET /metrics (Prometheus
 * text format 0.0.4): requests by route and status, a latency
 * histogram, verdicts, the library's DNS counters and the store's
 * size.  Lock-free: any thread may count.
 */
#ifndef MV_METRICS_H
#define MV_METRICS_H

#include <stddef.h>

#include "validate.h"

typedef enum mv_route {
    MV_ROUTE_CHECK,
    MV_ROUTE_BATCH,
    MV_ROUTE_STORE,
    MV_ROUTE_HEALTH,
    MV_ROUTE_METRICS,
    MV_ROUTE_OPENAPI,
    MV_ROUTE_DEMO,
    MV_ROUTE_OTHER,
    MV_ROUTE__COUNT
} mv_route;

/* Count one finished request; 'seconds' from its first byte of headers
 * being read to the response queued. */
void mv_metrics_request(mv_route route, unsigned status, double seconds);
/* Count one verdict given out. */
void mv_metrics_verdict(vl_verdict v);
/* The whole exposition as a new NUL-terminated string (the caller
 * frees it), with '*len' its length; NULL when out of memory.  'st' are
 * the library's counters; 'store' the store's counts (NULL: no store,
 * or not counted yet); 'inflight' the requests being served. */
char *mv_metrics_render(const vl_stats *st, const vl_store_stats *store,
                        long inflight, size_t *len);

#endif
