/*
 * fuzz_syntax.c - libFuzzer harness for the syntax stage and the whole
 * offline pipeline behind vl_check(): syntax, normalisation, tables
 * and the JSON writer.
 *
 * Every input is untrusted bytes (the CLI reads them from any file or
 * pipe), so besides the sanitizers' memory and UB checks the harness
 * asserts what validate.h and internal.h promise for *every* input:
 *
 *  - vl__syntax_parse(): an accepted mailbox lies inside the input,
 *    "local@domain" with local part <= 64 octets and the whole <= 254;
 *    a rejection has an offset inside the input and a reason that
 *    implies undeliverable on its own;
 *  - vl_check() returns VL_OK however bad the input; the verdict is the
 *    worst verdict its reasons imply; every string is NUL-terminated,
 *    valid UTF-8 without control characters (so it is safe in a log
 *    line, a DNS query or on the SMTP wire); a result that is not
 *    undeliverable has an address, an ASCII domain and a canonical key;
 *  - vl_result_json() sizes itself like snprintf and writes one valid
 *    UTF-8 object without raw control bytes.
 *
 * A broken promise ends in __builtin_trap() after a line on stderr, so
 * libFuzzer keeps the input.  The same code replays the seed corpus in
 * the ordinary build (replay.c), so the corpus runs on every ctest.
 *
 * Everything is freed per input except the context, made once and
 * offline (no DNS): leak detection stays meaningful.
 */
#include "internal.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz_check.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Default options but offline: no loop thread and no DNS query, so an
 * input's outcome depends on its bytes alone and runs stay fast. */
static vl_ctx *get_ctx(void)
{
    static vl_ctx *ctx;
    vl_options opt;
    char err[256];

    if (ctx != NULL)
        return ctx;
    VL_OPTIONS_INIT(&opt);
    opt.flags |= VL_OPT_OFFLINE;
    if (vl_ctx_new(&opt, &ctx, err, sizeof err) != VL_OK) {
        fprintf(stderr, "fuzz_syntax: vl_ctx_new: %s\n", err);
        abort();
    }
    return ctx;
}

/* Length of the well-formed UTF-8 sequence at s[0] (RFC 3629 §4), or 0:
 * no overlongs, surrogates or code points past U+10FFFF.  Written here
 * rather than shared with the library, so a bug there is not copied. */
static size_t utf8_len(const unsigned char *s, size_t n)
{
    unsigned char c = s[0];
    size_t need;

    if (c < 0x80)
        return 1;
    if (c < 0xC2 || c > 0xF4)
        return 0;
    need = c < 0xE0 ? 2 : c < 0xF0 ? 3 : 4;
    if (need > n)
        return 0;
    for (size_t i = 1; i < need; i++)
        if ((s[i] & 0xC0) != 0x80)
            return 0;
    if ((c == 0xE0 && s[1] < 0xA0) || (c == 0xED && s[1] > 0x9F) ||
        (c == 0xF0 && s[1] < 0x90) || (c == 0xF4 && s[1] > 0x8F))
        return 0;
    return need;
}

/* Valid UTF-8 with no byte below 0x20; with 'strict' also no DEL and
 * no C1 control (U+0080..U+009F), as syntax.c bars them from input. */
static int clean_utf8(const char *str, size_t n, int strict)
{
    const unsigned char *s = (const unsigned char *)str;

    for (size_t i = 0; i < n;) {
        size_t k = utf8_len(s + i, n - i);
        if (k == 0 || s[i] < 0x20)
            return 0;
        if (strict && (s[i] == 0x7F || (s[i] == 0xC2 && s[i + 1] < 0xA0)))
            return 0;
        i += k;
    }
    return 1;
}

/* An accessor's string: non-NULL, NUL-terminated within its field,
 * clean.  Returns its length. */
