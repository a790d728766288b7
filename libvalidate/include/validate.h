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
    VL_ENOMEM = 1,    /* out of memory */
    VL_EINVAL = 2,    /* bad argument */
    VL_ETOOLONG = 3,  /* a value does not fit its bound; refused, not cut */
    VL_EIO = 4,       /* a file could not be read */
    VL_EDATA = 5,     /* a data file is malformed */
    VL_ETEMP = 6,     /* temporary failure: try again later */
    VL_EINTERNAL = 7, /* a library call failed unexpectedly */
    VL_ENOTFOUND = 8  /* no such entry (the store: "not in it") */
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
    X(DEADLINE, "deadline", UNKNOWN)                                          \
    X(SUPPRESSED_HARD_BOUNCE, "suppressed_hard_bounce", UNDELIVERABLE)        \
    X(SUPPRESSED_SOFT_BOUNCE, "suppressed_soft_bounce", UNDELIVERABLE)        \
    X(SUPPRESSED_VALIDATION, "suppressed_validation", UNDELIVERABLE)          \
    X(SUPPRESSED_MANUAL, "suppressed_manual", UNDELIVERABLE)                  \
    X(STORE_UNAVAILABLE, "store_unavailable", UNKNOWN)                        \
    X(CATCH_ALL, "catch_all", RISKY)                                          \
    X(SMTP_MAILBOX_UNKNOWN, "smtp_mailbox_unknown", UNDELIVERABLE)            \
    X(MAILBOX_FULL, "mailbox_full", RISKY)                                    \
    X(SMTP_GREYLISTED, "smtp_greylisted", UNKNOWN)                            \
    X(SMTP_UNAVAILABLE, "smtp_unavailable", UNKNOWN)                          \
    X(SMTP_BLOCKED, "smtp_blocked", UNKNOWN)                                  \
    X(SMTP_CONNECT_FAILED, "smtp_connect_failed", UNKNOWN)                    \
    X(SMTP_TIMEOUT, "smtp_timeout", UNKNOWN)                                  \
    X(SMTP_TLS_FAILED, "smtp_tls_failed", UNKNOWN)                            \
    X(SMTP_PROTOCOL_ERROR, "smtp_protocol_error", UNKNOWN)                    \
    X(SMTPUTF8_UNSUPPORTED, "smtputf8_unsupported", UNDELIVERABLE)            \
    X(SMTP_PORT_BLOCKED, "smtp_port_blocked", UNKNOWN)                        \
    X(SMTP_UNVERIFIABLE_PROVIDER, "smtp_unverifiable_provider", UNKNOWN)      \
    X(SMTP_REJECTED, "smtp_rejected", UNKNOWN)

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
    VL_STAGE_DNS = 1u << 3,
    VL_STAGE_STORE = 1u << 4, /* runs after tables, before dns */
    VL_STAGE_SMTP = 1u << 5   /* the RCPT probe, after dns */
} vl_stage;

/* "syntax", "normalise", "tables", "dns", "store", "smtp"; NULL for
 * anything else. */
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
    VL_OPT_EXPLAIN = 1u << 3,
    /* Run the SMTP RCPT probe after DNS (off by default): ask the MX
     * whether the mailbox exists.  Never sends DATA. */
    VL_OPT_SMTP = 1u << 4,
    /* Let the probe connect to loopback MX addresses (127.0.0.0/8, ::1),
     * for tests; a loopback MX is then not mx_private_address.  Private
     * and link-local ranges are never probed. */
    VL_OPT_SMTP_ALLOW_LOOPBACK = 1u << 5
};

/* STARTTLS use of the SMTP probe. */
typedef enum vl_smtp_tls {
    VL_SMTP_TLS_OPPORTUNISTIC = 0, /* when offered; plain if it fails */
    VL_SMTP_TLS_NEVER = 1,
    VL_SMTP_TLS_REQUIRE = 2 /* no TLS: unknown, smtp_tls_failed */
} vl_smtp_tls;

