/*
 * resolver.c - MX and address lookups with c-ares on a libuv loop.
 *
 * c-ares sends and retries; its sockets are watched with uv_poll and its
 * timeouts driven by one uv_timer, so one loop thread serves every
 * query and nothing blocks.  The timer is set again once per loop
 * iteration, just before the loop waits (a uv_prepare), not after every
 * answer: c-ares 1.18's ares_timeout() walks every query in flight.
 * The same uv_prepare sends the queries c-ares wrote in that iteration,
 * with one system call (dgram.c).  Above it sit two caches:
 *
 *  - RRsets ("15 example.com" -> the MX records, or how the query
 *    failed), kept for their TTL clamped to [ttl_min, ttl_max];
 *    NXDOMAIN and NODATA for the SOA's negative TTL (RFC 2308 §5);
 *    failures for fail_ttl (RFC 2308 §7.1 allows up to five minutes).
 *  - domains (example.com -> everything the DNS stage decided), kept
 *    until the first RRset they were built from expires.
 *
 * A lookup already in flight gains waiters instead of a second query,
 * so a domain costs one MX query however many addresses share it.  A
 * queue holds queries beyond the window.  Both caches are bounded
 * (least recently used entries go first).
 *
 * The window: how many queries may be in flight, max_inflight at most.
 * A resolver's UDP socket holds only so many queries (Linux gives it
 * 208 KiB by default): a batch opening with max_inflight queries at
 * once overflowed it whenever the resolver was busy, and each query
 * dropped there cost its whole first timeout (2 s) before c-ares asked
 * again.  As TCP's congestion window (RFC 5681), the window starts
 * small (WINDOW_START) and grows by one an answer up to 'ssthresh' (at
 * first half of max_inflight), then by one a window's worth of
 * answers; an answer that needed a retry (most likely a lost datagram)
 * halves it and sets 'ssthresh' there.  Unlike TCP, a loss is seen only
 * after the whole first timeout, with every query behind it waiting as
 * long, so the window never again grows past 3/4 of where the loss
 * happened: the buffer it overflowed keeps its size.
 */
#include "resolver.h"

#include "dgram.h"
#include "strset.h"

#include <ares.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum { T_A = 1, T_MX = 15, T_TXT = 16, T_AAAA = 28 };
enum { WINDOW_START = 32, WINDOW_MIN = 16 };

struct rrset;

/* Both caches keep their entries on a list, most recently used first.
 * The link is each entry's first member, so a link is its entry. */
typedef struct lru_link {
    struct lru_link *prev, *next;
} lru_link;

typedef struct lru_list {
    lru_link *head, *tail;
} lru_list;

typedef struct waiter {
    void (*cb)(void *arg, const struct rrset *set);
    void *arg;
    struct waiter *next;
} waiter;

/* One cached answer: what the domain lookups need of it, no more. */
typedef struct rrset {
    lru_link link; /* first: see lru_link */
    char *key;     /* "<type> <name>", owned; the name follows the space */
    uint16_t type;
    bool done, busy;
    vl__dns_outcome outcome;
    uint32_t ttl;     /* as published, before clamping */
    uint64_t expires; /* loop time, ms */
    bool spf_rejects_all, null_mx;
    unsigned n_mx;
    struct mxrec {
        uint16_t pref;
        char *host;
    } * mx;
    unsigned n_addr;
    vl__dns_addr *addr;
    waiter *waiters;
} rrset;

typedef struct dentry {
    lru_link link;         /* first: see lru_link */
    char *domain;          /* owned */
    vl__domain_info *info; /* NULL while resolving */
    uint64_t expires;
    struct dwaiter {
        vl__domain_cb cb;
        void *arg;
        struct dwaiter *next;
    } * waiters;
} dentry;

/* A domain being resolved: the MX answer, then the hosts' addresses. */
typedef struct dlookup {
    vl__resolver *r;
    dentry *entry;
    vl__domain_info *info;
    unsigned pending;
    uint64_t expires;
    vl__dns_outcome mx_outcome;
    bool null_mx, spf_rejects_all;
} dlookup;

typedef struct query {
    vl__resolver *r;
    rrset *set;
    uint64_t seq; /* the how-manieth query sent */
    struct query *next;
} query;

typedef struct watch {
    uv_poll_t poll;
    ares_socket_t fd;
    vl__resolver *r;
    struct watch *next;
} watch;

