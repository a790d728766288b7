/*
 * dgram.c - c-ares' UDP traffic in batches (dgram.h).
 *
 * c-ares 1.18 sends each query with its own send() the moment it is
 * asked, and reads each answer with its own recvfrom(): two system
 * calls a query, which were most of the loop thread's time on a busy
 * resolver (and each one costs more inside a VM).  Through
 * ares_set_socket_functions() this file stands in for those calls on
 * UDP sockets:
 *
 *  - a write is copied to the socket's queue and reported as sent; the
 *    resolver flushes the queues with sendmmsg() once per loop
 *    iteration, just before the loop waits (a few milliseconds later
 *    at most, well inside any DNS timeout);
 *  - a read hands out the next datagram of a batch taken with one
 *    recvmmsg(), and fails with EAGAIN when the socket has nothing
 *    more, as recvfrom() on a non-blocking socket does.
 *
 * TCP sockets (truncated answers) and sockets this file could not
 * track (out of memory) go straight to the plain calls.
 */
#include "dgram.h"

#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

enum {
    BATCH = 64,
    /* c-ares 1.18 reads into MAXENDSSZ + 1 bytes: no answer it takes is
     * longer */
    RX_MAX = 4097,
    /* queries: a name of at most 255 octets, a header, EDNS */
    TX_BYTES = BATCH * 512
};

typedef struct sock {
    ares_socket_t fd;
    int err; /* met by a batched send: for c-ares' next read */
    unsigned rx_n, rx_pos;
    struct mmsghdr rx_msg[BATCH];
    struct iovec rx_iov[BATCH];
    struct sockaddr_storage rx_from[BATCH];
    unsigned char rx_buf[BATCH][RX_MAX];
    unsigned tx_n;
    size_t tx_used;
    struct mmsghdr tx_msg[BATCH];
    struct iovec tx_iov[BATCH];
    unsigned char tx_buf[TX_BYTES];
    struct sock *next;
} sock;

struct vl__dgram {
    ares_channel channel;
    int rcvbuf;
    sock *socks;
};

static sock *find(vl__dgram *d, ares_socket_t fd)
{
    for (sock *s = d->socks; s != NULL; s = s->next)
        if (s->fd == fd)
            return s;
    return NULL;
}

static void track(vl__dgram *d, ares_socket_t fd)
{
    sock *s = calloc(1, sizeof *s);

    if (s == NULL)
        return; /* plain calls for this one */
    s->fd = fd;
    for (unsigned i = 0; i < BATCH; i++) {
        s->rx_iov[i].iov_base = s->rx_buf[i];
        s->rx_iov[i].iov_len = RX_MAX;
        s->rx_msg[i].msg_hdr.msg_iov = &s->rx_iov[i];
        s->rx_msg[i].msg_hdr.msg_iovlen = 1;
        s->rx_msg[i].msg_hdr.msg_name = &s->rx_from[i];
        s->tx_msg[i].msg_hdr.msg_iov = &s->tx_iov[i];
        s->tx_msg[i].msg_hdr.msg_iovlen = 1;
    }
    s->next = d->socks;
    d->socks = s;
}

/* ---- the socket functions ------------------------------------------- */

/* c-ares 1.18 configures none of the sockets of socket functions (its
 * configure_socket() returns at once): what it would do is done here.
 * A buffer size the kernel refuses is not fatal: it caps it anyway. */
static ares_socket_t io_socket(int af, int type, int proto, void *arg)
{
    vl__dgram *d = arg;
    ares_socket_t fd = socket(af, type | SOCK_NONBLOCK | SOCK_CLOEXEC, proto);
    int one = 1;

    if (fd == ARES_SOCKET_BAD)
        return fd;
    if (d->rcvbuf > 0)
        setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &d->rcvbuf, sizeof d->rcvbuf);
    if (type == SOCK_STREAM)
        setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    if (type == SOCK_DGRAM)
        track(d, fd);
    return fd;
}

static int io_close(ares_socket_t fd, void *arg)
{
    vl__dgram *d = arg;

    for (sock **pp = &d->socks; *pp != NULL; pp = &(*pp)->next) {
        if ((*pp)->fd == fd) {
            sock *s = *pp;
            *pp = s->next;
            free(s); /* queued queries go with it: c-ares is done */
            break;
        }
    }
    return close(fd);
}

static int io_connect(ares_socket_t fd, const struct sockaddr *sa,
                      ares_socklen_t len, void *arg)
{
    (void)arg;
    return connect(fd, sa, len);
}

