/*
 * smtp_tls.c - STARTTLS (RFC 3207) for the prober: an OpenSSL client
 * session that reads and writes memory buffers, so the libuv socket code
 * stays the same with or without TLS.
 *
 * The certificate is not verified.  The probe sends no secret and no
 * message; TLS is there because some servers answer RCPT only after
 * STARTTLS, and MTAs talking to MX hosts do not verify either (RFC 7435
 * opportunistic security).  For the same reason the security level is
 * lowered to 1: an old server's TLS is better than none.
 */
#include "smtp.h"

#include <openssl/err.h>
#include <openssl/ssl.h>

#include <stdlib.h>

struct vl__tls_ctx {
    SSL_CTX *ssl;
};

struct vl__tls {
    SSL *ssl;
    BIO *in, *out; /* network -> OpenSSL, OpenSSL -> network */
};

vl_status vl__tls_ctx_new(vl__tls_ctx **out)
{
    vl__tls_ctx *c = calloc(1, sizeof *c);

    *out = NULL;
    if (c == NULL)
        return VL_ENOMEM;
    c->ssl = SSL_CTX_new(TLS_client_method());
    if (c->ssl == NULL) {
        free(c);
        return VL_EINTERNAL;
    }
    SSL_CTX_set_verify(c->ssl, SSL_VERIFY_NONE, NULL);
    SSL_CTX_set_security_level(c->ssl, 1);
    SSL_CTX_set_min_proto_version(c->ssl, TLS1_VERSION);
    *out = c;
    return VL_OK;
}

void vl__tls_ctx_free(vl__tls_ctx *c)
{
    if (c == NULL)
        return;
    SSL_CTX_free(c->ssl);
    free(c);
}

vl__tls *vl__tls_new(vl__tls_ctx *c, const char *sni)
{
    vl__tls *t = calloc(1, sizeof *t);

    if (t == NULL)
        return NULL;
    t->ssl = SSL_new(c->ssl);
    t->in = BIO_new(BIO_s_mem());
    t->out = BIO_new(BIO_s_mem());
    if (t->ssl == NULL || t->in == NULL || t->out == NULL) {
        SSL_free(t->ssl);
        BIO_free(t->in);
        BIO_free(t->out);
        free(t);
        return NULL;
    }
    /* An empty input BIO means "no data yet", not end of file. */
    BIO_set_mem_eof_return(t->in, -1);
    SSL_set_bio(t->ssl, t->in, t->out); /* the SSL owns both now */
    SSL_set_connect_state(t->ssl);
    if (sni != NULL && sni[0] != '\0')
        SSL_set_tlsext_host_name(t->ssl, sni);
    return t;
}

void vl__tls_free(vl__tls *t)
{
    if (t == NULL)
        return;
    SSL_free(t->ssl);
    free(t);
}

bool vl__tls_put_cipher(vl__tls *t, const char *buf, size_t len)
{
    while (len > 0) {
        int chunk = len > 65536 ? 65536 : (int)len;
        int w = BIO_write(t->in, buf, chunk);
        if (w <= 0)
            return false;
        buf += w;
        len -= (size_t)w;
    }
    return true;
}

char *vl__tls_take_cipher(vl__tls *t, size_t *len)
{
    size_t n = (size_t)BIO_ctrl_pending(t->out);
    char *buf;

    *len = 0;
    if (n == 0 || (buf = malloc(n)) == NULL)
        return NULL;
    int r = BIO_read(t->out, buf, (int)n);
    if (r <= 0) {
        free(buf);
        return NULL;
    }
    *len = (size_t)r;
    return buf;
}

static bool wants_more(vl__tls *t, int r)
{
    int e = SSL_get_error(t->ssl, r);

    ERR_clear_error();
    return e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE;
}

int vl__tls_handshake(vl__tls *t)
{
    int r = SSL_do_handshake(t->ssl);

    if (r == 1)
        return 1;
    return wants_more(t, r) ? 0 : -1;
}

long vl__tls_read(vl__tls *t, char *buf, size_t cap)
{
    int chunk = cap > 65536 ? 65536 : (int)cap;
    int r = SSL_read(t->ssl, buf, chunk);

    if (r > 0)
        return r;
    return wants_more(t, r) ? 0 : -1;
}

bool vl__tls_write(vl__tls *t, const char *buf, size_t len)
{
    /* A memory BIO takes everything at once: no partial writes. */
    int r = SSL_write(t->ssl, buf, (int)len);

    if (r == (int)len)
        return true;
    ERR_clear_error();
    return false;
}
