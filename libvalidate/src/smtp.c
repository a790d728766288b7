/*
 * smtp.c - the SMTP RCPT probe (DESIGN.md stage 6) on the context's
 * libuv loop.
 *
 * Addresses wait in a queue per domain.  A domain opens connections to
 * its MX hosts in preference order (the next address on a connection
 * failure), at most 'per_host' at once to any one MX address and at most
 * 'rate' new ones per second, and each connection asks about up to
 * 'rcpt_per_conn' recipients: banner, EHLO (HELO), STARTTLS when offered,
 * MAIL FROM, then RCPTs in batches (pipelined when the server offers
 * PIPELINING), RSET between batches, QUIT.  Never DATA.
 *
 * The first batch of a domain starts with a recipient that cannot exist:
 * a server that accepts it accepts everything, so its "250" for a real
 * recipient proves nothing (catch_all, risky).  That finding is kept per
 * domain, as is the random name, so that a greylisting server that
 * wants the same triplet again sees the same one.
 *
 * What a reply means is decided in vl__smtp_classify().  Only a 5xx at RCPT
 * that names the mailbox (5.1.x, 5.2.1, or a plain 550/551/553 that does
 * not speak of policy) makes an address undeliverable; everything that
 * went wrong on the way (timeouts, refused connections, 4xx, garbage,
 * hang-ups, TLS) is "unknown": a temporary failure never makes an
 * address undeliverable.
 *
 * Safety: only addresses that passed the syntax stage are sent, and
 * send_cmd() refuses any line with a control character, so nothing can
 * inject a command; replies are read in bounded memory (smtp_reply.c);
 * private, link-local and multicast addresses are never connected to,
 * loopback only with VL_OPT_SMTP_ALLOW_LOOPBACK.
 */
#include "smtp.h"

#include <uv.h>

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <unistd.h>

enum {
    MAX_CANDS = 32,  /* MX addresses a domain tries, in order */
    BATCH_MAX = 50,  /* RCPTs sent before their replies are read */
    DEAD_NEEDED = 3, /* distinct silent hosts that mean "port blocked" */
    DEFAULT_RETRY_S = 300,
    /* How long a connection with room left waits for more recipients of
     * its domain before QUIT: a batch front end hands addresses over in
     * waves, and a new connection costs a handshake (and TLS). */
    IDLE_MS = 300,
    MAX_DOMAINS = 100000 /* idle domain entries kept (catch-all cache) */
};

/* ---- the objects ---------------------------------------------------- */

typedef struct sdomain sdomain;

/* An address waiting for its answer. */
typedef struct rcpt {
    struct rcpt *next;
    sdomain *d;
    vl__smtp_cb cb;
    void *arg;
    bool utf8;
    bool retried;       /* greylisted once already */
    uv_timer_t timer;   /* the greylisting wait */
    struct rcpt *wnext; /* prober's list of those waiting */
    struct rcpt *wprev;
    char addr[];
} rcpt;

typedef struct cand {
    const char *host; /* in the domain's info */
    vl__dns_addr addr;
} cand;

/* Hash-table node shared by domains and hosts: the name is the key. */
typedef struct named {
    struct named *hnext;
    char name[VL__SMTP_HOST_CAP];
} named;

typedef struct shost {
    named n; /* the address as text */
    vl__prober *p;
    unsigned active;
    uint64_t next_ok_ms; /* the rate limit's next free moment */
    sdomain *wait_head, *wait_tail;
    uv_timer_t timer;
    bool timer_init;
} shost;

struct sdomain {
    named n;
    vl__prober *p;
    vl__domain_info *info; /* a reference */
    cand cands[MAX_CANDS];
    unsigned n_cands, cur;     /* cur: the candidate to use next */
    vl_reason fail;            /* why the candidates so far failed */
    vl__smtp_outcome fail_out; /* and the reply and dialogue behind it */
    int fail_level;            /* how far the best of them got */
    rcpt *head, *tail;         /* queued */
    unsigned queued, conns;    /* open connections */
    int catch_all;             /* -2 not asked, -1 no answer, 0, 1 */
    bool probing;              /* the catch-all RCPT is in flight */
    bool no_tls;               /* opportunistic TLS failed here */
    bool blocked;              /* sender refused at MAIL: stop */
    vl_reason block_reason;
    vl__smtp_outcome block; /* the reply that stopped it */
    char random_local[24];
    struct conn *idle; /* a connection waiting for more, or NULL */
    sdomain *wnext;    /* in a host's wait list */
    bool waiting;
    uint64_t used_ms; /* last activity, for eviction */
};

