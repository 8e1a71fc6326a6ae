/* http_snapshot.h -- GET /api/streams/{id}/snapshot.jpg: the stream's
 * newest keyframe as a JPEG (signaling/PROTOCOL.md, "Snapshots").
 *
 *   ?width=N    scaled to N pixels wide (16 to 3840), the height keeping
 *               the picture's shape; never wider than the picture
 *   ?variant=V  a substream's or the transcode's picture (while it runs)
 *
 * 200 image/jpeg with X-Vigil-Frame-Time (when the keyframe left the
 * pipeline, milliseconds since the epoch) and Cache-Control: no-store;
 * 400 bad_field (width), 404 unknown_stream (also for a stream the token
 * does not cover, as for subscribe) or unknown_variant, 503 no_keyframe or
 * busy with Retry-After, 500 snapshot_failed. A snapshot already made for
 * the stream's newest keyframe at that width is the answer at once;
 * otherwise the request waits for the worker (server/snapshots.h) with its
 * connection not reading (server/http_reply.h, deferred replies).
 *
 * Thread: lws service thread only. */
#ifndef VIGIL_SERVER_HTTP_SNAPSHOT_H
#define VIGIL_SERVER_HTTP_SNAPSHOT_H

#include <libwebsockets.h>

#include "server/http_reply.h"

struct vg_server;

/* In LWS_CALLBACK_HTTP, for a GET or HEAD of stream `id`'s snapshot, with
 * hs->access set. As vg_http_reply(): 0, or -1 for the callback to close. */
int vg_http_snapshot(struct lws *wsi, vg_http_session *hs, const char *id);

/* Answers the requests whose snapshot the worker finished. Outside any lws
 * callback (after each turn of the loop, like write_ready in server.c):
 * each reply is written from its connection's HTTP_WRITEABLE, which this
 * runs at once through lws_service_fd. */
void vg_http_snapshots_answer(struct vg_server *srv);

#endif
