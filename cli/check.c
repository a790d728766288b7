/*
 * check.c - "mailvet check": check addresses given as arguments, or one
 * per line on stdin ('-'), and print a line (or a JSON object) each, in
 * input order.
 *
 * Offline, each address is checked on this thread with one reused
 * result.  With the network, addresses flow through a window of
 * asynchronous checks (window.c), so many domains resolve at once while
 * output keeps the input's order.  Memory stays bounded whatever the
 * input: stdin is read through lines.c, which cuts over-long lines, and
 * the JSON "input" field is cut at VL_JSON_INPUT_MAX bytes.
 */
#include <errno.h>
#include <getopt.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "lines.h"
#include "pipeline.h"
#include "storeopts.h"
#include "validate.h"
#include "window.h"

enum { HUMAN_INPUT_MAX = 60, READ_BUF = 1 << 20 };

typedef struct check_run {
    vl_ctx *ctx;
    vl_result *res; /* offline: reused for every address */
    mv_window *window;
    bool json, explain, quiet;
    bool told_port_blocked; /* the note on stderr, once */
    char *jbuf;
    size_t jcap;
    size_t n_undeliverable, n_unknown;
    mv_store_opts *st; /* --store and friends */
} check_run;

void mv_check_usage(FILE *out)
{
    fputs("usage: mailvet check [OPTIONS] ADDRESS...\n"
          "       mailvet check [OPTIONS] -        (one address per line on "
          "stdin)\n"
          "\n"
          "Check each address and print its verdict (deliverable, risky,\n"
          "undeliverable, unknown), the reasons, the mail host, and a\n"
          "suggested fix.\n"
          "\n"
          "Options:\n"
          "  --json                one JSON object per address (JSON Lines)\n"
          "  --deadline MS         per address; past it: unknown, deadline\n"
          "                        (0: none) [10000]\n",
          out);
    mv_pipeline_usage(out);
    mv_store_opts_usage(out);
    fputs("  -q, --quiet           no notes on stderr\n"
          "  -h, --help            show this help\n"
          "\n"
          "Exit status: 0 every address deliverable or risky, 1 any\n"
          "undeliverable, 3 none undeliverable but some unknown, 2 usage or\n"
          "system error.\n",
          out);
}

/* Human output shows the input with controls escaped, cut when long. */
static void print_human_input(const char *s, size_t len)
{
    size_t shown = 0, cols = 0;

    for (size_t i = 0; i < len && cols < HUMAN_INPUT_MAX; i++, shown++) {
        unsigned char c = (unsigned char)s[i];
        if (c < 0x20 || c == 0x7F) {
            printf("\\x%02x", c);
            cols += 4;
        } else {
            putchar(c);
            cols += (c & 0xC0) != 0x80;
        }
    }
    if (shown < len)
        fputs("...", stdout), cols += 3;
    for (; cols < 32; cols++)
        putchar(' ');
}

static void print_explain(const vl_result *res)
{
    vl_dns_query q;
    vl_smtp_line l;

    for (size_t i = 0; vl_result_dns_query(res, i, &q) == VL_OK; i++)
        printf("    %-5s %-40s %-9s ttl=%-6u %s\n", q.type, q.name, q.outcome,
               q.ttl, q.answers);
    for (size_t i = 0; vl_result_smtp_line(res, i, &l) == VL_OK; i++)
        printf("    %6ums %c: %s\n", l.ms, l.dir, l.text);
}

/* " smtp=550 5.1.1 (mx1.example.com)" */
static void print_smtp(const vl_result *res)
{
    vl_smtp_info s;

    if (vl_result_smtp(res, &s) != VL_OK || s.code == 0)
        return;
    printf("  smtp=%d%s%s", s.code, s.enhanced[0] ? " " : "", s.enhanced);
    if (s.retry_after_s)
        printf(" retry-after=%us", s.retry_after_s);
}

