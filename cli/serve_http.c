/*
 * serve_http.c - the requests of `mailvet serve` (README.md "mailvet
 * serve"; the OpenAPI description is cli/openapi.json): routing, limits,
 * API keys, rate limits, CORS, bodies, and the asynchronous checks.
 *
 * No thread waits for DNS.  A check starts with vl_check_async(); when
 * the offline stages decide, the answer goes out at once.  Otherwise
 * the connection is suspended (MHD_suspend_connection) and the last
 * library callback, on the library's loop thread, resumes it; MHD then
 * calls the handler again and the answer is queued.  The library's
 * per-address deadline (--deadline-ms) bounds the wait: past it the
 * answer is "unknown", reason "deadline", and the lookup goes on in the
 * background to warm the cache.
 *
 * 'pending' counts the callbacks still due plus one held by the
 * handler while it starts them: whoever brings it to zero after the
 * connection was suspended resumes it, so a callback never resumes a
 * connection that was not suspended, and none is left suspended.
 */
#include "serve.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "cli.h"
#include "http_json.h"
#include "metrics.h"

/* Embedded at build time by vl_embed (data/embed.c). */
extern const char vl__data_openapi[];
extern const size_t vl__data_openapi_len;
extern const char vl__data_demo[];
extern const size_t vl__data_demo_len;

enum { JSON_STACK = 8192 };

typedef struct req req;

typedef struct slot {
    req *r;
    size_t i;
} slot;

struct req {
    mv_server *srv;
    struct MHD_Connection *conn;
    mv_route route;
    double t0;
    unsigned status;
    bool queued, started, too_big, batch;
    char *body;
    size_t body_len, body_cap;
    mv_emails em;
    vl_result **res;
    slot *slots;
    atomic_size_t pending;
    /* One check's storage, so that a single check allocates nothing
     * more than 'r': 'em', 'res' and 'slots' point here when em.n is 1.
     * GET's address is borrowed from MHD, which keeps the arguments
     * until the request completes. */
    char *addr1;
    size_t len1;
    vl_result *res1;
    slot slot1;
    bool em_borrowed;
};

static double now_s(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* ---- answers ---------------------------------------------------------- */

static void add_cors(req *r, struct MHD_Response *resp)
{
    const char *origin, *allow = r->srv->cors_origin;

    if (allow == NULL)
        return;
    origin = MHD_lookup_connection_value(r->conn, MHD_HEADER_KIND,
                                         MHD_HTTP_HEADER_ORIGIN);
    if (strcmp(allow, "*") == 0) {
        MHD_add_response_header(resp, "Access-Control-Allow-Origin", "*");
    } else if (origin != NULL && strcmp(origin, allow) == 0) {
        MHD_add_response_header(resp, "Access-Control-Allow-Origin", allow);
        MHD_add_response_header(resp, MHD_HTTP_HEADER_VARY, "Origin");
    }
}

/* Queue 'resp' (consumed) with 'status'. */
static enum MHD_Result queue(req *r, unsigned status,
                             struct MHD_Response *resp)
{
    enum MHD_Result ok;

    if (resp == NULL)
        return MHD_NO;
    add_cors(r, resp);
    if (atomic_load(&r->srv->stopping))
        MHD_add_response_header(resp, MHD_HTTP_HEADER_CONNECTION, "close");
    r->queued = true;
    r->status = status;
    ok = MHD_queue_response(r->conn, status, resp);
    MHD_destroy_response(resp);
    return ok;
}

static struct MHD_Response *typed(struct MHD_Response *resp, const char *type)
{
    if (resp != NULL)
        MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, type);
    return resp;
}

static struct MHD_Response *json_copy(const char *s, size_t len)
{
    return typed(
        MHD_create_response_from_buffer(len, (void *)s, MHD_RESPMEM_MUST_COPY),
        "application/json");
}

static struct MHD_Response *json_owned(char *s, size_t len)
{
    return typed(
        MHD_create_response_from_buffer(len, s, MHD_RESPMEM_MUST_FREE),
        "application/json");
}

/* {"error": CODE, "message": MSG}; 'msg' is static English with at most
 * double quotes to escape. */
static struct MHD_Response *error_body(const char *code, const char *msg)
{
    char buf[512], esc[256];
    size_t j = 0;
    int n;

