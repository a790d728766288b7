/*
 * dsn.c - read failed recipients out of bounce messages.
 *
 * Standard bounces are RFC 3464 delivery-status notifications: a
 * multipart/report (RFC 6522) with a message/delivery-status part (or
 * message/global-delivery-status, RFC 6533) whose body is blocks of
 * header-like fields: per-message fields, then per recipient
 * Final-Recipient, Action, Status (RFC 3463 enhanced code) and
 * Diagnostic-Code.  GMime finds the part; mv_dsn_fields() reads it.
 *
 * Many servers still send plain-text bounces (qmail, Exim and Sendmail
 * without DSN, some big providers).  When a message has no report part
 * but looks like a bounce (From MAILER-DAEMON or postmaster, or a
 * bounce-like Subject), mv_dsn_text() looks for an address followed
 * within three lines by an SMTP reply code, and stops at the copy of
 * the original message.  It can miss; it should not invent: it needs a
 * 4yz/5yz code next to the address.
 *
 * Everything is bounded: field values, recipients, lines.  No I/O.
 */
#include <ctype.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "dsn.h"

void mv_dsn_init(void)
{
    static bool done;

    if (!done) {
        g_mime_init();
        done = true;
    }
}

/* ---- RFC 3464 fields --------------------------------------------------- */

typedef struct rcpt {
    char addr[MV_DSN_ADDR_MAX];
    char status[32];
    char diag[MV_DSN_DIAG_MAX];
    char action[32];
} rcpt;

/* Copy a field value: unfolded, trimmed, cut at the cap. */
static void put_value(char *dst, size_t cap, const char *v, size_t n)
{
    size_t w = 0;

    while (n > 0 && (*v == ' ' || *v == '\t'))
        v++, n--;
    while (n > 0 && (v[n - 1] == ' ' || v[n - 1] == '\t' || v[n - 1] == '\r'))
        n--;
    for (size_t i = 0; i < n && w + 1 < cap; i++) {
        unsigned char c = (unsigned char)v[i];
        if (c == '\r' || c == '\n' || c == '\t')
            c = ' ';
        if (c == ' ' && w > 0 && dst[w - 1] == ' ')
            continue; /* folding white space: one space */
        if (c < 0x20 || c == 0x7F)
            continue;
        dst[w++] = (char)c;
    }
    dst[w] = '\0';
}

/* "rfc822; user@example.com" -> "user@example.com" (RFC 3464 §2.3.2:
 * address-type ";" generic-address); a bare address is taken too. */
static void strip_type(char *s)
{
    char *semi = strchr(s, ';');
    char *p = semi ? semi + 1 : s;
    size_t n;

    while (*p == ' ')
        p++;
    if (*p == '<')
        p++;
    n = strlen(p);
    while (n > 0 && (p[n - 1] == '>' || p[n - 1] == ' '))
        n--;
    memmove(s, p, n);
    s[n] = '\0';
}

/* The status a recipient block gives: its Status field (the class
 * digit must be 4 or 5), else the reply code inside "smtp; 550 ...". */
static bool block_status(rcpt *r)
{
    if ((r->status[0] == '4' || r->status[0] == '5') && r->status[1] == '.') {
        char *sp = strpbrk(r->status, " (");
        if (sp)
            *sp = '\0';
        return true;
    }
    const char *d = strchr(r->diag, ';');
    d = d ? d + 1 : r->diag;
    while (*d == ' ')
        d++;
    if ((d[0] == '4' || d[0] == '5') && isdigit((unsigned char)d[1]) &&
        isdigit((unsigned char)d[2]) && !isdigit((unsigned char)d[3])) {
        memcpy(r->status, d, 3);
        r->status[3] = '\0';
        return true;
    }
    return false;
}

static int emit_block(rcpt *r, int64_t at, mv_bounce_fn fn, void *arg,
                      int *stop)
{
    mv_bounce b;

    if (r->addr[0] == '\0' || strcasecmp(r->action, "failed") != 0 ||
        !block_status(r))
        return 0;
    strip_type(r->addr);
    if (r->addr[0] == '\0' || strchr(r->addr, '@') == NULL)
        return 0;
    b.recipient = r->addr;
    b.status = r->status;
    b.diagnostic = r->diag;
    b.at = at;
    *stop = fn(arg, &b);
    return 1;
}

