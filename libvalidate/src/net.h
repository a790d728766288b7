/*
 * net.h - the context's loop thread and the checks waiting on it
 * (net.c).  Private to libvalidate.
 */
#ifndef VL_NET_H
#define VL_NET_H

#include "internal.h"

typedef struct vl__net vl__net;

/* Start the loop thread with a resolver configured from 'opt', and the
 * SMTP prober when VL_OPT_SMTP is set ('unverifiable' is its table of
 * providers not to probe, borrowed for the net's life). */
vl_status vl__net_start(const vl_options *opt, const vl__strset *unverifiable,
                        vl__net **out, char *err, size_t err_cap);
/* Stop the thread; checks still waiting are answered "unknown". */
void vl__net_stop(vl__net *n);

/* Hand 'res' (its offline stages done, domain_ascii set) to the loop.
 * 'cb' runs once on the loop thread; it receives 'res' when 'owned'
 * (vl_check_async), NULL otherwise (vl_check, which still holds it).
 * 'flags' are the check's VL_CHECK_*. */
vl_status vl__net_submit(vl__net *n, vl_result *res, bool owned,
                         unsigned flags, vl_check_cb cb, void *arg);

/* Checks put together, then handed to the loop at once (one lock, one
 * wake-up).  'cb' receives 'res' (the caller's). */
typedef struct vl__net_batch {
    struct job *head, *tail;
} vl__net_batch;

vl_status vl__net_batch_add(vl__net *n, vl__net_batch *b, vl_result *res,
                            vl_check_cb cb, void *arg);
/* Hand the batch over and empty it.  When the loop is stopping, every
 * check of the batch is answered here instead, "unknown" (VL_ETEMP). */
void vl__net_batch_submit(vl__net *n, vl__net_batch *b);
bool vl__net_on_loop_thread(const vl__net *n);
void vl__net_stats(vl__net *n, vl_stats *out);

#endif /* VL_NET_H */
