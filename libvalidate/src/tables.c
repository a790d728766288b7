/*
 * tables.c - the data tables: disposable domains, free-mail providers,
 * role local parts and typo fixes; loading and lookups.
 *
 * The lists in data/ are compiled in (tables_data.c, generated at build
 * time), so the library works with no files installed.  Files named in
 * vl_options extend them at run time: one entry per line, '#' starts a
 * comment, "!entry" removes a built-in entry; typo files hold
 * "typo<TAB>fix" lines, where an entry starting with '.' is a
 * top-level-domain slip (".con" -> ".com").
 *
 * Lookups are hash probes (O(1)); the typo stage adds a symmetric-delete
 * index so that one-edit slips of the big providers ("gmial.com") are
 * found with a handful of probes instead of a scan.
 */
#include "internal.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

extern const char vl__data_disposable[], vl__data_free[], vl__data_role[],
    vl__data_typos[], vl__data_unverifiable[];
extern const size_t vl__data_disposable_len, vl__data_free_len,
    vl__data_role_len, vl__data_typos_len, vl__data_unverifiable_len;

/* Providers that document "+tag" sub-addressing: the tag is dropped from
 * the canonical key.  Gmail also ignores dots, and googlemail.com is
 * gmail.com. */
static const char *const plus_providers[] = {
    "gmail.com",     "googlemail.com", "outlook.com", "hotmail.com",
    "live.com",      "msn.com",        "icloud.com",  "me.com",
    "mac.com",       "fastmail.com",   "fastmail.fm", "protonmail.com",
    "protonmail.ch", "proton.me",      "pm.me",       "yandex.ru",
    "yandex.com",    "zoho.com",       "hey.com",     "tutanota.com",
    "runbox.com",    "mailbox.org",    "posteo.de",   "hotmail.co.uk",
    "outlook.fr",    "hotmail.fr",     "live.co.uk",  "outlook.de",
};

typedef enum { KIND_DOMAIN, KIND_LOCAL, KIND_TYPO } list_kind;

typedef struct loader {
    const char *name; /* file name or "built-in <list>", for errors */
    char *err;
    size_t err_cap;
    /* The compiled-in lists were checked when they were made
     * (data/import.sh; the tables test loads them as files too), so
     * start-up need not check 150,000 entries again. */
    bool trusted;
} loader;

static vl_status data_error(const loader *ld, size_t line, const char *what)
{
    if (ld->err && ld->err_cap)
        snprintf(ld->err, ld->err_cap, "%s:%zu: %s", ld->name, line, what);
    return VL_EDATA;
}

static bool valid_entry(const char *s, size_t len, list_kind kind)
{
    if (len == 0 || len > VL__DOMAIN_MAX)
        return false;
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c <= ' ' || c == 0x7F || c == '@' || (c >= 'A' && c <= 'Z'))
            return false;
        if (kind != KIND_LOCAL &&
            !(c == '.' || c == '-' || (c >= 'a' && c <= 'z') ||
              (c >= '0' && c <= '9')))
            return false;
    }
    return true;
}

/* Add (or, with a leading '!', remove) one line of a list. */
static vl_status add_line(vl__strset *set, const char *s, size_t len,
                          list_kind kind, const loader *ld, size_t line)
{
    bool remove = len > 0 && s[0] == '!';
    const char *val = NULL;
    size_t vlen = 0;

    if (remove)
        s++, len--;
    if (kind == KIND_TYPO && !remove) {
        const char *tab = memchr(s, '\t', len);
        if (tab == NULL)
            return data_error(ld, line, "expected \"typo<TAB>fix\"");
        val = tab + 1;
        vlen = len - (size_t)(val - s);
        len = (size_t)(tab - s);
        if (!ld->trusted && !valid_entry(val, vlen, KIND_TYPO))
            return data_error(ld, line, "invalid fix");
    }
    if (!ld->trusted && !valid_entry(s, len, kind))
        return data_error(ld, line,
                          "invalid entry (lower-case ASCII, "
                          "A-labels for domains)");
    if (remove) {
        vl__strset_del(set, s, len);
        return VL_OK;
    }
    return vl__strset_put(set, s, len, val, vlen);
}