/* One field "Name: value" (already unfolded) into the block. */
static void take_field(rcpt *r, const char *line, size_t n)
{
    const char *colon = memchr(line, ':', n);
    size_t nl;
    bool final;

    if (colon == NULL)
        return;
    nl = (size_t)(colon - line);
    const char *v = colon + 1;
    size_t vn = n - nl - 1;
    final = nl == 15 && strncasecmp(line, "Final-Recipient", 15) == 0;
    if (final ||
        (nl == 18 && strncasecmp(line, "Original-Recipient", 18) == 0 &&
         r->addr[0] == '\0'))
        put_value(r->addr, sizeof r->addr, v, vn);
    else if (nl == 6 && strncasecmp(line, "Action", 6) == 0)
        put_value(r->action, sizeof r->action, v, vn);
    else if (nl == 6 && strncasecmp(line, "Status", 6) == 0)
        put_value(r->status, sizeof r->status, v, vn);
    else if (nl == 15 && strncasecmp(line, "Diagnostic-Code", 15) == 0)
        put_value(r->diag, sizeof r->diag, v, vn);
}

int mv_dsn_fields(const char *body, size_t len, int64_t at, mv_bounce_fn fn,
                  void *arg)
{
    rcpt *r = calloc(1, sizeof *r);
    char *field = malloc(MV_DSN_DIAG_MAX * 2);
    size_t flen = 0, i = 0;
    int found = 0, stop = 0;

    if (body == NULL)
        body = "", len = 0; /* an empty part may have no buffer */
    if (r == NULL || field == NULL) {
        free(r);
        free(field);
        return 0;
    }
    while (i <= len && !stop) {
        const char *nl = i < len ? memchr(body + i, '\n', len - i) : NULL;
        size_t end = nl ? (size_t)(nl - body) : len;
        const char *line = body + i;
        size_t n = end - i;
        if (n > 0 && line[n - 1] == '\r')
            n--;
        bool cont = n > 0 && (line[0] == ' ' || line[0] == '\t');
        if (!cont && flen > 0) { /* the field before is complete */
            take_field(r, field, flen);
            flen = 0;
        }
        if (n == 0) { /* blank line: a block ends */
            found += emit_block(r, at, fn, arg, &stop);
            memset(r, 0, sizeof *r);
        } else {
            size_t room = MV_DSN_DIAG_MAX * 2 - 1 - flen;
            size_t take = n < room ? n : room;
            memcpy(field + flen, line, take);
            flen += take;
        }
        i = end + 1;
    }
    if (!stop) {
        if (flen > 0)
            take_field(r, field, flen);
        found += emit_block(r, at, fn, arg, &stop);
    }
    free(r);
    free(field);
    return found;
}

/* ---- plain-text bounces ----------------------------------------------- */

/* Where the copy of the bounced message starts: stop reading there. */
static bool copy_marker(const char *line, size_t n)
{
    static const char *const marks[] = {
        "below this line is a copy of the message",
        "this is a copy of the message",
        "original message follows",
        "----- original message -----",
        "------ this is a copy",
        "content-type: message/rfc822",
    };
    char low[128];
    size_t k = n < sizeof low - 1 ? n : sizeof low - 1;

    for (size_t i = 0; i < k; i++)
        low[i] = (char)tolower((unsigned char)line[i]);
    low[k] = '\0';
    for (size_t i = 0; i < sizeof marks / sizeof marks[0]; i++)
        if (strstr(low, marks[i]) != NULL)
            return true;
    return false;
}

static bool addr_char(char c)
{
    /* c != 0: strchr() finds the terminator of its own string */
    return isalnum((unsigned char)c) ||
           (c != '\0' && strchr(".!#$%&'*+/=?^_`{|}~-", c) != NULL) ||
           (unsigned char)c >= 0x80;
}

/* The first address-like token in a line (a@b.c), into 'out'. */
static bool find_addr(const char *s, size_t n, char *out, size_t cap)
{
    for (size_t i = 0; i < n; i++) {
        if (s[i] != '@' || i == 0)
            continue;
        size_t a = i, b = i + 1;
        while (a > 0 && addr_char(s[a - 1]))
            a--;
        while (b < n && (addr_char(s[b]) || s[b] == '['))
            b++;
        while (b > i + 1 && s[b - 1] == '.')
            b--;
        if (a == i || b == i + 1 || memchr(s + i + 1, '.', b - i - 1) == NULL)
            continue;
        if (b - a >= cap)
            return false;
        memcpy(out, s + a, b - a);
        out[b - a] = '\0';
        return true;
    }
    return false;
}

