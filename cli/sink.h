/*
 * sink.h - where "mailvet clean" writes rows: a CSV file that gets kept
 * rows byte for byte, or rows with three columns added (verdict,
 * reasons, suggestion), or JSON Lines.
 *
 * CSV rows keep their bytes and their line end; the added fields are
 * quoted only when they hold the delimiter, a quote or a line break
 * (RFC 4180 §2.6).  A row that could not be parsed (an open quote, the
 * wrong width) is written as one quoted field holding its bytes, padded
 * with empty fields to the file's width, so the file stays valid CSV.
 * Plain-text input (one address per line) gets a CSV of one "email"
 * column when columns are added.
 */
#ifndef MV_SINK_H
#define MV_SINK_H

#include <stdbool.h>
#include <stdio.h>

#include "csv.h"

typedef enum mv_format { MV_FMT_CSV, MV_FMT_JSONL } mv_format;

typedef struct mv_sink {
    FILE *f;          /* NULL: no such output */
    const char *path; /* for messages; "-" is stdout */
    mv_format fmt;
    bool annotate; /* add the three columns to every row */
    /* the input's shape */
    int delim;
    const char *eol;
    bool text, bom;
    size_t width; /* fields per record */
    /* JSON: the header's names (NULL: no header), borrowed */
    const char *names;
    const size_t *name_off;
} mv_sink;

/* What became of one row. */
typedef struct mv_outcome {
    const char *verdict;    /* or "malformed" */
    const char *reasons;    /* comma-separated names */
    const char *suggestion; /* or NULL */
    const char *email;      /* the address as read (borrowed), or NULL */
    size_t email_len;
    bool kept;
} mv_outcome;

/* Open 'path' ("-": stdout) for writing into 's->f'; -1 with errno. */
int mv_sink_open(mv_sink *s, const char *path, bool append);
/* Flush and close (stdout is flushed only); -1 with errno. */
int mv_sink_close(mv_sink *s);
/* The BOM and header line ('hdr' NULL: none), for a fresh file. */
int mv_sink_header(mv_sink *s, const mv_csv_row *hdr);
/* One row: as read when not annotated, else with the outcome added. */
int mv_sink_row(mv_sink *s, const mv_csv_row *row, const mv_outcome *oc,
                bool annotated);

/* JSON string for 'n' bytes at 's' (invalid UTF-8 as U+FFFD). */
void mv_json_string(FILE *f, const char *s, size_t n);

#endif
