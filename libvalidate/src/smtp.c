/*
 * smtp.c - the SMTP RCPT probe (DESIGN.md stage 6) on the context's
 * libuv loop: the queues, the limits and the answers.  The dialogue of
 * one connection is smtp_session.c's; what a reply means,
 * smtp_reply.c's.
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
#include "smtp_prober.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <unistd.h>

/* ---- small helpers ---------------------------------------------------- */

static uint64_t next_random(vl__prober *p)
{
    /* splitmix64: the catch-all names need to be unguessable enough
     * not to exist, not secret. */
    uint64_t z = (p->seed += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

/* ---- outcomes ----------------------------------------------------------- */

void vl__smtp_outcome_init(vl__smtp_outcome *o, vl_reason r)
{
    memset(o, 0, sizeof *o);
    o->ran = true;
    o->reason = r;
    o->catch_all = -1;
}

void vl__smtp_outcome_reply(vl__smtp_outcome *o, const vl__smtp_reply *rep)
{
    o->code = rep->code;
    memcpy(o->enhanced, rep->enhanced, sizeof o->enhanced);
    memcpy(o->text, rep->text, sizeof o->text);
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
void vl__smtp_answer(rcpt *r, vl__smtp_outcome *o)
{
    sdomain *d = r->d;

    o->catch_all = d->catch_all < 0 ? -1 : d->catch_all;
    r->cb(r->arg, o);
    if (r->retried && r->timer.data == r) /* its timer was initialised */
        uv_close((uv_handle_t *)&r->timer, on_rcpt_timer_closed);
    else
        rcpt_free(r);
}

rcpt *vl__smtp_dequeue(sdomain *d)
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

void vl__smtp_enqueue(sdomain *d, rcpt *r, bool front)
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

    while ((r = vl__smtp_dequeue(d)) != NULL) {
        vl__smtp_outcome o;
        outcome_copy(&o, tmpl);
        vl__smtp_answer(r, &o);
    }
}

static void answer_queue_reason(sdomain *d, vl_reason why)
{
    vl__smtp_outcome o;

    vl__smtp_outcome_init(&o, why);
    answer_queue(d, &o);
}

void vl__smtp_wake_host(vl__prober *p, shost *h)
{
    while (h->wait_head != NULL && h->active < p->per_host) {
        sdomain *d = h->wait_head;
        h->wait_head = d->wnext;
        if (h->wait_head == NULL)
            h->wait_tail = NULL;
        d->waiting = false;
        d->wnext = NULL;
        vl__smtp_pump(p, d);
        if (d->waiting) /* still blocked (rate): keep the order */
            break;
    }
}

/* ---- the queue of a domain -------------------------------------------- */

static shost *host_of(vl__prober *p, const vl__dns_addr *a)
{
    char ip[VL__SMTP_IP_CAP];
    shost *h;

    vl__smtp_addr_text(a, ip);
    if ((h = vl__ptrmap_get(&p->hosts, ip, strlen(ip))) != NULL)
        return h;
    if ((h = calloc(1, sizeof *h)) == NULL)
        return NULL;
    memcpy(h->name, ip, sizeof ip);
    h->p = p;
    if (vl__ptrmap_put(&p->hosts, h->name, strlen(h->name), h) != VL_OK) {
        free(h);
        return NULL;
    }
    return h;
}

static void on_host_timer(uv_timer_t *t)
{
    shost *h = t->data;

    vl__smtp_wake_host(h->p, h);
}

static void wait_for_host(vl__prober *p, sdomain *d, shost *h, bool rate)
{
    if (!rate)
        vl__smtp_release_idle(p, h);
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
    uint64_t now = vl__smtp_now_ms(p);
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

void vl__smtp_pump(vl__prober *p, sdomain *d)
{
    d->used_ms = vl__smtp_now_ms(p);
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
        vl__smtp_conn_resume(d);
    if (d->cur >= d->n_cands) {
        if (d->conns > 0)
            return;                 /* those still open will take the queue */
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
        if (p->rate && vl__smtp_now_ms(p) < h->next_ok_ms) {
            wait_for_host(p, d, h, true);
            return;
        }
        if (!vl__smtp_conn_open(p, d, h)) {
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
    r->d->retrying--;
    vl__smtp_enqueue(r->d, r, true);
    vl__smtp_pump(p, r->d);
}

/* Greylisted: wait (what the server asked, plus a second for its
 * whole-second clock, within the bound), then ask once more on a new
 * connection, from the same address and sender so that the greylister
 * sees the same triplet. */
void vl__smtp_greylist_wait(conn *c, rcpt *r, unsigned hint_s)
{
    vl__prober *p = c->p;
    uint64_t ms = hint_s ? (uint64_t)hint_s * 1000 + 1000 : p->grey_ms;

    if (ms > p->grey_ms)
        ms = p->grey_ms;
    r->retried = true;
    r->d->retrying++; /* keeps the domain from eviction meanwhile */
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
    for (unsigned i = 0; i < info->n_mx && d->n_cands < VL__SMTP_MAX_CANDS;
         i++) {
        const vl__mx_host *h = &info->mx[i];
        for (int want = 4; want <= 6; want += 2)
            for (unsigned k = 0;
                 k < h->n_addr && d->n_cands < VL__SMTP_MAX_CANDS; k++)
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
    sdomain **idle;
    size_t n = 0;

    if (p->domains.count < VL__SMTP_MAX_DOMAINS ||
        (idle = malloc(p->domains.count * sizeof *idle)) == NULL)
        return;
    /* collect first: a deletion moves the entries after it */
    for (size_t i = 0; i <= p->domains.mask; i++) {
        sdomain *d = (sdomain *)(uintptr_t)p->domains.slots[i].val;
        if (p->domains.slots[i].key != NULL && d->queued == 0 &&
            d->conns == 0 && !d->waiting && d->retrying == 0)
            idle[n++] = d;
    }
    for (size_t i = 0; i < n; i++) {
        vl__strset_del(&p->domains, idle[i]->name, strlen(idle[i]->name));
        domain_free(idle[i]);
    }
    free(idle);
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
    sdomain *d = vl__ptrmap_get(&p->domains, name, strlen(name));

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
    snprintf(d->name, sizeof d->name, "%s", name);
    d->p = p;
    vl__domain_info_ref(info);
    d->info = info;
    d->catch_all = -2;
    d->fail = VL_R__COUNT;
    random_local(p, d->random_local, sizeof d->random_local);
    build_cands(p, d);
    if (vl__ptrmap_put(&p->domains, d->name, strlen(d->name), d) != VL_OK) {
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
        vl__smtp_outcome_init(&o, VL_R_SMTP_UNVERIFIABLE_PROVIDER);
        cb(arg, &o);
        return;
    }
    if (p->closing || (r = calloc(1, sizeof *r + len + 1)) == NULL ||
        (d = domain_of(p, domain, info)) == NULL) {
        if (!p->closing)
            free(r);
        vl__smtp_outcome_init(&o, VL_R_SMTP_UNAVAILABLE);
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
    vl__smtp_enqueue(d, r, false);
    vl__smtp_pump(p, d);
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
        (st = vl__strset_init(&p->domains, 64, true)) != VL_OK ||
        (st = vl__strset_init(&p->hosts, 64, true)) != VL_OK ||
        (p->tls_mode != VL_SMTP_TLS_NEVER &&
         (st = vl__tls_ctx_new(&p->tls)) != VL_OK)) {
        vl__strset_free(&p->domains);
        vl__strset_free(&p->hosts);
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
        vl__smtp_conn_abort(c);
    }
    while (p->waiting != NULL) {
        rcpt *r = p->waiting;
        p->waiting = r->wnext;
        vl__smtp_answer_reason(r, VL_R_SMTP_UNAVAILABLE, NULL);
    }
    for (size_t i = 0; i <= p->domains.mask; i++) {
        sdomain *d = (sdomain *)(uintptr_t)p->domains.slots[i].val;
        if (p->domains.slots[i].key == NULL)
            continue;
        answer_queue_reason(d, VL_R_SMTP_UNAVAILABLE);
        domain_free(d);
    }
    for (size_t i = 0; i <= p->hosts.mask; i++) {
        shost *h = (shost *)(uintptr_t)p->hosts.slots[i].val;
        if (p->hosts.slots[i].key == NULL)
            continue;
        if (h->timer_init)
            uv_close((uv_handle_t *)&h->timer, on_host_closed);
        else
            free(h);
    }
    vl__strset_free(&p->domains);
    vl__strset_free(&p->hosts);
    vl__tls_ctx_free(p->tls);
    free(p);
}
