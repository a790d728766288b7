/*
 * test_store.c - the invalid-address store through the public API: the
 * rules (hard at once, soft after 3 in 30 days, removal history,
 * expiry, scopes, domain-wide), keys from the pipeline, the store stage
 * of vl_check(), the temporary-failure rule with a fault backend, and
 * batches.
 *
 * usage: test_store [WHERE]   (a path or a postgresql:// URI; default a
 * fresh SQLite file).  The same cases run against every backend; each
 * case uses its own addresses so the store need not start empty.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "internal.h"
#include "validate.h"

static char where[4096];
static char tmpdir[] = "/tmp/vl-store-XXXXXX";
static const int64_t DAY = 86400;
static int64_t now;
static char run_id[32]; /* unique per run: the PG store outlives runs */
/* Every case runs twice: with lookups from the cache from the first on,
 * and with the backend answering them (the cache not loaded yet). */
static unsigned cache_after;

static vl_store *open_store(int64_t expire_s)
{
    vl_store_config cfg;
    vl_store *st;
    char err[512];

    VL_STORE_CONFIG_INIT(&cfg);
    cfg.expire_after_s = expire_s;
    cfg.cache_after = cache_after;
    if (vl_store_open(where, &cfg, &st, err, sizeof err) != VL_OK)
        fail_msg("open %s: %s", where, err);
    return st;
}

/* An address unique to this run and case. */
static const char *addr(const char *local, const char *domain)
{
    static char buf[8][256];
    static unsigned i;
    char *b = buf[i++ % 8];

    snprintf(b, 256, "%s.%s@%s", local, run_id, domain);
    return b;
}

static vl_status rec(vl_store *st, vl_store_source src, const char *a,
                     const char *scope, int64_t at, int *sup)
{
    vl_store_outcome o = {0};

    o.source = src;
    o.address = a;
    o.address_len = strlen(a);
    o.scope = scope;
    o.at = at;
    o.status = src == VL_SRC_HARD_BOUNCE   ? "5.1.1"
               : src == VL_SRC_SOFT_BOUNCE ? "4.2.2"
                                           : NULL;
    return vl_store_record(st, &o, sup);
}

static vl_status look(vl_store *st, const char *a, const char *scope,
                      vl_store_entry *e)
{
    return vl_store_lookup(st, a, strlen(a), scope, e);
}

static void hard_bounce_suppresses_at_once(void **state)
{
    vl_store *st = open_store(0);
    vl_store_entry e;
    const char *a = addr("Hard", "acme-widgets.com");
    int sup;
    (void)state;

    assert_int_equal(look(st, a, NULL, &e), VL_ENOTFOUND);
    assert_int_equal(rec(st, VL_SRC_HARD_BOUNCE, a, NULL, 0, &sup), VL_OK);
    assert_true(sup);
    assert_int_equal(look(st, a, NULL, &e), VL_OK);
    assert_int_equal(e.source, VL_SRC_HARD_BOUNCE);
    assert_string_equal(e.status, "5.1.1");
    assert_string_equal(e.address, a); /* as first seen */
    assert_int_equal(e.count, 1);
    vl_store_close(st);
}

static void soft_bounces_need_three_in_thirty_days(void **state)
{
    vl_store *st = open_store(0);
    vl_store_entry e;
    const char *a = addr("soft", "acme-widgets.com");
    const char *b = addr("slow", "acme-widgets.com");
    int sup;
    (void)state;

    assert_int_equal(
        rec(st, VL_SRC_SOFT_BOUNCE, a, NULL, now - 20 * DAY, &sup), VL_OK);
    assert_false(sup);
    assert_int_equal(
        rec(st, VL_SRC_SOFT_BOUNCE, a, NULL, now - 10 * DAY, &sup), VL_OK);
    assert_false(sup);
    assert_int_equal(look(st, a, NULL, &e), VL_ENOTFOUND);
    assert_int_equal(vl_store_get(st, a, strlen(a), NULL, &e), VL_OK);
    assert_int_equal(e.soft_count, 2); /* pending, not suppressing */
    assert_false(e.suppressed);
    assert_int_equal(rec(st, VL_SRC_SOFT_BOUNCE, a, NULL, now, &sup), VL_OK);
    assert_true(sup);
    assert_int_equal(look(st, a, NULL, &e), VL_OK);
    assert_int_equal(e.source, VL_SRC_SOFT_BOUNCE);
    /* three, but 45 days apart in all: never three in one window */
    for (int i = 0; i < 3; i++) {
        assert_int_equal(rec(st, VL_SRC_SOFT_BOUNCE, b, NULL,
                             now - (int64_t)(2 - i) * 25 * DAY, &sup),
                         VL_OK);
        assert_false(sup);
    }
    /* one more, in the window of the last two: now it is three */
    assert_int_equal(rec(st, VL_SRC_SOFT_BOUNCE, b, NULL, now - DAY, &sup),
                     VL_OK);
    assert_true(sup);
    vl_store_close(st);
}