    for (size_t i = 0; msg[i] && j + 2 < sizeof esc; i++) {
        if (msg[i] == '"' || msg[i] == '\\')
            esc[j++] = '\\';
        esc[j++] = msg[i];
    }
    esc[j] = '\0';
    n = snprintf(buf, sizeof buf, "{\"error\":\"%s\",\"message\":\"%s\"}",
                 code, esc);
    return json_copy(buf, (size_t)n < sizeof buf ? (size_t)n : 0);
}

static enum MHD_Result fail(req *r, unsigned status, const char *code,
                            const char *msg)
{
    return queue(r, status, error_body(code, msg));
}

static enum MHD_Result fail_hdr(req *r, unsigned status, const char *code,
                                const char *msg, const char *hdr,
                                const char *val)
{
    struct MHD_Response *resp = error_body(code, msg);

    if (resp != NULL)
        MHD_add_response_header(resp, hdr, val);
    return queue(r, status, resp);
}

/* ---- results ---------------------------------------------------------- */

/* Append the JSON of result 'i' to 'f'. */
static int put_result(req *r, size_t i, FILE *f)
{
    char stack[JSON_STACK], *buf = stack;
    size_t need;

    mv_metrics_verdict(vl_result_verdict(r->res[i]));
    need = vl_result_json(r->res[i], r->em.addr[i], r->em.len[i],
                          r->srv->json_flags, buf, sizeof stack);
    if (need >= sizeof stack) {
        if ((buf = malloc(need + 1)) == NULL)
            return -1;
        vl_result_json(r->res[i], r->em.addr[i], r->em.len[i],
                       r->srv->json_flags, buf, need + 1);
    }
    fwrite(buf, 1, need, f);
    if (buf != stack)
        free(buf);
    return 0;
}

static enum MHD_Result answer_one(req *r)
{
    char stack[JSON_STACK], *buf;
    size_t need;

    mv_metrics_verdict(vl_result_verdict(r->res[0]));
    need = vl_result_json(r->res[0], r->em.addr[0], r->em.len[0],
                          r->srv->json_flags, stack, sizeof stack);
    if (need < sizeof stack)
        return queue(r, MHD_HTTP_OK, json_copy(stack, need));
    if ((buf = malloc(need + 1)) == NULL)
        return MHD_NO;
    vl_result_json(r->res[0], r->em.addr[0], r->em.len[0], r->srv->json_flags,
                   buf, need + 1);
    return queue(r, MHD_HTTP_OK, json_owned(buf, need));
}

static enum MHD_Result answer_batch(req *r)
{
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    int rc = 0;

    if (f == NULL)
        return MHD_NO;
    fputs("{\"results\":[", f);
    for (size_t i = 0; i < r->em.n && rc == 0; i++) {
        if (i)
            fputc(',', f);
        rc = put_result(r, i, f);
    }
    fputs("]}", f);
    if (ferror(f) || rc < 0) {
        fclose(f);
        free(buf);
        return MHD_NO;
    }
    fclose(f);
    return queue(r, MHD_HTTP_OK, json_owned(buf, len));
}

static enum MHD_Result answer_results(req *r)
{
    for (size_t i = 0; i < r->em.n; i++)
        if (r->res[i] == NULL)
            return fail(r, MHD_HTTP_INTERNAL_SERVER_ERROR, "internal",
                        "the check could not run (out of memory?)");
    return r->batch ? answer_batch(r) : answer_one(r);
}

/* vl_check_cb, on the library's loop thread (or at once, inside
 * vl_check_async()): keep the result, resume the connection if last. */
static void on_checked(void *arg, vl_status st, vl_result *res)
{
    slot *s = arg;
    req *r = s->r;

    (void)st; /* VL_ETEMP comes with an "unknown" result: answer it */
    r->res[s->i] = res;
    if (atomic_fetch_sub(&r->pending, 1) == 1)
        MHD_resume_connection(r->conn);
}

static enum MHD_Result start_checks(req *r)
{
    size_t n = r->em.n;