struct vl__resolver {
    uv_loop_t *loop;
    ares_channel channel;
    vl__dgram *dgram; /* c-ares' UDP calls, batched */
    uv_timer_t timer;
    uv_prepare_t prepare; /* runs before_wait() */
    bool rearm_due;
    int open_handles; /* 'timer' and 'prepare': freed when both closed */
    watch *watches;
    vl__resolver_config cfg;
    vl__strset rrsets, domains;
    lru_list rlru, dlru;            /* RRsets and domains, most recent first */
    query *queue_head, *queue_tail; /* waiting for a slot */
    unsigned inflight;
    unsigned window, ssthresh, acked, ceiling; /* the window (see above) */
    uint64_t sent, recover; /* queries sent; the first after the last cut */
    bool closing;
    vl__resolver_stats stats;
    vl__dns_msg scratch; /* one reply parsed at a time (9 KB) */
};

/* ---- c-ares on libuv ------------------------------------------------ */

static void on_timer(uv_timer_t *t);

/* c-ares' timeouts may have moved: set the timer before the loop next
 * waits. */
static void rearm(vl__resolver *r)
{
    r->rearm_due = true;
}

/* Once per loop iteration, before the loop waits: send what c-ares
 * wrote, and set the timer when due. */
static void before_wait(uv_prepare_t *p)
{
    vl__resolver *r = p->data;
    struct timeval tv, *t;

    if (r->closing)
        return;
    vl__dgram_flush(r->dgram);
    if (!r->rearm_due)
        return;
    r->rearm_due = false;
    /* An armed timer is never later than c-ares' next timeout: a query
     * sent after it was set times out later (the same first timeout,
     * longer ones for retries).  Early is harmless: it fires, c-ares
     * finds nothing due, and the timer is set again. */
    if (uv_is_active((uv_handle_t *)&r->timer))
        return;
    t = ares_timeout(r->channel, NULL, &tv);
    if (t == NULL) {
        uv_timer_stop(&r->timer);
        return;
    }
    uint64_t ms = (uint64_t)t->tv_sec * 1000 + (uint64_t)t->tv_usec / 1000;
    uv_timer_start(&r->timer, on_timer, ms, 0);
}

static void on_timer(uv_timer_t *t)
{
    vl__resolver *r = t->data;

    ares_process_fd(r->channel, ARES_SOCKET_BAD, ARES_SOCKET_BAD);
    rearm(r);
}

static void on_poll(uv_poll_t *p, int status, int events)
{
    watch *w = p->data;
    vl__resolver *r = w->r;
    ares_socket_t rd = ARES_SOCKET_BAD, wr = ARES_SOCKET_BAD;

    /* An error on the socket: let c-ares read it and notice. */
    if (status < 0 || (events & UV_READABLE))
        rd = w->fd;
    if (status == 0 && (events & UV_WRITABLE))
        wr = w->fd;
    ares_process_fd(r->channel, rd, wr);
    rearm(r);
}

static void free_watch(uv_handle_t *h)
{
    free(h->data);
}

static void sock_state(void *data, ares_socket_t fd, int readable,
                       int writable)
{
    vl__resolver *r = data;
    watch **pp = &r->watches, *w;

    while (*pp != NULL && (*pp)->fd != fd)
        pp = &(*pp)->next;
    w = *pp;
    if (!readable && !writable) {
        if (w != NULL) {
            *pp = w->next;
            uv_poll_stop(&w->poll);
            uv_close((uv_handle_t *)&w->poll, free_watch);
        }
        return;
    }
    if (w == NULL) {
        if ((w = calloc(1, sizeof *w)) == NULL)
            return; /* the query will time out: unknown, not wrong */
        if (uv_poll_init_socket(r->loop, &w->poll, fd) != 0) {
            free(w);
            return;
        }
        w->fd = fd;
        w->r = r;
        w->poll.data = w;
        w->next = r->watches;
        r->watches = w;
    }
    uv_poll_start(&w->poll,
                  (readable ? UV_READABLE : 0) | (writable ? UV_WRITABLE : 0),
                  on_poll);
}

/* ---- the RRset cache ---------------------------------------------- */

static uint32_t clamp_ttl(const vl__resolver *r, uint32_t ttl)
{
    if (ttl < r->cfg.ttl_min_s)
        return r->cfg.ttl_min_s;
    if (ttl > r->cfg.ttl_max_s)
        return r->cfg.ttl_max_s;
    return ttl;
}

