/*
 * lines.h - read a stream line by line in bounded memory.
 *
 * Lines end at LF; a CR before the LF is dropped.  A line longer than
 * the buffer is handed out cut to the buffer's size, with its true
 * length, and the rest of it is skipped: memory never grows with input.
 */
#ifndef MV_LINES_H
#define MV_LINES_H

#include <stdbool.h>
#include <stddef.h>

typedef struct mv_lines mv_lines;

/* Read from file descriptor 'fd' (not closed by mv_lines_free) with a
 * buffer of 'cap' bytes; NULL when out of memory. */
mv_lines *mv_lines_new(int fd, size_t cap);
void mv_lines_free(mv_lines *r);

/* Next line: 1 with '*line' ('*len' bytes, valid until the next call)
 * and '*full_len' (> *len when the line was cut), 0 at end of input,
 * -1 on a read error (errno set). */
int mv_lines_next(mv_lines *r, const char **line, size_t *len,
                  size_t *full_len);

/* 1-based number of the line last returned. */
size_t mv_lines_number(const mv_lines *r);

#endif
