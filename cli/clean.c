/*
 * clean.c - "mailvet clean": read a CSV (or one address per line), check
 * each row's address, and write the rows to keep, the rows to drop with
 * their verdict, reasons and suggestion, and a report.
 *
 * Rows stream through: csv.c reads one record at a time on this
 * thread, checker threads check them in batches (rowpool.c; with the
 * network, rows wait there while their domains resolve), and this
 * thread decides, counts and writes them in input order.  Memory is
 * bounded by the pool's ring, the dedupe set (16 bytes per kept
 * address, dedupe.c) and the domain tally, never by the file.  A temporary
 * failure leaves a row "unknown", which the default policy keeps (DESIGN.md,
 * the one rule).
 *
 * Exit status: 0 when the run finished (rows dropped or not), 2 for a
 * usage error, an unreadable input or an unwritable output.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "checkpoint.h"
#include "cli.h"
#include "csv.h"
#include "dedupe.h"
#include "pipeline.h"
#include "storeopts.h"
#include "policy.h"
#include "progress.h"
#include "report.h"
#include "rowpool.h"
#include "sink.h"
#include "validate.h"

enum { REASONS_CAP = 2048, MALFORMED_NOTES = 20 };

typedef struct clean_opts {
    mv_pipeline lo;
    mv_store_opts st;
    const char *in, *out, *rejects, *report, *report_html, *column;
    mv_csv_opts csv;
    mv_format fmt;
    mv_policy pol;
    bool annotate, dedupe, quiet, resume;
    unsigned threads; /* checker threads; 0: one per CPU */
} clean_opts;

typedef struct clean_run {
    clean_opts *o;
    vl_ctx *ctx;
    mv_rowpool *pool;
    int fd;
    uint64_t in_size;
    mv_csv *csv;
    long col;
    char *names; /* copy of the header's fields, for JSON */
    size_t *name_off;
    mv_sink out, rej;
    mv_dedupe *seen;
    mv_report rep;
    mv_progress prog;
    mv_checkpoint *cp;
    char reasons[REASONS_CAP];
    double t0;
} clean_run;

static volatile sig_atomic_t stop_signal;

static void on_stop(int sig)
{
    stop_signal = sig;
}

void mv_clean_usage(FILE *out)
{
    fputs("usage: mailvet clean [OPTIONS] IN.csv     ('-' reads stdin)\n"
          "\n"
          "Check the address in every row of a CSV file (or of a list with "
          "one\n"
          "address per line) and split the rows into those to keep and "
          "those to\n"
          "drop, with a report.  Kept rows are written byte for byte, in "
          "input\n"
          "order.\n"
          "\n"
          "Input:\n"
          "  --column NAME|INDEX   the address column: a header name or a "
          "1-based\n"
          "                        index [the header's email, e-mail, mail "
          "or\n"
          "                        email_address, any case; with no header, "
          "the\n"
          "                        field of line 1 holding an '@']\n"
          "  --delimiter C         ',', ';', 'tab', any one character, or "
          "'none'\n"
          "                        (one address per line) [detected from "
          "line 1]\n"
          "  --no-header           line 1 is data (a line 1 with an '@' is "
          "taken\n"
          "                        as data anyway)\n"
          "Output:\n"
          "  --out FILE            the kept rows ['-': stdout]\n"
          "  --rejects FILE        the dropped rows, with the columns "
          "verdict,\n"
          "                        reasons and suggestion added\n"
          "  --annotate            write every row to --out with those "
          "columns\n"
          "  --format csv|jsonl    CSV, or one JSON object per row [csv]\n"
          "  --drop LIST           verdicts or reasons to drop, "
          "comma-separated\n"
          "                        [undeliverable,disposable]\n"
          "  --keep LIST           verdicts or reasons to keep (off the "
          "drop list)\n"
          "  --dedupe, --no-dedupe  drop a row whose address (canonical key) "
          "was\n"
          "                        kept before: reason 'duplicate' [on]\n"
          "  --report FILE         the report as JSON\n"
          "  --report-html FILE    the report as one self-contained HTML "
          "page\n"
          "  --resume              go on from where an interrupted run "
          "stopped\n"
          "                        (needs IN, --out and --rejects as "
          "files)\n"
          "  --threads N           threads checking rows [one per CPU]\n"
          "Library options (as in 'mailvet check'):\n",
          out);
    mv_pipeline_usage(out);
    mv_store_opts_usage(out);
    fputs("  --deadline MS         per address; past it: unknown, deadline\n"
          "                        (0: none) [10000]\n"
          "  -q, --quiet           no summary or progress on stderr\n"
          "  -h, --help            show this help\n"
          "\n"
          "A summary goes to stderr at the end, and a progress bar while it "
          "runs\n"
          "when stderr is a terminal.  Malformed rows (unterminated quote, "
          "wrong\n"
          "number of fields, invalid UTF-8 in the address) go to the "
          "rejects with\n"
          "verdict 'malformed'; every other row still runs.\n"
          "\n"
          "Exit status: 0 when the run finished (even with rows dropped), "
          "2 for\n"
          "a usage error or an input or output that failed.\n",
          out);
}

