/*
 * serve.c - "mailvet serve": the verification service that signup
 * forms call (README.md "mailvet serve").  This file reads the options,
 * starts the library context and the libmicrohttpd daemon, and waits
 * for SIGTERM or SIGINT; the requests are handled in serve_http.c.
 *
 * Shutdown: stop accepting (MHD_quiesce_daemon), answer 503 to new
 * requests on open connections, let the requests in flight finish (each
 * check ends by its deadline), then stop the daemon and the context,
 * and exit 0.
 *
 * The store (--store): one handle shared by every HTTP thread and by
 * the library context (vl_options.store).  We rely on what validate.h
 * promises: calls on a handle are serialised by the store's own mutex
 * (libvalidate/src/store.c; tests/unit/test_store.c shares a handle
 * between threads), so no lock of ours is needed.  We do not rely on
 * vl_store_errmsg(), whose text another thread's call may replace, and
 * we never open a batch (one per handle, it would swallow other
 * threads' writes).  Store calls run on the HTTP thread that took the
 * request: a write costs one fsync; waiting for another process's
 * write lock is bounded by --deadline-ms (the busy timeout), past it
 * the answer is 503 store_unavailable.  The handle is closed after the
 * daemon and the context that borrow it are gone.
 *
 * Limits (slow or greedy clients cannot hold the server): connections
 * in all and per client address, a per-connection idle timeout, a
 * per-connection memory pool that bounds the request line and headers
 * (MHD answers 431 past it), and a cap on the body.
 */
#include "serve.h"

#include <arpa/inet.h>
#include <errno.h>
#include <getopt.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cli.h"
#include "pipeline.h"

typedef struct serve_opts {
    mv_pipeline pipe;
    const char *listen, *key_file, *cors, *store, *scope;
    vl_store_config store_cfg;
    unsigned deadline_ms, threads, max_conn, max_per_ip, timeout_s;
    unsigned max_body, max_header, rate, burst;
    bool check_key, verbose;
} serve_opts;

enum {
    OPT_LISTEN = MV_OPT__PIPELINE_END,
    OPT_DEADLINE_MS,
    OPT_THREADS,
    OPT_MAX_CONN,
    OPT_MAX_PER_IP,
    OPT_TIMEOUT,
    OPT_MAX_BODY,
    OPT_MAX_HEADER,
    OPT_KEY_FILE,
    OPT_CHECK_KEY,
    OPT_RATE,
    OPT_BURST,
    OPT_CORS,
    OPT_STORE,
    OPT_SCOPE,
    OPT_SOFT_N,
    OPT_SOFT_WINDOW,
    OPT_EXPIRE
};

static const struct option long_opts[] = {
    {"listen", required_argument, NULL, OPT_LISTEN},
    {"deadline-ms", required_argument, NULL, OPT_DEADLINE_MS},
    {"threads", required_argument, NULL, OPT_THREADS},
    {"max-connections", required_argument, NULL, OPT_MAX_CONN},
    {"max-per-ip", required_argument, NULL, OPT_MAX_PER_IP},
    {"client-timeout", required_argument, NULL, OPT_TIMEOUT},
    {"max-body", required_argument, NULL, OPT_MAX_BODY},
    {"max-header-bytes", required_argument, NULL, OPT_MAX_HEADER},
    {"api-key-file", required_argument, NULL, OPT_KEY_FILE},
    {"check-requires-key", no_argument, NULL, OPT_CHECK_KEY},
    {"rate-limit", required_argument, NULL, OPT_RATE},
    {"rate-burst", required_argument, NULL, OPT_BURST},
    {"cors-origin", required_argument, NULL, OPT_CORS},
    {"store", required_argument, NULL, OPT_STORE},
    {"scope", required_argument, NULL, OPT_SCOPE},
    {"soft-threshold", required_argument, NULL, OPT_SOFT_N},
    {"soft-window", required_argument, NULL, OPT_SOFT_WINDOW},
    {"expire-after", required_argument, NULL, OPT_EXPIRE},
    {"verbose", no_argument, NULL, 'v'},
    {"help", no_argument, NULL, 'h'},
    MV_PIPELINE_LONG_OPTS,
    {NULL, 0, NULL, 0}};

