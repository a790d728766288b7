/*
 * store.c - "mailvet store": look after the invalid-address store.
 *
 *   add ADDRESS... [--reason R]     manual entries (or "@domain")
 *   remove ADDRESS... [--by WHO]    take out; kept in history
 *   show ADDRESS                    one entry, and whether it suppresses
 *   list [--all]                    suppressing entries (or every one)
 *   stats                           counts
 *   export [--format csv|jsonl]     every entry, every field
 *   import FILE|-                   CSV address,status[,diagnostic]
 *                                   [,timestamp] of bounces
 *   ingest-dsn FILE...|DIR|-        bounce messages (ingest.c, dsn.c)
 *
 * Every command takes --store PATH|URI (default: the file under the
 * user's data directory, vl_store_default_path()) and --scope S.  Only
 * the public libvalidate API is used.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cli.h"
#include "csv.h"
#include "validate.h"

typedef struct store_opts {
    const char *where, *scope, *reason, *by, *format;
    bool all, json, verbose;
    vl_store_config cfg;
} store_opts;

void mv_store_usage(FILE *out)
{
    fputs(
        "usage: mailvet store COMMAND [OPTIONS] [ARGS]\n"
        "\n"
        "The invalid-address store: addresses that must not be mailed.\n"
        "Hard bounces (5xx, 5.x.x) suppress at once; soft bounces (4xx,\n"
        "4.x.x) after 3 within 30 days; 'mailvet check --record' adds\n"
        "permanent undeliverable verdicts; 'add' adds by hand.  Keys are\n"
        "canonical addresses (as 'mailvet check --json' shows them), or\n"
        "\"@domain\" for a whole domain.\n"
        "\n"
        "Commands:\n"
        "  add ADDRESS...          suppress (manual); --reason R\n"
        "  remove ADDRESS...       stop suppressing; kept in history with\n"
        "                          who (--by, default $USER) and when; a\n"
        "                          later hard bounce brings it back\n"
        "  show ADDRESS            one entry (exit 1 when not stored)\n"
        "  list                    suppressing entries (--all: every one)\n"
        "  stats                   counts by state and source\n"
        "  export                  every entry; --format csv|jsonl [csv]\n"
        "  import FILE|-           bounces from CSV with the header\n"
        "                          address,status[,diagnostic][,timestamp]\n"
        "                          (status 550 or 5.1.1; timestamp ISO 8601,\n"
        "                          default now); bad rows are reported with\n"
        "                          file and line and skipped\n"
        "  ingest-dsn FILE...|DIR|-  bounce messages: RFC 3464 reports\n"
        "                          (multipart/report) and common plain-text\n"
        "                          bounces, from .eml files, Maildir "
        "folders,\n"
        "                          folders of files, mbox files or stdin\n"
        "\n"
        "Options:\n"
        "  --store PATH|URI        SQLite file, or postgresql://... "
        "[default:\n"
        "                          $XDG_DATA_HOME/mailvet/store.db, else\n"
        "                          ~/.local/share/mailvet/store.db]\n"
        "  --scope S               a sending brand or tenant (entries\n"
        "                          without a scope apply to every scope)\n"
        "  --reason R              reason code for 'add' [manual]\n"
        "  --by WHO                who removes, for 'remove' [$USER]\n"
        "  --soft-threshold N      soft bounces that suppress [3]\n"
        "  --soft-window DUR       ... within this long [30d]\n"
        "  --expire-after DUR      entries untouched this long stop\n"
        "                          suppressing (365d, 12w, 48h) [never]\n"
        "  --json                  'show', 'list': JSON Lines\n"
        "  -v, --verbose           'import': a line per committed batch\n"
        "  -h, --help              show this help\n"
        "\n"
        "Exit status: 0 done, 1 'show' or 'remove' found no entry, or\n"
        "'import' / 'ingest-dsn' skipped malformed input, 2 usage or\n"
        "system error.\n",
        out);
}

/* ---- small helpers -------------------------------------------------- */

/* "365d", "12w", "48h", "90m", "3600s"; a bare number is days.  At
 * most 100 years. */
