/*
 * apikeys.c - load API keys and check bearer credentials (RFC 6750
 * §2.1: "Authorization: Bearer TOKEN").  Keys are at most 256 bytes of
 * visible ASCII; a longer or odd line is an error, not a cut.
 */
#include "apikeys.h"

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

enum { KEY_MAX = 256, KEYS_MAX = 10000 };

struct mv_keys {
    size_t n;
    char **key;
};

void mv_keys_free(mv_keys *k)
{
    if (k == NULL)
        return;
    for (size_t i = 0; i < k->n; i++)
        free(k->key[i]);
    free(k->key);
    free(k);
}

size_t mv_keys_count(const mv_keys *k)
{
    return k->n;
}

static bool key_char(char c)
{
    return c > 0x20 && c < 0x7F;
}

static int add_key(mv_keys *k, const char *s, size_t len, const char *where)
{
    char **grown;

    for (size_t i = 0; i < len; i++)
        if (!key_char(s[i]) || s[i] == ',')
            len = 0;
    if (len == 0 || len > KEY_MAX || k->n >= KEYS_MAX) {
        fprintf(stderr,
                "mailvet: %s: bad API key (1-%d visible ASCII "
                "characters, at most %d keys)\n",
                where, KEY_MAX, KEYS_MAX);
        return -1;
    }
    if ((grown = realloc(k->key, (k->n + 1) * sizeof *grown)) == NULL)
        return -1;
    k->key = grown;
    if ((k->key[k->n] = strndup(s, len)) == NULL)
        return -1;
    k->n++;
    return 0;
}

/* Split 's' (the environment variable) at white space and commas and
 * add each word. */
static int add_words(mv_keys *k, const char *s, const char *where)
{
    while (*s) {
        size_t n;
        s += strspn(s, " \t\r\n,");
        n = strcspn(s, " \t\r\n,");
        if (n && add_key(k, s, n, where) < 0)
            return -1;
        s += n;
    }
    return 0;
}

/* One line of a key file: blank, a '#' comment, or one key.  Keys have
 * no names: a second word is refused, since taking "alice s3cret" as
 * two keys would let anyone in with the name. */
static int add_line(mv_keys *k, const char *line, const char *file,
                    unsigned lineno)
{
    const char *key = line + strspn(line, " \t\r\n");
    size_t n = strcspn(key, " \t\r\n");

    if (*key == '\0' || *key == '#')
        return 0;
    if (key[n + strspn(key + n, " \t\r\n")] != '\0') {
        fprintf(stderr,
                "mailvet: %s:%u: one key per line (keys have no "
                "names)\n",
                file, lineno);
        return -1;
    }
    return add_key(k, key, n, file);
}

static int load_file(mv_keys *k, const char *file)
{
    FILE *f = fopen(file, "r");
    char line[KEY_MAX + 4];
    unsigned lineno = 0;
    int rc = 0;

    if (f == NULL) {
        fprintf(stderr, "mailvet: %s: %s\n", file, strerror(errno));
        return -1;
    }
    while (rc == 0 && fgets(line, sizeof line, f)) {
        size_t n = strlen(line);
        lineno++;
        if (n == sizeof line - 1 && line[n - 1] != '\n') {
            fprintf(stderr, "mailvet: %s:%u: line too long\n", file, lineno);
            rc = -1;
        } else {
            rc = add_line(k, line, file, lineno);
        }
    }
    fclose(f);
    return rc;
}

mv_keys *mv_keys_load(const char *file, const char *env)
{
    mv_keys *k = calloc(1, sizeof *k);
    const char *ev = env ? getenv(env) : NULL;

    if (k == NULL)
        return NULL;
    if ((file && load_file(k, file) < 0) ||
        (ev && add_words(k, ev, env) < 0)) {
        mv_keys_free(k);
        return NULL;
    }
    return k;
}

/* Equal in time that depends on the lengths only. */
static bool same(const char *a, size_t a_len, const char *b, size_t b_len)
{
    unsigned char d = a_len != b_len;

    for (size_t i = 0; i < a_len && i < b_len; i++)
        d |= (unsigned char)(a[i] ^ b[i]);
    return d == 0;
}

mv_auth mv_keys_check(const mv_keys *k, const char *header)
{
    const char *tok;
    size_t len;
    bool found = false;

    if (header == NULL || strncasecmp(header, "Bearer ", 7) != 0)
        return MV_AUTH_MISSING;
    tok = header + 7 + strspn(header + 7, " ");
    len = strcspn(tok, " \t");
    if (len == 0)
        return MV_AUTH_MISSING;
    for (size_t i = 0; i < k->n; i++)
        found |= same(tok, len, k->key[i], strlen(k->key[i]));
    return found ? MV_AUTH_OK : MV_AUTH_BAD;
}
