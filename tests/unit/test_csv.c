/*
 * test_csv.c - the CSV reader (cli/csv.c): each case reads an input and
 * compares a one-line summary per record: its line, its problem, its
 * decoded fields and its raw bytes (escaped).  The golden-file tests of
 * "mailvet clean" (tests/clean/) cover the same cases end to end.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>
#include <csv.h> /* libcsv, to compare with */

#include "cli/csv.h"

static void esc(char **p, const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c == '\n')
            *p += sprintf(*p, "\\n");
        else if (c == '\r')
            *p += sprintf(*p, "\\r");
        else if (c == '\t')
            *p += sprintf(*p, "\\t");
        else if (c < 0x20 || c >= 0x7F)
            *p += sprintf(*p, "\\x%02x", c);
        else
            *(*p)++ = (char)c;
    }
    **p = '\0';
}

static void summary(char *out, const mv_csv_row *row)
{
    char *p = out;

    p += sprintf(p, "L%llu %s [", (unsigned long long)row->line,
                 row->problem ? mv_csv_problem_name(row->problem) : "ok");
    for (size_t i = 0; i < row->nfields; i++) {
        if (i)
            *p++ = '|';
        esc(&p, row->data + row->off[i], row->off[i + 1] - row->off[i]);
    }
    p += sprintf(p, "] ");
    esc(&p, row->raw, row->raw_len);
}

/* Read 'in' and check each record against the NULL-ended 'want' list;
 * the header (when there is one) is the first entry, "H:" prefixed. */
static void expect_rows(const char *in, size_t len, const mv_csv_opts *o,
                        long col, ...)
{
    mv_csv *r = mv_csv_new_mem(in, len, o);
    mv_csv_row row;
    char got[8192], hdr[8200];
    va_list ap;
    const char *want;
    int rc;

    assert_non_null(r);
    va_start(ap, col);
    rc = mv_csv_begin(r, &row);
    assert_true(rc >= 0);
    if (rc == 1) {
        summary(got, &row);
        snprintf(hdr, sizeof hdr, "H:%s", got);
        want = va_arg(ap, const char *);
        assert_non_null(want);
        assert_string_equal(hdr, want);
    }
    mv_csv_check_column(r, col);
    while ((rc = mv_csv_next(r, &row)) == 1) {
        summary(got, &row);
        want = va_arg(ap, const char *);
        if (want == NULL)
            fail_msg("extra row: %s", got);
        assert_string_equal(got, want);
    }
    assert_int_equal(rc, 0);
    want = va_arg(ap, const char *);
    if (want != NULL)
        fail_msg("missing row: %s", want);
    va_end(ap);
    mv_csv_free(r);
}

#define ROWS(in, o, col, ...)                                                 \
    expect_rows(in, sizeof in - 1, o, col, __VA_ARGS__)

static void quoted_fields(void **state)
{
    (void)state;
    ROWS("email,name,note\n"
         "a@x.com,\"Smith, John\",\"say \"\"hi\"\"\"\n"
         "b@x.com,\"two\nlines\",\"\"\n",
         NULL, 0, "H:L1 ok [email|name|note] email,name,note\\n",
         "L2 ok [a@x.com|Smith, John|say \"hi\"] "
         "a@x.com,\"Smith, John\",\"say \"\"hi\"\"\"\\n",
         "L3 ok [b@x.com|two\\nlines|] b@x.com,\"two\\nlines\",\"\"\\n", NULL);
}

static void crlf_bom_and_no_final_newline(void **state)
{
    mv_csv *r;
    mv_csv_row row;

    (void)state;
    ROWS("\xEF\xBB\xBF"
         "Email,Name\r\na@x.com,\"A\r\nB\"\r\nb@x.com,Bo",
         NULL, 0, "H:L1 ok [Email|Name] Email,Name\\r\\n",
         "L2 ok [a@x.com|A\\r\\nB] a@x.com,\"A\\r\\nB\"\\r\\n",
         "L4 ok [b@x.com|Bo] b@x.com,Bo", NULL);
    r = mv_csv_new_mem("\xEF\xBB\xBF"
                       "e\r\na@x.com\r\n",
                       16, NULL);
    assert_int_equal(mv_csv_begin(r, &row), 1);
    assert_true(mv_csv_has_bom(r));
    assert_string_equal(mv_csv_line_end(r), "\r\n");
    assert_int_equal(row.offset, 3);
    assert_int_equal(row.body_len, 1);
    mv_csv_free(r);
}

