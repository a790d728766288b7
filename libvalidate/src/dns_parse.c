/*
 * dns_parse.c - interpret the bytes of a DNS reply (RFC 1035 §4).
 *
 * c-ares does the transport (UDP, TCP on truncation, retries, server
 * rotation); this file reads what came back: the header's rcode and
 * flags, the MX, A, AAAA, CNAME and TXT records of the answer section
 * that belong to the name asked (following CNAME chains inside the
 * answer, RFC 1034 §3.6.2), the smallest TTL of what was used, and the
 * negative-caching TTL of an SOA in the authority section (RFC 2308 §5:
 * the smaller of the SOA's TTL and its MINIMUM field).
 *
 * Hostile input is the norm here: every length is checked, compression
 * pointers must point backwards (no loops), names are bounded at 255
 * octets (RFC 1035 §3.1) and anything malformed is VL_EDATA, which the
 * DNS stage turns into "unknown", never "undeliverable".
 *
 * Pure function, no allocation, no I/O.
 */
#include "dns.h"

#include <string.h>

enum {
    T_A = 1,
    T_NS = 2,
    T_CNAME = 5,
    T_SOA = 6,
    T_MX = 15,
    T_TXT = 16,
    T_AAAA = 28,
    C_IN = 1,
    MAX_CHAIN = 8
};

typedef struct reader {
    const uint8_t *msg;
    size_t len;
} reader;

static uint16_t get16(const uint8_t *p)
{
    return (uint16_t)(p[0] << 8 | p[1]);
}

static uint32_t get32(const uint8_t *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 |
           p[3];
}

/* Append one label to 'out' as presentation text, lower-cased; bytes
 * outside LDH and '_' are refused (a host name never has them, and they
 * must never reach a log line or the SMTP wire). */
static int put_label(const uint8_t *l, size_t n, char *out, size_t *w)
{
    if (*w + n + 1 >= VL__DNS_NAME_CAP)
        return -1;
    if (*w > 0)
        out[(*w)++] = '.';
    for (size_t i = 0; i < n; i++) {
        uint8_t c = l[i];
        if (c >= 'A' && c <= 'Z')
            c = (uint8_t)(c + 32);
        if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' ||
              c == '_'))
            return -1;
        out[(*w)++] = (char)c;
    }
    return 0;
}

/* Read a possibly compressed name at *off into 'out' ("" for the root).
 * On success *off is just past the name as it sits in the record. */
static int read_name(const reader *r, size_t *off, char *out)
{
    size_t pos = *off, w = 0, end = 0;
    bool jumped = false;

    for (int hops = 0; hops < 128; hops++) {
        if (pos >= r->len)
            return -1;
        uint8_t b = r->msg[pos];
        if ((b & 0xC0) == 0xC0) {
            if (pos + 1 >= r->len)
                return -1;
            size_t target = (size_t)(b & 0x3F) << 8 | r->msg[pos + 1];
            if (target >= pos) /* only backwards: no loops */
                return -1;
            if (!jumped)
                end = pos + 2;
            jumped = true;
            pos = target;
            continue;
        }
        if (b & 0xC0)
            return -1; /* 0x40/0x80: obsolete label types */
        if (b == 0) {
            out[w] = '\0';
            *off = jumped ? end : pos + 1;
            return 0;
        }
        if (pos + 1 + b > r->len || put_label(r->msg + pos + 1, b, out, &w))
            return -1;
        pos += 1 + (size_t)b;
    }
    return -1;
}

static bool same_name(const char *a, const char *b)
{
    return strcmp(a, b) == 0; /* both already lower-case */
}

/* RFC 7208 §4.5: an SPF record starts "v=spf1" followed by a space or
 * its end.  "v=spf1 -all" alone says the domain sends no mail; with no
 * MX, that is a domain that takes none either. */
static void note_txt(const uint8_t *rd, size_t n, vl__dns_msg *m)
{
    char txt[512];
    size_t w = 0;

    for (size_t i = 0; i < n;) {
        size_t k = rd[i++];
        if (i + k > n)
            return;
        for (size_t j = 0; j < k && w + 1 < sizeof txt; j++)
            txt[w++] = (char)rd[i + j];
        i += k;
    }
    txt[w] = '\0';
    if (w < 6 || strncasecmp(txt, "v=spf1", 6) != 0 ||
        (w > 6 && txt[6] != ' '))
        return;
    m->has_spf = true;
    /* collapse the spaces RFC 7208 allows between terms */
    char *p = txt + 6;
    while (*p == ' ')
        p++;
    char *e = txt + w;
    while (e > p && e[-1] == ' ')
        e--;
    if (e - p == 4 && strncasecmp(p, "-all", 4) == 0)
        m->spf_rejects_all = true;
}

static void note_ttl(vl__dns_msg *m, uint32_t ttl)
{
    if (ttl > 0x7FFFFFFFu) /* RFC 2181 §8: treat as zero */
        ttl = 0;
    if (ttl < m->min_ttl)
        m->min_ttl = ttl;
}

static int take_mx(const reader *r, size_t rd, size_t rdlen, vl__dns_msg *m)
{
    size_t off = rd + 2;
    char host[VL__DNS_NAME_CAP];

    if (rdlen < 3 || read_name(r, &off, host) < 0 || off != rd + rdlen)
        return -1;
    if (m->n_mx >= VL__DNS_MAX_MX) {
        m->truncated_list = true;
        return 0;
    }
    m->mx[m->n_mx].pref = get16(r->msg + rd);
    memcpy(m->mx[m->n_mx].host, host, strlen(host) + 1);
    m->n_mx++;
    return 0;
}

