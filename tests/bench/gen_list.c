/*
 * gen_list.c - deterministic generator of a realistic address list for
 * the benchmarks (and, with --csv, of a contact CSV for the batch tests).
 *
 *   gen_list [--csv] N [SEED]     N lines on stdout (plus a CSV header)
 *
 * The same N and SEED give the same bytes on every machine: the only
 * randomness is splitmix64 below.  Mix per 1000 lines (roughly): 30
 * exact duplicates, 20 case/dot variants of earlier addresses, 20
 * provider typos, 20 disposable, 30 role, 10 IDN, 30 malformed; the
 * rest are people at free-mail providers (Zipf) or company domains.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define COUNT(a) (sizeof(a) / sizeof(a)[0])

/* The big free-mail providers, most common first (Zipf), and the country
 * of those that have one. */
static const char *const providers[] = {
    "gmail.com",      "yahoo.com",      "hotmail.com", "outlook.com",
    "aol.com",        "icloud.com",     "gmx.de",      "web.de",
    "mail.ru",        "yandex.ru",      "orange.fr",   "comcast.net",
    "live.com",       "hotmail.co.uk",  "msn.com",     "googlemail.com",
    "protonmail.com", "t-online.de",    "free.fr",     "yahoo.co.uk",
    "libero.it",      "btinternet.com", "verizon.net", "att.net",
    "sbcglobal.net",  "me.com",         "qq.com",      "163.com",
    "naver.com",      "wanadoo.fr"};
static const char *const provider_cc[COUNT(providers)] = {
    [6] = "DE",  [7] = "DE",  [8] = "RU",  [9] = "RU",  [10] = "FR",
    [13] = "GB", [17] = "DE", [18] = "FR", [19] = "GB", [20] = "IT",
    [21] = "GB", [26] = "CN", [27] = "CN", [28] = "KR", [29] = "FR"};
static const char *const typos[] = {
    "gmial.com", "gmai.com",    "gamil.com",  "gmail.co",   "gmail.con",
    "gnail.com", "hotmial.com", "hotmal.com", "hotmail.co", "yahoo.con",
    "yaho.com",  "yahooo.com",  "outlok.com", "aol.con",    "iclod.com"};
static const char *const disposable[] = {
    "mailinator.com",  "10minutemail.com",  "guerrillamail.com",
    "yopmail.com",     "trashmail.com",     "temp-mail.org",
    "sharklasers.com", "getnada.com",       "dispostable.com",
    "maildrop.cc",     "throwawaymail.com", "fakeinbox.com"};
static const char *const roles[] = {
    "info",      "admin",  "sales", "support", "noreply",
    "contact",   "office", "hr",    "billing", "webmaster",
    "marketing", "jobs",   "hello"};
static const char *const firsts[] = {
    "james",   "mary",   "john",    "patricia",  "robert",  "jennifer",
    "michael", "linda",  "david",   "elizabeth", "william", "susan",
    "thomas",  "sarah",  "daniel",  "karen",     "paul",    "nancy",
    "mark",    "lisa",   "anna",    "lukas",     "sophie",  "jan",
    "marie",   "pierre", "camille", "ivan",      "olga",    "sergei",
    "wei",     "yuki",   "hiro",    "priya",     "raj",     "carlos",
    "lucia",   "ahmed",  "fatima",  "emma"};
static const char *const lasts[] = {
    "smith",    "johnson", "williams", "brown",   "jones",     "garcia",
    "miller",   "davis",   "martinez", "wilson",  "anderson",  "taylor",
    "moore",    "martin",  "lee",      "clark",   "walker",    "young",
    "king",     "wright",  "mueller",  "schmidt", "schneider", "fischer",
    "weber",    "dubois",  "laurent",  "bernard", "ivanov",    "petrov",
    "smirnova", "wang",    "li",       "zhang",   "tanaka",    "sato",
    "kumar",    "patel",   "silva",    "obrien"};