static void removal_keeps_history_and_hard_bounce_brings_back(void **state)
{
    vl_store *st = open_store(0);
    vl_store_entry e;
    const char *a = addr("gone", "acme-widgets.com");
    int sup;
    (void)state;

    assert_int_equal(vl_store_remove(st, a, strlen(a), NULL, "alice"),
                     VL_ENOTFOUND);
    assert_int_equal(rec(st, VL_SRC_MANUAL, a, NULL, 0, &sup), VL_OK);
    assert_true(sup);
    assert_int_equal(vl_store_remove(st, a, strlen(a), NULL, "alice"), VL_OK);
    assert_int_equal(look(st, a, NULL, &e), VL_ENOTFOUND);
    assert_int_equal(vl_store_get(st, a, strlen(a), NULL, &e), VL_OK);
    assert_false(e.suppressed);
    assert_string_equal(e.removed_by, "alice");
    assert_true(e.removed_at >= now);
    /* a validation verdict does not overrule a person */
    assert_int_equal(rec(st, VL_SRC_VALIDATION, a, NULL, 0, &sup), VL_OK);
    assert_false(sup);
    /* one soft bounce does not either */
    assert_int_equal(rec(st, VL_SRC_SOFT_BOUNCE, a, NULL, 0, &sup), VL_OK);
    assert_false(sup);
    /* a hard bounce does; the removal stays on record */
    assert_int_equal(rec(st, VL_SRC_HARD_BOUNCE, a, NULL, 0, &sup), VL_OK);
    assert_true(sup);
    assert_int_equal(look(st, a, NULL, &e), VL_OK);
    assert_int_equal(e.source, VL_SRC_HARD_BOUNCE);
    assert_string_equal(e.removed_by, "alice");
    assert_int_equal(e.count, 4);
    vl_store_close(st);
}

/* What validate.h promises of a write through another handle: SQLite's
 * is seen by the next lookup; PostgreSQL's, with the cache on, within
 * cache_check_ms. */
static void settle(vl_store *st)
{
    vl_store_config def;

    VL_STORE_CONFIG_INIT(&def);
    if (cache_after == 0 && strcmp(vl_store_backend(st), "postgresql") == 0)
        usleep((def.cache_check_ms + 20) * 1000);
}

/* Misses are remembered (the cache), but never past another handle's
 * write: a suppression added elsewhere is seen as settle() says. */
