/* media_write.h -- the media fast path: frames vigil has already framed, sent
 * straight to a viewer's socket.
 *
 * lws stays in charge of every connection: the handshake, text, control
 * frames, close, TLS, and whatever bytes it holds. Only when it holds none
 * for this connection (lws_partial_buffered() is false) and the socket is
 * plain TCP, a viewer's queued frames go out in one sendmsg(), each as its
 * WebSocket message: the header built once per frame next to the wire bytes
 * (media/frame.h), the same memory for every viewer. What the socket does not
 * take of a frame is handed to lws (lws_write with LWS_WRITE_RAW), which
 * sends it before anything else on that connection, so the byte stream stays
 * whole; frames not yet started stay queued.
 *
 * Why: the kernel needs one send per viewer per frame, and that is all the
 * floor (bench/) does. Through lws each delivery also costs a pass through
 * its service path and its libev glue; at 4000 viewers that user-space time
 * decides whether every socket is written before the next frame comes
 * (docs/PERFORMANCE.md, "Fan-out at the floor").
 *
 * Thread: the lws service thread only, as every lws call. */
#ifndef VIGIL_SERVER_MEDIA_WRITE_H
#define VIGIL_SERVER_MEDIA_WRITE_H

#include <libwebsockets.h>
#include <stdbool.h>
#include <stdint.h>

#include "media/relay.h"

/* Most frames in one sendmsg(): a viewer that fell a little behind catches
 * up in one call; the rest waits for the next writable turn. */
#define VG_MEDIA_WRITE_BATCH 16

typedef enum vg_media_write_result {
    VG_MEDIA_WRITE_DRAINED, /* the viewer's queue is empty: all of it is the kernel's */
    VG_MEDIA_WRITE_MORE,    /* frames stay queued (the socket is full, or the
                               batch ended): write again when it is writable */
    VG_MEDIA_WRITE_HANDED,  /* the socket cut a frame: lws sends its rest first;
                               write again when it is writable */
    VG_MEDIA_WRITE_FAILED,  /* the connection is broken: close it */
} vg_media_write_result;

/* What the fast path did, for /metrics. Owned by the server, lws thread. */
typedef struct vg_media_write_stats {
    uint64_t calls;  /* sendmsg() calls */
    uint64_t frames; /* frames written whole by them */
    uint64_t handed; /* frames cut by a full socket and finished by lws */
} vg_media_write_stats;

/* True when the fast path may write to this connection now: plain TCP and
 * nothing of lws's waiting to go out. */
bool vg_media_write_allowed(struct lws *wsi);

/* Writes up to VG_MEDIA_WRITE_BATCH of v's queued frames (the caller checked
 * vg_media_write_allowed()); counts each one sent with vg_relay_count_sent(). */
vg_media_write_result vg_media_write(struct lws *wsi, vg_viewer *v, vg_media_write_stats *st);

#endif
