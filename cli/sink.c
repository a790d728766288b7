/*
 * sink.c - row writers of "mailvet clean" (sink.h).
 *
 * One thread writes a sink (clean's emitting thread), so the stdio
 * calls here are the unlocked ones: with checker threads running, the
 * locked ones take an atomic lock per call, several calls a row.  (The
 * reports' files, which mv_json_string() also writes, are written at
 * the end, on one thread too.)
 */
#include "sink.h"

#include <errno.h>
#include <string.h>

int mv_sink_open(mv_sink *s, const char *path, bool append)
{
    static char obuf[1 << 16];

    s->path = path;
    if (strcmp(path, "-") == 0) {
        s->f = stdout;
        setvbuf(stdout, obuf, _IOFBF, sizeof obuf);
        return 0;
    }
    s->f = fopen(path, append ? "ab" : "wb");
    if (s->f == NULL)
        return -1;
    setvbuf(s->f, NULL, _IOFBF, 1 << 16);
    return 0;
}

int mv_sink_close(mv_sink *s)
{
    int rc;

    if (s->f == NULL)
        return 0;
    rc = s->f == stdout ? fflush(s->f) : fclose(s->f);
    s->f = NULL;
    return rc == 0 ? 0 : -1;
}

/* One CSV field, quoted when it must be (RFC 4180 §2.6-7). */
static void csv_field(mv_sink *s, const char *v, size_t n)
{
    bool quote = false;

    for (size_t i = 0; i < n && !quote; i++)
        quote =
            v[i] == s->delim || v[i] == '"' || v[i] == '\r' || v[i] == '\n';
    if (!quote) {
        fwrite_unlocked(v, 1, n, s->f);
        return;
    }
    putc_unlocked('"', s->f);
    for (;;) { /* each quote doubled: up to it, then one more */
        const char *q = memchr(v, '"', n);
        size_t k = q ? (size_t)(q - v) + 1 : n;
        fwrite_unlocked(v, 1, k, s->f);
        if (q == NULL)
            break;
        putc_unlocked('"', s->f);
        v += k;
        n -= k;
    }
    putc_unlocked('"', s->f);
}

static void csv_cstr(mv_sink *s, const char *v)
{
    if (v != NULL)
        csv_field(s, v, strlen(v));
}

int mv_sink_header(mv_sink *s, const mv_csv_row *hdr)
{
    static const char *const added[] = {"verdict", "reasons", "suggestion"};

    if (s->f == NULL || s->fmt != MV_FMT_CSV)
        return 0;
    if (s->bom)
        fputs_unlocked("\xEF\xBB\xBF", s->f);
    if (s->text && s->annotate) {
        csv_cstr(s, "email");
    } else if (hdr != NULL) {
        fwrite_unlocked(hdr->raw, 1,
                        s->annotate ? hdr->body_len : hdr->raw_len, s->f);
        if (!s->annotate && hdr->body_len == hdr->raw_len)
            fputs_unlocked(s->eol, s->f);
    } else {
        return ferror_unlocked(s->f) ? -1 : 0;
    }
    if (s->annotate) {
        for (int i = 0; i < 3; i++) {
            putc_unlocked(s->delim, s->f);
            csv_cstr(s, added[i]);
        }
        fputs_unlocked(s->eol, s->f);
    }
    return ferror_unlocked(s->f) ? -1 : 0;
}

static const char *row_eol(const mv_sink *s, const mv_csv_row *row)
{
    size_t t = row->raw_len - row->body_len;

    if (t == 2)
        return "\r\n";
    return t == 1 ? "\n" : s->eol;
}

static void csv_row(mv_sink *s, const mv_csv_row *row, const mv_outcome *oc,
                    bool annotated)
{
    if (!annotated) {
        fwrite_unlocked(row->raw, 1, row->raw_len, s->f);
        if (row->body_len == row->raw_len)
            fputs_unlocked(s->eol, s->f);
        return;
    }
    if (s->text ||
        (row->problem != MV_CSV_OK && row->problem != MV_CSV_INVALID_UTF8)) {
        csv_field(s, row->raw, row->body_len);
        for (size_t i = 1; i < s->width && !s->text; i++)
            putc_unlocked(s->delim, s->f);
    } else {
        fwrite_unlocked(row->raw, 1, row->body_len, s->f);
    }
    putc_unlocked(s->delim, s->f);
    csv_cstr(s, oc->verdict);
    putc_unlocked(s->delim, s->f);
    csv_cstr(s, oc->reasons);
    putc_unlocked(s->delim, s->f);
    csv_cstr(s, oc->suggestion);
    fputs_unlocked(row_eol(s, row), s->f);
}