static void misses_forgotten_when_another_writes(void **state)
{
    vl_store *a = open_store(0), *b = open_store(0);
    const char *x = addr("later", "acme-widgets.com");
    char dom[300], d[64];
    const char *y;
    (void)state;

    /* the domain too is this run's: both passes share the store */
    snprintf(d, sizeof d, "dom-later-%s.example.net", run_id);
    y = addr("someone", d);
    snprintf(dom, sizeof dom, "@%s", strchr(y, '@') + 1);
    for (int i = 0; i < 3; i++) { /* the second and third are from memory */
        assert_int_equal(look(a, x, NULL, NULL), VL_ENOTFOUND);
        assert_int_equal(look(a, y, NULL, NULL), VL_ENOTFOUND);
    }
    assert_int_equal(rec(b, VL_SRC_MANUAL, x, NULL, 0, NULL), VL_OK);
    settle(a);
    assert_int_equal(look(a, x, NULL, NULL), VL_OK);
    assert_int_equal(look(a, y, NULL, NULL), VL_ENOTFOUND);
    assert_int_equal(rec(b, VL_SRC_MANUAL, dom, NULL, 0, NULL), VL_OK);
    settle(a);
    assert_int_equal(look(a, y, NULL, NULL), VL_OK);
    /* and removal elsewhere shows too */
    assert_int_equal(vl_store_remove(b, x, strlen(x), NULL, "bob"), VL_OK);
    settle(a);
    assert_int_equal(look(a, x, NULL, NULL), VL_ENOTFOUND);
    /* a handle's own writes, at once on every backend */
    assert_int_equal(rec(a, VL_SRC_MANUAL, x, NULL, 0, NULL), VL_OK);
    assert_int_equal(look(a, x, NULL, NULL), VL_OK);
    assert_int_equal(vl_store_remove(a, x, strlen(x), NULL, "bob"), VL_OK);
    assert_int_equal(look(a, x, NULL, NULL), VL_ENOTFOUND);
    vl_store_close(a);
    vl_store_close(b);
}

static void expiry_stops_suppressing(void **state)
{
    vl_store *st = open_store(0), *exp;
    vl_store_entry e;
    const char *old = addr("old", "acme-widgets.com");
    const char *fresh = addr("fresh", "acme-widgets.com");
    (void)state;

    assert_int_equal(
        rec(st, VL_SRC_HARD_BOUNCE, old, NULL, now - 400 * DAY, NULL), VL_OK);
    assert_int_equal(
        rec(st, VL_SRC_HARD_BOUNCE, fresh, NULL, now - 300 * DAY, NULL),
        VL_OK);
    /* off by default */
    assert_int_equal(look(st, old, NULL, &e), VL_OK);
    vl_store_close(st);
    exp = open_store(365 * DAY);
    assert_int_equal(look(exp, old, NULL, &e), VL_ENOTFOUND);
    assert_int_equal(look(exp, fresh, NULL, &e), VL_OK);
    /* the hit was noted: the entry lives on */
    assert_true(e.last_hit >= now);
    assert_int_equal(vl_store_get(exp, fresh, strlen(fresh), NULL, &e), VL_OK);
    assert_true(e.last_hit >= now);
    assert_int_equal(vl_store_get(exp, old, strlen(old), NULL, &e), VL_OK);
    assert_true(e.suppressed);                    /* kept, ... */
    assert_false(vl_store_entry_active(exp, &e)); /* ... not active */
    vl_store_close(exp);
}

static void scopes_and_unscoped(void **state)
{
    vl_store *st = open_store(0);
    vl_store_entry e;
    const char *a = addr("brand", "acme-widgets.com");
    const char *b = addr("every", "acme-widgets.com");
    (void)state;

    assert_int_equal(rec(st, VL_SRC_MANUAL, a, "brand-a", 0, NULL), VL_OK);
    assert_int_equal(look(st, a, "brand-a", &e), VL_OK);
    assert_string_equal(e.scope, "brand-a");
    assert_int_equal(look(st, a, "brand-b", &e), VL_ENOTFOUND);
    assert_int_equal(look(st, a, NULL, &e), VL_ENOTFOUND);
    assert_int_equal(rec(st, VL_SRC_MANUAL, b, NULL, 0, NULL), VL_OK);
    assert_int_equal(look(st, b, "brand-a", &e), VL_OK);
    assert_int_equal(look(st, b, "brand-b", &e), VL_OK);
    assert_int_equal(look(st, b, NULL, &e), VL_OK);
    assert_string_equal(e.scope, "");
    /* removing the scoped entry leaves the unscoped one alone */
    assert_int_equal(rec(st, VL_SRC_MANUAL, b, "brand-a", 0, NULL), VL_OK);
    assert_int_equal(vl_store_remove(st, b, strlen(b), "brand-a", "bob"),
                     VL_OK);
    assert_int_equal(look(st, b, "brand-a", &e), VL_OK);
    assert_string_equal(e.scope, "");
    assert_int_equal(rec(st, VL_SRC_MANUAL, b, "bad scope!", 0, NULL),
                     VL_EINVAL);
    vl_store_close(st);
}

