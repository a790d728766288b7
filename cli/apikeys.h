/*
 * apikeys.h - the API keys of `mailvet serve`: "Authorization: Bearer
 * KEY" headers are checked against keys read from a file (one key per
 * line, nothing else on it: keys have no names; blank lines and '#'
 * comments) and from the environment (MAILVET_API_KEYS, separated by
 * commas or white space).
 */
#ifndef MV_APIKEYS_H
#define MV_APIKEYS_H

#include <stddef.h>

typedef struct mv_keys mv_keys;

typedef enum mv_auth {
    MV_AUTH_OK,      /* a known key */
    MV_AUTH_MISSING, /* no "Bearer" credentials: 401 */
    MV_AUTH_BAD      /* credentials, but no key matches: 403 */
} mv_auth;

/* Load the keys of 'file' (may be NULL) and of the variable 'env' (may
 * be NULL or unset).  On error NULL, with a message on stderr. */
mv_keys *mv_keys_load(const char *file, const char *env);
void mv_keys_free(mv_keys *k);
size_t mv_keys_count(const mv_keys *k);
/* Check the value of an Authorization header ('header' may be NULL).
 * Compares in time independent of where keys differ. */
mv_auth mv_keys_check(const mv_keys *k, const char *header);

#endif
