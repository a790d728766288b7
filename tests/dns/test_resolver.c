/*
 * test_resolver.c - the DNS stage through the C API against the real
 * servers of the dns fixture (tests/dns/start-servers.sh): coalescing
 * counted in the context's statistics, the caches and their TTL floor
 * and ceiling, negative caching, the deadline, callbacks exactly once
 * (also when the context is freed with checks in flight), several
 * threads sharing one context, and vl_check_many_async(): one lookup a
 * domain, the caller's results, each callback once, also on shutdown.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "validate.h"

static char unbound[600], blackhole[600];

static void read_env(void)
{
    const char *path = getenv("MAILVET_DNS_ENV");
    char line[512];
    FILE *f;

    assert_non_null(path);
    assert_non_null(f = fopen(path, "r"));
    while (fgets(line, sizeof line, f) != NULL) {
        line[strcspn(line, "\n")] = '\0';
        if (strncmp(line, "UNBOUND_PORT=", 13) == 0)
            snprintf(unbound, sizeof unbound, "127.0.0.1:%s", line + 13);
        if (strncmp(line, "BLACKHOLE_PORT=", 15) == 0)
            snprintf(blackhole, sizeof blackhole, "127.0.0.1:%s", line + 15);
    }
    fclose(f);
    assert_true(unbound[0] && blackhole[0]);
}

static unsigned query_timeout_ms = 1000;

static vl_ctx *make_ctx(const char *resolver, unsigned ttl_min,
                        unsigned ttl_max, unsigned deadline_ms)
{
    vl_options opt;
    vl_ctx *ctx;
    char err[256];

    VL_OPTIONS_INIT(&opt);
    opt.resolvers = resolver;
    opt.dns_timeout_ms = query_timeout_ms;
    opt.dns_tries = 1;
    opt.cache_ttl_min_s = ttl_min;
    opt.cache_ttl_max_s = ttl_max;
    opt.deadline_ms = deadline_ms;
    if (vl_ctx_new(&opt, &ctx, err, sizeof err) != VL_OK)
        fail_msg("vl_ctx_new: %s", err);
    return ctx;
}

static vl_result *check(vl_ctx *ctx, const char *addr)
{
    static vl_result *res;
    if (res == NULL)
        assert_int_equal(vl_result_new(&res), VL_OK);
    assert_int_equal(vl_check(ctx, addr, strlen(addr), res), VL_OK);
    return res;
}

/* ---- coalescing ---------------------------------------------------- */

typedef struct tally {
    atomic_int calls, with_mx, bad;
} tally;

static void count_cb(void *arg, vl_status st, vl_result *res)
{
    tally *t = arg;
    atomic_fetch_add(&t->calls, 1);
    if (st != VL_OK || res == NULL)
        atomic_fetch_add(&t->bad, 1);
    else if (vl_result_mx_host(res, NULL) != NULL)
        atomic_fetch_add(&t->with_mx, 1);
    vl_result_free(res);
}

static void wait_calls(tally *t, int n)
{
    for (int i = 0; i < 1000 && atomic_load(&t->calls) < n; i++)
        usleep(10000);
}

static void one_mx_query_per_domain(void **state)
{
    vl_ctx *ctx = make_ctx(unbound, 60, 86400, 10000);
    tally t = {0};
    vl_stats st;
    char addr[64];

    (void)state;
    for (int i = 0; i < 1000; i++) {
        snprintf(addr, sizeof addr, "u%d@d%05d.bulk.mvtest", i, 1 + i % 10);
        assert_int_equal(vl_check_async(ctx, addr, strlen(addr), count_cb, &t),
                         VL_OK);
    }
    wait_calls(&t, 1000);
    assert_int_equal(atomic_load(&t.calls), 1000);
    assert_int_equal(atomic_load(&t.with_mx), 1000);
    vl_ctx_stats(ctx, &st);
    assert_int_equal(st.dns_queries_mx, 10);
    assert_int_equal(st.domains_resolved, 10);
    /* 2 hosts each, A and AAAA */
    assert_int_equal(st.dns_queries_a + st.dns_queries_aaaa, 40);
    vl_ctx_free(ctx);
}

/* ---- caches -------------------------------------------------------- */

static void answers_are_cached(void **state)
{
    vl_ctx *ctx = make_ctx(unbound, 60, 86400, 10000);
    vl_stats before, after;

    (void)state;
    assert_false(vl_result_dns_cached(check(ctx, "a@mx.mvtest")));
    vl_ctx_stats(ctx, &before);
    vl_result *r = check(ctx, "b@mx.mvtest");
    assert_true(vl_result_dns_cached(r));
    assert_string_equal(vl_result_mx_host(r, NULL), "mx1.mx.mvtest");
    vl_ctx_stats(ctx, &after);
    assert_int_equal(after.dns_queries, before.dns_queries);
    /* negative answers too (RFC 2308) */
    assert_true(vl_result_has_reason(check(ctx, "a@nosuch.mvtest"),
                                     VL_R_NO_SUCH_DOMAIN));
    assert_true(vl_result_dns_cached(check(ctx, "b@nosuch.mvtest")));
    vl_ctx_free(ctx);
}

