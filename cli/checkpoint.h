/*
 * checkpoint.h - interruption and --resume for "mailvet clean".
 *
 * While a run writes its outputs to files, a checkpoint beside --out
 * records, every two seconds, the last row whose output is complete:
 * the input offset and line after it, the sizes of the output files at
 * that point, the report's counts, and how many dedupe keys were kept.
 * The outputs and the key log are flushed and fsync'd first, then the
 * checkpoint is written to a temporary file, fsync'd and renamed over
 * the old one (POSIX rename() is atomic), so whenever the process dies
 * (Ctrl-C, kill -9, a crash) the files on disk hold at least every row
 * up to the recorded one.  Ctrl-C and SIGTERM also write one last
 * checkpoint after the rows already read.
 *
 * --resume truncates the outputs back to the recorded sizes (dropping a
 * half-written tail), reloads the dedupe set from the key log (16 bytes
 * per kept address, appended as rows are kept), restores the counts and
 * the domain tally, and continues reading at the recorded offset: no
 * row is lost or written twice.  A finished run removes its checkpoint
 * files.
 *
 * Files, for --out F: F.mvcheckpoint (text), F.mvkeys (the key log),
 * F.mvdomains (the domain tally).
 */
#ifndef MV_CHECKPOINT_H
#define MV_CHECKPOINT_H

#include <stdbool.h>
#include <stdint.h>

#include "csv.h"
#include "dedupe.h"
#include "report.h"
#include "sink.h"

typedef struct mv_checkpoint mv_checkpoint;

/* What a checkpoint saves and restores; all borrowed. */
typedef struct mv_cp_state {
    mv_sink *out, *rej; /* rej->f NULL when there is no --rejects */
    mv_dedupe *seen;    /* NULL with --no-dedupe */
    mv_report *rep;
    mv_csv *csv;
    vl_ctx *ctx; /* for the DNS query count */
    const char *input;
    int in_fd;
    uint64_t options; /* a hash of the options that shape the output */
} mv_cp_state;

/* Start checkpointing beside st->out->path.  With 'resume', restore the
 * run from its checkpoint first: open the sinks (for appending), fill
 * the dedupe set and the report, and move the reader.  -1 on error
 * (said on stderr). */
int mv_checkpoint_open(mv_checkpoint **out, const mv_cp_state *st,
                       bool resume);
/* A dedupe key was kept. */
int mv_checkpoint_key(mv_checkpoint *cp, mv_hash128 h);
/* A row's output is written; the next row starts at 'end', on line
 * 'next_line'.  Writes a checkpoint when one is due. */
int mv_checkpoint_row(mv_checkpoint *cp, uint64_t end, uint64_t next_line);
/* The run ends: 'stopped' by a signal (write a last checkpoint) or
 * finished (remove the checkpoint files). */
int mv_checkpoint_end(mv_checkpoint *cp, bool stopped);
void mv_checkpoint_free(mv_checkpoint *cp);

#endif