/* ---- options ------------------------------------------------------- */

enum {
    OPT_OUT = MV_OPT__PIPELINE_END,
    OPT_DEADLINE,
    OPT_REJECTS,
    OPT_COLUMN,
    OPT_DELIMITER,
    OPT_NO_HEADER,
    OPT_ANNOTATE,
    OPT_FORMAT,
    OPT_DROP,
    OPT_KEEP,
    OPT_DEDUPE,
    OPT_NO_DEDUPE,
    OPT_REPORT,
    OPT_REPORT_HTML,
    OPT_RESUME,
    OPT_THREADS
};

static const struct option long_opts[] = {
    MV_PIPELINE_LONG_OPTS,
    MV_STORE_LONG_OPTS,
    {"deadline", required_argument, NULL, OPT_DEADLINE},
    {"quiet", no_argument, NULL, 'q'},
    {"help", no_argument, NULL, 'h'},
    {"out", required_argument, NULL, OPT_OUT},
    {"rejects", required_argument, NULL, OPT_REJECTS},
    {"column", required_argument, NULL, OPT_COLUMN},
    {"delimiter", required_argument, NULL, OPT_DELIMITER},
    {"no-header", no_argument, NULL, OPT_NO_HEADER},
    {"annotate", no_argument, NULL, OPT_ANNOTATE},
    {"format", required_argument, NULL, OPT_FORMAT},
    {"drop", required_argument, NULL, OPT_DROP},
    {"keep", required_argument, NULL, OPT_KEEP},
    {"dedupe", no_argument, NULL, OPT_DEDUPE},
    {"no-dedupe", no_argument, NULL, OPT_NO_DEDUPE},
    {"report", required_argument, NULL, OPT_REPORT},
    {"report-html", required_argument, NULL, OPT_REPORT_HTML},
    {"resume", no_argument, NULL, OPT_RESUME},
    {"threads", required_argument, NULL, OPT_THREADS},
    {NULL, 0, NULL, 0}};

static int parse_delimiter(const char *s, clean_opts *o)
{
    if (strcmp(s, "none") == 0) {
        o->csv.text = true;
        return 0;
    }
    if (strcmp(s, "tab") == 0 || strcmp(s, "\\t") == 0) {
        o->csv.delimiter = '\t';
        return 0;
    }
    if (strlen(s) != 1 || s[0] == '"' || s[0] == '\n' || s[0] == '\r') {
        fprintf(stderr,
                "mailvet: --delimiter: one character, 'tab' or "
                "'none', not '%s'\n",
                s);
        return -1;
    }
    o->csv.delimiter = (unsigned char)s[0];
    return 0;
}

