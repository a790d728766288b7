/*
 * test_check.c - the whole offline pipeline through the public API:
 * trimming, worst-verdict-wins, the JSON form, the reason table, options
 * from an older (smaller) struct, concurrent checks on one context, and
 * vl_check_many_async() on an offline context (every callback at once).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "validate.h"
#include "testutil.h"

static void check(const char *addr, size_t len)
{
    assert_int_equal(vl_check(ctx, addr, len, res), VL_OK);
}

static void trims_paste_debris(void **state)
{
    static const char in[] = "\xef\xbb\xbf \t jane@acme-widgets.com\xc2\xa0"
                             "\xe2\x80\x8b\r\n";
    (void)state;
    check(in, sizeof in - 1);
    assert_int_equal(vl_result_verdict(res), VL_DELIVERABLE);
    assert_string_equal(vl_result_address(res), "jane@acme-widgets.com");
    check("   ", 3);
    assert_true(vl_result_has_reason(res, VL_R_SYNTAX_EMPTY));
}

static void worst_verdict_wins_and_reasons_kept(void **state)
{
    (void)state;
    /* role (risky) + reserved domain (undeliverable) */
    check("info@shop.example.com", 21);
    assert_int_equal(vl_result_verdict(res), VL_UNDELIVERABLE);
    assert_true(vl_result_has_reason(res, VL_R_ROLE));
    assert_true(vl_result_has_reason(res, VL_R_RESERVED_DOMAIN));
    /* free provider (deliverable) + role (risky) */
    check("admin@gmail.com", 15);
    assert_int_equal(vl_result_verdict(res), VL_RISKY);
    assert_int_equal(vl_result_reason_count(res), 2);
    assert_int_equal(vl_result_reason(res, 0), VL_R_ROLE);
    assert_int_equal(vl_result_reason(res, 1), VL_R_FREE_PROVIDER);
    assert_int_equal(vl_result_stages(res),
                     VL_STAGE_SYNTAX | VL_STAGE_NORMALISE | VL_STAGE_TABLES);
    /* a syntax error stops the walk */
    check("a..b@gmail.com", 14);
    assert_int_equal(vl_result_stages(res), VL_STAGE_SYNTAX);
    assert_int_equal(vl_result_reason_count(res), 1);
    assert_int_equal(vl_result_error_offset(res), 2);
    assert_string_equal(vl_result_canonical(res), "");
}

static void json_has_every_field(void **state)
{
    char buf[4096];
    (void)state;
    check("Bob.Smith+x@GoogleMail.com", 26);
    size_t n = vl_result_json(res, "Bob.Smith+x@GoogleMail.com", 26, 0, buf,
                              sizeof buf);
    assert_int_equal(n, strlen(buf));
    assert_string_equal(
        buf, "{\"input\":\"Bob.Smith+x@GoogleMail.com\",\"verdict\":"
             "\"deliverable\",\"reasons\":[\"free_provider\"],\"address\":"
             "\"Bob.Smith+x@googlemail.com\",\"domain_ascii\":"
             "\"googlemail.com\",\"domain_unicode\":\"googlemail.com\","
             "\"canonical\":\"bobsmith@gmail.com\",\"suggestion\":null,"
             "\"smtputf8\":false,\"stages\":[\"syntax\",\"normalise\","
             "\"tables\"]}");
}

static void json_escapes_and_replaces(void **state)
{
    static const char in[] = "a\"\\\x01\xff@x.com";
    char buf[4096];
    (void)state;
    check(in, sizeof in - 1);
    vl_result_json(res, in, sizeof in - 1, 0, buf, sizeof buf);
    assert_non_null(strstr(buf, "\"input\":\"a\\\"\\\\\\u0001\xef\xbf\xbd@"
                                "x.com\""));
    assert_non_null(strstr(buf, "\"reasons\":[\"syntax_control_char\"]"));
    assert_non_null(strstr(buf, "\"error_offset\":3"));
}

static void json_cuts_long_input_and_sizes_like_snprintf(void **state)
{
    char *big = malloc(5000), small[16], buf[4096];
    (void)state;
    memset(big, 'a', 5000);
    memcpy(big + 1023, "\xc3\xa9", 2); /* é straddles the cut at 1024 */
    check(big, 5000);
    assert_int_equal(vl_result_verdict(res), VL_UNDELIVERABLE);
    size_t need = vl_result_json(res, big, 5000, 0, small, sizeof small);
    assert_true(need >= sizeof small);
    assert_int_equal(strlen(small), sizeof small - 1);
    assert_int_equal(vl_result_json(res, big, 5000, 0, buf, sizeof buf), need);
    assert_non_null(strstr(buf, "\"input_truncated\":true"));
    /* the cut fell back to 1023 bytes rather than split the é */
    const char *q = strstr(buf, "\",\"input_truncated\"");
    assert_int_equal(q - (buf + strlen("{\"input\":\"")), 1023);
    free(big);
}

static void reason_table_is_consistent(void **state)
{
    (void)state;
    for (int i = 0; i < VL_R__COUNT; i++) {
        const char *name = vl_reason_name((vl_reason)i);
        vl_reason back;
        assert_non_null(name);
        for (const char *p = name; *p; p++)
            assert_true((*p >= 'a' && *p <= 'z') || *p == '_' ||
                        (*p >= '0' && *p <= '9'));
        assert_int_equal(vl_reason_from_name(name, strlen(name), &back),
                         VL_OK);
        assert_int_equal(back, i);
        for (int j = 0; j < i; j++)
            assert_string_not_equal(name, vl_reason_name((vl_reason)j));
    }
    assert_null(vl_reason_name(VL_R__COUNT));
    assert_string_equal(vl_reason_name(VL_R_SYNTAX_CONSECUTIVE_DOTS),
                        "syntax_consecutive_dots");
    assert_string_equal(vl_strerror(VL_ETEMP), "temporary failure");
}

