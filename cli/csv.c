/*
 * csv.c - streaming RFC 4180 reader over libcsv (see csv.h).
 *
 * libcsv decodes fields but says nothing of where a record's bytes lie,
 * so this file splits the input into lines itself (a record can only
 * end at an LF outside quotes) and feeds libcsv one line at a time: the
 * record is complete when libcsv reports a row at the end of a line,
 * and its original bytes are exactly the lines fed since the last one.
 * libcsv is told that only LF ends a record and that CR is "space" (so
 * the CR of CRLF is trimmed after a field, never kept in a value).
 *
 * Quotes are parsed strictly (CSV_STRICT): a quote inside an unquoted
 * field, or text after a closing quote, is an error.  On the first line
 * of a record such a line is parsed again leniently (a stray quote is
 * kept as a character, as spreadsheets write it); past the first line it
 * means the first line opened a quote it never closed (RFC 4180 §2.5-7),
 * and so does a multi-line record with the wrong field count, or input
 * ending inside quotes.  Then the first line alone is reported as
 * malformed and the lines after it are parsed again ("replayed"), so one
 * stray quote costs one row, not the rest of the file.
 *
 * Not done: CR-only line ends (old Mac files read as one long line),
 * other quote characters, encodings other than UTF-8.
 */
#include "csv.h" /* ours: quotes search this folder first */

#include <csv.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

struct mv_csv {
    int fd;
    const unsigned char *mem;
    size_t mem_len, mem_pos;
    size_t max;  /* bound on a record's bytes */
    bool ragged; /* fewer fields than the first record are fine */
    /* input buffer: buf[start, end) not yet handed out */
    char *buf;
    size_t cap, start, end;
    uint64_t buf_off; /* input offset of buf[start] */
    uint64_t bytes_read;
    bool eof;
    /* whole lines to parse again (after a resync), before buf */
    char *replay;
    size_t replay_len, replay_pos;
    uint64_t replay_off;
    uint64_t next_line;
    /* the record being put together: its raw bytes */
    char *rec;
    size_t rec_len, rec_cap, first_len;
    unsigned rec_lines;
    uint64_t rec_line, rec_off;
    char long_head[MV_CSV_LONG_KEPT];
    bool has_pending; /* an over-long line to hand out after the replay */
    size_t pend_len, pend_full;
    uint64_t pend_off, pend_no;
    /* its decoded fields */
    char *fbuf;
    size_t flen, fcap;
    size_t *foff;
    size_t nf, offcap;
    struct csv_parser strict, lenient;
    bool row_done, oom;
    /* format */
    int delim;
    bool text, bom, crlf, no_header;
    size_t want;
    long col, at_col;
};

const char *mv_csv_problem_name(mv_csv_problem p)
{
    switch (p) {
    case MV_CSV_OK:
        return "ok";
    case MV_CSV_UNTERMINATED_QUOTE:
        return "csv_unterminated_quote";
    case MV_CSV_FIELD_COUNT:
        return "csv_field_count";
    case MV_CSV_INVALID_UTF8:
        return "csv_invalid_utf8";
    case MV_CSV_TOO_LONG:
        return "csv_record_too_long";
    }
    return "?";
}

int mv_utf8_valid(const char *str, size_t n)
{
    const unsigned char *s = (const unsigned char *)str;

    for (size_t i = 0; i < n;) {
        unsigned char c = s[i];
        size_t need;
        uint64_t w;
        /* ASCII, eight bytes at a time: most addresses are all ASCII */
        if (n - i >= 8 &&
            (memcpy(&w, s + i, 8), w & 0x8080808080808080ull) == 0) {
            i += 8;
            continue;
        }
        if (c < 0x80) {
            i++;
            continue;
        }
        if (c < 0xC2 || c > 0xF4)
            return 0;
        need = c < 0xE0 ? 2 : c < 0xF0 ? 3 : 4;
        if (need > n - i)
            return 0;
        for (size_t k = 1; k < need; k++)
            if ((s[i + k] & 0xC0) != 0x80)
                return 0;
        if ((c == 0xE0 && s[i + 1] < 0xA0) || (c == 0xED && s[i + 1] > 0x9F) ||
            (c == 0xF0 && s[i + 1] < 0x90) || (c == 0xF4 && s[i + 1] > 0x8F))
            return 0;
        i += need;
    }
    return 1;
}

