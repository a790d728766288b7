/*
 * store.c - the invalid-address store's front: keys, rules, locking.
 *
 * Backends (store_sqlite.c, store_pg.c, a test's fault store) only keep
 * rows behind a vl_store_ops table; every rule lives here so that all
 * of them behave alike:
 *  - hard bounce (5yz, RFC 5321 §4.2.1; 5.x.x, RFC 3463 §3.1):
 *    suppress at once;
 *  - soft bounces (4yz / 4.x.x): suppress once 'soft_threshold' fall
 *    within 'soft_window_s'; one alone never does (DESIGN.md's one
 *    rule: a temporary failure never makes an address undeliverable);
 *  - validation: only an undeliverable verdict with no "unknown"-class
 *    reason, and never over a person's removal;
 *  - manual: suppress;
 *  - removal keeps the row (who, when); a hard bounce, soft bounces
 *    reaching the threshold again, or a manual add bring it back;
 *  - expiry (optional): untouched for 'expire_after_s', it stops
 *    suppressing.
 *
 * Lookups are answered from memory once a handle has made
 * 'cache_after' of them (store_cache.c holds the set): the handle loads
 * every suppressing entry through the backend's changes(), then before
 * each lookup asks the backend's changed() (SQLite: a look at shared
 * memory) or, for a backend that cannot tell without a query
 * (PostgreSQL), reads the changes at most every 'cache_check_ms'.  A
 * write through this handle marks the cache stale, so the next lookup
 * reads the changes first.  Inside a batch, lookups query the backend:
 * they must see the batch's own uncommitted writes, which the cache
 * must not take in before they commit.  A cache that would pass
 * 'cache_max_bytes' is dropped, and lookups query the backend again.
 *
 * With 'open_unreachable', a backend that cannot be reached at open is
 * opened later: every call until then is VL_ETEMP (a reader answers
 * store_unavailable), and one call every REOPEN_MS tries again.
 *
 * Keys come from the library's own offline pipeline (syntax, IDNA,
 * NFC, provider rules), never from ad-hoc lower-casing, so a key is the
 * deduplication key.  One mutex serialises every call on a store, so a
 * handle may be shared by threads; backends need no locking of their
 * own.  What it does not do: network, or any decision about verdicts
 * beyond "suppressed or not".
 */
#include "internal.h"
#include "store_cache.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

enum { REOPEN_MS = 250 };

typedef enum { CACHE_COLD, CACHE_ON, CACHE_OFF } cache_state;

struct vl_store {
    const vl_store_ops *ops; /* NULL: not open yet (open_unreachable) */
    void *be;
    vl_store_config cfg;
    vl_ctx *keyctx;    /* offline context that makes the keys */
    vl_result *keyres; /* its scratch result; under 'mu' */
    pthread_mutex_t mu;
    bool in_batch;
    /* Not open yet: where, when to try again, and why it failed. */
    char *where;
    int64_t reopen_at_ms;
    char msg[512];
    /* The lookup cache; everything under 'mu'. */
    cache_state cache;
    vl__scache set;
    unsigned cold_lookups; /* answered by the backend while COLD */
    uint64_t upto;         /* changes() high-water mark */
    bool stale;            /* read the changes before the next answer */
    int64_t checked_ms;    /* when changes() last ran (or began) */
    uint64_t seed_none;    /* vl__scache_seed("") */
};

static const char *const source_names[] = {"validation", "hard_bounce",
                                           "soft_bounce", "manual"};

const char *vl_store_source_name(vl_store_source s)
{
    if ((unsigned)s >= sizeof source_names / sizeof source_names[0])
        return NULL;
    return source_names[s];
}

vl_status vl_store_source_from_name(const char *name, vl_store_source *out)
{
    for (unsigned i = 0; i < sizeof source_names / sizeof source_names[0];
         i++) {
        if (strcmp(name, source_names[i]) == 0) {
            *out = (vl_store_source)i;
            return VL_OK;
        }
    }
    return VL_EINVAL;
}

void vl_store_config_init(vl_store_config *cfg, size_t size)
{
    vl_store_config def = {0};

    def.struct_size = size < sizeof def ? size : sizeof def;
    def.flags = VL_OPT_PROVIDER_RULES;
    def.soft_threshold = 3;
    def.soft_window_s = 30 * 86400;
    def.expire_after_s = 0;
    def.busy_timeout_ms = 10000;
    def.cache_max_bytes = (size_t)256 << 20;
    def.cache_after = 1000;
    def.cache_check_ms = 100;
    memset(cfg, 0, size);
    memcpy(cfg, &def, def.struct_size);
}

static int64_t now_s(void)
{
    return (int64_t)time(NULL);
}

static int64_t now_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

vl_status vl_store_default_path(char *buf, size_t cap)
{
    const char *xdg = getenv("XDG_DATA_HOME");
    const char *home = getenv("HOME");
    int n;

    /* XDG Base Directory: an unset or relative XDG_DATA_HOME means
     * $HOME/.local/share. */
    if (xdg != NULL && xdg[0] == '/')
        n = snprintf(buf, cap, "%s/mailvet/store.db", xdg);
    else if (home != NULL && home[0] != '\0')
        n = snprintf(buf, cap, "%s/.local/share/mailvet/store.db", home);
    else
        return VL_EINVAL;
    return n < 0 || (size_t)n >= cap ? VL_ETOOLONG : VL_OK;
}

