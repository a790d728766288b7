/*
 * strset.c - open-addressing hash sets and maps of byte strings.
 *
 * The tables are built once when a context is made and only read after,
 * so lookups need no locks.  Keys are borrowed (from the compiled-in
 * data or from an arena the tables own).  Linear probing at a load
 * factor of at most 1/2 keeps a lookup to one or two cache lines.
 */
#include "strset.h"

#include <stdlib.h>
#include <string.h>

/* FNV-1a, 64-bit: short keys, no seeding needed (the keys are ours, not
 * an attacker's; lookups of hostile input only probe). */
static uint64_t hash(const char *k, size_t len)
{
    uint64_t h = 0xcbf29ce484222325u;

    for (size_t i = 0; i < len; i++) {
        h ^= (unsigned char)k[i];
        h *= 0x100000001b3u;
    }
    return h ^ (h >> 29);
}

vl_status vl__strset_init(vl__strset *s, size_t expected, bool map)
{
    size_t cap = 16;

    memset(s, 0, sizeof *s);
    while (cap < expected * 2 + 2)
        cap <<= 1;
    s->keys = calloc(cap, sizeof *s->keys);
    s->lens = calloc(cap, sizeof *s->lens);
    if (map) {
        s->vals = calloc(cap, sizeof *s->vals);
        s->val_lens = calloc(cap, sizeof *s->val_lens);
    }
    s->mask = cap - 1;
    if (s->keys == NULL || s->lens == NULL ||
        (map && (s->vals == NULL || s->val_lens == NULL))) {
        vl__strset_free(s);
        return VL_ENOMEM;
    }
    return VL_OK;
}

void vl__strset_free(vl__strset *s)
{
    free(s->keys);
    free(s->lens);
    free(s->vals);
    free(s->val_lens);
    memset(s, 0, sizeof *s);
}

static size_t find_slot(const vl__strset *s, const char *k, size_t len)
{
    size_t i = (size_t)hash(k, len) & s->mask;

    while (s->keys[i] != NULL &&
           !(s->lens[i] == len && memcmp(s->keys[i], k, len) == 0))
        i = (i + 1) & s->mask;
    return i;
}

static vl_status grow(vl__strset *s)
{
    vl__strset bigger;
    vl_status st = vl__strset_init(&bigger, s->mask + 1, s->vals != NULL);

    if (st != VL_OK)
        return st;
    for (size_t i = 0; i <= s->mask; i++) {
        if (s->keys[i] == NULL)
            continue;
        size_t j = find_slot(&bigger, s->keys[i], s->lens[i]);
        bigger.keys[j] = s->keys[i];
        bigger.lens[j] = s->lens[i];
        if (s->vals) {
            bigger.vals[j] = s->vals[i];
            bigger.val_lens[j] = s->val_lens[i];
        }
    }
    bigger.count = s->count;
    vl__strset_free(s);
    *s = bigger;
    return VL_OK;
}

vl_status vl__strset_put(vl__strset *s, const char *k, size_t len,
                         const char *v, size_t vlen)
{
    if (len > UINT16_MAX || vlen > UINT16_MAX)
        return VL_ETOOLONG;
    if ((s->count + 1) * 2 > s->mask + 1) {
        vl_status st = grow(s);
        if (st != VL_OK)
            return st;
    }
    size_t i = find_slot(s, k, len);
    if (s->keys[i] == NULL)
        s->count++;
    s->keys[i] = k;
    s->lens[i] = (uint16_t)len;
    if (s->vals) {
        s->vals[i] = v;
        s->val_lens[i] = (uint16_t)vlen;
    }
    return VL_OK;
}

/* Removal keeps probe chains intact by re-inserting the rest of the
 * cluster (no tombstones: removals only happen while loading). */
void vl__strset_del(vl__strset *s, const char *k, size_t len)
{
    size_t i = find_slot(s, k, len);

    if (s->keys[i] == NULL)
        return;
    s->keys[i] = NULL;
    s->count--;
    for (size_t j = (i + 1) & s->mask; s->keys[j] != NULL;
         j = (j + 1) & s->mask) {
        const char *key = s->keys[j], *val = s->vals ? s->vals[j] : NULL;
        size_t klen = s->lens[j], vlen = s->vals ? s->val_lens[j] : 0;
        s->keys[j] = NULL;
        size_t to = find_slot(s, key, klen);
        s->keys[to] = key;
        s->lens[to] = (uint16_t)klen;
        if (s->vals) {
            s->vals[to] = val;
            s->val_lens[to] = (uint16_t)vlen;
        }
    }
}

bool vl__strset_has(const vl__strset *s, const char *k, size_t len)
{
    if (s->keys == NULL)
        return false;
    return s->keys[find_slot(s, k, len)] != NULL;
}

const char *vl__strmap_get(const vl__strset *s, const char *k, size_t len,
                           size_t *vlen)
{
    if (s->keys == NULL || s->vals == NULL)
        return NULL;
    size_t i = find_slot(s, k, len);
    if (s->keys[i] == NULL)
        return NULL;
    *vlen = s->val_lens[i];
    return s->vals[i];
}

bool vl__strset_has_domain(const vl__strset *s, const char *d, size_t len)
{
    for (size_t i = 0; i < len; i++) {
        if (i == 0 || d[i - 1] == '.') {
            if (memchr(d + i, '.', len - i) == NULL)
                return false; /* a bare TLD is never listed */
            if (vl__strset_has(s, d + i, len - i))
                return true;
        }
    }
    return false;
}
