/*
 * store_lookup.c - the store stage alone: lookups per second of the
 * pipeline's store lookup (vl__store_check(), what vl_check() calls
 * after the tables) over a list of addresses, without the rest of the
 * pipeline, whose cost would otherwise hide it.
 *
 *   store_lookup STORE ADDRESSES [--no-cache]
 *
 * The canonical keys are made first with an offline context (not
 * timed).  Then every address is looked up once, in file order, with
 * the store's defaults: the first 1,000 lookups query the backend, the
 * next loads the cache, the rest are answered from memory.  Prints the
 * open time, the lookups per second over all of them (load included)
 * and after the load, how many were found, and the peak RSS.
 * --no-cache sets cache_max_bytes = 0: every lookup queries the backend.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>

#include "internal.h"

static double now_s(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static long rss_kb(void)
{
    struct rusage ru;

    getrusage(RUSAGE_SELF, &ru);
    return ru.ru_maxrss;
}

/* Every address's canonical key, one after another, NUL-terminated. */
static char *read_keys(const char *path, size_t *count, size_t *bytes)
{
    vl_ctx *ctx;
    vl_result *res;
    vl_options opt;
    char line[2048], err[256];
    size_t cap = 1 << 20, len = 0, n = 0;
    char *keys = malloc(cap);
    FILE *f = fopen(path, "r");

    VL_OPTIONS_INIT(&opt);
    opt.flags |= VL_OPT_OFFLINE;
    if (f == NULL || keys == NULL ||
        vl_ctx_new(&opt, &ctx, err, sizeof err) != VL_OK ||
        vl_result_new(&res) != VL_OK) {
        fprintf(stderr, "store_lookup: %s: cannot read\n", path);
        exit(2);
    }
    while (fgets(line, sizeof line, f) != NULL) {
        size_t l = strcspn(line, "\r\n");
        const char *k;
        if (vl_check(ctx, line, l, res) != VL_OK)
            continue;
        k = vl_result_canonical(res);
        l = strlen(k);
        while (len + l + 1 > cap)
            if ((keys = realloc(keys, cap *= 2)) == NULL)
                exit(2);
        memcpy(keys + len, k, l + 1);
        len += l + 1;
        n++;
    }
    fclose(f);
    vl_result_free(res);
    vl_ctx_free(ctx);
    *count = n;
    *bytes = len;
    return keys;
}

int main(int argc, char **argv)
{
    vl_store_config cfg;
    vl_store *st;
    vl_result *res;
    vl_store_entry *e = malloc(sizeof *e);
    char err[512];
    size_t n, bytes, found = 0, i = 0;
    const char *k;
    double t0, t1, t_load = 0, t_end;
    long rss0;

    if (argc < 3 || e == NULL) {
        fprintf(stderr, "usage: store_lookup STORE ADDRESSES [--no-cache]\n");
        return 2;
    }
    char *keys = read_keys(argv[2], &n, &bytes);
    rss0 = rss_kb();
    VL_STORE_CONFIG_INIT(&cfg);
    if (argc > 3 && strcmp(argv[3], "--no-cache") == 0)
        cfg.cache_max_bytes = 0;
    t0 = now_s();
    if (vl_store_open(argv[1], &cfg, &st, err, sizeof err) != VL_OK) {
        fprintf(stderr, "store_lookup: %s\n", err);
        return 2;
    }
    if (vl_result_new(&res) != VL_OK)
        return 2;
    t1 = now_s();
    for (k = keys; k < keys + bytes; k += strlen(k) + 1, i++) {
        size_t l = strlen(k);
        memcpy(res->canonical, k, l + 1);
        memcpy(res->address, k, l + 1);
        vl_status rc =
            vl__store_check(st, res, VL_OPT_PROVIDER_RULES, NULL, e);
        if (rc == VL_OK)
            found++;
        else if (rc != VL_ENOTFOUND) {
            fprintf(stderr, "store_lookup: %s\n", vl_store_errmsg(st));
            return 1;
        }
        if (i == cfg.cache_after)
            t_load = now_s(); /* the lookup that loaded the cache */
    }
    t_end = now_s();
    printf("store_lookup: open %.3f s; %zu lookups in %.3f s = %.0f/s "
           "(load included), %.0f/s after the load; %zu found; "
           "RSS %ld MB (%ld MB before open)\n",
           t1 - t0, n, t_end - t1, (double)n / (t_end - t1),
           t_load > 0 ? (double)(n - cfg.cache_after - 1) / (t_end - t_load)
                      : 0.0,
           found, rss_kb() / 1024, rss0 / 1024);
    vl_result_free(res);
    vl_store_close(st);
    free(keys);
    free(e);
    return 0;
}
