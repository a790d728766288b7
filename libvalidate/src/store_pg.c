/*
 * store_pg.c - the store's shared backend: PostgreSQL through libpq, for
 * several nodes on one store ("postgresql://..." / "postgres://...").
 *
 * Keeps rows only; the rules are store.c's, so it behaves as SQLite.
 * Choices, and why:
 *  - everything lives in the schema "mailvet" (tables entries and
 *    schema_version), so the store can share a database with others.
 *  - schema_version holds one row per applied migration.  Upgrades run
 *    at open, in order, in one transaction that first takes a
 *    transaction-level advisory lock: several nodes starting at once
 *    queue on the lock, and the later ones find the work done.  A
 *    database from a newer mailvet is refused.
 *  - key and scope are COLLATE "C": byte order and byte equality as in
 *    SQLite, and the primary key index serves iterate()'s ORDER BY.
 *  - READ COMMITTED.  Every write transaction begins by bumping the
 *    one row of mailvet.counter and keeps its row lock to the end:
 *    writers take turns, transaction by transaction, so the number it
 *    got ("seq", written on each row) grows in commit order, and
 *    changes() can read what changed since a number (a writer that
 *    numbered rows first and committed later could otherwise hide them
 *    from a reader that had already moved past).  Taking it first also
 *    means no writer waits for the counter while holding an entry's
 *    row lock that another holder of the counter wants (no deadlock).
 *  - add() is INSERT ... ON CONFLICT DO NOTHING: one round trip for a
 *    new entry.  get() inside a transaction is SELECT ... FOR UPDATE,
 *    so no other writer changes an existing entry until commit (the
 *    rules run on what get() saw).  put() is INSERT ... ON CONFLICT DO
 *    UPDATE, allowed to update only when get() had found the row: had
 *    another node inserted the same new key meanwhile, nothing is
 *    written and the call is VL_ETEMP (the transaction rolls back)
 *    instead of overwriting its outcome with one computed from "not
 *    there".  (With the counter first, writers no longer overlap, so
 *    this is a second line of defence.)
 *  - no changed(): telling whether anything changed takes a query, so
 *    the lookup cache asks changes() at most every cache_check_ms.
 *  - connection loss, serialization failures, deadlocks, timeouts, a
 *    server shutting down or out of resources: VL_ETEMP, never an
 *    answer.  The next call reconnects (and prepares again); a read
 *    outside a transaction that met a dropped connection is retried
 *    once on a fresh one, since a read is safe to repeat.
 *  - prepared statements per connection; iterate() reads through a
 *    cursor, 1,000 rows per FETCH, so memory stays flat.
 *  - lock_timeout is the config's busy_timeout_ms (the wait for another
 *    writer, as SQLite's busy timeout); statement_timeout 60 s, so a
 *    stuck server gives VL_ETEMP rather than a hang.
 * What it does not do: TLS or authentication settings of its own (the
 * URI and libpq's environment variables and files say those).
 */
#include "internal.h"

#include <libpq-fe.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct pg_store {
    PGconn *conn;
    char *uri;
    unsigned lock_timeout_ms;
    bool in_tx;
    char tx_seq[24]; /* this write transaction's number, as text */
    bool broken;     /* the connection is gone: reconnect on the next call */
    /* What the last get() saw, for put()'s "may update" (see above). */
    char got_key[VL_STORE_KEY_CAP];
    char got_scope[VL_STORE_SCOPE_CAP];
    bool got_found;
    char msg[256];
} pg_store;

/* Any 64-bit number that no other program is likely to lock: "mailvet1". */
#define MIGRATION_LOCK "7881706624306197553"

