/*
 * syntax.c - is a byte string an RFC 5321 Mailbox?
 *
 * Grammar: RFC 5321 §4.1.2 (Mailbox, Dot-string, Quoted-string, Domain)
 * and §4.1.3 (address literals), extended by RFC 6531 §3.3 (atext and
 * qtextSMTP take UTF8-non-ascii; quoted-pairSMTP is not extended).
 * Limits: RFC 5321 §4.5.3.1 (local part 64 octets, mailbox 254),
 * RFC 1035 §2.3.4 (labels 63 octets, names 253 in text form).
 *
 * What it does not do: RFC 5322 forms (comments, folding white space,
 * obsolete syntax, display names, domain literals other than address
 * literals) are not Mailboxes and are rejected, each with its own
 * reason.  Control characters (C0, DEL, C1) and ill-formed UTF-8
 * (RFC 3629 §3) are rejected anywhere, so they can never reach a DNS
 * query, a log line or the SMTP wire.  IDNA validity of non-ASCII
 * labels is normalise.c's job.  No trimming: the caller trims.
 *
 * Pure function, no allocation, no I/O.
 */
#include "internal.h"

#include <string.h>

/* Character classes of ASCII bytes, one table lookup each. */
enum {
    C_ATEXT = 1 << 0, /* RFC 5321 atext (RFC 5322 §3.2.3) */
    C_LDH = 1 << 1,   /* letter, digit, hyphen */
    C_DIGIT = 1 << 2,
    C_HEX = 1 << 3,
    C_QTEXT = 1 << 4 /* qtextSMTP: %d32-33 / %d35-91 / %d93-126 */
};

static unsigned char cls[256];

static void init_classes(void)
{
    const char *specials = "!#$%&'*+-/=?^_`{|}~";

    for (int c = 32; c < 127; c++)
        if (c != '"' && c != '\\')
            cls[c] |= C_QTEXT;
    for (int c = 'a'; c <= 'z'; c++) {
        cls[c] |= C_ATEXT | C_LDH;
        cls[c - 'a' + 'A'] |= C_ATEXT | C_LDH;
    }
    for (int c = '0'; c <= '9'; c++)
        cls[c] |= C_ATEXT | C_LDH | C_DIGIT | C_HEX;
    for (int c = 'a'; c <= 'f'; c++)
        cls[c] |= C_HEX, cls[c - 'a' + 'A'] |= C_HEX;
    for (const char *p = specials; *p; p++)
        cls[(unsigned char)*p] |= C_ATEXT;
    cls['-'] |= C_LDH;
}

/* The table is built once; threads racing here write identical bytes,
 * but a constructor keeps the data race out of reach entirely. */
__attribute__((constructor)) static void syntax_init(void)
{
    init_classes();
}

static vl_reason fail(vl__syntax_parts *p, vl_reason r, size_t off)
{
    p->error_offset = off;
    return r;
}

/* Length of the well-formed UTF-8 sequence at s[0] (RFC 3629 §4), or 0.
 * Overlongs, surrogates and code points past U+10FFFF are ill-formed. */
static size_t utf8_seq(const unsigned char *s, size_t n)
{
    unsigned char c = s[0];

    if (c < 0xC2 || c > 0xF4)
        return 0;
    if (c < 0xE0)
        return (n >= 2 && (s[1] & 0xC0) == 0x80) ? 2 : 0;
    if (c < 0xF0) {
        if (n < 3 || (s[1] & 0xC0) != 0x80 || (s[2] & 0xC0) != 0x80)
            return 0;
        if ((c == 0xE0 && s[1] < 0xA0) || (c == 0xED && s[1] > 0x9F))
            return 0; /* overlong, or a UTF-16 surrogate */
        return 3;
    }
    if (n < 4 || (s[1] & 0xC0) != 0x80 || (s[2] & 0xC0) != 0x80 ||
        (s[3] & 0xC0) != 0x80)
        return 0;
    if ((c == 0xF0 && s[1] < 0x90) || (c == 0xF4 && s[1] > 0x8F))
        return 0;
    return 4;
}

/* One pass over everything: the first ill-formed UTF-8 sequence or
 * control character (C0, DEL, or C1 as U+0080..U+009F) decides, since
 * RFC 5198 §2 bars C1 controls from network text. */