    r->started = true;
    r->res = n == 1 ? &r->res1 : calloc(n, sizeof *r->res);
    r->slots = n == 1 ? &r->slot1 : calloc(n, sizeof *r->slots);
    if (r->res == NULL || r->slots == NULL)
        return MHD_NO;
    atomic_store(&r->pending, n + 1);
    for (size_t i = 0; i < n; i++) {
        r->slots[i] = (slot){r, i};
        if (vl_check_async_ex(r->srv->ctx, r->em.addr[i], r->em.len[i],
                              r->em.smtp ? 0 : VL_CHECK_NO_SMTP, on_checked,
                              &r->slots[i]) != VL_OK)
            atomic_fetch_sub(&r->pending, 1); /* res[i] stays NULL */
    }
    if (atomic_load(&r->pending) == 1) { /* every answer is in */
        atomic_store(&r->pending, 0);
        return answer_results(r);
    }
    MHD_suspend_connection(r->conn);
    if (atomic_fetch_sub(&r->pending, 1) == 1)
        MHD_resume_connection(r->conn);
    return MHD_YES;
}

/* ---- routes ----------------------------------------------------------- */

static enum MHD_Result check_get(req *r)
{
    const char *v, *smtp;
    size_t len;

    if (MHD_lookup_connection_value_n(r->conn, MHD_GET_ARGUMENT_KIND, "email",
                                      5, &v, &len) != MHD_YES ||
        v == NULL)
        return fail(r, MHD_HTTP_BAD_REQUEST, "bad_email_field",
                    "the query parameter \"email\" is missing");
    smtp = MHD_lookup_connection_value(r->conn, MHD_GET_ARGUMENT_KIND, "smtp");
    r->em.smtp =
        smtp != NULL && strcmp(smtp, "false") != 0 && strcmp(smtp, "0") != 0;
    if (r->em.smtp && !r->srv->smtp)
        return fail(r, MHD_HTTP_NOT_IMPLEMENTED, "smtp_not_configured",
                    "the SMTP probe is not available on this server "
                    "(start it with --smtp)");
    r->addr1 = (char *)v; /* read only: the library and the answer */
    r->len1 = len;
    r->em.addr = &r->addr1;
    r->em.len = &r->len1;
    r->em.n = 1;
    r->em_borrowed = true;
    return start_checks(r);
}

static enum MHD_Result check_post(req *r)
{
    const char *msg;
    mv_body_err e;

    if (r->too_big)
        return fail(r, MHD_HTTP_CONTENT_TOO_LARGE, "body_too_large",
                    "the request body is over the server's limit");
    e = mv_body_parse(r->body ? r->body : "", r->body_len, r->batch,
                      MV_BATCH_MAX, &r->em, &msg);
    if (e != MV_BODY_OK)
        return fail(r,
                    e == MV_BODY_BATCH_TOO_BIG ? MHD_HTTP_CONTENT_TOO_LARGE
                                               : MHD_HTTP_BAD_REQUEST,
                    mv_body_err_code(e), msg);
    if (r->em.smtp && !r->srv->smtp)
        return fail(r, MHD_HTTP_NOT_IMPLEMENTED, "smtp_not_configured",
                    "the SMTP probe is not available on this server "
                    "(start it with --smtp)");
    return start_checks(r);
}

static enum MHD_Result static_page(req *r, const char *body, size_t len,
                                   const char *type)
{
    return queue(r, MHD_HTTP_OK,
                 typed(MHD_create_response_from_buffer(len, (void *)body,
                                                       MHD_RESPMEM_PERSISTENT),
                       type));
}

static enum MHD_Result health(req *r)
{
    char buf[128];
    bool stopping = atomic_load(&r->srv->stopping);
    int n = snprintf(buf, sizeof buf,
                     "{\"status\":\"%s\",\"version\":\"%s\","
                     "\"offline\":%s}",
                     stopping ? "stopping" : "ok", vl_version(),
                     r->srv->offline ? "true" : "false");

    return queue(r, stopping ? MHD_HTTP_SERVICE_UNAVAILABLE : MHD_HTTP_OK,
                 json_copy(buf, (size_t)n));
}

/* The store's counts, recounted at most every STORE_COUNT_TTL_S: a
 * count scans the whole table while holding the store's mutex, which
 * would stall every check and store call of the other threads on each
 * scrape.  A scrape that finds another thread counting waits for that
 * count instead of counting again; a count that fails leaves the last
 * counts.  NULL before the first count succeeds. */
