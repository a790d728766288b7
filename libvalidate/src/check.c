/*
 * check.c - the pipeline: trim, syntax, normalisation, tables, store,
 * then (on the loop thread) DNS.
 *
 * A stage that decides (a rejection) stops the walk; otherwise each
 * stage adds its reasons and the worst verdict wins (validate.h).  The
 * offline stages are pure: no I/O, no locks, nothing written outside
 * the caller's result, so any number of threads may check at once.
 */
#include "internal.h"
#include "net.h"

#include <pthread.h>
#include <string.h>

/* Leading and trailing paste debris: SP, HTAB, CR, LF and, as UTF-8,
 * U+00A0 NO-BREAK SPACE, U+200B ZERO WIDTH SPACE, U+FEFF BOM. */
static size_t junk_at(const unsigned char *s, size_t n)
{
    if (n >= 1 &&
        (s[0] == ' ' || s[0] == '\t' || s[0] == '\r' || s[0] == '\n'))
        return 1;
    if (n >= 2 && s[0] == 0xC2 && s[1] == 0xA0)
        return 2;
    if (n >= 3 && s[0] == 0xE2 && s[1] == 0x80 && s[2] == 0x8B)
        return 3;
    if (n >= 3 && s[0] == 0xEF && s[1] == 0xBB && s[2] == 0xBF)
        return 3;
    return 0;
}

static size_t junk_before(const unsigned char *s, size_t n)
{
    if (n >= 1 && (s[n - 1] == ' ' || s[n - 1] == '\t' || s[n - 1] == '\r' ||
                   s[n - 1] == '\n'))
        return 1;
    if (n >= 2 && junk_at(s + n - 2, 2) == 2)
        return 2;
    if (n >= 3 && junk_at(s + n - 3, 3) == 3)
        return 3;
    return 0;
}

void vl__trim(const char **s, size_t *len)
{
    const unsigned char *p = (const unsigned char *)*s;
    size_t n = *len, k;

    while ((k = junk_at(p, n)) > 0)
        p += k, n -= k;
    while ((k = junk_before(p, n)) > 0)
        n -= k;
    *s = (const char *)p;
    *len = n;
}

/* Suggestions that fix a syntax error outright. */
static void syntax_suggestion(const char *s, size_t len, vl_reason r,
                              const vl__syntax_parts *p, vl_result *res)
{
    size_t n = 0;
    const char *from = s;

    if (r == VL_R_SYNTAX_DISPLAY_NAME)
        from = s + p->inner_off, n = p->inner_len;
    else if (r == VL_R_SYNTAX_DOMAIN_TRAILING_DOT)
        n = len - 1;
    if (n > 0 && vl__copy_field(res->suggestion, sizeof res->suggestion, from,
                                n) == VL_OK)
        res->has_suggestion = 1;
}

/* Local part for role matching: lower-case, "+tag" dropped. */
static size_t role_key(const char *local, size_t n, char *out)
{
    size_t w = 0;

    for (size_t i = 0; i < n && w < VL__LOCAL_MAX; i++) {
        if (local[i] == '+' && w > 0)
            break;
        out[w++] = vl__lower(local[i]);
    }
    return w;
}