void mv_serve_usage(FILE *out)
{
    fputs(
        "usage: mailvet serve [OPTIONS]\n"
        "\n"
        "Answer address checks over HTTP (JSON): GET/POST /v1/check,\n"
        "POST /v1/check/batch, POST /v1/bounces, GET/DELETE\n"
        "/v1/store/ADDRESS, /healthz, /metrics, /v1/openapi.json, and a\n"
        "demo signup form at /.  SIGTERM or SIGINT: finish and exit 0.\n"
        "\n"
        "Options:\n"
        "  --listen ADDR:PORT    where to listen [127.0.0.1:8080]; IPv6 as\n"
        "                        [ADDR]:PORT; port 0 picks a free one\n"
        "  --deadline-ms MS      per request; past it the answer is "
        "unknown,\n"
        "                        deadline (1-600000) [1500]\n"
        "  --threads N           HTTP threads [2]\n"
        "  --max-connections N   open connections at most [1024]\n"
        "  --max-per-ip N        open connections per client address [256]\n"
        "  --client-timeout S    close a connection idle this long [10]\n"
        "  --max-body BYTES      request body limit [262144]\n"
        "  --max-header-bytes B  per-connection buffer for the request line\n"
        "                        and headers [16384]\n"
        "  --api-key-file F      API keys, one per line, no names (also "
        "$MAILVET_API_KEYS);\n"
        "                        the batch and store routes need one\n"
        "  --check-requires-key  /v1/check needs an API key too\n"
        "  --rate-limit R        requests per second per client address\n"
        "                        (0: no limit) [20]\n"
        "  --rate-burst B        bucket size of the rate limit [40]\n"
        "  --cors-origin ORIGIN  allow browser calls from ORIGIN ('*': any)\n"
        "  --store PATH|URI      the invalid-address store: checks answer\n"
        "                        undeliverable suppressed_<source> for its\n"
        "                        entries, and the store routes use it\n"
        "                        ('default': the file 'mailvet store' uses)\n"
        "  --scope S             the store scope (brand, tenant)\n"
        "  --soft-threshold N    soft bounces that suppress (2-16) [3]\n"
        "  --soft-window DUR     ... within this long [30d]\n"
        "  --expire-after DUR    entries untouched this long do not suppress\n"
        "  -v, --verbose         log libmicrohttpd's errors on stderr\n",
        out);
    mv_pipeline_usage(out);
    fputs("  -h, --help            show this help\n", out);
}

static int duration(const char *arg, const char *what, int64_t *out)
{
    if (mv_parse_duration(arg, out) != 0 || *out == 0) {
        fprintf(stderr, "mailvet: %s: bad value '%s'\n", what, arg);
        return -1;
    }
    return 0;
}

/* 1-64 of [A-Za-z0-9._-], as the store wants: refused at start rather
 * than as a 500 on every store call. */
static bool scope_ok(const char *s)
{
    size_t n = strlen(s);

    return n >= 1 && n < VL_STORE_SCOPE_CAP &&
           strspn(s, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
                     "0123456789._-") == n;
}

static int serve_value(serve_opts *o, int c, const char *arg)
{
    switch (c) {
    case OPT_LISTEN:
        o->listen = arg;
        return 0;
    case OPT_DEADLINE_MS:
        return mv_parse_uint(arg, "--deadline-ms", &o->deadline_ms);
    case OPT_THREADS:
        return mv_parse_uint(arg, "--threads", &o->threads);
    case OPT_MAX_CONN:
        return mv_parse_uint(arg, "--max-connections", &o->max_conn);
    case OPT_MAX_PER_IP:
        return mv_parse_uint(arg, "--max-per-ip", &o->max_per_ip);
    case OPT_TIMEOUT:
        return mv_parse_uint(arg, "--client-timeout", &o->timeout_s);
    case OPT_MAX_BODY:
        return mv_parse_uint(arg, "--max-body", &o->max_body);
    case OPT_MAX_HEADER:
        return mv_parse_uint(arg, "--max-header-bytes", &o->max_header);
    case OPT_KEY_FILE:
        o->key_file = arg;
        return 0;
    case OPT_RATE:
        return mv_parse_uint(arg, "--rate-limit", &o->rate);
    case OPT_BURST:
        return mv_parse_uint(arg, "--rate-burst", &o->burst);
    case OPT_CORS:
        o->cors = arg;
        return 0;
    case OPT_STORE:
        o->store = arg;
        return 0;
    case OPT_SCOPE:
        o->scope = arg;
        return 0;
    case OPT_SOFT_N:
        return mv_parse_uint(arg, "--soft-threshold",
                             &o->store_cfg.soft_threshold);
    case OPT_SOFT_WINDOW:
        return duration(arg, "--soft-window", &o->store_cfg.soft_window_s);
    case OPT_EXPIRE:
        return duration(arg, "--expire-after", &o->store_cfg.expire_after_s);
    }
    return mv_pipeline_option(&o->pipe, c, arg) == 1 ? 0 : -1;
}