static void set_err(char *err, size_t cap, const char *msg)
{
    if (err != NULL && cap > 0)
        snprintf(err, cap, "%s", msg);
}

/* The front without a backend: config, key context, lock. */
static vl_status store_new(const vl_store_config *cfg, vl_store **out,
                           char *err, size_t err_cap)
{
    vl_store *st;
    vl_options kopt;
    vl_status rc;

    *out = NULL;
    if ((st = calloc(1, sizeof *st)) == NULL)
        return VL_ENOMEM;
    vl_store_config_init(&st->cfg, sizeof st->cfg);
    if (cfg != NULL)
        memcpy(&st->cfg, cfg,
               cfg->struct_size < sizeof st->cfg ? cfg->struct_size
                                                 : sizeof st->cfg);
    st->cfg.struct_size = sizeof st->cfg;
    if (st->cfg.soft_threshold < 2 ||
        st->cfg.soft_threshold > VL_STORE_SOFT_MAX ||
        st->cfg.soft_window_s <= 0 || st->cfg.expire_after_s < 0) {
        set_err(err, err_cap,
                "store: soft threshold must be 2-16 and "
                "the window and expiry positive");
        free(st);
        return VL_EINVAL;
    }
    VL_OPTIONS_INIT(&kopt);
    kopt.flags = VL_OPT_OFFLINE | VL_OPT_NO_SPOOF_CHECK |
                 (st->cfg.flags & VL_OPT_PROVIDER_RULES);
    if ((rc = vl_ctx_new(&kopt, &st->keyctx, err, err_cap)) != VL_OK ||
        (rc = vl_result_new(&st->keyres)) != VL_OK) {
        vl_ctx_free(st->keyctx);
        free(st);
        return rc;
    }
    pthread_mutex_init(&st->mu, NULL);
    st->seed_none = vl__scache_seed("");
    st->cache = st->cfg.cache_max_bytes ? CACHE_COLD : CACHE_OFF;
    *out = st;
    return VL_OK;
}

vl_status vl_store_open_ops(const vl_store_ops *ops, void *be,
                            const vl_store_config *cfg, vl_store **out,
                            char *err, size_t err_cap)
{
    vl_status rc;

    *out = NULL;
    if (ops == NULL || ops->version < VL_STORE_OPS_V1)
        return VL_EINVAL;
    if ((rc = store_new(cfg, out, err, err_cap)) != VL_OK)
        return rc;
    (*out)->ops = ops;
    (*out)->be = be;
    if (ops->version < VL_STORE_OPS_V2 || ops->changes == NULL)
        (*out)->cache = CACHE_OFF;
    return VL_OK;
}

static bool has_prefix(const char *s, const char *p)
{
    return strncmp(s, p, strlen(p)) == 0;
}

static bool is_pg(const char *where)
{
    return has_prefix(where, "postgresql://") ||
           has_prefix(where, "postgres://");
}

static vl_status open_backend(const char *where, const vl_store_config *c,
                              const vl_store_ops **ops, void **be, char *err,
                              size_t err_cap)
{
    if (is_pg(where))
        return vl__store_pg_open(where, c, ops, be, err, err_cap);
    if (has_prefix(where, "sqlite:"))
        where += strlen("sqlite:");
    return vl__store_sqlite_open(where, c, ops, be, err, err_cap);
}

/* A store whose backend could not be reached: opened by a later call
 * (ensure_open()). */
static vl_status open_later(const char *where, const vl_store_config *c,
                            const char *why, vl_store **out, char *err,
                            size_t err_cap)
{
    vl_status rc = store_new(c, out, err, err_cap);

    if (rc != VL_OK)
        return rc;
    if (((*out)->where = strdup(where)) == NULL) {
        vl_store_close(*out);
        *out = NULL;
        return VL_ENOMEM;
    }
    snprintf((*out)->msg, sizeof(*out)->msg, "%s", why);
    (*out)->reopen_at_ms = now_ms() + REOPEN_MS;
    return VL_OK;
}

/* Before every call that needs the backend; the caller holds st->mu. */
static vl_status ensure_open(vl_store *st)
{
    const vl_store_ops *ops;
    void *be;
    vl_status rc;

    if (st->ops != NULL)
        return VL_OK;
    if (now_ms() < st->reopen_at_ms)
        return VL_ETEMP;
    rc = open_backend(st->where, &st->cfg, &ops, &be, st->msg, sizeof st->msg);
    if (rc != VL_OK) {
        st->reopen_at_ms = now_ms() + REOPEN_MS;
        return rc;
    }
    st->ops = ops;
    st->be = be;
    st->msg[0] = '\0';
    if (ops->version < VL_STORE_OPS_V2 || ops->changes == NULL)
        st->cache = CACHE_OFF;
    return VL_OK;
}

