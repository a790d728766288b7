/*
 * store_sqlite.c - the store's embedded backend: one SQLite file.
 *
 * Keeps rows only; the rules are store.c's.  Choices, and why:
 *  - journal_mode=WAL: readers never block the writer nor the writer
 *    the readers, so a check can read while an import writes, from
 *    other processes too.
 *  - synchronous=FULL: in WAL mode NORMAL does not sync the WAL on
 *    commit, so a power cut or OS crash may roll back the last
 *    transactions that had already been acknowledged (SQLite's "WAL"
 *    and "PRAGMA synchronous" pages).  An acknowledged write must
 *    survive a crash (DESIGN.md), and imports batch thousands of rows
 *    per transaction, so the one fsync per commit costs little.
 *  - BEGIN IMMEDIATE: a writer takes the write lock when the
 *    transaction starts, so two writers never deadlock upgrading a
 *    read lock; the other waits up to busy_timeout, then VL_ETEMP.
 *  - prepared statements, made once per connection.
 *  - the address as first seen is stored as '' when it is the key, as
 *    it mostly is: rows a quarter shorter, so fewer pages to split,
 *    write and read.
 *  - the schema version is PRAGMA user_version; upgrades run in order
 *    inside one write transaction, so concurrent openers do it once.
 *    Two processes opening a new file at once may find it locked in a
 *    way the busy handler does not wait for (turning on WAL, making
 *    the schema); open tries again, with backoff, for busy_timeout.
 *  - every write numbers its transaction in "seq": the highest number
 *    in the file plus one, taken under the write lock, so numbers grow
 *    in commit order and changes() reads what changed since a number
 *    through an index.
 *  - changed() reads the WAL-index header (walformat.html §2.1, the
 *    first 48 bytes of the -shm file), which every commit by any
 *    connection or process rewrites, through SQLite's own mapping of
 *    it (xShmMap of the VFS): no system call, and no second file
 *    descriptor, whose close() would drop SQLite's POSIX locks.
 * What it does not do: share a connection between threads without the
 * front's mutex (opened SQLITE_OPEN_NOMUTEX for that reason).
 */
#include "internal.h"

#include <errno.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

enum { WAL_HDR_WORDS = 12 }; /* the 48-byte WAL-index header */

typedef struct sq_store {
    sqlite3 *db;
    sqlite3_stmt *get, *put, *add, *find, *touch, *iter, *begin, *commit,
        *rollback, *next_seq, *max_seq, *load, *since;
    int64_t tx_seq; /* this write transaction's number; 0: none yet */
    int last_rc;    /* the last failure's SQLite result code */
    char soft[VL_STORE_SOFT_MAX * 21 + 1]; /* put's soft_at, as text */
    const volatile uint32_t *shm;          /* the WAL-index header, or NULL */
    uint32_t seen[WAL_HDR_WORDS];          /* it, when changes() last began */
    char msg[256];
} sq_store;

/* Schema upgrades: step i takes user_version i to i + 1.  Append only. */
static const char *const migrations[] = {
    /* 0 -> 1 */
    "CREATE TABLE entries ("
    " key TEXT NOT NULL,"
    " scope TEXT NOT NULL DEFAULT '',"
    " address TEXT NOT NULL,"
    " source INTEGER NOT NULL,"
    " reason TEXT NOT NULL,"
    " status TEXT NOT NULL DEFAULT '',"
    " diagnostic TEXT NOT NULL DEFAULT '',"
    " count INTEGER NOT NULL DEFAULT 0,"
    " soft_at TEXT NOT NULL DEFAULT '',"
    " first_seen INTEGER NOT NULL DEFAULT 0,"
    " last_seen INTEGER NOT NULL DEFAULT 0,"
    " last_hit INTEGER NOT NULL DEFAULT 0,"
    " suppressed INTEGER NOT NULL DEFAULT 0,"
    " removed_at INTEGER NOT NULL DEFAULT 0,"
    " removed_by TEXT NOT NULL DEFAULT '',"
    " PRIMARY KEY (key, scope)) WITHOUT ROWID;",
    /* 1 -> 2: the transaction number of each row's last write, indexed
     * for changes() since a number.  Only the number: every row of one
     * transaction has the same, and an index of more columns that are
     * equal too (suppressed, source, last_seen of an import) made each
     * insert compare them all, a tenth more work per imported row. */
    "ALTER TABLE entries ADD COLUMN seq INTEGER NOT NULL DEFAULT 0;"
    "CREATE INDEX entries_seq ON entries (seq);",
};