static int take_batch(sock *s)
{
    int k;

    for (unsigned i = 0; i < BATCH; i++)
        s->rx_msg[i].msg_hdr.msg_namelen = sizeof s->rx_from[i];
    do
        k = recvmmsg(s->fd, s->rx_msg, BATCH, MSG_DONTWAIT, NULL);
    while (k < 0 && errno == EINTR);
    if (k <= 0) {
        if (k == 0)
            errno = EAGAIN;
        return -1;
    }
    s->rx_n = (unsigned)k;
    s->rx_pos = 0;
    return 0;
}

static ares_ssize_t io_recvfrom(ares_socket_t fd, void *buf, size_t len,
                                int flags, struct sockaddr *from,
                                ares_socklen_t *from_len, void *arg)
{
    sock *s = find(arg, fd);
    struct mmsghdr *m;
    size_t n;

    if (s == NULL)
        return recvfrom(fd, buf, len, flags, from, from_len);
    if (s->err != 0) {
        errno = s->err;
        s->err = 0;
        return -1;
    }
    if (s->rx_pos == s->rx_n && take_batch(s) < 0)
        return -1;
    m = &s->rx_msg[s->rx_pos++];
    n = m->msg_len < len ? m->msg_len : len; /* cut, as recvfrom() */
    memcpy(buf, s->rx_buf[m - s->rx_msg], n);
    if (from != NULL && from_len != NULL) {
        ares_socklen_t k = m->msg_hdr.msg_namelen;
        memcpy(from, m->msg_hdr.msg_name, k < *from_len ? k : *from_len);
        *from_len = k;
    }
    return (ares_ssize_t)n;
}

static void send_queued(sock *s)
{
    unsigned sent = 0;

    while (sent < s->tx_n) {
        int k = sendmmsg(s->fd, s->tx_msg + sent, s->tx_n - sent, 0);
        if (k > 0) {
            sent += (unsigned)k;
            continue;
        }
        if (k < 0 && errno == EINTR)
            continue;
        if (k < 0 && errno != EAGAIN && errno != EWOULDBLOCK)
            s->err = errno;
        break; /* the rest is lost, as a datagram may be */
    }
    s->tx_n = 0;
    s->tx_used = 0;
}

static ares_ssize_t io_sendv(ares_socket_t fd, const struct iovec *iov, int n,
                             void *arg)
{
    sock *s = find(arg, fd);
    size_t len = 0;

    for (int i = 0; i < n; i++)
        len += iov[i].iov_len;
    if (s == NULL || len > TX_BYTES)
        return writev(fd, iov, n);
    if (s->tx_n == BATCH || s->tx_used + len > TX_BYTES)
        send_queued(s);
    struct iovec *v = &s->tx_iov[s->tx_n++];
    v->iov_base = s->tx_buf + s->tx_used;
    v->iov_len = len;
    for (int i = 0; i < n; i++) {
        memcpy(s->tx_buf + s->tx_used, iov[i].iov_base, iov[i].iov_len);
        s->tx_used += iov[i].iov_len;
    }
    return (ares_ssize_t)len;
}

static const struct ares_socket_functions io_funcs = {
    io_socket, io_close, io_connect, io_recvfrom, io_sendv,
};

/* ---- the resolver's side ---------------------------------------------- */

vl_status vl__dgram_new(ares_channel channel, int rcvbuf, vl__dgram **out)
{
    vl__dgram *d = calloc(1, sizeof *d);

    *out = d;
    if (d == NULL)
        return VL_ENOMEM;
    d->channel = channel;
    d->rcvbuf = rcvbuf;
    ares_set_socket_functions(channel, &io_funcs, d);
    return VL_OK;
}

/* Send every queue; the fd of a socket whose send failed, if any. */
static ares_socket_t send_all(vl__dgram *d)
{
    ares_socket_t failed = ARES_SOCKET_BAD;

    for (sock *s = d->socks; s != NULL; s = s->next) {
        if (s->tx_n > 0)
            send_queued(s);
        if (s->err != 0)
            failed = s->fd;
    }
    return failed;
}

void vl__dgram_flush(vl__dgram *d)
{
    ares_socket_t failed;

    /* c-ares reads a failed socket's error, which may close it and send
     * its queries again on another socket: send those too.  Bounded:
     * each turn takes one error away (c-ares has a socket a server). */
    for (int turn = 0; turn < 8; turn++) {
        if ((failed = send_all(d)) == ARES_SOCKET_BAD)
            return;
        ares_process_fd(d->channel, failed, ARES_SOCKET_BAD);
    }
}

void vl__dgram_free(vl__dgram *d)
{
    if (d == NULL)
        return;
    while (d->socks != NULL) { /* left by a channel never destroyed */
        sock *s = d->socks;
        d->socks = s->next;
        free(s);
    }
    free(d);
}