static void lru_unlink(lru_list *l, lru_link *n)
{
    if (n->prev)
        n->prev->next = n->next;
    else if (l->head == n)
        l->head = n->next;
    if (n->next)
        n->next->prev = n->prev;
    else if (l->tail == n)
        l->tail = n->prev;
    n->prev = n->next = NULL;
}

static void lru_front(lru_list *l, lru_link *n)
{
    lru_unlink(l, n);
    n->next = l->head;
    if (l->head)
        l->head->prev = n;
    l->head = n;
    if (l->tail == NULL)
        l->tail = n;
}

static void rrset_free(rrset *s)
{
    for (unsigned i = 0; i < s->n_mx; i++)
        free(s->mx[i].host);
    free(s->mx);
    free(s->addr);
    free(s->key);
    free(s);
}

static void rrset_drop(vl__resolver *r, rrset *s)
{
    vl__strset_del(&r->rrsets, s->key, strlen(s->key));
    lru_unlink(&r->rlru, &s->link);
    rrset_free(s);
}

/* Make room: drop the least recently used finished entries. */
static void rrset_evict(vl__resolver *r)
{
    rrset *s = (rrset *)r->rlru.tail;

    while (r->rrsets.count >= r->cfg.max_entries && s != NULL) {
        rrset *prev = (rrset *)s->link.prev;
        if (s->done && !s->busy && s->waiters == NULL)
            rrset_drop(r, s);
        s = prev;
    }
}

static vl__dns_outcome outcome_of(int status)
{
    switch (status) {
    case ARES_SUCCESS:
        return VL__DNS_ANSWER;
    case ARES_ENODATA:
        return VL__DNS_NODATA;
    case ARES_ENOTFOUND:
        return VL__DNS_NXDOMAIN;
    case ARES_ESERVFAIL:
        return VL__DNS_SERVFAIL;
    case ARES_EREFUSED:
        return VL__DNS_REFUSED;
    case ARES_ETIMEOUT:
        return VL__DNS_TIMEOUT;
    case ARES_ECONNREFUSED:
        return VL__DNS_CONNREFUSED;
    case ARES_EBADRESP:
    case ARES_EFORMERR:
        return VL__DNS_MALFORMED;
    default:
        return VL__DNS_FAILED;
    }
}

/* Keep what the domain lookups use from a parsed reply. */
static int keep_records(rrset *s, const vl__dns_msg *m)
{
    if (m->n_mx > 0) {
        s->mx = calloc(m->n_mx, sizeof *s->mx);
        if (s->mx == NULL)
            return -1;
        for (size_t i = 0; i < m->n_mx; i++) {
            s->mx[i].pref = m->mx[i].pref;
            if ((s->mx[i].host = strdup(m->mx[i].host)) == NULL)
                return -1;
            s->n_mx++;
        }
        /* RFC 7505 §3: a null MX is the only MX of its domain */
        s->null_mx = m->n_mx == 1 && m->mx[0].host[0] == '\0';
    }
    if (m->n_addr > 0) {
        s->addr = malloc(m->n_addr * sizeof *s->addr);
        if (s->addr == NULL)
            return -1;
        memcpy(s->addr, m->addr, m->n_addr * sizeof *s->addr);
        s->n_addr = (unsigned)m->n_addr;
    }
    s->spf_rejects_all = m->spf_rejects_all;
    return 0;
}

/* Read the reply into the entry: outcome, records, TTL. */
static void fill_rrset(vl__resolver *r, rrset *s, int status,
                       const unsigned char *abuf, int alen)
{
    vl__dns_msg *m = &r->scratch; /* the loop thread's alone */
    uint32_t ttl = r->cfg.fail_ttl_s;

    s->outcome = outcome_of(status);
    if (vl__dns_definitive(s->outcome) && abuf != NULL && alen > 0) {
        const char *name = strchr(s->key, ' ') + 1;
        if (vl__dns_parse(abuf, (size_t)alen, s->type, name, m) != VL_OK) {
            s->outcome = VL__DNS_MALFORMED;
        } else if (s->outcome != VL__DNS_NXDOMAIN) {
            /* A CNAME chain that ends in nothing is NODATA too. */
            s->outcome = m->n_answers ? VL__DNS_ANSWER : VL__DNS_NODATA;
            if (keep_records(s, m) < 0)
                s->outcome = VL__DNS_FAILED;
        }
        if (s->outcome == VL__DNS_ANSWER)
            ttl = clamp_ttl(r, s->ttl = m->min_ttl);
        else if (vl__dns_definitive(s->outcome))
            ttl = clamp_ttl(r, s->ttl =
                                   m->has_soa ? m->neg_ttl : r->cfg.ttl_min_s);
    } else if (vl__dns_definitive(s->outcome)) {
        s->outcome = VL__DNS_MALFORMED; /* no reply to read */
    }
    s->expires = uv_now(r->loop) + (uint64_t)ttl * 1000;
}

