/*
 * lines.c - bounded line reader over a file descriptor (see lines.h).
 */
#include "lines.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

struct mv_lines {
    int fd;
    char *buf;
    char head[4096]; /* the start of an over-long line */
    size_t cap, start, end;
    size_t lineno;
    bool eof;
};

mv_lines *mv_lines_new(int fd, size_t cap)
{
    mv_lines *r = calloc(1, sizeof *r);

    if (r == NULL)
        return NULL;
    r->fd = fd;
    r->cap = cap < 2 * sizeof r->head ? 2 * sizeof r->head : cap;
    if ((r->buf = malloc(r->cap)) == NULL) {
        free(r);
        return NULL;
    }
    return r;
}

void mv_lines_free(mv_lines *r)
{
    if (r == NULL)
        return;
    free(r->buf);
    free(r);
}

size_t mv_lines_number(const mv_lines *r)
{
    return r->lineno;
}

/* Move the unread tail to the front and read more behind it. */
static int fill(mv_lines *r)
{
    if (r->start > 0) {
        memmove(r->buf, r->buf + r->start, r->end - r->start);
        r->end -= r->start;
        r->start = 0;
    }
    while (r->end < r->cap) {
        ssize_t n = read(r->fd, r->buf + r->end, r->cap - r->end);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            return -1;
        if (n == 0)
            r->eof = true;
        r->end += (size_t)n;
        return 0;
    }
    return 0;
}

/* Skip the rest of an over-long line; returns the bytes skipped. */
static int skip_rest(mv_lines *r, size_t *skipped)
{
    for (;;) {
        char *nl = memchr(r->buf + r->start, '\n', r->end - r->start);
        if (nl != NULL) {
            *skipped += (size_t)(nl - (r->buf + r->start));
            r->start = (size_t)(nl - r->buf) + 1;
            return 0;
        }
        *skipped += r->end - r->start;
        r->start = r->end = 0;
        if (r->eof)
            return 0;
        if (fill(r) < 0)
            return -1;
    }
}

static void strip_cr(const char *line, size_t *len)
{
    if (*len > 0 && line[*len - 1] == '\r')
        (*len)--;
}

/* Hand out [start, start + n) as the next line and consume 'used'. */
static int emit(mv_lines *r, const char **line, size_t *len, size_t *full_len,
                size_t n, size_t used)
{
    *line = r->buf + r->start;
    *len = n;
    strip_cr(*line, len);
    *full_len = *len;
    r->start += used;
    r->lineno++;
    return 1;
}

/* A full buffer and no newline: keep the head, skip the rest, and
 * report the line's true length. */
static int emit_long(mv_lines *r, const char **line, size_t *len,
                     size_t *full_len)
{
    size_t skipped = 0;

    memcpy(r->head, r->buf, sizeof r->head);
    r->start = sizeof r->head;
    if (skip_rest(r, &skipped) < 0)
        return -1;
    *line = r->head;
    *len = sizeof r->head;
    *full_len = sizeof r->head + skipped;
    r->lineno++;
    return 1;
}

int mv_lines_next(mv_lines *r, const char **line, size_t *len,
                  size_t *full_len)
{
    for (;;) {
        size_t avail = r->end - r->start;
        char *nl = memchr(r->buf + r->start, '\n', avail);
        if (nl != NULL) {
            size_t n = (size_t)(nl - (r->buf + r->start));
            return emit(r, line, len, full_len, n, n + 1);
        }
        if (r->eof)
            return avail == 0 ? 0 : emit(r, line, len, full_len, avail, avail);
        if (r->start == 0 && r->end == r->cap)
            return emit_long(r, line, len, full_len);
        if (fill(r) < 0)
            return -1;
    }
}