int mv_parse_duration(const char *s, int64_t *out)
{
    char *end;
    long long v, unit;

    errno = 0;
    v = strtoll(s, &end, 10);
    if (errno || end == s || s[0] == '-' || v < 0)
        return -1;
    switch (*end) {
    case '\0':
    case 'd':
        unit = 86400;
        break;
    case 'w':
        unit = 7 * 86400;
        break;
    case 'h':
        unit = 3600;
        break;
    case 'm':
        unit = 60;
        break;
    case 's':
        unit = 1;
        break;
    default:
        return -1;
    }
    if ((*end != '\0' && end[1] != '\0') || v > 100LL * 366 * 86400 / unit)
        return -1;
    *out = v * unit;
    return 0;
}

/* ISO 8601 / RFC 3339: "2024-05-01", "2024-05-01T12:00:00Z",
 * "2024-05-01 12:00:00.123+02:00", "...+0200".  No zone means UTC. */
int mv_parse_time(const char *s, int64_t *out)
{
    struct tm tm = {0};
    int y, mo, d, h = 0, mi = 0, sec = 0, n = 0;
    const char *p;
    long off = 0;

    if (sscanf(s, "%4d-%2d-%2d%n", &y, &mo, &d, &n) != 3 || n != 10)
        return -1;
    p = s + n;
    if (*p == 'T' || *p == 't' || *p == ' ') {
        if (sscanf(p + 1, "%2d:%2d%n", &h, &mi, &n) != 2 || n != 5)
            return -1;
        p += 1 + n;
        if (*p == ':') {
            if (sscanf(p + 1, "%2d%n", &sec, &n) != 1 || n != 2)
                return -1;
            p += 1 + n;
            if (*p == '.' || *p == ',')
                for (p++; *p >= '0' && *p <= '9'; p++)
                    ;
        }
        if (*p == 'Z' || *p == 'z') {
            p++;
        } else if (*p == '+' || *p == '-') {
            int oh, om = 0;
            char sign = *p;
            if (sscanf(p + 1, "%2d%n", &oh, &n) != 1 || n != 2)
                return -1;
            p += 1 + n;
            if (*p == ':')
                p++;
            if (*p >= '0' && *p <= '9') {
                if (sscanf(p, "%2d%n", &om, &n) != 1 || n != 2)
                    return -1;
                p += n;
            }
            off = (oh * 60L + om) * 60L * (sign == '-' ? -1 : 1);
        }
    }
    if (*p != '\0' || mo < 1 || mo > 12 || d < 1 || d > 31 || h > 23 ||
        mi > 59 || sec > 60 || y < 1970)
        return -1;
    tm.tm_year = y - 1900;
    tm.tm_mon = mo - 1;
    tm.tm_mday = d;
    tm.tm_hour = h;
    tm.tm_min = mi;
    tm.tm_sec = sec;
    *out = (int64_t)timegm(&tm) - off;
    return 0;
}

static const char *fmt_time(int64_t t, char *buf, size_t cap)
{
    time_t tt = (time_t)t;
    struct tm tm;

    if (t == 0) {
        snprintf(buf, cap, "-");
        return buf;
    }
    gmtime_r(&tt, &tm);
    strftime(buf, cap, "%Y-%m-%dT%H:%M:%SZ", &tm);
    return buf;
}

static void json_str(FILE *f, const char *s)
{
    fputc('"', f);
    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;
        if (c == '"' || c == '\\')
            fprintf(f, "\\%c", c);
        else if (c < 0x20)
            fprintf(f, "\\u%04x", c);
        else
            fputc(c, f);
    }
    fputc('"', f);
}

static const char *state_of(vl_store *st, const vl_store_entry *e)
{
    if (e->suppressed)
        return vl_store_entry_active(st, e) ? "suppressed" : "expired";
    if (e->removed_at != 0)
        return "removed";
    return "pending";
}

/* Open the store named by the options; prints why not. */
vl_store *mv_store_open(const char *where, const vl_store_config *cfg)
{
    vl_store *st;
    char err[512];

    if (vl_store_open(where, cfg, &st, err, sizeof err) != VL_OK) {
        fprintf(stderr, "mailvet: store: %s\n", err);
        return NULL;
    }
    return st;
}

static int store_fail(vl_store *st, const char *what, vl_status rc)
{
    const char *m = vl_store_errmsg(st);
    fprintf(stderr, "mailvet: store: %s: %s%s%s\n", what, vl_strerror(rc),
            m[0] ? ": " : "", m);
    return MV_EXIT_USAGE;
}

/* ---- add, remove, show ---------------------------------------------- */

