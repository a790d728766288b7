/*
 * rowpool.h - check the rows of "mailvet clean" on several threads and
 * hand them back in input order.
 *
 * The reading thread copies each row into a batch (a few hundred rows
 * in one arena); full batches go to checker threads, which run the
 * offline stages of every row of a batch at once (vl_check() is safe
 * from any number of threads).  With the network, a checker hands the
 * batch's rows to vl_check_many_async() (one wake-up of the loop thread)
 * and the batch is done when its last answer has come.  Finished batches are
 * emitted on the reading thread, row by row, strictly in the order the rows
 * were pushed, so the output is the same whatever the number of threads and
 * however lookups finish.
 *
 * Bounded: at most 'batches' batches of 'batch_rows' rows exist at
 * once; a push into a full ring emits (or waits for) the oldest batch.
 * One wake-up per batch, not per row, passes between the threads.
 */
#ifndef MV_ROWPOOL_H
#define MV_ROWPOOL_H

#include <stdbool.h>
#include <stddef.h>

#include "csv.h"
#include "dedupe.h"
#include "validate.h"

/* One row as it comes back. */
typedef struct mv_pooled_row {
    mv_csv_row row; /* a copy; its pointers live until emit returns */
    vl_result *res; /* borrowed by emit; NULL for a row not checked (its
                       'problem' is set) or a result not made ('st') */
    vl_status st;   /* of the check: VL_OK, or why it did not finish */
    /* filled by the 'checked' hook, for the emitting thread */
    bool drop;    /* the policy drops it */
    bool has_key; /* 'key' is the canonical address's hash */
    mv_hash128 key;
    mv_hash128 dkey; /* mv_domains_hash() of the A-label domain, or 0 */
} mv_pooled_row;

typedef struct mv_rowpool_config {
    vl_ctx *ctx;
    bool network;      /* vl_check_many_async() instead of vl_check() */
    unsigned threads;  /* checker threads, at least 1 */
    size_t batch_rows; /* rows a batch */
    size_t batches;    /* batches in the ring, at least 2 */
    long col;          /* the address field of a row */
    /* Runs once a row's result is in: offline on a checker thread;
     * with the network on the pushing thread, before 'ahead' (the
     * library's loop thread is the one to spare then). */
    void (*checked)(void *arg, mv_pooled_row *r);
    /* Runs on the pushing thread, row by row in input order; -1 stops
     * the run. */
    int (*emit)(void *arg, mv_pooled_row *r);
    /* Optional: runs on the pushing thread for a row a few rows before
     * it is emitted (to prefetch what emit will touch). */
    void (*ahead)(void *arg, const mv_pooled_row *r);
    void *arg;
} mv_rowpool_config;

typedef struct mv_rowpool mv_rowpool;

/* NULL when out of memory or a thread could not start. */
mv_rowpool *mv_rowpool_new(const mv_rowpool_config *cfg);
/* Copy 'row' in (a malformed one is not checked, only kept in order);
 * may emit earlier rows.  -1 when out of memory or emit failed. */
int mv_rowpool_push(mv_rowpool *p, const mv_csv_row *row);
/* Check and emit everything pushed; -1 when emit failed. */
int mv_rowpool_drain(mv_rowpool *p);
/* Waits for checks still running (emitting nothing more), stops the
 * threads.  NULL is a no-op. */
void mv_rowpool_free(mv_rowpool *p);

#endif
