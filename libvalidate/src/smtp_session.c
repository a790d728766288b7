/*
 * smtp_session.c - one connection of the SMTP probe: connect, banner,
 * EHLO (HELO), STARTTLS, MAIL FROM, batches of RCPT (pipelined when the
 * server offers PIPELINING, RFC 2920), RSET between batches, QUIT.
 * Never DATA.
 *
 * One state (cstate) per reply awaited, one switch on it (on_reply);
 * every wait has a timer.  A connection that fails before MAIL FROM was
 * accepted moves its domain on to the next MX address (fail_host); one
 * that fails later answers its batch with the failure, which is never
 * "undeliverable".  send_cmd() refuses any line with a control
 * character, so nothing can inject a command.
 */
#include "smtp_prober.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void conn_close(conn *c);

/* The lines of the connection that concern 'r': all but the other
 * recipients' RCPTs and replies. */
static void outcome_transcript(vl__smtp_outcome *o, const conn *c,
                               const rcpt *r)
{
    size_t n = 0;

    if (c == NULL || c->n_lines == 0)
        return;
    o->lines = calloc(c->n_lines, sizeof *o->lines);
    if (o->lines == NULL)
        return;
    for (size_t i = 0; i < c->n_lines; i++) {
        if (c->owners[i] != NULL && c->owners[i] != r)
            continue;
        o->lines[n] = c->lines[i];
        o->lines[n].text = strdup(c->lines[i].text);
        if (o->lines[n].text != NULL)
            n++;
    }
    o->n_lines = n;
}

static void outcome_conn(vl__smtp_outcome *o, const conn *c)
{
    const cand *k = &c->d->cands[c->cand];

    snprintf(o->host, sizeof o->host, "%s", k->host);
    vl__smtp_addr_text(&k->addr, o->ip);
    o->port = c->p->port;
    o->tls = c->tls_on;
    o->smtputf8 = (c->caps & VL__EHLO_SMTPUTF8) != 0;
}

void vl__smtp_answer_reason(rcpt *r, vl_reason why, const conn *c)
{
    vl__smtp_outcome o;

    vl__smtp_outcome_init(&o, why);
    if (c != NULL) {
        outcome_conn(&o, c);
        outcome_transcript(&o, c, r);
    }
    vl__smtp_answer(r, &o);
}

/* ---- the transcript ------------------------------------------------------
 */

static void note_line(conn *c, char dir, const char *s, size_t n)
{
    if (!(c->p->flags & VL_OPT_EXPLAIN) ||
        c->n_lines >= VL__SMTP_TRANSCRIPT_MAX)
        return;
    if (c->lines == NULL) {
        c->lines = calloc(VL__SMTP_TRANSCRIPT_MAX, sizeof *c->lines);
        c->owners = calloc(VL__SMTP_TRANSCRIPT_MAX, sizeof *c->owners);
        if (c->lines == NULL || c->owners == NULL)
            return;
    }
    if (n > VL__SMTP_TRANSCRIPT_LINE)
        n = VL__SMTP_TRANSCRIPT_LINE;
    char *t = malloc(n + 1);
    if (t == NULL)
        return;
    for (size_t i = 0; i < n; i++) {
        unsigned char ch = (unsigned char)s[i];
        t[i] = (ch < 0x20 || ch == 0x7F) ? '?' : (char)ch;
    }
    t[n] = '\0';
    c->lines[c->n_lines] =
        (vl__smtp_line){.ms = (uint32_t)(vl__smtp_now_ms(c->p) - c->t0),
                        .dir = dir,
                        .text = t};
    c->owners[c->n_lines++] = c->owner;
}

static void on_server_line(void *arg, const char *s, size_t n)
{
    note_line(arg, 'S', s, n);
}

/* ---- sending --------------------------------------------------------------
 */

typedef struct wreq {
    uv_write_t req;
    char *buf;
} wreq;

static void on_written(uv_write_t *req, int status)
{
    wreq *w = (wreq *)req;

    (void)status; /* a broken pipe shows up as a read error too */
    free(w->buf);
    free(w);
}

