/*
 * test_normalise.c - IDNA (A-label, U-label, invalid labels and their
 * UTS #46 suggestions), NFC of local parts, spoof checks, SMTPUTF8 and
 * the canonical key with and without provider rules.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <string.h>

#include "internal.h"
#include "testutil.h"

static vl_ctx *ctx_plain;

static void check(vl_ctx *c, const char *addr)
{
    assert_int_equal(vl_check(c, addr, strlen(addr), res), VL_OK);
}

typedef struct domain_case {
    const char *in, *ascii, *unicode;
} domain_case;

static void domains_to_a_and_u_labels(void **state)
{
    static const domain_case cases[] = {
        {"u@Acme-Widgets.COM", "acme-widgets.com", "acme-widgets.com"},
        {"u@m\xc3\xbcnchen.de", "xn--mnchen-3ya.de", "m\xc3\xbcnchen.de"},
        {"u@M\xc3\x9cNCHEN.DE", "xn--mnchen-3ya.de", "m\xc3\xbcnchen.de"},
        {"u@XN--MNCHEN-3YA.de", "xn--mnchen-3ya.de", "m\xc3\xbcnchen.de"},
        /* non-transitional: ß stays ß (UTS #46), not "ss" */
        {"u@fa\xc3\x9f.de", "xn--fa-hia.de", "fa\xc3\x9f.de"},
        /* decomposed u + U+0308 is put in NFC first */
        {"u@mu\xcc\x88nchen.de", "xn--mnchen-3ya.de", "m\xc3\xbcnchen.de"},
        {"u@[IPv6:2001:DB8::1]", "[ipv6:2001:db8::1]", "[ipv6:2001:db8::1]"},
    };
    (void)state;
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        check(ctx, cases[i].in);
        assert_string_equal(vl_result_domain_ascii(res), cases[i].ascii);
        assert_string_equal(vl_result_domain_unicode(res), cases[i].unicode);
        assert_int_not_equal(vl_result_verdict(res), VL_UNDELIVERABLE);
    }
}

static void invalid_labels_rejected_with_suggestion(void **state)
{
    (void)state;
    /* full-width letters: DISALLOWED in IDNA2008, mapped by UTS #46 */
    check(ctx, "somename@\xef\xbd\x87\xef\xbd\x8d\xef\xbd\x81\xef\xbd\x89"
               "\xef\xbd\x8c.com");
    assert_int_equal(vl_result_verdict(res), VL_UNDELIVERABLE);
    assert_true(vl_result_has_reason(res, VL_R_IDNA_INVALID));
    assert_string_equal(vl_result_suggestion(res), "somename@gmail.com");
    assert_string_equal(vl_result_address(res), "");
    /* an emoji label has no mapping: no suggestion */
    check(ctx, "u@\xf0\x9f\x98\x86.org");
    assert_true(vl_result_has_reason(res, VL_R_IDNA_INVALID));
    assert_null(vl_result_suggestion(res));
    /* bad punycode */
    check(ctx, "u@xn--zz.com");
    assert_true(vl_result_has_reason(res, VL_R_IDNA_INVALID));
}

static void local_part_nfc_and_smtputf8(void **state)
{
    (void)state;
    check(ctx, "jo\xcc\x88rg@example.org"); /* o + U+0308 */
    assert_string_equal(vl_result_address(res), "j\xc3\xb6rg@example.org");
    assert_true(vl_result_smtputf8(res));
    check(ctx, "joerg@m\xc3\xbcnchen.de"); /* IDN domain alone: A-label */
    assert_false(vl_result_smtputf8(res));
}

static void confusables_are_risky(void **state)
{
    (void)state;
    check(ctx, "x@p\xd0\xb0ypal.com"); /* Cyrillic a in a Latin word */
    assert_true(vl_result_has_reason(res, VL_R_CONFUSABLE));
    assert_int_equal(vl_result_verdict(res), VL_RISKY);
    check(ctx, "x@\xd0\xb0\xd1\x80\xd1\x80\xd3\x8f\xd0\xb5.com"); /* аррӏе */
    assert_true(vl_result_has_reason(res, VL_R_CONFUSABLE));
    check(ctx, "x@m\xc3\xbcnchen.de"); /* plain Latin with umlaut */
    assert_false(vl_result_has_reason(res, VL_R_CONFUSABLE));
    check(ctx, "x@\xe4\xbe\x8b\xe3\x81\x88.jp"); /* 例え: Han+Hiragana */
    assert_false(vl_result_has_reason(res, VL_R_CONFUSABLE));
    check(ctx, "x@\xd0\xbf\xd1\x80\xd0\xb8\xd0\xbc\xd0\xb5\xd1\x80.\xd1\x80"
               "\xd1\x84"); /* пример.рф: all Cyrillic, not ASCII-like */
    assert_false(vl_result_has_reason(res, VL_R_CONFUSABLE));
}

typedef struct key_case {
    const char *in, *with_rules, *without;
} key_case;

static void canonical_keys(void **state)
{
    static const key_case cases[] = {
        {"First.Last+News@GoogleMail.com", "firstlast@gmail.com",
         "first.last+news@googlemail.com"},
        {"f.i.r.s.t@gmail.com", "first@gmail.com", "f.i.r.s.t@gmail.com"},
        {"Bob+tag@Outlook.com", "bob@outlook.com", "bob+tag@outlook.com"},
        {"bob+tag@example.com", "bob+tag@example.com", "bob+tag@example.com"},
        {"+tag@gmail.com", "+tag@gmail.com", "+tag@gmail.com"},
        {"J\xc3\x96RG@M\xc3\xbcnchen.de", "j\xc3\xb6rg@xn--mnchen-3ya.de",
         "j\xc3\xb6rg@xn--mnchen-3ya.de"},
        {"Stra\xc3\x9f"
         "e@example.de",
         "strasse@example.de",
         "strasse@example.de"}, /* full case folding: ß -> ss */
        {"\"A.B+c\"@gmail.com", "\"a.b+c\"@gmail.com", "\"a.b+c\"@gmail.com"},
    };
    (void)state;
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        check(ctx, cases[i].in);
        assert_string_equal(vl_result_canonical(res), cases[i].with_rules);
        check(ctx_plain, cases[i].in);
        assert_string_equal(vl_result_canonical(res), cases[i].without);
    }
}

static int setup_both(void **state)
{
    ctx_plain = offline_ctx(0, VL_OPT_PROVIDER_RULES);
    return ctx_plain != NULL ? setup(state) : -1;
}

static int teardown_both(void **state)
{
    vl_ctx_free(ctx_plain);
    return teardown(state);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(domains_to_a_and_u_labels),
        cmocka_unit_test(invalid_labels_rejected_with_suggestion),
        cmocka_unit_test(local_part_nfc_and_smtputf8),
        cmocka_unit_test(confusables_are_risky),
        cmocka_unit_test(canonical_keys),
    };
    return cmocka_run_group_tests(tests, setup_both, teardown_both);
}
