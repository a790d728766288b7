/*
 * checkpoint.c - interruption and --resume for "mailvet clean"
 * (checkpoint.h).
 */
#include "checkpoint.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "progress.h"

/* Keys wait in memory and go to the key log KEY_BATCH at a time: a
 * stdio call per key cost more than the dedupe lookup itself. */
enum { INTERVAL_ROWS = 256, KEY_BATCH = 4096 };
/* Seconds between checkpoints; MAILVET_CHECKPOINT_MS overrides it (the
 * interruption test checkpoints often). */
#define INTERVAL_S 2.0

struct mv_checkpoint {
    mv_cp_state st;
    char *path, *tmp, *keys_path, *dom_path, *dom_tmp;
    FILE *keys;
    unsigned char key_buf[KEY_BATCH * 16];
    size_t key_fill; /* bytes in key_buf */
    uint64_t nkeys, end, next_line, since;
    uint64_t in_size, in_mtime_ns;
    double last, started, interval;
    bool dirty;
};

static char *join(const char *a, const char *b)
{
    size_t n = strlen(a) + strlen(b) + 1;
    char *s = malloc(n);

    if (s != NULL)
        snprintf(s, n, "%s%s", a, b);
    return s;
}

static int fail(const char *what, const char *path)
{
    fprintf(stderr, "mailvet: %s: %s: %s\n", path, what, strerror(errno));
    return -1;
}

static int sync_file(FILE *f)
{
    if (f == NULL || f == stdout)
        return 0;
    if (fflush(f) != 0 || fsync(fileno(f)) != 0)
        return -1;
    return 0;
}

/* fsync the folder holding 'path', so a rename in it is durable. */
static void sync_dir(const char *path)
{
    char *copy = strdup(path);
    int fd;

    if (copy == NULL)
        return;
    if ((fd = open(dirname(copy), O_RDONLY | O_DIRECTORY)) >= 0) {
        fsync(fd);
        close(fd);
    }
    free(copy);
}

/* ---- the checkpoint file: "key value" lines ------------------------------
 */

static void put_array(FILE *f, const char *key, const uint64_t *v, size_t n)
{
    fprintf(f, "%s", key);
    for (size_t i = 0; i < n; i++)
        fprintf(f, " %" PRIu64, v[i]);
    putc('\n', f);
}

static void write_state(const mv_checkpoint *cp, FILE *f)
{
    const mv_report *r = cp->st.rep;
    vl_stats st = {0};

    if (cp->st.ctx != NULL)
        vl_ctx_stats(cp->st.ctx, &st);
    fprintf(f, "mailvet-clean-checkpoint 1\n");
    fprintf(f, "input %" PRIu64 " %" PRIu64 "\n", cp->in_size,
            cp->in_mtime_ns);
    fprintf(f, "options %" PRIu64 "\n", cp->st.options);
    fprintf(f, "position %" PRIu64 " %" PRIu64 " %zu\n", cp->end,
            cp->next_line, mv_csv_nfields(cp->st.csv));
    fprintf(f, "sizes %lld %lld %" PRIu64 "\n",
            (long long)ftello(cp->st.out->f),
            cp->st.rej->f ? (long long)ftello(cp->st.rej->f) : 0LL, cp->nkeys);
    fprintf(f,
            "counts %" PRIu64 " %" PRIu64 " %" PRIu64 " %" PRIu64 " %" PRIu64
            " %" PRIu64 "\n",
            r->rows, r->kept, r->dropped, r->duplicates, r->malformed,
            r->dns_queries + st.dns_queries);
    fprintf(f, "seconds %.3f\n", r->seconds + (mv_now() - cp->started));
    put_array(f, "verdict", r->verdict, VL_UNDELIVERABLE + 1);
    put_array(f, "kept_verdict", r->kept_verdict, VL_UNDELIVERABLE + 1);
    put_array(f, "dropped_verdict", r->dropped_verdict, VL_UNDELIVERABLE + 1);
    put_array(f, "dropped_reason", r->dropped_reason, VL_R__COUNT);
    put_array(f, "problem", r->problem, MV_CSV_PROBLEMS);
}