#define COLS                                                                  \
    "key, scope, address, source, reason, status, diagnostic, count, "        \
    "soft_at, first_seen, last_seen, last_hit, suppressed, removed_at, "      \
    "removed_by"
#define PARAMS "?1,?2,?3,?4,?5,?6,?7,?8,?9,?10,?11,?12,?13,?14,?15,?16"
#define CHANGE_COLS "key, scope, source, suppressed, max(last_seen, last_hit)"

/* Busy, locked, I/O, full disk, cannot open: could not tell now. */
static vl_status map_rc(sq_store *s, int rc)
{
    if (rc == SQLITE_OK || rc == SQLITE_DONE || rc == SQLITE_ROW)
        return VL_OK;
    s->last_rc = rc;
    snprintf(s->msg, sizeof s->msg, "sqlite: %s", sqlite3_errmsg(s->db));
    switch (rc & 0xFF) {
    case SQLITE_NOMEM:
        return VL_ENOMEM;
    case SQLITE_CORRUPT:
    case SQLITE_NOTADB:
    case SQLITE_MISUSE:
    case SQLITE_RANGE:
    case SQLITE_ERROR:
        return VL_EINTERNAL;
    default: /* BUSY, LOCKED, IOERR, FULL, CANTOPEN, PROTOCOL, ... */
        return VL_ETEMP;
    }
}

static vl_status step_done(sq_store *s, sqlite3_stmt *stmt)
{
    int rc = sqlite3_step(stmt);
    sqlite3_reset(stmt);
    return rc == SQLITE_DONE ? VL_OK : map_rc(s, rc);
}

static vl_status sq_begin(void *be)
{
    sq_store *s = be;
    s->tx_seq = 0;
    return step_done(s, s->begin);
}

static vl_status sq_commit(void *be)
{
    sq_store *s = be;
    s->tx_seq = 0;
    return step_done(s, s->commit);
}

static void sq_rollback(void *be)
{
    sq_store *s = be;
    s->tx_seq = 0;
    if (!sqlite3_get_autocommit(s->db))
        (void)step_done(s, s->rollback);
}

/* The number of this write transaction, taken at its first write: it
 * holds the write lock (BEGIN IMMEDIATE), so no other writer can take
 * the same one or commit a smaller one after it. */
static vl_status tx_seq(sq_store *s)
{
    int rc;

    if (s->tx_seq != 0)
        return VL_OK;
    if ((rc = sqlite3_step(s->next_seq)) == SQLITE_ROW)
        s->tx_seq = sqlite3_column_int64(s->next_seq, 0);
    sqlite3_reset(s->next_seq);
    return rc == SQLITE_ROW ? VL_OK : map_rc(s, rc);
}

static void col_text(sqlite3_stmt *q, int i, char *dst, size_t cap)
{
    const unsigned char *t = sqlite3_column_text(q, i);
    snprintf(dst, cap, "%s", t ? (const char *)t : "");
}

static void soft_parse(const char *s, vl_store_entry *e)
{
    char *end;

    e->soft_count = 0;
    while (*s != '\0' && e->soft_count < VL_STORE_SOFT_MAX) {
        long long v = strtoll(s, &end, 10);
        if (end == s)
            break;
        e->soft_at[e->soft_count++] = v;
        s = end;
    }
}