/* Schema upgrades: step i takes version i to i + 1.  Append only. */
static const char *const migrations[] = {
    /* 0 -> 1 */
    "CREATE TABLE mailvet.entries ("
    " key text COLLATE \"C\" NOT NULL,"
    " scope text COLLATE \"C\" NOT NULL DEFAULT '',"
    " address text NOT NULL,"
    " source smallint NOT NULL,"
    " reason text NOT NULL,"
    " status text NOT NULL DEFAULT '',"
    " diagnostic text NOT NULL DEFAULT '',"
    " count bigint NOT NULL DEFAULT 0,"
    " soft_at bigint[] NOT NULL DEFAULT '{}',"
    " first_seen bigint NOT NULL DEFAULT 0,"
    " last_seen bigint NOT NULL DEFAULT 0,"
    " last_hit bigint NOT NULL DEFAULT 0,"
    " suppressed boolean NOT NULL DEFAULT false,"
    " removed_at bigint NOT NULL DEFAULT 0,"
    " removed_by text NOT NULL DEFAULT '',"
    " PRIMARY KEY (key, scope))",
    /* 1 -> 2: the write counter, and each row's transaction number */
    "CREATE TABLE mailvet.counter ("
    " one boolean PRIMARY KEY DEFAULT true CHECK (one),"
    " seq bigint NOT NULL);"
    "INSERT INTO mailvet.counter (seq) VALUES (0);"
    "ALTER TABLE mailvet.entries ADD COLUMN seq bigint NOT NULL DEFAULT 0;"
    "CREATE INDEX entries_seq ON mailvet.entries (seq)",
};

#define COLS                                                                  \
    "key, scope, address, source, reason, status, diagnostic, count, "        \
    "soft_at, first_seen, last_seen, last_hit, suppressed, removed_at, "      \
    "removed_by"
#define PARAMS "$1,$2,$3,$4,$5,$6,$7,$8,$9,$10,$11,$12,$13,$14,$15,$16"
#define CHANGE_COLS                                                           \
    "key, scope, source, suppressed, greatest(last_seen, last_hit)"

/* The statements prepared on each connection. */
static const struct {
    const char *name, *sql;
} statements[] = {
    {"mv_get", "SELECT " COLS " FROM mailvet.entries WHERE key = $1 AND "
               "scope = $2"},
    {"mv_get_lock", "SELECT " COLS " FROM mailvet.entries WHERE key = $1 "
                    "AND scope = $2 FOR UPDATE"},
    {"mv_put",
     "INSERT INTO mailvet.entries (" COLS ", seq) VALUES (" PARAMS ") "
     "ON CONFLICT (key, scope) DO UPDATE SET address = EXCLUDED.address, "
     "source = EXCLUDED.source, reason = EXCLUDED.reason, "
     "status = EXCLUDED.status, diagnostic = EXCLUDED.diagnostic, "
     "count = EXCLUDED.count, soft_at = EXCLUDED.soft_at, "
     "first_seen = EXCLUDED.first_seen, last_seen = EXCLUDED.last_seen, "
     "last_hit = EXCLUDED.last_hit, suppressed = EXCLUDED.suppressed, "
     "removed_at = EXCLUDED.removed_at, removed_by = EXCLUDED.removed_by, "
     "seq = EXCLUDED.seq WHERE $17::boolean"},
    {"mv_add", "INSERT INTO mailvet.entries (" COLS ", seq) VALUES (" PARAMS
               ") ON CONFLICT (key, scope) DO NOTHING"},
    {"mv_find", "SELECT " COLS " FROM mailvet.entries WHERE key IN ($1, $2) "
                "AND scope IN ('', $3) AND suppressed AND "
                "greatest(last_seen, last_hit) >= $4::bigint "
                "ORDER BY key = $1 DESC, scope = $3 DESC LIMIT 1"},
    {"mv_touch", "WITH c AS (UPDATE mailvet.counter SET seq = seq + 1 "
                 "RETURNING seq) UPDATE mailvet.entries SET last_hit = $1, "
                 "seq = (SELECT seq FROM c) WHERE key = $2 AND scope = $3"},
    {"mv_stats", "SELECT count(*), count(*) FILTER (WHERE suppressed),"
                 " count(*) FILTER (WHERE NOT suppressed AND removed_at > 0),"
                 " count(*) FILTER (WHERE NOT suppressed AND removed_at = 0"
                 " AND source = 2),"
                 " count(*) FILTER (WHERE key LIKE '@%'),"
                 " count(*) FILTER (WHERE suppressed AND source = 0),"
                 " count(*) FILTER (WHERE suppressed AND source = 1),"
                 " count(*) FILTER (WHERE suppressed AND source = 2),"
                 " count(*) FILTER (WHERE suppressed AND source = 3)"
                 " FROM mailvet.entries"},
};