typedef struct vl_store vl_store; /* opaque: the invalid-address store */

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
    /* The invalid-address store (see "Store" below).  'store' is
     * borrowed and must outlive the context; NULL means none.  'scope'
     * (borrowed, copied during vl_ctx_new()) names the sending brand or
     * tenant: entries of that scope and entries without one apply; NULL
     * or "" means only entries without a scope. */
    vl_store *store;
    const char *scope;
    /* The SMTP probe (VL_OPT_SMTP).  Strings are borrowed and copied
     * during vl_ctx_new(). */
    unsigned smtp_port;      /* [25] */
    vl_smtp_tls smtp_tls;    /* [VL_SMTP_TLS_OPPORTUNISTIC] */
    const char *smtp_from;   /* MAIL FROM; NULL or "" = "<>" [NULL] */
    const char *smtp_helo;   /* EHLO name; NULL = this host's name */
    const char *smtp_source; /* local IP address to bind; NULL = any */
    unsigned smtp_connect_timeout_ms; /* [10000] */
    unsigned smtp_timeout_ms;         /* each reply [30000] */
    unsigned smtp_rcpt_per_conn;      /* RCPTs per connection [50] */
    unsigned smtp_per_host; /* connections per MX address at once [2] */
    unsigned smtp_rate;     /* new connections per second per MX
                               address; 0 = no limit [10] */
    /* Greylisted (4xx at RCPT): wait up to this long and try once more;
     * 0 = answer smtp_greylisted at once [0]. */
    unsigned smtp_greylist_wait_ms;
    /* Extra domains whose mail hosts accept every RCPT or block probes
     * (matched against the address's domain and its MX hosts, with
     * their parents), as the other table files; NULL = none. */
    const char *smtp_providers_file;
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
    uint64_t smtp_connections; /* TCP connections the probe opened */
    uint64_t smtp_rcpts;       /* RCPT commands sent (catch-all too) */
    /* Nonzero once the probe decided outbound port 25 is blocked. */
    uint64_t smtp_port_blocked;
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

/* Per-check choices for the _ex calls. */
enum {
    /* Skip the SMTP probe for this check even when the context has
     * VL_OPT_SMTP (a signup form that wants an answer in milliseconds). */
    VL_CHECK_NO_SMTP = 1u << 0
};

/* vl_check() and vl_check_async() with VL_CHECK_* flags. */
VL_API vl_status vl_check_ex(vl_ctx *ctx, const char *addr, size_t len,
                             unsigned flags, vl_result *res);
VL_API vl_status vl_check_async_ex(vl_ctx *ctx, const char *addr, size_t len,
                                   unsigned flags, vl_check_cb cb, void *arg);

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

/* The SMTP probe's findings.  Strings are borrowed from the result. */
typedef struct vl_smtp_info {
    const char *host;       /* the MX host spoken to, or "" */
    const char *ip;         /* its address, or "" */
    unsigned port;          /* 0 when no connection was made */
    int code;               /* the reply that decided, or 0 */
    const char *enhanced;   /* RFC 3463 code "5.1.1", or "" */
    const char *text;       /* its text (cut at 511 bytes), or "" */
    int catch_all;          /* 1 accepts every RCPT, 0 not, -1 unknown */
    int tls;                /* nonzero when STARTTLS was in use */
    int smtputf8;           /* nonzero when the MX offered SMTPUTF8 */
    unsigned retry_after_s; /* greylisted: seconds to wait, else 0 */
} vl_smtp_info;

/* VL_ENOTFOUND when the probe did not run for this address. */
VL_API vl_status vl_result_smtp(const vl_result *res, vl_smtp_info *out);

/* The dialogue behind the probe's verdict (needs VL_OPT_EXPLAIN): the
 * lines of its connection that concern this address. */
typedef struct vl_smtp_line {
    unsigned ms;      /* since the connection started */
    char dir;         /* 'C' we sent it, 'S' the server did */
    const char *text; /* without CR LF; long lines cut */
} vl_smtp_line;

VL_API size_t vl_result_smtp_line_count(const vl_result *res);
/* VL_EINVAL when i is past the end. */
VL_API vl_status vl_result_smtp_line(const vl_result *res, size_t i,
                                     vl_smtp_line *out);

/* One address of vl_check_many_async(). */
typedef struct vl_check_item {
    const char *addr; /* 'len' bytes, read only during the call */
    size_t len;
    vl_result *res; /* the caller's, filled by the check: not to be read,
                       reused or freed until its callback has run */
    void *arg;      /* handed to the callback */
} vl_check_item;

