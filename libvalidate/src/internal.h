/*
 * internal.h - private types and vl__ functions shared by libvalidate's
 * source files.  Nothing here is installed or part of the ABI.
 */
#ifndef VL_INTERNAL_H
#define VL_INTERNAL_H

#include "strset.h"
#include "validate.h"

#include <libpsl.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <unicode/uspoof.h>

/* RFC 5321 §4.5.3.1: local part 64 octets, whole mailbox 254 (a path
 * of 256 less the angle brackets); RFC 1035 §2.3.4: a label is 63
 * octets and a name 255 on the wire, so 253 in text form. */
enum {
    VL__LOCAL_MAX = 64,
    VL__LABEL_MAX = 63,
    VL__DOMAIN_MAX = 253,
    VL__ADDRESS_MAX = 254,
    VL__MAX_REASONS = 16,
    /* Field capacity: UTS #46 mapping and case folding can grow a
     * string, so fields hold four times the longest valid address. */
    VL__FIELD_CAP = 4 * VL__ADDRESS_MAX + 8
};

/* "No reason": the syntax stage found nothing wrong. */
#define VL__SYNTAX_OK VL_R__COUNT

enum {
    VL__SYN_QUOTED = 1u << 0,     /* local part is a Quoted-string */
    VL__SYN_LITERAL = 1u << 1,    /* domain is an address literal */
    VL__SYN_LOCAL_UTF8 = 1u << 2, /* local part has non-ASCII octets */
    VL__SYN_DOMAIN_UTF8 = 1u << 3 /* domain has non-ASCII octets */
};

/* Where the parts of a syntactically valid mailbox lie in the input. */
typedef struct vl__syntax_parts {
    size_t local_off, local_len;   /* quotes included when quoted */
    size_t domain_off, domain_len; /* brackets included for literals */
    unsigned flags;                /* VL__SYN_* */
    size_t error_offset;           /* byte offset of the fault */
    /* For SYNTAX_DISPLAY_NAME: the span between '<' and '>'. */
    size_t inner_off, inner_len;
} vl__syntax_parts;

/* Parse 's' ('len' bytes, not trimmed) as an RFC 5321 Mailbox with
 * RFC 6531 UTF-8.  Returns VL__SYNTAX_OK and fills 'p', or the reason
 * of the first fault with p->error_offset set.  Non-ASCII domain labels
 * are checked for structure only: IDNA validity is normalise.c's. */
vl_reason vl__syntax_parse(const char *s, size_t len, vl__syntax_parts *p);
/* Strip paste debris from both ends, as vl_check() does first (check.c;
 * the store's keys are made the same way). */
void vl__trim(const char **s, size_t *len);

typedef struct vl__tables {
    vl__strset disposable, free_mail, role, typo;
    vl__strset typo_targets; /* every domain a typo maps to */
    vl__strset typo_deletes; /* target with one byte deleted -> target */
    vl__strset plus;         /* providers that document +tags */
    vl__strset typo_heads, typo_tails; /* every prefix/suffix of a target */
    /* providers whose RCPT answers mean nothing (the SMTP probe) */
    vl__strset unverifiable;
    char **arenas; /* owned copies of file contents */
    size_t n_arenas;
} vl__tables;

vl_status vl__tables_load(vl__tables *t, const vl_options *opt, char *err,
                          size_t err_cap);
void vl__tables_free(vl__tables *t);
/* Write a suggested fix for 'domain' into 'out' (cap bytes) and return
 * its length, or 0 when it looks like no known typo. */
size_t vl__typo_suggest(const vl__tables *t, const char *domain, size_t len,
                        char *out, size_t cap);

struct vl__net;
struct vl__domain_info;

struct vl_ctx {
    uint64_t id; /* unique per process: keys the per-thread memos */
    unsigned flags;
    struct vl__net *net; /* NULL when offline */
    vl__tables tables;
    const psl_ctx_t *psl; /* owned when psl_owned; may be NULL */
    bool psl_owned;
    USpoofChecker *spoof; /* owned; NULL with VL_OPT_NO_SPOOF_CHECK */
    vl_store *store;      /* borrowed; NULL: no store stage */
    char scope[VL_STORE_SCOPE_CAP];
};

enum {
    VL__SMTP_TEXT_CAP = 512,    /* reply text kept in a result */
    VL__SMTP_ENHANCED_CAP = 16, /* "5.1.1": class.subject.detail */
    VL__SMTP_IP_CAP = 46,       /* INET6_ADDRSTRLEN */
    VL__SMTP_HOST_CAP = 256     /* a host name and its NUL */
};

/* One line of an SMTP dialogue, for --explain. */
typedef struct vl__smtp_line {
    uint32_t ms; /* since the connection started */
    char dir;    /* 'C' sent, 'S' received */
    char *text;  /* owned */
} vl__smtp_line;

