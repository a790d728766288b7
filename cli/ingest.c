/*
 * ingest.c - "mailvet store ingest-dsn FILE...|DIR|-": record the failed
 * recipients of bounce messages (dsn.c) in the store.
 *
 * A FILE is an mbox when it starts with "From " (RFC 4155), else one
 * message (.eml).  A DIR is a Maildir when it has cur/ or new/ (each
 * file there a message), else every regular file in it, by name.  "-"
 * reads stdin, mbox or one message alike.  A message that is not a
 * bounce this can read, and a recipient that is not an address or has
 * no 4yz/5yz status, is reported with its file (and, in an mbox, the
 * line of its "From " separator) and skipped; the rest is recorded, one
 * transaction per input.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli.h"
#include "dsn.h"
#include "validate.h"

typedef struct ingest {
    vl_store *st;
    const char *scope;
    bool verbose;
    const char *name; /* the file being read */
    size_t where;     /* its line, for an mbox message; 0 otherwise */
    size_t recorded, skipped;
    bool failed; /* the store failed: stop */
    /* line counting over an mbox: bytes up to 'off' hold 'line' - 1 LFs */
    int fd;
    GByteArray *mem;
    int64_t off;
    size_t line;
} ingest;

static void where_str(const ingest *in, char *buf, size_t cap)
{
    if (in->where)
        snprintf(buf, cap, "%s:%zu", in->name, in->where);
    else
        snprintf(buf, cap, "%s", in->name);
}

static int on_bounce(void *arg, const mv_bounce *b)
{
    ingest *in = arg;
    vl_store_outcome o = {0};
    char at[4200];
    vl_status s;

    where_str(in, at, sizeof at);
    if (vl_store_status_source(b->status, &o.source) != VL_OK) {
        fprintf(stderr,
                "mailvet: %s: %s: status '%s' is not a bounce, "
                "skipped\n",
                at, b->recipient, b->status);
        in->skipped++;
        return 0;
    }
    o.address = b->recipient;
    o.address_len = strlen(b->recipient);
    o.scope = in->scope;
    o.status = b->status;
    o.diagnostic = b->diagnostic[0] ? b->diagnostic : NULL;
    o.at = b->at;
    s = vl_store_record(in->st, &o, NULL);
    if (s == VL_EINVAL) {
        fprintf(stderr, "mailvet: %s: '%s': not an address, skipped\n", at,
                b->recipient);
        in->skipped++;
        return 0;
    }
    if (s != VL_OK) {
        const char *m = vl_store_errmsg(in->st);
        fprintf(stderr, "mailvet: store: %s%s%s\n", vl_strerror(s),
                m[0] ? ": " : "", m);
        in->failed = true;
        return 1;
    }
    in->recorded++;
    return 0;
}

/* The 1-based line at byte 'off' (offsets only grow). */
static size_t line_at(ingest *in, int64_t off)
{
    char buf[65536];

    while (in->off < off) {
        size_t want = (size_t)(off - in->off) < sizeof buf
                          ? (size_t)(off - in->off)
                          : sizeof buf;
        ssize_t got;
        const char *p;
        if (in->mem != NULL) {
            p = (const char *)in->mem->data + in->off;
            got = (ssize_t)want;
        } else {
            got = pread(in->fd, buf, want, (off_t)in->off);
            p = buf;
            if (got <= 0)
                break;
        }
        for (ssize_t i = 0; i < got; i++)
            in->line += p[i] == '\n';
        in->off += got;
    }
    return in->line;
}

static void one_message(ingest *in, GMimeMessage *m)
{
    char at[4200];

    if (mv_dsn_message(m, on_bounce, in) < 0) {
        where_str(in, at, sizeof at);
        fprintf(stderr,
                "mailvet: %s: not a bounce message mailvet can "
                "read, skipped\n",
                at);
        in->skipped++;
    }
}

/* Every message of a stream: an mbox or one message. */
static void read_stream(ingest *in, GMimeStream *s, bool mbox)
{
    GMimeParser *p = g_mime_parser_new_with_stream(s);
    vl_status st = vl_store_batch_begin(in->st);

    if (st != VL_OK) {
        fprintf(stderr, "mailvet: store: %s\n", vl_strerror(st));
        in->failed = true;
        g_object_unref(p);
        return;
    }
    in->off = 0;
    in->line = 1;
    g_mime_parser_set_format(p,
                             mbox ? GMIME_FORMAT_MBOX : GMIME_FORMAT_MESSAGE);
    while (!in->failed && !g_mime_parser_eos(p)) {
        GMimeMessage *m = g_mime_parser_construct_message(p, NULL);
        in->where =
            mbox ? line_at(in, g_mime_parser_get_mbox_marker_offset(p)) : 0;
        if (m == NULL) {
            char at[4200];
            where_str(in, at, sizeof at);
            fprintf(stderr, "mailvet: %s: not a message, skipped\n", at);
            in->skipped++;
            break;
        }
        one_message(in, m);
        g_object_unref(m);
        if (!mbox)
            break;
    }
    g_object_unref(p);
    if (in->failed)
        vl_store_batch_rollback(in->st);
    else if ((st = vl_store_batch_commit(in->st)) != VL_OK) {
        fprintf(stderr, "mailvet: store: commit: %s\n", vl_strerror(st));
        in->failed = true;
    } else if (in->verbose) {
        fprintf(stderr, "mailvet: store ingest-dsn: %s: committed\n",
                in->name);
    }
}