vl_status vl_store_open(const char *where, const vl_store_config *cfg,
                        vl_store **out, char *err, size_t err_cap)
{
    char def[4096], why[512];
    const vl_store_ops *ops = NULL;
    void *be = NULL;
    vl_store_config c;
    vl_status rc;

    *out = NULL;
    vl_store_config_init(&c, sizeof c);
    if (cfg != NULL)
        memcpy(&c, cfg,
               cfg->struct_size < sizeof c ? cfg->struct_size : sizeof c);
    c.struct_size = sizeof c;
    if (where == NULL) {
        if ((rc = vl_store_default_path(def, sizeof def)) != VL_OK) {
            set_err(err, err_cap,
                    "store: no default path (set "
                    "XDG_DATA_HOME or HOME, or give one)");
            return rc;
        }
        where = def;
    }
    rc = open_backend(where, &c, &ops, &be, why, sizeof why);
    if (rc == VL_ETEMP && c.open_unreachable)
        return open_later(where, &c, why, out, err, err_cap);
    if (rc != VL_OK) {
        set_err(err, err_cap, why);
        return rc;
    }
    if ((rc = vl_store_open_ops(ops, be, &c, out, err, err_cap)) != VL_OK)
        ops->close(be);
    return rc;
}

void vl_store_close(vl_store *st)
{
    if (st == NULL)
        return;
    if (st->ops != NULL) {
        if (st->in_batch && st->ops->commit(st->be) != VL_OK)
            st->ops->rollback(st->be);
        st->ops->close(st->be);
    }
    vl__scache_free(&st->set);
    free(st->where);
    vl_result_free(st->keyres);
    vl_ctx_free(st->keyctx);
    pthread_mutex_destroy(&st->mu);
    free(st);
}

const char *vl_store_backend(const vl_store *st)
{
    if (st->ops == NULL)
        return is_pg(st->where) ? "postgresql" : "sqlite";
    return st->ops->name;
}

const char *vl_store_errmsg(vl_store *st)
{
    const char *m;

    if (st->ops == NULL)
        return st->msg;
    m = st->ops->errmsg ? st->ops->errmsg(st->be) : NULL;
    return m ? m : "";
}

/* ---- keys ----------------------------------------------------------- */

/* The domain part of a canonical key: after its last '@'. */
static const char *key_domain(const char *key)
{
    const char *at = strrchr(key, '@');
    return at ? at : key;
}

/* The canonical key of an address into st->keyres: the offline pipeline
 * as vl_check() runs it up to normalisation (trim, syntax, IDNA, NFC,
 * provider rules), without the table stage, which a key does not need
 * and which took a tenth of an import (a domain-table probe that misses
 * the cache on every new domain). */
static vl_status canonical_of(vl_store *st, const char *addr, size_t len)
{
    vl__syntax_parts p;

    vl__result_reset(st->keyres);
    vl__trim(&addr, &len);
    if (vl__syntax_parse(addr, len, &p) != VL__SYNTAX_OK)
        return VL_OK; /* no canonical key: not an address */
    return vl__normalise(st->keyctx, addr, &p, st->keyres);
}

/* Key of an address or "@domain"; the caller holds st->mu.  A domain is
 * keyed as the domain part of the canonical key of "postmaster@domain",
 * so provider rules apply to it exactly as to the addresses it covers
 * (googlemail.com is gmail.com). */
static vl_status make_key(vl_store *st, const char *addr, size_t len,
                          char *key, size_t cap)
{
    char tmp[VL_STORE_KEY_CAP + 16];
    bool domain = len > 0 && addr[0] == '@';
    vl_status rc;

    if (domain) {
        if (len - 1 + 11 >= sizeof tmp)
            return VL_ETOOLONG;
        memcpy(tmp, "postmaster@", 11);
        memcpy(tmp + 11, addr + 1, len - 1);
        addr = tmp;
        len = len - 1 + 11;
    }
    if ((rc = canonical_of(st, addr, len)) != VL_OK)
        return rc;
    const char *canon = vl_result_canonical(st->keyres);
    if (canon[0] == '\0')
        return VL_EINVAL;
    if (domain)
        canon = key_domain(canon);
    return vl__copy_field(key, cap, canon, strlen(canon));
}

vl_status vl_store_key(vl_store *st, const char *addr, size_t len, char *key,
                       size_t key_cap)
{
    vl_status rc;

    pthread_mutex_lock(&st->mu);
    rc = make_key(st, addr, len, key, key_cap);
    pthread_mutex_unlock(&st->mu);
    return rc;
}

/* Scope names: 0-64 bytes of [A-Za-z0-9._-]; NULL is "". */
static bool scope_ok(const char *s)
{
    size_t n = 0;

    for (; s != NULL && s[n] != '\0'; n++) {
        char c = s[n];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
              (c >= '0' && c <= '9') || c == '.' || c == '_' || c == '-'))
            return false;
    }
    return n < VL_STORE_SCOPE_CAP;
}

static bool reason_ok(const char *s)
{
    size_t n = 0;

    for (; s[n] != '\0'; n++)
        if ((unsigned char)s[n] < 0x20 || (unsigned char)s[n] > 0x7E)
            return false;
    return n > 0 && n < VL_STORE_REASON_CAP;
}

/* Copy text, cut at 'cap' - 1 bytes on a UTF-8 character boundary, and
 * with control characters made spaces (a diagnostic may reach a log). */
