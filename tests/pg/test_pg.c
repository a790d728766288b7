/*
 * test_pg.c - what only the PostgreSQL backend has to get right, against
 * a server of its own that it stops and starts again:
 *  - server down: every call is VL_ETEMP and a check is "unknown" with
 *    store_unavailable, never an answer; opening fails with VL_ETEMP;
 *  - server back: the next call reconnects by itself;
 *  - connection lost in a batch: the batch is gone, nothing of it shows;
 *  - two handles writing the same new entry at once: the later one
 *    waits for the first (writers take turns on the counter row) and
 *    adds to its entry instead of overwriting it;
 *  - the lookup cache: a write through another handle is seen within
 *    cache_check_ms, and a server that cannot be asked makes lookups
 *    VL_ETEMP, never an answer from the unchecked cache;
 *  - several opens of an empty database at once (nodes starting
 *    together) all succeed and create the schema once; a database from
 *    a newer mailvet is refused;
 *  - a server down when a reader starts: with open_unreachable the
 *    store opens anyway, answers VL_ETEMP (a check: store_unavailable)
 *    and comes up once the server does; `mailvet check --store` then
 *    exits 3 (unknown), not 2.
 * The shared behaviour (the rules) is tests/unit/test_store.c, run
 * against PostgreSQL too.
 *
 * usage: test_pg SCRIPTS_DIR WORK_DIR MAILVET   (SCRIPTS_DIR has
 * start-pg.sh and stop-pg.sh; the server lives in WORK_DIR; MAILVET is
 * the program)
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "validate.h"

static const char *scripts, *work, *mailvet;
static char uri[640];

static void script(const char *name, const char *arg)
{
    char cmd[2048];

    snprintf(cmd, sizeof cmd, "'%s/%s' '%s' %s >/dev/null 2>&1", scripts, name,
             work, arg);
    if (system(cmd) != 0)
        fail_msg("%s failed", cmd);
}

static void read_uri(void)
{
    char path[1024], line[600];
    FILE *f;

    snprintf(path, sizeof path, "%s/env", work);
    if ((f = fopen(path, "r")) == NULL)
        fail_msg("no %s", path);
    while (fgets(line, sizeof line, f) != NULL)
        if (strncmp(line, "PG_URI=", 7) == 0) {
            line[strcspn(line, "\n")] = '\0';
            snprintf(uri, sizeof uri, "%s", line + 7);
        }
    fclose(f);
}

static vl_store *open_with(unsigned busy_ms, unsigned cache_after,
                           int unreachable)
{
    vl_store_config cfg;
    vl_store *st;
    char err[512];

    VL_STORE_CONFIG_INIT(&cfg);
    cfg.busy_timeout_ms = busy_ms;
    cfg.cache_after = cache_after;
    cfg.open_unreachable = unreachable;
    if (vl_store_open(uri, &cfg, &st, err, sizeof err) != VL_OK)
        fail_msg("open %s: %s", uri, err);
    return st;
}

static vl_store *open_store(unsigned busy_ms)
{
    return open_with(busy_ms, 1000, 0);
}

static vl_status hard(vl_store *st, const char *a)
{
    vl_store_outcome o = {0};

    o.source = VL_SRC_HARD_BOUNCE;
    o.address = a;
    o.address_len = strlen(a);
    o.status = "5.1.1";
    return vl_store_record(st, &o, NULL);
}

static vl_status look(vl_store *st, const char *a)
{
    return vl_store_lookup(st, a, strlen(a), NULL, NULL);
}

static int no_cb(void *arg, const vl_store_entry *e)
{
    (void)arg, (void)e;
    return 0;
}

static void server_down_is_never_an_answer(void **state)
{
    vl_store *st = open_store(2000), *st2;
    vl_options opt;
    vl_ctx *ctx;
    vl_result *res;
    vl_store_entry e;
    vl_store_stats stats;
    char err[512];
    const char *a = "gone.down@acme-widgets.com";
    (void)state;

    VL_OPTIONS_INIT(&opt);
    opt.flags |= VL_OPT_OFFLINE;
    opt.store = st;
    assert_int_equal(vl_ctx_new(&opt, &ctx, err, sizeof err), VL_OK);
    assert_int_equal(vl_result_new(&res), VL_OK);
    assert_int_equal(hard(st, a), VL_OK);
    assert_int_equal(vl_check(ctx, a, strlen(a), res), VL_OK);
    assert_true(vl_result_has_reason(res, VL_R_SUPPRESSED_HARD_BOUNCE));

    script("stop-pg.sh", "");
    assert_int_equal(look(st, a), VL_ETEMP);
    assert_non_null(strstr(vl_store_errmsg(st), "postgresql"));
    assert_int_equal(vl_check(ctx, a, strlen(a), res), VL_OK);
    assert_int_equal(vl_result_verdict(res), VL_UNKNOWN);
    assert_true(vl_result_has_reason(res, VL_R_STORE_UNAVAILABLE));
    assert_int_equal(hard(st, "other.down@acme-widgets.com"), VL_ETEMP);
    assert_int_equal(vl_store_get(st, a, strlen(a), NULL, &e), VL_ETEMP);
    assert_int_equal(vl_store_stats_get(st, &stats), VL_ETEMP);
    assert_int_equal(vl_store_iterate(st, no_cb, NULL), VL_ETEMP);
    assert_int_equal(vl_store_batch_begin(st), VL_ETEMP);
    assert_int_equal(vl_store_open(uri, NULL, &st2, err, sizeof err),
                     VL_ETEMP);
    assert_null(st2);
    assert_non_null(strstr(err, "cannot connect"));

    /* back: the same handle reconnects on its next call */
    script("start-pg.sh", "--restart");
    assert_int_equal(look(st, a), VL_OK);
    assert_int_equal(vl_check(ctx, a, strlen(a), res), VL_OK);
    assert_true(vl_result_has_reason(res, VL_R_SUPPRESSED_HARD_BOUNCE));
    assert_int_equal(hard(st, "other.down@acme-widgets.com"), VL_OK);
    vl_result_free(res);
    vl_ctx_free(ctx);
    vl_store_close(st);
}

