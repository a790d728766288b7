/*
 * store_cache.c - the set behind the store's lookup cache (see
 * store_cache.h).
 *
 * Open addressing with linear probing, at most 3/4 full, doubled when
 * fuller; deletion shifts the probe run back (no tombstones), so a set
 * that churns never fills up with dead slots.  A slot is 16 bytes, the
 * hash alone: keys are not kept, so memory does not grow with their
 * length, and a miss (most lookups of a real list) reads one cache
 * line.  Touch times, needed only when entries expire, sit in a
 * parallel array that is not allocated otherwise.
 * XXH3 (libxxhash, compiled inline) is the hash: made for short keys,
 * and 128 bits make a false "suppressed" as good as impossible.
 */
#include "store_cache.h"

#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#define XXH_INLINE_ALL
#include <xxhash.h>

enum { MIN_SLOTS = 1024, HUGE_PAGE = 2 << 20, AHEAD = 8 };

#define SRC_BITS 3u /* the low bits of 'hi' that hold the source */

uint64_t vl__scache_seed(const char *scope)
{
    return XXH3_64bits(scope, strlen(scope));
}

vl__shash vl__scache_hash(const char *key, size_t len, uint64_t seed)
{
    XXH128_hash_t x = XXH3_128bits_withSeed(key, len, seed);
    vl__shash h;

    h.lo = x.low64 ? x.low64 : 1; /* 0 marks an empty slot */
    h.hi = x.high64 & ~(uint64_t)SRC_BITS;
    return h;
}

static size_t slot_bytes(const vl__scache *c)
{
    return sizeof *c->slot + (c->touched ? sizeof *c->touched : 0);
}

size_t vl__scache_bytes(const vl__scache *c)
{
    return c->slot ? (c->mask + 1) * slot_bytes(c) : 0;
}

/* The slot holding 'h', or the empty slot where it would go. */
static size_t find(const vl__scache *c, vl__shash h)
{
    size_t i = (size_t)h.lo & c->mask;

    for (;; i = (i + 1) & c->mask) {
        const vl__shash *s = &c->slot[i];
        if (s->lo == 0 ||
            (s->lo == h.lo && (s->hi & ~(uint64_t)SRC_BITS) == h.hi))
            return i;
    }
}

/* Zeroed memory; a large array on transparent huge pages where the
 * system allows it: a lookup then costs one cache miss and no TLB miss
 * (a store of a million entries spans 8,192 small pages). */
static void *zalloc(size_t bytes)
{
    void *p;

    if (bytes < HUGE_PAGE)
        return calloc(1, bytes);
    if (posix_memalign(&p, HUGE_PAGE, bytes) != 0)
        return NULL;
#ifdef MADV_HUGEPAGE
    (void)madvise(p, bytes, MADV_HUGEPAGE); /* advice: may be refused */
#endif
    memset(p, 0, bytes);
    return p;
}

static vl_status resize(vl__scache *c, size_t cap, bool touched)
{
    vl__scache n = {0};

    n.max_bytes = c->max_bytes;
    if (cap * (sizeof *n.slot + (touched ? sizeof *n.touched : 0)) >
        c->max_bytes)
        return VL_ENOMEM;
    n.slot = zalloc(cap * sizeof *n.slot);
    n.touched = touched ? zalloc(cap * sizeof *n.touched) : NULL;
    if (n.slot == NULL || (touched && n.touched == NULL)) {
        free(n.slot);
        free(n.touched);
        return VL_ENOMEM;
    }
    n.mask = cap - 1;
    n.count = c->count;
    for (size_t i = 0; c->slot != NULL && i <= c->mask; i++) {
        if (c->slot[i].lo == 0)
            continue;
        size_t j = find(&n, c->slot[i]);
        n.slot[j] = c->slot[i];
        if (touched)
            n.touched[j] = c->touched[i];
    }
    vl__scache_free(c);
    *c = n;
    return VL_OK;
}

vl_status vl__scache_init(vl__scache *c, bool touched, size_t max_bytes)
{
    memset(c, 0, sizeof *c);
    c->max_bytes = max_bytes;
    return resize(c, MIN_SLOTS, touched);
}

void vl__scache_free(vl__scache *c)
{
    free(c->slot);
    free(c->touched);
    c->slot = NULL;
    c->touched = NULL;
    c->mask = c->count = 0;
}

uint32_t vl__scache_secs(int64_t t)
{
    return t <= 0 ? 0 : t >= (int64_t)UINT32_MAX ? UINT32_MAX : (uint32_t)t;
}

static void set_slot(vl__scache *c, size_t i, vl__shash h, unsigned src,
                     uint32_t touched)
{
    if (c->slot[i].lo == 0)
        c->count++;
    c->slot[i].lo = h.lo;
    c->slot[i].hi = h.hi | (src & SRC_BITS);
    if (c->touched)
        c->touched[i] = touched;
}

vl_status vl__scache_fill(vl__scache *c, const vl__shash *h,
                          const uint8_t *src, const uint32_t *touched,
                          size_t n)
{
    size_t cap = c->mask + 1;
    vl_status rc;

    while (n * 4 > cap * 3)
        cap *= 2;
    if (cap > c->mask + 1 &&
        (rc = resize(c, cap, c->touched != NULL)) != VL_OK)
        return rc;
    /* The slots are random, so each write would wait on memory: ask for
     * the slot AHEAD entries on while writing this one. */
    for (size_t i = 0; i < n; i++) {
        if (i + AHEAD < n)
            __builtin_prefetch(&c->slot[h[i + AHEAD].lo & c->mask], 1);
        set_slot(c, find(c, h[i]), h[i], src[i], touched ? touched[i] : 0);
    }
    return VL_OK;
}

vl_status vl__scache_put(vl__scache *c, vl__shash h, vl_store_source src,
                         int64_t touched)
{
    size_t i = find(c, h);
    vl_status rc;

    if (c->slot[i].lo == 0 && (c->count + 1) * 4 > (c->mask + 1) * 3) {
        if ((rc = resize(c, (c->mask + 1) * 2, c->touched != NULL)) != VL_OK)
            return rc;
        i = find(c, h);
    }
    set_slot(c, i, h, (unsigned)src, vl__scache_secs(touched));
    return VL_OK;
}

void vl__scache_del(vl__scache *c, vl__shash h)
{
    size_t i = find(c, h), j = i;

    if (c->slot[i].lo == 0)
        return;
    c->count--;
    /* Knuth's algorithm R (TAOCP 6.4): pull back each later slot of the
     * run whose home is not between the hole and itself. */
    for (;;) {
        j = (j + 1) & c->mask;
        if (c->slot[j].lo == 0)
            break;
        size_t home = (size_t)c->slot[j].lo & c->mask;
        bool stays =
            i <= j ? (i < home && home <= j) : (i < home || home <= j);
        if (stays)
            continue;
        c->slot[i] = c->slot[j];
        if (c->touched)
            c->touched[i] = c->touched[j];
        i = j;
    }
    c->slot[i].lo = c->slot[i].hi = 0;
}

bool vl__scache_get(const vl__scache *c, vl__shash h, vl_store_source *src,
                    int64_t *touched)
{
    size_t i = find(c, h);

    if (c->slot[i].lo == 0)
        return false;
    *src = (vl_store_source)(c->slot[i].hi & SRC_BITS);
    *touched = c->touched ? (int64_t)c->touched[i] : 0;
    return true;
}

void vl__scache_touch(vl__scache *c, vl__shash h, int64_t touched)
{
    size_t i = find(c, h);

    if (c->slot[i].lo != 0 && c->touched)
        c->touched[i] = vl__scache_secs(touched);
}