static const vl_store_stats *store_counts(mv_server *srv, vl_store_stats *out)
{
    enum { STORE_COUNT_TTL_S = 30 };
    double now = now_s();
    vl_store_stats fresh;
    bool have;

    if (srv->store == NULL)
        return NULL;
    if (pthread_mutex_trylock(&srv->counts_mu) != 0) {
        pthread_mutex_lock(&srv->counts_mu); /* wait for its count */
    } else if ((srv->counts_at == 0 ||
                now - srv->counts_at >= STORE_COUNT_TTL_S) &&
               vl_store_stats_get(srv->store, &fresh) == VL_OK) {
        srv->counts = fresh;
        srv->counts_at = now;
    }
    have = srv->counts_at != 0;
    *out = srv->counts;
    pthread_mutex_unlock(&srv->counts_mu);
    return have ? out : NULL;
}

static enum MHD_Result metrics(req *r)
{
    vl_store_stats counts;
    vl_stats st;
    size_t len;
    char *text;

    vl_ctx_stats(r->srv->ctx, &st);
    text = mv_metrics_render(&st, store_counts(r->srv, &counts),
                             atomic_load(&r->srv->inflight), &len);
    if (text == NULL)
        return MHD_NO;
    return queue(r, MHD_HTTP_OK,
                 typed(MHD_create_response_from_buffer(len, text,
                                                       MHD_RESPMEM_MUST_FREE),
                       "text/plain; version=0.0.4; charset=utf-8"));
}

/* ---- store routes ------------------------------------------------------
 * POST /v1/bounces, GET and DELETE /v1/store/{address}.  The store calls
 * are synchronous on this HTTP thread (serve.c says why that is safe and
 * bounded).  VL_ETEMP, the store could not tell, is always a 503 and
 * never read as found or not found. */

static enum MHD_Result store_unavailable(req *r)
{
    return fail_hdr(r, MHD_HTTP_SERVICE_UNAVAILABLE, "store_unavailable",
                    "the invalid-address store cannot answer now; retry",
                    MHD_HTTP_HEADER_RETRY_AFTER, "1");
}

/* 503 for VL_ETEMP, 400 for VL_EINVAL, 500 for anything else. */
static enum MHD_Result store_error(req *r, vl_status st)
{
    if (st == VL_ETEMP)
        return store_unavailable(r);
    if (st == VL_EINVAL)
        return fail(r, MHD_HTTP_BAD_REQUEST, "bad_address",
                    "not an e-mail address (nor @domain)");
    return fail(r, MHD_HTTP_INTERNAL_SERVER_ERROR, "internal",
                "the store failed (out of memory?)");
}

static enum MHD_Result answer_entry(req *r, unsigned status,
                                    const vl_store_entry *e)
{
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);

    if (f == NULL)
        return MHD_NO;
    mv_store_entry_json(r->srv->store, e, f);
    if (ferror(f)) {
        fclose(f);
        free(buf);
        return MHD_NO;
    }
    fclose(f);
    return queue(r, status, json_owned(buf, len));
}

/* After a write that succeeded, answer the entry as it is now.  Should
 * that read fail, the write still happened: say so in a short object
 * rather than a 503 that would make the client send it again. */
static enum MHD_Result answer_written(req *r, const char *addr, size_t len,
                                      bool suppressed)
{
    vl_store_entry *e = malloc(sizeof *e);
    enum MHD_Result ok;
    char buf[64];
    int n;

    if (e == NULL)
        return MHD_NO;
    if (vl_store_get(r->srv->store, addr, len, r->srv->scope, e) == VL_OK) {
        ok = answer_entry(r, MHD_HTTP_OK, e);
    } else {
        n = snprintf(buf, sizeof buf, "{\"suppressed\":%s}",
                     suppressed ? "true" : "false");
        ok = queue(r, MHD_HTTP_OK, json_copy(buf, (size_t)n));
    }
    free(e);
    return ok;
}

static enum MHD_Result bounce_post(req *r)
{
    vl_store_outcome o = {0};
    mv_bounce b;
    const char *code, *msg;
    enum MHD_Result ok;
    vl_status st;
    int suppressed = 0;