static int parse_format(const char *s, clean_opts *o)
{
    if (strcmp(s, "csv") == 0)
        o->fmt = MV_FMT_CSV;
    else if (strcmp(s, "jsonl") == 0)
        o->fmt = MV_FMT_JSONL;
    else {
        fprintf(stderr, "mailvet: --format: csv or jsonl, not '%s'\n", s);
        return -1;
    }
    return 0;
}

static int parse_own(int c, clean_opts *o)
{
    switch (c) {
    case OPT_OUT:
        o->out = optarg;
        return 0;
    case OPT_REJECTS:
        o->rejects = optarg;
        return 0;
    case OPT_COLUMN:
        o->column = optarg;
        return 0;
    case OPT_DELIMITER:
        return parse_delimiter(optarg, o);
    case OPT_NO_HEADER:
        o->csv.no_header = true;
        return 0;
    case OPT_ANNOTATE:
        o->annotate = true;
        return 0;
    case OPT_FORMAT:
        return parse_format(optarg, o);
    case OPT_DROP:
        return mv_policy_apply(&o->pol, optarg, true, "--drop");
    case OPT_KEEP:
        return mv_policy_apply(&o->pol, optarg, false, "--keep");
    case OPT_DEDUPE:
    case OPT_NO_DEDUPE:
        o->dedupe = c == OPT_DEDUPE;
        return 0;
    case OPT_REPORT:
        o->report = optarg;
        return 0;
    case OPT_REPORT_HTML:
        o->report_html = optarg;
        return 0;
    case OPT_RESUME:
        o->resume = true;
        return 0;
    case OPT_DEADLINE:
        o->lo.deadline_set = true;
        return mv_parse_uint(optarg, "--deadline", &o->lo.lib.deadline_ms);
    case OPT_THREADS:
        return mv_parse_uint(optarg, "--threads", &o->threads);
    }
    int r = mv_store_opts_parse(&o->st, c, optarg);
    if (r != 0)
        return r > 0 ? 0 : -1;
    return mv_pipeline_option(&o->lo, c, optarg) > 0 ? 0 : -1;
}

static bool same_path(const char *a, const char *b)
{
    return a != NULL && b != NULL && strcmp(a, b) == 0;
}

/* Parse options into 'o'; -1 on a usage error, 1 for --help. */
static int parse_args(int argc, char **argv, clean_opts *o)
{
    int c;

    optind = 1;
    while ((c = getopt_long(argc, argv, "qh", long_opts, NULL)) != -1) {
        if (c == 'h')
            return 1;
        if (c == '?')
            return -1;
        if (c == 'q')
            o->quiet = true;
        else if (parse_own(c, o) < 0)
            return -1;
    }
    if (mv_pipeline_finish(&o->lo) < 0 || mv_store_opts_check(&o->st) < 0)
        return -1;
    if (optind != argc - 1) {
        fprintf(stderr, "mailvet: clean takes one input file ('-': "
                        "stdin)\n");
        return -1;
    }
    o->in = argv[optind];
    if (same_path(o->out, o->rejects) ||
        (o->out == NULL && same_path(o->rejects, "-"))) {
        fprintf(stderr, "mailvet: --out and --rejects must differ\n");
        return -1;
    }
    if (o->out == NULL)
        o->out = "-";
    if (o->resume && (strcmp(o->in, "-") == 0 || strcmp(o->out, "-") == 0 ||
                      same_path(o->rejects, "-"))) {
        fprintf(stderr, "mailvet: --resume needs the input, --out and "
                        "--rejects to be files\n");
        return -1;
    }
    return 0;
}

/* ---- the email column ------------------------------------------------ */

/* Header name 'f' (n bytes) equals 's', ignoring case and edge blanks. */
static bool name_is(const char *f, size_t n, const char *s)
{
    while (n > 0 && (f[0] == ' ' || f[0] == '\t'))
        f++, n--;
    while (n > 0 && (f[n - 1] == ' ' || f[n - 1] == '\t'))
        n--;
    return strlen(s) == n && strncasecmp(f, s, n) == 0;
}