static void copy_text(char *dst, size_t cap, const char *src)
{
    size_t n = src ? strlen(src) : 0;

    if (n >= cap) {
        n = cap - 1;
        while (n > 0 && ((unsigned char)src[n] & 0xC0) == 0x80)
            n--;
    }
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)src[i];
        dst[i] = (c < 0x20 || c == 0x7F) ? ' ' : (char)c;
    }
    dst[n] = '\0';
}

/* ---- transactions --------------------------------------------------- */

/* The caller holds st->mu and has seen ensure_open() succeed. */
static vl_status tx_begin(vl_store *st)
{
    return st->in_batch ? VL_OK : st->ops->begin(st->be);
}

static vl_status tx_end(vl_store *st, vl_status rc)
{
    if (rc == VL_OK && !st->in_batch) {
        rc = st->ops->commit(st->be);
        st->stale = true; /* this handle's write: seen by its next lookup */
    }
    if (rc != VL_OK) {
        st->ops->rollback(st->be);
        st->in_batch = false; /* a failed batch is gone as a whole */
    }
    return rc;
}

vl_status vl_store_batch_begin(vl_store *st)
{
    vl_status rc = VL_EINVAL;

    pthread_mutex_lock(&st->mu);
    if (!st->in_batch && (rc = ensure_open(st)) == VL_OK &&
        (rc = st->ops->begin(st->be)) == VL_OK)
        st->in_batch = true;
    pthread_mutex_unlock(&st->mu);
    return rc;
}

vl_status vl_store_batch_commit(vl_store *st)
{
    vl_status rc = VL_EINVAL;

    pthread_mutex_lock(&st->mu);
    if (st->in_batch) {
        st->in_batch = false;
        st->stale = true;
        if ((rc = st->ops->commit(st->be)) != VL_OK)
            st->ops->rollback(st->be);
    }
    pthread_mutex_unlock(&st->mu);
    return rc;
}

void vl_store_batch_rollback(vl_store *st)
{
    pthread_mutex_lock(&st->mu);
    if (st->in_batch)
        st->ops->rollback(st->be);
    st->in_batch = false;
    pthread_mutex_unlock(&st->mu);
}

/* ---- rules ---------------------------------------------------------- */

static void suppress(vl_store_entry *e, vl_store_source src,
                     const char *reason)
{
    /* An entry already suppressing keeps its first cause, except that a
     * hard bounce, the strongest evidence, replaces any other. */
    if (e->suppressed && src != VL_SRC_HARD_BOUNCE)
        return;
    e->suppressed = 1;
    e->source = src;
    copy_text(e->reason, sizeof e->reason, reason);
}

/* Add a soft bounce at 'at' (times kept sorted, at most SOFT_MAX) and
 * say whether 'n' of them fall within one window of 'win' seconds. */
static bool soft_add(vl_store_entry *e, int64_t at, unsigned n, int64_t win)
{
    unsigned i = e->soft_count;

    if (i == VL_STORE_SOFT_MAX) {
        if (at < e->soft_at[0])
            return false; /* older than all we keep: changes nothing */
        memmove(e->soft_at, e->soft_at + 1, --i * sizeof e->soft_at[0]);
    }
    while (i > 0 && e->soft_at[i - 1] > at) {
        e->soft_at[i] = e->soft_at[i - 1];
        i--;
    }
    e->soft_at[i] = at;
    e->soft_count = e->soft_count < VL_STORE_SOFT_MAX ? e->soft_count + 1
                                                      : VL_STORE_SOFT_MAX;
    for (unsigned k = 0; k + n <= e->soft_count; k++)
        if (e->soft_at[k + n - 1] - e->soft_at[k] <= win)
            return true;
    return false;
}

static void apply(const vl_store *st, vl_store_entry *e,
                  const vl_store_outcome *o, int64_t at)
{
    const char *reason = o->reason ? o->reason : source_names[o->source];

    e->count++;
    if (e->first_seen == 0 || at < e->first_seen)
        e->first_seen = at;
    if (at > e->last_seen)
        e->last_seen = at;
    if (o->status != NULL)
        copy_text(e->status, sizeof e->status, o->status);
    if (o->diagnostic != NULL)
        copy_text(e->diagnostic, sizeof e->diagnostic, o->diagnostic);
    switch (o->source) {
    case VL_SRC_HARD_BOUNCE:
    case VL_SRC_MANUAL:
        suppress(e, o->source, reason);
        break;
    case VL_SRC_SOFT_BOUNCE:
        if (soft_add(e, at, st->cfg.soft_threshold, st->cfg.soft_window_s))
            suppress(e, o->source, reason);
        else if (!e->suppressed) { /* pending: say why it is here */
            e->source = o->source;
            copy_text(e->reason, sizeof e->reason, reason);
        }
        break;
    case VL_SRC_VALIDATION:
        /* A person took it out; an automated verdict does not overrule
         * them (only a new bounce or a manual add does). */
        if (e->removed_at == 0 || e->suppressed)
            suppress(e, o->source, reason);
        else if (!e->suppressed) {
            e->source = o->source;
            copy_text(e->reason, sizeof e->reason, reason);
        }
        break;
    }
}

