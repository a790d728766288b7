/*
 * dedupe.h - the set of canonical keys "mailvet clean" has kept, in
 * bounded memory: each key is stored as its 128-bit hash (16 bytes a
 * key, in an open-addressing table at most 3/4 full), so 10,000,000
 * unique addresses take 256 MiB at most, whatever their length.  Two
 * different keys share a hash with a chance of about n^2 / 2^129: nil
 * for any list (n = 10^9 gives 10^-21).
 */
#ifndef MV_DEDUPE_H
#define MV_DEDUPE_H

#include <stddef.h>
#include <stdint.h>

typedef struct mv_hash128 {
    uint64_t lo, hi;
} mv_hash128;

/* MurmurHash3 x64 128 of 'len' bytes (seed 0): the same bytes give the
 * same hash in every run, so a resumed run can reload the set. */
mv_hash128 mv_hash128_of(const void *key, size_t len);

typedef struct mv_dedupe mv_dedupe;

mv_dedupe *mv_dedupe_new(void);
void mv_dedupe_free(mv_dedupe *d);
/* Add 'h': 1 when it is new, 0 when it was there, -1 out of memory. */
int mv_dedupe_add(mv_dedupe *d, mv_hash128 h);
/* Start loading the slot of 'h' into the cache, a few rows before
 * mv_dedupe_add(d, h): the table is large and its slots random. */
void mv_dedupe_prefetch(const mv_dedupe *d, mv_hash128 h);
size_t mv_dedupe_count(const mv_dedupe *d);
size_t mv_dedupe_bytes(const mv_dedupe *d);

#endif