static int check_ranges(serve_opts *o)
{
    o->pipe.deadline_set = true; /* serve's own --deadline-ms */
    if (mv_pipeline_finish(&o->pipe) < 0)
        return -1;
    if (o->deadline_ms < 1 || o->deadline_ms > 600000 || o->threads < 1 ||
        o->threads > 64 || o->max_conn < 1 || o->max_per_ip < 1 ||
        o->timeout_s < 1 || o->max_body < 64 || o->max_header < 4096 ||
        o->store_cfg.soft_threshold < 2 ||
        o->store_cfg.soft_threshold > VL_STORE_SOFT_MAX) {
        fprintf(stderr, "mailvet: serve: a value is out of range (see "
                        "--help)\n");
        return -1;
    }
    if (o->scope != NULL && !scope_ok(o->scope)) {
        fprintf(stderr,
                "mailvet: --scope: want 1-64 of A-Za-z0-9._-, got "
                "'%s'\n",
                o->scope);
        return -1;
    }
    if (o->store == NULL &&
        (o->scope != NULL || o->store_cfg.expire_after_s != 0)) {
        fputs("mailvet: --scope and --expire-after need --store\n", stderr);
        return -1;
    }
    return 0;
}

/* -1 usage error, 1 --help, 0 go. */
static int parse_args(int argc, char **argv, serve_opts *o)
{
    int c;

    optind = 1;
    while ((c = getopt_long(argc, argv, "vh", long_opts, NULL)) != -1) {
        if (c == 'h')
            return 1;
        if (c == '?')
            return -1;
        if (c == 'v')
            o->verbose = true;
        else if (c == OPT_CHECK_KEY)
            o->check_key = true;
        else if (serve_value(o, c, optarg) < 0)
            return -1;
    }
    if (optind < argc) {
        fprintf(stderr, "mailvet: serve: unexpected argument '%s'\n",
                argv[optind]);
        return -1;
    }
    return check_ranges(o);
}

/* "ADDR:PORT" or "[ADDR6]:PORT" into 'ss'. */
static int parse_listen(const char *s, struct sockaddr_storage *ss)
{
    char host[64];
    const char *colon = strrchr(s, ':');
    size_t hl;
    unsigned port;
    struct sockaddr_in *in4 = (struct sockaddr_in *)ss;
    struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)ss;

    memset(ss, 0, sizeof *ss);
    if (colon == NULL || (hl = (size_t)(colon - s)) == 0 ||
        hl >= sizeof host || mv_parse_uint(colon + 1, "--listen", &port) ||
        port > 65535)
        goto bad;
    memcpy(host, s, hl);
    host[hl] = '\0';
    if (host[0] == '[' && host[hl - 1] == ']') {
        host[hl - 1] = '\0';
        if (inet_pton(AF_INET6, host + 1, &in6->sin6_addr) != 1)
            goto bad;
        in6->sin6_family = AF_INET6;
        in6->sin6_port = htons((uint16_t)port);
        return 0;
    }
    if (inet_pton(AF_INET, host, &in4->sin_addr) != 1)
        goto bad;
    in4->sin_family = AF_INET;
    in4->sin_port = htons((uint16_t)port);
    return 0;
bad:
    fprintf(stderr, "mailvet: --listen: want ADDR:PORT, got '%s'\n", s);
    return -1;
}

static struct MHD_Daemon *start_daemon(mv_server *srv, const serve_opts *o,
                                       const struct sockaddr_storage *ss)
{
    unsigned flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_EPOLL |
                     MHD_ALLOW_SUSPEND_RESUME | MHD_USE_TURBO;

    if (ss->ss_family == AF_INET6)
        flags |= MHD_USE_IPv6;
    if (o->verbose)
        flags |= MHD_USE_ERROR_LOG;
    return MHD_start_daemon(
        flags, 0, NULL, NULL, mv_http_handle, srv, MHD_OPTION_SOCK_ADDR, ss,
        MHD_OPTION_THREAD_POOL_SIZE, (unsigned)o->threads,
        MHD_OPTION_CONNECTION_LIMIT, (unsigned)o->max_conn,
        MHD_OPTION_PER_IP_CONNECTION_LIMIT, (unsigned)o->max_per_ip,
        MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)o->timeout_s,
        MHD_OPTION_CONNECTION_MEMORY_LIMIT, (size_t)o->max_header,
        MHD_OPTION_NOTIFY_COMPLETED, mv_http_completed, srv,
        MHD_OPTION_LISTEN_BACKLOG_SIZE, 1024u, MHD_OPTION_END);
}

static void sleep_ms(long ms)
{
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};

    nanosleep(&ts, NULL);
}

/* Stop accepting, let the requests in flight finish (checks end by
 * their deadline; a client still sending a body gets 'grace_ms'). */
static void drain(mv_server *srv, struct MHD_Daemon *d, unsigned grace_ms)
{
    MHD_socket fd;

    atomic_store(&srv->stopping, true);
    fd = MHD_quiesce_daemon(d);
    if (fd != MHD_INVALID_SOCKET)
        close(fd);
    for (unsigned waited = 0;
         atomic_load(&srv->inflight) > 0 && waited < grace_ms; waited += 10)
        sleep_ms(10);
}