static void entry_init(vl_store_entry *e, const char *key, const char *addr,
                       size_t len, const char *scope)
{
    memset(e, 0, sizeof *e);
    /* key and scope were checked against their caps (make_key(),
     * scope_ok()); copy_text() cuts whatever does not fit */
    copy_text(e->key, sizeof e->key, key);
    if (len >= sizeof e->address)
        len = sizeof e->address - 1;
    memcpy(e->address, addr, len);
    e->address[len] = '\0';
    copy_text(e->address, sizeof e->address, e->address);
    copy_text(e->scope, sizeof e->scope, scope);
}

static bool has_add(const vl_store *st)
{
    return st->ops->version >= VL_STORE_OPS_V2 && st->ops->add != NULL;
}

static vl_status record_locked(vl_store *st, const vl_store_outcome *o,
                               const char *key, int *suppressed)
{
    const char *scope = o->scope ? o->scope : "";
    int64_t at = o->at ? o->at : now_s();
    vl_store_entry e;
    int added = 0;
    vl_status rc;

    if ((rc = ensure_open(st)) != VL_OK || (rc = tx_begin(st)) != VL_OK)
        return rc;
    if (has_add(st)) {
        /* Most outcomes of an import are of addresses not stored yet:
         * insert first, and read (and update) only when one exists. */
        entry_init(&e, key, o->address, o->address_len, scope);
        apply(st, &e, o, at);
        rc = st->ops->add(st->be, &e, &added);
    }
    if (rc == VL_OK && !added) {
        rc = st->ops->get(st->be, key, scope, &e);
        if (rc == VL_ENOTFOUND) {
            entry_init(&e, key, o->address, o->address_len, scope);
            rc = VL_OK;
        }
        if (rc == VL_OK) {
            apply(st, &e, o, at);
            rc = st->ops->put(st->be, &e);
        }
    }
    if ((rc = tx_end(st, rc)) == VL_OK && suppressed != NULL)
        *suppressed = e.suppressed;
    return rc;
}

vl_status vl_store_record(vl_store *st, const vl_store_outcome *o,
                          int *suppressed)
{
    char key[VL_STORE_KEY_CAP];
    vl_status rc;

    if (suppressed != NULL)
        *suppressed = 0;
    if (o == NULL || (o->address == NULL && o->address_len > 0) ||
        (unsigned)o->source > VL_SRC_MANUAL || !scope_ok(o->scope) ||
        (o->reason != NULL && !reason_ok(o->reason)))
        return VL_EINVAL;
    pthread_mutex_lock(&st->mu);
    rc = make_key(st, o->address, o->address_len, key, sizeof key);
    if (rc == VL_OK)
        rc = record_locked(st, o, key, suppressed);
    pthread_mutex_unlock(&st->mu);
    return rc;
}

/* The reply code's first digit (RFC 5321 §4.2.1) or the class of an
 * enhanced status code (RFC 3463 §3.1): "550", "5.1.1", "550 5.1.1",
 * "550-5.1.1".  Both must agree when both are there. */
vl_status vl_store_status_source(const char *s, vl_store_source *out)
{
    size_t i = 0;
    char cls;

    if (s == NULL)
        return VL_EINVAL;
    while (s[i] == ' ')
        i++;
    cls = s[i];
    if (cls != '4' && cls != '5')
        return VL_EINVAL;
    if (s[i + 1] == '.') { /* enhanced: class "." 1*3digit "." 1*3digit */
        size_t j = i + 2, d = 0;
        while (s[j] >= '0' && s[j] <= '9')
            j++, d++;
        if (d < 1 || d > 3 || s[j] != '.')
            return VL_EINVAL;
        j++, d = 0;
        while (s[j] >= '0' && s[j] <= '9')
            j++, d++;
        if (d < 1 || d > 3 || (s[j] != '\0' && s[j] != ' '))
            return VL_EINVAL;
    } else {
        if (!(s[i + 1] >= '0' && s[i + 1] <= '9' && s[i + 2] >= '0' &&
              s[i + 2] <= '9'))
            return VL_EINVAL;
        char sep = s[i + 3];
        if (sep != '\0' && sep != ' ' && sep != '-')
            return VL_EINVAL;
        if (sep != '\0' && s[i + 4] != '\0' && s[i + 4] != cls &&
            s[i + 4] >= '0' && s[i + 4] <= '9')
            return VL_EINVAL; /* "550 4.2.2": classes disagree */
    }
    *out = cls == '5' ? VL_SRC_HARD_BOUNCE : VL_SRC_SOFT_BOUNCE;
    return VL_OK;
}

/* Undeliverable for a permanent reason: the first such reason, or NULL
 * when the verdict is not undeliverable, when any reason is of the
 * "unknown" class (a temporary failure), or when it came from the
 * store itself. */
static const char *permanent_reason(const vl_result *res)
{
    const char *first = NULL;

    if (vl_result_verdict(res) != VL_UNDELIVERABLE)
        return NULL;
    for (size_t i = 0; i < vl_result_reason_count(res); i++) {
        vl_reason r = vl_result_reason(res, i);
        if (vl__reason_is_suppressed(r) || vl_reason_verdict(r) == VL_UNKNOWN)
            return NULL;
        if (first == NULL && vl_reason_verdict(r) == VL_UNDELIVERABLE)
            first = vl_reason_name(r);
    }
    return first;
}