/* Walk the lines of a blob: trims CR and blanks, skips comments. */
static vl_status load_blob(vl__strset *set, const char *blob, size_t len,
                           list_kind kind, const loader *ld)
{
    size_t line = 0, lines = 0;
    vl_status st;

    /* Size the set once for every line, rather than grow it step by
     * step (each step rehashes everything). */
    for (const char *p = blob;
         (p = memchr(p, '\n', len - (size_t)(p - blob))) != NULL; p++)
        lines++;
    if ((st = vl__strset_reserve(set, lines + 1)) != VL_OK)
        return st;
    for (size_t i = 0; i < len && st == VL_OK;) {
        const char *nl = memchr(blob + i, '\n', len - i);
        size_t end = nl ? (size_t)(nl - blob) : len;
        const char *s = blob + i;
        size_t n = end - i;
        line++;
        i = end + 1;
        while (n > 0 && (s[n - 1] == '\r' || s[n - 1] == ' '))
            n--;
        while (n > 0 && s[0] == ' ')
            s++, n--;
        if (n == 0 || s[0] == '#')
            continue;
        st = add_line(set, s, n, kind, ld, line);
    }
    return st;
}

static vl_status read_file(const char *path, char **out, size_t *len,
                           const loader *ld)
{
    FILE *f = fopen(path, "rb");
    char *buf = NULL;
    size_t cap = 0, n = 0;

    if (f == NULL) {
        if (ld->err && ld->err_cap)
            snprintf(ld->err, ld->err_cap, "%s: %s", path, strerror(errno));
        return VL_EIO;
    }
    for (;;) {
        if (n == cap) {
            char *nb = realloc(buf, cap = cap ? cap * 2 : 65536);
            if (nb == NULL) {
                free(buf);
                fclose(f);
                return VL_ENOMEM;
            }
            buf = nb;
        }
        size_t got = fread(buf + n, 1, cap - n, f);
        n += got;
        if (got == 0)
            break;
    }
    bool bad = ferror(f);
    fclose(f);
    if (bad) {
        free(buf);
        return VL_EIO;
    }
    *out = buf;
    *len = n;
    return VL_OK;
}

/* Lower-case ASCII so files may be written in any case. */
static void lower_blob(char *b, size_t n)
{
    for (size_t i = 0; i < n; i++)
        b[i] = vl__lower(b[i]);
}

static vl_status load_file(vl__tables *t, vl__strset *set, const char *path,
                           list_kind kind, char *err, size_t err_cap)
{
    loader ld = {path, err, err_cap, false};
    char *buf, **arenas;
    size_t len;
    vl_status st;

    if (path == NULL)
        return VL_OK;
    if ((st = read_file(path, &buf, &len, &ld)) != VL_OK)
        return st;
    arenas = realloc(t->arenas, (t->n_arenas + 1) * sizeof *arenas);
    if (arenas == NULL) {
        free(buf);
        return VL_ENOMEM;
    }
    t->arenas = arenas;
    t->arenas[t->n_arenas++] = buf;
    lower_blob(buf, len);
    return load_blob(set, buf, len, kind, &ld);
}

/* The built-in blobs are static: keys point straight into them. */
static vl_status load_builtin(vl__strset *set, const char *blob, size_t len,
                              list_kind kind, const char *name, char *err,
                              size_t err_cap)
{
    loader ld = {name, err, err_cap, true};

    return load_blob(set, blob, len, kind, &ld);
}

/* Index each whole-domain typo target, and every one-byte deletion of
 * it, for vl__typo_suggest's symmetric-delete search. */
static vl_status index_targets(vl__tables *t)
{
    vl_status st = VL_OK;
    char *del;

    for (size_t i = 0; i <= t->typo.mask && st == VL_OK; i++) {
        const vl__strslot *e = &t->typo.slots[i];
        if (e->key == NULL || e->val[0] == '.')
            continue;
        st = vl__strset_put(&t->typo_targets, e->val, e->val_len, e->val,
                            e->val_len);
    }
    for (size_t i = 0; i <= t->typo_targets.mask && st == VL_OK; i++) {
        const char *k = t->typo_targets.slots[i].key;
        size_t n = t->typo_targets.slots[i].len;
        if (k == NULL)
            continue;
        /* deletions need storage: one arena holding n strings of n-1 */
        if ((del = malloc(n * n + 1)) == NULL)
            return VL_ENOMEM;
        char **arenas = realloc(t->arenas, (t->n_arenas + 1) * sizeof *arenas);
        if (arenas == NULL) {
            free(del);
            return VL_ENOMEM;
        }
        t->arenas = arenas;
        t->arenas[t->n_arenas++] = del;
        for (size_t m = 1; m < n && st == VL_OK; m++)
            if ((st = vl__strset_put(&t->typo_heads, k, m, NULL, 0)) == VL_OK)
                st = vl__strset_put(&t->typo_tails, k + n - m, m, NULL, 0);
        for (size_t j = 0; j < n && st == VL_OK; j++) {
            char *d = del + j * n;
            memcpy(d, k, j);
            memcpy(d + j, k + j + 1, n - j - 1);
            if (!vl__strset_has(&t->typo_deletes, d, n - 1))
                st = vl__strset_put(&t->typo_deletes, d, n - 1, k, n);
        }
    }
    return st;
}