/* libcsv: only LF ends a record; CR is trimmed like a space. */
static int is_term(unsigned char c)
{
    return c == '\n';
}

static int is_space(unsigned char c)
{
    return c == '\r';
}

static void init_parser(struct csv_parser *p, unsigned char opts, int delim)
{
    csv_init(p, opts);
    csv_set_delim(p, (unsigned char)delim);
    csv_set_term_func(p, is_term);
    csv_set_space_func(p, is_space);
    csv_set_blk_size(p, 4096);
}

static mv_csv *make(const mv_csv_opts *o)
{
    mv_csv *r = calloc(1, sizeof *r);

    if (r == NULL)
        return NULL;
    r->max = o && o->max_record ? o->max_record : MV_CSV_MAX_RECORD;
    r->cap = r->max + 4096;
    r->delim = o ? o->delimiter : 0;
    r->text = o && o->text;
    r->no_header = o && o->no_header;
    r->ragged = o && o->ragged;
    r->col = r->at_col = -1;
    r->next_line = 1;
    r->fd = -1;
    if ((r->buf = malloc(r->cap)) == NULL) {
        free(r);
        return NULL;
    }
    return r;
}

mv_csv *mv_csv_new(int fd, const mv_csv_opts *o)
{
    mv_csv *r = make(o);

    if (r != NULL)
        r->fd = fd;
    return r;
}

mv_csv *mv_csv_new_mem(const void *mem, size_t len, const mv_csv_opts *o)
{
    mv_csv *r = make(o);

    if (r != NULL) {
        r->mem = mem;
        r->mem_len = len;
    }
    return r;
}

void mv_csv_free(mv_csv *r)
{
    if (r == NULL)
        return;
    csv_free(&r->strict);
    csv_free(&r->lenient);
    free(r->buf);
    free(r->replay);
    free(r->rec);
    free(r->fbuf);
    free(r->foff);
    free(r);
}

bool mv_csv_is_text(const mv_csv *r)
{
    return r->text;
}
bool mv_csv_has_bom(const mv_csv *r)
{
    return r->bom;
}
int mv_csv_delimiter(const mv_csv *r)
{
    return r->delim;
}
void mv_csv_position(const mv_csv *r, uint64_t *offset, uint64_t *line)
{
    *offset = r->replay_pos < r->replay_len ? r->replay_off : r->buf_off;
    *line = r->next_line;
}
long mv_csv_at_column(const mv_csv *r)
{
    return r->at_col;
}
size_t mv_csv_nfields(const mv_csv *r)
{
    return r->want;
}
const char *mv_csv_line_end(const mv_csv *r)
{
    return r->crlf ? "\r\n" : "\n";
}
uint64_t mv_csv_bytes_read(const mv_csv *r)
{
    return r->bytes_read;
}
void mv_csv_check_column(mv_csv *r, long col)
{
    r->col = col;
}

/* ---- input: whole lines, from the replay first, then the buffer ---- */

static ssize_t read_some(mv_csv *r, char *dst, size_t n)
{
    if (r->mem != NULL || r->fd < 0) {
        size_t k = r->mem_len - r->mem_pos;
        if (k > n)
            k = n;
        if (k)
            memcpy(dst, r->mem + r->mem_pos, k);
        r->mem_pos += k;
        return (ssize_t)k;
    }
    for (;;) {
        ssize_t k = read(r->fd, dst, n);
        if (k < 0 && errno == EINTR)
            continue;
        return k;
    }
}

