/*
 * net.c - the context's event loop thread and the checks waiting on it.
 *
 * A context that may use the network owns one libuv loop, run by one
 * thread, on which c-ares and the SMTP prober live.  Any thread
 * hands it work through a locked queue and a uv_async wake-up; answers
 * come back through the caller's callback on the loop thread, or, for
 * the synchronous vl_check(), through a condition variable.
 *
 * Each check may carry a deadline: when it passes, the check is
 * answered "unknown" (reason "deadline") at once, and the lookup goes
 * on in the background so that the next check of that domain finds the
 * cache warm.  A temporary failure never makes anything undeliverable.
 * Every check gets the same deadline_ms from when the loop starts it,
 * so the checks waiting are also in deadline order: one list, oldest
 * first, and one timer for its head, rather than a uv_timer a check.
 */
#include "net.h"

#include "resolver.h"
#include "smtp.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

typedef struct job {
    vl__net *net;
    vl_result *res;
    bool owned_result; /* async: the callback receives res */
    bool no_smtp;      /* VL_CHECK_NO_SMTP */
    vl_check_cb cb;
    void *arg;
    uint64_t deadline; /* loop time (ms) when it is answered "unknown" */
    bool waiting, answered;
    int refs;         /* loop thread only */
    struct job *next; /* the submitted queue, then 'waiting' */
    struct job *prev; /* 'waiting' */
} job;

struct vl__net {
    uv_loop_t loop;
    uv_async_t wake;
    uv_thread_t thread;
    pthread_mutex_t mu;
    job *head, *tail; /* submitted, not yet started; under mu */
    bool stopping;    /* under mu */
    vl__resolver *resolver;
    vl__prober *prober; /* NULL without VL_OPT_SMTP */
    unsigned deadline_ms;
    /* Started, not answered, with a deadline; oldest first (loop
     * thread).  'deadline_timer' is due at the head's deadline or
     * earlier (then it moves on). */
    job *wait_head, *wait_tail;
    uv_timer_t deadline_timer;
    vl_stats stats; /* a snapshot the loop thread publishes; under mu */
};

static void job_unref(job *j)
{
    if (--j->refs == 0)
        free(j);
}

static void publish_stats(vl__net *n)
{
    vl__resolver_stats rs;

    vl__resolver_get_stats(n->resolver, &rs);
    pthread_mutex_lock(&n->mu);
    n->stats.dns_queries = rs.queries_sent;
    n->stats.dns_queries_mx = rs.queries_by_type[0];
    n->stats.dns_queries_a = rs.queries_by_type[1];
    n->stats.dns_queries_aaaa = rs.queries_by_type[2];
    n->stats.dns_queries_txt = rs.queries_by_type[3];
    n->stats.dns_cache_hits = rs.rrset_hits + rs.domain_hits;
    n->stats.dns_coalesced = rs.coalesced;
    n->stats.domains_resolved = rs.domains_resolved;
    if (n->prober != NULL) {
        vl__prober_stats ps;
        vl__prober_get_stats(n->prober, &ps);
        n->stats.smtp_connections = ps.connections;
        n->stats.smtp_rcpts = ps.rcpts;
        n->stats.smtp_port_blocked = ps.port_blocked;
    }
    pthread_mutex_unlock(&n->mu);
}

static void answer(job *j, vl_status st)
{
    j->answered = true;
    j->cb(j->arg, st, j->owned_result ? j->res : NULL);
}

/* Off the waiting list; the caller drops the list's reference. */
static void unlink_waiting(job *j)
{
    vl__net *n = j->net;

    j->waiting = false;
    if (j->prev)
        j->prev->next = j->next;
    else
        n->wait_head = j->next;
    if (j->next)
        j->next->prev = j->prev;
    else
        n->wait_tail = j->prev;
}

/* Answer before the deadline, and leave the waiting list. */
static void finish(job *j)
{
    answer(j, VL_OK);
    if (j->waiting) {
        unlink_waiting(j);
        j->refs--; /* the list's; the caller drops its own */
    }
}

static void on_smtp(void *arg, vl__smtp_outcome *o)
{
    job *j = arg;

    publish_stats(j->net);
    if (j->answered) { /* past its deadline */
        vl__smtp_outcome_clear(o);
    } else {
        vl_result *res = j->res;
        vl__smtp_outcome_clear(&res->smtp);
        res->smtp = *o; /* the transcript moves into the result */
        if (o->ran)
            res->stages |= VL_STAGE_SMTP;
        if (o->reason != VL_R__COUNT)
            vl__result_add(res, o->reason);
        finish(j);
    }
    job_unref(j); /* the prober's */
}

/* The probe runs for an address that DNS found a mail host for and
 * nothing has ruled out or left in doubt. */
static bool wants_probe(const vl__net *n, const job *j)
{
    const vl_result *res = j->res;

    return n->prober != NULL && !j->no_smtp && res->dns != NULL &&
           res->dns->best >= 0 && res->verdict <= VL_RISKY;
}

