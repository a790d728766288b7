/*
 * result.c - the result object: reasons, verdict, accessors, and its
 * JSON form (the same object the CLI, CSV reports and HTTP API emit).
 */
#include "dns.h"
#include "internal.h"

#include <uv.h>

#include <stdlib.h>
#include <string.h>

vl_status vl_result_new(vl_result **out)
{
    *out = malloc(sizeof **out);
    if (*out == NULL)
        return VL_ENOMEM;
    (*out)->dns = NULL;
    (*out)->smtp.lines = NULL;
    (*out)->smtp.n_lines = 0;
    vl__result_reset(*out);
    return VL_OK;
}

void vl_result_free(vl_result *res)
{
    if (res == NULL)
        return;
    vl__domain_info_unref(res->dns);
    vl__smtp_outcome_clear(&res->smtp);
    free(res);
}

void vl__result_set_dns(vl_result *res, vl__domain_info *info, bool cached)
{
    res->stages |= VL_STAGE_DNS;
    if (info == NULL) {
        vl__result_add(res, VL_R_DNS_ERROR);
        return;
    }
    vl__domain_info_unref(res->dns);
    res->dns = info;
    res->dns_cached = cached;
    for (unsigned i = 0; i < info->n_reasons; i++)
        vl__result_add(res, info->reasons[i]);
}

void vl__result_reset(vl_result *res)
{
    vl__domain_info_unref(res->dns);
    res->dns = NULL;
    res->dns_cached = 0;
    vl__smtp_outcome_clear(&res->smtp);
    res->verdict = VL_DELIVERABLE;
    res->stages = 0;
    res->n_reasons = 0;
    res->error_offset = -1;
    res->smtputf8 = 0;
    res->has_suggestion = 0;
    res->address[0] = '\0';
    res->domain_ascii[0] = '\0';
    res->domain_unicode[0] = '\0';
    res->canonical[0] = '\0';
    res->suggestion[0] = '\0';
}

void vl__result_suggest(vl_result *res, const char *local, size_t llen,
                        const char *domain, size_t dlen)
{
    if (llen + 1 + dlen >= sizeof res->suggestion)
        return;
    memcpy(res->suggestion, local, llen);
    res->suggestion[llen] = '@';
    memcpy(res->suggestion + llen + 1, domain, dlen);
    res->suggestion[llen + 1 + dlen] = '\0';
    res->has_suggestion = 1;
}

void vl__result_add(vl_result *res, vl_reason r)
{
    for (unsigned i = 0; i < res->n_reasons; i++)
        if (res->reasons[i] == r)
            return;
    if (res->n_reasons < VL__MAX_REASONS)
        res->reasons[res->n_reasons++] = r;
    vl_verdict v = vl_reason_verdict(r);
    if (v > res->verdict)
        res->verdict = v;
}

vl_verdict vl_result_verdict(const vl_result *res)
{
    return res->verdict;
}

size_t vl_result_reason_count(const vl_result *res)
{
    return res->n_reasons;
}

vl_reason vl_result_reason(const vl_result *res, size_t i)
{
    return i < res->n_reasons ? res->reasons[i] : VL_R__COUNT;
}

int vl_result_has_reason(const vl_result *res, vl_reason r)
{
    for (unsigned i = 0; i < res->n_reasons; i++)
        if (res->reasons[i] == r)
            return 1;
    return 0;
}

unsigned vl_result_stages(const vl_result *res)
{
    return res->stages;
}

const char *vl_result_address(const vl_result *res)
{
    return res->address;
}

const char *vl_result_domain_ascii(const vl_result *res)
{
    return res->domain_ascii;
}

const char *vl_result_domain_unicode(const vl_result *res)
{
    return res->domain_unicode;
}

const char *vl_result_canonical(const vl_result *res)
{
    return res->canonical;
}

const char *vl_result_suggestion(const vl_result *res)
{
    return res->has_suggestion ? res->suggestion : NULL;
}

int vl_result_smtputf8(const vl_result *res)
{
    return res->smtputf8;
}

long vl_result_error_offset(const vl_result *res)
{
    return res->error_offset;
}