static void delimiters_detected(void **state)
{
    mv_csv *r;
    mv_csv_row row;
    static const char semi[] = "email;name;last,jr\na@x.com;\"b;c\";d\n";
    static const char tab[] = "email\tname\na@x.com\tA B\n";
    mv_csv_opts o = {.delimiter = ','};

    (void)state;
    r = mv_csv_new_mem(semi, sizeof semi - 1, NULL);
    assert_int_equal(mv_csv_begin(r, &row), 1);
    assert_int_equal(mv_csv_delimiter(r), ';');
    mv_csv_free(r);
    ROWS(semi, NULL, 0, "H:L1 ok [email|name|last,jr] email;name;last,jr\\n",
         "L2 ok [a@x.com|b;c|d] a@x.com;\"b;c\";d\\n", NULL);
    ROWS(tab, NULL, 0, "H:L1 ok [email|name] email\\tname\\n",
         "L2 ok [a@x.com|A B] a@x.com\\tA B\\n", NULL);
    /* given: the header's semicolons are then data */
    ROWS(semi, &o, 0, "H:L1 ok [email;name;last|jr] email;name;last,jr\\n",
         "L2 csv_field_count [] a@x.com;\"b;c\";d\\n", NULL);
}

/* Lines without quotes are split at the delimiters without libcsv; the
 * fields must be what libcsv gives (CR is its only "space": trimmed at a
 * field's edges, kept inside; blanks kept), and lines with a quote or a
 * stray CR still go through it. */
static void unquoted_lines_as_libcsv(void **state)
{
    (void)state;
    ROWS("e,n,m\r\n"
         "a@x.com,,\r\n"
         " b@x.com , B ,\r\n"
         ",,\n"
         "c@x.com,\rC\r,x\r\n"
         "d@x.com,D\rD,\"q\"\r\n"
         "e@x.com,1,2\r",
         NULL, 0, "H:L1 ok [e|n|m] e,n,m\\r\\n",
         "L2 ok [a@x.com||] a@x.com,,\\r\\n",
         "L3 ok [ b@x.com | B |]  b@x.com , B ,\\r\\n", "L4 ok [||] ,,\\n",
         "L5 ok [c@x.com|C|x] c@x.com,\\rC\\r,x\\r\\n",
         "L6 ok [d@x.com|D\\rD|q] d@x.com,D\\rD,\"q\"\\r\\n",
         "L7 ok [e@x.com|1|2] e@x.com,1,2\\r", NULL);
}

static void plain_text(void **state)
{
    mv_csv_opts none = {.no_header = true};

    (void)state;
    /* a first line with an '@' and no delimiter: one address a line,
     * quotes and commas kept as they are */
    ROWS("a@x.com\r\n\"Smith, J\" <j@x.com>\n\n\"q r\"@x.com", NULL, 0,
         "L1 ok [a@x.com] a@x.com\\r\\n",
         "L2 ok [\"Smith, J\" <j@x.com>] \"Smith, J\" <j@x.com>\\n",
         "L4 ok [\"q r\"@x.com] \"q r\"@x.com", NULL);
    ROWS("a@x.com,1\nb@x.com,2\n", &none, 0, "L1 ok [a@x.com|1] a@x.com,1\\n",
         "L2 ok [b@x.com|2] b@x.com,2\\n", NULL);
    ROWS("a\xff@x.com\n", NULL, 0,
         "L1 csv_invalid_utf8 [a\\xff@x.com] "
         "a\\xff@x.com\\n",
         NULL);
}