/* "local@domain" as RCPT TO takes it: the local part as normalised
 * (NFC, quotes kept), the domain as A-labels. */
static bool rcpt_of(const vl_result *res, char *out, size_t cap)
{
    const char *at = strrchr(res->address, '@');
    size_t ll = at ? (size_t)(at - res->address) : 0;
    size_t dl = strlen(res->domain_ascii);

    if (at == NULL || ll + 1 + dl >= cap)
        return false;
    memcpy(out, res->address, ll);
    out[ll] = '@';
    memcpy(out + ll + 1, res->domain_ascii, dl + 1);
    return true;
}

static void start_probe(job *j)
{
    char rcpt[VL__FIELD_CAP];

    if (!rcpt_of(j->res, rcpt, sizeof rcpt)) {
        finish(j);
        return;
    }
    j->refs++;
    vl__prober_probe(j->net->prober, j->res->domain_ascii, j->res->dns, rcpt,
                     j->res->smtputf8 != 0, on_smtp, j);
}

static void on_domain(void *arg, vl__domain_info *info, bool cached)
{
    job *j = arg;

    /* Counters first: a caller woken by the answer may read them. */
    publish_stats(j->net);
    if (j->answered) { /* past its deadline: the cache is warm now */
        vl__domain_info_unref(info);
    } else {
        vl__result_set_dns(j->res, info, cached);
        if (wants_probe(j->net, j))
            start_probe(j);
        else
            finish(j);
    }
    job_unref(j); /* the resolver's */
}

static void on_deadline(uv_timer_t *t)
{
    vl__net *n = t->data;
    uint64_t now = uv_now(&n->loop);

    while (n->wait_head != NULL && n->wait_head->deadline <= now) {
        job *j = n->wait_head;
        vl__result_add(j->res, VL_R_DEADLINE);
        j->res->stages |= VL_STAGE_DNS;
        answer(j, VL_OK);
        unlink_waiting(j);
        job_unref(j); /* the list's reference */
    }
    if (n->wait_head != NULL)
        uv_timer_start(t, on_deadline, n->wait_head->deadline - now, 0);
}

static void start_job(vl__net *n, job *j)
{
    j->refs = 2; /* the resolver's callback, and this function */
    vl__resolver_domain(n->resolver, j->res->domain_ascii, on_domain, j);
    if (!j->answered && n->deadline_ms > 0) {
        j->deadline = uv_now(&n->loop) + n->deadline_ms;
        j->waiting = true;
        j->refs++;
        j->next = NULL;
        j->prev = n->wait_tail;
        if (n->wait_tail)
            n->wait_tail->next = j;
        else
            n->wait_head = j;
        n->wait_tail = j;
        if (!uv_is_active((uv_handle_t *)&n->deadline_timer))
            uv_timer_start(&n->deadline_timer, on_deadline, n->deadline_ms, 0);
    }
    job_unref(j);
}

static void on_wake(uv_async_t *a)
{
    vl__net *n = a->data;
    job *list;
    bool stopping;

    pthread_mutex_lock(&n->mu);
    list = n->head;
    n->head = n->tail = NULL;
    stopping = n->stopping;
    pthread_mutex_unlock(&n->mu);
    while (list != NULL) {
        job *next = list->next;
        if (stopping) {
            vl__result_add(list->res, VL_R_DNS_ERROR);
            answer(list, VL_ETEMP);
            free(list);
        } else {
            start_job(n, list);
        }
        list = next;
    }
    if (stopping) {
        vl__prober_free(n->prober); /* probes: smtp_unavailable */
        n->prober = NULL;
        vl__resolver_free(n->resolver); /* waiters get NULL: dns_error */
        n->resolver = NULL;
        uv_close((uv_handle_t *)&n->deadline_timer, NULL);
        uv_close((uv_handle_t *)&n->wake, NULL);
    }
}

static void loop_main(void *arg)
{
    vl__net *n = arg;

    uv_run(&n->loop, UV_RUN_DEFAULT);
}

