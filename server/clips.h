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

/* A clip's post_s: the default, and the most one may ask for (seconds). */
#define VG_CLIP_POST_DEFAULT_S 20
#define VG_CLIP_POST_MAX_S     1800
/* A label's longest, in bytes. */
#define VG_CLIP_LABEL_MAX 64

/* The clip fields of `obj` (a REST body, or a device's clip_on rule, which
 * also has `extra`: NULL for none) into *req: pre_s (0 to preroll_s, the
 * default), post_s (0 to VG_CLIP_POST_MAX_S, default
 * VG_CLIP_POST_DEFAULT_S), label (1 to VG_CLIP_LABEL_MAX printable
 * characters; borrowed from obj). 0, or -1 with the field at fault and why
 * ("pre_s: seconds from 0 to 10 ...") in msg. */
int vg_clips_read_fields(const json_t *obj, const char *extra, double preroll_s,
                         vg_clip_request *req, const char **field, char *msg, size_t msglen);

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