static int take_addr(const reader *r, size_t rd, size_t rdlen, int family,
                     vl__dns_msg *m)
{
    size_t need = family == 4 ? 4 : 16;

    if (rdlen != need)
        return -1;
    if (m->n_addr >= VL__DNS_MAX_ADDR) {
        m->truncated_list = true;
        return 0;
    }
    m->addr[m->n_addr].family = (uint8_t)family;
    memset(m->addr[m->n_addr].bytes, 0, 16);
    memcpy(m->addr[m->n_addr].bytes, r->msg + rd, need);
    m->n_addr++;
    return 0;
}

/* One pass over the answer section for records owned by 'owner'. */
static int scan_answers(const reader *r, size_t off, unsigned count,
                        const char *owner, uint16_t qtype, vl__dns_msg *m,
                        char *next_owner)
{
    char name[VL__DNS_NAME_CAP];

    next_owner[0] = '\0';
    for (unsigned i = 0; i < count; i++) {
        if (read_name(r, &off, name) < 0 || off + 10 > r->len)
            return -1;
        uint16_t type = get16(r->msg + off), cls = get16(r->msg + off + 2);
        uint32_t ttl = get32(r->msg + off + 4);
        size_t rdlen = get16(r->msg + off + 8), rd = off + 10;
        if (rd + rdlen > r->len)
            return -1;
        off = rd + rdlen;
        if (cls != C_IN || !same_name(name, owner))
            continue;
        int rc = 0;
        if (type == T_CNAME) {
            size_t p = rd;
            if (read_name(r, &p, next_owner) < 0 || p != rd + rdlen)
                return -1;
            note_ttl(m, ttl);
            continue;
        }
        if (type != qtype)
            continue;
        if (type == T_MX)
            rc = take_mx(r, rd, rdlen, m);
        else if (type == T_A)
            rc = take_addr(r, rd, rdlen, 4, m);
        else if (type == T_AAAA)
            rc = take_addr(r, rd, rdlen, 6, m);
        else if (type == T_TXT)
            note_txt(r->msg + rd, rdlen, m);
        if (rc < 0)
            return -1;
        note_ttl(m, ttl);
        m->n_answers++;
    }
    return (int)(off <= r->len ? 0 : -1);
}

/* Skip 'count' resource records from *off; find an SOA's negative TTL. */
static int scan_authority(const reader *r, size_t *off, unsigned count,
                          vl__dns_msg *m)
{
    char name[VL__DNS_NAME_CAP];

    for (unsigned i = 0; i < count; i++) {
        if (read_name(r, off, name) < 0 || *off + 10 > r->len)
            return -1;
        uint16_t type = get16(r->msg + *off);
        uint32_t ttl = get32(r->msg + *off + 4);
        size_t rdlen = get16(r->msg + *off + 8), rd = *off + 10;
        if (rd + rdlen > r->len)
            return -1;
        *off = rd + rdlen;
        if (type != T_SOA)
            continue;
        size_t p = rd;
        if (read_name(r, &p, name) < 0 || read_name(r, &p, name) < 0 ||
            p + 20 != rd + rdlen)
            return -1;
        uint32_t minimum = get32(r->msg + p + 16);
        m->neg_ttl = ttl < minimum ? ttl : minimum;
        m->has_soa = true;
    }
    return 0;
}

vl_status vl__dns_parse(const uint8_t *msg, size_t len, uint16_t qtype,
                        const char *qname, vl__dns_msg *m)
{
    reader r = {msg, len};
    char owner[VL__DNS_NAME_CAP], next[VL__DNS_NAME_CAP];
    size_t off = 12;

    memset(m, 0, sizeof *m);
    m->min_ttl = UINT32_MAX;
    if (len < 12 || !(msg[2] & 0x80)) /* too short, or not a response */
        return VL_EDATA;
    m->id = get16(msg);
    m->aa = (msg[2] & 0x04) != 0;
    m->tc = (msg[2] & 0x02) != 0;
    m->rcode = msg[3] & 0x0F;
    unsigned qd = get16(msg + 4), an = get16(msg + 6), ns = get16(msg + 8);
    for (unsigned i = 0; i < qd; i++) {
        if (read_name(&r, &off, next) < 0 || off + 4 > len)
            return VL_EDATA;
        off += 4;
    }
    size_t answers = off;
    /* Walk the CNAME chain: each pass takes the records of one owner. */
    if (strlen(qname) >= sizeof owner)
        return VL_EDATA;
    memcpy(owner, qname, strlen(qname) + 1);
    for (int hop = 0; hop < MAX_CHAIN; hop++) {
        if (scan_answers(&r, answers, an, owner, qtype, m, next) < 0)
            return VL_EDATA;
        if (next[0] == '\0' || m->n_answers > 0)
            break;
        memcpy(m->cname, next, strlen(next) + 1);
        memcpy(owner, next, strlen(next) + 1);
    }
    /* Skip the answer section once more to reach the authority one. */
    char name[VL__DNS_NAME_CAP];
    for (unsigned i = 0; i < an; i++) {
        if (read_name(&r, &off, name) < 0 || off + 10 > len)
            return VL_EDATA;
        off += 10 + (size_t)get16(msg + off + 8);
        if (off > len)
            return VL_EDATA;
    }
    if (scan_authority(&r, &off, ns, m) < 0)
        return VL_EDATA;
    if (m->min_ttl == UINT32_MAX)
        m->min_ttl = 0;
    return VL_OK;
}
