/*
 * store_cache.h - the set behind the store's lookup cache: suppressing
 * (key, scope) pairs kept as 128-bit hashes with their source and, when
 * entries can expire, their last touch.  Private to libvalidate; store.c
 * decides when it may answer (validate.h, "Lookups").
 */
#ifndef VL_STORE_CACHE_H
#define VL_STORE_CACHE_H

#include "validate.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* A (key, scope) pair as a hash: XXH3-128 of the key, seeded with the
 * scope's own hash.  Two pairs share one with a chance of about
 * n^2 / 2^127 (the two low bits of 'hi' carry the source in a slot):
 * nil for any store (n = 10^8 gives 10^-22). */
typedef struct vl__shash {
    uint64_t lo, hi;
} vl__shash;

uint64_t vl__scache_seed(const char *scope);
vl__shash vl__scache_hash(const char *key, size_t len, uint64_t seed);

typedef struct vl__scache {
    vl__shash *slot;   /* linear probing on 'lo'; lo == 0: empty */
    uint32_t *touched; /* per slot, with expiry; else NULL */
    size_t mask;       /* capacity - 1, a power of two */
    size_t count;
    size_t max_bytes;
} vl__scache;

/* An empty set; 'touched' keeps touch times (Unix seconds).  Its
 * arrays may never grow past 'max_bytes'. */
vl_status vl__scache_init(vl__scache *c, bool touched, size_t max_bytes);
/* Touch times as kept: unsigned 32-bit seconds, good until 2106. */
uint32_t vl__scache_secs(int64_t t);
void vl__scache_free(vl__scache *c);
/* Fill an empty set with 'n' entries at once (the load): sized once,
 * and each slot fetched ahead of its write.  'src[i]' and 'touched[i]'
 * ('touched' may be NULL) go with 'h[i]'; a hash given twice keeps the
 * last.  VL_ENOMEM as vl__scache_put(). */
vl_status vl__scache_fill(vl__scache *c, const vl__shash *h,
                          const uint8_t *src, const uint32_t *touched,
                          size_t n);
/* Insert or update.  VL_ENOMEM when growing would pass max_bytes (or
 * malloc failed); the set is unchanged then. */
vl_status vl__scache_put(vl__scache *c, vl__shash h, vl_store_source src,
                         int64_t touched);
void vl__scache_del(vl__scache *c, vl__shash h);
/* Is 'h' in?  Then '*src' and '*touched' (0 without touch times). */
bool vl__scache_get(const vl__scache *c, vl__shash h, vl_store_source *src,
                    int64_t *touched);
void vl__scache_touch(vl__scache *c, vl__shash h, int64_t touched);
size_t vl__scache_bytes(const vl__scache *c);

#endif