static void put_domain(void *arg, const char *name, uint64_t rows,
                       uint64_t dropped)
{
    fprintf(arg, "%" PRIu64 " %" PRIu64 " %s\n", rows, dropped, name);
}

/* Write 'path' through 'tmp': fsync, then rename over. */
static int replace_file(const char *path, const char *tmp,
                        void (*fill)(const mv_checkpoint *, FILE *),
                        const mv_checkpoint *cp)
{
    FILE *f = fopen(tmp, "w");

    if (f == NULL)
        return fail("cannot write", tmp);
    fill(cp, f);
    if (ferror(f) || sync_file(f) < 0) {
        fclose(f);
        return fail("cannot write", tmp);
    }
    if (fclose(f) != 0 || rename(tmp, path) != 0)
        return fail("cannot write", path);
    return 0;
}

static void write_domains(const mv_checkpoint *cp, FILE *f)
{
    fprintf(f, "unnamed %" PRIu64 "\n",
            mv_domains_unnamed(cp->st.rep->domains));
    mv_domains_each(cp->st.rep->domains, put_domain, f);
}

/* Hand the buffered keys to the key log's FILE. */
static int put_keys(mv_checkpoint *cp)
{
    size_t n = cp->key_fill;

    cp->key_fill = 0;
    if (n > 0 && fwrite(cp->key_buf, 1, n, cp->keys) != n)
        return fail("cannot write", cp->keys_path);
    return 0;
}

static int save(mv_checkpoint *cp)
{
    double now = mv_now();

    if (cp->keys != NULL && put_keys(cp) < 0)
        return -1;
    if (sync_file(cp->st.out->f) < 0 || sync_file(cp->st.rej->f) < 0 ||
        sync_file(cp->keys) < 0)
        return fail("cannot write", cp->st.out->path);
    if (replace_file(cp->dom_path, cp->dom_tmp, write_domains, cp) < 0 ||
        replace_file(cp->path, cp->tmp, write_state, cp) < 0)
        return -1;
    sync_dir(cp->path);
    cp->last = now;
    cp->dirty = false;
    return 0;
}

/* ---- resume ------------------------------------------------------------ */

typedef struct saved {
    uint64_t in_size, in_mtime, options, end, line, nkeys;
    long long out_size, rej_size;
    size_t nfields;
} saved;

static int get_array(const char *line, const char *key, uint64_t *v, size_t n)
{
    size_t k = strlen(key);
    const char *p = line + k;

    if (strncmp(line, key, k) != 0 || line[k] != ' ')
        return 0;
    for (size_t i = 0; i < n; i++) {
        char *end;
        v[i] = strtoull(p, &end, 10);
        if (end == p)
            return -1;
        p = end;
    }
    return 1;
}

static int read_line(saved *s, mv_report *r, const char *l)
{
    uint64_t c[6];
    double secs;

    if (sscanf(l, "input %" SCNu64 " %" SCNu64, &s->in_size, &s->in_mtime) ==
            2 ||
        sscanf(l, "options %" SCNu64, &s->options) == 1 ||
        sscanf(l, "position %" SCNu64 " %" SCNu64 " %zu", &s->end, &s->line,
               &s->nfields) == 3 ||
        sscanf(l, "sizes %lld %lld %" SCNu64, &s->out_size, &s->rej_size,
               &s->nkeys) == 3)
        return 0;
    if (sscanf(l, "seconds %lf", &secs) == 1) {
        r->seconds = secs;
        return 0;
    }
    if (get_array(l, "counts", c, 6) > 0) {
        r->rows = c[0], r->kept = c[1], r->dropped = c[2];
        r->duplicates = c[3], r->malformed = c[4], r->dns_queries = c[5];
        return 0;
    }
    if (get_array(l, "verdict", r->verdict, VL_UNDELIVERABLE + 1) ||
        get_array(l, "kept_verdict", r->kept_verdict, VL_UNDELIVERABLE + 1) ||
        get_array(l, "dropped_verdict", r->dropped_verdict,
                  VL_UNDELIVERABLE + 1) ||
        get_array(l, "dropped_reason", r->dropped_reason, VL_R__COUNT) ||
        get_array(l, "problem", r->problem, MV_CSV_PROBLEMS))
        return 0;
    return strncmp(l, "mailvet-clean-checkpoint 1", 26) == 0 ? 0 : -1;
}