static void malformed_rows_resync(void **state)
{
    (void)state;
    /* an unterminated quote costs its line, not the rest */
    ROWS("email,name\n"
         "a@x.com,\"Ann\n"
         "b@x.com,Bob\n"
         "c@x.com,\"Carl \"\"C\"\"\"\n"
         "d@x.com,Dan,extra\n"
         "e\xff@x.com,Eve\n"
         "f@x.com,ab\"cd\n"
         "g@x.com,\"Gil\n",
         NULL, 0, "H:L1 ok [email|name] email,name\\n",
         "L2 csv_unterminated_quote [] a@x.com,\"Ann\\n",
         "L3 ok [b@x.com|Bob] b@x.com,Bob\\n",
         "L4 ok [c@x.com|Carl \"C\"] c@x.com,\"Carl \"\"C\"\"\"\\n",
         "L5 csv_field_count [] d@x.com,Dan,extra\\n",
         "L6 csv_invalid_utf8 [e\\xff@x.com|Eve] e\\xff@x.com,Eve\\n",
         "L7 ok [f@x.com|ab\"cd] f@x.com,ab\"cd\\n",
         "L8 csv_unterminated_quote [] g@x.com,\"Gil\\n", NULL);
    /* a quote that opens a multi-line record of the wrong width */
    ROWS("e,n\na@x.com,\"x\nb@x.com,y\",z\nc@x.com,z\n", NULL, 0,
         "H:L1 ok [e|n] e,n\\n", "L2 csv_unterminated_quote [] a@x.com,\"x\\n",
         "L3 csv_field_count [] b@x.com,y\",z\\n",
         "L4 ok [c@x.com|z] c@x.com,z\\n", NULL);
}

static void too_long_record(void **state)
{
    mv_csv_opts o = {.max_record = 32};

    (void)state;
    ROWS("e,n\n"
         "a@x.com,0123456789012345678901234567890123456789\n"
         "b@x.com,\"1\n2\n3\n4\n5\n6\n7\n8\n9\n0\n1\n2\n"
         "c@x.com,ok\n",
         &o, 0, "H:L1 ok [e|n] e,n\\n",
         "L2 csv_record_too_long [] "
         "a@x.com,0123456789012345678901234567890123456789\\n",
         "L3 csv_unterminated_quote [] b@x.com,\"1\\n",
         "L4 csv_field_count [] 2\\n", "L5 csv_field_count [] 3\\n",
         "L6 csv_field_count [] 4\\n", "L7 csv_field_count [] 5\\n",
         "L8 csv_field_count [] 6\\n", "L9 csv_field_count [] 7\\n",
         "L10 csv_field_count [] 8\\n", "L11 csv_field_count [] 9\\n",
         "L12 csv_field_count [] 0\\n", "L13 csv_field_count [] 1\\n",
         "L14 csv_field_count [] 2\\n", "L15 ok [c@x.com|ok] c@x.com,ok\\n",
         NULL);
}

static void seek_resumes_at_a_record(void **state)
{
    static const char in[] = "e,n\na@x.com,1\nb@x.com,\"2\n2\"\nc@x.com,3\n";
    mv_csv *r = mv_csv_new_mem(in, sizeof in - 1, NULL);
    mv_csv_row row;
    uint64_t end, line;

    (void)state;
    assert_int_equal(mv_csv_begin(r, &row), 1);
    assert_int_equal(mv_csv_next(r, &row), 1);
    assert_int_equal(mv_csv_next(r, &row), 1);
    end = row.end;
    line = row.line + 2;
    assert_int_equal(mv_csv_next(r, &row), 1);
    assert_int_equal(row.offset, end);
    assert_int_equal(row.line, line);
    mv_csv_free(r);

    r = mv_csv_new_mem(in, sizeof in - 1, NULL);
    assert_int_equal(mv_csv_begin(r, &row), 1);
    assert_int_equal(mv_csv_seek(r, end, line, 0), 0);
    assert_int_equal(mv_csv_next(r, &row), 1);
    assert_int_equal(row.offset, end);
    assert_int_equal(row.line, line);
    assert_memory_equal(row.raw, "c@x.com,3\n", 10);
    assert_int_equal(mv_csv_next(r, &row), 0);
    mv_csv_free(r);
}

