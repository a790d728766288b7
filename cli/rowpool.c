/*
 * rowpool.c - ordered, bounded, multi-threaded checking of CSV rows
 * (rowpool.h).
 *
 * A ring of batches, each in one state at a time: FILLING (the pushing
 * thread copies rows in), QUEUED (waiting for a checker), CHECKING,
 * DONE (every row answered).  'head' is the next batch to emit,
 * 'next_check' the next to check, 'submitted' counts the batches queued
 * so far; head <= next_check <= submitted, and the batch being filled
 * sits at 'submitted'.  Checkers take batches in order, but finish them
 * in any order; only the pushing thread emits, from 'head' on.
 *
 * A batch's rows are answered on a checker thread (offline) or on the
 * library's loop thread (network); an atomic count of the rows still
 * out tells which answer is the last, and only that one takes the lock
 * to mark the batch done.
 */
#include "rowpool.h"

#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

enum { BATCH_BYTES = 1 << 20, KEEP_BYTES = 4 << 20, AHEAD = 8 };

typedef enum { FILLING, QUEUED, CHECKING, DONE } batch_state;

typedef struct batch batch;

typedef struct slot {
    mv_pooled_row r; /* first: emit gets &slot->r */
    batch *b;
    size_t raw_at, data_at, off_at; /* where the row's bytes are */
} slot;

struct batch {
    mv_rowpool *pool;
    batch_state state; /* under the pool's lock */
    size_t n;
    slot *slots;
    vl_result **results;  /* one per slot, made once and reused */
    vl_check_item *items; /* network: the rows handed to the library */
    char *bytes;          /* raw bytes and fields of every row */
    size_t used, cap;
    size_t *offs; /* field offsets of every row */
    size_t noffs, offcap;
    atomic_size_t pending; /* network: rows not answered yet, + 1 */
};

struct mv_rowpool {
    mv_rowpool_config cfg;
    batch *ring;
    size_t nb;
    size_t head, next_check, submitted; /* under mu */
    batch *fill;                        /* pushing thread only */
    bool stop, failed;
    pthread_mutex_t mu;
    pthread_cond_t work_cv, done_cv;
    pthread_t *threads;
    unsigned started;
};

/* ---- batches ------------------------------------------------------- */

/* '*p' (of '*cap' elements of 'size' bytes) with room for 'need'. */
static void *grow(void *p, size_t *cap, size_t need, size_t size)
{
    size_t nc = *cap ? *cap : 4096;

    if (need <= *cap)
        return p;
    while (nc < need)
        nc *= 2;
    if ((p = realloc(p, nc * size)) != NULL)
        *cap = nc;
    return p;
}

static int copy_in(batch *b, const mv_csv_row *r)
{
    size_t nf = r->nfields, dlen = r->off[nf];
    slot *s = &b->slots[b->n];

    char *bytes = grow(b->bytes, &b->cap, b->used + r->raw_len + dlen, 1);
    size_t *offs;

    if (bytes == NULL)
        return -1;
    b->bytes = bytes;
    offs = grow(b->offs, &b->offcap, b->noffs + nf + 1, sizeof *offs);
    if (offs == NULL)
        return -1;
    b->offs = offs;
    s->r.row = *r;
    s->raw_at = b->used;
    memcpy(b->bytes + b->used, r->raw, r->raw_len);
    b->used += r->raw_len;
    s->data_at = b->used;
    memcpy(b->bytes + b->used, r->data, dlen);
    b->used += dlen;
    s->off_at = b->noffs;
    memcpy(b->offs + b->noffs, r->off, (nf + 1) * sizeof *b->offs);
    b->noffs += nf + 1;
    b->n++;
    return 0;
}

/* The arenas are final: point the rows into them. */
static void seal(batch *b)
{
    for (size_t i = 0; i < b->n; i++) {
        slot *s = &b->slots[i];
        s->r.row.raw = b->bytes + s->raw_at;
        s->r.row.data = b->bytes + s->data_at;
        s->r.row.off = b->offs + s->off_at;
        s->r.res = NULL;
        s->r.st = VL_OK;
        s->r.drop = s->r.has_key = false;
        s->r.dkey.lo = s->r.dkey.hi = 0;
    }
}

/* Empty an emitted batch for reuse. */
static void clear(batch *b)
{
    if (b->cap > KEEP_BYTES) { /* one huge batch: give it back */
        free(b->bytes);
        b->bytes = NULL;
        b->cap = 0;
    }
    b->n = b->used = b->noffs = 0;
    b->state = FILLING;
}

/* ---- checking ------------------------------------------------------- */

static void batch_done(batch *b)
{
    mv_rowpool *p = b->pool;

    pthread_mutex_lock(&p->mu);
    b->state = DONE;
    pthread_cond_signal(&p->done_cv);
    pthread_mutex_unlock(&p->mu);
}