size_t vl_result_mx_count(const vl_result *res)
{
    return res->dns ? res->dns->n_mx : 0;
}

const char *vl_result_mx(const vl_result *res, size_t i, unsigned *pref)
{
    if (res->dns == NULL || i >= res->dns->n_mx)
        return NULL;
    if (pref)
        *pref = res->dns->mx[i].pref;
    return res->dns->mx[i].host;
}

const char *vl_result_mx_host(const vl_result *res, unsigned *pref)
{
    if (res->dns == NULL || res->dns->best < 0)
        return NULL;
    return vl_result_mx(res, (size_t)res->dns->best, pref);
}

int vl_result_dns_cached(const vl_result *res)
{
    return res->dns_cached;
}

static const char *type_name(uint16_t t);

vl_status vl_result_smtp(const vl_result *res, vl_smtp_info *out)
{
    const vl__smtp_outcome *o = &res->smtp;

    memset(out, 0, sizeof *out);
    if (!o->ran)
        return VL_ENOTFOUND;
    out->host = o->host;
    out->ip = o->ip;
    out->port = o->port;
    out->code = o->code;
    out->enhanced = o->enhanced;
    out->text = o->text;
    out->catch_all = o->catch_all;
    out->tls = o->tls;
    out->smtputf8 = o->smtputf8;
    out->retry_after_s = o->retry_after_s;
    return VL_OK;
}

size_t vl_result_smtp_line_count(const vl_result *res)
{
    return res->smtp.n_lines;
}

vl_status vl_result_smtp_line(const vl_result *res, size_t i,
                              vl_smtp_line *out)
{
    if (i >= res->smtp.n_lines)
        return VL_EINVAL;
    out->ms = res->smtp.lines[i].ms;
    out->dir = res->smtp.lines[i].dir;
    out->text = res->smtp.lines[i].text;
    return VL_OK;
}

size_t vl_result_dns_query_count(const vl_result *res)
{
    return res->dns ? res->dns->n_log : 0;
}

vl_status vl_result_dns_query(const vl_result *res, size_t i,
                              vl_dns_query *out)
{
    if (res->dns == NULL || i >= res->dns->n_log)
        return VL_EINVAL;
    const vl__dns_log *e = &res->dns->log[i];
    out->name = e->name ? e->name : "";
    out->type = type_name(e->type);
    out->outcome = vl__dns_outcome_name(e->outcome);
    out->ttl = e->ttl;
    out->answers = e->answers ? e->answers : "";
    return VL_OK;
}

/* ---- JSON writer: appends to a bounded buffer, counting what it would
 * need, so one pass both writes and sizes (as snprintf does). */

typedef struct jbuf {
    char *p;
    size_t cap, len;
} jbuf;

/* Like snprintf, keep the prefix that fits (one byte stays for the NUL)
 * and go on counting. */
static void put_cut(jbuf *b, const char *s, size_t n)
{
    if (b->len + 1 < b->cap) {
        size_t room = b->cap - 1 - b->len;
        memcpy(b->p + b->len, s, n < room ? n : room);
    }
    b->len += n;
}

/* The common case inline: with a literal's constant size the copy
 * becomes a few moves. */
static inline void put(jbuf *b, const char *s, size_t n)
{
    if (b->len + n < b->cap) {
        memcpy(b->p + b->len, s, n);
        b->len += n;
    } else {
        put_cut(b, s, n);
    }
}

/* 'lit' must be a string literal: sizeof of anything else is wrong. */
#define PUTS(b, lit) put((b), "" lit, sizeof(lit) - 1)

static size_t valid_utf8_len(const unsigned char *s, size_t n)
{
    unsigned char c = s[0];
    size_t need = c < 0xC2   ? 0
                  : c < 0xE0 ? 2
                  : c < 0xF0 ? 3
                  : c < 0xF5 ? 4
                             : 0;

    if (need == 0 || need > n)
        return 0;
    for (size_t i = 1; i < need; i++)
        if ((s[i] & 0xC0) != 0x80)
            return 0;
    if ((c == 0xE0 && s[1] < 0xA0) || (c == 0xED && s[1] > 0x9F) ||
        (c == 0xF0 && s[1] < 0x90) || (c == 0xF4 && s[1] > 0x8F))
        return 0;
    return need;
}