static void row_to_entry(sqlite3_stmt *q, vl_store_entry *e)
{
    memset(e, 0, sizeof *e);
    col_text(q, 0, e->key, sizeof e->key);
    col_text(q, 1, e->scope, sizeof e->scope);
    col_text(q, 2, e->address, sizeof e->address);
    if (e->address[0] == '\0') /* kept as '' when it was the key */
        memcpy(e->address, e->key, sizeof e->address);
    e->source = (vl_store_source)sqlite3_column_int(q, 3);
    col_text(q, 4, e->reason, sizeof e->reason);
    col_text(q, 5, e->status, sizeof e->status);
    col_text(q, 6, e->diagnostic, sizeof e->diagnostic);
    e->count = (uint32_t)sqlite3_column_int64(q, 7);
    soft_parse((const char *)sqlite3_column_text(q, 8), e);
    e->first_seen = sqlite3_column_int64(q, 9);
    e->last_seen = sqlite3_column_int64(q, 10);
    e->last_hit = sqlite3_column_int64(q, 11);
    e->suppressed = sqlite3_column_int(q, 12);
    e->removed_at = sqlite3_column_int64(q, 13);
    col_text(q, 14, e->removed_by, sizeof e->removed_by);
}

static vl_status one_row(sq_store *s, sqlite3_stmt *q, vl_store_entry *out)
{
    int rc = sqlite3_step(q);
    vl_status st = VL_ENOTFOUND;

    if (rc == SQLITE_ROW) {
        row_to_entry(q, out);
        st = VL_OK;
    } else if (rc != SQLITE_DONE) {
        st = map_rc(s, rc);
    }
    sqlite3_reset(q);
    return st;
}

static vl_status sq_get(void *be, const char *key, const char *scope,
                        vl_store_entry *out)
{
    sq_store *s = be;

    sqlite3_bind_text(s->get, 1, key, -1, SQLITE_STATIC);
    sqlite3_bind_text(s->get, 2, scope, -1, SQLITE_STATIC);
    return one_row(s, s->get, out);
}

static vl_status sq_find(void *be, const char *key, const char *dkey,
                         const char *scope, int64_t min_touch,
                         vl_store_entry *out)
{
    sq_store *s = be;

    sqlite3_bind_text(s->find, 1, key, -1, SQLITE_STATIC);
    sqlite3_bind_text(s->find, 2, dkey, -1, SQLITE_STATIC);
    sqlite3_bind_text(s->find, 3, scope, -1, SQLITE_STATIC);
    sqlite3_bind_int64(s->find, 4, min_touch);
    return one_row(s, s->find, out);
}

/* Bind an entry to put's or add's parameters ?1..?16. */
static vl_status bind_entry(sq_store *s, sqlite3_stmt *q,
                            const vl_store_entry *e)
{
    char *soft = s->soft; /* bound until the step, as e's fields */
    size_t n = 0;
    vl_status st;

    if ((st = tx_seq(s)) != VL_OK)
        return st;
    soft[0] = '\0';
    for (unsigned i = 0; i < e->soft_count && i < VL_STORE_SOFT_MAX; i++)
        n += (size_t)snprintf(soft + n, sizeof s->soft - n, "%s%lld",
                              i ? " " : "", (long long)e->soft_at[i]);
    sqlite3_bind_text(q, 1, e->key, -1, SQLITE_STATIC);
    sqlite3_bind_text(q, 2, e->scope, -1, SQLITE_STATIC);
    /* Most addresses are their key already (lower case, no provider
     * rule to apply): '' then, a quarter less row to write and read. */
    sqlite3_bind_text(q, 3, strcmp(e->address, e->key) ? e->address : "", -1,
                      SQLITE_STATIC);
    sqlite3_bind_int(q, 4, (int)e->source);
    sqlite3_bind_text(q, 5, e->reason, -1, SQLITE_STATIC);
    sqlite3_bind_text(q, 6, e->status, -1, SQLITE_STATIC);
    sqlite3_bind_text(q, 7, e->diagnostic, -1, SQLITE_STATIC);
    sqlite3_bind_int64(q, 8, e->count);
    sqlite3_bind_text(q, 9, soft, -1, SQLITE_STATIC);
    sqlite3_bind_int64(q, 10, e->first_seen);
    sqlite3_bind_int64(q, 11, e->last_seen);
    sqlite3_bind_int64(q, 12, e->last_hit);
    sqlite3_bind_int(q, 13, e->suppressed != 0);
    sqlite3_bind_int64(q, 14, e->removed_at);
    sqlite3_bind_text(q, 15, e->removed_by, -1, SQLITE_STATIC);
    sqlite3_bind_int64(q, 16, s->tx_seq);
    return VL_OK;
}

