/*
 * test_corpora.c - run every case of the public conformance suites in
 * tests/corpora/ (isemail, @hapi/address, validator.js; licences in
 * tests/corpora/README.md) through the syntax and normalisation stages
 * and compare with the "mailbox" column: accept or reject.
 *
 * The question each row asks is "is this string, exactly as given, an
 * RFC 5321 Mailbox (RFC 6531 UTF-8 allowed)?", so no trimming here: the
 * stages are called directly, not through vl_check().  A row we answer
 * differently must be listed in 'disagreements' with the RFC clause
 * that decides it; a listed row that agrees again fails too, so the
 * list stays honest.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"
#include "testutil.h"

typedef struct disagreement {
    const char *file;
    const char *address_json; /* the TSV's address cell, exactly */
    const char *why;
} disagreement;

/* None at present. */
static const disagreement disagreements[] = {
    {NULL, NULL, NULL},
};

static int hexval(int c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    c |= 0x20;
    return (c >= 'a' && c <= 'f') ? c - 'a' + 10 : -1;
}

static size_t put_utf8(unsigned cp, char *out)
{
    if (cp < 0x80) {
        out[0] = (char)cp;
        return 1;
    }
    if (cp < 0x800) {
        out[0] = (char)(0xC0 | (cp >> 6));
        out[1] = (char)(0x80 | (cp & 0x3F));
        return 2;
    }
    if (cp < 0x10000) { /* lone surrogates too: ED A0 80, as check.py */
        out[0] = (char)(0xE0 | (cp >> 12));
        out[1] = (char)(0x80 | ((cp >> 6) & 0x3F));
        out[2] = (char)(0x80 | (cp & 0x3F));
        return 3;
    }
    out[0] = (char)(0xF0 | (cp >> 18));
    out[1] = (char)(0x80 | ((cp >> 12) & 0x3F));
    out[2] = (char)(0x80 | ((cp >> 6) & 0x3F));
    out[3] = (char)(0x80 | (cp & 0x3F));
    return 4;
}

static int read_u4(const char *s, unsigned *cp)
{
    unsigned v = 0;
    for (int i = 0; i < 4; i++) {
        int h = hexval((unsigned char)s[i]);
        if (h < 0)
            return -1;
        v = v * 16 + (unsigned)h;
    }
    *cp = v;
    return 0;
}

/* Decode a JSON string literal (with its quotes) of 'n' bytes. */
static long decode_json(const char *s, size_t n, char *out)
{
    size_t w = 0;
    if (n < 2 || s[0] != '"' || s[n - 1] != '"')
        return -1;
    for (size_t i = 1; i + 1 < n; i++) {
        if (s[i] != '\\') {
            out[w++] = s[i];
            continue;
        }
        char e = s[++i];
        unsigned cp;
        switch (e) {
        case 'b':
            out[w++] = '\b';
            break;
        case 'f':
            out[w++] = '\f';
            break;
        case 'n':
            out[w++] = '\n';
            break;
        case 'r':
            out[w++] = '\r';
            break;
        case 't':
            out[w++] = '\t';
            break;
        case 'u':
            if (i + 4 >= n || read_u4(s + i + 1, &cp) < 0)
                return -1;
            i += 4;
            if (cp >= 0xD800 && cp < 0xDC00 && i + 6 < n && s[i + 1] == '\\' &&
                s[i + 2] == 'u') {
                unsigned lo;
                if (read_u4(s + i + 3, &lo) == 0 && lo >= 0xDC00 &&
                    lo < 0xE000) {
                    cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
                    i += 6;
                }
            }
            w += put_utf8(cp, out + w);
            break;
        default:
            out[w++] = e;
            break;
        }
    }
    return (long)w;
}

/* accept = the syntax stage passes and normalisation rejects nothing */
static bool accepts(const char *s, size_t len)
{
    vl__syntax_parts p;
    vl_result *res;

    if (vl__syntax_parse(s, len, &p) != VL__SYNTAX_OK)
        return false;
    assert_int_equal(vl_result_new(&res), VL_OK);
    vl__result_reset(res);
    assert_int_equal(vl__normalise(ctx, s, &p, res), VL_OK);
    bool ok = res->verdict != VL_UNDELIVERABLE;
    vl_result_free(res);
    return ok;
}

static const disagreement *listed(const char *file, const char *cell)
{
    for (size_t i = 0; disagreements[i].file != NULL; i++)
        if (strcmp(disagreements[i].file, file) == 0 &&
            strcmp(disagreements[i].address_json, cell) == 0)
            return &disagreements[i];
    return NULL;
}

static void run_file(const char *name)
{
    char path[512], line[8192], addr[8192];
    size_t rows = 0, bad = 0;
    FILE *f;

    snprintf(path, sizeof path, "%s/%s", VL_CORPORA_DIR, name);
    assert_non_null(f = fopen(path, "r"));
    assert_non_null(fgets(line, sizeof line, f)); /* header */
    while (fgets(line, sizeof line, f) != NULL) {
        char *tab1 = strchr(line, '\t');
        assert_non_null(tab1);
        char *tab2 = strchr(tab1 + 1, '\t');
        assert_non_null(tab2);
        *tab1 = '\0';
        *tab2 = '\0';
        long n = decode_json(line, strlen(line), addr);
        assert_true(n >= 0);
        bool want = strcmp(tab1 + 1, "accept") == 0;
        bool got = accepts(addr, (size_t)n);
        const disagreement *d = listed(name, line);
        rows++;
        if ((got != want) != (d != NULL)) {
            bad++;
            print_error("%s: %s: want %s, got %s%s\n", name, line,
                        want ? "accept" : "reject", got ? "accept" : "reject",
                        d ? " (listed as a disagreement)" : "");
        }
    }
    fclose(f);
    print_message("%s: %zu rows, %zu unexplained\n", name, rows, bad);
    assert_true(rows > 100);
    assert_int_equal(bad, 0);
}

static void isemail(void **state)
{
    (void)state;
    run_file("isemail.tsv");
}

static void hapi_address(void **state)
{
    (void)state;
    run_file("hapi-address.tsv");
}

static void validator_js(void **state)
{
    (void)state;
    run_file("validator.tsv");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(isemail),
        cmocka_unit_test(hapi_address),
        cmocka_unit_test(validator_js),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
