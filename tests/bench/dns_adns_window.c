/*
 * dns_adns_window.c - GNU adns (libadns, Debian libadns1-dev) as the
 * reference asynchronous C resolver for tests/bench/run-dns.
 *
 *   dns_adns_window -p PORT [-s 127.0.0.1] [-w WINDOW] [-v] < domains
 *
 * Reads one domain per line, then resolves them with a bounded window:
 * WINDOW (default 256) domains in flight, a new one submitted as each
 * answer comes back (adnshost -a -f submits everything it reads at once,
 * which floods the resolver).  Each domain is one adns_r_mx query: the
 * "enhanced" MX type, which answers every MX host together with its
 * addresses.  adns takes them from the reply's additional section when
 * the server put them there; Unbound here runs with minimal-responses,
 * so there is none, and adns asks A and AAAA for every MX host itself
 * (child queries, both families at once, sent when the MX answer is in).
 * So per domain: 1 MX + 2 hosts x (A + AAAA) = 5 queries, the same as
 * mailvet (Unbound's query log shows exactly these).  Both families
 * need adns_qf_want_allaf (adnshost's default -Aa does the same): with
 * no _want_ flag, libadns 1.6 asks A only for MX hosts.
 *
 * A domain is "fully resolved" when the MX answer is ok and at least one
 * MX host has an address (the same test as mailvet's "mx" in JSON).
 * Prints one summary line on stdout:
 *   domains=N resolved=R mx_ok=M hosts=H hosts_with_addr=A failed=F secs=S
 * and with -v one line per domain on stderr.
 *
 * adns always sends to port 53 (resolv.conf syntax has no port), and it
 * drops replies from an address:port it did not send to.  The test
 * servers run on a port picked at start, so this program is linked with
 * -Wl,--wrap=sendto,--wrap=recvfrom,--wrap=connect against the static
 * libadns.a: a datagram (or TCP connection) to SERVER:53 goes to
 * SERVER:PORT, and a reply from SERVER:PORT is shown to adns as coming
 * from SERVER:53.  Nothing else changes.
 *
 * Build: cc -O2 -o dns_adns_window dns_adns_window.c /usr/lib/libadns.a \
 *          -Wl,--wrap=sendto,--wrap=recvfrom,--wrap=connect
 */
#define _POSIX_C_SOURCE 200809L

#include <adns.h>
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

/* ---- port redirection (see the header comment) ---------------------- */

static struct in_addr server;
static in_port_t real_port; /* network order */

ssize_t __real_sendto(int fd, const void *buf, size_t len, int flags,
                      const struct sockaddr *to, socklen_t tolen);
ssize_t __real_recvfrom(int fd, void *buf, size_t len, int flags,
                        struct sockaddr *from, socklen_t *fromlen);
int __real_connect(int fd, const struct sockaddr *to, socklen_t tolen);
ssize_t __wrap_sendto(int fd, const void *buf, size_t len, int flags,
                      const struct sockaddr *to, socklen_t tolen);
ssize_t __wrap_recvfrom(int fd, void *buf, size_t len, int flags,
                        struct sockaddr *from, socklen_t *fromlen);
int __wrap_connect(int fd, const struct sockaddr *to, socklen_t tolen);

/* A copy of 'to' with port 53 of our server replaced by the real port,
 * or NULL when 'to' is something else. */
static const struct sockaddr *
redirect(const struct sockaddr *to, socklen_t tolen, struct sockaddr_in *copy)
{
    if (to == NULL || tolen < (socklen_t)sizeof *copy ||
        to->sa_family != AF_INET)
        return NULL;
    memcpy(copy, to, sizeof *copy);
    if (copy->sin_port != htons(53) || copy->sin_addr.s_addr != server.s_addr)
        return NULL;
    copy->sin_port = real_port;
    return (const struct sockaddr *)copy;
}

ssize_t __wrap_sendto(int fd, const void *buf, size_t len, int flags,
                      const struct sockaddr *to, socklen_t tolen)
{
    struct sockaddr_in copy;
    const struct sockaddr *r = redirect(to, tolen, &copy);

    return __real_sendto(fd, buf, len, flags, r ? r : to, tolen);
}

int __wrap_connect(int fd, const struct sockaddr *to, socklen_t tolen)
{
    struct sockaddr_in copy;
    const struct sockaddr *r = redirect(to, tolen, &copy);

    return __real_connect(fd, r ? r : to, tolen);
}

ssize_t __wrap_recvfrom(int fd, void *buf, size_t len, int flags,
                        struct sockaddr *from, socklen_t *fromlen)
{
    ssize_t n = __real_recvfrom(fd, buf, len, flags, from, fromlen);