static int load_state(mv_checkpoint *cp, saved *s)
{
    FILE *f = fopen(cp->path, "r");
    char line[4096];
    int rc = 0;

    if (f == NULL) {
        fprintf(stderr, "mailvet: --resume: no checkpoint %s: %s\n", cp->path,
                strerror(errno));
        return -1;
    }
    memset(s, 0, sizeof *s);
    while (rc == 0 && fgets(line, sizeof line, f) != NULL)
        rc = read_line(s, cp->st.rep, line);
    fclose(f);
    if (rc < 0 || s->line == 0) {
        fprintf(stderr, "mailvet: %s: not a checkpoint of mailvet clean\n",
                cp->path);
        return -1;
    }
    return 0;
}

static int load_domains(mv_checkpoint *cp)
{
    FILE *f = fopen(cp->dom_path, "r");
    char line[1200], name[1100];
    uint64_t rows, dropped;
    int rc = 0;

    if (f == NULL)
        return fail("cannot read", cp->dom_path);
    while (rc == 0 && fgets(line, sizeof line, f) != NULL) {
        if (sscanf(line, "unnamed %" SCNu64, &rows) == 1)
            mv_domains_restore_unnamed(cp->st.rep->domains, rows);
        else if (sscanf(line, "%" SCNu64 " %" SCNu64 " %1023s", &rows,
                        &dropped, name) == 3)
            rc = mv_domains_restore(cp->st.rep->domains, name, rows, dropped);
    }
    fclose(f);
    return rc;
}

static int load_keys(mv_checkpoint *cp, uint64_t n)
{
    FILE *f = fopen(cp->keys_path, "rb");
    unsigned char b[16];

    if (f == NULL)
        return n == 0 ? 0 : fail("cannot read", cp->keys_path);
    for (uint64_t i = 0; i < n; i++) {
        mv_hash128 h = {0, 0};
        if (fread(b, 1, 16, f) != 16) {
            fclose(f);
            fprintf(stderr, "mailvet: %s: shorter than its checkpoint\n",
                    cp->keys_path);
            return -1;
        }
        for (int k = 7; k >= 0; k--) {
            h.lo = h.lo << 8 | b[k];
            h.hi = h.hi << 8 | b[8 + k];
        }
        if (mv_dedupe_add(cp->st.seen, h) < 0) {
            fclose(f);
            return -1;
        }
    }
    fclose(f);
    return truncate(cp->keys_path, (off_t)(n * 16)) == 0
               ? 0
               : fail("cannot truncate", cp->keys_path);
}

/* Cut an output back to its checkpointed size and open it to append. */
static int reopen(mv_sink *s, const char *path, long long size)
{
    if (path == NULL)
        return 0;
    if (truncate(path, (off_t)size) != 0)
        return fail("cannot truncate", path);
    if (mv_sink_open(s, path, true) < 0)
        return fail("cannot open", path);
    return 0;
}

static int restore(mv_checkpoint *cp, const char *rej_path)
{
    saved s;

    if (load_state(cp, &s) < 0)
        return -1;
    if (s.in_size != cp->in_size || s.in_mtime != cp->in_mtime_ns) {
        fprintf(stderr,
                "mailvet: --resume: %s changed since the "
                "interrupted run\n",
                cp->st.input);
        return -1;
    }
    if (s.options != cp->st.options) {
        fprintf(stderr, "mailvet: --resume: give the same options as the "
                        "interrupted run\n");
        return -1;
    }
    if (load_domains(cp) < 0 || (cp->st.seen && load_keys(cp, s.nkeys) < 0) ||
        reopen(cp->st.out, cp->st.out->path, s.out_size) < 0 ||
        reopen(cp->st.rej, rej_path, s.rej_size) < 0)
        return -1;
    cp->nkeys = s.nkeys;
    cp->end = s.end;
    cp->next_line = s.line;
    if (mv_csv_seek(cp->st.csv, s.end, s.line, s.nfields) < 0)
        return fail("cannot seek", cp->st.input);
    return 0;
}