static vl_reason scan_bytes(const char *str, size_t len, vl__syntax_parts *p)
{
    const unsigned char *s = (const unsigned char *)str;

    for (size_t i = 0; i < len;) {
        unsigned char c = s[i];
        if (c < 0x80) {
            if (c < 0x20 || c == 0x7F)
                return fail(p, VL_R_SYNTAX_CONTROL_CHAR, i);
            i++;
            continue;
        }
        size_t n = utf8_seq(s + i, len - i);
        if (n == 0)
            return fail(p, VL_R_SYNTAX_INVALID_UTF8, i);
        if (c == 0xC2 && s[i + 1] < 0xA0)
            return fail(p, VL_R_SYNTAX_CONTROL_CHAR, i);
        i += n;
    }
    return VL__SYNTAX_OK;
}

/* "Name <user@host>": an RFC 5322 name-addr, not a Mailbox.  Recognised
 * so the caller can offer the address inside as a suggestion. */
static bool is_name_addr(const char *s, size_t len, vl__syntax_parts *p)
{
    if (len < 3 || s[len - 1] != '>')
        return false;
    const char *lt = memchr(s, '<', len);
    if (lt == NULL)
        return false;
    p->error_offset = (size_t)(lt - s);
    p->inner_off = p->error_offset + 1;
    p->inner_len = len - 1 - p->inner_off;
    return true;
}

/* Dot-string = Atom *("." Atom), RFC 6531 atext. */
static vl_reason parse_dot_string(const char *str, size_t len,
                                  vl__syntax_parts *p)
{
    const unsigned char *s = (const unsigned char *)str;

    for (size_t i = 0; i < len; i++) {
        unsigned char c = s[i];
        if (c >= 0x80) {
            p->flags |= VL__SYN_LOCAL_UTF8;
            continue;
        }
        if (cls[c] & C_ATEXT)
            continue;
        if (c == '.') {
            if (i == 0)
                return fail(p, VL_R_SYNTAX_LEADING_DOT, i);
            if (s[i - 1] == '.')
                return fail(p, VL_R_SYNTAX_CONSECUTIVE_DOTS, i);
            if (i + 1 == len)
                return fail(p, VL_R_SYNTAX_TRAILING_DOT, i);
            continue;
        }
        if (c == '(')
            return fail(p, VL_R_SYNTAX_COMMENT, i);
        if (c == ' ')
            return fail(p, VL_R_SYNTAX_WHITESPACE, i);
        if (c == '@')
            return fail(p, VL_R_SYNTAX_MULTIPLE_AT_SIGNS, i);
        return fail(p, VL_R_SYNTAX_INVALID_LOCAL_CHAR, i);
    }
    return VL__SYNTAX_OK;
}

/* Quoted-string = DQUOTE *QcontentSMTP DQUOTE, starting at s[0] == '"'.
 * On success '*end' is the offset just past the closing quote. */
static vl_reason parse_quoted(const char *str, size_t len, size_t *end,
                              vl__syntax_parts *p)
{
    const unsigned char *s = (const unsigned char *)str;

    for (size_t i = 1; i < len; i++) {
        unsigned char c = s[i];
        if (c == '"') {
            *end = i + 1;
            return VL__SYNTAX_OK;
        }
        if (c == '\\') {
            /* quoted-pairSMTP = %d92 %d32-126 (RFC 6531 leaves it) */
            if (i + 1 == len)
                return fail(p, VL_R_SYNTAX_UNTERMINATED_QUOTE, i);
            if (s[i + 1] < 32 || s[i + 1] > 126)
                return fail(p, VL_R_SYNTAX_INVALID_QUOTED_PAIR, i);
            i++;
            continue;
        }
        if (c >= 0x80)
            p->flags |= VL__SYN_LOCAL_UTF8;
    }
    return fail(p, VL_R_SYNTAX_UNTERMINATED_QUOTE, 0);
}

/* 1*3DIGIT with a value of 0..255 (RFC 5321 Snum). */
static bool parse_snum(const char *s, size_t len)
{
    unsigned v = 0;

    if (len == 0 || len > 3)
        return false;
    for (size_t i = 0; i < len; i++) {
        if (!(cls[(unsigned char)s[i]] & C_DIGIT))
            return false;
        v = v * 10 + (unsigned)(s[i] - '0');
    }
    return v <= 255;
}

/* IPv4-address-literal = Snum 3("." Snum) */
static bool parse_ipv4(const char *s, size_t len)
{
    size_t start = 0;
    int dots = 0;

    for (size_t i = 0; i <= len; i++) {
        if (i == len || s[i] == '.') {
            if (!parse_snum(s + start, i - start))
                return false;
            if (i < len && ++dots > 3)
                return false;
            start = i + 1;
        }
    }
    return dots == 3;
}

