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

#include <stddef.h>

#include "validate.h"

typedef struct mv_window mv_window;

/* 'in' is the input as pushed (borrowed for the call); 'res' is borrowed
 * too and freed after the call. */
typedef int (*mv_emit_fn)(void *arg, const char *in, size_t len,
                          size_t full_len, vl_result *res);

mv_window *mv_window_new(vl_ctx *ctx, size_t cap, mv_emit_fn emit, void *arg);
/* Push one address ('full_len' > 'len' when the reader cut it); may emit
 * earlier ones.  -1 when a check or 'emit' failed. */
int mv_window_push(mv_window *w, const char *in, size_t len, size_t full_len);
/* Wait for and emit everything pushed. */
int mv_window_drain(mv_window *w);
void mv_window_free(mv_window *w);

#endif