void vl__tables_check(const vl_ctx *ctx, const char *local, size_t local_len,
                      vl_result *res)
{
    const char *d = res->domain_ascii;
    char key[VL__LOCAL_MAX];
    vl__facts f;

    res->stages |= VL_STAGE_TABLES;
    size_t klen = role_key(local, local_len, key);
    if (vl__strset_has(&ctx->tables.role, key, klen))
        vl__result_add(res, VL_R_ROLE);
    if (d[0] == '[')
        return; /* address literal: no domain tables apply */
    vl__domain_facts(ctx, d, strlen(d), &f);
    if (f.flags & VL__F_RESERVED) {
        vl__result_add(res, VL_R_RESERVED_DOMAIN);
        return;
    }
    if (f.flags & VL__F_DISPOSABLE)
        vl__result_add(res, VL_R_DISPOSABLE);
    if (f.flags & VL__F_FREE)
        vl__result_add(res, VL_R_FREE_PROVIDER);
    if (f.flags & VL__F_UNKNOWN_TLD)
        vl__result_add(res, VL_R_UNKNOWN_TLD);
    if (f.flags & VL__F_SINGLE_LABEL)
        vl__result_add(res, VL_R_SINGLE_LABEL_DOMAIN);
    if (f.fix_len > 0) {
        vl__result_suggest(res, local, local_len, f.fix, f.fix_len);
        vl__result_add(res, VL_R_POSSIBLE_TYPO);
    }
}

/* The store stage (DESIGN.md stage 4): after the tables, before any
 * network stage.  A suppressed address is undeliverable with
 * suppressed_<source> and no network work; a store that cannot answer
 * adds store_unavailable ("unknown"), never undeliverable. */
static bool check_store(const vl_ctx *ctx, vl_result *res)
{
    static const vl_reason by_source[] = {
        [VL_SRC_VALIDATION] = VL_R_SUPPRESSED_VALIDATION,
        [VL_SRC_HARD_BOUNCE] = VL_R_SUPPRESSED_HARD_BOUNCE,
        [VL_SRC_SOFT_BOUNCE] = VL_R_SUPPRESSED_SOFT_BOUNCE,
        [VL_SRC_MANUAL] = VL_R_SUPPRESSED_MANUAL,
    };
    vl_store_entry e;
    vl_status st;

    res->stages |= VL_STAGE_STORE;
    st = vl__store_check(ctx->store, res, ctx->flags, ctx->scope, &e);
    if (st == VL_ENOTFOUND)
        return false;
    if (st != VL_OK || (unsigned)e.source > VL_SRC_MANUAL) {
        vl__result_add(res, VL_R_STORE_UNAVAILABLE);
        return false;
    }
    vl__result_add(res, by_source[e.source]);
    return true;
}

/* The offline stages.  Sets '*network' when the DNS stage should run:
 * a domain name (not a literal) on an address nothing has ruled out. */
static vl_status check_offline(const vl_ctx *ctx, const char *addr, size_t len,
                               vl_result *res, bool *network)
{
    vl__syntax_parts p;
    vl_reason r;
    vl_status st;

    *network = false;
    vl__result_reset(res);
    vl__trim(&addr, &len);
    res->stages = VL_STAGE_SYNTAX;
    r = vl__syntax_parse(addr, len, &p);
    if (r != VL__SYNTAX_OK) {
        res->error_offset = (long)p.error_offset;
        vl__result_add(res, r);
        syntax_suggestion(addr, len, r, &p, res);
        return VL_OK;
    }
    if (p.flags & VL__SYN_QUOTED)
        vl__result_add(res, VL_R_QUOTED_LOCAL_PART);
    if (p.flags & VL__SYN_LITERAL)
        vl__result_add(res, VL_R_ADDRESS_LITERAL);
    if ((st = vl__normalise(ctx, addr, &p, res)) != VL_OK)
        return st;
    if (res->verdict == VL_UNDELIVERABLE)
        return VL_OK; /* IDNA rejected the domain */
    vl__tables_check(ctx, addr + p.local_off, p.local_len, res);
    if (ctx->store != NULL && res->verdict != VL_UNDELIVERABLE &&
        check_store(ctx, res))
        return VL_OK; /* suppressed: no network work at all */
    *network = ctx->net != NULL && res->verdict != VL_UNDELIVERABLE &&
               !(p.flags & VL__SYN_LITERAL);
    return VL_OK;
}

/* vl_check() waits for the loop thread here. */
typedef struct sync_wait {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    bool done;
    vl_status st;
} sync_wait;