static const char *const sylls[] = {
    "ac",  "al",  "ar", "bel", "bri", "cor", "da",  "del", "en", "fin",
    "gra", "hal", "in", "jo",  "ka",  "lum", "mar", "nex", "no", "or",
    "pro", "qua", "ri", "sol", "ta",  "tri", "ul",  "ver", "vi", "zen"};
static const char *const suffixes[] = {
    "",         "",        "",           "tech",    "labs",
    "group",    "systems", "consulting", "media",   "solutions",
    "partners", "soft",    "works",      "-gmbh",   "logistics",
    "bau",      "design",  "health",     "capital", "energy"};
/* Company TLDs: a repeated one is more frequent. */
static const char *const tlds[] = {".com",    ".com", ".com", ".com",   ".net",
                                   ".org",    ".de",  ".de",  ".co.uk", ".io",
                                   ".fr",     ".nl",  ".it",  ".es",    ".ca",
                                   ".com.au", ".ch",  ".se",  ".pl",    ".co"};
static const char *const idn_local[] = {"jörg",     "zoë",   "josé",
                                        "françois", "søren", "иван",
                                        "ольга",    "李",    "たろう"};
static const char *const idn_domain[] = {
    "münchen.de", "bücher.de", "müller-bau.de", "例え.jp",
    "日本語.jp",  "пример.рф", "почта.рф",      "яндекс.рф",
    "société.fr", "blåbær.dk", "straße.de",     "例子.中国"};
static const char *const countries[] = {
    "US", "US", "US", "US", "US", "GB", "GB", "CA", "AU", "DE", "DE",
    "FR", "IN", "BR", "NL", "ES", "IT", "SE", "PL", "MX", "JP", "ZA"};
/* Malformed addresses: the %s are a local part and a domain. */
static const char *const malformed[] = {"%s..x@%s",
                                        "%s%s",
                                        "%s@%s.",
                                        "%s @%s",
                                        "John Smith <%s@%s>",
                                        "\"Smith, John\" <%s@%s>",
                                        "%s@%s,com",
                                        "  %s@%s",
                                        "%s@%s\t ",
                                        "%s@@%s",
                                        ".%s@%s",
                                        "%s@",
                                        "%s@%s..com",
                                        "%s@-%s",
                                        "%s@%s_x.com"};

typedef struct rec {
    char email[256], first[24], last[24], cc[3];
    int day; /* days since 1970-01-01 */
} rec;

static uint64_t rng_state;

static uint64_t rnd(void) /* splitmix64 */
{
    uint64_t z = (rng_state += 0x9E3779B97F4A7C15u);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9u;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBu;
    return z ^ (z >> 31);
}
static unsigned below(unsigned n)
{
    return (unsigned)((rnd() >> 32) * n >> 32);
}
static const char *pick(const char *const *a, size_t n)
{
    return a[below((unsigned)n)];
}
#define PICK(a) pick(a, COUNT(a))

static double zipf_cdf[COUNT(providers)];

static unsigned zipf(void)
{
    double u = (double)(rnd() >> 11) / 9007199254740992.0;
    unsigned k = 0;
    while (k + 1 < COUNT(providers) && u > zipf_cdf[k])
        k++;
    return k;
}

/* Company domain number d (about 60,000 of them, low numbers more often):
 * a fixed function of d, so the same domain comes back. */
static void company(char *out, size_t cap, unsigned d)
{
    uint64_t h = d * 0x9E3779B97F4A7C15u ^ 0xC0FFEEu;
    char name[64] = "";
    for (int i = 0, n = 2 + (int)(h % 2); i < n; i++, h /= 31)
        strcat(name, sylls[(h >> 3) % COUNT(sylls)]);
    h = h * 0xBF58476D1CE4E5B9u + d;
    snprintf(out, cap, "%s%s%s", name, suffixes[(h >> 17) % COUNT(suffixes)],
             tlds[(h >> 29) % COUNT(tlds)]);
}