/* Send 'len' bytes (already encrypted, or plain text). Takes 'buf'. */
static bool send_raw(conn *c, char *buf, size_t len)
{
    wreq *w = malloc(sizeof *w);

    if (w == NULL) {
        free(buf);
        return false;
    }
    w->buf = buf;
    uv_buf_t b = uv_buf_init(buf, (unsigned)len);
    if (uv_write(&w->req, (uv_stream_t *)&c->tcp, &b, 1, on_written) != 0) {
        free(buf);
        free(w);
        return false;
    }
    return true;
}

static bool flush_tls(conn *c)
{
    size_t n;
    char *out = vl__tls_take_cipher(c->tls, &n);

    return out == NULL || send_raw(c, out, n);
}

/* Queue one command line; with TLS on, through the session. */
static bool send_cmd(conn *c, const char *fmt, ...)
{
    char line[VL__FIELD_CAP + 64];
    va_list ap;

    va_start(ap, fmt);
    int n = vsnprintf(line, sizeof line - 2, fmt, ap);
    va_end(ap);
    if (n < 0 || (size_t)n >= sizeof line - 2)
        return false;
    for (int i = 0; i < n; i++) /* no CR, LF or other control: no */
        if ((unsigned char)line[i] < 0x20 || line[i] == 0x7F) /* injection */
            return false;
    note_line(c, 'C', line, (size_t)n);
    memcpy(line + n, "\r\n", 2);
    if (c->tls_on)
        return vl__tls_write(c->tls, line, (size_t)n + 2) && flush_tls(c);
    char *buf = malloc((size_t)n + 2);
    if (buf == NULL)
        return false;
    memcpy(buf, line, (size_t)n + 2);
    return send_raw(c, buf, (size_t)n + 2);
}

static void on_timeout(uv_timer_t *t);

static void expect_reply(conn *c, cstate st)
{
    c->st = st;
    uv_timer_start(&c->timer, on_timeout, c->p->timeout_ms, 0);
}

/* ---- the end of a connection ------------------------------------------- */

/* How far a connection got, to keep the most telling failure. */
static int level(const conn *c)
{
    if (c->reached)
        return 3;
    if (c->spoke)
        return 2;
    return c->st > S_CONNECT ? 1 : 0;
}

static void note_dead(vl__prober *p, const conn *c)
{
    char ip[VL__SMTP_IP_CAP];

    if (p->banners > 0 || p->n_dead >= VL__SMTP_DEAD_NEEDED)
        return;
    vl__smtp_addr_text(&c->d->cands[c->cand].addr, ip);
    for (unsigned i = 0; i < p->n_dead; i++)
        if (strcmp(p->dead[i], c->d->name) == 0 ||
            strcmp(p->dead_ip[i], ip) == 0)
            return; /* unrelated hosts only */
    snprintf(p->dead[p->n_dead], sizeof p->dead[0], "%s", c->d->name);
    memcpy(p->dead_ip[p->n_dead++], ip, sizeof ip);
    if (p->n_dead == VL__SMTP_DEAD_NEEDED)
        p->stats.port_blocked = true;
}

/* The connection failed before it could ask anything: the domain moves
 * on to its next MX address, and remembers the most telling reason. */
static void fail_host(conn *c, vl_reason why)
{
    sdomain *d = c->d;
    int lv = level(c);

    if (!c->spoke &&
        (why == VL_R_SMTP_CONNECT_FAILED || why == VL_R_SMTP_TIMEOUT))
        note_dead(c->p, c);
    if (lv >= d->fail_level || d->fail == VL_R__COUNT) {
        d->fail = why;
        d->fail_level = lv;
        vl__smtp_outcome_clear(&d->fail_out);
        vl__smtp_outcome_init(&d->fail_out, why);
        outcome_conn(&d->fail_out, c);
        if (c->spoke && c->rd.reply.code != 0)
            vl__smtp_outcome_reply(&d->fail_out, &c->rd.reply);
        outcome_transcript(&d->fail_out, c, NULL);
    }
    if (d->cur == c->cand)
        d->cur++;
}

/* The batch did not get its replies: each gets 'why'. */
static void fail_batch(conn *c, vl_reason why)
{
    for (unsigned i = c->replies; i < c->n_batch; i++) {
        rcpt *r = c->batch[i];
        if (r == NULL)
            continue; /* the catch-all probe */
        vl__smtp_answer_reason(r, why, c);
    }
    if (c->probe_in_batch && c->replies == 0) {
        c->d->probing = false;
        if (c->d->catch_all == -2)
            c->d->catch_all = -1;
    }
    c->n_batch = c->replies = 0;
    c->probe_in_batch = false;
}