/* An SMTP code in a line: the enhanced one (4.x.x / 5.x.x) if any, else
 * a three-digit 4yz / 5yz standing alone. */
static bool find_code(const char *s, size_t n, char *out, size_t cap)
{
    for (size_t i = 0; i + 5 <= n; i++) {
        if ((s[i] == '4' || s[i] == '5') && s[i + 1] == '.' &&
            (i == 0 || !isalnum((unsigned char)s[i - 1]))) {
            size_t j = i + 2, d1 = 0, d2 = 0;
            while (j < n && isdigit((unsigned char)s[j]) && d1 < 4)
                j++, d1++;
            if (d1 < 1 || d1 > 3 || j >= n || s[j] != '.')
                continue;
            j++;
            while (j < n && isdigit((unsigned char)s[j]) && d2 < 4)
                j++, d2++;
            if (d2 < 1 || d2 > 3 || (j < n && isalnum((unsigned char)s[j])))
                continue;
            snprintf(out, cap, "%.*s", (int)(j - i), s + i);
            return true;
        }
    }
    for (size_t i = 0; i + 3 <= n; i++) {
        if ((s[i] == '4' || s[i] == '5') && isdigit((unsigned char)s[i + 1]) &&
            isdigit((unsigned char)s[i + 2]) &&
            (i == 0 || !isalnum((unsigned char)s[i - 1])) &&
            (i + 3 == n || s[i + 3] == ' ' || s[i + 3] == '-')) {
            snprintf(out, cap, "%.3s", s + i);
            return true;
        }
    }
    return false;
}

int mv_dsn_text(const char *text, size_t len, int64_t at, mv_bounce_fn fn,
                void *arg)
{
    enum { LOOKAHEAD = 3 };
    const char *lines[LOOKAHEAD + 1];
    size_t lens[LOOKAHEAD + 1];
    char addr[MV_DSN_ADDR_MAX], code[32], diag[MV_DSN_DIAG_MAX];
    char seen[8][MV_DSN_ADDR_MAX];
    size_t n_seen = 0, pos = 0;
    int found = 0;

    while (pos < len) {
        const char *nl = memchr(text + pos, '\n', len - pos);
        size_t end = nl ? (size_t)(nl - text) : len;
        const char *line = text + pos;
        size_t n = end - pos;
        pos = end + 1;
        if (copy_marker(line, n))
            break;
        if (!find_addr(line, n, addr, sizeof addr))
            continue;
        /* this line and up to three more, stopping at a blank-then-other
         * address: the code must belong to this recipient */
        size_t k = 0, p2 = pos;
        lines[k] = line, lens[k++] = n;
        while (k <= LOOKAHEAD && p2 < len) {
            const char *nl2 = memchr(text + p2, '\n', len - p2);
            size_t e2 = nl2 ? (size_t)(nl2 - text) : len;
            char other[MV_DSN_ADDR_MAX];
            if (k > 1 && find_addr(text + p2, e2 - p2, other, sizeof other) &&
                strcmp(other, addr) != 0)
                break;
            lines[k] = text + p2, lens[k++] = e2 - p2;
            p2 = e2 + 1;
        }
        bool got = false;
        for (size_t j = 0; j < k && !got; j++) {
            if (find_code(lines[j], lens[j], code, sizeof code)) {
                put_value(diag, sizeof diag, lines[j], lens[j]);
                got = true;
            }
        }
        if (!got)
            continue;
        bool dup = false;
        for (size_t j = 0; j < n_seen; j++)
            dup |= strcasecmp(seen[j], addr) == 0;
        if (dup)
            continue;
        if (n_seen < 8)
            snprintf(seen[n_seen++], sizeof seen[0], "%s", addr);
        mv_bounce b = {addr, code, diag, at};
        found++;
        if (fn(arg, &b) != 0)
            break;
    }
    return found;
}

/* ---- the message ------------------------------------------------------ */