vl_status vl_store_record_result(vl_store *st, const vl_result *res,
                                 const char *scope, int *recorded)
{
    const char *reason = permanent_reason(res);
    const char *canon = vl_result_canonical(res);
    vl_store_outcome o = {0};
    vl_status rc;

    *recorded = 0;
    if (reason == NULL || canon[0] == '\0')
        return VL_OK; /* nothing to key a syntax error on, and no need */
    o.source = VL_SRC_VALIDATION;
    o.address = vl_result_address(res);
    o.address_len = strlen(o.address);
    o.scope = scope;
    o.reason = reason;
    if (!scope_ok(scope))
        return VL_EINVAL;
    pthread_mutex_lock(&st->mu);
    rc = record_locked(st, &o, canon, NULL);
    pthread_mutex_unlock(&st->mu);
    *recorded = rc == VL_OK;
    return rc;
}

/* ---- the lookup cache ----------------------------------------------- */

static uint64_t seed_of(const vl_store *st, const char *scope)
{
    return scope[0] ? vl__scache_seed(scope) : st->seed_none;
}

/* changes() callback: one entry into (or out of) the set. */
static int cache_apply(void *arg, const vl_store_change *c)
{
    vl_store *st = arg;
    vl__shash h =
        vl__scache_hash(c->key, strlen(c->key), seed_of(st, c->scope));

    if (!c->suppressed) {
        vl__scache_del(&st->set, h);
        return 0;
    }
    /* A source the cache cannot keep (2 bits), or no room: give the
     * lookups back to the backend, which says what to make of it. */
    if ((unsigned)c->source > VL_SRC_MANUAL ||
        vl__scache_put(&st->set, h, c->source, c->touched) != VL_OK) {
        st->cache = CACHE_OFF;
        return 1;
    }
    return 0;
}

/* Read what changed since the last read.  VL_ENOTFOUND when the cache
 * was dropped (too big): the backend answers from now on. */
static vl_status cache_read(vl_store *st)
{
    int64_t began = now_ms();
    uint64_t upto = st->upto;
    vl_status rc = st->ops->changes(st->be, st->upto, cache_apply, st, &upto);

    if (st->cache == CACHE_OFF) {
        vl__scache_free(&st->set);
        return VL_ENOTFOUND;
    }
    if (rc != VL_OK) {
        st->stale = true; /* nothing answers before a read succeeds */
        return rc;
    }
    st->upto = upto;
    st->stale = false;
    st->checked_ms = began; /* what began after this may be unseen */
    return VL_OK;
}

/* The load gathers every suppressing entry first, then makes the set at
 * its final size in one pass (vl__scache_fill): no rehashing, and the
 * random writes overlap. */
typedef struct load_buf {
    const vl_store *st;
    vl__shash *h;
    uint8_t *src;
    uint32_t *touched; /* NULL without expiry */
    size_t n, cap;
    bool over; /* past cache_max_bytes, or an entry it cannot keep */
} load_buf;

static void load_buf_free(load_buf *b)
{
    free(b->h);
    free(b->src);
    free(b->touched);
}

static bool load_buf_grow(load_buf *b)
{
    size_t cap = b->cap ? b->cap * 2 : 4096;
    size_t each = sizeof *b->h + sizeof *b->src +
                  (b->st->cfg.expire_after_s ? sizeof *b->touched : 0);
    void *h, *src, *t = NULL;

    if (cap * each > b->st->cfg.cache_max_bytes)
        return false;
    if ((h = realloc(b->h, cap * sizeof *b->h)) != NULL)
        b->h = h;
    if ((src = realloc(b->src, cap * sizeof *b->src)) != NULL)
        b->src = src;
    if (b->st->cfg.expire_after_s &&
        (t = realloc(b->touched, cap * sizeof *b->touched)) != NULL)
        b->touched = t;
    if (h == NULL || src == NULL || (b->st->cfg.expire_after_s && t == NULL))
        return false;
    b->cap = cap;
    return true;
}

static int load_row(void *arg, const vl_store_change *c)
{
    load_buf *b = arg;

    if (!c->suppressed)
        return 0;
    if ((unsigned)c->source > VL_SRC_MANUAL ||
        (b->n == b->cap && !load_buf_grow(b))) {
        b->over = true;
        return 1;
    }
    b->h[b->n] =
        vl__scache_hash(c->key, strlen(c->key), seed_of(b->st, c->scope));
    b->src[b->n] = (uint8_t)c->source;
    if (b->touched)
        b->touched[b->n] = vl__scache_secs(c->touched);
    b->n++;
    return 0;
}