static void row_answered(batch *b)
{
    if (atomic_fetch_sub(&b->pending, 1) == 1)
        batch_done(b);
}

static void on_answer(void *arg, vl_status st, vl_result *res)
{
    slot *s = arg;

    s->r.res = res;
    s->r.st = st;
    row_answered(s->b);
}

/* Row 'i' of 'b' is to be checked: its address in '*a', '*n', and its
 * result made (false when out of memory: 'st' says so). */
static bool to_check(const mv_rowpool *p, batch *b, size_t i, const char **a,
                     size_t *n)
{
    slot *s = &b->slots[i];
    const mv_csv_row *row = &s->r.row;

    if (row->problem != MV_CSV_OK)
        return false;
    *a = row->data + row->off[p->cfg.col];
    *n = row->off[p->cfg.col + 1] - row->off[p->cfg.col];
    if (b->results[i] == NULL)
        s->r.st = vl_result_new(&b->results[i]);
    return b->results[i] != NULL;
}

static void check_offline(mv_rowpool *p, batch *b)
{
    const char *a;
    size_t n;

    for (size_t i = 0; i < b->n; i++) {
        slot *s = &b->slots[i];
        if (!to_check(p, b, i, &a, &n) ||
            (s->r.st = vl_check(p->cfg.ctx, a, n, b->results[i])) != VL_OK)
            continue;
        s->r.res = b->results[i];
        p->cfg.checked(p->cfg.arg, &s->r);
    }
    batch_done(b);
}

static void check_network(mv_rowpool *p, batch *b)
{
    size_t k = 0;

    for (size_t i = 0; i < b->n; i++) {
        vl_check_item *it = &b->items[k];
        if (to_check(p, b, i, &it->addr, &it->len)) {
            it->res = b->results[i];
            it->arg = &b->slots[i];
            k++;
        }
    }
    atomic_store(&b->pending, k + 1); /* + this function's own hold */
    if (vl_check_many_async(p->cfg.ctx, b->items, k, on_answer) != VL_OK)
        atomic_store(&b->pending, 1); /* no callback will run */
    row_answered(b);
}

static void *checker(void *arg)
{
    mv_rowpool *p = arg;

    pthread_mutex_lock(&p->mu);
    for (;;) {
        while (!p->stop && p->next_check == p->submitted)
            pthread_cond_wait(&p->work_cv, &p->mu);
        if (p->next_check == p->submitted)
            break; /* stopping, and nothing left */
        batch *b = &p->ring[p->next_check++ % p->nb];
        b->state = CHECKING;
        pthread_mutex_unlock(&p->mu);
        if (p->cfg.network)
            check_network(p, b);
        else
            check_offline(p, b);
        pthread_mutex_lock(&p->mu);
    }
    pthread_mutex_unlock(&p->mu);
    return NULL;
}

/* ---- the pushing thread ---------------------------------------------- */

static void submit(mv_rowpool *p)
{
    batch *b = p->fill;

    p->fill = NULL;
    seal(b);
    pthread_mutex_lock(&p->mu);
    b->state = QUEUED;
    p->submitted++;
    pthread_cond_signal(&p->work_cv);
    pthread_mutex_unlock(&p->mu);
}

/* A row some rows before it is emitted. */
static void prepare(mv_rowpool *p, mv_pooled_row *r)
{
    if (p->cfg.network && r->res != NULL)
        p->cfg.checked(p->cfg.arg, r);
    if (p->cfg.ahead != NULL)
        p->cfg.ahead(p->cfg.arg, r);
}

static int emit_batch(mv_rowpool *p, batch *b)
{
    for (size_t i = 0; i < AHEAD && i < b->n; i++)
        prepare(p, &b->slots[i].r);
    for (size_t i = 0; i < b->n && !p->failed; i++) {
        if (i + AHEAD < b->n)
            prepare(p, &b->slots[i + AHEAD].r);
        if (p->cfg.emit(p->cfg.arg, &b->slots[i].r) < 0)
            p->failed = true;
    }
    clear(b);
    return p->failed ? -1 : 0;
}

/* Emit the finished batches at the head; with 'wait', wait for the
 * head batch first. */
static int flush(mv_rowpool *p, bool wait)
{
    for (;;) {
        pthread_mutex_lock(&p->mu);
        batch *b = &p->ring[p->head % p->nb];
        while (wait && p->head < p->submitted && b->state != DONE)
            pthread_cond_wait(&p->done_cv, &p->mu);
        bool ready = p->head < p->submitted && b->state == DONE;
        pthread_mutex_unlock(&p->mu);
        if (!ready)
            return 0;
        int rc = emit_batch(p, b);
        pthread_mutex_lock(&p->mu);
        p->head++;
        pthread_mutex_unlock(&p->mu);
        if (rc < 0)
            return -1;
        wait = false;
    }
}