static size_t check_string(const char *s)
{
    CHECK(s != NULL);
    const char *nul = memchr(s, '\0', VL__FIELD_CAP);
    CHECK(nul != NULL);
    size_t n = (size_t)(nul - s);
    CHECK(clean_utf8(s, n, 1));
    return n;
}

static int is_ascii(const char *s)
{
    for (; *s; s++)
        if ((unsigned char)*s >= 0x80)
            return 0;
    return 1;
}

static void check_syntax(const uint8_t *data, size_t size)
{
    vl__syntax_parts p;
    vl_reason r = vl__syntax_parse((const char *)data, size, &p);

    if (r == VL__SYNTAX_OK) {
        CHECK(size <= VL__ADDRESS_MAX);
        CHECK(p.local_len >= 1 && p.local_len <= VL__LOCAL_MAX);
        CHECK(p.local_off + p.local_len <= size);
        CHECK(p.domain_off == p.local_len + 1);
        CHECK(data[p.domain_off - 1] == '@');
        CHECK(p.domain_len >= 1);
        CHECK(p.domain_off + p.domain_len <= size);
        return;
    }
    CHECK((unsigned)r < VL_R__COUNT);
    CHECK(vl_reason_name(r) != NULL);
    CHECK(vl_reason_verdict(r) == VL_UNDELIVERABLE);
    CHECK(p.error_offset <= size);
}

static void check_result(const vl_result *res, size_t size)
{
    size_t n = vl_result_reason_count(res);
    vl_verdict v = vl_result_verdict(res), worst = VL_DELIVERABLE;

    CHECK(n <= VL__MAX_REASONS);
    for (size_t i = 0; i < n; i++) {
        vl_reason r = vl_result_reason(res, i);
        CHECK((unsigned)r < VL_R__COUNT);
        CHECK(vl_reason_name(r) != NULL);
        CHECK(vl_result_has_reason(res, r));
        if (vl_reason_verdict(r) > worst)
            worst = vl_reason_verdict(r);
    }
    CHECK(v == worst);
    CHECK(vl_result_error_offset(res) >= -1);
    CHECK(vl_result_error_offset(res) <= (long)size);

    size_t addr = check_string(vl_result_address(res));
    size_t ascii = check_string(vl_result_domain_ascii(res));
    check_string(vl_result_domain_unicode(res));
    size_t canon = check_string(vl_result_canonical(res));
    if (vl_result_suggestion(res) != NULL)
        check_string(vl_result_suggestion(res));

    CHECK((canon == 0) == (addr == 0));
    if (v != VL_UNDELIVERABLE) {
        CHECK(addr > 0 && ascii > 0 && canon > 0);
        CHECK(is_ascii(vl_result_domain_ascii(res)));
    }
}

static void check_json_text(const char *buf, size_t len)
{
    CHECK(strlen(buf) == len);
    CHECK(len >= 2 && buf[0] == '{' && buf[len - 1] == '}');
    CHECK(clean_utf8(buf, len, 0));
}

static void check_json(const vl_result *res, const uint8_t *data, size_t size)
{
    /* Small enough that long inputs take the retry path. */
    char first[512];
    const char *in = (const char *)data;
    size_t need = vl_result_json(res, in, size, 0, first, sizeof first);

    if (need < sizeof first) {
        check_json_text(first, need);
        return;
    }
    CHECK(memchr(first, '\0', sizeof first) != NULL);
    char *buf = malloc(need + 1);
    CHECK(buf != NULL);
    CHECK(vl_result_json(res, in, size, 0, buf, need + 1) == need);
    check_json_text(buf, need);
    free(buf);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    vl_ctx *ctx = get_ctx();
    vl_result *res;

    check_syntax(data, size);

    CHECK(vl_result_new(&res) == VL_OK);
    CHECK(vl_check(ctx, (const char *)data, size, res) == VL_OK);
    check_result(res, size);
    check_json(res, data, size);
    vl_result_free(res);
    return 0;
}
