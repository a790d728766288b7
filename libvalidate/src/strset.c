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
    s->slots = calloc(cap, sizeof *s->slots);
    if (s->slots == NULL)
        return VL_ENOMEM;
    s->mask = cap - 1;
    s->map = map;
    return VL_OK;
}

void vl__strset_free(vl__strset *s)
{
    free(s->slots);
    memset(s, 0, sizeof *s);
}

static uint16_t tag_of(uint64_t h)
{
    return (uint16_t)(h >> 48);
}

/* The slot holding 'k', or the empty slot where it would go. */
static size_t find_slot(const vl__strset *s, const char *k, size_t len,
                        uint64_t h)
{
    size_t i = (size_t)h & s->mask;
    uint16_t tag = tag_of(h);

    for (;; i = (i + 1) & s->mask) {
        const vl__strslot *e = &s->slots[i];
        if (e->key == NULL)
            return i;
        if (e->tag == tag && e->len == len && memcmp(e->key, k, len) == 0)
            return i;
    }
}

static vl_status grow(vl__strset *s)
{
    vl__strset bigger;
    vl_status st = vl__strset_init(&bigger, s->mask + 1, s->map);

    if (st != VL_OK)
        return st;
    for (size_t i = 0; i <= s->mask; i++) {
        const vl__strslot *e = &s->slots[i];
        if (e->key == NULL)
            continue;
        size_t j = find_slot(&bigger, e->key, e->len, hash(e->key, e->len));
        bigger.slots[j] = *e;
    }
    bigger.count = s->count;
    vl__strset_free(s);
    *s = bigger;
    return VL_OK;
}

vl_status vl__strset_reserve(vl__strset *s, size_t more)
{
    vl__strset bigger;
    vl_status st;

    if ((s->count + more) * 2 <= s->mask + 1)
        return VL_OK;
    if ((st = vl__strset_init(&bigger, s->count + more, s->map)) != VL_OK)
        return st;
    for (size_t i = 0; i <= s->mask; i++) {
        const vl__strslot *e = &s->slots[i];
        if (e->key != NULL)
            bigger.slots[find_slot(&bigger, e->key, e->len,
                                   hash(e->key, e->len))] = *e;
    }
    bigger.count = s->count;
    vl__strset_free(s);
    *s = bigger;
    return VL_OK;
}

vl_status vl__strset_put(vl__strset *s, const char *k, size_t len,
                         const char *v, size_t vlen)
{
    uint64_t h = hash(k, len);

    if (len > UINT16_MAX || vlen > UINT16_MAX)
        return VL_ETOOLONG;
    if ((s->count + 1) * 2 > s->mask + 1) {
        vl_status st = grow(s);
        if (st != VL_OK)
            return st;
    }
    vl__strslot *e = &s->slots[find_slot(s, k, len, h)];
    if (e->key == NULL)
        s->count++;
    e->key = k;
    e->len = (uint16_t)len;
    e->tag = tag_of(h);
    e->val = v;
    e->val_len = (uint16_t)vlen;
    return VL_OK;
}

/* Removal keeps probe chains intact by re-inserting the rest of the
 * cluster (no tombstones). */
void vl__strset_del(vl__strset *s, const char *k, size_t len)
{
    size_t i = find_slot(s, k, len, hash(k, len));

    if (s->slots[i].key == NULL)
        return;
    s->slots[i].key = NULL;
    s->count--;
    for (size_t j = (i + 1) & s->mask; s->slots[j].key != NULL;
         j = (j + 1) & s->mask) {
        vl__strslot e = s->slots[j];
        s->slots[j].key = NULL;
        s->slots[find_slot(s, e.key, e.len, hash(e.key, e.len))] = e;
    }
}

bool vl__strset_has(const vl__strset *s, const char *k, size_t len)
{
    if (s->slots == NULL)
        return false;
    return s->slots[find_slot(s, k, len, hash(k, len))].key != NULL;
}

const char *vl__strmap_get(const vl__strset *s, const char *k, size_t len,
                           size_t *vlen)
{
    if (s->slots == NULL)
        return NULL;
    const vl__strslot *e = &s->slots[find_slot(s, k, len, hash(k, len))];
    if (e->key == NULL)
        return NULL;
    *vlen = e->val_len;
    return e->val;
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