static long header_index(const mv_csv_row *h, const char *name)
{
    for (size_t i = 0; h != NULL && i < h->nfields; i++)
        if (name_is(h->data + h->off[i], h->off[i + 1] - h->off[i], name))
            return (long)i;
    return -1;
}

static long column_index(clean_run *run, const mv_csv_row *h)
{
    static const char *const names[] = {"email", "e-mail", "mail",
                                        "email_address"};
    const char *c = run->o->column;
    long i;

    if (c != NULL) {
        if ((i = header_index(h, c)) >= 0)
            return i;
        if (c[0] != '\0' && strspn(c, "0123456789") == strlen(c) &&
            (i = atol(c)) >= 1 && (h == NULL || (size_t)i <= h->nfields))
            return i - 1;
        fprintf(stderr, "mailvet: %s: --column %s: %s\n", run->o->in, c,
                h ? "no such column in the header"
                  : "no header to find a name in");
        return -1;
    }
    if (mv_csv_is_text(run->csv))
        return 0;
    if (h == NULL)
        return mv_csv_at_column(run->csv) > 0 ? mv_csv_at_column(run->csv) : 0;
    for (size_t k = 0; k < sizeof names / sizeof *names; k++)
        if ((i = header_index(h, names[k])) >= 0)
            return i;
    fprintf(stderr,
            "mailvet: %s: no email column in the header (looked for "
            "email, e-mail, mail, email_address); name it with --column "
            "NAME|INDEX\n",
            run->o->in);
    return -1;
}

/* ---- one row --------------------------------------------------------- */

/* Append 'name' (and a comma before it unless first) to the reasons
 * column; a name that does not fit is left out (REASONS_CAP holds every
 * reason a result can have). */
static char *add_reason(char *p, const char *first, const char *end,
                        const char *name)
{
    size_t n = strlen(name);

    if ((size_t)(end - p) <= n + 1)
        return p;
    if (p > first)
        *p++ = ',';
    memcpy(p, name, n + 1);
    return p + n;
}

static void join_reasons(clean_run *run, const vl_result *res, bool dup)
{
    char *p = run->reasons, *end = run->reasons + sizeof run->reasons;

    *p = '\0';
    if (dup)
        p = add_reason(p, run->reasons, end, "duplicate");
    for (size_t i = 0; i < vl_result_reason_count(res); i++)
        p = add_reason(p, run->reasons, end,
                       vl_reason_name(vl_result_reason(res, i)));
}

/* Whether the row is written with its verdict columns (the reasons are
 * joined for those rows only: a kept row is most often copied as is). */
static bool annotated(const clean_run *run, bool kept)
{
    return run->o->annotate || run->o->fmt == MV_FMT_JSONL ||
           (!kept && run->rej.f != NULL);
}

/* The policy and the canonical key's hash, on the thread that checked
 * the row: less for the writing thread to do. */
static void checked(void *arg, mv_pooled_row *r)
{
    const clean_run *run = arg;
    const char *canon = vl_result_canonical(r->res);
    const char *dom = vl_result_domain_ascii(r->res);

    if (dom[0] != '\0')
        r->dkey = mv_domains_hash(dom, strlen(dom));
    r->drop = mv_policy_drops(&run->o->pol, r->res);
    r->has_key = !r->drop && run->o->dedupe && canon[0] != '\0';
    if (r->has_key)
        r->key = mv_hash128_of(canon, strlen(canon));
}

/* The dedupe set and the domain tally are large and touched at random:
 * start loading a row's slots a few rows before it is emitted. */
