/*
 * validate.h - the whole public API of libvalidate (mailvet).
 *
 * libvalidate tells whether an e-mail address can receive mail: syntax
 * (RFC 5321 Mailbox, RFC 6531 UTF-8), normalisation (IDNA via libidn2,
 * NFC and spoof checks via ICU), data tables (disposable, free-mail,
 * role, typo) and, in later stages, DNS, the invalid-address store and
 * an SMTP probe.  Every address gets one verdict and a set of reasons.
 *
 * Conventions:
 *  - Every public name starts with vl_ / VL_.
 *  - Handles are opaque; each has a _new and a _free, and _free(NULL)
 *    is a no-op.
 *  - Strings returned by accessors are borrowed: they live as long as
 *    the object they came from, or until it is next written to.
 *  - Input strings are (pointer, length): they need not be
 *    NUL-terminated, and an embedded NUL is data (and a rejection).
 */
#ifndef VALIDATE_H
#define VALIDATE_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#if defined(VL_BUILDING_LIBRARY) && defined(__GNUC__)
#define VL_API __attribute__((visibility("default")))
#else
#define VL_API
#endif

#define VL_VERSION_MAJOR 0
#define VL_VERSION_MINOR 1
#define VL_VERSION_PATCH 0
#define VL_VERSION_STRING "0.1.0"

/* Library version at run time, e.g. "0.1.0". Static text. */
VL_API const char *vl_version(void);

/* ---- Status codes: append only, values never change ---------------- */

typedef enum vl_status {
    VL_OK = 0,
    VL_ENOMEM = 1,   /* out of memory */
    VL_EINVAL = 2,   /* bad argument */
    VL_ETOOLONG = 3, /* a value does not fit its bound; refused, not cut */
    VL_EIO = 4,      /* a file could not be read */
    VL_EDATA = 5,    /* a data file is malformed */
    VL_ETEMP = 6,    /* temporary failure: try again later */
    VL_EINTERNAL = 7 /* a library call failed unexpectedly */
} vl_status;

/* Static English text for a status, never NULL. */
VL_API const char *vl_strerror(vl_status st);

/* ---- Verdicts ------------------------------------------------------- */

/* Ordered by severity: when stages disagree the highest value wins
 * (undeliverable > unknown > risky > deliverable). */
typedef enum vl_verdict {
    VL_DELIVERABLE = 0,
    VL_RISKY = 1,
    VL_UNKNOWN = 2,
    VL_UNDELIVERABLE = 3
} vl_verdict;

/* "deliverable", "risky", "unknown", "undeliverable". Static text. */
VL_API const char *vl_verdict_name(vl_verdict v);

/* ---- Reasons ---------------------------------------------------------
 * One list makes the enum, the stable snake_case name and the verdict a
 * reason implies.  Append only: a shipped name never changes. */