    if (n >= 0 && from != NULL && fromlen != NULL &&
        *fromlen >= (socklen_t)sizeof(struct sockaddr_in) &&
        from->sa_family == AF_INET) {
        struct sockaddr_in *in = (struct sockaddr_in *)from;
        if (in->sin_port == real_port && in->sin_addr.s_addr == server.s_addr)
            in->sin_port = htons(53);
    }
    return n;
}

/* ---- the driver ----------------------------------------------------- */

static void die(const char *what)
{
    fprintf(stderr, "dns_adns_window: %s\n", what);
    exit(2);
}

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

int main(int argc, char **argv)
{
    const char *srv = "127.0.0.1";
    long port = 0, window = 256;
    int verbose = 0, opt;

    while ((opt = getopt(argc, argv, "s:p:w:v")) != -1) {
        switch (opt) {
        case 's':
            srv = optarg;
            break;
        case 'p':
            port = strtol(optarg, NULL, 10);
            break;
        case 'w':
            window = strtol(optarg, NULL, 10);
            break;
        case 'v':
            verbose = 1;
            break;
        default:
            die("usage: dns_adns_window -p PORT [-s ADDR] [-w WINDOW] [-v]");
        }
    }
    if (port <= 0 || port > 65535 || window <= 0 ||
        inet_pton(AF_INET, srv, &server) != 1)
        die("usage: dns_adns_window -p PORT [-s IPV4] [-w WINDOW] [-v]");
    real_port = htons((in_port_t)port);

    /* The names, read before the clock starts. */
    size_t n = 0, cap = 1024;
    char **names = malloc(cap * sizeof *names), *line = NULL;
    size_t lcap = 0;
    ssize_t len;
    if (names == NULL)
        die("out of memory");
    while ((len = getline(&line, &lcap, stdin)) > 0) {
        while (len > 0 && (line[len - 1] == '\n' || line[len - 1] == '\r'))
            line[--len] = '\0';
        if (len == 0)
            continue;
        if (n == cap &&
            (names = realloc(names, (cap *= 2) * sizeof *names)) == NULL)
            die("out of memory");
        if ((names[n++] = strdup(line)) == NULL)
            die("out of memory");
    }
    free(line);

    /* SIGPIPE ignored here, so adns need not block it around each call. */
    signal(SIGPIPE, SIG_IGN);
    char cfg[128];
    snprintf(cfg, sizeof cfg, "nameserver %s\n", srv);
    adns_state ads;
    if (adns_init_strcfg(&ads,
                         adns_if_noenv | adns_if_noerrprint |
                             adns_if_noserverwarn | adns_if_nosigpipe |
                             adns_if_permit_ipv4 | adns_if_permit_ipv6,
                         stderr, cfg) != 0)
        die("adns_init_strcfg failed");

    size_t next = 0, inflight = 0, resolved = 0, mx_ok = 0, failed = 0;
    size_t hosts = 0, hosts_addr = 0;
    double t0 = now_s();
    for (;;) {
        while (inflight < (size_t)window && next < n) {
            adns_query q;
            if (adns_submit(ads, names[next], adns_r_mx, adns_qf_want_allaf,
                            names[next], &q) != 0)
                die("adns_submit failed");
            next++;
            inflight++;
        }
        if (inflight == 0)
            break;
        adns_query q = NULL;
        adns_answer *ans = NULL;
        void *ctx = NULL;
        int rc = adns_wait(ads, &q, &ans, &ctx);
        if (rc == EINTR)
            continue;
        if (rc != 0)
            die("adns_wait failed");
        inflight--;
        int ok = 0;
        if (ans->status == adns_s_ok) {
            mx_ok++;
            for (int i = 0; i < ans->nrrs; i++) {
                const adns_rr_inthostaddr *mx = &ans->rrs.inthostaddr[i];
                hosts++;
                if (mx->ha.astatus == adns_s_ok && mx->ha.naddrs > 0) {
                    hosts_addr++;
                    ok = 1;
                }
            }
        } else {
            failed++;
        }
        resolved += (size_t)ok;
        if (verbose) {
            fprintf(stderr, "%s %s %d", (const char *)ctx,
                    adns_errabbrev(ans->status), ans->nrrs);
            for (int i = 0; i < ans->nrrs && ans->status == adns_s_ok; i++) {
                const adns_rr_inthostaddr *mx = &ans->rrs.inthostaddr[i];
                fprintf(stderr, " %d:%s:%s:%d", mx->i, mx->ha.host,
                        adns_errabbrev(mx->ha.astatus), mx->ha.naddrs);
            }
            fputc('\n', stderr);
        }
        free(ans);
    }
    double secs = now_s() - t0;
    adns_finish(ads);
    printf("domains=%zu resolved=%zu mx_ok=%zu hosts=%zu hosts_with_addr=%zu "
           "failed=%zu secs=%.3f\n",
           n, resolved, mx_ok, hosts, hosts_addr, failed, secs);
    for (size_t i = 0; i < n; i++)
        free(names[i]);
    free(names);
    return 0;
}
