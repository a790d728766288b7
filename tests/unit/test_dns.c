/*
 * test_dns.c - the DNS stage's pure parts: reading replies (records,
 * CNAME chains, compression, SOA negative TTLs, hostile bytes), the
 * classification of a domain's outcome, and which addresses are
 * private.  No network here: tests/dns/ has the servers.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdlib.h>
#include <string.h>

#include "dns.h"

/* ---- a tiny reply builder --------------------------------------- */

typedef struct msg {
    uint8_t b[1024];
    size_t n;
} msg;

static void u16(msg *m, unsigned v)
{
    m->b[m->n++] = (uint8_t)(v >> 8);
    m->b[m->n++] = (uint8_t)v;
}

static void u32(msg *m, uint32_t v)
{
    u16(m, v >> 16);
    u16(m, v & 0xFFFF);
}

static void name(msg *m, const char *dotted)
{
    while (*dotted) {
        const char *dot = strchr(dotted, '.');
        size_t l = dot ? (size_t)(dot - dotted) : strlen(dotted);
        m->b[m->n++] = (uint8_t)l;
        memcpy(m->b + m->n, dotted, l);
        m->n += l;
        dotted += l + (dot ? 1 : 0);
    }
    m->b[m->n++] = 0;
}

static void header(msg *m, unsigned rcode, unsigned an, unsigned ns)
{
    m->n = 0;
    u16(m, 0x1234);
    u16(m, 0x8180 | rcode); /* QR, RD, RA */
    u16(m, 1);
    u16(m, an);
    u16(m, ns);
    u16(m, 0);
}

static void question(msg *m, const char *qname, unsigned type)
{
    name(m, qname);
    u16(m, type);
    u16(m, 1);
}

static void rr(msg *m, const char *owner, unsigned type, uint32_t ttl)
{
    name(m, owner);
    u16(m, type);
    u16(m, 1);
    u32(m, ttl);
}

static void mx(msg *m, const char *owner, unsigned pref, const char *host,
               uint32_t ttl)
{
    msg tmp = {.n = 0};
    rr(m, owner, 15, ttl);
    u16(&tmp, pref);
    name(&tmp, host);
    u16(m, (unsigned)tmp.n);
    memcpy(m->b + m->n, tmp.b, tmp.n);
    m->n += tmp.n;
}

static void a(msg *m, const char *owner, const uint8_t ip[4], uint32_t ttl)
{
    rr(m, owner, 1, ttl);
    u16(m, 4);
    memcpy(m->b + m->n, ip, 4);
    m->n += 4;
}

static void cname(msg *m, const char *owner, const char *target)
{
    msg tmp = {.n = 0};
    rr(m, owner, 5, 300);
    name(&tmp, target);
    u16(m, (unsigned)tmp.n);
    memcpy(m->b + m->n, tmp.b, tmp.n);
    m->n += tmp.n;
}

static void soa(msg *m, const char *zone, uint32_t ttl, uint32_t minimum)
{
    msg tmp = {.n = 0};
    rr(m, zone, 6, ttl);
    name(&tmp, "ns.example");
    name(&tmp, "hostmaster.example");
    u32(&tmp, 1);
    u32(&tmp, 3600);
    u32(&tmp, 600);
    u32(&tmp, 86400);
    u32(&tmp, minimum);
    u16(m, (unsigned)tmp.n);
    memcpy(m->b + m->n, tmp.b, tmp.n);
    m->n += tmp.n;
}

static vl__dns_msg out;

static vl_status parse(const msg *m, unsigned type, const char *q)
{
    return vl__dns_parse(m->b, m->n, (uint16_t)type, q, &out);
}

/* ---- parsing ------------------------------------------------------ */

static void mx_records_and_min_ttl(void **state)
{
    msg m;
    (void)state;
    header(&m, 0, 2, 0);
    question(&m, "Example.COM", 15);
    mx(&m, "example.com", 20, "MX2.example.com", 600);
    mx(&m, "EXAMPLE.com", 10, "mx1.example.com", 300);
    assert_int_equal(parse(&m, 15, "example.com"), VL_OK);
    assert_int_equal(out.n_mx, 2);
    assert_int_equal(out.mx[0].pref, 20);
    assert_string_equal(out.mx[0].host, "mx2.example.com");
    assert_string_equal(out.mx[1].host, "mx1.example.com");
    assert_int_equal(out.min_ttl, 300);
    assert_int_equal(out.n_answers, 2);
}