static void print_human(check_run *run, const vl_result *res, const char *in,
                        size_t len)
{
    const char *sugg = vl_result_suggestion(res);
    unsigned pref;
    const char *mx = vl_result_mx_host(res, &pref);

    printf("%-14s", vl_verdict_name(vl_result_verdict(res)));
    print_human_input(in, len);
    for (size_t i = 0; i < vl_result_reason_count(res); i++)
        printf("%s%s", i ? "," : " ",
               vl_reason_name(vl_result_reason(res, i)));
    if (mx != NULL)
        printf("  mx=%s", mx);
    print_smtp(res);
    if (sugg != NULL)
        printf("  (did you mean %s?)", sugg);
    putchar('\n');
    if (run->explain)
        print_explain(res);
}

static int print_json(check_run *run, const vl_result *res, const char *in,
                      size_t len)
{
    unsigned flags = run->explain ? VL_JSON_EXPLAIN : 0;
    size_t need = vl_result_json(res, in, len, flags, run->jbuf, run->jcap);

    if (need >= run->jcap) {
        char *nb = realloc(run->jbuf, need + 1);
        if (nb == NULL)
            return -1;
        run->jbuf = nb;
        run->jcap = need + 1;
        vl_result_json(res, in, len, flags, run->jbuf, run->jcap);
    }
    run->jbuf[need] = '\n';
    fwrite(run->jbuf, 1, need + 1, stdout);
    return 0;
}

/* Print one answer.  'full_len' > 'len' when the reader cut an
 * over-long line: the JSON echo then says it was cut. */
static int emit(void *arg, const char *in, size_t len, size_t full_len,
                vl_result *res, void *tag)
{
    check_run *run = arg;

    (void)tag;
    if (res == NULL) {
        fprintf(stderr, "mailvet: check failed: out of memory\n");
        return -1;
    }
    switch (vl_result_verdict(res)) {
    case VL_UNDELIVERABLE:
        run->n_undeliverable++;
        break;
    case VL_UNKNOWN:
        run->n_unknown++;
        break;
    case VL_DELIVERABLE:
    case VL_RISKY:
        break;
    }
    if (vl_result_has_reason(res, VL_R_SMTP_PORT_BLOCKED) &&
        !run->told_port_blocked && !run->quiet) {
        run->told_port_blocked = true;
        fprintf(stderr,
                "mailvet: outbound SMTP (port 25) looks blocked here: "
                "several unrelated\n"
                "mail hosts timed out or refused before any greeting; the "
                "probe stops\n"
                "and the rest are unknown (smtp_port_blocked)\n");
    }
    if (mv_store_opts_record(run->st, res) < 0)
        return -1;
    if (run->json)
        return print_json(run, res, in, full_len > len ? full_len : len);
    print_human(run, res, in, len);
    return 0;
}

static int check_one(check_run *run, const char *in, size_t len,
                     size_t full_len)
{
    vl_status st;

    if (run->window != NULL)
        return mv_window_push(run->window, in, len, full_len);
    if ((st = vl_check(run->ctx, in, len, run->res)) != VL_OK) {
        fprintf(stderr, "mailvet: check failed: %s\n", vl_strerror(st));
        return -1;
    }
    return emit(run, in, len, full_len, run->res, NULL);
}

static int check_stdin(check_run *run)
{
    mv_lines *lr = mv_lines_new(STDIN_FILENO, READ_BUF);
    const char *line;
    size_t len, full;
    int rc;

    if (lr == NULL)
        return -1;
    errno = 0;
    while ((rc = mv_lines_next(lr, &line, &len, &full)) == 1) {
        if (check_one(run, line, len, full) < 0) {
            rc = -1;
            break;
        }
    }
    if (rc < 0 && errno)
        fprintf(stderr, "mailvet: stdin: line %zu: %s\n",
                mv_lines_number(lr) + 1, strerror(errno));
    mv_lines_free(lr);
    return rc;
}

enum { OPT_JSON = MV_OPT__PIPELINE_END, OPT_DEADLINE };

static const struct option long_opts[] = {
    {"json", no_argument, NULL, OPT_JSON},
    {"deadline", required_argument, NULL, OPT_DEADLINE},
    {"quiet", no_argument, NULL, 'q'},
    {"help", no_argument, NULL, 'h'},
    MV_PIPELINE_LONG_OPTS,
    MV_STORE_LONG_OPTS,
    {NULL, 0, NULL, 0}};