static vl_status sq_put(void *be, const vl_store_entry *e)
{
    sq_store *s = be;
    vl_status st = bind_entry(s, s->put, e);

    return st == VL_OK ? step_done(s, s->put) : st;
}

static vl_status sq_add(void *be, const vl_store_entry *e, int *added)
{
    sq_store *s = be;
    vl_status st = bind_entry(s, s->add, e);

    *added = 0;
    if (st == VL_OK && (st = step_done(s, s->add)) == VL_OK)
        *added = sqlite3_changes(s->db) == 1;
    return st;
}

static vl_status sq_touch(void *be, const char *key, const char *scope,
                          int64_t at)
{
    sq_store *s = be;

    sqlite3_bind_int64(s->touch, 1, at);
    sqlite3_bind_text(s->touch, 2, key, -1, SQLITE_STATIC);
    sqlite3_bind_text(s->touch, 3, scope, -1, SQLITE_STATIC);
    return step_done(s, s->touch);
}

/* The WAL-index header as it is now.  Another process may be writing
 * it: a torn copy only differs from what was seen, which is safe (one
 * needless read of the changes). */
static void shm_header(const sq_store *s, uint32_t out[WAL_HDR_WORDS])
{
    for (int i = 0; i < WAL_HDR_WORDS; i++)
        out[i] = s->shm[i];
}

static int sq_changed(void *be)
{
    sq_store *s = be;
    uint32_t now[WAL_HDR_WORDS];

    if (s->shm == NULL)
        return 1; /* cannot tell: read the changes every time */
    shm_header(s, now);
    return memcmp(now, s->seen, sizeof now) != 0;
}

/* One row of load or since: CHANGE_COLS. */
static int change_row(sqlite3_stmt *q, vl_store_change_cb cb, void *arg)
{
    vl_store_change c;
    const unsigned char *key = sqlite3_column_text(q, 0);
    const unsigned char *scope = sqlite3_column_text(q, 1);

    c.key = key ? (const char *)key : "";
    c.scope = scope ? (const char *)scope : "";
    c.source = (vl_store_source)sqlite3_column_int(q, 2);
    c.suppressed = sqlite3_column_int(q, 3);
    c.touched = sqlite3_column_int64(q, 4);
    return cb(arg, &c);
}

/* The header is read before the snapshot is taken: a commit after that
 * moves it again, so changed() can only err towards reading again. */
static vl_status sq_changes(void *be, uint64_t since, vl_store_change_cb cb,
                            void *arg, uint64_t *upto)
{
    sq_store *s = be;
    sqlite3_stmt *q = since ? s->since : s->load;
    bool own_tx = sqlite3_get_autocommit(s->db) != 0;
    int64_t hi = 0;
    int rc;

    if (s->shm != NULL)
        shm_header(s, s->seen);
    /* one snapshot for the high-water mark and the rows */
    if (own_tx &&
        (rc = sqlite3_exec(s->db, "BEGIN", NULL, NULL, NULL)) != SQLITE_OK)
        return map_rc(s, rc);
    if ((rc = sqlite3_step(s->max_seq)) == SQLITE_ROW)
        hi = sqlite3_column_int64(s->max_seq, 0);
    sqlite3_reset(s->max_seq);
    if (rc == SQLITE_ROW) {
        sqlite3_bind_int64(q, 1, (sqlite3_int64)since);
        while ((rc = sqlite3_step(q)) == SQLITE_ROW)
            if (change_row(q, cb, arg) != 0) {
                rc = SQLITE_DONE;
                break;
            }
        sqlite3_reset(q);
    }
    if (own_tx)
        sqlite3_exec(s->db, rc == SQLITE_DONE ? "COMMIT" : "ROLLBACK", NULL,
                     NULL, NULL);
    if (rc != SQLITE_DONE)
        return map_rc(s, rc);
    *upto = hi > 0 && (uint64_t)hi > since ? (uint64_t)hi : since;
    return VL_OK;
}

