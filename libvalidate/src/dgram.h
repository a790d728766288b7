/*
 * dgram.h - c-ares' UDP traffic in batches: the queries it writes are
 * sent together with sendmmsg() once per loop iteration, and the
 * answers it reads come from recvmmsg(), many a system call.  Private
 * to libvalidate; the resolver's loop thread only.
 */
#ifndef VL_DGRAM_H
#define VL_DGRAM_H

#include "internal.h"

#include <ares.h>

typedef struct vl__dgram vl__dgram;

/* Take over the socket calls of 'channel' (before it opens a socket).
 * c-ares sets nothing on such sockets, so they are made here as it
 * would: non-blocking, close-on-exec, TCP_NODELAY for TCP, and a
 * receive buffer of 'rcvbuf' bytes (0: the system's).  The channel must
 * be destroyed before vl__dgram_free(). */
vl_status vl__dgram_new(ares_channel channel, int rcvbuf, vl__dgram **out);
/* Send what c-ares wrote since the last flush.  A send that fails is
 * lost as any datagram may be (c-ares asks again after its timeout);
 * an error the kernel reports for the socket (ICMP port unreachable)
 * goes to c-ares at once, as its own send would have seen it. */
void vl__dgram_flush(vl__dgram *d);
void vl__dgram_free(vl__dgram *d);

#endif /* VL_DGRAM_H */