static void ahead(void *arg, const mv_pooled_row *r)
{
    const clean_run *run = arg;

    if (r->has_key)
        mv_dedupe_prefetch(run->seen, r->key);
    if (r->dkey.lo != 0)
        mv_domains_prefetch(run->rep.domains, r->dkey);
}

/* Keep, drop or mark as duplicate, in input order; -1 when out of
 * memory. */
static int decide(clean_run *run, const mv_pooled_row *r, bool *kept,
                  bool *dup)
{
    int rc;

    *dup = false;
    *kept = !r->drop;
    if (!r->has_key)
        return 0;
    if ((rc = mv_dedupe_add(run->seen, r->key)) < 0)
        return -1;
    if (rc == 0) {
        *kept = false;
        *dup = true;
    } else if (run->cp != NULL && mv_checkpoint_key(run->cp, r->key) < 0) {
        return -1;
    }
    return 0;
}

static int write_row(clean_run *run, const mv_csv_row *row,
                     const mv_outcome *oc)
{
    size_t w = mv_csv_nfields(run->csv);

    run->out.width = run->rej.width = w;
    if ((run->o->annotate || oc->kept) &&
        mv_sink_row(&run->out, row, oc, run->o->annotate) < 0) {
        fprintf(stderr, "mailvet: %s: %s\n", run->o->out, strerror(errno));
        return -1;
    }
    if (!oc->kept && mv_sink_row(&run->rej, row, oc, true) < 0) {
        fprintf(stderr, "mailvet: %s: %s\n", run->o->rejects, strerror(errno));
        return -1;
    }
    return 0;
}

/* Decide, count and write one row, in input order (the pool's emit). */
static int handle(void *arg, mv_pooled_row *pr)
{
    clean_run *run = arg;
    const mv_csv_row *row = &pr->row;
    const vl_result *res = pr->res;
    mv_outcome oc = {0};
    bool kept = false, dup = false;

    /* VL_ETEMP: the context stopped first; the result says unknown */
    if (row->problem == MV_CSV_OK &&
        (res == NULL || (pr->st != VL_OK && pr->st != VL_ETEMP))) {
        fprintf(stderr, "mailvet: line %llu: check failed: %s\n",
                (unsigned long long)row->line,
                vl_strerror(pr->st != VL_OK ? pr->st : VL_ENOMEM));
        return -1;
    }
    if (row->problem == MV_CSV_OK || row->problem == MV_CSV_INVALID_UTF8) {
        oc.email = row->data + row->off[run->col];
        oc.email_len = row->off[run->col + 1] - row->off[run->col];
    }
    if (row->problem != MV_CSV_OK) {
        oc.verdict = "malformed";
        oc.reasons = mv_csv_problem_name(row->problem);
        if (!run->o->quiet && run->rep.malformed < MALFORMED_NOTES)
            fprintf(stderr, "mailvet: %s:%llu: %s%s\n", run->o->in,
                    (unsigned long long)row->line, oc.reasons,
                    run->rep.malformed + 1 == MALFORMED_NOTES
                        ? " (further malformed rows: see the rejects)"
                        : "");
        res = NULL;
    } else {
        if (decide(run, pr, &kept, &dup) < 0) {
            fprintf(stderr, "mailvet: out of memory\n");
            return -1;
        }
        if (annotated(run, kept))
            join_reasons(run, res, dup);
        else
            run->reasons[0] = '\0';
        if (!dup && mv_store_opts_record(&run->o->st, res) < 0)
            return -1;
        oc.verdict = vl_verdict_name(vl_result_verdict(res));
        oc.reasons = run->reasons;
        oc.suggestion = vl_result_suggestion(res);
    }
    oc.kept = kept;
    if (mv_report_row(&run->rep, row->problem, res, kept, dup, pr->dkey) < 0 ||
        write_row(run, row, &oc) < 0)
        return -1;
    if (run->cp != NULL &&
        mv_checkpoint_row(run->cp, row->end, row->next_line) < 0)
        return -1;
    return 0;
}

