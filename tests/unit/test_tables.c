/*
 * test_tables.c - the hash sets, the compiled-in tables, run-time table
 * files (extend, remove, errors with file and line) and the table stage:
 * disposable (with parent domains), free-mail, role, typo suggestions,
 * reserved names, unknown TLDs and dotless domains.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <string.h>

#include "internal.h"
#include "testutil.h"

static void check(vl_ctx *c, const char *addr)
{
    assert_int_equal(vl_check(c, addr, strlen(addr), res), VL_OK);
}

static void strset_put_del_grow(void **state)
{
    vl__strset s;
    char keys[2000][8];

    (void)state;
    assert_int_equal(vl__strset_init(&s, 4, false), VL_OK);
    for (int i = 0; i < 2000; i++) {
        snprintf(keys[i], sizeof keys[i], "k%d", i);
        assert_int_equal(vl__strset_put(&s, keys[i], strlen(keys[i]), NULL, 0),
                         VL_OK);
    }
    assert_int_equal(s.count, 2000);
    for (int i = 0; i < 2000; i += 2)
        vl__strset_del(&s, keys[i], strlen(keys[i]));
    assert_int_equal(s.count, 1000);
    for (int i = 0; i < 2000; i++)
        assert_int_equal(vl__strset_has(&s, keys[i], strlen(keys[i])),
                         i % 2 == 1);
    assert_false(vl__strset_has(&s, "k1", 1)); /* prefix is not a key */
    vl__strset_free(&s);
}

static void disposable_matches_parents(void **state)
{
    (void)state;
    check(ctx, "x@mailinator.com");
    assert_true(vl_result_has_reason(res, VL_R_DISPOSABLE));
    assert_int_equal(vl_result_verdict(res), VL_RISKY);
    check(ctx, "x@deep.sub.mailinator.com");
    assert_true(vl_result_has_reason(res, VL_R_DISPOSABLE));
    check(ctx, "x@xmailinator.com");
    assert_false(vl_result_has_reason(res, VL_R_DISPOSABLE));
}

static void free_and_role(void **state)
{
    (void)state;
    check(ctx, "someone@gmail.com");
    assert_true(vl_result_has_reason(res, VL_R_FREE_PROVIDER));
    assert_int_equal(vl_result_verdict(res), VL_DELIVERABLE);
    check(ctx, "Info+promo@acme-widgets.com");
    assert_true(vl_result_has_reason(res, VL_R_ROLE));
    assert_int_equal(vl_result_verdict(res), VL_RISKY);
    check(ctx, "postmaster@acme-widgets.com");
    assert_true(vl_result_has_reason(res, VL_R_ROLE));
    check(ctx, "jane.doe@acme-widgets.com");
    assert_int_equal(vl_result_reason_count(res), 0);
    assert_int_equal(vl_result_verdict(res), VL_DELIVERABLE);
}

typedef struct typo_case {
    const char *in, *suggestion; /* NULL: no suggestion expected */
} typo_case;

static void typo_suggestions(void **state)
{
    static const typo_case cases[] = {
        {"a@gmial.com", "a@gmail.com"},      /* table */
        {"a@gmail.con", "a@gmail.com"},      /* TLD slip */
        {"a@gmial.con", "a@gmail.com"},      /* both */
        {"a@hotmaill.com", "a@hotmail.com"}, /* one insertion (fuzzy) */
        {"a@outlok.com", "a@outlook.com"},   /* one deletion */
        {"a@yahooo.com", "a@yahoo.com"},
        {"a@gmail", "a@gmail.com"},   /* dotless provider name */
        {"a@acme.con", "a@acme.com"}, /* TLD slip, any domain */
        {"a@gmail.com", NULL},
        {"a@mail.com", NULL}, /* a real provider */
        {"a@ymail.com", NULL},
        {"a@life.com", NULL}, /* short: never fuzzy */
        {"a@acme-widgets.com", NULL},
        {"a@gmail.co", "a@gmail.com"}, /* fuzzy, though .co is real */
    };
    (void)state;
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        check(ctx, cases[i].in);
        const char *got = vl_result_suggestion(res);
        if (cases[i].suggestion == NULL) {
            if (got != NULL)
                fail_msg("%s: unexpected suggestion %s", cases[i].in, got);
            assert_false(vl_result_has_reason(res, VL_R_POSSIBLE_TYPO));
            continue;
        }
        if (got == NULL || strcmp(got, cases[i].suggestion) != 0)
            fail_msg("%s: suggestion %s, want %s", cases[i].in,
                     got ? got : "(none)", cases[i].suggestion);
        assert_true(vl_result_has_reason(res, VL_R_POSSIBLE_TYPO));
        assert_true(vl_result_verdict(res) >= VL_RISKY);
    }
}