static void local_part(char *out, size_t cap, const rec *r)
{
    const char *f = r->first, *l = r->last;
    char n[8] = "";
    if (below(5)) /* most people need a number at a big provider */
        snprintf(n, sizeof n, "%u", below(2) ? below(1000) : 1950 + below(56));
    switch (below(8)) {
    case 0:
    case 1:
        snprintf(out, cap, "%s.%s%s", f, l, n);
        break;
    case 2:
        snprintf(out, cap, "%c%s%s", f[0], l, n);
        break;
    case 3:
        snprintf(out, cap, "%s_%s%u", f, l, below(1000));
        break;
    case 4:
        snprintf(out, cap, "%s%s%s", f, l, n);
        break;
    case 5:
        snprintf(out, cap, "%s%u", f, below(10000));
        break;
    case 6:
        snprintf(out, cap, "%s.%s%s+%s", f, l, n, below(2) ? "news" : "shop");
        break;
    default:
        snprintf(out, cap, "%s-%c%s", f, l[0], n);
        break;
    }
    if (below(20) == 0) /* Mixed Case, as people type it */
        for (char *p = out; *p; p++)
            if (p == out || p[-1] == '.')
                *p = (char)(*p - 32 * (*p >= 'a' && *p <= 'z'));
}

/* Days since 1970-01-01 to "YYYY-MM-DD" (Howard Hinnant's civil_from_days). */
static void iso_date(char *out, int z)
{
    z += 719468;
    int era = z / 146097, doe = z - era * 146097;
    int yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    int doy = doe - (365 * yoe + yoe / 4 - yoe / 100),
        mp = (5 * doy + 2) / 153;
    int d = doy - (153 * mp + 2) / 5 + 1, m = mp < 10 ? mp + 3 : mp - 9;
    snprintf(out, 40, "%04d-%02d-%02d", yoe + era * 400 + (m <= 2), m, d);
}

static void csv_field(const char *s, int last)
{
    if (strpbrk(s, ",\"\r\n") || s[0] == ' ' || s[0] == '\t' ||
        (*s && strchr(" \t", s[strlen(s) - 1]))) {
        putchar('"');
        for (; *s; s++) {
            if (*s == '"')
                putchar('"');
            putchar(*s);
        }
        putchar('"');
    } else
        fputs(s, stdout);
    putchar(last ? '\n' : ',');
}

enum { RING = 1 << 15 };
static rec ring[RING];