static void fail_conn(conn *c, vl_reason why)
{
    if (c->st == S_DONE)
        return;
    if (c->n_batch > 0)
        fail_batch(c, why);
    else if (!c->reached && !c->tls_retry)
        fail_host(c, why);
    conn_close(c);
}

static void on_handle_closed(uv_handle_t *h)
{
    conn *c = h->data;

    if (--c->open_handles > 0)
        return;
    for (size_t i = 0; i < c->n_lines; i++)
        free(c->lines[i].text);
    free(c->lines);
    free(c->owners);
    vl__tls_free(c->tls);
    free(c);
}

static void conn_close(conn *c)
{
    vl__prober *p = c->p;
    sdomain *d = c->d;

    if (c->st == S_DONE)
        return;
    if (d->idle == c)
        d->idle = NULL;
    c->st = S_DONE;
    if (c->prev)
        c->prev->next = c->next;
    else
        p->conns = c->next;
    if (c->next)
        c->next->prev = c->prev;
    uv_timer_stop(&c->timer);
    uv_close((uv_handle_t *)&c->timer, on_handle_closed);
    uv_close((uv_handle_t *)&c->tcp, on_handle_closed);
    d->conns--;
    d->used_ms = vl__smtp_now_ms(p);
    c->h->active--;
    if (p->closing)
        return;
    vl__smtp_pump(p, d);
    vl__smtp_wake_host(p, c->h);
}

static void on_timeout(uv_timer_t *t)
{
    conn *c = t->data;

    fail_conn(c, c->st == S_CONNECT ? VL_R_SMTP_CONNECT_FAILED
                                    : VL_R_SMTP_TIMEOUT);
}

/* ---- the dialogue ---------------------------------------------------------
 */

static bool start_mail(conn *c);

static void quit(conn *c)
{
    if (send_cmd(c, "QUIT"))
        expect_reply(c, S_QUIT);
    else
        conn_close(c);
}

/* Take the next batch from the queue: recipients that need SMTPUTF8 at
 * a server without it are answered here and never sent. */
static void take_batch(conn *c)
{
    vl__prober *p = c->p;
    sdomain *d = c->d;
    unsigned room = p->per_conn - c->sent;

    c->n_batch = c->replies = c->next_send = 0;
    c->probe_in_batch = false;
    if (d->catch_all < 0 && !d->probing && room > 1) {
        c->batch[c->n_batch++] = NULL; /* the catch-all probe */
        c->probe_in_batch = true;
        d->probing = true;
        room--;
    }
    while (c->n_batch < VL__SMTP_BATCH_MAX && room > 0 && d->head != NULL) {
        rcpt *r = vl__smtp_dequeue(d);
        if (r->utf8 && !(c->caps & VL__EHLO_SMTPUTF8)) {
            vl__smtp_answer_reason(r, VL_R_SMTPUTF8_UNSUPPORTED, c);
            continue;
        }
        c->batch[c->n_batch++] = r;
        room--;
    }
}

static bool batch_utf8(const conn *c)
{
    for (unsigned i = 0; i < c->n_batch; i++)
        if (c->batch[i] != NULL && c->batch[i]->utf8)
            return true;
    return false;
}

static bool send_rcpt(conn *c, unsigned i)
{
    rcpt *r = c->batch[i];
    bool ok;

    c->owner = r;
    if (r == NULL)
        ok = send_cmd(c, "RCPT TO:<%s@%s>", c->d->random_local, c->d->name);
    else
        ok = send_cmd(c, "RCPT TO:<%s>", r->addr);
    c->p->stats.rcpts++;
    c->sent++;
    return ok;
}

/* Send what may go before the next reply: the whole batch with
 * PIPELINING (RFC 2920), else one RCPT. */
static bool send_rcpts(conn *c)
{
    unsigned upto =
        (c->caps & VL__EHLO_PIPELINING) ? c->n_batch : c->next_send + 1;
    while (c->next_send < upto && c->next_send < c->n_batch)
        if (!send_rcpt(c, c->next_send++))
            return false;
    c->owner = NULL;
    return true;
}