static bool starts_mbox(const char *head, size_t n)
{
    return n >= 5 && memcmp(head, "From ", 5) == 0;
}

static void read_file(ingest *in, const char *path)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    char head[5];
    ssize_t n;

    in->name = path;
    in->where = 0;
    if (fd < 0) {
        fprintf(stderr, "mailvet: %s: %s, skipped\n", path, strerror(errno));
        in->skipped++;
        return;
    }
    n = pread(fd, head, sizeof head, 0);
    GMimeStream *s = g_mime_stream_fs_new(fd); /* owns fd */
    in->fd = fd;
    in->mem = NULL;
    read_stream(in, s, n > 0 && starts_mbox(head, (size_t)n));
    g_object_unref(s);
}

/* stdin may be a pipe, which GMime's file stream cannot seek: read it
 * all into memory first. */
static void read_stdin(ingest *in)
{
    GByteArray *b = g_byte_array_new();
    char buf[65536];
    ssize_t n;

    in->name = "stdin";
    while ((n = read(STDIN_FILENO, buf, sizeof buf)) != 0) {
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) {
            fprintf(stderr, "mailvet: stdin: %s\n", strerror(errno));
            in->skipped++;
            break;
        }
        g_byte_array_append(b, (const guint8 *)buf, (guint)n);
    }
    GMimeStream *mem = g_mime_stream_mem_new_with_byte_array(b); /* owns */
    in->mem = b;
    read_stream(in, mem, starts_mbox((const char *)b->data, b->len));
    in->mem = NULL;
    g_object_unref(mem);
}

static int not_dot(const struct dirent *d)
{
    return d->d_name[0] != '.';
}

/* Every regular file of one folder, by name. */
static void read_folder(ingest *in, const char *dir)
{
    struct dirent **list;
    int n = scandir(dir, &list, not_dot, alphasort);

    if (n < 0) {
        fprintf(stderr, "mailvet: %s: %s\n", dir, strerror(errno));
        in->skipped++;
        return;
    }
    for (int i = 0; i < n; i++) {
        char path[4096];
        struct stat sb;
        snprintf(path, sizeof path, "%s/%s", dir, list[i]->d_name);
        if (!in->failed && stat(path, &sb) == 0 && S_ISREG(sb.st_mode))
            read_file(in, path);
        free(list[i]);
    }
    free(list);
}

static bool is_dir(const char *path)
{
    struct stat sb;
    return stat(path, &sb) == 0 && S_ISDIR(sb.st_mode);
}

static void read_path(ingest *in, const char *path)
{
    char sub[4096];

    if (strcmp(path, "-") == 0) {
        read_stdin(in);
        return;
    }
    if (!is_dir(path)) {
        read_file(in, path);
        return;
    }
    snprintf(sub, sizeof sub, "%s/new", path);
    bool maildir = is_dir(sub);
    snprintf(sub, sizeof sub, "%s/cur", path);
    maildir |= is_dir(sub);
    if (!maildir) {
        read_folder(in, path);
        return;
    }
    snprintf(sub, sizeof sub, "%s/new", path);
    if (is_dir(sub))
        read_folder(in, sub);
    snprintf(sub, sizeof sub, "%s/cur", path);
    if (is_dir(sub) && !in->failed)
        read_folder(in, sub);
}

int mv_ingest_dsn(vl_store *st, const char *scope, bool verbose, int argc,
                  char **argv)
{
    ingest in = {0};

    mv_dsn_init();
    in.st = st;
    in.scope = scope;
    in.verbose = verbose;
    for (int i = 0; i < argc && !in.failed; i++)
        read_path(&in, argv[i]);
    fprintf(stderr, "mailvet: store ingest-dsn: %zu recorded, %zu skipped\n",
            in.recorded, in.skipped);
    if (in.failed)
        return MV_EXIT_USAGE;
    return in.skipped ? MV_EXIT_UNDELIVERABLE : MV_EXIT_OK;
}
