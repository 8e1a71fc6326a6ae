/* backlog.c -- the bytes in a TCP socket and their time to drain
 * (backlog.h). Linux headers, not glibc's netinet/tcp.h: glibc's struct
 * tcp_info stops before tcpi_delivery_rate. */
#include "agent/backlog.h"

#include <linux/in.h>
#include <linux/sockios.h>
#include <linux/tcp.h>
#include <stddef.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>

bool ag_socket_backlog(int fd, ag_backlog *out) {
    int queued = 0;
    struct tcp_info ti;
    socklen_t len = sizeof ti;
    memset(&ti, 0, sizeof ti);
    if (ioctl(fd, SIOCOUTQ, &queued) || queued < 0 ||
        getsockopt(fd, IPPROTO_TCP, TCP_INFO, &ti, &len))
        return false;
    /* A kernel older than the field (4.9) leaves it 0: unknown. */
    if (len < offsetof(struct tcp_info, tcpi_delivery_rate) + sizeof ti.tcpi_delivery_rate ||
        !ti.tcpi_delivery_rate)
        return false;
    out->bytes = (uint32_t)queued;
    out->rate_Bps = ti.tcpi_delivery_rate;
    return true;
}