/* vl_check_async() for 'n' addresses at once, into results the caller
 * owns (made once with vl_result_new() and reused: no allocation per
 * check), handing the loop thread all those that need the network with
 * one wake-up.  For batch front ends that check millions of addresses.
 * VL_EINVAL for a bad argument, and then no callback runs.  Otherwise
 * VL_OK, and 'cb' runs exactly once per item, with the item's 'arg' and
 * 'res' (still the caller's: nothing to free): before this returns for
 * an address the offline stages decide, or whose check could not start
 * ('st' says why: VL_ENOMEM, VL_ETOOLONG, or VL_ETEMP when the context
 * is being freed; the result is then "unknown"), and later on the loop
 * thread for the others ('st' as for vl_check_async()).  Any thread. */
VL_API vl_status vl_check_many_async(vl_ctx *ctx, vl_check_item *items,
                                     size_t n, vl_check_cb cb);

/* ---- Store -----------------------------------------------------------
 * The invalid-address store: addresses that must not be mailed again.
 * Key: the canonical address (vl_result_canonical() of an offline check
 * with the store's provider rules, so the key deduplication uses), or
 * "@domain" (A-labels) for an entry that covers a whole domain.  Each
 * entry has an optional scope (a sending brand or tenant); an entry
 * without one ("") applies to every scope.
 *
 * Rules (the same for every backend; store.c applies them):
 *  - a hard bounce (SMTP 5yz, RFC 5321 §4.2.1; enhanced 5.x.x, RFC 3463)
 *    suppresses at once;
 *  - soft bounces (4yz / 4.x.x) suppress once 'soft_threshold' of them
 *    fall within 'soft_window_s' (default 3 in 30 days); one soft
 *    bounce alone never does (DESIGN.md: a temporary failure never
 *    makes an address undeliverable);
 *  - a validation verdict suppresses only when it is undeliverable for
 *    a permanent reason (no "unknown"-class reason at all);
 *  - a manual entry suppresses;
 *  - a removed entry stays, with who removed it and when; a later hard
 *    bounce, soft bounces reaching the threshold again, or a manual
 *    add bring it back; a validation verdict does not;
 *  - with 'expire_after_s', an entry that no lookup hit and no outcome
 *    touched for that long stops suppressing (kept, not deleted).
 *
 * Every call separates found (VL_OK), not found (VL_ENOTFOUND) and
 * could not tell (VL_ETEMP: busy, unreachable, I/O).  VL_ETEMP must
 * never be read as "not suppressed" nor as "suppressed".
 * A store handle may be used from several threads (calls are
 * serialised); several processes may share one SQLite file.
 *
 * Lookups (vl_store_lookup() and the store stage of vl_check()) are
 * answered from memory once a handle has made 'cache_after' of them:
 * the handle loads the set of suppressing entries (a 128-bit hash of
 * key and scope, the source and, with expiry, the last touch; 16 bytes
 * a slot, 20 with expiry, in a table at most 3/4 full that doubles when
 * fuller: 22-43 bytes an entry, 27-54 with expiry) and from then on
 * reads only what changed.
 * Freshness, the contract every backend keeps:
 *  - a write made through this handle is seen by its next lookup;
 *  - SQLite: a write committed by any other handle or process before a
 *    lookup starts is seen by that lookup (the handle watches the WAL
 *    index header in shared memory, a few loads per lookup, and reads
 *    the changed rows when it moved);
 *  - PostgreSQL: a write committed elsewhere is seen within
 *    'cache_check_ms' (the handle asks the server for changed rows at
 *    most that often while lookups come; a server that cannot be asked
 *    makes lookups VL_ETEMP, never an answer from an unchecked cache).
 * A store that would need more than 'cache_max_bytes' is not cached:
 * lookups then query the backend each time.  vl_store_get() and the
 * entry vl_store_lookup() copies out always come from the backend. */

/* Where an entry came from. Names: "validation", "hard_bounce",
 * "soft_bounce", "manual". */
typedef enum vl_store_source {
    VL_SRC_VALIDATION = 0,
    VL_SRC_HARD_BOUNCE = 1,
    VL_SRC_SOFT_BOUNCE = 2,
    VL_SRC_MANUAL = 3
} vl_store_source;

/* Static text, or NULL for a value outside the enum. */
VL_API const char *vl_store_source_name(vl_store_source s);
VL_API vl_status vl_store_source_from_name(const char *name,
                                           vl_store_source *out);

