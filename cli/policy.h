/*
 * policy.h - which rows "mailvet clean" drops: a drop list and a keep
 * list of verdict and reason names (README.md "Policy").
 *
 * Default: drop "undeliverable" and "disposable"; keep the rest.  A
 * reason on the drop list drops every row that has it.  A verdict on
 * the drop list drops every row with a reason of that verdict (or with
 * that verdict and no such reason, e.g. a plain "deliverable"), except
 * rows whose only reasons of that verdict are on the keep list.  Naming
 * something in --keep takes it off the drop list, and the reverse.
 */
#ifndef MV_POLICY_H
#define MV_POLICY_H

#include <stdbool.h>

#include "validate.h"

typedef struct mv_policy {
    bool drop_verdict[VL_UNDELIVERABLE + 1];
    bool drop_reason[VL_R__COUNT];
    bool keep_reason[VL_R__COUNT];
} mv_policy;

void mv_policy_init(mv_policy *p);
/* Apply a comma-separated list of verdict and reason names to the drop
 * list ('drop') or the keep list.  -1 for an unknown name (said on
 * stderr, naming 'opt'). */
int mv_policy_apply(mv_policy *p, const char *list, bool drop,
                    const char *opt);
bool mv_policy_drops(const mv_policy *p, const vl_result *res);

#endif