static int cmd_add(vl_store *st, const store_opts *o, int argc, char **argv)
{
    char key[VL_STORE_KEY_CAP];
    int rc = MV_EXIT_OK;

    for (int i = 0; i < argc; i++) {
        vl_store_outcome out = {0};
        vl_status s;
        out.source = VL_SRC_MANUAL;
        out.address = argv[i];
        out.address_len = strlen(argv[i]);
        out.scope = o->scope;
        out.reason = o->reason;
        s = vl_store_key(st, argv[i], strlen(argv[i]), key, sizeof key);
        if (s == VL_OK)
            s = vl_store_record(st, &out, NULL);
        if (s == VL_EINVAL) {
            fprintf(stderr,
                    "mailvet: store add: '%s': not an address, "
                    "or a bad --reason or --scope\n",
                    argv[i]);
            rc = MV_EXIT_USAGE;
        } else if (s != VL_OK) {
            return store_fail(st, "add", s);
        } else {
            printf("added %s\n", key);
        }
    }
    return rc;
}

static int cmd_remove(vl_store *st, const store_opts *o, int argc, char **argv)
{
    int rc = MV_EXIT_OK;

    for (int i = 0; i < argc; i++) {
        vl_status s =
            vl_store_remove(st, argv[i], strlen(argv[i]), o->scope, o->by);
        if (s == VL_ENOTFOUND) {
            fprintf(stderr, "mailvet: store remove: '%s': not suppressed\n",
                    argv[i]);
            rc = rc ? rc : MV_EXIT_UNDELIVERABLE;
        } else if (s == VL_EINVAL) {
            fprintf(stderr, "mailvet: store remove: '%s': not an address\n",
                    argv[i]);
            rc = MV_EXIT_USAGE;
        } else if (s != VL_OK) {
            return store_fail(st, "remove", s);
        } else {
            printf("removed %s\n", argv[i]);
        }
    }
    return rc;
}

void mv_store_entry_json(vl_store *st, const vl_store_entry *e, FILE *f)
{
    char t[4][32];

    fputs("{\"key\":", f);
    json_str(f, e->key);
    fputs(",\"address\":", f);
    json_str(f, e->address);
    fputs(",\"scope\":", f);
    json_str(f, e->scope);
    fprintf(f,
            ",\"state\":\"%s\",\"source\":\"%s\",\"reason\":", state_of(st, e),
            vl_store_source_name(e->source));
    json_str(f, e->reason);
    fputs(",\"status\":", f);
    json_str(f, e->status);
    fputs(",\"diagnostic\":", f);
    json_str(f, e->diagnostic);
    fprintf(f,
            ",\"count\":%u,\"soft_bounces\":%u,\"first_seen\":\"%s\","
            "\"last_seen\":\"%s\",\"last_hit\":\"%s\",\"removed_at\":\"%s\","
            "\"removed_by\":",
            (unsigned)e->count, (unsigned)e->soft_count,
            fmt_time(e->first_seen, t[0], 32),
            fmt_time(e->last_seen, t[1], 32), fmt_time(e->last_hit, t[2], 32),
            fmt_time(e->removed_at, t[3], 32));
    json_str(f, e->removed_by);
    fputc('}', f);
}

static void print_entry_json(vl_store *st, const vl_store_entry *e, FILE *f)
{
    mv_store_entry_json(st, e, f);
    fputc('\n', f);
}

static void print_entry_text(vl_store *st, const vl_store_entry *e)
{
    char t[32];

    printf("key:         %s\n", e->key);
    printf("address:     %s\n", e->address);
    printf("scope:       %s\n", e->scope[0] ? e->scope : "(every scope)");
    printf("state:       %s\n", state_of(st, e));
    printf("source:      %s\n", vl_store_source_name(e->source));
    printf("reason:      %s\n", e->reason);
    if (e->status[0])
        printf("status:      %s\n", e->status);
    if (e->diagnostic[0])
        printf("diagnostic:  %s\n", e->diagnostic);
    printf("count:       %u\n", (unsigned)e->count);
    if (e->soft_count)
        printf("soft:        %u bounce(s) kept\n", (unsigned)e->soft_count);
    printf("first seen:  %s\n", fmt_time(e->first_seen, t, sizeof t));
    printf("last seen:   %s\n", fmt_time(e->last_seen, t, sizeof t));
    if (e->last_hit)
        printf("last hit:    %s\n", fmt_time(e->last_hit, t, sizeof t));
    if (e->removed_at)
        printf("removed:     %s by %s\n", fmt_time(e->removed_at, t, sizeof t),
               e->removed_by[0] ? e->removed_by : "(unknown)");
}

