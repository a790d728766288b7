/*
 * test_syntax.c - the syntax stage: each rejection's reason and byte
 * offset, each accepted form's parts and flags.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <string.h>

#include "internal.h"

typedef struct reject_case {
    const char *in;
    size_t len; /* 0: strlen(in) */
    vl_reason reason;
    size_t offset;
} reject_case;

static const reject_case rejects[] = {
    {"", 0, VL_R_SYNTAX_EMPTY, 0},
    {"plainaddress", 0, VL_R_SYNTAX_NO_AT_SIGN, 12},
    {"@example.com", 0, VL_R_SYNTAX_LOCAL_EMPTY, 0},
    {"user@", 0, VL_R_SYNTAX_DOMAIN_EMPTY, 5},
    {"a..b@example.com", 0, VL_R_SYNTAX_CONSECUTIVE_DOTS, 2},
    {".ab@example.com", 0, VL_R_SYNTAX_LEADING_DOT, 0},
    {"ab.@example.com", 0, VL_R_SYNTAX_TRAILING_DOT, 2},
    {"a b@example.com", 0, VL_R_SYNTAX_WHITESPACE, 1},
    {"a(c)b@example.com", 0, VL_R_SYNTAX_COMMENT, 1},
    {"user@(c)example.com", 0, VL_R_SYNTAX_COMMENT, 5},
    {"a@b@example.com", 0, VL_R_SYNTAX_MULTIPLE_AT_SIGNS, 1},
    {"a:b@example.com", 0, VL_R_SYNTAX_INVALID_LOCAL_CHAR, 1},
    {"a\"b@example.com", 0, VL_R_SYNTAX_INVALID_LOCAL_CHAR, 1},
    {"\"abc@example.com", 0, VL_R_SYNTAX_UNTERMINATED_QUOTE, 0},
    {"\"abc\"d@example.com", 0, VL_R_SYNTAX_TEXT_AFTER_QUOTE, 5},
    {"\"a\\\xc3\xa9\"@example.com", 0, VL_R_SYNTAX_INVALID_QUOTED_PAIR, 2},
    {"a\rb@example.com", 0, VL_R_SYNTAX_CONTROL_CHAR, 1},
    {"ab@exa\nmple.com", 0, VL_R_SYNTAX_CONTROL_CHAR, 6},
    {"ab@example.com\x7f", 0, VL_R_SYNTAX_CONTROL_CHAR, 14},
    {"a\xc2\x85@example.com", 0, VL_R_SYNTAX_CONTROL_CHAR, 1}, /* C1 NEL */
    {"a\0b@example.com", 15, VL_R_SYNTAX_CONTROL_CHAR, 1},
    {"a\xff@example.com", 0, VL_R_SYNTAX_INVALID_UTF8, 1},
    {"a\xc0\xae@example.com", 0, VL_R_SYNTAX_INVALID_UTF8, 1}, /* overlong */
    {"a\xed\xa0\x80@example.com", 0, VL_R_SYNTAX_INVALID_UTF8, 1},
    {"a\xe2\x82@example.com", 0, VL_R_SYNTAX_INVALID_UTF8, 1}, /* short */
    {"user@example..com", 0, VL_R_SYNTAX_DOMAIN_EMPTY_LABEL, 13},
    {"user@.example.com", 0, VL_R_SYNTAX_DOMAIN_EMPTY_LABEL, 5},
    {"user@example.com.", 0, VL_R_SYNTAX_DOMAIN_TRAILING_DOT, 17},
    {"user@exa_mple.com", 0, VL_R_SYNTAX_INVALID_DOMAIN_CHAR, 8},
    {"user@example,com", 0, VL_R_SYNTAX_INVALID_DOMAIN_CHAR, 12},
    {"user@-example.com", 0, VL_R_SYNTAX_LABEL_HYPHEN, 5},
    {"user@example-.com", 0, VL_R_SYNTAX_LABEL_HYPHEN, 12},
    {"user@exa mple.com", 0, VL_R_SYNTAX_WHITESPACE, 8},
    {"user@1.2.3.4", 0, VL_R_SYNTAX_NUMERIC_TLD, 11},
    {"user@example.123", 0, VL_R_SYNTAX_NUMERIC_TLD, 13},
    {"user@[1.2.3]", 0, VL_R_SYNTAX_INVALID_ADDRESS_LITERAL, 5},
    {"user@[1.2.3.256]", 0, VL_R_SYNTAX_INVALID_ADDRESS_LITERAL, 5},
    {"user@[IPv6:1::2::3]", 0, VL_R_SYNTAX_INVALID_ADDRESS_LITERAL, 5},
    {"user@[IPv6:1:2:3:4:5:6:7]", 0, VL_R_SYNTAX_INVALID_ADDRESS_LITERAL, 5},
    {"user@[IPv6:1:2:3:4:5:6::7]", 0, VL_R_SYNTAX_INVALID_ADDRESS_LITERAL, 5},
    {"user@[x-tag:stuff]", 0, VL_R_SYNTAX_INVALID_ADDRESS_LITERAL, 5},
    {"user@[1.2.3.4", 0, VL_R_SYNTAX_INVALID_ADDRESS_LITERAL, 5},
    {"Joe <joe@example.com>", 0, VL_R_SYNTAX_DISPLAY_NAME, 4},
    {"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
     "@example.com",
     0, VL_R_SYNTAX_LOCAL_TOO_LONG, 64},
    {"a@aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
     ".com",
     0, VL_R_SYNTAX_LABEL_TOO_LONG, 2},
};

