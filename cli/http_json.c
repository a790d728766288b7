/*
 * http_json.c - request bodies of `mailvet serve`, parsed with Jansson
 * (RFC 8259 JSON; it rejects invalid UTF-8 and, without
 * JSON_ALLOW_NUL, "\u0000" inside strings).  Duplicate keys are
 * rejected so that two parsers can never read one body differently.
 * Unknown members are ignored: clients may send more than we read.
 */
#include "http_json.h"

#include <jansson.h>
#include <stdlib.h>
#include <string.h>

const char *mv_body_err_code(mv_body_err e)
{
    switch (e) {
    case MV_BODY_OK:
        return "ok";
    case MV_BODY_BAD_JSON:
        return "bad_json";
    case MV_BODY_BAD_EMAIL:
        return "bad_email_field";
    case MV_BODY_BAD_EMAILS:
        return "bad_emails_field";
    case MV_BODY_BAD_SMTP:
        return "bad_smtp_field";
    case MV_BODY_BATCH_TOO_BIG:
        return "batch_too_large";
    }
    return "bad_request";
}

void mv_emails_free(mv_emails *e)
{
    for (size_t i = 0; e->addr && i < e->n; i++)
        free(e->addr[i]);
    free(e->addr);
    free(e->len);
    memset(e, 0, sizeof *e);
}

static int alloc_emails(mv_emails *e, size_t n)
{
    e->addr = calloc(n ? n : 1, sizeof *e->addr);
    e->len = calloc(n ? n : 1, sizeof *e->len);
    return e->addr && e->len ? 0 : -1;
}

static int copy_string(mv_emails *e, size_t i, const json_t *s)
{
    size_t n = json_string_length(s);

    if ((e->addr[i] = malloc(n + 1)) == NULL)
        return -1;
    memcpy(e->addr[i], json_string_value(s), n + 1);
    e->len[i] = n;
    return 0;
}

static mv_body_err read_list(const json_t *root, size_t max, mv_emails *out,
                             const char **msg)
{
    const json_t *list = json_object_get(root, "emails");
    size_t n = json_array_size(list);

    *msg = "\"emails\" must be an array of 1 or more strings";
    if (!json_is_array(list) || n == 0)
        return MV_BODY_BAD_EMAILS;
    if (n > max) {
        *msg = "too many addresses in one batch";
        return MV_BODY_BATCH_TOO_BIG;
    }
    for (size_t i = 0; i < n; i++)
        if (!json_is_string(json_array_get(list, i)))
            return MV_BODY_BAD_EMAILS;
    if (alloc_emails(out, n) < 0)
        return MV_BODY_BAD_JSON;
    for (out->n = 0; out->n < n; out->n++)
        if (copy_string(out, out->n, json_array_get(list, out->n)) < 0)
            return MV_BODY_BAD_JSON;
    return MV_BODY_OK;
}

static mv_body_err read_one(const json_t *root, mv_emails *out,
                            const char **msg)
{
    const json_t *s = json_object_get(root, "email");

    *msg = "\"email\" must be a string";
    if (!json_is_string(s))
        return MV_BODY_BAD_EMAIL;
    if (alloc_emails(out, 1) < 0 || copy_string(out, 0, s) < 0)
        return MV_BODY_BAD_JSON;
    out->n = 1;
    return MV_BODY_OK;
}

mv_body_err mv_body_parse(const char *body, size_t len, bool batch, size_t max,
                          mv_emails *out, const char **msg)
{
    json_error_t jerr;
    json_t *root, *smtp;
    mv_body_err e;

    memset(out, 0, sizeof *out);
    root = json_loadb(body, len, JSON_REJECT_DUPLICATES, &jerr);
    *msg = "the body is not a JSON object (RFC 8259, UTF-8)";
    if (!json_is_object(root)) {
        json_decref(root);
        return MV_BODY_BAD_JSON;
    }
    smtp = json_object_get(root, "smtp");
    if (smtp != NULL && !json_is_boolean(smtp)) {
        *msg = "\"smtp\" must be true or false";
        e = MV_BODY_BAD_SMTP;
    } else {
        e = batch ? read_list(root, max, out, msg) : read_one(root, out, msg);
    }
    if (e == MV_BODY_OK)
        out->smtp = json_is_true(smtp);
    else
        mv_emails_free(out);
    json_decref(root);
    return e;
}

void mv_bounce_free(mv_bounce *b)
{
    free(b->address);
    free(b->status);
    free(b->diagnostic);
    free(b->timestamp);
    memset(b, 0, sizeof *b);
}

static char *dup_string(const json_t *s)
{
    size_t n = json_string_length(s);
    char *d = malloc(n + 1);

    if (d != NULL)
        memcpy(d, json_string_value(s), n + 1);
    return d;
}

/* The members of a bounce; NULL when all are good. */
static const char *read_bounce(const json_t *root, mv_bounce *out,
                               const char **msg)
{
    const json_t *a = json_object_get(root, "address");
    const json_t *st = json_object_get(root, "status");
    const json_t *d = json_object_get(root, "diagnostic");
    const json_t *ts = json_object_get(root, "timestamp");
    char num[24];

    *msg = "\"address\" must be a string";
    if (!json_is_string(a))
        return "bad_address_field";
    /* A reply code may come as a number (550); an enhanced code or both
     * only as a string. */
    *msg = "\"status\" must be an SMTP status such as \"550\" or \"5.1.1\"";
    if (json_is_integer(st) && json_integer_value(st) >= 0 &&
        json_integer_value(st) < 1000)
        snprintf(num, sizeof num, "%lld", (long long)json_integer_value(st));
    else if (!json_is_string(st))
        return "bad_status_field";
    *msg = "\"diagnostic\" must be a string";
    if (d != NULL && !json_is_null(d) && !json_is_string(d))
        return "bad_diagnostic_field";
    *msg = "\"timestamp\" must be an ISO 8601 string or Unix seconds";
    if (json_is_integer(ts) && json_integer_value(ts) > 0)
        out->unix_s = (long long)json_integer_value(ts);
    else if (ts != NULL && !json_is_null(ts) && !json_is_string(ts))
        return "bad_timestamp_field";
    out->address = dup_string(a);
    out->address_len = json_string_length(a);
    out->status = json_is_string(st) ? dup_string(st) : strdup(num);
    if (json_is_string(d))
        out->diagnostic = dup_string(d);
    if (json_is_string(ts))
        out->timestamp = dup_string(ts);
    *msg = "out of memory";
    if (out->address == NULL || out->status == NULL ||
        (json_is_string(d) && out->diagnostic == NULL) ||
        (json_is_string(ts) && out->timestamp == NULL))
        return "bad_json";
    return NULL;
}

const char *mv_bounce_parse(const char *body, size_t len, mv_bounce *out,
                            const char **msg)
{
    json_error_t jerr;
    json_t *root;
    const char *code;

    memset(out, 0, sizeof *out);
    root = json_loadb(body, len, JSON_REJECT_DUPLICATES, &jerr);
    *msg = "the body is not a JSON object (RFC 8259, UTF-8)";
    if (!json_is_object(root)) {
        json_decref(root);
        return "bad_json";
    }
    code = read_bounce(root, out, msg);
    if (code != NULL)
        mv_bounce_free(out);
    json_decref(root);
    return code;
}