static void lost_batch_is_gone(void **state)
{
    vl_store *st = open_store(2000);
    const char *a = "in.batch@acme-widgets.com";
    (void)state;

    assert_int_equal(vl_store_batch_begin(st), VL_OK);
    assert_int_equal(hard(st, a), VL_OK);
    script("stop-pg.sh", "");
    assert_int_equal(hard(st, "after.loss@acme-widgets.com"), VL_ETEMP);
    /* the batch was rolled back as a whole: nothing to commit */
    assert_int_equal(vl_store_batch_commit(st), VL_EINVAL);
    script("start-pg.sh", "--restart");
    assert_int_equal(look(st, a), VL_ENOTFOUND);
    assert_int_equal(look(st, "after.loss@acme-widgets.com"), VL_ENOTFOUND);
    vl_store_close(st);
}

struct racer {
    vl_store *st;
    vl_status rc;
};

static void *race_record(void *arg)
{
    struct racer *r = arg;
    r->rc = hard(r->st, "first.write@acme-widgets.com");
    return NULL;
}

static void concurrent_first_write_loses_nothing(void **state)
{
    vl_store *a = open_store(5000), *b = open_store(5000);
    const char *x = "first.write@acme-widgets.com";
    struct racer r = {b, VL_OK};
    vl_store_entry e;
    pthread_t t;
    (void)state;

    /* a writes the new entry and holds it uncommitted; b waits for a's
     * commit, then finds a's entry and adds its bounce to it */
    assert_int_equal(vl_store_batch_begin(a), VL_OK);
    assert_int_equal(hard(a, x), VL_OK);
    pthread_create(&t, NULL, race_record, &r);
    usleep(300 * 1000);
    assert_int_equal(vl_store_batch_commit(a), VL_OK);
    pthread_join(t, NULL);
    assert_int_equal(r.rc, VL_OK);
    assert_int_equal(vl_store_get(b, x, strlen(x), NULL, &e), VL_OK);
    assert_int_equal(e.count, 2);
    vl_store_close(a);
    vl_store_close(b);
}