static vl_status cache_load(vl_store *st)
{
    load_buf b = {.st = st};
    int64_t began = now_ms();
    uint64_t upto = 0;
    vl_status rc = st->ops->changes(st->be, 0, load_row, &b, &upto);

    if (rc == VL_OK && !b.over &&
        (rc = vl__scache_init(&st->set, st->cfg.expire_after_s != 0,
                              st->cfg.cache_max_bytes)) == VL_OK &&
        (rc = vl__scache_fill(&st->set, b.h, b.src, b.touched, b.n)) ==
            VL_OK) {
        st->cache = CACHE_ON;
        st->upto = upto;
        st->stale = false;
        st->checked_ms = began;
    } else if (b.over || rc == VL_ENOMEM) {
        vl__scache_free(&st->set);
        st->cache = CACHE_OFF; /* too big: the backend answers */
    } else {
        /* The backend failed: it answers, and the load is tried again
         * after another 'cache_after' lookups. */
        st->cold_lookups = 0;
    }
    load_buf_free(&b);
    return st->cache == CACHE_ON ? VL_OK : VL_ENOTFOUND;
}

/* May the cache answer now?  VL_OK: yes (it is as fresh as validate.h
 * promises); VL_ENOTFOUND: ask the backend; else the backend could not
 * say what changed, and nothing may answer. */
static vl_status cache_ready(vl_store *st)
{
    if (st->in_batch || st->cache == CACHE_OFF)
        return VL_ENOTFOUND;
    if (st->cache == CACHE_COLD)
        return ++st->cold_lookups <= st->cfg.cache_after ? VL_ENOTFOUND
                                                         : cache_load(st);
    if (!st->stale &&
        (st->ops->changed != NULL
             ? st->ops->changed(st->be) == 0
             : now_ms() - st->checked_ms < (int64_t)st->cfg.cache_check_ms))
        return VL_OK;
    return cache_read(st);
}

typedef struct cache_hit {
    const char *key, *scope;
    vl__shash h;
    vl_store_source source;
    int64_t touched;
} cache_hit;

static bool cache_probe(const vl_store *st, const char *key, uint64_t seed,
                        const char *scope, int64_t min_touch, cache_hit *out)
{
    out->h = vl__scache_hash(key, strlen(key), seed);
    if (!vl__scache_get(&st->set, out->h, &out->source, &out->touched) ||
        (st->cfg.expire_after_s && out->touched < min_touch))
        return false;
    out->key = key;
    out->scope = scope;
    return true;
}

/* As the backends' find(): the address before the domain, the scope
 * before the unscoped. */
static bool cache_find(const vl_store *st, const char *key, const char *scope,
                       int64_t min_touch, cache_hit *out)
{
    const char *dom = key_domain(key);
    uint64_t seed = seed_of(st, scope);

    return (scope[0] && cache_probe(st, key, seed, scope, min_touch, out)) ||
           cache_probe(st, key, st->seed_none, "", min_touch, out) ||
           (scope[0] && cache_probe(st, dom, seed, scope, min_touch, out)) ||
           cache_probe(st, dom, st->seed_none, "", min_touch, out);
}

/* With expiry on, a hit keeps the entry alive: note it, at most once a
 * day (a write per lookup would serialise readers).  Best effort: a
 * read-only or busy store still answers the lookup. */
static bool note_hit(vl_store *st, const char *key, const char *scope,
                     int64_t touched, int64_t now)
{
    return st->cfg.expire_after_s && now - touched > 86400 &&
           st->ops->touch(st->be, key, scope, now) == VL_OK;
}

/* ---- reading -------------------------------------------------------- */

static int64_t touched(const vl_store_entry *e)
{
    return e->last_hit > e->last_seen ? e->last_hit : e->last_seen;
}

int vl_store_entry_active(const vl_store *st, const vl_store_entry *e)
{
    if (!e->suppressed)
        return 0;
    return st->cfg.expire_after_s == 0 ||
           touched(e) >= now_s() - st->cfg.expire_after_s;
}

/* The backend's lookup. */
static vl_status find_direct(vl_store *st, const char *key, const char *scope,
                             int64_t min_touch, int64_t now,
                             vl_store_entry *out)
{
    vl_store_entry tmp;
    vl_store_entry *e = out ? out : &tmp;
    vl_status rc;

    rc = st->ops->find(st->be, key, key_domain(key), scope, min_touch, e);
    if (rc == VL_OK && note_hit(st, e->key, e->scope, touched(e), now))
        e->last_hit = now;
    return rc;
}

/* The lookup itself on a key; the caller holds st->mu.  With 'full',
 * '*out' (when not NULL) is the whole entry, from the backend; without,
 * an answer from the cache sets only its key, scope, source and
 * suppressed (all the pipeline reads). */
static vl_status lookup_key(vl_store *st, const char *key, const char *scope,
                            vl_store_entry *out, bool full)
{
    int64_t now = now_s();
    int64_t min =
        st->cfg.expire_after_s ? now - st->cfg.expire_after_s : INT64_MIN;
    cache_hit hit;
    vl_status rc;

    scope = scope ? scope : "";
    if ((rc = ensure_open(st)) != VL_OK)
        return rc;
    if ((rc = cache_ready(st)) == VL_ENOTFOUND)
        return find_direct(st, key, scope, min, now, out);
    if (rc != VL_OK)
        return rc;
    if (!cache_find(st, key, scope, min, &hit))
        return VL_ENOTFOUND;
    if (note_hit(st, hit.key, hit.scope, hit.touched, now))
        vl__scache_touch(&st->set, hit.h, now);
    if (out == NULL)
        return VL_OK;
    if (!full) {
        copy_text(out->key, sizeof out->key, hit.key);
        copy_text(out->scope, sizeof out->scope, hit.scope);
        out->source = hit.source;
        out->suppressed = 1;
        return VL_OK;
    }
    rc = st->ops->get(st->be, hit.key, hit.scope, out);
    if (rc == VL_OK && vl_store_entry_active(st, out))
        return VL_OK;
    if (rc != VL_OK && rc != VL_ENOTFOUND)
        return rc;
    /* Changed since the cache last looked: the backend decides. */
    return find_direct(st, key, scope, min, now, out);
}

