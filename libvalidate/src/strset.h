/*
 * strset.h - open-addressing hash sets and maps of byte strings, used
 * for the data tables.  Private to libvalidate.
 */
#ifndef VL_STRSET_H
#define VL_STRSET_H

#include "validate.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* One slot: the key's length and a tag (16 more bits of its hash) sit
 * beside the pointer, so a probe that misses never touches key memory:
 * one cache line per probe on tables of 150,000 entries. */
typedef struct vl__strslot {
    const char *key; /* borrowed; NULL: empty */
    const char *val; /* maps only */
    uint16_t len, val_len;
    uint16_t tag;
} vl__strslot;

typedef struct vl__strset {
    vl__strslot *slots;
    size_t mask; /* capacity - 1; capacity is a power of two */
    size_t count;
    bool map;
} vl__strset;

/* Make an empty set (or map, when 'map') sized for 'expected' keys. */
vl_status vl__strset_init(vl__strset *s, size_t expected, bool map);
void vl__strset_free(vl__strset *s);
/* Make room for 'more' keys at once (one rehash instead of many). */
vl_status vl__strset_reserve(vl__strset *s, size_t more);
/* Insert or replace; 'k' and 'v' are borrowed and must outlive 's'. */
vl_status vl__strset_put(vl__strset *s, const char *k, size_t len,
                         const char *v, size_t vlen);
void vl__strset_del(vl__strset *s, const char *k, size_t len);
bool vl__strset_has(const vl__strset *s, const char *k, size_t len);
/* Map lookup: the value for 'k' or NULL; '*vlen' gets its length. */
const char *vl__strmap_get(const vl__strset *s, const char *k, size_t len,
                           size_t *vlen);
/* Is 'd' (A-label, lower case) or one of its parent domains in 's'?
 * Single-label parents (TLDs) are not tried. */
bool vl__strset_has_domain(const vl__strset *s, const char *d, size_t len);

/* Maps from a string to an object: the pointer rides in the value slot
 * (with length 0).  'k' is borrowed, as for every key. */
static inline vl_status vl__ptrmap_put(vl__strset *s, const char *k,
                                       size_t len, void *p)
{
    return vl__strset_put(s, k, len, (const char *)p, 0);
}

static inline void *vl__ptrmap_get(const vl__strset *s, const char *k,
                                   size_t len)
{
    size_t n;
    return (void *)(uintptr_t)vl__strmap_get(s, k, len, &n);
}

#endif /* VL_STRSET_H */
