/*
 * policy.c - the keep/drop decision of "mailvet clean" (policy.h).
 */
#include "policy.h"

#include <stdio.h>
#include <string.h>

void mv_policy_init(mv_policy *p)
{
    memset(p, 0, sizeof *p);
    p->drop_verdict[VL_UNDELIVERABLE] = true;
    p->drop_reason[VL_R_DISPOSABLE] = true;
}

static int verdict_from_name(const char *s, size_t n)
{
    for (int v = VL_DELIVERABLE; v <= VL_UNDELIVERABLE; v++) {
        const char *name = vl_verdict_name((vl_verdict)v);
        if (strlen(name) == n && memcmp(name, s, n) == 0)
            return v;
    }
    return -1;
}

static int apply_one(mv_policy *p, const char *s, size_t n, bool drop,
                     const char *opt)
{
    int v = verdict_from_name(s, n);
    vl_reason r;

    if (v >= 0) {
        p->drop_verdict[v] = drop;
        return 0;
    }
    if (vl_reason_from_name(s, n, &r) == VL_OK) {
        p->drop_reason[r] = drop;
        p->keep_reason[r] = !drop;
        return 0;
    }
    fprintf(stderr,
            "mailvet: %s: '%.*s' is no verdict or reason name (see "
            "README.md, \"Reason codes\")\n",
            opt, (int)n, s);
    return -1;
}

int mv_policy_apply(mv_policy *p, const char *list, bool drop, const char *opt)
{
    const char *s = list;

    for (;;) {
        const char *comma = strchr(s, ',');
        size_t n = comma ? (size_t)(comma - s) : strlen(s);
        if (n > 0 && apply_one(p, s, n, drop, opt) < 0)
            return -1;
        if (comma == NULL)
            return 0;
        s = comma + 1;
    }
}

bool mv_policy_drops(const mv_policy *p, const vl_result *res)
{
    vl_verdict v = vl_result_verdict(res);
    size_t n = vl_result_reason_count(res);
    bool implied = false;

    for (size_t i = 0; i < n; i++) {
        vl_reason r = vl_result_reason(res, i);
        vl_verdict rv = vl_reason_verdict(r);
        if (p->drop_reason[r])
            return true;
        if (p->drop_verdict[rv] && !p->keep_reason[r])
            return true;
        implied |= rv == v;
    }
    return p->drop_verdict[v] && !implied;
}