static void ttl_floor_and_ceiling(void **state)
{
    vl_ctx *floor60 = make_ctx(unbound, 60, 86400, 10000);
    vl_ctx *cap1 = make_ctx(unbound, 1, 1, 10000);

    (void)state;
    /* lowttl.mvtest publishes TTL 1: the floor keeps it 60 s */
    check(floor60, "a@lowttl.mvtest");
    check(cap1, "a@lowttl.mvtest");
    /* hittl.mvtest publishes a day: the ceiling of 1 s cuts it */
    check(cap1, "a@hittl.mvtest");
    sleep(2);
    assert_true(vl_result_dns_cached(check(floor60, "b@lowttl.mvtest")));
    assert_false(vl_result_dns_cached(check(cap1, "b@lowttl.mvtest")));
    assert_false(vl_result_dns_cached(check(cap1, "b@hittl.mvtest")));
    vl_ctx_free(floor60);
    vl_ctx_free(cap1);
}

/* ---- deadline and shutdown ------------------------------------------ */

static void deadline_answers_unknown(void **state)
{
    /* the query alone would wait 10 s; the deadline answers at 0.2 s */
    query_timeout_ms = 10000;
    vl_ctx *ctx = make_ctx(blackhole, 60, 86400, 200);
    query_timeout_ms = 1000;
    struct timespec t0, t1;

    (void)state;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    vl_result *r = check(ctx, "a@mx.mvtest");
    clock_gettime(CLOCK_MONOTONIC, &t1);
    assert_int_equal(vl_result_verdict(r), VL_UNKNOWN);
    assert_true(vl_result_has_reason(r, VL_R_DEADLINE));
    double s = (double)(t1.tv_sec - t0.tv_sec) +
               (double)(t1.tv_nsec - t0.tv_nsec) / 1e9;
    assert_true(s < 5.0); /* far below 10 s, with room for a loaded box */
    vl_ctx_free(ctx);     /* the lookup is still in flight: must not hang */
}

static void free_with_checks_in_flight(void **state)
{
    vl_ctx *ctx = make_ctx(blackhole, 60, 86400, 0);
    tally t = {0};
    char addr[64];

    (void)state;
    for (int i = 0; i < 50; i++) {
        snprintf(addr, sizeof addr, "u@d%05d.bulk.mvtest", 100 + i);
        assert_int_equal(vl_check_async(ctx, addr, strlen(addr), count_cb, &t),
                         VL_OK);
    }
    vl_ctx_free(ctx); /* every callback runs once, before this returns */
    assert_int_equal(atomic_load(&t.calls), 50);
    assert_int_equal(atomic_load(&t.with_mx), 0);
}

/* A callback must not wait for the loop it runs on. */
static vl_ctx *shared;
static atomic_int nested_status = -1;

static void nested_cb(void *arg, vl_status st, vl_result *res)
{
    vl_result *r;
    (void)arg;
    (void)st;
    vl_result_new(&r);
    atomic_store(&nested_status, (int)vl_check(shared, "z@mx.mvtest", 11, r));
    vl_result_free(r);
    vl_result_free(res);
}

static void no_sync_check_from_the_loop(void **state)
{
    (void)state;
    shared = make_ctx(unbound, 60, 86400, 10000);
    assert_int_equal(
        vl_check_async(shared, "y@aonly.mvtest", 14, nested_cb, NULL), VL_OK);
    for (int i = 0; i < 300 && atomic_load(&nested_status) < 0; i++)
        usleep(10000);
    assert_int_equal(atomic_load(&nested_status), VL_EINVAL);
    vl_ctx_free(shared);
}

/* ---- vl_check_many_async ------------------------------------------- */

enum { MANY = 600 };

typedef struct many_run {
    vl_check_item items[MANY];
    vl_result *res[MANY];
    char addr[MANY][64];
    atomic_int calls[MANY];
    atomic_int total, with_mx, wrong;
} many_run;

static many_run *many_current;

static void many_count(void *arg, vl_status st, vl_result *r)
{
    many_run *m = many_current;
    size_t i = (size_t)((vl_check_item *)arg - m->items);

    atomic_fetch_add(&m->calls[i], 1);
    if (r != m->res[i] || (st != VL_OK && st != VL_ETEMP))
        atomic_fetch_add(&m->wrong, 1);
    else if (st == VL_OK && vl_result_mx_host(r, NULL) != NULL)
        atomic_fetch_add(&m->with_mx, 1);
    atomic_fetch_add(&m->total, 1); /* last: the test waits on it */
}