/* Move the unread bytes to the front and read more behind them. */
static int fill(mv_csv *r)
{
    ssize_t n;

    if (r->start > 0) {
        memmove(r->buf, r->buf + r->start, r->end - r->start);
        r->end -= r->start;
        r->start = 0;
    }
    if (r->end == r->cap || r->eof)
        return 0;
    if ((n = read_some(r, r->buf + r->end, r->cap - r->end)) < 0)
        return -1;
    if (n == 0)
        r->eof = true;
    r->end += (size_t)n;
    r->bytes_read += (uint64_t)n;
    return 0;
}

typedef struct line {
    const char *p;
    size_t len;  /* bytes handed out (with the LF) */
    size_t full; /* the line's true length (> len when cut) */
    uint64_t off, no;
} line;

static int replay_line(mv_csv *r, line *ln)
{
    const char *s = r->replay + r->replay_pos;
    size_t avail = r->replay_len - r->replay_pos;
    const char *nl = memchr(s, '\n', avail);
    size_t n = nl ? (size_t)(nl - s) + 1 : avail;

    ln->p = s;
    ln->len = ln->full = n;
    ln->off = r->replay_off;
    ln->no = r->next_line++;
    r->replay_pos += n;
    r->replay_off += n;
    return 1;
}

/* A line longer than the buffer: keep its head, skip to its end. */
static int long_line(mv_csv *r, line *ln)
{
    size_t keep = r->max < sizeof r->long_head ? r->max : sizeof r->long_head;
    size_t skipped = 0;

    memcpy(r->long_head, r->buf + r->start, keep);
    ln->off = r->buf_off;
    ln->no = r->next_line++;
    for (;;) {
        char *s = r->buf + r->start;
        char *nl = memchr(s, '\n', r->end - r->start);
        size_t n = nl ? (size_t)(nl - s) + 1 : r->end - r->start;
        skipped += n;
        r->start += n;
        r->buf_off += n;
        if (nl != NULL || r->eof)
            break;
        if (fill(r) < 0)
            return -1;
        if (r->start == r->end && r->eof)
            break;
    }
    ln->p = r->long_head;
    ln->len = keep;
    ln->full = skipped;
    return 1;
}

/* Next line (with its LF, if any): 1, 0 at end of input, -1 error. */
static int next_line(mv_csv *r, line *ln)
{
    if (r->replay_pos < r->replay_len)
        return replay_line(r, ln);
    if (r->has_pending) {
        r->has_pending = false;
        ln->p = r->long_head;
        ln->len = r->pend_len;
        ln->full = r->pend_full;
        ln->off = r->pend_off;
        ln->no = r->pend_no;
        r->next_line = ln->no + 1;
        return 1;
    }
    for (;;) {
        char *s = r->buf + r->start;
        size_t avail = r->end - r->start;
        char *nl = memchr(s, '\n', avail);
        if (nl != NULL || (r->eof && avail > 0)) {
            size_t n = nl ? (size_t)(nl - s) + 1 : avail;
            ln->p = s;
            ln->len = ln->full = n;
            ln->off = r->buf_off;
            ln->no = r->next_line++;
            r->start += n;
            r->buf_off += n;
            return 1;
        }
        if (r->eof)
            return 0;
        if (r->start == 0 && r->end == r->cap)
            return long_line(r, ln);
        if (fill(r) < 0)
            return -1;
    }
}

/* ---- fields ---------------------------------------------------------- */

/* Room for 'need' bytes in the buffer '*p' of '*cap': -1 when out of
 * memory. */
static int reserve(char **p, size_t *cap, size_t need)
{
    size_t nc = *cap ? *cap : 4096;
    char *g;

    if (need <= *cap)
        return 0;
    while (nc < need)
        nc *= 2;
    if ((g = realloc(*p, nc)) == NULL)
        return -1;
    *p = g;
    *cap = nc;
    return 0;
}