#define VL_REASON_MAP(X)                                                      \
    X(SYNTAX_EMPTY, "syntax_empty", UNDELIVERABLE)                            \
    X(SYNTAX_NO_AT_SIGN, "syntax_no_at_sign", UNDELIVERABLE)                  \
    X(SYNTAX_MULTIPLE_AT_SIGNS, "syntax_multiple_at_signs", UNDELIVERABLE)    \
    X(SYNTAX_LOCAL_EMPTY, "syntax_local_empty", UNDELIVERABLE)                \
    X(SYNTAX_DOMAIN_EMPTY, "syntax_domain_empty", UNDELIVERABLE)              \
    X(SYNTAX_LOCAL_TOO_LONG, "syntax_local_too_long", UNDELIVERABLE)          \
    X(SYNTAX_DOMAIN_TOO_LONG, "syntax_domain_too_long", UNDELIVERABLE)        \
    X(SYNTAX_LABEL_TOO_LONG, "syntax_label_too_long", UNDELIVERABLE)          \
    X(SYNTAX_ADDRESS_TOO_LONG, "syntax_address_too_long", UNDELIVERABLE)      \
    X(SYNTAX_LEADING_DOT, "syntax_leading_dot", UNDELIVERABLE)                \
    X(SYNTAX_TRAILING_DOT, "syntax_trailing_dot", UNDELIVERABLE)              \
    X(SYNTAX_CONSECUTIVE_DOTS, "syntax_consecutive_dots", UNDELIVERABLE)      \
    X(SYNTAX_INVALID_LOCAL_CHAR, "syntax_invalid_local_char", UNDELIVERABLE)  \
    X(SYNTAX_UNTERMINATED_QUOTE, "syntax_unterminated_quote", UNDELIVERABLE)  \
    X(SYNTAX_TEXT_AFTER_QUOTE, "syntax_text_after_quote", UNDELIVERABLE)      \
    X(SYNTAX_INVALID_QUOTED_PAIR, "syntax_invalid_quoted_pair",               \
      UNDELIVERABLE)                                                          \
    X(SYNTAX_COMMENT, "syntax_comment", UNDELIVERABLE)                        \
    X(SYNTAX_WHITESPACE, "syntax_whitespace", UNDELIVERABLE)                  \
    X(SYNTAX_CONTROL_CHAR, "syntax_control_char", UNDELIVERABLE)              \
    X(SYNTAX_INVALID_UTF8, "syntax_invalid_utf8", UNDELIVERABLE)              \
    X(SYNTAX_DOMAIN_EMPTY_LABEL, "syntax_domain_empty_label", UNDELIVERABLE)  \
    X(SYNTAX_DOMAIN_TRAILING_DOT, "syntax_domain_trailing_dot",               \
      UNDELIVERABLE)                                                          \
    X(SYNTAX_INVALID_DOMAIN_CHAR, "syntax_invalid_domain_char",               \
      UNDELIVERABLE)                                                          \
    X(SYNTAX_LABEL_HYPHEN, "syntax_label_hyphen", UNDELIVERABLE)              \
    X(SYNTAX_NUMERIC_TLD, "syntax_numeric_tld", UNDELIVERABLE)                \
    X(SYNTAX_INVALID_ADDRESS_LITERAL, "syntax_invalid_address_literal",       \
      UNDELIVERABLE)                                                          \
    X(SYNTAX_DISPLAY_NAME, "syntax_display_name", UNDELIVERABLE)              \
    X(IDNA_INVALID, "idna_invalid", UNDELIVERABLE)                            \
    X(RESERVED_DOMAIN, "reserved_domain", UNDELIVERABLE)                      \
    X(QUOTED_LOCAL_PART, "quoted_local_part", RISKY)                          \
    X(ADDRESS_LITERAL, "address_literal", RISKY)                              \
    X(CONFUSABLE, "confusable", RISKY)                                        \
    X(UNKNOWN_TLD, "unknown_tld", RISKY)                                      \
    X(DISPOSABLE, "disposable", RISKY)                                        \
    X(ROLE, "role", RISKY)                                                    \
    X(POSSIBLE_TYPO, "possible_typo", RISKY)                                  \
    X(FREE_PROVIDER, "free_provider", DELIVERABLE)                            \
    X(SINGLE_LABEL_DOMAIN, "single_label_domain", RISKY)                      \
    X(NO_SUCH_DOMAIN, "no_such_domain", UNDELIVERABLE)                        \
    X(NULL_MX, "null_mx", UNDELIVERABLE)                                      \
    X(NO_MAIL_HOST, "no_mail_host", UNDELIVERABLE)                            \
    X(MX_UNRESOLVABLE, "mx_unresolvable", UNDELIVERABLE)                      \
    X(MX_PRIVATE_ADDRESS, "mx_private_address", RISKY)                        \
    X(IMPLICIT_MX, "implicit_mx", DELIVERABLE)                                \
    X(DNS_SERVFAIL, "dns_servfail", UNKNOWN)                                  \
    X(DNS_REFUSED, "dns_refused", UNKNOWN)                                    \
    X(DNS_TIMEOUT, "dns_timeout", UNKNOWN)                                    \
    X(DNS_UNREACHABLE, "dns_unreachable", UNKNOWN)                            \
    X(DNS_MALFORMED, "dns_malformed", UNKNOWN)                                \
    X(DNS_ERROR, "dns_error", UNKNOWN)                                        \
    X(DEADLINE, "deadline", UNKNOWN)