typedef enum cstate {
    S_CONNECT,
    S_BANNER,
    S_EHLO,
    S_HELO,
    S_STARTTLS,
    S_HANDSHAKE,
    S_MAIL,
    S_RCPT,
    S_RSET,
    S_IDLE, /* a batch is done, the queue empty: waiting for more */
    S_QUIT,
    S_DONE
} cstate;

typedef struct conn {
    struct conn *next, *prev;
    vl__prober *p;
    sdomain *d;
    shost *h;
    unsigned cand;
    uv_tcp_t tcp;
    uv_timer_t timer;
    uv_connect_t creq;
    int open_handles;
    cstate st;
    vl__smtp_reader rd;
    vl__tls *tls;
    bool tls_on;
    unsigned caps;
    bool spoke;     /* the server sent a reply */
    bool reached;   /* MAIL FROM was accepted */
    bool tls_retry; /* give the queue back: try again in plain text */
    rcpt *batch[BATCH_MAX];
    unsigned n_batch, next_send, replies;
    bool probe_in_batch;
    unsigned sent; /* RCPTs on this connection */
    bool last_batch;
    uint64_t t0;
    vl__smtp_line *lines; /* transcript, with the rcpt each concerns */
    rcpt **owners;
    size_t n_lines;
    rcpt *owner; /* whose RCPT the next lines are */
} conn;

typedef struct table {
    named **b;
    size_t mask, n;
} table;

struct vl__prober {
    uv_loop_t *loop;
    unsigned flags, port, tls_mode;
    unsigned connect_ms, timeout_ms, per_conn, per_host, rate, grey_ms;
    char from[VL__FIELD_CAP];
    char helo[VL__SMTP_HOST_CAP];
    struct sockaddr_storage source;
    bool has_source;
    const vl__strset *unverifiable;
    vl__tls_ctx *tls;
    table domains, hosts;
    conn *conns;
    rcpt *waiting; /* greylisted, waiting to try again */
    vl__prober_stats stats;
    unsigned banners; /* connections that got a reply */
    char dead[DEAD_NEEDED][VL__SMTP_HOST_CAP]; /* domains of silent hosts */
    char dead_ip[DEAD_NEEDED][VL__SMTP_IP_CAP];
    unsigned n_dead;
    bool closing;
    uint64_t seed;
};

static void pump(vl__prober *p, sdomain *d);
static void conn_close(conn *c);

/* ---- small helpers ---------------------------------------------------- */

static uint64_t fnv(const char *s)
{
    uint64_t h = 1469598103934665603ull;

    while (*s)
        h = (h ^ (unsigned char)*s++) * 1099511628211ull;
    return h;
}

static named *table_find(const table *t, const char *name)
{
    if (t->b == NULL)
        return NULL;
    for (named *e = t->b[fnv(name) & t->mask]; e != NULL; e = e->hnext)
        if (strcmp(e->name, name) == 0)
            return e;
    return NULL;
}

static bool table_add(table *t, named *e)
{
    if (t->n >= t->mask) { /* keep the load under one */
        size_t cap = t->b ? (t->mask + 1) * 2 : 64;
        named **nb = calloc(cap, sizeof *nb);
        if (nb == NULL)
            return false;
        for (size_t i = 0; t->b && i <= t->mask; i++)
            for (named *x = t->b[i], *nx; x != NULL; x = nx) {
                nx = x->hnext;
                x->hnext = nb[fnv(x->name) & (cap - 1)];
                nb[fnv(x->name) & (cap - 1)] = x;
            }
        free(t->b);
        t->b = nb;
        t->mask = cap - 1;
    }
    size_t i = fnv(e->name) & t->mask;
    e->hnext = t->b[i];
    t->b[i] = e;
    t->n++;
    return true;
}

