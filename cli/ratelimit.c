/*
 * ratelimit.c - token buckets per client address (see ratelimit.h).
 * IPv6 clients are keyed by their /64, the smallest block one user
 * commonly holds; IPv4 by the address.  One mutex: a take is a hash,
 * a refill and a compare.
 */
#include "ratelimit.h"

#include <math.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

enum { SLOTS = 1 << 16, KEY_LEN = 9 };

typedef struct bucket {
    unsigned char key[KEY_LEN]; /* family byte + 8 address bytes */
    double tokens;
    double stamp; /* seconds, CLOCK_MONOTONIC, of the last refill */
} bucket;

struct mv_ratelimit {
    double rate, burst;
    pthread_mutex_t mu;
    bucket *slots;
};

mv_ratelimit *mv_ratelimit_new(double rate, double burst)
{
    mv_ratelimit *rl = calloc(1, sizeof *rl);

    if (rl == NULL || (rl->slots = calloc(SLOTS, sizeof *rl->slots)) == NULL) {
        free(rl);
        return NULL;
    }
    rl->rate = rate;
    rl->burst = burst < 1 ? 1 : burst;
    pthread_mutex_init(&rl->mu, NULL);
    return rl;
}

void mv_ratelimit_free(mv_ratelimit *rl)
{
    if (rl == NULL)
        return;
    pthread_mutex_destroy(&rl->mu);
    free(rl->slots);
    free(rl);
}

static void make_key(const struct sockaddr *sa, unsigned char *key)
{
    memset(key, 0, KEY_LEN);
    key[0] = (unsigned char)sa->sa_family;
    if (sa->sa_family == AF_INET)
        memcpy(key + 1, &((const struct sockaddr_in *)sa)->sin_addr, 4);
    else if (sa->sa_family == AF_INET6)
        memcpy(key + 1, &((const struct sockaddr_in6 *)sa)->sin6_addr, 8);
}

/* FNV-1a over the key. */
static size_t slot_of(const unsigned char *key)
{
    uint32_t h = 2166136261u;

    for (size_t i = 0; i < KEY_LEN; i++)
        h = (h ^ key[i]) * 16777619u;
    return h & (SLOTS - 1);
}

static double now_s(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

bool mv_ratelimit_take(mv_ratelimit *rl, const struct sockaddr *sa,
                       unsigned *retry_s)
{
    unsigned char key[KEY_LEN];
    double t = now_s();
    bool ok;
    bucket *b;

    make_key(sa, key);
    pthread_mutex_lock(&rl->mu);
    b = &rl->slots[slot_of(key)];
    if (memcmp(b->key, key, KEY_LEN) != 0 || b->stamp == 0) {
        memcpy(b->key, key, KEY_LEN);
        b->tokens = rl->burst;
    } else {
        b->tokens = fmin(rl->burst, b->tokens + (t - b->stamp) * rl->rate);
    }
    b->stamp = t;
    ok = b->tokens >= 1;
    if (ok)
        b->tokens -= 1;
    else
        *retry_s = (unsigned)ceil((1 - b->tokens) / rl->rate);
    pthread_mutex_unlock(&rl->mu);
    return ok;
}