static void domain_wide_entries(void **state)
{
    vl_store *st = open_store(0);
    vl_store_entry e;
    char dom[128], key[VL_STORE_KEY_CAP];
    (void)state;

    snprintf(dom, sizeof dom, "@dead-%s.org", run_id);
    assert_int_equal(rec(st, VL_SRC_MANUAL, dom, NULL, 0, NULL), VL_OK);
    snprintf(key, sizeof key, "Anyone@DEAD-%s.org", run_id);
    assert_int_equal(look(st, key, NULL, &e), VL_OK);
    assert_string_equal(e.key, dom);
    /* keys come from the pipeline: provider rules apply to domains */
    assert_int_equal(vl_store_key(st, "@GoogleMail.com", 15, key, sizeof key),
                     VL_OK);
    assert_string_equal(key, "@gmail.com");
    assert_int_equal(vl_store_key(st, "@münchen.de", strlen("@münchen.de"),
                                  key, sizeof key),
                     VL_OK);
    assert_string_equal(key, "@xn--mnchen-3ya.de");
    assert_int_equal(vl_store_key(st, "not an address", 14, key, sizeof key),
                     VL_EINVAL);
    vl_store_close(st);
}

static void keys_are_the_dedupe_key(void **state)
{
    vl_store *st = open_store(0);
    vl_store_entry e;
    char a[128], b[128];
    (void)state;

    snprintf(a, sizeof a, "Bob.Smith.%s+news@GoogleMail.com", run_id);
    snprintf(b, sizeof b, "bobsmith%s@gmail.com", run_id);
    assert_int_equal(rec(st, VL_SRC_HARD_BOUNCE, a, NULL, 0, NULL), VL_OK);
    assert_int_equal(look(st, b, NULL, &e), VL_OK);
    assert_string_equal(e.key, b);
    assert_string_equal(e.address, a);
    vl_store_close(st);
}

static void status_codes_classify(void **state)
{
    vl_store_source s;
    static const char *hard[] = {"550",       "5.1.1", "550 5.1.1",
                                 "550-5.1.1", "554",   "5.7.1"};
    static const char *soft[] = {"450", "4.2.2", "452 4.2.2", "421"};
    static const char *bad[] = {"250", "2.0.0", "",          "5",       "55",
                                "5.1", "x50",   "550 4.2.2", "5.1.1234"};
    (void)state;

    for (size_t i = 0; i < sizeof hard / sizeof *hard; i++) {
        assert_int_equal(vl_store_status_source(hard[i], &s), VL_OK);
        assert_int_equal(s, VL_SRC_HARD_BOUNCE);
    }
    for (size_t i = 0; i < sizeof soft / sizeof *soft; i++) {
        assert_int_equal(vl_store_status_source(soft[i], &s), VL_OK);
        assert_int_equal(s, VL_SRC_SOFT_BOUNCE);
    }
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++)
        if (vl_store_status_source(bad[i], &s) != VL_EINVAL)
            fail_msg("'%s' classified", bad[i]);
}

static vl_ctx *ctx_with(vl_store *st, const char *scope, unsigned flags)
{
    vl_options opt;
    vl_ctx *ctx;
    char err[256];

    VL_OPTIONS_INIT(&opt);
    opt.flags |= VL_OPT_OFFLINE | flags;
    opt.store = st;
    opt.scope = scope;
    assert_int_equal(vl_ctx_new(&opt, &ctx, err, sizeof err), VL_OK);
    return ctx;
}