/* A new database on the test server, and its URI in 'out'. */
static void new_db(const char *name, char *out, size_t cap)
{
    char cmd[1024];

    snprintf(cmd, sizeof cmd,
             "psql -X -q -v ON_ERROR_STOP=1 -d '%s' -c 'CREATE DATABASE "
             "%s' >/dev/null",
             uri, name);
    if (system(cmd) != 0)
        fail_msg("%s failed", cmd);
    snprintf(out, cap, "%.*s/%s", (int)(strrchr(uri, '/') - uri), uri, name);
}

/* The first line of psql's answer to 'sql' on 'db'. */
static void query(const char *db, const char *sql, char *out, size_t cap)
{
    char cmd[1024];
    FILE *p;

    snprintf(cmd, sizeof cmd, "psql -X -q -tA -d '%s' -c \"%s\"", db, sql);
    out[0] = '\0';
    if ((p = popen(cmd, "r")) == NULL)
        fail_msg("%s failed", cmd);
    if (fgets(out, (int)cap, p) != NULL)
        out[strcspn(out, "\n")] = '\0';
    pclose(p);
}

struct opener {
    const char *uri;
    vl_status rc;
};

static void *open_close(void *arg)
{
    struct opener *o = arg;
    vl_store *st;
    char err[512];

    o->rc = vl_store_open(o->uri, NULL, &st, err, sizeof err);
    if (o->rc == VL_OK)
        vl_store_close(st);
    else
        fprintf(stderr, "open: %s\n", err);
    return NULL;
}

static void nodes_starting_together_migrate_once(void **state)
{
    char db[640], ans[64], err[512];
    struct opener o[8];
    pthread_t t[8];
    vl_store *st;
    (void)state;

    new_db("race", db, sizeof db);
    for (int i = 0; i < 8; i++) {
        o[i].uri = db;
        pthread_create(&t[i], NULL, open_close, &o[i]);
    }
    for (int i = 0; i < 8; i++) {
        pthread_join(t[i], NULL);
        assert_int_equal(o[i].rc, VL_OK);
    }
    query(db,
          "SELECT count(*) || ' ' || max(version) FROM "
          "mailvet.schema_version",
          ans, sizeof ans);
    assert_string_equal(ans, "2 2");
    /* a newer mailvet's database: refused, not misread */
    query(db, "INSERT INTO mailvet.schema_version (version) VALUES (99)", ans,
          sizeof ans);
    assert_int_equal(vl_store_open(db, NULL, &st, err, sizeof err), VL_EDATA);
    assert_non_null(strstr(err, "newer"));
}

/* The cache answers only what it may: a write elsewhere within
 * cache_check_ms, and nothing once the server cannot be asked. */
static void cache_is_checked_or_silent(void **state)
{
    vl_store *a = open_with(2000, 0, 0), *b = open_store(2000);
    vl_store_config def;
    const char *x = "cached.one@acme-widgets.com";
    const char *y = "cached.two@acme-widgets.com";
    (void)state;

    VL_STORE_CONFIG_INIT(&def);
    assert_int_equal(hard(a, x), VL_OK);
    assert_int_equal(look(a, x), VL_OK); /* loads the cache */
    assert_int_equal(look(a, y), VL_ENOTFOUND);
    assert_int_equal(hard(b, y), VL_OK);
    usleep((def.cache_check_ms + 20) * 1000);
    assert_int_equal(look(a, y), VL_OK);
    script("stop-pg.sh", "");
    usleep((def.cache_check_ms + 20) * 1000);
    assert_int_equal(look(a, x), VL_ETEMP);
    assert_int_equal(look(a, "never.seen@acme-widgets.com"), VL_ETEMP);
    script("start-pg.sh", "--restart");
    assert_int_equal(look(a, x), VL_OK);
    vl_store_close(a);
    vl_store_close(b);
}

