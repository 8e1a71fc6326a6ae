/* media_write.c -- queued frames straight to the socket (see media_write.h). */
#include "server/media_write.h"

#include <errno.h>
#include <sys/socket.h>
#include <sys/uio.h>

bool vg_media_write_allowed(struct lws *wsi) {
    return !lws_is_ssl(wsi) && !lws_partial_buffered(wsi) && lws_get_socket_fd(wsi) >= 0;
}

/* Frames [0, n) of the queue went whole, then the first `cut` bytes of
 * frame n. Returns -1 when lws could not take that frame's rest. */
static int account(struct lws *wsi, vg_viewer *v, uint32_t n, size_t cut,
                   vg_media_write_stats *st) {
    for (uint32_t i = 0; i < n; i++) {
        vg_frame *f = vg_viewer_queue_pop(&v->queue);
        vg_relay_count_sent(v, vg_frame_wire_len(f));
        vg_frame_unref(f);
    }
    st->frames += n;
    if (!cut) return 0;
    vg_frame *f = vg_viewer_queue_pop(&v->queue);
    vg_viewer_queue_note_blocked(&v->queue); /* after the pop, which may have drained it */
    /* lws tries the rest once, copies what is left into its own buffer
     * (LWS_WRITE_RAW: no framing of its own) and asks for POLLOUT; the
     * frame may go. */
    int r = lws_write(wsi, (unsigned char *)vg_frame_ws_message(f) + cut,
                      vg_frame_ws_message_len(f) - cut, LWS_WRITE_RAW);
    if (r >= 0) vg_relay_count_sent(v, vg_frame_wire_len(f));
    vg_frame_unref(f);
    st->handed++;
    return r < 0 ? -1 : 0;
}

vg_media_write_result vg_media_write(struct lws *wsi, vg_viewer *v, vg_media_write_stats *st) {
    struct iovec iov[VG_MEDIA_WRITE_BATCH];
    uint32_t n = 0;
    vg_frame *f;
    while (n < VG_MEDIA_WRITE_BATCH && (f = vg_viewer_queue_peek(&v->queue, n))) {
        iov[n].iov_base = (void *)vg_frame_ws_message(f);
        iov[n].iov_len = vg_frame_ws_message_len(f);
        n++;
    }
    if (!n) return VG_MEDIA_WRITE_DRAINED;
    struct msghdr msg = {.msg_iov = iov, .msg_iovlen = n};
    ssize_t sent;
    do
        sent = sendmsg((int)lws_get_socket_fd(wsi), &msg, MSG_NOSIGNAL | MSG_DONTWAIT);
    while (sent < 0 && errno == EINTR);
    st->calls++;
    if (sent < 0) {
        if (errno != EAGAIN && errno != EWOULDBLOCK) return VG_MEDIA_WRITE_FAILED;
        vg_viewer_queue_note_blocked(&v->queue);
        return VG_MEDIA_WRITE_MORE;
    }
    /* Which frames went whole, and how much of the next one. */
    uint32_t whole = 0;
    size_t left = (size_t)sent;
    while (whole < n && left >= iov[whole].iov_len)
        left -= iov[whole++].iov_len;
    if (account(wsi, v, whole, left, st)) return VG_MEDIA_WRITE_FAILED;
    if (left) return VG_MEDIA_WRITE_HANDED;
    return vg_viewer_queue_empty(&v->queue) ? VG_MEDIA_WRITE_DRAINED : VG_MEDIA_WRITE_MORE;
}