static void pipeline_suppresses_before_network(void **state)
{
    vl_store *st = open_store(0);
    vl_ctx *ctx = ctx_with(st, "brand-a", 0);
    vl_ctx *plain = ctx_with(st, NULL, VL_OPT_NO_SPOOF_CHECK);
    vl_result *res;
    char a[128];
    (void)state;

    snprintf(a, sizeof a, "Pipe.Line.%s@GoogleMail.com", run_id);
    assert_int_equal(vl_result_new(&res), VL_OK);
    assert_int_equal(vl_check(ctx, a, strlen(a), res), VL_OK);
    assert_int_equal(vl_result_verdict(res), VL_DELIVERABLE);
    assert_true(vl_result_stages(res) & VL_STAGE_STORE);
    assert_int_equal(rec(st, VL_SRC_HARD_BOUNCE, a, "brand-a", 0, NULL),
                     VL_OK);
    assert_int_equal(vl_check(ctx, a, strlen(a), res), VL_OK);
    assert_int_equal(vl_result_verdict(res), VL_UNDELIVERABLE);
    assert_true(vl_result_has_reason(res, VL_R_SUPPRESSED_HARD_BOUNCE));
    assert_false(vl_result_stages(res) & VL_STAGE_DNS);
    /* other scope: not suppressed */
    assert_int_equal(vl_check(plain, a, strlen(a), res), VL_OK);
    assert_int_equal(vl_result_verdict(res), VL_DELIVERABLE);
    /* a suppressed result is never recorded again */
    int recorded = 1;
    assert_int_equal(vl_check(ctx, a, strlen(a), res), VL_OK);
    assert_int_equal(vl_store_record_result(st, res, "brand-a", &recorded),
                     VL_OK);
    assert_false(recorded);
    assert_string_equal(vl_reason_name(VL_R_SUPPRESSED_MANUAL),
                        "suppressed_manual");
    assert_int_equal(vl_reason_verdict(VL_R_STORE_UNAVAILABLE), VL_UNKNOWN);
    assert_string_equal(vl_stage_name(VL_STAGE_STORE), "store");
    vl_result_free(res);
    vl_ctx_free(ctx);
    vl_ctx_free(plain);
    vl_store_close(st);
}

static void pipeline_without_provider_rules_uses_store_key(void **state)
{
    vl_store *st = open_store(0);
    vl_ctx *ctx = ctx_with(st, NULL, 0);
    vl_options opt;
    vl_ctx *raw;
    vl_result *res;
    char a[128], err[128];
    (void)state;

    VL_OPTIONS_INIT(&opt);
    opt.flags = VL_OPT_OFFLINE; /* no provider rules */
    opt.store = st;
    assert_int_equal(vl_ctx_new(&opt, &raw, err, sizeof err), VL_OK);
    snprintf(a, sizeof a, "x.y.%s@gmail.com", run_id);
    assert_int_equal(rec(st, VL_SRC_MANUAL, a, NULL, 0, NULL), VL_OK);
    snprintf(a, sizeof a, "xy.%s+tag@gmail.com", run_id);
    assert_int_equal(vl_result_new(&res), VL_OK);
    assert_int_equal(vl_check(raw, a, strlen(a), res), VL_OK);
    assert_true(vl_result_has_reason(res, VL_R_SUPPRESSED_MANUAL));
    vl_result_free(res);
    vl_ctx_free(raw);
    vl_ctx_free(ctx);
    vl_store_close(st);
}