static void set_msg(pg_store *s, const char *what, const char *detail)
{
    size_t n;

    snprintf(s->msg, sizeof s->msg, "postgresql: %s%s%s", what,
             what[0] && detail && detail[0] ? ": " : "", detail ? detail : "");
    /* libpq's messages span lines ("...\n\tIs the server running"):
     * one line, for logs and "mailvet: store: ..." */
    for (char *p = s->msg; *p != '\0'; p++)
        if (*p == '\n' || *p == '\t')
            *p = ' ';
    n = strlen(s->msg);
    while (n > 0 && s->msg[n - 1] == ' ')
        s->msg[--n] = '\0';
}

/* Map a failed result.  SQLSTATE classes (PostgreSQL, Appendix A) that
 * mean "the server cannot answer now" are VL_ETEMP: 08 connection, 40
 * serialization failure and deadlock, 53 out of resources, 55P03 lock
 * timeout, 57 canceled (statement_timeout) or shutting down, 58 I/O.
 * No SQLSTATE at all is a failure in talking to the server: VL_ETEMP. */
static vl_status fail_status(pg_store *s, const PGresult *r)
{
    const char *st = r ? PQresultErrorField(r, PG_DIAG_SQLSTATE) : NULL;

    set_msg(s, "", r ? PQresultErrorMessage(r) : PQerrorMessage(s->conn));
    if (PQstatus(s->conn) == CONNECTION_BAD) {
        s->broken = true;
        return VL_ETEMP;
    }
    if (st == NULL || strlen(st) != 5)
        return VL_ETEMP;
    if (strncmp(st, "08", 2) == 0 || strncmp(st, "40", 2) == 0 ||
        strncmp(st, "53", 2) == 0 || strncmp(st, "57", 2) == 0 ||
        strncmp(st, "58", 2) == 0 || strcmp(st, "55P03") == 0)
        return VL_ETEMP;
    if (strcmp(st, "53200") == 0)
        return VL_ENOMEM;
    if (strncmp(st, "22", 2) == 0)
        return VL_EDATA;
    return VL_EINTERNAL;
}

/* Run a statement with no rows to read. */
static vl_status exec(pg_store *s, const char *sql)
{
    PGresult *r = PQexec(s->conn, sql);
    vl_status st = VL_OK;

    if (PQresultStatus(r) != PGRES_COMMAND_OK &&
        PQresultStatus(r) != PGRES_TUPLES_OK)
        st = fail_status(s, r);
    PQclear(r);
    return st;
}

static vl_status prepare_all(pg_store *s)
{
    for (size_t i = 0; i < sizeof statements / sizeof statements[0]; i++) {
        PGresult *r =
            PQprepare(s->conn, statements[i].name, statements[i].sql, 0, NULL);
        vl_status st =
            PQresultStatus(r) == PGRES_COMMAND_OK ? VL_OK : fail_status(s, r);
        PQclear(r);
        if (st != VL_OK)
            return st;
    }
    return VL_OK;
}

/* libpq prints the server's notices and warnings on stderr by default;
 * a library must not write there (and none of ours needs reading). */
static void quiet(void *arg, const char *message)
{
    (void)arg, (void)message;
}

/* Connect and set the session up.  Defaults come before the URI's
 * expansion, so whatever the URI says wins (libpq: later parameters
 * override earlier ones). */
static vl_status connect_db(pg_store *s)
{
    const char *keys[] = {"connect_timeout",
                          "application_name",
                          "client_encoding",
                          "keepalives_idle",
                          "keepalives_interval",
                          "keepalives_count",
                          "dbname",
                          NULL};
    const char *vals[] = {"10", "mailvet", "UTF8", "30",
                          "10", "3",       s->uri, NULL};
    char set[128];
    vl_status st;

    if (s->conn != NULL)
        PQfinish(s->conn);
    s->broken = false;
    s->in_tx = false;
    s->conn = PQconnectdbParams(keys, vals, 1);
    if (s->conn == NULL) {
        set_msg(s, "cannot connect", "out of memory");
        s->broken = true;
        return VL_ENOMEM;
    }
    if (PQstatus(s->conn) != CONNECTION_OK) {
        set_msg(s, "cannot connect", PQerrorMessage(s->conn));
        s->broken = true;
        return VL_ETEMP;
    }
    PQsetNoticeProcessor(s->conn, quiet, NULL);
    snprintf(set, sizeof set,
             "SET lock_timeout = %u; SET statement_timeout = 60000",
             s->lock_timeout_ms);
    if ((st = exec(s, set)) != VL_OK)
        s->broken = true;
    return st;
}