static void deliver(rrset *s)
{
    waiter *w = s->waiters;

    s->waiters = NULL;
    s->busy = true; /* callbacks may insert, and so evict */
    while (w != NULL) {
        waiter *next = w->next;
        w->cb(w->arg, s);
        free(w);
        w = next;
    }
    s->busy = false;
}

static void send_next(vl__resolver *r);

/* 'n' within [WINDOW_MIN, max_inflight] (max_inflight may be less). */
static unsigned clamp_window(const vl__resolver *r, unsigned n)
{
    if (n < WINDOW_MIN)
        n = WINDOW_MIN;
    return n < r->cfg.max_inflight ? n : r->cfg.max_inflight;
}

/* An answer to the query sent 'seq'-th came in, after a retry or not. */
static void adjust_window(vl__resolver *r, uint64_t seq, bool lost)
{
    if (lost) {
        /* One cut a loss: the queries sent before it were lost with
         * it, or are answered already. */
        if (seq < r->recover)
            return;
        r->recover = r->sent;
        r->ceiling = clamp_window(r, r->window * 3 / 4);
        r->window = r->ssthresh = clamp_window(r, r->window / 2);
        r->acked = 0;
    } else if (r->window < r->ceiling &&
               (r->window < r->ssthresh || ++r->acked >= r->window)) {
        r->window++;
        r->acked = 0;
    }
}

static void on_answer(void *arg, int status, int timeouts, unsigned char *abuf,
                      int alen)
{
    query *q = arg;
    vl__resolver *r = q->r;
    rrset *s = q->set;
    uint64_t seq = q->seq;

    free(q);
    r->inflight--;
    adjust_window(r, seq, timeouts > 0);
    fill_rrset(r, s, status, abuf, alen);
    s->done = true;
    deliver(s);
    if (!r->closing)
        send_next(r);
}

static void send_query(vl__resolver *r, query *q)
{
    const char *name = strchr(q->set->key, ' ') + 1;

    r->inflight++;
    q->seq = r->sent++;
    r->stats.queries_sent++;
    switch (q->set->type) {
    case T_MX:
        r->stats.queries_by_type[0]++;
        break;
    case T_A:
        r->stats.queries_by_type[1]++;
        break;
    case T_AAAA:
        r->stats.queries_by_type[2]++;
        break;
    default:
        r->stats.queries_by_type[3]++;
    }
    ares_query(r->channel, name, 1 /* C_IN */, q->set->type, on_answer, q);
    rearm(r);
}

static void send_next(vl__resolver *r)
{
    while (r->queue_head != NULL && r->inflight < r->window) {
        query *q = r->queue_head;
        r->queue_head = q->next;
        if (r->queue_head == NULL)
            r->queue_tail = NULL;
        send_query(r, q);
    }
}

/* Queries waiting for a slot: a domain's follow-up queries (its hosts'
 * addresses, its TXT) go to the front, so domains already started
 * finish before new ones begin and no address waits behind the whole
 * queue twice. */
static void enqueue(vl__resolver *r, rrset *s)
{
    query *q = calloc(1, sizeof *q);

    if (q == NULL) {
        s->outcome = VL__DNS_FAILED;
        s->expires = uv_now(r->loop);
        s->done = true;
        deliver(s);
        return;
    }
    q->r = r;
    q->set = s;
    if (r->inflight < r->window) {
        send_query(r, q);
        return;
    }
    if (s->type != T_MX && r->queue_head != NULL) {
        q->next = r->queue_head;
        r->queue_head = q;
        return;
    }
    if (r->queue_tail)
        r->queue_tail->next = q;
    else
        r->queue_head = q;
    r->queue_tail = q;
}

/* Get the RRset of 'type' at 'name': from the cache, by joining a query
 * in flight, or by asking.  'cb' runs once, maybe before this returns. */
