/*
 * metrics.c - the counters behind GET /metrics (see metrics.h).  Fixed
 * arrays of relaxed atomics: counting costs one atomic add, and the
 * label sets are closed (routes and the statuses the server gives).
 *
 * The counters are sharded by thread: every HTTP thread bumps the same
 * few counters for every request, and one shared copy would bounce its
 * cache lines between the cores on each add.  Each thread takes a
 * shard of its own (shared only past SHARDS threads) and a scrape sums
 * them; sums of relaxed counters are as good as one relaxed counter.
 */
#include "metrics.h"

#include <stdarg.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

static const char *const route_names[MV_ROUTE__COUNT] = {
    "check",   "batch",   "store", "healthz",
    "metrics", "openapi", "demo",  "other"};

/* The statuses the server answers with; the last slot is "other". */
static const unsigned statuses[] = {200, 204, 400, 401, 403, 404, 405,
                                    413, 429, 500, 501, 503, 0};
enum { N_STATUS = sizeof statuses / sizeof statuses[0] };

/* Upper bounds in seconds; the +Inf bucket is the request count. */
static const double bounds[] = {0.0001, 0.00025, 0.0005, 0.001, 0.0025,
                                0.005,  0.01,    0.025,  0.05,  0.1,
                                0.25,   0.5,     1,      2.5,   5};
enum { N_BOUNDS = sizeof bounds / sizeof bounds[0] };

enum { SHARDS = 16, CACHE_LINE = 64 };

typedef struct shard {
    _Alignas(CACHE_LINE) _Atomic uint64_t requests[MV_ROUTE__COUNT][N_STATUS];
    _Atomic uint64_t buckets[N_BOUNDS + 1];
    _Atomic uint64_t latency_sum_us;
    _Atomic uint64_t verdicts[4];
} shard;

static shard shards[SHARDS];
static atomic_uint shards_taken;
static _Thread_local shard *mine;

/* The calling thread's shard, taken on its first count. */
static shard *my_shard(void)
{
    if (mine == NULL)
        mine = &shards[atomic_fetch_add_explicit(&shards_taken, 1,
                                                 memory_order_relaxed) %
                       SHARDS];
    return mine;
}

static size_t status_slot(unsigned status)
{
    size_t i;

    for (i = 0; i + 1 < N_STATUS; i++)
        if (statuses[i] == status)
            return i;
    return N_STATUS - 1;
}

void mv_metrics_request(mv_route route, unsigned status, double seconds)
{
    shard *sh = my_shard();
    size_t b = 0;

    if ((unsigned)route >= MV_ROUTE__COUNT)
        route = MV_ROUTE_OTHER;
    atomic_fetch_add_explicit(&sh->requests[route][status_slot(status)], 1,
                              memory_order_relaxed);
    while (b < N_BOUNDS && seconds > bounds[b])
        b++;
    atomic_fetch_add_explicit(&sh->buckets[b], 1, memory_order_relaxed);
    atomic_fetch_add_explicit(&sh->latency_sum_us, (uint64_t)(seconds * 1e6),
                              memory_order_relaxed);
}

void mv_metrics_verdict(vl_verdict v)
{
    if ((unsigned)v < 4)
        atomic_fetch_add_explicit(&my_shard()->verdicts[v], 1,
                                  memory_order_relaxed);
}

/* The sum over the shards of one counter, named by its copy in the
 * first shard. */
static uint64_t sum(_Atomic uint64_t *first)
{
    size_t offset = (size_t)((char *)first - (char *)&shards[0]);
    uint64_t n = 0;

    for (size_t i = 0; i < SHARDS; i++)
        n += atomic_load_explicit(
            (_Atomic uint64_t *)((char *)&shards[i] + offset),
            memory_order_relaxed);
    return n;
}

#define LOAD(field) sum(&shards[0].field)

typedef struct out {
    FILE *f;
} out;

static void put(out *o, const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    vfprintf(o->f, fmt, ap);
    va_end(ap);
}

static void render_requests(out *o)
{
    put(o, "# HELP mailvet_http_requests_total HTTP requests answered.\n"
           "# TYPE mailvet_http_requests_total counter\n");
    for (size_t r = 0; r < MV_ROUTE__COUNT; r++)
        for (size_t s = 0; s < N_STATUS; s++) {
            uint64_t n = LOAD(requests[r][s]);
            if (n == 0)
                continue;
            if (statuses[s])
                put(o,
                    "mailvet_http_requests_total{route=\"%s\","
                    "code=\"%u\"} %llu\n",
                    route_names[r], statuses[s], (unsigned long long)n);
            else
                put(o,
                    "mailvet_http_requests_total{route=\"%s\","
                    "code=\"other\"} %llu\n",
                    route_names[r], (unsigned long long)n);
        }
}

