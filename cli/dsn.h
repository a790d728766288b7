/*
 * dsn.h - failed recipients out of bounce messages: RFC 3464
 * delivery-status notifications (multipart/report, RFC 6522) and the
 * common non-standard bounce texts (qmail, Exim, Postfix, Sendmail
 * without a report part).  MIME is GMime's job; this reads the fields.
 */
#ifndef MV_DSN_H
#define MV_DSN_H

#include <gmime/gmime.h>
#include <stddef.h>
#include <stdint.h>

enum {
    MV_DSN_ADDR_MAX = 512, /* a longer recipient is skipped */
    MV_DSN_DIAG_MAX = 512  /* diagnostics are cut to this */
};

/* One failed recipient.  Strings are valid during the callback. */
typedef struct mv_bounce {
    const char *recipient;  /* the address, without "rfc822;" or <> */
    const char *status;     /* "5.1.1" or "550" */
    const char *diagnostic; /* "" when none */
    int64_t at;             /* Unix seconds; 0 when unknown */
} mv_bounce;

/* Return nonzero to stop. */
typedef int (*mv_bounce_fn)(void *arg, const mv_bounce *b);

/* g_mime_init(), once per process. */
void mv_dsn_init(void);

/* The failed recipients of one message, each handed to 'fn'.  Returns
 * how many, or -1 when the message is not a bounce this reads (no
 * delivery-status part and no recognised failure text). */
int mv_dsn_message(GMimeMessage *msg, mv_bounce_fn fn, void *arg);

/* The body of a message/delivery-status part (RFC 3464 §2): a block of
 * per-message fields, then a block per recipient.  Recipients whose
 * Action is "failed" go to 'fn' ("delayed", "delivered", "relayed",
 * "expanded" are not bounces).  Returns how many. */
int mv_dsn_fields(const char *body, size_t len, int64_t at, mv_bounce_fn fn,
                  void *arg);

/* Heuristics over a human-readable bounce text: an address, and an SMTP
 * code on its line or the next three.  Returns how many. */
int mv_dsn_text(const char *text, size_t len, int64_t at, mv_bounce_fn fn,
                void *arg);

/* Parse 'len' bytes as one message and run mv_dsn_message() (the fuzz
 * harness's entry).  -1 when GMime finds no message. */
int mv_dsn_buffer(const char *buf, size_t len, mv_bounce_fn fn, void *arg);

#endif
