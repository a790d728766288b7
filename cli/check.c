/*
 * check.c - "mailvet check": check addresses given as arguments, or one
 * per line on stdin ('-'), and print a line (or a JSON object) each, in
 * input order.
 *
 * Memory stays bounded whatever the input: stdin is read through
 * lines.c, which cuts over-long lines, and the JSON "input" field is
 * cut at VL_JSON_INPUT_MAX bytes (validate.h).
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
#include "validate.h"

enum { HUMAN_INPUT_MAX = 60, READ_BUF = 1 << 20 };

typedef struct check_run {
    vl_ctx *ctx;
    vl_result *res;
    bool json;
    char *jbuf;
    size_t jcap;
    size_t n_undeliverable, n_unknown;
} check_run;

void mv_check_usage(FILE *out)
{
    fputs("usage: mailvet check [OPTIONS] ADDRESS...\n"
          "       mailvet check [OPTIONS] -        (one address per line on "
          "stdin)\n"
          "\n"
          "Check each address and print its verdict (deliverable, risky,\n"
          "undeliverable, unknown), the reasons, and a suggested fix.\n"
          "\n"
          "Options:\n"
          "  --json                one JSON object per address (JSON Lines)\n"
          "  --offline             skip the network stages (DNS, SMTP)\n"
          "  --no-provider-rules   canonical key without provider rules\n"
          "                        (Gmail dots, +tags)\n"
          "  --no-spoof-check      do not flag confusable domains\n"
          "  --disposable-file F   extra disposable domains, one per line\n"
          "  --free-file F         extra free-mail domains\n"
          "  --role-file F         extra role local parts\n"
          "  --typo-file F         extra typo fixes, \"typo<TAB>fix\" per "
          "line\n"
          "                        (a line \"!entry\" removes a built-in "
          "entry)\n"
          "  -q, --quiet           no notes on stderr\n"
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

static void print_human(check_run *run, const char *in, size_t len)
{
    const vl_result *res = run->res;
    const char *sugg = vl_result_suggestion(res);

    printf("%-14s", vl_verdict_name(vl_result_verdict(res)));
    print_human_input(in, len);
    for (size_t i = 0; i < vl_result_reason_count(res); i++)
        printf("%s%s", i ? "," : " ",
               vl_reason_name(vl_result_reason(res, i)));
    if (sugg != NULL)
        printf("  (did you mean %s?)", sugg);
    putchar('\n');
}

static int print_json(check_run *run, const char *in, size_t len)
{
    size_t need = vl_result_json(run->res, in, len, run->jbuf, run->jcap);

    if (need >= run->jcap) {
        char *nb = realloc(run->jbuf, need + 1);
        if (nb == NULL)
            return -1;
        run->jbuf = nb;
        run->jcap = need + 1;
        vl_result_json(run->res, in, len, run->jbuf, run->jcap);
    }
    run->jbuf[need] = '\n';
    fwrite(run->jbuf, 1, need + 1, stdout);
    return 0;
}

/* 'full_len' > 'len' when the reader cut an over-long line: such a
 * line is far past any address limit, whatever its head says. */