/* A run of IPv6-hex groups separated by ':', the last of which may be
 * an IPv4 literal when 'v4_ok'.  Adds the 16-bit groups to '*groups'
 * (an IPv4 literal counts two); false on any malformed group. */
static bool parse_hex_run(const char *s, size_t len, bool v4_ok,
                          unsigned *groups)
{
    size_t start = 0;

    if (len == 0)
        return true;
    for (size_t i = 0; i <= len; i++) {
        if (i < len && s[i] != ':')
            continue;
        const char *g = s + start;
        size_t glen = i - start;
        if (i == len && v4_ok && memchr(g, '.', glen) != NULL) {
            if (!parse_ipv4(g, glen))
                return false;
            *groups += 2;
            return true;
        }
        if (glen == 0 || glen > 4)
            return false;
        for (size_t k = 0; k < glen; k++)
            if (!(cls[(unsigned char)g[k]] & C_HEX))
                return false;
        *groups += 1;
        start = i + 1;
    }
    return true;
}

/* RFC 5321 §4.1.3 IPv6-full / IPv6-comp / IPv6v4-full / IPv6v4-comp.
 * "::" stands for at least two zero groups, so at most six explicit
 * groups may sit beside it (an IPv4 tail counting as two). */
static bool parse_ipv6(const char *s, size_t len)
{
    const char *dc = NULL;
    unsigned groups = 0;

    for (size_t i = 0; i + 1 < len; i++) {
        if (s[i] == ':' && s[i + 1] == ':') {
            dc = s + i;
            break;
        }
    }
    if (dc == NULL)
        return parse_hex_run(s, len, true, &groups) && groups == 8 && len > 0;
    size_t left = (size_t)(dc - s);
    size_t right_off = left + 2;
    if (!parse_hex_run(s, left, false, &groups))
        return false;
    if (!parse_hex_run(s + right_off, len - right_off, true, &groups))
        return false;
    return groups <= 6;
}

static vl_reason parse_literal(const char *s, size_t len, size_t base,
                               vl__syntax_parts *p)
{
    p->flags |= VL__SYN_LITERAL;
    if (len < 2 || s[len - 1] != ']')
        return fail(p, VL_R_SYNTAX_INVALID_ADDRESS_LITERAL, base);
    const char *in = s + 1;
    size_t n = len - 2;
    if (n >= 5 && strncasecmp(in, "IPv6:", 5) == 0) {
        if (parse_ipv6(in + 5, n - 5))
            return VL__SYNTAX_OK;
    } else if (parse_ipv4(in, n)) {
        return VL__SYNTAX_OK;
    }
    /* A General-address-literal with any other tag has no registered
     * meaning (RFC 5321 §4.1.3), so it cannot be delivered either. */
    return fail(p, VL_R_SYNTAX_INVALID_ADDRESS_LITERAL, base);
}

static vl_reason check_label(const unsigned char *s, size_t len, size_t off,
                             bool last, vl__syntax_parts *p)
{
    if (len == 0)
        return fail(p,
                    last && off > 0 ? VL_R_SYNTAX_DOMAIN_TRAILING_DOT
                                    : VL_R_SYNTAX_DOMAIN_EMPTY_LABEL,
                    off);
    if (s[0] == '-')
        return fail(p, VL_R_SYNTAX_LABEL_HYPHEN, off);
    if (s[len - 1] == '-')
        return fail(p, VL_R_SYNTAX_LABEL_HYPHEN, off + len - 1);
    /* Non-ASCII labels are measured as A-labels in normalise.c. */
    if (len > VL__LABEL_MAX && !(p->flags & VL__SYN_DOMAIN_UTF8))
        return fail(p, VL_R_SYNTAX_LABEL_TOO_LONG, off);
    return VL__SYNTAX_OK;
}

static bool all_digits(const unsigned char *s, size_t len)
{
    for (size_t i = 0; i < len; i++)
        if (!(cls[s[i]] & C_DIGIT))
            return false;
    return len > 0;
}

/* Domain = sub-domain *("." sub-domain); sub-domain = Let-dig [Ldh-str]
 * or, by RFC 6531, a U-label. */