vl_status vl__net_start(const vl_options *opt, const vl__strset *unverifiable,
                        vl__net **out, char *err, size_t err_cap)
{
    vl__resolver_config cfg = {
        .servers = opt->resolvers,
        .timeout_ms = opt->dns_timeout_ms,
        .tries = opt->dns_tries,
        .max_inflight = opt->dns_max_inflight,
        .ttl_min_s = opt->cache_ttl_min_s,
        .ttl_max_s = opt->cache_ttl_max_s,
        .fail_ttl_s = opt->cache_fail_ttl_s,
        .max_entries = opt->cache_max_entries,
        .explain = (opt->flags & VL_OPT_EXPLAIN) != 0,
        .allow_loopback = (opt->flags & VL_OPT_SMTP) &&
                          (opt->flags & VL_OPT_SMTP_ALLOW_LOOPBACK),
    };
    vl__net *n = calloc(1, sizeof *n);
    vl_status st;

    *out = NULL;
    if (n == NULL)
        return VL_ENOMEM;
    n->deadline_ms = opt->deadline_ms;
    if (uv_loop_init(&n->loop) != 0) {
        free(n);
        return VL_EINTERNAL;
    }
    if ((st = vl__resolver_new(&n->loop, &cfg, &n->resolver, err, err_cap)) !=
        VL_OK) {
        uv_loop_close(&n->loop);
        free(n);
        return st;
    }
    if ((opt->flags & VL_OPT_SMTP) &&
        (st = vl__prober_new(&n->loop, opt, unverifiable, &n->prober, err,
                             err_cap)) != VL_OK) {
        vl__resolver_free(n->resolver);
        uv_run(&n->loop, UV_RUN_DEFAULT);
        uv_loop_close(&n->loop);
        free(n);
        return st;
    }
    pthread_mutex_init(&n->mu, NULL);
    uv_async_init(&n->loop, &n->wake, on_wake);
    n->wake.data = n;
    uv_timer_init(&n->loop, &n->deadline_timer);
    n->deadline_timer.data = n;
    if (uv_thread_create(&n->thread, loop_main, n) != 0) {
        n->stopping = true;
        on_wake(&n->wake); /* closes the resolver and the handle */
        uv_run(&n->loop, UV_RUN_DEFAULT);
        uv_loop_close(&n->loop);
        pthread_mutex_destroy(&n->mu);
        free(n);
        return VL_EINTERNAL;
    }
    *out = n;
    return VL_OK;
}

void vl__net_stop(vl__net *n)
{
    if (n == NULL)
        return;
    pthread_mutex_lock(&n->mu);
    n->stopping = true;
    pthread_mutex_unlock(&n->mu);
    uv_async_send(&n->wake);
    uv_thread_join(&n->thread);
    uv_loop_close(&n->loop);
    pthread_mutex_destroy(&n->mu);
    free(n);
}

bool vl__net_on_loop_thread(const vl__net *n)
{
    uv_thread_t self = uv_thread_self();
    return uv_thread_equal(&self, &n->thread) != 0;
}

static vl_status job_new(vl_result *res, bool owned, unsigned flags,
                         vl_check_cb cb, void *arg, job **out)
{
    job *j;

    /* The loop reads the domain from 'res', which stays put until the
     * check is answered. */
    if (strlen(res->domain_ascii) >= VL__DNS_NAME_CAP)
        return VL_ETOOLONG;
    if ((j = calloc(1, sizeof *j)) == NULL)
        return VL_ENOMEM;
    j->res = res;
    j->owned_result = owned;
    j->no_smtp = (flags & VL_CHECK_NO_SMTP) != 0;
    j->cb = cb;
    j->arg = arg;
    *out = j;
    return VL_OK;
}

/* Queue the jobs 'first'..'last' (linked by 'next') for the loop; false
 * when it is stopping (nothing queued). */
static bool enqueue(vl__net *n, job *first, job *last)
{
    for (job *j = first; j != NULL; j = j->next)
        j->net = n;
    pthread_mutex_lock(&n->mu);
    if (n->stopping) {
        pthread_mutex_unlock(&n->mu);
        return false;
    }
    if (n->tail)
        n->tail->next = first;
    else
        n->head = first;
    n->tail = last;
    pthread_mutex_unlock(&n->mu);
    uv_async_send(&n->wake);
    return true;
}

vl_status vl__net_submit(vl__net *n, vl_result *res, bool owned,
                         unsigned flags, vl_check_cb cb, void *arg)
{
    job *j;
    vl_status st = job_new(res, owned, flags, cb, arg, &j);

    if (st != VL_OK)
        return st;
    if (!enqueue(n, j, j)) {
        free(j);
        return VL_ETEMP;
    }
    return VL_OK;
}

vl_status vl__net_batch_add(vl__net *n, vl__net_batch *b, vl_result *res,
                            vl_check_cb cb, void *arg)
{
    job *j;
    vl_status st = job_new(res, true, 0, cb, arg, &j);

    (void)n;
    if (st != VL_OK)
        return st;
    if (b->tail)
        b->tail->next = j;
    else
        b->head = j;
    b->tail = j;
    return VL_OK;
}

void vl__net_batch_submit(vl__net *n, vl__net_batch *b)
{
    job *j = b->head, *last = b->tail;

    b->head = b->tail = NULL;
    if (j == NULL || enqueue(n, j, last))
        return;
    while (j != NULL) { /* stopping: answered here, as on_wake would */
        job *next = j->next;
        vl__result_add(j->res, VL_R_DNS_ERROR);
        answer(j, VL_ETEMP);
        free(j);
        j = next;
    }
}

void vl__net_stats(vl__net *n, vl_stats *out)
{
    pthread_mutex_lock(&n->mu);
    *out = n->stats;
    pthread_mutex_unlock(&n->mu);
}
