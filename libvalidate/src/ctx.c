/*
 * ctx.c - options and the context: tables, the public suffix list and
 * the spoof checker, made once and only read afterwards.
 */
#include "internal.h"
#include "net.h"

#include <libpsl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unicode/uspoof.h>

void vl_options_init(vl_options *opt, size_t size)
{
    vl_options def = {0};

    def.struct_size = size < sizeof def ? size : sizeof def;
    def.flags = VL_OPT_PROVIDER_RULES;
    def.dns_timeout_ms = 2000;
    def.dns_tries = 2;
    def.dns_max_inflight = 256;
    def.deadline_ms = 10000;
    def.cache_ttl_min_s = 60;
    def.cache_ttl_max_s = 86400;
    def.cache_fail_ttl_s = 10;
    def.cache_max_entries = 200000;
    def.smtp_port = 25;
    def.smtp_tls = VL_SMTP_TLS_OPPORTUNISTIC;
    def.smtp_connect_timeout_ms = 10000;
    def.smtp_timeout_ms = 30000;
    def.smtp_rcpt_per_conn = 50;
    def.smtp_per_host = 2;
    def.smtp_rate = 10;
    memset(opt, 0, size);
    memcpy(opt, &def, def.struct_size);
}

/* Copy the caller's options, however old their struct: fields past
 * their struct_size keep our defaults. */
static void read_options(const vl_options *in, vl_options *out)
{
    vl_options_init(out, sizeof *out);
    if (in == NULL)
        return;
    size_t n = in->struct_size < sizeof *out ? in->struct_size : sizeof *out;
    memcpy(out, in, n);
    out->struct_size = sizeof *out;
}

/* Prefer the newer of libpsl's built-in list and the system file
 * (Debian's publicsuffix package), as psl_latest() decides. */
static vl_status open_psl(vl_ctx *ctx)
{
    psl_ctx_t *psl = psl_latest(NULL);

    if (psl != NULL) {
        ctx->psl = psl;
        ctx->psl_owned = true;
        return VL_OK;
    }
    ctx->psl = psl_builtin(); /* may be NULL: then no TLD judgement */
    return VL_OK;
}

static vl_status open_spoof(vl_ctx *ctx)
{
    UErrorCode ec = U_ZERO_ERROR;
    USpoofChecker *sc = uspoof_open(&ec);

    if (U_FAILURE(ec))
        return VL_EINTERNAL;
    uspoof_setRestrictionLevel(sc, USPOOF_MODERATELY_RESTRICTIVE);
    uspoof_setChecks(
        sc, USPOOF_RESTRICTION_LEVEL | USPOOF_INVISIBLE | USPOOF_MIXED_NUMBERS,
        &ec);
    if (U_FAILURE(ec)) {
        uspoof_close(sc);
        return VL_EINTERNAL;
    }
    ctx->spoof = sc;
    return VL_OK;
}

vl_status vl_ctx_new(const vl_options *in, vl_ctx **out, char *err,
                     size_t err_cap)
{
    vl_options opt;
    vl_status st = VL_ENOMEM;
    vl_ctx *ctx = calloc(1, sizeof *ctx);

    *out = NULL;
    if (err && err_cap)
        err[0] = '\0';
    read_options(in, &opt);
    if (ctx == NULL)
        goto fail;
    ctx->flags = opt.flags;
    ctx->store = opt.store;
    if (opt.scope != NULL &&
        (st = vl__copy_field(ctx->scope, sizeof ctx->scope, opt.scope,
                             strlen(opt.scope))) != VL_OK) {
        if (err && err_cap)
            snprintf(err, err_cap, "scope: longer than %d bytes",
                     VL_STORE_SCOPE_CAP - 1);
        goto fail;
    }
    ctx->id = vl__facts_new_ctx_id();
    if ((st = vl__tables_load(&ctx->tables, &opt, err, err_cap)) != VL_OK)
        goto fail;
    if ((st = open_psl(ctx)) != VL_OK)
        goto fail;
    if (!(opt.flags & VL_OPT_NO_SPOOF_CHECK) &&
        (st = open_spoof(ctx)) != VL_OK)
        goto fail;
    if (!(opt.flags & VL_OPT_OFFLINE) &&
        (st = vl__net_start(&opt, &ctx->tables.unverifiable, &ctx->net, err,
                            err_cap)) != VL_OK)
        goto fail;
    *out = ctx;
    return VL_OK;
fail:
    if (err && err_cap && err[0] == '\0')
        snprintf(err, err_cap, "%s", vl_strerror(st));
    vl_ctx_free(ctx);
    return st;
}

void vl_ctx_free(vl_ctx *ctx)
{
    if (ctx == NULL)
        return;
    vl__net_stop(ctx->net);
    vl__tables_free(&ctx->tables);
    if (ctx->psl_owned)
        psl_free((psl_ctx_t *)ctx->psl);
    if (ctx->spoof)
        uspoof_close(ctx->spoof);
    free(ctx);
}

void vl_ctx_stats(vl_ctx *ctx, vl_stats *out)
{
    memset(out, 0, sizeof *out);
    if (ctx->net != NULL)
        vl__net_stats(ctx->net, out);
}