static void null_mx_is_root(void **state)
{
    msg m;
    (void)state;
    header(&m, 0, 1, 0);
    question(&m, "nullmx.example", 15);
    mx(&m, "nullmx.example", 0, "", 3600);
    assert_int_equal(parse(&m, 15, "nullmx.example"), VL_OK);
    assert_int_equal(out.n_mx, 1);
    assert_string_equal(out.mx[0].host, "");
}

static void cname_chain_followed(void **state)
{
    msg m;
    static const uint8_t ip[4] = {198, 51, 99, 7};
    (void)state;
    header(&m, 0, 3, 0);
    question(&m, "www.example", 1);
    a(&m, "final.example", ip, 60); /* out of order on purpose */
    cname(&m, "www.example", "mid.example");
    cname(&m, "mid.example", "final.example");
    assert_int_equal(parse(&m, 1, "www.example"), VL_OK);
    assert_int_equal(out.n_addr, 1);
    assert_memory_equal(out.addr[0].bytes, ip, 4);
    assert_string_equal(out.cname, "final.example");
    /* records of another owner are not ours */
    header(&m, 0, 1, 0);
    question(&m, "x.example", 1);
    a(&m, "y.example", ip, 60);
    assert_int_equal(parse(&m, 1, "x.example"), VL_OK);
    assert_int_equal(out.n_addr, 0);
}

static void negative_ttl_from_soa(void **state)
{
    msg m;
    (void)state;
    header(&m, 3, 0, 1); /* NXDOMAIN */
    question(&m, "nope.example", 15);
    soa(&m, "example", 900, 60);
    assert_int_equal(parse(&m, 15, "nope.example"), VL_OK);
    assert_int_equal(out.rcode, 3);
    assert_true(out.has_soa);
    assert_int_equal(out.neg_ttl, 60); /* RFC 2308 §5: min(TTL, MINIMUM) */
    header(&m, 0, 0, 1);
    question(&m, "nodata.example", 15);
    soa(&m, "example", 30, 3600);
    assert_int_equal(parse(&m, 15, "nodata.example"), VL_OK);
    assert_int_equal(out.neg_ttl, 30);
}

static void compression_pointers(void **state)
{
    msg m;
    (void)state;
    header(&m, 0, 1, 0);
    question(&m, "example.com", 15); /* name at offset 12 */
    u16(&m, 0xC00C);                 /* owner: pointer to the qname */
    u16(&m, 15);
    u16(&m, 1);
    u32(&m, 100);
    u16(&m, 8); /* rdlength: 2 pref + 1+3 label + 2 pointer */
    u16(&m, 5);
    m.b[m.n++] = 3; /* "mx1" + pointer to "example.com" */
    memcpy(m.b + m.n, "mx1", 3);
    m.n += 3;
    u16(&m, 0xC00C);
    assert_int_equal(parse(&m, 15, "example.com"), VL_OK);
    assert_int_equal(out.n_mx, 1);
    assert_string_equal(out.mx[0].host, "mx1.example.com");
}

