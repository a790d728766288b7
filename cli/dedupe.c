/*
 * dedupe.c - hash set of 128-bit key hashes (dedupe.h).  Linear probing
 * on the low bits; the all-zero value marks an empty slot, so a hash
 * that happens to be zero is stored as 1.
 *
 * Large tables are mapped with transparent huge pages asked for
 * (madvise): every insert lands on a random slot, and with 4 KiB pages
 * a table of tens of megabytes costs a TLB miss and, while it is new, a
 * page fault per insert.
 */
#include "dedupe.h"

#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

enum { HUGE_BYTES = 2 << 20 };

struct mv_dedupe {
    mv_hash128 *slot;
    size_t mask, count;
};

/* 'n' zeroed slots. */
static mv_hash128 *slots_new(size_t n)
{
    size_t bytes = n * sizeof(mv_hash128);
    void *p;

    if (bytes < HUGE_BYTES)
        return calloc(n, sizeof(mv_hash128));
    p = mmap(NULL, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS,
             -1, 0);
    if (p == MAP_FAILED)
        return NULL;
    madvise(p, bytes, MADV_HUGEPAGE); /* a hint: fine if refused */
    return p;
}

static void slots_free(mv_hash128 *s, size_t n)
{
    if (n * sizeof(mv_hash128) < HUGE_BYTES)
        free(s);
    else if (s != NULL)
        munmap(s, n * sizeof(mv_hash128));
}

static uint64_t rotl(uint64_t x, int r)
{
    return (x << r) | (x >> (64 - r));
}

static uint64_t fmix(uint64_t k)
{
    k ^= k >> 33;
    k *= 0xff51afd7ed558ccdull;
    k ^= k >> 33;
    k *= 0xc4ceb9fe1a85ec53ull;
    k ^= k >> 33;
    return k;
}

static uint64_t load_tail(const unsigned char *p, size_t n)
{
    uint64_t k = 0;

    for (size_t i = n; i-- > 0;)
        k = k << 8 | p[i];
    return k;
}

/* Austin Appleby's MurmurHash3_x64_128 (public domain), byte order
 * fixed to little-endian so the hash is the same on every machine. */
mv_hash128 mv_hash128_of(const void *key, size_t len)
{
    const unsigned char *d = key;
    const uint64_t c1 = 0x87c37b91114253d5ull, c2 = 0x4cf5ad432745937full;
    uint64_t h1 = 0, h2 = 0, k1, k2;
    size_t i, nb = len / 16, rest = len & 15;
    mv_hash128 h;

    for (i = 0; i < nb; i++, d += 16) {
        k1 = load_tail(d, 8) * c1;
        k2 = load_tail(d + 8, 8) * c2;
        h1 ^= rotl(k1, 31) * c2;
        h1 = (rotl(h1, 27) + h2) * 5 + 0x52dce729;
        h2 ^= rotl(k2, 33) * c1;
        h2 = (rotl(h2, 31) + h1) * 5 + 0x38495ab5;
    }
    if (rest > 8)
        h2 ^= rotl(load_tail(d + 8, rest - 8) * c2, 33) * c1;
    if (rest > 0)
        h1 ^= rotl(load_tail(d, rest > 8 ? 8 : rest) * c1, 31) * c2;
    h1 ^= len;
    h2 ^= len;
    h1 += h2;
    h2 += h1;
    h1 = fmix(h1);
    h2 = fmix(h2);
    h1 += h2;
    h2 += h1;
    h.lo = h1;
    h.hi = h2;
    return h;
}

mv_dedupe *mv_dedupe_new(void)
{
    mv_dedupe *d = calloc(1, sizeof *d);

    if (d == NULL)
        return NULL;
    d->mask = (1u << 16) - 1;
    if ((d->slot = slots_new(d->mask + 1)) == NULL) {
        free(d);
        return NULL;
    }
    return d;
}

void mv_dedupe_free(mv_dedupe *d)
{
    if (d == NULL)
        return;
    slots_free(d->slot, d->mask + 1);
    free(d);
}

static mv_hash128 *find(mv_hash128 *slot, size_t mask, mv_hash128 h)
{
    for (size_t i = h.lo & mask;; i = (i + 1) & mask)
        if ((slot[i].lo == h.lo && slot[i].hi == h.hi) ||
            (slot[i].lo == 0 && slot[i].hi == 0))
            return &slot[i];
}

static int grow(mv_dedupe *d)
{
    size_t nmask = d->mask * 2 + 1;
    mv_hash128 *ns = slots_new(nmask + 1);

    if (ns == NULL)
        return -1;
    for (size_t i = 0; i <= d->mask; i++)
        if (d->slot[i].lo != 0 || d->slot[i].hi != 0)
            *find(ns, nmask, d->slot[i]) = d->slot[i];
    slots_free(d->slot, d->mask + 1);
    d->slot = ns;
    d->mask = nmask;
    return 0;
}

int mv_dedupe_add(mv_dedupe *d, mv_hash128 h)
{
    mv_hash128 *s;

    if (h.lo == 0 && h.hi == 0)
        h.lo = 1;
    s = find(d->slot, d->mask, h);
    if (s->lo != 0 || s->hi != 0)
        return 0;
    if ((d->count + 1) * 4 > (d->mask + 1) * 3) {
        if (grow(d) < 0)
            return -1;
        s = find(d->slot, d->mask, h);
    }
    *s = h;
    d->count++;
    return 1;
}

void mv_dedupe_prefetch(const mv_dedupe *d, mv_hash128 h)
{
    __builtin_prefetch(&d->slot[h.lo & d->mask]);
}

size_t mv_dedupe_count(const mv_dedupe *d)
{
    return d->count;
}

size_t mv_dedupe_bytes(const mv_dedupe *d)
{
    return (d->mask + 1) * sizeof *d->slot;
}