static int process(clean_run *run)
{
    mv_csv_row row;
    uint64_t n = 0;
    int rc;

    while (!stop_signal && (rc = mv_csv_next(run->csv, &row)) == 1) {
        if (row.problem == MV_CSV_OK && (size_t)run->col >= row.nfields) {
            fprintf(stderr,
                    "mailvet: %s: --column %ld: the rows have %zu "
                    "fields\n",
                    run->o->in, run->col + 1, row.nfields);
            return -1;
        }
        if (mv_rowpool_push(run->pool, &row) < 0)
            return -1;
        if ((++n & 1023) == 0)
            mv_progress_tick(&run->prog, run->rep.rows,
                             mv_csv_bytes_read(run->csv));
    }
    if (!stop_signal && rc < 0) {
        fprintf(stderr, "mailvet: %s: %s\n", run->o->in, strerror(errno));
        return -1;
    }
    return mv_rowpool_drain(run->pool);
}

/* ---- set-up and the end ------------------------------------------------ */

static int copy_names(clean_run *run, const mv_csv_row *h)
{
    size_t bytes = h->off[h->nfields];

    run->names = malloc(bytes + 1);
    run->name_off = malloc((h->nfields + 1) * sizeof *run->name_off);
    if (run->names == NULL || run->name_off == NULL)
        return -1;
    memcpy(run->names, h->data, bytes);
    memcpy(run->name_off, h->off, (h->nfields + 1) * sizeof *run->name_off);
    return 0;
}

static void shape_sink(clean_run *run, mv_sink *s, bool annotate)
{
    s->fmt = run->o->fmt;
    s->annotate = annotate;
    s->delim = mv_csv_delimiter(run->csv);
    s->eol = mv_csv_line_end(run->csv);
    s->text = mv_csv_is_text(run->csv);
    s->bom = mv_csv_has_bom(run->csv);
    s->width = mv_csv_nfields(run->csv);
    s->names = run->names;
    s->name_off = run->name_off;
}

static int open_input(clean_run *run)
{
    struct stat st;
    const char *in = run->o->in;

    run->fd = strcmp(in, "-") == 0 ? STDIN_FILENO : open(in, O_RDONLY);
    if (run->fd < 0) {
        fprintf(stderr, "mailvet: %s: %s\n", in, strerror(errno));
        return -1;
    }
    if (fstat(run->fd, &st) == 0 && S_ISREG(st.st_mode))
        run->in_size = (uint64_t)st.st_size;
    run->csv = mv_csv_new(run->fd, &run->o->csv);
    return run->csv ? 0 : -1;
}

/* Read the header, find the column, shape the outputs. */
static int read_header(clean_run *run)
{
    mv_csv_row h;
    int rc = mv_csv_begin(run->csv, &h);

    if (rc < 0) {
        fprintf(stderr, "mailvet: %s: %s\n", run->o->in, strerror(errno));
        return -1;
    }
    if (rc == 1 && h.problem != MV_CSV_OK) {
        fprintf(stderr, "mailvet: %s:%llu: cannot read the header: %s\n",
                run->o->in, (unsigned long long)h.line,
                mv_csv_problem_name(h.problem));
        return -1;
    }
    if ((run->col = column_index(run, rc == 1 ? &h : NULL)) < 0)
        return -1;
    if (rc == 1 && copy_names(run, &h) < 0)
        return -1;
    mv_csv_check_column(run->csv, run->col);
    shape_sink(run, &run->out, run->o->annotate);
    shape_sink(run, &run->rej, true);
    if (run->o->resume)
        return 0;
    if (mv_sink_open(&run->out, run->o->out, false) < 0 ||
        (run->o->rejects &&
         mv_sink_open(&run->rej, run->o->rejects, false) < 0)) {
        fprintf(stderr, "mailvet: %s: %s\n",
                run->out.f ? run->o->rejects : run->o->out, strerror(errno));
        return -1;
    }
    if (mv_sink_header(&run->out, rc == 1 ? &h : NULL) < 0 ||
        mv_sink_header(&run->rej, rc == 1 ? &h : NULL) < 0) {
        fprintf(stderr, "mailvet: cannot write the header: %s\n",
                strerror(errno));
        return -1;
    }
    return 0;
}