static void hostile_replies_are_malformed(void **state)
{
    msg m;
    (void)state;
    /* a pointer to itself */
    header(&m, 0, 1, 0);
    question(&m, "a.example", 15);
    u16(&m, 0xC000 | (unsigned)m.n);
    assert_int_equal(parse(&m, 15, "a.example"), VL_EDATA);
    /* rdata running past the end */
    header(&m, 0, 1, 0);
    question(&m, "a.example", 15);
    rr(&m, "a.example", 15, 60);
    u16(&m, 200);
    assert_int_equal(parse(&m, 15, "a.example"), VL_EDATA);
    /* a label byte that no host name has */
    header(&m, 0, 1, 0);
    question(&m, "a.example", 15);
    mx(&m, "a.example", 10, "bad\rhost.example", 60);
    assert_int_equal(parse(&m, 15, "a.example"), VL_EDATA);
    /* an A record of 5 bytes */
    header(&m, 0, 1, 0);
    question(&m, "a.example", 1);
    rr(&m, "a.example", 1, 60);
    u16(&m, 5);
    memset(m.b + m.n, 1, 5);
    m.n += 5;
    assert_int_equal(parse(&m, 1, "a.example"), VL_EDATA);
    /* a query, not a reply; and too short */
    header(&m, 0, 0, 0);
    m.b[2] &= 0x7F;
    assert_int_equal(parse(&m, 1, "a.example"), VL_EDATA);
    m.n = 5;
    assert_int_equal(parse(&m, 1, "a.example"), VL_EDATA);
}

static void spf_minus_all(void **state)
{
    msg m;
    static const char *const cases[] = {"v=spf1 -all", "V=SPF1   -ALL ",
                                        "v=spf1 mx -all", "v=spf10 -all"};
    static const bool want[] = {true, true, false, false};
    (void)state;
    for (int i = 0; i < 4; i++) {
        size_t l = strlen(cases[i]);
        header(&m, 0, 1, 0);
        question(&m, "s.example", 16);
        rr(&m, "s.example", 16, 60);
        u16(&m, (unsigned)l + 1);
        m.b[m.n++] = (uint8_t)l;
        memcpy(m.b + m.n, cases[i], l);
        m.n += l;
        assert_int_equal(parse(&m, 16, "s.example"), VL_OK);
        assert_int_equal(out.spf_rejects_all, want[i]);
    }
}

/* ---- classification ---------------------------------------------- */

static vl__dns_addr v4(uint8_t a0, uint8_t a1, uint8_t a2, uint8_t a3)
{
    vl__dns_addr x = {.family = 4, .bytes = {a0, a1, a2, a3}};
    return x;
}

static void private_addresses(void **state)
{
    vl__dns_addr x;
    (void)state;
    x = v4(10, 1, 2, 3);
    assert_true(vl__dns_addr_private(&x));
    x = v4(127, 0, 0, 1);
    assert_true(vl__dns_addr_private(&x));
    x = v4(169, 254, 1, 1);
    assert_true(vl__dns_addr_private(&x));
    x = v4(172, 31, 255, 255);
    assert_true(vl__dns_addr_private(&x));
    x = v4(172, 32, 0, 1);
    assert_false(vl__dns_addr_private(&x));
    x = v4(192, 0, 2, 1); /* TEST-NET-1: documentation */
    assert_true(vl__dns_addr_private(&x));
    x = v4(100, 64, 0, 1); /* shared address space (CGN) */
    assert_true(vl__dns_addr_private(&x));
    x = v4(224, 0, 0, 1);
    assert_true(vl__dns_addr_private(&x));
    x = v4(142, 250, 1, 27);
    assert_false(vl__dns_addr_private(&x));
    vl__dns_addr six = {.family = 6, .bytes = {0xfe, 0x80}};
    assert_true(vl__dns_addr_private(&six));
    vl__dns_addr doc = {.family = 6, .bytes = {0x20, 0x01, 0x0d, 0xb8}};
    assert_true(vl__dns_addr_private(&doc));
    vl__dns_addr loop = {.family = 6, .bytes = {[15] = 1}};
    assert_true(vl__dns_addr_private(&loop));
    vl__dns_addr pub = {.family = 6, .bytes = {0x2a, 0x00, 0x14, 0x50}};
    assert_false(vl__dns_addr_private(&pub));
    vl__dns_addr mapped = {.family = 6,
                           .bytes = {[10] = 0xff, 0xff, 10, 0, 0, 1}};
    assert_true(vl__dns_addr_private(&mapped));
}

static vl__domain_info *info_with(unsigned n)
{
    vl__domain_info *d = calloc(1, sizeof *d);
    d->mx = calloc(n ? n : 1, sizeof *d->mx);
    d->n_mx = n;
    for (unsigned i = 0; i < n; i++) {
        d->mx[i].pref = (uint16_t)(10 * (i + 1));
        d->mx[i].a = d->mx[i].aaaa = VL__DNS_NXDOMAIN;
    }
    return d;
}