static bool start_mail(conn *c)
{
    take_batch(c);
    if (c->n_batch == 0 || (c->n_batch == 1 && c->probe_in_batch)) {
        if (c->probe_in_batch) { /* nothing to ask after all */
            c->d->probing = false;
            c->n_batch = 0;
            c->probe_in_batch = false;
        }
        quit(c);
        return true;
    }
    const char *utf8 =
        (batch_utf8(c) && (c->caps & VL__EHLO_SMTPUTF8)) ? " SMTPUTF8" : "";
    if (!send_cmd(c, "MAIL FROM:<%s>%s", c->p->from, utf8))
        return false;
    expect_reply(c, S_MAIL);
    return true;
}

static void next_batch(conn *c)
{
    if (send_cmd(c, "RSET"))
        expect_reply(c, S_RSET);
    else
        conn_close(c);
}

static void on_idle_over(uv_timer_t *t)
{
    conn *c = t->data;

    if (c->d->idle == c)
        c->d->idle = NULL;
    quit(c);
}

static void after_batch(conn *c)
{
    sdomain *d = c->d;
    bool room = c->sent < c->p->per_conn && !c->last_batch;

    c->n_batch = c->replies = 0;
    c->probe_in_batch = false;
    if (room && d->head != NULL) {
        next_batch(c);
    } else if (room && d->idle == NULL && c->h->wait_head == NULL &&
               !c->p->closing) {
        /* keep the connection for the next wave, unless someone else
         * waits for this host's slot */
        d->idle = c;
        c->st = S_IDLE;
        uv_timer_start(&c->timer, on_idle_over, VL__SMTP_IDLE_MS, 0);
    } else {
        quit(c);
    }
}

/* More recipients for a domain with an idle connection: use it. */
void vl__smtp_conn_resume(sdomain *d)
{
    conn *c = d->idle;

    d->idle = NULL;
    uv_timer_stop(&c->timer);
    next_batch(c);
}

/* Someone waits for a slot of 'h': idle connections there give theirs
 * up. */
void vl__smtp_release_idle(vl__prober *p, shost *h)
{
    for (conn *c = p->conns, *nx; c != NULL; c = nx) {
        nx = c->next;
        if (c->h == h && c->st == S_IDLE) {
            uv_timer_stop(&c->timer);
            c->d->idle = NULL;
            quit(c);
        }
    }
}

static void on_probe_reply(conn *c, const vl__smtp_reply *rep)
{
    sdomain *d = c->d;

    d->probing = false;
    if (rep->code >= 200 && rep->code < 300)
        d->catch_all = 1;
    else if (rep->code >= 500)
        d->catch_all = 0;
    else
        d->catch_all = -1;  /* greylisted too: ask again next time */
    vl__smtp_pump(c->p, d); /* more connections may open now */
}

static void on_rcpt_reply(conn *c, const vl__smtp_reply *rep)
{
    rcpt *r = c->batch[c->replies];
    vl_reason why = vl__smtp_classify(rep);
    vl__smtp_outcome o;

    c->owner = NULL;
    if (r == NULL) {
        on_probe_reply(c, rep);
        return;
    }
    c->batch[c->replies] = NULL;
    if (rep->code == 452 && strcmp(rep->enhanced, "4.5.3") == 0) {
        /* too many recipients for this transaction: ask again on a new
         * connection, not a verdict */
        vl__smtp_enqueue(c->d, r, true);
        c->last_batch = true;
        return;
    }
    if (why == VL_R_SMTP_GREYLISTED && c->p->grey_ms > 0 && !r->retried) {
        vl__smtp_greylist_wait(c, r, vl__smtp_retry_hint(rep->text));
        return;
    }
    vl__smtp_outcome_init(&o, why);
    if (why == VL_R__COUNT && c->d->catch_all == 1)
        o.reason = VL_R_CATCH_ALL;
    vl__smtp_outcome_reply(&o, rep);
    outcome_conn(&o, c);
    if (why == VL_R_SMTP_GREYLISTED) {
        unsigned hint = vl__smtp_retry_hint(rep->text);
        o.retry_after_s = hint ? hint : VL__SMTP_DEFAULT_RETRY_S;
    }
    outcome_transcript(&o, c, r);
    vl__smtp_answer(r, &o);
}