static void validation_records_only_permanent(void **state)
{
    vl_store *st = open_store(0);
    vl_ctx *ctx = ctx_with(st, NULL, 0);
    vl_result *res;
    vl_store_entry e;
    char a[128];
    int recorded;
    (void)state;

    assert_int_equal(vl_result_new(&res), VL_OK);
    /* deliverable: nothing */
    snprintf(a, sizeof a, "ok.%s@acme-widgets.com", run_id);
    assert_int_equal(vl_check(ctx, a, strlen(a), res), VL_OK);
    assert_int_equal(vl_store_record_result(st, res, NULL, &recorded), VL_OK);
    assert_false(recorded);
    /* undeliverable but with a temporary failure: never */
    vl__result_add(res, VL_R_NO_SUCH_DOMAIN);
    vl__result_add(res, VL_R_DNS_TIMEOUT);
    assert_int_equal(vl_result_verdict(res), VL_UNDELIVERABLE);
    assert_int_equal(vl_store_record_result(st, res, NULL, &recorded), VL_OK);
    assert_false(recorded);
    assert_int_equal(vl_store_get(st, a, strlen(a), NULL, &e), VL_ENOTFOUND);
    /* a permanent reason: recorded, and then suppressed_validation */
    assert_int_equal(vl_check(ctx, a, strlen(a), res), VL_OK);
    vl__result_add(res, VL_R_NO_SUCH_DOMAIN);
    assert_int_equal(vl_store_record_result(st, res, NULL, &recorded), VL_OK);
    assert_true(recorded);
    assert_int_equal(vl_check(ctx, a, strlen(a), res), VL_OK);
    assert_true(vl_result_has_reason(res, VL_R_SUPPRESSED_VALIDATION));
    assert_int_equal(vl_store_get(st, a, strlen(a), NULL, &e), VL_OK);
    assert_string_equal(e.reason, "no_such_domain");
    /* a syntax error has no key: nothing to record */
    assert_int_equal(vl_check(ctx, "a..b@x.org", 10, res), VL_OK);
    assert_int_equal(vl_store_record_result(st, res, NULL, &recorded), VL_OK);
    assert_false(recorded);
    vl_result_free(res);
    vl_ctx_free(ctx);
    vl_store_close(st);
}

/* ---- a fault backend: everything fails temporarily ------------------ */

static vl_status f_temp(void *be)
{
    (void)be;
    return VL_ETEMP;
}
static void f_void(void *be)
{
    (void)be;
}
static vl_status f_get(void *be, const char *k, const char *s,
                       vl_store_entry *o)
{
    (void)be, (void)k, (void)s, (void)o;
    return VL_ETEMP;
}
static vl_status f_put(void *be, const vl_store_entry *e)
{
    (void)be, (void)e;
    return VL_ETEMP;
}
static vl_status f_find(void *be, const char *k, const char *d, const char *s,
                        int64_t m, vl_store_entry *o)
{
    (void)be, (void)k, (void)d, (void)s, (void)m, (void)o;
    return VL_ETEMP;
}
static vl_status f_touch(void *be, const char *k, const char *s, int64_t a)
{
    (void)be, (void)k, (void)s, (void)a;
    return VL_ETEMP;
}
static vl_status f_iter(void *be, vl_store_entry_cb cb, void *arg)
{
    (void)be, (void)cb, (void)arg;
    return VL_ETEMP;
}
static vl_status f_stats(void *be, vl_store_stats *o)
{
    (void)be, (void)o;
    return VL_ETEMP;
}

static const vl_store_ops fault_ops = {
    .version = VL_STORE_OPS_V1,
    .name = "fault",
    .begin = f_temp,
    .commit = f_temp,
    .rollback = f_void,
    .get = f_get,
    .put = f_put,
    .find = f_find,
    .touch = f_touch,
    .iterate = f_iter,
    .stats = f_stats,
    .close = f_void,
};

static void temporary_failure_is_never_undeliverable(void **state)
{
    vl_store *st;
    vl_ctx *ctx;
    vl_result *res;
    char err[128];
    int sup = 1;
    (void)state;

    assert_int_equal(
        vl_store_open_ops(&fault_ops, NULL, NULL, &st, err, sizeof err),
        VL_OK);
    assert_string_equal(vl_store_backend(st), "fault");
    ctx = ctx_with(st, NULL, 0);
    assert_int_equal(vl_result_new(&res), VL_OK);
    assert_int_equal(vl_check(ctx, "jane@acme-widgets.com", 21, res), VL_OK);
    assert_int_equal(vl_result_verdict(res), VL_UNKNOWN);
    assert_true(vl_result_has_reason(res, VL_R_STORE_UNAVAILABLE));
    assert_int_equal(
        vl_store_lookup(st, "jane@acme-widgets.com", 21, NULL, NULL),
        VL_ETEMP);
    assert_int_equal(
        rec(st, VL_SRC_HARD_BOUNCE, "jane@acme-widgets.com", NULL, 0, &sup),
        VL_ETEMP);
    assert_false(sup);
    /* an unknown verdict is never recorded (not even tried) */
    int recorded = 1;
    assert_int_equal(vl_store_record_result(st, res, NULL, &recorded), VL_OK);
    assert_false(recorded);
    vl_result_free(res);
    vl_ctx_free(ctx);
    vl_store_close(st);
}

