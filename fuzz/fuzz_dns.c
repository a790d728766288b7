/*
 * fuzz_dns.c - libFuzzer harness for the DNS reply parser.
 *
 * The first input byte picks the query type (MX, A, AAAA, TXT) and the
 * rest is a reply, fed to vl__dns_parse() exactly as c-ares hands
 * replies to the resolver.  Invariants: the parser never reads outside
 * the buffer (ASan), lists stay within their bounds, every host name is
 * NUL-terminated, lower-case LDH text of at most 255 octets, and a
 * parsed reply then classifies without trouble.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dns.h"
#include "fuzz_check.h"

static void check_host(const char *h)
{
    size_t n = strnlen(h, VL__DNS_NAME_CAP);
    CHECK(n < VL__DNS_NAME_CAP);
    for (size_t i = 0; i < n; i++) {
        char c = h[i];
        CHECK((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' ||
              c == '_' || c == '.');
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const uint16_t types[] = {15, 1, 28, 16};
    static vl__dns_msg m;

    if (size < 1)
        return 0;
    uint16_t type = types[data[0] & 3];
    if (vl__dns_parse(data + 1, size - 1, type, "example.com", &m) != VL_OK)
        return 0;
    CHECK(m.n_mx <= VL__DNS_MAX_MX && m.n_addr <= VL__DNS_MAX_ADDR);
    CHECK(m.rcode <= 15);
    check_host(m.cname);
    for (size_t i = 0; i < m.n_mx; i++)
        check_host(m.mx[i].host);
    for (size_t i = 0; i < m.n_addr; i++)
        CHECK(m.addr[i].family == 4 || m.addr[i].family == 6);
    if (type == 15)
        CHECK(m.n_addr == 0);
    else
        CHECK(m.n_mx == 0);

    /* Classify what the reply says, as the resolver would. */
    vl__domain_info d = {.best = -1};
    vl__mx_host h = {.a = VL__DNS_ANSWER, .aaaa = VL__DNS_NODATA};
    h.n_addr = (unsigned)m.n_addr;
    h.addr = m.addr;
    d.mx = &h;
    d.n_mx = 1;
    vl__dns_classify(&d, m.n_answers ? VL__DNS_ANSWER : VL__DNS_NODATA,
                     m.n_mx == 1 && m.mx[0].host[0] == '\0', m.spf_rejects_all,
                     false);
    CHECK(d.n_reasons <= 4);
    CHECK(d.best < 1);
    return 0;
}