/* A recipient in the batch that was answered 250 before the catch-all
 * probe's own reply came cannot exist: the probe goes first in the
 * batch, so replies come in that order (RFC 2920 §3.1). */
static void rcpt_reply(conn *c, const vl__smtp_reply *rep)
{
    if (rep->code == 421) {
        fail_batch(c, VL_R_SMTP_UNAVAILABLE);
        conn_close(c);
        return;
    }
    on_rcpt_reply(c, rep);
    c->replies++;
    if (c->replies == c->n_batch) {
        after_batch(c);
    } else if (c->next_send < c->n_batch && !send_rcpts(c)) {
        fail_conn(c, VL_R_SMTP_PROTOCOL_ERROR);
    } else {
        expect_reply(c, S_RCPT);
    }
}

static void mail_reply(conn *c, const vl__smtp_reply *rep)
{
    vl__smtp_outcome o;
    vl_reason why;

    if (rep->code >= 200 && rep->code < 300) {
        c->reached = true;
        if (send_rcpts(c))
            expect_reply(c, S_RCPT);
        else
            fail_conn(c, VL_R_SMTP_PROTOCOL_ERROR);
        return;
    }
    /* The sender is refused (5xx: the prober is blocked) or the server
     * cannot take mail now (4xx): the same for every address here. */
    why = rep->code >= 500 ? VL_R_SMTP_BLOCKED : VL_R_SMTP_UNAVAILABLE;
    vl__smtp_outcome_init(&o, why);
    vl__smtp_outcome_reply(&o, rep);
    outcome_conn(&o, c);
    for (unsigned i = 0; i < c->n_batch; i++) {
        if (c->batch[i] == NULL)
            continue;
        vl__smtp_outcome one = o;
        outcome_transcript(&one, c, c->batch[i]);
        vl__smtp_answer(c->batch[i], &one);
    }
    if (c->probe_in_batch)
        c->d->probing = false;
    c->n_batch = 0;
    c->probe_in_batch = false;
    c->d->blocked = true;
    c->d->block = o;
    quit(c);
}

static bool begin_tls(conn *c)
{
    c->tls = vl__tls_new(c->p->tls, c->d->cands[c->cand].host);
    if (c->tls == NULL)
        return false;
    c->st = S_HANDSHAKE;
    uv_timer_start(&c->timer, on_timeout, c->p->timeout_ms, 0);
    return vl__tls_handshake(c->tls) >= 0 && flush_tls(c);
}

/* After EHLO/HELO: STARTTLS first when wanted, else MAIL. */
static void after_greeting(conn *c)
{
    vl__prober *p = c->p;
    bool offered = (c->caps & VL__EHLO_STARTTLS) != 0;

    if (!c->tls_on && offered && p->tls_mode != VL_SMTP_TLS_NEVER &&
        !(c->d->no_tls && p->tls_mode == VL_SMTP_TLS_OPPORTUNISTIC)) {
        if (send_cmd(c, "STARTTLS"))
            expect_reply(c, S_STARTTLS);
        else
            fail_conn(c, VL_R_SMTP_PROTOCOL_ERROR);
        return;
    }
    if (!c->tls_on && p->tls_mode == VL_SMTP_TLS_REQUIRE) {
        fail_conn(c, VL_R_SMTP_TLS_FAILED);
        return;
    }
    if (!start_mail(c))
        fail_conn(c, VL_R_SMTP_PROTOCOL_ERROR);
}

static void greeting_reply(conn *c, const vl__smtp_reply *rep)
{
    if (rep->code == 250) {
        c->caps = c->st == S_EHLO ? rep->ehlo : 0;
        after_greeting(c);
    } else if (rep->code == 421) {
        fail_conn(c, VL_R_SMTP_UNAVAILABLE);
    } else if (c->st == S_EHLO) { /* RFC 5321 §3.2: fall back to HELO */
        if (send_cmd(c, "HELO %s", c->p->helo))
            expect_reply(c, S_HELO);
        else
            fail_conn(c, VL_R_SMTP_PROTOCOL_ERROR);
    } else {
        fail_conn(c, rep->code >= 500 ? VL_R_SMTP_BLOCKED
                                      : VL_R_SMTP_UNAVAILABLE);
    }
}

