/*
 * domains.c - rows per domain (domains.h): an open-addressing table of
 * (hash, counts, name).  A domain is known by its 128-bit hash, as the
 * dedupe set knows addresses (dedupe.h: two names sharing one is a
 * chance of about n^2 / 2^129), so a lookup never reads the name: that
 * read was a cache miss a row.
 */
#include "domains.h"

#include <stdlib.h>
#include <string.h>

#include "dedupe.h"

typedef struct entry {
    mv_hash128 key; /* key.lo 0: empty */
    uint64_t rows, dropped;
    char *name; /* NULL past MV_DOMAINS_MAX */
} entry;

struct mv_domains {
    entry *slot;
    size_t mask, count;
    uint64_t unnamed; /* distinct domains past the cap (estimated) */
};

mv_domains *mv_domains_new(void)
{
    mv_domains *t = calloc(1, sizeof *t);

    if (t == NULL)
        return NULL;
    t->mask = 1023;
    if ((t->slot = calloc(t->mask + 1, sizeof *t->slot)) == NULL) {
        free(t);
        return NULL;
    }
    return t;
}

void mv_domains_free(mv_domains *t)
{
    if (t == NULL)
        return;
    for (size_t i = 0; i <= t->mask; i++)
        free(t->slot[i].name);
    free(t->slot);
    free(t);
}

static entry *find(entry *slot, size_t mask, mv_hash128 k)
{
    for (size_t i = k.lo & mask;; i = (i + 1) & mask)
        if (slot[i].key.lo == 0 ||
            (slot[i].key.lo == k.lo && slot[i].key.hi == k.hi))
            return &slot[i];
}

static int grow(mv_domains *t)
{
    size_t nmask = t->mask * 2 + 1;
    entry *ns = calloc(nmask + 1, sizeof *ns);

    if (ns == NULL)
        return -1;
    for (size_t i = 0; i <= t->mask; i++)
        if (t->slot[i].key.lo != 0)
            *find(ns, nmask, t->slot[i].key) = t->slot[i];
    free(t->slot);
    t->slot = ns;
    t->mask = nmask;
    return 0;
}

void mv_domains_prefetch(const mv_domains *t, mv_hash128 key)
{
    __builtin_prefetch(&t->slot[key.lo & t->mask]);
}

mv_hash128 mv_domains_hash(const char *name, size_t len)
{
    mv_hash128 k = mv_hash128_of(name, len);

    k.lo |= 1;
    return k;
}

static entry *lookup(mv_domains *t, const char *name, mv_hash128 h, int *err)
{
    size_t len;
    entry *e = find(t->slot, t->mask, h);

    *err = 0;
    if (e->key.lo != 0)
        return e;
    if (t->count >= MV_DOMAINS_MAX)
        return NULL;
    len = strlen(name);
    if ((t->count + 1) * 2 > t->mask + 1) {
        if (grow(t) < 0) {
            *err = -1;
            return NULL;
        }
        e = find(t->slot, t->mask, h);
    }
    if ((e->name = malloc(len + 1)) == NULL) {
        *err = -1;
        return NULL;
    }
    memcpy(e->name, name, len + 1);
    e->key = h;
    t->count++;
    return e;
}

int mv_domains_restore(mv_domains *t, const char *name, uint64_t rows,
                       uint64_t dropped)
{
    int err;
    entry *e = lookup(t, name, mv_domains_hash(name, strlen(name)), &err);

    if (e != NULL) {
        e->rows = rows;
        e->dropped = dropped;
    }
    return err;
}

void mv_domains_restore_unnamed(mv_domains *t, uint64_t n)
{
    t->unnamed = n;
}

uint64_t mv_domains_unnamed(const mv_domains *t)
{
    return t->unnamed;
}

void mv_domains_each(const mv_domains *t,
                     void (*fn)(void *arg, const char *name, uint64_t rows,
                                uint64_t dropped),
                     void *arg)
{
    for (size_t i = 0; i <= t->mask; i++)
        if (t->slot[i].key.lo != 0)
            fn(arg, t->slot[i].name, t->slot[i].rows, t->slot[i].dropped);
}

int mv_domains_add(mv_domains *t, const char *name, bool dropped)
{
    return mv_domains_add_hashed(t, name, mv_domains_hash(name, strlen(name)),
                                 dropped);
}

int mv_domains_add_hashed(mv_domains *t, const char *name, mv_hash128 hash,
                          bool dropped)
{
    int err;
    entry *e = lookup(t, name, hash, &err);

    if (e == NULL) {
        if (err == 0)
            t->unnamed++; /* may count a domain twice: an estimate */
        return err;
    }
    e->rows++;
    e->dropped += dropped;
    return 0;
}

uint64_t mv_domains_unique(const mv_domains *t, bool *exact)
{
    if (exact != NULL)
        *exact = t->unnamed == 0;
    return t->count + t->unnamed;
}

static bool before(const entry *a, const mv_domain_count *b)
{
    return a->rows > b->rows ||
           (a->rows == b->rows && strcmp(a->name, b->name) < 0);
}

size_t mv_domains_top(const mv_domains *t, mv_domain_count *out, size_t n)
{
    size_t have = 0;

    for (size_t i = 0; i <= t->mask && n > 0; i++) {
        const entry *e = &t->slot[i];
        size_t k;
        if (e->key.lo == 0)
            continue;
        if (have == n && !before(e, &out[n - 1]))
            continue;
        k = have < n ? have++ : n - 1;
        while (k > 0 && before(e, &out[k - 1])) {
            out[k] = out[k - 1];
            k--;
        }
        out[k].name = e->name;
        out[k].rows = e->rows;
        out[k].dropped = e->dropped;
    }
    return have;
}