/* Before each call: a connection that broke is replaced.  Inside a
 * transaction it cannot be: the transaction died with the connection,
 * and the caller must roll back (store.c does, on VL_ETEMP). */
static vl_status ready(pg_store *s)
{
    vl_status st;

    if (!s->broken && PQstatus(s->conn) == CONNECTION_OK)
        return VL_OK;
    if (s->in_tx) {
        set_msg(s, "connection lost inside a transaction", NULL);
        return VL_ETEMP;
    }
    if ((st = connect_db(s)) == VL_OK && (st = prepare_all(s)) != VL_OK)
        s->broken = true;
    return st;
}

/* Run a prepared statement; on VL_OK '*out' is its result (PQclear it).
 * A read outside a transaction that met a dropped connection is tried
 * once more on a new one. */
static vl_status run(pg_store *s, const char *name, int n,
                     const char *const *params, bool read, PGresult **out)
{
    for (int attempt = 0;; attempt++) {
        vl_status st = ready(s);
        PGresult *r;

        if (st != VL_OK)
            return st;
        r = PQexecPrepared(s->conn, name, n, params, NULL, NULL, 0);
        ExecStatusType rs = PQresultStatus(r);
        if (rs == PGRES_TUPLES_OK || rs == PGRES_COMMAND_OK) {
            *out = r;
            return VL_OK;
        }
        st = fail_status(s, r);
        PQclear(r);
        if (!(read && s->broken && !s->in_tx && attempt == 0))
            return st;
    }
}

static void pg_rollback(void *be);

/* BEGIN, and the counter (see the top): one round trip. */
static vl_status pg_begin(void *be)
{
    pg_store *s = be;
    PGresult *r;
    vl_status st;

    if ((st = ready(s)) != VL_OK)
        return st;
    r = PQexec(s->conn, "BEGIN; UPDATE mailvet.counter SET seq = seq + 1 "
                        "RETURNING seq");
    s->in_tx = PQtransactionStatus(s->conn) != PQTRANS_IDLE;
    if (PQresultStatus(r) == PGRES_TUPLES_OK && PQntuples(r) == 1)
        snprintf(s->tx_seq, sizeof s->tx_seq, "%s", PQgetvalue(r, 0, 0));
    else
        st = fail_status(s, r);
    PQclear(r);
    if (st != VL_OK)
        pg_rollback(s); /* the caller never began: leave no transaction */
    return st;
}

static vl_status pg_commit(void *be)
{
    pg_store *s = be;
    PGresult *r;
    vl_status st;

    if (!s->in_tx)
        return VL_EINVAL;
    r = PQexec(s->conn, "COMMIT");
    /* COMMIT of a failed transaction "succeeds" as a ROLLBACK: the
     * command tag tells them apart. */
    if (PQresultStatus(r) != PGRES_COMMAND_OK)
        st = fail_status(s, r);
    else if (strcmp(PQcmdStatus(r), "COMMIT") != 0) {
        set_msg(s, "transaction was rolled back", NULL);
        st = VL_ETEMP;
    } else
        st = VL_OK;
    PQclear(r);
    /* After a failed COMMIT the connection may be in a transaction still
     * (or gone); rollback() makes it clean. */
    if (st == VL_OK) {
        s->in_tx = false;
        s->tx_seq[0] = '\0';
    }
    return st;
}

static void pg_rollback(void *be)
{
    pg_store *s = be;

    s->tx_seq[0] = '\0';
    if (!s->in_tx)
        return;
    if (!s->broken && PQstatus(s->conn) == CONNECTION_OK)
        (void)exec(s, "ROLLBACK");
    s->in_tx = false;
}

static long long col_ll(const PGresult *r, int row, int i)
{
    return strtoll(PQgetvalue(r, row, i), NULL, 10);
}

/* "{1,2,3}" (bigint[] as text) into soft_at[]. */
static void soft_parse(const char *p, vl_store_entry *e)
{
    char *end;

    e->soft_count = 0;
    while (*p != '\0' && e->soft_count < VL_STORE_SOFT_MAX) {
        if (*p == '{' || *p == ',' || *p == '}') {
            p++;
            continue;
        }
        long long v = strtoll(p, &end, 10);
        if (end == p)
            break;
        e->soft_at[e->soft_count++] = v;
        p = end;
    }
}