static int cmd_show(vl_store *st, const store_opts *o, const char *addr)
{
    vl_store_entry *e = malloc(sizeof *e);
    vl_status s;
    int rc = MV_EXIT_OK;

    if (e == NULL)
        return MV_EXIT_USAGE;
    s = vl_store_get(st, addr, strlen(addr), o->scope, e);
    if (s == VL_OK && o->json)
        print_entry_json(st, e, stdout);
    else if (s == VL_OK)
        print_entry_text(st, e);
    else if (s == VL_ENOTFOUND) {
        /* Not stored itself, but maybe covered by "@domain" or an
         * unscoped entry: say which. */
        s = vl_store_lookup(st, addr, strlen(addr), o->scope, e);
        if (s == VL_OK) {
            printf("%s is suppressed by the entry %s%s%s\n", addr, e->key,
                   e->scope[0] ? " in scope " : "", e->scope);
        } else if (s == VL_ENOTFOUND) {
            fprintf(stderr, "mailvet: store show: '%s': not in the store\n",
                    addr);
            rc = MV_EXIT_UNDELIVERABLE;
        }
    }
    if (s == VL_EINVAL) {
        fprintf(stderr, "mailvet: store show: '%s': not an address\n", addr);
        rc = MV_EXIT_USAGE;
    } else if (s != VL_OK && s != VL_ENOTFOUND) {
        rc = store_fail(st, "show", s);
    }
    free(e);
    return rc;
}

/* ---- list, export, stats -------------------------------------------- */

typedef struct list_run {
    vl_store *st;
    const store_opts *o;
    int mode; /* 0 list, 1 export csv, 2 export jsonl */
} list_run;

static void csv_field(const char *s, bool last)
{
    bool quote = strpbrk(s, ",\"\r\n") != NULL;

    if (quote) { /* RFC 4180: quote, and double the quotes inside */
        putchar('"');
        for (; *s; s++) {
            if (*s == '"')
                putchar('"');
            putchar(*s);
        }
        putchar('"');
    } else {
        fputs(s, stdout);
    }
    putchar(last ? '\n' : ',');
}

static void export_csv_row(vl_store *st, const vl_store_entry *e)
{
    char n[2][24], t[4][32];

    snprintf(n[0], sizeof n[0], "%u", (unsigned)e->count);
    snprintf(n[1], sizeof n[1], "%u", (unsigned)e->soft_count);
    const char *f[] = {e->key,
                       e->address,
                       e->scope,
                       state_of(st, e),
                       vl_store_source_name(e->source),
                       e->reason,
                       e->status,
                       e->diagnostic,
                       n[0],
                       n[1],
                       e->first_seen ? fmt_time(e->first_seen, t[0], 32) : "",
                       e->last_seen ? fmt_time(e->last_seen, t[1], 32) : "",
                       e->last_hit ? fmt_time(e->last_hit, t[2], 32) : "",
                       e->removed_at ? fmt_time(e->removed_at, t[3], 32) : "",
                       e->removed_by};
    size_t k = sizeof f / sizeof f[0];
    for (size_t i = 0; i < k; i++)
        csv_field(f[i], i + 1 == k);
}

static int list_cb(void *arg, const vl_store_entry *e)
{
    list_run *r = arg;
    char t[32];

    if (r->o->scope != NULL && strcmp(r->o->scope, e->scope) != 0)
        return 0;
    switch (r->mode) {
    case 0:
        if (!r->o->all && !vl_store_entry_active(r->st, e))
            return 0;
        if (r->o->json) {
            print_entry_json(r->st, e, stdout);
            return 0;
        }
        printf("%-10s %-11s %-40s %-12s %s %s\n", state_of(r->st, e),
               vl_store_source_name(e->source), e->key,
               e->scope[0] ? e->scope : "-", e->reason,
               fmt_time(e->last_seen, t, sizeof t));
        return 0;
    case 1:
        export_csv_row(r->st, e);
        return 0;
    default:
        print_entry_json(r->st, e, stdout);
        return 0;
    }
}

static int cmd_list(vl_store *st, const store_opts *o, int mode)
{
    list_run r = {st, o, mode};
    vl_status s;

    if (mode == 1)
        puts("key,address,scope,state,source,reason,status,diagnostic,"
             "count,soft_bounces,first_seen,last_seen,last_hit,removed_at,"
             "removed_by");
    if ((s = vl_store_iterate(st, list_cb, &r)) != VL_OK)
        return store_fail(st, "list", s);
    return MV_EXIT_OK;
}

