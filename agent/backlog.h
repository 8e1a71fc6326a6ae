/* backlog.h -- how long the bytes already in a TCP socket will take to
 * reach the peer.
 *
 * TCP_NOTSENT_LOWAT bounds only what the kernel has not sent yet; bytes
 * sent but not acknowledged are just as late for the viewer, and after a
 * fast start the congestion window lets tens of kilobytes of them pile up
 * in front of a link that has just slowed down (seconds, on a 100 kbit/s
 * uplink). So the sender asks, before each frame, how many bytes the socket
 * holds (SIOCOUTQ: unacknowledged plus unsent) and how fast the connection
 * has been delivering lately (TCP_INFO's delivery rate), and holds the frame
 * back while the socket stands for more than its budget (uplink.c). A held
 * frame waits in the camera's queue, where its age bound drops it. The
 * kernel's rate lags a link that has just slowed down by about a round
 * trip, so the sender also caps it by what it has been sending itself.
 *
 * Thread: any; it only reads the socket's state.
 */
#ifndef VIGIL_AGENT_BACKLOG_H
#define VIGIL_AGENT_BACKLOG_H

#include <stdbool.h>
#include <stdint.h>

typedef struct ag_backlog {
    uint32_t bytes;    /* in the socket: sent and not acknowledged, or not sent */
    uint64_t rate_Bps; /* the kernel's latest delivery rate estimate, bytes/s */
} ag_backlog;

/* Fills *out for the TCP socket fd; false when the kernel does not know yet
 * (no delivery rate measured) or fd is not a TCP socket. */
bool ag_socket_backlog(int fd, ag_backlog *out);

#endif