typedef enum vl_reason {
#define VL__REASON_ENUM(id, name, verdict) VL_R_##id,
    VL_REASON_MAP(VL__REASON_ENUM)
#undef VL__REASON_ENUM
        VL_R__COUNT
} vl_reason;

/* "null_mx", ...; NULL for a value outside the enum. Static text. */
VL_API const char *vl_reason_name(vl_reason r);
/* The verdict a reason implies on its own. */
VL_API vl_verdict vl_reason_verdict(vl_reason r);
/* Reverse lookup by name; VL_EINVAL when no reason has that name. */
VL_API vl_status vl_reason_from_name(const char *name, size_t len,
                                     vl_reason *out);

/* ---- Stages --------------------------------------------------------- */

typedef enum vl_stage {
    VL_STAGE_SYNTAX = 1u << 0,
    VL_STAGE_NORMALISE = 1u << 1,
    VL_STAGE_TABLES = 1u << 2,
    VL_STAGE_DNS = 1u << 3
} vl_stage;

/* "syntax", "normalise", "tables", "dns"; NULL for anything else. */
VL_API const char *vl_stage_name(vl_stage s);

/* ---- Options and context -------------------------------------------- */

enum {
    /* Apply provider rules to the canonical key (Gmail ignores dots
     * and +tags, googlemail.com is gmail.com, ...). On by default. */
    VL_OPT_PROVIDER_RULES = 1u << 0,
    /* Skip every network stage: no loop thread, no resolver. */
    VL_OPT_OFFLINE = 1u << 1,
    /* Do not flag spoofable (mixed-script, confusable) domains. */
    VL_OPT_NO_SPOOF_CHECK = 1u << 2,
    /* Keep each DNS query's evidence for vl_result_json(VL_JSON_EXPLAIN)
     * (costs memory per cached domain). */
    VL_OPT_EXPLAIN = 1u << 3
};

typedef struct vl_options {
    size_t struct_size; /* the caller's sizeof: lets us append fields */
    unsigned flags;     /* VL_OPT_* */
    /* Optional extra table files (borrowed: read only during
     * vl_ctx_new()). One entry per line, '#' starts a comment.  A line
     * "!entry" removes a built-in entry.  NULL means none. */
    const char *disposable_file;
    const char *free_file;
    const char *role_file;
    const char *typo_file; /* "typo<TAB>fix" lines */
    /* DNS.  'resolvers': "host[:port],..." (IPv6 as [addr]:port), NULL
     * for the system's (/etc/resolv.conf); borrowed, read only during
     * vl_ctx_new().  Defaults in brackets. */
    const char *resolvers;
    unsigned dns_timeout_ms;    /* first try of a query [2000] */
    unsigned dns_tries;         /* tries per server [2] */
    unsigned dns_max_inflight;  /* queries in flight at once [256] */
    unsigned deadline_ms;       /* per address; 0 = none [10000] */
    unsigned cache_ttl_min_s;   /* floor on cached TTLs [60] */
    unsigned cache_ttl_max_s;   /* ceiling on cached TTLs [86400] */
    unsigned cache_fail_ttl_s;  /* how long a failure is cached [10] */
    unsigned cache_max_entries; /* answers and domains, each [200000] */
} vl_options;

/* Fill *opt with defaults; 'size' is sizeof *opt as the caller knows it. */
VL_API void vl_options_init(vl_options *opt, size_t size);
#define VL_OPTIONS_INIT(o) vl_options_init((o), sizeof *(o))