vl_status vl_store_lookup(vl_store *st, const char *addr, size_t len,
                          const char *scope, vl_store_entry *out)
{
    char key[VL_STORE_KEY_CAP];
    vl_status rc;

    if (!scope_ok(scope))
        return VL_EINVAL;
    pthread_mutex_lock(&st->mu);
    rc = make_key(st, addr, len, key, sizeof key);
    if (rc == VL_OK)
        rc = lookup_key(st, key, scope, out, true);
    pthread_mutex_unlock(&st->mu);
    return rc;
}

/* The pipeline's lookup (check.c): the result's own canonical key when
 * it was made with the store's provider rules, else the store's key of
 * its normalised address.  From the cache, '*out' has only key, scope,
 * source and suppressed. */
vl_status vl__store_check(vl_store *st, const vl_result *res,
                          unsigned ctx_flags, const char *scope,
                          vl_store_entry *out)
{
    char key[VL_STORE_KEY_CAP];
    const char *k = res->canonical;
    vl_status rc = VL_OK;

    pthread_mutex_lock(&st->mu);
    if ((ctx_flags ^ st->cfg.flags) & VL_OPT_PROVIDER_RULES) {
        rc = make_key(st, res->address, strlen(res->address), key, sizeof key);
        k = key;
    }
    if (rc == VL_OK)
        rc = lookup_key(st, k, scope, out, false);
    pthread_mutex_unlock(&st->mu);
    return rc;
}

vl_status vl_store_get(vl_store *st, const char *addr, size_t len,
                       const char *scope, vl_store_entry *out)
{
    char key[VL_STORE_KEY_CAP];
    vl_status rc;

    if (!scope_ok(scope))
        return VL_EINVAL;
    pthread_mutex_lock(&st->mu);
    rc = make_key(st, addr, len, key, sizeof key);
    if (rc == VL_OK && (rc = ensure_open(st)) == VL_OK)
        rc = st->ops->get(st->be, key, scope ? scope : "", out);
    pthread_mutex_unlock(&st->mu);
    return rc;
}

vl_status vl_store_remove(vl_store *st, const char *addr, size_t len,
                          const char *scope, const char *by)
{
    char key[VL_STORE_KEY_CAP];
    vl_store_entry e;
    vl_status rc;

    if (!scope_ok(scope))
        return VL_EINVAL;
    pthread_mutex_lock(&st->mu);
    rc = make_key(st, addr, len, key, sizeof key);
    if (rc == VL_OK && (rc = ensure_open(st)) == VL_OK &&
        (rc = tx_begin(st)) == VL_OK) {
        rc = st->ops->get(st->be, key, scope ? scope : "", &e);
        if (rc == VL_OK && !e.suppressed)
            rc = VL_ENOTFOUND;
        if (rc == VL_OK) {
            e.suppressed = 0;
            e.removed_at = now_s();
            e.soft_count = 0; /* soft bounces count afresh */
            copy_text(e.removed_by, sizeof e.removed_by, by ? by : "");
            rc = st->ops->put(st->be, &e);
        }
        if (rc == VL_ENOTFOUND) { /* not a failure of the transaction */
            rc = tx_end(st, VL_OK);
            if (rc == VL_OK)
                rc = VL_ENOTFOUND;
        } else {
            rc = tx_end(st, rc);
        }
    }
    pthread_mutex_unlock(&st->mu);
    return rc;
}

vl_status vl_store_iterate(vl_store *st, vl_store_entry_cb cb, void *arg)
{
    vl_status rc;

    pthread_mutex_lock(&st->mu);
    if ((rc = ensure_open(st)) == VL_OK)
        rc = st->ops->iterate(st->be, cb, arg);
    pthread_mutex_unlock(&st->mu);
    return rc;
}

vl_status vl_store_stats_get(vl_store *st, vl_store_stats *out)
{
    vl_status rc;

    memset(out, 0, sizeof *out);
    pthread_mutex_lock(&st->mu);
    if ((rc = ensure_open(st)) == VL_OK)
        rc = st->ops->stats(st->be, out);
    pthread_mutex_unlock(&st->mu);
    return rc;
}

#ifndef VL_HAVE_PG
vl_status vl__store_pg_open(const char *uri, const vl_store_config *cfg,
                            const vl_store_ops **ops, void **be, char *err,
                            size_t err_cap)
{
    (void)uri, (void)cfg, (void)ops, (void)be;
    set_err(err, err_cap,
            "store: this mailvet was built without "
            "PostgreSQL support");
    return VL_EINVAL;
}
#endif
