/*
 * csv.h - a streaming RFC 4180 reader that keeps each record's bytes.
 *
 * Records come one at a time, in bounded memory, each with its original
 * bytes (so a writer can copy a kept row byte for byte), its first line
 * number and its byte offset, and its fields decoded (quotes removed,
 * doubled quotes undone).  Quoted fields may hold the delimiter, quotes
 * and line breaks; lines end in LF or CRLF; a UTF-8 byte order mark is
 * skipped and remembered; the delimiter (',', ';' or TAB) is detected
 * from the first line unless given.  Plain text with one address per
 * line is read too: each line is a record of one field.
 *
 * A malformed record is still handed out, with 'problem' set, so the
 * caller can reject it with its line number: an unterminated quote, a
 * wrong number of fields, invalid UTF-8 in the checked column, or a
 * record over the size limit.  After an unterminated quote the reader
 * resynchronises at the next line, so every other row still comes out.
 */
#ifndef MV_CSV_H
#define MV_CSV_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct mv_csv mv_csv;

/* Why a record is malformed.  Names (mv_csv_problem_name) are stable:
 * they appear in the rejects' reasons column. */
typedef enum mv_csv_problem {
    MV_CSV_OK = 0,
    MV_CSV_UNTERMINATED_QUOTE, /* "csv_unterminated_quote" */
    MV_CSV_FIELD_COUNT,        /* "csv_field_count" */
    MV_CSV_INVALID_UTF8,       /* "csv_invalid_utf8" */
    MV_CSV_TOO_LONG            /* "csv_record_too_long" */
} mv_csv_problem;

const char *mv_csv_problem_name(mv_csv_problem p);

enum {
    MV_CSV_MAX_RECORD = 1 << 20, /* default bound on one record's bytes */
    MV_CSV_LONG_KEPT = 4096      /* bytes kept of an over-long record */
};

typedef struct mv_csv_opts {
    int delimiter;     /* ',', ';', '\t', ...; 0: detect from line one */
    bool no_header;    /* the first record is data */
    bool text;         /* force plain text: one address per line */
    size_t max_record; /* 0: MV_CSV_MAX_RECORD */
    bool ragged;       /* rows may have fewer fields than the first
                          (optional trailing columns) */
} mv_csv_opts;

/* One record.  Every pointer is borrowed from the reader and valid
 * until its next call. */
typedef struct mv_csv_row {
    const char *raw;    /* the record's bytes as read, with its line end */
    size_t raw_len;     /* (for MV_CSV_TOO_LONG: the first bytes only) */
    size_t body_len;    /* raw_len less the line end (LF or CRLF) */
    uint64_t line;      /* 1-based line number where the record starts */
    uint64_t offset;    /* byte offset of 'raw' in the input */
    uint64_t end;       /* offset just past the record: where the next
                           record starts (resume point) */
    uint64_t next_line; /* the line number at 'end' */
    size_t nfields;     /* decoded fields */
    const char *data;   /* field i is data + off[i], off[i+1] - off[i] */
    const size_t *off;
    mv_csv_problem problem;
} mv_csv_row;

/* A reader over file descriptor 'fd' (not closed by mv_csv_free), or
 * over 'len' bytes at 'mem' (borrowed until mv_csv_free).  NULL when
 * out of memory.  'o' may be NULL for the defaults. */
mv_csv *mv_csv_new(int fd, const mv_csv_opts *o);
mv_csv *mv_csv_new_mem(const void *mem, size_t len, const mv_csv_opts *o);
void mv_csv_free(mv_csv *r);

/* Detect the BOM, the format and the delimiter, and read the header
 * when there is one.  Returns 1 with '*header' filled, 0 when the
 * input has no header (or is plain text), -1 on a read error (errno)
 * or when out of memory (ENOMEM).  Call once, before mv_csv_next(). */
int mv_csv_begin(mv_csv *r, mv_csv_row *header);

/* The next record: 1 with '*row', 0 at end of input, -1 on a read error
 * (errno) or when out of memory. */
int mv_csv_next(mv_csv *r, mv_csv_row *row);

/* Check that field 'col' (0-based) of every record is valid UTF-8
 * (RFC 3629); a record failing it gets MV_CSV_INVALID_UTF8.  -1: none. */
void mv_csv_check_column(mv_csv *r, long col);

/* Continue at byte 'offset', a record boundary past the header that an
 * earlier run reported as a row's 'end', whose line is 'line'.  With
 * no header, 'nfields' is the field count the first record set.  Only
 * for a file descriptor that can seek.  -1 on error (errno). */
int mv_csv_seek(mv_csv *r, uint64_t offset, uint64_t line, size_t nfields);

/* Where the next record will start: its offset and line. */
void mv_csv_position(const mv_csv *r, uint64_t *offset, uint64_t *line);

bool mv_csv_is_text(const mv_csv *r);
bool mv_csv_has_bom(const mv_csv *r);
int mv_csv_delimiter(const mv_csv *r);
/* The field count every record must have (0 until the first record). */
size_t mv_csv_nfields(const mv_csv *r);
/* With no header: the 0-based field of line one that holds the first
 * '@' (the likely address column), or -1. */
long mv_csv_at_column(const mv_csv *r);
/* "\r\n" when the first line ended so, else "\n". */
const char *mv_csv_line_end(const mv_csv *r);
/* Bytes read from the input so far (for progress). */
uint64_t mv_csv_bytes_read(const mv_csv *r);

/* Nonzero when 'len' bytes at 's' are well-formed UTF-8 (RFC 3629 §4:
 * no overlongs, surrogates or code points past U+10FFFF). */
int mv_utf8_valid(const char *s, size_t len);

#endif