typedef struct vl_ctx vl_ctx;

/* Create a context. 'opt' may be NULL for defaults and is not kept.
 * Unless VL_OPT_OFFLINE is set, the context starts one thread that runs
 * its event loop (DNS lookups) until vl_ctx_free().
 * On VL_OK '*out' is a new context, freed with vl_ctx_free().  On error
 * '*out' is NULL; when 'err' is not NULL it receives a NUL-terminated
 * message (at most 'err_cap' bytes) naming the file and line at fault.
 * A context is read-only once made: any number of threads may call
 * vl_check() on it at once. */
VL_API vl_status vl_ctx_new(const vl_options *opt, vl_ctx **out, char *err,
                            size_t err_cap);
/* Stops the loop thread; checks still waiting are answered first
 * ("unknown", status VL_ETEMP).  NULL is a no-op. */
VL_API void vl_ctx_free(vl_ctx *ctx);

/* Counters of a context, for reports and metrics. */
typedef struct vl_stats {
    uint64_t dns_queries; /* sent to the network */
    uint64_t dns_queries_mx, dns_queries_a, dns_queries_aaaa, dns_queries_txt;
    uint64_t dns_cache_hits;   /* answers and domains found cached */
    uint64_t dns_coalesced;    /* lookups that joined one in flight */
    uint64_t domains_resolved; /* domains looked up (not cached) */
} vl_stats;

/* A snapshot of the counters; any thread. */
VL_API void vl_ctx_stats(vl_ctx *ctx, vl_stats *out);

/* ---- Results -------------------------------------------------------- */

typedef struct vl_result vl_result;

/* A result holds one check's outcome and is reused across checks: the
 * strings it hands out are valid until it is next passed to vl_check()
 * or freed. Not shared between threads without locking. */
VL_API vl_status vl_result_new(vl_result **out);
VL_API void vl_result_free(vl_result *res);

/* Check one address. 'addr' is 'len' bytes, need not be NUL-terminated
 * and is read only during the call; leading and trailing white space
 * (SP, HTAB, CR, LF, U+00A0, U+200B, U+FEFF) is trimmed first.  Fills
 * 'res' (any previous content is replaced).  Returns VL_OK for every
 * input, however bad: a bad address is a verdict, not an error.  Other
 * statuses mean the check itself could not run (VL_ENOMEM, ...).
 * Blocks while the network stages run (up to the deadline).  Safe from
 * any number of threads at once, except from a vl_check_async()
 * callback (that is the loop thread: VL_EINVAL). */
VL_API vl_status vl_check(vl_ctx *ctx, const char *addr, size_t len,
                          vl_result *res);

/* Called once per vl_check_async(): 'res' is a new result the callee
 * owns (free it with vl_result_free()).  'st' is VL_OK, or VL_ETEMP when
 * the context was freed first (res then says "unknown"). */
typedef void (*vl_check_cb)(void *arg, vl_status st, vl_result *res);

/* Check one address without blocking.  The offline stages run at once
 * on the calling thread; when they decide (a syntax error, say, or an
 * offline context), 'cb' runs before this returns.  Otherwise 'cb' runs
 * later on the context's loop thread, which it must not block.  Returns
 * VL_OK when 'cb' was or will be called, or an error and never calls
 * it.  Any thread. */
VL_API vl_status vl_check_async(vl_ctx *ctx, const char *addr, size_t len,
                                vl_check_cb cb, void *arg);

VL_API vl_verdict vl_result_verdict(const vl_result *res);
VL_API size_t vl_result_reason_count(const vl_result *res);
/* The i-th reason, in the order stages found them; i < count. */
VL_API vl_reason vl_result_reason(const vl_result *res, size_t i);
/* Nonzero when 'r' is among the reasons. */
VL_API int vl_result_has_reason(const vl_result *res, vl_reason r);
/* Bitmask of vl_stage values that ran. */
VL_API unsigned vl_result_stages(const vl_result *res);