int main(int argc, char **argv)
{
    int csv = argc > 1 && strcmp(argv[1], "--csv") == 0;
    if (argc < 2 + csv || argc > 3 + csv) {
        fputs("usage: gen_list [--csv] N [SEED]\n", stderr);
        return 2;
    }
    unsigned long long n = strtoull(argv[1 + csv], NULL, 10);
    rng_state = argc > 2 + csv ? strtoull(argv[2 + csv], NULL, 0) : 20240601;
    double sum = 0;
    for (size_t k = 0; k < COUNT(providers); k++)
        sum += zipf_cdf[k] = 1.0 / (double)(k + 1);
    for (size_t k = 0, acc = 0; k < COUNT(providers); k++)
        zipf_cdf[k] = (double)(acc += (size_t)(zipf_cdf[k] / sum * 1e9)) / 1e9;
    static char obuf[1 << 16];
    setvbuf(stdout, obuf, _IOFBF, sizeof obuf);
    if (csv)
        puts("email,first_name,last_name,country,signup_date");

    for (unsigned long long i = 0; i < n; i++) {
        rec r;
        char loc[64], comp[64], *e = r.email;
        unsigned kind = below(1000), p = zipf();
        snprintf(r.first, sizeof r.first, "%s", PICK(firsts));
        snprintf(r.last, sizeof r.last, "%s", PICK(lasts));
        r.day = 16436 + (int)below(3653); /* 2015-01-01 .. 2024-12-31 */
        local_part(loc, sizeof loc, &r);
        double u = below(1u << 20) / 1048576.0;
        company(comp, sizeof comp, (unsigned)(60000 * u * u));
        int free_mail = below(2);
        const char *dom = free_mail ? providers[p] : comp,
                   *tld = strrchr(dom, '.');
        if (free_mail && provider_cc[p])
            snprintf(r.cc, sizeof r.cc, "%s", provider_cc[p]);
        else if (strlen(tld) == 3 && strcmp(tld, ".io") && strcmp(tld, ".co"))
            snprintf(r.cc, sizeof r.cc, "%c%c", tld[1] - 32, tld[2] - 32);
        else /* .com, .net, .org, .io, .co */
            snprintf(r.cc, sizeof r.cc, "%s", PICK(countries));
        if (!strcmp(r.cc, "UK"))
            strcpy(r.cc, "GB");

        if (kind < 50 && i > 0) { /* an earlier one, maybe varied */
            r = ring[below(i < RING ? (unsigned)i : RING)];
            char *at = strchr(e, '@'),
                 *dot = at ? memchr(e, '.', (size_t)(at - e)) : NULL;
            if (kind >= 40 && dot != NULL) /* first.last -> firstlast */
                memmove(dot, dot + 1, strlen(dot));
            else if (kind >= 40 && at && at - e >= 3 &&
                     (signed char)e[1] > 0) /* j.smith */
                memmove(e + 2, e + 1, strlen(e)), e[1] = '.';
            else if (kind >= 30) /* Case Variant */
                for (char *c = e; *c; c++)
                    if (*c >= 'a' && *c <= 'z' && below(3) == 0)
                        *c = (char)(*c - 32);
        } else if (kind < 70)
            snprintf(e, sizeof r.email, "%s@%s", loc, PICK(typos));
        else if (kind < 90)
            snprintf(e, sizeof r.email, "%s@%s", below(5) ? loc : r.first,
                     PICK(disposable));
        else if (kind < 120)
            snprintf(e, sizeof r.email, "%s%s@%s", PICK(roles),
                     below(10) ? "" : "+web", comp);
        else if (kind < 130) { /* non-ASCII local part, domain, or both */
            char num[8] = "";
            if (below(2))
                snprintf(num, sizeof num, "%u", below(1000));
            snprintf(e, sizeof r.email, "%s%s@%s",
                     below(3) ? PICK(idn_local) : loc, num,
                     below(4) ? PICK(idn_domain) : providers[p]);
        } else if (kind < 160) {
            const char *fmt = PICK(malformed);
            if (below(5) == 0) /* over-long local part: 70-110 characters */
                snprintf(
                    e, sizeof r.email, "%s%.*s@%s", loc, 70 + (int)below(40),
                    "abcdefghijklmnopqrstuvwxyzabcdefghijklmnopqrstuvwxyz"
                    "abcdefghijklmnopqrstuvwxyzabcdefghijklmnopqrstuvwxyz",
                    dom);
            else
                snprintf(e, sizeof r.email, fmt, loc, dom);
        } else
            snprintf(e, sizeof r.email, "%s@%s", loc, dom);

        ring[i % RING] = r;
        /* drawn always, so that --csv has the same emails */
        unsigned odd_name = below(200);
        if (!csv) {
            puts(e);
            continue;
        }
        char date[40];
        iso_date(date, r.day);
        if (odd_name < 2) /* names that need quoting */
            strcat(r.last, odd_name ? ", jr." : " \"the\"");
        r.first[0] = (char)(r.first[0] - 32 * (r.first[0] >= 'a'));
        r.last[0] = (char)(r.last[0] - 32 * (r.last[0] >= 'a'));
        csv_field(e, 0), csv_field(r.first, 0), csv_field(r.last, 0);
        csv_field(r.cc, 0), csv_field(date, 1);
    }
    return fflush(stdout) == 0 ? 0 : 1;
}