/* ---- the run ------------------------------------------------------------ */

static int names(mv_checkpoint *cp)
{
    const char *o = cp->st.out->path;

    cp->path = join(o, ".mvcheckpoint");
    cp->tmp = join(o, ".mvcheckpoint.tmp");
    cp->keys_path = join(o, ".mvkeys");
    cp->dom_path = join(o, ".mvdomains");
    cp->dom_tmp = join(o, ".mvdomains.tmp");
    return cp->path && cp->tmp && cp->keys_path && cp->dom_path && cp->dom_tmp
               ? 0
               : -1;
}

int mv_checkpoint_open(mv_checkpoint **out, const mv_cp_state *st, bool resume)
{
    mv_checkpoint *cp = calloc(1, sizeof *cp);
    struct stat sb;
    const char *rej_path = st->rej->path;

    *out = cp;
    if (cp == NULL || (cp->st = *st, names(cp)) < 0)
        return -1;
    if (fstat(st->in_fd, &sb) != 0)
        return fail("cannot stat", st->input);
    cp->in_size = (uint64_t)sb.st_size;
    cp->in_mtime_ns = (uint64_t)sb.st_mtim.tv_sec * 1000000000u +
                      (uint64_t)sb.st_mtim.tv_nsec;
    cp->last = cp->started = mv_now();
    mv_csv_position(st->csv, &cp->end, &cp->next_line);
    if (resume && restore(cp, rej_path) < 0)
        return -1;
    if (st->seen != NULL &&
        (cp->keys = fopen(cp->keys_path, resume ? "ab" : "wb")) == NULL)
        return fail("cannot write", cp->keys_path);
    cp->interval = INTERVAL_S;
    if (getenv("MAILVET_CHECKPOINT_MS") != NULL)
        cp->interval = atof(getenv("MAILVET_CHECKPOINT_MS")) / 1000;
    /* A first checkpoint at once: a run killed at any time after this
     * can be resumed. */
    return resume ? 0 : save(cp);
}

int mv_checkpoint_key(mv_checkpoint *cp, mv_hash128 h)
{
    unsigned char *b;

    if (cp->keys == NULL)
        return 0;
    if (cp->key_fill == sizeof cp->key_buf && put_keys(cp) < 0)
        return -1;
    b = cp->key_buf + cp->key_fill;
    for (int k = 0; k < 8; k++) {
        b[k] = (unsigned char)(h.lo >> (8 * k));
        b[8 + k] = (unsigned char)(h.hi >> (8 * k));
    }
    cp->key_fill += 16;
    cp->nkeys++;
    return 0;
}

int mv_checkpoint_row(mv_checkpoint *cp, uint64_t end, uint64_t next_line)
{
    cp->end = end;
    cp->next_line = next_line;
    cp->dirty = true;
    if (++cp->since < INTERVAL_ROWS)
        return 0;
    cp->since = 0;
    return mv_now() - cp->last >= cp->interval ? save(cp) : 0;
}

int mv_checkpoint_end(mv_checkpoint *cp, bool stopped)
{
    if (stopped)
        return save(cp);
    if (cp->keys != NULL)
        fclose(cp->keys);
    cp->keys = NULL;
    unlink(cp->keys_path);
    unlink(cp->dom_path);
    unlink(cp->path);
    return 0;
}

void mv_checkpoint_free(mv_checkpoint *cp)
{
    if (cp == NULL)
        return;
    if (cp->keys != NULL)
        fclose(cp->keys);
    free(cp->path);
    free(cp->tmp);
    free(cp->keys_path);
    free(cp->dom_path);
    free(cp->dom_tmp);
    free(cp);
}
