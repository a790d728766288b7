/*
 * report.c - counts of "mailvet clean" and their JSON and text forms
 * (report.h).
 */
#include "report.h"

#include <string.h>

#include "sink.h"

int mv_report_init(mv_report *r)
{
    memset(r, 0, sizeof *r);
    r->domains = mv_domains_new();
    return r->domains ? 0 : -1;
}

void mv_report_free(mv_report *r)
{
    mv_domains_free(r->domains);
    r->domains = NULL;
}

int mv_report_row(mv_report *r, mv_csv_problem problem, const vl_result *res,
                  bool kept, bool duplicate, mv_hash128 domain_hash)
{
    const char *dom;

    r->rows++;
    if (kept)
        r->kept++;
    else
        r->dropped++;
    if (res == NULL) {
        r->malformed++;
        r->problem[problem]++;
        return 0;
    }
    vl_verdict v = vl_result_verdict(res);
    r->verdict[v]++;
    if (kept) {
        r->kept_verdict[v]++;
    } else if (duplicate) {
        r->duplicates++;
    } else {
        r->dropped_verdict[v]++;
        for (size_t i = 0; i < vl_result_reason_count(res); i++)
            r->dropped_reason[vl_result_reason(res, i)]++;
    }
    dom = vl_result_domain_ascii(res);
    if (dom[0] == '\0')
        return 0;
    if (domain_hash.lo == 0)
        domain_hash = mv_domains_hash(dom, strlen(dom));
    return mv_domains_add_hashed(r->domains, dom, domain_hash, !kept);
}

static double bounce(uint64_t und, const uint64_t *v, uint64_t rows)
{
    if (rows == 0)
        return 0;
    return ((double)und + MV_BOUNCE_UNKNOWN * (double)v[VL_UNKNOWN] +
            MV_BOUNCE_RISKY * (double)v[VL_RISKY]) /
           (double)rows;
}

double mv_report_bounce_before(const mv_report *r)
{
    return bounce(r->verdict[VL_UNDELIVERABLE] + r->malformed, r->verdict,
                  r->rows);
}

double mv_report_bounce_after(const mv_report *r)
{
    return bounce(r->kept_verdict[VL_UNDELIVERABLE], r->kept_verdict, r->kept);
}

const char *mv_group(uint64_t n, char *buf)
{
    char tmp[32];
    int len = snprintf(tmp, sizeof tmp, "%llu", (unsigned long long)n);
    char *p = buf;

    for (int i = 0; i < len; i++) {
        if (i > 0 && (len - i) % 3 == 0)
            *p++ = ',';
        *p++ = tmp[i];
    }
    *p = '\0';
    return buf;
}

static void json_verdicts(FILE *f, const char *key, const uint64_t *v)
{
    fprintf(f, ",\"%s\":{", key);
    for (int i = VL_DELIVERABLE; i <= VL_UNDELIVERABLE; i++)
        fprintf(f, "%s\"%s\":%llu", i ? "," : "",
                vl_verdict_name((vl_verdict)i), (unsigned long long)v[i]);
    putc('}', f);
}

static void json_path(FILE *f, const char *key, const char *path)
{
    fprintf(f, "\"%s\":", key);
    if (path != NULL)
        mv_json_string(f, path, strlen(path));
    else
        fputs("null", f);
}

static void json_dropped_reasons(const mv_report *r, FILE *f)
{
    bool first = true;

    fputs(",\"dropped_by_reason\":{", f);
    for (int i = 0; i < VL_R__COUNT; i++) {
        if (r->dropped_reason[i] == 0)
            continue;
        fprintf(f, "%s\"%s\":%llu", first ? "" : ",",
                vl_reason_name((vl_reason)i),
                (unsigned long long)r->dropped_reason[i]);
        first = false;
    }
    if (r->duplicates) {
        fprintf(f, "%s\"duplicate\":%llu", first ? "" : ",",
                (unsigned long long)r->duplicates);
        first = false;
    }
    for (int i = 1; i < MV_CSV_PROBLEMS; i++) {
        if (r->problem[i] == 0)
            continue;
        fprintf(f, "%s\"%s\":%llu", first ? "" : ",",
                mv_csv_problem_name((mv_csv_problem)i),
                (unsigned long long)r->problem[i]);
        first = false;
    }
    putc('}', f);
}

static void json_domains(const mv_report *r, FILE *f)
{
    mv_domain_count top[MV_TOP_DOMAINS];
    size_t n = mv_domains_top(r->domains, top, MV_TOP_DOMAINS);
    bool exact;
    uint64_t u = mv_domains_unique(r->domains, &exact);

    fprintf(f, ",\"unique_domains\":%llu,\"unique_domains_exact\":%s",
            (unsigned long long)u, exact ? "true" : "false");
    fputs(",\"top_domains\":[", f);
    for (size_t i = 0; i < n; i++) {
        fputs(i ? ",{\"domain\":" : "{\"domain\":", f);
        mv_json_string(f, top[i].name, strlen(top[i].name));
        fprintf(f, ",\"rows\":%llu,\"dropped\":%llu}",
                (unsigned long long)top[i].rows,
                (unsigned long long)top[i].dropped);
    }
    putc(']', f);
}

