/*
 * ratelimit.h - per-client token buckets for `mailvet serve`, so the
 * service cannot be used as a free mailbox-enumeration oracle.  Each
 * client address earns 'rate' tokens a second up to 'burst'; a request
 * takes one.  A fixed table of slots keyed by address: memory does not
 * grow with the number of clients (a new client takes the slot of the
 * one whose hash it shares, which then starts with a full bucket).
 */
#ifndef MV_RATELIMIT_H
#define MV_RATELIMIT_H

#include <stdbool.h>
#include <sys/socket.h>

typedef struct mv_ratelimit mv_ratelimit;

/* NULL when out of memory. 'rate' > 0. */
mv_ratelimit *mv_ratelimit_new(double rate, double burst);
void mv_ratelimit_free(mv_ratelimit *rl);
/* Take a token for the client 'sa' (IPv4 or IPv6; the port is
 * ignored).  False when its bucket is empty; '*retry_s' is then the
 * whole seconds until the next token.  Any thread. */
bool mv_ratelimit_take(mv_ratelimit *rl, const struct sockaddr *sa,
                       unsigned *retry_s);

#endif
