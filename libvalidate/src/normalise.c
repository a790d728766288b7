/*
 * normalise.c - domain to A-label and U-label, local part to NFC,
 * spoof checks, and the canonical key used for deduplication.
 *
 * Domains: libidn2.  A non-ASCII label must be a valid IDNA2008 U-label
 * (RFC 5890 §2.3.2.1, RFC 5891 §5.4) once lower-cased and put in NFC;
 * UTS #46 non-transitional mapping with STD3 rules is only used to
 * suggest a fix for a label that is not (full-width "ｇｍａｉｌ" is
 * DISALLOWED in IDNA2008 but maps to "gmail").  ASCII labels starting
 * "xn--" must decode to a valid U-label.  ASCII-only domains take a
 * fast path that never calls libidn2.
 *
 * Local parts: NFC (RFC 6532 §3.1) with ICU when non-ASCII; any
 * non-ASCII local part needs SMTPUTF8 (RFC 6531) to be delivered.
 *
 * Spoofing: ICU's USpoofChecker (UTS #39) per label: mixed scripts past
 * "moderately restrictive", invisible characters, mixed numbers, and
 * labels that are all non-Latin lookalikes of an ASCII name (their
 * skeleton is pure ASCII: "аррӏе" → "apple").
 *
 * Canonical key: lower-case (full case folding for non-ASCII) local part
 * "@" A-label domain; with VL_OPT_PROVIDER_RULES, provider rules (Gmail
 * ignores dots, +tags drop for providers that document sub-addressing).
 */
#include "internal.h"

#include <idn2.h>
#include <stdlib.h>
#include <string.h>
#include <unicode/uchar.h>
#include <unicode/unorm2.h>
#include <unicode/uspoof.h>
#include <unicode/ustring.h>

enum { U16_CAP = VL__FIELD_CAP };

vl_status vl__copy_field(char *dst, size_t cap, const char *src, size_t len)
{
    if (len >= cap)
        return VL_ETOOLONG;
    memcpy(dst, src, len);
    dst[len] = '\0';
    return VL_OK;
}

static bool has_ace_label(const char *d, size_t len)
{
    for (size_t i = 0; i + 4 <= len; i++) {
        if ((i == 0 || d[i - 1] == '.') && vl__lower(d[i]) == 'x' &&
            vl__lower(d[i + 1]) == 'n' && d[i + 2] == '-' && d[i + 3] == '-')
            return true;
    }
    return false;
}

/* UTF-8 -> ICU operation on UTF-16 -> UTF-8.  'op' 0 = NFC,
 * 1 = NFC then lower-case (root locale), 2 = NFC then full case fold. */
static vl_status icu_transform(const char *in, size_t len, int op, char *out,
                               size_t cap, size_t *out_len)
{
    UChar a[U16_CAP], b[U16_CAP];
    UErrorCode ec = U_ZERO_ERROR;
    int32_t n, m;
    const UNormalizer2 *nfc = unorm2_getNFCInstance(&ec);

    u_strFromUTF8(a, U16_CAP, &n, in, (int32_t)len, &ec);
    if (U_FAILURE(ec))
        return VL_ETOOLONG;
    m = unorm2_normalize(nfc, a, n, b, U16_CAP, &ec);
    if (op == 1)
        n = u_strToLower(a, U16_CAP, b, m, "", &ec);
    else if (op == 2)
        n = u_strFoldCase(a, U16_CAP, b, m, U_FOLD_CASE_DEFAULT, &ec);
    else
        memcpy(a, b, sizeof(UChar) * (size_t)(n = m));
    if (U_FAILURE(ec))
        return VL_ETOOLONG;
    u_strToUTF8(out, (int32_t)cap, &m, a, n, &ec);
    if (U_FAILURE(ec) || (size_t)m >= cap)
        return VL_ETOOLONG;
    *out_len = (size_t)m;
    return VL_OK;
}

static vl_reason idna_reason(int rc)
{
    switch (rc) {
    case IDN2_TOO_BIG_LABEL:
        return VL_R_SYNTAX_LABEL_TOO_LONG;
    case IDN2_TOO_BIG_DOMAIN:
        return VL_R_SYNTAX_DOMAIN_TOO_LONG;
    default:
        return VL_R_IDNA_INVALID;
    }
}

/* A label that does not pass IDNA2008 may still map under UTS #46; if
 * it does, 'fix' (VL__FIELD_CAP bytes) gets the mapped domain. */