static int cmd_stats(vl_store *st)
{
    vl_store_stats s;
    vl_status rc = vl_store_stats_get(st, &s);

    if (rc != VL_OK)
        return store_fail(st, "stats", rc);
    printf("backend:      %s\n", vl_store_backend(st));
    printf("entries:      %llu\n", (unsigned long long)s.entries);
    printf("suppressed:   %llu\n", (unsigned long long)s.suppressed);
    for (int i = 0; i < 4; i++)
        printf("  %-11s %llu\n", vl_store_source_name((vl_store_source)i),
               (unsigned long long)s.by_source[i]);
    printf("removed:      %llu\n", (unsigned long long)s.removed);
    printf("pending soft: %llu\n", (unsigned long long)s.pending);
    printf("domains:      %llu\n", (unsigned long long)s.domains);
    return MV_EXIT_OK;
}

/* ---- import ----------------------------------------------------------- */

/* A batch is kept until it commits: when the store says "not now"
 * (VL_ETEMP: another writer held the lock past the busy timeout, a
 * connection dropped) it is rolled back as a whole, and the import
 * writes it again after a pause, instead of stopping with the rest of
 * the file unread.  Two imports starting on one new file, or running
 * next to a long batch of another, then both finish. */
typedef struct import_row {
    size_t addr, status, diag; /* offsets in the batch's text; */
    size_t addr_len;           /* diag SIZE_MAX: none */
    int64_t at;
    size_t line;
    bool bad; /* not an address: said once, skipped on a retry */
} import_row;

typedef struct import_run {
    vl_store *st;
    const store_opts *o;
    const char *name;
    int col_addr, col_status, col_diag, col_time;
    size_t recorded, skipped;
    import_row *rows; /* the batch */
    size_t n, cap;
    char *text; /* its fields, NUL-terminated */
    size_t text_len, text_cap;
} import_run;

enum {
    IMPORT_BATCH = 20000, /* rows per transaction */
    IMPORT_TRIES = 8,     /* writes of one batch before giving up */
    IMPORT_PAUSE_MS = 100 /* before the first retry; doubles */
};

static int find_columns(import_run *r, char **f, size_t n)
{
    r->col_addr = r->col_status = r->col_diag = r->col_time = -1;
    for (size_t i = 0; i < n; i++) {
        if (strcasecmp(f[i], "address") == 0)
            r->col_addr = (int)i;
        else if (strcasecmp(f[i], "status") == 0)
            r->col_status = (int)i;
        else if (strcasecmp(f[i], "diagnostic") == 0)
            r->col_diag = (int)i;
        else if (strcasecmp(f[i], "timestamp") == 0)
            r->col_time = (int)i;
    }
    return r->col_addr >= 0 && r->col_status >= 0 ? 0 : -1;
}

static void bad_row(import_run *r, size_t line, const char *why,
                    const char *val)
{
    fprintf(stderr, "mailvet: %s:%zu: %s%s%s%s, skipped\n", r->name, line, why,
            val ? " '" : "", val ? val : "", val ? "'" : "");
    r->skipped++;
}

/* Copy a field into the batch's text; SIZE_MAX when out of memory. */
static size_t keep_text(import_run *r, const char *s, size_t len)
{
    size_t at = r->text_len;

    if (r->text_len + len + 1 > r->text_cap) {
        size_t cap = r->text_cap ? r->text_cap : 1 << 20;
        while (r->text_len + len + 1 > cap)
            cap *= 2;
        char *t = realloc(r->text, cap);
        if (t == NULL)
            return SIZE_MAX;
        r->text = t;
        r->text_cap = cap;
    }
    memcpy(r->text + at, s, len);
    r->text[at + len] = '\0';
    r->text_len += len + 1;
    return at;
}

/* One batch into the store, in one transaction. */
static vl_status write_batch(import_run *r, size_t *ok)
{
    vl_status s;

    *ok = 0;
    if ((s = vl_store_batch_begin(r->st)) != VL_OK)
        return s;
    for (size_t i = 0; i < r->n; i++) {
        import_row *row = &r->rows[i];
        vl_store_outcome out = {0};
        if (row->bad)
            continue;
        out.address = r->text + row->addr;
        out.address_len = row->addr_len;
        out.status = r->text + row->status;
        (void)vl_store_status_source(out.status, &out.source);
        out.diagnostic = row->diag == SIZE_MAX ? NULL : r->text + row->diag;
        out.scope = r->o->scope;
        out.at = row->at;
        s = vl_store_record(r->st, &out, NULL);
        if (s == VL_EINVAL) {
            bad_row(r, row->line, "not an address", out.address);
            row->bad = true;
        } else if (s != VL_OK) {
            return s; /* the batch is rolled back */
        } else {
            (*ok)++;
        }
    }
    return vl_store_batch_commit(r->st);
}