static void print_listening(struct MHD_Daemon *d, const char *listen)
{
    const union MHD_DaemonInfo *di =
        MHD_get_daemon_info(d, MHD_DAEMON_INFO_BIND_PORT);
    const char *colon = strrchr(listen, ':');

    fprintf(stderr, "mailvet: listening on http://%.*s:%u\n",
            (int)(colon - listen), listen, di ? di->port : 0);
}

/* Run the server until SIGTERM/SIGINT. */
static int run(const serve_opts *o, mv_server *srv)
{
    struct sockaddr_storage ss;
    struct MHD_Daemon *d;
    sigset_t set;
    int sig;

    if (parse_listen(o->listen, &ss) < 0)
        return -1;
    if ((d = start_daemon(srv, o, &ss)) == NULL) {
        fprintf(stderr, "mailvet: cannot listen on %s: %s\n", o->listen,
                errno ? strerror(errno) : "libmicrohttpd failed");
        return -1;
    }
    print_listening(d, o->listen);
    sigemptyset(&set);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGINT);
    sigwait(&set, &sig);
    fprintf(stderr, "mailvet: %s: finishing requests in flight\n",
            sig == SIGTERM ? "SIGTERM" : "SIGINT");
    drain(srv, d, o->deadline_ms + 5000);
    MHD_stop_daemon(d);
    return 0;
}

static void defaults(serve_opts *o)
{
    mv_pipeline_init(&o->pipe);
    o->listen = "127.0.0.1:8080";
    o->deadline_ms = 1500;
    o->threads = 2;
    o->max_conn = 1024;
    o->max_per_ip = 256;
    o->timeout_s = 10;
    o->max_body = 262144;
    o->max_header = 16384;
    o->rate = 20;
    o->burst = 40;
    VL_STORE_CONFIG_INIT(&o->store_cfg);
}

/* The library context, keys and rate limiter behind 'srv'. */
static int setup(const serve_opts *o, mv_server *srv)
{
    vl_options lib = o->pipe.lib;
    char err[512];

    lib.deadline_ms = o->deadline_ms;
    srv->keys = mv_keys_load(o->key_file, "MAILVET_API_KEYS");
    if (srv->keys == NULL)
        return -1;
    if (o->rate && (srv->rl = mv_ratelimit_new(o->rate, o->burst)) == NULL)
        return -1;
    if (o->store != NULL) {
        vl_store_config cfg = o->store_cfg;
        /* An HTTP thread waits for another writer's lock at most as long
         * as a check may take, then answers 503. */
        cfg.busy_timeout_ms = o->deadline_ms;
        srv->store = mv_store_open(
            strcmp(o->store, "default") == 0 ? NULL : o->store, &cfg);
        if (srv->store == NULL)
            return -1;
        srv->scope = o->scope;
        lib.store = srv->store;
        lib.scope = o->scope;
    }
    if (vl_ctx_new(&lib, &srv->ctx, err, sizeof err) != VL_OK) {
        fprintf(stderr, "mailvet: %s\n", err);
        return -1;
    }
    srv->cors_origin = o->cors;
    srv->check_needs_key = o->check_key;
    srv->offline = (lib.flags & VL_OPT_OFFLINE) != 0;
    srv->smtp = (lib.flags & VL_OPT_SMTP) != 0;
    srv->json_flags = o->pipe.explain ? VL_JSON_EXPLAIN : 0;
    srv->max_body = o->max_body;
    return 0;
}

int mv_cmd_serve(int argc, char **argv)
{
    serve_opts o = {0};
    mv_server srv = {0};
    sigset_t set;
    int rc;

    defaults(&o);
    rc = parse_args(argc, argv, &o);
    if (rc != 0) {
        mv_serve_usage(rc == 1 ? stdout : stderr);
        mv_pipeline_free(&o.pipe);
        return rc == 1 ? MV_EXIT_OK : MV_EXIT_USAGE;
    }
    /* Block the stop signals before any thread starts, so that every
     * thread inherits the mask and only sigwait() sees them. */
    sigemptyset(&set);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGINT);
    pthread_sigmask(SIG_BLOCK, &set, NULL);
    signal(SIGPIPE, SIG_IGN);
    pthread_mutex_init(&srv.counts_mu, NULL);
    rc = setup(&o, &srv);
    if (rc == 0)
        rc = run(&o, &srv);
    vl_ctx_free(srv.ctx);
    vl_store_close(srv.store); /* after the daemon and the context */
    mv_ratelimit_free(srv.rl);
    mv_keys_free(srv.keys);
    pthread_mutex_destroy(&srv.counts_mu);
    mv_pipeline_free(&o.pipe);
    return rc == 0 ? MV_EXIT_OK : MV_EXIT_USAGE;
}