static void rejects_with_reason_and_offset(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof rejects / sizeof *rejects; i++) {
        const reject_case *c = &rejects[i];
        size_t len = c->len ? c->len : strlen(c->in);
        vl__syntax_parts p;
        vl_reason r = vl__syntax_parse(c->in, len, &p);
        if (r != c->reason || p.error_offset != c->offset)
            fail_msg("case %zu \"%s\": got %s at %zu, want %s at %zu", i,
                     c->in, vl_reason_name(r) ? vl_reason_name(r) : "ok",
                     p.error_offset, vl_reason_name(c->reason), c->offset);
    }
}

/* "a"x64 "@" then 4 labels of 40 "b" and a dot (164 bytes), then
 * 'last' more "b" and ".com": 254 bytes in all when last is 21. */
static size_t build(char *buf, size_t last)
{
    size_t n = 65;
    memset(buf, 'a', 64);
    buf[64] = '@';
    for (int i = 0; i < 4; i++, n += 41) {
        memset(buf + n, 'b', 40);
        buf[n + 40] = '.';
    }
    memset(buf + n, 'b', last);
    memcpy(buf + n + last, ".com", 4);
    return n + last + 4;
}

static void rejects_whole_address_over_254(void **state)
{
    char buf[300];
    vl__syntax_parts p;

    (void)state;
    assert_int_equal(vl__syntax_parse(buf, build(buf, 21), &p), VL__SYNTAX_OK);
    assert_int_equal(vl__syntax_parse(buf, build(buf, 22), &p),
                     VL_R_SYNTAX_ADDRESS_TOO_LONG);
    assert_int_equal(p.error_offset, 254);
}

typedef struct accept_case {
    const char *in;
    unsigned flags;
    size_t local_len;
} accept_case;

static const accept_case accepts[] = {
    {"user@example.com", 0, 4},
    {"first.last+tag@example.co.uk", 0, 14},
    {"!#$%&'*+-/=?^_`{|}~@example.com", 0, 19},
    {"\"john doe\"@example.com", VL__SYN_QUOTED, 10},
    {"\"a@b\"@example.com", VL__SYN_QUOTED, 5},
    {"\"\"@example.com", VL__SYN_QUOTED, 2},
    {"\"\\\"\"@example.com", VL__SYN_QUOTED, 4},
    {"user@[192.0.2.1]", VL__SYN_LITERAL, 4},
    {"user@[IPv6:2001:db8::1]", VL__SYN_LITERAL, 4},
    {"user@[ipv6:::]", VL__SYN_LITERAL, 4},
    {"user@[IPv6:1:2:3:4:5:6:7:8]", VL__SYN_LITERAL, 4},
    {"user@[IPv6:1:2:3:4:5:6:1.2.3.4]", VL__SYN_LITERAL, 4},
    {"user@[IPv6:1:2:3:4::1.2.3.4]", VL__SYN_LITERAL, 4},
    {"j\xc3\xb6rg@example.com", VL__SYN_LOCAL_UTF8, 5},
    {"user@m\xc3\xbcnchen.de", VL__SYN_DOMAIN_UTF8, 4},
    {"user@localhost", 0, 4},
    {"user@123.example", 0, 4},
};

static void accepts_valid_forms(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof accepts / sizeof *accepts; i++) {
        const accept_case *c = &accepts[i];
        vl__syntax_parts p;
        vl_reason r = vl__syntax_parse(c->in, strlen(c->in), &p);
        if (r != VL__SYNTAX_OK)
            fail_msg("case %zu \"%s\": rejected with %s at %zu", i, c->in,
                     vl_reason_name(r), p.error_offset);
        assert_int_equal(p.flags, c->flags);
        assert_int_equal(p.local_len, c->local_len);
        assert_int_equal(p.domain_off, c->local_len + 1);
        assert_int_equal(p.domain_len, strlen(c->in) - c->local_len - 1);
    }
}

static void display_name_gives_inner_span(void **state)
{
    const char *in = "Joe Bloggs <joe@example.com>";
    vl__syntax_parts p;

    (void)state;
    assert_int_equal(vl__syntax_parse(in, strlen(in), &p),
                     VL_R_SYNTAX_DISPLAY_NAME);
    assert_int_equal(p.inner_len, strlen("joe@example.com"));
    assert_memory_equal(in + p.inner_off, "joe@example.com", p.inner_len);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(rejects_with_reason_and_offset),
        cmocka_unit_test(rejects_whole_address_over_254),
        cmocka_unit_test(accepts_valid_forms),
        cmocka_unit_test(display_name_gives_inner_span),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