    if (r->too_big)
        return fail(r, MHD_HTTP_CONTENT_TOO_LARGE, "body_too_large",
                    "the request body is over the server's limit");
    code = mv_bounce_parse(r->body ? r->body : "", r->body_len, &b, &msg);
    if (code != NULL)
        return fail(r, MHD_HTTP_BAD_REQUEST, code, msg);
    o.address = b.address;
    o.address_len = b.address_len;
    o.scope = r->srv->scope;
    o.status = b.status;
    o.diagnostic = b.diagnostic;
    o.at = b.unix_s;
    if (vl_store_status_source(b.status, &o.source) != VL_OK) {
        ok = fail(r, MHD_HTTP_BAD_REQUEST, "bad_status_field",
                  "\"status\" is not a bounce: want 4yz, 5yz, 4.x.x or "
                  "5.x.x");
    } else if (b.timestamp != NULL && mv_parse_time(b.timestamp, &o.at)) {
        ok = fail(r, MHD_HTTP_BAD_REQUEST, "bad_timestamp_field",
                  "\"timestamp\" is not an ISO 8601 date-time");
    } else if ((st = vl_store_record(r->srv->store, &o, &suppressed)) ==
               VL_EINVAL) {
        ok = fail(r, MHD_HTTP_BAD_REQUEST, "bad_address_field",
                  "\"address\" is not an e-mail address (nor @domain)");
    } else if (st != VL_OK) {
        ok = store_error(r, st);
    } else {
        ok = answer_written(r, b.address, b.address_len, suppressed != 0);
    }
    mv_bounce_free(&b);
    return ok;
}

/* GET: the address's own entry in the server's scope, in any state;
 * else the entry that suppresses it ("@domain", or an unscoped one),
 * as `mailvet store show` does; else 404. */
static enum MHD_Result store_get(req *r, const char *addr)
{
    vl_store_entry *e = malloc(sizeof *e);
    size_t len = strlen(addr);
    enum MHD_Result ok;
    vl_status st;

    if (e == NULL)
        return MHD_NO;
    st = vl_store_get(r->srv->store, addr, len, r->srv->scope, e);
    if (st == VL_ENOTFOUND)
        st = vl_store_lookup(r->srv->store, addr, len, r->srv->scope, e);
    if (st == VL_OK)
        ok = answer_entry(r, MHD_HTTP_OK, e);
    else if (st == VL_ENOTFOUND)
        ok = fail(r, MHD_HTTP_NOT_FOUND, "not_found",
                  "this address is not in the store");
    else
        ok = store_error(r, st);
    free(e);
    return ok;
}

/* DELETE: stop suppressing the address's own entry (kept, with who and
 * when).  API keys have no names, so "who" is "api". */
static enum MHD_Result store_delete(req *r, const char *addr)
{
    size_t len = strlen(addr);
    vl_status st =
        vl_store_remove(r->srv->store, addr, len, r->srv->scope, "api");

    if (st == VL_OK)
        return answer_written(r, addr, len, false);
    if (st == VL_ENOTFOUND)
        return fail(r, MHD_HTTP_NOT_FOUND, "not_found",
                    "no suppressing entry for this address in the store");
    return store_error(r, st);
}

static enum MHD_Result store_route(req *r, const char *url, const char *method)
{
    if (r->srv->store == NULL)
        return fail(r, MHD_HTTP_NOT_IMPLEMENTED, "store_not_configured",
                    "this server has no invalid-address store");
    if (strcmp(url, "/v1/bounces") == 0)
        return bounce_post(r);
    /* MHD has percent-decoded the path: "/v1/store/a%2Bb%40c.com" is
     * "a+b@c.com" here. */
    if (strcmp(method, "DELETE") == 0)
        return store_delete(r, url + 10);
    return store_get(r, url + 10);
}

/* The route of 'url', or MV_ROUTE_OTHER (404). */
static mv_route route_of(const char *url)
{
    if (strcmp(url, "/v1/check") == 0)
        return MV_ROUTE_CHECK;
    if (strcmp(url, "/v1/check/batch") == 0)
        return MV_ROUTE_BATCH;
    if (strcmp(url, "/v1/bounces") == 0 ||
        (strncmp(url, "/v1/store/", 10) == 0 && url[10] != '\0'))
        return MV_ROUTE_STORE;
    if (strcmp(url, "/healthz") == 0)
        return MV_ROUTE_HEALTH;
    if (strcmp(url, "/metrics") == 0)
        return MV_ROUTE_METRICS;
    if (strcmp(url, "/v1/openapi.json") == 0)
        return MV_ROUTE_OPENAPI;
    if (strcmp(url, "/") == 0)
        return MV_ROUTE_DEMO;
    return MV_ROUTE_OTHER;
}

