/*
 * report_html.c - the report of "mailvet clean" as one self-contained
 * HTML page (--report-html): the totals, bar charts of the verdicts and
 * of the reasons rows were dropped for, and the busiest domains.  The
 * charts are inline SVG; no script, font, style sheet or image is
 * fetched, so the page opens anywhere, offline.
 */
#include <string.h>

#include "report.h"

enum { BAR_W = 420, ROW_H = 22, LABEL_W = 200, MAX_BARS = 24 };

typedef struct bar {
    const char *label;
    uint64_t n;
    const char *color;
} bar;

static void esc(FILE *f, const char *s)
{
    for (; *s; s++) {
        switch (*s) {
        case '<':
            fputs("&lt;", f);
            break;
        case '>':
            fputs("&gt;", f);
            break;
        case '&':
            fputs("&amp;", f);
            break;
        case '"':
            fputs("&quot;", f);
            break;
        default:
            putc(*s, f);
        }
    }
}

/* A horizontal bar chart, one bar per entry, scaled to the largest. */
static void chart(FILE *f, const char *title, const bar *b, size_t n)
{
    uint64_t max = 1;
    char g[32];

    for (size_t i = 0; i < n; i++)
        if (b[i].n > max)
            max = b[i].n;
    fprintf(f, "<h2>");
    esc(f, title);
    fprintf(f,
            "</h2>\n<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"%d\" "
            "height=\"%zu\" role=\"img\">\n",
            LABEL_W + BAR_W + 90, n * ROW_H + 4);
    for (size_t i = 0; i < n; i++) {
        unsigned w = (unsigned)((double)b[i].n * BAR_W / (double)max);
        size_t y = i * ROW_H;
        fprintf(f, "<text x=\"%d\" y=\"%zu\" text-anchor=\"end\">",
                LABEL_W - 6, y + 15);
        esc(f, b[i].label);
        fprintf(f,
                "</text><rect x=\"%d\" y=\"%zu\" width=\"%u\" height=\"%d\" "
                "fill=\"%s\"/><text x=\"%u\" y=\"%zu\">%s</text>\n",
                LABEL_W, y + 3, w ? w : 1, ROW_H - 6, b[i].color,
                LABEL_W + w + 6, y + 15, mv_group(b[i].n, g));
    }
    fputs("</svg>\n", f);
}

static void verdict_chart(const mv_report *r, FILE *f)
{
    static const char *const colors[] = {"#2e7d32", "#f9a825", "#757575",
                                         "#c62828"};
    bar b[6];
    size_t n = 0;

    for (int v = VL_DELIVERABLE; v <= VL_UNDELIVERABLE; v++)
        b[n++] =
            (bar){vl_verdict_name((vl_verdict)v), r->verdict[v], colors[v]};
    b[n++] = (bar){"malformed row", r->malformed, "#6a1b9a"};
    b[n++] = (bar){"duplicate", r->duplicates, "#1565c0"};
    chart(f, "Rows by verdict", b, n);
}

static void reason_chart(const mv_report *r, FILE *f)
{
    bar b[MAX_BARS];
    size_t n = 0;

    for (int i = 0; i < VL_R__COUNT && n < MAX_BARS; i++)
        if (r->dropped_reason[i])
            b[n++] = (bar){vl_reason_name((vl_reason)i), r->dropped_reason[i],
                           "#c62828"};
    if (r->duplicates && n < MAX_BARS)
        b[n++] = (bar){"duplicate", r->duplicates, "#1565c0"};
    for (int i = 1; i < MV_CSV_PROBLEMS && n < MAX_BARS; i++)
        if (r->problem[i])
            b[n++] = (bar){mv_csv_problem_name((mv_csv_problem)i),
                           r->problem[i], "#6a1b9a"};
    if (n == 0)
        fputs("<h2>Dropped rows by reason</h2>\n<p>None.</p>\n", f);
    else
        chart(f, "Dropped rows by reason", b, n);
}

static void domain_table(const mv_report *r, FILE *f)
{
    mv_domain_count top[MV_TOP_DOMAINS];
    size_t n = mv_domains_top(r->domains, top, MV_TOP_DOMAINS);
    char a[32], b[32];

    fputs("<h2>Top domains</h2>\n<table>\n<tr><th>domain</th><th>rows</th>"
          "<th>dropped</th></tr>\n",
          f);
    for (size_t i = 0; i < n; i++) {
        fputs("<tr><td>", f);
        esc(f, top[i].name);
        fprintf(f, "</td><td>%s</td><td>%s</td></tr>\n",
                mv_group(top[i].rows, a), mv_group(top[i].dropped, b));
    }
    fputs("</table>\n", f);
}

static void totals(const mv_report *r, FILE *f)
{
    char a[32], b[32], c[32], d[32], e[32];
    bool exact;
    uint64_t u = mv_domains_unique(r->domains, &exact);

    fprintf(f,
            "<table>\n<tr><th>rows read</th><td>%s</td></tr>\n"
            "<tr><th>kept</th><td>%s</td></tr>\n"
            "<tr><th>dropped</th><td>%s</td></tr>\n"
            "<tr><th>duplicates</th><td>%s</td></tr>\n"
            "<tr><th>unique domains</th><td>%s%s</td></tr>\n",
            mv_group(r->rows, a), mv_group(r->kept, b),
            mv_group(r->dropped, c), mv_group(r->duplicates, d),
            exact ? "" : "about ", mv_group(u, e));
    if (r->offline)
        fputs("<tr><th>DNS queries</th><td>none (offline)</td></tr>\n", f);
    else
        fprintf(f, "<tr><th>DNS queries</th><td>%s</td></tr>\n",
                mv_group(r->dns_queries, a));
    if (r->smtp)
        fprintf(f,
                "<tr><th>SMTP probe</th><td>%s connections, %s RCPT "
                "commands%s</td></tr>\n",
                mv_group(r->smtp_connections, a), mv_group(r->smtp_rcpts, b),
                r->smtp_port_blocked ? "; port 25 looks blocked" : "");
    fprintf(
        f,
        "<tr><th>time</th><td>%.2f s (%s rows/s)</td></tr>\n"
        "<tr><th>expected bounce rate</th><td>%.1f%% as is, %.1f%% after "
        "cleaning</td></tr>\n</table>\n",
        r->seconds,
        mv_group(r->seconds > 0 ? (uint64_t)((double)r->rows / r->seconds) : 0,
                 a),
        100 * mv_report_bounce_before(r), 100 * mv_report_bounce_after(r));
}

int mv_report_html(const mv_report *r, FILE *f)
{
    fputs("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
          "\n<title>mailvet clean report</title>\n<style>\n"
          "body{font:14px/1.4 sans-serif;margin:2em;color:#222}\n"
          "table{border-collapse:collapse}td,th{padding:2px 10px;"
          "text-align:left;border-bottom:1px solid #ddd}\n"
          "svg text{font:12px sans-serif}\n</style></head><body>\n"
          "<h1>mailvet clean</h1>\n<p>",
          f);
    esc(f, r->input ? r->input : "-");
    fputs("</p>\n", f);
    totals(r, f);
    verdict_chart(r, f);
    reason_chart(r, f);
    domain_table(r, f);
    fprintf(f,
            "<p><small>Expected bounce rate: undeliverable and malformed "
            "rows count 1, unknown %.2f, risky %.2f, deliverable 0.</small>"
            "</p>\n</body></html>\n",
            MV_BOUNCE_UNKNOWN, MV_BOUNCE_RISKY);
    return ferror(f) ? -1 : 0;
}
