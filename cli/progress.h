/*
 * progress.h - a one-line progress bar on stderr while "mailvet clean"
 * runs: rows done, rows per second and, when the input's size is known,
 * the share read and the time left.  Drawn only when stderr is a
 * terminal, at most five times a second; erased at the end.
 */
#ifndef MV_PROGRESS_H
#define MV_PROGRESS_H

#include <stdbool.h>
#include <stdint.h>

typedef struct mv_progress {
    bool on;
    uint64_t total; /* input bytes, 0 when unknown (a pipe) */
    double t0, last;
} mv_progress;

/* Monotonic seconds. */
double mv_now(void);

void mv_progress_init(mv_progress *p, bool wanted, uint64_t total_bytes);
void mv_progress_tick(mv_progress *p, uint64_t rows, uint64_t bytes);
void mv_progress_done(mv_progress *p);

#endif
