/*
 * testutil.h - what the unit tests share: an offline context (no loop
 * thread, no resolver) and one result, made in the group set-up and
 * freed in its tear-down.  Include after cmocka.h.
 */
#ifndef VL_TESTUTIL_H
#define VL_TESTUTIL_H

#include "validate.h"

static vl_ctx *ctx;
static vl_result *res;

/* An offline context with 'add' flags set and 'drop' flags cleared. */
static inline vl_ctx *offline_ctx(unsigned add, unsigned drop)
{
    vl_options opt;
    vl_ctx *c;

    VL_OPTIONS_INIT(&opt);
    opt.flags = (opt.flags | VL_OPT_OFFLINE | add) & ~drop;
    return vl_ctx_new(&opt, &c, NULL, 0) == VL_OK ? c : NULL;
}

static inline int setup(void **state)
{
    (void)state;
    ctx = offline_ctx(0, 0);
    return ctx != NULL && vl_result_new(&res) == VL_OK ? 0 : -1;
}

static inline int teardown(void **state)
{
    (void)state;
    vl_result_free(res);
    vl_ctx_free(ctx);
    return 0;
}

#endif