/* Room for one more field offset (and the end offset after it). */
static int reserve_field(mv_csv *r)
{
    size_t nc = r->offcap ? 2 * r->offcap : 64;
    size_t *g;

    if (r->nf + 2 <= r->offcap)
        return 0;
    if ((g = realloc(r->foff, nc * sizeof *g)) == NULL)
        return -1;
    r->foff = g;
    r->offcap = nc;
    return 0;
}

static void on_field(void *s, size_t len, void *arg)
{
    mv_csv *r = arg;

    if (r->oom)
        return;
    if (reserve_field(r) < 0 ||
        reserve(&r->fbuf, &r->fcap, r->flen + len + 1) < 0) {
        r->oom = true;
        return;
    }
    r->foff[r->nf] = r->flen;
    if (len)
        memcpy(r->fbuf + r->flen, s, len);
    r->flen += len;
    r->nf++;
    r->foff[r->nf] = r->flen;
}

static void on_row(int c, void *arg)
{
    (void)c;
    ((mv_csv *)arg)->row_done = true;
}

static void reset_fields(mv_csv *r)
{
    r->nf = r->flen = 0;
    r->row_done = false;
    if (r->foff != NULL)
        r->foff[0] = 0;
}

static int append_rec(mv_csv *r, const line *ln)
{
    if (reserve(&r->rec, &r->rec_cap, r->rec_len + ln->len) < 0)
        return -1;
    if (r->rec_lines++ == 0) {
        r->first_len = ln->len;
        r->rec_line = ln->no;
        r->rec_off = ln->off;
    }
    memcpy(r->rec + r->rec_len, ln->p, ln->len);
    r->rec_len += ln->len;
    return 0;
}

/* ---- records --------------------------------------------------------- */

static size_t line_end_len(const char *s, size_t n)
{
    if (n > 0 && s[n - 1] == '\n')
        return n > 1 && s[n - 2] == '\r' ? 2 : 1;
    return 0;
}

static void fill_row(mv_csv *r, mv_csv_row *row, const char *raw, size_t len,
                     mv_csv_problem pb)
{
    static const size_t zero[2];

    row->raw = raw;
    row->raw_len = len;
    row->body_len = len - line_end_len(raw, len);
    row->line = r->rec_line;
    row->offset = r->rec_off;
    row->end = r->rec_off + len;
    row->next_line = r->rec_line;
    if (r->rec_lines <= 1) /* one line (or a plain one, not copied) */
        row->next_line += len > 0 && raw[len - 1] == '\n';
    else
        for (const char *p = raw;
             (p = memchr(p, '\n', len - (size_t)(p - raw))); p++)
            row->next_line++;
    row->problem = pb;
    row->nfields = pb == MV_CSV_OK || pb == MV_CSV_INVALID_UTF8 ? r->nf : 0;
    row->data = r->fbuf ? r->fbuf : "";
    row->off = r->foff && row->nfields ? r->foff : zero;
}

/* The first line of the record is malformed: hand it out alone and
 * parse the lines after it again. */
static int resync(mv_csv *r, mv_csv_row *row, mv_csv_problem pb)
{
    size_t rest = r->rec_len - r->first_len;
    size_t old = r->replay_len - r->replay_pos;
    char *nr = malloc(rest + old + 1);

    if (nr == NULL)
        return -1;
    memcpy(nr, r->rec + r->first_len, rest);
    if (old)
        memcpy(nr + rest, r->replay + r->replay_pos, old);
    free(r->replay);
    r->replay = nr;
    r->replay_len = rest + old;
    r->replay_pos = 0;
    r->replay_off = r->rec_off + r->first_len;
    r->next_line = r->rec_line + 1;
    csv_fini(&r->strict, NULL, NULL, NULL);
    fill_row(r, row, r->rec, r->first_len, pb);
    return 1;
}

/* The record (raw bytes 'raw', 'len') is decoded: check it and hand it
 * out. */