static vl_status sq_iterate(void *be, vl_store_entry_cb cb, void *arg)
{
    sq_store *s = be;
    vl_store_entry *e = malloc(sizeof *e);
    vl_status st = VL_OK;
    int rc;

    if (e == NULL)
        return VL_ENOMEM;
    while ((rc = sqlite3_step(s->iter)) == SQLITE_ROW) {
        row_to_entry(s->iter, e);
        if (cb(arg, e) != 0)
            break;
    }
    if (rc != SQLITE_ROW && rc != SQLITE_DONE)
        st = map_rc(s, rc);
    sqlite3_reset(s->iter);
    free(e);
    return st;
}

static vl_status sq_stats(void *be, vl_store_stats *out)
{
    static const char sql[] =
        "SELECT count(*), total(suppressed),"
        " total(NOT suppressed AND removed_at > 0),"
        " total(NOT suppressed AND removed_at = 0 AND source = 2),"
        " total(key LIKE '@%'),"
        " total(suppressed AND source = 0), total(suppressed AND source = 1),"
        " total(suppressed AND source = 2), total(suppressed AND source = 3)"
        " FROM entries";
    sq_store *s = be;
    sqlite3_stmt *q;
    int rc = sqlite3_prepare_v2(s->db, sql, -1, &q, NULL);

    if (rc != SQLITE_OK)
        return map_rc(s, rc);
    if ((rc = sqlite3_step(q)) == SQLITE_ROW) {
        out->entries = (uint64_t)sqlite3_column_int64(q, 0);
        out->suppressed = (uint64_t)sqlite3_column_double(q, 1);
        out->removed = (uint64_t)sqlite3_column_double(q, 2);
        out->pending = (uint64_t)sqlite3_column_double(q, 3);
        out->domains = (uint64_t)sqlite3_column_double(q, 4);
        for (int i = 0; i < 4; i++)
            out->by_source[i] = (uint64_t)sqlite3_column_double(q, 5 + i);
        rc = SQLITE_OK;
    }
    sqlite3_finalize(q);
    return map_rc(s, rc);
}

static const char *sq_errmsg(void *be)
{
    return ((sq_store *)be)->msg;
}

static void sq_close(void *be)
{
    sq_store *s = be;

    if (s == NULL)
        return;
    sqlite3_stmt *all[] = {s->get,      s->put,      s->add,     s->find,
                           s->touch,    s->iter,     s->begin,   s->commit,
                           s->rollback, s->next_seq, s->max_seq, s->load,
                           s->since};
    for (size_t i = 0; i < sizeof all / sizeof all[0]; i++)
        sqlite3_finalize(all[i]);
    sqlite3_close(s->db); /* also checkpoints the WAL when last */
    free(s);
}

static const vl_store_ops sqlite_ops = {
    .version = VL_STORE_OPS_V2,
    .name = "sqlite",
    .begin = sq_begin,
    .commit = sq_commit,
    .rollback = sq_rollback,
    .get = sq_get,
    .put = sq_put,
    .find = sq_find,
    .touch = sq_touch,
    .iterate = sq_iterate,
    .stats = sq_stats,
    .close = sq_close,
    .errmsg = sq_errmsg,
    .add = sq_add,
    .changes = sq_changes,
    .changed = sq_changed,
};

/* Make the folders above 'path' (mode 0700: the store names people). */
static int make_parents(const char *path)
{
    char buf[4096];
    size_t n = strlen(path);

    if (n >= sizeof buf)
        return -1;
    memcpy(buf, path, n + 1);
    for (char *p = buf + 1; *p != '\0'; p++) {
        if (*p != '/')
            continue;
        *p = '\0';
        if (mkdir(buf, 0700) != 0 && errno != EEXIST)
            return -1;
        *p = '/';
    }
    return 0;
}