int mv_rowpool_push(mv_rowpool *p, const mv_csv_row *row)
{
    if (p->failed)
        return -1;
    if (p->fill == NULL) {
        if (flush(p, false) < 0 ||
            (p->submitted - p->head == p->nb && flush(p, true) < 0))
            return -1;
        p->fill = &p->ring[p->submitted % p->nb];
    }
    if (copy_in(p->fill, row) < 0)
        return -1;
    if (p->fill->n == p->cfg.batch_rows || p->fill->used >= BATCH_BYTES)
        submit(p);
    return 0;
}

int mv_rowpool_drain(mv_rowpool *p)
{
    if (p->failed)
        return -1;
    if (p->fill != NULL && p->fill->n > 0)
        submit(p);
    while (p->head < p->submitted)
        if (flush(p, true) < 0)
            return -1;
    return 0;
}

/* ---- life cycle -------------------------------------------------------- */

static void free_ring(mv_rowpool *p)
{
    for (size_t i = 0; p->ring != NULL && i < p->nb; i++) {
        batch *b = &p->ring[i];
        for (size_t k = 0; b->results != NULL && k < p->cfg.batch_rows; k++)
            vl_result_free(b->results[k]);
        free(b->results);
        free(b->items);
        free(b->slots);
        free(b->bytes);
        free(b->offs);
    }
    free(p->ring);
}

static int make_ring(mv_rowpool *p)
{
    if ((p->ring = calloc(p->nb, sizeof *p->ring)) == NULL)
        return -1;
    for (size_t i = 0; i < p->nb; i++) {
        batch *b = &p->ring[i];
        b->pool = p;
        b->slots = calloc(p->cfg.batch_rows, sizeof *b->slots);
        if (b->slots == NULL)
            return -1;
        for (size_t k = 0; k < p->cfg.batch_rows; k++)
            b->slots[k].b = b;
        b->results = calloc(p->cfg.batch_rows, sizeof *b->results);
        if (b->results == NULL ||
            (p->cfg.network &&
             (b->items = calloc(p->cfg.batch_rows, sizeof *b->items)) == NULL))
            return -1;
    }
    return 0;
}

/* Checkers do not take SIGINT or SIGTERM: the pushing thread's handler
 * does, and the run stops between rows. */
static int start_threads(mv_rowpool *p)
{
    sigset_t block, old;
    int rc = 0;

    if ((p->threads = calloc(p->cfg.threads, sizeof *p->threads)) == NULL)
        return -1;
    sigemptyset(&block);
    sigaddset(&block, SIGINT);
    sigaddset(&block, SIGTERM);
    pthread_sigmask(SIG_BLOCK, &block, &old);
    for (; p->started < p->cfg.threads && rc == 0; p->started++)
        if (pthread_create(&p->threads[p->started], NULL, checker, p) != 0)
            rc = -1;
    if (rc < 0)
        p->started--;
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    return rc;
}

mv_rowpool *mv_rowpool_new(const mv_rowpool_config *cfg)
{
    mv_rowpool *p = calloc(1, sizeof *p);

    if (p == NULL)
        return NULL;
    p->cfg = *cfg;
    if (p->cfg.threads == 0)
        p->cfg.threads = 1;
    if (p->cfg.batch_rows == 0)
        p->cfg.batch_rows = 1;
    p->nb = cfg->batches < 2 ? 2 : cfg->batches;
    pthread_mutex_init(&p->mu, NULL);
    pthread_cond_init(&p->work_cv, NULL);
    pthread_cond_init(&p->done_cv, NULL);
    if (make_ring(p) < 0 || start_threads(p) < 0) {
        mv_rowpool_free(p);
        return NULL;
    }
    return p;
}

void mv_rowpool_free(mv_rowpool *p)
{
    if (p == NULL)
        return;
    /* Rows still out may be answered on the loop thread at any moment:
     * wait for every submitted batch before anything is freed. */
    pthread_mutex_lock(&p->mu);
    for (size_t i = p->head; i < p->submitted; i++)
        while (p->ring[i % p->nb].state != DONE)
            pthread_cond_wait(&p->done_cv, &p->mu);
    p->stop = true;
    pthread_cond_broadcast(&p->work_cv);
    pthread_mutex_unlock(&p->mu);
    for (unsigned i = 0; i < p->started; i++)
        pthread_join(p->threads[i], NULL);
    free(p->threads);
    free_ring(p);
    pthread_cond_destroy(&p->done_cv);
    pthread_cond_destroy(&p->work_cv);
    pthread_mutex_destroy(&p->mu);
    free(p);
}