static int check_one(check_run *run, const char *in, size_t len,
                     size_t full_len)
{
    vl_status st = vl_check(run->ctx, in, len, run->res);

    if (st != VL_OK) {
        fprintf(stderr, "mailvet: check failed: %s\n", vl_strerror(st));
        return -1;
    }
    (void)full_len;
    switch (vl_result_verdict(run->res)) {
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
    if (run->json)
        return print_json(run, in, full_len > len ? full_len : len) < 0 ? -1
                                                                        : 0;
    print_human(run, in, len);
    return 0;
}

static int check_stdin(check_run *run)
{
    mv_lines *lr = mv_lines_new(STDIN_FILENO, READ_BUF);
    const char *line;
    size_t len, full;
    int rc;

    if (lr == NULL)
        return -1;
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

enum {
    OPT_JSON = 256,
    OPT_OFFLINE,
    OPT_NO_PROVIDER,
    OPT_NO_SPOOF,
    OPT_DISPOSABLE,
    OPT_FREE,
    OPT_ROLE,
    OPT_TYPO
};

static const struct option long_opts[] = {
    {"json", no_argument, NULL, OPT_JSON},
    {"offline", no_argument, NULL, OPT_OFFLINE},
    {"no-provider-rules", no_argument, NULL, OPT_NO_PROVIDER},
    {"no-spoof-check", no_argument, NULL, OPT_NO_SPOOF},
    {"disposable-file", required_argument, NULL, OPT_DISPOSABLE},
    {"free-file", required_argument, NULL, OPT_FREE},
    {"role-file", required_argument, NULL, OPT_ROLE},
    {"typo-file", required_argument, NULL, OPT_TYPO},
    {"quiet", no_argument, NULL, 'q'},
    {"help", no_argument, NULL, 'h'},
    {NULL, 0, NULL, 0}};

/* Parse options into 'opt'; returns -1 on a usage error, 1 for --help. */
static int parse_args(int argc, char **argv, vl_options *opt, bool *json,
                      bool *quiet, bool *offline)
{
    int c;

    optind = 1;
    while ((c = getopt_long(argc, argv, "qh", long_opts, NULL)) != -1) {
        switch (c) {
        case OPT_JSON:
            *json = true;
            break;
        case OPT_OFFLINE:
            *offline = true;
            opt->flags |= VL_OPT_OFFLINE;
            break;
        case OPT_NO_PROVIDER:
            opt->flags &= ~(unsigned)VL_OPT_PROVIDER_RULES;
            break;
        case OPT_NO_SPOOF:
            opt->flags |= VL_OPT_NO_SPOOF_CHECK;
            break;
        case OPT_DISPOSABLE:
            opt->disposable_file = optarg;
            break;
        case OPT_FREE:
            opt->free_file = optarg;
            break;
        case OPT_ROLE:
            opt->role_file = optarg;
            break;
        case OPT_TYPO:
            opt->typo_file = optarg;
            break;
        case 'q':
            *quiet = true;
            break;
        case 'h':
            return 1;
        default:
            return -1;
        }
    }
    return 0;
}

static int run_all(check_run *run, int argc, char **argv)
{
    for (int i = optind; i < argc; i++) {
        int rc =
            strcmp(argv[i], "-") == 0
                ? check_stdin(run)
                : check_one(run, argv[i], strlen(argv[i]), strlen(argv[i]));
        if (rc < 0)
            return -1;
    }
    return 0;
}

int mv_cmd_check(int argc, char **argv)
{
    vl_options opt;
    check_run run = {0};
    bool quiet = false, offline = false;
    char err[512];
    int rc;

    VL_OPTIONS_INIT(&opt);
    rc = parse_args(argc, argv, &opt, &run.json, &quiet, &offline);
    if (rc != 0 || optind >= argc) {
        mv_check_usage(rc == 1 ? stdout : stderr);
        return rc == 1 ? MV_EXIT_OK : MV_EXIT_USAGE;
    }
    if (!offline && !quiet)
        fputs("mailvet: note: the network stages (DNS, SMTP) are not built "
              "yet; only offline checks run\n",
              stderr);
    if (vl_ctx_new(&opt, &run.ctx, err, sizeof err) != VL_OK) {
        fprintf(stderr, "mailvet: %s\n", err);
        return MV_EXIT_USAGE;
    }
    run.jcap = 16384;
    run.jbuf = malloc(run.jcap);
    if (run.jbuf == NULL || vl_result_new(&run.res) != VL_OK) {
        rc = -1;
        fprintf(stderr, "mailvet: out of memory\n");
    } else {
        static char obuf[1 << 16];
        setvbuf(stdout, obuf, _IOFBF, sizeof obuf);
        rc = run_all(&run, argc, argv);
    }
    if (fflush(stdout) != 0) {
        fprintf(stderr, "mailvet: stdout: %s\n", strerror(errno));
        rc = -1;
    }
    free(run.jbuf);
    vl_result_free(run.res);
    vl_ctx_free(run.ctx);
    if (rc < 0)
        return MV_EXIT_USAGE;
    if (run.n_undeliverable)
        return MV_EXIT_UNDELIVERABLE;
    return run.n_unknown ? MV_EXIT_UNKNOWN : MV_EXIT_OK;
}