static vl_status exec(sq_store *s, const char *sql)
{
    return map_rc(s, sqlite3_exec(s->db, sql, NULL, NULL, NULL));
}

static vl_status migrate(sq_store *s)
{
    const int latest = (int)(sizeof migrations / sizeof migrations[0]);
    sqlite3_stmt *q;
    vl_status st;
    int version = 0;

    if ((st = exec(s, "BEGIN IMMEDIATE")) != VL_OK)
        return st;
    if (sqlite3_prepare_v2(s->db, "PRAGMA user_version", -1, &q, NULL) ==
        SQLITE_OK) {
        if (sqlite3_step(q) == SQLITE_ROW)
            version = sqlite3_column_int(q, 0);
        sqlite3_finalize(q);
    }
    if (version > latest) {
        snprintf(s->msg, sizeof s->msg,
                 "sqlite: schema version %d is newer than this mailvet "
                 "(%d)",
                 version, latest);
        exec(s, "ROLLBACK");
        return VL_EDATA;
    }
    for (; version < latest; version++) {
        char pragma[64];
        snprintf(pragma, sizeof pragma, "PRAGMA user_version = %d",
                 version + 1);
        if ((st = exec(s, migrations[version])) != VL_OK ||
            (st = exec(s, pragma)) != VL_OK) {
            exec(s, "ROLLBACK");
            return st;
        }
    }
    if ((st = exec(s, "COMMIT")) != VL_OK)
        exec(s, "ROLLBACK");
    return st;
}

static vl_status prepare_all(sq_store *s)
{
    struct {
        sqlite3_stmt **stmt;
        const char *sql;
    } list[] = {
        {&s->get, "SELECT " COLS " FROM entries WHERE key = ?1 AND "
                  "scope = ?2"},
        {&s->put, "INSERT OR REPLACE INTO entries (" COLS ", seq) VALUES "
                  "(" PARAMS ")"},
        {&s->add, "INSERT INTO entries (" COLS ", seq) VALUES (" PARAMS
                  ") ON CONFLICT (key, scope) DO NOTHING"},
        {&s->find, "SELECT " COLS " FROM entries WHERE key IN (?1, ?2) "
                   "AND scope IN ('', ?3) AND suppressed = 1 AND "
                   "max(last_seen, last_hit) >= ?4 ORDER BY key = ?1 DESC, "
                   "scope = ?3 DESC LIMIT 1"},
        {&s->touch, "UPDATE entries SET last_hit = ?1, seq = (SELECT "
                    "coalesce(max(seq), 0) + 1 FROM entries) WHERE "
                    "key = ?2 AND scope = ?3"},
        {&s->next_seq, "SELECT coalesce(max(seq), 0) + 1 FROM entries"},
        {&s->max_seq, "SELECT coalesce(max(seq), 0) FROM entries"},
        {&s->load, "SELECT " CHANGE_COLS " FROM entries NOT INDEXED "
                   "WHERE suppressed = 1 AND ?1 = 0"},
        {&s->since, "SELECT " CHANGE_COLS " FROM entries INDEXED BY "
                    "entries_seq WHERE seq > ?1"},
        {&s->iter, "SELECT " COLS " FROM entries ORDER BY key, scope"},
        {&s->begin, "BEGIN IMMEDIATE"},
        {&s->commit, "COMMIT"},
        {&s->rollback, "ROLLBACK"},
    };
    for (size_t i = 0; i < sizeof list / sizeof list[0]; i++) {
        int rc =
            sqlite3_prepare_v3(s->db, list[i].sql, -1,
                               SQLITE_PREPARE_PERSISTENT, list[i].stmt, NULL);
        if (rc != SQLITE_OK)
            return map_rc(s, rc);
    }
    return VL_OK;
}

static bool busy(const sq_store *s)
{
    int rc = s->last_rc & 0xFF;
    return rc == SQLITE_BUSY || rc == SQLITE_LOCKED;
}

/* Sleep about 'ms' milliseconds, up to twice that: two openers that
 * collided should not retry in step. */