typedef struct walk {
    mv_bounce_fn fn;
    void *arg;
    int64_t at;
    int found;
    bool report;         /* a delivery-status part was seen */
    GMimeTextPart *text; /* the first text/plain part */
} walk;

static GByteArray *part_bytes(GMimePart *part, GMimeStream **keep)
{
    GMimeDataWrapper *w = g_mime_part_get_content(part);
    GMimeStream *mem;

    if (w == NULL)
        return NULL;
    mem = g_mime_stream_mem_new();
    g_mime_data_wrapper_write_to_stream(w, mem); /* decoded */
    *keep = mem;
    return g_mime_stream_mem_get_byte_array(GMIME_STREAM_MEM(mem));
}

static void on_part(GMimeObject *parent, GMimeObject *part, gpointer data)
{
    walk *w = data;
    GMimeContentType *ct = g_mime_object_get_content_type(part);

    (void)parent;
    if (!GMIME_IS_PART(part) || ct == NULL)
        return;
    if (g_mime_content_type_is_type(ct, "message", "delivery-status") ||
        g_mime_content_type_is_type(ct, "message", "global-delivery-status")) {
        GMimeStream *mem = NULL;
        GByteArray *b = part_bytes(GMIME_PART(part), &mem);
        w->report = true;
        if (b != NULL)
            w->found += mv_dsn_fields((const char *)b->data, b->len, w->at,
                                      w->fn, w->arg);
        if (mem)
            g_object_unref(mem);
    } else if (w->text == NULL && GMIME_IS_TEXT_PART(part) &&
               g_mime_content_type_is_type(ct, "text", "plain")) {
        w->text = GMIME_TEXT_PART(part);
    }
}

/* From MAILER-DAEMON / postmaster, or a Subject bounces use. */
static bool looks_like_bounce(GMimeMessage *msg)
{
    static const char *const subjects[] = {
        "undeliver",
        "delivery status notification",
        "failure notice",
        "mail delivery failed",
        "returned mail",
        "delivery failure",
        "could not be delivered",
        "mail delivery subsystem",
    };
    InternetAddressList *from = g_mime_message_get_from(msg);
    const char *subj = g_mime_message_get_subject(msg);
    bool yes = false;

    if (from != NULL) {
        char *f = internet_address_list_to_string(from, NULL, FALSE);
        if (f != NULL) {
            for (char *p = f; *p; p++)
                *p = (char)tolower((unsigned char)*p);
            yes = strstr(f, "mailer-daemon") || strstr(f, "postmaster");
            g_free(f);
        }
    }
    for (size_t i = 0; !yes && subj && i < sizeof subjects / sizeof *subjects;
         i++)
        yes = strcasestr(subj, subjects[i]) != NULL;
    return yes;
}

int mv_dsn_message(GMimeMessage *msg, mv_bounce_fn fn, void *arg)
{
    walk w = {0};
    GDateTime *date = g_mime_message_get_date(msg);

    w.fn = fn;
    w.arg = arg;
    w.at = date ? (int64_t)g_date_time_to_unix(date) : 0;
    if (w.at < 0)
        w.at = 0;
    g_mime_message_foreach(msg, on_part, &w);
    if (w.report)
        return w.found;
    if (!looks_like_bounce(msg))
        return -1;
    if (w.text == NULL && GMIME_IS_TEXT_PART(msg->mime_part))
        w.text = GMIME_TEXT_PART(msg->mime_part);
    if (w.text == NULL)
        return -1;
    char *t = g_mime_text_part_get_text(w.text);
    if (t == NULL)
        return -1;
    w.found = mv_dsn_text(t, strlen(t), w.at, fn, arg);
    g_free(t);
    return w.found > 0 ? w.found : -1;
}

int mv_dsn_buffer(const char *buf, size_t len, mv_bounce_fn fn, void *arg)
{
    GMimeStream *s;
    GMimeParser *p;
    GMimeMessage *m;
    int rc = -1;

    mv_dsn_init();
    s = g_mime_stream_mem_new_with_buffer(buf, len);
    p = g_mime_parser_new_with_stream(s);
    m = g_mime_parser_construct_message(p, NULL);
    if (m != NULL) {
        rc = mv_dsn_message(m, fn, arg);
        g_object_unref(m);
    }
    g_object_unref(p);
    g_object_unref(s);
    return rc;
}