/* The methods 'url' (of 'route') takes, for the Allow header. */
static const char *allowed(mv_route route, const char *url)
{
    switch (route) {
    case MV_ROUTE_CHECK:
        return "GET, HEAD, POST, OPTIONS";
    case MV_ROUTE_BATCH:
        return "POST, OPTIONS";
    case MV_ROUTE_STORE:
        return url[4] == 'b' ? "POST, OPTIONS" : "GET, HEAD, DELETE, OPTIONS";
    default:
        return "GET, HEAD, OPTIONS";
    }
}

static bool method_ok(const char *allow, const char *method)
{
    size_t n = strlen(method);

    for (const char *p = strstr(allow, method); p; p = strstr(p + 1, method))
        if ((p == allow || p[-1] == ' ') && (p[n] == ',' || p[n] == '\0'))
            return true;
    return false;
}

static enum MHD_Result preflight(req *r, const char *allow)
{
    struct MHD_Response *resp =
        MHD_create_response_from_buffer(0, "", MHD_RESPMEM_PERSISTENT);

    if (resp == NULL)
        return MHD_NO;
    MHD_add_response_header(resp, MHD_HTTP_HEADER_ALLOW, allow);
    if (r->srv->cors_origin != NULL) {
        MHD_add_response_header(resp, "Access-Control-Allow-Methods", allow);
        MHD_add_response_header(resp, "Access-Control-Allow-Headers",
                                "Authorization, Content-Type");
        MHD_add_response_header(resp, "Access-Control-Max-Age", "600");
    }
    return queue(r, MHD_HTTP_NO_CONTENT, resp);
}

/* API key, then rate limit; MHD_YES without queuing when both pass. */
static enum MHD_Result admit(req *r, bool *queued)
{
    const union MHD_ConnectionInfo *ci;
    unsigned retry = 1;
    char val[16];
    bool keyed = r->route != MV_ROUTE_CHECK || r->srv->check_needs_key;

    *queued = true;
    if (keyed) {
        const char *h = MHD_lookup_connection_value(
            r->conn, MHD_HEADER_KIND, MHD_HTTP_HEADER_AUTHORIZATION);
        switch (mv_keys_check(r->srv->keys, h)) {
        case MV_AUTH_MISSING:
            return fail_hdr(r, MHD_HTTP_UNAUTHORIZED, "unauthorized",
                            "this route needs an API key: "
                            "Authorization: Bearer KEY",
                            MHD_HTTP_HEADER_WWW_AUTHENTICATE,
                            "Bearer realm=\"mailvet\"");
        case MV_AUTH_BAD:
            return fail(r, MHD_HTTP_FORBIDDEN, "forbidden",
                        "the API key is not valid");
        case MV_AUTH_OK:
            break;
        }
    }
    ci = MHD_get_connection_info(r->conn, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
    if (r->srv->rl != NULL && ci != NULL &&
        !mv_ratelimit_take(r->srv->rl, ci->client_addr, &retry)) {
        snprintf(val, sizeof val, "%u", retry);
        return fail_hdr(r, MHD_HTTP_TOO_MANY_REQUESTS, "rate_limited",
                        "too many requests from this client; retry later",
                        MHD_HTTP_HEADER_RETRY_AFTER, val);
    }
    *queued = false;
    return MHD_YES;
}

/* First call for a request: the headers are in.  Decide what can be
 * decided before the body: 503, 404, 405, OPTIONS, 401/403, 429, 413. */
static enum MHD_Result on_headers(req *r, const char *url, const char *method)
{
    const char *allow, *cl;
    bool queued = false;
    enum MHD_Result ok;

