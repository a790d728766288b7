/*
 * smtp.h - the SMTP RCPT probe: the reply reader (smtp_reply.c), TLS over
 * memory buffers (smtp_tls.c) and the prober on the context's loop
 * (smtp.c).  Private to libvalidate.
 */
#ifndef VL_SMTP_H
#define VL_SMTP_H

#include "dns.h"
#include "internal.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum {
    /* RFC 5321 §4.5.3.1.5 allows 512 octets per reply line; servers
     * that list many EHLO extensions or long texts exceed it a little,
     * so allow four times that and call anything longer a fault. */
    VL__SMTP_LINE_MAX = 2048,
    /* Lines of one multi-line reply (an EHLO list is about 10-20). */
    VL__SMTP_LINES_MAX = 128,
    /* the longest line a transcript keeps */
    VL__SMTP_TRANSCRIPT_LINE = 512,
    VL__SMTP_TRANSCRIPT_MAX = 256 /* lines per connection */
};

/* EHLO keywords the prober cares about (RFC 2920, 6531, 3207). */
enum {
    VL__EHLO_PIPELINING = 1u << 0,
    VL__EHLO_SMTPUTF8 = 1u << 1,
    VL__EHLO_STARTTLS = 1u << 2
};

typedef struct vl__smtp_reply {
    int code;                             /* 200-599 */
    char enhanced[VL__SMTP_ENHANCED_CAP]; /* RFC 3463 code, or "" */
    char text[VL__SMTP_TEXT_CAP];         /* the lines' texts joined by " " */
    unsigned n_lines;
    unsigned ehlo; /* VL__EHLO_* keywords on lines after the first */
} vl__smtp_reply;

typedef enum vl__smtp_feed {
    VL__SMTP_MORE,  /* every byte used; the reply is not complete */
    VL__SMTP_REPLY, /* r->reply holds one whole reply */
    VL__SMTP_BAD    /* the server broke the protocol: r->error says how */
} vl__smtp_feed;

/* Reads replies from the byte stream, one at a time, in bounded memory
 * whatever the server sends. */
typedef struct vl__smtp_reader {
    char line[VL__SMTP_LINE_MAX];
    size_t len;
    vl__smtp_reply reply;
    size_t text_len;
    bool in_reply; /* a continuation line ("250-") was read */
    const char *error;
    /* Called with each complete line (CR LF removed), when not NULL:
     * the transcript of --explain. */
    void (*on_line)(void *arg, const char *line, size_t len);
    void *arg;
} vl__smtp_reader;

void vl__smtp_reader_init(vl__smtp_reader *r);
/* Read from 'buf' ('len' bytes) up to the end of one reply.  '*used' is
 * how many bytes were consumed: after VL__SMTP_REPLY, call again with
 * the rest (a pipelined server sends several replies at once).  After
 * VL__SMTP_BAD the reader stays failed. */
vl__smtp_feed vl__smtp_read(vl__smtp_reader *r, const char *buf, size_t len,
                            size_t *used);

/* What a reply to RCPT says of the mailbox: VL_R__COUNT for accepted,
 * else the reason (smtp.c).  Only a reply that names the mailbox gives
 * an undeliverable reason. */
vl_reason vl__smtp_classify(const vl__smtp_reply *rep);
/* The wait a reply text asks for ("retry in 300 seconds", "try again in
 * 5 minutes"), in seconds; 0 when it names none. */
unsigned vl__smtp_retry_hint(const char *text);

/* ---- the prober ----------------------------------------------------------
 */

typedef struct vl__prober vl__prober;
struct uv_loop_s;

typedef struct vl__prober_stats {
    uint64_t connections; /* TCP connections opened */
    uint64_t rcpts;       /* RCPT commands sent (catch-all probes too) */
    bool port_blocked;
} vl__prober_stats;

/* Called once per probe on the loop thread; the callee takes what 'o'
 * owns (its transcript). */
typedef void (*vl__smtp_cb)(void *arg, vl__smtp_outcome *o);

vl_status vl__prober_new(struct uv_loop_s *loop, const vl_options *opt,
                         const vl__strset *unverifiable, vl__prober **out,
                         char *err, size_t err_cap);
/* Answer everything waiting (smtp_unavailable... never undeliverable)
 * and close every handle; the loop must then run until they close. */
void vl__prober_free(vl__prober *p);

/* Probe 'rcpt' (local@domain-in-A-labels, syntax-checked) at 'domain'
 * whose mail hosts 'info' lists.  'utf8' when the local part needs
 * SMTPUTF8.  'cb' runs exactly once, possibly before this returns. */
void vl__prober_probe(vl__prober *p, const char *domain, vl__domain_info *info,
                      const char *rcpt, bool utf8, vl__smtp_cb cb, void *arg);

void vl__prober_get_stats(const vl__prober *p, vl__prober_stats *out);

/* ---- TLS on memory buffers (smtp_tls.c) --------------------------------- */

typedef struct vl__tls vl__tls;
typedef struct vl__tls_ctx vl__tls_ctx;

vl_status vl__tls_ctx_new(vl__tls_ctx **out);
void vl__tls_ctx_free(vl__tls_ctx *c);
/* A client session; 'sni' names the server (may be NULL). */
vl__tls *vl__tls_new(vl__tls_ctx *c, const char *sni);
void vl__tls_free(vl__tls *t);
/* Bytes that came from the network. */
bool vl__tls_put_cipher(vl__tls *t, const char *buf, size_t len);
/* Bytes to send to the network: a buffer the caller frees, or NULL. */
char *vl__tls_take_cipher(vl__tls *t, size_t *len);
/* Move the handshake on: 1 done, 0 wants more input, -1 failed. */
int vl__tls_handshake(vl__tls *t);
/* Decrypted bytes: count, 0 none yet, -1 failed or closed. */
long vl__tls_read(vl__tls *t, char *buf, size_t cap);
bool vl__tls_write(vl__tls *t, const char *buf, size_t len);

#endif /* VL_SMTP_H */