enum {
    VL_STORE_KEY_CAP = 1024,  /* canonical address or "@domain" + NUL */
    VL_STORE_SCOPE_CAP = 65,  /* scope name: 1-64 bytes [A-Za-z0-9._-] */
    VL_STORE_REASON_CAP = 65, /* reason code: 1-64 printable ASCII */
    VL_STORE_STATUS_CAP = 16, /* "550", "5.1.1", "550 5.1.1" */
    VL_STORE_DIAG_CAP = 512,  /* diagnostic text (cut at a UTF-8 char) */
    VL_STORE_BY_CAP = 65,     /* who removed it */
    VL_STORE_SOFT_MAX = 16    /* the largest soft_threshold */
};

/* One entry, copied out of the store (no pointers into it).  Times are
 * Unix seconds (UTC); 0 means never. */
typedef struct vl_store_entry {
    char key[VL_STORE_KEY_CAP];
    char address[VL_STORE_KEY_CAP]; /* as first seen */
    char scope[VL_STORE_SCOPE_CAP]; /* "" = every scope */
    vl_store_source source;         /* of the outcome that suppressed it,
                                       or the latest when not suppressed */
    char reason[VL_STORE_REASON_CAP];
    char status[VL_STORE_STATUS_CAP];   /* last SMTP status, or "" */
    char diagnostic[VL_STORE_DIAG_CAP]; /* last diagnostic, or "" */
    uint32_t count;                     /* outcomes recorded, ever */
    uint32_t soft_count;                /* soft bounces in soft_at[] */
    int64_t soft_at[VL_STORE_SOFT_MAX]; /* the latest, oldest first */
    int64_t first_seen, last_seen;      /* outcomes */
    int64_t last_hit;                   /* last lookup that matched */
    int suppressed;                     /* nonzero: must not be mailed */
    int64_t removed_at;                 /* last removal, 0 = never */
    char removed_by[VL_STORE_BY_CAP];
} vl_store_entry;

typedef struct vl_store_stats {
    uint64_t entries;      /* all rows, suppressed or not */
    uint64_t suppressed;   /* suppressing now (expiry not applied) */
    uint64_t removed;      /* taken out and not back */
    uint64_t pending;      /* soft bounces below the threshold */
    uint64_t domains;      /* "@domain" entries */
    uint64_t by_source[4]; /* suppressed, by vl_store_source */
} vl_store_stats;

/* Called for each entry by vl_store_iterate(); 'e' is valid during the
 * call only.  Return nonzero to stop.  Must not call the same store. */
typedef int (*vl_store_entry_cb)(void *arg, const vl_store_entry *e);

/* What the lookup cache needs of an entry (vl_store_ops.changes());
 * the strings are valid during the call only. */
typedef struct vl_store_change {
    const char *key;
    const char *scope;
    vl_store_source source;
    int suppressed;
    int64_t touched; /* the later of last_seen and last_hit */
} vl_store_change;

typedef int (*vl_store_change_cb)(void *arg, const vl_store_change *c);

/* A backend: an ops struct and its own state ('be'), as sqlite3_vfs or
 * Postfix's DICT.  Every method returns VL_OK, VL_ENOTFOUND where it
 * says so, or VL_ETEMP when it could not tell (and other codes for bad
 * arguments).  store.c calls them one at a time (never concurrently for
 * one store) and applies the rules; backends only keep rows. */