static void rrset_get(vl__resolver *r, const char *name, uint16_t type,
                      void (*cb)(void *, const rrset *), void *arg)
{
    char key[VL__DNS_NAME_CAP + 8];
    int n = snprintf(key, sizeof key, "%u %s", (unsigned)type, name);
    rrset *s = vl__ptrmap_get(&r->rrsets, key, (size_t)n);
    waiter *w;

    if (r->closing) {
        cb(arg, NULL);
        return;
    }
    if (s != NULL && s->done && s->expires > uv_now(r->loop)) {
        r->stats.rrset_hits++;
        lru_front(&r->rlru, &s->link);
        cb(arg, s);
        return;
    }
    if ((w = calloc(1, sizeof *w)) == NULL) {
        cb(arg, NULL);
        return;
    }
    w->cb = cb;
    w->arg = arg;
    if (s != NULL && !s->done) { /* in flight: wait for it */
        r->stats.coalesced++;
        w->next = s->waiters;
        s->waiters = w;
        return;
    }
    if (s != NULL) /* expired */
        rrset_drop(r, s);
    rrset_evict(r);
    if ((s = calloc(1, sizeof *s)) == NULL || (s->key = strdup(key)) == NULL ||
        vl__ptrmap_put(&r->rrsets, s->key, (size_t)n, s) != VL_OK) {
        if (s)
            free(s->key);
        free(s);
        free(w);
        cb(arg, NULL);
        return;
    }
    s->type = type;
    s->waiters = w;
    lru_front(&r->rlru, &s->link);
    enqueue(r, s);
}

/* ---- evidence for --explain --------------------------------------- */

static char *describe(const rrset *s)
{
    char buf[1024];
    size_t w = 0;

    buf[0] = '\0';
    for (unsigned i = 0; i < s->n_mx && w < sizeof buf - 300; i++)
        w += (size_t)snprintf(buf + w, sizeof buf - w, "%s%u %s.",
                              i ? ", " : "", s->mx[i].pref, s->mx[i].host);
    for (unsigned i = 0; i < s->n_addr && w < sizeof buf - 64; i++) {
        char a[64];
        uv_inet_ntop(s->addr[i].family == 4 ? AF_INET : AF_INET6,
                     s->addr[i].bytes, a, sizeof a);
        w += (size_t)snprintf(buf + w, sizeof buf - w, "%s%s", i ? ", " : "",
                              a);
    }
    if (s->type == T_TXT && s->spf_rejects_all)
        snprintf(buf + w, sizeof buf - w, "\"v=spf1 -all\"");
    return strdup(buf);
}

static void log_rrset(dlookup *l, const rrset *s)
{
    vl__domain_info *d = l->info;
    vl__dns_log *grown;

    if (!l->r->cfg.explain || s == NULL)
        return;
    grown = realloc(d->log, (d->n_log + 1) * sizeof *d->log);
    if (grown == NULL)
        return;
    d->log = grown;
    vl__dns_log *e = &d->log[d->n_log++];
    e->name = strdup(strchr(s->key, ' ') + 1);
    e->type = s->type;
    e->outcome = s->outcome;
    e->ttl = s->ttl;
    e->answers = describe(s);
}

/* ---- domains ------------------------------------------------------- */

void vl__domain_info_ref(vl__domain_info *d)
{
    atomic_fetch_add(&d->refs, 1);
}

void vl__domain_info_unref(vl__domain_info *d)
{
    if (d == NULL || atomic_fetch_sub(&d->refs, 1) != 1)
        return;
    for (unsigned i = 0; i < d->n_mx; i++) {
        free(d->mx[i].host);
        free(d->mx[i].addr);
    }
    for (unsigned i = 0; i < d->n_log; i++) {
        free(d->log[i].name);
        free(d->log[i].answers);
    }
    free(d->mx);
    free(d->log);
    free(d);
}

static void dentry_drop(vl__resolver *r, dentry *e)
{
    vl__strset_del(&r->domains, e->domain, strlen(e->domain));
    lru_unlink(&r->dlru, &e->link);
    vl__domain_info_unref(e->info);
    free(e->domain);
    free(e);
}

static void dentry_evict(vl__resolver *r)
{
    dentry *e = (dentry *)r->dlru.tail;

    while (r->domains.count >= r->cfg.max_entries && e != NULL) {
        dentry *prev = (dentry *)e->link.prev;
        if (e->info != NULL)
            dentry_drop(r, e);
        e = prev;
    }
}