/* A hash of what shapes the output, so --resume refuses other options. */
static uint64_t options_hash(const clean_run *run)
{
    const clean_opts *o = run->o;
    struct {
        long col;
        int delim, fmt;
        unsigned flags;
        bool text, header, annotate, dedupe, rejects;
        mv_policy pol;
    } k;

    memset(&k, 0, sizeof k);
    k.col = run->col;
    k.delim = mv_csv_delimiter(run->csv);
    k.fmt = o->fmt;
    k.flags = o->lo.lib.flags & VL_OPT_PROVIDER_RULES;
    k.text = mv_csv_is_text(run->csv);
    k.header = run->names != NULL;
    k.annotate = o->annotate;
    k.dedupe = o->dedupe;
    k.rejects = o->rejects != NULL;
    k.pol = o->pol;
    return mv_hash128_of(&k, sizeof k).lo;
}

static int start_checkpoint(clean_run *run)
{
    mv_cp_state st = {.out = &run->out,
                      .rej = &run->rej,
                      .seen = run->o->dedupe ? run->seen : NULL,
                      .rep = &run->rep,
                      .csv = run->csv,
                      .ctx = run->ctx,
                      .input = run->o->in,
                      .in_fd = run->fd,
                      .options = options_hash(run)};

    if (run->o->rejects != NULL)
        run->rej.path = run->o->rejects;
    run->out.path = run->o->out;
    return mv_checkpoint_open(&run->cp, &st, run->o->resume);
}

static unsigned cpus(void)
{
    long n = sysconf(_SC_NPROCESSORS_ONLN);

    return n < 1 ? 1 : n > 64 ? 64 : (unsigned)n;
}

/* Offline, a few batches per thread keep every thread busy.  With the
 * network the ring holds the window: enough rows in flight to keep the
 * query slots busy (mv_pipeline_window()). */
static int start_pool(clean_run *run)
{
    const clean_opts *o = run->o;
    mv_rowpool_config c = {
        .ctx = run->ctx,
        .network = !(o->lo.lib.flags & VL_OPT_OFFLINE),
        .threads = o->threads ? o->threads : cpus(),
        .batch_rows = 256,
        .col = run->col,
        .checked = checked,
        .emit = handle,
        .ahead = ahead,
        .arg = run,
    };

    c.batches = 4 * (size_t)c.threads;
    if (c.network) {
        c.batch_rows = 128;
        c.batches = mv_pipeline_window(&o->lo) / c.batch_rows + 1;
    }
    run->pool = mv_rowpool_new(&c);
    return run->pool ? 0 : -1;
}

static int start(clean_run *run)
{
    char err[512];
    clean_opts *o = run->o;

    if (open_input(run) < 0 || read_header(run) < 0 ||
        mv_store_opts_open(&o->st, &o->lo.lib) < 0)
        return -1;
    if (vl_ctx_new(&o->lo.lib, &run->ctx, err, sizeof err) != VL_OK) {
        fprintf(stderr, "mailvet: %s\n", err);
        return -1;
    }
    if ((run->seen = mv_dedupe_new()) == NULL ||
        mv_report_init(&run->rep) < 0 || start_pool(run) < 0)
        return -1;
    run->rep.offline = o->lo.lib.flags & VL_OPT_OFFLINE;
    run->rep.smtp = (o->lo.lib.flags & VL_OPT_SMTP) != 0;
    run->rep.input = o->in;
    run->rep.out = o->out;
    run->rep.rejects = o->rejects;
    if (strcmp(o->out, "-") != 0 && start_checkpoint(run) < 0)
        return -1;
    mv_progress_init(&run->prog, !o->quiet, run->in_size);
    return 0;
}