static vl_reason parse_domain(const char *str, size_t len, size_t base,
                              vl__syntax_parts *p)
{
    const unsigned char *s = (const unsigned char *)str;
    size_t start = 0, tld = 0;
    vl_reason r;

    for (size_t i = 0; i < len; i++) {
        unsigned char c = s[i];
        if (c >= 0x80)
            p->flags |= VL__SYN_DOMAIN_UTF8;
        else if (c == '(')
            return fail(p, VL_R_SYNTAX_COMMENT, base + i);
        else if (c == ' ')
            return fail(p, VL_R_SYNTAX_WHITESPACE, base + i);
        else if (c != '.' && !(cls[c] & C_LDH))
            return fail(p, VL_R_SYNTAX_INVALID_DOMAIN_CHAR, base + i);
    }
    for (size_t i = 0; i <= len; i++) {
        if (i < len && s[i] != '.')
            continue;
        r = check_label(s + start, i - start, base + start, i == len, p);
        if (r != VL__SYNTAX_OK)
            return r;
        tld = start;
        start = i + 1;
    }
    /* RFC 1123 §2.1:
     * it is alphabetic; an all-digit name is an IP address, which
     * RFC 5321 §4.1.3 wants written as a bracketed literal. */
    if (all_digits(s + tld, len - tld))
        return fail(p, VL_R_SYNTAX_NUMERIC_TLD, base + tld);
    return VL__SYNTAX_OK;
}

/* Find the '@' that ends the local part: after a leading Quoted-string,
 * or else the last '@' (RFC 5321 lets no '@' into a domain). */
static vl_reason split_at(const char *s, size_t len, size_t *at,
                          vl__syntax_parts *p)
{
    if (s[0] == '"') {
        size_t end;
        vl_reason r = parse_quoted(s, len, &end, p);
        if (r != VL__SYNTAX_OK)
            return r;
        p->flags |= VL__SYN_QUOTED;
        if (end == len)
            return fail(p, VL_R_SYNTAX_NO_AT_SIGN, end);
        if (s[end] != '@')
            return fail(p, VL_R_SYNTAX_TEXT_AFTER_QUOTE, end);
        *at = end;
        return VL__SYNTAX_OK;
    }
    for (size_t i = len; i-- > 0;) {
        if (s[i] == '@') {
            *at = i;
            return VL__SYNTAX_OK;
        }
    }
    return fail(p, VL_R_SYNTAX_NO_AT_SIGN, len);
}

static vl_reason check_lengths(const char *s, size_t len, vl__syntax_parts *p)
{
    (void)s;
    if (p->local_len > VL__LOCAL_MAX)
        return fail(p, VL_R_SYNTAX_LOCAL_TOO_LONG, VL__LOCAL_MAX);
    if (!(p->flags & VL__SYN_DOMAIN_UTF8) && p->domain_len > VL__DOMAIN_MAX)
        return fail(p, VL_R_SYNTAX_DOMAIN_TOO_LONG,
                    p->domain_off + VL__DOMAIN_MAX);
    if (len > VL__ADDRESS_MAX)
        return fail(p, VL_R_SYNTAX_ADDRESS_TOO_LONG, VL__ADDRESS_MAX);
    return VL__SYNTAX_OK;
}

vl_reason vl__syntax_parse(const char *s, size_t len, vl__syntax_parts *p)
{
    size_t at;
    vl_reason r;

    memset(p, 0, sizeof *p);
    if (len == 0)
        return fail(p, VL_R_SYNTAX_EMPTY, 0);
    if ((r = scan_bytes(s, len, p)) != VL__SYNTAX_OK)
        return r;
    if (is_name_addr(s, len, p))
        return VL_R_SYNTAX_DISPLAY_NAME;
    if ((r = split_at(s, len, &at, p)) != VL__SYNTAX_OK)
        return r;
    p->local_off = 0;
    p->local_len = at;
    p->domain_off = at + 1;
    p->domain_len = len - at - 1;
    if (at == 0)
        return fail(p, VL_R_SYNTAX_LOCAL_EMPTY, 0);
    if (!(p->flags & VL__SYN_QUOTED) &&
        (r = parse_dot_string(s, at, p)) != VL__SYNTAX_OK)
        return r;
    if (p->domain_len == 0)
        return fail(p, VL_R_SYNTAX_DOMAIN_EMPTY, p->domain_off);
    if (s[p->domain_off] == '[')
        r = parse_literal(s + p->domain_off, p->domain_len, p->domain_off, p);
    else
        r = parse_domain(s + p->domain_off, p->domain_len, p->domain_off, p);
    if (r != VL__SYNTAX_OK)
        return r;
    return check_lengths(s, len, p);
}
