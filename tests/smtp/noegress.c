/*
 * noegress.c - an LD_PRELOAD guard for the SMTP stage tests: no packet
 * leaves the machine, whatever the program under test tries.
 *
 * The SMTP fixture has a domain whose MX host is at a private address
 * (private.smtp.mvtest, 10.255.0.25): the prober must refuse to connect
 * there.  Should it try anyway, the attempt must fail here instead of
 * sending a SYN off the machine.  connect(), sendto() and sendmsg() to
 * an IPv4 or IPv6 address outside the loopback ranges (127.0.0.0/8, ::1,
 * ::ffff:127.0.0.0/104) fail with ENETUNREACH, and each attempt is
 * appended as one line ("connect 10.255.0.25:25") to the file named by
 * $MAILVET_NOEGRESS_LOG, so the test can assert there was none.
 * Non-IP families (AF_UNIX, AF_UNSPEC, ...) pass through.  (sendmmsg()
 * is not wrapped: libuv's UDP uses it, but mailvet's UDP is c-ares',
 * which connects its sockets first.)
 *
 * What is allowed goes to the kernel with syscall(2) (no dlsym, no
 * RTLD_NEXT).  Not a sandbox: a program making raw system calls, or
 * using io_uring, gets past it; mailvet (libuv, c-ares) calls the libc
 * functions.
 */
/* syscall(); not _GNU_SOURCE, whose sockaddr arguments are transparent
 * unions that these definitions would not match. */
#define _DEFAULT_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <unistd.h>

/* True when 'sa' may be used: not an IP address, or a loopback one. */
static int allowed(const struct sockaddr *sa, socklen_t len)
{
    const struct sockaddr_in *in4;
    const struct sockaddr_in6 *in6;

    if (sa == NULL || len < sizeof sa->sa_family)
        return 1;
    switch (sa->sa_family) {
    case AF_INET:
        if (len < sizeof *in4)
            return 0;
        in4 = (const struct sockaddr_in *)sa;
        return (ntohl(in4->sin_addr.s_addr) >> 24) == 127;
    case AF_INET6:
        if (len < sizeof *in6)
            return 0;
        in6 = (const struct sockaddr_in6 *)sa;
        if (IN6_IS_ADDR_LOOPBACK(&in6->sin6_addr))
            return 1;
        return IN6_IS_ADDR_V4MAPPED(&in6->sin6_addr) &&
               in6->sin6_addr.s6_addr[12] == 127;
    default:
        return 1;
    }
}

/* Append "<what> <address>:<port>\n" to $MAILVET_NOEGRESS_LOG. */
static void note(const char *what, const struct sockaddr *sa)
{
    const char *path = getenv("MAILVET_NOEGRESS_LOG");
    char addr[INET6_ADDRSTRLEN] = "?";
    char line[128];
    unsigned port = 0;
    int fd, n, saved = errno;

    if (sa->sa_family == AF_INET) {
        const struct sockaddr_in *in4 = (const struct sockaddr_in *)sa;
        inet_ntop(AF_INET, &in4->sin_addr, addr, sizeof addr);
        port = ntohs(in4->sin_port);
    } else if (sa->sa_family == AF_INET6) {
        const struct sockaddr_in6 *in6 = (const struct sockaddr_in6 *)sa;
        inet_ntop(AF_INET6, &in6->sin6_addr, addr, sizeof addr);
        port = ntohs(in6->sin6_port);
    }
    n = snprintf(line, sizeof line, "%s %s:%u\n", what, addr, port);
    if (path != NULL && n > 0 && (size_t)n < sizeof line) {
        fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644);
        if (fd >= 0) {
            ssize_t w = write(fd, line, (size_t)n); /* short: nothing to do */
            (void)w;
            close(fd);
        }
    }
    errno = saved;
}

int connect(int fd, const struct sockaddr *sa, socklen_t len)
{
    if (!allowed(sa, len)) {
        note("connect", sa);
        errno = ENETUNREACH;
        return -1;
    }
    return (int)syscall(SYS_connect, fd, sa, len);
}

ssize_t sendto(int fd, const void *buf, size_t n, int flags,
               const struct sockaddr *sa, socklen_t len)
{
    if (!allowed(sa, len)) {
        note("sendto", sa);
        errno = ENETUNREACH;
        return -1;
    }
    return (ssize_t)syscall(SYS_sendto, fd, buf, n, flags, sa, len);
}

ssize_t sendmsg(int fd, const struct msghdr *msg, int flags)
{
    if (msg != NULL && !allowed(msg->msg_name, msg->msg_namelen)) {
        note("sendmsg", msg->msg_name);
        errno = ENETUNREACH;
        return -1;
    }
    return (ssize_t)syscall(SYS_sendmsg, fd, msg, flags);
}