static int write_reports(clean_run *run)
{
    const char *paths[2] = {run->o->report, run->o->report_html};

    for (int i = 0; i < 2; i++) {
        FILE *f;
        if (paths[i] == NULL)
            continue;
        if ((f = fopen(paths[i], "w")) == NULL ||
            (i == 0 ? mv_report_json(&run->rep, f)
                    : mv_report_html(&run->rep, f)) < 0 ||
            fclose(f) != 0) {
            fprintf(stderr, "mailvet: %s: %s\n", paths[i], strerror(errno));
            return -1;
        }
    }
    return 0;
}

static int finish(clean_run *run)
{
    vl_stats st;

    mv_progress_done(&run->prog);
    run->rep.seconds += mv_now() - run->t0;
    if (run->ctx != NULL) {
        vl_ctx_stats(run->ctx, &st);
        run->rep.dns_queries += st.dns_queries;
        run->rep.smtp_connections += st.smtp_connections;
        run->rep.smtp_rcpts += st.smtp_rcpts;
        run->rep.smtp_port_blocked |= st.smtp_port_blocked != 0;
    }
    if (mv_sink_close(&run->out) < 0 || mv_sink_close(&run->rej) < 0) {
        fprintf(stderr, "mailvet: cannot write the output: %s\n",
                strerror(errno));
        return -1;
    }
    if (write_reports(run) < 0)
        return -1;
    if (!run->o->quiet)
        mv_report_human(&run->rep, stderr);
    return 0;
}

static void cleanup(clean_run *run)
{
    mv_rowpool_free(run->pool);
    mv_checkpoint_free(run->cp);
    mv_csv_free(run->csv);
    if (run->fd > STDIN_FILENO)
        close(run->fd);
    vl_ctx_free(run->ctx);
    mv_store_opts_close(&run->o->st, run->o->quiet); /* after the context */
    mv_dedupe_free(run->seen);
    mv_report_free(&run->rep);
    if (run->out.f != NULL && run->out.f != stdout)
        fclose(run->out.f);
    if (run->rej.f != NULL && run->rej.f != stdout)
        fclose(run->rej.f);
    free(run->names);
    free(run->name_off);
}

static void catch_stop(void)
{
    struct sigaction sa;

    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_stop;
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
}

int mv_cmd_clean(int argc, char **argv)
{
    clean_opts o = {0};
    clean_run run = {0};
    int rc;

    mv_pipeline_init(&o.lo);
    mv_store_opts_init(&o.st);
    mv_policy_init(&o.pol);
    o.dedupe = true;
    rc = parse_args(argc, argv, &o);
    if (rc != 0) {
        mv_clean_usage(rc == 1 ? stdout : stderr);
        mv_pipeline_free(&o.lo);
        return rc == 1 ? MV_EXIT_OK : MV_EXIT_USAGE;
    }
    run.o = &o;
    run.fd = -1;
    run.t0 = mv_now();
    catch_stop();
    rc = start(&run);
    if (rc == 0)
        rc = process(&run);
    if (rc == 0 && run.cp != NULL)
        rc = mv_checkpoint_end(run.cp, stop_signal != 0);
    if (rc == 0 && stop_signal) {
        mv_progress_done(&run.prog);
        fprintf(stderr,
                "mailvet: stopped by a signal after %llu rows; the "
                "outputs are complete up to there%s\n",
                (unsigned long long)run.rep.rows,
                run.cp ? ": run again with --resume to go on" : "");
        rc = -1;
    } else if (rc == 0) {
        rc = finish(&run);
    }
    cleanup(&run);
    mv_pipeline_free(&o.lo);
    if (stop_signal)
        return 128 + stop_signal;
    return rc < 0 ? MV_EXIT_USAGE : MV_EXIT_OK;
}