/* A JSON string (RFC 8259 §7): controls escaped, ill-formed UTF-8
 * replaced by U+FFFD so the output is always valid UTF-8. */
/* Bytes that leave the fast path: controls, '"', '\\' and non-ASCII
 * (checked for well-formed UTF-8). */
static inline bool slow(unsigned char c)
{
    return c < 0x20 || c == '"' || c == '\\' || c >= 0x80;
}

/* No byte of the eight at 'p' is slow: a SWAR test (each 0x80 bit of
 * the mask marks a byte < 0x20, '"', '\\' or >= 0x80). */
static bool clean8(const unsigned char *p)
{
    const uint64_t ones = 0x0101010101010101u, high = 0x8080808080808080u;
    uint64_t x, q, bs;

    memcpy(&x, p, 8);
    q = x ^ (ones * '"');
    bs = x ^ (ones * '\\');
    return (((x - ones * 0x20) | (q - ones) | (bs - ones)) & ~x & high) == 0 &&
           (x & high) == 0;
}

/* Escape one slow byte (or UTF-8 sequence) at s[*i] into 'o'. */
static char *escape_one(char *o, const unsigned char *s, size_t n, size_t *i)
{
    static const char hex[] = "0123456789abcdef";
    unsigned char c = s[*i];

    if (c >= 0x80) {
        size_t k = valid_utf8_len(s + *i, n - *i);
        if (k == 0) {
            memcpy(o, "\xEF\xBF\xBD", 3); /* U+FFFD */
            *i += 1;
            return o + 3;
        }
        memcpy(o, s + *i, k);
        *i += k;
        return o + k;
    }
    (*i)++;
    *o++ = '\\';
    if (c == '"' || c == '\\') {
        *o++ = (char)c;
        return o;
    }
    memcpy(o, "u00", 3);
    o[3] = hex[c >> 4];
    o[4] = hex[c & 15];
    return o + 5;
}

/* A JSON string (RFC 8259 §7): controls escaped, ill-formed UTF-8
 * replaced by U+FFFD so the output is always valid UTF-8.  Escaped into
 * a stack buffer first (6 bytes out per byte in, at worst), then put in
 * one piece: the common clean byte costs a test and a store. */
static void put_str(jbuf *b, const char *str, size_t n)
{
    char tmp[6 * (VL_JSON_INPUT_MAX + VL__FIELD_CAP) + 2];
    const unsigned char *s = (const unsigned char *)str;
    char *o = tmp;
    size_t i = 0;

    if (n > VL_JSON_INPUT_MAX + VL__FIELD_CAP)
        n = VL_JSON_INPUT_MAX + VL__FIELD_CAP; /* callers cut before */
    *o++ = '"';
    while (i < n) {
        if (i + 8 <= n && clean8(s + i)) { /* eight clean bytes at once */
            memcpy(o, s + i, 8);
            o += 8, i += 8;
        } else if (!slow(s[i])) {
            *o++ = (char)s[i++];
        } else {
            o = escape_one(o, s, n, &i);
        }
    }
    *o++ = '"';
    put(b, tmp, (size_t)(o - tmp));
}

static void put_cstr(jbuf *b, const char *s)
{
    put_str(b, s, strlen(s));
}

/* Cut 'n' to at most VL_JSON_INPUT_MAX bytes without splitting a UTF-8
 * sequence. */
static size_t cut_input(const char *s, size_t n)
{
    if (n <= VL_JSON_INPUT_MAX)
        return n;
    n = VL_JSON_INPUT_MAX;
    while (n > 0 && ((unsigned char)s[n] & 0xC0) == 0x80)
        n--;
    return n;
}

static void put_uint(jbuf *b, unsigned long v)
{
    char tmp[24];
    int k = sizeof tmp;

    do
        tmp[--k] = (char)('0' + v % 10);
    while ((v /= 10) != 0);
    put(b, tmp + k, sizeof tmp - (size_t)k);
}