static many_run *many_new(const char *fmt, int first, int domains)
{
    many_run *m = calloc(1, sizeof *m);

    assert_non_null(m);
    for (int i = 0; i < MANY; i++) {
        snprintf(m->addr[i], sizeof m->addr[i], fmt, i, first + i % domains);
        assert_int_equal(vl_result_new(&m->res[i]), VL_OK);
        m->items[i] = (vl_check_item){m->addr[i], strlen(m->addr[i]),
                                      m->res[i], &m->items[i]};
    }
    many_current = m;
    return m;
}

static void many_free(many_run *m)
{
    for (int i = 0; i < MANY; i++) {
        assert_int_equal(atomic_load(&m->calls[i]), 1);
        vl_result_free(m->res[i]);
    }
    free(m);
}

static void many_async_one_lookup_a_domain(void **state)
{
    vl_ctx *ctx = make_ctx(unbound, 60, 86400, 10000);
    /* d00041-d00050: no other test of this file asks for them */
    many_run *m = many_new("m%d@d%05d.bulk.mvtest", 41, 10);
    vl_stats st;

    (void)state;
    /* in two calls: the second half may find the first half's lookups
     * in flight or cached */
    assert_int_equal(vl_check_many_async(ctx, m->items, MANY / 2, many_count),
                     VL_OK);
    assert_int_equal(
        vl_check_many_async(ctx, m->items + MANY / 2, MANY / 2, many_count),
        VL_OK);
    for (int i = 0; i < 1000 && atomic_load(&m->total) < MANY; i++)
        usleep(10000);
    assert_int_equal(atomic_load(&m->total), MANY);
    assert_int_equal(atomic_load(&m->wrong), 0);
    assert_int_equal(atomic_load(&m->with_mx), MANY);
    vl_ctx_stats(ctx, &st);
    assert_int_equal(st.dns_queries_mx, 10);
    vl_ctx_free(ctx);
    many_free(m);
}

static void many_async_answered_on_free(void **state)
{
    vl_ctx *ctx = make_ctx(blackhole, 60, 86400, 0);
    many_run *m = many_new("m%d@d%05d.bulk.mvtest", 150, 50);

    (void)state;
    assert_int_equal(vl_check_many_async(ctx, m->items, MANY, many_count),
                     VL_OK);
    vl_ctx_free(ctx); /* every callback runs once, before this returns */
    assert_int_equal(atomic_load(&m->total), MANY);
    assert_int_equal(atomic_load(&m->wrong), 0);
    assert_int_equal(atomic_load(&m->with_mx), 0);
    for (int i = 0; i < MANY; i++)
        assert_int_equal(vl_result_verdict(m->res[i]), VL_UNKNOWN);
    many_free(m);
}

/* ---- threads ------------------------------------------------------- */

static void *thread_main(void *arg)
{
    vl_ctx *ctx = arg;
    vl_result *r;
    long bad = 0;
    char addr[64];

    vl_result_new(&r);
    for (int i = 0; i < 200; i++) {
        snprintf(addr, sizeof addr, "t%d@d%05d.bulk.mvtest", i, 20 + i % 20);
        if (vl_check(ctx, addr, strlen(addr), r) != VL_OK ||
            vl_result_mx_host(r, NULL) == NULL)
            bad++;
    }
    vl_result_free(r);
    return (void *)bad;
}

static void threads_share_a_context(void **state)
{
    vl_ctx *ctx = make_ctx(unbound, 60, 86400, 10000);
    pthread_t t[4];
    vl_stats st;

    (void)state;
    for (int i = 0; i < 4; i++)
        assert_int_equal(pthread_create(&t[i], NULL, thread_main, ctx), 0);
    for (int i = 0; i < 4; i++) {
        void *bad;
        pthread_join(t[i], &bad);
        assert_null(bad);
    }
    vl_ctx_stats(ctx, &st);
    assert_int_equal(st.dns_queries_mx, 20);
    vl_ctx_free(ctx);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(one_mx_query_per_domain),
        cmocka_unit_test(answers_are_cached),
        cmocka_unit_test(ttl_floor_and_ceiling),
        cmocka_unit_test(deadline_answers_unknown),
        cmocka_unit_test(free_with_checks_in_flight),
        cmocka_unit_test(no_sync_check_from_the_loop),
        cmocka_unit_test(threads_share_a_context),
        cmocka_unit_test(many_async_one_lookup_a_domain),
        cmocka_unit_test(many_async_answered_on_free),
    };
    read_env();
    return cmocka_run_group_tests(tests, NULL, NULL);
}