static void suggest_mapped(const char *dom, char *fix)
{
    char *mapped = NULL, *ulabel = NULL;
    int flags = IDN2_NONTRANSITIONAL | IDN2_USE_STD3_ASCII_RULES;

    if (idn2_lookup_u8((const uint8_t *)dom, (uint8_t **)&mapped, flags) ==
            IDN2_OK &&
        idn2_to_unicode_8z8z(mapped, &ulabel, 0) == IDN2_OK &&
        vl__copy_field(fix, VL__FIELD_CAP, ulabel, strlen(ulabel)) != VL_OK)
        fix[0] = '\0';
    idn2_free(ulabel);
    idn2_free(mapped);
}

/* Non-ASCII or ACE domain: fill domain_ascii / domain_unicode or add a
 * reason (and maybe a 'fix').  'lower' is lower-cased and in NFC. */
static vl_status idna_domain(const char *lower, vl_result *res, char *fix)
{
    char *alabel = NULL, *ulabel = NULL;
    vl_status st = VL_OK;
    int rc = idn2_lookup_u8((const uint8_t *)lower, (uint8_t **)&alabel,
                            IDN2_NO_TR46);

    if (rc != IDN2_OK) {
        vl__result_add(res, idna_reason(rc));
        if (rc != IDN2_TOO_BIG_LABEL && rc != IDN2_TOO_BIG_DOMAIN)
            suggest_mapped(lower, fix);
        return VL_OK;
    }
    if (strlen(alabel) > VL__DOMAIN_MAX) {
        vl__result_add(res, VL_R_SYNTAX_DOMAIN_TOO_LONG);
        goto done;
    }
    rc = idn2_to_unicode_8z8z(alabel, &ulabel, 0);
    if (rc != IDN2_OK) {
        vl__result_add(res, VL_R_IDNA_INVALID);
        goto done;
    }
    st = vl__copy_field(res->domain_ascii, sizeof res->domain_ascii, alabel,
                        strlen(alabel));
    if (st == VL_OK)
        st = vl__copy_field(res->domain_unicode, sizeof res->domain_unicode,
                            ulabel, strlen(ulabel));
done:
    idn2_free(ulabel);
    idn2_free(alabel);
    return st;
}

static bool is_ascii(const char *s, size_t len)
{
    for (size_t i = 0; i < len; i++)
        if ((unsigned char)s[i] >= 0x80)
            return false;
    return true;
}

/* Fill domain_ascii and domain_unicode; may add a rejection reason. */
static vl_status normalise_domain(const char *dom, size_t len, unsigned flags,
                                  vl_result *res, char *fix)
{
    char lower[VL__FIELD_CAP];
    size_t n = len;
    vl_status st;

    if (flags & VL__SYN_LITERAL) {
        for (size_t i = 0; i < len; i++)
            lower[i] = vl__lower(dom[i]);
        if ((st = vl__copy_field(res->domain_ascii, VL__FIELD_CAP, lower,
                                 len)) != VL_OK)
            return st;
        return vl__copy_field(res->domain_unicode, VL__FIELD_CAP, lower, len);
    }
    if (flags & VL__SYN_DOMAIN_UTF8) {
        if ((st = icu_transform(dom, len, 1, lower, sizeof lower, &n)) !=
            VL_OK)
            return st;
        lower[n] = '\0';
        return idna_domain(lower, res, fix);
    }
    for (size_t i = 0; i < len; i++)
        lower[i] = vl__lower(dom[i]);
    lower[len] = '\0';
    if (has_ace_label(lower, len))
        return idna_domain(lower, res, fix);
    if ((st = vl__copy_field(res->domain_ascii, VL__FIELD_CAP, lower, len)) !=
        VL_OK)
        return st;
    return vl__copy_field(res->domain_unicode, VL__FIELD_CAP, lower, len);
}

/* Skeleton of a label is pure ASCII although the label is not: a
 * whole-script lookalike of an ASCII name. */
static bool ascii_lookalike(const USpoofChecker *sc, const char *label,
                            size_t len)
{
    char skel[VL__FIELD_CAP];
    UErrorCode ec = U_ZERO_ERROR;
    int32_t n = uspoof_getSkeletonUTF8(sc, 0, label, (int32_t)len, skel,
                                       sizeof skel, &ec);

    if (U_FAILURE(ec) || n <= 0 || (size_t)n >= sizeof skel)
        return false;
    return is_ascii(skel, (size_t)n);
}