static void reads_a_pipe(void **state)
{
    int fds[2];
    mv_csv *r;
    mv_csv_row row;
    static const char in[] = "email\nа@x.com\n";
    size_t n = 0;

    (void)state;
    assert_int_equal(pipe(fds), 0);
    assert_int_equal(write(fds[1], in, sizeof in - 1), sizeof in - 1);
    close(fds[1]);
    r = mv_csv_new(fds[0], NULL);
    assert_int_equal(mv_csv_begin(r, &row), 1);
    while (mv_csv_next(r, &row) == 1)
        n++;
    assert_int_equal(n, 1);
    mv_csv_free(r);
    close(fds[0]);
}

/* libcsv's fields for one line, set up as cli/csv.c sets it up. */
typedef struct fields {
    char buf[4096];
    size_t off[130], n, len;
} fields;

static void lib_field(void *s, size_t len, void *arg)
{
    fields *f = arg;

    memcpy(f->buf + f->len, s, len);
    f->len += len;
    f->off[++f->n] = f->len;
}

static void lib_row(int c, void *arg)
{
    (void)c, (void)arg;
}

static int lib_term(unsigned char c)
{
    return c == '\n';
}

static int lib_space(unsigned char c)
{
    return c == '\r';
}

/* Lines without a quote are split by the reader itself, not libcsv:
 * random such lines (CRs, empty fields, NULs, other blanks) must come
 * out field for field as libcsv has them. */
static void plain_lines_split_as_libcsv(void **state)
{
    static const char alphabet[] = "ab,,\r\r \t;\xc3\xa9\0";
    unsigned seed = 12345;
    (void)state;

    for (int t = 0; t < 20000; t++) {
        char line[40];
        size_t len = 0, n;
        struct csv_parser p;
        fields want = {0};
        mv_csv_opts o = {.delimiter = ',', .no_header = true};
        mv_csv_row row;
        mv_csv *r;

        seed = seed * 1103515245u + 12345u;
        n = (seed >> 16) % 30;
        for (size_t i = 0; i < n; i++) {
            seed = seed * 1103515245u + 12345u;
            line[len++] = alphabet[(seed >> 16) % (sizeof alphabet - 1)];
        }
        line[len++] = '\n';
        csv_init(&p, CSV_STRICT);
        csv_set_delim(&p, ',');
        csv_set_term_func(&p, lib_term);
        csv_set_space_func(&p, lib_space);
        assert_int_equal(csv_parse(&p, line, len, lib_field, lib_row, &want),
                         len);
        csv_free(&p);
        r = mv_csv_new_mem(line, len, &o);
        assert_non_null(r);
        assert_int_equal(mv_csv_begin(r, &row), 0);
        if (mv_csv_next(r, &row) == 1) {
            assert_int_equal(row.nfields, want.n);
            for (size_t i = 0; i < want.n; i++) {
                size_t wl = want.off[i + 1] - want.off[i];
                assert_int_equal(row.off[i + 1] - row.off[i], wl);
                assert_memory_equal(row.data + row.off[i],
                                    want.buf + want.off[i], wl);
            }
        } else {
            /* only a blank line is skipped */
            for (size_t i = 0; i + 1 < len; i++)
                assert_true(strchr(" \t\r", line[i]) != NULL &&
                            line[i] != '\0');
        }
        mv_csv_free(r);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(quoted_fields),
        cmocka_unit_test(crlf_bom_and_no_final_newline),
        cmocka_unit_test(delimiters_detected),
        cmocka_unit_test(unquoted_lines_as_libcsv),
        cmocka_unit_test(plain_text),
        cmocka_unit_test(malformed_rows_resync),
        cmocka_unit_test(too_long_record),
        cmocka_unit_test(seek_resumes_at_a_record),
        cmocka_unit_test(reads_a_pipe),
        cmocka_unit_test(plain_lines_split_as_libcsv),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