static void row_to_entry(const PGresult *r, int row, vl_store_entry *e)
{
    memset(e, 0, sizeof *e);
    snprintf(e->key, sizeof e->key, "%s", PQgetvalue(r, row, 0));
    snprintf(e->scope, sizeof e->scope, "%s", PQgetvalue(r, row, 1));
    snprintf(e->address, sizeof e->address, "%s", PQgetvalue(r, row, 2));
    e->source = (vl_store_source)col_ll(r, row, 3);
    snprintf(e->reason, sizeof e->reason, "%s", PQgetvalue(r, row, 4));
    snprintf(e->status, sizeof e->status, "%s", PQgetvalue(r, row, 5));
    snprintf(e->diagnostic, sizeof e->diagnostic, "%s", PQgetvalue(r, row, 6));
    e->count = (uint32_t)col_ll(r, row, 7);
    soft_parse(PQgetvalue(r, row, 8), e);
    e->first_seen = col_ll(r, row, 9);
    e->last_seen = col_ll(r, row, 10);
    e->last_hit = col_ll(r, row, 11);
    e->suppressed = PQgetvalue(r, row, 12)[0] == 't';
    e->removed_at = col_ll(r, row, 13);
    snprintf(e->removed_by, sizeof e->removed_by, "%s",
             PQgetvalue(r, row, 14));
}

static vl_status one_row(pg_store *s, const char *name, int n,
                         const char *const *params, vl_store_entry *out)
{
    PGresult *r;
    vl_status st = run(s, name, n, params, true, &r);

    if (st != VL_OK)
        return st;
    st = PQntuples(r) > 0 ? VL_OK : VL_ENOTFOUND;
    if (st == VL_OK)
        row_to_entry(r, 0, out);
    PQclear(r);
    return st;
}

static vl_status pg_get(void *be, const char *key, const char *scope,
                        vl_store_entry *out)
{
    pg_store *s = be;
    const char *p[] = {key, scope};
    vl_status st = one_row(s, s->in_tx ? "mv_get_lock" : "mv_get", 2, p, out);

    snprintf(s->got_key, sizeof s->got_key, "%s", key);
    snprintf(s->got_scope, sizeof s->got_scope, "%s", scope);
    s->got_found = st == VL_OK;
    return st;
}

static vl_status pg_find(void *be, const char *key, const char *dkey,
                         const char *scope, int64_t min_touch,
                         vl_store_entry *out)
{
    char min[24];
    const char *p[] = {key, dkey, scope, min};

    snprintf(min, sizeof min, "%lld", (long long)min_touch);
    return one_row(be, "mv_find", 4, p, out);
}

/* Text fields must be valid UTF-8 for a UTF8 database: an invalid
 * sequence (a diagnostic copied from a broken bounce) becomes '?'. */
static void utf8_clean(char *dst, size_t cap, const char *src)
{
    size_t i = 0, o = 0;
    const unsigned char *u = (const unsigned char *)src;

    while (u[i] != '\0' && o + 1 < cap) {
        size_t n = u[i] < 0x80             ? 1
                   : (u[i] & 0xE0) == 0xC0 ? 2
                   : (u[i] & 0xF0) == 0xE0 ? 3
                   : (u[i] & 0xF8) == 0xF0 ? 4
                                           : 0;
        bool ok = n > 0 && o + n < cap;
        for (size_t k = 1; ok && k < n; k++)
            ok = (u[i + k] & 0xC0) == 0x80;
        if (!ok) {
            dst[o++] = '?';
            i++;
            continue;
        }
        memcpy(dst + o, src + i, n);
        o += n;
        i += n;
    }
    dst[o] = '\0';
}

/* An entry as the text parameters $1..$16 of mv_put and mv_add; the
 * strings live in 'b'. */
typedef struct entry_params {
    char soft[VL_STORE_SOFT_MAX * 21 + 3], num[6][24];
    char address[VL_STORE_KEY_CAP], diag[VL_STORE_DIAG_CAP];
    char reason[VL_STORE_REASON_CAP], by[VL_STORE_BY_CAP];
    const char *p[17];
} entry_params;