static void backoff(unsigned ms)
{
    struct timespec now, d;

    clock_gettime(CLOCK_MONOTONIC, &now);
    ms += (unsigned)(now.tv_nsec / 1000) % (ms + 1);
    d.tv_sec = ms / 1000;
    d.tv_nsec = (long)(ms % 1000) * 1000000L;
    nanosleep(&d, NULL);
}

/* WAL on, the schema made or upgraded.  Two processes doing this to a
 * new file at once can get SQLITE_BUSY that the busy handler does not
 * wait for (the change of journal mode, a schema read racing the
 * schema write): try again, with backoff, for up to 'busy_ms'. */
static vl_status set_up(sq_store *s, unsigned busy_ms)
{
    unsigned waited = 0, pause = 1;
    vl_status st;

    for (;;) {
        st = exec(s, "PRAGMA journal_mode = WAL; PRAGMA synchronous = FULL;");
        if (st == VL_OK && (st = migrate(s)) == VL_OK)
            return VL_OK;
        if (st != VL_ETEMP || !busy(s) || waited >= busy_ms)
            return st;
        backoff(pause);
        waited += pause;
        pause = pause < 64 ? pause * 2 : 100;
    }
}

/* Find SQLite's own mapping of the WAL-index header (see the top), when
 * the file is in WAL mode and the VFS has shared memory. */
static void shm_watch(sq_store *s)
{
    sqlite3_file *f = NULL;
    void volatile *p = NULL;
    sqlite3_stmt *q;
    bool wal = false;

    if (sqlite3_prepare_v2(s->db, "PRAGMA journal_mode", -1, &q, NULL) ==
        SQLITE_OK) {
        wal = sqlite3_step(q) == SQLITE_ROW &&
              sqlite3_stricmp((const char *)sqlite3_column_text(q, 0),
                              "wal") == 0;
        sqlite3_finalize(q);
    }
    if (!wal ||
        sqlite3_file_control(s->db, "main", SQLITE_FCNTL_FILE_POINTER, &f) !=
            SQLITE_OK ||
        f == NULL || f->pMethods == NULL || f->pMethods->iVersion < 2 ||
        f->pMethods->xShmMap == NULL)
        return;
    /* region 0, of the size SQLite maps (WALINDEX_PGSZ), not extended */
    if (f->pMethods->xShmMap(f, 0, 32768, 0, &p) != SQLITE_OK || p == NULL)
        return;
    /* iVersion 3007000, isInit set: the header SQLite itself keeps */
    if (((const volatile uint32_t *)p)[0] != 3007000 ||
        ((const volatile uint8_t *)p)[12] != 1)
        return;
    s->shm = (const volatile uint32_t *)p;
}

vl_status vl__store_sqlite_open(const char *path, const vl_store_config *cfg,
                                const vl_store_ops **ops, void **be, char *err,
                                size_t err_cap)
{
    sq_store *s = calloc(1, sizeof *s);
    vl_status st = VL_ENOMEM;

    if (s == NULL)
        goto fail;
    st = VL_EIO;
    if (path[0] == '\0' || make_parents(path) != 0) {
        snprintf(s->msg, sizeof s->msg, "sqlite: %s: cannot make its folder",
                 path);
        goto fail;
    }
    if (sqlite3_open_v2(path, &s->db,
                        SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE |
                            SQLITE_OPEN_NOMUTEX,
                        NULL) != SQLITE_OK) {
        snprintf(s->msg, sizeof s->msg, "sqlite: %s: %s", path,
                 s->db ? sqlite3_errmsg(s->db) : "out of memory");
        goto fail;
    }
    sqlite3_busy_timeout(s->db, (int)cfg->busy_timeout_ms);
    if ((st = set_up(s, cfg->busy_timeout_ms)) != VL_OK ||
        (st = prepare_all(s)) != VL_OK)
        goto fail;
    shm_watch(s);
    *ops = &sqlite_ops;
    *be = s;
    return VL_OK;
fail:
    if (err != NULL && err_cap > 0)
        snprintf(err, err_cap, "%s",
                 s && s->msg[0] ? s->msg : vl_strerror(st));
    sq_close(s);
    return st;
}
