/*
 * csv.c - CSV rows for "mailvet store import" (RFC 4180: quoted fields,
 * doubled quotes, embedded line breaks, CRLF), parsed by libcsv in
 * strict mode, fed one physical line at a time so that every row knows
 * the line it starts on and a malformed row is skipped, not fatal.
 * Memory is bounded: lines are read through lines.c, and a row with too
 * many or too long fields is dropped as it grows.
 *
 * A stray quote opens a quoted field that swallows the lines after it
 * until the next quote.  So that one bad row costs only its own line,
 * the lines of a row are kept (up to ROW_CAP bytes): when the row turns
 * out malformed, its first line is reported and the lines after it are
 * parsed again.
 */
#include <csv.h>
#include <errno.h>
#include <stdint.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "csv.h"
#include "lines.h"

enum { LINE_CAP = 1 << 16, ROW_CAP = 1 << 18 };

struct mv_csv {
    struct csv_parser p;
    mv_lines *lines;
    char *fields[MV_CSV_MAX_FIELDS];
    size_t n;
    bool bad, row_done, first;
    size_t row_line; /* the line the row being read started on */
    char err[160];
    char *row;      /* the raw lines of the row being read */
    size_t row_len; /* SIZE_MAX: too long to keep */
    char *replay;   /* lines to parse again, before reading more */
    size_t replay_off, replay_len, replay_line;
};

/* Only LF ends a row: lines.c has already dropped the CR of CRLF, and a
 * lone CR inside a line is data, not a row end. */
static int is_term(unsigned char c)
{
    return c == CSV_LF;
}

static void on_field(void *s, size_t len, void *arg)
{
    mv_csv *c = arg;

    if (c->bad)
        return;
    if (c->n == MV_CSV_MAX_FIELDS || len >= MV_CSV_FIELD_MAX) {
        snprintf(c->err, sizeof c->err,
                 c->n == MV_CSV_MAX_FIELDS ? "more than %d fields"
                                           : "a field over %d bytes",
                 c->n == MV_CSV_MAX_FIELDS ? MV_CSV_MAX_FIELDS
                                           : MV_CSV_FIELD_MAX);
        c->bad = true;
        return;
    }
    memcpy(c->fields[c->n], s ? s : "", s ? len : 0);
    c->fields[c->n++][s ? len : 0] = '\0';
}

static void on_row(int term, void *arg)
{
    mv_csv *c = arg;

    (void)term;
    c->row_done = true;
}

mv_csv *mv_csv_new(int fd)
{
    mv_csv *c = calloc(1, sizeof *c);

    if (c == NULL)
        return NULL;
    for (size_t i = 0; i < MV_CSV_MAX_FIELDS; i++)
        if ((c->fields[i] = malloc(MV_CSV_FIELD_MAX)) == NULL)
            goto fail;
    if ((c->row = malloc(ROW_CAP)) == NULL ||
        (c->replay = malloc(ROW_CAP)) == NULL ||
        (c->lines = mv_lines_new(fd, LINE_CAP)) == NULL ||
        csv_init(&c->p, CSV_STRICT | CSV_STRICT_FINI) != 0)
        goto fail;
    csv_set_term_func(&c->p, is_term);
    c->first = true;
    return c;
fail:
    mv_csv_free(c);
    return NULL;
}

void mv_csv_free(mv_csv *c)
{
    if (c == NULL)
        return;
    csv_free(&c->p);
    mv_lines_free(c->lines);
    free(c->row);
    free(c->replay);
    for (size_t i = 0; i < MV_CSV_MAX_FIELDS; i++)
        free(c->fields[i]);
    free(c);
}

const char *mv_csv_error(const mv_csv *c)
{
    return c->err;
}

/* Start over after a malformed row: a fresh parser, an empty row. */
static void reset(mv_csv *c)
{
    csv_free(&c->p);
    csv_init(&c->p, CSV_STRICT | CSV_STRICT_FINI);
    csv_set_term_func(&c->p, is_term);
    c->n = 0;
    c->bad = false;
    c->row_done = false;
}