static void on_reply(conn *c, const vl__smtp_reply *rep)
{
    if (!c->spoke) {
        c->spoke = true;
        c->p->banners++;
    }
    switch (c->st) {
    case S_BANNER:
        if (rep->code == 220) {
            if (send_cmd(c, "EHLO %s", c->p->helo))
                expect_reply(c, S_EHLO);
            else
                fail_conn(c, VL_R_SMTP_PROTOCOL_ERROR);
        } else if (rep->code == 421 || (rep->code >= 400 && rep->code < 500)) {
            fail_conn(c, VL_R_SMTP_UNAVAILABLE);
        } else if (rep->code >= 500) {
            fail_conn(c, VL_R_SMTP_BLOCKED);
        } else {
            fail_conn(c, VL_R_SMTP_PROTOCOL_ERROR);
        }
        return;
    case S_EHLO:
    case S_HELO:
        greeting_reply(c, rep);
        return;
    case S_STARTTLS:
        if (rep->code == 220) {
            if (!begin_tls(c))
                fail_conn(c, VL_R_SMTP_TLS_FAILED);
        } else if (c->p->tls_mode == VL_SMTP_TLS_REQUIRE) {
            fail_conn(c, VL_R_SMTP_TLS_FAILED);
        } else if (!start_mail(c)) { /* RFC 3207 §4: go on in plain text */
            fail_conn(c, VL_R_SMTP_PROTOCOL_ERROR);
        }
        return;
    case S_MAIL:
        mail_reply(c, rep);
        return;
    case S_RCPT:
        rcpt_reply(c, rep);
        return;
    case S_RSET:
        if (rep->code >= 200 && rep->code < 300) {
            if (!start_mail(c))
                fail_conn(c, VL_R_SMTP_PROTOCOL_ERROR);
        } else {
            quit(c);
        }
        return;
    case S_QUIT:
    case S_IDLE: /* a word while idle: a 421 "timeout", say */
        conn_close(c);
        return;
    case S_CONNECT:
    case S_HANDSHAKE:
    case S_DONE:
        /* a reply nobody asked for (before the banner was due, or in
         * the middle of a TLS handshake) */
        fail_conn(c, VL_R_SMTP_PROTOCOL_ERROR);
        return;
    }
}

/* Plain-text bytes from the server: replies, one at a time. */
static void on_plain(conn *c, const char *buf, size_t len)
{
    size_t used;

    while (len > 0 && c->st != S_DONE) {
        /* a reply to RCPT belongs to that recipient's transcript */
        c->owner = (c->st == S_RCPT && c->replies < c->n_batch)
                       ? c->batch[c->replies]
                       : NULL;
        vl__smtp_feed f = vl__smtp_read(&c->rd, buf, len, &used);
        buf += used;
        len -= used;
        if (f == VL__SMTP_BAD) {
            fail_conn(c, VL_R_SMTP_PROTOCOL_ERROR);
            return;
        }
        if (f == VL__SMTP_MORE)
            return;
        uv_timer_stop(&c->timer);
        on_reply(c, &c->rd.reply);
        if (c->st == S_HANDSHAKE)
            return; /* what follows "220 Ready" is TLS, not text */
    }
}

/* The TLS handshake failed: with "require" that is the answer; else try
 * the same host again without TLS. */
static void tls_failed(conn *c)
{
    if (c->p->tls_mode == VL_SMTP_TLS_REQUIRE) {
        fail_conn(c, VL_R_SMTP_TLS_FAILED);
        return;
    }
    c->d->no_tls = true;
    c->tls_retry = true;
    fail_conn(c, VL_R_SMTP_TLS_FAILED);
}