static void batches_commit_or_roll_back(void **state)
{
    vl_store *st = open_store(0);
    vl_store_entry e;
    char a[128];
    (void)state;

    assert_int_equal(vl_store_batch_begin(st), VL_OK);
    assert_int_equal(vl_store_batch_begin(st), VL_EINVAL); /* one at once */
    for (int i = 0; i < 100; i++) {
        snprintf(a, sizeof a, "b%d.%s@acme-widgets.com", i, run_id);
        assert_int_equal(rec(st, VL_SRC_HARD_BOUNCE, a, NULL, 0, NULL), VL_OK);
    }
    vl_store_batch_rollback(st);
    assert_int_equal(look(st, a, NULL, &e), VL_ENOTFOUND);
    assert_int_equal(vl_store_batch_begin(st), VL_OK);
    assert_int_equal(rec(st, VL_SRC_HARD_BOUNCE, a, NULL, 0, NULL), VL_OK);
    assert_int_equal(vl_store_batch_commit(st), VL_OK);
    assert_int_equal(look(st, a, NULL, &e), VL_OK);
    vl_store_close(st);
}

static int count_cb(void *arg, const vl_store_entry *e)
{
    if (strstr(e->key, run_id) != NULL)
        ++*(size_t *)arg;
    return 0;
}

static void iterate_and_stats(void **state)
{
    vl_store *st = open_store(0);
    vl_store_stats s;
    size_t n = 0;
    (void)state;

    assert_int_equal(vl_store_iterate(st, count_cb, &n), VL_OK);
    assert_true(n >= 10);
    assert_int_equal(vl_store_stats_get(st, &s), VL_OK);
    assert_true(s.entries >= n);
    assert_true(s.suppressed >= 5);
    assert_true(s.removed >= 1);
    assert_true(s.domains >= 1);
    assert_true(s.by_source[VL_SRC_HARD_BOUNCE] >= 3);
    vl_store_close(st);
}

/* Lookups from several threads on one handle. */
static void *lookup_thread(void *arg)
{
    vl_store *st = arg;
    const char *a = addr("Hard", "acme-widgets.com");
    for (int i = 0; i < 2000; i++)
        if (look(st, a, NULL, NULL) != VL_OK)
            return (void *)1;
    return NULL;
}

static void threads_share_a_handle(void **state)
{
    vl_store *st = open_store(0);
    pthread_t t[4];
    void *r;
    (void)state;

    for (int i = 0; i < 4; i++)
        pthread_create(&t[i], NULL, lookup_thread, st);
    for (int i = 0; i < 4; i++) {
        pthread_join(t[i], &r);
        assert_null(r);
    }
    vl_store_close(st);
}

/* A write by another process: the SQLite handle sees it on the next
 * lookup (the WAL-index header is shared memory, mapped by each
 * process on its own). */
static void another_process_writes(void **state)
{
    vl_store *a = open_store(0);
    const char *x = addr("forked", "acme-widgets.com");
    pid_t pid;
    int status;
    (void)state;

    assert_int_equal(look(a, x, NULL, NULL), VL_ENOTFOUND);
    if ((pid = fork()) == 0) {
        vl_store *b = open_store(0);
        vl_status rc = rec(b, VL_SRC_HARD_BOUNCE, x, NULL, 0, NULL);
        vl_store_close(b);
        _exit(rc == VL_OK ? 0 : 1);
    }
    assert_true(pid > 0);
    assert_int_equal(waitpid(pid, &status, 0), pid);
    assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    settle(a);
    assert_int_equal(look(a, x, NULL, NULL), VL_OK);
    vl_store_close(a);
}

/* A store too big for cache_max_bytes is not cached: the backend answers
 * every lookup, and answers the same. */
