/*
 * progress.c - the progress bar of "mailvet clean" (progress.h).
 */
#include "progress.h"

#include <stdio.h>
#include <time.h>
#include <unistd.h>

#include "report.h"

double mv_now(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

void mv_progress_init(mv_progress *p, bool wanted, uint64_t total_bytes)
{
    p->on = wanted && isatty(STDERR_FILENO);
    p->total = total_bytes;
    p->t0 = p->last = mv_now();
}

void mv_progress_tick(mv_progress *p, uint64_t rows, uint64_t bytes)
{
    double now, el, rate;
    char g[32], r[32];

    if (!p->on || (now = mv_now()) - p->last < 0.2)
        return;
    p->last = now;
    el = now - p->t0;
    rate = el > 0 ? (double)rows / el : 0;
    fprintf(stderr, "\r%s rows  %s rows/s", mv_group(rows, g),
            mv_group((uint64_t)rate, r));
    if (p->total > 0 && bytes > 0 && bytes <= p->total) {
        double left = el * (double)(p->total - bytes) / (double)bytes;
        unsigned s = (unsigned)left;
        int width = 30, done = (int)(width * (double)bytes / p->total);
        fputs("  [", stderr);
        for (int i = 0; i < width; i++)
            putc(i < done ? '#' : '.', stderr);
        fprintf(stderr, "] %3.0f%%  ETA %u:%02u:%02u",
                100.0 * (double)bytes / (double)p->total, s / 3600,
                s / 60 % 60, s % 60);
    }
    fputs("\033[K", stderr);
    fflush(stderr);
}

void mv_progress_done(mv_progress *p)
{
    if (p->on)
        fputs("\r\033[K", stderr);
}
