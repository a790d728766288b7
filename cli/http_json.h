/*
 * http_json.h - read the JSON bodies of `mailvet serve`'s requests:
 * POST /v1/check {"email": "...", "smtp": false}, POST
 * /v1/check/batch {"emails": ["...", ...], "smtp": false} and POST
 * /v1/bounces {"address": "...", "status": "550", "diagnostic": "...",
 * "timestamp": "..."}.
 */
#ifndef MV_HTTP_JSON_H
#define MV_HTTP_JSON_H

#include <stdbool.h>
#include <stddef.h>

/* The addresses of a request, copied out of the body (owned). */
typedef struct mv_emails {
    size_t n;
    char **addr;
    size_t *len;
    bool smtp; /* "smtp": true was asked */
} mv_emails;

/* Stable error codes: each is the "error" of the 4xx answer. */
typedef enum mv_body_err {
    MV_BODY_OK = 0,
    MV_BODY_BAD_JSON,     /* not JSON, not UTF-8, or not an object: 400 */
    MV_BODY_BAD_EMAIL,    /* "email" missing or not a string: 400 */
    MV_BODY_BAD_EMAILS,   /* "emails" missing or not strings: 400 */
    MV_BODY_BAD_SMTP,     /* "smtp" not a boolean: 400 */
    MV_BODY_BATCH_TOO_BIG /* more than 'max' addresses: 413 */
} mv_body_err;

/* Parse a body of 'len' bytes.  'batch' selects the "emails" form, of
 * at most 'max' addresses.  On MV_BODY_OK, 'out' holds the addresses
 * (free with mv_emails_free()); otherwise 'out' is empty and '*msg' a
 * static English explanation. */
mv_body_err mv_body_parse(const char *body, size_t len, bool batch, size_t max,
                          mv_emails *out, const char **msg);
void mv_emails_free(mv_emails *e);
/* "bad_json", "bad_email_field", ...: the stable code. */
const char *mv_body_err_code(mv_body_err e);

/* A bounce to record, copied out of the body (owned). */
typedef struct mv_bounce {
    char *address; /* as sent; the store makes the key */
    size_t address_len;
    char *status;     /* "550", "5.1.1", "550 5.1.1" (checked later) */
    char *diagnostic; /* or NULL */
    char *timestamp;  /* ISO 8601 as sent, or NULL (parsed later) */
    long long unix_s; /* "timestamp" as a number of Unix seconds, or 0 */
} mv_bounce;

/* Parse a POST /v1/bounces body.  NULL on success (free 'out' with
 * mv_bounce_free()); otherwise the stable error code ("bad_json",
 * "bad_address_field", "bad_status_field", "bad_diagnostic_field",
 * "bad_timestamp_field"), '*msg' a static English explanation and 'out'
 * empty. */
const char *mv_bounce_parse(const char *body, size_t len, mv_bounce *out,
                            const char **msg);
void mv_bounce_free(mv_bounce *b);

#endif