typedef struct vl_store_ops {
    unsigned version; /* VL_STORE_OPS_V1; new methods go at the end */
    const char *name; /* "sqlite", "postgresql", "fault", ... */
    /* A write transaction: everything until commit is atomic, and on
     * VL_OK from commit it is durable. */
    vl_status (*begin)(void *be);
    vl_status (*commit)(void *be);
    void (*rollback)(void *be);
    /* The entry (key, scope) exactly: VL_OK, VL_ENOTFOUND, VL_ETEMP.
     * Inside a transaction, no other writer may change it until commit. */
    vl_status (*get)(void *be, const char *key, const char *scope,
                     vl_store_entry *out);
    /* Insert or replace by (key, scope).  Inside a transaction. */
    vl_status (*put)(void *be, const vl_store_entry *e);
    /* The best suppressing entry among 'key' and 'domain_key', in
     * 'scope' or without one, last touched at or after 'min_touch'
     * (max of last_seen and last_hit): the address before the domain,
     * the scope before the unscoped.  VL_OK, VL_ENOTFOUND, VL_ETEMP. */
    vl_status (*find)(void *be, const char *key, const char *domain_key,
                      const char *scope, int64_t min_touch,
                      vl_store_entry *out);
    /* Set last_hit of (key, scope) to 'at'; best effort. */
    vl_status (*touch)(void *be, const char *key, const char *scope,
                       int64_t at);
    /* Each entry in (key, scope) order; VL_OK when all were seen or the
     * callback stopped. */
    vl_status (*iterate)(void *be, vl_store_entry_cb cb, void *arg);
    vl_status (*stats)(void *be, vl_store_stats *out);
    void (*close)(void *be);
    /* What went wrong last, for people; never NULL. */
    const char *(*errmsg)(void *be);
    /* ---- VL_STORE_OPS_V2: each may be NULL (not offered) ---- */
    /* Insert 'e' when (key, scope) has no entry: '*added' 1; else write
     * nothing and '*added' 0.  Inside a transaction.  Saves the read of
     * get() for a new entry (most rows of an import). */
    vl_status (*add)(void *be, const vl_store_entry *e, int *added);
    /* For the lookup cache: through 'cb', every entry whose last write
     * was committed after the changes() call that returned '*upto' =
     * 'since' (0: every suppressing entry; others may be left out), in
     * any order; then '*upto' for the next call.  Needs every write to
     * number its transaction in commit order (SQLite and PostgreSQL
     * keep a "seq" column).  Stops when 'cb' returns nonzero. */
    vl_status (*changes)(void *be, uint64_t since, vl_store_change_cb cb,
                         void *arg, uint64_t *upto);
    /* Without I/O: 0 when certainly nothing was committed since the
     * last changes(), nonzero when something may have been.  NULL: the
     * backend cannot tell cheaply, and the cache asks changes() at most
     * every 'cache_check_ms' instead. */
    int (*changed)(void *be);
} vl_store_ops;

#define VL_STORE_OPS_V1 1u
#define VL_STORE_OPS_V2 2u

typedef struct vl_store_config {
    size_t struct_size;       /* the caller's sizeof */
    unsigned flags;           /* VL_OPT_PROVIDER_RULES for the keys [on] */
    unsigned soft_threshold;  /* 2..VL_STORE_SOFT_MAX [3] */
    int64_t soft_window_s;    /* [30 days] */
    int64_t expire_after_s;   /* 0 = never [0] */
    unsigned busy_timeout_ms; /* wait for another writer [10000] */
    /* The lookup cache (see "Lookups" above). */
    size_t cache_max_bytes;  /* 0 = never cache [256 MiB] */
    unsigned cache_after;    /* lookups before it is loaded [1000] */
    unsigned cache_check_ms; /* PostgreSQL: staleness bound [100] */
    /* Nonzero: when the backend cannot be reached at open (VL_ETEMP:
     * a server down, a file locked past the busy timeout),
     * vl_store_open() still succeeds, and every call answers VL_ETEMP
     * until one (tried at most every 250 ms) opens it.  For readers
     * that must go on without it: store_unavailable, not a failure [0]. */
    int open_unreachable;
} vl_store_config;

VL_API void vl_store_config_init(vl_store_config *cfg, size_t size);
#define VL_STORE_CONFIG_INIT(c) vl_store_config_init((c), sizeof *(c))

/* The default SQLite file: $XDG_DATA_HOME/mailvet/store.db, else
 * $HOME/.local/share/mailvet/store.db.  Writes it (NUL-terminated) into
 * 'buf'; VL_ETOOLONG when it does not fit, VL_EINVAL with neither
 * variable set. */
VL_API vl_status vl_store_default_path(char *buf, size_t cap);

/* Open a store.  'where' is a file path (SQLite; made, with its folder,
 * when missing), "sqlite:PATH", or "postgresql://..." / "postgres://..."
 * (libpq, when built in); NULL means vl_store_default_path().  'cfg' may
 * be NULL for defaults; both are read only during the call.  The schema
 * is created or upgraded as needed.  On VL_OK '*out' is the store, freed
 * with vl_store_close().  On error 'err' (when not NULL) says why. */
VL_API vl_status vl_store_open(const char *where, const vl_store_config *cfg,
                               vl_store **out, char *err, size_t err_cap);
/* Open over a custom backend; on VL_OK the store owns 'be' and calls
 * ops->close(be) when closed.  'ops' must outlive the store. */