static int finish_at(mv_csv *r, mv_csv_row *row, const char *raw, size_t len)
{
    mv_csv_problem pb = MV_CSV_OK;

    if (r->oom) {
        errno = ENOMEM;
        return -1;
    }
    if (r->want == 0)
        r->want = r->nf;
    if (r->nf != r->want && !(r->ragged && r->nf < r->want)) {
        if (r->rec_lines > 1)
            return resync(r, row, MV_CSV_UNTERMINATED_QUOTE);
        pb = MV_CSV_FIELD_COUNT;
    } else if (r->col >= 0 && (size_t)r->col < r->nf &&
               !mv_utf8_valid(r->fbuf + r->foff[r->col],
                              r->foff[r->col + 1] - r->foff[r->col])) {
        pb = MV_CSV_INVALID_UTF8;
    }
    fill_row(r, row, raw, len, pb);
    return 1;
}

static int finish(mv_csv *r, mv_csv_row *row)
{
    return finish_at(r, row, r->rec, r->rec_len);
}

static bool blank(const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (s[i] != ' ' && s[i] != '\t' && s[i] != '\r' && s[i] != '\n')
            return false;
    return true;
}

static void start_record(mv_csv *r)
{
    r->rec_len = 0;
    r->rec_lines = 0;
    reset_fields(r);
}

/* A record over the bound: hand out its first bytes, skip the rest. */
static int too_long(mv_csv *r, mv_csv_row *row, const line *ln)
{
    size_t keep = ln->len < MV_CSV_LONG_KEPT ? ln->len : MV_CSV_LONG_KEPT;

    r->rec_line = ln->no;
    r->rec_off = ln->off;
    reset_fields(r);
    fill_row(r, row, ln->p, keep, MV_CSV_TOO_LONG);
    if (keep < ln->full)
        row->body_len = keep;
    row->end = ln->off + ln->full;
    row->next_line = ln->no + 1;
    return 1;
}

/* An over-long line inside a multi-line record: the record's first line
 * left a quote open.  The long line comes out on its own after the
 * lines between are parsed again. */
static int long_inside(mv_csv *r, mv_csv_row *row, const line *ln)
{
    r->has_pending = true;
    r->pend_len = ln->len;
    r->pend_full = ln->full;
    r->pend_off = ln->off;
    r->pend_no = ln->no;
    return resync(r, row, MV_CSV_UNTERMINATED_QUOTE);
}

static int text_next(mv_csv *r, mv_csv_row *row)
{
    line ln;
    int rc;

    for (;;) {
        start_record(r);
        if ((rc = next_line(r, &ln)) <= 0)
            return rc;
        if (ln.full > ln.len || ln.len > r->max)
            return too_long(r, row, &ln);
        if (blank(ln.p, ln.len))
            continue;
        r->rec_line = ln.no;
        r->rec_off = ln.off;
        on_field((void *)ln.p, ln.len - line_end_len(ln.p, ln.len), r);
        if (r->oom) {
            errno = ENOMEM;
            return -1;
        }
        if (r->want == 0)
            r->want = 1;
        fill_row(r, row, ln.p, ln.len,
                 mv_utf8_valid(ln.p, ln.len) ? MV_CSV_OK
                                             : MV_CSV_INVALID_UTF8);
        return 1;
    }
}

/* The bytes of a line less its line end: LF, CRLF, or (at the end of
 * the input) a lone CR, which libcsv trims as "space" too. */
static size_t line_body(const line *ln)
{
    size_t n = ln->len;

    if (n > 0 && ln->p[n - 1] == '\n')
        n--;
    if (n > 0 && ln->p[n - 1] == '\r')
        n--;
    return n;
}

/* Most lines have no quote and no CR but their line end's.  Then their
 * fields are exactly the runs between delimiters: what libcsv decodes
 * too (with CR as its only "space"), without a callback per byte.  The
 * other lines go through libcsv.  -1 when out of memory. */