/* The strings below are "" when the stage that makes them did not get
 * that far (e.g. a syntax error), never NULL. */
/* Normalised address: local part in NFC, "@", lower-case U-label domain
 * (or the address literal as given). */
VL_API const char *vl_result_address(const vl_result *res);
VL_API const char *vl_result_domain_ascii(const vl_result *res);
VL_API const char *vl_result_domain_unicode(const vl_result *res);
/* The deduplication key: lower-case local part and A-label domain,
 * with provider rules when VL_OPT_PROVIDER_RULES is set. */
VL_API const char *vl_result_canonical(const vl_result *res);
/* A suggested correction, or NULL when there is none. */
VL_API const char *vl_result_suggestion(const vl_result *res);
/* Nonzero when delivery needs SMTPUTF8 (RFC 6531): non-ASCII local
 * part (a non-ASCII domain alone can use its A-label). */
VL_API int vl_result_smtputf8(const vl_result *res);
/* Byte offset into the trimmed input where a syntax error was found, or
 * -1 when there is none. */
VL_API long vl_result_error_offset(const vl_result *res);

/* DNS stage: the mail hosts in preference order (the domain itself for
 * an implicit MX), and the one a sender would use first.  Count 0 and
 * NULL when the stage did not run or found none. */
VL_API size_t vl_result_mx_count(const vl_result *res);
/* Host name of the i-th MX (i < count); '*pref' gets its preference. */
VL_API const char *vl_result_mx(const vl_result *res, size_t i,
                                unsigned *pref);
/* The chosen MX host (lowest preference with a usable address), or
 * NULL; '*pref' gets its preference when not NULL. */
VL_API const char *vl_result_mx_host(const vl_result *res, unsigned *pref);
/* Nonzero when the DNS answer came from the cache, with no query. */
VL_API int vl_result_dns_cached(const vl_result *res);

/* The evidence behind the DNS reasons (needs VL_OPT_EXPLAIN): each
 * query the domain's lookup made, in order.  Strings are borrowed from
 * the result. */
typedef struct vl_dns_query {
    const char *name;    /* "mx1.example.com" */
    const char *type;    /* "MX", "A", "AAAA", "TXT" */
    const char *outcome; /* "NOERROR", "NXDOMAIN", "NODATA", "SERVFAIL",
                            "REFUSED", "TIMEOUT", "UNREACHABLE",
                            "MALFORMED", "FAILED" */
    unsigned ttl;        /* as published (seconds) */
    const char *answers; /* "10 mx1.example.com., 20 ..." or addresses */
} vl_dns_query;

VL_API size_t vl_result_dns_query_count(const vl_result *res);
/* Fill '*out' with the i-th query; VL_EINVAL when i is past the end. */
VL_API vl_status vl_result_dns_query(const vl_result *res, size_t i,
                                     vl_dns_query *out);

/* ---- JSON ----------------------------------------------------------- */

enum {
    /* Cap on the bytes of the input echoed in the "input" field; longer
     * input is cut at a UTF-8 boundary and "input_truncated" is true. */
    VL_JSON_INPUT_MAX = 1024,
    /* vl_result_json flag: add "dns", each query behind the verdict
     * (name, type, outcome, TTL, answers); needs VL_OPT_EXPLAIN. */
    VL_JSON_EXPLAIN = 1u << 0
};

/* Write 'res' as one JSON object (no newline) into 'buf' of 'cap' bytes,
 * NUL-terminated.  'input' ('input_len' bytes) is echoed as "input",
 * with invalid UTF-8 replaced by U+FFFD.  Returns the length the object
 * needs (excluding the NUL); when that is >= cap, nothing usable was
 * written and the caller retries with a larger buffer, as snprintf. */
VL_API size_t vl_result_json(const vl_result *res, const char *input,
                             size_t input_len, unsigned flags, char *buf,
                             size_t cap);

#ifdef __cplusplus
}
#endif
#endif /* VALIDATE_H */