/* What the SMTP probe found about one address (smtp.c). */
typedef struct vl__smtp_outcome {
    bool ran;         /* the stage ran: a probe, or a reason not to */
    vl_reason reason; /* VL_R__COUNT: accepted, nothing to add */
    int code;         /* the reply that decided, or 0 */
    char enhanced[VL__SMTP_ENHANCED_CAP];
    char text[VL__SMTP_TEXT_CAP];
    char host[VL__SMTP_HOST_CAP]; /* the MX host spoken to, or "" */
    char ip[VL__SMTP_IP_CAP];
    unsigned port;
    int catch_all;          /* 1 yes, 0 no, -1 could not tell */
    bool tls, smtputf8;     /* TLS in use; SMTPUTF8 advertised */
    unsigned retry_after_s; /* greylisted: when to try again */
    size_t n_lines;         /* transcript (VL_OPT_EXPLAIN) */
    vl__smtp_line *lines;   /* owned */
} vl__smtp_outcome;

/* Free the transcript and empty the outcome. */
void vl__smtp_outcome_clear(vl__smtp_outcome *o);

struct vl_result {
    vl_verdict verdict;
    unsigned stages;
    unsigned n_reasons;
    vl_reason reasons[VL__MAX_REASONS];
    long error_offset;
    int smtputf8;
    int has_suggestion;
    char address[VL__FIELD_CAP];
    char domain_ascii[VL__FIELD_CAP];
    char domain_unicode[VL__FIELD_CAP];
    char canonical[VL__FIELD_CAP];
    char suggestion[VL__FIELD_CAP];
    struct vl__domain_info *dns; /* a reference, or NULL */
    int dns_cached;
    vl__smtp_outcome smtp;
};

/* Add a reason (once) and raise the verdict to what it implies. */
void vl__result_add(vl_result *res, vl_reason r);
void vl__result_reset(vl_result *res);
/* Suggest "local@domain" (both spans copied; dropped if too long). */
void vl__result_suggest(vl_result *res, const char *local, size_t llen,
                        const char *domain, size_t dlen);
/* Attach the DNS stage's findings (takes the reference; NULL means the
 * lookup could not run: "unknown", dns_error). */
void vl__result_set_dns(vl_result *res, struct vl__domain_info *info,
                        bool cached);

/* Normalisation (normalise.c): fills address, domain_ascii,
 * domain_unicode, canonical and smtputf8 of 'res' from the parsed
 * mailbox; adds IDNA_INVALID or CONFUSABLE reasons.  Returns VL_OK or a
 * system error (VL_ENOMEM, VL_EINTERNAL). */
vl_status vl__normalise(const vl_ctx *ctx, const char *s,
                        const vl__syntax_parts *p, vl_result *res);

/* Table stage (check.c's helpers in tables.c): disposable, free, role,
 * typo, TLD and reserved-domain checks on a normalised result. */
void vl__tables_check(const vl_ctx *ctx, const char *local, size_t local_len,
                      vl_result *res);

/* What the tables say about a domain (facts.c), remembered per thread. */
enum {
    VL__F_RESERVED = 1u << 0,
    VL__F_DISPOSABLE = 1u << 1,
    VL__F_FREE = 1u << 2,
    VL__F_UNKNOWN_TLD = 1u << 3,
    VL__F_SINGLE_LABEL = 1u << 4
};

typedef struct vl__facts {
    unsigned flags;          /* VL__F_* */
    size_t fix_len;          /* 0: no typo fix */
    char fix[VL__FIELD_CAP]; /* the fixed domain, not NUL-terminated */
} vl__facts;

void vl__domain_facts(const vl_ctx *ctx, const char *domain, size_t len,
                      vl__facts *out);
uint64_t vl__facts_new_ctx_id(void);

/* The store (store.c and its backends). */
vl_status vl__store_sqlite_open(const char *path, const vl_store_config *cfg,
                                const vl_store_ops **ops, void **be, char *err,
                                size_t err_cap);
/* VL_EINVAL with a message when built without libpq. */
vl_status vl__store_pg_open(const char *uri, const vl_store_config *cfg,
                            const vl_store_ops **ops, void **be, char *err,
                            size_t err_cap);
/* The store stage's lookup for a checked result (see store.c). */
vl_status vl__store_check(vl_store *st, const vl_result *res,
                          unsigned ctx_flags, const char *scope,
                          vl_store_entry *out);

static inline bool vl__reason_is_suppressed(vl_reason r)
{
    return r == VL_R_SUPPRESSED_HARD_BOUNCE ||
           r == VL_R_SUPPRESSED_SOFT_BOUNCE ||
           r == VL_R_SUPPRESSED_VALIDATION || r == VL_R_SUPPRESSED_MANUAL;
}

/* Copy 'len' bytes into a field of 'cap' bytes; too long is an error,
 * never a cut. */
vl_status vl__copy_field(char *dst, size_t cap, const char *src, size_t len);

static inline char vl__lower(char c)
{
    return (c >= 'A' && c <= 'Z') ? (char)(c + ('a' - 'A')) : c;
}

#endif /* VL_INTERNAL_H */