VL_API vl_status vl_store_open_ops(const vl_store_ops *ops, void *be,
                                   const vl_store_config *cfg, vl_store **out,
                                   char *err, size_t err_cap);
/* Commits an open batch.  NULL is a no-op. */
VL_API void vl_store_close(vl_store *st);
/* "sqlite", "postgresql", ...: the backend's name. */
VL_API const char *vl_store_backend(const vl_store *st);
/* The backend's message for the last failure; valid until the next
 * call on the store.  Never NULL. */
VL_API const char *vl_store_errmsg(vl_store *st);

/* The key of an address ('len' bytes) or of "@domain": the canonical
 * address from the library's own offline pipeline.  VL_EINVAL when it
 * is not an address (syntax or IDNA error). */
VL_API vl_status vl_store_key(vl_store *st, const char *addr, size_t len,
                              char *key, size_t key_cap);

/* One outcome to record. */
typedef struct vl_store_outcome {
    vl_store_source source;
    const char *address; /* or "@domain"; 'address_len' bytes */
    size_t address_len;
    const char *scope;      /* NULL or "" = every scope */
    const char *reason;     /* NULL: the source's name */
    const char *status;     /* SMTP status or NULL */
    const char *diagnostic; /* or NULL; cut at VL_STORE_DIAG_CAP - 1 */
    int64_t at;             /* Unix seconds; 0 = now */
} vl_store_outcome;

/* Record an outcome and apply the rules.  On VL_OK '*suppressed' (when
 * not NULL) says whether the entry suppresses now.  VL_EINVAL for an
 * address that has no key, a bad scope or reason; VL_ETEMP when the
 * backend could not write (nothing was recorded).  Durable on VL_OK
 * unless inside a batch (then on vl_store_batch_commit()). */
VL_API vl_status vl_store_record(vl_store *st, const vl_store_outcome *o,
                                 int *suppressed);

/* Which source an SMTP status implies: 5yz / 5.x.x a hard bounce, 4yz /
 * 4.x.x a soft bounce ("550", "5.1.1", "550 5.1.1", "550-5.1.1").
 * VL_EINVAL for anything else (2yz is not a bounce). */
VL_API vl_status vl_store_status_source(const char *status,
                                        vl_store_source *out);

/* Record a check's verdict (source "validation") when it is
 * undeliverable for a permanent reason: never with an "unknown"-class
 * reason, never for a suppressed_* result (already in the store).
 * '*recorded' says whether it was.  VL_OK also when nothing needed
 * recording. */
VL_API vl_status vl_store_record_result(vl_store *st, const vl_result *res,
                                        const char *scope, int *recorded);

/* Group writes into one transaction (much faster for imports).  Until
 * vl_store_batch_commit() returns VL_OK nothing of the batch is durable;
 * after a VL_ETEMP inside a batch, the batch is rolled back.  One batch
 * per store at a time. */
VL_API vl_status vl_store_batch_begin(vl_store *st);
VL_API vl_status vl_store_batch_commit(vl_store *st);
VL_API void vl_store_batch_rollback(vl_store *st);

/* Is the address suppressed for 'scope'?  Looks at the address and its
 * "@domain", in 'scope' and unscoped, and applies expiry.  VL_OK with
 * '*out' (when not NULL) the suppressing entry, VL_ENOTFOUND, or
 * VL_ETEMP. */
VL_API vl_status vl_store_lookup(vl_store *st, const char *addr, size_t len,
                                 const char *scope, vl_store_entry *out);
/* The entry (address or "@domain", exact scope) in any state: VL_OK,
 * VL_ENOTFOUND, VL_ETEMP. */
VL_API vl_status vl_store_get(vl_store *st, const char *addr, size_t len,
                              const char *scope, vl_store_entry *out);
/* Take an entry out: it stops suppressing and keeps 'by' (NULL: "") and
 * the time.  VL_ENOTFOUND when there is no such entry or it does not
 * suppress. */
VL_API vl_status vl_store_remove(vl_store *st, const char *addr, size_t len,
                                 const char *scope, const char *by);
VL_API vl_status vl_store_iterate(vl_store *st, vl_store_entry_cb cb,
                                  void *arg);
VL_API vl_status vl_store_stats_get(vl_store *st, vl_store_stats *out);
/* Nonzero when 'e' suppresses now, with expiry applied. */
VL_API int vl_store_entry_active(const vl_store *st, const vl_store_entry *e);

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