static void note_expiry(dlookup *l, const rrset *s)
{
    if (s != NULL && s->expires < l->expires)
        l->expires = s->expires;
}

/* All lookups of the domain are in: decide, publish, wake waiters. */
static void finish(dlookup *l)
{
    vl__resolver *r = l->r;
    dentry *e = l->entry;
    struct dwaiter *w = e->waiters;

    vl__dns_classify(l->info, l->mx_outcome, l->null_mx, l->spf_rejects_all,
                     r->cfg.allow_loopback);
    e->info = l->info;
    e->expires = l->expires;
    e->waiters = NULL;
    r->stats.domains_resolved++;
    while (w != NULL) {
        struct dwaiter *next = w->next;
        vl__domain_info_ref(e->info);
        w->cb(w->arg, e->info, false);
        free(w);
        w = next;
    }
    free(l);
}

static void lookup_done_one(dlookup *l)
{
    if (--l->pending == 0)
        finish(l);
}

/* Which host a host-address answer belongs to rides in the waiter's
 * argument; one allocation per (lookup, host, type). */
typedef struct hostarg {
    dlookup *l;
    unsigned host;
    uint16_t type;
} hostarg;

static void on_host_addr(void *arg, const rrset *s)
{
    hostarg *ha = arg;
    dlookup *l = ha->l;
    vl__mx_host *h = &l->info->mx[ha->host];
    uint16_t type = ha->type;

    free(ha);
    note_expiry(l, s);
    log_rrset(l, s);
    vl__dns_outcome o = s ? s->outcome : VL__DNS_FAILED;
    if (type == T_A)
        h->a = o;
    else
        h->aaaa = o;
    if (s != NULL && s->n_addr > 0) {
        vl__dns_addr *grown =
            realloc(h->addr, (h->n_addr + s->n_addr) * sizeof *h->addr);
        if (grown != NULL) {
            memcpy(grown + h->n_addr, s->addr, s->n_addr * sizeof *grown);
            h->addr = grown;
            h->n_addr += s->n_addr;
        }
    }
    lookup_done_one(l);
}

static void on_txt(void *arg, const rrset *s)
{
    dlookup *l = arg;

    note_expiry(l, s);
    log_rrset(l, s);
    l->spf_rejects_all = s != NULL && s->spf_rejects_all;
    lookup_done_one(l);
}

static void ask_addresses(dlookup *l, unsigned host)
{
    static const uint16_t types[] = {T_A, T_AAAA};

    for (int t = 0; t < 2; t++) {
        hostarg *ha = malloc(sizeof *ha);
        if (ha == NULL) {
            lookup_done_one(l);
            continue;
        }
        ha->l = l;
        ha->host = host;
        ha->type = types[t];
        rrset_get(l->r, l->info->mx[host].host, types[t], on_host_addr, ha);
    }
}

static int by_pref(const void *a, const void *b)
{
    const vl__mx_host *x = a, *y = b;
    if (x->pref != y->pref)
        return x->pref < y->pref ? -1 : 1;
    return strcmp(x->host, y->host); /* stable order for ties */
}

/* Hosts to ask about: the MX targets in preference order, or the domain
 * itself as the implicit MX. */
static int set_hosts(dlookup *l, const rrset *s, const char *domain)
{
    vl__domain_info *d = l->info;
    unsigned n = s && s->n_mx ? s->n_mx : 1;

    if ((d->mx = calloc(n, sizeof *d->mx)) == NULL)
        return -1;
    /* Hosts past VL__DNS_MAX_HOSTS are never asked about: "failed", so
     * they can never count as a definitive "no such host". */
    for (unsigned i = 0; i < n; i++)
        d->mx[i].a = d->mx[i].aaaa = VL__DNS_FAILED;
    if (s == NULL || s->n_mx == 0) {
        d->implicit_mx = true;
        d->n_mx = 1;
        return (d->mx[0].host = strdup(domain)) ? 0 : -1;
    }
    for (unsigned i = 0; i < s->n_mx; i++) {
        if (s->mx[i].host[0] == '\0')
            continue; /* a stray "." beside real MX records */
        d->mx[d->n_mx].pref = s->mx[i].pref;
        if ((d->mx[d->n_mx].host = strdup(s->mx[i].host)) == NULL)
            return -1;
        d->n_mx++;
    }
    qsort(d->mx, d->n_mx, sizeof *d->mx, by_pref);
    return 0;
}

