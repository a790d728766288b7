/*
 * smtp_prober.h - the prober's objects, shared by the queues (smtp.c)
 * and the dialogue of one connection (smtp_session.c).  Private to
 * libvalidate; everything here runs on the context's loop thread.
 */
#ifndef VL_SMTP_PROBER_H
#define VL_SMTP_PROBER_H

#include "smtp.h"

#include <uv.h>

#include <stdbool.h>
#include <stdint.h>

enum {
    VL__SMTP_MAX_CANDS = 32, /* MX addresses a domain tries, in order */
    VL__SMTP_BATCH_MAX = 50, /* RCPTs sent before their replies are read */
    VL__SMTP_DEAD_NEEDED =
        3, /* distinct silent hosts that mean "port blocked" */
    VL__SMTP_DEFAULT_RETRY_S = 300,
    /* How long a connection with room left waits for more recipients of
     * its domain before QUIT: a batch front end hands addresses over in
     * waves, and a new connection costs a handshake (and TLS). */
    VL__SMTP_IDLE_MS = 300,
    VL__SMTP_MAX_DOMAINS =
        100000 /* idle domain entries kept (catch-all cache) */
};

/* ---- the objects ---------------------------------------------------- */

typedef struct sdomain sdomain;

/* An address waiting for its answer. */
typedef struct rcpt {
    struct rcpt *next;
    sdomain *d;
    vl__smtp_cb cb;
    void *arg;
    bool utf8;
    bool retried;       /* greylisted once already */
    uv_timer_t timer;   /* the greylisting wait */
    struct rcpt *wnext; /* prober's list of those waiting */
    struct rcpt *wprev;
    char addr[];
} rcpt;

typedef struct cand {
    const char *host; /* in the domain's info */
    vl__dns_addr addr;
} cand;

typedef struct shost {
    char name[VL__SMTP_IP_CAP]; /* the address as text: the hosts' key */
    vl__prober *p;
    unsigned active;
    uint64_t next_ok_ms; /* the rate limit's next free moment */
    sdomain *wait_head, *wait_tail;
    uv_timer_t timer;
    bool timer_init;
} shost;

struct sdomain {
    char name[VL__SMTP_HOST_CAP]; /* A-labels: the domains' key */
    vl__prober *p;
    vl__domain_info *info; /* a reference */
    cand cands[VL__SMTP_MAX_CANDS];
    unsigned n_cands, cur;     /* cur: the candidate to use next */
    vl_reason fail;            /* why the candidates so far failed */
    vl__smtp_outcome fail_out; /* and the reply and dialogue behind it */
    int fail_level;            /* how far the best of them got */
    rcpt *head, *tail;         /* queued */
    unsigned queued, conns;    /* open connections */
    unsigned retrying;         /* greylisted, waiting to ask again */
    int catch_all;             /* -2 not asked, -1 no answer, 0, 1 */
    bool probing;              /* the catch-all RCPT is in flight */
    bool no_tls;               /* opportunistic TLS failed here */
    bool blocked;              /* sender refused at MAIL: stop */
    vl_reason block_reason;
    vl__smtp_outcome block; /* the reply that stopped it */
    char random_local[24];
    struct conn *idle; /* a connection waiting for more, or NULL */
    sdomain *wnext;    /* in a host's wait list */
    bool waiting;
    uint64_t used_ms; /* last activity, for eviction */
};

typedef enum cstate {
    S_CONNECT,
    S_BANNER,
    S_EHLO,
    S_HELO,
    S_STARTTLS,
    S_HANDSHAKE,
    S_MAIL,
    S_RCPT,
    S_RSET,
    S_IDLE, /* a batch is done, the queue empty: waiting for more */
    S_QUIT,
    S_DONE
} cstate;

