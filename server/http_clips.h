/* http_clips.h -- POST /api/streams/{id}/clips (signaling/PROTOCOL.md,
 * "Clips"): {"pre_s", "post_s", "label"}, every field optional, or no body
 * at all -> 201 with the clip (server/clips.h) and its URL at once; the
 * file is complete once post_s have passed. Admins and operators only; a
 * stream the token does not cover is unknown_stream (404).
 *
 * Thread: lws service thread only. */
#ifndef VIGIL_SERVER_HTTP_CLIPS_H
#define VIGIL_SERVER_HTTP_CLIPS_H

#include <libwebsockets.h>
#include <stddef.h>

#include "server/http_reply.h"

/* Answers the POST for stream `stream` with its body (NULL, 0: none),
 * hs->access set. As vg_http_reply(): 0, or -1. */
int vg_http_post_clip(struct lws *wsi, vg_http_session *hs, const char *stream, const char *body,
                      size_t len);

#endif
