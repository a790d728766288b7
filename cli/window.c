/*
 * window.c - ordered, bounded pipelining of asynchronous checks (see
 * window.h).  Callbacks arrive on the library's loop thread; they only
 * store the result and wake the pushing thread, which does all output.
 */
#include "window.h"

#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

typedef struct slot {
    struct mv_window *w;
    char *input;
    size_t len, full_len;
    vl_result *res;
    void *tag;
    vl_status st;
    bool done;
} slot;

struct mv_window {
    vl_ctx *ctx;
    mv_emit_fn emit;
    void *arg;
    size_t cap, head, tail; /* head: next to emit; tail: next to fill */
    slot *ring;
    pthread_mutex_t mu;
    pthread_cond_t cv;
};

mv_window *mv_window_new(vl_ctx *ctx, size_t cap, mv_emit_fn emit, void *arg)
{
    mv_window *w = calloc(1, sizeof *w);

    if (w == NULL)
        return NULL;
    w->ring = calloc(cap ? cap : 1, sizeof *w->ring);
    if (w->ring == NULL) {
        free(w);
        return NULL;
    }
    w->ctx = ctx;
    w->cap = cap ? cap : 1;
    w->emit = emit;
    w->arg = arg;
    pthread_mutex_init(&w->mu, NULL);
    pthread_cond_init(&w->cv, NULL);
    return w;
}

static void on_done(void *arg, vl_status st, vl_result *res)
{
    slot *s = arg;
    mv_window *w = s->w;

    pthread_mutex_lock(&w->mu);
    s->res = res;
    s->st = st;
    s->done = true;
    if (s == &w->ring[w->head % w->cap])
        pthread_cond_signal(&w->cv);
    pthread_mutex_unlock(&w->mu);
}

/* Emit finished slots from the head; with 'wait', block for the head. */
static int flush(mv_window *w, bool wait)
{
    int rc = 0;

    for (;;) {
        pthread_mutex_lock(&w->mu);
        slot *s = &w->ring[w->head % w->cap];
        while (wait && w->head < w->tail && !s->done)
            pthread_cond_wait(&w->cv, &w->mu);
        bool ready = w->head < w->tail && s->done;
        pthread_mutex_unlock(&w->mu);
        if (!ready)
            return rc;
        if (rc == 0 &&
            w->emit(w->arg, s->input, s->len, s->full_len, s->res, s->tag) < 0)
            rc = -1;
        vl_result_free(s->res);
        free(s->input);
        memset(s, 0, sizeof *s);
        pthread_mutex_lock(&w->mu);
        w->head++;
        pthread_mutex_unlock(&w->mu);
        wait = false;
        if (rc < 0)
            return rc;
    }
}

int mv_window_push(mv_window *w, const char *in, size_t len, size_t full_len)
{
    return mv_window_push_tag(w, in, len, full_len, NULL, true);
}

int mv_window_push_tag(mv_window *w, const char *in, size_t len,
                       size_t full_len, void *tag, bool check)
{
    slot *s;

    if (flush(w, false) < 0)
        return -1;
    if (w->tail - w->head == w->cap && flush(w, true) < 0)
        return -1;
    s = &w->ring[w->tail % w->cap];
    if ((s->input = malloc(len ? len : 1)) == NULL)
        return -1;
    memcpy(s->input, in, len);
    s->len = len;
    s->full_len = full_len;
    s->w = w;
    s->tag = tag;
    pthread_mutex_lock(&w->mu);
    w->tail++;
    if (!check)
        s->done = true;
    pthread_mutex_unlock(&w->mu);
    if (check && vl_check_async(w->ctx, in, len, on_done, s) != VL_OK) {
        pthread_mutex_lock(&w->mu);
        s->done = true; /* emitted with res NULL: the caller reports it */
        pthread_mutex_unlock(&w->mu);
    }
    return 0;
}

int mv_window_drain(mv_window *w)
{
    while (w->head < w->tail)
        if (flush(w, true) < 0)
            return -1;
    return 0;
}

void mv_window_free(mv_window *w)
{
    if (w == NULL)
        return;
    mv_window_drain(w);
    pthread_cond_destroy(&w->cv);
    pthread_mutex_destroy(&w->mu);
    free(w->ring);
    free(w);
}