vl_status vl__tables_load(vl__tables *t, const vl_options *opt, char *err,
                          size_t err_cap)
{
    vl_status st;

    memset(t, 0, sizeof *t);
    if ((st = vl__strset_init(&t->disposable, 8192, false)) != VL_OK ||
        (st = vl__strset_init(&t->free_mail, 8192, false)) != VL_OK ||
        (st = vl__strset_init(&t->role, 512, false)) != VL_OK ||
        (st = vl__strset_init(&t->typo, 512, true)) != VL_OK ||
        (st = vl__strset_init(&t->typo_targets, 128, true)) != VL_OK ||
        (st = vl__strset_init(&t->typo_deletes, 2048, true)) != VL_OK ||
        (st = vl__strset_init(&t->plus, 64, false)) != VL_OK ||
        (st = vl__strset_init(&t->typo_heads, 2048, false)) != VL_OK ||
        (st = vl__strset_init(&t->typo_tails, 2048, false)) != VL_OK ||
        (st = vl__strset_init(&t->unverifiable, 64, false)) != VL_OK)
        return st;
    for (size_t i = 0; i < sizeof plus_providers / sizeof *plus_providers; i++)
        if ((st = vl__strset_put(&t->plus, plus_providers[i],
                                 strlen(plus_providers[i]), NULL, 0)) != VL_OK)
            return st;
#define BUILTIN(set, name, kind)                                              \
    load_builtin(&t->set, vl__data_##name, vl__data_##name##_len, kind,       \
                 "built-in " #name, err, err_cap)
    if ((st = BUILTIN(disposable, disposable, KIND_DOMAIN)) != VL_OK ||
        (st = BUILTIN(free_mail, free, KIND_DOMAIN)) != VL_OK ||
        (st = BUILTIN(role, role, KIND_LOCAL)) != VL_OK ||
        (st = BUILTIN(typo, typos, KIND_TYPO)) != VL_OK ||
        (st = BUILTIN(unverifiable, unverifiable, KIND_DOMAIN)) != VL_OK)
        return st;
#undef BUILTIN
    if ((st = load_file(t, &t->disposable, opt->disposable_file, KIND_DOMAIN,
                        err, err_cap)) != VL_OK ||
        (st = load_file(t, &t->free_mail, opt->free_file, KIND_DOMAIN, err,
                        err_cap)) != VL_OK ||
        (st = load_file(t, &t->role, opt->role_file, KIND_LOCAL, err,
                        err_cap)) != VL_OK ||
        (st = load_file(t, &t->typo, opt->typo_file, KIND_TYPO, err,
                        err_cap)) != VL_OK ||
        (st = load_file(t, &t->unverifiable, opt->smtp_providers_file,
                        KIND_DOMAIN, err, err_cap)) != VL_OK)
        return st;
    return index_targets(t);
}

void vl__tables_free(vl__tables *t)
{
    vl__strset_free(&t->disposable);
    vl__strset_free(&t->free_mail);
    vl__strset_free(&t->role);
    vl__strset_free(&t->typo);
    vl__strset_free(&t->typo_targets);
    vl__strset_free(&t->typo_deletes);
    vl__strset_free(&t->plus);
    vl__strset_free(&t->typo_heads);
    vl__strset_free(&t->typo_tails);
    vl__strset_free(&t->unverifiable);
    for (size_t i = 0; i < t->n_arenas; i++)
        free(t->arenas[i]);
    free(t->arenas);
    memset(t, 0, sizeof *t);
}

/* Are a and b at most one edit apart (insert, delete, substitute, or
 * swap two adjacent bytes: optimal string alignment distance <= 1)? */
static bool one_edit(const char *a, size_t an, const char *b, size_t bn)
{
    size_t i = 0;

    if (an > bn)
        return one_edit(b, bn, a, an);
    if (bn - an > 1)
        return false;
    while (i < an && a[i] == b[i])
        i++;
    if (i == an)
        return true; /* equal, or b has one extra byte at the end */
    if (an == bn) {
        if (memcmp(a + i + 1, b + i + 1, an - i - 1) == 0)
            return true; /* substitution */
        return i + 1 < an && a[i] == b[i + 1] && a[i + 1] == b[i] &&
               memcmp(a + i + 2, b + i + 2, an - i - 2) == 0;
    }
    return memcmp(a + i, b + i + 1, an - i) == 0; /* insertion */
}

static size_t put_fix(const char *fix, size_t n, char *out, size_t cap)
{
    if (n >= cap)
        return 0;
    memcpy(out, fix, n);
    out[n] = '\0';
    return n;
}

/* One edit away from a big provider's domain? Symmetric delete: the
 * query, or the query less one byte, meets a target or a target less
 * one byte. */
static size_t fuzzy_target(const vl__tables *t, const char *d, size_t len,
                           char *out, size_t cap)
{
    char q[VL__DOMAIN_MAX + 1];
    const char *v;
    size_t vlen;

    if (len < 6 || len > VL__DOMAIN_MAX)
        return 0;
    /* One edit at position p leaves either the first (len-1)/2 bytes or
     * the bytes after the middle as they were in the target: when
     * neither is a target's prefix or suffix, no target is one edit
     * away, and the search below (len+1 probes) is skipped. */
    size_t head = (len - 1) / 2, tail = len - head - 1;
    if (!vl__strset_has(&t->typo_heads, d, head) &&
        !vl__strset_has(&t->typo_tails, d + len - tail, tail))
        return 0;
    v = vl__strmap_get(&t->typo_deletes, d, len, &vlen);
    if (v != NULL && vlen >= 8)
        return put_fix(v, vlen, out, cap);
    for (size_t j = 0; j < len; j++) {
        memcpy(q, d, j);
        memcpy(q + j, d + j + 1, len - j - 1);
        if (((v = vl__strmap_get(&t->typo_targets, q, len - 1, &vlen)) ||
             (v = vl__strmap_get(&t->typo_deletes, q, len - 1, &vlen))) &&
            vlen >= 8 && one_edit(d, len, v, vlen))
            return put_fix(v, vlen, out, cap);
    }
    return 0;
}

/* Replace a mistyped top-level domain (".con") using the '.'-rules. */
static size_t fix_tld(const vl__tables *t, const char *d, size_t len,
                      char *out, size_t cap)
{
    for (size_t i = 1; i < len; i++) {
        size_t vlen;
        const char *v;
        if (d[i] != '.')
            continue;
        if ((v = vl__strmap_get(&t->typo, d + i, len - i, &vlen)) == NULL)
            continue;
        if (i + vlen >= cap)
            return 0;
        memcpy(out, d, i);
        memcpy(out + i, v, vlen);
        out[i + vlen] = '\0';
        return i + vlen;
    }
    return 0;
}

size_t vl__typo_suggest(const vl__tables *t, const char *d, size_t len,
                        char *out, size_t cap)
{
    char tmp[VL__FIELD_CAP];
    const char *v;
    size_t vlen, n;

    if ((v = vl__strmap_get(&t->typo, d, len, &vlen)) != NULL)
        return put_fix(v, vlen, out, cap);
    if (vl__strset_has(&t->free_mail, d, len) ||
        vl__strset_has(&t->typo_targets, d, len))
        return 0;
    if ((n = fix_tld(t, d, len, tmp, sizeof tmp)) > 0) {
        if ((v = vl__strmap_get(&t->typo, tmp, n, &vlen)) != NULL)
            return put_fix(v, vlen, out, cap);
        size_t m = fuzzy_target(t, tmp, n, out, cap);
        return m > 0 ? m : put_fix(tmp, n, out, cap);
    }
    if (vl__strset_has(&t->disposable, d, len))
        return 0;
    return fuzzy_target(t, d, len, out, cap);
}
