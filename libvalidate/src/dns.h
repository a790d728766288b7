/*
 * dns.h - the DNS stage: reply parsing (dns_parse.c), the resolver with
 * its cache (dns.c) and the classification of a domain's mail hosts
 * (dns_classify.c).  Private to libvalidate.
 */
#ifndef VL_DNS_H
#define VL_DNS_H

#include "validate.h"

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum {
    VL__DNS_NAME_CAP = 256, /* 255 octets of text + NUL (RFC 1035 §3.1) */
    VL__DNS_MAX_MX = 32,    /* MX records kept from one answer */
    VL__DNS_MAX_ADDR = 32,  /* addresses kept from one answer */
    VL__DNS_MAX_HOSTS = 10  /* MX hosts whose addresses are looked up */
};

typedef struct vl__dns_addr {
    uint8_t family; /* 4 or 6 */
    uint8_t bytes[16];
} vl__dns_addr;

/* What one reply says about the name asked. */
typedef struct vl__dns_msg {
    uint16_t id;
    uint8_t rcode;
    bool aa, tc;
    bool has_soa;
    bool has_spf, spf_rejects_all;
    bool truncated_list;          /* more records than we keep */
    uint32_t min_ttl;             /* smallest TTL of the records used */
    uint32_t neg_ttl;             /* RFC 2308 §5, when has_soa */
    unsigned n_answers;           /* records of the asked type, after CNAMEs */
    char cname[VL__DNS_NAME_CAP]; /* last CNAME target followed, or "" */
    size_t n_mx;
    struct {
        uint16_t pref;
        char host[VL__DNS_NAME_CAP]; /* "" is the root: null MX */
    } mx[VL__DNS_MAX_MX];
    size_t n_addr;
    vl__dns_addr addr[VL__DNS_MAX_ADDR];
} vl__dns_msg;

/* Parse reply 'msg' ('len' bytes) to a query of type 'qtype' for
 * 'qname' (lower case, no trailing dot).  VL_OK, or VL_EDATA for a
 * malformed reply. */
vl_status vl__dns_parse(const uint8_t *msg, size_t len, uint16_t qtype,
                        const char *qname, vl__dns_msg *m);

/* How one query ended. */
typedef enum vl__dns_outcome {
    VL__DNS_ANSWER,   /* records of the type asked */
    VL__DNS_NODATA,   /* NOERROR, none of that type (RFC 2308 §2.2) */
    VL__DNS_NXDOMAIN, /* the name does not exist */
    VL__DNS_SERVFAIL,
    VL__DNS_REFUSED,
    VL__DNS_TIMEOUT,
    VL__DNS_CONNREFUSED, /* no server could be reached */
    VL__DNS_MALFORMED,   /* a reply we could not read */
    VL__DNS_FAILED       /* any other failure (out of memory, ...) */
} vl__dns_outcome;

const char *vl__dns_outcome_name(vl__dns_outcome o);
/* A definitive answer (ANSWER, NODATA, NXDOMAIN), not a failure. */
static inline bool vl__dns_definitive(vl__dns_outcome o)
{
    return o <= VL__DNS_NXDOMAIN;
}

/* One query as the evidence of --explain shows it. */
typedef struct vl__dns_log {
    char *name;
    uint16_t type;
    vl__dns_outcome outcome;
    uint32_t ttl;
    char *answers; /* "10 mx1.example.com, 20 mx2..." or "192.0.2.1" */
} vl__dns_log;

typedef struct vl__mx_host {
    char *host; /* owned */
    uint16_t pref;
    vl__dns_outcome a, aaaa; /* how each address lookup ended */
    unsigned n_addr;
    vl__dns_addr *addr; /* owned */
} vl__mx_host;

/* Everything the DNS stage learnt about one domain.  Immutable once
 * published; shared by every result of that domain, with a reference
 * count (results may live in other threads). */
typedef struct vl__domain_info {
    atomic_int refs;
    unsigned n_reasons;
    vl_reason reasons[4];
    int best;         /* index into mx of the chosen host, or -1 */
    bool implicit_mx; /* mx[0] is the domain itself (RFC 5321 §5.1) */
    unsigned n_mx;
    vl__mx_host *mx;
    unsigned n_log;
    vl__dns_log *log;
} vl__domain_info;

void vl__domain_info_ref(vl__domain_info *d);
void vl__domain_info_unref(vl__domain_info *d);

/* Is the address loopback, private, link-local, multicast, reserved or
 * otherwise not routable on the public Internet?  (RFC 6890 tables.) */
bool vl__dns_addr_private(const vl__dns_addr *a);
/* 127.0.0.0/8 or ::1. */
bool vl__dns_addr_loopback(const vl__dns_addr *a);

/* Decide the DNS reasons of a domain whose lookups are complete:
 * fills d->reasons and d->best from d->mx (dns_classify.c). 'mx_outcome'
 * is how the MX query ended; 'spf_rejects_all' whether the domain
 * publishes "v=spf1 -all"; 'loopback_ok' whether a loopback address
 * counts as usable (the SMTP probe's tests, VL_OPT_SMTP_ALLOW_LOOPBACK). */
void vl__dns_classify(vl__domain_info *d, vl__dns_outcome mx_outcome,
                      bool null_mx, bool spf_rejects_all, bool loopback_ok);

#endif /* VL_DNS_H */