static void on_sync_done(void *arg, vl_status st, vl_result *res)
{
    sync_wait *w = arg;

    (void)res; /* the caller of vl_check() holds it */
    pthread_mutex_lock(&w->mu);
    w->done = true;
    w->st = st;
    pthread_cond_signal(&w->cv);
    pthread_mutex_unlock(&w->mu);
}

static vl_status wait_network(vl_ctx *ctx, vl_result *res, unsigned flags)
{
    sync_wait w = {.done = false, .st = VL_OK};
    vl_status st;

    if (vl__net_on_loop_thread(ctx->net))
        return VL_EINVAL; /* it would wait for itself */
    pthread_mutex_init(&w.mu, NULL);
    pthread_cond_init(&w.cv, NULL);
    st = vl__net_submit(ctx->net, res, false, flags, on_sync_done, &w);
    if (st == VL_OK) {
        pthread_mutex_lock(&w.mu);
        while (!w.done)
            pthread_cond_wait(&w.cv, &w.mu);
        pthread_mutex_unlock(&w.mu);
        st = w.st;
    }
    pthread_cond_destroy(&w.cv);
    pthread_mutex_destroy(&w.mu);
    return st;
}

vl_status vl_check(vl_ctx *ctx, const char *addr, size_t len, vl_result *res)
{
    return vl_check_ex(ctx, addr, len, 0, res);
}

vl_status vl_check_ex(vl_ctx *ctx, const char *addr, size_t len,
                      unsigned flags, vl_result *res)
{
    bool network;
    vl_status st;

    if (ctx == NULL || res == NULL || (addr == NULL && len > 0))
        return VL_EINVAL;
    if ((st = check_offline(ctx, addr, len, res, &network)) != VL_OK)
        return st;
    return network ? wait_network(ctx, res, flags) : VL_OK;
}

vl_status vl_check_async(vl_ctx *ctx, const char *addr, size_t len,
                         vl_check_cb cb, void *arg)
{
    return vl_check_async_ex(ctx, addr, len, 0, cb, arg);
}

vl_status vl_check_async_ex(vl_ctx *ctx, const char *addr, size_t len,
                            unsigned flags, vl_check_cb cb, void *arg)
{
    vl_result *res;
    bool network;
    vl_status st;

    if (ctx == NULL || cb == NULL || (addr == NULL && len > 0))
        return VL_EINVAL;
    if ((st = vl_result_new(&res)) != VL_OK)
        return st;
    if ((st = check_offline(ctx, addr, len, res, &network)) != VL_OK ||
        (network && (st = vl__net_submit(ctx->net, res, true, flags, cb,
                                         arg)) != VL_OK)) {
        vl_result_free(res);
        return st;
    }
    if (!network)
        cb(arg, VL_OK, res);
    return VL_OK;
}

vl_status vl_check_many_async(vl_ctx *ctx, vl_check_item *items, size_t n,
                              vl_check_cb cb)
{
    vl__net_batch b = {NULL, NULL};

    if (ctx == NULL || cb == NULL || (items == NULL && n > 0))
        return VL_EINVAL;
    for (size_t i = 0; i < n; i++)
        if (items[i].res == NULL || (items[i].addr == NULL && items[i].len))
            return VL_EINVAL;
    for (size_t i = 0; i < n; i++) {
        vl_check_item *it = &items[i];
        bool network;
        vl_status st =
            check_offline(ctx, it->addr, it->len, it->res, &network);
        if (st == VL_OK && network &&
            (st = vl__net_batch_add(ctx->net, &b, it->res, cb, it->arg)) ==
                VL_OK)
            continue;    /* answered by the loop */
        if (st != VL_OK) /* could not check: unknown, never worse */
            vl__result_add(it->res, VL_R_DNS_ERROR);
        cb(it->arg, st, it->res);
    }
    if (b.head != NULL)
        vl__net_batch_submit(ctx->net, &b);
    return VL_OK;
}
