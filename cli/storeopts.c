/*
 * storeopts.c - the shared store options (see storeopts.h).
 */
#include "storeopts.h"

#include <string.h>

#include "cli.h"

void mv_store_opts_init(mv_store_opts *o)
{
    memset(o, 0, sizeof *o);
    VL_STORE_CONFIG_INIT(&o->cfg);
}

int mv_store_opts_parse(mv_store_opts *o, int c, const char *arg)
{
    switch (c) {
    case MV_OPT_STORE:
        o->where = arg;
        return 1;
    case MV_OPT_SCOPE:
        o->scope = arg;
        return 1;
    case MV_OPT_RECORD:
        o->record = true;
        return 1;
    case MV_OPT_EXPIRE:
        if (mv_parse_duration(arg, &o->cfg.expire_after_s) != 0 ||
            o->cfg.expire_after_s == 0) {
            fprintf(stderr, "mailvet: --expire-after: bad value '%s'\n", arg);
            return -1;
        }
        return 1;
    }
    return 0;
}

int mv_store_opts_check(const mv_store_opts *o)
{
    if ((o->record || o->scope || o->cfg.expire_after_s) && o->where == NULL) {
        fputs("mailvet: --record, --scope and --expire-after need --store\n",
              stderr);
        return -1;
    }
    return 0;
}

int mv_store_opts_open(mv_store_opts *o, vl_options *lib)
{
    const char *why;

    if (o->where == NULL)
        return 0;
    /* A store that cannot be reached now (a server down) must not fail
     * the run: its addresses are "unknown", store_unavailable, and the
     * store is opened as soon as it answers. */
    o->cfg.open_unreachable = 1;
    o->store = mv_store_open(
        strcmp(o->where, "default") == 0 ? NULL : o->where, &o->cfg);
    if (o->store == NULL)
        return -1;
    if ((why = vl_store_errmsg(o->store))[0] != '\0')
        fprintf(stderr,
                "mailvet: store: %s; until it answers, checks say "
                "store_unavailable\n",
                why);
    lib->store = o->store;
    lib->scope = o->scope;
    return 0;
}

int mv_store_opts_record(mv_store_opts *o, const vl_result *res)
{
    int recorded;
    vl_status st;

    if (!o->record || res == NULL)
        return 0;
    st = vl_store_record_result(o->store, res, o->scope, &recorded);
    if (st != VL_OK) {
        const char *m = vl_store_errmsg(o->store);
        fprintf(stderr, "mailvet: store: record: %s%s%s\n", vl_strerror(st),
                m[0] ? ": " : "", m);
        return -1;
    }
    o->n_recorded += (size_t)recorded;
    return 0;
}

void mv_store_opts_close(mv_store_opts *o, bool quiet)
{
    vl_store_close(o->store);
    o->store = NULL;
    if (o->record && !quiet)
        fprintf(stderr, "mailvet: %zu verdict(s) recorded in the store\n",
                o->n_recorded);
}

void mv_store_opts_usage(FILE *out)
{
    fputs(
        "  --store PATH|URI      suppress addresses in the invalid-address\n"
        "                        store (undeliverable, suppressed_<source>,\n"
        "                        no network work); 'default' is the file\n"
        "                        'mailvet store' uses by default\n"
        "  --scope S             the store scope (brand, tenant) to check\n"
        "  --record              write permanent undeliverable verdicts to\n"
        "                        the store (never a temporary failure)\n"
        "  --expire-after DUR    store entries untouched this long do not\n"
        "                        suppress (365d, 12w, 48h)\n",
        out);
}