/* An older caller knew only struct_size and flags. */
typedef struct old_options {
    size_t struct_size;
    unsigned flags;
} old_options;

static void options_from_smaller_struct(void **state)
{
    old_options old = {sizeof old, VL_OPT_OFFLINE};
    vl_ctx *c;
    (void)state;
    assert_int_equal(vl_ctx_new((const vl_options *)&old, &c, NULL, 0), VL_OK);
    assert_int_equal(vl_check(c, "a.b@gmail.com", 13, res), VL_OK);
    assert_string_equal(vl_result_canonical(res), "a.b@gmail.com");
    vl_ctx_free(c);
    vl_ctx_free(NULL);
    vl_result_free(NULL);
}

/* Threads share the context, each with its own result, and must get the
 * answers one thread gets. */
static const char *const mix[] = {
    "jörg@münchen.de",  "x@pаypal.com",     "a..b@x.com",
    "info@gmial.con",   "u@[IPv6:::1]",     "Bob+t@GoogleMail.com",
    "x@ｇｍａｉｌ.com", "x@mailinator.com", "\"q\"@acme.io",
};
enum { N_MIX = sizeof mix / sizeof *mix, ROUNDS = 2000 };
static char expect[N_MIX][2048];

static void *worker(void *arg)
{
    vl_result *r;
    char buf[2048];
    long bad = 0;
    (void)arg;
    if (vl_result_new(&r) != VL_OK)
        return (void *)1;
    for (int k = 0; k < ROUNDS; k++) {
        int i = k % N_MIX;
        vl_check(ctx, mix[i], strlen(mix[i]), r);
        vl_result_json(r, mix[i], strlen(mix[i]), 0, buf, sizeof buf);
        bad += strcmp(buf, expect[i]) != 0;
    }
    vl_result_free(r);
    return (void *)bad;
}

static void concurrent_checks_on_one_context(void **state)
{
    pthread_t t[4];
    (void)state;
    for (int i = 0; i < N_MIX; i++) {
        check(mix[i], strlen(mix[i]));
        vl_result_json(res, mix[i], strlen(mix[i]), 0, expect[i],
                       sizeof expect[i]);
    }
    for (int i = 0; i < 4; i++)
        assert_int_equal(pthread_create(&t[i], NULL, worker, NULL), 0);
    for (int i = 0; i < 4; i++) {
        void *bad;
        assert_int_equal(pthread_join(t[i], &bad), 0);
        assert_null(bad);
    }
}

/* Offline, vl_check_many_async() answers every item before it returns,
 * into the item's own result, as vl_check() would. */
typedef struct seen {
    int calls[N_MIX];
    int bad;
} seen;

static seen many_seen;
static vl_check_item many_items[N_MIX];

static void many_count(void *arg, vl_status st, vl_result *r)
{
    size_t i = (size_t)((vl_check_item *)arg - many_items);
    char buf[2048];

    many_seen.calls[i]++;
    vl_result_json(r, mix[i], strlen(mix[i]), 0, buf, sizeof buf);
    if (st != VL_OK || r != many_items[i].res || strcmp(buf, expect[i]) != 0)
        many_seen.bad++;
}

static void many_async_offline(void **state)
{
    vl_result *rs[N_MIX];
    vl_check_item bad = {"a@b.c", 5, NULL, NULL};

    (void)state;
    for (int i = 0; i < N_MIX; i++) {
        check(mix[i], strlen(mix[i]));
        vl_result_json(res, mix[i], strlen(mix[i]), 0, expect[i],
                       sizeof expect[i]);
        assert_int_equal(vl_result_new(&rs[i]), VL_OK);
        many_items[i] =
            (vl_check_item){mix[i], strlen(mix[i]), rs[i], &many_items[i]};
    }
    assert_int_equal(vl_check_many_async(ctx, many_items, N_MIX, many_count),
                     VL_OK);
    for (int i = 0; i < N_MIX; i++)
        assert_int_equal(many_seen.calls[i], 1);
    assert_int_equal(many_seen.bad, 0);
    /* a bad item: VL_EINVAL and no callback at all */
    assert_int_equal(vl_check_many_async(ctx, &bad, 1, many_count), VL_EINVAL);
    assert_int_equal(vl_check_many_async(ctx, many_items, N_MIX, NULL),
                     VL_EINVAL);
    assert_int_equal(vl_check_many_async(ctx, NULL, 0, many_count), VL_OK);
    for (int i = 0; i < N_MIX; i++) {
        assert_int_equal(many_seen.calls[i], 1);
        vl_result_free(rs[i]);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(trims_paste_debris),
        cmocka_unit_test(worst_verdict_wins_and_reasons_kept),
        cmocka_unit_test(json_has_every_field),
        cmocka_unit_test(json_escapes_and_replaces),
        cmocka_unit_test(json_cuts_long_input_and_sizes_like_snprintf),
        cmocka_unit_test(reason_table_is_consistent),
        cmocka_unit_test(options_from_smaller_struct),
        cmocka_unit_test(concurrent_checks_on_one_context),
        cmocka_unit_test(many_async_offline),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
