/*
 * window.h - check many addresses at once, answers in input order.
 *
 * Addresses go to vl_check_async() as they come; up to 'cap' may be
 * waiting for the network at once.  Answers are handed to 'emit' in the
 * order the addresses were pushed, on the pushing thread, so output is
 * deterministic however the lookups finish.  Memory is bounded by the
 * window: a push into a full window waits for the oldest answer.
 */
#ifndef MV_WINDOW_H
#define MV_WINDOW_H

#include <stdbool.h>
#include <stddef.h>

#include "validate.h"

typedef struct mv_window mv_window;

/* 'in' is the input as pushed (borrowed for the call); 'res' is borrowed
 * too and freed after the call (NULL when the check could not run, or
 * was not asked for).  'tag' is the caller's, as pushed. */
typedef int (*mv_emit_fn)(void *arg, const char *in, size_t len,
                          size_t full_len, vl_result *res, void *tag);

mv_window *mv_window_new(vl_ctx *ctx, size_t cap, mv_emit_fn emit, void *arg);
/* Push one address ('full_len' > 'len' when the reader cut it); may emit
 * earlier ones.  -1 when a check or 'emit' failed. */
int mv_window_push(mv_window *w, const char *in, size_t len, size_t full_len);
/* The same with a caller's 'tag' handed back to 'emit'.  With 'check'
 * false nothing is checked: the entry only keeps its place in the order
 * and is emitted with 'res' NULL (a row that could not be read, say). */
int mv_window_push_tag(mv_window *w, const char *in, size_t len,
                       size_t full_len, void *tag, bool check);
/* Wait for and emit everything pushed. */
int mv_window_drain(mv_window *w);
void mv_window_free(mv_window *w);

#endif