static void entry_params_set(entry_params *b, const pg_store *s,
                             const vl_store_entry *e)
{
    size_t n = 1;

    b->soft[0] = '{';
    for (unsigned i = 0; i < e->soft_count && i < VL_STORE_SOFT_MAX; i++)
        n += (size_t)snprintf(b->soft + n, sizeof b->soft - n, "%s%lld",
                              i ? "," : "", (long long)e->soft_at[i]);
    snprintf(b->soft + n, sizeof b->soft - n, "}");
    snprintf(b->num[0], sizeof b->num[0], "%d", (int)e->source);
    snprintf(b->num[1], sizeof b->num[1], "%lu", (unsigned long)e->count);
    snprintf(b->num[2], sizeof b->num[2], "%lld", (long long)e->first_seen);
    snprintf(b->num[3], sizeof b->num[3], "%lld", (long long)e->last_seen);
    snprintf(b->num[4], sizeof b->num[4], "%lld", (long long)e->last_hit);
    snprintf(b->num[5], sizeof b->num[5], "%lld", (long long)e->removed_at);
    utf8_clean(b->address, sizeof b->address, e->address);
    utf8_clean(b->reason, sizeof b->reason, e->reason);
    utf8_clean(b->diag, sizeof b->diag, e->diagnostic);
    utf8_clean(b->by, sizeof b->by, e->removed_by);
    const char *p[] = {e->key,
                       e->scope,
                       b->address,
                       b->num[0],
                       b->reason,
                       e->status,
                       b->diag,
                       b->num[1],
                       b->soft,
                       b->num[2],
                       b->num[3],
                       b->num[4],
                       e->suppressed ? "t" : "f",
                       b->num[5],
                       b->by,
                       s->tx_seq[0] ? s->tx_seq : "0"};
    memcpy(b->p, p, sizeof p);
}

static vl_status pg_put(void *be, const vl_store_entry *e)
{
    pg_store *s = be;
    entry_params *b = malloc(sizeof *b);
    /* No get() before (not store.c's way): a plain upsert. */
    bool may_update = s->got_found || strcmp(s->got_key, e->key) != 0 ||
                      strcmp(s->got_scope, e->scope) != 0;
    PGresult *r;
    vl_status st;

    if (b == NULL)
        return VL_ENOMEM;
    entry_params_set(b, s, e);
    b->p[16] = may_update ? "t" : "f";
    if ((st = run(s, "mv_put", 17, b->p, false, &r)) == VL_OK) {
        if (strcmp(PQcmdTuples(r), "1") != 0) {
            /* Another node inserted this key after our get(): what we
             * computed from "not there" must not replace its outcome. */
            set_msg(s, "concurrent first write of the same entry", e->key);
            st = VL_ETEMP;
        }
        PQclear(r);
    }
    free(b);
    return st;
}

static vl_status pg_add(void *be, const vl_store_entry *e, int *added)
{
    pg_store *s = be;
    entry_params *b = malloc(sizeof *b);
    PGresult *r;
    vl_status st;

    *added = 0;
    if (b == NULL)
        return VL_ENOMEM;
    entry_params_set(b, s, e);
    if ((st = run(s, "mv_add", 16, b->p, false, &r)) == VL_OK) {
        *added = strcmp(PQcmdTuples(r), "1") == 0;
        PQclear(r);
    }
    free(b);
    return st;
}

static vl_status pg_touch(void *be, const char *key, const char *scope,
                          int64_t at)
{
    char t[24];
    const char *p[] = {t, key, scope};
    PGresult *r;
    vl_status st;

    snprintf(t, sizeof t, "%lld", (long long)at);
    if ((st = run(be, "mv_touch", 3, p, false, &r)) == VL_OK)
        PQclear(r);
    return st;
}

/* Each row of 'sql' to 'row' (nonzero: stop), read through a cursor,
 * 1,000 rows per FETCH, so memory stays flat however many there are.
 * A cursor lives in a transaction: a read-only one of our own when the
 * caller has none (one snapshot for the whole walk), in which 'first'
 * (when not NULL) runs before the cursor opens, its one value copied to
 * 'first_val'. */