static int split_plain(mv_csv *r, const char *s, size_t n)
{
    const char *end = s + n;

    if (reserve(&r->fbuf, &r->fcap, n + 1) < 0)
        return -1;
    for (;;) {
        const char *d = memchr(s, r->delim, (size_t)(end - s));
        size_t k = d ? (size_t)(d - s) : (size_t)(end - s);
        if (reserve_field(r) < 0)
            return -1;
        r->foff[r->nf] = r->flen;
        memcpy(r->fbuf + r->flen, s, k);
        r->flen += k;
        r->foff[++r->nf] = r->flen;
        if (d == NULL)
            return 0;
        s = d + 1;
    }
}

/* 1 with '*row' when the record's first line 'ln' is plain (see
 * split_plain), 0 when libcsv must read it. */
static int plain_line(mv_csv *r, mv_csv_row *row, const line *ln)
{
    size_t n = line_body(ln);

    if (memchr(ln->p, '"', n) != NULL || memchr(ln->p, '\r', n) != NULL)
        return 0;
    r->rec_line = ln->no;
    r->rec_off = ln->off;
    if (split_plain(r, ln->p, n) < 0) {
        errno = ENOMEM;
        return -1;
    }
    return finish_at(r, row, ln->p, ln->len);
}

/* A strict error on a record's only line: read that line leniently. */
static int lenient_line(mv_csv *r, mv_csv_row *row)
{
    csv_fini(&r->strict, NULL, NULL, NULL);
    reset_fields(r);
    csv_parse(&r->lenient, r->rec, r->rec_len, on_field, on_row, r);
    if (!r->row_done) { /* still inside quotes at the end of the line */
        csv_fini(&r->lenient, NULL, NULL, NULL);
        reset_fields(r);
        fill_row(r, row, r->rec, r->rec_len, MV_CSV_UNTERMINATED_QUOTE);
        return 1;
    }
    return finish(r, row);
}

/* End of input with a record pending. */
static int at_eof(mv_csv *r, mv_csv_row *row)
{
    if (r->strict.pstate == 2 /* FIELD_BEGUN */ && r->strict.quoted) {
        if (r->rec_lines > 1)
            return resync(r, row, MV_CSV_UNTERMINATED_QUOTE);
        csv_fini(&r->strict, NULL, NULL, NULL);
        reset_fields(r);
        fill_row(r, row, r->rec, r->rec_len, MV_CSV_UNTERMINATED_QUOTE);
        return 1;
    }
    csv_fini(&r->strict, on_field, on_row, r);
    return finish(r, row);
}

static int csv_next(mv_csv *r, mv_csv_row *row)
{
    line ln;
    int rc;

    start_record(r);
    for (;;) {
        if ((rc = next_line(r, &ln)) < 0)
            return rc;
        if (rc == 0)
            return r->rec_lines ? at_eof(r, row) : 0;
        if (r->rec_lines == 0 && (ln.full > ln.len || ln.len > r->max))
            return too_long(r, row, &ln);
        if (ln.full > ln.len)
            return long_inside(r, row, &ln);
        if (r->rec_lines == 0 && blank(ln.p, ln.len))
            continue;
        if (r->rec_lines == 0 && (rc = plain_line(r, row, &ln)) != 0)
            return rc;
        if (r->rec_len + ln.len > r->max) { /* a quote left open */
            if (append_rec(r, &ln) < 0)
                return -1;
            return resync(r, row, MV_CSV_UNTERMINATED_QUOTE);
        }
        if (append_rec(r, &ln) < 0)
            return -1;
        if (csv_parse(&r->strict, ln.p, ln.len, on_field, on_row, r) <
            ln.len) {
            if (r->rec_lines == 1)
                return lenient_line(r, row);
            return resync(r, row, MV_CSV_UNTERMINATED_QUOTE);
        }
        if (r->row_done)
            return finish(r, row);
        if (ln.p[ln.len - 1] != '\n')
            return at_eof(r, row);
    }
}

