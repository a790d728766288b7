/*
 * smtp_reply.c - read SMTP replies (RFC 5321 §4.2) from a byte stream,
 * and say what a reply to RCPT means.
 *
 *   Reply-line = *( Reply-code "-" [ textstring ] CRLF )
 *                Reply-code [ SP textstring ] CRLF
 *
 * The reader is the one place where a hostile server's bytes are
 * interpreted, so it is strict about what it keeps and bounded in what
 * it holds: a line longer than VL__SMTP_LINE_MAX, more than
 * VL__SMTP_LINES_MAX lines in one reply, a NUL, a code that is not three
 * digits in range, or lines of one reply with different codes are all
 * protocol errors.  It accepts a bare LF as a line end, as MTAs do.
 */
#include "smtp.h"

#include <stdlib.h>
#include <string.h>

void vl__smtp_reader_init(vl__smtp_reader *r)
{
    void (*on_line)(void *, const char *, size_t) = r->on_line;
    void *arg = r->arg;

    memset(r, 0, sizeof *r);
    r->on_line = on_line;
    r->arg = arg;
}

static vl__smtp_feed fail(vl__smtp_reader *r, const char *why)
{
    r->error = why;
    return VL__SMTP_BAD;
}

static bool digit(char c)
{
    return c >= '0' && c <= '9';
}

/* 1-3 digits at s[*i]; moves *i past them. */
static bool digits(const char *s, size_t n, size_t *i)
{
    size_t start = *i;

    while (*i < n && digit(s[*i]) && *i - start < 3)
        (*i)++;
    return *i > start && (*i >= n || !digit(s[*i]));
}

/* An RFC 3463 enhanced status code at the start of 't' whose class
 * matches the reply code's first digit: its length, or 0. */
static size_t enhanced_len(const char *t, size_t n, char cls)
{
    size_t i;

    if (n < 5 || t[0] != cls || t[1] != '.')
        return 0;
    i = 2;
    if (!digits(t, n, &i) || i >= n || t[i] != '.')
        return 0;
    i++;
    if (!digits(t, n, &i))
        return 0;
    return (i == n || t[i] == ' ') ? i : 0;
}

/* Append one line's text to the reply's, joined by a space, cut on a
 * UTF-8 character boundary when full. */
static void add_text(vl__smtp_reader *r, const char *t, size_t n)
{
    char *out = r->reply.text;
    size_t room = sizeof r->reply.text - 1 - r->text_len;

    if (n == 0)
        return;
    if (r->text_len > 0 && room > 0) {
        out[r->text_len++] = ' ';
        room--;
    }
    if (n > room) {
        n = room;
        while (n > 0 && ((unsigned char)t[n] & 0xC0) == 0x80)
            n--;
    }
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)t[i];
        out[r->text_len++] = (c < 0x20 || c == 0x7F) ? '?' : (char)c;
    }
    out[r->text_len] = '\0';
}

static char upper(char c)
{
    return (c >= 'a' && c <= 'z') ? (char)(c - ('a' - 'A')) : c;
}

/* EHLO keywords are case-insensitive (RFC 5321 §4.1.1.1). */
static void ehlo_keyword(vl__smtp_reply *rep, const char *t, size_t n)
{
    static const struct {
        const char *kw;
        unsigned flag;
    } kws[] = {
        {"PIPELINING", VL__EHLO_PIPELINING},
        {"SMTPUTF8", VL__EHLO_SMTPUTF8},
        {"STARTTLS", VL__EHLO_STARTTLS},
    };
    size_t k = 0;

    while (k < n && t[k] != ' ')
        k++;
    for (size_t i = 0; i < sizeof kws / sizeof *kws; i++) {
        if (strlen(kws[i].kw) != k)
            continue;
        size_t j = 0;
        while (j < k && upper(t[j]) == kws[i].kw[j])
            j++;
        if (j == k)
            rep->ehlo |= kws[i].flag;
    }
}

/* One complete line (no CR LF).  VL__SMTP_REPLY when it ends a reply. */
static vl__smtp_feed take_line(vl__smtp_reader *r, const char *s, size_t n)
{
    vl__smtp_reply *rep = &r->reply;

    if (r->on_line)
        r->on_line(r->arg, s, n);
    if (memchr(s, '\0', n) != NULL)
        return fail(r, "NUL byte in a reply");
    if (n < 3 || !digit(s[0]) || !digit(s[1]) || !digit(s[2]) || s[0] < '2' ||
        s[0] > '5' || s[1] > '5')
        return fail(r, "reply does not start with a reply code");
    if (n > 3 && s[3] != ' ' && s[3] != '-')
        return fail(r, "reply code not followed by SP or '-'");
    int code = (s[0] - '0') * 100 + (s[1] - '0') * 10 + (s[2] - '0');
    if (!r->in_reply) {
        rep->code = code;
        rep->n_lines = 0;
    } else if (code != rep->code) {
        return fail(r, "lines of one reply with different codes");
    }
    if (++rep->n_lines > VL__SMTP_LINES_MAX)
        return fail(r, "too many lines in one reply");
    const char *t = n > 4 ? s + 4 : s + n;
    size_t tn = n > 4 ? n - 4 : 0;
    size_t e = enhanced_len(t, tn, s[0]);
    if (e > 0 && rep->n_lines == 1)
        memcpy(rep->enhanced, t, e), rep->enhanced[e] = '\0';
    if (rep->n_lines > 1)
        ehlo_keyword(rep, t, tn);
    if (e > 0) /* the code is kept apart; the text goes on after it */
        t += e, tn -= e;
    while (tn > 0 && *t == ' ')
        t++, tn--;
    add_text(r, t, tn);
    r->in_reply = n > 3 && s[3] == '-';
    return r->in_reply ? VL__SMTP_MORE : VL__SMTP_REPLY;
}