static const char *type_name(uint16_t t)
{
    switch (t) {
    case 1:
        return "A";
    case 15:
        return "MX";
    case 16:
        return "TXT";
    case 28:
        return "AAAA";
    default:
        return "?";
    }
}

static void put_addresses(jbuf *b, const vl__mx_host *h)
{
    PUTS(b, ",\"addresses\":[");
    for (unsigned k = 0; k < h->n_addr; k++) {
        char a[64];
        uv_inet_ntop(h->addr[k].family == 4 ? AF_INET : AF_INET6,
                     h->addr[k].bytes, a, sizeof a);
        if (k)
            PUTS(b, ",");
        put_cstr(b, a);
    }
    PUTS(b, "]");
}

/* "mx", "mx_hosts", "dns_cached" and, when explaining, "dns". */
static void put_dns(jbuf *b, const vl_result *res, unsigned flags)
{
    const vl__domain_info *d = res->dns;
    unsigned pref;
    const char *best = vl_result_mx_host(res, &pref);

    PUTS(b, ",\"mx\":");
    if (best != NULL) {
        PUTS(b, "{\"host\":");
        put_cstr(b, best);
        PUTS(b, ",\"preference\":");
        put_uint(b, pref);
        PUTS(b, "}");
    } else {
        PUTS(b, "null");
    }
    PUTS(b, ",\"mx_hosts\":[");
    for (unsigned i = 0; d != NULL && i < d->n_mx; i++) {
        if (i)
            PUTS(b, ",");
        PUTS(b, "{\"host\":");
        put_cstr(b, d->mx[i].host);
        PUTS(b, ",\"preference\":");
        put_uint(b, d->mx[i].pref);
        put_addresses(b, &d->mx[i]);
        PUTS(b, "}");
    }
    PUTS(b, "],\"dns_cached\":");
    if (res->dns_cached)
        PUTS(b, "true");
    else
        PUTS(b, "false");
    if (!(flags & VL_JSON_EXPLAIN) || d == NULL)
        return;
    PUTS(b, ",\"dns\":[");
    for (size_t i = 0; i < vl_result_dns_query_count(res); i++) {
        vl_dns_query q;
        vl_result_dns_query(res, i, &q);
        if (i)
            PUTS(b, ",");
        PUTS(b, "{\"name\":");
        put_cstr(b, q.name);
        PUTS(b, ",\"type\":");
        put_cstr(b, q.type);
        PUTS(b, ",\"outcome\":");
        put_cstr(b, q.outcome);
        PUTS(b, ",\"ttl\":");
        put_uint(b, q.ttl);
        PUTS(b, ",\"answers\":");
        put_cstr(b, q.answers);
        PUTS(b, "}");
    }
    PUTS(b, "]");
}

static void put_plain(jbuf *b, const char *s, size_t n);

/* "smtp": what the probe found; when explaining, "smtp_transcript". */
static void put_smtp(jbuf *b, const vl_result *res, unsigned flags)
{
    const vl__smtp_outcome *o = &res->smtp;

    PUTS(b, ",\"smtp\":{\"host\":");
    if (o->host[0])
        put_cstr(b, o->host);
    else
        PUTS(b, "null");
    PUTS(b, ",\"ip\":");
    if (o->ip[0])
        put_cstr(b, o->ip);
    else
        PUTS(b, "null");
    PUTS(b, ",\"port\":");
    put_uint(b, o->port);
    PUTS(b, ",\"code\":");
    put_uint(b, (unsigned long)o->code);
    PUTS(b, ",\"enhanced\":");
    put_cstr(b, o->enhanced);
    PUTS(b, ",\"text\":");
    put_cstr(b, o->text);
    PUTS(b, ",\"catch_all\":");
    if (o->catch_all < 0)
        PUTS(b, "null");
    else if (o->catch_all)
        PUTS(b, "true");
    else
        PUTS(b, "false");
    if (o->tls)
        PUTS(b, ",\"tls\":true");
    else
        PUTS(b, ",\"tls\":false");
    if (o->smtputf8)
        PUTS(b, ",\"smtputf8\":true");
    else
        PUTS(b, ",\"smtputf8\":false");
    if (o->retry_after_s > 0) {
        PUTS(b, ",\"retry_after\":");
        put_uint(b, o->retry_after_s);
    }
    PUTS(b, "}");
    if (!(flags & VL_JSON_EXPLAIN))
        return;
    PUTS(b, ",\"smtp_transcript\":[");
    for (size_t i = 0; i < o->n_lines; i++) {
        char dir[2] = {o->lines[i].dir, '\0'};
        if (i)
            PUTS(b, ",");
        PUTS(b, "{\"ms\":");
        put_uint(b, o->lines[i].ms);
        PUTS(b, ",\"dir\":");
        put_plain(b, dir, 1);
        PUTS(b, ",\"line\":");
        put_cstr(b, o->lines[i].text);
        PUTS(b, "}");
    }
    PUTS(b, "]");
}

