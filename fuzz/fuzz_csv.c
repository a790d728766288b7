/*
 * fuzz_csv.c - libFuzzer harness for the CSV reader (cli/csv.c).
 *
 * The first byte picks the options (delimiter given or detected, header
 * or not, plain text forced, a small record bound, a checked column);
 * the rest is the input.  Besides the sanitizers, it asserts what
 * csv.h promises for every input:
 *
 *  - records come in input order, without overlap, with rising line
 *    numbers, each inside the input; a record's 'raw' bytes are exactly
 *    the input at its offset (only an over-long record is cut, to at
 *    most MV_CSV_LONG_KEPT bytes), and 'body_len' is 'raw_len' less an
 *    LF or CRLF;
 *  - the bytes between records are blank lines (or the BOM), so no
 *    input byte is lost without a record saying so;
 *  - a well-formed record has the field count of the first one, its
 *    field offsets rise, and its checked column is valid UTF-8;
 *  - the reader ends: each call makes progress.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/csv.h"

#include "fuzz_check.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int blank(const uint8_t *s, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (s[i] != ' ' && s[i] != '\t' && s[i] != '\r' && s[i] != '\n')
            return 0;
    return 1;
}

static void check_row(const mv_csv_row *row, const uint8_t *in, size_t size,
                      mv_csv *r, long col)
{
    CHECK(row->offset < row->end && row->end <= size);
    CHECK(row->raw_len <= row->end - row->offset);
    CHECK(row->body_len <= row->raw_len);
    CHECK(memcmp(row->raw, in + row->offset, row->raw_len) == 0);
    if (row->problem != MV_CSV_TOO_LONG) {
        size_t t = row->raw_len - row->body_len;
        CHECK(row->raw_len == row->end - row->offset);
        CHECK(t <= 2);
        CHECK(t == 0 || row->raw[row->raw_len - 1] == '\n');
        CHECK(t < 2 || row->raw[row->raw_len - 2] == '\r');
    } else {
        CHECK(row->raw_len <= MV_CSV_LONG_KEPT);
    }
    CHECK(mv_csv_problem_name(row->problem) != NULL);
    if (row->problem != MV_CSV_OK)
        return;
    CHECK(row->nfields == mv_csv_nfields(r));
    CHECK(row->off[0] == 0);
    for (size_t i = 0; i < row->nfields; i++)
        CHECK(row->off[i] <= row->off[i + 1]);
    if (col >= 0 && (size_t)col < row->nfields)
        CHECK(mv_utf8_valid(row->data + row->off[col],
                            row->off[col + 1] - row->off[col]));
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const int delims[] = {0, ',', ';', '\t'};
    mv_csv_opts o = {0};
    mv_csv_row row;
    mv_csv *r;
    uint64_t pos, last_line = 0;
    long col;
    int rc;

    if (size < 1)
        return 0;
    o.delimiter = delims[data[0] & 3];
    o.no_header = data[0] & 4;
    o.text = (data[0] & 0x18) == 0x18;
    o.max_record = data[0] & 0x20 ? 64 : 0;
    col = data[0] & 0x40 ? 0 : data[0] & 0x80 ? 1 : -1;
    data++, size--;

    CHECK((r = mv_csv_new_mem(data, size, &o)) != NULL);
    rc = mv_csv_begin(r, &row);
    CHECK(rc >= 0);
    pos = mv_csv_has_bom(r) ? 3 : 0;
    if (rc == 1) {
        check_row(&row, data, size, r, -1);
        CHECK(blank(data + pos, row.offset - pos));
        pos = row.end;
        last_line = row.line;
    }
    mv_csv_check_column(r, col);
    for (size_t n = 0; (rc = mv_csv_next(r, &row)) == 1; n++) {
        CHECK(n <= size);
        CHECK(row.offset >= pos);
        CHECK(blank(data + pos, row.offset - pos));
        CHECK(row.line > last_line);
        check_row(&row, data, size, r, mv_csv_is_text(r) ? 0 : col);
        pos = row.end;
        last_line = row.line;
    }
    CHECK(rc == 0);
    CHECK(blank(data + pos, size - pos));
    mv_csv_free(r);
    return 0;
}