static uint64_t now_ms(const vl__prober *p)
{
    return uv_now(p->loop);
}

static uint64_t next_random(vl__prober *p)
{
    /* splitmix64: the catch-all names need to be unguessable enough
     * not to exist, not secret. */
    uint64_t z = (p->seed += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

static void addr_text(const vl__dns_addr *a, char *out)
{
    uv_inet_ntop(a->family == 4 ? AF_INET : AF_INET6, a->bytes, out,
                 VL__SMTP_IP_CAP);
}

/* ---- outcomes ----------------------------------------------------------- */

static void outcome_init(vl__smtp_outcome *o, vl_reason r)
{
    memset(o, 0, sizeof *o);
    o->ran = true;
    o->reason = r;
    o->catch_all = -1;
}

static void outcome_reply(vl__smtp_outcome *o, const vl__smtp_reply *rep)
{
    o->code = rep->code;
    memcpy(o->enhanced, rep->enhanced, sizeof o->enhanced);
    memcpy(o->text, rep->text, sizeof o->text);
}

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
    addr_text(&k->addr, o->ip);
    o->port = c->p->port;
    o->tls = c->tls_on;
    o->smtputf8 = (c->caps & VL__EHLO_SMTPUTF8) != 0;
}

static void rcpt_free(rcpt *r)
{
    free(r);
}

static void on_rcpt_timer_closed(uv_handle_t *h)
{
    rcpt_free(h->data);
}

/* Answer 'r' and free it.  'o' is moved into the callee. */
static void answer(rcpt *r, vl__smtp_outcome *o)
{
    sdomain *d = r->d;

    o->catch_all = d->catch_all < 0 ? -1 : d->catch_all;
    r->cb(r->arg, o);
    if (r->retried && r->timer.data == r) /* its timer was initialised */
        uv_close((uv_handle_t *)&r->timer, on_rcpt_timer_closed);
    else
        rcpt_free(r);
}

static void answer_reason(rcpt *r, vl_reason why, const conn *c)
{
    vl__smtp_outcome o;

    outcome_init(&o, why);
    if (c != NULL) {
        outcome_conn(&o, c);
        outcome_transcript(&o, c, r);
    }
    answer(r, &o);
}

static rcpt *dequeue(sdomain *d)
{
    rcpt *r = d->head;

    if (r != NULL) {
        d->head = r->next;
        if (d->head == NULL)
            d->tail = NULL;
        d->queued--;
        r->next = NULL;
    }
    return r;
}

static void enqueue(sdomain *d, rcpt *r, bool front)
{
    r->next = NULL;
    if (front) {
        r->next = d->head;
        d->head = r;
        if (d->tail == NULL)
            d->tail = r;
    } else {
        if (d->tail)
            d->tail->next = r;
        else
            d->head = r;
        d->tail = r;
    }
    d->queued++;
}

/* Every queued address of 'd' gets the same answer. */
/* A copy of 'src' whose transcript is its own. */
static void outcome_copy(vl__smtp_outcome *dst, const vl__smtp_outcome *src)
{
    *dst = *src;
    dst->lines = NULL;
    dst->n_lines = 0;
    if (src->n_lines == 0 ||
        (dst->lines = calloc(src->n_lines, sizeof *dst->lines)) == NULL)
        return;
    for (size_t i = 0; i < src->n_lines; i++) {
        dst->lines[dst->n_lines] = src->lines[i];
        dst->lines[dst->n_lines].text = strdup(src->lines[i].text);
        if (dst->lines[dst->n_lines].text != NULL)
            dst->n_lines++;
    }
}

static void answer_queue(sdomain *d, const vl__smtp_outcome *tmpl)
{
    rcpt *r;

    while ((r = dequeue(d)) != NULL) {
        vl__smtp_outcome o;
        outcome_copy(&o, tmpl);
        answer(r, &o);
    }
}

static void answer_queue_reason(sdomain *d, vl_reason why)
{
    vl__smtp_outcome o;

    outcome_init(&o, why);
    answer_queue(d, &o);
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
static unsigned retry_hint(const char *t)
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
    c->lines[c->n_lines] = (vl__smtp_line){
        .ms = (uint32_t)(now_ms(c->p) - c->t0), .dir = dir, .text = t};
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

    if (p->banners > 0 || p->n_dead >= DEAD_NEEDED)
        return;
    addr_text(&c->d->cands[c->cand].addr, ip);
    for (unsigned i = 0; i < p->n_dead; i++)
        if (strcmp(p->dead[i], c->d->n.name) == 0 ||
            strcmp(p->dead_ip[i], ip) == 0)
            return; /* unrelated hosts only */
    snprintf(p->dead[p->n_dead], sizeof p->dead[0], "%s", c->d->n.name);
    memcpy(p->dead_ip[p->n_dead++], ip, sizeof ip);
    if (p->n_dead == DEAD_NEEDED)
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
        outcome_init(&d->fail_out, why);
        outcome_conn(&d->fail_out, c);
        if (c->spoke && c->rd.reply.code != 0)
            outcome_reply(&d->fail_out, &c->rd.reply);
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
        answer_reason(r, why, c);
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

static void wake_host(vl__prober *p, shost *h)
{
    while (h->wait_head != NULL && h->active < p->per_host) {
        sdomain *d = h->wait_head;
        h->wait_head = d->wnext;
        if (h->wait_head == NULL)
            h->wait_tail = NULL;
        d->waiting = false;
        d->wnext = NULL;
        pump(p, d);
        if (d->waiting) /* still blocked (rate): keep the order */
            break;
    }
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
    d->used_ms = now_ms(p);
    c->h->active--;
    if (p->closing)
        return;
    pump(p, d);
    wake_host(p, c->h);
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

static void greylist_wait(conn *c, rcpt *r, unsigned hint_s);

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
    while (c->n_batch < BATCH_MAX && room > 0 && d->head != NULL) {
        rcpt *r = dequeue(d);
        if (r->utf8 && !(c->caps & VL__EHLO_SMTPUTF8)) {
            answer_reason(r, VL_R_SMTPUTF8_UNSUPPORTED, c);
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
        ok = send_cmd(c, "RCPT TO:<%s@%s>", c->d->random_local, c->d->n.name);
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
        uv_timer_start(&c->timer, on_idle_over, IDLE_MS, 0);
    } else {
        quit(c);
    }
}

/* More recipients for a domain with an idle connection: use it. */
static void resume_idle(sdomain *d)
{
    conn *c = d->idle;

    d->idle = NULL;
    uv_timer_stop(&c->timer);
    next_batch(c);
}

/* Someone waits for a slot of 'h': idle connections there give theirs
 * up. */
static void release_idle(vl__prober *p, shost *h)
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
        d->catch_all = -1; /* greylisted too: ask again next time */
    pump(c->p, d);         /* more connections may open now */
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
        enqueue(c->d, r, true);
        c->last_batch = true;
        return;
    }
    if (why == VL_R_SMTP_GREYLISTED && c->p->grey_ms > 0 && !r->retried) {
        greylist_wait(c, r, retry_hint(rep->text));
        return;
    }
    outcome_init(&o, why);
    if (why == VL_R__COUNT && c->d->catch_all == 1)
        o.reason = VL_R_CATCH_ALL;
    outcome_reply(&o, rep);
    outcome_conn(&o, c);
    if (why == VL_R_SMTP_GREYLISTED) {
        unsigned hint = retry_hint(rep->text);
        o.retry_after_s = hint ? hint : DEFAULT_RETRY_S;
    }
    outcome_transcript(&o, c, r);
    answer(r, &o);
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
    outcome_init(&o, why);
    outcome_reply(&o, rep);
    outcome_conn(&o, c);
    for (unsigned i = 0; i < c->n_batch; i++) {
        if (c->batch[i] == NULL)
            continue;
        vl__smtp_outcome one = o;
        outcome_transcript(&one, c, c->batch[i]);
        answer(c->batch[i], &one);
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

static bool open_conn(vl__prober *p, sdomain *d, shost *h)
{
    conn *c = calloc(1, sizeof *c);
    struct sockaddr_storage ss;

    if (c == NULL)
        return false;
    c->p = p;
    c->d = d;
    c->h = h;
    c->cand = d->cur;
    c->t0 = now_ms(p);
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
    h->next_ok_ms = now_ms(p) + (p->rate ? 1000 / p->rate : 0);
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

/* ---- the queue of a domain -------------------------------------------- */

static shost *host_of(vl__prober *p, const vl__dns_addr *a)
{
    char ip[VL__SMTP_IP_CAP];
    shost *h;

    addr_text(a, ip);
    if ((h = (shost *)table_find(&p->hosts, ip)) != NULL)
        return h;
    if ((h = calloc(1, sizeof *h)) == NULL)
        return NULL;
    memcpy(h->n.name, ip, sizeof ip);
    h->p = p;
    if (!table_add(&p->hosts, &h->n)) {
        free(h);
        return NULL;
    }
    return h;
}

static void on_host_timer(uv_timer_t *t)
{
    shost *h = t->data;

    wake_host(h->p, h);
}

static void wait_for_host(vl__prober *p, sdomain *d, shost *h, bool rate)
{
    if (!rate)
        release_idle(p, h);
    if (!d->waiting) {
        d->waiting = true;
        d->wnext = NULL;
        if (h->wait_tail)
            h->wait_tail->wnext = d;
        else
            h->wait_head = d;
        h->wait_tail = d;
    }
    if (!rate)
        return;
    if (!h->timer_init) {
        uv_timer_init(p->loop, &h->timer);
        h->timer.data = h;
        h->timer_init = true;
    }
    uint64_t now = now_ms(p);
    uv_timer_start(&h->timer, on_host_timer,
                   h->next_ok_ms > now ? h->next_ok_ms - now : 0, 0);
}

/* How many connections the queue deserves: one until the catch-all
 * question is answered (the others would ask it again), then one per
 * 'per_conn' addresses, up to the host limit. */
static unsigned wanted(const vl__prober *p, const sdomain *d)
{
    unsigned n = (d->queued + p->per_conn - 1) / p->per_conn;

    if (d->catch_all == -2 || d->probing)
        n = 1;
    return n < p->per_host ? n : p->per_host;
}

static void pump(vl__prober *p, sdomain *d)
{
    d->used_ms = now_ms(p);
    if (d->queued == 0 || d->waiting || p->closing)
        return;
    if (d->blocked) {
        answer_queue(d, &d->block);
        return;
    }
    if (p->stats.port_blocked) {
        answer_queue_reason(d, VL_R_SMTP_PORT_BLOCKED);
        return;
    }
    if (d->idle != NULL)
        resume_idle(d);
    if (d->cur >= d->n_cands) {
        if (d->conns > 0)
            return; /* those still open will take the queue */
        if (d->fail == VL_R__COUNT) /* every MX address failed */
            answer_queue_reason(d, VL_R_SMTP_CONNECT_FAILED);
        else
            answer_queue(d, &d->fail_out);
        return;
    }
    while (d->conns < wanted(p, d)) {
        shost *h = host_of(p, &d->cands[d->cur].addr);
        if (h == NULL) {
            answer_queue_reason(d, VL_R_SMTP_CONNECT_FAILED);
            return;
        }
        if (h->active >= p->per_host) {
            wait_for_host(p, d, h, false);
            return;
        }
        if (p->rate && now_ms(p) < h->next_ok_ms) {
            wait_for_host(p, d, h, true);
            return;
        }
        if (!open_conn(p, d, h)) {
            answer_queue_reason(d, VL_R_SMTP_CONNECT_FAILED);
            return;
        }
        if (d->queued == 0) /* a synchronous failure answered them */
            return;
    }
}

static void on_grey_timer(uv_timer_t *t)
{
    rcpt *r = t->data;
    vl__prober *p = r->d->p;

    if (r->wprev)
        r->wprev->wnext = r->wnext;
    else
        p->waiting = r->wnext;
    if (r->wnext)
        r->wnext->wprev = r->wprev;
    r->wnext = r->wprev = NULL;
    enqueue(r->d, r, true);
    pump(p, r->d);
}

/* Greylisted: wait (what the server asked, within the bound), then ask
 * once more on a new connection, from the same address and sender so
 * that the greylister sees the same triplet. */
static void greylist_wait(conn *c, rcpt *r, unsigned hint_s)
{
    vl__prober *p = c->p;
    uint64_t ms = hint_s ? (uint64_t)hint_s * 1000 + 500 : p->grey_ms;

    if (ms > p->grey_ms)
        ms = p->grey_ms;
    r->retried = true;
    uv_timer_init(p->loop, &r->timer);
    r->timer.data = r;
    r->wprev = NULL;
    r->wnext = p->waiting;
    if (p->waiting)
        p->waiting->wprev = r;
    p->waiting = r;
    uv_timer_start(&r->timer, on_grey_timer, ms, 0);
}

/* ---- domains ---------------------------------------------------------- */

static bool allowed(const vl__prober *p, const vl__dns_addr *a)
{
    if (!vl__dns_addr_private(a))
        return true;
    return (p->flags & VL_OPT_SMTP_ALLOW_LOOPBACK) && vl__dns_addr_loopback(a);
}

/* Every MX address to try, in preference order: IPv4 first within a
 * host (many hosts that publish AAAA cannot reach IPv6). */
static void build_cands(const vl__prober *p, sdomain *d)
{
    const vl__domain_info *info = d->info;

    d->n_cands = d->cur = 0;
    for (unsigned i = 0; i < info->n_mx && d->n_cands < MAX_CANDS; i++) {
        const vl__mx_host *h = &info->mx[i];
        for (int want = 4; want <= 6; want += 2)
            for (unsigned k = 0; k < h->n_addr && d->n_cands < MAX_CANDS; k++)
                if (h->addr[k].family == want && allowed(p, &h->addr[k])) {
                    d->cands[d->n_cands].host = h->host;
                    d->cands[d->n_cands++].addr = h->addr[k];
                }
    }
}

static void domain_free(sdomain *d)
{
    vl__smtp_outcome_clear(&d->fail_out);
    vl__domain_info_unref(d->info);
    free(d);
}

/* Forget idle domains when there are too many (a long-running service
 * sees many): those with nothing queued, no connection and no wait. */
static void evict(vl__prober *p)
{
    if (p->domains.n < MAX_DOMAINS)
        return;
    for (size_t i = 0; i <= p->domains.mask; i++)
        for (named **pp = &p->domains.b[i]; *pp != NULL;) {
            sdomain *d = (sdomain *)*pp;
            if (d->queued == 0 && d->conns == 0 && !d->waiting) {
                *pp = d->n.hnext;
                p->domains.n--;
                domain_free(d);
            } else {
                pp = &(*pp)->hnext;
            }
        }
}

static void random_local(vl__prober *p, char *out, size_t cap)
{
    static const char alnum[] = "abcdefghijklmnopqrstuvwxyz0123456789";
    uint64_t v = next_random(p);
    size_t n = 0;

    n += (size_t)snprintf(out, cap, "mv-");
    while (n + 1 < cap && n < 19) {
        out[n++] = alnum[v % 36];
        v /= 36;
        if (v == 0)
            v = next_random(p);
    }
    out[n] = '\0';
}

static sdomain *domain_of(vl__prober *p, const char *name,
                          vl__domain_info *info)
{
    sdomain *d = (sdomain *)table_find(&p->domains, name);

    if (d != NULL) {
        /* a fresh DNS answer for an idle domain: use its hosts */
        if (d->info != info && d->conns == 0 && d->queued == 0 &&
            !d->waiting) {
            vl__domain_info_ref(info);
            vl__domain_info_unref(d->info);
            d->info = info;
            build_cands(p, d);
            d->fail = VL_R__COUNT;
            d->fail_level = 0;
            vl__smtp_outcome_clear(&d->fail_out);
            d->blocked = false;
        }
        return d;
    }
    evict(p);
    if ((d = calloc(1, sizeof *d)) == NULL)
        return NULL;
    snprintf(d->n.name, sizeof d->n.name, "%s", name);
    d->p = p;
    vl__domain_info_ref(info);
    d->info = info;
    d->catch_all = -2;
    d->fail = VL_R__COUNT;
    random_local(p, d->random_local, sizeof d->random_local);
    build_cands(p, d);
    if (!table_add(&p->domains, &d->n)) {
        domain_free(d);
        return NULL;
    }
    return d;
}

/* The domain or one of its MX hosts (or a parent of either) is in the
 * table of providers whose answers mean nothing. */
static bool unverifiable(const vl__prober *p, const char *domain,
                         const vl__domain_info *info)
{
    const vl__strset *t = p->unverifiable;

    if (t == NULL)
        return false;
    if (vl__strset_has_domain(t, domain, strlen(domain)))
        return true;
    for (unsigned i = 0; i < info->n_mx; i++)
        if (vl__strset_has_domain(t, info->mx[i].host,
                                  strlen(info->mx[i].host)))
            return true;
    return false;
}

void vl__prober_probe(vl__prober *p, const char *domain, vl__domain_info *info,
                      const char *addr, bool utf8, vl__smtp_cb cb, void *arg)
{
    size_t len = strlen(addr);
    vl__smtp_outcome o;
    rcpt *r;
    sdomain *d;

    if (unverifiable(p, domain, info)) {
        outcome_init(&o, VL_R_SMTP_UNVERIFIABLE_PROVIDER);
        cb(arg, &o);
        return;
    }
    if (p->closing || (r = calloc(1, sizeof *r + len + 1)) == NULL ||
        (d = domain_of(p, domain, info)) == NULL) {
        if (!p->closing)
            free(r);
        outcome_init(&o, VL_R_SMTP_UNAVAILABLE);
        cb(arg, &o);
        return;
    }
    if (d->n_cands == 0) { /* no address we may connect to */
        free(r);
        memset(&o, 0, sizeof o);
        o.reason = VL_R__COUNT;
        o.catch_all = -1;
        cb(arg, &o); /* ran = false: the stage did not run */
        return;
    }
    memcpy(r->addr, addr, len + 1);
    r->d = d;
    r->cb = cb;
    r->arg = arg;
    r->utf8 = utf8;
    enqueue(d, r, false);
    pump(p, d);
}

void vl__prober_get_stats(const vl__prober *p, vl__prober_stats *out)
{
    *out = p->stats;
}

/* ---- making and freeing ------------------------------------------------ */

static vl_status set_error(char *err, size_t cap, vl_status st,
                           const char *fmt, const char *what)
{
    if (err != NULL && cap > 0)
        snprintf(err, cap, fmt, what);
    return st;
}

/* A MAIL FROM address or EHLO name: printable ASCII or UTF-8, no space,
 * no angle bracket (it goes between them). */
static bool plain_text(const char *s, size_t cap)
{
    size_t n = strlen(s);

    if (n >= cap)
        return false;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c <= ' ' || c == 0x7F || c == '<' || c == '>')
            return false;
    }
    return true;
}

static vl_status read_source(vl__prober *p, const char *src, char *err,
                             size_t cap)
{
    if (src == NULL || src[0] == '\0')
        return VL_OK;
    if (uv_ip4_addr(src, 0, (struct sockaddr_in *)&p->source) != 0 &&
        uv_ip6_addr(src, 0, (struct sockaddr_in6 *)&p->source) != 0)
        return set_error(err, cap, VL_EINVAL,
                         "SMTP source address: not an IP address: '%s'", src);
    p->has_source = true;
    return VL_OK;
}

static vl_status read_names(vl__prober *p, const vl_options *opt, char *err,
                            size_t cap)
{
    const char *from = opt->smtp_from ? opt->smtp_from : "";

    if (!plain_text(from, sizeof p->from) ||
        (from[0] != '\0' && strchr(from, '@') == NULL))
        return set_error(err, cap, VL_EINVAL,
                         "SMTP sender: not a plain address: '%s'", from);
    memcpy(p->from, from, strlen(from) + 1);
    if (opt->smtp_helo != NULL && opt->smtp_helo[0] != '\0') {
        if (!plain_text(opt->smtp_helo, sizeof p->helo))
            return set_error(err, cap, VL_EINVAL,
                             "SMTP EHLO name: not a host name: '%s'",
                             opt->smtp_helo);
        snprintf(p->helo, sizeof p->helo, "%s", opt->smtp_helo);
    } else if (gethostname(p->helo, sizeof p->helo - 1) != 0 ||
               !plain_text(p->helo, sizeof p->helo)) {
        snprintf(p->helo, sizeof p->helo, "localhost");
    }
    return VL_OK;
}

vl_status vl__prober_new(uv_loop_t *loop, const vl_options *opt,
                         const vl__strset *unverifiable, vl__prober **out,
                         char *err, size_t err_cap)
{
    vl__prober *p = calloc(1, sizeof *p);
    vl_status st;

    *out = NULL;
    if (p == NULL)
        return VL_ENOMEM;
    p->loop = loop;
    p->flags = opt->flags;
    p->port = opt->smtp_port ? opt->smtp_port : 25;
    p->tls_mode = opt->smtp_tls;
    p->connect_ms =
        opt->smtp_connect_timeout_ms ? opt->smtp_connect_timeout_ms : 10000;
    p->timeout_ms = opt->smtp_timeout_ms ? opt->smtp_timeout_ms : 30000;
    p->per_conn = opt->smtp_rcpt_per_conn ? opt->smtp_rcpt_per_conn : 50;
    p->per_host = opt->smtp_per_host ? opt->smtp_per_host : 2;
    p->rate = opt->smtp_rate;
    p->grey_ms = opt->smtp_greylist_wait_ms;
    p->unverifiable = unverifiable;
    if (p->port > 65535 || p->tls_mode > VL_SMTP_TLS_REQUIRE) {
        free(p);
        return set_error(err, err_cap, VL_EINVAL, "%s",
                         "SMTP port or TLS mode out of range");
    }
    if (getrandom(&p->seed, sizeof p->seed, 0) != sizeof p->seed)
        p->seed = (uint64_t)uv_hrtime();
    if ((st = read_names(p, opt, err, err_cap)) != VL_OK ||
        (st = read_source(p, opt->smtp_source, err, err_cap)) != VL_OK ||
        (p->tls_mode != VL_SMTP_TLS_NEVER &&
         (st = vl__tls_ctx_new(&p->tls)) != VL_OK)) {
        free(p);
        return st;
    }
    *out = p;
    return VL_OK;
}

static void on_host_closed(uv_handle_t *h)
{
    free(h->data);
}

void vl__prober_free(vl__prober *p)
{
    if (p == NULL)
        return;
    p->closing = true;
    while (p->conns != NULL) {
        conn *c = p->conns;
        fail_batch(c, VL_R_SMTP_UNAVAILABLE);
        conn_close(c);
    }
    while (p->waiting != NULL) {
        rcpt *r = p->waiting;
        p->waiting = r->wnext;
        answer_reason(r, VL_R_SMTP_UNAVAILABLE, NULL);
    }
    for (size_t i = 0; p->domains.b && i <= p->domains.mask; i++)
        for (named *e = p->domains.b[i], *nx; e != NULL; e = nx) {
            nx = e->hnext;
            answer_queue_reason((sdomain *)e, VL_R_SMTP_UNAVAILABLE);
            domain_free((sdomain *)e);
        }
    for (size_t i = 0; p->hosts.b && i <= p->hosts.mask; i++)
        for (named *e = p->hosts.b[i], *nx; e != NULL; e = nx) {
            shost *h = (shost *)e;
            nx = e->hnext;
            if (h->timer_init)
                uv_close((uv_handle_t *)&h->timer, on_host_closed);
            else
                free(h);
        }
    free(p->domains.b);
    free(p->hosts.b);
    vl__tls_ctx_free(p->tls);
    free(p);
}
