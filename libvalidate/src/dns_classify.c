/*
 * dns_classify.c - from what the lookups of one domain returned to the
 * DNS stage's reasons.
 *
 * RFC 5321 §5.1: the MX hosts, in preference order; with no MX records
 * the domain itself is the implicit MX.  RFC 7505: a single "MX 0 ."
 * says the domain takes no mail.  A failure that may pass (SERVFAIL,
 * REFUSED, timeout, no server reachable, a reply we cannot read) is
 * always "unknown": DESIGN.md's one rule, a temporary failure never
 * makes an address undeliverable.  Only definitive answers (NXDOMAIN,
 * NODATA) can.
 *
 * Pure functions, no I/O.
 */
#include "dns.h"

#include <string.h>

const char *vl__dns_outcome_name(vl__dns_outcome o)
{
    switch (o) {
    case VL__DNS_ANSWER:
        return "NOERROR";
    case VL__DNS_NODATA:
        return "NODATA";
    case VL__DNS_NXDOMAIN:
        return "NXDOMAIN";
    case VL__DNS_SERVFAIL:
        return "SERVFAIL";
    case VL__DNS_REFUSED:
        return "REFUSED";
    case VL__DNS_TIMEOUT:
        return "TIMEOUT";
    case VL__DNS_CONNREFUSED:
        return "UNREACHABLE";
    case VL__DNS_MALFORMED:
        return "MALFORMED";
    case VL__DNS_FAILED:
        return "FAILED";
    }
    return "FAILED";
}

static void add(vl__domain_info *d, vl_reason r)
{
    if (d->n_reasons < sizeof d->reasons / sizeof *d->reasons)
        d->reasons[d->n_reasons++] = r;
}

static vl_reason temp_reason(vl__dns_outcome o)
{
    switch (o) {
    case VL__DNS_SERVFAIL:
        return VL_R_DNS_SERVFAIL;
    case VL__DNS_REFUSED:
        return VL_R_DNS_REFUSED;
    case VL__DNS_TIMEOUT:
        return VL_R_DNS_TIMEOUT;
    case VL__DNS_CONNREFUSED:
        return VL_R_DNS_UNREACHABLE;
    case VL__DNS_MALFORMED:
        return VL_R_DNS_MALFORMED;
    case VL__DNS_ANSWER:
    case VL__DNS_NODATA:
    case VL__DNS_NXDOMAIN:
    case VL__DNS_FAILED:
        break;
    }
    return VL_R_DNS_ERROR;
}

static bool has_public(const vl__mx_host *h, bool loopback_ok)
{
    for (unsigned i = 0; i < h->n_addr; i++)
        if (!vl__dns_addr_private(&h->addr[i]) ||
            (loopback_ok && vl__dns_addr_loopback(&h->addr[i])))
            return true;
    return false;
}

/* The hosts' addresses decide: a reachable host, only private ones,
 * none at all for sure, or none for now. */
static void classify_hosts(vl__domain_info *d, bool spf_rejects_all,
                           bool loopback_ok)
{
    int first_any = -1;
    vl__dns_outcome temp = VL__DNS_ANSWER;

    d->best = -1;
    for (unsigned i = 0; i < d->n_mx; i++) {
        const vl__mx_host *h = &d->mx[i];
        if (h->n_addr > 0 && first_any < 0)
            first_any = (int)i;
        if (d->best < 0 && has_public(h, loopback_ok))
            d->best = (int)i;
        if (h->n_addr == 0 && temp == VL__DNS_ANSWER) {
            if (!vl__dns_definitive(h->a))
                temp = h->a;
            else if (!vl__dns_definitive(h->aaaa))
                temp = h->aaaa;
        }
    }
    if (d->implicit_mx && spf_rejects_all) {
        add(d, VL_R_NO_MAIL_HOST); /* RFC 7208 "-all" and no MX */
        return;
    }
    if (first_any >= 0) {
        if (d->best < 0) {
            d->best = first_any;
            add(d, VL_R_MX_PRIVATE_ADDRESS);
        }
        if (d->implicit_mx)
            add(d, VL_R_IMPLICIT_MX);
        return;
    }
    if (temp != VL__DNS_ANSWER)
        add(d, temp_reason(temp));
    else
        add(d, d->implicit_mx ? VL_R_NO_MAIL_HOST : VL_R_MX_UNRESOLVABLE);
}