/* Hand out the finished row: 1, or 2 when it went bad. */
static int finish(mv_csv *c, char ***fields, size_t *n, size_t *line)
{
    int rc = c->bad ? 2 : 1;

    *fields = c->fields;
    *n = c->n;
    *line = c->row_line;
    c->n = 0;
    c->bad = false;
    c->row_done = false;
    c->row_line = 0;
    c->row_len = 0;
    return rc;
}

/* The next physical line: from the replay buffer first, then input. */
static int next_line(mv_csv *c, const char **s, size_t *len, size_t *full,
                     size_t *no)
{
    if (c->replay_off < c->replay_len) {
        char *p = c->replay + c->replay_off;
        char *nl = memchr(p, '\n', c->replay_len - c->replay_off);
        *s = p;
        *len = *full = (size_t)(nl - p); /* every kept line ends in LF */
        c->replay_off += *len + 1;
        *no = c->replay_line++;
        return 1;
    }
    int rc = mv_lines_next(c->lines, s, len, full);
    *no = mv_lines_number(c->lines);
    return rc;
}

/* Keep a line of the current row, for a replay. */
static void keep_line(mv_csv *c, const char *s, size_t len)
{
    if (c->row_len == SIZE_MAX || c->row_len + len + 1 > ROW_CAP) {
        c->row_len = SIZE_MAX;
        return;
    }
    memcpy(c->row + c->row_len, s, len);
    c->row[c->row_len + len] = '\n';
    c->row_len += len + 1;
}

/* A malformed row: report its first line, and parse the lines after it
 * (kept in c->row) again, ahead of what was still to replay. */
static int malformed(mv_csv *c, char ***fields, size_t *n, size_t *line)
{
    snprintf(c->err, sizeof c->err, "malformed CSV (%s)",
             csv_strerror(csv_error(&c->p)));
    *line = c->row_line;
    *fields = c->fields;
    *n = 0;
    if (c->row_len != SIZE_MAX) {
        char *first_nl = memchr(c->row, '\n', c->row_len);
        size_t skip = (size_t)(first_nl - c->row) + 1;
        size_t rest = c->replay_len - c->replay_off;
        size_t again = c->row_len - skip;
        if (again > 0 && again + rest <= ROW_CAP) {
            memmove(c->replay + again, c->replay + c->replay_off, rest);
            memcpy(c->replay, c->row + skip, again);
            c->replay_off = 0;
            c->replay_len = again + rest;
            c->replay_line = c->row_line + 1;
        }
    }
    reset(c);
    c->row_line = 0;
    c->row_len = 0;
    return 2;
}

int mv_csv_next(mv_csv *c, char ***fields, size_t *n, size_t *line)
{
    const char *s;
    size_t len, full, no;
    int rc;

    while ((rc = next_line(c, &s, &len, &full, &no)) == 1) {
        if (c->first && len >= 3 && memcmp(s, "\xEF\xBB\xBF", 3) == 0)
            s += 3, len -= 3;
        c->first = false;
        if (c->row_line == 0) {
            if (len == 0)
                continue; /* blank line between rows */
            c->row_line = no;
        }
        if (full > len) {
            snprintf(c->err, sizeof c->err, "a line over %d bytes", LINE_CAP);
            c->bad = true;
        }
        keep_line(c, s, len);
        if (csv_parse(&c->p, s, len, on_field, on_row, c) != len ||
            csv_parse(&c->p, "\n", 1, on_field, on_row, c) != 1)
            return malformed(c, fields, n, line);
        if (c->row_done)
            return finish(c, fields, n, line);
    }
    if (rc < 0)
        return -1;
    /* End of input inside a quoted field: strict fini says so. */
    if (csv_fini(&c->p, on_field, on_row, c) != 0)
        return malformed(c, fields, n, line);
    if (c->row_done)
        return finish(c, fields, n, line);
    return 0;
}