typedef struct conn {
    struct conn *next, *prev;
    vl__prober *p;
    sdomain *d;
    shost *h;
    unsigned cand;
    uv_tcp_t tcp;
    uv_timer_t timer;
    uv_connect_t creq;
    int open_handles;
    cstate st;
    vl__smtp_reader rd;
    vl__tls *tls;
    bool tls_on;
    unsigned caps;
    bool spoke;     /* the server sent a reply */
    bool reached;   /* MAIL FROM was accepted */
    bool tls_retry; /* give the queue back: try again in plain text */
    rcpt *batch[VL__SMTP_BATCH_MAX];
    unsigned n_batch, next_send, replies;
    bool probe_in_batch;
    unsigned sent; /* RCPTs on this connection */
    bool last_batch;
    uint64_t t0;
    vl__smtp_line *lines; /* transcript, with the rcpt each concerns */
    rcpt **owners;
    size_t n_lines;
    rcpt *owner; /* whose RCPT the next lines are */
} conn;

struct vl__prober {
    uv_loop_t *loop;
    unsigned flags, port, tls_mode;
    unsigned connect_ms, timeout_ms, per_conn, per_host, rate, grey_ms;
    char from[VL__FIELD_CAP];
    char helo[VL__SMTP_HOST_CAP];
    struct sockaddr_storage source;
    bool has_source;
    const vl__strset *unverifiable;
    vl__tls_ctx *tls;
    vl__strset domains, hosts; /* name -> sdomain, address -> shost */
    conn *conns;
    rcpt *waiting; /* greylisted, waiting to try again */
    vl__prober_stats stats;
    unsigned banners; /* connections that got a reply */
    char dead[VL__SMTP_DEAD_NEEDED]
             [VL__SMTP_HOST_CAP]; /* domains of silent hosts */
    char dead_ip[VL__SMTP_DEAD_NEEDED][VL__SMTP_IP_CAP];
    unsigned n_dead;
    bool closing;
    uint64_t seed;
};

/* ---- smtp.c: queues, hosts and answers ---------------------------------- */

/* Open connections for the queue of 'd' as the limits allow, or answer
 * it when nothing can be tried any more. */
void vl__smtp_pump(vl__prober *p, sdomain *d);
/* A slot of 'h' is free: the domains waiting for it go on. */
void vl__smtp_wake_host(vl__prober *p, shost *h);
/* Greylisted: ask about 'r' once more after a wait (see smtp.c). */
void vl__smtp_greylist_wait(conn *c, rcpt *r, unsigned hint_s);
rcpt *vl__smtp_dequeue(sdomain *d);
void vl__smtp_enqueue(sdomain *d, rcpt *r, bool front);
void vl__smtp_outcome_init(vl__smtp_outcome *o, vl_reason r);
void vl__smtp_outcome_reply(vl__smtp_outcome *o, const vl__smtp_reply *rep);
/* Answer 'r' (the callee takes what 'o' owns) and free it. */
void vl__smtp_answer(rcpt *r, vl__smtp_outcome *o);

static inline uint64_t vl__smtp_now_ms(const vl__prober *p)
{
    return uv_now(p->loop);
}

static inline void vl__smtp_addr_text(const vl__dns_addr *a, char *out)
{
    uv_inet_ntop(a->family == 4 ? AF_INET : AF_INET6, a->bytes, out,
                 VL__SMTP_IP_CAP);
}

/* ---- smtp_session.c: one connection --------------------------------------
 */

/* Connect to the domain's current candidate through host 'h'. */
bool vl__smtp_conn_open(vl__prober *p, sdomain *d, shost *h);
/* Give the idle connection of 'd' the next batch. */
void vl__smtp_conn_resume(sdomain *d);
/* Idle connections to 'h' say QUIT: another domain needs the slot. */
void vl__smtp_release_idle(vl__prober *p, shost *h);
/* Shutting down: the batch is answered, the connection closed. */
void vl__smtp_conn_abort(conn *c);
/* Answer 'r' with 'why', and what 'c' (may be NULL) knows. */
void vl__smtp_answer_reason(rcpt *r, vl_reason why, const conn *c);

#endif /* VL_SMTP_PROBER_H */