static void pause_ms(unsigned ms)
{
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

static int flush_batch(import_run *r)
{
    unsigned pause = IMPORT_PAUSE_MS;
    size_t ok;
    vl_status s;

    if (r->n == 0)
        return 0;
    for (int tries = 1; (s = write_batch(r, &ok)) != VL_OK; tries++) {
        if (s != VL_ETEMP || tries == IMPORT_TRIES) {
            store_fail(r->st, "import", s);
            return -1;
        }
        if (r->o->verbose)
            fprintf(stderr,
                    "mailvet: store import: %s: %s, writing the batch "
                    "again in %u ms\n",
                    r->name, vl_store_errmsg(r->st), pause);
        pause_ms(pause);
        pause *= 2;
    }
    r->recorded += ok;
    if (r->o->verbose)
        fprintf(stderr,
                "mailvet: store import: %s: committed through "
                "line %zu\n",
                r->name, r->rows[r->n - 1].line);
    r->n = 0;
    r->text_len = 0;
    return 0;
}

/* Check one row and add it to the batch; -1 out of memory or when the
 * store failed. */
static int import_row_add(import_run *r, char **f, size_t n, size_t line)
{
    vl_store_source src;
    import_row row = {0};

    if ((size_t)r->col_addr >= n || (size_t)r->col_status >= n) {
        bad_row(r, line, "missing address or status", NULL);
        return 0;
    }
    if (vl_store_status_source(f[r->col_status], &src) != VL_OK) {
        bad_row(r, line, "not a bounce status (4xx, 5xx, 4.x.x, 5.x.x)",
                f[r->col_status]);
        return 0;
    }
    if (r->col_time >= 0 && (size_t)r->col_time < n && f[r->col_time][0] &&
        mv_parse_time(f[r->col_time], &row.at) != 0) {
        bad_row(r, line, "not an ISO 8601 timestamp", f[r->col_time]);
        return 0;
    }
    row.line = line;
    row.addr_len = strlen(f[r->col_addr]);
    row.addr = keep_text(r, f[r->col_addr], row.addr_len);
    row.status = keep_text(r, f[r->col_status], strlen(f[r->col_status]));
    row.diag = SIZE_MAX;
    bool has_diag =
        r->col_diag >= 0 && (size_t)r->col_diag < n && f[r->col_diag][0];
    if (has_diag)
        row.diag = keep_text(r, f[r->col_diag], strlen(f[r->col_diag]));
    if (r->n == r->cap) {
        size_t cap = r->cap ? r->cap * 2 : 1024;
        import_row *rows = realloc(r->rows, cap * sizeof *rows);
        if (rows != NULL) {
            r->rows = rows;
            r->cap = cap;
        }
    }
    if (row.addr == SIZE_MAX || row.status == SIZE_MAX ||
        (has_diag && row.diag == SIZE_MAX) || r->n == r->cap) {
        fprintf(stderr, "mailvet: store import: out of memory\n");
        return -1;
    }
    r->rows[r->n++] = row;
    return r->n >= IMPORT_BATCH ? flush_batch(r) : 0;
}

enum { IMPORT_FIELDS = 32, IMPORT_ROW_MAX = 1 << 16 };

/* The reader hands out fields as spans; the import wants C strings.
 * -1 when the row has too many fields or bytes to be an import row. */
static int row_strings(const mv_csv_row *row, char *buf, char **f, size_t *n)
{
    size_t w = 0;

    if (row->nfields > IMPORT_FIELDS)
        return -1;
    for (size_t i = 0; i < row->nfields; i++) {
        size_t len = row->off[i + 1] - row->off[i];
        if (w + len + 1 > IMPORT_ROW_MAX)
            return -1;
        memcpy(buf + w, row->data + row->off[i], len);
        buf[w + len] = '\0';
        f[i] = buf + w;
        w += len + 1;
    }
    *n = row->nfields;
    return 0;
}

static int import_fd(import_run *r, int fd)
{
    /* diagnostic and timestamp are optional trailing columns */
    mv_csv_opts opts = {.delimiter = ',', .ragged = true};
    mv_csv *c = mv_csv_new(fd, &opts);
    static char buf[IMPORT_ROW_MAX];
    char *f[IMPORT_FIELDS];
    mv_csv_row row;
    size_t n;
    int rc;

    if (c == NULL)
        return -1;
    if ((rc = mv_csv_begin(c, &row)) <= 0 ||
        row_strings(&row, buf, f, &n) != 0 || find_columns(r, f, n) != 0) {
        if (rc >= 0)
            fprintf(stderr,
                    "mailvet: %s:1: the header must name the columns "
                    "address,status[,diagnostic][,timestamp]\n",
                    r->name);
        else
            fprintf(stderr, "mailvet: %s: %s\n", r->name, strerror(errno));
        mv_csv_free(c);
        return -1;
    }
    while ((rc = mv_csv_next(c, &row)) > 0) {
        size_t line = (size_t)row.line;
        if (row.problem != MV_CSV_OK) {
            bad_row(r, line, mv_csv_problem_name(row.problem), NULL);
            continue;
        }
        if (row_strings(&row, buf, f, &n) != 0) {
            bad_row(r, line, "row too long", NULL);
            continue;
        }
        if (import_row_add(r, f, n, line) < 0) {
            mv_csv_free(c);
            return -1;
        }
    }
    if (rc < 0)
        fprintf(stderr, "mailvet: %s: %s\n", r->name, strerror(errno));
    mv_csv_free(c);
    if (flush_batch(r) < 0)
        return -1;
    return rc;
}

static int cmd_import(vl_store *st, const store_opts *o, int argc, char **argv)
{
    import_run r = {0};
    int rc = 0;

    r.st = st;
    r.o = o;
    for (int i = 0; i < argc && rc == 0; i++) {
        bool in = strcmp(argv[i], "-") == 0;
        int fd = in ? STDIN_FILENO : open(argv[i], O_RDONLY | O_CLOEXEC);
        r.name = in ? "stdin" : argv[i];
        if (fd < 0) {
            fprintf(stderr, "mailvet: %s: %s\n", argv[i], strerror(errno));
            rc = -1;
            break;
        }
        rc = import_fd(&r, fd);
        if (!in)
            close(fd);
    }
    free(r.rows);
    free(r.text);
    fprintf(stderr, "mailvet: store import: %zu recorded, %zu skipped\n",
            r.recorded, r.skipped);
    if (rc < 0)
        return MV_EXIT_USAGE;
    return r.skipped ? MV_EXIT_UNDELIVERABLE : MV_EXIT_OK;
}

/* ---- options and dispatch ------------------------------------------- */

enum {
    OPT_STORE = 256,
    OPT_SCOPE,
    OPT_REASON,
    OPT_BY,
    OPT_FORMAT,
    OPT_ALL,
    OPT_JSON,
    OPT_SOFT_N,
    OPT_SOFT_WINDOW,
    OPT_EXPIRE
};

static const struct option long_opts[] = {
    {"store", required_argument, NULL, OPT_STORE},
    {"scope", required_argument, NULL, OPT_SCOPE},
    {"reason", required_argument, NULL, OPT_REASON},
    {"by", required_argument, NULL, OPT_BY},
    {"format", required_argument, NULL, OPT_FORMAT},
    {"all", no_argument, NULL, OPT_ALL},
    {"json", no_argument, NULL, OPT_JSON},
    {"soft-threshold", required_argument, NULL, OPT_SOFT_N},
    {"soft-window", required_argument, NULL, OPT_SOFT_WINDOW},
    {"expire-after", required_argument, NULL, OPT_EXPIRE},
    {"verbose", no_argument, NULL, 'v'},
    {"help", no_argument, NULL, 'h'},
    {NULL, 0, NULL, 0}};

static int bad_value(const char *opt, const char *v)
{
    fprintf(stderr, "mailvet: %s: bad value '%s'\n", opt, v);
    return -1;
}

static int parse_one(int c, store_opts *o)
{
    int64_t d;

    switch (c) {
    case OPT_STORE:
        o->where = optarg;
        return 0;
    case OPT_SCOPE:
        o->scope = optarg;
        return 0;
    case OPT_REASON:
        o->reason = optarg;
        return 0;
    case OPT_BY:
        o->by = optarg;
        return 0;
    case OPT_FORMAT:
        o->format = optarg;
        return strcmp(optarg, "csv") == 0 || strcmp(optarg, "jsonl") == 0
                   ? 0
                   : bad_value("--format", optarg);
    case OPT_ALL:
        o->all = true;
        return 0;
    case OPT_JSON:
        o->json = true;
        return 0;
    case 'v':
        o->verbose = true;
        return 0;
    case OPT_SOFT_N:
        o->cfg.soft_threshold = (unsigned)atoi(optarg);
        return o->cfg.soft_threshold >= 2 &&
                       o->cfg.soft_threshold <= VL_STORE_SOFT_MAX
                   ? 0
                   : bad_value("--soft-threshold (2-16)", optarg);
    case OPT_SOFT_WINDOW:
        if (mv_parse_duration(optarg, &d) != 0 || d == 0)
            return bad_value("--soft-window", optarg);
        o->cfg.soft_window_s = d;
        return 0;
    case OPT_EXPIRE:
        if (mv_parse_duration(optarg, &d) != 0 || d == 0)
            return bad_value("--expire-after", optarg);
        o->cfg.expire_after_s = d;
        return 0;
    }
    return -1;
}

/* Returns -1 on a usage error, 1 for --help. */
static int parse_args(int argc, char **argv, store_opts *o)
{
    int c;

    optind = 1;
    while ((c = getopt_long(argc, argv, "vh", long_opts, NULL)) != -1) {
        if (c == 'h')
            return 1;
        if (c == '?' || parse_one(c, o) < 0)
            return -1;
    }
    return 0;
}

typedef struct subcmd {
    const char *name;
    int min_args, max_args; /* -1: any */
} subcmd;

static const subcmd subcmds[] = {
    {"add", 1, -1},    {"remove", 1, -1},     {"show", 1, 1},
    {"list", 0, 0},    {"stats", 0, 0},       {"export", 0, 0},
    {"import", 1, -1}, {"ingest-dsn", 1, -1},
};

static int dispatch(vl_store *st, const store_opts *o, const char *cmd,
                    int argc, char **argv)
{
    if (strcmp(cmd, "add") == 0)
        return cmd_add(st, o, argc, argv);
    if (strcmp(cmd, "remove") == 0)
        return cmd_remove(st, o, argc, argv);
    if (strcmp(cmd, "show") == 0)
        return cmd_show(st, o, argv[0]);
    if (strcmp(cmd, "list") == 0)
        return cmd_list(st, o, 0);
    if (strcmp(cmd, "export") == 0)
        return cmd_list(st, o,
                        o->format && strcmp(o->format, "jsonl") == 0 ? 2 : 1);
    if (strcmp(cmd, "stats") == 0)
        return cmd_stats(st);
    if (strcmp(cmd, "import") == 0)
        return cmd_import(st, o, argc, argv);
    return mv_ingest_dsn(st, o->scope, o->verbose, argc, argv);
}

int mv_cmd_store(int argc, char **argv)
{
    store_opts o = {0};
    const subcmd *sc = NULL;
    vl_store *st;
    int rc;

    VL_STORE_CONFIG_INIT(&o.cfg);
    o.by = getenv("USER");
    rc = parse_args(argc, argv, &o);
    if (rc == 1) {
        mv_store_usage(stdout);
        return MV_EXIT_OK;
    }
    if (rc == 0 && optind < argc)
        for (size_t i = 0; i < sizeof subcmds / sizeof subcmds[0]; i++)
            if (strcmp(argv[optind], subcmds[i].name) == 0)
                sc = &subcmds[i];
    int nargs = argc - optind - 1;
    if (rc != 0 || sc == NULL || nargs < sc->min_args ||
        (sc->max_args >= 0 && nargs > sc->max_args)) {
        if (rc == 0 && optind < argc && sc == NULL)
            fprintf(stderr, "mailvet: store: unknown command '%s'\n",
                    argv[optind]);
        mv_store_usage(stderr);
        return MV_EXIT_USAGE;
    }
    if ((st = mv_store_open(o.where, &o.cfg)) == NULL)
        return MV_EXIT_USAGE;
    rc = dispatch(st, &o, sc->name, nargs, argv + optind + 1);
    vl_store_close(st);
    if (fflush(stdout) != 0) {
        fprintf(stderr, "mailvet: stdout: %s\n", strerror(errno));
        rc = MV_EXIT_USAGE;
    }
    return rc;
}