void vl__dns_classify(vl__domain_info *d, vl__dns_outcome mx_outcome,
                      bool null_mx, bool spf_rejects_all, bool loopback_ok)
{
    d->n_reasons = 0;
    d->best = -1;
    switch (mx_outcome) {
    case VL__DNS_NXDOMAIN:
        add(d, VL_R_NO_SUCH_DOMAIN);
        return;
    case VL__DNS_ANSWER:
        if (null_mx) {
            add(d, VL_R_NULL_MX);
            return;
        }
        break;
    case VL__DNS_NODATA:
        break;
    case VL__DNS_SERVFAIL:
    case VL__DNS_REFUSED:
    case VL__DNS_TIMEOUT:
    case VL__DNS_CONNREFUSED:
    case VL__DNS_MALFORMED:
    case VL__DNS_FAILED:
        add(d, temp_reason(mx_outcome));
        return;
    }
    classify_hosts(d, spf_rejects_all, loopback_ok);
}

static bool in4(const uint8_t *b, uint32_t net, unsigned bits)
{
    uint32_t v = (uint32_t)b[0] << 24 | (uint32_t)b[1] << 16 |
                 (uint32_t)b[2] << 8 | b[3];
    uint32_t mask = bits ? ~0u << (32 - bits) : 0;
    return (v & mask) == (net & mask);
}

/* RFC 6890 special-purpose IPv4 blocks that are not globally
 * reachable, plus multicast and the reserved 240/4. */
static bool private4(const uint8_t *b)
{
    static const struct {
        uint32_t net;
        unsigned bits;
    } blocks[] = {
        {0x00000000, 8},  {0x0A000000, 8},  {0x64400000, 10}, {0x7F000000, 8},
        {0xA9FE0000, 16}, {0xAC100000, 12}, {0xC0000000, 24}, {0xC0000200, 24},
        {0xC0A80000, 16}, {0xC6120000, 15}, {0xC6336400, 24}, {0xCB007100, 24},
        {0xE0000000, 4},  {0xF0000000, 4},
    };
    for (size_t i = 0; i < sizeof blocks / sizeof *blocks; i++)
        if (in4(b, blocks[i].net, blocks[i].bits))
            return true;
    return false;
}

bool vl__dns_addr_loopback(const vl__dns_addr *a)
{
    static const uint8_t lo6[16] = {0, 0, 0, 0, 0, 0, 0, 0,
                                    0, 0, 0, 0, 0, 0, 0, 1};

    if (a->family == 4)
        return a->bytes[0] == 127;
    return memcmp(a->bytes, lo6, 16) == 0;
}

bool vl__dns_addr_private(const vl__dns_addr *a)
{
    const uint8_t *b = a->bytes;
    static const uint8_t mapped[12] = {0, 0, 0, 0, 0,    0,
                                       0, 0, 0, 0, 0xFF, 0xFF};

    if (a->family == 4)
        return private4(b);
    if (memcmp(b, mapped, 12) == 0)
        return private4(b + 12);
    /* Only 2000::/3 is global unicast; within it, 2001:db8::/32 is for
     * documentation and 2001:10::/28, 2001:20::/28 are ORCHIDs. */
    if ((b[0] & 0xE0) != 0x20)
        return true;
    if (b[0] == 0x20 && b[1] == 0x01 && b[2] == 0x0D && b[3] == 0xB8)
        return true;
    if (b[0] == 0x20 && b[1] == 0x01 && b[2] == 0x00 && b[3] >= 0x10 &&
        b[3] <= 0x2F)
        return true;
    return false;
}