static void on_cipher(conn *c, const char *buf, size_t len)
{
    char plain[16384];
    long n;

    if (!vl__tls_put_cipher(c->tls, buf, len)) {
        fail_conn(c, VL_R_SMTP_TLS_FAILED);
        return;
    }
    if (c->st == S_HANDSHAKE) {
        int h = vl__tls_handshake(c->tls);
        if (h < 0 || !flush_tls(c)) {
            tls_failed(c);
            return;
        }
        if (h == 0)
            return;
        uv_timer_stop(&c->timer);
        c->tls_on = true;
        vl__smtp_reader_init(&c->rd);
        if (!send_cmd(c, "EHLO %s", c->p->helo)) { /* RFC 3207 §4.2 */
            fail_conn(c, VL_R_SMTP_PROTOCOL_ERROR);
            return;
        }
        expect_reply(c, S_EHLO);
    }
    while (c->st != S_DONE &&
           (n = vl__tls_read(c->tls, plain, sizeof plain)) > 0)
        on_plain(c, plain, (size_t)n);
    if (n < 0 && c->st != S_DONE)
        fail_conn(c, VL_R_SMTP_PROTOCOL_ERROR);
}

static void on_alloc(uv_handle_t *h, size_t hint, uv_buf_t *buf)
{
    (void)hint;
    (void)h;
    buf->base = malloc(16384);
    buf->len = buf->base ? 16384 : 0;
}

static void on_read(uv_stream_t *s, ssize_t n, const uv_buf_t *buf)
{
    conn *c = s->data;

    if (n < 0 && c->st != S_DONE) {
        /* a hang-up before the banner is a host that does not serve;
         * after it, a server that broke off the dialogue */
        fail_conn(c, c->spoke ? VL_R_SMTP_PROTOCOL_ERROR
                              : VL_R_SMTP_CONNECT_FAILED);
    } else if (n > 0 && c->st != S_DONE) {
        if (c->tls != NULL)
            on_cipher(c, buf->base, (size_t)n);
        else
            on_plain(c, buf->base, (size_t)n);
    }
    free(buf->base);
}

static void on_connect(uv_connect_t *req, int status)
{
    conn *c = req->data;

    if (c->st == S_DONE)
        return;
    if (status < 0 ||
        uv_read_start((uv_stream_t *)&c->tcp, on_alloc, on_read) != 0) {
        fail_conn(c, VL_R_SMTP_CONNECT_FAILED);
        return;
    }
    expect_reply(c, S_BANNER);
}

static void sockaddr_of(const vl__dns_addr *a, unsigned port,
                        struct sockaddr_storage *ss)
{
    memset(ss, 0, sizeof *ss);
    if (a->family == 4) {
        struct sockaddr_in *s4 = (struct sockaddr_in *)ss;
        s4->sin_family = AF_INET;
        s4->sin_port = htons((uint16_t)port);
        memcpy(&s4->sin_addr, a->bytes, 4);
    } else {
        struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)ss;
        s6->sin6_family = AF_INET6;
        s6->sin6_port = htons((uint16_t)port);
        memcpy(&s6->sin6_addr, a->bytes, 16);
    }
}

bool vl__smtp_conn_open(vl__prober *p, sdomain *d, shost *h)
{
    conn *c = calloc(1, sizeof *c);
    struct sockaddr_storage ss;

    if (c == NULL)
        return false;
    c->p = p;
    c->d = d;
    c->h = h;
    c->cand = d->cur;
    c->t0 = vl__smtp_now_ms(p);
    c->rd.on_line = on_server_line;
    c->rd.arg = c;
    vl__smtp_reader_init(&c->rd);
    uv_tcp_init(p->loop, &c->tcp);
    uv_timer_init(p->loop, &c->timer);
    c->tcp.data = c->timer.data = c->creq.data = c;
    c->open_handles = 2;
    c->next = p->conns;
    if (p->conns)
        p->conns->prev = c;
    p->conns = c;
    d->conns++;
    h->active++;
    h->next_ok_ms = vl__smtp_now_ms(p) + (p->rate ? 1000 / p->rate : 0);
    p->stats.connections++;
    c->st = S_CONNECT;
    uv_timer_start(&c->timer, on_timeout, p->connect_ms, 0);
    sockaddr_of(&d->cands[c->cand].addr, p->port, &ss);
    if ((p->has_source &&
         uv_tcp_bind(&c->tcp, (struct sockaddr *)&p->source, 0) != 0) ||
        uv_tcp_connect(&c->creq, &c->tcp, (struct sockaddr *)&ss,
                       on_connect) != 0)
        fail_conn(c, VL_R_SMTP_CONNECT_FAILED);
    return true;
}

void vl__smtp_conn_abort(conn *c)
{
    fail_batch(c, VL_R_SMTP_UNAVAILABLE);
    conn_close(c);
}