int mv_csv_next(mv_csv *r, mv_csv_row *row)
{
    return r->text ? text_next(r, row) : csv_next(r, row);
}

/* ---- the start: BOM, format, delimiter, header ------------------------ */

/* Fill the buffer until it holds the first line (or is full). */
static int first_line(mv_csv *r, size_t *len)
{
    for (;;) {
        char *nl = memchr(r->buf + r->start, '\n', r->end - r->start);
        if (nl != NULL) {
            *len = (size_t)(nl - (r->buf + r->start)) + 1;
            return 0;
        }
        if (r->eof || r->end == r->cap) {
            *len = r->end - r->start;
            return 0;
        }
        if (fill(r) < 0)
            return -1;
    }
}

/* The field (0-based) holding the first '@' outside quotes, or -1. */
static long at_column(const char *s, size_t n, int delim)
{
    bool quoted = false;
    long col = 0;

    for (size_t i = 0; i < n; i++) {
        if (s[i] == '"')
            quoted = !quoted;
        else if (s[i] == delim && !quoted)
            col++;
        else if (s[i] == '@')
            return col;
    }
    return -1;
}

/* The most frequent of ',', ';', TAB outside quotes; 0 when none. */
static int guess_delimiter(const char *s, size_t n)
{
    static const char cands[] = {',', ';', '\t'};
    size_t count[3] = {0, 0, 0};
    bool quoted = false;
    int best = 0;

    for (size_t i = 0; i < n; i++) {
        if (s[i] == '"')
            quoted = !quoted;
        else if (!quoted)
            for (int k = 0; k < 3; k++)
                count[k] += s[i] == cands[k];
    }
    for (int k = 0; k < 3; k++)
        if (count[k] > 0 && (best == 0 || count[k] > count[best - 1]))
            best = k + 1;
    return best ? cands[best - 1] : 0;
}

int mv_csv_begin(mv_csv *r, mv_csv_row *header)
{
    size_t n;
    const char *s;
    bool has_at;

    if (fill(r) < 0 || first_line(r, &n) < 0)
        return -1;
    if (r->end - r->start >= 3 && memcmp(r->buf, "\xEF\xBB\xBF", 3) == 0) {
        r->bom = true;
        r->start = 3;
        r->buf_off = 3;
        n -= n >= 3 ? 3 : n;
    }
    s = r->buf + r->start;
    r->crlf = n >= 2 && s[n - 1] == '\n' && s[n - 2] == '\r';
    has_at = memchr(s, '@', n) != NULL;
    if (r->delim == 0 && !r->text) {
        r->delim = guess_delimiter(s, n);
        if (r->delim == 0) {
            r->delim = ',';
            r->text = has_at; /* one address per line */
        }
    }
    if (r->text) {
        r->want = 1;
        r->at_col = 0;
        return 0;
    }
    r->at_col = at_column(s, n, r->delim);
    init_parser(&r->strict, CSV_STRICT, r->delim);
    init_parser(&r->lenient, 0, r->delim);
    if (r->no_header || has_at)
        return 0;
    return mv_csv_next(r, header); /* 0: an empty input */
}

int mv_csv_seek(mv_csv *r, uint64_t offset, uint64_t line, size_t nfields)
{
    if (r->mem != NULL) {
        if (offset > r->mem_len) {
            errno = EINVAL;
            return -1;
        }
        r->mem_pos = (size_t)offset;
    } else if (lseek(r->fd, (off_t)offset, SEEK_SET) < 0) {
        return -1;
    }
    r->start = r->end = 0;
    r->eof = false;
    r->buf_off = offset;
    r->bytes_read = offset;
    r->replay_len = r->replay_pos = 0;
    r->next_line = line;
    if (nfields)
        r->want = nfields;
    csv_fini(&r->strict, NULL, NULL, NULL);
    return 0;
}