static void too_big_for_the_cache(void **state)
{
    vl_store_config cfg;
    vl_store *st;
    vl_store_entry e;
    char err[512], a[128];
    (void)state;

    st = open_store(0);
    assert_int_equal(vl_store_batch_begin(st), VL_OK);
    for (int i = 0; i < 1000; i++) {
        snprintf(a, sizeof a, "big%d.%s@acme-widgets.com", i, run_id);
        assert_int_equal(rec(st, VL_SRC_HARD_BOUNCE, a, NULL, 0, NULL), VL_OK);
    }
    assert_int_equal(vl_store_batch_commit(st), VL_OK);
    vl_store_close(st);
    VL_STORE_CONFIG_INIT(&cfg);
    cfg.cache_after = cache_after;
    cfg.cache_max_bytes = 20000; /* room for 1,024 slots: 768 entries */
    if (vl_store_open(where, &cfg, &st, err, sizeof err) != VL_OK)
        fail_msg("open %s: %s", where, err);
    for (int i = 0; i < 1000; i += 7) {
        snprintf(a, sizeof a, "big%d.%s@acme-widgets.com", i, run_id);
        assert_int_equal(look(st, a, NULL, &e), VL_OK);
        assert_int_equal(e.source, VL_SRC_HARD_BOUNCE);
    }
    snprintf(a, sizeof a, "big1000.%s@acme-widgets.com", run_id);
    assert_int_equal(look(st, a, NULL, &e), VL_ENOTFOUND);
    vl_store_close(st);
}

static void open_rejects_bad_config(void **state)
{
    vl_store_config cfg;
    vl_store *st;
    char err[256];
    (void)state;

    VL_STORE_CONFIG_INIT(&cfg);
    cfg.soft_threshold = 1; /* one soft bounce must never suppress */
    assert_int_equal(vl_store_open(where, &cfg, &st, err, sizeof err),
                     VL_EINVAL);
    assert_null(st);
    assert_int_equal(vl_store_open("/proc/nonexistent/x/store.db", NULL, &st,
                                   err, sizeof err),
                     VL_EIO);
}

int main(int argc, char **argv)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(hard_bounce_suppresses_at_once),
        cmocka_unit_test(misses_forgotten_when_another_writes),
        cmocka_unit_test(soft_bounces_need_three_in_thirty_days),
        cmocka_unit_test(removal_keeps_history_and_hard_bounce_brings_back),
        cmocka_unit_test(expiry_stops_suppressing),
        cmocka_unit_test(scopes_and_unscoped),
        cmocka_unit_test(domain_wide_entries),
        cmocka_unit_test(keys_are_the_dedupe_key),
        cmocka_unit_test(status_codes_classify),
        cmocka_unit_test(pipeline_suppresses_before_network),
        cmocka_unit_test(pipeline_without_provider_rules_uses_store_key),
        cmocka_unit_test(validation_records_only_permanent),
        cmocka_unit_test(temporary_failure_is_never_undeliverable),
        cmocka_unit_test(batches_commit_or_roll_back),
        cmocka_unit_test(iterate_and_stats),
        cmocka_unit_test(threads_share_a_handle),
        cmocka_unit_test(another_process_writes),
        cmocka_unit_test(too_big_for_the_cache),
        cmocka_unit_test(open_rejects_bad_config),
    };
    int rc;

    now = (int64_t)time(NULL);
    if (argc > 1) {
        snprintf(where, sizeof where, "%s", argv[1]);
    } else {
        if (mkdtemp(tmpdir) == NULL)
            return 1;
        snprintf(where, sizeof where, "%s/store.db", tmpdir);
    }
    snprintf(run_id, sizeof run_id, "c%ld%d", (long)now, (int)getpid());
    cache_after = 0;
    rc = cmocka_run_group_tests_name("lookups from the cache", tests, NULL,
                                     NULL);
    snprintf(run_id, sizeof run_id, "d%ld%d", (long)now, (int)getpid());
    cache_after = UINT_MAX;
    rc |= cmocka_run_group_tests_name("lookups from the backend", tests, NULL,
                                      NULL);
    if (argc == 1) {
        char cmd[256];
        snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmpdir);
        if (system(cmd) != 0)
            rc = rc ? rc : 1;
    }
    return rc;
}