typedef struct cli_opts {
    mv_pipeline pipe;
    mv_store_opts st;
    bool json, quiet;
} cli_opts;

/* Parse options into 'o'; returns -1 on a usage error, 1 for --help. */
static int parse_args(int argc, char **argv, cli_opts *o)
{
    int c;

    optind = 1;
    while ((c = getopt_long(argc, argv, "qh", long_opts, NULL)) != -1) {
        switch (c) {
        case OPT_JSON:
            o->json = true;
            break;
        case OPT_DEADLINE:
            if (mv_parse_uint(optarg, "--deadline", &o->pipe.lib.deadline_ms) <
                0)
                return -1;
            o->pipe.deadline_set = true;
            break;
        case 'q':
            o->quiet = true;
            break;
        case 'h':
            return 1;
        case '?':
            return -1;
        default: {
            int r = mv_store_opts_parse(&o->st, c, optarg);
            if (r == 0)
                r = mv_pipeline_option(&o->pipe, c, optarg);
            if (r != 1)
                return -1;
        }
        }
    }
    if (mv_pipeline_finish(&o->pipe) < 0)
        return -1;
    return mv_store_opts_check(&o->st);
}

static int run_all(check_run *run, int argc, char **argv)
{
    for (int i = optind; i < argc; i++) {
        size_t n = strlen(argv[i]);
        int rc = strcmp(argv[i], "-") == 0 ? check_stdin(run)
                                           : check_one(run, argv[i], n, n);
        if (rc < 0)
            return -1;
    }
    return run->window ? mv_window_drain(run->window) : 0;
}

static int start(check_run *run, cli_opts *o)
{
    char err[512];

    run->st = &o->st;
    if (mv_store_opts_open(&o->st, &o->pipe.lib) < 0)
        return -1;

    if (vl_ctx_new(&o->pipe.lib, &run->ctx, err, sizeof err) != VL_OK) {
        fprintf(stderr, "mailvet: %s\n", err);
        return -1;
    }
    run->json = o->json;
    run->quiet = o->quiet;
    run->explain = o->pipe.explain;
    run->jcap = 16384;
    if ((run->jbuf = malloc(run->jcap)) == NULL ||
        vl_result_new(&run->res) != VL_OK)
        return -1;
    if (!(o->pipe.lib.flags & VL_OPT_OFFLINE) &&
        (run->window = mv_window_new(run->ctx, mv_pipeline_window(&o->pipe),
                                     emit, run)) == NULL)
        return -1;
    return 0;
}

int mv_cmd_check(int argc, char **argv)
{
    cli_opts o = {0};
    check_run run = {0};
    static char obuf[1 << 16];
    int rc;

    mv_pipeline_init(&o.pipe);
    mv_store_opts_init(&o.st);
    rc = parse_args(argc, argv, &o);
    if (rc != 0 || optind >= argc) {
        mv_check_usage(rc == 1 ? stdout : stderr);
        mv_pipeline_free(&o.pipe);
        return rc == 1 ? MV_EXIT_OK : MV_EXIT_USAGE;
    }
    setvbuf(stdout, obuf, _IOFBF, sizeof obuf);
    rc = start(&run, &o);
    if (rc == 0)
        rc = run_all(&run, argc, argv);
    if (fflush(stdout) != 0) {
        fprintf(stderr, "mailvet: stdout: %s\n", strerror(errno));
        rc = -1;
    }
    mv_window_free(run.window);
    free(run.jbuf);
    vl_result_free(run.res);
    vl_ctx_free(run.ctx);
    mv_store_opts_close(&o.st, o.quiet); /* after the context */
    mv_pipeline_free(&o.pipe);
    if (rc < 0)
        return MV_EXIT_USAGE;
    if (run.n_undeliverable)
        return MV_EXIT_UNDELIVERABLE;
    return run.n_unknown ? MV_EXIT_UNKNOWN : MV_EXIT_OK;
}
