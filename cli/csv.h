/*
 * csv.h - read RFC 4180 CSV rows with their line numbers, in bounded
 * memory, skipping malformed rows (libcsv does the parsing).
 */
#ifndef MV_CSV_H
#define MV_CSV_H

#include <stddef.h>

enum {
    MV_CSV_MAX_FIELDS = 32, /* more in one row: malformed */
    MV_CSV_FIELD_MAX = 4096 /* a longer field: malformed */
};

typedef struct mv_csv mv_csv;

/* Read from 'fd' (not closed by mv_csv_free); NULL when out of memory. */
mv_csv *mv_csv_new(int fd);
void mv_csv_free(mv_csv *c);

/* The next row: 1 with 'fields' (each NUL-terminated, valid until the
 * next call) and '*n'; 2 for a malformed row, skipped, with a message
 * from mv_csv_error(); 0 at the end; -1 on a read error (errno).  A
 * UTF-8 BOM before the first row is dropped.  '*line' is the 1-based
 * line the row starts on. */
int mv_csv_next(mv_csv *c, char ***fields, size_t *n, size_t *line);
const char *mv_csv_error(const mv_csv *c);

#endif