static void reserved_tld_and_dotless(void **state)
{
    (void)state;
    check(ctx, "a@foo.test");
    assert_true(vl_result_has_reason(res, VL_R_RESERVED_DOMAIN));
    assert_int_equal(vl_result_verdict(res), VL_UNDELIVERABLE);
    check(ctx, "a@mail.example.org");
    assert_true(vl_result_has_reason(res, VL_R_RESERVED_DOMAIN));
    check(ctx, "a@notexample.org");
    assert_false(vl_result_has_reason(res, VL_R_RESERVED_DOMAIN));
    check(ctx, "a@x.no-such-tld");
    assert_true(vl_result_has_reason(res, VL_R_UNKNOWN_TLD));
    check(ctx, "a@shop.xn--p1ai"); /* .рф is in the PSL */
    assert_false(vl_result_has_reason(res, VL_R_UNKNOWN_TLD));
    check(ctx, "a@company");
    assert_true(vl_result_has_reason(res, VL_R_SINGLE_LABEL_DOMAIN));
}

static void table_files_extend_and_remove(void **state)
{
    vl_options opt;
    vl_ctx *c;
    char err[256];

    (void)state;
    VL_OPTIONS_INIT(&opt);
    opt.flags |= VL_OPT_OFFLINE;
    opt.disposable_file = VL_TESTDATA_DIR "/disposable_extra.txt";
    opt.typo_file = VL_TESTDATA_DIR "/typos_extra.txt";
    assert_int_equal(vl_ctx_new(&opt, &c, err, sizeof err), VL_OK);
    check(c, "x@throwaway-test.example-corp.io");
    assert_true(vl_result_has_reason(res, VL_R_DISPOSABLE));
    check(c, "x@spaced-upper.org"); /* trimmed, lower-cased entry */
    assert_true(vl_result_has_reason(res, VL_R_DISPOSABLE));
    check(c, "x@mailinator.com"); /* removed by "!mailinator.com" */
    assert_false(vl_result_has_reason(res, VL_R_DISPOSABLE));
    check(c, "x@acmee.com");
    assert_string_equal(vl_result_suggestion(res), "x@acme.com");
    vl_ctx_free(c);
}

static void table_file_errors_name_file_and_line(void **state)
{
    vl_options opt;
    vl_ctx *c = (vl_ctx *)1;
    char err[256];

    (void)state;
    VL_OPTIONS_INIT(&opt);
    opt.flags |= VL_OPT_OFFLINE;
    opt.typo_file = VL_TESTDATA_DIR "/typos_bad.txt";
    assert_int_equal(vl_ctx_new(&opt, &c, err, sizeof err), VL_EDATA);
    assert_null(c);
    assert_non_null(strstr(err, "typos_bad.txt:2:"));
    opt.typo_file = VL_TESTDATA_DIR "/no-such-file.txt";
    assert_int_equal(vl_ctx_new(&opt, &c, err, sizeof err), VL_EIO);
    assert_non_null(strstr(err, "no-such-file.txt"));
}

/* The compiled-in lists are trusted at start-up; here every entry goes
 * through the checks that run-time files get. */
static void builtin_lists_pass_file_checks(void **state)
{
    vl_options opt;
    vl_ctx *c;
    char err[256];

    (void)state;
    VL_OPTIONS_INIT(&opt);
    opt.flags |= VL_OPT_OFFLINE;
    opt.disposable_file = VL_DATA_DIR "/disposable.txt";
    opt.free_file = VL_DATA_DIR "/free.txt";
    opt.role_file = VL_DATA_DIR "/role.txt";
    opt.typo_file = VL_DATA_DIR "/typos.txt";
    if (vl_ctx_new(&opt, &c, err, sizeof err) != VL_OK)
        fail_msg("built-in list rejected: %s", err);
    vl_ctx_free(c);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(strset_put_del_grow),
        cmocka_unit_test(disposable_matches_parents),
        cmocka_unit_test(free_and_role),
        cmocka_unit_test(typo_suggestions),
        cmocka_unit_test(reserved_tld_and_dotless),
        cmocka_unit_test(table_files_extend_and_remove),
        cmocka_unit_test(table_file_errors_name_file_and_line),
        cmocka_unit_test(builtin_lists_pass_file_checks),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