static size_t utf8_seq(const unsigned char *p, size_t n)
{
    unsigned char c = p[0];
    size_t need;

    if (c < 0x80)
        return 1;
    if (c < 0xC2 || c > 0xF4)
        return 0;
    need = c < 0xE0 ? 2 : c < 0xF0 ? 3 : 4;
    if (need > n || !mv_utf8_valid((const char *)p, need))
        return 0;
    return need;
}

void mv_json_string(FILE *f, const char *str, size_t n)
{
    const unsigned char *s = (const unsigned char *)str;

    putc_unlocked('"', f);
    for (size_t i = 0; i < n;) {
        unsigned char c = s[i];
        size_t k;
        if (c == '"' || c == '\\') {
            putc_unlocked('\\', f);
            putc_unlocked(c, f);
            i++;
        } else if (c < 0x20 || c == 0x7F) {
            fprintf(f, "\\u%04x", c);
            i++;
        } else if ((k = utf8_seq(s + i, n - i)) == 0) {
            fputs_unlocked("\xEF\xBF\xBD", f); /* U+FFFD */
            i++;
        } else {
            fwrite_unlocked(s + i, 1, k, f);
            i += k;
        }
    }
    putc_unlocked('"', f);
}

static void json_reasons(FILE *f, const char *list)
{
    putc_unlocked('[', f);
    for (const char *p = list; p && *p;) {
        const char *comma = strchr(p, ',');
        size_t n = comma ? (size_t)(comma - p) : strlen(p);
        if (p != list)
            putc_unlocked(',', f);
        mv_json_string(f, p, n);
        p = comma ? comma + 1 : p + n;
    }
    putc_unlocked(']', f);
}

static void json_fields(mv_sink *s, const mv_csv_row *row)
{
    bool named = s->names != NULL;

    fputs_unlocked(named ? ",\"fields\":{" : ",\"fields\":[", s->f);
    for (size_t i = 0; i < row->nfields; i++) {
        if (i)
            putc_unlocked(',', s->f);
        if (named) {
            mv_json_string(s->f, s->names + s->name_off[i],
                           s->name_off[i + 1] - s->name_off[i]);
            putc_unlocked(':', s->f);
        }
        mv_json_string(s->f, row->data + row->off[i],
                       row->off[i + 1] - row->off[i]);
    }
    putc_unlocked(named ? '}' : ']', s->f);
}

static void json_row(mv_sink *s, const mv_csv_row *row, const mv_outcome *oc)
{
    FILE *f = s->f;

    fprintf(f, "{\"line\":%llu,\"kept\":%s,\"verdict\":",
            (unsigned long long)row->line, oc->kept ? "true" : "false");
    mv_json_string(f, oc->verdict, strlen(oc->verdict));
    fputs_unlocked(",\"reasons\":", f);
    json_reasons(f, oc->reasons);
    fputs_unlocked(",\"suggestion\":", f);
    if (oc->suggestion != NULL)
        mv_json_string(f, oc->suggestion, strlen(oc->suggestion));
    else
        fputs_unlocked("null", f);
    fputs_unlocked(",\"email\":", f);
    if (oc->email != NULL)
        mv_json_string(f, oc->email, oc->email_len);
    else
        fputs_unlocked("null", f);
    if (row->problem != MV_CSV_OK && row->problem != MV_CSV_INVALID_UTF8) {
        fputs_unlocked(",\"raw\":", f);
        mv_json_string(f, row->raw, row->body_len);
    } else if (!s->text) {
        json_fields(s, row);
    }
    fputs_unlocked("}\n", f);
}

int mv_sink_row(mv_sink *s, const mv_csv_row *row, const mv_outcome *oc,
                bool annotated)
{
    if (s->f == NULL)
        return 0;
    if (s->fmt == MV_FMT_JSONL)
        json_row(s, row, oc);
    else
        csv_row(s, row, oc, annotated);
    return ferror_unlocked(s->f) ? -1 : 0;
}