static void on_mx(void *arg, const rrset *s)
{
    dlookup *l = arg;
    const char *domain = l->entry->domain;

    note_expiry(l, s);
    log_rrset(l, s);
    l->mx_outcome = s ? s->outcome : VL__DNS_FAILED;
    l->null_mx = s && s->null_mx;
    if (l->null_mx ||
        (l->mx_outcome != VL__DNS_ANSWER && l->mx_outcome != VL__DNS_NODATA)) {
        finish(l);
        return;
    }
    if (set_hosts(l, l->mx_outcome == VL__DNS_ANSWER ? s : NULL, domain) < 0) {
        l->mx_outcome = VL__DNS_FAILED;
        finish(l);
        return;
    }
    unsigned hosts =
        l->info->n_mx < VL__DNS_MAX_HOSTS ? l->info->n_mx : VL__DNS_MAX_HOSTS;
    /* one extra count so that answers arriving now cannot finish early */
    l->pending = 2 * hosts + 1 + (l->info->implicit_mx ? 1 : 0);
    for (unsigned i = 0; i < hosts; i++)
        ask_addresses(l, i);
    if (l->info->implicit_mx)
        rrset_get(l->r, domain, T_TXT, on_txt, l);
    lookup_done_one(l);
}

void vl__resolver_domain(vl__resolver *r, const char *domain, vl__domain_cb cb,
                         void *arg)
{
    dentry *e = vl__ptrmap_get(&r->domains, domain, strlen(domain));
    struct dwaiter *w;
    dlookup *l;

    if (e != NULL && e->info != NULL && e->expires > uv_now(r->loop)) {
        r->stats.domain_hits++;
        lru_front(&r->dlru, &e->link);
        vl__domain_info_ref(e->info);
        cb(arg, e->info, true);
        return;
    }
    if (r->closing || (w = calloc(1, sizeof *w)) == NULL) {
        cb(arg, NULL, false);
        return;
    }
    w->cb = cb;
    w->arg = arg;
    if (e != NULL && e->info == NULL) {
        r->stats.coalesced++;
        w->next = e->waiters;
        e->waiters = w;
        return;
    }
    if (e != NULL)
        dentry_drop(r, e);
    dentry_evict(r);
    l = calloc(1, sizeof *l);
    e = calloc(1, sizeof *e);
    if (l == NULL || e == NULL || (e->domain = strdup(domain)) == NULL ||
        (l->info = calloc(1, sizeof *l->info)) == NULL ||
        vl__ptrmap_put(&r->domains, e->domain, strlen(domain), e) != VL_OK) {
        if (l)
            free(l->info);
        if (e)
            free(e->domain);
        free(l);
        free(e);
        free(w);
        cb(arg, NULL, false);
        return;
    }
    atomic_init(&l->info->refs, 1); /* the cache's reference */
    l->info->best = -1;
    l->r = r;
    l->entry = e;
    l->expires = UINT64_MAX;
    e->waiters = w;
    lru_front(&r->dlru, &e->link);
    rrset_get(r, domain, T_MX, on_mx, l);
}

void vl__resolver_get_stats(const vl__resolver *r, vl__resolver_stats *out)
{
    *out = r->stats;
}

/* ---- life cycle ---------------------------------------------------- */

static vl_status init_channel(vl__resolver *r, char *err, size_t err_cap)
{
    struct ares_options o;
    int mask = ARES_OPT_SOCK_STATE_CB | ARES_OPT_TIMEOUTMS | ARES_OPT_TRIES |
               ARES_OPT_FLAGS,
        rc;

    memset(&o, 0, sizeof o);
    o.sock_state_cb = sock_state;
    o.sock_state_cb_data = r;
    o.timeout = (int)r->cfg.timeout_ms;
    o.tries = (int)r->cfg.tries;
    /* NOCHECKRESP: hand SERVFAIL and REFUSED back to us.  Without it
     * c-ares 1.18 moves on to the next server and, when none is left,
     * reports ECONNREFUSED, which would hide what the server said. */
    o.flags = ARES_FLAG_EDNS | ARES_FLAG_NOSEARCH | ARES_FLAG_NOALIASES |
              ARES_FLAG_NOCHECKRESP;
    rc = ares_init_options(&r->channel, &o, mask);
    if (rc != ARES_SUCCESS) {
        snprintf(err, err_cap, "resolver: %s", ares_strerror(rc));
        return VL_EINTERNAL;
    }
    /* The sockets' receive buffer: the default 208 KiB holds about 190
     * answers, and with hundreds of queries in flight a burst of answers
     * overflowed it; each lost one cost a retry after the timeout.  The
     * kernel caps the value at net.core.rmem_max. */
    if (vl__dgram_new(r->channel, 4 << 20, &r->dgram) != VL_OK) {
        snprintf(err, err_cap, "resolver: out of memory");
        return VL_ENOMEM;
    }
    if (r->cfg.servers != NULL &&
        (rc = ares_set_servers_ports_csv(r->channel, r->cfg.servers)) !=
            ARES_SUCCESS) {
        snprintf(err, err_cap, "resolver '%s': %s", r->cfg.servers,
                 ares_strerror(rc));
        return VL_EINVAL;
    }
    return VL_OK;
}

