/*
 * domains.h - rows per domain for the report of "mailvet clean": the
 * number of distinct domains and the busiest ones.  Bounded: past
 * MV_DOMAINS_MAX distinct domains new ones are counted by hash only
 * (their names are not kept, so they cannot make the top list).
 */
#ifndef MV_DOMAINS_H
#define MV_DOMAINS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "dedupe.h"

enum { MV_DOMAINS_MAX = 2000000 };

typedef struct mv_domains mv_domains;

typedef struct mv_domain_count {
    const char *name; /* borrowed from the table */
    uint64_t rows, dropped;
} mv_domain_count;

mv_domains *mv_domains_new(void);
void mv_domains_free(mv_domains *t);
/* Count one row of 'name' (A-label domain); -1 when out of memory. */
int mv_domains_add(mv_domains *t, const char *name, bool dropped);
/* The hash the table knows 'name' (of 'len' bytes) by ('lo' never 0).
 * Any thread may compute it, for mv_domains_add_hashed(). */
mv_hash128 mv_domains_hash(const char *name, size_t len);
/* Start loading the slot of 'hash' into the cache, a few rows ahead. */
void mv_domains_prefetch(const mv_domains *t, mv_hash128 hash);
/* mv_domains_add() with 'hash' = mv_domains_hash(name, strlen(name)). */
int mv_domains_add_hashed(mv_domains *t, const char *name, mv_hash128 hash,
                          bool dropped);
/* Distinct domains seen; '*exact' false once the table filled up. */
uint64_t mv_domains_unique(const mv_domains *t, bool *exact);
/* The 'n' domains with the most rows, most first (ties by name);
 * returns how many were written to 'out'. */
size_t mv_domains_top(const mv_domains *t, mv_domain_count *out, size_t n);

/* Call 'fn' for every named domain, in table order (for a checkpoint). */
void mv_domains_each(const mv_domains *t,
                     void (*fn)(void *arg, const char *name, uint64_t rows,
                                uint64_t dropped),
                     void *arg);
/* Domains past the cap, counted by hash only. */
uint64_t mv_domains_unnamed(const mv_domains *t);
/* Restore one domain's counts, or the unnamed count (when resuming). */
int mv_domains_restore(mv_domains *t, const char *name, uint64_t rows,
                       uint64_t dropped);
void mv_domains_restore_unnamed(mv_domains *t, uint64_t n);

#endif
