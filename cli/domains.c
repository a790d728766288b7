/*
 * domains.c - rows per domain (domains.h): an open-addressing table of
 * (hash, counts, name), names in one growing arena.
 */
#include "domains.h"

#include <stdlib.h>
#include <string.h>

#include "dedupe.h"

typedef struct entry {
    uint64_t hash; /* 0: empty */
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

static entry *find(entry *slot, size_t mask, uint64_t h, const char *name)
{
    for (size_t i = h & mask;; i = (i + 1) & mask)
        if (slot[i].hash == 0 ||
            (slot[i].hash == h && strcmp(slot[i].name, name) == 0))
            return &slot[i];
}

static int grow(mv_domains *t)
{
    size_t nmask = t->mask * 2 + 1;
    entry *ns = calloc(nmask + 1, sizeof *ns);

    if (ns == NULL)
        return -1;
    for (size_t i = 0; i <= t->mask; i++)
        if (t->slot[i].hash != 0)
            *find(ns, nmask, t->slot[i].hash, t->slot[i].name) = t->slot[i];
    free(t->slot);
    t->slot = ns;
    t->mask = nmask;
    return 0;
}

static entry *lookup(mv_domains *t, const char *name, int *err)
{
    size_t len = strlen(name);
    uint64_t h = mv_hash128_of(name, len).lo | 1;
    entry *e = find(t->slot, t->mask, h, name);

    *err = 0;
    if (e->hash != 0)
        return e;
    if (t->count >= MV_DOMAINS_MAX)
        return NULL;
    if ((t->count + 1) * 2 > t->mask + 1) {
        if (grow(t) < 0) {
            *err = -1;
            return NULL;
        }
        e = find(t->slot, t->mask, h, name);
    }
    if ((e->name = malloc(len + 1)) == NULL) {
        *err = -1;
        return NULL;
    }
    memcpy(e->name, name, len + 1);
    e->hash = h;
    t->count++;
    return e;
}

int mv_domains_restore(mv_domains *t, const char *name, uint64_t rows,
                       uint64_t dropped)
{
    int err;
    entry *e = lookup(t, name, &err);

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
        if (t->slot[i].hash != 0)
            fn(arg, t->slot[i].name, t->slot[i].rows, t->slot[i].dropped);
}

int mv_domains_add(mv_domains *t, const char *name, bool dropped)
{
    int err;
    entry *e = lookup(t, name, &err);

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
        if (e->hash == 0)
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