static vl_status cursor_walk(pg_store *s, const char *sql, const char *first,
                             char *first_val, size_t first_cap,
                             int (*row)(void *, const PGresult *, int),
                             void *arg)
{
    bool own_tx = !s->in_tx, stop = false;
    char declare[512];
    vl_status st;

    if ((st = ready(s)) != VL_OK ||
        (own_tx && (st = exec(s, "BEGIN ISOLATION LEVEL REPEATABLE READ "
                                 "READ ONLY")) != VL_OK))
        return st;
    s->in_tx = true;
    if (first != NULL) {
        PGresult *r = PQexec(s->conn, first);
        if (PQresultStatus(r) == PGRES_TUPLES_OK && PQntuples(r) == 1)
            snprintf(first_val, first_cap, "%s", PQgetvalue(r, 0, 0));
        else
            st = fail_status(s, r);
        PQclear(r);
    }
    snprintf(declare, sizeof declare,
             "DECLARE mv_walk NO SCROLL CURSOR FOR %s", sql);
    if (st == VL_OK)
        st = exec(s, declare);
    while (st == VL_OK && !stop) {
        PGresult *r = PQexec(s->conn, "FETCH 1000 FROM mv_walk");
        int rows;
        if (PQresultStatus(r) != PGRES_TUPLES_OK) {
            st = fail_status(s, r);
            PQclear(r);
            break;
        }
        rows = PQntuples(r);
        for (int i = 0; i < rows && !stop; i++)
            stop = row(arg, r, i) != 0;
        PQclear(r);
        if (rows == 0)
            break;
    }
    if (st == VL_OK)
        st = exec(s, "CLOSE mv_walk");
    if (own_tx) {
        if (st == VL_OK)
            st = exec(s, "COMMIT");
        if (st != VL_OK)
            pg_rollback(s);
        s->in_tx = false;
    }
    return st;
}

typedef struct iter_run {
    vl_store_entry *e;
    vl_store_entry_cb cb;
    void *arg;
} iter_run;

static int iter_row(void *arg, const PGresult *r, int i)
{
    iter_run *it = arg;

    row_to_entry(r, i, it->e);
    return it->cb(it->arg, it->e);
}

static vl_status pg_iterate(void *be, vl_store_entry_cb cb, void *arg)
{
    iter_run it = {malloc(sizeof *it.e), cb, arg};
    vl_status st;

    if (it.e == NULL)
        return VL_ENOMEM;
    st = cursor_walk(
        be, "SELECT " COLS " FROM mailvet.entries ORDER BY key, scope", NULL,
        NULL, 0, iter_row, &it);
    free(it.e);
    return st;
}

typedef struct change_run {
    vl_store_change_cb cb;
    void *arg;
} change_run;

/* One row of CHANGE_COLS. */
static int change_row(void *arg, const PGresult *r, int i)
{
    change_run *cr = arg;
    vl_store_change c;

    c.key = PQgetvalue(r, i, 0);
    c.scope = PQgetvalue(r, i, 1);
    c.source = (vl_store_source)col_ll(r, i, 2);
    c.suppressed = PQgetvalue(r, i, 3)[0] == 't';
    c.touched = col_ll(r, i, 4);
    return cr->cb(cr->arg, &c);
}

/* The counter is read in the rows' snapshot: a writer still open has
 * bumped it past what that snapshot shows, so nothing it writes is
 * numbered at or below the mark. */
static vl_status pg_changes(void *be, uint64_t since, vl_store_change_cb cb,
                            void *arg, uint64_t *upto)
{
    change_run cr = {cb, arg};
    char sql[256], hi[24] = "0";
    vl_status st;

    if (since == 0)
        snprintf(sql, sizeof sql,
                 "SELECT " CHANGE_COLS
                 " FROM mailvet.entries WHERE suppressed");
    else
        snprintf(sql, sizeof sql,
                 "SELECT " CHANGE_COLS
                 " FROM mailvet.entries WHERE seq > %llu",
                 (unsigned long long)since);
    st = cursor_walk(be, sql, "SELECT seq FROM mailvet.counter", hi, sizeof hi,
                     change_row, &cr);
    if (st == VL_OK) {
        unsigned long long v = strtoull(hi, NULL, 10);
        *upto = v > since ? v : since;
    }
    return st;
}

static vl_status pg_stats(void *be, vl_store_stats *out)
{
    PGresult *r;
    vl_status st = run(be, "mv_stats", 0, NULL, true, &r);

    if (st != VL_OK)
        return st;
    if (PQntuples(r) == 1) {
        out->entries = (uint64_t)col_ll(r, 0, 0);
        out->suppressed = (uint64_t)col_ll(r, 0, 1);
        out->removed = (uint64_t)col_ll(r, 0, 2);
        out->pending = (uint64_t)col_ll(r, 0, 3);
        out->domains = (uint64_t)col_ll(r, 0, 4);
        for (int i = 0; i < 4; i++)
            out->by_source[i] = (uint64_t)col_ll(r, 0, 5 + i);
    }
    PQclear(r);
    return VL_OK;
}

