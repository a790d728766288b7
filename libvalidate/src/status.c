/*
 * status.c - static text for statuses, verdicts, reasons and stages.
 *
 * The switch statements have no default so that -Wswitch flags a new
 * enum value that has no text yet.
 */
#include "internal.h"

#include <string.h>

const char *vl_version(void)
{
    return VL_VERSION_STRING;
}

const char *vl_strerror(vl_status st)
{
    switch (st) {
    case VL_OK:
        return "success";
    case VL_ENOMEM:
        return "out of memory";
    case VL_EINVAL:
        return "invalid argument";
    case VL_ETOOLONG:
        return "value too long";
    case VL_EIO:
        return "input/output error";
    case VL_EDATA:
        return "malformed data file";
    case VL_ETEMP:
        return "temporary failure";
    case VL_EINTERNAL:
        return "internal error";
    case VL_ENOTFOUND:
        return "not found";
    }
    return "unknown status";
}

const char *vl_verdict_name(vl_verdict v)
{
    switch (v) {
    case VL_DELIVERABLE:
        return "deliverable";
    case VL_RISKY:
        return "risky";
    case VL_UNKNOWN:
        return "unknown";
    case VL_UNDELIVERABLE:
        return "undeliverable";
    }
    return "unknown";
}

static const char *const reason_names[] = {
#define X(id, name, verdict) name,
    VL_REASON_MAP(X)
#undef X
};

static const vl_verdict reason_verdicts[] = {
#define X(id, name, verdict) VL_##verdict,
    VL_REASON_MAP(X)
#undef X
};

const char *vl_reason_name(vl_reason r)
{
    if ((unsigned)r >= VL_R__COUNT)
        return NULL;
    return reason_names[r];
}

vl_verdict vl_reason_verdict(vl_reason r)
{
    if ((unsigned)r >= VL_R__COUNT)
        return VL_UNKNOWN;
    return reason_verdicts[r];
}

vl_status vl_reason_from_name(const char *name, size_t len, vl_reason *out)
{
    for (unsigned i = 0; i < VL_R__COUNT; i++) {
        if (strlen(reason_names[i]) == len &&
            memcmp(reason_names[i], name, len) == 0) {
            *out = (vl_reason)i;
            return VL_OK;
        }
    }
    return VL_EINVAL;
}

const char *vl_stage_name(vl_stage s)
{
    switch (s) {
    case VL_STAGE_SYNTAX:
        return "syntax";
    case VL_STAGE_NORMALISE:
        return "normalise";
    case VL_STAGE_TABLES:
        return "tables";
    case VL_STAGE_DNS:
        return "dns";
    case VL_STAGE_STORE:
        return "store";
    case VL_STAGE_SMTP:
        return "smtp";
    }
    return NULL;
}