/* `mailvet check` on this store: its exit status, and whether its JSON
 * has 'reason'. */
static int run_check(const char *addr, const char *reason, bool *has)
{
    char cmd[2048], out[4096] = "";
    FILE *p;
    size_t n;
    int rc;

    snprintf(cmd, sizeof cmd,
             "'%s' check --offline --json --store '%s' '%s' 2>/dev/null",
             mailvet, uri, addr);
    if ((p = popen(cmd, "r")) == NULL)
        fail_msg("%s failed", cmd);
    n = fread(out, 1, sizeof out - 1, p);
    out[n] = '\0';
    rc = pclose(p);
    *has = strstr(out, reason) != NULL;
    return WIFEXITED(rc) ? WEXITSTATUS(rc) : -1;
}

static void down_at_start_is_unknown(void **state)
{
    vl_options opt;
    vl_ctx *ctx;
    vl_result *res;
    vl_store *st;
    char err[512];
    bool has;
    const char *a = "down.start@acme-widgets.com";
    (void)state;

    st = open_store(2000);
    assert_int_equal(hard(st, a), VL_OK);
    vl_store_close(st);
    script("stop-pg.sh", "");
    assert_int_equal(run_check(a, "store_unavailable", &has), 3);
    assert_true(has);
    st = open_with(2000, 1000, 1);
    assert_int_equal(look(st, a), VL_ETEMP);
    assert_non_null(strstr(vl_store_errmsg(st), "cannot connect"));
    VL_OPTIONS_INIT(&opt);
    opt.flags |= VL_OPT_OFFLINE;
    opt.store = st;
    assert_int_equal(vl_ctx_new(&opt, &ctx, err, sizeof err), VL_OK);
    assert_int_equal(vl_result_new(&res), VL_OK);
    assert_int_equal(vl_check(ctx, a, strlen(a), res), VL_OK);
    assert_int_equal(vl_result_verdict(res), VL_UNKNOWN);
    assert_true(vl_result_has_reason(res, VL_R_STORE_UNAVAILABLE));
    /* the server comes up: the store opens by itself (after at most
     * 250 ms since it last tried) */
    script("start-pg.sh", "--restart");
    usleep(300 * 1000);
    assert_int_equal(vl_check(ctx, a, strlen(a), res), VL_OK);
    assert_true(vl_result_has_reason(res, VL_R_SUPPRESSED_HARD_BOUNCE));
    assert_int_equal(run_check(a, "suppressed_hard_bounce", &has), 1);
    assert_true(has);
    vl_result_free(res);
    vl_ctx_free(ctx);
    vl_store_close(st);
}

static int teardown(void **state)
{
    (void)state;
    script("stop-pg.sh", "");
    return 0;
}

int main(int argc, char **argv)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(server_down_is_never_an_answer),
        cmocka_unit_test(lost_batch_is_gone),
        cmocka_unit_test(concurrent_first_write_loses_nothing),
        cmocka_unit_test(nodes_starting_together_migrate_once),
        cmocka_unit_test(cache_is_checked_or_silent),
        cmocka_unit_test(down_at_start_is_unknown),
    };

    if (argc != 4) {
        fprintf(stderr, "usage: test_pg SCRIPTS_DIR WORK_DIR MAILVET\n");
        return 2;
    }
    scripts = argv[1];
    work = argv[2];
    mailvet = argv[3];
    script("start-pg.sh", "");
    read_uri();
    return cmocka_run_group_tests(tests, NULL, teardown);
}
