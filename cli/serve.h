/*
 * serve.h - the state `mailvet serve` shares between its command
 * (serve.c: options, daemon, signals) and its request handling
 * (serve_http.c: routes, bodies, asynchronous checks, answers).
 */
#ifndef MV_SERVE_H
#define MV_SERVE_H

#include <microhttpd.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

#include "apikeys.h"
#include "ratelimit.h"
#include "validate.h"

enum { MV_BATCH_MAX = 1000 };

typedef struct mv_server {
    vl_ctx *ctx;             /* borrowed: outlives the daemon */
    mv_keys *keys;           /* borrowed */
    mv_ratelimit *rl;        /* borrowed; NULL: no rate limit */
    vl_store *store;         /* borrowed; NULL: store routes answer 501 */
    const char *scope;       /* borrowed; the store scope, NULL: none */
    const char *cors_origin; /* borrowed; NULL: no CORS headers */
    bool check_needs_key;    /* /v1/check needs an API key too */
    bool offline;            /* for /healthz */
    bool smtp;               /* --smtp: requests may ask for the probe */
    unsigned json_flags;     /* VL_JSON_* for every answer */
    size_t max_body;         /* bytes; over it: 413 */
    atomic_long inflight;    /* requests begun and not completed */
    atomic_bool stopping;    /* set at SIGTERM: new requests get 503 */
    /* The store's counts for /metrics, kept a while (serve_http.c says
     * why); under counts_mu. */
    pthread_mutex_t counts_mu;
    vl_store_stats counts;
    double counts_at; /* CLOCK_MONOTONIC seconds; 0: never counted */
} mv_server;

/* MHD_AccessHandlerCallback; 'cls' is the mv_server. */
enum MHD_Result mv_http_handle(void *cls, struct MHD_Connection *conn,
                               const char *url, const char *method,
                               const char *version, const char *upload,
                               size_t *upload_size, void **con_cls);
/* MHD_RequestCompletedCallback; 'cls' is the mv_server. */
void mv_http_completed(void *cls, struct MHD_Connection *conn, void **con_cls,
                       enum MHD_RequestTerminationCode toe);

int mv_cmd_serve(int argc, char **argv);
void mv_serve_usage(FILE *out);

#endif
