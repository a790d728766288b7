/*
 * facts.c - what the tables say about one domain, remembered per thread.
 *
 * Reserved names, disposable and free-mail lists, the public suffix
 * list and the typo search all depend on the domain alone, and a real
 * list repeats its domains (a million addresses over tens of thousands
 * of domains): each thread keeps a small direct-mapped memo of recent
 * answers, so most addresses cost one hash probe here.  The memo is per
 * thread (no locks) and per context (an id, not the pointer, so a freed
 * and reallocated context never sees stale answers).
 */
#include "internal.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

enum { MEMO_SLOTS = 65536, MEMO_KEY_MAX = 44, MEMO_FIX_MAX = 40 };

typedef struct memo_slot {
    uint64_t ctx_id; /* 0: empty */
    uint8_t len, fix_len;
    uint16_t flags;
    char key[MEMO_KEY_MAX];
    char fix[MEMO_FIX_MAX];
} memo_slot;

/* Top-level domains repeat even more than domains, and libpsl's lookup
 * costs a few hundred instructions: a second, smaller memo. */
enum { TLD_SLOTS = 1024, TLD_MAX = 22 };

typedef struct tld_slot {
    uint64_t ctx_id;
    uint8_t len;
    bool known;
    char tld[TLD_MAX];
} tld_slot;

typedef struct thread_memo {
    memo_slot slots[MEMO_SLOTS];
    tld_slot tlds[TLD_SLOTS];
} thread_memo;

static pthread_key_t memo_key;
static pthread_once_t memo_once = PTHREAD_ONCE_INIT;
static atomic_uint_fast64_t next_ctx_id = 1;

static void make_key(void)
{
    pthread_key_create(&memo_key, free);
}

uint64_t vl__facts_new_ctx_id(void)
{
    return atomic_fetch_add(&next_ctx_id, 1);
}

/* RFC 2606 / RFC 6761 special-use names, RFC 6762 .local and RFC 7686
 * .onion: reserved, never reachable by public SMTP. */
static bool reserved_domain(const char *d, size_t len)
{
    static const char *const tlds[] = {"test",      "example", "invalid",
                                       "localhost", "local",   "onion"};
    static const char *const slds[] = {"example.com", "example.net",
                                       "example.org"};
    const char *dot = memrchr(d, '.', len);
    const char *tld = dot ? dot + 1 : d;

    for (size_t i = 0; i < sizeof tlds / sizeof *tlds; i++)
        if (strcmp(tld, tlds[i]) == 0)
            return true;
    for (size_t i = 0; i < sizeof slds / sizeof *slds; i++) {
        size_t n = strlen(slds[i]);
        if (len >= n && strcmp(d + len - n, slds[i]) == 0 &&
            (len == n || d[len - n - 1] == '.'))
            return true;
    }
    return false;
}

static uint32_t hash(const char *k, size_t len);

static bool known_tld(const vl_ctx *ctx, const char *d, size_t len,
                      tld_slot *memo)
{
    const char *dot = memrchr(d, '.', len);
    const char *tld = dot ? dot + 1 : d;
    size_t n = len - (size_t)(tld - d);
    tld_slot *s = NULL;

    if (ctx->psl == NULL)
        return true; /* no list, no judgement */
    if (memo != NULL && n <= TLD_MAX) {
        s = &memo[hash(tld, n) & (TLD_SLOTS - 1)];
        if (s->ctx_id == ctx->id && s->len == n && memcmp(s->tld, tld, n) == 0)
            return s->known;
    }
    bool known = psl_is_public_suffix2(
                     ctx->psl, tld, PSL_TYPE_ANY | PSL_TYPE_NO_STAR_RULE) != 0;
    if (s != NULL) {
        s->ctx_id = ctx->id;
        s->len = (uint8_t)n;
        s->known = known;
        memcpy(s->tld, tld, n);
    }
    return known;
}

/* "gmail" -> "gmail.com" when that is a big provider's domain. */
static size_t single_label_fix(const vl__tables *t, const char *d, size_t len,
                               char *out, size_t cap)
{
    static const char *const tlds[] = {".com", ".net", ".de", ".fr", ".ru"};
    for (size_t i = 0; i < sizeof tlds / sizeof *tlds; i++) {
        size_t n = strlen(tlds[i]);
        if (len + n >= cap)
            return 0;
        memcpy(out, d, len);
        memcpy(out + len, tlds[i], n + 1);
        if (vl__strset_has(&t->typo_targets, out, len + n))
            return len + n;
    }
    return 0;
}

static void compute(const vl_ctx *ctx, const char *d, size_t len, vl__facts *f,
                    tld_slot *tlds)
{
    const vl__tables *t = &ctx->tables;
    size_t n;

    f->flags = 0;
    f->fix_len = 0;
    if (reserved_domain(d, len)) {
        f->flags = VL__F_RESERVED;
        return;
    }
    if (vl__strset_has_domain(&t->disposable, d, len))
        f->flags |= VL__F_DISPOSABLE;
    else if (vl__strset_has(&t->free_mail, d, len))
        f->flags |= VL__F_FREE;
    if (!known_tld(ctx, d, len, tlds))
        f->flags |= VL__F_UNKNOWN_TLD;
    if (memchr(d, '.', len) == NULL) {
        /* RFC 7085, ICANN SAC053: dotless names do not get mail. A
         * provider name alone ("user@gmail") lacks its ".com". */
        f->flags |= VL__F_SINGLE_LABEL;
        n = single_label_fix(t, d, len, f->fix, sizeof f->fix);
    } else {
        n = vl__typo_suggest(t, d, len, f->fix, sizeof f->fix);
    }
    f->fix_len = n;
}

static uint32_t hash(const char *k, size_t len)
{
    uint32_t h = 2166136261u;

    for (size_t i = 0; i < len; i++)
        h = (h ^ (unsigned char)k[i]) * 16777619u;
    return h;
}

void vl__domain_facts(const vl_ctx *ctx, const char *d, size_t len,
                      vl__facts *f)
{
    thread_memo *memo;
    memo_slot *s;

    pthread_once(&memo_once, make_key);
    memo = pthread_getspecific(memo_key);
    if (memo == NULL) {
        if ((memo = calloc(1, sizeof *memo)) != NULL &&
            pthread_setspecific(memo_key, memo) != 0) {
            free(memo);
            memo = NULL;
        }
    }
    if (memo == NULL || len > MEMO_KEY_MAX) {
        compute(ctx, d, len, f, memo ? memo->tlds : NULL);
        return;
    }
    s = &memo->slots[hash(d, len) & (MEMO_SLOTS - 1)];
    if (s->ctx_id == ctx->id && s->len == len && memcmp(s->key, d, len) == 0) {
        f->flags = s->flags;
        f->fix_len = s->fix_len;
        memcpy(f->fix, s->fix, s->fix_len);
        return;
    }
    compute(ctx, d, len, f, memo->tlds);
    if (f->fix_len > MEMO_FIX_MAX)
        return; /* too long to remember; rare */
    s->ctx_id = ctx->id;
    s->len = (uint8_t)len;
    s->flags = (uint16_t)f->flags;
    s->fix_len = (uint8_t)f->fix_len;
    memcpy(s->key, d, len);
    memcpy(s->fix, f->fix, f->fix_len);
}
