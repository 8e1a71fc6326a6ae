/* clips.h -- starting a clip of a stream (media/clip.h), for whoever asks:
 * the REST API (server/http_clips.h) and device events
 * (server/clip_rules.h). One place decides whether a stream can be clipped
 * now and says what the clip will be.
 *
 * Thread: lws service thread only. */
#ifndef VIGIL_SERVER_CLIPS_H
#define VIGIL_SERVER_CLIPS_H

#include <jansson.h>
#include <stddef.h>

#include "media/clip.h"
#include "media/stream.h"

/* Why a clip was not started: a PROTOCOL.md error code and an HTTP status. */
typedef struct vg_clip_refusal {
    unsigned int status; /* 409, 429, 500 */
    const char *code;    /* "not_recorded", "stream_offline", "too_many_clips", "no_memory" */
    char message[160];
} vg_clip_refusal;

/* Starts a clip of `s` asked for now. The clip as the API describes it
 * ({"id", "stream", "url", "start", "end", "requested_at", "pre_s",
 * "post_s", "label", "reason", "device", "complete": false}; a new
 * reference), or NULL with *why filled. */
json_t *vg_clips_start(vg_stream *s, const vg_clip_request *req, vg_clip_refusal *why);

#endif