    if (atomic_load(&r->srv->stopping))
        return fail(r, MHD_HTTP_SERVICE_UNAVAILABLE, "shutting_down",
                    "the server is shutting down");
    if (r->route == MV_ROUTE_OTHER)
        return fail(r, MHD_HTTP_NOT_FOUND, "not_found", "no such route");
    allow = allowed(r->route, url);
    if (strcmp(method, "OPTIONS") == 0)
        return preflight(r, allow);
    if (!method_ok(allow, method))
        return fail_hdr(r, MHD_HTTP_METHOD_NOT_ALLOWED, "method_not_allowed",
                        "this route does not take that method",
                        MHD_HTTP_HEADER_ALLOW, allow);
    if (r->route <= MV_ROUTE_STORE &&
        ((ok = admit(r, &queued)) != MHD_YES || queued))
        return ok;
    cl = MHD_lookup_connection_value(r->conn, MHD_HEADER_KIND,
                                     MHD_HTTP_HEADER_CONTENT_LENGTH);
    if (cl != NULL && strtoull(cl, NULL, 10) > r->srv->max_body)
        return fail(r, MHD_HTTP_CONTENT_TOO_LARGE, "body_too_large",
                    "the request body is over the server's limit");
    r->batch = r->route == MV_ROUTE_BATCH;
    return MHD_YES;
}

/* Last call: the whole body is in (or the checks are done). */
static enum MHD_Result on_complete(req *r, const char *url, const char *method)
{
    if (r->started)
        return answer_results(r);
    switch (r->route) {
    case MV_ROUTE_CHECK:
        return strcmp(method, "POST") == 0 ? check_post(r) : check_get(r);
    case MV_ROUTE_BATCH:
        return check_post(r);
    case MV_ROUTE_STORE:
        return store_route(r, url, method);
    case MV_ROUTE_HEALTH:
        return health(r);
    case MV_ROUTE_METRICS:
        return metrics(r);
    case MV_ROUTE_OPENAPI:
        return static_page(r, vl__data_openapi, vl__data_openapi_len,
                           "application/json");
    case MV_ROUTE_DEMO:
        return static_page(r, vl__data_demo, vl__data_demo_len,
                           "text/html; charset=utf-8");
    default:
        return fail(r, MHD_HTTP_NOT_FOUND, "not_found", "no such route");
    }
}

/* Keep up to max_body bytes of the body; past that, remember only that
 * it was too big (and answer 413 once it is all read). */
static void take_body(req *r, const char *data, size_t n)
{
    if (r->queued || r->too_big)
        return;
    if (n > r->srv->max_body - r->body_len) {
        r->too_big = true;
        free(r->body);
        r->body = NULL;
        r->body_len = r->body_cap = 0;
        return;
    }
    if (r->body_len + n > r->body_cap) {
        size_t cap = r->body_cap ? r->body_cap * 2 : 1024;
        char *grown;
        while (cap < r->body_len + n)
            cap *= 2;
        if ((grown = realloc(r->body, cap)) == NULL) {
            r->too_big = true;
            return;
        }
        r->body = grown;
        r->body_cap = cap;
    }
    memcpy(r->body + r->body_len, data, n);
    r->body_len += n;
}

enum MHD_Result mv_http_handle(void *cls, struct MHD_Connection *conn,
                               const char *url, const char *method,
                               const char *version, const char *upload,
                               size_t *upload_size, void **con_cls)
{
    mv_server *srv = cls;
    req *r = *con_cls;

    (void)version;
    if (r == NULL) {
        if ((r = calloc(1, sizeof *r)) == NULL)
            return MHD_NO;
        r->srv = srv;
        r->conn = conn;
        r->t0 = now_s();
        r->route = route_of(url);
        *con_cls = r;
        atomic_fetch_add(&srv->inflight, 1);
        return on_headers(r, url, method);
    }
    if (*upload_size != 0) {
        take_body(r, upload, *upload_size);
        *upload_size = 0;
        return MHD_YES;
    }
    if (r->queued)
        return MHD_YES;
    return on_complete(r, url, method);
}

void mv_http_completed(void *cls, struct MHD_Connection *conn, void **con_cls,
                       enum MHD_RequestTerminationCode toe)
{
    mv_server *srv = cls;
    req *r = *con_cls;

    (void)conn;
    (void)toe;
    if (r == NULL)
        return;
    *con_cls = NULL;
    mv_metrics_request(r->route, r->queued ? r->status : 0, now_s() - r->t0);
    atomic_fetch_sub(&srv->inflight, 1);
    if (atomic_load(&r->pending) > 0)
        return; /* a callback is still due and will write into 'r':
                   leak it rather than free it under the callback */
    for (size_t i = 0; r->res && i < r->em.n; i++)
        vl_result_free(r->res[i]);
    if (!r->em_borrowed)
        mv_emails_free(&r->em);
    if (r->res != &r->res1)
        free(r->res);
    if (r->slots != &r->slot1)
        free(r->slots);
    free(r->body);
    free(r);
}