static void give_addr(vl__mx_host *h, vl__dns_addr x)
{
    h->addr = realloc(h->addr, (h->n_addr + 1) * sizeof *h->addr);
    h->addr[h->n_addr++] = x;
    h->a = VL__DNS_ANSWER;
}

static void drop(vl__domain_info *d)
{
    for (unsigned i = 0; i < d->n_mx; i++)
        free(d->mx[i].addr);
    free(d->mx);
    free(d);
}

static void expect_one(vl__domain_info *d, vl_reason r)
{
    assert_int_equal(d->n_reasons, 1);
    assert_int_equal(d->reasons[0], r);
}

static void classify_outcomes(void **state)
{
    vl__domain_info *d;
    (void)state;

    d = info_with(0);
    vl__dns_classify(d, VL__DNS_NXDOMAIN, false, false, false);
    expect_one(d, VL_R_NO_SUCH_DOMAIN);
    vl__dns_classify(d, VL__DNS_ANSWER, true, false, false);
    expect_one(d, VL_R_NULL_MX);
    vl__dns_classify(d, VL__DNS_SERVFAIL, false, false, false);
    expect_one(d, VL_R_DNS_SERVFAIL);
    vl__dns_classify(d, VL__DNS_TIMEOUT, false, false, false);
    expect_one(d, VL_R_DNS_TIMEOUT);
    vl__dns_classify(d, VL__DNS_MALFORMED, false, false, false);
    expect_one(d, VL_R_DNS_MALFORMED);
    drop(d);

    /* two MX hosts, both gone for sure: unresolvable */
    d = info_with(2);
    vl__dns_classify(d, VL__DNS_ANSWER, false, false, false);
    expect_one(d, VL_R_MX_UNRESOLVABLE);
    /* ... but one only timed out: unknown, never undeliverable */
    d->mx[1].aaaa = VL__DNS_TIMEOUT;
    vl__dns_classify(d, VL__DNS_ANSWER, false, false, false);
    expect_one(d, VL_R_DNS_TIMEOUT);
    /* the second host has a public address: it is the best */
    give_addr(&d->mx[1], v4(198, 51, 99, 1));
    vl__dns_classify(d, VL__DNS_ANSWER, false, false, false);
    assert_int_equal(d->n_reasons, 0);
    assert_int_equal(d->best, 1);
    drop(d);

    /* only private addresses: risky, best is still the first */
    d = info_with(2);
    give_addr(&d->mx[0], v4(10, 0, 0, 1));
    give_addr(&d->mx[1], v4(192, 168, 1, 1));
    vl__dns_classify(d, VL__DNS_ANSWER, false, false, false);
    expect_one(d, VL_R_MX_PRIVATE_ADDRESS);
    assert_int_equal(d->best, 0);
    drop(d);

    /* implicit MX */
    d = info_with(1);
    d->implicit_mx = true;
    vl__dns_classify(d, VL__DNS_NODATA, false, false, false);
    expect_one(d, VL_R_NO_MAIL_HOST);
    give_addr(&d->mx[0], v4(198, 51, 99, 2));
    vl__dns_classify(d, VL__DNS_NODATA, false, false, false);
    expect_one(d, VL_R_IMPLICIT_MX);
    vl__dns_classify(d, VL__DNS_NODATA, false, true, false); /* v=spf1 -all */
    expect_one(d, VL_R_NO_MAIL_HOST);
    drop(d);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(mx_records_and_min_ttl),
        cmocka_unit_test(null_mx_is_root),
        cmocka_unit_test(cname_chain_followed),
        cmocka_unit_test(negative_ttl_from_soa),
        cmocka_unit_test(compression_pointers),
        cmocka_unit_test(hostile_replies_are_malformed),
        cmocka_unit_test(spf_minus_all),
        cmocka_unit_test(private_addresses),
        cmocka_unit_test(classify_outcomes),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