static void render_latency(out *o)
{
    uint64_t cum = 0;

    put(o, "# HELP mailvet_http_request_duration_seconds Time to answer.\n"
           "# TYPE mailvet_http_request_duration_seconds histogram\n");
    for (size_t b = 0; b < N_BOUNDS; b++) {
        cum += LOAD(buckets[b]);
        put(o,
            "mailvet_http_request_duration_seconds_bucket{le=\"%g\"} "
            "%llu\n",
            bounds[b], (unsigned long long)cum);
    }
    cum += LOAD(buckets[N_BOUNDS]);
    put(o,
        "mailvet_http_request_duration_seconds_bucket{le=\"+Inf\"} %llu\n"
        "mailvet_http_request_duration_seconds_sum %.6f\n"
        "mailvet_http_request_duration_seconds_count %llu\n",
        (unsigned long long)cum, (double)LOAD(latency_sum_us) / 1e6,
        (unsigned long long)cum);
}

static void render_library(out *o, const vl_stats *st, long inflight)
{
    put(o, "# HELP mailvet_verdicts_total Verdicts given out.\n"
           "# TYPE mailvet_verdicts_total counter\n");
    for (unsigned v = 0; v < 4; v++)
        put(o, "mailvet_verdicts_total{verdict=\"%s\"} %llu\n",
            vl_verdict_name((vl_verdict)v),
            (unsigned long long)LOAD(verdicts[v]));
    put(o,
        "# HELP mailvet_dns_queries_total DNS queries sent.\n"
        "# TYPE mailvet_dns_queries_total counter\n"
        "mailvet_dns_queries_total{type=\"MX\"} %llu\n"
        "mailvet_dns_queries_total{type=\"A\"} %llu\n"
        "mailvet_dns_queries_total{type=\"AAAA\"} %llu\n"
        "mailvet_dns_queries_total{type=\"TXT\"} %llu\n"
        "# HELP mailvet_dns_cache_hits_total Answers found cached.\n"
        "# TYPE mailvet_dns_cache_hits_total counter\n"
        "mailvet_dns_cache_hits_total %llu\n"
        "# HELP mailvet_dns_coalesced_total Lookups that joined one in "
        "flight.\n"
        "# TYPE mailvet_dns_coalesced_total counter\n"
        "mailvet_dns_coalesced_total %llu\n"
        "# HELP mailvet_http_requests_in_flight Requests being served.\n"
        "# TYPE mailvet_http_requests_in_flight gauge\n"
        "mailvet_http_requests_in_flight %ld\n",
        (unsigned long long)st->dns_queries_mx,
        (unsigned long long)st->dns_queries_a,
        (unsigned long long)st->dns_queries_aaaa,
        (unsigned long long)st->dns_queries_txt,
        (unsigned long long)st->dns_cache_hits,
        (unsigned long long)st->dns_coalesced, inflight);
    put(o,
        "# HELP mailvet_smtp_connections_total Connections the SMTP probe "
        "opened.\n"
        "# TYPE mailvet_smtp_connections_total counter\n"
        "mailvet_smtp_connections_total %llu\n"
        "# HELP mailvet_smtp_rcpts_total RCPT commands the SMTP probe sent.\n"
        "# TYPE mailvet_smtp_rcpts_total counter\n"
        "mailvet_smtp_rcpts_total %llu\n"
        "# HELP mailvet_smtp_port_blocked 1 once outbound port 25 looks "
        "blocked.\n"
        "# TYPE mailvet_smtp_port_blocked gauge\n"
        "mailvet_smtp_port_blocked %d\n",
        (unsigned long long)st->smtp_connections,
        (unsigned long long)st->smtp_rcpts, st->smtp_port_blocked ? 1 : 0);
}

static void render_store(out *o, const vl_store_stats *store)
{
    put(o,
        "# HELP mailvet_store_entries Entries in the invalid-address "
        "store (counted at most every 30 s).\n"
        "# TYPE mailvet_store_entries gauge\n"
        "mailvet_store_entries %llu\n"
        "# HELP mailvet_store_suppressed Store entries that suppress "
        "(expiry not applied).\n"
        "# TYPE mailvet_store_suppressed gauge\n"
        "mailvet_store_suppressed %llu\n",
        (unsigned long long)store->entries,
        (unsigned long long)store->suppressed);
}

char *mv_metrics_render(const vl_stats *st, const vl_store_stats *store,
                        long inflight, size_t *len)
{
    char *buf = NULL;
    out o = {open_memstream(&buf, len)};

    if (o.f == NULL)
        return NULL;
    render_requests(&o);
    render_latency(&o);
    render_library(&o, st, inflight);
    if (store != NULL)
        render_store(&o, store);
    if (ferror(o.f)) {
        fclose(o.f);
        free(buf);
        return NULL;
    }
    fclose(o.f);
    return buf;
}