/* Names we know need no escaping go out as they are, with quotes. */
static void put_plain(jbuf *b, const char *s, size_t n)
{
    PUTS(b, "\"");
    put(b, s, n);
    PUTS(b, "\"");
}

static void put_stages(jbuf *b, unsigned stages)
{
    bool first = true;

    PUTS(b, ",\"stages\":[");
    for (unsigned bit = 1; bit != 0 && bit <= stages; bit <<= 1) {
        const char *name = vl_stage_name((vl_stage)bit);
        if (!(stages & bit) || name == NULL)
            continue;
        if (!first)
            PUTS(b, ",");
        put_plain(b, name, strlen(name));
        first = false;
    }
    PUTS(b, "]");
}

/* Reason names with their lengths, made once from VL_REASON_MAP. */
static const struct {
    const char *s;
    size_t n;
} reason_text[] = {
#define X(id, name, verdict) {name, sizeof(name) - 1},
    VL_REASON_MAP(X)
#undef X
};

size_t vl_result_json(const vl_result *res, const char *input,
                      size_t input_len, unsigned flags, char *buf, size_t cap)
{
    jbuf b = {buf, cap, 0};
    size_t in_len = cut_input(input, input_len);

    PUTS(&b, "{\"input\":");
    put_str(&b, input, in_len);
    if (in_len < input_len)
        PUTS(&b, ",\"input_truncated\":true");
    PUTS(&b, ",\"verdict\":");
    const char *v = vl_verdict_name(res->verdict);
    put_plain(&b, v, strlen(v));
    PUTS(&b, ",\"reasons\":[");
    for (unsigned i = 0; i < res->n_reasons; i++) {
        if (i)
            PUTS(&b, ",");
        put_plain(&b, reason_text[res->reasons[i]].s,
                  reason_text[res->reasons[i]].n);
    }
    PUTS(&b, "],\"address\":");
    put_cstr(&b, res->address);
    PUTS(&b, ",\"domain_ascii\":");
    /* letters, digits, '-', '.' or an address literal: nothing to escape */
    put_plain(&b, res->domain_ascii, strlen(res->domain_ascii));
    PUTS(&b, ",\"domain_unicode\":");
    put_cstr(&b, res->domain_unicode);
    PUTS(&b, ",\"canonical\":");
    put_cstr(&b, res->canonical);
    PUTS(&b, ",\"suggestion\":");
    if (res->has_suggestion)
        put_cstr(&b, res->suggestion);
    else
        PUTS(&b, "null");
    if (res->smtputf8)
        PUTS(&b, ",\"smtputf8\":true");
    else
        PUTS(&b, ",\"smtputf8\":false");
    if (res->error_offset >= 0) {
        PUTS(&b, ",\"error_offset\":");
        put_uint(&b, (unsigned long)res->error_offset);
    }
    if (res->stages & VL_STAGE_DNS)
        put_dns(&b, res, flags);
    if (res->stages & VL_STAGE_SMTP)
        put_smtp(&b, res, flags);
    put_stages(&b, res->stages);
    PUTS(&b, "}");
    if (b.cap > 0)
        b.p[b.len < b.cap ? b.len : b.cap - 1] = '\0';
    return b.len;
}