static void start_reply(vl__smtp_reader *r)
{
    if (r->in_reply)
        return;
    memset(&r->reply, 0, sizeof r->reply);
    r->text_len = 0;
}

vl__smtp_feed vl__smtp_read(vl__smtp_reader *r, const char *buf, size_t len,
                            size_t *used)
{
    size_t i = 0;

    *used = 0;
    if (r->error != NULL)
        return VL__SMTP_BAD;
    while (i < len) {
        const char *nl = memchr(buf + i, '\n', len - i);
        size_t take = nl ? (size_t)(nl - (buf + i)) : len - i;
        if (r->len + take > sizeof r->line)
            return fail(r, "reply line too long");
        memcpy(r->line + r->len, buf + i, take);
        r->len += take;
        i += take;
        if (nl == NULL)
            break;
        i++; /* the LF */
        size_t n = r->len;
        if (n > 0 && r->line[n - 1] == '\r')
            n--;
        r->len = 0;
        start_reply(r);
        vl__smtp_feed f = take_line(r, r->line, n);
        if (f != VL__SMTP_MORE) {
            *used = i;
            return f;
        }
    }
    *used = i;
    return VL__SMTP_MORE;
}

void vl__smtp_outcome_clear(vl__smtp_outcome *o)
{
    for (size_t i = 0; i < o->n_lines; i++)
        free(o->lines[i].text);
    free(o->lines);
    memset(o, 0, sizeof *o);
    o->reason = VL_R__COUNT;
    o->catch_all = -1;
}

/* ---- what a reply means ------------------------------------------------- */

static bool has_word(const char *text, const char *const *words)
{
    char low[VL__SMTP_TEXT_CAP];
    size_t n = strlen(text);

    for (size_t i = 0; i <= n; i++)
        low[i] = vl__lower(text[i]);
    for (size_t i = 0; words[i] != NULL; i++)
        if (strstr(low, words[i]) != NULL)
            return true;
    return false;
}

/* Words with which servers say "you, the sender, are refused" rather
 * than "no such mailbox". */
static bool speaks_of_policy(const char *text)
{
    static const char *const words[] = {
        "spam",          "block",     "policy",      "reputation",
        "blacklist",     "blocklist", "denylist",    "listed",
        "rbl",           "spamhaus",  "not allowed", "relay",
        "access denied", "banned",    "abuse",       NULL};
    return has_word(text, words);
}

static bool speaks_of_full(const char *text)
{
    static const char *const words[] = {"full", "quota", "storage",
                                        "insufficient", NULL};
    return has_word(text, words);
}

/* "retry in 300 seconds", "try again in 5 minutes": seconds, or 0. */
unsigned vl__smtp_retry_hint(const char *t)
{
    for (const char *s = t; *s; s++) {
        if (*s < '0' || *s > '9' || (s > t && s[-1] >= '0' && s[-1] <= '9'))
            continue;
        char *end;
        unsigned long v = strtoul(s, &end, 10);
        while (*end == ' ')
            end++;
        if (v > 0 && v < 86400 && strncmp(end, "sec", 3) == 0)
            return (unsigned)v;
        if (v > 0 && v < 1440 && strncmp(end, "min", 3) == 0)
            return (unsigned)v * 60;
    }
    return 0;
}

vl_reason vl__smtp_classify(const vl__smtp_reply *rep)
{
    const char *e = rep->enhanced;
    int c = rep->code;

    if (c >= 200 && c < 300)
        return VL_R__COUNT;
    if (strcmp(e, "4.2.2") == 0 || strcmp(e, "5.2.2") == 0 || c == 552 ||
        (c == 452 && e[0] == '\0' && speaks_of_full(rep->text)))
        return VL_R_MAILBOX_FULL;
    if (c == 421)
        return VL_R_SMTP_UNAVAILABLE;
    if (c >= 400 && c < 500)
        return VL_R_SMTP_GREYLISTED;
    if (c >= 500 && strncmp(e, "5.7.", 4) == 0)
        return VL_R_SMTP_BLOCKED;
    if (c == 550 || c == 551 || c == 553) {
        if (strncmp(e, "5.1.", 4) == 0 || strcmp(e, "5.2.1") == 0)
            return VL_R_SMTP_MAILBOX_UNKNOWN;
        if (e[0] == '\0' && !speaks_of_policy(rep->text))
            return VL_R_SMTP_MAILBOX_UNKNOWN;
        return speaks_of_policy(rep->text) ? VL_R_SMTP_BLOCKED
                                           : VL_R_SMTP_REJECTED;
    }
    return VL_R_SMTP_REJECTED;
}