vl_status vl__resolver_new(uv_loop_t *loop, const vl__resolver_config *cfg,
                           vl__resolver **out, char *err, size_t err_cap)
{
    vl__resolver *r = calloc(1, sizeof *r);
    vl_status st;

    *out = NULL;
    if (r == NULL)
        return VL_ENOMEM;
    r->loop = loop;
    r->cfg = *cfg;
    if (r->cfg.max_inflight == 0)
        r->cfg.max_inflight = 1;
    r->window = r->cfg.max_inflight < WINDOW_START ? r->cfg.max_inflight
                                                   : WINDOW_START;
    r->ceiling = r->cfg.max_inflight;
    r->ssthresh = r->cfg.max_inflight / 2 > r->window ? r->cfg.max_inflight / 2
                                                      : r->window;
    if (r->cfg.max_entries < 16)
        r->cfg.max_entries = 16;
    if ((st = vl__strset_init(&r->rrsets, 1024, true)) != VL_OK ||
        (st = vl__strset_init(&r->domains, 1024, true)) != VL_OK) {
        vl__strset_free(&r->rrsets);
        free(r);
        return st;
    }
    if ((st = init_channel(r, err, err_cap)) != VL_OK) {
        if (r->channel)
            ares_destroy(r->channel);
        vl__dgram_free(r->dgram);
        vl__strset_free(&r->rrsets);
        vl__strset_free(&r->domains);
        free(r);
        return st;
    }
    uv_timer_init(loop, &r->timer);
    r->timer.data = r;
    r->open_handles = 2;
    uv_prepare_init(loop, &r->prepare);
    r->prepare.data = r;
    uv_prepare_start(&r->prepare, before_wait);
    uv_unref((uv_handle_t *)&r->prepare); /* it alone keeps no loop alive */
    *out = r;
    return VL_OK;
}

static void free_resolver(uv_handle_t *h)
{
    vl__resolver *r = h->data;

    if (--r->open_handles == 0)
        free(r);
}

void vl__resolver_free(vl__resolver *r)
{
    if (r == NULL)
        return;
    /* Closing first: whatever runs from here on asks nothing new. */
    r->closing = true;
    /* Queued queries never reached c-ares: fail them. */
    while (r->queue_head != NULL) {
        query *q = r->queue_head;
        r->queue_head = q->next;
        q->set->outcome = VL__DNS_FAILED;
        q->set->done = true;
        deliver(q->set);
        free(q);
    }
    ares_destroy(r->channel); /* in-flight queries call back: FAILED */
    vl__dgram_free(r->dgram); /* after: the channel closes its sockets */
    for (rrset *s = (rrset *)r->rlru.head, *next; s != NULL; s = next) {
        next = (rrset *)s->link.next;
        rrset_free(s);
    }
    for (dentry *e = (dentry *)r->dlru.head, *next; e != NULL; e = next) {
        next = (dentry *)e->link.next;
        struct dwaiter *w = e->waiters;
        while (w != NULL) {
            struct dwaiter *wn = w->next;
            w->cb(w->arg, NULL, false);
            free(w);
            w = wn;
        }
        vl__domain_info_unref(e->info);
        free(e->domain);
        free(e);
    }
    vl__strset_free(&r->rrsets);
    vl__strset_free(&r->domains);
    for (watch *w = r->watches; w != NULL; w = w->next)
        uv_close((uv_handle_t *)&w->poll, free_watch);
    uv_close((uv_handle_t *)&r->prepare, free_resolver);
    uv_close((uv_handle_t *)&r->timer, free_resolver);
}