static const char *pg_errmsg(void *be)
{
    return ((pg_store *)be)->msg;
}

static void pg_close(void *be)
{
    pg_store *s = be;

    if (s == NULL)
        return;
    PQfinish(s->conn);
    free(s->uri);
    free(s);
}

static const vl_store_ops pg_ops = {
    .version = VL_STORE_OPS_V2,
    .name = "postgresql",
    .begin = pg_begin,
    .commit = pg_commit,
    .rollback = pg_rollback,
    .get = pg_get,
    .put = pg_put,
    .find = pg_find,
    .touch = pg_touch,
    .iterate = pg_iterate,
    .stats = pg_stats,
    .close = pg_close,
    .errmsg = pg_errmsg,
    .add = pg_add,
    .changes = pg_changes,
};

/* Create or upgrade the schema: one transaction behind an advisory lock
 * (released at commit or rollback), so nodes that start together take
 * turns and each sees the version the one before left. */
static vl_status migrate(pg_store *s)
{
    const int latest = (int)(sizeof migrations / sizeof migrations[0]);
    PGresult *r;
    vl_status st;
    int version = 0;

    if ((st = exec(s, "BEGIN")) != VL_OK)
        return st;
    s->in_tx = true;
    if ((st = exec(s, "SELECT pg_advisory_xact_lock(" MIGRATION_LOCK ")")) !=
        VL_OK)
        goto fail;
    /* CREATE ... IF NOT EXISTS wants the CREATE privilege even when the
     * object exists: create only what is missing, so a role that may
     * only use the schema can open an existing store. */
    if ((st = exec(s, "DO $$ BEGIN"
                      " IF to_regnamespace('mailvet') IS NULL THEN"
                      " CREATE SCHEMA mailvet; END IF;"
                      " IF to_regclass('mailvet.schema_version') IS NULL THEN"
                      " CREATE TABLE mailvet.schema_version ("
                      " version integer PRIMARY KEY,"
                      " applied_at timestamptz NOT NULL DEFAULT now());"
                      " END IF; END $$")) != VL_OK)
        goto fail;
    r = PQexec(s->conn,
               "SELECT coalesce(max(version), 0) FROM mailvet.schema_version");
    if (PQresultStatus(r) != PGRES_TUPLES_OK) {
        st = fail_status(s, r);
        PQclear(r);
        goto fail;
    }
    version = atoi(PQgetvalue(r, 0, 0));
    PQclear(r);
    if (version > latest) {
        snprintf(s->msg, sizeof s->msg,
                 "postgresql: schema version %d is newer than this mailvet "
                 "(%d)",
                 version, latest);
        st = VL_EDATA;
        goto fail;
    }
    for (; version < latest; version++) {
        char ins[96];
        snprintf(ins, sizeof ins,
                 "INSERT INTO mailvet.schema_version (version) VALUES (%d)",
                 version + 1);
        if ((st = exec(s, migrations[version])) != VL_OK ||
            (st = exec(s, ins)) != VL_OK)
            goto fail;
    }
    if ((st = pg_commit(s)) == VL_OK)
        return VL_OK;
fail:
    pg_rollback(s);
    return st;
}

vl_status vl__store_pg_open(const char *uri, const vl_store_config *cfg,
                            const vl_store_ops **ops, void **be, char *err,
                            size_t err_cap)
{
    pg_store *s = calloc(1, sizeof *s);
    vl_status st = VL_ENOMEM;

    if (s == NULL || (s->uri = strdup(uri)) == NULL)
        goto fail;
    s->lock_timeout_ms = cfg->busy_timeout_ms;
    if ((st = connect_db(s)) != VL_OK || (st = migrate(s)) != VL_OK ||
        (st = prepare_all(s)) != VL_OK)
        goto fail;
    *ops = &pg_ops;
    *be = s;
    return VL_OK;
fail:
    if (err != NULL && err_cap > 0)
        snprintf(err, err_cap, "%s",
                 s && s->msg[0] ? s->msg : vl_strerror(st));
    pg_close(s);
    return st;
}