int mv_report_json(const mv_report *r, FILE *f)
{
    fputc('{', f);
    json_path(f, "input", r->input);
    fputs(",\"outputs\":{", f);
    json_path(f, "kept", r->out);
    putc(',', f);
    json_path(f, "rejects", r->rejects);
    fprintf(f,
            "},\"rows\":%llu,\"kept\":%llu,\"dropped\":%llu,"
            "\"malformed\":%llu,\"duplicates\":%llu",
            (unsigned long long)r->rows, (unsigned long long)r->kept,
            (unsigned long long)r->dropped, (unsigned long long)r->malformed,
            (unsigned long long)r->duplicates);
    json_verdicts(f, "verdicts", r->verdict);
    json_verdicts(f, "kept_by_verdict", r->kept_verdict);
    json_verdicts(f, "dropped_by_verdict", r->dropped_verdict);
    json_dropped_reasons(r, f);
    json_domains(r, f);
    fprintf(f,
            ",\"offline\":%s,\"dns_queries\":%llu,\"seconds\":%.3f,"
            "\"rows_per_second\":%.0f",
            r->offline ? "true" : "false", (unsigned long long)r->dns_queries,
            r->seconds, r->seconds > 0 ? (double)r->rows / r->seconds : 0.0);
    if (r->smtp)
        fprintf(f,
                ",\"smtp\":{\"connections\":%llu,\"rcpts\":%llu,"
                "\"port_blocked\":%s}",
                (unsigned long long)r->smtp_connections,
                (unsigned long long)r->smtp_rcpts,
                r->smtp_port_blocked ? "true" : "false");
    fprintf(f,
            ",\"bounce_rate\":{\"before\":%.4f,\"after\":%.4f,"
            "\"weights\":{\"undeliverable\":1,\"malformed\":1,"
            "\"unknown\":%.2f,\"risky\":%.2f,\"deliverable\":0}}}\n",
            mv_report_bounce_before(r), mv_report_bounce_after(r),
            MV_BOUNCE_UNKNOWN, MV_BOUNCE_RISKY);
    return ferror(f) ? -1 : 0;
}

static void human_reasons(const mv_report *r, FILE *f)
{
    char g[32];
    int n = 0;

    fputs("  dropped by reason:", f);
    for (int i = 0; i < VL_R__COUNT; i++)
        if (r->dropped_reason[i])
            fprintf(f, "%s%s %s", n++ ? ", " : " ",
                    vl_reason_name((vl_reason)i),
                    mv_group(r->dropped_reason[i], g));
    if (r->duplicates)
        fprintf(f, "%sduplicate %s", n++ ? ", " : " ",
                mv_group(r->duplicates, g));
    for (int i = 1; i < MV_CSV_PROBLEMS; i++)
        if (r->problem[i])
            fprintf(f, "%s%s %s", n++ ? ", " : " ",
                    mv_csv_problem_name((mv_csv_problem)i),
                    mv_group(r->problem[i], g));
    fputs(n ? "\n" : " none\n", f);
}

void mv_report_human(const mv_report *r, FILE *f)
{
    char a[32], b[32], c[32], d[32];
    bool exact;
    uint64_t u = mv_domains_unique(r->domains, &exact);

    fprintf(f, "mailvet clean: %s rows read, %s kept, %s dropped\n",
            mv_group(r->rows, a), mv_group(r->kept, b),
            mv_group(r->dropped, c));
    fprintf(f,
            "  verdicts: deliverable %s, risky %s, unknown %s, "
            "undeliverable %s",
            mv_group(r->verdict[VL_DELIVERABLE], a),
            mv_group(r->verdict[VL_RISKY], b),
            mv_group(r->verdict[VL_UNKNOWN], c),
            mv_group(r->verdict[VL_UNDELIVERABLE], d));
    fprintf(f, ", malformed rows %s\n", mv_group(r->malformed, a));
    fprintf(f,
            "  dropped by verdict: undeliverable %s, risky %s, "
            "unknown %s, deliverable %s",
            mv_group(r->dropped_verdict[VL_UNDELIVERABLE], a),
            mv_group(r->dropped_verdict[VL_RISKY], b),
            mv_group(r->dropped_verdict[VL_UNKNOWN], c),
            mv_group(r->dropped_verdict[VL_DELIVERABLE], d));
    fprintf(f, "; duplicates %s; malformed %s\n", mv_group(r->duplicates, a),
            mv_group(r->malformed, b));
    human_reasons(r, f);
    fprintf(f, "  unique domains: %s%s; duplicates: %s\n",
            exact ? "" : "about ", mv_group(u, a), mv_group(r->duplicates, b));
    if (r->offline)
        fputs("  DNS: not checked (--offline)\n", f);
    else
        fprintf(f, "  DNS queries sent: %s\n", mv_group(r->dns_queries, a));
    if (r->smtp)
        fprintf(f, "  SMTP: %s connections, %s RCPT commands%s\n",
                mv_group(r->smtp_connections, a), mv_group(r->smtp_rcpts, b),
                r->smtp_port_blocked ? "; outbound port 25 looks blocked here "
                                       "(smtp_port_blocked)"
                                     : "");
    if (!r->offline && r->verdict[VL_UNKNOWN])
        fprintf(f,
                r->smtp ? "  %s rows unknown: DNS or SMTP could not tell (no "
                          "answer, greylisting, deadline); kept, check them "
                          "again later\n"
                        : "  %s rows unknown: DNS could not tell (no answer, "
                          "SERVFAIL, deadline); kept, check them again "
                          "later\n",
                mv_group(r->verdict[VL_UNKNOWN], a));
    fprintf(
        f, "  time: %.2f s, %s rows/s\n", r->seconds,
        mv_group(r->seconds > 0 ? (uint64_t)((double)r->rows / r->seconds) : 0,
                 a));
    fprintf(f,
            "  expected bounce rate: %.1f%% as is, %.1f%% after "
            "cleaning\n",
            100 * mv_report_bounce_before(r), 100 * mv_report_bounce_after(r));
}