static bool label_spoofable(const USpoofChecker *sc, const char *label,
                            size_t len)
{
    UErrorCode ec = U_ZERO_ERROR;
    int32_t r;

    if (is_ascii(label, len))
        return false;
    r = uspoof_checkUTF8(sc, label, (int32_t)len, NULL, &ec);
    if (U_FAILURE(ec))
        return true; /* ICU could not judge it: err on the side of care */
    return r != 0 || ascii_lookalike(sc, label, len);
}

static bool domain_spoofable(const vl_ctx *ctx, const char *d)
{
    const char *start = d;

    if (ctx->spoof == NULL)
        return false;
    for (const char *p = d;; p++) {
        if (*p == '.' || *p == '\0') {
            if (label_spoofable(ctx->spoof, start, (size_t)(p - start)))
                return true;
            if (*p == '\0')
                return false;
            start = p + 1;
        }
    }
}

static size_t provider_local(const vl__tables *t, char *l, size_t n,
                             const char *domain, const char **out_domain)
{
    bool gmail = strcmp(domain, "gmail.com") == 0 ||
                 strcmp(domain, "googlemail.com") == 0;
    size_t w = 0;

    *out_domain = gmail ? "gmail.com" : domain;
    if (!gmail && !vl__strset_has(&t->plus, domain, strlen(domain)))
        return n;
    for (size_t i = 0; i < n; i++) {
        if (l[i] == '+' && w > 0)
            break;
        if (gmail && l[i] == '.')
            continue;
        l[w++] = l[i];
    }
    return w > 0 ? w : n;
}

static vl_status make_canonical(const vl_ctx *ctx, const char *local,
                                size_t llen, unsigned flags, vl_result *res)
{
    char key[VL__FIELD_CAP];
    size_t n = llen;
    const char *domain = res->domain_ascii;
    vl_status st;

    if (flags & VL__SYN_LOCAL_UTF8) {
        if ((st = icu_transform(local, llen, 2, key, sizeof key, &n)) != VL_OK)
            return st;
    } else {
        for (size_t i = 0; i < llen; i++)
            key[i] = vl__lower(local[i]);
    }
    if ((ctx->flags & VL_OPT_PROVIDER_RULES) && !(flags & VL__SYN_QUOTED))
        n = provider_local(&ctx->tables, key, n, res->domain_ascii, &domain);
    size_t dlen = strlen(domain);
    if (n + 1 + dlen >= sizeof res->canonical)
        return VL_ETOOLONG;
    memcpy(res->canonical, key, n);
    res->canonical[n] = '@';
    memcpy(res->canonical + n + 1, domain, dlen + 1);
    return VL_OK;
}

static vl_status join_address(vl_result *res, const char *local, size_t llen)
{
    size_t dlen = strlen(res->domain_unicode);

    if (llen + 1 + dlen >= sizeof res->address)
        return VL_ETOOLONG;
    memcpy(res->address, local, llen);
    res->address[llen] = '@';
    memcpy(res->address + llen + 1, res->domain_unicode, dlen + 1);
    return VL_OK;
}

vl_status vl__normalise(const vl_ctx *ctx, const char *s,
                        const vl__syntax_parts *p, vl_result *res)
{
    char local[VL__FIELD_CAP], fix[VL__FIELD_CAP] = "";
    size_t llen = p->local_len;
    vl_status st;

    res->stages |= VL_STAGE_NORMALISE;
    if ((st = normalise_domain(s + p->domain_off, p->domain_len, p->flags, res,
                               fix)) != VL_OK)
        return st;
    if (res->domain_ascii[0] == '\0') { /* IDNA rejected the domain */
        if (fix[0] != '\0')
            vl__result_suggest(res, s + p->local_off, p->local_len, fix,
                               strlen(fix));
        return VL_OK;
    }
    if (p->flags & VL__SYN_LOCAL_UTF8) {
        res->smtputf8 = 1;
        if ((st = icu_transform(s + p->local_off, p->local_len, 0, local,
                                sizeof local, &llen)) != VL_OK)
            return st;
    } else {
        memcpy(local, s + p->local_off, llen);
    }
    if ((st = join_address(res, local, llen)) != VL_OK)
        return st;
    if ((p->flags & VL__SYN_DOMAIN_UTF8 ||
         has_ace_label(res->domain_ascii, strlen(res->domain_ascii))) &&
        domain_spoofable(ctx, res->domain_unicode))
        vl__result_add(res, VL_R_CONFUSABLE);
    return make_canonical(ctx, local, llen, p->flags, res);
}
